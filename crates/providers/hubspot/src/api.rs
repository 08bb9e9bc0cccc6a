//! HubSpot's API as the toolkit runs it: the host, the two ways a connection
//! authenticates, the request that verifies one, how lists and searches page, what
//! HubSpot's refusals mean and where its rate-limit signals are.
//!
//! A connection of the `hubspot` entry sends its private app's access token, one of
//! `hubspot-oauth` the OAuth access token Junction keeps fresh; both as
//! `Authorization: Bearer`. The toolkit picks the mode from what the connection holds
//! and reads a 401 as final for a private-app token and as refreshable for an OAuth
//! token (it lives 30 minutes).
//!
//! HubSpot's error body is `{"status": "error", "message", "correlationId",
//! "category", "errors": [...]}`; the envelope reads `category` as the code and adds
//! the correlation id HubSpot's support asks for to the message. The table:
//!
//! - a 429 of the daily limit (`"policyName": "DAILY"`): `QuotaExhausted` until the
//!   next midnight (UTC: HubSpot resets at the account's midnight, which is no later
//!   for accounts west of Greenwich and a few hours earlier east of it, when the
//!   worker simply tries again);
//! - any other 429 (the 10-second or secondly window, the search API's 5 a second):
//!   `RateLimited`, waiting for the window ([`signals`]);
//! - 423 Locked (too many concurrent writes to one record): `RateLimited`;
//! - `MISSING_SCOPES` (403): `Unauthorized` without a refresh, saying which scope
//!   the app lacks: only the account owner can grant it;
//! - `VALIDATION_ERROR`, `CONFLICT`, `OBJECT_NOT_FOUND`: `Invalid` (the request named
//!   a property, value or record HubSpot does not have; retrying changes nothing).
//!
//! Everything else keeps core's generic class (401 `Unauthorized`, 5xx
//! `Unavailable`, other 4xx `Provider` with the category and message).

use std::{sync::LazyLock, time::Duration};

use chrono::{DateTime, Duration as Span, Utc};
use http::{HeaderMap, Method};
use junction_core::{AdapterError, Connection, Context, http::RateLimitInfo};
use junction_toolkit::{
    AuthMode, BaseUrl, Client, CursorAt, Envelope, ErrorRule, ErrorTable, HttpApi, More, OnStall,
    PageSize, Paging, Placement, RateLimitHeaders, RateLimitSignals, Resets, Style, TokenMemo,
    Verification, When, errors::next_midnight, tz,
};
use secrecy::SecretString;
use serde::Deserialize;

use crate::{
    Entry,
    spec::{ACCESS_TOKEN_FIELD, DEFAULT_BASE},
};

/// The message of a 403 for a missing scope.
const MISSING_SCOPE: &str = "the HubSpot app lacks a scope Junction needs; add it to the \
     app (a private app: Settings → Integrations → Private Apps → Scopes; a public app: \
     reconnect to grant it). HubSpot said: {message}";

/// HubSpot's description.
pub const API: HttpApi = HttpApi {
    base: BaseUrl::fixed(DEFAULT_BASE),
    auth: &[
        AuthMode::ApiKey {
            field: ACCESS_TOKEN_FIELD,
            placement: Placement::BEARER_KEY,
        },
        AuthMode::OAUTH_BEARER,
    ],
    headers: &[("accept", "application/json")],
    // The account's details: its id (the label), time zone and company currency, the
    // currency of deals that name none. Every app may read them.
    verification: Some(Verification {
        method: "GET",
        path: ACCOUNT_PATH,
        query: &[],
        account: Some("/portalId"),
    }),
    errors: ErrorTable {
        envelope: Envelope {
            code: &["/category"],
            message: &["/message"],
            tags: &[("/correlationId", "correlationId ")],
            ..Envelope::GENERIC
        },
        rules: &[
            ErrorRule::status(429)
                .when(When::Equals("/policyName", "DAILY"))
                .quota_exhausted(Resets::NextMidnight(tz::UTC)),
            ErrorRule::status(429).rate_limited(),
            ErrorRule::status(423).rate_limited(),
            ErrorRule::code("MISSING_SCOPES")
                .unauthorized(false)
                .message(MISSING_SCOPE),
            ErrorRule::codes(&["VALIDATION_ERROR", "CONFLICT", "OBJECT_NOT_FOUND"]).invalid(),
        ],
        in_success_body: None,
    },
    rate_limits: RateLimitSignals {
        headers: RateLimitHeaders::Custom(signals),
        warn_at_percent: None,
    },
};

/// The account's details.
pub const ACCOUNT_PATH: &str = "account-info/v3/details";

/// The rolling window's allowance per app and account.
pub const MAX_HEADER: &str = "x-hubspot-ratelimit-max";
/// What is left of the rolling window.
pub const REMAINING_HEADER: &str = "x-hubspot-ratelimit-remaining";
/// The rolling window's length, in milliseconds (10,000).
pub const INTERVAL_HEADER: &str = "x-hubspot-ratelimit-interval-milliseconds";
/// The daily allowance (private apps: 250,000 to 1,000,000 by plan).
pub const DAILY_HEADER: &str = "x-hubspot-ratelimit-daily";
/// What is left of the day.
pub const DAILY_REMAINING_HEADER: &str = "x-hubspot-ratelimit-daily-remaining";

/// HubSpot's rate-limit headers as one window for the shared limiter: the day when
/// it is used up (nothing is left until midnight, so the limiter holds every request
/// until then), else the rolling 10-second window, which resets within its interval
/// at the latest. A `Retry-After`, when HubSpot sends one, is kept.
pub fn signals(headers: &HeaderMap, now: DateTime<Utc>) -> Option<RateLimitInfo> {
    let count = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let retry_after = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| junction_core::http::parse_retry_after(v, now));
    if count(DAILY_REMAINING_HEADER) == Some(0) {
        return Some(RateLimitInfo {
            limit: count(DAILY_HEADER),
            remaining: Some(0),
            reset_at: Some(next_midnight(tz::UTC, now)),
            retry_after,
        });
    }
    let interval = count(INTERVAL_HEADER).map(Duration::from_millis);
    let info = RateLimitInfo {
        limit: count(MAX_HEADER),
        remaining: count(REMAINING_HEADER),
        reset_at: interval
            .and_then(|interval| Span::from_std(interval).ok())
            .map(|span| now + span),
        retry_after,
    };
    (info != RateLimitInfo::default()).then_some(info)
}

/// HubSpot's page size for lists (its maximum) and searches (its maximum is 200).
pub const LIST_SIZE: PageSize = PageSize {
    default: 100,
    max: 100,
};

/// A search's page size.
pub const SEARCH_SIZE: PageSize = PageSize {
    default: 200,
    max: 200,
};

/// A CRM v3 list (`GET /crm/v3/objects/contacts`, `/crm/v3/owners`): `?limit=n&
/// after=<paging.next.after>` while there is one. A next page without a
/// new cursor would read the same page forever, so that answer fails (`Unavailable`).
pub const PAGING: Paging = Paging {
    style: Style::Cursor {
        param: "after",
        at: CursorAt::Body("/paging/next/after"),
        more: More::HasCursor,
    },
    items: "/results",
    size_param: "limit",
    size: LIST_SIZE,
    on_stall: OnStall::Fail,
};

/// A CRM search (`POST /crm/v3/objects/{type}/search`): the same cursor, sent as
/// `after` in the JSON body beside `limit`.
pub const SEARCH_PAGING: Paging = Paging {
    size: SEARCH_SIZE,
    ..PAGING
};

/// HubSpot's search answers at most 10,000 results of one query: an `after` at or
/// past this is refused, so a read moves its filter on instead (see `objects`).
pub const SEARCH_RESULT_LIMIT: u64 = 10_000;

/// The account a connection reaches (`GET /account-info/v3/details`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub portal_id: u64,
    #[serde(default)]
    pub time_zone: Option<String>,
    /// The currency of amounts that name none.
    #[serde(default)]
    pub company_currency: Option<String>,
    #[serde(default)]
    pub ui_domain: Option<String>,
}

/// Accounts by credential: the details do not change for a token, and the streams
/// and webhooks that need the company currency or the portal id would otherwise ask
/// on every page.
static ACCOUNTS: LazyLock<TokenMemo<Account>> = LazyLock::new(TokenMemo::default);

/// The account of `conn`, looked up once per credential.
pub(crate) async fn account(
    client: &Client<'_>,
    conn: &Connection,
) -> Result<Account, AdapterError> {
    let credential = credential(conn)?;
    ACCOUNTS
        .get_or_lookup(credential, || async {
            client.get::<Account>(ACCOUNT_PATH, &[]).await
        })
        .await
}

/// What authenticates `conn`: its OAuth access token, else the private app's.
fn credential(conn: &Connection) -> Result<&SecretString, AdapterError> {
    match &conn.access_token {
        Some(token) => Ok(token),
        None => conn.secret(ACCESS_TOKEN_FIELD),
    }
}

/// `GET path` with `query`, the JSON answer.
pub(crate) async fn get_json(
    client: &Client<'_>,
    path: &str,
    query: &[(&str, String)],
) -> Result<serde_json::Value, AdapterError> {
    Ok(client
        .fetch(client.request(Method::GET, path)?.query(query))
        .await?
        .body)
}

/// The client of `conn` for `entry`.
pub(crate) fn client<'a>(
    ctx: &'a Context,
    entry: Entry,
    conn: &'a Connection,
) -> Result<Client<'a>, AdapterError> {
    Client::new(ctx, entry.spec(), &API, conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderValue, StatusCode};
    use junction_core::http::{Refusal, ResponsePolicy};

    fn refused(status: u16, body: &str, headers: &HeaderMap, now: DateTime<Utc>) -> AdapterError {
        let status = StatusCode::from_u16(status).unwrap();
        let refusal = Refusal {
            status,
            headers,
            body: body.as_bytes(),
            now,
        };
        let base = junction_core::http::classify(
            status,
            headers,
            body.as_bytes(),
            now,
            &ResponsePolicy::API_KEY,
        );
        API.errors
            .classify(base, &refusal, &API.rate_limits, &serde_json::Map::new())
    }

    fn now() -> DateTime<Utc> {
        "2026-03-31T12:00:00Z".parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn the_description_is_sound() {
        assert_eq!(API.validate(), Ok(()));
    }

    #[test]
    fn hubspot_refusals_are_classified() {
        let none = HeaderMap::new();
        assert_eq!(
            refused(
                429,
                r#"{"status":"error","message":"You have reached your daily limit.","errorType":"RATE_LIMIT","correlationId":"c033cdaa","policyName":"DAILY","groupName":"api-calls-daily"}"#,
                &none,
                now()
            ),
            AdapterError::QuotaExhausted {
                resets_at: Some("2026-04-01T00:00:00Z".parse().unwrap())
            }
        );
        let window = headers(&[
            (MAX_HEADER, "100"),
            (REMAINING_HEADER, "0"),
            (INTERVAL_HEADER, "10000"),
        ]);
        assert_eq!(
            refused(
                429,
                r#"{"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT","correlationId":"a1","policyName":"TEN_SECONDLY_ROLLING"}"#,
                &window,
                now()
            ),
            AdapterError::RateLimited {
                retry_after: Some(Duration::from_secs(10))
            }
        );
        assert!(matches!(
            refused(
                423,
                r#"{"status":"error","message":"Locked"}"#,
                &none,
                now()
            ),
            AdapterError::RateLimited { .. }
        ));
        let scopes = refused(
            403,
            r#"{"status":"error","message":"This app hasn't been granted all required scopes to make this call.","correlationId":"b2","category":"MISSING_SCOPES","errors":[{"message":"One or more of the following scopes are required.","context":{"requiredGranularScopes":["crm.objects.deals.read"]}}]}"#,
            &none,
            now(),
        );
        match scopes {
            AdapterError::Unauthorized {
                refreshable: false,
                message,
            } => {
                assert!(message.contains("lacks a scope"), "{message}");
                assert!(message.contains("correlationId b2"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            refused(
                400,
                r#"{"status":"error","message":"Property values were not valid: [{\"isValid\":false,\"message\":\"Property \\\"colour\\\" does not exist\",\"error\":\"PROPERTY_DOESNT_EXIST\",\"name\":\"colour\"}]","correlationId":"c3","category":"VALIDATION_ERROR"}"#,
                &none,
                now()
            ),
            AdapterError::Invalid { .. }
        ));
        assert!(matches!(
            refused(
                404,
                r#"{"status":"error","message":"Object not found.  objectId are usually numeric.","correlationId":"d4","category":"OBJECT_NOT_FOUND"}"#,
                &none,
                now()
            ),
            AdapterError::Invalid { .. }
        ));
        assert!(matches!(
            refused(
                401,
                r#"{"status":"error","message":"Authentication credentials not found.","correlationId":"e5","category":"INVALID_AUTHENTICATION"}"#,
                &none,
                now()
            ),
            AdapterError::Unauthorized { .. }
        ));
        assert!(matches!(
            refused(502, "<html>bad gateway</html>", &none, now()),
            AdapterError::Unavailable { .. }
        ));
    }

    #[test]
    fn the_window_and_the_day_are_read_from_hubspots_headers() {
        let now = now();
        let window = headers(&[
            (MAX_HEADER, "190"),
            (REMAINING_HEADER, "187"),
            (INTERVAL_HEADER, "10000"),
            (DAILY_HEADER, "500000"),
            (DAILY_REMAINING_HEADER, "499000"),
        ]);
        assert_eq!(
            signals(&window, now),
            Some(RateLimitInfo {
                limit: Some(190),
                remaining: Some(187),
                reset_at: Some(now + Span::seconds(10)),
                retry_after: None,
            })
        );
        let spent = headers(&[
            (MAX_HEADER, "190"),
            (REMAINING_HEADER, "187"),
            (DAILY_HEADER, "500000"),
            (DAILY_REMAINING_HEADER, "0"),
        ]);
        assert_eq!(
            signals(&spent, now),
            Some(RateLimitInfo {
                limit: Some(500_000),
                remaining: Some(0),
                reset_at: Some("2026-04-01T00:00:00Z".parse().unwrap()),
                retry_after: None,
            })
        );
        assert_eq!(signals(&HeaderMap::new(), now), None);
    }
}
