//! The API's routes, one module per resource.

pub mod actions;
pub mod alerts;
pub mod connect;
pub mod data;
pub mod dead_letters;
pub mod health;
pub mod integrations;
pub mod providers;
pub mod runs;
pub mod webhooks;

use junction_core::WorkspaceId;
use junction_store::{
    Conn,
    models::{LogLevel, Operation},
    repo,
};
use uuid::Uuid;

use crate::error::ApiResult;

/// Appends an entry to an integration's operation log (never with secrets).
pub async fn log(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    level: LogLevel,
    operation: Operation,
    message: &str,
    details: serde_json::Value,
) -> ApiResult<()> {
    repo::logs::append(
        conn,
        repo::logs::NewLog {
            workspace_id,
            integration_id,
            level,
            operation,
            message,
            details,
            run_id: None,
        },
    )
    .await?;
    Ok(())
}
