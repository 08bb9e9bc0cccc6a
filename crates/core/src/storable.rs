//! What Postgres can store, and what becomes of input it cannot.
//!
//! Postgres `text` refuses the NUL character (U+0000) and `jsonb` refuses the
//! `\u0000` escape in its strings and keys; everything else valid UTF-8 carries is
//! storable (invalid UTF-8 never gets this far: Rust strings cannot hold it, so each
//! boundary that reads bytes refuses or replaces it there). Two policies rest on this
//! one definition:
//!
//! - Input a client sends is refused, naming where the NUL is ([`nul_paths`],
//!   [`NUL_REFUSED`]): the client can fix it and try again.
//! - What a provider sends — a delivery it signed, a page of a sync — cannot be
//!   refused: the provider would send it again, forever. It is stored with each NUL
//!   replaced by U+FFFD, the replacement character ([`sanitize_text`],
//!   [`sanitize_json`]); a webhook's raw body is kept as received beside it.
//!   Replacing rather than dropping keeps `"a\u0000"` and `"a"` apart, as keys and
//!   as ids.

use std::borrow::Cow;

use serde_json::Value;

/// What a refused field is told.
pub const NUL_REFUSED: &str = "must not contain NUL characters (U+0000)";

/// What stands in for a NUL in stored provider data.
pub const REPLACEMENT: char = '\u{FFFD}';

/// Whether Postgres can store `text`.
pub fn is_storable(text: &str) -> bool {
    !text.contains('\0')
}

/// `text` with each NUL replaced by [`REPLACEMENT`] (borrowed when there is none).
pub fn sanitize_text(text: &str) -> Cow<'_, str> {
    if is_storable(text) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.replace('\0', &REPLACEMENT.to_string()))
    }
}

/// Whether Postgres can store `value` as jsonb.
pub fn is_storable_json(value: &Value) -> bool {
    match value {
        Value::String(text) => is_storable(text),
        Value::Array(items) => items.iter().all(is_storable_json),
        Value::Object(fields) => fields
            .iter()
            .all(|(key, value)| is_storable(key) && is_storable_json(value)),
        Value::Null | Value::Bool(_) | Value::Number(_) => true,
    }
}

/// `value` with each NUL in its strings and keys replaced by [`REPLACEMENT`]
/// (borrowed when there is none, so the common case copies nothing).
pub fn sanitize_json(value: &Value) -> Cow<'_, Value> {
    if is_storable_json(value) {
        return Cow::Borrowed(value);
    }
    Cow::Owned(replace_nul(value))
}

fn replace_nul(value: &Value) -> Value {
    match value {
        Value::String(text) => Value::String(sanitize_text(text).into_owned()),
        Value::Array(items) => Value::Array(items.iter().map(replace_nul).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, value)| (sanitize_text(key).into_owned(), replace_nul(value)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Where `value` holds a NUL, as field paths (`display_name`, `config.region`,
/// `recipients[2]`; a key holding one is named with it replaced by [`REPLACEMENT`];
/// the value itself, when it is a string holding one, is the empty path).
pub fn nul_paths(value: &Value) -> Vec<String> {
    let mut paths = Vec::new();
    collect_nul_paths(value, String::new(), &mut paths);
    paths
}

fn collect_nul_paths(value: &Value, path: String, paths: &mut Vec<String>) {
    match value {
        Value::String(text) if !is_storable(text) => paths.push(path),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                collect_nul_paths(item, format!("{path}[{index}]"), paths);
            }
        }
        Value::Object(fields) => {
            for (key, value) in fields {
                let name = sanitize_text(key);
                let child = if path.is_empty() {
                    name.into_owned()
                } else {
                    format!("{path}.{name}")
                };
                if is_storable(key) {
                    collect_nul_paths(value, child, paths);
                } else {
                    paths.push(child);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn paths_name_every_nul_in_values_and_keys() {
        let value = json!({
            "name": "a\u{0}b",
            "config": {"region": "eu", "tag\u{0}": "x", "list": ["ok", "\u{0}"]},
            "fine": 1
        });
        assert_eq!(
            nul_paths(&value),
            vec![
                "config.list[1]".to_owned(),
                "config.tag\u{fffd}".to_owned(),
                "name".to_owned()
            ]
        );
        assert_eq!(nul_paths(&json!("\u{0}")), vec![String::new()]);
        assert_eq!(nul_paths(&json!(["a", ["b\u{0}"]])), vec!["[1][0]"]);
        assert!(nul_paths(&json!({"a": [1, true, null, "b"]})).is_empty());
    }

    #[test]
    fn sanitizing_replaces_nul_and_copies_only_when_needed() {
        let clean = json!({"a": ["b", 1]});
        assert!(matches!(sanitize_json(&clean), Cow::Borrowed(_)));
        let dirty = json!({"k\u{0}": ["v\u{0}", {"x": "\u{0}\u{0}"}], "k": 1});
        assert_eq!(
            sanitize_json(&dirty).into_owned(),
            json!({"k\u{fffd}": ["v\u{fffd}", {"x": "\u{fffd}\u{fffd}"}], "k": 1})
        );
        assert!(matches!(sanitize_text("evt_1"), Cow::Borrowed("evt_1")));
        assert_eq!(sanitize_text("evt_\u{0}1"), "evt_\u{fffd}1");
        assert!(is_storable("évènement ✓") && !is_storable("a\u{0}"));
    }
}
