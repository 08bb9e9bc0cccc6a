//! The Query API streams: `insights`, `segmentation`, `funnels` and `retention`.
//!
//! Each reads the reports the connection's settings name (bookmark ids, event names,
//! funnel ids; retention is one report) one per page, over a window of days: the
//! lookback period on a first sync, then from [`REREAD_DAYS`] before the previous
//! window's end through today, since Mixpanel still counts late events into recent
//! days (records and points upsert, so a re-read changes values rather than adding
//! rows). The stored cursor is a [`Cursor`]: the window and the position of the
//! next report in the configured list.
//!
//! Every call counts against the project's 60 queries an hour, which is why one
//! page is one report.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use http::Method;
use junction_core::{AdapterError, Connection, KpiPoint, Page, ReadRequest, Record};
use junction_toolkit::{
    Client, PageToken,
    cursor::{self, WindowCursor, WindowRead},
    data,
    report::id_part,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::spec::{
    BOOKMARK_IDS, EVENT_COUNT, EVENT_NAMES, FUNNEL_COMPLETED, FUNNEL_ENTERED, FUNNEL_IDS,
    FUNNEL_STEP_USERS, FUNNELS, INSIGHTS, INSIGHTS_VALUE, LOOKBACK, PROJECT_ID, RETAINED_USERS,
    RETENTION, RETENTION_BORN_EVENT, RETENTION_COHORT_USERS, RETENTION_DAYS,
    RETENTION_ELIGIBLE_USERS, RETENTION_EVENT, SEGMENTATION,
};

/// Days a window re-reads before the previous one's end.
pub(crate) const REREAD_DAYS: i64 = 2;

/// The stored cursor of a Query API stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    /// The window's first day.
    start: NaiveDate,
    /// Its last day, while the window's reports are being read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end: Option<NaiveDate>,
    /// The position of the next report in the configured list.
    #[serde(default)]
    next: u64,
}

impl WindowCursor for Cursor {
    fn window(&self) -> (NaiveDate, Option<NaiveDate>, PageToken) {
        (self.start, self.end, PageToken::Offset(self.next))
    }

    fn at(start: NaiveDate, end: Option<NaiveDate>, page: PageToken) -> Self {
        let next = match page {
            PageToken::Offset(next) => next,
            _ => 0,
        };
        Self { start, end, next }
    }
}

/// One report of a stream: what the connection names, read over `days`.
struct Report<'a> {
    client: &'a Client<'a>,
    project: String,
    from: String,
    to: String,
}

impl Report<'_> {
    /// `GET path` with the project, the window and `query`.
    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, AdapterError> {
        let request = self
            .client
            .request(Method::GET, path)?
            .query(&[("project_id", self.project.as_str())])
            .query(query);
        self.client.json(request).await
    }
}

/// Reads one page (one report) of the Query API stream `stream`.
pub(crate) async fn read(
    client: &Client<'_>,
    conn: &Connection,
    request: &ReadRequest,
    stream: &str,
) -> Result<Page, AdapterError> {
    let today = client.context().now().date_naive();
    let lookback = LOOKBACK.read_u32(conn)?;
    let plan = WindowRead::plan::<Cursor>(request.cursor.as_ref(), stream, today, lookback)?;
    let items = match stream {
        INSIGHTS => BOOKMARK_IDS.read(conn)?,
        SEGMENTATION => EVENT_NAMES.read(conn)?,
        FUNNELS => FUNNEL_IDS.read(conn)?,
        // Retention is one report.
        _ => vec![String::new()],
    };
    let index = match plan.page {
        PageToken::Offset(index) => usize::try_from(index).unwrap_or(usize::MAX),
        _ => 0,
    };
    let next_start = plan.days.reread_from(REREAD_DAYS);
    // A list that shrank since the cursor was written ends the window here.
    let Some(item) = items.get(index) else {
        let (next, more) = plan.advance::<Cursor>(None, next_start);
        return cursor::page(Vec::new(), Vec::new(), &next, more);
    };
    let report = Report {
        client,
        project: PROJECT_ID.require(conn)?,
        from: plan.days.start.format("%Y-%m-%d").to_string(),
        to: plan.days.end.format("%Y-%m-%d").to_string(),
    };
    let (records, kpis) = match stream {
        INSIGHTS => insights(&report, item).await?,
        SEGMENTATION => segmentation(&report, item).await?,
        FUNNELS => funnel(&report, item).await?,
        RETENTION => retention(&report, conn).await?,
        other => {
            return Err(AdapterError::invalid_field(
                "stream",
                format!("no reader for `{other}`"),
            ));
        }
    };
    let following = (index + 1 < items.len()).then(|| PageToken::Offset(index as u64 + 1));
    let (next, more) = plan.advance::<Cursor>(following, next_start);
    cursor::page(records, kpis, &next, more)
}

/// The day of a Mixpanel date key: `2024-01-31`, or the day part of
/// `2020-08-31T00:00:00-07:00` (the project's own day, as Mixpanel buckets it).
fn day_of(key: &str, what: &str) -> Result<NaiveDate, AdapterError> {
    key.get(..10)
        .and_then(|day| NaiveDate::parse_from_str(day, "%Y-%m-%d").ok())
        .ok_or_else(|| {
            AdapterError::unavailable(format!(
                "Mixpanel sent {what} with a date key that is not a date"
            ))
        })
}

/// `data` as an object, or a malformed answer naming `what`.
fn object<'v>(
    value: Option<&'v Value>,
    what: &str,
) -> Result<&'v Map<String, Value>, AdapterError> {
    value.and_then(Value::as_object).ok_or_else(|| {
        AdapterError::unavailable(format!("malformed response body: no {what} object"))
    })
}

/// One saved Insights report: `GET insights?bookmark_id`. The record is the report;
/// each number of its `series` (nested by the keys `headers` names: the series,
/// then any breakdown segments, then the date) is a point of the gauge
/// `insights_value`.
async fn insights(
    report: &Report<'_>,
    bookmark: &str,
) -> Result<(Vec<Record>, Vec<KpiPoint>), AdapterError> {
    let body = report.get("insights", &[("bookmark_id", bookmark)]).await?;
    let series = object(body.get("series"), "insights series")?;
    let mut kpis = Vec::new();
    for (name, values) in series {
        let mut path = Vec::new();
        walk_series(bookmark, name, values, &mut path, &mut kpis)?;
    }
    let mut data = body.clone();
    if let Value::Object(map) = &mut data {
        map.insert("bookmark_id".into(), json!(bookmark));
    }
    let record = Record {
        external_id: bookmark.to_owned(),
        data,
        modified_at: body
            .get("computed_at")
            .and_then(Value::as_str)
            .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
            .map(|at| at.to_utc()),
    };
    Ok((vec![record], kpis))
}

/// The points of one series: numbers under date keys, any objects in between
/// being breakdown segments (joined with ` / ` into the `segment` dimension).
fn walk_series(
    bookmark: &str,
    series: &str,
    value: &Value,
    path: &mut Vec<String>,
    kpis: &mut Vec<KpiPoint>,
) -> Result<(), AdapterError> {
    let Some(map) = value.as_object() else {
        return Ok(());
    };
    for (key, inner) in map {
        match (data::number(inner), inner.is_object()) {
            (Some(number), _) => {
                let mut point =
                    KpiPoint::total(INSIGHTS_VALUE, day_of(key, "an insights series")?, number)
                        .with_dimension("bookmark_id", bookmark)
                        .with_dimension("series", series);
                if !path.is_empty() {
                    point = point.with_dimension("segment", path.join(" / "));
                }
                kpis.push(point);
            }
            (None, true) => {
                path.push(key.clone());
                walk_series(bookmark, series, inner, path, kpis)?;
                path.pop();
            }
            // `null` for a bucket without a value: no point (not zero).
            (None, false) => {}
        }
    }
    Ok(())
}

/// One event's daily counts: `GET segmentation?event&from_date&to_date&unit=day`.
async fn segmentation(
    report: &Report<'_>,
    event: &str,
) -> Result<(Vec<Record>, Vec<KpiPoint>), AdapterError> {
    let query = [
        ("event", event),
        ("from_date", report.from.as_str()),
        ("to_date", report.to.as_str()),
        ("unit", "day"),
        ("type", "general"),
    ];
    let body = report.get("segmentation", &query).await?;
    let values = object(body.pointer("/data/values"), "segmentation values")?;
    let mut records = Vec::new();
    let mut kpis = Vec::new();
    // Mixpanel answers under the event's name; an event never tracked has none.
    for (day, count) in values
        .get(event)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let date = day_of(day, "a segmentation count")?;
        let Some(count) = data::number(count) else {
            continue;
        };
        records.push(Record {
            external_id: format!("{}|{date}", id_part(event)),
            data: json!({"event": event, "date": date, "count": count}),
            modified_at: None,
        });
        kpis.push(KpiPoint::total(EVENT_COUNT, date, count).with_dimension("event", event));
    }
    Ok((records, kpis))
}

/// One saved funnel by entry day: `GET funnels?funnel_id&from_date&to_date&unit=day`.
async fn funnel(
    report: &Report<'_>,
    funnel_id: &str,
) -> Result<(Vec<Record>, Vec<KpiPoint>), AdapterError> {
    let query = [
        ("funnel_id", funnel_id),
        ("from_date", report.from.as_str()),
        ("to_date", report.to.as_str()),
        ("unit", "day"),
    ];
    let body = report.get("funnels", &query).await?;
    let days = object(body.get("data"), "funnel data")?;
    let mut records = Vec::new();
    let mut kpis = Vec::new();
    for (day, figures) in days {
        let date = day_of(day, "a funnel")?;
        let fields = data::Fields::new(figures, "Mixpanel sent a funnel day");
        let steps = fields.list("steps")?.unwrap_or_default();
        let by_funnel = BTreeMap::from([("funnel_id".to_owned(), funnel_id.to_owned())]);
        let analysis = figures.get("analysis");
        let entered = analysis
            .and_then(|a| a.get("starting_amount"))
            .and_then(data::number)
            .or_else(|| {
                steps
                    .first()
                    .and_then(|s| s.get("count"))
                    .and_then(data::number)
            });
        let completed = analysis
            .and_then(|a| a.get("completion"))
            .and_then(data::number)
            .or_else(|| {
                steps
                    .last()
                    .and_then(|s| s.get("count"))
                    .and_then(data::number)
            });
        kpis.extend(data::day_points(
            date,
            &by_funnel,
            [(FUNNEL_ENTERED, entered), (FUNNEL_COMPLETED, completed)],
        ));
        for (index, step) in steps.iter().enumerate() {
            let step_fields = data::Fields::new(step, "Mixpanel sent a funnel step");
            let Some(count) = step_fields.number("count")? else {
                continue;
            };
            let label = step
                .get("step_label")
                .or_else(|| step.get("event"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            kpis.push(
                KpiPoint::total(FUNNEL_STEP_USERS, date, count)
                    .with_dimension("funnel_id", funnel_id)
                    .with_dimension("step", index.to_string())
                    .with_dimension("step_label", label),
            );
        }
        records.push(Record {
            external_id: format!("{funnel_id}|{date}"),
            data: json!({
                "funnel_id": funnel_id,
                "date": date,
                "steps": steps,
                "analysis": analysis,
            }),
            modified_at: None,
        });
    }
    Ok((records, kpis))
}

/// Daily retention cohorts: `GET retention?from_date&to_date&unit=day&interval_count`,
/// birth retention of the configured first event, else recurring retention.
///
/// For each cohort day: its size (`first`) as `retention_cohort_users`; for each
/// day `period` after it that Mixpanel measured (the entries of `counts`), the
/// users who came back as `retained_users` and the cohort's size as
/// `retention_eligible_users`, both by `period`. Their ratio, `retention_rate`,
/// over any days is Mixpanel's cohort-weighted retention for that period.
async fn retention(
    report: &Report<'_>,
    conn: &Connection,
) -> Result<(Vec<Record>, Vec<KpiPoint>), AdapterError> {
    let born = RETENTION_BORN_EVENT.read(conn)?;
    let event = RETENTION_EVENT.read(conn)?;
    let intervals = RETENTION_DAYS.read(conn)?.to_string();
    let mut query = vec![
        ("from_date", report.from.as_str()),
        ("to_date", report.to.as_str()),
        ("unit", "day"),
        ("interval_count", intervals.as_str()),
    ];
    match &born {
        Some(born) => query.extend([("retention_type", "birth"), ("born_event", born.as_str())]),
        None => query.push(("retention_type", "compounded")),
    }
    if let Some(event) = &event {
        query.push(("event", event.as_str()));
    }
    let body = report.get("retention", &query).await?;
    let cohorts = object(Some(&body), "retention")?;
    let mut records = Vec::new();
    let mut kpis = Vec::new();
    for (day, cohort) in cohorts {
        let date = day_of(day, "a retention cohort")?;
        let fields = data::Fields::new(cohort, "Mixpanel sent a retention cohort");
        let first = fields.number("first")?;
        let counts = fields.list("counts")?.unwrap_or_default();
        let none = BTreeMap::new();
        kpis.extend(data::day_points(
            date,
            &none,
            [(RETENTION_COHORT_USERS, first)],
        ));
        for (period, count) in counts.iter().enumerate() {
            let by_period = BTreeMap::from([("period".to_owned(), period.to_string())]);
            kpis.extend(data::day_points(
                date,
                &by_period,
                [
                    (RETAINED_USERS, data::number(count)),
                    (RETENTION_ELIGIBLE_USERS, first),
                ],
            ));
        }
        records.push(Record {
            external_id: date.to_string(),
            data: json!({
                "date": date,
                "first": first,
                "counts": counts,
                "retention_type": if born.is_some() { "birth" } else { "compounded" },
                "born_event": born,
                "event": event,
            }),
            modified_at: None,
        });
    }
    Ok((records, kpis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insights_series_become_points_per_segment_and_bucket() {
        let series = json!({
            "US": {"2020-08-31T00:00:00-07:00": 9852, "2020-09-07T00:00:00-07:00": null},
            "2020-08-24T00:00:00-07:00": 4
        });
        let mut kpis = Vec::new();
        walk_series("12", "Logged in", &series, &mut Vec::new(), &mut kpis).unwrap();
        assert_eq!(kpis.len(), 2);
        let segmented = kpis.iter().find(|p| p.value == 9852.0).unwrap();
        assert_eq!(segmented.dimensions["segment"], "US");
        assert_eq!(segmented.date.to_string(), "2020-08-31");
        let plain = kpis.iter().find(|p| p.value == 4.0).unwrap();
        assert!(!plain.dimensions.contains_key("segment"));
        assert_eq!(plain.dimensions["series"], "Logged in");
    }

    #[test]
    fn date_keys_must_be_dates() {
        assert!(day_of("2024-02-30", "x").is_err());
        assert_eq!(day_of("2024-02-03", "x").unwrap().to_string(), "2024-02-03");
    }
}
