//! The `outbound_events` table: the events sent to a workspace's webhook endpoints,
//! each recorded once per fact (its dedupe key) with the body every delivery sends.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;
use uuid::Uuid;

use super::clamp_limit;
use crate::{
    Conn, StoreError,
    models::{OutboundEvent, OutboundEventType},
    schema::outbound_events,
};

/// An event to record.
#[derive(Debug, Clone)]
pub struct NewOutboundEvent<'a> {
    pub id: Uuid,
    pub workspace_id: WorkspaceId,
    pub event_type: OutboundEventType,
    pub integration_id: Option<Uuid>,
    pub dedupe_key: &'a str,
    pub payload: &'a serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Which events a list returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundEventFilter {
    pub event_type: Option<OutboundEventType>,
    pub integration_id: Option<Uuid>,
}

/// Records an event unless one with its dedupe key exists; `None` means it does
/// (the fact was reported already).
pub async fn insert_once(
    conn: &mut Conn,
    new: NewOutboundEvent<'_>,
) -> Result<Option<OutboundEvent>, StoreError> {
    if !new.payload.is_object() {
        return Err(StoreError::Invalid(
            "an event's payload must be a JSON object".into(),
        ));
    }
    Ok(diesel::insert_into(outbound_events::table)
        .values((
            outbound_events::id.eq(new.id),
            outbound_events::workspace_id.eq(new.workspace_id.as_uuid()),
            outbound_events::event_type.eq(new.event_type),
            outbound_events::integration_id.eq(new.integration_id),
            outbound_events::dedupe_key.eq(new.dedupe_key),
            outbound_events::payload.eq(new.payload),
            outbound_events::created_at.eq(new.created_at),
        ))
        .on_conflict((outbound_events::workspace_id, outbound_events::dedupe_key))
        .do_nothing()
        .returning(OutboundEvent::as_returning())
        .get_result(conn)
        .await
        .optional()?)
}

/// One event.
pub async fn get(conn: &mut Conn, id: Uuid) -> Result<OutboundEvent, StoreError> {
    outbound_events::table
        .find(id)
        .select(OutboundEvent::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("event"))
}

/// A page of the scoped workspace's events matching `filter`, newest first, after
/// the keyset `(created_at, id)` of the previous page's last row.
pub async fn list(
    conn: &mut Conn,
    filter: &OutboundEventFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<OutboundEvent>, StoreError> {
    let mut query = outbound_events::table
        .order((
            outbound_events::created_at.desc(),
            outbound_events::id.desc(),
        ))
        .limit(clamp_limit(limit))
        .select(OutboundEvent::as_select())
        .into_boxed();
    if let Some(event_type) = filter.event_type {
        query = query.filter(outbound_events::event_type.eq(event_type));
    }
    if let Some(integration_id) = filter.integration_id {
        query = query.filter(outbound_events::integration_id.eq(integration_id));
    }
    if let Some((created_at, id)) = after {
        query = query.filter(
            outbound_events::created_at
                .lt(created_at)
                .or(outbound_events::created_at
                    .eq(created_at)
                    .and(outbound_events::id.lt(id))),
        );
    }
    Ok(query.load(conn).await?)
}

/// An integration whose lost grant no `connection.needs_reauth` event reported yet.
#[derive(Debug, Clone, PartialEq, Eq, diesel::QueryableByName)]
pub struct UnannouncedReauth {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub integration_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub workspace_id: Uuid,
}

/// Up to `limit` integrations of every workspace that need a reconnect no
/// `connection.needs_reauth` event reported since their last connect, in workspaces
/// with an endpoint for that event (cross-tenant path, the system role's:
/// `junction_unannounced_reauth`).
pub async fn unannounced_reauth(
    conn: &mut Conn,
    limit: i32,
) -> Result<Vec<UnannouncedReauth>, StoreError> {
    Ok(diesel::sql_query(
        "SELECT integration_id, workspace_id FROM junction_unannounced_reauth($1)",
    )
    .bind::<diesel::sql_types::Integer, _>(limit.max(1))
    .load(conn)
    .await?)
}

/// When the current transaction started by the database's clock: `now()`, which
/// every row the transaction writes carries as its `updated_at`.
pub async fn transaction_started_at(conn: &mut Conn) -> Result<DateTime<Utc>, StoreError> {
    Ok(
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Timestamptz>("now()"))
            .get_result(conn)
            .await?,
    )
}
