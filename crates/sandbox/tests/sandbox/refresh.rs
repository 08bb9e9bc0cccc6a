//! The refresh-token grant as each refresh behaviour of a spec dictates, and
//! revocation (RFC 7009).

use junction_core::fake::{TokenAuthority, TokenStatus};

use crate::support::*;

#[tokio::test]
async fn a_rotating_spec_returns_a_new_refresh_token_and_retires_the_old_one() {
    let h = start().await;
    let first = h.rotor_tokens().await;
    let old_refresh = first.refresh_token();

    let refreshed = h.refresh(ROTATING, GOOD_BASIC, &old_refresh).await;
    assert_eq!(refreshed.status, 200, "{:?}", refreshed.body);
    let new_refresh = refreshed.refresh_token();
    assert_ne!(new_refresh, old_refresh);
    assert_ne!(refreshed.access_token(), first.access_token());
    assert_eq!(refreshed.body["expires_in"], 3600);
    assert_eq!(refreshed.body["scope"], "read write");

    let replay = h.refresh(ROTATING, GOOD_BASIC, &old_refresh).await;
    assert_eq!(replay.status, 400);
    assert_eq!(replay.error(), "invalid_grant");

    let again = h.refresh(ROTATING, GOOD_BASIC, &new_refresh).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    // Access tokens from earlier refreshes stay valid until they expire.
    for token in [
        first.access_token(),
        refreshed.access_token(),
        again.access_token(),
    ] {
        assert!(matches!(
            h.sandbox().check(ROTATING, &token),
            TokenStatus::Valid { .. }
        ));
    }
    assert_eq!(
        h.sandbox().snapshot().providers[ROTATING].refresh_tokens_active,
        1
    );
    h.stop().await;
}

#[tokio::test]
async fn a_stable_spec_returns_no_refresh_token_and_the_old_one_keeps_working() {
    let h = start().await;
    let first = h.steady_tokens().await;
    let refresh_token = first.refresh_token();
    for _ in 0..2 {
        let refreshed = h.refresh(STABLE, GOOD_BODY, &refresh_token).await;
        assert_eq!(refreshed.status, 200, "{:?}", refreshed.body);
        assert!(
            refreshed.body.get("refresh_token").is_none(),
            "{:?}",
            refreshed.body
        );
        assert_eq!(refreshed.body["scope"], "ads_read,ads_management");
        assert!(matches!(
            h.sandbox().check(STABLE, &refreshed.access_token()),
            TokenStatus::Valid { .. }
        ));
    }
    h.stop().await;
}

#[tokio::test]
async fn a_refresh_may_narrow_the_scopes_but_not_widen_them() {
    let h = start().await;
    let code = h.code(STABLE, "ads_read", None).await;
    let tokens = h.exchange(STABLE, GOOD_BODY, &code, None).await;
    let narrow = h
        .token(
            STABLE,
            GOOD_BODY,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &tokens.refresh_token()),
                ("scope", "ads_read"),
            ],
        )
        .await;
    assert_eq!(narrow.status, 200, "{:?}", narrow.body);
    let wide = h
        .token(
            STABLE,
            GOOD_BODY,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &tokens.refresh_token()),
                ("scope", "ads_read,ads_management"),
            ],
        )
        .await;
    assert_eq!(wide.status, 400);
    assert_eq!(wide.error(), "invalid_scope");
    h.stop().await;
}

#[tokio::test]
async fn a_spec_without_refresh_issues_non_expiring_tokens_and_no_refresh_grant() {
    let h = start().await;
    let code = h.code(NO_REFRESH, "", None).await;
    let answer = h.exchange(NO_REFRESH, GOOD_BODY, &code, None).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert!(answer.body.get("refresh_token").is_none());
    assert!(answer.body.get("expires_in").is_none());
    assert!(answer.body.get("scope").is_none());
    let refresh = h.refresh(NO_REFRESH, GOOD_BODY, "anything").await;
    assert_eq!(refresh.status, 400);
    assert_eq!(refresh.error(), "unsupported_grant_type");
    h.stop().await;
}

#[tokio::test]
async fn unknown_or_foreign_refresh_tokens_are_invalid_grant() {
    let h = start().await;
    let rotor = h.rotor_tokens().await;
    let unknown = h.refresh(STABLE, GOOD_BODY, "steady_rt_made-up").await;
    assert_eq!(unknown.error(), "invalid_grant");
    let foreign = h.refresh(STABLE, GOOD_BODY, &rotor.refresh_token()).await;
    assert_eq!(foreign.error(), "invalid_grant");
    let missing = h
        .token(STABLE, GOOD_BODY, &[("grant_type", "refresh_token")])
        .await;
    assert_eq!(missing.error(), "invalid_request");
    h.stop().await;
}

async fn revoke(h: &Harness, provider: &str, token: &str) -> u16 {
    h.http
        .post(h.url(&format!("/oauth/{provider}/revoke")))
        .form(&[("token", token), ("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn revoking_an_access_token_expires_only_it() {
    let h = start().await;
    let tokens = h.steady_tokens().await;
    assert_eq!(revoke(&h, STABLE, &tokens.access_token()).await, 200);
    assert_eq!(
        h.sandbox().check(STABLE, &tokens.access_token()),
        TokenStatus::Expired
    );
    let refreshed = h.refresh(STABLE, GOOD_BODY, &tokens.refresh_token()).await;
    assert_eq!(refreshed.status, 200);
    h.stop().await;
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_grant() {
    let h = start().await;
    let tokens = h.rotor_tokens().await;
    let refreshed = h
        .refresh(ROTATING, GOOD_BASIC, &tokens.refresh_token())
        .await;
    let other = h.rotor_tokens().await;
    assert_eq!(revoke(&h, ROTATING, &refreshed.refresh_token()).await, 200);
    for token in [tokens.access_token(), refreshed.access_token()] {
        assert_eq!(h.sandbox().check(ROTATING, &token), TokenStatus::Expired);
    }
    let after = h
        .refresh(ROTATING, GOOD_BASIC, &refreshed.refresh_token())
        .await;
    assert_eq!(after.error(), "invalid_grant");
    // Another authorization of the same provider is untouched.
    assert!(matches!(
        h.sandbox().check(ROTATING, &other.access_token()),
        TokenStatus::Valid { .. }
    ));
    h.stop().await;
}

#[tokio::test]
async fn revoking_unknown_or_foreign_tokens_is_still_200() {
    let h = start().await;
    let tokens = h.steady_tokens().await;
    assert_eq!(revoke(&h, STABLE, "never-issued").await, 200);
    assert_eq!(revoke(&h, ROTATING, &tokens.access_token()).await, 200);
    // Revocation is per provider: the other provider's endpoint did not touch it.
    assert!(matches!(
        h.sandbox().check(STABLE, &tokens.access_token()),
        TokenStatus::Valid { .. }
    ));
    h.stop().await;
}
