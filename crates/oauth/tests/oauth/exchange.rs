//! Code exchange and refresh at the token endpoint: both client-auth styles, what
//! is sent, and the response quirks real providers have.

use chrono::Duration;
use junction_core::{RefreshBehaviour, TokenClientAuth};
use junction_oauth::{OAuthError, TokenSet};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path},
};

use crate::{
    CLIENT_ID, CLIENT_SECRET, EXPECTED_BASIC, REDIRECT_URI, client_for, default_spec, engine,
    form_of, now, only_request, spec,
};

/// Mounts a token endpoint answering `body` with 200.
async fn token_server(body: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(1)
        .mount(&server)
        .await;
    server
}

/// Exchanges a code against a server answering `body`, with the default spec.
async fn exchange(body: Value) -> TokenSet {
    let server = token_server(body).await;
    let spec = default_spec();
    engine()
        .exchange_code(
            &spec,
            &client_for(&server, &spec),
            "the-code",
            Some(&SecretString::from(
                "the-verifier-0123456789-0123456789-0123456789",
            )),
            now(),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn basic_header_auth_sends_credentials_in_the_header_only() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(header("authorization", EXPECTED_BASIC))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ya29.access", "refresh_token": "1//refresh", "expires_in": 3599,
            "scope": "openid https://www.googleapis.com/auth/analytics.readonly",
            "token_type": "Bearer", "id_token": "eyJ.jwt.sig"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let spec = default_spec();
    let verifier = SecretString::from("verifier-abcdefghijklmnopqrstuvwxyz-0123456789");
    let tokens = engine()
        .exchange_code(
            &spec,
            &client_for(&server, &spec),
            "4/0Acode",
            Some(&verifier),
            now(),
        )
        .await
        .unwrap();

    let form = form_of(&only_request(&server).await);
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], "4/0Acode");
    assert_eq!(form["redirect_uri"], REDIRECT_URI);
    assert_eq!(form["code_verifier"], verifier.expose_secret());
    assert!(!form.contains_key("client_id"), "{form:?}");
    assert!(!form.contains_key("client_secret"), "{form:?}");

    assert_eq!(tokens.access_token.expose_secret(), "ya29.access");
    assert_eq!(tokens.refresh_token.unwrap().expose_secret(), "1//refresh");
    assert_eq!(tokens.expires_at, Some(now() + Duration::seconds(3599)));
    assert_eq!(
        tokens.scopes,
        Some(vec![
            "openid".to_owned(),
            "https://www.googleapis.com/auth/analytics.readonly".to_owned()
        ])
    );
    assert_eq!(tokens.token_type.as_deref(), Some("Bearer"));
    assert!(tokens.extra.is_empty(), "id_token must not reach extra");
}

#[tokio::test]
async fn request_body_auth_sends_credentials_in_the_form() {
    let server = token_server(json!({"access_token": "at", "token_type": "bearer"})).await;
    let spec = spec(
        TokenClientAuth::RequestBody,
        false,
        RefreshBehaviour::Stable,
    );
    let tokens = engine()
        .exchange_code(&spec, &client_for(&server, &spec), "code-1", None, now())
        .await
        .unwrap();
    assert_eq!(tokens.access_token.expose_secret(), "at");
    assert!(tokens.refresh_token.is_none());

    let request = only_request(&server).await;
    assert!(request.headers.get("authorization").is_none());
    let form = form_of(&request);
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], "code-1");
    assert_eq!(form["redirect_uri"], REDIRECT_URI);
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(form["client_secret"], CLIENT_SECRET);
    assert!(!form.contains_key("code_verifier"));
}

#[tokio::test]
async fn a_pkce_spec_without_a_verifier_is_refused_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let spec = default_spec();
    let err = engine()
        .exchange_code(&spec, &client_for(&server, &spec), "code", None, now())
        .await
        .unwrap_err();
    assert!(matches!(err, OAuthError::Config(_)), "{err:?}");
}

#[tokio::test]
async fn expires_in_missing_or_as_a_string() {
    let tokens = exchange(json!({"access_token": "at"})).await;
    assert_eq!(tokens.expires_at, None);
    let tokens = exchange(json!({"access_token": "at", "expires_in": "7200"})).await;
    assert_eq!(tokens.expires_at, Some(now() + Duration::hours(2)));
    // Mailchimp: 0 means the token never expires.
    let tokens = exchange(json!({"access_token": "at", "expires_in": 0, "scope": null})).await;
    assert_eq!(tokens.expires_at, None);
    assert_eq!(tokens.scopes, None);
}

#[tokio::test]
async fn scopes_comma_or_space_separated_or_an_array_or_missing() {
    let expected = Some(vec![
        "crm.objects.contacts.read".to_owned(),
        "oauth".to_owned(),
    ]);
    for scope in [
        json!("crm.objects.contacts.read oauth"),
        json!("crm.objects.contacts.read,oauth"),
        json!(["crm.objects.contacts.read", "oauth"]),
    ] {
        let tokens = exchange(json!({"access_token": "at", "scope": scope})).await;
        assert_eq!(tokens.scopes, expected, "scope {scope}");
    }
    let tokens = exchange(json!({"access_token": "at"})).await;
    assert_eq!(tokens.scopes, None);
}

#[tokio::test]
async fn non_secret_extra_fields_are_kept() {
    // Kit's token response carries created_at.
    let tokens = exchange(json!({
        "access_token": "at", "refresh_token": "rt", "expires_in": 7200,
        "token_type": "Bearer", "scope": "public", "created_at": 1710000000
    }))
    .await;
    assert_eq!(
        Value::Object(tokens.extra),
        json!({"created_at": 1710000000})
    );
}

#[tokio::test]
async fn form_encoded_token_responses_are_understood() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "access_token=gho_16C7e42F292c6912E7710c838347Ae178B4a&scope=repo%2Cgist&token_type=bearer",
            "application/x-www-form-urlencoded",
        ))
        .mount(&server)
        .await;
    let spec = spec(TokenClientAuth::RequestBody, false, RefreshBehaviour::None);
    let tokens = engine()
        .exchange_code(&spec, &client_for(&server, &spec), "code", None, now())
        .await
        .unwrap();
    assert_eq!(
        tokens.access_token.expose_secret(),
        "gho_16C7e42F292c6912E7710c838347Ae178B4a"
    );
    assert_eq!(tokens.scopes, Some(vec!["repo".into(), "gist".into()]));
}

#[tokio::test]
async fn refresh_sends_the_refresh_grant() {
    let server = token_server(json!({"access_token": "new-at", "expires_in": 3600})).await;
    let spec = default_spec();
    let tokens = engine()
        .refresh(
            &spec,
            &client_for(&server, &spec),
            &SecretString::from("old-refresh"),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(tokens.access_token.expose_secret(), "new-at");
    assert!(tokens.refresh_token.is_none());
    let request = only_request(&server).await;
    assert_eq!(
        request.headers.get("authorization").unwrap(),
        EXPECTED_BASIC
    );
    let form = form_of(&request);
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], "old-refresh");
    assert!(!form.contains_key("code"));
}

#[tokio::test]
async fn tokens_that_cannot_be_refreshed_are_not_sent_to_the_provider() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let spec = spec(TokenClientAuth::RequestBody, false, RefreshBehaviour::None);
    let err = engine()
        .refresh(
            &spec,
            &client_for(&server, &spec),
            &SecretString::from("rt"),
            now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, OAuthError::Config(_)), "{err:?}");
}
