//! Syncs on demand and their runs: POST /v1/integrations/{id}/sync,
//! GET /v1/integrations/{id}/runs, GET /v1/runs/{id}. Each stream's schedule and
//! reset are in [`crate::routes::streams`].

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use junction_app::{
    models::{SyncRun, SyncTrigger},
    syncs::{StartedRun, StreamSelection},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    auth::Auth,
    error::{ApiError, ApiResult, JsonOrEmpty, Problem},
    pagination::{PageParams, page},
    state::AppState,
};

/// A sync run.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    pub id: Uuid,
    pub integration_id: Uuid,
    /// The stream, when the run reads exactly one it was asked for by name.
    pub stream: Option<String>,
    /// The streams the run reads (a scheduled run: those due; null on runs queued
    /// before streams had schedules: every enabled stream).
    pub streams: Option<Vec<String>>,
    /// `schedule`, `manual`, `replay` or `webhook`.
    pub trigger: String,
    /// `queued`, `running`, `retrying`, `succeeded`, `failed`, `dead` or `cancelled`.
    pub status: String,
    /// The queue job carrying the run.
    pub job_id: Option<String>,
    pub attempts: i32,
    pub records_read: i64,
    pub records_written: i64,
    pub kpi_points_written: i64,
    /// Records found removed upstream (gone from a full-refresh stream), marked
    /// deleted.
    pub records_deleted: i64,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub queued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<SyncRun> for RunView {
    fn from(run: SyncRun) -> Self {
        Self {
            id: run.id,
            integration_id: run.integration_id,
            stream: run.stream,
            streams: run.streams,
            trigger: run.trigger.as_str().to_owned(),
            status: run.status.as_str().to_owned(),
            job_id: run.job_id,
            attempts: run.attempts,
            records_read: run.records_read,
            records_written: run.records_written,
            kpi_points_written: run.kpi_points_written,
            records_deleted: run.records_deleted,
            error_code: run.error_code,
            error_message: run.error_message,
            queued_at: run.queued_at,
            started_at: run.started_at,
            finished_at: run.finished_at,
        }
    }
}

/// A page of runs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunList {
    pub data: Vec<RunView>,
    pub next_cursor: Option<String>,
}

/// POST /v1/integrations/{id}/sync.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// Sync only this stream, enabled or not (default: every enabled stream).
    pub stream: Option<String>,
    #[schema(schema_with = crate::schema::stream_names)]
    pub streams: Option<Vec<String>>,
}

impl SyncRequest {
    /// The streams asked for; `stream` and `streams` together ask for all of them.
    fn selection(self) -> Result<StreamSelection, ApiError> {
        match (self.stream, self.streams) {
            (Some(stream), Some(mut streams)) => {
                if !streams.contains(&stream) {
                    streams.push(stream);
                }
                Ok(StreamSelection::Named(streams))
            }
            (Some(stream), None) => Ok(StreamSelection::Named(vec![stream])),
            (None, Some(streams)) => Ok(StreamSelection::Named(streams)),
            (None, None) => Ok(StreamSelection::Enabled),
        }
    }
}

/// The queued run.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncAccepted {
    pub run_id: Uuid,
    pub job_id: String,
    pub status: String,
    /// The streams the run reads.
    pub streams: Option<Vec<String>>,
    /// True when a run of the integration that covers the request (every stream it
    /// asks for) had not ended yet: the request joined that run (its id is
    /// `run_id`) instead of starting another beside it.
    pub joined: bool,
}

impl From<StartedRun> for SyncAccepted {
    fn from(started: StartedRun) -> Self {
        Self {
            run_id: started.run.id,
            job_id: started.job_id,
            status: started.run.status.as_str().to_owned(),
            streams: started.run.streams,
            joined: started.joined,
        }
    }
}

/// Queues a sync now — of the streams named (enabled or not), or of every enabled
/// stream — or joins the integration's run in progress when that run covers the
/// request: an integration runs one sync at a time. A run for other streams than
/// the one in progress reads is queued and starts when that one ends. The run's
/// progress is at GET /v1/runs/{run_id}.
#[utoipa::path(
    tag = "syncs",
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body")),
    request_body = SyncRequest,
    responses(
        (status = 202, body = SyncAccepted),
        (status = 404, body = Problem, description = "`integration_not_found`, or `unknown_stream`"),
        (status = 409, body = Problem, description = "`integration_needs_reauth`; `integration_needs_setup` (a setting is still to be chosen); the integration is not active; every stream is disabled and none was named"),
        (status = 422, body = Problem, description = "`validation_failed`: `stream` and `streams` together, or `streams` empty"),
        (status = 503, body = Problem)
    ),
    security(("api_key" = []))
)]
#[post("/v1/integrations/{id}/sync")]
pub async fn trigger(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<Uuid>,
    JsonOrEmpty(body): JsonOrEmpty<SyncRequest>,
) -> ApiResult<HttpResponse> {
    let started = state
        .app
        .start_sync_of(
            auth.workspace_id,
            path.into_inner(),
            body.selection()?,
            SyncTrigger::Manual,
        )
        .await?;
    Ok(HttpResponse::Accepted().json(SyncAccepted::from(started)))
}

/// The integration's runs, newest first.
#[utoipa::path(
    tag = "syncs",
    params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = RunList), (status = 404, body = Problem)),
    security(("api_key" = []))
)]
#[get("/v1/integrations/{id}/runs")]
pub async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<Uuid>,
    params: web::Query<PageParams>,
) -> ApiResult<web::Json<RunList>> {
    let listed = state
        .app
        .sync_runs(auth.workspace_id, path.into_inner(), params.request()?)
        .await?;
    let (data, next_cursor) = page(listed, RunView::from);
    Ok(web::Json(RunList { data, next_cursor }))
}

/// One run.
#[utoipa::path(
    tag = "syncs",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = RunView), (status = 404, body = Problem)),
    security(("api_key" = []))
)]
#[get("/v1/runs/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<RunView>> {
    let run = state
        .app
        .sync_run(auth.workspace_id, path.into_inner())
        .await?;
    Ok(web::Json(RunView::from(run)))
}
