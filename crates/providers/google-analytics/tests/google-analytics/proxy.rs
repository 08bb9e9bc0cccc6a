//! The authenticated proxy's target: the Data API host's root (or the context's
//! override) with the access token as `Authorization: Bearer`, and (with the
//! `sandbox` feature) a request through it reaching the GA4 fake.

use junction_core::{Adapter, AdapterError, Context, ProxyTarget};
use junction_google_analytics::GoogleAnalytics;
use secrecy::ExposeSecret;
use serde_json::json;

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
async fn the_target_is_the_data_api_root_with_the_bearer_token() {
    let ctx = Context::new(reqwest::Client::new());
    let target = GoogleAnalytics
        .proxy_target(&ctx, &property_connection(json!({})))
        .await
        .unwrap();
    assert_eq!(
        target.base_url.as_str(),
        "https://analyticsdata.googleapis.com/"
    );
    assert_eq!(
        headers(&target),
        [("authorization".to_owned(), format!("Bearer {TOKEN}"))]
    );
    // The credential stays out of Debug output.
    assert!(!format!("{target:?}").contains(TOKEN));
}

#[tokio::test]
async fn the_base_url_override_is_the_target() {
    for base in [
        "http://127.0.0.1:9/google-analytics",
        "http://127.0.0.1:9/google-analytics/",
    ] {
        let target = GoogleAnalytics
            .proxy_target(&context_with_base(base), &property_connection(json!({})))
            .await
            .unwrap();
        assert_eq!(
            target.base_url.as_str(),
            "http://127.0.0.1:9/google-analytics/"
        );
    }
}

#[tokio::test]
async fn a_connection_without_a_token_needs_one() {
    let mut conn = property_connection(json!({}));
    conn.access_token = None;
    let err = GoogleAnalytics
        .proxy_target(&Context::new(reqwest::Client::new()), &conn)
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

/// A request through the target reaches the fake (which serves only `runReport`, a
/// POST); the same request without the target's headers is refused.
#[cfg(feature = "sandbox")]
#[tokio::test]
async fn a_request_through_the_target_reaches_the_fake() {
    use std::sync::Arc;

    use junction_conformance::{FakeServer, TokenTable};
    use junction_core::fake::TokenStatus;
    use junction_google_analytics::{READONLY_SCOPE, sandbox::Ga4Fake};

    let tokens = TokenTable::default().with(
        TOKEN,
        TokenStatus::Valid {
            scopes: vec![READONLY_SCOPE.into()],
        },
    );
    let server = FakeServer::start(Arc::new(Ga4Fake), tokens).await;
    let target = GoogleAnalytics
        .proxy_target(&server.context(), &property_connection(json!({})))
        .await
        .unwrap();
    assert_eq!(target.base_url, server.base_url());

    let url = format!("{}v1beta/properties/{PROPERTY}:runReport", target.base_url);
    let body = json!({
        "dateRanges": [{"startDate": "yesterday", "endDate": "today"}],
        "metrics": [{"name": "sessions"}]
    });
    let http = reqwest::Client::new();
    let authorized = headers(&target)
        .into_iter()
        .fold(http.post(&url).json(&body), |request, (name, value)| {
            request.header(name, value)
        });
    let response = authorized.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let report: serde_json::Value = response.json().await.unwrap();
    assert!(report.get("metricHeaders").is_some(), "{report}");

    let anonymous = http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}
