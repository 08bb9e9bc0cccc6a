//! Reading Kit's streams, one page per call, with the cursor each stream keeps.
//!
//! Six streams are Kit lists ([`LISTS`]), paged by the toolkit's walker over Kit's
//! opaque cursors (see [`crate::api::paging`]). A list stream keeps that cursor while a
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

use std::collections::BTreeMap;

use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use http::Method;
use junction_core::{AdapterError, KpiPoint, Page, ReadRequest, Record};
use junction_toolkit::{Client, PageSize, PageToken, Paging, cursor, cursor::Window, data};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::{
    api::{self, LIST_SIZE},
    settings::Settings,
    // The stream and KPI names.
    spec::*,
    wire::{BroadcastStats, BroadcastStatsResponse, GrowthStats, GrowthStatsResponse, Paginated},
};

/// Broadcasts per `broadcast_stats` page (25 when none is asked for, at most 50). Each
/// sent broadcast costs one more request for its stats, so pages stay small enough to
/// fit the 120-requests-a-minute budget with room for other work.
const STATS_SIZE: PageSize = PageSize {
    default: 25,
    max: 50,
};

/// Days of growth stats per page (one request per day): 7 when none is asked for, at
/// most 31.
const GROWTH_DAYS: PageSize = PageSize {
    default: 7,
    max: 31,
};

/// How many days before a pass started the next `subscribers` pass asks for changes
/// from. `updated_after` takes a date (not a time) and Kit does not say whether it is
/// inclusive or in which time zone; a day of overlap makes the answer irrelevant, and
/// re-reading a subscriber only upserts it again.
const SUBSCRIBER_OVERLAP_DAYS: i64 = 1;

/// The growth stats of the last day read are partial (the day was not over) and the
/// account's day may run behind UTC, so each sync starts again this many days before
/// the last day it read.
const GROWTH_REREAD_DAYS: i64 = 1;

/// Opens and clicks keep arriving for weeks after a broadcast is sent; every pass after
/// the first refreshes the stats of broadcasts sent this many days before it started.
const STATS_REFRESH_DAYS: i64 = 30;

/// A stream read from one of Kit's lists.
struct List {
    stream: &'static str,
    /// The path below `v4/`, which is also where the items are in the answer
    /// (`/tags`).
    path: &'static str,
    /// Extra query parameters.
    query: &'static [(&'static str, &'static str)],
    paging: Paging,
    /// For streams read incrementally: the query parameter a pass after the first asks
    /// for changes with (also its name in the cursor), and how many days before the
    /// previous pass began it starts.
    since: Option<(&'static str, i64)>,
    kpis: Kpis,
    /// The item's field that says when it last changed, if any.
    modified_field: Option<&'static str>,
}

/// What a list's items count.
enum Kpis {
    None,
    /// The KPI of each item's `subscriber_count`, and the dimension naming the item.
    Count(&'static str, &'static str),
    /// The stats of each sent broadcast, one request each.
    BroadcastStats,
}

impl List {
    /// The list at `path`, read whole on every pass, Kit's page sizes, nothing
    /// counted.
    const fn new(stream: &'static str, path: &'static str) -> Self {
        Self {
            stream,
            path,
            query: &[],
            paging: api::paging(path, LIST_SIZE),
            since: None,
            kpis: Kpis::None,
            modified_field: None,
        }
    }
}

/// Kit lists only active subscribers (and forms) by default; unsubscribed, bounced and
/// complained subscribers are what a marketing team must not mail, and a form's
/// subscribers stay attributed to it after it is archived or trashed.
const ALL: &[(&str, &str)] = &[("status", "all")];

const LISTS: [List; 6] = [
    List {
        query: ALL,
        since: Some(("updated_after", SUBSCRIBER_OVERLAP_DAYS)),
        ..List::new(SUBSCRIBERS, "/subscribers")
    },
    List {
        kpis: Kpis::Count(KPI_TAG_SUBSCRIBERS, "tag_id"),
        ..List::new(TAGS, "/tags")
    },
    List {
        kpis: Kpis::Count(KPI_SEQUENCE_SUBSCRIBERS, "sequence_id"),
        modified_field: Some("updated_at"),
        ..List::new(SEQUENCES, "/sequences")
    },
    List {
        query: ALL,
        kpis: Kpis::Count(KPI_FORM_SUBSCRIBERS, "form_id"),
        ..List::new(FORMS, "/forms")
    },
    List::new(BROADCASTS, "/broadcasts"),
    List {
        paging: api::paging("/broadcasts", STATS_SIZE),
        since: Some(("sent_after", STATS_REFRESH_DAYS)),
        kpis: Kpis::BroadcastStats,
        ..List::new(BROADCAST_STATS, "/broadcasts")
    },
];

/// Reads one page of `request.stream`.
pub(crate) async fn read(
    client: &Client<'_>,
    settings: &Settings,
    request: &ReadRequest,
) -> Result<Page, AdapterError> {
    if request.stream == SUBSCRIBER_GROWTH {
        return read_growth(client, settings, request).await;
    }
    match LISTS.iter().find(|list| list.stream == request.stream) {
        Some(list) => read_list(client, list, request).await,
        None => Err(AdapterError::invalid_field(
            "stream",
            format!("Kit has no stream `{}`", request.stream),
        )),
    }
}

/// The stored cursor of a list stream: Kit's page cursor while a pass is under way
/// and, for streams read incrementally, the day the pass asks for changes from (under
/// its query parameter's name, `updated_after` or `sent_after`) and the day it began.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct ListCursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pass_started: Option<NaiveDate>,
    #[serde(flatten)]
    since: BTreeMap<String, NaiveDate>,
}

async fn read_list(
    client: &Client<'_>,
    list: &List,
    request: &ReadRequest,
) -> Result<Page, AdapterError> {
    let cursor: ListCursor =
        cursor::read(request.cursor.as_ref(), list.stream)?.unwrap_or_default();
    let since_name = list.since.map(|(name, _)| name);
    // Another stream's cursor (or a made-up one) would read the wrong changes.
    if cursor
        .since
        .keys()
        .any(|name| Some(name.as_str()) != since_name)
    {
        return Err(AdapterError::invalid_field(
            "cursor",
            format!("is not a cursor of the `{}` stream", list.stream),
        ));
    }
    let now = client.context().now();
    // A pass keeps the day it began while it pages; a new pass begins today.
    let pass_started = match (&cursor.after, cursor.pass_started) {
        (Some(_), Some(started)) => started,
        _ => now.date_naive(),
    };
    let paging = &list.paging;
    let size = paging.size.pick(request.page_size);
    let token = PageToken::from_cursor(cursor.after.clone());
    let since: Vec<(&str, String)> = cursor
        .since
        .iter()
        .map(|(name, day)| (name.as_str(), day.format("%Y-%m-%d").to_string()))
        .collect();
    let request = client
        .page_request(Method::GET, list.path, paging, &token, size)?
        .query(list.query)
        .query(&since);
    let fetched = client.fetch(request).await?;
    // Without its `pagination` the answer is malformed, not the end of the list.
    fetched.decode::<Paginated>()?;
    let next = paging.next(&token, size, &fetched.headers, &fetched.body)?;
    let next = next.and_then(PageToken::into_cursor);
    let items = items(fetched.body, list.path)?;

    let (records, kpis) = match list.kpis {
        Kpis::BroadcastStats => broadcast_stats(client, &items, now).await?,
        Kpis::Count(metric, dimension) => (
            records(&items, list.modified_field),
            counts(&items, metric, dimension, now.date_naive()),
        ),
        Kpis::None => (records(&items, list.modified_field), Vec::new()),
    };
    let has_more = next.is_some();
    let next = match (next, list.since) {
        (Some(after), _) => ListCursor {
            after: Some(after),
            pass_started: list.since.map(|_| pass_started),
            since: cursor.since,
        },
        (None, Some((name, days))) => ListCursor {
            since: [(name.to_owned(), pass_started - Days::days(days))].into(),
            ..ListCursor::default()
        },
        (None, None) => ListCursor::default(),
    };
    cursor::page(records, kpis, &next, has_more)
}

/// A body Kit would not send: a flaky proxy or a changed API. Retrying may help.
fn malformed(what: impl std::fmt::Display) -> AdapterError {
    AdapterError::unavailable(format!("malformed response body: {what}"))
}

/// The items of a list answer at `pointer` (`/tags`): objects with an integer `id`,
/// which keys their records.
fn items(mut body: Value, pointer: &str) -> Result<Vec<Map<String, Value>>, AdapterError> {
    let key = pointer.trim_start_matches('/');
    let Some(Value::Array(items)) = body.pointer_mut(pointer).map(Value::take) else {
        return Err(malformed(format!("missing list `{key}`")));
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(object) if object.get("id").is_some_and(Value::is_i64) => Ok(object),
            _ => Err(malformed(format!("an item of `{key}` has no integer `id`"))),
        })
        .collect()
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

/// The items as records, verbatim.
fn records(items: &[Map<String, Value>], modified_field: Option<&str>) -> Vec<Record> {
    let record = |item: &Map<String, Value>| Record {
        external_id: id_of(item).to_string(),
        data: Value::Object(item.clone()),
        modified_at: modified_field.and_then(|field| time_of(item, field)),
    };
    items.iter().map(record).collect()
}

/// Each item's `subscriber_count` as `metric` of `today`. Kit includes the count in
/// its list items; an item without one is left out rather than counted as zero.
fn counts(
    items: &[Map<String, Value>],
    metric: &str,
    dimension: &str,
    today: NaiveDate,
) -> Vec<KpiPoint> {
    let count = |item: &Map<String, Value>| {
        let count = item.get("subscriber_count").and_then(Value::as_u64)?;
        Some(
            KpiPoint::total(metric, today, count as f64)
                .with_dimension(dimension, id_of(item).to_string()),
        )
    };
    items.iter().filter_map(count).collect()
}

/// The stats of the sent broadcasts among `broadcasts`: a record each (id, subject,
/// send time and Kit's raw stats) and its KPIs, dated by the send day.
async fn broadcast_stats(
    client: &Client<'_>,
    broadcasts: &[Map<String, Value>],
    now: DateTime<Utc>,
) -> Result<(Vec<Record>, Vec<KpiPoint>), AdapterError> {
    let mut records = Vec::new();
    let mut kpis = Vec::new();
    for broadcast in broadcasts {
        // Drafts and broadcasts scheduled for later have nothing to count yet.
        let Some(sent_at) = time_of(broadcast, "send_at").filter(|at| *at <= now) else {
            continue;
        };
        let id = id_of(broadcast);
        let request = client.request(Method::GET, &format!("broadcasts/{id}/stats"))?;
        let mut fetched = client.fetch(request).await?;
        let response: BroadcastStatsResponse = fetched.decode()?;
        if response.broadcast.id != id {
            return Err(malformed(format!(
                "stats of broadcast {} returned for broadcast {id}",
                response.broadcast.id
            )));
        }
        kpis.extend(broadcast_kpis(
            id,
            sent_at.date_naive(),
            &response.broadcast.stats,
        ));
        let field = |name: &str| broadcast.get(name).cloned().unwrap_or(Value::Null);
        records.push(Record {
            external_id: id.to_string(),
            data: json!({
                "id": id,
                "subject": field("subject"),
                "send_at": field("send_at"),
                "stats": fetched.body.pointer_mut("/broadcast/stats").map(Value::take),
            }),
            modified_at: None,
        });
    }
    Ok((records, kpis))
}

fn broadcast_kpis(id: i64, day: NaiveDate, stats: &BroadcastStats) -> Vec<KpiPoint> {
    let dimensions = BTreeMap::from([("broadcast_id".to_owned(), id.to_string())]);
    let count = |n: Option<u64>| n.map(|n| n as f64);
    data::day_points(
        day,
        &dimensions,
        [
            (KPI_BROADCAST_RECIPIENTS, count(Some(stats.recipients))),
            (KPI_BROADCAST_OPENS, count(Some(stats.emails_opened))),
            (KPI_BROADCAST_OPEN_RATE, Some(stats.open_rate)),
            (KPI_BROADCAST_CLICK_RATE, Some(stats.click_rate)),
            (KPI_BROADCAST_CLICKS, count(stats.total_clicks)),
            (KPI_BROADCAST_UNSUBSCRIBES, count(stats.unsubscribes)),
            (KPI_BROADCAST_UNSUBSCRIBE_RATE, stats.unsubscribe_rate),
        ],
    )
}

/// The `subscriber_growth` cursor: the next day to read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrowthCursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next: Option<NaiveDate>,
}

async fn read_growth(
    client: &Client<'_>,
    settings: &Settings,
    request: &ReadRequest,
) -> Result<Page, AdapterError> {
    let today = client.context().now().date_naive();
    let cursor: Option<GrowthCursor> = cursor::read(request.cursor.as_ref(), SUBSCRIBER_GROWTH)?;
    // Up to today from the next day to read (a cursor ahead of the clock, a clock set
    // back, still reads today), or, on a first sync, the lookback period.
    let window = match cursor.and_then(|cursor| cursor.next) {
        Some(next) => Window::resume(next, None, today),
        None => Window::lookback(today, settings.lookback_days),
    };
    let days = i64::from(GROWTH_DAYS.pick(request.page_size));
    let end = (window.start + Days::days(days - 1)).min(today);

    let mut records = Vec::new();
    let mut kpis = Vec::new();
    for day in window.start.iter_days().take_while(|day| *day <= end) {
        let date = day.format("%Y-%m-%d").to_string();
        // Kit reads both dates as whole days of the account's time zone, so one day
        // is `starting=ending=day`.
        let query = [("starting", date.clone()), ("ending", date.clone())];
        let response: GrowthStatsResponse = client.get("account/growth_stats", &query).await?;
        kpis.extend(growth_kpis(day, &response.stats));
        records.push(growth_record(&date, response.stats)?);
    }
    let (next, has_more) = if end < today {
        (end + Days::days(1), true)
    } else {
        (window.reread_from(GROWTH_REREAD_DAYS), false)
    };
    cursor::page(records, kpis, &GrowthCursor { next: Some(next) }, has_more)
}

fn growth_kpis(day: NaiveDate, stats: &GrowthStats) -> Vec<KpiPoint> {
    data::day_points(
        day,
        &BTreeMap::new(),
        [
            (KPI_TOTAL_SUBSCRIBERS, Some(stats.subscribers as f64)),
            (KPI_NEW_SUBSCRIBERS, Some(stats.new_subscribers as f64)),
            (KPI_UNSUBSCRIBES, Some(stats.cancellations as f64)),
            (
                KPI_NET_NEW_SUBSCRIBERS,
                Some(stats.net_new_subscribers as f64),
            ),
        ],
    )
}

/// A day's growth stats as its record: Kit's fields and the `date`.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stream_of_the_spec_is_read() {
        let mut read: Vec<&str> = LISTS.iter().map(|list| list.stream).collect();
        read.push(SUBSCRIBER_GROWTH);
        let mut specified: Vec<&str> = crate::spec::spec().streams.iter().map(|s| s.name).collect();
        read.sort_unstable();
        specified.sort_unstable();
        assert_eq!(read, specified);
    }

    #[test]
    fn list_cursors_keep_their_stored_shape() {
        for stored in [
            json!({}),
            json!({"after": "WzEwXQ=="}),
            json!({"updated_after": "2026-03-14"}),
            json!({"after": "WzEwXQ==", "sent_after": "2026-02-13", "pass_started": "2026-03-15"}),
        ] {
            let cursor: ListCursor = cursor::read(Some(&stored), "s").unwrap().unwrap();
            assert_eq!(cursor::write(&cursor).unwrap(), stored);
        }
        assert!(cursor::read::<ListCursor>(Some(&json!({"page": 2})), "s").is_err());
        assert!(cursor::read::<GrowthCursor>(Some(&json!({"after": "x"})), "s").is_err());
    }

    #[test]
    fn list_items_need_integer_ids() {
        let page = json!({"tags": [{"id": 1, "name": "a"}]});
        assert_eq!(items(page, "/tags").unwrap().len(), 1);
        for bad in [
            json!({"tags": [{"name": "a"}]}),
            json!({"tags": [{"id": "1"}]}),
            json!({"tags": {}}),
            json!({}),
        ] {
            let err = items(bad.clone(), "/tags").err();
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
