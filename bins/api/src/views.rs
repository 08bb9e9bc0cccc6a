//! Response and request bodies of the API (their OpenAPI schemas come from here).

use chrono::{DateTime, Utc};
use junction_app::{
    connect::StartedFlow,
    integrations::IntegrationDetails,
    models::{Integration, IntegrationLog},
};
use junction_core::spec::ProviderSpec;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A provider of the catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderView {
    /// Stable id, e.g. `google-analytics`.
    pub id: String,
    pub name: String,
    pub category: String,
    /// `oauth2`, `api_key`, `basic` or `client_credentials`.
    #[schema(schema_with = crate::schema::auth_kind)]
    pub auth_kind: String,
    /// Auth details: OAuth scopes and PKCE, or the credential fields to send.
    #[schema(value_type = Object)]
    pub auth: serde_json::Value,
    /// Settings a connection takes (`config` of POST /v1/integrations).
    #[schema(value_type = Vec<Object>)]
    pub config_fields: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    pub streams: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    pub actions: serde_json::Value,
    #[schema(value_type = Option<Object>)]
    pub webhook: serde_json::Value,
    #[schema(value_type = Object)]
    pub rate_limit: serde_json::Value,
    pub docs_url: String,
}

impl From<&ProviderSpec> for ProviderView {
    fn from(spec: &ProviderSpec) -> Self {
        let value = |v: serde_json::Result<serde_json::Value>| v.unwrap_or(serde_json::Value::Null);
        Self {
            id: spec.id.to_owned(),
            name: spec.name.to_owned(),
            category: value(serde_json::to_value(spec.category))
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            auth_kind: spec.auth.kind_name().to_owned(),
            auth: value(serde_json::to_value(&spec.auth)),
            config_fields: value(serde_json::to_value(&spec.config)),
            streams: value(serde_json::to_value(&spec.streams)),
            actions: value(serde_json::to_value(&spec.actions)),
            webhook: value(serde_json::to_value(&spec.webhook)),
            rate_limit: value(serde_json::to_value(spec.rate_limit)),
            docs_url: spec.docs_url.to_owned(),
        }
    }
}

/// A list of providers.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderList {
    pub data: Vec<ProviderView>,
}

/// The last health check.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    /// `unknown`, `healthy`, `unhealthy` or `needs_reauth` (the provider refused the
    /// integration's grant: reconnect it; `message` says why, `checked_at` since when).
    #[schema(schema_with = crate::schema::health)]
    pub status: String,
    pub checked_at: Option<DateTime<Utc>>,
    pub message: Option<String>,
}

/// The last error that changed the integration's status.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastErrorView {
    pub code: String,
    pub message: Option<String>,
}

/// A connection of the workspace to a provider. Secrets are never returned; only the
/// names of the stored credential fields are.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationView {
    pub id: Uuid,
    pub provider: String,
    pub display_name: String,
    /// `pending`, `active`, `needs_reauth`, `error`, `disabled` or `needs_setup`
    /// (connected, but a required setting is still to be chosen from the
    /// provider's list: `setup` names it; never synced until a PATCH of `config`
    /// sets it).
    #[schema(schema_with = crate::schema::integration_status)]
    pub status: String,
    /// Present while the integration is `needs_setup`: what its setup step waits for.
    pub setup: Option<SetupView>,
    #[schema(schema_with = crate::schema::auth_kind)]
    pub auth_kind: String,
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    pub scopes: Vec<String>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub schedule_seconds: i32,
    pub sync_enabled: bool,
    pub next_sync_at: Option<DateTime<Utc>>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub health: HealthView,
    pub last_error: Option<LastErrorView>,
    pub credential_fields: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The end user a connect session connected it for (your own id of them).
    pub end_user_id: Option<String>,
    /// That end user as the session described them (`id`, `email`, `display_name`).
    #[schema(value_type = Option<Object>)]
    pub end_user: Option<serde_json::Value>,
    /// The connect session's tags.
    #[schema(value_type = Option<std::collections::BTreeMap<String, String>>)]
    pub tags: Option<serde_json::Value>,
    /// The connect session that connected it.
    pub connect_session_id: Option<Uuid>,
}

/// The setup step an integration waits for.
#[derive(Debug, Serialize, ToSchema)]
pub struct SetupView {
    /// The config fields still to be chosen, each with its choices at
    /// `GET /v1/integrations/{id}/options/{field}`; `PATCH /v1/integrations/{id}`
    /// with a `config` naming them (and keeping the other settings) completes the
    /// integration.
    pub missing: Vec<String>,
}

impl IntegrationView {
    pub fn new(
        integration: Integration,
        credential_fields: Vec<String>,
        setup_missing: Vec<&'static str>,
    ) -> Self {
        Self {
            id: integration.id,
            provider: integration.provider,
            display_name: integration.display_name,
            status: integration.status.as_str().to_owned(),
            setup: (!setup_missing.is_empty()).then(|| SetupView {
                missing: setup_missing.into_iter().map(str::to_owned).collect(),
            }),
            auth_kind: integration.auth_kind.as_str().to_owned(),
            config: integration.config,
            scopes: integration.scopes,
            token_expires_at: integration.token_expires_at,
            schedule_seconds: integration.schedule_seconds,
            sync_enabled: integration.sync_enabled,
            next_sync_at: integration.next_sync_at,
            last_sync_at: integration.last_sync_at,
            health: HealthView {
                status: integration.health.as_str().to_owned(),
                checked_at: integration.health_checked_at,
                message: integration.health_message,
            },
            last_error: integration.last_error_code.map(|code| LastErrorView {
                code,
                message: integration.last_error_message,
            }),
            credential_fields,
            created_at: integration.created_at,
            updated_at: integration.updated_at,
            end_user_id: integration.end_user_id,
            end_user: integration.end_user,
            tags: integration.tags,
            connect_session_id: integration.connect_session_id,
        }
    }
}

impl From<IntegrationDetails> for IntegrationView {
    fn from(details: IntegrationDetails) -> Self {
        Self::new(
            details.integration,
            details.secret_fields,
            details.setup_missing,
        )
    }
}

/// A page of integrations.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationList {
    pub data: Vec<IntegrationView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// POST /v1/integrations: connect a provider with API-key (or basic) credentials.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIntegration {
    /// Provider id from GET /v1/providers.
    pub provider: String,
    #[schema(schema_with = crate::schema::new_display_name)]
    pub display_name: Option<String>,
    /// Non-secret settings (the provider's config fields).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub config: serde_json::Map<String, serde_json::Value>,
    /// Secret fields (API keys, passwords). Sealed at rest; never returned.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub credentials: serde_json::Map<String, serde_json::Value>,
    #[schema(schema_with = crate::schema::schedule_seconds)]
    pub schedule_seconds: Option<i32>,
}

/// PATCH /v1/integrations/{id}.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateIntegration {
    #[schema(schema_with = crate::schema::display_name)]
    pub display_name: Option<String>,
    /// Replaces the non-secret settings (validated against the provider's fields).
    #[schema(value_type = Option<Object>)]
    pub config: Option<serde_json::Map<String, serde_json::Value>>,
    #[schema(schema_with = crate::schema::schedule_seconds)]
    pub schedule_seconds: Option<i32>,
    pub sync_enabled: Option<bool>,
}

/// POST /v1/integrations/{id}/reconnect for API-key integrations (OAuth integrations
/// send an empty body or a `return_to`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReconnectIntegration {
    #[serde(default)]
    #[schema(value_type = Object)]
    pub credentials: serde_json::Map<String, serde_json::Value>,
    /// OAuth: where to send the user when the flow ends.
    pub return_to: Option<String>,
}

/// The result of POST /v1/integrations/{id}/test.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    pub healthy: bool,
    /// The error code when unhealthy.
    pub code: Option<String>,
    pub message: Option<String>,
    /// The connected account, as the provider names it.
    pub account: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub checked_at: DateTime<Utc>,
}

/// One entry of an integration's operation log.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogView {
    pub id: i64,
    pub at: DateTime<Utc>,
    #[schema(schema_with = crate::schema::log_level)]
    pub level: String,
    #[schema(schema_with = crate::schema::operation)]
    pub operation: String,
    pub message: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub run_id: Option<Uuid>,
}

impl From<IntegrationLog> for LogView {
    fn from(log: IntegrationLog) -> Self {
        Self {
            id: log.id,
            at: log.at,
            level: log.level.as_str().to_owned(),
            operation: log.operation.as_str().to_owned(),
            message: log.message,
            details: log.details,
            run_id: log.run_id,
        }
    }
}

/// A page of log entries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogList {
    pub data: Vec<LogView>,
    pub next_cursor: Option<String>,
}

/// POST /v1/connect/{provider}: start an OAuth connection.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectRequest {
    #[schema(schema_with = crate::schema::new_display_name)]
    pub display_name: Option<String>,
    /// The provider's config fields (e.g. GA4's `property_id`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub config: serde_json::Map<String, serde_json::Value>,
    /// Where to redirect the user's browser when the flow ends; its origin must be
    /// allow-listed (JUNCTION_RETURN_TO_ORIGINS). The outcome is added as query
    /// parameters: `status` (`connected`, `denied` or `error`), `integration_id`,
    /// `error` (a stable code) and `error_description`.
    pub return_to: Option<String>,
    #[schema(schema_with = crate::schema::schedule_seconds)]
    pub schedule_seconds: Option<i32>,
}

/// The URL to send the user to.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectResponse {
    pub authorize_url: String,
    /// The flow must finish before this moment (10 minutes).
    pub expires_at: DateTime<Utc>,
}

impl From<StartedFlow> for ConnectResponse {
    fn from(flow: StartedFlow) -> Self {
        Self {
            authorize_url: flow.authorize_url,
            expires_at: flow.expires_at,
        }
    }
}

/// The callback's JSON outcome when the flow had no `return_to`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallbackOutcome {
    /// `connected`.
    #[schema(schema_with = connected)]
    pub status: String,
    pub integration_id: Uuid,
}

/// The one status of a callback's JSON outcome (failures are problems).
fn connected() -> utoipa::openapi::schema::Object {
    crate::schema::one_of(["connected"])
}
