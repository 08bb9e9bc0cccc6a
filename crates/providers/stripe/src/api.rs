//! Stripe's API as the provider toolkit runs it: the host, the secret key as
//! `Authorization: Bearer`, the pinned `Stripe-Version`, and how Stripe's refusals
//! read.
//!
//! Stripe's error object is `{"error": {"type", "code", "decline_code", "message",
//! "param"}}`; [`API`]'s table says:
//!
//! - 429 is a rate limit. Stripe sends no `Retry-After`, so the wait is the one a
//!   proxy on the way may have added, else the retry policy's back-off;
//! - 401 (a revoked, rolled or expired key) and 403 (a restricted key without the
//!   permission the endpoint needs) are `Unauthorized`: a refresh cannot help;
//! - a 400 of type `invalid_request_error` or `idempotency_error` (a bad or missing
//!   parameter, a key reused with other parameters) is `Invalid`, naming Stripe's
//!   `param` and quoting its code;
//! - anything else keeps its generic class with Stripe's message and code (the
//!   `decline_code` of a card refusal before the `code`).
//!
//! Then [`refine`] follows `Stripe-Should-Retry` where Stripe sent it, and removes
//! anything key-shaped from the message: Stripe quotes a masked key in some of them
//! ("Invalid API Key provided: sk_test_****1234").

use junction_core::{
    AdapterError, Connection, Context,
    http::{Refusal, ResponsePolicy},
};
use junction_toolkit::{
    AuthMode, BaseUrl, Class, Client, Envelope, ErrorRule, ErrorTable, Fetched, HttpApi, Placement,
    RateLimitSignals, Refused, When,
    api::IdempotencyKey,
    errors::{map_message, redact_prefixed},
};
use reqwest::Method;
use serde_json::Value;

use crate::spec::{API_VERSION, DEFAULT_BASE, SECRET_KEY_FIELD, spec};

/// The header carrying the idempotency key of a POST.
pub const IDEMPOTENCY_HEADER: &str = IDEMPOTENCY.header;

/// The header pinning the API version.
pub const VERSION_HEADER: &str = "Stripe-Version";

/// The header Stripe sets when it knows whether a retry can succeed.
pub const SHOULD_RETRY_HEADER: &str = "Stripe-Should-Retry";

/// Stripe's longest accepted idempotency key.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// How actions pass the caller's idempotency key: `Idempotency-Key`, checked
/// against Stripe's limit before anything is sent.
pub const IDEMPOTENCY: IdempotencyKey = IdempotencyKey::header(MAX_IDEMPOTENCY_KEY_CHARS);

/// Prefixes of Stripe credentials that must never appear in an error, masked or not.
const KEY_PREFIXES: [&str; 7] = [
    "sk_live_", "sk_test_", "rk_live_", "rk_test_", "pk_live_", "pk_test_", "whsec_",
];

/// What a 403 says: a restricted key lacks the permission, and which ones it needs.
const NO_PERMISSION: &str = "the API key lacks a permission this call needs (give the \
     restricted key read access to the synced objects, write access for actions): {message}";

/// Stripe's API. Request paths go under `v1`; the authenticated proxy targets the
/// host root (its clients name the version themselves).
pub const API: HttpApi = HttpApi {
    base: BaseUrl::fixed(DEFAULT_BASE).with_prefix("v1"),
    auth: &[AuthMode::ApiKey {
        field: SECRET_KEY_FIELD,
        placement: Placement::BEARER_KEY,
    }],
    headers: &[
        (VERSION_HEADER, API_VERSION),
        ("accept", "application/json"),
    ],
    // `check` is the adapter's own: restricted keys may not read the account.
    verification: None,
    errors: ErrorTable {
        envelope: Envelope {
            code: &["/error/decline_code", "/error/code"],
            message: &["/error/message"],
            ..Envelope::GENERIC
        },
        rules: &[
            ErrorRule::status(429).keep(),
            ErrorRule::status(401).unauthorized(false),
            ErrorRule::status(403)
                .unauthorized(false)
                .message(NO_PERMISSION),
            ErrorRule::status(400)
                .when(When::Equals("/error/type", "invalid_request_error"))
                .class(Class::Custom(invalid_param)),
            ErrorRule::status(400)
                .when(When::Equals("/error/type", "idempotency_error"))
                .class(Class::Custom(invalid_param)),
            ErrorRule::any().class(Class::Custom(with_stripes_words)),
        ],
        in_success_body: None,
    },
    rate_limits: RateLimitSignals::STANDARD,
};

/// A request Stripe will refuse the same way every time, naming the parameter.
fn invalid_param(refused: &Refused<'_>) -> AdapterError {
    let param = refused.body.and_then(|body| body.pointer("/error/param"));
    AdapterError::Invalid {
        field: junction_toolkit::data::text(param),
        message: match &refused.code {
            Some(code) => format!("{} ({code})", refused.message),
            None => refused.message.clone(),
        },
    }
}

/// The generic class in Stripe's words: its message, and its code before the
/// generic one; an outage says its status.
fn with_stripes_words(refused: &Refused<'_>) -> AdapterError {
    match refused.base {
        AdapterError::Provider { status, code, .. } => AdapterError::Provider {
            status: *status,
            code: refused.code.clone().or_else(|| code.clone()),
            message: refused.message.clone(),
        },
        AdapterError::Unavailable { .. } => AdapterError::Unavailable {
            message: format!("HTTP {}: {}", refused.status.as_u16(), refused.message),
        },
        other => other.clone(),
    }
}

/// Stripe's say on top of the table: `Stripe-Should-Retry: true` makes a refusal
/// retryable (a lock timeout, a request still in flight under the same idempotency
/// key), `false` makes it final; and no message keeps anything key-shaped.
pub(crate) fn refine(error: AdapterError, refusal: &Refusal<'_>) -> AdapterError {
    let should_retry = refusal
        .headers
        .get(SHOULD_RETRY_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.trim().eq_ignore_ascii_case("true"));
    let verdict = match should_retry {
        Some(true) if !error.is_retryable() => "can succeed",
        Some(false)
            if error.is_retryable() && !matches!(error, AdapterError::RateLimited { .. }) =>
        {
            "will not succeed"
        }
        _ => return map_message(error, redact),
    };
    let status = refusal.status.as_u16();
    let said = API.errors.said(refusal, &ResponsePolicy::API_KEY);
    let message = format!("HTTP {status} (Stripe says a retry {verdict}): {said}");
    let error = if should_retry == Some(true) {
        AdapterError::unavailable(message)
    } else {
        AdapterError::invalid(message)
    };
    map_message(error, redact)
}

/// Replaces anything shaped like a Stripe key (including Stripe's own masked form,
/// `sk_test_****1234`) with `<redacted>`.
pub fn redact(text: &str) -> String {
    redact_prefixed(text, &KEY_PREFIXES)
}

/// The Stripe client of a connection.
pub(crate) fn client<'a>(
    ctx: &'a Context,
    conn: &'a Connection,
) -> Result<Client<'a>, AdapterError> {
    Client::new(ctx, spec(), &API, conn)
}

/// Whether the connection's key is a live-mode key (else test mode).
pub(crate) fn is_live(conn: &Connection) -> Result<bool, AdapterError> {
    use secrecy::ExposeSecret;
    let key = conn.secret(SECRET_KEY_FIELD)?.expose_secret();
    Ok(key.starts_with("sk_live_") || key.starts_with("rk_live_"))
}

/// `GET {path}?{query}` through [`refine`], the answer kept as JSON.
pub(crate) async fn get(
    client: &Client<'_>,
    path: &str,
    query: &[(&str, String)],
) -> Result<Fetched, AdapterError> {
    let request = client.request(Method::GET, path)?.query(query);
    client.fetch_with(request, refine).await
}

/// The customer `id`, unless Stripe has deleted it (a deleted customer reads as
/// `{"id", "deleted": true}`): whose email and name payment emails and invoice
/// recipients come from.
pub(crate) async fn live_customer(
    client: &Client<'_>,
    id: &str,
) -> Result<Option<Value>, AdapterError> {
    let customer = get(client, &format!("customers/{id}"), &[]).await?.body;
    Ok((customer.get("deleted") != Some(&Value::Bool(true))).then_some(customer))
}

/// `POST {path}` with a form-encoded body and, when given, an `Idempotency-Key`.
pub(crate) async fn post_form(
    client: &Client<'_>,
    path: &str,
    pairs: &[(String, String)],
    idempotency_key: Option<&str>,
) -> Result<Value, AdapterError> {
    let request = client
        .request(Method::POST, path)?
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(crate::form::to_body(pairs));
    let request = IDEMPOTENCY.apply(request, idempotency_key)?;
    Ok(client.fetch_with(request, refine).await?.body)
}

/// `DELETE {path}?{pairs}` (Stripe reads a deletion's parameters from the query),
/// with the `Idempotency-Key` when given.
pub(crate) async fn delete(
    client: &Client<'_>,
    path: &str,
    pairs: &[(String, String)],
    idempotency_key: Option<&str>,
) -> Result<Value, AdapterError> {
    let request = client.request(Method::DELETE, path)?.query(pairs);
    let request = IDEMPOTENCY.apply(request, idempotency_key)?;
    Ok(client.fetch_with(request, refine).await?.body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use http::{HeaderMap, HeaderValue, StatusCode};
    use serde_json::json;

    /// The classification of a refusal, as every call makes it: the table, then
    /// [`refine`].
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
        let refusal = Refusal {
            status,
            headers: &map,
            body: &body,
            now,
        };
        let config = serde_json::Map::new();
        let table = API
            .errors
            .classify(base, &refusal, &API.rate_limits, &config);
        refine(table, &refusal)
    }

    fn stripe_error(kind: &str, code: Option<&str>, message: &str, param: Option<&str>) -> Value {
        json!({"error": {"type": kind, "code": code, "message": message, "param": param}})
    }

    #[test]
    fn the_description_is_sound() {
        assert_eq!(API.validate(), Ok(()));
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
        assert_eq!(
            err,
            AdapterError::unavailable("HTTP 400 (Stripe says a retry can succeed): locked")
        );
        let body = stripe_error("api_error", None, "An unknown error occurred", None);
        let err = refused(500, &[("stripe-should-retry", "false")], body.clone());
        assert_eq!(
            err,
            AdapterError::invalid(
                "HTTP 500 (Stripe says a retry will not succeed): An unknown error occurred"
            )
        );
        let err = refused(500, &[], body);
        assert_eq!(
            err,
            AdapterError::unavailable("HTTP 500: An unknown error occurred")
        );
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
        assert!(
            message.starts_with("the API key lacks a permission"),
            "{message}"
        );
    }
}
