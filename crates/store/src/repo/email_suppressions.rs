//! The `email_suppressions` table: addresses a workspace's emails must skip
//! (bounced, complained), recorded from the email provider's webhooks or added by
//! hand through the API.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;
use uuid::Uuid;

use crate::{Conn, StoreError, models::EmailSuppression, schema::email_suppressions};

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

/// The scoped workspace's suppressed addresses, newest first (ties by address,
/// descending), after the keyset `(created_at, address)` of the previous page's last
/// row.
pub async fn list(
    conn: &mut Conn,
    before: Option<(DateTime<Utc>, String)>,
    limit: i64,
) -> Result<Vec<EmailSuppression>, StoreError> {
    let mut query = email_suppressions::table
        .order((
            email_suppressions::created_at.desc(),
            email_suppressions::address.desc(),
        ))
        .limit(super::clamp_limit(limit))
        .select(EmailSuppression::as_select())
        .into_boxed();
    if let Some((created_at, address)) = before {
        query = query.filter(
            email_suppressions::created_at
                .lt(created_at)
                .or(email_suppressions::created_at
                    .eq(created_at)
                    .and(email_suppressions::address.lt(address))),
        );
    }
    Ok(query.load(conn).await?)
}

/// One suppressed address (compared case-insensitively).
pub async fn get(conn: &mut Conn, address: &str) -> Result<EmailSuppression, StoreError> {
    email_suppressions::table
        .filter(email_suppressions::address.eq(normalize(address)))
        .select(EmailSuppression::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("email suppression"))
}

/// Takes an address off the list, so the workspace's emails reach it again; whether
/// it was on it.
pub async fn remove(conn: &mut Conn, address: &str) -> Result<bool, StoreError> {
    let deleted = diesel::delete(
        email_suppressions::table.filter(email_suppressions::address.eq(normalize(address))),
    )
    .execute(conn)
    .await?;
    Ok(deleted > 0)
}

/// Addresses compare case-insensitively (their domain part always does, and every
/// provider we send through treats the local part so too).
pub fn normalize(address: &str) -> String {
    address.trim().to_lowercase()
}
