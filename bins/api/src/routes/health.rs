//! Liveness, readiness and metrics.

use actix_web::{HttpResponse, ResponseError, get, web};
use junction_app::READINESS_TIMEOUT;

use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    error::{ApiError, Problem},
    state::AppState,
};

/// What `/readyz` found, one check per service the process needs: the schema of
/// [`junction_app::Readiness::to_json`], which the worker's probe answers as well.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    pub postgres: DependencyCheck,
    pub redis: DependencyCheck,
}

/// One service's check.
#[derive(Serialize, ToSchema)]
pub struct DependencyCheck {
    /// The service answered within the readiness timeout.
    pub ok: bool,
    /// Why not, without addresses or credentials (absent when `ok`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Liveness: the process answers.
#[utoipa::path(tag = "operations", responses((status = 200, description = "ok")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// Readiness: Postgres and Redis answer. 503 names what is down.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "ready", body = Readiness),
        (status = 503, description = "a service is down: the problem (`database_unavailable` or \
            `queue_unavailable`, with `Retry-After`) carries the `postgres` and `redis` checks \
            of the 200 answer beside its own fields", body = Problem)
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let readiness = state.app.readiness(READINESS_TIMEOUT).await;
    let checks = readiness.to_json();
    let Some(error) = readiness.error() else {
        return HttpResponse::Ok().json(checks);
    };
    // The 503 problem any request answers (code, detail, `Retry-After`), with the
    // checks of the 200 answer added to its body: a probe reads `redis.ok` the same
    // way in both.
    let error = ApiError(error);
    let mut body = serde_json::to_value(error.problem()).unwrap_or_default();
    if let (Some(body), Some(checks)) = (body.as_object_mut(), checks.as_object()) {
        body.extend(checks.clone());
    }
    error
        .error_response()
        .set_body(body.to_string())
        .map_into_boxed_body()
}

/// Prometheus metrics.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Prometheus text format")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    match &state.metrics {
        Some(handle) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4")
            .body(handle.render()),
        None => HttpResponse::NotFound().finish(),
    }
}
