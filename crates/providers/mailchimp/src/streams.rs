//! The `audiences` and `members` streams: paging with `count`/`offset`, records,
//! and the KPI points each produces.
//!
//! - `audiences` re-reads every audience each sync (there are few) and records each
//!   one's `member_count`, `unsubscribe_count` and `cleaned_count` as the sync day's
//!   value (a snapshot: the day's last sync wins, since points upsert).
//! - `members` walks the audiences one after another. The first pass reads every
//!   member; later passes ask only for members changed since the previous pass of
//!   that audience began (`since_last_changed`, minus a margin for clock skew). When
//!   an audience is done, `new_members` is recomputed for each day since its previous
//!   pass (30 days on the first) as the exact number of members whose opt-in falls on
//!   that day (UTC), counted by Mailchimp with `since_timestamp_opt` /
//!   `before_timestamp_opt` filters: always whole-day totals, never increments.
//!
//! Members are ordered by signup time, which changes never rewrite, so a member
//! updated while a pass pages through its audience does not shift the pages; one
//! that is permanently deleted meanwhile can shift them by one and hide a neighbour
//! until that neighbour next changes (documented in docs/providers/mailchimp.md).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration as Span, NaiveDate, Utc};
use junction_core::{AdapterError, KpiPoint, Page, ReadRequest, Record};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    client::{Api, Purpose},
    spec::{AUDIENCE_DIMENSION, NEW_MEMBERS},
    wire::{ListStats, ListsPage, MembersPage, Total},
};

/// Audiences per page when the caller has no wish (Mailchimp's maximum is 1,000).
const DEFAULT_AUDIENCE_PAGE: u32 = 100;

/// Members per page when the caller has no wish.
const DEFAULT_MEMBER_PAGE: u32 = 500;

/// Mailchimp's largest `count`.
const MAX_COUNT: u32 = 1_000;

/// Pages of audience ids read to start a members pass before giving up (a million
/// audiences: no account has that many).
const MAX_AUDIENCE_ID_PAGES: usize = 1_000;

/// How far back the first pass of an audience counts new members, in days
/// (today included).
pub const NEW_MEMBERS_LOOKBACK_DAYS: i64 = 30;

/// Re-read members changed this long before the previous pass began, so a clock
/// difference between Junction and Mailchimp cannot lose a change.
const SINCE_MARGIN_MINUTES: i64 = 5;

/// The timestamp format Mailchimp's filters take (ISO 8601 with an offset).
const FILTER_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S+00:00";

fn page_size(request: &ReadRequest, default: u32) -> u32 {
    request.page_size.unwrap_or(default).clamp(1, MAX_COUNT)
}

fn parse_cursor<T: for<'de> Deserialize<'de> + Default>(
    cursor: Option<&Value>,
) -> Result<T, AdapterError> {
    match cursor {
        None | Some(Value::Null) => Ok(T::default()),
        Some(value) => serde_json::from_value(value.clone())
            .map_err(|_| AdapterError::invalid_field("cursor", "is not a cursor of this stream")),
    }
}

fn to_cursor<T: Serialize>(cursor: &T) -> Result<Value, AdapterError> {
    serde_json::to_value(cursor)
        .map_err(|err| AdapterError::invalid(format!("cursor not serializable: {err}")))
}

/// A provider object without its `_links` (hypermedia noise, the same in every
/// record).
fn without_links(mut value: Value) -> Value {
    if let Some(object) = value.as_object_mut() {
        object.remove("_links");
    }
    value
}

fn text_field<'v>(value: &'v Value, field: &str) -> Option<&'v str> {
    value
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn timestamp(value: &Value, field: &str) -> Option<DateTime<Utc>> {
    text_field(value, field)
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn filter_time(at: DateTime<Utc>) -> String {
    at.format(FILTER_TIME_FORMAT).to_string()
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

// ---------------------------------------------------------------------------------
// audiences

/// Where an `audiences` read resumes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct AudiencesCursor {
    #[serde(default)]
    offset: u64,
}

/// Reads one page of `audiences`.
pub(crate) async fn read_audiences(
    api: &Api<'_>,
    request: &ReadRequest,
) -> Result<Page, AdapterError> {
    let cursor: AudiencesCursor = parse_cursor(request.cursor.as_ref())?;
    let count = page_size(request, DEFAULT_AUDIENCE_PAGE);
    let page: ListsPage = api
        .get(
            "lists",
            &[
                ("count", count.to_string()),
                ("offset", cursor.offset.to_string()),
                ("sort_field", "date_created".into()),
                ("sort_dir", "ASC".into()),
            ],
            Purpose::Read,
        )
        .await?;
    let today = api.context().now().date_naive();
    let mut records = Vec::with_capacity(page.lists.len());
    let mut kpis = Vec::with_capacity(page.lists.len() * 3);
    for list in page.lists {
        let id = text_field(&list, "id")
            .ok_or_else(|| {
                AdapterError::unavailable("Mailchimp returned an audience without an id")
            })?
            .to_owned();
        let stats: ListStats = list
            .get("stats")
            .and_then(|stats| serde_json::from_value(stats.clone()).ok())
            .unwrap_or_default();
        for (metric, value) in [
            ("member_count", stats.member_count),
            ("unsubscribe_count", stats.unsubscribe_count),
            ("cleaned_count", stats.cleaned_count),
        ] {
            kpis.push(
                KpiPoint::total(metric, today, value).with_dimension(AUDIENCE_DIMENSION, &id),
            );
        }
        records.push(Record {
            external_id: id,
            data: without_links(list),
            modified_at: None,
        });
    }
    let next = cursor.offset + records.len() as u64;
    let has_more = !records.is_empty() && next < page.total_items;
    // After the last page the next sync starts over: audiences are re-read whole.
    let next_cursor = AudiencesCursor {
        offset: if has_more { next } else { 0 },
    };
    Ok(Page {
        records,
        kpis,
        next_cursor: Some(to_cursor(&next_cursor)?),
        has_more,
    })
}

// ---------------------------------------------------------------------------------
// members

/// Where a `members` read resumes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct MembersCursor {
    /// The pass under way, if one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pass: Option<Pass>,
    /// Per audience, when its last finished pass began: the next pass reads members
    /// changed since then.
    #[serde(default)]
    synced: BTreeMap<String, DateTime<Utc>>,
}

/// One pass over the audiences.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Pass {
    /// Audiences still to read; the first is being read.
    pending: Vec<String>,
    /// The next member offset in the first pending audience.
    #[serde(default)]
    offset: u64,
    /// When the read of the first pending audience began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    started_at: Option<DateTime<Utc>>,
}

/// Every audience id of the account, in creation order.
async fn audience_ids(api: &Api<'_>) -> Result<Vec<String>, AdapterError> {
    let mut ids = Vec::new();
    for _ in 0..MAX_AUDIENCE_ID_PAGES {
        let page: ListsPage = api
            .get(
                "lists",
                &[
                    ("fields", "lists.id,total_items".into()),
                    ("count", MAX_COUNT.to_string()),
                    ("offset", ids.len().to_string()),
                    ("sort_field", "date_created".into()),
                    ("sort_dir", "ASC".into()),
                ],
                Purpose::Read,
            )
            .await?;
        let before = ids.len();
        ids.extend(
            page.lists
                .iter()
                .filter_map(|list| text_field(list, "id"))
                .map(str::to_owned),
        );
        if ids.len() == before || ids.len() as u64 >= page.total_items {
            return Ok(ids);
        }
    }
    Err(AdapterError::unavailable(
        "Mailchimp kept returning audiences past the page limit",
    ))
}

/// Reads one page of `members`.
pub(crate) async fn read_members(
    api: &Api<'_>,
    request: &ReadRequest,
) -> Result<Page, AdapterError> {
    let mut cursor: MembersCursor = parse_cursor(request.cursor.as_ref())?;
    let now = api.context().now();
    let mut pass = match cursor.pass.take() {
        Some(pass) if !pass.pending.is_empty() => pass,
        _ => {
            let ids = audience_ids(api).await?;
            // Forget audiences that are gone.
            cursor.synced.retain(|id, _| ids.contains(id));
            Pass {
                pending: ids,
                offset: 0,
                started_at: None,
            }
        }
    };
    let Some(audience) = pass.pending.first().cloned() else {
        return Ok(Page {
            next_cursor: Some(to_cursor(&cursor)?),
            ..Page::default()
        });
    };
    let started_at = *pass.started_at.get_or_insert(now);
    let previous = cursor.synced.get(&audience).copied();

    let mut query = vec![
        ("count", page_size(request, DEFAULT_MEMBER_PAGE).to_string()),
        ("offset", pass.offset.to_string()),
        ("sort_field", "timestamp_signup".into()),
        ("sort_dir", "ASC".into()),
    ];
    if let Some(since) = previous {
        query.push((
            "since_last_changed",
            filter_time(since - Span::minutes(SINCE_MARGIN_MINUTES)),
        ));
    }
    let path = format!("lists/{audience}/members");
    let page: MembersPage = match api.get(&path, &query, Purpose::Read).await {
        Ok(page) => page,
        // Deleted since the pass began: nothing left to read there.
        Err(AdapterError::Provider { status: 404, .. }) => {
            tracing::info!(
                audience,
                "Mailchimp audience vanished during a members pass; skipped"
            );
            cursor.synced.remove(&audience);
            return finish_audience(cursor, pass, Vec::new(), Vec::new());
        }
        Err(err) => return Err(err),
    };

    let mut records = Vec::with_capacity(page.members.len());
    for member in page.members {
        let id = text_field(&member, "id").ok_or_else(|| {
            AdapterError::unavailable("Mailchimp returned a member without an id")
        })?;
        records.push(Record {
            external_id: format!("{audience}:{id}"),
            modified_at: timestamp(&member, "last_changed"),
            data: without_links(member),
        });
    }
    pass.offset += records.len() as u64;
    let audience_done = records.is_empty() || pass.offset >= page.total_items;
    if !audience_done {
        cursor.pass = Some(pass);
        return Ok(Page {
            records,
            kpis: Vec::new(),
            next_cursor: Some(to_cursor(&cursor)?),
            has_more: true,
        });
    }
    let today = now.date_naive();
    let lookback_start = today - Span::days(NEW_MEMBERS_LOOKBACK_DAYS - 1);
    let from = previous
        .map(|at| at.date_naive() - Span::days(1))
        .unwrap_or(lookback_start)
        .max(lookback_start)
        .min(today);
    let kpis = new_members(api, &audience, from, today).await?;
    cursor.synced.insert(audience, started_at);
    finish_audience(cursor, pass, records, kpis)
}

/// Moves past the first pending audience; the pass ends with the last one.
fn finish_audience(
    mut cursor: MembersCursor,
    mut pass: Pass,
    records: Vec<Record>,
    kpis: Vec<KpiPoint>,
) -> Result<Page, AdapterError> {
    pass.pending.remove(0);
    pass.offset = 0;
    pass.started_at = None;
    let has_more = !pass.pending.is_empty();
    cursor.pass = has_more.then_some(pass);
    Ok(Page {
        records,
        kpis,
        next_cursor: Some(to_cursor(&cursor)?),
        has_more,
    })
}

/// Members of `audience` who opted in from the start of `from` to the end of `to`.
async fn opted_in_between(
    api: &Api<'_>,
    audience: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<u64, AdapterError> {
    // Mailchimp's `since_` filters are exclusive and its timestamps whole seconds, so
    // the window opens one second before midnight; `before_` is exclusive too.
    let since = midnight(from) - Span::seconds(1);
    let before = midnight(to + Span::days(1));
    let total: Total = api
        .get(
            &format!("lists/{audience}/members"),
            &[
                ("fields", "total_items".into()),
                ("count", "1".into()),
                ("since_timestamp_opt", filter_time(since)),
                ("before_timestamp_opt", filter_time(before)),
            ],
            Purpose::Read,
        )
        .await?;
    Ok(total.total_items)
}

/// `new_members` points for each day from `from` to `to`: one count for the whole
/// window first, then one per day only when the window has any.
async fn new_members(
    api: &Api<'_>,
    audience: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<KpiPoint>, AdapterError> {
    let point = |day: NaiveDate, value: u64| {
        KpiPoint::total(NEW_MEMBERS, day, value as f64).with_dimension(AUDIENCE_DIMENSION, audience)
    };
    let days: Vec<NaiveDate> = from.iter_days().take_while(|day| *day <= to).collect();
    let window = opted_in_between(api, audience, from, to).await?;
    if window == 0 || days.len() == 1 {
        return Ok(days.into_iter().map(|day| point(day, window)).collect());
    }
    let mut points = Vec::with_capacity(days.len());
    for day in days {
        points.push(point(day, opted_in_between(api, audience, day, day).await?));
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cursors_round_trip_and_reject_foreign_ones() {
        let cursor = MembersCursor {
            pass: Some(Pass {
                pending: vec!["a".into(), "b".into()],
                offset: 500,
                started_at: Some(Utc::now()),
            }),
            synced: BTreeMap::from([("c".to_owned(), Utc::now())]),
        };
        let value = to_cursor(&cursor).unwrap();
        assert_eq!(parse_cursor::<MembersCursor>(Some(&value)).unwrap(), cursor);
        assert_eq!(
            parse_cursor::<MembersCursor>(None).unwrap(),
            MembersCursor::default()
        );
        let err = parse_cursor::<AudiencesCursor>(Some(&json!({"offset": "ten"}))).unwrap_err();
        assert!(matches!(err, AdapterError::Invalid { field: Some(ref f), .. } if f == "cursor"));
    }

    #[test]
    fn filter_times_use_mailchimps_format() {
        let at = DateTime::parse_from_rfc3339("2026-03-14T23:59:59Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(filter_time(at), "2026-03-14T23:59:59+00:00");
    }

    #[test]
    fn records_lose_their_links() {
        let value = without_links(json!({"id": "x", "_links": [{"rel": "self"}]}));
        assert_eq!(value, json!({"id": "x"}));
    }
}
