//! The fault switches as a provider renders them.
//!
//! The sandbox (and a test's `FakeServer`) arms a [`Fault`] for a request; a fake
//! answers it the way the real provider would, with the entries of its error
//! catalogue ([`crate::fake::reply`]): `server_error`, `rate_limited` (the fault's
//! wait as `{secs}` and `{minutes}`, for the provider's own rate-limit headers or
//! body codes) and `quota_exhausted`. [`crate::fake::Service`] applies them in one
//! order for every fake: `ServerError` before anything is checked, `ExpiredToken` as
//! the credential check's verdict (see [`crate::fake::auth`]), `RateLimited` and
//! `QuotaExhausted` once the caller is known, `MalformedBody` to the handler's
//! successful answer, which is cut off halfway after the request took effect.
//!
//! Slow answers are no fault of the fake: its contract is synchronous, so the server
//! delays the whole answer (the sandbox's per-provider latency, wiremock's delay),
//! for every fake alike.
//!
//! [`check`] reads a fake's fault answers with the adapter's own error table: each
//! must classify as what it stands for, so the fake and the description agree.

use chrono::Utc;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use junction_core::{
    AdapterError,
    fake::{FakeResponse, Fault},
    http::{Refusal, ResponsePolicy, classify},
};
use serde_json::Map;

use crate::{
    api::HttpApi,
    fake::reply::{ErrorShape, cut, names},
};

/// The answer to `fault` before the credential is checked (an outage).
pub fn before_auth(shape: &ErrorShape, fault: Option<Fault>) -> Option<FakeResponse> {
    (fault == Some(Fault::ServerError)).then(|| shape.named(names::SERVER_ERROR, &[]))
}

/// The answer to `fault` once the caller is known (limits are per caller).
pub fn after_auth(shape: &ErrorShape, fault: Option<Fault>) -> Option<FakeResponse> {
    match fault? {
        Fault::RateLimited { retry_after_secs } => {
            let secs = retry_after_secs.to_string();
            let minutes = retry_after_secs.div_ceil(60).max(1).to_string();
            let vars = [("secs", secs.as_str()), ("minutes", minutes.as_str())];
            Some(shape.named(names::RATE_LIMITED, &vars))
        }
        Fault::QuotaExhausted => Some(shape.named(names::QUOTA_EXHAUSTED, &[])),
        _ => None,
    }
}

/// The handler's `response` under `fault`: as it is (`Ok`), or, a successful one
/// when the body is malformed, cut off halfway (`Err`).
pub fn answered(
    fault: Option<Fault>,
    response: FakeResponse,
) -> Result<FakeResponse, FakeResponse> {
    if fault == Some(Fault::MalformedBody) && (200..300).contains(&response.status) {
        Err(cut(response))
    } else {
        Ok(response)
    }
}

/// Problems with a fake's fault answers read by the adapter's `api` (its error table
/// and rate-limit signals, under key or token `policy`): an outage must be
/// `Unavailable`, a rate limit `RateLimited` and a used-up quota `QuotaExhausted` or
/// `RateLimited` (providers without a quota signal answer both alike).
pub fn check(
    shape: &ErrorShape,
    api: &HttpApi,
    policy: &ResponsePolicy,
) -> Result<(), Vec<String>> {
    let now = Utc::now();
    let read = |response: FakeResponse| {
        let mut headers = HeaderMap::new();
        for (name, value) in &response.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(name, value);
            }
        }
        let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::OK);
        let base = classify(status, &headers, &response.body, now, policy);
        let refusal = Refusal {
            status,
            headers: &headers,
            body: &response.body,
            now,
        };
        api.errors
            .classify(base, &refusal, &api.rate_limits, &Map::new())
    };
    let limited = Fault::RateLimited {
        retry_after_secs: 30,
    };
    let cases = [
        (
            Some(Fault::ServerError),
            "an outage",
            before_auth as fn(&ErrorShape, Option<Fault>) -> Option<FakeResponse>,
        ),
        (Some(limited), "a rate limit", after_auth),
        (Some(Fault::QuotaExhausted), "a used-up quota", after_auth),
    ];
    let problems: Vec<String> = cases
        .into_iter()
        .filter_map(|(fault, what, answer)| {
            let error = read(answer(shape, fault)?);
            let fits = match what {
                "an outage" => matches!(error, AdapterError::Unavailable { .. }),
                "a rate limit" => matches!(error, AdapterError::RateLimited { .. }),
                _ => matches!(
                    error,
                    AdapterError::QuotaExhausted { .. } | AdapterError::RateLimited { .. }
                ),
            };
            (!fits).then(|| format!("the fake's answer to {what} reads as {error:?}"))
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
