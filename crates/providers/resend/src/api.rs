//! The Resend API as the provider toolkit runs it: the host (its paths carry no
//! version: `emails`, `domains`), the API key as `Authorization: Bearer re_...`, a
//! `User-Agent` on every request (Resend's edge refuses requests without one with a
//! 403 "error code: 1010"), and the error table.
//!
//! Resend's error body is `{"statusCode", "name", "message"}`, and the `name` says
//! more than the status: a 429 can be the per-second rate limit or a used-up daily or
//! monthly quota; a 403 a bad key or an unverified sending domain. [`API`]'s table:
//!
//! - `invalid_api_key`, `missing_api_key` (a key Resend does not know, or none):
//!   `Unauthorized` without refresh, permanent until the user puts a new key in;
//!   `restricted_api_key` likewise, saying that Junction needs Full access;
//! - `daily_quota_exceeded`, `monthly_quota_exceeded`: `QuotaExhausted`. Resend does
//!   not say when the quota frees up; a `Retry-After`, when sent, is the best hint;
//! - `rate_limit_exceeded`: `RateLimited`, waiting as the rate-limit headers say;
//! - `invalid_idempotency_key`, `invalid_idempotent_request`: `Invalid` naming
//!   `idempotency_key`: the same key with another body can never succeed (unlike
//!   `concurrent_idempotent_requests`, which stays a retryable 409);
//! - `invalid_from_address`, and `validation_error` under 403 (an unverified domain,
//!   or test mode: without a verified domain Resend only mails the account owner):
//!   `Invalid` naming `from`;
//! - other validation errors: `Invalid`, naming the field Resend's message puts in
//!   backticks ("The `to` field must be a `string`.").
//!
//! Anything else keeps core's generic classification, which carries Resend's `name`
//! as the code and its message.

use junction_core::{AdapterError, Connection, Context};
use junction_toolkit::{
    AuthMode, BaseUrl, Class, Client, Envelope, ErrorRule, ErrorTable, HttpApi, Placement,
    RateLimitSignals, Resets, Verification, api::IdempotencyKey,
    errors::invalid_field_in_backticks,
};

use crate::spec::{self, DEFAULT_BASE, MAX_IDEMPOTENCY_KEY_CHARS};

/// The User-Agent Junction sends.
pub(crate) const USER_AGENT: &str = concat!("junction-resend/", env!("CARGO_PKG_VERSION"));

const RESTRICTED: &str = "the API key has sending access only; Junction reads emails, domains \
     and metrics and needs a key with Full access. Resend said: {message}";

/// The Resend API's description.
pub const API: HttpApi = HttpApi {
    base: BaseUrl::fixed(DEFAULT_BASE),
    auth: &[AuthMode::ApiKey {
        field: "api_key",
        placement: Placement::BEARER_KEY,
    }],
    headers: &[("user-agent", USER_AGENT)],
    // `check` lists the domains and labels the account by them (see the adapter).
    verification: Some(Verification {
        method: "GET",
        path: "domains",
        query: &[("limit", "20")],
        account: None,
    }),
    errors: ErrorTable {
        envelope: Envelope {
            code: &["/name"],
            message: &["/message"],
            ..Envelope::GENERIC
        },
        rules: &[
            ErrorRule::codes(&["invalid_api_key", "missing_api_key"])
                .unauthorized(false)
                .fallback("Resend rejected the API key"),
            ErrorRule::code("restricted_api_key")
                .unauthorized(false)
                .message(RESTRICTED)
                .fallback("This API key is restricted to only send emails"),
            ErrorRule::codes(&["daily_quota_exceeded", "monthly_quota_exceeded"])
                .quota_exhausted(Resets::FromHeaders),
            ErrorRule::code("rate_limit_exceeded").rate_limited(),
            ErrorRule::codes(&["invalid_idempotency_key", "invalid_idempotent_request"])
                .invalid_field("idempotency_key")
                .fallback("invalid idempotency key"),
            ErrorRule::code("invalid_from_address")
                .invalid_field("from")
                .fallback("invalid sender"),
            ErrorRule::code("validation_error")
                .on_status(403)
                .invalid_field("from")
                .fallback("the sending domain is not verified"),
            ErrorRule::codes(&[
                "validation_error",
                "missing_required_field",
                "invalid_parameter",
                "invalid_attachment",
                "invalid_access",
                "invalid_region",
            ])
            .class(Class::Custom(invalid_field_in_backticks))
            .fallback("Resend rejected the request"),
        ],
        in_success_body: None,
    },
    rate_limits: RateLimitSignals::STANDARD,
};

/// Resend keeps an `Idempotency-Key` for 24 hours and answers a repeat of the same
/// request with the first response instead of sending again.
pub(crate) const IDEMPOTENCY: IdempotencyKey = IdempotencyKey::header(MAX_IDEMPOTENCY_KEY_CHARS);

/// The Resend client of a connection.
pub(crate) fn client<'a>(
    ctx: &'a Context,
    conn: &'a Connection,
) -> Result<Client<'a>, AdapterError> {
    Client::new(ctx, spec::spec(), &API, conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use http::{HeaderMap, HeaderValue, StatusCode};
    use junction_core::http::{Refusal, ResponsePolicy, classify};
    use serde_json::json;
    use std::time::Duration;

    /// A refusal with Resend's body, classified as the client does: core's generic
    /// class, then the table.
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
        let refusal = Refusal {
            status,
            headers,
            body: body.as_bytes(),
            now,
        };
        API.errors
            .classify(base, &refusal, &API.rate_limits, &serde_json::Map::new())
    }

    #[test]
    fn the_description_is_sound() {
        assert_eq!(API.validate(), Ok(()));
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
        assert_eq!(
            message,
            "the API key has sending access only; Junction reads emails, domains and metrics \
             and needs a key with Full access. Resend said: This API key is restricted to only \
             send emails"
        );
        assert_eq!(
            refined(403, "invalid_api_key", " ", &none),
            AdapterError::Unauthorized {
                refreshable: false,
                message: "Resend rejected the API key".into()
            }
        );
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
        assert_eq!(
            refined(422, "invalid_parameter", "", &none),
            AdapterError::Invalid {
                field: None,
                message: "Resend rejected the request".into()
            }
        );
    }

    #[test]
    fn field_names_are_only_taken_from_backticks() {
        let field =
            |message: &str| match refined(422, "validation_error", message, &HeaderMap::new()) {
                AdapterError::Invalid { field, .. } => field,
                other => panic!("{other:?}"),
            };
        assert_eq!(
            field("The `reply_to` field is bad").as_deref(),
            Some("reply_to")
        );
        assert_eq!(field("no field here"), None);
        assert_eq!(field("The `Some Thing` is bad"), None);
        assert_eq!(field("unclosed `to"), None);
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
}
