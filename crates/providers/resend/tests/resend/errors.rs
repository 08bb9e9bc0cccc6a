//! How Resend's refusals are classified: each documented error `name` and status,
//! the rate-limit headers on a 429 and on success, quotas, outages, malformed
//! bodies, the edge's User-Agent refusal and unreachable hosts.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use junction_core::{
    Adapter, AdapterError, RateLimiter, ReadRequest, http::RateLimitInfo, spec::RateBudget,
};
use junction_resend::Resend;
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use crate::support::*;

/// The error `check` gets when `GET /domains` answers with `response`.
async fn check_error(response: ResponseTemplate) -> AdapterError {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/resend/domains"))
        .respond_with(response)
        .expect(1)
        .mount(&server)
        .await;
    Resend
        .check(&context(&server), &connection(json!({})))
        .await
        .unwrap_err()
}

/// The error `send_email` gets when `POST /emails` answers with `response`.
async fn send_error(response: ResponseTemplate) -> AdapterError {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/resend/emails"))
        .respond_with(response)
        .expect(1)
        .mount(&server)
        .await;
    Resend
        .act(
            &context(&server),
            &connection(json!({"from": "alerts@acme.example"})),
            "send_email",
            &json!({"to": "ops@acme.example", "subject": "S", "text": "t"}),
            Some("key-1"),
        )
        .await
        .unwrap_err()
}

fn resend(status: u16, name: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(resend_error(status, name, message))
}

#[tokio::test]
async fn rejected_keys_are_permanently_unauthorized() {
    for (status, name, message) in [
        (
            401,
            "missing_api_key",
            "Missing API key in the authorization header.",
        ),
        (403, "invalid_api_key", "API key is invalid"),
        (
            401,
            "restricted_api_key",
            "This API key is restricted to only send emails.",
        ),
    ] {
        let err = check_error(resend(status, name, message)).await;
        let AdapterError::Unauthorized {
            refreshable,
            message,
        } = &err
        else {
            panic!("{name}: {err:?}")
        };
        assert!(!refreshable, "{name}");
        assert!(!message.contains(API_KEY), "{message}");
        if name == "restricted_api_key" {
            assert!(message.contains("Full access"), "{message}");
        }
    }
}

#[tokio::test]
async fn a_rate_limit_waits_per_retry_after() {
    let err = check_error(
        resend(
            429,
            "rate_limit_exceeded",
            "Too many requests. You can only make 2 requests per second.",
        )
        .insert_header("ratelimit-limit", "2")
        .insert_header("ratelimit-remaining", "0")
        .insert_header("ratelimit-reset", "1")
        .insert_header("retry-after", "1"),
    )
    .await;
    assert_eq!(
        err,
        AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(1))
        }
    );
}

#[tokio::test]
async fn without_retry_after_the_reset_header_says_when() {
    let err = check_error(
        resend(429, "rate_limit_exceeded", "Too many requests.")
            .insert_header("ratelimit-remaining", "0")
            .insert_header("ratelimit-reset", "2"),
    )
    .await;
    assert_eq!(
        err,
        AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(2))
        }
    );
}

#[tokio::test]
async fn used_up_quotas_are_quota_exhausted() {
    let err = send_error(resend(
        429,
        "daily_quota_exceeded",
        "You have reached your daily email sending quota.",
    ))
    .await;
    assert_eq!(err, AdapterError::QuotaExhausted { resets_at: None });
    let err = send_error(
        resend(
            429,
            "monthly_quota_exceeded",
            "You have reached your monthly email sending quota.",
        )
        .insert_header("retry-after", "3600"),
    )
    .await;
    assert_eq!(
        err,
        AdapterError::QuotaExhausted {
            resets_at: Some(now() + chrono::Duration::hours(1))
        }
    );
}

#[tokio::test]
async fn validation_errors_are_invalid_input_naming_the_field() {
    let cases = [
        (
            resend(
                422,
                "validation_error",
                "The `to` field must be a `string`.",
            ),
            Some("to"),
        ),
        (
            resend(
                403,
                "validation_error",
                "The acme.example domain is not verified. Please, add and verify your domain on https://resend.com/domains",
            ),
            Some("from"),
        ),
        (
            resend(422, "invalid_from_address", "Invalid `from` field."),
            Some("from"),
        ),
        (
            resend(
                409,
                "invalid_idempotent_request",
                "Same idempotency key used with a different request payload.",
            ),
            Some("idempotency_key"),
        ),
        (
            resend(
                400,
                "invalid_idempotency_key",
                "The key must be between 1-256 chars.",
            ),
            Some("idempotency_key"),
        ),
        (
            resend(422, "missing_required_field", "Missing required field."),
            None,
        ),
        (
            resend(
                422,
                "invalid_attachment",
                "Attachment must have either a `content` or `path`.",
            ),
            Some("content"),
        ),
    ];
    for (response, field) in cases {
        let err = send_error(response).await;
        match &err {
            AdapterError::Invalid { field: got, .. } => {
                assert_eq!(got.as_deref(), field, "{err:?}")
            }
            other => panic!("{other:?}"),
        }
        assert!(!err.is_retryable());
    }
}

#[tokio::test]
async fn a_concurrent_idempotent_request_is_retried() {
    let err = send_error(resend(
        409,
        "concurrent_idempotent_requests",
        "Same idempotency key used while original request is still in progress.",
    ))
    .await;
    assert_eq!(
        err,
        AdapterError::Provider {
            status: 409,
            code: Some("concurrent_idempotent_requests".into()),
            message: "Same idempotency key used while original request is still in progress."
                .into()
        }
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn other_refusals_keep_resends_name_and_message() {
    let err = send_error(resend(
        451,
        "security_error",
        "We may have found a security issue with the request.",
    ))
    .await;
    assert_eq!(
        err,
        AdapterError::Provider {
            status: 451,
            code: Some("security_error".into()),
            message: "We may have found a security issue with the request.".into()
        }
    );
    assert!(!err.is_retryable());
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/resend/emails/missing"))
        .respond_with(resend(404, "not_found", "Email not found"))
        .mount(&server)
        .await;
    let err = Resend
        .act(
            &context(&server),
            &connection(json!({})),
            "get_email",
            &json!({"email_id": "missing"}),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, AdapterError::Provider { status: 404, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_edges_user_agent_refusal_is_a_provider_error() {
    let err = check_error(ResponseTemplate::new(403).set_body_string("error code: 1010")).await;
    assert_eq!(
        err,
        AdapterError::Provider {
            status: 403,
            code: None,
            message: "error code: 1010".into()
        }
    );
}

#[tokio::test]
async fn outages_and_broken_bodies_are_unavailable() {
    for response in [
        resend(
            500,
            "application_error",
            "An unexpected error occurred, please try again later.",
        ),
        resend(
            500,
            "internal_server_error",
            "An unexpected error occurred.",
        ),
        ResponseTemplate::new(503).set_body_string("<html>Service Unavailable</html>"),
        ResponseTemplate::new(200).set_body_raw(
            b"{\"object\":\"list\",\"data\":[".to_vec(),
            "application/json",
        ),
        ResponseTemplate::new(200).set_body_json(json!({"object": "list"})),
    ] {
        let err = check_error(response).await;
        assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
        assert!(err.is_retryable());
    }
}

#[tokio::test]
async fn an_unreachable_host_is_unavailable() {
    let ctx = context_with_base("http://127.0.0.1:9/resend");
    let err = Resend
        .read(
            &ctx,
            &connection(json!({})),
            &ReadRequest {
                stream: "domains".into(),
                cursor: None,
                page_size: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
    assert!(!err.to_string().contains(API_KEY));
}

/// Records what the adapter tells the shared limiter.
#[derive(Default)]
struct Recorder(Mutex<Vec<(String, RateLimitInfo)>>);

#[async_trait]
impl RateLimiter for Recorder {
    async fn acquire(&self, _provider: &str, budget: &RateBudget) -> Result<(), AdapterError> {
        assert_eq!((budget.requests, budget.per), (2, Duration::from_secs(1)));
        Ok(())
    }

    fn observe(&self, provider: &str, info: &RateLimitInfo) {
        self.0
            .lock()
            .unwrap()
            .push((provider.to_owned(), info.clone()));
    }
}

#[tokio::test]
async fn rate_limit_headers_of_successes_reach_the_limiter() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/resend/domains"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(list(false, vec![]))
                .insert_header("ratelimit-limit", "2")
                .insert_header("ratelimit-remaining", "0")
                .insert_header("ratelimit-reset", "1"),
        )
        .mount(&server)
        .await;
    let recorder = Arc::new(Recorder::default());
    let mut ctx = context(&server);
    ctx.limiter = recorder.clone();
    Resend.check(&ctx, &connection(json!({}))).await.unwrap();
    let seen = recorder.0.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, "resend");
    assert_eq!(seen[0].1.limit, Some(2));
    assert!(seen[0].1.is_exhausted());
    assert_eq!(seen[0].1.wait_hint(now()), Some(Duration::from_secs(1)));
}
