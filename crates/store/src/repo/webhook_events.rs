//! The `webhook_events` table: verified inbound webhooks, raw, deduplicated by the
//! provider's event id.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;
use uuid::Uuid;

use super::clamp_limit;
use crate::{
    Conn, StoreError,
    models::{WebhookEventRow, WebhookStatus},
    schema::webhook_events,
};

/// A verified event to store.
#[derive(Debug, Clone)]
pub struct NewWebhookEvent<'a> {
    pub workspace_id: WorkspaceId,
    pub integration_id: Uuid,
    pub provider: &'a str,
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub headers: serde_json::Value,
    pub body: &'a [u8],
}

/// Stores an event unless one with the same provider event id is already stored for
/// the integration; returns `None` for such a redelivery.
pub async fn insert_if_new(
    conn: &mut Conn,
    event: NewWebhookEvent<'_>,
) -> Result<Option<WebhookEventRow>, StoreError> {
    Ok(diesel::insert_into(webhook_events::table)
        .values((
            webhook_events::workspace_id.eq(event.workspace_id.as_uuid()),
            webhook_events::integration_id.eq(event.integration_id),
            webhook_events::provider.eq(event.provider),
            webhook_events::event_id.eq(event.event_id),
            webhook_events::event_type.eq(event.event_type),
            webhook_events::headers.eq(&event.headers),
            webhook_events::body.eq(event.body),
        ))
        .on_conflict((webhook_events::integration_id, webhook_events::event_id))
        .do_nothing()
        .returning(WebhookEventRow::as_returning())
        .get_result(conn)
        .await
        .optional()?)
}

/// One event of the scoped workspace.
pub async fn get(conn: &mut Conn, id: Uuid) -> Result<WebhookEventRow, StoreError> {
    webhook_events::table
        .find(id)
        .select(WebhookEventRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("webhook event"))
}

/// Moves an event to a processing state, counting attempts when processing starts.
pub async fn set_status(
    conn: &mut Conn,
    id: Uuid,
    status: WebhookStatus,
    error_message: Option<&str>,
) -> Result<(), StoreError> {
    let attempts_delta = i32::from(status == WebhookStatus::Processing);
    let processed_at = (status == WebhookStatus::Processed).then(chrono::Utc::now);
    diesel::update(webhook_events::table.find(id))
        .set((
            webhook_events::status.eq(status),
            webhook_events::attempts.eq(webhook_events::attempts + attempts_delta),
            webhook_events::error_message.eq(error_message),
            webhook_events::processed_at.eq(processed_at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Recent events of an integration, newest first.
pub async fn list_for_integration(
    conn: &mut Conn,
    integration_id: Uuid,
    limit: i64,
) -> Result<Vec<WebhookEventRow>, StoreError> {
    Ok(webhook_events::table
        .filter(webhook_events::integration_id.eq(integration_id))
        .order((webhook_events::received_at.desc(), webhook_events::id))
        .limit(clamp_limit(limit))
        .select(WebhookEventRow::as_select())
        .load(conn)
        .await?)
}
