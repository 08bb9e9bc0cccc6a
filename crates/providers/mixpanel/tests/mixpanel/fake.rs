//! The adapter against the crate's fake, served the way the sandbox serves it: the
//! check, syncs whose KPIs agree with the raw export, imports (batched, strict-mode
//! failures, retried after a lost answer without duplicates) and injected faults.

use std::{collections::BTreeMap, sync::Arc};

use chrono::{Duration, Utc};
use junction_conformance::{FakeServer, TokenTable};
use junction_core::{
    Adapter, AdapterError, Connection, Context, KpiPoint, ReadRequest, Record, fake::Fault,
};
use junction_mixpanel::{
    Mixpanel,
    sandbox::{
        FOREIGN_PROJECT_ID, MixpanelFake, SANDBOX_CONSUMER, SANDBOX_PROJECT_TOKEN, SANDBOX_SECRET,
        SANDBOX_USERNAME,
    },
};
use serde_json::{Value, json};

use crate::support::connection_with;

async fn start() -> (FakeServer, Context) {
    let server = FakeServer::start(Arc::new(MixpanelFake::default()), TokenTable::default()).await;
    let ctx = server.context();
    (server, ctx)
}

fn reports() -> Value {
    json!({
        "bookmark_ids": "12345, 23456",
        "events": "Viewed page, Signed up, Purchased",
        "funnel_ids": "7509, 9070",
        "retention_born_event": "Signed up",
        "lookback_days": 10,
    })
}

fn conn() -> Connection {
    connection_with(
        SANDBOX_USERNAME,
        SANDBOX_SECRET,
        reports(),
        &[("project_token", SANDBOX_PROJECT_TOKEN)],
    )
}

/// Reads `stream` to its end from `cursor`: records, KPIs, pages and the last cursor.
async fn read_all(
    ctx: &Context,
    conn: &Connection,
    stream: &str,
    mut cursor: Option<Value>,
) -> (Vec<Record>, Vec<KpiPoint>, usize, Option<Value>) {
    let (mut records, mut kpis) = (Vec::new(), Vec::new());
    for pages in 1..200 {
        let request = ReadRequest {
            stream: stream.into(),
            cursor: cursor.clone(),
            page_size: None,
        };
        let page = Mixpanel.read(ctx, conn, &request).await.unwrap();
        records.extend(page.records);
        kpis.extend(page.kpis);
        cursor = page.next_cursor;
        if !page.has_more {
            return (records, kpis, pages, cursor);
        }
    }
    panic!("{stream} did not end");
}

fn sum(kpis: &[KpiPoint], metric: &str, dims: &[(&str, &str)]) -> f64 {
    kpis.iter()
        .filter(|p| p.metric == metric)
        .filter(|p| {
            dims.iter()
                .all(|(k, v)| p.dimensions.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|p| p.value)
        .sum()
}

async fn act(
    ctx: &Context,
    conn: &Connection,
    input: Value,
    key: Option<&str>,
) -> Result<Value, AdapterError> {
    Mixpanel
        .act(ctx, conn, "import_events", &input, key)
        .await
        .map(|outcome| outcome.output)
}

#[tokio::test]
async fn check_names_the_project_and_confirms_the_funnels() {
    let (_server, ctx) = start().await;
    let health = Mixpanel.check(&ctx, &conn()).await.unwrap();
    assert_eq!(health.account.as_deref(), Some("Mixpanel project 2195193"));
    assert_eq!(health.details["funnels"], 2);
    assert_eq!(health.details["imports_authenticate_with"], "project_token");
    let typo = connection_with(
        SANDBOX_USERNAME,
        SANDBOX_SECRET,
        json!({"funnel_ids": "7509, 1"}),
        &[],
    );
    let err = Mixpanel.check(&ctx, &typo).await.unwrap_err();
    assert!(
        matches!(&err, AdapterError::Invalid { field: Some(f), message } if f == "funnel_ids" && message.contains("no saved funnel 1")),
        "{err:?}"
    );
    let foreign = connection_with(
        SANDBOX_USERNAME,
        SANDBOX_SECRET,
        json!({"project_id": FOREIGN_PROJECT_ID}),
        &[],
    );
    let err = Mixpanel.check(&ctx, &foreign).await.unwrap_err();
    assert!(
        matches!(&err, AdapterError::Unauthorized { refreshable: false, message } if message.contains("project 999999") && message.contains("not a member")),
        "{err:?}"
    );
}

#[tokio::test]
async fn segmentation_counts_agree_with_the_raw_export() {
    let (_server, ctx) = start().await;
    let conn = conn();
    let (counts, kpis, pages, cursor) = read_all(&ctx, &conn, "segmentation", None).await;
    // One page per configured event.
    assert_eq!(pages, 3);
    assert_eq!(counts.len(), 3 * 11, "three events over 11 days");
    let (events, _, days, _) = read_all(&ctx, &conn, "events", None).await;
    assert_eq!(days, 11, "one page a day");
    assert!(!events.is_empty());
    let mut exported: BTreeMap<(String, String), f64> = BTreeMap::new();
    for event in &events {
        let time = event.data["properties"]["time"].as_i64().unwrap();
        let day = chrono::DateTime::from_timestamp(time, 0)
            .unwrap()
            .date_naive();
        *exported
            .entry((
                event.data["event"].as_str().unwrap().to_owned(),
                day.to_string(),
            ))
            .or_default() += 1.0;
    }
    for point in &kpis {
        assert_eq!(point.metric, "event_count");
        let key = (point.dimensions["event"].clone(), point.date.to_string());
        assert_eq!(
            exported.get(&key).copied().unwrap_or(0.0),
            point.value,
            "{key:?}"
        );
    }
    assert_eq!(
        sum(&kpis, "event_count", &[]),
        events.len() as f64,
        "every exported event is counted once"
    );
    // The next pass re-reads only the last days.
    let stored = cursor.unwrap();
    let today = Utc::now().date_naive();
    assert_eq!(
        stored["start"],
        json!((today - Duration::days(2)).to_string())
    );
    let (again, _, _, _) = read_all(&ctx, &conn, "segmentation", Some(stored)).await;
    assert_eq!(again.len(), 3 * 3);
}

#[tokio::test]
async fn funnels_and_retention_become_ratio_components() {
    let (_server, ctx) = start().await;
    let conn = conn();
    let (days, kpis, pages, _) = read_all(&ctx, &conn, "funnels", None).await;
    assert_eq!(pages, 2);
    assert_eq!(days.len(), 2 * 11);
    for funnel in ["7509", "9070"] {
        let entered = sum(&kpis, "funnel_entered", &[("funnel_id", funnel)]);
        let completed = sum(&kpis, "funnel_completed", &[("funnel_id", funnel)]);
        assert!(
            entered > 0.0 && completed > 0.0 && completed <= entered,
            "{funnel}: {completed}/{entered}"
        );
        let first = sum(
            &kpis,
            "funnel_step_users",
            &[("funnel_id", funnel), ("step", "0")],
        );
        assert_eq!(first, entered);
    }
    let last = sum(
        &kpis,
        "funnel_step_users",
        &[
            ("funnel_id", "7509"),
            ("step", "2"),
            ("step_label", "Purchased"),
        ],
    );
    assert_eq!(
        last,
        sum(&kpis, "funnel_completed", &[("funnel_id", "7509")])
    );

    let (cohorts, kpis, pages, _) = read_all(&ctx, &conn, "retention", None).await;
    assert_eq!(pages, 1);
    assert!(!cohorts.is_empty());
    for cohort in &cohorts {
        let day = cohort.external_id.as_str();
        let first = cohort.data["first"].as_f64().unwrap();
        let day_kpis: Vec<KpiPoint> = kpis
            .iter()
            .filter(|p| p.date.to_string() == day)
            .cloned()
            .collect();
        assert_eq!(sum(&day_kpis, "retention_cohort_users", &[]), first);
        let periods = cohort.data["counts"].as_array().unwrap().len();
        // Only days already lived through are measured: an eligible point per period.
        assert_eq!(
            day_kpis
                .iter()
                .filter(|p| p.metric == "retention_eligible_users")
                .count(),
            periods
        );
        for p in 0..periods {
            let period = p.to_string();
            assert_eq!(
                sum(
                    &day_kpis,
                    "retention_eligible_users",
                    &[("period", &period)]
                ),
                first
            );
            assert!(sum(&day_kpis, "retained_users", &[("period", &period)]) <= first);
        }
    }
}

#[tokio::test]
async fn saved_insights_reports_become_gauge_points() {
    let (_server, ctx) = start().await;
    let (reports, kpis, pages, _) = read_all(&ctx, &conn(), "insights", None).await;
    assert_eq!(pages, 2);
    assert_eq!(
        reports
            .iter()
            .map(|r| r.external_id.as_str())
            .collect::<Vec<_>>(),
        ["12345", "23456"]
    );
    assert_eq!(
        kpis.iter()
            .filter(|p| p.dimensions["bookmark_id"] == "12345")
            .count(),
        2 * 14
    );
    let by_os = kpis
        .iter()
        .filter(|p| p.dimensions["bookmark_id"] == "23456");
    assert!(
        by_os
            .clone()
            .all(|p| ["Android", "iOS"].contains(&p.dimensions["segment"].as_str()))
    );
    assert_eq!(by_os.count(), 2 * 14);
}

#[tokio::test]
async fn an_import_retried_after_a_lost_answer_creates_no_duplicates() {
    let (server, ctx) = start().await;
    let conn = conn();
    let now = Utc::now().timestamp();
    let input = json!({"events": [
        {"event": "Imported", "properties": {"time": now - 60, "distinct_id": "u-1", "plan": "pro"}},
        {"event": "Imported", "properties": {"time": now - 50, "distinct_id": "u-2"}},
        {"event": "Imported", "properties": {"time": (now - 40) * 1000, "distinct_id": "u-3"}},
    ]});
    // Mixpanel stores the batch, then the answer is cut off on its way back.
    server.arm(Fault::MalformedBody);
    let err = act(&ctx, &conn, input.clone(), Some("action-7"))
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
    // The worker retries with the same key: the same $insert_ids go again.
    let output = act(&ctx, &conn, input.clone(), Some("action-7"))
        .await
        .unwrap();
    assert_eq!(output["imported"], 3);
    assert_eq!(output["failed"], json!([]));
    let only_imports = connection_with(
        SANDBOX_USERNAME,
        SANDBOX_SECRET,
        json!({"export_events": "Imported", "lookback_days": 1}),
        &[],
    );
    let (events, _, _, _) = read_all(&ctx, &only_imports, "events", None).await;
    assert_eq!(events.len(), 3, "{events:?}");
    let ids: Vec<&str> = events
        .iter()
        .map(|e| e.data["properties"]["$insert_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        output["insert_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect::<Vec<_>>()
    );
    assert_eq!(events[0].data["properties"]["plan"], "pro");
    // Both attempts sent the same body.
    let imports: Vec<_> = server
        .requests()
        .await
        .into_iter()
        .filter(|r| r.url.path().ends_with("/import"))
        .collect();
    assert_eq!(imports.len(), 2);
    assert_eq!(imports[0].body, imports[1].body);
    assert_eq!(imports[0].url.query(), Some("strict=1&project_id=2195193"));
    // Another action (another key) is other events.
    act(&ctx, &conn, input, Some("action-8")).await.unwrap();
    let (events, _, _, _) = read_all(&ctx, &only_imports, "events", None).await;
    assert_eq!(events.len(), 6);
}

#[tokio::test]
async fn strict_mode_failures_are_reported_per_event_and_the_rest_imported() {
    let (_server, ctx) = start().await;
    let conn = conn();
    let now = Utc::now().timestamp();
    let output = act(
        &ctx,
        &conn,
        json!({"events": [
            {"event": "Ok", "properties": {"time": now - 10, "distinct_id": "a"}},
            {"event": "Too old", "properties": {"time": 12, "distinct_id": "b"}},
            {"event": "Ok", "properties": {"time": now - 9, "distinct_id": "c", "$insert_id": "given-id-1"}},
        ]}),
        Some("k-strict"),
    )
    .await
    .unwrap();
    assert_eq!(output["imported"], 2);
    let failed = output["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["index"], 1);
    assert_eq!(failed[0]["field"], "properties.time");
    assert_eq!(failed[0]["insert_id"], output["insert_ids"][1]);
    assert_eq!(output["insert_ids"][2], "given-id-1");
}

#[tokio::test]
async fn large_imports_go_in_batches_within_mixpanel_s_limits() {
    let (server, ctx) = start().await;
    let conn = conn();
    let now = Utc::now().timestamp();
    // 4,500 small events: three batches by count.
    let events: Vec<Value> = (0..4_500)
        .map(|i| json!({"event": "Bulk", "properties": {"time": now - 100 - i, "distinct_id": format!("b-{i}")}}))
        .collect();
    let output = act(&ctx, &conn, json!({"events": events}), Some("bulk"))
        .await
        .unwrap();
    assert_eq!(
        (output["imported"].as_u64(), output["batches"].as_u64()),
        (Some(4_500), Some(3))
    );
    // 30 events of 100 kB: batches by size (at most 2 MiB each).
    let padding = "x".repeat(100_000);
    let big: Vec<Value> = (0..30)
        .map(|i| json!({"event": "Big", "properties": {"time": now - 5_000 - i, "distinct_id": "big", "blob": padding}}))
        .collect();
    let output = act(&ctx, &conn, json!({"events": big}), Some("big"))
        .await
        .unwrap();
    assert_eq!(
        (output["imported"].as_u64(), output["batches"].as_u64()),
        (Some(30), Some(2))
    );
    // An event above Mixpanel's 1 MB is reported, never sent.
    let huge = json!({"events": [
        {"event": "Huge", "properties": {"time": now - 1, "distinct_id": "h", "blob": "y".repeat(1_100_000)}},
        {"event": "Small", "properties": {"time": now - 1, "distinct_id": "h"}},
    ]});
    let output = act(&ctx, &conn, huge, Some("huge")).await.unwrap();
    assert_eq!(output["imported"], 1);
    assert_eq!(output["failed"][0]["index"], 0);
    for request in server
        .requests()
        .await
        .iter()
        .filter(|r| r.url.path().ends_with("/import"))
    {
        assert!(request.body.len() <= junction_mixpanel::MAX_BATCH_BYTES);
        let sent: Vec<Value> = serde_json::from_slice(&request.body).unwrap();
        assert!(sent.len() <= junction_mixpanel::MAX_BATCH_EVENTS);
    }
}

#[tokio::test]
async fn imports_use_the_project_token_else_a_service_account_with_the_role() {
    let (server, ctx) = start().await;
    let now = Utc::now().timestamp();
    let input =
        json!({"events": [{"event": "E", "properties": {"time": now - 5, "distinct_id": "x"}}]});
    // A Consumer service account reads, but may not import by itself...
    let consumer = connection_with(SANDBOX_CONSUMER, SANDBOX_SECRET, reports(), &[]);
    Mixpanel.check(&ctx, &consumer).await.unwrap();
    let err = act(&ctx, &consumer, input.clone(), Some("c1"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Unauthorized { refreshable: false, message } if message.contains("Owner or Admin")),
        "{err:?}"
    );
    // ...while the project token may.
    let with_token = connection_with(
        SANDBOX_CONSUMER,
        SANDBOX_SECRET,
        reports(),
        &[("project_token", SANDBOX_PROJECT_TOKEN)],
    );
    act(&ctx, &with_token, input.clone(), Some("c1"))
        .await
        .unwrap();
    let last = server.requests().await.pop().unwrap();
    let auth = last
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    use base64::Engine as _;
    let expected =
        base64::engine::general_purpose::STANDARD.encode(format!("{SANDBOX_PROJECT_TOKEN}:"));
    assert_eq!(auth, format!("Basic {expected}"));
    // The owner service account imports by itself too.
    let owner = connection_with(SANDBOX_USERNAME, SANDBOX_SECRET, reports(), &[]);
    act(&ctx, &owner, input, Some("c2")).await.unwrap();
}

#[tokio::test]
async fn injected_faults_are_classified_on_reads_and_imports() {
    let (server, ctx) = start().await;
    let conn = conn();
    let request = |stream: &str| ReadRequest {
        stream: stream.into(),
        cursor: None,
        page_size: None,
    };
    server.arm(Fault::RateLimited {
        retry_after_secs: 7,
    });
    let err = Mixpanel
        .read(&ctx, &conn, &request("segmentation"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        AdapterError::RateLimited {
            retry_after: Some(std::time::Duration::from_secs(7))
        }
    );
    server.arm(Fault::QuotaExhausted);
    let err = Mixpanel
        .read(&ctx, &conn, &request("events"))
        .await
        .unwrap_err();
    assert_eq!(err, AdapterError::RateLimited { retry_after: None });
    server.arm(Fault::ServerError);
    let input = json!({"events": [{"event": "E", "properties": {"time": 1_700_000_000, "distinct_id": "x"}}]});
    let err = act(&ctx, &conn, input, Some("f")).await.unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
    server.arm(Fault::MalformedBody);
    let err = Mixpanel
        .read(&ctx, &conn, &request("funnels"))
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
    server.arm(Fault::ExpiredToken);
    let err = Mixpanel
        .read(&ctx, &conn, &request("retention"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AdapterError::Unauthorized {
                refreshable: false,
                ..
            }
        ),
        "{err:?}"
    );
    // The credential is always in the header, never in the URL.
    for request in server.requests().await {
        assert!(
            request
                .headers
                .get("authorization")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("Basic ")
        );
        assert!(!request.url.as_str().contains(SANDBOX_SECRET));
    }
}
