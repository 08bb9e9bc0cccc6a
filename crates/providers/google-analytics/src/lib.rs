//! junction-google-analytics: the Google Analytics 4 provider.
//!
//! Connections authorize with Google OAuth 2.0 (read-only Analytics scope, offline
//! access for a refresh token) and name a GA4 property, which may be chosen after the
//! grant from the account's list (see [`options`]). [`GoogleAnalytics`] checks a
//! connection with a one-row `runReport` (and, when a custom report is configured,
//! its names against the property's metadata) and syncs:
//! - `daily_report`: one `runReport` per page over a window of days, with `date`
//!   plus the configured breakdown dimensions, turned into records and KPI points
//!   (`sessions`, `total_users`, `new_users`, `key_events`, `engagement_rate`,
//!   `total_revenue`);
//! - `key_events` (goals), `ecommerce_items` and `ecommerce_purchases`: the same
//!   machine over fixed reports (see [`report`]);
//! - `custom_report`: the user's dimensions, metrics and audience filter, checked
//!   against `getMetadata` (see [`metadata`], [`filter`]), as records;
//! - `realtime`: `runRealtimeReport` every 5 minutes, gauges (see [`realtime`]).
//!
//! Actions: `send_events` (Measurement Protocol, validated by GA4's validation
//! server before sending; see [`measurement`]) and `run_report` (ad-hoc rows; see
//! [`adhoc`]).
//!
//! The Data API is described as data for the provider toolkit (host, bearer token,
//! error table): quota refusals are classified from Google's error body, a used-up
//! token quota is `QuotaExhausted` until its reset, too many concurrent requests is
//! `RateLimited`; see [`google`].
//!
//! With the `sandbox` feature, [`sandbox::Ga4Fake`] serves a deterministic fake of
//! the same endpoint for demo mode and tests.

mod adhoc;
mod filter;
mod google;
mod measurement;
mod metadata;
mod options;
mod realtime;
mod report;
mod spec;
mod wire;

#[cfg(feature = "sandbox")]
pub mod sandbox;

use async_trait::async_trait;
use junction_core::{
    ActionOutcome, Adapter, AdapterError, Connection, Context, FieldOption, Health, Page,
    ProxyTarget, ReadRequest, spec::ProviderSpec,
};
use junction_toolkit::{Client, PageToken, choices, cursor, data};
use serde_json::{Value, json};

// The descriptions the conformance suite replays.
pub use google::API;
pub use measurement::{
    COLLECT, DEBUG_COLLECT, MP_API, MP_BASE, ValidationMessage, ValidationResponse,
};
pub use options::{ACCOUNT_SUMMARIES, ADMIN_API, ADMIN_BASE};
pub use realtime::MAX_REALTIME_ROWS;
pub use report::PAGING;
pub use spec::{
    CUSTOM_REPORT, DAILY_REPORT, DEFAULT_BASE, ECOMMERCE_ITEMS, ECOMMERCE_PURCHASES, FULL_SCOPE,
    KEY_EVENTS, PROVIDER_ID, READONLY_SCOPE, REALTIME, REPORT, RUN_REPORT, SEND_EVENTS,
};

use crate::{
    report::{Custom, Report, Settings},
    wire::{DateRange, Metric, RunReportRequest},
};

/// The Google Analytics 4 adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct GoogleAnalytics;

#[async_trait]
impl Adapter for GoogleAnalytics {
    fn spec(&self) -> &ProviderSpec {
        spec::spec()
    }

    /// Runs the cheapest report there is (one metric, one row, two days), which
    /// proves the token, the scope and the access to the property, and reports the
    /// property's quota state. Before a property is chosen (the setup step of a
    /// connection made first), reads the account summaries instead, which need
    /// none ([`options::check_pending`]). A configured custom report is checked
    /// against the property's metadata, so a bad name is refused when it is saved.
    async fn check(&self, ctx: &Context, conn: &Connection) -> Result<Health, AdapterError> {
        let pending = self.spec().setup_missing(&conn.config);
        if !pending.is_empty() {
            return options::check_pending(ctx, conn, &pending).await;
        }
        let settings = Settings::from_connection(conn)?;
        let custom = Custom::from_connection(conn)?;
        // The Measurement Protocol settings are read (and so checked) too.
        let measurement_id = spec::MEASUREMENT_ID.read(conn)?;
        let api_secret_set = spec::API_SECRET.read(conn)?.is_some();
        let body = RunReportRequest {
            date_ranges: vec![DateRange {
                start_date: "yesterday".into(),
                end_date: "today".into(),
            }],
            metrics: vec![Metric {
                name: "sessions".into(),
            }],
            limit: Some(1),
            return_property_quota: Some(true),
            ..RunReportRequest::default()
        };
        let report = google::run_report(ctx, conn, &settings.property_id, &body).await?;
        if let Some(custom) = &custom {
            check_custom(ctx, conn, &settings.property_id, custom).await?;
        }
        let mut details = report
            .property_quota
            .and_then(|quota| serde_json::to_value(quota).ok())
            .unwrap_or(Value::Null);
        // Only when the Measurement Protocol is configured: whether events can be
        // sent (never the secret itself).
        if measurement_id.is_some() || api_secret_set {
            if !details.is_object() {
                details = json!({});
            }
            details["measurement_protocol"] =
                json!({"measurement_id": measurement_id, "api_secret_set": api_secret_set});
        }
        Ok(Health {
            account: Some(format!("GA4 property {}", settings.property_id)),
            details,
        })
    }

    /// Reads one page of a stream. The report streams' cursors hold the window of
    /// days being paged through and the next row offset, or, between windows, the
    /// next start; `realtime` reads its one page without a cursor.
    async fn read(
        &self,
        ctx: &Context,
        conn: &Connection,
        request: &ReadRequest,
    ) -> Result<Page, AdapterError> {
        let stream = data::stream(self.spec(), request)?.name;
        if stream == REALTIME {
            return realtime::read(ctx, conn).await;
        }
        let settings = Settings::from_connection(conn)?;
        let Some(report) = Report::of(stream, conn)? else {
            // No custom report configured: nothing to read, nothing to remember.
            return Ok(Page::default());
        };
        let read = report::plan(
            request.cursor.as_ref(),
            &report,
            settings.lookback_days,
            ctx.now().date_naive(),
        )?;
        if report.table.is_none() && read.page == PageToken::First {
            // The custom names are checked once per window, before its first page.
            if let Some(custom) = Custom::from_connection(conn)? {
                check_custom(ctx, conn, &settings.property_id, &custom).await?;
            }
        }
        let body = report::request(&read, &report, PAGING.size.pick(request.page_size));
        let response = google::run_report(ctx, conn, &settings.property_id, &body).await?;
        let (records, kpis) = report::map_rows(&response, &report)?;
        let (cursor, has_more) =
            report::advance(&read, records.len(), response.row_count, &report)?;
        cursor::page(records, kpis, &cursor, has_more)
    }

    async fn act(
        &self,
        ctx: &Context,
        conn: &Connection,
        action: &str,
        input: &Value,
        _idempotency_key: Option<&str>,
    ) -> Result<ActionOutcome, AdapterError> {
        match action {
            SEND_EVENTS => measurement::send_events(ctx, conn, input).await,
            RUN_REPORT => adhoc::run_report(ctx, conn, input).await,
            other => Err(AdapterError::unknown_action(self.spec().name, other)),
        }
    }

    /// `property_id`'s choices: the properties of the Admin API's account summaries
    /// (see [`options`]).
    async fn options(
        &self,
        ctx: &Context,
        conn: &Connection,
        field: &str,
    ) -> Result<Option<Vec<FieldOption>>, AdapterError> {
        let Some(choices) = choices::find(&[options::PROPERTIES], field) else {
            return Ok(None);
        };
        let client = Client::new(ctx, spec::spec(), &options::ADMIN_API, conn)?;
        choices::list(&client, choices).await.map(Some)
    }

    /// The Data API host's root (the client names the version: `v1beta/...`), or the
    /// context's override, with the access token as `Authorization: Bearer`.
    async fn proxy_target(
        &self,
        ctx: &Context,
        conn: &Connection,
    ) -> Result<ProxyTarget, AdapterError> {
        google::client(ctx, conn)?.proxy_target()
    }
}

/// Checks a custom report's names against the property's metadata.
async fn check_custom(
    ctx: &Context,
    conn: &Connection,
    property_id: &str,
    custom: &Custom,
) -> Result<(), AdapterError> {
    let known = metadata::fetch(ctx, conn, property_id).await?;
    let filtered = custom.filter_fields();
    metadata::check(
        &known,
        property_id,
        &metadata::Wanted {
            dimensions: ("custom_dimensions", &custom.dimensions),
            metrics: ("custom_metrics", &custom.metrics),
            filter: ("custom_filter", &filtered),
        },
    )
}
