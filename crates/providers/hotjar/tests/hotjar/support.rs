//! Shared fixtures: connections holding the access token a test gives them, for
//! the sandbox's organization and both its sites.

use junction_core::{Connection, IntegrationId, WorkspaceId};
use junction_hotjar::sandbox::{ORGANIZATION, SITE_DOCS, SITE_MAIN};
use secrecy::SecretString;
use serde_json::json;

/// A connection with the access token `token` (what Junction obtained with the key
/// pair), reading both sandbox sites.
pub fn connection(token: &str) -> Connection {
    with_sites(token, &format!("{SITE_MAIN}, {SITE_DOCS}"))
}

/// A connection with the access token `token` reading `sites`.
pub fn with_sites(token: &str, sites: &str) -> Connection {
    Connection {
        workspace_id: WorkspaceId::new(),
        integration_id: IntegrationId::new(),
        config: json!({"organization_id": ORGANIZATION, "site_ids": sites})
            .as_object()
            .cloned()
            .unwrap(),
        secrets: Default::default(),
        access_token: Some(SecretString::from(token.to_owned())),
        token_expires_at: None,
    }
}

/// A connection with a made-up token (wiremock takes any).
pub fn any() -> Connection {
    connection("test-token")
}
