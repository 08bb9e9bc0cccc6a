//! The `daily_report` stream: connection settings, the sync window kept in the
//! cursor, the report request, and the mapping of report rows to records and KPI
//! points.

use std::collections::BTreeMap;

use chrono::{Duration as Days, NaiveDate};
use junction_core::{AdapterError, Connection, KpiPoint, Record};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use crate::{
    spec::{DEFAULT_LOOKBACK_DAYS, MAX_LOOKBACK_DAYS, REPORT_METRICS},
    wire::{DateRange, Dimension, Metric, RunReportRequest, RunReportResponse},
};

/// The date dimension every `daily_report` request starts with.
pub(crate) const DATE_DIMENSION: &str = "date";

/// GA4 allows 9 dimensions per request; `date` takes one.
const MAX_EXTRA_DIMENSIONS: usize = 8;

/// Rows per request when the caller has no wish (the API's own default).
pub(crate) const DEFAULT_PAGE_SIZE: u32 = 10_000;

/// The most rows GA4 returns per request.
pub(crate) const MAX_PAGE_SIZE: u32 = 250_000;

/// How many days before the last day read the next window starts. GA4 keeps
/// processing a day's data for 24 to 48 hours (longer for imported data), so the
/// most recent days change after they were first read; re-reading them is safe
/// because records and KPI points are upserted.
pub(crate) const REREAD_DAYS: i64 = 3;

/// A connection's settings, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    pub property_id: String,
    /// Breakdown dimensions beyond `date`, in the configured order.
    pub dimensions: Vec<String>,
    pub lookback_days: u32,
}

impl Settings {
    /// Reads and checks the connection's config. The API validates the same fields
    /// with the spec's patterns; this repeats the checks a request depends on, with
    /// the limits a pattern cannot express.
    pub(crate) fn from_connection(conn: &Connection) -> Result<Self, AdapterError> {
        let property_id = conn.config_str("property_id")?.trim().to_owned();
        if !property_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AdapterError::invalid_field(
                "property_id",
                "must be the numeric GA4 property ID (Admin → Property settings), not a \
                 measurement ID",
            ));
        }
        let dimensions = match conn.config.get("dimensions") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(text)) => parse_dimensions(text)?,
            Some(_) => {
                return Err(AdapterError::invalid_field(
                    "dimensions",
                    "must be a comma-separated list of dimension names",
                ));
            }
        };
        let lookback_days = match conn.config.get("lookback_days") {
            None | Some(Value::Null) => DEFAULT_LOOKBACK_DAYS,
            Some(value) => value
                .as_u64()
                .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
                .and_then(|days| u32::try_from(days).ok())
                .filter(|days| (1..=MAX_LOOKBACK_DAYS).contains(days))
                .ok_or_else(|| {
                    AdapterError::invalid_field(
                        "lookback_days",
                        format!("must be a whole number of days from 1 to {MAX_LOOKBACK_DAYS}"),
                    )
                })?,
        };
        Ok(Self {
            property_id,
            dimensions,
            lookback_days,
        })
    }

    /// Every dimension of the report, `date` first.
    pub(crate) fn report_dimensions(&self) -> Vec<String> {
        std::iter::once(DATE_DIMENSION.to_owned())
            .chain(self.dimensions.iter().cloned())
            .collect()
    }
}

/// Splits and checks the `dimensions` setting.
fn parse_dimensions(text: &str) -> Result<Vec<String>, AdapterError> {
    let mut names: Vec<String> = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if !is_dimension_name(name) {
            return Err(AdapterError::invalid_field(
                "dimensions",
                "each dimension must be a GA4 API name such as `country` or `customEvent:plan`",
            ));
        }
        if name == DATE_DIMENSION {
            return Err(AdapterError::invalid_field(
                "dimensions",
                "`date` is always included; list only the extra dimensions",
            ));
        }
        if names.iter().any(|n| n == name) {
            return Err(AdapterError::invalid_field(
                "dimensions",
                format!("`{name}` is listed twice"),
            ));
        }
        names.push(name.to_owned());
    }
    if names.len() > MAX_EXTRA_DIMENSIONS {
        return Err(AdapterError::invalid_field(
            "dimensions",
            format!("at most {MAX_EXTRA_DIMENSIONS} dimensions besides the date"),
        ));
    }
    Ok(names)
}

/// `name` or `scope:name`, letters, digits and underscores, starting with a letter.
fn is_dimension_name(name: &str) -> bool {
    let word = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let (head, tail) = match name.split_once(':') {
        Some((head, tail)) => (head, Some(tail)),
        None => (name, None),
    };
    head.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && word(head)
        && tail.is_none_or(word)
}

/// The stored cursor of `daily_report`.
///
/// While a window is being paged through it holds the window (`start`..=`end`) and the
/// next row `offset`; once a window is done it holds only the `start` of the next one
/// ([`REREAD_DAYS`] before the last day read), whose end is "today" at the next sync.
/// `dimensions` records the breakdown the offset belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    pub start: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<NaiveDate>,
    #[serde(default)]
    pub offset: u64,
    #[serde(default)]
    pub dimensions: Vec<String>,
}

/// The days and the first row one read covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub offset: u64,
}

impl Window {
    /// The window to read from the stored cursor (`None` on a first sync).
    pub(crate) fn plan(
        cursor: Option<&Value>,
        settings: &Settings,
        today: NaiveDate,
    ) -> Result<Self, AdapterError> {
        let first_day = today - Days::days(i64::from(settings.lookback_days));
        let Some(value) = cursor else {
            return Ok(Self {
                start: first_day,
                end: today,
                offset: 0,
            });
        };
        let cursor: Cursor = serde_json::from_value(value.clone())
            .map_err(|_| AdapterError::invalid_field("cursor", "is not a daily_report cursor"))?;
        let window = match cursor.end {
            // Paging through a window with the same breakdown: go on where it stopped.
            Some(end) if cursor.dimensions == settings.dimensions => Self {
                start: cursor.start,
                end,
                offset: cursor.offset,
            },
            // A changed breakdown invalidates the offset, and the new breakdown has no
            // history yet: read the lookback period again with it.
            _ if cursor.dimensions != settings.dimensions => Self {
                start: cursor.start.min(first_day),
                end: today,
                offset: 0,
            },
            _ => Self {
                start: cursor.start,
                end: today,
                offset: 0,
            },
        };
        // A cursor from a clock ahead of ours must not make an inverted range.
        Ok(Self {
            start: window.start.min(window.end),
            ..window
        })
    }

    /// The cursor after a page of `rows` rows out of `row_count`, and whether more
    /// rows of this window follow.
    pub(crate) fn advance(
        &self,
        rows: usize,
        row_count: i64,
        settings: &Settings,
    ) -> (Cursor, bool) {
        let next_offset = self.offset.saturating_add(rows as u64);
        // An empty page ends the window even if `rowCount` says otherwise, so a
        // confused response cannot make the sync loop forever.
        let has_more = rows > 0 && i64::try_from(next_offset).is_ok_and(|n| n < row_count);
        let cursor = if has_more {
            Cursor {
                start: self.start,
                end: Some(self.end),
                offset: next_offset,
                dimensions: settings.dimensions.clone(),
            }
        } else {
            Cursor {
                start: self.end - Days::days(REREAD_DAYS),
                end: None,
                offset: 0,
                dimensions: settings.dimensions.clone(),
            }
        };
        (cursor, has_more)
    }

    /// The `runReport` body for this window.
    pub(crate) fn request(&self, settings: &Settings, page_size: u32) -> RunReportRequest {
        RunReportRequest {
            date_ranges: vec![DateRange {
                start_date: self.start.format("%Y-%m-%d").to_string(),
                end_date: self.end.format("%Y-%m-%d").to_string(),
            }],
            dimensions: settings
                .report_dimensions()
                .into_iter()
                .map(|name| Dimension { name })
                .collect(),
            metrics: REPORT_METRICS
                .iter()
                .map(|name| Metric {
                    name: (*name).to_owned(),
                })
                .collect(),
            offset: Some(i64::try_from(self.offset).unwrap_or(i64::MAX)),
            limit: Some(i64::from(page_size)),
            keep_empty_rows: Some(false),
            return_property_quota: Some(true),
        }
    }
}

/// The page size to ask for: the caller's wish within what GA4 allows.
pub(crate) fn page_size(wish: Option<u32>) -> u32 {
    wish.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE)
}

/// How a metric column's strings are parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MetricKind {
    Integer,
    /// Every other type (`TYPE_FLOAT`, `TYPE_CURRENCY`, `TYPE_SECONDS`, ...) is a
    /// floating-point number in some unit.
    Float,
}

impl MetricKind {
    fn of(metric_type: &str) -> Self {
        if metric_type == "TYPE_INTEGER" {
            Self::Integer
        } else {
            Self::Float
        }
    }
}

/// A malformed report: a retry may fetch a good one (the same classification as a
/// body that does not parse).
fn malformed(what: impl std::fmt::Display) -> AdapterError {
    AdapterError::unavailable(format!("malformed GA4 report: {what}"))
}

/// Turns a report into records (one per row) and KPI points (one per metric per row).
///
/// The report must have the requested columns in the requested order; each row
/// becomes `{dimension: value, metric: number}` with id `date|value|...`.
pub(crate) fn map_rows(
    report: &RunReportResponse,
    dimensions: &[String],
    metrics: &[&str],
) -> Result<(Vec<Record>, Vec<KpiPoint>), AdapterError> {
    let header_dimensions: Vec<&str> = report
        .dimension_headers
        .iter()
        .map(|h| h.name.as_str())
        .collect();
    if header_dimensions != dimensions {
        return Err(malformed(
            "dimension headers differ from the requested dimensions",
        ));
    }
    let header_metrics: Vec<&str> = report
        .metric_headers
        .iter()
        .map(|h| h.name.as_str())
        .collect();
    if header_metrics != metrics {
        return Err(malformed(
            "metric headers differ from the requested metrics",
        ));
    }
    let kinds: Vec<MetricKind> = report
        .metric_headers
        .iter()
        .map(|h| MetricKind::of(&h.metric_type))
        .collect();
    let kpi_names: Vec<String> = metrics.iter().map(|m| snake_case(m)).collect();

    let mut records = Vec::with_capacity(report.rows.len());
    let mut kpis = Vec::with_capacity(report.rows.len() * metrics.len());
    for row in &report.rows {
        if row.dimension_values.len() != dimensions.len()
            || row.metric_values.len() != metrics.len()
        {
            return Err(malformed("a row does not match the headers"));
        }
        let mut data = Map::new();
        let mut id_parts = Vec::with_capacity(dimensions.len());
        for (name, value) in dimensions.iter().zip(&row.dimension_values) {
            data.insert(name.clone(), Value::String(value.value.clone()));
            id_parts.push(escape_id_part(&value.value));
        }
        let mut values = Vec::with_capacity(metrics.len());
        for ((name, kind), value) in metrics.iter().zip(&kinds).zip(&row.metric_values) {
            let text = value
                .value
                .as_deref()
                .ok_or_else(|| malformed(format_args!("`{name}` has no value")))?;
            let (number, as_f64) = parse_metric(text, *kind)
                .ok_or_else(|| malformed(format_args!("`{name}` is not a number")))?;
            data.insert((*name).to_owned(), Value::Number(number));
            values.push(as_f64);
        }

        let date_text = row
            .dimension_values
            .first()
            .map(|v| v.value.as_str())
            .unwrap_or_default();
        match NaiveDate::parse_from_str(date_text, "%Y%m%d") {
            Ok(date) => {
                let breakdown: BTreeMap<String, String> = dimensions
                    .iter()
                    .zip(&row.dimension_values)
                    .skip(1)
                    .map(|(name, value)| (name.clone(), value.value.clone()))
                    .collect();
                for (metric, value) in kpi_names.iter().zip(&values) {
                    kpis.push(KpiPoint {
                        metric: metric.clone(),
                        date,
                        dimensions: breakdown.clone(),
                        value: *value,
                    });
                }
            }
            // GA4 folds rare combinations into an "(other)" row on huge reports; such a
            // row is kept as a record but has no day to chart.
            Err(_) => tracing::warn!(
                date = date_text,
                "GA4 report row without a calendar date; no KPI points for it"
            ),
        }
        records.push(Record {
            external_id: id_parts.join("|"),
            data: Value::Object(data),
            modified_at: None,
        });
    }
    Ok((records, kpis))
}

/// Parses a metric string by its column's type: the JSON number for the record and
/// the value for the KPI point.
fn parse_metric(text: &str, kind: MetricKind) -> Option<(Number, f64)> {
    let text = text.trim();
    match kind {
        MetricKind::Integer => text
            .parse::<i64>()
            .ok()
            .map(|n| (Number::from(n), n as f64)),
        MetricKind::Float => {
            let value = text.parse::<f64>().ok()?;
            Number::from_f64(value).map(|n| (n, value))
        }
    }
}

/// Keeps the `|` that joins id parts unambiguous.
fn escape_id_part(part: &str) -> String {
    part.replace('%', "%25").replace('|', "%7C")
}

/// `totalUsers` → `total_users`, `customEvent:planName` → `custom_event_plan_name`.
pub(crate) fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use junction_core::{IntegrationId, WorkspaceId};
    use serde_json::json;

    fn settings(dimensions: &[&str]) -> Settings {
        Settings {
            property_id: "1".into(),
            dimensions: dimensions.iter().map(|d| (*d).to_owned()).collect(),
            lookback_days: 30,
        }
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn connection(config: Value) -> Connection {
        Connection {
            workspace_id: WorkspaceId::new(),
            integration_id: IntegrationId::new(),
            config: config.as_object().cloned().unwrap(),
            secrets: Default::default(),
            access_token: None,
            token_expires_at: None,
        }
    }

    #[test]
    fn snake_case_of_api_names() {
        assert_eq!(snake_case("sessions"), "sessions");
        assert_eq!(snake_case("totalUsers"), "total_users");
        assert_eq!(snake_case("keyEvents"), "key_events");
        assert_eq!(snake_case("customEvent:planName"), "custom_event_plan_name");
    }

    #[test]
    fn settings_are_checked() {
        let ok = Settings::from_connection(&connection(json!({
            "property_id": "123", "dimensions": " country , sessionDefaultChannelGroup", "lookback_days": "7"
        })))
        .unwrap();
        assert_eq!(ok.dimensions, ["country", "sessionDefaultChannelGroup"]);
        assert_eq!(ok.lookback_days, 7);
        let field = |config: Value| match Settings::from_connection(&connection(config)) {
            Err(AdapterError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(json!({})).as_deref(), Some("property_id"));
        assert_eq!(
            field(json!({"property_id": "G-1"})).as_deref(),
            Some("property_id")
        );
        assert_eq!(
            field(json!({"property_id": "1", "dimensions": "date"})).as_deref(),
            Some("dimensions")
        );
        assert_eq!(
            field(json!({"property_id": "1", "dimensions": "country,country"})).as_deref(),
            Some("dimensions")
        );
        assert_eq!(
            field(json!({"property_id": "1", "dimensions": "a,b,c,d,e,f,g,h,i"})).as_deref(),
            Some("dimensions")
        );
        assert_eq!(
            field(json!({"property_id": "1", "dimensions": "1st"})).as_deref(),
            Some("dimensions")
        );
        assert_eq!(
            field(json!({"property_id": "1", "lookback_days": 0})).as_deref(),
            Some("lookback_days")
        );
    }

    #[test]
    fn windows_follow_the_cursor() {
        let today = day("2026-03-15");
        let s = settings(&["country"]);
        assert_eq!(
            Window::plan(None, &s, today).unwrap(),
            Window {
                start: day("2026-02-13"),
                end: today,
                offset: 0
            }
        );
        let paging = json!({"start": "2026-03-01", "end": "2026-03-10", "offset": 20, "dimensions": ["country"]});
        assert_eq!(
            Window::plan(Some(&paging), &s, today).unwrap(),
            Window {
                start: day("2026-03-01"),
                end: day("2026-03-10"),
                offset: 20
            }
        );
        let between = json!({"start": "2026-03-07", "dimensions": ["country"]});
        assert_eq!(
            Window::plan(Some(&between), &s, today).unwrap(),
            Window {
                start: day("2026-03-07"),
                end: today,
                offset: 0
            }
        );
        // The breakdown changed mid-window: start over with the lookback period.
        assert_eq!(
            Window::plan(Some(&paging), &settings(&[]), today).unwrap(),
            Window {
                start: day("2026-02-13"),
                end: today,
                offset: 0
            }
        );
        let future = json!({"start": "2027-01-01", "dimensions": ["country"]});
        assert_eq!(
            Window::plan(Some(&future), &s, today).unwrap(),
            Window {
                start: today,
                end: today,
                offset: 0
            }
        );
        assert!(matches!(
            Window::plan(Some(&json!({"page": 2})), &s, today),
            Err(AdapterError::Invalid { field: Some(f), .. }) if f == "cursor"
        ));
    }

    #[test]
    fn advancing_pages_then_rewinds_for_revisions() {
        let s = settings(&[]);
        let window = Window {
            start: day("2026-03-01"),
            end: day("2026-03-10"),
            offset: 0,
        };
        let (cursor, more) = window.advance(4, 10, &s);
        assert!(more);
        assert_eq!(
            cursor,
            Cursor {
                start: day("2026-03-01"),
                end: Some(day("2026-03-10")),
                offset: 4,
                dimensions: vec![]
            }
        );
        let last = Window {
            offset: 8,
            ..window
        };
        let (cursor, more) = last.advance(2, 10, &s);
        assert!(!more);
        assert_eq!(
            cursor,
            Cursor {
                start: day("2026-03-07"),
                end: None,
                offset: 0,
                dimensions: vec![]
            }
        );
        let (_, more) = window.advance(0, 10, &s);
        assert!(!more, "an empty page ends the window");
    }

    #[test]
    fn page_size_is_clamped() {
        assert_eq!(page_size(None), 10_000);
        assert_eq!(page_size(Some(0)), 1);
        assert_eq!(page_size(Some(1_000_000)), 250_000);
        assert_eq!(page_size(Some(500)), 500);
    }

    #[test]
    fn id_parts_cannot_collide() {
        assert_ne!(escape_id_part("a|b"), "a|b");
        assert_eq!(escape_id_part("100%|x"), "100%25%7Cx");
    }
}
