//! Reading Resend's JSON (as the official OpenAPI spec, v1.5.0, describes it): emails
//! without their bodies, and Resend's timestamps and metrics periods. (Its error body
//! is read by the error table of `api::API`.)
//!
//! Answers are kept as JSON values: records store the object as Resend returned it,
//! so fields Resend adds later arrive without a code change. Only what the adapter
//! reads (`id`, `created_at`, a list's `data`) is pulled out.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

/// An email without its message bodies (large, and not needed to follow delivery).
pub(crate) fn without_bodies(mut email: Value) -> Value {
    if let Some(map) = email.as_object_mut() {
        map.remove("html");
        map.remove("text");
    }
    email
}

/// The `created_at` of a list item, parsed.
pub(crate) fn created_at_of(item: &Value) -> Option<DateTime<Utc>> {
    item.get("created_at")
        .and_then(Value::as_str)
        .and_then(parse_timestamp)
}

/// Parses a Resend timestamp. The REST API writes Postgres-style text
/// (`2023-04-03 22:13:42.674981+00`), webhooks RFC 3339 (`2023-10-06T23:47:56.678Z`);
/// both are accepted.
pub(crate) fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(parsed) = DateTime::parse_from_rfc3339(text) {
        return Some(parsed.with_timezone(&Utc));
    }
    // `%#z` accepts an offset with or without minutes (`+00`, `+05:30`).
    for format in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(parsed) = DateTime::parse_from_str(text, format) {
            return Some(parsed.with_timezone(&Utc));
        }
    }
    None
}

/// The day of a metrics row's `period`: an ISO date or the datetime of the bucket's
/// start (Resend buckets in the requested time zone, UTC here).
pub(crate) fn period_date(period: &str) -> Option<NaiveDate> {
    if let Some(at) = parse_timestamp(period) {
        return Some(at.date_naive());
    }
    let day = period.get(..10)?;
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn both_timestamp_styles_parse() {
        let expected = Utc
            .with_ymd_and_hms(2023, 4, 3, 22, 13, 42)
            .unwrap()
            .checked_add_signed(chrono::Duration::microseconds(674_981))
            .unwrap();
        assert_eq!(
            parse_timestamp("2023-04-03 22:13:42.674981+00"),
            Some(expected)
        );
        assert_eq!(
            parse_timestamp("2023-04-03T22:13:42.674981Z"),
            Some(expected)
        );
        assert_eq!(
            parse_timestamp("2023-04-04 00:13:42.674981+02:00"),
            Some(expected)
        );
        assert_eq!(
            parse_timestamp("2023-04-03 22:13:42+00"),
            Some(Utc.with_ymd_and_hms(2023, 4, 3, 22, 13, 42).unwrap())
        );
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp(""), None);
    }

    #[test]
    fn periods_are_days() {
        let day = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
        assert_eq!(period_date("2026-07-01"), Some(day));
        assert_eq!(period_date("2026-07-01T00:00:00.000Z"), Some(day));
        assert_eq!(period_date("2026-07-01 00:00:00+00"), Some(day));
        assert_eq!(period_date("July"), None);
    }
}
