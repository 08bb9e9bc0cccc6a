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
//! The line also gives the CPU time used meanwhile by the worker process, by the
//! Postgres backends of its connections and by this process (the sandbox serving
//! the reports), and for the `COPY` its backend's: that shows what bounds each rate.
//!
//! The raw `COPY` then writes exactly those rows (records and KPI points, binary
//! format) into empty tables of the same shape (same columns, defaults, indexes and
//! foreign keys; row-level security does not apply to the superuser's `COPY`), in two statements:
//! what Postgres itself can ingest into such tables on this machine, the ceiling the
//! ratio compares the worker with. A second `COPY` into tables without the foreign
//! keys shows what the per-row foreign-key checks cost.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures::{SinkExt, TryStreamExt};

use crate::{
    Options, cpu_seconds,
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
    let client = fixture.admin_client().await?;

    let mut worker = WorkerProcess::start(&binary, &fixture, "ingest").await?;
    let synced = async {
        let pid = worker.pid()?.to_string();
        let backends_before = worker_process::backend_cpu(&client, false).await?;
        let cpu_before = (cpu_seconds(&pid)?, cpu_seconds("self")?);
        fixture.make_due().await?;
        let (runs, _) =
            worker_process::wait_for_syncs(&mut worker, &client, integrations, DEADLINE).await?;
        let cpu = Cpu {
            worker: cpu_seconds(&pid)? - cpu_before.0,
            sandbox: cpu_seconds("self")? - cpu_before.1,
            backends: worker_process::backend_cpu_used(
                &backends_before,
                &worker_process::backend_cpu(&client, false).await?,
            ),
        };
        Ok::<_, anyhow::Error>((runs, cpu))
    }
    .await;
    worker.stop().await;
    let (runs, cpu) = synced?;
    let records = u64::try_from(runs.records_written).unwrap_or(0);
    let kpi_points = u64::try_from(runs.kpi_points_written).unwrap_or(0);
    let worker_rate = rate(records, runs.wall_seconds);

    let (copy, copy_no_fk) = raw_copy(&client).await?;
    let copy_rate = rate(records, copy.seconds);
    let ratio = if copy_rate > 0.0 {
        worker_rate / copy_rate
    } else {
        0.0
    };
    fixture.sandbox.handle.stop(true).await;
    Ok(format!(
        "ingest: {} records/s through the worker ({} records + {} KPI points from {} GA4 syncs of {lookback_days} days by country in {:.2} s; CPU: worker {:.1} s, its Postgres backends {}, sandbox {:.1} s); raw COPY of the same rows into tables of the same shape {} records/s ({:.2} s, backend CPU {}), without their foreign keys {} records/s ({:.2} s, backend CPU {}); ratio {ratio:.3}",
        per_second(records, runs.wall_seconds),
        thousands(records),
        thousands(kpi_points),
        thousands(integrations as u64),
        runs.wall_seconds,
        cpu.worker,
        worker_process::cpu_text(cpu.backends),
        cpu.sandbox,
        per_second(records, copy.seconds),
        copy.seconds,
        worker_process::cpu_text(copy.backend_cpu),
        per_second(records, copy_no_fk.seconds),
        copy_no_fk.seconds,
        worker_process::cpu_text(copy_no_fk.backend_cpu),
    ))
}

/// CPU time used while the worker synced, in seconds.
struct Cpu {
    worker: f64,
    /// This process: the sandbox answering the report requests.
    sandbox: f64,
    /// The Postgres backends of the worker's connections (when visible here).
    backends: Option<f64>,
}

/// One timed `COPY` of the synced rows.
struct Copied {
    seconds: f64,
    /// CPU its Postgres backend used (when visible here).
    backend_cpu: Option<f64>,
}

/// Copies the synced records and KPI points into empty tables of the same shape
/// (columns, defaults, indexes and foreign keys), then into tables without the
/// foreign keys, timing each pair of `COPY ... FROM STDIN` statements. The rows are
/// read out first, so only the writing is timed.
async fn raw_copy(client: &tokio_postgres::Client) -> Result<(Copied, Copied)> {
    const FOREIGN_KEY: &str = ", FOREIGN KEY (workspace_id, integration_id) \
        REFERENCES integrations (workspace_id, id) ON DELETE CASCADE";
    for (target, foreign_key) in [("bench_copy", FOREIGN_KEY), ("bench_copy_no_fk", "")] {
        client
            .batch_execute(&format!(
                "CREATE TABLE {target}_records (LIKE records INCLUDING ALL{foreign_key}); \
                 CREATE TABLE {target}_kpi_points (LIKE kpi_points INCLUDING ALL{foreign_key})"
            ))
            .await
            .context("creating the COPY target tables")?;
    }
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
    let mut timings = Vec::with_capacity(2);
    for target in ["bench_copy", "bench_copy_no_fk"] {
        let backend_before = worker_process::backend_cpu(client, true).await?;
        let started = Instant::now();
        for (table, chunks) in &exported {
            let sink = client
                .copy_in(&format!("COPY {target}_{table} FROM STDIN (FORMAT binary)"))
                .await
                .with_context(|| format!("COPY {target}_{table} FROM STDIN"))?;
            futures::pin_mut!(sink);
            for chunk in chunks {
                sink.feed(chunk.clone()).await?;
            }
            sink.finish().await?;
        }
        let seconds = started.elapsed().as_secs_f64();
        let backend_after = worker_process::backend_cpu(client, true).await?;
        timings.push(Copied {
            seconds,
            backend_cpu: worker_process::backend_cpu_used(&backend_before, &backend_after),
        });
    }
    let without_foreign_keys = timings.pop().context("no COPY timing")?;
    let same_shape = timings.pop().context("no COPY timing")?;
    Ok((same_shape, without_foreign_keys))
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
