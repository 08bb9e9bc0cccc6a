//! Classifying failures of adapter calls made through
//! [`junction_app::Connections::call`] for the retry policy, shared by the action
//! and webhook handlers.

use chrono::{DateTime, Utc};
use junction_app::{CallError, ConnectError};
use junction_core::ErrorCode;
use junction_jobs::JobFailure;
use junction_oauth::RefreshError;

use crate::sync::connect_failure;

/// A failed call as a job failure: a revoked grant is abandoned (the integration is
/// already `needs_reauth` and its owner told; retrying cannot help and a dead letter
/// would be noise), opening failures as the sync classifies them, provider errors by
/// [`JobFailure::from_adapter`] (so `Retry-After` and quota resets are honoured).
pub fn call_failure(error: &CallError, now: DateTime<Utc>) -> JobFailure {
    match error {
        CallError::Connect(ConnectError::Refresh(RefreshError::Revoked)) => JobFailure::abandon(
            ErrorCode::IntegrationNeedsReauth,
            "the provider no longer accepts this connection's grant: reconnect the integration",
        ),
        CallError::Connect(error) => connect_failure(error),
        CallError::Adapter(error) => JobFailure::from_adapter(error, now),
    }
}
