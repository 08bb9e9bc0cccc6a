//! Writing what providers return into an integration's data, by one path: records
//! and KPI points of a stream ([`write_stream`]) — for a sync page and for a
//! webhook's effects alike.
//!
//! [`commit_page`] commits one page of a sync: its records, its KPI points and the
//! stream cursor in one transaction, so a crash or an error mid-page leaves the
//! previous page's cursor and no partial rows, and a retried page rewrites the same
//! rows. [`apply_effects`] writes what a verified webhook event changes (records and
//! KPI points by stream, suppressed addresses) inside the caller's transaction.

use std::collections::BTreeMap;

use junction_core::{KpiPoint, Page, Record, WebhookEffects, WorkspaceId};
use uuid::Uuid;

use crate::{
    Conn, Store, StoreError,
    repo::{email_suppressions, kpis, records, stream_states, sync_runs},
};

/// What committing a page wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PageStats {
    pub records_read: u64,
    pub records_written: u64,
    pub kpi_points_written: u64,
}

/// What applying a webhook's effects wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct EffectStats {
    pub records_written: u64,
    pub kpi_points_written: u64,
    /// Addresses newly on the suppression list.
    pub addresses_suppressed: u64,
}

/// Upserts records and KPI points of one stream of an integration; returns how many
/// of each changed.
pub async fn write_stream(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    stream: &str,
    stream_records: &[Record],
    points: &[KpiPoint],
) -> Result<(u64, u64), StoreError> {
    let records_written = if stream_records.is_empty() {
        0
    } else {
        records::upsert(conn, workspace_id, integration_id, stream, stream_records).await?
    };
    let points_written = if points.is_empty() {
        0
    } else {
        kpis::upsert(conn, workspace_id, integration_id, stream, points).await?
    };
    Ok((records_written, points_written))
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
    let (records_written, kpi_points_written) = write_stream(
        tx.conn(),
        workspace_id,
        integration_id,
        stream,
        &page.records,
        &page.kpis,
    )
    .await?;
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

/// Writes what a webhook event changes — records and KPI points through
/// [`write_stream`], stream by stream, and suppressed addresses — in the caller's
/// transaction (which also marks the event processed).
pub async fn apply_effects(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    effects: &WebhookEffects,
) -> Result<EffectStats, StoreError> {
    let mut by_stream: BTreeMap<&str, (Vec<Record>, Vec<KpiPoint>)> = BTreeMap::new();
    for changed in &effects.records {
        by_stream
            .entry(changed.stream.as_str())
            .or_default()
            .0
            .push(changed.record.clone());
    }
    for changed in &effects.kpis {
        by_stream
            .entry(changed.stream.as_str())
            .or_default()
            .1
            .push(changed.point.clone());
    }
    let mut stats = EffectStats::default();
    for (stream, (stream_records, points)) in &by_stream {
        let (records_written, points_written) = write_stream(
            conn,
            workspace_id,
            integration_id,
            stream,
            stream_records,
            points,
        )
        .await?;
        stats.records_written += records_written;
        stats.kpi_points_written += points_written;
    }
    for suppression in &effects.suppressions {
        if email_suppressions::suppress(
            conn,
            workspace_id,
            &suppression.address,
            &suppression.reason,
            Some(integration_id),
        )
        .await?
        {
            stats.addresses_suppressed += 1;
        }
    }
    Ok(stats)
}
