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
//!   path (API key, OAuth start and callback, reconnect); [`connect_sessions`]: the
//!   short-lived tokens with which a workspace's end users connect (the Connect
//!   page's use cases); [`options`]: a config field's choices as the provider lists
//!   them;
//! - [`integrations`]: reading, updating, health-checking and disconnecting (with
//!   revocation) integrations, and their logs;
//! - [`syncs`]: starting a sync run (API and scheduler alike), the attempt
//!   lifecycle and the page loop; [`scheduler`]: the claim of due integrations;
//!   [`streams`]: each stream's state, settings and reset; [`schedules`]: when
//!   streams are due;
//! - [`webhooks`]: verified ingress, the subscription handshake, setup, stored
//!   events and their replay, and applying an event; [`webhook_ingest`]: the group
//!   commit of verified deliveries and the cache of their integrations' secrets;
//! - [`actions`]: running an action inline or on the action queue, through one path;
//! - [`alerts`]: alert rules and their evaluation after a sync; [`notifications`]:
//!   creating notifications once, rendering Junction's emails and sending them
//!   through any email-capable provider ([`junction_core::EmailSender`]); the
//!   workspace's notification settings, daily digests, weekly KPI reports and email
//!   suppression list; [`recipients`]: what an email address is;
//! - [`outbound`]: outbound webhooks — the client app's endpoints, the events
//!   recorded where their facts happen, and their signed deliveries;
//! - [`proxy`]: the authenticated proxy to a provider's own API;
//! - [`data`]: records; [`kpis`]: KPI series, totals and the metric catalog, by
//!   metric kind ([`aggregate`]); [`dead_letters`]: dead letters and queue
//!   figures; [`workspaces`]: workspaces, API keys and key rotation;
//!   [`dashboard`]: the dashboard's sessions, CSRF tokens and sign-in links;
//! - [`worker`]: the job handlers and the worker's run loop (queues, scheduler,
//!   outbox relay), which the worker binary and end-to-end tests start.
//!
//! Jobs are never pushed after a commit: each is staged in the Postgres outbox in
//! the transaction of the row it serves and relayed by the worker
//! ([`junction_jobs::outbox`]).

pub mod actions;
pub mod aggregate;
pub mod alerts;
mod api_key_cache;
pub mod config;
pub mod connect;
pub mod connect_sessions;
pub mod connections;
pub mod cross_posts;
pub mod dashboard;
pub mod data;
pub mod dead_letters;
pub mod error;
pub mod failures;
pub mod integrations;
pub mod kpis;
pub mod metrics;
pub mod notifications;
pub mod options;
pub mod outbound;
pub mod process;
pub mod proxy;
pub mod recipients;
pub mod reconcile;
pub mod scheduler;
pub mod schedules;
pub mod streams;
pub mod syncs;
mod ttl_cache;
pub mod webhook_ingest;
pub mod webhooks;
pub mod worker;
pub mod workspaces;

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use junction_core::{Adapter, Clock, Context, ErrorCode, WorkspaceId};
use junction_jobs::{Queues, RedisOptions};
use junction_ratelimit::RedisRateLimiter;
use junction_registry::Registry;
use junction_store::{DbRole, SYSTEM_ROLE, Store, StoreError, StoreOptions, WorkspaceTx};

pub use config::{Config, ConfigError, ProviderConfig, WorkerSettings};
pub use junction_store::{DatabaseUrl, KeyRing, Vault, vault::KEYS_ENV};

/// The data the use cases take and return: rows of the store, their filters, job
/// figures. The binaries name them through here and depend on no storage crate.
pub mod models {
    pub use junction_jobs::{QueueStats, Replayed};
    pub use junction_store::models::*;
    pub use junction_store::repo::{
        dead_letters::DeadLetterFilter,
        idempotency::{Answer as IdempotentAnswer, Claim},
        integrations::{IntegrationFilter, TagFilter},
        outbound_events::OutboundEventFilter,
        webhook_events::WebhookEventFilter,
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
    /// Connections as the application role: one workspace at a time.
    pub store: Store,
    /// The worker's few connections as the system role, for its cross-tenant work
    /// (the scheduler's claim, the outbox relay, the reconciliation sweep); the API
    /// has none, so it cannot do that work even by mistake.
    pub system: Option<Store>,
    pub queues: Queues,
    /// Opens integrations for provider calls (adapters, contexts, OAuth, tokens).
    pub connections: Connections,
    /// The HTTP client outbound webhook deliveries go out through.
    pub outbound: outbound::delivery::Sender,
    /// Verified webhook deliveries' group commit and the cache of what verifies
    /// them.
    ingest: webhook_ingest::Ingest,
    /// Verified API keys (the API process's; a cache that never serves elsewhere).
    api_keys: api_key_cache::ApiKeyCache,
}

/// Connections of the worker's system pool: the scheduler, the relay and the sweep
/// each hold one at a time.
const SYSTEM_CONNECTIONS: usize = 4;

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
    ///
    /// The timeouts follow the role: the API's Redis commands end within
    /// `redis_timeout_ms` and its statements within `database_statement_timeout_ms`,
    /// the worker's Redis commands within `worker.redis_timeout_ms`. A worker's
    /// Redis connection is made at its first command, so a worker starts while Redis
    /// is away and waits for it (junction-worker does, before taking jobs).
    pub async fn connect(config: Config, registry: Registry, role: Role) -> anyhow::Result<Self> {
        config.check_providers(registry.ids())?;
        let store = Store::connect(
            &config.database_url,
            StoreOptions {
                max_connections: config.database_max_connections,
                connect_timeout: config.database_connect_timeout,
                pool_timeout: config.database_pool_timeout,
                // Someone waits on every API request: a statement stuck behind a lock
                // or a bad plan fails it instead of holding the caller and a
                // connection. The worker's statements serve jobs (a sync page, a
                // sweep) that may rightly take longer, and jobs retry by themselves.
                statement_timeout: match role {
                    Role::Api => config.database_statement_timeout,
                    Role::Worker | Role::Cli => None,
                },
                application_name: role.application_name().into(),
                role: DbRole::App,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e} (database {})", config.database_url.redacted()))?;
        let system = match role {
            Role::Worker => Some(
                Store::connect(
                    &config.database_url,
                    StoreOptions {
                        max_connections: SYSTEM_CONNECTIONS,
                        connect_timeout: config.database_connect_timeout,
                        pool_timeout: config.database_pool_timeout,
                        statement_timeout: None,
                        application_name: role.application_name().into(),
                        role: DbRole::System,
                    },
                )
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "{e} (database {}; the worker's cross-tenant work runs as {SYSTEM_ROLE}: \
                         run `junction migrate`, and grant {SYSTEM_ROLE} to the DATABASE_URL role)",
                        config.database_url.redacted()
                    )
                })?,
            ),
            Role::Api | Role::Cli => None,
        };
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
        let queues = match role {
            Role::Worker => Queues::lazy(
                config.redis_url(),
                &config.queue_prefix,
                RedisOptions::within(Duration::from_millis(config.worker.redis_timeout_ms)),
            ),
            Role::Api | Role::Cli => {
                Queues::connect_with(
                    config.redis_url(),
                    &config.queue_prefix,
                    RedisOptions::within(config.redis_timeout),
                )
                .await
            }
        }
        .map_err(|e| anyhow::anyhow!("cannot reach Redis at REDIS_URL: {e}"))?;
        let max_wait = match role {
            Role::Worker => Duration::from_secs(config.worker.rate_limit_max_wait_seconds),
            Role::Api | Role::Cli => config.request_rate_limit_wait,
        };
        let limiter = RedisRateLimiter::sharing(queues.redis(), queues.prefix(), max_wait);
        let outbound = outbound::delivery::Sender::new(
            Duration::from_secs(config.worker.outbound_timeout_seconds),
            config.outbound_allow_private_networks,
        )
        .map_err(|e| anyhow::anyhow!("cannot build the outbound webhook client: {e}"))?;
        let config = Arc::new(config);
        let connections = Connections::new(config.clone(), store.clone(), registry)?
            .with_limiter(Arc::new(limiter));
        let ingest = webhook_ingest::Ingest::new(store.clone());
        let api_keys = match role {
            Role::Api => api_key_cache::ApiKeyCache::listening(
                config.database_url.clone(),
                format!("{} (API keys)", role.application_name()),
                config.database_connect_timeout,
            ),
            Role::Worker | Role::Cli => api_key_cache::ApiKeyCache::off(),
        };
        Ok(Self {
            config,
            store,
            system,
            queues,
            connections,
            outbound,
            ingest,
            api_keys,
        })
    }

    /// The system role's connections (worker only).
    pub fn system_store(&self) -> Result<&Store> {
        self.system.as_ref().ok_or_else(|| {
            Error::new(
                ErrorCode::Internal,
                "this process has no system connection: only the worker does cross-tenant work",
            )
        })
    }

    /// The current time by the application's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.connections.clock.now()
    }

    /// The same application on another clock (tests pin or advance time with it:
    /// schedules, token expiry, webhook tolerances).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.connections.clock = clock;
        self
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

    /// Checks that Postgres and Redis each answer a round trip (`SELECT 1` on a
    /// pooled connection, `PING`) within `within`, both at once (readiness probes).
    /// The errors say what failed, never where: the store's and the queues'
    /// messages carry no URL or password.
    pub async fn readiness(&self, within: Duration) -> Readiness {
        let (postgres, redis) = tokio::join!(
            tokio::time::timeout(within, self.store.ping()),
            tokio::time::timeout(within, self.queues.ping()),
        );
        let outcome = |result: std::result::Result<std::result::Result<(), String>, _>| {
            result
                .unwrap_or_else(|_| Err(format!("did not answer within {} ms", within.as_millis())))
        };
        Readiness {
            postgres: outcome(postgres.map(|r| r.map_err(|e| e.to_string()))),
            redis: outcome(redis.map(|r| r.map_err(|e| e.to_string()))),
        }
    }
}

/// How long a readiness probe waits for Postgres and Redis (both at once): a second,
/// Kubernetes' default probe timeout.
pub const READINESS_TIMEOUT: Duration = Duration::from_secs(1);

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

    /// What a request answers while not ready: 503 with `Retry-After`,
    /// `database_unavailable` when Postgres is down (nothing works without it), else
    /// `queue_unavailable`; the detail names each dependency that failed and why.
    pub fn error(&self) -> Option<Error> {
        let failed: Vec<String> = [("postgres", &self.postgres), ("redis", &self.redis)]
            .into_iter()
            .filter_map(|(name, check)| check.as_ref().err().map(|e| format!("{name}: {e}")))
            .collect();
        let detail = format!("not ready: {}", failed.join("; "));
        match (&self.postgres, &self.redis) {
            (Ok(()), Ok(())) => None,
            (Err(cause), _) => {
                Some(Error::from(StoreError::Unavailable(cause.clone())).with_detail(detail))
            }
            (Ok(()), Err(cause)) => Some(Error::queue_unavailable(cause).with_detail(detail)),
        }
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

/// The one rule for a filter naming an integration (`integration_id` on the lists
/// of KPIs, webhook events, dead letters): an integration the workspace does not
/// have — another workspace's, or none — is 404 `integration_not_found` on every
/// list, never an empty page that would hide a wrong id or a wrong key.
async fn filtered_integration(
    tx: &mut WorkspaceTx,
    integration_id: Option<uuid::Uuid>,
) -> Result<()> {
    if let Some(id) = integration_id {
        integration(tx, id).await?;
    }
    Ok(())
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
