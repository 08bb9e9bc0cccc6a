//! Shared fixtures: a pinned clock, a context pointed at a mock server under the
//! sandbox-style `/google-analytics` prefix, connections, and report bodies in the
//! GA4 Data API's shape.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use junction_core::{
    Adapter, AdapterError, Connection, Context, FixedClock, IntegrationId, Page, ReadRequest,
    WorkspaceId,
};
use junction_google_analytics::GoogleAnalytics;
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::MockServer;

/// The access token the tests present.
pub const TOKEN: &str = "ya29.a0-test-access-token";

/// The property the tests read.
pub const PROPERTY: &str = "123456";

/// Where the adapter must send `runReport` for [`PROPERTY`] under the prefix.
pub const RUN_REPORT_PATH: &str = "/google-analytics/v1beta/properties/123456:runReport";

/// The metrics `daily_report` requests, with the types GA4 reports for them.
pub const METRIC_TYPES: [(&str, &str); 7] = [
    ("sessions", "TYPE_INTEGER"),
    ("totalUsers", "TYPE_INTEGER"),
    ("newUsers", "TYPE_INTEGER"),
    ("keyEvents", "TYPE_INTEGER"),
    ("engagementRate", "TYPE_FLOAT"),
    ("totalRevenue", "TYPE_CURRENCY"),
    ("engagedSessions", "TYPE_INTEGER"),
];

/// The tests' "now": 2026-03-15 12:00 UTC (Pacific daylight time is in effect).
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap()
}

/// A context whose base URL is the mock server under `/google-analytics`.
pub fn context(server: &MockServer) -> Context {
    context_with_base(&format!("{}/google-analytics", server.uri()))
}

/// A context with the given base URL and the pinned clock.
pub fn context_with_base(base: &str) -> Context {
    Context::new(reqwest::Client::new())
        .with_base_url(base.parse().unwrap())
        .with_clock(Arc::new(FixedClock(now())))
}

/// A connection with [`TOKEN`] and the given config.
pub fn connection(config: Value) -> Connection {
    Connection {
        workspace_id: WorkspaceId::new(),
        integration_id: IntegrationId::new(),
        config: config.as_object().cloned().unwrap(),
        secrets: Default::default(),
        access_token: Some(SecretString::from(TOKEN)),
        token_expires_at: None,
    }
}

/// A connection to [`PROPERTY`] with extra config merged in.
pub fn property_connection(extra: Value) -> Connection {
    let mut config = json!({"property_id": PROPERTY});
    if let (Some(target), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
        target.extend(extra.clone());
    }
    connection(config)
}

/// A `daily_report` read request.
pub fn read_request(cursor: Option<Value>, page_size: Option<u32>) -> ReadRequest {
    ReadRequest {
        stream: "daily_report".into(),
        cursor,
        page_size,
    }
}

/// Reads one page.
pub async fn read(
    ctx: &Context,
    conn: &Connection,
    cursor: Option<Value>,
    page_size: Option<u32>,
) -> Result<Page, AdapterError> {
    GoogleAnalytics
        .read(ctx, conn, &read_request(cursor, page_size))
        .await
}

/// A RunReportResponse for the `daily_report` metrics. Each row is its dimension
/// values and its six metric values, as strings like the API sends them.
pub fn report(dimensions: &[&str], rows: &[(&[&str], [&str; 7])], row_count: usize) -> Value {
    let mut body = json!({
        "dimensionHeaders": dimensions.iter().map(|d| json!({"name": d})).collect::<Vec<_>>(),
        "metricHeaders": METRIC_TYPES
            .iter()
            .map(|(name, kind)| json!({"name": name, "type": kind}))
            .collect::<Vec<_>>(),
        "metadata": {"currencyCode": "USD", "timeZone": "America/Los_Angeles"},
        "propertyQuota": {
            "tokensPerDay": {"consumed": 4, "remaining": 199_960},
            "tokensPerHour": {"consumed": 4, "remaining": 39_980},
            "concurrentRequests": {"remaining": 10},
            "serverErrorsPerProjectPerHour": {"remaining": 10},
            "potentiallyThresholdedRequestsPerHour": {"remaining": 120},
            "tokensPerProjectPerHour": {"consumed": 4, "remaining": 13_980}
        },
        "kind": "analyticsData#runReport"
    });
    if !rows.is_empty() {
        body["rows"] = rows
            .iter()
            .map(|(dims, metrics)| {
                json!({
                    "dimensionValues": dims.iter().map(|v| json!({"value": v})).collect::<Vec<_>>(),
                    "metricValues": metrics.iter().map(|v| json!({"value": v})).collect::<Vec<_>>(),
                })
            })
            .collect();
    }
    // proto3 JSON leaves a zero rowCount out.
    if row_count > 0 {
        body["rowCount"] = json!(row_count);
    }
    body
}

/// One of a few rows of plausible metric strings (sessions, totalUsers, newUsers,
/// keyEvents, engagementRate, totalRevenue, engagedSessions).
pub fn sample_metrics(variant: u8) -> [&'static str; 7] {
    match variant {
        0 => ["0", "0", "0", "0", "0", "0", "0"],
        1 => [
            "1200",
            "1011",
            "350",
            "42",
            "0.6234567901234568",
            "1234.5",
            "748",
        ],
        2 => ["980", "850", "300", "31", "0.58", "899.99", "568"],
        _ => ["15", "14", "9", "0", "0.4", "0", "6"],
    }
}

/// Google's error envelope.
pub fn google_error(code: u16, status: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "status": status}})
}
