//! Form fields generated from data: a provider's config and credential fields
//! (`ConfigField`) and an action's input (its JSON Schema's top-level
//! properties). A field is rendered by `templates/dashboard/field.html`, carries the
//! server's message for it, and reads its submitted value back into JSON; the
//! server's own validation decides what is valid (a number that does not parse is
//! sent as text and refused there, by the field).
//!
//! A select's choices are a plain list ([`Choice`]), so choices that come from the
//! provider can fill one the same way as an enum's.

use junction_core::{
    FieldOption,
    spec::{ConfigField, FieldError, FieldKind},
};
use serde_json::{Map, Value};

use super::forms::Form;

/// How a field is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Text,
    Secret,
    Integer,
    Number,
    Url,
    Email,
    Checkbox,
    Select,
    /// An optional boolean: unset, yes or no (a checkbox could not leave it unset).
    Flag,
    /// JSON, for values a simple input cannot hold (lists, objects).
    Json,
}

/// One choice of a select.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

/// A form field.
#[derive(Debug, Clone)]
pub struct Field {
    /// Tells apart the fields of several forms on one page (element ids).
    pub scope: String,
    pub name: String,
    pub label: String,
    pub input: Input,
    pub required: bool,
    pub help: String,
    /// The value shown (never a secret's).
    pub value: String,
    pub choices: Vec<Choice>,
    pub error: Option<String>,
}

impl Field {
    /// The HTML `type` of an `<input>`.
    pub fn html_type(&self) -> &'static str {
        match self.input {
            Input::Secret => "password",
            Input::Integer | Input::Number => "number",
            Input::Url => "url",
            Input::Email => "email",
            Input::Checkbox => "checkbox",
            Input::Text | Input::Select | Input::Flag | Input::Json => "text",
        }
    }

    pub fn is_select(&self) -> bool {
        matches!(self.input, Input::Select | Input::Flag)
    }

    pub fn is_checkbox(&self) -> bool {
        self.input == Input::Checkbox
    }

    pub fn is_json(&self) -> bool {
        self.input == Input::Json
    }

    pub fn is_checked(&self) -> bool {
        self.value == "true"
    }

    pub fn is_number(&self) -> bool {
        matches!(self.input, Input::Integer | Input::Number)
    }

    /// The `step` of a number input.
    pub fn step(&self) -> &'static str {
        if self.input == Input::Integer {
            "1"
        } else {
            "any"
        }
    }

    /// The element id of the field's input.
    pub fn id(&self) -> String {
        format!("{}-{}", self.scope, self.name)
    }

    /// A value of a spec field for the form, from the integration's settings.
    fn shown(value: Option<&Value>) -> String {
        match value {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
        }
    }

    /// A provider's config or credential field, showing `current` (never for a
    /// secret).
    pub fn from_spec(field: &ConfigField, current: Option<&Value>) -> Self {
        let (input, choices) = match &field.kind {
            _ if field.secret => (Input::Secret, Vec::new()),
            FieldKind::String => (Input::Text, Vec::new()),
            FieldKind::Integer => (Input::Integer, Vec::new()),
            FieldKind::Boolean => (Input::Checkbox, Vec::new()),
            FieldKind::Url => (Input::Url, Vec::new()),
            FieldKind::Enum(values) => (
                Input::Select,
                values
                    .iter()
                    .map(|v| Choice {
                        value: (*v).to_owned(),
                        label: (*v).to_owned(),
                    })
                    .collect(),
            ),
        };
        Self {
            scope: "f".to_owned(),
            name: field.name.to_owned(),
            label: field.label.to_owned(),
            input,
            required: field.required,
            help: field.help.to_owned(),
            value: if field.secret {
                String::new()
            } else {
                Self::shown(current)
            },
            choices,
            error: None,
        }
    }

    /// The field as a select of the choices its provider listed (`listed`), the
    /// current value kept as a choice when the list no longer has it. When the
    /// provider could not list them, the field stays a text input that says why.
    pub fn with_options(mut self, listed: Result<&[FieldOption], &str>) -> Self {
        match listed {
            Ok(options) => {
                self.input = Input::Select;
                self.choices = options
                    .iter()
                    .map(|option| Choice {
                        value: option.value.clone(),
                        label: match &option.description {
                            Some(description) => format!("{} — {description}", option.label),
                            None => option.label.clone(),
                        },
                    })
                    .collect();
                if !self.value.is_empty() && !self.choices.iter().any(|c| c.value == self.value) {
                    self.choices.insert(
                        0,
                        Choice {
                            value: self.value.clone(),
                            label: format!("{} (current; not in the provider's list)", self.value),
                        },
                    );
                }
            }
            Err(reason) => {
                self.help = format!(
                    "The provider could not list the choices ({reason}): type the value. {}",
                    self.help
                );
            }
        }
        self
    }

    /// A top-level property of an action's JSON Schema, in the form `scope`.
    pub fn from_schema(scope: &str, name: &str, schema: &Value, required: bool) -> Self {
        let kind = schema.get("type").and_then(Value::as_str).unwrap_or("");
        let choices: Vec<Choice> = schema
            .get("enum")
            .and_then(Value::as_array)
            .map(|values| {
                values
                    .iter()
                    .map(|v| {
                        let text = Self::shown(Some(v));
                        Choice {
                            value: text.clone(),
                            label: text,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let (input, choices) = match kind {
            _ if !choices.is_empty() => (Input::Select, choices),
            "boolean" if required => (Input::Checkbox, choices),
            "boolean" => (
                Input::Flag,
                ["true", "false"]
                    .into_iter()
                    .map(|v| Choice {
                        value: v.to_owned(),
                        label: if v == "true" { "yes" } else { "no" }.to_owned(),
                    })
                    .collect(),
            ),
            _ => (
                match kind {
                    "integer" => Input::Integer,
                    "number" => Input::Number,
                    "string" => match schema.get("format").and_then(Value::as_str) {
                        Some("email") => Input::Email,
                        Some("uri" | "url") => Input::Url,
                        _ => Input::Text,
                    },
                    _ => Input::Json,
                },
                choices,
            ),
        };

        let mut help = schema
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if input == Input::Json {
            help = format!("{help} (JSON)").trim().to_owned();
        }
        Self {
            scope: scope.to_owned(),
            name: name.to_owned(),
            label: schema
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or(name)
                .to_owned(),
            input,
            required,
            help,
            value: schema
                .get("default")
                .map(|d| Self::shown(Some(d)))
                .unwrap_or_default(),
            choices,
            error: None,
        }
    }

    /// Reads the field's submitted value: `None` when left empty. A checkbox is
    /// `true` or `false`; a number that parses is a number, anything else is sent
    /// as typed for the server to judge; JSON that does not parse is this field's
    /// error.
    pub fn read(&mut self, form: &Form) -> Option<Value> {
        if self.input == Input::Checkbox {
            let checked = form.checked(&self.name);
            self.value = checked.to_string();
            return Some(Value::Bool(checked));
        }
        let raw = form.get(&self.name).unwrap_or_default();
        if self.input != Input::Secret {
            self.value = raw.to_owned();
        }
        let text = raw.trim();
        if text.is_empty() {
            return None;
        }
        Some(match self.input {
            Input::Integer => text
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::String(text.to_owned())),
            Input::Number => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(text.to_owned())),
            Input::Flag => Value::Bool(text == "true"),
            Input::Json => match serde_json::from_str(text) {
                Ok(value) => value,
                Err(error) => {
                    self.error = Some(format!("is not valid JSON: {error}"));
                    return None;
                }
            },
            // Secrets keep their exact bytes (a key may end in a space on purpose).
            Input::Secret => Value::String(raw.to_owned()),
            _ => Value::String(text.to_owned()),
        })
    }
}

/// Reads every field of a form into a JSON object.
pub fn read_all(fields: &mut [Field], form: &Form) -> Map<String, Value> {
    let mut values = Map::new();
    for field in fields.iter_mut() {
        if let Some(value) = field.read(form) {
            values.insert(field.name.clone(), value);
        }
    }
    values
}

/// The top-level field a server message names (`emails[0].to` is `emails`'s).
fn top_level(path: &str) -> &str {
    let path = path.trim_start_matches('/');
    let end = path.find(['.', '[', '/']).unwrap_or(path.len());
    &path[..end]
}

/// Puts the server's field errors by their fields; returns those that name no
/// field of the form (shown above it).
pub fn place_errors(fields: &mut [Field], errors: &[FieldError]) -> Vec<String> {
    let mut unplaced = Vec::new();
    for error in errors {
        let name = top_level(&error.field);
        match fields.iter_mut().find(|f| f.name == name) {
            Some(field) => {
                let message = if error.field == field.name {
                    error.message.clone()
                } else {
                    format!("{}: {}", error.field, error.message)
                };
                field.error = Some(match field.error.take() {
                    Some(before) => format!("{before}; {message}"),
                    None => message,
                });
            }
            None => unplaced.push(format!("{}: {}", error.field, error.message)),
        }
    }
    unplaced
}

/// The fields of an action's input schema (ids scoped by `scope`), in the order
/// of its properties.
pub fn from_input_schema(scope: &str, schema: &Value) -> Vec<Field> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| {
            properties
                .iter()
                .map(|(name, property)| {
                    Field::from_schema(scope, name, property, required.contains(&name.as_str()))
                })
                .collect()
        })
        .unwrap_or_default()
}
