//! The Connect page (`/connect?session=TOKEN`): where a client's end users connect
//! providers through a connect session (junction-app's `connect_sessions`), as a
//! full page, in a popup or in an iframe on the client's site.
//!
//! - The token is the only credential: it lists the session's providers (with
//!   whether each is connected) and connects them, nothing else. It lives in the
//!   page's URL and in its forms' hidden field, never in a log (the request log
//!   records paths without query strings), a `Referer` to another site
//!   (`same-origin`) or another page.
//! - A provider's form is the dashboard's, generated from its spec
//!   ([`crate::dashboard::fields`]), with the server's validation and the provider's
//!   refusal by the field; OAuth providers get a button that starts the real flow.
//! - The forms are protected by a double-submit token (a random value in a cookie
//!   and in the form, as the dashboard's sign-in does); where a browser withholds
//!   the cookie from a page framed on another site, a POST whose `Origin` is this
//!   server's own is accepted instead (another site cannot send that `Origin`).
//! - Framing: the page may be framed by the session's return URL's origin only
//!   (`frame-ancestors`), never elsewhere; pages that hold no form (an unknown or
//!   expired link) may be framed anywhere so an embedding site shows why.
//! - The outcome ([`outcome_page`]) is a small page on this origin that posts
//!   `{type: "junction:connect", ...}` to the window that opened or framed it (at
//!   the return URL's origin only) and sends a full page on to the return URL with
//!   the outcome in its query (`assets/connect.js`; a `<noscript>` refresh without
//!   JavaScript). The OAuth callback of a session's flow ends on the same page.

use std::collections::BTreeMap;

use actix_web::{
    HttpRequest, HttpResponse,
    cookie::{Cookie, SameSite, time},
    http::{
        StatusCode,
        header::{self, HeaderValue},
    },
    middleware::DefaultHeaders,
    web,
};
use askama::Template;
use junction_app::connect_sessions::{ConnectOutcome, ConnectableProvider, OpenConnectSession};
use junction_core::{AuthSpec, ErrorCode, spec::ProviderSpec};
use secrecy::SecretString;
use serde::Deserialize;
use url::Url;
use uuid::Uuid;

use crate::{
    dashboard::{
        assets,
        fields::{self, Field},
        forms::{CSRF_FIELD, Form},
        integrations::{auth_label, category_name, connect_fields, place_connect_error},
        session,
        ui::{self, DashError},
    },
    state::AppState,
};

/// Where the Connect page lives.
pub const PATH: &str = "/connect";
/// The Connect page's double-submit cookie.
pub const CSRF_COOKIE: &str = "junction_connect_csrf";
/// The hidden field that carries the session's token in every form.
pub const TOKEN_FIELD: &str = "session";
/// More providers than this: the list is grouped by category and searchable.
const SEARCH_ABOVE: usize = 6;

/// Mounts `/connect`.
pub fn mount(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(PATH)
            .route(web::get().to(show))
            .route(web::post().to(submit))
            // What an answer did not set itself (a malformed form's page): framed
            // nowhere, the same strict policy.
            .wrap(
                DefaultHeaders::new()
                    .add((header::CONTENT_SECURITY_POLICY, policy("'none'")))
                    .add((header::REFERRER_POLICY, "same-origin"))
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff")),
            ),
    );
}

/// What the Connect pages' frame shows.
pub struct Frame {
    pub title: String,
    pub css: String,
    pub js: String,
    pub icon: String,
}

impl Frame {
    fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            css: assets::url("dashboard.css"),
            js: assets::url("connect.js"),
            icon: assets::url("favicon.svg"),
        }
    }
}

/// A provider in the list.
struct Choice {
    id: &'static str,
    name: &'static str,
    auth: &'static str,
    connected: bool,
}

/// A category of the list.
struct Group {
    label: String,
    choices: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "connect/providers.html")]
struct ListPage {
    frame: Frame,
    token: String,
    end_user: String,
    searchable: bool,
    query: String,
    groups: Vec<Group>,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "connect/provider.html")]
struct ProviderPage {
    frame: Frame,
    token: String,
    form_token: String,
    provider_id: String,
    provider_name: String,
    auth: &'static str,
    oauth: bool,
    /// Whether the page has a list to go back to.
    back: bool,
    fields: Vec<Field>,
    errors: Vec<String>,
}

#[derive(Template)]
#[template(path = "connect/error.html")]
struct ErrorPage {
    frame: Frame,
    heading: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "connect/done.html")]
struct DonePage {
    frame: Frame,
    heading: String,
    text: String,
    outcome: &'static str,
    connect_session: String,
    provider: String,
    integration_id: String,
    error: String,
    continue_url: String,
    return_origin: String,
}

/// A refused request, as a page: its status, heading and text.
struct Refusal {
    status: StatusCode,
    heading: &'static str,
    detail: String,
}

impl Refusal {
    /// A use case's refusal: a dead link says so; the rest as its code says.
    fn from_error(error: junction_app::Error) -> Result<Self, DashError> {
        let (status, heading) = match error.code {
            ErrorCode::ConnectTokenInvalid => (StatusCode::NOT_FOUND, "This link is not valid"),
            ErrorCode::ConnectSessionExpired => (StatusCode::GONE, "This link has expired"),
            ErrorCode::ConnectSessionRevoked => (StatusCode::GONE, "This link has been withdrawn"),
            ErrorCode::ProviderNotAllowed => {
                (StatusCode::FORBIDDEN, "This provider is not offered here")
            }
            ErrorCode::Internal => return Err(error.into()),
            code => (
                StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
                "Nothing was connected",
            ),
        };
        Ok(Self {
            status,
            heading,
            detail: error.detail,
        })
    }

    fn into_response(self) -> Result<HttpResponse, DashError> {
        let mut response = ui::page(
            self.status,
            &ErrorPage {
                frame: Frame::new(self.heading),
                heading: self.heading.to_owned(),
                detail: self.detail,
            },
        )?;
        // No form on it: an embedding site may show it, so its user sees why.
        secure_headers(&mut response, "*");
        Ok(response)
    }
}

/// The headers of every Connect page: a strict content security policy (no
/// inline script or style, nothing from another host) framed by `ancestors` only,
/// and no referrer to another site (the token is in the page's URL).
fn secure_headers(response: &mut HttpResponse, ancestors: &str) {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&policy(ancestors)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    // `same-origin`, not `no-referrer`: under `no-referrer` a browser sends
    // `Origin: null` with the page's own form POSTs, and a framed page needs that
    // `Origin` (see [`form_is_ours`]); another site still gets no referrer.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// The content security policy of a page framed by `ancestors` (the provider's
/// consent page is a form's redirect target, hence `form-action` beyond `'self'`).
fn policy(ancestors: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self' https: http:; frame-ancestors {ancestors}; \
         base-uri 'none'; object-src 'none'"
    )
}

/// The origin a session's pages may be framed by and report to: its return URL's.
fn return_origin(open: &OpenConnectSession) -> Result<String, DashError> {
    let url = Url::parse(&open.session().return_url)
        .map_err(|e| DashError::App(junction_app::Error::internal(e)))?;
    Ok(url.origin().ascii_serialization())
}

#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    session: Option<String>,
    provider: Option<String>,
    q: Option<String>,
}

/// The token a request presents, `None` when blank.
fn token_of(text: Option<&str>) -> Option<SecretString> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| SecretString::from(t.to_owned()))
}

fn missing_token() -> Refusal {
    Refusal {
        status: StatusCode::BAD_REQUEST,
        heading: "This link is incomplete",
        detail: "The connect link has no session in it. Open the link you were given \
                 again, or ask for a new one."
            .to_owned(),
    }
}

/// A provider the session does not offer (a hand-made URL or form).
fn not_offered() -> Refusal {
    Refusal {
        status: StatusCode::FORBIDDEN,
        heading: "This provider is not offered here",
        detail: "This connect link does not offer that provider: pick one from the list."
            .to_owned(),
    }
}

fn spec_of<'a>(state: &'a AppState, provider: &str) -> Result<&'a ProviderSpec, DashError> {
    state
        .app
        .registry()
        .get(provider)
        .map(|adapter| adapter.spec())
        .ok_or_else(|| DashError::NotFound(format!("there is no provider `{provider}`")))
}

/// `GET /connect?session=TOKEN[&provider=ID][&q=]`: the session's providers, or
/// one provider's form (straight away when the session offers only one).
async fn show(req: HttpRequest) -> Result<HttpResponse, DashError> {
    let state = ui::state(&req)?;
    let query: PageQuery = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let Some(token) = token_of(query.session.as_deref()) else {
        return missing_token().into_response();
    };
    let (open, providers) = match state.app.connect_session_providers(&token).await {
        Ok(found) => found,
        Err(error) => return Refusal::from_error(error)?.into_response(),
    };
    let raw_token = query
        .session
        .as_deref()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let open_ones: Vec<&ConnectableProvider> =
        providers.iter().filter(|p| p.connected.is_none()).collect();
    let chosen = match query.provider.as_deref() {
        Some(id) => match providers.iter().find(|p| p.id == id) {
            Some(provider) if provider.connected.is_none() => Some(provider),
            Some(provider) => {
                let notice = format!("{} is already connected.", provider.name);
                return list_page(&state, &open, &providers, raw_token, "", Some(notice));
            }
            None => return not_offered().into_response(),
        },
        None if providers.len() == 1 && open_ones.len() == 1 => open_ones.first().copied(),
        None => None,
    };
    match chosen {
        Some(provider) => {
            let spec = spec_of(&state, provider.id)?;
            let (fields, _) = connect_fields(spec);
            provider_page(
                &req,
                &state,
                &open,
                spec,
                raw_token,
                providers.len() > 1,
                fields,
                Vec::new(),
                StatusCode::OK,
            )
        }
        None => list_page(
            &state,
            &open,
            &providers,
            raw_token,
            query.q.as_deref().unwrap_or_default(),
            None,
        ),
    }
}

/// The list of a session's providers, grouped by category, filtered by `query`.
fn list_page(
    state: &AppState,
    open: &OpenConnectSession,
    providers: &[ConnectableProvider],
    token: String,
    query: &str,
    notice: Option<String>,
) -> Result<HttpResponse, DashError> {
    let needle = query.trim().to_lowercase();
    let searchable = providers.len() > SEARCH_ABOVE;
    // A few providers are one list by name; more are grouped by category.
    let mut groups: BTreeMap<String, Vec<Choice>> = BTreeMap::new();
    for provider in providers {
        let label = category_name(provider.category);
        let matches = needle.is_empty()
            || provider.name.to_lowercase().contains(&needle)
            || provider.id.contains(&needle)
            || label.to_lowercase().contains(&needle);
        if !matches {
            continue;
        }
        let spec = spec_of(state, provider.id)?;
        let group = if searchable { label } else { String::new() };
        groups.entry(group).or_default().push(Choice {
            id: provider.id,
            name: provider.name,
            auth: auth_label(spec),
            connected: provider.connected.is_some(),
        });
    }
    let end_user = open
        .session()
        .end_user
        .get("display_name")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    let page = ListPage {
        frame: Frame::new("Connect an account"),
        token,
        end_user,
        searchable,
        query: query.to_owned(),
        groups: groups
            .into_iter()
            .map(|(label, choices)| Group { label, choices })
            .collect(),
        notice,
    };
    let mut response = ui::page(StatusCode::OK, &page)?;
    secure_headers(&mut response, &return_origin(open)?);
    Ok(response)
}

/// One provider's form, with a fresh double-submit token (set as a cookie too).
#[allow(clippy::too_many_arguments)]
fn provider_page(
    req: &HttpRequest,
    state: &AppState,
    open: &OpenConnectSession,
    spec: &ProviderSpec,
    token: String,
    back: bool,
    fields: Vec<Field>,
    errors: Vec<String>,
    status: StatusCode,
) -> Result<HttpResponse, DashError> {
    let form_token = junction_app::dashboard::sign_in_form_token()?;
    let page = ProviderPage {
        frame: Frame::new(format!("Connect {}", spec.name)),
        token,
        form_token: form_token.clone(),
        provider_id: spec.id.to_owned(),
        provider_name: spec.name.to_owned(),
        auth: auth_label(spec),
        oauth: matches!(spec.auth, AuthSpec::OAuth2(_)),
        back,
        fields,
        errors,
    };
    let mut response = ui::page(status, &page)?;
    secure_headers(&mut response, &return_origin(open)?);
    response
        .add_cookie(&csrf_cookie(req, state, form_token))
        .map_err(|e| DashError::App(junction_app::Error::internal(e)))?;
    Ok(response)
}

/// The double-submit cookie. Framed on the client's site the page is a
/// third-party context: over https the cookie is `SameSite=None` so a browser that
/// allows such cookies sends it back; over plain http (development) `Lax`.
fn csrf_cookie<'a>(req: &HttpRequest, state: &AppState, value: String) -> Cookie<'a> {
    let secure = session::secure(req, state);
    Cookie::build(CSRF_COOKIE, value)
        .path(PATH)
        .http_only(true)
        .secure(secure)
        .same_site(if secure {
            SameSite::None
        } else {
            SameSite::Lax
        })
        .max_age(time::Duration::hours(1))
        .finish()
}

/// Whether a POST comes from the Connect page itself: its form's token matches
/// the cookie, or — when a browser withheld the cookie from a framed page — the
/// browser says the form was posted from this server's own origin.
fn form_is_ours(req: &HttpRequest, state: &AppState, form: &Form) -> bool {
    if form.text(CSRF_FIELD).is_none() {
        return false;
    }
    if session::double_submit_valid(req, CSRF_COOKIE, form) {
        return true;
    }
    let own = state.app.config.public_url.origin().ascii_serialization();
    req.headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|origin| origin == own)
}

/// `POST /connect`: connects the chosen provider with the typed-in credentials (the
/// outcome page on success; the form with each refusal by its field otherwise), or
/// starts its OAuth flow (to the provider's consent page).
async fn submit(req: HttpRequest, form: Form) -> Result<HttpResponse, DashError> {
    let state = ui::state(&req)?;
    if !form_is_ours(&req, &state, &form) {
        return Refusal {
            status: StatusCode::FORBIDDEN,
            heading: "This form has expired",
            detail: "The form was sent without its security token (it may be from an \
                     older page, or from another site). Nothing was connected: go back, \
                     reload the page and try again."
                .to_owned(),
        }
        .into_response();
    }
    let Some(token) = token_of(form.get(TOKEN_FIELD)) else {
        return missing_token().into_response();
    };
    let raw_token = form.get(TOKEN_FIELD).unwrap_or_default().trim().to_owned();
    let provider = form.text("provider").unwrap_or_default();
    let (open, providers) = match state.app.connect_session_providers(&token).await {
        Ok(found) => found,
        Err(error) => return Refusal::from_error(error)?.into_response(),
    };
    let Some(spec) = providers
        .iter()
        .find(|p| p.id == provider)
        .and_then(|p| state.app.registry().get(p.id))
        .map(|adapter| adapter.spec())
    else {
        return not_offered().into_response();
    };
    let (mut fields, credential_names) = connect_fields(spec);
    let mut values = fields::read_all(&mut fields, &form);
    let error = if matches!(spec.auth, AuthSpec::OAuth2(_)) {
        match state
            .app
            .connect_session_start_oauth(&token, spec.id, values)
            .await
        {
            Ok(flow) => {
                let mut response = ui::see_other(&flow.authorize_url);
                secure_headers(&mut response, "'none'");
                return Ok(response);
            }
            Err(error) => error,
        }
    } else {
        let credentials = credential_names
            .iter()
            .filter_map(|name| values.remove_entry(name))
            .collect();
        match state
            .app
            .connect_session_connect(&token, spec.id, values, credentials)
            .await
        {
            Ok(details) => {
                let session = open.session();
                let url = state.app.connect_session_return(
                    session,
                    ConnectOutcome::Connected,
                    Some(details.integration.id),
                    None,
                )?;
                return outcome_page(Outcome {
                    connect_session: session.id,
                    outcome: ConnectOutcome::Connected,
                    provider: Some(spec.id.to_owned()),
                    integration_id: Some(details.integration.id),
                    error: None,
                    url,
                });
            }
            Err(error) => error,
        }
    };
    // A dead session is the dead-link page, not a form that cannot succeed.
    if matches!(
        error.code,
        ErrorCode::ConnectTokenInvalid
            | ErrorCode::ConnectSessionExpired
            | ErrorCode::ConnectSessionRevoked
            | ErrorCode::ProviderNotAllowed
    ) {
        return Refusal::from_error(error)?.into_response();
    }
    let status =
        StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    let errors = place_connect_error(&mut fields, &credential_names, error)?;
    provider_page(
        &req,
        &state,
        &open,
        spec,
        raw_token,
        providers.len() > 1,
        fields,
        errors,
        status,
    )
}

/// How a connection through a session ended, for [`outcome_page`].
#[derive(Debug)]
pub struct Outcome {
    pub connect_session: Uuid,
    pub outcome: ConnectOutcome,
    pub provider: Option<String>,
    pub integration_id: Option<Uuid>,
    pub error: Option<ErrorCode>,
    /// The session's return URL with the outcome in its query
    /// (`connect_sessions::outcome_url`).
    pub url: Url,
}

/// The outcome page: says how it ended, posts the outcome message to the window
/// that opened or framed the Connect page (at the return URL's origin only), and
/// sends a full page on to the return URL. Framed by the return URL's origin only;
/// no referrer to another site (an OAuth callback's URL holds its code).
pub fn outcome_page(outcome: Outcome) -> Result<HttpResponse, DashError> {
    let (heading, text) = match outcome.outcome {
        ConnectOutcome::Connected => ("Connected", "The account is connected."),
        ConnectOutcome::Denied => (
            "Not connected",
            "Access was not granted at the provider: nothing was connected.",
        ),
        ConnectOutcome::Expired => (
            "Not connected: the link or the attempt expired",
            "Nothing was connected. Ask for a new link and start again.",
        ),
        ConnectOutcome::Error => (
            "Not connected",
            "The connection failed: nothing was connected.",
        ),
    };
    let return_origin = outcome.url.origin().ascii_serialization();
    let page = DonePage {
        frame: Frame::new(heading),
        heading: heading.to_owned(),
        text: text.to_owned(),
        outcome: outcome.outcome.as_str(),
        connect_session: outcome.connect_session.to_string(),
        provider: outcome.provider.unwrap_or_default(),
        integration_id: outcome
            .integration_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        error: outcome
            .error
            .map(|code| code.name().to_owned())
            .unwrap_or_default(),
        continue_url: outcome.url.to_string(),
        return_origin: return_origin.clone(),
    };
    let mut response = ui::page(StatusCode::OK, &page)?;
    secure_headers(&mut response, &return_origin);
    Ok(response)
}
