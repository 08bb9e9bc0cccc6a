//! The Forem API v1 (Dev.to) as the provider toolkit runs it.
//!
//! Requests go to `https://dev.to/api/...` with the key in the `api-key` header and
//! `Accept: application/vnd.forem.api-v1+json`, which selects version 1 (without it
//! Forem answers with the deprecated v0 shapes).
//!
//! Forem's refusals are `{"error": "<message>", "status": <status>}`: no code, so
//! [`API`]'s table reads statuses:
//!
//! - 401 `{"error": "unauthorized"}`: a key that is wrong or revoked. It stays
//!   refused (no refresh helps): the user makes a new key;
//! - 422 (`param is missing or the value is empty: article`, `Title can't be
//!   blank`, `Tag list exceed the maximum of 4 tags`): `Invalid`, the input's fault;
//! - 429 (Forem's throttle of API writes, with `Retry-After`): `RateLimited`;
//! - 404 keeps the generic `Provider` class; the actions say which input it is about.

use junction_core::{AdapterError, Connection, Context};
use junction_toolkit::{
    AuthMode, BaseUrl, Client, Envelope, ErrorRule, ErrorTable, HttpApi, OnStall, PageSize, Paging,
    RateLimitSignals, Style, Verification,
};

use crate::spec::{self, API_KEY_FIELD, API_PREFIX, DEFAULT_BASE};

/// The Accept header that selects API v1.
pub const ACCEPT_V1: &str = "application/vnd.forem.api-v1+json";

/// The Forem API's description.
pub const API: HttpApi = HttpApi {
    base: BaseUrl::fixed(DEFAULT_BASE).with_prefix(API_PREFIX),
    auth: &[AuthMode::api_key_header(API_KEY_FIELD, "api-key", "{key}")],
    headers: &[("accept", ACCEPT_V1)],
    verification: Some(Verification {
        method: "GET",
        path: "users/me",
        query: &[],
        account: Some("/username"),
    }),
    errors: ErrorTable {
        envelope: Envelope {
            code: &[],
            message: &["/error"],
            ..Envelope::GENERIC
        },
        rules: &[
            ErrorRule::status(401)
                .unauthorized(false)
                .message("DEV refused the API key (wrong or revoked): {message}"),
            ErrorRule::status(422)
                .invalid()
                .message("DEV refused the article: {message}"),
            ErrorRule::status(429).rate_limited(),
        ],
        in_success_body: None,
    },
    rate_limits: RateLimitSignals::STANDARD,
};

/// How the user's article lists page: `page` from 1 and `per_page` (default 30, at
/// most 1000); the body is the list, and a page shorter than asked is the last.
pub const PAGING: Paging = Paging {
    style: Style::PageNumber {
        param: "page",
        first: 1,
        total_pages: None,
    },
    items: "",
    size_param: "per_page",
    size: PageSize {
        default: 100,
        max: 1000,
    },
    on_stall: OnStall::End,
};

/// Every article of the user: published, unpublished and scheduled.
pub const MY_ARTICLES: &str = "articles/me/all";

/// The Dev.to client of a connection.
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
