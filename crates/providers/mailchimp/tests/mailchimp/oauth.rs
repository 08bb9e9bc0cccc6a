//! The `mailchimp-oauth` entry against wiremock: requests carry the access token as
//! `Authorization: Bearer` (never Basic auth with a key), the data center comes from
//! one metadata lookup per token (`Authorization: OAuth`), and a failed lookup is a
//! clear error that is not remembered.

use junction_core::{Adapter, AdapterError, Connection, IntegrationId, WorkspaceId};
use junction_mailchimp::{AUDIENCES, Mailchimp, UPSERT_CONTACT};
use secrecy::SecretString;
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path, path_regex},
};

use crate::support::*;

const TOKEN: &str = "6c1f0e2a9b8d7c6e5f4a3b2c1d0e9f8a";

/// An OAuth connection holding `token` (no API key).
pub fn oauth_connection(token: &str) -> Connection {
    Connection {
        workspace_id: WorkspaceId::new(),
        integration_id: IntegrationId::new(),
        config: serde_json::Map::new(),
        secrets: Default::default(),
        access_token: Some(SecretString::from(token.to_owned())),
        token_expires_at: None,
    }
}

fn metadata_body(server: &MockServer) -> serde_json::Value {
    json!({
        "dc": "us21",
        "role": "owner",
        "accountname": "Example Co",
        "user_id": 42,
        "login": {"email": "owner@example.com", "avatar": null, "login_id": 42, "login_name": "owner", "login_email": "owner@example.com"},
        "login_url": "https://login.mailchimp.com",
        "api_endpoint": format!("{}/mailchimp-oauth", server.uri())
    })
}

fn oauth_context(server: &MockServer) -> junction_core::Context {
    context_with_base(&format!("{}/mailchimp-oauth", server.uri()))
}

#[tokio::test]
async fn api_calls_carry_the_bearer_token_and_the_metadata_is_looked_up_once() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/mailchimp-oauth/oauth2/metadata"))
        .and(header("authorization", format!("OAuth {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(metadata_body(&server)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/mailchimp-oauth/3.0/ping"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"health_status": "Everything's Chimpy!"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/mailchimp-oauth/3.0/lists"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "lists": [list("a1", "One", 10, 2, 1)], "total_items": 1, "_links": []
        })))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path_regex(
            "^/mailchimp-oauth/3.0/lists/a1/members/[0-9a-f]{32}$",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(member(
            "a1",
            "new@example.com",
            "2026-03-15T10:00:00+00:00",
            "2026-03-15T10:00:00+00:00",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let adapter = Mailchimp::oauth();
    let ctx = oauth_context(&server);
    let conn = oauth_connection(TOKEN);

    let health = adapter.check(&ctx, &conn).await.unwrap();
    assert_eq!(
        health.account.as_deref(),
        Some("Example Co (owner@example.com)")
    );
    assert_eq!(health.details["data_center"], "us21");
    for _ in 0..2 {
        let page = adapter
            .read(&ctx, &conn, &read_request(AUDIENCES, None, None))
            .await
            .unwrap();
        assert_eq!(page.records.len(), 1);
    }
    adapter
        .act(
            &ctx,
            &conn,
            UPSERT_CONTACT,
            &json!({"audience_id": "a1", "email_address": "new@example.com"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(adapter.metadata_cache().len(), 1);

    let requests = server.received_requests().await.unwrap();
    let metadata_calls = requests
        .iter()
        .filter(|r| r.url.path().ends_with("/oauth2/metadata"))
        .count();
    assert_eq!(metadata_calls, 1, "one lookup for every call of one token");
    for request in requests.iter().filter(|r| r.url.path().contains("/3.0/")) {
        let authorization = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert_eq!(authorization, format!("Bearer {TOKEN}"), "{}", request.url);
        assert!(!authorization.starts_with("Basic"));
        assert!(!request.url.as_str().contains(TOKEN));
    }
}

#[tokio::test]
async fn each_token_has_its_own_lookup() {
    let server = MockServer::start().await;
    for token in ["token-one", "token-two"] {
        let mut body = metadata_body(&server);
        body["dc"] = json!(if token == "token-one" { "us1" } else { "us19" });
        Mock::given(method("GET"))
            .and(path("/mailchimp-oauth/oauth2/metadata"))
            .and(header("authorization", format!("OAuth {token}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/mailchimp-oauth/3.0/ping"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"health_status": "ok"})))
        .mount(&server)
        .await;
    let adapter = Mailchimp::oauth();
    let ctx = oauth_context(&server);
    let one = adapter
        .check(&ctx, &oauth_connection("token-one"))
        .await
        .unwrap();
    let two = adapter
        .check(&ctx, &oauth_connection("token-two"))
        .await
        .unwrap();
    assert_eq!(one.details["data_center"], "us1");
    assert_eq!(two.details["data_center"], "us19");
    assert_eq!(adapter.metadata_cache().len(), 2);
}

#[tokio::test]
async fn a_refused_lookup_is_unauthorized_for_good_and_not_remembered() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/mailchimp-oauth/oauth2/metadata"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_token",
            "error_description": "The access token provided is invalid."
        })))
        .expect(2)
        .mount(&server)
        .await;
    let adapter = Mailchimp::oauth();
    let ctx = oauth_context(&server);
    let conn = oauth_connection(TOKEN);
    for _ in 0..2 {
        let err = adapter
            .read(&ctx, &conn, &read_request(AUDIENCES, None, None))
            .await
            .unwrap_err();
        match &err {
            AdapterError::Unauthorized {
                refreshable: false,
                message,
            } => assert!(message.contains("data center"), "{message}"),
            other => panic!("expected a non-refreshable Unauthorized, got {other:?}"),
        }
        assert!(!err.to_string().contains(TOKEN), "{err}");
    }
    assert!(adapter.metadata_cache().is_empty());
    // No API call went out without a data center.
    let requests = server.received_requests().await.unwrap();
    assert!(requests.iter().all(|r| !r.url.path().contains("/3.0/")));
}

#[tokio::test]
async fn other_lookup_failures_are_classified() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/mailchimp-oauth/oauth2/metadata"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream down"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/mailchimp-oauth/oauth2/metadata"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"dc": "us21/../x"})))
        .mount(&server)
        .await;
    let adapter = Mailchimp::oauth();
    let ctx = oauth_context(&server);
    let conn = oauth_connection(TOKEN);
    let err = adapter.check(&ctx, &conn).await.unwrap_err();
    assert!(
        matches!(err, AdapterError::Unavailable { .. }),
        "a 503 is worth a retry: {err:?}"
    );
    let err = adapter.check(&ctx, &conn).await.unwrap_err();
    match &err {
        AdapterError::Provider { message, .. } => {
            assert!(message.contains("metadata"), "{message}")
        }
        other => panic!("expected a Provider error, got {other:?}"),
    }
    assert!(adapter.metadata_cache().is_empty());
}

#[tokio::test]
async fn a_connection_without_a_token_asks_for_one() {
    let server = MockServer::start().await;
    let adapter = Mailchimp::oauth();
    let ctx = oauth_context(&server);
    // An API-key connection handed to the OAuth entry has no access token.
    let err = adapter.check(&ctx, &connection()).await.unwrap_err();
    assert!(matches!(err, AdapterError::Unauthorized { .. }), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// The OAuth fake: tokens from the OAuth server only, the metadata endpoint in
/// Mailchimp's shape pointing back at the fake, the API key refused.
#[cfg(feature = "sandbox")]
#[tokio::test]
async fn the_oauth_fake_serves_metadata_and_takes_only_issued_tokens() {
    use std::sync::Arc;

    use junction_conformance::{FakeServer, TokenTable};
    use junction_core::fake::TokenStatus;
    use junction_mailchimp::sandbox::{MailchimpFake, SANDBOX_ACCOUNT_NAME, SANDBOX_API_KEY};

    let tokens = TokenTable::default().with("issued", TokenStatus::Valid { scopes: Vec::new() });
    let server = FakeServer::start(Arc::new(MailchimpFake::oauth()), tokens).await;
    let base = server.base_url().to_string();
    let base = base.trim_end_matches('/');
    let http = reqwest::Client::new();

    let metadata: serde_json::Value = http
        .get(format!("{base}/oauth2/metadata"))
        .header("authorization", "OAuth issued")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["dc"], "us21");
    assert_eq!(metadata["accountname"], SANDBOX_ACCOUNT_NAME);
    assert_eq!(metadata["api_endpoint"], base);
    for key in ["role", "user_id", "login", "login_url"] {
        assert!(metadata.get(key).is_some(), "{key} missing: {metadata}");
    }
    // The metadata endpoint takes Mailchimp's `OAuth` scheme, and only issued tokens.
    for authorization in ["Bearer issued", "OAuth unknown"] {
        let status = http
            .get(format!("{base}/oauth2/metadata"))
            .header("authorization", authorization)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 401, "{authorization}");
    }

    let ping = |auth: reqwest::RequestBuilder| async move { auth.send().await.unwrap().status() };
    let url = format!("{base}/3.0/ping");
    assert_eq!(ping(http.get(&url).bearer_auth("issued")).await, 200);
    assert_eq!(ping(http.get(&url).bearer_auth("unknown")).await, 401);
    assert_eq!(
        ping(http.get(&url).basic_auth("x", Some(SANDBOX_API_KEY))).await,
        401
    );
    assert_eq!(ping(http.get(&url).bearer_auth(SANDBOX_API_KEY)).await, 401);
}
