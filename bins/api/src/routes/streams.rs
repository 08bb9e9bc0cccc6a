//! Each stream of an integration under control: GET /v1/integrations/{id}/streams,
//! PATCH /v1/integrations/{id}/streams/{stream} (enable, disable, reschedule) and
//! POST /v1/integrations/{id}/streams/{stream}/reset (forget its cursor and read it
//! again whole).

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use junction_app::streams::{StreamChanges, StreamStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    auth::Auth,
    error::{ApiResult, Problem},
    extract::{Json, Path},
    routes::runs::SyncAccepted,
    state::AppState,
};

/// One stream of an integration: its schedule, its cursor and what it holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamView {
    /// The stream's name, as in GET /v1/providers/{id}.
    pub name: String,
    pub description: String,
    /// Read whole on every sync (the stream has no cursor); a record missing from a
    /// whole read is kept, marked deleted.
    pub full_refresh: bool,
    /// Fed by the provider's webhooks only: a sync reads nothing here and marks
    /// nothing deleted (the records come from webhook events).
    pub webhook_only: bool,
    /// A disabled stream is never synced by the schedule (a sync that names it
    /// still reads it).
    pub enabled: bool,
    /// How often the stream syncs, in seconds.
    pub schedule_seconds: i32,
    /// The provider's default for the stream.
    pub default_schedule_seconds: i32,
    /// Where the next sync resumes (null: from the start).
    #[schema(value_type = Option<Object>)]
    pub cursor: Option<serde_json::Value>,
    /// When a sync last read the stream to its end.
    pub last_sync_at: Option<DateTime<Utc>>,
    /// When the schedule syncs it next (null: not on a schedule, as the stream or
    /// the integration's syncs are disabled).
    pub next_sync_at: Option<DateTime<Utc>>,
    /// Records kept: live, and marked deleted.
    pub records: i64,
    pub deleted_records: i64,
    /// Pages committed over the stream's life.
    pub pages_committed: i64,
}

impl From<StreamStatus> for StreamView {
    fn from(stream: StreamStatus) -> Self {
        Self {
            name: stream.name.to_owned(),
            description: stream.description.to_owned(),
            full_refresh: stream.full_refresh,
            webhook_only: stream.webhook_only,
            enabled: stream.enabled,
            schedule_seconds: stream.schedule_seconds,
            default_schedule_seconds: stream.default_schedule_seconds,
            cursor: stream.cursor,
            last_sync_at: stream.last_synced_at,
            next_sync_at: stream.next_sync_at,
            records: stream.records,
            deleted_records: stream.deleted_records,
            pages_committed: stream.pages_committed,
        }
    }
}

/// Every stream of an integration, in the provider's order.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamList {
    pub data: Vec<StreamView>,
}

/// PATCH /v1/integrations/{id}/streams/{stream}.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStream {
    /// Enable or disable the stream's schedule (unset: unchanged).
    pub enabled: Option<bool>,
    #[schema(schema_with = crate::schema::stream_schedule_seconds)]
    pub schedule_seconds: Option<i32>,
}

/// The integration's streams: each one's schedule, cursor, last and next sync, and
/// record counts.
#[utoipa::path(
    tag = "syncs",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = StreamList), (status = 404, body = Problem, description = "`integration_not_found`")),
    security(("api_key" = []))
)]
#[get("/v1/integrations/{id}/streams")]
pub async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
) -> ApiResult<web::Json<StreamList>> {
    let streams = state
        .app
        .streams(auth.workspace_id, path.into_inner())
        .await?;
    Ok(web::Json(StreamList {
        data: streams.into_iter().map(StreamView::from).collect(),
    }))
}

/// Enables, disables or reschedules one stream. A new schedule counts from the
/// stream's last sync, so a stream last synced longer ago than that is due now; the
/// integration's `next_sync_at` follows its streams'.
#[utoipa::path(
    tag = "syncs",
    params(("id" = Uuid, Path), ("stream" = String, Path)),
    request_body = UpdateStream,
    responses(
        (status = 200, body = StreamView),
        (status = 404, body = Problem, description = "`integration_not_found`, or `unknown_stream`"),
        (status = 422, body = Problem, description = "`validation_failed`: `schedule_seconds` out of range")
    ),
    security(("api_key" = []))
)]
#[patch("/v1/integrations/{id}/streams/{stream}")]
pub async fn update(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<(Uuid, String)>,
    body: Json<UpdateStream>,
) -> ApiResult<web::Json<StreamView>> {
    let (integration_id, stream) = path.into_inner();
    let body = body.into_inner();
    let updated = state
        .app
        .update_stream(
            auth.workspace_id,
            integration_id,
            &stream,
            StreamChanges {
                enabled: body.enabled,
                schedule_seconds: body.schedule_seconds,
            },
        )
        .await?;
    Ok(web::Json(updated.into()))
}

/// Forgets the stream's cursor and queues a sync that reads it whole (a disabled
/// stream too). A sync of the integration in progress stops reading the stream at
/// its next page; the reset's run starts when that sync ends.
#[utoipa::path(
    tag = "syncs",
    params(("id" = Uuid, Path), ("stream" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body")),
    responses(
        (status = 202, body = SyncAccepted),
        (status = 404, body = Problem, description = "`integration_not_found`, or `unknown_stream`"),
        (status = 409, body = Problem, description = "`integration_needs_reauth`; `integration_needs_setup` (a setting is still to be chosen), or the integration is not active"),
        (status = 503, body = Problem)
    ),
    security(("api_key" = []))
)]
#[post("/v1/integrations/{id}/streams/{stream}/reset")]
pub async fn reset(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<(Uuid, String)>,
) -> ApiResult<HttpResponse> {
    let (integration_id, stream) = path.into_inner();
    let started = state
        .app
        .reset_stream(auth.workspace_id, integration_id, &stream)
        .await?;
    Ok(HttpResponse::Accepted().json(SyncAccepted::from(started)))
}
