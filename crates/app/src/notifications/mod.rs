//! Notifications: what Junction tells a workspace's people — a KPI alert (see
//! [`crate::alerts`]), a sync that failed for good, an integration that needs a
//! reconnect, a dead letter — each recorded exactly once by its dedupe key, and
//! delivered by email ([`delivery`]) through any email-capable provider.
//!
//! A notification row and its notify job are written in one transaction (the job
//! is staged in the outbox), so a recorded notification always gets its delivery
//! attempt, once Redis can take it.
//!
//! **Operational notifications** go to the recipients the workspace's notification
//! settings name for their kind ([`settings`]) — or, until it saved settings, to
//! every address of its enabled alert rules; with nobody to tell, none is recorded.
//! In `daily_digest` mode they are recorded `awaiting_digest`, without a job, and a
//! daily digest ([`digest`]) gathers them. Their dedupe keys name the event:
//! `sync_failed:{job_id}` (a
//! replayed dead letter that dies again has a new job id and mails again),
//! `needs_reauth:{integration_id}:{connection}` (the integration's last successful
//! connect or reconnect: each lost grant mails once, however many syncs meet it,
//! and a reconnected integration that loses its grant again mails again) and
//! `dead_letter:{queue}:{job_id}`. Nothing here fails the work it reports on:
//! errors are logged.
//!
//! **Scheduled emails**: the weekly KPI report ([`report`]) and the daily digest,
//! swept by every worker under one lease ([`sweep`]).

pub mod calendar;
pub mod delivery;
pub mod digest;
pub mod emails;
pub mod report;
pub mod settings;
pub mod suppressions;
pub mod sweep;

use chrono::{DateTime, NaiveDate, Utc};
use junction_core::{ErrorCode, WorkspaceId};
use junction_jobs::{Job, JobFailure, OutboundJob, outbox};
use junction_store::{
    Conn, StoreError,
    models::{
        AlertCondition, Integration, LogLevel, NoticeDelivery, Notification, NotificationKind,
        NotificationStatus, Operation, Queue, WebhookEndpoint,
    },
    repo::{self, notifications::NewNotification},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{App, Error, Listed, PageRequest, listed};
use emails::{
    DailyDigest, DigestLine, Direction, Failure, KpiAlert, KpiReportRow, RenderedEmail,
    SyncFailureAlert, WeeklyKpiReport,
};

/// What a KPI alert notification reports (its `details`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiAlertDetails {
    pub rule: String,
    /// The integration's display name ("all integrations" for a workspace-wide rule).
    pub integration: String,
    pub metric: String,
    /// The rule's condition (`above`, `below`, `change_pct_above`, `change_pct_below`).
    pub condition: String,
    pub threshold: f64,
    /// The window's total, or its change in percent for `change_pct_*` rules.
    pub value: f64,
    pub window_days: i32,
    pub window_start: NaiveDate,
    pub window_end: NaiveDate,
    /// The previous window's total (for `change_pct_*` rules).
    pub previous: Option<f64>,
    /// The currency of a money metric's value: each currency is evaluated alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// What a sync-failure, needs-reauth or dead-letter notification reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureDetails {
    pub integration: String,
    pub provider: String,
    pub stream: Option<String>,
    pub error_code: String,
    pub error_message: String,
    pub failed_at: DateTime<Utc>,
    pub attempts: u32,
}

/// One line of a weekly report's details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportLine {
    pub integration: String,
    pub metric: String,
    /// `None`: a gauge or ratio without data in the week.
    pub value: Option<f64>,
    pub previous: Option<f64>,
}

/// What a weekly KPI report notification reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeeklyReportDetails {
    pub week_start: NaiveDate,
    pub week_end: NaiveDate,
    pub lines: Vec<ReportLine>,
}

/// One notice a daily digest carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestNotice {
    /// The notice's own notification (`digested` once the digest is recorded).
    pub notification_id: Uuid,
    /// `sync_failed`, `needs_reauth` or `dead_letter`.
    pub kind: String,
    #[serde(flatten)]
    pub failure: FailureDetails,
}

/// What a daily digest reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestDetails {
    /// The local day it went out on.
    pub day: NaiveDate,
    pub time_zone: String,
    pub notices: Vec<DigestNotice>,
}

/// Renders a notification's email from its recorded details. Deterministic: every
/// attempt of one notification renders the same email (a provider's idempotency key
/// covers the same request only).
pub fn render(
    kind: NotificationKind,
    workspace: &str,
    details: &serde_json::Value,
) -> Result<RenderedEmail, String> {
    let malformed = |e: serde_json::Error| format!("the {kind} notification's details: {e}");
    let rendered = match kind {
        NotificationKind::KpiAlert => {
            let d: KpiAlertDetails = serde_json::from_value(details.clone()).map_err(malformed)?;
            let condition = AlertCondition::parse(&d.condition)
                .ok_or_else(|| format!("unknown alert condition `{}`", d.condition))?;
            let direction = match condition {
                AlertCondition::Above | AlertCondition::ChangePctAbove => Direction::Above,
                AlertCondition::Below | AlertCondition::ChangePctBelow => Direction::Below,
            };
            let name = match &d.currency {
                Some(currency) => format!("{} in {currency}", d.metric),
                None => d.metric.clone(),
            };
            let metric = match (condition, d.window_days) {
                (AlertCondition::ChangePctAbove | AlertCondition::ChangePctBelow, days) => {
                    format!("{name} (change in %, last {days} day(s) against the {days} before)")
                }
                (_, 1) => name,
                (_, days) => format!("{name} (over {days} days)"),
            };
            emails::kpi_alert(&KpiAlert {
                workspace: workspace.to_owned(),
                rule: d.rule,
                integration: d.integration,
                metric,
                date: d.window_end,
                value: d.value,
                threshold: d.threshold,
                direction,
                dashboard_url: None,
            })
        }
        NotificationKind::SyncFailed
        | NotificationKind::NeedsReauth
        | NotificationKind::DeadLetter => {
            let d: FailureDetails = serde_json::from_value(details.clone()).map_err(malformed)?;
            emails::sync_failure_alert(&SyncFailureAlert {
                failure: failure_of(kind),
                workspace: workspace.to_owned(),
                integration: d.integration,
                provider: d.provider,
                stream: d.stream,
                error_code: d.error_code,
                error_message: d.error_message,
                failed_at: d.failed_at,
                attempts: d.attempts,
                dashboard_url: None,
            })
        }
        NotificationKind::WeeklyReport => {
            let d: WeeklyReportDetails =
                serde_json::from_value(details.clone()).map_err(malformed)?;
            emails::weekly_kpi_report(&WeeklyKpiReport {
                workspace: workspace.to_owned(),
                week_start: d.week_start,
                week_end: d.week_end,
                rows: d
                    .lines
                    .into_iter()
                    .map(|line| KpiReportRow {
                        integration: line.integration,
                        metric: line.metric,
                        value: line.value,
                        previous: line.previous,
                    })
                    .collect(),
                dashboard_url: None,
            })
        }
        NotificationKind::DailyDigest => {
            let d: DigestDetails = serde_json::from_value(details.clone()).map_err(malformed)?;
            emails::daily_digest(&DailyDigest {
                workspace: workspace.to_owned(),
                day: d.day,
                lines: d
                    .notices
                    .into_iter()
                    .map(|notice| DigestLine {
                        what: NotificationKind::parse(&notice.kind)
                            .map_or(Failure::SyncFailed, failure_of)
                            .headline()
                            .to_owned(),
                        integration: notice.failure.integration,
                        provider: notice.failure.provider,
                        stream: notice.failure.stream,
                        error_code: notice.failure.error_code,
                        error_message: notice.failure.error_message,
                        at: notice.failure.failed_at,
                    })
                    .collect(),
                dashboard_url: None,
            })
        }
        NotificationKind::PaymentEmail => {
            let notice: junction_core::PaymentNotice =
                serde_json::from_value(details.clone()).map_err(malformed)?;
            emails::payment_notice(workspace, &notice)
        }
    };
    rendered.map_err(|e| e.to_string())
}

/// What an operational notice of `kind` reports (a sync failure for any other).
fn failure_of(kind: NotificationKind) -> Failure {
    match kind {
        NotificationKind::NeedsReauth => Failure::NeedsReauth,
        NotificationKind::DeadLetter => Failure::DeadLetter,
        _ => Failure::SyncFailed,
    }
}

/// A notification about to be recorded.
#[derive(Debug, Clone)]
pub struct Draft {
    pub kind: NotificationKind,
    pub dedupe_key: String,
    pub alert_rule_id: Option<Uuid>,
    pub integration_id: Option<Uuid>,
    pub recipients: Vec<String>,
    pub details: serde_json::Value,
}

/// Records a notification (its subject rendered from its details) with its delivery
/// job, in the caller's transaction, unless its dedupe key exists; returns the new
/// id.
pub async fn record(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    workspace_name: &str,
    draft: Draft,
) -> Result<Option<Uuid>, StoreError> {
    insert(
        conn,
        workspace_id,
        workspace_name,
        draft,
        NotificationStatus::Pending,
    )
    .await
}

/// Records a notice for the workspace's daily digest (`awaiting_digest`, no job),
/// unless its dedupe key exists; returns the new id.
pub async fn hold_for_digest(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    workspace_name: &str,
    draft: Draft,
) -> Result<Option<Uuid>, StoreError> {
    insert(
        conn,
        workspace_id,
        workspace_name,
        draft,
        NotificationStatus::AwaitingDigest,
    )
    .await
}

async fn insert(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    workspace_name: &str,
    draft: Draft,
    status: NotificationStatus,
) -> Result<Option<Uuid>, StoreError> {
    let email = render(draft.kind, workspace_name, &draft.details).map_err(StoreError::Invalid)?;
    let row = repo::notifications::insert_once(
        conn,
        NewNotification {
            workspace_id,
            kind: draft.kind,
            dedupe_key: &draft.dedupe_key,
            alert_rule_id: draft.alert_rule_id,
            integration_id: draft.integration_id,
            recipients: draft.recipients,
            subject: &email.subject,
            details: draft.details,
            status,
        },
    )
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    if status == NotificationStatus::Pending {
        outbox::stage(conn, &Job::of_notification(&row)).await?;
    }
    Ok(Some(row.id))
}

impl App {
    /// The workspace's notifications (in one state, when given), newest first.
    pub async fn notifications(
        &self,
        workspace_id: WorkspaceId,
        status: Option<NotificationStatus>,
        page: PageRequest<(DateTime<Utc>, Uuid)>,
    ) -> Result<Listed<Notification, (DateTime<Utc>, Uuid)>, Error> {
        let mut tx = self.begin(workspace_id).await?;
        let rows = repo::notifications::list(tx.conn(), status, page.after, page.limit + 1).await?;
        tx.commit().await?;
        Ok(listed(rows, page.limit, |n| (n.created_at, n.id)))
    }

    /// A sync job was dead-lettered: tells the workspace once per job id.
    pub async fn notify_sync_failed(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
        job_id: &str,
        stream: Option<&str>,
        failure: &JobFailure,
        attempts: u32,
    ) {
        let now = self.now();
        let result = self
            .operational(
                workspace_id,
                integration_id,
                NotificationKind::SyncFailed,
                |integration| {
                    (
                        format!("sync_failed:{job_id}"),
                        FailureDetails {
                            integration: integration.display_name.clone(),
                            provider: integration.provider.clone(),
                            stream: stream.map(str::to_owned),
                            error_code: failure.code.name().to_owned(),
                            error_message: failure.message.clone(),
                            failed_at: now,
                            attempts,
                        },
                    )
                },
            )
            .await;
        log_outcome("sync_failed", result);
    }

    /// A job of another queue (action, webhook) was dead-lettered: tells the
    /// workspace once per job. Dead letters of the notify queue never come here;
    /// the outbound queue's have [`Self::notify_outbound_dead`].
    pub async fn notify_dead_letter(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
        queue: Queue,
        job_id: &str,
        failure: &JobFailure,
        attempts: u32,
    ) {
        if queue == Queue::Notify {
            return;
        }
        let now = self.now();
        let result = self
            .operational(
                workspace_id,
                integration_id,
                NotificationKind::DeadLetter,
                |integration| {
                    (
                        format!("dead_letter:{queue}:{job_id}"),
                        FailureDetails {
                            integration: integration.display_name.clone(),
                            provider: integration.provider.clone(),
                            stream: None,
                            error_code: failure.code.name().to_owned(),
                            error_message: format!("{queue} job {job_id}: {}", failure.message),
                            failed_at: now,
                            attempts,
                        },
                    )
                },
            )
            .await;
        log_outcome("dead_letter", result);
    }

    /// An outbound webhook delivery was dead-lettered — the client app's endpoint
    /// refused or missed every attempt (about 27 hours on the default schedule), or
    /// is disabled: tells the workspace's dead-letter recipients once per job. The
    /// endpoint is named by its description and host, never its whole URL (its path
    /// or query may hold a token).
    pub async fn notify_outbound_dead(
        &self,
        job: &OutboundJob,
        job_id: &str,
        failure: &JobFailure,
        attempts: u32,
    ) {
        let loaded = async {
            let mut tx = self.store.begin(job.workspace_id).await?;
            let delivery = repo::outbound_deliveries::get(tx.conn(), job.delivery_id).await?;
            let endpoint = repo::webhook_endpoints::get(tx.conn(), delivery.endpoint_id).await?;
            let event = repo::outbound_events::get(tx.conn(), delivery.event_id).await?;
            tx.commit().await?;
            Ok::<_, StoreError>((endpoint, event))
        }
        .await;
        let (endpoint, event) = match loaded {
            Ok(loaded) => loaded,
            Err(error) => {
                tracing::error!(delivery_id = %job.delivery_id, %error, "could not load a dead outbound delivery to report it");
                return;
            }
        };
        let now = self.now();
        let queue = Queue::Outbound;
        let result = self
            .operational_of(job.workspace_id, None, NotificationKind::DeadLetter, |_| {
                Ok((
                    format!("dead_letter:{queue}:{job_id}"),
                    FailureDetails {
                        integration: endpoint_name(&endpoint),
                        provider: "outbound webhooks".to_owned(),
                        stream: None,
                        error_code: failure.code.name().to_owned(),
                        error_message: format!(
                            "the `{}` event {} was not delivered: {}. Replay the dead letter \
                                 (GET /v1/dead-letters?queue=outbound) once the endpoint answers",
                            event.event_type, event.id, failure.message
                        ),
                        failed_at: now,
                        attempts,
                    },
                ))
            })
            .await;
        log_outcome("dead_letter", result);
    }

    /// The integration is `needs_reauth`: tells the workspace once per lost grant.
    pub async fn notify_needs_reauth(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
        message: &str,
    ) {
        let since = async {
            let mut tx = self.store.begin(workspace_id).await?;
            let since = reauth_episode(tx.conn(), integration_id).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(since)
        }
        .await;
        let since = match since {
            Ok(since) => since,
            Err(err) => {
                tracing::error!(%integration_id, error = %err, "could not look up when the integration needed reauthorization");
                return;
            }
        };
        let now = self.now();
        let result = self
            .operational(
                workspace_id,
                integration_id,
                NotificationKind::NeedsReauth,
                |integration| {
                    (
                        format!("needs_reauth:{integration_id}:{since}"),
                        FailureDetails {
                            integration: integration.display_name.clone(),
                            provider: integration.provider.clone(),
                            stream: None,
                            error_code: ErrorCode::IntegrationNeedsReauth.name().to_owned(),
                            error_message: message.to_owned(),
                            failed_at: now,
                            attempts: 1,
                        },
                    )
                },
            )
            .await;
        log_outcome("needs_reauth", result);
    }

    /// Records an operational notification of `kind` to the workspace's recipients
    /// of that kind, for now or for the daily digest (see the module docs).
    async fn operational(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
        kind: NotificationKind,
        what: impl FnOnce(&Integration) -> (String, FailureDetails),
    ) -> Result<Option<Uuid>, StoreError> {
        self.operational_of(workspace_id, Some(integration_id), kind, |integration| {
            let integration = integration.ok_or_else(|| {
                StoreError::Invalid("an integration's notice without its integration".into())
            })?;
            Ok(what(integration))
        })
        .await
    }

    /// [`Self::operational`] of a notice about an integration, or (`None`) about the
    /// workspace itself (an outbound webhook endpoint's dead letter).
    async fn operational_of(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Option<Uuid>,
        kind: NotificationKind,
        what: impl FnOnce(Option<&Integration>) -> Result<(String, FailureDetails), StoreError>,
    ) -> Result<Option<Uuid>, StoreError> {
        let mut tx = self.store.begin(workspace_id).await?;
        let (recipients, delivery) = settings::recipients_for(tx.conn(), kind).await?;
        if recipients.is_empty() {
            tx.rollback().await?;
            tracing::info!(?integration_id, %kind, "nobody in the workspace hears of this kind of notice");
            return Ok(None);
        }
        let integration = match integration_id {
            Some(id) => Some(repo::integrations::get(tx.conn(), id).await?),
            None => None,
        };
        let workspace = repo::workspaces::get(tx.conn(), workspace_id).await?;
        let (dedupe_key, details) = what(integration.as_ref())?;
        let draft = Draft {
            kind,
            dedupe_key,
            alert_rule_id: None,
            integration_id,
            recipients,
            details: serde_json::to_value(&details)
                .map_err(|e| StoreError::Invalid(e.to_string()))?,
        };
        let id = match delivery {
            NoticeDelivery::Immediate => {
                record(tx.conn(), workspace_id, &workspace.name, draft).await?
            }
            NoticeDelivery::DailyDigest => {
                hold_for_digest(tx.conn(), workspace_id, &workspace.name, draft).await?
            }
        };
        tx.commit().await?;
        Ok(id)
    }
}

/// An outbound endpoint as a notice names it: its description (when it has one)
/// and its URL's host.
fn endpoint_name(endpoint: &WebhookEndpoint) -> String {
    let host = url::Url::parse(&endpoint.url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_else(|| "an invalid URL".to_owned());
    match endpoint.description.trim() {
        "" => format!("Webhook endpoint at {host}"),
        description => format!("Webhook endpoint {description} ({host})"),
    }
}

fn log_outcome(kind: &str, result: Result<Option<Uuid>, StoreError>) {
    match result {
        Ok(Some(id)) => tracing::info!(kind, notification_id = %id, "notification recorded"),
        Ok(None) => {}
        Err(err) => tracing::error!(kind, error = %err, "could not record a notification"),
    }
}

/// Names the integration's current `needs_reauth` episode: the connection it lost,
/// i.e. the newest successful connect or reconnect log entry (`initial` when there
/// is none: an integration created without one). Every sync meeting the same lost
/// grant names the same episode; a reconnect starts a new one.
pub(crate) async fn reauth_episode(
    conn: &mut Conn,
    integration_id: Uuid,
) -> Result<String, StoreError> {
    let mut newest: Option<i64> = None;
    for operation in [Operation::Connect, Operation::Reconnect] {
        let entries = repo::logs::list(conn, integration_id, Some(operation), None, 20).await?;
        // Failed reconnect attempts are logged too, as warnings or errors.
        if let Some(entry) = entries.iter().find(|e| e.level == LogLevel::Info) {
            newest = newest.max(Some(entry.id));
        }
    }
    Ok(newest.map_or_else(|| "initial".to_owned(), |id| format!("conn-{id}")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn kpi(condition: AlertCondition, window_days: i32) -> serde_json::Value {
        serde_json::to_value(KpiAlertDetails {
            rule: "Traffic <b>spike</b>".into(),
            integration: "GA4".into(),
            metric: "sessions".into(),
            condition: condition.as_str().to_owned(),
            threshold: 100.0,
            value: 150.0,
            window_days,
            window_start: NaiveDate::from_ymd_opt(2026, 11, 16).unwrap_or_default(),
            window_end: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap_or_default(),
            previous: None,
            currency: None,
        })
        .unwrap_or_default()
    }

    #[test]
    fn kpi_alerts_render_the_window_and_direction() {
        let email = render(
            NotificationKind::KpiAlert,
            "Acme",
            &kpi(AlertCondition::Above, 7),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            email
                .subject
                .contains("sessions (over 7 days) is above 100"),
            "{}",
            email.subject
        );
        assert!(email.subject.contains("2026-11-22"));
        assert!(email.html.contains("Traffic &#60;b&#62;spike&#60;/b&#62;"));
        let drop = render(
            NotificationKind::KpiAlert,
            "Acme",
            &kpi(AlertCondition::ChangePctBelow, 1),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(drop.subject.contains("change in %"), "{}", drop.subject);
        assert!(drop.subject.contains("is below"), "{}", drop.subject);
    }

    #[test]
    fn rendering_is_deterministic_and_checks_details() {
        let details = kpi(AlertCondition::Below, 1);
        assert_eq!(
            render(NotificationKind::KpiAlert, "Acme", &details),
            render(NotificationKind::KpiAlert, "Acme", &details)
        );
        let wrong = render(NotificationKind::SyncFailed, "Acme", &details);
        assert!(wrong.is_err_and(|e| e.contains("sync_failed")));
        assert!(render(NotificationKind::WeeklyReport, "Acme", &json!({})).is_err());
    }

    #[test]
    fn weekly_reports_render_from_their_details() {
        let details = serde_json::to_value(WeeklyReportDetails {
            week_start: NaiveDate::from_ymd_opt(2026, 11, 16).unwrap_or_default(),
            week_end: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap_or_default(),
            lines: vec![ReportLine {
                integration: "Stripe".into(),
                metric: "charges".into(),
                value: Some(12.0),
                previous: Some(10.0),
            }],
        })
        .unwrap_or_default();
        let email = render(NotificationKind::WeeklyReport, "Acme", &details)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            email
                .text
                .contains("- Stripe / charges: 12 (previous week 10, +20.0%)")
        );
        assert_eq!(email.category, "weekly_kpi_report");
    }
}
