//! Customers after their creation (update, search with Stripe's query language and
//! `next_page` paging) and one-time payment pages: Checkout Sessions and Payment
//! Links.

use junction_core::fake::FakeRequest;
use serde_json::{Map, Value, json};

use super::{
    Op, Refused, Store, billing::nested, card_outcome, fixtures, int, missing, missing_param,
    named, no_payment_method, params, text,
};

/// The customer fields the search language can query.
const SEARCH_FIELDS: [&str; 4] = ["email", "name", "phone", "created"];

/// The prefix of the fake's `next_page` tokens (the offset follows).
const PAGE_PREFIX: &str = "sbx_page_";

/// One clause of a search query: `[-]field(:|~|>|<|>=|<=)value`.
#[derive(Debug, PartialEq)]
struct Clause {
    negated: bool,
    /// `email`, `name`, `phone`, `created`, or `metadata` with its key.
    field: String,
    key: Option<String>,
    op: String,
    value: String,
}

fn syntax(near: &str) -> Refused {
    named("search_syntax", &[("near", near)])
}

/// Parses a query: clauses joined by ` AND ` or ` OR ` (not both), as Stripe's
/// search language writes them.
fn parse_query(query: &str) -> Result<(Vec<Clause>, bool), Refused> {
    let mut clauses = Vec::new();
    let mut joiners = Vec::new();
    let mut rest = query.trim();
    loop {
        let (clause, after) = parse_clause(rest)?;
        clauses.push(clause);
        let after = after.trim_start();
        if after.is_empty() {
            break;
        }
        let (joiner, next) = after
            .split_once(char::is_whitespace)
            .ok_or_else(|| syntax(after))?;
        if !matches!(joiner, "AND" | "OR") {
            return Err(syntax(after));
        }
        joiners.push(joiner);
        rest = next.trim_start();
    }
    if joiners.windows(2).any(|pair| pair[0] != pair[1]) {
        return Err(syntax(query));
    }
    Ok((clauses, joiners.first() == Some(&"OR")))
}

fn parse_clause(text: &str) -> Result<(Clause, &str), Refused> {
    let (negated, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let name_end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .ok_or_else(|| syntax(text))?;
    let field = &text[..name_end];
    let mut rest = &text[name_end..];
    let mut key = None;
    if field == "metadata" {
        let inner = rest.strip_prefix("['").ok_or_else(|| syntax(rest))?;
        let close = inner.find("']").ok_or_else(|| syntax(rest))?;
        key = Some(inner[..close].to_owned());
        rest = &inner[close + 2..];
    } else if !SEARCH_FIELDS.contains(&field) {
        return Err(named("search_field", &[("field", field)]));
    }
    let op = [">=", "<=", ":", "~", ">", "<"]
        .into_iter()
        .find(|op| rest.starts_with(op))
        .ok_or_else(|| syntax(rest))?;
    rest = &rest[op.len()..];
    let (value, after) = match rest.chars().next() {
        Some(quote @ ('\'' | '"')) => {
            let inner = &rest[1..];
            let close = inner.find(quote).ok_or_else(|| syntax(rest))?;
            (inner[..close].to_owned(), &inner[close + 1..])
        }
        _ => {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            (rest[..end].to_owned(), &rest[end..])
        }
    };
    let numeric = field == "created";
    if numeric != value.parse::<i64>().is_ok() || (op == "~" && value.chars().count() < 3) {
        return Err(syntax(text));
    }
    if !numeric && !matches!(op, ":" | "~") {
        return Err(syntax(text));
    }
    let clause = Clause {
        negated,
        field: field.to_owned(),
        key,
        op: op.to_owned(),
        value,
    };
    Ok((clause, after))
}

fn matches(customer: &Value, clause: &Clause) -> bool {
    let found = if clause.field == "created" {
        let created = int(customer, "created");
        let bound = clause.value.parse::<i64>().unwrap_or(0);
        match clause.op.as_str() {
            ">" => created > bound,
            "<" => created < bound,
            ">=" => created >= bound,
            "<=" => created <= bound,
            _ => created == bound,
        }
    } else {
        let value = match &clause.key {
            Some(key) => customer["metadata"].get(key).and_then(Value::as_str),
            None => customer.get(&clause.field).and_then(Value::as_str),
        };
        let value = value.unwrap_or_default().to_lowercase();
        let wanted = clause.value.to_lowercase();
        match clause.op.as_str() {
            "~" => value.contains(&wanted),
            _ => value == wanted,
        }
    };
    found != clause.negated
}

impl Store {
    /// `POST /v1/customers/{id}`.
    pub(crate) fn update_customer(
        &mut self,
        id: &str,
        body: &Value,
        op: &Op,
    ) -> Result<Value, Refused> {
        let params = params(
            body,
            "email name phone description metadata address invoice_settings",
        )?;
        let Some(current) = self.get("customers", id).cloned() else {
            return Err(named("not_retrieved", &[("label", "customer"), ("id", id)]));
        };
        let mut updated = current.clone();
        let mut previous = Map::new();
        let mut set = |field: &str, value: Value, updated: &mut Value| {
            if updated[field] != value {
                previous.insert(field.to_owned(), updated[field].clone());
                updated[field] = value;
            }
        };
        for field in ["email", "name", "phone", "description"] {
            if let Some(value) = params.text(field)? {
                // An empty value unsets the field, as Stripe's forms do.
                let value = if value.is_empty() {
                    Value::Null
                } else {
                    json!(value)
                };
                set(field, value, &mut updated);
            }
        }
        if params.map.contains_key("metadata") {
            let mut merged = updated["metadata"].as_object().cloned().unwrap_or_default();
            for (key, value) in params.hash("metadata")?.as_object().into_iter().flatten() {
                if value.as_str() == Some("") {
                    merged.remove(key);
                } else {
                    merged.insert(key.clone(), value.clone());
                }
            }
            set("metadata", Value::Object(merged), &mut updated);
        }
        let address_fields = "city country line1 line2 postal_code state";
        if let Some(fields) = nested(params.map.get("address"), "address", address_fields)? {
            let mut address = json!({});
            for name in address_fields.split(' ') {
                address[name] = fields.get(name).cloned().unwrap_or(Value::Null);
            }
            set("address", address, &mut updated);
        }
        let settings = nested(
            params.map.get("invoice_settings"),
            "invoice_settings",
            "default_payment_method",
        )?;
        if let Some(pm) = settings
            .and_then(|s| s.get("default_payment_method"))
            .and_then(Value::as_str)
        {
            if card_outcome(pm).is_none() {
                return Err(no_payment_method(
                    pm,
                    "invoice_settings[default_payment_method]",
                ));
            }
            let mut invoice_settings = updated["invoice_settings"].clone();
            invoice_settings["default_payment_method"] = json!(pm);
            set("invoice_settings", invoice_settings, &mut updated);
        }
        if let Some(stored) = self.get_mut("customers", id) {
            *stored = updated.clone();
        }
        if !previous.is_empty() {
            self.emit(
                op,
                "customer.updated",
                &updated,
                Some(Value::Object(previous)),
            );
        }
        Ok(updated)
    }

    /// `GET /v1/customers/search`: newest first, `limit` (1–100, default 10), `page`.
    pub(crate) fn search_customers(&self, request: &FakeRequest) -> Result<Value, Refused> {
        let (mut query, mut limit, mut page) = (None, 10, 0);
        for (key, value) in request.query_pairs() {
            match key.as_str() {
                "query" => query = Some(value),
                "limit" => {
                    limit = match value.parse::<usize>() {
                        Ok(n) if (1..=100).contains(&n) => n,
                        Ok(_) => return Err(named("limit_range", &[])),
                        Err(_) => {
                            return Err(named(
                                "invalid_integer",
                                &[("param", "limit"), ("value", &value)],
                            ));
                        }
                    }
                }
                "page" => {
                    page = value
                        .strip_prefix(PAGE_PREFIX)
                        .and_then(|n| n.parse::<usize>().ok())
                        .ok_or_else(|| named("search_page", &[("page", &value)]))?;
                }
                other => return Err(named("unknown_parameter", &[("param", other)])),
            }
        }
        let query = query.ok_or_else(|| missing_param("query"))?;
        let (clauses, any) = parse_query(&query)?;
        let mut found: Vec<(usize, &Value)> = self
            .all("customers")
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                if any {
                    clauses.iter().any(|clause| matches(c, clause))
                } else {
                    clauses.iter().all(|clause| matches(c, clause))
                }
            })
            .collect();
        found.sort_by_key(|(index, c)| std::cmp::Reverse((int(c, "created"), *index)));
        let data: Vec<Value> = found
            .iter()
            .skip(page)
            .take(limit)
            .map(|(_, c)| (*c).clone())
            .collect();
        let has_more = found.len() > page + limit;
        Ok(json!({
            "object": "search_result",
            "data": data,
            "has_more": has_more,
            "next_page": has_more.then(|| format!("{PAGE_PREFIX}{}", page + limit)),
            "url": "/v1/customers/search",
        }))
    }

    /// The `line_items` of a payment page: each a price (or, for a Checkout Session,
    /// `price_data`) and a quantity; with their currency and total.
    fn line_items(
        &self,
        items: Option<&Value>,
        price_data: bool,
        mode: &str,
    ) -> Result<(String, i64), Refused> {
        let Some(items) = items else {
            return Err(missing_param("line_items"));
        };
        let Some(items) = items.as_array().filter(|items| !items.is_empty()) else {
            return Err(named("invalid_array", &[("param", "line_items")]));
        };
        let (mut currency, mut total): (Option<String>, i64) = (None, 0);
        for (index, item) in items.iter().enumerate() {
            let at = format!("line_items[{index}]");
            let allowed = if price_data {
                "price price_data quantity"
            } else {
                "price quantity"
            };
            let fields = nested(Some(item), &at, allowed)?.ok_or_else(|| missing_param(&at))?;
            let quantity_param = format!("{at}[quantity]");
            let quantity = match fields.get("quantity").and_then(Value::as_str) {
                None => return Err(missing_param(&quantity_param)),
                Some(text) => match text.parse::<i64>() {
                    Ok(q) if q >= 1 => q,
                    _ => {
                        return Err(named(
                            "invalid_integer",
                            &[("param", &quantity_param), ("value", text)],
                        ));
                    }
                },
            };
            let (unit, item_currency) = match (
                fields.get("price").and_then(Value::as_str),
                fields.get("price_data"),
            ) {
                (Some(price_id), None) => {
                    let param = format!("{at}[price]");
                    let Some(price) = self.get("prices", price_id) else {
                        return Err(missing("prices", price_id, &param));
                    };
                    let recurring = text(price, "type").as_deref() == Some("recurring");
                    if mode == "payment" && recurring {
                        return Err(named(
                            "recurring_price_in_payment_mode",
                            &[("param", &param)],
                        ));
                    }
                    (
                        int(price, "unit_amount"),
                        text(price, "currency").unwrap_or_default(),
                    )
                }
                (None, Some(data)) => {
                    let data_at = format!("{at}[price_data]");
                    let data = nested(Some(data), &data_at, "currency unit_amount product_data")?
                        .ok_or_else(|| missing_param(&data_at))?;
                    let field = |name: &str| data.get(name).and_then(Value::as_str);
                    let currency = field("currency")
                        .ok_or_else(|| missing_param(&format!("{data_at}[currency]")))?;
                    let unit_param = format!("{data_at}[unit_amount]");
                    let unit_text =
                        field("unit_amount").ok_or_else(|| missing_param(&unit_param))?;
                    let unit = unit_text.parse::<i64>().map_err(|_| {
                        named(
                            "invalid_integer",
                            &[("param", &unit_param), ("value", unit_text)],
                        )
                    })?;
                    let product_at = format!("{data_at}[product_data]");
                    let product =
                        nested(data.get("product_data"), &product_at, "name description")?;
                    if product.and_then(|p| p.get("name")).is_none() {
                        return Err(missing_param(&format!("{product_at}[name]")));
                    }
                    (unit, currency.to_ascii_lowercase())
                }
                (Some(_), Some(_)) => {
                    return Err(named(
                        "unknown_parameter",
                        &[("param", &format!("{at}[price_data]"))],
                    ));
                }
                (None, None) => return Err(missing_param(&format!("{at}[price]"))),
            };
            match &currency {
                Some(seen) if *seen != item_currency => {
                    return Err(named("line_item_currencies", &[]));
                }
                _ => currency = Some(item_currency),
            }
            total += unit * quantity;
        }
        Ok((currency.unwrap_or_default(), total))
    }

    /// `POST /v1/checkout/sessions` (`payment` and `subscription` modes).
    pub(crate) fn create_checkout_session(
        &mut self,
        body: &Value,
        op: &Op,
    ) -> Result<Value, Refused> {
        let params = params(
            body,
            "mode line_items success_url cancel_url customer customer_email client_reference_id \
             metadata expires_at payment_intent_data allow_promotion_codes",
        )?;
        let mode = params
            .choice("mode", "payment subscription")?
            .ok_or_else(|| missing_param("mode"))?;
        let (currency, total) = self.line_items(params.map.get("line_items"), true, &mode)?;
        let success_url = params.required("success_url")?;
        let customer = params.text("customer")?;
        let customer_email = params.text("customer_email")?;
        if customer.is_some() && customer_email.is_some() {
            return Err(named("only_one", &[("params", "customer, customer_email")]));
        }
        if let Some(id) = &customer
            && self.get("customers", id).is_none()
        {
            return Err(missing("customers", id, "customer"));
        }
        let expires_at = params.integer("expires_at")?.unwrap_or(op.now + 86_400);
        if !(op.now + 1_800..=op.now + 86_400).contains(&expires_at) {
            return Err(named("expires_at_range", &[]));
        }
        nested(
            params.map.get("payment_intent_data"),
            "payment_intent_data",
            "description metadata receipt_email",
        )?;
        let id = format!("cs_test_{}", self.new_id("a").trim_start_matches("a_"));
        let session = fixtures::checkout_session(json!({
            "id": id, "created": op.now, "expires_at": expires_at, "mode": mode,
            "currency": currency, "amount_subtotal": total, "amount_total": total,
            "customer": customer, "customer_email": customer_email,
            "client_reference_id": params.text("client_reference_id")?,
            "success_url": success_url, "cancel_url": params.text("cancel_url")?,
            "allow_promotion_codes": params.boolean("allow_promotion_codes")?,
            "metadata": params.hash("metadata")?,
        }));
        self.insert("checkout_sessions", session.clone());
        Ok(session)
    }

    /// `POST /v1/payment_links`.
    pub(crate) fn create_payment_link(&mut self, body: &Value, op: &Op) -> Result<Value, Refused> {
        let params = params(
            body,
            "line_items after_completion allow_promotion_codes metadata",
        )?;
        let (currency, _) = self.line_items(params.map.get("line_items"), false, "any")?;
        let after_completion = match nested(
            params.map.get("after_completion"),
            "after_completion",
            "type redirect",
        )? {
            None => {
                json!({"type": "hosted_confirmation", "hosted_confirmation": {"custom_message": null}})
            }
            Some(fields) => match fields.get("type").and_then(Value::as_str) {
                Some("redirect") => {
                    let redirect =
                        nested(fields.get("redirect"), "after_completion[redirect]", "url")?;
                    let url = redirect
                        .and_then(|r| r.get("url"))
                        .and_then(Value::as_str)
                        .ok_or_else(|| missing_param("after_completion[redirect][url]"))?;
                    json!({"type": "redirect", "redirect": {"url": url}})
                }
                Some("hosted_confirmation") => {
                    json!({"type": "hosted_confirmation", "hosted_confirmation": {"custom_message": null}})
                }
                Some(other) => {
                    let vars = [
                        ("param", "after_completion[type]"),
                        ("value", other),
                        ("choices", "hosted_confirmation, redirect"),
                    ];
                    return Err(named("invalid_choice", &vars));
                }
                None => return Err(missing_param("after_completion[type]")),
            },
        };
        let link = fixtures::payment_link(json!({
            "id": self.new_id("plink"), "currency": currency, "after_completion": after_completion,
            "allow_promotion_codes": params.boolean("allow_promotion_codes")?.unwrap_or(false),
            "metadata": params.hash("metadata")?,
        }));
        self.insert("payment_links", link.clone());
        self.emit(op, "payment_link.created", &link, None);
        Ok(link)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_as_stripe_writes_them() {
        let (clauses, any) =
            parse_query("email:'ada@example.com' AND metadata['plan']:\"pro\"").unwrap();
        assert!(!any);
        assert_eq!(clauses[1].key.as_deref(), Some("plan"));
        assert_eq!(clauses[1].value, "pro");
        let (clauses, any) = parse_query("-name~'ada' OR created>1700000000").unwrap();
        assert!(any && clauses[0].negated);
        assert_eq!(
            (clauses[1].op.as_str(), clauses[1].value.as_str()),
            (">", "1700000000")
        );
        for bad in [
            "email:'a' AND name:'b' OR phone:'c'",
            "name~'ad'",
            "email:'unterminated",
            "created:'soon'",
            "name>'b'",
        ] {
            assert!(parse_query(bad).is_err(), "{bad}");
        }
        let refused = parse_query("balance:'1'").unwrap_err();
        assert_eq!(refused.status, 400);
    }
}
