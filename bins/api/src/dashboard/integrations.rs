//! The integrations page (a card per integration and the catalog of providers to
//! add, grouped by category and searchable), connecting a provider (a form
//! generated from its spec: API-key providers are checked with the provider before
//! anything is stored; OAuth providers go through the real authorization flow and
//! come back to [`oauth_return`]).

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use junction_app::{
    PageRequest,
    connect::{NewConnection, NewOAuthConnection},
    integrations::IntegrationDetails,
    models::{Health, IntegrationStatus},
};
use junction_core::{AuthSpec, ErrorCode, spec::ProviderSpec};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    fields::{self, Field},
    forms::Form,
    session::Signed,
    ui::{self, DashError, Layout, Notice, done_notice, page, see_other, when},
};
use crate::state::AppState;

/// Where an OAuth flow started from the dashboard comes back to, relative to the
/// public URL (the API's own origin is always an allowed `return_to`).
pub const OAUTH_RETURN_PATH: &str = "dashboard/oauth/return";

/// The most integrations the page lists.
const MAX_LISTED: i64 = 200;

/// How an integration stands, as a badge.
pub struct Badge {
    pub label: &'static str,
    /// A CSS class: `ok`, `warn`, `bad` or empty.
    pub class: &'static str,
}

/// The badge of an integration: paused, finish setup, needs reconnect, failing,
/// pending or active.
pub fn badge(details: &IntegrationDetails) -> Badge {
    let integration = &details.integration;
    match (integration.status, integration.health) {
        (IntegrationStatus::Disabled, _) => Badge {
            label: "paused",
            class: "",
        },
        (IntegrationStatus::NeedsSetup, _) => Badge {
            label: "finish setup",
            class: "warn",
        },
        (_, _) if !integration.sync_enabled => Badge {
            label: "paused",
            class: "",
        },
        (IntegrationStatus::NeedsReauth, _) | (_, Health::NeedsReauth) => Badge {
            label: "needs reconnect",
            class: "warn",
        },
        (IntegrationStatus::Error, _) | (_, Health::Unhealthy) => Badge {
            label: "failing",
            class: "bad",
        },
        (IntegrationStatus::Pending, _) => Badge {
            label: "pending",
            class: "",
        },
        (IntegrationStatus::Active, _) => Badge {
            label: "active",
            class: "ok",
        },
    }
}

/// One integration's card.
struct Card {
    id: String,
    name: String,
    provider: String,
    badge: Badge,
    last_sync: String,
    health: String,
}

/// A provider of the catalog.
struct Entry {
    id: &'static str,
    name: &'static str,
    auth: &'static str,
    docs_url: &'static str,
}

/// A category of the catalog.
struct Group {
    label: String,
    entries: Vec<Entry>,
}

#[derive(Template)]
#[template(path = "dashboard/integrations.html")]
struct ListPage {
    layout: Layout,
    cards: Vec<Card>,
    more: bool,
    query: String,
    groups: Vec<Group>,
}

/// A category's label: its stable name, readable (`product_analytics` is
/// "Product analytics").
fn category_label(spec: &ProviderSpec) -> String {
    category_name(spec.category)
}

/// A category's label (the catalog's groups, the Connect page's).
pub fn category_name(category: junction_core::Category) -> String {
    let name = serde_json::to_value(category)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
        .replace('_', " ");
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "Other".to_owned(),
    }
}

/// How a provider connects, in words.
pub fn auth_label(spec: &ProviderSpec) -> &'static str {
    match spec.auth {
        AuthSpec::OAuth2(_) => "OAuth",
        AuthSpec::ApiKey { .. } => "API key",
        AuthSpec::Basic { .. } => "username and password",
        AuthSpec::ClientCredentials { .. } => "client credentials",
    }
}

/// The catalog, filtered by a search (name, id or category, any case).
fn catalog(state: &AppState, query: &str) -> Vec<Group> {
    let needle = query.trim().to_lowercase();
    let mut groups: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    for spec in state.app.registry().specs() {
        let label = category_label(spec);
        let matches = needle.is_empty()
            || spec.name.to_lowercase().contains(&needle)
            || spec.id.contains(&needle)
            || label.to_lowercase().contains(&needle);
        if matches {
            groups.entry(label).or_default().push(Entry {
                id: spec.id,
                name: spec.name,
                auth: auth_label(spec),
                docs_url: spec.docs_url,
            });
        }
    }
    groups
        .into_iter()
        .map(|(label, mut entries)| {
            entries.sort_by_key(|e| e.name);
            Group { label, entries }
        })
        .collect()
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    done: Option<String>,
}

/// Renders the integrations page with a notice.
async fn list_page(
    state: &AppState,
    signed: &Signed,
    query: String,
    notice: Option<Notice>,
) -> Result<HttpResponse, DashError> {
    let listed = state
        .app
        .integrations(
            signed.workspace_id(),
            &Default::default(),
            PageRequest::first(MAX_LISTED),
        )
        .await?;
    let cards = listed
        .items
        .iter()
        .map(|details| {
            let integration = &details.integration;
            let provider = state
                .app
                .registry()
                .get(&integration.provider)
                .map(|a| a.spec().name.to_owned())
                .unwrap_or_else(|| integration.provider.clone());
            Card {
                id: integration.id.to_string(),
                name: integration.display_name.clone(),
                provider,
                badge: badge(details),
                last_sync: when(integration.last_sync_at),
                health: health_text(details),
            }
        })
        .collect();
    page(
        StatusCode::OK,
        &ListPage {
            layout: Layout::new("Integrations", "integrations", Some(signed.csrf_token()))
                .with_notice(notice),
            cards,
            more: listed.next.is_some(),
            groups: catalog(state, &query),
            query,
        },
    )
}

/// An integration's health, in words.
pub fn health_text(details: &IntegrationDetails) -> String {
    let integration = &details.integration;
    let checked = match integration.health_checked_at {
        Some(at) => format!(" (checked {})", when(Some(at))),
        None => String::new(),
    };
    let state = match integration.health {
        Health::Unknown => "not checked yet",
        Health::Healthy => "healthy",
        Health::Unhealthy => "unhealthy",
        Health::NeedsReauth => "needs a reconnect",
    };
    match (&integration.health_message, integration.health) {
        (Some(message), Health::Unhealthy | Health::NeedsReauth) => {
            format!("{state}: {message}{checked}")
        }
        _ => format!("{state}{checked}"),
    }
}

/// `GET /dashboard/integrations?q=`: the cards and the catalog.
pub async fn list(
    req: HttpRequest,
    signed: Signed,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, DashError> {
    let state = ui::state(&req)?;
    let query = query.into_inner();
    list_page(
        &state,
        &signed,
        query.q.unwrap_or_default(),
        query.done.as_deref().and_then(done_notice),
    )
    .await
}

#[derive(Template)]
#[template(path = "dashboard/connect.html")]
struct ConnectPage {
    layout: Layout,
    provider_id: String,
    provider_name: String,
    auth: &'static str,
    oauth: bool,
    docs_url: &'static str,
    display_name: String,
    fields: Vec<Field>,
    /// Errors that name no field of the form.
    errors: Vec<String>,
}

/// The fields a provider's connect form asks for: its settings, then (typed-in
/// credentials only) its credentials. The second list says which are credentials.
pub fn connect_fields(spec: &ProviderSpec) -> (Vec<Field>, Vec<String>) {
    let credential_names: Vec<String> = spec
        .auth
        .credential_fields()
        .iter()
        .map(|f| f.name.to_owned())
        .collect();
    let setup_step = spec.setup_missing(&Map::new());
    let fields = spec
        .config
        .iter()
        .chain(spec.auth.credential_fields())
        .map(|field| {
            let mut shown = Field::from_spec(field, None);
            // Chosen from the provider's list once connected (the setup step):
            // typing it now is optional.
            if setup_step.contains(&field.name) {
                shown.required = false;
                shown.help = format!(
                    "Optional: leave it empty to pick it from your {} list once connected. {}",
                    spec.name, field.help
                );
            }
            shown
        })
        .collect();
    (fields, credential_names)
}

fn spec_of<'a>(state: &'a AppState, provider: &str) -> Result<&'a ProviderSpec, DashError> {
    state
        .app
        .registry()
        .get(provider)
        .map(|adapter| adapter.spec())
        .ok_or_else(|| DashError::NotFound(format!("there is no provider `{provider}`")))
}

fn connect_page(
    signed: &Signed,
    spec: &ProviderSpec,
    display_name: String,
    fields: Vec<Field>,
    errors: Vec<String>,
) -> ConnectPage {
    ConnectPage {
        layout: Layout::new(
            format!("Connect {}", spec.name),
            "integrations",
            Some(signed.csrf_token()),
        ),
        provider_id: spec.id.to_owned(),
        provider_name: spec.name.to_owned(),
        auth: auth_label(spec),
        oauth: matches!(spec.auth, AuthSpec::OAuth2(_)),
        docs_url: spec.docs_url,
        display_name,
        fields,
        errors,
    }
}

/// `GET /dashboard/connect/{provider}`: the provider's connect form.
pub async fn connect_form(
    req: HttpRequest,
    signed: Signed,
    provider: web::Path<String>,
) -> Result<HttpResponse, DashError> {
    let state = ui::state(&req)?;
    let spec = spec_of(&state, &provider)?;
    let (fields, _) = connect_fields(spec);
    page(
        StatusCode::OK,
        &connect_page(&signed, spec, String::new(), fields, Vec::new()),
    )
}

/// `POST /dashboard/connect/{provider}`: connects with typed-in credentials, or
/// starts the OAuth flow. A refusal re-renders the form with each message by its
/// field and every value kept (secrets excepted: they are typed again).
pub async fn connect(
    req: HttpRequest,
    signed: Signed,
    provider: web::Path<String>,
    form: Form,
) -> Result<HttpResponse, DashError> {
    signed.check(&form)?;
    let state = ui::state(&req)?;
    let spec = spec_of(&state, &provider)?;
    let (mut fields, credential_names) = connect_fields(spec);
    let mut values = fields::read_all(&mut fields, &form);
    let display_name = form.text("display_name");
    let shown_name = form.get("display_name").unwrap_or_default().to_owned();
    let workspace_id = signed.workspace_id();
    let result = if matches!(spec.auth, AuthSpec::OAuth2(_)) {
        let return_to = state
            .app
            .config
            .public_url
            .join(OAUTH_RETURN_PATH)
            .map_err(|e| DashError::App(junction_app::Error::internal(e)))?;
        state
            .app
            .start_oauth(
                workspace_id,
                NewOAuthConnection {
                    provider: spec.id.to_owned(),
                    display_name,
                    config: values,
                    schedule_seconds: None,
                    return_to: Some(return_to.to_string()),
                },
            )
            .await
            .map(|flow| see_other(&flow.authorize_url))
    } else {
        let credentials = credential_names
            .iter()
            .filter_map(|name| values.remove_entry(name))
            .collect();
        state
            .app
            .connect_with_credentials(
                workspace_id,
                NewConnection {
                    provider: spec.id.to_owned(),
                    display_name,
                    config: values,
                    credentials,
                    schedule_seconds: None,
                },
            )
            .await
            .map(|details| {
                see_other(&format!(
                    "/dashboard/integrations/{}?done=connected",
                    details.integration.id
                ))
            })
    };
    let error = match result {
        Ok(response) => return Ok(response),
        Err(error) => error,
    };
    let status =
        StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    let errors = place_connect_error(&mut fields, &credential_names, error)?;
    page(
        status,
        &connect_page(&signed, spec, shown_name, fields, errors),
    )
}

/// Shows a refused connection by its fields: the server's validation by each field
/// it names, the provider's refusal of the credentials by the credential fields;
/// returns what names no field. An internal error stays an error page.
pub fn place_connect_error(
    fields: &mut [Field],
    credential_names: &[String],
    error: junction_app::Error,
) -> Result<Vec<String>, DashError> {
    let mut errors = Vec::new();
    match error.code {
        ErrorCode::ValidationFailed => {
            errors = fields::place_errors(fields, &error.fields);
            if error.fields.is_empty() {
                errors.push(error.detail.clone());
            }
        }
        ErrorCode::InvalidCredentials => {
            let mut placed = false;
            for field in fields
                .iter_mut()
                .filter(|f| credential_names.contains(&f.name))
            {
                field.error = Some(if placed {
                    "check this one too".to_owned()
                } else {
                    format!("key rejected: {}", error.detail)
                });
                placed = true;
            }
            if !placed {
                errors.push(error.detail.clone());
            }
        }
        ErrorCode::Internal => return Err(error.into()),
        _ => errors.push(error.detail.clone()),
    }
    // Said once at the top too (an alert screen readers announce), pointing at the
    // fields that say why.
    if errors.is_empty() && fields.iter().any(|f| f.error.is_some()) {
        errors.push("Nothing was connected: see the fields marked below.".to_owned());
    }
    Ok(errors)
}

#[derive(Debug, Deserialize)]
pub struct ReturnQuery {
    status: Option<String>,
    integration_id: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /dashboard/oauth/return`: where the OAuth callback sends the browser back
/// with the outcome: connected (to the integration's page), denied, expired or
/// already used, or failed (the integrations page says which).
pub async fn oauth_return(
    req: HttpRequest,
    signed: Signed,
    query: web::Query<ReturnQuery>,
) -> Result<HttpResponse, DashError> {
    let state = ui::state(&req)?;
    let query = query.into_inner();
    let notice = match query.status.as_deref() {
        Some("connected") => {
            let id = query
                .integration_id
                .as_deref()
                .and_then(|id| id.parse::<uuid::Uuid>().ok());
            // The page opens on its setup step when it has one.
            let setup = match id {
                Some(id) => state
                    .app
                    .integration(signed.workspace_id(), id)
                    .await
                    .is_ok_and(|details| !details.setup_missing.is_empty()),
                None => false,
            };
            let anchor = if setup { "#setup" } else { "" };
            return Ok(match id {
                Some(id) => see_other(&format!(
                    "/dashboard/integrations/{id}?done=authorized{anchor}"
                )),
                None => see_other("/dashboard/integrations?done=authorized"),
            });
        }
        Some("denied") => Notice::warn(
            "Access was not granted at the provider: nothing was connected. Start again when you are ready.",
        ),
        _ => {
            let detail = query
                .error_description
                .unwrap_or_else(|| "the provider gave no reason".to_owned());
            match query.error.as_deref() {
                Some(code) if code == ErrorCode::OAuthStateInvalid.name() => Notice::bad(format!(
                    "This authorization expired or was already used ({detail}). Nothing was connected: connect again."
                )),
                _ => Notice::bad(format!("The connection failed: {detail}")),
            }
        }
    };
    list_page(&state, &signed, String::new(), Some(notice)).await
}

/// The value of a JSON setting for a page.
pub fn shown(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
