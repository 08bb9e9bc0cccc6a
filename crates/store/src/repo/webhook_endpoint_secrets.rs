//! The `webhook_endpoint_secrets` table: the signing secrets of webhook endpoints,
//! sealed with the vault like credentials (AAD: workspace, the secret's row id,
//! `signing_secret`).
//!
//! An endpoint has one current secret (no expiry). A rotation gives the current one
//! an expiry and stores the new one: until that expiry both sign every delivery, so
//! receivers that still hold the old secret keep verifying while they switch.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;
use secrecy::SecretString;
use uuid::Uuid;

use crate::{
    Conn, StoreError,
    models::EndpointSecretRow,
    schema::webhook_endpoint_secrets,
    vault::{SealContext, Sealed, Vault},
};

/// The field name in the AAD of every signing secret.
const FIELD: &str = "signing_secret";

fn context(workspace_id: Uuid, secret_id: Uuid) -> SealContext<'static> {
    SealContext {
        workspace_id,
        owner_id: secret_id,
        field: FIELD,
    }
}

fn open(vault: &Vault, row: &EndpointSecretRow) -> Result<SecretString, StoreError> {
    Ok(vault.open(
        context(row.workspace_id, row.id),
        &Sealed {
            key_id: row.key_id.clone(),
            bytes: row.sealed.clone(),
        },
    )?)
}

/// Makes `secret` the endpoint's current secret. The secret it replaces (if any)
/// keeps signing until `previous_until`; secrets whose time is over by `now` are
/// deleted on the way.
pub async fn replace_current(
    conn: &mut Conn,
    vault: &Vault,
    workspace_id: WorkspaceId,
    endpoint_id: Uuid,
    secret: &SecretString,
    now: DateTime<Utc>,
    previous_until: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::delete(
        webhook_endpoint_secrets::table
            .filter(webhook_endpoint_secrets::endpoint_id.eq(endpoint_id))
            .filter(webhook_endpoint_secrets::expires_at.le(now)),
    )
    .execute(conn)
    .await?;
    diesel::update(
        webhook_endpoint_secrets::table
            .filter(webhook_endpoint_secrets::endpoint_id.eq(endpoint_id))
            .filter(webhook_endpoint_secrets::expires_at.is_null()),
    )
    .set(webhook_endpoint_secrets::expires_at.eq(Some(previous_until)))
    .execute(conn)
    .await?;
    let id = Uuid::new_v4();
    let sealed = vault.seal(context(workspace_id.as_uuid(), id), secret)?;
    diesel::insert_into(webhook_endpoint_secrets::table)
        .values((
            webhook_endpoint_secrets::id.eq(id),
            webhook_endpoint_secrets::workspace_id.eq(workspace_id.as_uuid()),
            webhook_endpoint_secrets::endpoint_id.eq(endpoint_id),
            webhook_endpoint_secrets::key_id.eq(sealed.key_id),
            webhook_endpoint_secrets::sealed.eq(sealed.bytes),
            webhook_endpoint_secrets::created_at.eq(now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The endpoint's current secret, opened.
pub async fn current(
    conn: &mut Conn,
    vault: &Vault,
    endpoint_id: Uuid,
) -> Result<SecretString, StoreError> {
    let row: EndpointSecretRow = webhook_endpoint_secrets::table
        .filter(webhook_endpoint_secrets::endpoint_id.eq(endpoint_id))
        .filter(webhook_endpoint_secrets::expires_at.is_null())
        .select(EndpointSecretRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("webhook endpoint secret"))?;
    open(vault, &row)
}

/// Every secret that signs the endpoint's deliveries at `now`, opened: the current
/// one first, then those a rotation replaced less than their overlap ago, newest
/// first.
pub async fn signing(
    conn: &mut Conn,
    vault: &Vault,
    endpoint_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<SecretString>, StoreError> {
    let rows: Vec<EndpointSecretRow> = webhook_endpoint_secrets::table
        .filter(webhook_endpoint_secrets::endpoint_id.eq(endpoint_id))
        .filter(
            webhook_endpoint_secrets::expires_at
                .is_null()
                .or(webhook_endpoint_secrets::expires_at.gt(now)),
        )
        .order(webhook_endpoint_secrets::created_at.desc())
        .select(EndpointSecretRow::as_select())
        .load(conn)
        .await?;
    rows.iter().map(|row| open(vault, row)).collect()
}

/// Re-seals every signing secret not sealed with the vault's current key (part of
/// `junction keys rotate`; operator path on the owner's connection, across every
/// workspace). Returns how many it re-sealed.
pub async fn rotate_all(conn: &mut Conn, vault: &Vault) -> Result<u64, StoreError> {
    let current = vault.ring().primary_key_id().to_owned();
    let rows: Vec<EndpointSecretRow> = webhook_endpoint_secrets::table
        .filter(webhook_endpoint_secrets::key_id.ne(&current))
        .select(EndpointSecretRow::as_select())
        .load(conn)
        .await?;
    let mut resealed = 0;
    for row in rows {
        let opened = open(vault, &row)?;
        let sealed = vault.seal(context(row.workspace_id, row.id), &opened)?;
        diesel::update(webhook_endpoint_secrets::table.find(row.id))
            .set((
                webhook_endpoint_secrets::key_id.eq(sealed.key_id),
                webhook_endpoint_secrets::sealed.eq(sealed.bytes),
            ))
            .execute(conn)
            .await?;
        resealed += 1;
    }
    Ok(resealed)
}
