//! Dead letters — jobs that failed for good — for operators to list and replay one
//! by one or in bulk, the same for the API and the CLI (which has only the store:
//! a replay is staged in the outbox, no Redis needed); and the queues' figures.

use chrono::{DateTime, Utc};
use junction_core::{ErrorCode, WorkspaceId};
use junction_jobs::{JobsError, QueueStats, Replayed};
use junction_store::{
    Store,
    models::DeadLetter,
    repo::{self, dead_letters::DeadLetterFilter, job_figures::QueueFigures},
};
use uuid::Uuid;

use crate::{App, Error, Listed, PageRequest, Result, listed, workspaces::existing_workspace};

/// Most letters one bulk replay takes.
pub const MAX_BULK_REPLAY: i64 = 500;

/// The workspace's dead letters matching `filter`, newest first.
pub async fn list(
    store: &Store,
    workspace_id: WorkspaceId,
    filter: &DeadLetterFilter,
    page: PageRequest<(DateTime<Utc>, Uuid)>,
) -> Result<Listed<DeadLetter, (DateTime<Utc>, Uuid)>> {
    let mut tx = existing_workspace(store, workspace_id).await?;
    crate::filtered_integration(&mut tx, filter.integration_id).await?;
    let rows = repo::dead_letters::list(tx.conn(), filter, page.after, page.limit + 1).await?;
    tx.commit().await?;
    Ok(listed(rows, page.limit, |d| (d.dead_at, d.id)))
}

/// One dead letter.
pub async fn get(store: &Store, workspace_id: WorkspaceId, id: Uuid) -> Result<DeadLetter> {
    let mut tx = store.begin(workspace_id).await?;
    let letter = repo::dead_letters::get(tx.conn(), id)
        .await
        .map_err(|_| Error::not_found(ErrorCode::NotFound, "dead letter"))?;
    tx.commit().await?;
    Ok(letter)
}

/// Runs a dead letter's job again (once: a second replay is a conflict).
pub async fn replay(store: &Store, workspace_id: WorkspaceId, id: Uuid) -> Result<Replayed> {
    existing_workspace(store, workspace_id)
        .await?
        .commit()
        .await?;
    junction_jobs::replay(store, workspace_id, id)
        .await
        .map_err(|error| match error {
            JobsError::NotFound(_) => Error::new(
                ErrorCode::NotFound,
                format!("dead letter {id} not found in workspace {workspace_id}"),
            ),
            other => other.into(),
        })
}

/// Replays up to `limit` (1-500) not-yet-replayed dead letters matching `filter`.
pub async fn replay_matching(
    store: &Store,
    workspace_id: WorkspaceId,
    filter: &DeadLetterFilter,
    limit: i64,
) -> Result<Vec<Replayed>> {
    if !(1..=MAX_BULK_REPLAY).contains(&limit) {
        return Err(Error::field("limit", "must be between 1 and 500"));
    }
    let mut tx = existing_workspace(store, workspace_id).await?;
    crate::filtered_integration(&mut tx, filter.integration_id).await?;
    tx.commit().await?;
    Ok(junction_jobs::replay_matching(store, workspace_id, filter, limit).await?)
}

impl App {
    /// Depth, in-flight, failed and dead jobs per queue in Redis: installation-wide
    /// figures, for an operator key only.
    pub async fn queue_stats(&self) -> Result<Vec<QueueStats>> {
        Ok(self.queues.stats().await?)
    }

    /// The workspace's own jobs per queue, counted from the rows they serve and its
    /// dead letters: what a workspace key sees.
    pub async fn workspace_job_figures(
        &self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<QueueFigures>> {
        let mut tx = existing_workspace(&self.store, workspace_id).await?;
        let figures = repo::job_figures::of_workspace(tx.conn()).await?;
        tx.commit().await?;
        Ok(figures)
    }
}
