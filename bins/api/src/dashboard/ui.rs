//! What every dashboard page shares: the frame ([`Layout`], [`Notice`]), rendering
//! ([`page`]), redirects ([`see_other`]), times, the `?done=` notices, and how a
//! request fails ([`DashError`]: a redirect to sign-in or a readable error page).

use actix_web::{
    HttpRequest, HttpResponse, ResponseError,
    http::{StatusCode, header},
    web,
};
use askama::Template;

use super::assets;
use crate::state::AppState;

/// Where a signed-in visitor lands.
pub const HOME: &str = "/dashboard/integrations";

/// A redirect after a form (303: the browser follows with a GET).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// A rendered page.
pub fn page(status: StatusCode, template: &impl Template) -> Result<HttpResponse, DashError> {
    let body = template.render().map_err(DashError::Render)?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// A time for a page (UTC), or "never".
pub fn when(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    match at {
        Some(at) => at.format("%Y-%m-%d %H:%M UTC").to_string(),
        None => "never".to_owned(),
    }
}

/// The notice a page shows after a form redirected to it with `?done=`: a short
/// code of what was done (the URL carries no free text).
pub fn done_notice(code: &str) -> Option<Notice> {
    let text = match code {
        "connected" => {
            "Connected: the provider accepted the credentials. The first sync is on its way."
        }
        "authorized" => "Connected: access was granted at the provider.",
        "setup" => "Setup finished: the integration is active and its first sync is on its way.",
        "saved" => "Settings saved.",
        "streams" => "Streams saved.",
        "webhook" => "Webhook settings saved.",
        "sync" => "Sync started: its run appears below and updates as it goes.",
        "joined" => "A sync covering these streams is already running: this request joined it.",
        "reconnected" => "Reconnected: the provider accepted the new credentials.",
        "disconnected" => {
            "Disconnected: the grant was revoked where the provider allows it, and the integration deleted with its data."
        }
        "replayed" => "Replay queued.",
        _ => return None,
    };
    Some(Notice::ok(text))
}

/// The application state of a request.
pub fn state(req: &HttpRequest) -> Result<web::Data<AppState>, DashError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| {
            DashError::App(junction_app::Error::internal(anyhow::anyhow!(
                "application state missing"
            )))
        })
}

/// What every page's frame shows: the navigation, the signed-in controls with the
/// session's CSRF token, a notice, the asset URLs.
#[derive(Debug, Clone)]
pub struct Layout {
    pub title: String,
    /// Which navigation entry is current.
    pub nav: &'static str,
    /// The session's CSRF token (`None`: signed out).
    pub csrf: Option<String>,
    pub notice: Option<Notice>,
    pub css: String,
    pub js: String,
    pub htmx: String,
    pub icon: String,
}

impl Layout {
    pub fn new(title: impl Into<String>, nav: &'static str, csrf: Option<String>) -> Self {
        Self {
            title: title.into(),
            nav,
            csrf,
            notice: None,
            css: assets::url("dashboard.css"),
            js: assets::url("dashboard.js"),
            htmx: assets::url("htmx.min.js"),
            icon: assets::url("favicon.svg"),
        }
    }

    /// The same frame with a notice.
    pub fn with_notice(mut self, notice: Option<Notice>) -> Self {
        self.notice = notice;
        self
    }

    /// The CSRF token for a form (empty when signed out: such a form is refused).
    pub fn token(&self) -> &str {
        self.csrf.as_deref().unwrap_or_default()
    }

    /// `aria-current` for a navigation entry.
    pub fn current(&self, nav: &str) -> &'static str {
        if self.nav == nav { "page" } else { "false" }
    }
}

/// A message at the top of a page.
#[derive(Debug, Clone)]
pub struct Notice {
    /// `ok`, `warn` or `bad` (a CSS class).
    pub kind: &'static str,
    pub text: String,
}

impl Notice {
    pub fn ok(text: impl Into<String>) -> Self {
        Self {
            kind: "ok",
            text: text.into(),
        }
    }

    pub fn warn(text: impl Into<String>) -> Self {
        Self {
            kind: "warn",
            text: text.into(),
        }
    }

    pub fn bad(text: impl Into<String>) -> Self {
        Self {
            kind: "bad",
            text: text.into(),
        }
    }
}

/// The error page.
#[derive(Template)]
#[template(path = "dashboard/error.html")]
struct ErrorPage {
    layout: Layout,
    heading: String,
    detail: String,
}

/// How a dashboard request fails: sent to sign in, or a readable error page.
#[derive(Debug)]
pub enum DashError {
    /// No live session: sign in, then come back to `next`. An htmx request (a
    /// poll) is told to send the whole page there rather than swap the sign-in page
    /// into a fragment.
    SignedOut {
        next: Option<String>,
        htmx: bool,
    },
    /// A form without this session's CSRF token.
    Csrf,
    /// A body that is not a form.
    BadForm(String),
    NotFound(String),
    /// A use case's failure.
    App(junction_app::Error),
    Render(askama::Error),
}

impl From<crate::error::ApiError> for DashError {
    fn from(error: crate::error::ApiError) -> Self {
        Self::App(error.0)
    }
}

impl From<junction_app::Error> for DashError {
    fn from(error: junction_app::Error) -> Self {
        Self::App(error)
    }
}

impl std::fmt::Display for DashError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SignedOut { .. } => f.write_str("signed out"),
            Self::Csrf => f.write_str("missing or wrong CSRF token"),
            Self::BadForm(detail) | Self::NotFound(detail) => f.write_str(detail),
            Self::App(error) => error.fmt(f),
            Self::Render(error) => write!(f, "rendering failed: {error}"),
        }
    }
}

impl ResponseError for DashError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignedOut { htmx: true, .. } => StatusCode::OK,
            Self::SignedOut { .. } => StatusCode::SEE_OTHER,
            Self::Csrf => StatusCode::FORBIDDEN,
            Self::BadForm(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::App(error) => StatusCode::from_u16(error.code.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Self::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let (heading, detail) = match self {
            Self::SignedOut { next, htmx } => {
                let mut location = "/dashboard/sign-in".to_owned();
                if let Some(next) = next {
                    location.push('?');
                    location.push_str(
                        &serde_urlencoded::to_string([("next", next)]).unwrap_or_default(),
                    );
                }
                if *htmx {
                    return HttpResponse::Ok()
                        .insert_header(("HX-Redirect", location))
                        .insert_header((header::CACHE_CONTROL, "no-store"))
                        .finish();
                }
                return HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, location))
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .finish();
            }
            Self::Csrf => (
                "This form has expired".to_owned(),
                "The form was sent without this session's security token (it may be \
                 from an older page, another tab that signed out, or another site). \
                 Nothing was changed: go back, reload the page and try again."
                    .to_owned(),
            ),
            Self::BadForm(detail) => ("The form could not be read".to_owned(), detail.clone()),
            Self::NotFound(detail) => ("Not found".to_owned(), detail.clone()),
            Self::App(error) => {
                if status.is_server_error() {
                    crate::error::log_server_error(error);
                }
                (error.code.title().to_owned(), error.detail.clone())
            }
            Self::Render(error) => {
                tracing::error!(error = %error, "a dashboard page failed to render");
                (
                    "Something went wrong".to_owned(),
                    "the page could not be rendered; see the server log".to_owned(),
                )
            }
        };
        let page = ErrorPage {
            layout: Layout::new(heading.clone(), "", None),
            heading,
            detail,
        };
        match page.render() {
            Ok(body) => HttpResponse::build(status)
                .content_type("text/html; charset=utf-8")
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .body(body),
            Err(_) => HttpResponse::build(status)
                .content_type("text/plain; charset=utf-8")
                .body(page.detail),
        }
    }
}
