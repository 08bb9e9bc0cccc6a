//! The fake's `runRealtimeReport`: the realtime schema (`schema.json`'s
//! `/realtime`: its own dimensions and metrics, no `date`, no `offset`), the last 30
//! minutes of today's traffic — the day's cells scaled to half an hour, with noise
//! of the day (two readings of one day agree, as the conformance suite asks) —
//! split, filtered and grouped like `runReport`'s.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{
    data::{self, SCHEMA},
    filter,
    report::{InvalidArgument, Shares, base, checked_names, grid, invalid, listed, proto3},
};
use crate::wire::RunRealtimeReportRequest;

/// The API's row cap, and its limits on columns per request.
const MAX_ROWS: i64 = 250_000;
const MAX_DIMENSIONS: usize = 9;
const MAX_METRICS: usize = 10;

/// The minutes a realtime report covers by default (standard properties).
const WINDOW_MINUTES: i32 = 30;

fn metric_type(name: &str) -> Option<&'static str> {
    SCHEMA
        .at("/realtime/metrics")
        .get(name)
        .and_then(Value::as_str)
}

/// Answers a `runRealtimeReport` body for `property` at `now`.
pub(crate) fn run(
    body: &[u8],
    property: &str,
    now: DateTime<Utc>,
) -> Result<Value, InvalidArgument> {
    let value: Value = serde_json::from_slice(body).map_err(|_| invalid("bad_json", json!({})))?;
    let Some(object) = value.as_object() else {
        return Err(invalid("not_object", json!({})));
    };
    for key in object.keys() {
        if listed("/realtime/unsupported", key) {
            return Err(invalid("unsupported", json!({"key": key})));
        }
        if !listed("/realtime/supported", key) {
            return Err(invalid("unknown_field", json!({"key": key})));
        }
    }
    let request: RunRealtimeReportRequest =
        serde_json::from_value(value.clone()).map_err(|_| invalid("wrong_type", json!({})))?;
    let dimensions = request.dimensions.iter().map(|d| d.name.as_str());
    let dimensions = checked_names(dimensions, "dimension", MAX_DIMENSIONS, |name| {
        listed("/realtime/dimensions", name)
    })
    .map_err(|err| realtime_dimension(err, &request))?;
    let metrics = request.metrics.iter().map(|m| m.name.as_str());
    let metrics = checked_names(metrics, "metric", MAX_METRICS, |name| {
        metric_type(name).is_some()
    })?;
    if metrics.is_empty() {
        return Err(invalid("no_metric", json!({})));
    }
    let metrics: Vec<(String, &'static str)> = metrics
        .into_iter()
        .map(|name| {
            let kind = metric_type(&name).unwrap_or("TYPE_INTEGER");
            (name, kind)
        })
        .collect();
    if let Some(filter) = &request.dimension_filter {
        filter::check(filter, &|name| listed("/realtime/dimensions", name))?;
    }
    let minutes = match request.minute_ranges.as_slice() {
        [] => WINDOW_MINUTES,
        [range] => {
            let start = range.start_minutes_ago.unwrap_or(WINDOW_MINUTES - 1);
            let end = range.end_minutes_ago.unwrap_or(0);
            if !(0..WINDOW_MINUTES).contains(&start) || !(0..=start).contains(&end) {
                return Err(invalid("minute_range", json!({})));
            }
            start - end + 1
        }
        _ => return Err(invalid("minute_range", json!({}))),
    };
    let limit = request.limit.unwrap_or(10_000);
    if limit <= 0 {
        return Err(invalid("limit", json!({})));
    }
    let cells = cells(property, now, minutes);
    let rows = grid(
        &dimensions,
        &metrics,
        request.dimension_filter.as_ref(),
        false,
        cells,
    )?;
    let total = rows.len();
    let values = |values: Vec<String>| {
        values
            .into_iter()
            .map(|v| json!({"value": v}))
            .collect::<Vec<_>>()
    };
    let page: Vec<Value> = rows
        .into_iter()
        .take(usize::try_from(limit.min(MAX_ROWS)).unwrap_or(usize::MAX))
        .map(|(d, m)| json!({"dimensionValues": values(d), "metricValues": values(m)}))
        .collect();
    Ok(proto3(json!({
        "dimensionHeaders": dimensions.iter().map(|name| json!({"name": name})).collect::<Vec<_>>(),
        "metricHeaders": metrics.iter().map(|(name, kind)| json!({"name": name, "type": kind})).collect::<Vec<_>>(),
        "rows": page,
        "rowCount": total,
        "propertyQuota": request.return_property_quota.unwrap_or(false).then(|| SCHEMA.at("/realtime/quota").clone()),
        "kind": "analyticsData#runRealtimeReport",
    })))
}

/// GA4's words for a dimension of the Data API's schema that realtime lacks.
fn realtime_dimension(err: InvalidArgument, request: &RunRealtimeReportRequest) -> InvalidArgument {
    let outside = request
        .dimensions
        .iter()
        .find(|d| !listed("/realtime/dimensions", &d.name) && listed("/dimensions", &d.name));
    match outside {
        Some(dimension) => invalid("realtime_dimension", json!({"name": dimension.name})),
        None => err,
    }
}

/// Today's cells scaled to `minutes` of traffic, with noise of the day;
/// `activeUsers` of a window counts the day's users seen in it.
fn cells(
    property: &str,
    now: DateTime<Utc>,
    minutes: i32,
) -> Vec<(std::collections::BTreeMap<String, String>, Shares)> {
    let today = now.date_naive();
    let day = today.to_string();
    let mut cells = Vec::new();
    for country in 0..SCHEMA.list("/countries").len() {
        for channel in 0..SCHEMA.list("/channels").len() {
            let key = [country.to_string(), channel.to_string()];
            let noise =
                0.8 + 0.4 * data::unit_interval(&[property, &day, "realtime", &key[0], &key[1]]);
            // A day's traffic over 1,440 minutes; users stay active across several.
            let scale = f64::from(minutes) / 1_440.0 * noise;
            let counts: Shares = data::cell(property, today, country, channel)
                .into_iter()
                .map(|(metric, count)| {
                    let users = if metric == "activeUsers" { 6.0 } else { 1.0 };
                    (metric, count as f64 * scale * users)
                })
                .collect();
            cells.push((base(None, country, channel), counts));
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap()
    }

    fn answer(body: Value) -> Result<Value, InvalidArgument> {
        run(body.to_string().as_bytes(), "123456789", now())
    }

    #[test]
    fn the_last_half_hour_by_country_device_and_screen() {
        let report = answer(json!({
            "dimensions": [{"name": "country"}, {"name": "deviceCategory"}, {"name": "unifiedScreenName"}],
            "metrics": [{"name": "activeUsers"}, {"name": "eventCount"}],
            "limit": "100000", "returnPropertyQuota": true
        }))
        .unwrap();
        assert_eq!(report["kind"], "analyticsData#runRealtimeReport");
        let rows = report["rows"].as_array().unwrap();
        assert!(!rows.is_empty());
        assert_eq!(report["rowCount"], rows.len());
        assert_eq!(rows[0]["dimensionValues"].as_array().unwrap().len(), 3);
        assert!(report.get("metadata").is_none());
        // The same day reads the same; rows are ordered by their dimensions.
        assert_eq!(
            answer(
                json!({"metrics": [{"name": "activeUsers"}], "dimensions": [{"name": "country"}]})
            )
            .unwrap(),
            answer(
                json!({"metrics": [{"name": "activeUsers"}], "dimensions": [{"name": "country"}]})
            )
            .unwrap()
        );
    }

    #[test]
    fn realtime_has_its_own_schema() {
        let err =
            answer(json!({"dimensions": [{"name": "date"}], "metrics": [{"name": "activeUsers"}]}))
                .unwrap_err();
        assert!(
            err.0.contains("not a valid dimension for realtime"),
            "{}",
            err.0
        );
        let err =
            answer(json!({"metrics": [{"name": "activeUsers"}], "offset": "10"})).unwrap_err();
        assert!(err.0.contains("Unknown name \"offset\""), "{}", err.0);
        let err = answer(json!({"metrics": [{"name": "activeUsers"}],
            "minuteRanges": [{"startMinutesAgo": 45}]}))
        .unwrap_err();
        assert!(err.0.contains("minute range"), "{}", err.0);
        assert!(
            answer(json!({"metrics": [{"name": "activeUsers"}],
            "minuteRanges": [{"startMinutesAgo": 4, "endMinutesAgo": 0}]}))
            .is_ok()
        );
    }
}
