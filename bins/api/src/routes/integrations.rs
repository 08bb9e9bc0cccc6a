//! /v1/integrations: list, connect with API keys, read, update, test, reconnect,
//! disconnect, and the per-integration operation log.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use junction_core::{
    AdapterError, AuthSpec, Connection, ErrorCode, IntegrationId, WorkspaceId,
    spec::{FieldError, ProviderSpec},
};
use junction_store::{
    models::{
        AuthKind, Health, Integration, IntegrationStatus, LogLevel, NewIntegration, Operation,
    },
    repo::{self, integrations::IntegrationPatch},
};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::IntoParams;
use uuid::Uuid;

use super::log;
use crate::{
    auth::Authenticated,
    error::{ApiError, ApiResult, JsonOrEmpty, Problem},
    pagination::{PageParams, paginate},
    state::AppState,
    views::{
        ConnectResponse, CreateIntegration, IntegrationList, IntegrationView, LogList, LogView,
        ReconnectIntegration, TestResult, UpdateIntegration,
    },
};

/// The stored auth kind of a spec.
pub fn auth_kind(spec: &ProviderSpec) -> AuthKind {
    match spec.auth {
        AuthSpec::OAuth2(_) => AuthKind::OAuth2,
        AuthSpec::ApiKey { .. } => AuthKind::ApiKey,
        AuthSpec::Basic { .. } => AuthKind::Basic,
        AuthSpec::ClientCredentials { .. } => AuthKind::ClientCredentials,
    }
}

/// The default sync interval of a provider: its most frequent stream's schedule.
pub fn default_schedule(spec: &ProviderSpec) -> i32 {
    spec.streams
        .iter()
        .map(|s| s.default_schedule.as_secs())
        .min()
        .and_then(|secs| i32::try_from(secs).ok())
        .unwrap_or(3600)
        .max(60)
}

/// Validates a schedule.
pub fn validate_schedule(seconds: Option<i32>) -> ApiResult<()> {
    match seconds {
        Some(s) if !(60..=7 * 24 * 3600).contains(&s) => Err(ApiError::field(
            "schedule_seconds",
            "must be between 60 and 604800",
        )),
        _ => Ok(()),
    }
}

/// Validates settings and credentials together against the spec and splits them into
/// non-secret config and secret fields (by the spec's `secret` flag, wherever the
/// client put them).
pub fn split_fields(
    spec: &ProviderSpec,
    config: &Map<String, Value>,
    credentials: &Map<String, Value>,
) -> ApiResult<(Map<String, Value>, BTreeMap<String, SecretString>)> {
    let mut all = config.clone();
    let mut errors = Vec::new();
    for (name, value) in credentials {
        if all.insert(name.clone(), value.clone()).is_some() {
            errors.push(FieldError {
                field: name.clone(),
                message: "is given both in config and in credentials".into(),
            });
        }
    }
    if let Err(mut field_errors) = spec.validate_fields(&all) {
        errors.append(&mut field_errors);
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let mut public = Map::new();
    let mut secrets = BTreeMap::new();
    for field in spec.all_fields() {
        let Some(value) = all.remove(field.name) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        if field.secret {
            let text = match value {
                Value::String(text) => text,
                other => other.to_string(),
            };
            secrets.insert(field.name.to_owned(), SecretString::from(text));
        } else {
            public.insert(field.name.to_owned(), value);
        }
    }
    Ok((public, secrets))
}

/// Maps a failed health check at connect time: credentials or settings the provider
/// refuses are the client's to fix (422); an unreachable provider is not (502).
pub fn connect_check_error(error: AdapterError) -> ApiError {
    match error {
        AdapterError::Unauthorized { message, .. } => ApiError::new(
            ErrorCode::InvalidCredentials,
            format!("the provider rejected the credentials: {message}"),
        ),
        AdapterError::Invalid {
            field: Some(field),
            message,
        } => ApiError::field(&field, message),
        AdapterError::Invalid {
            field: None,
            message,
        } => ApiError::new(ErrorCode::InvalidConfig, message),
        AdapterError::Provider {
            status, message, ..
        } if (400..500).contains(&status) => ApiError::new(
            ErrorCode::InvalidConfig,
            format!("the provider refused the connection (HTTP {status}): {message}"),
        ),
        other => ApiError::from(other),
    }
}

/// Asks the provider whether it accepts typed-in settings and secrets, before
/// anything is stored (connect and reconnect of API-key integrations).
async fn check_credentials(
    state: &AppState,
    adapter: &dyn junction_core::Adapter,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    config: &Map<String, Value>,
    secrets: &BTreeMap<String, SecretString>,
) -> ApiResult<junction_core::Health> {
    let connection = Connection {
        workspace_id,
        integration_id: IntegrationId(integration_id),
        config: config.clone(),
        secrets: secrets.clone(),
        access_token: None,
        token_expires_at: None,
    };
    adapter
        .check(&state.adapter_context(adapter.spec().id), &connection)
        .await
        .map_err(connect_check_error)
}

async fn view(
    state: &AppState,
    workspace_id: WorkspaceId,
    integration: Integration,
) -> ApiResult<IntegrationView> {
    let mut tx = state.store.begin(workspace_id).await?;
    let fields = repo::credentials::field_names(tx.conn(), integration.id).await?;
    tx.commit().await?;
    Ok(IntegrationView::new(integration, fields))
}

async fn load(state: &AppState, workspace_id: WorkspaceId, id: Uuid) -> ApiResult<Integration> {
    let mut tx = state.store.begin(workspace_id).await?;
    let integration = repo::integrations::get(tx.conn(), id)
        .await
        .map_err(|_| ApiError::not_found(ErrorCode::IntegrationNotFound, "integration"))?;
    tx.commit().await?;
    Ok(integration)
}

/// `?provider=&limit=&cursor=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only integrations of this provider.
    pub provider: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Lists the workspace's integrations, oldest first.
#[utoipa::path(
    tag = "integrations",
    params(ListQuery),
    responses((status = 200, body = IntegrationList), (status = 400, body = Problem), (status = 401, body = Problem)),
    security(("api_key" = []))
)]
#[get("/v1/integrations")]
pub async fn list(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<ListQuery>,
) -> ApiResult<web::Json<IntegrationList>> {
    let query = query.into_inner();
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    };
    let limit = page.limit()?;
    let after: Option<(DateTime<Utc>, Uuid)> = page.keyset()?;
    let mut tx = state.store.begin(auth.workspace_id).await?;
    let rows =
        repo::integrations::list(tx.conn(), after, query.provider.as_deref(), limit + 1).await?;
    let (rows, next_cursor) = paginate(rows, limit, |i| (i.created_at, i.id));
    let mut data = Vec::with_capacity(rows.len());
    for integration in rows {
        let fields = repo::credentials::field_names(tx.conn(), integration.id).await?;
        data.push(IntegrationView::new(integration, fields));
    }
    tx.commit().await?;
    Ok(web::Json(IntegrationList { data, next_cursor }))
}

/// Connects a provider with API-key or basic credentials. The credentials are
/// checked with the provider before anything is stored: if the provider refuses
/// them the answer is 422 and nothing is stored. OAuth providers connect through
/// POST /v1/connect/{provider}.
#[utoipa::path(
    tag = "integrations",
    request_body = CreateIntegration,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body")),
    responses(
        (status = 201, body = IntegrationView),
        (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem), (status = 502, body = Problem)
    ),
    security(("api_key" = []))
)]
#[post("/v1/integrations")]
pub async fn create(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: web::Json<CreateIntegration>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let adapter = state.adapter(&body.provider)?;
    let spec = adapter.spec();
    if matches!(spec.auth, AuthSpec::OAuth2(_)) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedOperation,
            format!(
                "{} connects with OAuth: start with POST /v1/connect/{}",
                spec.name, spec.id
            ),
        ));
    }
    validate_schedule(body.schedule_seconds)?;
    let (config, secrets) = split_fields(spec, &body.config, &body.credentials)?;
    let id = Uuid::new_v4();
    let health = check_credentials(
        &state,
        adapter.as_ref(),
        auth.workspace_id,
        id,
        &config,
        &secrets,
    )
    .await?;

    let display_name = body.display_name.unwrap_or_else(|| spec.name.to_owned());
    let mut tx = state.store.begin(auth.workspace_id).await?;
    repo::integrations::insert(
        tx.conn(),
        &NewIntegration {
            id,
            workspace_id: auth.workspace_id.as_uuid(),
            provider: spec.id.to_owned(),
            display_name,
            status: IntegrationStatus::Active,
            auth_kind: auth_kind(spec),
            config: Value::Object(config),
            scopes: Vec::new(),
            token_expires_at: None,
            schedule_seconds: body
                .schedule_seconds
                .unwrap_or_else(|| default_schedule(spec)),
            next_sync_at: Some(state.now()),
        },
    )
    .await?;
    repo::credentials::put(tx.conn(), state.vault(), auth.workspace_id, id, &secrets).await?;
    let integration = repo::integrations::record_health(
        tx.conn(),
        id,
        Health::Healthy,
        health.account.as_deref(),
    )
    .await?;
    log(
        tx.conn(),
        auth.workspace_id,
        id,
        LogLevel::Info,
        Operation::Connect,
        "connected; the provider accepted the credentials",
        json!({"account": health.account}),
    )
    .await?;
    tx.commit().await?;
    let view = view(&state, auth.workspace_id, integration).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/integrations/{id}")))
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
    auth: Authenticated,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<IntegrationView>> {
    let integration = load(&state, auth.workspace_id, path.into_inner()).await?;
    Ok(web::Json(
        view(&state, auth.workspace_id, integration).await?,
    ))
}

/// Changes the name, settings or schedule of an integration. New settings are
/// validated against the provider's fields; secrets change through reconnect.
#[utoipa::path(
    tag = "integrations",
    params(("id" = Uuid, Path)),
    request_body = UpdateIntegration,
    responses((status = 200, body = IntegrationView), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = []))
)]
#[patch("/v1/integrations/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<Uuid>,
    body: web::Json<UpdateIntegration>,
) -> ApiResult<web::Json<IntegrationView>> {
    let id = path.into_inner();
    let body = body.into_inner();
    let integration = load(&state, auth.workspace_id, id).await?;
    let adapter = state.adapter(&integration.provider)?;
    validate_schedule(body.schedule_seconds)?;
    if let Some(name) = &body.display_name
        && (name.trim().is_empty() || name.chars().count() > 200)
    {
        return Err(ApiError::field("display_name", "must be 1-200 characters"));
    }
    let config = match &body.config {
        Some(config) => {
            let spec = adapter.spec();
            if let Some(secret) = config
                .keys()
                .find(|k| spec.all_fields().any(|f| f.name == *k && f.secret))
            {
                return Err(ApiError::field(
                    secret,
                    "is a secret: change it with POST /v1/integrations/{id}/reconnect",
                ));
            }
            let errors: Vec<FieldError> = spec
                .config
                .iter()
                .filter_map(|field| field.validate(config.get(field.name)).err())
                .chain(
                    config
                        .keys()
                        .filter(|k| !spec.config.iter().any(|f| f.name == *k))
                        .map(|k| FieldError {
                            field: k.clone(),
                            message: "is not a field of this provider".into(),
                        }),
                )
                .collect();
            if !errors.is_empty() {
                return Err(ApiError::validation(errors));
            }
            Some(Value::Object(config.clone()))
        }
        None => None,
    };
    let mut tx = state.store.begin(auth.workspace_id).await?;
    let updated = repo::integrations::update(
        tx.conn(),
        id,
        &IntegrationPatch {
            display_name: body.display_name.clone(),
            config,
            schedule_seconds: body.schedule_seconds,
            sync_enabled: body.sync_enabled,
            ..Default::default()
        },
    )
    .await?;
    let changed: Vec<&str> = [
        ("display_name", body.display_name.is_some()),
        ("config", body.config.is_some()),
        ("schedule_seconds", body.schedule_seconds.is_some()),
        ("sync_enabled", body.sync_enabled.is_some()),
    ]
    .iter()
    .filter(|(_, changed)| *changed)
    .map(|(name, _)| *name)
    .collect();
    log(
        tx.conn(),
        auth.workspace_id,
        id,
        LogLevel::Info,
        Operation::Update,
        "settings updated",
        json!({"changed": changed}),
    )
    .await?;
    tx.commit().await?;
    Ok(web::Json(view(&state, auth.workspace_id, updated).await?))
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
    auth: Authenticated,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<TestResult>> {
    let id = path.into_inner();
    let integration = load(&state, auth.workspace_id, id).await?;
    let adapter = state.adapter(&integration.provider)?;
    let ctx = state.adapter_context(&integration.provider);
    // A token the provider refuses although it has not expired by our clock is
    // refreshed once (single-flight) and the check tried again.
    let outcome = state
        .connections
        .call(auth.workspace_id, &integration, |connection| {
            let (adapter, ctx) = (adapter.clone(), ctx.clone());
            async move { adapter.check(&ctx, &connection).await }
        })
        .await
        .map_err(ApiError::from);
    let checked_at = state.now();
    let mut tx = state.store.begin(auth.workspace_id).await?;
    let result = match outcome {
        Ok(health) => {
            repo::integrations::record_health(
                tx.conn(),
                id,
                Health::Healthy,
                health.account.as_deref(),
            )
            .await?;
            log(
                tx.conn(),
                auth.workspace_id,
                id,
                LogLevel::Info,
                Operation::Check,
                "health check passed",
                json!({"account": health.account}),
            )
            .await?;
            TestResult {
                healthy: true,
                code: None,
                message: None,
                account: health.account,
                details: health.details,
                checked_at,
            }
        }
        Err(error) => {
            let code = error.code.name().to_owned();
            repo::integrations::record_health(
                tx.conn(),
                id,
                Health::Unhealthy,
                Some(&error.detail),
            )
            .await?;
            log(
                tx.conn(),
                auth.workspace_id,
                id,
                LogLevel::Warn,
                Operation::Check,
                &format!("health check failed: {}", error.detail),
                json!({"code": code}),
            )
            .await?;
            TestResult {
                healthy: false,
                code: Some(code),
                message: Some(error.detail),
                account: None,
                details: Value::Null,
                checked_at,
            }
        }
    };
    tx.commit().await?;
    Ok(web::Json(result))
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
        (status = 404, body = Problem), (status = 422, body = Problem), (status = 502, body = Problem)
    ),
    security(("api_key" = []))
)]
#[post("/v1/integrations/{id}/reconnect")]
pub async fn reconnect(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<Uuid>,
    JsonOrEmpty(body): JsonOrEmpty<ReconnectIntegration>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let integration = load(&state, auth.workspace_id, id).await?;
    let adapter = state.adapter(&integration.provider)?;
    let spec = adapter.spec();
    if let AuthSpec::OAuth2(oauth) = &spec.auth {
        if !body.credentials.is_empty() {
            return Err(ApiError::field(
                "credentials",
                "OAuth integrations reconnect through the provider's consent page",
            ));
        }
        let started = super::connect::start_flow(
            &state,
            auth.workspace_id,
            spec,
            oauth,
            Some(&integration),
            integration.config.as_object().cloned().unwrap_or_default(),
            None,
            None,
            body.return_to.as_deref(),
        )
        .await?;
        return Ok(HttpResponse::Accepted().json(started));
    }
    let config = integration.config.as_object().cloned().unwrap_or_default();
    let (_, secrets) = split_fields(spec, &config, &body.credentials)?;
    let health = check_credentials(
        &state,
        adapter.as_ref(),
        auth.workspace_id,
        id,
        &config,
        &secrets,
    )
    .await?;
    let mut tx = state.store.begin(auth.workspace_id).await?;
    repo::credentials::delete(tx.conn(), id, None).await?;
    repo::credentials::put(tx.conn(), state.vault(), auth.workspace_id, id, &secrets).await?;
    repo::integrations::set_status(tx.conn(), id, IntegrationStatus::Active, None).await?;
    let updated = repo::integrations::record_health(
        tx.conn(),
        id,
        Health::Healthy,
        health.account.as_deref(),
    )
    .await?;
    log(
        tx.conn(),
        auth.workspace_id,
        id,
        LogLevel::Info,
        Operation::Reconnect,
        "credentials replaced; the provider accepted them",
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(view(&state, auth.workspace_id, updated).await?))
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
    auth: Authenticated,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let integration = load(&state, auth.workspace_id, id).await?;
    let revoked = revoke_at_provider(&state, auth.workspace_id, &integration).await;
    if let Err(reason) = &revoked {
        tracing::warn!(integration = %id, provider = %integration.provider, reason = %reason, "revocation at the provider failed; deleting anyway");
    }
    let mut tx = state.store.begin(auth.workspace_id).await?;
    repo::credentials::delete(tx.conn(), id, None).await?;
    repo::integrations::delete(tx.conn(), id).await?;
    tx.commit().await?;
    tracing::info!(integration = %id, provider = %integration.provider, revoked = revoked.is_ok(), "integration deleted");
    Ok(HttpResponse::NoContent().finish())
}

/// Revokes an integration's grant at the provider: the OAuth token (refresh token
/// first: revoking it ends the whole grant at most providers), then the adapter's own
/// revocation.
async fn revoke_at_provider(
    state: &AppState,
    workspace_id: WorkspaceId,
    integration: &Integration,
) -> Result<(), String> {
    let adapter = state.adapter(&integration.provider).map_err(|e| e.detail)?;
    let spec = adapter.spec();
    let mut secrets = {
        let mut tx = state
            .store
            .begin(workspace_id)
            .await
            .map_err(|e| e.to_string())?;
        let secrets = repo::credentials::get_all(tx.conn(), state.vault(), integration.id)
            .await
            .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
        secrets
    };
    if let AuthSpec::OAuth2(oauth) = &spec.auth {
        let token = secrets
            .get(junction_oauth::REFRESH_TOKEN)
            .or_else(|| secrets.get(junction_oauth::ACCESS_TOKEN));
        if let Some(token) = token {
            let client = state.oauth_client(spec.id, oauth).map_err(|e| e.detail)?;
            state
                .connections
                .oauth
                .revoke(oauth, &client, token)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    let access_token = secrets.remove(junction_oauth::ACCESS_TOKEN);
    secrets.remove(junction_oauth::REFRESH_TOKEN);
    let connection = Connection {
        workspace_id,
        integration_id: IntegrationId(integration.id),
        config: integration.config.as_object().cloned().unwrap_or_default(),
        secrets,
        access_token,
        token_expires_at: integration.token_expires_at,
    };
    adapter
        .revoke(&state.adapter_context(spec.id), &connection)
        .await
        .map_err(|e| e.to_string())
}

/// `?operation=&limit=&cursor=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Only entries of this operation (`connect`, `check`, `sync`, `refresh`, ...).
    pub operation: Option<String>,
    pub limit: Option<i64>,
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
    auth: Authenticated,
    path: web::Path<Uuid>,
    query: web::Query<LogQuery>,
) -> ApiResult<web::Json<LogList>> {
    let id = path.into_inner();
    let query = query.into_inner();
    let operation = query
        .operation
        .as_deref()
        .map(|op| {
            Operation::parse(op)
                .ok_or_else(|| ApiError::field("operation", format!("unknown operation `{op}`")))
        })
        .transpose()?;
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    };
    let limit = page.limit()?;
    let before: Option<i64> = page.keyset()?;
    load(&state, auth.workspace_id, id).await?;
    let mut tx = state.store.begin(auth.workspace_id).await?;
    let rows = repo::logs::list(tx.conn(), id, operation, before, limit + 1).await?;
    tx.commit().await?;
    let (rows, next_cursor) = paginate(rows, limit, |log| log.id);
    Ok(web::Json(LogList {
        data: rows.into_iter().map(LogView::from).collect(),
        next_cursor,
    }))
}
