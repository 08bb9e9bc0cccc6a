//! The `insights` stream: connection settings, the sync window kept in the cursor,
//! the insights request, and the mapping of insights rows (numbers as strings) to
//! records and KPI points.
//!
//! Purchases: Meta reports one purchase under several overlapping action types
//! (`omni_purchase` = website + app + offline + on-Meta, deduplicated;
//! `purchase`; `offsite_conversion.fb_pixel_purchase` = the pixel's share). Summing
//! them would count a purchase two or three times, so exactly one is taken, in this
//! order of preference: `omni_purchase`, `purchase`,
//! `offsite_conversion.fb_pixel_purchase`. The same type is used for the purchase
//! value (`action_values`) and for `purchase_roas`. ROAS is Meta's `purchase_roas`
//! when the row has it, else purchase value / spend, and no point at all when the
//! spend is zero.

use chrono::NaiveDate;
use junction_core::{AdapterError, Connection, KpiPoint, Record};
use junction_toolkit::{
    CursorAt, More, OnStall, PageSize, PageToken, Paging, Style,
    cursor::{WindowCursor, WindowRead},
    data::{self, Fields},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::spec::{AD_ACCOUNT, INSIGHTS, LOOKBACK, RESTATEMENT_DAYS, spec};

/// The fields every insights request asks for.
pub const INSIGHTS_FIELDS: &str = "campaign_id,campaign_name,account_id,account_currency,\
date_start,date_stop,spend,impressions,clicks,ctr,cpc,actions,action_values,purchase_roas";

/// The purchase action types, most preferred first (see the module docs).
pub const PURCHASE_ACTION_TYPES: [&str; 3] = [
    "omni_purchase",
    "purchase",
    "offsite_conversion.fb_pixel_purchase",
];

/// How insights pages: Meta's `paging.cursors.after`, with `paging.next` only while
/// more follow. A last page may repeat its `after`: that ends the window.
pub const PAGING: Paging = Paging {
    style: Style::Cursor {
        param: "after",
        at: CursorAt::Body("/paging/cursors/after"),
        more: More::Present("/paging/next"),
    },
    items: "/data",
    size_param: "limit",
    // Meta's insights pages get slow beyond 500 rows.
    size: PageSize {
        default: 100,
        max: 500,
    },
    on_stall: OnStall::End,
};

/// The dimension KPI points are broken down by.
pub const CAMPAIGN_DIMENSION: &str = "campaign_id";

/// A connection's settings, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    /// The numeric account id, without `act_`.
    pub account_id: String,
    pub lookback_days: u32,
}

impl Settings {
    pub(crate) fn from_connection(conn: &Connection) -> Result<Self, AdapterError> {
        // The pattern admits `act_` and digits only: what is left are the digits.
        let id = AD_ACCOUNT.require(conn)?;
        Ok(Self {
            account_id: id.strip_prefix("act_").unwrap_or(&id).to_owned(),
            lookback_days: LOOKBACK.read_u32(conn)?,
        })
    }

    /// The Graph node of the account: `act_<id>`.
    pub(crate) fn node(&self) -> String {
        format!("act_{}", self.account_id)
    }
}

/// The stored cursor of `insights`: the window being paged through and Meta's
/// `after` cursor, or, between syncs, only the first day of the next window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    pub since: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

impl WindowCursor for Cursor {
    fn window(&self) -> (NaiveDate, Option<NaiveDate>, PageToken) {
        let page = PageToken::from_cursor(self.after.clone());
        (self.since, self.until, page)
    }

    fn at(since: NaiveDate, until: Option<NaiveDate>, page: PageToken) -> Self {
        let after = page.into_cursor();
        Self {
            since,
            until,
            after,
        }
    }
}

/// The query of the insights request for a read.
pub(crate) fn query(read: &WindowRead, page_size: u32) -> Vec<(&'static str, String)> {
    let time_range = serde_json::json!({
        "since": read.days.start.to_string(),
        "until": read.days.end.to_string(),
    });
    let mut query = vec![
        ("level", "campaign".to_owned()),
        ("time_increment", "1".to_owned()),
        ("time_range", time_range.to_string()),
        ("fields", INSIGHTS_FIELDS.to_owned()),
    ];
    query.extend(PAGING.query(&read.page, page_size));
    query
}

/// The cursor after a read whose next page is `next`: that page while Meta has one,
/// else the start of the next sync's window, [`RESTATEMENT_DAYS`] back from the last
/// day read (Meta restates that much), never before the window's start.
pub(crate) fn advance(read: &WindowRead, next: Option<PageToken>) -> (Cursor, bool) {
    let next_start = read.days.reread_from(RESTATEMENT_DAYS).max(read.days.start);
    read.advance(next, next_start)
}

/// One page of `GET /act_{id}/insights`.
#[derive(Debug, Deserialize)]
pub(crate) struct InsightsPage {
    #[serde(default)]
    pub data: Vec<Value>,
}

/// The numbers of one insights row.
#[derive(Debug, Clone, PartialEq)]
pub struct RowMetrics {
    pub campaign_id: String,
    pub date: NaiveDate,
    pub spend: f64,
    pub impressions: f64,
    pub clicks: f64,
    pub ctr: Option<f64>,
    pub cpc: Option<f64>,
    pub purchases: f64,
    pub purchase_value: f64,
    pub roas: Option<f64>,
    /// The ad account's currency (`account_currency`), which every amount is in.
    pub currency: Option<String>,
}

impl RowMetrics {
    /// Reads one row. Meta sends numbers as strings (`"spend": "12.34"`); one that
    /// does not parse is an error naming the field, never a panic or a silent zero.
    pub fn parse(row: &Value) -> Result<Self, AdapterError> {
        // The value is never quoted: the error reaches dashboards, and nothing it
        // says needs more than the field's name.
        let row = Fields::new(row, "Meta sent an insights row");
        let campaign_id = row.text("campaign_id")?;
        let date = row.date("date_start", "%Y-%m-%d")?;
        let spend = row.number("spend")?.unwrap_or(0.0);
        let impressions = row.number("impressions")?.unwrap_or(0.0);
        let clicks = row.number("clicks")?.unwrap_or(0.0);
        let purchase_value = action_value(&row, "action_values")?.unwrap_or(0.0);
        Ok(Self {
            ctr: row
                .number("ctr")?
                .or((impressions > 0.0).then(|| clicks / impressions * 100.0)),
            cpc: row
                .number("cpc")?
                .or((clicks > 0.0).then(|| spend / clicks)),
            purchases: action_value(&row, "actions")?.unwrap_or(0.0),
            roas: action_value(&row, "purchase_roas")?
                .or((spend > 0.0).then(|| purchase_value / spend)),
            purchase_value,
            currency: row
                .get("account_currency")
                .and_then(Value::as_str)
                .map(str::to_owned),
            campaign_id,
            date,
            spend,
            impressions,
            clicks,
        })
    }

    /// The record's id: `{campaign_id}:{date}`.
    pub fn external_id(&self) -> String {
        format!("{}:{}", self.campaign_id, self.date)
    }

    /// The day's KPI points of this campaign (day totals: they upsert), as the
    /// stream's spec declares them (`streams.json`).
    pub fn kpis(&self) -> Vec<KpiPoint> {
        let campaign = [(CAMPAIGN_DIMENSION.to_owned(), self.campaign_id.clone())].into();
        let declared = spec().stream(INSIGHTS).map(|s| &s.metrics[..]);
        let values = [
            ("spend", Some(self.spend)),
            ("impressions", Some(self.impressions)),
            ("clicks", Some(self.clicks)),
            ("ctr", self.ctr),
            ("cpc", self.cpc),
            ("purchases", Some(self.purchases)),
            ("purchase_value", Some(self.purchase_value)),
            ("roas", self.roas),
        ];
        let (date, currency) = (self.date, self.currency.as_deref());
        data::metric_points(
            date,
            &campaign,
            currency,
            declared.unwrap_or_default(),
            values,
        )
    }
}

/// Maps a page's rows to records (each row as Meta sent it) and KPI points.
pub(crate) fn map_rows(rows: &[Value]) -> Result<(Vec<Record>, Vec<KpiPoint>), AdapterError> {
    data::records_and_points(rows, |row| {
        let metrics = RowMetrics::parse(row)?;
        let record = Record {
            external_id: metrics.external_id(),
            data: row.clone(),
            modified_at: None,
        };
        Ok((record, metrics.kpis()))
    })
}

/// The value of the preferred purchase action type in a list of `AdsActionStats`
/// (`[{"action_type", "value"}]`).
fn action_value(row: &Fields<'_>, field: &str) -> Result<Option<f64>, AdapterError> {
    let Some(items) = row.list(field)? else {
        return Ok(None);
    };
    let typed = |wanted: &str| {
        items
            .iter()
            .find(|item| item.get("action_type").and_then(Value::as_str) == Some(wanted))
    };
    let Some((wanted, item)) = PURCHASE_ACTION_TYPES
        .iter()
        .find_map(|wanted| Some((wanted, typed(wanted)?)))
    else {
        return Ok(None);
    };
    item.get("value")
        .and_then(data::number)
        .map(Some)
        .ok_or_else(|| row.malformed(&format!("{field}[{wanted}].value"), "is not a number"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn account_ids_are_normalized() {
        let id = |raw: &str| {
            let mut conn = junction_core::Connection {
                workspace_id: junction_core::WorkspaceId::new(),
                integration_id: junction_core::IntegrationId::new(),
                config: serde_json::Map::new(),
                secrets: Default::default(),
                access_token: None,
                token_expires_at: None,
            };
            conn.config.insert("ad_account_id".into(), json!(raw));
            Settings::from_connection(&conn).map(|s| s.account_id)
        };
        assert_eq!(id("act_123").ok().as_deref(), Some("123"));
        assert_eq!(id(" 123 ").ok().as_deref(), Some("123"));
        assert!(id("act_").is_err());
        assert!(id("act_12x").is_err());
    }

    #[test]
    fn purchases_are_not_double_counted_and_roas_prefers_meta() {
        let row = json!({
            "campaign_id": "1", "date_start": "2026-03-01", "spend": "50.00",
            "impressions": "1000", "clicks": "20",
            "actions": [
                {"action_type": "offsite_conversion.fb_pixel_purchase", "value": "3"},
                {"action_type": "purchase", "value": "3"},
                {"action_type": "omni_purchase", "value": "4"},
                {"action_type": "link_click", "value": "20"}
            ],
            "action_values": [
                {"action_type": "purchase", "value": "150.00"},
                {"action_type": "omni_purchase", "value": "200.00"}
            ],
            "purchase_roas": [{"action_type": "omni_purchase", "value": "3.9"}]
        });
        let m = RowMetrics::parse(&row).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.purchases, 4.0);
        assert_eq!(m.purchase_value, 200.0);
        assert_eq!(m.roas, Some(3.9));
        assert_eq!(m.ctr, Some(2.0));
        assert_eq!(m.cpc, Some(2.5));
        assert_eq!(m.external_id(), "1:2026-03-01");
    }

    #[test]
    fn money_carries_the_account_currency() {
        let row = json!({"campaign_id": "1", "date_start": "2026-03-01", "spend": "10",
                         "impressions": "100", "clicks": "4", "account_currency": "eur"});
        let m = RowMetrics::parse(&row).unwrap_or_else(|e| panic!("{e}"));
        let currency = |metric: &str| {
            m.kpis()
                .into_iter()
                .find(|k| k.metric == metric)
                .and_then(|k| k.dimensions.get("currency").cloned())
        };
        assert_eq!(currency("spend").as_deref(), Some("EUR"));
        assert_eq!(currency("cpc").as_deref(), Some("EUR"));
        assert_eq!(currency("clicks"), None);
        assert_eq!(currency("ctr"), None);
        assert_eq!(crate::spec::spec().metric_problems(), Vec::<String>::new());
    }

    #[test]
    fn roas_without_spend_has_no_point() {
        let row = json!({"campaign_id": "1", "date_start": "2026-03-01", "spend": "0",
                         "impressions": "0", "clicks": "0"});
        let m = RowMetrics::parse(&row).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((m.roas, m.ctr, m.cpc), (None, None, None));
        let metrics: Vec<_> = m.kpis().into_iter().map(|k| k.metric).collect();
        assert_eq!(
            metrics,
            [
                "spend",
                "impressions",
                "clicks",
                "purchases",
                "purchase_value"
            ]
        );
    }

    #[test]
    fn bad_numbers_name_the_field() {
        let row = json!({"campaign_id": "1", "date_start": "2026-03-01", "spend": "12,5"});
        let err = RowMetrics::parse(&row).unwrap_err();
        assert!(err.to_string().contains("`spend`"), "{err}");
        let row = json!({"campaign_id": "1", "date_start": "2026-03-01",
                         "actions": [{"action_type": "purchase", "value": "NaN"}]});
        let err = RowMetrics::parse(&row).unwrap_err();
        assert!(err.to_string().contains("actions[purchase].value"), "{err}");
    }

    #[test]
    fn windows_follow_the_cursor() {
        let today = date("2026-03-31");
        let plan = |stored: Option<&Value>, today| {
            WindowRead::plan::<Cursor>(stored, "insights", today, 90)
        };
        let first = plan(None, today).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (first.days.start, first.days.end),
            (date("2025-12-31"), today)
        );
        let page = json!({"data": [], "paging": {
            "cursors": {"before": "MAZDZD", "after": "NDMZD"},
            "next": "https://graph.facebook.com/v25.0/act_1/insights?after=NDMZD"
        }});
        let none = http::HeaderMap::new();
        let next = PAGING
            .next(&first.page, 100, &none, &page)
            .unwrap_or_default();
        let (cursor, more) = advance(&first, next);
        assert!(more);
        assert_eq!(cursor.after.as_deref(), Some("NDMZD"));
        let value = serde_json::to_value(&cursor).unwrap_or_default();
        let second = plan(Some(&value), today).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(second.page, PageToken::Cursor("NDMZD".into()));
        // The last page has `after` but no `next`: the window is done, and the next
        // sync re-reads the restatement window.
        let last = json!({"data": [], "paging": {"cursors": {"after": "X"}}});
        let next = PAGING
            .next(&second.page, 100, &none, &last)
            .unwrap_or_default();
        let (cursor, more) = advance(&second, next);
        assert!(!more);
        assert_eq!(cursor.since, date("2026-03-03"));
        assert_eq!(cursor.until, None);
        let value = serde_json::to_value(&cursor).unwrap_or_default();
        let later = plan(Some(&value), date("2026-04-02")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (later.days.start, later.days.end),
            (date("2026-03-03"), date("2026-04-02"))
        );
        assert!(plan(Some(&json!({"x": 1})), today).is_err());
    }
}
