//! junction-worker: runs Junction's job queues and the sync scheduler.
//!
//! One process ("pod") of the worker:
//! - runs the **sync** queue through junction-jobs' runner with
//!   `[worker] sync_concurrency` jobs at once ([`sync::SyncHandler`]): retries with
//!   backoff and `Retry-After`, dead letters in Postgres, replays through the API/CLI;
//! - runs the **scheduler** ([`scheduler::Scheduler`]) every
//!   `scheduler_interval_seconds`: any number of pods may run it, the claim in
//!   Postgres never hands an integration to two of them;
//! - shares each provider's request budget with every other pod through Redis
//!   ([`junction_ratelimit::RedisRateLimiter`]);
//! - serves `/metrics`, `/healthz` and `/readyz` on `metrics_bind`, and refreshes the
//!   queue depth and lag gauges every few seconds.
//!
//! - runs the **notify** queue with `[worker] notify_concurrency` jobs at once
//!   ([`notify::NotifyHandler`]): each notification (a KPI alert, a failed sync, an
//!   integration needing a reconnect, a dead letter) is emailed once through the
//!   workspace's Resend integration, skipping suppressed addresses;
//! - evaluates the **alert rules** of an integration after each successful sync and
//!   records the notifications failures owe ([`alerts::Notifier`]): each once, by
//!   dedupe key, queued on the notify queue.
//!
//! - runs the **action** queue (`action_concurrency`, [`action::ActionHandler`]):
//!   queued provider actions, each attempt under the run's provider idempotency key;
//! - runs the **webhook** queue (`webhook_concurrency`, [`webhook::WebhookHandler`]):
//!   stored webhook events, verified again and applied to records, KPI points and
//!   email suppressions in one transaction.
//!
//! Shutdown: when the `shutdown` future of [`run`] resolves (SIGTERM or SIGINT in the
//! binary), the worker stops fetching and scheduling, lets in-flight jobs finish
//! within `shutdown_grace_seconds`, returns prefetched tasks to the queue and
//! returns. A worker killed outright loses nothing either: its tasks come back
//! through apalis's orphan handling once its heartbeats stop, and each page of a
//! sync is committed with its cursor, so the next attempt resumes where it stopped.

pub mod action;
pub mod alerts;
pub mod calls;
pub mod metrics;
pub mod notify;
pub mod scheduler;
pub mod server;
pub mod sync;
pub mod webhook;

use std::{future::Future, sync::Arc, time::Duration};

use anyhow::Context as _;
use junction_app::{Config, Connections};
use junction_jobs::{Liveness, QueueWorker, Queues, RetryPolicy, RunnerOptions};
use junction_ratelimit::RedisRateLimiter;
use junction_registry::Registry;
use junction_store::{Store, StoreOptions, models::Queue};
use tokio::sync::watch;

pub use action::ActionHandler;
pub use alerts::Notifier;
pub use notify::NotifyHandler;
pub use scheduler::{PassReport, Scheduler};
pub use sync::SyncHandler;
pub use webhook::WebhookHandler;

/// How often the queue gauges are refreshed from Redis.
const QUEUE_GAUGE_INTERVAL: Duration = Duration::from_secs(5);

/// How long shutdown waits for a scheduler pass in progress.
const SCHEDULER_STOP_GRACE: Duration = Duration::from_secs(10);

/// A connected worker, ready to [`Worker::run`].
pub struct Worker {
    config: Arc<Config>,
    store: Store,
    queues: Queues,
    connections: Connections,
    scheduler: Scheduler,
    name: String,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("name", &self.name)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// This process's name: the pod's host name and the process id (the runner adds
/// the queue and a random suffix to each apalis worker it starts, so a restarted
/// pod never collides with its previous registration).
fn worker_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_owned());
    format!("{host}-{}", std::process::id())
}

impl Worker {
    /// Connects to Postgres and Redis (failing fast when either is down).
    pub async fn connect(config: Config, registry: Registry) -> anyhow::Result<Self> {
        let store = Store::connect(
            &config.database_url,
            StoreOptions {
                max_connections: config.database_max_connections,
                application_name: "junction-worker".into(),
                ..StoreOptions::default()
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e} (database {})", config.database_url.redacted()))?;
        let queues = Queues::connect(config.redis_url(), &config.queue_prefix)
            .await
            .context("connecting to Redis (REDIS_URL)")?;
        // The limiter shares the queues' Redis connection and key prefix.
        let limiter = RedisRateLimiter::sharing(
            queues.connection(),
            queues.prefix(),
            Duration::from_secs(config.worker.rate_limit_max_wait_seconds),
        );
        let config = Arc::new(config);
        let connections = Connections::new(config.clone(), store.clone(), registry)?
            .with_limiter(Arc::new(limiter));
        let scheduler = Scheduler::new(
            store.clone(),
            queues.clone(),
            config.worker.claim_batch,
            lease(&config),
        )
        .with_notifier(Notifier::new(
            store.clone(),
            queues.clone(),
            connections.clock.clone(),
        ));
        Ok(Self {
            config,
            store,
            queues,
            connections,
            scheduler,
            name: worker_name(),
        })
    }

    /// This process's worker name (in apalis's worker registry and the logs).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn queues(&self) -> &Queues {
        &self.queues
    }

    /// The scheduler (tests call [`Scheduler::pass`] directly).
    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    /// One scheduler pass, now.
    pub async fn scheduler_pass(&self) -> Result<PassReport, scheduler::SchedulerError> {
        self.scheduler.pass().await
    }

    /// The sync handler as this worker runs it.
    pub fn sync_handler(&self) -> SyncHandler {
        SyncHandler::new(
            self.connections.clone(),
            self.config.worker.page_size,
            chrono::Duration::from_std(lease(&self.config)).unwrap_or(chrono::Duration::MAX),
        )
        .with_notifier(self.notifier())
    }

    /// What creates and queues notifications (alert evaluation, failures).
    pub fn notifier(&self) -> Notifier {
        Notifier::new(
            self.store.clone(),
            self.queues.clone(),
            self.connections.clock.clone(),
        )
    }

    /// The notify handler as this worker runs it.
    pub fn notify_handler(&self) -> NotifyHandler {
        NotifyHandler::new(self.connections.clone())
    }

    /// Runs until `shutdown` resolves, then drains (see the crate docs). `ready` is
    /// called once everything is running, with the metrics server's address.
    pub async fn run_with(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
        ready: impl FnOnce(&str, Option<std::net::SocketAddr>),
    ) -> anyhow::Result<()> {
        let settings = &self.config.worker;
        let (stop_tx, stop_rx) = watch::channel(false);
        let stop_tx = Arc::new(stop_tx);
        tokio::spawn({
            let stop_tx = stop_tx.clone();
            async move {
                shutdown.await;
                let _ = stop_tx.send(true);
            }
        });

        let server = match settings.metrics_bind.as_deref().map(str::trim) {
            Some(bind) if !bind.is_empty() => Some(server::OpsServer::start(
                bind,
                metrics::prometheus(),
                self.store.clone(),
                self.queues.clone(),
            )?),
            _ => None,
        };

        let scheduler = self.scheduler.clone();
        let interval = Duration::from_secs(settings.scheduler_interval_seconds);
        let scheduler_task = tokio::spawn({
            let stop = stop_rx.clone();
            async move { scheduler.run(interval, stop).await }
        });
        let gauges_task = tokio::spawn({
            let queues = self.queues.clone();
            let mut stop = stop_rx.clone();
            async move {
                let mut ticker = tokio::time::interval(QUEUE_GAUGE_INTERVAL);
                loop {
                    tokio::select! {
                        _ = ticker.tick() => metrics::refresh_queue_gauges(&queues).await,
                        () = stopped(&mut stop) => return,
                    }
                }
            }
        });

        let workers = vec![
            QueueWorker {
                queue: Queue::Sync,
                concurrency: settings.sync_concurrency,
                handler: Arc::new(self.sync_handler()),
            },
            QueueWorker {
                queue: Queue::Action,
                concurrency: settings.action_concurrency,
                handler: Arc::new(
                    ActionHandler::new(self.connections.clone()).with_notifier(self.notifier()),
                ),
            },
            QueueWorker {
                queue: Queue::Webhook,
                concurrency: settings.webhook_concurrency,
                handler: Arc::new(
                    WebhookHandler::new(self.connections.clone()).with_notifier(self.notifier()),
                ),
            },
            QueueWorker {
                queue: Queue::Notify,
                concurrency: settings.notify_concurrency,
                handler: Arc::new(self.notify_handler()),
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
        tracing::info!(
            worker = %self.name,
            sync_concurrency = settings.sync_concurrency,
            notify_concurrency = settings.notify_concurrency,
            scheduler_interval_seconds = settings.scheduler_interval_seconds,
            metrics = ?server.as_ref().map(|s| s.local_addr),
            "junction-worker running"
        );
        ready(&self.name, server.as_ref().map(|s| s.local_addr));

        let liveness = Liveness {
            heartbeat_interval: Duration::from_secs(settings.heartbeat_interval_seconds),
            missed_heartbeats: settings.missed_heartbeats,
            poll_interval: Duration::from_millis(settings.poll_interval_ms),
            prefetch: None,
        };
        let mut stop_runner = stop_rx.clone();
        let runner = junction_jobs::run_with(
            &self.queues,
            &self.store,
            workers,
            options,
            liveness,
            async move { stopped(&mut stop_runner).await },
        )
        .await;

        // The runner returns after the shutdown signal (or on a fatal queue error):
        // stop the rest too. A scheduler pass in progress finishes (its claims get
        // their runs); one that hangs is left to the lease.
        if !*stop_rx.borrow() {
            tracing::error!("the job runner stopped before shutdown was asked for");
        }
        let _ = stop_tx.send(true);
        if tokio::time::timeout(SCHEDULER_STOP_GRACE, scheduler_task)
            .await
            .is_err()
        {
            tracing::warn!(
                "the scheduler did not stop in time; its claims are due again after the lease"
            );
        }
        gauges_task.abort();
        if let Some(server) = server {
            server.stop().await;
        }
        runner.context("the job runner failed")?;
        tracing::info!(worker = %self.name, "junction-worker stopped");
        Ok(())
    }

    /// [`Worker::run_with`] without a readiness callback.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        self.run_with(shutdown, |_, _| {}).await
    }
}

/// Resolves once the stop flag is set (or its sender is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`: drop it inside this statement.
    let _ = stop.wait_for(|stopped| *stopped).await.is_ok();
}

/// The scheduler's claim lease.
fn lease(config: &Config) -> Duration {
    Duration::from_secs(u64::try_from(config.worker.claim_lease_seconds).unwrap_or(600))
}

/// Connects and runs a worker until `shutdown` resolves (see the crate docs).
pub async fn run(
    config: Config,
    registry: Registry,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    Worker::connect(config, registry).await?.run(shutdown).await
}
