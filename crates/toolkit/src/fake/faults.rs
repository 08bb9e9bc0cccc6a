//! The fault switches as a provider renders them.
//!
//! The sandbox (and a test's `FakeServer`) arms a [`Fault`] for a request; a fake
//! answers it the way the real provider would. [`Faults`] holds the provider's answer
//! to each; [`crate::fake::Service`] applies them in one order for every fake:
//! `ServerError` before anything is checked, `ExpiredToken` as the credential check's
//! verdict (see [`crate::fake::auth`]), `RateLimited` and `QuotaExhausted` once the
//! caller is known, `MalformedBody` to the handler's successful answer, which is cut
//! off halfway after the request took effect.
//!
//! Slow answers are no fault of the fake: its contract is synchronous, so the server
//! delays the whole answer (the sandbox's per-provider latency, wiremock's delay),
//! for every fake alike.
//!
//! [`Faults::from_table`] derives answers from the adapter's error table, for a
//! provider whose fake has no better knowledge: its first rate-limit and quota rules
//! give the status and code of the refusals, with the standard `Retry-After` and
//! `RateLimit-*` headers.

use junction_core::fake::{FakeResponse, Fault};

use crate::{
    errors::{Class, Code, ErrorTable},
    fake::reply::ErrorShape,
};

/// How a provider answers one fault.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// An error in the provider's [`ErrorShape`], with headers; `{secs}` in a header
    /// value is the fault's retry-after seconds.
    Error {
        status: u16,
        code: Option<&'static str>,
        message: &'static str,
        headers: &'static [(&'static str, &'static str)],
    },
    /// A plain-text answer (an edge proxy's refusal).
    Text { status: u16, body: &'static str },
    /// The provider's own function, given the retry-after seconds (0 when the fault
    /// has none).
    Custom(fn(u64) -> FakeResponse),
}

impl Answer {
    /// An error without headers.
    pub const fn error(status: u16, code: Option<&'static str>, message: &'static str) -> Self {
        Self::Error {
            status,
            code,
            message,
            headers: &[],
        }
    }

    /// The answer, rendered in `shape`.
    pub fn render(&self, shape: &ErrorShape, secs: u64) -> FakeResponse {
        match *self {
            Self::Error {
                status,
                code,
                message,
                headers,
            } => headers.iter().fold(
                shape.reply(status, code, message),
                |response, (name, value)| {
                    response.with_header(name, &value.replace("{secs}", &secs.to_string()))
                },
            ),
            Self::Text { status, body } => FakeResponse::text(status, body),
            Self::Custom(answer) => answer(secs),
        }
    }
}

/// A provider's answers to the faults.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    pub server_error: Answer,
    pub rate_limited: Answer,
    pub quota_exhausted: Answer,
}

/// The standard rate-limit headers of a derived answer.
const STANDARD_HEADERS: &[(&str, &str)] = &[
    ("retry-after", "{secs}"),
    ("ratelimit-remaining", "0"),
    ("ratelimit-reset", "{secs}"),
];

impl Faults {
    /// Answers derived from the adapter's error table: a 500, and 429s (or the rule's
    /// own status) with the code of the table's first rate-limit and quota rules.
    pub fn from_table(table: &ErrorTable) -> Self {
        let first = |wanted: fn(&Class) -> bool| {
            let rule = table.rules.iter().find(|rule| wanted(&rule.class));
            let code = rule.and_then(|rule| match rule.code {
                Code::Is(code) => Some(code),
                Code::OneOf(codes) => codes.first().copied(),
                Code::Any | Code::Range(..) => None,
            });
            Answer::Error {
                status: rule.and_then(|rule| rule.status).unwrap_or(429),
                code,
                message: "Too many requests",
                headers: STANDARD_HEADERS,
            }
        };
        Self {
            server_error: Answer::error(500, None, "Internal server error"),
            rate_limited: first(|class| matches!(class, Class::RateLimited)),
            quota_exhausted: first(|class| matches!(class, Class::QuotaExhausted(_))),
        }
    }

    /// The answer to `fault` before the credential is checked (an outage).
    pub fn before_auth(&self, fault: Option<Fault>, shape: &ErrorShape) -> Option<FakeResponse> {
        (fault == Some(Fault::ServerError)).then(|| self.server_error.render(shape, 0))
    }

    /// The answer to `fault` once the caller is known (limits are per caller).
    pub fn after_auth(&self, fault: Option<Fault>, shape: &ErrorShape) -> Option<FakeResponse> {
        match fault? {
            Fault::RateLimited { retry_after_secs } => {
                Some(self.rate_limited.render(shape, retry_after_secs))
            }
            Fault::QuotaExhausted => Some(self.quota_exhausted.render(shape, 0)),
            _ => None,
        }
    }

    /// The handler's `response` under `fault`: a successful one cut off halfway when
    /// the body is malformed.
    pub fn answered(fault: Option<Fault>, response: FakeResponse) -> FakeResponse {
        if fault == Some(Fault::MalformedBody) && (200..300).contains(&response.status) {
            crate::fake::reply::cut(response)
        } else {
            response
        }
    }
}
