//! Job payloads: what travels on the queues.
//!
//! A [`Job`] is the work (serde-tagged by `kind`); an [`Envelope`] wraps it with the
//! payload version, the stable job id, the attempt number and the history of failed
//! attempts. Every delivery attempt is a separate apalis task carrying one envelope;
//! the job id stays the same across attempts.
//!
//! The version is checked on the way in: an envelope with an unknown `v` (or a job
//! with an unknown `kind`) does not deserialize, and the runner dead-letters it
//! rather than dropping it.

use chrono::{DateTime, Utc};
use junction_core::WorkspaceId;
use junction_store::models::{
    ActionRun, Notification, OutboundDelivery, Queue, SyncRun, WebhookEventRow,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The envelope format this build writes and reads.
pub const PAYLOAD_VERSION: u16 = 1;

/// One unit of work, tagged by `kind` on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// Pull data from a provider for one sync run.
    Sync(SyncJob),
    /// Run a provider action (send an email, create a payment...).
    Action(ActionJob),
    /// Process a stored inbound webhook event.
    Webhook(WebhookJob),
    /// Deliver a notification.
    Notify(NotifyJob),
    /// Deliver an event to a workspace's webhook endpoint.
    Outbound(OutboundJob),
}

/// Pull one integration's streams (or one stream) for a sync run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncJob {
    pub workspace_id: WorkspaceId,
    pub integration_id: Uuid,
    pub run_id: Uuid,
    /// Only this stream, when set; else every stream of the provider.
    pub stream: Option<String>,
}

/// Run one provider action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionJob {
    pub workspace_id: WorkspaceId,
    pub integration_id: Uuid,
    pub action: String,
    pub input: serde_json::Value,
    /// Passed to the provider where it supports idempotency, so a retried action
    /// does not run twice there.
    pub idempotency_key: String,
    pub request_id: Uuid,
}

/// Process one stored webhook event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookJob {
    pub workspace_id: WorkspaceId,
    pub integration_id: Uuid,
    pub event_row_id: Uuid,
    /// 0 for the event's first processing, `n` for its n-th reprocessing asked by an
    /// operator (each is a job of its own: the first may still be remembered).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub replay: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Deliver one notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifyJob {
    pub workspace_id: WorkspaceId,
    pub notification_id: Uuid,
}

/// Deliver one event to one webhook endpoint (an outbound delivery).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundJob {
    pub workspace_id: WorkspaceId,
    pub delivery_id: Uuid,
}

impl Job {
    /// The queue this job runs on.
    pub fn queue(&self) -> Queue {
        match self {
            Job::Sync(_) => Queue::Sync,
            Job::Action(_) => Queue::Action,
            Job::Webhook(_) => Queue::Webhook,
            Job::Notify(_) => Queue::Notify,
            Job::Outbound(_) => Queue::Outbound,
        }
    }

    /// The workspace the job belongs to.
    pub fn workspace_id(&self) -> WorkspaceId {
        match self {
            Job::Sync(job) => job.workspace_id,
            Job::Action(job) => job.workspace_id,
            Job::Webhook(job) => job.workspace_id,
            Job::Notify(job) => job.workspace_id,
            Job::Outbound(job) => job.workspace_id,
        }
    }

    /// The integration the job works on, if it is about one.
    pub fn integration_id(&self) -> Option<Uuid> {
        match self {
            Job::Sync(job) => Some(job.integration_id),
            Job::Action(job) => Some(job.integration_id),
            Job::Webhook(job) => Some(job.integration_id),
            Job::Notify(_) | Job::Outbound(_) => None,
        }
    }

    /// The wire tag (`sync`, `action`, `webhook`, `notify`, `outbound`).
    pub fn kind(&self) -> &'static str {
        match self {
            Job::Sync(_) => "sync",
            Job::Action(_) => "action",
            Job::Webhook(_) => "webhook",
            Job::Notify(_) => "notify",
            Job::Outbound(_) => "outbound",
        }
    }

    /// The job's id on its queue, derived from the row that caused it (the sync run,
    /// the action run, the webhook event and its replay count, the notification, the
    /// outbound delivery), so queueing the same work twice yields one job. Every job
    /// id is made here or by [`replay_job_id`].
    pub fn default_job_id(&self) -> String {
        match self {
            Job::Sync(job) => format!("sync-{}", job.run_id),
            Job::Action(job) => format!("action-{}", job.request_id),
            Job::Webhook(job) if job.replay == 0 => format!("webhook-{}", job.event_row_id),
            // Not `-replay-`: that suffix is a dead letter's replay (`replay_job_id`),
            // and the two counters must never produce the same id.
            Job::Webhook(job) => format!("webhook-{}-reprocess-{}", job.event_row_id, job.replay),
            Job::Notify(job) => format!("notify-{}", job.notification_id),
            Job::Outbound(job) => format!("outbound-{}", job.delivery_id),
        }
    }
}

/// The job each kind of waiting row gets, built in one place: where the row is
/// created with its job, and where the reconciliation sweep stages a job Redis
/// forgot.
impl Job {
    /// The job of a sync run (every stream, or the run's one stream).
    pub fn of_sync_run(run: &SyncRun) -> Self {
        Job::Sync(SyncJob {
            workspace_id: WorkspaceId(run.workspace_id),
            integration_id: run.integration_id,
            run_id: run.id,
            stream: run.stream.clone(),
        })
    }

    /// The job of a queued action run; the run's id is the request id.
    pub fn of_action_run(run: &ActionRun) -> Self {
        Job::Action(ActionJob {
            workspace_id: WorkspaceId(run.workspace_id),
            integration_id: run.integration_id,
            action: run.action.clone(),
            input: run.input.clone(),
            idempotency_key: run.provider_idempotency_key.clone(),
            request_id: run.id,
        })
    }

    /// The job processing a stored webhook event, for its latest replay.
    pub fn of_webhook_event(event: &WebhookEventRow) -> Self {
        Job::Webhook(WebhookJob {
            workspace_id: WorkspaceId(event.workspace_id),
            integration_id: event.integration_id,
            event_row_id: event.id,
            replay: u32::try_from(event.replays).unwrap_or(0),
        })
    }

    /// The job delivering a notification.
    pub fn of_notification(notification: &Notification) -> Self {
        Job::Notify(NotifyJob {
            workspace_id: WorkspaceId(notification.workspace_id),
            notification_id: notification.id,
        })
    }

    /// The job delivering an event to an endpoint.
    pub fn of_outbound_delivery(delivery: &OutboundDelivery) -> Self {
        Job::Outbound(OutboundJob {
            workspace_id: WorkspaceId(delivery.workspace_id),
            delivery_id: delivery.id,
        })
    }
}

/// The job id of a dead letter's replay: `sync-1` → `sync-1-replay-1`,
/// `sync-1-replay-1` → `sync-1-replay-2`.
pub fn replay_job_id(job_id: &str) -> String {
    if let Some((base, n)) = job_id.rsplit_once("-replay-")
        && let Ok(n) = n.parse::<u32>()
    {
        return format!("{base}-replay-{}", n.saturating_add(1));
    }
    format!("{job_id}-replay-1")
}

/// One failed attempt, as kept in the envelope's history and in a dead letter's
/// `attempt_log`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// The 1-based attempt that failed.
    pub attempt: u32,
    /// When it failed.
    pub at: DateTime<Utc>,
    /// The stable error code name (see `junction_core::ErrorCode`).
    pub error_code: String,
    pub error_message: String,
    /// When the next attempt was scheduled, if there was one.
    pub retry_at: Option<DateTime<Utc>>,
}

/// What travels on the queue. `job_id` is stable across retries of the same logical
/// job (e.g. `sync-{run_id}`); each delivery attempt is a separate apalis task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "WireEnvelope")]
pub struct Envelope {
    /// The payload version ([`PAYLOAD_VERSION`]).
    pub v: u16,
    pub job_id: String,
    pub job: Job,
    /// This delivery's attempt number, 1-based.
    pub attempt: u32,
    /// Every earlier attempt that failed, oldest first.
    pub history: Vec<AttemptRecord>,
    /// When the job was first enqueued (attempt 1).
    pub first_enqueued_at: DateTime<Utc>,
    /// Earlier deliveries that found the job could not run yet and put it off
    /// (each is a delivery, so it has an attempt number, but it used no try).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deferrals: u32,
}

/// The envelope as it is on the wire, before its version is checked.
#[derive(Deserialize)]
struct WireEnvelope {
    v: u16,
    job_id: String,
    job: Job,
    attempt: u32,
    #[serde(default)]
    history: Vec<AttemptRecord>,
    first_enqueued_at: DateTime<Utc>,
    #[serde(default)]
    deferrals: u32,
}

impl TryFrom<WireEnvelope> for Envelope {
    type Error = String;

    fn try_from(wire: WireEnvelope) -> Result<Self, Self::Error> {
        if wire.v != PAYLOAD_VERSION {
            return Err(format!(
                "unsupported payload version {} (this build reads {PAYLOAD_VERSION})",
                wire.v
            ));
        }
        if wire.attempt == 0 {
            return Err("attempt numbers start at 1".to_owned());
        }
        Ok(Envelope {
            v: wire.v,
            job_id: wire.job_id,
            job: wire.job,
            attempt: wire.attempt,
            history: wire.history,
            first_enqueued_at: wire.first_enqueued_at,
            deferrals: wire.deferrals.min(wire.attempt.saturating_sub(1)),
        })
    }
}

impl Envelope {
    /// A fresh envelope: attempt 1, no history.
    pub fn new(job_id: impl Into<String>, job: Job, now: DateTime<Utc>) -> Self {
        Self {
            v: PAYLOAD_VERSION,
            job_id: job_id.into(),
            job,
            attempt: 1,
            history: Vec::new(),
            first_enqueued_at: now,
            deferrals: 0,
        }
    }

    /// The tries this delivery makes, counting itself: its attempt number less the
    /// deliveries that were put off. The retry policy's attempt limit counts these.
    pub fn tries(&self) -> u32 {
        self.attempt.saturating_sub(self.deferrals)
    }

    /// The envelope of the delivery after one put off: a new attempt number, the
    /// same tries.
    pub fn deferred(&self) -> Self {
        let mut next = self.clone();
        next.attempt = self.attempt.saturating_add(1);
        next.deferrals = self.deferrals.saturating_add(1);
        next
    }

    /// The envelope of the next attempt: the attempt number goes up by one and the
    /// failed attempt joins the history.
    pub fn next_attempt(&self, failed: AttemptRecord) -> Self {
        let mut next = self.clone();
        next.attempt = self.attempt.saturating_add(1);
        next.history.push(failed);
        next
    }

    /// The envelope as JSON.
    pub fn to_json(&self) -> Result<serde_json::Value, crate::JobsError> {
        serde_json::to_value(self).map_err(|e| crate::JobsError::Payload(e.to_string()))
    }

    /// Reads an envelope from its JSON bytes, rejecting unknown versions and kinds.
    pub fn from_slice(json: &[u8]) -> Result<Self, crate::JobsError> {
        serde_json::from_slice(json).map_err(|e| crate::JobsError::Payload(e.to_string()))
    }

    /// Reads an envelope, rejecting unknown versions and kinds.
    pub fn from_json(value: serde_json::Value) -> Result<Self, crate::JobsError> {
        serde_json::from_value(value).map_err(|e| crate::JobsError::Payload(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sync_job() -> Job {
        Job::Sync(SyncJob {
            workspace_id: WorkspaceId::new(),
            integration_id: Uuid::new_v4(),
            run_id: Uuid::new_v4(),
            stream: Some("daily_report".into()),
        })
    }

    #[test]
    fn jobs_are_tagged_by_kind() {
        let job = sync_job();
        let value = serde_json::to_value(&job).unwrap();
        assert_eq!(value["kind"], "sync");
        assert_eq!(value["stream"], "daily_report");
        assert_eq!(serde_json::from_value::<Job>(value).unwrap(), job);
        assert_eq!(job.queue(), Queue::Sync);
        assert_eq!(job.kind(), "sync");
    }

    #[test]
    fn next_attempt_appends_history() {
        let envelope = Envelope::new("sync-1", sync_job(), Utc::now());
        let failed = AttemptRecord {
            attempt: 1,
            at: Utc::now(),
            error_code: "provider_unavailable".into(),
            error_message: "HTTP 503".into(),
            retry_at: None,
        };
        let next = envelope.next_attempt(failed.clone());
        assert_eq!(next.attempt, 2);
        assert_eq!(next.history, vec![failed]);
        assert_eq!(next.job_id, envelope.job_id);
        assert_eq!(next.first_enqueued_at, envelope.first_enqueued_at);
    }

    #[test]
    fn job_ids_derive_from_their_rows() {
        let (workspace_id, integration_id, event) =
            (WorkspaceId::new(), Uuid::new_v4(), Uuid::new_v4());
        let webhook = |replay| {
            Job::Webhook(WebhookJob {
                workspace_id,
                integration_id,
                event_row_id: event,
                replay,
            })
        };
        assert_eq!(webhook(0).default_job_id(), format!("webhook-{event}"));
        assert_eq!(
            webhook(2).default_job_id(),
            format!("webhook-{event}-reprocess-2")
        );
        // An event's reprocessing and a dead letter's replay never share an id.
        let replayed_letter = replay_job_id(&webhook(0).default_job_id());
        let reprocessed = webhook(1).default_job_id();
        assert_ne!(replayed_letter, reprocessed);
        assert_ne!(replay_job_id(&reprocessed), webhook(2).default_job_id());
        // A first job on the wire has no replay field, and reads back as replay 0.
        let wire = serde_json::to_value(webhook(0)).unwrap();
        assert!(wire.get("replay").is_none());
        assert_eq!(serde_json::from_value::<Job>(wire).unwrap(), webhook(0));
    }

    #[test]
    fn replay_ids_count_up() {
        assert_eq!(replay_job_id("sync-1"), "sync-1-replay-1");
        assert_eq!(replay_job_id("sync-1-replay-1"), "sync-1-replay-2");
        assert_eq!(replay_job_id("sync-1-replay-x"), "sync-1-replay-x-replay-1");
    }

    #[test]
    fn attempt_zero_is_rejected() {
        let mut value = Envelope::new("x", sync_job(), Utc::now())
            .to_json()
            .unwrap();
        value["attempt"] = 0.into();
        assert!(Envelope::from_json(value).is_err());
    }
}
