//! junction-kit: the Kit (formerly ConvertKit) provider, on Kit's v4 API.
//!
//! The crate serves two provider entries, one per auth kind: [`Kit`] (`kit`), whose
//! connections send a v4 API key as `X-Kit-Api-Key`, and [`KitOAuth`] (`kit-oauth`),
//! whose connections send the OAuth 2.0 access token Junction keeps fresh as
//! `Authorization: Bearer` (Kit apps: 600 requests a minute per token instead of 120).
//! Both share everything else. The adapter checks a connection with `GET /v4/account`
//! (and, when the connection maps custom fields, that every mapped Kit key exists), and
//! syncs these streams:
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
//! Actions: `add_subscriber` (with the connection's custom-field mapping),
//! `tag_subscriber`, `add_subscriber_to_sequence`, `add_subscriber_to_form` and
//! `create_broadcast`.
//!
//! Kit allows 120 requests a minute per API key and answers a 429 with the plain text
//! `Retry later` and no `Retry-After`: that is `RateLimited { retry_after: None }`, and
//! the worker backs off on its own. Kit's webhooks are not signed, so the provider
//! declares none.
//!
//! With the `sandbox` feature, [`sandbox::KitFake`] serves a stateful fake of the same
//! endpoints for demo mode and tests (`KitFake::oauth()` for `kit-oauth`).

mod actions;
mod client;
mod settings;
mod spec;
mod streams;
mod wire;

#[cfg(feature = "sandbox")]
pub mod sandbox;

use async_trait::async_trait;
use junction_core::{
    ActionOutcome, Adapter, AdapterError, Connection, Context, Health, Page, ProxyTarget,
    ReadRequest, spec::ProviderSpec,
};
use serde_json::{Value, json};

pub use spec::{
    ADD_SUBSCRIBER, ADD_TO_FORM, ADD_TO_SEQUENCE, API_KEY_FIELD, API_KEY_HEADER, BROADCAST_STATS,
    BROADCASTS, CREATE_BROADCAST, DEFAULT_BASE, DEFAULT_LOOKBACK_DAYS, FIELD_MAP_FIELD, FORMS,
    KPI_BROADCAST_CLICK_RATE, KPI_BROADCAST_CLICKS, KPI_BROADCAST_OPEN_RATE, KPI_BROADCAST_OPENS,
    KPI_BROADCAST_RECIPIENTS, KPI_BROADCAST_UNSUBSCRIBE_RATE, KPI_BROADCAST_UNSUBSCRIBES,
    KPI_FORM_SUBSCRIBERS, KPI_NET_NEW_SUBSCRIBERS, KPI_NEW_SUBSCRIBERS, KPI_SEQUENCE_SUBSCRIBERS,
    KPI_TAG_SUBSCRIBERS, KPI_TOTAL_SUBSCRIBERS, KPI_UNSUBSCRIBES, LOOKBACK_FIELD,
    MAX_LOOKBACK_DAYS, OAUTH_AUTHORIZE_URL, OAUTH_PROVIDER_ID, OAUTH_SCOPE, OAUTH_TOKEN_URL,
    PROVIDER_ID, SEQUENCES, SUBSCRIBER_GROWTH, SUBSCRIBERS, TAG_SUBSCRIBER, TAGS,
};

use crate::{
    client::KitClient,
    settings::Settings,
    wire::{AccountResponse, CustomFieldsPage},
};

/// The most pages of custom fields a check reads (1,000 per page) before giving up on
/// finding the mapped keys: far beyond any real account.
const MAX_CUSTOM_FIELD_PAGES: usize = 20;

/// The Kit adapter for API-key connections (`kit`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Kit;

/// The Kit adapter for OAuth 2.0 connections (`kit-oauth`): the same streams and
/// actions as [`Kit`], authenticated with the connection's access token.
#[derive(Debug, Clone, Copy, Default)]
pub struct KitOAuth;

#[async_trait]
impl Adapter for Kit {
    fn spec(&self) -> &ProviderSpec {
        spec::spec()
    }

    async fn check(&self, ctx: &Context, conn: &Connection) -> Result<Health, AdapterError> {
        check(spec::spec(), ctx, conn).await
    }

    async fn read(
        &self,
        ctx: &Context,
        conn: &Connection,
        request: &ReadRequest,
    ) -> Result<Page, AdapterError> {
        read(spec::spec(), ctx, conn, request).await
    }

    async fn act(
        &self,
        ctx: &Context,
        conn: &Connection,
        action: &str,
        input: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<ActionOutcome, AdapterError> {
        act(spec::spec(), ctx, conn, action, input, idempotency_key).await
    }

    /// `https://api.kit.com/` (or the context's override) with the key as
    /// `X-Kit-Api-Key`, as every call sends it.
    async fn proxy_target(
        &self,
        ctx: &Context,
        conn: &Connection,
    ) -> Result<ProxyTarget, AdapterError> {
        KitClient::new(ctx, spec::spec(), conn)?.proxy_target()
    }
}

#[async_trait]
impl Adapter for KitOAuth {
    fn spec(&self) -> &ProviderSpec {
        spec::oauth_spec()
    }

    async fn check(&self, ctx: &Context, conn: &Connection) -> Result<Health, AdapterError> {
        check(spec::oauth_spec(), ctx, conn).await
    }

    async fn read(
        &self,
        ctx: &Context,
        conn: &Connection,
        request: &ReadRequest,
    ) -> Result<Page, AdapterError> {
        read(spec::oauth_spec(), ctx, conn, request).await
    }

    async fn act(
        &self,
        ctx: &Context,
        conn: &Connection,
        action: &str,
        input: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<ActionOutcome, AdapterError> {
        act(
            spec::oauth_spec(),
            ctx,
            conn,
            action,
            input,
            idempotency_key,
        )
        .await
    }

    /// `https://api.kit.com/` (or the context's override) with the access token as
    /// `Authorization: Bearer`, as every call sends it.
    async fn proxy_target(
        &self,
        ctx: &Context,
        conn: &Connection,
    ) -> Result<ProxyTarget, AdapterError> {
        KitClient::new(ctx, spec::oauth_spec(), conn)?.proxy_target()
    }
}

/// `GET /v4/account` proves the credential; with a `field_map`, the mapped Kit keys are
/// checked against the account's custom fields so a typo fails at connect time
/// instead of dropping values later.
async fn check(
    spec: &'static ProviderSpec,
    ctx: &Context,
    conn: &Connection,
) -> Result<Health, AdapterError> {
    let settings = Settings::from_connection(conn)?;
    let client = KitClient::new(ctx, spec, conn)?;
    let AccountResponse { account } = client.get("v4/account", &[]).await?;
    let mut details = json!({
        "account_id": account.id,
        "plan_type": account.plan_type,
        "timezone": account.timezone.as_ref().map(|tz| tz.name.clone()),
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
        None => account.name.clone(),
    };
    Ok(Health {
        account: Some(label),
        details,
    })
}

async fn read(
    spec: &'static ProviderSpec,
    ctx: &Context,
    conn: &Connection,
    request: &ReadRequest,
) -> Result<Page, AdapterError> {
    if spec.stream(&request.stream).is_none() {
        return Err(AdapterError::invalid_field(
            "stream",
            format!("Kit has no stream `{}`", request.stream),
        ));
    }
    let settings = Settings::from_connection(conn)?;
    let client = KitClient::new(ctx, spec, conn)?;
    streams::read(ctx, &client, &settings, request).await
}

/// Kit has no idempotency keys; see the `actions` module for how each action stays
/// safe to retry.
async fn act(
    spec: &'static ProviderSpec,
    ctx: &Context,
    conn: &Connection,
    action: &str,
    input: &Value,
    idempotency_key: Option<&str>,
) -> Result<ActionOutcome, AdapterError> {
    if spec.action(action).is_none() {
        return Err(AdapterError::invalid_field(
            "action",
            format!("Kit has no action `{action}`"),
        ));
    }
    let settings = Settings::from_connection(conn)?;
    let client = KitClient::new(ctx, spec, conn)?;
    actions::run(ctx, &client, &settings, action, input, idempotency_key).await
}

/// Every custom-field key of the account.
async fn custom_field_keys(client: &KitClient<'_>) -> Result<Vec<String>, AdapterError> {
    let mut keys = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..MAX_CUSTOM_FIELD_PAGES {
        let mut query = vec![("per_page", streams::MAX_PAGE_SIZE.to_string())];
        if let Some(after) = &after {
            query.push(("after", after.clone()));
        }
        let page: CustomFieldsPage = client.get("v4/custom_fields", &query).await?;
        keys.extend(page.custom_fields.into_iter().map(|field| field.key));
        match (page.pagination.has_next_page, page.pagination.end_cursor) {
            (true, Some(end)) if Some(&end) != after.as_ref() => after = Some(end),
            _ => return Ok(keys),
        }
    }
    Ok(keys)
}
