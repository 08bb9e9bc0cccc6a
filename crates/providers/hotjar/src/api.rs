//! The Hotjar API as the provider toolkit runs it.
//!
//! Everything lives under `https://api.hotjar.io/v1`. Every call carries the access
//! token Junction obtains with the user's key pair (the client-credentials grant at
//! `POST /v1/oauth/token`) as `Authorization: Bearer {token}`; a 401 therefore
//! reads as refreshable: Junction fetches a new token once and repeats the call.
//!
//! Hotjar documents its refusals by HTTP status only; the body's shape is not
//! documented [check], so the envelope tries `{"error": {"code", "message"}}`, then
//! a top-level `message` or `detail`, and the table classifies by status:
//!
//! - 403: `Invalid`, saying that the key's scope or the organization's plan does
//!   not cover the call (survey responses need Ask Scale; user lookup and
//!   deletion Observe or Ask Scale). Not `Unauthorized`: the key is good (its
//!   token was just granted), so the integration must not be marked as needing
//!   new credentials — an Observe Scale key keeps serving lookups and deletions
//!   while its survey streams fail with this message;
//! - 400 and 422: `Invalid` (a request Hotjar refuses as it is);
//! - 429: `RateLimited` (3000 requests a minute [check]), waiting as `Retry-After`
//!   says when Hotjar sends it.
//!
//! Anything else keeps core's generic classification: 401 `Unauthorized`
//! (refreshable for the token), 408 and 5xx `Unavailable`, any other 4xx `Provider`.

use junction_core::{AdapterError, Connection, Context};
use junction_toolkit::{
    AuthMode, BaseUrl, Client, CursorAt, Envelope, ErrorRule, ErrorTable, HttpApi, More, OnStall,
    PageSize, Paging, Placement, RateLimitSignals, Style,
};

use crate::spec::{self, API_VERSION, DEFAULT_BASE};

/// How an out-of-scope refusal's message starts ([`out_of_scope`] reads it).
const SCOPE_REFUSAL: &str = "Hotjar refused the call: the API key's scope";

const NOT_IN_SCOPE: &str = "Hotjar refused the call: the API key's scope or the organization's \
     plan does not cover it (survey responses need Ask Scale; user lookup and deletion need \
     Observe or Ask Scale). Generate a key with that scope under Settings → API and reconnect. \
     Hotjar said: {message}";

/// The Hotjar API's description.
pub const API: HttpApi = HttpApi {
    base: BaseUrl::fixed(DEFAULT_BASE).with_prefix(API_VERSION),
    auth: &[AuthMode::ClientCredentials {
        placement: Placement::BEARER_TOKEN,
    }],
    headers: &[("accept", "application/json")],
    // No cheap "who am I" call exists: the check (in `lib.rs`) reads one survey of
    // each configured site, with the token the grant just gave.
    verification: None,
    errors: ErrorTable {
        envelope: Envelope {
            code: &["/error/code", "/code"],
            message: &["/error/message", "/message", "/detail"],
            ..Envelope::GENERIC
        },
        rules: &[
            ErrorRule::status(403)
                .invalid()
                .message(NOT_IN_SCOPE)
                .fallback("forbidden"),
            ErrorRule::status(400).invalid(),
            ErrorRule::status(422).invalid(),
            // Whatever the body says (3000 requests a minute [check]).
            ErrorRule::status(429).rate_limited(),
        ],
        in_success_body: None,
    },
    rate_limits: RateLimitSignals::STANDARD,
};

/// How Hotjar's lists page: `limit` items (default 100) from an opaque `cursor`;
/// the items at `/results`, the next page's cursor at `/next_cursor`, null on the
/// last page. A cursor that does not move fails the walk (a retry may get a sane
/// answer) rather than ending it early.
pub const PAGING: Paging = Paging {
    style: Style::Cursor {
        param: "cursor",
        at: CursorAt::Body("/next_cursor"),
        more: More::HasCursor,
    },
    items: "/results",
    size_param: "limit",
    size: PageSize {
        default: 100,
        max: 100,
    },
    on_stall: OnStall::Fail,
};

/// Whether `error` is the table's 403: the key's scope or the plan leaves the call
/// out (the key itself is good).
pub(crate) fn out_of_scope(error: &AdapterError) -> bool {
    matches!(error, AdapterError::Invalid { field: None, message } if message.starts_with(SCOPE_REFUSAL))
}

/// The Hotjar client of a connection.
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
