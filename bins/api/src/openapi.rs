//! The OpenAPI 3.1 document, generated from the handlers' annotations. The committed
//! copy (docs/openapi.json) is checked against it by `cargo xtask openapi --check`
//! and by a test.

use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use crate::{error, routes, views};

/// The API's document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Junction API",
        description = "Connect workspaces to outside providers, keep the connections alive, read their data. \
                       Authenticate with a workspace API key: `Authorization: Bearer jct_...`. Errors are \
                       `application/problem+json` with a stable `code` (see docs/errors.md).",
    ),
    paths(
        routes::providers::list,
        routes::providers::get,
        routes::integrations::list,
        routes::integrations::create,
        routes::integrations::get,
        routes::integrations::update,
        routes::integrations::remove,
        routes::integrations::test,
        routes::integrations::reconnect,
        routes::integrations::logs,
        routes::proxy::forward,
        routes::connect::connect,
        routes::connect::callback,
        routes::connect::callback_for_provider,
        routes::runs::trigger,
        routes::runs::list,
        routes::runs::get,
        routes::data::records,
        routes::data::kpis,
        routes::dead_letters::list,
        routes::dead_letters::get,
        routes::dead_letters::replay,
        routes::dead_letters::replay_bulk,
        routes::dead_letters::stats,
        routes::actions::perform,
        routes::actions::list,
        routes::actions::get,
        routes::webhooks::receive,
        routes::webhooks::handshake,
        routes::webhooks::list,
        routes::webhooks::get,
        routes::webhooks::replay,
        routes::webhooks::setup,
        routes::webhooks::configure,
        routes::alerts::create,
        routes::alerts::list,
        routes::alerts::get,
        routes::alerts::update,
        routes::alerts::remove,
        routes::alerts::notifications,
        routes::health::healthz,
        routes::health::readyz,
        routes::health::metrics,
    ),
    components(schemas(
        error::Problem,
        error::ProblemField,
        views::ProviderView,
        views::ProviderList,
        views::IntegrationView,
        views::IntegrationList,
        views::HealthView,
        views::LastErrorView,
        views::CreateIntegration,
        views::UpdateIntegration,
        views::ReconnectIntegration,
        views::TestResult,
        views::LogView,
        views::LogList,
        views::ConnectRequest,
        views::ConnectResponse,
        views::CallbackOutcome,
        routes::runs::RunView,
        routes::actions::ActionRunView,
        routes::actions::ActionRunList,
        routes::webhooks::WebhookReceipt,
        routes::webhooks::WebhookEventView,
        routes::webhooks::WebhookEventList,
        routes::webhooks::WebhookReplayAccepted,
        routes::webhooks::WebhookSetupView,
        routes::webhooks::WebhookSetupRequest,
        routes::runs::RunList,
        routes::runs::SyncRequest,
        routes::runs::SyncAccepted,
        routes::data::RecordView,
        routes::data::RecordList,
        routes::data::Granularity,
        routes::data::KpiValue,
        routes::data::KpiSeries,
        routes::data::KpiResponse,
        routes::dead_letters::DeadLetterView,
        routes::dead_letters::DeadLetterList,
        routes::dead_letters::ReplayView,
        routes::dead_letters::ReplayList,
        routes::dead_letters::BulkReplay,
        routes::dead_letters::QueueStatsView,
        routes::dead_letters::JobStats,
        routes::alerts::CreateAlertRule,
        routes::alerts::UpdateAlertRule,
        routes::alerts::AlertRuleView,
        routes::alerts::AlertRuleList,
        routes::alerts::NotificationView,
        routes::alerts::NotificationList,
    )),
    modifiers(&ApiKeyAuth),
    tags(
        (name = "providers", description = "The catalog of providers"),
        (name = "integrations", description = "Connections of the workspace to providers"),
        (name = "connect", description = "OAuth 2.0 connection flows"),
        (name = "syncs", description = "Sync runs"),
        (name = "data", description = "Records and KPI series produced by syncs"),
        (name = "jobs", description = "Dead letters and queue statistics"),
        (name = "webhooks", description = "Inbound provider webhooks and the stored events"),
        (name = "actions", description = "Provider actions (send an email, refund a charge) and their runs"),
        (name = "alerts", description = "KPI alert rules and the notifications sent"),
        (name = "proxy", description = "Calls to the provider's own API with an integration's credentials"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
pub struct ApiDoc;

struct ApiKeyAuth;

impl Modify for ApiKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("jct_...")
                    .description(Some("A workspace API key from `junction workspace create` or `junction api-key create`"))
                    .build(),
            ),
        );
    }
}

/// The document as pretty JSON (what docs/openapi.json holds).
pub fn document() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
        + "\n"
}
