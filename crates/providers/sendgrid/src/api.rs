//! The SendGrid v3 API as the provider toolkit runs it.
//!
//! The host is the region's — `api.sendgrid.com`, or `api.eu.sendgrid.com` for EU
//! regional subusers (the `region` setting) — and every path is under `/v3`. The API
//! key goes in `Authorization: Bearer SG....`.
//!
//! SendGrid's error body is `{"errors": [{"message", "field", "help"}]}`, without
//! codes, so [`API`]'s table reads the status and the first error's `field`:
//!
//! - 401 (`authorization required`, a revoked or unknown key): `Unauthorized`
//!   without refresh — only a new key helps;
//! - 403 naming `from` (mail send: the sender is not a verified Sender Identity):
//!   `Invalid` naming `from`;
//! - any other 403 (`access forbidden`: the key lacks the scope the endpoint needs):
//!   `Unauthorized` without refresh, saying which permissions Junction needs;
//! - 400, 413 and 422: `Invalid`, naming the input field SendGrid names
//!   (`personalizations.0.to`, `from.email`, `start_date`);
//! - 429: `RateLimited`, waiting until `X-RateLimit-Reset` (epoch seconds), which
//!   core reads on every answer with `X-RateLimit-Limit` and `-Remaining`
//!   ([`RateLimitSignals::STANDARD`]) so the shared limiter slows down before
//!   SendGrid refuses.
//!
//! Anything else keeps core's generic classification (5xx `Unavailable`, 404
//! `Provider`).

use junction_core::{AdapterError, Connection, Context};
use junction_toolkit::{
    AuthMode, BaseUrl, Class, Client, Envelope, ErrorRule, ErrorTable, FieldName, HttpApi, OnStall,
    PageSize, Paging, Placement, RateLimitSignals, Style, Var, VarSource, Verification, When,
};

use crate::spec::{self, API_KEY_FIELD, API_VERSION, EU_HOST, GLOBAL_HOST};

const NO_SCOPE: &str = "the API key lacks a permission this needs (Junction uses Mail Send, \
     Stats and Suppressions read, and Marketing); give the key those scopes or Full Access. \
     SendGrid said: {message}";

/// The regions' hosts, by the `region` setting.
const REGIONS: &[(&str, &str)] = &[("global", GLOBAL_HOST), ("eu", EU_HOST)];

/// The SendGrid API's description.
pub const API: HttpApi = HttpApi {
    base: BaseUrl::fixed("https://{host}")
        .with_prefix(API_VERSION)
        .with_vars(&[Var {
            name: "host",
            source: VarSource::Region {
                field: "region",
                choices: REGIONS,
                default: "global",
            },
        }]),
    auth: &[AuthMode::ApiKey {
        field: API_KEY_FIELD,
        placement: Placement::BEARER_KEY,
    }],
    headers: &[("accept", "application/json")],
    // `check` reads the key's scopes (see the adapter).
    verification: Some(Verification {
        method: "GET",
        path: "scopes",
        query: &[],
        account: None,
    }),
    errors: ErrorTable {
        envelope: Envelope {
            code: &[],
            message: &["/errors/0/message"],
            ..Envelope::GENERIC
        },
        rules: &[
            ErrorRule::status(401)
                .unauthorized(false)
                .fallback("SendGrid rejected the API key"),
            ErrorRule::status(403)
                .when(When::Equals("/errors/0/field", "from"))
                .invalid_field("from")
                .fallback("the sender is not a verified Sender Identity"),
            ErrorRule::status(403)
                .unauthorized(false)
                .message(NO_SCOPE)
                .fallback("access forbidden"),
            ErrorRule::status(400)
                .class(Class::Invalid(Some(FieldName::At("/errors/0/field"))))
                .fallback("SendGrid rejected the request"),
            ErrorRule::status(413)
                .invalid()
                .fallback("the request is too large for SendGrid"),
            ErrorRule::status(422)
                .class(Class::Invalid(Some(FieldName::At("/errors/0/field"))))
                .fallback("SendGrid rejected the request"),
            ErrorRule::status(429).rate_limited(),
        ],
        in_success_body: None,
    },
    rate_limits: RateLimitSignals::STANDARD,
};

/// How the suppression lists and `GET /v3/categories` page: `limit` items from
/// `offset`, the body a bare array; a full page means more may follow. SendGrid
/// takes up to 500 a page.
pub const OFFSET_PAGING: Paging = Paging {
    style: Style::Offset {
        param: "offset",
        total: None,
    },
    items: "",
    size_param: "limit",
    size: PageSize {
        default: 500,
        max: 500,
    },
    on_stall: OnStall::End,
};

/// The SendGrid client of a connection.
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
    use serde_json::{Value, json};
    use std::time::Duration;

    /// A refusal with SendGrid's body, classified as the client does.
    fn refined(status: u16, body: &Value, headers: &HeaderMap) -> AdapterError {
        let body = body.to_string();
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

    fn errors(message: &str, field: Value) -> Value {
        json!({"errors": [{"message": message, "field": field, "help": null}]})
    }

    #[test]
    fn the_description_is_sound() {
        assert_eq!(API.validate(), Ok(()));
    }

    #[test]
    fn documented_errors_are_classified() {
        let none = HeaderMap::new();
        assert_eq!(
            refined(401, &errors("authorization required", Value::Null), &none),
            AdapterError::Unauthorized {
                refreshable: false,
                message: "authorization required".into()
            }
        );
        assert_eq!(
            refined(
                403,
                &errors(
                    "The from address does not match a verified Sender Identity.",
                    json!("from")
                ),
                &none
            ),
            AdapterError::invalid_field(
                "from",
                "The from address does not match a verified Sender Identity."
            )
        );
        let AdapterError::Unauthorized {
            refreshable: false,
            message,
        } = refined(403, &errors("access forbidden", json!("null")), &none)
        else {
            panic!()
        };
        assert!(message.contains("Mail Send") && message.ends_with("access forbidden"));
        assert_eq!(
            refined(
                400,
                &errors(
                    "The to array is required for all personalization objects, and must have at least one email object with a valid email address.",
                    json!("personalizations.0.to")
                ),
                &none
            ),
            AdapterError::invalid_field(
                "personalizations.0.to",
                "The to array is required for all personalization objects, and must have at least one email object with a valid email address."
            )
        );
        assert_eq!(
            refined(413, &errors("Payload Too Large", Value::Null), &none),
            AdapterError::Invalid {
                field: None,
                message: "Payload Too Large".into()
            }
        );
        assert!(matches!(
            refined(500, &errors("internal error", Value::Null), &none),
            AdapterError::Unavailable { .. }
        ));
        assert!(matches!(
            refined(404, &errors("not found", Value::Null), &none),
            AdapterError::Provider { status: 404, .. }
        ));
    }

    #[test]
    fn a_429_waits_until_the_reset() {
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-limit", HeaderValue::from_static("600"));
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        // 2026-03-15T12:00:30Z, 30 s after the refusal.
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("1773576030"));
        assert_eq!(
            refined(429, &errors("too many requests", Value::Null), &headers),
            AdapterError::RateLimited {
                retry_after: Some(Duration::from_secs(30))
            }
        );
    }
}
