//! The `items` stream: `GET /v1/items?created_since=YYYY-MM-DD`, newest first, paged
//! as [`PAGING`] says. Each item is a record (its id, the item as the provider sent
//! it) and a KPI point: its `value` on the day it was created, broken down by item.
//!
//! The stored cursor is a [`Cursor`]: the first creation day the pass reads and,
//! while paging, the provider's cursor of the next page. A first sync reads the
//! lookback period; once a pass reaches the end of the list, the next one starts
//! [`REREAD_DAYS`] back, so items created since are read and recent ones re-read
//! (records and points upsert, so re-reading changes values rather than adding rows).

use chrono::{DateTime, Duration as Days, NaiveDate};
use http::Method;
use junction_core::{AdapterError, Connection, KpiPoint, Page, ReadRequest, Record};
use junction_toolkit::{Client, PageToken, cursor, data};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    api::PAGING,
    spec::{ITEM_VALUE, ITEMS, LOOKBACK},
};

/// Days a pass re-reads behind the day the previous one ended.
pub(crate) const REREAD_DAYS: i64 = 1;

/// The stored cursor of `items`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    /// The first creation day the pass reads.
    since: NaiveDate,
    /// The provider's cursor of the next page; absent on a pass's first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    page: Option<String>,
}

/// Reads one page of `items` from the request's cursor.
pub(crate) async fn read(
    client: &Client<'_>,
    conn: &Connection,
    request: &ReadRequest,
) -> Result<Page, AdapterError> {
    let today = client.context().now().date_naive();
    let cursor = match cursor::read::<Cursor>(request.cursor.as_ref(), ITEMS)? {
        Some(cursor) => cursor,
        None => Cursor {
            since: today - Days::days(LOOKBACK.read(conn)?),
            page: None,
        },
    };
    let token = PageToken::from_cursor(cursor.page.clone());
    let size = PAGING.size.pick(request.page_size);
    let since = cursor.since.format("%Y-%m-%d").to_string();
    let http = client
        .page_request(Method::GET, ITEMS, &PAGING, &token, size)?
        .query(&[("created_since", since)]);
    let fetched = client.fetch(http).await?;
    let next = PAGING.next(&token, size, &fetched.headers, &fetched.body)?;
    let Some(items) = fetched.body.pointer(PAGING.items).and_then(Value::as_array) else {
        return Err(AdapterError::unavailable(format!(
            "malformed response body: no list at `{}`",
            PAGING.items
        )));
    };
    let (records, kpis) = data::records_and_points(items, map_item)?;
    let (next, has_more) = match next.and_then(PageToken::into_cursor) {
        Some(page) => (
            Cursor {
                page: Some(page),
                ..cursor
            },
            true,
        ),
        None => {
            let since = (today - Days::days(REREAD_DAYS)).max(cursor.since);
            (Cursor { since, page: None }, false)
        }
    };
    cursor::page(records, kpis, &next, has_more)
}

/// An item as its record and KPI point. A malformed item is `Unavailable`, naming
/// the field without quoting its value.
fn map_item(item: &Value) -> Result<(Record, Vec<KpiPoint>), AdapterError> {
    let fields = data::Fields::new(item, "Sendgrid sent an item");
    let id = fields.text("id")?;
    let created = DateTime::parse_from_rfc3339(&fields.text("created_at")?)
        .map_err(|_| fields.malformed("created_at", "is not an RFC 3339 time"))?;
    let kpis = fields
        .number("value")?
        .map(|value| {
            KpiPoint::total(ITEM_VALUE, created.to_utc().date_naive(), value)
                .with_dimension("item", &id)
        })
        .into_iter()
        .collect();
    let record = Record {
        external_id: id,
        data: item.clone(),
        modified_at: None,
    };
    Ok((record, kpis))
}
