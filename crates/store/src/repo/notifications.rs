//! The `notifications` table: each notification is recorded once, by dedupe key,
//! before it is sent, with what it reports (`details`) and its delivery outcome.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;
use uuid::Uuid;

use super::clamp_limit;
use crate::{
    Conn, StoreError,
    models::{Notification, NotificationKind, NotificationStatus},
    schema::notifications,
};

/// A notification to record.
#[derive(Debug, Clone)]
pub struct NewNotification<'a> {
    pub workspace_id: WorkspaceId,
    pub kind: NotificationKind,
    pub dedupe_key: &'a str,
    pub alert_rule_id: Option<Uuid>,
    pub integration_id: Option<Uuid>,
    pub recipients: Vec<String>,
    pub subject: &'a str,
    /// What it reports (a JSON object), rendered into the email when it is sent.
    pub details: serde_json::Value,
    /// `pending` (a delivery job goes with it) or `awaiting_digest` (the workspace's
    /// daily digest will carry it).
    pub status: NotificationStatus,
}

/// Records a notification unless its dedupe key was recorded before; `None` means
/// it was, and must not be sent again.
pub async fn insert_once(
    conn: &mut Conn,
    new: NewNotification<'_>,
) -> Result<Option<Notification>, StoreError> {
    if !new.details.is_object() {
        return Err(StoreError::Invalid(
            "notification details must be a JSON object".into(),
        ));
    }
    if !matches!(
        new.status,
        NotificationStatus::Pending | NotificationStatus::AwaitingDigest
    ) {
        return Err(StoreError::Invalid(format!(
            "a new notification is pending or awaiting a digest, not {}",
            new.status
        )));
    }
    Ok(diesel::insert_into(notifications::table)
        .values((
            notifications::workspace_id.eq(new.workspace_id.as_uuid()),
            notifications::kind.eq(new.kind),
            notifications::dedupe_key.eq(new.dedupe_key),
            notifications::alert_rule_id.eq(new.alert_rule_id),
            notifications::integration_id.eq(new.integration_id),
            notifications::recipients.eq(&new.recipients),
            notifications::subject.eq(new.subject),
            notifications::details.eq(&new.details),
            notifications::status.eq(new.status),
        ))
        .on_conflict((notifications::workspace_id, notifications::dedupe_key))
        .do_nothing()
        .returning(Notification::as_returning())
        .get_result(conn)
        .await
        .optional()?)
}

/// One notification.
pub async fn get(conn: &mut Conn, id: Uuid) -> Result<Notification, StoreError> {
    notifications::table
        .find(id)
        .select(Notification::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("notification"))
}

/// Records the delivery outcome.
pub async fn set_status(
    conn: &mut Conn,
    id: Uuid,
    status: NotificationStatus,
    provider_message_id: Option<&str>,
    error_message: Option<&str>,
) -> Result<(), StoreError> {
    let sent_at = (status == NotificationStatus::Sent).then(chrono::Utc::now);
    diesel::update(notifications::table.find(id))
        .set((
            notifications::status.eq(status),
            notifications::provider_message_id.eq(provider_message_id),
            notifications::error_message.eq(error_message),
            notifications::sent_at.eq(sent_at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Records why the last attempt of a notification still `pending` failed (a retry
/// follows); a notification already delivered or given up is left alone.
pub async fn note_attempt_failed(
    conn: &mut Conn,
    id: Uuid,
    error_message: &str,
) -> Result<(), StoreError> {
    diesel::update(
        notifications::table
            .find(id)
            .filter(notifications::status.eq(NotificationStatus::Pending)),
    )
    .set(notifications::error_message.eq(Some(error_message)))
    .execute(conn)
    .await?;
    Ok(())
}

/// The scoped workspace's notifications, newest first, optionally of one status,
/// before the keyset `(created_at, id)` of the previous page's last row.
pub async fn list(
    conn: &mut Conn,
    status: Option<NotificationStatus>,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Notification>, StoreError> {
    let mut query = notifications::table
        .order((notifications::created_at.desc(), notifications::id.desc()))
        .limit(clamp_limit(limit))
        .select(Notification::as_select())
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(notifications::status.eq(status));
    }
    if let Some((created_at, id)) = before {
        query = query.filter(
            notifications::created_at
                .lt(created_at)
                .or(notifications::created_at
                    .eq(created_at)
                    .and(notifications::id.lt(id))),
        );
    }
    Ok(query.load(conn).await?)
}

/// Up to `limit` notices of the scoped workspace waiting for the daily digest, oldest
/// first, locked until the transaction ends (a digest gathers each once).
pub async fn awaiting_digest(conn: &mut Conn, limit: i64) -> Result<Vec<Notification>, StoreError> {
    Ok(notifications::table
        .filter(notifications::status.eq(NotificationStatus::AwaitingDigest))
        .order((notifications::created_at, notifications::id))
        .limit(clamp_limit(limit))
        .select(Notification::as_select())
        .for_update()
        .load(conn)
        .await?)
}

/// Marks notices as carried by a digest (`digested`, `sent_at` now).
pub async fn mark_digested(conn: &mut Conn, ids: &[Uuid]) -> Result<(), StoreError> {
    diesel::update(
        notifications::table
            .filter(notifications::id.eq_any(ids))
            .filter(notifications::status.eq(NotificationStatus::AwaitingDigest)),
    )
    .set((
        notifications::status.eq(NotificationStatus::Digested),
        notifications::sent_at.eq(Some(chrono::Utc::now())),
    ))
    .execute(conn)
    .await?;
    Ok(())
}

/// Turns every notice still waiting for a digest into a pending notification (the
/// workspace went back to immediate delivery) and returns them, so their delivery
/// jobs can be staged in the same transaction.
pub async fn release_awaiting(conn: &mut Conn) -> Result<Vec<Notification>, StoreError> {
    Ok(diesel::update(
        notifications::table.filter(notifications::status.eq(NotificationStatus::AwaitingDigest)),
    )
    .set(notifications::status.eq(NotificationStatus::Pending))
    .returning(Notification::as_returning())
    .get_results(conn)
    .await?)
}

/// Whether the scoped workspace recorded a notification under `dedupe_key`.
pub async fn exists(conn: &mut Conn, dedupe_key: &str) -> Result<bool, StoreError> {
    Ok(diesel::select(diesel::dsl::exists(
        notifications::table.filter(notifications::dedupe_key.eq(dedupe_key)),
    ))
    .get_result(conn)
    .await?)
}
