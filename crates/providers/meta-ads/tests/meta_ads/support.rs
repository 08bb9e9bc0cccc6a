//! Shared fixtures: a pinned clock, a context pointed at a mock server under the
//! sandbox-style `/meta-ads` prefix, connections, and insights rows in the Graph
//! API's shape.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use junction_core::{
    Adapter, AdapterError, Connection, Context, FixedClock, IntegrationId, Page, ReadRequest,
    WorkspaceId,
};
use junction_meta_ads::MetaAds;
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::MockServer;

/// The access token the tests present.
pub const TOKEN: &str = "EAAGtestLongLivedToken";

/// The ad account the tests read.
pub const ACCOUNT: &str = "1234567890";

/// Where the adapter must send the insights request under the prefix.
pub const INSIGHTS_PATH: &str = "/meta-ads/v25.0/act_1234567890/insights";

/// Where the adapter must read the account under the prefix.
pub const ACCOUNT_PATH: &str = "/meta-ads/v25.0/act_1234567890";

/// The tests' "now": 2026-03-31 12:00 UTC.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 31, 12, 0, 0).unwrap()
}

/// A context whose base URL is the mock server under `/meta-ads`.
pub fn context(server: &MockServer) -> Context {
    Context::new(reqwest::Client::new())
        .with_base_url(format!("{}/meta-ads", server.uri()).parse().unwrap())
        .with_clock(Arc::new(FixedClock(now())))
}

/// A connection to `act_` + [`ACCOUNT`] (given with the prefix, as users paste it).
pub fn connection() -> Connection {
    connection_with(json!({"ad_account_id": format!("act_{ACCOUNT}"), "lookback_days": 30}))
}

/// A connection with the given config and [`TOKEN`].
pub fn connection_with(config: Value) -> Connection {
    Connection {
        workspace_id: WorkspaceId::new(),
        integration_id: IntegrationId::new(),
        config: config.as_object().cloned().unwrap(),
        secrets: Default::default(),
        access_token: Some(SecretString::from(TOKEN)),
        token_expires_at: None,
    }
}

/// An `insights` read request.
pub fn read_request(cursor: Option<Value>, page_size: Option<u32>) -> ReadRequest {
    ReadRequest {
        stream: "insights".into(),
        cursor,
        page_size,
    }
}

/// Reads one page.
pub async fn read(server: &MockServer, cursor: Option<Value>) -> Result<Page, AdapterError> {
    MetaAds
        .read(
            &context(server),
            &connection(),
            &read_request(cursor, Some(2)),
        )
        .await
}

/// An insights row as the Graph API sends it: every number a string, actions as
/// `AdsActionStats` lists.
pub fn row(campaign: &str, date: &str, spend: &str, purchases: &str, value: &str) -> Value {
    json!({
        "campaign_id": campaign,
        "campaign_name": format!("Campaign {campaign}"),
        "account_id": ACCOUNT,
        "account_currency": "EUR",
        "date_start": date,
        "date_stop": date,
        "spend": spend,
        "impressions": "12000",
        "clicks": "240",
        "ctr": "2",
        "cpc": "0.5",
        "actions": [
            {"action_type": "link_click", "value": "240"},
            {"action_type": "offsite_conversion.fb_pixel_purchase", "value": purchases},
            {"action_type": "omni_purchase", "value": purchases}
        ],
        "action_values": [
            {"action_type": "offsite_conversion.fb_pixel_purchase", "value": value},
            {"action_type": "omni_purchase", "value": value}
        ]
    })
}

/// The value of one KPI point of a page.
pub fn kpi(page: &Page, metric: &str, campaign: &str, date: &str) -> Option<f64> {
    page.kpis
        .iter()
        .find(|p| {
            p.metric == metric
                && p.date.to_string() == date
                && p.dimensions.get("campaign_id").map(String::as_str) == Some(campaign)
        })
        .map(|p| p.value)
}
