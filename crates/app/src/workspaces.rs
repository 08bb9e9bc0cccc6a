//! Workspaces and their API keys, for the operator's command line and the API:
//! creating a workspace with its first key, managing keys, authenticating a
//! request's key, remembering idempotent requests, and the operator-only work that
//! spans workspaces (migrations, listing workspaces, re-sealing every credential
//! with the newest key).
//!
//! These work on the store alone (no Redis, no provider), so the CLI runs them with
//! nothing but `DATABASE_URL`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use junction_core::{ErrorCode, WorkspaceId};
use junction_store::{
    AdminStore, DatabaseUrl, Store, StoreError, StoreOptions, Vault, WorkspaceTx, migrate,
    models::{ApiKey, OperatorKey, Workspace},
    repo::{
        self,
        api_keys::{self, Authentication},
        credentials::RotationReport,
        idempotency::{self, Answer, Claim},
        operator_keys::{self, OperatorAuthentication},
    },
};
use secrecy::SecretString;
use uuid::Uuid;

use crate::{App, Error, Result};

/// The workspace a request acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authenticated {
    pub workspace_id: WorkspaceId,
    pub api_key_id: Uuid,
}

/// Resolves an API key to its workspace: an unknown key and a revoked one are told
/// apart, so a client knows which it sent.
pub async fn authenticate(store: &Store, key: &SecretString) -> Result<Authenticated> {
    let mut conn = store.unscoped().await?;
    match api_keys::authenticate(&mut conn, key).await? {
        Authentication::Valid {
            workspace_id,
            api_key_id,
        } => Ok(Authenticated {
            workspace_id,
            api_key_id,
        }),
        Authentication::Revoked => Err(Error::new(
            ErrorCode::ApiKeyRevoked,
            "this API key has been revoked",
        )),
        Authentication::Unknown => Err(Error::new(
            ErrorCode::Unauthenticated,
            "the API key is not valid",
        )),
    }
}

/// Who a request acts for: a workspace (its API key) or the installation (an
/// operator key, which reads installation-wide figures and nothing of any
/// workspace).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Workspace(Authenticated),
    Operator { operator_key_id: Uuid },
}

impl App {
    /// Resolves a request's key of either kind (`jct_…` a workspace's, `jop_…` an
    /// operator's). A workspace key verified a moment ago is served from this
    /// process's cache, which drops it the moment it is revoked anywhere
    /// ([`crate::api_key_cache`]).
    pub async fn authenticate_caller(&self, key: &SecretString) -> Result<Caller> {
        if operator_keys::is_operator_key(key) {
            return authenticate_operator(&self.store, key).await;
        }
        if let Some(authenticated) = self.api_keys.get(key) {
            return Ok(Caller::Workspace(authenticated));
        }
        let seen = self.api_keys.seen();
        let authenticated = authenticate(&self.store, key).await?;
        self.api_keys.remember(key, authenticated, seen);
        Ok(Caller::Workspace(authenticated))
    }
}

/// Resolves an operator key (read every time: they serve rare, installation-wide
/// requests).
async fn authenticate_operator(store: &Store, key: &SecretString) -> Result<Caller> {
    let mut conn = store.unscoped().await?;
    match operator_keys::authenticate(&mut conn, key).await? {
        OperatorAuthentication::Valid { operator_key_id } => {
            Ok(Caller::Operator { operator_key_id })
        }
        OperatorAuthentication::Revoked => Err(Error::new(
            ErrorCode::ApiKeyRevoked,
            "this operator key has been revoked",
        )),
        OperatorAuthentication::Unknown => Err(Error::new(
            ErrorCode::Unauthenticated,
            "the operator key is not valid",
        )),
    }
}

/// An idempotent request to remember.
#[derive(Debug, Clone, Copy)]
pub struct IdempotentRequest<'a> {
    pub workspace_id: WorkspaceId,
    pub key: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub body: &'a [u8],
    /// How long the key is remembered.
    pub expires_at: DateTime<Utc>,
}

/// Claims an idempotency key for a request: a new key runs the request, the same
/// key with the same request replays the first answer, with another request it is a
/// mismatch, and while the first still runs it is in flight.
pub async fn claim_idempotency_key(store: &Store, request: IdempotentRequest<'_>) -> Result<Claim> {
    let fingerprint = idempotency::fingerprint(request.method, request.path, request.body);
    let mut tx = store.begin(request.workspace_id).await?;
    let claim = idempotency::claim(
        tx.conn(),
        request.workspace_id,
        request.key,
        request.method,
        request.path,
        &fingerprint,
        request.expires_at,
    )
    .await?;
    tx.commit().await?;
    Ok(claim)
}

/// Remembers the answer of a claimed request as it was sent (`None`: forget the key,
/// so the client may try again — answers of 5xx are not remembered).
pub async fn finish_idempotent_request(
    store: &Store,
    workspace_id: WorkspaceId,
    key: &str,
    answer: Option<&Answer>,
) -> Result<()> {
    let mut tx = store.begin(workspace_id).await?;
    match answer {
        Some(answer) => idempotency::complete(tx.conn(), workspace_id, key, answer).await?,
        None => idempotency::release(tx.conn(), workspace_id, key).await?,
    }
    tx.commit().await?;
    Ok(())
}

/// Creates a workspace and its first API key (the key is shown once).
pub async fn create_workspace(store: &Store, name: &str) -> Result<(Workspace, SecretString)> {
    let id = WorkspaceId::new();
    let mut tx = store.begin(id).await?;
    let workspace = repo::workspaces::create(tx.conn(), id, name).await?;
    let (_, key) = api_keys::create(tx.conn(), id, "default").await?;
    tx.commit().await?;
    Ok((workspace, key))
}

/// Creates an API key for an existing workspace (the key is shown once).
pub async fn create_api_key(
    store: &Store,
    workspace_id: WorkspaceId,
    name: &str,
) -> Result<(ApiKey, SecretString)> {
    let mut tx = existing_workspace(store, workspace_id).await?;
    let created = api_keys::create(tx.conn(), workspace_id, name).await?;
    tx.commit().await?;
    Ok(created)
}

/// A workspace's API keys (never the keys themselves).
pub async fn api_keys(store: &Store, workspace_id: WorkspaceId) -> Result<Vec<ApiKey>> {
    let mut tx = existing_workspace(store, workspace_id).await?;
    let keys = api_keys::list(tx.conn()).await?;
    tx.commit().await?;
    Ok(keys)
}

/// Revokes an API key; requests with it are refused from then on. Revoking one
/// twice is a conflict naming when it was revoked.
pub async fn revoke_api_key(
    store: &Store,
    workspace_id: WorkspaceId,
    key_id: Uuid,
) -> Result<ApiKey> {
    let mut tx = existing_workspace(store, workspace_id).await?;
    let before = api_keys::list(tx.conn())
        .await?
        .into_iter()
        .find(|k| k.id == key_id)
        .ok_or_else(|| {
            Error::new(
                ErrorCode::ApiKeyNotFound,
                format!("API key {key_id} not found in workspace {workspace_id}"),
            )
        })?;
    if let Some(at) = before.revoked_at {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!(
                "API key {key_id} was already revoked at {}",
                at.to_rfc3339()
            ),
        ));
    }
    let revoked = api_keys::revoke(tx.conn(), key_id).await?;
    tx.commit().await?;
    Ok(revoked)
}

/// A transaction in a workspace that must exist.
pub async fn existing_workspace(store: &Store, workspace_id: WorkspaceId) -> Result<WorkspaceTx> {
    let mut tx = store.begin(workspace_id).await?;
    match repo::workspaces::get(tx.conn(), workspace_id).await {
        Ok(_) => Ok(tx),
        Err(StoreError::NotFound(_)) => Err(Error::new(
            ErrorCode::WorkspaceNotFound,
            format!("workspace {workspace_id} not found"),
        )),
        Err(other) => Err(other.into()),
    }
}

/// The operator's access to an installation's database: as the schema owner for
/// migrations, as the system role for the work that spans workspaces, and through
/// the application role for the rest.
#[derive(Debug, Clone)]
pub struct Operator {
    url: DatabaseUrl,
    timeout: Duration,
}

/// What a key rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub key_id: String,
    pub report: RotationReport,
    pub oauth_verifiers_resealed: u64,
    /// Outbound webhook signing secrets re-sealed.
    pub webhook_secrets_resealed: u64,
    /// Credentials per key id after the rotation.
    pub by_key: Vec<(String, i64)>,
}

impl Operator {
    /// Checks that the database answers (one line naming its host, never its
    /// password, when it does not).
    pub async fn connect(url: DatabaseUrl, timeout: Duration) -> Result<Self> {
        let operator = Self { url, timeout };
        operator.owner().await?;
        Ok(operator)
    }

    async fn owner(&self) -> Result<AdminStore> {
        AdminStore::connect(&self.url, self.timeout)
            .await
            .map_err(|e| self.unreachable(e))
    }

    /// The owner's connection switched to the system role: row-level security is
    /// forced on the owner too, and the system role is the one it lets through
    /// every workspace.
    async fn system(&self) -> Result<AdminStore> {
        AdminStore::connect_system(&self.url, self.timeout)
            .await
            .map_err(|e| self.unreachable(e))
    }

    fn unreachable(&self, error: StoreError) -> Error {
        match error {
            StoreError::Unavailable(reason) => Error::new(
                ErrorCode::DatabaseUnavailable,
                format!(
                    "cannot connect to the database at {}: {reason}",
                    self.url.redacted()
                ),
            ),
            other => other.into(),
        }
    }

    /// The migrations not applied yet.
    pub async fn pending_migrations(&self) -> Result<Vec<String>> {
        Ok(migrate::pending(&self.url).await?)
    }

    /// Applies pending migrations; returns their names.
    pub async fn migrate(&self) -> Result<Vec<String>> {
        Ok(migrate::run_pending(&self.url).await?)
    }

    /// Refuses to work on a schema that is not fully migrated (the app role and
    /// tables would be missing or stale).
    pub async fn ensure_migrated(&self) -> Result<()> {
        let pending = self.pending_migrations().await?;
        if !pending.is_empty() {
            return Err(Error::new(
                ErrorCode::ConfigurationError,
                format!(
                    "the database schema is not up to date ({} pending migration(s)): run `junction migrate` first",
                    pending.len()
                ),
            ));
        }
        Ok(())
    }

    /// The application's pool on a migrated schema.
    pub async fn store(&self) -> Result<Store> {
        self.ensure_migrated().await?;
        Store::connect(
            &self.url,
            StoreOptions {
                max_connections: 2,
                connect_timeout: self.timeout,
                pool_timeout: self.timeout,
                application_name: "junction-cli".into(),
                ..StoreOptions::default()
            },
        )
        .await
        .map_err(|e| self.unreachable(e))
    }

    /// Creates an operator key (installation-wide figures); the plaintext is
    /// returned once.
    pub async fn create_operator_key(&self, name: &str) -> Result<(OperatorKey, SecretString)> {
        self.ensure_migrated().await?;
        let mut admin = self.system().await?;
        repo::operator_keys::create(admin.conn(), name)
            .await
            .map_err(|error| match error {
                StoreError::Invalid(message) => Error::field("name", message),
                other => other.into(),
            })
    }

    /// Every operator key, newest first.
    pub async fn operator_keys(&self) -> Result<Vec<OperatorKey>> {
        self.ensure_migrated().await?;
        let mut admin = self.system().await?;
        Ok(repo::operator_keys::list(admin.conn()).await?)
    }

    /// Revokes an operator key (revoking twice keeps the first time).
    pub async fn revoke_operator_key(&self, id: Uuid) -> Result<OperatorKey> {
        self.ensure_migrated().await?;
        let mut admin = self.system().await?;
        repo::operator_keys::revoke(admin.conn(), id)
            .await
            .map_err(|error| match error {
                StoreError::NotFound(_) => Error::not_found(ErrorCode::NotFound, "operator key"),
                other => other.into(),
            })
    }

    /// Every workspace of the installation.
    pub async fn workspaces(&self) -> Result<Vec<Workspace>> {
        self.ensure_migrated().await?;
        let mut admin = self.system().await?;
        Ok(repo::workspaces::list_all(admin.conn()).await?)
    }

    /// Re-seals every credential, OAuth verifier and webhook signing secret with the
    /// vault's first key, credentials `batch_size` per transaction (resumable). Fails
    /// when credentials sealed with older keys are left (locked by a running worker):
    /// run it again.
    ///
    /// The ring proves itself first: a key that does not open the check value stored
    /// for its id is refused (one line naming the id) before anything is re-sealed.
    /// The new sealing key's check is stored once it has re-sealed; the other keys'
    /// once the rotation is complete (every credential they sealed opened).
    pub async fn rotate_keys(&self, vault: &Vault, batch_size: i64) -> Result<Rotation> {
        self.ensure_migrated().await?;
        let mut admin = self.system().await?;
        let key_ring_error = |error: StoreError| match error {
            StoreError::Vault(vault_error) => {
                Error::new(ErrorCode::ConfigurationError, vault_error.to_string())
            }
            other => Error::from(other),
        };
        let unchecked = repo::key_checks::verify_stored(admin.conn(), vault)
            .await
            .map_err(key_ring_error)?;
        let report = repo::credentials::rotate_all(admin.conn(), vault, batch_size)
            .await
            .map_err(|e| {
                Error::from(e)
                    .with_detail("re-sealing credentials failed: run the command again to resume")
            })?;
        let verifiers = repo::oauth_states::rotate_all(admin.conn(), vault).await?;
        let webhook_secrets =
            repo::webhook_endpoint_secrets::rotate_all(admin.conn(), vault).await?;
        let key_id = vault.ring().primary_key_id().to_owned();
        if unchecked.contains(&key_id) {
            repo::key_checks::record_missing(admin.conn(), vault, &[key_id.as_str()])
                .await
                .map_err(key_ring_error)?;
        }
        let by_key = repo::credentials::count_by_key(admin.conn()).await?;
        let left: i64 = by_key
            .iter()
            .filter(|(k, _)| *k != key_id)
            .map(|(_, n)| n)
            .sum();
        if left > 0 {
            return Err(Error::new(
                ErrorCode::Conflict,
                format!(
                    "re-sealed {} credential(s), but {left} are still sealed with older keys (locked by a running worker?): run `junction keys rotate` again",
                    report.resealed
                ),
            ));
        }
        let older: Vec<&str> = unchecked
            .iter()
            .map(String::as_str)
            .filter(|id| *id != key_id)
            .collect();
        repo::key_checks::record_missing(admin.conn(), vault, &older)
            .await
            .map_err(key_ring_error)?;
        Ok(Rotation {
            key_id,
            report,
            oauth_verifiers_resealed: verifiers,
            webhook_secrets_resealed: webhook_secrets,
            by_key,
        })
    }
}
