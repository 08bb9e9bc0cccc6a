//! [`Connections`]: from an integration row to what an adapter call needs — the
//! adapter, the call context (base-URL override, clock, the shared rate budget), the
//! OAuth client, and the opened credentials with an access token refreshed
//! (single-flight) when it is about to expire.
//!
//! [`Session`] is the one refresh-once-on-401 wrapper: every provider call made with
//! a stored connection (a sync's pages, a health check, an action, a webhook's
//! effects, a notification's email, the proxy) runs through [`Session::call`], which,
//! when the provider refuses an access token that looked valid, refreshes it once
//! and runs the call once more. (The checks made while connecting, with credentials
//! not stored yet, and the revocation on disconnect have nothing to refresh.)

use std::sync::Arc;

use junction_core::{
    Adapter, AdapterError, AuthSpec, Clock, Connection, Context, ErrorCode, HasErrorCode,
    IntegrationId, NoopLimiter, OAuth2Spec, RateLimiter, SystemClock, WorkspaceId,
};
use junction_oauth::{
    ClientConfig, ClientTokenRequest, EndpointOverrides, OAuthEngine, RefreshError, RefreshRequest,
};
use junction_registry::Registry;
use junction_store::{Store, StoreError, Vault, models::Integration, repo};
use secrecy::SecretString;
use url::Url;

use crate::config::Config;

/// Why an integration could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("no provider `{0}`")]
    UnknownProvider(String),
    /// The operator has not configured the provider's OAuth app.
    #[error("{0}")]
    NotConfigured(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Refresh(#[from] RefreshError),
}

impl HasErrorCode for ConnectError {
    fn error_code(&self) -> ErrorCode {
        match self {
            ConnectError::UnknownProvider(_) => ErrorCode::UnknownProvider,
            ConnectError::NotConfigured(_) => ErrorCode::ConfigurationError,
            ConnectError::Store(e) => e.error_code(),
            ConnectError::Refresh(e) => e.error_code(),
        }
    }
}

/// Why an adapter call through [`Connections::call`] failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The integration could not be opened (a revoked grant included).
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The provider call failed.
    #[error(transparent)]
    Adapter(#[from] AdapterError),
}

impl HasErrorCode for CallError {
    fn error_code(&self) -> ErrorCode {
        match self {
            CallError::Connect(e) => e.error_code(),
            CallError::Adapter(e) => e.error_code(),
        }
    }
}

/// Opens integrations for adapter calls. Cheap to clone.
#[derive(Clone)]
pub struct Connections {
    pub config: Arc<Config>,
    pub store: Store,
    pub registry: Registry,
    pub oauth: OAuthEngine,
    /// For provider API calls.
    pub http: reqwest::Client,
    pub clock: Arc<dyn Clock>,
    /// The request budget shared by every caller (the worker's is Redis-backed).
    pub limiter: Arc<dyn RateLimiter>,
}

impl Connections {
    /// With the real clock and no rate limiter.
    pub fn new(
        config: Arc<Config>,
        store: Store,
        registry: Registry,
    ) -> Result<Self, ConnectError> {
        let http = junction_core::http::client(concat!("junction/", env!("CARGO_PKG_VERSION")))
            .map_err(|e| {
                ConnectError::NotConfigured(format!("cannot build the HTTP client: {e}"))
            })?;
        let oauth = OAuthEngine::new().map_err(|e| ConnectError::NotConfigured(e.to_string()))?;
        Ok(Self {
            config,
            store,
            registry,
            oauth,
            http,
            clock: Arc::new(SystemClock),
            limiter: Arc::new(NoopLimiter),
        })
    }

    /// The same, with another rate limiter.
    pub fn with_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.limiter = limiter;
        self
    }

    pub fn vault(&self) -> &Vault {
        &self.config.vault
    }

    /// The adapter of a provider.
    pub fn adapter(&self, provider: &str) -> Result<Arc<dyn Adapter>, ConnectError> {
        self.registry
            .get(provider)
            .cloned()
            .ok_or_else(|| ConnectError::UnknownProvider(provider.to_owned()))
    }

    /// The context adapter calls run with: the provider's base-URL override applies.
    pub fn context(&self, provider: &str) -> Context {
        Context {
            http: self.http.clone(),
            base_url: self.config.provider(provider).api_base_url,
            clock: self.clock.clone(),
            limiter: self.limiter.clone(),
        }
    }

    /// The OAuth client of a provider from the configuration.
    pub fn oauth_client(
        &self,
        provider: &str,
        spec: &OAuth2Spec,
    ) -> Result<ClientConfig, ConnectError> {
        let settings = self.config.provider(provider);
        let env_name = provider.replace('-', "_").to_uppercase();
        let (Some(client_id), Some(client_secret)) = (settings.client_id, settings.client_secret)
        else {
            return Err(ConnectError::NotConfigured(format!(
                "the {provider} OAuth app is not configured: set JUNCTION_PROVIDERS__{env_name}__CLIENT_ID and __CLIENT_SECRET"
            )));
        };
        let redirect_uri = self
            .config
            .redirect_uri()
            .map_err(|e| ConnectError::NotConfigured(e.0))?;
        ClientConfig::from_spec(
            spec,
            client_id,
            client_secret,
            redirect_uri,
            &EndpointOverrides {
                authorize_url: settings.authorize_url,
                token_url: settings.token_url,
                revoke_url: settings.revoke_url,
            },
        )
        .map_err(|e| ConnectError::NotConfigured(e.to_string()))
    }

    /// The token endpoint of a client-credentials provider: the configured override
    /// (demo mode: the sandbox's) or the spec's.
    pub fn client_token_url(&self, provider: &str) -> Result<Url, ConnectError> {
        let adapter = self.adapter(provider)?;
        let AuthSpec::ClientCredentials { token_url, .. } = &adapter.spec().auth else {
            return Err(ConnectError::NotConfigured(format!(
                "{provider} does not use the client-credentials grant"
            )));
        };
        let settings = self.config.provider(provider);
        junction_oauth::ClientCredentials::token_url(token_url, settings.token_url.as_ref())
            .map_err(|e| ConnectError::NotConfigured(e.to_string()))
    }

    /// The adapter's view of an integration: settings and opened secrets. For OAuth
    /// integrations the access token is refreshed first when it expires within the
    /// configured window (single-flight across every process); `rejected_token`
    /// forces a refresh after the provider refused that token.
    pub async fn open(
        &self,
        workspace_id: WorkspaceId,
        integration: &Integration,
        rejected_token: Option<&SecretString>,
    ) -> Result<Connection, ConnectError> {
        let adapter = self.adapter(&integration.provider)?;
        let mut secrets = {
            let mut tx = self.store.begin(workspace_id).await?;
            let secrets =
                repo::credentials::get_all(tx.conn(), self.vault(), integration.id).await?;
            tx.commit().await?;
            secrets
        };
        let mut access_token = secrets.remove(junction_oauth::ACCESS_TOKEN);
        secrets.remove(junction_oauth::REFRESH_TOKEN);
        let mut token_expires_at = integration.token_expires_at;
        if let AuthSpec::OAuth2(spec) = &adapter.spec().auth {
            let client = self.oauth_client(&integration.provider, spec)?;
            let fresh = junction_oauth::fresh_access_token(RefreshRequest {
                store: &self.store,
                vault: self.vault(),
                engine: &self.oauth,
                spec,
                client: &client,
                workspace_id,
                integration_id: integration.id,
                refresh_ahead: self.config.refresh_ahead,
                rejected_token,
                now: self.clock.now(),
            })
            .await?;
            if fresh.expires_at != token_expires_at {
                crate::metrics::token_refreshed(&integration.provider);
            }
            access_token = Some(fresh.token);
            token_expires_at = fresh.expires_at;
        }
        if let AuthSpec::ClientCredentials {
            client_auth,
            scopes,
            client_id,
            client_secret,
            ..
        } = &adapter.spec().auth
        {
            let token_url = self.client_token_url(&integration.provider)?;
            let fresh = junction_oauth::fresh_client_token(ClientTokenRequest {
                store: &self.store,
                vault: self.vault(),
                engine: &self.oauth,
                token_url: &token_url,
                client_auth: *client_auth,
                scopes,
                client_id_field: client_id.name,
                client_secret_field: client_secret.name,
                workspace_id,
                integration_id: integration.id,
                refresh_ahead: self.config.refresh_ahead,
                rejected_token,
                now: self.clock.now(),
            })
            .await?;
            if fresh.expires_at != token_expires_at {
                crate::metrics::token_refreshed(&integration.provider);
            }
            // The key pair stays with Junction: an adapter gets the token it buys.
            secrets.remove(client_id.name);
            secrets.remove(client_secret.name);
            access_token = Some(fresh.token);
            token_expires_at = fresh.expires_at;
        }
        Ok(Connection {
            workspace_id,
            integration_id: IntegrationId(integration.id),
            config: integration.config.as_object().cloned().unwrap_or_default(),
            secrets,
            access_token,
            token_expires_at,
        })
    }

    /// Opens the integration for a series of calls (see [`Session`]).
    pub async fn session<'a>(
        &'a self,
        workspace_id: WorkspaceId,
        integration: &'a Integration,
    ) -> Result<Session<'a>, ConnectError> {
        let connection = self.open(workspace_id, integration, None).await?;
        Ok(Session {
            connections: self,
            workspace_id,
            integration,
            connection,
        })
    }

    /// Opens the integration and runs one adapter call with it through
    /// [`Session::call`].
    pub async fn call<T, F, Fut>(
        &self,
        workspace_id: WorkspaceId,
        integration: &Integration,
        call: F,
    ) -> Result<T, CallError>
    where
        F: FnMut(Connection) -> Fut,
        Fut: std::future::Future<Output = Result<T, AdapterError>>,
    {
        self.session(workspace_id, integration)
            .await?
            .call(call)
            .await
    }
}

/// An opened integration, for one or more provider calls.
pub struct Session<'a> {
    connections: &'a Connections,
    workspace_id: WorkspaceId,
    integration: &'a Integration,
    connection: Connection,
}

impl std::fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("integration_id", &self.integration.id)
            .finish_non_exhaustive()
    }
}

impl Session<'_> {
    /// The connection calls currently run with.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Runs one adapter call. When the provider refuses an access token that looked
    /// valid (`Unauthorized { refreshable: true }`), the token is refreshed once
    /// (single-flight: another caller's fresh token is picked up), kept for the
    /// session's next calls, and the call runs once more with it. What the second
    /// call returns is the result: an `Unauthorized` then means the grant itself is
    /// refused.
    pub async fn call<T, F, Fut>(&mut self, mut call: F) -> Result<T, CallError>
    where
        F: FnMut(Connection) -> Fut,
        Fut: std::future::Future<Output = Result<T, AdapterError>>,
    {
        match call(self.connection.clone()).await {
            Err(AdapterError::Unauthorized {
                refreshable: true, ..
            }) if self.connection.access_token.is_some() => {
                let rejected = self.connection.access_token.clone();
                self.connection = self
                    .connections
                    .open(self.workspace_id, self.integration, rejected.as_ref())
                    .await?;
                Ok(call(self.connection.clone()).await?)
            }
            other => Ok(other?),
        }
    }
}
