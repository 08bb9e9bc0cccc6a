//! `/healthz`, the index page, `/_sandbox/state` (counts without token values) and
//! `/_sandbox/reset`.

use junction_core::fake::{TokenAuthority, TokenStatus};
use junction_sandbox::{CLIENT_ID, CLIENT_SECRET};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn healthz_is_ok() {
    let h = start().await;
    let response = h.get(h.url("/healthz")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
    h.stop().await;
}

#[tokio::test]
async fn the_index_lists_providers_urls_credentials_and_controls() {
    let h = start().await;
    let response = h.get(h.url("/")).await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    let base = h.running.base_url();
    for expected in [
        format!("{base}/oauth/rotor/authorize"),
        format!("{base}/oauth/rotor/token"),
        format!("{base}/oauth/steady/revoke"),
        format!("{base}/keyed/"),
        CLIENT_ID.to_owned(),
        CLIENT_SECRET.to_owned(),
        "/_sandbox/faults".to_owned(),
        "/_sandbox/oauth/failures".to_owned(),
        "/_sandbox/tokens/expire".to_owned(),
        "/_sandbox/latency".to_owned(),
        "/_sandbox/reset".to_owned(),
        "/_sandbox/state".to_owned(),
        "Rotor &lt;Analytics&gt;".to_owned(),
    ] {
        assert!(
            page.contains(&expected),
            "{expected} missing from the index"
        );
    }
    assert!(!page.contains("<Analytics>"));
    h.stop().await;
}

#[tokio::test]
async fn state_counts_without_token_values_and_reset_clears_everything() {
    let h = start().await;
    let tokens = h.rotor_tokens().await;
    let _pending = h.code(STABLE, "ads_read", None).await;
    h.sandbox()
        .arm_fault(API_KEY, junction_core::fake::Fault::ServerError, 2)
        .unwrap();
    let (status, _) = h
        .control(
            "/_sandbox/oauth/failures",
            json!({"provider": STABLE, "grant_type": "refresh_token", "error": "server_error", "count": 3}),
        )
        .await;
    assert_eq!(status, 200);

    let response = h.get(h.url("/_sandbox/state")).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(!text.contains(&tokens.access_token()));
    assert!(!text.contains(&tokens.refresh_token()));
    let state: serde_json::Value = serde_json::from_str(&text).unwrap();
    let rotor = &state["providers"][ROTATING];
    assert_eq!(rotor["access_tokens_issued"], 1);
    assert_eq!(rotor["access_tokens_valid"], 1);
    assert_eq!(rotor["refresh_tokens_active"], 1);
    assert_eq!(state["providers"][STABLE]["pending_codes"], 1);
    assert_eq!(state["providers"][STABLE]["scripted_failures"], 3);
    assert_eq!(state["providers"][API_KEY]["armed_faults"], 2);

    let (status, _) = h.control("/_sandbox/reset", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        h.sandbox().check(ROTATING, &tokens.access_token()),
        TokenStatus::Unknown
    );
    let refresh = h
        .refresh(ROTATING, GOOD_BASIC, &tokens.refresh_token())
        .await;
    assert_eq!(refresh.error(), "invalid_grant");
    let state: serde_json::Value = h.get(h.url("/_sandbox/state")).await.json().await.unwrap();
    for (id, counts) in state["providers"].as_object().unwrap() {
        for (name, value) in counts.as_object().unwrap() {
            assert_eq!(value, 0, "{id}.{name} after reset");
        }
    }
    assert_eq!(h.call_fake("/keyed/x", None).await.status(), 201);
    h.stop().await;
}

#[tokio::test]
async fn latency_delays_every_answer_of_one_fake_without_blocking_the_rest() {
    let h = start().await;
    let (status, body) = h
        .control(
            "/_sandbox/latency",
            json!({"provider": API_KEY, "millis": 400}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let state: serde_json::Value = h.get(h.url("/_sandbox/state")).await.json().await.unwrap();
    assert_eq!(state["providers"][API_KEY]["latency_millis"], 400);

    // A slow fake answer and, meanwhile, a control call that must not wait for it.
    let started = std::time::Instant::now();
    let (slow, fast) = tokio::join!(h.call_fake("/keyed/x", None), async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let response = h.get(h.url("/healthz")).await;
        (response.status(), started.elapsed())
    });
    assert_eq!(slow.status(), 201);
    assert!(started.elapsed() >= std::time::Duration::from_millis(400));
    assert_eq!(fast.0, 200);
    assert!(
        fast.1 < std::time::Duration::from_millis(350),
        "the health check waited {:?}",
        fast.1
    );

    let (status, _) = h
        .control(
            "/_sandbox/latency",
            json!({"provider": API_KEY, "millis": 0}),
        )
        .await;
    assert_eq!(status, 200);
    let started = std::time::Instant::now();
    assert_eq!(h.call_fake("/keyed/x", None).await.status(), 201);
    assert!(started.elapsed() < std::time::Duration::from_millis(400));

    let (status, body) = h
        .control(
            "/_sandbox/latency",
            json!({"provider": "nope", "millis": 10}),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "unknown_provider");
    let (status, _) = h
        .control("/_sandbox/latency", json!({"provider": API_KEY}))
        .await;
    assert_eq!(status, 400);
    h.stop().await;
}

#[tokio::test]
async fn unknown_control_paths_and_wrong_methods_are_refused() {
    let h = start().await;
    let response = h.get(h.url("/_sandbox/nothing")).await;
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    assert_eq!(h.get(h.url("/_sandbox/reset")).await.status(), 405);
    h.stop().await;
}
