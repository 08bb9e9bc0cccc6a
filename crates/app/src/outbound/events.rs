//! The events Junction sends to webhook endpoints: their types, what each one's
//! `data` holds, and recording one in the transaction of the fact it reports.
//!
//! Every delivery's body is the event's envelope, the same bytes on every attempt:
//!
//! ```json
//! {"id": "…", "type": "sync.succeeded", "timestamp": "2026-12-06T10:00:00Z",
//!  "workspace_id": "…", "data": {…}}
//! ```
//!
//! `id` is also the `webhook-id` header, so a receiver deduplicates on either.
//! Payloads carry ids, names, statuses, counts and error codes — never a
//! credential, a token, an integration's settings or an action's input or output
//! (the client reads those through the API with its key).
//!
//! An event is recorded once per fact: its dedupe key names the fact (`sync
//! run + job`, `action run`, `stored provider event`, `integration + connection`),
//! so a redelivered job or a repeated sweep never sends it twice. An event no
//! enabled endpoint subscribes to is not stored at all.

use chrono::{DateTime, Utc};
use junction_core::{WorkspaceId, storable, webhook::WebhookEvent};
use junction_jobs::{Job, outbox};
use junction_store::{
    Conn, StoreError,
    models::{
        ActionRun, ActionStatus, Integration, OutboundEvent, OutboundEventType, RunStatus, SyncRun,
        WebhookEventRow,
    },
    repo::{self, outbound_events::NewOutboundEvent},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::App;

/// How many lost grants one scheduler pass announces at most (the rest follow).
const REAUTH_ANNOUNCEMENTS_PER_PASS: i32 = 50;

/// An event type as `GET /v1/event-types` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTypeInfo {
    pub event_type: OutboundEventType,
    pub description: &'static str,
    /// Each field of the event's `data`, with what it holds.
    pub fields: &'static [(&'static str, &'static str)],
}

const INTEGRATION_ID: (&str, &str) = ("integration_id", "The integration it is about.");
const PROVIDER: (&str, &str) = ("provider", "The integration's provider id.");
const DISPLAY_NAME: (&str, &str) = ("display_name", "The integration's display name.");

/// Every event type, in the order they are documented.
pub const EVENT_TYPES: &[EventTypeInfo] = &[
    EventTypeInfo {
        event_type: OutboundEventType::ConnectionCreated,
        description: "An integration was connected and is ready to sync (typed-in credentials or a finished OAuth flow; one connected before its setup step, when that step completes it).",
        fields: &[
            INTEGRATION_ID,
            PROVIDER,
            DISPLAY_NAME,
            (
                "auth_kind",
                "How it authenticates: oauth2, api_key, basic or client_credentials.",
            ),
            ("status", "Its status (active)."),
            ("created_at", "When it was created."),
        ],
    },
    EventTypeInfo {
        event_type: OutboundEventType::ConnectionNeedsReauth,
        description: "An integration lost its grant (revoked or refused at the provider) and must be reconnected; once per lost grant.",
        fields: &[
            INTEGRATION_ID,
            PROVIDER,
            DISPLAY_NAME,
            ("reason", "Why, as recorded on the integration."),
        ],
    },
    EventTypeInfo {
        event_type: OutboundEventType::ConnectionDeleted,
        description: "An integration was disconnected and deleted with its data.",
        fields: &[
            INTEGRATION_ID,
            PROVIDER,
            DISPLAY_NAME,
            (
                "revoked_at_provider",
                "Whether revoking the grant at the provider succeeded (deletion goes ahead either way).",
            ),
        ],
    },
    EventTypeInfo {
        event_type: OutboundEventType::SyncSucceeded,
        description: "A sync run finished: what it read and wrote, stream by stream.",
        fields: &[
            ("run_id", "The sync run."),
            INTEGRATION_ID,
            PROVIDER,
            (
                "trigger",
                "What started it: schedule, manual, replay or webhook.",
            ),
            (
                "stream",
                "The one stream it synced, or null for every stream.",
            ),
            ("attempts", "Attempts the run took."),
            ("started_at", "When its first attempt started."),
            ("finished_at", "When it finished."),
            ("records_read", "Records read from the provider."),
            ("records_written", "Records created or changed."),
            ("kpi_points_written", "KPI points created or changed."),
            (
                "streams",
                "Per stream: records_changed, records_created and kpi_points_changed since modified_after, and modified_after itself.",
            ),
        ],
    },
    EventTypeInfo {
        event_type: OutboundEventType::SyncFailed,
        description: "A sync run ended without success: its grant is gone (failed) or its retries are spent (dead, replayable from the dead letters).",
        fields: &[
            ("run_id", "The sync run."),
            INTEGRATION_ID,
            PROVIDER,
            (
                "trigger",
                "What started it: schedule, manual, replay or webhook.",
            ),
            (
                "stream",
                "The one stream it synced, or null for every stream.",
            ),
            ("status", "failed or dead."),
            ("error_code", "The stable error code (docs/errors.md)."),
            ("error_message", "What went wrong."),
            ("attempts", "Attempts the run took."),
            ("finished_at", "When it ended."),
        ],
    },
    EventTypeInfo {
        event_type: OutboundEventType::RecordsChanged,
        description: "Records of a stream changed (by a sync run or a provider webhook): fetch them with GET /v1/records?integration_id=…&stream=…&modified_after=… .",
        fields: &[
            INTEGRATION_ID,
            PROVIDER,
            ("stream", "The stream whose records changed."),
            (
                "records_changed",
                "Records created or changed after modified_after.",
            ),
            (
                "records_created",
                "Of those, records seen for the first time.",
            ),
            (
                "modified_after",
                "Pass it as modified_after to GET /v1/records to fetch exactly these changes (and any later ones).",
            ),
            ("run_id", "The sync run that wrote them, or null."),
            (
                "webhook_event_id",
                "The stored provider webhook that wrote them, or null.",
            ),
        ],
    },
    EventTypeInfo {
        event_type: OutboundEventType::ActionFinished,
        description: "An action run ended (inline or queued), succeeded or failed for good; its output is read with GET /v1/actions/{id}.",
        fields: &[
            ("action_run_id", "The action run."),
            INTEGRATION_ID,
            PROVIDER,
            ("action", "The action's name."),
            ("mode", "inline or queued."),
            ("status", "succeeded or failed."),
            (
                "external_id",
                "The id of what the provider created or changed, when it says.",
            ),
            ("error_code", "The stable error code, when it failed."),
            ("error_message", "What went wrong, when it failed."),
            ("attempts", "Attempts the run took."),
            ("finished_at", "When it ended."),
        ],
    },
    EventTypeInfo {
        event_type: OutboundEventType::ProviderEventReceived,
        description: "A provider's webhook arrived, its signature verified, and was stored: the provider's event, normalized.",
        fields: &[
            (
                "webhook_event_id",
                "The stored event (GET /v1/webhook-events/{id}).",
            ),
            INTEGRATION_ID,
            PROVIDER,
            ("event_id", "The provider's event id."),
            (
                "event_type",
                "The provider's event type (charge.refunded, email.bounced...).",
            ),
            (
                "occurred_at",
                "When it happened at the provider, when it says.",
            ),
            ("payload", "The provider's event object as it sent it."),
        ],
    },
];

/// The description of one event type.
pub fn event_type_info(event_type: OutboundEventType) -> Option<&'static EventTypeInfo> {
    EVENT_TYPES
        .iter()
        .find(|info| info.event_type == event_type)
}

/// `connection.created`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionCreated {
    pub integration_id: Uuid,
    pub provider: String,
    pub display_name: String,
    pub auth_kind: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

/// `connection.needs_reauth`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionNeedsReauth {
    pub integration_id: Uuid,
    pub provider: String,
    pub display_name: String,
    pub reason: Option<String>,
}

/// `connection.deleted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionDeleted {
    pub integration_id: Uuid,
    pub provider: String,
    pub display_name: String,
    pub revoked_at_provider: bool,
}

/// What changed in one stream after `modified_after`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamChanges {
    pub stream: String,
    pub records_changed: i64,
    pub records_created: i64,
    pub kpi_points_changed: i64,
    pub modified_after: DateTime<Utc>,
}

/// `sync.succeeded`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncSucceeded {
    pub run_id: Uuid,
    pub integration_id: Uuid,
    pub provider: String,
    pub trigger: String,
    pub stream: Option<String>,
    pub attempts: i32,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub records_read: i64,
    pub records_written: i64,
    pub kpi_points_written: i64,
    pub streams: Vec<StreamChanges>,
}

/// `sync.failed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncFailed {
    pub run_id: Uuid,
    pub integration_id: Uuid,
    pub provider: String,
    pub trigger: String,
    pub stream: Option<String>,
    pub status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub attempts: i32,
    pub finished_at: Option<DateTime<Utc>>,
}

/// `records.changed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordsChanged {
    pub integration_id: Uuid,
    pub provider: String,
    pub stream: String,
    pub records_changed: i64,
    pub records_created: i64,
    pub modified_after: DateTime<Utc>,
    pub run_id: Option<Uuid>,
    pub webhook_event_id: Option<Uuid>,
}

/// `action.finished`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionFinished {
    pub action_run_id: Uuid,
    pub integration_id: Uuid,
    pub provider: String,
    pub action: String,
    pub mode: String,
    pub status: String,
    pub external_id: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub attempts: i32,
    pub finished_at: Option<DateTime<Utc>>,
}

/// `provider_event.received`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderEventReceived {
    pub webhook_event_id: Uuid,
    pub integration_id: Uuid,
    pub provider: String,
    pub event_id: String,
    pub event_type: String,
    pub occurred_at: Option<DateTime<Utc>>,
    pub payload: serde_json::Value,
}

/// An event about to be recorded.
#[derive(Debug, Clone)]
pub struct Draft {
    pub event_type: OutboundEventType,
    pub integration_id: Option<Uuid>,
    /// Names the fact: a second draft with the same key records nothing.
    pub dedupe_key: String,
    pub data: serde_json::Value,
}

impl Draft {
    fn new(
        event_type: OutboundEventType,
        integration_id: Uuid,
        dedupe_key: String,
        data: &impl Serialize,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            event_type,
            integration_id: Some(integration_id),
            dedupe_key,
            data: serde_json::to_value(data).map_err(|e| StoreError::Invalid(e.to_string()))?,
        })
    }
}

/// The body every delivery of an event sends.
pub fn envelope(
    id: Uuid,
    event_type: OutboundEventType,
    workspace_id: WorkspaceId,
    at: DateTime<Utc>,
    data: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "type": event_type.as_str(),
        "timestamp": at,
        "workspace_id": workspace_id,
        "data": data,
    })
}

/// Records an event at `at` in the caller's transaction, with a delivery (and its
/// job) per enabled endpoint of the workspace that subscribes to its type. `None`
/// when nothing subscribes (nothing is stored) or the fact was recorded before.
pub async fn record(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    at: DateTime<Utc>,
    draft: Draft,
) -> Result<Option<OutboundEvent>, StoreError> {
    let endpoints = repo::webhook_endpoints::subscribed(conn, draft.event_type).await?;
    if endpoints.is_empty() {
        return Ok(None);
    }
    let id = Uuid::new_v4();
    let payload = envelope(id, draft.event_type, workspace_id, at, draft.data);
    // Provider data may hold what Postgres cannot store (a NUL); it travels with
    // U+FFFD instead, as everywhere else it is stored.
    let payload = storable::sanitize_json(&payload);
    let Some(event) = repo::outbound_events::insert_once(
        conn,
        NewOutboundEvent {
            id,
            workspace_id,
            event_type: draft.event_type,
            integration_id: draft.integration_id,
            dedupe_key: &draft.dedupe_key,
            payload: &payload,
            created_at: at,
        },
    )
    .await?
    else {
        return Ok(None);
    };
    for endpoint in endpoints {
        let delivery =
            repo::outbound_deliveries::create(conn, workspace_id, event.id, endpoint.id).await?;
        outbox::stage(conn, &Job::of_outbound_delivery(&delivery)).await?;
    }
    Ok(Some(event))
}

/// `provider_event.received` of a stored provider event, recorded in the
/// transaction that stores it ([`crate::webhook_ingest`]).
pub fn provider_event_draft(
    row: &WebhookEventRow,
    event: &WebhookEvent,
) -> Result<Draft, StoreError> {
    let data = ProviderEventReceived {
        webhook_event_id: row.id,
        integration_id: row.integration_id,
        provider: row.provider.clone(),
        event_id: row.event_id.clone(),
        event_type: row.event_type.clone(),
        occurred_at: event.occurred_at,
        payload: event.payload.clone(),
    };
    let key = format!("provider_event.received:{}", row.id);
    Draft::new(
        OutboundEventType::ProviderEventReceived,
        row.integration_id,
        key,
        &data,
    )
}

impl App {
    /// Records `draft` at the application's current time.
    async fn emit(
        &self,
        conn: &mut Conn,
        workspace_id: WorkspaceId,
        draft: Draft,
    ) -> Result<(), StoreError> {
        record(conn, workspace_id, self.now(), draft)
            .await
            .map(|_| ())
    }

    /// `connection.created`, in the transaction that saved a new integration.
    pub async fn emit_connection_created(
        &self,
        conn: &mut Conn,
        integration: &Integration,
    ) -> Result<(), StoreError> {
        let data = ConnectionCreated {
            integration_id: integration.id,
            provider: integration.provider.clone(),
            display_name: integration.display_name.clone(),
            auth_kind: integration.auth_kind.as_str().to_owned(),
            status: integration.status.as_str().to_owned(),
            created_at: integration.created_at,
        };
        let key = format!("connection.created:{}", integration.id);
        let draft = Draft::new(
            OutboundEventType::ConnectionCreated,
            integration.id,
            key,
            &data,
        )?;
        self.emit(conn, WorkspaceId(integration.workspace_id), draft)
            .await
    }

    /// `connection.needs_reauth`, in the transaction that moved the integration to
    /// `needs_reauth` (or the sweep's): once per lost grant — the grant being the
    /// integration's last successful connect or reconnect.
    pub async fn emit_connection_needs_reauth(
        &self,
        conn: &mut Conn,
        integration_id: Uuid,
    ) -> Result<(), StoreError> {
        let integration = repo::integrations::get(conn, integration_id).await?;
        let episode = crate::notifications::reauth_episode(conn, integration_id).await?;
        let data = ConnectionNeedsReauth {
            integration_id,
            provider: integration.provider.clone(),
            display_name: integration.display_name.clone(),
            reason: integration.last_error_message.clone(),
        };
        let key = format!("connection.needs_reauth:{integration_id}:{episode}");
        let draft = Draft::new(
            OutboundEventType::ConnectionNeedsReauth,
            integration_id,
            key,
            &data,
        )?;
        self.emit(conn, WorkspaceId(integration.workspace_id), draft)
            .await
    }

    /// `connection.deleted`, in the transaction that deletes the integration.
    pub async fn emit_connection_deleted(
        &self,
        conn: &mut Conn,
        integration: &Integration,
        revoked_at_provider: bool,
    ) -> Result<(), StoreError> {
        let data = ConnectionDeleted {
            integration_id: integration.id,
            provider: integration.provider.clone(),
            display_name: integration.display_name.clone(),
            revoked_at_provider,
        };
        let key = format!("connection.deleted:{}", integration.id);
        let draft = Draft::new(
            OutboundEventType::ConnectionDeleted,
            integration.id,
            key,
            &data,
        )?;
        self.emit(conn, WorkspaceId(integration.workspace_id), draft)
            .await
    }

    /// The end of a sync run, in the transaction that records it: `sync.succeeded`
    /// with a `records.changed` per stream whose records changed, or `sync.failed`
    /// for a failed or dead run. A cancelled run (its integration was disabled)
    /// reports nothing.
    pub async fn emit_sync_ended(
        &self,
        conn: &mut Conn,
        run: &SyncRun,
        integration: &Integration,
    ) -> Result<(), StoreError> {
        let workspace_id = WorkspaceId(run.workspace_id);
        // One event per ending: a dead run replayed under a new job id ends anew.
        let ending = run.job_id.as_deref().unwrap_or("-");
        match run.status {
            RunStatus::Succeeded => {
                let since = run.started_at.unwrap_or(run.queued_at);
                let streams = match &run.stream {
                    Some(stream) => vec![stream.clone()],
                    None => self
                        .registry()
                        .get(&integration.provider)
                        .map(|adapter| {
                            adapter
                                .spec()
                                .streams
                                .iter()
                                .map(|s| s.name.to_owned())
                                .collect()
                        })
                        .unwrap_or_default(),
                };
                let mut changes = stream_changes(conn, integration.id, streams, since).await?;
                let points_changed = repo::kpis::changed_since(conn, integration.id, since).await?;
                for change in &mut changes {
                    change.kpi_points_changed =
                        points_changed.get(&change.stream).copied().unwrap_or(0);
                }
                for change in changes.iter().filter(|c| c.records_changed > 0) {
                    let data = RecordsChanged {
                        integration_id: integration.id,
                        provider: integration.provider.clone(),
                        stream: change.stream.clone(),
                        records_changed: change.records_changed,
                        records_created: change.records_created,
                        modified_after: change.modified_after,
                        run_id: Some(run.id),
                        webhook_event_id: None,
                    };
                    let key = format!("records.changed:run:{}:{ending}:{}", run.id, change.stream);
                    let draft = Draft::new(
                        OutboundEventType::RecordsChanged,
                        integration.id,
                        key,
                        &data,
                    )?;
                    self.emit(conn, workspace_id, draft).await?;
                }
                let data = SyncSucceeded {
                    run_id: run.id,
                    integration_id: integration.id,
                    provider: integration.provider.clone(),
                    trigger: run.trigger.as_str().to_owned(),
                    stream: run.stream.clone(),
                    attempts: run.attempts,
                    started_at: run.started_at,
                    finished_at: run.finished_at,
                    records_read: run.records_read,
                    records_written: run.records_written,
                    kpi_points_written: run.kpi_points_written,
                    streams: changes,
                };
                let key = format!("sync.succeeded:{}:{ending}", run.id);
                let draft =
                    Draft::new(OutboundEventType::SyncSucceeded, integration.id, key, &data)?;
                self.emit(conn, workspace_id, draft).await
            }
            RunStatus::Failed | RunStatus::Dead => {
                let data = SyncFailed {
                    run_id: run.id,
                    integration_id: integration.id,
                    provider: integration.provider.clone(),
                    trigger: run.trigger.as_str().to_owned(),
                    stream: run.stream.clone(),
                    status: run.status.as_str().to_owned(),
                    error_code: run.error_code.clone(),
                    error_message: run.error_message.clone(),
                    attempts: run.attempts,
                    finished_at: run.finished_at,
                };
                let key = format!("sync.failed:{}:{ending}", run.id);
                let draft = Draft::new(OutboundEventType::SyncFailed, integration.id, key, &data)?;
                self.emit(conn, workspace_id, draft).await
            }
            RunStatus::Queued | RunStatus::Running | RunStatus::Retrying | RunStatus::Cancelled => {
                Ok(())
            }
        }
    }

    /// `action.finished`, in the transaction that records the run's end; a run
    /// that has not ended (a failed attempt waiting for its retry) reports nothing.
    pub async fn emit_action_finished(
        &self,
        conn: &mut Conn,
        run: &ActionRun,
    ) -> Result<(), StoreError> {
        if !matches!(run.status, ActionStatus::Succeeded | ActionStatus::Failed) {
            return Ok(());
        }
        let integration = repo::integrations::get(conn, run.integration_id).await?;
        let data = ActionFinished {
            action_run_id: run.id,
            integration_id: run.integration_id,
            provider: integration.provider,
            action: run.action.clone(),
            mode: run.mode.as_str().to_owned(),
            status: run.status.as_str().to_owned(),
            external_id: run.external_id.clone(),
            error_code: run.error_code.clone(),
            error_message: run.error_message.clone(),
            attempts: run.attempts,
            finished_at: run.finished_at,
        };
        let key = format!("action.finished:{}", run.id);
        let draft = Draft::new(
            OutboundEventType::ActionFinished,
            run.integration_id,
            key,
            &data,
        )?;
        self.emit(conn, WorkspaceId(run.workspace_id), draft).await
    }

    /// `records.changed` for each of `streams` whose records a provider webhook
    /// changed, in the transaction that applied it (the rows it wrote carry the
    /// transaction's start as their change time).
    pub async fn emit_webhook_changes(
        &self,
        conn: &mut Conn,
        row: &WebhookEventRow,
        streams: impl IntoIterator<Item = &str>,
    ) -> Result<(), StoreError> {
        let started = repo::outbound_events::transaction_started_at(conn).await?;
        let since = started - chrono::Duration::microseconds(1);
        let mut streams: Vec<String> = streams.into_iter().map(str::to_owned).collect();
        streams.sort_unstable();
        streams.dedup();
        for change in stream_changes(conn, row.integration_id, streams, since).await? {
            if change.records_changed == 0 {
                continue;
            }
            let stream = &change.stream;
            let data = RecordsChanged {
                integration_id: row.integration_id,
                provider: row.provider.clone(),
                stream: change.stream.clone(),
                records_changed: change.records_changed,
                records_created: change.records_created,
                modified_after: change.modified_after,
                run_id: None,
                webhook_event_id: Some(row.id),
            };
            let key = format!(
                "records.changed:webhook:{}:{}:{stream}",
                row.id, row.replays
            );
            let draft = Draft::new(
                OutboundEventType::RecordsChanged,
                row.integration_id,
                key,
                &data,
            )?;
            self.emit(conn, WorkspaceId(row.workspace_id), draft)
                .await?;
        }
        Ok(())
    }

    /// Announces grants lost outside a sync (a refresh refused during an API call
    /// or an action) to workspaces with an endpoint for `connection.needs_reauth`;
    /// part of each scheduler pass (worker only). Failures are logged and never
    /// fail the pass. Returns how many it announced.
    pub async fn announce_lost_grants(&self) -> usize {
        let pending = async {
            let mut conn = self.system_store()?.unscoped().await?;
            Ok::<_, crate::Error>(
                repo::outbound_events::unannounced_reauth(&mut conn, REAUTH_ANNOUNCEMENTS_PER_PASS)
                    .await?,
            )
        }
        .await;
        let pending = match pending {
            Ok(pending) => pending,
            Err(error) => {
                tracing::warn!(%error, "could not look for unannounced lost grants");
                return 0;
            }
        };
        let mut announced = 0;
        for lost in pending {
            let result = async {
                let mut tx = self.store.begin(WorkspaceId(lost.workspace_id)).await?;
                self.emit_connection_needs_reauth(tx.conn(), lost.integration_id)
                    .await?;
                tx.commit().await
            }
            .await;
            match result {
                Ok(()) => announced += 1,
                Err(error) => {
                    tracing::warn!(integration_id = %lost.integration_id, %error, "could not announce a lost grant");
                }
            }
        }
        announced
    }
}

/// The records changed in each of `streams` of an integration after `since`, in
/// their order (`kpi_points_changed` is left 0: only the end of a sync reports it,
/// and counting reads every point of the integration).
async fn stream_changes(
    conn: &mut Conn,
    integration_id: Uuid,
    streams: Vec<String>,
    since: DateTime<Utc>,
) -> Result<Vec<StreamChanges>, StoreError> {
    let mut changes = Vec::with_capacity(streams.len());
    for stream in streams {
        let (records_changed, records_created) =
            repo::records::changed_since(conn, integration_id, &stream, since).await?;
        changes.push(StreamChanges {
            kpi_points_changed: 0,
            stream,
            records_changed,
            records_created,
            modified_after: since,
        });
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_event_type_is_described_once() {
        let described: Vec<OutboundEventType> =
            EVENT_TYPES.iter().map(|info| info.event_type).collect();
        assert_eq!(described, OutboundEventType::ALL);
        for info in EVENT_TYPES {
            let names: BTreeSet<&str> = info.fields.iter().map(|(name, _)| *name).collect();
            assert_eq!(names.len(), info.fields.len(), "{}", info.event_type);
            assert!(info.fields.iter().all(|(_, what)| !what.is_empty()));
        }
    }

    /// The documented fields of each type are exactly what its payload serializes.
    #[test]
    fn documented_fields_are_the_payload_fields() {
        let at = DateTime::from_timestamp(1_764_000_000, 0).unwrap();
        let id = Uuid::nil();
        let payloads: Vec<(OutboundEventType, serde_json::Value)> = vec![
            (
                OutboundEventType::ConnectionCreated,
                serde_json::to_value(ConnectionCreated {
                    integration_id: id,
                    provider: "stripe".into(),
                    display_name: "Stripe".into(),
                    auth_kind: "api_key".into(),
                    status: "active".into(),
                    created_at: at,
                })
                .unwrap(),
            ),
            (
                OutboundEventType::ConnectionNeedsReauth,
                serde_json::to_value(ConnectionNeedsReauth {
                    integration_id: id,
                    provider: "meta-ads".into(),
                    display_name: "Ads".into(),
                    reason: None,
                })
                .unwrap(),
            ),
            (
                OutboundEventType::ConnectionDeleted,
                serde_json::to_value(ConnectionDeleted {
                    integration_id: id,
                    provider: "stripe".into(),
                    display_name: "Stripe".into(),
                    revoked_at_provider: true,
                })
                .unwrap(),
            ),
            (
                OutboundEventType::SyncSucceeded,
                serde_json::to_value(SyncSucceeded {
                    run_id: id,
                    integration_id: id,
                    provider: "stripe".into(),
                    trigger: "schedule".into(),
                    stream: None,
                    attempts: 1,
                    started_at: Some(at),
                    finished_at: Some(at),
                    records_read: 1,
                    records_written: 1,
                    kpi_points_written: 0,
                    streams: vec![],
                })
                .unwrap(),
            ),
            (
                OutboundEventType::SyncFailed,
                serde_json::to_value(SyncFailed {
                    run_id: id,
                    integration_id: id,
                    provider: "stripe".into(),
                    trigger: "manual".into(),
                    stream: None,
                    status: "dead".into(),
                    error_code: None,
                    error_message: None,
                    attempts: 8,
                    finished_at: Some(at),
                })
                .unwrap(),
            ),
            (
                OutboundEventType::RecordsChanged,
                serde_json::to_value(RecordsChanged {
                    integration_id: id,
                    provider: "stripe".into(),
                    stream: "charges".into(),
                    records_changed: 2,
                    records_created: 1,
                    modified_after: at,
                    run_id: Some(id),
                    webhook_event_id: None,
                })
                .unwrap(),
            ),
            (
                OutboundEventType::ActionFinished,
                serde_json::to_value(ActionFinished {
                    action_run_id: id,
                    integration_id: id,
                    provider: "resend".into(),
                    action: "send_email".into(),
                    mode: "inline".into(),
                    status: "succeeded".into(),
                    external_id: None,
                    error_code: None,
                    error_message: None,
                    attempts: 1,
                    finished_at: Some(at),
                })
                .unwrap(),
            ),
            (
                OutboundEventType::ProviderEventReceived,
                serde_json::to_value(ProviderEventReceived {
                    webhook_event_id: id,
                    integration_id: id,
                    provider: "stripe".into(),
                    event_id: "evt_1".into(),
                    event_type: "charge.refunded".into(),
                    occurred_at: None,
                    payload: serde_json::json!({}),
                })
                .unwrap(),
            ),
        ];
        assert_eq!(payloads.len(), EVENT_TYPES.len());
        for (event_type, data) in payloads {
            let keys: BTreeSet<&str> = data
                .as_object()
                .map(|object| object.keys().map(String::as_str).collect())
                .unwrap_or_default();
            let documented: BTreeSet<&str> = event_type_info(event_type)
                .map(|info| info.fields.iter().map(|(name, _)| *name).collect())
                .unwrap_or_default();
            assert_eq!(keys, documented, "{event_type}");
        }
    }
}
