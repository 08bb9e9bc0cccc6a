//! The fake's data and what its endpoints do to it: lists with Stripe's paging and
//! filters, retrieval, and the create endpoints with Stripe's validation, side
//! effects (a confirmed payment intent makes a charge, a refund updates its charge, a
//! subscription makes its first invoice and payment) and events. Changes after
//! creation live beside: subscriptions and invoices in `billing`, customers and
//! payment pages in `commerce`.

mod billing;
mod commerce;

use std::collections::BTreeMap;

use chrono::{DateTime, Days, Months, Utc};
use junction_core::fake::{FakeRequest, FakeResponse};
use junction_toolkit::fake::{Fields, PageError, Pager};
use serde_json::{Value, json};

use super::fixtures::{self, ERRORS, SEED};
use crate::streams::PAGING;

/// The kind served at `/v1/{segment}` (the lists of `seed.json`).
pub(crate) fn kind(segment: &str) -> Option<&'static str> {
    let lists = SEED.at("/lists").as_object()?;
    lists
        .keys()
        .find(|kind| *kind == segment)
        .map(String::as_str)
}

/// How Stripe names a kind in "No such …" messages.
fn label(kind: &str) -> &str {
    kind.strip_suffix('s').unwrap_or(kind)
}

/// Stripe's lists: newest first, `limit` 1–100 (default 10), `starting_after` or
/// `ending_before`.
const PAGER: Pager = Pager::new(PAGING).size(10, 100).backward("ending_before");

/// The values the subscriptions list's `status` takes.
const SUBSCRIPTION_STATUS_FILTERS: &str =
    "active all canceled ended incomplete incomplete_expired past_due paused trialing unpaid";

/// When and under which idempotency key an operation runs.
#[derive(Debug, Clone)]
pub(crate) struct Op {
    pub now: i64,
    pub idempotency_key: Option<String>,
}

/// Every object of the fake by kind, the events its operations emitted, and an id
/// counter.
#[derive(Debug, Default)]
pub(crate) struct Store {
    objects: BTreeMap<&'static str, Vec<Value>>,
    events: Vec<Value>,
    next: u64,
}

/// An error response, already rendered the way Stripe renders it.
pub(crate) type Refused = Box<FakeResponse>;

/// The catalogue's error `name`.
fn named(name: &str, vars: &[(&str, &str)]) -> Refused {
    Box::new(ERRORS.named(name, vars))
}

fn missing(kind: &str, id: &str, param: &str) -> Refused {
    named(
        "no_such",
        &[("label", label(kind)), ("id", id), ("param", param)],
    )
}

fn missing_param(name: &str) -> Refused {
    named("missing_parameter", &[("param", name)])
}

fn text(object: &Value, field: &str) -> Option<String> {
    object.get(field).and_then(Value::as_str).map(str::to_owned)
}

fn int(object: &Value, field: &str) -> i64 {
    object.get(field).and_then(Value::as_i64).unwrap_or(0)
}

impl Store {
    /// Adds an object (newest last: lists break ties in `created` by insertion).
    pub(crate) fn insert(&mut self, kind: &'static str, object: Value) {
        self.objects.entry(kind).or_default().push(object);
    }

    /// All objects of a kind, in insertion order.
    pub(crate) fn all(&self, kind: &str) -> &[Value] {
        self.objects.get(kind).map(Vec::as_slice).unwrap_or(&[])
    }

    pub(crate) fn get(&self, kind: &str, id: &str) -> Option<&Value> {
        self.all(kind)
            .iter()
            .find(|object| object.get("id").and_then(Value::as_str) == Some(id))
    }

    fn get_mut(&mut self, kind: &str, id: &str) -> Option<&mut Value> {
        self.objects
            .get_mut(kind)?
            .iter_mut()
            .find(|object| object.get("id").and_then(Value::as_str) == Some(id))
    }

    /// Marks `amount` of a charge as refunded (the seed's refunds).
    pub(crate) fn set_refunded(&mut self, charge_id: &str, amount: i64, full: bool) {
        if let Some(charge) = self.get_mut("charges", charge_id) {
            charge["amount_refunded"] = json!(amount);
            charge["refunded"] = json!(full);
        }
    }

    /// A fresh id with Stripe's prefix for objects created through the API.
    fn new_id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}_1Sbx{:010}", self.next)
    }

    /// The events emitted so far, oldest first.
    pub(crate) fn events(&self) -> &[Value] {
        &self.events
    }

    fn emit(&mut self, op: &Op, event_type: &str, object: &Value, previous: Option<Value>) {
        let id = self.new_id("evt");
        let key = op.idempotency_key.as_deref();
        let event = fixtures::event(&id, op.now, event_type, object, previous, key);
        self.events.push(event);
    }

    /// `available` balance per currency: what succeeded charges kept after refunds.
    pub(crate) fn balance(&self) -> Value {
        let mut available: BTreeMap<String, i64> = BTreeMap::new();
        for charge in self.all("charges") {
            if text(charge, "status").as_deref() == Some("succeeded")
                && let Some(currency) = text(charge, "currency")
            {
                *available.entry(currency).or_default() +=
                    int(charge, "amount_captured") - int(charge, "amount_refunded");
            }
        }
        fixtures::balance(&available.into_iter().collect::<Vec<_>>())
    }

    /// `GET /v1/{kind}/{id}`.
    pub(crate) fn retrieve(&self, kind: &str, id: &str) -> Result<Value, Refused> {
        let vars = [("label", label(kind)), ("id", id)];
        self.get(kind, id)
            .cloned()
            .ok_or_else(|| named("not_retrieved", &vars))
    }

    /// `GET /v1/{kind}`: newest first, paged, `created` and its `[gt|gte|lt|lte]`
    /// forms and the kind's own filters. Unknown parameters are refused as Stripe
    /// refuses them.
    pub(crate) fn list(&self, kind: &str, request: &FakeRequest) -> Result<Value, Refused> {
        let filters = &SEED.at("/lists")[kind];
        let mut created: Vec<(String, i64)> = Vec::new();
        let mut wanted: Vec<(String, String)> = Vec::new();
        for (key, value) in request.query_pairs() {
            match key.as_str() {
                "limit" | "starting_after" | "ending_before" => {}
                "created" | "created[gt]" | "created[gte]" | "created[lt]" | "created[lte]" => {
                    let refused =
                        || named("invalid_integer", &[("param", &key), ("value", &value)]);
                    let parsed: i64 = value.parse().map_err(|_| refused())?;
                    let op = key
                        .strip_prefix("created[")
                        .and_then(|r| r.strip_suffix(']'));
                    created.push((op.unwrap_or("eq").to_owned(), parsed));
                }
                other if filters.get(other).is_some() => wanted.push((key.clone(), value)),
                other => return Err(named("unknown_parameter", &[("param", other)])),
            }
        }
        let status = wanted.iter().find(|(k, _)| k == "status").map(|(_, v)| v);
        if kind == "subscriptions"
            && let Some(status) = status
            && !SUBSCRIPTION_STATUS_FILTERS.split(' ').any(|s| s == status)
        {
            return Err(named("subscription_status", &[]));
        }
        // Newest first; among equal `created`, the later insertion first. Anchors
        // are found among all objects, so a page may start after one the filters
        // leave out.
        let mut objects: Vec<(usize, &Value)> = self.all(kind).iter().enumerate().collect();
        objects.sort_by_key(|(index, object)| std::cmp::Reverse((int(object, "created"), *index)));
        let objects = objects.into_iter().map(|(_, o)| o.clone()).collect();
        let keep = |object: &Value| {
            created_matches(object, &created)
                && wanted
                    .iter()
                    .all(|(f, v)| filter_matches(kind, object, f, v, &filters[f]))
                && (kind != "subscriptions"
                    || status.is_some()
                    || text(object, "status").as_deref() != Some("canceled"))
        };
        let page = PAGER
            .page_where(request, objects, keep)
            .map_err(|refusal| match refusal {
                PageError::Size {
                    value,
                    integer: false,
                    param,
                } => named("invalid_integer", &[("param", param), ("value", &value)]),
                PageError::Cursor { param, value } => missing(kind, &value, param),
                PageError::BothDirections => named("both_cursors", &[]),
                _ => named("limit_range", &[]),
            })?;
        Ok(page
            .with("/object", json!("list"))
            .with("/url", json!(format!("/v1/{kind}")))
            .body)
    }
}

fn created_matches(object: &Value, conditions: &[(String, i64)]) -> bool {
    let created = int(object, "created");
    conditions.iter().all(|(op, bound)| match op.as_str() {
        "gt" => created > *bound,
        "gte" => created >= *bound,
        "lt" => created < *bound,
        "lte" => created <= *bound,
        _ => created == *bound,
    })
}

fn filter_matches(kind: &str, object: &Value, field: &str, value: &str, at: &Value) -> bool {
    match (kind, field) {
        ("subscriptions", "status") => {
            let status = text(object, "status").unwrap_or_default();
            match value {
                "all" => true,
                "ended" => status == "canceled" || status == "incomplete_expired",
                other => status == other,
            }
        }
        ("invoiceitems", "pending") => object["invoice"].is_null() == (value == "true"),
        ("subscriptions", "price") => {
            let items = object.pointer("/items/data").and_then(Value::as_array);
            items.is_some_and(|items| items.iter().any(|item| item["price"]["id"] == value))
        }
        // The field's text (a boolean as `true` or `false`).
        _ => junction_toolkit::data::text(object.pointer(at.as_str().unwrap_or_default()))
            .is_some_and(|text| text == value),
    }
}

/// The body's parameters, each one of `allowed` (names separated by spaces).
fn params<'a>(body: &'a Value, allowed: &str) -> Result<Fields<'a>, Refused> {
    Ok(Fields::form(body, allowed, &ERRORS)?)
}

/// A three-letter currency code, lower-cased.
fn currency(params: &Fields<'_>, name: &str) -> Result<Option<String>, Refused> {
    match params.text(name)? {
        Some(code) if code.len() == 3 && code.chars().all(|c| c.is_ascii_alphabetic()) => {
            Ok(Some(code.to_ascii_lowercase()))
        }
        Some(code) => Err(Box::new(params.refuse("invalid_currency", name, &code))),
        None => Ok(None),
    }
}

/// `collection_method` (default `charge_automatically`) and `days_until_due`, which
/// sending invoices needs.
fn collection(params: &Fields<'_>) -> Result<(String, Option<i64>), Refused> {
    let method = params
        .choice("collection_method", "charge_automatically send_invoice")?
        .unwrap_or_else(|| "charge_automatically".to_owned());
    let days = params.integer("days_until_due")?;
    if method == "send_invoice" && days.is_none() {
        return Err(missing_param("days_until_due"));
    }
    Ok((method, days))
}

/// A test payment method: what confirming with it does (`None`: no such method;
/// else its decline code, if it declines).
fn card_outcome(payment_method: &str) -> Option<Option<&'static str>> {
    SEED.at("/cards").get(payment_method).map(Value::as_str)
}

fn decline_message(code: &str) -> &'static str {
    SEED.at("/declines")[code]
        .as_str()
        .unwrap_or("Your card was declined.")
}

fn no_payment_method(pm: &str, param: &str) -> Refused {
    named("no_such_payment_method", &[("id", pm), ("param", param)])
}

/// The end of a billing period of `count` intervals starting at `start`.
pub(crate) fn period_end(start: i64, interval: &str, count: i64) -> i64 {
    let Some(at) = DateTime::<Utc>::from_timestamp(start, 0) else {
        return start;
    };
    let count = u32::try_from(count.max(1)).unwrap_or(1);
    let end = match interval {
        "day" => at.checked_add_days(Days::new(u64::from(count))),
        "week" => at.checked_add_days(Days::new(7 * u64::from(count))),
        "year" => at.checked_add_months(Months::new(12 * count)),
        _ => at.checked_add_months(Months::new(count)),
    };
    end.map_or(start, |end| end.timestamp())
}

impl Store {
    /// Stores a confirmed payment: the payment intent (`id`, `latest_charge`,
    /// `created`, `amount`, `currency`, `customer`, `payment_method`, `description`,
    /// `receipt_email`, `automatic_payment_methods`, `metadata`) and its charge,
    /// captured or not, declined with a code or not; the payment intent.
    pub(crate) fn record_payment(
        &mut self,
        payment: Value,
        capture: bool,
        declined: Option<&str>,
    ) -> Value {
        let field = |name: &str| payment.get(name).cloned().unwrap_or(Value::Null);
        let charge_id = field("latest_charge");
        let payment_method = field("payment_method");
        let billing_name = payment["customer"]
            .as_str()
            .and_then(|id| self.get("customers", id))
            .and_then(|customer| text(customer, "name"));
        let charge = fixtures::charge(
            json!({
                "id": charge_id, "created": field("created"), "amount": field("amount"),
                "currency": field("currency"), "customer": field("customer"),
                "payment_intent": field("id"), "payment_method": payment_method,
                "description": field("description"), "receipt_email": field("receipt_email"),
            }),
            capture,
            declined,
            billing_name.as_deref(),
        );
        let (status, received, error) = match declined {
            None if capture => ("succeeded", field("amount"), Value::Null),
            None => ("requires_capture", json!(0), Value::Null),
            Some(code) => (
                "requires_payment_method",
                json!(0),
                json!({
                    "type": "card_error", "code": "card_declined", "decline_code": code,
                    "message": decline_message(code), "charge": charge_id,
                    "payment_method": {"id": payment_method, "object": "payment_method", "type": "card"}
                }),
            ),
        };
        let more = json!({
            "status": status, "amount_received": received,
            "payment_method": if declined.is_none() { payment_method } else { Value::Null },
            "capture_method": if capture { "automatic" } else { "manual" },
            "last_payment_error": error,
        });
        let mut intent = payment;
        if let (Some(intent), Value::Object(more)) = (intent.as_object_mut(), more) {
            intent.extend(more);
        }
        let intent = fixtures::payment_intent(intent);
        self.insert("charges", charge);
        self.insert("payment_intents", intent.clone());
        intent
    }

    /// `POST /v1/{kind}`.
    pub(crate) fn create(&mut self, kind: &str, body: &Value, op: &Op) -> Result<Value, Refused> {
        match kind {
            "customers" => self.create_customer(body, op),
            "payment_intents" => self.create_payment_intent(body, op),
            "subscriptions" => self.create_subscription(body, op),
            "refunds" => self.create_refund(body, op),
            "invoiceitems" => self.create_invoice_item(body, op),
            "checkout_sessions" => self.create_checkout_session(body, op),
            "payment_links" => self.create_payment_link(body, op),
            _ => self.create_invoice(body, op),
        }
    }

    fn create_customer(&mut self, body: &Value, op: &Op) -> Result<Value, Refused> {
        let params = params(body, "email name phone description metadata")?;
        let mut fields =
            json!({"created": op.now, "currency": null, "metadata": params.hash("metadata")?});
        for name in ["email", "name", "phone", "description"] {
            fields[name] = json!(params.text(name)?);
        }
        fields["id"] = json!(self.new_id("cus"));
        let customer = fixtures::customer(fields);
        self.insert("customers", customer.clone());
        self.emit(op, "customer.created", &customer, None);
        Ok(customer)
    }

    fn create_payment_intent(&mut self, body: &Value, op: &Op) -> Result<Value, Refused> {
        let params = params(
            body,
            "amount currency customer description receipt_email payment_method \
             confirm off_session return_url capture_method automatic_payment_methods \
             statement_descriptor_suffix metadata",
        )?;
        let amount = params
            .integer("amount")?
            .ok_or_else(|| missing_param("amount"))?;
        let currency = currency(&params, "currency")?.ok_or_else(|| missing_param("currency"))?;
        if amount < 1 {
            return Err(named("amount_min", &[]));
        }
        if matches!(currency.as_str(), "usd" | "eur" | "gbp") && amount < 50 {
            return Err(named("amount_too_small", &[("currency", &currency)]));
        }
        let customer = self.existing_customer(&params)?;
        let capture_method = params
            .choice("capture_method", "automatic automatic_async manual")?
            .unwrap_or_else(|| "automatic_async".to_owned());
        let automatic_payment_methods = match params.map.get("automatic_payment_methods") {
            None => false,
            Some(Value::Object(fields)) => match fields.get("enabled").and_then(Value::as_str) {
                Some(flag @ ("true" | "false")) => flag == "true",
                _ => return Err(missing_param("automatic_payment_methods[enabled]")),
            },
            Some(_) => {
                return Err(Box::new(params.refuse(
                    "invalid_hash",
                    "automatic_payment_methods",
                    "",
                )));
            }
        };
        let payment_method = params.text("payment_method")?;
        let outcome = match payment_method.as_deref() {
            Some(pm) => {
                Some(card_outcome(pm).ok_or_else(|| no_payment_method(pm, "payment_method"))?)
            }
            None => None,
        };
        let confirm = params.boolean("confirm")?.unwrap_or(false);
        params.boolean("off_session")?;
        let description = params.text("description")?;
        let receipt_email = params.text("receipt_email")?;
        let metadata = params.hash("metadata")?;
        let pi_id = self.new_id("pi");

        let (Some(payment_method), Some(declined), true) =
            (payment_method.as_deref(), outcome, confirm)
        else {
            if confirm {
                return Err(named("unexpected_state", &[]));
            }
            let status = match payment_method {
                Some(_) => "requires_confirmation",
                None => "requires_payment_method",
            };
            let intent = fixtures::payment_intent(json!({
                "id": pi_id, "created": op.now, "amount": amount, "currency": currency,
                "customer": customer, "status": status, "amount_received": 0,
                "latest_charge": null, "payment_method": payment_method,
                "capture_method": capture_method, "description": description,
                "receipt_email": receipt_email,
                "automatic_payment_methods": automatic_payment_methods,
                "last_payment_error": null, "metadata": metadata,
            }));
            self.insert("payment_intents", intent.clone());
            self.emit(op, "payment_intent.created", &intent, None);
            return Ok(intent);
        };

        let charge_id = self.new_id("ch");
        let payment = json!({
            "id": pi_id, "latest_charge": charge_id, "created": op.now, "amount": amount,
            "currency": currency, "customer": customer, "payment_method": payment_method,
            "description": description, "receipt_email": receipt_email,
            "automatic_payment_methods": automatic_payment_methods, "metadata": metadata,
        });
        let intent = self.record_payment(payment, capture_method != "manual", declined);
        self.emit(op, "payment_intent.created", &intent, None);
        if let Some(charge) = self.get("charges", &charge_id).cloned() {
            let event_type = match declined {
                Some(_) => "charge.failed",
                None => "charge.succeeded",
            };
            self.emit(op, event_type, &charge, None);
        }
        let Some(code) = declined else {
            if text(&intent, "status").as_deref() == Some("succeeded") {
                self.emit(op, "payment_intent.succeeded", &intent, None);
            }
            return Ok(intent);
        };
        self.emit(op, "payment_intent.payment_failed", &intent, None);
        let body = json!({"error": {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": code,
            "message": decline_message(code),
            "charge": charge_id,
            "doc_url": "https://stripe.com/docs/error-codes/card-declined",
            "payment_intent": intent,
            "request_log_url": "https://dashboard.stripe.com/test/logs",
        }});
        Err(Box::new(FakeResponse::json(402, &body)))
    }

    fn existing_customer(&self, params: &Fields<'_>) -> Result<Option<String>, Refused> {
        match params.text("customer")? {
            Some(id) if self.get("customers", &id).is_none() => {
                Err(missing("customers", &id, "customer"))
            }
            other => Ok(other),
        }
    }

    fn create_refund(&mut self, body: &Value, op: &Op) -> Result<Value, Refused> {
        let params = params(body, "charge payment_intent amount reason metadata")?;
        let charge_param = params.text("charge")?;
        let intent_param = params.text("payment_intent")?;
        let amount = params.integer("amount")?;
        let reason = params.choice("reason", "duplicate fraudulent requested_by_customer")?;
        let metadata = params.hash("metadata")?;
        let charge_id = match (charge_param, intent_param) {
            (Some(_), Some(_)) => return Err(named("refund_both", &[])),
            (None, None) => return Err(named("refund_neither", &[])),
            (Some(charge), None) => charge,
            (None, Some(intent)) => {
                let Some(found) = self.get("payment_intents", &intent) else {
                    return Err(missing("payment_intents", &intent, "payment_intent"));
                };
                match text(found, "latest_charge") {
                    Some(charge) if text(found, "status").as_deref() == Some("succeeded") => charge,
                    _ => return Err(named("intent_not_refundable", &[("intent", &intent)])),
                }
            }
        };
        let Some(charge) = self.get("charges", &charge_id).cloned() else {
            return Err(missing("charges", &charge_id, "charge"));
        };
        if text(&charge, "status").as_deref() != Some("succeeded")
            || charge.get("captured") != Some(&Value::Bool(true))
        {
            return Err(named("charge_not_refundable", &[("charge", &charge_id)]));
        }
        let captured = int(&charge, "amount_captured");
        let refunded = int(&charge, "amount_refunded");
        let remaining = captured - refunded;
        if remaining <= 0 {
            return Err(named("already_refunded", &[("charge", &charge_id)]));
        }
        let currency = text(&charge, "currency").unwrap_or_default();
        let amount = amount.unwrap_or(remaining);
        if amount < 1 {
            return Err(named("amount_min", &[]));
        }
        if amount > remaining {
            let major = |minor: i64| crate::money::to_major(minor, &currency).to_string();
            let upper = currency.to_ascii_uppercase();
            let vars = [
                ("amount", major(amount)),
                ("remaining", major(remaining)),
                ("currency", upper),
            ];
            let vars: Vec<(&str, &str)> = vars.iter().map(|(n, v)| (*n, v.as_str())).collect();
            return Err(named("amount_too_large", &vars));
        }
        let refund = fixtures::refund(json!({
            "id": self.new_id("re"), "created": op.now, "amount": amount, "currency": currency,
            "charge": charge_id, "payment_intent": text(&charge, "payment_intent"),
            "reason": reason, "metadata": metadata,
        }));
        self.insert("refunds", refund.clone());
        let previous = json!({"amount_refunded": refunded, "refunded": false});
        let updated = self.get_mut("charges", &charge_id).map(|stored| {
            stored["amount_refunded"] = json!(refunded + amount);
            stored["refunded"] = json!(refunded + amount == captured);
            stored.clone()
        });
        self.emit(op, "refund.created", &refund, None);
        if let Some(updated) = updated {
            self.emit(op, "charge.refunded", &updated, Some(previous));
        }
        Ok(refund)
    }

    /// A draft invoice, with the customer's pending invoice items when
    /// `pending_invoice_items_behavior=include` (Stripe's default is `exclude`).
    fn create_invoice(&mut self, body: &Value, op: &Op) -> Result<Value, Refused> {
        let params = params(
            body,
            "customer auto_advance collection_method days_until_due currency \
             description pending_invoice_items_behavior metadata",
        )?;
        let customer_id = params.required("customer")?;
        let Some(customer) = self.get("customers", &customer_id).cloned() else {
            return Err(missing("customers", &customer_id, "customer"));
        };
        let (collection_method, days_until_due) = collection(&params)?;
        let pending = params.choice("pending_invoice_items_behavior", "exclude include")?;
        let currency = currency(&params, "currency")?
            .or_else(|| text(&customer, "currency"))
            .unwrap_or_else(|| "usd".to_owned());
        let auto_advance = params.boolean("auto_advance")?.unwrap_or(false);
        let description = params.text("description")?;
        let metadata = params.hash("metadata")?;
        let invoice = fixtures::invoice(
            json!({
                "id": self.new_id("in"), "number": null, "created": op.now,
                "customer": customer_id, "customer_email": customer["email"],
                "customer_name": customer["name"], "currency": currency, "status": "draft",
                "subscription": null, "billing_reason": "manual",
                "collection_method": collection_method,
                "due_date": days_until_due.map(|days| op.now + days * 86_400),
                "effective_at": null, "period_start": op.now, "period_end": op.now,
                "auto_advance": auto_advance, "description": description, "metadata": metadata,
            }),
            &[],
            None,
        );
        self.insert("invoices", invoice.clone());
        let invoice = match pending.as_deref() {
            Some("include") => {
                let id = text(&invoice, "id").unwrap_or_default();
                self.take_pending_items(&id, &customer_id, &currency)
            }
            _ => invoice,
        };
        self.emit(op, "invoice.created", &invoice, None);
        Ok(invoice)
    }

    /// The subscription and its first invoice, paid at once (with a payment) when
    /// Stripe would charge the customer's default card.
    fn create_subscription(&mut self, body: &Value, op: &Op) -> Result<Value, Refused> {
        let params = params(
            body,
            "customer items trial_period_days collection_method days_until_due \
             payment_behavior default_payment_method cancel_at_period_end description \
             metadata",
        )?;
        let customer_id = params.required("customer")?;
        let Some(customer) = self.get("customers", &customer_id).cloned() else {
            return Err(missing("customers", &customer_id, "customer"));
        };
        let items = self.subscription_items(&params)?;
        let currency = text(&items[0].0, "currency").unwrap_or_default();
        if items
            .iter()
            .any(|(price, _)| text(price, "currency").as_deref() != Some(currency.as_str()))
        {
            return Err(named("mixed_currencies", &[]));
        }
        let trial_days = params.integer("trial_period_days")?.unwrap_or(0);
        if !(0..=730).contains(&trial_days) {
            return Err(named("trial_range", &[]));
        }
        let (collection_method, days_until_due) = collection(&params)?;
        let behaviours =
            "allow_incomplete default_incomplete error_if_incomplete pending_if_incomplete";
        let payment_behavior = params
            .choice("payment_behavior", behaviours)?
            .unwrap_or_else(|| "allow_incomplete".to_owned());
        let default_payment_method = params.text("default_payment_method")?;
        if let Some(pm) = default_payment_method.as_deref()
            && card_outcome(pm).is_none()
        {
            return Err(no_payment_method(pm, "default_payment_method"));
        }
        let cancel_at_period_end = params.boolean("cancel_at_period_end")?.unwrap_or(false);
        let description = params.text("description")?;
        let metadata = params.hash("metadata")?;

        let trial_end = (trial_days > 0).then(|| op.now + trial_days * 86_400);
        let status = match (trial_end, payment_behavior.as_str()) {
            (Some(_), _) => "trialing",
            (None, "default_incomplete") => "incomplete",
            _ => "active",
        };
        let recurring = &items[0].0["recurring"];
        let (interval, count) = (
            recurring["interval"].as_str(),
            recurring["interval_count"].as_i64(),
        );
        let period_end_at = trial_end
            .unwrap_or_else(|| period_end(op.now, interval.unwrap_or("month"), count.unwrap_or(1)));
        let sub_id = self.new_id("sub");
        let invoice_id = self.new_id("in");
        let item_ids: Vec<String> = items.iter().map(|_| self.new_id("si")).collect();
        // The first invoice bills each item (nothing during a trial); metered items
        // are billed later, by usage.
        let (mut amount, mut lines) = (0, Vec::new());
        for ((price, quantity), item_id) in items.iter().zip(&item_ids) {
            let billed = if trial_end.is_some() {
                0
            } else {
                int(price, "unit_amount") * quantity
            };
            if price["recurring"]["usage_type"] != "metered" {
                amount += billed;
            }
            let name = text(price, "nickname")
                .or_else(|| text(price, "id"))
                .unwrap_or_default();
            lines.push((
                billed,
                format!("{quantity} × {name}"),
                *quantity,
                Some(item_id.clone()),
            ));
        }
        let paid = collection_method == "charge_automatically" && status != "incomplete";
        let invoice = fixtures::invoice(
            json!({
                "id": invoice_id, "number": format!("SBX-{:06}", self.next), "created": op.now,
                "customer": customer_id, "customer_email": customer["email"],
                "customer_name": customer["name"], "currency": currency,
                "status": if paid { "paid" } else { "open" }, "subscription": sub_id,
                "billing_reason": "subscription_create", "collection_method": collection_method,
                "due_date": days_until_due.map(|days| op.now + days * 86_400),
                "effective_at": op.now, "period_start": op.now, "period_end": op.now,
                "auto_advance": !paid, "description": null, "metadata": {},
            }),
            &lines,
            paid.then_some(op.now),
        );
        let item_list: Vec<(String, &Value, i64)> = items
            .iter()
            .zip(item_ids)
            .map(|((price, quantity), id)| (id, price, *quantity))
            .collect();
        let subscription = fixtures::subscription(
            json!({
                "id": sub_id, "created": op.now, "customer": customer_id, "currency": currency,
                "status": status, "trial_end": trial_end, "canceled_at": null, "ended_at": null,
                "collection_method": collection_method, "days_until_due": days_until_due,
                "cancel_at_period_end": cancel_at_period_end, "latest_invoice": invoice_id,
                "default_payment_method": default_payment_method,
                "description": description, "metadata": metadata,
            }),
            &item_list,
            (op.now, period_end_at),
        );
        self.insert("subscriptions", subscription.clone());
        self.insert("invoices", invoice.clone());
        self.emit(op, "customer.subscription.created", &subscription, None);
        self.emit(op, "invoice.created", &invoice, None);
        if paid && amount > 0 {
            let pi_id = self.new_id("pi");
            let charge_id = self.new_id("ch");
            let payment_method = default_payment_method.as_deref().unwrap_or("pm_card_visa");
            let payment = json!({
                "id": pi_id, "latest_charge": charge_id, "created": op.now, "amount": amount,
                "currency": currency, "customer": customer_id, "payment_method": payment_method,
                "description": "Subscription creation", "receipt_email": null,
                "automatic_payment_methods": false, "metadata": {},
            });
            let intent = self.record_payment(payment, true, None);
            if let Some(charge) = self.get("charges", &charge_id).cloned() {
                self.emit(op, "charge.succeeded", &charge, None);
            }
            self.emit(op, "payment_intent.succeeded", &intent, None);
        }
        if paid {
            self.emit(op, "invoice.paid", &invoice, None);
        }
        Ok(subscription)
    }

    /// The `items` of a subscription request: each an existing recurring price and a
    /// quantity.
    fn subscription_items(&self, params: &Fields<'_>) -> Result<Vec<(Value, i64)>, Refused> {
        let items = match params.map.get("items") {
            None => return Err(missing_param("items")),
            Some(Value::Array(items)) if !items.is_empty() => items,
            Some(_) => return Err(named("invalid_array", &[("param", "items")])),
        };
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let Some(fields) = item.as_object() else {
                return Err(named(
                    "invalid_hash",
                    &[("param", &format!("items[{index}]"))],
                ));
            };
            if let Some(unknown) = fields
                .keys()
                .find(|k| !matches!(k.as_str(), "price" | "quantity"))
            {
                let param = format!("items[{index}][{unknown}]");
                return Err(named("unknown_parameter", &[("param", &param)]));
            }
            let param = format!("items[{index}][price]");
            let Some(price_id) = fields.get("price").and_then(Value::as_str) else {
                return Err(missing_param(&param));
            };
            let Some(price) = self.get("prices", price_id) else {
                return Err(missing("prices", price_id, &param));
            };
            if text(price, "type").as_deref() != Some("recurring") {
                return Err(named("one_time_price", &[("param", &param)]));
            }
            let quantity = match fields.get("quantity").and_then(Value::as_str) {
                None => 1,
                Some(text) => match text.parse::<i64>() {
                    Ok(quantity) if quantity >= 1 => quantity,
                    _ => {
                        let param = format!("items[{index}][quantity]");
                        return Err(named(
                            "invalid_integer",
                            &[("param", &param), ("value", text)],
                        ));
                    }
                },
            };
            out.push((price.clone(), quantity));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_follow_the_interval() {
        let start = 1_767_225_600; // 2026-01-01
        assert_eq!(period_end(start, "month", 1), 1_769_904_000); // 2026-02-01
        assert_eq!(period_end(start, "year", 1), 1_798_761_600); // 2027-01-01
        assert_eq!(period_end(start, "week", 2), start + 14 * 86_400);
        assert_eq!(period_end(start, "day", 3), start + 3 * 86_400);
    }
}
