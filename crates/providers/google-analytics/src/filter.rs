//! Dimension filters (GA4's `FilterExpression`): an audience segment of a custom
//! report (`custom_filter`) or of a `run_report` call (`dimension_filter`).
//!
//! A filter is checked against `filter.schema.json` — the discovery document's
//! shape as a JSON Schema: one of `andGroup`, `orGroup`, `notExpression` and
//! `filter` per expression, one kind per filter — before anything is sent, so a
//! typo is refused with the path of the problem (`custom_filter.andGroup.
//! expressions[1].filter`), never quoting the value. The names a filter uses
//! ([`field_names`]) are then checked against the property's metadata with the
//! requested dimensions (see [`crate::metadata`]).

use std::sync::OnceLock;

use junction_core::AdapterError;
use serde_json::Value;

/// The JSON Schema of a `FilterExpression`.
const SCHEMA: &str = include_str!("filter.schema.json");

/// The compiled schema; `None` if the file does not compile (the unit tests make
/// sure it does).
fn validator() -> Option<&'static jsonschema::Validator> {
    static VALIDATOR: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| {
            let schema: Value = serde_json::from_str(SCHEMA).ok()?;
            jsonschema::validator_for(&schema).ok()
        })
        .as_ref()
}

/// `filter` checked as a `FilterExpression`; problems are `Invalid`, reported under
/// `field` and the path inside the filter.
pub(crate) fn check(field: &str, filter: &Value) -> Result<(), AdapterError> {
    let validator = validator()
        .ok_or_else(|| AdapterError::invalid_field(field, "the filter schema does not compile"))?;
    let Some(error) = validator.iter_errors(filter).next() else {
        return Ok(());
    };
    let mut path = field.to_owned();
    for segment in error.instance_path().iter() {
        match segment {
            jsonschema::paths::LocationSegment::Index(index) => {
                path.push_str(&format!("[{index}]"))
            }
            jsonschema::paths::LocationSegment::Property(name) => {
                path.push('.');
                path.push_str(&name);
            }
        }
    }
    Err(AdapterError::invalid_field(
        path,
        format!(
            "is not a GA4 FilterExpression: {} (an expression is one of `filter`, `andGroup`, \
             `orGroup`, `notExpression`; a filter is `fieldName` and one of `stringFilter`, \
             `inListFilter`, `numericFilter`, `betweenFilter`, `emptyFilter`)",
            error.masked()
        ),
    ))
}

/// Reads `text` (a config value) as a checked filter; blank is none.
pub(crate) fn parse(field: &str, text: Option<&str>) -> Result<Option<Value>, AdapterError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let filter: Value = serde_json::from_str(text)
        .map_err(|e| AdapterError::invalid_field(field, format!("is not JSON: {e}")))?;
    check(field, &filter)?;
    Ok(Some(filter))
}

/// Every `fieldName` of a (checked) filter, in order, each once.
pub(crate) fn field_names(filter: &Value) -> Vec<String> {
    let mut names = Vec::new();
    collect(filter, &mut names);
    names
}

fn collect(expression: &Value, names: &mut Vec<String>) {
    if let Some(name) = expression
        .pointer("/filter/fieldName")
        .and_then(Value::as_str)
    {
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
        return;
    }
    if let Some(inner) = expression.get("notExpression") {
        collect(inner, names);
    }
    for group in ["andGroup", "orGroup"] {
        let expressions = expression
            .pointer(&format!("/{group}/expressions"))
            .and_then(Value::as_array);
        for inner in expressions.into_iter().flatten() {
            collect(inner, names);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(err: AdapterError) -> String {
        match err {
            AdapterError::Invalid {
                field: Some(field), ..
            } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_schema_compiles() {
        assert!(validator().is_some());
    }

    #[test]
    fn good_filters_pass_and_name_their_fields() {
        let filter = json!({"andGroup": {"expressions": [
            {"filter": {"fieldName": "country", "inListFilter": {"values": ["Germany", "France"]}}},
            {"notExpression": {"filter": {"fieldName": "customUser:membership",
                "stringFilter": {"matchType": "EXACT", "value": "free"}}}},
            {"orGroup": {"expressions": [
                {"filter": {"fieldName": "country", "emptyFilter": {}}},
                {"filter": {"fieldName": "sessions", "numericFilter": {"operation": "GREATER_THAN", "value": {"int64Value": "3"}}}}
            ]}}
        ]}});
        assert_eq!(check("f", &filter), Ok(()));
        assert_eq!(
            field_names(&filter),
            ["country", "customUser:membership", "sessions"]
        );
    }

    #[test]
    fn bad_filters_name_the_path() {
        let two_kinds = json!({"filter": {"fieldName": "country",
            "stringFilter": {"value": "x"}, "emptyFilter": {}}});
        assert_eq!(field_of(check("f", &two_kinds).unwrap_err()), "f.filter");
        let bad_match = json!({"andGroup": {"expressions": [
            {"filter": {"fieldName": "country", "stringFilter": {"value": "x", "matchType": "LIKE"}}}
        ]}});
        assert_eq!(
            field_of(check("f", &bad_match).unwrap_err()),
            "f.andGroup.expressions[0].filter.stringFilter.matchType"
        );
        assert_eq!(field_of(check("f", &json!({})).unwrap_err()), "f");
        assert_eq!(
            field_of(parse("custom_filter", Some("{not json")).unwrap_err()),
            "custom_filter"
        );
        assert_eq!(parse("custom_filter", Some("  ")), Ok(None));
    }
}
