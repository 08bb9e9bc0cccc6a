//! The `alert_rules` table: KPI alert rules of a workspace, and the state of their
//! last evaluation (firing or not), which makes a rule mail once per crossing.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;
use uuid::Uuid;

use super::clamp_limit;
use crate::{
    Conn, StoreError,
    models::{AlertCondition, AlertRule},
    schema::alert_rules,
};

/// Most addresses a rule may mail (the table's check says the same).
pub const MAX_RECIPIENTS: usize = 50;

/// A rule to create.
#[derive(Debug, Clone)]
pub struct NewAlertRule {
    pub integration_id: Option<Uuid>,
    pub name: String,
    pub metric: String,
    pub condition: AlertCondition,
    pub threshold: f64,
    pub window_days: i32,
    pub recipients: Vec<String>,
    /// The one currency a rule on a money metric watches (ISO 4217, upper case).
    pub currency: Option<String>,
}

/// Creates a rule in the scoped workspace.
pub async fn create(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    rule: NewAlertRule,
) -> Result<AlertRule, StoreError> {
    if !rule.threshold.is_finite() {
        return Err(StoreError::Invalid(
            "threshold must be a finite number".into(),
        ));
    }
    let row = AlertRule {
        id: Uuid::new_v4(),
        workspace_id: workspace_id.as_uuid(),
        integration_id: rule.integration_id,
        name: rule.name,
        metric: rule.metric,
        condition: rule.condition,
        threshold: rule.threshold,
        window_days: rule.window_days,
        recipients: rule.recipients,
        enabled: true,
        created_at: Utc::now(),
        last_triggered_at: None,
        firing_since: None,
        last_value: None,
        last_evaluated_at: None,
        currency: rule.currency,
    };
    Ok(diesel::insert_into(alert_rules::table)
        .values(&row)
        .returning(AlertRule::as_returning())
        .get_result(conn)
        .await?)
}

/// A page of the scoped workspace's rules, oldest first, after the keyset
/// `(created_at, id)` of the previous page's last row.
pub async fn list(
    conn: &mut Conn,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<AlertRule>, StoreError> {
    let mut query = alert_rules::table
        .order((alert_rules::created_at, alert_rules::id))
        .limit(clamp_limit(limit))
        .select(AlertRule::as_select())
        .into_boxed();
    if let Some((created_at, id)) = after {
        query = query.filter(
            alert_rules::created_at
                .gt(created_at)
                .or(alert_rules::created_at
                    .eq(created_at)
                    .and(alert_rules::id.gt(id))),
        );
    }
    Ok(query.load(conn).await?)
}

/// Enabled rules watching a metric of an integration (or of every integration).
pub async fn for_metric(
    conn: &mut Conn,
    integration_id: Uuid,
    metric: &str,
) -> Result<Vec<AlertRule>, StoreError> {
    Ok(alert_rules::table
        .filter(alert_rules::enabled.eq(true))
        .filter(alert_rules::metric.eq(metric.to_owned()))
        .filter(
            alert_rules::integration_id
                .eq(integration_id)
                .or(alert_rules::integration_id.is_null()),
        )
        .select(AlertRule::as_select())
        .load(conn)
        .await?)
}

/// Enabled rules watching an integration (or every integration), locked until the
/// transaction ends: two evaluations of one rule (two syncs finishing at once) run
/// one after the other, so the second sees the state the first wrote.
pub async fn for_integration_locked(
    conn: &mut Conn,
    integration_id: Uuid,
) -> Result<Vec<AlertRule>, StoreError> {
    Ok(alert_rules::table
        .filter(alert_rules::enabled.eq(true))
        .filter(
            alert_rules::integration_id
                .eq(integration_id)
                .or(alert_rules::integration_id.is_null()),
        )
        .order((alert_rules::created_at, alert_rules::id))
        .for_update()
        .select(AlertRule::as_select())
        .load(conn)
        .await?)
}

/// One rule.
pub async fn get(conn: &mut Conn, id: Uuid) -> Result<AlertRule, StoreError> {
    alert_rules::table
        .find(id)
        .select(AlertRule::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("alert rule"))
}

/// Remembers when a rule last fired.
pub async fn mark_triggered(
    conn: &mut Conn,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::update(alert_rules::table.find(id))
        .set(alert_rules::last_triggered_at.eq(Some(at)))
        .execute(conn)
        .await?;
    Ok(())
}

/// The outcome of one evaluation of a rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    /// The value computed (`None`: no data in the window, nothing compared).
    pub value: Option<f64>,
    /// Since when the condition holds (`None`: it does not).
    pub firing_since: Option<DateTime<Utc>>,
    pub evaluated_at: DateTime<Utc>,
}

/// Records an evaluation of a rule.
pub async fn record_evaluation(
    conn: &mut Conn,
    id: Uuid,
    evaluation: Evaluation,
) -> Result<(), StoreError> {
    diesel::update(alert_rules::table.find(id))
        .set((
            alert_rules::last_value.eq(evaluation.value),
            alert_rules::firing_since.eq(evaluation.firing_since),
            alert_rules::last_evaluated_at.eq(Some(evaluation.evaluated_at)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Every address the scoped workspace's enabled rules mail, lower-cased, sorted and
/// without repeats, at most [`MAX_RECIPIENTS`]: who hears about sync failures and
/// integrations needing a reconnect.
pub async fn recipients(conn: &mut Conn) -> Result<Vec<String>, StoreError> {
    let lists: Vec<Vec<String>> = alert_rules::table
        .filter(alert_rules::enabled.eq(true))
        .select(alert_rules::recipients)
        .load(conn)
        .await?;
    let all: BTreeSet<String> = lists
        .into_iter()
        .flatten()
        .map(|address| address.trim().to_lowercase())
        .filter(|address| !address.is_empty())
        .collect();
    Ok(all.into_iter().take(MAX_RECIPIENTS).collect())
}

/// Changes to a rule; `None` keeps a value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertRulePatch {
    pub name: Option<String>,
    pub condition: Option<AlertCondition>,
    pub threshold: Option<f64>,
    pub window_days: Option<i32>,
    pub recipients: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

impl AlertRulePatch {
    /// Whether the change makes the last evaluation meaningless: a new condition,
    /// threshold or window, or a rule switched off or on.
    fn resets_state(&self) -> bool {
        self.condition.is_some()
            || self.threshold.is_some()
            || self.window_days.is_some()
            || self.enabled.is_some()
    }
}

/// Applies a patch. A change to what the rule compares (or to whether it runs)
/// clears its evaluation state, as Grafana does on a rule edit: the next sync
/// evaluates it afresh, and a condition that holds then mails as a new crossing.
pub async fn update(
    conn: &mut Conn,
    id: Uuid,
    patch: &AlertRulePatch,
) -> Result<AlertRule, StoreError> {
    if patch.threshold.is_some_and(|t| !t.is_finite()) {
        return Err(StoreError::Invalid(
            "threshold must be a finite number".into(),
        ));
    }
    let current = alert_rules::table
        .find(id)
        .for_update()
        .select(AlertRule::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("alert rule"))?;
    let reset = patch.resets_state();
    Ok(diesel::update(alert_rules::table.find(id))
        .set((
            alert_rules::name.eq(patch.name.clone().unwrap_or(current.name)),
            alert_rules::condition.eq(patch.condition.unwrap_or(current.condition)),
            alert_rules::threshold.eq(patch.threshold.unwrap_or(current.threshold)),
            alert_rules::window_days.eq(patch.window_days.unwrap_or(current.window_days)),
            alert_rules::recipients.eq(patch.recipients.clone().unwrap_or(current.recipients)),
            alert_rules::enabled.eq(patch.enabled.unwrap_or(current.enabled)),
            alert_rules::firing_since.eq(if reset { None } else { current.firing_since }),
            alert_rules::last_value.eq(if reset { None } else { current.last_value }),
            alert_rules::last_evaluated_at.eq(if reset {
                None
            } else {
                current.last_evaluated_at
            }),
        ))
        .returning(AlertRule::as_returning())
        .get_result(conn)
        .await?)
}

/// Deletes a rule.
pub async fn delete(conn: &mut Conn, id: Uuid) -> Result<(), StoreError> {
    match diesel::delete(alert_rules::table.find(id))
        .execute(conn)
        .await?
    {
        0 => Err(StoreError::NotFound("alert rule")),
        _ => Ok(()),
    }
}
