//! Payloads: every kind round-trips through the envelope's wire format; unknown
//! versions and kinds are rejected.

use chrono::Utc;
use junction_core::WorkspaceId;
use junction_jobs::{
    ActionJob, AttemptRecord, Envelope, Job, NotifyJob, PAYLOAD_VERSION, SyncJob, WebhookJob,
};
use junction_store::models::Queue;
use uuid::Uuid;

fn every_kind() -> Vec<Job> {
    let workspace_id = WorkspaceId::new();
    vec![
        Job::Sync(SyncJob {
            workspace_id,
            integration_id: Uuid::new_v4(),
            run_id: Uuid::new_v4(),
            stream: Some("charges".into()),
        }),
        Job::Action(ActionJob {
            workspace_id,
            integration_id: Uuid::new_v4(),
            action: "send_email".into(),
            input: serde_json::json!({"to": "a@example.com", "tags": [1, 2]}),
            idempotency_key: "key-1".into(),
            request_id: Uuid::new_v4(),
        }),
        Job::Webhook(WebhookJob {
            workspace_id,
            integration_id: Uuid::new_v4(),
            event_row_id: Uuid::new_v4(),
            replay: 1,
        }),
        Job::Notify(NotifyJob {
            workspace_id,
            notification_id: Uuid::new_v4(),
        }),
    ]
}

#[test]
fn every_kind_round_trips_through_an_envelope() {
    let expected = [
        ("sync", Queue::Sync),
        ("action", Queue::Action),
        ("webhook", Queue::Webhook),
        ("notify", Queue::Notify),
    ];
    for (job, (kind, queue)) in every_kind().into_iter().zip(expected) {
        assert_eq!(job.kind(), kind);
        assert_eq!(job.queue(), queue);
        let mut envelope = Envelope::new(job.default_job_id(), job, Utc::now());
        envelope = envelope.next_attempt(AttemptRecord {
            attempt: 1,
            at: Utc::now(),
            error_code: "provider_unavailable".into(),
            error_message: "HTTP 502".into(),
            retry_at: Some(Utc::now()),
        });
        let wire = serde_json::to_string(&envelope).unwrap();
        let value: serde_json::Value = serde_json::from_str(&wire).unwrap();
        assert_eq!(value["v"], PAYLOAD_VERSION);
        assert_eq!(value["job"]["kind"], kind);
        assert_eq!(value["attempt"], 2);
        assert_eq!(value["history"][0]["error_code"], "provider_unavailable");
        let back: Envelope = serde_json::from_str(&wire).unwrap();
        assert_eq!(back, envelope);
    }
}

#[test]
fn ids_and_scoping_come_from_the_job() {
    for job in every_kind() {
        assert!(job.default_job_id().starts_with(job.kind()));
        assert_eq!(
            job.integration_id().is_some(),
            !matches!(job, Job::Notify(_))
        );
    }
}

#[test]
fn unknown_versions_are_rejected() {
    let job = every_kind().remove(0);
    let mut value = Envelope::new("sync-1", job, Utc::now()).to_json().unwrap();
    value["v"] = serde_json::json!(PAYLOAD_VERSION + 1);
    let error = Envelope::from_json(value.clone()).unwrap_err().to_string();
    assert!(error.contains("version"), "{error}");
    value["v"] = serde_json::json!(0);
    assert!(Envelope::from_json(value.clone()).is_err());
    value.as_object_mut().unwrap().remove("v");
    assert!(Envelope::from_json(value).is_err());
}

#[test]
fn unknown_kinds_are_rejected() {
    let job = every_kind().remove(0);
    let mut value = Envelope::new("sync-1", job, Utc::now()).to_json().unwrap();
    value["job"]["kind"] = serde_json::json!("teleport");
    let error = Envelope::from_json(value.clone()).unwrap_err().to_string();
    assert!(error.contains("teleport"), "{error}");
    value["job"].as_object_mut().unwrap().remove("kind");
    assert!(Envelope::from_json(value).is_err());
}

#[test]
fn a_job_missing_a_field_is_rejected() {
    let job = every_kind().remove(0);
    let mut value = Envelope::new("sync-1", job, Utc::now()).to_json().unwrap();
    value["job"].as_object_mut().unwrap().remove("run_id");
    assert!(Envelope::from_json(value).is_err());
}
