//! Calling the Graph API and reading its errors and usage headers.
//!
//! Meta throttles with error codes in the body, often under HTTP 400 or 403 rather
//! than 429, so every request goes through [`junction_core::http::send_refined`] and
//! [`refine`] reads the Graph error envelope
//! `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`:
//!
//! - 17 (user request limit), 32 (page-level), 613 (calls within one hour) and
//!   80000–80014 (business use case limits: ads insights, ads management, custom
//!   audiences, ...) are `RateLimited`, waiting as long as Meta's usage headers say;
//! - 4 (app request limit, a rolling hour for the whole app) is `QuotaExhausted`;
//! - 190 (invalid, expired or revoked token) and 102 are `Unauthorized` without a
//!   refresh: Meta has no refresh token and an invalid token cannot be exchanged, so
//!   the user must reconnect; 10 and 200–299 (missing permission) likewise;
//! - 100 (invalid parameter) is `Invalid`, naming `ad_account_id` when the account
//!   does not exist or is not reachable;
//! - 1, 2 and anything flagged `is_transient` are `Unavailable`.
//!
//! The usage headers (`X-Business-Use-Case-Usage`, `X-Ad-Account-Usage`,
//! `X-App-Usage`) are JSON with percentages of the allowance used and, when blocked,
//! the minutes until access returns; they are turned into a [`RateLimitInfo`] for
//! the shared limiter on every response, successful or not.

use std::time::Duration;

use chrono::{DateTime, Utc};
use http::HeaderMap;
use junction_core::{
    AdapterError, Connection, Context,
    http::{RateLimitInfo, ResponsePolicy, send_refined},
    spec::ProviderSpec,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::Value;

use crate::spec::{DEFAULT_BASE, GRAPH_VERSION};

/// The business-use-case usage header (per business and use case).
pub const BUC_USAGE_HEADER: &str = "x-business-use-case-usage";

/// The ad account usage header.
pub const AD_ACCOUNT_USAGE_HEADER: &str = "x-ad-account-usage";

/// The app usage header.
pub const APP_USAGE_HEADER: &str = "x-app-usage";

/// GETs `path` (below the version) with `query`, the token in an `Authorization`
/// header (never in the URL, so no URL or log can leak it), and decodes the JSON.
pub(crate) async fn get<T: DeserializeOwned>(
    ctx: &Context,
    spec: &ProviderSpec,
    conn: &Connection,
    path: &str,
    query: &[(&str, String)],
) -> Result<T, AdapterError> {
    let url = ctx.url(DEFAULT_BASE, &format!("{GRAPH_VERSION}/{path}"))?;
    let request = ctx
        .http
        .get(url)
        .bearer_auth(conn.bearer()?.expose_secret())
        .query(query);
    let response = send(ctx, spec, request).await?;
    junction_core::http::json(response).await
}

/// DELETEs `path` (below the version), for revocation.
pub(crate) async fn delete(
    ctx: &Context,
    spec: &ProviderSpec,
    conn: &Connection,
    path: &str,
) -> Result<(), AdapterError> {
    let url = ctx.url(DEFAULT_BASE, &format!("{GRAPH_VERSION}/{path}"))?;
    let request = ctx
        .http
        .delete(url)
        .bearer_auth(conn.bearer()?.expose_secret());
    send(ctx, spec, request).await.map(drop)
}

/// Sends a request, feeding Meta's usage headers to the limiter and refining
/// refusals with [`refine`].
async fn send(
    ctx: &Context,
    spec: &ProviderSpec,
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, AdapterError> {
    let response = send_refined(
        ctx,
        spec,
        request,
        &ResponsePolicy::for_auth(&spec.auth),
        |classified, refusal| {
            if let Some(info) = usage_info(refusal.headers, refusal.now) {
                ctx.limiter.observe(spec.id, &info);
            }
            refine(classified, refusal.body, refusal.headers, refusal.now)
        },
    )
    .await?;
    if let Some(info) = usage_info(response.headers(), ctx.now()) {
        if info.remaining.is_some_and(|left| left <= 10) {
            tracing::warn!(
                provider = spec.id,
                remaining_percent = info.remaining,
                "Meta usage is close to its limit: the next calls may be throttled"
            );
        }
        ctx.limiter.observe(spec.id, &info);
    }
    Ok(response)
}

/// The Graph error envelope.
#[derive(Debug, Deserialize)]
struct Envelope {
    error: GraphError,
}

/// One Graph API error.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct GraphError {
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub error_subcode: Option<i64>,
    /// A message meant for the end user, when Meta has one.
    #[serde(default)]
    pub error_user_msg: Option<String>,
    #[serde(default)]
    pub is_transient: bool,
    #[serde(default)]
    pub fbtrace_id: Option<String>,
}

/// Refines the generic classification of a Graph API refusal. Anything it does not
/// recognise keeps the generic classification (which already carries Meta's code
/// and message).
pub(crate) fn refine(
    base: AdapterError,
    body: &[u8],
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> AdapterError {
    let Ok(Envelope { error }) = serde_json::from_slice::<Envelope>(body) else {
        return base;
    };
    let Some(code) = error.code else {
        return base;
    };
    let message = describe(&error);
    let wait = usage(headers).and_then(|u| u.regain).or(match &base {
        AdapterError::RateLimited { retry_after } => *retry_after,
        _ => None,
    });
    match code {
        17 | 32 | 613 | 80_000..=80_014 => AdapterError::RateLimited { retry_after: wait },
        4 => AdapterError::QuotaExhausted {
            resets_at: wait
                .and_then(|w| chrono::Duration::from_std(w).ok())
                .map(|w| now + w),
        },
        190 | 102 => AdapterError::Unauthorized {
            refreshable: false,
            message: format!(
                "Meta rejected the access token; reconnect the integration. {message}"
            ),
        },
        10 | 200..=299 => AdapterError::Unauthorized {
            refreshable: false,
            message: format!(
                "the connected Meta user lacks a permission for this ad account: reconnect \
                 granting ads_read, and make sure the user has access to the ad account in \
                 Business Manager. {message}"
            ),
        },
        100 => {
            // Subcode 33: the object (the ad account) does not exist or cannot be
            // reached with this token.
            if error.error_subcode == Some(33) || error.message.contains("act_") {
                AdapterError::invalid_field("ad_account_id", message)
            } else {
                AdapterError::invalid(message)
            }
        }
        1 | 2 => AdapterError::unavailable(message),
        _ if error.is_transient => AdapterError::unavailable(message),
        _ => base,
    }
}

/// Meta's message with its code, subcode and trace id (which Meta support asks for),
/// on one short line.
fn describe(error: &GraphError) -> String {
    let text = error
        .error_user_msg
        .as_deref()
        .filter(|m| !m.trim().is_empty())
        .unwrap_or(&error.message);
    let mut line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > 240 {
        line = line.chars().take(239).collect::<String>() + "…";
    }
    let mut tags = Vec::new();
    if let Some(code) = error.code {
        tags.push(format!("code {code}"));
    }
    if let Some(sub) = error.error_subcode {
        tags.push(format!("subcode {sub}"));
    }
    if !error.kind.is_empty() {
        tags.push(error.kind.clone());
    }
    if let Some(trace) = error.fbtrace_id.as_deref().filter(|t| !t.is_empty()) {
        tags.push(format!("fbtrace_id {trace}"));
    }
    if tags.is_empty() {
        line
    } else {
        format!("{line} ({})", tags.join(", "))
    }
}

/// What Meta's usage headers say.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Usage {
    /// The highest share of any allowance used, in percent.
    pub used_percent: f64,
    /// How long until access returns, when Meta says it is blocked.
    pub regain: Option<Duration>,
}

/// Reads `X-Business-Use-Case-Usage` (`{"<business id>": [{"type", "call_count",
/// "total_cputime", "total_time", "estimated_time_to_regain_access"}]}`, minutes),
/// `X-Ad-Account-Usage` (`{"acc_id_util_pct", "reset_time_duration"}`, seconds) and
/// `X-App-Usage` (`{"call_count", "total_cputime", "total_time"}`). Headers that do
/// not parse are ignored: they are hints.
pub(crate) fn usage(headers: &HeaderMap) -> Option<Usage> {
    let parse = |name: &str| -> Option<Value> {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|text| serde_json::from_str(text).ok())
    };
    let mut found = false;
    let mut usage = Usage::default();
    let mut regain_secs: f64 = 0.0;
    let mut percent = |entry: &Value, keys: &[&str]| {
        for key in keys {
            if let Some(value) = number(entry.get(*key)) {
                usage.used_percent = usage.used_percent.max(value);
            }
        }
    };
    if let Some(Value::Object(businesses)) = parse(BUC_USAGE_HEADER) {
        for entry in businesses.values().filter_map(Value::as_array).flatten() {
            found = true;
            percent(entry, &["call_count", "total_cputime", "total_time"]);
            if let Some(minutes) = number(entry.get("estimated_time_to_regain_access")) {
                regain_secs = regain_secs.max(minutes * 60.0);
            }
        }
    }
    if let Some(entry) = parse(AD_ACCOUNT_USAGE_HEADER).filter(Value::is_object) {
        found = true;
        percent(&entry, &["acc_id_util_pct"]);
        if let Some(seconds) = number(entry.get("reset_time_duration")) {
            regain_secs = regain_secs.max(seconds);
        }
    }
    if let Some(entry) = parse(APP_USAGE_HEADER).filter(Value::is_object) {
        found = true;
        percent(&entry, &["call_count", "total_cputime", "total_time"]);
    }
    if !found {
        return None;
    }
    if regain_secs > 0.0 && regain_secs.is_finite() {
        usage.regain = Duration::try_from_secs_f64(regain_secs).ok();
    }
    Some(usage)
}

/// A number that may arrive as a JSON number or a numeric string.
fn number(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite() && *n >= 0.0)
}

/// The usage headers as the limiter's [`RateLimitInfo`]: a limit of 100 (percent),
/// what is left of the most used allowance, and the reset when Meta blocks.
pub(crate) fn usage_info(headers: &HeaderMap, now: DateTime<Utc>) -> Option<RateLimitInfo> {
    let usage = usage(headers)?;
    let used = usage.used_percent.clamp(0.0, 100.0);
    // Whole percents: the headers are integers (or nearly) and this is a hint.
    let remaining = (100.0 - used).floor() as u64;
    let reset_at = usage
        .regain
        .and_then(|wait| chrono::Duration::from_std(wait).ok())
        .map(|wait| now + wait);
    Some(RateLimitInfo {
        limit: Some(100),
        remaining: Some(if usage.regain.is_some() { 0 } else { remaining }),
        reset_at,
        retry_after: usage.regain,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use serde_json::json;

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
        let info = usage_info(&map, now());
        assert_eq!(
            info,
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
            refine(base.clone(), &graph(17, Some(2446079)), &none, now()),
            AdapterError::RateLimited { retry_after: None }
        );
        let account = headers(&[(
            AD_ACCOUNT_USAGE_HEADER,
            json!({"acc_id_util_pct": 100, "reset_time_duration": 120}),
        )]);
        assert_eq!(
            refine(base.clone(), &graph(613, None), &account, now()),
            AdapterError::RateLimited {
                retry_after: Some(Duration::from_secs(120))
            }
        );
        assert_eq!(
            refine(base.clone(), &graph(4, None), &none, now()),
            AdapterError::QuotaExhausted { resets_at: None }
        );
        assert!(matches!(
            refine(base.clone(), &graph(190, Some(463)), &none, now()),
            AdapterError::Unauthorized {
                refreshable: false,
                ..
            }
        ));
        assert!(matches!(
            refine(base.clone(), &graph(100, Some(33)), &none, now()),
            AdapterError::Invalid { field: Some(f), .. } if f == "ad_account_id"
        ));
        assert!(matches!(
            refine(base.clone(), &graph(2, None), &none, now()),
            AdapterError::Unavailable { .. }
        ));
        assert_eq!(refine(base.clone(), b"<html>", &none, now()), base);
        assert_eq!(refine(base.clone(), &graph(1487, None), &none, now()), base);
    }

    #[test]
    fn messages_carry_the_trace_id() {
        let err = refine(
            AdapterError::unavailable("x"),
            &graph(100, None),
            &HeaderMap::new(),
            now(),
        );
        assert!(err.to_string().contains("fbtrace_id Atrace"), "{err}");
    }
}
