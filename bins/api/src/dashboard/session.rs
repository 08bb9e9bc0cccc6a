//! The dashboard session as a request sees it: the cookie (HttpOnly, SameSite=Lax,
//! Path=/dashboard, Secure when the request came over https), the extractor every
//! signed-in page takes ([`Signed`]), and the CSRF check every form goes through.
//! The rules themselves (lifetimes, hashing, the token) are junction-app's
//! `dashboard` module.

use std::{future::Future, pin::Pin};

use actix_web::{
    FromRequest, HttpMessage, HttpRequest,
    cookie::{Cookie, SameSite, time},
    dev::Payload,
};
use junction_app::dashboard::{self, Session};
use secrecy::{ExposeSecret, SecretString};

use super::{
    forms::{CSRF_FIELD, Form},
    ui::{self, DashError},
};
use crate::state::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "junction_session";
/// The sign-in form's double-submit cookie (sign-in happens before a session
/// exists, so its token cannot be tied to one).
pub const SIGN_IN_COOKIE: &str = "junction_sign_in";
/// Where the cookies apply.
pub const COOKIE_PATH: &str = "/dashboard";

/// Whether cookies must be `Secure`: the public URL is https, or this request came
/// over https (directly, or as a proxy's `X-Forwarded-Proto`/`Forwarded` says).
pub fn secure(req: &HttpRequest, state: &AppState) -> bool {
    state.app.config.public_url.scheme() == "https" || req.connection_info().scheme() == "https"
}

/// A cookie of the dashboard's, with the flags every one of them carries.
fn cookie<'a>(req: &HttpRequest, state: &AppState, name: &'a str, value: String) -> Cookie<'a> {
    Cookie::build(name, value)
        .path(COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure(req, state))
        .finish()
}

/// The session cookie for a new session, living until the session's absolute end.
pub fn session_cookie<'a>(
    req: &HttpRequest,
    state: &AppState,
    value: &SecretString,
    session: &Session,
) -> Cookie<'a> {
    let mut cookie = cookie(req, state, SESSION_COOKIE, value.expose_secret().to_owned());
    let seconds = (session.expires_at() - chrono::Utc::now())
        .num_seconds()
        .max(0);
    cookie.set_max_age(time::Duration::seconds(seconds));
    cookie
}

/// A cookie that removes `name` from the browser.
pub fn removal<'a>(req: &HttpRequest, state: &AppState, name: &'a str) -> Cookie<'a> {
    let mut cookie = cookie(req, state, name, String::new());
    cookie.make_removal();
    cookie
}

/// The sign-in form's token cookie (a fresh random value for each form shown).
pub fn sign_in_cookie<'a>(req: &HttpRequest, state: &AppState, token: &str) -> Cookie<'a> {
    let mut cookie = cookie(req, state, SIGN_IN_COOKIE, token.to_owned());
    cookie.set_same_site(SameSite::Strict);
    cookie.set_max_age(time::Duration::hours(1));
    cookie
}

/// Whether a sign-in form carries the token of its cookie.
pub fn sign_in_token_valid(req: &HttpRequest, form: &Form) -> bool {
    double_submit_valid(req, SIGN_IN_COOKIE, form)
}

/// Whether a form carries the double-submit token of the cookie `name` (forms
/// shown before any session: sign-in, the Connect page).
pub fn double_submit_valid(req: &HttpRequest, name: &str, form: &Form) -> bool {
    let cookie = req.cookie(name);
    match (cookie, form.get(CSRF_FIELD)) {
        (Some(cookie), Some(sent)) => dashboard::same_token(cookie.value(), sent),
        _ => false,
    }
}

/// The request's live session, looked up once per request.
pub async fn current(req: &HttpRequest) -> Result<Option<Session>, DashError> {
    if let Some(found) = req.extensions().get::<Option<Session>>() {
        return Ok(found.clone());
    }
    let state = ui::state(req)?;
    let found = match req.cookie(SESSION_COOKIE) {
        Some(cookie) if !cookie.value().is_empty() => {
            let value = SecretString::from(cookie.value().to_owned());
            dashboard::session(&state.app.store, &value).await?
        }
        _ => None,
    };
    req.extensions_mut().insert(found.clone());
    Ok(found)
}

/// A signed-in request: every dashboard page but sign-in and the assets takes it.
/// Without a live session the request is sent to sign in (and back afterwards).
#[derive(Debug, Clone)]
pub struct Signed(pub Session);

impl std::ops::Deref for Signed {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.0
    }
}

impl Signed {
    /// Refuses a form without this session's CSRF token.
    pub fn check(&self, form: &Form) -> Result<(), DashError> {
        if self.0.csrf_valid(form.get(CSRF_FIELD)) {
            Ok(())
        } else {
            Err(DashError::Csrf)
        }
    }
}

impl FromRequest for Signed {
    type Error = DashError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match current(&req).await? {
                Some(session) => Ok(Signed(session)),
                None => Err(DashError::SignedOut {
                    next: back_to(&req),
                    htmx: req.headers().contains_key("HX-Request"),
                }),
            }
        })
    }
}

/// Where to come back after signing in: this page, for a GET of a dashboard page
/// (never another site's URL); the integrations otherwise.
fn back_to(req: &HttpRequest) -> Option<String> {
    // An htmx request's own URL is a fragment: come back to the page it came from.
    if let Some(current) = req.headers().get("HX-Current-URL") {
        let current = current.to_str().ok()?;
        let after_host = current.split_once("://").map_or(current, |(_, rest)| rest);
        let path = &after_host[after_host.find('/')?..];
        return path.starts_with("/dashboard/").then(|| path.to_owned());
    }
    (req.method() == actix_web::http::Method::GET && req.path().starts_with("/dashboard/")).then(
        || match req.query_string() {
            "" => req.path().to_owned(),
            query => format!("{}?{query}", req.path()),
        },
    )
}

/// Keeps a `next` value only when it is a dashboard path (no open redirect).
pub fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| n.starts_with("/dashboard/") && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or(ui::HOME)
        .to_owned()
}
