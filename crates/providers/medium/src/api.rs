//! Medium's API as the provider toolkit runs it.
//!
//! Requests go to `https://api.medium.com/v1/...` with the integration token as
//! `Authorization: Bearer <token>`. Answers come in a `{"data": ...}` envelope;
//! refusals as `{"errors": [{"message", "code"}]}`, which [`API`]'s table reads by
//! status, as Medium documents them:
//!
//! - 401: the token is invalid or revoked; it stays refused (and Medium issues no
//!   new ones);
//! - 403: the user may not publish there (another author id, a publication they
//!   neither write for nor edit, or a writer asking for a public post): `Invalid`;
//! - 400: a required field missing or invalid: `Invalid`;
//! - 429: Medium's limits, including its daily cap on new posts: `RateLimited`,
//!   waiting per `Retry-After` when sent.

use junction_core::{AdapterError, Connection, Context};
use junction_toolkit::{
    AuthMode, BaseUrl, Client, Envelope, ErrorRule, ErrorTable, HttpApi, Placement,
    RateLimitSignals, Verification,
};

use crate::spec::{self, API_VERSION, DEFAULT_BASE, TOKEN_FIELD};

/// Medium's API.
pub const API: HttpApi = HttpApi {
    base: BaseUrl::fixed(DEFAULT_BASE).with_prefix(API_VERSION),
    auth: &[AuthMode::ApiKey {
        field: TOKEN_FIELD,
        placement: Placement::BEARER_KEY,
    }],
    headers: &[("accept", "application/json"), ("accept-charset", "utf-8")],
    verification: Some(Verification {
        method: "GET",
        path: "me",
        query: &[],
        account: Some("/data/username"),
    }),
    errors: ErrorTable {
        envelope: Envelope {
            code: &["/errors/0/code"],
            message: &["/errors/0/message"],
            ..Envelope::GENERIC
        },
        rules: &[
            ErrorRule::status(401).unauthorized(false).message(
                "Medium refused the integration token (invalid or revoked; Medium issues no new ones): {message}",
            ),
            ErrorRule::status(403)
                .invalid()
                .message("Medium does not let this user publish there: {message}"),
            ErrorRule::status(400).invalid().message("Medium refused the post: {message}"),
            ErrorRule::status(429).rate_limited(),
        ],
        in_success_body: None,
    },
    rate_limits: RateLimitSignals::STANDARD,
};

/// The Medium client of a connection.
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
