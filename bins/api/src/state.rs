//! [`AppState`]: what every handler shares, built once from the [`Config`].

use std::sync::Arc;

use junction_app::{Config, Connections};
use junction_core::{Adapter, Connection, Context, OAuth2Spec, WorkspaceId};
use junction_jobs::Queues;
use junction_oauth::ClientConfig;
use junction_registry::Registry;
use junction_store::{Store, StoreOptions, Vault, models::Integration};
use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::SecretString;

use crate::error::ApiResult;

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    /// Opens integrations for adapter calls (adapters, contexts, OAuth, fresh tokens).
    pub connections: Connections,
    pub redis: redis::Client,
    /// The job queues (sync requests, dead-letter replays, stats).
    pub queues: Queues,
    pub metrics: Option<PrometheusHandle>,
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
        let queues = Queues::connect(config.redis_url(), &config.queue_prefix)
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach the job queues at REDIS_URL: {e}"))?;
        let config = Arc::new(config);
        let connections = Connections::new(config.clone(), store.clone(), registry)?;
        Ok(Self {
            config,
            store,
            connections,
            redis,
            queues,
            metrics,
        })
    }

    pub fn vault(&self) -> &Vault {
        &self.config.vault
    }

    pub fn registry(&self) -> &Registry {
        &self.connections.registry
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.connections.clock.now()
    }

    pub fn adapter(&self, provider: &str) -> ApiResult<Arc<dyn Adapter>> {
        Ok(self.connections.adapter(provider)?)
    }

    pub fn adapter_context(&self, provider: &str) -> Context {
        self.connections.context(provider)
    }

    pub fn oauth_client(&self, provider: &str, spec: &OAuth2Spec) -> ApiResult<ClientConfig> {
        Ok(self.connections.oauth_client(provider, spec)?)
    }

    pub async fn connection(
        &self,
        workspace_id: WorkspaceId,
        integration: &Integration,
        rejected_token: Option<&SecretString>,
    ) -> ApiResult<Connection> {
        Ok(self
            .connections
            .open(workspace_id, integration, rejected_token)
            .await?)
    }
}
