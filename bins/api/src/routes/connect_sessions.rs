//! /v1/connect-sessions: the short-lived tokens with which a workspace's end users
//! connect providers on the Connect page (see junction-app's `connect_sessions` for
//! the rules: allow-listed return URL, at most 30 minutes, token stored as a hash,
//! one connection per provider, and a token that connects but reads nothing).

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use junction_app::{
    connect_sessions::{
        ConnectSessionDetails, CreatedConnectSession, EndUser, NewConnectSession as NewSession,
    },
    models::ConnectSession,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    auth::Auth,
    error::{ApiResult, Problem},
    extract::{Json, Path},
    state::AppState,
};

/// POST /v1/connect-sessions.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnectSession {
    /// The providers the end user may connect (unset or empty: every provider).
    #[serde(default)]
    #[schema(schema_with = crate::schema::connect_providers)]
    pub allowed_providers: Option<Vec<String>>,
    pub end_user: EndUserInput,
    /// Labels for your own filters (`GET /v1/integrations?tag=key:value`), copied
    /// to every integration the session connects.
    #[serde(default)]
    #[schema(schema_with = crate::schema::connect_tags)]
    pub tags: BTreeMap<String, String>,
    /// Where the end user's browser goes when done, with `connect_session`,
    /// `outcome` and `integration_id` or `error` added to its query.
    #[schema(schema_with = crate::schema::return_url)]
    pub return_url: String,
    /// Seconds the session lives.
    #[schema(schema_with = crate::schema::connect_expires_in)]
    pub expires_in: Option<i64>,
}

/// The end user a session is for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndUserInput {
    /// Your own id of the user (the integrations it connects carry it as
    /// `end_user_id`).
    #[schema(schema_with = crate::schema::end_user_id)]
    pub id: String,
    #[schema(schema_with = crate::schema::address_or_null)]
    pub email: Option<String>,
    #[schema(schema_with = crate::schema::end_user_name_or_null)]
    pub display_name: Option<String>,
}

/// An integration a session connected.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionConnection {
    pub provider: String,
    pub integration_id: Uuid,
}

/// A connect session (never its token).
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectSessionView {
    pub id: Uuid,
    /// `active`, `expired` or `revoked`.
    #[schema(schema_with = session_status)]
    pub status: String,
    /// Empty: every provider.
    pub allowed_providers: Vec<String>,
    /// `{"id": ..., "email"?: ..., "display_name"?: ...}`.
    #[schema(value_type = Object)]
    pub end_user: serde_json::Value,
    #[schema(value_type = BTreeMap<String, String>)]
    pub tags: serde_json::Value,
    pub return_url: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// What it connected, one per provider.
    pub connections: Vec<SessionConnection>,
}

fn session_status() -> utoipa::openapi::Object {
    crate::schema::one_of(["active", "expired", "revoked"])
}

impl ConnectSessionView {
    fn new(session: ConnectSession, connected: Vec<(String, Uuid)>, now: DateTime<Utc>) -> Self {
        let status = if session.revoked_at.is_some() {
            "revoked"
        } else if session.expires_at <= now {
            "expired"
        } else {
            "active"
        };
        Self {
            id: session.id,
            status: status.to_owned(),
            allowed_providers: session.allowed_providers,
            end_user: session.end_user,
            tags: session.tags,
            return_url: session.return_url,
            created_at: session.created_at,
            expires_at: session.expires_at,
            revoked_at: session.revoked_at,
            connections: connected
                .into_iter()
                .map(|(provider, integration_id)| SessionConnection {
                    provider,
                    integration_id,
                })
                .collect(),
        }
    }

    fn of(details: ConnectSessionDetails, now: DateTime<Utc>) -> Self {
        Self::new(details.session, details.connected, now)
    }
}

/// A new connect session, with its token: shown once, never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedConnectSessionView {
    pub id: Uuid,
    /// The token (`jcs_...`): it opens the Connect page and connects, nothing else
    /// (it is no API key).
    pub token: String,
    /// The Connect page for the end user: `{public URL}/connect?session=TOKEN`.
    pub connect_url: String,
    pub expires_at: DateTime<Utc>,
    pub session: ConnectSessionView,
}

impl CreatedConnectSessionView {
    fn new(created: CreatedConnectSession, now: DateTime<Utc>) -> Self {
        Self {
            id: created.session.id,
            token: created.token.expose_secret().to_owned(),
            connect_url: created.connect_url.expose_secret().to_owned(),
            expires_at: created.session.expires_at,
            session: ConnectSessionView::new(created.session, Vec::new(), now),
        }
    }
}

/// Creates a connect session for one of your end users and answers its token and
/// the Connect page's URL, to hand to that user's browser.
#[utoipa::path(
    tag = "connect",
    request_body = CreateConnectSession,
    responses(
        (status = 201, body = CreatedConnectSessionView),
        (status = 403, body = Problem, description = "`return_url_not_allowed`: the return URL is not in the workspace's `connect_return_urls` (PATCH /v1/workspace)"),
        (status = 422, body = Problem, description = "`validation_failed`: a field")
    ),
    security(("api_key" = []))
)]
#[post("/v1/connect-sessions")]
pub async fn create(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<CreateConnectSession>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let created = state
        .app
        .create_connect_session(
            auth.workspace_id,
            NewSession {
                allowed_providers: body.allowed_providers.unwrap_or_default(),
                end_user: EndUser {
                    id: body.end_user.id,
                    email: body.end_user.email,
                    display_name: body.end_user.display_name,
                },
                tags: body.tags,
                return_url: body.return_url,
                expires_in_seconds: body.expires_in,
            },
        )
        .await?;
    let view = CreatedConnectSessionView::new(created, state.app.now());
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/connect-sessions/{}", view.id)))
        .json(view))
}

/// One connect session, with what it connected.
#[utoipa::path(
    tag = "connect",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = ConnectSessionView),
        (status = 404, body = Problem, description = "`connect_session_not_found`")
    ),
    security(("api_key" = []))
)]
#[get("/v1/connect-sessions/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
) -> ApiResult<web::Json<ConnectSessionView>> {
    let details = state
        .app
        .connect_session(auth.workspace_id, path.into_inner())
        .await?;
    Ok(web::Json(ConnectSessionView::of(details, state.app.now())))
}

/// Revokes a connect session: its token connects nothing from now on (an OAuth
/// flow it started is refused at the callback). Revoking again changes nothing;
/// integrations it connected stay.
#[utoipa::path(
    tag = "connect",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = ConnectSessionView),
        (status = 404, body = Problem, description = "`connect_session_not_found`")
    ),
    security(("api_key" = []))
)]
#[post("/v1/connect-sessions/{id}/revoke")]
pub async fn revoke(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
) -> ApiResult<web::Json<ConnectSessionView>> {
    let details = state
        .app
        .revoke_connect_session(auth.workspace_id, path.into_inner())
        .await?;
    Ok(web::Json(ConnectSessionView::of(details, state.app.now())))
}
