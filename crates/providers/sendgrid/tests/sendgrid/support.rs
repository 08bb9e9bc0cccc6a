//! Shared fixtures: connections holding the credentials a test gives them.

use junction_core::{Connection, IntegrationId, WorkspaceId};
use secrecy::SecretString;
use serde_json::json;

/// A connection with the API key `key`, reading 30 days back.
pub fn connection(key: &str) -> Connection {
    let secrets = [("api_key".to_owned(), SecretString::from(key.to_owned()))];
    with(json!({"lookback_days": 30}), secrets.into(), None)
}

/// A connection with a made-up key (wiremock takes any).
pub fn any() -> Connection {
    connection("test_key")
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
