//! Kit v4's JSON shapes, as the API reference documents them: the account, list
//! pagination, growth stats, broadcast stats and custom fields. List items are kept
//! as raw JSON (they become records verbatim); only what the adapter reads is typed.

use serde::{Deserialize, Serialize};

/// What every list answer must carry. The toolkit's walker reads the cursor from the
/// body; this shape refuses an answer whose `pagination` is missing or of another type
/// (a flaky proxy or a changed API) instead of reading it as the end of the list.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Paginated {
    #[serde(rename = "pagination")]
    _pagination: Pagination,
}

#[derive(Debug, Clone, Deserialize)]
struct Pagination {
    #[serde(rename = "has_next_page")]
    _has_next_page: bool,
    /// Null on an empty page.
    #[serde(default, rename = "end_cursor")]
    _end_cursor: Option<String>,
}

/// `GET /v4/account`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AccountResponse {
    pub account: Account,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Account {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub plan_type: Option<String>,
    #[serde(default)]
    pub primary_email_address: Option<String>,
    #[serde(default)]
    pub timezone: Option<Timezone>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Timezone {
    pub name: String,
}

/// `GET /v4/account/growth_stats`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GrowthStatsResponse {
    pub stats: GrowthStats,
}

/// Kit's growth over a period, counted in the account's sending time zone; the
/// `subscriber_growth` records are these fields and the day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct GrowthStats {
    pub cancellations: u64,
    pub net_new_subscribers: i64,
    pub new_subscribers: u64,
    /// Subscribers at the end of the period.
    pub subscribers: u64,
    pub starting: String,
    pub ending: String,
}

/// `GET /v4/broadcasts/{id}/stats` (the record keeps the raw `stats`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BroadcastStatsResponse {
    pub broadcast: BroadcastStatsOf,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BroadcastStatsOf {
    pub id: i64,
    pub stats: BroadcastStats,
}

/// The numbers of a broadcast's stats the KPIs come from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct BroadcastStats {
    pub recipients: u64,
    pub open_rate: f64,
    pub emails_opened: u64,
    pub click_rate: f64,
    #[serde(default)]
    pub unsubscribe_rate: Option<f64>,
    #[serde(default)]
    pub unsubscribes: Option<u64>,
    #[serde(default)]
    pub total_clicks: Option<u64>,
}

/// One page of `GET /v4/custom_fields`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CustomFieldsPage {
    pub custom_fields: Vec<CustomField>,
    #[serde(rename = "pagination")]
    _pagination: Pagination,
}

/// A custom field; only its key matters here (`fields` are keyed by it).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CustomField {
    pub key: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documented_examples_parse() {
        let account: AccountResponse = serde_json::from_value(json!({
            "user": {"email": "test@kit.dev", "id": 27},
            "account": {
                "id": 27, "name": "Kit Greetings", "plan_type": "creator",
                "primary_email_address": "test@kit.dev", "created_at": "2023-02-17T11:43:55Z",
                "timezone": {"name": "America/New_York", "friendly_name": "Eastern Time (US & Canada)", "utc_offset": "-05:00"},
                "sending_addresses": []
            }
        }))
        .unwrap();
        assert_eq!(account.account.name, "Kit Greetings");
        let growth: GrowthStatsResponse = serde_json::from_value(json!({
            "stats": {"cancellations": 0, "net_new_subscribers": 3, "new_subscribers": 3, "subscribers": 3,
                      "starting": "2023-02-10T00:00:00-05:00", "ending": "2023-02-24T23:59:59-05:00"}
        }))
        .unwrap();
        assert_eq!(growth.stats.net_new_subscribers, 3);
        let page: Paginated = serde_json::from_value(json!({"tags": [], "pagination": {
            "has_previous_page": false, "has_next_page": false,
            "start_cursor": "WzEwXQ==", "end_cursor": "WzEwXQ==", "per_page": 500
        }}))
        .unwrap();
        assert!(!page._pagination._has_next_page);
        for bad in [
            json!({"tags": []}),
            json!({"pagination": {"has_next_page": "no"}}),
        ] {
            assert!(serde_json::from_value::<Paginated>(bad).is_err());
        }
        let stats: BroadcastStats = serde_json::from_value(json!({
            "recipients": 0, "open_rate": 0.0, "emails_opened": 0, "click_rate": 0.0,
            "unsubscribe_rate": 0.0, "unsubscribes": 0, "total_clicks": 0, "show_total_clicks": false,
            "status": "draft", "progress": 0.0, "open_tracking_disabled": false, "click_tracking_disabled": false
        }))
        .unwrap();
        assert_eq!(stats.total_clicks, Some(0));
    }
}
