//! The `outbound_deliveries` table: one row per event and endpoint, the unit the
//! `outbound` queue's job delivers, with where it stands (pending, succeeded, or
//! failed for good and dead-lettered) and when its next attempt is due.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;
use uuid::Uuid;

use crate::{
    Conn, StoreError,
    models::{DeliveryStatus, OutboundDelivery},
    schema::outbound_deliveries,
};

/// Creates the pending delivery of an event to an endpoint.
pub async fn create(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    event_id: Uuid,
    endpoint_id: Uuid,
) -> Result<OutboundDelivery, StoreError> {
    Ok(diesel::insert_into(outbound_deliveries::table)
        .values((
            outbound_deliveries::workspace_id.eq(workspace_id.as_uuid()),
            outbound_deliveries::event_id.eq(event_id),
            outbound_deliveries::endpoint_id.eq(endpoint_id),
        ))
        .returning(OutboundDelivery::as_returning())
        .get_result(conn)
        .await?)
}

/// One delivery.
pub async fn get(conn: &mut Conn, id: Uuid) -> Result<OutboundDelivery, StoreError> {
    outbound_deliveries::table
        .find(id)
        .select(OutboundDelivery::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("delivery"))
}

/// Every delivery of an event, oldest first.
pub async fn for_event(
    conn: &mut Conn,
    event_id: Uuid,
) -> Result<Vec<OutboundDelivery>, StoreError> {
    Ok(outbound_deliveries::table
        .filter(outbound_deliveries::event_id.eq(event_id))
        .order((outbound_deliveries::created_at, outbound_deliveries::id))
        .select(OutboundDelivery::as_select())
        .load(conn)
        .await?)
}

/// Every delivery of the events `event_ids`, oldest first.
pub async fn for_events(
    conn: &mut Conn,
    event_ids: &[Uuid],
) -> Result<Vec<OutboundDelivery>, StoreError> {
    Ok(outbound_deliveries::table
        .filter(outbound_deliveries::event_id.eq_any(event_ids))
        .order((outbound_deliveries::created_at, outbound_deliveries::id))
        .select(OutboundDelivery::as_select())
        .load(conn)
        .await?)
}

/// Locks a delivery for an attempt and notes the job running it.
pub async fn begin_attempt(
    conn: &mut Conn,
    id: Uuid,
    job_id: &str,
) -> Result<OutboundDelivery, StoreError> {
    diesel::update(outbound_deliveries::table.find(id))
        .set(outbound_deliveries::job_id.eq(Some(job_id)))
        .returning(OutboundDelivery::as_returning())
        .get_result(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("delivery"))
}

/// What one attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptOutcome<'a> {
    pub succeeded: bool,
    pub status_code: Option<i32>,
    pub error: Option<&'a str>,
    pub at: DateTime<Utc>,
}

/// Counts an attempt and records its outcome: a success ends the delivery, a
/// failure leaves it pending until its retry is scheduled (or it is dead-lettered).
/// Returns the delivery, whose `attempts` is this attempt's number.
pub async fn record_attempt(
    conn: &mut Conn,
    id: Uuid,
    outcome: AttemptOutcome<'_>,
) -> Result<OutboundDelivery, StoreError> {
    let status = if outcome.succeeded {
        DeliveryStatus::Succeeded
    } else {
        DeliveryStatus::Pending
    };
    Ok(diesel::update(outbound_deliveries::table.find(id))
        .set((
            outbound_deliveries::status.eq(status),
            outbound_deliveries::attempts.eq(outbound_deliveries::attempts + 1),
            outbound_deliveries::last_status_code.eq(outcome.status_code),
            outbound_deliveries::last_error.eq(outcome.error),
            outbound_deliveries::next_attempt_at.eq(None::<DateTime<Utc>>),
            outbound_deliveries::succeeded_at.eq(outcome.succeeded.then_some(outcome.at)),
            outbound_deliveries::updated_at.eq(outcome.at),
        ))
        .returning(OutboundDelivery::as_returning())
        .get_result(conn)
        .await?)
}

/// The delivery's next attempt is due at `at`.
pub async fn schedule_retry(
    conn: &mut Conn,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<OutboundDelivery, StoreError> {
    Ok(diesel::update(outbound_deliveries::table.find(id))
        .set((
            outbound_deliveries::status.eq(DeliveryStatus::Pending),
            outbound_deliveries::next_attempt_at.eq(Some(at)),
        ))
        .returning(OutboundDelivery::as_returning())
        .get_result(conn)
        .await?)
}

/// The delivery failed for good (its job is a dead letter, which may be replayed).
pub async fn fail(
    conn: &mut Conn,
    id: Uuid,
    error: &str,
    at: DateTime<Utc>,
) -> Result<OutboundDelivery, StoreError> {
    Ok(diesel::update(outbound_deliveries::table.find(id))
        .set((
            outbound_deliveries::status.eq(DeliveryStatus::Failed),
            outbound_deliveries::next_attempt_at.eq(None::<DateTime<Utc>>),
            outbound_deliveries::last_error.eq(Some(error)),
            outbound_deliveries::updated_at.eq(at),
        ))
        .returning(OutboundDelivery::as_returning())
        .get_result(conn)
        .await?)
}
