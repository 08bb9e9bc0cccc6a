//! Answers in a provider's own shapes: its error body ([`ErrorShape`]) and its
//! catalogue of errors by name, JSON at pointers ([`set`]), and a body cut off
//! halfway ([`cut`]).
//!
//! # The catalogue
//!
//! A provider's words are data: its fake's data file keeps, under one key, each
//! error it answers with by name, as `[status, code, message]` or as an object
//! `{"status", "code", "message", "set": {pointer: value}, "headers": {name: value},
//! "text", "type"}` (`text`: a body of its own instead of the error shape, as edge
//! proxies and other services answer, of content type `type`, plain text by default). Entries a section lacks are looked up at the file's root, so fakes of two
//! entries (an API-key and an OAuth entry) share the rest. `{name}` in the message, in header values and in string values of `set`
//! is the caller's variable `name`; a string that is only `{name}` becomes the
//! variable's value as it is. [`crate::fake::Service`] answers faults, credential
//! refusals and unknown paths with the entries of [`names`]; a missing entry has a
//! plain default.

use junction_core::fake::FakeResponse;
use serde_json::{Map, Value};

use crate::fake::data::Data;

/// The entries the service answers with, by convention.
pub mod names {
    /// `ServerError`: an outage.
    pub const SERVER_ERROR: &str = "server_error";
    /// `RateLimited`, with `{secs}` and `{minutes}` (rounded up, at least 1).
    pub const RATE_LIMITED: &str = "rate_limited";
    pub const QUOTA_EXHAUSTED: &str = "quota_exhausted";
    /// An unknown path, with `{method}` and `{path}`.
    pub const NOT_FOUND: &str = "not_found";
    /// A known path with another method (without the entry: [`NOT_FOUND`]), with
    /// `{method}`, `{path}` and `{allow}`.
    pub const WRONG_METHOD: &str = "wrong_method";
    /// Credential refusals ([`crate::fake::Refused`]), with `{credential}` where one
    /// was presented. Without `disabled` or `expired`: `unknown`.
    pub const MISSING: &str = "missing";
    pub const UNKNOWN: &str = "unknown";
    pub const EXPIRED: &str = "expired";
    pub const DISABLED: &str = "disabled";
    pub const INSUFFICIENT: &str = "insufficient";
}

/// What an entry the catalogue lacks defaults to.
const DEFAULTS: [(&str, u16, &str); 8] = [
    (names::SERVER_ERROR, 500, "Internal Server Error"),
    (names::RATE_LIMITED, 429, "Too Many Requests"),
    (names::QUOTA_EXHAUSTED, 429, "Quota exhausted"),
    (names::NOT_FOUND, 404, "Not Found"),
    (names::MISSING, 401, "No credential"),
    (names::UNKNOWN, 401, "Invalid credential"),
    (names::INSUFFICIENT, 403, "Forbidden"),
    ("", 500, "No such error in the fake's catalogue"),
];

/// Where a provider's error bodies keep what a fake fills in. The adapter's
/// [`crate::Envelope`] says where it *reads* the code and the message; this says where
/// the fake *writes* them, which the conformance suite checks against each other
/// (a fake's refusal must classify as the provider documents).
#[derive(Debug, Clone, Copy)]
pub struct ErrorShape {
    /// JSON pointer of the error code (`/error/code`, `/name`); `None` when the
    /// provider's errors carry none. A code written as digits becomes a number.
    pub code: Option<&'static str>,
    /// JSON pointer of the message (`/error/message`; `/errors/0` for a list).
    pub message: &'static str,
    /// JSON pointer of the HTTP status, for bodies that repeat it (`/statusCode`).
    pub status: Option<&'static str>,
    /// Text fields every error carries (`/error/type` = `OAuthException`).
    pub fixed: &'static [(&'static str, &'static str)],
    pub content_type: &'static str,
    /// The provider's last touch, given the status (Stripe's error `type` by status,
    /// Mailchimp's `instance`).
    pub finish: Option<fn(u16, &mut Value)>,
    /// The catalogue of errors by name: a data file and the pointer to the entries.
    pub catalogue: Option<(&'static Data, &'static str)>,
}

impl ErrorShape {
    /// Code and message at these pointers, as `application/json`.
    pub const fn new(code: Option<&'static str>, message: &'static str) -> Self {
        Self {
            code,
            message,
            status: None,
            fixed: &[],
            content_type: "application/json",
            finish: None,
            catalogue: None,
        }
    }

    /// The same shape with its catalogue of errors at `pointer` of `data`.
    pub const fn catalogue(self, data: &'static Data, pointer: &'static str) -> Self {
        Self {
            catalogue: Some((data, pointer)),
            ..self
        }
    }

    /// Whether the catalogue has an entry `name`.
    pub fn has(&self, name: &str) -> bool {
        self.entry(name).is_some()
    }

    /// The entry `name` of the catalogue's section, else of the file's root (a fake
    /// of two entries keeps their own words in sections, the rest shared).
    fn entry(&self, name: &str) -> Option<&'static Value> {
        let (data, pointer) = self.catalogue?;
        let at = |section: &'static Value| section.get(name).filter(|entry| !entry.is_null());
        at(data.at(pointer)).or_else(|| at(data.get()))
    }

    /// The catalogue's error `name` with `vars` filled in (see the module docs).
    pub fn named(&self, name: &str, vars: &[(&str, &str)]) -> FakeResponse {
        let fill = |text: &str| fill(text, vars);
        let Some(entry) = self.entry(name) else {
            let (_, status, message) = DEFAULTS
                .iter()
                .find(|(n, ..)| *n == name)
                .or(DEFAULTS.last())
                .copied()
                .unwrap_or(("", 500, ""));
            let response = self.reply(status, None, message);
            return match name {
                names::RATE_LIMITED => response.with_header("retry-after", &fill("{secs}")),
                _ => response,
            };
        };
        let field = |index: usize, key: &str| entry.get(index).or_else(|| entry.get(key));
        let status = field(0, "status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(500);
        let mut response = match entry.get("text").and_then(Value::as_str) {
            Some(text) => FakeResponse {
                status,
                headers: vec![(
                    "content-type".into(),
                    entry["type"]
                        .as_str()
                        .unwrap_or("text/plain; charset=utf-8")
                        .into(),
                )],
                body: fill(text).into_bytes(),
            },
            None => {
                let code = field(1, "code").and_then(Value::as_str).map(fill);
                let message = field(2, "message").and_then(Value::as_str).unwrap_or("");
                let mut body = self.body(status, code.as_deref(), &fill(message));
                for (pointer, value) in entry
                    .get("set")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    set(&mut body, pointer, fill_value(value, vars));
                }
                self.respond(status, &body)
            }
        };
        for (header, value) in entry
            .get("headers")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            response = response.with_header(header, &fill(value.as_str().unwrap_or_default()));
        }
        response
    }

    /// The same shape repeating the HTTP status at `pointer`.
    pub const fn status_at(self, pointer: &'static str) -> Self {
        Self {
            status: Some(pointer),
            ..self
        }
    }

    /// The same shape with fields every error carries.
    pub const fn fixed(self, fixed: &'static [(&'static str, &'static str)]) -> Self {
        Self { fixed, ..self }
    }

    /// The same shape under another content type (`application/problem+json`).
    pub const fn content_type(self, content_type: &'static str) -> Self {
        Self {
            content_type,
            ..self
        }
    }

    /// The same shape finished by the provider's function.
    pub const fn finish(self, finish: fn(u16, &mut Value)) -> Self {
        Self {
            finish: Some(finish),
            ..self
        }
    }

    /// An error body with `code` (where the shape has one) and `message`.
    pub fn body(&self, status: u16, code: Option<&str>, message: &str) -> Value {
        let mut body = Value::Object(Map::new());
        for (pointer, text) in self.fixed {
            set(&mut body, pointer, Value::String((*text).to_owned()));
        }
        if let Some(pointer) = self.status {
            set(&mut body, pointer, Value::from(status));
        }
        if let (Some(pointer), Some(code)) = (self.code, code) {
            let value = code
                .parse::<i64>()
                .map_or_else(|_| Value::String(code.to_owned()), Value::from);
            set(&mut body, pointer, value);
        }
        set(&mut body, self.message, Value::String(message.to_owned()));
        if let Some(finish) = self.finish {
            finish(status, &mut body);
        }
        body
    }

    /// [`ErrorShape::body`] as a response.
    pub fn reply(&self, status: u16, code: Option<&str>, message: &str) -> FakeResponse {
        self.respond(status, &self.body(status, code, message))
    }

    /// An error `body` (built with [`ErrorShape::body`], then added to) as a response.
    pub fn respond(&self, status: u16, body: &Value) -> FakeResponse {
        FakeResponse {
            status,
            headers: vec![("content-type".into(), self.content_type.into())],
            body: body.to_string().into_bytes(),
        }
    }
}

/// `text` with each `{name}` replaced by the variable `name` (left as it is without
/// one), in one pass, so a value cannot inject a placeholder.
fn fill(text: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let value = after.find('}').and_then(|end| {
            vars.iter()
                .find(|(n, _)| *n == &after[..end])
                .map(|v| (end, v.1))
        });
        match value {
            Some((end, value)) => {
                out.push_str(value);
                rest = &after[end + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A JSON value of a catalogue entry with its strings filled.
fn fill_value(value: &Value, vars: &[(&str, &str)]) -> Value {
    match value {
        Value::String(text) => Value::String(fill(text, vars)),
        Value::Array(items) => items.iter().map(|v| fill_value(v, vars)).collect(),
        Value::Object(map) => {
            let map = map.iter().map(|(k, v)| (k.clone(), fill_value(v, vars)));
            Value::Object(map.collect())
        }
        other => other.clone(),
    }
}

/// Sets `pointer` in `body`, creating what is missing on the way: an array where the
/// next step is a number (`/errors/0`), an object elsewhere. An index past the end of
/// an array appends.
pub fn set(body: &mut Value, pointer: &str, value: Value) {
    let steps: Vec<&str> = pointer.split('/').skip(1).collect();
    let mut at = body;
    for (i, step) in steps.iter().enumerate() {
        let last = i + 1 == steps.len();
        let index = step.parse::<usize>().ok();
        if index.is_some() && !at.is_array() && !at.is_object() {
            *at = Value::Array(Vec::new());
        } else if index.is_none() && !at.is_object() {
            *at = Value::Object(Map::new());
        }
        let fresh = || match steps.get(i + 1).map(|s| s.parse::<usize>().is_ok()) {
            Some(true) => Value::Array(Vec::new()),
            _ => Value::Object(Map::new()),
        };
        at = match (at, index) {
            (Value::Array(items), Some(index)) => {
                let index = index.min(items.len());
                if index == items.len() {
                    items.push(if last { Value::Null } else { fresh() });
                }
                &mut items[index]
            }
            (Value::Object(map), _) => map.entry((*step).to_owned()).or_insert_with(fresh),
            _ => return,
        };
    }
    *at = value;
}

/// `response` with its body cut off halfway: a transfer dropped mid-answer (the
/// `MalformedBody` fault, after the request took effect).
pub fn cut(response: FakeResponse) -> FakeResponse {
    let half = response.body.len() / 2;
    FakeResponse {
        body: response.body[..half].to_vec(),
        ..response
    }
}

/// An empty answer (`204 No Content`).
pub fn empty(status: u16) -> FakeResponse {
    FakeResponse {
        status,
        headers: Vec::new(),
        body: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn pointers_build_objects_and_lists() {
        let mut body = Value::Null;
        set(&mut body, "/errors/0", json!("first"));
        set(&mut body, "/errors/1", json!("second"));
        set(&mut body, "/error/code", json!(17));
        assert_eq!(
            body,
            json!({"errors": ["first", "second"], "error": {"code": 17}})
        );
        set(&mut body, "/errors/0", json!("replaced"));
        assert_eq!(body["errors"][0], "replaced");
    }

    #[test]
    fn error_bodies_follow_the_shape() {
        const GRAPH: ErrorShape = ErrorShape::new(Some("/error/code"), "/error/message")
            .fixed(&[("/error/type", "OAuthException")])
            .status_at("/error/status");
        let body = GRAPH.body(400, Some("190"), "Invalid token");
        assert_eq!(
            body,
            json!({"error": {"code": 190, "message": "Invalid token", "type": "OAuthException", "status": 400}})
        );
        const PROBLEM: ErrorShape = ErrorShape::new(Some("/title"), "/detail")
            .content_type("application/problem+json")
            .finish(|status, body| body["instance"] = json!(format!("i{status}")));
        let reply = PROBLEM.reply(404, Some("Resource Not Found"), "Gone.");
        assert_eq!(reply.status, 404);
        assert_eq!(reply.headers[0].1, "application/problem+json");
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(
            body,
            json!({"title": "Resource Not Found", "detail": "Gone.", "instance": "i404"})
        );
        let half = cut(FakeResponse::json(200, &json!({"a": "bcdef"})));
        assert!(serde_json::from_slice::<Value>(&half.body).is_err());
    }

    static WORDS: Data = Data::new(
        r#"{"errors": {
            "gone": [410, "GONE", "{what} is gone ({what}, {nothing})"],
            "limited": {"status": 400, "code": "80000", "message": "Slow down",
                "set": {"/error/subcode": 2446079, "/error/param": "{param}"},
                "headers": {"retry-after": "{secs}"}},
            "edge": {"status": 403, "text": "error code: {code}"},
            "xml": {"status": 404, "text": "<Error/>", "type": "application/xml"}
        }}"#,
    );

    #[test]
    fn catalogue_entries_fill_their_variables() {
        const SHAPE: ErrorShape =
            ErrorShape::new(Some("/error/code"), "/error/message").catalogue(&WORDS, "/errors");
        let body =
            |response: &FakeResponse| serde_json::from_slice::<Value>(&response.body).unwrap();
        let gone = SHAPE.named("gone", &[("what", "{it}")]);
        assert_eq!(gone.status, 410);
        assert_eq!(
            body(&gone),
            json!({"error": {"code": "GONE", "message": "{it} is gone ({it}, {nothing})"}})
        );
        let limited = SHAPE.named("limited", &[("param", "limit"), ("secs", "7")]);
        assert_eq!(
            body(&limited)["error"],
            json!({"code": 80000, "message": "Slow down", "subcode": 2446079, "param": "limit"})
        );
        assert!(
            limited
                .headers
                .contains(&("retry-after".into(), "7".into()))
        );
        let edge = SHAPE.named("edge", &[("code", "1010")]);
        assert_eq!(
            (edge.status, edge.body.as_slice()),
            (403, b"error code: 1010".as_slice())
        );
        // Entries the catalogue lacks have plain defaults.
        let missing = SHAPE.named(names::MISSING, &[]);
        assert_eq!(
            (missing.status, body(&missing)["error"]["message"].clone()),
            (401, json!("No credential"))
        );
        let limited = SHAPE.named(names::RATE_LIMITED, &[("secs", "3")]);
        assert!(
            limited
                .headers
                .contains(&("retry-after".into(), "3".into()))
        );
        assert!(SHAPE.has("gone") && !SHAPE.has(names::SERVER_ERROR));
    }
}
