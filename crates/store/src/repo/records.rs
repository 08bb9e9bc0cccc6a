//! The `records` table: objects read from providers, upserted by
//! (integration, stream, external id).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::{prelude::*, upsert::excluded};
use diesel_async::RunQueryDsl;
use junction_core::{Record, WorkspaceId};
use uuid::Uuid;

use super::{clamp_limit, sha256};
use crate::{Conn, StoreError, models::RecordRow, schema::records};

/// Rows per INSERT statement (7 parameters a row, far below Postgres's 65,535).
const CHUNK: usize = 1000;

/// The content hash of a record: SHA-256 of its JSON. serde_json's maps are sorted,
/// so equal documents serialize to equal bytes.
pub fn content_hash(data: &serde_json::Value) -> Vec<u8> {
    sha256(data.to_string().as_bytes())
}

/// Upserts records of one stream. A record whose content hash is unchanged is left
/// alone (its `updated_at` too), so writing the same page twice changes nothing.
/// Returns how many rows were inserted or changed. Duplicate ids within the batch
/// keep the last occurrence.
pub async fn upsert(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    stream: &str,
    batch: &[Record],
) -> Result<u64, StoreError> {
    let mut by_id: BTreeMap<&str, &Record> = BTreeMap::new();
    for record in batch {
        by_id.insert(record.external_id.as_str(), record);
    }
    let rows: Vec<_> = by_id
        .values()
        .map(|record| {
            (
                records::workspace_id.eq(workspace_id.as_uuid()),
                records::integration_id.eq(integration_id),
                records::stream.eq(stream),
                records::external_id.eq(record.external_id.as_str()),
                records::data.eq(&record.data),
                records::content_hash.eq(content_hash(&record.data)),
                records::provider_modified_at.eq(record.modified_at),
            )
        })
        .collect();
    // The ON CONFLICT ... WHERE clause comes from FilterDsl on the insert statement.
    use diesel::query_dsl::methods::FilterDsl;
    let mut written = 0u64;
    for chunk in rows.chunks(CHUNK) {
        let changed = diesel::insert_into(records::table)
            .values(chunk)
            .on_conflict((
                records::integration_id,
                records::stream,
                records::external_id,
            ))
            .do_update()
            .set((
                records::data.eq(excluded(records::data)),
                records::content_hash.eq(excluded(records::content_hash)),
                records::provider_modified_at.eq(excluded(records::provider_modified_at)),
                records::updated_at.eq(diesel::dsl::now),
            ))
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                "records.content_hash IS DISTINCT FROM excluded.content_hash",
            ))
            .execute(conn)
            .await?;
        written += changed as u64;
    }
    Ok(written)
}

/// A page of records of one stream, in `(updated_at, external_id)` order, optionally
/// only those changed after `modified_after`, after the keyset of the previous page.
pub async fn list(
    conn: &mut Conn,
    integration_id: Uuid,
    stream: &str,
    modified_after: Option<DateTime<Utc>>,
    after: Option<(DateTime<Utc>, String)>,
    limit: i64,
) -> Result<Vec<RecordRow>, StoreError> {
    let mut query = records::table
        .filter(records::integration_id.eq(integration_id))
        .filter(records::stream.eq(stream.to_owned()))
        .order((records::updated_at, records::external_id))
        .limit(clamp_limit(limit))
        .select(RecordRow::as_select())
        .into_boxed();
    if let Some(since) = modified_after {
        query = query.filter(records::updated_at.gt(since));
    }
    if let Some((updated_at, external_id)) = after {
        query = query.filter(
            records::updated_at.gt(updated_at).or(records::updated_at
                .eq(updated_at)
                .and(records::external_id.gt(external_id))),
        );
    }
    Ok(query.load(conn).await?)
}

/// How many records of a stream changed after `since` (what `list` with
/// `modified_after = since` returns), and how many of those first appeared then.
pub async fn changed_since(
    conn: &mut Conn,
    integration_id: Uuid,
    stream: &str,
    since: DateTime<Utc>,
) -> Result<(i64, i64), StoreError> {
    let changed = records::table
        .filter(records::integration_id.eq(integration_id))
        .filter(records::stream.eq(stream.to_owned()))
        .filter(records::updated_at.gt(since));
    let total: i64 = changed.clone().count().get_result(conn).await?;
    let created: i64 = changed
        .filter(records::first_seen_at.gt(since))
        .count()
        .get_result(conn)
        .await?;
    Ok((total, created))
}

/// How many records an integration has in a stream.
pub async fn count(conn: &mut Conn, integration_id: Uuid, stream: &str) -> Result<i64, StoreError> {
    Ok(records::table
        .filter(records::integration_id.eq(integration_id))
        .filter(records::stream.eq(stream.to_owned()))
        .count()
        .get_result(conn)
        .await?)
}
