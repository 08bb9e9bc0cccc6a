//! Shared fixtures: connections holding the credentials a test gives them.

use junction_core::{Connection, IntegrationId, WorkspaceId};
use secrecy::SecretString;
use serde_json::{Value, json};

/// A connection with the API key `key`, reading 30 days back.
pub fn connection(key: &str) -> Connection {
    keyed(key, json!({"lookback_days": 30}))
}

/// A connection with a made-up key (wiremock takes any).
pub fn any() -> Connection {
    connection("test_key")
}

/// A connection with a made-up key and `config`.
pub fn with_config(config: Value) -> Connection {
    keyed("test_key", config)
}

fn keyed(key: &str, config: Value) -> Connection {
    let secrets = [("api_key".to_owned(), SecretString::from(key.to_owned()))];
    Connection {
        workspace_id: WorkspaceId::new(),
        integration_id: IntegrationId::new(),
        config: config.as_object().cloned().unwrap(),
        secrets: secrets.into(),
        access_token: None,
        token_expires_at: None,
    }
}
