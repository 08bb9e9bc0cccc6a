//! [`JobsError`]: what the job system's own operations (enqueueing, stats, dead-letter
//! replay) can fail with, mapped into the stable error codes.
//!
//! A job *handler's* failure is not a `JobsError`: that is a
//! [`JobFailure`](crate::JobFailure), which the retry policy reads.

use junction_core::{ErrorCode, HasErrorCode};
use junction_store::StoreError;

/// A failure of the job system itself. Messages carry no payload contents and no
/// connection strings.
#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    /// Redis could not be reached or refused a command.
    #[error("the job queue is unavailable: {0}")]
    Redis(String),
    /// Postgres (dead letters) failed.
    #[error(transparent)]
    Store(StoreError),
    /// A payload could not be encoded or decoded (unknown version or kind, bad JSON).
    #[error("invalid job payload: {0}")]
    Payload(String),
    /// The named thing does not exist (in this workspace).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The dead letter was replayed already; only the first replay wins.
    #[error("the dead letter was already replayed")]
    AlreadyReplayed,
}

impl From<StoreError> for JobsError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(what) => JobsError::NotFound(what),
            other => JobsError::Store(other),
        }
    }
}

impl From<redis::RedisError> for JobsError {
    fn from(error: redis::RedisError) -> Self {
        // RedisError's Display names the failing command and the server's reply, never
        // the connection URL (which may hold a password).
        JobsError::Redis(error.to_string())
    }
}

impl HasErrorCode for JobsError {
    fn error_code(&self) -> ErrorCode {
        match self {
            JobsError::Redis(_) => ErrorCode::QueueUnavailable,
            JobsError::Store(error) => error.error_code(),
            // A payload we wrote ourselves and cannot read back is version skew or a bug.
            JobsError::Payload(_) => ErrorCode::Internal,
            JobsError::NotFound(_) => ErrorCode::NotFound,
            JobsError::AlreadyReplayed => ErrorCode::Conflict,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_variant() {
        assert_eq!(
            JobsError::Redis("down".into()).error_code(),
            ErrorCode::QueueUnavailable
        );
        assert_eq!(
            JobsError::from(StoreError::NotFound("dead letter")).error_code(),
            ErrorCode::NotFound
        );
        assert!(matches!(
            JobsError::from(StoreError::NotFound("dead letter")),
            JobsError::NotFound("dead letter")
        ));
        assert_eq!(JobsError::AlreadyReplayed.error_code(), ErrorCode::Conflict);
        assert_eq!(
            JobsError::Store(StoreError::Unavailable("x".into())).error_code(),
            ErrorCode::DatabaseUnavailable
        );
    }
}
