//! Shared fixtures: connections holding the credentials a test gives them.

use junction_core::{Connection, IntegrationId, WorkspaceId};
use secrecy::SecretString;
use serde_json::json;

/// A connection as `username` with `password`, reading 30 days back.
pub fn connection(username: &str, password: &str) -> Connection {
    let secrets = [(
        "password".to_owned(),
        SecretString::from(password.to_owned()),
    )];
    let config = json!({"lookback_days": 30, "username": username});
    with(config, secrets.into(), None)
}

/// A connection with a made-up login (wiremock takes any).
pub fn any() -> Connection {
    connection("tester", "test-password")
}

fn with(
    config: serde_json::Value,
    secrets: std::collections::BTreeMap<String, SecretString>,
    access_token: Option<SecretString>,
) -> Connection {
    Connection {
        workspace_id: WorkspaceId::new(),
        integration_id: IntegrationId::new(),
        config: config.as_object().cloned().unwrap(),
        secrets,
        access_token,
        token_expires_at: None,
    }
}
