//! The `key_checks` table: the check value of each key id of the key ring (see
//! [`crate::vault::KeyCheck`] and the migration that creates the table).
//!
//! Operator data, not a tenant's: these functions run on any connection, the
//! application role's unscoped one included (it may read the checks and insert
//! missing ones, never change one), or the schema owner's.
//!
//! - [`verify`]: what every process does at start-up — prove each key of the ring
//!   that has a check, then store a check for each key that has none.
//! - [`verify_stored`] and [`record_missing`]: the same in two steps, for
//!   `junction keys rotate`, which proves the ring before re-sealing anything and
//!   stores the checks of its keys only once they have sealed or opened.

use diesel::{
    QueryableByName,
    sql_types::{Array, Bytea, Text},
};
use diesel_async::RunQueryDsl;

use crate::{
    Conn, StoreError,
    vault::{KeyCheck, Vault},
};

#[derive(QueryableByName)]
struct KeyCheckRow {
    #[diesel(sql_type = Text)]
    key_id: String,
    #[diesel(sql_type = Bytea)]
    nonce: Vec<u8>,
    #[diesel(sql_type = Bytea)]
    check_value: Vec<u8>,
}

/// The stored checks of these key ids (ids without one are left out), by id.
pub async fn get(conn: &mut Conn, key_ids: &[&str]) -> Result<Vec<KeyCheck>, StoreError> {
    let rows: Vec<KeyCheckRow> = diesel::sql_query(
        "SELECT key_id, nonce, check_value FROM key_checks WHERE key_id = ANY($1) ORDER BY key_id",
    )
    .bind::<Array<Text>, _>(key_ids)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| KeyCheck {
            key_id: row.key_id,
            nonce: row.nonce,
            check_value: row.check_value,
        })
        .collect())
}

/// Stores a check unless its key id has one already; whether it was stored.
pub async fn insert_if_missing(conn: &mut Conn, check: &KeyCheck) -> Result<bool, StoreError> {
    let inserted = diesel::sql_query(
        "INSERT INTO key_checks (key_id, nonce, check_value) VALUES ($1, $2, $3) \
         ON CONFLICT (key_id) DO NOTHING",
    )
    .bind::<Text, _>(&check.key_id)
    .bind::<Bytea, _>(&check.nonce)
    .bind::<Bytea, _>(&check.check_value)
    .execute(conn)
    .await?;
    Ok(inserted > 0)
}

/// What a check of the key ring found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RingCheck {
    /// Keys whose stored check they opened.
    pub verified: Vec<String>,
    /// Keys that had no check and got one now.
    pub recorded: Vec<String>,
}

/// Opens the stored check of every key of the ring that has one, writing nothing.
/// Returns the ids of the keys without a check. A key that does not open its check
/// is [`crate::VaultError::KeyMismatch`] naming the first such id (never the key).
pub async fn verify_stored(conn: &mut Conn, vault: &Vault) -> Result<Vec<String>, StoreError> {
    let ids = vault.ring().key_ids();
    let stored = get(conn, &ids).await?;
    for check in &stored {
        vault.verify_check(check)?;
    }
    Ok(ids
        .into_iter()
        .filter(|id| !stored.iter().any(|check| check.key_id == *id))
        .map(str::to_owned)
        .collect())
}

/// Stores a check for each of `key_ids` (keys of the ring) that has none, then
/// proves each of them against what is stored now: a process that started at the
/// same moment with another key under the same id may have stored its check first,
/// and then this one is the wrong key. Returns the ids this call stored.
pub async fn record_missing(
    conn: &mut Conn,
    vault: &Vault,
    key_ids: &[&str],
) -> Result<Vec<String>, StoreError> {
    if key_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut recorded = Vec::new();
    for key_id in key_ids {
        let check = vault.seal_check(key_id)?;
        if insert_if_missing(conn, &check).await? {
            recorded.push((*key_id).to_owned());
        }
    }
    for check in get(conn, key_ids).await? {
        vault.verify_check(&check)?;
    }
    Ok(recorded)
}

/// The start-up check of a process's key ring: every key with a stored check must
/// open it ([`crate::VaultError::KeyMismatch`] otherwise, before anything is
/// written), and every key without one gets one, so the next start is protected too.
pub async fn verify(conn: &mut Conn, vault: &Vault) -> Result<RingCheck, StoreError> {
    let missing = verify_stored(conn, vault).await?;
    let missing: Vec<&str> = missing.iter().map(String::as_str).collect();
    let recorded = record_missing(conn, vault, &missing).await?;
    let verified = vault
        .ring()
        .key_ids()
        .into_iter()
        .filter(|id| !recorded.iter().any(|r| r == id))
        .map(str::to_owned)
        .collect();
    Ok(RingCheck { verified, recorded })
}
