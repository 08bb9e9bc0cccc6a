//! The report streams read by day — `daily_report`, `key_events`,
//! `ecommerce_items`, `ecommerce_purchases` and `custom_report` — as one machine:
//! connection settings, the sync window kept in the cursor, the `runReport` request,
//! and the report's rows as records and KPI points (the toolkit's [`Table`],
//! described in [`crate::spec`]) or, for the custom report whose metrics the user
//! chose, as records alone.

use chrono::NaiveDate;
use junction_core::{AdapterError, Connection, KpiPoint, Record};
use junction_toolkit::{
    OnStall, PageSize, PageToken, Paging, Style,
    cursor::{self, WindowCursor, WindowRead},
    data,
    paging::Observed,
    report::{Cell, Table, id_part},
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use crate::{
    filter,
    spec::{
        CUSTOM_DIMENSIONS, CUSTOM_FILTER, CUSTOM_METRICS, CUSTOM_REPORT, DAILY_REPORT, DIMENSIONS,
        ECOMMERCE_ITEMS, ECOMMERCE_PURCHASES, ITEMS_BREAKDOWN, ITEMS_REPORT, KEY_EVENTS,
        KEY_EVENTS_BREAKDOWN, KEY_EVENTS_REPORT, LOOKBACK, PROPERTY, PURCHASES_REPORT, REPORT,
        spec,
    },
    wire::{DateRange, Dimension, Metric, MetricHeader, Row, RunReportRequest, RunReportResponse},
};

/// How the report streams page: `offset`/`limit` in the request body until the
/// report's `rowCount` (the API's default page is 10,000 rows, its largest 250,000).
pub const PAGING: Paging = Paging {
    style: Style::Offset {
        param: "offset",
        total: Some("/rowCount"),
    },
    items: "/rows",
    size_param: "limit",
    size: PageSize {
        default: 10_000,
        max: 250_000,
    },
    on_stall: OnStall::End,
};

/// How many days before the last day read the next window starts. GA4 keeps
/// processing a day's data for 24 to 48 hours (longer for imported data), so the
/// most recent days change after they were first read; re-reading them is safe
/// because records and KPI points are upserted.
pub(crate) const REREAD_DAYS: i64 = 3;

/// A connection's settings, checked with the spec's own definitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    pub property_id: String,
    /// Breakdown dimensions of `daily_report` beyond `date`, in the configured order.
    pub dimensions: Vec<String>,
    pub lookback_days: u32,
}

impl Settings {
    pub(crate) fn from_connection(conn: &Connection) -> Result<Self, AdapterError> {
        Ok(Self {
            property_id: PROPERTY.require(conn)?,
            dimensions: DIMENSIONS.read(conn)?,
            lookback_days: LOOKBACK.read_u32(conn)?,
        })
    }

    /// The report of `daily_report`, broken down by the connection's dimensions.
    #[cfg(test)]
    pub(crate) fn table(&self) -> Report {
        Report::kpis(DAILY_REPORT, REPORT, self.dimensions.clone())
    }
}

/// The custom report a connection configured: `None` without custom metrics.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Custom {
    pub dimensions: Vec<String>,
    pub metrics: Vec<String>,
    pub filter: Option<Value>,
}

impl Custom {
    pub(crate) fn from_connection(conn: &Connection) -> Result<Option<Self>, AdapterError> {
        let dimensions = CUSTOM_DIMENSIONS.read(conn)?;
        let metrics = CUSTOM_METRICS.read(conn)?;
        let filter = filter::parse(CUSTOM_FILTER.name, CUSTOM_FILTER.read(conn)?.as_deref())?;
        if metrics.is_empty() {
            if !dimensions.is_empty() || filter.is_some() {
                return Err(AdapterError::invalid_field(
                    CUSTOM_METRICS.text.name,
                    "is required when custom report dimensions or a filter are set",
                ));
            }
            return Ok(None);
        }
        Ok(Some(Self {
            dimensions,
            metrics,
            filter,
        }))
    }

    /// The filter's dimensions (to check against the property's metadata).
    pub(crate) fn filter_fields(&self) -> Vec<String> {
        self.filter
            .as_ref()
            .map(filter::field_names)
            .unwrap_or_default()
    }
}

/// What one report stream asks for and how its rows are stored.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Report {
    pub stream: &'static str,
    /// Dimensions after the date.
    pub breakdown: Vec<String>,
    /// Metric columns, in order.
    pub metrics: Vec<String>,
    pub filter: Option<Value>,
    /// The table of a stream with KPIs; `None`: records only (the custom report).
    pub table: Option<Table<'static>>,
}

impl Report {
    fn kpis(stream: &'static str, table: Table<'static>, breakdown: Vec<String>) -> Self {
        Self {
            stream,
            breakdown,
            metrics: table.columns().map(str::to_owned).collect(),
            filter: None,
            table: Some(table),
        }
    }

    /// The report of `stream` for a connection; `None` for the custom report when
    /// none is configured.
    pub(crate) fn of(stream: &str, conn: &Connection) -> Result<Option<Self>, AdapterError> {
        let fixed = |list: &[&str]| list.iter().map(|d| (*d).to_owned()).collect();
        Ok(Some(match stream {
            DAILY_REPORT => Self::kpis(DAILY_REPORT, REPORT, DIMENSIONS.read(conn)?),
            KEY_EVENTS => Self::kpis(KEY_EVENTS, KEY_EVENTS_REPORT, fixed(KEY_EVENTS_BREAKDOWN)),
            ECOMMERCE_ITEMS => Self::kpis(ECOMMERCE_ITEMS, ITEMS_REPORT, fixed(ITEMS_BREAKDOWN)),
            ECOMMERCE_PURCHASES => Self::kpis(ECOMMERCE_PURCHASES, PURCHASES_REPORT, Vec::new()),
            _ => {
                let Some(custom) = Custom::from_connection(conn)? else {
                    return Ok(None);
                };
                Self {
                    stream: CUSTOM_REPORT,
                    breakdown: custom.dimensions,
                    metrics: custom.metrics,
                    filter: custom.filter,
                    table: None,
                }
            }
        }))
    }

    /// What else besides the breakdown a cursor's offset depends on: the custom
    /// report's metrics and filter (the fixed reports' never change).
    fn shape(&self) -> Option<String> {
        self.table.is_none().then(|| {
            let filter = self
                .filter
                .as_ref()
                .map(Value::to_string)
                .unwrap_or_default();
            format!("{}|{filter}", self.metrics.join(","))
        })
    }

    /// The dimension columns, the date first.
    fn dimensions(&self) -> impl Iterator<Item = &str> {
        std::iter::once(REPORT.day).chain(self.breakdown.iter().map(String::as_str))
    }
}

/// The stored cursor of a report stream.
///
/// While a window is being paged through it holds the window (`start`..=`end`) and the
/// next row `offset`; once a window is done it holds only the `start` of the next one
/// ([`REREAD_DAYS`] before the last day read), whose end is "today" at the next sync.
/// `dimensions` records the breakdown the offset belongs to, `shape` the custom
/// report's metrics and filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    pub start: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<NaiveDate>,
    #[serde(default)]
    pub offset: u64,
    #[serde(default)]
    pub dimensions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<String>,
}

impl WindowCursor for Cursor {
    fn window(&self) -> (NaiveDate, Option<NaiveDate>, PageToken) {
        (self.start, self.end, PageToken::Offset(self.offset))
    }

    fn at(start: NaiveDate, end: Option<NaiveDate>, page: PageToken) -> Self {
        let (offset, dimensions) = (page.offset(), Vec::new());
        Self {
            start,
            end,
            offset,
            dimensions,
            shape: None,
        }
    }
}

/// The read a stored cursor calls for. A changed breakdown (or custom report)
/// invalidates the offset, and the new report has no history yet: the lookback
/// period is read again.
pub(crate) fn plan(
    stored: Option<&Value>,
    report: &Report,
    lookback: u32,
    today: NaiveDate,
) -> Result<WindowRead, AdapterError> {
    let cursor: Option<Cursor> = cursor::read(stored, report.stream)?;
    Ok(match cursor {
        Some(cursor) if cursor.dimensions != report.breakdown || cursor.shape != report.shape() => {
            WindowRead::restart(cursor.start, today, lookback)
        }
        cursor => WindowRead::from_cursor(cursor.as_ref(), today, lookback),
    })
}

/// The cursor after a page of `rows` rows out of `row_count`, and whether more rows
/// of this window follow.
pub(crate) fn advance(
    read: &WindowRead,
    rows: usize,
    row_count: i64,
    report: &Report,
) -> Result<(Cursor, bool), AdapterError> {
    let seen = Observed {
        items: rows,
        total: Some(u64::try_from(row_count).unwrap_or(0)),
        ..Observed::default()
    };
    // The size only matters without a total, which GA4 always gives.
    let next = PAGING.advance(&read.page, PAGING.size.max, &seen)?;
    let (mut cursor, more): (Cursor, bool) = read.advance(next, read.days.reread_from(REREAD_DAYS));
    cursor.dimensions = report.breakdown.clone();
    cursor.shape = report.shape();
    Ok((cursor, more))
}

/// The `runReport` body for a read.
pub(crate) fn request(read: &WindowRead, report: &Report, page_size: u32) -> RunReportRequest {
    RunReportRequest {
        date_ranges: vec![DateRange {
            start_date: read.days.start.format("%Y-%m-%d").to_string(),
            end_date: read.days.end.format("%Y-%m-%d").to_string(),
        }],
        dimensions: report
            .dimensions()
            .map(|name| Dimension { name: name.into() })
            .collect(),
        metrics: report
            .metrics
            .iter()
            .map(|name| Metric { name: name.clone() })
            .collect(),
        offset: Some(i64::try_from(read.page.offset()).unwrap_or(i64::MAX)),
        limit: Some(i64::from(page_size)),
        keep_empty_rows: Some(false),
        dimension_filter: report.filter.clone(),
        return_property_quota: Some(true),
    }
}

/// How a metric column's cells read: integers stay integers in records; every
/// other type (`TYPE_FLOAT`, `TYPE_CURRENCY`, `TYPE_SECONDS`, ...) is a
/// floating-point number in some unit.
pub(crate) fn cells(headers: &[MetricHeader]) -> Vec<Cell> {
    headers
        .iter()
        .map(|h| match h.metric_type.as_str() {
            "TYPE_INTEGER" => Cell::Integer,
            _ => Cell::Decimal,
        })
        .collect()
}

/// Turns a report into records (one per row) and KPI points (one per metric per
/// row, for the streams with KPIs). The report must have the requested columns in
/// the requested order.
pub(crate) fn map_rows(
    response: &RunReportResponse,
    report: &Report,
) -> Result<(Vec<Record>, Vec<KpiPoint>), AdapterError> {
    let Some(table) = report.table else {
        return custom_records(response, report).map(|records| (records, Vec::new()));
    };
    // Money is in the property's currency, which the report's metadata names.
    let currency = response
        .metadata
        .as_ref()
        .and_then(|m| m.currency_code.as_deref());
    let declared = spec().stream(report.stream).map(|s| &s.metrics[..]);
    let table = table
        .by(&report.breakdown, declared.unwrap_or_default())
        .in_currency(currency);
    table.check_columns(
        response.dimension_headers.iter().map(|h| h.name.as_str()),
        response.metric_headers.iter().map(|h| h.name.as_str()),
    )?;
    let cells = cells(&response.metric_headers);
    data::records_and_points(&response.rows, |row| {
        let dimensions = row.dimension_values.iter().map(|v| v.value.as_str());
        let metrics = row.metric_values.iter().map(|v| v.value.as_deref());
        table.row(dimensions, metrics, &cells)
    })
}

/// The custom report's rows as records: `{dimension: value, metric: number}`, the
/// id the dimension values joined with `|`.
fn custom_records(
    response: &RunReportResponse,
    report: &Report,
) -> Result<Vec<Record>, AdapterError> {
    let malformed =
        |what: &str| AdapterError::unavailable(format!("malformed GA4 custom report: {what}"));
    if !response
        .dimension_headers
        .iter()
        .map(|h| h.name.as_str())
        .eq(report.dimensions())
    {
        return Err(malformed(
            "dimension headers differ from the requested dimensions",
        ));
    }
    if !response
        .metric_headers
        .iter()
        .map(|h| h.name.as_str())
        .eq(report.metrics.iter().map(String::as_str))
    {
        return Err(malformed(
            "metric headers differ from the requested metrics",
        ));
    }
    response
        .rows
        .iter()
        .map(|row| {
            let data = row_object(row, response)
                .ok_or_else(|| malformed("a row does not match the headers"))?;
            let id: Vec<String> = row
                .dimension_values
                .iter()
                .map(|v| id_part(&v.value))
                .collect();
            Ok(Record {
                external_id: id.join("|"),
                data: Value::Object(data),
                modified_at: None,
            })
        })
        .collect()
}

/// One row as an object of its columns: dimension values as text, metric values as
/// numbers read by their header's type (text if GA4 sent something else). `None`
/// when the row does not match the headers.
pub(crate) fn row_object(row: &Row, response: &RunReportResponse) -> Option<Map<String, Value>> {
    if row.dimension_values.len() != response.dimension_headers.len()
        || row.metric_values.len() != response.metric_headers.len()
    {
        return None;
    }
    let mut object = Map::new();
    for (header, value) in response.dimension_headers.iter().zip(&row.dimension_values) {
        object.insert(header.name.clone(), Value::String(value.value.clone()));
    }
    for (header, value) in response.metric_headers.iter().zip(&row.metric_values) {
        let text = value.value.as_deref().unwrap_or("0").trim();
        let number = match header.metric_type.as_str() {
            "TYPE_INTEGER" => text.parse::<i64>().ok().map(Number::from),
            _ => text.parse::<f64>().ok().and_then(Number::from_f64),
        };
        let cell = number.map_or_else(|| Value::String(text.to_owned()), Value::Number);
        object.insert(header.name.clone(), cell);
    }
    Some(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use heck::ToSnakeCase;
    use junction_core::{IntegrationId, WorkspaceId};
    use junction_toolkit::{cursor::Window, report::id_part as escape_id_part};
    use serde_json::json;

    /// `totalUsers` → `total_users`: how the KPI names of [`REPORT`] are made.
    fn snake_case(name: &str) -> String {
        name.to_snake_case()
    }

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

    /// The read a cursor calls for: its days and offset.
    fn planned(
        cursor: Option<&Value>,
        s: &Settings,
        today: NaiveDate,
    ) -> (NaiveDate, NaiveDate, u64) {
        let read = plan(cursor, &s.table(), s.lookback_days, today).unwrap();
        let offset = match read.page {
            PageToken::Offset(offset) => offset,
            _ => 0,
        };
        (read.days.start, read.days.end, offset)
    }

    #[test]
    fn windows_follow_the_cursor() {
        let today = day("2026-03-15");
        let s = settings(&["country"]);
        assert_eq!(planned(None, &s, today), (day("2026-02-13"), today, 0));
        let paging = json!({"start": "2026-03-01", "end": "2026-03-10", "offset": 20, "dimensions": ["country"]});
        assert_eq!(
            planned(Some(&paging), &s, today),
            (day("2026-03-01"), day("2026-03-10"), 20)
        );
        let between = json!({"start": "2026-03-07", "dimensions": ["country"]});
        assert_eq!(
            planned(Some(&between), &s, today),
            (day("2026-03-07"), today, 0)
        );
        // The breakdown changed mid-window: start over with the lookback period.
        assert_eq!(
            planned(Some(&paging), &settings(&[]), today),
            (day("2026-02-13"), today, 0)
        );
        let future = json!({"start": "2027-01-01", "dimensions": ["country"]});
        assert_eq!(planned(Some(&future), &s, today), (today, today, 0));
        assert!(matches!(
            plan(Some(&json!({"page": 2})), &s.table(), 30, today),
            Err(AdapterError::Invalid { field: Some(f), .. }) if f == "cursor"
        ));
    }

    #[test]
    fn advancing_pages_then_rewinds_for_revisions() {
        let s = settings(&[]);
        let window = WindowRead {
            days: Window {
                start: day("2026-03-01"),
                end: day("2026-03-10"),
            },
            page: PageToken::First,
        };
        let (cursor, more) = advance(&window, 4, 10, &s.table()).unwrap();
        assert!(more);
        assert_eq!(
            cursor,
            Cursor {
                start: day("2026-03-01"),
                end: Some(day("2026-03-10")),
                offset: 4,
                dimensions: vec![],
                shape: None
            }
        );
        let last = WindowRead {
            page: PageToken::Offset(8),
            ..window.clone()
        };
        let (cursor, more) = advance(&last, 2, 10, &s.table()).unwrap();
        assert!(!more);
        assert_eq!(
            cursor,
            Cursor {
                start: day("2026-03-07"),
                end: None,
                offset: 0,
                dimensions: vec![],
                shape: None
            }
        );
        let (_, more) = advance(&window, 0, 10, &s.table()).unwrap();
        assert!(!more, "an empty page ends the window");
    }

    #[test]
    fn another_custom_report_starts_over() {
        let today = day("2026-03-15");
        let report = |metrics: &[&str]| Report {
            stream: CUSTOM_REPORT,
            breakdown: vec!["country".into()],
            metrics: metrics.iter().map(|m| (*m).to_owned()).collect(),
            filter: None,
            table: None,
        };
        let window = WindowRead {
            days: junction_toolkit::cursor::Window {
                start: day("2026-03-01"),
                end: day("2026-03-10"),
            },
            page: PageToken::First,
        };
        let (cursor, _) = advance(&window, 2, 10, &report(&["sessions"])).unwrap();
        let stored = junction_toolkit::cursor::write(&cursor).unwrap();
        assert_eq!(stored["shape"], "sessions|");
        let same = plan(Some(&stored), &report(&["sessions"]), 30, today).unwrap();
        assert_eq!(same.page, PageToken::Offset(2));
        let other = plan(Some(&stored), &report(&["activeUsers"]), 30, today).unwrap();
        assert_eq!(
            (other.page, other.days.start),
            (PageToken::First, day("2026-02-13"))
        );
    }

    #[test]
    fn page_size_is_clamped() {
        let page_size = |wish| PAGING.size.pick(wish);
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
