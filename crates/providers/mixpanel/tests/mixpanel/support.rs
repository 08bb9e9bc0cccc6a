//! Shared fixtures: connections holding the credentials and settings a test gives.

use junction_core::{Connection, IntegrationId, WorkspaceId};
use secrecy::SecretString;
use serde_json::{Value, json};

/// A connection as the service account `username` with `secret`, reading
/// `project_id`, with `extra` settings on top and the secret settings of
/// `secrets` (the project token).
pub fn connection_with(
    username: &str,
    secret: &str,
    extra: Value,
    secrets: &[(&str, &str)],
) -> Connection {
    let mut config = json!({
        "username": username,
        "project_id": "2195193",
        "lookback_days": 3,
    });
    for (key, value) in extra.as_object().cloned().unwrap_or_default() {
        config[key] = value;
    }
    let mut all = vec![("secret".to_owned(), SecretString::from(secret.to_owned()))];
    all.extend(
        secrets
            .iter()
            .map(|(k, v)| ((*k).to_owned(), SecretString::from((*v).to_owned()))),
    );
    Connection {
        workspace_id: WorkspaceId::new(),
        integration_id: IntegrationId::new(),
        config: config.as_object().cloned().unwrap(),
        secrets: all.into_iter().collect(),
        access_token: None,
        token_expires_at: None,
    }
}

/// A connection with `extra` settings and a made-up login (wiremock takes any).
pub fn any(extra: Value) -> Connection {
    connection_with("tester", "test-secret", extra, &[])
}
