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
//! Throttling arrives as Graph error codes with usage headers; see [`graph`].
//! Webhooks of the `ad_account` object are verified with the app secret
//! (`X-Hub-Signature-256`) and re-read the day's insights when a campaign's delivery
//! changes; see [`webhooks`].
//!
//! With the `sandbox` feature, [`sandbox::MetaAdsFake`] serves a deterministic fake
//! of the same endpoints for demo mode and tests.

pub mod graph;
pub mod insights;
mod spec;
pub mod webhooks;

#[cfg(feature = "sandbox")]
pub mod sandbox;

use async_trait::async_trait;
use chrono::Duration as Days;
use junction_core::{
    Adapter, AdapterError, Connection, Context, Health, Page, ProxyTarget, ReadRequest, StreamKpi,
    StreamRecord, WebhookEffects,
    spec::ProviderSpec,
    webhook::{WebhookError, WebhookEvent, WebhookRequest},
};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};

pub use spec::{
    ADS_MANAGEMENT_SCOPE, ADS_READ_SCOPE, DEFAULT_BASE, DEFAULT_LOOKBACK_DAYS, GRAPH_VERSION,
    INSIGHTS, INSIGHTS_KPIS, MAX_LOOKBACK_DAYS, PROVIDER_ID, RESTATEMENT_DAYS, VERIFY_TOKEN_FIELD,
    WEBHOOK_FIELDS,
};

use crate::insights::{InsightsPage, Settings, Window};

/// The fields `check` reads of the ad account.
const ACCOUNT_FIELDS: &str = "name,account_status,currency,timezone_name";

/// Most pages one webhook's re-read may take (two days of campaigns).
const MAX_WEBHOOK_PAGES: usize = 50;

/// The Meta Ads adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetaAds;

/// The ad account as `check` reads it.
#[derive(Debug, Deserialize)]
struct AdAccount {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    account_status: Option<i64>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    timezone_name: Option<String>,
}

/// The name of an `account_status` value (AdAccount in the Marketing API).
fn account_status_name(status: i64) -> &'static str {
    match status {
        1 => "ACTIVE",
        2 => "DISABLED",
        3 => "UNSETTLED",
        7 => "PENDING_RISK_REVIEW",
        8 => "PENDING_SETTLEMENT",
        9 => "IN_GRACE_PERIOD",
        100 => "PENDING_CLOSURE",
        101 => "CLOSED",
        201 => "ANY_ACTIVE",
        202 => "ANY_CLOSED",
        _ => "UNKNOWN",
    }
}

#[async_trait]
impl Adapter for MetaAds {
    fn spec(&self) -> &ProviderSpec {
        spec::spec()
    }

    /// Reads the ad account: proves the token, the permission and the account id,
    /// and labels the connection with the account's name.
    async fn check(&self, ctx: &Context, conn: &Connection) -> Result<Health, AdapterError> {
        let settings = Settings::from_connection(conn)?;
        let account: AdAccount = graph::get(
            ctx,
            self.spec(),
            conn,
            &settings.node(),
            &[("fields", ACCOUNT_FIELDS.to_owned())],
        )
        .await?;
        let status = account.account_status.map(account_status_name);
        if status.is_some_and(|s| s != "ACTIVE") {
            tracing::warn!(
                provider = PROVIDER_ID,
                account = %settings.node(),
                status,
                "the Meta ad account is not active: its campaigns do not deliver"
            );
        }
        let label = match &account.name {
            Some(name) => format!("{name} ({})", settings.node()),
            None => settings.node(),
        };
        Ok(Health {
            account: Some(label),
            details: json!({
                "account_status": status,
                "currency": account.currency,
                "timezone_name": account.timezone_name,
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
        if request.stream != INSIGHTS {
            return Err(AdapterError::invalid_field(
                "stream",
                format!("Meta Ads has no stream `{}`", request.stream),
            ));
        }
        let settings = Settings::from_connection(conn)?;
        let today = ctx.now().date_naive();
        let window = Window::plan(request.cursor.as_ref(), &settings, today)?;
        let page_size = request
            .page_size
            .unwrap_or(insights::DEFAULT_PAGE_SIZE)
            .clamp(1, insights::MAX_PAGE_SIZE);
        let page = read_window(ctx, self.spec(), conn, &settings, &window, page_size).await?;
        let (records, kpis) = insights::map_rows(&page.data)?;
        let (cursor, has_more) = window.advance(page.paging.as_ref());
        let next_cursor = serde_json::to_value(&cursor)
            .map_err(|err| AdapterError::invalid(format!("cursor not serializable: {err}")))?;
        Ok(Page {
            records,
            kpis,
            next_cursor: Some(next_cursor),
            has_more,
        })
    }

    /// Checks `X-Hub-Signature-256` with the app secret, then parses the delivery.
    fn verify_webhook(
        &self,
        _ctx: &Context,
        secret: &SecretString,
        request: &WebhookRequest<'_>,
    ) -> Result<Vec<WebhookEvent>, WebhookError> {
        junction_core::webhook::meta::verify(secret, request.headers, request.body)?;
        webhooks::parse(request.body)
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
        let account = event.payload.get("ad_account_id").and_then(|id| match id {
            Value::String(s) => insights::normalize_account_id(s).ok(),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
        if account.as_deref() != Some(settings.account_id.as_str()) {
            tracing::info!(
                provider = PROVIDER_ID,
                event = %event.id,
                "webhook event of another ad account ignored"
            );
            return Ok(WebhookEffects::default());
        }
        let day = event.occurred_at.unwrap_or_else(|| ctx.now()).date_naive();
        let mut window = Window {
            since: day - Days::days(1),
            until: day,
            after: None,
        };
        let mut effects = WebhookEffects::default();
        for _ in 0..MAX_WEBHOOK_PAGES {
            let page = read_window(
                ctx,
                self.spec(),
                conn,
                &settings,
                &window,
                insights::MAX_PAGE_SIZE,
            )
            .await?;
            let (records, kpis) = insights::map_rows(&page.data)?;
            effects
                .records
                .extend(records.into_iter().map(|record| StreamRecord {
                    stream: INSIGHTS.to_owned(),
                    record,
                }));
            effects.kpis.extend(kpis.into_iter().map(|point| StreamKpi {
                stream: INSIGHTS.to_owned(),
                point,
            }));
            let (cursor, more) = window.advance(page.paging.as_ref());
            if !more {
                return Ok(effects);
            }
            window.after = cursor.after;
        }
        Err(AdapterError::unavailable(
            "Meta kept paging the insights of two days; giving up this time",
        ))
    }

    /// Removes the app's permissions for the user (`DELETE /me/permissions`), which
    /// invalidates every token of the grant. A token Meta already rejects is as good
    /// as revoked.
    async fn revoke(&self, ctx: &Context, conn: &Connection) -> Result<(), AdapterError> {
        match graph::delete(ctx, self.spec(), conn, "me/permissions").await {
            Ok(()) | Err(AdapterError::Unauthorized { .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// The Graph API host's root (the client names the version: `v25.0/me`), or the
    /// context's override, with the long-lived token as `Authorization: Bearer`, as
    /// [`graph`] sends it (no `appsecret_proof`).
    async fn proxy_target(
        &self,
        ctx: &Context,
        conn: &Connection,
    ) -> Result<ProxyTarget, AdapterError> {
        Ok(ProxyTarget::bearer(
            ctx.url(DEFAULT_BASE, "")?,
            conn.bearer()?,
        ))
    }
}

/// One insights request for a window.
async fn read_window(
    ctx: &Context,
    spec: &ProviderSpec,
    conn: &Connection,
    settings: &Settings,
    window: &Window,
    page_size: u32,
) -> Result<InsightsPage, AdapterError> {
    graph::get(
        ctx,
        spec,
        conn,
        &format!("{}/insights", settings.node()),
        &window.query(page_size),
    )
    .await
}
