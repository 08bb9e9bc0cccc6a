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
use junction_app::{
    actions::{ActionOutcome, ActionRequest},
    models::ActionRun,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    auth::Auth,
    error::{ApiResult, Problem},
    extract::{JsonOrEmpty, Path, Query},
    pagination::{PageParams, page},
    state::AppState,
};

/// One action run.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionRunView {
    pub id: Uuid,
    pub integration_id: Uuid,
    pub action: String,
    /// `inline` (ran within the request) or `queued` (on the action queue).
    #[schema(schema_with = crate::schema::action_mode)]
    pub mode: String,
    /// `queued`, `running`, `succeeded` or `failed`.
    #[schema(schema_with = crate::schema::action_status)]
    pub status: String,
    pub input: serde_json::Value,
    /// The provider's answer, trimmed to what a client needs.
    pub output: Option<serde_json::Value>,
    /// The provider's id of what the action created or changed.
    pub external_id: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// Recipients the workspace's suppression list dropped from the input (actions
    /// that send email), as written; the input shows what was sent.
    pub suppressed_recipients: Vec<String>,
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
            suppressed_recipients: run.suppressed_recipients,
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

/// Runs an action of the integration's provider.
#[utoipa::path(
    tag = "actions",
    params(
        ("id" = Uuid, Path), ("action" = String, Path), ActionOptions
    ),
    request_body(content = serde_json::Value, description = "The action's input, as its `input_schema` in GET /v1/providers/{id} describes"),
    responses(
        (status = 200, body = ActionRunView, description = "Ran within the request"),
        (status = 202, body = ActionRunView, description = "Queued; follow it at GET /v1/action-runs/{id}"),
        (status = 404, body = Problem, description = "`integration_not_found`, or `unknown_action`"),
        (status = 409, body = Problem, description = "`integration_needs_reauth`; `integration_needs_setup` (a setting is still to be chosen); or the `Idempotency-Key` was used otherwise or is in flight"),
        (status = 422, body = Problem, description = "`validation_failed`: the input does not match the action's schema; `recipients_suppressed`: every address of a recipient field the email needs (its `to`) is on the workspace's suppression list, so nothing was sent"),
        (status = 502, body = Problem, description = "The provider failed or refused the action"),
        (status = 503, body = Problem, description = "`queue_unavailable` or `database_unavailable`")
    ),
    security(("api_key" = []))
)]
#[post("/v1/integrations/{id}/actions/{action}")]
pub async fn perform(
    state: web::Data<AppState>,
    auth: Auth,
    req: HttpRequest,
    path: Path<(Uuid, String)>,
    options: Query<ActionOptions>,
    JsonOrEmpty(input): JsonOrEmpty<serde_json::Value>,
) -> ApiResult<HttpResponse> {
    let (integration_id, action) = path.into_inner();
    let client_key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok());
    let outcome = state
        .app
        .perform_action(
            auth.workspace_id,
            ActionRequest {
                integration_id,
                action: &action,
                input,
                client_key,
                queue: options.run_async.unwrap_or(false),
            },
        )
        .await?;
    Ok(match outcome {
        ActionOutcome::Done(run) => HttpResponse::Ok().json(ActionRunView::from(run)),
        ActionOutcome::Queued(run) => HttpResponse::Accepted()
            .insert_header(("Location", format!("/v1/action-runs/{}", run.id)))
            .json(ActionRunView::from(run)),
    })
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
    auth: Auth,
    path: Path<Uuid>,
    params: Query<PageParams>,
) -> ApiResult<web::Json<ActionRunList>> {
    let listed = state
        .app
        .action_runs(auth.workspace_id, path.into_inner(), params.request()?)
        .await?;
    let (data, next_cursor) = page(listed, ActionRunView::from);
    Ok(web::Json(ActionRunList { data, next_cursor }))
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
    auth: Auth,
    path: Path<Uuid>,
) -> ApiResult<web::Json<ActionRunView>> {
    let run = state
        .app
        .action_run(auth.workspace_id, path.into_inner())
        .await?;
    Ok(web::Json(run.into()))
}
