//! The [`Adapter`] trait and the [`Context`] every adapter call receives.
//!
//! The limiter port a context holds ([`RateLimiter`], [`NoopLimiter`]) lives in
//! [`crate::ratelimit`] and is re-exported here.

use std::{collections::BTreeMap, sync::Arc};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

pub use crate::ratelimit::{NoopLimiter, RateLimiter};
use crate::{
    error::AdapterError,
    ids::{IntegrationId, WorkspaceId},
    model::Page,
    spec::ProviderSpec,
    webhook::{WebhookError, WebhookEvent, WebhookRequest},
};

/// A source of the current time, so tests can pin it (webhook tolerances, token expiry).
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock stopped at one moment (tests, signature vectors).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// What an adapter call may use from the outside world.
#[derive(Clone)]
pub struct Context {
    /// The shared HTTP client (timeouts set, redirects off for token endpoints).
    pub http: reqwest::Client,
    /// Replaces the provider's API base URL (sandbox, EU hosts, tests).
    pub base_url: Option<Url>,
    pub clock: Arc<dyn Clock>,
    pub limiter: Arc<dyn RateLimiter>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context with the real clock and no limiter, for tests and tools.
    pub fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            base_url: None,
            clock: Arc::new(SystemClock),
            limiter: Arc::new(NoopLimiter),
        }
    }

    /// The same context with its API base URL overridden.
    pub fn with_base_url(mut self, base_url: Url) -> Self {
        self.base_url = Some(base_url);
        self
    }

    /// The same context with another clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The current time by the context's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The base URL to call: the override when set, else the provider's default.
    pub fn base_url_or(&self, default: &str) -> Result<Url, AdapterError> {
        match &self.base_url {
            Some(url) => Ok(url.clone()),
            None => Url::parse(default)
                .map_err(|_| AdapterError::invalid(format!("bad default base URL {default}"))),
        }
    }

    /// Joins `path` (with or without a leading slash) onto the base URL, keeping any
    /// path prefix the base URL has (a sandbox mounts providers under `/{id}/`).
    pub fn url(&self, default_base: &str, path: &str) -> Result<Url, AdapterError> {
        let base = self.base_url_or(default_base)?;
        let joined = format!(
            "{}/{}",
            base.as_str().trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        Url::parse(&joined).map_err(|_| AdapterError::invalid(format!("bad request path {path}")))
    }
}

/// One integration as an adapter sees it: settings and opened credentials.
#[derive(Clone)]
pub struct Connection {
    pub workspace_id: WorkspaceId,
    pub integration_id: IntegrationId,
    /// Non-secret settings, validated against the spec's config fields.
    pub config: serde_json::Map<String, serde_json::Value>,
    /// Opened secret fields: API keys, passwords, secret config fields.
    pub secrets: BTreeMap<String, SecretString>,
    /// The OAuth 2.0 access token, for OAuth connections.
    pub access_token: Option<SecretString>,
    /// When the access token expires, when known.
    pub token_expires_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets stay out of Debug output; only their names are shown.
        f.debug_struct("Connection")
            .field("workspace_id", &self.workspace_id)
            .field("integration_id", &self.integration_id)
            .field("config", &self.config)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "<redacted>"),
            )
            .field("token_expires_at", &self.token_expires_at)
            .finish()
    }
}

/// Credentials as stored for a connection (what the vault seals), by field name.
pub type Credentials = BTreeMap<String, SecretString>;

impl Connection {
    /// A required secret field, or an `Invalid` error naming it.
    pub fn secret(&self, name: &str) -> Result<&SecretString, AdapterError> {
        self.secrets
            .get(name)
            .ok_or_else(|| AdapterError::invalid_field(name, "is not set"))
    }

    /// A required string config field, or an `Invalid` error naming it.
    pub fn config_str(&self, name: &str) -> Result<&str, AdapterError> {
        self.config
            .get(name)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| AdapterError::invalid_field(name, "is not set"))
    }

    /// The OAuth access token, or an `Unauthorized` error that a refresh may fix.
    pub fn bearer(&self) -> Result<&SecretString, AdapterError> {
        self.access_token
            .as_ref()
            .ok_or_else(|| AdapterError::Unauthorized {
                refreshable: true,
                message: "no access token stored".into(),
            })
    }
}

/// The result of a successful health check.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Health {
    /// A human label of the connected account (a property name, an account email).
    pub account: Option<String>,
    /// Provider-specific details worth showing (quota left, plan).
    pub details: serde_json::Value,
}

/// Which page of which stream to read.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadRequest {
    pub stream: String,
    /// The stored cursor, `None` on a first sync.
    pub cursor: Option<serde_json::Value>,
    /// A page size wish; adapters clamp it to the provider's limits.
    pub page_size: Option<u32>,
}

/// One choice of a config field, as the provider lists it
/// ([`Adapter::options`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldOption {
    /// What the field is set to when this choice is picked.
    pub value: String,
    /// What a person recognises it by (a property's or an account's name).
    pub label: String,
    /// More about it (the account it belongs to, its currency, its size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The result of an action.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ActionOutcome {
    /// The provider's id of what the action created or changed, if any.
    pub external_id: Option<String>,
    /// The provider's response, trimmed to what a client needs.
    pub output: serde_json::Value,
}

/// A record of one stream, as a webhook event changes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamRecord {
    pub stream: String,
    pub record: crate::model::Record,
}

/// A KPI point of one stream, recomputed after a webhook event (always the day's
/// total, never an increment: points upsert).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamKpi {
    pub stream: String,
    pub point: crate::model::KpiPoint,
}

/// An email address Junction must not mail again, and why (a bounce, a complaint).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    pub address: String,
    pub reason: String,
}

/// A record of one stream that a webhook event says was deleted upstream (Stripe's
/// `customer.deleted`). Junction keeps the record, marked deleted, so followers of
/// `modified_after` learn of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamDeletion {
    pub stream: String,
    /// The record's [`crate::Record::external_id`].
    pub external_id: String,
}

/// What a verified webhook event changes in Junction's data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WebhookEffects {
    pub records: Vec<StreamRecord>,
    pub kpis: Vec<StreamKpi>,
    pub suppressions: Vec<Suppression>,
    /// Records removed upstream.
    #[serde(default)]
    pub deletions: Vec<StreamDeletion>,
    /// Emails about a payment the event reports (succeeded, failed, refunded), for
    /// Junction to send through the workspace's email provider when the integration
    /// asked for them. Each is sent at most once per event.
    #[serde(default)]
    pub payment_notices: Vec<PaymentNotice>,
}

/// What happened to a payment, as a [`PaymentNotice`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentOutcome {
    Succeeded,
    Failed,
    Refunded,
}

/// Who a [`PaymentNotice`] is addressed to: the paying customer, or the addresses
/// the integration names for copies (the business's own people).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeAudience {
    Customer,
    Team,
}

/// An email a payment provider's webhook event asks Junction to send: the facts of
/// the payment, already in words a reader understands (the amount in major units),
/// and its recipients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentNotice {
    /// Unique among the notices of one event (`customer`, `team`): with the event's
    /// id it names the email once, so a redelivered or replayed event mails no one
    /// twice.
    pub key: String,
    pub outcome: PaymentOutcome,
    pub audience: NoticeAudience,
    pub to: Vec<String>,
    /// The amount in major units as a decimal (`10.99`, `1000` for JPY).
    pub amount: String,
    /// ISO 4217, upper case.
    pub currency: String,
    pub customer_name: Option<String>,
    pub description: Option<String>,
    /// The provider's id of the payment (`pi_…`, `ch_…`), for the reader's records.
    pub reference: String,
    /// Why a payment failed, in the provider's words.
    pub failure_message: Option<String>,
    /// The provider's receipt page, when it has one.
    pub receipt_url: Option<String>,
    pub occurred_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Where the authenticated proxy (`/v1/integrations/{id}/proxy/{path}`) sends one
/// connection's requests, and the credentials it adds to each of them.
#[derive(Clone)]
pub struct ProxyTarget {
    /// The root of the provider's API for this connection (the context's base-URL
    /// override applies). A proxied path is joined below its path and may never leave
    /// it: same scheme, host and port, under the same path prefix.
    pub base_url: Url,
    /// Headers carrying the connection's credentials (`Authorization: Bearer …`,
    /// `X-Kit-Api-Key: …`). They replace any header of the same name the client sent.
    pub headers: Vec<(http::HeaderName, SecretString)>,
}

impl std::fmt::Debug for ProxyTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyTarget")
            .field("base_url", &self.base_url.as_str())
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(name, _)| name)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl ProxyTarget {
    /// A target authenticated with `Authorization: Bearer {token}`.
    pub fn bearer(base_url: Url, token: &SecretString) -> Self {
        use secrecy::ExposeSecret;
        Self {
            base_url,
            headers: vec![(
                http::header::AUTHORIZATION,
                SecretString::from(format!("Bearer {}", token.expose_secret())),
            )],
        }
    }

    /// A target authenticated with HTTP Basic (`user:password`, base64).
    pub fn basic(base_url: Url, user: &str, password: &SecretString) -> Self {
        use base64::Engine as _;
        use secrecy::ExposeSecret;
        let pair = format!("{user}:{}", password.expose_secret());
        let encoded = base64::engine::general_purpose::STANDARD.encode(pair.as_bytes());
        Self {
            base_url,
            headers: vec![(
                http::header::AUTHORIZATION,
                SecretString::from(format!("Basic {encoded}")),
            )],
        }
    }
}

/// An email Junction sends about itself (KPI alerts, failures, reports), already
/// rendered. Any provider that can send email takes it through [`EmailSender`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingEmail {
    /// Bare addresses (`ops@acme.example`).
    pub to: Vec<String>,
    pub subject: String,
    pub html: String,
    pub text: String,
    /// What kind of email it is (`kpi_alert`, `sync_failure`, …), as a tag where the
    /// provider has tags, so its delivery events can be told apart.
    pub category: String,
}

/// The port Junction's own emails go out through: implemented by every provider
/// that can send email (Resend; SendGrid next), found through
/// [`Adapter::email_sender`].
#[async_trait]
pub trait EmailSender: Send + Sync {
    /// Sends `email` with the connection's default sender. `idempotency_key` is the
    /// same for every attempt of one notification: a provider that honours keys
    /// sends it once however often it is retried.
    async fn send_email(
        &self,
        ctx: &Context,
        conn: &Connection,
        email: &OutgoingEmail,
        idempotency_key: &str,
    ) -> Result<ActionOutcome, AdapterError>;
}

/// The contract of a provider crate. See the crate documentation.
#[async_trait]
pub trait Adapter: Send + Sync {
    /// The provider's static description.
    fn spec(&self) -> &ProviderSpec;

    /// Tests the connection with the cheapest call that proves the credentials and
    /// config work.
    async fn check(&self, ctx: &Context, conn: &Connection) -> Result<Health, AdapterError>;

    /// Reads one page of one stream from a cursor.
    async fn read(
        &self,
        ctx: &Context,
        conn: &Connection,
        request: &ReadRequest,
    ) -> Result<Page, AdapterError>;

    /// Runs an action. `idempotency_key` is passed to providers that support one, so a
    /// retried action has its effect once.
    async fn act(
        &self,
        ctx: &Context,
        conn: &Connection,
        action: &str,
        input: &serde_json::Value,
        idempotency_key: Option<&str>,
    ) -> Result<ActionOutcome, AdapterError> {
        let _ = (ctx, conn, input, idempotency_key);
        Err(AdapterError::unknown_action(self.spec().name, action))
    }

    /// The addresses the provider itself will email when `action` runs with `input`
    /// that the input does not name (Stripe's `send_invoice` mails the invoice's
    /// customer), read from the provider. Called before each run of an action whose
    /// spec says whom it mails ([`crate::spec::ActionSpec::provider_recipients`]), so
    /// that the suppression list screens them; empty when this run mails nobody.
    async fn provider_recipients(
        &self,
        ctx: &Context,
        conn: &Connection,
        action: &str,
        input: &serde_json::Value,
    ) -> Result<Vec<String>, AdapterError> {
        let _ = (ctx, conn, action, input);
        Ok(Vec::new())
    }

    /// Verifies an inbound webhook's signature with the connection's webhook secret and
    /// parses it into events. Nothing may be parsed before the signature holds.
    fn verify_webhook(
        &self,
        ctx: &Context,
        secret: &SecretString,
        request: &WebhookRequest<'_>,
    ) -> Result<Vec<WebhookEvent>, WebhookError> {
        let _ = (ctx, secret, request);
        Err(WebhookError::Unsupported)
    }

    /// Turns a verified event into the records, KPI points and suppressions it changes.
    /// May call the provider (to recompute a day's totals, say). Runs on the webhook
    /// queue with the retry policy, so it must be idempotent.
    async fn apply_webhook(
        &self,
        ctx: &Context,
        conn: &Connection,
        event: &WebhookEvent,
    ) -> Result<WebhookEffects, AdapterError> {
        let _ = (ctx, conn, event);
        Ok(WebhookEffects::default())
    }

    /// Revokes the connection's grant at the provider, where the provider can.
    async fn revoke(&self, ctx: &Context, conn: &Connection) -> Result<(), AdapterError> {
        let _ = (ctx, conn);
        Ok(())
    }

    /// Where the authenticated proxy sends this connection's requests, with which
    /// credentials (see [`ProxyTarget`]). May call the provider (Mailchimp's OAuth
    /// metadata names the data center).
    async fn proxy_target(
        &self,
        ctx: &Context,
        conn: &Connection,
    ) -> Result<ProxyTarget, AdapterError>;

    /// The choices of the config field `field` as the provider lists them, read
    /// with the connection's credentials (the GA4 properties a grant reaches, the
    /// Meta ad accounts a user manages), so a user picks one instead of typing an id.
    /// `None`: the provider lists no choices for that field — the default; the spec
    /// marks the fields that have them ([`crate::ConfigField::options`]). Every page
    /// the provider has is read: a person chooses from the whole list.
    async fn options(
        &self,
        ctx: &Context,
        conn: &Connection,
        field: &str,
    ) -> Result<Option<Vec<FieldOption>>, AdapterError> {
        let _ = (ctx, conn, field);
        Ok(None)
    }

    /// The provider's email port, when it can send Junction's own emails.
    fn email_sender(&self) -> Option<&dyn EmailSender> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_joins_onto_a_prefixed_base() {
        let ctx = Context::new(reqwest::Client::new())
            .with_base_url(Url::parse("http://127.0.0.1:8090/google-analytics/").unwrap());
        let url = ctx
            .url(
                "https://analyticsdata.googleapis.com",
                "/v1beta/properties/1:runReport",
            )
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8090/google-analytics/v1beta/properties/1:runReport"
        );
        let ctx = Context::new(reqwest::Client::new());
        let url = ctx.url("https://api.stripe.com", "v1/charges").unwrap();
        assert_eq!(url.as_str(), "https://api.stripe.com/v1/charges");
    }

    #[test]
    fn connection_debug_hides_secrets() {
        let conn = Connection {
            workspace_id: WorkspaceId::new(),
            integration_id: IntegrationId::new(),
            config: serde_json::Map::new(),
            secrets: [(
                "api_key".to_owned(),
                SecretString::from("sk_live_TOPSECRET"),
            )]
            .into(),
            access_token: Some(SecretString::from("ya29.TOKEN")),
            token_expires_at: None,
        };
        let shown = format!("{conn:?}");
        assert!(
            !shown.contains("TOPSECRET") && !shown.contains("ya29"),
            "{shown}"
        );
        assert!(shown.contains("api_key"));
    }
}
