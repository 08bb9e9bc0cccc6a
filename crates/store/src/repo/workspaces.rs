//! The `workspaces` table.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;

use crate::{Conn, StoreError, models::Workspace, schema::workspaces};

/// Creates the workspace the transaction is scoped to (the row-level security check
/// only admits the scoped id, so a transaction cannot create another tenant).
pub async fn create(conn: &mut Conn, id: WorkspaceId, name: &str) -> Result<Workspace, StoreError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(StoreError::Invalid(
            "workspace name must be 1-200 characters".into(),
        ));
    }
    Ok(diesel::insert_into(workspaces::table)
        .values((workspaces::id.eq(id.as_uuid()), workspaces::name.eq(name)))
        .returning(Workspace::as_returning())
        .get_result(conn)
        .await?)
}

/// The scoped workspace, or `NotFound("workspace")`.
pub async fn get(conn: &mut Conn, id: WorkspaceId) -> Result<Workspace, StoreError> {
    workspaces::table
        .find(id.as_uuid())
        .select(Workspace::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("workspace"))
}

/// Every workspace. Operator path: needs the schema owner's [`crate::AdminStore`]
/// connection (through the app role it shows at most the scoped workspace).
pub async fn list_all(conn: &mut Conn) -> Result<Vec<Workspace>, StoreError> {
    Ok(workspaces::table
        .order((workspaces::created_at, workspaces::id))
        .select(Workspace::as_select())
        .load(conn)
        .await?)
}

/// Sets the scoped workspace's calendar (values checked by the caller).
pub async fn set_calendar(
    conn: &mut Conn,
    id: WorkspaceId,
    time_zone: &str,
    week_start: &str,
) -> Result<Workspace, StoreError> {
    diesel::update(workspaces::table.find(id.as_uuid()))
        .set((
            workspaces::time_zone.eq(time_zone),
            workspaces::week_start.eq(week_start),
        ))
        .returning(Workspace::as_returning())
        .get_result(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("workspace"))
}

/// Sets the scoped workspace's allow-list of connect-session return URLs (checked by
/// the caller).
pub async fn set_connect_return_urls(
    conn: &mut Conn,
    id: WorkspaceId,
    urls: &[String],
) -> Result<Workspace, StoreError> {
    diesel::update(workspaces::table.find(id.as_uuid()))
        .set(workspaces::connect_return_urls.eq(urls))
        .returning(Workspace::as_returning())
        .get_result(conn)
        .await
        .optional()?
        .ok_or(StoreError::NotFound("workspace"))
}
