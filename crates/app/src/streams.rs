//! Streams under control: listing an integration's streams with their state
//! (cursor, last and next sync, schedule, record counts), enabling, disabling or
//! rescheduling one, and resetting one — its cursor forgotten and the stream read
//! again whole, at once. How schedules work is in [`crate::schedules`].

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use junction_core::{StreamSpec, WorkspaceId};
use junction_store::{
    Conn, StoreError,
    models::{Integration, LogLevel, Operation, StreamState, SyncTrigger},
    repo::{self, stream_states::StreamPatch},
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    App, Result,
    integrations::{ensure_active, log, validate_schedule},
    schedules::{
        default_schedule_seconds, is_enabled, reschedule, schedule_seconds, states_by_name,
        stream_of,
    },
    syncs::{Join, RunStreams, StartedRun},
};

/// One stream of an integration, as a client sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamStatus {
    pub name: &'static str,
    pub description: &'static str,
    /// Read whole on every sync (the stream has no cursor field); a record missing
    /// from a whole read is marked deleted.
    pub full_refresh: bool,
    /// Fed by the provider's webhooks only: a sync reads nothing and deletes
    /// nothing here.
    pub webhook_only: bool,
    pub enabled: bool,
    /// How often the stream syncs: its own schedule, or the provider's default.
    pub schedule_seconds: i32,
    /// The provider's default for the stream.
    pub default_schedule_seconds: i32,
    /// The committed cursor (`None`: the next sync reads from the start).
    pub cursor: Option<serde_json::Value>,
    /// When a sync last read the stream to its end.
    pub last_synced_at: Option<DateTime<Utc>>,
    /// When the scheduler syncs it next (`None`: not on a schedule — the stream or
    /// the integration's syncs are disabled).
    pub next_sync_at: Option<DateTime<Utc>>,
    /// Records kept, live and marked deleted.
    pub records: i64,
    pub deleted_records: i64,
    pub pages_committed: i64,
}

/// Changes to a stream; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamChanges {
    pub enabled: Option<bool>,
    /// The stream's own schedule, 5 minutes to 30 days.
    pub schedule_seconds: Option<i32>,
}

impl App {
    /// Every stream of an integration with its state, in the provider's order.
    pub async fn streams(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
    ) -> Result<Vec<StreamStatus>> {
        let mut tx = self.begin(workspace_id).await?;
        let integration = crate::integration(&mut tx, integration_id).await?;
        let adapter = self.adapter(&integration.provider)?;
        let states = states_by_name(tx.conn(), integration_id).await?;
        let counts = record_counts(tx.conn(), integration_id).await?;
        tx.commit().await?;
        Ok(adapter
            .spec()
            .streams
            .iter()
            .map(|stream| status(&integration, stream, states.get(stream.name), &counts))
            .collect())
    }

    /// Enables, disables or reschedules one stream. A new schedule counts from the
    /// stream's last sync (a stream last synced longer ago than that is due now);
    /// the integration's next sync follows its streams'.
    pub async fn update_stream(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
        stream: &str,
        changes: StreamChanges,
    ) -> Result<StreamStatus> {
        let mut tx = self.begin(workspace_id).await?;
        let integration = crate::integration_for_update(&mut tx, integration_id).await?;
        let adapter = self.adapter(&integration.provider)?;
        let spec = adapter.spec();
        let stream_spec = stream_of(spec, stream)?;
        validate_schedule(changes.schedule_seconds)?;
        let current = repo::stream_states::get(tx.conn(), integration_id, stream_spec.name).await?;
        let mut patch = StreamPatch {
            enabled: changes.enabled,
            ..StreamPatch::default()
        };
        if let Some(seconds) = changes.schedule_seconds {
            patch.schedule_seconds = Some(Some(seconds));
            patch.next_sync_at = Some(
                current
                    .as_ref()
                    .and_then(|state| state.last_synced_at)
                    .map(|last| last + Duration::seconds(i64::from(seconds))),
            );
        }
        repo::stream_states::update(
            tx.conn(),
            workspace_id,
            integration_id,
            stream_spec.name,
            &patch,
        )
        .await?;
        let integration = reschedule(tx.conn(), &integration, spec, self.now()).await?;
        log(
            &mut tx,
            workspace_id,
            integration_id,
            LogLevel::Info,
            Operation::Update,
            &format!("stream `{}` updated", stream_spec.name),
            json!({
                "stream": stream_spec.name,
                "enabled": changes.enabled,
                "schedule_seconds": changes.schedule_seconds,
            }),
        )
        .await?;
        let states = states_by_name(tx.conn(), integration_id).await?;
        let counts = record_counts(tx.conn(), integration_id).await?;
        tx.commit().await?;
        Ok(status(
            &integration,
            stream_spec,
            states.get(stream_spec.name),
            &counts,
        ))
    }

    /// Forgets a stream's cursor and starts a sync that reads it whole, in one
    /// transaction (the integration must be active). A read of the stream in
    /// progress stops at its next page (its pages would carry the forgotten cursor
    /// on); a disabled stream is read too, since it was asked for by name. A reset
    /// joins only a run that reads the stream and has not started yet.
    pub async fn reset_stream(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
        stream: &str,
    ) -> Result<StartedRun> {
        let mut tx = self.begin(workspace_id).await?;
        let integration = crate::integration_for_update(&mut tx, integration_id).await?;
        let adapter = self.adapter(&integration.provider)?;
        let stream_spec = stream_of(adapter.spec(), stream)?;
        ensure_active(&integration)?;
        let had_state =
            repo::stream_states::reset(tx.conn(), integration_id, stream_spec.name).await?;
        log(
            &mut tx,
            workspace_id,
            integration_id,
            LogLevel::Info,
            Operation::Sync,
            &format!(
                "stream `{}` reset: its cursor is forgotten and it is read again whole",
                stream_spec.name
            ),
            json!({"stream": stream_spec.name, "had_state": had_state}),
        )
        .await?;
        let started = self
            .queue_run(
                &mut tx,
                workspace_id,
                &integration,
                RunStreams {
                    named: true,
                    streams: vec![stream_spec.name.to_owned()],
                },
                SyncTrigger::Manual,
                Join::NotStarted,
            )
            .await?;
        tx.commit().await?;
        Ok(started)
    }
}

/// Live and deleted record counts by stream.
async fn record_counts(
    conn: &mut Conn,
    integration_id: Uuid,
) -> Result<BTreeMap<String, (i64, i64)>, StoreError> {
    Ok(repo::records::counts_by_stream(conn, integration_id)
        .await?
        .into_iter()
        .map(|(stream, live, deleted)| (stream, (live, deleted)))
        .collect())
}

/// A stream's status from its spec, its state (if any) and its record counts.
fn status(
    integration: &Integration,
    stream: &StreamSpec,
    state: Option<&StreamState>,
    counts: &BTreeMap<String, (i64, i64)>,
) -> StreamStatus {
    let enabled = is_enabled(state);
    let (records, deleted_records) = counts.get(stream.name).copied().unwrap_or_default();
    StreamStatus {
        name: stream.name,
        description: stream.description,
        full_refresh: stream.full_refresh(),
        webhook_only: stream.webhook_only,
        enabled,
        schedule_seconds: schedule_seconds(stream, state),
        default_schedule_seconds: default_schedule_seconds(stream),
        cursor: state.and_then(|s| s.cursor.clone()),
        last_synced_at: state.and_then(|s| s.last_synced_at),
        next_sync_at: if enabled && integration.sync_enabled {
            // A stream due (or never synced) goes with the integration's next claim.
            match (state.and_then(|s| s.next_sync_at), integration.next_sync_at) {
                (Some(stream_at), Some(integration_at)) => Some(stream_at.max(integration_at)),
                (stream_at, integration_at) => stream_at.or(integration_at),
            }
        } else {
            None
        },
        records,
        deleted_records,
        pages_committed: state.map_or(0, |s| s.pages_committed),
    }
}
