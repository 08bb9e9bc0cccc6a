//! junction-api: the REST API, an adapter over the application layer
//! (junction-app): each handler in [`routes`] (one module per resource) parses the
//! request with the checked extractors of [`extract`], calls one use case and renders
//! its answer; failures are [`error::ApiError`], answered as problem+json. The
//! configuration is loaded once and the [`junction_app::App`] built from it is shared
//! in [`AppState`]. [`spawn`] serves it all (the binary and the tests use the same
//! function); the OpenAPI document comes from the same mounting ([`openapi`]), and
//! tells [`middleware::allowed_methods`] which methods each path takes. The
//! [`dashboard`] serves server-rendered pages under `/dashboard` over the same use
//! cases; [`connect_ui`] serves the Connect page (`/connect`) where the workspaces'
//! end users connect providers through connect sessions.

pub mod auth;
pub mod connect_ui;
pub mod dashboard;
pub mod error;
pub mod extract;
pub mod middleware;
pub mod openapi;
pub mod pagination;
pub mod routes;
pub mod schema;
pub mod state;
pub mod views;

use std::net::TcpListener;

use actix_web::{App, HttpResponse, HttpServer, dev::Server, middleware::from_fn, web};
use junction_core::ErrorCode;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

// `error::JsonOrEmpty` is where routes found it before the extractors had their
// module; it re-exports this one, which keeps `error` and `extract` free of a cycle.
pub use crate::extract::JsonOrEmpty;
pub use crate::state::AppState;
pub use junction_app::Config;

/// Where the OpenAPI document is served (Swagger UI at `/docs/` reads it).
pub const OPENAPI_PATH: &str = "/openapi.json";

/// Where inbound webhooks arrive (`/webhooks/{provider}/{integration_id}`).
pub const WEBHOOK_PATH_PREFIX: &str = "/webhooks/";

/// POSTs whose answer holds a secret shown once (a connect session's token): the
/// `Idempotency-Key` middleware leaves them alone, as replaying the answer means
/// storing it as sent. A retry makes another session; the unused one expires.
pub const NOT_REPLAYED: &[&str] = &["/v1/connect-sessions"];

/// Answers unknown routes with problem+json.
async fn not_found() -> HttpResponse {
    actix_web::ResponseError::error_response(&error::ApiError::new(
        ErrorCode::NotFound,
        "no such route",
    ))
}

/// Serves the API on a bound listener (port 0 in tests) until the server is stopped;
/// SIGINT/SIGTERM stop it gracefully (in-flight requests finish).
pub fn spawn(state: AppState, listener: TcpListener) -> std::io::Result<Server> {
    let server = HttpServer::new(move || {
        let limit = state.app.config.max_body_bytes;
        let (app, document) = App::new()
            .app_data(web::Data::new(state.clone()))
            .app_data(web::PayloadConfig::default().limit(limit))
            .app_data(web::QueryConfig::default().error_handler(error::query_error_handler))
            .app_data(web::PathConfig::default().error_handler(error::path_error_handler))
            .into_utoipa_app()
            .openapi(openapi::base())
            .configure(routes::mount)
            .split_for_parts();
        let document = openapi::complete(document);
        app.app_data(web::Data::new(middleware::KnownPaths::from_document(
            &document,
        )))
        // The first wrapped runs innermost: request ids and metrics see every answer,
        // and a method refused with 405 spends no Idempotency-Key.
        .wrap(from_fn(middleware::idempotency))
        .wrap(from_fn(middleware::allowed_methods))
        .wrap(from_fn(middleware::metrics))
        .wrap(from_fn(middleware::request_id))
        .service(
            web::resource(OPENAPI_PATH)
                .route(web::get().to(move || std::future::ready(web::Json(document.clone())))),
        )
        .service(SwaggerUi::new("/docs/{_:.*}").config(OPENAPI_PATH.into()))
        // The dashboard: plain actix services, so the OpenAPI document (the JSON
        // API's) leaves them out.
        .configure(dashboard::mount)
        // The Connect page for the workspaces' end users (a page, not the JSON API).
        .configure(connect_ui::mount)
        .service(web::redirect("/docs", "/docs/"))
        .default_service(web::to(not_found))
    })
    .listen(listener)?
    .shutdown_timeout(30)
    .run();
    Ok(server)
}
