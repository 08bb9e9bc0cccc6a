//! The Buffer GraphQL API as the provider toolkit runs it.
//!
//! Every operation is a `POST https://api.buffer.com` of `{"query", "variables"}`
//! with `Authorization: Bearer <API key>` (the documents are in [`crate::ops`]).
//!
//! Errors come two ways, and both end in an `AdapterError` of the kind a retry needs:
//!
//! - top-level `errors[]`, usually with HTTP 200 (a 401 or 429 also carries them):
//!   `{"data": null, "errors": [{"message", "extensions": {"code"}}]}`. [`API`]'s
//!   table reads `extensions.code`:
//!   - `UNAUTHORIZED`: `Unauthorized` without a refresh (a key cannot be refreshed);
//!   - `FORBIDDEN`: `Unauthorized`, the key's account may not see what was asked;
//!   - `RATE_LIMIT_EXCEEDED`: `RateLimited` for the 15-minute window, waiting as
//!     `Retry-After` or `extensions.retryAfter` says; `QuotaExhausted` until the reset
//!     when the wait is longer (the 24-hour and 30-day windows);
//!   - `BAD_USER_INPUT`, `GRAPHQL_VALIDATION_FAILED`, `GRAPHQL_PARSE_FAILED`,
//!     `NOT_FOUND`: `Invalid` with Buffer's message;
//!   - `INTERNAL_SERVER_ERROR`: `Unavailable`.
//! - typed members of a mutation's payload union (`InvalidInputError`,
//!   `LimitReachedError`, ...): see [`crate::actions`].
//!
//! Rate-limit signals: Buffer sends one structured `RateLimit` header item per window
//! (`"100-in-15min";r=98;t=897`, with `RateLimit-Policy` giving `q` and `w`), or the
//! legacy `RateLimit-Limit` / `-Remaining` / `-Reset` (an ISO time), and `Retry-After`
//! on a 429. [`rate_limit_info`] reads them all (the tightest window wins) for the
//! shared limiter and the error table's waits.

use std::time::Duration;

use chrono::{DateTime, Utc};
use http::HeaderMap;
use junction_core::{AdapterError, Connection, Context, http::RateLimitInfo};
use junction_toolkit::{
    AuthMode, BaseUrl, Class, Client, Envelope, ErrorRule, ErrorTable, HttpApi, OnStall, PageSize,
    Paging, Placement, RateLimitHeaders, RateLimitSignals, Refused, Style, data,
};

use crate::spec::{self, API_KEY_FIELD, DEFAULT_BASE};

/// The GraphQL endpoint, below the API root: the root itself.
pub const ENDPOINT: &str = "";

/// The longest wait that is the 15-minute window's: anything longer is one of the
/// daily or monthly windows, a quota until its reset.
pub const SHORT_WINDOW: Duration = Duration::from_secs(15 * 60);

const BAD_KEY: &str = "Buffer refused the API key (revoked or mistyped); create a new key at \
     publish.buffer.com/settings/api and reconnect. Buffer said: {message}";

const NO_ACCESS: &str = "the key's Buffer account may not use this organization or channel; \
     check the ids and the account's role. Buffer said: {message}";

/// The Buffer API's description.
pub const API: HttpApi = HttpApi {
    base: BaseUrl::fixed(DEFAULT_BASE),
    auth: &[AuthMode::ApiKey {
        field: API_KEY_FIELD,
        placement: Placement::BEARER_KEY,
    }],
    headers: &[("accept", "application/json")],
    // The check sends the `account` query (a POST with a body): see `crate::check`.
    verification: None,
    errors: ErrorTable {
        envelope: Envelope {
            code: &["/errors/0/extensions/code"],
            message: &["/errors/0/message"],
            ..Envelope::GENERIC
        },
        rules: &[
            ErrorRule::code("UNAUTHORIZED")
                .unauthorized(false)
                .message(BAD_KEY),
            ErrorRule::code("FORBIDDEN")
                .unauthorized(false)
                .message(NO_ACCESS),
            ErrorRule::code("RATE_LIMIT_EXCEEDED").class(Class::Custom(limit_exceeded)),
            ErrorRule::codes(&[
                "BAD_USER_INPUT",
                "GRAPHQL_VALIDATION_FAILED",
                "GRAPHQL_PARSE_FAILED",
                "NOT_FOUND",
            ])
            .invalid()
            .message("Buffer refused the request: {message}"),
            ErrorRule::code("INTERNAL_SERVER_ERROR").unavailable(),
        ],
        in_success_body: Some("/errors"),
    },
    rate_limits: RateLimitSignals {
        headers: RateLimitHeaders::Custom(rate_limit_info),
        // The daily and monthly windows are small: running low deserves a warning.
        warn_at_percent: Some(10),
    },
};

/// How the `posts` connection pages: `first` posts after `after`, the next cursor at
/// `pageInfo.endCursor` while `hasNextPage` (forward only).
pub const PAGING: Paging = Paging {
    style: Style::GraphQl {
        page_info: "/data/posts/pageInfo",
        variable: "after",
    },
    items: "/data/posts/edges",
    size_param: "first",
    size: PageSize {
        default: 50,
        max: 100,
    },
    on_stall: OnStall::Fail,
};

/// The `ideas` connection, paged like `posts`.
pub const IDEAS_PAGING: Paging = Paging {
    style: Style::GraphQl {
        page_info: "/data/ideas/pageInfo",
        variable: "after",
    },
    items: "/data/ideas/edges",
    ..PAGING
};

/// The Buffer client of a connection.
pub(crate) fn client<'a>(
    ctx: &'a Context,
    conn: &'a Connection,
) -> Result<Client<'a>, AdapterError> {
    Client::new(ctx, spec::spec(), &API, conn)
}

/// `RATE_LIMIT_EXCEEDED`: the wait is the longer of the headers' and
/// `extensions.retryAfter`; a wait beyond the 15-minute window is a used-up daily or
/// monthly allowance.
fn limit_exceeded(refused: &Refused<'_>) -> AdapterError {
    let said = refused
        .body
        .and_then(|body| body.pointer("/errors/0/extensions/retryAfter"))
        .and_then(data::number)
        .filter(|secs| secs.is_finite() && *secs >= 0.0)
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok());
    let wait = match (refused.wait, said) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    match wait {
        Some(wait) if wait > SHORT_WINDOW => AdapterError::QuotaExhausted {
            resets_at: chrono::Duration::from_std(wait)
                .ok()
                .map(|wait| refused.now + wait),
        },
        _ => AdapterError::RateLimited { retry_after: wait },
    }
}

/// What Buffer's rate-limit headers say: of the structured `RateLimit` items (one per
/// window), the one with the fewest requests left, its quota from `RateLimit-Policy`;
/// else the legacy trio (a reset as an ISO time or seconds); `Retry-After` either way.
pub fn rate_limit_info(headers: &HeaderMap, now: DateTime<Utc>) -> Option<RateLimitInfo> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let mut info = RateLimitInfo {
        retry_after: text("retry-after")
            .and_then(|v| junction_core::http::parse_retry_after(v, now)),
        ..RateLimitInfo::default()
    };
    let tightest = text("ratelimit").and_then(|value| {
        items(value)
            .filter_map(|(policy, params)| {
                Some((policy, param(&params, "r")?, param(&params, "t")))
            })
            .min_by_key(|(_, remaining, _)| *remaining)
    });
    if let Some((policy, remaining, reset)) = tightest {
        info.remaining = Some(remaining);
        info.reset_at = reset
            .and_then(|secs| chrono::Duration::try_seconds(i64::try_from(secs).ok()?))
            .map(|secs| now + secs);
        info.limit = text("ratelimit-policy").and_then(|value| {
            items(value)
                .find(|(name, _)| *name == policy)
                .and_then(|(_, params)| param(&params, "q"))
        });
    } else {
        let count = |name| text(name).and_then(|v| v.trim().parse::<u64>().ok());
        info.limit = count("ratelimit-limit");
        info.remaining = count("ratelimit-remaining");
        info.reset_at = text("ratelimit-reset").and_then(|value| {
            let value = value.trim();
            DateTime::parse_from_rfc3339(value)
                .map(|at| at.with_timezone(&Utc))
                .ok()
                .or_else(|| {
                    let secs = value.parse::<i64>().ok()?;
                    Some(now + chrono::Duration::try_seconds(secs)?)
                })
        });
    }
    (info != RateLimitInfo::default()).then_some(info)
}

/// The items of a structured-field list: each item's name (a quoted string or a
/// token) and its `;key=value` parameters.
fn items(value: &str) -> impl Iterator<Item = (&str, Vec<(&str, &str)>)> {
    value.split(',').filter_map(|item| {
        let mut parts = item.split(';');
        let name = parts.next()?.trim().trim_matches('"');
        let params = parts
            .filter_map(|part| part.split_once('='))
            .map(|(key, value)| (key.trim(), value.trim()))
            .collect();
        (!name.is_empty()).then_some((name, params))
    })
}

/// A parameter's value as a count.
fn param(params: &[(&str, &str)], key: &str) -> Option<u64> {
    params
        .iter()
        .find(|(name, _)| *name == key)
        .and_then(|(_, value)| value.parse().ok())
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_776_000_000, 0).unwrap()
    }

    #[test]
    fn the_description_is_sound() {
        assert_eq!(API.validate(), Ok(()));
    }

    #[test]
    fn the_structured_header_gives_the_tightest_window() {
        let info = rate_limit_info(
            &headers(&[
                (
                    "ratelimit",
                    "\"100-in-15min\";r=98;t=897, \"250-in-24h\";r=12;t=40000",
                ),
                (
                    "ratelimit-policy",
                    "\"100-in-15min\";q=100;w=900;pk=:abc:, \"250-in-24h\";q=250;w=86400",
                ),
            ]),
            now(),
        )
        .unwrap();
        assert_eq!(info.remaining, Some(12));
        assert_eq!(info.limit, Some(250));
        assert_eq!(
            info.reset_at,
            Some(now() + chrono::Duration::seconds(40_000))
        );
        assert_eq!(info.retry_after, None);
    }

    #[test]
    fn the_legacy_headers_take_an_iso_reset() {
        let info = rate_limit_info(
            &headers(&[
                ("ratelimit-limit", "100"),
                ("ratelimit-remaining", "0"),
                ("ratelimit-reset", "2026-04-12T13:35:00Z"),
                ("retry-after", "300"),
            ]),
            now(),
        )
        .unwrap();
        assert_eq!((info.limit, info.remaining), (Some(100), Some(0)));
        assert_eq!(
            info.reset_at,
            DateTime::parse_from_rfc3339("2026-04-12T13:35:00Z")
                .ok()
                .map(|at| at.with_timezone(&Utc))
        );
        assert_eq!(info.retry_after, Some(Duration::from_secs(300)));
        assert_eq!(rate_limit_info(&HeaderMap::new(), now()), None);
    }
}
