//! Inbound webhooks: `POST /webhooks/{provider}/{integration_id}` (every provider
//! that sends them) and `GET` on the same URL (Meta's subscription handshake), plus
//! ops access to the stored events: `GET /v1/webhook-events`,
//! `GET /v1/webhook-events/{id}`, `POST /v1/webhook-events/{id}/replay`; and an
//! integration's webhook setup: `GET|PUT /v1/integrations/{id}/webhook` (the URL to
//! give the provider, the signing secret and handshake verify token).
//!
//! A delivery is trusted only once its signature holds against the integration's
//! secret; until then nothing is parsed and nothing is stored (a bad, stale or
//! missing signature answers 400). Each verified event is stored raw (body and
//! headers) in `webhook_events`, deduplicated by the provider's event id, and handed
//! to the webhook queue; the answer goes out as soon as that is done, so providers
//! get their 2xx in milliseconds. A redelivery of a stored event is a 200 no-op
//! (re-queued only if it was never processed, so a lost enqueue heals itself).

use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use chrono::{DateTime, Utc};
use junction_app::webhooks::headers_to_json;
use junction_core::{
    ErrorCode, WebhookSecret,
    spec::FieldError,
    webhook::{WebhookError, WebhookRequest},
};
use junction_jobs::{Job, WebhookJob};
use junction_store::{
    models::{WebhookEventRow, WebhookStatus},
    repo::{
        self,
        webhook_events::{NewWebhookEvent, WebhookEventFilter},
    },
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    auth::Authenticated,
    error::{ApiError, ApiResult, Problem},
    pagination::{PageParams, paginate},
    state::AppState,
};

/// What a delivery did.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookReceipt {
    /// Events stored and queued now.
    pub accepted: usize,
    /// Events already stored by an earlier delivery (not processed again).
    pub duplicates: usize,
}

/// The job id of an event's processing: one per stored event, so enqueueing it twice
/// is a no-op.
pub fn webhook_job_id(event_row_id: Uuid) -> String {
    format!("webhook-{event_row_id}")
}

/// Receives a provider's webhook for one integration.
#[utoipa::path(
    tag = "webhooks",
    params(("provider" = String, Path), ("integration_id" = Uuid, Path)),
    request_body(content = String, description = "The provider's raw payload, signed"),
    responses(
        (status = 200, body = WebhookReceipt),
        (status = 400, body = Problem, description = "Bad, stale or missing signature; or no signing secret set"),
        (status = 404, body = Problem),
        (status = 503, body = Problem, description = "Stored but not queued: the provider's retry completes it")
    )
)]
#[post("/webhooks/{provider}/{integration_id}")]
pub async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, Uuid)>,
    body: web::Bytes,
) -> ApiResult<web::Json<WebhookReceipt>> {
    let (provider, integration_id) = path.into_inner();
    let (workspace_id, integration, adapter) =
        webhook_target(&state, &provider, integration_id).await?;
    let Some(spec) = adapter.spec().webhook.clone() else {
        return Err(no_webhooks(&provider));
    };
    let secret = state
        .connections
        .webhook_secret(workspace_id, &integration, &spec)
        .await?;
    let headers = http_headers(&req);
    let ctx = state.adapter_context(&provider);
    let events = adapter
        .verify_webhook(
            &ctx,
            &secret,
            &WebhookRequest {
                headers: &headers,
                body: &body,
            },
        )
        .map_err(|error| refused(&provider, integration_id, error))?;

    let stored_headers = headers_to_json(&headers);
    let mut to_queue = Vec::new();
    let mut duplicates = 0;
    let mut tx = state.store.begin(workspace_id).await?;
    for event in &events {
        let inserted = repo::webhook_events::insert_if_new(
            tx.conn(),
            NewWebhookEvent {
                workspace_id,
                integration_id,
                provider: &provider,
                event_id: &event.id,
                event_type: &event.event_type,
                headers: stored_headers.clone(),
                body: &body,
            },
        )
        .await?;
        match inserted {
            Some(row) => to_queue.push(row.id),
            None => {
                duplicates += 1;
                let existing =
                    repo::webhook_events::find_by_event_id(tx.conn(), integration_id, &event.id)
                        .await?;
                if existing.status == WebhookStatus::Received {
                    to_queue.push(existing.id);
                }
            }
        }
    }
    tx.commit().await?;
    let accepted = events.len() - duplicates;
    for event_row_id in to_queue {
        enqueue(
            &state,
            workspace_id,
            integration_id,
            event_row_id,
            webhook_job_id(event_row_id),
        )
        .await?;
    }
    metrics::counter!("junction_webhooks_received_total", "provider" => provider.clone(), "outcome" => "accepted")
        .increment(accepted as u64);
    metrics::counter!("junction_webhooks_received_total", "provider" => provider, "outcome" => "duplicate")
        .increment(duplicates as u64);
    Ok(web::Json(WebhookReceipt {
        accepted,
        duplicates,
    }))
}

/// The query of a subscription handshake.
#[derive(Debug, Deserialize, IntoParams)]
pub struct HandshakeQuery {
    #[serde(rename = "hub.mode")]
    #[param(rename = "hub.mode")]
    pub mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    #[param(rename = "hub.verify_token")]
    pub verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    #[param(rename = "hub.challenge")]
    pub challenge: Option<String>,
}

/// Answers a subscription handshake (Meta: `hub.mode=subscribe`, `hub.verify_token`,
/// `hub.challenge`) by echoing the challenge when the verify token is the
/// integration's `webhook_verify_token`.
#[utoipa::path(
    tag = "webhooks",
    params(("provider" = String, Path), ("integration_id" = Uuid, Path), HandshakeQuery),
    responses(
        (status = 200, body = String, content_type = "text/plain", description = "The challenge"),
        (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/webhooks/{provider}/{integration_id}")]
pub async fn handshake(
    state: web::Data<AppState>,
    path: web::Path<(String, Uuid)>,
    query: web::Query<HandshakeQuery>,
) -> ApiResult<HttpResponse> {
    let (provider, integration_id) = path.into_inner();
    let (workspace_id, integration, adapter) =
        webhook_target(&state, &provider, integration_id).await?;
    let Some(spec) = adapter.spec().webhook.clone() else {
        return Err(no_webhooks(&provider));
    };
    if spec.verify_token_field.is_none() {
        return Err(ApiError::new(
            ErrorCode::UnsupportedOperation,
            format!("{provider} webhooks have no subscription handshake"),
        ));
    }
    let expected = state
        .connections
        .webhook_verify_token(workspace_id, &integration, &spec)
        .await?;
    let query = query.into_inner();
    let subscription = junction_core::webhook::meta::SubscriptionQuery {
        mode: query.mode,
        verify_token: query.verify_token,
        challenge: query.challenge,
    };
    match junction_core::webhook::meta::verify_subscription(&subscription, &expected) {
        Ok(challenge) => Ok(HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(challenge)),
        Err(WebhookError::VerifyTokenMismatch) => {
            tracing::warn!(%provider, %integration_id, "webhook handshake with a wrong verify token");
            Err(ApiError::new(
                ErrorCode::Forbidden,
                "the verify token does not match",
            ))
        }
        Err(other) => Err(ApiError::new(ErrorCode::InvalidRequest, other.to_string())),
    }
}

/// The workspace, integration and adapter a webhook URL names. Unknown providers,
/// unknown integrations and integrations of another provider all answer the same 404,
/// so the URL space tells an outsider nothing.
async fn webhook_target(
    state: &AppState,
    provider: &str,
    integration_id: Uuid,
) -> ApiResult<(
    junction_core::WorkspaceId,
    junction_store::models::Integration,
    std::sync::Arc<dyn junction_core::Adapter>,
)> {
    let not_found = || ApiError::not_found(ErrorCode::IntegrationNotFound, "integration");
    let adapter = state.adapter(provider).map_err(|_| not_found())?;
    let workspace_id = {
        let mut conn = state.store.unscoped().await?;
        repo::webhook_events::workspace_of_integration(&mut conn, integration_id, provider)
            .await?
            .ok_or_else(not_found)?
    };
    let mut tx = state.store.begin(workspace_id).await?;
    let integration = repo::integrations::get(tx.conn(), integration_id)
        .await
        .map_err(|_| not_found())?;
    tx.commit().await?;
    Ok((workspace_id, integration, adapter))
}

fn no_webhooks(provider: &str) -> ApiError {
    ApiError::new(
        ErrorCode::UnsupportedOperation,
        format!("{provider} does not send webhooks Junction can verify"),
    )
}

/// A refused delivery: 400 with what was wrong (never the secret or signature).
fn refused(provider: &str, integration_id: Uuid, error: WebhookError) -> ApiError {
    metrics::counter!("junction_webhooks_received_total", "provider" => provider.to_owned(), "outcome" => "refused")
        .increment(1);
    tracing::warn!(%provider, %integration_id, reason = %error, "webhook refused");
    match error {
        WebhookError::Unsupported => no_webhooks(provider),
        WebhookError::InvalidSecret => ApiError::new(
            ErrorCode::WebhookNotConfigured,
            "the integration's webhook signing secret is malformed: set it again",
        ),
        other => ApiError::new(
            ErrorCode::WebhookSignatureInvalid,
            format!("webhook refused: {other}"),
        ),
    }
}

/// The request's headers as the `http` crate's map the verifiers take.
fn http_headers(req: &HttpRequest) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    for (name, value) in req.headers() {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    headers
}

/// Hands a stored event to the webhook queue. The event is safe in Postgres either
/// way; a queue outage answers 503 so the provider delivers again, which re-queues it.
async fn enqueue(
    state: &AppState,
    workspace_id: junction_core::WorkspaceId,
    integration_id: Uuid,
    event_row_id: Uuid,
    job_id: String,
) -> ApiResult<String> {
    let job = Job::Webhook(WebhookJob {
        workspace_id,
        integration_id,
        event_row_id,
    });
    state
        .queues
        .enqueue_with_id(job_id, job)
        .await
        .map_err(ApiError::queue_unavailable)
}

/// A stored webhook event (the raw body is not shown: it may carry personal data).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEventView {
    pub id: Uuid,
    pub integration_id: Uuid,
    pub provider: String,
    /// The provider's event id (the deduplication key).
    pub event_id: String,
    pub event_type: String,
    /// `received`, `processing`, `processed`, `failed` or `dead`.
    pub status: String,
    pub attempts: i32,
    pub error_message: Option<String>,
    pub body_bytes: usize,
    pub received_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
}

impl From<WebhookEventRow> for WebhookEventView {
    fn from(row: WebhookEventRow) -> Self {
        Self {
            id: row.id,
            integration_id: row.integration_id,
            provider: row.provider,
            event_id: row.event_id,
            event_type: row.event_type,
            status: row.status.as_str().to_owned(),
            attempts: row.attempts,
            error_message: row.error_message,
            body_bytes: row.body.len(),
            received_at: row.received_at,
            processed_at: row.processed_at,
        }
    }
}

/// A page of events, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEventList {
    pub data: Vec<WebhookEventView>,
    pub next_cursor: Option<String>,
}

/// Filters of the event list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct WebhookEventQuery {
    pub integration_id: Option<Uuid>,
    /// `received`, `processing`, `processed`, `failed` or `dead`.
    pub status: Option<String>,
    pub event_type: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Stored webhook events of the workspace, newest first.
#[utoipa::path(
    tag = "webhooks",
    params(WebhookEventQuery),
    responses((status = 200, body = WebhookEventList), (status = 422, body = Problem)),
    security(("api_key" = []))
)]
#[get("/v1/webhook-events")]
pub async fn list(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<WebhookEventQuery>,
) -> ApiResult<web::Json<WebhookEventList>> {
    let query = query.into_inner();
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    };
    let limit = page.limit()?;
    let before: Option<(DateTime<Utc>, Uuid)> = page.keyset()?;
    let status = match query.status.as_deref() {
        None => None,
        Some(text) => Some(WebhookStatus::parse(text).ok_or_else(|| {
            ApiError::field(
                "status",
                "must be received, processing, processed, failed or dead",
            )
        })?),
    };
    let filter = WebhookEventFilter {
        integration_id: query.integration_id,
        status,
        event_type: query.event_type,
    };
    let mut tx = state.store.begin(auth.workspace_id).await?;
    let rows = repo::webhook_events::list(tx.conn(), &filter, before, limit + 1).await?;
    tx.commit().await?;
    let (rows, next_cursor) = paginate(rows, limit, |r| (r.received_at, r.id));
    Ok(web::Json(WebhookEventList {
        data: rows.into_iter().map(WebhookEventView::from).collect(),
        next_cursor,
    }))
}

/// One stored event.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = WebhookEventView), (status = 404, body = Problem)),
    security(("api_key" = []))
)]
#[get("/v1/webhook-events/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<WebhookEventView>> {
    let mut tx = state.store.begin(auth.workspace_id).await?;
    let row = repo::webhook_events::get(tx.conn(), path.into_inner()).await?;
    tx.commit().await?;
    Ok(web::Json(row.into()))
}

/// The replay's job.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookReplayAccepted {
    pub event: WebhookEventView,
    pub job_id: String,
}

/// Processes a stored event again (after a fix, or to rebuild what it changed): its
/// status goes back to `received` and a new job takes it. Applying an event is
/// idempotent, so replaying a processed one changes nothing it already changed.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path)),
    responses(
        (status = 202, body = WebhookReplayAccepted), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 503, body = Problem)
    ),
    security(("api_key" = []))
)]
#[post("/v1/webhook-events/{id}/replay")]
pub async fn replay(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let mut tx = state.store.begin(auth.workspace_id).await?;
    let row = repo::webhook_events::get(tx.conn(), id).await?;
    if row.status == WebhookStatus::Processing {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the event is being processed; replay it once that ends",
        ));
    }
    repo::webhook_events::reopen(tx.conn(), id).await?;
    let row = repo::webhook_events::get(tx.conn(), id).await?;
    tx.commit().await?;
    // A fresh job id per replay: the first job of the event may still be remembered.
    let job_id = enqueue(
        &state,
        auth.workspace_id,
        row.integration_id,
        id,
        format!("{}-replay-{}", webhook_job_id(id), Uuid::new_v4().simple()),
    )
    .await?;
    Ok(HttpResponse::Accepted().json(WebhookReplayAccepted {
        event: row.into(),
        job_id,
    }))
}

/// How an integration takes webhooks: the URL to give the provider and which
/// secrets are set (never their values).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookSetupView {
    /// The endpoint to configure at the provider.
    pub url: String,
    /// `stripe`, `svix` or `meta_hub_signature256`.
    pub scheme: String,
    /// The event types Junction handles.
    pub events: Vec<String>,
    /// `integration` (set it here) or `app_client_secret` (the provider app's
    /// configured client secret signs).
    pub secret_source: String,
    /// Whether the secret that verifies signatures is available.
    pub secret_set: bool,
    /// Whether the handshake's verify token is set; null when the provider has no
    /// handshake.
    pub verify_token_set: Option<bool>,
}

/// The webhook secrets to set; omitted ones stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookSetupRequest {
    /// The endpoint signing secret the provider shows (Stripe's and Resend's `whsec_…`).
    pub signing_secret: Option<String>,
    /// The verify token entered at the provider for its handshake (Meta).
    pub verify_token: Option<String>,
}

/// How the integration takes webhooks.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = WebhookSetupView), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("api_key" = []))
)]
#[get("/v1/integrations/{id}/webhook")]
pub async fn setup(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<WebhookSetupView>> {
    let id = path.into_inner();
    let mut tx = state.store.begin(auth.workspace_id).await?;
    let integration = repo::integrations::get(tx.conn(), id)
        .await
        .map_err(|_| ApiError::not_found(ErrorCode::IntegrationNotFound, "integration"))?;
    let stored = repo::credentials::field_names(tx.conn(), id).await?;
    tx.commit().await?;
    Ok(web::Json(setup_view(&state, &integration, &stored)?))
}

/// Sets the integration's webhook signing secret and/or handshake verify token
/// (sealed like every credential), and answers with the setup.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path)),
    request_body = WebhookSetupRequest,
    responses(
        (status = 200, body = WebhookSetupView), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)
    ),
    security(("api_key" = []))
)]
#[put("/v1/integrations/{id}/webhook")]
pub async fn configure(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<Uuid>,
    body: web::Json<WebhookSetupRequest>,
) -> ApiResult<web::Json<WebhookSetupView>> {
    let id = path.into_inner();
    let body = body.into_inner();
    let mut tx = state.store.begin(auth.workspace_id).await?;
    let integration = repo::integrations::get(tx.conn(), id)
        .await
        .map_err(|_| ApiError::not_found(ErrorCode::IntegrationNotFound, "integration"))?;
    let adapter = state.adapter(&integration.provider)?;
    let spec = adapter.spec();
    let webhook = spec
        .webhook
        .clone()
        .ok_or_else(|| no_webhooks(&integration.provider))?;
    let mut fields = std::collections::BTreeMap::new();
    let mut errors = Vec::new();
    let requested = [
        (
            "signing_secret",
            body.signing_secret,
            match webhook.secret {
                WebhookSecret::Field(field) => Some(field),
                WebhookSecret::AppClientSecret => None,
            },
        ),
        (
            "verify_token",
            body.verify_token,
            webhook.verify_token_field,
        ),
    ];
    for (name, value, field) in requested {
        let Some(value) = value else { continue };
        let Some(field) = field else {
            errors.push(FieldError {
                field: name.to_owned(),
                message: format!(
                    "{} webhooks have no such secret to set here",
                    integration.provider
                ),
            });
            continue;
        };
        // The provider's own rules for the field (e.g. Stripe's `whsec_` prefix),
        // reported under this request's name for it.
        let rules = spec.all_fields().find(|f| f.name == field);
        if let Some(Err(error)) =
            rules.map(|f| f.validate(Some(&serde_json::Value::String(value.clone()))))
        {
            errors.push(FieldError {
                field: name.to_owned(),
                message: error.message,
            });
            continue;
        }
        fields.insert(field.to_owned(), secrecy::SecretString::from(value));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    repo::credentials::put(tx.conn(), state.vault(), auth.workspace_id, id, &fields).await?;
    let names: Vec<&String> = fields.keys().collect();
    super::log(
        tx.conn(),
        auth.workspace_id,
        id,
        junction_store::models::LogLevel::Info,
        junction_store::models::Operation::Update,
        "webhook secrets set",
        serde_json::json!({"fields": names}),
    )
    .await?;
    let stored = repo::credentials::field_names(tx.conn(), id).await?;
    tx.commit().await?;
    Ok(web::Json(setup_view(&state, &integration, &stored)?))
}

/// The setup of `integration`, given the names of its stored secret fields.
fn setup_view(
    state: &AppState,
    integration: &junction_store::models::Integration,
    stored: &[String],
) -> ApiResult<WebhookSetupView> {
    let id = integration.id;
    let adapter = state.adapter(&integration.provider)?;
    let webhook = adapter
        .spec()
        .webhook
        .clone()
        .ok_or_else(|| no_webhooks(&integration.provider))?;
    let is_stored = |field: &str| stored.iter().any(|name| name == field);
    let (secret_source, secret_set) = match webhook.secret {
        WebhookSecret::Field(field) => ("integration", is_stored(field)),
        WebhookSecret::AppClientSecret => (
            "app_client_secret",
            state
                .config
                .provider(&integration.provider)
                .client_secret
                .is_some(),
        ),
    };
    let scheme = serde_json::to_value(webhook.scheme)
        .ok()
        .and_then(|v| v.get("scheme").and_then(|s| s.as_str()).map(str::to_owned))
        .unwrap_or_default();
    let base = state.config.public_url.as_str().trim_end_matches('/');
    Ok(WebhookSetupView {
        url: format!("{base}/webhooks/{}/{id}", integration.provider),
        scheme,
        events: webhook.events.iter().map(|e| (*e).to_owned()).collect(),
        secret_source: secret_source.to_owned(),
        secret_set,
        verify_token_set: webhook.verify_token_field.map(is_stored),
    })
}
