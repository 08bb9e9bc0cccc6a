//! When a workspace's scheduled emails fall due — the daily digest at an hour, the
//! weekly report on a weekday at an hour — in the workspace's own time zone (an IANA
//! name, read with chrono-tz, daylight saving time included), and which week a report
//! covers.
//!
//! An hour that a clock change skips (02:00 on the night clocks go forward) is taken
//! as the first moment after the gap; an hour that happens twice (clocks go back) as
//! its first occurrence.

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

/// The weekdays as the API names them, Monday first (ISO order).
pub const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A time zone by its IANA name (`Europe/Berlin`, `UTC`); `None` for anything else.
pub fn time_zone(name: &str) -> Option<Tz> {
    name.parse().ok()
}

/// A weekday by its API name (`monday`), case-insensitively.
pub fn weekday(name: &str) -> Option<Weekday> {
    let name = name.trim().to_lowercase();
    WEEKDAYS
        .iter()
        .position(|day| *day == name)
        .and_then(|i| u8::try_from(i).ok())
        .and_then(|i| Weekday::try_from(i).ok())
}

/// The API name of a weekday.
pub fn weekday_name(day: Weekday) -> &'static str {
    WEEKDAYS[day.num_days_from_monday() as usize]
}

/// A weekday by its ISO number (1 = Monday ... 7 = Sunday).
pub fn weekday_from_iso(number: i16) -> Option<Weekday> {
    u8::try_from(number - 1)
        .ok()
        .and_then(|i| Weekday::try_from(i).ok())
}

/// The ISO number of a weekday (1 = Monday ... 7 = Sunday).
pub fn iso_number(day: Weekday) -> i16 {
    i16::try_from(day.number_from_monday()).unwrap_or(1)
}

/// One occurrence of a schedule: the local day it falls on and its moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    pub day: NaiveDate,
    pub at: DateTime<Utc>,
}

/// The moment `hour`:00 of `day` in `zone`.
pub fn at_local_hour(zone: Tz, day: NaiveDate, hour: u32) -> DateTime<Utc> {
    let time = NaiveTime::from_hms_opt(hour.min(23), 0, 0).unwrap_or(NaiveTime::MIN);
    let local = day.and_time(time);
    let resolved = match zone.from_local_datetime(&local) {
        LocalResult::Single(at) => Some(at),
        LocalResult::Ambiguous(first, _) => Some(first),
        // Skipped by a clock change: gaps last at most an hour.
        LocalResult::None => zone
            .from_local_datetime(&(local + TimeDelta::hours(1)))
            .earliest(),
    };
    resolved.map_or_else(|| local.and_utc(), |at| at.with_timezone(&Utc))
}

/// The latest daily occurrence at `hour` that is not after `now`.
pub fn latest_daily(zone: Tz, hour: u32, now: DateTime<Utc>) -> Occurrence {
    let today = now.with_timezone(&zone).date_naive();
    let at = at_local_hour(zone, today, hour);
    if at <= now {
        return Occurrence { day: today, at };
    }
    let yesterday = today.pred_opt().unwrap_or(today);
    Occurrence {
        day: yesterday,
        at: at_local_hour(zone, yesterday, hour),
    }
}

/// The next daily occurrence at `hour` after `now`.
pub fn next_daily(zone: Tz, hour: u32, now: DateTime<Utc>) -> Occurrence {
    let latest = latest_daily(zone, hour, now);
    let day = latest.day.succ_opt().unwrap_or(latest.day);
    Occurrence {
        day,
        at: at_local_hour(zone, day, hour),
    }
}

/// The latest weekly occurrence (`day` at `hour`) that is not after `now`.
pub fn latest_weekly(zone: Tz, day: Weekday, hour: u32, now: DateTime<Utc>) -> Occurrence {
    let today = now.with_timezone(&zone).date_naive();
    let this_week = today
        .week(Weekday::Mon)
        .first_day()
        .checked_add_days(Days::new(u64::from(day.num_days_from_monday())))
        .unwrap_or(today);
    let at = at_local_hour(zone, this_week, hour);
    if at <= now {
        return Occurrence { day: this_week, at };
    }
    let last_week = this_week
        .checked_sub_days(Days::new(7))
        .unwrap_or(this_week);
    Occurrence {
        day: last_week,
        at: at_local_hour(zone, last_week, hour),
    }
}

/// The next weekly occurrence after `now`.
pub fn next_weekly(zone: Tz, day: Weekday, hour: u32, now: DateTime<Utc>) -> Occurrence {
    let latest = latest_weekly(zone, day, hour, now);
    let next = latest
        .day
        .checked_add_days(Days::new(7))
        .unwrap_or(latest.day);
    Occurrence {
        day: next,
        at: at_local_hour(zone, next, hour),
    }
}

/// A week of seven days, starting on the workspace's first day of the week
/// (Monday, Sunday or Saturday: see [`crate::kpis::Calendar`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Week {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Week {
    /// The week `day` is in, for weeks starting on `first_day`.
    pub fn of(day: NaiveDate, first_day: Weekday) -> Self {
        let week = day.week(first_day);
        Self {
            start: week.first_day(),
            end: week.last_day(),
        }
    }

    /// The last whole week before the week of `day`: what a report sent on `day`
    /// covers.
    pub fn before(day: NaiveDate, first_day: Weekday) -> Self {
        Self::of(day, first_day).previous()
    }

    /// The week before this one.
    pub fn previous(self) -> Self {
        let back = |day: NaiveDate| day.checked_sub_days(Days::new(7)).unwrap_or(day);
        Self {
            start: back(self.start),
            end: back(self.end),
        }
    }

    /// `2026-W49`: the ISO year and week number of the week's last day — for a
    /// Monday-to-Sunday week its ISO week; weeks of any first day have one label
    /// each, as consecutive weeks end in consecutive ISO weeks.
    pub fn label(self) -> String {
        let iso = self.end.iso_week();
        format!("{}-W{:02}", iso.year(), iso.week())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_else(|| panic!("{y}-{m}-{d}"))
    }

    #[test]
    fn names_parse_and_round_trip() {
        assert_eq!(time_zone("Europe/Berlin"), Some(chrono_tz::Europe::Berlin));
        assert_eq!(time_zone("UTC"), Some(chrono_tz::UTC));
        for bad in ["", "Mars/Olympus", "europe/berlin", "+02:00"] {
            assert_eq!(time_zone(bad), None, "{bad}");
        }
        for (i, name) in WEEKDAYS.iter().enumerate() {
            let day = weekday(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(weekday_name(day), *name);
            let iso = i16::try_from(i + 1).unwrap_or_default();
            assert_eq!(iso_number(day), iso);
            assert_eq!(weekday_from_iso(iso), Some(day));
        }
        assert_eq!(weekday(" Friday "), Some(Weekday::Fri));
        assert_eq!(weekday("fri"), None);
        assert_eq!(weekday_from_iso(0), None);
        assert_eq!(weekday_from_iso(8), None);
    }

    #[test]
    fn hours_are_local_across_daylight_saving_time() {
        let berlin = chrono_tz::Europe::Berlin;
        // Winter (UTC+1) and summer (UTC+2).
        assert_eq!(
            at_local_hour(berlin, date(2026, 12, 7), 9),
            utc("2026-12-07T08:00:00Z")
        );
        assert_eq!(
            at_local_hour(berlin, date(2026, 7, 6), 9),
            utc("2026-07-06T07:00:00Z")
        );
        // 02:00 does not exist on 29 March 2026: the first moment after the gap.
        assert_eq!(
            at_local_hour(berlin, date(2026, 3, 29), 2),
            utc("2026-03-29T01:00:00Z")
        );
        // 02:00 happens twice on 25 October 2026: the first one (still UTC+2).
        assert_eq!(
            at_local_hour(berlin, date(2026, 10, 25), 2),
            utc("2026-10-25T00:00:00Z")
        );
    }

    #[test]
    fn the_latest_and_next_occurrences_bracket_now() {
        let tokyo = chrono_tz::Asia::Tokyo;
        // 2026-12-07 is a Monday; 23:30 UTC on Sunday the 6th is 08:30 Monday in Tokyo.
        let now = utc("2026-12-06T23:30:00Z");
        let daily = latest_daily(tokyo, 8, now);
        assert_eq!(daily.day, date(2026, 12, 7));
        assert_eq!(daily.at, utc("2026-12-06T23:00:00Z"));
        assert_eq!(next_daily(tokyo, 8, now).at, utc("2026-12-07T23:00:00Z"));
        let before_nine = latest_daily(tokyo, 9, now);
        assert_eq!(before_nine.day, date(2026, 12, 6));

        let weekly = latest_weekly(tokyo, Weekday::Mon, 8, now);
        assert_eq!(weekly.day, date(2026, 12, 7));
        let not_yet = latest_weekly(tokyo, Weekday::Mon, 9, now);
        assert_eq!(not_yet.day, date(2026, 11, 30));
        assert_eq!(
            next_weekly(tokyo, Weekday::Mon, 9, now).at,
            utc("2026-12-07T00:00:00Z")
        );
        let sunday = latest_weekly(tokyo, Weekday::Sun, 8, now);
        assert_eq!(sunday.day, date(2026, 12, 6));
        // Exactly at the moment counts as due.
        assert_eq!(latest_daily(tokyo, 8, daily.at).at, daily.at);
    }

    #[test]
    fn a_report_covers_the_last_whole_week() {
        let week = Week::before(date(2026, 12, 7), Weekday::Mon);
        assert_eq!(
            (week.start, week.end),
            (date(2026, 11, 30), date(2026, 12, 6))
        );
        assert_eq!(week.label(), "2026-W49");
        assert_eq!(Week::before(date(2026, 12, 13), Weekday::Mon), week);
        let previous = week.previous();
        assert_eq!(
            (previous.start, previous.end),
            (date(2026, 11, 23), date(2026, 11, 29))
        );
        // ISO years: 2026-12-28 is in 2026-W53, 2027-01-04 starts 2027-W01.
        assert_eq!(Week::of(date(2027, 1, 1), Weekday::Mon).label(), "2026-W53");
        assert_eq!(Week::of(date(2027, 1, 4), Weekday::Mon).label(), "2027-W01");
    }

    #[test]
    fn weeks_start_on_the_workspaces_first_day() {
        // 2026-12-07 is a Monday: a report sent that day covers the last whole week.
        let sunday = Week::before(date(2026, 12, 7), Weekday::Sun);
        assert_eq!(
            (sunday.start, sunday.end),
            (date(2026, 11, 29), date(2026, 12, 5))
        );
        let saturday = Week::before(date(2026, 12, 7), Weekday::Sat);
        assert_eq!(
            (saturday.start, saturday.end),
            (date(2026, 11, 28), date(2026, 12, 4))
        );
        // Sent on the first day itself, the week that just ended.
        let on_sunday = Week::before(date(2026, 12, 6), Weekday::Sun);
        assert_eq!(on_sunday, sunday);
        assert_eq!(sunday.previous().end, date(2026, 11, 28));
        // One label per week, whatever the first day: a workspace moving its first
        // day from Monday to Sunday gets the next week's report, not a duplicate key.
        let monday_week = Week::before(date(2026, 11, 30), Weekday::Mon);
        assert_eq!(monday_week.label(), "2026-W48");
        assert_eq!(sunday.label(), "2026-W49");
        assert_eq!(saturday.label(), "2026-W49");
        assert_ne!(sunday.label(), sunday.previous().label());
    }
}
