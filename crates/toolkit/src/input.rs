//! Typed action input: an action's JSON input read field by field.
//!
//! The API checks an action's input against the action's JSON Schema before `act`
//! runs, yet an adapter reads the input again: a queued action may have been stored
//! under an older schema, and a schema cannot say everything (an address's shape, a
//! time normalised to UTC, one of two fields but not both). [`Input`] reads each field
//! as the type it must be; every failure is an `Invalid` error naming the field
//! (`fields.x` inside a nested object), never quoting the value. Where the schema
//! does say everything about the shape, [`checked`] runs the schema's check again and
//! reads the input as a serde type.

use chrono::{DateTime, Utc};
use junction_core::{AdapterError, spec::ProviderSpec};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The longest email address (RFC 5321).
pub const MAX_EMAIL_LEN: usize = 254;

/// An action's input object (or an object inside it).
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    map: &'a Map<String, Value>,
    /// What field names are reported under (`""`, or `fields.` inside `fields`).
    prefix: &'a str,
}

impl<'a> Input<'a> {
    /// The input of an action, which must be a JSON object.
    pub fn new(input: &'a Value) -> Result<Self, AdapterError> {
        input
            .as_object()
            .map(|map| Self { map, prefix: "" })
            .ok_or_else(|| AdapterError::invalid_field("input", "must be a JSON object"))
    }

    /// The object `map`, its fields reported as `{prefix}{name}` (`prefix` ends in `.`).
    pub fn nested(map: &'a Map<String, Value>, prefix: &'a str) -> Self {
        Self { map, prefix }
    }

    /// The whole object.
    pub fn map(&self) -> &'a Map<String, Value> {
        self.map
    }

    /// The name a problem with `name` is reported under.
    pub fn field(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// An `Invalid` error naming `name`.
    pub fn invalid(&self, name: &str, message: impl Into<String>) -> AdapterError {
        AdapterError::invalid_field(self.field(name), message)
    }

    /// Refuses any field not in `allowed` (for schemas with `additionalProperties:
    /// false`).
    pub fn only(&self, allowed: &[&str]) -> Result<(), AdapterError> {
        match self.map.keys().find(|key| !allowed.contains(&key.as_str())) {
            Some(key) => Err(self.invalid(
                key,
                format!(
                    "is not an input of this action (expected: {})",
                    allowed.join(", ")
                ),
            )),
            None => Ok(()),
        }
    }

    /// The value of `name`, when present and not null.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|value| !value.is_null())
    }

    /// `value`, or "is required" for `name`.
    pub fn required<T>(&self, name: &str, value: Option<T>) -> Result<T, AdapterError> {
        value.ok_or_else(|| self.invalid(name, "is required"))
    }

    /// A string, as given.
    pub fn string(&self, name: &str) -> Result<Option<&'a str>, AdapterError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(self.invalid(name, "must be a string")),
        }
    }

    /// A string that is not blank.
    pub fn required_string(&self, name: &str) -> Result<&'a str, AdapterError> {
        let text = self.string(name)?.filter(|text| !text.trim().is_empty());
        self.required(name, text)
    }

    pub fn boolean(&self, name: &str) -> Result<Option<bool>, AdapterError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(_) => Err(self.invalid(name, "must be true or false")),
        }
    }

    /// A positive integer: the id of one of the provider's objects.
    pub fn id(&self, name: &str) -> Result<Option<u64>, AdapterError> {
        match self.get(name) {
            None => Ok(None),
            Some(value) => value
                .as_u64()
                .filter(|id| *id > 0)
                .map(Some)
                .ok_or_else(|| self.invalid(name, "must be a positive integer (an id)")),
        }
    }

    pub fn required_id(&self, name: &str) -> Result<u64, AdapterError> {
        let id = self.id(name)?;
        self.required(name, id)
    }

    /// An email address, trimmed (see [`is_email`]).
    pub fn email(&self, name: &str) -> Result<Option<&'a str>, AdapterError> {
        match self.string(name)?.map(str::trim) {
            None => Ok(None),
            Some(text) if is_email(text) => Ok(Some(text)),
            Some(_) => Err(self.invalid(name, "must be an email address")),
        }
    }

    /// An RFC 3339 date-time with its offset, in UTC.
    pub fn date_time(&self, name: &str) -> Result<Option<DateTime<Utc>>, AdapterError> {
        let Some(text) = self.string(name)? else {
            return Ok(None);
        };
        DateTime::parse_from_rfc3339(text.trim())
            .map(|at| Some(at.with_timezone(&Utc)))
            .map_err(|_| {
                self.invalid(
                    name,
                    "must be an RFC 3339 date-time with a time zone, e.g. 2026-03-01T09:00:00Z",
                )
            })
    }

    /// An absolute http(s) URL, trimmed.
    pub fn url(&self, name: &str) -> Result<Option<&'a str>, AdapterError> {
        let Some(text) = self.string(name)?.map(str::trim) else {
            return Ok(None);
        };
        match url::Url::parse(text) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(Some(text)),
            _ => Err(self.invalid(name, "must be an absolute http(s) URL")),
        }
    }
}

/// A plausible email address: one `@` with something on both sides, a dot inside the
/// domain, no spaces or control characters, at most [`MAX_EMAIL_LEN`] bytes. The
/// provider does the real check.
pub fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    text.len() <= MAX_EMAIL_LEN
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A mailbox as mail headers write it, on one line: `user@example.com` or `Display
/// Name <user@example.com>` (what email providers take as a sender or recipient). The
/// address must be plausible ([`is_email`]), without what would end or split a
/// header's list of addresses (`<`, `>`, `,`, `;`) and without an empty label in its
/// domain; the display name must not hold `<` or `>`.
pub fn is_mailbox(text: &str) -> bool {
    let text = text.trim();
    if text.is_empty() || text.contains(['\r', '\n']) {
        return false;
    }
    let address = match (text.rfind('<'), text.strip_suffix('>')) {
        (Some(open), Some(inner)) if !text[..open].contains(['<', '>']) => &inner[open + 1..],
        (None, None) => text,
        _ => return false,
    };
    is_email(address)
        && !address.contains(['<', '>', ',', ';'])
        && address
            .rsplit_once('@')
            .is_some_and(|(_, domain)| !domain.contains(".."))
}

/// The bare address of a mailbox (`Ops <OPS@Acme.Example>` → `ops@acme.example`),
/// trimmed and lowercased, so one mailbox is one address however it was written (a
/// suppression list's key); `None` without an `@` or with a space in the address.
pub fn bare_address(mailbox: &str) -> Option<String> {
    let mailbox = mailbox.trim();
    let bare = match (mailbox.rfind('<'), mailbox.strip_suffix('>')) {
        (Some(open), Some(inner)) => &inner[open + 1..],
        _ => mailbox,
    };
    let bare = bare.trim();
    (bare.contains('@') && !bare.contains(char::is_whitespace)).then(|| bare.to_lowercase())
}

/// The input of `spec`'s action `action` read as `T`, once it passes the check the API
/// makes before `act` runs — the action's JSON Schema
/// ([`ActionSpec::validate_input`](junction_core::spec::ActionSpec::validate_input)) —
/// made again for inputs queued under an older schema. Where the schema says
/// everything about the shape, this replaces reading field by field: serde reads the
/// checked value. The first problem is the error, naming its field
/// (`contacts[1].email_address`) and never quoting the value; an action the spec does
/// not declare names `action`.
pub fn checked<T: DeserializeOwned>(
    spec: &ProviderSpec,
    action: &str,
    input: &Value,
) -> Result<T, AdapterError> {
    let declared = spec
        .action(action)
        .ok_or_else(|| AdapterError::unknown_action(spec.name, action))?;
    if let Err(problems) = declared.validate_input(input)
        && let Some(first) = problems.into_iter().next()
    {
        return Err(AdapterError::invalid_field(first.field, first.message));
    }
    // Only a type that disagrees with its own schema fails here: a provider's bug.
    T::deserialize(input).map_err(|_| {
        AdapterError::invalid_field("input", "does not have the shape this action reads")
    })
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
    fn checked_inputs_follow_the_schema_then_serde() {
        #[derive(Debug, PartialEq, serde::Deserialize)]
        struct Tag {
            list_id: String,
            #[serde(default)]
            tags: Vec<String>,
        }
        let mut spec = crate::testing::oauth_spec();
        spec.actions.push(junction_core::spec::ActionSpec {
            name: "tag",
            description: "Tags a list.",
            input_schema: json!({
                "type": "object",
                "required": ["list_id"],
                "properties": {
                    "list_id": {"type": "string", "pattern": "^[a-z0-9]+$"},
                    "tags": {"type": "array", "items": {"type": "string", "minLength": 1}}
                },
                "additionalProperties": false
            }),
            long_running: false,
            email_recipients: Vec::new(),
            provider_recipients: None,
        });
        let read: Tag = checked(&spec, "tag", &json!({"list_id": "l1", "tags": ["a"]})).unwrap();
        assert_eq!(
            read,
            Tag {
                list_id: "l1".into(),
                tags: vec!["a".into()]
            }
        );
        for (input, field) in [
            (json!({"tags": []}), "list_id"),
            (json!({"list_id": "../x"}), "list_id"),
            (json!({"list_id": "l1", "tags": ["ok", ""]}), "tags[1]"),
            (json!({"list_id": "l1", "colour": "red"}), "colour"),
            (json!([1]), "input"),
        ] {
            let err = checked::<Tag>(&spec, "tag", &input).unwrap_err();
            assert!(!err.to_string().contains("../x"), "{err}");
            assert_eq!(field_of(err), field, "{input}");
        }
        let err = checked::<Tag>(&spec, "delete_all", &json!({})).unwrap_err();
        assert_eq!(
            err,
            AdapterError::invalid_field("action", "Example has no action `delete_all`")
        );
        // A type that disagrees with its schema is refused, not half read.
        assert_eq!(
            field_of(checked::<Vec<u8>>(&spec, "tag", &json!({"list_id": "l1"})).unwrap_err()),
            "input"
        );
    }

    #[test]
    fn emails_are_checked_loosely() {
        for good in ["a@b.co", "first.last+tag@example.com", "x@sub.domain.org"] {
            assert!(is_email(good), "{good}");
        }
        let long = format!("{}@b.co", "a".repeat(MAX_EMAIL_LEN));
        for bad in [
            "", "a", "a@b", "@b.co", "a@.co", "a@b.co.", "a b@c.co", "a@b@c.co", &long,
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn mailboxes_with_and_without_display_names() {
        for good in [
            "a@b.co",
            "Acme Alerts <alerts@acme.example>",
            "\"Acme, Inc\" <alerts@acme.example>",
            "first.last+tag@sub.acme.example",
            "<bare@acme.example>",
            " padded@acme.example ",
        ] {
            assert!(is_mailbox(good), "{good}");
        }
        for bad in [
            "",
            "alerts",
            "alerts@localhost",
            "a@b.co\r\nBcc: evil@x.example",
            "Name <a@b.co",
            "Name a@b.co>",
            "a b@c.example",
            "a@b..example",
            "a@.example",
            "Na<me <a@b.co>",
            "a@b@c.example",
            "a,b@c.example",
        ] {
            assert!(!is_mailbox(bad), "{bad}");
        }
        assert_eq!(
            bare_address(" Ops <OPS@Acme.Example> ").as_deref(),
            Some("ops@acme.example")
        );
        assert_eq!(bare_address("x@y.example").as_deref(), Some("x@y.example"));
        assert_eq!(bare_address("nobody"), None);
        assert_eq!(bare_address("a b@c.example"), None);
    }

    #[test]
    fn fields_are_read_as_their_type() {
        let value = json!({
            "name": " Ann ", "blank": " ", "flag": true, "id": 7, "email": " a@b.co ",
            "at": "2026-03-01T10:00:00+01:00", "link": " https://x.example/a ", "none": null
        });
        let input = Input::new(&value).unwrap();
        assert_eq!(input.string("name").unwrap(), Some(" Ann "));
        assert_eq!(input.required_string("name").unwrap(), " Ann ");
        assert_eq!(input.boolean("flag").unwrap(), Some(true));
        assert_eq!(input.required_id("id").unwrap(), 7);
        assert_eq!(input.email("email").unwrap(), Some("a@b.co"));
        assert_eq!(
            input.date_time("at").unwrap().map(|at| at.to_rfc3339()),
            Some("2026-03-01T09:00:00+00:00".to_owned())
        );
        assert_eq!(input.url("link").unwrap(), Some("https://x.example/a"));
        // Null is absent.
        assert_eq!(input.get("none"), None);
        assert_eq!(input.string("none").unwrap(), None);
        assert_eq!(input.id("missing").unwrap(), None);
        assert!(input.map().contains_key("none"));
        assert!(input.only(&["name"]).is_err());
    }

    #[test]
    fn each_failure_names_its_field() {
        let value = json!({
            "n": 1, "blank": " ", "flag": "yes", "zero": 0, "neg": -1, "text_id": "2",
            "email": "nobody", "at": "tomorrow", "link": "ftp://x", "extra": 1
        });
        let input = Input::new(&value).unwrap();
        assert_eq!(field_of(input.string("n").unwrap_err()), "n");
        assert_eq!(
            field_of(input.required_string("blank").unwrap_err()),
            "blank"
        );
        assert_eq!(
            field_of(input.required_string("missing").unwrap_err()),
            "missing"
        );
        assert_eq!(field_of(input.boolean("flag").unwrap_err()), "flag");
        for name in ["zero", "neg", "text_id"] {
            assert_eq!(field_of(input.id(name).unwrap_err()), name);
        }
        assert_eq!(
            field_of(input.required_id("missing").unwrap_err()),
            "missing"
        );
        assert_eq!(field_of(input.email("email").unwrap_err()), "email");
        assert_eq!(field_of(input.date_time("at").unwrap_err()), "at");
        assert_eq!(field_of(input.url("link").unwrap_err()), "link");
        let allowed = [
            "n", "blank", "flag", "zero", "neg", "text_id", "email", "at", "link",
        ];
        let err = input.only(&allowed).unwrap_err();
        assert!(!err.to_string().contains("ftp"), "{err}");
        assert_eq!(field_of(err), "extra");
        assert_eq!(field_of(Input::new(&json!([1])).unwrap_err()), "input");
        let fields = json!({"score": [1]});
        let nested = Input::nested(fields.as_object().unwrap(), "fields.");
        assert_eq!(
            field_of(nested.string("score").unwrap_err()),
            "fields.score"
        );
    }
}
