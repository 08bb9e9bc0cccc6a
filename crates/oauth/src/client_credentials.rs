//! The OAuth 2.0 client-credentials grant (RFC 6749 §4.4), for providers whose
//! users hold their own client id and secret
//! ([`AuthSpec::ClientCredentials`](junction_core::AuthSpec::ClientCredentials),
//! Hotjar): [`OAuthEngine::client_credentials_token`] asks the token endpoint for an
//! access token, and [`fresh_client_token`] hands out a usable one, fetching it on
//! demand and again ahead of its expiry.
//!
//! The token is cached sealed in the vault beside the client id and secret, with its
//! expiry on the integration row, and fetched single-flight under the integration's
//! row lock, as [`crate::refresh`] does for refresh tokens: callers that waited for
//! the lock read the token their predecessor stored instead of asking again (a
//! provider may cap how many live tokens a client holds). A token the provider
//! rejected (`rejected_token`) is replaced whatever its expiry.
//!
//! Outcomes of a fetch: a token (stored, with an info log entry); the credentials
//! refused (`invalid_client`, `unauthorized_client`, `invalid_grant`, or a bare
//! 401/403 — an expired or deleted key): the integration moves to `needs_reauth` and
//! the caller gets [`RefreshError::Revoked`]; anything else (the endpoint down, a
//! malformed answer): a warn log entry, nothing else changes, the error is returned.

use chrono::{DateTime, Utc};
use junction_core::{TokenClientAuth, WorkspaceId};
use junction_store::{
    Store, Vault,
    models::{LogLevel, Operation},
    repo::{self, integrations::IntegrationPatch, logs::NewLog},
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use url::Url;
use uuid::Uuid;

use crate::{
    ACCESS_TOKEN,
    client::resolve,
    engine::{OAuthEngine, log_outcome},
    error::OAuthError,
    refresh::{
        AccessToken, Locked, RefreshError, lock, log_refresh_failure, mark_needs_reauth, release,
    },
    token::{TokenSet, parse_token_response},
};

/// One client of a client-credentials provider: where to ask, and as whom.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub token_url: Url,
    pub client_auth: TokenClientAuth,
    /// Requested scopes, sent space-separated; empty: no `scope` parameter.
    pub scopes: Vec<String>,
    pub client_id: SecretString,
    pub client_secret: SecretString,
}

impl ClientCredentials {
    /// The token endpoint: the override when there is one (the sandbox, tests),
    /// else the spec's URL; either must be an absolute http(s) URL.
    pub fn token_url(spec_url: &str, overridden: Option<&Url>) -> Result<Url, OAuthError> {
        resolve("token_url", Some(spec_url), overridden)?
            .ok_or_else(|| OAuthError::Config("the provider has no token_url".into()))
    }
}

impl OAuthEngine {
    /// Asks the token endpoint for an access token with the client's own credentials
    /// (`grant_type=client_credentials`). `now` is when the request is made;
    /// `expires_at` is computed from it.
    pub async fn client_credentials_token(
        &self,
        client: &ClientCredentials,
        now: DateTime<Utc>,
    ) -> Result<TokenSet, OAuthError> {
        let client_id = client.client_id.expose_secret().trim();
        if client_id.is_empty() {
            return Err(OAuthError::Config("the client id is empty".into()));
        }
        let scope = client.scopes.join(" ");
        let mut form = vec![("grant_type", "client_credentials")];
        if !scope.is_empty() {
            form.push(("scope", scope.as_str()));
        }
        let answer = self
            .post_form_as(
                client.client_auth,
                client_id,
                &client.client_secret,
                &client.token_url,
                form,
            )
            .await?;
        let result = parse_token_response(
            answer.status,
            answer.content_type.as_deref(),
            &answer.body,
            now,
        );
        log_outcome(
            "client-credentials grant",
            &client.token_url,
            answer.status,
            &result,
        );
        result
    }
}

impl OAuthError {
    /// Whether the authorization server refused the client's own credentials (a
    /// wrong, expired or deleted key pair), as opposed to failing: asking again with
    /// the same credentials cannot work.
    pub fn refuses_client(&self) -> bool {
        match self {
            OAuthError::InvalidGrant { .. } => true,
            OAuthError::Provider { status, error, .. } => {
                matches!(
                    error.as_str(),
                    "invalid_client" | "unauthorized_client" | "access_denied"
                ) || matches!(status, 401 | 403)
            }
            _ => false,
        }
    }
}

/// What [`fresh_client_token`] needs.
#[derive(Debug, Clone, Copy)]
pub struct ClientTokenRequest<'a> {
    pub store: &'a Store,
    pub vault: &'a Vault,
    pub engine: &'a OAuthEngine,
    /// The resolved token endpoint ([`ClientCredentials::token_url`]).
    pub token_url: &'a Url,
    pub client_auth: TokenClientAuth,
    pub scopes: &'a [&'static str],
    /// The vault fields holding the client id and the client secret (the spec's
    /// credential field names).
    pub client_id_field: &'a str,
    pub client_secret_field: &'a str,
    pub workspace_id: WorkspaceId,
    pub integration_id: Uuid,
    /// Fetch a new token when the stored one expires sooner than this from `now`.
    pub refresh_ahead: chrono::Duration,
    /// The token a provider just answered 401 to: fetch a new one unless the stored
    /// token already differs from it (someone else fetched meanwhile).
    pub rejected_token: Option<&'a SecretString>,
    pub now: DateTime<Utc>,
}

/// A usable access token of a client-credentials integration, fetched
/// (single-flight) when none is stored, it expires within `refresh_ahead`, or it
/// was rejected. See the module docs.
pub async fn fresh_client_token(req: ClientTokenRequest<'_>) -> Result<AccessToken, RefreshError> {
    let Locked {
        mut tx,
        mut credentials,
        access: stored,
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
    if let Some(token) = &stored
        && !was_rejected
        && expires_at.is_none_or(|at| at > req.now + req.refresh_ahead)
    {
        release(tx).await;
        return Ok(AccessToken {
            token: token.clone(),
            expires_at,
        });
    }
    let (Some(client_id), Some(client_secret)) = (
        credentials.remove(req.client_id_field),
        credentials.remove(req.client_secret_field),
    ) else {
        release(tx).await;
        return Err(RefreshError::NoClientCredentials);
    };
    let client = ClientCredentials {
        token_url: req.token_url.clone(),
        client_auth: req.client_auth,
        scopes: req.scopes.iter().map(|s| (*s).to_owned()).collect(),
        client_id,
        client_secret,
    };
    match req.engine.client_credentials_token(&client, req.now).await {
        Ok(tokens) => {
            let mut fields = tokens.credential_fields();
            // RFC 6749 §4.4.3: no refresh token belongs to this grant; one sent anyway
            // is of no use (the credentials fetch the next token).
            fields.retain(|name, _| name == ACCESS_TOKEN);
            repo::credentials::put(
                tx.conn(),
                req.vault,
                req.workspace_id,
                req.integration_id,
                &fields,
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
                    message: "Access token obtained with the client credentials.",
                    details: json!({
                        "expires_at": tokens.expires_at,
                        "scopes": tokens.scopes,
                        "replaced_rejected_token": was_rejected,
                    }),
                    run_id: None,
                },
            )
            .await?;
            tx.commit().await?;
            tracing::info!(
                integration_id = %req.integration_id,
                expires_at = ?tokens.expires_at,
                "client-credentials access token obtained"
            );
            Ok(AccessToken {
                token: tokens.access_token,
                expires_at: tokens.expires_at,
            })
        }
        Err(err) if err.refuses_client() => {
            let reason = format!(
                "The provider refused the client credentials ({err}): replace the key pair."
            );
            mark_needs_reauth(
                tx,
                req.workspace_id,
                req.integration_id,
                &reason,
                json!({ "grant": "client_credentials" }),
            )
            .await?;
            Err(RefreshError::Revoked)
        }
        Err(err) => {
            release(tx).await;
            if let Err(log_failure) =
                log_refresh_failure(req.store, req.workspace_id, req.integration_id, &err).await
            {
                tracing::warn!(
                    integration_id = %req.integration_id,
                    error = %log_failure,
                    "could not log a failed client-credentials grant"
                );
            }
            Err(RefreshError::OAuth(err))
        }
    }
}
