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

use chrono::{Duration as Days, NaiveDate};
use junction_core::{AdapterError, Connection, KpiPoint, Record};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::spec::{DEFAULT_LOOKBACK_DAYS, MAX_LOOKBACK_DAYS, RESTATEMENT_DAYS};

/// The fields every insights request asks for.
pub const INSIGHTS_FIELDS: &str = "campaign_id,campaign_name,account_id,account_currency,\
date_start,date_stop,spend,impressions,clicks,ctr,cpc,actions,action_values,purchase_roas";

/// The purchase action types, most preferred first (see the module docs).
pub const PURCHASE_ACTION_TYPES: [&str; 3] = [
    "omni_purchase",
    "purchase",
    "offsite_conversion.fb_pixel_purchase",
];

/// Rows per page when the caller has no wish.
pub(crate) const DEFAULT_PAGE_SIZE: u32 = 100;

/// The most rows per page asked for (Meta's insights pages get slow beyond this).
pub(crate) const MAX_PAGE_SIZE: u32 = 500;

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
        let account_id = normalize_account_id(conn.config_str("ad_account_id")?)?;
        let lookback_days = match conn.config.get("lookback_days") {
            None | Some(Value::Null) => DEFAULT_LOOKBACK_DAYS,
            Some(value) => value
                .as_u64()
                .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
                .and_then(|days| u32::try_from(days).ok())
                .filter(|days| (1..=MAX_LOOKBACK_DAYS).contains(days))
                .ok_or_else(|| {
                    AdapterError::invalid_field(
                        "lookback_days",
                        format!("must be a whole number of days from 1 to {MAX_LOOKBACK_DAYS}"),
                    )
                })?,
        };
        Ok(Self {
            account_id,
            lookback_days,
        })
    }

    /// The Graph node of the account: `act_<id>`.
    pub(crate) fn node(&self) -> String {
        format!("act_{}", self.account_id)
    }
}

/// `act_123`, ` 123 ` and `123` are the same account: the digits.
pub fn normalize_account_id(raw: &str) -> Result<String, AdapterError> {
    let trimmed = raw.trim();
    let digits = trimmed.strip_prefix("act_").unwrap_or(trimmed);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AdapterError::invalid_field(
            "ad_account_id",
            "must be the numeric ad account ID, with or without the `act_` prefix",
        ));
    }
    Ok(digits.to_owned())
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

/// The days and page one read covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Window {
    pub since: NaiveDate,
    pub until: NaiveDate,
    pub after: Option<String>,
}

impl Window {
    /// The window to read from the stored cursor (`None` on a first sync).
    pub(crate) fn plan(
        cursor: Option<&Value>,
        settings: &Settings,
        today: NaiveDate,
    ) -> Result<Self, AdapterError> {
        let Some(value) = cursor else {
            return Ok(Self {
                since: today - Days::days(i64::from(settings.lookback_days)),
                until: today,
                after: None,
            });
        };
        let cursor: Cursor = serde_json::from_value(value.clone())
            .map_err(|_| AdapterError::invalid_field("cursor", "is not an insights cursor"))?;
        let window = match cursor.until {
            Some(until) => Self {
                since: cursor.since,
                until,
                after: cursor.after,
            },
            None => Self {
                since: cursor.since,
                until: today,
                after: None,
            },
        };
        // A cursor from a clock ahead of ours must not make an inverted range.
        Ok(Self {
            since: window.since.min(window.until),
            ..window
        })
    }

    /// The query of the insights request for this window.
    pub(crate) fn query(&self, page_size: u32) -> Vec<(&'static str, String)> {
        let mut query = vec![
            ("level", "campaign".to_owned()),
            ("time_increment", "1".to_owned()),
            (
                "time_range",
                serde_json::json!({"since": self.since.to_string(), "until": self.until.to_string()})
                    .to_string(),
            ),
            ("fields", INSIGHTS_FIELDS.to_owned()),
            ("limit", page_size.to_string()),
        ];
        if let Some(after) = &self.after {
            query.push(("after", after.clone()));
        }
        query
    }

    /// The cursor after a page: the next page of this window while Meta has one,
    /// else the start of the next sync's window, [`RESTATEMENT_DAYS`] back from the
    /// last day read (Meta restates that much).
    pub(crate) fn advance(&self, paging: Option<&Paging>) -> (Cursor, bool) {
        let next_after = paging
            .filter(|p| p.next.is_some())
            .and_then(|p| p.cursors.as_ref())
            .and_then(|c| c.after.clone())
            .filter(|after| Some(after) != self.after.as_ref());
        match next_after {
            Some(after) => (
                Cursor {
                    since: self.since,
                    until: Some(self.until),
                    after: Some(after),
                },
                true,
            ),
            None => (
                Cursor {
                    since: (self.until - Days::days(RESTATEMENT_DAYS)).max(self.since),
                    until: None,
                    after: None,
                },
                false,
            ),
        }
    }
}

/// One page of `GET /act_{id}/insights`.
#[derive(Debug, Deserialize)]
pub(crate) struct InsightsPage {
    #[serde(default)]
    pub data: Vec<Value>,
    #[serde(default)]
    pub paging: Option<Paging>,
}

/// Cursor paging: `paging.cursors.after`, and `paging.next` only when more follows.
#[derive(Debug, Deserialize)]
pub(crate) struct Paging {
    #[serde(default)]
    pub cursors: Option<Cursors>,
    #[serde(default)]
    pub next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Cursors {
    #[serde(default)]
    pub after: Option<String>,
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
}

impl RowMetrics {
    /// Reads one row. Meta sends numbers as strings (`"spend": "12.34"`); one that
    /// does not parse is an error naming the field, never a panic or a silent zero.
    pub fn parse(row: &Value) -> Result<Self, AdapterError> {
        let campaign_id = text(row, "campaign_id")?;
        let date_text = text(row, "date_start")?;
        let date = NaiveDate::parse_from_str(&date_text, "%Y-%m-%d").map_err(|_| {
            AdapterError::unavailable("Meta sent an insights row whose `date_start` is not a date")
        })?;
        let spend = metric(row, "spend")?.unwrap_or(0.0);
        let impressions = metric(row, "impressions")?.unwrap_or(0.0);
        let clicks = metric(row, "clicks")?.unwrap_or(0.0);
        let ctr = match metric(row, "ctr")? {
            Some(ctr) => Some(ctr),
            None => (impressions > 0.0).then(|| clicks / impressions * 100.0),
        };
        let cpc = match metric(row, "cpc")? {
            Some(cpc) => Some(cpc),
            None => (clicks > 0.0).then(|| spend / clicks),
        };
        let purchases = action_value(row, "actions")?;
        let values = action_value(row, "action_values")?;
        let meta_roas = action_value(row, "purchase_roas")?;
        let purchase_value = values.map_or(0.0, |(_, v)| v);
        let roas = match meta_roas {
            Some((_, roas)) => Some(roas),
            None => (spend > 0.0).then(|| purchase_value / spend),
        };
        Ok(Self {
            campaign_id,
            date,
            spend,
            impressions,
            clicks,
            ctr,
            cpc,
            purchases: purchases.map_or(0.0, |(_, v)| v),
            purchase_value,
            roas,
        })
    }

    /// The record's id: `{campaign_id}:{date}`.
    pub fn external_id(&self) -> String {
        format!("{}:{}", self.campaign_id, self.date)
    }

    /// The day's KPI points of this campaign (day totals: they upsert).
    pub fn kpis(&self) -> Vec<KpiPoint> {
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
        values
            .into_iter()
            .filter_map(|(metric, value)| {
                value.filter(|v| v.is_finite()).map(|value| {
                    KpiPoint::total(metric, self.date, value)
                        .with_dimension(CAMPAIGN_DIMENSION, self.campaign_id.clone())
                })
            })
            .collect()
    }
}

/// Maps a page's rows to records and KPI points.
pub(crate) fn map_rows(rows: &[Value]) -> Result<(Vec<Record>, Vec<KpiPoint>), AdapterError> {
    let mut records = Vec::with_capacity(rows.len());
    let mut kpis = Vec::with_capacity(rows.len() * 8);
    for row in rows {
        let metrics = RowMetrics::parse(row)?;
        records.push(Record {
            external_id: metrics.external_id(),
            data: row.clone(),
            modified_at: None,
        });
        kpis.extend(metrics.kpis());
    }
    Ok((records, kpis))
}

/// A required string field of a row.
fn text(row: &Value, field: &str) -> Result<String, AdapterError> {
    row.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            AdapterError::unavailable(format!("Meta sent an insights row without `{field}`"))
        })
}

/// A numeric field: a numeric string (Meta's way) or a JSON number; absent is `None`.
pub fn metric(row: &Value, field: &str) -> Result<Option<f64>, AdapterError> {
    match row.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => parse_number(value)
            .map(Some)
            .ok_or_else(|| bad_number(field)),
    }
}

/// Parses a Meta number: `"12.34"`, `"1200"`, or a JSON number; finite only.
fn parse_number(value: &Value) -> Option<f64> {
    let number = match value {
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        Value::Number(n) => n.as_f64()?,
        _ => return None,
    };
    number.is_finite().then_some(number)
}

fn bad_number(field: &str) -> AdapterError {
    // The value is not quoted: the error reaches dashboards, and nothing it says
    // needs more than the field's name.
    AdapterError::unavailable(format!(
        "Meta sent an insights row whose `{field}` is not a number"
    ))
}

/// The value of the preferred purchase action type in a list of `AdsActionStats`
/// (`[{"action_type", "value"}]`), with the type it was found under.
fn action_value(row: &Value, field: &str) -> Result<Option<(&'static str, f64)>, AdapterError> {
    let Some(list) = row.get(field) else {
        return Ok(None);
    };
    let Some(items) = list.as_array() else {
        if list.is_null() {
            return Ok(None);
        }
        return Err(AdapterError::unavailable(format!(
            "Meta sent an insights row whose `{field}` is not a list"
        )));
    };
    for wanted in PURCHASE_ACTION_TYPES {
        let found = items
            .iter()
            .find(|item| item.get("action_type").and_then(Value::as_str) == Some(wanted));
        if let Some(item) = found {
            let value = item
                .get("value")
                .and_then(parse_number)
                .ok_or_else(|| bad_number(&format!("{field}[{wanted}].value")))?;
            return Ok(Some((wanted, value)));
        }
    }
    Ok(None)
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
        assert_eq!(normalize_account_id("act_123").ok().as_deref(), Some("123"));
        assert_eq!(normalize_account_id(" 123 ").ok().as_deref(), Some("123"));
        assert!(normalize_account_id("act_").is_err());
        assert!(normalize_account_id("act_12x").is_err());
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
        let settings = Settings {
            account_id: "1".into(),
            lookback_days: 90,
        };
        let today = date("2026-03-31");
        let first = Window::plan(None, &settings, today).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((first.since, first.until), (date("2025-12-31"), today));
        let paging: Paging = serde_json::from_value(json!({
            "cursors": {"before": "MAZDZD", "after": "NDMZD"},
            "next": "https://graph.facebook.com/v25.0/act_1/insights?after=NDMZD"
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let (cursor, more) = first.advance(Some(&paging));
        assert!(more);
        assert_eq!(cursor.after.as_deref(), Some("NDMZD"));
        let value = serde_json::to_value(&cursor).unwrap_or_default();
        let second = Window::plan(Some(&value), &settings, today).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(second.after.as_deref(), Some("NDMZD"));
        // The last page has `after` but no `next`: the window is done, and the next
        // sync re-reads the restatement window.
        let last: Paging = serde_json::from_value(json!({"cursors": {"after": "X"}}))
            .unwrap_or_else(|e| panic!("{e}"));
        let (cursor, more) = second.advance(Some(&last));
        assert!(!more);
        assert_eq!(cursor.since, date("2026-03-03"));
        assert_eq!(cursor.until, None);
        let value = serde_json::to_value(&cursor).unwrap_or_default();
        let later = Window::plan(Some(&value), &settings, date("2026-04-02"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (later.since, later.until),
            (date("2026-03-03"), date("2026-04-02"))
        );
        assert!(Window::plan(Some(&json!({"x": 1})), &settings, today).is_err());
    }
}
