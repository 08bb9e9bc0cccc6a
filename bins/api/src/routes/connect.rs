//! OAuth 2.0 connections: POST /v1/connect/{provider} starts a flow, GET
//! /oauth/callback finishes it.
//!
//! The `state` parameter is random, stored only as a hash, single-use, bound to the
//! workspace and the provider, and expires after 10 minutes; PKCE S256 is used where
//! the provider's spec says so (the verifier is sealed like a credential). Every
//! outcome of the callback — connected, consent denied, provider error, replayed or
//! expired state, a state used at another provider's callback — is reported to the
//! `return_to` URL (or as JSON when there is none), and only success stores anything.

use actix_web::{HttpResponse, get, post, web};
use chrono::Duration;
use junction_core::{
    AdapterError, Connection, ErrorCode, IntegrationId, OAuth2Spec, WorkspaceId, spec::ProviderSpec,
};
use junction_store::{
    models::{
        Health, Integration, IntegrationStatus, LogLevel, NewIntegration, OAuthState, Operation,
    },
    repo::{
        self,
        integrations::IntegrationPatch,
        oauth_states::{ConsumeError, NewOAuthState},
    },
};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use url::Url;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{
    integrations::{
        auth_kind, connect_check_error, default_schedule, split_fields, validate_schedule,
    },
    log,
};
use crate::{
    auth::Authenticated,
    error::{ApiError, ApiResult, JsonOrEmpty, Problem},
    state::AppState,
    views::{CallbackOutcome, ConnectRequest, ConnectResponse},
};

/// How long a started flow may take.
pub const STATE_LIFETIME_MINUTES: i64 = 10;

/// Validates a `return_to` against the allow-list.
fn parse_return_to(state: &AppState, return_to: Option<&str>) -> ApiResult<Option<Url>> {
    let Some(raw) = return_to else {
        return Ok(None);
    };
    let url =
        Url::parse(raw).map_err(|_| ApiError::field("return_to", "must be an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ApiError::field("return_to", "must be an http(s) URL"));
    }
    if !state.config.return_to_allowed(&url) {
        return Err(ApiError::field(
            "return_to",
            "its origin is not allowed (add it to JUNCTION_RETURN_TO_ORIGINS)",
        ));
    }
    Ok(Some(url))
}

/// Starts an OAuth flow (a new connection, or a reconnection of `existing`).
#[allow(clippy::too_many_arguments)]
pub async fn start_flow(
    state: &AppState,
    workspace_id: WorkspaceId,
    spec: &ProviderSpec,
    oauth: &OAuth2Spec,
    existing: Option<&Integration>,
    config: Map<String, Value>,
    display_name: Option<&str>,
    schedule_seconds: Option<i32>,
    return_to: Option<&str>,
) -> ApiResult<ConnectResponse> {
    let return_to = parse_return_to(state, return_to)?;
    let client = state.oauth_client(spec.id, oauth)?;
    let request = state.connections.oauth.authorize(oauth, &client)?;
    let expires_at = state.now() + Duration::minutes(STATE_LIFETIME_MINUTES);
    let mut tx = state.store.begin(workspace_id).await?;
    repo::oauth_states::insert(
        tx.conn(),
        state.vault(),
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
        },
    )
    .await?;
    tx.commit().await?;
    Ok(ConnectResponse {
        authorize_url: request.url.to_string(),
        expires_at,
    })
}

/// Starts connecting an OAuth provider: returns the URL to send the user to.
#[utoipa::path(
    tag = "connect",
    params(
        ("provider" = String, Path, description = "Provider id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body")
    ),
    request_body = ConnectRequest,
    responses(
        (status = 201, body = ConnectResponse), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)
    ),
    security(("api_key" = []))
)]
#[post("/v1/connect/{provider}")]
pub async fn connect(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<String>,
    JsonOrEmpty(body): JsonOrEmpty<ConnectRequest>,
) -> ApiResult<HttpResponse> {
    let provider = path.into_inner();
    let adapter = state.adapter(&provider)?;
    let spec = adapter.spec();
    let junction_core::AuthSpec::OAuth2(oauth) = &spec.auth else {
        return Err(ApiError::new(
            ErrorCode::UnsupportedOperation,
            format!(
                "{} connects with credentials: use POST /v1/integrations",
                spec.name
            ),
        ));
    };
    validate_schedule(body.schedule_seconds)?;
    // Only config fields here: OAuth providers have no typed-in credentials.
    let (config, secrets) = split_fields(spec, &body.config, &Map::new())?;
    if let Some(field) = secrets.keys().next() {
        return Err(ApiError::field(
            field,
            "secret settings cannot travel through an OAuth flow",
        ));
    }
    let started = start_flow(
        &state,
        auth.workspace_id,
        spec,
        oauth,
        None,
        config,
        body.display_name.as_deref(),
        body.schedule_seconds,
        body.return_to.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Created().json(started))
}

/// The provider's redirect back to Junction.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Where and how to report a callback's outcome.
struct Outcome {
    return_to: Option<Url>,
    result: Result<Uuid, ApiError>,
    denied: bool,
}

impl Outcome {
    fn respond(self) -> HttpResponse {
        match (self.return_to, self.result) {
            (Some(mut url), result) => {
                {
                    let mut query = url.query_pairs_mut();
                    match &result {
                        Ok(id) => {
                            query.append_pair("status", "connected");
                            query.append_pair("integration_id", &id.to_string());
                        }
                        Err(error) => {
                            query.append_pair(
                                "status",
                                if self.denied { "denied" } else { "error" },
                            );
                            query.append_pair("error", error.code.name());
                            query.append_pair("error_description", &error.detail);
                        }
                    }
                }
                HttpResponse::Found()
                    .insert_header(("Location", url.to_string()))
                    .finish()
            }
            (None, Ok(id)) => HttpResponse::Ok().json(CallbackOutcome {
                status: "connected".into(),
                integration_id: id,
            }),
            (None, Err(error)) => actix_web::ResponseError::error_response(&error),
        }
    }
}

/// Finishes an OAuth flow: exchanges the code, seals the tokens, records scopes and
/// expiry, checks the connection, logs, and redirects to `return_to` with the outcome.
#[utoipa::path(
    tag = "connect",
    params(CallbackQuery),
    responses(
        (status = 302, description = "Redirect to return_to with status, integration_id or error"),
        (status = 200, body = CallbackOutcome), (status = 400, body = Problem)
    )
)]
#[get("/oauth/callback")]
pub async fn callback(
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
) -> HttpResponse {
    finish(&state, None, query.into_inner()).await.respond()
}

/// The same, for redirect URIs that name the provider: a state issued for another
/// provider is refused.
#[utoipa::path(
    tag = "connect",
    params(("provider" = String, Path), CallbackQuery),
    responses((status = 302, description = "Redirect to return_to with the outcome"), (status = 400, body = Problem))
)]
#[get("/oauth/callback/{provider}")]
pub async fn callback_for_provider(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<CallbackQuery>,
) -> HttpResponse {
    finish(&state, Some(path.into_inner()), query.into_inner())
        .await
        .respond()
}

fn invalid_state(detail: &str) -> ApiError {
    ApiError::new(ErrorCode::OAuthStateInvalid, detail)
}

async fn finish(state: &AppState, path_provider: Option<String>, query: CallbackQuery) -> Outcome {
    let fail = |return_to: Option<Url>, error: ApiError| Outcome {
        return_to,
        result: Err(error),
        denied: false,
    };
    let Some(raw_state) = query.state.filter(|s| !s.is_empty()) else {
        return fail(None, invalid_state("the callback has no state parameter"));
    };
    let oauth_state = SecretString::from(raw_state);
    let workspace_id = match workspace_of(state, &oauth_state).await {
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
    let consumed = consume(state, workspace_id, &oauth_state).await;
    let (row, verifier) = match consumed {
        Ok(Ok(found)) => found,
        Ok(Err((reason, return_to))) => {
            let detail = match reason {
                ConsumeError::AlreadyUsed => {
                    "this authorization was already used: start the connection again"
                }
                ConsumeError::Expired => {
                    "the connection attempt expired (10 minutes): start it again"
                }
                ConsumeError::Unknown => "unknown state: start the connection again",
            };
            return fail(return_to, invalid_state(detail));
        }
        Err(error) => return fail(None, error),
    };
    let return_to = row.return_to.as_deref().and_then(|u| Url::parse(u).ok());
    if let Some(provider) = &path_provider
        && *provider != row.provider
    {
        return fail(
            return_to,
            invalid_state(&format!(
                "this authorization was started for {}, not {provider}",
                row.provider
            )),
        );
    }
    if let Some(error) = query.error {
        let denied = error == "access_denied";
        let description = query.error_description.unwrap_or_default();
        let api_error = if denied {
            ApiError::new(ErrorCode::OAuthDenied, "the user did not grant access")
        } else {
            ApiError::new(
                ErrorCode::ProviderRejected,
                format!("the provider refused the authorization: {error} {description}")
                    .trim()
                    .to_owned(),
            )
        };
        log_outside(
            state,
            workspace_id,
            row.integration_id,
            LogLevel::Warn,
            &api_error.detail,
        )
        .await;
        return Outcome {
            return_to,
            result: Err(api_error),
            denied,
        };
    }
    let Some(code) = query.code.filter(|c| !c.is_empty()) else {
        return fail(
            return_to,
            ApiError::new(
                ErrorCode::InvalidRequest,
                "the callback has neither code nor error",
            ),
        );
    };
    let result = complete(state, workspace_id, &row, &code, verifier.as_ref()).await;
    if let Err(error) = &result {
        log_outside(
            state,
            workspace_id,
            row.integration_id,
            LogLevel::Error,
            &format!("connection failed: {}", error.detail),
        )
        .await;
    }
    Outcome {
        return_to,
        result,
        denied: false,
    }
}

async fn workspace_of(
    state: &AppState,
    oauth_state: &SecretString,
) -> ApiResult<Option<WorkspaceId>> {
    let mut conn = state.store.unscoped().await?;
    Ok(repo::oauth_states::workspace_of(&mut conn, oauth_state).await?)
}

type Consumed = Result<(OAuthState, Option<SecretString>), (ConsumeError, Option<Url>)>;

async fn consume(
    state: &AppState,
    workspace_id: WorkspaceId,
    oauth_state: &SecretString,
) -> ApiResult<Consumed> {
    let mut tx = state.store.begin(workspace_id).await?;
    let result =
        match repo::oauth_states::consume(tx.conn(), state.vault(), oauth_state, state.now())
            .await?
        {
            Ok(found) => Ok(found),
            Err(reason) => {
                let return_to = repo::oauth_states::find(tx.conn(), oauth_state)
                    .await?
                    .and_then(|row| row.return_to)
                    .and_then(|u| Url::parse(&u).ok());
                Err((reason, return_to))
            }
        };
    tx.commit().await?;
    Ok(result)
}

/// Logs a failed flow on the integration being reconnected (a new connection has no
/// integration to log on: its failure is reported to the user and in the server log).
async fn log_outside(
    state: &AppState,
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
        let mut tx = state.store.begin(workspace_id).await?;
        log(
            tx.conn(),
            workspace_id,
            integration_id,
            level,
            Operation::Reconnect,
            message,
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok::<_, ApiError>(())
    };
    if let Err(error) = attempt.await {
        tracing::warn!(error = %error, "could not log the failed OAuth flow");
    }
}

/// Exchanges the code, checks the connection and stores it.
async fn complete(
    state: &AppState,
    workspace_id: WorkspaceId,
    row: &OAuthState,
    code: &str,
    verifier: Option<&SecretString>,
) -> ApiResult<Uuid> {
    let adapter = state.adapter(&row.provider)?;
    let spec = adapter.spec();
    let junction_core::AuthSpec::OAuth2(oauth) = &spec.auth else {
        return Err(invalid_state("the provider no longer connects with OAuth"));
    };
    let client = state.oauth_client(spec.id, oauth)?;
    let now = state.now();
    let tokens = state
        .connections
        .oauth
        .exchange_code(oauth, &client, code, verifier, now)
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
    let ctx = state.adapter_context(spec.id);
    let health = match adapter.check(&ctx, &connection).await {
        Ok(health) => health,
        Err(error) => {
            // Do not leave a live grant behind for a connection we refuse to store.
            let token = tokens
                .refresh_token
                .as_ref()
                .unwrap_or(&tokens.access_token);
            if let Err(revoke_error) = state.connections.oauth.revoke(oauth, &client, token).await {
                tracing::warn!(provider = spec.id, error = %revoke_error, "could not revoke the refused grant");
            }
            return Err(check_error(error));
        }
    };
    let scopes = tokens
        .scopes
        .clone()
        .unwrap_or_else(|| oauth.scopes.iter().map(|s| (*s).to_owned()).collect());
    let mut secrets = std::collections::BTreeMap::new();
    secrets.insert(
        junction_oauth::ACCESS_TOKEN.to_owned(),
        tokens.access_token.clone(),
    );
    if let Some(refresh) = &tokens.refresh_token {
        secrets.insert(junction_oauth::REFRESH_TOKEN.to_owned(), refresh.clone());
    }

    let mut tx = state.store.begin(workspace_id).await?;
    let reconnecting = row.integration_id.is_some();
    if reconnecting {
        repo::integrations::update(
            tx.conn(),
            id,
            &IntegrationPatch {
                scopes: Some(scopes.clone()),
                token_expires_at: Some(tokens.expires_at),
                status: Some(IntegrationStatus::Active),
                ..Default::default()
            },
        )
        .await?;
        repo::integrations::set_status(tx.conn(), id, IntegrationStatus::Active, None).await?;
    } else {
        repo::integrations::insert(
            tx.conn(),
            &NewIntegration {
                id,
                workspace_id: workspace_id.as_uuid(),
                provider: spec.id.to_owned(),
                display_name: row
                    .display_name
                    .clone()
                    .unwrap_or_else(|| spec.name.to_owned()),
                status: IntegrationStatus::Active,
                auth_kind: auth_kind(spec),
                config: Value::Object(config),
                scopes: scopes.clone(),
                token_expires_at: tokens.expires_at,
                schedule_seconds: row
                    .schedule_seconds
                    .unwrap_or_else(|| default_schedule(spec)),
                next_sync_at: Some(now),
            },
        )
        .await?;
    }
    repo::credentials::put(tx.conn(), state.vault(), workspace_id, id, &secrets).await?;
    repo::integrations::record_health(tx.conn(), id, Health::Healthy, health.account.as_deref())
        .await?;
    log(
        tx.conn(),
        workspace_id,
        id,
        LogLevel::Info,
        if reconnecting {
            Operation::Reconnect
        } else {
            Operation::Connect
        },
        if reconnecting {
            "reconnected through OAuth; health check passed"
        } else {
            "connected through OAuth; health check passed"
        },
        json!({
            "scopes": scopes,
            "token_expires_at": tokens.expires_at,
            "refresh_token": tokens.refresh_token.is_some(),
            "account": health.account,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

fn check_error(error: AdapterError) -> ApiError {
    let mapped = connect_check_error(error);
    ApiError::new(
        mapped.code,
        format!(
            "the new connection failed its health check: {}",
            mapped.detail
        ),
    )
}
