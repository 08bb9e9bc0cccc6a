//! `spawn` with the built-in registry: every compiled-in provider is served, and a
//! real provider's spec (GA4's PKCE and extra parameters) works end to end against its
//! own fake.

use std::net::SocketAddr;

use junction_sandbox::{CLIENT_ID, CLIENT_SECRET, SandboxConfig};

use crate::support::{REDIRECT_URI, pkce, redirect_from};

#[tokio::test]
async fn spawn_serves_every_builtin_provider_with_its_oauth_server_and_fake() {
    let bind: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let running = junction_sandbox::spawn(SandboxConfig::default(), bind)
        .await
        .unwrap();
    assert_eq!(running.url.host_str(), Some("127.0.0.1"));
    assert_eq!(running.url.port(), Some(running.local_addr.port()));
    assert_ne!(running.local_addr.port(), 0);
    let ids = running.sandbox.provider_ids();
    assert!(ids.contains(&"google-analytics"), "{ids:?}");

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = running.base_url();
    let state: serde_json::Value = http
        .get(format!("{base}/_sandbox/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for id in &ids {
        assert!(
            state["providers"].get(id).is_some(),
            "{id} missing from state"
        );
    }

    // GA4: PKCE, access_type=offline and prompt=consent, body client auth.
    let pkce = pkce("ga4");
    let mut authorize =
        url::Url::parse(&format!("{base}/oauth/google-analytics/authorize")).unwrap();
    authorize.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        (
            "scope",
            "https://www.googleapis.com/auth/analytics.readonly",
        ),
        ("state", "ga"),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("access_type", "offline"),
        ("prompt", "consent"),
        ("decision", "approve"),
    ]);
    let response = http.get(authorize).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let code = redirect_from(&response).get("code").unwrap().to_owned();
    let tokens: serde_json::Value = http
        .post(format!("{base}/oauth/google-analytics/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", pkce.verifier.as_str()),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    assert!(tokens["refresh_token"].is_string(), "{tokens}");

    let report = |token: Option<String>| {
        let mut request = http
            .post(format!(
                "{base}/google-analytics/v1beta/properties/123:runReport"
            ))
            .json(&serde_json::json!({
                "dateRanges": [{"startDate": "2025-01-01", "endDate": "2025-01-02"}],
                "dimensions": [{"name": "date"}],
                "metrics": [{"name": "sessions"}]
            }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let ok = report(Some(access.to_owned())).await.unwrap();
    assert_eq!(ok.status(), 200, "{}", ok.text().await.unwrap());
    let refused = report(None).await.unwrap();
    assert_eq!(refused.status(), 401);

    running.handle.stop(true).await;
}
