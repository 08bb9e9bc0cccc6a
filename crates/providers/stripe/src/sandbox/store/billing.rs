//! Subscriptions and invoices after their creation, as Stripe runs them: changing
//! prices and quantities (prorated into invoice items, or invoiced at once),
//! cancelling now or at the period end and taking that back, pausing and resuming
//! collection; invoice items, and the invoice states (`draft` → `open` → `paid` or
//! `void`) with Stripe's refusals for the moves it does not allow.

use serde_json::{Map, Value, json};

use super::{Op, Refused, Store, fixtures, int, missing, missing_param, named, params, text};

/// `cancellation_details[feedback]` values.
const FEEDBACK: &str = "customer_service low_quality missing_features other switched_service \
                        too_complex too_expensive unused";

/// The 404 of an object that is not there (or, for a subscription's `DELETE`, no
/// longer there: Stripe reads a canceled subscription as deleted).
fn not_found(kind: &str, id: &str) -> Refused {
    named("not_retrieved", &[("label", kind), ("id", id)])
}

/// A nested hash of text values at `param` (`cancellation_details`), each key one of
/// `allowed`.
pub(super) fn nested<'a>(
    value: Option<&'a Value>,
    param: &str,
    allowed: &str,
) -> Result<Option<&'a Map<String, Value>>, Refused> {
    let Some(value) = value else { return Ok(None) };
    let Some(fields) = value.as_object() else {
        return Err(named("invalid_hash", &[("param", param)]));
    };
    if let Some(unknown) = fields.keys().find(|k| !allowed.split(' ').any(|a| a == *k)) {
        let param = format!("{param}[{unknown}]");
        return Err(named("unknown_parameter", &[("param", &param)]));
    }
    Ok(Some(fields))
}

fn nested_text(fields: &Map<String, Value>, name: &str) -> Option<String> {
    fields.get(name).and_then(Value::as_str).map(str::to_owned)
}

fn nested_integer(
    fields: &Map<String, Value>,
    name: &str,
    param: &str,
) -> Result<Option<i64>, Refused> {
    match fields.get(name).and_then(Value::as_str) {
        None => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| {
            let param = format!("{param}[{name}]");
            named("invalid_integer", &[("param", &param), ("value", text)])
        }),
    }
}

/// Stripe's metadata update: keys set, an empty value removes its key.
fn merge_metadata(current: &Value, update: &Value) -> Value {
    let mut merged = current.as_object().cloned().unwrap_or_default();
    for (key, value) in update.as_object().into_iter().flatten() {
        if value.as_str() == Some("") {
            merged.remove(key);
        } else {
            merged.insert(key.clone(), value.clone());
        }
    }
    Value::Object(merged)
}

/// A change of one subscription item, for prorating it.
struct ItemChange {
    item_id: String,
    /// Unit amount × quantity before and after (0 when added or removed).
    before: (Option<Value>, i64),
    after: (Option<Value>, i64),
    period: (i64, i64),
}

impl Store {
    /// `POST /v1/subscriptions/{id}`.
    pub(crate) fn update_subscription(
        &mut self,
        id: &str,
        body: &Value,
        op: &Op,
    ) -> Result<Value, Refused> {
        let params = params(
            body,
            "items proration_behavior proration_date cancel_at_period_end cancellation_details \
             pause_collection metadata description default_payment_method",
        )?;
        let Some(current) = self.get("subscriptions", id).cloned() else {
            return Err(not_found("subscription", id));
        };
        let canceled = text(&current, "status").as_deref() == Some("canceled");
        if canceled
            && params
                .map
                .keys()
                .any(|k| !matches!(k.as_str(), "cancellation_details" | "metadata"))
        {
            return Err(named("canceled_subscription", &[]));
        }
        let behavior = params
            .choice(
                "proration_behavior",
                "always_invoice create_prorations none",
            )?
            .unwrap_or_else(|| "create_prorations".to_owned());
        let proration_date = params.integer("proration_date")?;
        let details = nested(
            params.map.get("cancellation_details"),
            "cancellation_details",
            "comment feedback",
        )?;
        if let Some(feedback) = details.and_then(|d| nested_text(d, "feedback"))
            && !FEEDBACK.split(' ').any(|f| f == feedback)
        {
            let choices = FEEDBACK.split(' ').collect::<Vec<_>>().join(", ");
            let param = "cancellation_details[feedback]";
            return Err(named(
                "invalid_choice",
                &[
                    ("param", param),
                    ("value", &feedback),
                    ("choices", &choices),
                ],
            ));
        }
        let pause = match params.map.get("pause_collection") {
            None => None,
            Some(Value::String(empty)) if empty.is_empty() => Some(Value::Null),
            other => {
                let fields = nested(other, "pause_collection", "behavior resumes_at")?
                    .ok_or_else(|| missing_param("pause_collection[behavior]"))?;
                let behavior = nested_text(fields, "behavior")
                    .ok_or_else(|| missing_param("pause_collection[behavior]"))?;
                let choices = "keep_as_draft mark_uncollectible void";
                if !choices.split(' ').any(|c| c == behavior) {
                    let list = choices.replace(' ', ", ");
                    let param = "pause_collection[behavior]";
                    return Err(named(
                        "invalid_choice",
                        &[("param", param), ("value", &behavior), ("choices", &list)],
                    ));
                }
                let resumes_at = nested_integer(fields, "resumes_at", "pause_collection")?;
                Some(json!({"behavior": behavior, "resumes_at": resumes_at}))
            }
        };
        let default_payment_method = params.text("default_payment_method")?;
        if let Some(pm) = default_payment_method.as_deref()
            && super::card_outcome(pm).is_none()
        {
            return Err(super::no_payment_method(pm, "default_payment_method"));
        }
        let cancel_at_period_end = params.boolean("cancel_at_period_end")?;
        let metadata = params.hash("metadata")?;
        let description = params.text("description")?;

        let mut updated = current.clone();
        let mut previous = Map::new();
        let changes = match params.map.get("items") {
            Some(items) => self.change_items(&mut updated, items)?,
            None => Vec::new(),
        };
        if !changes.is_empty() {
            previous.insert("items".to_owned(), current["items"].clone());
        }
        let mut set = |updated: &mut Value, field: &str, value: Value| {
            if updated[field] != value {
                previous.insert(field.to_owned(), updated[field].clone());
                updated[field] = value;
            }
        };
        if let Some(at_end) = cancel_at_period_end {
            let period_end = period_of(&updated).1;
            set(&mut updated, "cancel_at_period_end", json!(at_end));
            set(
                &mut updated,
                "cancel_at",
                if at_end {
                    json!(period_end)
                } else {
                    Value::Null
                },
            );
            set(
                &mut updated,
                "canceled_at",
                if at_end { json!(op.now) } else { Value::Null },
            );
            let reason = if at_end {
                json!("cancellation_requested")
            } else {
                Value::Null
            };
            let mut cancellation = updated["cancellation_details"].clone();
            cancellation["reason"] = reason;
            if !at_end {
                cancellation["comment"] = Value::Null;
                cancellation["feedback"] = Value::Null;
            }
            set(&mut updated, "cancellation_details", cancellation);
        }
        if let Some(details) = details {
            let mut cancellation = updated["cancellation_details"].clone();
            for field in ["comment", "feedback"] {
                if let Some(value) = details.get(field) {
                    cancellation[field] = value.clone();
                }
            }
            set(&mut updated, "cancellation_details", cancellation);
        }
        if let Some(pause) = pause {
            set(&mut updated, "pause_collection", pause);
        }
        if params.map.contains_key("metadata") {
            let merged = merge_metadata(&updated["metadata"], &metadata);
            set(&mut updated, "metadata", merged);
        }
        if let Some(description) = description {
            set(&mut updated, "description", json!(description));
        }
        if let Some(pm) = default_payment_method {
            set(&mut updated, "default_payment_method", json!(pm));
        }
        let status = text(&updated, "status").unwrap_or_default();
        // Stripe prorates billed time only: nothing during a trial.
        let prorate = behavior != "none" && matches!(status.as_str(), "active" | "past_due");
        if prorate && !changes.is_empty() {
            let at = proration_date.unwrap_or(op.now);
            let item_ids = self.prorate(&updated, &changes, at, op);
            if behavior == "always_invoice" && !item_ids.is_empty() {
                let invoice = self.invoice_now(&updated, op)?;
                set(&mut updated, "latest_invoice", invoice["id"].clone());
            }
        }
        if let Some(stored) = self.get_mut("subscriptions", id) {
            *stored = updated.clone();
        }
        if !previous.is_empty() {
            let previous = Value::Object(previous);
            self.emit(
                op,
                "customer.subscription.updated",
                &updated,
                Some(previous),
            );
        }
        Ok(updated)
    }

    /// Applies `items[n][id|price|quantity|deleted]` to the subscription's items and
    /// says what changed.
    fn change_items(
        &mut self,
        subscription: &mut Value,
        items: &Value,
    ) -> Result<Vec<ItemChange>, Refused> {
        let Some(items) = items.as_array().filter(|items| !items.is_empty()) else {
            return Err(named("invalid_array", &[("param", "items")]));
        };
        let currency = text(subscription, "currency").unwrap_or_default();
        let period = period_of(subscription);
        let mut data = subscription
            .pointer("/items/data")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut changes = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let param = |name: &str| format!("items[{index}][{name}]");
            let fields = nested(
                Some(item),
                &format!("items[{index}]"),
                "id price quantity deleted",
            )?
            .ok_or_else(|| missing_param(&param("price")))?;
            let price = match nested_text(fields, "price") {
                None => None,
                Some(price_id) => {
                    let Some(price) = self.get("prices", &price_id).cloned() else {
                        return Err(missing("prices", &price_id, &param("price")));
                    };
                    if text(&price, "type").as_deref() != Some("recurring") {
                        return Err(named("one_time_price", &[("param", &param("price"))]));
                    }
                    if text(&price, "currency").as_deref() != Some(currency.as_str()) {
                        return Err(named("mixed_currencies", &[]));
                    }
                    Some(price)
                }
            };
            let quantity = nested_integer(fields, "quantity", &format!("items[{index}]"))?;
            if let Some(quantity) = quantity.filter(|q| *q < 0) {
                let value = quantity.to_string();
                return Err(named(
                    "invalid_integer",
                    &[("param", &param("quantity")), ("value", &value)],
                ));
            }
            let deleted = nested_text(fields, "deleted").as_deref() == Some("true");
            let amount = |price: &Value, quantity: i64| (Some(price.clone()), quantity);
            match nested_text(fields, "id") {
                Some(item_id) => {
                    let Some(at) = data.iter().position(|d| d["id"] == item_id.as_str()) else {
                        return Err(named(
                            "item_not_on_subscription",
                            &[("id", &item_id), ("param", &param("id"))],
                        ));
                    };
                    let stored = &mut data[at];
                    let before = amount(&stored["price"], int(stored, "quantity"));
                    if deleted {
                        data.remove(at);
                        changes.push(ItemChange {
                            item_id,
                            before,
                            after: (None, 0),
                            period,
                        });
                        continue;
                    }
                    if let Some(price) = &price {
                        stored["price"] = price.clone();
                        stored["plan"] = fixtures::plan_of(price);
                    }
                    if let Some(quantity) = quantity {
                        stored["quantity"] = json!(quantity);
                    }
                    let after = amount(&stored["price"], int(stored, "quantity"));
                    if before != after {
                        changes.push(ItemChange {
                            item_id,
                            before,
                            after,
                            period,
                        });
                    }
                }
                None => {
                    let Some(price) = price else {
                        return Err(missing_param(&param("price")));
                    };
                    let item_id = self.new_id("si");
                    let quantity = quantity.unwrap_or(1);
                    let mut added = data.first().cloned().unwrap_or_default();
                    added["id"] = json!(item_id);
                    added["price"] = price.clone();
                    added["plan"] = fixtures::plan_of(&price);
                    added["quantity"] = json!(quantity);
                    added["metadata"] = json!({});
                    data.push(added);
                    changes.push(ItemChange {
                        item_id,
                        before: (None, 0),
                        after: (Some(price), quantity),
                        period,
                    });
                }
            }
        }
        subscription["items"]["data"] = json!(data);
        subscription["items"]["total_count"] = json!(data.len());
        Ok(changes)
    }

    /// Pending invoice items for the unused time of what a change replaced and the
    /// remaining time of what it brought, from `at` to the period end; their ids.
    fn prorate(
        &mut self,
        subscription: &Value,
        changes: &[ItemChange],
        at: i64,
        op: &Op,
    ) -> Vec<String> {
        let customer = text(subscription, "customer").unwrap_or_default();
        let currency = text(subscription, "currency").unwrap_or_default();
        let sub_id = text(subscription, "id").unwrap_or_default();
        let mut ids = Vec::new();
        for change in changes {
            let (start, end) = change.period;
            if end <= start {
                continue;
            }
            let at = at.clamp(start, end);
            let share = |(price, quantity): &(Option<Value>, i64)| -> Option<(i64, String)> {
                let price = price.as_ref()?;
                if price["recurring"]["usage_type"] == "metered" {
                    return None;
                }
                let full = int(price, "unit_amount") * quantity;
                // Integer arithmetic: Stripe rounds prorations to the minor unit.
                let amount = (i128::from(full) * i128::from(end - at)
                    + i128::from(end - start) / 2)
                    / i128::from(end - start);
                let name = text(price, "nickname")
                    .or_else(|| text(price, "id"))
                    .unwrap_or_default();
                Some((
                    i64::try_from(amount).unwrap_or(0),
                    format!("{quantity} × {name}"),
                ))
            };
            let lines = [
                share(&change.before)
                    .map(|(amount, name)| (-amount, format!("Unused time on {name}"))),
                share(&change.after)
                    .map(|(amount, name)| (amount, format!("Remaining time on {name}"))),
            ];
            for (amount, description) in lines.into_iter().flatten().filter(|(a, _)| *a != 0) {
                let id = self.new_id("ii");
                let item = fixtures::invoice_item(
                    json!({
                        "id": id, "created": op.now, "customer": customer, "amount": amount,
                        "currency": currency, "description": description, "invoice": null,
                        "quantity": 1, "period": {"start": at, "end": end}, "proration": true,
                        "discountable": false, "metadata": {},
                    }),
                    None,
                    Some(&sub_id),
                );
                let mut item = item;
                item["parent"]["subscription_details"]["subscription_item"] = json!(change.item_id);
                self.insert("invoiceitems", item.clone());
                self.emit(op, "invoiceitem.created", &item, None);
                ids.push(id);
            }
        }
        ids
    }

    /// An invoice of the subscription's pending invoice items, finalized at once
    /// (`always_invoice`, `invoice_now`): paid from the default card when charged
    /// automatically and something is due, paid outright when nothing is.
    fn invoice_now(&mut self, subscription: &Value, op: &Op) -> Result<Value, Refused> {
        let sub_id = text(subscription, "id").unwrap_or_default();
        let customer_id = text(subscription, "customer").unwrap_or_default();
        let customer = self
            .get("customers", &customer_id)
            .cloned()
            .unwrap_or_default();
        let invoice_id = self.new_id("in");
        let pending: Vec<String> = self
            .all("invoiceitems")
            .iter()
            .filter(|item| {
                item["invoice"].is_null()
                    && item.pointer("/parent/subscription_details/subscription")
                        == Some(&json!(sub_id))
            })
            .filter_map(|item| text(item, "id"))
            .collect();
        for id in &pending {
            if let Some(item) = self.get_mut("invoiceitems", id) {
                item["invoice"] = json!(invoice_id);
            }
        }
        let collection_method = text(subscription, "collection_method").unwrap_or_default();
        let draft = fixtures::invoice(
            json!({
                "id": invoice_id, "number": null, "created": op.now, "customer": customer_id,
                "customer_email": customer["email"], "customer_name": customer["name"],
                "currency": subscription["currency"], "status": "draft", "subscription": sub_id,
                "billing_reason": "subscription_update", "collection_method": collection_method,
                "due_date": null, "effective_at": null, "period_start": op.now, "period_end": op.now,
                "auto_advance": true, "description": null, "metadata": {},
            }),
            &self.item_lines(&invoice_id),
            None,
        );
        self.insert("invoices", draft);
        self.emit(
            op,
            "invoice.created",
            &self
                .get("invoices", &invoice_id)
                .cloned()
                .unwrap_or_default(),
            None,
        );
        let invoice = self.finalize(&invoice_id, None, op)?;
        let due = int(&invoice, "amount_due");
        if text(&invoice, "status").as_deref() == Some("open")
            && collection_method == "charge_automatically"
            && due > 0
        {
            let pi_id = self.new_id("pi");
            let charge_id = self.new_id("ch");
            let payment_method = text(subscription, "default_payment_method")
                .unwrap_or_else(|| "pm_card_visa".to_owned());
            let intent = self.record_payment(
                json!({
                    "id": pi_id, "latest_charge": charge_id, "created": op.now, "amount": due,
                    "currency": subscription["currency"], "customer": customer_id,
                    "payment_method": payment_method, "description": "Subscription update",
                    "receipt_email": null, "automatic_payment_methods": false, "metadata": {},
                }),
                true,
                None,
            );
            if let Some(charge) = self.get("charges", &charge_id).cloned() {
                self.emit(op, "charge.succeeded", &charge, None);
            }
            self.emit(op, "payment_intent.succeeded", &intent, None);
            return Ok(self.mark_paid(&invoice_id, op));
        }
        Ok(invoice)
    }

    /// The lines of an invoice built from its invoice items.
    pub(super) fn item_lines(&self, invoice_id: &str) -> Vec<fixtures::Line> {
        self.all("invoiceitems")
            .iter()
            .filter(|item| item["invoice"] == invoice_id)
            .map(|item| {
                (
                    int(item, "amount"),
                    text(item, "description").unwrap_or_default(),
                    int(item, "quantity").max(1),
                    None,
                )
            })
            .collect()
    }

    /// Rebuilds a stored invoice from its own fields and its invoice items (totals,
    /// lines pointing at their items), paid at `paid_at` if paid.
    pub(super) fn rebuild_invoice(&mut self, invoice_id: &str, paid_at: Option<i64>) -> Value {
        let Some(stored) = self.get("invoices", invoice_id).cloned() else {
            return Value::Null;
        };
        let items: Vec<Value> = self
            .all("invoiceitems")
            .iter()
            .filter(|item| item["invoice"] == invoice_id)
            .cloned()
            .collect();
        // Invoices built with their lines (a subscription's) keep them.
        let mut invoice = if items.is_empty() && stored["status"] != "draft" {
            stored
        } else {
            fixtures::invoice(stored, &self.item_lines(invoice_id), paid_at)
        };
        if let Some(lines) = invoice
            .pointer_mut("/lines/data")
            .and_then(Value::as_array_mut)
        {
            for (line, item) in lines.iter_mut().zip(&items) {
                line["parent"]["invoice_item_details"]["invoice_item"] = item["id"].clone();
                line["parent"]["invoice_item_details"]["proration"] = item["proration"].clone();
            }
        }
        if let Some(slot) = self.get_mut("invoices", invoice_id) {
            *slot = invoice.clone();
        }
        invoice
    }

    fn mark_paid(&mut self, invoice_id: &str, op: &Op) -> Value {
        if let Some(invoice) = self.get_mut("invoices", invoice_id) {
            invoice["status"] = json!("paid");
            invoice["auto_advance"] = json!(false);
        }
        let invoice = self.rebuild_invoice(invoice_id, Some(op.now));
        self.emit(op, "invoice.paid", &invoice, None);
        invoice
    }

    /// `DELETE /v1/subscriptions/{id}`.
    pub(crate) fn cancel_subscription(
        &mut self,
        id: &str,
        body: &Value,
        op: &Op,
    ) -> Result<Value, Refused> {
        let params = params(body, "invoice_now prorate cancellation_details")?;
        let current = self
            .get("subscriptions", id)
            .filter(|s| text(s, "status").as_deref() != Some("canceled"))
            .cloned()
            .ok_or_else(|| not_found("subscription", id))?;
        let invoice_now = params.boolean("invoice_now")?.unwrap_or(false);
        let prorate = params.boolean("prorate")?.unwrap_or(false);
        let details = nested(
            params.map.get("cancellation_details"),
            "cancellation_details",
            "comment feedback",
        )?;
        let mut updated = current.clone();
        let billed = matches!(
            text(&current, "status").as_deref(),
            Some("active" | "past_due")
        );
        if prorate && billed {
            let period = period_of(&current);
            let changes: Vec<ItemChange> = current
                .pointer("/items/data")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|item| ItemChange {
                    item_id: text(item, "id").unwrap_or_default(),
                    before: (Some(item["price"].clone()), int(item, "quantity")),
                    after: (None, 0),
                    period,
                })
                .collect();
            self.prorate(&current, &changes, op.now, op);
        }
        for (field, value) in [
            ("status", json!("canceled")),
            ("canceled_at", json!(op.now)),
            ("ended_at", json!(op.now)),
            ("cancel_at_period_end", json!(false)),
            ("cancel_at", Value::Null),
        ] {
            updated[field] = value;
        }
        updated["cancellation_details"]["reason"] = json!("cancellation_requested");
        for field in ["comment", "feedback"] {
            if let Some(value) = details.and_then(|d| d.get(field)) {
                updated["cancellation_details"][field] = value.clone();
            }
        }
        if invoice_now && billed {
            let invoice = self.invoice_now(&updated, op)?;
            updated["latest_invoice"] = invoice["id"].clone();
        }
        if let Some(stored) = self.get_mut("subscriptions", id) {
            *stored = updated.clone();
        }
        self.emit(op, "customer.subscription.deleted", &updated, None);
        Ok(updated)
    }

    /// `POST /v1/invoiceitems`.
    pub(crate) fn create_invoice_item(&mut self, body: &Value, op: &Op) -> Result<Value, Refused> {
        let params = params(
            body,
            "customer amount currency pricing quantity description invoice subscription \
             period discountable metadata",
        )?;
        let customer_id = params.required("customer")?;
        let Some(customer) = self.get("customers", &customer_id).cloned() else {
            return Err(missing("customers", &customer_id, "customer"));
        };
        let invoice = match params.text("invoice")? {
            None => None,
            Some(invoice_id) => {
                let Some(invoice) = self.get("invoices", &invoice_id).cloned() else {
                    return Err(missing("invoices", &invoice_id, "invoice"));
                };
                if text(&invoice, "status").as_deref() != Some("draft") {
                    return Err(named("invoice_not_editable", &[]));
                }
                Some(invoice)
            }
        };
        let subscription = match params.text("subscription")? {
            Some(sub_id) if self.get("subscriptions", &sub_id).is_none() => {
                return Err(missing("subscriptions", &sub_id, "subscription"));
            }
            other => other,
        };
        let quantity = params.integer("quantity")?.unwrap_or(1);
        let pricing = nested(params.map.get("pricing"), "pricing", "price")?;
        let (amount, currency, price) = match pricing.and_then(|p| nested_text(p, "price")) {
            Some(price_id) => {
                let Some(price) = self.get("prices", &price_id).cloned() else {
                    return Err(missing("prices", &price_id, "pricing[price]"));
                };
                (
                    int(&price, "unit_amount") * quantity,
                    text(&price, "currency").unwrap_or_default(),
                    Some(price),
                )
            }
            None => {
                let amount = params
                    .integer("amount")?
                    .ok_or_else(|| named("amount_or_pricing", &[]))?;
                let currency = super::currency(&params, "currency")?
                    .ok_or_else(|| missing_param("currency"))?;
                (amount, currency, None)
            }
        };
        if let Some(invoice) = &invoice {
            let theirs = text(invoice, "currency").unwrap_or_default();
            if theirs != currency {
                return Err(named(
                    "invoice_item_currency",
                    &[("item", &currency), ("invoice", &theirs)],
                ));
            }
            if invoice["customer"] != customer["id"] {
                let id = text(invoice, "id").unwrap_or_default();
                return Err(missing("invoices", &id, "invoice"));
            }
        }
        let period = match nested(params.map.get("period"), "period", "start end")? {
            Some(fields) => {
                let start = nested_integer(fields, "start", "period")?
                    .ok_or_else(|| missing_param("period[start]"))?;
                let end = nested_integer(fields, "end", "period")?
                    .ok_or_else(|| missing_param("period[end]"))?;
                json!({"start": start, "end": end})
            }
            None => json!({"start": op.now, "end": op.now}),
        };
        let discountable = params.boolean("discountable")?.unwrap_or(true);
        let id = self.new_id("ii");
        let invoice_id = invoice.as_ref().and_then(|i| text(i, "id"));
        let item = fixtures::invoice_item(
            json!({
                "id": id, "created": op.now, "customer": customer_id, "amount": amount,
                "currency": currency, "description": params.text("description")?,
                "invoice": invoice_id, "quantity": quantity, "period": period,
                "proration": false, "discountable": discountable,
                "metadata": params.hash("metadata")?,
            }),
            price.as_ref(),
            subscription.as_deref(),
        );
        self.insert("invoiceitems", item.clone());
        self.emit(op, "invoiceitem.created", &item, None);
        if let Some(invoice_id) = invoice_id {
            let invoice = self.rebuild_invoice(&invoice_id, None);
            self.emit(op, "invoice.updated", &invoice, None);
        }
        Ok(item)
    }

    /// Takes the customer's pending invoice items into a new draft invoice
    /// (`pending_invoice_items_behavior=include`).
    pub(super) fn take_pending_items(
        &mut self,
        invoice_id: &str,
        customer: &str,
        currency: &str,
    ) -> Value {
        let pending: Vec<String> = self
            .all("invoiceitems")
            .iter()
            .filter(|item| {
                item["invoice"].is_null()
                    && item["customer"] == customer
                    && item["currency"] == currency
            })
            .filter_map(|item| text(item, "id"))
            .collect();
        for id in &pending {
            if let Some(item) = self.get_mut("invoiceitems", id) {
                item["invoice"] = json!(invoice_id);
            }
        }
        self.rebuild_invoice(invoice_id, None)
    }

    /// `POST /v1/invoices/{id}/{verb}`: `finalize`, `send`, `void`.
    pub(crate) fn invoice_verb(
        &mut self,
        id: &str,
        verb: &str,
        body: &Value,
        op: &Op,
    ) -> Result<Value, Refused> {
        let params = params(
            body,
            if verb == "finalize" {
                "auto_advance"
            } else {
                ""
            },
        )?;
        let Some(invoice) = self.get("invoices", id).cloned() else {
            return Err(not_found("invoice", id));
        };
        let status = text(&invoice, "status").unwrap_or_default();
        match verb {
            "finalize" => {
                if status != "draft" {
                    return Err(named("already_finalized", &[]));
                }
                let auto_advance = params.boolean("auto_advance")?;
                self.finalize(id, auto_advance, op)
            }
            "send" => {
                if matches!(status.as_str(), "draft" | "void") {
                    return Err(named("send_not_finalized", &[("status", &status)]));
                }
                if text(&invoice, "collection_method").as_deref() != Some("send_invoice") {
                    return Err(named("send_charge_automatically", &[]));
                }
                self.emit(op, "invoice.sent", &invoice, None);
                Ok(invoice)
            }
            _ => {
                if !matches!(status.as_str(), "open" | "uncollectible") {
                    return Err(named("void_not_open", &[]));
                }
                let voided = self.get_mut("invoices", id).map(|stored| {
                    stored["status"] = json!("void");
                    stored["auto_advance"] = json!(false);
                    stored["amount_remaining"] = json!(0);
                    stored["status_transitions"]["voided_at"] = json!(op.now);
                    stored.clone()
                });
                let voided = voided.unwrap_or_default();
                let previous = json!({"status": status});
                self.emit(op, "invoice.voided", &voided, Some(previous));
                Ok(voided)
            }
        }
    }

    /// A draft made `open`, numbered and dated (or `paid` at once when nothing is
    /// due).
    fn finalize(
        &mut self,
        id: &str,
        auto_advance: Option<bool>,
        op: &Op,
    ) -> Result<Value, Refused> {
        let number = format!("SBX-{:06}", self.next);
        if let Some(invoice) = self.get_mut("invoices", id) {
            invoice["status"] = json!("open");
            invoice["number"] = json!(number);
            invoice["effective_at"] = json!(op.now);
            if let Some(auto_advance) = auto_advance {
                invoice["auto_advance"] = json!(auto_advance);
            }
        }
        let invoice = self.rebuild_invoice(id, None);
        self.emit(op, "invoice.finalized", &invoice, None);
        if int(&invoice, "amount_due") <= 0 {
            return Ok(self.mark_paid(id, op));
        }
        Ok(invoice)
    }
}

/// A subscription's current period: its items' (Stripe moved the period onto the
/// items in 2025-03-31.basil).
fn period_of(subscription: &Value) -> (i64, i64) {
    let items = subscription
        .pointer("/items/data")
        .and_then(Value::as_array);
    let first = items.and_then(|items| items.first());
    first.map_or((0, 0), |item| {
        (
            int(item, "current_period_start"),
            int(item, "current_period_end"),
        )
    })
}
