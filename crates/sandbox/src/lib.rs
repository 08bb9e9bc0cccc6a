//! junction-sandbox: one HTTP server that stands in for every provider, so the whole
//! product runs offline (demo mode) and end-to-end tests need no outside service.
//!
//! It serves, on one port:
//! - a fake OAuth 2.0 authorization server per provider whose spec uses
//!   [`AuthSpec::OAuth2`](junction_core::AuthSpec::OAuth2), honouring that spec (scopes
//!   and their separator, PKCE, refresh behaviour): `/oauth/{provider}/authorize`,
//!   `/oauth/{provider}/token`, `/oauth/{provider}/revoke`; for a provider whose spec
//!   uses [`AuthSpec::ClientCredentials`](junction_core::AuthSpec::ClientCredentials),
//!   `/oauth/{provider}/token` serves that grant to the key pair its fake's catalog
//!   entry publishes;
//! - every provider's fake API ([`ProviderFake`]) at `/{provider}/...`, with bearer
//!   tokens checked against the fake OAuth server (the [`Sandbox`] is the fakes'
//!   [`TokenAuthority`](junction_core::fake::TokenAuthority));
//! - control endpoints under `/_sandbox/` to arm faults, script token-endpoint
//!   failures, expire tokens, slow a fake down, reset and inspect the state; `/healthz`; an HTML index
//!   at `/`;
//! - the catalog, `GET /_sandbox/catalog` ([`Catalog`]): every provider entry it serves
//!   with what connecting it here takes — auth kind, the credentials and settings its
//!   fake accepts ([`ProviderFake::catalog`]), the OAuth client and this server's
//!   authorize and token URLs, the base URL of the fake, the webhook signing secret.
//!   Clients read it instead of knowing each provider by heart (`cargo xtask demo`
//!   connects every entry from it).
//!
//! The fake OAuth server knows one client: [`CLIENT_ID`] with [`CLIENT_SECRET`].
//! Junction in demo mode (`JUNCTION_SANDBOX_URL`) uses exactly these.
//!
//! Use [`spawn`] to run it in the background (tests, `cargo xtask demo`), or
//! [`Sandbox::configure`] to mount it into an actix-web `App` of your own.

mod catalog;
mod control;
mod fakes;
mod html;
mod oauth;
mod reply;
mod secret;
mod state;

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use actix_web::{App, HttpServer, web};
use junction_core::{
    AuthSpec, OAuth2Spec,
    fake::{Fault, ProviderFake, TokenAuthority, TokenStatus},
    spec::ProviderSpec,
};
use serde::{Deserialize, Serialize};

pub use catalog::{Catalog, CatalogOAuth, CatalogProvider};
pub use junction_core::fake::{CatalogEntry, SpecialValue};
pub use state::{ProviderState, SandboxState};

/// The only client id the fake OAuth server accepts.
pub const CLIENT_ID: &str = "junction-sandbox";

/// The client secret of [`CLIENT_ID`]. Not a secret: it is published so that demo
/// deployments and tests can be configured without any setup.
pub const CLIENT_SECRET: &str = "junction-sandbox-secret";

/// Most request bodies a fake accepts (bulk imports can be a few megabytes).
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Settings of a sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// How long an issued access token is valid (`expires_in`).
    pub token_lifetime: Duration,
    /// How long an authorization code can be exchanged.
    pub code_lifetime: Duration,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            token_lifetime: Duration::from_secs(3600),
            code_lifetime: Duration::from_secs(600),
        }
    }
}

/// The grant types of the token endpoint a failure can be scripted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    /// The provider's long-lived token exchange (Meta's `fb_exchange_token`).
    LongLivedExchange,
    /// The client-credentials grant of a provider whose users hold a key pair.
    ClientCredentials,
}

impl GrantType {
    /// The `grant_type` form value.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            // The wire value is the provider's (`fb_exchange_token`); this names the kind.
            GrantType::LongLivedExchange => "long_lived_exchange",
            GrantType::ClientCredentials => "client_credentials",
        }
    }
}

/// How a scripted token-endpoint failure answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenFailure {
    /// 400 `{"error":"invalid_grant"}` (the grant is left untouched).
    InvalidGrant,
    /// 500 `{"error":"server_error"}`.
    ServerError,
    /// 503 `{"error":"temporarily_unavailable"}`.
    TemporarilyUnavailable,
    /// HTTP 200 whose body is `{"error":"invalid_grant"}` (some providers do this).
    #[serde(rename = "error_in_200")]
    ErrorIn200,
    /// A success without `expires_in`.
    MissingExpiresIn,
    /// A success whose `scope` is joined by commas whatever the spec says.
    CommaScopes,
}

/// Why a control operation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SandboxError {
    /// No provider with this id is mounted.
    UnknownProvider(String),
    /// The provider exists but does not use OAuth 2.0 (authorization code).
    NotOAuth2(String),
    /// The provider has no fake API to inject faults into.
    NoFake(String),
    /// A count of zero.
    ZeroCount,
}

impl std::fmt::Display for SandboxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SandboxError::UnknownProvider(id) => write!(f, "no provider `{id}` in this sandbox"),
            SandboxError::NotOAuth2(id) => write!(f, "provider `{id}` does not use OAuth 2.0"),
            SandboxError::NoFake(id) => write!(f, "provider `{id}` has no fake API"),
            SandboxError::ZeroCount => write!(f, "`count` must be at least 1"),
        }
    }
}

impl std::error::Error for SandboxError {}

/// The sandbox: providers, their fakes and the fake OAuth server's state. Cheap to
/// clone (the state is shared).
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    config: SandboxConfig,
    specs: BTreeMap<&'static str, ProviderSpec>,
    fakes: BTreeMap<&'static str, Arc<dyn ProviderFake>>,
    state: Mutex<state::State>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The state holds only digests of tokens, but counts are all a reader needs.
        f.debug_struct("Sandbox")
            .field("config", &self.inner.config)
            .field("providers", &self.provider_ids())
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// A sandbox of every provider compiled into this build, with its fake.
    pub fn new(config: SandboxConfig) -> Self {
        let registry = junction_registry::Registry::builtin();
        Self::with_providers(
            config,
            registry.specs().cloned().collect(),
            junction_registry::fakes(),
        )
    }

    /// A sandbox of exactly these providers (tests bring their own specs and fakes).
    /// A spec without a fake still gets its OAuth server; a fake without a spec is
    /// still mounted.
    pub fn with_providers(
        config: SandboxConfig,
        specs: Vec<ProviderSpec>,
        fakes: Vec<Arc<dyn ProviderFake>>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                specs: specs.into_iter().map(|spec| (spec.id, spec)).collect(),
                fakes: fakes
                    .into_iter()
                    .map(|fake| (fake.provider_id(), fake))
                    .collect(),
                state: Mutex::new(state::State::default()),
            }),
        }
    }

    /// Mounts every endpoint (see the crate docs). The provider mounts match any
    /// first path segment, so mount the sandbox on an `App` of its own or last.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::new(self.clone()))
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES));
        control::configure(cfg);
        oauth::configure(cfg);
        fakes::configure(cfg);
    }

    /// The settings it was built with.
    pub fn config(&self) -> &SandboxConfig {
        &self.inner.config
    }

    /// Every provider id it serves (OAuth server, fake API or both), ordered.
    pub fn provider_ids(&self) -> Vec<&'static str> {
        let mut ids: Vec<&'static str> = self
            .inner
            .specs
            .keys()
            .chain(self.inner.fakes.keys())
            .copied()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Arms `count` faults for the provider's fake: its next `count` requests get it.
    pub fn arm_fault(&self, provider: &str, fault: Fault, count: u32) -> Result<(), SandboxError> {
        if count == 0 {
            return Err(SandboxError::ZeroCount);
        }
        let id = self.fake(provider)?.provider_id();
        self.lock().arm_fault(id, fault, count);
        tracing::info!(provider = id, ?fault, count, "armed faults");
        Ok(())
    }

    /// Delays every answer of the provider's fake by `latency` (zero clears it), so
    /// tests can act in the middle of a slow sync. The wait does not block other
    /// requests.
    pub fn set_latency(&self, provider: &str, latency: Duration) -> Result<(), SandboxError> {
        let id = self.fake(provider)?.provider_id();
        self.lock().set_latency(id, latency);
        tracing::info!(
            provider = id,
            millis = latency.as_millis(),
            "set fake latency"
        );
        Ok(())
    }

    /// Makes the next `count` token requests of this grant type for the provider
    /// answer with `failure`.
    pub fn script_token_failure(
        &self,
        provider: &str,
        grant_type: GrantType,
        failure: TokenFailure,
        count: u32,
    ) -> Result<(), SandboxError> {
        if count == 0 {
            return Err(SandboxError::ZeroCount);
        }
        let spec = self.token_spec(provider)?;
        self.lock()
            .script_failure(spec.id, grant_type, failure, count);
        tracing::info!(
            provider = spec.id,
            ?grant_type,
            ?failure,
            count,
            "scripted token failures"
        );
        Ok(())
    }

    /// Marks every access token issued for the provider expired (refresh tokens stay
    /// valid, so a client's refresh can be tested). Returns how many were marked.
    pub fn expire_tokens(&self, provider: &str) -> Result<usize, SandboxError> {
        let spec = self.token_spec(provider)?;
        let now = chrono::Utc::now();
        let expired = self.lock().expire_access_tokens(spec.id, now);
        tracing::info!(provider = spec.id, expired, "expired access tokens");
        Ok(expired)
    }

    /// Forgets every code, token, armed fault and scripted failure.
    pub fn reset(&self) {
        *self.lock() = state::State::default();
        tracing::info!("sandbox reset");
    }

    /// Counts of what the sandbox holds (no token values).
    pub fn snapshot(&self) -> SandboxState {
        let now = chrono::Utc::now();
        let state = self.lock();
        SandboxState {
            providers: self
                .provider_ids()
                .into_iter()
                .map(|id| (id.to_owned(), state.provider_counts(id, now)))
                .collect(),
        }
    }

    /// The spec of a provider.
    fn spec(&self, provider: &str) -> Result<&ProviderSpec, SandboxError> {
        self.inner.specs.get(provider).ok_or_else(|| {
            if self.inner.fakes.contains_key(provider) {
                SandboxError::NotOAuth2(provider.to_owned())
            } else {
                SandboxError::UnknownProvider(provider.to_owned())
            }
        })
    }

    /// The spec and OAuth 2.0 details of a provider that uses OAuth 2.0.
    fn oauth_spec(&self, provider: &str) -> Result<(&ProviderSpec, &OAuth2Spec), SandboxError> {
        let spec = self.spec(provider)?;
        match &spec.auth {
            AuthSpec::OAuth2(oauth) => Ok((spec, oauth)),
            _ => Err(SandboxError::NotOAuth2(provider.to_owned())),
        }
    }

    /// The spec of a provider whose tokens this sandbox issues (OAuth 2.0 or the
    /// client-credentials grant).
    fn token_spec(&self, provider: &str) -> Result<&ProviderSpec, SandboxError> {
        let spec = self.spec(provider)?;
        match &spec.auth {
            AuthSpec::OAuth2(_) | AuthSpec::ClientCredentials { .. } => Ok(spec),
            _ => Err(SandboxError::NotOAuth2(provider.to_owned())),
        }
    }

    /// The spec of a provider that uses the client-credentials grant.
    fn client_credentials_spec(&self, provider: &str) -> Option<&ProviderSpec> {
        self.inner
            .specs
            .get(provider)
            .filter(|spec| matches!(spec.auth, AuthSpec::ClientCredentials { .. }))
    }

    /// The key pair a client-credentials provider's fake publishes in its catalog
    /// entry (the credentials a user would type in), read by the spec's field names.
    fn client_key_pair(
        &self,
        provider: &str,
        id_field: &str,
        secret_field: &str,
    ) -> Option<(String, String)> {
        let entry = self.inner.fakes.get(provider)?.catalog();
        let value = |field: &str| {
            entry
                .credentials
                .get(field)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        Some((value(id_field)?, value(secret_field)?))
    }

    /// The fake of a provider.
    fn fake(&self, provider: &str) -> Result<&Arc<dyn ProviderFake>, SandboxError> {
        self.inner.fakes.get(provider).ok_or_else(|| {
            if self.inner.specs.contains_key(provider) {
                SandboxError::NoFake(provider.to_owned())
            } else {
                SandboxError::UnknownProvider(provider.to_owned())
            }
        })
    }

    /// The state, even if a panicking request poisoned the lock (every mutation
    /// leaves the maps consistent, so the data is still sound).
    fn lock(&self) -> MutexGuard<'_, state::State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl TokenAuthority for Sandbox {
    fn check(&self, provider: &str, access_token: &str) -> TokenStatus {
        self.lock()
            .check_access_token(provider, access_token, chrono::Utc::now())
    }
}

/// A sandbox serving in the background.
#[derive(Debug)]
pub struct RunningSandbox {
    /// Where it listens, e.g. `http://127.0.0.1:41234/` (a loopback address when
    /// bound to all interfaces).
    pub url: url::Url,
    /// The socket address it is bound to.
    pub local_addr: SocketAddr,
    /// Stops it: `handle.stop(true).await`.
    pub handle: actix_web::dev::ServerHandle,
    /// Its state, for direct control (arm faults, expire tokens, check tokens).
    pub sandbox: Sandbox,
}

impl RunningSandbox {
    /// The base URL without the trailing slash, the form `JUNCTION_SANDBOX_URL` takes.
    pub fn base_url(&self) -> String {
        self.url.as_str().trim_end_matches('/').to_owned()
    }
}

/// Binds `bind` (port 0 picks a free port) and serves a sandbox of every built-in
/// provider on one worker in the background. Must be called inside a tokio runtime.
/// Signals are left to the caller (stop it with `handle.stop(true)`).
pub async fn spawn(config: SandboxConfig, bind: SocketAddr) -> std::io::Result<RunningSandbox> {
    spawn_sandbox(Sandbox::new(config), bind).await
}

/// [`spawn`] for a sandbox built with [`Sandbox::with_providers`].
pub async fn spawn_sandbox(sandbox: Sandbox, bind: SocketAddr) -> std::io::Result<RunningSandbox> {
    let app_sandbox = sandbox.clone();
    let server = HttpServer::new(move || {
        let sandbox = app_sandbox.clone();
        App::new().configure(move |cfg| sandbox.configure(cfg))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(5)
    .bind(bind)?;
    let local_addr = server
        .addrs()
        .into_iter()
        .next()
        .ok_or_else(|| std::io::Error::other("the server bound no address"))?;
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(async move {
        if let Err(err) = server.await {
            tracing::error!(error = %err, "sandbox server stopped with an error");
        }
    });
    let reachable = match local_addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let url = url::Url::parse(&format!(
        "http://{}/",
        SocketAddr::new(reachable, local_addr.port())
    ))
    .map_err(|err| std::io::Error::other(format!("cannot form the sandbox URL: {err}")))?;
    tracing::info!(%url, "sandbox listening");
    Ok(RunningSandbox {
        url,
        local_addr,
        handle,
        sandbox,
    })
}
