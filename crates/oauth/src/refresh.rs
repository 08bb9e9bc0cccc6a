//! Single-flight token refresh: [`fresh_access_token`], shared by the API (a call
//! that got a 401) and the worker (refresh ahead of expiry).
//!
//! Many callers (API pods, worker pods, concurrent jobs of one integration) may find
//! the same token about to expire at once. Rotating refresh tokens make a double
//! refresh harmful, not just wasteful: the second call presents a refresh token the
//! first one already used up, and the provider answers `invalid_grant`. So the
//! refresh happens while holding the integration's row lock (`SELECT .. FOR UPDATE`)
//! and the credentials are read only after the lock is taken: a caller that waited
//! for the lock sees the token its predecessor stored and returns it without calling
//! the provider.
//!
//! Outcomes:
//! - the stored token is valid beyond `now + refresh_ahead` and is not the one a
//!   provider just rejected: it is returned, nothing is written;
//! - otherwise it is refreshed: the new access token, the rotated refresh token when
//!   the provider sent one (the old one is kept when it did not), the expiry and the
//!   granted scopes are stored and an info log entry is appended, in one transaction;
//! - `invalid_grant`: the integration moves to `needs_reauth` with an error log
//!   entry; the credentials stay in place (the disconnect flow still revokes them);
//!   [`RefreshError::Revoked`];
//! - any other failure (provider down, malformed answer): nothing changes but a warn
//!   log entry, written in its own transaction; the error is returned.
//!
//! Tokens that cannot be refreshed (the spec's `RefreshBehaviour::None`, or no
//! refresh token stored): the stored access token is returned while it has not
//! expired at `now` and was not rejected (refreshing ahead is moot when there is no
//! way to refresh). Once it has expired or been rejected, the connection cannot work
//! until the user reconnects, so it is treated like a revoked grant: `needs_reauth`,
//! an error log entry, [`RefreshError::Revoked`]. [`RefreshError::NoRefreshToken`]
//! is for an integration with no stored tokens at all (a connect that never
//! finished, deleted credentials): its status is left alone.
//!
//! An integration already in `needs_reauth` answers [`RefreshError::Revoked`]
//! without calling the provider: its grant is known to be gone until a reconnect
//! (which sets the status back) stores new tokens.
//!
//! Providers with a long-lived token exchange (`OAuth2Spec::long_lived_exchange`,
//! Meta) have no refresh token: their still-valid token is exchanged again once it
//! expires within the spec's `renew_before` (or `refresh_ahead`, if longer), stored
//! like a refreshed one. An exchange refused as `invalid_grant` (or a provider code
//! the spec lists as "token invalid") means `needs_reauth`; any other failure leaves
//! the current token in use, as it is still valid, and the next call tries again.
//!
//! A refresh response without `expires_in` stores no expiry; such a token is used
//! until a provider rejects it (`rejected_token`), which forces the next refresh.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use junction_core::{ErrorCode, HasErrorCode, OAuth2Spec, RefreshBehaviour, WorkspaceId};
use junction_store::{
    Store, StoreError, Vault, WorkspaceTx,
    models::{IntegrationStatus, LogLevel, Operation},
    repo::{self, integrations::IntegrationPatch, logs::NewLog},
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use uuid::Uuid;

use crate::{
    ACCESS_TOKEN, REFRESH_TOKEN, client::ClientConfig, engine::OAuthEngine, error::OAuthError,
};

/// An access token ready to use.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: SecretString,
    /// When it expires, when known.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Why no fresh access token could be had.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// The grant is gone (`invalid_grant`, or an expired/rejected token that cannot
    /// be refreshed): the integration was moved to `needs_reauth`.
    #[error("the provider no longer accepts this connection's grant: reconnect the integration")]
    Revoked,
    /// The integration has no stored tokens to use or refresh.
    #[error("the integration has no stored access or refresh token: connect it first")]
    NoRefreshToken,
    /// A client-credentials integration has no stored client id and secret.
    #[error("the integration has no stored client id and secret: connect it first")]
    NoClientCredentials,
    /// The provider's token endpoint failed (nothing was changed).
    #[error(transparent)]
    OAuth(OAuthError),
    /// The database or the vault failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for RefreshError {
    fn from(err: StoreError) -> Self {
        RefreshError::Store(err)
    }
}

impl RefreshError {
    /// Whether asking again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            RefreshError::Revoked
            | RefreshError::NoRefreshToken
            | RefreshError::NoClientCredentials => false,
            RefreshError::OAuth(err) => err.is_retryable(),
            RefreshError::Store(err) => matches!(err, StoreError::Unavailable(_)),
        }
    }
}

impl HasErrorCode for RefreshError {
    fn error_code(&self) -> ErrorCode {
        match self {
            RefreshError::Revoked
            | RefreshError::NoRefreshToken
            | RefreshError::NoClientCredentials => ErrorCode::IntegrationNeedsReauth,
            RefreshError::OAuth(err) => err.error_code(),
            RefreshError::Store(err) => err.error_code(),
        }
    }
}

/// What [`fresh_access_token`] needs.
#[derive(Debug, Clone, Copy)]
pub struct RefreshRequest<'a> {
    pub store: &'a Store,
    pub vault: &'a Vault,
    pub engine: &'a OAuthEngine,
    pub spec: &'a OAuth2Spec,
    pub client: &'a ClientConfig,
    pub workspace_id: WorkspaceId,
    pub integration_id: Uuid,
    /// Refresh tokens expiring sooner than this from `now`.
    pub refresh_ahead: chrono::Duration,
    /// The token a provider just answered 401 to: refresh unless the stored token
    /// already differs from it (someone else refreshed meanwhile).
    pub rejected_token: Option<&'a SecretString>,
    pub now: DateTime<Utc>,
}

/// A usable access token for the integration, refreshed (single-flight) when it
/// expires within `refresh_ahead` or was rejected. See the module docs.
pub async fn fresh_access_token(req: RefreshRequest<'_>) -> Result<AccessToken, RefreshError> {
    let Locked {
        mut tx,
        mut credentials,
        access: stored_access,
        expires_at,
        was_rejected,
    } = lock(
        req.store,
        req.vault,
        req.workspace_id,
        req.integration_id,
        req.rejected_token,
    )
    .await?;
    let stored_refresh = credentials.remove(REFRESH_TOKEN);
    let valid_until = |deadline: DateTime<Utc>| expires_at.is_none_or(|at| at > deadline);
    // A long-lived token (Meta, ~60 days) is renewed well ahead of its expiry, when
    // the spec says, so that a connection synced only now and then never lapses.
    let refresh_ahead = match &req.spec.long_lived_exchange {
        Some(exchange) => chrono::Duration::from_std(exchange.renew_before)
            .map_or(req.refresh_ahead, |renew| renew.max(req.refresh_ahead)),
        None => req.refresh_ahead,
    };

    if let Some(token) = &stored_access
        && !was_rejected
        && valid_until(req.now + refresh_ahead)
    {
        release(tx).await;
        return Ok(AccessToken {
            token: token.clone(),
            expires_at,
        });
    }

    // The token being renewed by a long-lived exchange, kept in case the exchange
    // fails for a passing reason: it is still valid and can be used meanwhile.
    let mut renewing: Option<SecretString> = None;
    let outcome = match (stored_refresh, stored_access) {
        (Some(refresh_token), _) if req.spec.refresh != RefreshBehaviour::None => {
            req.engine
                .refresh(req.spec, req.client, &refresh_token, req.now)
                .await
        }
        (_, Some(token))
            if !was_rejected && valid_until(req.now) && req.spec.long_lived_exchange.is_some() =>
        {
            // No refresh token, but the provider renews a still-valid token by
            // exchanging it again.
            let outcome = req
                .engine
                .exchange_token(req.spec, req.client, &token, req.now)
                .await;
            renewing = Some(token);
            outcome
        }
        (_, Some(token)) if !was_rejected && valid_until(req.now) => {
            release(tx).await;
            return Ok(AccessToken { token, expires_at });
        }
        (_, Some(_)) => {
            let reason = if was_rejected {
                "The provider rejected the access token and it cannot be refreshed."
            } else {
                "The access token expired and it cannot be refreshed."
            };
            mark_needs_reauth(
                tx,
                req.workspace_id,
                req.integration_id,
                reason,
                json!({ "rejected": was_rejected }),
            )
            .await?;
            return Err(RefreshError::Revoked);
        }
        (_, None) => {
            release(tx).await;
            return Err(RefreshError::NoRefreshToken);
        }
    };

    match outcome {
        Ok(tokens) => {
            repo::credentials::put(
                tx.conn(),
                req.vault,
                req.workspace_id,
                req.integration_id,
                &tokens.credential_fields(),
            )
            .await?;
            let patch = IntegrationPatch {
                token_expires_at: Some(tokens.expires_at),
                scopes: tokens.scopes.clone(),
                ..IntegrationPatch::default()
            };
            repo::integrations::update(tx.conn(), req.integration_id, &patch).await?;
            repo::logs::append(
                tx.conn(),
                NewLog {
                    workspace_id: req.workspace_id,
                    integration_id: req.integration_id,
                    level: LogLevel::Info,
                    operation: Operation::Refresh,
                    message: "Access token refreshed.",
                    details: json!({
                        "expires_at": tokens.expires_at,
                        "refresh_token_rotated": tokens.refresh_token.is_some(),
                        "scopes": tokens.scopes,
                    }),
                    run_id: None,
                },
            )
            .await?;
            tx.commit().await?;
            tracing::info!(
                integration_id = %req.integration_id,
                expires_at = ?tokens.expires_at,
                "access token refreshed"
            );
            Ok(AccessToken {
                token: tokens.access_token,
                expires_at: tokens.expires_at,
            })
        }
        Err(OAuthError::InvalidGrant { description }) => {
            let reason = match &description {
                Some(description) => format!(
                    "The provider rejected the refresh token (invalid_grant: {description})."
                ),
                None => "The provider rejected the refresh token (invalid_grant).".to_owned(),
            };
            mark_needs_reauth(
                tx,
                req.workspace_id,
                req.integration_id,
                &reason,
                json!({ "oauth_error": "invalid_grant", "description": description }),
            )
            .await?;
            Err(RefreshError::Revoked)
        }
        Err(err) => {
            // Nothing of the failed attempt is kept; the log entry goes in a
            // transaction of its own.
            release(tx).await;
            if let Err(log_failure) =
                log_refresh_failure(req.store, req.workspace_id, req.integration_id, &err).await
            {
                tracing::warn!(
                    integration_id = %req.integration_id,
                    error = %log_failure,
                    "could not log a failed token refresh"
                );
            }
            tracing::warn!(
                integration_id = %req.integration_id,
                error = %err,
                "token refresh failed"
            );
            match renewing {
                // The long-lived token is still valid: use it, and renew next time.
                Some(token) => Ok(AccessToken { token, expires_at }),
                None => Err(RefreshError::OAuth(err)),
            }
        }
    }
}

/// An integration's row locked for a token fetch, with what it holds.
pub(crate) struct Locked {
    /// The transaction holding the row lock (`SELECT .. FOR UPDATE`).
    pub tx: WorkspaceTx,
    /// The stored credentials but the access token.
    pub credentials: BTreeMap<String, SecretString>,
    pub access: Option<SecretString>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether the stored access token is the one a provider just rejected.
    pub was_rejected: bool,
}

/// Locks the integration's row, then reads its credentials: whoever waited for the
/// lock reads what the previous holder stored (the single flight of every token
/// fetch). An integration in `needs_reauth` is [`RefreshError::Revoked`] at once.
pub(crate) async fn lock(
    store: &Store,
    vault: &Vault,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    rejected_token: Option<&SecretString>,
) -> Result<Locked, RefreshError> {
    let mut tx = store.begin(workspace_id).await?;
    let integration = repo::integrations::get_for_update(tx.conn(), integration_id).await?;
    if integration.status == IntegrationStatus::NeedsReauth {
        release(tx).await;
        return Err(RefreshError::Revoked);
    }
    let mut credentials = repo::credentials::get_all(tx.conn(), vault, integration_id).await?;
    let access = credentials.remove(ACCESS_TOKEN);
    let was_rejected = match (&access, rejected_token) {
        (Some(stored), Some(rejected)) => stored.expose_secret() == rejected.expose_secret(),
        _ => false,
    };
    Ok(Locked {
        tx,
        credentials,
        access,
        expires_at: integration.token_expires_at,
        was_rejected,
    })
}

/// Ends a transaction that wrote nothing, releasing the row lock. A failed rollback
/// is only worth a trace: the pool discards the connection and Postgres rolls back
/// on its own, and the caller's answer (a token, an error) does not depend on it.
pub(crate) async fn release(tx: WorkspaceTx) {
    if let Err(err) = tx.rollback().await {
        tracing::debug!(error = %err, "rolling back a read-only refresh transaction failed");
    }
}

/// Moves the integration to `needs_reauth`, logs why, and commits.
pub(crate) async fn mark_needs_reauth(
    mut tx: WorkspaceTx,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    reason: &str,
    details: serde_json::Value,
) -> Result<(), StoreError> {
    let code = ErrorCode::IntegrationNeedsReauth.name();
    repo::integrations::set_status(
        tx.conn(),
        integration_id,
        IntegrationStatus::NeedsReauth,
        Some((code, reason)),
    )
    .await?;
    let mut details = details;
    if let Some(object) = details.as_object_mut() {
        object.insert("error_code".into(), json!(code));
    }
    repo::logs::append(
        tx.conn(),
        NewLog {
            workspace_id,
            integration_id,
            level: LogLevel::Error,
            operation: Operation::Refresh,
            message: reason,
            details,
            run_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    tracing::warn!(
        integration_id = %integration_id,
        reason,
        "integration needs reauthorization"
    );
    Ok(())
}

/// Appends the warn entry of a refresh that failed for a reason other than a
/// revoked grant.
pub(crate) async fn log_refresh_failure(
    store: &Store,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    err: &OAuthError,
) -> Result<(), StoreError> {
    let mut tx = store.begin(workspace_id).await?;
    let message = format!("Token refresh failed: {err}");
    repo::logs::append(
        tx.conn(),
        NewLog {
            workspace_id,
            integration_id,
            level: LogLevel::Warn,
            operation: Operation::Refresh,
            message: &message,
            details: json!({
                "error_code": err.error_code().name(),
                "retryable": err.is_retryable(),
            }),
            run_id: None,
        },
    )
    .await?;
    tx.commit().await
}
