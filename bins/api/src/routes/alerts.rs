//! KPI alert rules and the notifications log: POST /v1/alerts, GET /v1/alerts,
//! GET /v1/alerts/{id}, PATCH /v1/alerts/{id}, DELETE /v1/alerts/{id},
//! GET /v1/notifications.
//!
//! The worker evaluates a workspace's enabled rules after each successful sync of
//! the integration they watch and emails the rule's recipients through the
//! workspace's Resend integration when the rule crosses into breach (once per
//! crossing, not per sync). Failed syncs, lost grants and dead letters go to the
//! recipients of the workspace's notification settings (GET
//! /v1/notification-settings) — until it saves some, to its rules' recipients.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use junction_app::{
    alerts::{AlertRuleChanges, AlertRuleInput},
    models::{AlertRule, Notification, NotificationStatus},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    auth::Auth,
    error::{ApiError, ApiResult, Problem},
    extract::{Json, Path, Query},
    pagination::{PageParams, page},
    state::AppState,
};

/// POST /v1/alerts: a KPI alert rule.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAlertRule {
    #[schema(schema_with = crate::schema::alert_name, required = true)]
    pub name: Option<String>,
    /// The integration whose KPI is watched.
    #[schema(value_type = Uuid, required = true)]
    pub integration_id: Option<Uuid>,
    #[schema(schema_with = crate::schema::metric, required = true)]
    pub metric: Option<String>,
    #[schema(schema_with = crate::schema::condition, required = true)]
    pub condition: Option<String>,
    #[schema(value_type = f64, required = true)]
    pub threshold: Option<f64>,
    #[schema(schema_with = crate::schema::window_days)]
    pub window_days: Option<i32>,
    #[schema(schema_with = crate::schema::recipients, required = true)]
    pub recipients: Option<Vec<String>>,
    /// For a money metric: the one ISO 4217 currency to watch (`USD`). Without it
    /// each currency is evaluated alone, and any one crossing fires the rule.
    #[schema(schema_with = crate::schema::currency)]
    pub currency: Option<String>,
}

/// An alert rule with the state of its last evaluation.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertRuleView {
    pub id: Uuid,
    pub name: String,
    pub integration_id: Option<Uuid>,
    pub metric: String,
    /// `above`, `below`, `change_pct_above` or `change_pct_below`.
    #[schema(schema_with = crate::schema::alert_condition)]
    pub condition: String,
    pub threshold: f64,
    pub window_days: i32,
    pub recipients: Vec<String>,
    /// The one currency a rule on a money metric watches (`null`: each alone).
    pub currency: Option<String>,
    pub enabled: bool,
    /// `ok`, `firing` (the condition held at the last evaluation) or `pending` (never
    /// evaluated: no sync since it was created, or no data yet).
    #[schema(schema_with = alert_state)]
    pub state: String,
    /// Since when the condition holds, while firing.
    pub firing_since: Option<DateTime<Utc>>,
    /// The value the last evaluation computed (a change in percent for `change_pct_*`).
    pub last_value: Option<f64>,
    pub last_evaluated_at: Option<DateTime<Utc>>,
    /// When the rule last sent an email.
    pub last_triggered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The states of a rule, as [`AlertRuleView::state`] names them.
const ALERT_STATES: [&str; 3] = ["pending", "ok", "firing"];

fn alert_state() -> utoipa::openapi::schema::Object {
    crate::schema::one_of(ALERT_STATES)
}

impl From<AlertRule> for AlertRuleView {
    fn from(rule: AlertRule) -> Self {
        let [pending, ok, firing] = ALERT_STATES;
        let state = match (rule.firing_since, rule.last_value) {
            (Some(_), _) => firing,
            (None, Some(_)) => ok,
            (None, None) => pending,
        };
        Self {
            id: rule.id,
            name: rule.name,
            integration_id: rule.integration_id,
            metric: rule.metric,
            condition: rule.condition.as_str().to_owned(),
            threshold: rule.threshold,
            window_days: rule.window_days,
            recipients: rule.recipients,
            currency: rule.currency,
            enabled: rule.enabled,
            state: state.to_owned(),
            firing_since: rule.firing_since,
            last_value: rule.last_value,
            last_evaluated_at: rule.last_evaluated_at,
            last_triggered_at: rule.last_triggered_at,
            created_at: rule.created_at,
        }
    }
}

/// A page of alert rules, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertRuleList {
    pub data: Vec<AlertRuleView>,
    pub next_cursor: Option<String>,
}

impl From<CreateAlertRule> for AlertRuleInput {
    fn from(body: CreateAlertRule) -> Self {
        Self {
            name: body.name,
            integration_id: body.integration_id,
            metric: body.metric,
            condition: body.condition,
            threshold: body.threshold,
            window_days: body.window_days,
            recipients: body.recipients,
            currency: body.currency,
        }
    }
}

/// Creates an alert rule on a KPI of one of the workspace's integrations.
#[utoipa::path(
    tag = "alerts",
    request_body = CreateAlertRule,
    responses(
        (status = 201, body = AlertRuleView),
        (status = 404, body = Problem, description = "`integration_not_found`: a well-formed rule on an integration that is not the workspace's"),
        (status = 422, body = Problem, description = "`validation_failed`: every field at fault, the metric checked against the integration's provider")
    ),
    security(("api_key" = []))
)]
#[post("/v1/alerts")]
pub async fn create(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<CreateAlertRule>,
) -> ApiResult<HttpResponse> {
    let created = state
        .app
        .create_alert_rule(auth.workspace_id, body.into_inner().into())
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/alerts/{}", created.id)))
        .json(AlertRuleView::from(created)))
}

/// Lists the workspace's alert rules.
#[utoipa::path(
    tag = "alerts",
    params(PageParams),
    responses((status = 200, body = AlertRuleList)),
    security(("api_key" = []))
)]
#[get("/v1/alerts")]
pub async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    params: Query<PageParams>,
) -> ApiResult<web::Json<AlertRuleList>> {
    let listed = state
        .app
        .alert_rules(auth.workspace_id, params.request()?)
        .await?;
    let (data, next_cursor) = page(listed, AlertRuleView::from);
    Ok(web::Json(AlertRuleList { data, next_cursor }))
}

/// One alert rule.
#[utoipa::path(
    tag = "alerts",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AlertRuleView), (status = 404, body = Problem)),
    security(("api_key" = []))
)]
#[get("/v1/alerts/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
) -> ApiResult<web::Json<AlertRuleView>> {
    let rule = state
        .app
        .alert_rule(auth.workspace_id, path.into_inner())
        .await?;
    Ok(web::Json(AlertRuleView::from(rule)))
}

/// PATCH /v1/alerts/{id}: the fields to change (the metric and integration are
/// fixed: watch another one with a new rule).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAlertRule {
    #[schema(schema_with = crate::schema::alert_name_or_null)]
    pub name: Option<String>,
    #[schema(schema_with = crate::schema::condition_or_null)]
    pub condition: Option<String>,
    pub threshold: Option<f64>,
    #[schema(schema_with = crate::schema::window_days)]
    pub window_days: Option<i32>,
    #[schema(schema_with = crate::schema::recipients_or_null)]
    pub recipients: Option<Vec<String>>,
    /// `false` pauses the rule: it is not evaluated and mails nobody.
    pub enabled: Option<bool>,
}

impl From<UpdateAlertRule> for AlertRuleChanges {
    fn from(body: UpdateAlertRule) -> Self {
        Self {
            name: body.name,
            condition: body.condition,
            threshold: body.threshold,
            window_days: body.window_days,
            recipients: body.recipients,
            enabled: body.enabled,
        }
    }
}

/// Changes an alert rule. A new condition, threshold or window, or pausing or
/// resuming it, clears its evaluation state: the next sync evaluates it afresh.
#[utoipa::path(
    tag = "alerts",
    params(("id" = Uuid, Path)),
    request_body = UpdateAlertRule,
    responses((status = 200, body = AlertRuleView), (status = 404, body = Problem)),
    security(("api_key" = []))
)]
#[patch("/v1/alerts/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
    body: Json<UpdateAlertRule>,
) -> ApiResult<web::Json<AlertRuleView>> {
    let rule = state
        .app
        .update_alert_rule(
            auth.workspace_id,
            path.into_inner(),
            body.into_inner().into(),
        )
        .await?;
    Ok(web::Json(AlertRuleView::from(rule)))
}

/// Deletes an alert rule (its past notifications stay, without the rule).
#[utoipa::path(
    tag = "alerts",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)),
    security(("api_key" = []))
)]
#[delete("/v1/alerts/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    state
        .app
        .delete_alert_rule(auth.workspace_id, path.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A notification: what it reports, to whom, and how its delivery went.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: Uuid,
    /// `kpi_alert`, `sync_failed`, `needs_reauth`, `dead_letter`, `weekly_report`,
    /// `daily_digest` or `payment_email`.
    #[schema(schema_with = crate::schema::notification_kind)]
    pub kind: String,
    /// The event it reports; a second notification with the same key is never made.
    pub dedupe_key: String,
    pub alert_rule_id: Option<Uuid>,
    pub integration_id: Option<Uuid>,
    pub recipients: Vec<String>,
    pub subject: String,
    /// `pending`, `sent`, `failed`, `suppressed` (every recipient is on the
    /// suppression list), `awaiting_digest` (the next daily digest carries it) or
    /// `digested` (a daily digest carried it).
    #[schema(schema_with = crate::schema::notification_status)]
    pub status: String,
    /// Resend's id of the email, once sent.
    pub provider_message_id: Option<String>,
    /// Why it failed (or why the last attempt failed, while a retry is pending).
    pub error_message: Option<String>,
    /// What it reports (rule, metric, value; or the error of a failed sync).
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<Notification> for NotificationView {
    fn from(n: Notification) -> Self {
        Self {
            id: n.id,
            kind: n.kind.as_str().to_owned(),
            dedupe_key: n.dedupe_key,
            alert_rule_id: n.alert_rule_id,
            integration_id: n.integration_id,
            recipients: n.recipients,
            subject: n.subject,
            status: n.status.as_str().to_owned(),
            provider_message_id: n.provider_message_id,
            error_message: n.error_message,
            details: n.details,
            created_at: n.created_at,
            sent_at: n.sent_at,
        }
    }
}

/// A page of notifications, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationList {
    pub data: Vec<NotificationView>,
    pub next_cursor: Option<String>,
}

/// `?status=` of the notification list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// Only notifications in this state: `pending`, `sent`, `failed`, `suppressed`,
    /// `awaiting_digest` or `digested`.
    #[param(schema_with = crate::schema::notification_status)]
    pub status: Option<String>,
}

/// Lists the workspace's notifications.
#[utoipa::path(
    tag = "alerts",
    params(NotificationQuery, PageParams),
    responses((status = 200, body = NotificationList)),
    security(("api_key" = []))
)]
#[get("/v1/notifications")]
pub async fn notifications(
    state: web::Data<AppState>,
    auth: Auth,
    query: Query<NotificationQuery>,
    params: Query<PageParams>,
) -> ApiResult<web::Json<NotificationList>> {
    let status = query
        .status
        .as_deref()
        .map(|s| {
            NotificationStatus::parse(s).ok_or_else(|| {
                ApiError::field(
                    "status",
                    "must be pending, sent, failed, suppressed, awaiting_digest or digested",
                )
            })
        })
        .transpose()?;
    let listed = state
        .app
        .notifications(auth.workspace_id, status, params.request()?)
        .await?;
    let (data, next_cursor) = page(listed, NotificationView::from);
    Ok(web::Json(NotificationList { data, next_cursor }))
}
