//! The `outbox` table: jobs written in the transaction of the row they serve, and
//! the relay's cross-tenant claim of them (see the migration that creates it).
//!
//! [`insert`] runs in a workspace's transaction like every repository function; the
//! other functions are the relay's path across workspaces, through the narrow
//! SECURITY DEFINER functions `junction_outbox_*`, on an unscoped connection.

use chrono::{DateTime, Utc};
use diesel::{
    QueryableByName,
    sql_types::{Array, BigInt, Double, Integer, Jsonb, Nullable, Text, Timestamptz},
};
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;
use uuid::Uuid;

use crate::{Conn, StoreError, models::Queue};

/// A job to write, in its workspace's transaction.
#[derive(Debug, Clone)]
pub struct NewOutboxJob<'a> {
    pub workspace_id: WorkspaceId,
    pub queue: Queue,
    /// The job's id on its queue (derived from the row it serves).
    pub job_id: &'a str,
    /// The job as it goes on the queue.
    pub job: serde_json::Value,
}

/// Writes a job to the outbox; it reaches its queue once the transaction commits.
pub async fn insert(conn: &mut Conn, job: NewOutboxJob<'_>) -> Result<(), StoreError> {
    insert_all(conn, std::slice::from_ref(&job)).await
}

/// Writes jobs to the outbox in one statement (a group commit's jobs cost one round
/// trip), in the order given, so their ids keep that order; they reach their queues
/// once the transaction commits.
pub async fn insert_all(conn: &mut Conn, jobs: &[NewOutboxJob<'_>]) -> Result<(), StoreError> {
    if jobs.is_empty() {
        return Ok(());
    }
    let workspaces: Vec<Uuid> = jobs.iter().map(|j| j.workspace_id.as_uuid()).collect();
    let queues: Vec<&str> = jobs.iter().map(|j| j.queue.as_str()).collect();
    let job_ids: Vec<&str> = jobs.iter().map(|j| j.job_id).collect();
    let payloads: Vec<&serde_json::Value> = jobs.iter().map(|j| &j.job).collect();
    diesel::sql_query(
        "INSERT INTO outbox (workspace_id, queue, job_id, job) \
         SELECT workspace_id, queue, job_id, job FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[]) \
         WITH ORDINALITY AS j(workspace_id, queue, job_id, job, n) ORDER BY n",
    )
    .bind::<Array<diesel::sql_types::Uuid>, _>(workspaces)
    .bind::<Array<Text>, _>(queues)
    .bind::<Array<Text>, _>(job_ids)
    .bind::<Array<Jsonb>, _>(payloads)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether the scoped workspace's outbox holds a job with this id (staged, not yet
/// on its queue).
pub async fn holds(conn: &mut Conn, job_id: &str) -> Result<bool, StoreError> {
    #[derive(QueryableByName)]
    struct Held {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        held: bool,
    }
    let row: Held =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM outbox WHERE job_id = $1) AS held")
            .bind::<Text, _>(job_id)
            .get_result(conn)
            .await?;
    Ok(row.held)
}

/// A job the relay took from the outbox.
#[derive(Debug, Clone, QueryableByName)]
pub struct OutboxJob {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub workspace_id: Uuid,
    #[diesel(sql_type = Text)]
    pub queue: String,
    #[diesel(sql_type = Text)]
    pub job_id: String,
    #[diesel(sql_type = Jsonb)]
    pub job: serde_json::Value,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    /// How many relays have taken it, this one included.
    #[diesel(sql_type = Integer)]
    pub relay_attempts: i32,
}

/// Takes up to `limit` jobs of every workspace, oldest first, holding them for
/// `lease` (cross-tenant path: `junction_outbox_claim`).
pub async fn claim(
    conn: &mut Conn,
    limit: i32,
    lease: std::time::Duration,
) -> Result<Vec<OutboxJob>, StoreError> {
    Ok(diesel::sql_query(
        "SELECT id, workspace_id, queue, job_id, job, created_at, relay_attempts \
         FROM junction_outbox_claim($1, make_interval(secs => $2))",
    )
    .bind::<Integer, _>(limit.max(1))
    .bind::<Double, _>(lease.as_secs_f64())
    .load(conn)
    .await?)
}

/// Removes jobs that are on their queues now.
pub async fn relayed(conn: &mut Conn, ids: &[i64]) -> Result<(), StoreError> {
    diesel::sql_query("SELECT junction_outbox_relayed($1)")
        .bind::<Array<BigInt>, _>(ids)
        .execute(conn)
        .await?;
    Ok(())
}

/// Keeps jobs that could not be relayed until `retry_at`, with the reason.
pub async fn failed(
    conn: &mut Conn,
    ids: &[i64],
    error: &str,
    retry_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::sql_query("SELECT junction_outbox_failed($1, $2, $3)")
        .bind::<Array<BigInt>, _>(ids)
        .bind::<Text, _>(error)
        .bind::<Timestamptz, _>(retry_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// How many jobs wait in the outbox, and when the oldest was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName)]
pub struct OutboxDepth {
    #[diesel(sql_type = BigInt)]
    pub pending: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub oldest: Option<DateTime<Utc>>,
}

/// The outbox's depth across workspaces (cross-tenant path: `junction_outbox_depth`).
pub async fn depth(conn: &mut Conn) -> Result<OutboxDepth, StoreError> {
    Ok(
        diesel::sql_query("SELECT pending, oldest FROM junction_outbox_depth()")
            .get_result(conn)
            .await?,
    )
}
