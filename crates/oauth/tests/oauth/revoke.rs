//! RFC 7009 revocation: what is posted, which answers count as success.

use std::collections::BTreeMap;

use junction_core::{RefreshBehaviour, TokenClientAuth};
use junction_oauth::{ACCESS_TOKEN, ClientConfig, OAuthError, REFRESH_TOKEN, TokenTypeHint};
use secrecy::SecretString;
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use crate::{
    CLIENT_ID, CLIENT_SECRET, EXPECTED_BASIC, client_for, default_spec, engine, form_of,
    only_request, spec,
};

async fn revoke_server(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn posts_the_token_and_its_hint_with_client_auth() {
    let server = revoke_server(ResponseTemplate::new(200)).await;
    let spec = default_spec();
    engine()
        .revoke(
            &spec,
            &client_for(&server, &spec),
            &SecretString::from("1//refresh"),
        )
        .await
        .unwrap();
    let request = only_request(&server).await;
    assert_eq!(
        request.headers.get("authorization").unwrap(),
        EXPECTED_BASIC
    );
    let form = form_of(&request);
    assert_eq!(form["token"], "1//refresh");
    assert_eq!(form["token_type_hint"], "refresh_token");
    assert_eq!(form.len(), 2, "{form:?}");
}

#[tokio::test]
async fn request_body_auth_and_an_explicit_hint() {
    let server = revoke_server(ResponseTemplate::new(204)).await;
    let spec = spec(
        TokenClientAuth::RequestBody,
        false,
        RefreshBehaviour::Stable,
    );
    engine()
        .revoke_with_hint(
            &spec,
            &client_for(&server, &spec),
            &SecretString::from("at-1"),
            TokenTypeHint::AccessToken,
        )
        .await
        .unwrap();
    let request = only_request(&server).await;
    assert!(request.headers.get("authorization").is_none());
    let form = form_of(&request);
    assert_eq!(form["token"], "at-1");
    assert_eq!(form["token_type_hint"], "access_token");
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(form["client_secret"], CLIENT_SECRET);
}

#[tokio::test]
async fn nothing_to_do_without_a_revoke_url() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let mut spec = default_spec();
    spec.revoke_url = None;
    let client = ClientConfig {
        revoke_url: None,
        ..client_for(&server, &spec)
    };
    engine()
        .revoke(&spec, &client, &SecretString::from("t"))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_already_revoked_token_is_success() {
    for error in ["invalid_token", "invalid_grant"] {
        let server = revoke_server(ResponseTemplate::new(400).set_body_json(
            json!({"error": error, "error_description": "Token expired or revoked"}),
        ))
        .await;
        let spec = default_spec();
        engine()
            .revoke(&spec, &client_for(&server, &spec), &SecretString::from("t"))
            .await
            .unwrap_or_else(|e| panic!("{error}: {e:?}"));
    }
}

#[tokio::test]
async fn other_refusals_and_outages_are_errors() {
    let spec = default_spec();
    let server = revoke_server(
        ResponseTemplate::new(400).set_body_json(json!({"error": "unsupported_token_type"})),
    )
    .await;
    let err = engine()
        .revoke(&spec, &client_for(&server, &spec), &SecretString::from("t"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        OAuthError::Provider {
            status: 400,
            error: "unsupported_token_type".into(),
            description: None
        }
    );
    let server = revoke_server(ResponseTemplate::new(503)).await;
    let err = engine()
        .revoke(&spec, &client_for(&server, &spec), &SecretString::from("t"))
        .await
        .unwrap_err();
    assert!(matches!(err, OAuthError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn revoke_credentials_prefers_the_refresh_token() {
    let spec = default_spec();
    let mut credentials = BTreeMap::from([
        (ACCESS_TOKEN.to_owned(), SecretString::from("at")),
        (REFRESH_TOKEN.to_owned(), SecretString::from("rt")),
    ]);
    let server = revoke_server(ResponseTemplate::new(200)).await;
    engine()
        .revoke_credentials(&spec, &client_for(&server, &spec), &credentials)
        .await
        .unwrap();
    let form = form_of(&only_request(&server).await);
    assert_eq!(
        (form["token"].as_str(), form["token_type_hint"].as_str()),
        ("rt", "refresh_token")
    );

    credentials.remove(REFRESH_TOKEN);
    let server = revoke_server(ResponseTemplate::new(200)).await;
    engine()
        .revoke_credentials(&spec, &client_for(&server, &spec), &credentials)
        .await
        .unwrap();
    let form = form_of(&only_request(&server).await);
    assert_eq!(
        (form["token"].as_str(), form["token_type_hint"].as_str()),
        ("at", "access_token")
    );

    let server =
        revoke_server(ResponseTemplate::new(200).set_delay(std::time::Duration::ZERO)).await;
    engine()
        .revoke_credentials(&spec, &client_for(&server, &spec), &BTreeMap::new())
        .await
        .unwrap();
    assert!(server.received_requests().await.unwrap().is_empty());
}
