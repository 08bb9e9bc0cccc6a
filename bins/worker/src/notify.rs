//! [`NotifyHandler`]: delivers one notification (a row of `notifications`, created
//! once per event by its dedupe key — see [`crate::alerts`]) as an email through the
//! workspace's Resend integration.
//!
//! One attempt:
//! 1. loads the notification; one no longer `pending` was delivered or given up by an
//!    earlier attempt (a redelivered task) and is left alone;
//! 2. drops suppressed recipients (addresses that bounced or complained, recorded
//!    from the email provider's webhooks); when none is left the notification ends
//!    `suppressed` and nothing is sent;
//! 3. finds the workspace's active Resend integration — none is a clear `failed`
//!    notification and an abandoned job (no retries, no dead letter: nothing a
//!    retry could fix until someone connects Resend);
//! 4. renders the email from the notification's recorded details with
//!    junction-resend's templates and runs the adapter's `send_email` with the
//!    idempotency key `notification-{id}`: Resend answers a repeat of the same key
//!    and body with the first answer, so a retry after a lost response mails once;
//! 5. records `sent` with Resend's message id and logs the delivery on the Resend
//!    integration.
//!
//! Failures follow the shared retry policy: a provider outage or rate limit is
//! retried with backoff (the notification stays `pending` with the last error), a
//! refusal is permanent and dead-letters the job, which marks the notification
//! `failed`. Dead letters of this queue send no notification themselves (that
//! would loop).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use junction_app::Connections;
use junction_core::{ErrorCode, WorkspaceId};
use junction_jobs::{Envelope, FailureKind, Job, JobFailure, JobHandler, NotifyJob};
use junction_resend::templates::{self, Direction, RenderedEmail};
use junction_store::{
    StoreError,
    models::{
        AlertCondition, Integration, IntegrationStatus, LogLevel, Notification, NotificationKind,
        NotificationStatus, Operation,
    },
    repo::{self, logs::NewLog},
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::sync::{connect_failure, store_failure};

/// The provider notifications are sent through.
pub const EMAIL_PROVIDER: &str = junction_resend::PROVIDER_ID;

/// How many of a workspace's Resend integrations are looked at for an active one.
const RESEND_CANDIDATES: i64 = 50;

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

/// Renders a notification's email from its recorded details. Deterministic: every
/// attempt of one notification renders the same email (the idempotency key at
/// Resend covers the same request only).
pub fn render(
    kind: NotificationKind,
    workspace: &str,
    details: &serde_json::Value,
) -> Result<RenderedEmail, String> {
    let malformed = |e: serde_json::Error| format!("the {kind} notification's details: {e}");
    match kind {
        NotificationKind::KpiAlert => {
            let d: KpiAlertDetails = serde_json::from_value(details.clone()).map_err(malformed)?;
            let condition = AlertCondition::parse(&d.condition)
                .ok_or_else(|| format!("unknown alert condition `{}`", d.condition))?;
            let direction = match condition {
                AlertCondition::Above | AlertCondition::ChangePctAbove => Direction::Above,
                AlertCondition::Below | AlertCondition::ChangePctBelow => Direction::Below,
            };
            let metric = match (condition, d.window_days) {
                (AlertCondition::ChangePctAbove | AlertCondition::ChangePctBelow, days) => {
                    format!(
                        "{} (change in %, last {days} day(s) against the {days} before)",
                        d.metric
                    )
                }
                (_, 1) => d.metric.clone(),
                (_, days) => format!("{} ({days}-day total)", d.metric),
            };
            Ok(templates::kpi_alert(&templates::KpiAlert {
                workspace: workspace.to_owned(),
                rule: d.rule,
                integration: d.integration,
                metric,
                date: d.window_end,
                value: d.value,
                threshold: d.threshold,
                direction,
                dashboard_url: None,
            }))
        }
        NotificationKind::SyncFailed
        | NotificationKind::NeedsReauth
        | NotificationKind::DeadLetter => {
            let d: FailureDetails = serde_json::from_value(details.clone()).map_err(malformed)?;
            Ok(templates::sync_failure_alert(
                &templates::SyncFailureAlert {
                    workspace: workspace.to_owned(),
                    integration: d.integration,
                    provider: d.provider,
                    stream: d.stream,
                    error_code: d.error_code,
                    error_message: d.error_message,
                    failed_at: d.failed_at,
                    attempts: d.attempts,
                    dashboard_url: None,
                },
            ))
        }
        NotificationKind::WeeklyReport => {
            Err("weekly report notifications are not produced by this version of the worker".into())
        }
    }
}

/// Delivers notifications. Cheap to clone.
#[derive(Clone)]
pub struct NotifyHandler {
    connections: Connections,
}

impl std::fmt::Debug for NotifyHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyHandler").finish_non_exhaustive()
    }
}

/// What an attempt found to send.
struct Delivery {
    notification: Notification,
    workspace: String,
    to: Vec<String>,
    suppressed: usize,
    resend: Integration,
}

impl NotifyHandler {
    pub fn new(connections: Connections) -> Self {
        Self { connections }
    }

    /// The notify job in an envelope; any other job here is a routing bug.
    fn notify_job(envelope: &Envelope) -> Result<&NotifyJob, JobFailure> {
        match &envelope.job {
            Job::Notify(job) => Ok(job),
            other => Err(JobFailure::permanent(
                ErrorCode::Internal,
                format!("the notify queue received a `{}` job", other.kind()),
            )),
        }
    }

    async fn deliver(&self, job: &NotifyJob) -> Result<(), JobFailure> {
        let workspace_id = job.workspace_id;
        let Some(delivery) = self.prepare(job).await? else {
            return Ok(());
        };
        let notification = &delivery.notification;
        let email = render(
            notification.kind,
            &delivery.workspace,
            &notification.details,
        )
        .map_err(|message| JobFailure::permanent(ErrorCode::Internal, message))?;

        let adapter = self
            .connections
            .adapter(EMAIL_PROVIDER)
            .map_err(|e| connect_failure(&e))?;
        let connection = self
            .connections
            .open(workspace_id, &delivery.resend, None)
            .await
            .map_err(|e| connect_failure(&e))?;
        let ctx = self.connections.context(EMAIL_PROVIDER);
        let key = format!("notification-{}", notification.id);
        let outcome = adapter
            .act(
                &ctx,
                &connection,
                junction_resend::SEND_EMAIL,
                &email.action_input(&delivery.to),
                Some(&key),
            )
            .await
            .map_err(|e| JobFailure::from_adapter(&e, self.connections.clock.now()))?;

        let result = async {
            let mut tx = self.connections.store.begin(workspace_id).await?;
            repo::notifications::set_status(
                tx.conn(),
                notification.id,
                NotificationStatus::Sent,
                outcome.external_id.as_deref(),
                None,
            )
            .await?;
            repo::logs::append(
                tx.conn(),
                NewLog {
                    workspace_id,
                    integration_id: delivery.resend.id,
                    level: LogLevel::Info,
                    operation: Operation::Alert,
                    message: &format!(
                        "{} notification sent to {} recipient(s)",
                        notification.kind,
                        delivery.to.len()
                    ),
                    details: json!({
                        "notification_id": notification.id,
                        "kind": notification.kind,
                        "recipients": delivery.to.len(),
                        "suppressed": delivery.suppressed,
                        "message_id": outcome.external_id,
                        "about_integration_id": notification.integration_id,
                    }),
                    run_id: None,
                },
            )
            .await?;
            tx.commit().await
        }
        .await;
        // The email is out: a failure to record it is retried, and the retry's send
        // is answered from Resend's idempotency record rather than mailed again.
        result.map_err(|e| store_failure(&e))?;
        tracing::info!(
            notification_id = %notification.id,
            kind = %notification.kind,
            recipients = delivery.to.len(),
            "notification sent"
        );
        Ok(())
    }

    /// Loads what an attempt needs; `None` when there is nothing to send (already
    /// delivered or given up, or every recipient suppressed — recorded here).
    async fn prepare(&self, job: &NotifyJob) -> Result<Option<Delivery>, JobFailure> {
        let workspace_id = job.workspace_id;
        let mut tx = self
            .connections
            .store
            .begin(workspace_id)
            .await
            .map_err(|e| store_failure(&e))?;
        let found = async {
            let notification = match repo::notifications::get(tx.conn(), job.notification_id).await
            {
                Ok(notification) => notification,
                Err(StoreError::NotFound(_)) => return Ok(Err(NotFound)),
                Err(err) => return Err(err),
            };
            if notification.status != NotificationStatus::Pending {
                return Ok(Ok(None));
            }
            let suppressed =
                repo::email_suppressions::suppressed_among(tx.conn(), &notification.recipients)
                    .await?;
            let to: Vec<String> = notification
                .recipients
                .iter()
                .filter(|address| !suppressed.contains(&address.trim().to_lowercase()))
                .cloned()
                .collect();
            let workspace = repo::workspaces::get(tx.conn(), workspace_id).await?;
            let resend =
                repo::integrations::list(tx.conn(), None, Some(EMAIL_PROVIDER), RESEND_CANDIDATES)
                    .await?
                    .into_iter()
                    .find(|integration| integration.status == IntegrationStatus::Active);
            Ok(Ok(Some((notification, workspace.name, to, resend))))
        }
        .await
        .map_err(|e: StoreError| store_failure(&e))?;

        let (notification, workspace, to, resend) = match found {
            Err(NotFound) => {
                return Err(JobFailure::abandon(
                    ErrorCode::NotFound,
                    format!(
                        "notification {} no longer exists (its integration or workspace was deleted)",
                        job.notification_id
                    ),
                ));
            }
            Ok(None) => {
                tx.rollback().await.map_err(|e| store_failure(&e))?;
                tracing::info!(notification_id = %job.notification_id, "notification already handled");
                return Ok(None);
            }
            Ok(Some(found)) => found,
        };
        let suppressed = notification.recipients.len() - to.len();
        if to.is_empty() {
            repo::notifications::set_status(
                tx.conn(),
                notification.id,
                NotificationStatus::Suppressed,
                None,
                Some("every recipient is on the suppression list (bounced or complained)"),
            )
            .await
            .map_err(|e| store_failure(&e))?;
            tx.commit().await.map_err(|e| store_failure(&e))?;
            tracing::info!(notification_id = %notification.id, "notification suppressed: no recipient left");
            return Ok(None);
        }
        let Some(resend) = resend else {
            let message = "no active Resend integration in this workspace: connect Resend \
                           (an API key with a verified sending domain) to receive notifications";
            repo::notifications::set_status(
                tx.conn(),
                notification.id,
                NotificationStatus::Failed,
                None,
                Some(message),
            )
            .await
            .map_err(|e| store_failure(&e))?;
            tx.commit().await.map_err(|e| store_failure(&e))?;
            return Err(JobFailure::abandon(ErrorCode::IntegrationNotFound, message));
        };
        tx.commit().await.map_err(|e| store_failure(&e))?;
        Ok(Some(Delivery {
            notification,
            workspace,
            to,
            suppressed,
            resend,
        }))
    }

    /// Records a failed attempt on the notification; a failure to record it is
    /// logged (the job's outcome stands either way).
    async fn record_failure(
        &self,
        workspace_id: WorkspaceId,
        notification_id: Uuid,
        status: Option<NotificationStatus>,
        message: &str,
    ) {
        let result = async {
            let mut tx = self.connections.store.begin(workspace_id).await?;
            match status {
                Some(status) => {
                    repo::notifications::set_status(
                        tx.conn(),
                        notification_id,
                        status,
                        None,
                        Some(message),
                    )
                    .await?
                }
                None => {
                    repo::notifications::note_attempt_failed(tx.conn(), notification_id, message)
                        .await?
                }
            }
            tx.commit().await
        }
        .await;
        if let Err(err) = result {
            tracing::error!(%notification_id, error = %err, "could not record a failed notification attempt");
        }
    }
}

/// The notification row is gone.
struct NotFound;

#[async_trait]
impl JobHandler for NotifyHandler {
    async fn handle(&self, envelope: &Envelope) -> Result<(), JobFailure> {
        let job = Self::notify_job(envelope)?;
        let result = self.deliver(job).await;
        if let Err(failure) = &result {
            tracing::warn!(
                job_id = %envelope.job_id,
                attempt = envelope.attempt,
                code = failure.code.name(),
                error = %failure.message,
                "notification attempt failed"
            );
        }
        result
    }

    async fn on_retry(&self, envelope: &Envelope, failure: &JobFailure, _at: DateTime<Utc>) {
        // An abandoned job already recorded its outcome (failed, or the row is gone).
        if failure.kind == FailureKind::Abandon {
            return;
        }
        if let Ok(job) = Self::notify_job(envelope) {
            self.record_failure(
                job.workspace_id,
                job.notification_id,
                None,
                &failure.message,
            )
            .await;
        }
    }

    async fn on_dead_letter(&self, envelope: &Envelope, failure: &JobFailure) {
        if let Ok(job) = Self::notify_job(envelope) {
            self.record_failure(
                job.workspace_id,
                job.notification_id,
                Some(NotificationStatus::Failed),
                &failure.message,
            )
            .await;
        }
    }
}

#[cfg(test)]
mod tests {
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
                .contains("sessions (7-day total) is above 100"),
            "{}",
            email.subject
        );
        assert!(email.subject.contains("2026-11-22"));
        assert!(email.html.contains("Traffic &lt;b&gt;spike&lt;/b&gt;"));
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
}
