//! Committing one page of a sync: its records, its KPI points and the stream cursor
//! in one transaction, so a crash or an error mid-page leaves the previous page's
//! cursor and no partial rows, and a retried page rewrites the same rows.

use junction_core::{Page, WorkspaceId};
use uuid::Uuid;

use crate::{
    Store, StoreError,
    repo::{kpis, records, stream_states, sync_runs},
};

/// What committing a page wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PageStats {
    pub records_read: u64,
    pub records_written: u64,
    pub kpi_points_written: u64,
}

/// Writes a page of `stream` and advances its cursor, all or nothing. When `run_id`
/// is given, the run's counters move in the same transaction.
pub async fn commit_page(
    store: &Store,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    stream: &str,
    page: &Page,
    run_id: Option<Uuid>,
) -> Result<PageStats, StoreError> {
    let mut tx = store.begin(workspace_id).await?;
    let records_written = records::upsert(
        tx.conn(),
        workspace_id,
        integration_id,
        stream,
        &page.records,
    )
    .await?;
    let kpi_points_written =
        kpis::upsert(tx.conn(), workspace_id, integration_id, stream, &page.kpis).await?;
    stream_states::advance(
        tx.conn(),
        workspace_id,
        integration_id,
        stream,
        page.next_cursor.as_ref(),
    )
    .await?;
    let stats = PageStats {
        records_read: page.records.len() as u64,
        records_written,
        kpi_points_written,
    };
    if let Some(run_id) = run_id {
        sync_runs::add_progress(
            tx.conn(),
            run_id,
            i64::try_from(stats.records_read).unwrap_or(i64::MAX),
            i64::try_from(stats.records_written).unwrap_or(i64::MAX),
            i64::try_from(stats.kpi_points_written).unwrap_or(i64::MAX),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(stats)
}
