//! A fake of the Marketing API endpoints the adapter uses, for the sandbox (demo
//! mode, end-to-end tests): the real paths, JSON shapes (numbers as strings,
//! `AdsActionStats` lists, cursor paging), auth checks, Graph error envelopes and
//! usage headers, with deterministic data and injectable faults.
//!
//! Served under the sandbox's `/meta-ads/` mount, it answers:
//! - `GET /v25.0/act_{id}` with the fields asked for of the ad account;
//! - `GET /v25.0/act_{id}/insights?level=campaign&time_increment=1&time_range=..`
//!   with one row per campaign and day (six campaigns over the past 420 days),
//!   ordered by day then campaign, paged with `limit` and `after` (the `after`
//!   cursor names the last row of a page; `paging.next` only while more follow);
//! - `GET /v25.0/me?fields=id,name`, the signed-in user (the check of a connection
//!   whose ad account is still to be chosen);
//! - `GET /v25.0/me/adaccounts?fields=..`, the user's ad accounts (in [`options`]);
//! - `DELETE /v25.0/me/permissions` (revocation).
//!
//! The token (`Authorization: Bearer`, or `access_token` in the query) is checked
//! with the sandbox's OAuth server and must carry `ads_read` or `ads_management`.
//! Account `act_0` stands for an account the user cannot see (code 100, subcode 33).
//! Faults render as Meta renders them: HTTP 400 code 80000 with
//! `X-Business-Use-Case-Usage` (`estimated_time_to_regain_access` in minutes) for a
//! rate limit, code 4 with `X-App-Usage` at 100% for an exhausted app quota, a 500
//! `is_transient` code 2, code 190 subcode 463 for an expired token, and a truncated
//! 200 body.
//!
//! Routing, the token check, cursor paging (from the adapter's own
//! [`crate::insights::PAGING`]) and the faults are the toolkit's fake scaffolding
//! ([`junction_toolkit::fake`]).

mod data;
mod options;

use chrono::NaiveDate;
use junction_core::fake::{CatalogEntry, FakeContext, FakeRequest, FakeResponse, ProviderFake};
use junction_toolkit::{
    AuthMode, Placement,
    fake::{Auth, Call, Data, ErrorShape, Found, PageError, Pager, Route, Service},
};
use serde_json::{Value, json};

use crate::{
    graph::{API, BUC_USAGE_HEADER},
    insights::PAGING,
    spec::{ADS_MANAGEMENT_SCOPE, ADS_READ_SCOPE, GRAPH_VERSION, PROVIDER_ID},
};

/// The account id that stands for an account the token cannot reach.
pub const MISSING_ACCOUNT: &str = "0";

/// The ad account the sandbox's catalog connects (any other numeric id but
/// [`MISSING_ACCOUNT`] has the same campaigns).
pub const SANDBOX_AD_ACCOUNT: &str = "1234567890";

/// Insights pages: 25 rows without a `limit` (Meta's default), at most 5,000.
const PAGER: Pager = Pager::new(PAGING).size(25, 5_000);

/// The Meta Ads fake.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetaAdsFake;

/// The Graph error envelope (Meta marks its 5xx transient) and its words.
const ERRORS: ErrorShape = ErrorShape::new(Some("/error/code"), "/error/message")
    .fixed(&[
        ("/error/type", "OAuthException"),
        ("/error/fbtrace_id", "AsandboxTraceId0"),
    ])
    .finish(|status, body| {
        if status >= 500 {
            body["error"]["is_transient"] = json!(true);
        }
    })
    .catalogue(&WORDS, "");

static WORDS: Data = Data::new(include_str!("errors.json"));

/// Graph error 100 (`(#100) {what}`).
fn invalid(what: &str) -> FakeResponse {
    ERRORS.named("invalid", &[("what", what)])
}

const SERVICE: Service<()> = Service::new(
    API.base.prefix,
    &[
        Route::delete("me/permissions", |_, _| {
            FakeResponse::json(200, &json!({"success": true}))
        }),
        Route::get("act_{account}", ad_account),
        Route::get("act_{account}/insights", insights),
        // The user's ad accounts (`ad_account_id`'s choices).
        Route::get("me/adaccounts", ad_accounts),
        Route::get("me", me),
    ],
    // The token as a Bearer header, or as the `access_token` query parameter.
    Auth::new(API.auth, PROVIDER_ID)
        .also(&[AuthMode::OAuth2 {
            placement: Placement::Query {
                param: "access_token",
            },
        }])
        .needs(&[ADS_READ_SCOPE, ADS_MANAGEMENT_SCOPE]),
    ERRORS,
);

impl ProviderFake for MetaAdsFake {
    fn provider_id(&self) -> &'static str {
        PROVIDER_ID
    }

    fn catalog(&self) -> CatalogEntry {
        data::SEED.catalog(PROVIDER_ID)
    }

    fn handle(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse {
        SERVICE.serve(&mut (), request, ctx)
    }
}

/// The account of an `act_{id}` node: its digits, or the answer to a node that is
/// none.
fn account<'c>(call: &'c Call<'_>) -> Result<&'c str, FakeResponse> {
    let account = call.param("account");
    if !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SERVICE.miss(&Found::None, call.request));
    }
    if account == MISSING_ACCOUNT {
        return Err(ERRORS.named("missing_account", &[("account", account)]));
    }
    Ok(account)
}

/// `GET /act_{id}?fields=..`.
fn ad_account(_: &mut (), call: &Call<'_>) -> FakeResponse {
    let account = match account(call) {
        Ok(account) => account,
        Err(refusal) => return refusal,
    };
    let fields = json!({"account_id": account, "name": data::account_name(account)});
    let all = data::SEED.over("/account", fields);
    let mut body = json!({"id": format!("act_{account}")});
    for field in requested_fields(call) {
        match all.get(&field) {
            Some(value) => body[&field] = value.clone(),
            None if field != "id" => {
                return invalid(&format!(
                    "Tried accessing nonexisting field ({field}) on node type (AdAccount)"
                ));
            }
            None => {}
        }
    }
    FakeResponse::json(200, &body)
}

/// `GET /act_{id}/insights`.
fn insights(_: &mut (), call: &Call<'_>) -> FakeResponse {
    let account = match account(call) {
        Ok(account) => account,
        Err(refusal) => return refusal,
    };
    if call.query("level").as_deref() != Some("campaign") {
        return invalid("The fake serves level=campaign only");
    }
    if call.query("time_increment").as_deref() != Some("1") {
        return invalid("The fake serves time_increment=1 only");
    }
    let range = call
        .query("time_range")
        .and_then(|t| serde_json::from_str::<Value>(&t).ok());
    let day = |key: &str| {
        let text = range.as_ref()?.get(key)?.as_str()?;
        NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
    };
    let (Some(since), Some(until)) = (day("since"), day("until")) else {
        return invalid("param time_range must be a JSON object with since and until dates");
    };
    if since > until {
        return invalid("time_range: since must not be after until");
    }
    let fields = requested_fields(call);
    let rows = data::rows(account, since, until, call.now.date_naive());
    let rows = rows.iter().map(|row| only_fields(row, &fields)).collect();
    let page = match PAGER.page(call.request, rows) {
        Ok(page) => page,
        Err(PageError::Cursor { .. }) => return invalid("Invalid cursor"),
        Err(_) => return invalid("param limit must be a positive integer"),
    };
    let (first, more, after) = (page.first.clone(), page.more, page.last.clone());
    let mut page = page;
    if let Some(first) = first {
        page = page.with("/paging/cursors/before", json!(first));
    }
    if more {
        let next = next_url(call, account, &after.unwrap_or_default());
        page = page.with("/paging/next", json!(next));
    }
    let usage = json!({ account: [{
        "type": "ads_insights", "call_count": 1, "total_cputime": 1, "total_time": 1,
        "estimated_time_to_regain_access": 0, "ads_api_access_tier": "standard_access"
    }]});
    page.reply()
        .with_header(BUC_USAGE_HEADER, &usage.to_string())
}

/// `GET /me?fields=..`: the sandbox's Meta user, with the fields asked for (`id`
/// always, as Meta answers).
fn me(_: &mut (), call: &Call<'_>) -> FakeResponse {
    let all = json!({"id": SANDBOX_USER_ID, "name": "Sandbox Advertiser"});
    let mut body = json!({"id": SANDBOX_USER_ID});
    for field in requested_fields(call) {
        match all.get(&field) {
            Some(value) => body[&field] = value.clone(),
            None => return invalid(&format!("Tried accessing nonexisting field ({field})")),
        }
    }
    FakeResponse::json(200, &body)
}

/// The id of the sandbox's Meta user.
const SANDBOX_USER_ID: &str = "10150000000000001";

/// `GET /me/adaccounts` (in [`options`]).
fn ad_accounts(_: &mut (), call: &Call<'_>) -> FakeResponse {
    match options::ad_accounts(call, SANDBOX_AD_ACCOUNT, &requested_fields(call)) {
        Ok(page) => page,
        Err(PageError::Cursor { .. }) => invalid("Invalid cursor"),
        Err(_) => invalid("param limit must be a positive integer"),
    }
}

/// The `fields` query parameter, split.
fn requested_fields(call: &Call<'_>) -> Vec<String> {
    let fields = call.request.query_param("fields").unwrap_or_default();
    let fields = fields.split(',').map(str::trim).filter(|f| !f.is_empty());
    fields.map(str::to_owned).collect()
}

/// A row with only the requested fields (Meta always adds the dates).
fn only_fields(row: &Value, fields: &[String]) -> Value {
    let Some(object) = row.as_object() else {
        return row.clone();
    };
    let kept = object.iter().filter(|(key, _)| {
        matches!(key.as_str(), "date_start" | "date_stop") || fields.contains(key)
    });
    Value::Object(
        kept.map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
    )
}

/// The `paging.next` URL: the same query with the new `after`, without the token
/// (the real one carries it; the adapter never follows it).
fn next_url(call: &Call<'_>, account: &str, after: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in call.request.query_pairs() {
        if key != "after" && key != "access_token" {
            query.append_pair(&key, &value);
        }
    }
    query.append_pair("after", after);
    format!(
        "https://graph.facebook.com/{GRAPH_VERSION}/act_{account}/insights?{}",
        query.finish()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_names_the_fakes_values() {
        let entry = MetaAdsFake.catalog();
        assert_eq!(entry.config["ad_account_id"], SANDBOX_AD_ACCOUNT);
        assert_eq!(entry.special_values[0].value, MISSING_ACCOUNT);
    }

    #[test]
    fn the_faults_read_as_the_adapter_reads_them() {
        let policy = junction_core::http::ResponsePolicy::OAUTH;
        let checked = junction_toolkit::fake::faults::check(&ERRORS, &API, &policy);
        assert_eq!(checked, Ok(()));
        // The usage headers are the ones the adapter reads.
        for (entry, header) in [
            ("/rate_limited/headers", BUC_USAGE_HEADER),
            ("/quota_exhausted/headers", crate::graph::APP_USAGE_HEADER),
        ] {
            assert!(WORDS.at(entry).get(header).is_some(), "{entry}");
        }
    }

    #[test]
    fn cursors_name_rows_by_position() {
        use junction_core::fake::{NoTokens, TokenAuthority, TokenStatus};
        struct Tokens;
        impl TokenAuthority for Tokens {
            fn check(&self, _: &str, _: &str) -> TokenStatus {
                TokenStatus::Valid {
                    scopes: vec![ADS_READ_SCOPE.into()],
                }
            }
        }
        let request = |query: &str| FakeRequest {
            method: http::Method::GET,
            path: format!("/{GRAPH_VERSION}/act_42/insights"),
            query: format!(
                "access_token=t&level=campaign&time_increment=1&limit=2&time_range=%7B%22since%22%3A%222026-03-01%22%2C%22until%22%3A%222026-03-02%22%7D{query}"
            ),
            headers: http::HeaderMap::new(),
            body: Vec::new(),
        };
        let ctx = FakeContext {
            tokens: &Tokens,
            fault: None,
            now: chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 3, 31, 12, 0, 0).unwrap(),
        };
        let body = |query: &str| -> Value {
            serde_json::from_slice(&MetaAdsFake.handle(&request(query), &ctx).body).unwrap()
        };
        let first = body("");
        // base64 of the positions 0 and 1.
        assert_eq!(
            first["paging"]["cursors"],
            json!({"before": "MA==", "after": "MQ=="})
        );
        assert!(
            first["paging"]["next"]
                .as_str()
                .unwrap()
                .ends_with("after=MQ%3D%3D")
        );
        assert_eq!(body("&after=MQ==")["paging"]["cursors"]["before"], "Mg==");
        assert_eq!(body("&after=%25%25%25")["error"]["code"], 100);
        let _ = NoTokens;
    }

    #[test]
    fn data_is_deterministic_and_sorted() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap_or_default();
        let since = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap_or_default();
        let a = data::rows("42", since, today, today);
        let b = data::rows("42", since, today, today);
        assert_eq!(a, b);
        assert!(a.len() > 100, "{}", a.len());
        let keys: Vec<(String, String)> = a
            .iter()
            .map(|r| (r["date_start"].to_string(), r["campaign_id"].to_string()))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }
}
