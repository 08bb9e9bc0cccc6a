//! The `sync_runs` table: one row per sync of an integration (or one stream of it).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;
use uuid::Uuid;

use super::clamp_limit;
use crate::{
    Conn, StoreError,
    models::{RunStatus, SyncRun, SyncTrigger},
    schema::sync_runs,
};

/// Queues a run of one stream, or (`None`) of every enabled stream, decided when it
/// reads.
pub async fn create(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    stream: Option<&str>,
    trigger: SyncTrigger,
) -> Result<SyncRun, StoreError> {
    Ok(diesel::insert_into(sync_runs::table)
        .values((
            sync_runs::workspace_id.eq(workspace_id.as_uuid()),
            sync_runs::integration_id.eq(integration_id),
            sync_runs::stream.eq(stream),
            sync_runs::streams.eq(stream.map(|stream| vec![stream.to_owned()])),
            sync_runs::trigger.eq(trigger),
        ))
        .returning(SyncRun::as_returning())
        .get_result(conn)
        .await?)
}

/// Queues a run of `streams`; `stream` names the one stream a request asked for by
/// name, when it asked for one.
pub async fn create_for(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    stream: Option<&str>,
    streams: &[String],
    trigger: SyncTrigger,
) -> Result<SyncRun, StoreError> {
    Ok(diesel::insert_into(sync_runs::table)
        .values((
            sync_runs::workspace_id.eq(workspace_id.as_uuid()),
            sync_runs::integration_id.eq(integration_id),
            sync_runs::stream.eq(stream),
            sync_runs::streams.eq(Some(streams)),
            sync_runs::trigger.eq(trigger),
        ))
        .returning(SyncRun::as_returning())
        .get_result(conn)
        .await?)
}

/// Queues a run of `streams` (no one stream named) for each of several
/// integrations, in one statement; the runs come back in no particular order.
pub async fn create_many(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    runs: &[(Uuid, Vec<String>)],
    trigger: SyncTrigger,
) -> Result<Vec<SyncRun>, StoreError> {
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<_> = runs
        .iter()
        .map(|(integration_id, streams)| {
            (
                sync_runs::workspace_id.eq(workspace_id.as_uuid()),
                sync_runs::integration_id.eq(*integration_id),
                sync_runs::stream.eq(None::<String>),
                sync_runs::streams.eq(Some(streams)),
                sync_runs::trigger.eq(trigger),
            )
        })
        .collect();
    Ok(diesel::insert_into(sync_runs::table)
        .values(rows)
        .returning(SyncRun::as_returning())
        .get_results(conn)
        .await?)
}

/// One run of the scoped workspace.
pub async fn get(conn: &mut Conn, id: Uuid) -> Result<SyncRun, StoreError> {
    sync_runs::table
        .find(id)
        .select(SyncRun::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("sync run"))
}

/// The integration's runs that have not ended (queued, running or waiting for a
/// retry), oldest first.
pub async fn unfinished_of(
    conn: &mut Conn,
    integration_id: Uuid,
) -> Result<Vec<SyncRun>, StoreError> {
    unfinished_of_any(conn, &[integration_id]).await
}

/// The runs that have not ended of several integrations, oldest first.
pub async fn unfinished_of_any(
    conn: &mut Conn,
    integration_ids: &[Uuid],
) -> Result<Vec<SyncRun>, StoreError> {
    Ok(sync_runs::table
        .filter(sync_runs::integration_id.eq_any(integration_ids))
        .filter(sync_runs::status.eq_any([
            RunStatus::Queued,
            RunStatus::Running,
            RunStatus::Retrying,
        ]))
        .order((sync_runs::queued_at.asc(), sync_runs::id.asc()))
        .select(SyncRun::as_select())
        .load(conn)
        .await?)
}

/// Whether another run of the integration than `run_id` is running now.
pub async fn another_running(
    conn: &mut Conn,
    integration_id: Uuid,
    run_id: Uuid,
) -> Result<bool, StoreError> {
    Ok(diesel::select(diesel::dsl::exists(
        sync_runs::table
            .filter(sync_runs::integration_id.eq(integration_id))
            .filter(sync_runs::id.ne(run_id))
            .filter(sync_runs::status.eq(RunStatus::Running)),
    ))
    .get_result(conn)
    .await?)
}

/// Runs of an integration, newest first, before the keyset of the previous page.
pub async fn list_for_integration(
    conn: &mut Conn,
    integration_id: Uuid,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<SyncRun>, StoreError> {
    let mut query = sync_runs::table
        .filter(sync_runs::integration_id.eq(integration_id))
        .order((sync_runs::queued_at.desc(), sync_runs::id.desc()))
        .limit(clamp_limit(limit))
        .select(SyncRun::as_select())
        .into_boxed();
    if let Some((queued_at, id)) = before {
        query = query.filter(
            sync_runs::queued_at
                .lt(queued_at)
                .or(sync_runs::queued_at.eq(queued_at).and(sync_runs::id.lt(id))),
        );
    }
    Ok(query.load(conn).await?)
}

/// Marks an attempt started (counts the attempt; keeps the first start time).
pub async fn start_attempt(
    conn: &mut Conn,
    id: Uuid,
    job_id: Option<&str>,
) -> Result<SyncRun, StoreError> {
    diesel::update(sync_runs::table.find(id))
        .set((
            sync_runs::status.eq(RunStatus::Running),
            sync_runs::attempts.eq(sync_runs::attempts + 1),
            sync_runs::job_id.eq(job_id),
            sync_runs::started_at.eq(diesel::dsl::sql::<
                diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
            >("COALESCE(started_at, now())")),
        ))
        .returning(SyncRun::as_returning())
        .get_result(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("sync run"))
}

/// What a committed page adds to its run's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub records_read: i64,
    pub records_written: i64,
    pub kpi_points_written: i64,
    pub records_deleted: i64,
}

/// Adds a committed page's counts to the run.
pub async fn add_progress(conn: &mut Conn, id: Uuid, progress: Progress) -> Result<(), StoreError> {
    diesel::update(sync_runs::table.find(id))
        .set((
            sync_runs::records_read.eq(sync_runs::records_read + progress.records_read),
            sync_runs::records_written.eq(sync_runs::records_written + progress.records_written),
            sync_runs::kpi_points_written
                .eq(sync_runs::kpi_points_written + progress.kpi_points_written),
            sync_runs::records_deleted.eq(sync_runs::records_deleted + progress.records_deleted),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends a run (or an attempt of it, with `Retrying`) with an optional error.
pub async fn finish(
    conn: &mut Conn,
    id: Uuid,
    status: RunStatus,
    error: Option<(&str, &str)>,
) -> Result<SyncRun, StoreError> {
    let (code, message) = error.map_or((None, None), |(c, m)| (Some(c), Some(m)));
    let finished_at = match status {
        RunStatus::Queued | RunStatus::Running | RunStatus::Retrying => None,
        _ => Some(Utc::now()),
    };
    diesel::update(sync_runs::table.find(id))
        .set((
            sync_runs::status.eq(status),
            sync_runs::error_code.eq(code),
            sync_runs::error_message.eq(message),
            sync_runs::finished_at.eq(finished_at),
        ))
        .returning(SyncRun::as_returning())
        .get_result(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("sync run"))
}
