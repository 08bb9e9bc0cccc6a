//! The `notifications` table: each notification is recorded once, by dedupe key,
//! before it is sent.

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
}

/// Records a notification unless its dedupe key was recorded before; `None` means
/// it was, and must not be sent again.
pub async fn insert_once(
    conn: &mut Conn,
    new: NewNotification<'_>,
) -> Result<Option<Notification>, StoreError> {
    Ok(diesel::insert_into(notifications::table)
        .values((
            notifications::workspace_id.eq(new.workspace_id.as_uuid()),
            notifications::kind.eq(new.kind),
            notifications::dedupe_key.eq(new.dedupe_key),
            notifications::alert_rule_id.eq(new.alert_rule_id),
            notifications::integration_id.eq(new.integration_id),
            notifications::recipients.eq(&new.recipients),
            notifications::subject.eq(new.subject),
        ))
        .on_conflict((notifications::workspace_id, notifications::dedupe_key))
        .do_nothing()
        .returning(Notification::as_returning())
        .get_result(conn)
        .await
        .optional()?)
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

/// The scoped workspace's notifications, newest first.
pub async fn list(conn: &mut Conn, limit: i64) -> Result<Vec<Notification>, StoreError> {
    Ok(notifications::table
        .order((notifications::created_at.desc(), notifications::id))
        .limit(clamp_limit(limit))
        .select(Notification::as_select())
        .load(conn)
        .await?)
}
