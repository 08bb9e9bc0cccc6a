//! The fake's deterministic starting data, the same for every fake, as data
//! (`seed.json`): seven prices, 40 customers, 30 subscriptions in every status that
//! matters to MRR and churn with their invoices and payments over the first quarter
//! of 2026, some one-off and failed payments, and refunds (full and partial). The
//! data file says how it is made; this module replays it through the object
//! builders, in order (lists break ties in `created` by insertion).

use junction_toolkit::fake::merged;
use serde_json::{Value, json};

use super::{
    fixtures::{self, SEED},
    store::Store,
};

/// 2026-01-01T00:00:00Z: the first seeded object's day.
pub const SEED_START: i64 = 1_767_225_600;

/// 2026-04-01T00:00:00Z: every seeded object is older.
pub const SEED_END: i64 = 1_775_001_600;

/// Fills `store` with the seed data.
pub(crate) fn seed(store: &mut Store) {
    for (index, price) in (0..).zip(SEED.list("/prices")) {
        let created = SEED_START - 30 * 86_400 + index * 3_600;
        let price = fixtures::price(merged(price.clone(), json!({"created": created})));
        store.insert("prices", price);
    }
    for object in SEED.list("/objects") {
        let field = |name: &str| object[name].clone();
        if let Some(customer) = object.get("customer") {
            store.insert("customers", fixtures::customer(customer.clone()));
        } else if let Some(payment) = object.get("payment") {
            store.record_payment(payment.clone(), true, object["declined"].as_str());
        } else if let Some(invoice) = object.get("invoice") {
            let lines = field("lines")
                .as_array()
                .into_iter()
                .flatten()
                .map(line)
                .collect::<Vec<_>>();
            let invoice = fixtures::invoice(invoice.clone(), &lines, object["paid_at"].as_i64());
            store.insert("invoices", invoice);
        } else if let Some(subscription) = object.get("subscription") {
            let items: Vec<(String, Value, i64)> = field("items")
                .as_array()
                .into_iter()
                .flatten()
                .map(|item| {
                    let price = store
                        .get("prices", item[1].as_str().unwrap_or_default())
                        .cloned();
                    (
                        text(&item[0]),
                        price.unwrap_or_default(),
                        item[2].as_i64().unwrap_or(1),
                    )
                })
                .collect();
            let items: Vec<(String, &Value, i64)> = items
                .iter()
                .map(|(id, price, quantity)| (id.clone(), price, *quantity))
                .collect();
            let period = (
                object["period"][0].as_i64().unwrap_or(0),
                object["period"][1].as_i64().unwrap_or(0),
            );
            let subscription = fixtures::subscription(subscription.clone(), &items, period);
            store.insert("subscriptions", subscription);
        } else if let Some(refund) = object.get("refund") {
            let (charge, amount) = (
                text(&refund["charge"]),
                refund["amount"].as_i64().unwrap_or(0),
            );
            store.insert("refunds", fixtures::refund(refund.clone()));
            store.set_refunded(&charge, amount, object["full"] == true);
        }
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// An invoice line of the data: `[amount, description, quantity, subscription item]`.
fn line(line: &Value) -> fixtures::Line {
    let item = line[3].as_str().map(str::to_owned);
    (
        line[0].as_i64().unwrap_or(0),
        text(&line[1]),
        line[2].as_i64().unwrap_or(1),
        item,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_is_deterministic_and_spans_the_quarter() {
        let mut one = Store::default();
        seed(&mut one);
        let mut two = Store::default();
        seed(&mut two);
        for kind in [
            "charges",
            "payment_intents",
            "customers",
            "subscriptions",
            "invoices",
            "refunds",
            "prices",
        ] {
            assert_eq!(one.all(kind), two.all(kind), "{kind:?}");
            for object in one.all(kind) {
                let created = object["created"].as_i64().unwrap();
                assert!(created < SEED_END, "{kind:?} {object}");
            }
        }
        assert_eq!(one.all("customers").len(), 40);
        assert_eq!(one.all("subscriptions").len(), 30);
        assert!(
            one.all("charges").len() > 60,
            "{}",
            one.all("charges").len()
        );
        assert!(one.all("refunds").len() >= 8);
        let statuses: std::collections::BTreeSet<_> = one
            .all("subscriptions")
            .iter()
            .map(|s| s["status"].as_str().unwrap().to_owned())
            .collect();
        for status in [
            "active",
            "canceled",
            "trialing",
            "past_due",
            "incomplete_expired",
        ] {
            assert!(statuses.contains(status), "{status}");
        }
    }
}
