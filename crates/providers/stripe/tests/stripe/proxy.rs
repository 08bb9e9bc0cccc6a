//! The authenticated proxy's target: Stripe's API root (or the context's override)
//! with the secret key as `Authorization: Bearer`, and (with the `sandbox` feature) a
//! request through it reaching the Stripe fake.

use junction_core::{Adapter, AdapterError, Context, ProxyTarget};
use junction_stripe::Stripe;
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
async fn the_target_is_the_api_root_with_the_secret_key() {
    let ctx = Context::new(reqwest::Client::new());
    let target = Stripe.proxy_target(&ctx, &connection()).await.unwrap();
    assert_eq!(target.base_url.as_str(), "https://api.stripe.com/");
    assert_eq!(
        headers(&target),
        [("authorization".to_owned(), format!("Bearer {KEY}"))]
    );
    assert!(!format!("{target:?}").contains(KEY));
}

#[tokio::test]
async fn the_base_url_override_is_the_target() {
    let target = Stripe
        .proxy_target(
            &context_with_base("http://127.0.0.1:9/stripe"),
            &connection(),
        )
        .await
        .unwrap();
    assert_eq!(target.base_url.as_str(), "http://127.0.0.1:9/stripe/");
}

#[tokio::test]
async fn a_connection_without_a_key_names_the_field() {
    let mut conn = connection();
    conn.secrets.clear();
    let err = Stripe
        .proxy_target(&Context::new(reqwest::Client::new()), &conn)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Invalid { field: Some(f), .. } if f == "secret_key"),
        "{err:?}"
    );
}

/// A request through the target reaches the fake; without the target's headers the
/// fake refuses it with Stripe's 401.
#[cfg(feature = "sandbox")]
#[tokio::test]
async fn a_request_through_the_target_reaches_the_fake() {
    use std::sync::Arc;

    use junction_conformance::{FakeServer, TokenTable};
    use junction_stripe::sandbox::{SECRET_KEY, StripeFake};

    let server = FakeServer::start(Arc::new(StripeFake::default()), TokenTable::default()).await;
    let target = Stripe
        .proxy_target(&server.context(), &connection_with(SECRET_KEY))
        .await
        .unwrap();
    assert_eq!(target.base_url, server.base_url());

    let url = format!("{}v1/charges?limit=1", target.base_url);
    let http = reqwest::Client::new();
    let authorized = headers(&target)
        .into_iter()
        .fold(http.get(&url), |request, (name, value)| {
            request.header(name, value)
        });
    let response = authorized.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let list: serde_json::Value = response.json().await.unwrap();
    assert_eq!(list["object"], "list", "{list}");

    let anonymous = http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}
