//! A request's fields read one by one, as providers check them: the text fields of a
//! form (Stripe's `amount=500`, bracketed forms decoded to JSON) or the typed fields
//! of a JSON object. Each refusal is the entry of the fake's error catalogue for its
//! kind ([`kinds`]), with the variables `{param}`, `{value}` and `{choices}`.

use chrono::{DateTime, Utc};
use junction_core::fake::FakeResponse;
use serde_json::{Map, Value};

use crate::fake::reply::ErrorShape;

/// The catalogue entries a refusal of a field is worded by.
pub mod kinds {
    /// The body is not an object.
    pub const INVALID_BODY: &str = "invalid_body";
    pub const UNKNOWN_PARAMETER: &str = "unknown_parameter";
    pub const MISSING_PARAMETER: &str = "missing_parameter";
    pub const INVALID_STRING: &str = "invalid_string";
    pub const INVALID_INTEGER: &str = "invalid_integer";
    pub const INVALID_BOOLEAN: &str = "invalid_boolean";
    /// With `{choices}`, the allowed values joined by `, `.
    pub const INVALID_CHOICE: &str = "invalid_choice";
    /// An object of text values (Stripe's `metadata`).
    pub const INVALID_HASH: &str = "invalid_hash";
    /// An RFC 3339 time.
    pub const INVALID_TIME: &str = "invalid_time";
}

/// The fields of a request body.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    pub map: &'a Map<String, Value>,
    errors: &'a ErrorShape,
    /// A form: every value is text, and empty text is no value.
    form: bool,
}

impl<'a> Fields<'a> {
    /// The fields of a decoded form, each one of `allowed` (names separated by
    /// spaces).
    pub fn form(
        body: &'a Value,
        allowed: &str,
        errors: &'a ErrorShape,
    ) -> Result<Self, FakeResponse> {
        let fields = Self::json(body, errors)?;
        match fields
            .map
            .keys()
            .find(|key| !allowed.split(' ').any(|a| a == *key))
        {
            Some(unknown) => Err(fields.refuse(kinds::UNKNOWN_PARAMETER, unknown, "")),
            None => Ok(Self {
                form: true,
                ..fields
            }),
        }
    }

    /// The fields of a JSON object.
    pub fn json(body: &'a Value, errors: &'a ErrorShape) -> Result<Self, FakeResponse> {
        match body.as_object() {
            Some(map) => Ok(Self {
                map,
                errors,
                form: false,
            }),
            None => Err(errors.named(kinds::INVALID_BODY, &[])),
        }
    }

    /// The catalogue's refusal `kind` about field `param`.
    pub fn refuse(&self, kind: &str, param: &str, value: &str) -> FakeResponse {
        self.errors
            .named(kind, &[("param", param), ("value", value)])
    }

    /// A field's value; in a form, empty text is none.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.map
            .get(name)
            .filter(|v| !v.is_null() && (!self.form || v.as_str() != Some("")))
    }

    /// A text field.
    pub fn text(&self, name: &str) -> Result<Option<String>, FakeResponse> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(self.refuse(kinds::INVALID_STRING, name, "")),
        }
    }

    /// A text field that must be there.
    pub fn required(&self, name: &str) -> Result<String, FakeResponse> {
        self.text(name)?
            .ok_or_else(|| self.refuse(kinds::MISSING_PARAMETER, name, ""))
    }

    /// An integer: a JSON number, or the text of one in a form.
    pub fn integer(&self, name: &str) -> Result<Option<i64>, FakeResponse> {
        let value = match self.get(name) {
            None => return Ok(None),
            Some(Value::String(text)) if self.form => text.parse().map_err(|_| text.clone()),
            Some(value) => value.as_i64().ok_or_else(|| value.to_string()),
        };
        value
            .map(Some)
            .map_err(|text| self.refuse(kinds::INVALID_INTEGER, name, &text))
    }

    /// A boolean: JSON `true`/`false`, or their text in a form.
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, FakeResponse> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(flag)) if !self.form => Ok(Some(*flag)),
            Some(Value::String(text)) if self.form && matches!(text.as_str(), "true" | "false") => {
                Ok(Some(text == "true"))
            }
            Some(value) => {
                let text = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                Err(self.refuse(kinds::INVALID_BOOLEAN, name, &text))
            }
        }
    }

    /// One of `choices` (separated by spaces).
    pub fn choice(&self, name: &str, choices: &str) -> Result<Option<String>, FakeResponse> {
        match self.text(name)? {
            Some(value) if !choices.split(' ').any(|c| c == value) => {
                let choices = choices.split(' ').collect::<Vec<_>>().join(", ");
                let vars = [
                    ("param", name),
                    ("value", value.as_str()),
                    ("choices", &choices),
                ];
                Err(self.errors.named(kinds::INVALID_CHOICE, &vars))
            }
            other => Ok(other),
        }
    }

    /// An object of text values (none: empty).
    pub fn hash(&self, name: &str) -> Result<Value, FakeResponse> {
        match self.get(name) {
            None => Ok(Value::Object(Map::new())),
            Some(Value::Object(entries)) if entries.values().all(Value::is_string) => {
                Ok(Value::Object(entries.clone()))
            }
            Some(_) => Err(self.refuse(kinds::INVALID_HASH, name, "")),
        }
    }

    /// An RFC 3339 time.
    pub fn time(&self, name: &str) -> Result<Option<DateTime<Utc>>, FakeResponse> {
        let Some(text) = self.text(name)? else {
            return Ok(None);
        };
        DateTime::parse_from_rfc3339(&text)
            .map(|at| Some(at.with_timezone(&Utc)))
            .map_err(|_| self.refuse(kinds::INVALID_TIME, name, &text))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::fake::data::Data;

    static WORDS: Data = Data::new(
        r#"{
            "invalid_body": [400, null, "Invalid request body."],
            "unknown_parameter": [400, "parameter_unknown", "Received unknown parameter: {param}"],
            "missing_parameter": [400, "parameter_missing", "Missing required param: {param}."],
            "invalid_string": [400, null, "Invalid string: {param}"],
            "invalid_integer": [400, null, "Invalid integer: {value}"],
            "invalid_boolean": [400, null, "{param} must be true or false, not {value}"],
            "invalid_choice": [400, null, "Invalid {param}: must be one of {choices}"],
            "invalid_hash": [400, null, "Invalid hash"],
            "invalid_time": [400, null, "{param} is not a valid ISO 8601 time"]
        }"#,
    );
    const ERRORS: ErrorShape = ErrorShape::new(Some("/code"), "/message").catalogue(&WORDS, "");

    fn said(result: Result<impl std::fmt::Debug, FakeResponse>) -> String {
        let body: Value = serde_json::from_slice(&result.unwrap_err().body).unwrap();
        body["message"].as_str().unwrap().to_owned()
    }

    #[test]
    fn form_fields_are_text() {
        let body = json!({"amount": "500", "confirm": "yes", "email": "", "metadata": {"a": "1"}, "kind": "x"});
        assert_eq!(
            said(Fields::form(&body, "amount confirm", &ERRORS)),
            "Received unknown parameter: email"
        );
        let allowed = "amount confirm email metadata kind";
        let form = Fields::form(&body, allowed, &ERRORS).unwrap();
        assert_eq!(form.integer("amount").unwrap(), Some(500));
        assert_eq!(form.text("email").unwrap(), None);
        assert_eq!(
            said(form.required("email")),
            "Missing required param: email."
        );
        assert_eq!(
            said(form.boolean("confirm")),
            "confirm must be true or false, not yes"
        );
        assert_eq!(
            said(form.choice("kind", "a b")),
            "Invalid kind: must be one of a, b"
        );
        assert_eq!(form.hash("metadata").unwrap(), json!({"a": "1"}));
        assert_eq!(said(form.integer("confirm")), "Invalid integer: yes");
        assert_eq!(
            said(Fields::form(&json!([]), "", &ERRORS)),
            "Invalid request body."
        );
    }

    #[test]
    fn json_fields_are_typed() {
        let body = json!({"public": true, "count": 3, "subject": 7, "send_at": "2026-04-01T09:00:00Z", "at": "soon", "none": null});
        let fields = Fields::json(&body, &ERRORS).unwrap();
        assert_eq!(fields.boolean("public").unwrap(), Some(true));
        assert_eq!(fields.integer("count").unwrap(), Some(3));
        assert_eq!(said(fields.text("subject")), "Invalid string: subject");
        assert_eq!(fields.text("none").unwrap(), None);
        assert!(fields.time("send_at").unwrap().is_some());
        assert_eq!(said(fields.time("at")), "at is not a valid ISO 8601 time");
        assert_eq!(
            said(fields.boolean("count")),
            "count must be true or false, not 3"
        );
    }
}
