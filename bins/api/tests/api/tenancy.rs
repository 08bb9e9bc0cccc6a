//! Tenancy at the API: a filter naming another workspace's integration is 404 on
//! every list; job figures are the workspace's own for a workspace key and the
//! installation's for an operator key, which opens nothing else.

use junction_app::workspaces::Operator;
use junction_testkit::{create_integration, create_workspace};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use std::time::Duration;

use crate::support::*;

#[tokio::test]
async fn a_filter_on_another_workspaces_integration_is_404_on_every_list() {
    let app = TestApp::spawn().await;
    let (other, _) = create_workspace(app.db.store(), "Other").await;
    let foreign = create_integration(app.db.store(), other, "stripe").await.id;
    let own = create_integration(app.db.store(), app.workspace, "stripe")
        .await
        .id;

    for path in [
        format!("/v1/kpis?metric=gross_revenue&integration_id={foreign}"),
        format!("/v1/webhook-events?integration_id={foreign}"),
        format!("/v1/dead-letters?integration_id={foreign}"),
        format!("/v1/records?integration_id={foreign}&stream=charges"),
    ] {
        let response = app.get(&path).send().await.unwrap();
        assert_problem(response, 404, "integration_not_found").await;
    }
    let response = app
        .post("/v1/dead-letters/replay")
        .json(&json!({"integration_id": foreign}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "integration_not_found").await;

    // The workspace's own integration: an empty page, not a 404.
    for path in [
        format!("/v1/webhook-events?integration_id={own}"),
        format!("/v1/dead-letters?integration_id={own}"),
    ] {
        let response = app.get(&path).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
}

async fn stats(app: &TestApp, key: &str) -> reqwest::Response {
    app.client
        .get(format!("{}/v1/jobs/stats", app.url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

fn queue<'a>(stats: &'a Value, name: &str) -> &'a Value {
    stats["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == name)
        .unwrap()
}

#[tokio::test]
async fn job_figures_are_the_workspaces_own_and_installation_wide_only_for_an_operator() {
    let app = TestApp::spawn().await;
    let (other, other_key) = create_workspace(app.db.store(), "Other").await;
    // Two runs queued in the other workspace, one in this one.
    let mut ids = Vec::new();
    for workspace in [other, other, app.workspace] {
        let integration = create_integration(app.db.store(), workspace, "stripe").await;
        ids.push(integration.id);
        app.db
            .execute(&format!(
                "INSERT INTO sync_runs (workspace_id, integration_id, trigger, status) \
                 VALUES ('{workspace}', '{}', 'manual', 'queued')",
                integration.id
            ))
            .await;
    }

    let mine: Value = stats(&app, &app.api_key).await.json().await.unwrap();
    assert_eq!(mine["scope"], "workspace");
    assert_eq!(queue(&mine, "sync")["pending"], 1, "{mine}");
    let theirs: Value = stats(&app, other_key.expose_secret())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(queue(&theirs, "sync")["pending"], 2, "{theirs}");

    // An operator key reads the queues of the whole installation…
    let key = app.operator_key().await;
    let operator = Operator::connect(app.db.url().clone(), Duration::from_secs(5))
        .await
        .unwrap();
    let row = operator.operator_keys().await.unwrap().remove(0);
    assert!(key.starts_with("jop_"));
    let response = stats(&app, &key).await;
    assert_eq!(response.status(), 200);
    let installation: Value = response.json().await.unwrap();
    assert_eq!(installation["scope"], "installation");
    let names: Vec<&str> = installation["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["queue"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sync", "action", "webhook", "notify", "outbound"]);

    // …and nothing of any workspace.
    let response = app
        .client
        .get(format!("{}/v1/integrations", app.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_problem(response, 403, "forbidden").await;

    // Revoked, it is refused as such; an unknown one as unknown.
    operator.revoke_operator_key(row.id).await.unwrap();
    assert_problem(stats(&app, &key).await, 401, "api_key_revoked").await;
    assert_problem(stats(&app, "jop_nope").await, 401, "unauthenticated").await;
}
