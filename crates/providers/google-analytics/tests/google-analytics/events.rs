//! `send_events` against wiremock serving the Measurement Protocol's documented
//! shapes: the validation server first (`/debug/mp/collect`, its
//! `validationMessages` refusing the events with the messages carried in an
//! `Invalid` error, nothing sent), then `/mp/collect` with the measurement ID and
//! the API secret in the query; and `run_report` (metadata check, rows as objects,
//! paging by `next_offset`).

use junction_core::{Adapter, AdapterError};
use junction_google_analytics::GoogleAnalytics;
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_json, body_partial_json, method, path, query_param},
};

use crate::support::*;

const SECRET: &str = "mp-secret_0123456789";
const DEBUG_PATH: &str = "/google-analytics/debug/mp/collect";
const COLLECT_PATH: &str = "/google-analytics/mp/collect";

fn mp_connection() -> junction_core::Connection {
    let mut conn = property_connection(json!({"measurement_id": "G-TEST123"}));
    conn.secrets
        .insert("api_secret".into(), SecretString::from(SECRET));
    conn
}

fn events() -> Value {
    json!({
        "client_id": "123456.7654321",
        "user_id": "user-42",
        "events": [
            {"name": "page_view", "params": {"page_location": "https://shop.example/pricing", "page_title": "Pricing", "session_id": "1700000000", "engagement_time_msec": 100}},
            {"name": "purchase", "params": {"transaction_id": "T-1", "value": 49.9, "currency": "EUR",
                "items": [{"item_id": "SKU_1", "item_name": "Tee", "price": 49.9, "quantity": 1}]}},
            {"name": "trial_started", "params": {"plan": "growth"}}
        ]
    })
}

async fn act(
    server: &MockServer,
    conn: &junction_core::Connection,
    action: &str,
    input: Value,
) -> Result<junction_core::ActionOutcome, AdapterError> {
    GoogleAnalytics
        .act(&context(server), conn, action, &input, Some("key-1"))
        .await
}

#[tokio::test]
async fn valid_events_are_validated_then_sent_with_the_secret_in_the_query() {
    let server = MockServer::start().await;
    let body = {
        let mut body = events();
        body.as_object_mut().unwrap().remove("validate_only");
        body
    };
    Mock::given(method("POST"))
        .and(path(DEBUG_PATH))
        .and(query_param("measurement_id", "G-TEST123"))
        .and(query_param("api_secret", SECRET))
        .and(body_json(body.clone()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"validationMessages": []})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(COLLECT_PATH))
        .and(query_param("measurement_id", "G-TEST123"))
        .and(query_param("api_secret", SECRET))
        .and(body_json(body))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = act(&server, &mp_connection(), "send_events", events())
        .await
        .unwrap();
    assert_eq!(
        outcome.output,
        json!({"measurement_id": "G-TEST123", "events": ["page_view", "purchase", "trial_started"],
               "validated": true, "sent": true})
    );
    // The secret never shows in what the action returns.
    assert!(!outcome.output.to_string().contains(SECRET));
}

#[tokio::test]
async fn a_bad_parameter_gets_the_validation_message_back_and_nothing_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(DEBUG_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "validationMessages": [{
                "fieldPath": "events.params",
                "description": "Event at index: [2] has param [google_campaign] which is reserved.",
                "validationCode": "NAME_RESERVED"
            }]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(COLLECT_PATH))
        .respond_with(ResponseTemplate::new(204))
        .expect(0)
        .mount(&server)
        .await;
    let mut input = events();
    input["events"][2]["params"]["google_campaign"] = json!("spring");
    let err = act(&server, &mp_connection(), "send_events", input)
        .await
        .unwrap_err();
    let AdapterError::Invalid { field, message } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(field.as_deref(), Some("events.params"));
    assert!(message.contains("NAME_RESERVED"), "{message}");
    assert!(
        message.contains("Event at index: [2] has param [google_campaign] which is reserved."),
        "{message}"
    );
    assert!(!err.is_retryable());
    assert!(!err.to_string().contains(SECRET));
}

#[tokio::test]
async fn validate_only_stops_after_the_validation_server() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(DEBUG_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"validationMessages": []})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(COLLECT_PATH))
        .respond_with(ResponseTemplate::new(204))
        .expect(0)
        .mount(&server)
        .await;
    let mut input = events();
    input["validate_only"] = json!(true);
    let outcome = act(&server, &mp_connection(), "send_events", input)
        .await
        .unwrap();
    assert_eq!(outcome.output["sent"], false);
}

#[tokio::test]
async fn the_documented_limits_and_missing_settings_are_refused_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let field = |err: AdapterError| match err {
        AdapterError::Invalid { field, .. } => field.unwrap(),
        other => panic!("{other:?}"),
    };
    let many: Vec<Value> = (0..26).map(|_| json!({"name": "tick"})).collect();
    let cases = [
        (json!({"client_id": "1", "events": many}), "events"),
        (
            json!({"client_id": "1", "events": [{"name": "1st_event"}]}),
            "events[0].name",
        ),
        (
            json!({"client_id": "1", "events": [{"name": "a".repeat(41)}]}),
            "events[0].name",
        ),
        (
            json!({"client_id": "1", "events": [{"name": "view", "params": {"note": "x".repeat(101)}}]}),
            "events[0].params.note",
        ),
        (json!({"events": [{"name": "view"}]}), "client_id"),
        (
            json!({"client_id": "1", "events": [{"name": "view"}], "user_properties": {"tier": {"value": "y".repeat(37)}}}),
            "user_properties.tier.value",
        ),
    ];
    for (input, expected) in cases {
        let err = act(&server, &mp_connection(), "send_events", input.clone())
            .await
            .unwrap_err();
        assert_eq!(field(err), expected, "{input}");
    }
    let mut no_secret = mp_connection();
    no_secret.secrets.clear();
    assert_eq!(
        field(
            act(&server, &no_secret, "send_events", events())
                .await
                .unwrap_err()
        ),
        "api_secret"
    );
    let no_id = property_connection(json!({}));
    assert_eq!(
        field(
            act(&server, &no_id, "send_events", events())
                .await
                .unwrap_err()
        ),
        "measurement_id"
    );
    assert_eq!(
        field(
            act(&server, &no_id, "teleport", json!({}))
                .await
                .unwrap_err()
        ),
        "action"
    );
}

fn metadata() -> Value {
    json!({
        "name": "properties/123456/metadata",
        "dimensions": [{"apiName": "country"}, {"apiName": "customEvent:plan_name", "customDefinition": true}],
        "metrics": [{"apiName": "sessions", "type": "TYPE_INTEGER"}, {"apiName": "totalRevenue", "type": "TYPE_CURRENCY"}]
    })
}

#[tokio::test]
async fn run_report_returns_rows_and_the_next_offset() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/google-analytics/v1beta/properties/123456/metadata"))
        .respond_with(ResponseTemplate::new(200).set_body_json(metadata()))
        .mount(&server)
        .await;
    let filter = json!({"filter": {"fieldName": "customEvent:plan_name", "inListFilter": {"values": ["growth", "starter"]}}});
    Mock::given(method("POST"))
        .and(path(RUN_REPORT_PATH))
        .and(body_partial_json(json!({
            "dateRanges": [{"startDate": "7daysAgo", "endDate": "yesterday"}],
            "dimensions": [{"name": "country"}, {"name": "customEvent:plan_name"}],
            "metrics": [{"name": "sessions"}, {"name": "totalRevenue"}],
            "offset": "0", "limit": "2", "dimensionFilter": filter
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "dimensionHeaders": [{"name": "country"}, {"name": "customEvent:plan_name"}],
            "metricHeaders": [{"name": "sessions", "type": "TYPE_INTEGER"}, {"name": "totalRevenue", "type": "TYPE_CURRENCY"}],
            "rows": [
                {"dimensionValues": [{"value": "France"}, {"value": "growth"}], "metricValues": [{"value": "40"}, {"value": "120.5"}]},
                {"dimensionValues": [{"value": "Germany"}, {"value": "starter"}], "metricValues": [{"value": "12"}, {"value": "0"}]}
            ],
            "rowCount": 5,
            "metadata": {"currencyCode": "EUR", "timeZone": "Europe/Paris"},
            "kind": "analyticsData#runReport"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = act(&server, &property_connection(json!({})), "run_report", json!({
        "dimensions": ["country", "customEvent:plan_name"], "metrics": ["sessions", "totalRevenue"],
        "start_date": "7daysAgo", "end_date": "yesterday", "dimension_filter": filter, "limit": 2
    }))
    .await
    .unwrap();
    assert_eq!(
        outcome.output["rows"],
        json!([
            {"country": "France", "customEvent:plan_name": "growth", "sessions": 40, "totalRevenue": 120.5},
            {"country": "Germany", "customEvent:plan_name": "starter", "sessions": 12, "totalRevenue": 0.0}
        ])
    );
    assert_eq!(
        (
            outcome.output["row_count"].clone(),
            outcome.output["next_offset"].clone()
        ),
        (json!(5), json!(2))
    );
    assert_eq!(outcome.output["currency_code"], "EUR");
}

#[tokio::test]
async fn run_report_refuses_unknown_names_before_the_report() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/google-analytics/v1beta/properties/123456/metadata"))
        .respond_with(ResponseTemplate::new(200).set_body_json(metadata()))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let err = act(
        &server,
        &property_connection(json!({})),
        "run_report",
        json!({
            "dimensions": ["customUser:membership"], "metrics": ["sessions"]
        }),
    )
    .await
    .unwrap_err();
    let AdapterError::Invalid { field, message } = err else {
        panic!()
    };
    assert_eq!(field.as_deref(), Some("dimensions"));
    assert!(message.contains("`customUser:membership`"), "{message}");
    let err = act(
        &server,
        &property_connection(json!({})),
        "run_report",
        json!({"metrics": []}),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AdapterError::Invalid { field: Some(f), .. } if f == "metrics"));
}
