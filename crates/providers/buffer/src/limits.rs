//! The `daily_posting_limits` stream: Buffer's `dailyPostingLimits` per channel and
//! day — posts sent and scheduled on the day, the network's daily cap — as records
//! and KPI points (`posts_sent` a sum, `posts_scheduled` and `daily_posting_limit`
//! gauges; an unlimited channel has no limit point).
//!
//! A page is one organization and up to [`DAYS_PER_REQUEST`] days, asked in one
//! request (one aliased field per day), since Buffer's allowance is counted in
//! requests. A first sync reads the lookback period; a later pass re-reads from
//! yesterday (whose figures were still moving when the last pass read them) through
//! today. The stored [`Cursor`] keeps the pass's first day and, within a pass, the
//! organizations, the current one's channels and the next day to read.

use chrono::{Duration as Span, NaiveDate};
use junction_core::{AdapterError, Connection, KpiPoint, Page, ReadRequest, Record};
use junction_toolkit::{Client, cursor, data, graphql};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    account,
    api::ENDPOINT,
    ops,
    spec::{
        CHANNEL_FILTER, DAILY_POSTING_LIMIT, LOOKBACK, POSTING_LIMITS, POSTS_SCHEDULED, POSTS_SENT,
    },
};

/// Days asked in one request.
pub(crate) const DAYS_PER_REQUEST: i64 = 7;

/// The stored cursor of `daily_posting_limits`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    /// The pass's first day.
    from: NaiveDate,
    /// The organizations of the pass; `None` between passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    organizations: Option<Vec<String>>,
    #[serde(default)]
    organization: usize,
    /// The current organization's channels, once read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    channels: Option<Vec<String>>,
    /// The next day to read of the current organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    day: Option<NaiveDate>,
}

/// Reads one page of `daily_posting_limits`.
pub(crate) async fn read(
    client: &Client<'_>,
    conn: &Connection,
    request: &ReadRequest,
) -> Result<Page, AdapterError> {
    let today = client.context().now().date_naive();
    let wanted = CHANNEL_FILTER.read(conn)?;
    let mut at = match cursor::read::<Cursor>(request.cursor.as_ref(), POSTING_LIMITS)? {
        Some(at) => at,
        None => Cursor {
            from: today - Span::days(LOOKBACK.read(conn)? - 1),
            organizations: None,
            organization: 0,
            channels: None,
            day: None,
        },
    };
    let organizations = match at.organizations.take() {
        Some(organizations) => organizations,
        None => account::ids(&account::organizations(client, conn).await?),
    };
    let mut records = Vec::new();
    let mut kpis = Vec::new();
    // Organizations without channels (or none of the filter's) are passed over here.
    while let Some(organization) = organizations.get(at.organization) {
        let channels = match at.channels.take() {
            Some(channels) => channels,
            None => {
                let listed = account::channels(client, organization).await?;
                listed
                    .iter()
                    .filter_map(|channel| channel.get("id").and_then(Value::as_str))
                    .filter(|id| wanted.is_empty() || wanted.iter().any(|w| w == id))
                    .map(str::to_owned)
                    .collect()
            }
        };
        let first = at.day.unwrap_or(at.from).max(at.from);
        if channels.is_empty() || first > today {
            (at.organization, at.day) = (at.organization + 1, None);
            continue;
        }
        let last = (first + Span::days(DAYS_PER_REQUEST - 1)).min(today);
        let days: Vec<NaiveDate> = first.iter_days().take_while(|day| *day <= last).collect();
        let (page_records, page_kpis) = fetch(client, &channels, &days).await?;
        records = page_records;
        kpis = page_kpis;
        if last < today {
            (at.channels, at.day) = (Some(channels), Some(last + Span::days(1)));
        } else {
            (at.organization, at.day) = (at.organization + 1, None);
        }
        break;
    }
    if at.organization >= organizations.len() {
        let next = Cursor {
            from: (today - Span::days(1)).max(at.from.min(today)),
            organizations: None,
            organization: 0,
            channels: None,
            day: None,
        };
        return cursor::page(records, kpis, &next, false);
    }
    at.organizations = Some(organizations);
    cursor::page(records, kpis, &at, true)
}

/// The figures of `channels` (of one organization) on `days`, in one request.
async fn fetch(
    client: &Client<'_>,
    channels: &[String],
    days: &[NaiveDate],
) -> Result<(Vec<Record>, Vec<KpiPoint>), AdapterError> {
    let midnights: Vec<String> = days
        .iter()
        .map(|day| format!("{day}T00:00:00.000Z"))
        .collect();
    let (document, variables) = ops::daily_posting_limits(channels, &midnights);
    let data = graphql::execute(client, ENDPOINT, &document, variables).await?;
    let mut records = Vec::new();
    let mut kpis = Vec::new();
    for (i, day) in days.iter().enumerate() {
        let Some(statuses) = data.get(format!("d{i}")).and_then(Value::as_array) else {
            return Err(AdapterError::unavailable(
                "malformed response body: no `dailyPostingLimits` list for a day",
            ));
        };
        for status in statuses {
            let fields = data::Fields::new(status, "Buffer sent a daily posting limit");
            let channel = fields.text("channelId")?;
            let sent = fields.number("sent")?;
            let scheduled = fields.number("scheduled")?;
            let limit = fields.number("limit")?;
            kpis.extend(data::day_points(
                *day,
                &[("channel".to_owned(), channel.clone())].into(),
                [
                    (POSTS_SENT, sent),
                    (POSTS_SCHEDULED, scheduled),
                    (DAILY_POSTING_LIMIT, limit),
                ],
            ));
            let mut object = status.clone();
            object["date"] = json!(day.to_string());
            records.push(Record {
                external_id: format!("{channel}:{day}"),
                data: object,
                modified_at: None,
            });
        }
    }
    Ok((records, kpis))
}
