//! The outbox: how a job reaches its queue.
//!
//! Every job is *staged* — written to the `outbox` table in the same transaction as
//! the row it serves (a sync run, a webhook event, an action run, a notification,
//! a dead letter's replay) — with [`stage`]. So the row and its job commit together
//! or not at all: no row waits for a job that was never queued, and no job runs for
//! a row that was rolled back. Nothing pushes to Redis after a commit.
//!
//! The [`Relay`] (every worker runs one; any number may run at once) claims staged
//! jobs oldest first, pushes each onto its Redis queue under its job id and
//! deletes it from the outbox. Delivery is at least once: a relay that dies after
//! pushing and before deleting leaves the jobs to the next relay once their lease
//! runs out, and that second push is a no-op because the queue writes a task id
//! (`{job_id}#1`) only once. While Redis is down jobs stay staged, with the reason,
//! and are tried again after [`RelayOptions::retry_after`]. A job this build cannot
//! read (a newer kind, during a rolling deploy) waits for a worker that can, and is
//! dead-lettered after [`MAX_UNREADABLE_ATTEMPTS`] tries.

use std::time::Duration;

use chrono::{DateTime, Utc};
use junction_store::{
    Conn, Store, StoreError,
    models::Queue,
    repo::outbox::{self, NewOutboxJob, OutboxJob},
};
use tokio::sync::watch;

use crate::{AttemptRecord, Job, JobFailure, JobsError, Queues, dead};

/// How many relays try a staged job they cannot read before it is dead-lettered:
/// during a rolling deploy, an older worker meets jobs only a newer one reads.
pub const MAX_UNREADABLE_ATTEMPTS: i32 = 10;

/// How long a job this build cannot read waits before a relay tries it again.
const UNREADABLE_RETRY: Duration = Duration::from_secs(60);

/// Writes `job` to the outbox in the caller's transaction under its derived id
/// ([`Job::default_job_id`]); returns the id. It reaches its queue once the
/// transaction commits. Fails as the transaction's other statements do (a job is
/// plain data: encoding it cannot fail in practice).
pub async fn stage(conn: &mut Conn, job: &Job) -> Result<String, StoreError> {
    let job_id = job.default_job_id();
    stage_with_id(conn, &job_id, job).await?;
    Ok(job_id)
}

/// Writes `jobs` to the outbox in one statement (a webhook group commit's jobs, a
/// scheduler pass's runs), each under its derived id; returns the ids in the order
/// given. Otherwise as [`stage`].
pub async fn stage_all(conn: &mut Conn, jobs: &[Job]) -> Result<Vec<String>, StoreError> {
    let job_ids: Vec<String> = jobs.iter().map(Job::default_job_id).collect();
    let rows = jobs
        .iter()
        .zip(&job_ids)
        .map(|(job, job_id)| {
            Ok(NewOutboxJob {
                workspace_id: job.workspace_id(),
                queue: job.queue(),
                job_id,
                job: serde_json::to_value(job).map_err(|e| StoreError::Invalid(e.to_string()))?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    outbox::insert_all(conn, &rows).await?;
    Ok(job_ids)
}

/// The same under a given job id (a dead letter's replay).
pub async fn stage_with_id(conn: &mut Conn, job_id: &str, job: &Job) -> Result<(), StoreError> {
    let payload = serde_json::to_value(job).map_err(|e| StoreError::Invalid(e.to_string()))?;
    outbox::insert(
        conn,
        NewOutboxJob {
            workspace_id: job.workspace_id(),
            queue: job.queue(),
            job_id,
            job: payload,
        },
    )
    .await?;
    Ok(())
}

/// How a relay works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayOptions {
    /// Jobs claimed at once.
    pub batch: i32,
    /// How long a claim holds its jobs (a relay that dies releases them then).
    pub lease: Duration,
    /// How long jobs wait after a failed push (Redis down) before the next try.
    pub retry_after: Duration,
    /// How often an idle relay looks for staged jobs.
    pub poll_interval: Duration,
}

impl Default for RelayOptions {
    fn default() -> Self {
        Self {
            batch: 200,
            lease: Duration::from_secs(30),
            retry_after: Duration::from_secs(1),
            poll_interval: Duration::from_millis(100),
        }
    }
}

/// What one pass of the relay did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayReport {
    /// Jobs pushed onto their queues (or found there already) and removed.
    pub relayed: usize,
    /// Jobs left staged because their queue could not be reached.
    pub deferred: usize,
    /// Jobs whose payload could not be read back, dead-lettered instead.
    pub unreadable: usize,
}

/// Moves staged jobs onto their queues. Cheap to clone.
#[derive(Clone)]
pub struct Relay {
    store: Store,
    queues: Queues,
    options: RelayOptions,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Relay {
    pub fn new(store: Store, queues: Queues, options: RelayOptions) -> Self {
        Self {
            store,
            queues,
            options,
        }
    }

    /// One pass: claims up to a batch of staged jobs and relays them, oldest first.
    pub async fn relay_once(&self) -> Result<RelayReport, JobsError> {
        let mut claimed = {
            let mut conn = self.store.unscoped().await?;
            outbox::claim(&mut conn, self.options.batch, self.options.lease).await?
        };
        claimed.sort_by_key(|staged| staged.id);
        let mut report = RelayReport::default();
        if claimed.is_empty() {
            return Ok(report);
        }
        // Removed from the outbox: on their queue, or buried as dead letters.
        let mut done = Vec::with_capacity(claimed.len());
        let mut deferred: Vec<i64> = Vec::new();
        // Readable by a newer build only (a rolling deploy): tried again later.
        let mut postponed: Vec<(i64, String)> = Vec::new();
        let mut push_error = None;
        for staged in &claimed {
            if push_error.is_some() {
                // Redis refused the previous push: the rest wait for the next try.
                deferred.push(staged.id);
                continue;
            }
            let job: Job = match serde_json::from_value(staged.job.clone()) {
                Ok(job) => job,
                Err(error) if staged.relay_attempts < MAX_UNREADABLE_ATTEMPTS => {
                    postponed.push((staged.id, format!("the staged job cannot be read: {error}")));
                    continue;
                }
                Err(error) => {
                    self.bury(staged, &format!("the staged job cannot be read: {error}"))
                        .await?;
                    done.push(staged.id);
                    report.unreadable += 1;
                    continue;
                }
            };
            match self
                .queues
                .enqueue_staged(staged.job_id.clone(), job, staged.created_at)
                .await
            {
                Ok(_) => done.push(staged.id),
                // A job the queue can never take (a bad id): retrying cannot help.
                Err(JobsError::Payload(error)) => {
                    self.bury(staged, &error).await?;
                    done.push(staged.id);
                    report.unreadable += 1;
                }
                Err(error) => {
                    deferred.push(staged.id);
                    push_error = Some(error);
                }
            }
        }
        let mut conn = self.store.unscoped().await?;
        if !done.is_empty() {
            outbox::relayed(&mut conn, &done).await?;
        }
        for (id, reason) in &postponed {
            let retry_at =
                Utc::now() + chrono::Duration::from_std(UNREADABLE_RETRY).unwrap_or_default();
            outbox::failed(&mut conn, &[*id], reason, retry_at).await?;
            tracing::warn!(
                id,
                reason,
                "a staged job this build cannot read waits for a newer worker"
            );
        }
        if let Some(error) = push_error {
            let retry_at = Utc::now()
                + chrono::Duration::from_std(self.options.retry_after)
                    .unwrap_or(chrono::Duration::seconds(1));
            outbox::failed(&mut conn, &deferred, &error.to_string(), retry_at).await?;
            metrics::counter!("junction_outbox_relay_errors_total").increment(1);
            tracing::warn!(%error, jobs = deferred.len(), "could not relay staged jobs; trying again shortly");
        }
        report.relayed = done.len() - report.unreadable;
        report.deferred = deferred.len() + postponed.len();
        for staged in claimed.iter().filter(|s| done.contains(&s.id)) {
            let queue = Queue::parse(&staged.queue).map_or("unknown", Queue::as_str);
            metrics::counter!("junction_outbox_relayed_total", "queue" => queue).increment(1);
        }
        Ok(report)
    }

    /// Relays until `stop` turns true: a pass every poll interval, and passes back to
    /// back while they fill their batch (a backlog drains at once).
    pub async fn run(&self, mut stop: watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(self.options.poll_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
            loop {
                match self.relay_once().await {
                    Ok(report)
                        if report.deferred == 0
                            && report.relayed + report.unreadable
                                >= usize::try_from(self.options.batch).unwrap_or(0) =>
                    {
                        if *stop.borrow() {
                            return;
                        }
                    }
                    Ok(_) => break,
                    Err(error) => {
                        tracing::error!(%error, "the outbox relay failed; trying again");
                        break;
                    }
                }
            }
        }
    }

    /// A staged job no build could relay (a bug, or a newer job kind that no worker
    /// read within [`MAX_UNREADABLE_ATTEMPTS`] tries) becomes a dead letter with its
    /// raw payload, where operators see it, instead of blocking the outbox.
    async fn bury(&self, staged: &OutboxJob, reason: &str) -> Result<(), JobsError> {
        let failure = JobFailure::permanent(junction_core::ErrorCode::Internal, reason);
        let now = Utc::now();
        let attempt_log = serde_json::to_value([AttemptRecord {
            attempt: 1,
            at: now,
            error_code: failure.code.name().to_owned(),
            error_message: failure.message.clone(),
            retry_at: None,
        }])
        .map_err(|e| JobsError::Payload(e.to_string()))?;
        tracing::error!(job_id = %staged.job_id, reason, "dead-lettering a staged job no worker can relay");
        dead::insert(
            &self.store,
            dead::DeadLetterRow {
                workspace_id: junction_core::WorkspaceId(staged.workspace_id),
                integration_id: None,
                queue: Queue::parse(&staged.queue).unwrap_or(Queue::Sync),
                job_id: &staged.job_id,
                job: staged.job.clone(),
                failure: &failure,
                attempts: 1,
                attempt_log,
                first_failed_at: now,
            },
        )
        .await?;
        Ok(())
    }
}

/// How many jobs wait in the outbox and how long the oldest has waited (for the
/// `junction_outbox_pending` and `junction_outbox_oldest_age_seconds` gauges).
pub async fn depth(store: &Store) -> Result<(i64, Option<DateTime<Utc>>), JobsError> {
    let mut conn = store.unscoped().await?;
    let depth = outbox::depth(&mut conn).await?;
    Ok((depth.pending, depth.oldest))
}
