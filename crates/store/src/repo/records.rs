//! The `records` table: objects read from providers, upserted by
//! (integration, stream, external id).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction_core::{Record, WorkspaceId};
use uuid::Uuid;

use super::{clamp_limit, sha256};
use crate::{Conn, StoreError, models::RecordRow, schema::records};

/// Rows per statement (of `upsert`, `mark_seen`, `mark_deleted`): bounds the arrays
/// one statement carries when a provider's page is very large.
const CHUNK: usize = 5000;

/// The content hash of a record: SHA-256 of its JSON. serde_json's maps are sorted,
/// so equal documents serialize to equal bytes.
pub fn content_hash(data: &serde_json::Value) -> Vec<u8> {
    sha256(data.to_string().as_bytes())
}

/// The upsert of [`upsert`]: the rows come as one array per column, unnested, so
/// the statement's text is the same for any number of rows — Postgres parses and
/// plans it once per connection (prepared), where a multi-row `VALUES` list of
/// thousands of parameters cost more to parse and plan than its rows cost to write.
///
/// A row it writes is marked seen by the full-refresh pass `$8` (when there is
/// one) in the same write: [`mark_seen`] then only touches the rows left alone,
/// and a first sync writes each row once, not twice.
const UPSERT: &str = "INSERT INTO records \
    (workspace_id, integration_id, stream, external_id, data, content_hash, provider_modified_at, \
     seen_in_pass) \
    SELECT $1, $2, $3, r.external_id, r.data, r.content_hash, r.provider_modified_at, $8 \
    FROM unnest($4::text[], $5::jsonb[], $6::bytea[], $7::timestamptz[]) \
        AS r (external_id, data, content_hash, provider_modified_at) \
    ON CONFLICT (integration_id, stream, external_id) DO UPDATE SET \
        data = excluded.data, content_hash = excluded.content_hash, \
        provider_modified_at = excluded.provider_modified_at, updated_at = now(), \
        deleted_at = NULL, seen_in_pass = COALESCE(excluded.seen_in_pass, records.seen_in_pass) \
    WHERE records.content_hash IS DISTINCT FROM excluded.content_hash \
        OR records.deleted_at IS NOT NULL";

/// Upserts records of one stream. A record whose content hash is unchanged is left
/// alone (its `updated_at` too), so writing the same page twice changes nothing —
/// unless it was marked deleted: read again, it exists upstream, and is live again.
/// The rows written are marked seen by `seen_in_pass` when it is a full-refresh
/// pass ([`mark_seen`] marks the rest). Returns how many rows were inserted or
/// changed. Duplicate ids within the batch keep the last occurrence.
pub async fn upsert(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    stream: &str,
    batch: &[Record],
    seen_in_pass: Option<Uuid>,
) -> Result<u64, StoreError> {
    use diesel::sql_types::{Array, Bytea, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
    let mut by_id: BTreeMap<&str, &Record> = BTreeMap::new();
    for record in batch {
        by_id.insert(record.external_id.as_str(), record);
    }
    let rows: Vec<&Record> = by_id.into_values().collect();
    let mut written = 0u64;
    for chunk in rows.chunks(CHUNK) {
        let ids: Vec<&str> = chunk.iter().map(|r| r.external_id.as_str()).collect();
        let data: Vec<&serde_json::Value> = chunk.iter().map(|r| &r.data).collect();
        let hashes: Vec<Vec<u8>> = chunk.iter().map(|r| content_hash(&r.data)).collect();
        let modified: Vec<Option<DateTime<Utc>>> = chunk.iter().map(|r| r.modified_at).collect();
        let changed = diesel::sql_query(UPSERT)
            .bind::<SqlUuid, _>(workspace_id.as_uuid())
            .bind::<SqlUuid, _>(integration_id)
            .bind::<Text, _>(stream)
            .bind::<Array<Text>, _>(&ids)
            .bind::<Array<Jsonb>, _>(&data)
            .bind::<Array<Bytea>, _>(&hashes)
            .bind::<Array<Nullable<Timestamptz>>, _>(&modified)
            .bind::<Nullable<SqlUuid>, _>(seen_in_pass)
            .execute(conn)
            .await?;
        written += changed as u64;
    }
    Ok(written)
}

/// Marks records of one stream as seen by the full-refresh pass `pass_id` (without
/// changing them otherwise: their `updated_at` stays). Rows already marked (the
/// upsert of the same page marks those it writes) are not written again.
pub async fn mark_seen(
    conn: &mut Conn,
    integration_id: Uuid,
    stream: &str,
    external_ids: &[&str],
    pass_id: Uuid,
) -> Result<(), StoreError> {
    for chunk in external_ids.chunks(CHUNK) {
        diesel::update(
            records::table
                .filter(records::integration_id.eq(integration_id))
                .filter(records::stream.eq(stream))
                .filter(records::external_id.eq_any(chunk))
                .filter(
                    records::seen_in_pass
                        .is_null()
                        .or(records::seen_in_pass.ne(pass_id)),
                ),
        )
        .set(records::seen_in_pass.eq(Some(pass_id)))
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// Marks deleted every live record of a full-refresh stream that the pass
/// `pass_id`, now ended, did not see and that nothing changed since the pass began
/// at `pass_started_at` (a record a webhook wrote meanwhile may sit on a page the
/// pass had already read). Returns how many were marked.
pub async fn mark_unseen_deleted(
    conn: &mut Conn,
    integration_id: Uuid,
    stream: &str,
    pass_id: Uuid,
    pass_started_at: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let marked = diesel::update(
        records::table
            .filter(records::integration_id.eq(integration_id))
            .filter(records::stream.eq(stream))
            .filter(records::deleted_at.is_null())
            .filter(records::updated_at.lt(pass_started_at))
            .filter(
                records::seen_in_pass
                    .is_null()
                    .or(records::seen_in_pass.ne(pass_id)),
            ),
    )
    .set((
        records::deleted_at.eq(now_nullable()),
        records::updated_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await?;
    Ok(marked as u64)
}

/// Marks live records of one stream deleted (a webhook's delete event); ids Junction
/// does not have, or has marked already, change nothing. Returns how many were
/// marked.
pub async fn mark_deleted(
    conn: &mut Conn,
    integration_id: Uuid,
    stream: &str,
    external_ids: &[&str],
) -> Result<u64, StoreError> {
    let mut marked = 0u64;
    for chunk in external_ids.chunks(CHUNK) {
        let changed = diesel::update(
            records::table
                .filter(records::integration_id.eq(integration_id))
                .filter(records::stream.eq(stream))
                .filter(records::external_id.eq_any(chunk))
                .filter(records::deleted_at.is_null()),
        )
        .set((
            records::deleted_at.eq(now_nullable()),
            records::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
        marked += changed as u64;
    }
    Ok(marked)
}

/// How many records an integration keeps per stream: `(stream, live, deleted)`.
pub async fn counts_by_stream(
    conn: &mut Conn,
    integration_id: Uuid,
) -> Result<Vec<(String, i64, i64)>, StoreError> {
    #[derive(diesel::QueryableByName)]
    struct Counts {
        #[diesel(sql_type = diesel::sql_types::Text)]
        stream: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        live: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        deleted: i64,
    }
    let rows: Vec<Counts> = diesel::sql_query(
        "SELECT stream, count(*) FILTER (WHERE deleted_at IS NULL) AS live, \
         count(*) FILTER (WHERE deleted_at IS NOT NULL) AS deleted \
         FROM records WHERE integration_id = $1 GROUP BY stream ORDER BY stream",
    )
    .bind::<diesel::sql_types::Uuid, _>(integration_id)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.stream, row.live, row.deleted))
        .collect())
}

/// A page of records of one stream, in `(updated_at, external_id)` order, optionally
/// only those changed after `modified_after`, after the keyset of the previous page.
/// Records marked deleted are in it (with their `deleted_at`): followers of changes
/// learn of deletions in the same order.
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

/// The database's `now()` for a nullable timestamp column (the transaction's time,
/// as `updated_at` gets it).
fn now_nullable()
-> diesel::expression::SqlLiteral<diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>> {
    diesel::dsl::sql("now()")
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
