//! GET /v1/providers: the catalog, from each provider's spec.

use actix_web::{get, web};
use junction_core::ErrorCode;

use crate::{
    auth::Auth,
    error::{ApiError, ApiResult, Problem},
    extract::Path,
    state::AppState,
    views::{ProviderList, ProviderView},
};

/// Lists every provider this installation can connect to.
#[utoipa::path(
    tag = "providers",
    responses((status = 200, body = ProviderList), (status = 401, body = Problem)),
    security(("api_key" = []))
)]
#[get("/v1/providers")]
pub async fn list(state: web::Data<AppState>, _auth: Auth) -> ApiResult<web::Json<ProviderList>> {
    Ok(web::Json(ProviderList {
        data: state
            .app
            .registry()
            .specs()
            .map(ProviderView::from)
            .collect(),
    }))
}

/// One provider.
#[utoipa::path(
    tag = "providers",
    params(("provider" = String, Path, description = "Provider id")),
    responses((status = 200, body = ProviderView), (status = 404, body = Problem)),
    security(("api_key" = []))
)]
#[get("/v1/providers/{provider}")]
pub async fn get(
    state: web::Data<AppState>,
    _auth: Auth,
    path: Path<String>,
) -> ApiResult<web::Json<ProviderView>> {
    let provider = path.into_inner();
    state
        .app
        .registry()
        .get(&provider)
        .map(|adapter| web::Json(ProviderView::from(adapter.spec())))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnknownProvider,
                format!("no provider `{provider}`"),
            )
        })
}
