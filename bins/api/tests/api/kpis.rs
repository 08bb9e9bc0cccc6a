//! KPIs by metric kind through the API, with real numbers: a week of Meta Ads CTR
//! is Σclicks / Σimpressions, Stripe MRR's month is its last day, subscriber
//! totals are not summed over time, money is never added across currencies (in
//! series, totals and alert windows), families read across providers, and the
//! workspace's week start moves the weeks.

use chrono::NaiveDate;
use junction_app::{App, Role, config::Config};
use junction_core::{KpiPoint, Page, WorkspaceId};
use junction_registry::Registry;
use junction_store::{
    ingest::commit_page,
    models::{AlertCondition, NotificationKind},
    repo::{self, alerts::NewAlertRule},
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::*;

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

/// Connects a provider from the sandbox catalog.
async fn connect(app: &TestApp, provider: &str) -> Uuid {
    let catalog = app.catalog().await;
    app.connect_from_catalog(catalog.provider(provider).unwrap())
        .await
}

/// Writes KPI points as a sync page of `stream` would.
async fn write(app: &TestApp, integration: Uuid, stream: &str, kpis: Vec<KpiPoint>) {
    let page = Page {
        records: Vec::new(),
        kpis,
        next_cursor: None,
        has_more: false,
    };
    commit_page(
        app.db.store(),
        app.workspace,
        integration,
        stream,
        &page,
        None,
    )
    .await
    .unwrap();
}

async fn kpis(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("/v1/kpis?{query}")).send().await.unwrap();
    assert_eq!(response.status(), 200, "{query}");
    response.json().await.unwrap()
}

fn values(points: &Value) -> Vec<(String, f64)> {
    points
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["date"].as_str().unwrap().to_owned(),
                p["value"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_week_of_ctr_is_clicks_over_impressions_not_a_sum_of_daily_rates() {
    let app = TestApp::spawn().await;
    let meta = connect(&app, "meta-ads").await;
    // Monday 2026-11-02 to Sunday 11-08: days of very different sizes.
    let campaign = |p: KpiPoint| p.with_dimension("campaign_id", "c1");
    let mut points = Vec::new();
    let (mut clicks, mut impressions, mut daily_ctrs) = (0.0, 0.0, Vec::new());
    for d in 2..=8u32 {
        let c = f64::from(d * d);
        let i = 1000.0 * f64::from(d);
        clicks += c;
        impressions += i;
        daily_ctrs.push(c / i * 100.0);
        points.push(campaign(KpiPoint::total("clicks", day(d), c)));
        points.push(campaign(KpiPoint::total("impressions", day(d), i)));
        // Meta's own daily CTR, as the adapter stores it.
        points.push(campaign(KpiPoint::total("ctr", day(d), c / i * 100.0)));
        points.push(campaign(
            KpiPoint::total("spend", day(d), 10.0).with_dimension("currency", "EUR"),
        ));
    }
    write(&app, meta, "insights", points).await;

    let week = kpis(
        &app,
        &format!("metric=ctr&integration_id={meta}&from=2026-11-02&to=2026-11-08&granularity=week"),
    )
    .await;
    assert_eq!(
        (
            &week["kind"],
            &week["numerator"],
            &week["denominator"],
            &week["unit"]
        ),
        (
            &json!("ratio"),
            &json!("clicks"),
            &json!("impressions"),
            &json!("percent")
        )
    );
    let expected = clicks / impressions * 100.0;
    let [(date, ctr)] = &values(&week["series"][0]["points"])[..] else {
        panic!("{week}")
    };
    let (date, ctr) = (date.clone(), *ctr);
    assert_eq!(date, "2026-11-02");
    assert!((ctr - expected).abs() < 1e-9, "{ctr} != {expected}");
    let sum: f64 = daily_ctrs.iter().sum();
    let mean = sum / daily_ctrs.len() as f64;
    assert!(
        (ctr - sum).abs() > 1.0 && (ctr - mean).abs() > 0.01,
        "{ctr} {sum} {mean}"
    );
    assert_eq!(values(&week["totals"][0]["points"]), [(date.clone(), ctr)]);

    // CPC is money: it keeps the spend's currency and divides by the clicks.
    let cpc = kpis(
        &app,
        &format!("metric=cpc&integration_id={meta}&from=2026-11-02&to=2026-11-08&granularity=week"),
    )
    .await;
    assert_eq!(cpc["series"][0]["currency"], "EUR");
    assert_eq!(cpc["totals"][0]["currency"], "EUR");
    let value = cpc["totals"][0]["points"][0]["value"].as_f64().unwrap();
    assert!((value - 70.0 / clicks).abs() < 1e-9, "{value}");
}

#[tokio::test]
async fn gauges_take_the_last_day_and_money_stays_in_its_currency() {
    let app = TestApp::spawn().await;
    let stripe = connect(&app, "stripe").await;
    let kit = connect(&app, "kit").await;
    let mut points = Vec::new();
    for d in 1..=30u32 {
        points.push(
            KpiPoint::total("mrr", day(d), 1000.0 + f64::from(d)).with_dimension("currency", "USD"),
        );
        points.push(KpiPoint::total("mrr", day(d), 50_000.0).with_dimension("currency", "JPY"));
        points
            .push(KpiPoint::total("gross_revenue", day(d), 10.0).with_dimension("currency", "USD"));
    }
    points
        .push(KpiPoint::total("gross_revenue", day(5), 12_000.0).with_dimension("currency", "JPY"));
    write(&app, stripe, "subscriptions", points).await;
    let subscribers = (1..=30u32)
        .map(|d| KpiPoint::total("total_subscribers", day(d), 500.0 + f64::from(d)))
        .collect();
    write(&app, kit, "subscriber_growth", subscribers).await;

    let month = "from=2026-11-01&to=2026-11-30&granularity=month";
    let mrr = kpis(&app, &format!("metric=mrr&{month}")).await;
    assert_eq!(mrr["kind"], "gauge");
    let totals: Vec<(Value, Vec<(String, f64)>)> = mrr["totals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["currency"].clone(), values(&t["points"])))
        .collect();
    assert_eq!(
        totals,
        [
            (json!("JPY"), vec![("2026-11-01".to_owned(), 50_000.0)]),
            (json!("USD"), vec![("2026-11-01".to_owned(), 1030.0)]),
        ],
        "the month's MRR is the last day's, per currency"
    );

    let total_subscribers = kpis(&app, &format!("metric=total_subscribers&{month}")).await;
    assert_eq!(
        values(&total_subscribers["totals"][0]["points"]),
        [("2026-11-01".to_owned(), 530.0)],
        "subscriber totals are not summed over time"
    );

    // Revenue adds over the month, each currency alone.
    let revenue = kpis(&app, &format!("metric=gross_revenue&{month}")).await;
    let by_currency: Vec<(Value, f64)> = revenue["totals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["currency"].clone(),
                t["points"][0]["value"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        by_currency,
        [(json!("JPY"), 12_000.0), (json!("USD"), 300.0)]
    );
}

#[tokio::test]
async fn families_read_every_providers_member_and_total_per_currency() {
    let app = TestApp::spawn().await;
    let stripe = connect(&app, "stripe").await;
    let meta = connect(&app, "meta-ads").await;
    write(
        &app,
        stripe,
        "charges",
        vec![KpiPoint::total("gross_revenue", day(3), 120.0).with_dimension("currency", "EUR")],
    )
    .await;
    write(
        &app,
        meta,
        "insights",
        vec![
            KpiPoint::total("spend", day(3), 30.0)
                .with_dimension("currency", "EUR")
                .with_dimension("campaign_id", "a"),
            KpiPoint::total("spend", day(3), 12.5)
                .with_dimension("currency", "EUR")
                .with_dimension("campaign_id", "b"),
        ],
    )
    .await;

    let spend = kpis(
        &app,
        "family=ad_spend&from=2026-11-01&to=2026-11-07&granularity=week",
    )
    .await;
    assert_eq!(
        (&spend["family"], &spend["kind"], &spend["unit"]),
        (&json!("ad_spend"), &json!("sum"), &json!("money"))
    );
    assert_eq!(spend["series"].as_array().unwrap().len(), 2);
    assert!(
        spend["series"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["metric"] == "spend")
    );
    assert_eq!(spend["totals"][0]["currency"], "EUR");
    assert_eq!(spend["totals"][0]["points"][0]["value"], 42.5);
    let revenue = kpis(&app, "family=revenue&from=2026-11-01&to=2026-11-07").await;
    assert_eq!(revenue["series"][0]["metric"], "gross_revenue");
    assert_eq!(revenue["totals"][0]["points"][0]["value"], 120.0);

    // Per integration: only that integration's member.
    let only_meta = kpis(
        &app,
        &format!("family=revenue&integration_id={meta}&from=2026-11-01&to=2026-11-07"),
    )
    .await;
    assert_eq!(only_meta["series"], json!([]));

    // Both: the family's one member.
    let narrowed = kpis(
        &app,
        "family=ad_spend&metric=spend&from=2026-11-01&to=2026-11-07",
    )
    .await;
    assert_eq!(narrowed["totals"][0]["points"][0]["value"], 42.5);
    // Unknown metrics and families, or a metric outside the family: 404; neither: 422.
    for query in [
        "metric=spend&family=revenue",
        "family=profit",
        "metric=not_a_metric",
    ] {
        let response = app.get(&format!("/v1/kpis?{query}")).send().await.unwrap();
        assert_problem(response, 404, "unknown_metric").await;
    }
    let response = app.get("/v1/kpis").send().await.unwrap();
    assert_problem(response, 422, "validation_failed").await;
}

#[tokio::test]
async fn the_metric_catalog_lists_kind_unit_and_family() {
    let app = TestApp::spawn().await;
    let body: Value = app
        .get("/v1/metrics")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let metric = |provider: &str, name: &str| {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["provider"] == provider && m["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{provider}/{name}"))
    };
    let ctr = metric("meta-ads", "ctr");
    assert_eq!(
        (
            &ctr["kind"],
            &ctr["numerator"],
            &ctr["denominator"],
            &ctr["unit"]
        ),
        (
            &json!("ratio"),
            &json!("clicks"),
            &json!("impressions"),
            &json!("percent")
        )
    );
    assert_eq!(metric("stripe", "mrr")["kind"], "gauge");
    assert_eq!(metric("stripe", "gross_revenue")["family"], "revenue");
    assert_eq!(
        metric("google-analytics", "engagement_rate")["numerator"],
        "engaged_sessions"
    );
    assert!(
        !metric("kit", "total_subscribers")["description"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    let families: Vec<&str> = body["families"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        families,
        [
            "revenue",
            "ad_spend",
            "sessions",
            "new_subscribers",
            "emails_sent",
            "emails_delivered"
        ]
    );
    let new_subscribers = &body["families"][3]["members"];
    assert!(
        new_subscribers
            .as_array()
            .unwrap()
            .contains(&json!("kit/new_subscribers"))
    );
    assert!(
        new_subscribers
            .as_array()
            .unwrap()
            .contains(&json!("mailchimp/new_members"))
    );
}

#[tokio::test]
async fn the_workspace_week_start_moves_the_weeks() {
    let app = TestApp::spawn().await;
    let ga4 = app.connect_ga4("321").await;
    let points = (1..=14u32)
        .map(|d| KpiPoint::total("sessions", day(d), 1.0))
        .collect();
    write(&app, ga4, "daily_report", points).await;
    let query = "metric=sessions&from=2026-11-01&to=2026-11-14&granularity=week";
    let monday = kpis(&app, query).await;
    assert_eq!(monday["week_start"], "monday");
    // 2026-11-01 is a Sunday.
    assert_eq!(
        values(&monday["totals"][0]["points"]),
        [
            ("2026-10-26".to_owned(), 1.0),
            ("2026-11-02".to_owned(), 7.0),
            ("2026-11-09".to_owned(), 6.0)
        ]
    );

    let response = app
        .patch("/v1/workspace")
        .json(&json!({"week_start": "sunday", "time_zone": "America/New_York"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let workspace: Value = response.json().await.unwrap();
    assert_eq!(
        (&workspace["week_start"], &workspace["time_zone"]),
        (&json!("sunday"), &json!("America/New_York"))
    );
    let sunday = kpis(&app, query).await;
    assert_eq!(sunday["time_zone"], "America/New_York");
    assert_eq!(
        values(&sunday["totals"][0]["points"]),
        [
            ("2026-11-01".to_owned(), 7.0),
            ("2026-11-08".to_owned(), 7.0)
        ]
    );

    let response = app
        .patch("/v1/workspace")
        .json(&json!({"week_start": "friday", "time_zone": "Mars/Olympus"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422, "validation_failed").await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["time_zone", "week_start"]);
    let unchanged: Value = app
        .get("/v1/workspace")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(unchanged["week_start"], "sunday");
}

/// The app of the test's API (same database and settings), to evaluate alert rules
/// as the worker does after a sync.
async fn app_of(app: &TestApp) -> App {
    let config = Config::from_figment(app.figment.clone()).unwrap();
    App::connect(config, Registry::builtin(), Role::Worker)
        .await
        .unwrap()
}

async fn rule(
    app: &TestApp,
    workspace: WorkspaceId,
    integration: Uuid,
    threshold: f64,
    currency: Option<&str>,
) -> Uuid {
    let mut tx = app.db.store().begin(workspace).await.unwrap();
    let rule = repo::alerts::create(
        tx.conn(),
        workspace,
        NewAlertRule {
            integration_id: Some(integration),
            name: format!("revenue above {threshold}"),
            metric: "gross_revenue".into(),
            condition: AlertCondition::Above,
            threshold,
            window_days: 1,
            recipients: vec!["ops@acme.example".into()],
            currency: currency.map(str::to_owned),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    rule.id
}

#[tokio::test]
async fn an_alert_on_revenue_evaluates_each_currency_alone() {
    let app = TestApp::spawn().await;
    let stripe = connect(&app, "stripe").await;
    let today = chrono::Utc::now().date_naive();
    let point = |value: f64, currency: &str| {
        KpiPoint::total("gross_revenue", today, value).with_dimension("currency", currency)
    };
    write(
        &app,
        stripe,
        "charges",
        vec![
            point(55.0, "USD"),
            point(15.0, "EUR"),
            point(12_000.0, "JPY"),
        ],
    )
    .await;
    // 55 + 15 + 12,000 = 12,070 would cross 12,050; no currency does alone.
    let across = rule(&app, app.workspace, stripe, 12_050.0, None).await;
    // The USD rule sees 55.00, above 50.
    let usd = rule(&app, app.workspace, stripe, 50.0, Some("USD")).await;
    // The EUR rule sees 15.00, not above 50.
    let eur = rule(&app, app.workspace, stripe, 50.0, Some("EUR")).await;

    let worker = app_of(&app).await;
    let mut tx = app.db.store().begin(app.workspace).await.unwrap();
    let integration = repo::integrations::get(tx.conn(), stripe).await.unwrap();
    tx.commit().await.unwrap();
    let created = worker.evaluate_alerts(app.workspace, &integration).await;
    assert_eq!(created.len(), 1, "only the USD rule fires");

    let mut tx = app.db.store().begin(app.workspace).await.unwrap();
    let across = repo::alerts::get(tx.conn(), across).await.unwrap();
    assert_eq!(
        (across.firing_since, across.last_value),
        (None, Some(12_000.0))
    );
    let usd_rule = repo::alerts::get(tx.conn(), usd).await.unwrap();
    assert!(usd_rule.firing_since.is_some());
    assert_eq!(usd_rule.last_value, Some(55.0));
    let eur_rule = repo::alerts::get(tx.conn(), eur).await.unwrap();
    assert_eq!(
        (eur_rule.firing_since, eur_rule.last_value),
        (None, Some(15.0))
    );
    let notifications = repo::notifications::list(tx.conn(), None, None, 10)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let alert = notifications
        .iter()
        .find(|n| n.kind == NotificationKind::KpiAlert)
        .unwrap();
    assert_eq!(alert.details["currency"], "USD");
    assert_eq!(alert.details["value"], 55.0);

    // Through the API: a currency on a metric that is not money is refused.
    let response = app
        .post("/v1/alerts")
        .json(&json!({
            "name": "subs", "integration_id": stripe, "metric": "new_subscriptions",
            "condition": "above", "threshold": 1, "recipients": ["ops@acme.example"],
            "currency": "USD"
        }))
        .send()
        .await
        .unwrap();
    assert_problem(response, 422, "validation_failed").await;
    let response = app
        .post("/v1/alerts")
        .json(&json!({
            "name": "yen", "integration_id": stripe, "metric": "gross_revenue",
            "condition": "above", "threshold": 1, "recipients": ["ops@acme.example"],
            "currency": "jpy"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["currency"], "JPY");
}

/// A chart of one integration holds that integration's points only, whatever the
/// workspace's other integrations of the provider hold; without one the series and
/// totals cover them all; an integration the workspace does not have is a 404.
#[tokio::test]
async fn one_integrations_series_leaves_the_others_out() {
    let app = TestApp::spawn().await;
    let first = connect(&app, "stripe").await;
    let second = connect(&app, "stripe").await;
    for (integration, value) in [(first, 10.0), (second, 1.0)] {
        let points = (1..=7u32)
            .map(|d| {
                KpiPoint::total("gross_revenue", day(d), value).with_dimension("currency", "USD")
            })
            .collect();
        write(&app, integration, "charges", points).await;
    }
    let range = "from=2026-11-01&to=2026-11-07&granularity=month";

    let one = kpis(
        &app,
        &format!("metric=gross_revenue&integration_id={first}&{range}"),
    )
    .await;
    let series = one["series"].as_array().unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0]["integration_id"], first.to_string());
    assert_eq!(
        values(&one["totals"][0]["points"]),
        [("2026-11-01".to_owned(), 70.0)]
    );

    let all = kpis(&app, &format!("metric=gross_revenue&{range}")).await;
    assert_eq!(all["series"].as_array().unwrap().len(), 2);
    assert_eq!(
        values(&all["totals"][0]["points"]),
        [("2026-11-01".to_owned(), 77.0)]
    );

    let response = app
        .get(&format!(
            "/v1/kpis?metric=gross_revenue&integration_id={}&{range}",
            Uuid::new_v4()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}
