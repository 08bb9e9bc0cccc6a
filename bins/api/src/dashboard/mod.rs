//! The dashboard: server-rendered pages under `/dashboard` over the same use cases
//! as the REST API (junction-app), for people rather than programs.
//!
//! - [`assets`]: the embedded stylesheet, script and vendored htmx, with cache
//!   headers; [`session`]: the session cookie, the signed-in extractor and the CSRF
//!   check; [`forms`]: submitted forms; [`sign_in`]: signing in (API key or one-time
//!   link) and out; [`integrations`]: the integrations, the provider catalog and
//!   connecting; [`integration`]: one integration's pages and forms; [`operations`]:
//!   queue figures, dead letters, webhook events, alerts; [`chart`]: KPI charts as
//!   inline SVG; [`fields`]: form fields generated from specs and JSON Schemas;
//!   [`ui`]: what every page shares (the frame, rendering, errors).
//! - Pages work with JavaScript off; htmx (polling, live search) only enhances.
//! - Every form carries the session's CSRF token; a page without a live session
//!   redirects to sign-in. The routes are plain actix services, kept out of the
//!   OpenAPI document (the document describes the JSON API only).

pub mod assets;
pub mod chart;
pub mod fields;
pub mod forms;
pub mod integration;
pub mod integrations;
pub mod operations;
pub mod session;
pub mod sign_in;
pub mod ui;

use actix_web::{HttpRequest, HttpResponse, http::header, middleware::DefaultHeaders, web};

use ui::{DashError, HOME, see_other};

/// The page headers every dashboard answer carries: a strict content security
/// policy (no inline script or style, nothing from another host), no framing, no
/// referrer leaving the site, and no caching of pages that hold a CSRF token.
fn headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        ))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "same-origin"))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
}

/// Mounts the dashboard under `/dashboard`.
pub fn mount(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/dashboard")
            .wrap(headers())
            .route("", web::get().to(home))
            .route("/", web::get().to(home))
            .route("/assets/{name}", web::get().to(assets::serve))
            .route("/sign-in", web::get().to(sign_in::form))
            .route("/sign-in", web::post().to(sign_in::submit))
            .route("/sign-in/link", web::get().to(sign_in::link_form))
            .route("/sign-in/link", web::post().to(sign_in::link_submit))
            .route("/sign-out", web::post().to(sign_in::sign_out))
            .route("/integrations", web::get().to(integrations::list))
            .route(
                "/connect/{provider}",
                web::get().to(integrations::connect_form),
            )
            .route("/connect/{provider}", web::post().to(integrations::connect))
            .route("/oauth/return", web::get().to(integrations::oauth_return))
            .route("/integrations/{id}", web::get().to(integration::overview))
            .route(
                "/integrations/{id}/settings",
                web::post().to(integration::save_settings),
            )
            .route(
                "/integrations/{id}/setup",
                web::post().to(integration::save_setup),
            )
            .route(
                "/integrations/{id}/streams",
                web::post().to(integration::save_streams),
            )
            .route(
                "/integrations/{id}/webhook",
                web::post().to(integration::save_webhook),
            )
            .route("/integrations/{id}/test", web::post().to(integration::test))
            .route("/integrations/{id}/sync", web::post().to(integration::sync))
            .route(
                "/integrations/{id}/reconnect",
                web::get().to(integration::reconnect_form),
            )
            .route(
                "/integrations/{id}/reconnect",
                web::post().to(integration::reconnect),
            )
            .route(
                "/integrations/{id}/disconnect",
                web::get().to(integration::disconnect_form),
            )
            .route(
                "/integrations/{id}/disconnect",
                web::post().to(integration::disconnect),
            )
            .route("/integrations/{id}/runs", web::get().to(integration::runs))
            .route("/integrations/{id}/log", web::get().to(integration::log))
            .route(
                "/integrations/{id}/records",
                web::get().to(integration::records),
            )
            .route("/integrations/{id}/kpis", web::get().to(integration::kpis))
            .route(
                "/integrations/{id}/actions",
                web::get().to(integration::actions),
            )
            .route(
                "/integrations/{id}/actions/{action}",
                web::post().to(integration::perform_action),
            )
            .route("/operations", web::get().to(operations::show))
            .route("/operations/queues", web::get().to(operations::queues))
            .route(
                "/dead-letters/replay",
                web::post().to(operations::replay_all),
            )
            .route(
                "/dead-letters/{id}/replay",
                web::post().to(operations::replay),
            )
            .route(
                "/webhook-events/{id}/replay",
                web::post().to(operations::replay_event),
            )
            .default_service(web::to(not_found)),
    );
}

async fn home() -> HttpResponse {
    see_other(HOME)
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, DashError> {
    // Signed out, even an unknown page sends to sign-in: nothing tells what exists.
    <session::Signed as actix_web::FromRequest>::extract(&req).await?;
    Err(DashError::NotFound("there is no such page".into()))
}
