//! The adapter against wiremock serving the shapes of Mixpanel's OpenAPI files
//! (query.openapi.yaml, export.openapi.yaml, ingestion.openapi.yaml): the request
//! each report makes, the records and KPI points it becomes, the JSONL export, an
//! import's strict-mode answer, the regional hosts and every refusal the error
//! table classifies.

use std::{sync::Arc, time::Duration};

use chrono::{TimeZone, Utc};
use junction_core::{Adapter, AdapterError, Context, FixedClock, KpiPoint, ReadRequest};
use junction_mixpanel::Mixpanel;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path, query_param},
};

use crate::support::any;

/// A context pointed at `server` under `/mixpanel/`, at 2026-03-31 12:00 UTC.
fn context(server: &MockServer) -> Context {
    let now = Utc.with_ymd_and_hms(2026, 3, 31, 12, 0, 0).unwrap();
    Context::new(reqwest::Client::new())
        .with_base_url(format!("{}/mixpanel/", server.uri()).parse().unwrap())
        .with_clock(Arc::new(FixedClock(now)))
}

fn first(stream: &str) -> ReadRequest {
    ReadRequest {
        stream: stream.into(),
        cursor: None,
        page_size: None,
    }
}

fn point<'a>(
    kpis: &'a [KpiPoint],
    metric: &str,
    day: &str,
    dims: &[(&str, &str)],
) -> Option<&'a KpiPoint> {
    kpis.iter().find(|p| {
        p.metric == metric
            && p.date.to_string() == day
            && dims
                .iter()
                .all(|(k, v)| p.dimensions.get(*k).map(String::as_str) == Some(*v))
    })
}

/// `Authorization: Basic tester:test-secret`, the service account of `any()`.
const SERVICE_ACCOUNT: &str = "Basic dGVzdGVyOnRlc3Qtc2VjcmV0";

#[tokio::test]
async fn segmentation_reads_each_event_s_daily_counts() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/mixpanel/api/query/segmentation"))
        .and(header("authorization", SERVICE_ACCOUNT))
        .and(query_param("project_id", "2195193"))
        .and(query_param("event", "Signed up"))
        .and(query_param("from_date", "2026-03-28"))
        .and(query_param("to_date", "2026-03-31"))
        .and(query_param("unit", "day"))
        .and(query_param("type", "general"))
        // The documented example, dated into the window.
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": {
                "series": ["2026-03-30", "2026-03-31", "2026-03-28", "2026-03-29"],
                "values": {"Signed up": {
                    "2026-03-28": 147, "2026-03-29": 146, "2026-03-30": 776, "2026-03-31": 1376
                }}
            },
            "legend_size": 1
        })))
        .expect(1)
        .mount(&server)
        .await;
    let conn = any(json!({"events": "Signed up, Logged in"}));
    let page = Mixpanel
        .read(&context(&server), &conn, &first("segmentation"))
        .await
        .unwrap();
    assert_eq!(page.records.len(), 4);
    assert_eq!(
        page.records[0].data,
        json!({"event": "Signed up", "date": "2026-03-28", "count": 147.0})
    );
    assert_eq!(
        point(
            &page.kpis,
            "event_count",
            "2026-03-31",
            &[("event", "Signed up")]
        )
        .unwrap()
        .value,
        1376.0
    );
    // The next page is the next event of the same window.
    assert!(page.has_more);
    assert_eq!(
        page.next_cursor,
        Some(json!({"start": "2026-03-28", "end": "2026-03-31", "next": 1}))
    );
}

#[tokio::test]
async fn funnels_give_entries_completions_and_steps() {
    let server = MockServer::start().await;
    // The documented example of GET /funnels (two of its days).
    let day = |count0: u64, count1: u64, ratio: f64| {
        json!({
            "steps": [
                {"count": count0, "avg_time": 2, "avg_time_from_start": 5, "step_conv_ratio": 1, "goal": "App Open", "overall_conv_ratio": 1, "event": "App Open"},
                {"count": count1, "avg_time": 133, "avg_time_from_start": 133, "step_conv_ratio": ratio, "goal": "$custom_event:12345", "step_label": "Game Played", "custom_event": true, "custom_event_id": 12345, "overall_conv_ratio": ratio, "event": "$custom_event:12345"}
            ],
            "analysis": {"completion": count1, "starting_amount": count0, "steps": 2, "worst": 1}
        })
    };
    Mock::given(method("GET"))
        .and(path("/mixpanel/api/query/funnels"))
        .and(query_param("funnel_id", "7509"))
        .and(query_param("unit", "day"))
        .and(query_param("from_date", "2026-03-28"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "meta": {"dates": ["2026-03-29", "2026-03-30"]},
            "data": {"2026-03-29": day(32688, 20524, 0.627875673029858), "2026-03-30": day(32486, 20809, 0.6405528535369082)}
        })))
        .mount(&server)
        .await;
    let conn = any(json!({"funnel_ids": "7509"}));
    let page = Mixpanel
        .read(&context(&server), &conn, &first("funnels"))
        .await
        .unwrap();
    let ids: Vec<_> = page
        .records
        .iter()
        .map(|r| r.external_id.as_str())
        .collect();
    assert_eq!(ids, ["7509|2026-03-29", "7509|2026-03-30"]);
    let f = [("funnel_id", "7509")];
    assert_eq!(
        point(&page.kpis, "funnel_entered", "2026-03-29", &f)
            .unwrap()
            .value,
        32688.0
    );
    assert_eq!(
        point(&page.kpis, "funnel_completed", "2026-03-29", &f)
            .unwrap()
            .value,
        20524.0
    );
    let step = point(
        &page.kpis,
        "funnel_step_users",
        "2026-03-30",
        &[("step", "1"), ("step_label", "Game Played")],
    )
    .unwrap();
    assert_eq!(step.value, 20809.0);
    // The ratio is the aggregation's to compute from its components.
    assert!(page.kpis.iter().all(|p| p.metric != "funnel_conversion"));
    // One funnel: the window ends, the next starts two days before its end.
    assert!(!page.has_more);
    assert_eq!(
        page.next_cursor,
        Some(json!({"start": "2026-03-29", "next": 0}))
    );
}

#[tokio::test]
async fn retention_cohorts_give_sizes_and_returns_by_period() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/mixpanel/api/query/retention"))
        .and(query_param("retention_type", "birth"))
        .and(query_param("born_event", "Signed up"))
        .and(query_param("event", "Viewed report"))
        .and(query_param("interval_count", "2"))
        .and(query_param("unit", "day"))
        // The documented example, dated into the window.
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "2026-03-29": {"counts": [2, 1, 2], "first": 2},
            "2026-03-30": {"counts": [9, 7], "first": 10},
        })))
        .mount(&server)
        .await;
    let conn = any(
        json!({"retention_born_event": "Signed up", "retention_event": "Viewed report", "retention_days": 2}),
    );
    let page = Mixpanel
        .read(&context(&server), &conn, &first("retention"))
        .await
        .unwrap();
    assert_eq!(page.records.len(), 2);
    assert_eq!(
        point(&page.kpis, "retention_cohort_users", "2026-03-30", &[])
            .unwrap()
            .value,
        10.0
    );
    assert_eq!(
        point(
            &page.kpis,
            "retained_users",
            "2026-03-30",
            &[("period", "1")]
        )
        .unwrap()
        .value,
        7.0
    );
    assert_eq!(
        point(
            &page.kpis,
            "retention_eligible_users",
            "2026-03-30",
            &[("period", "1")]
        )
        .unwrap()
        .value,
        10.0
    );
    // A period not yet lived through has no point at all.
    assert!(
        point(
            &page.kpis,
            "retention_eligible_users",
            "2026-03-30",
            &[("period", "2")]
        )
        .is_none()
    );
    assert_eq!(
        point(
            &page.kpis,
            "retained_users",
            "2026-03-29",
            &[("period", "2")]
        )
        .unwrap()
        .value,
        2.0
    );
}

#[tokio::test]
async fn a_saved_insights_report_is_a_record_and_gauge_points() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/mixpanel/api/query/insights"))
        .and(query_param("bookmark_id", "12345"))
        .and(query_param("project_id", "2195193"))
        // The documented example.
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "computed_at": "2020-09-21T16:35:41.252314+00:00",
            "date_range": {"from_date": "2020-08-31T00:00:00-07:00", "to_date": "2020-09-12T23:59:59.999000-07:00"},
            "headers": ["$event"],
            "series": {
                "Logged in": {"2020-08-31T00:00:00-07:00": 9852, "2020-09-07T00:00:00-07:00": 4325},
                "Viewed page": {"2020-08-31T00:00:00-07:00": 10246, "2020-09-07T00:00:00-07:00": 11432}
            }
        })))
        .mount(&server)
        .await;
    let page = Mixpanel
        .read(
            &context(&server),
            &any(json!({"bookmark_ids": "12345"})),
            &first("insights"),
        )
        .await
        .unwrap();
    assert_eq!(page.records[0].external_id, "12345");
    assert_eq!(page.records[0].data["bookmark_id"], "12345");
    assert!(page.records[0].modified_at.is_some());
    assert_eq!(page.kpis.len(), 4);
    let p = point(
        &page.kpis,
        "insights_value",
        "2020-09-07",
        &[("series", "Viewed page")],
    )
    .unwrap();
    assert_eq!(
        (p.value, p.dimensions["bookmark_id"].as_str()),
        (11432.0, "12345")
    );
}

#[tokio::test]
async fn the_export_is_read_a_day_at_a_time_from_its_jsonl() {
    let server = MockServer::start().await;
    // The documented example: one event per line.
    let body = concat!(
        r#"{"event":"Signed up","properties":{"time":1602611311,"$insert_id":"hpuDqcvpltpCjBsebtxwadtEBDnFAdycabFb","mp_processing_time_ms":1602625711874}}"#,
        "\n",
        r#"{"event":"Signed up","properties":{"time":1602787121,"$insert_id":"jajcebutltmvhbbholfhxtCcycwnBjDtndha","mp_processing_time_ms":1602801521561}}"#,
        "\n"
    );
    Mock::given(method("GET"))
        .and(path("/mixpanel/api/2.0/export"))
        .and(header("authorization", SERVICE_ACCOUNT))
        .and(query_param("project_id", "2195193"))
        .and(query_param("from_date", "2026-03-28"))
        .and(query_param("to_date", "2026-03-28"))
        .and(query_param("event", r#"["Signed up"]"#))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "text/plain"))
        .expect(1)
        .mount(&server)
        .await;
    let conn = any(json!({"export_events": "Signed up"}));
    let page = Mixpanel
        .read(&context(&server), &conn, &first("events"))
        .await
        .unwrap();
    assert_eq!(page.records.len(), 2);
    assert_eq!(
        page.records[1].data["properties"]["$insert_id"],
        "jajcebutltmvhbbholfhxtCcycwnBjDtndha"
    );
    assert!(page.has_more);
    assert_eq!(
        page.next_cursor,
        Some(json!({"start": "2026-03-28", "end": "2026-03-31", "day": "2026-03-29"}))
    );
    assert!(page.kpis.is_empty());
}

#[tokio::test]
async fn an_import_reports_strict_mode_s_failed_records() {
    let server = MockServer::start().await;
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode("0123456789abcdef:");
    Mock::given(method("POST"))
        .and(path("/mixpanel/import"))
        .and(query_param("strict", "1"))
        .and(query_param("project_id", "2195193"))
        .and(header("authorization", format!("Basic {token}").as_str()))
        .and(header("content-type", "application/json"))
        // The documented 400 of strict mode.
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "code": 400,
            "num_records_imported": 1,
            "status": "Bad Request",
            "failed_records": [{
                "index": 0,
                "insert_id": "13c0b661-f48b-51cd-ba54-97c5999169c0",
                "field": "properties.time",
                "message": "'properties.time' is invalid: must be specified as seconds since epoch"
            }]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let conn = crate::support::connection_with(
        "tester",
        "test-secret",
        json!({}),
        &[("project_token", "0123456789abcdef")],
    );
    let input = json!({"events": [
        {"event": "Signup", "properties": {"time": 1, "distinct_id": "a", "$insert_id": "13c0b661-f48b-51cd-ba54-97c5999169c0"}},
        {"event": "Signup", "properties": {"time": 1618716477, "distinct_id": "b"}}
    ]});
    let outcome = Mixpanel
        .act(
            &context(&server),
            &conn,
            "import_events",
            &input,
            Some("key"),
        )
        .await
        .unwrap();
    assert_eq!(outcome.output["imported"], 1);
    assert_eq!(
        outcome.output["failed"],
        json!([{
            "index": 0,
            "insert_id": "13c0b661-f48b-51cd-ba54-97c5999169c0",
            "field": "properties.time",
            "message": "'properties.time' is invalid: must be specified as seconds since epoch"
        }])
    );
    let sent: Vec<Value> = server.received_requests().await.unwrap()[0]
        .body_json()
        .unwrap();
    assert_eq!(
        sent[1]["properties"]["$insert_id"],
        outcome.output["insert_ids"][1]
    );
}

#[tokio::test]
async fn refusals_are_classified_as_the_error_table_says() {
    type Expected = fn(&AdapterError) -> bool;
    let cases: Vec<(ResponseTemplate, Expected)> = vec![
        (
            ResponseTemplate::new(429)
                .insert_header("retry-after", "30")
                .set_body_json(json!({"code": 429, "error": "Project exceeded rate limits. Please retry the request with exponential backoff.", "status": "Too Many Requests"})),
            |e| *e == AdapterError::RateLimited { retry_after: Some(Duration::from_secs(30)) },
        ),
        (
            ResponseTemplate::new(429).set_body_json(json!({"request": "/api/query/segmentation", "error": "Query rate limit exceeded"})),
            |e| *e == AdapterError::RateLimited { retry_after: None },
        ),
        (
            ResponseTemplate::new(402).set_body_json(json!({"request": "/api/query/segmentation", "error": "Your plan does not include this feature"})),
            |e| matches!(e, AdapterError::Invalid { message, .. } if message.contains("project 2195193's Mixpanel plan") && message.contains("does not include this feature")),
        ),
        (
            ResponseTemplate::new(403).set_body_json(json!({"request": "/api/query/segmentation", "error": "Permission denied"})),
            |e| matches!(e, AdapterError::Unauthorized { refreshable: false, message } if message.contains("project 2195193") && message.contains("Permission denied")),
        ),
        (
            ResponseTemplate::new(401).set_body_json(json!({"code": 401, "error": "Invalid credentials", "status": "Unauthorized"})),
            |e| matches!(e, AdapterError::Unauthorized { refreshable: false, .. }),
        ),
        (
            ResponseTemplate::new(503).set_body_string("upstream unavailable"),
            |e| matches!(e, AdapterError::Unavailable { .. }),
        ),
    ];
    for (response, expected) in cases {
        let server = MockServer::start().await;
        Mock::given(path("/mixpanel/api/query/segmentation"))
            .respond_with(response)
            .mount(&server)
            .await;
        let err = Mixpanel
            .read(
                &context(&server),
                &any(json!({"events": "Signed up"})),
                &first("segmentation"),
            )
            .await
            .unwrap_err();
        assert!(expected(&err), "{err:?}");
    }
    // An import too large for Mixpanel (the documented 413).
    let server = MockServer::start().await;
    Mock::given(path("/mixpanel/import"))
        .respond_with(ResponseTemplate::new(413).set_body_json(json!({"code": 413, "error": "request exceeds max limit of 2097152 bytes", "status": "Request Entity Too Large"})))
        .mount(&server)
        .await;
    let input =
        json!({"events": [{"event": "E", "properties": {"time": 1618716477, "distinct_id": "a"}}]});
    let err = Mixpanel
        .act(
            &context(&server),
            &any(json!({})),
            "import_events",
            &input,
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Invalid { message, .. } if message.contains("2097152")),
        "{err:?}"
    );
}

#[tokio::test]
async fn each_region_has_its_own_hosts() {
    let ctx = Context::new(reqwest::Client::new());
    for (region, host) in [
        ("us", "mixpanel.com"),
        ("eu", "eu.mixpanel.com"),
        ("in", "in.mixpanel.com"),
    ] {
        let target = Mixpanel
            .proxy_target(&ctx, &any(json!({"region": region})))
            .await
            .unwrap();
        assert_eq!(target.base_url.host_str(), Some(host));
    }
    let err = Mixpanel
        .proxy_target(&ctx, &any(json!({"region": "mars"})))
        .await
        .unwrap_err();
    assert!(matches!(&err, AdapterError::Invalid { field: Some(f), .. } if f == "region"));
    // The export's and the ingestion API's hosts follow the same setting.
    for (region, export, ingestion) in [
        (
            "us",
            "https://data.mixpanel.com",
            "https://api.mixpanel.com",
        ),
        (
            "eu",
            "https://data-eu.mixpanel.com",
            "https://api-eu.mixpanel.com",
        ),
        (
            "in",
            "https://data-in.mixpanel.com",
            "https://api-in.mixpanel.com",
        ),
    ] {
        let conn = any(json!({"region": region}));
        assert_eq!(
            junction_mixpanel::EXPORT_API
                .base
                .resolve(&conn, &[])
                .unwrap(),
            export
        );
        assert_eq!(
            junction_mixpanel::INGESTION_API
                .base
                .resolve(&conn, &[])
                .unwrap(),
            ingestion
        );
    }
}
