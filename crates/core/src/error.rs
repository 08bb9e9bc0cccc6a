//! [`AdapterError`]: how every provider failure is classified.
//!
//! The worker's retry policy reads nothing but this classification, so an adapter
//! must pick the variant that tells the truth about what a retry would do. Messages
//! are written for humans and must never contain a credential: adapters build them
//! from status codes and provider error texts, never from request headers or URLs
//! carrying secrets.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::codes::{ErrorCode, HasErrorCode};

/// A classified failure of a provider call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AdapterError {
    /// The provider asked us to slow down. `retry_after` is its hint, when it gave one.
    #[error("rate limited by the provider{}", fmt_retry_after(.retry_after))]
    RateLimited { retry_after: Option<Duration> },

    /// The provider (or the network to it) failed in a way a retry may fix:
    /// 5xx, timeouts, connection resets, malformed bodies from a flaky proxy.
    #[error("provider unavailable: {message}")]
    Unavailable { message: String },

    /// The credentials were rejected. `refreshable` says whether refreshing the
    /// access token could help (an expired OAuth token) or not (a revoked key).
    #[error("provider rejected the credentials: {message}")]
    Unauthorized { refreshable: bool, message: String },

    /// Bad configuration or input: permanent, a retry would fail the same way.
    /// `field` names the offending config field or input path when known.
    #[error("invalid{}: {message}", fmt_field(.field))]
    Invalid {
        field: Option<String>,
        message: String,
    },

    /// A quota (daily, hourly) is used up; it resets at `resets_at` when known.
    #[error("provider quota exhausted{}", fmt_resets_at(.resets_at))]
    QuotaExhausted { resets_at: Option<DateTime<Utc>> },

    /// Any other refusal by the provider, with what it said.
    #[error("provider error (HTTP {status}{}): {message}", fmt_code(.code))]
    Provider {
        status: u16,
        code: Option<String>,
        message: String,
    },
}

fn fmt_retry_after(retry_after: &Option<Duration>) -> String {
    retry_after
        .map(|d| format!(", retry after {}s", d.as_secs()))
        .unwrap_or_default()
}

fn fmt_field(field: &Option<String>) -> String {
    field
        .as_ref()
        .map(|f| format!(" `{f}`"))
        .unwrap_or_default()
}

fn fmt_resets_at(resets_at: &Option<DateTime<Utc>>) -> String {
    resets_at
        .map(|t| format!(" until {}", t.to_rfc3339()))
        .unwrap_or_default()
}

fn fmt_code(code: &Option<String>) -> String {
    code.as_ref().map(|c| format!(", {c}")).unwrap_or_default()
}

impl AdapterError {
    /// An [`AdapterError::Invalid`] without a field.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid {
            field: None,
            message: message.into(),
        }
    }

    /// An [`AdapterError::Invalid`] naming the offending field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// The [`AdapterError::Invalid`] of an action the provider (named `provider`)
    /// does not have: one wording, whoever finds out.
    pub fn unknown_action(provider: &str, action: &str) -> Self {
        Self::invalid_field("action", format!("{provider} has no action `{action}`"))
    }

    /// An [`AdapterError::Unavailable`].
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable {
            message: message.into(),
        }
    }

    /// Whether running the same call again later can succeed.
    ///
    /// `Unauthorized { refreshable: true }` counts as retryable: the retry policy
    /// refreshes the token once and tries again. A provider error is retryable only
    /// when the provider said so with a 5xx, 408 or 409 status.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Unavailable { .. } | Self::QuotaExhausted { .. } => {
                true
            }
            Self::Unauthorized { refreshable, .. } => *refreshable,
            Self::Invalid { .. } => false,
            Self::Provider { status, .. } => *status >= 500 || *status == 408 || *status == 409,
        }
    }

    /// The earliest moment a retry makes sense, if the provider told us.
    pub fn retry_not_before(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::RateLimited {
                retry_after: Some(wait),
            } => chrono::Duration::from_std(*wait).ok().map(|d| now + d),
            Self::QuotaExhausted {
                resets_at: Some(at),
            } => Some(*at),
            _ => None,
        }
    }
}

impl HasErrorCode for AdapterError {
    fn error_code(&self) -> ErrorCode {
        match self {
            Self::RateLimited { .. } => ErrorCode::ProviderRateLimited,
            Self::Unavailable { .. } => ErrorCode::ProviderUnavailable,
            Self::Unauthorized { .. } => ErrorCode::ProviderUnauthorized,
            Self::Invalid { .. } => ErrorCode::ProviderRejected,
            Self::QuotaExhausted { .. } => ErrorCode::ProviderQuotaExhausted,
            Self::Provider { .. } => ErrorCode::ProviderError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryability_follows_the_classification() {
        assert!(AdapterError::RateLimited { retry_after: None }.is_retryable());
        assert!(AdapterError::unavailable("reset").is_retryable());
        assert!(AdapterError::QuotaExhausted { resets_at: None }.is_retryable());
        assert!(
            AdapterError::Unauthorized {
                refreshable: true,
                message: "expired".into()
            }
            .is_retryable()
        );
        assert!(
            !AdapterError::Unauthorized {
                refreshable: false,
                message: "revoked".into()
            }
            .is_retryable()
        );
        assert!(!AdapterError::invalid("bad property id").is_retryable());
        let provider = |status| AdapterError::Provider {
            status,
            code: None,
            message: String::new(),
        };
        assert!(provider(503).is_retryable());
        assert!(!provider(400).is_retryable());
        assert!(!provider(404).is_retryable());
    }

    #[test]
    fn retry_not_before_uses_the_providers_hint() {
        let now = Utc::now();
        let err = AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(30)),
        };
        assert_eq!(
            err.retry_not_before(now),
            Some(now + chrono::Duration::seconds(30))
        );
        let reset = now + chrono::Duration::hours(2);
        let err = AdapterError::QuotaExhausted {
            resets_at: Some(reset),
        };
        assert_eq!(err.retry_not_before(now), Some(reset));
        assert_eq!(AdapterError::unavailable("x").retry_not_before(now), None);
    }

    #[test]
    fn messages_are_one_line_and_name_the_field() {
        let err = AdapterError::invalid_field("property_id", "must be digits");
        assert_eq!(err.to_string(), "invalid `property_id`: must be digits");
        let err = AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(7)),
        };
        assert_eq!(
            err.to_string(),
            "rate limited by the provider, retry after 7s"
        );
    }
}
