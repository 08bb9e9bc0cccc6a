//! Typed settings: one definition gives the spec's [`ConfigField`] and the parser
//! that reads the value from a [`Connection`].
//!
//! The API validates a connection's settings against the spec when they are saved;
//! adapters read them again at every call, because a stored value may predate a
//! stricter rule. Both use the same definition here, so they cannot drift apart.
//! Every failure is an `Invalid` error naming the field, never quoting the value.

use chrono::NaiveDate;
use junction_core::{AdapterError, ConfigField, Connection, FieldKind};
use secrecy::ExposeSecret;
use serde_json::Value;

/// A whole number within bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntSetting {
    pub name: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub min: i64,
    pub max: i64,
    /// The value when unset; without one the setting is required.
    pub default: Option<i64>,
    /// What the number counts, for messages (`days`).
    pub unit: &'static str,
}

impl IntSetting {
    /// A required integer of any size.
    pub const fn new(name: &'static str, label: &'static str, help: &'static str) -> Self {
        Self {
            name,
            label,
            help,
            min: i64::MIN,
            max: i64::MAX,
            default: None,
            unit: "",
        }
    }

    pub const fn range(self, min: i64, max: i64) -> Self {
        Self { min, max, ..self }
    }

    /// Optional, `value` when unset.
    pub const fn default(self, value: i64) -> Self {
        Self {
            default: Some(value),
            ..self
        }
    }

    pub const fn unit(self, unit: &'static str) -> Self {
        Self { unit, ..self }
    }

    /// The `lookback_days` setting of a stream read in windows of days: how far back
    /// a first sync reads, 1 to `max` days, `default` when unset (`help` says both,
    /// and why the provider caps it).
    pub const fn lookback_days(default: u32, max: u32, help: &'static str) -> Self {
        Self::new("lookback_days", "Lookback days", help)
            .range(1, max as i64)
            .default(default as i64)
            .unit("days")
    }

    /// The spec's field.
    pub fn field(&self) -> ConfigField {
        let field = ConfigField {
            kind: FieldKind::Integer,
            ..ConfigField::string(self.name, self.label, self.help)
        };
        if self.default.is_some() {
            field.optional()
        } else {
            field
        }
    }

    /// The value of `conn` (a JSON number or a numeric string).
    pub fn read(&self, conn: &Connection) -> Result<i64, AdapterError> {
        let value = match conn.config.get(self.name) {
            None | Some(Value::Null) => {
                return self
                    .default
                    .ok_or_else(|| AdapterError::invalid_field(self.name, "is not set"));
            }
            Some(value) => value,
        };
        value
            .as_i64()
            .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
            .filter(|n| (self.min..=self.max).contains(n))
            .ok_or_else(|| {
                let unit = if self.unit.is_empty() {
                    String::new()
                } else {
                    format!(" of {}", self.unit)
                };
                AdapterError::invalid_field(
                    self.name,
                    format!(
                        "must be a whole number{unit} from {} to {}",
                        self.min, self.max
                    ),
                )
            })
    }

    /// [`IntSetting::read`] as a `u32` (the bounds must fit one).
    pub fn read_u32(&self, conn: &Connection) -> Result<u32, AdapterError> {
        let value = self.read(conn)?;
        u32::try_from(value).map_err(|_| AdapterError::invalid_field(self.name, "is out of range"))
    }
}

/// One of a fixed set of values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnumSetting {
    pub name: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub choices: &'static [&'static str],
    /// The value when unset; without one the setting is required.
    pub default: Option<&'static str>,
}

impl EnumSetting {
    /// The spec's field.
    pub fn field(&self) -> ConfigField {
        let field = ConfigField {
            kind: FieldKind::Enum(self.choices.to_vec()),
            ..ConfigField::string(self.name, self.label, self.help)
        };
        if self.default.is_some() {
            field.optional()
        } else {
            field
        }
    }

    /// The chosen value.
    pub fn read(&self, conn: &Connection) -> Result<&'static str, AdapterError> {
        match conn
            .config
            .get(self.name)
            .and_then(Value::as_str)
            .map(str::trim)
        {
            None | Some("") => self
                .default
                .ok_or_else(|| AdapterError::invalid_field(self.name, "is not set")),
            Some(text) => self
                .choices
                .iter()
                .find(|choice| **choice == text)
                .copied()
                .ok_or_else(|| {
                    AdapterError::invalid_field(
                        self.name,
                        format!("must be one of: {}", self.choices.join(", ")),
                    )
                }),
        }
    }
}

/// Text, optionally secret, optionally checked against a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StringSetting {
    pub name: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    /// A regular expression the whole (trimmed) value must match.
    pub pattern: Option<&'static str>,
    pub required: bool,
    /// Sealed like a credential, read from the connection's secrets.
    pub secret: bool,
    /// The message when the pattern does not match (default: the pattern).
    pub mismatch: Option<&'static str>,
    /// The provider lists the choices ([`ConfigField::options`]).
    pub options: bool,
}

impl StringSetting {
    /// A required, non-secret string.
    pub const fn new(name: &'static str, label: &'static str, help: &'static str) -> Self {
        Self {
            name,
            label,
            help,
            pattern: None,
            required: true,
            secret: false,
            mismatch: None,
            options: false,
        }
    }

    /// The provider lists its choices once credentials exist (the adapter's
    /// `options` answers for it).
    pub const fn with_options(self) -> Self {
        Self {
            options: true,
            ..self
        }
    }

    pub const fn pattern(self, pattern: &'static str) -> Self {
        Self {
            pattern: Some(pattern),
            ..self
        }
    }

    pub const fn optional(self) -> Self {
        Self {
            required: false,
            ..self
        }
    }

    pub const fn secret(self) -> Self {
        Self {
            secret: true,
            ..self
        }
    }

    /// What a value that does not match the pattern is told.
    pub const fn mismatch(self, message: &'static str) -> Self {
        Self {
            mismatch: Some(message),
            ..self
        }
    }

    /// The spec's field.
    pub fn field(&self) -> ConfigField {
        let mut field = ConfigField::string(self.name, self.label, self.help);
        field.secret = self.secret;
        field.required = self.required;
        field.pattern = self.pattern;
        field.options = self.options;
        field
    }

    /// The trimmed value, `None` when an optional setting is unset or blank.
    pub fn read(&self, conn: &Connection) -> Result<Option<String>, AdapterError> {
        let text = if self.secret {
            conn.secrets
                .get(self.name)
                .map(|s| s.expose_secret().trim().to_owned())
        } else {
            match conn.config.get(self.name) {
                None | Some(Value::Null) => None,
                Some(Value::String(text)) => Some(text.trim().to_owned()),
                Some(_) => return Err(AdapterError::invalid_field(self.name, "must be a string")),
            }
        };
        let text = text.filter(|t| !t.is_empty());
        let Some(text) = text else {
            return if self.required {
                Err(AdapterError::invalid_field(self.name, "is not set"))
            } else {
                Ok(None)
            };
        };
        match self.field().validate(Some(&Value::String(text.clone()))) {
            Ok(()) => Ok(Some(text)),
            Err(problem) => Err(AdapterError::invalid_field(
                self.name,
                self.mismatch.map_or(problem.message, str::to_owned),
            )),
        }
    }

    /// The value of a required setting.
    pub fn require(&self, conn: &Connection) -> Result<String, AdapterError> {
        self.read(conn)?
            .ok_or_else(|| AdapterError::invalid_field(self.name, "is not set"))
    }
}

/// A comma-separated list of names (`country, sessionDefaultChannelGroup`): the
/// spec's field is text, checked as a whole against `pattern`; the value is read as
/// its trimmed, non-empty items, each listed once, none of the `reserved` ones, at
/// most `max` of them. Unset or blank is the empty list. The items are names, not
/// secrets: a duplicate is quoted in its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListSetting {
    /// The text of the list (optional, never secret).
    pub text: StringSetting,
    /// Items that may not be listed, each with what it is told (`date`, which a
    /// report always includes).
    pub reserved: &'static [(&'static str, &'static str)],
    /// The most items, and what they are called in the message (`dimensions
    /// besides the date`).
    pub max: Option<(usize, &'static str)>,
}

impl ListSetting {
    /// An optional list of any items.
    pub const fn new(name: &'static str, label: &'static str, help: &'static str) -> Self {
        Self {
            text: StringSetting::new(name, label, help).optional(),
            reserved: &[],
            max: None,
        }
    }

    /// The regular expression the whole text must match (see [`StringSetting`]).
    pub const fn pattern(self, pattern: &'static str) -> Self {
        Self {
            text: self.text.pattern(pattern),
            ..self
        }
    }

    /// What a text that does not match the pattern is told.
    pub const fn mismatch(self, message: &'static str) -> Self {
        Self {
            text: self.text.mismatch(message),
            ..self
        }
    }

    /// Items refused, each with its message.
    pub const fn reserved(self, reserved: &'static [(&'static str, &'static str)]) -> Self {
        Self { reserved, ..self }
    }

    /// At most `max` items, called `what` in the message ("at most 8 `what`").
    pub const fn at_most(self, max: usize, what: &'static str) -> Self {
        Self {
            max: Some((max, what)),
            ..self
        }
    }

    /// The spec's field.
    pub fn field(&self) -> ConfigField {
        self.text.field()
    }

    /// The items, in the order listed.
    pub fn read(&self, conn: &Connection) -> Result<Vec<String>, AdapterError> {
        let name = self.text.name;
        let text = self.text.read(conn)?.unwrap_or_default();
        let mut items: Vec<String> = Vec::new();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if let Some((_, message)) = self.reserved.iter().find(|(r, _)| *r == item) {
                return Err(AdapterError::invalid_field(name, *message));
            }
            if items.iter().any(|listed| listed == item) {
                return Err(AdapterError::invalid_field(
                    name,
                    format!("`{item}` is listed twice"),
                ));
            }
            items.push(item.to_owned());
        }
        match self.max {
            Some((max, what)) if items.len() > max => Err(AdapterError::invalid_field(
                name,
                format!("at most {max} {what}"),
            )),
            _ => Ok(items),
        }
    }
}

/// A calendar day written `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateSetting {
    pub name: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub required: bool,
}

impl DateSetting {
    const PATTERN: &'static str = "[0-9]{4}-[0-9]{2}-[0-9]{2}";

    /// The spec's field.
    pub fn field(&self) -> ConfigField {
        let field =
            ConfigField::string(self.name, self.label, self.help).with_pattern(Self::PATTERN);
        if self.required {
            field
        } else {
            field.optional()
        }
    }

    /// The day, `None` when an optional setting is unset.
    pub fn read(&self, conn: &Connection) -> Result<Option<NaiveDate>, AdapterError> {
        match conn
            .config
            .get(self.name)
            .and_then(Value::as_str)
            .map(str::trim)
        {
            None | Some("") if !self.required => Ok(None),
            None | Some("") => Err(AdapterError::invalid_field(self.name, "is not set")),
            Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| {
                    AdapterError::invalid_field(self.name, "must be a date as YYYY-MM-DD")
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::connection;
    use serde_json::json;

    fn with(config: Value) -> Connection {
        let mut conn = connection(&[("token", " s3cret ")]);
        conn.config = config.as_object().cloned().unwrap();
        conn
    }

    fn field_of(err: AdapterError) -> Option<String> {
        match err {
            AdapterError::Invalid { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    const LOOKBACK: IntSetting = IntSetting::new("lookback_days", "Lookback days", "How far back.")
        .range(1, 1_110)
        .default(90)
        .unit("days");

    #[test]
    fn integers_have_bounds_and_defaults() {
        assert_eq!(LOOKBACK.read(&with(json!({}))).unwrap(), 90);
        assert_eq!(
            LOOKBACK
                .read(&with(json!({"lookback_days": "30"})))
                .unwrap(),
            30
        );
        assert_eq!(
            LOOKBACK
                .read_u32(&with(json!({"lookback_days": 7})))
                .unwrap(),
            7
        );
        let err = LOOKBACK
            .read(&with(json!({"lookback_days": 0})))
            .unwrap_err();
        assert_eq!(
            err,
            AdapterError::invalid_field(
                "lookback_days",
                "must be a whole number of days from 1 to 1110"
            )
        );
        for bad in [json!("x"), json!(1.5), json!(-1), json!(2_000)] {
            let err = LOOKBACK
                .read(&with(json!({"lookback_days": bad})))
                .unwrap_err();
            assert_eq!(field_of(err).as_deref(), Some("lookback_days"));
        }
        let field = LOOKBACK.field();
        assert_eq!((field.kind, field.required), (FieldKind::Integer, false));
        let required = IntSetting::new("n", "N", "");
        assert!(required.field().required);
        assert!(required.read(&with(json!({}))).is_err());
    }

    #[test]
    fn lookback_days_is_one_setting_everywhere() {
        let lookback = IntSetting::lookback_days(90, 1_110, "How far back.");
        assert_eq!(lookback, LOOKBACK);
        assert_eq!(lookback.read_u32(&with(json!({}))).unwrap(), 90);
    }

    #[test]
    fn lists_are_split_checked_and_bounded() {
        const DIMENSIONS: ListSetting = ListSetting::new("dimensions", "Dimensions", "")
            .pattern(r"[a-z, ]*")
            .mismatch("must be names")
            .reserved(&[("date", "`date` is always included")])
            .at_most(2, "dimensions besides the date");
        let read = |value: Value| DIMENSIONS.read(&with(json!({ "dimensions": value })));
        assert_eq!(
            read(json!(" country , city ")).unwrap(),
            ["country", "city"]
        );
        assert_eq!(read(json!("country,,")).unwrap(), ["country"]);
        assert!(read(json!("")).unwrap().is_empty());
        assert!(DIMENSIONS.read(&with(json!({}))).unwrap().is_empty());
        let refused = |value: &str, message: &str| {
            assert_eq!(
                read(json!(value)).unwrap_err(),
                AdapterError::invalid_field("dimensions", message),
                "{value}"
            );
        };
        refused("Country", "must be names");
        refused("country, date", "`date` is always included");
        refused("city, city", "`city` is listed twice");
        refused("a, b, c", "at most 2 dimensions besides the date");
        let field = DIMENSIONS.field();
        assert_eq!((field.required, field.pattern), (false, Some(r"[a-z, ]*")));
        let any = ListSetting::new("tags", "Tags", "");
        let many = with(json!({"tags": "a,b,c,d,e,f,g,h,i,j"}));
        assert_eq!(any.read(&many).unwrap().len(), 10);
    }

    #[test]
    fn enums_strings_and_dates() {
        let region = EnumSetting {
            name: "region",
            label: "Region",
            help: "",
            choices: &["us", "eu"],
            default: Some("us"),
        };
        assert_eq!(region.read(&with(json!({}))).unwrap(), "us");
        assert_eq!(region.read(&with(json!({"region": "eu"}))).unwrap(), "eu");
        assert_eq!(
            field_of(region.read(&with(json!({"region": "mars"}))).unwrap_err()).as_deref(),
            Some("region")
        );
        assert_eq!(region.field().kind, FieldKind::Enum(vec!["us", "eu"]));

        let property = StringSetting::new("property_id", "Property", "")
            .pattern("[0-9]+")
            .mismatch("must be the numeric property ID");
        assert_eq!(
            property
                .require(&with(json!({"property_id": " 42 "})))
                .unwrap(),
            "42"
        );
        assert_eq!(
            property
                .read(&with(json!({"property_id": "G-1"})))
                .unwrap_err(),
            AdapterError::invalid_field("property_id", "must be the numeric property ID")
        );
        assert!(property.read(&with(json!({}))).is_err());
        assert_eq!(property.field().pattern, Some("[0-9]+"));
        let token = StringSetting::new("token", "Token", "").secret().optional();
        assert_eq!(
            token.read(&with(json!({}))).unwrap().as_deref(),
            Some("s3cret")
        );
        assert!(token.field().secret);

        let since = DateSetting {
            name: "since",
            label: "Since",
            help: "",
            required: false,
        };
        assert_eq!(since.read(&with(json!({}))).unwrap(), None);
        assert_eq!(
            since.read(&with(json!({"since": "2026-03-01"}))).unwrap(),
            NaiveDate::from_ymd_opt(2026, 3, 1)
        );
        assert!(since.read(&with(json!({"since": "2026-02-30"}))).is_err());
        assert!(since.field().validate(Some(&json!("2026-03-01"))).is_ok());
        assert!(since.field().validate(Some(&json!("March"))).is_err());
    }
}
