//! Calling the Resend API and reading its refusals.
//!
//! Every request carries `Authorization: Bearer re_...` and a `User-Agent` (Resend's
//! edge refuses requests without one with a 403 "error code: 1010"). Requests go
//! through [`junction_core::http::send_refined`], and [`refine`] reads Resend's error
//! body `{"statusCode", "name", "message"}`: the `name` says more than the status
//! (a 429 can be the per-second rate limit or a used-up daily or monthly quota; a
//! 403 can be a bad key or an unverified sending domain).

use junction_core::{
    AdapterError, Connection, Context, ProxyTarget,
    http::{Refusal, ResponsePolicy, send_refined},
    spec::ProviderSpec,
};
use secrecy::ExposeSecret;

use crate::{spec::DEFAULT_BASE, wire::ErrorBody};

/// The User-Agent Junction sends.
pub(crate) const USER_AGENT: &str = concat!("junction-resend/", env!("CARGO_PKG_VERSION"));

/// The credential field holding the API key.
const API_KEY_FIELD: &str = "api_key";

/// A request to `path` with the connection's API key and Junction's User-Agent.
pub(crate) fn request(
    ctx: &Context,
    conn: &Connection,
    method: reqwest::Method,
    path: &str,
) -> Result<reqwest::RequestBuilder, AdapterError> {
    let url = ctx.url(DEFAULT_BASE, path)?;
    let key = conn.secret(API_KEY_FIELD)?;
    Ok(ctx
        .http
        .request(method, url)
        .bearer_auth(key.expose_secret())
        .header(reqwest::header::USER_AGENT, USER_AGENT))
}

/// The API root (the override's, when set) with the API key as `Authorization:
/// Bearer`, for the authenticated proxy: the same host and key as [`request`]. The
/// proxied request needs a `User-Agent` of its own (Resend's edge refuses none).
pub(crate) fn proxy_target(ctx: &Context, conn: &Connection) -> Result<ProxyTarget, AdapterError> {
    let base_url = ctx.url(DEFAULT_BASE, "")?;
    Ok(ProxyTarget::bearer(base_url, conn.secret(API_KEY_FIELD)?))
}

/// Sends `request` and decodes the JSON answer.
pub(crate) async fn call<T: serde::de::DeserializeOwned>(
    ctx: &Context,
    spec: &ProviderSpec,
    request: reqwest::RequestBuilder,
) -> Result<T, AdapterError> {
    let response = send_refined(ctx, spec, request, &ResponsePolicy::API_KEY, refine).await?;
    junction_core::http::json(response).await
}

/// Refines the generic classification of a Resend refusal by the error's `name`.
/// Anything it does not recognise keeps the generic classification.
pub(crate) fn refine(base: AdapterError, refusal: &Refusal<'_>) -> AdapterError {
    let body: ErrorBody = serde_json::from_slice(refusal.body).unwrap_or_default();
    let message = one_line(&body.message);
    let said = |default: &str| {
        if message.is_empty() {
            default.to_owned()
        } else {
            message.clone()
        }
    };
    match body.name.as_str() {
        // A key Resend does not know (deleted, mistyped) or none at all: permanent
        // until the user puts a new key in.
        "invalid_api_key" | "missing_api_key" => AdapterError::Unauthorized {
            refreshable: false,
            message: said("Resend rejected the API key"),
        },
        "restricted_api_key" => AdapterError::Unauthorized {
            refreshable: false,
            message: format!(
                "the API key has sending access only; Junction reads emails, domains and \
                 metrics and needs a key with Full access. Resend said: {}",
                said("This API key is restricted to only send emails")
            ),
        },
        "daily_quota_exceeded" | "monthly_quota_exceeded" => {
            // Resend does not say when the quota frees up; a Retry-After, when sent,
            // is the best hint there is.
            let resets_at =
                junction_core::http::RateLimitInfo::from_headers(refusal.headers, refusal.now)
                    .wait_hint(refusal.now)
                    .and_then(|wait| chrono::Duration::from_std(wait).ok())
                    .map(|wait| refusal.now + wait);
            AdapterError::QuotaExhausted { resets_at }
        }
        "rate_limit_exceeded" => match base {
            limited @ AdapterError::RateLimited { .. } => limited,
            _ => AdapterError::RateLimited { retry_after: None },
        },
        // The same key with another request body can never succeed: that is bad
        // input, not a conflict a retry resolves (unlike
        // `concurrent_idempotent_requests`, which stays a retryable 409).
        "invalid_idempotency_key" | "invalid_idempotent_request" => {
            AdapterError::invalid_field("idempotency_key", said("invalid idempotency key"))
        }
        "invalid_from_address" => AdapterError::invalid_field("from", said("invalid sender")),
        // A 403 validation error is about the sender: an unverified domain, or test
        // mode (without a verified domain Resend only mails the account owner).
        "validation_error" if refusal.status.as_u16() == 403 => {
            AdapterError::invalid_field("from", said("the sending domain is not verified"))
        }
        "validation_error"
        | "missing_required_field"
        | "invalid_parameter"
        | "invalid_attachment"
        | "invalid_access"
        | "invalid_region" => AdapterError::Invalid {
            field: field_named_in(&message),
            message: said("Resend rejected the request"),
        },
        _ => base,
    }
}

/// The field a Resend validation message names in backticks ("The `to` field must
/// be a `string`."), when the first backticked word looks like a field name.
fn field_named_in(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    let word = &message[start..start + len];
    let looks_like_field = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
    looks_like_field.then(|| word.to_owned())
}

/// Collapses whitespace so an error stays one line, and cuts it to 300 characters.
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
    use chrono::{TimeZone, Utc};
    use http::{HeaderMap, HeaderValue, StatusCode};
    use junction_core::http::classify;
    use serde_json::json;
    use std::time::Duration;

    fn refined(status: u16, name: &str, message: &str, headers: &HeaderMap) -> AdapterError {
        let body = json!({"statusCode": status, "name": name, "message": message}).to_string();
        let now = Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap();
        let status = StatusCode::from_u16(status).unwrap();
        let base = classify(
            status,
            headers,
            body.as_bytes(),
            now,
            &ResponsePolicy::API_KEY,
        );
        refine(
            base,
            &Refusal {
                status,
                headers,
                body: body.as_bytes(),
                now,
            },
        )
    }

    #[test]
    fn key_errors_are_permanent_unauthorized() {
        let none = HeaderMap::new();
        for (status, name) in [
            (403, "invalid_api_key"),
            (401, "missing_api_key"),
            (401, "restricted_api_key"),
        ] {
            let err = refined(status, name, "API key is invalid", &none);
            assert!(
                matches!(
                    err,
                    AdapterError::Unauthorized {
                        refreshable: false,
                        ..
                    }
                ),
                "{name}: {err:?}"
            );
        }
        let AdapterError::Unauthorized { message, .. } = refined(
            401,
            "restricted_api_key",
            "This API key is restricted to only send emails",
            &none,
        ) else {
            panic!()
        };
        assert!(message.contains("Full access"), "{message}");
    }

    #[test]
    fn quotas_and_rate_limits_are_told_apart() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(
            refined(429, "rate_limit_exceeded", "Too many requests.", &headers),
            AdapterError::RateLimited {
                retry_after: Some(Duration::from_secs(3))
            }
        );
        assert_eq!(
            refined(
                429,
                "daily_quota_exceeded",
                "You have reached your daily email sending quota.",
                &HeaderMap::new()
            ),
            AdapterError::QuotaExhausted { resets_at: None }
        );
        assert_eq!(
            refined(
                429,
                "monthly_quota_exceeded",
                "You have reached your monthly email sending quota.",
                &headers
            ),
            AdapterError::QuotaExhausted {
                resets_at: Some(Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 3).unwrap())
            }
        );
    }

    #[test]
    fn validation_errors_name_their_field() {
        let none = HeaderMap::new();
        assert_eq!(
            refined(
                422,
                "validation_error",
                "The `to` field must be a `string`.",
                &none
            ),
            AdapterError::invalid_field("to", "The `to` field must be a `string`.")
        );
        assert_eq!(
            refined(
                403,
                "validation_error",
                "The acme.example domain is not verified.",
                &none
            ),
            AdapterError::invalid_field("from", "The acme.example domain is not verified.")
        );
        assert_eq!(
            refined(422, "invalid_from_address", "Invalid `from` field.", &none),
            AdapterError::invalid_field("from", "Invalid `from` field.")
        );
        assert_eq!(
            refined(
                409,
                "invalid_idempotent_request",
                "Same idempotency key used with a different request payload.",
                &none
            ),
            AdapterError::invalid_field(
                "idempotency_key",
                "Same idempotency key used with a different request payload."
            )
        );
        assert_eq!(
            refined(
                422,
                "missing_required_field",
                "Missing required field.",
                &none
            ),
            AdapterError::Invalid {
                field: None,
                message: "Missing required field.".into()
            }
        );
    }

    #[test]
    fn other_errors_keep_the_generic_classification() {
        let none = HeaderMap::new();
        let concurrent = refined(
            409,
            "concurrent_idempotent_requests",
            "Same idempotency key used while original request is still in progress.",
            &none,
        );
        assert!(concurrent.is_retryable(), "{concurrent:?}");
        assert!(matches!(
            refined(
                500,
                "application_error",
                "An unexpected error occurred.",
                &none
            ),
            AdapterError::Unavailable { .. }
        ));
        assert_eq!(
            refined(404, "not_found", "Email not found", &none),
            AdapterError::Provider {
                status: 404,
                code: Some("not_found".into()),
                message: "Email not found".into()
            }
        );
    }

    #[test]
    fn field_names_are_only_taken_from_backticks() {
        assert_eq!(
            field_named_in("The `reply_to` field is bad"),
            Some("reply_to".into())
        );
        assert_eq!(field_named_in("no field here"), None);
        assert_eq!(field_named_in("The `Some Thing` is bad"), None);
        assert_eq!(field_named_in("unclosed `to"), None);
    }
}
