//! The Graph API as the toolkit runs it: the host and version, the long-lived token
//! as `Authorization: Bearer` (never in the URL, so no URL or log can leak it), the
//! error table, and the usage headers.
//!
//! Meta throttles with error codes in the body, often under HTTP 400 or 403 rather
//! than 429. The envelope is `{"error": {"message", "type", "code", "error_subcode",
//! "error_user_msg", "is_transient", "fbtrace_id"}}`, and [`API`]'s table says:
//!
//! - 17 (user request limit), 32 (page-level), 613 (calls within one hour) and
//!   80000–80014 (business use case limits: ads insights, ads management, custom
//!   audiences, ...) are `RateLimited`, waiting as long as the usage headers say;
//! - 4 (app request limit, a rolling hour for the whole app) is `QuotaExhausted`;
//! - 190 (invalid, expired or revoked token) and 102 are `Unauthorized` without a
//!   refresh: Meta has no refresh token and an invalid token cannot be exchanged, so
//!   the user must reconnect; 10 and 200–299 (missing permission) likewise;
//! - 100 (invalid parameter) is `Invalid`, naming `ad_account_id` when the account
//!   does not exist or is not reachable (subcode 33, or the message names `act_`);
//! - 1, 2 and anything flagged `is_transient` are `Unavailable`.
//!
//! Messages are Meta's (its user message when it has one) with the code, subcode,
//! type and trace id, which Meta support asks for.
//!
//! The usage headers (`X-Business-Use-Case-Usage`, `X-Ad-Account-Usage`,
//! `X-App-Usage`) are JSON with percentages of the allowance used and, when blocked,
//! the time until access returns; [`usage_info`] turns them into the limiter's
//! [`RateLimitInfo`] on every response, successful or not.

use chrono::{DateTime, Utc};
use http::HeaderMap;
use junction_core::http::RateLimitInfo;
use junction_toolkit::{
    AuthMode, BaseUrl, Envelope, ErrorRule, ErrorTable, HttpApi, RateLimitHeaders,
    RateLimitSignals, Resets, When,
    ratelimit::{self, UsageHeader},
};

use crate::spec::{DEFAULT_BASE, GRAPH_VERSION};

/// The business-use-case usage header (per business and use case).
pub const BUC_USAGE_HEADER: &str = "x-business-use-case-usage";

/// The ad account usage header.
pub const AD_ACCOUNT_USAGE_HEADER: &str = "x-ad-account-usage";

/// The app usage header.
pub const APP_USAGE_HEADER: &str = "x-app-usage";

const RECONNECT: &str = "Meta rejected the access token; reconnect the integration. {message}";

const NO_PERMISSION: &str = "the connected Meta user lacks a permission for this ad account: \
     reconnect granting ads_read, and make sure the user has access to the ad account in \
     Business Manager. {message}";

/// The Graph API's description.
pub const API: HttpApi = HttpApi {
    base: BaseUrl::fixed(DEFAULT_BASE).with_prefix(GRAPH_VERSION),
    auth: &[AuthMode::OAUTH_BEARER],
    headers: &[],
    verification: None,
    errors: ErrorTable {
        envelope: Envelope {
            code: &["/error/code"],
            message: &["/error/error_user_msg", "/error/message"],
            tags: &[
                ("/error/code", "code "),
                ("/error/error_subcode", "subcode "),
                ("/error/type", ""),
                ("/error/fbtrace_id", "fbtrace_id "),
            ],
            code_for_status: &[],
            max_message_chars: 240,
        },
        rules: &[
            ErrorRule::codes(&["17", "32", "613"]).rate_limited(),
            ErrorRule::code_range(80_000, 80_014).rate_limited(),
            ErrorRule::code("4").quota_exhausted(Resets::FromHeaders),
            ErrorRule::codes(&["190", "102"])
                .unauthorized(false)
                .message(RECONNECT),
            ErrorRule::code("10")
                .unauthorized(false)
                .message(NO_PERMISSION),
            ErrorRule::code_range(200, 299)
                .unauthorized(false)
                .message(NO_PERMISSION),
            ErrorRule::code("100")
                .when(When::Equals("/error/error_subcode", "33"))
                .invalid_field("ad_account_id"),
            ErrorRule::code("100")
                .when(When::Contains("/error/message", "act_"))
                .invalid_field("ad_account_id"),
            ErrorRule::code("100").invalid(),
            ErrorRule::codes(&["1", "2"]).unavailable(),
            ErrorRule::any()
                .when(When::Equals("/error/is_transient", "true"))
                .unavailable(),
        ],
        in_success_body: None,
    },
    rate_limits: RateLimitSignals {
        headers: RateLimitHeaders::Custom(usage_info),
        // The percentages are of an hourly allowance: a tenth left is worth a warning.
        warn_at_percent: Some(10),
    },
};

/// The usage headers, described for the toolkit's [`ratelimit::usage`]:
/// `X-Business-Use-Case-Usage` (`{"<business id>": [{"type", "call_count",
/// "total_cputime", "total_time", "estimated_time_to_regain_access"}]}`, the wait in
/// minutes), `X-Ad-Account-Usage` (`{"acc_id_util_pct", "reset_time_duration"}`, the
/// wait in seconds) and `X-App-Usage` (`{"call_count", "total_cputime",
/// "total_time"}`).
const USAGE: &[UsageHeader] = &[
    UsageHeader::lists_by_key(
        BUC_USAGE_HEADER,
        CALLS,
        Some(("estimated_time_to_regain_access", 60)),
    ),
    UsageHeader::object(
        AD_ACCOUNT_USAGE_HEADER,
        &["acc_id_util_pct"],
        Some(("reset_time_duration", 1)),
    ),
    UsageHeader::object(APP_USAGE_HEADER, CALLS, None),
];

/// The used percentages of a business use case and of the app.
const CALLS: &[&str] = &["call_count", "total_cputime", "total_time"];

/// The usage headers as the limiter's [`RateLimitInfo`]: a limit of 100 (percent),
/// what is left of the most used allowance, and, when Meta blocks, the wait until
/// access returns. Headers that do not parse are ignored: they are hints.
pub(crate) fn usage_info(headers: &HeaderMap, now: DateTime<Utc>) -> Option<RateLimitInfo> {
    ratelimit::usage(USAGE, headers, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderValue, StatusCode};
    use junction_core::{AdapterError, http::Refusal};
    use serde_json::{Value, json};
    use std::time::Duration;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    fn headers(pairs: &[(&'static str, Value)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
                map.insert(*name, value);
            }
        }
        map
    }

    fn graph(code: i64, subcode: Option<i64>) -> Vec<u8> {
        json!({"error": {"message": "m", "type": "OAuthException", "code": code,
                         "error_subcode": subcode, "fbtrace_id": "Atrace"}})
        .to_string()
        .into_bytes()
    }

    fn refine(base: AdapterError, body: &[u8], headers: &HeaderMap) -> AdapterError {
        let refusal = Refusal {
            status: StatusCode::BAD_REQUEST,
            headers,
            body,
            now: now(),
        };
        API.errors
            .classify(base, &refusal, &API.rate_limits, &serde_json::Map::new())
    }

    #[test]
    fn the_description_is_sound() {
        assert_eq!(API.validate(), Ok(()));
    }

    #[test]
    fn usage_headers_become_limiter_hints() {
        let map = headers(&[
            (
                BUC_USAGE_HEADER,
                json!({"123": [{"type": "ads_insights", "call_count": 96, "total_cputime": 20,
                                "total_time": 30, "estimated_time_to_regain_access": 0}]}),
            ),
            (
                APP_USAGE_HEADER,
                json!({"call_count": 12, "total_cputime": 5, "total_time": 7}),
            ),
        ]);
        assert_eq!(
            usage_info(&map, now()),
            Some(RateLimitInfo {
                limit: Some(100),
                remaining: Some(4),
                reset_at: None,
                retry_after: None
            })
        );
        let blocked = headers(&[(
            BUC_USAGE_HEADER,
            json!({"123": [{"type": "ads_management", "call_count": 100,
                            "estimated_time_to_regain_access": 7}],
                   "456": [{"type": "ads_insights", "call_count": 100,
                            "estimated_time_to_regain_access": 3}]}),
        )]);
        let info = usage_info(&blocked, now());
        assert_eq!(
            info.as_ref().and_then(|i| i.retry_after),
            Some(Duration::from_secs(420))
        );
        assert_eq!(info.and_then(|i| i.remaining), Some(0));
        assert_eq!(usage_info(&HeaderMap::new(), now()), None);
        assert_eq!(
            usage_info(&headers(&[(APP_USAGE_HEADER, json!("x"))]), now()),
            None
        );
    }

    #[test]
    fn codes_are_classified() {
        let base = AdapterError::Provider {
            status: 400,
            code: Some("17".into()),
            message: "m".into(),
        };
        let none = HeaderMap::new();
        assert_eq!(
            refine(base.clone(), &graph(17, Some(2446079)), &none),
            AdapterError::RateLimited { retry_after: None }
        );
        let account = headers(&[(
            AD_ACCOUNT_USAGE_HEADER,
            json!({"acc_id_util_pct": 100, "reset_time_duration": 120}),
        )]);
        assert_eq!(
            refine(base.clone(), &graph(613, None), &account),
            AdapterError::RateLimited {
                retry_after: Some(Duration::from_secs(120))
            }
        );
        assert_eq!(
            refine(base.clone(), &graph(4, None), &none),
            AdapterError::QuotaExhausted { resets_at: None }
        );
        for code in [190, 102, 10, 200, 299] {
            assert!(matches!(
                refine(base.clone(), &graph(code, Some(463)), &none),
                AdapterError::Unauthorized {
                    refreshable: false,
                    ..
                }
            ));
        }
        assert!(matches!(
            refine(base.clone(), &graph(100, Some(33)), &none),
            AdapterError::Invalid { field: Some(f), .. } if f == "ad_account_id"
        ));
        assert!(matches!(
            refine(base.clone(), &graph(2, None), &none),
            AdapterError::Unavailable { .. }
        ));
        assert_eq!(refine(base.clone(), b"<html>", &none), base);
        assert_eq!(refine(base.clone(), &graph(1487, None), &none), base);
    }

    #[test]
    fn messages_carry_the_trace_id() {
        let err = refine(
            AdapterError::unavailable("x"),
            &graph(100, None),
            &HeaderMap::new(),
        );
        assert_eq!(
            err,
            AdapterError::invalid("m (code 100, OAuthException, fbtrace_id Atrace)")
        );
    }
}
