//! Syncs on demand, runs, records, KPI series, dead letters and queue statistics.

use chrono::{NaiveDate, Utc};
use junction_core::{KpiPoint, Page, Record};
use junction_store::{ingest::commit_page, repo};
use serde_json::{Value, json};

use crate::support::{TestApp, assert_problem};

/// Sync jobs waiting in Redis: the installation's figures, which take an operator
/// key (a workspace key sees its own runs, counted from its rows).
async fn pending_sync_jobs(app: &TestApp) -> u64 {
    let stats: Value = app
        .client
        .get(format!("{}/v1/jobs/stats", app.url))
        .bearer_auth(app.operator_key().await)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stats["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "sync")
        .map(|q| q["pending"].as_u64().unwrap() + q["scheduled"].as_u64().unwrap())
        .unwrap()
}

#[tokio::test]
async fn a_sync_request_queues_a_run_that_can_be_looked_up() {
    let app = TestApp::spawn().await;
    let id = app.connect_ga4("321").await;
    assert_eq!(pending_sync_jobs(&app).await, 0);
    let accepted = app
        .post(&format!("/v1/integrations/{id}/sync"))
        .json(&json!({"stream": "daily_report"}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 202);
    let accepted: Value = accepted.json().await.unwrap();
    let run_id = accepted["run_id"].as_str().unwrap();
    assert_eq!(accepted["job_id"], format!("sync-{run_id}"));
    assert_eq!(
        app.staged_jobs().await,
        1,
        "the run's job is staged with it"
    );
    assert_eq!(app.relay().await, 1);
    assert_eq!(
        pending_sync_jobs(&app).await,
        1,
        "the relayed job is on the sync queue"
    );

    let run: Value = app
        .get(&format!("/v1/runs/{run_id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            run["status"].as_str(),
            run["trigger"].as_str(),
            run["stream"].as_str()
        ),
        (Some("queued"), Some("manual"), Some("daily_report"))
    );
    let runs: Value = app
        .get(&format!("/v1/integrations/{id}/runs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(runs["data"][0]["id"], run_id);

    let unknown = app
        .post(&format!("/v1/integrations/{id}/sync"))
        .json(&json!({"stream": "nope"}))
        .send()
        .await
        .unwrap();
    assert_problem(unknown, 404, "unknown_stream").await;
    assert_problem(
        app.get(&format!("/v1/runs/{}", uuid::Uuid::new_v4()))
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;

    // An integration whose grant was revoked cannot be synced until reconnected.
    let mut tx = app.db.store().begin(app.workspace).await.unwrap();
    repo::integrations::set_status(
        tx.conn(),
        id,
        junction_store::models::IntegrationStatus::NeedsReauth,
        None,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_problem(
        app.post(&format!("/v1/integrations/{id}/sync"))
            .send()
            .await
            .unwrap(),
        409,
        "integration_needs_reauth",
    )
    .await;
}

#[tokio::test]
async fn records_and_kpi_series_read_what_syncs_wrote() {
    let app = TestApp::spawn().await;
    let id = app.connect_ga4("321").await;
    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    let page = Page {
        records: (1..=5)
            .map(|i| Record {
                external_id: format!("2026110{i}"),
                data: json!({"date": format!("2026110{i}"), "sessions": i}),
                modified_at: None,
            })
            .collect(),
        kpis: (1..=5)
            .flat_map(|d| {
                [
                    KpiPoint::total("sessions", day(d), f64::from(d) * 10.0),
                    KpiPoint::total("engaged_sessions", day(d), f64::from(d) * 5.0),
                    KpiPoint::total("sessions", day(d), 1.0).with_dimension("country", "DE"),
                ]
            })
            .collect(),
        next_cursor: Some(json!({"start": "20261106"})),
        has_more: false,
    };
    commit_page(
        app.db.store(),
        app.workspace,
        id,
        "daily_report",
        &page,
        None,
    )
    .await
    .unwrap();

    let first: Value = app
        .get(&format!(
            "/v1/records?integration_id={id}&stream=daily_report&limit=3"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["data"].as_array().unwrap().len(), 3);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest: Value = app
        .get(&format!(
            "/v1/records?integration_id={id}&stream=daily_report&limit=3&cursor={cursor}"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["data"].as_array().unwrap().len(), 2);
    let later = (Utc::now() + chrono::Duration::minutes(1)).to_rfc3339();
    let none: Value = app
        .get(&format!(
            "/v1/records?integration_id={id}&stream=daily_report&modified_after={}",
            urlencode(&later)
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(none["data"], json!([]));
    assert_problem(
        app.get(&format!("/v1/records?integration_id={id}&stream=nope"))
            .send()
            .await
            .unwrap(),
        404,
        "unknown_stream",
    )
    .await;
    assert_problem(
        app.get("/v1/records?stream=daily_report")
            .send()
            .await
            .unwrap(),
        400,
        "invalid_request",
    )
    .await;

    let daily: Value = app
        .get(&format!(
            "/v1/kpis?metric=sessions&integration_id={id}&from=2026-11-01&to=2026-11-05"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(daily["kind"], "sum");
    // The day's total: the total row, not added to its breakdown.
    assert_eq!(daily["totals"][0]["points"][4]["value"], 50.0);
    let totals = daily["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["dimensions"] == json!({}))
        .unwrap();
    assert_eq!(totals["points"].as_array().unwrap().len(), 5);
    assert_eq!(
        totals["points"][4],
        json!({"date": "2026-11-05", "value": 50.0})
    );
    assert_eq!(
        daily["series"].as_array().unwrap().len(),
        2,
        "the DE breakdown is its own series"
    );

    // 2026-11-02 is a Monday: days 2..5 share a week, day 1 is in the week before.
    let weekly: Value = app
        .get(&format!("/v1/kpis?metric=sessions&integration_id={id}&from=2026-11-01&to=2026-11-05&granularity=week"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let totals = weekly["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["dimensions"] == json!({}))
        .unwrap();
    assert_eq!(
        totals["points"],
        json!([{"date": "2026-10-26", "value": 10.0}, {"date": "2026-11-02", "value": 140.0}])
    );
    let rate: Value = app
        .get("/v1/kpis?metric=engagement_rate&from=2026-11-01&to=2026-11-05&granularity=month")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Engaged sessions over sessions of the month: 75 / 150.
    assert_eq!(rate["kind"], "ratio");
    assert_eq!(
        rate["series"][0]["points"],
        json!([{"date": "2026-11-01", "value": 0.5}])
    );
    // A range that ends before it starts covers no day: no point, and the answer
    // says which range it read.
    let backwards: Value = app
        .get("/v1/kpis?metric=sessions&from=2026-11-05&to=2026-11-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&backwards["from"], &backwards["to"], &backwards["series"]),
        (&json!("2026-11-05"), &json!("2026-11-01"), &json!([]))
    );
}

#[tokio::test]
async fn dead_letters_are_listed_and_replayed_once() {
    let app = TestApp::spawn().await;
    let id = app.connect_ga4("321").await;
    let codes = [
        "provider_rejected",
        "provider_unavailable",
        "provider_unavailable",
    ];
    let letters = app.dead_sync_letters(id, &codes).await;

    let listed: Value = app
        .get("/v1/dead-letters?limit=2")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    assert!(listed["next_cursor"].is_string());
    let filtered: Value = app
        .get("/v1/dead-letters?error_code=provider_rejected")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1);
    let one: Value = app
        .get(&format!("/v1/dead-letters/{}", letters[0]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["attempt_log"].as_array().unwrap().len(), 3);
    assert_eq!(one["job"]["kind"], "sync");

    let replayed = app
        .post(&format!("/v1/dead-letters/{}/replay", letters[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 202);
    assert_eq!(app.relay().await, 1);
    assert_eq!(pending_sync_jobs(&app).await, 1);
    assert_problem(
        app.post(&format!("/v1/dead-letters/{}/replay", letters[0]))
            .send()
            .await
            .unwrap(),
        409,
        "conflict",
    )
    .await;

    let bulk: Value = app
        .post("/v1/dead-letters/replay")
        .json(&json!({"error_code": "provider_unavailable"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bulk["replayed"].as_array().unwrap().len(), 2);
    assert_eq!(app.relay().await, 2);
    assert_eq!(pending_sync_jobs(&app).await, 3);
    let again: Value = app
        .post("/v1/dead-letters/replay")
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["replayed"], json!([]), "nothing left to replay");
    let pending: Value = app
        .get("/v1/dead-letters?pending=true")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pending["data"], json!([]));
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
