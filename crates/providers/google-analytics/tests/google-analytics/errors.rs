//! How GA4's refusals are classified: token quotas versus concurrency on 429
//! `RESOURCE_EXHAUSTED`, expired versus forbidden credentials, bad arguments,
//! outages, malformed bodies and unreachable hosts.

use std::time::Duration;

use chrono::{DateTime, Utc};
use junction_core::{Adapter, AdapterError};
use junction_google_analytics::GoogleAnalytics;
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use crate::support::*;

/// The error a `daily_report` read gets when GA4 answers with `response`.
async fn read_error(response: ResponseTemplate) -> AdapterError {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(RUN_REPORT_PATH))
        .respond_with(response)
        .expect(1)
        .mount(&server)
        .await;
    read(
        &context(&server),
        &property_connection(json!({})),
        None,
        None,
    )
    .await
    .unwrap_err()
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn exhausted(message: &str) -> ResponseTemplate {
    ResponseTemplate::new(429).set_body_json(google_error(429, "RESOURCE_EXHAUSTED", message))
}

#[tokio::test]
async fn a_daily_token_quota_waits_for_pacific_midnight() {
    let err = read_error(exhausted(
        "Exhausted property tokens per day. Refresh in 19 hours.",
    ))
    .await;
    // Now is 05:00 PDT on March 15; the quota resets at 00:00 PDT on March 16.
    assert_eq!(
        err,
        AdapterError::QuotaExhausted {
            resets_at: Some(at("2026-03-16T07:00:00Z"))
        }
    );
}

#[tokio::test]
async fn an_hourly_token_quota_waits_for_the_next_hour() {
    let err = read_error(exhausted("Exhausted property tokens per hour.")).await;
    assert_eq!(
        err,
        AdapterError::QuotaExhausted {
            resets_at: Some(at("2026-03-15T13:00:00Z"))
        }
    );
}

#[tokio::test]
async fn too_many_concurrent_requests_is_a_rate_limit() {
    let err = read_error(
        exhausted("Exhausted concurrent requests quota.").insert_header("retry-after", "7"),
    )
    .await;
    assert_eq!(
        err,
        AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
}

#[tokio::test]
async fn an_expired_token_is_refreshable() {
    let err = read_error(ResponseTemplate::new(401).set_body_json(google_error(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
    )))
    .await;
    assert!(
        matches!(
            err,
            AdapterError::Unauthorized {
                refreshable: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.to_string().contains(TOKEN));
}

#[tokio::test]
async fn a_property_without_access_needs_the_user() {
    let err = read_error(ResponseTemplate::new(403).set_body_json(google_error(
        403,
        "PERMISSION_DENIED",
        "User does not have sufficient permissions for this property.",
    )))
    .await;
    let AdapterError::Unauthorized {
        refreshable,
        message,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(!refreshable);
    assert!(
        message.contains("no access to GA4 property 123456"),
        "{message}"
    );
    assert!(
        message.contains("User does not have sufficient permissions"),
        "{message}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn an_invalid_argument_names_the_field() {
    let err = read_error(ResponseTemplate::new(400).set_body_json(google_error(
        400,
        "INVALID_ARGUMENT",
        "Field browserz is not a valid dimension. For a list of valid dimensions and metrics, see https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema",
    )))
    .await;
    let AdapterError::Invalid { field, message } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(field.as_deref(), Some("dimensions"));
    assert!(message.starts_with("Field browserz is not a valid dimension"));
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn an_outage_is_unavailable() {
    let err = read_error(ResponseTemplate::new(503).set_body_json(google_error(
        503,
        "UNAVAILABLE",
        "The service is currently unavailable.",
    )))
    .await;
    assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn malformed_success_bodies_are_unavailable() {
    for body in [
        r#"{"dimensionHeaders":[{"name":"date"}],"metricHeaders":[{"name":"sess"#,
        r#"{"ok": true}"#,
        "<html>502 Bad Gateway</html>",
    ] {
        let err =
            read_error(ResponseTemplate::new(200).set_body_raw(body, "application/json")).await;
        assert!(
            matches!(err, AdapterError::Unavailable { .. }),
            "{body}: {err:?}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_host_is_unavailable() {
    // A port that was just free: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ctx = context_with_base(&format!("http://127.0.0.1:{port}/google-analytics"));
    let err = GoogleAnalytics
        .check(&ctx, &property_connection(json!({})))
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
    assert!(!err.to_string().contains(TOKEN));
}
