//! The sandbox as the fakes' token authority: valid, expired (through
//! `/_sandbox/tokens/expire`), revoked and unknown tokens, seen directly and by a fake.

use junction_core::fake::{TokenAuthority, TokenStatus};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn token_statuses_cover_valid_expired_revoked_and_unknown() {
    let h = start().await;
    let tokens = h.rotor_tokens().await;
    let access = tokens.access_token();
    let valid = TokenStatus::Valid {
        scopes: vec!["read".into(), "write".into()],
    };
    assert_eq!(h.sandbox().check(ROTATING, &access), valid);
    assert_eq!(
        h.sandbox().check(ROTATING, "rotor_at_never"),
        TokenStatus::Unknown
    );
    // A token is only good at the provider it was issued for.
    assert_eq!(h.sandbox().check(STABLE, &access), TokenStatus::Unknown);
    // A refresh token is not an access token.
    assert_eq!(
        h.sandbox().check(ROTATING, &tokens.refresh_token()),
        TokenStatus::Unknown
    );

    let (status, body) = h
        .control("/_sandbox/tokens/expire", json!({"provider": ROTATING}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expired"], 1);
    assert_eq!(h.sandbox().check(ROTATING, &access), TokenStatus::Expired);

    // The refresh token still works after expiry: that is what the endpoint is for.
    let refreshed = h
        .refresh(ROTATING, GOOD_BASIC, &tokens.refresh_token())
        .await;
    let fresh = refreshed.access_token();
    assert_eq!(h.sandbox().check(ROTATING, &fresh), valid);

    h.http
        .post(h.url("/oauth/rotor/revoke"))
        .form(&[("token", fresh.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(h.sandbox().check(ROTATING, &fresh), TokenStatus::Expired);
    h.stop().await;
}

#[tokio::test]
async fn the_fake_sees_the_same_statuses() {
    let h = start().await;
    let access = h.rotor_tokens().await.access_token();
    let seen = |response: reqwest::Response| async move {
        assert_eq!(response.status(), 201);
        response.json::<serde_json::Value>().await.unwrap()["token"].clone()
    };
    assert_eq!(
        seen(h.call_fake("/rotor/x", Some(&access)).await).await,
        json!({"valid": ["read", "write"]})
    );
    assert_eq!(
        seen(h.call_fake("/rotor/x", Some("bogus")).await).await,
        json!("unknown")
    );
    h.sandbox().expire_tokens(ROTATING).unwrap();
    assert_eq!(
        seen(h.call_fake("/rotor/x", Some(&access)).await).await,
        json!("expired")
    );
    assert_eq!(h.rotor_fake.last().token, Some(TokenStatus::Expired));
    h.stop().await;
}

#[tokio::test]
async fn expiring_is_per_provider_and_refused_for_unknown_ones() {
    let h = start().await;
    let rotor = h.rotor_tokens().await.access_token();
    let steady = h.steady_tokens().await.access_token();
    let (_, body) = h
        .control("/_sandbox/tokens/expire", json!({"provider": STABLE}))
        .await;
    assert_eq!(body["expired"], 1);
    assert_eq!(h.sandbox().check(STABLE, &steady), TokenStatus::Expired);
    assert!(matches!(
        h.sandbox().check(ROTATING, &rotor),
        TokenStatus::Valid { .. }
    ));
    let (status, body) = h
        .control("/_sandbox/tokens/expire", json!({"provider": "nope"}))
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "unknown_provider");
    let (status, _) = h
        .control("/_sandbox/tokens/expire", json!({"nothing": true}))
        .await;
    assert_eq!(status, 400);
    h.stop().await;
}
