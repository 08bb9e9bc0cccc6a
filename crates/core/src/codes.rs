//! The one list of stable error codes.
//!
//! Every error Junction reports to a user — an API problem+json body, a CLI line, a
//! dead letter, an integration log entry — carries one of these codes. Each code has a
//! name (stable, snake_case, part of the public contract), a kind (the family a client
//! can branch on) and the HTTP status the API answers with. Crates map their own errors
//! into this list through [`HasErrorCode`]; nobody invents codes on the side.

use serde::Serialize;

/// The family of an error, which tells a client what it can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request was malformed or failed validation: fix it and retry.
    InvalidRequest,
    /// The caller is not authenticated or not allowed.
    Auth,
    /// The resource does not exist (or belongs to another workspace).
    NotFound,
    /// The request conflicts with the current state.
    Conflict,
    /// Too many requests: slow down.
    RateLimit,
    /// An outside provider refused or failed.
    Provider,
    /// A dependency of Junction is down: retry later.
    Unavailable,
    /// A bug or an unexpected state inside Junction.
    Internal,
}

macro_rules! error_codes {
    ($($variant:ident => ($name:literal, $kind:ident, $status:literal, $title:literal);)+) => {
        /// A stable error code: see the module documentation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(#[doc = $title] $variant,)+
        }

        impl ErrorCode {
            /// Every code, in declaration order (for docs and uniqueness tests).
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The stable snake_case name clients match on.
            pub const fn name(self) -> &'static str {
                match self { $(ErrorCode::$variant => $name,)+ }
            }

            /// The family of the error.
            pub const fn kind(self) -> ErrorKind {
                match self { $(ErrorCode::$variant => ErrorKind::$kind,)+ }
            }

            /// The HTTP status the API answers with.
            pub const fn http_status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)+ }
            }

            /// A short human title (the problem+json `title`).
            pub const fn title(self) -> &'static str {
                match self { $(ErrorCode::$variant => $title,)+ }
            }

            /// Looks a code up by its stable name.
            pub fn from_name(name: &str) -> Option<ErrorCode> {
                Self::ALL.iter().copied().find(|code| code.name() == name)
            }
        }
    };
}

error_codes! {
    // Request shape and validation
    InvalidRequest => ("invalid_request", InvalidRequest, 400, "The request is malformed.");
    InvalidJson => ("invalid_json", InvalidRequest, 400, "The request body is not valid JSON.");
    PayloadTooLarge => ("payload_too_large", InvalidRequest, 413, "The request body is too large.");
    ValidationFailed => ("validation_failed", InvalidRequest, 422, "The input failed validation.");
    InvalidConfig => ("invalid_config", InvalidRequest, 422, "The integration configuration is invalid.");
    InvalidCredentials => ("invalid_credentials", InvalidRequest, 422, "The provider rejected the credentials.");
    UnknownProvider => ("unknown_provider", NotFound, 404, "No such provider.");
    UnknownAction => ("unknown_action", NotFound, 404, "The provider has no such action.");
    UnknownStream => ("unknown_stream", NotFound, 404, "The provider has no such stream.");
    UnknownMetric => ("unknown_metric", NotFound, 404, "No provider declares such a metric or metric family.");
    UnsupportedOperation => ("unsupported_operation", InvalidRequest, 400, "The provider does not support this operation.");
    InvalidCursor => ("invalid_cursor", InvalidRequest, 400, "The pagination cursor is invalid.");
    ProxyPathRefused => ("proxy_path_refused", InvalidRequest, 400, "The proxied path would leave the provider's API.");
    MethodNotAllowed => ("method_not_allowed", InvalidRequest, 405, "The resource does not support this method.");
    RecipientsSuppressed => ("recipients_suppressed", InvalidRequest, 422, "Every address the email must go to is on the workspace's suppression list.");
    UnknownConfigField => ("unknown_config_field", NotFound, 404, "The provider has no such config field.");
    FieldHasNoOptions => ("field_has_no_options", NotFound, 404, "The provider lists no choices for this config field.");
    // Authentication
    Unauthenticated => ("unauthenticated", Auth, 401, "A valid API key is required.");
    ApiKeyRevoked => ("api_key_revoked", Auth, 401, "The API key has been revoked.");
    Forbidden => ("forbidden", Auth, 403, "The operation is not allowed.");
    ConnectTokenInvalid => ("connect_token_invalid", Auth, 401, "The connect-session token is not valid.");
    ConnectSessionExpired => ("connect_session_expired", Auth, 401, "The connect session has expired.");
    ConnectSessionRevoked => ("connect_session_revoked", Auth, 401, "The connect session has been revoked.");
    ProviderNotAllowed => ("provider_not_allowed", Auth, 403, "The connect session does not allow this provider.");
    ReturnUrlNotAllowed => ("return_url_not_allowed", Auth, 403, "The return URL is not in the workspace's allow-list of connect return URLs.");
    // Lookup
    NotFound => ("not_found", NotFound, 404, "The resource does not exist.");
    WorkspaceNotFound => ("workspace_not_found", NotFound, 404, "No such workspace.");
    IntegrationNotFound => ("integration_not_found", NotFound, 404, "No such integration.");
    ApiKeyNotFound => ("api_key_not_found", NotFound, 404, "No such API key.");
    EmailSuppressionNotFound => ("email_suppression_not_found", NotFound, 404, "The address is not on the workspace's suppression list.");
    ConnectSessionNotFound => ("connect_session_not_found", NotFound, 404, "No such connect session.");
    // State conflicts
    Conflict => ("conflict", Conflict, 409, "The request conflicts with the current state.");
    IdempotencyKeyReused => ("idempotency_key_reused", Conflict, 409, "The Idempotency-Key was used with a different request.");
    IdempotencyKeyInFlight => ("idempotency_key_in_flight", Conflict, 409, "A request with this Idempotency-Key is still being processed.");
    OAuthStateInvalid => ("oauth_state_invalid", NotFound, 404, "The OAuth state is unknown, expired or already used.");
    OAuthDenied => ("oauth_denied", InvalidRequest, 400, "The user denied consent at the provider.");
    IntegrationNeedsReauth => ("integration_needs_reauth", Conflict, 409, "The integration must be reconnected.");
    IntegrationNeedsSetup => ("integration_needs_setup", Conflict, 409, "The integration's setup is not finished: a required setting is still to be chosen.");
    ConnectSessionUsed => ("connect_session_used", Conflict, 409, "The connect session already connected this provider.");
    CrossPostExists => ("cross_post_exists", Conflict, 409, "An article with this canonical URL is already cross-posted: edit that one.");
    WebhookSignatureInvalid => ("webhook_signature_invalid", InvalidRequest, 400, "The webhook signature is missing, invalid or stale.");
    WebhookNotConfigured => ("webhook_not_configured", InvalidRequest, 400, "The integration cannot take webhooks until its signing secret is set.");
    WebhookPayloadInvalid => ("webhook_payload_invalid", InvalidRequest, 422, "The webhook's signature holds but its body is not a payload the provider sends.");
    // Rate limits
    RateLimited => ("rate_limited", RateLimit, 429, "Too many requests.");
    // Outside providers
    ProviderRateLimited => ("provider_rate_limited", Provider, 502, "The provider is rate limiting requests.");
    ProviderQuotaExhausted => ("provider_quota_exhausted", Provider, 502, "The provider quota is exhausted until it resets.");
    ProviderUnavailable => ("provider_unavailable", Provider, 502, "The provider is unavailable.");
    ProviderUnauthorized => ("provider_unauthorized", Provider, 502, "The provider rejected the stored credentials.");
    ProviderRejected => ("provider_rejected", Provider, 502, "The provider rejected the request.");
    ProviderError => ("provider_error", Provider, 502, "The provider returned an error.");
    ProviderRedirectRefused => ("provider_redirect_refused", Provider, 502, "The provider answered with a redirect, which the proxy does not follow.");
    ProviderResponseTooLarge => ("provider_response_too_large", Provider, 502, "The provider's answer is larger than the proxy passes on.");
    // Outbound webhooks (the client app's endpoints)
    WebhookEndpointRejected => ("webhook_endpoint_rejected", Provider, 502, "The webhook endpoint answered a delivery with a status other than 2xx.");
    WebhookEndpointUnreachable => ("webhook_endpoint_unreachable", Provider, 502, "The webhook endpoint could not be reached or did not answer in time.");
    WebhookEndpointDisabled => ("webhook_endpoint_disabled", Conflict, 409, "The webhook endpoint is disabled.");
    // Junction's own dependencies and bugs
    DatabaseUnavailable => ("database_unavailable", Unavailable, 503, "The database is unavailable.");
    QueueUnavailable => ("queue_unavailable", Unavailable, 503, "The job queue is unavailable.");
    VaultError => ("vault_error", Internal, 500, "A credential could not be sealed or opened.");
    ConfigurationError => ("configuration_error", Internal, 500, "Junction is misconfigured.");
    Internal => ("internal", Internal, 500, "An internal error occurred.");
}

impl ErrorCode {
    /// The Markdown table of every code (docs/errors.md is this, checked by a test).
    pub fn markdown_table() -> String {
        let mut out = String::from("| code | kind | HTTP status | meaning |\n|---|---|---|---|\n");
        for code in Self::ALL {
            let kind = serde_json::to_value(code.kind())
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                code.name(),
                kind,
                code.http_status(),
                code.title()
            ));
        }
        out
    }
}

/// Implemented by every error type that can reach a user, so it maps into the one list.
pub trait HasErrorCode {
    /// The stable code for this error.
    fn error_code(&self) -> ErrorCode;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_snake_case_and_round_trip() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            assert!(
                seen.insert(code.name()),
                "duplicate code name {}",
                code.name()
            );
            assert!(
                code.name()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_'),
                "{} is not snake_case",
                code.name()
            );
            assert_eq!(ErrorCode::from_name(code.name()), Some(*code));
        }
    }

    /// docs/errors.md lists every code; regenerate with
    /// `JUNCTION_UPDATE_DOCS=1 cargo test -p junction-core error_code_docs`.
    #[test]
    fn error_code_docs_are_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/errors.md");
        let expected = format!(
            "# Error codes\n\nEvery error Junction reports carries one of these stable codes: in the API's\n\
             `application/problem+json` bodies (`code`), in dead letters and integration logs, and\n\
             in the CLI's messages. Clients match on `code`; the `kind` groups codes by what a\n\
             client can do about them.\n\n{}",
            ErrorCode::markdown_table()
        );
        if std::env::var_os("JUNCTION_UPDATE_DOCS").is_some() {
            std::fs::write(&path, &expected).unwrap();
        }
        let actual = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            actual, expected,
            "docs/errors.md is stale: rerun with JUNCTION_UPDATE_DOCS=1"
        );
    }

    #[test]
    fn statuses_match_kinds() {
        for code in ErrorCode::ALL {
            let status = code.http_status();
            match code.kind() {
                ErrorKind::InvalidRequest => assert!((400..500).contains(&status)),
                ErrorKind::Auth => assert!(status == 401 || status == 403),
                ErrorKind::NotFound => assert_eq!(status, 404),
                ErrorKind::Conflict => assert_eq!(status, 409),
                ErrorKind::RateLimit => assert_eq!(status, 429),
                ErrorKind::Provider => assert!((500..600).contains(&status)),
                ErrorKind::Unavailable => assert_eq!(status, 503),
                ErrorKind::Internal => assert_eq!(status, 500),
            }
        }
    }
}
