//! The `stream_states` table: per stream of an integration, the committed cursor,
//! the stream's settings (enabled, its own schedule), when it last finished a sync
//! and is due next, and the pass in progress.
//!
//! A row appears the first time anything is stored for a stream (its first page, a
//! setting); a stream without one is enabled, on the provider's default schedule and
//! never synced.

use chrono::{DateTime, Utc};
use diesel::{prelude::*, upsert::excluded};
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;
use uuid::Uuid;

use crate::{Conn, StoreError, models::StreamState, schema::stream_states};

/// The stored state of a stream, if it was ever committed.
pub async fn get(
    conn: &mut Conn,
    integration_id: Uuid,
    stream: &str,
) -> Result<Option<StreamState>, StoreError> {
    Ok(stream_states::table
        .find((integration_id, stream))
        .select(StreamState::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Every stream state of an integration.
pub async fn list(conn: &mut Conn, integration_id: Uuid) -> Result<Vec<StreamState>, StoreError> {
    list_of(conn, &[integration_id]).await
}

/// Every stream state of several integrations, by integration and stream.
pub async fn list_of(
    conn: &mut Conn,
    integration_ids: &[Uuid],
) -> Result<Vec<StreamState>, StoreError> {
    Ok(stream_states::table
        .filter(stream_states::integration_id.eq_any(integration_ids))
        .order((stream_states::integration_id, stream_states::stream))
        .select(StreamState::as_select())
        .load(conn)
        .await?)
}

/// Where a read of a stream starts: the committed cursor, and the pass the read
/// continues.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadStart {
    pub cursor: Option<serde_json::Value>,
    /// The pass in progress, or a new one when the last pass had ended.
    pub pass_id: Uuid,
    /// When the pass began (the database's clock, as records' `updated_at`).
    pub pass_started_at: DateTime<Utc>,
}

/// Starts reading a stream: its committed cursor, and the pass in progress — or a
/// new pass, begun now, when the previous one ended (or none ever began).
pub async fn begin_read(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    stream: &str,
) -> Result<ReadStart, StoreError> {
    let (cursor, pass_id, pass_started_at): (
        Option<serde_json::Value>,
        Option<Uuid>,
        Option<DateTime<Utc>>,
    ) = diesel::insert_into(stream_states::table)
        .values((
            stream_states::workspace_id.eq(workspace_id.as_uuid()),
            stream_states::integration_id.eq(integration_id),
            stream_states::stream.eq(stream),
            stream_states::pass_id.eq(Uuid::new_v4()),
            stream_states::pass_started_at.eq(diesel::dsl::sql::<
                diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
            >("now()")),
        ))
        .on_conflict((stream_states::integration_id, stream_states::stream))
        .do_update()
        .set((
            stream_states::pass_started_at.eq(diesel::dsl::sql::<
                diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
            >(
                "CASE WHEN stream_states.pass_id IS NULL THEN excluded.pass_started_at \
                 ELSE stream_states.pass_started_at END",
            )),
            stream_states::pass_id.eq(diesel::dsl::sql::<
                diesel::sql_types::Nullable<diesel::sql_types::Uuid>,
            >(
                "COALESCE(stream_states.pass_id, excluded.pass_id)"
            )),
        ))
        .returning((
            stream_states::cursor,
            stream_states::pass_id,
            stream_states::pass_started_at,
        ))
        .get_result(conn)
        .await?;
    match (pass_id, pass_started_at) {
        (Some(pass_id), Some(pass_started_at)) => Ok(ReadStart {
            cursor,
            pass_id,
            pass_started_at,
        }),
        _ => Err(StoreError::Invalid(format!(
            "the stream state of `{stream}` has no pass after one was begun"
        ))),
    }
}

/// The pass in progress of a stream, the row locked until the transaction ends (a
/// page is committed only within the pass it was read in).
pub async fn lock_pass(
    conn: &mut Conn,
    integration_id: Uuid,
    stream: &str,
) -> Result<Option<Uuid>, StoreError> {
    Ok(stream_states::table
        .find((integration_id, stream))
        .for_update()
        .select(stream_states::pass_id)
        .first::<Option<Uuid>>(conn)
        .await
        .optional()?
        .flatten())
}

/// Stores the cursor after a committed page. `None` keeps the stored cursor (and
/// counts the page).
pub async fn advance(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    stream: &str,
    cursor: Option<&serde_json::Value>,
) -> Result<(), StoreError> {
    let cursor_value = cursor.cloned();
    let insert = diesel::insert_into(stream_states::table).values((
        stream_states::workspace_id.eq(workspace_id.as_uuid()),
        stream_states::integration_id.eq(integration_id),
        stream_states::stream.eq(stream),
        stream_states::cursor.eq(&cursor_value),
        stream_states::pages_committed.eq(1i64),
    ));
    let conflict = insert.on_conflict((stream_states::integration_id, stream_states::stream));
    if cursor.is_some() {
        conflict
            .do_update()
            .set((
                stream_states::cursor.eq(excluded(stream_states::cursor)),
                stream_states::pages_committed.eq(stream_states::pages_committed + 1),
                stream_states::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?;
    } else {
        conflict
            .do_update()
            .set((
                stream_states::pages_committed.eq(stream_states::pages_committed + 1),
                stream_states::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Ends a stream's pass: the run `run_id` read it to its end at `at`, and it is due
/// again one schedule later — its own schedule as stored when the pass ends (a
/// reschedule during the read counts), or `default_schedule_seconds`.
pub async fn complete(
    conn: &mut Conn,
    integration_id: Uuid,
    stream: &str,
    run_id: Option<Uuid>,
    at: DateTime<Utc>,
    default_schedule_seconds: i32,
) -> Result<(), StoreError> {
    use diesel::sql_types::{Integer, Nullable, Timestamptz};
    let next_sync_at = diesel::dsl::sql::<Nullable<Timestamptz>>("")
        .bind::<Timestamptz, _>(at)
        .sql(" + make_interval(secs => COALESCE(stream_states.schedule_seconds, ")
        .bind::<Integer, _>(default_schedule_seconds)
        .sql("))");
    diesel::update(stream_states::table.find((integration_id, stream)))
        .set((
            stream_states::pass_id.eq(None::<Uuid>),
            stream_states::pass_started_at.eq(None::<DateTime<Utc>>),
            stream_states::last_synced_at.eq(Some(at)),
            stream_states::next_sync_at.eq(next_sync_at),
            stream_states::last_run_id.eq(run_id),
            stream_states::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Settings of a stream to change; `None` keeps a value.
#[derive(Debug, Clone, Default, PartialEq, AsChangeset)]
#[diesel(table_name = stream_states)]
pub struct StreamPatch {
    pub enabled: Option<bool>,
    /// `Some(None)`: back to the provider's default schedule.
    pub schedule_seconds: Option<Option<i32>>,
    /// `Some(None)`: due as soon as the integration is scheduled.
    pub next_sync_at: Option<Option<DateTime<Utc>>>,
}

impl StreamPatch {
    fn is_empty(&self) -> bool {
        self.enabled.is_none() && self.schedule_seconds.is_none() && self.next_sync_at.is_none()
    }
}

/// Applies a patch to a stream's state (created when the stream has none yet).
pub async fn update(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    stream: &str,
    patch: &StreamPatch,
) -> Result<StreamState, StoreError> {
    diesel::insert_into(stream_states::table)
        .values((
            stream_states::workspace_id.eq(workspace_id.as_uuid()),
            stream_states::integration_id.eq(integration_id),
            stream_states::stream.eq(stream),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    let target = stream_states::table.find((integration_id, stream));
    if patch.is_empty() {
        return Ok(target.select(StreamState::as_select()).first(conn).await?);
    }
    Ok(diesel::update(target)
        .set((patch, stream_states::updated_at.eq(diesel::dsl::now)))
        .returning(StreamState::as_returning())
        .get_result(conn)
        .await?)
}

/// Forgets a stream's cursor and its pass in progress, so the next sync reads it
/// whole from the start; its settings stay. Returns whether the stream had a state.
pub async fn reset(
    conn: &mut Conn,
    integration_id: Uuid,
    stream: &str,
) -> Result<bool, StoreError> {
    let changed = diesel::update(stream_states::table.find((integration_id, stream)))
        .set((
            stream_states::cursor.eq(None::<serde_json::Value>),
            stream_states::pass_id.eq(None::<Uuid>),
            stream_states::pass_started_at.eq(None::<DateTime<Utc>>),
            stream_states::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(changed > 0)
}
