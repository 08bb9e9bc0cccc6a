//! junction-jobs: Junction's job system (being assembled: payloads, failures, policy).

pub mod error;
pub mod failure;
pub mod payload;
pub mod policy;

pub use error::JobsError;
pub use failure::{FailureKind, JobFailure};
pub use payload::{
    ActionJob, AttemptRecord, Envelope, Job, NotifyJob, PAYLOAD_VERSION, SyncJob, WebhookJob,
};
pub use policy::{Decision, RetryPolicy};
