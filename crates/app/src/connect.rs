//! Connecting integrations, for every auth kind, with one saving path.
//!
//! - API keys and other typed-in credentials ([`App::connect_with_credentials`]):
//!   checked with the provider before anything is stored; a refusal stores nothing.
//! - OAuth 2.0: [`App::start_oauth`] gives the authorize URL; the `state` parameter
//!   is random, stored only as a hash, single-use, bound to the workspace and the
//!   provider, and expires after 10 minutes; PKCE S256 is used where the provider's
//!   spec says so (the verifier is sealed like a credential). [`App::finish_oauth`]
//!   handles the provider's redirect back: every outcome — connected, consent
//!   denied, provider error, replayed or expired state, a state used at another
//!   provider's callback — is reported, and only success stores anything.
//! - Reconnecting ([`App::reconnect`]): new credentials checked like new ones, or a
//!   new OAuth flow for the same integration.
//!
//! - A required setting whose choices the provider lists ([`junction_core::ConfigField::options`]:
//!   the GA4 property, the Meta ad account) may be left out of a new connection: the
//!   provider's check runs without it, and the integration is saved `needs_setup`
//!   (credentials stored, never synced or scheduled) until a `PATCH` of its config
//!   picks a value from `GET /v1/integrations/{id}/options/{field}`
//!   ([`crate::integrations`]).
//!
//! Whatever the kind, a new or renewed connection is written by one function,
//! [`App::save_connection`]: the integration row, the sealed credentials, the health
//! and the log entry, in one transaction — with, for a connection made through a
//! connect session ([`crate::connect_sessions`]), the session's end user and tags.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use junction_core::{
    Adapter, AdapterError, AuthSpec, Connection, ErrorCode, Health, IntegrationId, OAuth2Spec,
    WorkspaceId,
    spec::{FieldError, ProviderSpec},
};
use junction_store::{
    StoreError,
    models::{
        AuthKind, ConnectSession, Health as StoredHealth, Integration, IntegrationStatus, LogLevel,
        NewIntegration, OAuthState, Operation,
    },
    repo::{
        self,
        integrations::IntegrationPatch,
        oauth_states::{ConsumeError, NewOAuthState},
    },
};
use secrecy::SecretString;
use serde_json::{Map, Value, json};
use url::Url;
use uuid::Uuid;

use crate::{
    App, Error, Result,
    error::check_error,
    integrations::{IntegrationDetails, log, validate_display_name, validate_schedule},
    schedules::set_every_schedule,
};

/// How long a started OAuth flow may take.
pub const STATE_LIFETIME_MINUTES: i64 = 10;

/// A new connection with typed-in credentials.
#[derive(Debug, Clone, Default)]
pub struct NewConnection {
    pub provider: String,
    pub display_name: Option<String>,
    /// Non-secret settings (secret fields may be given here too: they are sealed).
    pub config: Map<String, Value>,
    pub credentials: Map<String, Value>,
    pub schedule_seconds: Option<i32>,
}

/// A new OAuth connection to start.
#[derive(Debug, Clone, Default)]
pub struct NewOAuthConnection {
    pub provider: String,
    pub display_name: Option<String>,
    pub config: Map<String, Value>,
    pub schedule_seconds: Option<i32>,
    /// Where the user's browser goes after the flow (allow-listed origins only).
    pub return_to: Option<String>,
}

/// Where to send the user to grant access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedFlow {
    pub authorize_url: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// What a reconnect did.
#[derive(Debug, Clone)]
pub enum Reconnected {
    /// The new credentials were accepted and replace the old ones.
    Saved(Box<IntegrationDetails>),
    /// The user must grant access again through the provider.
    Flow(StartedFlow),
}

/// The provider's redirect back to Junction.
#[derive(Debug, Clone, Default)]
pub struct OAuthCallback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// How an OAuth callback ended, and where to report it.
#[derive(Debug)]
pub struct CallbackOutcome {
    /// The flow's `return_to`, when it had one.
    pub return_to: Option<Url>,
    /// The connected integration, or why not.
    pub result: Result<Uuid>,
    /// The user declined the consent.
    pub denied: bool,
    /// The flow (its state) expired before the callback.
    pub expired: bool,
    /// The connect session the flow was started through: the outcome goes to
    /// `return_to` as [`crate::connect_sessions::outcome_url`] writes it.
    pub connect_session_id: Option<Uuid>,
    /// The provider of the flow, once its state was found (the Connect page's
    /// outcome message names it).
    pub provider: Option<String>,
}

/// A connection checked with the provider, ready to be stored.
/// What a token grant granted: the scopes and the access token's expiry.
type Granted = (Vec<String>, Option<chrono::DateTime<chrono::Utc>>);

struct SaveConnection<'a> {
    spec: &'a ProviderSpec,
    integration_id: Uuid,
    /// For a new integration: its name, settings and schedule.
    new: Option<NewParts>,
    secrets: BTreeMap<String, SecretString>,
    /// OAuth and client credentials: the granted scopes and the access token's expiry.
    oauth: Option<Granted>,
    health: Health,
    message: &'static str,
    details: Value,
    /// A new integration connected through a connect session.
    session: Option<SessionLink>,
}

struct NewParts {
    display_name: String,
    config: Map<String, Value>,
    /// Every stream's schedule, when the client set one (else each stream keeps
    /// the provider's default).
    schedule_seconds: Option<i32>,
}

impl App {
    /// Connects a provider with API-key, basic or client-credentials credentials,
    /// checked with the provider before anything is stored (a refusal is an error,
    /// nothing stored).
    /// OAuth providers connect through [`App::start_oauth`].
    pub async fn connect_with_credentials(
        &self,
        workspace_id: WorkspaceId,
        request: NewConnection,
    ) -> Result<IntegrationDetails> {
        self.connect_credentials(workspace_id, request, None).await
    }

    /// [`App::connect_with_credentials`], for the workspace itself or through a
    /// connect session.
    pub(crate) async fn connect_credentials(
        &self,
        workspace_id: WorkspaceId,
        request: NewConnection,
        session: Option<SessionLink>,
    ) -> Result<IntegrationDetails> {
        let adapter = self.adapter(&request.provider)?;
        let spec = adapter.spec();
        if matches!(spec.auth, AuthSpec::OAuth2(_)) {
            return Err(Error::new(
                ErrorCode::UnsupportedOperation,
                format!(
                    "{} connects with OAuth: start with POST /v1/connect/{}",
                    spec.name, spec.id
                ),
            ));
        }
        validate_schedule(request.schedule_seconds)?;
        validate_display_name(request.display_name.as_deref())?;
        let (config, secrets) = split_fields(spec, &request.config, &request.credentials)?;
        let id = Uuid::new_v4();
        let (health, secrets, oauth) = self
            .check_credentials(adapter.as_ref(), workspace_id, id, &config, &secrets)
            .await?
            .into_parts(spec, secrets);
        self.save_connection(
            workspace_id,
            SaveConnection {
                spec,
                integration_id: id,
                new: Some(NewParts {
                    display_name: request.display_name.unwrap_or_else(|| spec.name.to_owned()),
                    config,
                    schedule_seconds: request.schedule_seconds,
                }),
                secrets,
                oauth,
                details: json!({"account": health.account}),
                health,
                message: "connected; the provider accepted the credentials",
                session,
            },
        )
        .await
    }

    /// Starts connecting an OAuth provider: returns the URL to send the user to.
    pub async fn start_oauth(
        &self,
        workspace_id: WorkspaceId,
        request: NewOAuthConnection,
    ) -> Result<StartedFlow> {
        self.start_new_oauth(workspace_id, request, None).await
    }

    /// [`App::start_oauth`], for the workspace itself or through a connect session
    /// (whose return URL the callback reports to).
    pub(crate) async fn start_new_oauth(
        &self,
        workspace_id: WorkspaceId,
        request: NewOAuthConnection,
        session: Option<&ConnectSession>,
    ) -> Result<StartedFlow> {
        let adapter = self.adapter(&request.provider)?;
        let spec = adapter.spec();
        let AuthSpec::OAuth2(oauth) = &spec.auth else {
            return Err(Error::new(
                ErrorCode::UnsupportedOperation,
                format!(
                    "{} connects with credentials: use POST /v1/integrations",
                    spec.name
                ),
            ));
        };
        validate_schedule(request.schedule_seconds)?;
        // Kept with the flow and stored when it ends: a name the database refuses
        // would fail the flow after the user consented.
        validate_display_name(request.display_name.as_deref())?;
        // Only config fields here: OAuth providers have no typed-in credentials.
        let (config, secrets) = split_fields(spec, &request.config, &Map::new())?;
        if let Some(field) = secrets.keys().next() {
            return Err(Error::field(
                field,
                "secret settings cannot travel through an OAuth flow",
            ));
        }
        self.start_flow(
            workspace_id,
            spec,
            oauth,
            None,
            config,
            request.display_name.as_deref(),
            request.schedule_seconds,
            request.return_to.as_deref(),
            session,
        )
        .await
    }

    /// Replaces an integration's credentials: typed-in ones are checked with the
    /// provider before they replace the old ones; an OAuth integration gets a new
    /// flow and is updated when the user finishes it.
    pub async fn reconnect(
        &self,
        workspace_id: WorkspaceId,
        id: Uuid,
        credentials: Map<String, Value>,
        return_to: Option<&str>,
    ) -> Result<Reconnected> {
        let mut tx = self.begin(workspace_id).await?;
        let integration = crate::integration(&mut tx, id).await?;
        tx.commit().await?;
        let adapter = self.adapter(&integration.provider)?;
        let spec = adapter.spec();
        let config = integration.config.as_object().cloned().unwrap_or_default();
        if let AuthSpec::OAuth2(oauth) = &spec.auth {
            if !credentials.is_empty() {
                return Err(Error::field(
                    "credentials",
                    "OAuth integrations reconnect through the provider's consent page",
                ));
            }
            let started = self
                .start_flow(
                    workspace_id,
                    spec,
                    oauth,
                    Some(&integration),
                    config,
                    None,
                    None,
                    return_to,
                    None,
                )
                .await?;
            return Ok(Reconnected::Flow(started));
        }
        let (_, secrets) = split_fields(spec, &config, &credentials)?;
        let (health, secrets, oauth) = self
            .check_credentials(adapter.as_ref(), workspace_id, id, &config, &secrets)
            .await?
            .into_parts(spec, secrets);
        let saved = self
            .save_connection(
                workspace_id,
                SaveConnection {
                    spec,
                    integration_id: id,
                    new: None,
                    secrets,
                    oauth,
                    health,
                    message: "credentials replaced; the provider accepted them",
                    details: json!({}),
                    session: None,
                },
            )
            .await?;
        Ok(Reconnected::Saved(Box::new(saved)))
    }

    /// Finishes an OAuth flow: exchanges the code, checks the connection, stores it.
    /// `path_provider` is the provider a provider-specific redirect URI names: a
    /// state issued for another provider is refused.
    pub async fn finish_oauth(
        &self,
        path_provider: Option<&str>,
        callback: OAuthCallback,
    ) -> CallbackOutcome {
        let fail = |return_to: Option<Url>, error: Error| CallbackOutcome {
            return_to,
            result: Err(error),
            denied: false,
            expired: false,
            connect_session_id: None,
            provider: None,
        };
        let Some(raw_state) = callback.state.filter(|s| !s.is_empty()) else {
            // A malformed callback; a state that names no pending flow is the 404 below.
            return fail(
                None,
                Error::new(
                    ErrorCode::InvalidRequest,
                    "the callback has no state parameter",
                ),
            );
        };
        let oauth_state = SecretString::from(raw_state);
        let workspace_id = match self.workspace_of_state(&oauth_state).await {
            Ok(Some(workspace_id)) => workspace_id,
            Ok(None) => {
                return fail(
                    None,
                    invalid_state("unknown state: start the connection again"),
                );
            }
            Err(error) => return fail(None, error),
        };
        // Consume the state first, in its own transaction: whatever happens next, it
        // cannot be used twice.
        let (row, verifier) = match self.consume_state(workspace_id, &oauth_state).await {
            Ok(Ok(found)) => found,
            Ok(Err((reason, return_to, connect_session_id))) => {
                let detail = match reason {
                    ConsumeError::AlreadyUsed => {
                        "this authorization was already used: start the connection again"
                    }
                    ConsumeError::Expired => {
                        "the connection attempt expired (10 minutes): start it again"
                    }
                    ConsumeError::Unknown => "unknown state: start the connection again",
                };
                return CallbackOutcome {
                    expired: reason == ConsumeError::Expired,
                    connect_session_id,
                    ..fail(return_to, invalid_state(detail))
                };
            }
            Err(error) => return fail(None, error),
        };
        let return_to = row.return_to.as_deref().and_then(|u| Url::parse(u).ok());
        let connect_session_id = row.connect_session_id;
        let fail = |return_to: Option<Url>, error: Error| CallbackOutcome {
            expired: error.code == ErrorCode::ConnectSessionExpired,
            connect_session_id,
            provider: Some(row.provider.clone()),
            ..fail(return_to, error)
        };
        if let Some(provider) = path_provider
            && provider != row.provider
        {
            return fail(
                return_to,
                invalid_state(&format!(
                    "this authorization was started for {}, not {provider}",
                    row.provider
                )),
            );
        }
        if let Some(error) = callback.error {
            let denied = error == "access_denied";
            let description = callback.error_description.unwrap_or_default();
            let error = if denied {
                Error::new(ErrorCode::OAuthDenied, "the user did not grant access")
            } else {
                Error::new(
                    ErrorCode::ProviderRejected,
                    format!("the provider refused the authorization: {error} {description}")
                        .trim()
                        .to_owned(),
                )
            };
            self.log_failed_flow(
                workspace_id,
                row.integration_id,
                LogLevel::Warn,
                &error.detail,
            )
            .await;
            return CallbackOutcome {
                denied,
                ..fail(return_to, error)
            };
        }
        let Some(code) = callback.code.filter(|c| !c.is_empty()) else {
            return fail(
                return_to,
                Error::new(
                    ErrorCode::InvalidRequest,
                    "the callback has neither code nor error",
                ),
            );
        };
        // A session's flow: the session must still be live and the provider still
        // unconnected through it, checked before the code is exchanged (no grant is
        // taken that would then be refused).
        let session = match connect_session_id {
            Some(id) => match self.flow_session(workspace_id, id, &row.provider).await {
                Ok(link) => Some(link),
                Err(error) => return fail(return_to, error),
            },
            None => None,
        };
        let result = self
            .complete_flow(workspace_id, &row, &code, verifier.as_ref(), session)
            .await;
        if let Err(error) = &result {
            self.log_failed_flow(
                workspace_id,
                row.integration_id,
                LogLevel::Error,
                &format!("connection failed: {}", error.detail),
            )
            .await;
        }
        CallbackOutcome {
            return_to,
            expired: matches!(&result, Err(e) if e.code == ErrorCode::ConnectSessionExpired),
            result,
            denied: false,
            connect_session_id,
            provider: Some(row.provider.clone()),
        }
    }

    /// Starts an OAuth flow (a new connection, or a reconnection of `existing`).
    #[allow(clippy::too_many_arguments)]
    async fn start_flow(
        &self,
        workspace_id: WorkspaceId,
        spec: &ProviderSpec,
        oauth: &OAuth2Spec,
        existing: Option<&Integration>,
        config: Map<String, Value>,
        display_name: Option<&str>,
        schedule_seconds: Option<i32>,
        return_to: Option<&str>,
        session: Option<&ConnectSession>,
    ) -> Result<StartedFlow> {
        // A session's return URL was checked against the workspace's allow-list
        // when the session was made.
        let return_to = match session {
            Some(session) => Some(Url::parse(&session.return_url).map_err(Error::internal)?),
            None => self.parse_return_to(return_to)?,
        };
        let client = self.connections.oauth_client(spec.id, oauth)?;
        let request = self.connections.oauth.authorize(oauth, &client)?;
        let expires_at = self.now() + Duration::minutes(STATE_LIFETIME_MINUTES);
        let mut tx = self.begin(workspace_id).await?;
        repo::oauth_states::insert(
            tx.conn(),
            self.connections.vault(),
            NewOAuthState {
                workspace_id,
                provider: spec.id,
                integration_id: existing.map(|i| i.id),
                state: &request.state,
                pkce_verifier: request.pkce_verifier.as_ref(),
                redirect_uri: client.redirect_uri.as_str(),
                return_to: return_to.as_ref().map(Url::as_str),
                config: Value::Object(config),
                display_name,
                schedule_seconds,
                expires_at,
                connect_session_id: session.map(|s| s.id),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(StartedFlow {
            authorize_url: request.url.to_string(),
            expires_at,
        })
    }

    /// Checks a `return_to` against the allow-list.
    fn parse_return_to(&self, return_to: Option<&str>) -> Result<Option<Url>> {
        let Some(raw) = return_to else {
            return Ok(None);
        };
        let url =
            Url::parse(raw).map_err(|_| Error::field("return_to", "must be an absolute URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::field("return_to", "must be an http(s) URL"));
        }
        if !self.config.return_to_allowed(&url) {
            return Err(Error::field(
                "return_to",
                "its origin is not allowed (add it to JUNCTION_RETURN_TO_ORIGINS)",
            ));
        }
        Ok(Some(url))
    }

    async fn workspace_of_state(&self, state: &SecretString) -> Result<Option<WorkspaceId>> {
        let mut conn = self.store.unscoped().await?;
        Ok(repo::oauth_states::workspace_of(&mut conn, state).await?)
    }

    #[allow(clippy::type_complexity)]
    async fn consume_state(
        &self,
        workspace_id: WorkspaceId,
        state: &SecretString,
    ) -> Result<Result<(OAuthState, Option<SecretString>), (ConsumeError, Option<Url>, Option<Uuid>)>>
    {
        let mut tx = self.begin(workspace_id).await?;
        let result = match repo::oauth_states::consume(
            tx.conn(),
            self.connections.vault(),
            state,
            self.now(),
        )
        .await?
        {
            Ok(found) => Ok(found),
            Err(reason) => {
                let row = repo::oauth_states::find(tx.conn(), state).await?;
                let return_to = row
                    .as_ref()
                    .and_then(|row| row.return_to.as_deref())
                    .and_then(|u| Url::parse(u).ok());
                Err((
                    reason,
                    return_to,
                    row.and_then(|row| row.connect_session_id),
                ))
            }
        };
        tx.commit().await?;
        Ok(result)
    }

    /// Logs a failed flow on the integration being reconnected (a new connection has
    /// no integration to log on: its failure is reported to the user and in the
    /// server log).
    async fn log_failed_flow(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Option<Uuid>,
        level: LogLevel,
        message: &str,
    ) {
        let Some(integration_id) = integration_id else {
            tracing::info!(workspace = %workspace_id, message, "OAuth connection attempt failed");
            return;
        };
        let attempt = async {
            let mut tx = self.begin(workspace_id).await?;
            log(
                &mut tx,
                workspace_id,
                integration_id,
                level,
                Operation::Reconnect,
                message,
                json!({}),
            )
            .await?;
            tx.commit().await?;
            Ok::<_, Error>(())
        };
        if let Err(error) = attempt.await {
            tracing::warn!(error = %error, "could not log the failed OAuth flow");
        }
    }

    /// Exchanges the code, checks the connection and stores it.
    async fn complete_flow(
        &self,
        workspace_id: WorkspaceId,
        row: &OAuthState,
        code: &str,
        verifier: Option<&SecretString>,
        session: Option<SessionLink>,
    ) -> Result<Uuid> {
        let adapter = self.adapter(&row.provider)?;
        let spec = adapter.spec();
        let AuthSpec::OAuth2(oauth) = &spec.auth else {
            return Err(invalid_state("the provider no longer connects with OAuth"));
        };
        let client = self.connections.oauth_client(spec.id, oauth)?;
        let tokens = self
            .connections
            .oauth
            .exchange_code(oauth, &client, code, verifier, self.now())
            .await?;
        let config = row.config.as_object().cloned().unwrap_or_default();
        let id = row.integration_id.unwrap_or_else(Uuid::new_v4);
        let connection = Connection {
            workspace_id,
            integration_id: IntegrationId(id),
            config: config.clone(),
            secrets: Default::default(),
            access_token: Some(tokens.access_token.clone()),
            token_expires_at: tokens.expires_at,
        };
        let health = match adapter.check(&self.context(spec.id), &connection).await {
            Ok(health) => health,
            Err(error) => {
                // Do not leave a live grant behind for a connection we refuse to store.
                let token = tokens
                    .refresh_token
                    .as_ref()
                    .unwrap_or(&tokens.access_token);
                if let Err(revoke_error) =
                    self.connections.oauth.revoke(oauth, &client, token).await
                {
                    tracing::warn!(provider = spec.id, error = %revoke_error, "could not revoke the refused grant");
                }
                let mapped = check_error(error);
                return Err(Error::new(
                    mapped.code,
                    format!(
                        "the new connection failed its health check: {}",
                        mapped.detail
                    ),
                ));
            }
        };
        let scopes = tokens
            .scopes
            .clone()
            .unwrap_or_else(|| oauth.scopes.iter().map(|s| (*s).to_owned()).collect());
        let mut secrets = BTreeMap::new();
        secrets.insert(
            junction_oauth::ACCESS_TOKEN.to_owned(),
            tokens.access_token.clone(),
        );
        if let Some(refresh) = &tokens.refresh_token {
            secrets.insert(junction_oauth::REFRESH_TOKEN.to_owned(), refresh.clone());
        }
        let reconnecting = row.integration_id.is_some();
        self.save_connection(
            workspace_id,
            SaveConnection {
                spec,
                integration_id: id,
                new: (!reconnecting).then(|| NewParts {
                    display_name: row
                        .display_name
                        .clone()
                        .unwrap_or_else(|| spec.name.to_owned()),
                    config,
                    schedule_seconds: row.schedule_seconds,
                }),
                secrets,
                oauth: Some((scopes.clone(), tokens.expires_at)),
                details: json!({
                    "scopes": scopes,
                    "token_expires_at": tokens.expires_at,
                    "refresh_token": tokens.refresh_token.is_some(),
                    "account": health.account,
                }),
                health,
                message: if reconnecting {
                    "reconnected through OAuth; health check passed"
                } else {
                    "connected through OAuth; health check passed"
                },
                session,
            },
        )
        .await?;
        Ok(id)
    }

    /// Asks the provider whether it accepts typed-in settings and secrets, before
    /// anything is stored. A client-credentials provider is first asked for an
    /// access token with the typed-in key pair (a refusal is a credentials error);
    /// the token comes back to be stored with the connection.
    async fn check_credentials(
        &self,
        adapter: &dyn Adapter,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
        config: &Map<String, Value>,
        secrets: &BTreeMap<String, SecretString>,
    ) -> Result<Checked> {
        let spec = adapter.spec();
        let mut connection = Connection {
            workspace_id,
            integration_id: IntegrationId(integration_id),
            config: config.clone(),
            secrets: secrets.clone(),
            access_token: None,
            token_expires_at: None,
        };
        let mut token = None;
        if let AuthSpec::ClientCredentials {
            client_auth,
            scopes,
            client_id,
            client_secret,
            ..
        } = &spec.auth
        {
            let client = junction_oauth::ClientCredentials {
                token_url: self.connections.client_token_url(spec.id)?,
                client_auth: *client_auth,
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                client_id: secrets.get(client_id.name).cloned().unwrap_or_default(),
                client_secret: secrets.get(client_secret.name).cloned().unwrap_or_default(),
            };
            let tokens = self
                .connections
                .oauth
                .client_credentials_token(&client, self.now())
                .await
                .map_err(|err| {
                    let refused = err.refuses_client();
                    let error = match err.into_adapter_error() {
                        AdapterError::Provider { message, .. } if refused => {
                            AdapterError::Unauthorized {
                                refreshable: false,
                                message,
                            }
                        }
                        other => other,
                    };
                    credentials_error(spec, secrets, error)
                })?;
            // The key pair stays with Junction: the adapter gets the token it buys.
            connection.secrets.remove(client_id.name);
            connection.secrets.remove(client_secret.name);
            connection.access_token = Some(tokens.access_token.clone());
            connection.token_expires_at = tokens.expires_at;
            token = Some(tokens);
        }
        let health = adapter
            .check(&self.context(spec.id), &connection)
            .await
            .map_err(|error| credentials_error(spec, secrets, error))?;
        Ok(Checked { health, token })
    }

    /// Stores a new or renewed connection, whatever its auth kind: the integration
    /// (inserted, or made active again with its error cleared), the sealed
    /// credentials (replacing the previous ones; webhook secrets stay), the health
    /// and the log entry, in one transaction.
    async fn save_connection(
        &self,
        workspace_id: WorkspaceId,
        save: SaveConnection<'_>,
    ) -> Result<IntegrationDetails> {
        let id = save.integration_id;
        let mut tx = self.begin(workspace_id).await?;
        let ready;
        let operation = match save.new {
            Some(new) => {
                let (scopes, token_expires_at) = save.oauth.clone().unwrap_or_default();
                // Settings still to be picked from the provider's list: connected, but
                // not synced before the setup step completes them.
                ready = save.spec.setup_missing(&new.config).is_empty();
                let inserted = repo::integrations::insert(
                    tx.conn(),
                    &NewIntegration {
                        id,
                        workspace_id: workspace_id.as_uuid(),
                        provider: save.spec.id.to_owned(),
                        display_name: new.display_name,
                        status: if ready {
                            IntegrationStatus::Active
                        } else {
                            IntegrationStatus::NeedsSetup
                        },
                        auth_kind: auth_kind(save.spec),
                        config: Value::Object(new.config),
                        scopes,
                        token_expires_at,
                        schedule_seconds: new
                            .schedule_seconds
                            .unwrap_or_else(|| default_schedule(save.spec)),
                        next_sync_at: ready.then(|| self.now()),
                    },
                )
                .await?;
                if let Some(seconds) = new.schedule_seconds {
                    set_every_schedule(
                        &mut tx,
                        workspace_id,
                        &inserted,
                        save.spec,
                        seconds,
                        self.now(),
                    )
                    .await?;
                }
                if let Some(link) = &save.session {
                    // Locked against a revocation crossing this connection; checked
                    // again, as the provider's answer may have taken a while.
                    let session =
                        repo::connect_sessions::get_for_update(tx.conn(), link.id).await?;
                    check_live(&session, self.now())?;
                    repo::integrations::set_end_user(
                        tx.conn(),
                        id,
                        &link.end_user_id,
                        &link.end_user,
                        &link.tags,
                        link.id,
                    )
                    .await
                    .map_err(|e| link_error(e, save.spec.id))?;
                }
                Operation::Connect
            }
            None => {
                if let Some((scopes, token_expires_at)) = &save.oauth {
                    repo::integrations::update(
                        tx.conn(),
                        id,
                        &IntegrationPatch {
                            scopes: Some(scopes.clone()),
                            token_expires_at: Some(*token_expires_at),
                            ..Default::default()
                        },
                    )
                    .await?;
                }
                if !matches!(save.spec.auth, AuthSpec::OAuth2(_)) {
                    // Typed-in credentials (and a client-credentials token bought
                    // with them) replace the old ones whole: a field left out now
                    // must not linger. New OAuth tokens overwrite theirs, keeping a
                    // refresh token the provider does not issue again.
                    let kept = webhook_fields(save.spec);
                    let stored = repo::credentials::field_names(tx.conn(), id).await?;
                    let replaced: Vec<&str> = stored
                        .iter()
                        .map(String::as_str)
                        .filter(|name| !kept.contains(name))
                        .collect();
                    repo::credentials::delete(tx.conn(), id, Some(&replaced)).await?;
                }
                // A reconnected integration whose setup was never finished stays
                // waiting for it: new credentials do not pick its settings.
                let current = repo::integrations::get(tx.conn(), id).await?;
                let config = current.config.as_object().cloned().unwrap_or_default();
                ready = save.spec.setup_missing(&config).is_empty();
                let status = if ready {
                    IntegrationStatus::Active
                } else {
                    IntegrationStatus::NeedsSetup
                };
                repo::integrations::set_status(tx.conn(), id, status, None).await?;
                Operation::Reconnect
            }
        };
        repo::credentials::put(
            tx.conn(),
            self.connections.vault(),
            workspace_id,
            id,
            &save.secrets,
        )
        .await?;
        let integration = repo::integrations::record_health(
            tx.conn(),
            id,
            StoredHealth::Healthy,
            save.health.account.as_deref(),
        )
        .await?;
        let (message, details) = if ready {
            (save.message.to_owned(), save.details)
        } else {
            let missing = save
                .spec
                .setup_missing(integration.config.as_object().unwrap_or(&Map::new()));
            let mut details = save.details;
            if let Value::Object(map) = &mut details {
                map.insert("setup_missing".into(), json!(missing));
            }
            (
                format!(
                    "{}; setup pending: choose {} to start syncing",
                    save.message,
                    missing.join(", ")
                ),
                details,
            )
        };
        log(
            &mut tx,
            workspace_id,
            id,
            LogLevel::Info,
            operation,
            &message,
            details,
        )
        .await?;
        // `connection.created` tells the client app the integration is ready: one
        // waiting for its setup step emits it when the step completes it.
        if operation == Operation::Connect && ready {
            self.emit_connection_created(tx.conn(), &integration)
                .await?;
        }
        let secret_fields = repo::credentials::field_names(tx.conn(), id).await?;
        tx.commit().await?;
        self.forget_webhook_verifier(id);
        Ok(self.details(integration, secret_fields))
    }
}

/// What a connection made through a session carries to the integration.
#[derive(Debug, Clone)]
pub(crate) struct SessionLink {
    pub id: Uuid,
    pub end_user_id: String,
    pub end_user: Value,
    pub tags: Value,
}

impl From<&ConnectSession> for SessionLink {
    fn from(session: &ConnectSession) -> Self {
        Self {
            id: session.id,
            end_user_id: session.end_user_id.clone(),
            end_user: session.end_user.clone(),
            tags: session.tags.clone(),
        }
    }
}

/// Whether a session can still connect at `now`: not revoked, not expired.
pub(crate) fn check_live(session: &ConnectSession, now: DateTime<Utc>) -> Result<()> {
    if session.revoked_at.is_some() {
        return Err(Error::new(
            ErrorCode::ConnectSessionRevoked,
            "this connect session has been revoked",
        ));
    }
    if session.expires_at <= now {
        return Err(Error::new(
            ErrorCode::ConnectSessionExpired,
            "this connect session has expired: ask for a new link",
        ));
    }
    Ok(())
}

pub(crate) fn session_used(provider: &str) -> Error {
    Error::new(
        ErrorCode::ConnectSessionUsed,
        format!("this connect session already connected {provider}"),
    )
}

/// Maps the unique (session, provider) index's refusal: two connections through one
/// session raced, and the other one won.
pub(crate) fn link_error(error: StoreError, provider: &str) -> Error {
    match error {
        StoreError::Conflict(message)
            if message.contains("integrations_connect_session_provider_idx") =>
        {
            session_used(provider)
        }
        other => other.into(),
    }
}

fn invalid_state(detail: &str) -> Error {
    Error::new(ErrorCode::OAuthStateInvalid, detail)
}

/// A refused check or token request as the API answers it: a credentials refusal
/// is said by the fields the provider refused, so a form shows it there (the
/// credentials given, never their values).
fn credentials_error(
    spec: &ProviderSpec,
    secrets: &BTreeMap<String, SecretString>,
    error: AdapterError,
) -> Error {
    let mut error = check_error(error);
    if error.code == ErrorCode::InvalidCredentials {
        error.fields = spec
            .auth
            .credential_fields()
            .into_iter()
            .filter(|field| secrets.contains_key(field.name))
            .map(|field| FieldError::new(field.name, "the provider rejected it"))
            .collect();
    }
    error
}

/// What a credentials check found: the health, and for a client-credentials
/// provider the access token the key pair bought.
struct Checked {
    health: Health,
    token: Option<junction_oauth::TokenSet>,
}

impl Checked {
    /// The secrets to store (the typed-in ones, plus the bought token) and the
    /// token's granted scopes and expiry.
    fn into_parts(
        self,
        spec: &ProviderSpec,
        mut secrets: BTreeMap<String, SecretString>,
    ) -> (Health, BTreeMap<String, SecretString>, Option<Granted>) {
        let oauth = self.token.map(|tokens| {
            secrets.insert(junction_oauth::ACCESS_TOKEN.to_owned(), tokens.access_token);
            let requested = match &spec.auth {
                AuthSpec::ClientCredentials { scopes, .. } => {
                    scopes.iter().map(|s| (*s).to_owned()).collect()
                }
                _ => Vec::new(),
            };
            (tokens.scopes.unwrap_or(requested), tokens.expires_at)
        });
        (self.health, secrets, oauth)
    }
}

/// The stored auth kind of a spec.
pub(crate) fn auth_kind(spec: &ProviderSpec) -> AuthKind {
    match spec.auth {
        AuthSpec::OAuth2(_) => AuthKind::OAuth2,
        AuthSpec::ApiKey { .. } => AuthKind::ApiKey,
        AuthSpec::Basic { .. } => AuthKind::Basic,
        AuthSpec::ClientCredentials { .. } => AuthKind::ClientCredentials,
    }
}

/// The schedule of a new integration whose client set none: its most frequent
/// stream's (each stream keeps its own).
fn default_schedule(spec: &ProviderSpec) -> i32 {
    spec.streams
        .iter()
        .map(|s| s.default_schedule.as_secs())
        .min()
        .and_then(|secs| i32::try_from(secs).ok())
        .unwrap_or(3600)
        .max(60)
}

/// The stored fields a reconnect keeps: the webhook signing secret and verify
/// token set on the integration.
fn webhook_fields(spec: &ProviderSpec) -> Vec<&'static str> {
    let Some(webhook) = &spec.webhook else {
        return Vec::new();
    };
    let secret = match webhook.secret {
        junction_core::WebhookSecret::Field(field) => Some(field),
        junction_core::WebhookSecret::AppClientSecret => None,
    };
    secret
        .into_iter()
        .chain(webhook.verify_token_field)
        .collect()
}

/// Validates settings and credentials together against the spec and splits them into
/// non-secret config and secret fields (by the spec's `secret` flag, wherever the
/// client put them).
fn split_fields(
    spec: &ProviderSpec,
    config: &Map<String, Value>,
    credentials: &Map<String, Value>,
) -> Result<(Map<String, Value>, BTreeMap<String, SecretString>)> {
    let mut all = config.clone();
    let mut errors = Vec::new();
    for (name, value) in credentials {
        if all.insert(name.clone(), value.clone()).is_some() {
            errors.push(FieldError {
                field: name.clone(),
                message: "is given both in config and in credentials".into(),
            });
        }
    }
    // The setting a setup step will pick may be left out (a blank one is dropped).
    match spec.validate_connect_fields(&all) {
        Ok(missing) => {
            for name in missing {
                all.remove(name);
            }
        }
        Err(mut field_errors) => errors.append(&mut field_errors),
    }
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let mut public = Map::new();
    let mut secrets = BTreeMap::new();
    for field in spec.all_fields() {
        let Some(value) = all.remove(field.name) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        if field.secret {
            let text = match value {
                Value::String(text) => text,
                other => other.to_string(),
            };
            secrets.insert(field.name.to_owned(), SecretString::from(text));
        } else {
            public.insert(field.name.to_owned(), value);
        }
    }
    Ok((public, secrets))
}
