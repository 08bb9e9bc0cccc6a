//! The measuring program behind `cargo xtask bench` (see docs/benchmarks.md).
//!
//! ```text
//! cargo build --release -p junction-app --example bench -p junction-worker --bin junction-worker
//! target/release/examples/bench queue  [--jobs N] [--concurrency C] [--summary PATH]
//! target/release/examples/bench ingest [--integrations K] [--lookback-days D]
//! target/release/examples/bench memory [--integrations K] [--lookback-days D]
//! target/release/examples/bench webhook [--jobs N] [--concurrency C]
//! target/release/examples/bench api [--integrations K] [--rate R] [--seconds S]
//! target/release/examples/bench scale [--integrations K]
//! ```
//!
//! Each figure prints exactly one line on stdout (progress goes to stderr):
//! - `queue`: no-op jobs per second through the Redis queues and the job runner, beside
//!   what raw Redis does for the same pushes and pops (`redis-benchmark`); with
//!   `--summary PATH` its numbers also go to PATH as JSON, which `cargo xtask bench`
//!   compares with BullMQ's (bench/bullmq/queue.mjs);
//! - `ingest`: records per second from the sandbox's GA4 through the worker process into
//!   Postgres, beside a raw `COPY` of the same rows;
//! - `memory`: the worker process's peak RSS while it syncs many integrations;
//! - `webhook`: verified Stripe deliveries per second through the API process, with
//!   the acknowledgement's latency, beside `GET /healthz` at the same concurrency;
//!   then the worker applying them;
//! - `api`: `GET /v1/integrations` and `GET /v1/kpis` latency at a fixed request
//!   rate, beside `GET /healthz` at the same rate;
//! - `scale`: K/10 and K integrations due at once: the scheduler's claim, memory,
//!   sync rate and the cost per integration.
//!
//! It needs the Postgres and Redis the tests use (`JUNCTION_TEST_DATABASE_URL`,
//! `JUNCTION_TEST_REDIS_URL`), and, for every figure but `queue`, the release
//! `junction-worker` and (`webhook`, `api`) `junction-api` binaries beside
//! `target/release/examples/` (or `--worker PATH`, `--api PATH`).
//! Timings are printed, never asserted: the tests assert behaviour only.

mod api;
mod api_process;
mod fixture;
mod ingest;
mod load;
mod memory;
mod queue;
mod scale;
mod webhook;
mod worker_process;

use std::{path::PathBuf, process::ExitCode};

use anyhow::{Context, Result, bail};

const USAGE: &str = "usage: bench <queue|ingest|memory|webhook|api|scale> [--jobs N] \
[--concurrency C] [--integrations K] [--lookback-days D] [--rate R] [--seconds S] \
[--worker PATH] [--api PATH] [--summary PATH]";

/// Command-line settings; each figure fills in its own defaults for what is unset.
#[derive(Debug, Default)]
pub struct Options {
    /// No-op jobs the queue figure runs; deliveries the webhook figure sends.
    pub jobs: Option<usize>,
    /// Jobs the queue figure's worker runs at once; the webhook figure's senders.
    pub concurrency: Option<usize>,
    /// GA4 integrations the ingest and memory figures sync, the api figure's
    /// workspace holds, and the scale figure makes due (the larger count).
    pub integrations: Option<usize>,
    /// How many days each of those syncs reads.
    pub lookback_days: Option<u32>,
    /// Requests per second the api figure sends.
    pub rate: Option<usize>,
    /// Seconds the api figure sends each route its requests.
    pub seconds: Option<usize>,
    /// The junction-worker binary to run.
    pub worker: Option<PathBuf>,
    /// The junction-api binary to run.
    pub api: Option<PathBuf>,
    /// Where the queue figure also writes its numbers as JSON (for xtask).
    pub summary: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<(String, Options)> {
    let mut args = args.iter();
    let Some(figure) = args.next() else {
        bail!("{USAGE}");
    };
    let mut options = Options::default();
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = || {
            value
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .with_context(|| format!("{flag} must be a positive whole number"))
        };
        match flag.as_str() {
            "--jobs" => options.jobs = Some(number()?),
            "--concurrency" => options.concurrency = Some(number()?),
            "--integrations" => options.integrations = Some(number()?),
            "--lookback-days" => {
                options.lookback_days = Some(u32::try_from(number()?).context("too many days")?)
            }
            "--rate" => options.rate = Some(number()?),
            "--seconds" => options.seconds = Some(number()?),
            "--worker" => options.worker = Some(PathBuf::from(value)),
            "--api" => options.api = Some(PathBuf::from(value)),
            "--summary" => options.summary = Some(PathBuf::from(value)),
            other => bail!("unknown option `{other}`\n{USAGE}"),
        }
    }
    Ok((figure.clone(), options))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("JUNCTION_BENCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = async {
        let (figure, options) = parse(&args)?;
        if options.summary.is_some() && figure != "queue" {
            bail!("--summary is for the queue figure only");
        }
        match figure.as_str() {
            "queue" => queue::run(&options).await,
            "ingest" => ingest::run(&options).await,
            "memory" => memory::run(&options).await,
            "webhook" => webhook::run(&options).await,
            "api" => api::run(&options).await,
            "scale" => scale::run(&options).await,
            other => bail!("unknown figure `{other}`\n{USAGE}"),
        }
    }
    .await;
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    use num_format::{Locale, ToFormattedString};
    n.to_formatted_string(&Locale::en)
}

/// KiB as `12.3 MiB`.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// A rate rounded to a whole number, with thousands separators.
pub fn per_second(count: u64, seconds: f64) -> String {
    thousands(rate(count, seconds).round() as u64)
}

/// `count / seconds`, zero for an empty interval.
pub fn rate(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// CPU time (user + system) a process has used so far, in seconds, from
/// `/proc/<pid>/stat` (`self` for this process). Linux reports it in USER_HZ ticks,
/// which are 1/100 s on every architecture Junction runs on.
pub fn cpu_seconds(pid: &str) -> anyhow::Result<f64> {
    const USER_HZ: f64 = 100.0;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat (Linux only)"))?;
    // The command name (field 2) may hold spaces; the fields after it are numbers:
    // state is field 3, utime 14 and stime 15.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("malformed /proc stat")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| -> anyhow::Result<f64> {
        fields
            .get(index)
            .and_then(|value| value.parse::<u64>().ok())
            .map(|ticks| ticks as f64)
            .context("malformed /proc stat")
    };
    Ok((ticks(11)? + ticks(12)?) / USER_HZ)
}
