//! The fake's deterministic starting data: seven prices (`seed.json`), 40 customers, 30
//! subscriptions in every status that matters to MRR and churn, their invoices and
//! payments over the first quarter of 2026, some one-off and failed payments, and
//! refunds (full and partial). Everything is a pure function of the index, so every
//! fake starts with the same objects and ids.

use junction_toolkit::fake::Data;
use serde_json::{Value, json};

use super::{
    fixtures,
    store::{Store, period_end},
};

/// The seeded prices and the catalog.
pub(crate) static SEED: Data = Data::new(include_str!("seed.json"));

/// 2026-01-01T00:00:00Z: the first seeded object's day.
pub const SEED_START: i64 = 1_767_225_600;

/// 2026-04-01T00:00:00Z: every seeded object is older.
pub const SEED_END: i64 = 1_775_001_600;

const DAY: i64 = 86_400;

/// A deterministic 64-bit hash (SplitMix64's finaliser).
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A deterministic number in `0..modulus` for (`salt`, `index`).
fn pick(salt: u64, index: usize, modulus: u64) -> u64 {
    mix(salt.wrapping_mul(1_000_003) ^ index as u64) % modulus.max(1)
}

const FIRST_NAMES: [&str; 10] = [
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim",
];
const LAST_NAMES: [&str; 8] = [
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Perlman",
];

/// The currency of the `index`th customer.
fn customer_currency(index: usize) -> &'static str {
    match index % 10 {
        3 => "eur",
        6 => "gbp",
        8 if index % 20 == 8 => "jpy",
        8 => "eur",
        _ => "usd",
    }
}

/// The id of the `index`th seeded object of a kind.
fn id(prefix: &str, index: usize) -> String {
    format!("{prefix}_sandbox{index:04}")
}

/// The seed under way: the store and the counters of seeded payments, invoices and
/// refunds.
struct Seed<'a> {
    store: &'a mut Store,
    payments: usize,
    invoices: usize,
    refunds: usize,
    /// The charges that succeeded, in seeding order.
    succeeded: Vec<String>,
}

/// Fills `store` with the seed data.
pub(crate) fn seed(store: &mut Store) {
    for (index, price) in SEED.list("/prices").iter().enumerate() {
        let mut price = price.clone();
        price["created"] = json!(SEED_START - 30 * DAY + index as i64 * 3_600);
        store.insert("prices", fixtures::price(price));
    }
    let mut customers = Vec::new();
    for index in 0..40 {
        let first = FIRST_NAMES[index % FIRST_NAMES.len()];
        let last = LAST_NAMES[(index / FIRST_NAMES.len() + index) % LAST_NAMES.len()];
        let name = format!("{first} {last}");
        let email = format!(
            "{}.{}{index}@example.com",
            first.to_lowercase(),
            last.to_lowercase()
        );
        let created = SEED_START + index as i64 * 2 * DAY + pick(1, index, 80_000) as i64;
        let customer = fixtures::customer(json!({
            "id": id("cus", index), "created": created, "email": email, "name": name,
            "phone": null, "description": null, "currency": customer_currency(index),
            "metadata": {"source": "junction-sandbox"},
        }));
        store.insert("customers", customer.clone());
        customers.push(customer);
    }
    let mut seed = Seed {
        store,
        payments: 0,
        invoices: 0,
        refunds: 0,
        succeeded: Vec::new(),
    };
    for (index, customer) in customers.iter().take(30).enumerate() {
        seed.subscription(index, customer);
    }

    // One-off payments by customers 10 to 33, three of them declined.
    for index in 0..24 {
        let customer = &customers[10 + index % 30];
        let joined = customer["created"].as_i64().unwrap_or(SEED_START);
        let created = (joined + DAY + pick(2, index, 40 * DAY as u64) as i64)
            .min(SEED_END - DAY + pick(3, index, 3_600) as i64);
        let currency = customer_currency(10 + index % 30);
        let amount = match currency {
            "jpy" => 3_000 + pick(4, index, 20) as i64 * 500,
            _ => 1_500 + pick(4, index, 40) as i64 * 250,
        };
        let declined = matches!(index, 5 | 13 | 21).then_some("insufficient_funds");
        let customer = customer["id"].as_str().unwrap_or_default();
        seed.record(
            created,
            amount,
            currency,
            customer,
            declined,
            "One-off purchase",
        );
    }

    // Every seventh successful payment is refunded, alternately in full and in half.
    let succeeded = std::mem::take(&mut seed.succeeded);
    for (index, charge_id) in succeeded.iter().enumerate().filter(|(i, _)| i % 7 == 3) {
        let Some(charge) = seed.store.get("charges", charge_id).cloned() else {
            continue;
        };
        let captured = charge["amount_captured"].as_i64().unwrap_or(0);
        let amount = if index % 2 == 0 {
            captured
        } else {
            captured / 2
        };
        let created = charge["created"].as_i64().unwrap_or(SEED_START) + 2 * DAY;
        let refund = fixtures::refund(json!({
            "id": id("re", seed.refunds), "created": created.min(SEED_END - 60),
            "amount": amount, "currency": charge["currency"], "charge": charge_id,
            "payment_intent": charge["payment_intent"], "reason": "requested_by_customer",
            "metadata": {},
        }));
        seed.refunds += 1;
        seed.store.insert("refunds", refund);
        seed.store
            .set_refunded(charge_id, amount, amount == captured);
    }
}

impl Seed<'_> {
    /// Stores one payment (payment intent and charge).
    fn record(
        &mut self,
        created: i64,
        amount: i64,
        currency: &str,
        customer: &str,
        declined: Option<&str>,
        description: &str,
    ) {
        let charge_id = id("ch", self.payments);
        let payment_method = match declined {
            Some(_) => "pm_card_chargeDeclinedInsufficientFunds",
            None => "pm_card_visa",
        };
        let payment = json!({
            "id": id("pi", self.payments), "latest_charge": charge_id, "created": created,
            "amount": amount, "currency": currency, "customer": customer,
            "payment_method": payment_method, "description": description,
            "receipt_email": null, "automatic_payment_methods": false, "metadata": {},
        });
        self.payments += 1;
        self.store.record_payment(payment, true, declined);
        if declined.is_none() {
            self.succeeded.push(charge_id);
        }
    }

    /// The `index`th subscription, with an invoice (and payment) per billing period.
    fn subscription(&mut self, index: usize, customer: &Value) {
        let customer_id = customer["id"].as_str().unwrap_or_default();
        let currency = customer_currency(index);
        let price_index = match currency {
            "eur" => 3,
            "gbp" => 4,
            "jpy" => 5,
            _ => index % 3,
        };
        let prices = self.store.all("prices").to_vec();
        let Some(price) = prices.get(price_index) else {
            return;
        };
        let metered = prices
            .get(6)
            .filter(|_| currency == "usd" && index % 5 == 1);
        let unit_amount = price["unit_amount"].as_i64().unwrap_or(0);
        let nickname = price["nickname"].as_str().unwrap_or_default();
        let interval = price["recurring"]["interval"].as_str().unwrap_or("month");
        let interval_count = price["recurring"]["interval_count"].as_i64().unwrap_or(1);
        let quantity = if index.is_multiple_of(4) { 3 } else { 1 };
        let created = customer["created"].as_i64().unwrap_or(SEED_START) + 3_600;
        let status = match index {
            29 => "incomplete_expired",
            i if i % 9 == 4 => "canceled",
            i if i % 11 == 6 => "trialing",
            i if i % 13 == 7 => "past_due",
            _ => "active",
        };
        let trial_end = (status == "trialing").then_some(created + 14 * DAY);
        let ended_at = (status == "canceled")
            .then(|| (created + (20 + pick(5, index, 30) as i64) * DAY).min(SEED_END - DAY));

        // Billing periods from creation until the subscription ended or the seed ends.
        let period = |start: i64| period_end(start, interval, interval_count);
        let mut starts = Vec::new();
        if !matches!(status, "trialing" | "incomplete_expired") {
            let mut start = created;
            let stop = ended_at.unwrap_or(SEED_END);
            while start < stop && starts.len() < 16 {
                starts.push(start);
                start = period(start);
            }
        }
        let current_start = starts.last().copied().unwrap_or(created);
        let current_end = trial_end.unwrap_or_else(|| period(current_start));

        let sub_id = id("sub", index);
        let item_id = id("si", index);
        let line_amount = unit_amount * quantity;
        let description = format!("{quantity} × {nickname}");
        let mut latest_invoice = None;
        for (number, start) in starts.iter().enumerate() {
            let last = number + 1 == starts.len();
            // The last payment of a past-due subscription failed.
            let declined = (last && status == "past_due").then_some("card_declined");
            let (what, reason) = match number {
                0 => ("Subscription creation", "subscription_create"),
                _ => ("Subscription update", "subscription_cycle"),
            };
            self.record(
                *start + 60,
                line_amount,
                currency,
                customer_id,
                declined,
                what,
            );
            let invoice_id = id("in", self.invoices);
            self.invoices += 1;
            let invoice = fixtures::invoice(
                json!({
                    "id": invoice_id, "number": format!("SBX-{:04}", self.invoices),
                    "created": start, "customer": customer_id, "customer_email": customer["email"],
                    "customer_name": customer["name"], "currency": currency,
                    "status": if declined.is_some() { "open" } else { "paid" },
                    "subscription": sub_id, "billing_reason": reason,
                    "collection_method": "charge_automatically", "due_date": null,
                    "effective_at": start, "period_start": start, "period_end": period(*start),
                    "auto_advance": declined.is_some(), "description": null, "metadata": {},
                }),
                &[(
                    line_amount,
                    description.clone(),
                    quantity,
                    Some(item_id.clone()),
                )],
                declined.is_none().then_some(*start + 60),
            );
            self.store.insert("invoices", invoice);
            latest_invoice = Some(invoice_id);
        }

        let mut items = vec![(item_id.clone(), price, quantity)];
        if let Some(metered) = metered {
            items.push((format!("{item_id}m"), metered, 1));
        }
        let subscription = fixtures::subscription(
            json!({
                "id": sub_id, "created": created, "customer": customer_id, "currency": currency,
                "status": status, "trial_end": trial_end, "canceled_at": ended_at,
                "ended_at": ended_at, "collection_method": "charge_automatically",
                "days_until_due": null, "cancel_at_period_end": false,
                "latest_invoice": latest_invoice, "default_payment_method": "pm_card_visa",
                "description": null, "metadata": {"seed": index},
            }),
            &items,
            (current_start, current_end),
        );
        self.store.insert("subscriptions", subscription);
    }
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
