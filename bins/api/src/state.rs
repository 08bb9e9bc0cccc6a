//! [`AppState`]: what every handler shares, built once from the [`Config`].

use std::sync::Arc;

use junction_core::{
    Adapter, Clock, Connection, Context, IntegrationId, NoopLimiter, SystemClock, WorkspaceId,
};
use junction_oauth::{ClientConfig, EndpointOverrides, OAuthEngine};
use junction_providers::Registry;
use junction_store::{Store, StoreOptions, Vault, models::Integration, repo};
use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::SecretString;

use crate::{
    config::Config,
    error::{ApiError, ApiResult},
};
use junction_core::ErrorCode;

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub registry: Registry,
    pub oauth: OAuthEngine,
    /// For provider API calls (adapters).
    pub http: reqwest::Client,
    pub redis: redis::Client,
    pub metrics: Option<PrometheusHandle>,
    pub clock: Arc<dyn Clock>,
}

impl AppState {
    /// Connects to Postgres (failing fast when it is down) and builds the clients.
    pub async fn build(
        config: Config,
        registry: Registry,
        metrics: Option<PrometheusHandle>,
    ) -> anyhow::Result<Self> {
        let store = Store::connect(
            &config.database_url,
            StoreOptions {
                max_connections: config.database_max_connections,
                application_name: "junction-api".into(),
                ..StoreOptions::default()
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e} (database {})", config.database_url.redacted()))?;
        let redis = redis::Client::open(config.redis_url())
            .map_err(|e| anyhow::anyhow!("REDIS_URL is invalid: {e}"))?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .connect_timeout(std::time::Duration::from_secs(10))
            .user_agent(concat!("junction/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            config: Arc::new(config),
            store,
            registry,
            oauth: OAuthEngine::new().map_err(|e| anyhow::anyhow!("{e}"))?,
            http,
            redis,
            metrics,
            clock: Arc::new(SystemClock),
        })
    }

    pub fn vault(&self) -> &Vault {
        &self.config.vault
    }

    /// The adapter of a provider, or `unknown_provider`.
    pub fn adapter(&self, provider: &str) -> ApiResult<Arc<dyn Adapter>> {
        self.registry.get(provider).cloned().ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnknownProvider,
                format!("no provider `{provider}`"),
            )
        })
    }

    /// The context adapter calls run with: the provider's base-URL override applies.
    pub fn adapter_context(&self, provider: &str) -> Context {
        Context {
            http: self.http.clone(),
            base_url: self.config.provider(provider).api_base_url,
            clock: self.clock.clone(),
            limiter: Arc::new(NoopLimiter),
        }
    }

    /// The OAuth client of a provider from the configuration.
    pub fn oauth_client(
        &self,
        provider: &str,
        spec: &junction_core::OAuth2Spec,
    ) -> ApiResult<ClientConfig> {
        let settings = self.config.provider(provider);
        let env_name = provider.replace('-', "_").to_uppercase();
        let (Some(client_id), Some(client_secret)) = (settings.client_id, settings.client_secret)
        else {
            return Err(ApiError::new(
                ErrorCode::ConfigurationError,
                format!(
                    "the {provider} OAuth app is not configured: set JUNCTION_PROVIDERS__{env_name}__CLIENT_ID and __CLIENT_SECRET"
                ),
            ));
        };
        let redirect_uri = self
            .config
            .redirect_uri()
            .map_err(|e| ApiError::new(ErrorCode::ConfigurationError, e.0))?;
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
        .map_err(|e| ApiError::new(ErrorCode::ConfigurationError, e.to_string()))
    }

    /// Builds the adapter's view of an integration: settings and opened secrets. For
    /// OAuth integrations the access token is refreshed first when it expires within
    /// the configured window (single-flight across every API and worker process);
    /// `rejected_token` forces a refresh after the provider refused that token.
    pub async fn connection(
        &self,
        workspace_id: WorkspaceId,
        integration: &Integration,
        rejected_token: Option<&SecretString>,
    ) -> ApiResult<Connection> {
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
        if let junction_core::AuthSpec::OAuth2(spec) = &adapter.spec().auth {
            let client = self.oauth_client(&integration.provider, spec)?;
            let fresh = junction_oauth::fresh_access_token(junction_oauth::RefreshRequest {
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
}
