//! One integration's pages: the overview (its setup step while it waits for one,
//! settings, schedule, streams on/off, the webhook URL, test, sync now, reconnect,
//! disconnect), its runs, its log, a
//! records browser per stream, KPI charts by day, week or month, and a form per
//! action generated from its input schema. Each calls the use case the REST API
//! calls for the same thing; another workspace's integration is as unknown here
//! as a made-up id.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use chrono::Duration;
use junction_app::{
    PageRequest,
    actions::{ActionOutcome, ActionRequest},
    connect::Reconnected,
    integrations::{IntegrationChanges, IntegrationDetails},
    kpis::{Granularity, KpiQuery, KpiSelector},
    models::{ActionRun, SyncRun, SyncTrigger},
    streams::{StreamChanges, StreamStatus},
    syncs::StreamSelection,
};
use std::sync::Arc;

use junction_core::{Adapter, AuthSpec, ErrorCode, FieldOption, spec::ProviderSpec};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use uuid::Uuid;

use super::{
    chart,
    fields::{self, Field},
    forms::Form,
    integrations::{OAUTH_RETURN_PATH, auth_label, badge, health_text, place_connect_error},
    session::Signed,
    ui::{self, DashError, Layout, Notice, done_notice, page, see_other, when},
};
use crate::{
    pagination::{PageParams, page as paged},
    state::AppState,
};

/// Rows a list page shows.
const PAGE_ROWS: i64 = 50;

/// The schedules offered (seconds, label); an integration's own, if another, is
/// offered too.
const SCHEDULES: &[(i32, &str)] = &[
    (300, "every 5 minutes"),
    (900, "every 15 minutes"),
    (1800, "every 30 minutes"),
    (3600, "every hour"),
    (21600, "every 6 hours"),
    (43200, "every 12 hours"),
    (86400, "every day"),
    (604800, "every week"),
];

/// The heading every page of an integration shares.
struct Head {
    id: String,
    name: String,
    provider: String,
    auth: &'static str,
    badge_label: &'static str,
    badge_class: &'static str,
    health: String,
    last_sync: String,
    next_sync: String,
    /// The current tab.
    tab: &'static str,
    oauth: bool,
}

impl Head {
    fn current(&self, tab: &str) -> &'static str {
        if self.tab == tab { "page" } else { "false" }
    }
}

/// An integration of the session's workspace with its provider's spec.
struct Loaded {
    state: web::Data<AppState>,
    details: IntegrationDetails,
    adapter: Arc<dyn Adapter>,
}

impl Loaded {
    fn spec(&self) -> &ProviderSpec {
        self.adapter.spec()
    }

    fn id(&self) -> Uuid {
        self.details.integration.id
    }

    fn head(&self, tab: &'static str) -> Head {
        let integration = &self.details.integration;
        let badge = badge(&self.details);
        Head {
            id: integration.id.to_string(),
            name: integration.display_name.clone(),
            provider: self.spec().name.to_owned(),
            auth: auth_label(self.spec()),
            badge_label: badge.label,
            badge_class: badge.class,
            health: health_text(&self.details),
            last_sync: when(integration.last_sync_at),
            next_sync: match (integration.sync_enabled, integration.next_sync_at) {
                (false, _) => "paused".to_owned(),
                (true, at) => when(at),
            },
            tab,
            oauth: matches!(self.spec().auth, AuthSpec::OAuth2(_)),
        }
    }
}

/// Parses the `{id}` of a path: a malformed id is as unknown as a missing one.
fn parse_id(raw: &str) -> Result<Uuid, DashError> {
    raw.parse()
        .map_err(|_| DashError::NotFound("there is no such integration".into()))
}

/// Loads the session's integration `{id}` (404 for another workspace's).
async fn load(req: &HttpRequest, signed: &Signed, raw_id: &str) -> Result<Loaded, DashError> {
    let state = ui::state(req)?;
    let id = parse_id(raw_id)?;
    let details = match state.app.integration(signed.workspace_id(), id).await {
        Ok(details) => details,
        Err(error) if error.code == ErrorCode::IntegrationNotFound => {
            return Err(DashError::NotFound("there is no such integration".into()));
        }
        Err(error) => return Err(error.into()),
    };
    let adapter = state.app.adapter(&details.integration.provider)?;
    Ok(Loaded {
        state,
        details,
        adapter,
    })
}

// ----- Overview -----

/// A stream's row on the overview.
struct StreamRow {
    name: &'static str,
    description: &'static str,
    enabled: bool,
    schedule: String,
    last_synced: String,
    next_sync: String,
    records: i64,
}

/// A run's row.
struct RunRow {
    status: String,
    status_class: &'static str,
    trigger: &'static str,
    streams: String,
    queued: String,
    finished: String,
    counts: String,
    error: Option<String>,
}

impl From<&SyncRun> for RunRow {
    fn from(run: &SyncRun) -> Self {
        let status = run.status.as_str();
        Self {
            status: status.to_owned(),
            status_class: match status {
                "succeeded" => "ok",
                "failed" | "dead" => "bad",
                "retrying" => "warn",
                _ => "",
            },
            trigger: match run.trigger {
                SyncTrigger::Schedule => "schedule",
                SyncTrigger::Manual => "manual",
                SyncTrigger::Replay => "replay",
                SyncTrigger::Webhook => "webhook",
            },
            streams: run
                .streams
                .as_ref()
                .map(|s| s.join(", "))
                .or_else(|| run.stream.clone())
                .unwrap_or_else(|| "every enabled stream".to_owned()),
            queued: when(Some(run.queued_at)),
            finished: when(run.finished_at),
            counts: format!(
                "{} read, {} written, {} KPI points, {} deleted",
                run.records_read, run.records_written, run.kpi_points_written, run.records_deleted
            ),
            error: match (&run.error_code, &run.error_message) {
                (Some(code), Some(message)) => Some(format!("{code}: {message}")),
                (None, Some(message)) => Some(message.clone()),
                (Some(code), None) => Some(code.clone()),
                (None, None) => None,
            },
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/integration.html")]
struct OverviewPage {
    layout: Layout,
    head: Head,
    /// The setup step, while the integration waits for one.
    setup: Option<SetupStep>,
    display_name: String,
    fields: Vec<Field>,
    schedules: Vec<(i32, String, bool)>,
    sync_enabled: bool,
    settings_errors: Vec<String>,
    streams: Vec<StreamRow>,
    webhook: Option<Webhook>,
    runs: Vec<RunRow>,
}

/// The "Finish setup" form: the settings still to be chosen, each a select of
/// the provider's choices.
struct SetupStep {
    fields: Vec<Field>,
    errors: Vec<String>,
}

struct Webhook {
    url: String,
    events: String,
    /// The secret is the integration's own (not the provider app's): it is set here.
    own_secret: bool,
    secret_set: bool,
    /// `Some` for providers with a subscription handshake: whether its token is set.
    verify_token_set: Option<bool>,
}

/// Describes a schedule in words.
fn schedule_text(seconds: i32) -> String {
    SCHEDULES
        .iter()
        .find(|(s, _)| *s == seconds)
        .map(|(_, label)| (*label).to_owned())
        .unwrap_or_else(|| match seconds {
            s if s % 3600 == 0 => format!("every {} hours", s / 3600),
            s if s % 60 == 0 => format!("every {} minutes", s / 60),
            s => format!("every {s} seconds"),
        })
}

/// The choices of the settings the provider lists (by field name), asked once per
/// page; a provider that cannot list them leaves its reason.
type Listed = BTreeMap<&'static str, Result<Vec<FieldOption>, String>>;

async fn list_options(loaded: &Loaded, signed: &Signed) -> Listed {
    let mut listed = Listed::new();
    for field in loaded
        .spec()
        .config
        .iter()
        .filter(|f| f.options && !f.secret)
    {
        let choices = loaded
            .state
            .app
            .field_options(signed.workspace_id(), loaded.id(), field.name)
            .await
            .map_err(|error| error.detail);
        listed.insert(field.name, choices);
    }
    listed
}

/// The overview's settings fields: the provider's non-secret settings, those the
/// provider lists the choices of as selects, except the ones the setup step asks
/// for (`setup`: true for the setup step's fields instead).
fn settings_fields(loaded: &Loaded, listed: &Listed, setup: bool) -> Vec<Field> {
    let config = loaded.details.integration.config.as_object();
    let missing = &loaded.details.setup_missing;
    loaded
        .spec()
        .config
        .iter()
        .filter(|field| !field.secret && missing.contains(&field.name) == setup)
        .map(|field| {
            let mut shown = Field::from_spec(field, config.and_then(|c| c.get(field.name)));
            if setup {
                shown.scope = "setup".to_owned();
            }
            with_listed(shown, listed)
        })
        .collect()
}

/// A field as a select of its listed choices, if it has any.
fn with_listed(field: Field, listed: &Listed) -> Field {
    match listed.get(field.name.as_str()) {
        Some(Ok(options)) => field.with_options(Ok(options)),
        Some(Err(reason)) => field.with_options(Err(reason)),
        None => field,
    }
}

struct OverviewInput {
    notice: Option<Notice>,
    display_name: Option<String>,
    fields: Option<Vec<Field>>,
    settings_errors: Vec<String>,
    /// The setup step's fields as submitted, with their errors.
    setup: Option<SetupStep>,
    status: StatusCode,
}

impl Default for OverviewInput {
    fn default() -> Self {
        Self {
            notice: None,
            display_name: None,
            fields: None,
            settings_errors: Vec::new(),
            setup: None,
            status: StatusCode::OK,
        }
    }
}

async fn overview_page(
    loaded: &Loaded,
    signed: &Signed,
    input: OverviewInput,
) -> Result<HttpResponse, DashError> {
    let workspace_id = signed.workspace_id();
    let app = &loaded.state.app;
    let integration = &loaded.details.integration;
    let streams = app
        .streams(workspace_id, loaded.id())
        .await?
        .iter()
        .map(|s: &StreamStatus| StreamRow {
            name: s.name,
            description: s.description,
            enabled: s.enabled,
            schedule: schedule_text(s.schedule_seconds),
            last_synced: when(s.last_synced_at),
            next_sync: when(s.next_sync_at),
            records: s.records,
        })
        .collect();
    let webhook = match loaded.spec().webhook {
        Some(_) => {
            let setup = app.webhook_setup(workspace_id, loaded.id()).await?;
            Some(Webhook {
                url: setup.url,
                events: setup.events.join(", "),
                own_secret: setup.secret_source == "integration",
                secret_set: setup.secret_set,
                verify_token_set: setup.verify_token_set,
            })
        }
        None => None,
    };
    let runs = app
        .sync_runs(workspace_id, loaded.id(), PageRequest::first(5))
        .await?
        .items
        .iter()
        .map(RunRow::from)
        .collect();
    let current = integration.schedule_seconds;
    let mut schedules: Vec<(i32, String, bool)> = SCHEDULES
        .iter()
        .map(|(s, label)| (*s, (*label).to_owned(), *s == current))
        .collect();
    if !SCHEDULES.iter().any(|(s, _)| *s == current) {
        schedules.push((current, schedule_text(current), true));
        schedules.sort_by_key(|(s, _, _)| *s);
    }
    let listed = list_options(loaded, signed).await;
    let setup = match input.setup {
        Some(step) => Some(step),
        None if !loaded.details.setup_missing.is_empty() => {
            let fields = settings_fields(loaded, &listed, true);
            // The provider's refusal to list, said by the field (the field still
            // takes a typed value).
            let errors = listed
                .iter()
                .filter(|(name, _)| loaded.details.setup_missing.contains(name))
                .filter_map(|(_, result)| result.as_ref().err())
                .map(|reason| format!("The choices could not be listed: {reason}"))
                .collect();
            Some(SetupStep { fields, errors })
        }
        None => None,
    };
    page(
        input.status,
        &OverviewPage {
            layout: Layout::new(
                integration.display_name.clone(),
                "integrations",
                Some(signed.csrf_token()),
            )
            .with_notice(input.notice),
            head: loaded.head("overview"),
            display_name: input
                .display_name
                .unwrap_or_else(|| integration.display_name.clone()),
            setup,
            fields: input
                .fields
                .unwrap_or_else(|| settings_fields(loaded, &listed, false)),
            schedules,
            sync_enabled: integration.sync_enabled,
            settings_errors: input.settings_errors,
            streams,
            webhook,
            runs,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

/// `GET /dashboard/integrations/{id}`.
pub async fn overview(
    req: HttpRequest,
    signed: Signed,
    id: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, DashError> {
    let loaded = load(&req, &signed, &id).await?;
    let notice = query.done.as_deref().and_then(done_notice);
    overview_page(
        &loaded,
        &signed,
        OverviewInput {
            notice,
            ..OverviewInput::default()
        },
    )
    .await
}

/// `POST /dashboard/integrations/{id}/settings`: name, settings, schedule and
/// whether scheduled syncs run. Only what changed is sent (a schedule sent sets
/// every stream's).
pub async fn save_settings(
    req: HttpRequest,
    signed: Signed,
    id: web::Path<String>,
    form: Form,
) -> Result<HttpResponse, DashError> {
    signed.check(&form)?;
    let loaded = load(&req, &signed, &id).await?;
    let integration = &loaded.details.integration;
    // Read back as submitted: a select's choices are listed again if the page
    // is shown again.
    let mut fields = settings_fields(&loaded, &Listed::new(), false);
    let mut config: Map<String, Value> =
        integration.config.as_object().cloned().unwrap_or_default();
    for field in &mut fields {
        match field.read(&form) {
            Some(value) => {
                config.insert(field.name.clone(), value);
            }
            None => {
                config.remove(&field.name);
            }
        }
    }
    let display_name = form.text("display_name");
    let schedule = match form.text("schedule_seconds") {
        Some(text) => match text.parse::<i32>() {
            Ok(seconds) => Some(seconds),
            Err(_) => {
                return overview_page(
                    &loaded,
                    &signed,
                    OverviewInput {
                        display_name: form.get("display_name").map(str::to_owned),
                        fields: Some(fields),
                        settings_errors: vec![
                            "Schedule: pick one of the intervals offered.".into(),
                        ],
                        status: StatusCode::UNPROCESSABLE_ENTITY,
                        ..OverviewInput::default()
                    },
                )
                .await;
            }
        },
        None => None,
    };
    let changes = IntegrationChanges {
        display_name: display_name.filter(|n| *n != integration.display_name),
        config: (Value::Object(config.clone()) != integration.config).then_some(config),
        schedule_seconds: schedule.filter(|s| *s != integration.schedule_seconds),
        sync_enabled: Some(form.checked("sync_enabled"))
            .filter(|enabled| *enabled != integration.sync_enabled),
    };
    match loaded
        .state
        .app
        .update_integration(signed.workspace_id(), loaded.id(), changes)
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/dashboard/integrations/{}?done=saved",
            loaded.id()
        ))),
        Err(error) if error.code == ErrorCode::ValidationFailed => {
            let listed = list_options(&loaded, &signed).await;
            let mut fields: Vec<Field> = fields
                .into_iter()
                .map(|field| with_listed(field, &listed))
                .collect();
            let mut settings_errors = fields::place_errors(&mut fields, &error.fields);
            for message in &mut settings_errors {
                *message = message.replace("schedule_seconds", "Schedule");
            }
            if error.fields.is_empty() {
                settings_errors.push(error.detail.clone());
            }
            overview_page(
                &loaded,
                &signed,
                OverviewInput {
                    display_name: form.get("display_name").map(str::to_owned),
                    fields: Some(fields),
                    settings_errors,
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    ..OverviewInput::default()
                },
            )
            .await
        }
        Err(error) => Err(error.into()),
    }
}

/// `POST /dashboard/integrations/{id}/setup`: the setup step's choices, which
/// complete the integration (`App::update_integration` checks them with the
/// provider first). A refusal shows the step again with each message by its
/// field, nothing changed.
pub async fn save_setup(
    req: HttpRequest,
    signed: Signed,
    id: web::Path<String>,
    form: Form,
) -> Result<HttpResponse, DashError> {
    signed.check(&form)?;
    let loaded = load(&req, &signed, &id).await?;
    if loaded.details.setup_missing.is_empty() {
        // Finished meanwhile (another tab): nothing left to choose.
        return Ok(see_other(&format!(
            "/dashboard/integrations/{}?done=setup",
            loaded.id()
        )));
    }
    let mut fields = settings_fields(&loaded, &Listed::new(), true);
    let mut config: Map<String, Value> = loaded
        .details
        .integration
        .config
        .as_object()
        .cloned()
        .unwrap_or_default();
    config.extend(fields::read_all(&mut fields, &form));
    let changes = IntegrationChanges {
        config: Some(config),
        ..IntegrationChanges::default()
    };
    let error = match loaded
        .state
        .app
        .update_integration(signed.workspace_id(), loaded.id(), changes)
        .await
    {
        Ok(details) if details.setup_missing.is_empty() => {
            return Ok(see_other(&format!(
                "/dashboard/integrations/{}?done=setup",
                loaded.id()
            )));
        }
        // Left empty: still to be chosen.
        Ok(_) => junction_app::Error::validation(
            loaded
                .details
                .setup_missing
                .iter()
                .map(|name| junction_core::spec::FieldError::new(name, "choose one"))
                .collect(),
        ),
        Err(error) if error.code == ErrorCode::Internal => return Err(error.into()),
        Err(error) => error,
    };
    let status =
        StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    let listed = list_options(&loaded, &signed).await;
    let mut fields: Vec<Field> = fields
        .into_iter()
        .map(|field| with_listed(field, &listed))
        .collect();
    let mut errors = fields::place_errors(&mut fields, &error.fields);
    if error.fields.is_empty() {
        errors.push(format!("The setup was not finished: {}", error.detail));
    }
    overview_page(
        &loaded,
        &signed,
        OverviewInput {
            setup: Some(SetupStep { fields, errors }),
            status,
            ..OverviewInput::default()
        },
    )
    .await
}

/// `POST /dashboard/integrations/{id}/streams`: turns streams on and off (the
/// ticked ones are on).
pub async fn save_streams(
    req: HttpRequest,
    signed: Signed,
    id: web::Path<String>,
    form: Form,
) -> Result<HttpResponse, DashError> {
    signed.check(&form)?;
    let loaded = load(&req, &signed, &id).await?;
    let app = &loaded.state.app;
    let wanted: Vec<&str> = form.all("enabled").collect();
    for stream in app.streams(signed.workspace_id(), loaded.id()).await? {
        let enabled = wanted.contains(&stream.name);
        if enabled != stream.enabled {
            app.update_stream(
                signed.workspace_id(),
                loaded.id(),
                stream.name,
                StreamChanges {
                    enabled: Some(enabled),
                    schedule_seconds: None,
                },
            )
            .await?;
        }
    }
    Ok(see_other(&format!(
        "/dashboard/integrations/{}?done=streams",
        loaded.id()
    )))
}

/// `POST /dashboard/integrations/{id}/test`: the provider's health check, now.
pub async fn test(
    req: HttpRequest,
    signed: Signed,
    id: web::Path<String>,
    form: Form,
) -> Result<HttpResponse, DashError> {
    signed.check(&form)?;
    let mut loaded = load(&req, &signed, &id).await?;
    let checked = loaded
        .state
        .app
        .check_integration(signed.workspace_id(), loaded.id())
        .await?;
    let notice = match checked.outcome {
        Ok(health) => Notice::ok(match health.account {
            Some(account) => format!("The connection works (account {account})."),
            None => "The connection works.".to_owned(),
        }),
        Err((code, message)) => Notice::bad(format!(
            "The connection test failed ({}): {message}",
            code.name()
        )),
    };
    // The check changed the stored health: show it.
    loaded.details = loaded
        .state
        .app
        .integration(signed.workspace_id(), loaded.id())
        .await?;
    overview_page(
        &loaded,
        &signed,
        OverviewInput {
            notice: Some(notice),
            ..OverviewInput::default()
        },
    )
    .await
}

/// `POST /dashboard/integrations/{id}/sync`: a sync of every enabled stream.
pub async fn sync(
    req: HttpRequest,
    signed: Signed,
    id: web::Path<String>,
    form: Form,
) -> Result<HttpResponse, DashError> {
    signed.check(&form)?;
    let loaded = load(&req, &signed, &id).await?;
    match loaded
        .state
        .app
        .start_sync_of(
            signed.workspace_id(),
            loaded.id(),
            StreamSelection::Enabled,
            SyncTrigger::Manual,
        )
        .await
    {
        Ok(started) => Ok(see_other(&format!(
            "/dashboard/integrations/{}/runs?done={}",
            loaded.id(),
            if started.joined { "joined" } else { "sync" }
        ))),
        // Not active, no stream enabled, the queue away: said on the page.
        Err(error) if error.code != ErrorCode::Internal => {
            overview_page(
                &loaded,
                &signed,
                OverviewInput {
                    notice: Some(Notice::bad(format!(
                        "The sync did not start: {}",
                        error.detail
                    ))),
                    status: StatusCode::from_u16(error.code.http_status())
                        .unwrap_or(StatusCode::CONFLICT),
                    ..OverviewInput::default()
                },
            )
            .await
        }
        Err(error) => Err(error.into()),
    }
}

/// `POST /dashboard/integrations/{id}/webhook`: sets the webhook signing secret
/// and/or the handshake's verify token (sealed like every credential; a blank
/// field leaves its value as it is).
pub async fn save_webhook(
    req: HttpRequest,
    signed: Signed,
    id: web::Path<String>,
    form: Form,
) -> Result<HttpResponse, DashError> {
    signed.check(&form)?;
    let loaded = load(&req, &signed, &id).await?;
    // Secrets keep their exact bytes; blank means "unchanged".
    let secret = |name: &str| {
        form.get(name)
            .filter(|v| !v.trim().is_empty())
            .map(str::to_owned)
    };
    match loaded
        .state
        .app
        .configure_webhook(
            signed.workspace_id(),
            loaded.id(),
            secret("signing_secret"),
            secret("verify_token"),
        )
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/dashboard/integrations/{}?done=webhook",
            loaded.id()
        ))),
        Err(error) if error.code == ErrorCode::Internal => Err(error.into()),
        Err(error) => {
            overview_page(
                &loaded,
                &signed,
                OverviewInput {
                    notice: Some(Notice::bad(format!(
                        "The webhook settings were not saved: {}",
                        error.detail
                    ))),
                    status: StatusCode::from_u16(error.code.http_status())
                        .unwrap_or(StatusCode::UNPROCESSABLE_ENTITY),
                    ..OverviewInput::default()
                },
            )
            .await
        }
    }
}

// ----- Reconnect and disconnect -----

#[derive(Template)]
#[template(path = "dashboard/reconnect.html")]
struct ReconnectPage {
    layout: Layout,
    head: Head,
    fields: Vec<Field>,
    errors: Vec<String>,
}

fn credential_fields(spec: &ProviderSpec) -> (Vec<Field>, Vec<String>) {
    let fields: Vec<Field> = spec
        .auth
        .credential_fields()
        .into_iter()
        .map(|f| Field::from_spec(f, None))
        .collect();
    let names = fields.iter().map(|f| f.name.clone()).collect();
    (fields, names)
}

fn reconnect_page(
    loaded: &Loaded,
    signed: &Signed,
    status: StatusCode,
    fields: Vec<Field>,
    errors: Vec<String>,
) -> Result<HttpResponse, DashError> {
    page(
        status,
        &ReconnectPage {
            layout: Layout::new(
                format!("Reconnect {}", loaded.details.integration.display_name),
                "integrations",
                Some(signed.csrf_token()),
            ),
            head: loaded.head("overview"),
            fields,
            errors,
        },
    )
}

/// `GET /dashboard/integrations/{id}/reconnect`: new credentials (typed-in
/// providers) or a button to the provider's consent page (OAuth).
pub async fn reconnect_form(
    req: HttpRequest,
    signed: Signed,
    id: web::Path<String>,
) -> Result<HttpResponse, DashError> {
    let loaded = load(&req, &signed, &id).await?;
    let (fields, _) = credential_fields(loaded.spec());
    reconnect_page(&loaded, &signed, StatusCode::OK, fields, Vec::new())
}

/// `POST /dashboard/integrations/{id}/reconnect`.
pub async fn reconnect(
    req: HttpRequest,
    signed: Signed,
    id: web::Path<String>,
    form: Form,
) -> Result<HttpResponse, DashError> {
    signed.check(&form)?;
    let loaded = load(&req, &signed, &id).await?;
    let (mut fields, names) = credential_fields(loaded.spec());
    let credentials = fields::read_all(&mut fields, &form);
    let return_to = loaded
        .state
        .app
        .config
        .public_url
        .join(OAUTH_RETURN_PATH)
        .map_err(|e| DashError::App(junction_app::Error::internal(e)))?;
    match loaded
        .state
        .app
        .reconnect(
            signed.workspace_id(),
            loaded.id(),
            credentials,
            Some(return_to.as_str()),
        )
        .await
    {
        Ok(Reconnected::Flow(flow)) => Ok(see_other(&flow.authorize_url)),
        Ok(Reconnected::Saved(_)) => Ok(see_other(&format!(
            "/dashboard/integrations/{}?done=reconnected",
            loaded.id()
        ))),
        Err(error) => {
            let status = StatusCode::from_u16(error.code.http_status())
                .unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            let errors = place_connect_error(&mut fields, &names, error)?;
            reconnect_page(&loaded, &signed, status, fields, errors)
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/disconnect.html")]
struct DisconnectPage {
    layout: Layout,
    head: Head,
}

/// `GET /dashboard/integrations/{id}/disconnect`: asks to confirm.
pub async fn disconnect_form(
    req: HttpRequest,
    signed: Signed,
    id: web::Path<String>,
) -> Result<HttpResponse, DashError> {
    let loaded = load(&req, &signed, &id).await?;
    page(
        StatusCode::OK,
        &DisconnectPage {
            layout: Layout::new(
                format!("Disconnect {}", loaded.details.integration.display_name),
                "integrations",
                Some(signed.csrf_token()),
            ),
            head: loaded.head("overview"),
        },
    )
}

/// `POST /dashboard/integrations/{id}/disconnect`: revokes and deletes.
pub async fn disconnect(
    req: HttpRequest,
    signed: Signed,
    id: web::Path<String>,
    form: Form,
) -> Result<HttpResponse, DashError> {
    signed.check(&form)?;
    let loaded = load(&req, &signed, &id).await?;
    loaded
        .state
        .app
        .disconnect(signed.workspace_id(), loaded.id())
        .await?;
    Ok(see_other("/dashboard/integrations?done=disconnected"))
}

// ----- Runs, log, records -----

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
    done: Option<String>,
    stream: Option<String>,
}

impl ListQuery {
    fn page(&self) -> PageParams {
        PageParams {
            limit: Some(PAGE_ROWS),
            cursor: self.cursor.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/runs.html")]
struct RunsPage {
    layout: Layout,
    head: Head,
    runs: Vec<RunRow>,
    next: Option<String>,
    /// A run has not ended: the list refreshes itself (htmx) until every one has.
    live: bool,
}

/// `GET /dashboard/integrations/{id}/runs`: runs with status, counts and errors,
/// newest first (refreshing by themselves while one is unfinished).
pub async fn runs(
    req: HttpRequest,
    signed: Signed,
    id: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, DashError> {
    let loaded = load(&req, &signed, &id).await?;
    let listed = loaded
        .state
        .app
        .sync_runs(signed.workspace_id(), loaded.id(), query.page().request()?)
        .await?;
    let (runs, next) = paged(listed, |run| RunRow::from(&run));
    let live = runs
        .iter()
        .any(|run| matches!(run.status.as_str(), "queued" | "running" | "retrying"));
    page(
        StatusCode::OK,
        &RunsPage {
            live,
            layout: tab_layout(&loaded, &signed, "Runs")
                .with_notice(query.done.as_deref().and_then(done_notice)),
            head: loaded.head("runs"),
            runs,
            next,
        },
    )
}

fn tab_layout(loaded: &Loaded, signed: &Signed, tab: &str) -> Layout {
    Layout::new(
        format!("{} · {tab}", loaded.details.integration.display_name),
        "integrations",
        Some(signed.csrf_token()),
    )
}

struct LogRow {
    at: String,
    level: &'static str,
    level_class: &'static str,
    operation: &'static str,
    message: String,
    details: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard/log.html")]
struct LogPage {
    layout: Layout,
    head: Head,
    entries: Vec<LogRow>,
    next: Option<String>,
}

/// `GET /dashboard/integrations/{id}/log`: the operation log, newest first.
pub async fn log(
    req: HttpRequest,
    signed: Signed,
    id: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, DashError> {
    let loaded = load(&req, &signed, &id).await?;
    let listed = loaded
        .state
        .app
        .integration_logs(
            signed.workspace_id(),
            loaded.id(),
            None,
            query.page().request()?,
        )
        .await?;
    let (entries, next) = paged(listed, |entry| LogRow {
        at: when(Some(entry.at)),
        level: entry.level.as_str(),
        level_class: match entry.level.as_str() {
            "error" => "bad",
            "warn" => "warn",
            _ => "",
        },
        operation: entry.operation.as_str(),
        message: entry.message,
        details: match &entry.details {
            Value::Object(map) if map.is_empty() => None,
            Value::Null => None,
            other => serde_json::to_string_pretty(other).ok(),
        },
    });
    page(
        StatusCode::OK,
        &LogPage {
            layout: tab_layout(&loaded, &signed, "Log"),
            head: loaded.head("log"),
            entries,
            next,
        },
    )
}

struct RecordRow {
    external_id: String,
    updated: String,
    deleted: Option<String>,
    data: String,
}

#[derive(Template)]
#[template(path = "dashboard/records.html")]
struct RecordsPage {
    layout: Layout,
    head: Head,
    streams: Vec<(&'static str, bool)>,
    stream: String,
    records: Vec<RecordRow>,
    next: Option<String>,
}

/// `GET /dashboard/integrations/{id}/records?stream=`: a stream's records, in the
/// order they last changed (deleted ones marked).
pub async fn records(
    req: HttpRequest,
    signed: Signed,
    id: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, DashError> {
    let loaded = load(&req, &signed, &id).await?;
    let stream = query
        .stream
        .clone()
        .filter(|s| loaded.spec().stream(s).is_some())
        .or_else(|| loaded.spec().streams.first().map(|s| s.name.to_owned()))
        .unwrap_or_default();
    let (records, next) = if stream.is_empty() {
        (Vec::new(), None)
    } else {
        let listed = loaded
            .state
            .app
            .records(
                signed.workspace_id(),
                loaded.id(),
                &stream,
                None,
                query.page().request()?,
            )
            .await?;
        paged(listed, |row| RecordRow {
            external_id: row.external_id,
            updated: when(Some(row.updated_at)),
            deleted: row.deleted_at.map(|at| when(Some(at))),
            data: serde_json::to_string_pretty(&row.data).unwrap_or_default(),
        })
    };
    page(
        StatusCode::OK,
        &RecordsPage {
            layout: tab_layout(&loaded, &signed, "Records"),
            head: loaded.head("records"),
            streams: loaded
                .spec()
                .streams
                .iter()
                .map(|s| (s.name, s.name == stream))
                .collect(),
            stream,
            records,
            next,
        },
    )
}

// ----- KPIs -----

#[derive(Debug, Deserialize)]
pub struct KpiParams {
    metric: Option<String>,
    granularity: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard/kpis.html")]
struct KpisPage {
    layout: Layout,
    head: Head,
    metrics: Vec<(&'static str, &'static str, bool)>,
    granularities: Vec<(&'static str, &'static str, bool)>,
    metric: String,
    charts: Vec<chart::Chart>,
    range: String,
}

/// `GET /dashboard/integrations/{id}/kpis?metric=&granularity=`: a metric's totals
/// by day (30 days), week (12 weeks) or month (12 months), charted.
pub async fn kpis(
    req: HttpRequest,
    signed: Signed,
    id: web::Path<String>,
    query: web::Query<KpiParams>,
) -> Result<HttpResponse, DashError> {
    let loaded = load(&req, &signed, &id).await?;
    let metrics: Vec<&junction_core::MetricSpec> = loaded
        .spec()
        .streams
        .iter()
        .flat_map(|s| s.metrics.iter())
        .collect();
    let metric = query
        .metric
        .clone()
        .filter(|m| metrics.iter().any(|spec| spec.name == m))
        .or_else(|| metrics.first().map(|m| m.name.to_owned()))
        .unwrap_or_default();
    let (granularity, days, name) = match query.granularity.as_deref() {
        Some("week") => (Granularity::Week, 7 * 12, "week"),
        Some("month") => (Granularity::Month, 365, "month"),
        _ => (Granularity::Day, 30, "day"),
    };
    let (charts, range) = if metric.is_empty() {
        (Vec::new(), String::new())
    } else {
        let kpis = loaded
            .state
            .app
            .kpis(
                signed.workspace_id(),
                KpiQuery {
                    selector: KpiSelector::Metric(metric.clone()),
                    integration_id: Some(loaded.id()),
                    from: None,
                    to: None,
                    granularity,
                },
            )
            .await;
        // The default range is 30 days; a longer one starts further back.
        let kpis = match kpis {
            Ok(k) if days > 30 => {
                let from = k.to.checked_sub_signed(Duration::days(days - 1));
                loaded
                    .state
                    .app
                    .kpis(
                        signed.workspace_id(),
                        KpiQuery {
                            selector: KpiSelector::Metric(metric.clone()),
                            integration_id: Some(loaded.id()),
                            from,
                            to: Some(k.to),
                            granularity,
                        },
                    )
                    .await?
            }
            other => other?,
        };
        let range = format!("{} to {}", kpis.from, kpis.to);
        (chart::of_totals(&metric, &kpis), range)
    };
    page(
        StatusCode::OK,
        &KpisPage {
            layout: tab_layout(&loaded, &signed, "KPIs"),
            head: loaded.head("kpis"),
            metrics: metrics
                .iter()
                .map(|m| (m.name, m.description, m.name == metric))
                .collect(),
            granularities: [
                ("day", "By day"),
                ("week", "By week"),
                ("month", "By month"),
            ]
            .into_iter()
            .map(|(value, label)| (value, label, value == name))
            .collect(),
            metric,
            charts,
            range,
        },
    )
}

// ----- Actions -----

/// The checkbox that sends an action to the action queue instead of running it
/// within the request (not an input of the action: its name starts with `_`).
const QUEUE_FIELD: &str = "_queue";

struct ActionForm {
    name: &'static str,
    description: &'static str,
    fields: Vec<Field>,
    errors: Vec<String>,
    /// The result of this action just run.
    result: Option<ActionResult>,
}

struct ActionResult {
    ok: bool,
    summary: String,
    output: Option<String>,
}

struct ActionRunRow {
    action: String,
    status: String,
    status_class: &'static str,
    created: String,
    outcome: String,
}

impl From<&ActionRun> for ActionRunRow {
    fn from(run: &ActionRun) -> Self {
        let status = run.status.as_str();
        Self {
            action: run.action.clone(),
            status: status.to_owned(),
            status_class: match status {
                "succeeded" => "ok",
                "failed" | "dead" => "bad",
                _ => "",
            },
            created: when(Some(run.created_at)),
            outcome: match (&run.error_message, &run.external_id) {
                (Some(message), _) => message.clone(),
                (None, Some(external)) => format!("provider id {external}"),
                (None, None) => String::new(),
            },
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/actions.html")]
struct ActionsPage {
    layout: Layout,
    head: Head,
    actions: Vec<ActionForm>,
    runs: Vec<ActionRunRow>,
}

fn action_forms(spec: &ProviderSpec) -> Vec<ActionForm> {
    spec.actions
        .iter()
        .map(|action| ActionForm {
            name: action.name,
            description: action.description,
            fields: fields::from_input_schema(&format!("a-{}", action.name), &action.input_schema),
            errors: Vec::new(),
            result: None,
        })
        .collect()
}

async fn actions_page(
    loaded: &Loaded,
    signed: &Signed,
    status: StatusCode,
    actions: Vec<ActionForm>,
) -> Result<HttpResponse, DashError> {
    let runs = loaded
        .state
        .app
        .action_runs(signed.workspace_id(), loaded.id(), PageRequest::first(20))
        .await?
        .items
        .iter()
        .map(ActionRunRow::from)
        .collect();
    page(
        status,
        &ActionsPage {
            layout: tab_layout(loaded, signed, "Actions"),
            head: loaded.head("actions"),
            actions,
            runs,
        },
    )
}

/// `GET /dashboard/integrations/{id}/actions`: a form per action and recent runs.
pub async fn actions(
    req: HttpRequest,
    signed: Signed,
    id: web::Path<String>,
) -> Result<HttpResponse, DashError> {
    let loaded = load(&req, &signed, &id).await?;
    let forms = action_forms(loaded.spec());
    actions_page(&loaded, &signed, StatusCode::OK, forms).await
}

/// `POST /dashboard/integrations/{id}/actions/{action}`: runs it; the result (or
/// each refusal by its field) is shown with the form, values kept.
pub async fn perform_action(
    req: HttpRequest,
    signed: Signed,
    path: web::Path<(String, String)>,
    form: Form,
) -> Result<HttpResponse, DashError> {
    signed.check(&form)?;
    let (id, action) = path.into_inner();
    let loaded = load(&req, &signed, &id).await?;
    let mut forms = action_forms(loaded.spec());
    let Some(target) = forms.iter_mut().find(|f| f.name == action) else {
        return Err(DashError::NotFound(format!(
            "{} has no action `{action}`",
            loaded.spec().name
        )));
    };
    let input = fields::read_all(&mut target.fields, &form);
    if target.fields.iter().any(|f| f.error.is_some()) {
        return actions_page(&loaded, &signed, StatusCode::UNPROCESSABLE_ENTITY, forms).await;
    }
    let outcome = loaded
        .state
        .app
        .perform_action(
            signed.workspace_id(),
            ActionRequest {
                integration_id: loaded.id(),
                action: &action,
                input: Value::Object(input),
                client_key: None,
                queue: form.checked(QUEUE_FIELD),
            },
        )
        .await;
    let status = match outcome {
        Ok(ActionOutcome::Done(run)) => {
            target.result = Some(ActionResult {
                ok: true,
                summary: match &run.external_id {
                    Some(external) => format!("Done: {} ({external}).", run.action),
                    None => format!("Done: {}.", run.action),
                },
                output: run
                    .output
                    .as_ref()
                    .and_then(|o| serde_json::to_string_pretty(o).ok()),
            });
            StatusCode::OK
        }
        Ok(ActionOutcome::Queued(run)) => {
            target.result = Some(ActionResult {
                ok: true,
                summary: format!(
                    "Queued: {} runs on the action queue; its outcome appears in the runs below.",
                    run.action
                ),
                output: None,
            });
            StatusCode::ACCEPTED
        }
        Err(error) if error.code == ErrorCode::ValidationFailed => {
            target.errors = fields::place_errors(&mut target.fields, &error.fields);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(error) if error.code == ErrorCode::Internal => return Err(error.into()),
        Err(error) => {
            target.result = Some(ActionResult {
                ok: false,
                summary: format!(
                    "The action failed ({}): {}",
                    error.code.name(),
                    error.detail
                ),
                output: None,
            });
            StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::BAD_GATEWAY)
        }
    };
    actions_page(&loaded, &signed, status, forms).await
}
