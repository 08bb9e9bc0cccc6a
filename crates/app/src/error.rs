//! [`Error`]: how a use case fails, with the stable code from junction-core's one
//! list that every crate maps into. The API answers it as problem+json, the CLI as
//! one line, the dashboard as a message; its `detail` never holds a secret.

use junction_core::{AdapterError, ErrorCode, HasErrorCode, spec::FieldError};
use junction_jobs::JobsError;
use junction_store::StoreError;

use crate::connections::{CallError, ConnectError};

/// A use case's failure.
#[derive(Debug)]
pub struct Error {
    pub code: ErrorCode,
    /// What went wrong in this case, for the person who sent the request.
    pub detail: String,
    /// Field errors of a validation failure, or the credential fields a provider
    /// refused (`invalid_credentials`).
    pub fields: Vec<FieldError>,
    /// Seconds a client should wait before trying again (rate limits, outages).
    pub retry_after: Option<u64>,
    /// The underlying cause: logged for internal errors, never shown.
    pub source: Option<anyhow::Error>,
}

/// A use case's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            fields: Vec::new(),
            retry_after: None,
            source: None,
        }
    }

    /// A validation failure listing every invalid field.
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

    /// A validation failure about one field.
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

    /// The job queue could not be reached; the client should retry shortly.
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

    /// `{what} not found` with a specific code.
    pub fn not_found(code: ErrorCode, what: &str) -> Self {
        Self::new(code, format!("{what} not found"))
    }

    /// The same error with another detail (the code, fields and cause stay).
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.detail)
    }
}

impl std::error::Error for Error {}

impl HasErrorCode for Error {
    fn error_code(&self) -> ErrorCode {
        self.code
    }
}

impl From<StoreError> for Error {
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

impl From<AdapterError> for Error {
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

impl From<junction_oauth::OAuthError> for Error {
    fn from(error: junction_oauth::OAuthError) -> Self {
        Self::new(error.error_code(), error.to_string())
    }
}

impl From<junction_oauth::RefreshError> for Error {
    fn from(error: junction_oauth::RefreshError) -> Self {
        Self::new(error.error_code(), error.to_string())
    }
}

impl From<ConnectError> for Error {
    fn from(error: ConnectError) -> Self {
        match error {
            ConnectError::Store(store) => store.into(),
            other => Self::new(other.error_code(), other.to_string()),
        }
    }
}

impl From<CallError> for Error {
    fn from(error: CallError) -> Self {
        match error {
            CallError::Connect(e) => e.into(),
            CallError::Adapter(e) => e.into(),
        }
    }
}

impl From<JobsError> for Error {
    fn from(error: JobsError) -> Self {
        match error {
            JobsError::NotFound(what) => {
                Self::new(ErrorCode::NotFound, format!("{what} not found"))
            }
            JobsError::AlreadyReplayed => {
                Self::new(ErrorCode::Conflict, "this dead letter was already replayed")
            }
            JobsError::Store(store) => store.into(),
            JobsError::Payload(_) => Self::internal(error),
            JobsError::Redis(_) => Self::queue_unavailable(error),
        }
    }
}

/// Maps a failed health check at connect time (or when a setup step completes an
/// integration's settings): credentials or settings the provider refuses are the
/// client's to fix; an unreachable provider is not.
pub(crate) fn check_error(error: AdapterError) -> Error {
    match error {
        AdapterError::Unauthorized { message, .. } => Error::new(
            ErrorCode::InvalidCredentials,
            format!("the provider rejected the credentials: {message}"),
        ),
        AdapterError::Invalid {
            field: Some(field),
            message,
        } => Error::field(&field, message),
        AdapterError::Invalid {
            field: None,
            message,
        } => Error::new(ErrorCode::InvalidConfig, message),
        AdapterError::Provider {
            status, message, ..
        } if (400..500).contains(&status) => Error::new(
            ErrorCode::InvalidConfig,
            format!("the provider refused the connection (HTTP {status}): {message}"),
        ),
        other => Error::from(other),
    }
}
