//! The static description of the Google Analytics 4 provider: Google's OAuth 2.0
//! (the toolkit's) with the Analytics scope, config fields (the property, the
//! breakdown, the Measurement Protocol's measurement ID and sealed API secret, the
//! custom report), the streams (data: `streams.json`, their metrics' kinds and
//! units) with their report tables, the actions (data: `actions.json`), and the
//! request budget.

use std::{sync::OnceLock, time::Duration};

use junction_core::spec::{AuthSpec, Category, ProviderSpec, RateBudget};
use junction_toolkit::{
    IntSetting, ListSetting, StringSetting, described, oauth,
    report::{Kpi, Table},
};

/// The provider id (also the sandbox mount point of the fake).
pub const PROVIDER_ID: &str = "google-analytics";

/// The GA4 Data API host; `ctx.url` replaces it for the sandbox and tests.
pub const DEFAULT_BASE: &str = "https://analyticsdata.googleapis.com";

/// Report rows per day (and per configured dimension).
pub const DAILY_REPORT: &str = "daily_report";

/// Active users and events of the last 30 minutes (`runRealtimeReport`).
pub const REALTIME: &str = "realtime";

/// Goals: key events per day by event name.
pub const KEY_EVENTS: &str = "key_events";

/// E-commerce items per day: item revenue and items purchased by item.
pub const ECOMMERCE_ITEMS: &str = "ecommerce_items";

/// E-commerce purchases per day: transactions and purchase revenue.
pub const ECOMMERCE_PURCHASES: &str = "ecommerce_purchases";

/// The connection's custom report (records only).
pub const CUSTOM_REPORT: &str = "custom_report";

/// The action sending events through the Measurement Protocol.
pub const SEND_EVENTS: &str = "send_events";

/// The ad-hoc report action.
pub const RUN_REPORT: &str = "run_report";

/// The read-only Analytics scope, enough for `runReport`.
pub const READONLY_SCOPE: &str = "https://www.googleapis.com/auth/analytics.readonly";

/// The full Analytics scope; the Data API accepts it as well as the read-only one.
pub const FULL_SCOPE: &str = "https://www.googleapis.com/auth/analytics";

/// The `dimensions` config value: comma-separated GA4 API dimension names, each a
/// plain name (`country`) or a custom one (`customEvent:plan`); empty means none.
pub const DIMENSIONS_PATTERN: &str = r"(\s*[A-Za-z][A-Za-z0-9_]*(:[A-Za-z0-9_]+)?\s*(,\s*[A-Za-z][A-Za-z0-9_]*(:[A-Za-z0-9_]+)?\s*)*)?";

/// How far back a first sync reads when `lookback_days` is not set.
pub const DEFAULT_LOOKBACK_DAYS: u32 = 30;

/// The longest allowed `lookback_days` (ten years; GA4 has no data before 2015).
pub const MAX_LOOKBACK_DAYS: u32 = 3650;

/// The property a connection reads (spec field and parser).
pub(crate) const PROPERTY: StringSetting = StringSetting::new(
    "property_id",
    "Property ID",
    "The numeric GA4 property ID (not the `G-...` measurement ID). In Google \
     Analytics open Admin → Property settings → Property details; the ID is shown \
     at the top right, e.g. 123456789.",
)
.pattern("[0-9]+")
.mismatch("must be the numeric GA4 property ID (Admin → Property settings), not a measurement ID")
.with_options();

/// GA4 allows 9 dimensions per request; `date` takes one.
const MAX_EXTRA_DIMENSIONS: usize = 8;

/// The breakdown dimensions beyond the date, each listed once (`date` is always
/// there).
pub(crate) const DIMENSIONS: ListSetting = ListSetting::new(
    "dimensions",
    "Extra dimensions",
    "Optional comma-separated GA4 dimension names to break the daily report down \
     by, beyond the date, e.g. `country` or `country, sessionDefaultChannelGroup` \
     (at most 8).",
)
.pattern(DIMENSIONS_PATTERN)
.mismatch("each dimension must be a GA4 API name such as `country` or `customEvent:plan`")
.reserved(&[(
    REPORT.day,
    "`date` is always included; list only the extra dimensions",
)])
.at_most(MAX_EXTRA_DIMENSIONS, "dimensions besides the date");

/// The web data stream events are sent to (Measurement Protocol).
pub(crate) const MEASUREMENT_ID: StringSetting = StringSetting::new(
    "measurement_id",
    "Measurement ID",
    "Optional, for sending events (`send_events`): the `G-...` measurement ID of the \
     web data stream (Admin → Data streams → the stream).",
)
.pattern("G-[A-Z0-9]+")
.mismatch("must be a web stream's measurement ID such as `G-ABC123XYZ`")
.optional();

/// The Measurement Protocol API secret: sealed like a credential, never returned.
pub(crate) const API_SECRET: StringSetting = StringSetting::new(
    "api_secret",
    "Measurement Protocol API secret",
    "Optional, for sending events (`send_events`): a secret created under Admin → Data \
     streams → the stream → Measurement Protocol API secrets. Stored sealed.",
)
.pattern("[A-Za-z0-9_-]{8,128}")
.mismatch("must be a Measurement Protocol API secret (letters, digits, `-` and `_`)")
.secret()
.optional();

/// The custom report's dimensions (besides the date), custom ones included.
pub(crate) const CUSTOM_DIMENSIONS: ListSetting = ListSetting::new(
    "custom_dimensions",
    "Custom report dimensions",
    "Optional comma-separated GA4 dimensions of the `custom_report` stream besides the \
     date, custom definitions included, e.g. `country, customUser:membership` (at most 8; \
     checked against the property's metadata).",
)
.pattern(DIMENSIONS_PATTERN)
.mismatch("each dimension must be a GA4 API name such as `country` or `customEvent:plan`")
.reserved(&[(
    REPORT.day,
    "`date` is always included; list only the extra dimensions",
)])
.at_most(MAX_EXTRA_DIMENSIONS, "dimensions besides the date");

/// The custom report's metrics; none means no custom report.
pub(crate) const CUSTOM_METRICS: ListSetting = ListSetting::new(
    "custom_metrics",
    "Custom report metrics",
    "Comma-separated GA4 metrics of the `custom_report` stream, custom ones included, \
     e.g. `activeUsers, customEvent:levels_unlocked` (at most 10; checked against the \
     property's metadata). Empty: no custom report.",
)
.pattern(DIMENSIONS_PATTERN)
.mismatch("each metric must be a GA4 API name such as `sessions` or `customEvent:levels`")
.at_most(MAX_METRICS, "metrics");

/// The custom report's audience segment: a `FilterExpression` as JSON.
pub(crate) const CUSTOM_FILTER: StringSetting = StringSetting::new(
    "custom_filter",
    "Custom report dimension filter",
    "Optional: a GA4 FilterExpression as JSON restricting the `custom_report` stream to \
     an audience segment, e.g. `{\"filter\": {\"fieldName\": \"customUser:membership\", \
     \"stringFilter\": {\"value\": \"premium\"}}}` (andGroup, orGroup, notExpression, \
     filter; see docs/providers/google-analytics.md).",
)
.optional();

/// GA4 allows 10 metrics per request.
const MAX_METRICS: usize = 10;

/// How far back the first sync reads.
pub(crate) const LOOKBACK: IntSetting = IntSetting::lookback_days(
    DEFAULT_LOOKBACK_DAYS,
    MAX_LOOKBACK_DAYS,
    "How many days back the first sync reads (default 30, at most 3650).",
);

/// The report `daily_report` requests: by `date` (written `YYYYMMDD`), then the
/// connection's dimensions; its metrics by GA4 API name, each stored as the KPI of
/// its snake_case name (declared in `streams.json`). `keyEvents` is what GA4 called
/// `conversions` until 2024.
pub const REPORT: Table<'static> = Table {
    name: "GA4 report",
    day: "date",
    day_format: "%Y%m%d",
    breakdown: &[],
    kpis: &[
        Kpi::new("sessions", "sessions"),
        Kpi::new("totalUsers", "total_users"),
        Kpi::new("newUsers", "new_users"),
        Kpi::new("keyEvents", "key_events"),
        Kpi::new("engagementRate", "engagement_rate"),
        Kpi::new("totalRevenue", "total_revenue"),
        Kpi::new("engagedSessions", "engaged_sessions"),
    ],
    declared: &[],
    currency: None,
};

/// The report of `key_events`: by date and event name.
pub const KEY_EVENTS_REPORT: Table<'static> = Table {
    name: "GA4 key events report",
    kpis: &[Kpi::new("keyEvents", "key_event_count")],
    ..REPORT
};

/// The report of `ecommerce_items`: by date, item ID and item name.
pub const ITEMS_REPORT: Table<'static> = Table {
    name: "GA4 items report",
    kpis: &[
        Kpi::new("itemRevenue", "item_revenue"),
        Kpi::new("itemsPurchased", "items_purchased"),
    ],
    ..REPORT
};

/// The report of `ecommerce_purchases`: by date.
pub const PURCHASES_REPORT: Table<'static> = Table {
    name: "GA4 purchases report",
    kpis: &[
        Kpi::new("transactions", "transactions"),
        Kpi::new("purchaseRevenue", "purchase_revenue"),
    ],
    ..REPORT
};

/// The breakdowns of the fixed reports, after the date.
pub const KEY_EVENTS_BREAKDOWN: &[&str] = &["eventName"];
pub const ITEMS_BREAKDOWN: &[&str] = &["itemId", "itemName"];

/// The realtime report: its dimensions and metrics (KPI `realtime_` + snake case).
pub const REALTIME_DIMENSIONS: &[&str] = &["country", "deviceCategory", "unifiedScreenName"];
pub const REALTIME_KPIS: &[Kpi] = &[
    Kpi::new("activeUsers", "realtime_active_users"),
    Kpi::new("eventCount", "realtime_event_count"),
];

/// Requests per hour of the shared budget. GA4 meters tokens, not requests: a
/// standard property gets 40,000 tokens per hour and 200,000 per day, and a report
/// like `daily_report` costs about 10 tokens, so 4,000 requests an hour is what one
/// property can sustain. The quotas are per property while this budget is shared by
/// every connection, which makes it conservative; the tokens actually left come back
/// in each response's `propertyQuota` and exhaustion is reported as `QuotaExhausted`.
const REQUESTS_PER_HOUR: u32 = 4_000;

/// GA4 serves at most 10 concurrent requests per standard property.
const CONCURRENT_REQUESTS: u32 = 10;

/// The provider's spec, built once.
pub(crate) fn spec() -> &'static ProviderSpec {
    static SPEC: OnceLock<ProviderSpec> = OnceLock::new();
    SPEC.get_or_init(build)
}

fn build() -> ProviderSpec {
    ProviderSpec {
        id: PROVIDER_ID,
        name: "Google Analytics 4",
        category: Category::Analytics,
        // Google's OAuth 2.0: offline access for a refresh token, which Google keeps.
        auth: AuthSpec::OAuth2(oauth::google(vec![READONLY_SCOPE])),
        // `api_secret` is a secret config field: sealed in the vault with the
        // credentials, handed to the adapter in `conn.secrets`, never returned.
        config: vec![
            PROPERTY.field(),
            DIMENSIONS.field(),
            LOOKBACK.field(),
            MEASUREMENT_ID.field(),
            API_SECRET.field(),
            CUSTOM_DIMENSIONS.field(),
            CUSTOM_METRICS.field(),
            CUSTOM_FILTER.field(),
        ],
        // `dimensions` in the primary key stands for the values of the configured
        // dimensions, in order.
        streams: described::streams(include_str!("streams.json"), PROVIDER_ID),
        actions: described::actions(include_str!("actions.json"), PROVIDER_ID),
        webhook: None,
        rate_limit: RateBudget {
            requests: REQUESTS_PER_HOUR,
            per: Duration::from_secs(60 * 60),
            concurrency: Some(CONCURRENT_REQUESTS),
        },
        docs_url: "https://developers.google.com/analytics/devguides/reporting/data/v1",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn kpi_names_are_the_snake_case_metric_names() {
        use heck::ToSnakeCase;
        let converted: Vec<String> = REPORT.columns().map(|m| m.to_snake_case()).collect();
        let names: Vec<&str> = REPORT.metrics().collect();
        assert_eq!(converted, names);
        // streams.json parses and declares exactly the tables' KPIs, in their order.
        let declared = |stream: &str| -> Vec<&str> {
            let stream = spec().stream(stream).unwrap();
            stream.metrics.iter().map(|m| m.name).collect()
        };
        assert_eq!(declared(DAILY_REPORT), names);
        for (stream, table) in [
            (KEY_EVENTS, KEY_EVENTS_REPORT),
            (ECOMMERCE_ITEMS, ITEMS_REPORT),
            (ECOMMERCE_PURCHASES, PURCHASES_REPORT),
        ] {
            assert_eq!(declared(stream), table.metrics().collect::<Vec<_>>());
        }
        let realtime: Vec<&str> = REALTIME_KPIS.iter().map(|k| k.metric).collect();
        assert_eq!(declared(REALTIME), realtime);
        assert!(declared(CUSTOM_REPORT).is_empty());
        assert_eq!(spec().streams.len(), 6);
        assert_eq!(spec().metric_problems(), Vec::<String>::new());
        // Active users is a level, not a count that adds up.
        let active = spec().metric("realtime_active_users").unwrap();
        assert_eq!(active.kind, junction_core::MetricKind::Gauge);
        assert_eq!(
            spec().metric("item_revenue").unwrap().unit,
            junction_core::Unit::Money
        );
        assert_eq!(
            spec().stream(REALTIME).unwrap().default_schedule.as_secs(),
            300
        );
    }

    #[test]
    fn config_validation_accepts_good_settings() {
        for settings in [
            json!({"property_id": "123456789"}),
            json!({"property_id": "1", "dimensions": "country", "lookback_days": 90}),
            json!({"property_id": "1", "dimensions": "country, sessionDefaultChannelGroup"}),
            json!({"property_id": "1", "dimensions": "customEvent:plan_name", "lookback_days": "7"}),
            json!({"property_id": "1", "dimensions": ""}),
            json!({"property_id": "1", "measurement_id": "G-ABC123", "api_secret": "aBc-123_xyzXYZ0"}),
            json!({"property_id": "1", "custom_dimensions": "country, customUser:membership",
                   "custom_metrics": "activeUsers, customEvent:levels_unlocked",
                   "custom_filter": "{\"filter\": {\"fieldName\": \"country\", \"emptyFilter\": {}}}"}),
        ] {
            assert_eq!(
                spec().validate_fields(&values(settings.clone())),
                Ok(()),
                "{settings}"
            );
        }
    }

    #[test]
    fn config_validation_rejects_bad_settings() {
        let errors = spec()
            .validate_fields(&values(json!({
                "property_id": "G-ABC123",
                "dimensions": "country;city",
                "lookback_days": "a month"
            })))
            .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["property_id", "dimensions", "lookback_days"]);
        let errors = spec()
            .validate_fields(&values(json!({
                "property_id": "1",
                "measurement_id": "UA-1234-1",
                "api_secret": "has spaces in it",
                "custom_metrics": "sessions;users"
            })))
            .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["measurement_id", "api_secret", "custom_metrics"]);
        // The secret's value is never echoed.
        assert!(errors.iter().all(|e| !e.message.contains("spaces")));
        let secret = spec()
            .config
            .iter()
            .find(|f| f.name == "api_secret")
            .unwrap();
        assert!(secret.secret && !secret.required);
        let errors = spec().validate_fields(&values(json!({}))).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "property_id");
    }
}
