//! [`StoreError`] and its mapping into the stable error codes.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use junction_core::{ErrorCode, HasErrorCode};

use crate::vault::VaultError;

/// A failure of the store. Messages never contain row data or secrets: Postgres puts
/// offending values in the error's detail, which is not part of these messages.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist in the current workspace.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness or state conflict.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Input the schema refuses (a check constraint, a foreign key to nothing).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The database cannot be reached.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(DieselError),
    /// Sealing or opening a credential failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// Applying or reverting migrations failed.
    #[error("migration failed: {0}")]
    Migration(String),
}

impl From<DieselError> for StoreError {
    fn from(error: DieselError) -> Self {
        match &error {
            DieselError::NotFound => StoreError::NotFound("row"),
            DieselError::DatabaseError(kind, info) => {
                let constraint = info.constraint_name().unwrap_or("a constraint");
                match kind {
                    DatabaseErrorKind::UniqueViolation => {
                        StoreError::Conflict(format!("duplicate value for {constraint}"))
                    }
                    DatabaseErrorKind::ForeignKeyViolation => {
                        StoreError::Invalid(format!("reference to a missing row ({constraint})"))
                    }
                    DatabaseErrorKind::CheckViolation => {
                        StoreError::Invalid(format!("value rejected by {constraint}"))
                    }
                    DatabaseErrorKind::NotNullViolation => StoreError::Invalid(format!(
                        "missing value for {}",
                        info.column_name().unwrap_or("a required column")
                    )),
                    DatabaseErrorKind::ClosedConnection => {
                        StoreError::Unavailable("the connection was closed".into())
                    }
                    // What the driver reports without an SQLSTATE: the connection
                    // failed under the statement (its socket closed, an I/O error),
                    // Postgres never answered it. A connection is not checked with a
                    // query before every use (see `Store::connect`), so this is how
                    // a request meets a Postgres that just went away: an outage.
                    DatabaseErrorKind::UnableToSendCommand => StoreError::Unavailable(format!(
                        "the connection failed: {}",
                        info.message()
                    )),
                    // SQLSTATE 57014, which diesel does not classify: the statement
                    // outlived `statement_timeout` (a lock held elsewhere, an
                    // overloaded server). Worth a retry, like an outage.
                    _ if info
                        .message()
                        .starts_with("canceling statement due to statement timeout") =>
                    {
                        StoreError::Unavailable("the statement timed out".into())
                    }
                    _ => StoreError::Database(error),
                }
            }
            _ => StoreError::Database(error),
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for StoreError {
    fn from(error: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        StoreError::Unavailable(error.to_string())
    }
}

impl From<diesel::ConnectionError> for StoreError {
    fn from(error: diesel::ConnectionError) -> Self {
        StoreError::Unavailable(error.to_string())
    }
}

impl HasErrorCode for StoreError {
    fn error_code(&self) -> ErrorCode {
        match self {
            StoreError::NotFound(_) => ErrorCode::NotFound,
            StoreError::Conflict(_) => ErrorCode::Conflict,
            StoreError::Invalid(_) => ErrorCode::ValidationFailed,
            StoreError::Unavailable(_) => ErrorCode::DatabaseUnavailable,
            StoreError::Database(_) | StoreError::Migration(_) => ErrorCode::Internal,
            StoreError::Vault(_) => ErrorCode::VaultError,
        }
    }
}
