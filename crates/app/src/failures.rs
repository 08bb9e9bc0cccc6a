//! How the failures of the use cases that run as jobs are classified for the retry
//! policy in junction-jobs: retryable (with a time not to retry before), permanent
//! (dead-lettered) or abandoned (reported elsewhere, nothing to retry).

use chrono::{DateTime, Utc};
use junction_core::{ErrorCode, HasErrorCode};
use junction_jobs::JobFailure;
use junction_oauth::RefreshError;
use junction_store::StoreError;

use crate::connections::{CallError, ConnectError};

/// What a call fails with when the integration's grant is gone for good.
pub const REAUTH_MESSAGE: &str =
    "the provider no longer accepts this connection's grant: reconnect the integration";

/// A store failure: a vanished row ends the job quietly, an outage or a conflict is
/// worth a retry, a refused write or a vault error is not.
pub fn store_failure(error: &StoreError) -> JobFailure {
    let code = error.error_code();
    let message = error.to_string();
    match error {
        StoreError::NotFound(_) => JobFailure::abandon(code, message),
        StoreError::Unavailable(_) | StoreError::Database(_) | StoreError::Conflict(_) => {
            JobFailure::retryable(code, message)
        }
        StoreError::Invalid(_) | StoreError::Vault(_) | StoreError::Migration(_) => {
            JobFailure::permanent(code, message)
        }
    }
}

/// An opening failure other than a revoked grant.
pub fn connect_failure(error: &ConnectError) -> JobFailure {
    let code = error.error_code();
    let message = error.to_string();
    match error {
        ConnectError::Refresh(refresh) if refresh.is_retryable() => {
            JobFailure::retryable(code, message)
        }
        ConnectError::Store(store) => store_failure(store),
        ConnectError::Refresh(_)
        | ConnectError::UnknownProvider(_)
        | ConnectError::NotConfigured(_) => JobFailure::permanent(code, message),
    }
}

/// A failed provider call: a revoked grant is abandoned (the integration is already
/// `needs_reauth` and its owner told; retrying cannot help and a dead letter would
/// be noise), opening failures as [`connect_failure`], provider errors by
/// [`JobFailure::from_adapter`] (so `Retry-After` and quota resets are honoured).
pub fn call_failure(error: &CallError, now: DateTime<Utc>) -> JobFailure {
    match error {
        CallError::Connect(ConnectError::Refresh(RefreshError::Revoked)) => {
            JobFailure::abandon(ErrorCode::IntegrationNeedsReauth, REAUTH_MESSAGE)
        }
        CallError::Connect(error) => connect_failure(error),
        CallError::Adapter(error) => JobFailure::from_adapter(error, now),
    }
}

#[cfg(test)]
mod tests {
    use junction_jobs::FailureKind;

    use super::*;

    #[test]
    fn store_failures_are_classified_for_the_retry_policy() {
        let kind = |error: StoreError| store_failure(&error).kind;
        assert_eq!(
            kind(StoreError::NotFound("integration")),
            FailureKind::Abandon
        );
        assert_eq!(
            kind(StoreError::Unavailable("down".into())),
            FailureKind::Retryable { not_before: None }
        );
        assert_eq!(
            kind(StoreError::Conflict("busy".into())),
            FailureKind::Retryable { not_before: None }
        );
        assert_eq!(
            kind(StoreError::Invalid("check".into())),
            FailureKind::Permanent
        );
    }

    #[test]
    fn open_failures_other_than_a_revoked_grant_are_classified() {
        let unknown = connect_failure(&ConnectError::UnknownProvider("nope".into()));
        assert_eq!(unknown.kind, FailureKind::Permanent);
        assert_eq!(unknown.code, ErrorCode::UnknownProvider);
        let unconfigured = connect_failure(&ConnectError::NotConfigured("no app".into()));
        assert_eq!(unconfigured.kind, FailureKind::Permanent);
        assert_eq!(unconfigured.code, ErrorCode::ConfigurationError);
        let no_tokens = connect_failure(&ConnectError::Refresh(RefreshError::NoRefreshToken));
        assert_eq!(no_tokens.kind, FailureKind::Permanent);
        let database =
            connect_failure(&ConnectError::Store(StoreError::Unavailable("down".into())));
        assert_eq!(database.kind, FailureKind::Retryable { not_before: None });
    }

    #[test]
    fn a_revoked_grant_abandons_the_job() {
        let revoked = call_failure(
            &CallError::Connect(ConnectError::Refresh(RefreshError::Revoked)),
            Utc::now(),
        );
        assert_eq!(revoked.kind, FailureKind::Abandon);
        assert_eq!(revoked.code, ErrorCode::IntegrationNeedsReauth);
    }
}
