//! The authenticated proxy's target: Kit's API root (or the context's override) with
//! the header every call sends (`X-Kit-Api-Key` for `kit`, `Authorization: Bearer`
//! for `kit-oauth`), and (with the `sandbox` feature) a request through it reaching
//! the crate's fakes.

use junction_core::{
    Adapter, AdapterError, Connection, Context, IntegrationId, ProxyTarget, WorkspaceId,
};
use junction_kit::{API_KEY_HEADER, Kit};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::support::*;

/// The OAuth access token of the tests' `kit-oauth` connections.
const TOKEN: &str = "kit_oauth_access_7f3e";

/// The target's headers, by name, with their values.
fn headers(target: &ProxyTarget) -> Vec<(String, String)> {
    target
        .headers
        .iter()
        .map(|(name, value)| (name.to_string(), value.expose_secret().to_owned()))
        .collect()
}

fn oauth_connection(token: Option<&str>) -> Connection {
    Connection {
        workspace_id: WorkspaceId::new(),
        integration_id: IntegrationId::new(),
        config: serde_json::Map::new(),
        secrets: Default::default(),
        access_token: token.map(|t| SecretString::from(t.to_owned())),
        token_expires_at: None,
    }
}

#[tokio::test]
async fn the_key_target_is_the_api_root_with_the_key_header() {
    let ctx = Context::new(reqwest::Client::new());
    // The key is sent trimmed, as the adapter's own calls send it.
    let target = Kit::api_key()
        .proxy_target(&ctx, &connection_with_key(&format!(" {KEY}\n"), json!({})))
        .await
        .unwrap();
    assert_eq!(target.base_url.as_str(), "https://api.kit.com/");
    assert_eq!(
        headers(&target),
        [(API_KEY_HEADER.to_ascii_lowercase(), KEY.to_owned())]
    );
    assert!(!format!("{target:?}").contains(KEY));
}

#[tokio::test]
async fn the_oauth_target_is_the_api_root_with_the_bearer_token() {
    let ctx = Context::new(reqwest::Client::new());
    let target = Kit::oauth()
        .proxy_target(&ctx, &oauth_connection(Some(TOKEN)))
        .await
        .unwrap();
    assert_eq!(target.base_url.as_str(), "https://api.kit.com/");
    assert_eq!(
        headers(&target),
        [("authorization".to_owned(), format!("Bearer {TOKEN}"))]
    );
}

#[tokio::test]
async fn the_base_url_override_is_the_target() {
    let server = wiremock::MockServer::start().await;
    let target = Kit::api_key()
        .proxy_target(&context(&server), &connection(json!({})))
        .await
        .unwrap();
    assert_eq!(target.base_url.as_str(), format!("{}/kit/", server.uri()));
    let ctx = Context::new(reqwest::Client::new())
        .with_base_url("http://127.0.0.1:9/kit-oauth/".parse().unwrap());
    let target = Kit::oauth()
        .proxy_target(&ctx, &oauth_connection(Some(TOKEN)))
        .await
        .unwrap();
    assert_eq!(target.base_url.as_str(), "http://127.0.0.1:9/kit-oauth/");
}

#[tokio::test]
async fn missing_credentials_are_the_adapters_own_errors() {
    let ctx = Context::new(reqwest::Client::new());
    let mut conn = connection(json!({}));
    conn.secrets.clear();
    let err = Kit::api_key().proxy_target(&ctx, &conn).await.unwrap_err();
    assert!(
        matches!(&err, AdapterError::Invalid { field: Some(f), .. } if f == "api_key"),
        "{err:?}"
    );
    let err = Kit::oauth()
        .proxy_target(&ctx, &oauth_connection(None))
        .await
        .unwrap_err();
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
}

#[cfg(feature = "sandbox")]
mod fake {
    use std::sync::Arc;

    use junction_conformance::{FakeServer, TokenTable};
    use junction_core::fake::TokenStatus;
    use junction_kit::sandbox::{KitFake, SANDBOX_ACCOUNT_NAME, SANDBOX_API_KEY};

    use super::*;

    /// GETs `v4/account` below the target with and without its headers: the status
    /// of each, and the account's name when the first was accepted.
    async fn account(target: &ProxyTarget) -> (u16, u16, serde_json::Value) {
        let url = format!("{}v4/account", target.base_url);
        let http = reqwest::Client::new();
        let authorized = headers(target)
            .into_iter()
            .fold(http.get(&url), |request, (name, value)| {
                request.header(name, value)
            });
        let response = authorized.send().await.unwrap();
        let with = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap();
        let without = http.get(&url).send().await.unwrap().status().as_u16();
        (with, without, body["account"]["name"].clone())
    }

    #[tokio::test]
    async fn a_request_through_the_key_target_reaches_the_fake() {
        let server = FakeServer::start(Arc::new(KitFake::default()), TokenTable::default()).await;
        let target = Kit::api_key()
            .proxy_target(
                &server.context(),
                &connection_with_key(SANDBOX_API_KEY, json!({})),
            )
            .await
            .unwrap();
        assert_eq!(target.base_url, server.base_url());
        assert_eq!(
            account(&target).await,
            (200, 401, json!(SANDBOX_ACCOUNT_NAME))
        );
    }

    #[tokio::test]
    async fn a_request_through_the_oauth_target_reaches_the_fake() {
        let tokens = TokenTable::default().with(
            TOKEN,
            TokenStatus::Valid {
                scopes: vec!["public".into()],
            },
        );
        let server = FakeServer::start(Arc::new(KitFake::oauth()), tokens).await;
        let target = Kit::oauth()
            .proxy_target(&server.context(), &oauth_connection(Some(TOKEN)))
            .await
            .unwrap();
        assert_eq!(target.base_url, server.base_url());
        assert_eq!(
            account(&target).await,
            (200, 401, json!(SANDBOX_ACCOUNT_NAME))
        );
    }
}
