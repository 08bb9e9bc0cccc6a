//! The setup step through the API: GA4 and Meta Ads connected through OAuth without
//! their provider-listed setting are `needs_setup` (shown with `setup.missing`,
//! never scheduled, syncs refused with `integration_needs_setup`) until a PATCH
//! with a listed value makes them active and due for their first sync.

use junction_app::{App, Role, config::Config};
use junction_registry::Registry;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::*;

/// Connects `provider` through the whole OAuth flow with `config`.
async fn connect(app: &TestApp, provider: &str, config: Value) -> Uuid {
    let response = app
        .post(&format!("/v1/connect/{provider}"))
        .json(&json!({"config": config}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let body: Value = response.json().await.unwrap();
    let authorize = url::Url::parse(body["authorize_url"].as_str().unwrap()).unwrap();
    let callback = app.consent(&authorize, "approve").await;
    let response = app.callback(&callback).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "connected");
    body["integration_id"].as_str().unwrap().parse().unwrap()
}

async fn integration(app: &TestApp, id: Uuid) -> Value {
    let response = app
        .get(&format!("/v1/integrations/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The values of a field's choices.
async fn choices(app: &TestApp, id: Uuid, field: &str) -> Vec<String> {
    let response = app
        .get(&format!("/v1/integrations/{id}/options/{field}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let body: Value = response.json().await.unwrap();
    body["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["value"].as_str().unwrap().to_owned())
        .collect()
}

async fn worker_app(app: &TestApp) -> App {
    let config = Config::from_figment(app.figment.clone()).unwrap();
    App::connect(config, Registry::builtin(), Role::Worker)
        .await
        .unwrap()
}

#[tokio::test]
async fn ga4_connected_first_is_completed_by_a_patch_with_a_listed_property() {
    let app = TestApp::spawn().await;
    let id = connect(&app, "google-analytics", json!({"dimensions": "country"})).await;
    let view = integration(&app, id).await;
    assert_eq!(view["status"], "needs_setup", "{view}");
    assert_eq!(view["setup"], json!({"missing": ["property_id"]}));
    assert_eq!(view["next_sync_at"], Value::Null);
    assert_eq!(view["health"]["status"], "healthy");
    assert_eq!(view["config"], json!({"dimensions": "country"}));

    // Never scheduled; a sync is refused with its own code.
    let worker = worker_app(&app).await;
    assert_eq!(worker.scheduler_pass().await.unwrap().claimed, 0);
    let response = app
        .post(&format!("/v1/integrations/{id}/sync"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "integration_needs_setup", "{problem}");

    let listed = choices(&app, id, "property_id").await;
    assert_eq!(listed, ["123456789", "987654321", "555000111"]);

    // A property the account does not list: refused by the field, nothing changed.
    let response = app
        .patch(&format!("/v1/integrations/{id}"))
        .json(&json!({"config": {"property_id": "111", "dimensions": "city"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "property_id", "{problem}");
    let unchanged = integration(&app, id).await;
    assert_eq!(unchanged["status"], "needs_setup");
    assert_eq!(unchanged["config"], json!({"dimensions": "country"}));

    // A listed one completes it.
    let response = app
        .patch(&format!("/v1/integrations/{id}"))
        .json(&json!({"config": {"property_id": listed[1], "dimensions": "country"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["status"], "active", "{view}");
    assert_eq!(view["setup"], Value::Null);
    assert!(view["next_sync_at"].is_string(), "{view}");
    assert_eq!(view["health"]["message"], "GA4 property 987654321");

    // Its first sync is due at once: the scheduler starts it.
    let pass = worker.scheduler_pass().await.unwrap();
    assert_eq!(pass.claimed, 1, "{pass:?}");
    assert_eq!(pass.enqueued.len(), 1, "{pass:?}");
    assert_eq!(pass.enqueued[0].0, id);
}

#[tokio::test]
async fn meta_ads_connected_first_checks_the_user_and_lists_ad_accounts() {
    let app = TestApp::spawn().await;
    let id = connect(&app, "meta-ads", json!({})).await;
    let view = integration(&app, id).await;
    assert_eq!(view["status"], "needs_setup", "{view}");
    assert_eq!(view["setup"], json!({"missing": ["ad_account_id"]}));
    assert_eq!(view["health"]["status"], "healthy");
    assert!(
        view["health"]["message"]
            .as_str()
            .unwrap()
            .contains("Sandbox Advertiser"),
        "{view}"
    );
    // Testing the connection reads the user, not an account.
    let response = app
        .post(&format!("/v1/integrations/{id}/test"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let tested: Value = response.json().await.unwrap();
    assert_eq!(tested["healthy"], true, "{tested}");

    let listed = choices(&app, id, "ad_account_id").await;
    assert!(!listed.is_empty());
    let response = app
        .patch(&format!("/v1/integrations/{id}"))
        .json(&json!({"config": {"ad_account_id": listed[0]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["status"], "active", "{view}");
    assert!(view["next_sync_at"].is_string());
}
