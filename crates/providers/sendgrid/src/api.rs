//! The Sendgrid API as the provider toolkit runs it.
//!
//! Where it lives, how a connection's credential goes into requests, the request
//! that verifies a connection, how its lists page, and how its refusals read.
//!
//! A connection's API key goes in `Authorization: Bearer {key}`.
//!
//! Its error body is `{"error": {"code", "message", "param"}}`, and [`API`]'s table
//! says what a code means for a retry:
//!
//! - `rate_limited`: `RateLimited`, waiting as `Retry-After` says;
//! - `quota_exceeded`: `QuotaExhausted` until the reset the rate-limit headers
//!   announce;
//! - `forbidden`: `Unauthorized` without a refresh: the credential lacks a
//!   permission, and only the user can grant it;
//! - `invalid_parameter`: `Invalid`, naming the parameter in `/error/param`.
//!
//! Anything else keeps core's generic classification: 429 `RateLimited`, 401
//! `Unauthorized`, 408 and 5xx `Unavailable`, any other 4xx `Provider` with the
//! provider's code and message.

use junction_core::{AdapterError, Connection, Context};
use junction_toolkit::{
    AuthMode, BaseUrl, Class, Client, CursorAt, Envelope, ErrorRule, ErrorTable, FieldName,
    HttpApi, More, OnStall, PageSize, Paging, Placement, RateLimitSignals, Resets, Style,
    Verification,
};

use crate::spec::{self, API_KEY_FIELD, API_VERSION, DEFAULT_BASE};

const NO_PERMISSION: &str = "the credential lacks a permission Junction needs (read access to \
     items); grant it and reconnect. Sendgrid said: {message}";

/// The Sendgrid API's description.
pub const API: HttpApi = HttpApi {
    base: BaseUrl::fixed(DEFAULT_BASE).with_prefix(API_VERSION),
    auth: &[AuthMode::ApiKey {
        field: API_KEY_FIELD,
        placement: Placement::BEARER_KEY,
    }],
    headers: &[("accept", "application/json")],
    verification: Some(Verification {
        method: "GET",
        path: "account",
        query: &[],
        account: Some("/name"),
    }),
    errors: ErrorTable {
        envelope: Envelope {
            code: &["/error/code"],
            message: &["/error/message"],
            ..Envelope::GENERIC
        },
        rules: &[
            ErrorRule::code("rate_limited").rate_limited(),
            ErrorRule::code("quota_exceeded").quota_exhausted(Resets::FromHeaders),
            ErrorRule::code("forbidden")
                .unauthorized(false)
                .message(NO_PERMISSION),
            ErrorRule::code("invalid_parameter")
                .class(Class::Invalid(Some(FieldName::At("/error/param")))),
        ],
        in_success_body: None,
    },
    rate_limits: RateLimitSignals::STANDARD,
};

/// How the provider's lists page: `limit` items (at most 100) from `cursor`, the
/// next cursor at `/next_cursor` while `/has_more` is true.
pub const PAGING: Paging = Paging {
    style: Style::Cursor {
        param: "cursor",
        at: CursorAt::Body("/next_cursor"),
        more: More::Flag("/has_more"),
    },
    items: "/data",
    size_param: "limit",
    size: PageSize {
        default: 100,
        max: 100,
    },
    on_stall: OnStall::Fail,
};

/// The Sendgrid client of a connection.
pub(crate) fn client<'a>(
    ctx: &'a Context,
    conn: &'a Connection,
) -> Result<Client<'a>, AdapterError> {
    Client::new(ctx, spec::spec(), &API, conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_is_sound() {
        assert_eq!(API.validate(), Ok(()));
    }
}
