//! Dead letters and queue statistics: GET /v1/dead-letters, GET /v1/dead-letters/{id},
//! POST /v1/dead-letters/{id}/replay, POST /v1/dead-letters/replay, GET /v1/jobs/stats.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use junction_app::{
    dead_letters,
    models::{DeadLetter, DeadLetterFilter, Queue},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    auth::{AnyCaller, Auth, Caller},
    error::{ApiError, ApiResult, Problem},
    extract::{Json, Path, Query},
    pagination::{PageParams, page},
    state::AppState,
};

/// A job that failed for good, with every attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterView {
    pub id: Uuid,
    /// `sync`, `action`, `webhook`, `notify` or `outbound`.
    #[schema(schema_with = crate::schema::queue)]
    pub queue: String,
    pub job_id: String,
    pub integration_id: Option<Uuid>,
    /// The job exactly as queued (a replay runs it again).
    #[schema(value_type = Object)]
    pub job: serde_json::Value,
    pub error_code: String,
    pub error_message: String,
    pub attempts: i32,
    /// One entry per attempt: when, and what failed.
    #[schema(value_type = Vec<Object>)]
    pub attempt_log: serde_json::Value,
    pub first_failed_at: DateTime<Utc>,
    pub dead_at: DateTime<Utc>,
    pub replayed_at: Option<DateTime<Utc>>,
    pub replay_job_id: Option<String>,
}

impl From<DeadLetter> for DeadLetterView {
    fn from(letter: DeadLetter) -> Self {
        Self {
            id: letter.id,
            queue: letter.queue.as_str().to_owned(),
            job_id: letter.job_id,
            integration_id: letter.integration_id,
            job: letter.job,
            error_code: letter.error_code,
            error_message: letter.error_message,
            attempts: letter.attempts,
            attempt_log: letter.attempt_log,
            first_failed_at: letter.first_failed_at,
            dead_at: letter.dead_at,
            replayed_at: letter.replayed_at,
            replay_job_id: letter.replay_job_id,
        }
    }
}

/// A page of dead letters, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterList {
    pub data: Vec<DeadLetterView>,
    pub next_cursor: Option<String>,
}

/// Which dead letters (list and bulk replay).
#[derive(Debug, Default, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterQuery {
    #[param(schema_with = crate::schema::queue)]
    #[schema(schema_with = crate::schema::queue_or_null)]
    pub queue: Option<String>,
    pub integration_id: Option<Uuid>,
    pub error_code: Option<String>,
    /// Only those not replayed yet (default false for lists, true for bulk replay).
    pub pending: Option<bool>,
    #[serde(default)]
    #[param(ignore)]
    #[schema(ignore)]
    pub limit: Option<i64>,
    #[serde(default)]
    #[param(ignore)]
    #[schema(ignore)]
    pub cursor: Option<String>,
}

impl DeadLetterQuery {
    fn filter(&self, pending_default: bool) -> ApiResult<DeadLetterFilter> {
        let queue = self
            .queue
            .as_deref()
            .map(|q| {
                Queue::parse(q).ok_or_else(|| {
                    ApiError::field("queue", "must be sync, action, webhook, notify or outbound")
                })
            })
            .transpose()?;
        Ok(DeadLetterFilter {
            queue,
            integration_id: self.integration_id,
            error_code: self.error_code.clone(),
            pending_only: self.pending.unwrap_or(pending_default),
        })
    }
}

/// Lists the workspace's dead letters.
#[utoipa::path(
    tag = "jobs",
    params(DeadLetterQuery, PageParams),
    responses(
        (status = 200, body = DeadLetterList),
        (status = 404, body = Problem, description = "`integration_not_found`: `integration_id` names no integration of the workspace")
    ),
    security(("api_key" = []))
)]
#[get("/v1/dead-letters")]
pub async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    query: Query<DeadLetterQuery>,
) -> ApiResult<web::Json<DeadLetterList>> {
    let query = query.into_inner();
    let filter = query.filter(false)?;
    let request = PageParams {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .request()?;
    let listed = dead_letters::list(&state.app.store, auth.workspace_id, &filter, request).await?;
    let (data, next_cursor) = page(listed, DeadLetterView::from);
    Ok(web::Json(DeadLetterList { data, next_cursor }))
}

/// One dead letter.
#[utoipa::path(
    tag = "jobs",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = DeadLetterView), (status = 404, body = Problem)),
    security(("api_key" = []))
)]
#[get("/v1/dead-letters/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
) -> ApiResult<web::Json<DeadLetterView>> {
    let letter = dead_letters::get(&state.app.store, auth.workspace_id, path.into_inner()).await?;
    Ok(web::Json(DeadLetterView::from(letter)))
}

/// A replayed dead letter.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayView {
    pub dead_letter_id: Uuid,
    /// The new job.
    pub job_id: String,
}

/// The result of a bulk replay.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayList {
    pub replayed: Vec<ReplayView>,
}

/// Runs a dead letter's job again (once: a second replay is 409).
#[utoipa::path(
    tag = "jobs",
    params(("id" = Uuid, Path)),
    responses(
        (status = 202, body = ReplayView), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "`conflict`: the dead letter was replayed already")
    ),
    security(("api_key" = []))
)]
#[post("/v1/dead-letters/{id}/replay")]
pub async fn replay(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let replayed =
        dead_letters::replay(&state.app.store, auth.workspace_id, path.into_inner()).await?;
    Ok(HttpResponse::Accepted().json(ReplayView {
        dead_letter_id: replayed.dead_letter_id,
        job_id: replayed.job_id,
    }))
}

/// POST /v1/dead-letters/replay: which dead letters to replay.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkReplay {
    #[schema(schema_with = crate::schema::queue_or_null)]
    pub queue: Option<String>,
    pub integration_id: Option<Uuid>,
    pub error_code: Option<String>,
    #[schema(schema_with = crate::schema::bulk_replay_limit)]
    pub limit: Option<i64>,
}

/// Replays every not-yet-replayed dead letter matching the filter.
#[utoipa::path(
    tag = "jobs",
    request_body = BulkReplay,
    responses(
        (status = 202, body = ReplayList),
        (status = 404, body = Problem, description = "`integration_not_found`: `integration_id` names no integration of the workspace")
    ),
    security(("api_key" = []))
)]
#[post("/v1/dead-letters/replay")]
pub async fn replay_bulk(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<BulkReplay>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let filter = DeadLetterQuery {
        queue: body.queue,
        integration_id: body.integration_id,
        error_code: body.error_code,
        ..Default::default()
    }
    .filter(true)?;
    let replayed = dead_letters::replay_matching(
        &state.app.store,
        auth.workspace_id,
        &filter,
        body.limit.unwrap_or(100),
    )
    .await?;
    Ok(HttpResponse::Accepted().json(ReplayList {
        replayed: replayed
            .into_iter()
            .map(|r| ReplayView {
                dead_letter_id: r.dead_letter_id,
                job_id: r.job_id,
            })
            .collect(),
    }))
}

/// One queue's numbers.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueStatsView {
    pub queue: String,
    /// Waiting to run now.
    pub pending: u64,
    /// Waiting for a later time (retries with backoff).
    pub scheduled: u64,
    /// Running now.
    pub in_flight: u64,
    /// Installation-wide only: tasks the queue re-runs because a worker could not
    /// record their outcome (always 0 in a workspace's figures).
    pub failed: u64,
    /// Dead-lettered (their dead letters are in GET /v1/dead-letters; a workspace's
    /// figures count the letters not replayed yet).
    pub dead: u64,
    /// Age of the oldest pending job: the queue's lag.
    pub oldest_pending_age_seconds: Option<u64>,
}

/// Whose jobs the figures count.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatsScope {
    /// The key's workspace: its sync runs, webhook events, queued actions and
    /// notifications not finished yet, and its dead letters.
    Workspace,
    /// Every workspace: the queues themselves (an operator key).
    Installation,
}

/// Jobs per queue: a workspace key sees its workspace's, an operator key the whole
/// installation's.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobStats {
    pub scope: StatsScope,
    pub queues: Vec<QueueStatsView>,
}

/// Jobs per queue. With a workspace API key: the workspace's own jobs (waiting,
/// retrying, running, dead-lettered), counted from its rows. With an operator key
/// (`junction operator-key create`): the queues' installation-wide figures.
#[utoipa::path(
    tag = "jobs",
    responses((status = 200, body = JobStats), (status = 503, body = Problem)),
    security(("api_key" = []))
)]
#[get("/v1/jobs/stats")]
pub async fn stats(
    state: web::Data<AppState>,
    caller: AnyCaller,
) -> ApiResult<web::Json<JobStats>> {
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    let Caller::Workspace(auth) = caller.0 else {
        let stats = state.app.queue_stats().await?;
        return Ok(web::Json(JobStats {
            scope: StatsScope::Installation,
            queues: stats
                .into_iter()
                .map(|s| QueueStatsView {
                    queue: s.queue.as_str().to_owned(),
                    pending: s.pending,
                    scheduled: s.scheduled,
                    in_flight: s.running,
                    failed: s.failed,
                    dead: s.dead,
                    oldest_pending_age_seconds: s.oldest_pending_age_seconds,
                })
                .collect(),
        }));
    };
    let figures = state.app.workspace_job_figures(auth.workspace_id).await?;
    let now = state.app.now();
    Ok(web::Json(JobStats {
        scope: StatsScope::Workspace,
        queues: figures
            .into_iter()
            .map(|f| QueueStatsView {
                queue: f.queue.as_str().to_owned(),
                pending: count(f.waiting),
                scheduled: count(f.retrying),
                in_flight: count(f.running),
                failed: 0,
                dead: count(f.dead),
                oldest_pending_age_seconds: f
                    .oldest_waiting
                    .map(|at| count((now - at).num_seconds())),
            })
            .collect(),
    }))
}
