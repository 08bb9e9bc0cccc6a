//! Cursor pagination: the `limit` and `cursor` query parameters every list takes, and
//! the cursors themselves.
//!
//! A cursor is a list's position — the sort key (keyset) of the last item of a page —
//! written as plain text that one regular expression describes exactly
//! ([`Keyset::PATTERN`]): every string the pattern matches is a position the list can
//! resume from, and nothing else is. So the OpenAPI document can declare what a
//! cursor is, and a client (or a test generator) holding a string that matches gets a
//! page, never a refusal. Cursors stay opaque to clients: only `next_cursor` should
//! be passed back.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use junction_core::ErrorCode;
use regex::{Captures, Regex};
use serde::Deserialize;
use utoipa::{
    IntoParams,
    openapi::{ObjectBuilder, Type, schema::Object},
};
use uuid::Uuid;

use junction_app::{Listed, PageRequest};

use crate::error::ApiError;

/// The default page size.
pub const DEFAULT_LIMIT: i64 = 50;
/// The largest page size a client may ask for.
pub const MAX_LIMIT: i64 = 200;

/// A list's position, written as a cursor.
pub trait Keyset: Sized {
    /// An anchored regular expression that matches exactly this keyset's cursors.
    const PATTERN: &'static str;

    /// The compiled [`Self::PATTERN`] (`None` only if it did not compile, which a
    /// unit test rules out: every cursor is then refused, never misread).
    fn regex() -> Option<&'static Regex>;

    /// The position of a cursor the pattern matched.
    fn from_captures(captures: &Captures<'_>) -> Option<Self>;

    /// The cursor of this position.
    fn to_cursor(&self) -> String;

    /// The position of `cursor`, if it is one of this keyset's.
    fn from_cursor(cursor: &str) -> Option<Self> {
        Self::regex()?
            .captures(cursor)
            .and_then(|captures| Self::from_captures(&captures))
    }
}

fn compiled(cell: &'static OnceLock<Option<Regex>>, pattern: &str) -> Option<&'static Regex> {
    cell.get_or_init(|| Regex::new(pattern).ok()).as_ref()
}

/// Microseconds since 1970 (at most 16 digits: until the year 2286).
fn moment(digits: &str) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(digits.parse().ok()?)
}

/// Most lists: newest or oldest first by a moment, ties broken by the row's id.
/// `{microseconds since 1970}-{the id as 32 hex digits}`.
impl Keyset for (DateTime<Utc>, Uuid) {
    const PATTERN: &'static str = "^([0-9]{1,16})-([0-9a-f]{32})$";

    fn regex() -> Option<&'static Regex> {
        static CELL: OnceLock<Option<Regex>> = OnceLock::new();
        compiled(&CELL, Self::PATTERN)
    }

    fn from_captures(captures: &Captures<'_>) -> Option<Self> {
        Some((
            moment(captures.get(1)?.as_str())?,
            Uuid::try_parse(captures.get(2)?.as_str()).ok()?,
        ))
    }

    fn to_cursor(&self) -> String {
        format!("{}-{}", self.0.timestamp_micros(), self.1.simple())
    }
}

/// Records: by the moment they changed, ties broken by the provider's id.
/// `{microseconds since 1970}-{the id's UTF-8 bytes in hex}`.
impl Keyset for (DateTime<Utc>, String) {
    const PATTERN: &'static str = "^([0-9]{1,16})-((?:[0-9a-f]{2})*)$";

    fn regex() -> Option<&'static Regex> {
        static CELL: OnceLock<Option<Regex>> = OnceLock::new();
        compiled(&CELL, Self::PATTERN)
    }

    fn from_captures(captures: &Captures<'_>) -> Option<Self> {
        let hex = captures.get(2)?.as_str().as_bytes();
        let bytes: Option<Vec<u8>> = hex
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
            .collect();
        // Any bytes are a position; ids are stored as storable text, so a position
        // is compared as such.
        let id = String::from_utf8_lossy(&bytes?).into_owned();
        Some((
            moment(captures.get(1)?.as_str())?,
            junction_core::storable::sanitize_text(&id).into_owned(),
        ))
    }

    fn to_cursor(&self) -> String {
        let hex: String = self.1.bytes().map(|b| format!("{b:02x}")).collect();
        format!("{}-{hex}", self.0.timestamp_micros())
    }
}

/// Integration logs: by their sequence number. `{the number}`.
impl Keyset for i64 {
    const PATTERN: &'static str = "^([0-9]{1,18})$";

    fn regex() -> Option<&'static Regex> {
        static CELL: OnceLock<Option<Regex>> = OnceLock::new();
        compiled(&CELL, Self::PATTERN)
    }

    fn from_captures(captures: &Captures<'_>) -> Option<Self> {
        captures.get(1)?.as_str().parse().ok()
    }

    fn to_cursor(&self) -> String {
        self.to_string()
    }
}

/// The schema of a cursor of keyset `K`.
fn cursor_schema<K: Keyset>() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(K::PATTERN))
        .description(Some(
            "The `next_cursor` of the previous page (the position it ended at).",
        ))
        .build()
}

/// The cursor of most lists (ordered by a moment and an id).
pub fn cursor() -> Object {
    cursor_schema::<(DateTime<Utc>, Uuid)>()
}

/// The cursor of the record list.
pub fn record_cursor() -> Object {
    cursor_schema::<(DateTime<Utc>, String)>()
}

/// The cursor of an integration's log.
pub fn log_cursor() -> Object {
    cursor_schema::<i64>()
}

/// The schema of `limit`.
pub fn limit() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(MAX_LIMIT))
        .default(Some(DEFAULT_LIMIT.into()))
        .description(Some("Items per page."))
        .build()
}

/// `?limit=&cursor=` (lists ordered by a moment and an id).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    #[param(schema_with = limit)]
    pub limit: Option<i64>,
    #[param(schema_with = cursor)]
    pub cursor: Option<String>,
}

impl PageParams {
    /// The page size, validated.
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
            Some(_) => Err(ApiError::field(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            )),
        }
    }

    /// The decoded keyset of the cursor, if one was given.
    pub fn keyset<K: Keyset>(&self) -> Result<Option<K>, ApiError> {
        self.cursor.as_deref().map(decode).transpose()
    }

    /// The page a use case reads: the checked limit and the decoded cursor.
    pub fn request<K: Keyset>(&self) -> Result<PageRequest<K>, ApiError> {
        Ok(PageRequest {
            limit: self.limit()?,
            after: self.keyset()?,
        })
    }
}

/// A page of a use case's list rendered as `{data, next_cursor}`.
pub fn page<T, K: Keyset, V>(
    listed: Listed<T, K>,
    view: impl FnMut(T) -> V,
) -> (Vec<V>, Option<String>) {
    let next = listed.next.as_ref().map(Keyset::to_cursor);
    (listed.items.into_iter().map(view).collect(), next)
}

/// Decodes a cursor of keyset `K`.
pub fn decode<K: Keyset>(cursor: &str) -> Result<K, ApiError> {
    K::from_cursor(cursor).ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidCursor,
            "the cursor is not one this list issued",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<K: Keyset + PartialEq + std::fmt::Debug>(position: K) {
        let cursor = position.to_cursor();
        assert!(K::regex().unwrap().is_match(&cursor), "{cursor}");
        assert_eq!(K::from_cursor(&cursor), Some(position));
    }

    #[test]
    fn cursors_round_trip_and_match_their_pattern() {
        let at = DateTime::parse_from_rfc3339("2026-11-22T10:11:12.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        round_trips((at, Uuid::new_v4()));
        round_trips((at, "ch_3N\u{e9}/x y".to_owned()));
        round_trips((at, String::new()));
        round_trips(42_i64);
        let (items, next) = page(
            Listed {
                items: vec![1, 2],
                next: Some(2_i64),
            },
            |i| i * 10,
        );
        assert_eq!((items, next.as_deref()), (vec![10, 20], Some("2")));
    }

    #[test]
    fn every_string_the_pattern_takes_is_a_position_and_nothing_else_is() {
        type ByTime = (DateTime<Utc>, Uuid);
        type ByChange = (DateTime<Utc>, String);
        for taken in [
            "0-00000000000000000000000000000000",
            "9999999999999999-ffffffffffffffffffffffffffffffff",
        ] {
            assert!(ByTime::from_cursor(taken).is_some(), "{taken}");
        }
        for refused in [
            "",
            "1-FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
            "1-0000",
            "12345678901234567-00000000000000000000000000000000",
            "-1-00000000000000000000000000000000",
            "not a cursor!",
        ] {
            assert!(ByTime::from_cursor(refused).is_none(), "{refused}");
        }
        assert_eq!(
            ByChange::from_cursor("5-61006200ff").map(|(_, id)| id),
            Some("a\u{fffd}b\u{fffd}\u{fffd}".to_owned()),
            "any bytes are a position, stored text compares as text"
        );
        assert!(ByChange::from_cursor("5-abc").is_none());
        assert!(i64::from_cursor("999999999999999999").is_some());
        assert!(i64::from_cursor("1e3").is_none());
    }
}
