//! Reading the three streams: `emails` (`GET /emails`), `domains` (`GET /domains`) and
//! `email_metrics` (`GET /emails/metrics`).
//!
//! Resend's lists are newest first and page with `limit` and `after` (the id of the
//! last item of the previous page; it is excluded from the next page). Cursors:
//!
//! - `emails`: `{"horizon", "after"}` while paging, where `horizon` is the oldest
//!   creation time the pass reads; a pass ends at the end of the list or at the first
//!   email older than the horizon, and leaves `{"horizon": now - 3 days}` so the next
//!   sync re-reads recent emails, whose status still moves (late bounces, complaints).
//! - `domains`: `{"after"}` while paging; a pass reads every domain and leaves `{}`.
//! - `email_metrics`: `{"start": "YYYY-MM-DD"}`. One request covers the days from
//!   `start` to now; the next sync starts seven days back, since Resend keeps counting
//!   bounces and complaints into the day the email was sent.

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use junction_core::{AdapterError, Connection, Context, KpiPoint, Page, Record};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::{
    api,
    spec::{self, DEFAULT_LOOKBACK_DAYS, MAX_LOOKBACK_DAYS, METRICS},
    wire::{self, List, MetricsResponse},
};

/// Days an `emails` pass re-reads behind the current time.
pub(crate) const EMAIL_REREAD_DAYS: i64 = 3;

/// Days an `email_metrics` read re-reads behind today.
pub(crate) const METRICS_REREAD_DAYS: i64 = 7;

/// The page size when the request does not ask for one (Resend's maximum).
const DEFAULT_PAGE_SIZE: u32 = 100;

/// Resend's largest page.
const MAX_PAGE_SIZE: u32 = 100;

/// The page size to ask Resend for: the wish, clamped to 1..=100.
pub(crate) fn page_size(wish: Option<u32>) -> u32 {
    wish.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE)
}

/// How many days back a first sync reads (`lookback_days`, default 30).
pub(crate) fn lookback_days(conn: &Connection) -> Result<u32, AdapterError> {
    let days = match conn.config.get("lookback_days") {
        None | Some(Value::Null) => return Ok(DEFAULT_LOOKBACK_DAYS),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    days.and_then(|d| u32::try_from(d).ok())
        .filter(|d| (1..=MAX_LOOKBACK_DAYS).contains(d))
        .ok_or_else(|| {
            AdapterError::invalid_field(
                "lookback_days",
                format!("must be a whole number of days from 1 to {MAX_LOOKBACK_DAYS}"),
            )
        })
}

/// The cursor of a paged list stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct ListCursor {
    /// The id of the last item read; the next page starts after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
    /// `emails` only: the oldest creation time this pass reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    horizon: Option<DateTime<Utc>>,
}

/// The cursor of `email_metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct MetricsCursor {
    start: NaiveDate,
}

fn parse_cursor<T: serde::de::DeserializeOwned + Default>(
    cursor: Option<&Value>,
) -> Result<T, AdapterError> {
    match cursor {
        None | Some(Value::Null) => Ok(T::default()),
        Some(value) => serde_json::from_value(value.clone())
            .map_err(|_| AdapterError::invalid_field("cursor", "is not a cursor of this stream")),
    }
}

fn to_value<T: Serialize>(cursor: &T) -> Result<Value, AdapterError> {
    serde_json::to_value(cursor)
        .map_err(|err| AdapterError::invalid(format!("cursor not serializable: {err}")))
}

/// Fetches one page of a list endpoint.
async fn list_page(
    ctx: &Context,
    conn: &Connection,
    path: &str,
    limit: u32,
    after: Option<&str>,
) -> Result<List, AdapterError> {
    let mut query = vec![("limit", limit.to_string())];
    if let Some(after) = after {
        query.push(("after", after.to_owned()));
    }
    let request = api::request(ctx, conn, reqwest::Method::GET, path)?.query(&query);
    api::call(ctx, spec::spec(), request).await
}

/// The record of a list item: the object as Resend returned it, without message
/// bodies (large, and not needed to follow delivery).
fn record_of(mut item: Value, stream: &str) -> Result<Record, AdapterError> {
    let Some(id) = wire::id_of(&item).map(str::to_owned) else {
        return Err(AdapterError::unavailable(format!(
            "malformed response body: a `{stream}` item has no id"
        )));
    };
    if let Some(map) = item.as_object_mut() {
        map.remove("html");
        map.remove("text");
    }
    Ok(Record {
        external_id: id,
        data: item,
        modified_at: None,
    })
}

/// Reads one page of `emails`.
pub(crate) async fn read_emails(
    ctx: &Context,
    conn: &Connection,
    cursor: Option<&Value>,
    page_size: u32,
) -> Result<Page, AdapterError> {
    let cursor: ListCursor = parse_cursor(cursor)?;
    let now = ctx.now();
    let horizon = match cursor.horizon {
        Some(horizon) => horizon,
        None => now - Duration::days(i64::from(lookback_days(conn)?)),
    };
    let list = list_page(ctx, conn, "emails", page_size, cursor.after.as_deref()).await?;
    let last_id = list.data.last().and_then(wire::id_of).map(str::to_owned);
    let mut records = Vec::with_capacity(list.data.len());
    let mut passed_horizon = false;
    for item in list.data {
        // An email without a readable creation time is kept: dropping it would lose
        // data, and the list's order still bounds the pass.
        if wire::created_at_of(&item).is_some_and(|created| created < horizon) {
            passed_horizon = true;
            continue;
        }
        records.push(record_of(item, spec::EMAILS)?);
    }
    let (next, has_more) = match last_id {
        Some(after) if list.has_more && !passed_horizon => (
            ListCursor {
                after: Some(after),
                horizon: Some(horizon),
            },
            true,
        ),
        _ => {
            let reread = Duration::days(EMAIL_REREAD_DAYS.min(i64::from(lookback_days(conn)?)));
            (
                ListCursor {
                    after: None,
                    horizon: Some(now - reread),
                },
                false,
            )
        }
    };
    Ok(Page {
        records,
        kpis: Vec::new(),
        next_cursor: Some(to_value(&next)?),
        has_more,
    })
}

/// Reads one page of `domains`.
pub(crate) async fn read_domains(
    ctx: &Context,
    conn: &Connection,
    cursor: Option<&Value>,
    page_size: u32,
) -> Result<Page, AdapterError> {
    let cursor: ListCursor = parse_cursor(cursor)?;
    let list = list_page(ctx, conn, "domains", page_size, cursor.after.as_deref()).await?;
    let last_id = list.data.last().and_then(wire::id_of).map(str::to_owned);
    let records = list
        .data
        .into_iter()
        .map(|item| record_of(item, spec::DOMAINS))
        .collect::<Result<Vec<_>, _>>()?;
    let (next, has_more) = match last_id {
        Some(after) if list.has_more => (
            ListCursor {
                after: Some(after),
                horizon: None,
            },
            true,
        ),
        // The whole list was read: the next sync reads it again from the start.
        _ => (ListCursor::default(), false),
    };
    Ok(Page {
        records,
        kpis: Vec::new(),
        next_cursor: Some(to_value(&next)?),
        has_more,
    })
}

/// Reads `email_metrics` from the cursor's start day to now, in one request.
pub(crate) async fn read_email_metrics(
    ctx: &Context,
    conn: &Connection,
    cursor: Option<&Value>,
) -> Result<Page, AdapterError> {
    let now = ctx.now();
    let today = now.date_naive();
    let start = match cursor {
        None | Some(Value::Null) => today - Duration::days(i64::from(lookback_days(conn)?) - 1),
        Some(value) => {
            serde_json::from_value::<MetricsCursor>(value.clone())
                .map_err(|_| {
                    AdapterError::invalid_field("cursor", "is not a cursor of this stream")
                })?
                .start
        }
    }
    .min(today);
    let metric_names: Vec<&str> = METRICS.iter().map(|(name, _)| *name).collect();
    let query = [
        ("start_date", start.format("%Y-%m-%d").to_string()),
        ("end_date", now.to_rfc3339_opts(SecondsFormat::Secs, true)),
        ("granularity", "daily".to_owned()),
        ("dimensions", "period".to_owned()),
        ("timezone", "UTC".to_owned()),
        ("metrics", metric_names.join(",")),
    ];
    let request = api::request(ctx, conn, reqwest::Method::GET, "emails/metrics")?.query(&query);
    let response: MetricsResponse = api::call(ctx, spec::spec(), request).await?;
    let (records, kpis) = map_metric_rows(&response.data, start, today)?;
    let next = MetricsCursor {
        start: (today - Duration::days(METRICS_REREAD_DAYS)).max(start),
    };
    Ok(Page {
        records,
        kpis,
        next_cursor: Some(to_value(&next)?),
        has_more: false,
    })
}

/// Turns metrics rows into one record per day and one KPI point per metric and day.
/// Rows outside `start..=end` (a bucket Resend started before the range) are left
/// out: they would hold a partial day. A metric Resend leaves out of a row is left
/// out of the KPIs rather than read as zero.
pub(crate) fn map_metric_rows(
    rows: &[Map<String, Value>],
    start: NaiveDate,
    end: NaiveDate,
) -> Result<(Vec<Record>, Vec<KpiPoint>), AdapterError> {
    let mut records = Vec::new();
    let mut kpis = Vec::new();
    for row in rows {
        let Some(date) = row
            .get("period")
            .and_then(Value::as_str)
            .and_then(wire::period_date)
        else {
            return Err(AdapterError::unavailable(
                "malformed response body: a metrics row has no readable `period`",
            ));
        };
        if date < start || date > end {
            continue;
        }
        let mut data = Map::new();
        data.insert("date".into(), json!(date.format("%Y-%m-%d").to_string()));
        for (name, kpi) in METRICS {
            let Some(value) = row.get(name) else { continue };
            let Some(number) = value.as_f64().filter(|n| n.is_finite()) else {
                return Err(AdapterError::unavailable(format!(
                    "malformed response body: metric `{name}` is not a number"
                )));
            };
            data.insert(name.into(), value.clone());
            kpis.push(KpiPoint::total(kpi, date, number));
        }
        records.push(Record {
            external_id: date.format("%Y-%m-%d").to_string(),
            data: Value::Object(data),
            modified_at: None,
        });
    }
    Ok((records, kpis))
}

#[cfg(test)]
mod tests {
    use super::*;
    use junction_core::{IntegrationId, WorkspaceId};

    fn conn(config: Value) -> Connection {
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
    fn lookback_days_are_checked() {
        assert_eq!(lookback_days(&conn(json!({}))), Ok(30));
        assert_eq!(lookback_days(&conn(json!({"lookback_days": 7}))), Ok(7));
        assert_eq!(
            lookback_days(&conn(json!({"lookback_days": " 90 "}))),
            Ok(90)
        );
        for bad in [json!(0), json!(3651), json!(-1), json!("soon"), json!(true)] {
            let err = lookback_days(&conn(json!({"lookback_days": bad}))).unwrap_err();
            assert!(
                matches!(&err, AdapterError::Invalid { field: Some(f), .. } if f == "lookback_days"),
                "{err:?}"
            );
        }
    }

    #[test]
    fn page_sizes_are_clamped() {
        assert_eq!(page_size(None), 100);
        assert_eq!(page_size(Some(0)), 1);
        assert_eq!(page_size(Some(25)), 25);
        assert_eq!(page_size(Some(1000)), 100);
    }

    #[test]
    fn metric_rows_become_records_and_kpis() {
        let rows: Vec<Map<String, Value>> = serde_json::from_value(json!([
            {"period": "2026-03-13T00:00:00.000Z", "sent": 10, "delivered": 9, "bounced": 1,
             "complained": 0, "opened": 4, "clicked": 2, "delivery_rate": 0.9},
            {"period": "2026-03-14T00:00:00.000Z", "sent": 3, "delivered": 3},
            {"period": "2026-03-01T00:00:00.000Z", "sent": 99}
        ]))
        .unwrap();
        let start = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        let end = NaiveDate::from_ymd_opt(2026, 3, 15).unwrap();
        let (records, kpis) = map_metric_rows(&rows, start, end).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].external_id, "2026-03-13");
        assert_eq!(
            records[0].data,
            json!({"date": "2026-03-13", "sent": 10, "delivered": 9, "bounced": 1,
                   "complained": 0, "opened": 4, "clicked": 2})
        );
        assert_eq!(kpis.len(), 8);
        let day = NaiveDate::from_ymd_opt(2026, 3, 14).unwrap();
        assert_eq!(kpis[6], KpiPoint::total("emails_sent", day, 3.0));
        assert_eq!(kpis[7], KpiPoint::total("emails_delivered", day, 3.0));
    }

    #[test]
    fn malformed_metric_rows_are_unavailable() {
        let start = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        for row in [
            json!({"sent": 1}),
            json!({"period": "2026-03-11", "sent": "many"}),
        ] {
            let rows = vec![row.as_object().cloned().unwrap()];
            assert!(matches!(
                map_metric_rows(&rows, start, start + Duration::days(3)),
                Err(AdapterError::Unavailable { .. })
            ));
        }
    }

    #[test]
    fn cursors_round_trip_and_bad_ones_are_invalid() {
        let cursor = ListCursor {
            after: Some("e1".into()),
            horizon: None,
        };
        let value = to_value(&cursor).unwrap();
        assert_eq!(value, json!({"after": "e1"}));
        assert_eq!(parse_cursor::<ListCursor>(Some(&value)).unwrap(), cursor);
        assert_eq!(
            parse_cursor::<ListCursor>(Some(&json!({}))).unwrap(),
            ListCursor::default()
        );
        assert!(matches!(
            parse_cursor::<ListCursor>(Some(&json!({"after": 5}))),
            Err(AdapterError::Invalid { .. })
        ));
    }
}
