//! Syncs on demand and their runs: POST /v1/integrations/{id}/sync,
//! GET /v1/integrations/{id}/runs, GET /v1/runs/{id}.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use junction_core::ErrorCode;
use junction_jobs::{Job, SyncJob};
use junction_store::{
    models::{IntegrationStatus, LogLevel, Operation, RunStatus, SyncRun, SyncTrigger},
    repo,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::log;
use crate::{
    auth::Authenticated,
    error::{ApiError, ApiResult, JsonOrEmpty, Problem},
    pagination::{PageParams, paginate},
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
}

/// Queues a sync now. The run's progress is at GET /v1/runs/{run_id}.
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
    auth: Authenticated,
    path: web::Path<Uuid>,
    JsonOrEmpty(body): JsonOrEmpty<SyncRequest>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let mut tx = state.store.begin(auth.workspace_id).await?;
    let integration = repo::integrations::get(tx.conn(), id)
        .await
        .map_err(|_| ApiError::not_found(ErrorCode::IntegrationNotFound, "integration"))?;
    let adapter = state.adapter(&integration.provider)?;
    if let Some(stream) = &body.stream
        && adapter.spec().stream(stream).is_none()
    {
        return Err(ApiError::new(
            ErrorCode::UnknownStream,
            format!("{} has no stream `{stream}`", adapter.spec().name),
        ));
    }
    match integration.status {
        IntegrationStatus::Active => {}
        IntegrationStatus::NeedsReauth => {
            return Err(ApiError::new(
                ErrorCode::IntegrationNeedsReauth,
                "the provider revoked the grant: reconnect with POST /v1/integrations/{id}/reconnect",
            ));
        }
        other => {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!("the integration is {other}, not active"),
            ));
        }
    }
    let run = repo::sync_runs::create(
        tx.conn(),
        auth.workspace_id,
        id,
        body.stream.as_deref(),
        SyncTrigger::Manual,
    )
    .await?;
    tx.commit().await?;

    let job_id = format!("sync-{}", run.id);
    let job = Job::Sync(SyncJob {
        workspace_id: auth.workspace_id,
        integration_id: id,
        run_id: run.id,
        stream: body.stream.clone(),
    });
    let enqueued = state.queues.enqueue_with_id(job_id.clone(), job).await;
    let mut tx = state.store.begin(auth.workspace_id).await?;
    if let Err(error) = enqueued {
        // The run row must not claim a job that does not exist.
        repo::sync_runs::finish(
            tx.conn(),
            run.id,
            RunStatus::Failed,
            Some((
                ErrorCode::QueueUnavailable.name(),
                "the job queue is unavailable",
            )),
        )
        .await?;
        tx.commit().await?;
        return Err(ApiError::queue_unavailable(error));
    }
    log(
        tx.conn(),
        auth.workspace_id,
        id,
        LogLevel::Info,
        Operation::Sync,
        "sync requested",
        json!({"run_id": run.id, "stream": body.stream, "job_id": job_id}),
    )
    .await?;
    tx.commit().await?;
    Ok(HttpResponse::Accepted().json(SyncAccepted {
        run_id: run.id,
        job_id,
        status: RunStatus::Queued.as_str().to_owned(),
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
    auth: Authenticated,
    path: web::Path<Uuid>,
    page: web::Query<PageParams>,
) -> ApiResult<web::Json<RunList>> {
    let id = path.into_inner();
    let limit = page.limit()?;
    let before: Option<(DateTime<Utc>, Uuid)> = page.keyset()?;
    let mut tx = state.store.begin(auth.workspace_id).await?;
    repo::integrations::get(tx.conn(), id)
        .await
        .map_err(|_| ApiError::not_found(ErrorCode::IntegrationNotFound, "integration"))?;
    let rows = repo::sync_runs::list_for_integration(tx.conn(), id, before, limit + 1).await?;
    tx.commit().await?;
    let (rows, next_cursor) = paginate(rows, limit, |r| (r.queued_at, r.id));
    Ok(web::Json(RunList {
        data: rows.into_iter().map(RunView::from).collect(),
        next_cursor,
    }))
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
    auth: Authenticated,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<RunView>> {
    let mut tx = state.store.begin(auth.workspace_id).await?;
    let run = repo::sync_runs::get(tx.conn(), path.into_inner())
        .await
        .map_err(|_| ApiError::not_found(ErrorCode::NotFound, "run"))?;
    tx.commit().await?;
    Ok(web::Json(RunView::from(run)))
}
