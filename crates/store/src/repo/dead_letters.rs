//! The `dead_letters` table: jobs that exhausted their retries (or failed for good),
//! kept with every attempt so ops can inspect and replay them.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;
use uuid::Uuid;

use super::clamp_limit;
use crate::{
    Conn, StoreError,
    models::{DeadLetter, Queue},
    schema::dead_letters,
};

/// A job to bury.
#[derive(Debug, Clone)]
pub struct NewDeadLetter<'a> {
    pub workspace_id: WorkspaceId,
    pub integration_id: Option<Uuid>,
    pub queue: Queue,
    pub job_id: &'a str,
    pub job: serde_json::Value,
    pub error_code: &'a str,
    pub error_message: &'a str,
    pub attempts: i32,
    pub attempt_log: serde_json::Value,
    pub first_failed_at: DateTime<Utc>,
}

/// Stores a dead letter. The same job id dead twice (a redelivered job) keeps one
/// row; the call returns it either way.
pub async fn insert(conn: &mut Conn, letter: NewDeadLetter<'_>) -> Result<DeadLetter, StoreError> {
    let inserted = diesel::insert_into(dead_letters::table)
        .values((
            dead_letters::workspace_id.eq(letter.workspace_id.as_uuid()),
            dead_letters::integration_id.eq(letter.integration_id),
            dead_letters::queue.eq(letter.queue),
            dead_letters::job_id.eq(letter.job_id),
            dead_letters::job.eq(&letter.job),
            dead_letters::error_code.eq(letter.error_code),
            dead_letters::error_message.eq(letter.error_message),
            dead_letters::attempts.eq(letter.attempts),
            dead_letters::attempt_log.eq(&letter.attempt_log),
            dead_letters::first_failed_at.eq(letter.first_failed_at),
        ))
        .on_conflict((dead_letters::queue, dead_letters::job_id))
        .do_nothing()
        .returning(DeadLetter::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    match inserted {
        Some(row) => Ok(row),
        None => Ok(dead_letters::table
            .filter(dead_letters::queue.eq(letter.queue))
            .filter(dead_letters::job_id.eq(letter.job_id))
            .select(DeadLetter::as_select())
            .first(conn)
            .await?),
    }
}

/// One dead letter of the scoped workspace.
pub async fn get(conn: &mut Conn, id: Uuid) -> Result<DeadLetter, StoreError> {
    dead_letters::table
        .find(id)
        .select(DeadLetter::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("dead letter"))
}

/// Which dead letters to list or replay.
#[derive(Debug, Clone, Default)]
pub struct DeadLetterFilter {
    pub queue: Option<Queue>,
    pub integration_id: Option<Uuid>,
    pub error_code: Option<String>,
    /// Only those not replayed yet.
    pub pending_only: bool,
}

/// Dead letters of the scoped workspace, newest first, before a keyset.
pub async fn list(
    conn: &mut Conn,
    filter: &DeadLetterFilter,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<DeadLetter>, StoreError> {
    let mut query = dead_letters::table
        .order((dead_letters::dead_at.desc(), dead_letters::id.desc()))
        .limit(clamp_limit(limit))
        .select(DeadLetter::as_select())
        .into_boxed();
    if let Some(queue) = filter.queue {
        query = query.filter(dead_letters::queue.eq(queue));
    }
    if let Some(id) = filter.integration_id {
        query = query.filter(dead_letters::integration_id.eq(id));
    }
    if let Some(code) = &filter.error_code {
        query = query.filter(dead_letters::error_code.eq(code.clone()));
    }
    if filter.pending_only {
        query = query.filter(dead_letters::replayed_at.is_null());
    }
    if let Some((dead_at, id)) = before {
        query = query.filter(
            dead_letters::dead_at.lt(dead_at).or(dead_letters::dead_at
                .eq(dead_at)
                .and(dead_letters::id.lt(id))),
        );
    }
    Ok(query.load(conn).await?)
}

/// Marks a dead letter replayed as `replay_job_id`. Only the first replay wins:
/// returns `false` when it was already replayed.
pub async fn mark_replayed(
    conn: &mut Conn,
    id: Uuid,
    replay_job_id: &str,
) -> Result<bool, StoreError> {
    let updated = diesel::update(
        dead_letters::table
            .find(id)
            .filter(dead_letters::replayed_at.is_null()),
    )
    .set((
        dead_letters::replayed_at.eq(Some(chrono::Utc::now())),
        dead_letters::replay_job_id.eq(Some(replay_job_id)),
    ))
    .execute(conn)
    .await?;
    Ok(updated == 1)
}
