//! The fake's data and what its endpoints do to it: lists with Stripe's paging and
//! filters, retrieval, and the five create endpoints with Stripe's validation,
//! side effects (a confirmed payment intent makes a charge, a refund updates its
//! charge, a subscription makes its first invoice and payment) and events.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, Months, Utc};
use junction_core::fake::FakeResponse;
use serde_json::{Map, Value, json};

use super::{
    error::stripe_error,
    fixtures::{
        self, ChargeData, CustomerData, InvoiceData, ItemData, LineData, PaymentIntentData,
        RefundData, SubscriptionData,
    },
};

/// The object kinds the fake stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Charge,
    PaymentIntent,
    Customer,
    Subscription,
    Invoice,
    Refund,
    Price,
}

impl Kind {
    /// The kind served at `/v1/{segment}`.
    pub(crate) fn from_segment(segment: &str) -> Option<Self> {
        Some(match segment {
            "charges" => Self::Charge,
            "payment_intents" => Self::PaymentIntent,
            "customers" => Self::Customer,
            "subscriptions" => Self::Subscription,
            "invoices" => Self::Invoice,
            "refunds" => Self::Refund,
            "prices" => Self::Price,
            _ => return None,
        })
    }

    fn segment(self) -> &'static str {
        match self {
            Self::Charge => "charges",
            Self::PaymentIntent => "payment_intents",
            Self::Customer => "customers",
            Self::Subscription => "subscriptions",
            Self::Invoice => "invoices",
            Self::Refund => "refunds",
            Self::Price => "prices",
        }
    }

    /// How Stripe names the kind in "No such …" messages.
    fn label(self) -> &'static str {
        match self {
            Self::Charge => "charge",
            Self::PaymentIntent => "payment_intent",
            Self::Customer => "customer",
            Self::Subscription => "subscription",
            Self::Invoice => "invoice",
            Self::Refund => "refund",
            Self::Price => "price",
        }
    }

    /// The list filters the endpoint takes besides paging and `created`.
    fn filters(self) -> &'static [&'static str] {
        match self {
            Self::Charge => &["customer", "payment_intent"],
            Self::PaymentIntent => &["customer"],
            Self::Customer => &["email"],
            Self::Subscription => &["customer", "price", "status"],
            Self::Invoice => &["customer", "status", "subscription"],
            Self::Refund => &["charge", "payment_intent"],
            Self::Price => &["active", "currency"],
        }
    }
}

/// When and under which idempotency key an operation runs.
#[derive(Debug, Clone)]
pub(crate) struct Op {
    pub now: i64,
    pub idempotency_key: Option<String>,
}

/// Every object of the fake, the events its operations emitted, and an id counter.
#[derive(Debug, Default)]
pub(crate) struct Store {
    objects: BTreeMap<Kind, Vec<Value>>,
    events: Vec<Value>,
    next: u64,
}

/// An error response, already rendered the way Stripe renders it.
pub(crate) type Refused = Box<FakeResponse>;

fn invalid(message: impl Into<String>, param: Option<&str>) -> Refused {
    Box::new(stripe_error(
        400,
        "invalid_request_error",
        None,
        &message.into(),
        param,
    ))
}

fn invalid_code(code: &str, message: impl Into<String>, param: Option<&str>) -> Refused {
    Box::new(stripe_error(
        400,
        "invalid_request_error",
        Some(code),
        &message.into(),
        param,
    ))
}

fn missing(kind: Kind, id: &str, param: &str) -> Refused {
    invalid_code(
        "resource_missing",
        format!("No such {}: '{id}'", kind.label()),
        Some(param),
    )
}

fn text(object: &Value, field: &str) -> Option<String> {
    object.get(field).and_then(Value::as_str).map(str::to_owned)
}

fn int(object: &Value, field: &str) -> i64 {
    object.get(field).and_then(Value::as_i64).unwrap_or(0)
}

impl Store {
    /// Adds an object (newest last: lists break ties in `created` by insertion).
    pub(crate) fn insert(&mut self, kind: Kind, object: Value) {
        self.objects.entry(kind).or_default().push(object);
    }

    /// All objects of a kind, in insertion order.
    pub(crate) fn all(&self, kind: Kind) -> &[Value] {
        self.objects.get(&kind).map(Vec::as_slice).unwrap_or(&[])
    }

    fn position(&self, kind: Kind, id: &str) -> Option<usize> {
        self.all(kind)
            .iter()
            .position(|object| object.get("id").and_then(Value::as_str) == Some(id))
    }

    pub(crate) fn get(&self, kind: Kind, id: &str) -> Option<&Value> {
        self.position(kind, id)
            .and_then(|at| self.all(kind).get(at))
    }

    fn get_mut(&mut self, kind: Kind, id: &str) -> Option<&mut Value> {
        let at = self.position(kind, id)?;
        self.objects
            .get_mut(&kind)
            .and_then(|objects| objects.get_mut(at))
    }

    /// Marks `amount` of a charge as refunded (the seed's refunds).
    pub(crate) fn set_refunded(&mut self, charge_id: &str, amount: i64, full: bool) {
        if let Some(charge) = self.get_mut(Kind::Charge, charge_id) {
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
        let event = fixtures::event(
            &id,
            op.now,
            event_type,
            object,
            previous,
            op.idempotency_key.as_deref(),
        );
        self.events.push(event);
    }

    /// `available` balance per currency: what succeeded charges kept after refunds.
    pub(crate) fn balance(&self) -> Value {
        let mut available: BTreeMap<String, i64> = BTreeMap::new();
        for charge in self.all(Kind::Charge) {
            if text(charge, "status").as_deref() == Some("succeeded")
                && let Some(currency) = text(charge, "currency")
            {
                *available.entry(currency).or_default() +=
                    int(charge, "amount_captured") - int(charge, "amount_refunded");
            }
        }
        let entries: Vec<(String, i64)> = available.into_iter().collect();
        fixtures::balance(&entries)
    }

    /// `GET /v1/{kind}/{id}`.
    pub(crate) fn retrieve(&self, kind: Kind, id: &str) -> Result<Value, Refused> {
        self.get(kind, id).cloned().ok_or_else(|| {
            Box::new(stripe_error(
                404,
                "invalid_request_error",
                Some("resource_missing"),
                &format!("No such {}: '{id}'", kind.label()),
                Some("id"),
            ))
        })
    }

    /// `GET /v1/{kind}`: newest first, `limit` (1–100, default 10), `starting_after`
    /// or `ending_before`, `created` and its `[gt|gte|lt|lte]` forms, and the kind's
    /// own filters. Unknown parameters are refused as Stripe refuses them.
    pub(crate) fn list(&self, kind: Kind, pairs: &[(String, String)]) -> Result<Value, Refused> {
        let mut limit = 10usize;
        let mut starting_after = None;
        let mut ending_before = None;
        let mut created: Vec<(&str, i64)> = Vec::new();
        let mut filters: Vec<(&str, &str)> = Vec::new();
        for (key, value) in pairs {
            match key.as_str() {
                "limit" => {
                    let parsed: i64 = value
                        .parse()
                        .map_err(|_| invalid(format!("Invalid integer: {value}"), Some("limit")))?;
                    if !(1..=100).contains(&parsed) {
                        return Err(invalid(
                            "This value must be greater than or equal to 1 and less than or equal to 100.",
                            Some("limit"),
                        ));
                    }
                    limit = parsed as usize;
                }
                "starting_after" => starting_after = Some(value.as_str()),
                "ending_before" => ending_before = Some(value.as_str()),
                "created" | "created[gt]" | "created[gte]" | "created[lt]" | "created[lte]" => {
                    let parsed: i64 = value
                        .parse()
                        .map_err(|_| invalid(format!("Invalid integer: {value}"), Some(key)))?;
                    let op = key
                        .strip_prefix("created[")
                        .and_then(|rest| rest.strip_suffix(']'))
                        .unwrap_or("eq");
                    created.push((op, parsed));
                }
                other if kind.filters().contains(&other) => filters.push((other, value)),
                other => {
                    return Err(invalid_code(
                        "parameter_unknown",
                        format!("Received unknown parameter: {other}"),
                        Some(other),
                    ));
                }
            }
        }
        if starting_after.is_some() && ending_before.is_some() {
            return Err(invalid(
                "You may only specify one of these parameters: ending_before, starting_after.",
                None,
            ));
        }
        let status = filters
            .iter()
            .find(|(k, _)| *k == "status")
            .map(|(_, v)| *v);
        if kind == Kind::Subscription
            && let Some(status) = status
            && !SUBSCRIPTION_STATUS_FILTERS.contains(&status)
        {
            return Err(invalid(
                format!(
                    "Invalid status: must be one of {}",
                    SUBSCRIPTION_STATUS_FILTERS.join(", ")
                ),
                Some("status"),
            ));
        }

        let objects = self.all(kind);
        // Newest first; among equal `created`, the later insertion first.
        let order = |index: usize| (int(&objects[index], "created"), index);
        let mut matching: Vec<usize> = (0..objects.len())
            .filter(|&index| {
                let object = &objects[index];
                created_matches(object, &created)
                    && filters
                        .iter()
                        .all(|(field, value)| filter_matches(kind, object, field, value))
                    && (kind != Kind::Subscription
                        || status.is_some()
                        || text(object, "status").as_deref() != Some("canceled"))
            })
            .collect();
        matching.sort_by_key(|&index| std::cmp::Reverse(order(index)));

        let (page, has_more) = if let Some(anchor) = starting_after {
            let pivot = self
                .position(kind, anchor)
                .ok_or_else(|| missing(kind, anchor, "starting_after"))?;
            let after: Vec<usize> = matching
                .into_iter()
                .filter(|&index| order(index) < order(pivot))
                .collect();
            let has_more = after.len() > limit;
            (after.into_iter().take(limit).collect::<Vec<_>>(), has_more)
        } else if let Some(anchor) = ending_before {
            let pivot = self
                .position(kind, anchor)
                .ok_or_else(|| missing(kind, anchor, "ending_before"))?;
            let before: Vec<usize> = matching
                .into_iter()
                .filter(|&index| order(index) > order(pivot))
                .collect();
            let has_more = before.len() > limit;
            let skip = before.len().saturating_sub(limit);
            (before.into_iter().skip(skip).collect(), has_more)
        } else {
            let has_more = matching.len() > limit;
            (matching.into_iter().take(limit).collect(), has_more)
        };
        Ok(json!({
            "object": "list",
            "data": page.iter().map(|&index| objects[index].clone()).collect::<Vec<_>>(),
            "has_more": has_more,
            "url": format!("/v1/{}", kind.segment()),
        }))
    }
}

/// The values the subscriptions list's `status` takes.
const SUBSCRIPTION_STATUS_FILTERS: [&str; 10] = [
    "active",
    "all",
    "canceled",
    "ended",
    "incomplete",
    "incomplete_expired",
    "past_due",
    "paused",
    "trialing",
    "unpaid",
];

fn created_matches(object: &Value, conditions: &[(&str, i64)]) -> bool {
    let created = int(object, "created");
    conditions.iter().all(|(op, bound)| match *op {
        "gt" => created > *bound,
        "gte" => created >= *bound,
        "lt" => created < *bound,
        "lte" => created <= *bound,
        _ => created == *bound,
    })
}

fn filter_matches(kind: Kind, object: &Value, field: &str, value: &str) -> bool {
    match (kind, field) {
        (Kind::Subscription, "status") => {
            let status = text(object, "status").unwrap_or_default();
            match value {
                "all" => true,
                "ended" => status == "canceled" || status == "incomplete_expired",
                other => status == other,
            }
        }
        (Kind::Subscription, "price") => object
            .pointer("/items/data")
            .and_then(Value::as_array)
            .is_some_and(|items| {
                items
                    .iter()
                    .any(|item| item.pointer("/price/id").and_then(Value::as_str) == Some(value))
            }),
        (Kind::Invoice, "subscription") => {
            object
                .pointer("/parent/subscription_details/subscription")
                .and_then(Value::as_str)
                == Some(value)
        }
        (Kind::Price, "active") => {
            object
                .get("active")
                .and_then(Value::as_bool)
                .map(|b| b.to_string())
                .as_deref()
                == Some(value)
        }
        _ => text(object, field).as_deref() == Some(value),
    }
}

/// Reads and checks the parameters of a create request.
struct Params<'a> {
    fields: &'a Map<String, Value>,
}

impl<'a> Params<'a> {
    fn new(body: &'a Value, allowed: &[&str]) -> Result<Self, Refused> {
        let Some(fields) = body.as_object() else {
            return Err(invalid("Invalid request body.", None));
        };
        if let Some(unknown) = fields.keys().find(|key| !allowed.contains(&key.as_str())) {
            return Err(invalid_code(
                "parameter_unknown",
                format!("Received unknown parameter: {unknown}"),
                Some(unknown),
            ));
        }
        Ok(Self { fields })
    }

    fn string(&self, name: &str) -> Result<Option<String>, Refused> {
        match self.fields.get(name) {
            None => Ok(None),
            Some(Value::String(text)) if text.is_empty() => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(invalid(format!("Invalid string: {name}"), Some(name))),
        }
    }

    fn required_string(&self, name: &str) -> Result<String, Refused> {
        self.string(name)?.ok_or_else(|| {
            invalid_code(
                "parameter_missing",
                format!("Missing required param: {name}."),
                Some(name),
            )
        })
    }

    fn integer(&self, name: &str) -> Result<Option<i64>, Refused> {
        match self.string(name)? {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|_| invalid(format!("Invalid integer: {text}"), Some(name))),
        }
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>, Refused> {
        match self.string(name)?.as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(invalid(format!("Invalid boolean: {other}"), Some(name))),
        }
    }

    fn one_of(&self, name: &str, allowed: &[&str]) -> Result<Option<String>, Refused> {
        match self.string(name)? {
            Some(value) if !allowed.contains(&value.as_str()) => Err(invalid(
                format!("Invalid {name}: must be one of {}", allowed.join(", ")),
                Some(name),
            )),
            other => Ok(other),
        }
    }

    fn metadata(&self) -> Result<Value, Refused> {
        match self.fields.get("metadata") {
            None => Ok(json!({})),
            Some(Value::String(text)) if text.is_empty() => Ok(json!({})),
            Some(Value::Object(entries)) if entries.values().all(Value::is_string) => {
                Ok(Value::Object(entries.clone()))
            }
            Some(_) => Err(invalid("Invalid hash", Some("metadata"))),
        }
    }
}

/// Test payment methods: what confirming with each does (`None` = unknown).
fn card_outcome(payment_method: &str) -> Option<Option<&'static str>> {
    match payment_method {
        "pm_card_visa" | "pm_card_mastercard" | "pm_card_amex" => Some(None),
        "pm_card_chargeDeclined" => Some(Some("generic_decline")),
        "pm_card_chargeDeclinedInsufficientFunds" => Some(Some("insufficient_funds")),
        _ => None,
    }
}

fn decline_message(code: &str) -> &'static str {
    match code {
        "insufficient_funds" => "Your card has insufficient funds.",
        _ => "Your card was declined.",
    }
}

fn currency_param(params: &Params<'_>, name: &str) -> Result<Option<String>, Refused> {
    match params.string(name)? {
        Some(code) if code.len() == 3 && code.chars().all(|c| c.is_ascii_alphabetic()) => {
            Ok(Some(code.to_ascii_lowercase()))
        }
        Some(code) => Err(invalid(format!("Invalid currency: {code}."), Some(name))),
        None => Ok(None),
    }
}

/// The end of a billing period of `count` intervals starting at `start`.
fn period_end(start: i64, interval: &str, count: i64) -> i64 {
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

/// A succeeded or declined payment: the payment intent and its charge.
pub(crate) struct Payment<'a> {
    pub pi_id: String,
    pub charge_id: String,
    pub created: i64,
    pub amount: i64,
    pub currency: &'a str,
    pub customer: Option<&'a str>,
    pub payment_method: &'a str,
    pub capture: bool,
    pub declined: Option<&'a str>,
    pub description: Option<&'a str>,
    pub receipt_email: Option<&'a str>,
    pub automatic_payment_methods: bool,
    pub metadata: Value,
}

impl Store {
    /// Stores a confirmed payment (payment intent and charge); the payment intent.
    pub(crate) fn record_payment(&mut self, payment: &Payment<'_>) -> Value {
        let billing_name = payment
            .customer
            .and_then(|id| self.get(Kind::Customer, id))
            .and_then(|customer| text(customer, "name"));
        let charge = fixtures::charge(&ChargeData {
            id: &payment.charge_id,
            created: payment.created,
            amount: payment.amount,
            currency: payment.currency,
            customer: payment.customer,
            payment_intent: Some(&payment.pi_id),
            payment_method: payment.payment_method,
            captured: payment.capture,
            declined: payment.declined,
            description: payment.description,
            billing_name: billing_name.as_deref(),
        });
        let (status, received, error) = match payment.declined {
            None if payment.capture => ("succeeded", payment.amount, Value::Null),
            None => ("requires_capture", 0, Value::Null),
            Some(code) => (
                "requires_payment_method",
                0,
                json!({
                    "type": "card_error", "code": "card_declined", "decline_code": code,
                    "message": decline_message(code), "charge": payment.charge_id,
                    "payment_method": {"id": payment.payment_method, "object": "payment_method", "type": "card"}
                }),
            ),
        };
        let intent = fixtures::payment_intent(&PaymentIntentData {
            id: &payment.pi_id,
            created: payment.created,
            amount: payment.amount,
            currency: payment.currency,
            customer: payment.customer,
            status,
            amount_received: received,
            latest_charge: Some(&payment.charge_id),
            payment_method: if payment.declined.is_some() {
                None
            } else {
                Some(payment.payment_method)
            },
            capture_method: if payment.capture {
                "automatic"
            } else {
                "manual"
            },
            description: payment.description,
            receipt_email: payment.receipt_email,
            automatic_payment_methods: payment.automatic_payment_methods,
            last_payment_error: error,
            metadata: payment.metadata.clone(),
        });
        self.insert(Kind::Charge, charge);
        self.insert(Kind::PaymentIntent, intent.clone());
        intent
    }

    /// `POST /v1/customers`.
    pub(crate) fn create_customer(&mut self, body: &Value, op: &Op) -> Result<Value, Refused> {
        let params = Params::new(body, &["email", "name", "phone", "description", "metadata"])?;
        let (email, name, phone, description) = (
            params.string("email")?,
            params.string("name")?,
            params.string("phone")?,
            params.string("description")?,
        );
        let metadata = params.metadata()?;
        let id = self.new_id("cus");
        let customer = fixtures::customer(&CustomerData {
            id: &id,
            created: op.now,
            email: email.as_deref(),
            name: name.as_deref(),
            phone: phone.as_deref(),
            description: description.as_deref(),
            currency: None,
            metadata,
        });
        self.insert(Kind::Customer, customer.clone());
        self.emit(op, "customer.created", &customer, None);
        Ok(customer)
    }

    fn existing_customer(&self, params: &Params<'_>) -> Result<Option<String>, Refused> {
        match params.string("customer")? {
            Some(id) if self.get(Kind::Customer, &id).is_none() => {
                Err(missing(Kind::Customer, &id, "customer"))
            }
            other => Ok(other),
        }
    }

    /// `POST /v1/payment_intents`.
    pub(crate) fn create_payment_intent(
        &mut self,
        body: &Value,
        op: &Op,
    ) -> Result<Value, Refused> {
        let params = Params::new(
            body,
            &[
                "amount",
                "currency",
                "customer",
                "description",
                "receipt_email",
                "payment_method",
                "confirm",
                "off_session",
                "return_url",
                "capture_method",
                "automatic_payment_methods",
                "statement_descriptor_suffix",
                "metadata",
            ],
        )?;
        let amount = params.integer("amount")?.ok_or_else(|| {
            invalid_code(
                "parameter_missing",
                "Missing required param: amount.",
                Some("amount"),
            )
        })?;
        let currency = currency_param(&params, "currency")?.ok_or_else(|| {
            invalid_code(
                "parameter_missing",
                "Missing required param: currency.",
                Some("currency"),
            )
        })?;
        if amount < 1 {
            return Err(invalid(
                "This value must be greater than or equal to 1.",
                Some("amount"),
            ));
        }
        if matches!(currency.as_str(), "usd" | "eur" | "gbp") && amount < 50 {
            return Err(invalid_code(
                "amount_too_small",
                format!("Amount must be at least 50 cents in {currency}"),
                Some("amount"),
            ));
        }
        let customer = self.existing_customer(&params)?;
        let capture_method = params
            .one_of(
                "capture_method",
                &["automatic", "automatic_async", "manual"],
            )?
            .unwrap_or_else(|| "automatic_async".to_owned());
        let automatic_payment_methods = match params.fields.get("automatic_payment_methods") {
            None => false,
            Some(Value::Object(fields)) => match fields.get("enabled").and_then(Value::as_str) {
                Some("true") => true,
                Some("false") => false,
                _ => {
                    return Err(invalid_code(
                        "parameter_missing",
                        "Missing required param: automatic_payment_methods[enabled].",
                        Some("automatic_payment_methods[enabled]"),
                    ));
                }
            },
            Some(_) => return Err(invalid("Invalid hash", Some("automatic_payment_methods"))),
        };
        let payment_method = params.string("payment_method")?;
        let outcome = match payment_method.as_deref() {
            Some(pm) => Some(card_outcome(pm).ok_or_else(|| {
                invalid_code(
                    "resource_missing",
                    format!("No such PaymentMethod: '{pm}'"),
                    Some("payment_method"),
                )
            })?),
            None => None,
        };
        let confirm = params.boolean("confirm")?.unwrap_or(false);
        params.boolean("off_session")?;
        let description = params.string("description")?;
        let receipt_email = params.string("receipt_email")?;
        let metadata = params.metadata()?;
        let pi_id = self.new_id("pi");

        let (Some(payment_method), Some(declined), true) =
            (payment_method.as_deref(), outcome, confirm)
        else {
            if confirm {
                return Err(invalid_code(
                    "payment_intent_unexpected_state",
                    "You cannot confirm this PaymentIntent because it's missing a payment method. \
                     You can either update the PaymentIntent with a payment method and then confirm \
                     it again, or confirm it again directly with a payment method.",
                    Some("payment_method"),
                ));
            }
            let intent = fixtures::payment_intent(&PaymentIntentData {
                id: &pi_id,
                created: op.now,
                amount,
                currency: &currency,
                customer: customer.as_deref(),
                status: if payment_method.is_some() {
                    "requires_confirmation"
                } else {
                    "requires_payment_method"
                },
                amount_received: 0,
                latest_charge: None,
                payment_method: payment_method.as_deref(),
                capture_method: &capture_method,
                description: description.as_deref(),
                receipt_email: receipt_email.as_deref(),
                automatic_payment_methods,
                last_payment_error: Value::Null,
                metadata,
            });
            self.insert(Kind::PaymentIntent, intent.clone());
            self.emit(op, "payment_intent.created", &intent, None);
            return Ok(intent);
        };

        let charge_id = self.new_id("ch");
        let intent = self.record_payment(&Payment {
            pi_id,
            charge_id: charge_id.clone(),
            created: op.now,
            amount,
            currency: &currency,
            customer: customer.as_deref(),
            payment_method,
            capture: capture_method != "manual",
            declined,
            description: description.as_deref(),
            receipt_email: receipt_email.as_deref(),
            automatic_payment_methods,
            metadata,
        });
        self.emit(op, "payment_intent.created", &intent, None);
        if let Some(charge) = self.get(Kind::Charge, &charge_id).cloned() {
            let event_type = if declined.is_some() {
                "charge.failed"
            } else {
                "charge.succeeded"
            };
            self.emit(op, event_type, &charge, None);
        }
        match declined {
            None => {
                if text(&intent, "status").as_deref() == Some("succeeded") {
                    self.emit(op, "payment_intent.succeeded", &intent, None);
                }
                Ok(intent)
            }
            Some(code) => {
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
        }
    }

    /// `POST /v1/refunds`.
    pub(crate) fn create_refund(&mut self, body: &Value, op: &Op) -> Result<Value, Refused> {
        let params = Params::new(
            body,
            &["charge", "payment_intent", "amount", "reason", "metadata"],
        )?;
        let charge_param = params.string("charge")?;
        let intent_param = params.string("payment_intent")?;
        let amount = params.integer("amount")?;
        let reason = params.one_of(
            "reason",
            &["duplicate", "fraudulent", "requested_by_customer"],
        )?;
        let metadata = params.metadata()?;
        let charge_id = match (charge_param, intent_param) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "You may only specify one of these parameters: charge, payment_intent.",
                    None,
                ));
            }
            (None, None) => {
                return Err(invalid_code(
                    "parameter_missing",
                    "One of the following params should be provided for this request: charge or payment_intent.",
                    None,
                ));
            }
            (Some(charge), None) => {
                if self.get(Kind::Charge, &charge).is_none() {
                    return Err(missing(Kind::Charge, &charge, "charge"));
                }
                charge
            }
            (None, Some(intent)) => {
                let Some(found) = self.get(Kind::PaymentIntent, &intent) else {
                    return Err(missing(Kind::PaymentIntent, &intent, "payment_intent"));
                };
                match text(found, "latest_charge") {
                    Some(charge) if text(found, "status").as_deref() == Some("succeeded") => charge,
                    _ => {
                        return Err(invalid_code(
                            "charge_not_refundable",
                            format!(
                                "This PaymentIntent ({intent}) does not have a successful charge to refund."
                            ),
                            Some("payment_intent"),
                        ));
                    }
                }
            }
        };
        let Some(charge) = self.get(Kind::Charge, &charge_id).cloned() else {
            return Err(missing(Kind::Charge, &charge_id, "charge"));
        };
        if text(&charge, "status").as_deref() != Some("succeeded")
            || charge.get("captured") != Some(&Value::Bool(true))
        {
            return Err(invalid_code(
                "charge_not_refundable",
                format!("Charge {charge_id} has not been captured or did not succeed."),
                Some("charge"),
            ));
        }
        let captured = int(&charge, "amount_captured");
        let refunded = int(&charge, "amount_refunded");
        let remaining = captured - refunded;
        if remaining <= 0 {
            return Err(invalid_code(
                "charge_already_refunded",
                format!("Charge {charge_id} has already been refunded."),
                Some("charge"),
            ));
        }
        let currency = text(&charge, "currency").unwrap_or_default();
        let amount = amount.unwrap_or(remaining);
        if amount < 1 {
            return Err(invalid(
                "This value must be greater than or equal to 1.",
                Some("amount"),
            ));
        }
        if amount > remaining {
            let major = |minor: i64| crate::money::to_major(minor, &currency);
            return Err(invalid_code(
                "amount_too_large",
                format!(
                    "Refund amount ({} {}) is greater than unrefunded amount on charge ({} {})",
                    major(amount),
                    currency.to_ascii_uppercase(),
                    major(remaining),
                    currency.to_ascii_uppercase()
                ),
                Some("amount"),
            ));
        }
        let id = self.new_id("re");
        let payment_intent = text(&charge, "payment_intent");
        let refund = fixtures::refund(&RefundData {
            id: &id,
            created: op.now,
            amount,
            currency: &currency,
            charge: &charge_id,
            payment_intent: payment_intent.as_deref(),
            reason: reason.as_deref(),
            metadata,
        });
        self.insert(Kind::Refund, refund.clone());
        let previous = json!({"amount_refunded": refunded, "refunded": false});
        let updated = self.get_mut(Kind::Charge, &charge_id).map(|stored| {
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

    /// `POST /v1/invoices`: a draft invoice (the fake keeps no pending invoice items).
    pub(crate) fn create_invoice(&mut self, body: &Value, op: &Op) -> Result<Value, Refused> {
        let params = Params::new(
            body,
            &[
                "customer",
                "auto_advance",
                "collection_method",
                "days_until_due",
                "currency",
                "description",
                "pending_invoice_items_behavior",
                "metadata",
            ],
        )?;
        let customer_id = params.required_string("customer")?;
        let Some(customer) = self.get(Kind::Customer, &customer_id).cloned() else {
            return Err(missing(Kind::Customer, &customer_id, "customer"));
        };
        let collection_method = params
            .one_of(
                "collection_method",
                &["charge_automatically", "send_invoice"],
            )?
            .unwrap_or_else(|| "charge_automatically".to_owned());
        let days_until_due = params.integer("days_until_due")?;
        if collection_method == "send_invoice" && days_until_due.is_none() {
            return Err(invalid_code(
                "parameter_missing",
                "Missing required param: days_until_due.",
                Some("days_until_due"),
            ));
        }
        params.one_of("pending_invoice_items_behavior", &["exclude", "include"])?;
        let currency = currency_param(&params, "currency")?
            .or_else(|| text(&customer, "currency"))
            .unwrap_or_else(|| "usd".to_owned());
        let auto_advance = params.boolean("auto_advance")?.unwrap_or(false);
        let description = params.string("description")?;
        let metadata = params.metadata()?;
        let id = self.new_id("in");
        let email = text(&customer, "email");
        let name = text(&customer, "name");
        let invoice = fixtures::invoice(&InvoiceData {
            id: &id,
            number: None,
            created: op.now,
            customer: &customer_id,
            customer_email: email.as_deref(),
            customer_name: name.as_deref(),
            currency: &currency,
            status: "draft",
            lines: Vec::new(),
            subscription: None,
            billing_reason: "manual",
            collection_method: &collection_method,
            due_date: days_until_due.map(|days| op.now + days * 86_400),
            paid_at: None,
            finalized_at: None,
            period_start: op.now,
            period_end: op.now,
            auto_advance,
            description: description.as_deref(),
            metadata,
        });
        self.insert(Kind::Invoice, invoice.clone());
        self.emit(op, "invoice.created", &invoice, None);
        Ok(invoice)
    }

    /// `POST /v1/subscriptions`: the subscription and its first invoice, paid at once
    /// (with a payment) when Stripe would charge the customer's default card.
    pub(crate) fn create_subscription(&mut self, body: &Value, op: &Op) -> Result<Value, Refused> {
        let params = Params::new(
            body,
            &[
                "customer",
                "items",
                "trial_period_days",
                "collection_method",
                "days_until_due",
                "payment_behavior",
                "default_payment_method",
                "cancel_at_period_end",
                "description",
                "metadata",
            ],
        )?;
        let customer_id = params.required_string("customer")?;
        let Some(customer) = self.get(Kind::Customer, &customer_id).cloned() else {
            return Err(missing(Kind::Customer, &customer_id, "customer"));
        };
        let items = self.subscription_items(&params)?;
        let currency = text(&items[0].0, "currency").unwrap_or_default();
        if items
            .iter()
            .any(|(price, _)| text(price, "currency").as_deref() != Some(currency.as_str()))
        {
            return Err(invalid(
                "The price specified is not in the same currency as the other prices on the subscription.",
                Some("items"),
            ));
        }
        let trial_days = params.integer("trial_period_days")?.unwrap_or(0);
        if !(0..=730).contains(&trial_days) {
            return Err(invalid(
                "This value must be greater than or equal to 0 and less than or equal to 730.",
                Some("trial_period_days"),
            ));
        }
        let collection_method = params
            .one_of(
                "collection_method",
                &["charge_automatically", "send_invoice"],
            )?
            .unwrap_or_else(|| "charge_automatically".to_owned());
        let days_until_due = params.integer("days_until_due")?;
        if collection_method == "send_invoice" && days_until_due.is_none() {
            return Err(invalid_code(
                "parameter_missing",
                "Missing required param: days_until_due.",
                Some("days_until_due"),
            ));
        }
        let payment_behavior = params
            .one_of(
                "payment_behavior",
                &[
                    "allow_incomplete",
                    "default_incomplete",
                    "error_if_incomplete",
                    "pending_if_incomplete",
                ],
            )?
            .unwrap_or_else(|| "allow_incomplete".to_owned());
        let default_payment_method = params.string("default_payment_method")?;
        if let Some(pm) = default_payment_method.as_deref()
            && card_outcome(pm).is_none()
        {
            return Err(invalid_code(
                "resource_missing",
                format!("No such PaymentMethod: '{pm}'"),
                Some("default_payment_method"),
            ));
        }
        let cancel_at_period_end = params.boolean("cancel_at_period_end")?.unwrap_or(false);
        let description = params.string("description")?;
        let metadata = params.metadata()?;

        let trial_end = (trial_days > 0).then(|| op.now + trial_days * 86_400);
        let status = if trial_end.is_some() {
            "trialing"
        } else if payment_behavior == "default_incomplete" {
            "incomplete"
        } else {
            "active"
        };
        let first = &items[0].0;
        let period_end_at = trial_end.unwrap_or_else(|| {
            period_end(
                op.now,
                first
                    .pointer("/recurring/interval")
                    .and_then(Value::as_str)
                    .unwrap_or("month"),
                first
                    .pointer("/recurring/interval_count")
                    .and_then(Value::as_i64)
                    .unwrap_or(1),
            )
        });
        let sub_id = self.new_id("sub");
        let invoice_id = self.new_id("in");
        let item_ids: Vec<String> = items.iter().map(|_| self.new_id("si")).collect();
        let licensed_total: i64 = items
            .iter()
            .filter(|(price, _)| {
                price
                    .pointer("/recurring/usage_type")
                    .and_then(Value::as_str)
                    != Some("metered")
            })
            .map(|(price, quantity)| int(price, "unit_amount") * quantity)
            .sum();
        let amount = if trial_end.is_some() {
            0
        } else {
            licensed_total
        };
        let paid = collection_method == "charge_automatically" && status != "incomplete";
        let descriptions: Vec<String> = items
            .iter()
            .map(|(price, quantity)| {
                format!(
                    "{quantity} × {}",
                    text(price, "nickname")
                        .unwrap_or_else(|| text(price, "id").unwrap_or_default())
                )
            })
            .collect();
        let lines = items
            .iter()
            .zip(&item_ids)
            .zip(&descriptions)
            .map(|(((price, quantity), item_id), description)| LineData {
                amount: if trial_end.is_some() {
                    0
                } else {
                    int(price, "unit_amount") * quantity
                },
                description,
                quantity: *quantity,
                subscription_item: Some(item_id),
            })
            .collect();
        let email = text(&customer, "email");
        let name = text(&customer, "name");
        let invoice = fixtures::invoice(&InvoiceData {
            id: &invoice_id,
            number: Some(format!("SBX-{:06}", self.next)),
            created: op.now,
            customer: &customer_id,
            customer_email: email.as_deref(),
            customer_name: name.as_deref(),
            currency: &currency,
            status: if paid { "paid" } else { "open" },
            lines,
            subscription: Some(&sub_id),
            billing_reason: "subscription_create",
            collection_method: &collection_method,
            due_date: days_until_due.map(|days| op.now + days * 86_400),
            paid_at: paid.then_some(op.now),
            finalized_at: Some(op.now),
            period_start: op.now,
            period_end: op.now,
            auto_advance: !paid,
            description: None,
            metadata: json!({}),
        });
        let subscription = fixtures::subscription(&SubscriptionData {
            id: &sub_id,
            created: op.now,
            customer: &customer_id,
            currency: &currency,
            status,
            items: items
                .iter()
                .zip(item_ids)
                .map(|((price, quantity), id)| ItemData {
                    id,
                    price,
                    quantity: *quantity,
                })
                .collect(),
            period_start: op.now,
            period_end: period_end_at,
            trial_end,
            canceled_at: None,
            ended_at: None,
            collection_method: &collection_method,
            days_until_due,
            cancel_at_period_end,
            latest_invoice: Some(&invoice_id),
            default_payment_method: default_payment_method.as_deref(),
            description: description.as_deref(),
            metadata,
        });
        self.insert(Kind::Subscription, subscription.clone());
        self.insert(Kind::Invoice, invoice.clone());
        self.emit(op, "customer.subscription.created", &subscription, None);
        self.emit(op, "invoice.created", &invoice, None);
        if paid && amount > 0 {
            let pi_id = self.new_id("pi");
            let charge_id = self.new_id("ch");
            let intent = self.record_payment(&Payment {
                pi_id,
                charge_id: charge_id.clone(),
                created: op.now,
                amount,
                currency: &currency,
                customer: Some(&customer_id),
                payment_method: default_payment_method.as_deref().unwrap_or("pm_card_visa"),
                capture: true,
                declined: None,
                description: Some("Subscription creation"),
                receipt_email: None,
                automatic_payment_methods: false,
                metadata: json!({}),
            });
            if let Some(charge) = self.get(Kind::Charge, &charge_id).cloned() {
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
    fn subscription_items(&self, params: &Params<'_>) -> Result<Vec<(Value, i64)>, Refused> {
        let items = match params.fields.get("items") {
            None => {
                return Err(invalid_code(
                    "parameter_missing",
                    "Missing required param: items.",
                    Some("items"),
                ));
            }
            Some(Value::Array(items)) if !items.is_empty() => items,
            Some(_) => return Err(invalid("Invalid array", Some("items"))),
        };
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let Some(fields) = item.as_object() else {
                return Err(invalid("Invalid hash", Some(&format!("items[{index}]"))));
            };
            if let Some(unknown) = fields
                .keys()
                .find(|k| !matches!(k.as_str(), "price" | "quantity"))
            {
                let param = format!("items[{index}][{unknown}]");
                return Err(invalid_code(
                    "parameter_unknown",
                    format!("Received unknown parameter: {param}"),
                    Some(&param),
                ));
            }
            let param = format!("items[{index}][price]");
            let Some(price_id) = fields.get("price").and_then(Value::as_str) else {
                return Err(invalid_code(
                    "parameter_missing",
                    format!("Missing required param: {param}."),
                    Some(&param),
                ));
            };
            let Some(price) = self.get(Kind::Price, price_id) else {
                return Err(missing(Kind::Price, price_id, &param));
            };
            let quantity = match fields.get("quantity").and_then(Value::as_str) {
                None => 1,
                Some(text) => match text.parse::<i64>() {
                    Ok(quantity) if quantity >= 1 => quantity,
                    _ => {
                        return Err(invalid(
                            format!("Invalid integer: {text}"),
                            Some(&format!("items[{index}][quantity]")),
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
