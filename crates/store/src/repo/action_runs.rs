//! The `action_runs` table: every action requested through the API, its mode, its
//! attempts and its outcome.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;
use uuid::Uuid;

use super::clamp_limit;
use crate::{
    Conn, StoreError,
    models::{ActionMode, ActionRun, ActionStatus},
    schema::action_runs,
};

/// An action run to record.
#[derive(Debug, Clone)]
pub struct NewActionRun<'a> {
    pub id: Uuid,
    pub workspace_id: WorkspaceId,
    pub integration_id: Uuid,
    pub action: &'a str,
    pub mode: ActionMode,
    pub input: &'a serde_json::Value,
    pub provider_idempotency_key: &'a str,
    /// Addresses the suppression list dropped from the input (empty for most).
    pub suppressed_recipients: &'a [String],
}

/// Records a new run (status `queued`).
pub async fn create(conn: &mut Conn, new: NewActionRun<'_>) -> Result<ActionRun, StoreError> {
    Ok(diesel::insert_into(action_runs::table)
        .values((
            action_runs::id.eq(new.id),
            action_runs::workspace_id.eq(new.workspace_id.as_uuid()),
            action_runs::integration_id.eq(new.integration_id),
            action_runs::action.eq(new.action),
            action_runs::mode.eq(new.mode),
            action_runs::input.eq(new.input),
            action_runs::provider_idempotency_key.eq(new.provider_idempotency_key),
            action_runs::suppressed_recipients.eq(new.suppressed_recipients),
        ))
        .returning(ActionRun::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn get(conn: &mut Conn, id: Uuid) -> Result<ActionRun, StoreError> {
    action_runs::table
        .find(id)
        .select(ActionRun::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("action run"))
}

/// The runs with these ids (in no particular order; unknown ids are left out).
pub async fn get_many(conn: &mut Conn, ids: &[Uuid]) -> Result<Vec<ActionRun>, StoreError> {
    Ok(action_runs::table
        .filter(action_runs::id.eq_any(ids))
        .select(ActionRun::as_select())
        .load(conn)
        .await?)
}

/// Runs of an integration, newest first, before the keyset of the previous page.
pub async fn list_for_integration(
    conn: &mut Conn,
    integration_id: Uuid,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<ActionRun>, StoreError> {
    let mut query = action_runs::table
        .filter(action_runs::integration_id.eq(integration_id))
        .order((action_runs::created_at.desc(), action_runs::id.desc()))
        .limit(clamp_limit(limit))
        .select(ActionRun::as_select())
        .into_boxed();
    if let Some((created_at, id)) = before {
        query = query.filter(
            action_runs::created_at
                .lt(created_at)
                .or(action_runs::created_at
                    .eq(created_at)
                    .and(action_runs::id.lt(id))),
        );
    }
    Ok(query.load(conn).await?)
}

/// Marks an attempt as started: status `running`, one more attempt. A run that has
/// already finished is left alone and returned as it is (a redelivered job must not
/// run a finished action again).
pub async fn start_attempt(conn: &mut Conn, id: Uuid) -> Result<ActionRun, StoreError> {
    let started = diesel::update(
        action_runs::table
            .find(id)
            .filter(action_runs::status.eq_any([ActionStatus::Queued, ActionStatus::Running])),
    )
    .set((
        action_runs::status.eq(ActionStatus::Running),
        action_runs::attempts.eq(action_runs::attempts + 1),
        action_runs::started_at.eq(diesel::dsl::sql::<
            diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
        >("COALESCE(started_at, now())")),
    ))
    .returning(ActionRun::as_returning())
    .get_result(conn)
    .await
    .optional()?;
    match started {
        Some(run) => Ok(run),
        None => get(conn, id).await,
    }
}

/// Records what the suppression list left of a queued run's input before an attempt:
/// the input sent from now on and every recipient dropped so far.
pub async fn record_screened(
    conn: &mut Conn,
    id: Uuid,
    input: &serde_json::Value,
    suppressed_recipients: &[String],
) -> Result<(), StoreError> {
    diesel::update(action_runs::table.find(id))
        .set((
            action_runs::input.eq(input),
            action_runs::suppressed_recipients.eq(suppressed_recipients),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Records success with the provider's answer.
pub async fn succeed(
    conn: &mut Conn,
    id: Uuid,
    external_id: Option<&str>,
    output: &serde_json::Value,
) -> Result<ActionRun, StoreError> {
    Ok(diesel::update(action_runs::table.find(id))
        .set((
            action_runs::status.eq(ActionStatus::Succeeded),
            action_runs::external_id.eq(external_id),
            action_runs::output.eq(Some(output)),
            action_runs::error_code.eq(None::<String>),
            action_runs::error_message.eq(None::<String>),
            action_runs::finished_at.eq(Some(Utc::now())),
        ))
        .returning(ActionRun::as_returning())
        .get_result(conn)
        .await?)
}

/// Records a failure. `final_` says whether it is the run's outcome (no retry
/// follows); otherwise the run stays `running` with the latest error, for a retry.
pub async fn fail(
    conn: &mut Conn,
    id: Uuid,
    code: &str,
    message: &str,
    final_: bool,
) -> Result<ActionRun, StoreError> {
    let status = if final_ {
        ActionStatus::Failed
    } else {
        ActionStatus::Running
    };
    let finished_at: Option<DateTime<Utc>> = final_.then(Utc::now);
    Ok(diesel::update(action_runs::table.find(id))
        .set((
            action_runs::status.eq(status),
            action_runs::error_code.eq(Some(code)),
            action_runs::error_message.eq(Some(message)),
            action_runs::finished_at.eq(finished_at),
        ))
        .returning(ActionRun::as_returning())
        .get_result(conn)
        .await?)
}
