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

/// A JSON usage header: entries that say how much of an allowance is used, in
/// percent, and, when the provider blocks, how long until access returns — Meta's
/// `X-App-Usage`, `X-Ad-Account-Usage` and `X-Business-Use-Case-Usage`, which the
/// Graph APIs of Instagram, Pages and WhatsApp send too. A table of them and
/// [`usage`] make a [`RateLimitHeaders::Custom`] reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageHeader {
    pub name: &'static str,
    pub entries: UsageEntries,
    /// The keys of an entry's used percentages; the most used one counts.
    pub used: &'static [&'static str],
    /// The key of an entry's wait until access returns, and its unit in seconds
    /// (60 for minutes).
    pub wait: Option<(&'static str, u32)>,
}

impl UsageHeader {
    /// A header whose object is its one entry (`X-App-Usage`).
    pub const fn object(
        name: &'static str,
        used: &'static [&'static str],
        wait: Option<(&'static str, u32)>,
    ) -> Self {
        Self {
            name,
            entries: UsageEntries::Object,
            used,
            wait,
        }
    }

    /// A header of lists of entries by key (`X-Business-Use-Case-Usage`).
    pub const fn lists_by_key(
        name: &'static str,
        used: &'static [&'static str],
        wait: Option<(&'static str, u32)>,
    ) -> Self {
        Self {
            entries: UsageEntries::ListsByKey,
            ..Self::object(name, used, wait)
        }
    }
}

/// Where a usage header's entries are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageEntries {
    /// The header's object is the one entry.
    Object,
    /// An object of lists of entries (`{"<business id>": [{...}, ...]}`).
    ListsByKey,
}

/// What the usage headers of `table` say: a limit of 100 (percent), what is left of
/// the most used allowance, and, when blocked, the longest wait until access
/// returns; `None` when no header has an entry. Headers that do not parse are
/// ignored (they are hints), and so are figures that are not numbers (JSON or
/// numeric strings) or are negative.
pub fn usage(
    table: &[UsageHeader],
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Option<RateLimitInfo> {
    let figure = |entry: &serde_json::Value, key: &str| {
        entry
            .get(key)
            .and_then(crate::data::number)
            .filter(|n| *n >= 0.0)
    };
    let (mut seen, mut used, mut regain_secs) = (false, 0.0_f64, 0.0_f64);
    for header in table {
        let Some(json) = json_header(headers, header.name).filter(|j| j.is_object()) else {
            continue;
        };
        let entries: Vec<&serde_json::Value> = match header.entries {
            UsageEntries::Object => vec![&json],
            UsageEntries::ListsByKey => json
                .as_object()
                .into_iter()
                .flat_map(|map| map.values())
                .filter_map(serde_json::Value::as_array)
                .flatten()
                .collect(),
        };
        for entry in entries {
            seen = true;
            used = header
                .used
                .iter()
                .filter_map(|key| figure(entry, key))
                .fold(used, f64::max);
            if let Some((key, unit)) = header.wait
                && let Some(wait) = figure(entry, key)
            {
                regain_secs = regain_secs.max(wait * f64::from(unit));
            }
        }
    }
    if !seen {
        return None;
    }
    let regain = (regain_secs > 0.0 && regain_secs.is_finite())
        .then(|| std::time::Duration::try_from_secs_f64(regain_secs).ok())
        .flatten();
    Some(from_usage_percent(used, regain, now))
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
    fn usage_headers_described_as_data() {
        const CALLS: &[&str] = &["call_count", "total_time"];
        assert_eq!(
            UsageHeader::lists_by_key("x-b", CALLS, None).entries,
            UsageEntries::ListsByKey
        );
        assert_eq!(
            UsageHeader::object("x-a", CALLS, Some(("wait", 1))),
            UsageHeader {
                name: "x-a",
                entries: UsageEntries::Object,
                used: CALLS,
                wait: Some(("wait", 1)),
            }
        );
        const TABLE: &[UsageHeader] = &[
            UsageHeader {
                name: "x-business-use-case-usage",
                entries: UsageEntries::ListsByKey,
                used: CALLS,
                wait: Some(("estimated_time_to_regain_access", 60)),
            },
            UsageHeader {
                name: "x-ad-account-usage",
                entries: UsageEntries::Object,
                used: &["acc_id_util_pct"],
                wait: Some(("reset_time_duration", 1)),
            },
            UsageHeader {
                name: "x-app-usage",
                entries: UsageEntries::Object,
                used: CALLS,
                wait: None,
            },
        ];
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(*name, HeaderValue::from_static(value));
            }
            map
        };
        let read = |pairs| usage(TABLE, &headers(pairs), now());
        let info = read(&[
            (
                "x-business-use-case-usage",
                r#"{"1": [{"call_count": 96, "total_time": "30", "estimated_time_to_regain_access": 0}]}"#,
            ),
            ("x-app-usage", r#"{"call_count": 12, "total_time": -200}"#),
        ])
        .unwrap();
        assert_eq!(
            (info.limit, info.remaining, info.retry_after),
            (Some(100), Some(4), None)
        );
        // The longest wait of every entry, in its unit.
        let info = read(&[
            (
                "x-business-use-case-usage",
                concat!(
                    r#"{"1": [{"call_count": 100, "estimated_time_to_regain_access": 7}], "#,
                    r#""2": [{"call_count": 100, "estimated_time_to_regain_access": 3}]}"#
                ),
            ),
            (
                "x-ad-account-usage",
                r#"{"acc_id_util_pct": 100, "reset_time_duration": 120}"#,
            ),
        ])
        .unwrap();
        assert_eq!(info.retry_after, Some(Duration::from_secs(420)));
        assert_eq!(info.remaining, Some(0));
        // An entry without figures still says the allowance is untouched.
        let info = read(&[("x-business-use-case-usage", r#"{"1": [5]}"#)]).unwrap();
        assert_eq!(info.remaining, Some(100));
        assert_eq!(read(&[]), None);
        assert_eq!(read(&[("x-app-usage", r#""x""#)]), None);
        assert_eq!(read(&[("x-app-usage", "not json")]), None);
        assert_eq!(read(&[("x-business-use-case-usage", r#"{"1": []}"#)]), None);
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
