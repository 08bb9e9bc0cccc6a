//! A provider's error envelope and the table that classifies its refusals.
//!
//! Core's [`junction_core::http::classify`] gives every refusal a generic class from
//! its status and headers (429 → rate limited, 401 → unauthorized, 5xx →
//! unavailable, else the provider's code and message). Providers say more in the
//! body: Meta throttles with code 17 under HTTP 400, GA4 names the exhausted quota in
//! its message. An [`ErrorTable`] says where the code and message sit
//! ([`Envelope`]) and maps them to the class that tells the truth about a retry
//! ([`ErrorRule`]s, first match wins; no match keeps the generic class). Errors that
//! arrive with HTTP 200 (GraphQL) go through the same table.
//!
//! The rules are plain data so the conformance suite can replay each one:
//! [`Envelope::sample`] builds the body a rule is about.

pub(crate) use crate::data::scalar_at;
use std::time::Duration;

use chrono::{DateTime, Duration as Span, TimeZone, Timelike, Utc};
use http::{HeaderMap, StatusCode};
use junction_core::{
    AdapterError,
    http::{Refusal, ResponsePolicy},
};
use serde_json::{Map, Value};

use crate::ratelimit::RateLimitSignals;

/// Where a provider's error bodies keep the code and the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope {
    /// JSON pointers to the error code, tried in order (`/error/code`). Empty: the
    /// code the generic classification found.
    pub code: &'static [&'static str],
    /// JSON pointers to the message, the first non-empty one wins
    /// (`/error/error_user_msg`, `/error/message`). Empty: the generic message.
    pub message: &'static [&'static str],
    /// Details appended to the message as `(label value, ...)` — what the
    /// provider's support asks for (Meta's `fbtrace_id`): `(pointer, label)`.
    pub tags: &'static [(&'static str, &'static str)],
    /// The code a bare status stands for when the body names none (Google's
    /// canonical codes: 403 → `PERMISSION_DENIED`).
    pub code_for_status: &'static [(u16, &'static str)],
    /// The longest message kept, in characters (the tags come on top).
    pub max_message_chars: usize,
}

impl Envelope {
    /// No envelope of its own: the generic code and message.
    pub const GENERIC: Self = Self {
        code: &[],
        message: &[],
        tags: &[],
        code_for_status: &[],
        max_message_chars: 300,
    };
}

/// Which error codes a rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Any code, or none.
    Any,
    Is(&'static str),
    OneOf(&'static [&'static str]),
    /// Numeric codes from the first to the second, inclusive (Meta's 80000–80014).
    Range(i64, i64),
}

/// A further condition on the body (values compared as text, ASCII case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    /// The value at the pointer is this text (a number or boolean as written).
    Equals(&'static str, &'static str),
    /// The text at the pointer contains this text.
    Contains(&'static str, &'static str),
}

/// The config or input field an `Invalid` error names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldName {
    Fixed(&'static str),
    /// Read from the body (Stripe's `/error/param`).
    At(&'static str),
}

/// When a used-up quota comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resets {
    /// After the wait the rate-limit signals announce, when they do.
    FromHeaders,
    /// At the start of the next hour (hourly quotas).
    NextHour,
    /// At the next midnight in a time zone (Google's daily quotas: Pacific time).
    NextMidnight(chrono_tz::Tz),
}

/// What a refusal that matches a rule becomes.
#[derive(Debug, Clone, Copy)]
pub enum Class {
    /// Keep the generic classification (and stop looking).
    Keep,
    /// Slow down, waiting as long as the rate-limit signals say.
    RateLimited,
    QuotaExhausted(Resets),
    Unauthorized {
        refreshable: bool,
    },
    Invalid(Option<FieldName>),
    Unavailable,
    /// The provider's own function.
    Custom(fn(&Refused<'_>) -> AdapterError),
}

/// One line of an [`ErrorTable`].
#[derive(Debug, Clone, Copy)]
pub struct ErrorRule {
    /// Only refusals with this HTTP status (any when `None`).
    pub status: Option<u16>,
    pub code: Code,
    pub when: When,
    pub class: Class,
    /// The error's message: `{message}` is the provider's (one line), any other
    /// `{name}` the connection's config value `name` (never a secret).
    pub message: &'static str,
    /// What `{message}` stands for when the provider said nothing (default: the
    /// generic classification's message).
    pub fallback: &'static str,
}

impl ErrorRule {
    const ANY: Self = Self {
        status: None,
        code: Code::Any,
        when: When::Always,
        class: Class::Keep,
        message: "{message}",
        fallback: "",
    };

    /// Refusals with error code `code`.
    pub const fn code(code: &'static str) -> Self {
        Self {
            code: Code::Is(code),
            ..Self::ANY
        }
    }

    /// Refusals with any of `codes`.
    pub const fn codes(codes: &'static [&'static str]) -> Self {
        Self {
            code: Code::OneOf(codes),
            ..Self::ANY
        }
    }

    /// Refusals with a numeric code in `from..=to`.
    pub const fn code_range(from: i64, to: i64) -> Self {
        Self {
            code: Code::Range(from, to),
            ..Self::ANY
        }
    }

    /// Refusals with HTTP status `status`, whatever their code.
    pub const fn status(status: u16) -> Self {
        Self {
            status: Some(status),
            ..Self::ANY
        }
    }

    /// Every refusal (narrow it with [`ErrorRule::when`]).
    pub const fn any() -> Self {
        Self::ANY
    }

    pub const fn on_status(self, status: u16) -> Self {
        Self {
            status: Some(status),
            ..self
        }
    }

    pub const fn when(self, when: When) -> Self {
        Self { when, ..self }
    }

    pub const fn message(self, message: &'static str) -> Self {
        Self { message, ..self }
    }

    pub const fn fallback(self, fallback: &'static str) -> Self {
        Self { fallback, ..self }
    }

    pub const fn class(self, class: Class) -> Self {
        Self { class, ..self }
    }

    /// Keep the generic classification for these refusals (and stop looking).
    pub const fn keep(self) -> Self {
        self.class(Class::Keep)
    }

    pub const fn rate_limited(self) -> Self {
        self.class(Class::RateLimited)
    }

    pub const fn quota_exhausted(self, resets: Resets) -> Self {
        self.class(Class::QuotaExhausted(resets))
    }

    pub const fn unauthorized(self, refreshable: bool) -> Self {
        self.class(Class::Unauthorized { refreshable })
    }

    pub const fn invalid(self) -> Self {
        self.class(Class::Invalid(None))
    }

    pub const fn invalid_field(self, field: &'static str) -> Self {
        self.class(Class::Invalid(Some(FieldName::Fixed(field))))
    }

    pub const fn unavailable(self) -> Self {
        self.class(Class::Unavailable)
    }

    /// Whether the rule is about a refusal with `status`, `code` and `body`.
    pub fn matches(&self, status: u16, code: Option<&str>, body: Option<&Value>) -> bool {
        if self.status.is_some_and(|s| s != status) {
            return false;
        }
        let code_matches = match self.code {
            Code::Any => true,
            Code::Is(wanted) => code == Some(wanted),
            Code::OneOf(list) => code.is_some_and(|c| list.contains(&c)),
            Code::Range(from, to) => code
                .and_then(|c| c.parse::<i64>().ok())
                .is_some_and(|c| (from..=to).contains(&c)),
        };
        code_matches
            && match self.when {
                When::Always => true,
                When::Equals(pointer, text) => {
                    scalar_at(body, pointer).is_some_and(|v| v.eq_ignore_ascii_case(text))
                }
                When::Contains(pointer, text) => scalar_at(body, pointer)
                    .is_some_and(|v| v.to_ascii_lowercase().contains(&text.to_ascii_lowercase())),
            }
    }
}

/// A provider's errors: where they sit and how they classify.
#[derive(Debug, Clone, Copy)]
pub struct ErrorTable {
    pub envelope: Envelope,
    pub rules: &'static [ErrorRule],
    /// Where a GraphQL-style API lists errors in a 2xx body (`/errors`): a non-empty
    /// list there is a refusal with status 200. `None` for REST APIs.
    pub in_success_body: Option<&'static str>,
}

impl ErrorTable {
    /// The generic classification alone.
    pub const GENERIC: Self = Self {
        envelope: Envelope::GENERIC,
        rules: &[],
        in_success_body: None,
    };
}

/// A refusal as a rule's class sees it.
#[derive(Debug, Clone)]
pub struct Refused<'a> {
    pub status: StatusCode,
    pub headers: &'a HeaderMap,
    pub body: Option<&'a Value>,
    pub code: Option<String>,
    /// The rule's rendered message.
    pub message: String,
    /// The generic classification.
    pub base: &'a AdapterError,
    /// The wait the rate-limit signals announce.
    pub wait: Option<Duration>,
    pub now: DateTime<Utc>,
}

/// `Invalid`, naming the field the refusal's message puts in its first backticks
/// ("The `to` field must be a `string`." names `to`) when that word looks like a field
/// name (lowercase ASCII, digits, `_` and `.`), and no field otherwise: a
/// [`Class::Custom`] for APIs that name the field only in their message (Resend).
pub fn invalid_field_in_backticks(refused: &Refused<'_>) -> AdapterError {
    let field = refused
        .message
        .split_once('`')
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(word, _)| word)
        .filter(|word| {
            !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
        });
    AdapterError::Invalid {
        field: field.map(str::to_owned),
        message: refused.message.clone(),
    }
}

impl ErrorTable {
    /// Classifies a refusal whose generic classification is `base`. `config` fills
    /// the `{name}` placeholders of rule messages.
    pub fn classify(
        &self,
        base: AdapterError,
        refusal: &Refusal<'_>,
        signals: &RateLimitSignals,
        config: &Map<String, Value>,
    ) -> AdapterError {
        let body: Option<Value> = serde_json::from_slice(refusal.body).ok();
        let status = refusal.status.as_u16();
        let code = self.envelope.code_of(body.as_ref(), &base, status);
        let Some(rule) = self
            .rules
            .iter()
            .find(|rule| rule.matches(status, code.as_deref(), body.as_ref()))
        else {
            return base;
        };
        let described = self.envelope.describe(body.as_ref(), &base);
        let said = if !described.is_empty() {
            described
        } else if !rule.fallback.is_empty() {
            rule.fallback.to_owned()
        } else {
            message_of(&base)
        };
        let message = fill(rule.message, &said, config);
        let now = refusal.now;
        let wait = signals
            .read(refusal.headers, now)
            .and_then(|info| info.wait_hint(now))
            .or(match &base {
                AdapterError::RateLimited { retry_after } => *retry_after,
                _ => None,
            });
        match rule.class {
            Class::Keep => base,
            Class::RateLimited => AdapterError::RateLimited { retry_after: wait },
            Class::QuotaExhausted(resets) => AdapterError::QuotaExhausted {
                resets_at: match resets {
                    Resets::FromHeaders => {
                        wait.and_then(|w| Span::from_std(w).ok()).map(|w| now + w)
                    }
                    Resets::NextHour => Some(next_hour(now)),
                    Resets::NextMidnight(zone) => Some(next_midnight(zone, now)),
                },
            },
            Class::Unauthorized { refreshable } => AdapterError::Unauthorized {
                refreshable,
                message,
            },
            Class::Invalid(field) => AdapterError::Invalid {
                field: field.and_then(|field| match field {
                    FieldName::Fixed(name) => Some(name.to_owned()),
                    FieldName::At(pointer) => scalar_at(body.as_ref(), pointer),
                }),
                message,
            },
            Class::Unavailable => AdapterError::Unavailable { message },
            Class::Custom(classify) => classify(&Refused {
                status: refusal.status,
                headers: refusal.headers,
                body: body.as_ref(),
                code,
                message,
                base: &base,
                wait,
                now,
            }),
        }
    }

    /// Whether a 2xx `body` carries errors (see [`ErrorTable::in_success_body`]).
    pub fn success_body_fails(&self, body: &Value) -> bool {
        self.in_success_body
            .and_then(|pointer| body.pointer(pointer))
            .and_then(Value::as_array)
            .is_some_and(|errors| !errors.is_empty())
    }

    /// What the provider said in `refusal`, as a rule's `{message}` reads it: the
    /// envelope's message (one line, cut to size, with the tags), else the message of
    /// the generic classification under `policy`. For refinements made after the
    /// table ([`crate::Client::send_with`]) that quote the provider.
    pub fn said(&self, refusal: &Refusal<'_>, policy: &ResponsePolicy) -> String {
        let base = junction_core::http::classify(
            refusal.status,
            refusal.headers,
            refusal.body,
            refusal.now,
            policy,
        );
        let body: Option<Value> = serde_json::from_slice(refusal.body).ok();
        let described = self.envelope.describe(body.as_ref(), &base);
        if described.is_empty() {
            message_of(&base)
        } else {
            described
        }
    }
}

impl Envelope {
    fn code_of(&self, body: Option<&Value>, base: &AdapterError, status: u16) -> Option<String> {
        let code = if self.code.is_empty() {
            match base {
                AdapterError::Provider { code, .. } => code.clone(),
                _ => None,
            }
        } else {
            self.code
                .iter()
                .find_map(|pointer| scalar_at(body, pointer))
        };
        code.or_else(|| {
            self.code_for_status
                .iter()
                .find(|(s, _)| *s == status)
                .map(|(_, code)| (*code).to_owned())
        })
    }

    /// The provider's message, one line, cut to size, with the tags; empty when the
    /// body has none.
    fn describe(&self, body: Option<&Value>, base: &AdapterError) -> String {
        let text = if self.message.is_empty() {
            message_of(base)
        } else {
            self.message
                .iter()
                .find_map(|pointer| scalar_at(body, pointer))
                .unwrap_or_default()
        };
        let mut line = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.chars().count() > self.max_message_chars {
            line = line
                .chars()
                .take(self.max_message_chars.saturating_sub(1))
                .collect::<String>()
                + "…";
        }
        let tags: Vec<String> = self
            .tags
            .iter()
            .filter_map(|(pointer, label)| {
                scalar_at(body, pointer).map(|value| format!("{label}{value}"))
            })
            .collect();
        if tags.is_empty() {
            line
        } else {
            format!("{line} ({})", tags.join(", "))
        }
    }

    /// A body in this envelope with `code` and `message`, and what `when` asks for:
    /// the refusal a rule is about, for tests and the conformance suite.
    pub fn sample(&self, rule: &ErrorRule, message: &str) -> Value {
        let mut body = Value::Object(Map::new());
        let code = match rule.code {
            Code::Any => None,
            Code::Is(code) => Some(code.to_owned()),
            Code::OneOf(codes) => codes.first().map(|c| (*c).to_owned()),
            Code::Range(from, _) => Some(from.to_string()),
        };
        if let (Some(code), Some(pointer)) = (code, self.code.first()) {
            let value = code
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or(Value::String(code));
            set(&mut body, pointer, value);
        }
        if let Some(pointer) = self.message.last() {
            set(&mut body, pointer, Value::String(message.to_owned()));
        }
        if let When::Equals(pointer, text) | When::Contains(pointer, text) = rule.when {
            set(&mut body, pointer, Value::String(text.to_owned()));
        }
        body
    }
}

/// The message an error carries, without its variant's wording.
fn message_of(error: &AdapterError) -> String {
    match error {
        AdapterError::Unavailable { message }
        | AdapterError::Unauthorized { message, .. }
        | AdapterError::Invalid { message, .. }
        | AdapterError::Provider { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// Sets `pointer` in `body`, creating objects on the way.
fn set(body: &mut Value, pointer: &str, value: Value) {
    let mut at = body;
    let parts: Vec<&str> = pointer.split('/').skip(1).collect();
    for (i, part) in parts.iter().enumerate() {
        if !at.is_object() {
            *at = Value::Object(Map::new());
        }
        let Value::Object(map) = at else { return };
        if i + 1 == parts.len() {
            map.insert((*part).to_owned(), value);
            return;
        }
        at = map
            .entry((*part).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

/// `template` with `{message}` replaced by `message` and every other `{name}` by the
/// config value `name` (left as it is when there is none), in one pass, so neither
/// can inject a placeholder into the other.
fn fill(template: &str, message: &str, config: &Map<String, Value>) -> String {
    let mut out = String::with_capacity(template.len() + message.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(len) => {
                let name = &after[..len];
                match name {
                    "message" => out.push_str(message),
                    _ => match config.get(name).and_then(Value::as_str) {
                        Some(value) => out.push_str(value.trim()),
                        None => out.push_str(&rest[start..start + len + 2]),
                    },
                }
                rest = &after[len + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The start of the next hour. Hourly quotas refill on the hour; it is the earliest
/// a retry can succeed.
pub fn next_hour(now: DateTime<Utc>) -> DateTime<Utc> {
    let hour_start = now
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    hour_start + Span::hours(1)
}

/// The next midnight in `zone` after `now`, as UTC. Where a daylight-saving switch
/// skips midnight, the first moment of the day that exists.
pub fn next_midnight(zone: chrono_tz::Tz, now: DateTime<Utc>) -> DateTime<Utc> {
    let tomorrow = now.with_timezone(&zone).date_naive() + Span::days(1);
    let midnight = tomorrow.and_time(chrono::NaiveTime::MIN);
    let local = zone.from_local_datetime(&midnight).earliest().or_else(|| {
        zone.from_local_datetime(&(midnight + Span::hours(1)))
            .earliest()
    });
    local.map_or(now + Span::days(1), |at| at.with_timezone(&Utc))
}

/// `text` with every token that starts with one of `prefixes` replaced by
/// `<redacted>`: credentials a provider quotes back in its messages, whole or masked
/// (Stripe's "Invalid API Key provided: sk_test_****1234"). A token runs on over ASCII
/// letters, digits, `_` and the `*` of masks.
pub fn redact_prefixed(text: &str, prefixes: &[&str]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((at, prefix)) = prefixes
        .iter()
        .filter(|prefix| !prefix.is_empty())
        .filter_map(|prefix| rest.find(prefix).map(|at| (at, *prefix)))
        .min_by_key(|(at, _)| *at)
    {
        out.push_str(&rest[..at]);
        out.push_str("<redacted>");
        let after = &rest[at + prefix.len()..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '*' || c == '_'))
            .unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// `error` with its message, if its variant carries one, passed through `map`
/// (redaction, a prefix); the variant and its other fields stay.
pub fn map_message(error: AdapterError, map: impl FnOnce(&str) -> String) -> AdapterError {
    match error {
        AdapterError::Unavailable { message } => AdapterError::Unavailable {
            message: map(&message),
        },
        AdapterError::Unauthorized {
            refreshable,
            message,
        } => AdapterError::Unauthorized {
            refreshable,
            message: map(&message),
        },
        AdapterError::Invalid { field, message } => AdapterError::Invalid {
            field,
            message: map(&message),
        },
        AdapterError::Provider {
            status,
            code,
            message,
        } => AdapterError::Provider {
            status,
            code,
            message: map(&message),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    const GRAPH: Envelope = Envelope {
        code: &["/error/code"],
        message: &["/error/error_user_msg", "/error/message"],
        tags: &[
            ("/error/code", "code "),
            ("/error/fbtrace_id", "fbtrace_id "),
        ],
        code_for_status: &[],
        max_message_chars: 40,
    };

    const GOOGLE: Envelope = Envelope {
        code: &["/error/status"],
        message: &["/error/message"],
        tags: &[],
        code_for_status: &[(403, "PERMISSION_DENIED"), (429, "RESOURCE_EXHAUSTED")],
        max_message_chars: 300,
    };

    const RULES: &[ErrorRule] = &[
        ErrorRule::codes(&["17", "613"]).rate_limited(),
        ErrorRule::code_range(80_000, 80_014).rate_limited(),
        ErrorRule::code("4").quota_exhausted(Resets::FromHeaders),
        ErrorRule::code("190")
            .unauthorized(false)
            .message("reconnect {account}: {message}"),
        ErrorRule::code("100")
            .when(When::Equals("/error/error_subcode", "33"))
            .invalid_field("account"),
        ErrorRule::code("100")
            .when(When::Contains("/error/message", "ACT_"))
            .invalid_field("account"),
        ErrorRule::code("100").invalid(),
        ErrorRule::code("2").unavailable(),
        ErrorRule::any()
            .when(When::Equals("/error/is_transient", "true"))
            .unavailable(),
        ErrorRule::code("368").on_status(400).keep(),
    ];

    const TABLE: ErrorTable = ErrorTable {
        envelope: GRAPH,
        rules: RULES,
        in_success_body: None,
    };

    fn classify(
        table: &ErrorTable,
        status: u16,
        body: &Value,
        headers: &HeaderMap,
    ) -> AdapterError {
        let status = StatusCode::from_u16(status).unwrap();
        let bytes = body.to_string().into_bytes();
        let now = at("2026-01-15T12:34:00Z");
        let base = junction_core::http::classify(
            status,
            headers,
            &bytes,
            now,
            &junction_core::http::ResponsePolicy::API_KEY,
        );
        let config = json!({"account": " 42 "}).as_object().cloned().unwrap();
        table.classify(
            base,
            &Refusal {
                status,
                headers,
                body: &bytes,
                now,
            },
            &RateLimitSignals::STANDARD,
            &config,
        )
    }

    #[test]
    fn each_rule_of_the_table_classifies_its_sample() {
        let none = HeaderMap::new();
        let expected = [
            AdapterError::RateLimited { retry_after: None },
            AdapterError::RateLimited { retry_after: None },
            AdapterError::QuotaExhausted { resets_at: None },
            AdapterError::Unauthorized {
                refreshable: false,
                message: "reconnect 42: a sample (code 190)".into(),
            },
            AdapterError::invalid_field("account", "a sample (code 100)"),
            AdapterError::invalid_field("account", "ACT_ (code 100)"),
            AdapterError::invalid("a sample (code 100)"),
            AdapterError::unavailable("a sample (code 2)"),
            AdapterError::unavailable("a sample"),
        ];
        for (rule, expected) in RULES.iter().zip(expected) {
            let body = GRAPH.sample(rule, "a sample");
            assert_eq!(classify(&TABLE, 400, &body, &none), expected, "{body}");
        }
        // `Keep` keeps the generic class, and nothing matching keeps it too.
        let body = GRAPH.sample(&RULES[9], "blocked");
        assert!(matches!(
            classify(&TABLE, 400, &body, &none),
            AdapterError::Provider { status: 400, .. }
        ));
        let other = json!({"error": {"code": 1487, "message": "m"}});
        assert_eq!(
            classify(&TABLE, 400, &other, &none),
            AdapterError::Provider {
                status: 400,
                code: Some("1487".into()),
                message: "m".into()
            }
        );
        assert!(matches!(
            classify(&TABLE, 400, &json!("<html>"), &none),
            AdapterError::Provider { .. }
        ));
    }

    #[test]
    fn waits_come_from_the_signals_or_the_generic_class() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", http::HeaderValue::from_static("30"));
        let body = json!({"error": {"code": 17, "message": "slow"}});
        assert_eq!(
            classify(&TABLE, 400, &body, &headers),
            AdapterError::RateLimited {
                retry_after: Some(Duration::from_secs(30))
            }
        );
        let body = json!({"error": {"code": 4, "message": "quota"}});
        assert_eq!(
            classify(&TABLE, 403, &body, &headers),
            AdapterError::QuotaExhausted {
                resets_at: Some(at("2026-01-15T12:34:30Z"))
            }
        );
    }

    #[test]
    fn messages_are_one_line_cut_and_tagged() {
        let body = json!({"error": {"code": 100, "error_user_msg": "  ", "message":
            "a   very long\nmessage that goes on and on past the limit", "fbtrace_id": "T1"}});
        let err = classify(&TABLE, 400, &body, &HeaderMap::new());
        assert_eq!(
            err,
            AdapterError::invalid(
                "a very long message that goes on and on… (code 100, fbtrace_id T1)"
            )
        );
        let config = json!({"name": "x{message}"}).as_object().cloned().unwrap();
        assert_eq!(
            fill("{name}/{message}/{other}/{", "m{name}", &config),
            "x{message}/m{name}/{other}/{"
        );
    }

    const GOOGLE_RULES: &[ErrorRule] = &[
        ErrorRule::code("RESOURCE_EXHAUSTED")
            .when(When::Contains("/error/message", "per day"))
            .quota_exhausted(Resets::NextMidnight(chrono_tz::America::Los_Angeles)),
        ErrorRule::code("RESOURCE_EXHAUSTED")
            .when(When::Contains("/error/message", "per hour"))
            .quota_exhausted(Resets::NextHour),
        ErrorRule::code("RESOURCE_EXHAUSTED").rate_limited(),
        ErrorRule::code("PERMISSION_DENIED")
            .unauthorized(false)
            .fallback("permission denied"),
    ];

    #[test]
    fn bare_statuses_stand_for_codes_and_quotas_reset_on_time() {
        let google = ErrorTable {
            envelope: GOOGLE,
            rules: GOOGLE_RULES,
            in_success_body: None,
        };
        let none = HeaderMap::new();
        let body = json!({"error": {"status": "RESOURCE_EXHAUSTED", "message": "Exhausted property tokens per day."}});
        assert_eq!(
            classify(&google, 429, &body, &none),
            AdapterError::QuotaExhausted {
                resets_at: Some(at("2026-01-16T08:00:00Z"))
            }
        );
        let body = json!({"error": {"status": "RESOURCE_EXHAUSTED", "message": "Exhausted property tokens Per Hour."}});
        assert_eq!(
            classify(&google, 429, &body, &none),
            AdapterError::QuotaExhausted {
                resets_at: Some(at("2026-01-15T13:00:00Z"))
            }
        );
        assert_eq!(
            classify(&google, 429, &json!(null), &none),
            AdapterError::RateLimited { retry_after: None }
        );
        assert_eq!(
            classify(&google, 403, &json!({}), &none),
            AdapterError::Unauthorized {
                refreshable: false,
                message: "permission denied".into()
            }
        );
        assert!(!google.success_body_fails(&json!({"errors": []})));
        let graphql = ErrorTable {
            in_success_body: Some("/errors"),
            ..google
        };
        assert!(graphql.success_body_fails(&json!({"errors": [{"message": "x"}]})));
    }

    #[test]
    fn midnights_follow_daylight_saving() {
        let la = chrono_tz::America::Los_Angeles;
        for (now, midnight) in [
            ("2026-01-15T12:00:00Z", "2026-01-16T08:00:00Z"),
            ("2026-01-16T03:00:00Z", "2026-01-16T08:00:00Z"),
            ("2026-07-01T20:00:00Z", "2026-07-02T07:00:00Z"),
            ("2026-03-07T20:00:00Z", "2026-03-08T08:00:00Z"),
            ("2026-03-08T20:00:00Z", "2026-03-09T07:00:00Z"),
            ("2026-10-31T20:00:00Z", "2026-11-01T07:00:00Z"),
            ("2026-11-01T20:00:00Z", "2026-11-02T08:00:00Z"),
        ] {
            assert_eq!(next_midnight(la, at(now)), at(midnight), "{now}");
        }
        assert_eq!(
            next_hour(at("2026-03-15T12:34:56.789Z")),
            at("2026-03-15T13:00:00Z")
        );
    }

    #[test]
    fn quoted_credentials_are_redacted_and_messages_mapped() {
        let prefixes = ["sk_live_", "sk_test_", "whsec_"];
        assert_eq!(
            redact_prefixed("Invalid API Key provided: sk_test_****1234", &prefixes),
            "Invalid API Key provided: <redacted>"
        );
        assert_eq!(
            redact_prefixed("keys sk_live_a_B and whsec_x, then sk_test_1.", &prefixes),
            "keys <redacted> and <redacted>, then <redacted>."
        );
        assert_eq!(
            redact_prefixed("nothing secret", &prefixes),
            "nothing secret"
        );
        assert_eq!(redact_prefixed("a b", &[""]), "a b");
        let upper = |m: &str| m.to_uppercase();
        assert_eq!(
            map_message(AdapterError::invalid_field("f", "m"), upper),
            AdapterError::invalid_field("f", "M")
        );
        assert_eq!(
            map_message(
                AdapterError::Provider {
                    status: 402,
                    code: Some("c".into()),
                    message: "m".into()
                },
                upper
            ),
            AdapterError::Provider {
                status: 402,
                code: Some("c".into()),
                message: "M".into()
            }
        );
        let limited = AdapterError::RateLimited { retry_after: None };
        assert_eq!(map_message(limited.clone(), upper), limited);
    }

    #[test]
    fn what_the_provider_said_falls_back_to_the_generic_message() {
        let body = json!({"error": {"code": 100, "message": "  two\nlines "}});
        let bytes = body.to_string().into_bytes();
        let headers = HeaderMap::new();
        let refusal = Refusal {
            status: StatusCode::BAD_REQUEST,
            headers: &headers,
            body: &bytes,
            now: at("2026-01-15T12:34:00Z"),
        };
        let policy = junction_core::http::ResponsePolicy::API_KEY;
        assert_eq!(TABLE.said(&refusal, &policy), "two lines (code 100)");
        let refusal = Refusal {
            body: b"<html>",
            ..refusal
        };
        assert_eq!(TABLE.said(&refusal, &policy), "<html>");
    }

    #[test]
    fn the_field_in_backticks_is_named() {
        let headers = HeaderMap::new();
        let base = AdapterError::invalid("generic");
        let field = |message: &str| {
            let refused = Refused {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                headers: &headers,
                body: None,
                code: None,
                message: message.to_owned(),
                base: &base,
                wait: None,
                now: Utc::now(),
            };
            match invalid_field_in_backticks(&refused) {
                AdapterError::Invalid { field, message: m } => {
                    assert_eq!(m, message);
                    field
                }
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            field("The `reply_to` field must be a `string`.").as_deref(),
            Some("reply_to")
        );
        assert_eq!(
            field("`emails.0.to` is bad").as_deref(),
            Some("emails.0.to")
        );
        assert_eq!(field("no field here"), None);
        assert_eq!(field("The `Some Thing` is bad"), None);
        assert_eq!(field("empty `` quotes"), None);
        assert_eq!(field("unclosed `to"), None);
    }
}
