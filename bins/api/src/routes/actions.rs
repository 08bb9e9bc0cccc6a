//! Provider actions: `POST /v1/integrations/{id}/actions/{action}` and their runs,
//! `GET /v1/integrations/{id}/action-runs`, `GET /v1/action-runs/{id}`.
//!
//! The input is checked against the action's JSON Schema first (422 naming every
//! field at fault). A quick action runs within the request (200 with its outcome); a
//! long-running one — or any, with `?async=true` — goes on the action queue (202 with
//! the run, to be followed at `GET /v1/action-runs/{id}`). Every run is recorded, and
//! logged on the integration.
//!
//! Idempotency end to end: the API's `Idempotency-Key` middleware replays a finished
//! request's answer; below it, every call to the provider carries a key derived from
//! the client's `Idempotency-Key` (or, without one, from the run id), so a retried
//! request — or a retried job — reaches a provider that honours keys (Stripe, Resend)
//! with the same key, and takes effect there once.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use junction_core::{ErrorCode, HasErrorCode, WorkspaceId};
use junction_jobs::{ActionJob, Job};
use junction_store::{
    models::{ActionMode, ActionRun, IntegrationStatus, LogLevel, Operation},
    repo::{self, action_runs::NewActionRun},
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::log;
use crate::{
    auth::Authenticated,
    error::{ApiError, ApiResult, JsonOrEmpty, Problem},
    pagination::{PageParams, paginate},
    state::AppState,
};

/// One action run.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionRunView {
    pub id: Uuid,
    pub integration_id: Uuid,
    pub action: String,
    /// `inline` (ran within the request) or `queued` (on the action queue).
    pub mode: String,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub status: String,
    pub input: serde_json::Value,
    /// The provider's answer, trimmed to what a client needs.
    pub output: Option<serde_json::Value>,
    /// The provider's id of what the action created or changed.
    pub external_id: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<ActionRun> for ActionRunView {
    fn from(run: ActionRun) -> Self {
        Self {
            id: run.id,
            integration_id: run.integration_id,
            action: run.action,
            mode: run.mode.as_str().to_owned(),
            status: run.status.as_str().to_owned(),
            input: run.input,
            output: run.output,
            external_id: run.external_id,
            error_code: run.error_code,
            error_message: run.error_message,
            attempts: run.attempts,
            created_at: run.created_at,
            started_at: run.started_at,
            finished_at: run.finished_at,
        }
    }
}

/// A page of action runs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionRunList {
    pub data: Vec<ActionRunView>,
    pub next_cursor: Option<String>,
}

/// Options of an action request.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct ActionOptions {
    /// Queue the action even when it is quick (answer 202 at once).
    #[serde(rename = "async")]
    #[param(rename = "async")]
    pub run_async: Option<bool>,
}

/// The job id of a queued action run.
pub fn action_job_id(run_id: Uuid) -> String {
    format!("action-{run_id}")
}

/// The key sent to the provider for every attempt of one request. Derived, never the
/// client's raw key: scoped to the workspace, integration and action, so keys of
/// different tenants or actions can never meet at the provider.
pub fn provider_idempotency_key(
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    action: &str,
    client_key: Option<&str>,
    run_id: Uuid,
) -> String {
    match client_key {
        Some(key) => {
            let scoped = format!("{workspace_id}:{integration_id}:{action}:{key}");
            let digest = repo::sha256(scoped.as_bytes());
            format!("jct-{}", hex::encode(&digest[..20]))
        }
        None => format!("jct-run-{}", run_id.simple()),
    }
}

/// Runs an action of the integration's provider.
#[utoipa::path(
    tag = "actions",
    params(
        ("id" = Uuid, Path), ("action" = String, Path), ActionOptions,
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same key and body; the provider sees one request")
    ),
    request_body(content = serde_json::Value, description = "The action's input, as its `input_schema` in GET /v1/providers/{id} describes"),
    responses(
        (status = 200, body = ActionRunView, description = "Ran within the request"),
        (status = 202, body = ActionRunView, description = "Queued; follow it at GET /v1/action-runs/{id}"),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem, description = "The input does not match the action's schema"),
        (status = 502, body = Problem, description = "The provider failed or refused the action"),
        (status = 503, body = Problem)
    ),
    security(("api_key" = []))
)]
#[post("/v1/integrations/{id}/actions/{action}")]
pub async fn perform(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    path: web::Path<(Uuid, String)>,
    options: web::Query<ActionOptions>,
    JsonOrEmpty(input): JsonOrEmpty<serde_json::Value>,
) -> ApiResult<HttpResponse> {
    let (integration_id, action) = path.into_inner();
    let workspace_id = auth.workspace_id;
    let input = if input.is_null() { json!({}) } else { input };
    let mut tx = state.store.begin(workspace_id).await?;
    let integration = repo::integrations::get(tx.conn(), integration_id)
        .await
        .map_err(|_| ApiError::not_found(ErrorCode::IntegrationNotFound, "integration"))?;
    tx.commit().await?;
    let adapter = state.adapter(&integration.provider)?;
    let spec = adapter.spec().action(&action).cloned().ok_or_else(|| {
        ApiError::new(
            ErrorCode::UnknownAction,
            format!("{} has no action `{action}`", adapter.spec().name),
        )
    })?;
    spec.validate_input(&input).map_err(ApiError::validation)?;
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

    let run_id = Uuid::new_v4();
    let client_key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok());
    let key = provider_idempotency_key(workspace_id, integration_id, &action, client_key, run_id);
    let queued = spec.long_running || options.run_async.unwrap_or(false);
    let mode = if queued {
        ActionMode::Queued
    } else {
        ActionMode::Inline
    };
    let mut tx = state.store.begin(workspace_id).await?;
    let run = repo::action_runs::create(
        tx.conn(),
        NewActionRun {
            id: run_id,
            workspace_id,
            integration_id,
            action: &action,
            mode,
            input: &input,
            provider_idempotency_key: &key,
        },
    )
    .await?;
    tx.commit().await?;

    if queued {
        let job = Job::Action(ActionJob {
            workspace_id,
            integration_id,
            action: action.clone(),
            input,
            idempotency_key: key,
            request_id: run.id,
        });
        let enqueued = state
            .queues
            .enqueue_with_id(action_job_id(run.id), job)
            .await;
        let mut tx = state.store.begin(workspace_id).await?;
        if let Err(error) = enqueued {
            // The run must not wait for a job that does not exist.
            repo::action_runs::fail(
                tx.conn(),
                run.id,
                ErrorCode::QueueUnavailable.name(),
                "the job queue is unavailable",
                true,
            )
            .await?;
            tx.commit().await?;
            return Err(ApiError::queue_unavailable(error));
        }
        log(
            tx.conn(),
            workspace_id,
            integration_id,
            LogLevel::Info,
            Operation::Action,
            &format!("action `{action}` queued"),
            json!({"action_run_id": run.id, "job_id": action_job_id(run.id)}),
        )
        .await?;
        tx.commit().await?;
        return Ok(HttpResponse::Accepted()
            .insert_header(("Location", format!("/v1/action-runs/{}", run.id)))
            .json(ActionRunView::from(run)));
    }

    let mut tx = state.store.begin(workspace_id).await?;
    repo::action_runs::start_attempt(tx.conn(), run.id).await?;
    tx.commit().await?;
    let ctx = state.adapter_context(&integration.provider);
    let outcome = state
        .connections
        .call(workspace_id, &integration, |connection| {
            let (adapter, ctx, action, input, key) = (
                adapter.clone(),
                ctx.clone(),
                action.clone(),
                input.clone(),
                key.clone(),
            );
            async move {
                adapter
                    .act(&ctx, &connection, &action, &input, Some(&key))
                    .await
            }
        })
        .await;
    let mut tx = state.store.begin(workspace_id).await?;
    match outcome {
        Ok(done) => {
            let run = repo::action_runs::succeed(
                tx.conn(),
                run.id,
                done.external_id.as_deref(),
                &done.output,
            )
            .await?;
            log(
                tx.conn(),
                workspace_id,
                integration_id,
                LogLevel::Info,
                Operation::Action,
                &format!("action `{action}` succeeded"),
                json!({"action_run_id": run.id, "external_id": run.external_id}),
            )
            .await?;
            tx.commit().await?;
            Ok(HttpResponse::Ok().json(ActionRunView::from(run)))
        }
        Err(error) => {
            let code = error.error_code();
            let message = error.to_string();
            repo::action_runs::fail(tx.conn(), run.id, code.name(), &message, true).await?;
            log(
                tx.conn(),
                workspace_id,
                integration_id,
                LogLevel::Warn,
                Operation::Action,
                &format!("action `{action}` failed: {message}"),
                json!({"action_run_id": run.id, "code": code.name()}),
            )
            .await?;
            tx.commit().await?;
            Err(error.into())
        }
    }
}

/// The integration's action runs, newest first.
#[utoipa::path(
    tag = "actions",
    params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = ActionRunList), (status = 404, body = Problem)),
    security(("api_key" = []))
)]
#[get("/v1/integrations/{id}/action-runs")]
pub async fn list(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<Uuid>,
    page: web::Query<PageParams>,
) -> ApiResult<web::Json<ActionRunList>> {
    let id = path.into_inner();
    let limit = page.limit()?;
    let before: Option<(DateTime<Utc>, Uuid)> = page.keyset()?;
    let mut tx = state.store.begin(auth.workspace_id).await?;
    repo::integrations::get(tx.conn(), id)
        .await
        .map_err(|_| ApiError::not_found(ErrorCode::IntegrationNotFound, "integration"))?;
    let rows = repo::action_runs::list_for_integration(tx.conn(), id, before, limit + 1).await?;
    tx.commit().await?;
    let (rows, next_cursor) = paginate(rows, limit, |r| (r.created_at, r.id));
    Ok(web::Json(ActionRunList {
        data: rows.into_iter().map(ActionRunView::from).collect(),
        next_cursor,
    }))
}

/// One action run.
#[utoipa::path(
    tag = "actions",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ActionRunView), (status = 404, body = Problem)),
    security(("api_key" = []))
)]
#[get("/v1/action-runs/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<ActionRunView>> {
    let mut tx = state.store.begin(auth.workspace_id).await?;
    let run = repo::action_runs::get(tx.conn(), path.into_inner()).await?;
    tx.commit().await?;
    Ok(web::Json(run.into()))
}
