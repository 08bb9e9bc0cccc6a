//! The GA4 Data API as the toolkit runs it, and `runReport`.
//!
//! The generic classification of a refusal looks at the status and headers, but GA4
//! says in the body which quota ran out, and that decides between "slow down"
//! (concurrent requests) and "come back after the reset" (token quotas). [`API`]'s
//! table reads Google's error JSON `{"error": {"code", "message", "status"}}` (a bare
//! status stands for its canonical code):
//!
//! - `RESOURCE_EXHAUSTED`: "Exhausted concurrent requests quota." is transient (a
//!   request in flight will finish): `RateLimited`; "Exhausted property tokens per
//!   day" lasts until midnight Pacific time, when Google resets daily quotas, and the
//!   hourly token quotas (per property, per project) until the next hour:
//!   `QuotaExhausted`; anything else slows down;
//! - `UNAUTHENTICATED`: the access token (about an hour) expired; a refresh gets a
//!   new one;
//! - `PERMISSION_DENIED`: the Google account has no access to the property;
//! - `INVALID_ARGUMENT`: bad input, naming `dimensions` or `property_id` when the
//!   message is about one.

use junction_core::{AdapterError, Connection, Context};
use junction_toolkit::{
    AuthMode, BaseUrl, Client, Envelope, ErrorRule, ErrorTable, HttpApi, RateLimitSignals, Resets,
    When, tz,
};

use crate::{
    spec::{DEFAULT_BASE, PROVIDER_ID, spec},
    wire::{PropertyQuota, RunReportRequest, RunReportResponse},
};

const MESSAGE: &str = "/error/message";

const NO_ACCESS: &str = "the connected Google account has no access to GA4 property \
     {property_id}: give it at least the Viewer role in Google Analytics (Admin → Property \
     access management), or reconnect with an account that has it and grant the Analytics \
     read-only permission. Google said: {message}";

const REJECTED: &str = "GA4 rejected the report request";

/// The Data API's description.
pub const API: HttpApi = HttpApi {
    base: BaseUrl::fixed(DEFAULT_BASE).with_prefix("v1beta"),
    auth: &[AuthMode::OAUTH_BEARER],
    headers: &[],
    verification: None,
    errors: ErrorTable {
        envelope: Envelope {
            code: &["/error/status"],
            message: &[MESSAGE],
            tags: &[],
            code_for_status: &[
                (400, "INVALID_ARGUMENT"),
                (401, "UNAUTHENTICATED"),
                (403, "PERMISSION_DENIED"),
                (429, "RESOURCE_EXHAUSTED"),
            ],
            max_message_chars: 300,
        },
        rules: &[
            ErrorRule::code("RESOURCE_EXHAUSTED")
                .when(When::Contains(MESSAGE, "concurrent"))
                .rate_limited(),
            ErrorRule::code("RESOURCE_EXHAUSTED")
                .when(When::Contains(MESSAGE, "per day"))
                .quota_exhausted(Resets::NextMidnight(tz::America::Los_Angeles)),
            ErrorRule::code("RESOURCE_EXHAUSTED")
                .when(When::Contains(MESSAGE, "per hour"))
                .quota_exhausted(Resets::NextHour),
            ErrorRule::code("RESOURCE_EXHAUSTED").rate_limited(),
            ErrorRule::code("UNAUTHENTICATED")
                .unauthorized(true)
                .fallback("Google rejected the access token"),
            ErrorRule::code("PERMISSION_DENIED")
                .unauthorized(false)
                .message(NO_ACCESS)
                .fallback("permission denied"),
            ErrorRule::code("INVALID_ARGUMENT")
                .when(When::Contains(MESSAGE, "dimension"))
                .invalid_field("dimensions")
                .fallback(REJECTED),
            ErrorRule::code("INVALID_ARGUMENT")
                .when(When::Contains(MESSAGE, "property"))
                .invalid_field("property_id")
                .fallback(REJECTED),
            ErrorRule::code("INVALID_ARGUMENT")
                .invalid()
                .fallback(REJECTED),
        ],
        in_success_body: None,
    },
    rate_limits: RateLimitSignals::STANDARD,
};

/// The API client of a connection.
pub(crate) fn client<'a>(
    ctx: &'a Context,
    conn: &'a Connection,
) -> Result<Client<'a>, AdapterError> {
    Client::new(ctx, spec(), &API, conn)
}

/// Runs one report for `property_id` with the connection's access token.
///
/// A successful report whose `propertyQuota` shows a token quota at 0 means the next
/// request to the property will be refused until the quota resets. The report is
/// still good; a warning tells operators why the next sync will wait.
pub(crate) async fn run_report(
    ctx: &Context,
    conn: &Connection,
    property_id: &str,
    body: &RunReportRequest,
) -> Result<RunReportResponse, AdapterError> {
    let client = client(ctx, conn)?;
    let path = format!("properties/{property_id}:runReport");
    let request = client.request(http::Method::POST, &path)?.json(body);
    let report: RunReportResponse = client.json(request).await?;
    let quota = report.property_quota.as_ref();
    let exhausted = quota.map(PropertyQuota::exhausted_token_quotas);
    if let Some(quotas) = exhausted.filter(|quotas| !quotas.is_empty()) {
        tracing::warn!(
            provider = PROVIDER_ID,
            property_id,
            ?quotas,
            "GA4 token quota used up: the next request to this property will be refused until it resets"
        );
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use http::{HeaderMap, StatusCode};
    use junction_core::http::Refusal;
    use serde_json::json;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn refine(base: AdapterError, status: u16, body: &[u8], now: DateTime<Utc>) -> AdapterError {
        let refusal = Refusal {
            status: StatusCode::from_u16(status).unwrap(),
            headers: &HeaderMap::new(),
            body,
            now,
        };
        let config = json!({"property_id": "42"}).as_object().cloned().unwrap();
        API.errors
            .classify(base, &refusal, &API.rate_limits, &config)
    }

    fn google(code: u16, status: &str, message: &str) -> Vec<u8> {
        json!({"error": {"code": code, "message": message, "status": status}})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn the_description_is_sound() {
        assert_eq!(API.validate(), Ok(()));
    }

    #[test]
    fn resource_exhausted_is_told_apart_by_the_quota() {
        let now = at("2026-01-15T12:34:00Z");
        let base = AdapterError::RateLimited {
            retry_after: Some(std::time::Duration::from_secs(2)),
        };
        let refined = |message: &str| {
            refine(
                base.clone(),
                429,
                &google(429, "RESOURCE_EXHAUSTED", message),
                now,
            )
        };
        assert_eq!(refined("Exhausted concurrent requests quota."), base);
        assert_eq!(
            refined("Exhausted property tokens per hour. Refresh in 26 minutes."),
            AdapterError::QuotaExhausted {
                resets_at: Some(at("2026-01-15T13:00:00Z"))
            }
        );
        assert_eq!(
            refined("Exhausted property tokens per project per hour."),
            AdapterError::QuotaExhausted {
                resets_at: Some(at("2026-01-15T13:00:00Z"))
            }
        );
        assert_eq!(
            refined("Exhausted property tokens per day."),
            AdapterError::QuotaExhausted {
                resets_at: Some(at("2026-01-16T08:00:00Z"))
            }
        );
        assert_eq!(
            refined("Resource has been exhausted (e.g. check quota)."),
            base
        );
        // Without a body, the status says which code it was.
        assert_eq!(refine(base.clone(), 429, b"", now), base);
    }

    #[test]
    fn permission_and_argument_errors() {
        let now = at("2026-01-15T12:00:00Z");
        let base = AdapterError::Provider {
            status: 403,
            code: None,
            message: String::new(),
        };
        let err = refine(
            base.clone(),
            403,
            &google(
                403,
                "PERMISSION_DENIED",
                "User does not have sufficient permissions for this property.",
            ),
            now,
        );
        let AdapterError::Unauthorized {
            refreshable,
            message,
        } = err
        else {
            panic!("{err:?}")
        };
        assert!(!refreshable);
        assert!(message.contains("property 42"), "{message}");
        let err = refine(
            base.clone(),
            400,
            &google(
                400,
                "INVALID_ARGUMENT",
                "Field city2 is not a valid dimension.",
            ),
            now,
        );
        assert_eq!(
            err,
            AdapterError::invalid_field("dimensions", "Field city2 is not a valid dimension.")
        );
        assert_eq!(
            refine(base.clone(), 401, b"", now),
            AdapterError::Unauthorized {
                refreshable: true,
                message: "Google rejected the access token".into()
            }
        );
        let unavailable = AdapterError::unavailable("HTTP 503");
        assert_eq!(
            refine(
                unavailable.clone(),
                503,
                &google(503, "UNAVAILABLE", "down"),
                now
            ),
            unavailable
        );
    }
}
