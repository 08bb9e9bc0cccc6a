//! The authenticated proxy: `GET|POST|PUT|PATCH|DELETE
//! /v1/integrations/{id}/proxy/{path}` passes the request on to the integration's
//! provider API with its credentials and hands the provider's answer back (see
//! junction-app's `proxy` for what it refuses and strips).

use actix_web::{HttpRequest, HttpResponse, route, web};
use junction_app::proxy::ProxyRequest;
use uuid::Uuid;

use crate::{
    auth::Auth,
    error::{ApiResult, Problem},
    state::AppState,
};

/// Calls the provider's own API with the integration's credentials.
#[utoipa::path(
    tag = "proxy",
    method(get, post, put, patch, delete),
    path = "/v1/integrations/{id}/proxy/{path}",
    params(
        ("id" = Uuid, Path),
        ("path" = String, Path, description = "The path below the provider's API root, e.g. `v1/charges` for Stripe")
    ),
    request_body(content = String, description = "Passed on as sent, whatever it holds (none at all is fine)", content_type = "*/*"),
    // Every status may be the provider's own answer, in the provider's content type:
    // the document's completion adds `*/*` to each (see openapi.rs).
    responses(
        (status = 200, description = "The provider's answer, passed through: its status, body and safe headers"),
        (status = 400, body = Problem, description = "`proxy_path_refused`: the path would leave the provider's API; or the provider's own 400"),
        (status = 404, body = Problem, description = "`integration_not_found`; or the provider's own 404"),
        (status = 409, body = Problem, description = "`integration_needs_reauth`; `integration_needs_setup` (a setting is still to be chosen); or the provider's own 409"),
        (status = 502, body = Problem, description = "`provider_*`: the provider could not be reached, or answered with a redirect; or the provider's own 502"),
        (status = "default", description = "Any other status: the provider's answer, passed through")
    ),
    security(("api_key" = []))
)]
#[route(
    "/v1/integrations/{id}/proxy/{path:.*}",
    method = "GET",
    method = "POST",
    method = "PUT",
    method = "PATCH",
    method = "DELETE"
)]
pub async fn forward(
    state: web::Data<AppState>,
    auth: Auth,
    req: HttpRequest,
    id: web::Path<(Uuid, String)>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let (integration_id, _) = id.into_inner();
    // The path as sent, still percent-encoded: the use case checks it before
    // anything decodes it.
    let raw = req.uri().path();
    let path = raw
        .split_once("/proxy/")
        .map_or("", |(_, path)| path)
        .to_owned();
    let mut headers = http::HeaderMap::new();
    for (name, value) in req.headers() {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    let method =
        http::Method::from_bytes(req.method().as_str().as_bytes()).unwrap_or(http::Method::GET);
    let answer = state
        .app
        .proxy(
            auth.workspace_id,
            integration_id,
            ProxyRequest {
                method,
                path,
                query: req.uri().query().map(str::to_owned),
                headers,
                body: body.to_vec(),
            },
        )
        .await?;
    let status = actix_web::http::StatusCode::from_u16(answer.status.as_u16())
        .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY);
    let mut response = HttpResponse::build(status);
    for (name, value) in &answer.headers {
        response.append_header((name.as_str(), value.as_bytes()));
    }
    Ok(response.body(answer.body))
}
