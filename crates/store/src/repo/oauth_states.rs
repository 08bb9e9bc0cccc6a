//! The `oauth_states` table: pending OAuth authorization flows.
//!
//! The `state` parameter itself only travels in URLs; the table keeps its SHA-256.
//! A state is single-use and expires: [`consume`] succeeds once, before expiry.

use chrono::{DateTime, Utc};
use diesel::{prelude::*, sql_types};
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;
use secrecy::SecretString;
use uuid::Uuid;

use super::sha256;
use crate::{
    Conn, StoreError,
    models::OAuthState,
    schema::oauth_states,
    vault::{SealContext, Sealed, Vault},
};

const PKCE_FIELD: &str = "pkce_verifier";

/// What a new flow records.
#[derive(Debug, Clone)]
pub struct NewOAuthState<'a> {
    pub workspace_id: WorkspaceId,
    pub provider: &'a str,
    pub integration_id: Option<Uuid>,
    pub state: &'a SecretString,
    pub pkce_verifier: Option<&'a SecretString>,
    pub redirect_uri: &'a str,
    pub return_to: Option<&'a str>,
    pub config: serde_json::Value,
    pub display_name: Option<&'a str>,
    pub schedule_seconds: Option<i32>,
    pub expires_at: DateTime<Utc>,
    /// The connect session the flow is started through, if any.
    pub connect_session_id: Option<Uuid>,
}

/// The hash under which a state is stored.
pub fn state_hash(state: &SecretString) -> Vec<u8> {
    use secrecy::ExposeSecret;
    sha256(state.expose_secret().as_bytes())
}

/// Records a new flow, sealing its PKCE verifier.
pub async fn insert(
    conn: &mut Conn,
    vault: &Vault,
    new: NewOAuthState<'_>,
) -> Result<OAuthState, StoreError> {
    let id = Uuid::new_v4();
    let sealed = match new.pkce_verifier {
        Some(verifier) => Some(vault.seal(
            SealContext {
                workspace_id: new.workspace_id.as_uuid(),
                owner_id: id,
                field: PKCE_FIELD,
            },
            verifier,
        )?),
        None => None,
    };
    let row = OAuthState {
        id,
        workspace_id: new.workspace_id.as_uuid(),
        provider: new.provider.to_owned(),
        integration_id: new.integration_id,
        state_hash: state_hash(new.state),
        pkce_key_id: sealed.as_ref().map(|s| s.key_id.clone()),
        pkce_verifier_sealed: sealed.map(|s| s.bytes),
        redirect_uri: new.redirect_uri.to_owned(),
        return_to: new.return_to.map(str::to_owned),
        config: new.config,
        display_name: new.display_name.map(str::to_owned),
        schedule_seconds: new.schedule_seconds,
        created_at: Utc::now(),
        expires_at: new.expires_at,
        consumed_at: None,
        connect_session_id: new.connect_session_id,
    };
    Ok(diesel::insert_into(oauth_states::table)
        .values(&row)
        .returning(OAuthState::as_returning())
        .get_result(conn)
        .await?)
}

/// Finds the workspace of a state. Cross-tenant path (the callback arrives without an
/// API key): runs the `junction_oauth_state_workspace` SQL function.
pub async fn workspace_of(
    conn: &mut Conn,
    state: &SecretString,
) -> Result<Option<WorkspaceId>, StoreError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = sql_types::Nullable<sql_types::Uuid>)]
        workspace_id: Option<Uuid>,
    }
    let row: Row = diesel::sql_query("SELECT junction_oauth_state_workspace($1) AS workspace_id")
        .bind::<sql_types::Bytea, _>(state_hash(state))
        .get_result(conn)
        .await?;
    Ok(row.workspace_id.map(WorkspaceId))
}

/// Why a state could not be consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeError {
    Unknown,
    AlreadyUsed,
    Expired,
}

/// Marks a state of the scoped workspace used and returns it with its opened PKCE
/// verifier. Succeeds once, and only before expiry.
pub async fn consume(
    conn: &mut Conn,
    vault: &Vault,
    state: &SecretString,
    now: DateTime<Utc>,
) -> Result<Result<(OAuthState, Option<SecretString>), ConsumeError>, StoreError> {
    let hash = state_hash(state);
    let taken: Option<OAuthState> = diesel::update(
        oauth_states::table
            .filter(oauth_states::state_hash.eq(&hash))
            .filter(oauth_states::consumed_at.is_null())
            .filter(oauth_states::expires_at.gt(now)),
    )
    .set(oauth_states::consumed_at.eq(Some(now)))
    .returning(OAuthState::as_returning())
    .get_result(conn)
    .await
    .optional()?;
    let Some(row) = taken else {
        let existing: Option<OAuthState> = oauth_states::table
            .filter(oauth_states::state_hash.eq(&hash))
            .select(OAuthState::as_select())
            .first(conn)
            .await
            .optional()?;
        return Ok(Err(match existing {
            None => ConsumeError::Unknown,
            Some(row) if row.consumed_at.is_some() => ConsumeError::AlreadyUsed,
            Some(_) => ConsumeError::Expired,
        }));
    };
    let verifier = match (&row.pkce_key_id, &row.pkce_verifier_sealed) {
        (Some(key_id), Some(bytes)) => Some(vault.open(
            SealContext {
                workspace_id: row.workspace_id,
                owner_id: row.id,
                field: PKCE_FIELD,
            },
            &Sealed {
                key_id: key_id.clone(),
                bytes: bytes.clone(),
            },
        )?),
        _ => None,
    };
    Ok(Ok((row, verifier)))
}

/// Finds a state of the scoped workspace without consuming it (to tell a replayed
/// or expired callback where to send the user).
pub async fn find(conn: &mut Conn, state: &SecretString) -> Result<Option<OAuthState>, StoreError> {
    Ok(oauth_states::table
        .filter(oauth_states::state_hash.eq(state_hash(state)))
        .select(OAuthState::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Deletes states that expired before `before` (housekeeping).
pub async fn purge_expired(conn: &mut Conn, before: DateTime<Utc>) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(oauth_states::table.filter(oauth_states::expires_at.lt(before)))
            .execute(conn)
            .await?,
    )
}

/// Re-seals PKCE verifiers not sealed with the current key (part of
/// `junction keys rotate`; operator path on the owner's connection).
pub async fn rotate_all(conn: &mut Conn, vault: &Vault) -> Result<u64, StoreError> {
    let current = vault.ring().primary_key_id().to_owned();
    let rows: Vec<OAuthState> = oauth_states::table
        .filter(oauth_states::pkce_key_id.ne(&current))
        .select(OAuthState::as_select())
        .load(conn)
        .await?;
    let mut resealed = 0;
    for row in rows {
        let (Some(key_id), Some(bytes)) = (row.pkce_key_id, row.pkce_verifier_sealed) else {
            continue;
        };
        let ctx = SealContext {
            workspace_id: row.workspace_id,
            owner_id: row.id,
            field: PKCE_FIELD,
        };
        let opened = vault.open(ctx, &Sealed { key_id, bytes })?;
        let sealed = vault.seal(ctx, &opened)?;
        diesel::update(oauth_states::table.find(row.id))
            .set((
                oauth_states::pkce_key_id.eq(Some(sealed.key_id)),
                oauth_states::pkce_verifier_sealed.eq(Some(sealed.bytes)),
            ))
            .execute(conn)
            .await?;
        resealed += 1;
    }
    Ok(resealed)
}
