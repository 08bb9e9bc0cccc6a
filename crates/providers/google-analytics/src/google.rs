//! Calling `runReport` and reading Google's errors.
//!
//! The generic classification of a refusal looks at the status and headers, but GA4
//! says in the body which quota ran out, and that decides between "slow down"
//! (concurrent requests) and "come back after the reset" (token quotas). So requests
//! go through [`junction_core::http::send_refined`], and [`refine`] reads Google's error
//! JSON `{"error": {"code", "message", "status"}}`.

use chrono::{DateTime, Datelike, Duration as Days, NaiveDate, TimeZone, Timelike, Utc, Weekday};
use junction_core::{
    AdapterError, Connection, Context,
    http::{ResponsePolicy, send_refined},
    spec::ProviderSpec,
};
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::{
    spec::DEFAULT_BASE,
    wire::{RunReportRequest, RunReportResponse},
};

/// Runs one report for `property_id` with the connection's access token.
pub(crate) async fn run_report(
    ctx: &Context,
    spec: &ProviderSpec,
    conn: &Connection,
    property_id: &str,
    body: &RunReportRequest,
) -> Result<RunReportResponse, AdapterError> {
    let url = ctx.url(
        DEFAULT_BASE,
        &format!("v1beta/properties/{property_id}:runReport"),
    )?;
    let token = conn.bearer()?;
    let request = ctx
        .http
        .post(url)
        .bearer_auth(token.expose_secret())
        .json(body);

    let response = send_refined(
        ctx,
        spec,
        request,
        &ResponsePolicy::for_auth(&spec.auth),
        |classified, refusal| {
            refine(
                classified,
                refusal.status.as_u16(),
                refusal.body,
                refusal.now,
                property_id,
            )
        },
    )
    .await?;
    junction_core::http::json(response).await
}

/// Google's error envelope.
#[derive(Debug, Deserialize)]
struct ErrorEnvelope {
    error: GoogleError,
}

#[derive(Debug, Deserialize)]
struct GoogleError {
    #[serde(default)]
    message: String,
    /// The canonical code name: `RESOURCE_EXHAUSTED`, `PERMISSION_DENIED`, ...
    #[serde(default)]
    status: String,
}

/// Refines the generic classification of a GA4 refusal with what Google's error body
/// says. Anything it does not recognise keeps the generic classification.
pub(crate) fn refine(
    base: AdapterError,
    http_status: u16,
    body: &[u8],
    now: DateTime<Utc>,
    property_id: &str,
) -> AdapterError {
    let (status, message) = match serde_json::from_slice::<ErrorEnvelope>(body) {
        Ok(envelope) => (envelope.error.status, envelope.error.message),
        Err(_) => (String::new(), String::new()),
    };
    let status = if status.is_empty() {
        // Without a body, the HTTP status says which canonical code it was.
        match http_status {
            400 => "INVALID_ARGUMENT",
            401 => "UNAUTHENTICATED",
            403 => "PERMISSION_DENIED",
            429 => "RESOURCE_EXHAUSTED",
            _ => "",
        }
    } else {
        status.as_str()
    };
    match status {
        "RESOURCE_EXHAUSTED" => quota_error(base, &message, now),
        // Access tokens last about an hour; a refresh gets a new one.
        "UNAUTHENTICATED" => AdapterError::Unauthorized {
            refreshable: true,
            message: or_default(&message, "Google rejected the access token"),
        },
        "PERMISSION_DENIED" => AdapterError::Unauthorized {
            refreshable: false,
            message: format!(
                "the connected Google account has no access to GA4 property {property_id}: give \
                 it at least the Viewer role in Google Analytics (Admin → Property access \
                 management), or reconnect with an account that has it and grant the \
                 Analytics read-only permission. Google said: {}",
                or_default(&message, "permission denied")
            ),
        },
        "INVALID_ARGUMENT" => AdapterError::Invalid {
            field: field_named_by(&message),
            message: or_default(&message, "GA4 rejected the report request"),
        },
        _ => base,
    }
}

fn or_default(message: &str, default: &str) -> String {
    let message = base_message(message);
    if message.is_empty() {
        default.to_owned()
    } else {
        message
    }
}

/// Google's message as one short line (messages are for humans reading a dashboard).
fn base_message(message: &str) -> String {
    let line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > 300 {
        let mut cut: String = line.chars().take(299).collect();
        cut.push('…');
        cut
    } else {
        line
    }
}

/// Which config field a 400 is about, when its message says: GA4 names unknown
/// dimensions (`Field city2 is not a valid dimension`) and bad property ids.
fn field_named_by(message: &str) -> Option<String> {
    let lower = message.to_ascii_lowercase();
    if lower.contains("dimension") {
        Some("dimensions".into())
    } else if lower.contains("property") {
        Some("property_id".into())
    } else {
        None
    }
}

/// A `RESOURCE_EXHAUSTED` refusal. GA4 says which quota ran out in the message:
/// "Exhausted concurrent requests quota." is transient (a request in flight will
/// finish), while "Exhausted property tokens per hour/per day" (and the per-project
/// and server-error hourly quotas) last until the quota resets.
fn quota_error(base: AdapterError, message: &str, now: DateTime<Utc>) -> AdapterError {
    let lower = message.to_ascii_lowercase();
    if lower.contains("concurrent") {
        return match base {
            rate @ AdapterError::RateLimited { .. } => rate,
            _ => AdapterError::RateLimited { retry_after: None },
        };
    }
    if lower.contains("per day") {
        return AdapterError::QuotaExhausted {
            resets_at: Some(next_pacific_midnight(now)),
        };
    }
    if lower.contains("per hour") {
        return AdapterError::QuotaExhausted {
            resets_at: Some(next_hour(now)),
        };
    }
    match base {
        rate @ AdapterError::RateLimited { .. } => rate,
        _ => AdapterError::RateLimited { retry_after: None },
    }
}

/// The start of the next hour (UTC hours and Pacific hours start together). GA4 does
/// not say when an hourly quota refills; the next full hour is the documented
/// behaviour of Google's hourly quotas and the earliest a retry can succeed.
pub(crate) fn next_hour(now: DateTime<Utc>) -> DateTime<Utc> {
    let hour_start = now
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    hour_start + Days::hours(1)
}

/// The next midnight in US Pacific time, when Google resets daily quotas. The API
/// does not report the reset moment, so this is an estimate: it applies the current
/// US daylight-saving rule (PDT, UTC−7, from 02:00 on the second Sunday of March to
/// 02:00 on the first Sunday of November; PST, UTC−8, otherwise) instead of a time
/// zone database, which is exact for every date since 2007 until the rule changes.
pub(crate) fn next_pacific_midnight(now: DateTime<Utc>) -> DateTime<Utc> {
    let local_today = (now + Days::hours(pacific_offset_hours(now))).date_naive();
    let tomorrow = local_today + Days::days(1);
    // At 00:00 local time the offset is that of the previous evening: DST starts and
    // ends at 02:00, so midnight of the switch day still has the old offset.
    let offset = if in_dst_at_midnight(tomorrow) { -7 } else { -8 };
    let midnight = Utc.from_utc_datetime(&tomorrow.and_time(chrono::NaiveTime::MIN));
    midnight - Days::hours(offset)
}

/// Pacific time's offset from UTC at an instant, in hours.
fn pacific_offset_hours(at: DateTime<Utc>) -> i64 {
    let year = at.year();
    let (Some(start), Some(end)) = (dst_start(year), dst_end(year)) else {
        return -8;
    };
    // 02:00 PST is 10:00 UTC; 02:00 PDT is 09:00 UTC.
    let starts = Utc.from_utc_datetime(&start.and_time(chrono::NaiveTime::MIN)) + Days::hours(10);
    let ends = Utc.from_utc_datetime(&end.and_time(chrono::NaiveTime::MIN)) + Days::hours(9);
    if at >= starts && at < ends { -7 } else { -8 }
}

/// Whether 00:00 Pacific on `day` falls in daylight-saving time.
fn in_dst_at_midnight(day: NaiveDate) -> bool {
    match (dst_start(day.year()), dst_end(day.year())) {
        (Some(start), Some(end)) => day > start && day <= end,
        _ => false,
    }
}

/// The second Sunday of March.
fn dst_start(year: i32) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, 3, Weekday::Sun, 2)
}

/// The first Sunday of November.
fn dst_end(year: i32) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, 11, Weekday::Sun, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn google(code: u16, status: &str, message: &str) -> Vec<u8> {
        json!({"error": {"code": code, "message": message, "status": status}})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn pacific_midnight_follows_daylight_saving() {
        // Winter: PST, midnight is 08:00 UTC.
        assert_eq!(
            next_pacific_midnight(at("2026-01-15T12:00:00Z")),
            at("2026-01-16T08:00:00Z")
        );
        // 03:00 UTC on Jan 16 is still Jan 15 in California.
        assert_eq!(
            next_pacific_midnight(at("2026-01-16T03:00:00Z")),
            at("2026-01-16T08:00:00Z")
        );
        // Summer: PDT, midnight is 07:00 UTC.
        assert_eq!(
            next_pacific_midnight(at("2026-07-01T20:00:00Z")),
            at("2026-07-02T07:00:00Z")
        );
        // DST starts on 2026-03-08: midnight of the 8th is PST, of the 9th PDT.
        assert_eq!(
            next_pacific_midnight(at("2026-03-07T20:00:00Z")),
            at("2026-03-08T08:00:00Z")
        );
        assert_eq!(
            next_pacific_midnight(at("2026-03-08T20:00:00Z")),
            at("2026-03-09T07:00:00Z")
        );
        // DST ends on 2026-11-01: midnight of the 1st is PDT, of the 2nd PST.
        assert_eq!(
            next_pacific_midnight(at("2026-10-31T20:00:00Z")),
            at("2026-11-01T07:00:00Z")
        );
        assert_eq!(
            next_pacific_midnight(at("2026-11-01T20:00:00Z")),
            at("2026-11-02T08:00:00Z")
        );
    }

    #[test]
    fn next_hour_is_the_start_of_the_following_hour() {
        assert_eq!(
            next_hour(at("2026-03-15T12:34:56.789Z")),
            at("2026-03-15T13:00:00Z")
        );
    }

    #[test]
    fn resource_exhausted_is_told_apart_by_the_quota() {
        let now = at("2026-01-15T12:34:00Z");
        let base = AdapterError::RateLimited {
            retry_after: Some(std::time::Duration::from_secs(2)),
        };
        let refined = |message: &str| {
            refine(
                base.clone(),
                429,
                &google(429, "RESOURCE_EXHAUSTED", message),
                now,
                "1",
            )
        };
        assert_eq!(refined("Exhausted concurrent requests quota."), base);
        assert_eq!(
            refined("Exhausted property tokens per hour. Refresh in 26 minutes."),
            AdapterError::QuotaExhausted {
                resets_at: Some(at("2026-01-15T13:00:00Z"))
            }
        );
        assert_eq!(
            refined("Exhausted property tokens per project per hour."),
            AdapterError::QuotaExhausted {
                resets_at: Some(at("2026-01-15T13:00:00Z"))
            }
        );
        assert_eq!(
            refined("Exhausted property tokens per day."),
            AdapterError::QuotaExhausted {
                resets_at: Some(at("2026-01-16T08:00:00Z"))
            }
        );
        assert_eq!(
            refined("Resource has been exhausted (e.g. check quota)."),
            base
        );
    }

    #[test]
    fn permission_and_argument_errors() {
        let now = at("2026-01-15T12:00:00Z");
        let base = AdapterError::Provider {
            status: 403,
            code: None,
            message: String::new(),
        };
        let err = refine(
            base.clone(),
            403,
            &google(
                403,
                "PERMISSION_DENIED",
                "User does not have sufficient permissions for this property.",
            ),
            now,
            "42",
        );
        let AdapterError::Unauthorized {
            refreshable,
            message,
        } = err
        else {
            panic!("{err:?}")
        };
        assert!(!refreshable);
        assert!(message.contains("property 42"), "{message}");
        let err = refine(
            base,
            400,
            &google(
                400,
                "INVALID_ARGUMENT",
                "Field city2 is not a valid dimension.",
            ),
            now,
            "42",
        );
        assert_eq!(
            err,
            AdapterError::invalid_field("dimensions", "Field city2 is not a valid dimension.")
        );
        let unavailable = AdapterError::unavailable("HTTP 503");
        assert_eq!(
            refine(
                unavailable.clone(),
                503,
                &google(503, "UNAVAILABLE", "down"),
                now,
                "1"
            ),
            unavailable
        );
    }
}
