//! The streams beside `daily_report` against wiremock serving GA4's documented
//! shapes: `realtime` (runRealtimeReport, gauges, no cursor), `key_events`,
//! `ecommerce_items` (money with its currency), and `custom_report` (names checked
//! against getMetadata first, the dimension filter sent, offset paging to the end,
//! records only); quota refusals of each endpoint.

use std::time::Duration;

use junction_core::{AdapterError, MetricKind};
use junction_google_analytics::GoogleAnalytics;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_json, body_partial_json, header, method, path},
};

use crate::support::*;

const REALTIME_PATH: &str = "/google-analytics/v1beta/properties/123456:runRealtimeReport";
const METADATA_PATH: &str = "/google-analytics/v1beta/properties/123456/metadata";

/// A report body: headers and rows of text values, as GA4 sends them.
fn table(
    dimensions: &[&str],
    metrics: &[(&str, &str)],
    rows: &[&[&str]],
    row_count: usize,
) -> Value {
    let split = dimensions.len();
    json!({
        "dimensionHeaders": dimensions.iter().map(|d| json!({"name": d})).collect::<Vec<_>>(),
        "metricHeaders": metrics.iter().map(|(n, t)| json!({"name": n, "type": t})).collect::<Vec<_>>(),
        "rows": rows.iter().map(|row| json!({
            "dimensionValues": row[..split].iter().map(|v| json!({"value": v})).collect::<Vec<_>>(),
            "metricValues": row[split..].iter().map(|v| json!({"value": v})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "rowCount": row_count,
        "metadata": {"currencyCode": "EUR", "timeZone": "Europe/Berlin"},
        "kind": "analyticsData#runReport"
    })
}

fn request(
    stream: &str,
    cursor: Option<Value>,
    page_size: Option<u32>,
) -> junction_core::ReadRequest {
    junction_core::ReadRequest {
        stream: stream.into(),
        cursor,
        page_size,
    }
}

async fn read_stream(
    server: &MockServer,
    conn: &junction_core::Connection,
    stream: &str,
    cursor: Option<Value>,
    page_size: Option<u32>,
) -> Result<junction_core::Page, AdapterError> {
    use junction_core::Adapter;
    GoogleAnalytics
        .read(&context(server), conn, &request(stream, cursor, page_size))
        .await
}

#[tokio::test]
async fn realtime_reads_the_last_half_hour_as_gauges_without_a_cursor() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(REALTIME_PATH))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_json(json!({
            "dimensions": [{"name": "country"}, {"name": "deviceCategory"}, {"name": "unifiedScreenName"}],
            "metrics": [{"name": "activeUsers"}, {"name": "eventCount"}],
            "limit": "250000",
            "returnPropertyQuota": true
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json({
            let mut body = table(
                &["country", "deviceCategory", "unifiedScreenName"],
                &[("activeUsers", "TYPE_INTEGER"), ("eventCount", "TYPE_INTEGER")],
                &[&["Germany", "mobile", "Home", "12", "80"], &["Japan", "desktop", "Pricing|Plans", "3", "9"]],
                2,
            );
            body["kind"] = json!("analyticsData#runRealtimeReport");
            body.as_object_mut().unwrap().remove("metadata");
            body
        }))
        .expect(1)
        .mount(&server)
        .await;
    let page = read_stream(
        &server,
        &property_connection(json!({})),
        "realtime",
        None,
        None,
    )
    .await
    .unwrap();
    assert!(!page.has_more);
    assert_eq!(page.next_cursor, None);
    let ids: Vec<&str> = page
        .records
        .iter()
        .map(|r| r.external_id.as_str())
        .collect();
    assert_eq!(
        ids,
        ["Germany|mobile|Home", "Japan|desktop|Pricing%7CPlans"]
    );
    assert_eq!(
        page.records[0].data,
        json!({"country": "Germany", "deviceCategory": "mobile", "unifiedScreenName": "Home",
               "activeUsers": 12, "eventCount": 80})
    );
    // Points of the reading's day, by the three dimensions.
    assert_eq!(page.kpis.len(), 4);
    let point = &page.kpis[0];
    assert_eq!(
        (point.metric.as_str(), point.value),
        ("realtime_active_users", 12.0)
    );
    assert_eq!(point.date, now().date_naive());
    assert_eq!(point.dimensions["deviceCategory"], "mobile");
    assert_eq!(page.kpis[1].metric, "realtime_event_count");
    use junction_core::Adapter;
    let spec = GoogleAnalytics.spec();
    assert_eq!(
        spec.metric("realtime_active_users").unwrap().kind,
        MetricKind::Gauge
    );
    assert_eq!(
        spec.stream("realtime").unwrap().default_schedule,
        Duration::from_secs(300)
    );
}

#[tokio::test]
async fn realtime_quota_refusals_are_classified() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(REALTIME_PATH))
        .respond_with(ResponseTemplate::new(429).set_body_json(google_error(
            429,
            "RESOURCE_EXHAUSTED",
            "Exhausted property tokens per hour. Refresh in 26 minutes.",
        )))
        .mount(&server)
        .await;
    let err = read_stream(
        &server,
        &property_connection(json!({})),
        "realtime",
        None,
        None,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, AdapterError::QuotaExhausted { resets_at: Some(_) }),
        "{err:?}"
    );
}

#[tokio::test]
async fn key_events_are_goals_by_event_name() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(RUN_REPORT_PATH))
        .and(body_partial_json(json!({
            "dimensions": [{"name": "date"}, {"name": "eventName"}],
            "metrics": [{"name": "keyEvents"}],
            "offset": "0"
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(table(
            &["date", "eventName"],
            &[("keyEvents", "TYPE_INTEGER")],
            &[
                &["20260314", "purchase", "31"],
                &["20260314", "sign_up", "12"],
            ],
            2,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let page = read_stream(
        &server,
        &property_connection(json!({})),
        "key_events",
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(page.records[1].external_id, "20260314|sign_up");
    let points: Vec<(&str, &str, f64)> = page
        .kpis
        .iter()
        .map(|p| {
            (
                p.metric.as_str(),
                p.dimensions["eventName"].as_str(),
                p.value,
            )
        })
        .collect();
    assert_eq!(
        points,
        [
            ("key_event_count", "purchase", 31.0),
            ("key_event_count", "sign_up", 12.0)
        ]
    );
    assert_eq!(
        page.next_cursor.unwrap()["dimensions"],
        json!(["eventName"])
    );
}

#[tokio::test]
async fn item_revenue_is_money_in_the_property_currency() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(RUN_REPORT_PATH))
        .and(body_partial_json(json!({
            "dimensions": [{"name": "date"}, {"name": "itemId"}, {"name": "itemName"}],
            "metrics": [{"name": "itemRevenue"}, {"name": "itemsPurchased"}]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(table(
            &["date", "itemId", "itemName"],
            &[
                ("itemRevenue", "TYPE_CURRENCY"),
                ("itemsPurchased", "TYPE_INTEGER"),
            ],
            &[&["20260314", "SKU_1", "Tee", "150.5", "5"]],
            1,
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(RUN_REPORT_PATH))
        .and(body_partial_json(json!({
            "dimensions": [{"name": "date"}],
            "metrics": [{"name": "transactions"}, {"name": "purchaseRevenue"}]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(table(
            &["date"],
            &[
                ("transactions", "TYPE_INTEGER"),
                ("purchaseRevenue", "TYPE_CURRENCY"),
            ],
            &[&["20260314", "4", "310.25"]],
            1,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let conn = property_connection(json!({}));
    let items = read_stream(&server, &conn, "ecommerce_items", None, None)
        .await
        .unwrap();
    let revenue = &items.kpis[0];
    assert_eq!(
        (revenue.metric.as_str(), revenue.value),
        ("item_revenue", 150.5)
    );
    assert_eq!(revenue.dimensions["currency"], "EUR");
    assert_eq!(revenue.dimensions["itemName"], "Tee");
    assert!(!items.kpis[1].dimensions.contains_key("currency"));
    let purchases = read_stream(&server, &conn, "ecommerce_purchases", None, None)
        .await
        .unwrap();
    let metrics: Vec<(&str, f64)> = purchases
        .kpis
        .iter()
        .map(|p| (p.metric.as_str(), p.value))
        .collect();
    assert_eq!(
        metrics,
        [("transactions", 4.0), ("purchase_revenue", 310.25)]
    );
    assert_eq!(purchases.kpis[1].dimensions["currency"], "EUR");
}

/// The metadata of a property with two custom definitions.
fn metadata() -> Value {
    json!({
        "name": "properties/123456/metadata",
        "dimensions": [
            {"apiName": "date", "uiName": "Date", "category": "Time"},
            {"apiName": "country", "uiName": "Country", "category": "Geography"},
            {"apiName": "customUser:membership", "uiName": "Membership", "customDefinition": true},
        ],
        "metrics": [
            {"apiName": "activeUsers", "uiName": "Active users", "type": "TYPE_INTEGER"},
            {"apiName": "keyEvents", "uiName": "Key events", "type": "TYPE_INTEGER", "deprecatedApiNames": ["conversions"]},
            {"apiName": "customEvent:levels_unlocked", "uiName": "Levels", "type": "TYPE_INTEGER", "customDefinition": true}
        ]
    })
}

const FILTER: &str = r#"{"filter": {"fieldName": "customUser:membership", "stringFilter": {"matchType": "EXACT", "value": "premium"}}}"#;

fn custom_connection(dimensions: &str, metrics: &str) -> junction_core::Connection {
    property_connection(json!({
        "custom_dimensions": dimensions, "custom_metrics": metrics, "custom_filter": FILTER,
        "lookback_days": 3
    }))
}

#[tokio::test]
async fn a_custom_report_is_checked_then_paged_to_the_end_as_records() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(METADATA_PATH))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(metadata()))
        // Once per window: before its first page only.
        .expect(1)
        .mount(&server)
        .await;
    let page = |offset: &str, rows: &[&[&str]]| {
        let body = table(
            &["date", "customUser:membership"],
            &[
                ("conversions", "TYPE_INTEGER"),
                ("customEvent:levels_unlocked", "TYPE_INTEGER"),
            ],
            rows,
            3,
        );
        Mock::given(method("POST"))
            .and(path(RUN_REPORT_PATH))
            .and(body_json(json!({
                "dateRanges": [{"startDate": "2026-03-12", "endDate": "2026-03-15"}],
                "dimensions": [{"name": "date"}, {"name": "customUser:membership"}],
                "metrics": [{"name": "conversions"}, {"name": "customEvent:levels_unlocked"}],
                "offset": offset,
                "limit": "2",
                "keepEmptyRows": false,
                "dimensionFilter": serde_json::from_str::<Value>(FILTER).unwrap(),
                "returnPropertyQuota": true
            })))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .expect(1)
    };
    page(
        "0",
        &[
            &["20260313", "premium", "4", "10"],
            &["20260314", "premium", "2", "7"],
        ],
    )
    .mount(&server)
    .await;
    page("2", &[&["20260315", "premium", "1", "3"]])
        .mount(&server)
        .await;
    let conn = custom_connection(
        "customUser:membership",
        "conversions, customEvent:levels_unlocked",
    );
    let first = read_stream(&server, &conn, "custom_report", None, Some(2))
        .await
        .unwrap();
    assert!(first.has_more);
    assert!(
        first.kpis.is_empty(),
        "user-chosen metrics have no declared kind"
    );
    assert_eq!(
        first.records[0].data,
        json!({"date": "20260313", "customUser:membership": "premium", "conversions": 4,
               "customEvent:levels_unlocked": 10})
    );
    let cursor = first.next_cursor.clone().unwrap();
    assert_eq!(cursor["offset"], 2);
    let last = read_stream(&server, &conn, "custom_report", Some(cursor), Some(2))
        .await
        .unwrap();
    assert!(!last.has_more);
    assert_eq!(last.records[0].external_id, "20260315|premium");
    // The next window re-reads the last days; the cursor remembers the report's shape.
    let next = last.next_cursor.unwrap();
    assert_eq!(next["start"], "2026-03-12");
    assert!(
        next["shape"]
            .as_str()
            .unwrap()
            .starts_with("conversions,customEvent:levels_unlocked|")
    );
}

#[tokio::test]
async fn bad_custom_names_are_refused_by_name_before_any_report() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(METADATA_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(metadata()))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let refusal = |conn: junction_core::Connection| {
        let server = &server;
        async move {
            match read_stream(server, &conn, "custom_report", None, None)
                .await
                .unwrap_err()
            {
                AdapterError::Invalid { field, message } => (field.unwrap(), message),
                other => panic!("{other:?}"),
            }
        }
    };
    let (field, message) =
        refusal(custom_connection("customUser:tier, country", "activeUsers")).await;
    assert_eq!(field, "custom_dimensions");
    assert!(
        message.starts_with("not dimensions of GA4 property 123456: `customUser:tier`."),
        "{message}"
    );
    let (field, message) = refusal(custom_connection(
        "country",
        "activeUsers, customEvent:levels, sessionz",
    ))
    .await;
    assert_eq!(field, "custom_metrics");
    assert!(
        message.contains("`customEvent:levels`, `sessionz`"),
        "{message}"
    );
    // A filter on an unregistered dimension, and a filter that is no FilterExpression.
    let mut conn = custom_connection("country", "activeUsers");
    conn.config.insert(
        "custom_filter".into(),
        json!(r#"{"filter": {"fieldName": "customUser:tier", "emptyFilter": {}}}"#),
    );
    assert_eq!(refusal(conn).await.0, "custom_filter");
    let mut conn = custom_connection("country", "activeUsers");
    conn.config.insert(
        "custom_filter".into(),
        json!(r#"{"filter": {"fieldName": "country"}}"#),
    );
    assert_eq!(refusal(conn).await.0, "custom_filter.filter");
}

#[tokio::test]
async fn without_custom_metrics_the_custom_report_reads_nothing() {
    let server = MockServer::start().await;
    let page = read_stream(
        &server,
        &property_connection(json!({})),
        "custom_report",
        None,
        None,
    )
    .await
    .unwrap();
    assert!(page.records.is_empty() && !page.has_more && page.next_cursor.is_none());
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_metadata_quota_refusal_is_classified() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(METADATA_PATH))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "4")
                .set_body_json(google_error(
                    429,
                    "RESOURCE_EXHAUSTED",
                    "Exhausted concurrent requests quota.",
                )),
        )
        .mount(&server)
        .await;
    let err = read_stream(
        &server,
        &custom_connection("country", "activeUsers"),
        "custom_report",
        None,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(4))
        }
    );
}
