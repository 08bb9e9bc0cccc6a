//! Graph errors and throttling signals: each code and usage header becomes the
//! `AdapterError` the retry policy needs, with the wait Meta announced.

use std::time::Duration;

use junction_core::{Adapter, AdapterError, RateBudget, RateLimiter, http::RateLimitInfo};
use junction_meta_ads::MetaAds;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use crate::support::{INSIGHTS_PATH, connection, context, now, read, row};

fn graph_error(code: i64, subcode: Option<i64>, message: &str) -> Value {
    json!({"error": {"message": message, "type": "OAuthException", "code": code,
                     "error_subcode": subcode, "fbtrace_id": "A1b2C3d4"}})
}

async fn refused(status: u16, body: Value, headers: &[(&str, Value)]) -> AdapterError {
    let server = MockServer::start().await;
    let mut template = ResponseTemplate::new(status).set_body_json(body);
    for (name, value) in headers {
        template = template.insert_header(*name, value.to_string().as_str());
    }
    Mock::given(method("GET"))
        .and(path(INSIGHTS_PATH))
        .respond_with(template)
        .mount(&server)
        .await;
    read(&server, None).await.unwrap_err()
}

#[tokio::test]
async fn code_80004_waits_for_the_business_use_case_to_regain_access() {
    let err = refused(
        400,
        graph_error(
            80004,
            Some(2446079),
            "There have been too many calls to this ad-account. Wait a bit and try again.",
        ),
        &[(
            "x-business-use-case-usage",
            json!({"1234567890": [{"type": "ads_management", "call_count": 100,
                "total_cputime": 12, "total_time": 30, "estimated_time_to_regain_access": 14}]}),
        )],
    )
    .await;
    assert_eq!(
        err,
        AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(14 * 60))
        }
    );
    assert_eq!(
        err.retry_not_before(now()),
        Some(now() + chrono::Duration::minutes(14))
    );
}

#[tokio::test]
async fn code_17_is_rate_limited_even_with_http_400_and_no_headers() {
    let err = refused(
        400,
        graph_error(17, Some(2446079), "User request limit reached"),
        &[],
    )
    .await;
    assert_eq!(err, AdapterError::RateLimited { retry_after: None });
}

#[tokio::test]
async fn code_613_waits_for_the_ad_account_reset() {
    let err = refused(
        400,
        graph_error(
            613,
            Some(1487742),
            "Calls to this api have exceeded the rate limit.",
        ),
        &[(
            "x-ad-account-usage",
            json!({"acc_id_util_pct": 100, "reset_time_duration": 240,
                   "ads_api_access_tier": "development_access"}),
        )],
    )
    .await;
    assert_eq!(
        err,
        AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(240))
        }
    );
}

#[tokio::test]
async fn code_4_is_the_apps_quota() {
    let err = refused(
        403,
        graph_error(4, None, "(#4) Application request limit reached"),
        &[(
            "x-business-use-case-usage",
            json!({"99": [{"type": "ads_insights", "call_count": 100,
                           "estimated_time_to_regain_access": 30}]}),
        )],
    )
    .await;
    assert_eq!(
        err,
        AdapterError::QuotaExhausted {
            resets_at: Some(now() + chrono::Duration::minutes(30))
        }
    );
}

#[tokio::test]
async fn code_190_needs_a_reconnect() {
    let err = refused(
        400,
        graph_error(190, Some(460), "Error validating access token: The session has been invalidated because the user changed their password."),
        &[],
    )
    .await;
    let AdapterError::Unauthorized {
        refreshable,
        message,
    } = err
    else {
        panic!("{err:?}")
    };
    assert!(!refreshable);
    assert!(message.contains("fbtrace_id A1b2C3d4"), "{message}");
    assert!(!message.contains("EAAG"), "{message}");
}

#[tokio::test]
async fn code_100_is_invalid_and_names_the_account_when_it_is_the_account() {
    let err = refused(
        400,
        graph_error(100, Some(33), "Unsupported get request. Object with ID 'act_1234567890' does not exist, cannot be loaded due to missing permissions, or does not support this operation."),
        &[],
    )
    .await;
    assert!(
        matches!(&err, AdapterError::Invalid { field: Some(f), .. } if f == "ad_account_id"),
        "{err:?}"
    );
    let err = refused(
        400,
        graph_error(100, None, "(#100) fields must be valid"),
        &[],
    )
    .await;
    assert!(
        matches!(&err, AdapterError::Invalid { field: None, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn transient_errors_are_unavailable() {
    let mut body = graph_error(
        2,
        None,
        "An unexpected error has occurred. Please retry your request later.",
    );
    body["error"]["is_transient"] = json!(true);
    let err = refused(500, body, &[]).await;
    assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
    let err = refused(200, json!("not a page"), &[]).await;
    assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
}

/// A limiter that remembers what it was told.
#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<RateLimitInfo>>);

#[async_trait::async_trait]
impl RateLimiter for Recorder {
    async fn acquire(&self, _: &str, _: &RateBudget) -> Result<(), AdapterError> {
        Ok(())
    }
    fn observe(&self, _: &str, info: &RateLimitInfo) {
        self.0.lock().unwrap().push(info.clone());
    }
}

#[tokio::test]
async fn usage_headers_of_a_success_reach_the_limiter() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(INSIGHTS_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": [row("1", "2026-03-30", "1.00", "0", "0")]}))
                .insert_header(
                    "x-business-use-case-usage",
                    json!({"1234567890": [{"type": "ads_insights", "call_count": 87,
                        "total_cputime": 40, "total_time": 52,
                        "estimated_time_to_regain_access": 0}]})
                    .to_string()
                    .as_str(),
                ),
        )
        .mount(&server)
        .await;
    let recorder = std::sync::Arc::new(Recorder::default());
    let mut ctx = context(&server);
    ctx.limiter = recorder.clone();
    MetaAds
        .read(
            &ctx,
            &connection(),
            &crate::support::read_request(None, None),
        )
        .await
        .unwrap();
    let seen = recorder.0.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|info| info.limit == Some(100) && info.remaining == Some(13)),
        "{seen:?}"
    );
}
