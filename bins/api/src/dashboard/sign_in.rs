//! Signing in and out: a workspace API key (never kept, never echoed) or an
//! operator's one-time link is exchanged for a session (junction-app's
//! `dashboard`); sign-out ends the session. The sign-in forms come before any
//! session, so their CSRF protection is a double-submit token: a random value in a
//! SameSite=Strict cookie and in the form.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use junction_app::dashboard;
use junction_core::ErrorCode;
use secrecy::SecretString;
use serde::Deserialize;

use super::{
    forms::Form,
    session::{self, SESSION_COOKIE, SIGN_IN_COOKIE, Signed},
    ui::{self, DashError, HOME, Layout, Notice, page},
};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "dashboard/sign_in.html")]
struct SignInPage {
    layout: Layout,
    form_token: String,
    next: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard/sign_in_link.html")]
struct LinkPage {
    layout: Layout,
    form_token: String,
    token: String,
}

#[derive(Debug, Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
    signed_out: Option<String>,
}

/// Shows a sign-in form with a fresh double-submit token.
fn sign_in_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    next: String,
    error: Option<String>,
    notice: Option<Notice>,
) -> Result<HttpResponse, DashError> {
    let form_token = dashboard::sign_in_form_token()?;
    let mut response = page(
        status,
        &SignInPage {
            layout: Layout::new("Sign in", "sign-in", None).with_notice(notice),
            form_token: form_token.clone(),
            next,
            error,
        },
    )?;
    response
        .add_cookie(&session::sign_in_cookie(req, state, &form_token))
        .map_err(|e| DashError::App(junction_app::Error::internal(e)))?;
    Ok(response)
}

/// `GET /dashboard/sign-in`: the form (a visitor already signed in goes on).
pub async fn form(
    req: HttpRequest,
    query: web::Query<SignInQuery>,
) -> Result<HttpResponse, DashError> {
    let state = ui::state(&req)?;
    let next = session::safe_next(query.next.as_deref());
    if session::current(&req).await?.is_some() {
        return Ok(ui::see_other(&next));
    }
    let notice = query
        .signed_out
        .as_ref()
        .map(|_| Notice::ok("You are signed out."));
    sign_in_page(&req, &state, StatusCode::OK, next, None, notice)
}

/// Opens a session: sets its cookie, drops the sign-in token, goes to `next`.
fn signed_in(
    req: &HttpRequest,
    state: &AppState,
    signed: dashboard::SignedIn,
    next: &str,
) -> Result<HttpResponse, DashError> {
    let mut response = ui::see_other(next);
    let internal = |e| DashError::App(junction_app::Error::internal(e));
    response
        .add_cookie(&session::session_cookie(
            req,
            state,
            &signed.cookie_value,
            &signed.session,
        ))
        .map_err(internal)?;
    response
        .add_cookie(&session::removal(req, state, SIGN_IN_COOKIE))
        .map_err(internal)?;
    Ok(response)
}

/// `POST /dashboard/sign-in`: exchanges the key for a session.
pub async fn submit(req: HttpRequest, form: Form) -> Result<HttpResponse, DashError> {
    let state = ui::state(&req)?;
    let next = session::safe_next(form.get("next"));
    if !session::sign_in_token_valid(&req, &form) {
        return sign_in_page(
            &req,
            &state,
            StatusCode::FORBIDDEN,
            next,
            None,
            Some(Notice::bad(
                "The sign-in form expired or came from elsewhere: nothing was sent. \
                 Enter the key again.",
            )),
        );
    }
    let Some(key) = form.text("api_key") else {
        return sign_in_page(
            &req,
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            next,
            Some("Enter a workspace API key.".into()),
            None,
        );
    };
    let key = SecretString::from(key);
    match dashboard::sign_in_with_key(&state.app.store, &key).await {
        Ok(signed) => signed_in(&req, &state, signed, &next),
        Err(error)
            if matches!(
                error.code,
                ErrorCode::Unauthenticated | ErrorCode::ApiKeyRevoked
            ) =>
        {
            // The use case's message says unknown or revoked, never the key.
            sign_in_page(
                &req,
                &state,
                StatusCode::UNAUTHORIZED,
                next,
                Some(format!("{}.", error.detail)),
                None,
            )
        }
        Err(error) => Err(error.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct LinkQuery {
    token: Option<String>,
}

/// `GET /dashboard/sign-in/link?token=`: asks to continue (a link preview fetching
/// the URL must not spend the one-time link).
pub async fn link_form(
    req: HttpRequest,
    query: web::Query<LinkQuery>,
) -> Result<HttpResponse, DashError> {
    let state = ui::state(&req)?;
    let form_token = dashboard::sign_in_form_token()?;
    let mut response = page(
        StatusCode::OK,
        &LinkPage {
            layout: Layout::new("Sign in", "sign-in", None),
            form_token: form_token.clone(),
            token: query.token.clone().unwrap_or_default(),
        },
    )?;
    // The token is in this page's URL: no referrer may carry it anywhere.
    response.headers_mut().insert(
        actix_web::http::header::REFERRER_POLICY,
        actix_web::http::header::HeaderValue::from_static("no-referrer"),
    );
    response
        .add_cookie(&session::sign_in_cookie(&req, &state, &form_token))
        .map_err(|e| DashError::App(junction_app::Error::internal(e)))?;
    Ok(response)
}

/// `POST /dashboard/sign-in/link`: uses the link (once) and opens a session.
pub async fn link_submit(req: HttpRequest, form: Form) -> Result<HttpResponse, DashError> {
    let state = ui::state(&req)?;
    if !session::sign_in_token_valid(&req, &form) {
        return Err(DashError::Csrf);
    }
    let token = SecretString::from(form.text("token").unwrap_or_default());
    match dashboard::sign_in_with_link(&state.app.store, &token).await {
        Ok(signed) => signed_in(&req, &state, signed, HOME),
        Err(error) if error.code == ErrorCode::Unauthenticated => sign_in_page(
            &req,
            &state,
            StatusCode::UNAUTHORIZED,
            HOME.to_owned(),
            None,
            Some(Notice::bad(error.detail)),
        ),
        Err(error) => Err(error.into()),
    }
}

/// `POST /dashboard/sign-out`: ends the session and forgets the cookie.
pub async fn sign_out(
    req: HttpRequest,
    signed: Signed,
    form: Form,
) -> Result<HttpResponse, DashError> {
    signed.check(&form)?;
    let state = ui::state(&req)?;
    dashboard::sign_out(&state.app.store, &signed).await?;
    let mut response = ui::see_other("/dashboard/sign-in?signed_out=1");
    response
        .add_cookie(&session::removal(&req, &state, SESSION_COOKIE))
        .map_err(|e| DashError::App(junction_app::Error::internal(e)))?;
    Ok(response)
}
