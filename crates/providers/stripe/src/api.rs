//! Calling Stripe: authentication, the pinned `Stripe-Version`, form-encoded bodies
//! with `Idempotency-Key`, and Stripe's errors.
//!
//! Every request goes through [`junction_core::http::send_refined`] (shared rate
//! limiter, generic classification) and [`refine`], which reads Stripe's error
//! object `{"error": {"type", "code", "message", "param", "decline_code"}}` and the
//! `Stripe-Should-Retry` header. Stripe quotes a masked API key in some messages
//! ("Invalid API Key provided: sk_test_****1234"); [`redact`] removes anything
//! key-shaped before a message can reach an error.

use junction_core::{
    AdapterError, Connection, Context, ProxyTarget,
    http::{Refusal, ResponsePolicy, send_refined},
};
use reqwest::Method;
use secrecy::ExposeSecret;
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::Value;

use crate::spec::{API_VERSION, DEFAULT_BASE, spec};

/// The header carrying the idempotency key of a POST.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// The header pinning the API version.
pub const VERSION_HEADER: &str = "Stripe-Version";

/// The header Stripe sets when it knows whether a retry can succeed.
pub const SHOULD_RETRY_HEADER: &str = "Stripe-Should-Retry";

/// Stripe's longest accepted idempotency key.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// The name of the credential field holding the API key.
pub const SECRET_KEY_FIELD: &str = "secret_key";

/// One Stripe list page: `{"object": "list", "data": [...], "has_more", "url"}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct List {
    pub object: String,
    pub data: Vec<Value>,
    pub has_more: bool,
}

/// Stripe calls of one connection.
pub(crate) struct Api<'a> {
    ctx: &'a Context,
    conn: &'a Connection,
}

impl<'a> Api<'a> {
    pub fn new(ctx: &'a Context, conn: &'a Connection) -> Self {
        Self { ctx, conn }
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.ctx.now()
    }

    /// Whether the key is a live-mode key (else test mode).
    pub fn is_live(&self) -> Result<bool, AdapterError> {
        let key = self.conn.secret(SECRET_KEY_FIELD)?.expose_secret();
        Ok(key.starts_with("sk_live_") || key.starts_with("rk_live_"))
    }

    /// The API root (the override's, when set) with the key as `Authorization: Bearer`,
    /// for the authenticated proxy: the same host and credential as [`Api::request`].
    pub fn proxy_target(&self) -> Result<ProxyTarget, AdapterError> {
        let base_url = self.ctx.url(DEFAULT_BASE, "")?;
        let key = self.conn.secret(SECRET_KEY_FIELD)?;
        Ok(ProxyTarget::bearer(base_url, key))
    }

    fn request(&self, method: Method, path: &str) -> Result<reqwest::RequestBuilder, AdapterError> {
        let url = self.ctx.url(DEFAULT_BASE, path)?;
        let key = self.conn.secret(SECRET_KEY_FIELD)?;
        Ok(self
            .ctx
            .http
            .request(method, url)
            .bearer_auth(key.expose_secret())
            .header(VERSION_HEADER, API_VERSION)
            .header(reqwest::header::ACCEPT, "application/json"))
    }

    /// `GET {path}?{query}`, decoded.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(String, String)],
    ) -> Result<T, AdapterError> {
        let mut request = self.request(Method::GET, path)?;
        if !query.is_empty() {
            request = request.query(query);
        }
        self.send(request).await
    }

    /// One list page, checked to be a list.
    pub async fn list(&self, path: &str, query: &[(String, String)]) -> Result<List, AdapterError> {
        let list: List = self.get(path, query).await?;
        if list.object != "list" {
            return Err(AdapterError::unavailable(format!(
                "Stripe answered {path} with a `{}` object instead of a list",
                list.object
            )));
        }
        Ok(list)
    }

    /// `POST {path}` with a form-encoded body and, when given, an `Idempotency-Key`.
    pub async fn post_form(
        &self,
        path: &str,
        pairs: &[(String, String)],
        idempotency_key: Option<&str>,
    ) -> Result<Value, AdapterError> {
        let mut request = self
            .request(Method::POST, path)?
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(crate::form::to_body(pairs));
        if let Some(key) = idempotency_key {
            request = request.header(IDEMPOTENCY_HEADER, key);
        }
        self.send(request).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, AdapterError> {
        let response =
            send_refined(self.ctx, spec(), request, &ResponsePolicy::API_KEY, refine).await?;
        junction_core::http::json(response).await
    }
}

/// Stripe's error envelope.
#[derive(Debug, Default, Deserialize)]
struct Envelope {
    error: StripeError,
}

#[derive(Debug, Default, Deserialize)]
struct StripeError {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    decline_code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    param: Option<String>,
}

/// Refines the generic classification of a Stripe refusal with Stripe's error object
/// and `Stripe-Should-Retry`.
pub(crate) fn refine(base: AdapterError, refusal: &Refusal<'_>) -> AdapterError {
    let error = serde_json::from_slice::<Envelope>(refusal.body)
        .map(|envelope| envelope.error)
        .unwrap_or_default();
    let message = error
        .message
        .as_deref()
        .map(|text| redact(&one_line(text)))
        .unwrap_or_else(|| message_of(&base));
    let code = error.decline_code.clone().or(error.code.clone());
    let status = refusal.status.as_u16();
    let refined = match status {
        // Stripe sends no Retry-After: `base` carries one only if a proxy added it,
        // and otherwise leaves the back-off to the retry policy.
        429 => base,
        401 => AdapterError::Unauthorized {
            refreshable: false,
            message: message.clone(),
        },
        // A restricted key without the permission the endpoint needs.
        403 => AdapterError::Unauthorized {
            refreshable: false,
            message: format!(
                "the API key lacks a permission this call needs (give the restricted key \
                 read access to the synced objects, write access for actions): {message}"
            ),
        },
        // A request Stripe will refuse the same way every time: a bad or missing
        // parameter (named by `param`), or an idempotency key reused with different
        // parameters.
        400 if matches!(
            error.kind.as_deref(),
            Some("invalid_request_error" | "idempotency_error")
        ) =>
        {
            AdapterError::Invalid {
                field: error.param.clone().filter(|p| !p.is_empty()),
                message: with_code(&message, code.as_deref()),
            }
        }
        _ => match base {
            AdapterError::Provider {
                status,
                code: base_code,
                ..
            } => AdapterError::Provider {
                status,
                code: code.or(base_code),
                message: message.clone(),
            },
            AdapterError::Unavailable { .. } => AdapterError::Unavailable {
                message: format!("HTTP {status}: {message}"),
            },
            other => redact_error(other),
        },
    };
    apply_should_retry(refined, refusal, &message)
}

/// Follows `Stripe-Should-Retry` where Stripe sent it: `true` makes a refusal
/// retryable (a lock timeout, a request still in flight under the same idempotency
/// key), `false` makes it final.
fn apply_should_retry(error: AdapterError, refusal: &Refusal<'_>, message: &str) -> AdapterError {
    let should_retry = refusal
        .headers
        .get(SHOULD_RETRY_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.trim().eq_ignore_ascii_case("true"));
    match should_retry {
        Some(true) if !error.is_retryable() => AdapterError::Unavailable {
            message: format!(
                "HTTP {} (Stripe says a retry can succeed): {message}",
                refusal.status.as_u16()
            ),
        },
        Some(false)
            if error.is_retryable() && !matches!(error, AdapterError::RateLimited { .. }) =>
        {
            AdapterError::Invalid {
                field: None,
                message: format!(
                    "HTTP {} (Stripe says a retry will not succeed): {message}",
                    refusal.status.as_u16()
                ),
            }
        }
        _ => error,
    }
}

fn with_code(message: &str, code: Option<&str>) -> String {
    match code {
        Some(code) => format!("{message} ({code})"),
        None => message.to_owned(),
    }
}

/// The human message of an error, redacted.
fn message_of(error: &AdapterError) -> String {
    match error {
        AdapterError::Unavailable { message }
        | AdapterError::Unauthorized { message, .. }
        | AdapterError::Invalid { message, .. }
        | AdapterError::Provider { message, .. } => redact(message),
        other => other.to_string(),
    }
}

/// The same error with every message redacted.
fn redact_error(error: AdapterError) -> AdapterError {
    match error {
        AdapterError::Unavailable { message } => AdapterError::Unavailable {
            message: redact(&message),
        },
        AdapterError::Unauthorized {
            refreshable,
            message,
        } => AdapterError::Unauthorized {
            refreshable,
            message: redact(&message),
        },
        AdapterError::Invalid { field, message } => AdapterError::Invalid {
            field,
            message: redact(&message),
        },
        AdapterError::Provider {
            status,
            code,
            message,
        } => AdapterError::Provider {
            status,
            code,
            message: redact(&message),
        },
        other => other,
    }
}

/// Prefixes of Stripe credentials that must never appear in an error, masked or not.
const KEY_PREFIXES: [&str; 7] = [
    "sk_live_", "sk_test_", "rk_live_", "rk_test_", "pk_live_", "pk_test_", "whsec_",
];

/// Replaces anything shaped like a Stripe key (including Stripe's own masked form,
/// `sk_test_****1234`) with `<redacted>`.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((at, prefix)) = KEY_PREFIXES
        .iter()
        .filter_map(|prefix| rest.find(prefix).map(|at| (at, *prefix)))
        .min_by_key(|(at, _)| *at)
    {
        out.push_str(&rest[..at]);
        out.push_str("<redacted>");
        let after = &rest[at + prefix.len()..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '*' || c == '_'))
            .unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn one_line(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > 300 {
        let mut cut: String = line.chars().take(299).collect();
        cut.push('…');
        cut
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use http::{HeaderMap, HeaderValue, StatusCode};
    use serde_json::json;

    fn refused(status: u16, headers: &[(&'static str, &str)], body: Value) -> AdapterError {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        let status = StatusCode::from_u16(status).unwrap();
        let body = body.to_string().into_bytes();
        let now = Utc::now();
        let base =
            junction_core::http::classify(status, &map, &body, now, &ResponsePolicy::API_KEY);
        refine(
            base,
            &Refusal {
                status,
                headers: &map,
                body: &body,
                now,
            },
        )
    }

    fn stripe_error(kind: &str, code: Option<&str>, message: &str, param: Option<&str>) -> Value {
        json!({"error": {"type": kind, "code": code, "message": message, "param": param}})
    }

    #[test]
    fn key_shaped_text_is_redacted() {
        assert_eq!(
            redact("Invalid API Key provided: sk_test_********************1234"),
            "Invalid API Key provided: <redacted>"
        );
        assert_eq!(
            redact("keys rk_live_abc_DEF and whsec_xyz, then pk_test_1."),
            "keys <redacted> and <redacted>, then <redacted>."
        );
        assert_eq!(redact("nothing secret"), "nothing secret");
    }

    #[test]
    fn a_bad_key_is_final_and_unquoted() {
        let err = refused(
            401,
            &[],
            stripe_error(
                "invalid_request_error",
                None,
                "Invalid API Key provided: sk_test_****WXYZ",
                None,
            ),
        );
        assert_eq!(
            err,
            AdapterError::Unauthorized {
                refreshable: false,
                message: "Invalid API Key provided: <redacted>".into()
            }
        );
    }

    #[test]
    fn parameter_errors_name_the_parameter() {
        let err = refused(
            400,
            &[],
            stripe_error(
                "invalid_request_error",
                Some("resource_missing"),
                "No such customer: 'cus_nope'",
                Some("customer"),
            ),
        );
        assert_eq!(
            err,
            AdapterError::invalid_field(
                "customer",
                "No such customer: 'cus_nope' (resource_missing)"
            )
        );
        let err = refused(
            400,
            &[],
            stripe_error(
                "idempotency_error",
                None,
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                None,
            ),
        );
        assert!(
            matches!(err, AdapterError::Invalid { field: None, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn card_errors_keep_the_decline_code() {
        let body = json!({"error": {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card has insufficient funds.", "param": ""}});
        let err = refused(402, &[], body);
        assert_eq!(
            err,
            AdapterError::Provider {
                status: 402,
                code: Some("insufficient_funds".into()),
                message: "Your card has insufficient funds.".into()
            }
        );
        assert!(!err.is_retryable());
    }

    #[test]
    fn rate_limits_have_no_hint_unless_one_was_sent() {
        let body = stripe_error(
            "invalid_request_error",
            Some("rate_limit"),
            "Too many requests hit the API too quickly.",
            None,
        );
        assert_eq!(
            refused(429, &[], body.clone()),
            AdapterError::RateLimited { retry_after: None }
        );
        assert_eq!(
            refused(429, &[("retry-after", "3")], body),
            AdapterError::RateLimited {
                retry_after: Some(std::time::Duration::from_secs(3))
            }
        );
    }

    #[test]
    fn should_retry_overrides_the_status() {
        let body = stripe_error(
            "invalid_request_error",
            Some("lock_timeout"),
            "locked",
            None,
        );
        let err = refused(400, &[("stripe-should-retry", "true")], body);
        assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
        let body = stripe_error("api_error", None, "An unknown error occurred", None);
        let err = refused(500, &[("stripe-should-retry", "false")], body.clone());
        assert!(matches!(err, AdapterError::Invalid { .. }), "{err:?}");
        let err = refused(500, &[], body);
        assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
    }

    #[test]
    fn a_missing_permission_needs_the_user() {
        let err = refused(
            403,
            &[],
            stripe_error(
                "invalid_request_error",
                None,
                "The provided key 'rk_test_***abcd' does not have the required permissions for this endpoint on account 'acct_1'.",
                None,
            ),
        );
        let AdapterError::Unauthorized {
            refreshable,
            message,
        } = &err
        else {
            panic!("{err:?}")
        };
        assert!(!refreshable);
        assert!(!message.contains("rk_test"), "{message}");
    }
}
