//! The `email_suppressions` table: addresses a workspace's notifications must skip
//! (bounced, complained), recorded from the email provider's webhooks.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;
use uuid::Uuid;

use crate::{Conn, StoreError, schema::email_suppressions};

/// Records that `address` must not be mailed again. The first reason stays: a later
/// delivery event for the same address changes nothing. Returns whether it was new.
pub async fn suppress(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    address: &str,
    reason: &str,
    source_integration_id: Option<Uuid>,
) -> Result<bool, StoreError> {
    let inserted = diesel::insert_into(email_suppressions::table)
        .values((
            email_suppressions::workspace_id.eq(workspace_id.as_uuid()),
            email_suppressions::address.eq(normalize(address)),
            email_suppressions::reason.eq(reason),
            email_suppressions::source_integration_id.eq(source_integration_id),
        ))
        .on_conflict((
            email_suppressions::workspace_id,
            email_suppressions::address,
        ))
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// Which of `addresses` are suppressed (lower-cased), in no particular order.
pub async fn suppressed_among(
    conn: &mut Conn,
    addresses: &[String],
) -> Result<Vec<String>, StoreError> {
    let normalized: Vec<String> = addresses.iter().map(|a| normalize(a)).collect();
    Ok(email_suppressions::table
        .filter(email_suppressions::address.eq_any(&normalized))
        .select(email_suppressions::address)
        .load(conn)
        .await?)
}

/// Every suppressed address of the workspace with its reason, newest first.
pub async fn list(conn: &mut Conn, limit: i64) -> Result<Vec<(String, String)>, StoreError> {
    Ok(email_suppressions::table
        .order(email_suppressions::created_at.desc())
        .select((email_suppressions::address, email_suppressions::reason))
        .limit(super::clamp_limit(limit))
        .load(conn)
        .await?)
}

/// Addresses compare case-insensitively (their domain part always does, and every
/// provider we send through treats the local part so too).
fn normalize(address: &str) -> String {
    address.trim().to_lowercase()
}
