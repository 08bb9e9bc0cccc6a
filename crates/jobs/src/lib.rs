//! junction-jobs (docs being written).

pub mod dead;
pub mod error;
pub mod failure;
pub mod limiter;
pub mod payload;
pub mod policy;
pub mod queue;
pub mod runner;

pub use dead::{Replayed, bury, replay, replay_matching};
pub use error::JobsError;
pub use failure::{FailureKind, JobFailure};
pub use limiter::RedisRateLimiter;
pub use payload::{
    ActionJob, AttemptRecord, Envelope, Job, NotifyJob, PAYLOAD_VERSION, SyncJob, WebhookJob,
};
pub use policy::{Decision, RetryPolicy};
pub use queue::{JobLookup, QueueStats, Queues, TaskState};
pub use runner::{JobHandler, Liveness, QueueWorker, RunnerOptions, run, run_with};
