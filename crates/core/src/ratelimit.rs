//! Rate limits: what a response's rate-limit headers say ([`RateLimitInfo`]) and the
//! [`RateLimiter`] port that shares a provider's request budget between callers.
//!
//! The provider HTTP helper ([`crate::http`]) reads the headers of every response into
//! a [`RateLimitInfo`] and reports it to the [`Context`](crate::Context)'s limiter;
//! `junction-ratelimit` implements the limiter on Redis.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use http::HeaderMap;

use crate::{error::AdapterError, spec::RateBudget};

/// Reset values above this are absolute epoch seconds, below it delta seconds
/// (1_000_000_000 is September 2001: no window lasts that long).
const EPOCH_SECONDS_THRESHOLD: f64 = 1_000_000_000.0;

/// Reset values above this are epoch milliseconds.
const EPOCH_MILLIS_THRESHOLD: f64 = 1_000_000_000_000.0;

/// What a response's rate-limit headers said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimitInfo {
    /// Requests allowed in the current window.
    pub limit: Option<u64>,
    /// Requests left in the current window.
    pub remaining: Option<u64>,
    /// When the window resets.
    pub reset_at: Option<DateTime<Utc>>,
    /// The `Retry-After` hint.
    pub retry_after: Option<Duration>,
}

impl RateLimitInfo {
    /// Reads `Retry-After`, the IETF `RateLimit-Limit/Remaining/Reset` headers and the
    /// de-facto `X-RateLimit-Limit/Remaining/Reset` family. Header names are
    /// case-insensitive in a [`HeaderMap`], so `ratelimit-limit` is the same header.
    ///
    /// A reset value may be delta seconds, epoch seconds or epoch milliseconds
    /// (providers disagree); it is told apart by magnitude. Values that cannot be
    /// parsed are ignored rather than failing the call: these headers are hints.
    pub fn from_headers(headers: &HeaderMap, now: DateTime<Utc>) -> Self {
        let first = |names: &[&str], parse: &dyn Fn(&str) -> Option<u64>| {
            names
                .iter()
                .find_map(|name| header_str(headers, name).and_then(parse))
        };
        let limit = first(&["ratelimit-limit", "x-ratelimit-limit"], &parse_count);
        let remaining = first(
            &["ratelimit-remaining", "x-ratelimit-remaining"],
            &parse_count,
        );
        let reset_at = ["ratelimit-reset", "x-ratelimit-reset"]
            .iter()
            .find_map(|name| header_str(headers, name).and_then(|v| parse_reset(v, now)));
        let retry_after =
            header_str(headers, "retry-after").and_then(|v| parse_retry_after(v, now));
        Self {
            limit,
            remaining,
            reset_at,
            retry_after,
        }
    }

    /// Whether the provider said no request is left in the current window.
    pub fn is_exhausted(&self) -> bool {
        self.remaining == Some(0)
    }

    /// How long to wait before the next request, from `Retry-After` or else the reset
    /// time (a reset in the past means no wait).
    pub fn wait_hint(&self, now: DateTime<Utc>) -> Option<Duration> {
        self.retry_after
            .or_else(|| self.reset_at.map(|at| until(at, now)))
    }
}

/// A header's value as text, when it is present and visible ASCII.
fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// A count from a limit/remaining header. The IETF draft allows a list with
/// parameters (`100, 100;w=60`); the first item is the one that applies now.
fn parse_count(value: &str) -> Option<u64> {
    let first = value.split(',').next()?.split(';').next()?.trim();
    first.parse().ok()
}

/// A reset header: delta seconds, epoch seconds, epoch milliseconds (possibly
/// fractional, as some providers send), or an HTTP-date.
fn parse_reset(value: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let first = value.split(',').next()?.split(';').next()?.trim();
    let Ok(number) = first.parse::<f64>() else {
        return httpdate::parse_http_date(first)
            .ok()
            .map(DateTime::<Utc>::from);
    };
    if !number.is_finite() || number < 0.0 {
        return None;
    }
    if number > EPOCH_MILLIS_THRESHOLD {
        // Truncating to whole milliseconds is the precision the header has.
        Utc.timestamp_millis_opt(number as i64).single()
    } else if number > EPOCH_SECONDS_THRESHOLD {
        Utc.timestamp_opt(number as i64, 0).single()
    } else {
        let delta = chrono::Duration::from_std(Duration::try_from_secs_f64(number).ok()?).ok()?;
        now.checked_add_signed(delta)
    }
}

/// The time from `now` until `at`, zero when `at` has passed.
fn until(at: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (at - now).to_std().unwrap_or(Duration::ZERO)
}

/// Parses a `Retry-After` value: delta seconds or an HTTP-date. A date in the past
/// means "now" (zero); anything else unparseable gives `None`.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits but too large for u64 is still garbage: no provider means it.
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = DateTime::<Utc>::from(httpdate::parse_http_date(value).ok()?);
    Some(until(at, now))
}

/// Shares a provider's request budget between every caller (every tenant and, with
/// the Redis implementation in junction-jobs, every worker pod).
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Waits until one more request to `provider` fits in `budget`. Returns an error
    /// only when waiting would exceed what the caller can afford (the error then says
    /// when to come back).
    async fn acquire(&self, provider: &str, budget: &RateBudget) -> Result<(), AdapterError>;

    /// Learns from the rate-limit headers of a response, so the next `acquire` can
    /// pause before the provider starts refusing.
    fn observe(&self, provider: &str, info: &RateLimitInfo) {
        let _ = (provider, info);
    }
}

/// A limiter that never waits (unit tests, the sandbox).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopLimiter;

#[async_trait]
impl RateLimiter for NoopLimiter {
    async fn acquire(&self, _provider: &str, _budget: &RateBudget) -> Result<(), AdapterError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn retry_after_in_seconds() {
        assert_eq!(parse_retry_after("7", now()), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after(" 120 ", now()),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after("0", now()), Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_as_http_date() {
        let value = httpdate::fmt_http_date((now() + chrono::Duration::seconds(90)).into());
        assert_eq!(
            parse_retry_after(&value, now()),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Sat, 01 Mar 2025 12:01:00 GMT", now()),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn retry_after_in_the_past_is_zero() {
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now()),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn retry_after_garbage_is_none() {
        for garbage in [
            "",
            "soon",
            "-5",
            "1.5",
            "99999999999999999999999",
            "Mon, 99 Foo",
        ] {
            assert_eq!(parse_retry_after(garbage, now()), None, "{garbage:?}");
        }
    }

    #[test]
    fn from_headers_reads_the_x_family() {
        let info = RateLimitInfo::from_headers(
            &headers(&[
                ("X-RateLimit-Limit", "5000"),
                ("X-RateLimit-Remaining", "4999"),
                ("X-RateLimit-Reset", "1740830460"),
            ]),
            now(),
        );
        assert_eq!(info.limit, Some(5000));
        assert_eq!(info.remaining, Some(4999));
        assert_eq!(info.reset_at, Utc.timestamp_opt(1_740_830_460, 0).single());
        assert_eq!(info.retry_after, None);
        assert!(!info.is_exhausted());
    }

    #[test]
    fn from_headers_reads_the_ietf_family_in_lower_case() {
        let info = RateLimitInfo::from_headers(
            &headers(&[
                ("ratelimit-limit", "2"),
                ("ratelimit-remaining", "0"),
                ("ratelimit-reset", "1"),
                ("retry-after", "1"),
            ]),
            now(),
        );
        assert_eq!(info.limit, Some(2));
        assert_eq!(info.remaining, Some(0));
        assert_eq!(info.reset_at, Some(now() + chrono::Duration::seconds(1)));
        assert_eq!(info.retry_after, Some(Duration::from_secs(1)));
        assert!(info.is_exhausted());
    }

    #[test]
    fn from_headers_accepts_ietf_lists_with_parameters() {
        let info = RateLimitInfo::from_headers(
            &headers(&[
                ("RateLimit-Limit", "100, 1000;w=3600"),
                ("RateLimit-Remaining", "42"),
            ]),
            now(),
        );
        assert_eq!(info.limit, Some(100));
        assert_eq!(info.remaining, Some(42));
    }

    #[test]
    fn reset_is_delta_epoch_seconds_or_epoch_millis() {
        let reset = |value: &str| {
            RateLimitInfo::from_headers(&headers(&[("X-RateLimit-Reset", value)]), now()).reset_at
        };
        assert_eq!(reset("30"), Some(now() + chrono::Duration::seconds(30)));
        assert_eq!(
            reset("1.5"),
            Some(now() + chrono::Duration::milliseconds(1500))
        );
        let epoch = now().timestamp() + 60;
        assert_eq!(
            reset(&epoch.to_string()),
            Some(now() + chrono::Duration::seconds(60))
        );
        let millis = now().timestamp_millis() + 2_500;
        assert_eq!(
            reset(&millis.to_string()),
            Some(now() + chrono::Duration::milliseconds(2_500))
        );
        assert_eq!(reset("later"), None);
        assert_eq!(reset("-3"), None);
    }

    #[test]
    fn from_headers_ignores_absent_and_garbage_headers() {
        assert_eq!(
            RateLimitInfo::from_headers(&HeaderMap::new(), now()),
            RateLimitInfo::default()
        );
        let info = RateLimitInfo::from_headers(
            &headers(&[("X-RateLimit-Limit", "lots"), ("Retry-After", "whenever")]),
            now(),
        );
        assert_eq!(info, RateLimitInfo::default());
    }
}
