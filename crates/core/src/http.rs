//! Provider HTTP helper: sends a request under the shared rate limiter and classifies
//! every non-success response into an [`AdapterError`].
//!
//! Every provider adapter goes through [`send`], so the classification the worker's
//! retry policy relies on (rate limited, unavailable, unauthorized, provider refusal)
//! is decided once, here, from the status code, the rate-limit headers and the
//! provider's error body. Nothing in this module ever puts a request URL, a request
//! header or a response body verbatim into an error: URLs can carry API keys in their
//! query strings and bodies can echo tokens.
//!
//! The rate-limit headers are read by [`RateLimitInfo`], which lives in
//! [`crate::ratelimit`] and is re-exported here.

use std::time::Duration;

use ::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use crate::ratelimit::{RateLimitInfo, parse_retry_after};
use crate::{adapter::Context, error::AdapterError, spec::ProviderSpec};

/// Longest provider message kept in an error, in characters. Provider messages are
/// for humans reading a dashboard; a whole HTML error page is noise.
const MAX_MESSAGE_CHARS: usize = 300;

/// Longest provider error code kept, in characters (codes are identifiers).
const MAX_CODE_CHARS: usize = 100;

/// How much of an error response body is read. Error bodies are only mined for a
/// message, and a misbehaving proxy must not make us buffer megabytes.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// How to read responses of one connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponsePolicy {
    /// Whether a 401 may be fixed by refreshing the access token: true for OAuth
    /// connections (the token may have expired), false for API keys (a rejected key
    /// stays rejected, retrying only burns budget).
    pub unauthorized_is_refreshable: bool,
}

impl ResponsePolicy {
    /// For OAuth connections: a 401 triggers a token refresh and one more try.
    pub const OAUTH: Self = Self {
        unauthorized_is_refreshable: true,
    };

    /// For API keys and passwords: a 401 is permanent until the user fixes it.
    pub const API_KEY: Self = Self {
        unauthorized_is_refreshable: false,
    };

    /// The policy matching a provider's auth kind: a connection is refreshable when
    /// Junction can obtain a new token by itself (OAuth 2.0 with refresh tokens, client
    /// credentials). OAuth tokens that never expire (`RefreshBehaviour::None`, e.g.
    /// Mailchimp) are not: a 401 there means the grant is gone.
    pub fn for_auth(auth: &crate::spec::AuthSpec) -> Self {
        use crate::spec::{AuthSpec, RefreshBehaviour};
        match auth {
            AuthSpec::OAuth2(oauth) if oauth.refresh != RefreshBehaviour::None => Self::OAUTH,
            AuthSpec::ClientCredentials { .. } => Self::OAUTH,
            AuthSpec::OAuth2(_) | AuthSpec::ApiKey { .. } | AuthSpec::Basic { .. } => Self::API_KEY,
        }
    }
}

/// Classifies a non-success response.
///
/// - 429: [`AdapterError::RateLimited`], waiting per `Retry-After`, else the reset header;
/// - 401: [`AdapterError::Unauthorized`], refreshable per `policy`;
/// - 408 and 5xx: [`AdapterError::Unavailable`] (a retry may work);
/// - anything else: [`AdapterError::Provider`] with the provider's code and message.
///
/// The provider's message and code come from the common JSON error shapes (Google,
/// Meta, Stripe, OAuth 2.0, GraphQL, RFC 7807 problem details and more); otherwise
/// the body's text, truncated, or the status's reason when the body is empty.
pub fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
    policy: &ResponsePolicy,
) -> AdapterError {
    if status == StatusCode::TOO_MANY_REQUESTS {
        let info = RateLimitInfo::from_headers(headers, now);
        return AdapterError::RateLimited {
            retry_after: info.wait_hint(now),
        };
    }
    let ProviderMessage { code, message } = provider_message(status, body);
    if status == StatusCode::UNAUTHORIZED {
        return AdapterError::Unauthorized {
            refreshable: policy.unauthorized_is_refreshable,
            message,
        };
    }
    if status == StatusCode::REQUEST_TIMEOUT || status.is_server_error() {
        let code = code.map(|c| format!(" {c}")).unwrap_or_default();
        return AdapterError::Unavailable {
            message: format!("HTTP {}{code}: {message}", status.as_u16()),
        };
    }
    AdapterError::Provider {
        status: status.as_u16(),
        code,
        message,
    }
}

/// What a provider said about a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ProviderMessage {
    code: Option<String>,
    message: String,
}

/// Extracts the provider's message and code from an error body.
fn provider_message(status: StatusCode, body: &[u8]) -> ProviderMessage {
    let from_json = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|value| json_error(status, &value));
    if let Some((code, message)) = from_json {
        return ProviderMessage {
            code: code.map(|c| truncate(&one_line(&c), MAX_CODE_CHARS)),
            message: truncate(&one_line(&message), MAX_MESSAGE_CHARS),
        };
    }
    let text = one_line(String::from_utf8_lossy(body).trim());
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("unknown status")
            .to_owned()
    } else {
        truncate(&text, MAX_MESSAGE_CHARS)
    };
    ProviderMessage {
        code: None,
        message,
    }
}

/// Reads `(code, message)` from the error shapes providers use, most specific first.
fn json_error(status: StatusCode, value: &Value) -> Option<(Option<String>, String)> {
    let object = value.as_object()?;

    // Google, Meta, Stripe, HubSpot v1: {"error": {"message", "code"/"status"/"type"}}.
    if let Some(error) = object.get("error").and_then(Value::as_object)
        && let Some(message) = text_of(error.get("message"))
    {
        // Google repeats the HTTP status as a numeric `code` and puts the useful
        // identifier (`RESOURCE_EXHAUSTED`) in `status`; skip the echo when there is
        // something better.
        let echo = error
            .get("code")
            .and_then(Value::as_u64)
            .is_some_and(|c| c == u64::from(status.as_u16()));
        let code = ["code", "status", "type"]
            .iter()
            .filter(|key| !(echo && **key == "code"))
            .find_map(|key| code_of(error.get(*key)))
            .or_else(|| code_of(error.get("code")));
        return Some((code, message));
    }

    // OAuth 2.0 (RFC 6749 §5.2): {"error": "invalid_grant", "error_description": ".."};
    // Kit v3: {"error": "Not Found", "message": ".."}.
    if let Some(error) = text_of(object.get("error")) {
        let message = text_of(object.get("error_description"))
            .or_else(|| text_of(object.get("message")))
            .unwrap_or_else(|| error.clone());
        // An identifier-like `error` is a code; a sentence is only a message.
        let code = (!error.contains(char::is_whitespace)).then_some(error);
        return Some((code, message));
    }

    // GraphQL, SendGrid, Kit v4: {"errors": [{"message", "code" | "extensions.code"}]}
    // or {"errors": ["text"]}.
    if let Some(errors) = object.get("errors").and_then(Value::as_array) {
        let messages: Vec<String> = errors
            .iter()
            .filter_map(|e| {
                text_of(Some(e))
                    .or_else(|| text_of(e.get("message")))
                    .or_else(|| text_of(e.get("detail")))
                    .or_else(|| text_of(e.get("title")))
            })
            .collect();
        if !messages.is_empty() {
            let code = errors.iter().find_map(|e| {
                code_of(e.get("code"))
                    .or_else(|| code_of(e.get("extensions").and_then(|x| x.get("code"))))
                    .or_else(|| code_of(e.get("error_code")))
            });
            return Some((code, messages.join("; ")));
        }
    }

    // Plain {"message", "code"} (Mailgun, Resend, Kit, Hashnode REST, many others).
    let top_code = || {
        code_of(object.get("code"))
            .or_else(|| code_of(object.get("error_code")))
            .or_else(|| code_of(object.get("name")))
    };
    if let Some(message) = text_of(object.get("message")) {
        return Some((top_code(), message));
    }

    // RFC 7807 problem details (Mailchimp) and FastAPI: {"detail"} / {"title"}.
    if let Some(detail) = text_of(object.get("detail")) {
        return Some((top_code(), detail));
    }
    if let Some(title) = text_of(object.get("title")) {
        return Some((top_code(), title));
    }
    None
}

/// A non-empty string value.
fn text_of(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A code value: a non-empty string, or a number written as a string.
fn code_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Number(n) => Some(n.to_string()),
        other => text_of(Some(other)),
    }
}

/// Collapses line breaks and tabs so an error stays one line in logs and tables.
fn one_line(text: &str) -> String {
    text.split(['\r', '\n', '\t'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Cuts `text` to at most `max` characters (never inside a character), marking the
/// cut with an ellipsis.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The HTTP client every provider call goes through: bounded timeouts, and no
/// redirects followed — a provider's redirect would carry credentials (headers the
/// adapter or the proxy set) to wherever it points.
pub fn client(user_agent: &str) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(user_agent)
        .build()
}

/// Sends `request` for the provider `spec` under the shared rate limiter and
/// returns the response whatever its status (the authenticated proxy hands it back
/// as it is). Only a transport failure is an error.
pub async fn send_raw(
    ctx: &Context,
    spec: &ProviderSpec,
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, AdapterError> {
    ctx.limiter.acquire(spec.id, &spec.rate_limit).await?;
    let response = request.send().await.map_err(transport_error)?;
    let info = RateLimitInfo::from_headers(response.headers(), ctx.now());
    ctx.limiter.observe(spec.id, &info);
    Ok(response)
}

/// Sends `request` for the provider `spec` under the shared rate limiter.
///
/// Waits for `ctx.limiter` first, reports every response's rate-limit headers to it
/// (the success ones too, so it can slow down before the provider refuses), and
/// returns the response on 2xx. Any other status is read and [`classify`]-ed; a
/// transport failure becomes [`AdapterError::Unavailable`] (or `Invalid` when the
/// request could not even be built). The request URL never appears in an error.
pub async fn send(
    ctx: &Context,
    spec: &ProviderSpec,
    request: reqwest::RequestBuilder,
    policy: &ResponsePolicy,
) -> Result<reqwest::Response, AdapterError> {
    send_refined(ctx, spec, request, policy, |classified, _| classified).await
}

/// A provider's refusal as [`send_refined`] hands it to the refinement.
#[derive(Debug, Clone, Copy)]
pub struct Refusal<'a> {
    pub status: StatusCode,
    pub headers: &'a HeaderMap,
    /// The body, up to 64 KiB.
    pub body: &'a [u8],
    pub now: DateTime<Utc>,
}

/// [`send`], with a provider-specific refinement of the generic classification of a
/// refusal: for signals that only the body carries (GA4 names the exhausted quota in
/// its 429 body, Meta throttles with error codes).
pub async fn send_refined(
    ctx: &Context,
    spec: &ProviderSpec,
    request: reqwest::RequestBuilder,
    policy: &ResponsePolicy,
    refine: impl FnOnce(AdapterError, &Refusal<'_>) -> AdapterError,
) -> Result<reqwest::Response, AdapterError> {
    ctx.limiter.acquire(spec.id, &spec.rate_limit).await?;
    let mut response = request.send().await.map_err(|err| {
        let err = transport_error(err);
        tracing::debug!(provider = spec.id, error = %err, "provider request failed");
        err
    })?;
    let now = ctx.now();
    let info = RateLimitInfo::from_headers(response.headers(), now);
    ctx.limiter.observe(spec.id, &info);

    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let headers = response.headers().clone();
    // A body that fails to arrive still leaves the status to classify by; the status
    // matters more to the retry policy than the message.
    let body = read_capped(&mut response, MAX_ERROR_BODY_BYTES)
        .await
        .unwrap_or_default();
    let classified = classify(status, &headers, &body, now, policy);
    let err = refine(
        classified,
        &Refusal {
            status,
            headers: &headers,
            body: &body,
            now,
        },
    );
    tracing::debug!(
        provider = spec.id,
        status = status.as_u16(),
        error = %err,
        "provider refused the request"
    );
    Err(err)
}

/// Reads at most `cap` bytes of a response body.
async fn read_capped(
    response: &mut reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = cap.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= cap {
            break;
        }
    }
    Ok(body)
}

/// Classifies a transport failure without letting the URL (which may carry an API
/// key in its query string) into the message.
fn transport_error(err: reqwest::Error) -> AdapterError {
    // Remember the URL's query only to scrub it from nested error texts: reqwest
    // attaches the URL to its own error, but a source error could quote it too.
    let query = err.url().and_then(|u| u.query()).map(str::to_owned);
    let kind = if err.is_timeout() {
        "request timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_redirect() {
        "redirect failed"
    } else if err.is_body() {
        "request or response body failed"
    } else if err.is_decode() {
        "response could not be decoded"
    } else if err.is_builder() {
        "request could not be built"
    } else {
        "request failed"
    };
    let is_builder = err.is_builder();
    let err = err.without_url();
    let mut detail = Vec::new();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        detail.push(cause.to_string());
        source = cause.source();
    }
    let mut message = if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {}", detail.join(": "))
    };
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        message = message.replace(&query, "<redacted>");
    }
    let message = truncate(&one_line(&message), MAX_MESSAGE_CHARS);
    if is_builder {
        // A request that cannot be built (bad header value, bad URL) fails the same
        // way every time: retrying would not help.
        AdapterError::invalid(message)
    } else {
        AdapterError::Unavailable { message }
    }
}

/// Parses a successful response's body as JSON.
///
/// A body that does not parse is [`AdapterError::Unavailable`]: it is most often a
/// flaky proxy or a truncated transfer, which a retry may fix. The error says where
/// parsing failed but quotes no part of the body, which may hold tokens.
pub async fn json<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, AdapterError> {
    let body = response.bytes().await.map_err(transport_error)?;
    serde_json::from_slice(&body).map_err(|err| AdapterError::Unavailable {
        message: format!("malformed response body: {}", describe_json_error(&err)),
    })
}

/// A serde_json error without the body values serde quotes in its messages
/// (`invalid type: string "sk_live_..."`): quoted strings and backticked values are
/// replaced, field names of the expected type are kept.
fn describe_json_error(err: &serde_json::Error) -> String {
    let text = err.to_string();
    // `missing field `x`` and `duplicate field `x`` name fields of our own types.
    let keeps_backticks = text.starts_with("missing field") || text.starts_with("duplicate field");
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push_str("\"…\"");
                let mut escaped = false;
                for inner in chars.by_ref() {
                    match inner {
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => break,
                        _ => escaped = false,
                    }
                }
            }
            '`' if !keeps_backticks => {
                out.push_str("`…`");
                for inner in chars.by_ref() {
                    if inner == '`' {
                        break;
                    }
                }
            }
            other => out.push(other),
        }
    }
    truncate(&one_line(&out), MAX_MESSAGE_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::http::HeaderValue;
    use chrono::TimeZone;
    use serde_json::json;

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

    fn classify_json(status: u16, body: Value) -> AdapterError {
        classify(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.to_string().as_bytes(),
            now(),
            &ResponsePolicy::API_KEY,
        )
    }

    fn provider(status: u16, code: Option<&str>, message: &str) -> AdapterError {
        AdapterError::Provider {
            status,
            code: code.map(str::to_owned),
            message: message.to_owned(),
        }
    }

    #[test]
    fn too_many_requests_uses_retry_after() {
        let err = classify(
            StatusCode::TOO_MANY_REQUESTS,
            &headers(&[("Retry-After", "7"), ("X-RateLimit-Reset", "60")]),
            b"slow down",
            now(),
            &ResponsePolicy::API_KEY,
        );
        assert_eq!(
            err,
            AdapterError::RateLimited {
                retry_after: Some(Duration::from_secs(7))
            }
        );
    }

    #[test]
    fn too_many_requests_falls_back_to_the_reset_header() {
        let err = classify(
            StatusCode::TOO_MANY_REQUESTS,
            &headers(&[("RateLimit-Reset", "12")]),
            b"",
            now(),
            &ResponsePolicy::API_KEY,
        );
        assert_eq!(
            err,
            AdapterError::RateLimited {
                retry_after: Some(Duration::from_secs(12))
            }
        );
        // Kit sends 429 "Retry later" with no header at all.
        let err = classify(
            StatusCode::TOO_MANY_REQUESTS,
            &HeaderMap::new(),
            b"Retry later",
            now(),
            &ResponsePolicy::API_KEY,
        );
        assert_eq!(err, AdapterError::RateLimited { retry_after: None });
    }

    #[test]
    fn unauthorized_follows_the_policy() {
        let body = br#"{"error":"invalid_token","error_description":"The access token expired"}"#;
        for policy in [ResponsePolicy::OAUTH, ResponsePolicy::API_KEY] {
            let err = classify(
                StatusCode::UNAUTHORIZED,
                &HeaderMap::new(),
                body,
                now(),
                &policy,
            );
            assert_eq!(
                err,
                AdapterError::Unauthorized {
                    refreshable: policy.unauthorized_is_refreshable,
                    message: "The access token expired".into()
                }
            );
        }
    }

    #[test]
    fn policy_follows_the_auth_kind() {
        use crate::spec::{AuthSpec, OAuth2Spec, RefreshBehaviour, TokenClientAuth};
        let api_key = AuthSpec::ApiKey { fields: vec![] };
        assert_eq!(ResponsePolicy::for_auth(&api_key), ResponsePolicy::API_KEY);
        let oauth = |refresh| {
            AuthSpec::OAuth2(OAuth2Spec {
                authorize_url: "https://example.invalid/authorize",
                token_url: "https://example.invalid/token",
                revoke_url: None,
                scopes: vec![],
                scope_separator: " ",
                pkce: true,
                extra_authorize_params: vec![],
                refresh,
                client_auth: TokenClientAuth::BasicHeader,
                long_lived_exchange: None,
            })
        };
        assert_eq!(
            ResponsePolicy::for_auth(&oauth(RefreshBehaviour::Rotating)),
            ResponsePolicy::OAUTH
        );
        assert_eq!(
            ResponsePolicy::for_auth(&oauth(RefreshBehaviour::Stable)),
            ResponsePolicy::OAUTH
        );
        assert_eq!(
            ResponsePolicy::for_auth(&oauth(RefreshBehaviour::None)),
            ResponsePolicy::API_KEY
        );
        assert_eq!(ResponsePolicy::default(), ResponsePolicy::API_KEY);
    }

    #[test]
    fn server_errors_and_timeouts_are_unavailable() {
        let err = classify_json(
            503,
            json!({"error": {"code": 503, "message": "The service is currently unavailable.", "status": "UNAVAILABLE"}}),
        );
        assert_eq!(
            err,
            AdapterError::unavailable(
                "HTTP 503 UNAVAILABLE: The service is currently unavailable."
            )
        );
        let err = classify(
            StatusCode::REQUEST_TIMEOUT,
            &HeaderMap::new(),
            b"",
            now(),
            &ResponsePolicy::API_KEY,
        );
        assert_eq!(err, AdapterError::unavailable("HTTP 408: Request Timeout"));
        let err = classify(
            StatusCode::BAD_GATEWAY,
            &HeaderMap::new(),
            b"upstream connect error",
            now(),
            &ResponsePolicy::API_KEY,
        );
        assert_eq!(
            err,
            AdapterError::unavailable("HTTP 502: upstream connect error")
        );
        assert!(err.is_retryable());
    }

    #[test]
    fn other_client_errors_are_provider_errors() {
        let err = classify(
            StatusCode::NOT_FOUND,
            &HeaderMap::new(),
            b"",
            now(),
            &ResponsePolicy::API_KEY,
        );
        assert_eq!(err, provider(404, None, "Not Found"));
        assert!(!err.is_retryable());
    }

    #[test]
    fn nested_error_object_shapes() {
        // Stripe.
        let err = classify_json(
            400,
            json!({"error": {"code": "resource_missing", "message": "No such customer: 'cus_1'", "type": "invalid_request_error"}}),
        );
        assert_eq!(
            err,
            provider(400, Some("resource_missing"), "No such customer: 'cus_1'")
        );
        // Google: the numeric code echoes the status; `status` is the useful one.
        let err = classify_json(
            403,
            json!({"error": {"code": 403, "message": "User does not have sufficient permissions", "status": "PERMISSION_DENIED"}}),
        );
        assert_eq!(
            err,
            provider(
                403,
                Some("PERMISSION_DENIED"),
                "User does not have sufficient permissions"
            )
        );
        // Meta: a numeric code of its own becomes a string.
        let err = classify_json(
            400,
            json!({"error": {"message": "(#17) User request limit reached", "type": "OAuthException", "code": 17, "fbtrace_id": "x"}}),
        );
        assert_eq!(
            err,
            provider(400, Some("17"), "(#17) User request limit reached")
        );
        // Only a type.
        let err = classify_json(400, json!({"error": {"message": "bad", "type": "invalid"}}));
        assert_eq!(err, provider(400, Some("invalid"), "bad"));
    }

    #[test]
    fn oauth_error_shape() {
        let err = classify_json(
            400,
            json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
        );
        assert_eq!(
            err,
            provider(
                400,
                Some("invalid_grant"),
                "Token has been expired or revoked."
            )
        );
        let err = classify_json(400, json!({"error": "invalid_request"}));
        assert_eq!(
            err,
            provider(400, Some("invalid_request"), "invalid_request")
        );
        // A sentence in `error` is a message, not a code.
        let err = classify_json(
            404,
            json!({"error": "Not Found", "message": "Subscriber not found"}),
        );
        assert_eq!(err, provider(404, None, "Subscriber not found"));
    }

    #[test]
    fn top_level_message_and_code_shape() {
        let err = classify_json(
            422,
            json!({"message": "The `to` field is required", "code": "validation_error"}),
        );
        assert_eq!(
            err,
            provider(422, Some("validation_error"), "The `to` field is required")
        );
        let err = classify_json(400, json!({"message": "bad request", "code": 1001}));
        assert_eq!(err, provider(400, Some("1001"), "bad request"));
        let err = classify_json(400, json!({"message": "only a message"}));
        assert_eq!(err, provider(400, None, "only a message"));
    }

    #[test]
    fn errors_array_shapes() {
        // GraphQL.
        let err = classify_json(
            400,
            json!({"errors": [{"message": "Post not found", "extensions": {"code": "NOT_FOUND"}}]}),
        );
        assert_eq!(err, provider(400, Some("NOT_FOUND"), "Post not found"));
        // SendGrid: several messages, the code from the first that has one.
        let err = classify_json(
            400,
            json!({"errors": [{"message": "from is required", "field": "from"}, {"message": "bad subject", "code": "E2"}]}),
        );
        assert_eq!(
            err,
            provider(400, Some("E2"), "from is required; bad subject")
        );
        // Kit v4: plain strings.
        let err = classify_json(401, json!({"errors": ["The access token is invalid"]}));
        assert_eq!(
            err,
            AdapterError::Unauthorized {
                refreshable: false,
                message: "The access token is invalid".into()
            }
        );
    }

    #[test]
    fn problem_details_shapes() {
        let err = classify_json(
            404,
            json!({"type": "https://mailchimp.com/developer/marketing/docs/errors/", "title": "Resource Not Found", "status": 404, "detail": "The requested resource could not be found."}),
        );
        assert_eq!(
            err,
            provider(404, None, "The requested resource could not be found.")
        );
        let err = classify_json(403, json!({"title": "Forbidden"}));
        assert_eq!(err, provider(403, None, "Forbidden"));
        let err = classify_json(
            400,
            json!({"detail": "Invalid page.", "code": "invalid_page"}),
        );
        assert_eq!(err, provider(400, Some("invalid_page"), "Invalid page."));
    }

    #[test]
    fn unrecognised_json_falls_back_to_the_text() {
        let err = classify_json(400, json!({"ok": false}));
        assert_eq!(err, provider(400, None, r#"{"ok":false}"#));
    }

    #[test]
    fn long_bodies_are_truncated_on_a_char_boundary() {
        let body = "é".repeat(1000);
        let err = classify(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            body.as_bytes(),
            now(),
            &ResponsePolicy::API_KEY,
        );
        let AdapterError::Provider { message, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS);
        assert!(message.ends_with('…'));
        assert!(message.starts_with("éé"));
    }

    #[test]
    fn multi_line_messages_become_one_line() {
        let err = classify(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            b"line one\r\n  line two\n",
            now(),
            &ResponsePolicy::API_KEY,
        );
        assert_eq!(err, provider(400, None, "line one line two"));
    }

    #[test]
    fn json_errors_do_not_quote_the_body() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Token {
            expires_in: u64,
        }
        let err = serde_json::from_str::<Token>(r#"{"expires_in": "sk_live_SECRET"}"#).unwrap_err();
        let described = describe_json_error(&err);
        assert!(!described.contains("SECRET"), "{described}");
        assert!(described.contains("expected u64"), "{described}");
        let err = serde_json::from_str::<Token>("{}").unwrap_err();
        assert!(describe_json_error(&err).contains("missing field `expires_in`"));
    }
}
