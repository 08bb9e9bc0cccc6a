//! Object shapes of the fake, taken from Stripe's official fixtures, and Stripe's
//! error object.
//!
//! `fixtures3.json` beside this file is `openapi/fixtures3.json` of the
//! `stripe/openapi` repository (commit f6c2a48fbac2819d1feba8143d942ffc65e1c0d2),
//! trimmed to the resources the fake serves. Every object the fake returns starts as
//! a copy of its fixture, so it has exactly the fields and nesting the real API
//! sends; `defaults.json` resets the fixture's placeholder values the fake never
//! varies, and the builders here set the values that identify and describe the
//! fake's own data (ids, times, amounts, statuses, links between objects) from the
//! fields they are given, adding what follows from them.

use std::sync::OnceLock;

use junction_toolkit::fake::{Data, ErrorShape, fill};
use serde_json::{Map, Value, json};

use crate::spec::API_VERSION;

/// The fake's account id.
pub const ACCOUNT_ID: &str = "acct_1SandboxJunction0";

/// Stripe's error object, `{"error": {"type", "code", "message", "param", ...}}`:
/// the type follows the status unless the caller sets another (`card_error`,
/// `idempotency_error`), a code links to its documentation.
pub(crate) const ERRORS: ErrorShape = ErrorShape::new(Some("/error/code"), "/error/message")
    .finish(|status, body| {
        let error = &mut body["error"];
        error["type"] = json!(if status >= 500 {
            "api_error"
        } else {
            "invalid_request_error"
        });
        if let Some(code) = error["code"].as_str() {
            let page = code.replace('_', "-");
            error["doc_url"] = json!(format!("https://stripe.com/docs/error-codes/{page}"));
        }
        error["request_log_url"] = json!("https://dashboard.stripe.com/test/logs");
    })
    .catalogue(&WORDS, "");

/// The seed, the lists and their filters, the catalog (`seed.json`).
pub(crate) static SEED: Data = Data::new(include_str!("seed.json"));

/// Stripe's words (`errors.json`).
static WORDS: Data = Data::new(include_str!("errors.json"));

/// The fixtures and the fake's defaults, by resource.
fn data() -> &'static (Map<String, Value>, Map<String, Value>) {
    static DATA: OnceLock<(Map<String, Value>, Map<String, Value>)> = OnceLock::new();
    DATA.get_or_init(|| {
        let read = |text: &str, pointer: &str| {
            serde_json::from_str::<Value>(text)
                .ok()
                .and_then(|file| file.pointer(pointer).and_then(Value::as_object).cloned())
                .unwrap_or_default()
        };
        (
            read(include_str!("fixtures3.json"), "/resources"),
            read(include_str!("defaults.json"), ""),
        )
    })
}

fn resources() -> &'static Map<String, Value> {
    &data().0
}

/// `fields` over `base`, top-level field by field.
fn merged(mut base: Value, fields: Option<&Value>) -> Value {
    if let (Some(target), Some(Value::Object(fields))) = (base.as_object_mut(), fields) {
        for (key, value) in fields {
            target.insert(key.clone(), value.clone());
        }
    }
    base
}

/// A copy of the fixture of `resource` with the fake's defaults and `fields` over it.
pub(crate) fn object(resource: &str, fields: Value) -> Value {
    let base = resources().get(resource).cloned().unwrap_or(json!({}));
    merged(merged(base, data().1.get(resource)), Some(&fields))
}

/// Text at `pointer` of `value`.
fn text<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// The fake's account (`defaults.json` says what it is).
pub(crate) fn account() -> Value {
    object("account", json!({}))
}

/// The balance, with `available` amounts per currency.
pub(crate) fn balance(available: &[(String, i64)]) -> Value {
    let entry = |currency: &str, amount: i64| json!({"amount": amount, "currency": currency, "source_types": {"card": amount}});
    object(
        "balance",
        json!({
            "available": available.iter().map(|(c, a)| entry(c, *a)).collect::<Vec<_>>(),
            "pending": available.iter().map(|(c, _)| entry(c, 0)).collect::<Vec<_>>(),
            "connect_reserved": [],
        }),
    )
}

/// A customer from its `id`, `created`, `email`, `name`, `phone`, `description`,
/// `currency` and `metadata`.
pub(crate) fn customer(fields: Value) -> Value {
    let id = text(&fields, "/id").unwrap_or_default();
    let prefix: String = id
        .trim_start_matches("cus_")
        .chars()
        .rev()
        .take(8)
        .collect();
    let prefix = prefix.to_uppercase();
    let mut customer = object("customer", fields);
    customer["invoice_prefix"] = json!(prefix);
    customer
}

/// A recurring price from its `id`, `created`, `currency`, `unit_amount`,
/// `nickname` and `recurring` (`interval`, `interval_count`, `usage_type`).
pub(crate) fn price(fields: Value) -> Value {
    let mut price = object("price", fields);
    let id = text(&price, "/id").unwrap_or_default().to_owned();
    price["product"] = json!(format!("prod_{}", id.trim_start_matches("price_")));
    price["unit_amount_decimal"] = json!(price["unit_amount"].to_string());
    if price["recurring"].is_object() {
        price["recurring"]["meter"] = Value::Null;
        price["recurring"]["trial_period_days"] = Value::Null;
    } else {
        price["type"] = json!("one_time");
    }
    price
}

/// A price as the legacy `plan` object subscription items still carry.
pub(crate) fn plan_of(price: &Value) -> Value {
    let base = resources()
        .get("subscription_item")
        .and_then(|item| item.get("plan"))
        .cloned()
        .unwrap_or(json!({}));
    let vars = merged(price.clone(), Some(&price["recurring"]));
    merged(
        merged(base, data().1.get("plan")),
        Some(&template("plan", &vars)),
    )
}

/// The template `name` of `defaults.json` filled with `vars`.
fn template(name: &str, vars: &Value) -> Value {
    fill(&data().1["templates"][name], vars)
}

/// A subscription from its own fields (`id`, `created`, `customer`, `currency`,
/// `status`, `trial_end`, `canceled_at`, `ended_at`, `collection_method`,
/// `days_until_due`, `cancel_at_period_end`, `latest_invoice`,
/// `default_payment_method`, `description`, `metadata`), its items (id, price,
/// quantity) and its current period.
pub(crate) fn subscription(
    fields: Value,
    items: &[(String, &Value, i64)],
    period: (i64, i64),
) -> Value {
    let subscription = object("subscription", fields);
    let id = subscription["id"].clone();
    let created = subscription["created"].clone();
    let items: Vec<Value> = items
        .iter()
        .map(|(item_id, price, quantity)| {
            object(
                "subscription_item",
                json!({
                    "id": item_id, "created": created, "price": price, "plan": plan_of(price),
                    "quantity": quantity, "subscription": id,
                    "current_period_start": period.0, "current_period_end": period.1,
                }),
            )
        })
        .collect();
    let ended = !subscription["ended_at"].is_null();
    let trial = !subscription["trial_end"].is_null();
    let vars = json!({
        "id": id, "created": created, "anchor": period.0, "count": items.len(), "items": items,
        "trial_start": if trial { created.clone() } else { Value::Null },
        "reason": if ended { json!("cancellation_requested") } else { Value::Null },
    });
    let more = template("subscription", &vars);
    merged(subscription, Some(&more))
}

/// A payment intent from its fields, `automatic_payment_methods` given as a flag.
pub(crate) fn payment_intent(fields: Value) -> Value {
    let mut intent = object("payment_intent", fields);
    let capturable = text(&intent, "/status") == Some("requires_capture");
    intent["amount_capturable"] = if capturable {
        intent["amount"].clone()
    } else {
        json!(0)
    };
    let id = text(&intent, "/id").unwrap_or_default().to_owned();
    intent["client_secret"] = json!(format!("{id}_secret_sandbox"));
    intent["automatic_payment_methods"] = match intent["automatic_payment_methods"] {
        Value::Bool(true) => json!({"enabled": true}),
        _ => Value::Null,
    };
    intent
}

/// A charge from its `id`, `created`, `amount`, `currency`, `customer`,
/// `payment_intent`, `payment_method`, `description` and `receipt_email` (the
/// payment intent's, as Stripe copies it): captured or not, declined
/// with a code or not, billed to a name.
pub(crate) fn charge(
    fields: Value,
    captured: bool,
    declined: Option<&str>,
    billing_name: Option<&str>,
) -> Value {
    let succeeded = declined.is_none();
    let outcome = if succeeded {
        "authorized"
    } else {
        "issuer_declined"
    };
    let mut charge = object("charge", fields);
    let id = text(&charge, "/id").unwrap_or_default().to_owned();
    let amount = charge["amount"].as_i64().unwrap_or(0);
    let more = json!({
        "amount_captured": if succeeded && captured { amount } else { 0 },
        "captured": succeeded && captured,
        "paid": succeeded,
        "status": if succeeded { "succeeded" } else { "failed" },
        "failure_code": declined.map(|_| "card_declined"),
        "failure_message": declined.map(|_| "Your card was declined."),
        "balance_transaction": succeeded.then(|| id.replacen("ch_", "txn_", 1)),
        "receipt_url": succeeded.then(|| format!("https://pay.stripe.com/receipts/sandbox/{id}")),
        "outcome": data().1.get("charge_outcome").and_then(|o| o.get(outcome)),
    });
    charge = merged(charge, Some(&more));
    charge["outcome"]["reason"] = json!(declined);
    charge["billing_details"]["name"] = json!(billing_name);
    // Since API version 2022-11-15 `refunds` is only sent when expanded.
    if let Some(fields) = charge.as_object_mut() {
        fields.remove("refunds");
    }
    charge
}

/// A refund from its fields.
pub(crate) fn refund(fields: Value) -> Value {
    let mut refund = object("refund", fields);
    let id = text(&refund, "/id").unwrap_or_default().to_owned();
    refund["balance_transaction"] = json!(id.replacen("re_", "txn_", 1));
    refund
}

/// One line of an invoice being built: amount, description, quantity, and the
/// subscription item it bills.
pub(crate) type Line = (i64, String, i64, Option<String>);

/// An invoice from its fields (`id`, `number`, `created`, `customer`,
/// `customer_email`, `customer_name`, `currency`, `status`, `subscription`,
/// `billing_reason`, `collection_method`, `due_date`, `effective_at` — when it was
/// finalized —, `period_start`, `period_end`, `auto_advance`, `description`,
/// `metadata`), its lines and when it was paid.
pub(crate) fn invoice(fields: Value, lines: &[Line], paid_at: Option<i64>) -> Value {
    let invoice = object("invoice", fields);
    let id = text(&invoice, "/id").unwrap_or_default().to_owned();
    let short = id.trim_start_matches("in_").to_owned();
    let subscription = invoice["subscription"].clone();
    let line_base = resources()
        .get("invoice")
        .and_then(|invoice| invoice.pointer("/lines/data/0"))
        .cloned()
        .unwrap_or(json!({}));
    let lines_json: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(index, (amount, description, quantity, item))| {
            let vars = json!({
                "short": short, "index": index, "invoice": id, "amount": amount,
                "currency": invoice["currency"], "description": description, "quantity": quantity,
                "subscription": subscription, "item": item, "start": invoice["period_start"],
                "end": invoice["period_end"],
            });
            let parent = match (subscription.is_string(), item) {
                (true, Some(_)) => "line_subscription_parent",
                _ => "line_item_parent",
            };
            let line = merged(
                template("line", &vars),
                Some(&json!({"parent": template(parent, &vars)})),
            );
            merged(line_base.clone(), Some(&line))
        })
        .collect();
    let total: i64 = lines.iter().map(|line| line.0).sum();
    let paid = text(&invoice, "/status") == Some("paid");
    let finalized = invoice["effective_at"].clone();
    let url = |base: &str, tail: &str| match finalized {
        Value::Null => Value::Null,
        _ => json!(format!("{base}/{id}{tail}")),
    };
    let vars = json!({
        "id": id, "total": total, "paid": if paid { total } else { 0 },
        "remaining": if paid { 0 } else { total }, "attempted": paid,
        "attempts": i64::from(paid), "lines": lines_json, "finalized": finalized,
        "paid_at": paid_at, "hosted": url("https://invoice.stripe.com/i/sandbox", ""),
        "pdf": url("https://pay.stripe.com/invoice/sandbox", "/pdf"),
        "parent": match subscription {
            Value::Null => Value::Null,
            _ => template("invoice_parent", &json!({"subscription": subscription})),
        },
    });
    let more = template("invoice", &vars);
    merged(invoice, Some(&more))
}

/// An invoice item from its `id`, `created`, `customer`, `amount`, `currency`,
/// `description`, `invoice`, `quantity`, `period`, `proration`, `discountable`,
/// `metadata`, the price it bills (or none) and the subscription it came from.
pub(crate) fn invoice_item(
    fields: Value,
    price: Option<&Value>,
    subscription: Option<&str>,
) -> Value {
    let mut item = object("invoiceitem", fields);
    item["date"] = item["created"].clone();
    if let Some(fields) = item.as_object_mut() {
        fields.remove("created");
    }
    item["net_amount"] = item["amount"].clone();
    item["quantity_decimal"] = json!(item["quantity"].to_string());
    item["pricing"] = match price {
        Some(price) => {
            json!({"type": "price_details", "price_details": {"price": price["id"], "product": price["product"]}, "unit_amount_decimal": price["unit_amount_decimal"]})
        }
        None => json!({"type": "price_details", "unit_amount_decimal": null}),
    };
    item["parent"] = match subscription {
        Some(subscription) => {
            json!({"type": "subscription_details", "subscription_details": {"subscription": subscription}})
        }
        None => Value::Null,
    };
    item
}

/// A Checkout Session from its own fields (`id`, `created`, `expires_at`, `mode`,
/// `currency`, `amount_subtotal`, `amount_total`, `customer`, `customer_email`,
/// `client_reference_id`, `success_url`, `cancel_url`, `allow_promotion_codes`,
/// `metadata`), open and unpaid, at its Stripe-hosted `url`.
pub(crate) fn checkout_session(fields: Value) -> Value {
    let mut session = object("checkout.session", fields);
    let id = text(&session, "/id").unwrap_or_default().to_owned();
    let more = json!({
        "status": "open", "payment_status": "unpaid", "payment_intent": null,
        "payment_link": null, "invoice": null, "subscription": null, "setup_intent": null,
        "url": format!("https://checkout.stripe.com/c/pay/{id}"), "client_secret": null,
        "customer_details": null, "shipping_cost": null, "shipping_address_collection": null,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "after_expiration": null, "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
        "collected_information": null, "payment_method_configuration_details": null,
    });
    session = merged(session, Some(&more));
    session
}

/// A Payment Link from its `id`, `currency`, `after_completion`,
/// `allow_promotion_codes` and `metadata`, at its `url`.
pub(crate) fn payment_link(fields: Value) -> Value {
    let mut link = object("payment_link", fields);
    let id = text(&link, "/id").unwrap_or_default().to_owned();
    let short = id.trim_start_matches("plink_").to_owned();
    let more = json!({
        "active": true, "url": format!("https://buy.stripe.com/test_{short}"),
        "restrictions": null, "shipping_address_collection": null, "transfer_data": null,
        "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
        "payment_intent_data": null, "subscription_data": null,
        "payment_method_options": null,
    });
    link = merged(link, Some(&more));
    link
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
    let request = format!("req_{}", id.trim_start_matches("evt_"));
    self::object(
        "event",
        json!({
            "id": id, "created": created, "type": event_type, "api_version": API_VERSION,
            "data": data, "request": {"id": request, "idempotency_key": idempotency_key},
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
            "invoiceitem",
            "checkout.session",
            "payment_link",
        ] {
            assert!(resources().contains_key(name), "{name}");
        }
        for name in data().1.keys().filter(|k| !k.starts_with('_')) {
            let known = resources().contains_key(name)
                || ["plan", "charge_outcome", "templates"].contains(&name.as_str());
            assert!(known, "defaults for {name}");
        }
    }

    #[test]
    fn the_account_is_the_published_one() {
        assert_eq!(account()["id"], ACCOUNT_ID);
        assert_eq!(account()["business_profile"]["name"], "Junction Sandbox");
    }

    #[test]
    fn builders_keep_the_fixture_fields() {
        let charge = charge(
            json!({
                "id": "ch_1", "created": 10, "amount": 500, "currency": "usd",
                "customer": "cus_1", "payment_intent": "pi_1",
                "payment_method": "pm_card_visa", "description": null,
            }),
            true,
            None,
            Some("Ada"),
        );
        let fixture = &resources()["charge"];
        for key in fixture.as_object().unwrap().keys() {
            if key != "refunds" {
                assert!(charge.get(key).is_some(), "{key}");
            }
        }
        assert_eq!(charge["amount_captured"], 500);
        assert_eq!(charge["billing_details"]["name"], "Ada");
        assert_eq!(charge["object"], "charge");
        assert_eq!(charge["outcome"]["type"], "authorized");
        assert_eq!(charge["outcome"]["reason"], Value::Null);
    }
}
