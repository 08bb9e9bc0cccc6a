//! Reading Stripe's list endpoints into pages of records and KPI points.
//!
//! Stripe lists objects newest first and pages with `starting_after` (the id of the
//! last object of the previous page): [`PAGING`] for the toolkit. Two ways of reading
//! are used:
//!
//! - **Windows** (charges, payment intents, customers, invoices, refunds): a sync reads
//!   every object with `created >= window_start`, page by page. When a window ends,
//!   the next one starts at the UTC day of the newest object seen, less
//!   [`REVISIT_DAYS`]: whole days are re-read, so a day's totals are always computed
//!   from all of its objects (points replace, never add), and changes in the last week
//!   (refunds, captures, invoices being paid) reach the records without webhooks.
//!   The first sync reads the whole history.
//! - **Sweeps** (subscriptions): every subscription, all statuses, on every sync.
//!   Statuses change without `created` changing, and MRR is a sum over every active
//!   subscription, so nothing less than a full pass gives a true figure.
//!
//! Daily totals span pages. Because lists run newest first, once a page ends on day
//! D every later day is complete and its points are emitted; day D's partial sums
//! travel in the cursor to the next page. A sweep also carries its MRR and churn
//! counts in the cursor and emits them on its last page.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use junction_core::{AdapterError, KpiPoint, Page, ReadRequest, Record};
use junction_toolkit::{
    Client, CursorAt, Fetched, More, OnStall, PageSize, PageToken, Paging, Style, cursor, data,
    paging,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    api,
    kpi::{self, DaySums},
    spec::{SUBSCRIPTIONS, spec},
};

/// How many days before the newest object seen the next window starts.
pub const REVISIT_DAYS: u64 = 7;

/// Stripe's largest page.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Most pages one recomputation (after a webhook) may read before giving up.
const MAX_RECOMPUTE_PAGES: usize = 5_000;

/// How Stripe's lists page. A list that says more follows but sends nothing, or
/// the same last object again, fails the read: a retry may get a sane answer.
pub const PAGING: Paging = Paging {
    style: Style::Cursor {
        param: "starting_after",
        at: CursorAt::LastItem("id"),
        more: More::Flag("/has_more"),
    },
    items: "/data",
    size_param: "limit",
    size: PageSize {
        default: MAX_PAGE_SIZE,
        max: MAX_PAGE_SIZE,
    },
    on_stall: OnStall::Fail,
};

/// One Stripe list page: `{"object": "list", "data": [...], "has_more", "url"}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct List {
    pub object: String,
    pub data: Vec<Value>,
    /// Read by [`PAGING`] from the body; declared so a list without it is malformed.
    #[expect(dead_code, reason = "read by PAGING")]
    pub has_more: bool,
}

/// The stored cursor of a stream. A window keeps its start and the newest object
/// seen; the subscriptions sweep keeps the day it reports MRR for, its churn and
/// its MRR. Absent fields are left out, so a stream's cursor only ever holds its own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    /// A window's `created[gte]`; absent for the whole history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_start: Option<i64>,
    /// The day a sweep reports MRR for (the day it started); absent between sweeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<NaiveDate>,
    /// The last object read; absent before the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_after: Option<String>,
    /// The newest `created` seen in a window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest: Option<i64>,
    /// Days not complete yet, with their partial sums.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub open: BTreeMap<NaiveDate, DaySums>,
    /// A sweep's canceled subscriptions by the day they ended, per currency.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub churned: BTreeMap<NaiveDate, BTreeMap<String, i64>>,
    /// A sweep's monthly recurring revenue per currency, fractional minor units.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mrr: BTreeMap<String, f64>,
}

impl Cursor {
    /// The same window or sweep from its first page.
    fn restarted(&self) -> Self {
        Self {
            window_start: self.window_start,
            day: self.day,
            ..Self::default()
        }
    }
}

/// An object as a record, with its `created`.
pub(crate) fn to_record(stream: &str, object: &Value) -> Result<(Record, i64), AdapterError> {
    let id = object
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty());
    let created = object.get("created").and_then(Value::as_i64);
    match (id, created) {
        (Some(id), Some(created)) => Ok((
            Record {
                external_id: id.to_owned(),
                data: object.clone(),
                modified_at: None,
            },
            created,
        )),
        _ => Err(AdapterError::unavailable(format!(
            "Stripe sent a {stream} object without an id or a creation time"
        ))),
    }
}

/// The list at `path` (under `v1`) with `query`, checked to be one.
pub(crate) async fn list(
    client: &Client<'_>,
    path: &str,
    query: &[(&str, String)],
) -> Result<(List, Fetched), AdapterError> {
    let fetched = api::get(client, path, query).await?;
    let list: List = fetched.decode()?;
    if list.object != "list" {
        return Err(AdapterError::unavailable(format!(
            "Stripe answered {path} with a `{}` object instead of a list",
            list.object
        )));
    }
    Ok((list, fetched))
}

/// The page at `token` of the list at `path` filtered by `query`, and the token of
/// the next page.
async fn page(
    client: &Client<'_>,
    path: &str,
    query: &[(&str, String)],
    token: &PageToken,
    size: u32,
) -> Result<(List, Option<PageToken>), AdapterError> {
    let mut query = query.to_vec();
    query.extend(PAGING.query(token, size));
    let (list, fetched) = list(client, path, &query).await?;
    let next = PAGING.next(token, size, &fetched.headers, &fetched.body)?;
    Ok((list, next))
}

/// The filters of a stream's list at `cursor`.
fn filters(stream: &str, cursor: &Cursor) -> Vec<(&'static str, String)> {
    let mut query = Vec::new();
    if stream == SUBSCRIPTIONS {
        // The default list leaves canceled subscriptions out; churn needs them.
        query.push(("status", "all".to_owned()));
    }
    if let Some(start) = cursor.window_start {
        query.push(("created[gte]", start.to_string()));
    }
    query
}

/// Reads one page of a stream.
pub(crate) async fn read(client: &Client<'_>, request: &ReadRequest) -> Result<Page, AdapterError> {
    let stream = data::stream(spec(), request)?.name;
    let sweep = stream == SUBSCRIPTIONS;
    let size = PAGING.size.pick(request.page_size);
    let today = client.context().now().date_naive();
    let mut cursor: Cursor = cursor::read(request.cursor.as_ref(), stream)?.unwrap_or_default();
    if sweep && cursor.day.is_none() {
        cursor = Cursor {
            day: Some(today),
            ..Cursor::default()
        };
    }
    let token = PageToken::from_cursor(cursor.starting_after.clone());
    let (list, next) = match page(client, stream, &filters(stream, &cursor), &token, size).await {
        // The object paging resumed after is gone (a deleted customer): start over.
        Err(AdapterError::Invalid {
            field: Some(field), ..
        }) if field == "starting_after" && token != PageToken::First => {
            tracing::info!(
                provider = crate::PROVIDER_ID,
                stream,
                "the object paging resumed after is gone; restarting the window"
            );
            cursor = cursor.restarted();
            let first = PageToken::First;
            page(client, stream, &filters(stream, &cursor), &first, size).await?
        }
        page => page?,
    };

    let mut records = Vec::with_capacity(list.data.len());
    let mut oldest_day: Option<NaiveDate> = None;
    for object in &list.data {
        let (record, created) = to_record(stream, object)?;
        records.push(record);
        if !sweep {
            cursor.newest = Some(cursor.newest.map_or(created, |newest| newest.max(created)));
        }
        if let Some(day) = kpi::day_of(created) {
            oldest_day = Some(oldest_day.map_or(day, |oldest| oldest.min(day)));
        }
        if let Some(contribution) = kpi::contribution(stream, object) {
            contribution.add_to(cursor.open.entry(contribution.day).or_default());
        }
        if sweep {
            add_to_sweep(&mut cursor, object);
        }
    }

    if let Some(PageToken::Cursor(last)) = next {
        let kpis = oldest_day
            .map(|frontier| close_days_after(&mut cursor.open, frontier))
            .unwrap_or_default();
        cursor.starting_after = Some(last);
        return cursor::page(records, kpis, &cursor, true);
    }

    let mut kpis = close_all(&mut cursor.open);
    let next = if sweep {
        kpis.extend(kpi::churn_points(&cursor.churned));
        kpis.extend(kpi::mrr_points(cursor.day.unwrap_or(today), &cursor.mrr));
        Cursor::default()
    } else {
        let next_start = cursor
            .newest
            .and_then(kpi::day_of)
            .and_then(|day| day.checked_sub_days(Days::new(REVISIT_DAYS)))
            .map(kpi::day_start)
            .or(cursor.window_start);
        Cursor {
            window_start: next_start,
            ..Cursor::default()
        }
    };
    cursor::page(records, kpis, &next, false)
}

/// What a subscription adds to a sweep's churn and MRR.
fn add_to_sweep(cursor: &mut Cursor, subscription: &Value) {
    if let Some((day, currency)) = kpi::churn(subscription) {
        *cursor
            .churned
            .entry(day)
            .or_default()
            .entry(currency)
            .or_default() += 1;
    }
    if let Some((currency, monthly)) = kpi::mrr_of(subscription) {
        *cursor.mrr.entry(currency).or_default() += monthly;
    }
}

/// Emits the points of every open day newer than `frontier` and removes them.
fn close_days_after(open: &mut BTreeMap<NaiveDate, DaySums>, frontier: NaiveDate) -> Vec<KpiPoint> {
    let mut complete = match frontier.succ_opt() {
        Some(next) => open.split_off(&next),
        None => BTreeMap::new(),
    };
    close_all(&mut complete)
}

fn close_all(open: &mut BTreeMap<NaiveDate, DaySums>) -> Vec<KpiPoint> {
    std::mem::take(open)
        .iter()
        .flat_map(|(day, sums)| kpi::points(*day, sums))
        .collect()
}

/// Every object of a list, following `starting_after` to the end.
pub(crate) async fn list_all(
    client: &Client<'_>,
    path: &str,
    query: &[(&str, String)],
) -> Result<Vec<Value>, AdapterError> {
    let pages = paging::walk(MAX_RECOMPUTE_PAGES, |token| async move {
        let (list, next) = page(client, path, query, &token, MAX_PAGE_SIZE).await?;
        Ok((list.data, next))
    })
    .await?;
    Ok(pages.into_iter().flatten().collect())
}

/// Recomputes one day's totals of a stream (charges, refunds, or new subscriptions)
/// from every object created that day. A stream's list is at its name under `v1`.
pub(crate) async fn day_points(
    client: &Client<'_>,
    stream: &str,
    day: NaiveDate,
) -> Result<Vec<KpiPoint>, AdapterError> {
    let start = kpi::day_start(day);
    let mut query = vec![
        ("created[gte]", start.to_string()),
        ("created[lt]", (start + 86_400).to_string()),
    ];
    if stream == SUBSCRIPTIONS {
        query.push(("status", "all".to_owned()));
    }
    let mut sums = DaySums::new();
    for object in list_all(client, stream, &query).await? {
        if let Some(contribution) = kpi::contribution(stream, &object)
            && contribution.day == day
        {
            contribution.add_to(&mut sums);
        }
    }
    Ok(kpi::points(day, &sums))
}

/// Recomputes the churn of one day: canceled subscriptions that ended that day (only
/// subscriptions created before the day's end can have).
pub(crate) async fn churn_points(
    client: &Client<'_>,
    day: NaiveDate,
    currency: &str,
) -> Result<Vec<KpiPoint>, AdapterError> {
    let end = kpi::day_start(day) + 86_400;
    let query = [
        ("status", "canceled".to_owned()),
        ("created[lt]", end.to_string()),
    ];
    // The event's own currency reads 0 rather than nothing if the list lags behind.
    let mut churned: BTreeMap<String, i64> = [(currency.to_ascii_lowercase(), 0)].into();
    for object in list_all(client, SUBSCRIPTIONS, &query).await? {
        if let Some((ended, currency)) = kpi::churn(&object)
            && ended == day
        {
            *churned.entry(currency).or_default() += 1;
        }
    }
    Ok(kpi::churn_points(&[(day, churned)].into()))
}

/// Recomputes today's MRR from every subscription in an MRR status. `currency` (the
/// event's) is reported even when no subscription in it is left, as 0.
pub(crate) async fn mrr_points(
    client: &Client<'_>,
    today: NaiveDate,
    currency: &str,
) -> Result<Vec<KpiPoint>, AdapterError> {
    let mut mrr: BTreeMap<String, f64> = BTreeMap::new();
    mrr.insert(currency.to_ascii_lowercase(), 0.0);
    for status in kpi::MRR_STATUSES {
        let query = [("status", status.to_owned())];
        for object in list_all(client, SUBSCRIPTIONS, &query).await? {
            if let Some((currency, monthly)) = kpi::mrr_of(&object) {
                *mrr.entry(currency).or_default() += monthly;
            }
        }
    }
    Ok(kpi::mrr_points(today, &mrr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::CHARGES;
    use serde_json::json;

    #[test]
    fn cursors_round_trip_through_json() {
        let day = NaiveDate::from_ymd_opt(2026, 1, 2).unwrap();
        let mut sums = DaySums::new();
        sums.entry("gross_revenue".into())
            .or_default()
            .insert("usd".into(), 1099);
        let window = Cursor {
            window_start: Some(1_767_225_600),
            starting_after: Some("ch_1".into()),
            newest: Some(1_767_312_000),
            open: [(day, sums)].into(),
            ..Cursor::default()
        };
        let value = cursor::write(&window).unwrap();
        assert_eq!(value["open"]["2026-01-02"]["gross_revenue"]["usd"], 1099);
        assert_eq!(
            value.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["newest", "open", "starting_after", "window_start"]
        );
        assert_eq!(
            cursor::read::<Cursor>(Some(&value), CHARGES).unwrap(),
            Some(window)
        );
        assert_eq!(cursor::write(&Cursor::default()).unwrap(), json!({}));
        assert_eq!(cursor::read::<Cursor>(None, CHARGES).unwrap(), None);
        assert!(matches!(
            cursor::read::<Cursor>(Some(&json!({"window_start": "soon"})), CHARGES),
            Err(AdapterError::Invalid { field: Some(f), .. }) if f == "cursor"
        ));
        let sweep = Cursor {
            day: Some(day),
            starting_after: Some("sub_1".into()),
            churned: [(day, [("usd".to_owned(), 2)].into())].into(),
            mrr: [("usd".to_owned(), 1666.6666666666667)].into(),
            ..Cursor::default()
        };
        let value = cursor::write(&sweep).unwrap();
        assert_eq!(
            value.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["churned", "day", "mrr", "starting_after"]
        );
        assert_eq!(
            cursor::read::<Cursor>(Some(&value), SUBSCRIPTIONS).unwrap(),
            Some(sweep.clone())
        );
        assert_eq!(
            sweep.restarted(),
            Cursor {
                day: Some(day),
                ..Cursor::default()
            }
        );
    }

    #[test]
    fn only_days_newer_than_the_frontier_close() {
        let d = |n| NaiveDate::from_ymd_opt(2026, 1, n).unwrap();
        let mut sums = DaySums::new();
        sums.entry("refunds".into())
            .or_default()
            .insert("usd".into(), 100);
        let mut open: BTreeMap<NaiveDate, DaySums> =
            [(d(3), sums.clone()), (d(2), sums.clone())].into();
        let closed = close_days_after(&mut open, d(2));
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].date, d(3));
        assert_eq!(open.keys().copied().collect::<Vec<_>>(), [d(2)]);
        assert_eq!(close_all(&mut open).len(), 1);
        assert!(open.is_empty());
    }

    #[test]
    fn records_need_an_id_and_a_creation_time() {
        let (record, created) = to_record("charges", &json!({"id": "ch_1", "created": 5})).unwrap();
        assert_eq!((record.external_id.as_str(), created), ("ch_1", 5));
        for bad in [
            json!({"id": "ch_1"}),
            json!({"created": 5}),
            json!({"id": "", "created": 5}),
        ] {
            assert!(matches!(
                to_record("charges", &bad),
                Err(AdapterError::Unavailable { .. })
            ));
        }
    }
}
