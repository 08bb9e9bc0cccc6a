//! When streams are due, and the integration's schedule that follows from its
//! streams'.
//!
//! Every stream of an integration syncs on its own schedule: the provider's default
//! for it (`StreamSpec::default_schedule`) unless the client set one. Each stream
//! has a `next_sync_at` (none: due as soon as the integration is scheduled, e.g.
//! never synced); a disabled stream is never due. The integration's own
//! `next_sync_at` is the earliest of its enabled streams' ([`reschedule`] keeps it
//! so whenever a stream's changes), so the scheduler still claims integrations; the
//! run it starts reads the streams due then ([`due_streams`]). A stream read to its
//! end is due again one schedule later (`ingest::commit_sync_page`). The
//! integration's `schedule_seconds` is the shortest schedule among its enabled
//! streams; setting it sets every stream's ([`set_every_schedule`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use junction_core::{ErrorCode, StreamSpec, WorkspaceId, spec::ProviderSpec};
use junction_store::{
    Conn, StoreError, WorkspaceTx,
    models::{Integration, IntegrationStatus, StreamState},
    repo::{self, integrations::IntegrationPatch, stream_states::StreamPatch},
};
use uuid::Uuid;

use crate::{Error, Result};

/// The stream of a provider, or `unknown_stream`.
pub(crate) fn stream_of<'s>(spec: &'s ProviderSpec, stream: &str) -> Result<&'s StreamSpec> {
    spec.stream(stream).ok_or_else(|| {
        Error::new(
            ErrorCode::UnknownStream,
            format!("{} has no stream `{stream}`", spec.name),
        )
    })
}

/// An integration's stream states by stream name.
pub(crate) async fn states_by_name(
    conn: &mut Conn,
    integration_id: Uuid,
) -> Result<BTreeMap<String, StreamState>, StoreError> {
    Ok(repo::stream_states::list(conn, integration_id)
        .await?
        .into_iter()
        .map(|state| (state.stream.clone(), state))
        .collect())
}

/// A stream without a state is enabled.
pub(crate) fn is_enabled(state: Option<&StreamState>) -> bool {
    state.is_none_or(|s| s.enabled)
}

/// The provider's default schedule of a stream, in seconds.
pub(crate) fn default_schedule_seconds(stream: &StreamSpec) -> i32 {
    i32::try_from(stream.default_schedule.as_secs()).unwrap_or(i32::MAX)
}

/// How often a stream syncs: its own schedule, or the provider's default.
pub(crate) fn schedule_seconds(stream: &StreamSpec, state: Option<&StreamState>) -> i32 {
    state
        .and_then(|s| s.schedule_seconds)
        .unwrap_or_else(|| default_schedule_seconds(stream))
}

/// The enabled streams that are due at `now`, in the provider's order.
pub(crate) fn due_streams(
    streams: &[StreamSpec],
    states: &BTreeMap<String, StreamState>,
    now: DateTime<Utc>,
) -> Vec<String> {
    streams
        .iter()
        .filter(|stream| {
            let state = states.get(stream.name);
            is_enabled(state)
                && state
                    .and_then(|s| s.next_sync_at)
                    .is_none_or(|at| at <= now)
        })
        .map(|stream| stream.name.to_owned())
        .collect()
}

/// The enabled streams, in the provider's order.
pub(crate) fn enabled_streams(
    streams: &[StreamSpec],
    states: &BTreeMap<String, StreamState>,
) -> Vec<String> {
    streams
        .iter()
        .filter(|stream| is_enabled(states.get(stream.name)))
        .map(|stream| stream.name.to_owned())
        .collect()
}

/// When the integration is due: its earliest enabled stream (one never synced is due
/// at `now`); `None` when every stream is disabled.
fn next_due(
    streams: &[StreamSpec],
    states: &BTreeMap<String, StreamState>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    streams
        .iter()
        .map(|stream| states.get(stream.name))
        .filter(|state| is_enabled(*state))
        .map(|state| state.and_then(|s| s.next_sync_at).unwrap_or(now))
        .min()
}

/// Moves an integration's `next_sync_at` to its earliest enabled stream's and its
/// `schedule_seconds` to the shortest schedule among them. While a run of it has
/// not ended, its `next_sync_at` stays (the run holds it; the run's end moves it);
/// one waiting for its setup step has none.
pub(crate) async fn reschedule(
    conn: &mut Conn,
    integration: &Integration,
    spec: &ProviderSpec,
    now: DateTime<Utc>,
) -> Result<Integration, StoreError> {
    let states = states_by_name(conn, integration.id).await?;
    let running = !repo::sync_runs::unfinished_of(conn, integration.id)
        .await?
        .is_empty();
    let shortest = spec
        .streams
        .iter()
        .filter(|stream| is_enabled(states.get(stream.name)))
        .map(|stream| schedule_seconds(stream, states.get(stream.name)))
        .min();
    repo::integrations::update(
        conn,
        integration.id,
        &IntegrationPatch {
            next_sync_at: if running {
                None
            } else if integration.status == IntegrationStatus::NeedsSetup {
                // Waiting for its setup step: never due until that completes it.
                Some(None)
            } else {
                Some(next_due(&spec.streams, &states, now))
            },
            schedule_seconds: shortest,
            ..IntegrationPatch::default()
        },
    )
    .await
}

/// When a run that has just ended leaves the integration due: its earliest enabled
/// stream's next sync.
pub(crate) async fn next_sync_after_run(
    conn: &mut Conn,
    integration_id: Uuid,
    spec: &ProviderSpec,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let states = states_by_name(conn, integration_id).await?;
    Ok(next_due(&spec.streams, &states, now))
}

/// Sets every stream of an integration to sync every `seconds` (counted from each
/// stream's last sync), then reschedules the integration.
pub(crate) async fn set_every_schedule(
    tx: &mut WorkspaceTx,
    workspace_id: WorkspaceId,
    integration: &Integration,
    spec: &ProviderSpec,
    seconds: i32,
    now: DateTime<Utc>,
) -> Result<Integration, StoreError> {
    let states = states_by_name(tx.conn(), integration.id).await?;
    for stream in &spec.streams {
        let last = states.get(stream.name).and_then(|s| s.last_synced_at);
        repo::stream_states::update(
            tx.conn(),
            workspace_id,
            integration.id,
            stream.name,
            &StreamPatch {
                schedule_seconds: Some(Some(seconds)),
                next_sync_at: Some(last.map(|last| last + Duration::seconds(i64::from(seconds)))),
                ..StreamPatch::default()
            },
        )
        .await?;
    }
    reschedule(tx.conn(), integration, spec, now).await
}

#[cfg(test)]
mod tests {
    use std::time::Duration as StdDuration;

    use super::*;

    fn stream(name: &'static str, hours: u64) -> StreamSpec {
        StreamSpec {
            name,
            description: "",
            primary_key: vec!["id"],
            cursor_field: None,
            webhook_only: false,
            default_schedule: StdDuration::from_secs(hours * 3600),
            metrics: Vec::new(),
        }
    }

    fn state(name: &str, enabled: bool, next: Option<DateTime<Utc>>) -> (String, StreamState) {
        (
            name.to_owned(),
            StreamState {
                workspace_id: Uuid::nil(),
                integration_id: Uuid::nil(),
                stream: name.to_owned(),
                cursor: None,
                pages_committed: 0,
                updated_at: DateTime::<Utc>::MIN_UTC,
                enabled,
                schedule_seconds: None,
                next_sync_at: next,
                last_synced_at: None,
                last_run_id: None,
                pass_id: None,
                pass_started_at: None,
            },
        )
    }

    #[test]
    fn due_streams_are_the_enabled_ones_whose_time_has_come() {
        let now = Utc::now();
        let streams = [
            stream("hourly", 1),
            stream("daily", 24),
            stream("off", 1),
            stream("new", 6),
        ];
        let states: BTreeMap<_, _> = [
            state("hourly", true, Some(now - Duration::seconds(1))),
            state("daily", true, Some(now + Duration::hours(23))),
            state("off", false, Some(now - Duration::hours(5))),
        ]
        .into();
        assert_eq!(due_streams(&streams, &states, now), ["hourly", "new"]);
        assert_eq!(
            enabled_streams(&streams, &states),
            ["hourly", "daily", "new"]
        );
        // The earliest enabled stream; the disabled one, long due, does not count.
        assert_eq!(
            next_due(&streams, &states, now),
            Some(now - Duration::seconds(1))
        );
        // A never-synced stream makes the integration due now.
        let fresh: BTreeMap<_, _> = [state("hourly", true, Some(now + Duration::hours(1)))].into();
        assert_eq!(next_due(&streams, &fresh, now), Some(now));

        let states: BTreeMap<_, _> = [
            state("hourly", true, Some(now + Duration::minutes(50))),
            state("daily", true, Some(now + Duration::hours(23))),
            state("off", false, Some(now - Duration::hours(5))),
            state("new", false, None),
        ]
        .into();
        assert!(due_streams(&streams, &states, now).is_empty());
        assert_eq!(
            next_due(&streams, &states, now),
            Some(now + Duration::minutes(50))
        );

        let all_off: BTreeMap<_, _> = ["hourly", "daily", "off", "new"]
            .map(|name| state(name, false, None))
            .into();
        assert_eq!(next_due(&streams, &all_off, now), None);
        assert!(enabled_streams(&streams, &all_off).is_empty());
    }

    #[test]
    fn a_stream_syncs_on_its_own_schedule_or_the_providers() {
        let hourly = stream("hourly", 1);
        assert_eq!(schedule_seconds(&hourly, None), 3600);
        let (_, mut custom) = state("hourly", true, None);
        custom.schedule_seconds = Some(86_400);
        assert_eq!(schedule_seconds(&hourly, Some(&custom)), 86_400);
        assert_eq!(default_schedule_seconds(&hourly), 3600);
        assert!(is_enabled(None));
        assert!(!is_enabled(Some(&state("off", false, None).1)));
    }
}
