//! Shared fixtures: a test environment (database, Redis prefix, queues, a workspace
//! with integrations), a scriptable job handler that records every call, and a
//! runner running in the background.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use junction_core::WorkspaceId;
use junction_jobs::{
    Envelope, Job, JobFailure, JobHandler, JobsError, Liveness, NotifyJob, QueueWorker, Queues,
    Relay, RelayOptions, RetryPolicy, RunnerOptions, SyncJob,
};
use junction_store::{
    Store,
    models::{DeadLetter, Queue},
    repo::dead_letters::{self, DeadLetterFilter},
};
use junction_testkit::{TestDb, TestRedis, create_integration, create_workspace};
use tokio::{sync::oneshot, task::JoinHandle};
use uuid::Uuid;

/// A database, a Redis prefix, queues under it and a workspace with two integrations.
pub struct Env {
    pub db: TestDb,
    pub redis: TestRedis,
    pub queues: Queues,
    pub workspace_id: WorkspaceId,
    pub integration_id: Uuid,
    pub other_integration_id: Uuid,
}

impl Env {
    pub async fn new() -> Self {
        let db = TestDb::new().await;
        let redis = TestRedis::new().await;
        let queues = Queues::connect(redis.url(), redis.prefix()).await.unwrap();
        let (workspace_id, _) = create_workspace(db.store(), "jobs").await;
        let integration_id = create_integration(db.store(), workspace_id, "stripe")
            .await
            .id;
        let other_integration_id = create_integration(db.store(), workspace_id, "resend")
            .await
            .id;
        Self {
            db,
            redis,
            queues,
            workspace_id,
            integration_id,
            other_integration_id,
        }
    }

    /// The Redis key `name` of `queue` (`{prefix}jobs:{queue}:{name}`).
    pub fn key(&self, queue: Queue, name: &str) -> String {
        format!("{}:{name}", self.queues.queue_name(queue))
    }

    /// `queue` as an apalis-redis 1.0 queue: the layout the queues had before their
    /// own, for writing what an installation upgraded from still holds.
    pub fn legacy_config(&self, queue: Queue) -> apalis_redis::Config {
        apalis_redis::Config::default().queue(self.queues.queue_name(queue))
    }

    pub fn store(&self) -> &Store {
        self.db.store()
    }

    /// A sync job of the main integration.
    pub fn sync_job(&self) -> Job {
        self.sync_job_of(self.integration_id)
    }

    pub fn sync_job_of(&self, integration_id: Uuid) -> Job {
        Job::Sync(SyncJob {
            workspace_id: self.workspace_id,
            integration_id,
            run_id: Uuid::new_v4(),
            stream: None,
        })
    }

    pub fn notify_job(&self) -> Job {
        Job::Notify(NotifyJob {
            workspace_id: self.workspace_id,
            notification_id: Uuid::new_v4(),
        })
    }

    /// Every dead letter of the workspace, newest first.
    pub async fn dead_letters(&self) -> Vec<DeadLetter> {
        let mut tx = self.store().begin(self.workspace_id).await.unwrap();
        let letters = dead_letters::list(tx.conn(), &DeadLetterFilter::default(), None, 100)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        letters
    }

    /// One pass of the outbox relay (staged jobs onto their queues).
    pub async fn relay(&self) -> junction_jobs::RelayReport {
        self.relay_with(RelayOptions::default())
            .relay_once()
            .await
            .unwrap()
    }

    pub fn relay_with(&self, options: RelayOptions) -> Relay {
        Relay::new(self.db.system_store().clone(), self.queues.clone(), options)
    }

    pub async fn stats(&self, queue: Queue) -> junction_jobs::QueueStats {
        self.queues.queue_stats(queue).await.unwrap()
    }

    /// Starts a runner with one worker per `(queue, handler)`.
    pub fn start_runner(
        &self,
        name: &str,
        workers: Vec<(Queue, usize, Arc<dyn JobHandler>)>,
        policy: RetryPolicy,
        liveness: Liveness,
        shutdown_grace: Duration,
    ) -> Runner {
        let workers = workers
            .into_iter()
            .map(|(queue, concurrency, handler)| QueueWorker {
                queue,
                concurrency,
                handler,
                schedule: None,
            })
            .collect();
        self.start_workers(name, workers, policy, liveness, shutdown_grace)
    }

    /// Starts a runner with these workers.
    pub fn start_workers(
        &self,
        name: &str,
        workers: Vec<QueueWorker>,
        policy: RetryPolicy,
        liveness: Liveness,
        shutdown_grace: Duration,
    ) -> Runner {
        let queues = self.queues.clone();
        let store = self.store().clone();
        let options = RunnerOptions {
            policy,
            shutdown_grace,
            worker_name: name.to_owned(),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            junction_jobs::run_with(&queues, &store, workers, options, liveness, async move {
                let _ = stopped.await;
            })
            .await
        });
        Runner {
            stop: Some(stop),
            handle,
        }
    }
}

/// Fast retries for tests.
pub fn quick_policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_millis(10),
        cap: Duration::from_millis(50),
        max_attempts,
    }
}

/// Fast polling for tests (production liveness otherwise).
pub fn quick_liveness() -> Liveness {
    Liveness {
        poll_interval: Duration::from_millis(50),
        ..Liveness::default()
    }
}

/// A runner in the background.
pub struct Runner {
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<Result<(), JobsError>>,
}

impl Runner {
    /// Fires the shutdown signal and waits for `run` to return.
    pub async fn shutdown(mut self) -> Result<(), JobsError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(30), &mut self.handle)
            .await
            .expect("the runner did not stop")
            .expect("the runner panicked")
    }

    /// Drops the runner without any cleanup, as SIGKILL would.
    pub async fn kill(self) {
        self.handle.abort();
        let _ = self.handle.await;
    }
}

/// One call of a handler.
#[derive(Debug, Clone)]
pub struct Call {
    pub envelope: Envelope,
    pub at: DateTime<Utc>,
}

type Script = dyn Fn(Envelope, usize) -> BoxFuture<'static, Result<(), JobFailure>> + Send + Sync;

/// A handler whose behaviour is a closure of (envelope, 0-based call number), and
/// which records its calls and hook invocations.
pub struct Scripted {
    script: Box<Script>,
    pub calls: Mutex<Vec<Call>>,
    pub finished: Mutex<Vec<Envelope>>,
    pub dead: Mutex<Vec<(Envelope, JobFailure)>>,
    pub retries: Mutex<Vec<(Envelope, JobFailure, DateTime<Utc>)>>,
}

impl Scripted {
    pub fn new<F, Fut>(script: F) -> Arc<Self>
    where
        F: Fn(Envelope, usize) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), JobFailure>> + Send + 'static,
    {
        Arc::new(Self {
            script: Box::new(move |envelope, n| Box::pin(script(envelope, n))),
            calls: Mutex::default(),
            finished: Mutex::default(),
            dead: Mutex::default(),
            retries: Mutex::default(),
        })
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// The job id of every call, sorted (a job run twice appears twice).
    pub fn job_ids_run(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .calls()
            .into_iter()
            .map(|c| c.envelope.job_id)
            .collect();
        ids.sort();
        ids
    }

    pub fn call_count(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    pub fn dead_count(&self) -> usize {
        self.dead.lock().unwrap().len()
    }
}

#[async_trait]
impl JobHandler for Scripted {
    async fn handle(&self, envelope: &Envelope) -> Result<(), JobFailure> {
        let n = {
            let mut calls = self.calls.lock().unwrap();
            calls.push(Call {
                envelope: envelope.clone(),
                at: Utc::now(),
            });
            calls.len() - 1
        };
        let result = (self.script)(envelope.clone(), n).await;
        self.finished.lock().unwrap().push(envelope.clone());
        result
    }

    async fn on_dead_letter(&self, envelope: &Envelope, failure: &JobFailure) {
        self.dead
            .lock()
            .unwrap()
            .push((envelope.clone(), failure.clone()));
    }

    async fn on_retry(&self, envelope: &Envelope, failure: &JobFailure, at: DateTime<Utc>) {
        self.retries
            .lock()
            .unwrap()
            .push((envelope.clone(), failure.clone(), at));
    }
}

/// Waits until `check` holds, polling; panics with `what` after `within`.
pub async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
