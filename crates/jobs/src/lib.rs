//! junction-jobs: Junction's job system — versioned payloads on apalis-redis queues,
//! our own retry policy and dead letters in Postgres.
//!
//! # Jobs and attempts
//!
//! A [`Job`] (sync, action, webhook, notify, outbound; serde-tagged by `kind`) is
//! staged in the Postgres outbox in the transaction of the row it serves and relayed
//! to its queue ([`outbox`]); on the queue it travels in an [`Envelope`] carrying
//! the payload version ([`PAYLOAD_VERSION`]), a job id that stays the same across
//! retries (`sync-{run_id}`, `action-{request_id}`...), the 1-based attempt number
//! and the history of failed attempts. Every attempt is its
//! own apalis task whose id is derived from the job: `{job_id}#{attempt}`. So
//!
//! - enqueueing the same work twice is a no-op (apalis-redis's push script only
//!   writes a task id that is not there yet);
//! - [`Queues::lookup`] finds a job's latest attempt and where it stands;
//! - a task re-run after a crash that schedules "its" next attempt again does not
//!   fork the job.
//!
//! An envelope with an unknown version or kind does not deserialize; the runner
//! dead-letters it with the raw payload instead of dropping it.
//!
//! # Retries and dead letters
//!
//! apalis-redis has its own rescheduling: a failed task is put back at
//! `now + attempt` seconds while its attempt count is below 25, whatever
//! `max_attempts` says. We do not use it. The runner ([`run`]) catches every handler
//! failure ([`JobFailure`]) and asks the [`RetryPolicy`]:
//!
//! - *retryable* failures back off exponentially with full jitter — the delay after
//!   attempt `n` is uniform in `[0, min(cap, base·2^(n-1))]` — and never run before
//!   the provider's `Retry-After` or quota reset (`not_before`). The next attempt is
//!   pushed as a new task due at that time (whole seconds, rounded up, as apalis
//!   schedules) and the current task completes;
//! - a retryable failure of attempt `max_attempts`, or a *permanent* one
//!   (`AdapterError::Invalid`, non-retryable provider statuses, an `Unauthorized`
//!   that a refresh did not fix — the application layer refreshes once itself
//!   before reporting) is *dead-lettered*: the job, the error, every attempt
//!   (`attempt_log`) and the times are stored in Postgres (`dead_letters`), the
//!   handler's [`JobHandler::on_dead_letter`] runs, and the task is killed in Redis
//!   (apalis `AbortError`, which moves it to the dead set and never retries it);
//! - an *abandoned* job (its cause is reported elsewhere, e.g. the integration now
//!   needs re-authorisation) just stops.
//!
//! A queue may have a fixed [`RetrySchedule`] of its own instead
//! ([`QueueWorker::schedule`]): the outbound webhook deliveries retry at fixed delays
//! (Svix's), not with jitter, and are dead-lettered after the schedule's last attempt.
//!
//! Dead letters are replayed with [`replay()`] / [`replay_matching`]: the same job is
//! staged again as `{job_id}-replay-{n}`, attempt 1, and only the first replay of
//! a letter wins.
//!
//! Only when the runner cannot record an outcome (Postgres or Redis down) does a
//! task fail in apalis; apalis's rescheduling then re-runs it, so nothing is lost.
//!
//! # Crashes and shutdown
//!
//! Delivery is at least once. Workers heartbeat every 10 s; a worker silent for the
//! *orphan timeout* — 60 s by default (10 s × 6 missed heartbeats, see
//! [`Liveness`]) — is declared dead by any live worker of the queue, which puts the
//! dead worker's claimed tasks back on the queue. A pod killed with SIGKILL loses
//! no job; its jobs run again after at most the orphan timeout. On SIGTERM the
//! runner stops fetching, gives in-flight handlers the grace period (keeping their
//! heartbeats up), returns prefetched tasks at once and, after the grace period,
//! returns whatever is still running too.
//!
//! # The connection
//!
//! A process talks to Redis over one [`RedisConnection`], shared by its queues and
//! the provider rate limiter: every command is bounded by a timeout (about a second
//! in the API, ten seconds in the worker) and sent once more after a lost
//! connection, so an outage fails fast and the first command after a Redis restart
//! succeeds.
//!
//! # Redis keys
//!
//! Everything lives under one prefix (`junction:` in production, a random one per
//! test). Each queue is an apalis-redis queue named `{prefix}jobs:{queue}`; apalis
//! derives these keys from that name:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{prefix}jobs:{queue}:data` | hash | task id → envelope JSON |
//! | `{prefix}jobs:{queue}:meta:{task_id}` | hash | status, attempts, result, lock, `junction_due_at` |
//! | `{prefix}jobs:{queue}:delayed` | sorted set | ours: task ids pushed for a later time, by due second |
//! | `{prefix}jobs:{queue}:scheduled` | sorted set | apalis's: tasks it re-runs itself (the runner failed to record an outcome) |
//! | `{prefix}jobs:{queue}:active` | list | due task ids waiting for a worker |
//! | `{prefix}jobs:{queue}:inflight:{worker}` | set | tasks a worker has claimed |
//! | `{prefix}jobs:{queue}:workers` | sorted set | worker names by last heartbeat |
//! | `{prefix}jobs:{queue}:workers:metadata:{worker}` | hash | worker description |
//! | `{prefix}jobs:{queue}:done` / `:dead` | set | finished / killed task ids |
//! | `{prefix}jobs:{queue}:signal` | list | apalis's "work available" flag |
//!
//! Finished jobs (succeeded, abandoned or dead: every attempt at once) are purged
//! from Redis after [`FINISHED_JOB_RETENTION`] (7 days) by every running runner
//! ([`Queues::purge_finished`]); until then they answer lookups and de-duplicate
//! enqueues. Dead letters stay in Postgres.
//!
//! apalis also records every queue's workers key in the global sorted set
//! `core:apalis:queues:list` (outside our prefix; the runner removes its queues from
//! it when their last worker stops).
//!
//! # Metrics
//!
//! `junction_jobs_total{queue,outcome}` (`succeeded`, `retried`, `dead`,
//! `abandoned`), `junction_job_retries_total{queue}`,
//! `junction_dead_letters_total{queue}`, `junction_job_duration_seconds{queue}`,
//! `junction_job_runner_errors_total{queue}`, `junction_worker_restarts_total{queue}`,
//! `junction_dead_letter_replays_total{queue}`. The binaries install the recorder.

pub mod connection;
pub mod dead;
pub mod error;
pub mod failure;
pub mod outbox;
pub mod payload;
pub mod policy;
pub mod queue;
pub mod replay;
pub mod runner;

pub use connection::{RedisConnection, RedisOptions};
pub use dead::bury;
pub use error::JobsError;
pub use failure::{FailureKind, JobFailure};
pub use outbox::{Relay, RelayOptions, RelayReport, stage};
pub use payload::{
    ActionJob, AttemptRecord, Envelope, Job, NotifyJob, OutboundJob, PAYLOAD_VERSION, SyncJob,
    WebhookJob, replay_job_id,
};
pub use policy::{Decision, RetryPolicy, RetrySchedule};
pub use queue::{JobLookup, QueueStats, Queues, TaskState};
pub use replay::{Replayed, replay, replay_matching};
pub use runner::{
    FINISHED_JOB_RETENTION, IN_FLIGHT_MARK_BEATS, JobHandler, Liveness, OUTCOME_ABANDONED,
    OUTCOME_RETRIED, OUTCOME_SUCCEEDED, QueueWorker, RunnerOptions, run, run_with,
};
