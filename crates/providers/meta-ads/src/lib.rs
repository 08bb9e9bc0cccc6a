//! junction-meta-ads: the Meta Ads provider (Marketing API on the Graph API).
//!
//! Connections authorize with Facebook Login (`ads_read`); the code's short-lived
//! user token is exchanged for a long-lived one (about 60 days) by junction-oauth,
//! as the spec's `long_lived_exchange` declares, and renewed the same way before it
//! expires (Meta issues no refresh tokens). A connection names one ad account.
//!
//! [`MetaAds`] checks a connection with `GET /act_{id}` (the account's name, status,
//! currency and time zone) and syncs the `insights` stream: `GET /act_{id}/insights`
//! at campaign level, one row per campaign and day, paged by Meta's cursors,
//! incremental by date with the last 28 days re-read at every sync (Meta restates
//! them). Rows become records (`{campaign_id}:{date}`) and KPI points per campaign
//! and day: spend, impressions, clicks, ctr, cpc, purchases, purchase value, ROAS
//! (see [`insights`] for how purchases are counted once).
//!
//! The Graph API is described as data for the provider toolkit (host, bearer token,
//! error table, usage headers): throttling arrives as Graph error codes with usage
//! headers; see [`graph`].
//! Webhooks of the `ad_account` object are verified with the app secret
//! (`X-Hub-Signature-256`) and re-read the day's insights when a campaign's delivery
//! changes; see [`webhooks`].
//!
//! With the `sandbox` feature, [`sandbox::MetaAdsFake`] serves a deterministic fake
//! of the same endpoints for demo mode and tests.

pub mod graph;
pub mod insights;
pub mod options;
mod spec;
pub mod webhooks;

#[cfg(feature = "sandbox")]
pub mod sandbox;

use async_trait::async_trait;
use http::Method;
use junction_core::{
    Adapter, AdapterError, Connection, Context, FieldOption, Health, Page, ProxyTarget,
    ReadRequest, WebhookEffects,
    spec::ProviderSpec,
    webhook::{WebhookError, WebhookEvent, WebhookRequest},
};
use junction_toolkit::{
    Client, PageToken, auth, choices,
    cursor::{self, WindowRead},
    data, paging,
};
use secrecy::SecretString;
use serde_json::{Map, Value, json};

pub use spec::{
    ADS_MANAGEMENT_SCOPE, ADS_READ_SCOPE, DEFAULT_BASE, DEFAULT_LOOKBACK_DAYS, GRAPH_VERSION,
    INSIGHTS, MAX_LOOKBACK_DAYS, PROVIDER_ID, RESTATEMENT_DAYS, VERIFY_TOKEN_FIELD, WEBHOOK_FIELDS,
};

use crate::insights::{Cursor, InsightsPage, PAGING, Settings};

/// The fields `check` reads of the ad account.
const ACCOUNT_FIELDS: &str = "name,account_status,currency,timezone_name";

/// Most pages one webhook's re-read may take (two days of campaigns).
const MAX_WEBHOOK_PAGES: usize = 50;

/// The Meta Ads adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetaAds;

/// The names of `account_status` values (AdAccount in the Marketing API).
const ACCOUNT_STATUSES: [(i64, &str); 10] = [
    (1, "ACTIVE"),
    (2, "DISABLED"),
    (3, "UNSETTLED"),
    (7, "PENDING_RISK_REVIEW"),
    (8, "PENDING_SETTLEMENT"),
    (9, "IN_GRACE_PERIOD"),
    (100, "PENDING_CLOSURE"),
    (101, "CLOSED"),
    (201, "ANY_ACTIVE"),
    (202, "ANY_CLOSED"),
];

#[async_trait]
impl Adapter for MetaAds {
    fn spec(&self) -> &ProviderSpec {
        spec::spec()
    }

    /// Reads the ad account: proves the token, the permission and the account id,
    /// and labels the connection with the account's name.
    async fn check(&self, ctx: &Context, conn: &Connection) -> Result<Health, AdapterError> {
        let settings = Settings::from_connection(conn)?;
        let account: Map<String, Value> = client(ctx, conn)?
            .get(&settings.node(), &[("fields", ACCOUNT_FIELDS.to_owned())])
            .await?;
        let code = account.get("account_status").and_then(Value::as_i64);
        let known = code.map(|code| ACCOUNT_STATUSES.iter().find(|(c, _)| *c == code));
        let status = known.map(|found| found.map_or("UNKNOWN", |(_, name)| *name));
        if status.is_some_and(|s| s != "ACTIVE") {
            tracing::warn!(
                provider = PROVIDER_ID,
                account = %settings.node(),
                status,
                "the Meta ad account is not active: its campaigns do not deliver"
            );
        }
        let label = match account.get("name").and_then(Value::as_str) {
            Some(name) => format!("{name} ({})", settings.node()),
            None => settings.node(),
        };
        Ok(Health {
            account: Some(label),
            details: json!({
                "account_status": status,
                "currency": account.get("currency"),
                "timezone_name": account.get("timezone_name"),
            }),
        })
    }

    /// Reads one page of `insights`. The cursor holds the window of days and Meta's
    /// `after` cursor, or, between syncs, the first day of the next window.
    async fn read(
        &self,
        ctx: &Context,
        conn: &Connection,
        request: &ReadRequest,
    ) -> Result<Page, AdapterError> {
        data::stream(self.spec(), request)?;
        let settings = Settings::from_connection(conn)?;
        let (today, lookback) = (ctx.now().date_naive(), settings.lookback_days);
        let read = WindowRead::plan::<Cursor>(request.cursor.as_ref(), INSIGHTS, today, lookback)?;
        let client = client(ctx, conn)?;
        let page_size = PAGING.size.pick(request.page_size);
        let (rows, next) = read_window(&client, &settings, &read, page_size).await?;
        let (records, kpis) = insights::map_rows(&rows)?;
        let (cursor, has_more) = insights::advance(&read, next);
        cursor::page(records, kpis, &cursor, has_more)
    }

    /// Checks `X-Hub-Signature-256` with the app secret, then parses the delivery.
    fn verify_webhook(
        &self,
        ctx: &Context,
        secret: &SecretString,
        request: &WebhookRequest<'_>,
    ) -> Result<Vec<WebhookEvent>, WebhookError> {
        junction_toolkit::webhook::verify(self.spec(), ctx, secret, request, webhooks::parse)
    }

    /// A change to a campaign's delivery re-reads that day's (and the day before's,
    /// as the account's time zone may be behind UTC) insights of the account, so the
    /// stored day totals match Meta's. Events of other accounts or fields change
    /// nothing.
    async fn apply_webhook(
        &self,
        ctx: &Context,
        conn: &Connection,
        event: &WebhookEvent,
    ) -> Result<WebhookEffects, AdapterError> {
        if !WEBHOOK_FIELDS.contains(&event.event_type.as_str()) {
            return Ok(WebhookEffects::default());
        }
        let settings = Settings::from_connection(conn)?;
        let account = data::text(event.payload.get("ad_account_id")).unwrap_or_default();
        if account.strip_prefix("act_").unwrap_or(&account) != settings.account_id {
            tracing::info!(
                provider = PROVIDER_ID,
                event = %event.id,
                "webhook event of another ad account ignored"
            );
            return Ok(WebhookEffects::default());
        }
        let client = client(ctx, conn)?;
        let day = event.occurred_at.unwrap_or_else(|| ctx.now()).date_naive();
        let days = cursor::Window::lookback(day, 1);
        let pages = paging::walk(MAX_WEBHOOK_PAGES, |page| {
            let read = WindowRead { days, page };
            let (client, settings) = (&client, &settings);
            async move {
                let (rows, next) = read_window(client, settings, &read, PAGING.size.max).await?;
                Ok((insights::map_rows(&rows)?, next))
            }
        })
        .await?;
        Ok(data::effects(INSIGHTS, pages))
    }

    /// Removes the app's permissions for the user (`DELETE /me/permissions`), which
    /// invalidates every token of the grant. A token Meta already rejects is as good
    /// as revoked.
    async fn revoke(&self, ctx: &Context, conn: &Connection) -> Result<(), AdapterError> {
        let revocation = async { client(ctx, conn)?.delete("me/permissions").await };
        auth::revoked(revocation.await)
    }

    /// `ad_account_id`'s choices: the user's ad accounts (see [`options`]).
    async fn options(
        &self,
        ctx: &Context,
        conn: &Connection,
        field: &str,
    ) -> Result<Option<Vec<FieldOption>>, AdapterError> {
        let Some(choices) = choices::find(&[options::AD_ACCOUNT_CHOICES], field) else {
            return Ok(None);
        };
        choices::list(&client(ctx, conn)?, choices).await.map(Some)
    }

    /// The Graph API host's root (the client names the version: `v25.0/me`), or the
    /// context's override, with the long-lived token as `Authorization: Bearer`, as
    /// [`graph`] sends it (no `appsecret_proof`).
    async fn proxy_target(
        &self,
        ctx: &Context,
        conn: &Connection,
    ) -> Result<ProxyTarget, AdapterError> {
        client(ctx, conn)?.proxy_target()
    }
}

/// The Graph API client of a connection.
fn client<'a>(ctx: &'a Context, conn: &'a Connection) -> Result<Client<'a>, AdapterError> {
    Client::new(ctx, spec::spec(), &graph::API, conn)
}

/// One insights request for a window: its rows and the next page, if any.
async fn read_window(
    client: &Client<'_>,
    settings: &Settings,
    read: &WindowRead,
    page_size: u32,
) -> Result<(Vec<Value>, Option<PageToken>), AdapterError> {
    let path = format!("{}/insights", settings.node());
    let query = insights::query(read, page_size);
    let request = client.request(Method::GET, &path)?.query(&query);
    let fetched = client.fetch(request).await?;
    let page: InsightsPage = fetched.decode()?;
    let next = PAGING.next(&read.page, page_size, &fetched.headers, &fetched.body)?;
    Ok((page.data, next))
}
