//! The `connect_sessions` table: short-lived tokens with which a workspace's end
//! users connect providers (the Connect page), stored only as SHA-256.
//!
//! The token travels in the Connect page's URL; [`workspace_of`] is the one
//! cross-tenant lookup (a token → its workspace), everything else runs in the
//! workspace's scope.

use chrono::{DateTime, Utc};
use diesel::{prelude::*, sql_types};
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;
use secrecy::SecretString;
use uuid::Uuid;

use super::api_keys::{generate_with, hash};
use crate::{
    Conn, StoreError,
    models::ConnectSession,
    schema::{connect_sessions, integrations},
};

/// Every connect-session token starts with this (told apart from API keys, and easy
/// to grep for when leaked).
pub const TOKEN_PREFIX: &str = "jcs_";

/// What a new session records (checked by the caller).
#[derive(Debug, Clone)]
pub struct NewConnectSession<'a> {
    pub workspace_id: WorkspaceId,
    pub allowed_providers: &'a [String],
    pub end_user_id: &'a str,
    pub end_user: serde_json::Value,
    pub tags: serde_json::Value,
    pub return_url: &'a str,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The hash under which a token is stored.
pub fn token_hash(token: &SecretString) -> Vec<u8> {
    hash(token)
}

/// Creates a session of the scoped workspace; its token is returned once and never
/// stored.
pub async fn create(
    conn: &mut Conn,
    new: NewConnectSession<'_>,
) -> Result<(ConnectSession, SecretString), StoreError> {
    let token = generate_with(TOKEN_PREFIX)?;
    let row = ConnectSession {
        id: Uuid::new_v4(),
        workspace_id: new.workspace_id.as_uuid(),
        token_hash: token_hash(&token),
        allowed_providers: new.allowed_providers.to_vec(),
        end_user_id: new.end_user_id.to_owned(),
        end_user: new.end_user,
        tags: new.tags,
        return_url: new.return_url.to_owned(),
        created_at: new.created_at,
        expires_at: new.expires_at,
        revoked_at: None,
    };
    let created = diesel::insert_into(connect_sessions::table)
        .values(&row)
        .returning(ConnectSession::as_returning())
        .get_result(conn)
        .await?;
    Ok((created, token))
}

/// Finds the workspace of a token. Cross-tenant path (the Connect page arrives
/// without an API key): runs the `junction_connect_session_workspace` SQL function.
pub async fn workspace_of(
    conn: &mut Conn,
    token: &SecretString,
) -> Result<Option<WorkspaceId>, StoreError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = sql_types::Nullable<sql_types::Uuid>)]
        workspace_id: Option<Uuid>,
    }
    let row: Row =
        diesel::sql_query("SELECT junction_connect_session_workspace($1) AS workspace_id")
            .bind::<sql_types::Bytea, _>(token_hash(token))
            .get_result(conn)
            .await?;
    Ok(row.workspace_id.map(WorkspaceId))
}

/// The session of a token, in the scoped workspace.
pub async fn find_by_token(
    conn: &mut Conn,
    token: &SecretString,
) -> Result<Option<ConnectSession>, StoreError> {
    Ok(connect_sessions::table
        .filter(connect_sessions::token_hash.eq(token_hash(token)))
        .select(ConnectSession::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// A session of the scoped workspace, or `NotFound("connect session")`.
pub async fn get(conn: &mut Conn, id: Uuid) -> Result<ConnectSession, StoreError> {
    connect_sessions::table
        .find(id)
        .select(ConnectSession::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("connect session"))
}

/// The same, locking the row until the transaction ends (a connection through the
/// session and its revocation do not cross).
pub async fn get_for_update(conn: &mut Conn, id: Uuid) -> Result<ConnectSession, StoreError> {
    connect_sessions::table
        .find(id)
        .select(ConnectSession::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("connect session"))
}

/// Revokes a session at `now`; a session revoked before keeps its first time.
pub async fn revoke(
    conn: &mut Conn,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<ConnectSession, StoreError> {
    diesel::update(
        connect_sessions::table
            .find(id)
            .filter(connect_sessions::revoked_at.is_null()),
    )
    .set(connect_sessions::revoked_at.eq(Some(now)))
    .execute(conn)
    .await?;
    get(conn, id).await
}

/// The integrations a session connected, as `(provider, integration id)`, oldest
/// first.
pub async fn connected(
    conn: &mut Conn,
    session_id: Uuid,
) -> Result<Vec<(String, Uuid)>, StoreError> {
    Ok(integrations::table
        .filter(integrations::connect_session_id.eq(session_id))
        .order((integrations::created_at, integrations::id))
        .select((integrations::provider, integrations::id))
        .load(conn)
        .await?)
}
