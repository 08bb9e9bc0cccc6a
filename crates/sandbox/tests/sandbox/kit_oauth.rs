//! `kit-oauth` end to end with the built-in registry: the sandbox's OAuth server serves
//! Kit's spec (PKCE, the `public` scope, client auth in the body, rotating refresh
//! tokens) and the Kit fake under `/kit-oauth/` accepts the tokens it issues, and only
//! those.

use std::net::SocketAddr;

use junction_sandbox::{CLIENT_ID, CLIENT_SECRET, SandboxConfig};
use serde_json::Value;

use crate::support::{REDIRECT_URI, pkce, redirect_from};

#[tokio::test]
async fn kit_oauth_tokens_from_the_sandbox_open_the_kit_fake() {
    let bind: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let running = junction_sandbox::spawn(SandboxConfig::default(), bind)
        .await
        .unwrap();
    assert!(running.sandbox.provider_ids().contains(&"kit-oauth"));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = running.base_url();

    let pkce = pkce("kit");
    let mut authorize = url::Url::parse(&format!("{base}/oauth/kit-oauth/authorize")).unwrap();
    authorize.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "public"),
        ("state", "kit"),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("decision", "approve"),
    ]);
    let response = http.get(authorize).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let code = redirect_from(&response).get("code").unwrap().to_owned();
    let token = |form: Vec<(&'static str, String)>| {
        http.post(format!("{base}/oauth/kit-oauth/token"))
            .form(&form)
            .send()
    };
    let issued = token(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code),
        ("redirect_uri", REDIRECT_URI.into()),
        ("code_verifier", pkce.verifier.clone()),
        ("client_id", CLIENT_ID.into()),
        ("client_secret", CLIENT_SECRET.into()),
    ])
    .await
    .unwrap();
    assert_eq!(issued.status(), 200);
    let issued: Value = issued.json().await.unwrap();
    let access = issued["access_token"].as_str().unwrap().to_owned();
    let refresh = issued["refresh_token"].as_str().unwrap().to_owned();

    let account = |auth: Option<(&'static str, String)>| {
        let mut request = http.get(format!("{base}/kit-oauth/v4/account"));
        if let Some((name, value)) = auth {
            request = request.header(name, value);
        }
        request.send()
    };
    let ok = account(Some(("authorization", format!("Bearer {access}"))))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["account"]["name"], "Sandbox Creator");
    // The API key of the `kit` entry does not open the OAuth entry, nor the reverse.
    // (the key the `kit` fake accepts, documented in docs/providers/kit.md)
    let key = account(Some((
        "x-kit-api-key",
        "kit_sandbox_4f9a2c7e1b8d5a30".into(),
    )))
    .await
    .unwrap();
    assert_eq!(key.status(), 401);
    let other = http
        .get(format!("{base}/kit/v4/account"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 401);

    // Kit rotates refresh tokens: the refresh answers a new one and retires the old.
    let refreshed = token(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", refresh.clone()),
        ("client_id", CLIENT_ID.into()),
        ("client_secret", CLIENT_SECRET.into()),
    ])
    .await
    .unwrap();
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    let new_refresh = refreshed["refresh_token"].as_str().unwrap();
    assert_ne!(new_refresh, refresh);
    let new_access = refreshed["access_token"].as_str().unwrap().to_owned();
    let ok = account(Some(("authorization", format!("Bearer {new_access}"))))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let replay = token(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", refresh),
        ("client_id", CLIENT_ID.into()),
        ("client_secret", CLIENT_SECRET.into()),
    ])
    .await
    .unwrap();
    assert_eq!(replay.status(), 400);

    running.handle.stop(true).await;
}
