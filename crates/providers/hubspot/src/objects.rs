//! The CRM object streams `contacts`, `companies` and `deals` (CRM v3 objects).
//!
//! A first sync reads the whole list, `GET /crm/v3/objects/{type}?limit=100&
//! properties=..&after=..` to its end, remembering the latest change it saw. Later
//! syncs read what changed since through the search API: `POST
//! /crm/v3/objects/{type}/search` with a filter `{last-modified property} GTE {since}`
//! sorted ascending by it, paged with `after`. The property is `lastmodifieddate` for
//! contacts and `hs_lastmodifieddate` for companies and deals, as HubSpot names them.
//!
//! HubSpot's search answers at most 10,000 results of one query (an `after` past it is
//! refused): when a pass reaches that, the next page starts a new search from the
//! latest change seen so far, which the ascending sort makes the last one read. The
//! filter is `GTE`, so the boundary record is read again (records upsert). Should
//! more than 10,000 records share one millisecond of change — a bulk import can — the
//! next search starts a millisecond later rather than loop forever on them.
//!
//! Archived (deleted) records are not in lists or searches; deletions arrive through
//! webhooks (see `webhooks`).

use chrono::{DateTime, Utc};
use http::Method;
use junction_core::{AdapterError, Page, ReadRequest, Record};
use junction_toolkit::{Client, PageToken, cursor, data};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    api::{PAGING, SEARCH_PAGING, SEARCH_RESULT_LIMIT},
    spec::{COMPANIES, CONTACTS, DEALS},
};

/// A CRM object type as Junction reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ObjectType {
    /// The stream.
    pub stream: &'static str,
    /// The path segment (`contacts`).
    pub plural: &'static str,
    /// The singular name HubSpot's associations and webhooks use (`contact`).
    pub singular: &'static str,
    /// HubSpot's object type id (`0-1`), in generic webhook events.
    pub type_id: &'static str,
    /// The property of the last change, as its search filters it.
    pub modified: &'static str,
    /// The properties read (HubSpot sends only a few without a list).
    pub properties: &'static [&'static str],
}

pub(crate) const CONTACT: ObjectType = ObjectType {
    stream: CONTACTS,
    plural: "contacts",
    singular: "contact",
    type_id: "0-1",
    modified: "lastmodifieddate",
    properties: &[
        "email",
        "firstname",
        "lastname",
        "phone",
        "company",
        "jobtitle",
        "lifecyclestage",
        "hs_lead_status",
        "hubspot_owner_id",
        "createdate",
        "lastmodifieddate",
    ],
};

pub(crate) const COMPANY: ObjectType = ObjectType {
    stream: COMPANIES,
    plural: "companies",
    singular: "company",
    type_id: "0-2",
    modified: "hs_lastmodifieddate",
    properties: &[
        "name",
        "domain",
        "industry",
        "phone",
        "city",
        "country",
        "numberofemployees",
        "annualrevenue",
        "lifecyclestage",
        "hubspot_owner_id",
        "createdate",
        "hs_lastmodifieddate",
    ],
};

pub(crate) const DEAL: ObjectType = ObjectType {
    stream: DEALS,
    plural: "deals",
    singular: "deal",
    type_id: "0-3",
    modified: "hs_lastmodifieddate",
    properties: DEAL_PROPERTIES,
};

/// The deal properties every read asks for (the KPIs read some of them).
pub(crate) const DEAL_PROPERTIES: &[&str] = &[
    "dealname",
    "amount",
    "deal_currency_code",
    "pipeline",
    "dealstage",
    "closedate",
    "hs_is_closed",
    "hs_is_closed_won",
    "hubspot_owner_id",
    "createdate",
    "hs_lastmodifieddate",
];

/// The object types, for lookups by stream, name or type id.
pub(crate) const TYPES: [ObjectType; 3] = [CONTACT, COMPANY, DEAL];

/// The object type of `stream`.
pub(crate) fn of_stream(stream: &str) -> Option<ObjectType> {
    TYPES.into_iter().find(|t| t.stream == stream)
}

/// Where a pass stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Mode {
    /// The first sync's full read of the list.
    List,
    /// Reading the changes since `since` through the search API.
    Search,
}

/// The stored cursor of an object stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor {
    mode: Mode,
    /// HubSpot's cursor of the next page of the pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
    /// The change (epoch milliseconds) the search starts from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<i64>,
    /// The latest change the pass has seen so far (epoch milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seen: Option<i64>,
    /// When the first list pass began, where the first search starts when the list
    /// was empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    started: Option<i64>,
}

/// Reads one page of `kind`'s stream from the request's cursor.
pub(crate) async fn read(
    client: &Client<'_>,
    kind: ObjectType,
    request: &ReadRequest,
) -> Result<Page, AdapterError> {
    let now = client.context().now().timestamp_millis();
    let cursor = cursor::read::<Cursor>(request.cursor.as_ref(), kind.stream)?.unwrap_or(Cursor {
        mode: Mode::List,
        after: None,
        since: None,
        seen: None,
        started: Some(now),
    });
    let token = PageToken::from_cursor(cursor.after.clone());
    let (paging, fetched) = match cursor.mode {
        Mode::List => {
            let size = PAGING.size.pick(request.page_size);
            let http = client
                .page_request(Method::GET, &path(kind, ""), &PAGING, &token, size)?
                .query(&[
                    ("properties", kind.properties.join(",")),
                    ("archived", "false".to_owned()),
                ]);
            ((PAGING, size), client.fetch(http).await?)
        }
        Mode::Search => {
            let size = SEARCH_PAGING.size.pick(request.page_size);
            let since = cursor.since.unwrap_or(0);
            let body = search_body(kind, since, &token, size);
            let http = client
                .request(Method::POST, &path(kind, "/search"))?
                .json(&body);
            ((SEARCH_PAGING, size), client.fetch(http).await?)
        }
    };
    let (paging, size) = paging;
    let next = paging.next(&token, size, &fetched.headers, &fetched.body)?;
    let items = fetched
        .body
        .pointer(paging.items)
        .and_then(Value::as_array)
        .ok_or_else(|| {
            AdapterError::unavailable(format!(
                "HubSpot sent no list at `{}` for {}",
                paging.items, kind.plural
            ))
        })?;
    let mut seen = cursor.seen;
    let mut records = Vec::with_capacity(items.len());
    for item in items {
        let record = record(item, kind)?;
        if let Some(at) = record.modified_at {
            seen = seen.max(Some(at.timestamp_millis()));
        }
        records.push(record);
    }
    let next_after = next.and_then(PageToken::into_cursor);
    let (next, has_more) = match (cursor.mode, next_after) {
        (Mode::Search, Some(after)) if past_search_limit(&after) => {
            // A new search from the latest change read (the last of the sorted pass).
            let since = cursor.since.unwrap_or(0);
            let from = seen.unwrap_or(since);
            let from = if from <= since { since + 1 } else { from };
            (
                Cursor {
                    mode: Mode::Search,
                    after: None,
                    since: Some(from),
                    seen,
                    started: None,
                },
                true,
            )
        }
        (mode, Some(after)) => (
            Cursor {
                mode,
                after: Some(after),
                seen,
                ..cursor
            },
            true,
        ),
        (mode, None) => {
            let since = match mode {
                Mode::List => seen.or(cursor.started).unwrap_or(now),
                Mode::Search => seen.max(cursor.since).unwrap_or(now),
            };
            (
                Cursor {
                    mode: Mode::Search,
                    after: None,
                    since: Some(since),
                    seen: None,
                    started: None,
                },
                false,
            )
        }
    };
    cursor::page(records, Vec::new(), &next, has_more)
}

/// `crm/v3/objects/{plural}{rest}`.
pub(crate) fn path(kind: ObjectType, rest: &str) -> String {
    format!("crm/v3/objects/{}{rest}", kind.plural)
}

/// The body of a search for `kind`'s records changed at or after `since`, oldest
/// change first.
fn search_body(kind: ObjectType, since: i64, token: &PageToken, size: u32) -> Value {
    let mut body = json!({
        "filterGroups": [{"filters": [
            {"propertyName": kind.modified, "operator": "GTE", "value": since.to_string()}
        ]}],
        "sorts": [{"propertyName": kind.modified, "direction": "ASCENDING"}],
        "properties": kind.properties,
        "limit": size,
    });
    if let PageToken::Cursor(after) = token {
        body["after"] = Value::String(after.clone());
    }
    body
}

/// Whether HubSpot's next search cursor is at its 10,000-result limit (its search
/// cursors count results).
fn past_search_limit(after: &str) -> bool {
    after
        .parse::<u64>()
        .is_ok_and(|position| position >= SEARCH_RESULT_LIMIT)
}

/// A CRM object as its record: its id, the object as HubSpot sent it, its last
/// change. A malformed object is `Unavailable`, naming the field.
pub(crate) fn record(item: &Value, kind: ObjectType) -> Result<Record, AdapterError> {
    let what = format!("HubSpot sent a {}", kind.singular);
    let fields = data::Fields::new(item, &what);
    let id = fields.text("id")?;
    let modified_at = match item.get("updatedAt").and_then(Value::as_str) {
        Some(text) => Some(
            DateTime::parse_from_rfc3339(text)
                .map_err(|_| fields.malformed("updatedAt", "is not an RFC 3339 time"))?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    Ok(Record {
        external_id: id,
        data: item.clone(),
        modified_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_filter_and_sort_by_the_last_change() {
        let body = search_body(
            CONTACT,
            1_700_000_000_000,
            &PageToken::Cursor("200".into()),
            200,
        );
        assert_eq!(
            body["filterGroups"][0]["filters"][0],
            json!({"propertyName": "lastmodifieddate", "operator": "GTE", "value": "1700000000000"})
        );
        assert_eq!(body["sorts"][0]["direction"], "ASCENDING");
        assert_eq!(body["after"], "200");
        assert_eq!(body["limit"], 200);
        let first = search_body(DEAL, 0, &PageToken::First, 100);
        assert!(first.get("after").is_none());
        assert_eq!(first["sorts"][0]["propertyName"], "hs_lastmodifieddate");
    }

    #[test]
    fn the_limit_is_ten_thousand_results() {
        assert!(!past_search_limit("9800"));
        assert!(past_search_limit("10000"));
        assert!(!past_search_limit("opaque"));
    }
}
