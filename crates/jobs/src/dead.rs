//! Dead letters: jobs that failed for good, kept in Postgres (`dead_letters`) with
//! the job, the error, every attempt and the times, so operators can list them and
//! replay them one by one or in bulk.

use chrono::{DateTime, Utc};
use junction_core::WorkspaceId;
use junction_store::{
    Store,
    models::{DeadLetter, Queue},
    repo::dead_letters::{self, DeadLetterFilter, NewDeadLetter},
};
use serde::Serialize;
use uuid::Uuid;

use crate::{AttemptRecord, Envelope, Job, JobFailure, JobsError, outbox, payload::replay_job_id};

/// A dead letter put back on its queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Replayed {
    pub dead_letter_id: Uuid,
    /// The job id of the new job (attempt 1).
    pub job_id: String,
}

/// Stores the dead letter of `envelope`, whose attempt just failed with `failure`.
/// `attempt_log` holds every attempt: the envelope's history and this one. Burying
/// the same job twice (a redelivered task) keeps one row and returns it.
pub async fn bury(
    store: &Store,
    envelope: &Envelope,
    failure: &JobFailure,
    now: DateTime<Utc>,
) -> Result<DeadLetter, JobsError> {
    let mut attempts = envelope.history.clone();
    attempts.push(AttemptRecord {
        attempt: envelope.attempt,
        at: now,
        error_code: failure.code.name().to_owned(),
        error_message: failure.message.clone(),
        retry_at: None,
    });
    let job = serde_json::to_value(&envelope.job).map_err(|e| JobsError::Payload(e.to_string()))?;
    let attempt_log =
        serde_json::to_value(&attempts).map_err(|e| JobsError::Payload(e.to_string()))?;
    let first_failed_at = attempts.first().map(|a| a.at).unwrap_or(now);
    insert(
        store,
        DeadLetterRow {
            workspace_id: envelope.job.workspace_id(),
            integration_id: envelope.job.integration_id(),
            queue: envelope.job.queue(),
            job_id: &envelope.job_id,
            job,
            failure,
            attempts: envelope.attempt,
            attempt_log,
            first_failed_at,
        },
    )
    .await
}

/// The parts of a dead letter, for payloads that could not be read as an
/// [`Envelope`] (the runner still keeps them, with what it could salvage).
pub(crate) struct DeadLetterRow<'a> {
    pub workspace_id: WorkspaceId,
    pub integration_id: Option<Uuid>,
    pub queue: Queue,
    pub job_id: &'a str,
    pub job: serde_json::Value,
    pub failure: &'a JobFailure,
    pub attempts: u32,
    pub attempt_log: serde_json::Value,
    pub first_failed_at: DateTime<Utc>,
}

pub(crate) async fn insert(store: &Store, row: DeadLetterRow<'_>) -> Result<DeadLetter, JobsError> {
    let mut tx = store.begin(row.workspace_id).await?;
    let letter = dead_letters::insert(
        tx.conn(),
        NewDeadLetter {
            workspace_id: row.workspace_id,
            integration_id: row.integration_id,
            queue: row.queue,
            job_id: row.job_id,
            job: row.job,
            error_code: row.failure.code.name(),
            error_message: &row.failure.message,
            attempts: i32::try_from(row.attempts.max(1)).unwrap_or(i32::MAX),
            attempt_log: row.attempt_log,
            first_failed_at: row.first_failed_at,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(letter)
}

/// Queues a dead letter's job again as a fresh job (attempt 1, job id
/// `{original}-replay-{n}`). Only the first replay of a dead letter wins: later ones
/// get [`JobsError::AlreadyReplayed`]. The letter is marked replayed and the new job
/// written to the outbox in one transaction, so a replay is recorded exactly when its
/// job will run.
pub async fn replay(
    store: &Store,
    workspace_id: WorkspaceId,
    dead_letter_id: Uuid,
) -> Result<Replayed, JobsError> {
    let mut tx = store.begin(workspace_id).await?;
    let letter = dead_letters::get(tx.conn(), dead_letter_id).await?;
    if letter.replayed_at.is_some() {
        return Err(JobsError::AlreadyReplayed);
    }
    let job: Job = serde_json::from_value(letter.job.clone())
        .map_err(|e| JobsError::Payload(format!("the dead letter's job cannot be read: {e}")))?;
    let replay_job_id = replay_job_id(&letter.job_id);
    // The conditional update takes the row lock: a concurrent replay waits here and
    // then finds `replayed_at` set.
    if !dead_letters::mark_replayed(tx.conn(), dead_letter_id, &replay_job_id).await? {
        return Err(JobsError::AlreadyReplayed);
    }
    outbox::stage_with_id(tx.conn(), &replay_job_id, &job).await?;
    tx.commit().await?;
    metrics::counter!("junction_dead_letter_replays_total", "queue" => letter.queue.as_str())
        .increment(1);
    Ok(Replayed {
        dead_letter_id,
        job_id: replay_job_id,
    })
}

/// Replays up to `limit` not-yet-replayed dead letters of the workspace matching
/// `filter` (newest first). Letters replayed concurrently by someone else are
/// skipped; any other failure stops the batch and is returned.
pub async fn replay_matching(
    store: &Store,
    workspace_id: WorkspaceId,
    filter: &DeadLetterFilter,
    limit: i64,
) -> Result<Vec<Replayed>, JobsError> {
    let filter = DeadLetterFilter {
        pending_only: true,
        ..filter.clone()
    };
    let letters = {
        let mut tx = store.begin(workspace_id).await?;
        let letters = dead_letters::list(tx.conn(), &filter, None, limit).await?;
        tx.commit().await?;
        letters
    };
    let mut replayed = Vec::with_capacity(letters.len());
    for letter in letters {
        match replay(store, workspace_id, letter.id).await {
            Ok(done) => replayed.push(done),
            Err(JobsError::AlreadyReplayed) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(replayed)
}
