//! Figure (f), scale: 10,000 and then 100,000 GA4 integrations due at once. For each
//! count: how long the worker's scheduler takes to claim them all and enqueue their
//! syncs, the worker's memory and its Postgres backends' while it does, how many
//! syncs per second the worker completes meanwhile and just after (against the
//! sandbox), and the cost per integration, so the two counts compare as the
//! integrations grow tenfold.
//!
//! The integrations are seeded in bulk (`Fixture::seed_ga4`: each with its own
//! sealed OAuth tokens, one report row a day for a week), not due. The release
//! `junction-worker` starts as a deployment runs it (every setting the default but a
//! one-second scheduler interval) and is sampled idle; then every integration is
//! made due in one statement. The scheduler claims them in batches, stages each
//! run's job with the run, and the relay moves the jobs to the sync queue, while the
//! sync handlers already work through the queue: the claim is done when every
//! integration has its run and the outbox is empty. Memory is sampled every 250 ms:
//! the worker's VmRSS (and its VmHWM high-water mark at the end) and the sum of the
//! private resident memory (`RssAnon`) of the Postgres backends serving the
//! benchmark database (shared buffers are one fixed pool and left out).
//!
//! Every integration is connected through the same OAuth app, so GA4's request
//! budget (shared by every connection of an app: 4,000 requests an hour) runs out
//! after several hundred syncs; later attempts are refused by it and retried an
//! hour later, which the line reports as runs waiting for a retry. The sync rate
//! is then the budget's, as it would be for such a fleet in production.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{
    Options, cpu_seconds,
    fixture::Fixture,
    mib, per_second, thousands,
    worker_process::{self, WorkerProcess},
};

const DEFAULT_LARGEST: usize = 100_000;
/// One report row a day for a week: small syncs, the figure is about how many.
const LOOKBACK_DAYS: u32 = 7;
/// The longest the claim of one count may take.
const DEADLINE: Duration = Duration::from_secs(1_200);
/// How long the sync rate is watched after the claim ends.
const AFTER: Duration = Duration::from_secs(15);
const SETTLE: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(250);

pub async fn run(options: &Options) -> Result<String> {
    let largest = options.integrations.unwrap_or(DEFAULT_LARGEST);
    let binary = worker_process::binary(options.worker.as_deref())?;
    let mut measured = Vec::new();
    for count in [largest / 10, largest].into_iter().filter(|n| *n > 0) {
        eprintln!("bench: scale with {count} integrations");
        measured.push(measure(&binary, count).await?);
    }
    let parts: Vec<String> = measured.iter().map(Scale::text).collect();
    let growth = match measured.as_slice() {
        [small, large] => format!(
            "; per integration from {} to {}: claim {:.2} → {:.2} ms, worker CPU {:.2} → {:.2} ms, Postgres CPU {} → {}",
            thousands(small.count as u64),
            thousands(large.count as u64),
            small.claim_ms_each(),
            large.claim_ms_each(),
            small.worker_cpu_ms_each(),
            large.worker_cpu_ms_each(),
            small.backend_cpu_ms_each(),
            large.backend_cpu_ms_each(),
        ),
        _ => String::new(),
    };
    Ok(format!("scale: {}{growth}", parts.join("; ")))
}

/// One count's figures.
struct Scale {
    count: usize,
    claim_seconds: f64,
    idle_kib: u64,
    peak_kib: u64,
    end_kib: u64,
    postgres_idle_kib: u64,
    postgres_peak_kib: u64,
    /// Syncs that succeeded while the claim ran, and in [`AFTER`] after it.
    synced_during: u64,
    synced_after: u64,
    /// Runs waiting for a retry at the end (rate-limited by the provider budget).
    retrying: i64,
    failed: i64,
    worker_cpu: f64,
    backend_cpu: Option<f64>,
}

impl Scale {
    fn claim_ms_each(&self) -> f64 {
        1000.0 * self.claim_seconds / self.count as f64
    }

    fn worker_cpu_ms_each(&self) -> f64 {
        1000.0 * self.worker_cpu / self.count as f64
    }

    fn backend_cpu_ms_each(&self) -> String {
        self.backend_cpu.map_or_else(
            || "not measured".to_owned(),
            |cpu| format!("{:.2} ms", 1000.0 * cpu / self.count as f64),
        )
    }

    fn text(&self) -> String {
        format!(
            "{} due at once claimed and enqueued in {:.1} s (worker CPU {:.1} s, Postgres backends {}), worker RSS idle {} peak {} end {}, Postgres backends' private memory idle {} peak {}, syncs completed {}/s during the claim ({} syncs) and {}/s in the {} s after, {} runs waiting for a retry at the end{}",
            thousands(self.count as u64),
            self.claim_seconds,
            self.worker_cpu,
            worker_process::cpu_text(self.backend_cpu),
            mib(self.idle_kib),
            mib(self.peak_kib),
            mib(self.end_kib),
            mib(self.postgres_idle_kib),
            mib(self.postgres_peak_kib),
            per_second(self.synced_during, self.claim_seconds),
            thousands(self.synced_during),
            per_second(self.synced_after, AFTER.as_secs_f64()),
            AFTER.as_secs(),
            thousands(u64::try_from(self.retrying).unwrap_or(0)),
            if self.failed > 0 {
                format!(" ({} runs failed)", self.failed)
            } else {
                String::new()
            },
        )
    }
}

async fn measure(binary: &std::path::Path, count: usize) -> Result<Scale> {
    let fixture = Fixture::start().await?;
    fixture.seed_ga4(count, LOOKBACK_DAYS).await?;
    let client = fixture.admin_client().await?;
    let mut worker = WorkerProcess::start(binary, &fixture, &format!("scale-{count}")).await?;
    let measured = async {
        tokio::time::sleep(SETTLE).await;
        worker.check_alive()?;
        let pid = worker.pid()?;
        let idle = worker_process::memory(pid)?;
        let postgres_idle = postgres_private_kib(&client).await?;
        let mut postgres_peak = postgres_idle;
        let backends_before = worker_process::backend_cpu(&client, false).await?;
        let cpu_before = cpu_seconds(&pid.to_string())?;
        fixture.make_due().await?;
        let started = Instant::now();
        let (claim_seconds, synced_during) = loop {
            worker.check_alive()?;
            postgres_peak = postgres_peak.max(postgres_private_kib(&client).await?);
            let (runs, staged) = started_and_staged(&client).await?;
            if runs >= count as i64 && staged == 0 {
                let seconds = started.elapsed().as_secs_f64();
                break (seconds, progress(&client).await?.succeeded);
            }
            if started.elapsed() > DEADLINE {
                bail!(
                    "only {runs} of {count} runs started within {}s ({staged} jobs still staged)",
                    DEADLINE.as_secs(),
                );
            }
            tokio::time::sleep(POLL).await;
        };
        let worker_cpu = cpu_seconds(&pid.to_string())? - cpu_before;
        let backend_cpu = worker_process::backend_cpu_used(
            &backends_before,
            &worker_process::backend_cpu(&client, false).await?,
        );
        let after = Instant::now();
        while after.elapsed() < AFTER {
            worker.check_alive()?;
            postgres_peak = postgres_peak.max(postgres_private_kib(&client).await?);
            tokio::time::sleep(POLL).await;
        }
        let last = progress(&client).await?;
        let end = worker_process::memory(pid)?;
        Ok::<_, anyhow::Error>(Scale {
            count,
            claim_seconds,
            idle_kib: idle.rss_kib,
            peak_kib: end.peak_kib,
            end_kib: end.rss_kib,
            postgres_idle_kib: postgres_idle,
            postgres_peak_kib: postgres_peak,
            synced_during: u64::try_from(synced_during).unwrap_or(0),
            synced_after: u64::try_from(last.succeeded - synced_during).unwrap_or(0),
            retrying: last.retrying,
            failed: last.failed,
            worker_cpu,
            backend_cpu,
        })
    }
    .await;
    worker.stop().await;
    fixture.sandbox.handle.stop(true).await;
    measured.with_context(|| format!("scale with {count} integrations"))
}

/// Runs by status.
struct Progress {
    succeeded: i64,
    retrying: i64,
    failed: i64,
}

/// Runs started and jobs still staged: what the claim's end is told by, polled
/// while it runs. Counting the runs by status as well read every run's row a
/// second time per poll, CPU taken from the claim being measured.
async fn started_and_staged(client: &tokio_postgres::Client) -> Result<(i64, i64)> {
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM sync_runs), (SELECT count(*) FROM outbox)",
            &[],
        )
        .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

async fn progress(client: &tokio_postgres::Client) -> Result<Progress> {
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE status = 'succeeded'), \
                    count(*) FILTER (WHERE status = 'retrying'), \
                    count(*) FILTER (WHERE status IN ('failed', 'dead')) \
             FROM sync_runs",
            &[],
        )
        .await?;
    Ok(Progress {
        succeeded: row.try_get(0)?,
        retrying: row.try_get(1)?,
        failed: row.try_get(2)?,
    })
}

/// The private resident memory (`RssAnon`) of the Postgres backends serving the
/// benchmark database, summed, in KiB; 0 when their processes are not visible here.
async fn postgres_private_kib(client: &tokio_postgres::Client) -> Result<u64> {
    let rows = client
        .query(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()",
            &[],
        )
        .await?;
    let mut total = 0;
    for row in rows {
        let pid: i32 = row.try_get(0)?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        total += status
            .lines()
            .find_map(|line| line.strip_prefix("RssAnon:"))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0);
    }
    Ok(total)
}
