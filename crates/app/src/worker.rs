//! The worker: the job queues' handlers and the loop one worker process (pod) runs —
//! the `junction-worker` binary and end-to-end tests start it alike.
//!
//! One [`Worker`]:
//! - runs the **sync**, **action**, **webhook**, **notify** and **outbound** queues
//!   through junction-jobs' runner, `[worker] *_concurrency` jobs at once each:
//!   retries with backoff and `Retry-After` (outbound webhook deliveries on their
//!   own fixed schedule), dead letters in Postgres. Each handler parses its job and
//!   calls one use case ([`App::run_sync_attempt`], [`App::run_queued_action`],
//!   [`App::apply_webhook_event`], [`App::deliver_notification`],
//!   [`App::deliver_outbound`]) and records retries and dead letters through the
//!   same layer;
//! - relays committed jobs from the outbox to the queues
//!   ([`junction_jobs::Relay`]);
//! - runs the **scheduler** every `scheduler_interval_seconds`: any number of pods
//!   may run it, the claim in Postgres never hands an integration to two of them;
//!   beside it, the **notice sweep** (weekly KPI reports and daily digests that are
//!   due; one worker per interval, under the lease `notices`);
//! - takes part in the **reconciliation sweep** (`reconcile`): one worker of the
//!   installation per `reconcile_interval_seconds` gives rows whose job Redis
//!   forgot their job back;
//! - refreshes the queue and outbox gauges every few seconds.
//!
//! Shutdown: when the `shutdown` future resolves (SIGTERM or SIGINT in the binary),
//! the worker stops fetching, relaying and scheduling, lets in-flight jobs finish
//! within `shutdown_grace_seconds`, returns prefetched tasks to the queue and
//! returns. A worker killed outright loses nothing either: its tasks come back
//! through the queues' orphan check once its heartbeats stop, staged jobs stay in
//! the outbox until a relay takes them, and each page of a sync is committed with
//! its cursor, so the next attempt resumes where it stopped.

use std::{future::Future, sync::Arc, time::Duration};

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use junction_core::ErrorCode;
use junction_jobs::{
    Envelope, FailureKind, Job, JobFailure, JobHandler, Liveness, QueueWorker, Relay, RelayOptions,
    RetryPolicy, RetrySchedule, RunnerOptions,
};
use junction_store::models::{LogLevel, NotificationStatus, Queue, WebhookStatus};
use tokio::sync::watch;

use crate::{App, metrics, syncs::Attempt};

/// How often the queue and outbox gauges are refreshed.
const GAUGE_INTERVAL: Duration = Duration::from_secs(5);

/// How long shutdown waits for a scheduler pass or relay pass in progress.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A worker process, ready to [`Worker::run`].
#[derive(Debug, Clone)]
pub struct Worker {
    app: App,
    name: String,
}

/// This process's name: the pod's host name and the process id (the runner adds the
/// queue and a random suffix to each apalis worker it starts, so a restarted pod
/// never collides with its previous registration).
fn process_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_owned());
    format!("{host}-{}", std::process::id())
}

impl Worker {
    pub fn new(app: App) -> Self {
        Self {
            app,
            name: process_name(),
        }
    }

    /// The application the handlers run on.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// This process's worker name (in the queues' worker registry and the logs).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs until `shutdown` resolves, then drains (see the module docs).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let settings = &self.app.config.worker;
        let (stop_tx, stop_rx) = watch::channel(false);
        let stop_tx = Arc::new(stop_tx);
        tokio::spawn({
            let stop_tx = stop_tx.clone();
            async move {
                shutdown.await;
                let _ = stop_tx.send(true);
            }
        });

        let scheduler = tokio::spawn({
            let (app, stop) = (self.app.clone(), stop_rx.clone());
            let interval = Duration::from_secs(settings.scheduler_interval_seconds);
            async move { app.run_scheduler(interval, stop).await }
        });
        let notices = tokio::spawn({
            let (app, stop, holder) = (self.app.clone(), stop_rx.clone(), self.name.clone());
            let interval = Duration::from_secs(settings.scheduler_interval_seconds);
            async move { app.run_notice_sweeps(holder, interval, stop).await }
        });
        let relay = Relay::new(
            self.app.system_store()?.clone(),
            self.app.queues.clone(),
            RelayOptions {
                batch: settings.outbox_batch,
                poll_interval: Duration::from_millis(settings.outbox_poll_interval_ms),
                ..RelayOptions::default()
            },
        );
        let relay = tokio::spawn({
            let stop = stop_rx.clone();
            async move { relay.run(stop).await }
        });
        let reconciler = tokio::spawn({
            let (app, stop, holder) = (self.app.clone(), stop_rx.clone(), self.name.clone());
            async move { app.run_reconciler(holder, stop).await }
        });
        let gauges = tokio::spawn({
            let (app, mut stop) = (self.app.clone(), stop_rx.clone());
            async move {
                let mut ticker = tokio::time::interval(GAUGE_INTERVAL);
                loop {
                    tokio::select! {
                        _ = ticker.tick() => {}
                        _ = stop.wait_for(|stopped| *stopped) => return,
                    }
                    metrics::refresh_queue_gauges(&app.queues).await;
                    if let Some(system) = &app.system {
                        metrics::refresh_outbox_gauges(system).await;
                    }
                }
            }
        });

        let handler = |queue: Queue, concurrency: usize| QueueWorker {
            queue,
            concurrency,
            handler: Arc::new(Handler {
                app: self.app.clone(),
                queue,
            }),
            schedule: None,
        };
        let outbound_schedule = RetrySchedule::new(
            settings
                .outbound_retry_schedule_seconds
                .iter()
                .map(|seconds| Duration::from_secs(*seconds))
                .collect(),
        );
        let workers = vec![
            handler(Queue::Sync, settings.sync_concurrency),
            handler(Queue::Action, settings.action_concurrency),
            handler(Queue::Webhook, settings.webhook_concurrency),
            handler(Queue::Notify, settings.notify_concurrency),
            // Deliveries retry on their own fixed schedule (Svix's), not the policy.
            QueueWorker {
                schedule: Some(outbound_schedule),
                ..handler(Queue::Outbound, settings.outbound_concurrency)
            },
        ];
        let options = RunnerOptions {
            policy: RetryPolicy {
                base: Duration::from_millis(settings.retry_base_ms),
                cap: Duration::from_secs(settings.retry_cap_seconds),
                max_attempts: settings.max_attempts,
            },
            shutdown_grace: Duration::from_secs(settings.shutdown_grace_seconds),
            worker_name: self.name.clone(),
        };
        let liveness = Liveness {
            heartbeat_interval: Duration::from_secs(settings.heartbeat_interval_seconds),
            missed_heartbeats: settings.missed_heartbeats,
            poll_interval: Duration::from_millis(settings.poll_interval_ms),
            prefetch: None,
        };
        tracing::info!(
            worker = %self.name,
            sync_concurrency = settings.sync_concurrency,
            scheduler_interval_seconds = settings.scheduler_interval_seconds,
            "junction-worker running"
        );
        let mut stop_runner = stop_rx.clone();
        let runner = junction_jobs::run_with(
            &self.app.queues,
            &self.app.store,
            workers,
            options,
            liveness,
            async move {
                let _ = stop_runner.wait_for(|stopped| *stopped).await;
            },
        )
        .await;

        // The runner returns after the shutdown signal (or on a fatal queue error):
        // stop the rest too. A scheduler or relay pass in progress finishes (its
        // claims get their runs, its jobs their queue); one that hangs is left to its
        // lease.
        if !*stop_rx.borrow() {
            tracing::error!("the job runner stopped before shutdown was asked for");
        }
        let _ = stop_tx.send(true);
        for (what, task) in [
            ("scheduler", scheduler),
            ("notice sweep", notices),
            ("outbox relay", relay),
            ("reconciliation sweep", reconciler),
        ] {
            if tokio::time::timeout(STOP_GRACE, task).await.is_err() {
                tracing::warn!(
                    what,
                    "did not stop in time; its claims are taken again after their lease"
                );
            }
        }
        gauges.abort();
        runner.context("the job runner failed")?;
        tracing::info!(worker = %self.name, "junction-worker stopped");
        Ok(())
    }
}

/// The handler of one queue: parses the job, calls its use case.
struct Handler {
    app: App,
    queue: Queue,
}

impl Handler {
    /// The envelope's job, which must be of this handler's queue: anything else is
    /// a routing bug no retry fixes.
    fn job<'e>(&self, envelope: &'e Envelope) -> Result<&'e Job, JobFailure> {
        if envelope.job.queue() == self.queue {
            Ok(&envelope.job)
        } else {
            Err(JobFailure::permanent(
                ErrorCode::Internal,
                format!(
                    "the {} queue received a `{}` job",
                    self.queue,
                    envelope.job.kind()
                ),
            ))
        }
    }
}

#[async_trait]
impl JobHandler for Handler {
    async fn handle(&self, envelope: &Envelope) -> Result<(), JobFailure> {
        let result = match self.job(envelope)? {
            Job::Sync(job) => {
                self.app
                    .run_sync_attempt(Attempt {
                        job_id: &envelope.job_id,
                        number: envelope.attempt,
                        job,
                    })
                    .await
            }
            Job::Action(job) => {
                let result = self.app.run_queued_action(job).await;
                // Abandoned jobs get neither hook: their end is recorded here.
                if let Err(failure) = &result
                    && failure.kind == FailureKind::Abandon
                {
                    self.app.record_action_failure(job, failure, true).await;
                }
                result
            }
            Job::Webhook(job) => {
                let result = self.app.apply_webhook_event(job).await;
                if let Err(failure) = &result
                    && failure.kind == FailureKind::Abandon
                {
                    self.app
                        .record_webhook_failure(
                            job,
                            WebhookStatus::Failed,
                            failure,
                            Some(LogLevel::Warn),
                        )
                        .await;
                }
                result
            }
            Job::Notify(job) => self.app.deliver_notification(job).await,
            Job::Outbound(job) => self.app.deliver_outbound(job, &envelope.job_id).await,
        };
        if let Err(failure) = &result {
            tracing::warn!(
                job_id = %envelope.job_id,
                attempt = envelope.attempt,
                code = failure.code.name(),
                error = %failure.message,
                "{} attempt failed",
                self.queue
            );
        }
        result
    }

    async fn on_retry(&self, envelope: &Envelope, failure: &JobFailure, at: DateTime<Utc>) {
        // An abandoned job already recorded its end.
        if failure.kind == FailureKind::Abandon {
            return;
        }
        let Ok(job) = self.job(envelope) else {
            return;
        };
        match job {
            Job::Sync(job) => {
                self.app
                    .record_sync_retry(
                        Attempt {
                            job_id: &envelope.job_id,
                            number: envelope.attempt,
                            job,
                        },
                        failure,
                        at,
                    )
                    .await
            }
            Job::Action(job) => self.app.record_action_failure(job, failure, false).await,
            Job::Webhook(job) => {
                self.app
                    .record_webhook_failure(job, WebhookStatus::Failed, failure, None)
                    .await
            }
            Job::Notify(job) => {
                self.app
                    .record_notification_failure(
                        job.workspace_id,
                        job.notification_id,
                        None,
                        &failure.message,
                    )
                    .await
            }
            Job::Outbound(job) => self.app.record_outbound_retry(job, failure, at).await,
        }
    }

    async fn on_dead_letter(&self, envelope: &Envelope, failure: &JobFailure) {
        let Ok(job) = self.job(envelope) else {
            return;
        };
        match job {
            Job::Sync(job) => {
                self.app
                    .record_sync_dead(
                        Attempt {
                            job_id: &envelope.job_id,
                            number: envelope.attempt,
                            job,
                        },
                        failure,
                    )
                    .await
            }
            Job::Action(job) => {
                self.app.record_action_failure(job, failure, true).await;
                self.app
                    .notify_dead_letter(
                        job.workspace_id,
                        job.integration_id,
                        Queue::Action,
                        &envelope.job_id,
                        failure,
                        envelope.attempt,
                    )
                    .await;
            }
            Job::Webhook(job) => {
                self.app
                    .record_webhook_failure(
                        job,
                        WebhookStatus::Dead,
                        failure,
                        Some(LogLevel::Error),
                    )
                    .await;
                self.app
                    .notify_dead_letter(
                        job.workspace_id,
                        job.integration_id,
                        Queue::Webhook,
                        &envelope.job_id,
                        failure,
                        envelope.attempt,
                    )
                    .await;
            }
            // Dead letters of this queue notify nobody (that would loop).
            Job::Notify(job) => {
                self.app
                    .record_notification_failure(
                        job.workspace_id,
                        job.notification_id,
                        Some(NotificationStatus::Failed),
                        &failure.message,
                    )
                    .await
            }
            // The client app's endpoint is down, so it cannot be told: the dead letter
            // (listed, replayable), the delivery's status and an email to the
            // workspace's dead-letter recipients say so.
            Job::Outbound(job) => {
                self.app.record_outbound_dead(job, failure).await;
                self.app
                    .notify_outbound_dead(job, &envelope.job_id, failure, envelope.attempt)
                    .await;
            }
        }
    }
}
