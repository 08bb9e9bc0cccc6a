//! junction-jobs: Junction's job system — versioned payloads on Redis queues in a
//! layout of our own, run by apalis workers, our own retry policy and dead letters in
//! Postgres.
//!
//! # Jobs and attempts
//!
//! A [`Job`] (sync, action, webhook, notify, outbound; serde-tagged by `kind`) is
//! staged in the Postgres outbox in the transaction of the row it serves and relayed
//! to its queue ([`outbox`]); on the queue it travels in an [`Envelope`] carrying
//! the payload version ([`PAYLOAD_VERSION`]), a job id that stays the same across
//! retries (`sync-{run_id}`, `action-{request_id}`...), the 1-based attempt number
//! and the history of failed attempts. Every attempt is its
//! own task whose id is derived from the job: `{job_id}#{attempt}`. So
//!
//! - enqueueing the same work twice is a no-op (the push script only writes a task
//!   id that is not there yet);
//! - [`Queues::lookup`] finds a job's latest attempt and where it stands;
//! - a task re-run after a crash that schedules "its" next attempt again does not
//!   fork the job.
//!
//! An envelope with an unknown version or kind does not deserialize; the runner
//! dead-letters it with the raw payload instead of dropping it.
//!
//! # Retries and dead letters
//!
//! The runner ([`run`]) catches every handler failure ([`JobFailure`]) and asks the
//! [`RetryPolicy`]:
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
//!   (apalis `AbortError`, which the backend records as dead and never runs again);
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
//! task fail in apalis; the backend then runs it again `n` seconds later (its `n`-th
//! such failure, up to 25), so nothing is lost to a passing outage.
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
//! test). Each queue's keys start with `{prefix}jobs:{queue}`; apalis is the worker
//! framework, and the backend its workers fetch from (`backend.rs`) keeps this layout
//! of our own (version 2; [`migrate`] brings tasks over from apalis-redis's, which
//! the queues used before):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{prefix}jobs:{queue}:data` | hash | task id → envelope JSON (written once per task id) |
//! | `{prefix}jobs:{queue}:state` | hash | task id → its state (`pending {due}`, `running …`, `done {t} {outcome}`, `dead {t}`, `failed {t} {n}`; see `scripts.rs`) |
//! | `{prefix}jobs:{queue}:active` | list | due task ids waiting for a worker (what KEDA scales on) |
//! | `{prefix}jobs:{queue}:delayed` | sorted set | task ids pushed for a later time, by due second |
//! | `{prefix}jobs:{queue}:inflight:{worker}` | set | tasks a worker has claimed |
//! | `{prefix}jobs:{queue}:workers` | sorted set | worker names by last heartbeat |
//! | `{prefix}jobs:{queue}:finished` / `:killed` | sorted set | finished / dead task ids by the second they ended (for the purge) |
//! | `{prefix}jobs:{queue}:failed` | sorted set | tasks whose outcome the runner could not record, being run again |
//! | `{prefix}jobs:{queue}:in-flight:{job_id}` | string | a live worker is running the job (expires) |
//! | `{prefix}jobs:{queue}:layout` | string | the layout version (`2`) once [`migrate`] ran |
//!
//! A task costs Redis one hash field in `data` and one in `state`, no key of its
//! own: a worker claims a batch of up to its prefetch with one script (pop from the
//! active list, add to its claims, mark running) and acknowledges every attempt that
//! ended meanwhile with one more, so the per-task work is a handful of list, set and
//! hash operations and the round trips are per batch.
//!
//! Finished jobs (succeeded, abandoned or dead: every attempt at once) are purged
//! from Redis after [`FINISHED_JOB_RETENTION`] (7 days) by every running runner
//! ([`Queues::purge_finished`]); until then they answer lookups and de-duplicate
//! enqueues. Dead letters stay in Postgres.
//!
//! # Metrics
//!
//! `junction_jobs_total{queue,outcome}` (`succeeded`, `retried`, `dead`,
//! `abandoned`), `junction_job_retries_total{queue}`,
//! `junction_dead_letters_total{queue}`, `junction_job_duration_seconds{queue}`,
//! `junction_job_runner_errors_total{queue}`, `junction_worker_restarts_total{queue}`,
//! `junction_dead_letter_replays_total{queue}`. The binaries install the recorder.

pub(crate) mod backend;
pub mod connection;
pub mod dead;
pub mod error;
pub mod failure;
pub mod migrate;
pub mod outbox;
pub mod payload;
pub mod policy;
pub mod queue;
pub mod replay;
pub mod runner;
pub(crate) mod scripts;

pub use connection::{RedisConnection, RedisOptions};
pub use dead::bury;
pub use error::JobsError;
pub use failure::{FailureKind, JobFailure};
pub use migrate::{LAYOUT_VERSION, MigrationReport, migrate_legacy_layout};
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
