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
        routes::connect::connect,
        routes::connect::callback,
        routes::connect::callback_for_provider,
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
    )),
    modifiers(&ApiKeyAuth),
    tags(
        (name = "providers", description = "The catalog of providers"),
        (name = "integrations", description = "Connections of the workspace to providers"),
        (name = "connect", description = "OAuth 2.0 connection flows"),
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
