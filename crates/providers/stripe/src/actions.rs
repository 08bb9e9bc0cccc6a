//! The five Stripe actions: create a customer, a payment intent, a subscription, an
//! invoice, and refund a payment.
//!
//! Each action's input is a subset of the Stripe endpoint's own parameters, with the
//! same names and shapes (amounts in integer minor units, as Stripe takes them), so
//! the input is validated against the action's JSON Schema and then form-encoded as
//! is. The caller's idempotency key goes out as `Idempotency-Key`: Stripe answers a
//! retry with the same key and parameters with the stored result of the first
//! attempt, so a retried action charges, refunds or creates once.
//!
//! The actions themselves (names, schemas, endpoints, kept fields) are data in
//! `action_defs`; this module finds, validates, runs and reports them.

use junction_core::{ActionOutcome, AdapterError};
use serde_json::{Map, Value, json};

use crate::{
    action_defs::{ACTIONS, ActionDef},
    api::{Api, MAX_IDEMPOTENCY_KEY_CHARS},
    form, schema,
};

/// Finds an action by name.
pub(crate) fn find(name: &str) -> Option<&'static ActionDef> {
    ACTIONS.iter().find(|action| action.name == name)
}

/// Validates an action's input; the form parameters to send.
pub(crate) fn prepare(
    action: &ActionDef,
    input: &Value,
    idempotency_key: Option<&str>,
) -> Result<Vec<(String, String)>, AdapterError> {
    schema::validate(&(action.schema)(), input).map_err(|violation| {
        let field = if violation.path.is_empty() {
            "input".to_owned()
        } else {
            format!("input.{}", violation.path)
        };
        AdapterError::invalid_field(field, violation.message)
    })?;
    if let Some(key) = idempotency_key
        && (key.is_empty() || key.chars().count() > MAX_IDEMPOTENCY_KEY_CHARS)
    {
        return Err(AdapterError::invalid_field(
            "idempotency_key",
            format!("must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters"),
        ));
    }
    let params = input.as_object().cloned().unwrap_or_default();
    Ok(form::encode(&params))
}

/// Runs an action.
pub(crate) async fn run(
    api: &Api<'_>,
    action: &ActionDef,
    input: &Value,
    idempotency_key: Option<&str>,
) -> Result<ActionOutcome, AdapterError> {
    let pairs = prepare(action, input, idempotency_key)?;
    let object = api.post_form(action.path, &pairs, idempotency_key).await?;
    outcome(action, &object)
}

/// The outcome of an action: the created object's id and the fields a client needs.
pub(crate) fn outcome(action: &ActionDef, object: &Value) -> Result<ActionOutcome, AdapterError> {
    let id = object
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            AdapterError::unavailable(format!(
                "Stripe answered {} without an object id",
                action.name
            ))
        })?;
    let mut output = Map::new();
    for field in action.output_fields {
        if let Some(value) = object.get(*field) {
            let value = if *field == "items" {
                trim_items(value)
            } else {
                value.clone()
            };
            output.insert((*field).to_owned(), value);
        }
    }
    Ok(ActionOutcome {
        external_id: Some(id.to_owned()),
        output: Value::Object(output),
    })
}

/// A subscription's items as `[{id, price, quantity}]` (the full price objects are
/// in the synced record).
fn trim_items(items: &Value) -> Value {
    let data = items
        .get("data")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Value::Array(
        data.iter()
            .map(|item| {
                json!({
                    "id": item.get("id"),
                    "price": item.get("price").and_then(|p| p.get("id")),
                    "quantity": item.get("quantity"),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_become_stripe_form_parameters() {
        let action = find("create_subscription").unwrap();
        let pairs = prepare(
            action,
            &json!({"customer": "cus_1", "items": [{"price": "price_1", "quantity": 2}],
                "metadata": {"plan": "pro"}, "trial_period_days": 14}),
            Some("key-1"),
        )
        .unwrap();
        let shown: Vec<_> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            shown,
            [
                "customer=cus_1",
                "items[0][price]=price_1",
                "items[0][quantity]=2",
                "metadata[plan]=pro",
                "trial_period_days=14"
            ]
        );
    }

    #[test]
    fn bad_inputs_name_the_field() {
        let err = prepare(
            find("create_payment_intent").unwrap(),
            &json!({"amount": 100}),
            None,
        )
        .unwrap_err();
        assert_eq!(
            err,
            AdapterError::invalid_field("input.currency", "is required")
        );
        let err = prepare(
            find("create_subscription").unwrap(),
            &json!({"customer": "cus_1", "items": [{"quantity": 1}]}),
            None,
        )
        .unwrap_err();
        assert_eq!(
            err,
            AdapterError::invalid_field("input.items[0].price", "is required")
        );
        let err = prepare(find("refund").unwrap(), &json!({"amount": 5}), None).unwrap_err();
        assert_eq!(
            err,
            AdapterError::invalid_field("input", "needs exactly one of: charge, payment_intent")
        );
        let err = prepare(
            find("refund").unwrap(),
            &json!({"charge": "ch_1"}),
            Some(&"k".repeat(256)),
        )
        .unwrap_err();
        assert!(
            matches!(err, AdapterError::Invalid { field: Some(f), .. } if f == "idempotency_key")
        );
    }

    #[test]
    fn outcomes_keep_the_id_and_trim_the_object() {
        let action = find("create_subscription").unwrap();
        let object = json!({"id": "sub_1", "object": "subscription", "status": "active", "secret_stuff": 1,
            "items": {"object": "list", "data": [{"id": "si_1", "quantity": 2, "price": {"id": "price_1", "unit_amount": 2000}}]}});
        let outcome = outcome(action, &object).unwrap();
        assert_eq!(outcome.external_id.as_deref(), Some("sub_1"));
        assert_eq!(
            outcome.output,
            json!({"id": "sub_1", "object": "subscription", "status": "active",
                "items": [{"id": "si_1", "price": "price_1", "quantity": 2}]})
        );
        assert!(matches!(
            super::outcome(action, &json!({"object": "subscription"})),
            Err(AdapterError::Unavailable { .. })
        ));
    }
}
