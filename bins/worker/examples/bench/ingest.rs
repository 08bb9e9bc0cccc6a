//! Figure (b), sync ingest: records per second from the sandbox's GA4 through the
//! worker process into Postgres, beside a raw `COPY` of the same rows.
//!
//! The worker does everything a production sync does: the scheduler claims the due
//! integrations, each sync job opens its sealed tokens, asks the sandbox for the
//! report page by page (one report row becomes one record and six KPI points), and
//! commits each page — records, KPI points, cursor and run counters — in one
//! transaction through the app role with row-level security. The rate is the
//! records written over the wall time from the first sync's start to the last one's
//! finish (from `sync_runs`).
//!
//! The raw `COPY` then writes exactly those rows (records and KPI points, binary
//! format) into empty tables of the same shape (same columns, defaults and indexes;
//! no foreign keys, no row-level security), in two statements: what Postgres itself
//! can ingest on this machine, the ceiling the worker is compared with.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures::{SinkExt, TryStreamExt};

use crate::{
    Options,
    fixture::Fixture,
    per_second, rate, thousands,
    worker_process::{self, WorkerProcess},
};

/// Integrations synced at once by default: with 365 days by country each reads 2,920
/// rows, so the default run writes about 70,000 records and 420,000 KPI points.
const DEFAULT_INTEGRATIONS: usize = 24;
const DEFAULT_LOOKBACK_DAYS: u32 = 365;

/// The longest the syncs may take.
const DEADLINE: Duration = Duration::from_secs(180);

pub async fn run(options: &Options) -> Result<String> {
    let integrations = options.integrations.unwrap_or(DEFAULT_INTEGRATIONS);
    let lookback_days = options.lookback_days.unwrap_or(DEFAULT_LOOKBACK_DAYS);
    let binary = worker_process::binary(options.worker.as_deref())?;
    let fixture = Fixture::new(integrations, lookback_days, "country").await?;
    let client = worker_process::admin_client(&fixture).await?;

    let mut worker = WorkerProcess::start(&binary, &fixture, "ingest").await?;
    let synced = async {
        fixture.make_due().await?;
        worker_process::wait_for_syncs(&mut worker, &client, integrations, DEADLINE).await
    }
    .await;
    worker.stop().await;
    let (runs, _) = synced?;
    let records = u64::try_from(runs.records_written).unwrap_or(0);
    let kpi_points = u64::try_from(runs.kpi_points_written).unwrap_or(0);
    let worker_rate = rate(records, runs.wall_seconds);

    let copy_seconds = raw_copy(&client).await?;
    let copy_rate = rate(records, copy_seconds);
    let ratio = if copy_rate > 0.0 {
        worker_rate / copy_rate
    } else {
        0.0
    };
    fixture.sandbox.handle.stop(true).await;
    Ok(format!(
        "ingest: {} records/s through the worker ({} records + {} KPI points from {} GA4 syncs of {lookback_days} days by country in {:.2} s); raw COPY of the same rows {} records/s ({:.2} s); ratio {ratio:.3}",
        per_second(records, runs.wall_seconds),
        thousands(records),
        thousands(kpi_points),
        thousands(integrations as u64),
        runs.wall_seconds,
        per_second(records, copy_seconds),
        copy_seconds,
    ))
}

/// Copies the synced records and KPI points into empty tables of the same shape and
/// returns how long the two `COPY ... FROM STDIN` statements took. The rows are read
/// out first, so only the writing is timed.
async fn raw_copy(client: &tokio_postgres::Client) -> Result<f64> {
    client
        .batch_execute(
            "CREATE TABLE bench_copy_records (LIKE records INCLUDING ALL); \
             CREATE TABLE bench_copy_kpi_points (LIKE kpi_points INCLUDING ALL)",
        )
        .await
        .context("creating the COPY target tables")?;
    let mut exported = Vec::new();
    for table in ["records", "kpi_points"] {
        let chunks: Vec<_> = client
            .copy_out(&format!("COPY {table} TO STDOUT (FORMAT binary)"))
            .await
            .with_context(|| format!("COPY {table} TO STDOUT"))?
            .try_collect()
            .await?;
        exported.push((table, coalesce(chunks)));
    }
    let started = Instant::now();
    for (table, chunks) in exported {
        let sink = client
            .copy_in(&format!(
                "COPY bench_copy_{table} FROM STDIN (FORMAT binary)"
            ))
            .await
            .with_context(|| format!("COPY bench_copy_{table} FROM STDIN"))?;
        futures::pin_mut!(sink);
        for chunk in chunks {
            sink.feed(chunk).await?;
        }
        sink.finish().await?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// The server sends `COPY` data one row per message; the import sends it in chunks of
/// about a megabyte, as a bulk loader would, so the client side costs nothing.
fn coalesce<T: From<Vec<u8>> + AsRef<[u8]>>(chunks: Vec<T>) -> Vec<T> {
    const CHUNK_BYTES: usize = 1 << 20;
    let mut out = Vec::new();
    let mut buffer = Vec::with_capacity(CHUNK_BYTES);
    for chunk in chunks {
        buffer.extend_from_slice(chunk.as_ref());
        if buffer.len() >= CHUNK_BYTES {
            out.push(T::from(std::mem::replace(
                &mut buffer,
                Vec::with_capacity(CHUNK_BYTES),
            )));
        }
    }
    if !buffer.is_empty() {
        out.push(T::from(buffer));
    }
    out
}
