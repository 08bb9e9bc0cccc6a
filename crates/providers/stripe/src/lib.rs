//! junction-stripe: the Stripe provider.
//!
//! Connections authenticate with a secret key (`sk_live_…`/`sk_test_…`) or a
//! restricted key (`rk_…`), sent as `Authorization: Bearer`, with every request
//! pinned to [`API_VERSION`] through `Stripe-Version`. [`Stripe`]:
//!
//! - checks a connection with `GET /v1/account` (a restricted key, which may not read
//!   the account, with `GET /v1/charges?limit=1`);
//! - syncs six streams from Stripe's list endpoints, paging with `starting_after`
//!   (windows of `created` for most streams, a full sweep for subscriptions):
//!   `charges`, `payment_intents`, `customers`, `subscriptions`, `invoices`, `refunds`,
//!   with KPI points per UTC day and currency: `gross_revenue`, `net_revenue`,
//!   `refunds`, `mrr`, `new_subscriptions`, `churned_subscriptions` (money in major
//!   units);
//! - runs nineteen actions, form-encoded with the caller's `Idempotency-Key`:
//!   customers (create, update, search), payments (payment intents, Checkout
//!   Sessions, Payment Links, refunds), subscriptions (create, change with proration,
//!   cancel now or at period end, resume, pause and resume collection) and invoices
//!   (invoice items, create, finalize, send, void), naming beforehand whom Stripe
//!   will email an invoice (`recipients`) for the suppression list to screen;
//! - verifies `Stripe-Signature` webhooks and applies `payment_intent.succeeded`,
//!   `payment_intent.payment_failed`, `charge.refunded`,
//!   `customer.subscription.created|updated|deleted` and `invoice.paid` as record
//!   upserts and recomputed daily totals, `customer.deleted` and `invoice.deleted`
//!   as deletions of their records, and, when the integration's
//!   `payment_emails` setting asks for them, payment emails for Junction to send
//!   (`notices`).
//!
//! Stripe's errors are classified from its error object: 401 and 403 need the user
//! (a revoked key, a restricted key without a permission), a 400 names the bad
//! parameter, 402 is a card refusal, 429 is a rate limit with no `Retry-After` (we
//! back off on our own), and `Stripe-Should-Retry` overrides the status when present.
//!
//! The API is described for the provider toolkit ([`API`]: host, bearer key, pinned
//! version, error table; [`PAGING`]: `starting_after` paging), which runs every
//! call; webhooks are verified by the toolkit with the scheme the spec names
//! ([`WEBHOOK_SCHEME`]); the actions are data (`actions.json`). What is Stripe's own
//! stays here: the KPI arithmetic (`kpi`, [`money`]), the windows and sweeps of the
//! sync (`streams`), the effects of each webhook event (`webhooks`), the check.
//!
//! With the `sandbox` feature, [`sandbox::StripeFake`] serves a stateful fake of the
//! same endpoints for demo mode and tests.

mod actions;
mod api;
pub mod form;
mod kpi;

pub mod money;
mod notices;
mod recipients;
mod spec;
mod streams;
mod webhooks;

#[cfg(feature = "sandbox")]
pub mod sandbox;

use async_trait::async_trait;
use junction_core::{
    ActionOutcome, Adapter, AdapterError, Connection, Context, Health, Page, ProxyTarget,
    ReadRequest, WebhookEffects,
    spec::ProviderSpec,
    webhook::{WebhookError, WebhookEvent, WebhookRequest},
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

pub use api::{API, IDEMPOTENCY_HEADER, SHOULD_RETRY_HEADER, VERSION_HEADER, redact};
pub use spec::{
    API_VERSION, CHARGES, CHURNED_SUBSCRIPTIONS, CURRENCY_DIMENSION, CUSTOMERS, DEFAULT_BASE,
    GROSS_REVENUE, INVOICES, MRR, NET_REVENUE, NEW_SUBSCRIPTIONS, PAYMENT_EMAILS_FIELD,
    PAYMENT_EMAILS_TO_FIELD, PAYMENT_INTENTS, PROVIDER_ID, REFUNDED, REFUNDS, SECRET_KEY_FIELD,
    SECRET_KEY_PATTERN, SUBSCRIPTIONS, WEBHOOK_EVENTS, WEBHOOK_SCHEME, WEBHOOK_SECRET_FIELD,
    WEBHOOK_SECRET_PATTERN,
};
pub use streams::{MAX_PAGE_SIZE, PAGING, REVISIT_DAYS};

/// The Stripe adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stripe;

#[async_trait]
impl Adapter for Stripe {
    fn spec(&self) -> &ProviderSpec {
        spec::spec()
    }

    /// `GET /v1/account` proves a secret key and names the account. Restricted keys
    /// may lack the account permission, so they are checked with one charge from
    /// `GET /v1/charges`, which proves the key and the read access the main stream
    /// needs.
    async fn check(&self, ctx: &Context, conn: &Connection) -> Result<Health, AdapterError> {
        let client = api::client(ctx, conn)?;
        let mode = if api::is_live(conn)? { "live" } else { "test" };
        let restricted = conn
            .secret(SECRET_KEY_FIELD)?
            .expose_secret()
            .starts_with("rk_");
        if restricted {
            streams::list(&client, CHARGES, &[("limit", "1".to_owned())]).await?;
            return Ok(Health {
                account: Some(format!("Stripe account ({mode} mode, restricted key)")),
                details: json!({"mode": mode, "key": "restricted", "api_version": API_VERSION}),
            });
        }
        let account = api::get(&client, "account", &[]).await?.body;
        let text = |pointer: &str| {
            account
                .pointer(pointer)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let id = text("/id").ok_or_else(|| {
            AdapterError::unavailable("Stripe answered /v1/account without an account id")
        })?;
        let name = text("/settings/dashboard/display_name")
            .or_else(|| text("/business_profile/name"))
            .or_else(|| text("/email"))
            .unwrap_or(id);
        Ok(Health {
            account: Some(format!("{name} ({mode} mode)")),
            details: json!({
                "account_id": id,
                "mode": mode,
                "key": "secret",
                "api_version": API_VERSION,
                "country": account.get("country"),
                "default_currency": account.get("default_currency"),
                "charges_enabled": account.get("charges_enabled"),
                "payouts_enabled": account.get("payouts_enabled"),
            }),
        })
    }

    async fn read(
        &self,
        ctx: &Context,
        conn: &Connection,
        request: &ReadRequest,
    ) -> Result<Page, AdapterError> {
        streams::read(&api::client(ctx, conn)?, request).await
    }

    /// Runs an action with the caller's idempotency key as `Idempotency-Key`, so a
    /// retry with the same key and input reaches Stripe's stored result instead of
    /// creating (or charging, or refunding) a second time.
    async fn act(
        &self,
        ctx: &Context,
        conn: &Connection,
        action: &str,
        input: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<ActionOutcome, AdapterError> {
        actions::run(&api::client(ctx, conn)?, action, input, idempotency_key).await
    }

    /// An invoice's customer, whom Stripe emails the invoice (`recipients`).
    async fn provider_recipients(
        &self,
        ctx: &Context,
        conn: &Connection,
        action: &str,
        input: &Value,
    ) -> Result<Vec<String>, AdapterError> {
        recipients::mailed(&api::client(ctx, conn)?, action, input).await
    }

    /// Checks `Stripe-Signature` with the endpoint's signing secret, at the context's
    /// clock (the scheme the spec names), then parses the event.
    fn verify_webhook(
        &self,
        ctx: &Context,
        secret: &SecretString,
        request: &WebhookRequest<'_>,
    ) -> Result<Vec<WebhookEvent>, WebhookError> {
        junction_toolkit::webhook::verify(self.spec(), ctx, secret, request, webhooks::parse)
    }

    async fn apply_webhook(
        &self,
        ctx: &Context,
        conn: &Connection,
        event: &WebhookEvent,
    ) -> Result<WebhookEffects, AdapterError> {
        webhooks::apply(&api::client(ctx, conn)?, conn, event).await
    }

    // `revoke` keeps the default: Stripe has no API to revoke or roll a secret key
    // (that is done in the Dashboard), and forgetting the key is all disconnecting can do.

    /// Stripe's API host root (the client names the version: `v1/charges`), or the
    /// context's override, with the secret key as `Authorization: Bearer`. The
    /// client chooses its own `Stripe-Version` (the account's default without one).
    async fn proxy_target(
        &self,
        ctx: &Context,
        conn: &Connection,
    ) -> Result<ProxyTarget, AdapterError> {
        api::client(ctx, conn)?.proxy_target()
    }
}
