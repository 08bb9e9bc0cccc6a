//! The `api_keys` table: workspace API keys, stored only as SHA-256.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use diesel::{prelude::*, sql_types};
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::sha256;
use crate::{Conn, StoreError, models::ApiKey, schema::api_keys};

/// Every API key starts with this, so leaked keys are easy to grep for.
pub const KEY_PREFIX: &str = "jct_";

/// A fresh key: `jct_` and 32 random bytes in URL-safe base64.
pub fn generate() -> Result<SecretString, StoreError> {
    generate_with(KEY_PREFIX)
}

/// A fresh key of any kind: `prefix` and 32 random bytes in URL-safe base64.
pub(crate) fn generate_with(prefix: &str) -> Result<SecretString, StoreError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| StoreError::Invalid("the system random generator failed".into()))?;
    Ok(SecretString::from(format!(
        "{prefix}{}",
        URL_SAFE_NO_PAD.encode(bytes)
    )))
}

/// The part of a key shown in lists: its prefix and 6 characters, enough to tell
/// keys apart, far too little to guess one.
pub(crate) fn display_prefix(key: &SecretString, prefix: &str) -> String {
    key.expose_secret().chars().take(prefix.len() + 6).collect()
}

/// Checks a key's name (1-200 characters, trimmed).
pub(crate) fn key_name(name: &str) -> Result<&str, StoreError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(StoreError::Invalid(
            "a key name must be 1-200 characters".into(),
        ));
    }
    Ok(name)
}

/// The stored fingerprint of a key.
pub fn hash(key: &SecretString) -> Vec<u8> {
    sha256(key.expose_secret().as_bytes())
}

/// Creates a key for the scoped workspace; the plaintext is returned once and never
/// stored.
pub async fn create(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    name: &str,
) -> Result<(ApiKey, SecretString), StoreError> {
    let name = key_name(name)?;
    let key = generate()?;
    let display_prefix = display_prefix(&key, KEY_PREFIX);
    let row = diesel::insert_into(api_keys::table)
        .values((
            api_keys::workspace_id.eq(workspace_id.as_uuid()),
            api_keys::name.eq(name),
            api_keys::display_prefix.eq(display_prefix),
            api_keys::key_hash.eq(hash(&key)),
        ))
        .returning(ApiKey::as_returning())
        .get_result(conn)
        .await?;
    Ok((row, key))
}

/// The scoped workspace's keys, newest first.
pub async fn list(conn: &mut Conn) -> Result<Vec<ApiKey>, StoreError> {
    Ok(api_keys::table
        .order((api_keys::created_at.desc(), api_keys::id))
        .select(ApiKey::as_select())
        .load(conn)
        .await?)
}

/// Revokes a key of the scoped workspace. Revoking twice keeps the first time.
pub async fn revoke(conn: &mut Conn, id: Uuid) -> Result<ApiKey, StoreError> {
    let updated = diesel::update(api_keys::table.find(id))
        .set(api_keys::revoked_at.eq(Some(chrono::Utc::now())))
        .filter(api_keys::revoked_at.is_null())
        .returning(ApiKey::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    match updated {
        Some(key) => Ok(key),
        None => api_keys::table
            .find(id)
            .select(ApiKey::as_select())
            .first(conn)
            .await
            .optional()?
            .ok_or(StoreError::NotFound("API key")),
    }
}

/// What a presented key turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authentication {
    Valid {
        workspace_id: WorkspaceId,
        api_key_id: Uuid,
    },
    Revoked,
    Unknown,
}

#[derive(QueryableByName)]
struct AuthRow {
    #[diesel(sql_type = sql_types::Uuid)]
    api_key_id: Uuid,
    #[diesel(sql_type = sql_types::Uuid)]
    workspace_id: Uuid,
    #[diesel(sql_type = sql_types::Bool)]
    revoked: bool,
}

/// Resolves a presented key. Cross-tenant path (authentication comes before a
/// workspace is known): runs the `junction_authenticate_api_key` SQL function on an
/// unscoped connection.
pub async fn authenticate(
    conn: &mut Conn,
    presented: &SecretString,
) -> Result<Authentication, StoreError> {
    if !presented.expose_secret().starts_with(KEY_PREFIX) {
        return Ok(Authentication::Unknown);
    }
    let row: Option<AuthRow> = diesel::sql_query(
        "SELECT api_key_id, workspace_id, revoked FROM junction_authenticate_api_key($1)",
    )
    .bind::<sql_types::Bytea, _>(hash(presented))
    .get_result(conn)
    .await
    .optional()?;
    Ok(match row {
        None => Authentication::Unknown,
        Some(row) if row.revoked => Authentication::Revoked,
        Some(row) => Authentication::Valid {
            workspace_id: WorkspaceId(row.workspace_id),
            api_key_id: row.api_key_id,
        },
    })
}
