//! [`QueueBackend`]: the apalis backend over our Redis layout, which the runner's
//! apalis workers fetch from.
//!
//! apalis drives it through its [`Persisted`] state machine (register, heartbeat,
//! fetch a batch, hand tasks out one by one, flush completion events), and this file
//! supplies what that machine asks of a store ([`Persistence`]) in a few Redis round
//! trips per *batch* of tasks:
//!
//! - **fetch**: one script claims up to the worker's prefetch from the active list
//!   ([`Queues::claim`]);
//! - **acknowledge**: every completion that arrived since the last flush is recorded
//!   by one script ([`Queues::acknowledge`]); apalis's persistence layer hands
//!   completions over through a channel, so they batch by themselves under load;
//! - **heartbeat**: one script records the worker alive and puts the claims of
//!   workers silent past the orphan timeout back on the queue
//!   ([`Queues::heartbeat`]); registering at start does the same, so a new pod
//!   recovers what a killed one held;
//! - **close**: prefetched tasks never started go back to the front of the queue
//!   ([`Queues::give_back`]).
//!
//! Tasks carry their raw envelope bytes: the runner parses them itself, so an
//! unreadable payload reaches it intact and is dead-lettered, not dropped.

use std::{
    task::{Context, Poll},
    time::Duration,
};

use apalis_core::{
    backend::{
        Backend, BackendConfig,
        codec::Codec,
        finalize::Ephemeral,
        persistence::{Persisted, Persistence, TaskEvent, TaskPersistLayer},
    },
    task::{Task, builder::TaskBuilder, status::Status, task_id::TaskId},
    worker::context::WorkerContext,
};
use junction_store::models::Queue;

use crate::{JobsError, Queues, queue::AttemptEnd};

/// What one queue's worker needs from the backend.
#[derive(Debug, Clone)]
pub(crate) struct BackendOptions {
    pub queue: Queue,
    /// Tasks claimed per fetch.
    pub prefetch: usize,
    pub heartbeat_interval: Duration,
    /// A worker silent this long is dead and its claims go back on the queue.
    pub orphan_timeout: Duration,
}

/// The store behind [`Persisted`]: one queue of [`Queues`].
#[derive(Debug, Clone)]
pub(crate) struct QueueStore {
    queues: Queues,
    options: BackendOptions,
}

impl Persistence for QueueStore {
    type Compact = Vec<u8>;
    type Response = String;
    type Error = JobsError;

    async fn register(&mut self, worker: &WorkerContext) -> Result<(), JobsError> {
        self.heartbeat(worker).await
    }

    async fn heartbeat(&mut self, worker: &WorkerContext) -> Result<(), JobsError> {
        let queue = self.options.queue;
        let recovered = self
            .queues
            .heartbeat(queue, worker.name(), self.options.orphan_timeout)
            .await?;
        if recovered > 0 {
            tracing::warn!(
                queue = queue.as_str(),
                recovered,
                "put the jobs of a silent worker back on the queue"
            );
        }
        Ok(())
    }

    async fn fetch_next(
        &mut self,
        worker: &WorkerContext,
    ) -> Result<Vec<Task<Vec<u8>>>, JobsError> {
        let claimed = self
            .queues
            .claim(self.options.queue, worker.name(), self.options.prefetch)
            .await?;
        Ok(claimed
            .into_iter()
            .map(|(task_id, data)| {
                TaskBuilder::new(data)
                    .task_id(TaskId::from_string(task_id))
                    .build()
            })
            .collect())
    }

    async fn reenqueue_abandoned(
        &mut self,
        tasks: Vec<Task<Vec<u8>>>,
        worker: &WorkerContext,
    ) -> Result<u64, JobsError> {
        let task_ids: Vec<String> = tasks
            .iter()
            .filter_map(|task| task.task_id().map(ToString::to_string))
            .collect();
        self.queues
            .give_back(self.options.queue, worker.name(), &task_ids)
            .await
    }

    async fn handle_events(
        &mut self,
        events: Vec<TaskEvent<String>>,
        worker: &WorkerContext,
    ) -> Result<(), JobsError> {
        let ends: Vec<(String, AttemptEnd)> = events
            .into_iter()
            .filter_map(|event| match event {
                TaskEvent::Complete(result) => {
                    let end = match (&result.result, result.status) {
                        (Ok(outcome), _) => AttemptEnd::Done(outcome.clone()),
                        (Err(_), Status::Killed) => AttemptEnd::Dead,
                        (Err(_), _) => AttemptEnd::Failed,
                    };
                    Some((result.task_id.to_string(), end))
                }
                _ => None,
            })
            .collect();
        if ends.is_empty() {
            return Ok(());
        }
        self.queues
            .acknowledge(self.options.queue, worker.name(), &ends)
            .await
    }

    async fn push_tasks(&mut self, tasks: Vec<Task<Vec<u8>>>) -> Result<(), JobsError> {
        // Due second 0: due now.
        let tasks: Vec<(String, Vec<u8>, u64)> = tasks
            .into_iter()
            .filter_map(|task| {
                let task_id = task.task_id()?.to_string();
                Some((task_id, task.args, 0))
            })
            .collect();
        self.queues.push_raw(self.options.queue, &tasks).await?;
        Ok(())
    }
}

/// The apalis backend of one queue's worker.
#[derive(Debug)]
pub(crate) struct QueueBackend {
    persist: Persisted<QueueStore>,
    options: BackendOptions,
}

impl QueueBackend {
    pub(crate) fn new(queues: Queues, options: BackendOptions) -> Self {
        Self {
            persist: Persisted::new(QueueStore {
                queues,
                options: options.clone(),
            }),
            options,
        }
    }
}

impl Backend for QueueBackend {
    type Task = Task<Vec<u8>>;
    type Error = JobsError;

    fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Result<(), JobsError>> {
        self.persist
            .poll_ready(cx, worker, self.options.heartbeat_interval)
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Option<Result<Self::Task, JobsError>>> {
        self.persist.poll_next(cx, worker)
    }

    fn poll_close(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Result<(), JobsError>> {
        self.persist.poll_close(cx, worker)
    }
}

impl BackendConfig for QueueBackend {
    type Args = Vec<u8>;
    type Id = String;
    /// Tasks reach the handler as stored: no codec in between.
    type Kind = Ephemeral;
    type Config = BackendOptions;
    type Layer = TaskPersistLayer<Outcome, String>;

    fn config(&self) -> &BackendOptions {
        &self.options
    }

    fn middleware(&mut self, _worker: &mut WorkerContext) -> Self::Layer {
        self.persist
            .layer(Outcome, self.options.prefetch)
            .persist_results(true)
    }
}

/// The runner's outcome names are stored as they are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outcome;

impl Codec<String> for Outcome {
    type Error = std::convert::Infallible;
    type Compact = String;

    fn encode(&self, outcome: &String) -> Result<String, Self::Error> {
        Ok(outcome.clone())
    }

    fn decode(&self, outcome: &String) -> Result<String, Self::Error> {
        Ok(outcome.clone())
    }
}
