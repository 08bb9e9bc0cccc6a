//! The fake's `dimensionFilter`: a `FilterExpression` checked as GA4 checks it
//! (every field a known dimension) and applied to each row's dimension values
//! before rows are grouped. String filters (`EXACT`, `BEGINS_WITH`, `ENDS_WITH`,
//! `CONTAINS`), in-list and empty filters and `andGroup` / `orGroup` /
//! `notExpression` are implemented; regular expressions and numeric filters on
//! dimensions are refused as valid GA4 the sandbox does not implement.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::data::{InvalidArgument, invalid};

/// Checks `filter`'s shape and names (`known` says which dimensions exist).
pub(crate) fn check(filter: &Value, known: &dyn Fn(&str) -> bool) -> Result<(), InvalidArgument> {
    matches_with(filter, &BTreeMap::new(), Some(known)).map(|_| ())
}

/// The dimensions `filter` reads.
pub(crate) fn fields(filter: &Value) -> Vec<String> {
    let mut names = Vec::new();
    collect(filter, &mut names);
    names
}

fn collect(expression: &Value, names: &mut Vec<String>) {
    if let Some(name) = expression
        .pointer("/filter/fieldName")
        .and_then(Value::as_str)
    {
        names.push(name.to_owned());
    }
    if let Some(inner) = expression.get("notExpression") {
        collect(inner, names);
    }
    for group in ["/andGroup/expressions", "/orGroup/expressions"] {
        for inner in expression
            .pointer(group)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            collect(inner, names);
        }
    }
}

/// Whether a row with dimension `values` passes `filter`.
pub(crate) fn matches(
    filter: &Value,
    values: &BTreeMap<String, String>,
) -> Result<bool, InvalidArgument> {
    matches_with(filter, values, None)
}

fn matches_with(
    expression: &Value,
    values: &BTreeMap<String, String>,
    known: Option<&dyn Fn(&str) -> bool>,
) -> Result<bool, InvalidArgument> {
    let Some(object) = expression.as_object().filter(|o| o.len() == 1) else {
        return Err(invalid("filter_shape", json!({})));
    };
    let group = |name: &str| -> Result<Vec<bool>, InvalidArgument> {
        let list = object[name]["expressions"]
            .as_array()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| invalid("filter_shape", json!({})))?;
        list.iter()
            .map(|e| matches_with(e, values, known))
            .collect()
    };
    if object.contains_key("andGroup") {
        return Ok(group("andGroup")?.into_iter().all(|b| b));
    }
    if object.contains_key("orGroup") {
        return Ok(group("orGroup")?.into_iter().any(|b| b));
    }
    if let Some(inner) = object.get("notExpression") {
        return Ok(!matches_with(inner, values, known)?);
    }
    let Some(filter) = object.get("filter").and_then(Value::as_object) else {
        return Err(invalid("filter_shape", json!({})));
    };
    let Some(field) = filter.get("fieldName").and_then(Value::as_str) else {
        return Err(invalid("filter_shape", json!({})));
    };
    if let Some(known) = known
        && !known(field)
    {
        return Err(invalid(
            "unknown_name",
            json!({"name": field, "kind": "dimension"}),
        ));
    }
    let value = values.get(field).map(String::as_str).unwrap_or_default();
    let case = |spec: &Value, text: &str| -> String {
        if spec["caseSensitive"] == true {
            text.to_owned()
        } else {
            text.to_lowercase()
        }
    };
    if let Some(spec) = filter.get("stringFilter") {
        let (got, want) = (
            case(spec, value),
            case(spec, spec["value"].as_str().unwrap_or_default()),
        );
        return match spec["matchType"].as_str().unwrap_or("EXACT") {
            "EXACT" | "MATCH_TYPE_UNSPECIFIED" => Ok(got == want),
            "BEGINS_WITH" => Ok(got.starts_with(&want)),
            "ENDS_WITH" => Ok(got.ends_with(&want)),
            "CONTAINS" => Ok(got.contains(&want)),
            other => Err(invalid(
                "unsupported",
                json!({"key": format!("stringFilter.matchType {other}")}),
            )),
        };
    }
    if let Some(spec) = filter.get("inListFilter") {
        let got = case(spec, value);
        let list = spec["values"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        return Ok(list
            .iter()
            .filter_map(Value::as_str)
            .any(|candidate| case(spec, candidate) == got));
    }
    if filter.contains_key("emptyFilter") {
        return Ok(value.is_empty() || value == "(not set)");
    }
    let kind = filter
        .keys()
        .find(|k| *k != "fieldName")
        .cloned()
        .unwrap_or_else(|| "filter".into());
    Err(invalid("unsupported", json!({"key": kind})))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn expressions_combine() {
        let filter = json!({"andGroup": {"expressions": [
            {"filter": {"fieldName": "country", "inListFilter": {"values": ["germany", "France"]}}},
            {"notExpression": {"filter": {"fieldName": "customUser:membership",
                "stringFilter": {"value": "free"}}}}
        ]}});
        assert!(
            matches(
                &filter,
                &row(&[("country", "Germany"), ("customUser:membership", "premium")])
            )
            .unwrap()
        );
        assert!(
            !matches(
                &filter,
                &row(&[("country", "Germany"), ("customUser:membership", "Free")])
            )
            .unwrap()
        );
        assert!(!matches(&filter, &row(&[("country", "Japan")])).unwrap());
        assert_eq!(fields(&filter), ["country", "customUser:membership"]);
        let empty = json!({"filter": {"fieldName": "customUser:membership", "emptyFilter": {}}});
        assert!(matches(&empty, &row(&[])).unwrap());
        let known = |name: &str| name == "country";
        assert!(
            check(&filter, &known)
                .unwrap_err()
                .0
                .contains("customUser:membership")
        );
        let regexp = json!({"filter": {"fieldName": "country", "stringFilter": {"value": "G.*", "matchType": "FULL_REGEXP"}}});
        assert!(
            matches(&regexp, &row(&[]))
                .unwrap_err()
                .0
                .contains("does not implement")
        );
    }
}
