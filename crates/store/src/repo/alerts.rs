//! The `alert_rules` table: KPI alert rules of a workspace.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;
use uuid::Uuid;

use crate::{
    Conn, StoreError,
    models::{AlertCondition, AlertRule},
    schema::alert_rules,
};

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
    };
    Ok(diesel::insert_into(alert_rules::table)
        .values(&row)
        .returning(AlertRule::as_returning())
        .get_result(conn)
        .await?)
}

/// The scoped workspace's rules, oldest first.
pub async fn list(conn: &mut Conn) -> Result<Vec<AlertRule>, StoreError> {
    Ok(alert_rules::table
        .order((alert_rules::created_at, alert_rules::id))
        .select(AlertRule::as_select())
        .load(conn)
        .await?)
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
