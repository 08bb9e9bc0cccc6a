//! Writing what providers return into an integration's data, by one path: records
//! and KPI points of a stream ([`write_stream`]) — for a sync page and for a
//! webhook's effects alike.
//!
//! [`commit_sync_page`] commits one page of a sync: its records, its KPI points and
//! the stream cursor in one transaction, so a crash or an error mid-page leaves the
//! previous page's cursor and no partial rows, and a retried page rewrites the same
//! rows. The page belongs to a pass of the stream (see
//! [`stream_states::begin_read`]); the page that ends the pass also ends it in the
//! same transaction — the stream's last and next sync, and for a full-refresh
//! stream the records the pass did not see marked deleted. A page of a pass that a
//! reset has ended since is not written ([`Committed::Superseded`]).
//! [`apply_effects`] writes what a verified webhook event changes (records and KPI
//! points by stream, records deleted upstream, suppressed addresses) inside the
//! caller's transaction.
//!
//! This is the one boundary where provider data enters the database, so it is where
//! text and JSON Postgres cannot store are made storable: a NUL in a record's id or
//! data, a KPI's metric or dimensions, a stream cursor or a suppressed address is
//! replaced by U+FFFD ([`junction_core::storable`]). A provider's data is not refused
//! for it — the provider would send it again, and a sync would fail forever.

use std::{borrow::Cow, collections::BTreeMap};

use chrono::{DateTime, Utc};
use junction_core::{KpiPoint, Page, Record, WebhookEffects, WorkspaceId, storable};
use uuid::Uuid;

use crate::{
    Conn, Store, StoreError,
    repo::{
        email_suppressions, kpis, records,
        stream_states::{self, ReadStart},
        sync_runs::{self, Progress},
    },
};

/// What committing a page wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PageStats {
    pub records_read: u64,
    pub records_written: u64,
    pub kpi_points_written: u64,
    /// Records of a full-refresh stream marked deleted when the page ended its pass.
    pub records_deleted: u64,
}

/// What applying a webhook's effects wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct EffectStats {
    pub records_written: u64,
    pub kpi_points_written: u64,
    /// Records newly marked deleted.
    pub records_deleted: u64,
    /// Addresses newly on the suppression list.
    pub addresses_suppressed: u64,
}

/// Where a page of a sync belongs, and what ending its pass means.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncPage<'a> {
    /// The run whose counters the page adds to.
    pub run_id: Uuid,
    /// The pass the page was read in.
    pub pass: &'a ReadStart,
    /// The stream reads every record in each pass (no cursor field): a record the
    /// pass did not see is gone upstream.
    pub full_refresh: bool,
    /// The time by the application's clock (the stream's last sync, if the page
    /// ends the pass; it is due again one schedule later).
    pub now: DateTime<Utc>,
    /// The provider's default schedule of the stream, for a stream without its own.
    pub default_schedule_seconds: i32,
}

/// What committing a sync page did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// The page is written; `ended_pass` when it was the pass's last.
    Page { stats: PageStats, ended_pass: bool },
    /// The stream was reset after the pass began: the page was not written (the
    /// reset's own sync reads the stream whole).
    Superseded,
}

/// Upserts records and KPI points of one stream of an integration; returns how many
/// of each changed. `seen_in_pass`: the full-refresh pass the records were read
/// by, which the records written are marked seen by.
pub async fn write_stream(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    stream: &str,
    stream_records: &[Record],
    points: &[KpiPoint],
    seen_in_pass: Option<Uuid>,
) -> Result<(u64, u64), StoreError> {
    let stream = storable::sanitize_text(stream);
    let records_written = if stream_records.is_empty() {
        0
    } else {
        let stream_records = storable_records(stream_records);
        records::upsert(
            conn,
            workspace_id,
            integration_id,
            &stream,
            &stream_records,
            seen_in_pass,
        )
        .await?
    };
    let points_written = if points.is_empty() {
        0
    } else {
        let points = storable_points(points);
        kpis::upsert(conn, workspace_id, integration_id, &stream, &points).await?
    };
    Ok((records_written, points_written))
}

/// `records` with what Postgres cannot store replaced (borrowed when all are clean).
fn storable_records(records: &[Record]) -> Cow<'_, [Record]> {
    let clean = |record: &Record| {
        storable::is_storable(&record.external_id) && storable::is_storable_json(&record.data)
    };
    if records.iter().all(clean) {
        return Cow::Borrowed(records);
    }
    Cow::Owned(
        records
            .iter()
            .map(|record| Record {
                external_id: storable::sanitize_text(&record.external_id).into_owned(),
                data: storable::sanitize_json(&record.data).into_owned(),
                modified_at: record.modified_at,
            })
            .collect(),
    )
}

/// `points` with what Postgres cannot store replaced (borrowed when all are clean).
fn storable_points(points: &[KpiPoint]) -> Cow<'_, [KpiPoint]> {
    let clean = |point: &KpiPoint| {
        storable::is_storable(&point.metric)
            && point
                .dimensions
                .iter()
                .all(|(name, value)| storable::is_storable(name) && storable::is_storable(value))
    };
    if points.iter().all(clean) {
        return Cow::Borrowed(points);
    }
    Cow::Owned(
        points
            .iter()
            .map(|point| KpiPoint {
                metric: storable::sanitize_text(&point.metric).into_owned(),
                date: point.date,
                dimensions: point
                    .dimensions
                    .iter()
                    .map(|(name, value)| {
                        (
                            storable::sanitize_text(name).into_owned(),
                            storable::sanitize_text(value).into_owned(),
                        )
                    })
                    .collect(),
                value: point.value,
            })
            .collect(),
    )
}

/// Writes a page of `stream` outside of any pass and advances its cursor, all or
/// nothing (tools and tests; syncs commit through [`commit_sync_page`]). When
/// `run_id` is given, the run's counters move in the same transaction.
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
        None,
    )
    .await?;
    stream_states::advance(
        tx.conn(),
        workspace_id,
        integration_id,
        stream,
        page.next_cursor
            .as_ref()
            .map(storable::sanitize_json)
            .as_deref(),
    )
    .await?;
    let stats = PageStats {
        records_read: page.records.len() as u64,
        records_written,
        kpi_points_written,
        records_deleted: 0,
    };
    if let Some(run_id) = run_id {
        sync_runs::add_progress(tx.conn(), run_id, progress(&stats)).await?;
    }
    tx.commit().await?;
    Ok(stats)
}

/// Commits a page of `stream` read in the pass `position.pass`, all or nothing: its
/// records and KPI points, the cursor, the run's counters, and — on the pass's last
/// page — the end of the pass (for a full-refresh stream, its unseen records marked
/// deleted). A page of a pass the stream no longer has (a reset ended it) writes
/// nothing.
pub async fn commit_sync_page(
    store: &Store,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    stream: &str,
    page: &Page,
    position: &SyncPage<'_>,
) -> Result<Committed, StoreError> {
    let mut tx = store.begin(workspace_id).await?;
    let pass_id = position.pass.pass_id;
    if stream_states::lock_pass(tx.conn(), integration_id, stream).await? != Some(pass_id) {
        tx.rollback().await?;
        return Ok(Committed::Superseded);
    }
    let (records_written, kpi_points_written) = write_stream(
        tx.conn(),
        workspace_id,
        integration_id,
        stream,
        &page.records,
        &page.kpis,
        position.full_refresh.then_some(pass_id),
    )
    .await?;
    if position.full_refresh && !page.records.is_empty() {
        let records = storable_records(&page.records);
        let ids: Vec<&str> = records.iter().map(|r| r.external_id.as_str()).collect();
        records::mark_seen(tx.conn(), integration_id, stream, &ids, pass_id).await?;
    }
    stream_states::advance(
        tx.conn(),
        workspace_id,
        integration_id,
        stream,
        page.next_cursor
            .as_ref()
            .map(storable::sanitize_json)
            .as_deref(),
    )
    .await?;
    let ended_pass = !page.has_more;
    let mut records_deleted = 0;
    if ended_pass {
        if position.full_refresh {
            records_deleted = records::mark_unseen_deleted(
                tx.conn(),
                integration_id,
                stream,
                pass_id,
                position.pass.pass_started_at,
            )
            .await?;
        }
        stream_states::complete(
            tx.conn(),
            integration_id,
            stream,
            Some(position.run_id),
            position.now,
            position.default_schedule_seconds,
        )
        .await?;
    }
    let stats = PageStats {
        records_read: page.records.len() as u64,
        records_written,
        kpi_points_written,
        records_deleted,
    };
    sync_runs::add_progress(tx.conn(), position.run_id, progress(&stats)).await?;
    tx.commit().await?;
    Ok(Committed::Page { stats, ended_pass })
}

/// A page's figures as a run's counters.
fn progress(stats: &PageStats) -> Progress {
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    Progress {
        records_read: count(stats.records_read),
        records_written: count(stats.records_written),
        kpi_points_written: count(stats.kpi_points_written),
        records_deleted: count(stats.records_deleted),
    }
}

/// Writes what a webhook event changes — records and KPI points through
/// [`write_stream`], stream by stream, records deleted upstream, and suppressed
/// addresses — in the caller's transaction (which also marks the event processed).
/// Deletions come after the upserts, so an event that names a record both ways
/// leaves it deleted.
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
            None,
        )
        .await?;
        stats.records_written += records_written;
        stats.kpi_points_written += points_written;
    }
    let mut deleted: BTreeMap<Cow<'_, str>, Vec<Cow<'_, str>>> = BTreeMap::new();
    for deletion in &effects.deletions {
        deleted
            .entry(storable::sanitize_text(&deletion.stream))
            .or_default()
            .push(storable::sanitize_text(&deletion.external_id));
    }
    for (stream, ids) in &deleted {
        let ids: Vec<&str> = ids.iter().map(AsRef::as_ref).collect();
        stats.records_deleted += records::mark_deleted(conn, integration_id, stream, &ids).await?;
    }
    for suppression in &effects.suppressions {
        if email_suppressions::suppress(
            conn,
            workspace_id,
            &storable::sanitize_text(&suppression.address),
            &storable::sanitize_text(&suppression.reason),
            Some(integration_id),
        )
        .await?
        {
            stats.addresses_suppressed += 1;
        }
    }
    Ok(stats)
}
