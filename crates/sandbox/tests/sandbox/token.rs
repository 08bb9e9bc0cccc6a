//! The token endpoint's authorization-code grant: the full PKCE flow, single use,
//! expiry, redirect URI and verifier checks, client authentication in both styles.

use std::time::Duration;

use junction_core::fake::{TokenAuthority, TokenStatus};
use junction_sandbox::{CLIENT_ID, CLIENT_SECRET, SandboxConfig};

use crate::support::*;

#[tokio::test]
async fn the_full_pkce_flow_issues_tokens_the_fake_accepts() {
    let h = start().await;
    let pkce = pkce("full");
    let code = h.code(ROTATING, "read write", Some(&pkce.challenge)).await;
    let answer = h
        .exchange(ROTATING, GOOD_BASIC, &code, Some(&pkce.verifier))
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["token_type"], "Bearer");
    assert_eq!(answer.body["expires_in"], 3600);
    assert_eq!(answer.body["scope"], "read write");
    assert_eq!(answer.headers["cache-control"], "no-store");
    let access = answer.access_token();
    let refresh = answer.refresh_token();
    assert!(access.starts_with("rotor_at_"), "{access}");
    assert!(refresh.starts_with("rotor_rt_"), "{refresh}");
    assert_ne!(access, refresh);

    assert_eq!(
        h.sandbox().check(ROTATING, &access),
        TokenStatus::Valid {
            scopes: vec!["read".into(), "write".into()]
        }
    );
    let response = h.call_fake("/rotor/v1/me", Some(&access)).await;
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["token"]["valid"], serde_json::json!(["read", "write"]));
    h.stop().await;
}

#[tokio::test]
async fn a_subset_of_scopes_is_granted_as_requested() {
    let h = start().await;
    let code = h.code(STABLE, "ads_read", None).await;
    let answer = h.exchange(STABLE, GOOD_BODY, &code, None).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["scope"], "ads_read");
    h.stop().await;
}

#[tokio::test]
async fn a_replayed_code_is_invalid_grant_and_revokes_the_first_tokens() {
    let h = start().await;
    let code = h.code(STABLE, "ads_read", None).await;
    let first = h.exchange(STABLE, GOOD_BODY, &code, None).await;
    assert_eq!(first.status, 200);
    let replay = h.exchange(STABLE, GOOD_BODY, &code, None).await;
    assert_eq!(replay.status, 400);
    assert_eq!(replay.error(), "invalid_grant");
    // RFC 6749 4.1.2: what the code issued is revoked.
    assert_eq!(
        h.sandbox().check(STABLE, &first.access_token()),
        TokenStatus::Expired
    );
    let refresh = h.refresh(STABLE, GOOD_BODY, &first.refresh_token()).await;
    assert_eq!(refresh.error(), "invalid_grant");
    h.stop().await;
}

#[tokio::test]
async fn a_wrong_or_missing_verifier_is_invalid_grant_and_burns_the_code() {
    let h = start().await;
    let right = pkce("right");
    let wrong = pkce("wrong");
    let code = h.code(ROTATING, "read", Some(&right.challenge)).await;
    let answer = h
        .exchange(ROTATING, GOOD_BASIC, &code, Some(&wrong.verifier))
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.error(), "invalid_grant");
    // The code was used up by the failed attempt: a brute force gets one try.
    let retry = h
        .exchange(ROTATING, GOOD_BASIC, &code, Some(&right.verifier))
        .await;
    assert_eq!(retry.error(), "invalid_grant");

    let code = h.code(ROTATING, "read", Some(&right.challenge)).await;
    let missing = h.exchange(ROTATING, GOOD_BASIC, &code, None).await;
    assert_eq!(missing.error(), "invalid_grant");

    // A verifier for a code that had no challenge is refused too.
    let code = h.code(STABLE, "ads_read", None).await;
    let unexpected = h
        .exchange(STABLE, GOOD_BODY, &code, Some(&right.verifier))
        .await;
    assert_eq!(unexpected.error(), "invalid_grant");
    h.stop().await;
}

#[tokio::test]
async fn the_redirect_uri_must_match_the_authorize_request() {
    let h = start().await;
    let code = h.code(STABLE, "ads_read", None).await;
    let answer = h
        .token(
            STABLE,
            GOOD_BODY,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://app.example.test/other"),
            ],
        )
        .await;
    assert_eq!(answer.error(), "invalid_grant");

    let code = h.code(STABLE, "ads_read", None).await;
    let answer = h
        .token(
            STABLE,
            GOOD_BODY,
            &[("grant_type", "authorization_code"), ("code", &code)],
        )
        .await;
    assert_eq!(answer.error(), "invalid_request");
    h.stop().await;
}

#[tokio::test]
async fn codes_are_per_provider_and_unknown_codes_are_invalid_grant() {
    let h = start().await;
    let code = h.code(STABLE, "ads_read", None).await;
    let answer = h.exchange(NO_REFRESH, GOOD_BODY, &code, None).await;
    assert_eq!(answer.error(), "invalid_grant");
    let answer = h.exchange(STABLE, GOOD_BODY, "made-up", None).await;
    assert_eq!(answer.error(), "invalid_grant");
    h.stop().await;
}

#[tokio::test]
async fn an_expired_code_is_invalid_grant() {
    let h = start_with(SandboxConfig {
        code_lifetime: Duration::ZERO,
        ..SandboxConfig::default()
    })
    .await;
    let code = h.code(STABLE, "ads_read", None).await;
    let answer = h.exchange(STABLE, GOOD_BODY, &code, None).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.error(), "invalid_grant");
    assert!(
        answer.body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    h.stop().await;
}

#[tokio::test]
async fn the_token_lifetime_is_configurable() {
    let h = start_with(SandboxConfig {
        token_lifetime: Duration::from_secs(120),
        ..SandboxConfig::default()
    })
    .await;
    let answer = h.steady_tokens().await;
    assert_eq!(answer.body["expires_in"], 120);
    h.stop().await;
}

#[tokio::test]
async fn wrong_client_credentials_are_401_invalid_client_in_both_styles() {
    let h = start().await;
    let cases = [
        ClientAuth::Basic(CLIENT_ID, "not-the-secret"),
        ClientAuth::Basic("someone-else", CLIENT_SECRET),
        ClientAuth::Body(CLIENT_ID, "not-the-secret"),
        ClientAuth::Body("someone-else", CLIENT_SECRET),
        ClientAuth::Nothing,
    ];
    for auth in cases {
        let code = h.code(STABLE, "ads_read", None).await;
        let answer = h.exchange(STABLE, auth, &code, None).await;
        assert_eq!(answer.status, 401, "{auth:?}");
        assert_eq!(answer.error(), "invalid_client", "{auth:?}");
        assert!(answer.headers.contains_key("www-authenticate"));
        let text = answer.body.to_string();
        assert!(!text.contains("not-the-secret"), "{text}");
        // The code was not touched: the right credentials still work with it.
        let ok = h.exchange(STABLE, GOOD_BODY, &code, None).await;
        assert_eq!(ok.status, 200, "{auth:?}: {:?}", ok.body);
    }
    h.stop().await;
}

#[tokio::test]
async fn either_authentication_style_is_accepted_but_not_both() {
    let h = start().await;
    // The stable spec documents body auth; Basic works too, as at real providers.
    let code = h.code(STABLE, "ads_read", None).await;
    assert_eq!(
        h.exchange(STABLE, GOOD_BASIC, &code, None).await.status,
        200
    );

    let code = h.code(STABLE, "ads_read", None).await;
    let both = h
        .token(
            STABLE,
            GOOD_BASIC,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("client_secret", CLIENT_SECRET),
            ],
        )
        .await;
    assert_eq!(both.status, 400);
    assert_eq!(both.error(), "invalid_request");
    h.stop().await;
}

#[tokio::test]
async fn malformed_token_requests_are_refused() {
    let h = start().await;
    let missing = h.token(STABLE, GOOD_BODY, &[]).await;
    assert_eq!(missing.error(), "invalid_request");
    let unsupported = h
        .token(STABLE, GOOD_BODY, &[("grant_type", "password")])
        .await;
    assert_eq!(unsupported.error(), "unsupported_grant_type");
    let repeated = h
        .token(
            STABLE,
            GOOD_BODY,
            &[
                ("grant_type", "authorization_code"),
                ("grant_type", "refresh_token"),
            ],
        )
        .await;
    assert_eq!(repeated.error(), "invalid_request");

    let json_body = h
        .http
        .post(h.url("/oauth/steady/token"))
        .json(&serde_json::json!({"grant_type": "authorization_code"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status(), 400);
    let body: serde_json::Value = json_body.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");

    let get = h.get(h.url("/oauth/steady/token")).await;
    assert_eq!(get.status(), 405);
    h.stop().await;
}
