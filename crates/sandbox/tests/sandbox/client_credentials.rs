//! The token endpoint's client-credentials grant, for an entry whose users hold a
//! key pair: the pair the fake's catalog publishes gets a token the fake accepts;
//! a wrong pair, another grant, an unknown scope and a refresh are refused in the
//! RFC's words; scripted failures and token expiry work for it as for OAuth.

use junction_core::fake::{TokenAuthority, TokenStatus};
use junction_sandbox::{GrantType, TokenFailure};

use crate::support::{ClientAuth, KEY_PAIR, PAIR_ID, PAIR_SECRET, ROTATING, start};

const GRANT: &[(&str, &str)] = &[("grant_type", "client_credentials")];

#[tokio::test]
async fn the_published_pair_gets_a_token_the_fake_accepts() {
    let h = start().await;
    for auth in [
        ClientAuth::Body(PAIR_ID, PAIR_SECRET),
        ClientAuth::Basic(PAIR_ID, PAIR_SECRET),
    ] {
        let answer = h.token(KEY_PAIR, auth, GRANT).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        assert_eq!(answer.body["token_type"], "Bearer");
        assert_eq!(answer.body["expires_in"], 3600);
        assert_eq!(answer.body["scope"], "surveys:read users:delete");
        assert!(
            answer.body.get("refresh_token").is_none(),
            "RFC 6749 §4.4.3"
        );
        let token = answer.access_token();
        assert_eq!(
            h.sandbox().check(KEY_PAIR, &token),
            TokenStatus::Valid {
                scopes: vec!["surveys:read".into(), "users:delete".into()]
            }
        );
        // The fake sees it as valid, with its scopes.
        let response = h
            .http
            .get(h.url("/paired/v1/sites/1/surveys"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        assert!(matches!(
            h.paired_fake.last().token,
            Some(TokenStatus::Valid { .. })
        ));
        // A token of this entry is no token of another.
        assert_eq!(h.sandbox().check(ROTATING, &token), TokenStatus::Unknown);
    }
    let narrower = h
        .token(
            KEY_PAIR,
            ClientAuth::Body(PAIR_ID, PAIR_SECRET),
            &[
                ("grant_type", "client_credentials"),
                ("scope", "surveys:read"),
            ],
        )
        .await;
    assert_eq!(narrower.body["scope"], "surveys:read");
}

#[tokio::test]
async fn wrong_pairs_grants_and_scopes_are_refused() {
    let h = start().await;
    let wrong = h
        .token(KEY_PAIR, ClientAuth::Body(PAIR_ID, "not-the-secret"), GRANT)
        .await;
    assert_eq!((wrong.status, wrong.error()), (401, "invalid_client"));
    let nothing = h.token(KEY_PAIR, ClientAuth::Nothing, GRANT).await;
    assert_eq!((nothing.status, nothing.error()), (401, "invalid_client"));
    let refresh = h
        .token(
            KEY_PAIR,
            ClientAuth::Body(PAIR_ID, PAIR_SECRET),
            &[("grant_type", "refresh_token"), ("refresh_token", "x")],
        )
        .await;
    assert_eq!(
        (refresh.status, refresh.error()),
        (400, "unsupported_grant_type")
    );
    let scope = h
        .token(
            KEY_PAIR,
            ClientAuth::Body(PAIR_ID, PAIR_SECRET),
            &[("grant_type", "client_credentials"), ("scope", "admin")],
        )
        .await;
    assert_eq!((scope.status, scope.error()), (400, "invalid_scope"));
    // The OAuth client of the authorization-code entries is not a key pair here,
    // and this grant is not served to an authorization-code entry.
    let oauth_client = h.token(KEY_PAIR, crate::support::GOOD_BODY, GRANT).await;
    assert_eq!(oauth_client.error(), "invalid_client");
    let other_entry = h.token(ROTATING, crate::support::GOOD_BASIC, GRANT).await;
    assert_eq!(
        (other_entry.status, other_entry.error()),
        (400, "unsupported_grant_type")
    );
}

#[tokio::test]
async fn scripted_failures_and_expiry_apply_to_the_grant() {
    let h = start().await;
    h.sandbox()
        .script_token_failure(
            KEY_PAIR,
            GrantType::ClientCredentials,
            TokenFailure::TemporarilyUnavailable,
            1,
        )
        .unwrap();
    let failed = h
        .token(KEY_PAIR, ClientAuth::Body(PAIR_ID, PAIR_SECRET), GRANT)
        .await;
    assert_eq!(
        (failed.status, failed.error()),
        (503, "temporarily_unavailable")
    );
    let answer = h
        .token(KEY_PAIR, ClientAuth::Body(PAIR_ID, PAIR_SECRET), GRANT)
        .await;
    let token = answer.access_token();
    assert_eq!(h.sandbox().expire_tokens(KEY_PAIR).unwrap(), 1);
    assert_eq!(h.sandbox().check(KEY_PAIR, &token), TokenStatus::Expired);
}
