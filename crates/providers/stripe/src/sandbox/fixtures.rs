//! Object shapes of the fake, taken from Stripe's official fixtures.
//!
//! `fixtures3.json` beside this file is `openapi/fixtures3.json` of the
//! `stripe/openapi` repository (commit f6c2a48fbac2819d1feba8143d942ffc65e1c0d2),
//! trimmed to the resources the fake serves. Every object the fake returns starts as
//! a copy of its fixture, so it has exactly the fields and nesting the real API
//! sends; the builders here only replace the values that identify and describe the
//! fake's own data (ids, times, amounts, statuses, links between objects) and reset
//! the fixture's placeholder values that would contradict them.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::spec::API_VERSION;

/// The fake's account id.
pub const ACCOUNT_ID: &str = "acct_1SandboxJunction0";

fn resources() -> &'static Map<String, Value> {
    static RESOURCES: OnceLock<Map<String, Value>> = OnceLock::new();
    RESOURCES.get_or_init(|| {
        serde_json::from_str::<Value>(include_str!("fixtures3.json"))
            .ok()
            .and_then(|file| file.get("resources").and_then(Value::as_object).cloned())
            .unwrap_or_default()
    })
}

/// A copy of the fixture of `resource` with `overrides` replacing top-level fields.
fn object(resource: &str, overrides: Value) -> Value {
    let mut base = resources()
        .get(resource)
        .cloned()
        .unwrap_or_else(|| json!({}));
    if let (Some(target), Value::Object(fields)) = (base.as_object_mut(), overrides) {
        for (key, value) in fields {
            target.insert(key, value);
        }
    }
    base
}

/// Removes top-level fields the pinned version does not send by default.
fn without(mut value: Value, fields: &[&str]) -> Value {
    if let Some(target) = value.as_object_mut() {
        for field in fields {
            target.remove(*field);
        }
    }
    value
}

pub(crate) fn account() -> Value {
    let mut account = object(
        "account",
        json!({
            "id": ACCOUNT_ID,
            "email": "sandbox@junction.invalid",
            "country": "US",
            "default_currency": "usd",
            "charges_enabled": true,
            "payouts_enabled": true,
            "details_submitted": true,
            "created": 1_735_689_600,
        }),
    );
    account["business_profile"]["name"] = json!("Junction Sandbox");
    account["settings"]["dashboard"]["display_name"] = json!("Junction Sandbox");
    account["external_accounts"]["url"] =
        json!(format!("/v1/accounts/{ACCOUNT_ID}/external_accounts"));
    account
}

/// The balance, with `available` amounts per currency.
pub(crate) fn balance(available: &[(String, i64)]) -> Value {
    let entries: Vec<Value> = available
        .iter()
        .map(|(currency, amount)| {
            json!({"amount": amount, "currency": currency, "source_types": {"card": amount}})
        })
        .collect();
    let pending: Vec<Value> = available
        .iter()
        .map(
            |(currency, _)| json!({"amount": 0, "currency": currency, "source_types": {"card": 0}}),
        )
        .collect();
    object(
        "balance",
        json!({"available": entries, "pending": pending, "connect_reserved": []}),
    )
}

/// What identifies and describes a customer.
pub(crate) struct CustomerData<'a> {
    pub id: &'a str,
    pub created: i64,
    pub email: Option<&'a str>,
    pub name: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub description: Option<&'a str>,
    pub currency: Option<&'a str>,
    pub metadata: Value,
}

pub(crate) fn customer(data: &CustomerData<'_>) -> Value {
    object(
        "customer",
        json!({
            "id": data.id,
            "created": data.created,
            "email": data.email,
            "name": data.name,
            "phone": data.phone,
            "description": data.description,
            "currency": data.currency,
            "metadata": data.metadata,
            "discount": null,
            "shipping": null,
            "invoice_prefix": data.id.trim_start_matches("cus_").chars().rev().take(8).collect::<String>().to_uppercase(),
        }),
    )
}

/// What identifies and describes a recurring price.
pub(crate) struct PriceData<'a> {
    pub id: &'a str,
    pub created: i64,
    pub currency: &'a str,
    pub unit_amount: i64,
    pub interval: &'a str,
    pub interval_count: i64,
    pub usage_type: &'a str,
    pub nickname: &'a str,
}

pub(crate) fn price(data: &PriceData<'_>) -> Value {
    object(
        "price",
        json!({
            "id": data.id,
            "created": data.created,
            "currency": data.currency,
            "unit_amount": data.unit_amount,
            "unit_amount_decimal": data.unit_amount.to_string(),
            "nickname": data.nickname,
            "product": format!("prod_{}", data.id.trim_start_matches("price_")),
            "recurring": {
                "interval": data.interval,
                "interval_count": data.interval_count,
                "meter": null,
                "usage_type": data.usage_type,
                "trial_period_days": null
            },
            "transform_quantity": null,
            "custom_unit_amount": null,
        }),
    )
}

/// A price as the legacy `plan` object subscription items still carry.
fn plan_of(price: &Value) -> Value {
    let base = resources()
        .get("subscription_item")
        .and_then(|item| item.get("plan"))
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut plan = base;
    let recurring = price.get("recurring").cloned().unwrap_or(Value::Null);
    for (key, value) in [
        ("id", price.get("id").cloned().unwrap_or(Value::Null)),
        ("active", json!(true)),
        (
            "amount",
            price.get("unit_amount").cloned().unwrap_or(Value::Null),
        ),
        (
            "amount_decimal",
            price
                .get("unit_amount_decimal")
                .cloned()
                .unwrap_or(Value::Null),
        ),
        ("billing_scheme", json!("per_unit")),
        (
            "created",
            price.get("created").cloned().unwrap_or(Value::Null),
        ),
        (
            "currency",
            price.get("currency").cloned().unwrap_or(Value::Null),
        ),
        (
            "interval",
            recurring.get("interval").cloned().unwrap_or(Value::Null),
        ),
        (
            "interval_count",
            recurring.get("interval_count").cloned().unwrap_or(json!(1)),
        ),
        ("livemode", json!(false)),
        ("metadata", json!({})),
        (
            "nickname",
            price.get("nickname").cloned().unwrap_or(Value::Null),
        ),
        (
            "product",
            price.get("product").cloned().unwrap_or(Value::Null),
        ),
        ("transform_usage", Value::Null),
        (
            "usage_type",
            recurring
                .get("usage_type")
                .cloned()
                .unwrap_or(json!("licensed")),
        ),
    ] {
        plan[key] = value;
    }
    plan
}

/// One item of a subscription being built.
pub(crate) struct ItemData<'a> {
    pub id: String,
    pub price: &'a Value,
    pub quantity: i64,
}

/// What identifies and describes a subscription.
pub(crate) struct SubscriptionData<'a> {
    pub id: &'a str,
    pub created: i64,
    pub customer: &'a str,
    pub currency: &'a str,
    pub status: &'a str,
    pub items: Vec<ItemData<'a>>,
    pub period_start: i64,
    pub period_end: i64,
    pub trial_end: Option<i64>,
    pub canceled_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub collection_method: &'a str,
    pub days_until_due: Option<i64>,
    pub cancel_at_period_end: bool,
    pub latest_invoice: Option<&'a str>,
    pub default_payment_method: Option<&'a str>,
    pub description: Option<&'a str>,
    pub metadata: Value,
}

pub(crate) fn subscription(data: &SubscriptionData<'_>) -> Value {
    let item_base = resources()
        .get("subscription_item")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let items: Vec<Value> = data
        .items
        .iter()
        .map(|item| {
            let mut value = item_base.clone();
            for (key, field) in [
                ("id", json!(item.id)),
                ("created", json!(data.created)),
                ("price", item.price.clone()),
                ("plan", plan_of(item.price)),
                ("quantity", json!(item.quantity)),
                ("subscription", json!(data.id)),
                ("current_period_start", json!(data.period_start)),
                ("current_period_end", json!(data.period_end)),
                ("billing_thresholds", Value::Null),
            ] {
                value[key] = field;
            }
            value
        })
        .collect();
    object(
        "subscription",
        json!({
            "id": data.id,
            "created": data.created,
            "start_date": data.created,
            "billing_cycle_anchor": data.period_start,
            "billing_cycle_anchor_config": null,
            "customer": data.customer,
            "currency": data.currency,
            "status": data.status,
            "items": {
                "object": "list",
                "data": items,
                "has_more": false,
                "total_count": data.items.len(),
                "url": format!("/v1/subscription_items?subscription={}", data.id)
            },
            "trial_start": data.trial_end.map(|_| data.created),
            "trial_end": data.trial_end,
            "cancel_at": null,
            "canceled_at": data.canceled_at,
            "ended_at": data.ended_at,
            "cancel_at_period_end": data.cancel_at_period_end,
            "collection_method": data.collection_method,
            "days_until_due": data.days_until_due,
            "latest_invoice": data.latest_invoice,
            "default_payment_method": data.default_payment_method,
            "description": data.description,
            "metadata": data.metadata,
            "next_pending_invoice_item_invoice": null,
            "pause_collection": null,
            "pending_invoice_item_interval": null,
            "pending_update": null,
            "transfer_data": null,
            "billing_thresholds": null,
            "billing_schedules": [],
            "cancellation_details": {"comment": null, "feedback": null, "reason": data.ended_at.map(|_| "cancellation_requested")},
        }),
    )
}

/// What identifies and describes a payment intent.
pub(crate) struct PaymentIntentData<'a> {
    pub id: &'a str,
    pub created: i64,
    pub amount: i64,
    pub currency: &'a str,
    pub customer: Option<&'a str>,
    pub status: &'a str,
    pub amount_received: i64,
    pub latest_charge: Option<&'a str>,
    pub payment_method: Option<&'a str>,
    pub capture_method: &'a str,
    pub description: Option<&'a str>,
    pub receipt_email: Option<&'a str>,
    pub automatic_payment_methods: bool,
    pub last_payment_error: Value,
    pub metadata: Value,
}

pub(crate) fn payment_intent(data: &PaymentIntentData<'_>) -> Value {
    object(
        "payment_intent",
        json!({
            "id": data.id,
            "created": data.created,
            "amount": data.amount,
            "amount_capturable": if data.status == "requires_capture" { data.amount } else { 0 },
            "amount_received": data.amount_received,
            "currency": data.currency,
            "customer": data.customer,
            "status": data.status,
            "latest_charge": data.latest_charge,
            "payment_method": data.payment_method,
            "capture_method": data.capture_method,
            "description": data.description,
            "receipt_email": data.receipt_email,
            "client_secret": format!("{}_secret_sandbox", data.id),
            "automatic_payment_methods": if data.automatic_payment_methods { json!({"enabled": true}) } else { Value::Null },
            "canceled_at": null,
            "last_payment_error": data.last_payment_error,
            "next_action": null,
            "processing": null,
            "shipping": null,
            "transfer_data": null,
            "payment_method_configuration_details": null,
            "metadata": data.metadata,
        }),
    )
}

/// What identifies and describes a charge.
pub(crate) struct ChargeData<'a> {
    pub id: &'a str,
    pub created: i64,
    pub amount: i64,
    pub currency: &'a str,
    pub customer: Option<&'a str>,
    pub payment_intent: Option<&'a str>,
    pub payment_method: &'a str,
    pub captured: bool,
    /// `None` for a successful charge, else the decline code.
    pub declined: Option<&'a str>,
    pub description: Option<&'a str>,
    pub billing_name: Option<&'a str>,
}

pub(crate) fn charge(data: &ChargeData<'_>) -> Value {
    let succeeded = data.declined.is_none();
    let outcome = match data.declined {
        None => json!({
            "advice_code": null, "network_advice_code": null, "network_decline_code": null,
            "network_status": "approved_by_network", "reason": null, "risk_level": "normal",
            "risk_score": 12, "seller_message": "Payment complete.", "type": "authorized"
        }),
        Some(code) => json!({
            "advice_code": null, "network_advice_code": null, "network_decline_code": null,
            "network_status": "declined_by_network", "reason": code, "risk_level": "normal",
            "risk_score": 23,
            "seller_message": "The bank did not return any further details with this decline.",
            "type": "issuer_declined"
        }),
    };
    let mut charge = object(
        "charge",
        json!({
            "id": data.id,
            "created": data.created,
            "amount": data.amount,
            "amount_captured": if succeeded && data.captured { data.amount } else { 0 },
            "amount_refunded": 0,
            "refunded": false,
            "captured": succeeded && data.captured,
            "paid": succeeded,
            "status": if succeeded { "succeeded" } else { "failed" },
            "failure_code": data.declined.map(|_| "card_declined"),
            "failure_message": data.declined.map(|_| "Your card was declined."),
            "currency": data.currency,
            "customer": data.customer,
            "payment_intent": data.payment_intent,
            "payment_method": data.payment_method,
            "description": data.description,
            "balance_transaction": if succeeded { Value::String(data.id.replacen("ch_", "txn_", 1)) } else { Value::Null },
            "outcome": outcome,
            "receipt_url": null,
            "source": null,
            "transfer_data": null,
            "shipping": null,
            "metadata": {},
        }),
    );
    charge["billing_details"]["name"] = json!(data.billing_name);
    // Since API version 2022-11-15 `refunds` is only sent when expanded.
    without(charge, &["refunds"])
}

/// What identifies and describes a refund.
pub(crate) struct RefundData<'a> {
    pub id: &'a str,
    pub created: i64,
    pub amount: i64,
    pub currency: &'a str,
    pub charge: &'a str,
    pub payment_intent: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub metadata: Value,
}

pub(crate) fn refund(data: &RefundData<'_>) -> Value {
    object(
        "refund",
        json!({
            "id": data.id,
            "created": data.created,
            "amount": data.amount,
            "currency": data.currency,
            "charge": data.charge,
            "payment_intent": data.payment_intent,
            "reason": data.reason,
            "status": "succeeded",
            "balance_transaction": data.id.replacen("re_", "txn_", 1),
            "metadata": data.metadata,
        }),
    )
}

/// One line of an invoice being built.
pub(crate) struct LineData<'a> {
    pub amount: i64,
    pub description: &'a str,
    pub quantity: i64,
    pub subscription_item: Option<&'a str>,
}

/// What identifies and describes an invoice.
pub(crate) struct InvoiceData<'a> {
    pub id: &'a str,
    pub number: Option<String>,
    pub created: i64,
    pub customer: &'a str,
    pub customer_email: Option<&'a str>,
    pub customer_name: Option<&'a str>,
    pub currency: &'a str,
    pub status: &'a str,
    pub lines: Vec<LineData<'a>>,
    pub subscription: Option<&'a str>,
    pub billing_reason: &'a str,
    pub collection_method: &'a str,
    pub due_date: Option<i64>,
    pub paid_at: Option<i64>,
    pub finalized_at: Option<i64>,
    pub period_start: i64,
    pub period_end: i64,
    pub auto_advance: bool,
    pub description: Option<&'a str>,
    pub metadata: Value,
}

pub(crate) fn invoice(data: &InvoiceData<'_>) -> Value {
    let line_base = resources()
        .get("invoice")
        .and_then(|invoice| invoice.pointer("/lines/data/0"))
        .cloned()
        .unwrap_or_else(|| json!({}));
    let lines: Vec<Value> = data
        .lines
        .iter()
        .enumerate()
        .map(|(index, line)| {
            let mut value = line_base.clone();
            let parent = match (data.subscription, line.subscription_item) {
                (Some(subscription), Some(item)) => json!({
                    "invoice_item_details": null,
                    "subscription_item_details": {
                        "invoice_item": null, "proration": false, "proration_details": {"credited_items": null},
                        "subscription": subscription, "subscription_item": item
                    },
                    "type": "subscription_item_details"
                }),
                _ => json!({
                    "invoice_item_details": {
                        "invoice_item": format!("ii_{}_{index}", data.id.trim_start_matches("in_")),
                        "proration": false, "proration_details": {"credited_items": null}, "subscription": null
                    },
                    "subscription_item_details": null,
                    "type": "invoice_item_details"
                }),
            };
            for (key, field) in [
                ("id", json!(format!("il_{}_{index}", data.id.trim_start_matches("in_")))),
                ("invoice", json!(data.id)),
                ("amount", json!(line.amount)),
                ("subtotal", json!(line.amount)),
                ("currency", json!(data.currency)),
                ("description", json!(line.description)),
                ("quantity", json!(line.quantity)),
                ("subscription", json!(data.subscription)),
                ("period", json!({"start": data.period_start, "end": data.period_end})),
                ("parent", parent),
            ] {
                value[key] = field;
            }
            value
        })
        .collect();
    let total: i64 = data.lines.iter().map(|line| line.amount).sum();
    let paid = data.status == "paid";
    let parent = match data.subscription {
        Some(subscription) => json!({
            "quote_details": null,
            "subscription_details": {"metadata": {}, "subscription": subscription},
            "type": "subscription_details"
        }),
        None => Value::Null,
    };
    object(
        "invoice",
        json!({
            "id": data.id,
            "number": data.number,
            "created": data.created,
            "effective_at": data.finalized_at,
            "customer": data.customer,
            "customer_email": data.customer_email,
            "customer_name": data.customer_name,
            "currency": data.currency,
            "status": data.status,
            "amount_due": total,
            "amount_paid": if paid { total } else { 0 },
            "amount_remaining": if paid { 0 } else { total },
            "amount_overpaid": 0,
            "subtotal": total,
            "subtotal_excluding_tax": total,
            "total": total,
            "total_excluding_tax": total,
            "attempted": paid,
            "attempt_count": i64::from(paid),
            "auto_advance": data.auto_advance,
            "billing_reason": data.billing_reason,
            "collection_method": data.collection_method,
            "due_date": data.due_date,
            "description": data.description,
            "period_start": data.period_start,
            "period_end": data.period_end,
            "subscription": data.subscription,
            "parent": parent,
            "lines": {
                "object": "list",
                "data": lines,
                "has_more": false,
                "url": format!("/v1/invoices/{}/lines", data.id)
            },
            "status_transitions": {
                "finalized_at": data.finalized_at,
                "marked_uncollectible_at": null,
                "paid_at": data.paid_at,
                "voided_at": null
            },
            "hosted_invoice_url": data.finalized_at.map(|_| format!("https://invoice.stripe.com/i/sandbox/{}", data.id)),
            "invoice_pdf": data.finalized_at.map(|_| format!("https://pay.stripe.com/invoice/sandbox/{}/pdf", data.id)),
            "next_payment_attempt": null,
            "webhooks_delivered_at": data.finalized_at,
            "from_invoice": null,
            "last_finalization_error": null,
            "shipping_cost": null,
            "shipping_details": null,
            "customer_shipping": null,
            "metadata": data.metadata,
        }),
    )
}

/// An event about `object`, as Stripe delivers it to webhook endpoints.
pub(crate) fn event(
    id: &str,
    created: i64,
    event_type: &str,
    object: &Value,
    previous_attributes: Option<Value>,
    idempotency_key: Option<&str>,
) -> Value {
    let mut data = json!({"object": object});
    if let Some(previous) = previous_attributes {
        data["previous_attributes"] = previous;
    }
    object_event(id, created, event_type, data, idempotency_key)
}

fn object_event(
    id: &str,
    created: i64,
    event_type: &str,
    data: Value,
    idempotency_key: Option<&str>,
) -> Value {
    object(
        "event",
        json!({
            "id": id,
            "created": created,
            "type": event_type,
            "api_version": API_VERSION,
            "data": data,
            "livemode": false,
            "pending_webhooks": 1,
            "request": {"id": format!("req_{}", id.trim_start_matches("evt_")), "idempotency_key": idempotency_key},
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_resource_has_a_fixture() {
        for name in [
            "account",
            "balance",
            "charge",
            "customer",
            "event",
            "invoice",
            "payment_intent",
            "price",
            "refund",
            "subscription",
            "subscription_item",
        ] {
            assert!(resources().contains_key(name), "{name}");
        }
    }

    #[test]
    fn builders_keep_the_fixture_fields() {
        let charge = charge(&ChargeData {
            id: "ch_1",
            created: 10,
            amount: 500,
            currency: "usd",
            customer: Some("cus_1"),
            payment_intent: Some("pi_1"),
            payment_method: "pm_card_visa",
            captured: true,
            declined: None,
            description: None,
            billing_name: Some("Ada"),
        });
        let fixture = &resources()["charge"];
        for key in fixture.as_object().unwrap().keys() {
            if key != "refunds" {
                assert!(charge.get(key).is_some(), "{key}");
            }
        }
        assert_eq!(charge["amount_captured"], 500);
        assert_eq!(charge["billing_details"]["name"], "Ada");
        assert_eq!(charge["object"], "charge");
    }
}
