//! A fake's data files: the tables its seed is drawn from, the constant parts of its
//! objects and templates of them, its catalog entries, kept as JSON beside the code
//! and parsed once.
//!
//! ```
//! use junction_toolkit::fake::Data;
//!
//! static SEED: Data = Data::new(r#"{"names": ["Ada", "Grace"], "member": {"language": "en"}}"#);
//!
//! assert_eq!(SEED.text("/names", 3), "Grace");
//! let member = SEED.over("/member", serde_json::json!({"name": "Ada"}));
//! assert_eq!(member["language"], "en");
//!
//! static TEMPLATES: Data = Data::new(r#"{"user": {"id": "{id}", "label": "user {id}"}}"#);
//! let user = TEMPLATES.fill("/user", &serde_json::json!({"id": 7}));
//! assert_eq!(user, serde_json::json!({"id": 7, "label": "user 7"}));
//! ```

use std::sync::OnceLock;

use serde_json::Value;

/// A JSON data file, parsed on first use.
#[derive(Debug)]
pub struct Data {
    text: &'static str,
    parsed: OnceLock<Value>,
}

impl Data {
    /// The data in `text` (an `include_str!` of the file).
    pub const fn new(text: &'static str) -> Self {
        Self {
            text,
            parsed: OnceLock::new(),
        }
    }

    /// The whole file; `null` when it does not parse (every fake's tests read it).
    pub fn get(&self) -> &Value {
        self.parsed
            .get_or_init(|| serde_json::from_str(self.text).unwrap_or(Value::Null))
    }

    /// The value at `pointer`, `null` when absent.
    pub fn at(&self, pointer: &str) -> &Value {
        self.get().pointer(pointer).unwrap_or(&Value::Null)
    }

    /// The list at `pointer` (empty when absent).
    pub fn list(&self, pointer: &str) -> &[Value] {
        self.at(pointer).as_array().map_or(&[], Vec::as_slice)
    }

    /// The `index`th item of the list at `pointer`, round the list.
    pub fn pick(&self, pointer: &str, index: usize) -> &Value {
        let items = self.list(pointer);
        items
            .get(index % items.len().max(1))
            .unwrap_or(&Value::Null)
    }

    /// [`Data::pick`] as text (empty when it is none).
    pub fn text(&self, pointer: &str, index: usize) -> &str {
        self.pick(pointer, index).as_str().unwrap_or_default()
    }

    /// A copy of the object at `pointer` with the fields of `fields` over it.
    pub fn over(&self, pointer: &str, fields: Value) -> Value {
        merged(self.at(pointer).clone(), fields)
    }

    /// A copy of the template at `pointer` with its placeholders filled from `vars`
    /// (an object): a string that is only `{name}` becomes the value of `name`, of
    /// whatever JSON type; `{name}` inside a longer string becomes its text. A
    /// placeholder without a variable stays as it is.
    pub fn fill(&self, pointer: &str, vars: &Value) -> Value {
        fill(self.at(pointer), vars)
    }

    /// The entry of a fake's sandbox catalog for `provider` (`/catalog/{provider}`):
    /// how a client connects it, as data.
    pub fn catalog(&self, provider: &str) -> junction_core::fake::CatalogEntry {
        let entry = self.at(&format!("/catalog/{provider}")).clone();
        serde_json::from_value(entry).unwrap_or_default()
    }
}

/// `template` with its placeholders filled from `vars` (see [`Data::fill`]).
pub fn fill(template: &Value, vars: &Value) -> Value {
    match template {
        Value::String(text) => {
            let whole = text
                .strip_prefix('{')
                .and_then(|t| t.strip_suffix('}'))
                .filter(|name| !name.contains(['{', '}']))
                .and_then(|name| vars.get(name));
            if let Some(value) = whole {
                return value.clone();
            }
            let mut out = text.clone();
            for (name, value) in vars.as_object().into_iter().flatten() {
                let placeholder = format!("{{{name}}}");
                if out.contains(&placeholder) {
                    let text = match value {
                        Value::String(text) => text.clone(),
                        Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    out = out.replace(&placeholder, &text);
                }
            }
            Value::String(out)
        }
        Value::Array(items) => items.iter().map(|item| fill(item, vars)).collect(),
        Value::Object(map) => {
            let map = map.iter().map(|(k, v)| (k.clone(), fill(v, vars)));
            Value::Object(map.collect())
        }
        other => other.clone(),
    }
}

/// `base` with the top-level fields of `more` over it (`more` itself when `base` is
/// no object).
pub fn merged(mut base: Value, more: Value) -> Value {
    match (base.as_object_mut(), more) {
        (Some(fields), Value::Object(more)) => {
            fields.extend(more);
            base
        }
        (None, more) => more,
        (Some(_), _) => base,
    }
}
