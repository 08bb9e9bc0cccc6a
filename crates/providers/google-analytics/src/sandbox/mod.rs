//! A fake of the GA4 Data API for the sandbox (demo mode, end-to-end tests): the
//! real paths, JSON shapes, auth checks and error envelopes, with deterministic data
//! and injectable faults.
//!
//! Served under the sandbox's `/google-analytics/` mount, it answers
//! `POST /v1beta/properties/{id}:runReport`, `POST /v1beta/properties/{id}:
//! runRealtimeReport` (in [`realtime`]), `GET /v1beta/properties/{id}/metadata` (in
//! [`metadata`]), the Admin API's `GET /v1beta/accountSummaries` (in [`options`]),
//! and the Measurement Protocol's `POST /mp/collect` and validation server
//! `POST /debug/mp/collect` (in [`mp`], no OAuth: the protocol's own secret):
//! - the Bearer token is checked with the sandbox's OAuth server: it must be valid
//!   for this provider and carry the Analytics (read-only) scope;
//! - property `403` stands for a property the account cannot see (403
//!   `PERMISSION_DENIED`); a non-numeric property is a 400 `INVALID_ARGUMENT`;
//! - the dimensions and metrics of `schema.json` are known (custom definitions
//!   `customUser:membership` and `customEvent:plan_name` among them); rows are
//!   ordered by dimension values and paged with `offset`/`limit`, filtered by a
//!   `dimensionFilter` ([`filter`]); relative dates resolve against the sandbox
//!   clock (UTC);
//! - faults render as GA4 renders them: 429 `RESOURCE_EXHAUSTED` for concurrency
//!   (with `Retry-After`) or an hourly token quota, 503 `UNAVAILABLE`, 401 for an
//!   expired token, and a truncated 200 body.
//!
//! The fake keeps no state between requests, so its `propertyQuota` always shows
//! full quotas less the cost of the request at hand.
//!
//! Routing, the token check, and the faults are the toolkit's fake scaffolding
//! ([`junction_toolkit::fake`]) over the adapter's own description
//! ([`crate::google::API`]); what the fake knows of GA4's schema is data
//! (`schema.json`).

mod data;
mod filter;
mod metadata;
mod mp;
mod options;
mod realtime;
mod report;

use junction_core::fake::{CatalogEntry, FakeContext, FakeRequest, FakeResponse, ProviderFake};
use junction_toolkit::fake::{Auth, Call, ErrorShape, Route, Service};

use crate::{
    google::API,
    spec::{FULL_SCOPE, PROVIDER_ID, READONLY_SCOPE},
};
use report::{InvalidArgument, ReportQuery};

/// The property id that stands for a property the signed-in account cannot access.
pub const FORBIDDEN_PROPERTY: &str = "403";

/// The property the sandbox's catalog connects (any other numeric id but
/// [`FORBIDDEN_PROPERTY`] has data too).
pub const SANDBOX_PROPERTY: &str = "123456789";

/// The GA4 Data API fake.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ga4Fake;

/// Google's error envelope (`{"error": {"code", "message", "status"}}`) and words.
const ERRORS: ErrorShape = ErrorShape::new(Some("/error/status"), "/error/message")
    .status_at("/error/code")
    .catalogue(&data::WORDS, "");

const SERVICE: Service<()> = Service::new(
    API.base.prefix,
    &[
        Route::post("properties/{property}:runReport", run_report),
        Route::post(
            "properties/{property}:runRealtimeReport",
            run_realtime_report,
        ),
        Route::get("properties/{property}/metadata", get_metadata),
        // The Admin API's list of the user's properties (`property_id`'s choices).
        Route::get("accountSummaries", account_summaries),
    ],
    Auth::new(API.auth, PROVIDER_ID).needs(&[READONLY_SCOPE, FULL_SCOPE]),
    ERRORS,
)
// Google's front end answers unknown methods before anything else.
.routes_first();

/// The Measurement Protocol, on its own host (the same mount in the sandbox): its
/// secret is a query parameter Google does not check on these answers, so the
/// routes are public.
const MEASUREMENT: Service<()> = Service::new(
    "",
    &[
        Route::post("mp/collect", |_, call| mp::collect(call)).public(),
        Route::post("debug/mp/collect", |_, call| mp::debug(call)).public(),
    ],
    Auth::new(&[], PROVIDER_ID),
    ERRORS,
)
.routes_first();

impl ProviderFake for Ga4Fake {
    fn provider_id(&self) -> &'static str {
        PROVIDER_ID
    }

    fn catalog(&self) -> CatalogEntry {
        data::SCHEMA.catalog(PROVIDER_ID)
    }

    fn handle(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse {
        let path = request.path.trim_start_matches('/');
        if path.starts_with("mp/") || path.starts_with("debug/mp/") {
            return MEASUREMENT.serve(&mut (), request, ctx);
        }
        SERVICE.serve(&mut (), request, ctx)
    }
}

/// `POST /v1beta/properties/{id}:runReport`.
fn run_report(_: &mut (), call: &Call<'_>) -> FakeResponse {
    let property = call.param("property");
    if !property.bytes().all(|b| b.is_ascii_digit()) {
        return ERRORS.named("not_numeric", &[("property", property)]);
    }
    if property == FORBIDDEN_PROPERTY {
        return ERRORS.named("forbidden_property", &[]);
    }
    let today = call.now.date_naive();
    match ReportQuery::parse(&call.request.body, property, today)
        .and_then(|query| query.run(property, today))
    {
        Ok(report) => FakeResponse::json(200, &report),
        Err(InvalidArgument(message)) => ERRORS.named("invalid", &[("message", &message)]),
    }
}

/// The refusal of a property id, as GA4 words it, if it is refused.
fn refused_property(property: &str) -> Option<FakeResponse> {
    if !property.bytes().all(|b| b.is_ascii_digit()) {
        return Some(ERRORS.named("not_numeric", &[("property", property)]));
    }
    (property == FORBIDDEN_PROPERTY).then(|| ERRORS.named("forbidden_property", &[]))
}

/// `POST /v1beta/properties/{id}:runRealtimeReport`.
fn run_realtime_report(_: &mut (), call: &Call<'_>) -> FakeResponse {
    let property = call.param("property");
    if let Some(refused) = refused_property(property) {
        return refused;
    }
    match realtime::run(&call.request.body, property, call.now) {
        Ok(report) => FakeResponse::json(200, &report),
        Err(InvalidArgument(message)) => ERRORS.named("invalid", &[("message", &message)]),
    }
}

/// `GET /v1beta/properties/{id}/metadata`.
fn get_metadata(_: &mut (), call: &Call<'_>) -> FakeResponse {
    let property = call.param("property");
    if let Some(refused) = refused_property(property) {
        return refused;
    }
    FakeResponse::json(200, &metadata::metadata(property))
}

/// `GET /v1beta/accountSummaries` (the Admin API's, in [`options`]).
fn account_summaries(_: &mut (), call: &Call<'_>) -> FakeResponse {
    options::account_summaries(call, SANDBOX_PROPERTY).unwrap_or_else(|_| {
        ERRORS.named(
            "invalid",
            &[("message", "Invalid page token or page size.")],
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use junction_core::fake::{Fault, NoTokens, TokenAuthority, TokenStatus};
    use serde_json::{Value, json};

    struct OneToken(TokenStatus);

    impl TokenAuthority for OneToken {
        fn check(&self, provider: &str, token: &str) -> TokenStatus {
            if provider == PROVIDER_ID && token == "good" {
                self.0.clone()
            } else {
                TokenStatus::Unknown
            }
        }
    }

    fn request(method: http::Method, path: &str, token: Option<&str>, body: Value) -> FakeRequest {
        let mut headers = http::HeaderMap::new();
        if let Some(token) = token {
            headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        FakeRequest {
            method,
            path: path.into(),
            query: String::new(),
            headers,
            body: body.to_string().into_bytes(),
        }
    }

    fn call(
        request: &FakeRequest,
        tokens: &dyn TokenAuthority,
        fault: Option<Fault>,
    ) -> (u16, Value) {
        let ctx = FakeContext {
            tokens,
            fault,
            now: Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap(),
        };
        let response = Ga4Fake.handle(request, &ctx);
        let body = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        (response.status, body)
    }

    fn body() -> Value {
        json!({"dateRanges": [{"startDate": "yesterday", "endDate": "today"}], "metrics": [{"name": "sessions"}]})
    }

    #[test]
    fn the_catalog_names_the_fakes_values() {
        let entry = Ga4Fake.catalog();
        assert_eq!(entry.config["property_id"], SANDBOX_PROPERTY);
        assert_eq!(entry.special_values[0].value, FORBIDDEN_PROPERTY);
    }

    #[test]
    fn the_faults_read_as_the_adapter_reads_them() {
        let policy = junction_core::http::ResponsePolicy::OAUTH;
        let checked = junction_toolkit::fake::faults::check(&ERRORS, &API, &policy);
        assert_eq!(checked, Ok(()));
    }

    #[test]
    fn routes_only_run_report() {
        let valid = OneToken(TokenStatus::Valid {
            scopes: vec![READONLY_SCOPE.into()],
        });
        let post = http::Method::POST;
        let (status, json) = call(
            &request(
                post.clone(),
                "/v1beta/properties/1:runReport",
                Some("good"),
                body(),
            ),
            &valid,
            None,
        );
        assert_eq!(status, 200);
        assert_eq!(json["kind"], "analyticsData#runReport");
        let (status, _) = call(
            &request(
                post.clone(),
                "/v1beta/properties/1%3ArunReport",
                Some("good"),
                body(),
            ),
            &valid,
            None,
        );
        assert_eq!(status, 200);
        for (method, path) in [
            (http::Method::GET, "/v1beta/properties/1:runReport"),
            (post.clone(), "/v1beta/properties/1:runPivotReport"),
            (post.clone(), "/v1beta/properties/1/metadata"),
            (http::Method::GET, "/v1beta/properties/1:runRealtimeReport"),
            (post, "/v1/properties/1:runReport"),
        ] {
            let (status, json) = call(&request(method, path, Some("good"), body()), &valid, None);
            assert_eq!(
                (status, json["error"]["status"].as_str()),
                (404, Some("NOT_FOUND")),
                "{path}"
            );
        }
    }

    #[test]
    fn tokens_and_scopes_are_checked() {
        let path = "/v1beta/properties/1:runReport";
        let post = http::Method::POST;
        let (status, json) = call(&request(post.clone(), path, None, body()), &NoTokens, None);
        assert_eq!(
            (status, json["error"]["status"].as_str()),
            (401, Some("UNAUTHENTICATED"))
        );
        let (status, _) = call(
            &request(post.clone(), path, Some("bad"), body()),
            &NoTokens,
            None,
        );
        assert_eq!(status, 401);
        let (status, json) = call(
            &request(post.clone(), path, Some("good"), body()),
            &OneToken(TokenStatus::Expired),
            None,
        );
        assert_eq!(
            (status, json["error"]["details"][0]["reason"].as_str()),
            (401, Some("ACCESS_TOKEN_EXPIRED"))
        );
        let narrow = OneToken(TokenStatus::Valid {
            scopes: vec!["openid".into()],
        });
        let (status, json) = call(
            &request(post.clone(), path, Some("good"), body()),
            &narrow,
            None,
        );
        assert_eq!(
            (status, json["error"]["status"].as_str()),
            (403, Some("PERMISSION_DENIED"))
        );
        let full = OneToken(TokenStatus::Valid {
            scopes: vec![FULL_SCOPE.into()],
        });
        let (status, _) = call(&request(post, path, Some("good"), body()), &full, None);
        assert_eq!(status, 200);
    }

    #[test]
    fn properties_are_checked() {
        let valid = OneToken(TokenStatus::Valid {
            scopes: vec![READONLY_SCOPE.into()],
        });
        let post = http::Method::POST;
        let (status, json) = call(
            &request(
                post.clone(),
                "/v1beta/properties/abc:runReport",
                Some("good"),
                body(),
            ),
            &valid,
            None,
        );
        assert_eq!(
            (status, json["error"]["status"].as_str()),
            (400, Some("INVALID_ARGUMENT"))
        );
        let (status, json) = call(
            &request(
                post,
                "/v1beta/properties/403:runReport",
                Some("good"),
                body(),
            ),
            &valid,
            None,
        );
        assert_eq!(
            (status, json["error"]["status"].as_str()),
            (403, Some("PERMISSION_DENIED"))
        );
    }
}
