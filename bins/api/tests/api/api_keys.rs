//! The API process's cache of verified API keys: a key verified a moment ago is
//! not read again, and a key revoked anywhere is refused as soon as its revocation
//! commits (the trigger's announcement drops it), or as soon as the process stops
//! hearing announcements (it then reads every key again).

use std::time::Duration;

use reqwest::Response;
use secrecy::ExposeSecret;

use crate::support::{TestApp, assert_problem, first_refusal};

/// The API's `junction_api_key_cache_listening` gauge.
async fn listening(app: &TestApp) -> Option<bool> {
    app.metrics_text()
        .await
        .lines()
        .find_map(|line| line.strip_prefix("junction_api_key_cache_listening "))
        .map(|value| value.trim() == "1")
}

/// Waits until the API hears announcements (or stops hearing them).
async fn until_listening(app: &TestApp, wanted: bool) {
    for _ in 0..200 {
        if listening(app).await == Some(wanted) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the API's key cache never became listening = {wanted}");
}

async fn integrations(app: &TestApp, key: &str) -> Response {
    app.client
        .get(format!("{}/v1/integrations", app.url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_verified_key_is_not_read_again_while_the_api_listens() {
    let app = TestApp::spawn().await;
    until_listening(&app, true).await;
    assert_eq!(integrations(&app, &app.api_key).await.status(), 200);

    // Revoked without the announcement: only the cache still says yes.
    app.db
        .execute_as_owner("ALTER TABLE api_keys DISABLE TRIGGER api_keys_announce_change")
        .await;
    let mut tx = app.db.store().begin(app.workspace).await.unwrap();
    let keys = junction_store::repo::api_keys::list(tx.conn())
        .await
        .unwrap();
    junction_store::repo::api_keys::revoke(tx.conn(), keys[0].id)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        integrations(&app, &app.api_key).await.status(),
        200,
        "the key verified a moment ago is served from the cache"
    );

    // Once the listening connection is gone, nothing is served from the cache.
    let terminated = app
        .db
        .execute_as_owner(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = 'junction-api (API keys)'",
        )
        .await;
    assert_eq!(terminated, 1, "one listening connection per API process");
    assert_problem(
        first_refusal(&app, &app.api_key, Duration::from_secs(10)).await,
        401,
        "api_key_revoked",
    )
    .await;

    // It listens again, and starts from an empty cache.
    until_listening(&app, true).await;
    assert_problem(
        integrations(&app, &app.api_key).await,
        401,
        "api_key_revoked",
    )
    .await;
}

#[tokio::test]
async fn a_key_revoked_anywhere_is_refused_at_once_though_cached() {
    let app = TestApp::spawn().await;
    until_listening(&app, true).await;
    let (second, secret) =
        junction_app::workspaces::create_api_key(app.db.store(), app.workspace, "second")
            .await
            .unwrap();
    let secret = secret.expose_secret().to_owned();
    assert_eq!(integrations(&app, &secret).await.status(), 200);
    assert_eq!(integrations(&app, &secret).await.status(), 200);

    // Revoked as `junction api-key revoke` does it, from another process: refused
    // well within the 30 s a verified key otherwise serves.
    junction_app::workspaces::revoke_api_key(app.db.store(), app.workspace, second.id)
        .await
        .unwrap();
    assert_problem(
        first_refusal(&app, &secret, Duration::from_secs(5)).await,
        401,
        "api_key_revoked",
    )
    .await;
    // The workspace's other key is untouched.
    assert_eq!(integrations(&app, &app.api_key).await.status(), 200);
}
