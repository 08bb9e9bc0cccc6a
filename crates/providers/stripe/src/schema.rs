//! A validator for the JSON Schema subset the action input schemas use, so that the
//! schema published in the spec and the check `act` runs are one and the same.
//!
//! Supported keywords: `type` (object, string, integer, boolean, array), `properties`,
//! `required`, `additionalProperties` (`false` or a schema), `maxProperties`,
//! `propertyNames.maxLength`, `enum`, `minimum`, `maximum`, `minLength`, `maxLength`,
//! `items`, `minItems`, `maxItems` and `oneOf`. A keyword outside this set is a bug in
//! this crate's schemas, which the unit tests guard against.

use serde_json::{Map, Value};

/// The keywords [`validate`] understands (the tests check the schemas use no other).
#[cfg(test)]
const KEYWORDS: [&str; 17] = [
    "type",
    "description",
    "properties",
    "required",
    "additionalProperties",
    "maxProperties",
    "propertyNames",
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "items",
    "minItems",
    "maxItems",
    "oneOf",
    "$comment",
];

/// A value that does not fit the schema: where (`items[0].price`, empty for the
/// value as a whole) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    pub path: String,
    pub message: String,
}

/// Checks `value` against `schema`; the first violation found, if any.
pub(crate) fn validate(schema: &Value, value: &Value) -> Result<(), Violation> {
    check(schema, value, "")
}

fn violation(path: &str, message: impl Into<String>) -> Violation {
    Violation {
        path: path.to_owned(),
        message: message.into(),
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn check(schema: &Value, value: &Value, path: &str) -> Result<(), Violation> {
    let Some(schema) = schema.as_object() else {
        return Ok(());
    };
    if let Some(kind) = schema.get("type").and_then(Value::as_str) {
        let fits = match kind {
            "object" => value.is_object(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "boolean" => value.is_boolean(),
            "array" => value.is_array(),
            _ => true,
        };
        if !fits {
            return Err(violation(path, format!("must be of type {kind}")));
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let names: Vec<String> = allowed
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect();
        return Err(violation(
            path,
            format!("must be one of: {}", names.join(", ")),
        ));
    }
    match value {
        Value::Object(fields) => check_object(schema, fields, path)?,
        Value::String(text) => {
            let length = text.chars().count() as u64;
            if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
                && length < min
            {
                return Err(violation(
                    path,
                    format!("must be at least {min} characters"),
                ));
            }
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
                && length > max
            {
                return Err(violation(path, format!("must be at most {max} characters")));
            }
        }
        Value::Number(number) => {
            if let (Some(min), Some(n)) = (
                schema.get("minimum").and_then(Value::as_i64),
                number.as_i64(),
            ) && n < min
            {
                return Err(violation(path, format!("must be at least {min}")));
            }
            if let (Some(max), Some(n)) = (
                schema.get("maximum").and_then(Value::as_i64),
                number.as_i64(),
            ) && n > max
            {
                return Err(violation(path, format!("must be at most {max}")));
            }
            // u64 values above i64::MAX exceed every maximum used here.
            if schema.get("maximum").is_some() && number.as_i64().is_none() {
                return Err(violation(path, "is too large"));
            }
        }
        Value::Array(items) => {
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
                && (items.len() as u64) < min
            {
                return Err(violation(path, format!("must have at least {min} items")));
            }
            if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
                && (items.len() as u64) > max
            {
                return Err(violation(path, format!("must have at most {max} items")));
            }
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter().enumerate() {
                    check(item_schema, item, &format!("{path}[{index}]"))?;
                }
            }
        }
        _ => {}
    }
    if let Some(alternatives) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = alternatives
            .iter()
            .filter(|alternative| check(alternative, value, path).is_ok())
            .count();
        if matching != 1 {
            let required: Vec<&str> = alternatives
                .iter()
                .filter_map(|a| a.get("required").and_then(Value::as_array))
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let message = if required.is_empty() {
                "must match exactly one of the allowed forms".to_owned()
            } else {
                format!("needs exactly one of: {}", required.join(", "))
            };
            return Err(violation(path, message));
        }
    }
    Ok(())
}

fn check_object(
    schema: &Map<String, Value>,
    fields: &Map<String, Value>,
    path: &str,
) -> Result<(), Violation> {
    let properties = schema.get("properties").and_then(Value::as_object);
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if fields.get(name).is_none_or(Value::is_null) {
                return Err(violation(&child(path, name), "is required"));
            }
        }
    }
    if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64)
        && fields.len() as u64 > max
    {
        return Err(violation(path, format!("must have at most {max} entries")));
    }
    let name_max = schema
        .get("propertyNames")
        .and_then(|names| names.get("maxLength"))
        .and_then(Value::as_u64);
    for (name, item) in fields {
        // An explicit null is an absent optional field (required ones were checked).
        if item.is_null() {
            continue;
        }
        if let Some(max) = name_max
            && name.chars().count() as u64 > max
        {
            return Err(violation(
                &child(path, name),
                format!("key must be at most {max} characters"),
            ));
        }
        match properties.and_then(|p| p.get(name)) {
            Some(property) => check(property, item, &child(path, name))?,
            None => match schema.get("additionalProperties") {
                Some(Value::Bool(false)) => {
                    return Err(violation(&child(path, name), "is not a known field"));
                }
                Some(extra @ Value::Object(_)) => check(extra, item, &child(path, name))?,
                _ => {}
            },
        }
    }
    Ok(())
}

/// Every keyword used anywhere in `schema` that [`validate`] does not understand.
#[cfg(test)]
pub(crate) fn unknown_keywords(schema: &Value) -> Vec<String> {
    let mut unknown = Vec::new();
    collect_unknown(schema, &mut unknown);
    unknown
}

#[cfg(test)]
fn collect_unknown(schema: &Value, unknown: &mut Vec<String>) {
    let Some(object) = schema.as_object() else {
        return;
    };
    for (keyword, value) in object {
        if !KEYWORDS.contains(&keyword.as_str()) {
            unknown.push(keyword.clone());
        }
        match keyword.as_str() {
            "properties" => {
                for property in value.as_object().into_iter().flat_map(|p| p.values()) {
                    collect_unknown(property, unknown);
                }
            }
            "items" | "additionalProperties" | "propertyNames" => collect_unknown(value, unknown),
            "oneOf" => {
                for alternative in value.as_array().into_iter().flatten() {
                    collect_unknown(alternative, unknown);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "required": ["items"],
            "additionalProperties": false,
            "properties": {
                "items": {"type": "array", "minItems": 1, "maxItems": 2, "items": {
                    "type": "object", "required": ["price"], "additionalProperties": false,
                    "properties": {"price": {"type": "string", "minLength": 1}, "quantity": {"type": "integer", "minimum": 1}}
                }},
                "reason": {"type": "string", "enum": ["duplicate", "fraudulent"]},
                "metadata": {"type": "object", "maxProperties": 2, "propertyNames": {"maxLength": 3},
                    "additionalProperties": {"type": "string", "maxLength": 5}},
                "charge": {"type": "string"},
                "payment_intent": {"type": "string"}
            },
            "oneOf": [{"required": ["charge"]}, {"required": ["payment_intent"]}]
        })
    }

    fn error(value: Value) -> (String, String) {
        let v = validate(&schema(), &value).unwrap_err();
        (v.path, v.message)
    }

    #[test]
    fn valid_input_passes() {
        let ok = json!({"items": [{"price": "p", "quantity": 2}], "reason": "duplicate",
            "metadata": {"a": "x"}, "charge": "ch_1"});
        assert_eq!(validate(&schema(), &ok), Ok(()));
    }

    #[test]
    fn violations_name_the_path() {
        assert_eq!(error(json!({"charge": "c"})).0, "items");
        assert_eq!(error(json!({"items": [], "charge": "c"})).0, "items");
        assert_eq!(
            error(json!({"items": [{"quantity": 1}], "charge": "c"})),
            ("items[0].price".into(), "is required".into())
        );
        assert_eq!(
            error(json!({"items": [{"price": "p", "quantity": 0}], "charge": "c"})).0,
            "items[0].quantity"
        );
        assert_eq!(
            error(json!({"items": [{"price": "p", "quantity": 1.5}], "charge": "c"})).1,
            "must be of type integer"
        );
        assert_eq!(
            error(json!({"items": [{"price": "p"}], "reason": "nope", "charge": "c"})).1,
            "must be one of: duplicate, fraudulent"
        );
        assert_eq!(
            error(json!({"items": [{"price": "p"}], "extra": 1, "charge": "c"})),
            ("extra".into(), "is not a known field".into())
        );
        assert_eq!(
            error(json!({"items": [{"price": "p"}], "metadata": {"long": "x"}, "charge": "c"})).0,
            "metadata.long"
        );
        assert_eq!(
            error(json!({"items": [{"price": "p"}], "metadata": {"a": "toolong"}, "charge": "c"}))
                .0,
            "metadata.a"
        );
        assert_eq!(
            error(json!({"items": [{"price": "p"}]})),
            (
                String::new(),
                "needs exactly one of: charge, payment_intent".into()
            )
        );
        assert_eq!(
            error(json!({"items": [{"price": "p"}], "charge": "c", "payment_intent": "p"})).1,
            "needs exactly one of: charge, payment_intent"
        );
        assert_eq!(error(json!([])).1, "must be of type object");
    }

    #[test]
    fn unknown_keywords_are_found() {
        assert!(unknown_keywords(&schema()).is_empty());
        assert_eq!(
            unknown_keywords(&json!({"type": "object", "properties": {"a": {"pattern": "x"}}})),
            ["pattern"]
        );
    }
}
