//! The `suppressions` stream: SendGrid's four account suppression lists, one after
//! the other — `GET /v3/suppression/bounces`, `/blocks`, `/spam_reports` and
//! `/unsubscribes` — each a bare JSON array paged with `limit` (up to 500) and
//! `offset` ([`OFFSET_PAGING`]), filtered by `start_time` (unix seconds of `created`).
//!
//! A record is one address on one list (`{type}:{email}`), the entry as SendGrid
//! sent it plus its `type`. The cursor is `{"since", "list", "offset"}`: the oldest
//! `created` the pass reads, the list it is on and the next offset. A first sync
//! reads the lookback period; a finished pass leaves `since` one day before it
//! started, so the next sync reads what was added since (entries upsert).

use chrono::Duration as Days;
use http::Method;
use junction_core::{AdapterError, Connection, Page, Record};
use junction_toolkit::{Client, PageToken, cursor, data::Fields};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    api::OFFSET_PAGING,
    spec::{LOOKBACK, SUPPRESSIONS},
};

/// The suppression lists, in the order a pass reads them: `(type, path)`.
pub const LISTS: [(&str, &str); 4] = [
    ("bounces", "suppression/bounces"),
    ("blocks", "suppression/blocks"),
    ("spam_reports", "suppression/spam_reports"),
    ("unsubscribes", "suppression/unsubscribes"),
];

/// The stored cursor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Cursor {
    /// Unix seconds: entries created since are read.
    since: i64,
    #[serde(default)]
    list: usize,
    #[serde(default)]
    offset: u64,
}

/// Reads one page of `suppressions`.
pub(crate) async fn read(
    client: &Client<'_>,
    conn: &Connection,
    stored: Option<&Value>,
    page_size: Option<u32>,
) -> Result<Page, AdapterError> {
    let now = client.context().now();
    let cursor = match cursor::read::<Cursor>(stored, SUPPRESSIONS)? {
        Some(cursor) => cursor,
        None => Cursor {
            since: (now - Days::days(LOOKBACK.read(conn)?)).timestamp(),
            list: 0,
            offset: 0,
        },
    };
    let Some((kind, path)) = LISTS.get(cursor.list) else {
        return Err(AdapterError::invalid_field(
            "cursor",
            format!("is not a cursor of the `{SUPPRESSIONS}` stream"),
        ));
    };
    let size = OFFSET_PAGING.size.pick(page_size);
    let token = if cursor.offset == 0 {
        PageToken::First
    } else {
        PageToken::Offset(cursor.offset)
    };
    let request = client
        .page_request(Method::GET, path, &OFFSET_PAGING, &token, size)?
        .query(&[("start_time", cursor.since.to_string())]);
    let fetched = client.fetch(request).await?;
    let next = OFFSET_PAGING.next(&token, size, &fetched.headers, &fetched.body)?;
    let items = fetched.body.as_array().ok_or_else(|| {
        AdapterError::unavailable("malformed response body: a suppression list is not an array")
    })?;
    let records = items
        .iter()
        .map(|item| record(kind, item))
        .collect::<Result<Vec<_>, _>>()?;
    let (next, more) = match next {
        Some(PageToken::Offset(offset)) if !items.is_empty() => (Cursor { offset, ..cursor }, true),
        _ if cursor.list + 1 < LISTS.len() => (
            Cursor {
                since: cursor.since,
                list: cursor.list + 1,
                offset: 0,
            },
            true,
        ),
        _ => (
            Cursor {
                since: (now - Days::days(1)).timestamp().max(cursor.since),
                list: 0,
                offset: 0,
            },
            false,
        ),
    };
    cursor::page(records, Vec::new(), &next, more)
}

/// One suppression entry as its record.
fn record(kind: &str, item: &Value) -> Result<Record, AdapterError> {
    let fields = Fields::new(item, "SendGrid sent a suppression");
    let email = fields.text("email")?;
    let mut data = item.clone();
    data["type"] = json!(kind);
    let modified_at = item
        .get("created")
        .and_then(Value::as_i64)
        .and_then(|at| chrono::DateTime::from_timestamp(at, 0));
    Ok(Record {
        external_id: format!("{kind}:{}", email.to_lowercase()),
        data,
        modified_at,
    })
}
