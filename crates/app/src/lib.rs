//! junction-app: Junction's application layer. Every use case that the REST API,
//! the worker and the `junction` CLI share lives here, once; the binaries are
//! adapters that parse a request, a job or a command line, call one use case and
//! render its answer. Arrows point one way: binaries → this crate → (jobs, oauth,
//! store, registry, ratelimit) → core.
//!
//! [`App`] holds what the use cases need (configuration, store, queues, the opened
//! provider connections) and is built once per process ([`App::connect`]). The use
//! cases, by module:
//!
//! - [`connect`]: connecting an integration for every auth kind through one saving
//!   path (API key, OAuth start and callback, reconnect);
//! - [`integrations`]: reading, updating, health-checking and disconnecting (with
//!   revocation) integrations, and their logs;
//! - [`syncs`]: starting a sync run (API and scheduler alike), the attempt
//!   lifecycle and the page loop; [`scheduler`]: the claim of due integrations;
//! - [`webhooks`]: verified ingress, the subscription handshake, setup, stored
//!   events and their replay, and applying an event;
//! - [`actions`]: running an action inline or on the action queue, through one path;
//! - [`alerts`]: alert rules and their evaluation after a sync; [`notifications`]:
//!   creating notifications once, rendering Junction's emails and sending them
//!   through any email-capable provider ([`junction_core::EmailSender`]);
//! - [`proxy`]: the authenticated proxy to a provider's own API;
//! - [`data`]: records and KPI series; [`dead_letters`]: dead letters and queue
//!   figures; [`workspaces`]: workspaces, API keys and key rotation;
//! - [`worker`]: the job handlers and the worker's run loop (queues, scheduler,
//!   outbox relay), which the worker binary and end-to-end tests start.
//!
//! Jobs are never pushed after a commit: each is staged in the Postgres outbox in
//! the transaction of the row it serves and relayed by the worker
//! ([`junction_jobs::outbox`]).

pub mod actions;
pub mod alerts;
pub mod config;
pub mod connect;
pub mod connections;
pub mod data;
pub mod dead_letters;
pub mod error;
pub mod failures;
pub mod integrations;
pub mod metrics;
pub mod notifications;
pub mod process;
pub mod proxy;
pub mod reconcile;
pub mod scheduler;
pub mod syncs;
pub mod webhooks;
pub mod worker;
pub mod workspaces;

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use junction_core::{Adapter, Context, ErrorCode, WorkspaceId};
use junction_jobs::Queues;
use junction_ratelimit::RedisRateLimiter;
use junction_registry::Registry;
use junction_store::{Store, StoreOptions, WorkspaceTx};

pub use config::{Config, ConfigError, ProviderConfig, WorkerSettings};
pub use junction_store::{DatabaseUrl, KeyRing, Vault, vault::KEYS_ENV};

/// The data the use cases take and return: rows of the store, their filters, job
/// figures. The binaries name them through here and depend on no storage crate.
pub mod models {
    pub use junction_jobs::{QueueStats, Replayed};
    pub use junction_store::models::*;
    pub use junction_store::repo::{
        dead_letters::DeadLetterFilter, idempotency::Claim, webhook_events::WebhookEventFilter,
    };
}
pub use connections::{CallError, ConnectError, Connections, Session};
pub use error::{Error, Result};

/// Which process an [`App`] serves (its database connections say so in
/// `pg_stat_activity`, and the request budget waits differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Api,
    Worker,
    Cli,
}

impl Role {
    fn application_name(self) -> &'static str {
        match self {
            Role::Api => "junction-api",
            Role::Worker => "junction-worker",
            Role::Cli => "junction",
        }
    }
}

/// What every use case works with. Cheap to clone.
#[derive(Clone)]
pub struct App {
    pub config: Arc<Config>,
    pub store: Store,
    pub queues: Queues,
    /// Opens integrations for provider calls (adapters, contexts, OAuth, tokens).
    pub connections: Connections,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("config", &self.config)
            .field("queues", &self.queues)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Connects to Postgres and Redis (failing fast, with one line naming what is
    /// down) and builds the provider connections with the request budget every pod
    /// shares through Redis. Before that, the provider sections are checked against
    /// the registry; once Postgres answers, the key ring proves itself against the
    /// check values stored for its key ids (and stores those missing): a key that is
    /// not the one that sealed before under its id stops start-up, naming the id.
    pub async fn connect(config: Config, registry: Registry, role: Role) -> anyhow::Result<Self> {
        config.check_providers(registry.ids())?;
        let store = Store::connect(
            &config.database_url,
            StoreOptions {
                max_connections: config.database_max_connections,
                application_name: role.application_name().into(),
                ..StoreOptions::default()
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e} (database {})", config.database_url.redacted()))?;
        let mut conn = store
            .unscoped()
            .await
            .map_err(|e| anyhow::anyhow!("{e} (database {})", config.database_url.redacted()))?;
        let ring = junction_store::repo::key_checks::verify(&mut conn, &config.vault)
            .await
            .map_err(|e| match e {
                junction_store::StoreError::Vault(e) => anyhow::anyhow!("{e}"),
                e => anyhow::anyhow!("cannot check {KEYS_ENV} against the database: {e}"),
            })?;
        drop(conn);
        if !ring.recorded.is_empty() {
            tracing::info!(key_ids = ?ring.recorded, "stored the check values of new keys");
        }
        let queues = Queues::connect(config.redis_url(), &config.queue_prefix)
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach Redis at REDIS_URL: {e}"))?;
        let max_wait = match role {
            Role::Worker => Duration::from_secs(config.worker.rate_limit_max_wait_seconds),
            Role::Api | Role::Cli => config.request_rate_limit_wait,
        };
        let limiter = RedisRateLimiter::sharing(queues.connection(), queues.prefix(), max_wait);
        let config = Arc::new(config);
        let connections = Connections::new(config.clone(), store.clone(), registry)?
            .with_limiter(Arc::new(limiter));
        Ok(Self {
            config,
            store,
            queues,
            connections,
        })
    }

    /// The current time by the application's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.connections.clock.now()
    }

    /// The providers of this build.
    pub fn registry(&self) -> &Registry {
        &self.connections.registry
    }

    /// A provider's adapter; an unknown id is `unknown_provider`.
    pub fn adapter(&self, provider: &str) -> Result<Arc<dyn Adapter>> {
        Ok(self.connections.adapter(provider)?)
    }

    /// The context a provider's calls run with.
    pub fn context(&self, provider: &str) -> Context {
        self.connections.context(provider)
    }

    /// A transaction scoped to one workspace (row-level security on).
    pub async fn begin(&self, workspace_id: WorkspaceId) -> Result<WorkspaceTx> {
        Ok(self.store.begin(workspace_id).await?)
    }

    /// Checks that Postgres and Redis answer within `within` (readiness probes).
    pub async fn readiness(&self, within: Duration) -> Readiness {
        let postgres = match tokio::time::timeout(within, self.store.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err("timed out".to_owned()),
        };
        let redis = match tokio::time::timeout(within, self.queues.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err("timed out".to_owned()),
        };
        Readiness { postgres, redis }
    }
}

/// What a readiness probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub postgres: std::result::Result<(), String>,
    pub redis: std::result::Result<(), String>,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.postgres.is_ok() && self.redis.is_ok()
    }

    /// `{"postgres": {"ok": true}, "redis": {"ok": false, "error": "..."}}`.
    pub fn to_json(&self) -> serde_json::Value {
        let check = |result: &std::result::Result<(), String>| match result {
            Ok(()) => serde_json::json!({ "ok": true }),
            Err(error) => serde_json::json!({ "ok": false, "error": error }),
        };
        serde_json::json!({ "postgres": check(&self.postgres), "redis": check(&self.redis) })
    }
}

/// A page of a list and the keyset of the next one (`None` on the last page).
#[derive(Debug, Clone, PartialEq)]
pub struct Listed<T, K> {
    pub items: Vec<T>,
    pub next: Option<K>,
}

/// How many items a list returns and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest<K> {
    /// 1-200 (the API checks the range).
    pub limit: i64,
    /// The keyset of the last item of the previous page.
    pub after: Option<K>,
}

impl<K> PageRequest<K> {
    /// The first page of `limit` items.
    pub fn first(limit: i64) -> Self {
        Self { limit, after: None }
    }
}

/// Cuts rows fetched with `limit + 1` down to `limit`; the extra row says there is
/// a next page, which starts after the last kept row's keyset.
fn listed<T, K>(mut rows: Vec<T>, limit: i64, keyset: impl Fn(&T) -> K) -> Listed<T, K> {
    let limit = usize::try_from(limit).unwrap_or(0);
    if rows.len() > limit {
        rows.truncate(limit);
        let next = rows.last().map(&keyset);
        Listed { items: rows, next }
    } else {
        Listed {
            items: rows,
            next: None,
        }
    }
}

/// The integration of the workspace, or `integration_not_found` (another
/// workspace's integration is as unknown as a made-up id).
async fn integration(
    tx: &mut WorkspaceTx,
    id: uuid::Uuid,
) -> Result<junction_store::models::Integration> {
    junction_store::repo::integrations::get(tx.conn(), id)
        .await
        .map_err(integration_error)
}

/// The same, locking the integration's row until the transaction ends.
async fn integration_for_update(
    tx: &mut WorkspaceTx,
    id: uuid::Uuid,
) -> Result<junction_store::models::Integration> {
    junction_store::repo::integrations::get_for_update(tx.conn(), id)
        .await
        .map_err(integration_error)
}

fn integration_error(error: junction_store::StoreError) -> Error {
    match error {
        junction_store::StoreError::NotFound(_) => {
            Error::not_found(ErrorCode::IntegrationNotFound, "integration")
        }
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_cut_at_the_limit_and_point_at_the_next_page() {
        let page = listed(vec![1, 2, 3], 2, |i| *i);
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(page.next, Some(2));
        let last = listed(vec![1, 2], 2, |i| *i);
        assert_eq!((last.items.len(), last.next), (2, None));
    }
}
