//! Control endpoints for tests and demos (`/_sandbox/...`, the catalog among them),
//! `/healthz` and the HTML index at `/`. They are thin: each parses its JSON body and
//! calls the matching [`Sandbox`] method.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use junction_core::fake::Fault;
use serde::Deserialize;
use serde_json::json;

use crate::{GrantType, Sandbox, TokenFailure, html, reply};

/// Mounts `/`, `/healthz` and `/_sandbox/...`.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").route(web::get().to(index)))
        .service(web::resource("/healthz").route(web::get().to(healthz)))
        .service(web::resource("/_sandbox/faults").route(web::post().to(arm_faults)))
        .service(web::resource("/_sandbox/oauth/failures").route(web::post().to(script_failures)))
        .service(web::resource("/_sandbox/tokens/expire").route(web::post().to(expire_tokens)))
        .service(web::resource("/_sandbox/latency").route(web::post().to(set_latency)))
        .service(web::resource("/_sandbox/reset").route(web::post().to(reset)))
        .service(web::resource("/_sandbox/state").route(web::get().to(state)))
        .service(web::resource("/_sandbox/catalog").route(web::get().to(catalog)))
        // Anything else under /_sandbox is a typo, not a provider mount.
        .service(web::resource("/_sandbox/{rest:.*}").to(unknown_control));
}

fn default_count() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ArmFaults {
    provider: String,
    fault: Fault,
    #[serde(default = "default_count")]
    count: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptFailures {
    provider: String,
    grant_type: GrantType,
    error: TokenFailure,
    #[serde(default = "default_count")]
    count: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpireTokens {
    provider: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetLatency {
    provider: String,
    millis: u64,
}

/// The JSON body, or the 400 saying what is wrong with it.
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Box<HttpResponse>> {
    serde_json::from_slice(body).map_err(|err| {
        Box::new(reply::json_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("the JSON body is not valid: {err}"),
        ))
    })
}

/// `POST /_sandbox/faults`.
async fn arm_faults(sandbox: web::Data<Sandbox>, body: web::Bytes) -> HttpResponse {
    let request: ArmFaults = match parse_body(&body) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    match sandbox.arm_fault(&request.provider, request.fault, request.count) {
        Ok(()) => HttpResponse::Ok().json(json!({
            "provider": request.provider,
            "fault": request.fault,
            "armed": request.count,
        })),
        Err(err) => reply::sandbox_error(&err),
    }
}

/// `POST /_sandbox/oauth/failures`.
async fn script_failures(sandbox: web::Data<Sandbox>, body: web::Bytes) -> HttpResponse {
    let request: ScriptFailures = match parse_body(&body) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    match sandbox.script_token_failure(
        &request.provider,
        request.grant_type,
        request.error,
        request.count,
    ) {
        Ok(()) => HttpResponse::Ok().json(json!({
            "provider": request.provider,
            "grant_type": request.grant_type,
            "error": request.error,
            "scripted": request.count,
        })),
        Err(err) => reply::sandbox_error(&err),
    }
}

/// `POST /_sandbox/tokens/expire`.
async fn expire_tokens(sandbox: web::Data<Sandbox>, body: web::Bytes) -> HttpResponse {
    let request: ExpireTokens = match parse_body(&body) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    match sandbox.expire_tokens(&request.provider) {
        Ok(expired) => HttpResponse::Ok().json(json!({
            "provider": request.provider,
            "expired": expired,
        })),
        Err(err) => reply::sandbox_error(&err),
    }
}

/// `POST /_sandbox/latency`.
async fn set_latency(sandbox: web::Data<Sandbox>, body: web::Bytes) -> HttpResponse {
    let request: SetLatency = match parse_body(&body) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    match sandbox.set_latency(
        &request.provider,
        std::time::Duration::from_millis(request.millis),
    ) {
        Ok(()) => HttpResponse::Ok().json(json!({
            "provider": request.provider,
            "millis": request.millis,
        })),
        Err(err) => reply::sandbox_error(&err),
    }
}

/// `POST /_sandbox/reset`.
async fn reset(sandbox: web::Data<Sandbox>) -> HttpResponse {
    sandbox.reset();
    HttpResponse::Ok().json(json!({ "reset": true }))
}

/// `GET /_sandbox/state`.
async fn state(sandbox: web::Data<Sandbox>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(sandbox.snapshot())
}

/// `GET /_sandbox/catalog`: its URLs are on the host the client used, as the index's.
async fn catalog(sandbox: web::Data<Sandbox>, req: HttpRequest) -> HttpResponse {
    let info = req.connection_info();
    let base = format!("{}://{}/", info.scheme(), info.host());
    match url::Url::parse(&base) {
        Ok(base) => HttpResponse::Ok().json(sandbox.catalog(&base)),
        Err(err) => reply::json_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("the Host header does not make a URL: {err}"),
        ),
    }
}

async fn unknown_control(req: HttpRequest) -> HttpResponse {
    reply::json_error(
        StatusCode::NOT_FOUND,
        "not_found",
        &format!("no control endpoint {} {}", req.method(), req.path()),
    )
}

/// `GET /healthz`.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok")
}

/// `GET /`: what is served here, with absolute URLs for the host the browser used.
async fn index(sandbox: web::Data<Sandbox>, req: HttpRequest) -> HttpResponse {
    let info = req.connection_info();
    let base = format!("{}://{}", info.scheme(), info.host());
    let specs: Vec<_> = sandbox.inner.specs.values().collect();
    let fake_ids: Vec<&str> = sandbox.inner.fakes.keys().copied().collect();
    html::index_page(&base, &specs, &fake_ids)
}
