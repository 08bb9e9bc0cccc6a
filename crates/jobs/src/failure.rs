//! [`JobFailure`]: what a job handler reports when an attempt fails, and how an
//! [`AdapterError`] classification turns into one.

use std::fmt;

use chrono::{DateTime, Utc};
use junction_core::{AdapterError, ErrorCode, HasErrorCode};

/// What the retry policy may do about a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// Transient: try again later, not before `not_before` when the provider said
    /// when (`Retry-After`, a quota reset).
    Retryable { not_before: Option<DateTime<Utc>> },
    /// A retry would fail the same way: dead-letter now.
    Permanent,
    /// Stop without a retry and without a dead letter: the cause is already surfaced
    /// elsewhere (e.g. the integration was moved to `needs_reauth` and the user told).
    Abandon,
    /// Not a failure: the job cannot run yet (another sync of the same integration
    /// runs) and tries again at `until`, without using up an attempt.
    Deferred { until: DateTime<Utc> },
}

/// A failed attempt as a handler reports it. The message is shown to operators and
/// stored in dead letters: it must never contain a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure {
    pub code: ErrorCode,
    pub message: String,
    pub kind: FailureKind,
}

impl fmt::Display for JobFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

impl std::error::Error for JobFailure {}

impl JobFailure {
    /// A transient failure with no hint of when to come back.
    pub fn retryable(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            kind: FailureKind::Retryable { not_before: None },
        }
    }

    /// A transient failure that must not be retried before `not_before`.
    pub fn retryable_after(
        code: ErrorCode,
        message: impl Into<String>,
        not_before: DateTime<Utc>,
    ) -> Self {
        Self {
            code,
            message: message.into(),
            kind: FailureKind::Retryable {
                not_before: Some(not_before),
            },
        }
    }

    /// A failure no retry can fix: the job is dead-lettered.
    pub fn permanent(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            kind: FailureKind::Permanent,
        }
    }

    /// The job must wait until `until` before it can run; no attempt is used up.
    pub fn deferred(code: ErrorCode, message: impl Into<String>, until: DateTime<Utc>) -> Self {
        Self {
            code,
            message: message.into(),
            kind: FailureKind::Deferred { until },
        }
    }

    /// Stop the job quietly: its cause is reported elsewhere.
    pub fn abandon(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            kind: FailureKind::Abandon,
        }
    }

    /// Classifies a provider failure:
    ///
    /// - `RateLimited { retry_after }`: retryable, not before `now + retry_after`;
    /// - `QuotaExhausted { resets_at }`: retryable, not before `resets_at`;
    /// - `Unavailable`: retryable;
    /// - `Provider` with 5xx, 408 or 409: retryable, any other status: permanent;
    /// - `Invalid`: permanent;
    /// - `Unauthorized`: permanent. A handler refreshes a refreshable token once and
    ///   tries again *before* reporting, so an `Unauthorized` that reaches here means
    ///   the refresh did not help (or was impossible).
    pub fn from_adapter(error: &AdapterError, now: DateTime<Utc>) -> Self {
        let code = error.error_code();
        let message = error.to_string();
        let kind = match error {
            AdapterError::RateLimited { .. }
            | AdapterError::QuotaExhausted { .. }
            | AdapterError::Unavailable { .. } => FailureKind::Retryable {
                not_before: error.retry_not_before(now),
            },
            AdapterError::Provider { status, .. }
                if *status >= 500 || *status == 408 || *status == 409 =>
            {
                FailureKind::Retryable { not_before: None }
            }
            AdapterError::Provider { .. }
            | AdapterError::Invalid { .. }
            | AdapterError::Unauthorized { .. } => FailureKind::Permanent,
        };
        Self {
            code,
            message,
            kind,
        }
    }

    /// The earliest moment a retry may run, when the failure said.
    pub fn not_before(&self) -> Option<DateTime<Utc>> {
        match self.kind {
            FailureKind::Retryable { not_before } => not_before,
            FailureKind::Deferred { until } => Some(until),
            FailureKind::Permanent | FailureKind::Abandon => None,
        }
    }
}

impl From<&AdapterError> for JobFailure {
    /// [`JobFailure::from_adapter`] at the current time.
    fn from(error: &AdapterError) -> Self {
        JobFailure::from_adapter(error, Utc::now())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn adapter_errors_map_to_kinds() {
        let now = Utc::now();
        let rate_limited = JobFailure::from_adapter(
            &AdapterError::RateLimited {
                retry_after: Some(Duration::from_secs(2)),
            },
            now,
        );
        assert_eq!(rate_limited.code, ErrorCode::ProviderRateLimited);
        assert_eq!(
            rate_limited.kind,
            FailureKind::Retryable {
                not_before: Some(now + chrono::Duration::seconds(2))
            }
        );

        let resets_at = now + chrono::Duration::hours(3);
        let quota = JobFailure::from_adapter(
            &AdapterError::QuotaExhausted {
                resets_at: Some(resets_at),
            },
            now,
        );
        assert_eq!(quota.not_before(), Some(resets_at));

        let unavailable = JobFailure::from_adapter(&AdapterError::unavailable("reset"), now);
        assert_eq!(
            unavailable.kind,
            FailureKind::Retryable { not_before: None }
        );

        let provider = |status| {
            JobFailure::from_adapter(
                &AdapterError::Provider {
                    status,
                    code: None,
                    message: "no".into(),
                },
                now,
            )
            .kind
        };
        for status in [500, 502, 503, 408, 409] {
            assert!(matches!(provider(status), FailureKind::Retryable { .. }));
        }
        for status in [400, 403, 404, 422] {
            assert_eq!(provider(status), FailureKind::Permanent);
        }

        let invalid = JobFailure::from_adapter(&AdapterError::invalid("bad id"), now);
        assert_eq!(invalid.kind, FailureKind::Permanent);
        assert_eq!(invalid.code, ErrorCode::ProviderRejected);

        let unauthorized = JobFailure::from_adapter(
            &AdapterError::Unauthorized {
                refreshable: true,
                message: "expired".into(),
            },
            now,
        );
        assert_eq!(unauthorized.kind, FailureKind::Permanent);
        assert_eq!(unauthorized.code, ErrorCode::ProviderUnauthorized);
    }

    #[test]
    fn display_is_code_and_message() {
        let failure = JobFailure::retryable(ErrorCode::ProviderUnavailable, "HTTP 503");
        assert_eq!(failure.to_string(), "provider_unavailable: HTTP 503");
    }
}
