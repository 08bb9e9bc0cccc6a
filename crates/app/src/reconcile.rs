//! Reconciliation: rows whose job Redis forgot get it back.
//!
//! The outbox guarantees that a committed row's job reaches Redis. It cannot help
//! when Redis later loses what it held — a restart without persistence, keys
//! evicted or deleted — and then a sync run stays `queued`, a webhook event
//! `received` (answered 200, so the provider never sends it again), an action run
//! or a notification waits for good. The sweep finds them:
//!
//! 1. One worker of the installation sweeps per `reconcile_interval_seconds`: every
//!    worker tries, the lease `reconcile` in Postgres lets one through.
//! 2. It lists the rows of every workspace still waiting for their job whose last
//!    change is older than `reconcile_grace_seconds` (sync runs queued, running or
//!    retrying; webhook events received or processing; queued action runs not
//!    finished; pending notifications; pending outbound webhook deliveries), reads each in its workspace's scope and
//!    derives its job and job id the way the row's creator did.
//! 3. A job still in the outbox, or known to Redis as pending, scheduled or
//!    running, is left alone, and so is one a live worker holds: the runner marks
//!    every job it runs and renews the mark at each heartbeat, so a mark lost with
//!    the rest of Redis is back within one heartbeat interval. The marks of the
//!    jobs nobody knows are watched for two heartbeat intervals; a job unmarked
//!    all that time, whose row still waits, is staged again in the outbox under its
//!    own job id — the relay puts it on its queue and the handler, which is
//!    idempotent, takes the row to its final state.
//! 4. Scheduler claims older than the grace period whose run never started (the
//!    claiming worker died between the claim and the run) are released: the
//!    integration is due again now rather than when the claim's lease runs out.
//!
//! A job that Redis says ended (succeeded, abandoned, dead-lettered) while its row
//! still waits is not run again — its id is taken, and the handlers end rows
//! themselves — but logged and counted (`junction_reconcile_inconsistent_total`).

use std::time::Duration;

use junction_core::WorkspaceId;
use junction_jobs::{Job, TaskState, outbox};
use junction_store::{
    StoreError,
    models::{
        ActionMode, ActionStatus, DeliveryStatus, LogLevel, NotificationStatus, Operation, Queue,
        RunStatus, WebhookStatus,
    },
    repo::{self, reconcile::Unfinished},
};
use serde_json::json;
use tokio::sync::watch;

use crate::{App, Result, integrations::log, metrics};

/// The name of the sweep's lease.
const LEASE: &str = "reconcile";
/// Rows read per page of the sweep.
const PAGE: i32 = 500;

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Whether this worker held the lease (else another one swept).
    pub swept: bool,
    /// Rows looked at.
    pub checked: usize,
    /// Jobs staged again: `(queue, job_id)`.
    pub restaged: Vec<(Queue, String)>,
    /// Rows whose job Redis says ended while the row still waits.
    pub inconsistent: usize,
    /// Stale scheduler claims released.
    pub released_claims: i32,
}

/// Where a row's job stands.
enum JobState {
    /// Redis has it waiting or running, or a live worker runs it.
    Alive,
    /// Redis says it ended, yet the row waits.
    Ended(TaskState),
    /// Neither Redis nor any worker knows it.
    Forgotten,
}

/// A waiting row with the job it should have.
struct Waiting {
    workspace_id: WorkspaceId,
    /// The integration to log on, when the row belongs to one.
    integration_id: Option<uuid::Uuid>,
    queue: Queue,
    job_id: String,
    job: Job,
    /// Whether the outbox holds the job (the relay has not pushed it yet).
    staged: bool,
}

impl App {
    /// How long a row waits for its job before the sweep looks at it.
    fn reconcile_grace(&self) -> Duration {
        Duration::from_secs(self.config.worker.reconcile_grace_seconds.max(1))
    }

    /// How long a suspect job is given to show up before it counts as lost: a
    /// worker running it writes its mark again within one heartbeat interval.
    fn reconcile_confirm_delay(&self) -> Duration {
        Duration::from_secs(self.config.worker.heartbeat_interval_seconds.max(1) * 2)
    }

    /// One sweep, if this worker (`holder`) gets the lease (see the module docs).
    pub async fn reconcile_pass(&self, holder: &str) -> Result<SweepReport> {
        let interval = Duration::from_secs(self.config.worker.reconcile_interval_seconds.max(1));
        let taken = {
            let mut conn = self.system_store()?.unscoped().await?;
            repo::reconcile::take_lease(&mut conn, LEASE, holder, interval).await?
        };
        let mut report = SweepReport {
            swept: taken,
            ..SweepReport::default()
        };
        if !taken {
            return Ok(report);
        }

        let mut suspects = Vec::new();
        let mut after = None;
        loop {
            let page = {
                let mut conn = self.system_store()?.unscoped().await?;
                repo::reconcile::unfinished(&mut conn, self.reconcile_grace(), after, PAGE).await?
            };
            for row in &page {
                let Some(waiting) = self.waiting(row).await? else {
                    continue;
                };
                report.checked += 1;
                match self.job_state(&waiting).await? {
                    JobState::Alive => {}
                    JobState::Ended(state) => {
                        report.inconsistent += 1;
                        metrics::reconcile_inconsistent(waiting.queue);
                        tracing::warn!(
                            queue = waiting.queue.as_str(),
                            job_id = %waiting.job_id,
                            state = ?state,
                            "a job ended while its row still waits; not run again"
                        );
                    }
                    JobState::Forgotten => {
                        suspects.push((row.clone(), waiting.queue, waiting.job_id));
                    }
                }
            }
            match page.last() {
                Some(last) if page.len() >= PAGE as usize => after = Some(last.position()),
                _ => break,
            }
        }

        if !suspects.is_empty() {
            self.watch_suspects(&mut suspects).await?;
            for (row, _, _) in suspects {
                // Read again: the row may have ended meanwhile.
                let Some(waiting) = self.waiting(&row).await? else {
                    continue;
                };
                if matches!(self.job_state(&waiting).await?, JobState::Forgotten)
                    && self.restage(&waiting).await?
                {
                    report.restaged.push((waiting.queue, waiting.job_id));
                }
            }
        }

        report.released_claims = {
            let mut conn = self.system_store()?.unscoped().await?;
            repo::reconcile::release_stale_claims(&mut conn, self.reconcile_grace()).await?
        };
        if !report.restaged.is_empty() || report.released_claims > 0 {
            tracing::warn!(
                restaged = report.restaged.len(),
                released_claims = report.released_claims,
                "reconciliation gave forgotten jobs back to their queues"
            );
        }
        Ok(report)
    }

    /// The row behind `row`, read in its workspace, with its job; `None` when it no
    /// longer waits (it ended, or it is gone).
    async fn waiting(&self, row: &Unfinished) -> Result<Option<Waiting>> {
        let Some(queue) = row.queue() else {
            return Ok(None);
        };
        let workspace_id = WorkspaceId(row.workspace_id);
        let mut tx = self.begin(workspace_id).await?;
        let found = match queue {
            Queue::Sync => repo::sync_runs::get(tx.conn(), row.row_id)
                .await
                .map(|run| {
                    let waits = matches!(
                        run.status,
                        RunStatus::Queued | RunStatus::Running | RunStatus::Retrying
                    );
                    let job = Job::of_sync_run(&run);
                    // A replayed dead letter runs under its own job id, recorded on
                    // the run when its attempt starts.
                    let job_id = run.job_id.clone().unwrap_or_else(|| job.default_job_id());
                    waits.then_some((Some(run.integration_id), job_id, job))
                }),
            Queue::Webhook => repo::webhook_events::get(tx.conn(), row.row_id)
                .await
                .map(|event| {
                    let waits = matches!(
                        event.status,
                        WebhookStatus::Received | WebhookStatus::Processing
                    );
                    let job = Job::of_webhook_event(&event);
                    waits.then(|| (Some(event.integration_id), job.default_job_id(), job))
                }),
            Queue::Action => repo::action_runs::get(tx.conn(), row.row_id)
                .await
                .map(|run| {
                    let waits = run.mode == ActionMode::Queued
                        && matches!(run.status, ActionStatus::Queued | ActionStatus::Running);
                    let job = Job::of_action_run(&run);
                    waits.then(|| (Some(run.integration_id), job.default_job_id(), job))
                }),
            Queue::Notify => {
                repo::notifications::get(tx.conn(), row.row_id)
                    .await
                    .map(|notification| {
                        let job = Job::of_notification(&notification);
                        (notification.status == NotificationStatus::Pending)
                            .then(|| (None, job.default_job_id(), job))
                    })
            }
            Queue::Outbound => repo::outbound_deliveries::get(tx.conn(), row.row_id)
                .await
                .map(|delivery| {
                    let job = Job::of_outbound_delivery(&delivery);
                    // A replayed dead letter runs under its own job id, recorded on
                    // the delivery when its attempt starts.
                    let job_id = delivery
                        .job_id
                        .clone()
                        .unwrap_or_else(|| job.default_job_id());
                    (delivery.status == DeliveryStatus::Pending).then_some((None, job_id, job))
                }),
        };
        let found = match found {
            Ok(Some((integration_id, job_id, job))) => {
                let staged = repo::outbox::holds(tx.conn(), &job_id).await?;
                Ok(Some(Waiting {
                    workspace_id,
                    integration_id,
                    queue,
                    job_id,
                    job,
                    staged,
                }))
            }
            other => other.map(|_| None),
        };
        tx.commit().await?;
        match found {
            Ok(found) => Ok(found),
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Watches the marks of suspect jobs for two heartbeat intervals and drops every
    /// job whose mark shows up: a worker running a job writes its mark again within
    /// one interval of Redis losing it, so only a job unmarked for the whole window
    /// has no live worker. (Two looks could both fall just after two separate
    /// losses of Redis's keys; a window cannot.)
    async fn watch_suspects(&self, suspects: &mut Vec<(Unfinished, Queue, String)>) -> Result<()> {
        let window = self.reconcile_confirm_delay();
        let step = window / 8;
        let deadline = tokio::time::Instant::now() + window;
        while !suspects.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(step).await;
            let jobs: Vec<(Queue, &str)> = suspects
                .iter()
                .map(|(_, queue, job_id)| (*queue, job_id.as_str()))
                .collect();
            let running = self.queues.in_flight(&jobs).await?;
            let mut running = running.into_iter();
            suspects.retain(|_| !running.next().unwrap_or(false));
        }
        Ok(())
    }

    /// Where the job of a waiting row stands, by the outbox, Redis and the workers'
    /// marks.
    async fn job_state(&self, waiting: &Waiting) -> Result<JobState> {
        let found = self.queues.lookup(waiting.queue, &waiting.job_id).await?;
        Ok(match found.map(|lookup| lookup.state) {
            Some(
                TaskState::Pending | TaskState::Scheduled | TaskState::Running | TaskState::Failed,
            ) => JobState::Alive,
            Some(state) => JobState::Ended(state),
            None if waiting.staged => JobState::Alive,
            None if self
                .queues
                .in_flight(&[(waiting.queue, waiting.job_id.as_str())])
                .await?
                .first()
                .copied()
                .unwrap_or(false) =>
            {
                JobState::Alive
            }
            None => JobState::Forgotten,
        })
    }

    /// Stages the job of a row again, unless the row stopped waiting or the outbox
    /// already holds the job; whether it was staged.
    async fn restage(&self, waiting: &Waiting) -> Result<bool> {
        if waiting.staged {
            return Ok(false);
        }
        let mut tx = self.begin(waiting.workspace_id).await?;
        outbox::stage_with_id(tx.conn(), &waiting.job_id, &waiting.job).await?;
        if let Some(integration_id) = waiting.integration_id {
            log(
                &mut tx,
                waiting.workspace_id,
                integration_id,
                LogLevel::Warn,
                operation_of(waiting.queue),
                "the job queue lost this job; it was queued again",
                json!({"job_id": waiting.job_id, "queue": waiting.queue.as_str()}),
            )
            .await?;
        }
        tx.commit().await?;
        metrics::job_recovered(waiting.queue);
        tracing::warn!(
            queue = waiting.queue.as_str(),
            job_id = %waiting.job_id,
            workspace_id = %waiting.workspace_id,
            "the job queue lost a job; staged it again"
        );
        Ok(true)
    }

    /// Sweeps every `interval` until `stop` turns true (see the module docs); the
    /// lease makes the installation sweep once per interval, whichever worker does.
    pub async fn run_reconciler(&self, holder: String, mut stop: watch::Receiver<bool>) {
        let interval = Duration::from_secs(self.config.worker.reconcile_interval_seconds.max(1));
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
            let pass = tokio::select! {
                pass = self.reconcile_pass(&holder) => pass,
                _ = stop.wait_for(|stopped| *stopped) => return,
            };
            if let Err(error) = pass {
                metrics::reconcile_error();
                tracing::error!(%error, "reconciliation sweep failed");
            }
        }
    }
}

/// The integration log's operation for a job of `queue`.
fn operation_of(queue: Queue) -> Operation {
    match queue {
        Queue::Sync => Operation::Sync,
        Queue::Action => Operation::Action,
        Queue::Webhook => Operation::Webhook,
        Queue::Notify => Operation::Alert,
        // Deliveries belong to no integration: nothing is logged for them.
        Queue::Outbound => Operation::Webhook,
    }
}
