//! [`ApiError`]: every failure of a request, answered as `application/problem+json`
//! (RFC 9457) with a stable `code` from junction-core's one list.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use junction_core::{AdapterError, ErrorCode, HasErrorCode, spec::FieldError};
use junction_store::StoreError;
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
    /// Field errors of a validation failure.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
}

/// One invalid field.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProblemField {
    pub field: String,
    pub message: String,
}

/// A request failure.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub detail: String,
    pub fields: Vec<FieldError>,
    /// Seconds a client should wait (429 and 503).
    pub retry_after: Option<u64>,
    /// The underlying cause, logged for 5xx, never sent.
    pub source: Option<anyhow::Error>,
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            fields: Vec::new(),
            retry_after: None,
            source: None,
        }
    }

    /// A 422 listing invalid fields.
    pub fn validation(fields: Vec<FieldError>) -> Self {
        let detail = fields
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        Self {
            fields,
            ..Self::new(ErrorCode::ValidationFailed, detail)
        }
    }

    /// A 422 about one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }

    /// An internal error whose cause is logged, not shown.
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        Self {
            source: Some(source.into()),
            ..Self::new(
                ErrorCode::Internal,
                "an internal error occurred; see the server log",
            )
        }
    }

    /// A 503 for a job queue that could not take a job; the cause is logged, and the
    /// client is told to retry shortly.
    pub fn queue_unavailable(cause: impl std::fmt::Display) -> Self {
        Self {
            retry_after: Some(5),
            source: Some(anyhow::anyhow!("{cause}")),
            ..Self::new(
                ErrorCode::QueueUnavailable,
                "the job queue is unavailable; retry shortly",
            )
        }
    }

    pub fn not_found(code: ErrorCode, what: &str) -> Self {
        Self::new(code, format!("{what} not found"))
    }

    /// The problem body.
    pub fn problem(&self) -> Problem {
        Problem {
            type_uri: format!("https://junction.dev/errors/{}", self.code.name()),
            title: self.code.title().to_owned(),
            status: self.code.http_status(),
            code: self.code.name().to_owned(),
            detail: self.detail.clone(),
            errors: self
                .fields
                .iter()
                .map(|f| ProblemField {
                    field: f.field.clone(),
                    message: f.message.clone(),
                })
                .collect(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            // The cause chain goes to the log (secrets never reach error values).
            match &self.source {
                Some(source) => tracing::error!(
                    code = self.code.name(),
                    error = format!("{source:#}"),
                    "request failed"
                ),
                None => {
                    tracing::error!(code = self.code.name(), detail = %self.detail, "request failed")
                }
            }
        }
        let mut response = HttpResponse::build(status);
        response.content_type("application/problem+json");
        if let Some(seconds) = self.retry_after {
            response.insert_header(("Retry-After", seconds.to_string()));
        }
        response.json(self.problem())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match &error {
            StoreError::NotFound(what) => {
                Self::new(ErrorCode::NotFound, format!("{what} not found"))
            }
            StoreError::Conflict(message) => Self::new(ErrorCode::Conflict, message.clone()),
            StoreError::Invalid(message) => Self::new(ErrorCode::ValidationFailed, message.clone()),
            StoreError::Unavailable(_) => Self {
                retry_after: Some(5),
                source: Some(error.into()),
                ..Self::new(
                    ErrorCode::DatabaseUnavailable,
                    "the database is unavailable; retry shortly",
                )
            },
            _ => Self {
                code: error.error_code(),
                ..Self::internal(error)
            },
        }
    }
}

impl From<AdapterError> for ApiError {
    fn from(error: AdapterError) -> Self {
        let retry_after = match &error {
            AdapterError::RateLimited { retry_after } => retry_after.map(|d| d.as_secs().max(1)),
            _ => None,
        };
        Self {
            retry_after,
            ..Self::new(error.error_code(), error.to_string())
        }
    }
}

impl From<junction_oauth::OAuthError> for ApiError {
    fn from(error: junction_oauth::OAuthError) -> Self {
        Self::new(error.error_code(), error.to_string())
    }
}

impl From<junction_app::ConnectError> for ApiError {
    fn from(error: junction_app::ConnectError) -> Self {
        match error {
            junction_app::ConnectError::Store(store) => store.into(),
            other => Self::new(other.error_code(), other.to_string()),
        }
    }
}

impl From<junction_app::CallError> for ApiError {
    fn from(error: junction_app::CallError) -> Self {
        match error {
            junction_app::CallError::Connect(e) => e.into(),
            junction_app::CallError::Adapter(e) => e.into(),
        }
    }
}

impl From<junction_app::WebhookSetupError> for ApiError {
    fn from(error: junction_app::WebhookSetupError) -> Self {
        match error {
            junction_app::WebhookSetupError::Connect(e) => e.into(),
            junction_app::WebhookSetupError::NotConfigured(message) => {
                Self::new(ErrorCode::WebhookNotConfigured, message)
            }
        }
    }
}

impl From<junction_oauth::RefreshError> for ApiError {
    fn from(error: junction_oauth::RefreshError) -> Self {
        Self::new(error.error_code(), error.to_string())
    }
}

/// The problem+json answer for malformed JSON bodies and oversized payloads (actix's
/// extractors would otherwise answer in plain text).
pub fn json_error_handler(
    err: actix_web::error::JsonPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError;
    let api = match &err {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large")
        }
        JsonPayloadError::ContentType => ApiError::new(
            ErrorCode::InvalidRequest,
            "the request body must be application/json",
        ),
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            ApiError::new(ErrorCode::ValidationFailed, e.to_string())
        }
        JsonPayloadError::Deserialize(e) => ApiError::new(ErrorCode::InvalidJson, e.to_string()),
        other => ApiError::new(ErrorCode::InvalidRequest, other.to_string()),
    };
    actix_web::error::InternalError::from_response(err, api.error_response()).into()
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

/// A JSON body that may be left out: an empty body is `T::default()`, anything else
/// must be valid JSON for `T` (unlike `Option<Json<T>>`, which would silently treat a
/// malformed body as absent).
#[derive(Debug)]
pub struct JsonOrEmpty<T>(pub T);

impl<T: serde::de::DeserializeOwned + Default + 'static> actix_web::FromRequest for JsonOrEmpty<T> {
    type Error = actix_web::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        let bytes = actix_web::web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes = bytes.await.map_err(|_| {
                actix_web::Error::from(ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    "the request body is too large",
                ))
            })?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(Self(T::default()));
            }
            serde_json::from_slice(&bytes).map(Self).map_err(|e| {
                let code = if e.is_data() {
                    ErrorCode::ValidationFailed
                } else {
                    ErrorCode::InvalidJson
                };
                actix_web::Error::from(ApiError::new(code, e.to_string()))
            })
        })
    }
}
