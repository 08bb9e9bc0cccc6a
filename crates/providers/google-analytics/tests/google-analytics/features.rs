//! The new features against the crate's own fake (served by the conformance
//! suite's `FakeServer`): a Measurement Protocol event with a bad parameter gets
//! the validation server's message back; goals, e-commerce, realtime and a custom
//! report with an audience filter sync from the fake's data; `run_report` returns
//! its rows.

use std::sync::Arc;

use junction_conformance::{FakeServer, TokenTable};
use junction_core::{Adapter, AdapterError, Connection, Page, ReadRequest, fake::TokenStatus};
use junction_google_analytics::{GoogleAnalytics, READONLY_SCOPE, sandbox::Ga4Fake};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::support::*;

async fn server() -> FakeServer {
    let tokens = TokenTable::default().with(
        TOKEN,
        TokenStatus::Valid {
            scopes: vec![READONLY_SCOPE.into()],
        },
    );
    FakeServer::start(Arc::new(Ga4Fake), tokens).await
}

fn conn(extra: Value) -> Connection {
    let mut conn =
        property_connection(json!({"lookback_days": 6, "measurement_id": "G-SANDBOX01"}));
    conn.config.extend(extra.as_object().cloned().unwrap());
    conn.secrets
        .insert("api_secret".into(), SecretString::from("sandbox-secret-1"));
    conn
}

/// Every page of `stream`.
async fn sync(server: &FakeServer, conn: &Connection, stream: &str) -> Vec<Page> {
    let ctx = server.context();
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let request = ReadRequest {
            stream: stream.into(),
            cursor: cursor.clone(),
            page_size: Some(50),
        };
        let page = GoogleAnalytics.read(&ctx, conn, &request).await.unwrap();
        let more = page.has_more;
        cursor = page.next_cursor.clone();
        pages.push(page);
        if !more {
            return pages;
        }
    }
}

#[tokio::test]
async fn a_bad_parameter_gets_the_fakes_validation_message_back() {
    let server = server().await;
    let input = json!({"client_id": "555.1", "events": [
        {"name": "page_view", "params": {"page_location": "https://shop.example/", "session_id": "1", "engagement_time_msec": 100}},
        {"name": "sign_up", "params": {"method": "email", "ga_session_number": 3}}
    ]});
    let err = GoogleAnalytics
        .act(
            &server.context(),
            &conn(json!({})),
            "send_events",
            &input,
            None,
        )
        .await
        .unwrap_err();
    let AdapterError::Invalid { field, message } = err else {
        panic!("{err:?}")
    };
    assert_eq!(field.as_deref(), Some("events.params"));
    assert!(
        message.contains("NAME_RESERVED at `events.params`: Event at index: [1] has param [ga_session_number] which is reserved."),
        "{message}"
    );
    // A reserved event name is the validation server's to find, too.
    let session = json!({"client_id": "555.1", "events": [{"name": "session_start"}]});
    let err = GoogleAnalytics
        .act(
            &server.context(),
            &conn(json!({})),
            "send_events",
            &session,
            None,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("NAME_RESERVED"), "{err}");
    // Valid events go through.
    let good = json!({"client_id": "555.1", "events": [{"name": "purchase", "params": {"transaction_id": "T1", "value": 12.5, "currency": "USD"}}]});
    let outcome = GoogleAnalytics
        .act(
            &server.context(),
            &conn(json!({})),
            "send_events",
            &good,
            None,
        )
        .await
        .unwrap();
    assert_eq!(outcome.output["sent"], true);
}

#[tokio::test]
async fn goals_and_e_commerce_sync_from_the_fake() {
    let server = server().await;
    let conn = conn(json!({}));
    let points: Vec<_> = sync(&server, &conn, "key_events")
        .await
        .into_iter()
        .flat_map(|p| p.kpis)
        .collect();
    let mut names: Vec<&str> = points
        .iter()
        .map(|p| p.dimensions["eventName"].as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    // Only key events have key events: page views and scrolls drop out as empty rows.
    assert_eq!(names, ["generate_lead", "purchase", "sign_up"]);
    let items: Vec<_> = sync(&server, &conn, "ecommerce_items")
        .await
        .into_iter()
        .flat_map(|p| p.kpis)
        .collect();
    let revenue: Vec<_> = items
        .iter()
        .filter(|p| p.metric == "item_revenue")
        .collect();
    assert!(!revenue.is_empty());
    assert!(
        revenue.iter().all(
            |p| p.dimensions["currency"] == "USD" && p.dimensions["itemId"].starts_with("SKU_")
        )
    );
    let purchases: Vec<_> = sync(&server, &conn, "ecommerce_purchases")
        .await
        .into_iter()
        .flat_map(|p| p.records)
        .collect();
    assert_eq!(purchases.len(), 7, "a row per day of the window");
}

#[tokio::test]
async fn realtime_syncs_gauges_from_the_fake() {
    let server = server().await;
    let pages = sync(&server, &conn(json!({})), "realtime").await;
    assert_eq!(pages.len(), 1);
    let page = &pages[0];
    assert!(!page.records.is_empty());
    assert!(page.kpis.iter().all(|p| p.metric.starts_with("realtime_")));
    assert!(page.records[0].external_id.split('|').count() == 3);
}

#[tokio::test]
async fn a_custom_report_with_an_audience_filter_syncs_from_the_fake() {
    let server = server().await;
    let filter = r#"{"filter": {"fieldName": "customUser:membership", "stringFilter": {"value": "premium"}}}"#;
    let conn = conn(json!({
        "custom_dimensions": "customUser:membership, customEvent:plan_name",
        "custom_metrics": "activeUsers, keyEvents",
        "custom_filter": filter
    }));
    GoogleAnalytics
        .check(&server.context(), &conn)
        .await
        .unwrap();
    let records: Vec<_> = sync(&server, &conn, "custom_report")
        .await
        .into_iter()
        .flat_map(|p| p.records)
        .collect();
    // 7 days × 3 plans, all of premium members.
    assert_eq!(records.len(), 21);
    assert!(
        records
            .iter()
            .all(|r| r.data["customUser:membership"] == "premium")
    );
    // A name the property does not have is refused by the check, named.
    let bad = self::conn(json!({"custom_metrics": "activeUsers, customEvent:levels"}));
    let err = GoogleAnalytics
        .check(&server.context(), &bad)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Invalid { field: Some(f), .. } if f == "custom_metrics"),
        "{err:?}"
    );
}

#[tokio::test]
async fn run_report_returns_the_fakes_rows() {
    let server = server().await;
    let outcome = GoogleAnalytics
        .act(&server.context(), &conn(json!({})), "run_report", &json!({
            "dimensions": ["deviceCategory"], "metrics": ["sessions"],
            "start_date": "yesterday", "end_date": "today",
            "dimension_filter": {"notExpression": {"filter": {"fieldName": "deviceCategory", "stringFilter": {"value": "tablet"}}}}
        }), None)
        .await
        .unwrap();
    let rows = outcome.output["rows"].as_array().unwrap();
    let devices: Vec<&str> = rows
        .iter()
        .map(|r| r["deviceCategory"].as_str().unwrap())
        .collect();
    assert_eq!(devices, ["desktop", "mobile"]);
    assert_eq!(outcome.output["row_count"], 2);
    assert_eq!(outcome.output["next_offset"], Value::Null);
}
