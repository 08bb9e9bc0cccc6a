//! junction-hubspot: the HubSpot CRM provider.
//!
//! The crate serves two provider entries with one adapter type: [`Hubspot::private_app`]
//! (`hubspot`), whose connections send a private app's access token, and
//! [`Hubspot::oauth`] (`hubspot-oauth`), whose connections send the OAuth 2.0 access
//! token (30 minutes) Junction renews with the installation's refresh token. Both as
//! `Authorization: Bearer`; everything else is shared. HubSpot's API is described once
//! as data for the provider toolkit (`api`); the streams and actions are data files
//! (`streams.json`, `actions.json`).
//!
//! | module | what it holds |
//! |---|---|
//! | [`spec`] | the two entries' specs: auth, settings, streams, actions, webhooks, budget |
//! | [`api`] | the HTTP API as data: host, auth modes, verification, paging, errors, rate-limit headers |
//! | `objects` | `contacts`, `companies`, `deals`: a full list, then searches by last change |
//! | `crm` | `owners`; `pipelines` with the open pipeline by stage (gauges) |
//! | `totals` | `daily_totals`: new contacts, created and won deals, won amount per day |
//! | `actions` | `upsert_contact`, `upsert_deal`, `associate`, `add_note`, each safe to retry |
//! | `webhooks` | webhook v3 deliveries parsed and applied (re-read, upsert, delete) |
//! | `sandbox` | (feature `sandbox`) the fake the sandbox serves and the suite runs against |
//!
//! `check` reads the account's details (`GET /account-info/v3/details`: its id, time
//! zone and company currency) and then one contact (`GET /crm/v3/objects/contacts?
//! limit=1`), so an app without the CRM read scopes fails at connect time.

mod actions;
pub mod api;
mod crm;
mod objects;
pub mod spec;
mod totals;
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
use junction_toolkit::data;
use secrecy::SecretString;
use serde_json::{Value, json};

pub use api::{API, PAGING, SEARCH_PAGING};
pub use spec::*;

/// Which of HubSpot's two provider entries an adapter serves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Entry {
    /// `hubspot`: a private app's access token.
    #[default]
    PrivateApp,
    /// `hubspot-oauth`: OAuth 2.0 for a public app.
    OAuth,
}

impl Entry {
    /// The entry's spec.
    pub fn spec(self) -> &'static ProviderSpec {
        match self {
            Self::PrivateApp => spec::spec(),
            Self::OAuth => spec::oauth_spec(),
        }
    }
}

/// The HubSpot adapter. One type serves both entries: they differ only in their spec
/// (id, name, auth, webhook secret, budget); the toolkit picks the auth mode from
/// what the connection holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hubspot {
    entry: Entry,
}

impl Hubspot {
    /// The adapter of `entry`.
    pub const fn new(entry: Entry) -> Self {
        Self { entry }
    }

    /// The `hubspot` entry (private-app tokens); also `Hubspot::default()`.
    pub const fn private_app() -> Self {
        Self::new(Entry::PrivateApp)
    }

    /// The `hubspot-oauth` entry (OAuth 2.0).
    pub const fn oauth() -> Self {
        Self::new(Entry::OAuth)
    }
}

#[async_trait]
impl Adapter for Hubspot {
    fn spec(&self) -> &ProviderSpec {
        self.entry.spec()
    }

    /// The account's details (the label: `HubSpot account {portalId}`), then one
    /// contact, which proves the CRM read scope.
    async fn check(&self, ctx: &Context, conn: &Connection) -> Result<Health, AdapterError> {
        let client = api::client(ctx, self.entry, conn)?;
        let account: api::Account = client.verify().await?;
        client
            .list_page(
                &objects::path(objects::CONTACT, ""),
                &PAGING,
                &junction_toolkit::PageToken::First,
                1,
            )
            .await?;
        Ok(Health {
            account: Some(format!("HubSpot account {}", account.portal_id)),
            details: json!({
                "portal_id": account.portal_id,
                "time_zone": account.time_zone,
                "company_currency": account.company_currency,
                "ui_domain": account.ui_domain,
            }),
        })
    }

    async fn read(
        &self,
        ctx: &Context,
        conn: &Connection,
        request: &ReadRequest,
    ) -> Result<Page, AdapterError> {
        let stream = data::stream(self.spec(), request)?;
        let client = api::client(ctx, self.entry, conn)?;
        if let Some(kind) = objects::of_stream(stream.name) {
            return objects::read(&client, kind, request).await;
        }
        match stream.name {
            OWNERS => crm::owners(&client, request).await,
            PIPELINES => crm::pipelines(&client, conn, &stream.metrics, request).await,
            DAILY_TOTALS => totals::read(&client, conn, &stream.metrics, request).await,
            // `data::stream` refuses streams the spec does not list; a listed stream
            // without a reader is a mistake of this crate.
            other => Err(AdapterError::invalid_field(
                "stream",
                format!("no reader for `{other}`"),
            )),
        }
    }

    /// HubSpot takes no idempotency keys; see the `actions` module for how each
    /// action stays safe to retry.
    async fn act(
        &self,
        ctx: &Context,
        conn: &Connection,
        action: &str,
        input: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<ActionOutcome, AdapterError> {
        let client = api::client(ctx, self.entry, conn)?;
        actions::run(self.spec(), &client, action, input, idempotency_key).await
    }

    /// The v3 signature (the spec's scheme) before the body is parsed.
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
        webhooks::apply(&api::client(ctx, self.entry, conn)?, conn, event).await
    }

    /// `https://api.hubapi.com/` (or the context's override) with the connection's
    /// `Authorization: Bearer` token.
    async fn proxy_target(
        &self,
        ctx: &Context,
        conn: &Connection,
    ) -> Result<ProxyTarget, AdapterError> {
        api::client(ctx, self.entry, conn)?.proxy_target()
    }
}
