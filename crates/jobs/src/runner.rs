//! The runner: apalis workers for each queue, our retry policy around every job
//! handler, dead letters, and graceful shutdown.
//!
//! Each [`QueueWorker`] becomes one apalis worker (with `concurrency` handlers in
//! flight) under a supervisor that restarts it, with backoff, when its Redis
//! connection fails. A handler never returns an error to apalis for a job failure:
//! the runner asks the [`RetryPolicy`] (or the queue's own [`RetrySchedule`]) and
//! then
//!
//! - `RetryAt(t)`: pushes the next attempt (attempt + 1, this failure appended to the
//!   history) due at `t`, and completes the current task;
//! - `DeadLetter`: stores the dead letter in Postgres, calls
//!   [`JobHandler::on_dead_letter`] and kills the task in Redis (apalis `AbortError`,
//!   which the backend records as dead);
//! - `Abandon`: completes the task.
//!
//! Only when the runner itself cannot record an outcome (Postgres or Redis down)
//! does the task fail in apalis; the backend then puts it in the delayed set to run
//! again `n` seconds later (the `n`-th such failure), killing it after 25 — the job
//! is never lost to a passing outage.
//!
//! Liveness: every worker heartbeats every [`Liveness::heartbeat_interval`]; a
//! worker silent for [`Liveness::orphan_timeout`] (a pod killed with SIGKILL) is
//! declared dead by any live worker of the same queue, which puts the dead worker's
//! claimed tasks back on the queue. With the defaults that is 60 s (10 s × 6).
//!
//! Shutdown: when the `shutdown` future resolves, workers stop fetching, handlers in
//! flight get [`RunnerOptions::shutdown_grace`] to finish (their heartbeats are kept
//! up meanwhile), and prefetched tasks go back to the queue. Handlers still running
//! after the grace period are dropped and their tasks put back at once.

use std::{
    future::Future,
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use apalis::prelude::{
    AbortError, BackendExt, BoxDynError, TaskId, WorkerBuilder, WorkerBuilderExt,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::FutureExt;
use junction_core::{ErrorCode, WorkspaceId};
use junction_store::{Store, models::Queue};
use tokio::{
    sync::{Semaphore, watch},
    task::JoinSet,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use uuid::Uuid;

pub use crate::queue::{OUTCOME_ABANDONED, OUTCOME_RETRIED, OUTCOME_SUCCEEDED};
use crate::{
    AttemptRecord, Decision, Envelope, JobFailure, JobsError, Queues, RetryPolicy, RetrySchedule,
    backend::{BackendOptions, QueueBackend},
    dead::{self, DeadLetterRow},
    migrate,
};

/// How long finished jobs stay in Redis (for lookups and de-duplication) before
/// the runner purges them; dead letters stay in Postgres regardless.
pub const FINISHED_JOB_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// An in-flight mark outlives its last renewal by this many heartbeat intervals.
pub const IN_FLIGHT_MARK_BEATS: u32 = 3;
/// How often the runner purges finished jobs.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// The `outcome` label of a delivery that was put off (its task result is
/// [`OUTCOME_RETRIED`]: its next delivery is scheduled).
pub const OUTCOME_DEFERRED: &str = "deferred";

/// Runs one kind of job. Handlers must be idempotent: a job is delivered at least
/// once (a worker killed mid-job has its task re-run elsewhere). A queue's handlers
/// run concurrently inside its worker's task, next to its heartbeats: they must not
/// block the thread (use `spawn_blocking` for heavy CPU work), or a long block
/// would look like a dead worker.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// Runs one attempt. `envelope.attempt` is 1-based and `envelope.history` holds
    /// the earlier failed attempts.
    async fn handle(&self, envelope: &Envelope) -> Result<(), JobFailure>;

    /// Called after a job was dead-lettered (mark the run dead, notify...).
    async fn on_dead_letter(&self, _envelope: &Envelope, _failure: &JobFailure) {}

    /// Called when a job will be retried at `at` (mark the run retrying...), before
    /// the retry is queued. Also called when a job was abandoned: then
    /// `failure.kind` is [`FailureKind::Abandon`](crate::FailureKind::Abandon) and
    /// `at` is when it stopped.
    async fn on_retry(&self, _envelope: &Envelope, _failure: &JobFailure, _at: DateTime<Utc>) {}
}

/// One queue's workers in this process.
#[derive(Clone)]
pub struct QueueWorker {
    pub queue: Queue,
    /// Handlers running at once (at least 1).
    pub concurrency: usize,
    pub handler: Arc<dyn JobHandler>,
    /// A fixed retry schedule for this queue's jobs instead of the runner's
    /// [`RetryPolicy`] (`None`: the policy).
    pub schedule: Option<RetrySchedule>,
}

impl std::fmt::Debug for QueueWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueWorker")
            .field("queue", &self.queue)
            .field("concurrency", &self.concurrency)
            .field("schedule", &self.schedule)
            .finish_non_exhaustive()
    }
}

/// How the runner behaves.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    pub policy: RetryPolicy,
    /// How long in-flight jobs may run on after shutdown starts.
    pub shutdown_grace: Duration,
    /// This process's name (pod name, host name); worker names start with it.
    pub worker_name: String,
}

/// Heartbeat, orphan detection and polling settings. The defaults suit production;
/// tests shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    /// How often a worker tells Redis it is alive (whole seconds, at least 1).
    pub heartbeat_interval: Duration,
    /// Missed heartbeats after which a worker counts as dead and its tasks are
    /// re-queued by a live worker (at least 2).
    pub missed_heartbeats: u32,
    /// How often an idle worker looks for due tasks.
    pub poll_interval: Duration,
    /// Tasks fetched at once; `None` means the worker's concurrency. Fetched tasks
    /// beyond free handler slots wait in the worker and go back on shutdown.
    pub prefetch: Option<usize>,
}

impl Default for Liveness {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_secs(10),
            missed_heartbeats: 6,
            poll_interval: Duration::from_millis(200),
            prefetch: None,
        }
    }
}

impl Liveness {
    /// How long a silent worker's tasks wait before another worker re-queues them:
    /// `heartbeat_interval × missed_heartbeats` (60 s by default).
    pub fn orphan_timeout(&self) -> Duration {
        self.sanitized().heartbeat_interval * self.sanitized().missed_heartbeats
    }

    /// The queue compares heartbeats in whole seconds: sub-second intervals would
    /// declare live workers dead.
    fn sanitized(&self) -> Self {
        Self {
            heartbeat_interval: Duration::from_secs(self.heartbeat_interval.as_secs().max(1)),
            missed_heartbeats: self.missed_heartbeats.max(2),
            poll_interval: self.poll_interval.max(Duration::from_millis(10)),
            prefetch: self.prefetch.map(|n| n.max(1)),
        }
    }
}

/// Runs every queue's workers until `shutdown` resolves; then stops fetching, lets
/// in-flight jobs finish within the grace period and returns prefetched tasks to the
/// queue. See the module docs for what happens to a failed job.
pub async fn run(
    queues: &Queues,
    store: &Store,
    workers: Vec<QueueWorker>,
    options: RunnerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), JobsError> {
    run_with(
        queues,
        store,
        workers,
        options,
        Liveness::default(),
        shutdown,
    )
    .await
}

/// [`run`] with explicit liveness settings.
pub async fn run_with(
    queues: &Queues,
    store: &Store,
    workers: Vec<QueueWorker>,
    options: RunnerOptions,
    liveness: Liveness,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), JobsError> {
    queues.ping().await?;
    let liveness = liveness.sanitized();
    let registry = Arc::new(WorkerRegistry::default());
    let handlers = Handlers::default();
    // If this future is dropped (the process is going down hard), the handlers
    // running on their own tasks stop with it.
    let _stop_handlers_on_drop = handlers.cancel.clone().drop_guard();
    let (stop_tx, stop_rx) = watch::channel(false);
    // A JoinSet aborts its tasks when dropped: if this future is dropped (the
    // process is going down hard), no worker outlives it.
    let mut supervisors = JoinSet::new();
    let mut worker_queues: Vec<Queue> = Vec::new();
    for worker in &workers {
        if !worker_queues.contains(&worker.queue) {
            worker_queues.push(worker.queue);
        }
    }
    // Tasks still in the layout before this one (apalis-redis's) are brought over
    // before any worker fetches; a no-op once done.
    for queue in &worker_queues {
        let report = migrate::migrate_legacy_layout(queues, *queue).await?;
        if !report.is_empty() {
            tracing::info!(
                queue = queue.as_str(),
                ?report,
                "moved queued jobs to the current Redis layout"
            );
        }
    }
    for worker in workers {
        let runner = Arc::new(QueueRunner {
            queue: worker.queue,
            concurrency: worker.concurrency.max(1),
            handler: worker.handler,
            queues: queues.clone(),
            store: store.clone(),
            policy: options.policy,
            schedule: worker.schedule,
            worker_name: options.worker_name.clone(),
            liveness,
            registry: registry.clone(),
            permits: Arc::new(Semaphore::new(worker.concurrency.max(1))),
            handlers: handlers.clone(),
        });
        supervisors.spawn(supervise(runner, stop_rx.clone()));
    }
    supervisors.spawn(promote_due_tasks(
        queues.clone(),
        worker_queues.clone(),
        liveness.poll_interval,
        stop_rx.clone(),
    ));
    supervisors.spawn(purge_finished_jobs(
        queues.clone(),
        worker_queues,
        stop_rx.clone(),
    ));
    // Every running worker's heartbeat, from a task of its own: apalis's backend
    // state machine only beats while it is idle or between batches, and a worker
    // whose handler slots are all busy while it holds prefetched tasks would look
    // dead after the orphan timeout, and have its jobs run a second time elsewhere.
    // It also keeps draining workers alive during the grace period. In a JoinSet, so
    // it cannot outlive this future and keep a dead worker looking alive.
    let mut keep_alive = JoinSet::new();
    keep_alive.spawn(keep_workers_alive(
        queues.clone(),
        registry.clone(),
        liveness.heartbeat_interval,
    ));
    tracing::info!(
        worker = %options.worker_name,
        orphan_timeout_seconds = liveness.orphan_timeout().as_secs(),
        "job runner started"
    );

    shutdown.await;
    tracing::info!(
        grace_seconds = options.shutdown_grace.as_secs_f64(),
        "job runner shutting down: draining in-flight jobs"
    );
    let _ = stop_tx.send(true);

    // The workers drain their handlers; handlers a failed worker left running on
    // their own get the same grace period.
    handlers.tracker.close();
    let drained = tokio::time::timeout(options.shutdown_grace, async {
        while supervisors.join_next().await.is_some() {}
        handlers.tracker.wait().await;
    })
    .await;
    if drained.is_err() {
        tracing::warn!("shutdown grace period over: stopping the jobs still running");
        handlers.cancel.cancel();
        supervisors.abort_all();
        while supervisors.join_next().await.is_some() {}
        handlers.tracker.wait().await;
    }
    keep_alive.abort_all();

    // Whatever a stopped worker still holds (jobs cut off by the grace period) goes
    // back on its queue now rather than after the orphan timeout.
    let mut result = Ok(());
    for (queue, name) in registry.all() {
        match queues.release_worker(queue, &name).await {
            Ok(0) => {}
            Ok(released) => tracing::warn!(
                queue = queue.as_str(),
                worker = %name,
                released,
                "returned unfinished jobs to the queue"
            ),
            Err(error) => {
                tracing::error!(queue = queue.as_str(), worker = %name, %error, "could not release a worker's jobs; the orphan check will");
                result = Err(error);
            }
        }
    }
    tracing::info!("job runner stopped");
    result
}

/// The names of the apalis workers this runner started, and which are running.
#[derive(Default)]
struct WorkerRegistry {
    workers: Mutex<Vec<(Queue, String, bool)>>,
}

impl WorkerRegistry {
    fn started(&self, queue: Queue, name: &str) {
        if let Ok(mut workers) = self.workers.lock() {
            workers.push((queue, name.to_owned(), true));
        }
    }

    fn finished(&self, name: &str) {
        if let Ok(mut workers) = self.workers.lock() {
            for entry in workers.iter_mut().filter(|entry| entry.1 == name) {
                entry.2 = false;
            }
        }
    }

    fn all(&self) -> Vec<(Queue, String)> {
        self.workers
            .lock()
            .map(|workers| workers.iter().map(|(q, n, _)| (*q, n.clone())).collect())
            .unwrap_or_default()
    }

    fn running(&self) -> Vec<(Queue, String)> {
        self.workers
            .lock()
            .map(|workers| {
                workers
                    .iter()
                    .filter(|entry| entry.2)
                    .map(|(q, n, _)| (*q, n.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Refreshes the heartbeat of this runner's running workers every `every` (those
/// already registered: a worker registers itself when it starts).
async fn keep_workers_alive(queues: Queues, registry: Arc<WorkerRegistry>, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    loop {
        ticker.tick().await;
        for queue in Queue::ALL {
            let names: Vec<String> = registry
                .running()
                .into_iter()
                .filter(|(q, _)| q == queue)
                .map(|(_, name)| name)
                .collect();
            if let Err(error) = queues.keep_alive(*queue, &names).await {
                tracing::warn!(queue = queue.as_str(), %error, "heartbeat of running workers failed");
            }
        }
    }
}

/// Moves due tasks (retries, delayed jobs) of `queues` onto their active lists every
/// poll interval until the runner stops, so workers find them; see
/// [`Queues::promote_due`]. Every pod does this; each batch is atomic, so they need
/// no coordination.
async fn promote_due_tasks(
    queues: Queues,
    of: Vec<Queue>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        for queue in &of {
            if let Err(error) = queues.promote_due(*queue).await {
                tracing::warn!(queue = queue.as_str(), %error, "promoting due jobs failed");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|stopping| *stopping) => return,
        }
    }
}

/// Purges finished jobs of `queues` older than [`FINISHED_JOB_RETENTION`] every
/// [`PURGE_EVERY`] until the runner stops. Every pod does this; the deletes are
/// idempotent, so they need no coordination.
async fn purge_finished_jobs(queues: Queues, of: Vec<Queue>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(PURGE_EVERY) => {}
            _ = stop.wait_for(|stopping| *stopping) => return,
        }
        for queue in &of {
            match queues.purge_finished(*queue, FINISHED_JOB_RETENTION).await {
                Ok(0) => {}
                Ok(purged) => {
                    tracing::info!(queue = queue.as_str(), purged, "purged finished jobs")
                }
                Err(error) => {
                    tracing::warn!(queue = queue.as_str(), %error, "purging finished jobs failed")
                }
            }
        }
    }
}

/// Everything one queue's worker needs.
struct QueueRunner {
    queue: Queue,
    concurrency: usize,
    handler: Arc<dyn JobHandler>,
    queues: Queues,
    store: Store,
    policy: RetryPolicy,
    /// This queue's own schedule, which replaces `policy` when set.
    schedule: Option<RetrySchedule>,
    worker_name: String,
    liveness: Liveness,
    registry: Arc<WorkerRegistry>,
    /// `concurrency` permits, held by every running handler: a restarted worker
    /// generation waits for the handlers its failed predecessor left running.
    permits: Arc<Semaphore>,
    handlers: Handlers,
}

/// Where handlers run: on tasks of their own, so a job keeps running when the
/// apalis worker that fetched it fails (Redis restarted or lost its keys, and the
/// worker is started again). Tracked so shutdown waits for them, cancelled at the
/// end of the grace period.
#[derive(Clone, Default)]
struct Handlers {
    tracker: TaskTracker,
    cancel: CancellationToken,
}

/// A worker generation that ran this long without failing resets the restart backoff.
const HEALTHY_RUN: Duration = Duration::from_secs(60);
const RESTART_BACKOFF_MIN: Duration = Duration::from_millis(500);
const RESTART_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Runs a queue's apalis worker until stopped, restarting it (under a new name, so
/// its registration never collides with the failed one) when it fails.
async fn supervise(runner: Arc<QueueRunner>, mut stop: watch::Receiver<bool>) {
    let mut backoff = RESTART_BACKOFF_MIN;
    loop {
        if *stop.borrow() {
            return;
        }
        // A fresh suffix per start: a restarted worker must not inherit the claims
        // (or the heartbeat) of the generation that failed.
        let suffix = Uuid::new_v4().simple().to_string();
        let name = format!(
            "{}-{}-{}",
            runner.worker_name,
            runner.queue.as_str(),
            suffix.get(..8).unwrap_or(&suffix)
        );
        runner.registry.started(runner.queue, &name);
        let started = Instant::now();
        let result = AssertUnwindSafe(run_worker(runner.clone(), &name, stop.clone()))
            .catch_unwind()
            .await;
        runner.registry.finished(&name);
        let error = match result {
            Ok(Ok(())) => return,
            Ok(Err(error)) => error.to_string(),
            // A panic inside apalis must not take the queue down for good.
            Err(panic) => format!("the worker panicked: {}", panic_message(panic.as_ref())),
        };
        metrics::counter!("junction_worker_restarts_total", "queue" => runner.queue.as_str())
            .increment(1);
        if started.elapsed() > HEALTHY_RUN {
            backoff = RESTART_BACKOFF_MIN;
        }
        tracing::error!(
            queue = runner.queue.as_str(),
            worker = %name,
            error = %error,
            retry_in_ms = backoff.as_millis() as u64,
            "job worker failed; restarting"
        );
        // Its claimed tasks go back now if Redis answers; otherwise a live worker's
        // orphan check returns them after the orphan timeout.
        if let Err(error) = runner.queues.release_worker(runner.queue, &name).await {
            tracing::warn!(queue = runner.queue.as_str(), worker = %name, %error, "could not release the failed worker's jobs");
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.wait_for(|stopping| *stopping) => return,
        }
        backoff = (backoff * 2).min(RESTART_BACKOFF_MAX);
    }
}

/// One apalis worker generation, until it is stopped (Ok) or fails (Err).
async fn run_worker(
    runner: Arc<QueueRunner>,
    name: &str,
    stop: watch::Receiver<bool>,
) -> Result<(), apalis::prelude::WorkerError> {
    let liveness = runner.liveness;
    // Nothing announces pushes, so idle workers poll; the runner's promoter moves
    // tasks that became due onto the active list. The backend talks to Redis over the
    // queues' own connection, so its fetches and acknowledgements get the same bound
    // and the same one-retry-on-a-new-connection after a Redis restart as every other
    // command.
    let backend = QueueBackend::new(
        runner.queues.clone(),
        BackendOptions {
            queue: runner.queue,
            prefetch: liveness.prefetch.unwrap_or(runner.concurrency),
            heartbeat_interval: liveness.heartbeat_interval,
            orphan_timeout: liveness.orphan_timeout(),
        },
    )
    .poll_with_interval(liveness.poll_interval);
    let handler_runner = runner.clone();
    let worker = WorkerBuilder::new(name)
        .backend(backend)
        .concurrency(runner.concurrency)
        .build(move |payload: Vec<u8>, task_id: TaskId| {
            let runner = handler_runner.clone();
            async move { runner.process_detached(payload, task_id).await }
        });
    worker
        .run_with_ctx(move |worker| {
            let mut stop = stop.clone();
            async move {
                // A closed channel means the runner is gone: stop as well.
                let _ = stop.wait_for(|stopping| *stopping).await;
                loop {
                    match worker.stop() {
                        Ok(()) => return Ok(()),
                        // Shutdown raced the worker's start: stop it once it runs.
                        Err(_) if worker.is_pending() => {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                        Err(error) => return Err(error),
                    }
                }
            }
        })
        .await
}

/// The runner itself failed to record an outcome: the task runs again later.
#[derive(Debug, thiserror::Error)]
#[error("the job runner could not record the outcome: {0}")]
struct RunnerFailure(JobsError);

impl QueueRunner {
    /// One delivery of one task, run on a task of its own (see [`Handlers`]); if
    /// the apalis worker awaiting it fails, the handler carries on and records its
    /// outcome in Postgres and in our own retry push — only apalis's acknowledgement
    /// is lost, and the reconciliation sweep sees the job's in-flight mark meanwhile.
    async fn process_detached(
        self: Arc<Self>,
        payload: Vec<u8>,
        task_id: TaskId,
    ) -> Result<String, BoxDynError> {
        let cancel = self.handlers.cancel.clone();
        let runner = self.clone();
        let handler = self.handlers.tracker.spawn(async move {
            let Ok(_permit) = runner.permits.clone().acquire_owned().await else {
                return None;
            };
            tokio::select! {
                outcome = runner.process(payload, task_id) => Some(outcome),
                _ = cancel.cancelled() => None,
            }
        });
        match handler.await {
            Ok(Some(outcome)) => outcome,
            // Cut off at the end of the shutdown grace period: the task goes back to
            // the queue with the worker's other claims.
            Ok(None) => Err("the job was stopped at shutdown".into()),
            Err(error) => Err(format!("the job's task failed: {error}").into()),
        }
    }

    /// One delivery of one task.
    async fn process(&self, payload: Vec<u8>, task_id: TaskId) -> Result<String, BoxDynError> {
        let envelope = match Envelope::from_slice(&payload) {
            Ok(envelope) => envelope,
            Err(error) => return self.bury_unreadable(&payload, &task_id, &error).await,
        };
        let job_id = envelope.job_id.clone();
        let attempt = self.attempt(envelope);
        tokio::pin!(attempt);
        // Written one heartbeat interval into the attempt and renewed at every
        // heartbeat while it runs, its outcome recorded included: the reconciliation
        // sweep reads it to tell a job Redis forgot from one a live worker is
        // running. A worker writes it within one interval of Redis losing it either
        // way, which is what the sweep relies on; jobs shorter than an interval (most
        // of them) never cost the two round trips.
        let every = self.liveness.heartbeat_interval;
        let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut marked = false;
        let outcome = loop {
            tokio::select! {
                outcome = &mut attempt => break outcome,
                _ = beat.tick() => {
                    marked |= self.mark_in_flight(&job_id).await;
                }
            }
        };
        if marked && let Err(error) = self.queues.clear_in_flight(self.queue, &job_id).await {
            tracing::debug!(queue = self.queue.as_str(), %job_id, %error, "could not clear a job's in-flight mark; it expires");
        }
        outcome
    }

    /// Marks a job in flight for three heartbeats; whether the mark was written (a
    /// failure only delays the sweep's view of the job, never the job).
    async fn mark_in_flight(&self, job_id: &str) -> bool {
        let ttl = self.liveness.heartbeat_interval * IN_FLIGHT_MARK_BEATS;
        match self
            .queues
            .mark_in_flight(self.queue, job_id, &self.worker_name, ttl)
            .await
        {
            Ok(()) => true,
            Err(error) => {
                tracing::debug!(queue = self.queue.as_str(), %job_id, %error, "could not mark a job in flight");
                false
            }
        }
    }

    /// One attempt of a readable envelope: the handler, then the outcome recorded.
    async fn attempt(&self, envelope: Envelope) -> Result<String, BoxDynError> {
        let queue = self.queue.as_str();
        let started = Instant::now();
        let result = AssertUnwindSafe(self.handler.handle(&envelope))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
                Err(JobFailure::retryable(
                    ErrorCode::Internal,
                    format!(
                        "the job handler panicked: {}",
                        panic_message(panic.as_ref())
                    ),
                ))
            });
        metrics::histogram!("junction_job_duration_seconds", "queue" => queue)
            .record(started.elapsed().as_secs_f64());
        match result {
            Ok(()) => {
                metrics::counter!("junction_jobs_total", "queue" => queue, "outcome" => OUTCOME_SUCCEEDED)
                    .increment(1);
                tracing::debug!(queue, job_id = %envelope.job_id, attempt = envelope.attempt, "job succeeded");
                Ok(OUTCOME_SUCCEEDED.to_owned())
            }
            Err(failure) => self.after_failure(envelope, failure).await,
        }
    }

    async fn after_failure(
        &self,
        envelope: Envelope,
        failure: JobFailure,
    ) -> Result<String, BoxDynError> {
        let queue = self.queue.as_str();
        let now = Utc::now();
        let decision = match &self.schedule {
            Some(schedule) => schedule.decide(envelope.tries(), &failure, now),
            None => {
                let mut rng = rand::rng();
                self.policy
                    .decide(envelope.tries(), &failure, now, &mut rng)
            }
        };
        match decision {
            Decision::RetryAt(at) => {
                self.hook("on_retry", self.handler.on_retry(&envelope, &failure, at))
                    .await;
                let next = envelope.next_attempt(AttemptRecord {
                    attempt: envelope.attempt,
                    at: now,
                    error_code: failure.code.name().to_owned(),
                    error_message: failure.message.clone(),
                    retry_at: Some(at),
                });
                self.queues
                    .schedule(next, at)
                    .await
                    .map_err(|e| self.runner_failure(&envelope, e))?;
                metrics::counter!("junction_jobs_total", "queue" => queue, "outcome" => OUTCOME_RETRIED)
                    .increment(1);
                metrics::counter!("junction_job_retries_total", "queue" => queue).increment(1);
                tracing::warn!(
                    queue,
                    job_id = %envelope.job_id,
                    attempt = envelope.attempt,
                    code = failure.code.name(),
                    error = %failure.message,
                    retry_at = %at,
                    "job failed; retry scheduled"
                );
                Ok(OUTCOME_RETRIED.to_owned())
            }
            Decision::Defer(at) => {
                self.queues
                    .schedule(envelope.deferred(), at)
                    .await
                    .map_err(|e| self.runner_failure(&envelope, e))?;
                metrics::counter!("junction_jobs_total", "queue" => queue, "outcome" => OUTCOME_DEFERRED)
                    .increment(1);
                tracing::info!(
                    queue,
                    job_id = %envelope.job_id,
                    attempt = envelope.attempt,
                    reason = %failure.message,
                    until = %at,
                    "job put off"
                );
                // Its next delivery is scheduled, as after a retry.
                Ok(OUTCOME_RETRIED.to_owned())
            }
            Decision::DeadLetter => {
                let letter = dead::bury(&self.store, &envelope, &failure, now)
                    .await
                    .map_err(|e| self.runner_failure(&envelope, e))?;
                self.hook(
                    "on_dead_letter",
                    self.handler.on_dead_letter(&envelope, &failure),
                )
                .await;
                metrics::counter!("junction_jobs_total", "queue" => queue, "outcome" => "dead")
                    .increment(1);
                metrics::counter!("junction_dead_letters_total", "queue" => queue).increment(1);
                tracing::error!(
                    queue,
                    job_id = %envelope.job_id,
                    attempt = envelope.attempt,
                    dead_letter_id = %letter.id,
                    code = failure.code.name(),
                    error = %failure.message,
                    "job dead-lettered"
                );
                Err(AbortError::new(failure).into())
            }
            Decision::Abandon => {
                self.hook("on_retry", self.handler.on_retry(&envelope, &failure, now))
                    .await;
                metrics::counter!("junction_jobs_total", "queue" => queue, "outcome" => OUTCOME_ABANDONED)
                    .increment(1);
                tracing::info!(
                    queue,
                    job_id = %envelope.job_id,
                    attempt = envelope.attempt,
                    code = failure.code.name(),
                    error = %failure.message,
                    "job abandoned"
                );
                Ok(OUTCOME_ABANDONED.to_owned())
            }
        }
    }

    /// Runs a handler hook; a panicking hook is logged, not fatal to the worker.
    async fn hook(&self, name: &'static str, hook: impl Future<Output = ()>) {
        if let Err(panic) = AssertUnwindSafe(hook).catch_unwind().await {
            tracing::error!(
                queue = self.queue.as_str(),
                hook = name,
                panic = %panic_message(panic.as_ref()),
                "a job handler hook panicked"
            );
        }
    }

    fn runner_failure(&self, envelope: &Envelope, error: JobsError) -> BoxDynError {
        metrics::counter!("junction_job_runner_errors_total", "queue" => self.queue.as_str())
            .increment(1);
        tracing::error!(
            queue = self.queue.as_str(),
            job_id = %envelope.job_id,
            attempt = envelope.attempt,
            %error,
            "could not record the job's outcome; it will run again"
        );
        Box::new(RunnerFailure(error))
    }

    /// A payload that is not a readable envelope (unknown version or kind) is never
    /// dropped: it is dead-lettered with the raw payload when its workspace can be
    /// read from it, and killed in Redis (where its data stays) either way.
    async fn bury_unreadable(
        &self,
        payload: &[u8],
        task_id: &TaskId,
        error: &JobsError,
    ) -> Result<String, BoxDynError> {
        let queue = self.queue.as_str();
        // Kept as JSON when it is JSON, else as the text it is.
        let payload = serde_json::from_slice::<serde_json::Value>(payload).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(payload).into_owned())
        });
        let task_id = task_id.to_string();
        let failure = JobFailure::permanent(ErrorCode::Internal, error.to_string());
        let now = Utc::now();
        let job_id = payload
            .get("job_id")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| {
                task_id
                    .rsplit_once('#')
                    .map(|(job, _)| job.to_owned())
                    .unwrap_or_else(|| task_id.clone())
            });
        let workspace_id = payload
            .get("job")
            .and_then(|job| job.get("workspace_id"))
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse::<WorkspaceId>().ok());
        let attempt = payload
            .get("attempt")
            .and_then(|v| v.as_u64())
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(1)
            .max(1);
        metrics::counter!("junction_jobs_total", "queue" => queue, "outcome" => "dead")
            .increment(1);
        let Some(workspace_id) = workspace_id else {
            tracing::error!(
                queue,
                task_id = %task_id,
                %error,
                "unreadable job payload without a workspace: killed, its data stays in Redis"
            );
            return Err(AbortError::new(failure).into());
        };
        let attempt_log = serde_json::json!([AttemptRecord {
            attempt,
            at: now,
            error_code: failure.code.name().to_owned(),
            error_message: failure.message.clone(),
            retry_at: None,
        }]);
        let row = DeadLetterRow {
            workspace_id,
            // The integration may be gone; the raw payload still names it.
            integration_id: None,
            queue: self.queue,
            job_id: &job_id,
            job: payload,
            failure: &failure,
            attempts: attempt,
            attempt_log,
            first_failed_at: now,
        };
        match dead::insert(&self.store, row).await {
            Ok(letter) => {
                metrics::counter!("junction_dead_letters_total", "queue" => queue).increment(1);
                tracing::error!(queue, task_id = %task_id, dead_letter_id = %letter.id, %error, "unreadable job payload dead-lettered");
                Err(AbortError::new(failure).into())
            }
            Err(store_error) => {
                metrics::counter!("junction_job_runner_errors_total", "queue" => queue)
                    .increment(1);
                tracing::error!(queue, task_id = %task_id, error = %store_error, "could not dead-letter an unreadable payload; it will run again");
                Err(Box::new(RunnerFailure(store_error)))
            }
        }
    }
}

/// The text of a panic payload.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}
