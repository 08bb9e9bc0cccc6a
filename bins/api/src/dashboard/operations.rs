//! Operations: the workspace's queue figures (refreshing by themselves through htmx
//! polling of [`queues`], a plain reload without JavaScript), dead letters with
//! replay one by one and in bulk, stored webhook events with replay, alert rules and
//! the notifications sent.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use junction_app::{
    PageRequest, dead_letters,
    models::{DeadLetterFilter, Queue, WebhookEventFilter},
};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    chart,
    forms::Form,
    session::Signed,
    ui::{self, DashError, Layout, Notice, done_notice, page, see_other, when},
};

/// Rows each list shows.
const ROWS: i64 = 50;
/// Most dead letters one bulk replay takes from the page.
const BULK_REPLAY: i64 = 100;

/// One queue's figures.
pub struct QueueRow {
    name: &'static str,
    waiting: i64,
    running: i64,
    retrying: i64,
    dead: i64,
    oldest: String,
}

#[derive(Template)]
#[template(path = "dashboard/queues.html")]
struct QueuesFragment {
    queues: Vec<QueueRow>,
    updated: String,
}

struct LetterRow {
    id: String,
    queue: &'static str,
    integration: String,
    error: String,
    attempts: i32,
    dead_at: String,
    replayed: Option<String>,
}

struct EventRow {
    id: String,
    provider: String,
    event_type: String,
    status: &'static str,
    status_class: &'static str,
    received: String,
    error: String,
    replays: i32,
}

struct RuleRow {
    name: String,
    metric: String,
    condition: String,
    enabled: bool,
    state: String,
    recipients: String,
}

struct NotificationRow {
    created: String,
    kind: &'static str,
    subject: String,
    status: &'static str,
    recipients: String,
    error: String,
}

#[derive(Template)]
#[template(path = "dashboard/operations.html")]
struct OperationsPage {
    layout: Layout,
    queues: Vec<QueueRow>,
    updated: String,
    pending_only: bool,
    letters: Vec<LetterRow>,
    more_letters: bool,
    queue_names: Vec<&'static str>,
    events: Vec<EventRow>,
    rules: Vec<RuleRow>,
    notifications: Vec<NotificationRow>,
}

async fn queue_rows(req: &HttpRequest, signed: &Signed) -> Result<Vec<QueueRow>, DashError> {
    let state = ui::state(req)?;
    let now = state.app.now();
    Ok(state
        .app
        .workspace_job_figures(signed.workspace_id())
        .await?
        .into_iter()
        .map(|f| QueueRow {
            name: f.queue.as_str(),
            waiting: f.waiting,
            running: f.running,
            retrying: f.retrying,
            dead: f.dead,
            oldest: match f.oldest_waiting {
                Some(at) => format!("{} s", (now - at).num_seconds().max(0)),
                None => "—".to_owned(),
            },
        })
        .collect())
}

/// `GET /dashboard/operations/queues`: the figures alone (what htmx polls).
pub async fn queues(req: HttpRequest, signed: Signed) -> Result<HttpResponse, DashError> {
    let queues = queue_rows(&req, &signed).await?;
    page(
        StatusCode::OK,
        &QueuesFragment {
            queues,
            updated: when(Some(chrono::Utc::now())),
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    done: Option<String>,
    /// `all` lists replayed dead letters too.
    letters: Option<String>,
}

async fn operations_page(
    req: &HttpRequest,
    signed: &Signed,
    status: StatusCode,
    notice: Option<Notice>,
    pending_only: bool,
) -> Result<HttpResponse, DashError> {
    let state = ui::state(req)?;
    let workspace_id = signed.workspace_id();
    let app = &state.app;
    let queues = queue_rows(req, signed).await?;
    let names: std::collections::HashMap<Uuid, String> = app
        .integrations(workspace_id, &Default::default(), PageRequest::first(200))
        .await?
        .items
        .into_iter()
        .map(|d| (d.integration.id, d.integration.display_name))
        .collect();
    let name_of = |id: Option<Uuid>| match id {
        Some(id) => names.get(&id).cloned().unwrap_or_else(|| id.to_string()),
        None => "—".to_owned(),
    };
    let letters = dead_letters::list(
        &app.store,
        workspace_id,
        &DeadLetterFilter {
            pending_only,
            ..DeadLetterFilter::default()
        },
        PageRequest::first(ROWS),
    )
    .await?;
    let more_letters = letters.next.is_some();
    let letters = letters
        .items
        .into_iter()
        .map(|l| LetterRow {
            id: l.id.to_string(),
            queue: l.queue.as_str(),
            integration: name_of(l.integration_id),
            error: format!("{}: {}", l.error_code, l.error_message),
            attempts: l.attempts,
            dead_at: when(Some(l.dead_at)),
            replayed: l.replayed_at.map(|at| when(Some(at))),
        })
        .collect();
    let events = app
        .webhook_events(
            workspace_id,
            &WebhookEventFilter::default(),
            PageRequest::first(ROWS),
        )
        .await?
        .items
        .into_iter()
        .map(|e| {
            let status = e.status.as_str();
            EventRow {
                id: e.id.to_string(),
                provider: name_of(Some(e.integration_id)),
                event_type: e.event_type,
                status,
                status_class: match status {
                    "processed" => "ok",
                    "failed" => "bad",
                    _ => "",
                },
                received: when(Some(e.received_at)),
                error: e.error_message.unwrap_or_default(),
                replays: e.replays,
            }
        })
        .collect();
    let rules = app
        .alert_rules(workspace_id, PageRequest::first(ROWS))
        .await?
        .items
        .into_iter()
        .map(|r| RuleRow {
            name: r.name,
            metric: r.metric,
            condition: format!(
                "{} {} over {} day(s)",
                r.condition.as_str(),
                chart::figure(r.threshold),
                r.window_days
            ),
            enabled: r.enabled,
            state: match (r.firing_since, r.last_evaluated_at) {
                (Some(since), _) => format!("firing since {}", when(Some(since))),
                (None, Some(at)) => format!("quiet (checked {})", when(Some(at))),
                (None, None) => "not evaluated yet".to_owned(),
            },
            recipients: r.recipients.join(", "),
        })
        .collect();
    let notifications = app
        .notifications(workspace_id, None, PageRequest::first(20))
        .await?
        .items
        .into_iter()
        .map(|n| NotificationRow {
            created: when(Some(n.created_at)),
            kind: n.kind.as_str(),
            subject: n.subject,
            status: n.status.as_str(),
            recipients: n.recipients.join(", "),
            error: n.error_message.unwrap_or_default(),
        })
        .collect();
    page(
        status,
        &OperationsPage {
            layout: Layout::new("Operations", "operations", Some(signed.csrf_token()))
                .with_notice(notice),
            queues,
            updated: when(Some(chrono::Utc::now())),
            pending_only,
            letters,
            more_letters,
            queue_names: Queue::ALL.iter().map(|q| q.as_str()).collect(),
            events,
            rules,
            notifications,
        },
    )
}

/// `GET /dashboard/operations`.
pub async fn show(
    req: HttpRequest,
    signed: Signed,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, DashError> {
    let notice = query.done.as_deref().and_then(done_notice);
    let pending_only = query.letters.as_deref() != Some("all");
    operations_page(&req, &signed, StatusCode::OK, notice, pending_only).await
}

fn parse_id(raw: &str, what: &str) -> Result<Uuid, DashError> {
    raw.parse()
        .map_err(|_| DashError::NotFound(format!("there is no such {what}")))
}

/// A refusal shown on the operations page (a conflict, a queue away), or an
/// error page for the rest.
async fn refused(
    req: &HttpRequest,
    signed: &Signed,
    error: junction_app::Error,
    what: &str,
) -> Result<HttpResponse, DashError> {
    if error.code == junction_core::ErrorCode::Internal {
        return Err(error.into());
    }
    let status = StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::CONFLICT);
    operations_page(
        req,
        signed,
        status,
        Some(Notice::bad(format!("{what}: {}", error.detail))),
        true,
    )
    .await
}

/// `POST /dashboard/dead-letters/{id}/replay`.
pub async fn replay(
    req: HttpRequest,
    signed: Signed,
    id: web::Path<String>,
    form: Form,
) -> Result<HttpResponse, DashError> {
    signed.check(&form)?;
    let state = ui::state(&req)?;
    let id = parse_id(&id, "dead letter")?;
    match dead_letters::replay(&state.app.store, signed.workspace_id(), id).await {
        Ok(_) => Ok(see_other("/dashboard/operations?done=replayed")),
        Err(error) => refused(&req, &signed, error, "The replay was refused").await,
    }
}

/// `POST /dashboard/dead-letters/replay`: every pending dead letter (of a queue,
/// when one is chosen), up to 100 at a time.
pub async fn replay_all(
    req: HttpRequest,
    signed: Signed,
    form: Form,
) -> Result<HttpResponse, DashError> {
    signed.check(&form)?;
    let state = ui::state(&req)?;
    let queue = match form.text("queue") {
        Some(name) => Some(
            Queue::parse(&name)
                .ok_or_else(|| DashError::BadForm(format!("`{name}` is not a queue")))?,
        ),
        None => None,
    };
    let filter = DeadLetterFilter {
        queue,
        pending_only: true,
        ..DeadLetterFilter::default()
    };
    match dead_letters::replay_matching(
        &state.app.store,
        signed.workspace_id(),
        &filter,
        BULK_REPLAY,
    )
    .await
    {
        Ok(replayed) => {
            operations_page(
                &req,
                &signed,
                StatusCode::OK,
                Some(Notice::ok(match replayed.len() {
                    0 => "No pending dead letter to replay.".to_owned(),
                    1 => "1 dead letter replayed.".to_owned(),
                    n => format!("{n} dead letters replayed."),
                })),
                true,
            )
            .await
        }
        Err(error) => refused(&req, &signed, error, "The bulk replay was refused").await,
    }
}

/// `POST /dashboard/webhook-events/{id}/replay`.
pub async fn replay_event(
    req: HttpRequest,
    signed: Signed,
    id: web::Path<String>,
    form: Form,
) -> Result<HttpResponse, DashError> {
    signed.check(&form)?;
    let state = ui::state(&req)?;
    let id = parse_id(&id, "webhook event")?;
    match state
        .app
        .replay_webhook_event(signed.workspace_id(), id)
        .await
    {
        Ok(_) => Ok(see_other("/dashboard/operations?done=replayed")),
        Err(error) => refused(&req, &signed, error, "The replay was refused").await,
    }
}
