//! Answers in a provider's own shapes: its error body ([`ErrorShape`]), JSON at
//! pointers ([`set`]), and a body cut off halfway ([`cut`]).

use junction_core::fake::FakeResponse;
use serde_json::{Map, Value};

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
        }
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
}
