//! /v1/integrations: list, connect with API keys, read, update, test, reconnect,
//! disconnect, and the per-integration operation log.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use junction_app::{
    connect::{NewConnection, Reconnected},
    connect_sessions,
    integrations::IntegrationChanges,
    models::{IntegrationFilter, Operation},
};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::{
    auth::Auth,
    error::{ApiError, ApiResult, Problem},
    extract::{Json, JsonOrEmpty, Path, Query},
    pagination::{PageParams, page},
    state::AppState,
    views::{
        ConnectResponse, CreateIntegration, IntegrationList, IntegrationView, LogList, LogView,
        ReconnectIntegration, TestResult, UpdateIntegration,
    },
};

/// `?provider=&end_user_id=&tag=&limit=&cursor=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only integrations of this provider.
    pub provider: Option<String>,
    /// Only integrations a connect session connected for this end user.
    pub end_user_id: Option<String>,
    /// Only integrations whose connect-session tags have this key (`tag=plan`) or
    /// map it to this value (`tag=plan:pro`, split at the first `:`).
    pub tag: Option<String>,
    #[param(schema_with = crate::pagination::limit)]
    pub limit: Option<i64>,
    #[param(schema_with = crate::pagination::cursor)]
    pub cursor: Option<String>,
}

/// Lists the workspace's integrations, oldest first.
#[utoipa::path(
    tag = "integrations",
    params(ListQuery),
    responses((status = 200, body = IntegrationList)),
    security(("api_key" = []))
)]
#[get("/v1/integrations")]
pub async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    query: Query<ListQuery>,
) -> ApiResult<web::Json<IntegrationList>> {
    let query = query.into_inner();
    let request = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    }
    .request()?;
    let filter = IntegrationFilter {
        provider: query.provider,
        end_user_id: query.end_user_id,
        tag: query.tag.as_deref().map(connect_sessions::tag_filter),
    };
    let listed = state
        .app
        .integrations(auth.workspace_id, &filter, request)
        .await?;
    let (data, next_cursor) = page(listed, IntegrationView::from);
    Ok(web::Json(IntegrationList { data, next_cursor }))
}

/// Connects a provider with API-key or basic credentials. The credentials are
/// checked with the provider before anything is stored: if the provider refuses
/// them the answer is 422 and nothing is stored. OAuth providers connect through
/// POST /v1/connect/{provider}.
#[utoipa::path(
    tag = "integrations",
    request_body = CreateIntegration,
    responses(
        (status = 201, body = IntegrationView),
        (status = 400, body = Problem, description = "`unsupported_operation`: the provider connects with OAuth; or a malformed request"),
        (status = 404, body = Problem, description = "`unknown_provider`"),
        (status = 422, body = Problem, description = "`validation_failed`, or `invalid_credentials`: the provider refused them"),
        (status = 502, body = Problem, description = "The provider could not be asked (`provider_*`)")
    ),
    security(("api_key" = []))
)]
#[post("/v1/integrations")]
pub async fn create(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<CreateIntegration>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let created = state
        .app
        .connect_with_credentials(
            auth.workspace_id,
            NewConnection {
                provider: body.provider,
                display_name: body.display_name,
                config: body.config,
                credentials: body.credentials,
                schedule_seconds: body.schedule_seconds,
            },
        )
        .await?;
    let view = IntegrationView::from(created);
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/integrations/{}", view.id)))
        .json(view))
}

/// One integration.
#[utoipa::path(
    tag = "integrations",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = IntegrationView), (status = 404, body = Problem)),
    security(("api_key" = []))
)]
#[get("/v1/integrations/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
) -> ApiResult<web::Json<IntegrationView>> {
    let details = state
        .app
        .integration(auth.workspace_id, path.into_inner())
        .await?;
    Ok(web::Json(details.into()))
}

/// Changes the name, settings or schedule of an integration. New settings are
/// validated against the provider's fields; secrets change through reconnect.
///
/// Completes the setup step of a `needs_setup` integration: a `config` that names
/// the fields of its `setup.missing` (each a `value` from
/// GET /v1/integrations/{id}/options/{field}, with the other settings kept) is
/// checked with the provider, then the integration becomes `active` and its first
/// sync is due at once; `connection.created` is sent. A refusal changes nothing.
#[utoipa::path(
    tag = "integrations",
    params(("id" = Uuid, Path)),
    request_body = UpdateIntegration,
    responses(
        (status = 200, body = IntegrationView),
        (status = 404, body = Problem, description = "`integration_not_found`"),
        (status = 409, body = Problem, description = "`integration_needs_reauth`: completing the setup needs the provider, and the grant is gone"),
        (status = 422, body = Problem, description = "`validation_failed`: `errors` names each field at fault (text holding a NUL character or invalid UTF-8 included; a chosen value not among the provider's choices); `invalid_config` or `invalid_credentials`: the provider refused the completed settings"),
        (status = 502, body = Problem, description = "Completing the setup: the provider could not be asked (`provider_*`)")
    ),
    security(("api_key" = []))
)]
#[patch("/v1/integrations/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
    body: Json<UpdateIntegration>,
) -> ApiResult<web::Json<IntegrationView>> {
    let body = body.into_inner();
    let updated = state
        .app
        .update_integration(
            auth.workspace_id,
            path.into_inner(),
            IntegrationChanges {
                display_name: body.display_name,
                config: body.config,
                schedule_seconds: body.schedule_seconds,
                sync_enabled: body.sync_enabled,
            },
        )
        .await?;
    Ok(web::Json(updated.into()))
}

/// Runs the provider's health check now; the result is stored and logged. A failed
/// check is a result (200 with `healthy: false`), not an API error.
#[utoipa::path(
    tag = "integrations",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = TestResult), (status = 404, body = Problem)),
    security(("api_key" = []))
)]
#[post("/v1/integrations/{id}/test")]
pub async fn test(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
) -> ApiResult<web::Json<TestResult>> {
    let checked = state
        .app
        .check_integration(auth.workspace_id, path.into_inner())
        .await?;
    Ok(web::Json(match checked.outcome {
        Ok(health) => TestResult {
            healthy: true,
            code: None,
            message: None,
            account: health.account,
            details: health.details,
            checked_at: checked.checked_at,
        },
        Err((code, message)) => TestResult {
            healthy: false,
            code: Some(code.name().to_owned()),
            message: Some(message),
            account: None,
            details: Value::Null,
            checked_at: checked.checked_at,
        },
    }))
}

/// Replaces an integration's credentials. OAuth integrations get an authorize URL
/// (202) and are updated when the user finishes the flow; API-key integrations send
/// `credentials`, which are checked with the provider before they replace the old
/// ones (200).
#[utoipa::path(
    tag = "integrations",
    params(("id" = Uuid, Path)),
    request_body = ReconnectIntegration,
    responses(
        (status = 200, body = IntegrationView), (status = 202, body = ConnectResponse),
        (status = 404, body = Problem, description = "`integration_not_found`"),
        (status = 422, body = Problem, description = "`validation_failed`, or `invalid_credentials`: the provider refused them"),
        (status = 502, body = Problem, description = "The provider could not be asked (`provider_*`)")
    ),
    security(("api_key" = []))
)]
#[post("/v1/integrations/{id}/reconnect")]
pub async fn reconnect(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
    JsonOrEmpty(body): JsonOrEmpty<ReconnectIntegration>,
) -> ApiResult<HttpResponse> {
    let reconnected = state
        .app
        .reconnect(
            auth.workspace_id,
            path.into_inner(),
            body.credentials,
            body.return_to.as_deref(),
        )
        .await?;
    Ok(match reconnected {
        Reconnected::Saved(details) => HttpResponse::Ok().json(IntegrationView::from(*details)),
        Reconnected::Flow(flow) => HttpResponse::Accepted().json(ConnectResponse::from(flow)),
    })
}

/// Disconnects: revokes the grant at the provider where it can (best effort: a
/// provider that is down does not keep the integration alive), wipes the
/// credentials and deletes the integration with its data.
#[utoipa::path(
    tag = "integrations",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)),
    security(("api_key" = []))
)]
#[delete("/v1/integrations/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    state
        .app
        .disconnect(auth.workspace_id, path.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `?operation=&limit=&cursor=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Only entries of this operation (`connect`, `check`, `sync`, `refresh`, ...).
    #[param(schema_with = crate::schema::operation)]
    pub operation: Option<String>,
    #[param(schema_with = crate::pagination::limit)]
    pub limit: Option<i64>,
    #[param(schema_with = crate::pagination::log_cursor)]
    pub cursor: Option<String>,
}

/// The integration's operation log, newest first.
#[utoipa::path(
    tag = "integrations",
    params(("id" = Uuid, Path), LogQuery),
    responses((status = 200, body = LogList), (status = 404, body = Problem)),
    security(("api_key" = []))
)]
#[get("/v1/integrations/{id}/logs")]
pub async fn logs(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
    query: Query<LogQuery>,
) -> ApiResult<web::Json<LogList>> {
    let query = query.into_inner();
    let operation = query
        .operation
        .as_deref()
        .map(|op| {
            Operation::parse(op)
                .ok_or_else(|| ApiError::field("operation", format!("unknown operation `{op}`")))
        })
        .transpose()?;
    let request = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    }
    .request()?;
    let listed = state
        .app
        .integration_logs(auth.workspace_id, path.into_inner(), operation, request)
        .await?;
    let (data, next_cursor) = page(listed, LogView::from);
    Ok(web::Json(LogList { data, next_cursor }))
}
