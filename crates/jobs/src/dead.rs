//! Dead letters: jobs that failed for good, kept in Postgres (`dead_letters`) with
//! the job, the error, every attempt and the times, so operators can list them and
//! replay them ([`crate::replay`]).

use chrono::{DateTime, Utc};
use junction_core::WorkspaceId;
use junction_store::{
    Store,
    models::{DeadLetter, Queue},
    repo::dead_letters::{self, NewDeadLetter},
};
use uuid::Uuid;

use crate::{AttemptRecord, Envelope, JobFailure, JobsError};

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
