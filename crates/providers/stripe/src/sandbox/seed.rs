//! The fake's deterministic starting data: six prices, 40 customers, 30
//! subscriptions in every status that matters to MRR and churn, their invoices and
//! payments over the first quarter of 2026, some one-off and failed payments, and
//! refunds (full and partial). Everything is a pure function of the index, so every
//! fake starts with the same objects and ids.

use serde_json::{Value, json};

use super::{
    fixtures::{
        self, CustomerData, InvoiceData, ItemData, LineData, PriceData, RefundData,
        SubscriptionData,
    },
    store::{Kind, Payment, Store},
};

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

/// The seeded recurring prices: (id, nickname, currency, unit amount, interval,
/// interval count, usage type).
pub const PRICES: [(&str, &str, &str, i64, &str, i64, &str); 7] = [
    (
        "price_sandbox_starter_monthly",
        "Starter monthly",
        "usd",
        1_900,
        "month",
        1,
        "licensed",
    ),
    (
        "price_sandbox_pro_monthly",
        "Pro monthly",
        "usd",
        4_900,
        "month",
        1,
        "licensed",
    ),
    (
        "price_sandbox_pro_yearly",
        "Pro yearly",
        "usd",
        49_000,
        "year",
        1,
        "licensed",
    ),
    (
        "price_sandbox_team_quarterly",
        "Team quarterly",
        "eur",
        12_000,
        "month",
        3,
        "licensed",
    ),
    (
        "price_sandbox_weekly_box",
        "Weekly box",
        "gbp",
        1_500,
        "week",
        1,
        "licensed",
    ),
    (
        "price_sandbox_basic_jpy",
        "Basic (JPY)",
        "jpy",
        2_000,
        "month",
        1,
        "licensed",
    ),
    (
        "price_sandbox_api_calls",
        "API calls (metered)",
        "usd",
        2,
        "month",
        1,
        "metered",
    ),
];

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

/// Counters for the ids of seeded payments, invoices and refunds.
#[derive(Default)]
struct Ids {
    payments: usize,
    invoices: usize,
    refunds: usize,
}

/// Fills `store` with the seed data.
pub(crate) fn seed(store: &mut Store) {
    for (index, (price_id, nickname, currency, amount, interval, count, usage)) in
        PRICES.iter().enumerate()
    {
        store.insert(
            Kind::Price,
            fixtures::price(&PriceData {
                id: price_id,
                created: SEED_START - 30 * DAY + index as i64 * 3_600,
                currency,
                unit_amount: *amount,
                interval,
                interval_count: *count,
                usage_type: usage,
                nickname,
            }),
        );
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
        let customer_id = id("cus", index);
        store.insert(
            Kind::Customer,
            fixtures::customer(&CustomerData {
                id: &customer_id,
                created,
                email: Some(&email),
                name: Some(&name),
                phone: None,
                description: None,
                currency: Some(customer_currency(index)),
                metadata: json!({"source": "junction-sandbox"}),
            }),
        );
        customers.push((customer_id, created, name, email));
    }

    let mut ids = Ids::default();
    let mut succeeded_charges = Vec::new();
    for (index, (customer_id, customer_created, name, email)) in
        customers.iter().take(30).enumerate()
    {
        seed_subscription(
            store,
            &mut ids,
            &mut succeeded_charges,
            index,
            customer_id,
            *customer_created,
            name,
            email,
        );
    }

    // One-off payments by customers 10 to 33, three of them declined.
    for index in 0..24 {
        let (customer_id, customer_created, _, _) = &customers[10 + index % 30];
        let created = (customer_created + DAY + pick(2, index, 40 * DAY as u64) as i64)
            .min(SEED_END - DAY + pick(3, index, 3_600) as i64);
        let currency = customer_currency(10 + index % 30);
        let amount = match currency {
            "jpy" => 3_000 + pick(4, index, 20) as i64 * 500,
            _ => 1_500 + pick(4, index, 40) as i64 * 250,
        };
        let declined = matches!(index, 5 | 13 | 21).then_some("insufficient_funds");
        let charge_id = record(
            store,
            &mut ids,
            created,
            amount,
            currency,
            customer_id,
            declined,
            "One-off purchase",
        );
        if declined.is_none() {
            succeeded_charges.push(charge_id);
        }
    }

    // Every seventh successful payment is refunded, alternately in full and in half.
    for (index, charge_id) in succeeded_charges
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 7 == 3)
    {
        let Some(charge) = store.get(Kind::Charge, charge_id).cloned() else {
            continue;
        };
        let captured = charge["amount_captured"].as_i64().unwrap_or(0);
        let amount = if index % 2 == 0 {
            captured
        } else {
            captured / 2
        };
        let created =
            (charge["created"].as_i64().unwrap_or(SEED_START) + 2 * DAY).min(SEED_END - 60);
        let currency = charge["currency"].as_str().unwrap_or("usd").to_owned();
        let refund_id = id("re", ids.refunds);
        ids.refunds += 1;
        store.insert(
            Kind::Refund,
            fixtures::refund(&RefundData {
                id: &refund_id,
                created,
                amount,
                currency: &currency,
                charge: charge_id,
                payment_intent: charge["payment_intent"].as_str(),
                reason: Some("requested_by_customer"),
                metadata: json!({}),
            }),
        );
        store.set_refunded(charge_id, amount, amount == captured);
    }
}

/// Stores one payment (payment intent and charge); the charge id.
#[allow(clippy::too_many_arguments)]
fn record(
    store: &mut Store,
    ids: &mut Ids,
    created: i64,
    amount: i64,
    currency: &str,
    customer: &str,
    declined: Option<&str>,
    description: &str,
) -> String {
    let charge_id = id("ch", ids.payments);
    let pi_id = id("pi", ids.payments);
    ids.payments += 1;
    store.record_payment(&Payment {
        pi_id,
        charge_id: charge_id.clone(),
        created,
        amount,
        currency,
        customer: Some(customer),
        payment_method: if declined.is_some() {
            "pm_card_chargeDeclinedInsufficientFunds"
        } else {
            "pm_card_visa"
        },
        capture: true,
        declined,
        description: Some(description),
        receipt_email: None,
        automatic_payment_methods: false,
        metadata: json!({}),
    });
    charge_id
}

/// The `index`th subscription, with an invoice (and payment) per billing period.
#[allow(clippy::too_many_arguments)]
fn seed_subscription(
    store: &mut Store,
    ids: &mut Ids,
    succeeded: &mut Vec<String>,
    index: usize,
    customer_id: &str,
    customer_created: i64,
    name: &str,
    email: &str,
) {
    let currency = customer_currency(index);
    let price_index = match currency {
        "eur" => 3,
        "gbp" => 4,
        "jpy" => 5,
        _ => index % 3,
    };
    let (price_id, nickname, _, unit_amount, interval, interval_count, _) = PRICES[price_index];
    let Some(price) = store.get(Kind::Price, price_id).cloned() else {
        return;
    };
    let metered = store
        .get(Kind::Price, PRICES[6].0)
        .cloned()
        .filter(|_| currency == "usd" && index % 5 == 1);
    let quantity = if index.is_multiple_of(4) { 3 } else { 1 };
    let created = customer_created + 3_600;
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
    let period = |start: i64| {
        let months = match interval {
            "year" => 12 * interval_count,
            "week" => 0,
            _ => interval_count,
        };
        if months == 0 {
            start + 7 * interval_count * DAY
        } else {
            chrono::DateTime::from_timestamp(start, 0)
                .and_then(|at| at.checked_add_months(chrono::Months::new(months as u32)))
                .map_or(start + 30 * DAY, |at| at.timestamp())
        }
    };
    let mut starts = Vec::new();
    if !matches!(status, "trialing" | "incomplete_expired") {
        let mut start = created;
        let stop = ended_at.unwrap_or(SEED_END);
        while start < stop && starts.len() < 16 {
            starts.push(start);
            start = period(start);
        }
    }
    let current_start = starts
        .last()
        .copied()
        .or(trial_end.map(|_| created))
        .unwrap_or(created);
    let current_end = trial_end.unwrap_or_else(|| period(current_start));

    let sub_id = id("sub", index);
    let item_id = id("si", index);
    let metered_item_id = format!("{item_id}m");
    let line_amount = unit_amount * quantity;
    let mut latest_invoice = None;
    for (number, start) in starts.iter().enumerate() {
        let last = number + 1 == starts.len();
        // The last payment of a past-due subscription failed.
        let declined = (last && status == "past_due").then_some("card_declined");
        let charge_id = record(
            store,
            ids,
            *start + 60,
            line_amount,
            currency,
            customer_id,
            declined,
            if number == 0 {
                "Subscription creation"
            } else {
                "Subscription update"
            },
        );
        if declined.is_none() {
            succeeded.push(charge_id);
        }
        let invoice_id = id("in", ids.invoices);
        ids.invoices += 1;
        let description = format!("{quantity} × {nickname}");
        let invoice = fixtures::invoice(&InvoiceData {
            id: &invoice_id,
            number: Some(format!("SBX-{:04}", ids.invoices)),
            created: *start,
            customer: customer_id,
            customer_email: Some(email),
            customer_name: Some(name),
            currency,
            status: if declined.is_some() { "open" } else { "paid" },
            lines: vec![LineData {
                amount: line_amount,
                description: &description,
                quantity,
                subscription_item: Some(&item_id),
            }],
            subscription: Some(&sub_id),
            billing_reason: if number == 0 {
                "subscription_create"
            } else {
                "subscription_cycle"
            },
            collection_method: "charge_automatically",
            due_date: None,
            paid_at: declined.is_none().then_some(*start + 60),
            finalized_at: Some(*start),
            period_start: *start,
            period_end: period(*start),
            auto_advance: declined.is_some(),
            description: None,
            metadata: json!({}),
        });
        store.insert(Kind::Invoice, invoice);
        latest_invoice = Some(invoice_id);
    }

    let mut items = vec![ItemData {
        id: item_id,
        price: &price,
        quantity,
    }];
    if let Some(metered) = metered.as_ref() {
        items.push(ItemData {
            id: metered_item_id,
            price: metered,
            quantity: 1,
        });
    }
    let subscription: Value = fixtures::subscription(&SubscriptionData {
        id: &sub_id,
        created,
        customer: customer_id,
        currency,
        status,
        items,
        period_start: current_start,
        period_end: current_end,
        trial_end,
        canceled_at: ended_at,
        ended_at,
        collection_method: "charge_automatically",
        days_until_due: None,
        cancel_at_period_end: false,
        latest_invoice: latest_invoice.as_deref(),
        default_payment_method: Some("pm_card_visa"),
        description: None,
        metadata: json!({"seed": index}),
    });
    store.insert(Kind::Subscription, subscription);
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
            Kind::Charge,
            Kind::PaymentIntent,
            Kind::Customer,
            Kind::Subscription,
            Kind::Invoice,
            Kind::Refund,
            Kind::Price,
        ] {
            assert_eq!(one.all(kind), two.all(kind), "{kind:?}");
            for object in one.all(kind) {
                let created = object["created"].as_i64().unwrap();
                assert!(created < SEED_END, "{kind:?} {object}");
            }
        }
        assert_eq!(one.all(Kind::Customer).len(), 40);
        assert_eq!(one.all(Kind::Subscription).len(), 30);
        assert!(
            one.all(Kind::Charge).len() > 60,
            "{}",
            one.all(Kind::Charge).len()
        );
        assert!(one.all(Kind::Refund).len() >= 8);
        let statuses: std::collections::BTreeSet<_> = one
            .all(Kind::Subscription)
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
