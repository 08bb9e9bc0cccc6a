//! The `realtime` stream: `POST /v1beta/properties/{id}:runRealtimeReport` for the
//! last 30 minutes (the API's default minute range) by country, device category and
//! page or screen (`unifiedScreenName`), metrics `activeUsers` and `eventCount`.
//!
//! A realtime report has no `offset`: one request returns up to `limit` rows
//! (250,000 at most) and `rowCount` says how many there were, so each sync is one
//! request and the stream keeps no cursor. Every reading replaces the records of its
//! rows and the day's KPI points (dated by the sync's UTC day): both metrics are
//! gauges, levels of a rolling window that never add up over time.

use junction_core::{AdapterError, Connection, Context, Page};
use junction_toolkit::report::Table;

use crate::{
    google,
    report::{Settings, cells},
    spec::{REALTIME, REALTIME_DIMENSIONS, REALTIME_KPIS, REPORT, spec},
    wire::{Dimension, Metric, RunRealtimeReportRequest},
};

/// The most rows a realtime report returns in one response.
pub const MAX_REALTIME_ROWS: i64 = 250_000;

/// The realtime report's table: its rows are keyed by the dimensions alone, and the
/// reading's day is added in front of them for the KPI points.
const TABLE: Table<'static> = Table {
    name: "GA4 realtime report",
    day: "date",
    day_format: "%Y-%m-%d",
    kpis: REALTIME_KPIS,
    ..REPORT
};

/// The request of a reading: every row (the API's largest page). A page-size wish
/// is not honoured: without an offset, a smaller page would only lose rows.
pub(crate) fn request() -> RunRealtimeReportRequest {
    RunRealtimeReportRequest {
        dimensions: REALTIME_DIMENSIONS
            .iter()
            .map(|name| Dimension {
                name: (*name).to_owned(),
            })
            .collect(),
        metrics: REALTIME_KPIS
            .iter()
            .map(|kpi| Metric {
                name: kpi.column.to_owned(),
            })
            .collect(),
        limit: Some(MAX_REALTIME_ROWS),
        return_property_quota: Some(true),
        ..RunRealtimeReportRequest::default()
    }
}

/// Reads the last 30 minutes: one page, no cursor.
pub(crate) async fn read(ctx: &Context, conn: &Connection) -> Result<Page, AdapterError> {
    let settings = Settings::from_connection(conn)?;
    let client = google::client(ctx, conn)?;
    let path = format!("properties/{}:runRealtimeReport", settings.property_id);
    let body = request();
    let http = client.request(http::Method::POST, &path)?.json(&body);
    let response: crate::wire::RunReportResponse = client.json(http).await?;
    let rows = i64::try_from(response.rows.len()).unwrap_or(i64::MAX);
    if response.row_count > rows {
        tracing::warn!(
            provider = crate::spec::PROVIDER_ID,
            rows,
            row_count = response.row_count,
            "GA4 realtime report truncated at its row limit: the rarest combinations are left out"
        );
    }
    let breakdown: Vec<String> = REALTIME_DIMENSIONS
        .iter()
        .map(|d| (*d).to_owned())
        .collect();
    let declared = spec().stream(REALTIME).map(|s| &s.metrics[..]);
    let table = TABLE.by(&breakdown, declared.unwrap_or_default());
    if !response
        .dimension_headers
        .iter()
        .map(|h| h.name.as_str())
        .eq(REALTIME_DIMENSIONS.iter().copied())
        || !response
            .metric_headers
            .iter()
            .map(|h| h.name.as_str())
            .eq(table.columns())
    {
        return Err(AdapterError::unavailable(
            "malformed GA4 realtime report: headers differ from the requested columns",
        ));
    }
    let day = ctx.now().date_naive().format("%Y-%m-%d").to_string();
    let cells = cells(&response.metric_headers);
    let (mut records, kpis) = junction_toolkit::data::records_and_points(&response.rows, |row| {
        let dimensions = std::iter::once(day.as_str())
            .chain(row.dimension_values.iter().map(|v| v.value.as_str()));
        let metrics = row.metric_values.iter().map(|v| v.value.as_deref());
        table.row(dimensions, metrics, &cells)
    })?;
    // A row is the combination of its dimensions (the primary key): the day is in
    // the id and data of the table's rows, so it is taken out again. A record holds
    // the last reading of its row (readings of rows gone quiet stay as they were).
    for record in &mut records {
        if let Some((_, rest)) = record.external_id.split_once('|') {
            record.external_id = rest.to_owned();
        }
        if let Some(data) = record.data.as_object_mut() {
            data.remove("date");
        }
    }
    Ok(Page {
        records,
        kpis,
        next_cursor: None,
        has_more: false,
    })
}
