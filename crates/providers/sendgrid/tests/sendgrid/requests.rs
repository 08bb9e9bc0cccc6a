//! The adapter against wiremock serving the provider's documented JSON shapes: the
//! request a page makes, the records and KPI points it becomes, the cursor it
//! leaves, and refusals classified as the error table says.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use junction_core::{Adapter, AdapterError, Context, FixedClock, ReadRequest};
use junction_sendgrid::{ITEM_VALUE, ITEMS, Sendgrid};
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path, query_param},
};

use crate::support::any;

/// A context pointed at `server` under `/sendgrid/`, at 2026-03-31 12:00 UTC.
fn context(server: &MockServer) -> Context {
    let now = Utc.with_ymd_and_hms(2026, 3, 31, 12, 0, 0).unwrap();
    Context::new(reqwest::Client::new())
        .with_base_url(format!("{}/sendgrid/", server.uri()).parse().unwrap())
        .with_clock(Arc::new(FixedClock(now)))
}

fn first_page() -> ReadRequest {
    ReadRequest {
        stream: ITEMS.into(),
        cursor: None,
        page_size: Some(2),
    }
}

#[tokio::test]
async fn a_page_of_items_becomes_records_kpi_points_and_a_cursor() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/sendgrid/v1/items"))
        .and(query_param("created_since", "2026-03-01"))
        .and(query_param("limit", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [
                {"id": "item_2", "created_at": "2026-03-30T09:30:00Z", "value": 12.5},
                {"id": "item_1", "created_at": "2026-03-29T23:10:00-04:00", "value": null},
            ],
            "has_more": true,
            "next_cursor": "c_2",
        })))
        .mount(&server)
        .await;
    let page = Sendgrid
        .read(&context(&server), &any(), &first_page())
        .await
        .unwrap();
    let ids: Vec<_> = page
        .records
        .iter()
        .map(|r| r.external_id.as_str())
        .collect();
    assert_eq!(ids, ["item_2", "item_1"]);
    // A value of null is no point (not zero).
    assert_eq!(page.kpis.len(), 1);
    assert_eq!(page.kpis[0].metric, ITEM_VALUE);
    assert_eq!(page.kpis[0].value, 12.5);
    assert_eq!(page.kpis[0].dimensions["item"], "item_2");
    assert!(page.has_more);
    assert_eq!(
        page.next_cursor,
        Some(json!({"since": "2026-03-01", "page": "c_2"}))
    );
}

#[tokio::test]
async fn refusals_are_classified_as_the_error_table_says() {
    let server = MockServer::start().await;
    Mock::given(path("/sendgrid/v1/items"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "code": "invalid_parameter",
            "message": "`created_since` must be a day",
            "param": "created_since",
        }})))
        .mount(&server)
        .await;
    let error = Sendgrid
        .read(&context(&server), &any(), &first_page())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, AdapterError::Invalid { field: Some(f), .. } if f == "created_since"),
        "{error:?}"
    );
}
