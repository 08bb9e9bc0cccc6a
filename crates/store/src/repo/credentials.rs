//! The `credentials` table: sealed secret fields of integrations, and key rotation.

use std::collections::{BTreeMap, HashMap};

use diesel::{prelude::*, upsert::excluded};
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;
use secrecy::SecretString;
use uuid::Uuid;

use crate::{
    Conn, StoreError,
    models::CredentialRow,
    schema::credentials,
    vault::{SealContext, Sealed, Vault},
};

fn context<'a>(workspace_id: Uuid, integration_id: Uuid, field: &'a str) -> SealContext<'a> {
    SealContext {
        workspace_id,
        owner_id: integration_id,
        field,
    }
}

/// Seals and stores secret fields of an integration, replacing fields of the same
/// name and keeping the others (a refresh that returns no new refresh token keeps
/// the old one).
pub async fn put(
    conn: &mut Conn,
    vault: &Vault,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    fields: &BTreeMap<String, SecretString>,
) -> Result<(), StoreError> {
    if fields.is_empty() {
        return Ok(());
    }
    let now = chrono::Utc::now();
    let mut rows = Vec::with_capacity(fields.len());
    for (field, secret) in fields {
        let sealed = vault.seal(
            context(workspace_id.as_uuid(), integration_id, field),
            secret,
        )?;
        rows.push(CredentialRow {
            workspace_id: workspace_id.as_uuid(),
            integration_id,
            field: field.clone(),
            key_id: sealed.key_id,
            sealed: sealed.bytes,
            updated_at: now,
        });
    }
    diesel::insert_into(credentials::table)
        .values(&rows)
        .on_conflict((credentials::integration_id, credentials::field))
        .do_update()
        .set((
            credentials::key_id.eq(excluded(credentials::key_id)),
            credentials::sealed.eq(excluded(credentials::sealed)),
            credentials::updated_at.eq(excluded(credentials::updated_at)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Opens every secret field of an integration.
pub async fn get_all(
    conn: &mut Conn,
    vault: &Vault,
    integration_id: Uuid,
) -> Result<BTreeMap<String, SecretString>, StoreError> {
    let rows: Vec<CredentialRow> = credentials::table
        .filter(credentials::integration_id.eq(integration_id))
        .select(CredentialRow::as_select())
        .load(conn)
        .await?;
    let mut opened = BTreeMap::new();
    for row in rows {
        let sealed = Sealed {
            key_id: row.key_id,
            bytes: row.sealed,
        };
        let secret = vault.open(
            context(row.workspace_id, row.integration_id, &row.field),
            &sealed,
        )?;
        opened.insert(row.field, secret);
    }
    Ok(opened)
}

/// The names of an integration's stored secret fields (without opening them).
pub async fn field_names(conn: &mut Conn, integration_id: Uuid) -> Result<Vec<String>, StoreError> {
    Ok(field_names_of(conn, &[integration_id])
        .await?
        .remove(&integration_id)
        .unwrap_or_default())
}

/// The names of the stored secret fields of each of `integration_ids`, in one query
/// (a page of integrations listed without a query per integration); an integration
/// without any is absent from the map.
pub async fn field_names_of(
    conn: &mut Conn,
    integration_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<String>>, StoreError> {
    let rows: Vec<(Uuid, String)> = credentials::table
        .filter(credentials::integration_id.eq_any(integration_ids))
        .order((credentials::integration_id, credentials::field))
        .select((credentials::integration_id, credentials::field))
        .load(conn)
        .await?;
    let mut names: HashMap<Uuid, Vec<String>> = HashMap::new();
    for (integration_id, field) in rows {
        names.entry(integration_id).or_default().push(field);
    }
    Ok(names)
}

/// Deletes some fields of an integration (or all of them when `fields` is `None`).
pub async fn delete(
    conn: &mut Conn,
    integration_id: Uuid,
    fields: Option<&[&str]>,
) -> Result<usize, StoreError> {
    let target = credentials::table.filter(credentials::integration_id.eq(integration_id));
    let deleted = match fields {
        Some(fields) => {
            diesel::delete(
                target.filter(credentials::field.eq_any(fields.iter().map(|f| f.to_string()))),
            )
            .execute(conn)
            .await?
        }
        None => diesel::delete(target).execute(conn).await?,
    };
    Ok(deleted)
}

/// Counts of a key-rotation run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RotationReport {
    /// Rows re-sealed with the current sealing key by this run.
    pub resealed: u64,
    /// Rows that were already sealed with it (a resumed run skips them).
    pub already_current: u64,
}

/// Re-seals every credential not sealed with the vault's current key, in batches of
/// `batch_size`, each batch its own transaction, so an interrupted run resumes where
/// it stopped. Operator path: runs on the schema owner's [`crate::AdminStore`]
/// connection, across all workspaces.
pub async fn rotate_all(
    conn: &mut Conn,
    vault: &Vault,
    batch_size: i64,
) -> Result<RotationReport, StoreError> {
    use diesel_async::AsyncConnection;
    let current = vault.ring().primary_key_id().to_owned();
    let already_current = credentials::table
        .filter(credentials::key_id.eq(&current))
        .count()
        .get_result::<i64>(conn)
        .await?;
    let mut report = RotationReport {
        resealed: 0,
        already_current: u64::try_from(already_current).unwrap_or(0),
    };
    loop {
        let current = current.clone();
        let resealed = conn
            .transaction::<_, StoreError, _>(async move |conn| {
                let rows: Vec<CredentialRow> = credentials::table
                    .filter(credentials::key_id.ne(&current))
                    .order((credentials::integration_id, credentials::field))
                    .limit(batch_size.max(1))
                    .for_update()
                    .skip_locked()
                    .select(CredentialRow::as_select())
                    .load(conn)
                    .await?;
                for row in &rows {
                    let ctx = context(row.workspace_id, row.integration_id, &row.field);
                    let opened = vault.open(
                        ctx,
                        &Sealed {
                            key_id: row.key_id.clone(),
                            bytes: row.sealed.clone(),
                        },
                    )?;
                    let sealed = vault.seal(ctx, &opened)?;
                    diesel::update(credentials::table.find((row.integration_id, &row.field)))
                        .set((
                            credentials::key_id.eq(sealed.key_id),
                            credentials::sealed.eq(sealed.bytes),
                            credentials::updated_at.eq(diesel::dsl::now),
                        ))
                        .execute(conn)
                        .await?;
                }
                Ok(rows.len() as u64)
            })
            .await?;
        if resealed == 0 {
            break;
        }
        report.resealed += resealed;
    }
    Ok(report)
}

/// How many credential rows each key id seals (operator path, all workspaces).
pub async fn count_by_key(conn: &mut Conn) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(credentials::table
        .group_by(credentials::key_id)
        .select((credentials::key_id, diesel::dsl::count_star()))
        .order(credentials::key_id)
        .load(conn)
        .await?)
}
