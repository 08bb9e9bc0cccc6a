//! Reading Kit's streams, one page per call, with the cursor each stream keeps.
//!
//! Kit's lists page with opaque cursors: `?after=<end_cursor>&per_page=n` until
//! `pagination.has_next_page` is false. The list streams keep that cursor while a
//! pass is under way and, at the end of a pass, what the next pass starts from:
//! nothing for the small lists read whole every time (tags, sequences, forms,
//! broadcasts), the `updated_after` day for subscribers, the `sent_after` day for
//! broadcast stats. `subscriber_growth` asks for Kit's growth stats one day at a time
//! and keeps the next day to read.
//!
//! KPI points are always whole-day values (points upsert, so a partial count would
//! overwrite a complete one): Kit's own per-day growth stats, the current subscriber
//! count of each tag, sequence and form dated by the sync day, and the stats of each
//! broadcast dated by its send day.

use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use junction_core::{AdapterError, Context, KpiPoint, Page, ReadRequest, Record};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Map, Value, json};

use crate::{
    client::KitClient,
    settings::Settings,
    spec::{
        BROADCAST_STATS, BROADCASTS, FORMS, KPI_BROADCAST_CLICK_RATE, KPI_BROADCAST_CLICKS,
        KPI_BROADCAST_OPEN_RATE, KPI_BROADCAST_OPENS, KPI_BROADCAST_RECIPIENTS,
        KPI_BROADCAST_UNSUBSCRIBE_RATE, KPI_BROADCAST_UNSUBSCRIBES, KPI_FORM_SUBSCRIBERS,
        KPI_NET_NEW_SUBSCRIBERS, KPI_NEW_SUBSCRIBERS, KPI_SEQUENCE_SUBSCRIBERS,
        KPI_TAG_SUBSCRIBERS, KPI_TOTAL_SUBSCRIBERS, KPI_UNSUBSCRIBES, SEQUENCES, SUBSCRIBER_GROWTH,
        SUBSCRIBERS, TAGS,
    },
    wire::{BroadcastStats, BroadcastStatsResponse, GrowthStats, GrowthStatsResponse, Pagination},
};

/// Kit's page size when none is asked for (the API's own default).
pub(crate) const DEFAULT_PAGE_SIZE: u32 = 500;

/// The most items Kit returns per page.
pub(crate) const MAX_PAGE_SIZE: u32 = 1000;

/// Broadcasts per `broadcast_stats` page when none is asked for. Each sent broadcast
/// costs one more request for its stats, so pages stay small enough to fit the
/// 120-requests-a-minute budget with room for other work.
pub(crate) const DEFAULT_STATS_PAGE_SIZE: u32 = 25;

/// The most broadcasts per `broadcast_stats` page.
pub(crate) const MAX_STATS_PAGE_SIZE: u32 = 50;

/// Days of growth stats per page when none is asked for (one request per day).
pub(crate) const DEFAULT_GROWTH_DAYS: u32 = 7;

/// The most days of growth stats per page.
pub(crate) const MAX_GROWTH_DAYS: u32 = 31;

/// How many days before a pass started the next `subscribers` pass asks for changes
/// from. `updated_after` takes a date (not a time) and Kit does not say whether it is
/// inclusive or in which time zone; a day of overlap makes the answer irrelevant, and
/// re-reading a subscriber only upserts it again.
pub(crate) const SUBSCRIBER_OVERLAP_DAYS: i64 = 1;

/// The growth stats of the last day read are partial (the day was not over) and the
/// account's day may run behind UTC, so each sync starts again this many days before
/// the last day it read.
pub(crate) const GROWTH_REREAD_DAYS: i64 = 1;

/// Opens and clicks keep arriving for weeks after a broadcast is sent; every pass after
/// the first refreshes the stats of broadcasts sent this many days before it started.
pub(crate) const STATS_REFRESH_DAYS: i64 = 30;

/// Reads one page of `request.stream`.
pub(crate) async fn read(
    ctx: &Context,
    client: &KitClient<'_>,
    settings: &Settings,
    request: &ReadRequest,
) -> Result<Page, AdapterError> {
    let cursor = request.cursor.as_ref();
    match request.stream.as_str() {
        SUBSCRIBERS => {
            read_subscribers(ctx, client, parse_cursor(cursor)?, request.page_size).await
        }
        SUBSCRIBER_GROWTH => {
            read_growth(
                ctx,
                client,
                settings,
                parse_cursor(cursor)?,
                request.page_size,
            )
            .await
        }
        TAGS => {
            read_counted_list(
                ctx,
                client,
                &TAG_LIST,
                parse_cursor(cursor)?,
                request.page_size,
            )
            .await
        }
        SEQUENCES => {
            read_counted_list(
                ctx,
                client,
                &SEQUENCE_LIST,
                parse_cursor(cursor)?,
                request.page_size,
            )
            .await
        }
        FORMS => {
            read_counted_list(
                ctx,
                client,
                &FORM_LIST,
                parse_cursor(cursor)?,
                request.page_size,
            )
            .await
        }
        BROADCASTS => {
            read_counted_list(
                ctx,
                client,
                &BROADCAST_LIST,
                parse_cursor(cursor)?,
                request.page_size,
            )
            .await
        }
        BROADCAST_STATS => {
            read_broadcast_stats(ctx, client, parse_cursor(cursor)?, request.page_size).await
        }
        other => Err(AdapterError::invalid_field(
            "stream",
            format!("Kit has no stream `{other}`"),
        )),
    }
}

/// A stored cursor of the stream being read; none (or null) starts from scratch.
fn parse_cursor<T: DeserializeOwned + Default>(value: Option<&Value>) -> Result<T, AdapterError> {
    match value {
        None | Some(Value::Null) => Ok(T::default()),
        Some(value) => serde_json::from_value(value.clone()).map_err(|_| {
            AdapterError::invalid_field("cursor", "is not a cursor of this Kit stream")
        }),
    }
}

fn to_cursor<T: Serialize>(cursor: &T) -> Result<Value, AdapterError> {
    serde_json::to_value(cursor)
        .map_err(|err| AdapterError::invalid(format!("cursor not serializable: {err}")))
}

/// The page size to ask for: the wish, clamped to what Kit allows.
pub(crate) fn clamp_page_size(wish: Option<u32>, default: u32, max: u32) -> u32 {
    wish.unwrap_or(default).clamp(1, max)
}

/// A body Kit would not send: a flaky proxy or a changed API. Retrying may help.
fn malformed(what: impl std::fmt::Display) -> AdapterError {
    AdapterError::unavailable(format!("malformed response body: {what}"))
}

/// One page of a Kit list: its items (objects with an integer `id`) and pagination.
struct ListPage {
    items: Vec<Map<String, Value>>,
    pagination: Pagination,
}

impl ListPage {
    /// Reads the list under `key` (`subscribers`, `tags`, ...) of a list response.
    fn from_body(mut body: Value, key: &str) -> Result<Self, AdapterError> {
        let pagination = body
            .get_mut("pagination")
            .map(Value::take)
            .ok_or_else(|| malformed("missing field `pagination`"))?;
        let pagination: Pagination = serde_json::from_value(pagination)
            .map_err(|err| malformed(format!("`pagination`: {}", describe(&err))))?;
        let Some(Value::Array(items)) = body.get_mut(key).map(Value::take) else {
            return Err(malformed(format!("missing list `{key}`")));
        };
        let items = items
            .into_iter()
            .map(|item| match item {
                Value::Object(object) if object.get("id").is_some_and(Value::is_i64) => Ok(object),
                _ => Err(malformed(format!("an item of `{key}` has no integer `id`"))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { items, pagination })
    }

    /// The cursor of the next page, when Kit says there is one. A "next page" without
    /// a new cursor would read the same page forever.
    fn next_after(&self, current: Option<&str>) -> Result<Option<String>, AdapterError> {
        if !self.pagination.has_next_page {
            return Ok(None);
        }
        match self.pagination.end_cursor.as_deref() {
            Some(end) if !end.is_empty() && Some(end) != current => Ok(Some(end.to_owned())),
            _ => Err(malformed(
                "Kit said another page follows but gave no new `end_cursor`",
            )),
        }
    }
}

/// What serde says went wrong, without quoting the body.
fn describe(err: &serde_json::Error) -> String {
    let text = err.to_string();
    // serde's messages quote values after "invalid type: string \"...\""; the kind of
    // problem is enough here.
    match text.split_once(": ") {
        Some((kind, _)) if kind.starts_with("invalid") => kind.to_owned(),
        _ => text,
    }
}

fn id_of(item: &Map<String, Value>) -> i64 {
    item.get("id").and_then(Value::as_i64).unwrap_or_default()
}

/// An RFC 3339 time in a Kit object (`created_at`, `send_at`, ...), when present.
pub(crate) fn time_of(item: &Map<String, Value>, field: &str) -> Option<DateTime<Utc>> {
    item.get(field)
        .and_then(Value::as_str)
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|time| time.with_timezone(&Utc))
}

fn record(item: Map<String, Value>, modified_field: Option<&str>) -> Record {
    let modified_at = modified_field.and_then(|field| time_of(&item, field));
    Record {
        external_id: id_of(&item).to_string(),
        data: Value::Object(item),
        modified_at,
    }
}

/// The cursor of a list read whole on every pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListCursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
}

/// A list stream read whole on every pass, with the KPI its items' `subscriber_count`
/// gives (tags, sequences, forms), if any.
struct CountedList {
    path: &'static str,
    key: &'static str,
    /// Extra query parameters.
    query: &'static [(&'static str, &'static str)],
    /// The KPI and the dimension naming the item.
    count_kpi: Option<(&'static str, &'static str)>,
    modified_field: Option<&'static str>,
}

const TAG_LIST: CountedList = CountedList {
    path: "v4/tags",
    key: "tags",
    query: &[],
    count_kpi: Some((KPI_TAG_SUBSCRIBERS, "tag_id")),
    modified_field: None,
};

const SEQUENCE_LIST: CountedList = CountedList {
    path: "v4/sequences",
    key: "sequences",
    query: &[],
    count_kpi: Some((KPI_SEQUENCE_SUBSCRIBERS, "sequence_id")),
    modified_field: Some("updated_at"),
};

/// Forms and landing pages, archived and trashed ones too: a form's subscribers stay
/// attributed to it after it is archived.
const FORM_LIST: CountedList = CountedList {
    path: "v4/forms",
    key: "forms",
    query: &[("status", "all")],
    count_kpi: Some((KPI_FORM_SUBSCRIBERS, "form_id")),
    modified_field: None,
};

const BROADCAST_LIST: CountedList = CountedList {
    path: "v4/broadcasts",
    key: "broadcasts",
    query: &[],
    count_kpi: None,
    modified_field: None,
};

async fn read_counted_list(
    ctx: &Context,
    client: &KitClient<'_>,
    list: &CountedList,
    cursor: ListCursor,
    page_size: Option<u32>,
) -> Result<Page, AdapterError> {
    let mut query: Vec<(&str, String)> = list
        .query
        .iter()
        .map(|(name, value)| (*name, (*value).to_owned()))
        .collect();
    query.push((
        "per_page",
        clamp_page_size(page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE).to_string(),
    ));
    if let Some(after) = &cursor.after {
        query.push(("after", after.clone()));
    }
    let body: Value = client.get(list.path, &query).await?;
    let page = ListPage::from_body(body, list.key)?;
    let next_after = page.next_after(cursor.after.as_deref())?;

    let today = ctx.now().date_naive();
    let mut kpis = Vec::new();
    if let Some((metric, dimension)) = list.count_kpi {
        for item in &page.items {
            // Kit includes the count in its list items; an item without one is left
            // out rather than counted as zero.
            if let Some(count) = item.get("subscriber_count").and_then(Value::as_u64) {
                kpis.push(
                    KpiPoint::total(metric, today, count as f64)
                        .with_dimension(dimension, id_of(item).to_string()),
                );
            }
        }
    }
    let records = page
        .items
        .into_iter()
        .map(|item| record(item, list.modified_field))
        .collect();
    let has_more = next_after.is_some();
    Ok(Page {
        records,
        kpis,
        next_cursor: Some(to_cursor(&ListCursor { after: next_after })?),
        has_more,
    })
}

/// The `subscribers` cursor: the page cursor of the pass under way, the day the pass
/// asks for changes from (none on the first, full pass) and the day it started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscribersCursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    updated_after: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pass_started: Option<NaiveDate>,
}

async fn read_subscribers(
    ctx: &Context,
    client: &KitClient<'_>,
    cursor: SubscribersCursor,
    page_size: Option<u32>,
) -> Result<Page, AdapterError> {
    let today = ctx.now().date_naive();
    let pass_started = match (&cursor.after, cursor.pass_started) {
        (Some(_), Some(started)) => started,
        _ => today,
    };
    // `status=all`: Kit lists only active subscribers by default, and unsubscribed,
    // bounced and complained ones are what a marketing team must not mail.
    let mut query = vec![
        ("status", "all".to_owned()),
        (
            "per_page",
            clamp_page_size(page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE).to_string(),
        ),
    ];
    if let Some(since) = cursor.updated_after {
        query.push(("updated_after", since.format("%Y-%m-%d").to_string()));
    }
    if let Some(after) = &cursor.after {
        query.push(("after", after.clone()));
    }
    let body: Value = client.get("v4/subscribers", &query).await?;
    let page = ListPage::from_body(body, "subscribers")?;
    let next_after = page.next_after(cursor.after.as_deref())?;
    let has_more = next_after.is_some();
    let next = match next_after {
        Some(after) => SubscribersCursor {
            after: Some(after),
            updated_after: cursor.updated_after,
            pass_started: Some(pass_started),
        },
        None => SubscribersCursor {
            after: None,
            updated_after: Some(pass_started - Days::days(SUBSCRIBER_OVERLAP_DAYS)),
            pass_started: None,
        },
    };
    Ok(Page {
        records: page
            .items
            .into_iter()
            .map(|item| record(item, None))
            .collect(),
        kpis: Vec::new(),
        next_cursor: Some(to_cursor(&next)?),
        has_more,
    })
}

/// The `subscriber_growth` cursor: the next day to read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrowthCursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next: Option<NaiveDate>,
}

async fn read_growth(
    ctx: &Context,
    client: &KitClient<'_>,
    settings: &Settings,
    cursor: GrowthCursor,
    page_size: Option<u32>,
) -> Result<Page, AdapterError> {
    let today = ctx.now().date_naive();
    let start = cursor
        .next
        .unwrap_or(today - Days::days(i64::from(settings.lookback_days)))
        // A cursor ahead of the clock (a clock set back) still reads today.
        .min(today);
    let days = clamp_page_size(page_size, DEFAULT_GROWTH_DAYS, MAX_GROWTH_DAYS);
    let end = (start + Days::days(i64::from(days) - 1)).min(today);

    let mut records = Vec::new();
    let mut kpis = Vec::new();
    for day in start.iter_days().take_while(|day| *day <= end) {
        let date = day.format("%Y-%m-%d").to_string();
        // Kit reads both dates as whole days of the account's time zone, so one day
        // is `starting=ending=day`.
        let response: GrowthStatsResponse = client
            .get(
                "v4/account/growth_stats",
                &[("starting", date.clone()), ("ending", date.clone())],
            )
            .await?;
        kpis.extend(growth_kpis(day, &response.stats));
        records.push(growth_record(&date, response.stats)?);
    }
    let (next, has_more) = if end < today {
        (end + Days::days(1), true)
    } else {
        (today - Days::days(GROWTH_REREAD_DAYS), false)
    };
    Ok(Page {
        records,
        kpis,
        next_cursor: Some(to_cursor(&GrowthCursor { next: Some(next) })?),
        has_more,
    })
}

fn growth_kpis(day: NaiveDate, stats: &GrowthStats) -> [KpiPoint; 4] {
    [
        KpiPoint::total(KPI_TOTAL_SUBSCRIBERS, day, stats.subscribers as f64),
        KpiPoint::total(KPI_NEW_SUBSCRIBERS, day, stats.new_subscribers as f64),
        KpiPoint::total(KPI_UNSUBSCRIBES, day, stats.cancellations as f64),
        KpiPoint::total(
            KPI_NET_NEW_SUBSCRIBERS,
            day,
            stats.net_new_subscribers as f64,
        ),
    ]
}

fn growth_record(date: &str, stats: GrowthStats) -> Result<Record, AdapterError> {
    let mut data = serde_json::to_value(stats)
        .map_err(|err| AdapterError::invalid(format!("growth stats not serializable: {err}")))?;
    if let Some(object) = data.as_object_mut() {
        object.insert("date".into(), json!(date));
    }
    Ok(Record {
        external_id: date.to_owned(),
        data,
        modified_at: None,
    })
}

/// The `broadcast_stats` cursor: the page cursor of the pass under way, the day the
/// pass asks for broadcasts sent after (none on the first, full pass) and the day it
/// started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BroadcastStatsCursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sent_after: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pass_started: Option<NaiveDate>,
}

async fn read_broadcast_stats(
    ctx: &Context,
    client: &KitClient<'_>,
    cursor: BroadcastStatsCursor,
    page_size: Option<u32>,
) -> Result<Page, AdapterError> {
    let now = ctx.now();
    let pass_started = match (&cursor.after, cursor.pass_started) {
        (Some(_), Some(started)) => started,
        _ => now.date_naive(),
    };
    let mut query = vec![(
        "per_page",
        clamp_page_size(page_size, DEFAULT_STATS_PAGE_SIZE, MAX_STATS_PAGE_SIZE).to_string(),
    )];
    if let Some(since) = cursor.sent_after {
        query.push(("sent_after", since.format("%Y-%m-%d").to_string()));
    }
    if let Some(after) = &cursor.after {
        query.push(("after", after.clone()));
    }
    let body: Value = client.get("v4/broadcasts", &query).await?;
    let page = ListPage::from_body(body, "broadcasts")?;
    let next_after = page.next_after(cursor.after.as_deref())?;

    let mut records = Vec::new();
    let mut kpis = Vec::new();
    for broadcast in &page.items {
        // Drafts and broadcasts scheduled for later have nothing to count yet.
        let Some(sent_at) = time_of(broadcast, "send_at").filter(|at| *at <= now) else {
            continue;
        };
        let id = id_of(broadcast);
        let response: BroadcastStatsResponse = client
            .get(&format!("v4/broadcasts/{id}/stats"), &[])
            .await?;
        if response.broadcast.id != id {
            return Err(malformed(format!(
                "stats of broadcast {} returned for broadcast {id}",
                response.broadcast.id
            )));
        }
        let stats: BroadcastStats = serde_json::from_value(response.broadcast.stats.clone())
            .map_err(|err| malformed(format!("broadcast stats: {}", describe(&err))))?;
        kpis.extend(broadcast_kpis(id, sent_at.date_naive(), &stats));
        records.push(Record {
            external_id: id.to_string(),
            data: json!({
                "id": id,
                "subject": broadcast.get("subject").cloned().unwrap_or(Value::Null),
                "send_at": broadcast.get("send_at").cloned().unwrap_or(Value::Null),
                "stats": response.broadcast.stats,
            }),
            modified_at: None,
        });
    }
    let has_more = next_after.is_some();
    let next = match next_after {
        Some(after) => BroadcastStatsCursor {
            after: Some(after),
            sent_after: cursor.sent_after,
            pass_started: Some(pass_started),
        },
        None => BroadcastStatsCursor {
            after: None,
            sent_after: Some(pass_started - Days::days(STATS_REFRESH_DAYS)),
            pass_started: None,
        },
    };
    Ok(Page {
        records,
        kpis,
        next_cursor: Some(to_cursor(&next)?),
        has_more,
    })
}

fn broadcast_kpis(id: i64, day: NaiveDate, stats: &BroadcastStats) -> Vec<KpiPoint> {
    let point = |metric: &str, value: f64| {
        KpiPoint::total(metric, day, value).with_dimension("broadcast_id", id.to_string())
    };
    let mut points = vec![
        point(KPI_BROADCAST_RECIPIENTS, stats.recipients as f64),
        point(KPI_BROADCAST_OPENS, stats.emails_opened as f64),
        point(KPI_BROADCAST_OPEN_RATE, stats.open_rate),
        point(KPI_BROADCAST_CLICK_RATE, stats.click_rate),
    ];
    if let Some(clicks) = stats.total_clicks {
        points.push(point(KPI_BROADCAST_CLICKS, clicks as f64));
    }
    if let Some(unsubscribes) = stats.unsubscribes {
        points.push(point(KPI_BROADCAST_UNSUBSCRIBES, unsubscribes as f64));
    }
    if let Some(rate) = stats.unsubscribe_rate {
        points.push(point(KPI_BROADCAST_UNSUBSCRIBE_RATE, rate));
    }
    points.retain(|p| p.value.is_finite());
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_are_clamped() {
        assert_eq!(clamp_page_size(None, 500, 1000), 500);
        assert_eq!(clamp_page_size(Some(0), 500, 1000), 1);
        assert_eq!(clamp_page_size(Some(5000), 500, 1000), 1000);
        assert_eq!(clamp_page_size(Some(25), 500, 1000), 25);
    }

    #[test]
    fn cursors_parse_or_are_refused() {
        let cursor: ListCursor = parse_cursor(None).unwrap();
        assert_eq!(cursor, ListCursor::default());
        let cursor: ListCursor = parse_cursor(Some(&Value::Null)).unwrap();
        assert_eq!(cursor, ListCursor::default());
        let cursor: ListCursor = parse_cursor(Some(&json!({"after": "WzEwXQ=="}))).unwrap();
        assert_eq!(cursor.after.as_deref(), Some("WzEwXQ=="));
        let err = parse_cursor::<GrowthCursor>(Some(&json!({"after": "x"}))).unwrap_err();
        assert!(matches!(err, AdapterError::Invalid { field: Some(f), .. } if f == "cursor"));
    }

    #[test]
    fn list_pages_need_ids_and_pagination() {
        let page = ListPage::from_body(
            json!({"tags": [{"id": 1, "name": "a"}], "pagination": {"has_previous_page": false, "has_next_page": true, "start_cursor": "WzFd", "end_cursor": "WzFd", "per_page": 1}}),
            "tags",
        )
        .unwrap();
        assert_eq!(page.next_after(None).unwrap().as_deref(), Some("WzFd"));
        // The same cursor again would loop.
        assert!(page.next_after(Some("WzFd")).is_err());
        for bad in [
            json!({"tags": [{"name": "a"}], "pagination": {"has_next_page": false}}),
            json!({"tags": [{"id": "1"}], "pagination": {"has_next_page": false}}),
            json!({"tags": {}, "pagination": {"has_next_page": false}}),
            json!({"tags": []}),
            json!({"tags": [], "pagination": {"has_next_page": "no"}}),
        ] {
            let err = ListPage::from_body(bad.clone(), "tags").err();
            assert!(
                matches!(err, Some(AdapterError::Unavailable { .. })),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn broadcast_kpis_follow_the_stats() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap_or_default();
        let stats = BroadcastStats {
            recipients: 1200,
            open_rate: 41.5,
            emails_opened: 498,
            click_rate: 3.25,
            unsubscribe_rate: Some(0.17),
            unsubscribes: Some(2),
            total_clicks: Some(61),
        };
        let points = broadcast_kpis(7, day, &stats);
        assert_eq!(points.len(), 7);
        assert!(
            points.iter().all(|p| p.date == day
                && p.dimensions.get("broadcast_id").map(String::as_str) == Some("7"))
        );
        let opens = points.iter().find(|p| p.metric == KPI_BROADCAST_OPENS);
        assert_eq!(opens.map(|p| p.value), Some(498.0));
        let sparse = BroadcastStats {
            unsubscribe_rate: None,
            unsubscribes: None,
            total_clicks: None,
            ..stats
        };
        assert_eq!(broadcast_kpis(7, day, &sparse).len(), 4);
    }
}
