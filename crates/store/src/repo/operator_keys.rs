//! The `operator_keys` table: installation-wide keys created with the CLI, which read
//! installation-wide figures (queue depths across every workspace). Stored only as
//! SHA-256, like workspace API keys.
//!
//! Creating, listing and revoking run on the operator's connection (the
//! `junction_system` role); authentication is the API's lookup through the narrow
//! `junction_authenticate_operator_key` function.

use diesel::{prelude::*, sql_types};
use diesel_async::RunQueryDsl;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::api_keys::{display_prefix, generate_with, hash, key_name};
use crate::{Conn, StoreError, models::OperatorKey, schema::operator_keys};

/// Every operator key starts with this (a workspace key with `jct_`).
pub const OPERATOR_KEY_PREFIX: &str = "jop_";

/// Creates an operator key; the plaintext is returned once and never stored.
pub async fn create(
    conn: &mut Conn,
    name: &str,
) -> Result<(OperatorKey, SecretString), StoreError> {
    let name = key_name(name)?;
    let key = generate_with(OPERATOR_KEY_PREFIX)?;
    let row = diesel::insert_into(operator_keys::table)
        .values((
            operator_keys::name.eq(name),
            operator_keys::display_prefix.eq(display_prefix(&key, OPERATOR_KEY_PREFIX)),
            operator_keys::key_hash.eq(hash(&key)),
        ))
        .returning(OperatorKey::as_returning())
        .get_result(conn)
        .await?;
    Ok((row, key))
}

/// Every operator key, newest first.
pub async fn list(conn: &mut Conn) -> Result<Vec<OperatorKey>, StoreError> {
    Ok(operator_keys::table
        .order((operator_keys::created_at.desc(), operator_keys::id))
        .select(OperatorKey::as_select())
        .load(conn)
        .await?)
}

/// Revokes an operator key. Revoking twice keeps the first time.
pub async fn revoke(conn: &mut Conn, id: Uuid) -> Result<OperatorKey, StoreError> {
    let updated = diesel::update(operator_keys::table.find(id))
        .set(operator_keys::revoked_at.eq(Some(chrono::Utc::now())))
        .filter(operator_keys::revoked_at.is_null())
        .returning(OperatorKey::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    match updated {
        Some(key) => Ok(key),
        None => operator_keys::table
            .find(id)
            .select(OperatorKey::as_select())
            .first(conn)
            .await
            .optional()?
            .ok_or(StoreError::NotFound("operator key")),
    }
}

/// What a presented operator key turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorAuthentication {
    Valid { operator_key_id: Uuid },
    Revoked,
    Unknown,
}

#[derive(QueryableByName)]
struct AuthRow {
    #[diesel(sql_type = sql_types::Uuid)]
    operator_key_id: Uuid,
    #[diesel(sql_type = sql_types::Bool)]
    revoked: bool,
}

/// Whether a presented credential is shaped like an operator key.
pub fn is_operator_key(presented: &SecretString) -> bool {
    presented.expose_secret().starts_with(OPERATOR_KEY_PREFIX)
}

/// Resolves a presented operator key (the API's path, on an unscoped connection).
pub async fn authenticate(
    conn: &mut Conn,
    presented: &SecretString,
) -> Result<OperatorAuthentication, StoreError> {
    if !is_operator_key(presented) {
        return Ok(OperatorAuthentication::Unknown);
    }
    let row: Option<AuthRow> = diesel::sql_query(
        "SELECT operator_key_id, revoked FROM junction_authenticate_operator_key($1)",
    )
    .bind::<sql_types::Bytea, _>(hash(presented))
    .get_result(conn)
    .await
    .optional()?;
    Ok(match row {
        None => OperatorAuthentication::Unknown,
        Some(row) if row.revoked => OperatorAuthentication::Revoked,
        Some(row) => OperatorAuthentication::Valid {
            operator_key_id: row.operator_key_id,
        },
    })
}
