//! Kit v4 as the toolkit runs it: the API host and its `v4` prefix, the two ways a
//! connection authenticates, how Kit's lists page, and what its refusals mean.
//!
//! A connection of the `kit` entry sends its v4 API key as `X-Kit-Api-Key`; one of
//! `kit-oauth` sends the OAuth 2.0 access token Junction keeps fresh as
//! `Authorization: Bearer` (this adapter never refreshes it). The toolkit picks the
//! mode from what the connection holds, and reads a 401 as final for a key and as
//! refreshable for a token (it may have expired).
//!
//! Every request waits on the shared budget (120 requests per 60 s per key, 600 per
//! token). Kit answers errors as `{"errors": ["..."]}`, which core's generic
//! classification reads; a 429 is the plain text `Retry later` without a
//! `Retry-After` header, so it becomes `RateLimited { retry_after: None }` and the
//! worker's own exponential backoff decides the wait. On top of that the error table
//! says that a 422 (Kit rejected the parameters) is permanent bad input, a 413 (too
//! many bulk requests queued for the account) a rate limit to wait out, and an action
//! may name the input field behind a 404 ([`not_found`]).

use http::StatusCode;
use junction_core::{AdapterError, http::Refusal};
use junction_toolkit::{
    AuthMode, BaseUrl, CursorAt, Envelope, ErrorRule, ErrorTable, HttpApi, More, OnStall, PageSize,
    Paging, RateLimitSignals, Style, Verification,
};

use crate::spec::{API_KEY_FIELD, API_KEY_HEADER, DEFAULT_BASE};

/// Kit v4's description. The authenticated proxy targets the host's root: its
/// clients name the version themselves (`v4/subscribers`).
pub const API: HttpApi = HttpApi {
    base: BaseUrl::fixed(DEFAULT_BASE).with_prefix("v4"),
    auth: &[
        AuthMode::api_key_header(API_KEY_FIELD, API_KEY_HEADER, "{key}"),
        AuthMode::OAUTH_BEARER,
    ],
    headers: &[("accept", "application/json")],
    // `check` reads the account from this answer, and more (the custom fields a
    // connection maps).
    verification: Some(Verification {
        method: "GET",
        path: "account",
        query: &[],
        account: Some("/account/name"),
    }),
    errors: ErrorTable {
        envelope: Envelope::GENERIC,
        // "One or more of the parameters are invalid": the same request fails the same
        // way every time, so it is bad input, not a provider hiccup.
        // 413 from a bulk endpoint: the account has too many bulk requests queued (Kit
        // takes 300 MB per app and account); Kit asks to try again after a short while.
        rules: &[
            ErrorRule::status(422).invalid(),
            ErrorRule::status(413).rate_limited(),
        ],
        in_success_body: None,
    },
    rate_limits: RateLimitSignals::STANDARD,
};

/// Kit's page size when none is asked for (the API's own default), and its maximum.
pub const LIST_SIZE: PageSize = PageSize {
    default: 500,
    max: 1000,
};

/// The account's custom fields, read whole by a check. Unlike a stream's list, a
/// cursor that does not move ends the read: the keys read so far are what a check can
/// know.
pub const CUSTOM_FIELDS: Paging = Paging {
    on_stall: OnStall::End,
    ..paging("/custom_fields", LIST_SIZE)
};

/// A Kit list whose items are under `items` (`/subscribers`): `?after=<end_cursor>&
/// per_page=n` until `pagination.has_next_page` is false. A "next page" without a new
/// cursor would read the same page forever, so that answer fails (`Unavailable`: a
/// retry may get a sane one).
pub const fn paging(items: &'static str, size: PageSize) -> Paging {
    Paging {
        style: Style::Cursor {
            param: "after",
            at: CursorAt::Body("/pagination/end_cursor"),
            more: More::Flag("/pagination/has_next_page"),
        },
        items,
        size_param: "per_page",
        size,
        on_stall: OnStall::Fail,
    }
}

/// What a 404 from a write about a subscriber means: Kit found no such object of the
/// input (a tag, sequence or form; the subscriber), so the error points at the input
/// field `field`, saying `meaning` and Kit's own words.
pub(crate) fn not_found(
    field: &'static str,
    meaning: impl Into<String>,
) -> impl FnOnce(AdapterError, &Refusal<'_>) -> AdapterError {
    let meaning = meaning.into();
    move |classified, refusal| match classified {
        AdapterError::Provider { message, .. } if refusal.status == StatusCode::NOT_FOUND => {
            AdapterError::Invalid {
                field: Some(field.to_owned()),
                message: format!("{meaning} ({message})"),
            }
        }
        other => other,
    }
}

/// What a 404 from adding a subscriber to a tag, sequence or form means.
pub(crate) fn no_such(what: &str) -> String {
    format!("Kit found no such {what}, or no such subscriber")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use http::HeaderMap;
    use junction_core::http::ResponsePolicy;

    /// What a refusal becomes through the error table, then `not_found` if given.
    fn refused(
        status: u16,
        body: &[u8],
        missing: Option<(&'static str, &'static str)>,
    ) -> AdapterError {
        let status = StatusCode::from_u16(status).unwrap();
        let headers = HeaderMap::new();
        let now = Utc::now();
        let refusal = Refusal {
            status,
            headers: &headers,
            body,
            now,
        };
        let base =
            junction_core::http::classify(status, &headers, body, now, &ResponsePolicy::API_KEY);
        let classified =
            API.errors
                .classify(base, &refusal, &API.rate_limits, &serde_json::Map::new());
        match missing {
            Some((field, what)) => not_found(field, no_such(what))(classified, &refusal),
            None => classified,
        }
    }

    #[test]
    fn the_description_is_sound() {
        assert_eq!(API.validate(), Ok(()));
    }

    #[test]
    fn kit_statuses_are_classified() {
        const TAG: Option<(&str, &str)> = Some(("tag_id", "tag"));
        assert_eq!(
            refused(422, br#"{"errors":["Email address is invalid"]}"#, None),
            AdapterError::invalid("Email address is invalid")
        );
        assert_eq!(
            refused(404, br#"{"errors":["Not Found"]}"#, TAG),
            AdapterError::invalid_field(
                "tag_id",
                "Kit found no such tag, or no such subscriber (Not Found)"
            )
        );
        assert_eq!(
            refused(404, br#"{"errors":["Not Found"]}"#, None),
            AdapterError::Provider {
                status: 404,
                code: None,
                message: "Not Found".into()
            }
        );
        assert_eq!(
            refused(413, br#"{"errors":["Too many bulk requests"]}"#, None),
            AdapterError::RateLimited { retry_after: None }
        );
        assert_eq!(
            refused(429, b"Retry later", None),
            AdapterError::RateLimited { retry_after: None }
        );
        assert_eq!(
            refused(401, br#"{"errors":["The API key is invalid"]}"#, None),
            AdapterError::Unauthorized {
                refreshable: false,
                message: "The API key is invalid".into()
            }
        );
        assert!(matches!(
            refused(503, b"", TAG),
            AdapterError::Unavailable { .. }
        ));
    }
}
