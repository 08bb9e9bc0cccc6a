//! The `integration_logs` table: every operation on a connection, as users see it.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;
use uuid::Uuid;

use super::clamp_limit;
use crate::{
    Conn, StoreError,
    models::{IntegrationLog, LogLevel, Operation},
    schema::integration_logs,
};

/// One entry to append.
#[derive(Debug, Clone)]
pub struct NewLog<'a> {
    pub workspace_id: WorkspaceId,
    pub integration_id: Uuid,
    pub level: LogLevel,
    pub operation: Operation,
    pub message: &'a str,
    pub details: serde_json::Value,
    pub run_id: Option<Uuid>,
}

/// Appends an entry. Callers never put secrets in `message` or `details`.
pub async fn append(conn: &mut Conn, entry: NewLog<'_>) -> Result<IntegrationLog, StoreError> {
    Ok(diesel::insert_into(integration_logs::table)
        .values((
            integration_logs::workspace_id.eq(entry.workspace_id.as_uuid()),
            integration_logs::integration_id.eq(entry.integration_id),
            integration_logs::level.eq(entry.level),
            integration_logs::operation.eq(entry.operation),
            integration_logs::message.eq(entry.message),
            integration_logs::details.eq(&entry.details),
            integration_logs::run_id.eq(entry.run_id),
        ))
        .returning(IntegrationLog::as_returning())
        .get_result(conn)
        .await?)
}

/// An integration's entries, newest first, with ids below `before_id`.
pub async fn list(
    conn: &mut Conn,
    integration_id: Uuid,
    operation: Option<Operation>,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<IntegrationLog>, StoreError> {
    let mut query = integration_logs::table
        .filter(integration_logs::integration_id.eq(integration_id))
        .order(integration_logs::id.desc())
        .limit(clamp_limit(limit))
        .select(IntegrationLog::as_select())
        .into_boxed();
    if let Some(operation) = operation {
        query = query.filter(integration_logs::operation.eq(operation));
    }
    if let Some(before) = before_id {
        query = query.filter(integration_logs::id.lt(before));
    }
    Ok(query.load(conn).await?)
}
