//! Shared fixtures: connections holding the credentials a test gives them.

use junction_core::{Connection, IntegrationId, WorkspaceId};
use secrecy::SecretString;
use serde_json::json;

/// A connection with the access token `token`, reading 30 days back.
pub fn connection(token: &str) -> Connection {
    let token = SecretString::from(token.to_owned());
    with(
        json!({"lookback_days": 30}),
        Default::default(),
        Some(token),
    )
}

/// A connection with a made-up token (wiremock takes any).
pub fn any() -> Connection {
    connection("test-token")
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
