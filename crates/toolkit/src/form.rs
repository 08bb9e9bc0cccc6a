//! Bracketed form bodies: `application/x-www-form-urlencoded` in which nested
//! objects and arrays are spelled with brackets, as Stripe and Rails-style APIs take
//! them: `metadata[order_id]=6735`, `items[0][price]=price_123`,
//! `automatic_payment_methods[enabled]=true`.
//!
//! [`encode`] turns a JSON object into those pairs (keys in the map's order, so a
//! retried request is byte-for-byte the same, which idempotency checks compare) and
//! [`to_body`] percent-encodes them as HTTP clients send forms (`url`'s
//! `form_urlencoded`: brackets as `%5B`/`%5D`, spaces as `+`); [`decode`] reads
//! decoded pairs back into JSON, which fakes of such APIs use.
//!
//! Why not `serde_qs`: in its query mode it leaves brackets and `@` unencoded, in
//! its form mode it writes spaces as `%20`, and in both it sends `null` and empty
//! arrays as `key=`, which such APIs read as "clear this field". The bodies here
//! leave those out.

use serde_json::{Map, Value};

/// Flattens a JSON object into bracketed form pairs.
///
/// Strings, numbers and booleans become their text; `null`, empty objects and empty
/// arrays are left out (these APIs read an absent parameter as "not set"). Object keys
/// come out in the map's order, which for `serde_json::Map` is sorted.
pub fn encode(params: &Map<String, Value>) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (key, value) in params {
        push(&mut pairs, key.clone(), value);
    }
    pairs
}

fn push(pairs: &mut Vec<(String, String)>, prefix: String, value: &Value) {
    match value {
        Value::Null => {}
        Value::Bool(flag) => pairs.push((prefix, flag.to_string())),
        Value::Number(number) => pairs.push((prefix, number.to_string())),
        Value::String(text) => pairs.push((prefix, text.clone())),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                push(pairs, format!("{prefix}[{index}]"), item);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                push(pairs, format!("{prefix}[{key}]"), item);
            }
        }
    }
}

/// The pairs as a URL-encoded body (brackets percent-encoded, as HTTP clients send them).
pub fn to_body(pairs: &[(String, String)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        serializer.append_pair(key, value);
    }
    serializer.finish()
}

/// Why a set of form pairs could not be read back into JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The offending parameter name.
    pub key: String,
    pub message: &'static str,
}

/// Rebuilds nested JSON from decoded form pairs: every value is a string; `a[]`
/// appends to an array; a container whose keys are exactly `0..n` becomes an array.
/// (So a metadata object keyed `0`, `1`, … reads back as an array: the API tells the
/// two apart by its schema, which this generic reader does not have.)
pub fn decode(pairs: &[(String, String)]) -> Result<Value, DecodeError> {
    let mut root = Value::Object(Map::new());
    for (key, value) in pairs {
        let path = split_key(key).ok_or_else(|| DecodeError {
            key: key.clone(),
            message: "unbalanced brackets",
        })?;
        insert(&mut root, &path, value.clone()).map_err(|message| DecodeError {
            key: key.clone(),
            message,
        })?;
    }
    Ok(arrays_from_indices(root))
}

/// `a[b][0]` → `["a", "b", "0"]`; `a[]` → `["a", ""]`.
fn split_key(key: &str) -> Option<Vec<String>> {
    let (head, mut rest) = match key.find('[') {
        Some(at) => (&key[..at], &key[at..]),
        None => (key, ""),
    };
    if head.is_empty() || head.contains(']') {
        return None;
    }
    let mut path = vec![head.to_owned()];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        let segment = &inner[..close];
        if segment.contains('[') {
            return None;
        }
        path.push(segment.to_owned());
        rest = &inner[close + 1..];
    }
    Some(path)
}

fn insert(node: &mut Value, path: &[String], value: String) -> Result<(), &'static str> {
    let Some((segment, rest)) = path.split_first() else {
        return Err("empty parameter name");
    };
    let Value::Object(fields) = node else {
        return Err("a parameter is both a value and a container");
    };
    // `a[]` appends: give the new element the next free index, so the index pass
    // turns the container into an array.
    let segment = if segment.is_empty() {
        fields.len().to_string()
    } else {
        segment.clone()
    };
    if rest.is_empty() {
        if fields.contains_key(&segment) {
            return Err("a parameter is given twice");
        }
        fields.insert(segment, Value::String(value));
        return Ok(());
    }
    let child = fields
        .entry(segment)
        .or_insert_with(|| Value::Object(Map::new()));
    insert(child, rest, value)
}

fn arrays_from_indices(value: Value) -> Value {
    match value {
        Value::Object(fields) => {
            let is_array = !fields.is_empty()
                && (0..fields.len()).all(|index| fields.contains_key(&index.to_string()));
            if is_array {
                let mut fields = fields;
                let items = (0..fields.len())
                    .filter_map(|index| fields.remove(&index.to_string()))
                    .map(arrays_from_indices)
                    .collect();
                Value::Array(items)
            } else {
                Value::Object(
                    fields
                        .into_iter()
                        .map(|(key, item)| (key, arrays_from_indices(item)))
                        .collect(),
                )
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn nested_parameters_use_brackets() {
        let pairs = encode(&object(json!({
            "customer": "cus_1",
            "items": [{"price": "price_1", "quantity": 2}, {"price": "price_2"}],
            "metadata": {"order_id": "6735", "note": "a b&c"},
            "automatic_payment_methods": {"enabled": true},
            "description": null,
            "expand": []
        })));
        let keys: Vec<_> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            keys,
            [
                "automatic_payment_methods[enabled]=true",
                "customer=cus_1",
                "items[0][price]=price_1",
                "items[0][quantity]=2",
                "items[1][price]=price_2",
                "metadata[note]=a b&c",
                "metadata[order_id]=6735",
            ]
        );
        assert_eq!(
            to_body(&pairs[..3]),
            "automatic_payment_methods%5Benabled%5D=true&customer=cus_1&items%5B0%5D%5Bprice%5D=price_1"
        );
    }

    #[test]
    fn decoding_rebuilds_objects_and_arrays() {
        let pairs: Vec<(String, String)> = [
            ("items[0][price]", "p1"),
            ("items[1][price]", "p2"),
            ("metadata[k]", "v"),
            ("expand[]", "data.customer"),
            ("expand[]", "data.invoice"),
            ("amount", "100"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            decode(&pairs).unwrap(),
            json!({
                "items": [{"price": "p1"}, {"price": "p2"}],
                "metadata": {"k": "v"},
                "expand": ["data.customer", "data.invoice"],
                "amount": "100"
            })
        );
    }

    #[test]
    fn malformed_keys_are_refused() {
        for key in ["a[b", "[a]", "a]b", "a[b[c]]"] {
            let pairs = vec![(key.to_owned(), "1".to_owned())];
            assert!(decode(&pairs).is_err(), "{key}");
        }
        let twice = vec![
            ("a".to_owned(), "1".to_owned()),
            ("a".to_owned(), "2".to_owned()),
        ];
        assert!(decode(&twice).is_err());
        let clash = vec![
            ("a".to_owned(), "1".to_owned()),
            ("a[b]".to_owned(), "2".to_owned()),
        ];
        assert!(decode(&clash).is_err());
    }
}
