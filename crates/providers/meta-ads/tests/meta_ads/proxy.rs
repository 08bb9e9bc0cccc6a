//! The authenticated proxy's target: the Graph API host's root (or the context's
//! override) with the token as `Authorization: Bearer`, and (with the `sandbox`
//! feature) a request through it reaching the Meta Ads fake.

use junction_core::{Adapter, AdapterError, Context, ProxyTarget};
use junction_meta_ads::MetaAds;
use secrecy::ExposeSecret;

use crate::support::*;

/// The target's headers, by name, with their values.
fn headers(target: &ProxyTarget) -> Vec<(String, String)> {
    target
        .headers
        .iter()
        .map(|(name, value)| (name.to_string(), value.expose_secret().to_owned()))
        .collect()
}

#[tokio::test]
async fn the_target_is_the_graph_root_with_the_bearer_token() {
    let ctx = Context::new(reqwest::Client::new());
    let target = MetaAds.proxy_target(&ctx, &connection()).await.unwrap();
    assert_eq!(target.base_url.as_str(), "https://graph.facebook.com/");
    assert_eq!(
        headers(&target),
        [("authorization".to_owned(), format!("Bearer {TOKEN}"))]
    );
    assert!(!format!("{target:?}").contains(TOKEN));
}

#[tokio::test]
async fn the_base_url_override_is_the_target() {
    let ctx = Context::new(reqwest::Client::new())
        .with_base_url("http://127.0.0.1:9/meta-ads".parse().unwrap());
    let target = MetaAds.proxy_target(&ctx, &connection()).await.unwrap();
    assert_eq!(target.base_url.as_str(), "http://127.0.0.1:9/meta-ads/");
}

#[tokio::test]
async fn a_connection_without_a_token_needs_one() {
    let mut conn = connection();
    conn.access_token = None;
    let err = MetaAds
        .proxy_target(&Context::new(reqwest::Client::new()), &conn)
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Unauthorized { .. }), "{err:?}");
}

/// A request through the target reaches the fake; without the target's headers the
/// fake refuses it as Graph does (HTTP 400, OAuthException code 2500).
#[cfg(feature = "sandbox")]
#[tokio::test]
async fn a_request_through_the_target_reaches_the_fake() {
    use std::sync::Arc;

    use junction_conformance::{FakeServer, TokenTable};
    use junction_core::fake::TokenStatus;
    use junction_meta_ads::{ADS_READ_SCOPE, GRAPH_VERSION, sandbox::MetaAdsFake};

    let tokens = TokenTable::default().with(
        TOKEN,
        TokenStatus::Valid {
            scopes: vec![ADS_READ_SCOPE.into()],
        },
    );
    let server = FakeServer::start(Arc::new(MetaAdsFake), tokens).await;
    let target = MetaAds
        .proxy_target(&server.context(), &connection())
        .await
        .unwrap();
    assert_eq!(target.base_url, server.base_url());

    let url = format!(
        "{}{GRAPH_VERSION}/act_424242?fields=name,currency",
        target.base_url
    );
    let http = reqwest::Client::new();
    let authorized = headers(&target)
        .into_iter()
        .fold(http.get(&url), |request, (name, value)| {
            request.header(name, value)
        });
    let response = authorized.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let account: serde_json::Value = response.json().await.unwrap();
    assert_eq!(account["id"], "act_424242", "{account}");

    let anonymous = http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 400);
    let error: serde_json::Value = anonymous.json().await.unwrap();
    assert_eq!(error["error"]["code"], 2500, "{error}");
}
