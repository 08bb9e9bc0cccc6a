//! The fake's Measurement Protocol: `POST /mp/collect`, which answers 204 with an
//! empty body whatever it is sent (as Google's does: a bad event is dropped, not
//! refused), and the validation server `POST /debug/mp/collect`, which checks the
//! same body and answers `{"validationMessages": [{"fieldPath", "description",
//! "validationCode"}]}` — empty when the events are valid. Neither checks the
//! `api_secret` (Google's validation server does not; its collection endpoint
//! silently drops what a wrong secret sends). The limits, reserved names and
//! words are data (`mp.json`).

use junction_core::fake::FakeResponse;
use junction_toolkit::fake::{Call, Data, empty, fill};
use serde_json::{Map, Value, json};

/// The protocol's limits, reserved names and messages.
static MP: Data = Data::new(include_str!("mp.json"));

/// `POST /mp/collect`: accepted, recorded nowhere.
pub(crate) fn collect(call: &Call<'_>) -> FakeResponse {
    let _ = call;
    empty(204)
}

/// `POST /debug/mp/collect`.
pub(crate) fn debug(call: &Call<'_>) -> FakeResponse {
    let messages = validate(&call.request.body, call.query("measurement_id").is_some());
    FakeResponse::json(200, &json!({"validationMessages": messages}))
}

fn limit(name: &str) -> usize {
    MP.at(&format!("/limits/{name}"))
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(usize::MAX)
}

/// The message `name` of `mp.json` with `vars` filled in.
fn message(name: &str, vars: Value) -> Value {
    let entry = fill(MP.at(&format!("/messages/{name}")), &vars);
    json!({"fieldPath": entry[0], "description": entry[1], "validationCode": entry[2]})
}

fn reserved(list: &str, name: &str) -> bool {
    MP.list(list).iter().any(|n| n == name)
        || MP
            .list("/reserved_prefixes")
            .iter()
            .filter_map(Value::as_str)
            .any(|prefix| name.starts_with(prefix))
}

/// A name of letters, digits and underscores starting with a letter.
fn well_formed(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Every problem of a body, as validation messages.
pub(crate) fn validate(body: &[u8], has_measurement_id: bool) -> Vec<Value> {
    let mut messages = Vec::new();
    if body.len() > limit("body_bytes") {
        messages.push(message("too_big", json!({"max": limit("body_bytes")})));
    }
    let Ok(Value::Object(payload)) = serde_json::from_slice::<Value>(body) else {
        messages.push(message("bad_json", json!({})));
        return messages;
    };
    if !has_measurement_id {
        messages.push(message("no_measurement_id", json!({})));
    }
    let has = |key: &str| {
        payload
            .get(key)
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty())
    };
    if !has("client_id") && !has("app_instance_id") {
        messages.push(message("no_client_id", json!({})));
    }
    let events = payload
        .get("events")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if events.is_empty() {
        messages.push(message("no_events", json!({})));
    }
    if events.len() > limit("events") {
        messages.push(message(
            "too_many_events",
            json!({"max": limit("events"), "count": events.len()}),
        ));
    }
    for (index, event) in events.iter().enumerate() {
        event_messages(index, event, &mut messages);
    }
    if let Some(properties) = payload.get("user_properties").and_then(Value::as_object) {
        user_property_messages(properties, &mut messages);
    }
    messages
}

fn event_messages(index: usize, event: &Value, messages: &mut Vec<Value>) {
    let name = event["name"].as_str().unwrap_or_default();
    let max = limit("name");
    if !well_formed(name) {
        messages.push(message("event_name", json!({"index": index, "name": name})));
    } else if name.len() > max {
        messages.push(message(
            "event_name_long",
            json!({"index": index, "name": name, "max": max}),
        ));
    } else if reserved("/reserved_events", name) {
        messages.push(message(
            "event_reserved",
            json!({"index": index, "name": name}),
        ));
    }
    let empty = Map::new();
    let params = event
        .get("params")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if params.len() > limit("params") {
        let vars = json!({"index": index, "count": params.len(), "max": limit("params")});
        messages.push(message("too_many_params", vars));
    }
    for (param, value) in params {
        let vars = json!({"index": index, "name": param, "max": limit("param_value")});
        if !well_formed(param) || param.len() > max {
            messages.push(message("param_name", vars));
        } else if reserved("/reserved_params", param) {
            messages.push(message("param_reserved", vars));
        } else if value
            .as_str()
            .is_some_and(|v| v.chars().count() > limit("param_value"))
        {
            messages.push(message("param_value_long", vars));
        } else if value.is_object()
            || value.is_null()
            || (value.is_array()
                && (param != "items" || value.as_array().is_some_and(|i| i.len() > limit("items"))))
        {
            messages.push(message("param_value", vars));
        }
    }
}

fn user_property_messages(properties: &Map<String, Value>, messages: &mut Vec<Value>) {
    if properties.len() > limit("user_properties") {
        let vars = json!({"max": limit("user_properties"), "count": properties.len()});
        messages.push(message("too_many_user_properties", vars));
    }
    for (name, property) in properties {
        let max = limit("user_property_name");
        if !well_formed(name) || name.len() > max {
            messages.push(message(
                "user_property_name",
                json!({"name": name, "max": max}),
            ));
        } else if reserved("/reserved_user_properties", name) {
            messages.push(message("user_property_reserved", json!({"name": name})));
        } else if property["value"]
            .as_str()
            .is_some_and(|v| v.chars().count() > limit("user_property_value"))
        {
            let vars = json!({"name": name, "max": limit("user_property_value")});
            messages.push(message("user_property_value", vars));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The messages' field paths and codes, sorted (params are checked in map order).
    fn codes(body: Value) -> Vec<(String, String)> {
        let mut codes: Vec<(String, String)> = validate(body.to_string().as_bytes(), true)
            .iter()
            .map(|m| {
                (
                    m["fieldPath"].as_str().unwrap().to_owned(),
                    m["validationCode"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        codes.sort();
        codes
    }

    #[test]
    fn valid_events_have_no_messages() {
        let body = json!({"client_id": "123.456", "user_id": "u1", "events": [
            {"name": "page_view", "params": {"page_location": "https://shop.example/", "session_id": "1", "engagement_time_msec": 100}},
            {"name": "purchase", "params": {"transaction_id": "T1", "value": 30.5, "currency": "EUR",
                "items": [{"item_id": "SKU_1001", "item_name": "Sandbox Tee", "price": 30.5, "quantity": 1}]}}
        ], "user_properties": {"membership": {"value": "premium"}}});
        assert!(codes(body).is_empty());
    }

    #[test]
    fn each_rule_has_its_code() {
        let long = "x".repeat(101);
        assert_eq!(
            codes(json!({"client_id": "1", "events": [
                {"name": "_badEventName"},
                {"name": "session_start"},
                {"name": "signup", "params": {"google_campaign": "x", "note": long, "nested": {"a": 1}, "1st": "x"}}
            ]})),
            [
                ("events".to_owned(), "NAME_INVALID".to_owned()),
                ("events".to_owned(), "NAME_RESERVED".to_owned()),
                ("events.params".to_owned(), "NAME_INVALID".to_owned()),
                ("events.params".to_owned(), "NAME_RESERVED".to_owned()),
                ("events.params".to_owned(), "VALUE_INVALID".to_owned()),
                ("events.params".to_owned(), "VALUE_OUT_OF_BOUNDS".to_owned()),
            ]
        );
        let many: Vec<Value> = (0..26).map(|_| json!({"name": "tick"})).collect();
        assert_eq!(
            codes(json!({"events": many})),
            [
                ("client_id".to_owned(), "VALUE_REQUIRED".to_owned()),
                ("events".to_owned(), "EXCEEDED_MAX_ENTITIES".to_owned())
            ]
        );
        assert_eq!(
            codes(
                json!({"client_id": "1", "events": [{"name": "x"}], "user_properties": {"user_id": {"value": "1"}}})
            ),
            [("user_properties".to_owned(), "NAME_RESERVED".to_owned())]
        );
        let first = &validate(b"{not json", true)[0];
        assert_eq!(first["validationCode"], "VALUE_INVALID");
        let described = &validate(
            br#"{"client_id": "1", "events": [{"name": "_badEventName"}]}"#,
            true,
        )[0];
        assert_eq!(
            described["description"],
            "Event at index: [0] has invalid name [_badEventName]. Names must start with an alphabetic character and contain only alphanumeric characters and underscores."
        );
    }
}
