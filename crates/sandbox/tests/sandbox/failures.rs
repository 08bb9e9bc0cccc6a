//! Scripted token-endpoint failures (`POST /_sandbox/oauth/failures`): each kind
//! answers as documented, exactly `count` matching requests are hit, and only
//! requests of the scripted provider and grant type match.

use serde_json::json;

use crate::support::*;

async fn script(h: &Harness, provider: &str, grant_type: &str, error: &str, count: u32) {
    let (status, body) = h
        .control(
            "/_sandbox/oauth/failures",
            json!({"provider": provider, "grant_type": grant_type, "error": error, "count": count}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scripted"], count);
}

#[tokio::test]
async fn error_responses_answer_as_scripted_then_stop() {
    let h = start().await;
    let tokens = h.steady_tokens().await;
    let refresh_token = tokens.refresh_token();
    let cases = [
        ("invalid_grant", 400, "invalid_grant"),
        ("server_error", 500, "server_error"),
        ("temporarily_unavailable", 503, "temporarily_unavailable"),
        ("error_in_200", 200, "invalid_grant"),
    ];
    for (failure, status, error) in cases {
        script(&h, STABLE, "refresh_token", failure, 2).await;
        for _ in 0..2 {
            let answer = h.refresh(STABLE, GOOD_BODY, &refresh_token).await;
            assert_eq!(answer.status, status, "{failure}: {:?}", answer.body);
            assert_eq!(answer.error(), error, "{failure}");
            assert!(answer.body.get("access_token").is_none());
            assert!(
                answer.headers["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("application/json")
            );
        }
        // Exactly two requests were hit; the grant itself was left untouched.
        let answer = h.refresh(STABLE, GOOD_BODY, &refresh_token).await;
        assert_eq!(answer.status, 200, "{failure}: {:?}", answer.body);
    }
    h.stop().await;
}

#[tokio::test]
async fn missing_expires_in_and_comma_scopes_alter_a_success() {
    let h = start().await;
    script(&h, ROTATING, "authorization_code", "missing_expires_in", 1).await;
    let first = h.rotor_tokens().await;
    assert!(first.body.get("expires_in").is_none(), "{:?}", first.body);
    assert!(first.body.get("refresh_token").is_some());

    script(&h, ROTATING, "authorization_code", "comma_scopes", 1).await;
    let second = h.rotor_tokens().await;
    assert_eq!(second.body["scope"], "read,write");
    assert_eq!(second.body["expires_in"], 3600);

    let third = h.rotor_tokens().await;
    assert_eq!(third.body["scope"], "read write");
    h.stop().await;
}

#[tokio::test]
async fn failures_match_only_their_provider_and_grant_type() {
    let h = start().await;
    script(&h, STABLE, "refresh_token", "server_error", 1).await;
    // A code exchange of the same provider and a refresh of another are not hit.
    let steady = h.steady_tokens().await;
    let rotor = h.rotor_tokens().await;
    assert_eq!(
        h.refresh(ROTATING, GOOD_BASIC, &rotor.refresh_token())
            .await
            .status,
        200
    );
    assert_eq!(
        h.sandbox().snapshot().providers[STABLE].scripted_failures,
        1
    );
    let hit = h.refresh(STABLE, GOOD_BODY, &steady.refresh_token()).await;
    assert_eq!(hit.status, 500);
    assert_eq!(
        h.sandbox().snapshot().providers[STABLE].scripted_failures,
        0
    );
    h.stop().await;
}

#[tokio::test]
async fn a_scripted_invalid_grant_on_exchange_leaves_the_code_usable() {
    let h = start().await;
    script(&h, STABLE, "authorization_code", "invalid_grant", 1).await;
    let code = h.code(STABLE, "ads_read", None).await;
    assert_eq!(
        h.exchange(STABLE, GOOD_BODY, &code, None).await.error(),
        "invalid_grant"
    );
    assert_eq!(h.exchange(STABLE, GOOD_BODY, &code, None).await.status, 200);
    h.stop().await;
}

#[tokio::test]
async fn bad_failure_requests_are_refused() {
    let h = start().await;
    let cases = [
        (
            json!({"provider": "nope", "grant_type": "refresh_token", "error": "server_error"}),
            404,
            "unknown_provider",
        ),
        (
            json!({"provider": API_KEY, "grant_type": "refresh_token", "error": "server_error"}),
            404,
            "not_oauth2",
        ),
        (
            json!({"provider": STABLE, "grant_type": "password", "error": "server_error"}),
            400,
            "invalid_request",
        ),
        (
            json!({"provider": STABLE, "grant_type": "refresh_token", "error": "teapot"}),
            400,
            "invalid_request",
        ),
        (
            json!({"provider": STABLE, "grant_type": "refresh_token", "error": "server_error", "count": 0}),
            400,
            "invalid_request",
        ),
    ];
    for (body, status, error) in cases {
        let (got, answer) = h.control("/_sandbox/oauth/failures", body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert_eq!(answer["error"], error, "{body}");
    }
    h.stop().await;
}
