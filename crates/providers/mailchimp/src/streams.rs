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
use http::Method;
use junction_core::{AdapterError, KpiPoint, Page, ReadRequest, Record};
use junction_toolkit::{Client, OnStall, PageSize, PageToken, Paging, Style, cursor, data, paging};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::{
    spec::{AUDIENCE_DIMENSION, AUDIENCE_KPIS, AUDIENCES, MEMBERS, NEW_MEMBERS},
    wire::{ListsPage, MembersPage, Total},
};

/// Mailchimp's largest `count`.
const MAX_COUNT: u32 = 1_000;

/// How `GET /lists` pages: `count` and `offset`, up to the answer's `total_items`
/// (100 audiences per page when the caller has no wish).
pub const AUDIENCE_PAGING: Paging = Paging {
    style: Style::Offset {
        param: "offset",
        total: Some("/total_items"),
    },
    items: "/lists",
    size_param: "count",
    size: PageSize {
        default: 100,
        max: MAX_COUNT,
    },
    on_stall: OnStall::Fail,
};

/// How `GET /lists/{id}/members` pages: the same way, 500 members per page by default.
pub const MEMBER_PAGING: Paging = Paging {
    items: "/members",
    size: PageSize {
        default: 500,
        max: MAX_COUNT,
    },
    ..AUDIENCE_PAGING
};

/// Audiences in creation order, so pages do not shift as audiences are added.
const BY_CREATION: [(&str, &str); 2] = [("sort_field", "date_created"), ("sort_dir", "ASC")];

/// The ids of every audience, in creation order.
const AUDIENCE_IDS: [(&str, &str); 3] = [
    ("fields", "lists.id,total_items"),
    ("sort_field", "date_created"),
    ("sort_dir", "ASC"),
];

/// Members in signup order, which changes never rewrite.
const BY_SIGNUP: [(&str, &str); 2] = [("sort_field", "timestamp_signup"), ("sort_dir", "ASC")];

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

/// A provider object without its `_links` (hypermedia noise, the same in every
/// record).
fn without_links(mut value: Value) -> Value {
    if let Some(object) = value.as_object_mut() {
        object.remove("_links");
    }
    value
}

/// The `id` of a list or member; one without is a broken answer.
fn id_of(value: &Value, what: &str) -> Result<String, AdapterError> {
    data::text(value.get("id")).ok_or_else(|| {
        AdapterError::unavailable(format!("Mailchimp returned {what} without an id"))
    })
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.to_utc())
}

fn filter_time(at: DateTime<Utc>) -> String {
    at.format(FILTER_TIME_FORMAT).to_string()
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// The page at `token` of the list at `path`, with `query` besides the paging: the
/// answer, and the token of the next page (`None` at the end of the list).
async fn page<T: DeserializeOwned>(
    client: &Client<'_>,
    path: &str,
    (paging, token, size): (&Paging, PageToken, u32),
    query: &[(&str, &str)],
) -> Result<(T, Option<PageToken>), AdapterError> {
    let request = client.page_request(Method::GET, path, paging, &token, size)?;
    let fetched = client.fetch(request.query(query)).await?;
    let next = paging.next(&token, size, &fetched.headers, &fetched.body)?;
    Ok((fetched.decode()?, next))
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
    client: &Client<'_>,
    request: &ReadRequest,
) -> Result<Page, AdapterError> {
    let cursor: AudiencesCursor =
        cursor::read(request.cursor.as_ref(), AUDIENCES)?.unwrap_or_default();
    let size = AUDIENCE_PAGING.size.pick(request.page_size);
    let paging = (&AUDIENCE_PAGING, PageToken::Offset(cursor.offset), size);
    let (page, next): (ListsPage, _) = page(client, "lists", paging, &BY_CREATION).await?;
    let today = client.context().now().date_naive();
    let mut records = Vec::with_capacity(page.lists.len());
    let mut kpis = Vec::with_capacity(page.lists.len() * AUDIENCE_KPIS.len());
    for list in page.lists {
        let id = id_of(&list, "an audience")?;
        for metric in AUDIENCE_KPIS {
            let value = list["stats"][metric].as_f64().unwrap_or_default();
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
    // After the last page the next sync starts over: audiences are re-read whole.
    let (offset, has_more) = match next {
        Some(PageToken::Offset(offset)) => (offset, true),
        _ => (0, false),
    };
    cursor::page(records, kpis, &AudiencesCursor { offset }, has_more)
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
async fn audience_ids(client: &Client<'_>) -> Result<Vec<String>, AdapterError> {
    let pages = paging::walk(MAX_AUDIENCE_ID_PAGES, |token| async move {
        let paging = (&AUDIENCE_PAGING, token, MAX_COUNT);
        let (page, next): (ListsPage, _) = page(client, "lists", paging, &AUDIENCE_IDS).await?;
        let ids = page
            .lists
            .iter()
            .filter_map(|list| data::text(list.get("id")));
        Ok((ids.collect::<Vec<_>>(), next))
    })
    .await?;
    Ok(pages.concat())
}

/// Reads one page of `members`.
pub(crate) async fn read_members(
    client: &Client<'_>,
    request: &ReadRequest,
) -> Result<Page, AdapterError> {
    let mut cursor: MembersCursor =
        cursor::read(request.cursor.as_ref(), MEMBERS)?.unwrap_or_default();
    let now = client.context().now();
    let mut pass = match cursor.pass.take() {
        Some(pass) if !pass.pending.is_empty() => pass,
        _ => {
            let ids = audience_ids(client).await?;
            // Forget audiences that are gone.
            cursor.synced.retain(|id, _| ids.contains(id));
            Pass {
                pending: ids,
                ..Pass::default()
            }
        }
    };
    let Some(audience) = pass.pending.first().cloned() else {
        return cursor::page(Vec::new(), Vec::new(), &cursor, false);
    };
    let started_at = *pass.started_at.get_or_insert(now);
    let previous = cursor.synced.get(&audience).copied();

    let since = previous.map(|at| filter_time(at - Span::minutes(SINCE_MARGIN_MINUTES)));
    let mut query = BY_SIGNUP.to_vec();
    query.extend(since.as_deref().map(|since| ("since_last_changed", since)));
    let size = MEMBER_PAGING.size.pick(request.page_size);
    let path = format!("lists/{audience}/members");
    let paging = (&MEMBER_PAGING, PageToken::Offset(pass.offset), size);
    let (page, next): (MembersPage, _) = match page(client, &path, paging, &query).await {
        Ok(answer) => answer,
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
        let id = id_of(&member, "a member")?;
        records.push(Record {
            external_id: format!("{audience}:{id}"),
            modified_at: member["last_changed"].as_str().and_then(parse_time),
            data: without_links(member),
        });
    }
    if let Some(PageToken::Offset(offset)) = next {
        pass.offset = offset;
        cursor.pass = Some(pass);
        return cursor::page(records, Vec::new(), &cursor, true);
    }
    let today = now.date_naive();
    let lookback_start = today - Span::days(NEW_MEMBERS_LOOKBACK_DAYS - 1);
    let from = previous
        .map(|at| at.date_naive() - Span::days(1))
        .unwrap_or(lookback_start)
        .max(lookback_start)
        .min(today);
    let kpis = new_members(client, &audience, from, today).await?;
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
    cursor::page(records, kpis, &cursor, has_more)
}

/// Members of `audience` who opted in from the start of `from` to the end of `to`.
async fn opted_in_between(
    client: &Client<'_>,
    audience: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<u64, AdapterError> {
    // Mailchimp's `since_` filters are exclusive and its timestamps whole seconds, so
    // the window opens one second before midnight; `before_` is exclusive too.
    let since = midnight(from) - Span::seconds(1);
    let before = midnight(to + Span::days(1));
    let total: Total = client
        .get(
            &format!("lists/{audience}/members"),
            &[
                ("fields", "total_items".into()),
                ("count", "1".into()),
                ("since_timestamp_opt", filter_time(since)),
                ("before_timestamp_opt", filter_time(before)),
            ],
        )
        .await?;
    Ok(total.total_items)
}

/// `new_members` points for each day from `from` to `to`: one count for the whole
/// window first, then one per day only when the window has any.
async fn new_members(
    client: &Client<'_>,
    audience: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<KpiPoint>, AdapterError> {
    let point = |day: NaiveDate, value: u64| {
        KpiPoint::total(NEW_MEMBERS, day, value as f64).with_dimension(AUDIENCE_DIMENSION, audience)
    };
    let days: Vec<NaiveDate> = from.iter_days().take_while(|day| *day <= to).collect();
    let window = opted_in_between(client, audience, from, to).await?;
    if window == 0 || days.len() == 1 {
        return Ok(days.into_iter().map(|day| point(day, window)).collect());
    }
    let mut points = Vec::with_capacity(days.len());
    for day in days {
        points.push(point(
            day,
            opted_in_between(client, audience, day, day).await?,
        ));
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
        let value = cursor::write(&cursor).unwrap();
        assert_eq!(
            cursor::read::<MembersCursor>(Some(&value), MEMBERS).unwrap(),
            Some(cursor)
        );
        assert_eq!(cursor::read::<MembersCursor>(None, MEMBERS).unwrap(), None);
        let err = cursor::read::<AudiencesCursor>(Some(&json!({"offset": "ten"})), AUDIENCES)
            .unwrap_err();
        assert!(matches!(err, AdapterError::Invalid { field: Some(ref f), .. } if f == "cursor"));
        // Stored cursors keep their shape.
        assert_eq!(
            cursor::write(&AudiencesCursor { offset: 2 }).unwrap(),
            json!({"offset": 2})
        );
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
