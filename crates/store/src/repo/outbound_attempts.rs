//! The `outbound_attempts` table: every attempt at delivering an event to an
//! endpoint — the URL it went to, the status code, the latency, the start of the
//! answer, and when the next attempt is due.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::clamp_limit;
use crate::{Conn, StoreError, models::OutboundAttempt, schema::outbound_attempts};

/// Whose attempts a list returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptsOf {
    Endpoint(Uuid),
    Event(Uuid),
    Delivery(Uuid),
}

/// Records an attempt.
pub async fn insert(conn: &mut Conn, attempt: &OutboundAttempt) -> Result<(), StoreError> {
    diesel::insert_into(outbound_attempts::table)
        .values(attempt)
        .execute(conn)
        .await?;
    Ok(())
}

/// Notes when the attempt after `attempt` of a delivery is due, unless that attempt
/// has a next one noted already (a failure before a new attempt was recorded must
/// not move an older attempt's note).
pub async fn set_next_attempt(
    conn: &mut Conn,
    delivery_id: Uuid,
    attempt: i32,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::update(
        outbound_attempts::table
            .filter(outbound_attempts::delivery_id.eq(delivery_id))
            .filter(outbound_attempts::attempt.eq(attempt))
            .filter(outbound_attempts::next_attempt_at.is_null()),
    )
    .set(outbound_attempts::next_attempt_at.eq(Some(at)))
    .execute(conn)
    .await?;
    Ok(())
}

/// A page of attempts, newest first, after the keyset `(attempted_at, id)` of the
/// previous page's last row.
pub async fn list(
    conn: &mut Conn,
    of: AttemptsOf,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<OutboundAttempt>, StoreError> {
    let mut query = outbound_attempts::table
        .order((
            outbound_attempts::attempted_at.desc(),
            outbound_attempts::id.desc(),
        ))
        .limit(clamp_limit(limit))
        .select(OutboundAttempt::as_select())
        .into_boxed();
    query = match of {
        AttemptsOf::Endpoint(id) => query.filter(outbound_attempts::endpoint_id.eq(id)),
        AttemptsOf::Event(id) => query.filter(outbound_attempts::event_id.eq(id)),
        AttemptsOf::Delivery(id) => query.filter(outbound_attempts::delivery_id.eq(id)),
    };
    if let Some((attempted_at, id)) = after {
        query = query.filter(
            outbound_attempts::attempted_at
                .lt(attempted_at)
                .or(outbound_attempts::attempted_at
                    .eq(attempted_at)
                    .and(outbound_attempts::id.lt(id))),
        );
    }
    Ok(query.load(conn).await?)
}
