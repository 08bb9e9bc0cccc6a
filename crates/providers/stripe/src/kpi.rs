//! KPI arithmetic: what each Stripe object adds to which daily total, monthly
//! normalisation of subscription prices (MRR), and turning integer sums into
//! [`KpiPoint`]s in major units.
//!
//! Definitions (UTC days, per currency):
//! - `gross_revenue`: `amount_captured` of the charges created that day whose status
//!   is `succeeded`;
//! - `net_revenue`: the same charges' `amount_captured - amount_refunded`, i.e. what
//!   is left of that day's sales after their refunds so far (Stripe's fees are not
//!   subtracted);
//! - `refunds`: `amount` of the refunds created that day whose status is `succeeded`
//!   or `pending` (money on its way back);
//! - `new_subscriptions`: subscriptions created that day that got past the first
//!   payment (status other than `incomplete` / `incomplete_expired`);
//! - `churned_subscriptions`: canceled subscriptions by the day of `ended_at`;
//! - `mrr`: on each sync day, the sum over `active` and `past_due` subscriptions of
//!   each licensed per-unit item's `unit_amount × quantity`, normalised to a month
//!   (see [`monthly_minor_units`]).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveTime};
use junction_core::KpiPoint;
use serde::Deserialize;
use serde_json::Value;

use crate::{
    money::{currency_code, fractional_to_major, to_major},
    spec::{
        CHARGES, CHURNED_SUBSCRIPTIONS, CURRENCY_DIMENSION, GROSS_REVENUE, MRR, NET_REVENUE,
        NEW_SUBSCRIPTIONS, REFUNDED, REFUNDS, SUBSCRIPTIONS,
    },
};

/// Integer sums of one day: metric → lower-case currency → minor units (or a count).
pub(crate) type DaySums = BTreeMap<String, BTreeMap<String, i64>>;

/// The UTC day of a unix timestamp.
pub(crate) fn day_of(timestamp: i64) -> Option<NaiveDate> {
    DateTime::from_timestamp(timestamp, 0).map(|at| at.date_naive())
}

/// The unix timestamp of a UTC day's first second.
pub(crate) fn day_start(day: NaiveDate) -> i64 {
    day.and_time(NaiveTime::MIN).and_utc().timestamp()
}

/// What one object adds to the daily totals of its stream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Contribution {
    pub day: NaiveDate,
    pub currency: String,
    pub amounts: Vec<(&'static str, i64)>,
}

impl Contribution {
    /// Adds this contribution to a day's sums.
    pub(crate) fn add_to(&self, sums: &mut DaySums) {
        for (metric, amount) in &self.amounts {
            *sums
                .entry((*metric).to_owned())
                .or_default()
                .entry(self.currency.clone())
                .or_default() += amount;
        }
    }
}

#[derive(Deserialize)]
struct ChargeView {
    created: i64,
    currency: String,
    status: String,
    #[serde(default)]
    amount_captured: i64,
    #[serde(default)]
    amount_refunded: i64,
}

#[derive(Deserialize)]
struct RefundView {
    created: i64,
    currency: String,
    status: Option<String>,
    amount: i64,
}

#[derive(Deserialize)]
struct SubscriptionView {
    created: i64,
    currency: String,
    status: String,
    ended_at: Option<i64>,
}

/// What `object` of `stream` adds to the totals of its creation day. Objects that do
/// not count (a failed charge, a canceled refund, an expired subscription) add zero,
/// so that every day and currency with objects gets a point: a day whose only refund
/// later failed reads 0 instead of keeping its old total. Objects whose shape does not
/// fit add nothing (their records are still stored).
pub(crate) fn contribution(stream: &str, object: &Value) -> Option<Contribution> {
    match stream {
        CHARGES => {
            let charge = ChargeView::deserialize(object).ok()?;
            // Uncaptured authorisations are not revenue (yet).
            let counts = charge.status == "succeeded" && charge.amount_captured > 0;
            let (gross, net) = if counts {
                (
                    charge.amount_captured,
                    charge.amount_captured - charge.amount_refunded,
                )
            } else {
                (0, 0)
            };
            Some(Contribution {
                day: day_of(charge.created)?,
                currency: charge.currency.to_ascii_lowercase(),
                amounts: vec![(GROSS_REVENUE, gross), (NET_REVENUE, net)],
            })
        }
        REFUNDS => {
            let refund = RefundView::deserialize(object).ok()?;
            // Refunds created before statuses existed have none and did succeed.
            let counts = matches!(
                refund.status.as_deref(),
                None | Some("succeeded" | "pending")
            );
            Some(Contribution {
                day: day_of(refund.created)?,
                currency: refund.currency.to_ascii_lowercase(),
                amounts: vec![(REFUNDED, if counts { refund.amount } else { 0 })],
            })
        }
        SUBSCRIPTIONS => {
            let subscription = SubscriptionView::deserialize(object).ok()?;
            let counts = !matches!(
                subscription.status.as_str(),
                "incomplete" | "incomplete_expired"
            );
            Some(Contribution {
                day: day_of(subscription.created)?,
                currency: subscription.currency.to_ascii_lowercase(),
                amounts: vec![(NEW_SUBSCRIPTIONS, i64::from(counts))],
            })
        }
        _ => None,
    }
}

/// The churn a subscription stands for: its currency and the day it ended, when it
/// was canceled.
pub(crate) fn churn(subscription: &Value) -> Option<(NaiveDate, String)> {
    let view = SubscriptionView::deserialize(subscription).ok()?;
    if view.status != "canceled" {
        return None;
    }
    Some((day_of(view.ended_at?)?, view.currency.to_ascii_lowercase()))
}

/// The subscription statuses that count towards MRR: `active`, and `past_due` (still
/// billed while Stripe retries the payment). Trials have not paid yet.
pub(crate) const MRR_STATUSES: [&str; 2] = ["active", "past_due"];

#[derive(Deserialize)]
struct ItemList {
    #[serde(default)]
    data: Vec<ItemView>,
}

#[derive(Deserialize)]
struct ItemView {
    quantity: Option<i64>,
    price: PriceView,
}

#[derive(Deserialize)]
struct PriceView {
    billing_scheme: Option<String>,
    unit_amount: Option<i64>,
    unit_amount_decimal: Option<String>,
    recurring: Option<RecurringView>,
}

#[derive(Deserialize)]
struct RecurringView {
    interval: String,
    interval_count: Option<i64>,
    usage_type: Option<String>,
}

/// The currency and monthly amount (fractional minor units) a subscription adds to
/// MRR: zero unless its status is in [`MRR_STATUSES`]. The currency is returned for
/// every subscription, so a currency whose subscriptions all ended shows an MRR of 0.
pub(crate) fn mrr_of(subscription: &Value) -> Option<(String, f64)> {
    #[derive(Deserialize)]
    struct View {
        currency: String,
        status: String,
        items: Option<ItemList>,
    }
    let view = View::deserialize(subscription).ok()?;
    let currency = view.currency.to_ascii_lowercase();
    if !MRR_STATUSES.contains(&view.status.as_str()) {
        return Some((currency, 0.0));
    }
    let monthly = view
        .items
        .map(|items| items.data.iter().filter_map(monthly_minor_units).sum())
        .unwrap_or(0.0);
    Some((currency, monthly))
}

/// One subscription item's price normalised to a month, in fractional minor units:
/// `unit_amount × quantity` divided by the billing period in months, where a period
/// is `interval_count` months, years (×12), weeks (×12/52) or days (×12/365).
///
/// An approximation, documented as such: discounts, taxes, prorations and trials
/// are ignored; metered and tiered prices (whose amount depends on usage or volume)
/// add nothing; a week is 12/52 of a month and a day 12/365.
fn monthly_minor_units(item: &ItemView) -> Option<f64> {
    let price = &item.price;
    let recurring = price.recurring.as_ref()?;
    if recurring.usage_type.as_deref() == Some("metered")
        || price.billing_scheme.as_deref() == Some("tiered")
    {
        return None;
    }
    let unit = match price.unit_amount {
        Some(amount) => amount as f64,
        // Sub-minor-unit prices come only as a decimal string.
        None => price.unit_amount_decimal.as_deref()?.parse::<f64>().ok()?,
    };
    let count = recurring.interval_count.unwrap_or(1).max(1) as f64;
    let months_per_period = match recurring.interval.as_str() {
        "day" => count * 12.0 / 365.0,
        "week" => count * 12.0 / 52.0,
        "month" => count,
        "year" => count * 12.0,
        _ => return None,
    };
    let quantity = item.quantity.unwrap_or(1).max(0) as f64;
    Some(unit * quantity / months_per_period)
}

/// Whether a metric is an amount of money (else a count).
fn is_money(metric: &str) -> bool {
    matches!(metric, GROSS_REVENUE | NET_REVENUE | REFUNDED | MRR)
}

/// The points of one day's sums: one per metric and currency.
pub(crate) fn points(day: NaiveDate, sums: &DaySums) -> Vec<KpiPoint> {
    sums.iter()
        .flat_map(|(metric, by_currency)| {
            by_currency.iter().map(move |(currency, value)| {
                let value = if is_money(metric) {
                    to_major(*value, currency)
                } else {
                    *value as f64
                };
                point(metric, day, currency, value)
            })
        })
        .collect()
}

/// The MRR points of one day.
pub(crate) fn mrr_points(day: NaiveDate, mrr: &BTreeMap<String, f64>) -> Vec<KpiPoint> {
    mrr.iter()
        .map(|(currency, minor)| point(MRR, day, currency, fractional_to_major(*minor, currency)))
        .collect()
}

/// The churn points: day → currency → count.
pub(crate) fn churn_points(churned: &BTreeMap<NaiveDate, BTreeMap<String, i64>>) -> Vec<KpiPoint> {
    churned
        .iter()
        .flat_map(|(day, by_currency)| {
            by_currency.iter().map(move |(currency, count)| {
                point(CHURNED_SUBSCRIPTIONS, *day, currency, *count as f64)
            })
        })
        .collect()
}

fn point(metric: &str, day: NaiveDate, currency: &str, value: f64) -> KpiPoint {
    KpiPoint::total(metric, day, value).with_dimension(CURRENCY_DIMENSION, currency_code(currency))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(interval: &str, count: i64, unit: i64, quantity: i64) -> Value {
        json!({"quantity": quantity, "price": {"billing_scheme": "per_unit", "unit_amount": unit,
            "recurring": {"interval": interval, "interval_count": count, "usage_type": "licensed"}}})
    }

    fn subscription(status: &str, items: Vec<Value>) -> Value {
        json!({"id": "sub_1", "created": 0, "currency": "usd", "status": status,
            "items": {"object": "list", "data": items, "has_more": false}})
    }

    #[test]
    fn prices_are_normalised_to_a_month() {
        let (currency, mrr) = mrr_of(&subscription(
            "active",
            vec![
                item("month", 1, 2000, 1),
                item("year", 1, 24000, 2),
                item("month", 3, 3000, 1),
                item("week", 1, 1200, 1),
                item("day", 1, 100, 1),
            ],
        ))
        .unwrap();
        assert_eq!(currency, "usd");
        let expected = 2000.0 + 4000.0 + 1000.0 + 1200.0 * 52.0 / 12.0 + 100.0 * 365.0 / 12.0;
        assert!((mrr - expected).abs() < 1e-6, "{mrr} vs {expected}");
    }

    #[test]
    fn only_billed_licensed_per_unit_prices_count() {
        assert_eq!(
            mrr_of(&subscription("trialing", vec![item("month", 1, 2000, 1)])),
            Some(("usd".into(), 0.0))
        );
        assert_eq!(
            mrr_of(&subscription("past_due", vec![item("month", 1, 2000, 1)])),
            Some(("usd".into(), 2000.0))
        );
        let mut metered = item("month", 1, 2000, 1);
        metered["price"]["recurring"]["usage_type"] = json!("metered");
        let mut tiered = item("month", 1, 2000, 1);
        tiered["price"]["billing_scheme"] = json!("tiered");
        tiered["price"]["unit_amount"] = Value::Null;
        let mut decimal = item("month", 1, 0, 3);
        decimal["price"]["unit_amount"] = Value::Null;
        decimal["price"]["unit_amount_decimal"] = json!("0.5");
        assert_eq!(
            mrr_of(&subscription("active", vec![metered, tiered, decimal])),
            Some(("usd".into(), 1.5))
        );
    }

    #[test]
    fn charges_count_when_captured() {
        let charge = json!({"created": 1_767_312_000, "currency": "EUR", "status": "succeeded",
            "amount_captured": 5000, "amount_refunded": 1500});
        let c = contribution(CHARGES, &charge).unwrap();
        assert_eq!(c.day, NaiveDate::from_ymd_opt(2026, 1, 2).unwrap());
        assert_eq!(c.currency, "eur");
        assert_eq!(c.amounts, vec![(GROSS_REVENUE, 5000), (NET_REVENUE, 3500)]);
        // Charges that do not count still put their day and currency at zero.
        let zero = vec![(GROSS_REVENUE, 0), (NET_REVENUE, 0)];
        let failed =
            json!({"created": 0, "currency": "usd", "status": "failed", "amount_captured": 0});
        assert_eq!(contribution(CHARGES, &failed).unwrap().amounts, zero);
        let uncaptured =
            json!({"created": 0, "currency": "usd", "status": "succeeded", "amount_captured": 0});
        assert_eq!(contribution(CHARGES, &uncaptured).unwrap().amounts, zero);
        assert_eq!(contribution(CHARGES, &json!({"id": "ch_1"})), None);
    }

    #[test]
    fn points_are_in_major_units_per_currency() {
        let day = NaiveDate::from_ymd_opt(2026, 1, 2).unwrap();
        let mut sums = DaySums::new();
        for (currency, amount) in [("usd", 1099), ("usd", 1), ("jpy", 500)] {
            Contribution {
                day,
                currency: currency.into(),
                amounts: vec![(GROSS_REVENUE, amount), (NEW_SUBSCRIPTIONS, 1)],
            }
            .add_to(&mut sums);
        }
        let points = points(day, &sums);
        let shown: Vec<_> = points
            .iter()
            .map(|p| format!("{} {} {}", p.metric, p.dimension_key(), p.value))
            .collect();
        assert_eq!(
            shown,
            [
                "gross_revenue currency=JPY 500",
                "gross_revenue currency=USD 11",
                "new_subscriptions currency=JPY 1",
                "new_subscriptions currency=USD 2",
            ]
        );
    }

    #[test]
    fn churn_needs_a_cancellation() {
        let mut canceled = subscription("canceled", vec![]);
        canceled["ended_at"] = json!(1_767_312_000);
        assert_eq!(
            churn(&canceled),
            Some((NaiveDate::from_ymd_opt(2026, 1, 2).unwrap(), "usd".into()))
        );
        assert_eq!(churn(&subscription("active", vec![])), None);
    }
}
