//! The `dashboard_sessions` table: browsers signed in to the dashboard.
//!
//! The session id only travels in the browser's cookie; the table keeps its
//! SHA-256 and a per-session CSRF secret. [`resolve`] is the cross-tenant lookup
//! (the cookie arrives before a workspace is known); the rest runs scoped.

use chrono::{DateTime, Utc};
use diesel::{prelude::*, sql_types};
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::{api_keys::generate_with, sha256};
use crate::{Conn, StoreError, schema::dashboard_sessions};

/// Every session id starts with this (a leaked cookie value is easy to grep for).
pub const SESSION_PREFIX: &str = "jds_";

/// A live session, as a request sees it.
#[derive(Clone)]
pub struct LiveSession {
    pub id: Uuid,
    pub workspace_id: WorkspaceId,
    /// Keys the session's CSRF token (never shown, never logged).
    pub csrf_secret: Vec<u8>,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for LiveSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSession")
            .field("id", &self.id)
            .field("workspace_id", &self.workspace_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The stored fingerprint of a session id.
pub fn hash(session: &SecretString) -> Vec<u8> {
    sha256(session.expose_secret().as_bytes())
}

/// Opens a session in the scoped workspace, signed in with `api_key_id` (or an
/// operator's link when `None`), ending at `expires_at` at the latest; the session
/// id is returned once and never stored.
pub async fn create(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    api_key_id: Option<Uuid>,
    expires_at: DateTime<Utc>,
) -> Result<(LiveSession, SecretString), StoreError> {
    let session = generate_with(SESSION_PREFIX)?;
    let mut csrf_secret = vec![0u8; 32];
    SystemRandom::new()
        .fill(&mut csrf_secret)
        .map_err(|_| StoreError::Invalid("the system random generator failed".into()))?;
    let id: Uuid = diesel::insert_into(dashboard_sessions::table)
        .values((
            dashboard_sessions::workspace_id.eq(workspace_id.as_uuid()),
            dashboard_sessions::session_hash.eq(hash(&session)),
            dashboard_sessions::csrf_secret.eq(&csrf_secret),
            dashboard_sessions::api_key_id.eq(api_key_id),
            dashboard_sessions::expires_at.eq(expires_at),
        ))
        .returning(dashboard_sessions::id)
        .get_result(conn)
        .await?;
    Ok((
        LiveSession {
            id,
            workspace_id,
            csrf_secret,
            expires_at,
        },
        session,
    ))
}

#[derive(QueryableByName)]
struct SessionRow {
    #[diesel(sql_type = sql_types::Uuid)]
    session_id: Uuid,
    #[diesel(sql_type = sql_types::Uuid)]
    workspace_id: Uuid,
    #[diesel(sql_type = sql_types::Bytea)]
    csrf_secret: Vec<u8>,
    #[diesel(sql_type = sql_types::Timestamptz)]
    expires_at: DateTime<Utc>,
}

/// The live session a cookie names, touching its last request; `None` when it is
/// unknown, past its absolute expiry, idle longer than `idle`, or its API key was
/// revoked. Cross-tenant path: runs the `junction_dashboard_session` SQL function on
/// an unscoped connection.
pub async fn resolve(
    conn: &mut Conn,
    session: &SecretString,
    idle: std::time::Duration,
) -> Result<Option<LiveSession>, StoreError> {
    let idle = diesel::data_types::PgInterval::from_microseconds(
        i64::try_from(idle.as_micros()).unwrap_or(i64::MAX),
    );
    let row: Option<SessionRow> = diesel::sql_query(
        "SELECT session_id, workspace_id, csrf_secret, expires_at \
         FROM junction_dashboard_session($1, $2)",
    )
    .bind::<sql_types::Bytea, _>(hash(session))
    .bind::<sql_types::Interval, _>(idle)
    .get_result(conn)
    .await
    .optional()?;
    Ok(row.map(|row| LiveSession {
        id: row.session_id,
        workspace_id: WorkspaceId(row.workspace_id),
        csrf_secret: row.csrf_secret,
        expires_at: row.expires_at,
    }))
}

/// Ends a session of the scoped workspace (signing out). Ending one twice is not an
/// error.
pub async fn delete(conn: &mut Conn, id: Uuid) -> Result<(), StoreError> {
    diesel::delete(dashboard_sessions::table.find(id))
        .execute(conn)
        .await?;
    Ok(())
}

/// Forgets the scoped workspace's sessions that ended by time before `now`; returns
/// how many.
pub async fn delete_expired(
    conn: &mut Conn,
    now: DateTime<Utc>,
    idle: std::time::Duration,
) -> Result<usize, StoreError> {
    let idle = chrono::Duration::from_std(idle).unwrap_or(chrono::Duration::MAX);
    let idle_since = now
        .checked_sub_signed(idle)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    Ok(diesel::delete(
        dashboard_sessions::table.filter(
            dashboard_sessions::expires_at
                .le(now)
                .or(dashboard_sessions::last_seen_at.le(idle_since)),
        ),
    )
    .execute(conn)
    .await?)
}

/// How many sessions of the scoped workspace exist (live or not yet swept).
pub async fn count(conn: &mut Conn) -> Result<i64, StoreError> {
    Ok(dashboard_sessions::table.count().get_result(conn).await?)
}
