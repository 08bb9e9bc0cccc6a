//! The `webhook_endpoints` table: the client app's URLs that receive a workspace's
//! outbound events, each with its event-type filter (empty: every type).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;
use uuid::Uuid;

use super::clamp_limit;
use crate::{
    Conn, StoreError,
    models::{OutboundEventType, WebhookEndpoint},
    schema::webhook_endpoints,
};

/// An endpoint to create (already checked by the application layer).
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
}

/// The fields of an endpoint to change.
#[derive(Debug, Clone, Default)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// Creates an endpoint in the scoped workspace.
pub async fn create(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    id: Uuid,
    new: &NewEndpoint,
) -> Result<WebhookEndpoint, StoreError> {
    Ok(diesel::insert_into(webhook_endpoints::table)
        .values((
            webhook_endpoints::id.eq(id),
            webhook_endpoints::workspace_id.eq(workspace_id.as_uuid()),
            webhook_endpoints::url.eq(&new.url),
            webhook_endpoints::description.eq(&new.description),
            webhook_endpoints::event_types.eq(&new.event_types),
            webhook_endpoints::enabled.eq(new.enabled),
        ))
        .returning(WebhookEndpoint::as_returning())
        .get_result(conn)
        .await?)
}

/// A page of the scoped workspace's endpoints, oldest first, after the keyset
/// `(created_at, id)` of the previous page's last row.
pub async fn list(
    conn: &mut Conn,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<WebhookEndpoint>, StoreError> {
    let mut query = webhook_endpoints::table
        .order((webhook_endpoints::created_at, webhook_endpoints::id))
        .limit(clamp_limit(limit))
        .select(WebhookEndpoint::as_select())
        .into_boxed();
    if let Some((created_at, id)) = after {
        query = query.filter(
            webhook_endpoints::created_at
                .gt(created_at)
                .or(webhook_endpoints::created_at
                    .eq(created_at)
                    .and(webhook_endpoints::id.gt(id))),
        );
    }
    Ok(query.load(conn).await?)
}

/// One endpoint.
pub async fn get(conn: &mut Conn, id: Uuid) -> Result<WebhookEndpoint, StoreError> {
    webhook_endpoints::table
        .find(id)
        .select(WebhookEndpoint::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("webhook endpoint"))
}

/// Applies a patch. Enabling an endpoint clears why Junction had disabled it.
pub async fn update(
    conn: &mut Conn,
    id: Uuid,
    patch: &EndpointPatch,
) -> Result<WebhookEndpoint, StoreError> {
    let current = webhook_endpoints::table
        .find(id)
        .for_update()
        .select(WebhookEndpoint::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("webhook endpoint"))?;
    let enabled = patch.enabled.unwrap_or(current.enabled);
    Ok(diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::url.eq(patch.url.clone().unwrap_or(current.url)),
            webhook_endpoints::description
                .eq(patch.description.clone().unwrap_or(current.description)),
            webhook_endpoints::event_types
                .eq(patch.event_types.clone().unwrap_or(current.event_types)),
            webhook_endpoints::enabled.eq(enabled),
            webhook_endpoints::disabled_reason.eq(if enabled {
                None
            } else {
                current.disabled_reason
            }),
            webhook_endpoints::updated_at.eq(diesel::dsl::now),
        ))
        .returning(WebhookEndpoint::as_returning())
        .get_result(conn)
        .await?)
}

/// Disables an endpoint on Junction's own account (it answered 410 Gone), saying why.
pub async fn disable(
    conn: &mut Conn,
    id: Uuid,
    reason: &str,
) -> Result<WebhookEndpoint, StoreError> {
    diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::enabled.eq(false),
            webhook_endpoints::disabled_reason.eq(Some(reason)),
            webhook_endpoints::updated_at.eq(diesel::dsl::now),
        ))
        .returning(WebhookEndpoint::as_returning())
        .get_result(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("webhook endpoint"))
}

/// Deletes an endpoint with its secrets, deliveries and their attempts.
pub async fn delete(conn: &mut Conn, id: Uuid) -> Result<(), StoreError> {
    let deleted = diesel::delete(webhook_endpoints::table.find(id))
        .execute(conn)
        .await?;
    if deleted == 0 {
        return Err(StoreError::NotFound("webhook endpoint"));
    }
    Ok(())
}

/// The scoped workspace's enabled endpoints that receive `event_type` (their filter
/// names it, or is empty), oldest first.
pub async fn subscribed(
    conn: &mut Conn,
    event_type: OutboundEventType,
) -> Result<Vec<WebhookEndpoint>, StoreError> {
    let every_type: Vec<String> = Vec::new();
    Ok(webhook_endpoints::table
        .filter(webhook_endpoints::enabled.eq(true))
        .filter(
            webhook_endpoints::event_types
                .eq(every_type)
                .or(webhook_endpoints::event_types.contains(vec![event_type.as_str().to_owned()])),
        )
        .order((webhook_endpoints::created_at, webhook_endpoints::id))
        .select(WebhookEndpoint::as_select())
        .load(conn)
        .await?)
}
