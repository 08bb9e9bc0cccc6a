//! junction-google-analytics: the Google Analytics 4 provider.
//!
//! Connections authorize with Google OAuth 2.0 (read-only Analytics scope, offline
//! access for a refresh token) and name a GA4 property. [`GoogleAnalytics`] checks a
//! connection with a one-row `runReport` and syncs the `daily_report` stream: one
//! `runReport` per page over a window of days, with `date` plus the configured
//! breakdown dimensions, turned into records and KPI points (`sessions`,
//! `total_users`, `new_users`, `key_events`, `engagement_rate`, `total_revenue`).
//!
//! The Data API is described as data for the provider toolkit (host, bearer token,
//! error table): quota refusals are classified from Google's error body, a used-up
//! token quota is `QuotaExhausted` until its reset, too many concurrent requests is
//! `RateLimited`; see [`google`].
//!
//! With the `sandbox` feature, [`sandbox::Ga4Fake`] serves a deterministic fake of
//! the same endpoint for demo mode and tests.

mod google;
mod options;
mod report;
mod spec;
mod wire;

#[cfg(feature = "sandbox")]
pub mod sandbox;

use async_trait::async_trait;
use junction_core::{
    Adapter, AdapterError, Connection, Context, FieldOption, Health, Page, ProxyTarget,
    ReadRequest, spec::ProviderSpec,
};
use junction_toolkit::{Client, choices, cursor, data};
use serde_json::Value;

// The descriptions the conformance suite replays.
pub use google::API;
pub use options::{ACCOUNT_SUMMARIES, ADMIN_API, ADMIN_BASE};
pub use report::PAGING;
pub use spec::{DAILY_REPORT, DEFAULT_BASE, FULL_SCOPE, PROVIDER_ID, READONLY_SCOPE, REPORT};

use crate::{
    report::Settings,
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
    /// property's quota state.
    async fn check(&self, ctx: &Context, conn: &Connection) -> Result<Health, AdapterError> {
        let settings = Settings::from_connection(conn)?;
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
        Ok(Health {
            account: Some(format!("GA4 property {}", settings.property_id)),
            details: report
                .property_quota
                .and_then(|quota| serde_json::to_value(quota).ok())
                .unwrap_or(Value::Null),
        })
    }

    /// Reads one page of `daily_report`. The cursor holds the window of days being
    /// paged through and the next row offset, or, between windows, the next start.
    async fn read(
        &self,
        ctx: &Context,
        conn: &Connection,
        request: &ReadRequest,
    ) -> Result<Page, AdapterError> {
        data::stream(self.spec(), request)?;
        let settings = Settings::from_connection(conn)?;
        let read = report::plan(request.cursor.as_ref(), &settings, ctx.now().date_naive())?;
        let body = report::request(&read, &settings, PAGING.size.pick(request.page_size));
        let report = google::run_report(ctx, conn, &settings.property_id, &body).await?;
        let (records, kpis) = report::map_rows(&report, &settings)?;
        let (cursor, has_more) =
            report::advance(&read, records.len(), report.row_count, &settings)?;
        cursor::page(records, kpis, &cursor, has_more)
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
