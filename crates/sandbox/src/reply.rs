//! JSON error replies shared by the OAuth, control and fake endpoints, in the RFC 6749
//! shape `{"error": ..., "error_description": ...}`.

use actix_web::{HttpResponse, http::StatusCode};
use serde_json::json;

use crate::SandboxError;

/// A JSON error with `Cache-Control: no-store` (token responses must not be cached,
/// and nothing else here should be either).
pub(crate) fn json_error(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("cache-control", "no-store"))
        .insert_header(("pragma", "no-cache"))
        .json(json!({ "error": error, "error_description": description }))
}

/// The reply to a refused control operation or an unknown provider.
pub(crate) fn sandbox_error(err: &SandboxError) -> HttpResponse {
    let (status, code) = match err {
        SandboxError::UnknownProvider(_) => (StatusCode::NOT_FOUND, "unknown_provider"),
        SandboxError::NotOAuth2(_) => (StatusCode::NOT_FOUND, "not_oauth2"),
        SandboxError::NoFake(_) => (StatusCode::NOT_FOUND, "no_fake"),
        SandboxError::ZeroCount => (StatusCode::BAD_REQUEST, "invalid_request"),
    };
    json_error(status, code, &err.to_string())
}
