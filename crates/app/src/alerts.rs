//! KPI alert rules: their validation and storage, and their evaluation after each
//! successful sync.
//!
//! A rule fires on the transition into breach, as Grafana's alert states do
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
//! Nothing here fails the sync it follows: errors are logged and the next sync
//! evaluates again.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use junction_core::{
    WorkspaceId,
    spec::{FieldError, MetricSpec, Unit},
};
use junction_registry::Registry;
use junction_store::{
    Conn, StoreError,
    models::{AlertCondition, AlertRule, Integration, LogLevel, NotificationKind, Operation},
    repo::{
        self,
        alerts::{AlertRulePatch, Evaluation, NewAlertRule},
        logs::NewLog,
    },
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    App, Error, Listed, PageRequest, Result,
    kpis::Calendar,
    listed,
    notifications::{Draft, KpiAlertDetails, record},
};

/// Longest rule name, in characters (the table's check says the same).
pub const MAX_NAME_CHARS: usize = 200;
pub use crate::recipients::{MAX_ADDRESS_CHARS, MAX_RECIPIENTS};
/// The days a rule's window may span.
pub const WINDOW_DAYS: std::ops::RangeInclusive<i32> = 1..=366;

/// A rule as a client asks for it; every field is checked, all problems at once.
#[derive(Debug, Clone, Default)]
pub struct AlertRuleInput {
    pub name: Option<String>,
    pub integration_id: Option<Uuid>,
    pub metric: Option<String>,
    pub condition: Option<String>,
    pub threshold: Option<f64>,
    pub window_days: Option<i32>,
    pub recipients: Option<Vec<String>>,
    /// The one currency (ISO 4217) a rule on a money metric watches; without it each
    /// currency is evaluated alone.
    pub currency: Option<String>,
}

/// The fields of a rule to change (the metric and integration are fixed).
#[derive(Debug, Clone, Default)]
pub struct AlertRuleChanges {
    pub name: Option<String>,
    pub condition: Option<String>,
    pub threshold: Option<f64>,
    pub window_days: Option<i32>,
    pub recipients: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

impl App {
    /// Creates an alert rule on a KPI of one of the workspace's integrations.
    pub async fn create_alert_rule(
        &self,
        workspace_id: WorkspaceId,
        input: AlertRuleInput,
    ) -> Result<AlertRule> {
        let mut checks = Checks::default();
        let rule = input.check(&mut checks);
        let mut errors = checks.errors;
        let mut tx = self.begin(workspace_id).await?;
        let mut unknown_integration = false;
        if let Some(integration_id) = input.integration_id {
            match repo::integrations::get(tx.conn(), integration_id).await {
                Ok(integration) => {
                    let metric = input.metric.as_deref().map(str::trim).unwrap_or_default();
                    if !metric.is_empty() {
                        let spec = check_metric(
                            self.registry(),
                            &integration.provider,
                            metric,
                            &mut errors,
                        );
                        if input.currency.is_some() && spec.is_some_and(|m| m.unit != Unit::Money) {
                            errors.push(FieldError::new(
                                "currency",
                                "only a rule on a money metric has a currency",
                            ));
                        }
                    }
                }
                Err(StoreError::NotFound(_)) => unknown_integration = true,
                Err(err) => return Err(err.into()),
            }
        }
        // Every field at fault in one answer; a well-formed rule on an integration
        // that is not the workspace's (another workspace's is as unknown as a
        // made-up id) is the 404 of any route naming one.
        let rule = match rule {
            Some(rule) if errors.is_empty() && !unknown_integration => rule,
            _ if errors.is_empty() => {
                return Err(Error::not_found(
                    junction_core::ErrorCode::IntegrationNotFound,
                    "integration",
                ));
            }
            _ => return Err(Error::validation(errors)),
        };
        let created = repo::alerts::create(tx.conn(), workspace_id, rule).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// The workspace's alert rules, oldest first.
    pub async fn alert_rules(
        &self,
        workspace_id: WorkspaceId,
        page: PageRequest<(DateTime<Utc>, Uuid)>,
    ) -> Result<Listed<AlertRule, (DateTime<Utc>, Uuid)>> {
        let mut tx = self.begin(workspace_id).await?;
        let rows = repo::alerts::list(tx.conn(), page.after, page.limit + 1).await?;
        tx.commit().await?;
        Ok(listed(rows, page.limit, |r| (r.created_at, r.id)))
    }

    /// One alert rule.
    pub async fn alert_rule(&self, workspace_id: WorkspaceId, id: Uuid) -> Result<AlertRule> {
        let mut tx = self.begin(workspace_id).await?;
        let rule = repo::alerts::get(tx.conn(), id).await?;
        tx.commit().await?;
        Ok(rule)
    }

    /// Changes an alert rule. A new condition, threshold or window, or pausing or
    /// resuming it, clears its evaluation state: the next sync evaluates it afresh.
    pub async fn update_alert_rule(
        &self,
        workspace_id: WorkspaceId,
        id: Uuid,
        changes: AlertRuleChanges,
    ) -> Result<AlertRule> {
        let patch = changes.check()?;
        let mut tx = self.begin(workspace_id).await?;
        let rule = repo::alerts::update(tx.conn(), id, &patch).await?;
        tx.commit().await?;
        Ok(rule)
    }

    /// Deletes an alert rule (its past notifications stay, without the rule).
    pub async fn delete_alert_rule(&self, workspace_id: WorkspaceId, id: Uuid) -> Result<()> {
        let mut tx = self.begin(workspace_id).await?;
        repo::alerts::delete(tx.conn(), id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Evaluates the alert rules watching an integration after a successful sync;
    /// returns the ids of the notifications it created (their jobs staged with them).
    pub async fn evaluate_alerts(
        &self,
        workspace_id: WorkspaceId,
        integration: &Integration,
    ) -> Vec<Uuid> {
        match self.evaluate_rules(workspace_id, integration).await {
            Ok(created) => created,
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

    /// Evaluates every enabled rule of the integration in one transaction.
    async fn evaluate_rules(
        &self,
        workspace_id: WorkspaceId,
        integration: &Integration,
    ) -> Result<Vec<Uuid>, StoreError> {
        let now = self.now();
        let mut tx = self.store.begin(workspace_id).await?;
        let rules = repo::alerts::for_integration_locked(tx.conn(), integration.id).await?;
        if rules.is_empty() {
            tx.rollback().await?;
            return Ok(Vec::new());
        }
        let workspace = repo::workspaces::get(tx.conn(), workspace_id).await?;
        let today = Calendar::of(&workspace).today(now);
        let mut created = Vec::new();
        for rule in rules {
            let window = Window::ending(today, rule.window_days);
            let metric = self.rule_metric(&rule, integration);
            let current = self
                .window_totals(
                    tx.conn(),
                    &rule.metric,
                    &metric,
                    rule.integration_id,
                    window.start,
                    today,
                )
                .await?;
            let previous = self
                .window_totals(
                    tx.conn(),
                    &rule.metric,
                    &metric,
                    rule.integration_id,
                    window.previous_start,
                    window.previous_end,
                )
                .await?;
            // Each currency of a money metric is measured alone (only the rule's own
            // when it names one); any other metric has one group.
            let measured: Vec<(Option<String>, f64, Option<f64>)> = current
                .into_iter()
                .filter(|(currency, _)| rule.currency.is_none() || *currency == rule.currency)
                .filter_map(|(currency, value)| {
                    let before = previous
                        .iter()
                        .find(|(c, _)| *c == currency)
                        .map(|(_, v)| *v);
                    let measure = measure(rule.condition, Some(value), before)?;
                    Some((currency, measure, before))
                })
                .collect();
            let breach = measured
                .iter()
                .find(|(_, value, _)| holds(rule.condition, *value, rule.threshold));
            // Without a breach, the currency nearest to one is what the rule shows.
            let nearest = measured.iter().max_by(|a, b| {
                let order = a.1.total_cmp(&b.1);
                match rule.condition {
                    AlertCondition::Above | AlertCondition::ChangePctAbove => order,
                    AlertCondition::Below | AlertCondition::ChangePctBelow => order.reverse(),
                }
            });
            let shown = breach.or(nearest);
            let value = shown.map(|(_, value, _)| *value);
            let holds = (!measured.is_empty()).then_some(breach.is_some());
            let firing_since = match holds {
                // No data: the state stays as it was.
                None => rule.firing_since,
                Some(false) => None,
                Some(true) => Some(rule.firing_since.unwrap_or(now)),
            };
            if let (Some((currency, value, before)), None) = (breach, rule.firing_since) {
                let details = KpiAlertDetails {
                    rule: rule.name.clone(),
                    integration: match rule.integration_id {
                        Some(_) => integration.display_name.clone(),
                        None => "all integrations".to_owned(),
                    },
                    metric: rule.metric.clone(),
                    condition: rule.condition.as_str().to_owned(),
                    threshold: rule.threshold,
                    value: *value,
                    window_days: rule.window_days,
                    window_start: window.start,
                    window_end: today,
                    previous: match rule.condition {
                        AlertCondition::ChangePctAbove | AlertCondition::ChangePctBelow => *before,
                        AlertCondition::Above | AlertCondition::Below => None,
                    },
                    currency: currency.clone(),
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
                if let Some(id) = record(tx.conn(), workspace_id, &workspace.name, draft).await? {
                    repo::alerts::mark_triggered(tx.conn(), rule.id, now).await?;
                    log_alert(tx.conn(), workspace_id, integration.id, &rule, *value, id).await?;
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
}

impl App {
    /// The metric a rule watches, as the integration's provider declares it (for a
    /// rule on every integration, as the first provider declaring it does); a name
    /// no provider declares any more reads as a sum of counts.
    fn rule_metric(&self, rule: &AlertRule, integration: &Integration) -> MetricSpec {
        let declared = self
            .registry()
            .get(&integration.provider)
            .and_then(|adapter| adapter.spec().metric(&rule.metric).copied())
            .or_else(|| {
                self.registry()
                    .specs()
                    .find_map(|spec| spec.metric(&rule.metric).copied())
            });
        declared.unwrap_or(MetricSpec::sum("", Unit::Count, ""))
    }
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
    /// Up to 200 characters as sent (so the limit is the one the client sees),
    /// stored without surrounding spaces.
    fn name(&mut self, name: &str) -> Option<String> {
        let too_long = name.chars().count() > MAX_NAME_CHARS;
        let name = name.trim();
        if name.is_empty() || too_long {
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
        if !WINDOW_DAYS.contains(&days) {
            self.error("window_days", "must be between 1 and 366");
            return None;
        }
        Some(days)
    }

    /// 1-50 plain addresses, lower-cased, without repeats.
    fn recipients(&mut self, addresses: &[String]) -> Option<Vec<String>> {
        crate::recipients::check_addresses("recipients", addresses, 1, &mut self.errors)
    }
}

impl AlertRuleInput {
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
        let currency = match self.currency.as_deref().map(str::trim) {
            None => Some(None),
            Some(code) if code.len() == 3 && code.chars().all(|c| c.is_ascii_alphabetic()) => {
                Some(Some(code.to_ascii_uppercase()))
            }
            Some(_) => {
                checks.error(
                    "currency",
                    "must be an ISO 4217 code of three letters (USD)",
                );
                None
            }
        };
        Some(NewAlertRule {
            integration_id: self.integration_id,
            name: name?,
            metric: metric.to_owned(),
            condition: condition?,
            threshold: threshold?,
            window_days: window_days?,
            recipients: recipients?,
            currency: currency?,
        })
    }
}

impl AlertRuleChanges {
    fn check(&self) -> Result<AlertRulePatch> {
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
            return Err(Error::validation(checks.errors));
        }
        Ok(patch)
    }
}

/// The provider's metric `metric`, or an error naming the metrics it has.
fn check_metric(
    registry: &Registry,
    provider: &str,
    metric: &str,
    errors: &mut Vec<FieldError>,
) -> Option<MetricSpec> {
    let spec = registry.get(provider).map(|adapter| adapter.spec());
    if let Some(found) = spec.and_then(|spec| spec.metric(metric)) {
        return Some(*found);
    }
    let known: Vec<&str> = spec
        .map(|spec| spec.metrics().map(|m| m.name).collect())
        .unwrap_or_default();
    let message = if known.is_empty() {
        format!("{provider} produces no KPI metrics")
    } else {
        format!("is not a metric of {provider}: one of {}", known.join(", "))
    };
    errors.push(FieldError::new("metric", message));
    None
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
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap_or_default()
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

    #[test]
    fn addresses_are_plain_and_on_one_line() {
        for good in ["ops@acme.example", "a.b+alerts@sub.acme.co"] {
            assert!(crate::recipients::valid_address(good), "{good}");
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
            assert!(!crate::recipients::valid_address(bad), "{bad:?}");
        }
    }
}
