//! Typed cursors and the windows of days incremental reads cover.
//!
//! A stream's stored cursor is a serde type of the adapter's own; [`read`] turns the
//! stored JSON into it (a cursor that is not one is an `Invalid` error naming
//! `cursor`, never a panic or a silent restart) and [`write()`] stores it back.
//!
//! Reports by day (GA4, Meta, Kit's stats) read a [`Window`]: on a first sync the
//! lookback period up to today, then from where the last window said to start again
//! (a few days back, as providers restate recent days) up to today.

use chrono::{Duration as Days, NaiveDate};
use junction_core::{AdapterError, KpiPoint, Page, Record};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::paging::PageToken;

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

/// A page of records and points with `cursor` to store after it.
pub fn page<T: Serialize>(
    records: Vec<Record>,
    kpis: Vec<KpiPoint>,
    cursor: &T,
    has_more: bool,
) -> Result<Page, AdapterError> {
    Ok(Page {
        records,
        kpis,
        next_cursor: Some(write(cursor)?),
        has_more,
    })
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

/// A stored cursor of a stream read in windows of days: the window's first day, its
/// last day while a window is being paged through, and the page reached. Each
/// adapter keeps its own serde type (and so its stored format) and says how it maps.
pub trait WindowCursor: Serialize + DeserializeOwned {
    /// `(start, end, page)`; `end` is `None` between windows.
    fn window(&self) -> (NaiveDate, Option<NaiveDate>, PageToken);
    /// The cursor of a window from `start` (through `end` while paging) at `page`.
    fn at(start: NaiveDate, end: Option<NaiveDate>, page: PageToken) -> Self;
}

/// One request of a windowed read: its days and its page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowRead {
    pub days: Window,
    pub page: PageToken,
}

impl WindowRead {
    /// The read a stored cursor of `stream` calls for (see [`WindowRead::from_cursor`]).
    pub fn plan<C: WindowCursor>(
        stored: Option<&Value>,
        stream: &str,
        today: NaiveDate,
        lookback_days: u32,
    ) -> Result<Self, AdapterError> {
        Ok(Self::from_cursor(
            read::<C>(stored, stream)?.as_ref(),
            today,
            lookback_days,
        ))
    }

    /// A first sync reads the lookback period; a cursor inside a window goes on
    /// where it stopped; a cursor between windows starts one through today.
    pub fn from_cursor<C: WindowCursor>(
        cursor: Option<&C>,
        today: NaiveDate,
        lookback_days: u32,
    ) -> Self {
        match cursor.map(WindowCursor::window) {
            None => Self {
                days: Window::lookback(today, lookback_days),
                page: PageToken::First,
            },
            Some((start, end, page)) => Self {
                days: Window::resume(start, end, today),
                // A page belongs to the window it was read in.
                page: if end.is_some() {
                    page
                } else {
                    PageToken::First
                },
            },
        }
    }

    /// The read after the settings a cursor was written under changed (another
    /// breakdown, another level): the cursor's page means nothing now and the new
    /// settings have no history, so the lookback period is read through today — from
    /// the cursor's `start` when that is earlier, so no day it covered is left out.
    pub fn restart(start: NaiveDate, today: NaiveDate, lookback_days: u32) -> Self {
        let lookback = Window::lookback(today, lookback_days);
        Self {
            days: Window::resume(start.min(lookback.start), None, today),
            page: PageToken::First,
        }
    }

    /// The cursor after this read, whose next page is `next`: that page of this
    /// window, or, at the window's end, the next window from `next_start`; and
    /// whether more follows right away.
    pub fn advance<C: WindowCursor>(
        &self,
        next: Option<PageToken>,
        next_start: NaiveDate,
    ) -> (C, bool) {
        match next {
            Some(page) => (C::at(self.days.start, Some(self.days.end), page), true),
            None => (C::at(next_start, None, PageToken::First), false),
        }
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

    impl WindowCursor for Cursor {
        fn window(&self) -> (NaiveDate, Option<NaiveDate>, PageToken) {
            (self.since, None, PageToken::First)
        }
        fn at(start: NaiveDate, _: Option<NaiveDate>, _: PageToken) -> Self {
            Self { since: start }
        }
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Paged {
        start: NaiveDate,
        end: Option<NaiveDate>,
        offset: u64,
    }

    impl WindowCursor for Paged {
        fn window(&self) -> (NaiveDate, Option<NaiveDate>, PageToken) {
            (self.start, self.end, PageToken::Offset(self.offset))
        }
        fn at(start: NaiveDate, end: Option<NaiveDate>, page: PageToken) -> Self {
            let offset = match page {
                PageToken::Offset(offset) => offset,
                _ => 0,
            };
            Self { start, end, offset }
        }
    }

    #[test]
    fn windowed_reads_plan_and_advance() {
        let today = day("2026-03-31");
        let first = WindowRead::plan::<Paged>(None, "s", today, 30).unwrap();
        assert_eq!(first.days, Window::lookback(today, 30));
        let (cursor, more) = first.advance::<Paged>(Some(PageToken::Offset(10)), today);
        assert!(more);
        let stored = write(&cursor).unwrap();
        let second = WindowRead::plan::<Paged>(Some(&stored), "s", day("2026-04-02"), 30).unwrap();
        assert_eq!(
            second,
            WindowRead {
                days: first.days,
                page: PageToken::Offset(10)
            }
        );
        let (cursor, more) = second.advance::<Paged>(None, second.days.reread_from(3));
        assert!(!more);
        assert_eq!(
            cursor,
            Paged {
                start: day("2026-03-28"),
                end: None,
                offset: 0
            }
        );
        let third = WindowRead::from_cursor(Some(&cursor), day("2026-04-02"), 30);
        assert_eq!(
            (third.days.start, third.days.end),
            (day("2026-03-28"), day("2026-04-02"))
        );
        let between = Cursor {
            since: day("2026-03-01"),
        };
        let read = WindowRead::from_cursor(Some(&between), today, 30);
        assert_eq!(read.page, PageToken::First);
    }

    #[test]
    fn changed_settings_restart_with_the_lookback_period() {
        let today = day("2026-03-15");
        let read = WindowRead::restart(day("2026-03-01"), today, 30);
        assert_eq!(read.days, Window::lookback(today, 30));
        assert_eq!(read.page, PageToken::First);
        let earlier = WindowRead::restart(day("2026-01-02"), today, 30);
        assert_eq!(
            (earlier.days.start, earlier.days.end),
            (day("2026-01-02"), today)
        );
        let ahead = WindowRead::restart(day("2027-01-01"), today, 0);
        assert_eq!((ahead.days.start, ahead.days.end), (today, today));
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
