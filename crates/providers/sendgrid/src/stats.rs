//! The statistics streams: `global_stats` (`GET /v3/stats`) and `category_stats`
//! (`GET /v3/categories` to learn the categories, then `GET /v3/categories/stats`
//! for up to ten of them at a time), both `aggregated_by=day`.
//!
//! A day's answer is `{"date", "stats": [{"type"?, "name"?, "metrics": {...}}]}`;
//! each day becomes a record (the day and its metrics as SendGrid sent them) and KPI
//! points: the counts of [`STATS`] and the ratios of [`RATIOS`] (a ratio over zero
//! is no point). Category points carry the `category` dimension and are stored under
//! `category_`-prefixed names: an email may carry several categories, so the
//! category figures never add up to (and must not be summed with) the global ones.
//!
//! Cursors: `global_stats` keeps `{"start"}`: one request covers `start` through
//! today, and the next sync starts [`REREAD_DAYS`] back (SendGrid keeps counting
//! late events — opens, bounces — into the day the email was sent).
//! `category_stats` keeps `{"start", "end", "offset"}` while it walks the category
//! list ten at a time (`GET /v3/categories?limit=10&offset=`), then `{"start"}`.

use std::collections::BTreeMap;

use chrono::{Duration as Days, NaiveDate};
use junction_core::{AdapterError, Connection, KpiPoint, Page, Record, spec::MetricSpec};
use junction_toolkit::{Client, cursor, data, data::Fields};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::spec::{self, CATEGORY_STATS, GLOBAL_STATS, LOOKBACK, RATIOS, STATS};

/// Days a pass re-reads behind today.
pub(crate) const REREAD_DAYS: i64 = 3;

/// The most categories `GET /v3/categories/stats` takes in one request.
pub const CATEGORIES_PER_REQUEST: usize = 10;

/// The stored cursor of both streams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StatsCursor {
    start: NaiveDate,
    /// While walking the categories: the window's last day and the next offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    offset: Option<u64>,
}

fn day(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// The window a read covers and where it stands.
fn plan(
    client: &Client<'_>,
    conn: &Connection,
    stored: Option<&Value>,
    stream: &str,
) -> Result<(StatsCursor, NaiveDate, NaiveDate), AdapterError> {
    let today = client.context().now().date_naive();
    let cursor = match cursor::read::<StatsCursor>(stored, stream)? {
        Some(cursor) => cursor,
        None => StatsCursor {
            start: today - Days::days(LOOKBACK.read(conn)?),
            end: None,
            offset: None,
        },
    };
    let end = cursor.end.unwrap_or(today);
    // A cursor from a clock ahead of ours never inverts the range.
    let start = cursor.start.min(end);
    Ok((cursor, start, end))
}

/// Where the next pass starts.
fn next_start(start: NaiveDate, end: NaiveDate) -> NaiveDate {
    (end - Days::days(REREAD_DAYS)).max(start)
}

/// Reads `global_stats`: one request for the whole window.
pub(crate) async fn read_global(
    client: &Client<'_>,
    conn: &Connection,
    stored: Option<&Value>,
) -> Result<Page, AdapterError> {
    let (_, start, end) = plan(client, conn, stored, GLOBAL_STATS)?;
    let query = [
        ("start_date", day(start)),
        ("end_date", day(end)),
        ("aggregated_by", "day".to_owned()),
    ];
    let days: Vec<Value> = client.get("stats", &query).await?;
    let declared = declared(GLOBAL_STATS);
    let (records, kpis) = data::records_and_points(&days, |row| {
        let (date, metrics) = day_metrics(row, None)?;
        let kpis = points(date, &BTreeMap::new(), "", &metrics, declared);
        Ok((
            record(day(date), json!({"date": day(date), "metrics": metrics})),
            kpis,
        ))
    })?;
    let next = StatsCursor {
        start: next_start(start, end),
        end: None,
        offset: None,
    };
    cursor::page(records, kpis, &next, false)
}

/// Reads one page of `category_stats`: the next ten categories' days.
pub(crate) async fn read_categories(
    client: &Client<'_>,
    conn: &Connection,
    stored: Option<&Value>,
) -> Result<Page, AdapterError> {
    let (cursor, start, end) = plan(client, conn, stored, CATEGORY_STATS)?;
    let offset = cursor.offset.unwrap_or(0);
    let listed: Vec<Value> = client
        .get(
            "categories",
            &[
                ("limit", CATEGORIES_PER_REQUEST.to_string()),
                ("offset", offset.to_string()),
            ],
        )
        .await?;
    let names = listed
        .iter()
        .map(|item| Fields::new(item, "SendGrid sent a category").text("category"))
        .collect::<Result<Vec<String>, _>>()?;
    let (mut records, mut kpis) = (Vec::new(), Vec::new());
    if !names.is_empty() {
        let mut query = vec![
            ("start_date", day(start)),
            ("end_date", day(end)),
            ("aggregated_by", "day".to_owned()),
        ];
        // `categories` repeats, once per category.
        query.extend(names.iter().map(|name| ("categories", name.clone())));
        let days: Vec<Value> = client.get("categories/stats", &query).await?;
        let declared = declared(CATEGORY_STATS);
        for row in &days {
            let date =
                Fields::new(row, "SendGrid sent a statistics day").date("date", "%Y-%m-%d")?;
            let stats = Fields::new(row, "SendGrid sent a statistics day")
                .list("stats")?
                .unwrap_or_default();
            for stat in stats {
                let category =
                    Fields::new(stat, "SendGrid sent category statistics").text("name")?;
                let metrics = stat
                    .get("metrics")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                let dimensions = BTreeMap::from([("category".to_owned(), category.clone())]);
                kpis.extend(points(date, &dimensions, "category_", &metrics, declared));
                records.push(record(
                    format!("{}|{category}", day(date)),
                    json!({"date": day(date), "category": category, "metrics": metrics}),
                ));
            }
        }
    }
    let more = names.len() == CATEGORIES_PER_REQUEST;
    let next = if more {
        StatsCursor {
            start,
            end: Some(end),
            offset: Some(offset + names.len() as u64),
        }
    } else {
        StatsCursor {
            start: next_start(start, end),
            end: None,
            offset: None,
        }
    };
    cursor::page(records, kpis, &next, more)
}

fn declared(stream: &str) -> &'static [MetricSpec] {
    spec::spec()
        .stream(stream)
        .map(|s| s.metrics.as_slice())
        .unwrap_or_default()
}

fn record(id: String, data: Value) -> Record {
    Record {
        external_id: id,
        data,
        modified_at: None,
    }
}

/// A global statistics day: its date and the metrics of its one `stats` entry.
fn day_metrics(
    row: &Value,
    _: Option<&str>,
) -> Result<(NaiveDate, Map<String, Value>), AdapterError> {
    let fields = Fields::new(row, "SendGrid sent a statistics day");
    let date = fields.date("date", "%Y-%m-%d")?;
    let metrics = fields
        .list("stats")?
        .and_then(|stats| stats.first())
        .and_then(|stat| stat.get("metrics"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    Ok((date, metrics))
}

/// The KPI points of one day's metrics, names prefixed with `prefix`.
fn points(
    date: NaiveDate,
    dimensions: &BTreeMap<String, String>,
    prefix: &str,
    metrics: &Map<String, Value>,
    declared: &[MetricSpec],
) -> Vec<KpiPoint> {
    let value = |api: &str| metrics.get(api).and_then(data::number);
    let mut named: Vec<(String, Option<f64>)> = STATS
        .iter()
        .map(|(api, kpi)| (format!("{prefix}{kpi}"), value(api)))
        .collect();
    named.extend(RATIOS.iter().map(|(name, numerator, denominator)| {
        let ratio = match (value(numerator), value(denominator)) {
            (Some(n), Some(d)) if d > 0.0 => Some(n / d * 100.0),
            _ => None,
        };
        (format!("{prefix}{name}"), ratio)
    }));
    data::metric_points(
        date,
        dimensions,
        None,
        declared,
        named.iter().map(|(name, value)| (name.as_str(), *value)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_becomes_counts_and_ratios() {
        let metrics = json!({"requests": 200, "delivered": 180, "opens": 120, "unique_opens": 90,
                             "clicks": 18, "bounces": 4, "spam_reports": 1, "unsubscribes": 2,
                             "blocks": 3})
        .as_object()
        .cloned()
        .unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let points = points(date, &BTreeMap::new(), "", &metrics, declared(GLOBAL_STATS));
        let value = |name: &str| points.iter().find(|p| p.metric == name).map(|p| p.value);
        assert_eq!(value("emails_requested"), Some(200.0));
        assert_eq!(value("emails_spam_reported"), Some(1.0));
        assert_eq!(value("delivery_rate"), Some(90.0));
        assert_eq!(value("open_rate"), Some(50.0));
        assert_eq!(value("click_rate"), Some(10.0));
        assert_eq!(points.len(), 11);
        // Nothing delivered: no rates, not zero rates.
        let empty = json!({"requests": 0, "delivered": 0})
            .as_object()
            .cloned()
            .unwrap();
        let none = super::points(date, &BTreeMap::new(), "", &empty, declared(GLOBAL_STATS));
        assert!(none.iter().all(|p| !p.metric.ends_with("_rate")));
    }
}
