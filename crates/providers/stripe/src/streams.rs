//! Reading Stripe's list endpoints into pages of records and KPI points.
//!
//! Stripe lists objects newest first and pages with `starting_after` (the id of the
//! last object of the previous page). Two ways of reading are used:
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
use junction_core::{AdapterError, KpiPoint, Page, Record};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::{
    api::{Api, List},
    kpi::{self, DaySums},
    spec::{CHARGES, CUSTOMERS, INVOICES, PAYMENT_INTENTS, REFUNDS, SUBSCRIPTIONS},
};

/// How many days before the newest object seen the next window starts.
pub const REVISIT_DAYS: u64 = 7;

/// Stripe's largest page.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Most pages one recomputation (after a webhook) may read before giving up.
const MAX_RECOMPUTE_PAGES: usize = 5_000;

/// The list endpoint of a stream.
pub(crate) fn path_of(stream: &str) -> Option<&'static str> {
    Some(match stream {
        CHARGES => "v1/charges",
        PAYMENT_INTENTS => "v1/payment_intents",
        CUSTOMERS => "v1/customers",
        SUBSCRIPTIONS => "v1/subscriptions",
        INVOICES => "v1/invoices",
        REFUNDS => "v1/refunds",
        _ => return None,
    })
}

/// The cursor of a windowed stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct WindowCursor {
    /// `created[gte]` of the window; absent for the whole history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_start: Option<i64>,
    /// The last object read in this window; absent before its first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_after: Option<String>,
    /// The newest `created` seen in this window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest: Option<i64>,
    /// Days not complete yet, with their partial sums.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub open: BTreeMap<NaiveDate, DaySums>,
}

/// The cursor of the subscriptions sweep.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SweepCursor {
    /// The day the sweep reports MRR for (the day it started); absent between sweeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_after: Option<String>,
    /// `new_subscriptions` days not complete yet.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub open: BTreeMap<NaiveDate, DaySums>,
    /// Canceled subscriptions by the day they ended, per currency.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub churned: BTreeMap<NaiveDate, BTreeMap<String, i64>>,
    /// Monthly recurring revenue per currency, fractional minor units.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mrr: BTreeMap<String, f64>,
}

fn parse_cursor<T: DeserializeOwned + Default>(cursor: Option<&Value>) -> Result<T, AdapterError> {
    match cursor {
        None | Some(Value::Null) => Ok(T::default()),
        Some(value) => T::deserialize(value)
            .map_err(|err| AdapterError::invalid_field("cursor", format!("unreadable: {err}"))),
    }
}

fn to_cursor<T: Serialize>(cursor: &T) -> Result<Value, AdapterError> {
    serde_json::to_value(cursor)
        .map_err(|err| AdapterError::invalid(format!("cursor not serializable: {err}")))
}

fn page_size(wish: Option<u32>) -> u32 {
    wish.unwrap_or(MAX_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE)
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

/// Fetches one list page. A `starting_after` Stripe no longer knows (the object was
/// deleted, e.g. a customer) is reported as `Ok(None)`, so the caller can restart.
async fn fetch(
    api: &Api<'_>,
    stream: &str,
    path: &str,
    limit: u32,
    window_start: Option<i64>,
    starting_after: Option<&str>,
) -> Result<Option<List>, AdapterError> {
    let mut query = vec![("limit".to_owned(), limit.to_string())];
    if stream == SUBSCRIPTIONS {
        // The default list leaves canceled subscriptions out; churn needs them.
        query.push(("status".to_owned(), "all".to_owned()));
    }
    if let Some(start) = window_start {
        query.push(("created[gte]".to_owned(), start.to_string()));
    }
    if let Some(after) = starting_after {
        query.push(("starting_after".to_owned(), after.to_owned()));
    }
    match api.list(path, &query).await {
        Ok(list) => {
            if list.has_more && list.data.is_empty() {
                return Err(AdapterError::unavailable(format!(
                    "Stripe said more {stream} follow but sent none"
                )));
            }
            Ok(Some(list))
        }
        Err(AdapterError::Invalid {
            field: Some(field), ..
        }) if field == "starting_after" && starting_after.is_some() => {
            tracing::info!(
                provider = crate::PROVIDER_ID,
                stream,
                "the object paging resumed after is gone; restarting the window"
            );
            Ok(None)
        }
        Err(err) => Err(err),
    }
}

/// Reads one page of a stream.
pub(crate) async fn read(
    api: &Api<'_>,
    stream: &str,
    cursor: Option<&Value>,
    page_size_wish: Option<u32>,
) -> Result<Page, AdapterError> {
    let Some(path) = path_of(stream) else {
        return Err(AdapterError::invalid_field(
            "stream",
            format!("Stripe has no stream `{stream}`"),
        ));
    };
    let limit = page_size(page_size_wish);
    if stream == SUBSCRIPTIONS {
        read_sweep(api, path, parse_cursor(cursor)?, limit).await
    } else {
        read_window(api, stream, path, parse_cursor(cursor)?, limit).await
    }
}

/// Emits the points of every open day newer than `frontier` and removes them.
fn close_days_after(open: &mut BTreeMap<NaiveDate, DaySums>, frontier: NaiveDate) -> Vec<KpiPoint> {
    let complete = match frontier.succ_opt() {
        Some(next) => open.split_off(&next),
        None => BTreeMap::new(),
    };
    complete
        .iter()
        .flat_map(|(day, sums)| kpi::points(*day, sums))
        .collect()
}

fn close_all(open: &mut BTreeMap<NaiveDate, DaySums>) -> Vec<KpiPoint> {
    std::mem::take(open)
        .iter()
        .flat_map(|(day, sums)| kpi::points(*day, sums))
        .collect()
}

async fn read_window(
    api: &Api<'_>,
    stream: &str,
    path: &str,
    mut cursor: WindowCursor,
    limit: u32,
) -> Result<Page, AdapterError> {
    let list = match fetch(
        api,
        stream,
        path,
        limit,
        cursor.window_start,
        cursor.starting_after.as_deref(),
    )
    .await?
    {
        Some(list) => list,
        None => {
            cursor = WindowCursor {
                window_start: cursor.window_start,
                ..WindowCursor::default()
            };
            fetch(api, stream, path, limit, cursor.window_start, None)
                .await?
                .ok_or_else(|| AdapterError::unavailable("Stripe refused a first page"))?
        }
    };

    let mut records = Vec::with_capacity(list.data.len());
    let mut oldest_day = None;
    for object in &list.data {
        let (record, created) = to_record(stream, object)?;
        records.push(record);
        cursor.newest = Some(cursor.newest.map_or(created, |newest| newest.max(created)));
        let day = kpi::day_of(created);
        oldest_day = match (oldest_day, day) {
            (Some(oldest), Some(day)) => Some(std::cmp::min(oldest, day)),
            (None, day) => day,
            (oldest, None) => oldest,
        };
        if let Some(contribution) = kpi::contribution(stream, object) {
            contribution.add_to(cursor.open.entry(contribution.day).or_default());
        }
    }

    if list.has_more {
        let kpis = oldest_day
            .map(|frontier| close_days_after(&mut cursor.open, frontier))
            .unwrap_or_default();
        cursor.starting_after = records.last().map(|r| r.external_id.clone());
        return Ok(Page {
            records,
            kpis,
            next_cursor: Some(to_cursor(&cursor)?),
            has_more: true,
        });
    }

    let kpis = close_all(&mut cursor.open);
    let next_start = cursor
        .newest
        .and_then(kpi::day_of)
        .and_then(|day| day.checked_sub_days(Days::new(REVISIT_DAYS)))
        .map(kpi::day_start)
        .or(cursor.window_start);
    let next = WindowCursor {
        window_start: next_start,
        ..WindowCursor::default()
    };
    Ok(Page {
        records,
        kpis,
        next_cursor: Some(to_cursor(&next)?),
        has_more: false,
    })
}

async fn read_sweep(
    api: &Api<'_>,
    path: &str,
    mut cursor: SweepCursor,
    limit: u32,
) -> Result<Page, AdapterError> {
    let today = api.now().date_naive();
    if cursor.day.is_none() {
        cursor = SweepCursor {
            day: Some(today),
            ..SweepCursor::default()
        };
    }
    let list = match fetch(
        api,
        SUBSCRIPTIONS,
        path,
        limit,
        None,
        cursor.starting_after.as_deref(),
    )
    .await?
    {
        Some(list) => list,
        None => {
            cursor = SweepCursor {
                day: cursor.day,
                ..SweepCursor::default()
            };
            fetch(api, SUBSCRIPTIONS, path, limit, None, None)
                .await?
                .ok_or_else(|| AdapterError::unavailable("Stripe refused a first page"))?
        }
    };

    let mut records = Vec::with_capacity(list.data.len());
    let mut oldest_day = None;
    for object in &list.data {
        let (record, created) = to_record(SUBSCRIPTIONS, object)?;
        records.push(record);
        if let Some(day) = kpi::day_of(created) {
            oldest_day = Some(oldest_day.map_or(day, |oldest: NaiveDate| oldest.min(day)));
        }
        if let Some(contribution) = kpi::contribution(SUBSCRIPTIONS, object) {
            contribution.add_to(cursor.open.entry(contribution.day).or_default());
        }
        if let Some((day, currency)) = kpi::churn(object) {
            *cursor
                .churned
                .entry(day)
                .or_default()
                .entry(currency)
                .or_default() += 1;
        }
        if let Some((currency, monthly)) = kpi::mrr_of(object) {
            *cursor.mrr.entry(currency).or_default() += monthly;
        }
    }

    if list.has_more {
        let kpis = oldest_day
            .map(|frontier| close_days_after(&mut cursor.open, frontier))
            .unwrap_or_default();
        cursor.starting_after = records.last().map(|r| r.external_id.clone());
        return Ok(Page {
            records,
            kpis,
            next_cursor: Some(to_cursor(&cursor)?),
            has_more: true,
        });
    }

    let mut kpis = close_all(&mut cursor.open);
    kpis.extend(kpi::churn_points(&cursor.churned));
    kpis.extend(kpi::mrr_points(cursor.day.unwrap_or(today), &cursor.mrr));
    Ok(Page {
        records,
        kpis,
        next_cursor: Some(to_cursor(&SweepCursor::default())?),
        has_more: false,
    })
}

/// Every object of a list, following `starting_after` to the end.
pub(crate) async fn list_all(
    api: &Api<'_>,
    path: &str,
    query: &[(String, String)],
) -> Result<Vec<Value>, AdapterError> {
    let mut objects: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..MAX_RECOMPUTE_PAGES {
        let mut page_query = query.to_vec();
        page_query.push(("limit".to_owned(), MAX_PAGE_SIZE.to_string()));
        if let Some(after) = &after {
            page_query.push(("starting_after".to_owned(), after.clone()));
        }
        let list = api.list(path, &page_query).await?;
        let last = list
            .data
            .last()
            .and_then(|o| o.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let has_more = list.has_more;
        objects.extend(list.data);
        match (has_more, last) {
            (false, _) => return Ok(objects),
            (true, Some(last)) if after.as_deref() != Some(last.as_str()) => after = Some(last),
            (true, _) => {
                return Err(AdapterError::unavailable(format!(
                    "Stripe's {path} list does not advance"
                )));
            }
        }
    }
    Err(AdapterError::unavailable(format!(
        "{path} has more than {} pages; the nightly sync will bring it up to date",
        MAX_RECOMPUTE_PAGES
    )))
}

fn day_range(day: NaiveDate) -> Vec<(String, String)> {
    let start = kpi::day_start(day);
    vec![
        ("created[gte]".to_owned(), start.to_string()),
        ("created[lt]".to_owned(), (start + 86_400).to_string()),
    ]
}

/// Recomputes one day's totals of a stream (charges, refunds, or new subscriptions)
/// from every object created that day.
pub(crate) async fn day_points(
    api: &Api<'_>,
    stream: &str,
    day: NaiveDate,
) -> Result<Vec<KpiPoint>, AdapterError> {
    let Some(path) = path_of(stream) else {
        return Ok(Vec::new());
    };
    let mut query = day_range(day);
    if stream == SUBSCRIPTIONS {
        query.push(("status".to_owned(), "all".to_owned()));
    }
    let mut sums = DaySums::new();
    for object in list_all(api, path, &query).await? {
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
    api: &Api<'_>,
    day: NaiveDate,
    currency: &str,
) -> Result<Vec<KpiPoint>, AdapterError> {
    let end = kpi::day_start(day) + 86_400;
    let query = vec![
        ("status".to_owned(), "canceled".to_owned()),
        ("created[lt]".to_owned(), end.to_string()),
    ];
    let mut churned: BTreeMap<NaiveDate, BTreeMap<String, i64>> = BTreeMap::new();
    // The event's own currency reads 0 rather than nothing if the list lags behind.
    churned
        .entry(day)
        .or_default()
        .insert(currency.to_ascii_lowercase(), 0);
    for object in list_all(api, "v1/subscriptions", &query).await? {
        if let Some((ended, currency)) = kpi::churn(&object)
            && ended == day
        {
            *churned.entry(day).or_default().entry(currency).or_default() += 1;
        }
    }
    Ok(kpi::churn_points(&churned))
}

/// Recomputes today's MRR from every subscription in an MRR status. `currency` (the
/// event's) is reported even when no subscription in it is left, as 0.
pub(crate) async fn mrr_points(
    api: &Api<'_>,
    today: NaiveDate,
    currency: &str,
) -> Result<Vec<KpiPoint>, AdapterError> {
    let mut mrr: BTreeMap<String, f64> = BTreeMap::new();
    mrr.insert(currency.to_ascii_lowercase(), 0.0);
    for status in kpi::MRR_STATUSES {
        let query = vec![("status".to_owned(), status.to_owned())];
        for object in list_all(api, "v1/subscriptions", &query).await? {
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
    use serde_json::json;

    #[test]
    fn cursors_round_trip_through_json() {
        let day = NaiveDate::from_ymd_opt(2026, 1, 2).unwrap();
        let mut sums = DaySums::new();
        sums.entry("gross_revenue".into())
            .or_default()
            .insert("usd".into(), 1099);
        let cursor = WindowCursor {
            window_start: Some(1_767_225_600),
            starting_after: Some("ch_1".into()),
            newest: Some(1_767_312_000),
            open: [(day, sums)].into(),
        };
        let value = to_cursor(&cursor).unwrap();
        assert_eq!(value["open"]["2026-01-02"]["gross_revenue"]["usd"], 1099);
        assert_eq!(parse_cursor::<WindowCursor>(Some(&value)).unwrap(), cursor);
        assert_eq!(to_cursor(&WindowCursor::default()).unwrap(), json!({}));
        assert_eq!(
            parse_cursor::<WindowCursor>(None).unwrap(),
            WindowCursor::default()
        );
        assert!(matches!(
            parse_cursor::<WindowCursor>(Some(&json!({"window_start": "soon"}))),
            Err(AdapterError::Invalid { .. })
        ));
        let sweep = SweepCursor {
            day: Some(day),
            starting_after: Some("sub_1".into()),
            open: BTreeMap::new(),
            churned: [(day, [("usd".to_owned(), 2)].into())].into(),
            mrr: [("usd".to_owned(), 1666.6666666666667)].into(),
        };
        let value = to_cursor(&sweep).unwrap();
        assert_eq!(parse_cursor::<SweepCursor>(Some(&value)).unwrap(), sweep);
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
