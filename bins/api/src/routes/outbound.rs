//! Outbound webhooks, in the manner of Svix: POST /v1/webhook-endpoints,
//! GET /v1/webhook-endpoints, GET/PATCH/DELETE /v1/webhook-endpoints/{id},
//! GET /v1/webhook-endpoints/{id}/secret, POST /v1/webhook-endpoints/{id}/rotate-secret,
//! GET /v1/webhook-endpoints/{id}/attempts, GET /v1/event-types, GET /v1/events,
//! GET /v1/events/{id}, GET /v1/events/{id}/attempts.
//!
//! Junction POSTs every event to each enabled endpoint of the workspace whose filter
//! takes its type, signed with the Standard Webhooks scheme (docs/api.md, "Outbound
//! webhooks"); failed deliveries retry on Svix's schedule and then become dead
//! letters (queue `outbound`), replayed with POST /v1/dead-letters/{id}/replay.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use junction_app::{
    models::{
        OutboundAttempt, OutboundDelivery, OutboundEventFilter, OutboundEventType, WebhookEndpoint,
    },
    outbound::{
        endpoints::{AttemptOwner, EndpointChanges, EndpointInput, EventDeliveries},
        events::EVENT_TYPES,
    },
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    auth::Auth,
    error::{ApiError, ApiResult, JsonOrEmpty, Problem},
    extract::{Json, Path, Query},
    pagination::{PageParams, page},
    state::AppState,
};

/// POST /v1/webhook-endpoints: where to send events.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookEndpoint {
    #[schema(schema_with = crate::schema::endpoint_url, required = true)]
    pub url: Option<String>,
    #[schema(schema_with = crate::schema::endpoint_description)]
    pub description: Option<String>,
    #[schema(schema_with = crate::schema::endpoint_event_types)]
    pub event_types: Option<Vec<String>>,
    /// `false` creates it paused (default true).
    pub enabled: Option<bool>,
    #[schema(schema_with = crate::schema::signing_secret_or_null)]
    pub secret: Option<SecretString>,
}

/// PATCH /v1/webhook-endpoints/{id}: the fields to change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookEndpoint {
    #[schema(schema_with = crate::schema::endpoint_url_or_null)]
    pub url: Option<String>,
    #[schema(schema_with = crate::schema::endpoint_description)]
    pub description: Option<String>,
    #[schema(schema_with = crate::schema::endpoint_event_types)]
    pub event_types: Option<Vec<String>>,
    /// `false` pauses deliveries to it (events while paused are not sent to it);
    /// `true` resumes them and clears a `disabled_reason`.
    pub enabled: Option<bool>,
}

/// A webhook endpoint (its signing secret is read with GET .../secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointView {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    /// The event types it receives; empty: every type.
    #[schema(value_type = Vec<String>)]
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why Junction disabled it (it answered 410 Gone), until it is enabled again.
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<WebhookEndpoint> for WebhookEndpointView {
    fn from(endpoint: WebhookEndpoint) -> Self {
        Self {
            id: endpoint.id,
            url: endpoint.url,
            description: endpoint.description,
            event_types: endpoint.event_types,
            enabled: endpoint.enabled,
            disabled_reason: endpoint.disabled_reason,
            created_at: endpoint.created_at,
            updated_at: endpoint.updated_at,
        }
    }
}

/// A page of webhook endpoints, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointList {
    pub data: Vec<WebhookEndpointView>,
    pub next_cursor: Option<String>,
}

/// An endpoint's current signing secret (as Svix answers it).
#[derive(Debug, Serialize, ToSchema)]
pub struct SigningSecretView {
    /// `whsec_` and the base64 of the key: the receiver verifies signatures with it.
    pub key: String,
}

/// POST /v1/webhook-endpoints/{id}/rotate-secret (the body may be left out).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// The new secret (unset: Junction makes one).
    #[schema(schema_with = crate::schema::signing_secret_or_null)]
    pub key: Option<SecretString>,
}

/// One attempt at delivering an event to an endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    pub id: Uuid,
    pub event_id: Uuid,
    pub endpoint_id: Uuid,
    pub delivery_id: Uuid,
    /// 1-based, over the delivery's whole life (a replayed dead letter goes on
    /// counting).
    pub attempt: i32,
    /// Where it went.
    pub url: String,
    /// The endpoint's status code; null when no answer came.
    pub status_code: Option<i32>,
    /// From sending the request to the end of the answer read, in milliseconds.
    pub latency_ms: i32,
    /// The first KiB of the answer's body.
    pub response_excerpt: Option<String>,
    pub succeeded: bool,
    /// `webhook_endpoint_rejected`, `webhook_endpoint_unreachable`... when it failed.
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub attempted_at: DateTime<Utc>,
    /// When the next attempt is due, once it is scheduled.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

impl From<OutboundAttempt> for AttemptView {
    fn from(attempt: OutboundAttempt) -> Self {
        Self {
            id: attempt.id,
            event_id: attempt.event_id,
            endpoint_id: attempt.endpoint_id,
            delivery_id: attempt.delivery_id,
            attempt: attempt.attempt,
            url: attempt.url,
            status_code: attempt.status_code,
            latency_ms: attempt.latency_ms,
            response_excerpt: attempt.response_excerpt,
            succeeded: attempt.succeeded,
            error_code: attempt.error_code,
            error_message: attempt.error_message,
            attempted_at: attempt.attempted_at,
            next_attempt_at: attempt.next_attempt_at,
        }
    }
}

/// A page of attempts, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptList {
    pub data: Vec<AttemptView>,
    pub next_cursor: Option<String>,
}

/// Where the delivery of an event to one endpoint stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    /// `pending` (waiting for its first or next attempt), `succeeded`, or `failed`
    /// (dead-lettered: replay it with POST /v1/dead-letters/{id}/replay).
    #[schema(schema_with = crate::schema::delivery_status)]
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub succeeded_at: Option<DateTime<Utc>>,
}

impl From<OutboundDelivery> for DeliveryView {
    fn from(delivery: OutboundDelivery) -> Self {
        Self {
            id: delivery.id,
            endpoint_id: delivery.endpoint_id,
            status: delivery.status.as_str().to_owned(),
            attempts: delivery.attempts,
            next_attempt_at: delivery.next_attempt_at,
            last_status_code: delivery.last_status_code,
            last_error: delivery.last_error,
            succeeded_at: delivery.succeeded_at,
        }
    }
}

/// An event sent to the workspace's endpoints, with each delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    /// Also the `webhook-id` header of its deliveries.
    pub id: Uuid,
    #[serde(rename = "type")]
    #[schema(schema_with = crate::schema::outbound_event_type)]
    pub event_type: String,
    pub integration_id: Option<Uuid>,
    /// The body every delivery sends: `{id, type, timestamp, workspace_id, data}`.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub deliveries: Vec<DeliveryView>,
}

impl From<EventDeliveries> for EventView {
    fn from(found: EventDeliveries) -> Self {
        Self {
            id: found.event.id,
            event_type: found.event.event_type.as_str().to_owned(),
            integration_id: found.event.integration_id,
            payload: found.event.payload,
            created_at: found.event.created_at,
            deliveries: found.deliveries.into_iter().map(Into::into).collect(),
        }
    }
}

/// A page of events, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    pub data: Vec<EventView>,
    pub next_cursor: Option<String>,
}

/// A field of an event type's `data`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventFieldView {
    pub name: String,
    pub description: String,
}

/// An event type and what its `data` holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeView {
    #[schema(schema_with = crate::schema::outbound_event_type)]
    pub name: String,
    pub description: String,
    pub fields: Vec<EventFieldView>,
}

/// Every event type.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeList {
    pub data: Vec<EventTypeView>,
}

/// `?event_type=&integration_id=` of the event list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only events of this type.
    #[param(schema_with = crate::schema::outbound_event_type)]
    pub event_type: Option<String>,
    /// Only events about this integration.
    pub integration_id: Option<Uuid>,
}

/// Creates a webhook endpoint with a new signing secret (or the one given). The
/// secret is not part of the answer: read it with GET .../secret, as with Svix.
#[utoipa::path(
    tag = "outbound",
    request_body = CreateWebhookEndpoint,
    responses(
        (status = 201, body = WebhookEndpointView),
        (status = 422, body = Problem, description = "`validation_failed`: every field at fault — a URL that is not http(s), carries credentials or points at a non-public address, an unknown event type, a malformed secret")
    ),
    security(("api_key" = []))
)]
#[post("/v1/webhook-endpoints")]
pub async fn create(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<CreateWebhookEndpoint>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let endpoint = state
        .app
        .create_webhook_endpoint(
            auth.workspace_id,
            EndpointInput {
                url: body.url,
                description: body.description,
                event_types: body.event_types,
                enabled: body.enabled,
                secret: body.secret,
            },
        )
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/webhook-endpoints/{}", endpoint.id)))
        .json(WebhookEndpointView::from(endpoint)))
}

/// Lists the workspace's webhook endpoints.
#[utoipa::path(
    tag = "outbound",
    params(PageParams),
    responses((status = 200, body = WebhookEndpointList)),
    security(("api_key" = []))
)]
#[get("/v1/webhook-endpoints")]
pub async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    params: Query<PageParams>,
) -> ApiResult<web::Json<WebhookEndpointList>> {
    let listed = state
        .app
        .webhook_endpoints(auth.workspace_id, params.request()?)
        .await?;
    let (data, next_cursor) = page(listed, WebhookEndpointView::from);
    Ok(web::Json(WebhookEndpointList { data, next_cursor }))
}

/// One webhook endpoint.
#[utoipa::path(
    tag = "outbound",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = WebhookEndpointView), (status = 404, body = Problem)),
    security(("api_key" = []))
)]
#[get("/v1/webhook-endpoints/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
) -> ApiResult<web::Json<WebhookEndpointView>> {
    let endpoint = state
        .app
        .webhook_endpoint(auth.workspace_id, path.into_inner())
        .await?;
    Ok(web::Json(endpoint.into()))
}

/// Changes a webhook endpoint.
#[utoipa::path(
    tag = "outbound",
    params(("id" = Uuid, Path)),
    request_body = UpdateWebhookEndpoint,
    responses((status = 200, body = WebhookEndpointView), (status = 404, body = Problem)),
    security(("api_key" = []))
)]
#[patch("/v1/webhook-endpoints/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
    body: Json<UpdateWebhookEndpoint>,
) -> ApiResult<web::Json<WebhookEndpointView>> {
    let body = body.into_inner();
    let endpoint = state
        .app
        .update_webhook_endpoint(
            auth.workspace_id,
            path.into_inner(),
            EndpointChanges {
                url: body.url,
                description: body.description,
                event_types: body.event_types,
                enabled: body.enabled,
            },
        )
        .await?;
    Ok(web::Json(endpoint.into()))
}

/// Deletes a webhook endpoint with its secrets and delivery history; deliveries
/// still waiting for a retry are dropped.
#[utoipa::path(
    tag = "outbound",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)),
    security(("api_key" = []))
)]
#[delete("/v1/webhook-endpoints/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    state
        .app
        .delete_webhook_endpoint(auth.workspace_id, path.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The endpoint's current signing secret. After a rotation this is the new one;
/// the previous one still signs beside it for 24 hours.
#[utoipa::path(
    tag = "outbound",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = SigningSecretView), (status = 404, body = Problem)),
    security(("api_key" = []))
)]
#[get("/v1/webhook-endpoints/{id}/secret")]
pub async fn secret(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let secret = state
        .app
        .webhook_endpoint_secret(auth.workspace_id, path.into_inner())
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(SigningSecretView {
            key: secret.expose_secret().to_owned(),
        }))
}

/// Rotates the signing secret: the new one (made by Junction, or `key`) signs every
/// delivery from now on, and the previous one keeps signing beside it for 24 hours
/// (both signatures in `webhook-signature`), so receivers switch without a failed
/// verification.
#[utoipa::path(
    tag = "outbound",
    params(("id" = Uuid, Path)),
    request_body = RotateSecret,
    responses((status = 204), (status = 404, body = Problem)),
    security(("api_key" = []))
)]
#[post("/v1/webhook-endpoints/{id}/rotate-secret")]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
    JsonOrEmpty(body): JsonOrEmpty<RotateSecret>,
) -> ApiResult<HttpResponse> {
    state
        .app
        .rotate_webhook_endpoint_secret(auth.workspace_id, path.into_inner(), body.key)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Every attempt at delivering events to the endpoint, newest first: status code,
/// latency, the start of the answer, and when the next attempt is due.
#[utoipa::path(
    tag = "outbound",
    params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = AttemptList), (status = 404, body = Problem)),
    security(("api_key" = []))
)]
#[get("/v1/webhook-endpoints/{id}/attempts")]
pub async fn endpoint_attempts(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
    params: Query<PageParams>,
) -> ApiResult<web::Json<AttemptList>> {
    attempts(
        &state,
        &auth,
        AttemptOwner::Endpoint(path.into_inner()),
        params,
    )
    .await
}

/// A page of the attempts of an endpoint or of an event.
async fn attempts(
    state: &AppState,
    auth: &Auth,
    owner: AttemptOwner,
    params: Query<PageParams>,
) -> ApiResult<web::Json<AttemptList>> {
    let listed = state
        .app
        .outbound_attempts(auth.workspace_id, owner, params.request()?)
        .await?;
    let (data, next_cursor) = page(listed, AttemptView::from);
    Ok(web::Json(AttemptList { data, next_cursor }))
}

/// The event types an endpoint can subscribe to, with what each one's `data` holds.
#[utoipa::path(
    tag = "outbound",
    responses((status = 200, body = EventTypeList)),
    security(("api_key" = []))
)]
#[get("/v1/event-types")]
pub async fn event_types(_auth: Auth) -> web::Json<EventTypeList> {
    web::Json(EventTypeList {
        data: EVENT_TYPES
            .iter()
            .map(|info| EventTypeView {
                name: info.event_type.as_str().to_owned(),
                description: info.description.to_owned(),
                fields: info
                    .fields
                    .iter()
                    .map(|(name, description)| EventFieldView {
                        name: (*name).to_owned(),
                        description: (*description).to_owned(),
                    })
                    .collect(),
            })
            .collect(),
    })
}

/// The events sent to the workspace's endpoints, newest first, each with where its
/// deliveries stand. Events no endpoint subscribed to are not kept.
#[utoipa::path(
    tag = "outbound",
    params(EventQuery, PageParams),
    responses(
        (status = 200, body = EventList),
        (status = 404, body = Problem, description = "`integration_not_found`: `integration_id` names no integration of the workspace")
    ),
    security(("api_key" = []))
)]
#[get("/v1/events")]
pub async fn events(
    state: web::Data<AppState>,
    auth: Auth,
    query: Query<EventQuery>,
    params: Query<PageParams>,
) -> ApiResult<web::Json<EventList>> {
    let event_type = query
        .event_type
        .as_deref()
        .map(|name| {
            OutboundEventType::parse(name).ok_or_else(|| {
                ApiError::field("event_type", "must be an event type of GET /v1/event-types")
            })
        })
        .transpose()?;
    let filter = OutboundEventFilter {
        event_type,
        integration_id: query.integration_id,
    };
    let listed = state
        .app
        .outbound_events(auth.workspace_id, &filter, params.request()?)
        .await?;
    let (data, next_cursor) = page(listed, EventView::from);
    Ok(web::Json(EventList { data, next_cursor }))
}

/// One event with its deliveries.
#[utoipa::path(
    tag = "outbound",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = EventView), (status = 404, body = Problem)),
    security(("api_key" = []))
)]
#[get("/v1/events/{id}")]
pub async fn event(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
) -> ApiResult<web::Json<EventView>> {
    let found = state
        .app
        .outbound_event(auth.workspace_id, path.into_inner())
        .await?;
    Ok(web::Json(found.into()))
}

/// Every attempt at delivering the event, to every endpoint, newest first.
#[utoipa::path(
    tag = "outbound",
    params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = AttemptList), (status = 404, body = Problem)),
    security(("api_key" = []))
)]
#[get("/v1/events/{id}/attempts")]
pub async fn event_attempts(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
    params: Query<PageParams>,
) -> ApiResult<web::Json<AttemptList>> {
    attempts(
        &state,
        &auth,
        AttemptOwner::Event(path.into_inner()),
        params,
    )
    .await
}
