//! The Stripe actions: customers (create, update, search), payments (payment
//! intents, Checkout Sessions, Payment Links, refunds), subscriptions (create, change
//! prices and quantities with proration, cancel now or at the period end, resume a
//! scheduled cancellation, pause and resume collection) and invoices (invoice items,
//! create, finalize, send, void).
//!
//! The actions are data, in `actions.json`: each one's name, description, method and
//! endpoint (under `v1`; a `{field}` segment names the object the input's field
//! identifies), the parameters it always sends (`mode=payment`,
//! `cancel_at_period_end=true`), the response fields its outcome keeps, and its input
//! JSON Schema as `GET /v1/providers/stripe` serves it. An input is a subset of the
//! endpoint's own parameters, with the same names and shapes: amounts in integer
//! minor units, at most 99,999,999 (eight digits, Stripe's largest); metadata of at
//! most 50 keys of at most 40 characters, values of at most 500, as Stripe allows;
//! object ids in paths of letters, digits and `_` only. So the input is checked
//! against the schema (core's `ActionSpec::validate_input`, the API's own check, made
//! again here for direct and queued calls) and then form-encoded as is (in the query
//! for `GET` and `DELETE`). A payment intent's outcome keeps its `client_secret`: it
//! goes back to the client app, which hands it to Stripe.js to complete the payment
//! in the customer's browser; it is not a Junction credential.
//!
//! The caller's idempotency key goes out as `Idempotency-Key`: Stripe answers a retry
//! with the same key and parameters with the stored result of the first attempt, so
//! a retried action charges, refunds, creates or changes once. Stripe keeps no
//! idempotency for `DELETE` (a deletion is final by itself): a cancellation retried
//! after it went through meets `404 No such subscription` and answers with the
//! canceled subscription instead, as the first attempt did.

use junction_core::{ActionOutcome, AdapterError};
use junction_toolkit::{Client, input};
use serde_json::{Map, Value, json};

use crate::{
    api, form,
    spec::{ActionDef, action_defs, spec},
};

/// The endpoint and form parameters of `action` for `input`, once the input passes
/// the action's JSON Schema and the idempotency key Stripe's limits. A problem names
/// the input field (`input.items[0].price`, `input` for the whole).
pub(crate) fn prepare(
    action: &ActionDef,
    input: &Value,
    idempotency_key: Option<&str>,
) -> Result<(String, Vec<(String, String)>), AdapterError> {
    let checked = input::checked(spec(), action.name, input);
    let mut params: Map<String, Value> = checked.map_err(|err| match err {
        AdapterError::Invalid {
            field: Some(path),
            message,
        } if path != "input" => AdapterError::invalid_field(format!("input.{path}"), message),
        other => other,
    })?;
    api::IDEMPOTENCY.check(idempotency_key)?;
    let path = fill_path(action.path, &mut params)?;
    for (name, value) in &action.fixed {
        params.insert(name.clone(), value.clone());
    }
    Ok((path, form::encode(&params)))
}

/// `action.path` with each `{field}` replaced by the input's field (taken out of
/// the parameters). The schema admits only id characters there.
fn fill_path(template: &str, params: &mut Map<String, Value>) -> Result<String, AdapterError> {
    let mut path = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .map(|at| open + at)
            .ok_or_else(|| AdapterError::invalid(format!("bad action path {template}")))?;
        let name = &rest[open + 1..close];
        let value = params.remove(name);
        let id = object_id(value.as_ref(), name)?;
        path.push_str(&rest[..open]);
        path.push_str(id);
        rest = &rest[close + 1..];
    }
    path.push_str(rest);
    Ok(path)
}

/// The Stripe object id in the input field `name` (`value`), fit for a URL path:
/// letters, digits and `_` only.
pub(crate) fn object_id<'v>(value: Option<&'v Value>, name: &str) -> Result<&'v str, AdapterError> {
    value
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .ok_or_else(|| AdapterError::invalid_field(format!("input.{name}"), "must be a Stripe id"))
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
    let (path, pairs) = prepare(action, input, idempotency_key)?;
    let object = match action.method {
        "GET" => {
            let query: Vec<(&str, String)> =
                pairs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            api::get(client, &path, &query).await?.body
        }
        "DELETE" => match api::delete(client, &path, &pairs, idempotency_key).await {
            Err(AdapterError::Provider { status: 404, .. }) => {
                already_deleted(client, &path).await?
            }
            other => other?,
        },
        _ => api::post_form(client, &path, &pairs, idempotency_key).await?,
    };
    outcome(action, &object)
}

/// A `DELETE` Stripe answered with 404: the subscription canceled by an earlier
/// attempt (Stripe reads a canceled subscription as deleted) is the outcome; one
/// that does not exist, or is not canceled, stays a 404.
async fn already_deleted(client: &Client<'_>, path: &str) -> Result<Value, AdapterError> {
    let object = api::get(client, path, &[]).await?.body;
    if object.get("status").and_then(Value::as_str) == Some("canceled") {
        Ok(object)
    } else {
        Err(AdapterError::Provider {
            status: 404,
            code: Some("resource_missing".into()),
            message: format!("Stripe could not delete {path}, which is not canceled"),
        })
    }
}

/// The outcome of an action: the created object's id and the fields a client needs.
pub(crate) fn outcome(action: &ActionDef, object: &Value) -> Result<ActionOutcome, AdapterError> {
    let id = object
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty());
    if id.is_none() && !action.list {
        return Err(AdapterError::unavailable(format!(
            "Stripe answered {} without an object id",
            action.name
        )));
    }
    if action.list && !object.get("data").is_some_and(Value::is_array) {
        return Err(AdapterError::unavailable(format!(
            "Stripe answered {} without a list of results",
            action.name
        )));
    }
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
        external_id: id.map(str::to_owned),
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
pub(crate) mod tests {
    use super::*;

    fn find(name: &str) -> &'static ActionDef {
        action_defs()
            .iter()
            .find(|action| action.name == name)
            .unwrap()
    }

    use junction_core::spec::ActionSpec;

    /// Every action, in the order of `actions.json`.
    pub(crate) const NAMES: [&str; 19] = [
        "create_customer",
        "create_payment_intent",
        "create_subscription",
        "refund",
        "create_invoice",
        "update_customer",
        "search_customers",
        "update_subscription",
        "cancel_subscription",
        "cancel_subscription_at_period_end",
        "resume_subscription",
        "pause_subscription_collection",
        "resume_subscription_collection",
        "create_invoice_item",
        "finalize_invoice",
        "send_invoice",
        "void_invoice",
        "create_checkout_session",
        "create_payment_link",
    ];

    #[test]
    fn the_actions_file_describes_every_action_with_sound_schemas() {
        let names: Vec<_> = action_defs().iter().map(|a| a.name).collect();
        assert_eq!(names, NAMES);
        let metadata = &find("create_customer").input_schema["properties"]["metadata"];
        for action in action_defs() {
            let schema = &action.input_schema;
            assert!(jsonschema_compiles(schema), "{}", action.name);
            assert_eq!(schema["additionalProperties"], false, "{}", action.name);
            // Metadata is Stripe's, with Stripe's limits, wherever it is taken.
            if let Some(taken) = schema["properties"].get("metadata") {
                assert_eq!(taken, metadata, "{}", action.name);
            }
            assert!(
                action.output.contains(&"id") || action.list,
                "{}",
                action.name
            );
            assert!(["POST", "GET", "DELETE"].contains(&action.method));
            // A path's `{field}` is a required input field.
            for part in action.path.split('/') {
                if let Some(field) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    let required = schema["required"].as_array().unwrap();
                    assert!(required.iter().any(|r| r == field), "{}", action.name);
                    assert_eq!(schema["properties"][field]["pattern"], "^[A-Za-z0-9_]+$");
                }
            }
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
            provider_recipients: None,
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
        let (_, pairs) = prepare(
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

    fn shown(pairs: &[(String, String)]) -> Vec<String> {
        pairs.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    #[test]
    fn ids_go_into_the_path_and_fixed_parameters_over_the_input() {
        let (path, pairs) = prepare(
            find("cancel_subscription_at_period_end"),
            &json!({"subscription": "sub_1", "cancellation_details": {"comment": "moving"}}),
            Some("k"),
        )
        .unwrap();
        assert_eq!(path, "subscriptions/sub_1");
        assert_eq!(
            shown(&pairs),
            [
                "cancel_at_period_end=true",
                "cancellation_details[comment]=moving"
            ]
        );
        let (path, pairs) = prepare(
            find("resume_subscription_collection"),
            &json!({"subscription": "sub_1"}),
            None,
        )
        .unwrap();
        assert_eq!(
            (path.as_str(), shown(&pairs)),
            ("subscriptions/sub_1", vec!["pause_collection=".to_owned()])
        );
        let (path, pairs) =
            prepare(find("void_invoice"), &json!({"invoice": "in_9"}), None).unwrap();
        assert_eq!((path.as_str(), pairs.len()), ("invoices/in_9/void", 0));
        let (_, pairs) = prepare(
            find("create_checkout_session"),
            &json!({"line_items": [{"price": "price_1", "quantity": 2}], "success_url": "https://a.example/ok"}),
            None,
        )
        .unwrap();
        assert_eq!(
            shown(&pairs),
            [
                "line_items[0][price]=price_1",
                "line_items[0][quantity]=2",
                "mode=payment",
                "success_url=https://a.example/ok"
            ]
        );
        // An id that would step out of the path is refused by the schema.
        let err = prepare(
            find("void_invoice"),
            &json!({"invoice": "../customers"}),
            None,
        )
        .unwrap_err();
        assert!(
            matches!(&err, AdapterError::Invalid { field: Some(f), .. } if f == "input.invoice"),
            "{err:?}"
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
