//! How Stripe's refusals are classified: each documented status and error object
//! (400/401/402/403/404/429/5xx), `Stripe-Should-Retry`, malformed bodies and
//! unreachable hosts; and that no key, not even Stripe's masked echo, reaches an error.

use junction_core::{Adapter, AdapterError};
use junction_stripe::Stripe;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::path};

use crate::support::*;

/// The error a `charges` read gets when Stripe answers with `response`.
async fn read_error(response: ResponseTemplate) -> AdapterError {
    let server = MockServer::start().await;
    Mock::given(path("/stripe/v1/charges"))
        .respond_with(response)
        .expect(1)
        .mount(&server)
        .await;
    read(&context(&server), "charges", None, None)
        .await
        .unwrap_err()
}

fn refusal(status: u16, body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

#[tokio::test]
async fn a_rate_limit_leaves_the_back_off_to_us() {
    let err = read_error(refusal(
        429,
        stripe_error(
            "invalid_request_error",
            Some("rate_limit"),
            "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
            None,
        ),
    ))
    .await;
    assert_eq!(err, AdapterError::RateLimited { retry_after: None });
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_lock_timeout_is_a_rate_limit_too() {
    let err = read_error(refusal(
        429,
        stripe_error(
            "invalid_request_error",
            Some("lock_timeout"),
            "This object cannot be accessed right now because another API request or Stripe process is currently accessing it.",
            None,
        ),
    ))
    .await;
    assert_eq!(err, AdapterError::RateLimited { retry_after: None });
}

#[tokio::test]
async fn an_invalid_key_is_final_and_never_quoted() {
    let err = read_error(refusal(
        401,
        stripe_error(
            "invalid_request_error",
            None,
            "Invalid API Key provided: sk_test_********************0000",
            None,
        ),
    ))
    .await;
    assert_eq!(
        err,
        AdapterError::Unauthorized {
            refreshable: false,
            message: "Invalid API Key provided: <redacted>".into()
        }
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn an_expired_key_is_final() {
    let err = read_error(refusal(
        401,
        stripe_error(
            "invalid_request_error",
            Some("api_key_expired"),
            "Expired API Key provided: sk_live_****1234",
            None,
        ),
    ))
    .await;
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
    assert!(!err.to_string().contains("sk_live"));
}

#[tokio::test]
async fn a_restricted_key_without_permission_needs_the_user() {
    let err = read_error(refusal(
        403,
        stripe_error(
            "invalid_request_error",
            None,
            "The provided key 'rk_live_*****abcd' does not have the required permissions for this endpoint on account 'acct_1'. Having the 'rak_charge_read' permission would allow this request to continue.",
            None,
        ),
    ))
    .await;
    let AdapterError::Unauthorized {
        refreshable,
        message,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(!refreshable);
    assert!(message.contains("rak_charge_read"), "{message}");
    assert!(!message.contains("rk_live"), "{message}");
}

#[tokio::test]
async fn a_bad_parameter_is_invalid_and_names_it() {
    let err = read_error(refusal(
        400,
        stripe_error(
            "invalid_request_error",
            Some("parameter_unknown"),
            "Received unknown parameter: expand",
            Some("expand"),
        ),
    ))
    .await;
    assert_eq!(
        err,
        AdapterError::invalid_field(
            "expand",
            "Received unknown parameter: expand (parameter_unknown)"
        )
    );
}

#[tokio::test]
async fn a_missing_object_is_a_provider_error() {
    let err = read_error(refusal(
        404,
        stripe_error(
            "invalid_request_error",
            Some("resource_missing"),
            "Unrecognized request URL (GET: /v1/charges).",
            None,
        ),
    ))
    .await;
    assert_eq!(
        err,
        AdapterError::Provider {
            status: 404,
            code: Some("resource_missing".into()),
            message: "Unrecognized request URL (GET: /v1/charges).".into()
        }
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn outages_are_unavailable() {
    for status in [500, 502, 503] {
        let err = read_error(refusal(
            status,
            stripe_error("api_error", None, "An unknown error occurred", None),
        ))
        .await;
        assert!(
            matches!(err, AdapterError::Unavailable { .. }),
            "{status}: {err:?}"
        );
        assert!(err.is_retryable());
    }
}

#[tokio::test]
async fn should_retry_true_makes_a_conflict_retryable() {
    let err = read_error(
        refusal(
            400,
            stripe_error(
                "invalid_request_error",
                None,
                "There is currently another in-progress request using this Idempotent Key.",
                None,
            ),
        )
        .insert_header("Stripe-Should-Retry", "true"),
    )
    .await;
    assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn should_retry_false_makes_a_server_error_final() {
    let err = read_error(
        refusal(
            500,
            stripe_error("api_error", None, "An unknown error occurred", None),
        )
        .insert_header("Stripe-Should-Retry", "false"),
    )
    .await;
    assert!(matches!(err, AdapterError::Invalid { .. }), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn malformed_success_bodies_are_unavailable() {
    for body in [
        r#"{"object":"list","data":[{"id":"ch_1""#,
        r#"{"object": "charge", "id": "ch_1"}"#,
        r#"{"object":"list","data":[{"object":"charge"}],"has_more":false,"url":"/v1/charges"}"#,
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
    let ctx = context_with_base(&format!("http://127.0.0.1:{port}/stripe"));
    let err = Stripe.check(&ctx, &connection()).await.unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
    assert!(!err.to_string().contains(KEY));
}

#[tokio::test]
async fn a_connection_without_a_key_is_invalid() {
    let server = MockServer::start().await;
    let mut conn = connection();
    conn.secrets.clear();
    let err = Stripe.check(&context(&server), &conn).await.unwrap_err();
    assert_eq!(err, AdapterError::invalid_field("secret_key", "is not set"));
    assert!(server.received_requests().await.unwrap().is_empty());
}
