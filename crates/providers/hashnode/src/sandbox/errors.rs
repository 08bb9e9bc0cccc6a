//! The fake's error answers, in hashnode's own shape: what the service and the
//! account's store both answer with.

use junction_core::fake::FakeResponse;
use junction_toolkit::fake::{Data, ErrorShape};
use serde_json::Value;

/// GraphQL's error body: the first error's code and message.
pub(crate) const ERRORS: ErrorShape =
    ErrorShape::new(Some("/errors/0/extensions/code"), "/errors/0/message").catalogue(&WORDS, "");

static WORDS: Data = Data::new(
    r#"{
 "server_error": [500, "INTERNAL_SERVER_ERROR", "Internal server error"],
 "rate_limited": {"status": 429, "message": "Too many requests, retry in {secs} seconds", "headers": {"retry-after": "{secs}"}},
 "quota_exhausted": {"status": 429, "message": "Too many requests", "headers": {"retry-after": "60"}},
 "not_found": [404, "NOT_FOUND", "Cannot {method} {path}"],
 "missing": {"status": 200, "code": "UNAUTHENTICATED", "message": "You must be authenticated to perform this action.", "set": {"/data": null}},
 "unknown": {"status": 200, "code": "UNAUTHENTICATED", "message": "Invalid access token.", "set": {"/data": null}},
 "expired": {"status": 200, "code": "UNAUTHENTICATED", "message": "Invalid access token.", "set": {"/data": null}},
 "insufficient": {"status": 200, "code": "FORBIDDEN", "message": "You are not allowed to do this.", "set": {"/data": null}}
}"#,
);

/// A GraphQL error answer: `{"errors": [...], "data": null}` at `status`.
pub(crate) fn error(status: u16, code: &str, message: &str) -> FakeResponse {
    let mut body = ERRORS.body(status, Some(code), message);
    body["data"] = Value::Null;
    ERRORS.respond(status, &body)
}
