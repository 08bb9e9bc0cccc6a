//! junction-api: the REST API, an adapter over the application layer
//! (junction-app): each handler in [`routes`] (one module per resource) parses the
//! request, calls one use case and renders its answer; failures are
//! [`error::ApiError`], answered as problem+json. The configuration is loaded once
//! and the [`junction_app::App`] built from it is shared in [`AppState`].
//! [`configure`] mounts everything and [`spawn`] serves it (the binary and the
//! tests use the same function).

pub mod auth;
pub mod error;
pub mod middleware;
pub mod openapi;
pub mod pagination;
pub mod routes;
pub mod state;
pub mod views;

use std::net::TcpListener;

use actix_web::{App, HttpResponse, HttpServer, dev::Server, middleware::from_fn, web};
use junction_core::ErrorCode;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

pub use crate::state::AppState;
pub use junction_app::Config;

/// Where inbound webhooks arrive (`/webhooks/{provider}/{integration_id}`).
pub const WEBHOOK_PATH_PREFIX: &str = "/webhooks/";

/// Mounts every route, the extractors' problem+json error handlers and body limits.
pub fn configure(state: AppState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        let limit = state.app.config.max_body_bytes;
        cfg.app_data(web::Data::new(state))
            .app_data(
                web::JsonConfig::default()
                    .limit(limit)
                    .error_handler(error::json_error_handler),
            )
            .app_data(web::PayloadConfig::default().limit(limit))
            .app_data(web::QueryConfig::default().error_handler(error::query_error_handler))
            .app_data(web::PathConfig::default().error_handler(error::path_error_handler))
            .service(routes::health::healthz)
            .service(routes::health::readyz)
            .service(routes::health::metrics)
            .service(routes::providers::list)
            .service(routes::providers::get)
            .service(routes::integrations::list)
            .service(routes::integrations::create)
            .service(routes::integrations::get)
            .service(routes::integrations::update)
            .service(routes::integrations::remove)
            .service(routes::integrations::test)
            .service(routes::integrations::reconnect)
            .service(routes::integrations::logs)
            .service(routes::proxy::forward)
            .service(routes::connect::connect)
            .service(routes::connect::callback)
            .service(routes::connect::callback_for_provider)
            .service(routes::runs::trigger)
            .service(routes::runs::list)
            .service(routes::runs::get)
            .service(routes::data::records)
            .service(routes::data::kpis)
            .service(routes::dead_letters::replay_bulk)
            .service(routes::dead_letters::list)
            .service(routes::dead_letters::get)
            .service(routes::dead_letters::replay)
            .service(routes::dead_letters::stats)
            .service(routes::actions::perform)
            .service(routes::actions::list)
            .service(routes::actions::get)
            .service(routes::webhooks::receive)
            .service(routes::webhooks::handshake)
            .service(routes::webhooks::list)
            .service(routes::webhooks::get)
            .service(routes::webhooks::replay)
            .service(routes::webhooks::setup)
            .service(routes::webhooks::configure)
            .service(routes::alerts::create)
            .service(routes::alerts::list)
            .service(routes::alerts::get)
            .service(routes::alerts::update)
            .service(routes::alerts::remove)
            .service(routes::alerts::notifications)
            .service(
                SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", openapi::ApiDoc::openapi()),
            )
            .service(web::redirect("/docs", "/docs/"));
    }
}

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
        App::new()
            .wrap(from_fn(middleware::idempotency))
            .wrap(from_fn(middleware::metrics))
            .wrap(from_fn(middleware::request_id))
            .configure(configure(state.clone()))
            .default_service(web::to(not_found))
    })
    .listen(listener)?
    .shutdown_timeout(30)
    .run();
    Ok(server)
}
