//! The setup step: an OAuth integration connected without its provider-listed
//! setting (GA4's property) waits as `needs_setup` — checked, never scheduled,
//! syncs refused — until a PATCH of its config picks a listed value, which makes it
//! active with its first sync due at once and `connection.created` sent.

use std::time::Duration;

use junction_app::{
    connect::{NewOAuthConnection, OAuthCallback},
    integrations::IntegrationChanges,
    outbound::endpoints::EndpointInput,
};
use junction_core::ErrorCode;
use junction_store::models::{Health, IntegrationStatus, RunStatus, SyncTrigger};
use serde_json::{Map, Value, json};
use url::Url;

use crate::support::*;

const RUN_TIMEOUT: Duration = Duration::from_secs(30);

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

/// Approves the sandbox's consent page and returns its redirect as a callback.
async fn approve(env: &TestEnv, authorize_url: &str) -> OAuthCallback {
    let mut url = Url::parse(authorize_url).unwrap();
    url.query_pairs_mut().append_pair("decision", "approve");
    let response = env.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let location = Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let get = |name: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    OAuthCallback {
        code: get("code"),
        state: get("state"),
        error: get("error"),
        error_description: get("error_description"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ga4_connects_without_a_property_and_a_patch_with_a_listed_one_completes_it() {
    let env = TestEnv::new().await;
    let app = env.app(env.config(&[])).await;
    let workspace = env.workspace("Setup").await;
    app.create_webhook_endpoint(
        workspace,
        EndpointInput {
            url: Some("https://hooks.example.invalid/junction".into()),
            event_types: Some(vec!["connection.created".into()]),
            ..EndpointInput::default()
        },
    )
    .await
    .unwrap();
    let created_events =
        "SELECT count(*) AS n FROM outbound_events WHERE event_type = 'connection.created'";

    // Any other field is still checked when the property is left out.
    let error = app
        .start_oauth(
            workspace,
            NewOAuthConnection {
                provider: GA4.into(),
                config: object(json!({"lookback_days": "many"})),
                ..NewOAuthConnection::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::ValidationFailed);
    assert_eq!(error.fields.len(), 1, "{error:?}");
    assert_eq!(error.fields[0].field, "lookback_days");

    // Connected first, the property left for the setup step (a blank one too).
    let flow = app
        .start_oauth(
            workspace,
            NewOAuthConnection {
                provider: GA4.into(),
                config: object(json!({"property_id": " ", "dimensions": "country"})),
                ..NewOAuthConnection::default()
            },
        )
        .await
        .unwrap();
    let outcome = app
        .finish_oauth(None, approve(&env, &flow.authorize_url).await)
        .await;
    let id = outcome.result.unwrap();
    let details = app.integration(workspace, id).await.unwrap();
    let integration = &details.integration;
    assert_eq!(integration.status, IntegrationStatus::NeedsSetup);
    assert_eq!(details.setup_missing, vec!["property_id"]);
    assert_eq!(integration.config, json!({"dimensions": "country"}));
    assert_eq!(integration.next_sync_at, None);
    // Checked as far as it can be without a property: the grant lists accounts.
    assert_eq!(integration.health, Health::Healthy);
    assert!(
        integration
            .health_message
            .as_deref()
            .unwrap_or_default()
            .contains("setup pending"),
        "{integration:?}"
    );
    assert!(details.secret_fields.iter().any(|f| f == "access_token"));
    assert_eq!(env.count(created_events).await, 0);
    let logs = env.logs(workspace, id).await;
    assert!(
        logs.iter()
            .any(|log| log.message.contains("setup pending: choose property_id")),
        "{logs:?}"
    );

    // Never scheduled, and a sync request is refused with its own code.
    let pass = app.scheduler_pass().await.unwrap();
    assert_eq!(pass.claimed, 0);
    let error = app
        .start_sync(workspace, id, None, SyncTrigger::Manual)
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::IntegrationNeedsSetup);
    assert_eq!(error.code.http_status(), 409);
    // A health check works without the property too.
    let checked = app.check_integration(workspace, id).await.unwrap();
    assert!(checked.outcome.is_ok(), "{:?}", checked.outcome);

    // The choices, from the fake Admin API's account summaries.
    let options = app
        .field_options(workspace, id, "property_id")
        .await
        .unwrap();
    let values: Vec<&str> = options.iter().map(|o| o.value.as_str()).collect();
    assert_eq!(values, vec![PROPERTY, "987654321", "555000111"]);

    // Settings that leave the property out keep it waiting.
    let kept = app
        .update_integration(
            workspace,
            id,
            IntegrationChanges {
                config: Some(object(
                    json!({"dimensions": "country", "lookback_days": 10}),
                )),
                ..IntegrationChanges::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(kept.integration.status, IntegrationStatus::NeedsSetup);
    assert_eq!(kept.setup_missing, vec!["property_id"]);
    assert_eq!(kept.integration.next_sync_at, None);

    // A value that is not among the choices (or not a property id at all) is
    // refused by the field, nothing changed.
    for wrong in ["111", "G-1"] {
        let error = app
            .update_integration(
                workspace,
                id,
                IntegrationChanges {
                    config: Some(object(json!({"property_id": wrong, "dimensions": "city"}))),
                    ..IntegrationChanges::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(
            error.code,
            ErrorCode::ValidationFailed,
            "{wrong}: {error:?}"
        );
        assert_eq!(error.fields[0].field, "property_id");
        let unchanged = env.integration(workspace, id).await;
        assert_eq!(unchanged.status, IntegrationStatus::NeedsSetup);
        assert_eq!(
            unchanged.config,
            json!({"dimensions": "country", "lookback_days": 10})
        );
    }
    assert_eq!(env.count(created_events).await, 0);

    // A listed property completes it: active, due at once, `connection.created`.
    let completed = app
        .update_integration(
            workspace,
            id,
            IntegrationChanges {
                config: Some(object(
                    json!({"property_id": "987654321", "dimensions": "country", "lookback_days": 10}),
                )),
                ..IntegrationChanges::default()
            },
        )
        .await
        .unwrap();
    let integration = &completed.integration;
    assert_eq!(integration.status, IntegrationStatus::Active);
    assert!(completed.setup_missing.is_empty());
    assert!(integration.next_sync_at.is_some());
    assert_eq!(
        integration.health_message.as_deref(),
        Some("GA4 property 987654321")
    );
    assert_eq!(env.count(created_events).await, 1);
    let logs = env.logs(workspace, id).await;
    assert!(
        logs.iter()
            .any(|log| log.message.starts_with("setup complete")),
        "{logs:?}"
    );

    // The scheduler starts its first sync, which writes records.
    let _worker = env.start_worker(env.config(&[])).await;
    let run = env.wait_run_ended(workspace, id, RUN_TIMEOUT).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(run.trigger, SyncTrigger::Schedule);
    assert!(run.records_written > 0, "{run:?}");
    let records = env
        .count(&format!(
            "SELECT count(*) AS n FROM records WHERE integration_id = '{id}'"
        ))
        .await;
    assert_eq!(records, run.records_written);

    // A secret setting (the Measurement Protocol's API secret) travels in a PATCHed
    // config: sealed with the credentials, kept out of the config, its name listed.
    let bad = app
        .update_integration(
            workspace,
            id,
            IntegrationChanges {
                config: Some(object(json!({"property_id": "987654321",
                    "measurement_id": "G-SANDBOX01", "api_secret": "not a secret!"}))),
                ..IntegrationChanges::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(bad.code, ErrorCode::ValidationFailed);
    assert_eq!(bad.fields[0].field, "api_secret");
    assert!(!format!("{bad:?}").contains("not a secret!"));
    assert!(!env.secrets(workspace, id).await.contains_key("api_secret"));
    let config = json!({"property_id": "987654321", "measurement_id": "G-SANDBOX01"});
    let mut with_secret = object(config.clone());
    with_secret.insert("api_secret".into(), json!("mp-SECRET_0123456789"));
    let updated = app
        .update_integration(
            workspace,
            id,
            IntegrationChanges {
                config: Some(with_secret),
                ..IntegrationChanges::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.integration.config, config);
    assert!(updated.secret_fields.iter().any(|f| f == "api_secret"));
    assert_eq!(
        env.secrets(workspace, id).await["api_secret"],
        "mp-SECRET_0123456789"
    );
    // A config without it leaves it as it is; the token stays too.
    app.update_integration(
        workspace,
        id,
        IntegrationChanges {
            config: Some(object(config)),
            ..IntegrationChanges::default()
        },
    )
    .await
    .unwrap();
    let secrets = env.secrets(workspace, id).await;
    assert_eq!(secrets["api_secret"], "mp-SECRET_0123456789");
    assert!(secrets.contains_key("access_token"));
    let logs = env.logs(workspace, id).await;
    assert!(!format!("{logs:?}").contains("mp-SECRET"));
}
