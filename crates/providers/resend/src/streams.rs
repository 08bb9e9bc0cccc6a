//! Reading the three streams: `emails` (`GET /emails`), `domains` (`GET /domains`) and
//! `email_metrics` (`GET /emails/metrics`).
//!
//! Resend's lists are newest first and page with `limit` and `after` (the id of the
//! last item of the previous page; it is excluded from the next page), as [`PAGING`]
//! describes. Cursors:
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
use junction_core::{AdapterError, Connection, KpiPoint, Page, Record};
use junction_toolkit::{
    Client, CursorAt, More, OnStall, PageSize, PageToken, Paging, Style,
    cursor::{self, Window},
    data::Fields,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::{
    spec::{EMAIL_METRICS, EMAILS, LOOKBACK, METRICS},
    wire,
};

/// Days an `emails` pass re-reads behind the current time.
pub(crate) const EMAIL_REREAD_DAYS: i64 = 3;

/// Days an `email_metrics` read re-reads behind today.
pub(crate) const METRICS_REREAD_DAYS: i64 = 7;

/// How Resend's lists page: at most 100 items (the default too), `after` the last id
/// read, `has_more`. A page that says more follows without moving the cursor (an
/// empty one) ends the pass.
pub const PAGING: Paging = Paging {
    style: Style::Cursor {
        param: "after",
        at: CursorAt::LastItem("id"),
        more: More::Flag("/has_more"),
    },
    items: "/data",
    size_param: "limit",
    size: PageSize {
        default: 100,
        max: 100,
    },
    on_stall: OnStall::End,
};

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

/// The record of a list item: the object as Resend returned it, without message
/// bodies.
fn record_of(item: Value, stream: &str) -> Result<Record, AdapterError> {
    let what = format!("Resend sent a `{stream}` item");
    Ok(Record {
        external_id: Fields::new(&item, &what).text("id")?,
        data: wire::without_bodies(item),
        modified_at: None,
    })
}

/// Reads one page of `emails` or `domains` (each listed at its own name: `GET /emails`,
/// `GET /domains`).
pub(crate) async fn read_list(
    client: &Client<'_>,
    conn: &Connection,
    stream: &str,
    cursor: Option<&Value>,
    size: u32,
) -> Result<Page, AdapterError> {
    let cursor: ListCursor = cursor::read(cursor, stream)?.unwrap_or_default();
    let token = PageToken::from_cursor(cursor.after);
    let page = client.list_page(stream, &PAGING, &token, size).await?;
    let mut items = page.items;
    // After a whole list, the next sync reads it again from the start.
    let mut next = ListCursor {
        after: page.next.and_then(PageToken::into_cursor),
        horizon: None,
    };
    if stream == EMAILS {
        let lookback = LOOKBACK.read(conn)?;
        let now = client.context().now();
        let horizon = cursor.horizon.unwrap_or(now - Duration::days(lookback));
        // The list is newest first: an email older than the horizon ends the pass.
        // One without a readable creation time is kept: dropping it would lose data,
        // and the list's order still bounds the pass.
        let listed = items.len();
        items.retain(|item| wire::created_at_of(item).is_none_or(|at| at >= horizon));
        next.horizon = Some(horizon);
        if items.len() < listed || next.after.is_none() {
            let reread = Duration::days(EMAIL_REREAD_DAYS.min(lookback));
            next = ListCursor {
                after: None,
                horizon: Some(now - reread),
            };
        }
    }
    let records = items
        .into_iter()
        .map(|item| record_of(item, stream))
        .collect::<Result<_, _>>()?;
    let has_more = next.after.is_some();
    cursor::page(records, Vec::new(), &next, has_more)
}

/// Reads `email_metrics` from the cursor's start day to now, in one request.
pub(crate) async fn read_email_metrics(
    client: &Client<'_>,
    conn: &Connection,
    cursor: Option<&Value>,
) -> Result<Page, AdapterError> {
    let now = client.context().now();
    let today = now.date_naive();
    let days = match cursor::read::<MetricsCursor>(cursor, EMAIL_METRICS)? {
        Some(cursor) => Window::resume(cursor.start, None, today),
        // Today is the last of the lookback days.
        None => Window::lookback(today, LOOKBACK.read_u32(conn)? - 1),
    };
    let metric_names: Vec<&str> = METRICS.iter().map(|(name, _)| *name).collect();
    let query = [
        ("start_date", days.start.format("%Y-%m-%d").to_string()),
        ("end_date", now.to_rfc3339_opts(SecondsFormat::Secs, true)),
        ("granularity", "daily".to_owned()),
        ("dimensions", "period".to_owned()),
        ("timezone", "UTC".to_owned()),
        ("metrics", metric_names.join(",")),
    ];
    let response: Value = client.get("emails/metrics", &query).await?;
    let rows = Fields::new(&response, "Resend sent metrics").list("data")?;
    let (records, kpis) = map_metric_rows(rows.unwrap_or_default(), days.start, today)?;
    let next = MetricsCursor {
        start: days.reread_from(METRICS_REREAD_DAYS).max(days.start),
    };
    cursor::page(records, kpis, &next, false)
}

/// Turns metrics rows into one record per day and one KPI point per metric and day.
/// Rows outside `start..=end` (a bucket Resend started before the range) are left
/// out: they would hold a partial day. A metric Resend leaves out of a row is left
/// out of the KPIs rather than read as zero.
pub(crate) fn map_metric_rows(
    rows: &[Value],
    start: NaiveDate,
    end: NaiveDate,
) -> Result<(Vec<Record>, Vec<KpiPoint>), AdapterError> {
    let mut records = Vec::new();
    let mut kpis = Vec::new();
    for row in rows {
        let fields = Fields::new(row, "Resend sent a metrics row");
        let date = wire::period_date(&fields.text("period")?)
            .ok_or_else(|| fields.malformed("period", "is not a day"))?;
        if date < start || date > end {
            continue;
        }
        let day = date.format("%Y-%m-%d").to_string();
        let mut data = Map::from_iter([("date".to_owned(), json!(day))]);
        for (name, kpi) in METRICS {
            // Present means a number: null is as malformed as text.
            let Some(value) = row.get(name) else { continue };
            let number = value
                .as_f64()
                .filter(|n| n.is_finite())
                .ok_or_else(|| fields.malformed(name, "is not a number"))?;
            data.insert(name.into(), value.clone());
            kpis.push(KpiPoint::total(kpi, date, number));
        }
        records.push(Record {
            external_id: day,
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
        assert_eq!(LOOKBACK.read(&conn(json!({}))), Ok(30));
        assert_eq!(LOOKBACK.read(&conn(json!({"lookback_days": 7}))), Ok(7));
        assert_eq!(
            LOOKBACK.read(&conn(json!({"lookback_days": " 90 "}))),
            Ok(90)
        );
        for bad in [json!(0), json!(3651), json!(-1), json!("soon"), json!(true)] {
            let err = LOOKBACK
                .read(&conn(json!({"lookback_days": bad})))
                .unwrap_err();
            assert_eq!(
                err,
                AdapterError::invalid_field(
                    "lookback_days",
                    "must be a whole number of days from 1 to 3650"
                )
            );
        }
    }

    #[test]
    fn page_sizes_are_clamped() {
        assert_eq!(PAGING.size.pick(None), 100);
        assert_eq!(PAGING.size.pick(Some(0)), 1);
        assert_eq!(PAGING.size.pick(Some(25)), 25);
        assert_eq!(PAGING.size.pick(Some(1000)), 100);
    }

    #[test]
    fn cursors_round_trip_and_bad_ones_are_invalid() {
        let cursor = ListCursor {
            after: Some("e1".into()),
            horizon: None,
        };
        let value = cursor::write(&cursor).unwrap();
        assert_eq!(value, json!({"after": "e1"}));
        assert_eq!(
            cursor::read::<ListCursor>(Some(&value), EMAILS).unwrap(),
            Some(cursor)
        );
        assert_eq!(
            cursor::read::<ListCursor>(Some(&json!({})), EMAILS).unwrap(),
            Some(ListCursor::default())
        );
        assert!(matches!(
            cursor::read::<ListCursor>(Some(&json!({"after": 5})), EMAILS),
            Err(AdapterError::Invalid { field: Some(f), .. }) if f == "cursor"
        ));
    }

    #[test]
    fn metric_rows_become_records_and_kpis() {
        let rows: Vec<Value> = serde_json::from_value(json!([
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
            let rows = vec![row];
            assert!(matches!(
                map_metric_rows(&rows, start, start + Duration::days(3)),
                Err(AdapterError::Unavailable { .. })
            ));
        }
    }
}
