//! Typed cursors and the windows of days incremental reads cover.
//!
//! A stream's stored cursor is a serde type of the adapter's own; [`read`] turns the
//! stored JSON into it (a cursor that is not one is an `Invalid` error naming
//! `cursor`, never a panic or a silent restart) and [`write`] stores it back.
//!
//! Reports by day (GA4, Meta, Kit's stats) read a [`Window`]: on a first sync the
//! lookback period up to today, then from where the last window said to start again
//! (a few days back, as providers restate recent days) up to today.

use chrono::{Duration as Days, NaiveDate};
use junction_core::AdapterError;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

/// The stored cursor of `stream` as `T`; `None` (or JSON null) on a first sync.
pub fn read<T: DeserializeOwned>(
    value: Option<&Value>,
    stream: &str,
) -> Result<Option<T>, AdapterError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(value) => T::deserialize(value).map(Some).map_err(|_| {
            AdapterError::invalid_field(
                "cursor",
                format!("is not a cursor of the `{stream}` stream"),
            )
        }),
    }
}

/// `cursor` as the JSON to store.
pub fn write<T: Serialize>(cursor: &T) -> Result<Value, AdapterError> {
    serde_json::to_value(cursor)
        .map_err(|err| AdapterError::invalid(format!("cursor not serializable: {err}")))
}

/// An inclusive range of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Window {
    /// The first sync's window: `days` back from `today`, through today.
    pub fn lookback(today: NaiveDate, days: u32) -> Self {
        Self {
            start: today - Days::days(i64::from(days)),
            end: today,
        }
    }

    /// A window from a stored cursor: `start` through `end` while paging through
    /// one, else through `today`. A start after the end (a cursor written by a clock
    /// ahead of ours) is moved to the end, so a range is never inverted.
    pub fn resume(start: NaiveDate, end: Option<NaiveDate>, today: NaiveDate) -> Self {
        let end = end.unwrap_or(today);
        Self {
            start: start.min(end),
            end,
        }
    }

    /// Where the next window starts: `days` before this one's end, so the days a
    /// provider still restates are read again (records and KPI points upsert).
    pub fn reread_from(&self, days: i64) -> NaiveDate {
        self.end - Days::days(days)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Cursor {
        since: NaiveDate,
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn cursors_round_trip_and_bad_ones_name_the_cursor() {
        let cursor = Cursor {
            since: day("2026-03-01"),
        };
        let stored = write(&cursor).unwrap();
        assert_eq!(stored, json!({"since": "2026-03-01"}));
        assert_eq!(read::<Cursor>(Some(&stored), "s").unwrap(), Some(cursor));
        assert_eq!(read::<Cursor>(None, "s").unwrap(), None);
        assert_eq!(read::<Cursor>(Some(&Value::Null), "s").unwrap(), None);
        let err = read::<Cursor>(Some(&json!({"page": 2})), "insights").unwrap_err();
        assert_eq!(
            err,
            AdapterError::invalid_field("cursor", "is not a cursor of the `insights` stream")
        );
    }

    #[test]
    fn windows() {
        let today = day("2026-03-31");
        assert_eq!(
            Window::lookback(today, 30),
            Window {
                start: day("2026-03-01"),
                end: today
            }
        );
        let paging = Window::resume(day("2026-03-01"), Some(day("2026-03-10")), today);
        assert_eq!(paging.end, day("2026-03-10"));
        assert_eq!(paging.reread_from(3), day("2026-03-07"));
        let future = Window::resume(day("2027-01-01"), None, today);
        assert_eq!((future.start, future.end), (today, today));
    }
}
