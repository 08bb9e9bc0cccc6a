//! The `stream_states` table: the committed cursor of each stream of an integration.

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
    Ok(stream_states::table
        .filter(stream_states::integration_id.eq(integration_id))
        .order(stream_states::stream)
        .select(StreamState::as_select())
        .load(conn)
        .await?)
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

/// Forgets a stream's cursor, so the next sync reads it from the start.
pub async fn reset(
    conn: &mut Conn,
    integration_id: Uuid,
    stream: Option<&str>,
) -> Result<usize, StoreError> {
    let target = stream_states::table.filter(stream_states::integration_id.eq(integration_id));
    Ok(match stream {
        Some(stream) => {
            diesel::delete(target.filter(stream_states::stream.eq(stream)))
                .execute(conn)
                .await?
        }
        None => diesel::delete(target).execute(conn).await?,
    })
}
