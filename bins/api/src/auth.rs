//! API-key authentication: `Authorization: Bearer jct_...` (a workspace's key) or
//! `Bearer jop_...` (an operator key). Every /v1 route takes [`Auth`], which scopes
//! it to the key's workspace and refuses operator keys; the one route that serves
//! both kinds (`GET /v1/jobs/stats`) takes [`AnyCaller`].

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use junction_core::ErrorCode;
use secrecy::SecretString;

use crate::{error::ApiError, state::AppState};

pub use junction_app::workspaces::{Authenticated, Caller};

/// Resolves the request's key, of either kind (once per request: the result is kept
/// in the request's extensions, so the idempotency middleware and the handler share
/// it).
pub async fn caller(req: &HttpRequest) -> Result<Caller, ApiError> {
    if let Some(done) = req.extensions().get::<Caller>() {
        return Ok(*done);
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("application state missing")))?
        .clone();
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthenticated,
                "send `Authorization: Bearer <workspace API key>`",
            )
        })?;
    let token = header
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthenticated,
                "the Authorization header must be `Bearer <API key>`",
            )
        })?;
    let key = SecretString::from(token.to_owned());
    let caller = state.app.authenticate_caller(&key).await?;
    req.extensions_mut().insert(caller);
    Ok(caller)
}

/// The request's workspace: a workspace API key is required (an operator key reads
/// installation-wide figures only, and is refused here with 403).
pub async fn authenticate(req: &HttpRequest) -> Result<Authenticated, ApiError> {
    match caller(req).await? {
        Caller::Workspace(authenticated) => Ok(authenticated),
        Caller::Operator { .. } => Err(ApiError::new(
            ErrorCode::Forbidden,
            "an operator key reads installation-wide figures only (GET /v1/jobs/stats); \
             this route takes a workspace API key",
        )),
    }
}

/// Extracts the request's workspace (see [`authenticate`]).
#[derive(Debug, Clone, Copy)]
pub struct Auth(pub Authenticated);

impl std::ops::Deref for Auth {
    type Target = Authenticated;

    fn deref(&self) -> &Authenticated {
        &self.0
    }
}

impl FromRequest for Auth {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await.map(Auth) })
    }
}

/// Extracts who the request acts for, a workspace or an operator (see [`caller`]).
#[derive(Debug, Clone, Copy)]
pub struct AnyCaller(pub Caller);

impl FromRequest for AnyCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { caller(&req).await.map(AnyCaller) })
    }
}
