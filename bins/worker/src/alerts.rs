//! [`Notifier`]: creates the notifications the sync path owes — KPI alerts after a
//! successful sync, and sync failures, integrations needing a reconnect and dead
//! letters — each exactly once, and queues their delivery on the notify queue
//! ([`crate::notify::NotifyHandler`] sends them).
//!
//! **KPI alerts** fire on the transition into breach, as Grafana's alert states do
//! (Normal → Firing), not on every evaluation: after each successful sync, every
//! enabled rule watching the integration is evaluated under a row lock, and only a
//! rule that was not firing and now holds creates a notification. While the
//! condition keeps holding, later syncs only record the value; once it stops
//! holding the rule resets and the next crossing mails again. The dedupe key
//! `alert:{rule_id}:{window_end}` adds a second guarantee: one rule mails at most
//! once per window end day, even if its metric flaps around the threshold.
//!
//! A rule's value is the metric summed over the last `window_days` days up to today
//! (UTC), per integration and day taking the provider's total row when it wrote one
//! and the sum of its breakdown rows otherwise. `change_pct_*` rules compare that sum
//! with the `window_days` days before, in percent (a drop of 20 % is `-20`); with no
//! previous data (or a previous sum of 0) there is no change to compare and nothing
//! fires. A window without any data point is "no data": neither fires nor resolves.
//!
//! **Operational notifications** go to every address of the workspace's enabled
//! alert rules (the people who asked to hear about its data); a workspace without
//! rules gets none. Their dedupe keys name the event: `sync_failed:{job_id}` (a
//! replayed dead letter that dies again has a new job id and mails again),
//! `needs_reauth:{integration_id}:{connection}` (the integration's last successful
//! connect or reconnect: each lost grant mails once, however many syncs meet it,
//! and a reconnected integration that loses its grant again mails again) and
//! `dead_letter:{queue}:{job_id}`.
//!
//! A notification row is committed before its job is queued, and the job id
//! (`notify-{notification_id}`) makes a repeated enqueue a no-op. A push that failed
//! (Redis unreachable at that moment) is made good by the workspace's next sync:
//! notifications still pending without any attempt after [`REQUEUE_AFTER`] are
//! queued again (the handler sends nothing twice: a notification no longer pending
//! is skipped, and Resend's idempotency key covers a send in flight). Nothing here
//! fails the sync it follows: errors are logged and the next sync evaluates again.

use std::{collections::BTreeMap, sync::Arc};

use chrono::{Duration, NaiveDate};
use junction_core::{Clock, ErrorCode, WorkspaceId};
use junction_jobs::{Job, JobFailure, NotifyJob, Queues};
use junction_store::{
    Conn, Store, StoreError,
    models::{
        AlertCondition, AlertRule, Integration, KpiRow, LogLevel, NotificationKind, Operation,
        Queue,
    },
    repo::{self, alerts::Evaluation, logs::NewLog, notifications::NewNotification},
};
use serde_json::json;
use uuid::Uuid;

use crate::notify::{FailureDetails, KpiAlertDetails, render};

/// How long a notification may wait for its first attempt before a sync of its
/// workspace queues it again (well beyond a normal queue delay).
pub const REQUEUE_AFTER: Duration = Duration::minutes(10);

/// Most notifications queued again after one sync.
const REQUEUE_BATCH: i64 = 50;

/// Creates notifications and queues them. Cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    store: Store,
    queues: Queues,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").finish_non_exhaustive()
    }
}

/// A notification about to be recorded.
struct Draft {
    kind: NotificationKind,
    dedupe_key: String,
    alert_rule_id: Option<Uuid>,
    integration_id: Option<Uuid>,
    recipients: Vec<String>,
    details: serde_json::Value,
}

impl Notifier {
    pub fn new(store: Store, queues: Queues, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            queues,
            clock,
        }
    }

    /// Evaluates the alert rules watching an integration after a successful sync;
    /// returns the ids of the notifications it created (and queued).
    pub async fn after_sync(
        &self,
        workspace_id: WorkspaceId,
        integration: &Integration,
    ) -> Vec<Uuid> {
        self.requeue_unattempted(workspace_id).await;
        match self.evaluate(workspace_id, integration).await {
            Ok(created) => {
                self.enqueue(workspace_id, &created).await;
                created
            }
            Err(err) => {
                tracing::error!(
                    integration_id = %integration.id,
                    error = %err,
                    "could not evaluate the alert rules after a sync; the next sync evaluates them again"
                );
                Vec::new()
            }
        }
    }

    /// Queues again the workspace's notifications whose job was apparently never
    /// queued (see the module docs).
    async fn requeue_unattempted(&self, workspace_id: WorkspaceId) {
        let before = self.clock.now() - REQUEUE_AFTER;
        let stale = async {
            let mut tx = self.store.begin(workspace_id).await?;
            let ids = repo::notifications::unattempted(tx.conn(), before, REQUEUE_BATCH).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(ids)
        }
        .await;
        match stale {
            Ok(ids) if ids.is_empty() => {}
            Ok(ids) => {
                tracing::warn!(
                    count = ids.len(),
                    "queueing notifications that never had an attempt"
                );
                self.enqueue(workspace_id, &ids).await;
            }
            Err(err) => tracing::error!(error = %err, "could not look for unqueued notifications"),
        }
    }

    /// Evaluates every enabled rule of the integration in one transaction.
    async fn evaluate(
        &self,
        workspace_id: WorkspaceId,
        integration: &Integration,
    ) -> Result<Vec<Uuid>, StoreError> {
        let now = self.clock.now();
        let today = now.date_naive();
        let mut tx = self.store.begin(workspace_id).await?;
        let rules = repo::alerts::for_integration_locked(tx.conn(), integration.id).await?;
        if rules.is_empty() {
            tx.rollback().await?;
            return Ok(Vec::new());
        }
        let workspace = repo::workspaces::get(tx.conn(), workspace_id).await?;
        let mut created = Vec::new();
        for rule in rules {
            let window = Window::ending(today, rule.window_days);
            let rows = repo::kpis::series(
                tx.conn(),
                rule.integration_id,
                &rule.metric,
                window.previous_start,
                today,
            )
            .await?;
            let current = window_sum(&rows, window.start, today);
            let previous = window_sum(&rows, window.previous_start, window.previous_end);
            let value = measure(rule.condition, current, previous);
            let holds = value.map(|v| holds(rule.condition, v, rule.threshold));
            let firing_since = match holds {
                // No data: the state stays as it was.
                None => rule.firing_since,
                Some(false) => None,
                Some(true) => Some(rule.firing_since.unwrap_or(now)),
            };
            if let (Some(value), Some(true), None) = (value, holds, rule.firing_since) {
                let details = KpiAlertDetails {
                    rule: rule.name.clone(),
                    integration: match rule.integration_id {
                        Some(_) => integration.display_name.clone(),
                        None => "all integrations".to_owned(),
                    },
                    metric: rule.metric.clone(),
                    condition: rule.condition.as_str().to_owned(),
                    threshold: rule.threshold,
                    value,
                    window_days: rule.window_days,
                    window_start: window.start,
                    window_end: today,
                    previous: match rule.condition {
                        AlertCondition::ChangePctAbove | AlertCondition::ChangePctBelow => previous,
                        AlertCondition::Above | AlertCondition::Below => None,
                    },
                };
                let draft = Draft {
                    kind: NotificationKind::KpiAlert,
                    dedupe_key: format!("alert:{}:{today}", rule.id),
                    alert_rule_id: Some(rule.id),
                    integration_id: rule.integration_id,
                    recipients: rule.recipients.clone(),
                    details: serde_json::to_value(&details)
                        .map_err(|e| StoreError::Invalid(e.to_string()))?,
                };
                if let Some(id) = insert(tx.conn(), workspace_id, &workspace.name, draft).await? {
                    repo::alerts::mark_triggered(tx.conn(), rule.id, now).await?;
                    log_alert(tx.conn(), workspace_id, integration.id, &rule, value, id).await?;
                    created.push(id);
                }
            }
            repo::alerts::record_evaluation(
                tx.conn(),
                rule.id,
                Evaluation {
                    value,
                    firing_since,
                    evaluated_at: now,
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(created)
    }

    /// A sync job was dead-lettered: tells the workspace once per job id.
    pub async fn sync_failed(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
        job_id: &str,
        stream: Option<&str>,
        failure: &JobFailure,
        attempts: u32,
    ) {
        let result = self
            .operational(workspace_id, integration_id, |integration| {
                (
                    NotificationKind::SyncFailed,
                    format!("sync_failed:{job_id}"),
                    FailureDetails {
                        integration: integration.display_name.clone(),
                        provider: integration.provider.clone(),
                        stream: stream.map(str::to_owned),
                        error_code: failure.code.name().to_owned(),
                        error_message: failure.message.clone(),
                        failed_at: self.clock.now(),
                        attempts,
                    },
                )
            })
            .await;
        self.finish(workspace_id, "sync_failed", result).await;
    }

    /// A job of another queue (action, webhook) was dead-lettered: tells the
    /// workspace once per job. Dead letters of the notify queue must not come here.
    pub async fn dead_letter(
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
        let result = self
            .operational(workspace_id, integration_id, |integration| {
                (
                    NotificationKind::DeadLetter,
                    format!("dead_letter:{queue}:{job_id}"),
                    FailureDetails {
                        integration: integration.display_name.clone(),
                        provider: integration.provider.clone(),
                        stream: None,
                        error_code: failure.code.name().to_owned(),
                        error_message: format!("{queue} job {job_id}: {}", failure.message),
                        failed_at: self.clock.now(),
                        attempts,
                    },
                )
            })
            .await;
        self.finish(workspace_id, "dead_letter", result).await;
    }

    /// The integration is `needs_reauth`: tells the workspace once per revocation.
    pub async fn needs_reauth(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
        message: &str,
    ) {
        let mut since = None;
        let result = async {
            let mut tx = self.store.begin(workspace_id).await?;
            since = Some(reauth_episode(tx.conn(), integration_id).await?);
            tx.commit().await
        }
        .await;
        let since = match (result, since) {
            (Ok(()), Some(since)) => since,
            (Err(err), _) => {
                tracing::error!(%integration_id, error = %err, "could not look up when the integration needed reauthorization");
                return;
            }
            (Ok(()), None) => return,
        };
        let result = self
            .operational(workspace_id, integration_id, |integration| {
                (
                    NotificationKind::NeedsReauth,
                    format!("needs_reauth:{integration_id}:{since}"),
                    FailureDetails {
                        integration: integration.display_name.clone(),
                        provider: integration.provider.clone(),
                        stream: None,
                        error_code: ErrorCode::IntegrationNeedsReauth.name().to_owned(),
                        error_message: message.to_owned(),
                        failed_at: self.clock.now(),
                        attempts: 1,
                    },
                )
            })
            .await;
        self.finish(workspace_id, "needs_reauth", result).await;
    }

    /// Records an operational notification to the workspace's recipients.
    async fn operational(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
        what: impl FnOnce(&Integration) -> (NotificationKind, String, FailureDetails),
    ) -> Result<Option<Uuid>, StoreError> {
        let mut tx = self.store.begin(workspace_id).await?;
        let recipients = repo::alerts::recipients(tx.conn()).await?;
        if recipients.is_empty() {
            tx.rollback().await?;
            tracing::info!(%integration_id, "no notification recipients in the workspace (no enabled alert rule)");
            return Ok(None);
        }
        let integration = repo::integrations::get(tx.conn(), integration_id).await?;
        let workspace = repo::workspaces::get(tx.conn(), workspace_id).await?;
        let (kind, dedupe_key, details) = what(&integration);
        let draft = Draft {
            kind,
            dedupe_key,
            alert_rule_id: None,
            integration_id: Some(integration_id),
            recipients,
            details: serde_json::to_value(&details)
                .map_err(|e| StoreError::Invalid(e.to_string()))?,
        };
        let id = insert(tx.conn(), workspace_id, &workspace.name, draft).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn finish(
        &self,
        workspace_id: WorkspaceId,
        kind: &str,
        result: Result<Option<Uuid>, StoreError>,
    ) {
        match result {
            Ok(Some(id)) => self.enqueue(workspace_id, &[id]).await,
            Ok(None) => {}
            Err(err) => tracing::error!(kind, error = %err, "could not record a notification"),
        }
    }

    /// Queues delivery of committed notifications. A failed push is logged: the
    /// row stays `pending` and visible in `GET /v1/notifications`.
    async fn enqueue(&self, workspace_id: WorkspaceId, ids: &[Uuid]) {
        for id in ids {
            let job = Job::Notify(NotifyJob {
                workspace_id,
                notification_id: *id,
            });
            if let Err(err) = self.queues.enqueue(job).await {
                tracing::error!(notification_id = %id, error = %err, "could not queue a notification");
            }
        }
    }
}

/// Records a notification (subject rendered from its details) unless its dedupe key
/// exists; returns the new id.
async fn insert(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    workspace_name: &str,
    draft: Draft,
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
        },
    )
    .await?;
    Ok(row.map(|n| n.id))
}

/// Logs a rule firing on the integration whose sync evaluated it.
async fn log_alert(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    rule: &AlertRule,
    value: f64,
    notification_id: Uuid,
) -> Result<(), StoreError> {
    repo::logs::append(
        conn,
        NewLog {
            workspace_id,
            integration_id,
            level: LogLevel::Warn,
            operation: Operation::Alert,
            message: &format!(
                "alert rule `{}` fired: {} {} {} {}",
                rule.name, rule.metric, value, rule.condition, rule.threshold
            ),
            details: json!({
                "alert_rule_id": rule.id,
                "metric": rule.metric,
                "condition": rule.condition,
                "threshold": rule.threshold,
                "value": value,
                "window_days": rule.window_days,
                "notification_id": notification_id,
            }),
            run_id: None,
        },
    )
    .await?;
    Ok(())
}

/// Names the integration's current `needs_reauth` episode: the connection it lost,
/// i.e. the newest successful connect or reconnect log entry (`initial` when there
/// is none: an integration created without one). Every sync meeting the same lost
/// grant names the same episode; a reconnect starts a new one.
async fn reauth_episode(conn: &mut Conn, integration_id: Uuid) -> Result<String, StoreError> {
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

/// The days a rule looks at: `[start, end]` and the window before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    start: NaiveDate,
    previous_start: NaiveDate,
    previous_end: NaiveDate,
}

impl Window {
    fn ending(end: NaiveDate, window_days: i32) -> Self {
        let days = i64::from(window_days.clamp(1, 366));
        let start = end - Duration::days(days - 1);
        Self {
            start,
            previous_start: start - Duration::days(days),
            previous_end: start - Duration::days(1),
        }
    }
}

/// The metric's sum over `[from, to]`: per integration and day, the total row
/// (empty dimension key) when there is one, else the sum of the breakdown rows.
/// `None` when no point falls in the range.
fn window_sum(rows: &[KpiRow], from: NaiveDate, to: NaiveDate) -> Option<f64> {
    // (integration, day) -> (total row, sum of breakdown rows)
    let mut days: BTreeMap<(Uuid, NaiveDate), (Option<f64>, f64)> = BTreeMap::new();
    for row in rows.iter().filter(|r| r.date >= from && r.date <= to) {
        let entry = days.entry((row.integration_id, row.date)).or_default();
        if row.dimension_key.is_empty() {
            entry.0 = Some(row.value);
        } else {
            entry.1 += row.value;
        }
    }
    if days.is_empty() {
        return None;
    }
    Some(
        days.values()
            .map(|(total, breakdown)| total.unwrap_or(*breakdown))
            .sum(),
    )
}

/// What a rule compares with its threshold: the window's sum, or its change in
/// percent against the previous window (`None` when there is nothing to compare).
fn measure(condition: AlertCondition, current: Option<f64>, previous: Option<f64>) -> Option<f64> {
    match condition {
        AlertCondition::Above | AlertCondition::Below => current,
        AlertCondition::ChangePctAbove | AlertCondition::ChangePctBelow => {
            let (current, previous) = (current?, previous?);
            if previous == 0.0 {
                return None;
            }
            Some((current - previous) / previous.abs() * 100.0)
        }
    }
}

/// Whether a rule's condition holds for a value.
fn holds(condition: AlertCondition, value: f64, threshold: f64) -> bool {
    match condition {
        AlertCondition::Above | AlertCondition::ChangePctAbove => value > threshold,
        AlertCondition::Below | AlertCondition::ChangePctBelow => value < threshold,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap_or_default()
    }

    fn row(integration: Uuid, date: NaiveDate, key: &str, value: f64) -> KpiRow {
        KpiRow {
            workspace_id: Uuid::nil(),
            integration_id: integration,
            metric: "sessions".into(),
            date,
            dimension_key: key.into(),
            dimensions: json!({}),
            value,
            stream: "report".into(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn windows_end_today_and_the_previous_one_precedes_it() {
        let window = Window::ending(day(22), 7);
        assert_eq!(window.start, day(16));
        assert_eq!(window.previous_end, day(15));
        assert_eq!(window.previous_start, day(9));
        let one = Window::ending(day(22), 1);
        assert_eq!(
            (one.start, one.previous_start, one.previous_end),
            (day(22), day(21), day(21))
        );
    }

    #[test]
    fn sums_take_totals_over_breakdowns_per_day() {
        let a = Uuid::new_v4();
        let b = Uuid::new_v4();
        let rows = vec![
            // Day 20 of a: a total and its breakdown: the total counts.
            row(a, day(20), "", 10.0),
            row(a, day(20), "country=DE", 4.0),
            row(a, day(20), "country=FR", 6.0),
            // Day 21 of a: breakdown only.
            row(a, day(21), "country=DE", 1.0),
            row(a, day(21), "country=FR", 2.0),
            // Another integration (a workspace-wide rule).
            row(b, day(21), "", 100.0),
            // Outside the range.
            row(a, day(10), "", 1000.0),
        ];
        assert_eq!(window_sum(&rows, day(20), day(22)), Some(113.0));
        assert_eq!(window_sum(&rows, day(1), day(5)), None);
    }

    #[test]
    fn conditions_compare_sums_or_changes() {
        assert_eq!(measure(AlertCondition::Above, Some(5.0), None), Some(5.0));
        assert_eq!(measure(AlertCondition::Below, None, Some(5.0)), None);
        assert_eq!(
            measure(AlertCondition::ChangePctBelow, Some(80.0), Some(100.0)),
            Some(-20.0)
        );
        assert_eq!(
            measure(AlertCondition::ChangePctAbove, Some(80.0), Some(0.0)),
            None
        );
        assert_eq!(
            measure(AlertCondition::ChangePctAbove, Some(80.0), None),
            None
        );
        assert!(holds(AlertCondition::Above, 5.0, 4.0));
        assert!(!holds(AlertCondition::Above, 4.0, 4.0));
        assert!(holds(AlertCondition::Below, 3.0, 4.0));
        assert!(holds(AlertCondition::ChangePctBelow, -25.0, -20.0));
        assert!(!holds(AlertCondition::ChangePctBelow, -10.0, -20.0));
        assert!(holds(AlertCondition::ChangePctAbove, 50.0, 20.0));
    }
}
