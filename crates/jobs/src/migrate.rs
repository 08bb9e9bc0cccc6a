//! Bringing queued tasks over from the Redis layout before this one.
//!
//! Until issue 17 the queues were apalis-redis 1.0 queues: the same data hash,
//! active list, delayed set, claims sets and workers set as now, plus a metadata
//! hash per task (`{queue}:meta:{task_id}`: status, attempts, result, times), a
//! `scheduled` set where apalis parked the tasks it re-ran itself, `done` and `dead`
//! sets, a `signal` list, worker metadata hashes and an entry per queue in the global
//! `core:apalis:queues:list`. The current layout keeps a task's state in one field of
//! the queue's `state` hash and indexes finished tasks by time instead.
//!
//! [`migrate_legacy_layout`] converts one queue in place, in bounded batches, and then
//! marks it (`{queue}:layout` = `2`) so later starts skip it. The runner calls it for
//! its queues before any worker fetches. Every step is idempotent and may run from
//! several pods at once: a metadata hash is converted and deleted in one script, so
//! the second pod finds nothing left to do. Nothing queued is lost or run twice by
//! the migration: due and waiting tasks keep their place (the list and sets are the
//! same keys), tasks a legacy worker still holds are recovered by the orphan check
//! like any silent worker's, and finished tasks keep their outcome for lookups and
//! purging. docs/operations.md ("Upgrading the queue layout") gives the rollout order.

use junction_store::models::Queue;

use futures::TryStreamExt;
use redis::{AsyncCommands, ScanOptions};

use crate::{Queues, queue::unix_now, scripts};

/// The layout version this code writes.
pub const LAYOUT_VERSION: u32 = 2;
/// Metadata hashes converted per script.
const BATCH: usize = 500;
/// apalis-redis's global registry of queues (outside our prefix).
const APALIS_QUEUE_LIST: &str = "core:apalis:queues:list";

/// What [`migrate_legacy_layout`] moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Tasks whose metadata hash became a state entry.
    pub converted: u64,
    /// Tasks moved from the legacy scheduled set to the delayed set.
    pub rescheduled: u64,
}

impl MigrationReport {
    /// Whether nothing needed moving.
    pub fn is_empty(&self) -> bool {
        self.converted == 0 && self.rescheduled == 0
    }
}

/// Converts `queue`'s tasks from the legacy (apalis-redis) layout, once.
pub async fn migrate_legacy_layout(
    queues: &Queues,
    queue: Queue,
) -> Result<MigrationReport, crate::JobsError> {
    let keys = queues.keys(queue);
    let mut conn = queues.redis();
    let layout: Option<u32> = redis::cmd("GET")
        .arg(keys.layout())
        .query_async(&mut conn)
        .await?;
    if layout.is_some_and(|version| version >= LAYOUT_VERSION) {
        return Ok(MigrationReport::default());
    }
    let mut report = MigrationReport::default();

    let meta_prefix = keys.legacy_meta_prefix();
    for batch in keys_starting_with(queues, &meta_prefix)
        .await?
        .chunks(BATCH)
    {
        let mut script = scripts::MIGRATE_META.prepare_invoke();
        script
            .key(keys.state())
            .key(keys.finished())
            .key(keys.killed())
            .arg(unix_now())
            .arg(&meta_prefix);
        for key in batch {
            script.arg(key.strip_prefix(&meta_prefix).unwrap_or(key));
        }
        let converted: u64 = script.invoke_async(&mut conn).await?;
        report.converted += converted;
    }

    loop {
        let moved: u64 = scripts::MIGRATE_SCHEDULED
            .key(keys.legacy_scheduled())
            .key(keys.delayed())
            .arg(BATCH)
            .invoke_async(&mut conn)
            .await?;
        report.rescheduled += moved;
        if moved < BATCH as u64 {
            break;
        }
    }

    // What only apalis read: its finished sets (their tasks now have state entries),
    // its signal list, its worker descriptions and its global queue registry.
    let mut stale: Vec<String> = keys.legacy_sets().to_vec();
    stale.extend(keys_starting_with(queues, &keys.legacy_worker_metadata_prefix()).await?);
    for batch in stale.chunks(BATCH) {
        let _: u64 = redis::cmd("DEL").arg(batch).query_async(&mut conn).await?;
    }
    let _: u64 = redis::cmd("ZREM")
        .arg(APALIS_QUEUE_LIST)
        .arg(keys.workers())
        .query_async(&mut conn)
        .await?;
    let _: () = redis::cmd("SET")
        .arg(keys.layout())
        .arg(LAYOUT_VERSION)
        .query_async(&mut conn)
        .await?;
    Ok(report)
}

/// Every key starting with `prefix` (redis's `SCAN` iterator, [`BATCH`] keys
/// examined per step).
async fn keys_starting_with(
    queues: &Queues,
    prefix: &str,
) -> Result<Vec<String>, crate::JobsError> {
    let mut conn = queues.redis();
    let found: Vec<String> = conn
        .scan_options(
            ScanOptions::default()
                .with_pattern(format!("{prefix}*"))
                .with_count(BATCH),
        )
        .await?
        .try_collect()
        .await?;
    Ok(found)
}
