//! Fixtures of the unit tests.

use std::time::Duration;

use junction_core::{
    Connection, IntegrationId, WorkspaceId,
    spec::{
        AuthSpec, Category, OAuth2Spec, ProviderSpec, RateBudget, RefreshBehaviour, TokenClientAuth,
    },
};
use secrecy::SecretString;

/// A connection holding the secrets `pairs`, no config, no token.
pub fn connection(pairs: &[(&str, &str)]) -> Connection {
    Connection {
        workspace_id: WorkspaceId::new(),
        integration_id: IntegrationId::new(),
        config: serde_json::Map::new(),
        secrets: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), SecretString::from(*v)))
            .collect(),
        access_token: None,
        token_expires_at: None,
    }
}

/// Builders on test connections.
pub trait TestConnection {
    fn with_token(self, token: &str) -> Self;
}

impl TestConnection for Connection {
    fn with_token(mut self, token: &str) -> Self {
        self.access_token = Some(SecretString::from(token));
        self
    }
}

/// A provider spec with `auth`.
pub fn spec_with(auth: AuthSpec) -> ProviderSpec {
    ProviderSpec {
        id: "example",
        name: "Example",
        category: Category::Analytics,
        auth,
        config: vec![],
        streams: vec![],
        actions: vec![],
        webhook: None,
        rate_limit: RateBudget {
            requests: 100,
            per: Duration::from_secs(1),
            concurrency: None,
        },
        docs_url: "https://example.test/docs",
    }
}

/// A provider spec with refreshable OAuth 2.0.
pub fn oauth_spec() -> ProviderSpec {
    spec_with(AuthSpec::OAuth2(OAuth2Spec {
        authorize_url: "https://example.test/authorize",
        token_url: "https://example.test/token",
        revoke_url: None,
        scopes: vec![],
        scope_separator: " ",
        pkce: true,
        extra_authorize_params: vec![],
        refresh: RefreshBehaviour::Rotating,
        client_auth: TokenClientAuth::RequestBody,
        long_lived_exchange: None,
    }))
}
