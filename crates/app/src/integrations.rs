//! Integrations once connected: reading them (with the names of their stored
//! secrets, never the values), changing their settings, checking their health,
//! disconnecting them (revoking the grant at the provider first) and their
//! operation log. Connecting and reconnecting are in [`crate::connect`].
//!
//! The setup step is here too: an integration connected without a required setting
//! whose choices the provider lists (`needs_setup`, see [`crate::connect`]) is
//! completed by [`App::update_integration`] with a config that names it. The chosen
//! value must be one of the provider's choices and pass the provider's check before
//! anything is stored; then, in one transaction, the integration becomes active, is
//! scheduled for its first sync at once (as a new connection is) and
//! `connection.created` goes out.
//!
//! A PATCHed config may carry the provider's secret *settings* (config fields
//! flagged `secret`, such as GA4's Measurement Protocol `api_secret`): they are
//! sealed with the credentials, never stored in the config, never returned. That is
//! how an OAuth integration gets one, since its secrets cannot travel through the
//! consent flow. Credentials proper (an API key) still change only by reconnecting.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use junction_core::{
    AuthSpec, Connection, ErrorCode, Health, IntegrationId, WorkspaceId,
    spec::{FieldError, ProviderSpec},
};
use junction_store::{
    models::{
        Health as StoredHealth, Integration, IntegrationLog, IntegrationStatus, LogLevel, Operation,
    },
    repo::{
        self,
        integrations::{IntegrationFilter, IntegrationPatch},
        logs::NewLog,
    },
};
use secrecy::SecretString;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::{
    App, Error, Listed, PageRequest, Result,
    connections::CallError,
    error::check_error,
    listed,
    schedules::{reschedule, set_every_schedule},
};

/// An integration with the names of its stored secret fields.
#[derive(Debug, Clone)]
pub struct IntegrationDetails {
    pub integration: Integration,
    pub secret_fields: Vec<String>,
    /// For an integration waiting for its setup step (`needs_setup`): the config
    /// fields still to be chosen, in field order (empty otherwise).
    pub setup_missing: Vec<&'static str>,
}

impl IntegrationDetails {
    /// The details of `integration`, with its missing settings read from its
    /// provider's spec (none when the provider is no longer registered).
    pub(crate) fn new(
        integration: Integration,
        secret_fields: Vec<String>,
        spec: Option<&ProviderSpec>,
    ) -> Self {
        let setup_missing = match spec {
            Some(spec) if integration.status == IntegrationStatus::NeedsSetup => {
                spec.setup_missing(integration.config.as_object().unwrap_or(&Map::new()))
            }
            _ => Vec::new(),
        };
        Self {
            integration,
            secret_fields,
            setup_missing,
        }
    }
}

/// The settings of an integration to change; `None` leaves one as it is.
#[derive(Debug, Clone, Default)]
pub struct IntegrationChanges {
    pub display_name: Option<String>,
    /// The whole non-secret configuration (secrets change through a reconnect).
    pub config: Option<Map<String, Value>>,
    pub schedule_seconds: Option<i32>,
    pub sync_enabled: Option<bool>,
}

/// What a health check found.
#[derive(Debug, Clone)]
pub struct CheckResult {
    /// The provider's answer, or why the check failed.
    pub outcome: Result<Health, (ErrorCode, String)>,
    pub checked_at: DateTime<Utc>,
}

impl App {
    /// The workspace's integrations the filter keeps (a provider, an end user, a
    /// tag), oldest first.
    pub async fn integrations(
        &self,
        workspace_id: WorkspaceId,
        filter: &IntegrationFilter,
        page: PageRequest<(DateTime<Utc>, Uuid)>,
    ) -> Result<Listed<IntegrationDetails, (DateTime<Utc>, Uuid)>> {
        let mut tx = self.begin(workspace_id).await?;
        let rows = repo::integrations::list(tx.conn(), page.after, filter, page.limit + 1).await?;
        let ids: Vec<Uuid> = rows.iter().map(|integration| integration.id).collect();
        let mut secret_fields = repo::credentials::field_names_of(tx.conn(), &ids).await?;
        tx.commit().await?;
        let details = rows
            .into_iter()
            .map(|integration| {
                let fields = secret_fields.remove(&integration.id).unwrap_or_default();
                self.details(integration, fields)
            })
            .collect();
        Ok(listed(details, page.limit, |d| {
            (d.integration.created_at, d.integration.id)
        }))
    }

    /// One integration.
    pub async fn integration(
        &self,
        workspace_id: WorkspaceId,
        id: Uuid,
    ) -> Result<IntegrationDetails> {
        let mut tx = self.begin(workspace_id).await?;
        let integration = crate::integration(&mut tx, id).await?;
        let secret_fields = repo::credentials::field_names(tx.conn(), id).await?;
        tx.commit().await?;
        Ok(self.details(integration, secret_fields))
    }

    /// [`IntegrationDetails::new`] with the integration's provider from the registry.
    pub(crate) fn details(
        &self,
        integration: Integration,
        secret_fields: Vec<String>,
    ) -> IntegrationDetails {
        let adapter = self
            .connections
            .registry
            .get(&integration.provider)
            .cloned();
        IntegrationDetails::new(
            integration,
            secret_fields,
            adapter.as_ref().map(|a| a.spec()),
        )
    }

    /// Changes the name, settings or schedule of an integration. New settings are
    /// checked against the provider's fields; secrets change through a reconnect. A
    /// schedule is every stream's (each counted from its last sync).
    ///
    /// An integration waiting for its setup step (`needs_setup`) may keep leaving
    /// its setup fields out; a config that names them completes it: each chosen
    /// value must be among the provider's choices and the provider's check must
    /// pass with it (else nothing changes), then the integration becomes active, its
    /// first sync is due at once and `connection.created` is emitted — with the
    /// other changes, in one transaction.
    pub async fn update_integration(
        &self,
        workspace_id: WorkspaceId,
        id: Uuid,
        changes: IntegrationChanges,
    ) -> Result<IntegrationDetails> {
        let mut tx = self.begin(workspace_id).await?;
        let current = crate::integration(&mut tx, id).await?;
        tx.commit().await?;
        let adapter = self.adapter(&current.provider)?;
        let spec = adapter.spec();
        validate_schedule(changes.schedule_seconds)?;
        validate_display_name(changes.display_name.as_deref())?;
        let waiting = current.status == IntegrationStatus::NeedsSetup;
        let (config, secret_settings) = match &changes.config {
            Some(config) => {
                let (config, secrets) = validate_config(spec, config, waiting)?;
                (Some(config), secrets)
            }
            None => (None, BTreeMap::new()),
        };
        // The provider is asked before anything is stored, outside the transaction.
        let completion = match &config {
            Some(config) if waiting && spec.setup_missing(config).is_empty() => {
                Some(self.check_setup(workspace_id, &current, config).await?)
            }
            _ => None,
        };
        let mut tx = self.begin(workspace_id).await?;
        // Locked: two PATCHes completing one integration at once complete it once.
        let locked = repo::integrations::get_for_update(tx.conn(), id)
            .await
            .map_err(crate::integration_error)?;
        let completion = completion.filter(|_| locked.status == IntegrationStatus::NeedsSetup);
        let completed = completion.is_some();
        let updated = repo::integrations::update(
            tx.conn(),
            id,
            &IntegrationPatch {
                display_name: changes.display_name.clone(),
                config: config.map(Value::Object),
                schedule_seconds: changes.schedule_seconds,
                sync_enabled: changes.sync_enabled,
                status: completed.then_some(IntegrationStatus::Active),
                ..Default::default()
            },
        )
        .await?;
        if !secret_settings.is_empty() {
            repo::credentials::put(
                tx.conn(),
                self.connections.vault(),
                workspace_id,
                id,
                &secret_settings,
            )
            .await?;
        }
        let now = self.now();
        let mut updated = match changes.schedule_seconds {
            Some(seconds) => {
                set_every_schedule(&mut tx, workspace_id, &updated, spec, seconds, now).await?
            }
            // Due at once, like a new connection (no stream has synced yet).
            None if completed => reschedule(tx.conn(), &updated, spec, now).await?,
            None => updated,
        };
        let changed: Vec<&str> = [
            ("display_name", changes.display_name.is_some()),
            ("config", changes.config.is_some()),
            ("schedule_seconds", changes.schedule_seconds.is_some()),
            ("sync_enabled", changes.sync_enabled.is_some()),
        ]
        .iter()
        .filter(|(_, changed)| *changed)
        .map(|(name, _)| *name)
        .collect();
        // The names of the secret settings set (never their values).
        let sealed: Vec<&String> = secret_settings.keys().collect();
        if let Some(health) = completion {
            updated = repo::integrations::record_health(
                tx.conn(),
                id,
                StoredHealth::Healthy,
                health.account.as_deref(),
            )
            .await?;
            let chosen = spec.setup_missing(current.config.as_object().unwrap_or(&Map::new()));
            log(
                &mut tx,
                workspace_id,
                id,
                LogLevel::Info,
                Operation::Update,
                &format!(
                    "setup complete: {} chosen, health check passed; the first sync is due",
                    chosen.join(", ")
                ),
                json!({"changed": changed, "chosen": chosen, "account": health.account}),
            )
            .await?;
            self.emit_connection_created(tx.conn(), &updated).await?;
        } else {
            log(
                &mut tx,
                workspace_id,
                id,
                LogLevel::Info,
                Operation::Update,
                "settings updated",
                json!({"changed": changed, "secret_settings": sealed}),
            )
            .await?;
        }
        let secret_fields = repo::credentials::field_names(tx.conn(), id).await?;
        tx.commit().await?;
        self.forget_webhook_verifier(id);
        Ok(self.details(updated, secret_fields))
    }

    /// Asks the provider about the settings that complete an integration's setup:
    /// each field being chosen must hold one of the provider's choices for it, and
    /// the check must pass with the whole new config.
    async fn check_setup(
        &self,
        workspace_id: WorkspaceId,
        integration: &Integration,
        config: &Map<String, Value>,
    ) -> Result<Health> {
        let adapter = self.adapter(&integration.provider)?;
        let spec = adapter.spec();
        let ctx = self.context(&integration.provider);
        let chosen = spec.setup_missing(integration.config.as_object().unwrap_or(&Map::new()));
        let pending = Integration {
            config: Value::Object(config.clone()),
            ..integration.clone()
        };
        let mut session = self.connections.session(workspace_id, &pending).await?;
        for field in chosen {
            let listed = session
                .call(|connection| {
                    let (adapter, ctx) = (adapter.clone(), ctx.clone());
                    async move { adapter.options(&ctx, &connection, field).await }
                })
                .await
                .map_err(setup_error)?;
            let value = match config.get(field) {
                Some(Value::String(text)) => text.trim().to_owned(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            if let Some(options) = listed
                && !options.iter().any(|option| option.value == value)
            {
                return Err(Error::field(
                    field,
                    "is not one of the choices the provider lists for this connection \
                     (GET /v1/integrations/{id}/options/{field})",
                ));
            }
        }
        session
            .call(|connection| {
                let (adapter, ctx) = (adapter.clone(), ctx.clone());
                async move { adapter.check(&ctx, &connection).await }
            })
            .await
            .map_err(setup_error)
    }

    /// Runs the provider's health check now; the result is stored and logged. A
    /// failed check is a result, not an error.
    pub async fn check_integration(
        &self,
        workspace_id: WorkspaceId,
        id: Uuid,
    ) -> Result<CheckResult> {
        let mut tx = self.begin(workspace_id).await?;
        let integration = crate::integration(&mut tx, id).await?;
        tx.commit().await?;
        let adapter = self.adapter(&integration.provider)?;
        let ctx = self.context(&integration.provider);
        // A token the provider refuses although it has not expired by our clock is
        // refreshed once (single-flight) and the check tried again.
        let outcome = self
            .connections
            .call(workspace_id, &integration, |connection| {
                let (adapter, ctx) = (adapter.clone(), ctx.clone());
                async move { adapter.check(&ctx, &connection).await }
            })
            .await
            .map_err(|error| {
                let error = Error::from(error);
                (error.code, error.detail)
            });
        let checked_at = self.now();
        let mut tx = self.begin(workspace_id).await?;
        match &outcome {
            Ok(health) => {
                repo::integrations::record_health(
                    tx.conn(),
                    id,
                    StoredHealth::Healthy,
                    health.account.as_deref(),
                )
                .await?;
                log(
                    &mut tx,
                    workspace_id,
                    id,
                    LogLevel::Info,
                    Operation::Check,
                    "health check passed",
                    json!({"account": health.account}),
                )
                .await?;
            }
            Err((code, detail)) => {
                // A grant the provider refused stays what the health says.
                let health = if *code == ErrorCode::IntegrationNeedsReauth {
                    StoredHealth::NeedsReauth
                } else {
                    StoredHealth::Unhealthy
                };
                repo::integrations::record_health(tx.conn(), id, health, Some(detail)).await?;
                log(
                    &mut tx,
                    workspace_id,
                    id,
                    LogLevel::Warn,
                    Operation::Check,
                    &format!("health check failed: {detail}"),
                    json!({"code": code.name()}),
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(CheckResult {
            outcome,
            checked_at,
        })
    }

    /// Disconnects: revokes the grant at the provider where it can (best effort: a
    /// provider that is down does not keep the integration alive), wipes the
    /// credentials and deletes the integration with its data.
    pub async fn disconnect(&self, workspace_id: WorkspaceId, id: Uuid) -> Result<()> {
        let mut tx = self.begin(workspace_id).await?;
        let integration = crate::integration(&mut tx, id).await?;
        tx.commit().await?;
        let revoked = self.revoke_at_provider(workspace_id, &integration).await;
        if let Err(reason) = &revoked {
            tracing::warn!(integration = %id, provider = %integration.provider, reason = %reason, "revocation at the provider failed; deleting anyway");
        }
        let mut tx = self.begin(workspace_id).await?;
        repo::credentials::delete(tx.conn(), id, None).await?;
        self.emit_connection_deleted(tx.conn(), &integration, revoked.is_ok())
            .await?;
        repo::integrations::delete(tx.conn(), id).await?;
        tx.commit().await?;
        self.forget_webhook_verifier(id);
        tracing::info!(integration = %id, provider = %integration.provider, revoked = revoked.is_ok(), "integration deleted");
        Ok(())
    }

    /// Revokes an integration's grant at the provider: the OAuth token (refresh
    /// token first: revoking it ends the whole grant at most providers), then the
    /// adapter's own revocation.
    async fn revoke_at_provider(
        &self,
        workspace_id: WorkspaceId,
        integration: &Integration,
    ) -> Result<(), String> {
        let adapter = self.adapter(&integration.provider).map_err(|e| e.detail)?;
        let spec = adapter.spec();
        let mut secrets = {
            let mut tx = self
                .store
                .begin(workspace_id)
                .await
                .map_err(|e| e.to_string())?;
            let secrets =
                repo::credentials::get_all(tx.conn(), self.connections.vault(), integration.id)
                    .await
                    .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
            secrets
        };
        if let AuthSpec::OAuth2(oauth) = &spec.auth {
            let token = secrets
                .get(junction_oauth::REFRESH_TOKEN)
                .or_else(|| secrets.get(junction_oauth::ACCESS_TOKEN));
            if let Some(token) = token {
                let client = self
                    .connections
                    .oauth_client(spec.id, oauth)
                    .map_err(|e| e.to_string())?;
                self.connections
                    .oauth
                    .revoke(oauth, &client, token)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        let access_token = secrets.remove(junction_oauth::ACCESS_TOKEN);
        secrets.remove(junction_oauth::REFRESH_TOKEN);
        let connection = Connection {
            workspace_id,
            integration_id: IntegrationId(integration.id),
            config: integration.config.as_object().cloned().unwrap_or_default(),
            secrets,
            access_token,
            token_expires_at: integration.token_expires_at,
        };
        adapter
            .revoke(&self.context(spec.id), &connection)
            .await
            .map_err(|e| e.to_string())
    }

    /// The integration's operation log (of one operation, when given), newest
    /// first.
    pub async fn integration_logs(
        &self,
        workspace_id: WorkspaceId,
        id: Uuid,
        operation: Option<Operation>,
        page: PageRequest<i64>,
    ) -> Result<Listed<IntegrationLog, i64>> {
        let mut tx = self.begin(workspace_id).await?;
        crate::integration(&mut tx, id).await?;
        let rows = repo::logs::list(tx.conn(), id, operation, page.after, page.limit + 1).await?;
        tx.commit().await?;
        Ok(listed(rows, page.limit, |log| log.id))
    }
}

/// Work may start only for an active integration: one that lost its grant needs a
/// reconnect, any other state is a conflict.
pub fn ensure_active(integration: &Integration) -> Result<()> {
    match integration.status {
        IntegrationStatus::Active => Ok(()),
        IntegrationStatus::NeedsReauth => Err(Error::new(
            ErrorCode::IntegrationNeedsReauth,
            "the provider revoked the grant: reconnect with POST /v1/integrations/{id}/reconnect",
        )),
        IntegrationStatus::NeedsSetup => Err(Error::new(
            ErrorCode::IntegrationNeedsSetup,
            "the integration's setup is not finished: choose the settings its `setup.missing` names (GET /v1/integrations/{id}/options/{field} lists the choices) with PATCH /v1/integrations/{id}",
        )),
        other => Err(Error::new(
            ErrorCode::Conflict,
            format!("the integration is {other}, not active"),
        )),
    }
}

/// Checks a display name: 1-200 characters, not all spaces (what the database
/// takes; checked first so a refusal names the field, before a provider is asked).
pub fn validate_display_name(name: Option<&str>) -> Result<()> {
    match name {
        Some(name) if name.trim().is_empty() || name.chars().count() > MAX_DISPLAY_NAME_CHARS => {
            Err(Error::field(
                "display_name",
                format!("must be 1-{MAX_DISPLAY_NAME_CHARS} characters, not all spaces"),
            ))
        }
        _ => Ok(()),
    }
}

/// Checks a sync interval: 5 minutes to 30 days.
pub fn validate_schedule(seconds: Option<i32>) -> Result<()> {
    match seconds {
        Some(s) if !SCHEDULE_SECONDS.contains(&s) => Err(Error::field(
            "schedule_seconds",
            format!(
                "must be between {} (5 minutes) and {} (30 days)",
                SCHEDULE_SECONDS.start(),
                SCHEDULE_SECONDS.end()
            ),
        )),
        _ => Ok(()),
    }
}

/// The sync intervals a stream may have, and an integration (which sets every
/// stream's): 5 minutes to 30 days. Shorter ones spend a provider's request budget
/// for little; longer ones leave a cursor to age past what a provider keeps.
pub const SCHEDULE_SECONDS: std::ops::RangeInclusive<i32> = 5 * 60..=30 * 24 * 3600;

/// The longest display name, in characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 200;

/// Appends an entry to an integration's operation log (never with secrets).
pub(crate) async fn log(
    tx: &mut junction_store::WorkspaceTx,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    level: LogLevel,
    operation: Operation,
    message: &str,
    details: Value,
) -> Result<()> {
    repo::logs::append(
        tx.conn(),
        NewLog {
            workspace_id,
            integration_id,
            level,
            operation,
            message,
            details,
            run_id: None,
        },
    )
    .await?;
    Ok(())
}

/// Checks a whole new config against the provider's config fields: every field
/// valid, no unknown field, no credential (those change through a reconnect). An
/// integration waiting for its setup step may still leave its setup fields out.
/// Returns the config to store and, apart, the secret settings given (config fields
/// flagged `secret`), checked by their rules, to seal.
fn validate_config(
    spec: &ProviderSpec,
    config: &Map<String, Value>,
    waiting_for_setup: bool,
) -> Result<(Map<String, Value>, BTreeMap<String, SecretString>)> {
    if let Some(secret) = config.keys().find(|k| {
        spec.auth
            .credential_fields()
            .iter()
            .any(|f| f.name == *k && f.secret)
    }) {
        return Err(Error::field(
            secret,
            "is a secret: change it with POST /v1/integrations/{id}/reconnect",
        ));
    }
    let is_secret_setting = |name: &str| spec.config.iter().any(|f| f.name == name && f.secret);
    let mut secrets = BTreeMap::new();
    let mut secret_errors = Vec::new();
    for field in spec.config.iter().filter(|f| f.secret) {
        match config.get(field.name) {
            None | Some(Value::Null) => {}
            Some(value) => match (field.validate(Some(value)), value.as_str()) {
                (Ok(()), Some(text)) if !text.trim().is_empty() => {
                    secrets.insert(
                        field.name.to_owned(),
                        SecretString::from(text.trim().to_owned()),
                    );
                }
                (Err(error), _) => secret_errors.push(error),
                _ => secret_errors.push(FieldError::new(field.name, "must not be empty")),
            },
        }
    }
    if !secret_errors.is_empty() {
        return Err(Error::validation(secret_errors));
    }
    let config: Map<String, Value> = config
        .iter()
        .filter(|(name, _)| !is_secret_setting(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let config = &config;
    let deferred = if waiting_for_setup {
        spec.setup_missing(config)
    } else {
        Vec::new()
    };
    let errors: Vec<FieldError> = spec
        .config
        .iter()
        .filter(|field| !field.secret && !deferred.contains(&field.name))
        .filter_map(|field| field.validate(config.get(field.name)).err())
        .chain(
            config
                .keys()
                .filter(|k| !spec.config.iter().any(|f| f.name == *k))
                .map(|k| FieldError {
                    field: k.clone(),
                    message: "is not a field of this provider".into(),
                }),
        )
        .collect();
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let mut config = config.clone();
    // A blank setup field is still to be chosen, not an empty value.
    for name in deferred {
        config.remove(name);
    }
    Ok((config, secrets))
}

/// A refused setup step: the provider's refusal of the chosen settings is the
/// client's to fix (as at connect time); a lost grant or an outage is not.
fn setup_error(error: CallError) -> Error {
    match error {
        CallError::Adapter(error) => check_error(error),
        other => other.into(),
    }
}
