//! KPI alert rules and the notifications log: POST /v1/alerts, GET /v1/alerts,
//! GET /v1/alerts/{id}, PATCH /v1/alerts/{id}, DELETE /v1/alerts/{id},
//! GET /v1/notifications.
//!
//! The worker evaluates a workspace's enabled rules after each successful sync of
//! the integration they watch and emails the rule's recipients through the
//! workspace's Resend integration when the rule crosses into breach (once per
//! crossing, not per sync). Recipients of the workspace's rules also hear about
//! failed syncs and integrations that need a reconnect.

use std::collections::BTreeSet;

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use junction_core::spec::FieldError;
use junction_store::{
    StoreError,
    models::{AlertCondition, AlertRule, Notification, NotificationStatus},
    repo::{
        self,
        alerts::{AlertRulePatch, NewAlertRule},
    },
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    auth::Authenticated,
    error::{ApiError, ApiResult, Problem},
    pagination::{PageParams, paginate},
    state::AppState,
};

/// Longest rule name, in characters (the table's check says the same).
const MAX_NAME_CHARS: usize = 200;
/// Longest email address (RFC 5321 path limit).
const MAX_ADDRESS_CHARS: usize = 254;

/// POST /v1/alerts: a KPI alert rule.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAlertRule {
    /// 1-200 characters, shown in the email.
    pub name: Option<String>,
    /// The integration whose KPI is watched.
    pub integration_id: Option<Uuid>,
    /// A metric one of the integration's provider's streams produces (see
    /// `GET /v1/providers/{id}`: `streams[].metrics`).
    pub metric: Option<String>,
    /// `above` / `below` compare the metric's sum over the window with the threshold;
    /// `change_pct_above` / `change_pct_below` compare its change in percent against
    /// the window before (a 20 % drop is `-20`).
    pub condition: Option<String>,
    pub threshold: Option<f64>,
    /// Days summed, ending today (UTC): 1-366, default 1.
    pub window_days: Option<i32>,
    /// 1-50 email addresses.
    pub recipients: Option<Vec<String>>,
}

/// An alert rule with the state of its last evaluation.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertRuleView {
    pub id: Uuid,
    pub name: String,
    pub integration_id: Option<Uuid>,
    pub metric: String,
    /// `above`, `below`, `change_pct_above` or `change_pct_below`.
    pub condition: String,
    pub threshold: f64,
    pub window_days: i32,
    pub recipients: Vec<String>,
    pub enabled: bool,
    /// `ok`, `firing` (the condition held at the last evaluation) or `pending` (never
    /// evaluated: no sync since it was created, or no data yet).
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

impl From<AlertRule> for AlertRuleView {
    fn from(rule: AlertRule) -> Self {
        let state = match (rule.firing_since, rule.last_value) {
            (Some(_), _) => "firing",
            (None, Some(_)) => "ok",
            (None, None) => "pending",
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

/// Whether `address` is a plain `local@domain.tld` on one line (display names are
/// not accepted: suppressions and dedupe compare bare addresses).
fn valid_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    let clean = |part: &str| {
        !part.is_empty()
            && !part.chars().any(|c| {
                c.is_whitespace()
                    || c.is_control()
                    || matches!(
                        c,
                        '<' | '>' | ',' | ';' | '"' | '(' | ')' | '[' | ']' | '\\'
                    )
            })
    };
    address.chars().count() <= MAX_ADDRESS_CHARS
        && clean(local)
        && clean(domain)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

/// Field checks shared by create and update; collects every problem.
#[derive(Default)]
struct Checks {
    errors: Vec<FieldError>,
}

impl Checks {
    fn error(&mut self, field: &str, message: &str) {
        self.errors.push(FieldError {
            field: field.to_owned(),
            message: message.to_owned(),
        });
    }

    /// Trimmed, 1-200 characters, one line.
    fn name(&mut self, name: &str) -> Option<String> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            self.error("name", "is required: 1 to 200 characters");
            None
        } else if name.chars().any(char::is_control) {
            self.error("name", "must be one line of text");
            None
        } else {
            Some(name.to_owned())
        }
    }

    fn condition(&mut self, text: &str) -> Option<AlertCondition> {
        let parsed = AlertCondition::parse(text);
        if parsed.is_none() {
            self.error(
                "condition",
                "must be above, below, change_pct_above or change_pct_below",
            );
        }
        parsed
    }

    fn threshold(&mut self, threshold: f64) -> Option<f64> {
        if !threshold.is_finite() {
            self.error("threshold", "must be a finite number");
            return None;
        }
        Some(threshold)
    }

    fn window_days(&mut self, days: i32) -> Option<i32> {
        if !(1..=366).contains(&days) {
            self.error("window_days", "must be between 1 and 366");
            return None;
        }
        Some(days)
    }

    /// 1-50 plain addresses, lower-cased, without repeats.
    fn recipients(&mut self, addresses: &[String]) -> Option<Vec<String>> {
        if addresses.is_empty() {
            self.error("recipients", "is required: 1 to 50 email addresses");
            return None;
        }
        if addresses.len() > repo::alerts::MAX_RECIPIENTS {
            self.error("recipients", "must hold at most 50 email addresses");
            return None;
        }
        let mut seen = BTreeSet::new();
        let mut recipients = Vec::new();
        let mut valid = true;
        for (i, address) in addresses.iter().enumerate() {
            let address = address.trim().to_lowercase();
            if !valid_address(&address) {
                self.error(&format!("recipients[{i}]"), "is not an email address");
                valid = false;
            } else if seen.insert(address.clone()) {
                recipients.push(address);
            }
        }
        valid.then_some(recipients)
    }
}

impl CreateAlertRule {
    /// Checks everything that needs no database; every problem at once. Returns the
    /// rule with trimmed name and lower-cased, deduplicated recipients.
    fn check(&self, checks: &mut Checks) -> Option<NewAlertRule> {
        let name = match self.name.as_deref() {
            Some(name) => checks.name(name),
            None => {
                checks.error("name", "is required: 1 to 200 characters");
                None
            }
        };
        if self.integration_id.is_none() {
            checks.error("integration_id", "is required");
        }
        let metric = self.metric.as_deref().map(str::trim).unwrap_or_default();
        if metric.is_empty() {
            checks.error("metric", "is required");
        }
        let condition = match self.condition.as_deref() {
            Some(text) => checks.condition(text),
            None => {
                checks.error(
                    "condition",
                    "is required: above, below, change_pct_above or change_pct_below",
                );
                None
            }
        };
        let threshold = match self.threshold {
            Some(threshold) => checks.threshold(threshold),
            None => {
                checks.error("threshold", "is required: a finite number");
                None
            }
        };
        let window_days = checks.window_days(self.window_days.unwrap_or(1));
        let recipients = checks.recipients(self.recipients.as_deref().unwrap_or_default());
        Some(NewAlertRule {
            integration_id: self.integration_id,
            name: name?,
            metric: metric.to_owned(),
            condition: condition?,
            threshold: threshold?,
            window_days: window_days?,
            recipients: recipients?,
        })
    }
}

/// Creates an alert rule on a KPI of one of the workspace's integrations.
#[utoipa::path(
    tag = "alerts",
    request_body = CreateAlertRule,
    responses((status = 201, body = AlertRuleView), (status = 422, body = Problem)),
    security(("api_key" = []))
)]
#[post("/v1/alerts")]
pub async fn create(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: web::Json<CreateAlertRule>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let mut checks = Checks::default();
    let rule = body.check(&mut checks);
    let mut errors = checks.errors;
    let mut tx = state.store.begin(auth.workspace_id).await?;
    if let Some(integration_id) = body.integration_id {
        match repo::integrations::get(tx.conn(), integration_id).await {
            Ok(integration) => {
                let metric = body.metric.as_deref().map(str::trim).unwrap_or_default();
                if !metric.is_empty() {
                    check_metric(&state, &integration.provider, metric, &mut errors);
                }
            }
            // Another workspace's integration is as unknown as a made-up id.
            Err(StoreError::NotFound(_)) => errors.push(FieldError {
                field: "integration_id".into(),
                message: "is not an integration of this workspace".into(),
            }),
            Err(err) => return Err(err.into()),
        }
    }
    let rule = match rule {
        Some(rule) if errors.is_empty() => rule,
        _ => return Err(ApiError::validation(errors)),
    };
    let created = repo::alerts::create(tx.conn(), auth.workspace_id, rule).await?;
    tx.commit().await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/alerts/{}", created.id)))
        .json(AlertRuleView::from(created)))
}

/// Adds an error unless one of the provider's streams produces `metric`.
fn check_metric(state: &AppState, provider: &str, metric: &str, errors: &mut Vec<FieldError>) {
    let known: Vec<&str> = state
        .connections
        .adapter(provider)
        .map(|adapter| {
            adapter
                .spec()
                .streams
                .iter()
                .flat_map(|stream| stream.metrics.iter().copied())
                .collect()
        })
        .unwrap_or_default();
    if !known.contains(&metric) {
        let message = if known.is_empty() {
            format!("{provider} produces no KPI metrics")
        } else {
            format!("is not a metric of {provider}: one of {}", known.join(", "))
        };
        errors.push(FieldError {
            field: "metric".into(),
            message,
        });
    }
}

/// Lists the workspace's alert rules.
#[utoipa::path(
    tag = "alerts",
    params(PageParams),
    responses((status = 200, body = AlertRuleList), (status = 422, body = Problem)),
    security(("api_key" = []))
)]
#[get("/v1/alerts")]
pub async fn list(
    state: web::Data<AppState>,
    auth: Authenticated,
    page: web::Query<PageParams>,
) -> ApiResult<web::Json<AlertRuleList>> {
    let limit = page.limit()?;
    let after: Option<(DateTime<Utc>, Uuid)> = page.keyset()?;
    let mut tx = state.store.begin(auth.workspace_id).await?;
    let rows = repo::alerts::list(tx.conn(), after, limit + 1).await?;
    tx.commit().await?;
    let (rows, next_cursor) = paginate(rows, limit, |r| (r.created_at, r.id));
    Ok(web::Json(AlertRuleList {
        data: rows.into_iter().map(AlertRuleView::from).collect(),
        next_cursor,
    }))
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
    auth: Authenticated,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<AlertRuleView>> {
    let mut tx = state.store.begin(auth.workspace_id).await?;
    let rule = repo::alerts::get(tx.conn(), path.into_inner()).await?;
    tx.commit().await?;
    Ok(web::Json(AlertRuleView::from(rule)))
}

/// PATCH /v1/alerts/{id}: the fields to change (the metric and integration are
/// fixed: watch another one with a new rule).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAlertRule {
    pub name: Option<String>,
    pub condition: Option<String>,
    pub threshold: Option<f64>,
    pub window_days: Option<i32>,
    pub recipients: Option<Vec<String>>,
    /// `false` pauses the rule: it is not evaluated and mails nobody.
    pub enabled: Option<bool>,
}

impl UpdateAlertRule {
    fn check(&self) -> ApiResult<AlertRulePatch> {
        let mut checks = Checks::default();
        let patch = AlertRulePatch {
            name: self.name.as_deref().and_then(|n| checks.name(n)),
            condition: self.condition.as_deref().and_then(|c| checks.condition(c)),
            threshold: self.threshold.and_then(|t| checks.threshold(t)),
            window_days: self.window_days.and_then(|d| checks.window_days(d)),
            recipients: self
                .recipients
                .as_deref()
                .and_then(|r| checks.recipients(r)),
            enabled: self.enabled,
        };
        if !checks.errors.is_empty() {
            return Err(ApiError::validation(checks.errors));
        }
        Ok(patch)
    }
}

/// Changes an alert rule. A new condition, threshold or window, or pausing or
/// resuming it, clears its evaluation state: the next sync evaluates it afresh.
#[utoipa::path(
    tag = "alerts",
    params(("id" = Uuid, Path)),
    request_body = UpdateAlertRule,
    responses((status = 200, body = AlertRuleView), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = []))
)]
#[patch("/v1/alerts/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<Uuid>,
    body: web::Json<UpdateAlertRule>,
) -> ApiResult<web::Json<AlertRuleView>> {
    let patch = body.check()?;
    let mut tx = state.store.begin(auth.workspace_id).await?;
    let rule = repo::alerts::update(tx.conn(), path.into_inner(), &patch).await?;
    tx.commit().await?;
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
    auth: Authenticated,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut tx = state.store.begin(auth.workspace_id).await?;
    repo::alerts::delete(tx.conn(), path.into_inner()).await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A notification: what it reports, to whom, and how its delivery went.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: Uuid,
    /// `kpi_alert`, `sync_failed`, `needs_reauth`, `dead_letter` or `weekly_report`.
    pub kind: String,
    /// The event it reports; a second notification with the same key is never made.
    pub dedupe_key: String,
    pub alert_rule_id: Option<Uuid>,
    pub integration_id: Option<Uuid>,
    pub recipients: Vec<String>,
    pub subject: String,
    /// `pending`, `sent`, `failed` or `suppressed` (every recipient bounced or
    /// complained before).
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
    /// Only notifications in this state: `pending`, `sent`, `failed` or `suppressed`.
    pub status: Option<String>,
}

/// Lists the workspace's notifications.
#[utoipa::path(
    tag = "alerts",
    params(NotificationQuery, PageParams),
    responses((status = 200, body = NotificationList), (status = 422, body = Problem)),
    security(("api_key" = []))
)]
#[get("/v1/notifications")]
pub async fn notifications(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<NotificationQuery>,
    page: web::Query<PageParams>,
) -> ApiResult<web::Json<NotificationList>> {
    let status = query
        .status
        .as_deref()
        .map(|s| {
            NotificationStatus::parse(s).ok_or_else(|| {
                ApiError::field("status", "must be pending, sent, failed or suppressed")
            })
        })
        .transpose()?;
    let limit = page.limit()?;
    let before: Option<(DateTime<Utc>, Uuid)> = page.keyset()?;
    let mut tx = state.store.begin(auth.workspace_id).await?;
    let rows = repo::notifications::list(tx.conn(), status, before, limit + 1).await?;
    tx.commit().await?;
    let (rows, next_cursor) = paginate(rows, limit, |n| (n.created_at, n.id));
    Ok(web::Json(NotificationList {
        data: rows.into_iter().map(NotificationView::from).collect(),
        next_cursor,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_plain_and_on_one_line() {
        for good in ["ops@acme.example", "a.b+alerts@sub.acme.co"] {
            assert!(valid_address(good), "{good}");
        }
        for bad in [
            "",
            "ops",
            "ops@",
            "@acme.example",
            "ops@acme",
            "ops@.acme.example",
            "ops@acme.example.",
            "Ops <ops@acme.example>",
            "ops@acme.example\nBcc: x@y.z",
            "a b@acme.example",
            "ops@acme..example",
        ] {
            assert!(!valid_address(bad), "{bad:?}");
        }
    }
}
