//! junction-kit: the Kit (formerly ConvertKit) provider, on Kit's v4 API.
//!
//! The crate serves two provider entries, one per auth kind, with one adapter type:
//! [`Kit::api_key`] (`kit`), whose connections send a v4 API key as `X-Kit-Api-Key`, and
//! [`Kit::oauth`] (`kit-oauth`), whose connections send the OAuth 2.0 access token
//! Junction keeps fresh as `Authorization: Bearer` (Kit apps: 600 requests a minute per
//! token instead of 120). Both share everything else: Kit's API is described once, as
//! data for the provider toolkit (the `api` module), which picks the auth mode from
//! what a connection holds; the streams and actions the spec declares are data files
//! (`streams.json`, `actions.json`). The adapter checks a connection with
//! `GET /v4/account` (and, when the connection maps custom fields, that every mapped
//! Kit key exists), and syncs these streams:
//!
//! - `subscribers`: every subscriber in any state; incremental by `updated_after`;
//! - `subscriber_growth`: Kit's growth stats per day → KPIs `total_subscribers`,
//!   `new_subscribers`, `unsubscribes`, `net_new_subscribers`;
//! - `tags`, `sequences`, `forms`: the lists, with each item's subscriber count as a
//!   KPI of the sync day (`tag_subscribers`, `sequence_subscribers`,
//!   `form_subscribers`);
//! - `broadcasts`: drafts, scheduled and sent;
//! - `broadcast_stats`: the stats of each sent broadcast → per-broadcast KPIs dated by
//!   the send day.
//!
//! Actions: `add_subscriber` and `bulk_upsert_subscribers` (both with the
//! connection's custom-field mapping; the bulk one reports each subscriber's result,
//! through Kit's bulk endpoint in chunks of 100 for OAuth connections and one upsert
//! per subscriber for API keys, which Kit's bulk endpoints refuse),
//! `bulk_tag_subscribers` (the same two ways, a result per tagging), `tag_subscriber`,
//! `remove_tag_from_subscriber`, `create_tag`, `unsubscribe`,
//! `add_subscriber_to_sequence`, `add_subscriber_to_form` and `create_broadcast`.
//!
//! Kit allows 120 requests a minute per API key and answers a 429 with the plain text
//! `Retry later` and no `Retry-After`: that is `RateLimited { retry_after: None }`, and
//! the worker backs off on its own. Kit's webhooks are not signed, so the provider
//! declares none.
//!
//! With the `sandbox` feature, [`sandbox::KitFake`] serves a stateful fake of the same
//! endpoints for demo mode and tests (`KitFake::oauth()` for `kit-oauth`).

mod actions;
mod api;
mod bulk;
mod settings;
mod spec;
mod streams;
mod wire;

#[cfg(feature = "sandbox")]
pub mod sandbox;

use async_trait::async_trait;
use http::Method;
use junction_core::{
    ActionOutcome, Adapter, AdapterError, Connection, Context, Health, Page, ProxyTarget,
    ReadRequest, spec::ProviderSpec,
};
use junction_toolkit::{Client, PageToken, data};
use serde_json::{Value, json};

// The description the conformance suite replays.
pub use api::{API, CUSTOM_FIELDS, LIST_SIZE, paging};
pub use spec::*;

use crate::{
    settings::Settings,
    wire::{AccountResponse, CustomFieldsPage},
};

/// The most pages of custom fields a check reads (1,000 per page) before giving up on
/// finding the mapped keys: far beyond any real account.
const MAX_CUSTOM_FIELD_PAGES: usize = 20;

/// Which of Kit's two provider entries an adapter serves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Entry {
    /// `kit`: a v4 API key.
    #[default]
    ApiKey,
    /// `kit-oauth`: OAuth 2.0 for Kit apps.
    OAuth,
}

impl Entry {
    /// The entry's spec.
    pub fn spec(self) -> &'static ProviderSpec {
        match self {
            Self::ApiKey => spec::spec(),
            Self::OAuth => spec::oauth_spec(),
        }
    }
}

/// The Kit adapter. One type serves both entries: they differ only in their spec (id,
/// name, auth kind, budget), and the toolkit picks the auth mode from the connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Kit {
    entry: Entry,
}

impl Kit {
    /// The adapter of `entry`.
    pub const fn new(entry: Entry) -> Self {
        Self { entry }
    }

    /// The adapter of the `kit` entry (API keys); also `Kit::default()`.
    pub const fn api_key() -> Self {
        Self::new(Entry::ApiKey)
    }

    /// The adapter of the `kit-oauth` entry (OAuth 2.0): the same streams and
    /// actions, authenticated with the connection's access token.
    pub const fn oauth() -> Self {
        Self::new(Entry::OAuth)
    }
}

#[async_trait]
impl Adapter for Kit {
    fn spec(&self) -> &ProviderSpec {
        self.entry.spec()
    }

    /// `GET /v4/account` proves the credential; with a `field_map`, the mapped Kit keys
    /// are checked against the account's custom fields so a typo fails at connect time
    /// instead of dropping values later.
    async fn check(&self, ctx: &Context, conn: &Connection) -> Result<Health, AdapterError> {
        let settings = Settings::from_connection(conn)?;
        let client = self.client(ctx, conn)?;
        let AccountResponse { account } = client.verify().await?;
        let mut details = json!({
            "account_id": account.id,
            "plan_type": account.plan_type,
            "timezone": account.timezone.map(|tz| tz.name),
        });
        if !settings.field_map.is_empty() {
            let known = custom_field_keys(&client).await?;
            if let Some(missing) = settings
                .field_map
                .kit_keys()
                .find(|key| !known.iter().any(|k| k == key))
            {
                return Err(AdapterError::invalid_field(
                    FIELD_MAP_FIELD,
                    format!(
                        "Kit has no custom field with the key `{missing}`: create it in Kit \
                         (Subscribers → custom fields) or fix the mapping"
                    ),
                ));
            }
            details["custom_fields"] = json!(known.len());
        }
        let label = match &account.primary_email_address {
            Some(email) => format!("{} ({email})", account.name),
            None => account.name,
        };
        Ok(Health {
            account: Some(label),
            details,
        })
    }

    async fn read(
        &self,
        ctx: &Context,
        conn: &Connection,
        request: &ReadRequest,
    ) -> Result<Page, AdapterError> {
        data::stream(self.spec(), request)?;
        let settings = Settings::from_connection(conn)?;
        streams::read(&self.client(ctx, conn)?, &settings, request).await
    }

    /// Kit has no idempotency keys; see the `actions` module for how each action stays
    /// safe to retry (and how an action the spec does not declare is refused).
    async fn act(
        &self,
        ctx: &Context,
        conn: &Connection,
        action: &str,
        input: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<ActionOutcome, AdapterError> {
        let settings = Settings::from_connection(conn)?;
        let client = self.client(ctx, conn)?;
        // The toolkit authenticates with the access token whenever a connection holds
        // one; only such connections may use Kit's bulk endpoints.
        let credential = match conn.access_token {
            Some(_) => bulk::Credential::OAuth,
            None => bulk::Credential::ApiKey,
        };
        let (spec, field_map) = (self.spec(), &settings.field_map);
        match action {
            BULK_UPSERT_SUBSCRIBERS => {
                let subscribers = bulk::parse(spec, input, field_map)?;
                bulk::upsert(&client, credential, &subscribers).await
            }
            BULK_TAG_SUBSCRIBERS => {
                let taggings = bulk::parse_taggings(spec, input)?;
                bulk::tag(&client, credential, &taggings).await
            }
            _ => actions::run(spec, &client, field_map, action, input, idempotency_key).await,
        }
    }

    /// `https://api.kit.com/` (or the context's override) with the credential header
    /// every call sends: the key as `X-Kit-Api-Key`, or the access token as
    /// `Authorization: Bearer`.
    async fn proxy_target(
        &self,
        ctx: &Context,
        conn: &Connection,
    ) -> Result<ProxyTarget, AdapterError> {
        self.client(ctx, conn)?.proxy_target()
    }
}

impl Kit {
    /// The toolkit's client of `conn`, with the credential the connection holds.
    fn client<'a>(
        &self,
        ctx: &'a Context,
        conn: &'a Connection,
    ) -> Result<Client<'a>, AdapterError> {
        Client::new(ctx, self.entry.spec(), &api::API, conn)
    }
}

/// Every custom-field key of the account (at most [`MAX_CUSTOM_FIELD_PAGES`] pages of
/// them).
async fn custom_field_keys(client: &Client<'_>) -> Result<Vec<String>, AdapterError> {
    let paging = &api::CUSTOM_FIELDS;
    let size = paging.size.max;
    let mut keys = Vec::new();
    let mut token = PageToken::First;
    for _ in 0..MAX_CUSTOM_FIELD_PAGES {
        let request = client.page_request(Method::GET, "custom_fields", paging, &token, size)?;
        let fetched = client.fetch(request).await?;
        let page: CustomFieldsPage = fetched.decode()?;
        keys.extend(page.custom_fields.into_iter().map(|field| field.key));
        match paging.next(&token, size, &fetched.headers, &fetched.body)? {
            Some(next) => token = next,
            None => break,
        }
    }
    Ok(keys)
}
