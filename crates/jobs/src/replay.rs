//! Replaying dead letters, one by one or in bulk: the same job is staged again as
//! `{job_id}-replay-{n}`, attempt 1, and only the first replay of a letter wins.

use junction_core::WorkspaceId;
use junction_store::{
    Store,
    repo::dead_letters::{self, DeadLetterFilter},
};
use serde::Serialize;
use uuid::Uuid;

use crate::{Job, JobsError, outbox, payload::replay_job_id};

/// A dead letter put back on its queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Replayed {
    pub dead_letter_id: Uuid,
    /// The job id of the new job (attempt 1).
    pub job_id: String,
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
