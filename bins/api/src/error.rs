//! [`ApiError`]: every failure of a request — a use case's [`Error`] — answered as
//! `application/problem+json` (RFC 9457) with a stable `code` from junction-core's
//! one list.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use junction_app::Error;
use junction_core::{ErrorCode, storable};
use serde::Serialize;
use utoipa::ToSchema;

/// A problem details body.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// `https://junction.dev/errors/{code}`-style type URI (stable per code).
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    /// The stable error code clients match on.
    pub code: String,
    /// What went wrong in this case.
    pub detail: String,
    /// Field errors of a validation failure, or the credential fields the provider
    /// refused (`invalid_credentials`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
}

/// One invalid field.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProblemField {
    pub field: String,
    pub message: String,
}

/// A request failure: a use case's [`Error`] answered as problem+json.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self(Error::new(code, detail))
    }

    /// A 422 about one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self(Error::field(field, message))
    }

    /// An internal error whose cause is logged, not shown.
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        Self(Error::internal(source))
    }

    /// The problem body. Its text never carries a NUL: a parser's message may quote
    /// the input, and the idempotency middleware stores answers in Postgres.
    pub fn problem(&self) -> Problem {
        let error = &self.0;
        let text = |text: &str| storable::sanitize_text(text).into_owned();
        Problem {
            type_uri: format!("https://junction.dev/errors/{}", error.code.name()),
            title: error.code.title().to_owned(),
            status: error.code.http_status(),
            code: error.code.name().to_owned(),
            detail: text(&error.detail),
            errors: error
                .fields
                .iter()
                .map(|f| ProblemField {
                    field: text(&f.field),
                    message: text(&f.message),
                })
                .collect(),
        }
    }
}

impl<E> From<E> for ApiError
where
    Error: From<E>,
{
    fn from(error: E) -> Self {
        Self(Error::from(error))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            log_server_error(&self.0);
        }
        let mut response = HttpResponse::build(status);
        response.content_type("application/problem+json");
        if let Some(seconds) = self.0.retry_after {
            response.insert_header(("Retry-After", seconds.to_string()));
        }
        response.json(self.problem())
    }
}

/// Logs a failed request's error with its cause chain (secrets never reach error
/// values); the answer shows only the detail. The API and the dashboard both use it
/// for their 5xx answers.
pub fn log_server_error(error: &Error) {
    match &error.source {
        Some(source) => tracing::error!(
            code = error.code.name(),
            error = format!("{source:#}"),
            "request failed"
        ),
        None => {
            tracing::error!(code = error.code.name(), detail = %error.detail, "request failed")
        }
    }
}

/// The problem+json answer for bad query strings.
pub fn query_error_handler(
    err: actix_web::error::QueryPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    let api = ApiError::new(ErrorCode::InvalidRequest, format!("invalid query: {err}"));
    actix_web::error::InternalError::from_response(err, api.error_response()).into()
}

/// The problem+json answer for bad path segments (a malformed id).
pub fn path_error_handler(
    err: actix_web::error::PathError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    let api = ApiError::new(ErrorCode::NotFound, "no such resource (malformed id)");
    actix_web::error::InternalError::from_response(err, api.error_response()).into()
}

pub type ApiResult<T> = Result<T, ApiError>;

// Where routes found it before the extractors had their own module (see the root).
pub use crate::JsonOrEmpty;
