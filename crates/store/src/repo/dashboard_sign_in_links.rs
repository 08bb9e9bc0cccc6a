//! The `dashboard_sign_in_links` table: one-time links an operator prints to sign
//! someone in to a workspace's dashboard without its API key.
//!
//! The token only travels in the link; the table keeps its SHA-256. [`use_link`] is
//! the cross-tenant lookup (the link arrives before a workspace is known) and
//! succeeds once, before expiry.

use chrono::{DateTime, Utc};
use diesel::{prelude::*, sql_types};
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::{api_keys::generate_with, sha256};
use crate::{Conn, StoreError, schema::dashboard_sign_in_links};

/// Every link token starts with this.
pub const LINK_PREFIX: &str = "jdl_";

/// The stored fingerprint of a link token.
pub fn hash(token: &SecretString) -> Vec<u8> {
    sha256(token.expose_secret().as_bytes())
}

/// Creates a link to the scoped workspace, valid until `expires_at`; the token is
/// returned once and never stored.
pub async fn create(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    expires_at: DateTime<Utc>,
) -> Result<(Uuid, SecretString), StoreError> {
    let token = generate_with(LINK_PREFIX)?;
    let id = diesel::insert_into(dashboard_sign_in_links::table)
        .values((
            dashboard_sign_in_links::workspace_id.eq(workspace_id.as_uuid()),
            dashboard_sign_in_links::token_hash.eq(hash(&token)),
            dashboard_sign_in_links::expires_at.eq(expires_at),
        ))
        .returning(dashboard_sign_in_links::id)
        .get_result(conn)
        .await?;
    Ok((id, token))
}

/// Uses a link: the workspace it signs in to, or `None` when it is unknown,
/// expired or already used (a link works once). Cross-tenant path: runs the
/// `junction_dashboard_use_link` SQL function on an unscoped connection.
pub async fn use_link(
    conn: &mut Conn,
    token: &SecretString,
) -> Result<Option<WorkspaceId>, StoreError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = sql_types::Nullable<sql_types::Uuid>)]
        workspace_id: Option<Uuid>,
    }
    if !token.expose_secret().starts_with(LINK_PREFIX) {
        return Ok(None);
    }
    let row: Option<Row> =
        diesel::sql_query("SELECT junction_dashboard_use_link($1) AS workspace_id")
            .bind::<sql_types::Bytea, _>(hash(token))
            .get_result(conn)
            .await
            .optional()?;
    Ok(row.and_then(|row| row.workspace_id).map(WorkspaceId))
}

/// Forgets the scoped workspace's links that expired before `now`.
pub async fn delete_expired(conn: &mut Conn, now: DateTime<Utc>) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        dashboard_sign_in_links::table.filter(dashboard_sign_in_links::expires_at.le(now)),
    )
    .execute(conn)
    .await?)
}
