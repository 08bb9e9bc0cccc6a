//! The long-lived token exchange (Meta's `grant_type=fb_exchange_token`): done right
//! after the code exchange, sent as the spec declares, and its "token invalid"
//! codes read as a gone grant.

use std::time::Duration as StdDuration;

use chrono::Duration;
use junction_core::{
    OAuth2Spec, RefreshBehaviour, TokenClientAuth,
    spec::{TokenExchangeMethod, TokenExchangeSpec},
};
use junction_oauth::OAuthError;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path, query_param},
};

use crate::{CLIENT_ID, CLIENT_SECRET, client_for, engine, form_of, now, spec};

/// Meta's long-lived token lifetime as the Graph API reports it (about 60 days).
pub const LONG_LIVED_SECS: i64 = 5_183_944;

/// A spec shaped like Meta's: client credentials in the body, no PKCE, no refresh
/// tokens, and a GET `fb_exchange_token` exchange renewed a week ahead.
pub fn exchange_spec(method: TokenExchangeMethod) -> OAuth2Spec {
    OAuth2Spec {
        long_lived_exchange: Some(TokenExchangeSpec {
            grant_type: "fb_exchange_token",
            token_param: "fb_exchange_token",
            method,
            renew_before: StdDuration::from_secs(7 * 24 * 3600),
            invalid_token_codes: vec!["190"],
        }),
        ..spec(TokenClientAuth::RequestBody, false, RefreshBehaviour::None)
    }
}

/// Mounts the code exchange answering a short-lived token.
async fn mount_code_exchange(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "EAAshort", "token_type": "bearer", "expires_in": 5400
        })))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn the_code_exchange_is_followed_by_the_long_lived_exchange() {
    let server = MockServer::start().await;
    mount_code_exchange(&server).await;
    Mock::given(method("GET"))
        .and(path("/token"))
        .and(query_param("grant_type", "fb_exchange_token"))
        .and(query_param("fb_exchange_token", "EAAshort"))
        .and(query_param("client_id", CLIENT_ID))
        .and(query_param("client_secret", CLIENT_SECRET))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "EAAlong", "token_type": "bearer", "expires_in": LONG_LIVED_SECS
        })))
        .expect(1)
        .mount(&server)
        .await;
    let spec = exchange_spec(TokenExchangeMethod::Get);
    let tokens = engine()
        .exchange_code(&spec, &client_for(&server, &spec), "the-code", None, now())
        .await
        .unwrap();
    assert_eq!(tokens.access_token.expose_secret(), "EAAlong");
    assert_eq!(
        tokens.expires_at,
        Some(now() + Duration::seconds(LONG_LIVED_SECS))
    );
    assert!(tokens.refresh_token.is_none());
    // The code exchange itself was the usual form POST.
    let requests = server.received_requests().await.unwrap();
    let code_request = requests
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .unwrap();
    let form = form_of(code_request);
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], "the-code");
}

#[tokio::test]
async fn a_post_exchange_sends_a_form_with_the_client_credentials() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "EAAlong", "expires_in": LONG_LIVED_SECS
        })))
        .expect(1)
        .mount(&server)
        .await;
    let spec = exchange_spec(TokenExchangeMethod::Post);
    let tokens = engine()
        .exchange_token(
            &spec,
            &client_for(&server, &spec),
            &SecretString::from("EAAcurrent"),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(tokens.access_token.expose_secret(), "EAAlong");
    let requests = server.received_requests().await.unwrap();
    let form = form_of(&requests[0]);
    assert_eq!(form["grant_type"], "fb_exchange_token");
    assert_eq!(form["fb_exchange_token"], "EAAcurrent");
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(form["client_secret"], CLIENT_SECRET);
}

#[tokio::test]
async fn an_invalid_token_code_is_a_gone_grant_and_other_errors_stay() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/token"))
        .and(query_param("fb_exchange_token", "EAAdead"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "Error validating access token: The session has been invalidated.",
            "type": "OAuthException", "code": 190, "error_subcode": 460,
            "fbtrace_id": "AbCdEf"
        }})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/token"))
        .and(query_param("fb_exchange_token", "EAAbusy"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "Invalid parameter", "type": "OAuthException", "code": 100,
            "fbtrace_id": "AbCdEf"
        }})))
        .mount(&server)
        .await;
    let spec = exchange_spec(TokenExchangeMethod::Get);
    let client = client_for(&server, &spec);
    let err = engine()
        .exchange_token(&spec, &client, &SecretString::from("EAAdead"), now())
        .await
        .unwrap_err();
    assert!(matches!(err, OAuthError::InvalidGrant { .. }), "{err:?}");
    let err = engine()
        .exchange_token(&spec, &client, &SecretString::from("EAAbusy"), now())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OAuthError::Provider { error, .. } if error == "100"),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("EAAbusy"));
}

#[tokio::test]
async fn a_failed_long_lived_exchange_fails_the_connect() {
    let server = MockServer::start().await;
    mount_code_exchange(&server).await;
    Mock::given(method("GET"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let spec = exchange_spec(TokenExchangeMethod::Get);
    let err = engine()
        .exchange_code(&spec, &client_for(&server, &spec), "the-code", None, now())
        .await
        .unwrap_err();
    assert!(matches!(err, OAuthError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn a_spec_without_an_exchange_refuses_to_exchange() {
    let server = MockServer::start().await;
    let spec = crate::default_spec();
    let err = engine()
        .exchange_token(
            &spec,
            &client_for(&server, &spec),
            &SecretString::from("t"),
            now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, OAuthError::Config(_)), "{err:?}");
}
