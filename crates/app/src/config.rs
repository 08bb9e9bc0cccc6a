//! Configuration of every Junction binary (API and worker share one file and one
//! set of variables, as an operator expects), loaded once at start-up and passed
//! explicitly.
//!
//! Sources, later ones winning: built-in defaults, an optional TOML file
//! (`JUNCTION_CONFIG`, else `./junction.toml` when present), then the environment:
//! `DATABASE_URL`, `REDIS_URL`, `JUNCTION_KEYS`, and `JUNCTION_*` for everything else,
//! with `__` for nesting (`JUNCTION_PROVIDERS__GOOGLE_ANALYTICS__CLIENT_ID`; provider ids
//! are written with dashes as underscores there). [`Config::load`] validates everything
//! and fails with one line naming the setting, never echoing a secret. A provider
//! section must configure an OAuth app whole (`client_id` and `client_secret`, or
//! neither); whether its id is a provider of this build is checked against the
//! registry by [`Config::check_providers`], which `App::connect` runs first.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::SocketAddr,
    path::PathBuf,
};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use std::sync::Arc;

use junction_store::{DatabaseUrl, KeyRing, Vault};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

/// The raw settings as figment merges them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    database_url: Option<String>,
    redis_url: Option<String>,
    keys: Option<String>,
    bind: String,
    public_url: Option<String>,
    sandbox_url: Option<String>,
    /// Origins (`scheme://host[:port]`) that `return_to` URLs may point at.
    return_to_origins: Vec<String>,
    max_body_bytes: usize,
    database_max_connections: usize,
    /// How long an `Idempotency-Key` is remembered, in hours.
    idempotency_ttl_hours: i64,
    /// Refresh OAuth tokens this many seconds before they expire.
    refresh_ahead_seconds: i64,
    providers: BTreeMap<String, RawProvider>,
    log_format: String,
    /// Prefix of every Redis key Junction writes (queues, rate limits).
    queue_prefix: String,
    /// The longest an API request (an inline action, a health check, the proxy)
    /// waits for a provider's shared request budget before answering 429, in seconds.
    request_rate_limit_wait_seconds: u64,
    /// The longest one Redis command of the API may take, reconnecting included, in
    /// milliseconds (the worker has its own, `worker.redis_timeout_ms`).
    redis_timeout_ms: u64,
    /// How long opening a Postgres connection may take, in milliseconds.
    database_connect_timeout_ms: u64,
    /// The longest a process waits for a usable Postgres connection from its pool,
    /// in milliseconds.
    database_pool_timeout_ms: u64,
    /// Postgres's `statement_timeout` on the API's connections, in milliseconds; 0
    /// for none.
    database_statement_timeout_ms: u64,
    /// Whether webhook endpoints may point at loopback, private, link-local and other
    /// non-public addresses (development, a receiver on the same network).
    outbound_allow_private_networks: bool,
    worker: WorkerSettings,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            database_url: None,
            redis_url: Some("redis://127.0.0.1:6379".into()),
            keys: None,
            bind: "127.0.0.1:8080".into(),
            public_url: None,
            sandbox_url: None,
            return_to_origins: Vec::new(),
            max_body_bytes: 1024 * 1024,
            database_max_connections: 16,
            idempotency_ttl_hours: 24,
            refresh_ahead_seconds: 300,
            providers: BTreeMap::new(),
            log_format: "text".into(),
            queue_prefix: "junction".into(),
            request_rate_limit_wait_seconds: 5,
            redis_timeout_ms: 1_000,
            database_connect_timeout_ms: 2_000,
            database_pool_timeout_ms: 2_000,
            database_statement_timeout_ms: 15_000,
            outbound_allow_private_networks: false,
            worker: WorkerSettings::default(),
        }
    }
}

/// Settings of `junction-worker` (`[worker]` in the file, `JUNCTION_WORKER__*`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerSettings {
    /// Jobs run at once per queue.
    pub sync_concurrency: usize,
    pub action_concurrency: usize,
    pub webhook_concurrency: usize,
    pub notify_concurrency: usize,
    /// Outbound webhook deliveries at once.
    pub outbound_concurrency: usize,
    /// How long one outbound webhook delivery (an HTTP POST to the client app's
    /// endpoint) may take, connecting included, in seconds.
    pub outbound_timeout_seconds: u64,
    /// The delays, in seconds, between the attempts of an outbound webhook
    /// delivery: the first attempt is immediate, the n-th entry is the wait after
    /// attempt n failed, and the delivery is dead-lettered when the attempt after the
    /// last entry fails. Svix's schedule by default (5 s, 5 min, 30 min, 2 h, 5 h,
    /// 10 h, 10 h: eight attempts over about 27.6 hours).
    pub outbound_retry_schedule_seconds: Vec<u64>,
    /// How often the scheduler looks for due integrations, in seconds.
    pub scheduler_interval_seconds: u64,
    /// Integrations claimed per scheduler pass.
    pub claim_batch: i64,
    /// How long a claim holds an integration before another pass may claim it again
    /// (a sync that takes longer is not scheduled twice meanwhile), in seconds.
    pub claim_lease_seconds: i64,
    /// Retry policy: first backoff, largest backoff, and the attempt limit.
    pub retry_base_ms: u64,
    pub retry_cap_seconds: u64,
    pub max_attempts: u32,
    /// How long SIGTERM waits for in-flight jobs, in seconds.
    pub shutdown_grace_seconds: u64,
    /// Where the worker serves /metrics and /healthz (none when empty).
    pub metrics_bind: Option<String>,
    /// The longest a job waits for a provider's shared request budget before it is
    /// rescheduled instead, in seconds.
    pub rate_limit_max_wait_seconds: u64,
    /// Rows per page a sync asks providers for (each adapter clamps it to what its
    /// provider allows); none leaves each adapter's default. Every page is one
    /// transaction, so smaller pages lose less work to a crash and larger ones cost
    /// fewer requests.
    pub page_size: Option<u32>,
    /// How often each worker tells Redis it is alive, in whole seconds.
    pub heartbeat_interval_seconds: u64,
    /// Missed heartbeats after which a worker counts as dead (a pod killed with
    /// SIGKILL) and a live worker puts its claimed jobs back on the queue: they come
    /// back after `heartbeat_interval_seconds × missed_heartbeats`.
    pub missed_heartbeats: u32,
    /// How often an idle worker looks for due jobs, in milliseconds.
    pub poll_interval_ms: u64,
    /// How often the outbox relay looks for committed jobs to put on their queues,
    /// in milliseconds (a relay pass that fills its batch is followed by another at
    /// once).
    pub outbox_poll_interval_ms: u64,
    /// Jobs the relay moves per pass.
    pub outbox_batch: i32,
    /// How often the reconciliation sweep looks for rows whose job Redis forgot (one
    /// worker of the installation sweeps at a time), in seconds.
    pub reconcile_interval_seconds: u64,
    /// How long a row waits for its job before the sweep looks at it, in seconds;
    /// the same age makes a scheduler claim whose run never started stale.
    pub reconcile_grace_seconds: u64,
    /// The longest one Redis command of the worker may take, reconnecting included,
    /// in milliseconds: longer than the API's, for the job runner's scripts over
    /// large queues.
    pub redis_timeout_ms: u64,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            sync_concurrency: 8,
            action_concurrency: 8,
            webhook_concurrency: 8,
            notify_concurrency: 4,
            outbound_concurrency: 8,
            outbound_timeout_seconds: 15,
            outbound_retry_schedule_seconds: vec![5, 300, 1_800, 7_200, 18_000, 36_000, 36_000],
            scheduler_interval_seconds: 15,
            claim_batch: 500,
            claim_lease_seconds: 600,
            retry_base_ms: 2_000,
            retry_cap_seconds: 3_600,
            max_attempts: 8,
            shutdown_grace_seconds: 30,
            metrics_bind: Some("127.0.0.1:9090".into()),
            rate_limit_max_wait_seconds: 60,
            page_size: None,
            heartbeat_interval_seconds: 10,
            missed_heartbeats: 6,
            poll_interval_ms: 200,
            outbox_poll_interval_ms: 100,
            outbox_batch: 200,
            reconcile_interval_seconds: 60,
            reconcile_grace_seconds: 120,
            redis_timeout_ms: 10_000,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    client_id: Option<String>,
    client_secret: Option<String>,
    authorize_url: Option<String>,
    token_url: Option<String>,
    revoke_url: Option<String>,
    api_base_url: Option<String>,
}

/// One provider's OAuth app and endpoint overrides.
#[derive(Clone, Default)]
pub struct ProviderConfig {
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub authorize_url: Option<Url>,
    pub token_url: Option<Url>,
    pub revoke_url: Option<Url>,
    pub api_base_url: Option<Url>,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("authorize_url", &self.authorize_url)
            .field("token_url", &self.token_url)
            .field("revoke_url", &self.revoke_url)
            .field("api_base_url", &self.api_base_url)
            .finish()
    }
}

/// The settings `JUNCTION_*` variables may set (besides `JUNCTION_PROVIDERS__*`).
const ENV_SETTINGS: &[&str] = &[
    "queue_prefix",
    "bind",
    "public_url",
    "sandbox_url",
    "return_to_origins",
    "max_body_bytes",
    "database_max_connections",
    "idempotency_ttl_hours",
    "refresh_ahead_seconds",
    "log_format",
    "request_rate_limit_wait_seconds",
    "redis_timeout_ms",
    "database_connect_timeout_ms",
    "database_pool_timeout_ms",
    "database_statement_timeout_ms",
    "outbound_allow_private_networks",
];

/// Validated configuration.
pub struct Config {
    pub database_url: DatabaseUrl,
    pub redis_url: SecretString,
    /// The credential vault over `JUNCTION_KEYS`.
    pub vault: Arc<Vault>,
    pub bind: SocketAddr,
    /// The externally reachable base URL (OAuth redirect URIs are built from it).
    pub public_url: Url,
    /// When set, every provider's OAuth and API endpoints point at this sandbox.
    pub sandbox_url: Option<Url>,
    pub return_to_origins: Vec<String>,
    pub max_body_bytes: usize,
    pub database_max_connections: usize,
    pub idempotency_ttl: chrono::Duration,
    pub refresh_ahead: chrono::Duration,
    /// By provider id (with dashes).
    pub providers: BTreeMap<String, ProviderConfig>,
    pub log_json: bool,
    /// Prefix of every Redis key (`JUNCTION_QUEUE_PREFIX`, default `junction`).
    pub queue_prefix: String,
    /// The longest an API request waits for a provider's shared request budget.
    pub request_rate_limit_wait: std::time::Duration,
    /// The longest one Redis command of the API may take (`JUNCTION_REDIS_TIMEOUT_MS`).
    pub redis_timeout: std::time::Duration,
    /// How long opening a Postgres connection may take.
    pub database_connect_timeout: std::time::Duration,
    /// The longest a process waits for a usable connection from its pool.
    pub database_pool_timeout: std::time::Duration,
    /// The API's `statement_timeout`, if any.
    pub database_statement_timeout: Option<std::time::Duration>,
    /// Whether webhook endpoints may point at non-public addresses
    /// (`JUNCTION_OUTBOUND_ALLOW_PRIVATE_NETWORKS`, default false).
    pub outbound_allow_private_networks: bool,
    pub worker: WorkerSettings,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &self.database_url)
            .field("vault", &self.vault)
            .field("bind", &self.bind)
            .field("public_url", &self.public_url)
            .field("sandbox_url", &self.sandbox_url)
            .field("providers", &self.providers)
            .finish_non_exhaustive()
    }
}

/// The shortest Redis or Postgres timeout accepted, in milliseconds: below it a
/// healthy server on another host would be refused as down.
const MIN_TIMEOUT_MS: u64 = 100;

/// A configuration problem: one line, naming the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn parse_url(setting: &str, value: &str) -> Result<Url, ConfigError> {
    let url =
        Url::parse(value).map_err(|e| ConfigError(format!("{setting} is not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError(format!("{setting} must be an http(s) URL")));
    }
    Ok(url)
}

fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

impl Config {
    /// Loads from the default file location and the process environment.
    pub fn load() -> Result<Self, ConfigError> {
        let file = std::env::var_os("JUNCTION_CONFIG").map(PathBuf::from);
        let figment = Self::figment(file.as_deref());
        Self::from_figment(figment)
    }

    /// The built-in defaults alone (tests merge their settings onto these).
    pub fn defaults() -> Figment {
        Figment::from(Serialized::defaults(RawConfig::default()))
    }

    /// The merged sources (tests pass their own file and use figment::Jail for env).
    pub fn figment(file: Option<&std::path::Path>) -> Figment {
        let mut figment = Self::defaults();
        match file {
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None => figment = figment.merge(Toml::file("junction.toml")),
        }
        figment
            .merge(
                // Only Junction's own settings: other tools' JUNCTION_* variables (the
                // sandbox's, the tests') must not trip the unknown-field check that
                // catches typos in the file.
                Env::prefixed("JUNCTION_")
                    .filter(|key| {
                        let key = key.as_str().to_ascii_lowercase();
                        ENV_SETTINGS.contains(&key.as_str())
                            || key.starts_with("providers__")
                            || key.starts_with("worker__")
                    })
                    .split("__")
                    .lowercase(true),
            )
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL", "REDIS_URL"])
                    .lowercase(true),
            )
            .merge(Env::raw().only(&["JUNCTION_KEYS"]).map(|_| "keys".into()))
    }

    /// Validates merged settings.
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let raw: RawConfig = figment.extract().map_err(|e| {
            // figment's message names the key; its values are never secrets we hold
            // (deserialization errors quote types, not values), but keep it to one line.
            ConfigError(format!(
                "invalid configuration: {}",
                e.to_string().replace('\n', " ")
            ))
        })?;
        let database_url = raw
            .database_url
            .as_deref()
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| ConfigError("DATABASE_URL is not set".into()))
            .and_then(|v| DatabaseUrl::parse(v).map_err(ConfigError))?;
        let redis_url = raw
            .redis_url
            .filter(|v| v.starts_with("redis://") || v.starts_with("rediss://"))
            .ok_or_else(|| ConfigError("REDIS_URL must be a redis:// or rediss:// URL".into()))?;
        let key_ring = KeyRing::parse(&SecretString::from(raw.keys.unwrap_or_default()))
            .map_err(|e| ConfigError(e.to_string()))?;
        let bind: SocketAddr = raw.bind.parse().map_err(|_| {
            ConfigError(format!(
                "JUNCTION_BIND `{}` is not an address like 127.0.0.1:8080",
                raw.bind
            ))
        })?;
        let public_url = match raw.public_url.as_deref() {
            Some(value) => parse_url("JUNCTION_PUBLIC_URL", value)?,
            None => parse_url("JUNCTION_PUBLIC_URL", &format!("http://{bind}"))?,
        };
        let sandbox_url = raw
            .sandbox_url
            .as_deref()
            .filter(|v| !v.is_empty())
            .map(|v| parse_url("JUNCTION_SANDBOX_URL", v))
            .transpose()?;
        let mut return_to_origins = Vec::new();
        for origin in &raw.return_to_origins {
            let url = parse_url("JUNCTION_RETURN_TO_ORIGINS", origin)?;
            return_to_origins.push(origin_of(&url));
        }
        if raw.max_body_bytes < 1024 {
            return Err(ConfigError(
                "JUNCTION_MAX_BODY_BYTES must be at least 1024".into(),
            ));
        }
        if raw.database_max_connections == 0 {
            return Err(ConfigError(
                "JUNCTION_DATABASE_MAX_CONNECTIONS must be at least 1".into(),
            ));
        }
        // Environment keys cannot hold dashes, so `google_analytics` (from the
        // environment) and `google-analytics` (from a file) are the same provider:
        // merge them, the underscore spelling (the environment) winning field by field.
        let mut merged: BTreeMap<String, RawProvider> = BTreeMap::new();
        let mut sections: Vec<(String, RawProvider)> = raw.providers.into_iter().collect();
        sections.sort_by_key(|(key, _)| key.contains('_'));
        for (key, section) in sections {
            let entry = merged.entry(key.replace('_', "-")).or_default();
            entry.client_id = section.client_id.or(entry.client_id.take());
            entry.client_secret = section.client_secret.or(entry.client_secret.take());
            entry.authorize_url = section.authorize_url.or(entry.authorize_url.take());
            entry.token_url = section.token_url.or(entry.token_url.take());
            entry.revoke_url = section.revoke_url.or(entry.revoke_url.take());
            entry.api_base_url = section.api_base_url.or(entry.api_base_url.take());
        }
        let mut providers = BTreeMap::new();
        for (id, mut provider) in merged {
            // An empty value (a variable set to "") is no value.
            provider.client_id = provider.client_id.filter(|v| !v.trim().is_empty());
            provider.client_secret = provider.client_secret.filter(|v| !v.trim().is_empty());
            // Half an OAuth app fails at the first connection (or, in sandbox mode, mixes
            // the sandbox's id with this secret): stop start-up instead.
            match (&provider.client_id, &provider.client_secret) {
                (Some(_), None) => {
                    return Err(ConfigError(format!(
                        "providers.{id}: client_id is set but client_secret is not (set both, or neither)"
                    )));
                }
                (None, Some(_)) => {
                    return Err(ConfigError(format!(
                        "providers.{id}: client_secret is set but client_id is not (set both, or neither)"
                    )));
                }
                _ => {}
            }
            let setting = |field: &str| format!("providers.{id}.{field}");
            let url = |field: &str, value: &Option<String>| {
                value
                    .as_deref()
                    .map(|v| parse_url(&setting(field), v))
                    .transpose()
            };
            providers.insert(
                id.clone(),
                ProviderConfig {
                    authorize_url: url("authorize_url", &provider.authorize_url)?,
                    token_url: url("token_url", &provider.token_url)?,
                    revoke_url: url("revoke_url", &provider.revoke_url)?,
                    api_base_url: url("api_base_url", &provider.api_base_url)?,
                    client_id: provider.client_id,
                    client_secret: provider.client_secret.map(SecretString::from),
                },
            );
        }
        let prefix_ok = !raw.queue_prefix.is_empty()
            && raw.queue_prefix.len() <= 64
            && raw
                .queue_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_:".contains(&b));
        if !prefix_ok {
            return Err(ConfigError(
                "JUNCTION_QUEUE_PREFIX must be 1-64 letters, digits, `-`, `_` or `:`".into(),
            ));
        }
        let worker = raw.worker;
        if worker.sync_concurrency == 0
            || worker.action_concurrency == 0
            || worker.webhook_concurrency == 0
            || worker.notify_concurrency == 0
        {
            return Err(ConfigError(
                "worker concurrency settings must be at least 1".into(),
            ));
        }
        if worker.max_attempts == 0 {
            return Err(ConfigError(
                "JUNCTION_WORKER__MAX_ATTEMPTS must be at least 1".into(),
            ));
        }
        if worker.scheduler_interval_seconds == 0 {
            return Err(ConfigError(
                "JUNCTION_WORKER__SCHEDULER_INTERVAL_SECONDS must be at least 1".into(),
            ));
        }
        if worker.reconcile_interval_seconds == 0 || worker.reconcile_grace_seconds == 0 {
            return Err(ConfigError(
                "JUNCTION_WORKER__RECONCILE_INTERVAL_SECONDS and RECONCILE_GRACE_SECONDS must be at least 1"
                    .into(),
            ));
        }
        if worker.page_size == Some(0) {
            return Err(ConfigError(
                "JUNCTION_WORKER__PAGE_SIZE must be at least 1".into(),
            ));
        }
        if worker.heartbeat_interval_seconds == 0 || worker.missed_heartbeats < 2 {
            return Err(ConfigError(
                "JUNCTION_WORKER__HEARTBEAT_INTERVAL_SECONDS must be >= 1 and MISSED_HEARTBEATS >= 2"
                    .into(),
            ));
        }
        if worker.poll_interval_ms < 10 {
            return Err(ConfigError(
                "JUNCTION_WORKER__POLL_INTERVAL_MS must be at least 10".into(),
            ));
        }
        if worker.outbox_poll_interval_ms < 10 || worker.outbox_batch < 1 {
            return Err(ConfigError(
                "JUNCTION_WORKER__OUTBOX_POLL_INTERVAL_MS must be >= 10 and OUTBOX_BATCH >= 1"
                    .into(),
            ));
        }
        for (setting, millis) in [
            ("JUNCTION_REDIS_TIMEOUT_MS", raw.redis_timeout_ms),
            ("JUNCTION_WORKER__REDIS_TIMEOUT_MS", worker.redis_timeout_ms),
            (
                "JUNCTION_DATABASE_CONNECT_TIMEOUT_MS",
                raw.database_connect_timeout_ms,
            ),
            (
                "JUNCTION_DATABASE_POOL_TIMEOUT_MS",
                raw.database_pool_timeout_ms,
            ),
        ] {
            if millis < MIN_TIMEOUT_MS {
                return Err(ConfigError(format!(
                    "{setting} must be at least {MIN_TIMEOUT_MS}"
                )));
            }
        }
        if !(1..=300).contains(&worker.outbound_timeout_seconds) {
            return Err(ConfigError(
                "JUNCTION_WORKER__OUTBOUND_TIMEOUT_SECONDS must be between 1 and 300".into(),
            ));
        }
        if worker.outbound_retry_schedule_seconds.len() > 50 {
            return Err(ConfigError(
                "JUNCTION_WORKER__OUTBOUND_RETRY_SCHEDULE_SECONDS takes at most 50 delays".into(),
            ));
        }
        if worker.claim_batch < 1 || worker.claim_lease_seconds < 10 {
            return Err(ConfigError(
                "JUNCTION_WORKER__CLAIM_BATCH must be >= 1 and CLAIM_LEASE_SECONDS >= 10".into(),
            ));
        }
        Ok(Self {
            database_url,
            redis_url: SecretString::from(redis_url),
            vault: Arc::new(Vault::new(key_ring)),
            bind,
            public_url,
            sandbox_url,
            return_to_origins,
            max_body_bytes: raw.max_body_bytes,
            database_max_connections: raw.database_max_connections,
            idempotency_ttl: chrono::Duration::hours(raw.idempotency_ttl_hours.clamp(1, 24 * 30)),
            refresh_ahead: chrono::Duration::seconds(raw.refresh_ahead_seconds.clamp(0, 3600)),
            providers,
            log_json: raw.log_format == "json",
            queue_prefix: raw.queue_prefix,
            request_rate_limit_wait: std::time::Duration::from_secs(
                raw.request_rate_limit_wait_seconds.min(60),
            ),
            redis_timeout: std::time::Duration::from_millis(raw.redis_timeout_ms),
            database_connect_timeout: std::time::Duration::from_millis(
                raw.database_connect_timeout_ms,
            ),
            database_pool_timeout: std::time::Duration::from_millis(raw.database_pool_timeout_ms),
            database_statement_timeout: (raw.database_statement_timeout_ms > 0)
                .then(|| std::time::Duration::from_millis(raw.database_statement_timeout_ms)),
            outbound_allow_private_networks: raw.outbound_allow_private_networks,
            worker,
        })
    }

    /// Checks the provider sections against the providers of this build (`ids`, the
    /// registry's): a section for any other id is a typo or a leftover that would
    /// configure nothing, so it is an error naming it and the known ids.
    /// `App::connect` runs it before connecting to anything.
    pub fn check_providers<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), ConfigError> {
        let known: BTreeSet<&str> = ids.into_iter().collect();
        match self
            .providers
            .keys()
            .find(|id| !known.contains(id.as_str()))
        {
            Some(unknown) => Err(ConfigError(format!(
                "providers.{unknown}: no such provider (known: {})",
                known.into_iter().collect::<Vec<_>>().join(", ")
            ))),
            None => Ok(()),
        }
    }

    /// The OAuth redirect URI registered with providers.
    pub fn redirect_uri(&self) -> Result<Url, ConfigError> {
        self.public_url.join("oauth/callback").map_err(|e| {
            ConfigError(format!(
                "JUNCTION_PUBLIC_URL cannot hold the callback path: {e}"
            ))
        })
    }

    /// Whether a `return_to` URL may be redirected to after an OAuth flow: its origin
    /// must be allow-listed (the API's own origin always is).
    pub fn return_to_allowed(&self, url: &Url) -> bool {
        let origin = origin_of(url);
        origin == origin_of(&self.public_url) || self.return_to_origins.contains(&origin)
    }

    /// A provider's settings: the configured section, with the sandbox's endpoints and
    /// app credentials filled in where demo mode applies.
    pub fn provider(&self, id: &str) -> ProviderConfig {
        let mut config = self.providers.get(id).cloned().unwrap_or_default();
        if let Some(sandbox) = &self.sandbox_url {
            let at = |path: String| sandbox.join(&path).ok();
            config.authorize_url = config
                .authorize_url
                .or_else(|| at(format!("oauth/{id}/authorize")));
            config.token_url = config.token_url.or_else(|| at(format!("oauth/{id}/token")));
            config.revoke_url = config
                .revoke_url
                .or_else(|| at(format!("oauth/{id}/revoke")));
            config.api_base_url = config.api_base_url.or_else(|| at(format!("{id}/")));
            config.client_id = config
                .client_id
                .or_else(|| Some(SANDBOX_CLIENT_ID.to_owned()));
            config.client_secret = config
                .client_secret
                .or_else(|| Some(SecretString::from(SANDBOX_CLIENT_SECRET)));
        }
        config
    }

    /// The Redis URL, for the driver only.
    pub fn redis_url(&self) -> &str {
        self.redis_url.expose_secret()
    }
}

/// The OAuth app the sandbox accepts (see junction-sandbox; documented in docs/api.md).
pub const SANDBOX_CLIENT_ID: &str = "junction-sandbox";
/// Its secret: a published test value, not a real secret.
pub const SANDBOX_CLIENT_SECRET: &str = "junction-sandbox-secret";

#[cfg(test)]
// figment's Jail closures return its large error type; that is its API, not ours.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    const KEYS: &str = "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    #[test]
    fn defaults_file_and_env_merge_in_order() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "junction.toml",
                r#"
                bind = "0.0.0.0:9000"
                return_to_origins = ["https://app.example.com"]
                [providers.google-analytics]
                client_id = "from-file"
                token_url = "https://eu.example.com/token"
                "#,
            )?;
            jail.set_env("DATABASE_URL", "postgres://u:p@db/junction");
            jail.set_env("JUNCTION_KEYS", KEYS);
            jail.set_env("JUNCTION_BIND", "127.0.0.1:8181");
            jail.set_env(
                "JUNCTION_PROVIDERS__GOOGLE_ANALYTICS__CLIENT_SECRET",
                "s3cret",
            );
            let config = Config::from_figment(Config::figment(None)).map_err(|e| e.0)?;
            assert_eq!(config.bind.to_string(), "127.0.0.1:8181");
            assert_eq!(config.public_url.as_str(), "http://127.0.0.1:8181/");
            let ga = config.provider("google-analytics");
            assert_eq!(ga.client_id.as_deref(), Some("from-file"));
            assert_eq!(
                ga.client_secret
                    .as_ref()
                    .map(|s| s.expose_secret().to_owned()),
                Some("s3cret".into())
            );
            assert_eq!(
                ga.token_url.map(|u| u.to_string()),
                Some("https://eu.example.com/token".into())
            );
            assert!(!format!("{config:?}").contains("s3cret"));
            assert!(
                config.return_to_allowed(&Url::parse("https://app.example.com/done?x=1").unwrap())
            );
            assert!(!config.return_to_allowed(&Url::parse("https://evil.example.com/").unwrap()));
            assert!(config.return_to_allowed(&Url::parse("http://127.0.0.1:8181/ok").unwrap()));
            Ok(())
        });
    }

    #[test]
    fn sandbox_url_points_every_provider_at_the_sandbox() {
        Jail::expect_with(|jail| {
            jail.set_env("DATABASE_URL", "postgres://db/junction");
            jail.set_env("JUNCTION_KEYS", KEYS);
            jail.set_env("JUNCTION_SANDBOX_URL", "http://127.0.0.1:8090");
            let config = Config::from_figment(Config::figment(None)).map_err(|e| e.0)?;
            let ga = config.provider("google-analytics");
            assert_eq!(
                ga.authorize_url.unwrap().as_str(),
                "http://127.0.0.1:8090/oauth/google-analytics/authorize"
            );
            assert_eq!(
                ga.api_base_url.unwrap().as_str(),
                "http://127.0.0.1:8090/google-analytics/"
            );
            assert_eq!(ga.client_id.as_deref(), Some(SANDBOX_CLIENT_ID));
            Ok(())
        });
    }

    #[test]
    fn worker_settings_come_from_junction_worker_variables() {
        Jail::expect_with(|jail| {
            jail.set_env("DATABASE_URL", "postgres://db/junction");
            jail.set_env("JUNCTION_KEYS", KEYS);
            let config = Config::from_figment(Config::figment(None)).map_err(|e| e.0)?;
            assert_eq!(config.worker, WorkerSettings::default());
            jail.set_env("JUNCTION_WORKER__PAGE_SIZE", "20");
            jail.set_env("JUNCTION_WORKER__SCHEDULER_INTERVAL_SECONDS", "1");
            jail.set_env("JUNCTION_WORKER__SYNC_CONCURRENCY", "3");
            jail.set_env("JUNCTION_QUEUE_PREFIX", "junction-test:abc:");
            let config = Config::from_figment(Config::figment(None)).map_err(|e| e.0)?;
            assert_eq!(config.worker.page_size, Some(20));
            assert_eq!(config.worker.scheduler_interval_seconds, 1);
            assert_eq!(config.worker.sync_concurrency, 3);
            assert_eq!(config.queue_prefix, "junction-test:abc:");
            jail.set_env("JUNCTION_WORKER__MISSED_HEARTBEATS", "1");
            let err = Config::from_figment(Config::figment(None)).unwrap_err().0;
            assert!(err.contains("MISSED_HEARTBEATS"), "{err}");
            jail.set_env("JUNCTION_WORKER__MISSED_HEARTBEATS", "2");
            jail.set_env("JUNCTION_WORKER__PAGE_SIZE", "0");
            let err = Config::from_figment(Config::figment(None)).unwrap_err().0;
            assert!(err.starts_with("JUNCTION_WORKER__PAGE_SIZE"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn redis_and_postgres_timeouts_have_defaults_and_settings() {
        use std::time::Duration;
        Jail::expect_with(|jail| {
            jail.set_env("DATABASE_URL", "postgres://db/junction");
            jail.set_env("JUNCTION_KEYS", KEYS);
            let config = Config::from_figment(Config::figment(None)).map_err(|e| e.0)?;
            assert_eq!(config.redis_timeout, Duration::from_secs(1));
            assert_eq!(config.worker.redis_timeout_ms, 10_000);
            assert_eq!(config.database_connect_timeout, Duration::from_secs(2));
            assert_eq!(config.database_pool_timeout, Duration::from_secs(2));
            assert_eq!(
                config.database_statement_timeout,
                Some(Duration::from_secs(15))
            );
            jail.set_env("JUNCTION_REDIS_TIMEOUT_MS", "250");
            jail.set_env("JUNCTION_WORKER__REDIS_TIMEOUT_MS", "30000");
            jail.set_env("JUNCTION_DATABASE_CONNECT_TIMEOUT_MS", "500");
            jail.set_env("JUNCTION_DATABASE_POOL_TIMEOUT_MS", "700");
            jail.set_env("JUNCTION_DATABASE_STATEMENT_TIMEOUT_MS", "0");
            let config = Config::from_figment(Config::figment(None)).map_err(|e| e.0)?;
            assert_eq!(config.redis_timeout, Duration::from_millis(250));
            assert_eq!(config.worker.redis_timeout_ms, 30_000);
            assert_eq!(config.database_connect_timeout, Duration::from_millis(500));
            assert_eq!(config.database_pool_timeout, Duration::from_millis(700));
            assert_eq!(config.database_statement_timeout, None, "0 is none");
            jail.set_env("JUNCTION_DATABASE_POOL_TIMEOUT_MS", "5");
            let err = Config::from_figment(Config::figment(None)).unwrap_err().0;
            assert_eq!(
                err,
                "JUNCTION_DATABASE_POOL_TIMEOUT_MS must be at least 100"
            );
            Ok(())
        });
    }

    const BUILD: &[&str] = &["google-analytics", "kit", "kit-oauth", "stripe"];

    #[test]
    fn a_section_for_a_provider_this_build_lacks_is_an_error_naming_it() {
        Jail::expect_with(|jail| {
            jail.set_env("DATABASE_URL", "postgres://db/junction");
            jail.set_env("JUNCTION_KEYS", KEYS);
            jail.create_file(
                "junction.toml",
                r#"
                [providers.google-analytics]
                client_id = "id"
                client_secret = "secret"
                [providers.kit_oauth]
                token_url = "https://kit.example.com/token"
                "#,
            )?;
            let config = Config::from_figment(Config::figment(None)).map_err(|e| e.0)?;
            assert_eq!(config.check_providers(BUILD.iter().copied()), Ok(()));

            // A typo in the file.
            jail.create_file(
                "junction.toml",
                r#"
                [providers.nope]
                api_base_url = "https://nope.example.com/"
                "#,
            )?;
            let config = Config::from_figment(Config::figment(None)).map_err(|e| e.0)?;
            let err = config.check_providers(BUILD.iter().copied()).unwrap_err().0;
            assert_eq!(
                err,
                "providers.nope: no such provider (known: google-analytics, kit, kit-oauth, stripe)"
            );
            jail.create_file("junction.toml", "")?;

            // And in the environment (dashes written as underscores).
            jail.set_env("JUNCTION_PROVIDERS__GOOGLE_ANALYTIC__CLIENT_ID", "id");
            jail.set_env(
                "JUNCTION_PROVIDERS__GOOGLE_ANALYTIC__CLIENT_SECRET",
                "s3cret",
            );
            let config = Config::from_figment(Config::figment(None)).map_err(|e| e.0)?;
            let err = config.check_providers(BUILD.iter().copied()).unwrap_err().0;
            assert!(
                err.starts_with(
                    "providers.google-analytic: no such provider (known: google-analytics,"
                ),
                "{err}"
            );
            assert!(!err.contains("s3cret"));
            assert_eq!(err.lines().count(), 1);
            Ok(())
        });
    }

    #[test]
    fn half_an_oauth_app_is_an_error_naming_the_provider() {
        Jail::expect_with(|jail| {
            jail.set_env("DATABASE_URL", "postgres://db/junction");
            jail.set_env("JUNCTION_KEYS", KEYS);
            let err = || Config::from_figment(Config::figment(None)).unwrap_err().0;
            jail.set_env(
                "JUNCTION_PROVIDERS__GOOGLE_ANALYTICS__CLIENT_SECRET",
                "s3cret",
            );
            let message = err();
            assert_eq!(
                message,
                "providers.google-analytics: client_secret is set but client_id is not (set both, or neither)"
            );
            assert!(!message.contains("s3cret"));
            // Sandbox mode fills a missing id with the sandbox's: still half an app.
            jail.set_env("JUNCTION_SANDBOX_URL", "http://127.0.0.1:8090");
            assert!(err().starts_with("providers.google-analytics: client_secret is set"));
            jail.set_env("JUNCTION_PROVIDERS__GOOGLE_ANALYTICS__CLIENT_SECRET", "");
            jail.set_env("JUNCTION_SANDBOX_URL", "");
            jail.create_file(
                "junction.toml",
                r#"
                [providers.kit-oauth]
                client_id = "kit-app"
                "#,
            )?;
            assert_eq!(
                err(),
                "providers.kit-oauth: client_id is set but client_secret is not (set both, or neither)"
            );
            jail.set_env("JUNCTION_PROVIDERS__KIT_OAUTH__CLIENT_SECRET", "kit-secret");
            let config = Config::from_figment(Config::figment(None)).map_err(|e| e.0)?;
            assert_eq!(
                config.provider("kit-oauth").client_id.as_deref(),
                Some("kit-app")
            );
            // An empty secret (a variable set to "") is none: google-analytics has no app.
            assert!(config.provider("google-analytics").client_secret.is_none());
            assert_eq!(config.check_providers(BUILD.iter().copied()), Ok(()));
            Ok(())
        });
    }

    #[test]
    fn sandbox_mode_needs_no_provider_sections() {
        Jail::expect_with(|jail| {
            jail.set_env("DATABASE_URL", "postgres://db/junction");
            jail.set_env("JUNCTION_KEYS", KEYS);
            jail.set_env("JUNCTION_SANDBOX_URL", "http://127.0.0.1:8090");
            let config = Config::from_figment(Config::figment(None)).map_err(|e| e.0)?;
            assert_eq!(config.check_providers(BUILD.iter().copied()), Ok(()));
            for id in BUILD {
                let app = config.provider(id);
                assert!(
                    app.client_id.is_some() && app.client_secret.is_some(),
                    "{id}"
                );
            }
            Ok(())
        });
    }

    #[test]
    fn bad_settings_give_one_line_naming_the_setting() {
        Jail::expect_with(|jail| {
            jail.set_env("JUNCTION_SANDBOX_BIND", "ignored: another tool's variable");
            let err = || Config::from_figment(Config::figment(None)).unwrap_err().0;
            assert_eq!(err(), "DATABASE_URL is not set");
            jail.set_env("DATABASE_URL", "postgres://db/junction");
            assert!(err().starts_with("JUNCTION_KEYS is not set"));
            jail.set_env("JUNCTION_KEYS", "k1:c2VjcmV0LXZhbHVl");
            let message = err();
            assert!(
                message.starts_with("JUNCTION_KEYS is malformed"),
                "{message}"
            );
            assert!(!message.contains("c2VjcmV0LXZhbHVl"));
            jail.set_env("JUNCTION_KEYS", KEYS);
            jail.set_env("JUNCTION_BIND", "nowhere");
            assert!(err().starts_with("JUNCTION_BIND"));
            jail.set_env("JUNCTION_BIND", "127.0.0.1:8080");
            jail.set_env("JUNCTION_PROVIDERS__STRIPE__TOKEN_URL", "ftp://x");
            assert!(err().starts_with("providers.stripe.token_url"));
            assert_eq!(err().lines().count(), 1);
            Ok(())
        });
    }
}
