//! The `run_report` action: an ad-hoc `runReport` whose rows come back as objects
//! (`{"country": "Germany", "sessions": 1200}`), with the custom report's checks —
//! the dimension filter's shape, then every dimension, metric and filter field
//! against the property's metadata — before the report runs.

use junction_core::{ActionOutcome, AdapterError, Connection, Context};
use junction_toolkit::input;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    filter, google, metadata,
    report::{Settings, row_object},
    spec::{self, RUN_REPORT},
    wire::{DateRange, Dimension, Metric, RunReportRequest},
};

/// Rows returned when the input asks for no `limit`.
pub const DEFAULT_ROWS: i64 = 1_000;

/// The input of `run_report`, once its schema has passed.
#[derive(Debug, Deserialize)]
struct Input {
    #[serde(default)]
    dimensions: Vec<String>,
    metrics: Vec<String>,
    #[serde(default = "default_start")]
    start_date: String,
    #[serde(default = "default_end")]
    end_date: String,
    #[serde(default)]
    dimension_filter: Option<Value>,
    #[serde(default)]
    offset: i64,
    #[serde(default)]
    limit: Option<i64>,
}

fn default_start() -> String {
    "28daysAgo".into()
}

fn default_end() -> String {
    "today".into()
}

/// Runs `run_report`.
pub(crate) async fn run_report(
    ctx: &Context,
    conn: &Connection,
    input: &Value,
) -> Result<ActionOutcome, AdapterError> {
    let input: Input = input::checked(spec::spec(), RUN_REPORT, input)?;
    if let Some(filter) = &input.dimension_filter {
        filter::check("dimension_filter", filter)?;
    }
    let settings = Settings::from_connection(conn)?;
    let property = settings.property_id.as_str();
    let filtered = input
        .dimension_filter
        .as_ref()
        .map(filter::field_names)
        .unwrap_or_default();
    let known = metadata::fetch(ctx, conn, property).await?;
    metadata::check(
        &known,
        property,
        &metadata::Wanted {
            dimensions: ("dimensions", &input.dimensions),
            metrics: ("metrics", &input.metrics),
            filter: ("dimension_filter", &filtered),
        },
    )?;
    let limit = input.limit.unwrap_or(DEFAULT_ROWS);
    let body = RunReportRequest {
        date_ranges: vec![DateRange {
            start_date: input.start_date,
            end_date: input.end_date,
        }],
        dimensions: input
            .dimensions
            .into_iter()
            .map(|name| Dimension { name })
            .collect(),
        metrics: input
            .metrics
            .into_iter()
            .map(|name| Metric { name })
            .collect(),
        offset: Some(input.offset),
        limit: Some(limit),
        dimension_filter: input.dimension_filter,
        return_property_quota: Some(true),
        ..RunReportRequest::default()
    };
    let report = google::run_report(ctx, conn, property, &body).await?;
    let rows: Vec<Value> = report
        .rows
        .iter()
        .map(|row| {
            row_object(row, &report).map(Value::Object).ok_or_else(|| {
                AdapterError::unavailable("malformed GA4 report: a row does not match the headers")
            })
        })
        .collect::<Result<_, _>>()?;
    let end = input
        .offset
        .saturating_add(i64::try_from(rows.len()).unwrap_or(i64::MAX));
    let next_offset = (!rows.is_empty() && end < report.row_count).then_some(end);
    let metadata = report.metadata.clone().unwrap_or_default();
    Ok(ActionOutcome {
        external_id: None,
        output: json!({
            "property_id": property,
            "rows": rows,
            "row_count": report.row_count,
            "next_offset": next_offset,
            "currency_code": metadata.currency_code,
            "time_zone": metadata.time_zone,
            "property_quota": report.property_quota,
        }),
    })
}
