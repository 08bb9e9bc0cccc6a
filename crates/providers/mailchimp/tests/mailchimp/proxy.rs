//! The authenticated proxy's target: the data center's API host root (from the key's
//! suffix, or from the OAuth metadata lookup; the context's override when set) with
//! the credential every call sends (Basic with the key, Bearer with an OAuth token),
//! against wiremock and (with the `sandbox` feature) the crate's fakes.

use junction_core::{Adapter, AdapterError, Context, ProxyTarget};
use junction_mailchimp::Mailchimp;
use secrecy::ExposeSecret;
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path},
};

use crate::{oauth::oauth_connection, support::*};

/// The target's headers, by name, with their values.
fn headers(target: &ProxyTarget) -> Vec<(String, String)> {
    target
        .headers
        .iter()
        .map(|(name, value)| (name.to_string(), value.expose_secret().to_owned()))
        .collect()
}

#[tokio::test]
async fn the_target_is_the_keys_data_center_with_basic_auth() {
    let ctx = Context::new(reqwest::Client::new());
    let target = Mailchimp::default()
        .proxy_target(&ctx, &connection())
        .await
        .unwrap();
    assert_eq!(target.base_url.as_str(), "https://us21.api.mailchimp.com/");
    assert_eq!(
        headers(&target),
        [("authorization".to_owned(), basic_header())]
    );
    assert!(!format!("{target:?}").contains(KEY));
}

#[tokio::test]
async fn the_data_center_follows_the_key() {
    let ctx = Context::new(reqwest::Client::new());
    let target = Mailchimp::default()
        .proxy_target(
            &ctx,
            &connection_with("0f1e2d3c4b5a69788796a5b4c3d2e1f0-us6"),
        )
        .await
        .unwrap();
    assert_eq!(target.base_url.as_str(), "https://us6.api.mailchimp.com/");
    // A key without a data center is refused as the adapter's own calls refuse it.
    for conn in [connection_with("0f1e2d3c4b5a69788796a5b4c3d2e1f0"), {
        let mut conn = connection();
        conn.secrets.clear();
        conn
    }] {
        let err = Mailchimp::default()
            .proxy_target(&ctx, &conn)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AdapterError::Invalid { field: Some(f), .. } if f == "api_key"),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn the_base_url_override_is_the_target() {
    let target = Mailchimp::default()
        .proxy_target(
            &context_with_base("http://127.0.0.1:9/mailchimp"),
            &connection(),
        )
        .await
        .unwrap();
    assert_eq!(target.base_url.as_str(), "http://127.0.0.1:9/mailchimp/");
}

#[tokio::test]
async fn the_oauth_target_comes_from_one_metadata_lookup_with_the_bearer_token() {
    const TOKEN: &str = "6c1f0e2a9b8d7c6e5f4a3b2c1d0e9f8a";
    let server = MockServer::start().await;
    let base = format!("{}/mailchimp-oauth", server.uri());
    Mock::given(method("GET"))
        .and(path("/mailchimp-oauth/oauth2/metadata"))
        .and(header("authorization", format!("OAuth {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "dc": "us19",
            "accountname": "Example Co",
            "login": {"login_email": "owner@example.com"},
            "api_endpoint": base,
        })))
        .expect(1)
        .mount(&server)
        .await;
    let adapter = Mailchimp::oauth();
    let ctx = context_with_base(&base);
    let conn = oauth_connection(TOKEN);
    for _ in 0..2 {
        let target = adapter.proxy_target(&ctx, &conn).await.unwrap();
        // Under the override the API is the override, as for every other call.
        assert_eq!(target.base_url.as_str(), format!("{base}/"));
        assert_eq!(
            headers(&target),
            [("authorization".to_owned(), format!("Bearer {TOKEN}"))]
        );
    }
    // The lookup is remembered for the token (`expect(1)` is checked on drop).
    assert_eq!(adapter.metadata_cache().len(), 1);
}

#[tokio::test]
async fn an_oauth_target_needs_a_token_and_a_lookup_that_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/mailchimp-oauth/oauth2/metadata"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_token",
            "error_description": "The access token provided is invalid."
        })))
        .mount(&server)
        .await;
    let adapter = Mailchimp::oauth();
    let ctx = context_with_base(&format!("{}/mailchimp-oauth", server.uri()));
    let err = adapter
        .proxy_target(&ctx, &oauth_connection("revoked"))
        .await
        .unwrap_err();
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
    assert!(adapter.metadata_cache().is_empty());
    // An API-key connection has no token: nothing is looked up.
    let err = adapter.proxy_target(&ctx, &connection()).await.unwrap_err();
    assert!(matches!(err, AdapterError::Unauthorized { .. }), "{err:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[cfg(feature = "sandbox")]
mod fake {
    use std::sync::Arc;

    use junction_conformance::{FakeServer, TokenTable};
    use junction_core::fake::TokenStatus;
    use junction_mailchimp::sandbox::{MailchimpFake, SANDBOX_API_KEY};

    use super::*;

    /// GETs `3.0/ping` below the target with and without its headers.
    async fn ping(target: &ProxyTarget) -> (u16, u16) {
        let url = format!("{}3.0/ping", target.base_url);
        let http = reqwest::Client::new();
        let authorized = headers(target)
            .into_iter()
            .fold(http.get(&url), |request, (name, value)| {
                request.header(name, value)
            });
        let with = authorized.send().await.unwrap().status().as_u16();
        let without = http.get(&url).send().await.unwrap().status().as_u16();
        (with, without)
    }

    #[tokio::test]
    async fn a_request_through_the_key_target_reaches_the_fake() {
        let server =
            FakeServer::start(Arc::new(MailchimpFake::default()), TokenTable::default()).await;
        let target = Mailchimp::default()
            .proxy_target(&server.context(), &connection_with(SANDBOX_API_KEY))
            .await
            .unwrap();
        assert_eq!(target.base_url, server.base_url());
        assert_eq!(ping(&target).await, (200, 401));
    }

    #[tokio::test]
    async fn a_request_through_the_oauth_target_reaches_the_fake() {
        let tokens =
            TokenTable::default().with("sandbox-token", TokenStatus::Valid { scopes: Vec::new() });
        let server = FakeServer::start(Arc::new(MailchimpFake::oauth()), tokens).await;
        let target = Mailchimp::oauth()
            .proxy_target(&server.context(), &oauth_connection("sandbox-token"))
            .await
            .unwrap();
        assert_eq!(target.base_url, server.base_url());
        assert_eq!(ping(&target).await, (200, 401));
    }
}
