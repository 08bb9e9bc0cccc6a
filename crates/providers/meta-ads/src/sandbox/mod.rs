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

mod data;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::NaiveDate;
use junction_core::fake::{
    CatalogEntry, FakeContext, FakeRequest, FakeResponse, Fault, ProviderFake, TokenStatus,
};
use serde_json::{Map, Value, json};

use crate::{
    graph::{APP_USAGE_HEADER, BUC_USAGE_HEADER},
    spec::{ADS_MANAGEMENT_SCOPE, ADS_READ_SCOPE, GRAPH_VERSION, PROVIDER_ID},
};

/// The account id that stands for an account the token cannot reach.
pub const MISSING_ACCOUNT: &str = "0";

/// The ad account the sandbox's catalog connects (any other numeric id but
/// [`MISSING_ACCOUNT`] has the same campaigns).
pub const SANDBOX_AD_ACCOUNT: &str = "1234567890";

/// Rows per page when the request has no `limit` (Meta's default).
const DEFAULT_LIMIT: usize = 25;

/// The largest `limit` honoured.
const MAX_LIMIT: usize = 5_000;

/// The Meta Ads fake.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetaAdsFake;

impl ProviderFake for MetaAdsFake {
    fn provider_id(&self) -> &'static str {
        PROVIDER_ID
    }

    fn catalog(&self) -> CatalogEntry {
        CatalogEntry::default()
            .config("ad_account_id", SANDBOX_AD_ACCOUNT)
            .special_value(
                "ad_account_id",
                MISSING_ACCOUNT,
                "an account the token cannot reach: Graph error 100, subcode 33",
            )
    }

    fn handle(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse {
        if ctx.fault == Some(Fault::ServerError) {
            return graph_error(
                500,
                2,
                None,
                "An unexpected error has occurred. Please retry your request later.",
            )
            .with_transient();
        }
        if let Err(refusal) = authorize(request, ctx) {
            return refusal;
        }
        match ctx.fault {
            Some(Fault::RateLimited { retry_after_secs }) => {
                let minutes = retry_after_secs.div_ceil(60).max(1);
                let usage = json!({"1234567890": [{
                    "type": "ads_insights", "call_count": 100, "total_cputime": 38,
                    "total_time": 41, "estimated_time_to_regain_access": minutes,
                    "ads_api_access_tier": "standard_access"
                }]});
                return graph_error(
                    400,
                    80_000,
                    Some(2_446_079),
                    "There have been too many calls from this ad-account. Wait a bit and try \
                     again. For more info, please refer to \
                     https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
                )
                .response
                .with_header(BUC_USAGE_HEADER, &usage.to_string());
            }
            Some(Fault::QuotaExhausted) => {
                let usage = json!({"call_count": 100, "total_cputime": 12, "total_time": 20});
                return graph_error(400, 4, None, "(#4) Application request limit reached")
                    .response
                    .with_header(APP_USAGE_HEADER, &usage.to_string());
            }
            _ => {}
        }
        let path = request.path.trim_end_matches('/');
        let Some(node_path) = path.strip_prefix(&format!("/{GRAPH_VERSION}/")) else {
            return unknown_path(path);
        };
        let segments: Vec<&str> = node_path.split('/').collect();
        let response = match (request.method.as_str(), segments.as_slice()) {
            ("DELETE", &["me", "permissions"]) => {
                FakeResponse::json(200, &json!({"success": true}))
            }
            ("GET", &[node]) => match account_id(node) {
                Some(account) => ad_account(request, account),
                None => unknown_path(path),
            },
            ("GET", &[node, "insights"]) => match account_id(node) {
                Some(account) => insights(request, ctx, account),
                None => unknown_path(path),
            },
            _ => unknown_path(path),
        };
        if ctx.fault == Some(Fault::MalformedBody) && response.status == 200 {
            let cut = response.body.len() / 2;
            return FakeResponse {
                body: response.body[..cut].to_vec(),
                ..response
            };
        }
        response
    }
}

/// The digits of an `act_{id}` node.
fn account_id(node: &str) -> Option<&str> {
    node.strip_prefix("act_")
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
}

/// Checks the token the way the Graph API does (always HTTP 400 for OAuth errors).
fn authorize(request: &FakeRequest, ctx: &FakeContext<'_>) -> Result<(), FakeResponse> {
    let token = request
        .bearer()
        .map(str::to_owned)
        .or_else(|| request.query_param("access_token"))
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(graph_error(
            400,
            2500,
            None,
            "An active access token must be used to query information about the current user.",
        )
        .response);
    };
    let status = if ctx.fault == Some(Fault::ExpiredToken) {
        TokenStatus::Expired
    } else {
        ctx.tokens.check(PROVIDER_ID, &token)
    };
    match status {
        TokenStatus::Valid { scopes } => {
            if scopes
                .iter()
                .any(|s| s == ADS_READ_SCOPE || s == ADS_MANAGEMENT_SCOPE)
            {
                Ok(())
            } else {
                Err(graph_error(
                    400,
                    200,
                    None,
                    "(#200) Ad account owner has NOT grant ads_management or ads_read permission",
                )
                .response)
            }
        }
        TokenStatus::Expired => Err(graph_error(
            400,
            190,
            Some(463),
            "Error validating access token: Session has expired.",
        )
        .response),
        TokenStatus::Unknown => Err(graph_error(
            400,
            190,
            None,
            "Invalid OAuth access token - Cannot parse access token",
        )
        .response),
    }
}

/// `GET /act_{id}?fields=..`.
fn ad_account(request: &FakeRequest, account: &str) -> FakeResponse {
    if account == MISSING_ACCOUNT {
        return missing_account(account);
    }
    let all = json!({
        "account_id": account,
        "name": data::account_name(account),
        "account_status": 1,
        "currency": "USD",
        "timezone_name": "America/Los_Angeles",
    });
    let mut body = Map::new();
    body.insert("id".into(), json!(format!("act_{account}")));
    for field in requested_fields(request) {
        match all.get(&field) {
            Some(value) => {
                body.insert(field, value.clone());
            }
            None if field != "id" => {
                return graph_error(
                    400,
                    100,
                    None,
                    &format!("(#100) Tried accessing nonexisting field ({field}) on node type (AdAccount)"),
                )
                .response;
            }
            None => {}
        }
    }
    FakeResponse::json(200, &Value::Object(body))
}

/// `GET /act_{id}/insights`.
fn insights(request: &FakeRequest, ctx: &FakeContext<'_>, account: &str) -> FakeResponse {
    if account == MISSING_ACCOUNT {
        return missing_account(account);
    }
    let invalid = |message: &str| graph_error(400, 100, None, message).response;
    if request.query_param("level").as_deref() != Some("campaign") {
        return invalid("(#100) The fake serves level=campaign only");
    }
    if request.query_param("time_increment").as_deref() != Some("1") {
        return invalid("(#100) The fake serves time_increment=1 only");
    }
    let Some((since, until)) = request
        .query_param("time_range")
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|range| {
            let day = |key: &str| {
                range
                    .get(key)
                    .and_then(Value::as_str)
                    .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            };
            Some((day("since")?, day("until")?))
        })
    else {
        return invalid("(#100) param time_range must be a JSON object with since and until dates");
    };
    if since > until {
        return invalid("(#100) time_range: since must not be after until");
    }
    let limit = match request.query_param("limit") {
        None => DEFAULT_LIMIT,
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => limit,
            _ => return invalid("(#100) param limit must be a positive integer"),
        },
    };
    let start = match request.query_param("after") {
        None => 0,
        Some(after) => match decode_cursor(&after) {
            Some(last) => last + 1,
            None => return invalid("(#100) Invalid cursor"),
        },
    };
    let fields = requested_fields(request);
    let today = ctx.now.date_naive();
    let rows = data::rows(account, since, until, today);
    let page: Vec<Value> = rows
        .iter()
        .skip(start)
        .take(limit)
        .map(|row| only_fields(row, &fields))
        .collect();
    let mut body = json!({ "data": page });
    if !page.is_empty() {
        let last = start + page.len() - 1;
        let mut paging = json!({"cursors": {
            "before": encode_cursor(start), "after": encode_cursor(last)
        }});
        if last + 1 < rows.len() {
            paging["next"] = json!(next_url(request, account, &encode_cursor(last)));
        }
        body["paging"] = paging;
    }
    let usage = json!({ account: [{
        "type": "ads_insights", "call_count": 1, "total_cputime": 1, "total_time": 1,
        "estimated_time_to_regain_access": 0, "ads_api_access_tier": "standard_access"
    }]});
    FakeResponse::json(200, &body).with_header(BUC_USAGE_HEADER, &usage.to_string())
}

/// The `fields` query parameter, split.
fn requested_fields(request: &FakeRequest) -> Vec<String> {
    request
        .query_param("fields")
        .map(|fields| {
            fields
                .split(',')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// A row with only the requested fields (Meta always adds the dates).
fn only_fields(row: &Value, fields: &[String]) -> Value {
    let Some(object) = row.as_object() else {
        return row.clone();
    };
    let kept = object
        .iter()
        .filter(|(key, _)| {
            key.as_str() == "date_start" || key.as_str() == "date_stop" || fields.contains(key)
        })
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    Value::Object(kept)
}

/// Meta's cursors are opaque base64; the fake's hold the row index.
fn encode_cursor(index: usize) -> String {
    STANDARD.encode(index.to_string())
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let bytes = STANDARD.decode(cursor.trim()).ok()?;
    String::from_utf8(bytes).ok()?.parse().ok()
}

/// The `paging.next` URL: the same query with the new `after`, without the token
/// (the real one carries it; the adapter never follows it).
fn next_url(request: &FakeRequest, account: &str, after: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in request.query_pairs() {
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

fn missing_account(account: &str) -> FakeResponse {
    graph_error(
        400,
        100,
        Some(33),
        &format!(
            "Unsupported get request. Object with ID 'act_{account}' does not exist, cannot be \
             loaded due to missing permissions, or does not support this operation."
        ),
    )
    .response
}

fn unknown_path(path: &str) -> FakeResponse {
    graph_error(400, 2500, None, &format!("Unknown path components: {path}")).response
}

/// A Graph error under construction.
struct GraphErrorResponse {
    response: FakeResponse,
    body: Value,
}

impl GraphErrorResponse {
    /// Marks the error transient, as Meta does for its 5xx.
    fn with_transient(mut self) -> FakeResponse {
        self.body["error"]["is_transient"] = json!(true);
        FakeResponse {
            body: self.body.to_string().into_bytes(),
            ..self.response
        }
    }
}

/// The Graph error envelope.
fn graph_error(status: u16, code: i64, subcode: Option<i64>, message: &str) -> GraphErrorResponse {
    let mut error = json!({
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AsandboxTraceId0",
    });
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    let body = json!({ "error": error });
    let mut response = FakeResponse::json(status, &body);
    if code == 190 {
        // Meta names the token problem in a challenge on token errors.
        response = response.with_header(
            "www-authenticate",
            "OAuth \"Facebook Platform\" \"invalid_token\" \"Error validating access token\"",
        );
    }
    GraphErrorResponse { response, body }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        assert_eq!(decode_cursor(&encode_cursor(42)), Some(42));
        assert_eq!(decode_cursor("%%%"), None);
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
