//! The fake's `runReport`: request validation as GA4 does it, and the report built
//! from the deterministic data in [`super::data`].

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration as Days, NaiveDate};
use serde_json::{Value, json};

use super::data::{self, SCHEMA};
pub(crate) use super::data::{InvalidArgument, invalid};
use crate::wire::RunReportRequest;

/// The earliest day GA4's Data API has data for; no traffic exists before it.
const EARLIEST_DAY: (i32, u32, u32) = (2015, 8, 14);

/// The API's row cap per request.
const MAX_ROWS: i64 = 250_000;

/// The API's limits on columns per request.
const MAX_DIMENSIONS: usize = 9;
const MAX_METRICS: usize = 10;

/// The property's reporting settings. Relative dates are resolved in UTC, so UTC is
/// the time zone the fake reports.
const CURRENCY: &str = "USD";
const TIME_ZONE: &str = "Etc/UTC";

/// A validated report request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReportQuery {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub dimensions: Vec<String>,
    pub metrics: Vec<(String, &'static str)>,
    pub offset: i64,
    pub limit: i64,
    pub keep_empty_rows: bool,
    pub return_property_quota: bool,
    /// The `dimensionFilter`, checked (see [`super::filter`]).
    pub filter: Option<Value>,
}

/// The type of a metric the fake knows.
fn metric_type(name: &str) -> Option<&'static str> {
    SCHEMA.at("/metrics").get(name).and_then(Value::as_str)
}

/// Whether the schema's list at `pointer` has `name`.
pub(crate) fn listed(pointer: &str, name: &str) -> bool {
    SCHEMA.list(pointer).iter().any(|n| n == name)
}

impl ReportQuery {
    /// Validates a request body for `property` the way GA4 does.
    pub(crate) fn parse(
        body: &[u8],
        property: &str,
        today: NaiveDate,
    ) -> Result<Self, InvalidArgument> {
        let value: Value =
            serde_json::from_slice(body).map_err(|_| invalid("bad_json", json!({})))?;
        let Some(object) = value.as_object() else {
            return Err(invalid("not_object", json!({})));
        };
        for key in object.keys() {
            if listed("/unsupported", key) {
                return Err(invalid("unsupported", json!({"key": key})));
            }
            if !listed("/supported", key) {
                return Err(invalid("unknown_field", json!({"key": key})));
            }
        }
        if let Some(named) = object.get("property").and_then(Value::as_str)
            && named != format!("properties/{property}")
        {
            return Err(invalid(
                "property_mismatch",
                json!({"named": named, "property": property}),
            ));
        }
        let request: RunReportRequest =
            serde_json::from_value(value.clone()).map_err(|_| invalid("wrong_type", json!({})))?;
        let dimensions = request.dimensions.iter().map(|d| d.name.as_str());
        let dimensions = checked_names(dimensions, "dimension", MAX_DIMENSIONS, |name| {
            listed("/dimensions", name)
        })?;
        let metrics = request.metrics.iter().map(|m| m.name.as_str());
        let metrics = checked_names(metrics, "metric", MAX_METRICS, |name| {
            metric_type(name).is_some()
        })?;
        if metrics.is_empty() {
            return Err(invalid("no_metric", json!({})));
        }
        let metrics = metrics
            .into_iter()
            .map(|name| {
                let kind = metric_type(&name).unwrap_or("TYPE_INTEGER");
                (name, kind)
            })
            .collect();
        let filter = request.dimension_filter.clone();
        if let Some(filter) = &filter {
            super::filter::check(filter, &|name| listed("/dimensions", name))?;
        }
        let [range] = request.date_ranges.as_slice() else {
            let name = if request.date_ranges.is_empty() {
                "no_range"
            } else {
                "ranges"
            };
            return Err(invalid(name, json!({})));
        };
        let start = resolve_date(&range.start_date, today)?;
        let end = resolve_date(&range.end_date, today)?;
        if start > end {
            let vars = json!({"start": range.start_date, "end": range.end_date});
            return Err(invalid("range_order", vars));
        }
        let offset = request.offset.unwrap_or(0);
        if offset < 0 {
            return Err(invalid("offset", json!({})));
        }
        let limit = request.limit.unwrap_or(10_000);
        if limit <= 0 {
            return Err(invalid("limit", json!({})));
        }
        Ok(Self {
            start,
            end,
            dimensions,
            metrics,
            offset,
            // GA4 returns at most this many rows, whatever was asked for.
            limit: limit.min(MAX_ROWS),
            keep_empty_rows: request.keep_empty_rows.unwrap_or(false),
            return_property_quota: request.return_property_quota.unwrap_or(false),
            filter,
        })
    }

    /// The report for `property`, in the API's JSON shape.
    pub(crate) fn run(&self, property: &str, today: NaiveDate) -> Result<Value, InvalidArgument> {
        let rows = self.all_rows(property, today)?;
        let total = rows.len();
        let values = |values: Vec<String>| {
            values
                .into_iter()
                .map(|v| json!({"value": v}))
                .collect::<Vec<_>>()
        };
        let page: Vec<Value> = rows
            .into_iter()
            .skip(usize::try_from(self.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(self.limit).unwrap_or(usize::MAX))
            .map(|(dimensions, metrics)| {
                json!({"dimensionValues": values(dimensions), "metricValues": values(metrics)})
            })
            .collect();

        let metrics = self
            .metrics
            .iter()
            .map(|(name, kind)| json!({"name": name, "type": kind}));
        Ok(proto3(json!({
            "dimensionHeaders": self.dimensions.iter().map(|name| json!({"name": name})).collect::<Vec<_>>(),
            "metricHeaders": metrics.collect::<Vec<_>>(), "rows": page, "rowCount": total,
            "metadata": {"currencyCode": CURRENCY, "timeZone": TIME_ZONE},
            "propertyQuota": self.return_property_quota.then(|| self.quota(total)),
            "kind": "analyticsData#runReport",
        })))
    }

    /// Every row of the result, ordered by dimension values (dates as `YYYYMMDD` sort
    /// chronologically), so offset paging is stable.
    fn all_rows(&self, property: &str, today: NaiveDate) -> Result<Rows, InvalidArgument> {
        let earliest = NaiveDate::from_ymd_opt(EARLIEST_DAY.0, EARLIEST_DAY.1, EARLIEST_DAY.2)
            .unwrap_or(NaiveDate::MIN);
        // No data before GA4 existed or after today.
        let first = self.start.max(earliest);
        let last = self.end.min(today);
        let mut cells = Vec::new();
        let mut date = first;
        while date <= last {
            let day = date.format("%Y%m%d").to_string();
            for country in 0..SCHEMA.list("/countries").len() {
                for channel in 0..SCHEMA.list("/channels").len() {
                    let totals = data::cell_of_day(property, date, &day, country, channel);
                    let scaled = totals.into_iter().map(|(m, v)| (m, v as f64)).collect();
                    cells.push((base(Some(&day), country, channel), scaled));
                }
            }
            date += Days::days(1);
        }
        grid(
            &self.dimensions,
            &self.metrics,
            self.filter.as_ref(),
            self.keep_empty_rows,
            cells,
        )
    }

    /// The property's quota state. The fake keeps no usage between requests, so the
    /// remaining amounts are the full quotas less this request's cost.
    fn quota(&self, rows: usize) -> Value {
        let days = (self.end - self.start).num_days().max(0);
        // GA4 charges more for longer ranges and bigger results; most requests cost
        // fewer than 10 tokens.
        let tokens = 1 + days / 31 + i64::try_from(rows / 2_000).unwrap_or(0);
        let vars = json!({"tokens": tokens, "day": 200_000 - tokens, "hour": 40_000 - tokens, "project": 14_000 - tokens});
        SCHEMA.fill("/quota", &vars)
    }
}

/// A message as proto3 JSON writes it: without unset fields, zeros or empty lists.
pub(crate) fn proto3(message: Value) -> Value {
    let Value::Object(fields) = message else {
        return message;
    };
    let unset =
        |v: &Value| v.is_null() || *v == json!(0) || v.as_array().is_some_and(Vec::is_empty);
    Value::Object(fields.into_iter().filter(|(_, v)| !unset(v)).collect())
}

/// Rows of a report: dimension values and metric values, as GA4 writes them.
pub(crate) type Rows = Vec<(Vec<String>, Vec<String>)>;

/// Fractional counts of a group of cells, split by the axes' shares.
pub(crate) type Shares = BTreeMap<&'static str, f64>;

/// The values of the dimensions every cell has: its day (none in realtime),
/// country and channel.
pub(crate) fn base(day: Option<&str>, country: usize, channel: usize) -> BTreeMap<String, String> {
    let name = |table: &str, at: usize| SCHEMA.list(table)[at][0].as_str().unwrap_or_default();
    let mut values = BTreeMap::from([
        ("country".to_owned(), name("/countries", country).to_owned()),
        (
            "sessionDefaultChannelGroup".to_owned(),
            name("/channels", channel).to_owned(),
        ),
    ]);
    if let Some(day) = day {
        values.insert("date".to_owned(), day.to_owned());
    }
    values
}

/// The rows of `cells` (each its base dimension values and counts), split further
/// by the axes (`schema.json`'s `/axes`) the requested or filtered dimensions need,
/// filtered, grouped by the requested dimensions and ordered by them.
///
/// A cell splits into one part per combination of the axes' entries (the first
/// axis's entries outermost), each with the cell's counts times the entries'
/// shares, axis by axis. A year of days by country is 20,000 cells and a split by
/// event name six times as many parts, so the parts are not materialized: a part's
/// dimension values are looked up where they are (the cell, the axis entries) and
/// its counts are added straight into its group.
pub(crate) fn grid(
    dimensions: &[String],
    metrics: &[(String, &'static str)],
    filter: Option<&Value>,
    keep_empty_rows: bool,
    cells: Vec<(BTreeMap<String, String>, Shares)>,
) -> Result<Rows, InvalidArgument> {
    let mut needed: Vec<String> = dimensions.to_vec();
    if let Some(filter) = filter {
        needed.extend(super::filter::fields(filter));
    }
    let axes: Vec<Axis<'_>> = SCHEMA
        .list("/axes")
        .iter()
        .filter(|axis| {
            axis["dimensions"]
                .as_array()
                .is_some_and(|names| names.iter().any(|n| needed.iter().any(|d| n == d)))
        })
        .map(Axis::read)
        .collect();
    // Every combination of one entry per axis (its entries' indexes), in the order
    // the splits nest.
    let mut combinations: Vec<Vec<usize>> = vec![Vec::new()];
    for axis in &axes {
        combinations = combinations
            .into_iter()
            .flat_map(|chosen| {
                (0..axis.entries.len()).map(move |entry| {
                    let mut chosen = chosen.clone();
                    chosen.push(entry);
                    chosen
                })
            })
            .collect();
    }
    // The metrics the groups count, each group's counts in this order.
    let mut names: Vec<&'static str> = Vec::new();
    // Per cell metric: its place in `names` and each axis entry's share of it,
    // worked out again only when a cell's metrics differ from the previous cell's.
    let mut metrics_of_cell: Vec<&'static str> = Vec::new();
    let mut slots: Vec<usize> = Vec::new();
    let mut shares: Vec<Vec<Vec<f64>>> = Vec::new();
    // Groups by dimension values, in the order first seen; sorted at the end.
    let mut index: HashMap<Vec<&str>, usize> = HashMap::new();
    let mut groups: Vec<(Vec<&str>, Vec<f64>)> = Vec::new();
    let mut key: Vec<&str> = Vec::with_capacity(dimensions.len());
    for (values, counts) in &cells {
        if !counts.keys().eq(metrics_of_cell.iter()) {
            metrics_of_cell = counts.keys().copied().collect();
            slots = metrics_of_cell
                .iter()
                .map(|metric| {
                    names.iter().position(|n| n == metric).unwrap_or_else(|| {
                        names.push(metric);
                        names.len() - 1
                    })
                })
                .collect();
            shares = axes
                .iter()
                .map(|axis| {
                    let only = axis.only.as_deref();
                    let of_entry = |entry: &AxisEntry<'_>| {
                        metrics_of_cell
                            .iter()
                            .map(|metric| entry.share(metric, only))
                            .collect()
                    };
                    axis.entries.iter().map(of_entry).collect()
                })
                .collect();
        }
        for chosen in &combinations {
            // The value of a dimension in this part: the last axis that sets it,
            // else the cell's own.
            let value_of = |dimension: &str| -> &str {
                axes.iter()
                    .zip(chosen)
                    .rev()
                    .find_map(|(axis, &entry)| axis.value(entry, dimension))
                    .or_else(|| values.get(dimension).map(String::as_str))
                    .unwrap_or_default()
            };
            if let Some(filter) = filter {
                let mut part = values.clone();
                for (axis, &entry) in axes.iter().zip(chosen) {
                    for (name, value) in axis.names.iter().zip(&axis.entries[entry].values) {
                        part.insert((*name).to_owned(), (*value).to_owned());
                    }
                }
                if !super::filter::matches(filter, &part)? {
                    continue;
                }
            }
            key.clear();
            key.extend(dimensions.iter().map(|d| value_of(d)));
            let at = match index.get(key.as_slice()) {
                Some(&at) => at,
                None => {
                    index.insert(key.clone(), groups.len());
                    groups.push((key.clone(), Vec::new()));
                    groups.len() - 1
                }
            };
            let totals = &mut groups[at].1;
            if totals.len() < names.len() {
                totals.resize(names.len(), 0.0);
            }
            for ((count, &slot), metric) in counts.values().zip(&slots).zip(0..) {
                let mut count = *count;
                for (shares, &entry) in shares.iter().zip(chosen) {
                    count *= shares[entry][metric];
                }
                totals[slot] += count;
            }
        }
    }
    groups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(groups
        .into_iter()
        .map(|(key, totals)| {
            let totals: Shares = names.iter().copied().zip(totals).collect();
            let values = metrics.iter().map(|(name, _)| metric_value(name, &totals));
            let key = key.into_iter().map(str::to_owned).collect();
            (key, values.collect::<Vec<_>>())
        })
        // Without keepEmptyRows, rows whose metrics are all 0 are left out.
        .filter(|(_, values)| {
            keep_empty_rows
                || values
                    .iter()
                    .any(|v| v.parse::<f64>().is_ok_and(|n| n != 0.0))
        })
        .collect())
}

/// An axis of `schema.json`'s `/axes`, read once per report.
struct Axis<'s> {
    /// The dimensions it sets.
    names: Vec<&'s str>,
    /// The metrics its `share` applies to (all, if not given).
    only: Option<Vec<&'s str>>,
    entries: Vec<AxisEntry<'s>>,
}

/// One entry of an axis: its dimension values and what it takes of each metric.
struct AxisEntry<'s> {
    /// The value of each of the axis's dimensions, in the axis's order.
    values: Vec<&'s str>,
    /// One share of every metric (those of the axis's `only`)...
    share: Option<f64>,
    /// ...or a share per metric.
    shares: &'s Value,
}

impl<'s> Axis<'s> {
    fn read(axis: &'s Value) -> Self {
        let names: Vec<&str> = axis["dimensions"]
            .as_array()
            .map(|n| n.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let only = axis["only"]
            .as_array()
            .map(|n| n.iter().filter_map(Value::as_str).collect());
        let entries = axis["entries"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|entry| AxisEntry {
                values: names
                    .iter()
                    .map(|name| entry[*name].as_str().unwrap_or_default())
                    .collect(),
                share: entry
                    .get("share")
                    .map(|share| share.as_f64().unwrap_or(0.0)),
                shares: &entry["shares"],
            })
            .collect();
        Self {
            names,
            only,
            entries,
        }
    }

    /// The value its entry `entry` gives `dimension`, if this axis sets it.
    fn value(&self, entry: usize, dimension: &str) -> Option<&'s str> {
        let at = self.names.iter().position(|name| *name == dimension)?;
        self.entries.get(entry)?.values.get(at).copied()
    }
}

impl AxisEntry<'_> {
    /// The entry's share of `metric`: its `share` (none of a metric outside the
    /// axis's `only`), or its `shares` of the metric.
    fn share(&self, metric: &str, only: Option<&[&str]>) -> f64 {
        match (self.share, only) {
            (Some(_), Some(only)) if !only.contains(&metric) => 0.0,
            (Some(share), _) => share,
            (None, _) => self.shares[metric].as_f64().unwrap_or(0.0),
        }
    }
}

/// A metric's value as GA4 writes it: integers plainly, floats in shortest form,
/// currency with two decimals.
fn metric_value(name: &str, totals: &Shares) -> String {
    let count = |name: &str| totals.get(name).copied().unwrap_or(0.0).round().max(0.0) as u64;
    let sessions = count("sessions");
    let ratio = |part: u64| {
        if sessions == 0 {
            0.0
        } else {
            part as f64 / sessions as f64
        }
    };
    let float = |value: f64| {
        if value == 0.0 {
            "0".to_owned()
        } else {
            value.to_string()
        }
    };
    let money = |cents: u64| {
        if cents == 0 {
            "0".to_owned()
        } else {
            format!("{}.{:02}", cents / 100, cents % 100)
        }
    };
    let revenue = count("revenueCents");
    match name {
        "purchaseRevenue" => money(count("purchaseRevenueCents")),
        "itemRevenue" => money(count("itemRevenueCents")),
        "engagementRate" => float(ratio(count("engagedSessions"))),
        "bounceRate" if sessions == 0 => "0".to_owned(),
        "bounceRate" => float(1.0 - ratio(count("engagedSessions"))),
        "averageSessionDuration" => float(ratio(count("sessionSeconds"))),
        "totalRevenue" if revenue == 0 => "0".to_owned(),
        "totalRevenue" => format!("{}.{:02}", revenue / 100, revenue % 100),
        counter => count(counter).to_string(),
    }
}

/// Checks requested names: known, not repeated, not too many.
pub(crate) fn checked_names<'a>(
    names: impl Iterator<Item = &'a str>,
    kind: &str,
    max: usize,
    known: impl Fn(&str) -> bool,
) -> Result<Vec<String>, InvalidArgument> {
    let mut checked: Vec<String> = Vec::new();
    for name in names {
        if !known(name) {
            return Err(invalid("unknown_name", json!({"name": name, "kind": kind})));
        }
        if checked.iter().any(|n| n == name) {
            return Err(invalid("duplicate", json!({"name": name, "kind": kind})));
        }
        checked.push(name.to_owned());
    }
    if checked.len() > max {
        let vars = json!({"max": max, "kind": kind, "count": checked.len()});
        return Err(invalid("too_many", vars));
    }
    Ok(checked)
}

/// A date as the API accepts it: `YYYY-MM-DD`, `today`, `yesterday` or `NdaysAgo`,
/// relative dates resolved against `today`.
fn resolve_date(text: &str, today: NaiveDate) -> Result<NaiveDate, InvalidArgument> {
    let invalid = || invalid("date", json!({"text": text}));
    match text {
        "today" => Ok(today),
        "yesterday" => Ok(today - Days::days(1)),
        _ => match text.strip_suffix("daysAgo") {
            Some(count) if !count.is_empty() && count.bytes().all(|b| b.is_ascii_digit()) => {
                let days: i64 = count.parse().map_err(|_| invalid())?;
                let days = Days::try_days(days).ok_or_else(invalid)?;
                today.checked_sub_signed(days).ok_or_else(invalid)
            }
            Some(_) => Err(invalid()),
            None => NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| invalid()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 15).unwrap()
    }

    fn parse(body: Value) -> Result<ReportQuery, InvalidArgument> {
        ReportQuery::parse(body.to_string().as_bytes(), "123", today())
    }

    #[test]
    fn relative_dates_resolve_against_today() {
        assert_eq!(resolve_date("today", today()).unwrap(), today());
        assert_eq!(
            resolve_date("yesterday", today()).unwrap().to_string(),
            "2026-03-14"
        );
        assert_eq!(
            resolve_date("30daysAgo", today()).unwrap().to_string(),
            "2026-02-13"
        );
        assert_eq!(
            resolve_date("2026-01-02", today()).unwrap().to_string(),
            "2026-01-02"
        );
        for bad in [
            "daysAgo",
            "-1daysAgo",
            "20260102",
            "tomorrow",
            "99999999999999999999daysAgo",
        ] {
            assert!(resolve_date(bad, today()).is_err(), "{bad}");
        }
    }

    #[test]
    fn requests_are_validated_like_ga4() {
        let ok = parse(json!({
            "dateRanges": [{"startDate": "7daysAgo", "endDate": "today"}],
            "dimensions": [{"name": "date"}],
            "metrics": [{"name": "sessions"}, {"name": "totalRevenue"}],
            "offset": "0", "limit": "5", "keepEmptyRows": false, "returnPropertyQuota": true
        }))
        .unwrap();
        assert_eq!(ok.limit, 5);
        assert_eq!(ok.metrics[1], ("totalRevenue".to_owned(), "TYPE_CURRENCY"));
        let message = |body: Value| parse(body).unwrap_err().0;
        let range = json!([{"startDate": "yesterday", "endDate": "today"}]);
        assert!(message(json!({"dateRanges": range, "metrics": [{"name": "sessions"}], "dimensions": [{"name": "city"}]}))
            .starts_with("Field city is not a valid dimension"));
        assert!(
            message(json!({"dateRanges": range, "metrics": [{"name": "conversionz"}]}))
                .starts_with("Field conversionz is not a valid metric")
        );
        assert!(
            message(json!({"dateRanges": range, "metrics": []})).contains("metric is required")
        );
        assert!(
            message(json!({"metrics": [{"name": "sessions"}]})).contains("date range is required")
        );
        assert!(
            message(
                json!({"dateRanges": range, "metrics": [{"name": "sessions"}], "orderBys": []})
            )
            .contains("does not implement")
        );
        assert!(
            message(json!({"dateRanges": range, "metrics": [{"name": "sessions"}], "limitt": 1}))
                .contains("Unknown name \"limitt\"")
        );
        assert!(
            message(json!({"dateRanges": range, "metrics": [{"name": "sessions"}], "limit": "0"}))
                .contains("limit must be positive")
        );
        assert!(message(json!({"dateRanges": [{"startDate": "today", "endDate": "yesterday"}], "metrics": [{"name": "sessions"}]}))
            .contains("is after endDate"));
    }

    #[test]
    fn reports_page_over_rows_and_leave_out_defaults() {
        let query = parse(json!({
            "dateRanges": [{"startDate": "2026-03-01", "endDate": "2026-03-20"}],
            "dimensions": [{"name": "date"}],
            "metrics": [{"name": "sessions"}, {"name": "engagementRate"}],
            "limit": 10, "offset": 10
        }))
        .unwrap();
        let report = query.run("123", today()).unwrap();
        // Only days up to today have data: March 1 to 15.
        assert_eq!(report["rowCount"], 15);
        let rows = report["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[0]["dimensionValues"][0]["value"], "20260311");
        let rate: f64 = rows[0]["metricValues"][1]["value"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((0.0..=1.0).contains(&rate));
        assert!(report.get("propertyQuota").is_none());
        let beyond = ReportQuery {
            offset: 100,
            ..query
        }
        .run("123", today())
        .unwrap();
        assert!(beyond.get("rows").is_none());
        assert_eq!(beyond["rowCount"], 15);
    }

    #[test]
    fn breakdowns_sum_to_the_daily_total() {
        let body = |dimensions: Value| {
            json!({
                "dateRanges": [{"startDate": "2026-03-10", "endDate": "2026-03-10"}],
                "dimensions": dimensions,
                "metrics": [{"name": "sessions"}, {"name": "totalRevenue"}],
                "returnPropertyQuota": true
            })
        };
        let total = parse(body(json!([{"name": "date"}])))
            .unwrap()
            .run("9", today())
            .unwrap();
        let by_country = parse(body(json!([{"name": "date"}, {"name": "country"}])))
            .unwrap()
            .run("9", today())
            .unwrap();
        let sum = |report: &Value, column: usize| -> f64 {
            report["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    r["metricValues"][column]["value"]
                        .as_str()
                        .unwrap()
                        .parse::<f64>()
                        .unwrap()
                })
                .sum()
        };
        assert_eq!(sum(&total, 0), sum(&by_country, 0));
        assert!((sum(&total, 1) - sum(&by_country, 1)).abs() < 0.005);
        let revenue = total["rows"][0]["metricValues"][1]["value"]
            .as_str()
            .unwrap();
        assert!(
            revenue == "0" || revenue.split('.').nth(1).is_some_and(|d| d.len() == 2),
            "{revenue}"
        );
        assert_eq!(
            total["propertyQuota"]["concurrentRequests"],
            json!({"remaining": 10})
        );
    }
}
