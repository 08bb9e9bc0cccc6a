//! OAuth 2.0 connections: POST /v1/connect/{provider} starts a flow, GET
//! /oauth/callback finishes it (see junction-app's `connect` for the rules: random
//! single-use state bound to workspace and provider, PKCE, every outcome reported
//! to `return_to`, only success stores anything).

use actix_web::{HttpResponse, get, post, web};
use junction_app::{
    connect::{CallbackOutcome as Outcome, NewOAuthConnection, OAuthCallback},
    connect_sessions::{self, ConnectOutcome},
};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{
    auth::Auth,
    error::{ApiError, ApiResult, Problem},
    extract::{JsonOrEmpty, Path, Query},
    state::AppState,
    views::{CallbackOutcome, ConnectRequest, ConnectResponse},
};

/// Starts connecting an OAuth provider: returns the URL to send the user to.
///
/// A required setting whose choices the provider lists (the GA4 `property_id`,
/// the Meta `ad_account_id`: `options: true` in GET /v1/providers) may be left out:
/// the integration is then connected as `needs_setup`, its choices are listed by
/// GET /v1/integrations/{id}/options/{field}, and PATCH /v1/integrations/{id}
/// with the chosen value completes it.
#[utoipa::path(
    tag = "connect",
    params(
        ("provider" = String, Path, description = "Provider id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body")
    ),
    request_body = ConnectRequest,
    responses(
        (status = 201, body = ConnectResponse),
        (status = 400, body = Problem, description = "`unsupported_operation`: the provider connects with credentials (POST /v1/integrations); or a malformed request"),
        (status = 404, body = Problem, description = "`unknown_provider`"),
        (status = 422, body = Problem, description = "`validation_failed`: a config field, or a `return_to` whose origin is not allowed")
    ),
    security(("api_key" = []))
)]
#[post("/v1/connect/{provider}")]
pub async fn connect(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<String>,
    JsonOrEmpty(body): JsonOrEmpty<ConnectRequest>,
) -> ApiResult<HttpResponse> {
    let started = state
        .app
        .start_oauth(
            auth.workspace_id,
            NewOAuthConnection {
                provider: path.into_inner(),
                display_name: body.display_name,
                config: body.config,
                schedule_seconds: body.schedule_seconds,
                return_to: body.return_to,
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(ConnectResponse::from(started)))
}

/// The provider's redirect back to Junction.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// The authorization code (absent when the user denied consent).
    pub code: Option<String>,
    /// The state Junction put in the authorize URL: it names the pending flow.
    #[param(required = true, min_length = 1)]
    pub state: Option<String>,
    /// The provider's error (`access_denied` when the user denied consent).
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl From<CallbackQuery> for OAuthCallback {
    fn from(query: CallbackQuery) -> Self {
        Self {
            code: query.code,
            state: query.state,
            error: query.error,
            error_description: query.error_description,
        }
    }
}

/// Reports a callback's outcome: a redirect to `return_to` with `status`,
/// `integration_id` or `error` and `error_description`, or JSON without one; a
/// connect session's flow reports in the session's terms ([`connect_sessions::outcome_url`]).
fn respond(outcome: Outcome) -> HttpResponse {
    // A flow started through a connect session ends on the Connect page's outcome
    // page (Junction's origin), which posts the outcome to the window that opened
    // or framed the Connect page and forwards to the session's return URL.
    if let (Some(session_id), Some(url)) = (outcome.connect_session_id, &outcome.return_to) {
        let (result, integration_id, error) = match &outcome.result {
            Ok(id) => (ConnectOutcome::Connected, Some(*id), None),
            Err(error) => {
                let result = if outcome.expired {
                    ConnectOutcome::Expired
                } else {
                    connect_sessions::outcome_of(error, outcome.denied)
                };
                (result, None, Some(error.code))
            }
        };
        let url = connect_sessions::outcome_url(url, session_id, result, integration_id, error);
        let page = crate::connect_ui::outcome_page(crate::connect_ui::Outcome {
            connect_session: session_id,
            outcome: result,
            provider: outcome.provider.clone(),
            integration_id,
            error,
            url: url.clone(),
        });
        return match page {
            Ok(page) => page,
            // The page could not be rendered: the redirect alone still reports.
            Err(_) => HttpResponse::Found()
                .insert_header(("Location", url.to_string()))
                .finish(),
        };
    }
    match (outcome.return_to, outcome.result) {
        (Some(mut url), result) => {
            {
                let mut query = url.query_pairs_mut();
                match &result {
                    Ok(id) => {
                        query.append_pair("status", "connected");
                        query.append_pair("integration_id", &id.to_string());
                    }
                    Err(error) => {
                        query
                            .append_pair("status", if outcome.denied { "denied" } else { "error" });
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
        (None, Err(error)) => actix_web::ResponseError::error_response(&ApiError(error)),
    }
}

/// Finishes an OAuth flow: exchanges the code, seals the tokens, records scopes and
/// expiry, checks the connection, logs, and redirects to `return_to` with the outcome.
#[utoipa::path(
    tag = "connect",
    params(CallbackQuery),
    responses(
        (status = 302, description = "Redirect to return_to with status, integration_id or error"),
        (status = 200, description = "Without a return_to: the new integration. For a flow started through a connect session: the Connect page's outcome page (text/html), which posts the outcome to the window that opened or framed the Connect page and forwards to the session's return_url with connect_session, outcome (connected, denied, expired, error) and integration_id or error (docs/connect.md)", content((CallbackOutcome = "application/json"), (String = "text/html"))),
        (status = 400, body = Problem, description = "No `state`; or `oauth_denied`: the user denied consent (without a `return_to`)"),
        (status = 404, body = Problem, description = "`oauth_state_invalid`: the state names no pending flow (unknown, expired, already used, or another provider's)"),
        (status = 422, body = Problem, description = "`invalid_credentials`: the new connection failed its health check"),
        (status = 502, body = Problem, description = "The token endpoint refused or failed (`provider_*`)")
    )
)]
#[get("/oauth/callback")]
pub async fn callback(state: web::Data<AppState>, query: Query<CallbackQuery>) -> HttpResponse {
    respond(
        state
            .app
            .finish_oauth(None, query.into_inner().into())
            .await,
    )
}

/// The same, for redirect URIs that name the provider: a state issued for another
/// provider is refused.
#[utoipa::path(
    tag = "connect",
    params(("provider" = String, Path), CallbackQuery),
    responses(
        (status = 302, description = "Redirect to return_to with the outcome"),
        (status = 200, description = "Without a return_to: the new integration; a connect session's flow: the Connect page's outcome page (text/html), as for /oauth/callback", content((CallbackOutcome = "application/json"), (String = "text/html"))),
        (status = 400, body = Problem, description = "No `state`; or `oauth_denied`: the user denied consent (without a `return_to`)"),
        (status = 404, body = Problem, description = "`oauth_state_invalid`: the state names no pending flow of this provider"),
        (status = 422, body = Problem, description = "`invalid_credentials`: the new connection failed its health check"),
        (status = 502, body = Problem, description = "The token endpoint refused or failed (`provider_*`)")
    )
)]
#[get("/oauth/callback/{provider}")]
pub async fn callback_for_provider(
    state: web::Data<AppState>,
    path: Path<String>,
    query: Query<CallbackQuery>,
) -> HttpResponse {
    let provider = path.into_inner();
    respond(
        state
            .app
            .finish_oauth(Some(&provider), query.into_inner().into())
            .await,
    )
}
