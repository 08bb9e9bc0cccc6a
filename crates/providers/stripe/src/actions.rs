//! The five Stripe actions: create a customer, a payment intent, a subscription, an
//! invoice, and refund a payment.
//!
//! The actions are data, in `actions.json`: each one's name, description, endpoint
//! (under `v1`), the response fields its outcome keeps, and its input JSON Schema as
//! `GET /v1/providers/stripe` serves it. An input is a subset of the endpoint's own
//! parameters, with the same names and shapes: amounts in integer minor units, at
//! most 99,999,999 (eight digits, Stripe's largest); metadata of at most 50 keys of
//! at most 40 characters, values of at most 500, as Stripe allows. So the input is
//! checked against the schema (core's `ActionSpec::validate_input`, the API's own
//! check, made again here for direct and queued calls) and then form-encoded as is.
//! A payment intent's outcome keeps its `client_secret`: it goes back to the client
//! app, which hands it to Stripe.js to complete the payment in the customer's
//! browser; it is not a Junction credential.
//!
//! The caller's idempotency key goes out as `Idempotency-Key`: Stripe answers a retry
//! with the same key and parameters with the stored result of the first attempt, so
//! a retried action charges, refunds or creates once.

use junction_core::{ActionOutcome, AdapterError};
use junction_toolkit::{Client, input};
use serde_json::{Map, Value, json};

use crate::{
    api, form,
    spec::{ActionDef, action_defs, spec},
};

/// The input of `action` as the form parameters to send, once it passes the
/// action's JSON Schema and the idempotency key Stripe's limits. A problem names the
/// input field (`input.items[0].price`, `input` for the whole).
pub(crate) fn prepare(
    action: &ActionDef,
    input: &Value,
    idempotency_key: Option<&str>,
) -> Result<Vec<(String, String)>, AdapterError> {
    let checked = input::checked(spec(), action.name, input);
    let params: Map<String, Value> = checked.map_err(|err| match err {
        AdapterError::Invalid {
            field: Some(path),
            message,
        } if path != "input" => AdapterError::invalid_field(format!("input.{path}"), message),
        other => other,
    })?;
    api::IDEMPOTENCY.check(idempotency_key)?;
    Ok(form::encode(&params))
}

/// Runs the action `name`.
pub(crate) async fn run(
    client: &Client<'_>,
    name: &str,
    input: &Value,
    idempotency_key: Option<&str>,
) -> Result<ActionOutcome, AdapterError> {
    let Some(action) = action_defs().iter().find(|action| action.name == name) else {
        return Err(AdapterError::unknown_action("Stripe", name));
    };
    let pairs = prepare(action, input, idempotency_key)?;
    let object = api::post_form(client, action.path, &pairs, idempotency_key).await?;
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
    for field in &action.output {
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
    let data = items.pointer("/data").and_then(Value::as_array);
    let trimmed = data.into_iter().flatten().map(|item| {
        json!({
            "id": item.get("id"),
            "price": item.pointer("/price/id"),
            "quantity": item.get("quantity"),
        })
    });
    Value::Array(trimmed.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(name: &str) -> &'static ActionDef {
        action_defs()
            .iter()
            .find(|action| action.name == name)
            .unwrap()
    }

    use junction_core::spec::ActionSpec;

    #[test]
    fn the_actions_file_describes_five_actions_with_sound_schemas() {
        let names: Vec<_> = action_defs().iter().map(|a| a.name).collect();
        assert_eq!(
            names,
            [
                "create_customer",
                "create_payment_intent",
                "create_subscription",
                "refund",
                "create_invoice"
            ]
        );
        let metadata = &find("create_customer").input_schema["properties"]["metadata"];
        for action in action_defs() {
            let schema = &action.input_schema;
            assert!(jsonschema_compiles(schema), "{}", action.name);
            assert_eq!(schema["additionalProperties"], false, "{}", action.name);
            // Every action takes Stripe's metadata, with Stripe's limits.
            assert_eq!(
                &schema["properties"]["metadata"], metadata,
                "{}",
                action.name
            );
            assert!(action.output.contains(&"id"), "{}", action.name);
            assert!(
                action.description.contains(&format!("/v1/{}", action.path)),
                "{}",
                action.name
            );
        }
    }

    /// Whether core can check inputs against `schema` (an invalid schema fails every
    /// input with a message naming the action).
    fn jsonschema_compiles(schema: &Value) -> bool {
        let spec = ActionSpec {
            name: "probe",
            description: "",
            input_schema: schema.clone(),
            long_running: false,
            email_recipients: Vec::new(),
        };
        match spec.validate_input(&json!({})) {
            Ok(()) => true,
            Err(problems) => problems
                .iter()
                .all(|p| !p.message.contains("invalid input schema")),
        }
    }

    #[test]
    fn inputs_become_stripe_form_parameters() {
        let pairs = prepare(
            find("create_subscription"),
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
        let err =
            prepare(find("create_payment_intent"), &json!({"amount": 100}), None).unwrap_err();
        assert_eq!(
            err,
            AdapterError::invalid_field("input.currency", "is required")
        );
        let err = prepare(
            find("create_subscription"),
            &json!({"customer": "cus_1", "items": [{"quantity": 1}]}),
            None,
        )
        .unwrap_err();
        assert_eq!(
            err,
            AdapterError::invalid_field("input.items[0].price", "is required")
        );
        let err = prepare(find("refund"), &json!({"amount": 5}), None).unwrap_err();
        assert_eq!(
            err,
            AdapterError::invalid_field("input", "matches none of the allowed alternatives")
        );
        let err = prepare(
            find("refund"),
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
        let action = find("create_subscription");
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
