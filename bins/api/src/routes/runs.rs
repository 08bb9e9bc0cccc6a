//! Syncs on demand and their runs: POST /v1/integrations/{id}/sync,
//! GET /v1/integrations/{id}/runs, GET /v1/runs/{id}.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use junction_app::models::{SyncRun, SyncTrigger};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    auth::Auth,
    error::{ApiResult, JsonOrEmpty, Problem},
    pagination::{PageParams, page},
    state::AppState,
};

/// A sync run.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    pub id: Uuid,
    pub integration_id: Uuid,
    /// The one stream synced, or null for every stream.
    pub stream: Option<String>,
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
            trigger: run.trigger.as_str().to_owned(),
            status: run.status.as_str().to_owned(),
            job_id: run.job_id,
            attempts: run.attempts,
            records_read: run.records_read,
            records_written: run.records_written,
            kpi_points_written: run.kpi_points_written,
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
    /// Sync only this stream (default: every stream).
    pub stream: Option<String>,
}

/// The queued run.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncAccepted {
    pub run_id: Uuid,
    pub job_id: String,
    pub status: String,
    /// True when a run of the integration that covers the request (every stream, or
    /// the same one) had not ended yet: the request joined that run (its id is
    /// `run_id`) instead of starting another beside it.
    pub joined: bool,
}

/// Queues a sync now, or joins the integration's run in progress when that run
/// covers the request: an integration runs one sync at a time. A run for another
/// stream than the one in progress is queued and starts when that one ends. The
/// run's progress is at GET /v1/runs/{run_id}.
#[utoipa::path(
    tag = "syncs",
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body")),
    request_body = SyncRequest,
    responses(
        (status = 202, body = SyncAccepted), (status = 404, body = Problem), (status = 409, body = Problem),
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
        .start_sync(
            auth.workspace_id,
            path.into_inner(),
            body.stream.as_deref(),
            SyncTrigger::Manual,
        )
        .await?;
    Ok(HttpResponse::Accepted().json(SyncAccepted {
        run_id: started.run.id,
        job_id: started.job_id,
        status: started.run.status.as_str().to_owned(),
        joined: started.joined,
    }))
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
