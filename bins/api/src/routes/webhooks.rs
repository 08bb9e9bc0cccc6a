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
//! get their 2xx in milliseconds. A redelivery of a stored event is a 200 no-op.

use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use chrono::{DateTime, Utc};
use junction_app::{
    models::{WebhookEventFilter, WebhookEventRow, WebhookStatus},
    webhooks::WebhookSetup,
};
use junction_core::webhook::meta::SubscriptionQuery;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    auth::Auth,
    error::{ApiError, ApiResult, Problem},
    extract::{Json, Path, Query},
    pagination::{PageParams, page},
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

/// Receives a provider's webhook for one integration.
#[utoipa::path(
    tag = "webhooks",
    params(("provider" = String, Path), ("integration_id" = Uuid, Path)),
    request_body(content = String, description = "The provider's raw payload, signed"),
    responses(
        (status = 200, body = WebhookReceipt),
        (status = 400, body = Problem, description = "`webhook_signature_invalid`: a bad, stale or missing signature; `webhook_not_configured`: no signing secret set"),
        (status = 404, body = Problem, description = "`integration_not_found`: no such integration of this provider"),
        (status = 422, body = Problem, description = "`webhook_payload_invalid`: the signature holds but the body is not a payload of the provider")
    )
)]
#[post("/webhooks/{provider}/{integration_id}")]
pub async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: Path<(String, Uuid)>,
    body: web::Bytes,
) -> ApiResult<web::Json<WebhookReceipt>> {
    let (provider, integration_id) = path.into_inner();
    let receipt = state
        .app
        .receive_webhook(&provider, integration_id, &http_headers(&req), &body)
        .await?;
    Ok(web::Json(WebhookReceipt {
        accepted: receipt.accepted,
        duplicates: receipt.duplicates,
    }))
}

/// The query of a subscription handshake. Every parameter is required (a handshake
/// without one is refused with 400 naming it); the fields are optional only so the
/// refusal can name what is missing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HandshakeQuery {
    #[serde(rename = "hub.mode")]
    #[param(rename = "hub.mode", required = true, value_type = HubMode, inline)]
    pub mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    #[param(rename = "hub.verify_token", required = true)]
    pub verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    #[param(rename = "hub.challenge", required = true)]
    pub challenge: Option<String>,
}

// Only the document names this type (its one value is junction-core's
// `meta::SUBSCRIBE_MODE`): the query keeps the text, so that a wrong mode is refused
// naming `hub.mode`.
/// The one mode of a handshake.
#[derive(ToSchema)]
#[allow(dead_code)]
enum HubMode {
    #[schema(rename = "subscribe")]
    Subscribe,
}

/// Answers a subscription handshake (Meta: `hub.mode=subscribe`, `hub.verify_token`,
/// `hub.challenge`) by echoing the challenge when the verify token is the
/// integration's `webhook_verify_token`.
#[utoipa::path(
    tag = "webhooks",
    params(("provider" = String, Path), ("integration_id" = Uuid, Path), HandshakeQuery),
    responses(
        (status = 200, body = String, content_type = "text/plain", description = "The challenge"),
        (status = 400, body = Problem, description = "A handshake query that is incomplete, or a provider without one (`unsupported_operation`); `webhook_not_configured`"),
        (status = 403, body = Problem, description = "`forbidden`: the verify token does not match"),
        (status = 404, body = Problem, description = "`integration_not_found`")
    )
)]
#[get("/webhooks/{provider}/{integration_id}")]
pub async fn handshake(
    state: web::Data<AppState>,
    path: Path<(String, Uuid)>,
    query: Query<HandshakeQuery>,
) -> ApiResult<HttpResponse> {
    let (provider, integration_id) = path.into_inner();
    let query = query.into_inner();
    let challenge = state
        .app
        .webhook_handshake(
            &provider,
            integration_id,
            SubscriptionQuery {
                mode: query.mode,
                verify_token: query.verify_token,
                challenge: query.challenge,
            },
        )
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(challenge))
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
    #[schema(schema_with = crate::schema::webhook_status)]
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
    #[param(schema_with = crate::schema::webhook_status)]
    pub status: Option<String>,
    pub event_type: Option<String>,
    #[param(schema_with = crate::pagination::limit)]
    pub limit: Option<i64>,
    #[param(schema_with = crate::pagination::cursor)]
    pub cursor: Option<String>,
}

/// Stored webhook events of the workspace, newest first.
#[utoipa::path(
    tag = "webhooks",
    params(WebhookEventQuery),
    responses(
        (status = 200, body = WebhookEventList),
        (status = 404, body = Problem, description = "`integration_not_found`: `integration_id` names no integration of the workspace")
    ),
    security(("api_key" = []))
)]
#[get("/v1/webhook-events")]
pub async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    query: Query<WebhookEventQuery>,
) -> ApiResult<web::Json<WebhookEventList>> {
    let query = query.into_inner();
    let request = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    }
    .request()?;
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
    let listed = state
        .app
        .webhook_events(auth.workspace_id, &filter, request)
        .await?;
    let (data, next_cursor) = page(listed, WebhookEventView::from);
    Ok(web::Json(WebhookEventList { data, next_cursor }))
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
    auth: Auth,
    path: Path<Uuid>,
) -> ApiResult<web::Json<WebhookEventView>> {
    let row = state
        .app
        .webhook_event(auth.workspace_id, path.into_inner())
        .await?;
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
        (status = 409, body = Problem, description = "`conflict`: the event is being processed")
    ),
    security(("api_key" = []))
)]
#[post("/v1/webhook-events/{id}/replay")]
pub async fn replay(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let replayed = state
        .app
        .replay_webhook_event(auth.workspace_id, path.into_inner())
        .await?;
    Ok(HttpResponse::Accepted().json(WebhookReplayAccepted {
        event: replayed.event.into(),
        job_id: replayed.job_id,
    }))
}

/// How an integration takes webhooks: the URL to give the provider and which
/// secrets are set (never their values).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookSetupView {
    /// The endpoint to configure at the provider.
    pub url: String,
    /// `stripe`, `svix`, `meta_hub_signature256`, `hubspot_v3` or `sendgrid_ecdsa`.
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

impl From<WebhookSetup> for WebhookSetupView {
    fn from(found: WebhookSetup) -> Self {
        Self {
            url: found.url,
            scheme: found.scheme,
            events: found.events,
            secret_source: found.secret_source.to_owned(),
            secret_set: found.secret_set,
            verify_token_set: found.verify_token_set,
        }
    }
}

/// How the integration takes webhooks.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = WebhookSetupView),
        (status = 400, body = Problem, description = "`unsupported_operation`: the provider sends no webhooks"),
        (status = 404, body = Problem)
    ),
    security(("api_key" = []))
)]
#[get("/v1/integrations/{id}/webhook")]
pub async fn setup(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
) -> ApiResult<web::Json<WebhookSetupView>> {
    let found = state
        .app
        .webhook_setup(auth.workspace_id, path.into_inner())
        .await?;
    Ok(web::Json(found.into()))
}

/// Sets the integration's webhook signing secret and/or handshake verify token
/// (sealed like every credential), and answers with the setup.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path)),
    request_body = WebhookSetupRequest,
    responses(
        (status = 200, body = WebhookSetupView),
        (status = 400, body = Problem, description = "`unsupported_operation`: the provider sends no webhooks"),
        (status = 404, body = Problem)
    ),
    security(("api_key" = []))
)]
#[put("/v1/integrations/{id}/webhook")]
pub async fn configure(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
    body: Json<WebhookSetupRequest>,
) -> ApiResult<web::Json<WebhookSetupView>> {
    let body = body.into_inner();
    let configured = state
        .app
        .configure_webhook(
            auth.workspace_id,
            path.into_inner(),
            body.signing_secret,
            body.verify_token,
        )
        .await?;
    Ok(web::Json(configured.into()))
}
