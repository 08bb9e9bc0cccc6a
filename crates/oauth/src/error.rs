//! [`OAuthError`]: how every failure of an OAuth 2.0 endpoint call is classified.
//!
//! The API turns these into problem+json answers through [`HasErrorCode`] and the
//! worker's retry policy reads [`OAuthError::is_retryable`] (or the
//! [`AdapterError`] from [`OAuthError::into_adapter_error`]). Messages never contain
//! a token, a client secret, an authorization code or a PKCE verifier: they are built
//! from status codes and the provider's OAuth `error` / `error_description` fields,
//! never from request bodies or whole response bodies.

use junction_core::{AdapterError, ErrorCode, HasErrorCode};

/// A failed call to an authorization server's token or revocation endpoint, or a
/// configuration that cannot make one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// The authorization code or refresh token was rejected (`invalid_grant`): the
    /// user revoked access, the code expired or was used twice. Not retryable: the
    /// integration has to be reconnected.
    #[error("the provider rejected the grant{}", fmt_description(.description))]
    InvalidGrant { description: Option<String> },

    /// Any other OAuth error response (`invalid_client`, `unauthorized_client`,
    /// `invalid_scope`, ...), with the HTTP status it came with (200 for providers
    /// that report errors in a successful response).
    #[error("the provider refused the token request (HTTP {status}, {error}){}", fmt_description(.description))]
    Provider {
        status: u16,
        error: String,
        description: Option<String>,
    },

    /// The endpoint could not be reached, timed out, or answered 5xx / 429 / 408 or
    /// `temporarily_unavailable`: a later retry may work.
    #[error("the provider's OAuth endpoint is unavailable: {0}")]
    Unavailable(String),

    /// A token response we cannot understand (not JSON, no `access_token`, an
    /// `expires_in` that is not a number). The message says what was wrong, never
    /// what the body contained.
    #[error("malformed token response: {0}")]
    Malformed(String),

    /// Junction's side is misconfigured (an endpoint URL that does not parse, an
    /// empty client id, a missing PKCE verifier).
    #[error("OAuth configuration error: {0}")]
    Config(String),
}

fn fmt_description(description: &Option<String>) -> String {
    description
        .as_ref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default()
}

impl OAuthError {
    /// Whether the same call may succeed later without anyone changing anything.
    ///
    /// Unavailable endpoints are retryable; so are malformed token responses, which
    /// are most often a flaky proxy's error page (the same judgement as
    /// `junction_core::http::json`). A rejected grant, any other OAuth refusal and a
    /// configuration error fail the same way every time.
    pub fn is_retryable(&self) -> bool {
        match self {
            OAuthError::Unavailable(_) | OAuthError::Malformed(_) => true,
            OAuthError::InvalidGrant { .. } | OAuthError::Provider { .. } => false,
            OAuthError::Config(_) => false,
        }
    }

    /// The same failure as the adapter contract classifies it, for code paths (the
    /// worker's retry policy) that only speak [`AdapterError`]. The mapping keeps
    /// [`Self::is_retryable`] and [`AdapterError::is_retryable`] in agreement.
    pub fn into_adapter_error(self) -> AdapterError {
        let message = self.to_string();
        match self {
            OAuthError::InvalidGrant { .. } => AdapterError::Unauthorized {
                refreshable: false,
                message,
            },
            OAuthError::Provider {
                status,
                error,
                description,
            } => AdapterError::Provider {
                status,
                message: description.unwrap_or_else(|| error.clone()),
                code: Some(error),
            },
            OAuthError::Unavailable(_) | OAuthError::Malformed(_) => {
                AdapterError::Unavailable { message }
            }
            OAuthError::Config(_) => AdapterError::invalid(message),
        }
    }
}

impl HasErrorCode for OAuthError {
    fn error_code(&self) -> ErrorCode {
        match self {
            OAuthError::InvalidGrant { .. } => ErrorCode::IntegrationNeedsReauth,
            OAuthError::Provider { .. } => ErrorCode::ProviderRejected,
            OAuthError::Unavailable(_) => ErrorCode::ProviderUnavailable,
            OAuthError::Malformed(_) => ErrorCode::ProviderError,
            OAuthError::Config(_) => ErrorCode::ConfigurationError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_retryability_agree_with_the_adapter_mapping() {
        let cases = [
            OAuthError::InvalidGrant {
                description: Some("Token has been expired or revoked.".into()),
            },
            OAuthError::Provider {
                status: 401,
                error: "invalid_client".into(),
                description: None,
            },
            OAuthError::Unavailable("HTTP 503".into()),
            OAuthError::Malformed("no access_token".into()),
            OAuthError::Config("bad token_url".into()),
        ];
        for err in cases {
            let retryable = err.is_retryable();
            let adapter = err.clone().into_adapter_error();
            assert_eq!(adapter.is_retryable(), retryable, "{err:?} -> {adapter:?}");
        }
        assert_eq!(
            OAuthError::InvalidGrant { description: None }.error_code(),
            ErrorCode::IntegrationNeedsReauth
        );
        assert_eq!(
            OAuthError::Config(String::new()).error_code(),
            ErrorCode::ConfigurationError
        );
    }

    #[test]
    fn provider_errors_keep_the_oauth_code() {
        let err = OAuthError::Provider {
            status: 400,
            error: "invalid_scope".into(),
            description: Some("unknown scope".into()),
        };
        assert_eq!(
            err.to_string(),
            "the provider refused the token request (HTTP 400, invalid_scope): unknown scope"
        );
        assert_eq!(
            err.into_adapter_error(),
            AdapterError::Provider {
                status: 400,
                code: Some("invalid_scope".into()),
                message: "unknown scope".into()
            }
        );
    }
}
