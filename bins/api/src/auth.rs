//! Workspace API-key authentication: `Authorization: Bearer jct_...`. Every /v1 route
//! takes [`Auth`], which scopes it to the key's workspace.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use junction_app::workspaces;
use junction_core::ErrorCode;
use secrecy::SecretString;

use crate::{error::ApiError, state::AppState};

pub use junction_app::workspaces::Authenticated;

/// Resolves the request's API key (once per request: the result is kept in the
/// request's extensions, so the idempotency middleware and the handler share it).
pub async fn authenticate(req: &HttpRequest) -> Result<Authenticated, ApiError> {
    if let Some(done) = req.extensions().get::<Authenticated>() {
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
    let authenticated = workspaces::authenticate(&state.app.store, &key).await?;
    req.extensions_mut().insert(authenticated);
    Ok(authenticated)
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
