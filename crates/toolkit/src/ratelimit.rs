//! Which response headers carry a provider's rate-limit signals.
//!
//! Core's HTTP layer already reads the IETF `RateLimit-*` and `X-RateLimit-*`
//! families and `Retry-After` on every response. A provider with other names
//! (HubSpot's `X-HubSpot-RateLimit-*`) declares them here, and one with an exotic
//! format (Meta's JSON usage headers) gives a function; either way the result feeds
//! the shared limiter and the waits of the error table.

use chrono::{DateTime, Utc};
use http::HeaderMap;
use junction_core::http::RateLimitInfo;

/// Where the rate-limit signals are.
#[derive(Debug, Clone, Copy)]
pub enum RateLimitHeaders {
    /// The families core reads by itself.
    Standard,
    /// Headers of other names, read with the standard parsing (counts; reset as
    /// delta seconds, epoch seconds or milliseconds, or an HTTP date).
    Named {
        limit: Option<&'static str>,
        remaining: Option<&'static str>,
        reset: Option<&'static str>,
        retry_after: Option<&'static str>,
    },
    /// A provider function for formats no table describes.
    Custom(fn(&HeaderMap, DateTime<Utc>) -> Option<RateLimitInfo>),
}

/// A provider's rate-limit signals.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitSignals {
    pub headers: RateLimitHeaders,
    /// Log a warning when a response leaves at most this share of the limit, in
    /// percent (for providers that meter in large windows, where running low is
    /// worth an operator's attention); `None` for no warning.
    pub warn_at_percent: Option<u8>,
}

impl RateLimitSignals {
    /// The standard headers, no warning.
    pub const STANDARD: Self = Self {
        headers: RateLimitHeaders::Standard,
        warn_at_percent: None,
    };

    /// What `headers` say, if anything.
    pub fn read(&self, headers: &HeaderMap, now: DateTime<Utc>) -> Option<RateLimitInfo> {
        let info = match self.headers {
            RateLimitHeaders::Standard => RateLimitInfo::from_headers(headers, now),
            RateLimitHeaders::Named {
                limit,
                remaining,
                reset,
                retry_after,
            } => {
                // Copied under the standard names, so one parser serves every name.
                let mut renamed = HeaderMap::new();
                for (from, to) in [
                    (limit, "x-ratelimit-limit"),
                    (remaining, "x-ratelimit-remaining"),
                    (reset, "x-ratelimit-reset"),
                    (retry_after, "retry-after"),
                ] {
                    if let Some(value) = from.and_then(|name| headers.get(name)) {
                        renamed.insert(to, value.clone());
                    }
                }
                RateLimitInfo::from_headers(&renamed, now)
            }
            RateLimitHeaders::Custom(read) => read(headers, now)?,
        };
        (info != RateLimitInfo::default()).then_some(info)
    }

    /// Whether core does not see these signals by itself, so the toolkit must report
    /// them to the limiter.
    pub fn needs_reporting(&self) -> bool {
        !matches!(self.headers, RateLimitHeaders::Standard)
    }

    /// Whether `info` is low enough to warn about.
    pub fn is_low(&self, info: &RateLimitInfo) -> bool {
        match (self.warn_at_percent, info.limit, info.remaining) {
            (Some(percent), Some(limit), Some(remaining)) if limit > 0 => {
                remaining.saturating_mul(100) <= limit.saturating_mul(u64::from(percent))
            }
            _ => false,
        }
    }
}

/// A response header holding JSON (usage reports such as Meta's), when it parses.
pub fn json_header(headers: &HeaderMap, name: &str) -> Option<serde_json::Value> {
    let text = headers.get(name)?.to_str().ok()?;
    serde_json::from_str(text).ok()
}

/// The signals of a provider that reports how much of its allowance is used, in
/// percent, and, when it blocks, how long until access returns: a limit of 100,
/// what is left (nothing while blocked), and the reset.
pub fn from_usage_percent(
    used: f64,
    blocked_for: Option<std::time::Duration>,
    now: DateTime<Utc>,
) -> RateLimitInfo {
    // Whole percents: providers report integers (or nearly), and this is a hint.
    let left = (100.0 - used.clamp(0.0, 100.0)).floor() as u64;
    RateLimitInfo {
        limit: Some(100),
        remaining: Some(if blocked_for.is_some() { 0 } else { left }),
        reset_at: blocked_for
            .and_then(|wait| chrono::Duration::from_std(wait).ok())
            .map(|wait| now + wait),
        retry_after: blocked_for,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use std::time::Duration;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn named_headers_use_the_standard_parsing() {
        let signals = RateLimitSignals {
            headers: RateLimitHeaders::Named {
                limit: Some("x-hubspot-ratelimit-max"),
                remaining: Some("x-hubspot-ratelimit-remaining"),
                reset: None,
                retry_after: None,
            },
            warn_at_percent: Some(10),
        };
        let mut headers = HeaderMap::new();
        headers.insert("x-hubspot-ratelimit-max", HeaderValue::from_static("100"));
        headers.insert(
            "x-hubspot-ratelimit-remaining",
            HeaderValue::from_static("7"),
        );
        let info = signals.read(&headers, now()).unwrap();
        assert_eq!((info.limit, info.remaining), (Some(100), Some(7)));
        assert!(signals.is_low(&info));
        assert!(signals.needs_reporting());
        assert_eq!(signals.read(&HeaderMap::new(), now()), None);
    }

    #[test]
    fn usage_percentages() {
        let info = from_usage_percent(96.4, None, now());
        assert_eq!(
            (info.limit, info.remaining, info.reset_at),
            (Some(100), Some(3), None)
        );
        let wait = Duration::from_secs(60);
        let info = from_usage_percent(100.0, Some(wait), now());
        assert_eq!(info.remaining, Some(0));
        assert_eq!(info.reset_at, Some(now() + chrono::Duration::seconds(60)));
        let mut headers = HeaderMap::new();
        headers.insert("x-usage", HeaderValue::from_static(r#"{"a": 1}"#));
        assert_eq!(json_header(&headers, "x-usage").unwrap()["a"], 1);
        assert_eq!(json_header(&headers, "x-other"), None);
    }

    #[test]
    fn custom_readers_and_the_standard_family() {
        fn fixed(_: &HeaderMap, _: DateTime<Utc>) -> Option<RateLimitInfo> {
            Some(RateLimitInfo {
                retry_after: Some(Duration::from_secs(60)),
                ..RateLimitInfo::default()
            })
        }
        let custom = RateLimitSignals {
            headers: RateLimitHeaders::Custom(fixed),
            warn_at_percent: None,
        };
        assert_eq!(
            custom.read(&HeaderMap::new(), now()).unwrap().retry_after,
            Some(Duration::from_secs(60))
        );
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("3"));
        let info = RateLimitSignals::STANDARD.read(&headers, now()).unwrap();
        assert_eq!(info.retry_after, Some(Duration::from_secs(3)));
        assert!(!RateLimitSignals::STANDARD.needs_reporting());
        assert!(!RateLimitSignals::STANDARD.is_low(&info));
    }
}
