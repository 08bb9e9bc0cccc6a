//! Error answers of the token endpoint: each shape becomes the right [`OAuthError`],
//! and no secret (client secret, code, verifier, refresh token, a token in the
//! body) appears in any error's Display or Debug.

use std::time::Duration;

use junction_core::{ErrorCode, HasErrorCode};
use junction_oauth::{OAuthEngine, OAuthError};
use secrecy::SecretString;
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use crate::{CLIENT_SECRET, client_for, default_spec, engine, now};

const CODE: &str = "CODE-SECRET-4f1e";
const VERIFIER: &str = "VERIFIER-SECRET-0123456789abcdefghijklmnopqrstuvwxyz";
const REFRESH: &str = "REFRESH-SECRET-9d8c";
const BODY_TOKEN: &str = "BODY-TOKEN-SECRET-77aa";

/// Asserts that nothing secret leaks through an error, or its adapter form.
fn assert_no_secret(err: &OAuthError) {
    let adapter = err.clone().into_adapter_error();
    let text = format!("{err} | {err:?} | {adapter} | {adapter:?}");
    for secret in [CODE, VERIFIER, REFRESH, BODY_TOKEN, CLIENT_SECRET] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

async fn server_answering(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

/// The error of a code exchange and of a refresh against the same answer (they
/// must agree), checked for leaks.
async fn failure_of(template: ResponseTemplate) -> OAuthError {
    failure_with(engine(), template).await
}

async fn failure_with(engine: OAuthEngine, template: ResponseTemplate) -> OAuthError {
    let server = server_answering(template).await;
    let spec = default_spec();
    let client = client_for(&server, &spec);
    let exchange_err = engine
        .exchange_code(
            &spec,
            &client,
            CODE,
            Some(&SecretString::from(VERIFIER)),
            now(),
        )
        .await
        .unwrap_err();
    let refresh_err = engine
        .refresh(&spec, &client, &SecretString::from(REFRESH), now())
        .await
        .unwrap_err();
    assert_eq!(exchange_err, refresh_err);
    assert_no_secret(&exchange_err);
    exchange_err
}

#[tokio::test]
async fn invalid_grant_with_400() {
    let err = failure_of(ResponseTemplate::new(400).set_body_json(json!({
        "error": "invalid_grant", "error_description": "Token has been expired or revoked."
    })))
    .await;
    assert_eq!(
        err,
        OAuthError::InvalidGrant {
            description: Some("Token has been expired or revoked.".into())
        }
    );
    assert!(!err.is_retryable());
    assert_eq!(err.error_code(), ErrorCode::IntegrationNeedsReauth);
}

#[tokio::test]
async fn an_error_inside_a_200_is_an_error() {
    let err =
        failure_of(ResponseTemplate::new(200).set_body_json(json!({"error": "invalid_grant"})))
            .await;
    assert_eq!(err, OAuthError::InvalidGrant { description: None });

    let err = failure_of(ResponseTemplate::new(200).set_body_json(json!({
        "error": "bad_verification_code",
        "error_description": "The code passed is incorrect or expired."
    })))
    .await;
    assert_eq!(
        err,
        OAuthError::Provider {
            status: 200,
            error: "bad_verification_code".into(),
            description: Some("The code passed is incorrect or expired.".into())
        }
    );
}

#[tokio::test]
async fn invalid_client_with_401() {
    let err = failure_of(
        ResponseTemplate::new(401)
            .set_body_json(json!({"error": "invalid_client", "error_description": "Unauthorized"})),
    )
    .await;
    assert_eq!(
        err,
        OAuthError::Provider {
            status: 401,
            error: "invalid_client".into(),
            description: Some("Unauthorized".into())
        }
    );
    assert!(!err.is_retryable());
    assert_eq!(err.error_code(), ErrorCode::ProviderRejected);
}

#[tokio::test]
async fn server_errors_are_unavailable() {
    let err = failure_of(
        ResponseTemplate::new(503).set_body_string(format!("<html>down {BODY_TOKEN}</html>")),
    )
    .await;
    assert_eq!(err, OAuthError::Unavailable("HTTP 503".into()));
    assert!(err.is_retryable());
    assert_eq!(err.error_code(), ErrorCode::ProviderUnavailable);

    let err = failure_of(ResponseTemplate::new(429)).await;
    assert!(matches!(err, OAuthError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn malformed_json_is_malformed() {
    let err = failure_of(ResponseTemplate::new(200).set_body_raw(
        format!(r#"{{"access_token": "{BODY_TOKEN}", "expires_in": "#),
        "application/json",
    ))
    .await;
    assert!(matches!(err, OAuthError::Malformed(_)), "{err:?}");
    assert_eq!(err.error_code(), ErrorCode::ProviderError);
}

#[tokio::test]
async fn a_non_json_body_is_malformed() {
    let err = failure_of(ResponseTemplate::new(200).set_body_raw(
        format!("<html><body>access_token={BODY_TOKEN}</body></html>"),
        "text/html",
    ))
    .await;
    assert!(matches!(err, OAuthError::Malformed(_)), "{err:?}");
}

#[tokio::test]
async fn a_response_without_access_token_is_malformed() {
    let err = failure_of(ResponseTemplate::new(200).set_body_json(json!({
        "refresh_token": BODY_TOKEN, "expires_in": 3600
    })))
    .await;
    assert_eq!(
        err,
        OAuthError::Malformed("the response has no access_token".into())
    );
    let err = failure_of(ResponseTemplate::new(200).set_body_json(json!({
        "access_token": BODY_TOKEN, "expires_in": BODY_TOKEN
    })))
    .await;
    assert!(matches!(err, OAuthError::Malformed(_)), "{err:?}");
}

#[tokio::test]
async fn timeouts_are_unavailable() {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let err = failure_with(
        OAuthEngine::with_client(http),
        ResponseTemplate::new(200)
            .set_body_json(json!({"access_token": BODY_TOKEN}))
            .set_delay(Duration::from_secs(3)),
    )
    .await;
    assert!(
        matches!(&err, OAuthError::Unavailable(m) if m.contains("timed out")),
        "{err:?}"
    );
}

#[tokio::test]
async fn unreachable_endpoints_are_unavailable() {
    // A port that was just free: nothing listens there. (A dropped MockServer
    // would not do: wiremock pools its servers and another test may get it.)
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let spec = default_spec();
    let mut client = client_for(&MockServer::start().await, &spec);
    client.token_url = url::Url::parse(&format!("http://127.0.0.1:{port}/token")).unwrap();
    let err = engine()
        .refresh(&spec, &client, &SecretString::from(REFRESH), now())
        .await
        .unwrap_err();
    assert!(matches!(err, OAuthError::Unavailable(_)), "{err:?}");
    assert_no_secret(&err);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/elsewhere", server.uri())),
        )
        .mount(&server)
        .await;
    Mock::given(path("/elsewhere"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"access_token": "x"})))
        .expect(0)
        .mount(&server)
        .await;
    let spec = default_spec();
    let err = engine()
        .refresh(
            &spec,
            &client_for(&server, &spec),
            &SecretString::from(REFRESH),
            now(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, OAuthError::Provider { status: 307, .. }),
        "{err:?}"
    );
}
