//! Figure (c), worker memory: the worker process's peak resident set size (the
//! kernel's `VmHWM` high-water mark in `/proc/<pid>/status`) while it syncs many GA4
//! integrations that all fall due at once, beside its RSS when idle.
//!
//! The integrations are created not due; the worker starts, reports ready and is
//! sampled idle; then they are all made due in one statement, so the scheduler claims
//! the whole backlog in consecutive batches and the sync queue holds it while the
//! worker works through it at its default concurrency. The high-water mark is read
//! after the last sync succeeded and before SIGTERM.

use std::time::Duration;

use anyhow::Result;

use crate::{
    Options, cpu_seconds,
    fixture::Fixture,
    mib, thousands,
    worker_process::{self, WorkerProcess},
};

/// As many as GA4's request budget lets sync in one hour: every connection of one
/// OAuth app shares 4,000 requests an hour, and a first sync reads five streams, so
/// 700 first syncs (3,500 requests) fit and 1,000 do not (the rest wait an hour
/// for their retry, past the deadline).
const DEFAULT_INTEGRATIONS: usize = 700;
/// Small syncs (one report row a day): the figure is about holding many jobs, not
/// about large pages.
const DEFAULT_LOOKBACK_DAYS: u32 = 30;

/// The longest the syncs may take.
const DEADLINE: Duration = Duration::from_secs(180);

/// How long the worker settles after reporting ready before the idle sample.
const SETTLE: Duration = Duration::from_secs(2);

pub async fn run(options: &Options) -> Result<String> {
    let integrations = options.integrations.unwrap_or(DEFAULT_INTEGRATIONS);
    let lookback_days = options.lookback_days.unwrap_or(DEFAULT_LOOKBACK_DAYS);
    let binary = worker_process::binary(options.worker.as_deref())?;
    let fixture = Fixture::new(integrations, lookback_days, "").await?;
    let client = fixture.admin_client().await?;

    let mut worker = WorkerProcess::start(&binary, &fixture, "memory").await?;
    let measured = async {
        tokio::time::sleep(SETTLE).await;
        worker.check_alive()?;
        let pid = worker.pid()?;
        let idle = worker_process::memory(pid)?;
        let cpu_before = cpu_seconds(&pid.to_string())?;
        fixture.make_due().await?;
        let (runs, _) =
            worker_process::wait_for_syncs(&mut worker, &client, integrations, DEADLINE).await?;
        let last = worker_process::memory(pid)?;
        let cpu = cpu_seconds(&pid.to_string())? - cpu_before;
        Ok::<_, anyhow::Error>((idle, runs, last, cpu))
    }
    .await;
    worker.stop().await;
    let (idle, runs, last, cpu) = measured?;
    fixture.sandbox.handle.stop(true).await;
    Ok(format!(
        "memory: worker peak RSS {} while syncing {} GA4 integrations due at once ({} records + {} KPI points in {:.1} s, worker CPU {cpu:.1} s); idle {}, after the syncs {}",
        mib(last.peak_kib),
        thousands(integrations as u64),
        thousands(u64::try_from(runs.records_written).unwrap_or(0)),
        thousands(u64::try_from(runs.kpi_points_written).unwrap_or(0)),
        runs.wall_seconds,
        mib(idle.rss_kib),
        mib(last.rss_kib),
    ))
}
