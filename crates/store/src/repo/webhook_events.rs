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

/// Finds the workspace of the integration a webhook URL names, when it exists and is
/// of `provider`. Cross-tenant path (providers call without an API key): runs the
/// `junction_integration_workspace` SQL function, which answers nothing else.
pub async fn workspace_of_integration(
    conn: &mut Conn,
    integration_id: Uuid,
    provider: &str,
) -> Result<Option<WorkspaceId>, StoreError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Uuid>)]
        workspace_id: Option<Uuid>,
    }
    let row: Row =
        diesel::sql_query("SELECT junction_integration_workspace($1, $2) AS workspace_id")
            .bind::<diesel::sql_types::Uuid, _>(integration_id)
            .bind::<diesel::sql_types::Text, _>(provider)
            .get_result(conn)
            .await?;
    Ok(row.workspace_id.map(WorkspaceId))
}

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
    Ok(insert_new(conn, std::slice::from_ref(&event)).await?.pop())
}

/// Stores each event unless one with the same provider event id is already stored
/// for its integration, in one statement (a group commit of concurrent deliveries
/// costs one round trip, not one per event); returns the rows stored, in no
/// particular order: an event left out was a redelivery. The caller gives each
/// `(integration_id, event_id)` at most once.
pub async fn insert_new(
    conn: &mut Conn,
    events: &[NewWebhookEvent<'_>],
) -> Result<Vec<WebhookEventRow>, StoreError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<_> = events
        .iter()
        .map(|event| {
            (
                webhook_events::workspace_id.eq(event.workspace_id.as_uuid()),
                webhook_events::integration_id.eq(event.integration_id),
                webhook_events::provider.eq(event.provider),
                webhook_events::event_id.eq(event.event_id),
                webhook_events::event_type.eq(event.event_type),
                webhook_events::headers.eq(&event.headers),
                webhook_events::body.eq(event.body),
            )
        })
        .collect();
    Ok(diesel::insert_into(webhook_events::table)
        .values(rows)
        .on_conflict((webhook_events::integration_id, webhook_events::event_id))
        .do_nothing()
        .returning(WebhookEventRow::as_returning())
        .get_results(conn)
        .await?)
}

/// Puts an event back to `received` for a replay (error cleared, attempts kept, the
/// replay counted); returns the event as it is now.
pub async fn reopen(conn: &mut Conn, id: Uuid) -> Result<WebhookEventRow, StoreError> {
    diesel::update(webhook_events::table.find(id))
        .set((
            webhook_events::status.eq(WebhookStatus::Received),
            webhook_events::error_message.eq(None::<String>),
            webhook_events::processed_at.eq(None::<chrono::DateTime<chrono::Utc>>),
            webhook_events::replays.eq(webhook_events::replays + 1),
        ))
        .returning(WebhookEventRow::as_returning())
        .get_result(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("webhook event"))
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
    list(
        conn,
        &WebhookEventFilter {
            integration_id: Some(integration_id),
            ..WebhookEventFilter::default()
        },
        None,
        limit,
    )
    .await
}

/// Which events [`list`] returns.
#[derive(Debug, Clone, Default)]
pub struct WebhookEventFilter {
    pub integration_id: Option<Uuid>,
    pub status: Option<WebhookStatus>,
    pub event_type: Option<String>,
}

/// Events of the scoped workspace, newest first, before the keyset of the previous
/// page.
pub async fn list(
    conn: &mut Conn,
    filter: &WebhookEventFilter,
    before: Option<(chrono::DateTime<chrono::Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<WebhookEventRow>, StoreError> {
    let mut query = webhook_events::table
        .order((
            webhook_events::received_at.desc(),
            webhook_events::id.desc(),
        ))
        .limit(clamp_limit(limit))
        .select(WebhookEventRow::as_select())
        .into_boxed();
    if let Some(integration_id) = filter.integration_id {
        query = query.filter(webhook_events::integration_id.eq(integration_id));
    }
    if let Some(status) = filter.status {
        query = query.filter(webhook_events::status.eq(status));
    }
    if let Some(event_type) = &filter.event_type {
        query = query.filter(webhook_events::event_type.eq(event_type.clone()));
    }
    if let Some((received_at, id)) = before {
        query = query.filter(
            webhook_events::received_at
                .lt(received_at)
                .or(webhook_events::received_at
                    .eq(received_at)
                    .and(webhook_events::id.lt(id))),
        );
    }
    Ok(query.load(conn).await?)
}
