//! The API's routes, one module per resource. Each handler parses the request,
//! calls one use case of junction-app and renders its answer.
//!
//! [`mount`] is the one list of them: mounting a handler also adds its annotated
//! operation to the OpenAPI document (utoipa-actix-web collects them), so the
//! document, the 405 answers built from it and the tests that walk it cannot miss a
//! route.

pub mod actions;
pub mod alerts;
pub mod connect;
pub mod connect_sessions;
pub mod cross_posts;
pub mod data;
pub mod dead_letters;
pub mod email_suppressions;
pub mod health;
pub mod integrations;
pub mod kpis;
pub mod notification_settings;
pub mod options;
pub mod outbound;
pub mod providers;
pub mod proxy;
pub mod reports;
pub mod runs;
pub mod streams;
pub mod webhooks;

use utoipa_actix_web::service_config::ServiceConfig;

/// Mounts every route of the API.
pub fn mount(cfg: &mut ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(health::metrics)
        .service(providers::list)
        .service(providers::get)
        .service(integrations::list)
        .service(integrations::create)
        .service(integrations::get)
        .service(integrations::update)
        .service(integrations::remove)
        .service(integrations::test)
        .service(integrations::reconnect)
        .service(integrations::logs)
        .service(options::list)
        .service(proxy::forward)
        .service(connect::connect)
        .service(connect::callback)
        .service(connect::callback_for_provider)
        .service(connect_sessions::create)
        .service(connect_sessions::get)
        .service(connect_sessions::revoke)
        .service(runs::trigger)
        .service(runs::list)
        .service(runs::get)
        .service(streams::list)
        .service(streams::update)
        .service(streams::reset)
        .service(data::records)
        .service(kpis::kpis)
        .service(kpis::metrics)
        .service(kpis::workspace)
        .service(kpis::update_workspace)
        .service(dead_letters::replay_bulk)
        .service(dead_letters::list)
        .service(dead_letters::get)
        .service(dead_letters::replay)
        .service(dead_letters::stats)
        .service(actions::perform)
        .service(actions::list)
        .service(actions::get)
        .service(cross_posts::create)
        .service(cross_posts::list)
        .service(cross_posts::get)
        .service(cross_posts::edit)
        .service(webhooks::receive)
        .service(webhooks::handshake)
        .service(webhooks::list)
        .service(webhooks::get)
        .service(webhooks::replay)
        .service(webhooks::setup)
        .service(webhooks::configure)
        .service(alerts::create)
        .service(alerts::list)
        .service(alerts::get)
        .service(alerts::update)
        .service(alerts::remove)
        .service(alerts::notifications)
        .service(outbound::create)
        .service(outbound::list)
        .service(outbound::get)
        .service(outbound::update)
        .service(outbound::remove)
        .service(outbound::secret)
        .service(outbound::rotate_secret)
        .service(outbound::endpoint_attempts)
        .service(outbound::event_types)
        .service(outbound::events)
        .service(outbound::event)
        .service(outbound::event_attempts)
        .service(notification_settings::get)
        .service(notification_settings::update)
        .service(reports::get)
        .service(reports::update)
        .service(reports::preview)
        .service(email_suppressions::list)
        .service(email_suppressions::add)
        .service(email_suppressions::remove);
}
