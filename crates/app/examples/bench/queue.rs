//! Figure (a), queue throughput: no-op jobs per second through the Redis queues and
//! the job runner, beside what raw Redis does for the same work.
//!
//! N no-op jobs are enqueued under a fresh key prefix (50 enqueuers at once), then
//! `junction_jobs::run` drains them with one worker at concurrency 50 whose handler
//! only counts. Three rates come out: enqueue (N over the enqueue phase), run (N
//! from the start of the runner to the last handler's return) and end to end (N over
//! both phases).
//!
//! The line also gives the CPU time the runner (this process) and the Redis server
//! used in the run phase, which shows which of them bounds it, and Redis's CPU per
//! job over both phases (enqueue included), the figure `cargo xtask bench queue`
//! compares with BullMQ's (bench/bullmq/queue.mjs measures it the same way).
//! With `--summary PATH` the figure's numbers also go to PATH as one JSON object, in
//! the fields that script prints, for xtask to read.
//!
//! The ceiling is `redis-benchmark` with 50 clients pushing N' items onto one list
//! and popping them again (`LPUSH` then `RPOP`, no pipelining): a job needs at least
//! one push and one pop, so the raw rate for whole jobs is 1 / (1/lpush + 1/rpop).
//! The ratio compares the end-to-end rate with it, both being push-then-pop of the
//! same number of items.

use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use junction_core::WorkspaceId;
use junction_jobs::{
    Envelope, Job, JobFailure, JobHandler, NotifyJob, QueueWorker, Queues, RetryPolicy,
    RunnerOptions,
};
use junction_store::models::Queue;
use junction_testkit::{TestDb, TestRedis};
use tokio::sync::watch;
use uuid::Uuid;

use crate::{Options, cpu_seconds, per_second, rate, thousands};

/// Enough for the steady rate to dominate the start-up and drain at the ends.
const DEFAULT_JOBS: usize = 20_000;
const DEFAULT_CONCURRENCY: usize = 50;

/// Operations per `redis-benchmark` test.
const CEILING_REQUESTS: usize = 100_000;

/// The longest the runner may take to drain the jobs.
const DEADLINE: Duration = Duration::from_secs(180);

/// Counts handled jobs and notes when the last one was done.
struct Counter {
    target: usize,
    done: AtomicUsize,
    finished_at: Mutex<Option<Instant>>,
    all_done: watch::Sender<bool>,
}

#[async_trait]
impl JobHandler for Counter {
    async fn handle(&self, _envelope: &Envelope) -> Result<(), JobFailure> {
        if self.done.fetch_add(1, Ordering::SeqCst) + 1 == self.target {
            *self
                .finished_at
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
            self.all_done.send_replace(true);
        }
        Ok(())
    }
}

pub async fn run(options: &Options) -> Result<String> {
    let jobs = options.jobs.unwrap_or(DEFAULT_JOBS);
    let concurrency = options.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
    // A fresh key prefix, whose keys are deleted when it is dropped.
    let redis = TestRedis::new().await;
    // The runner buries dead letters in Postgres (none are expected here).
    let db = TestDb::new().await;
    let queues = Queues::connect(redis.url(), redis.prefix()).await?;
    let phases = measure(&queues, &db, redis.url(), jobs, concurrency).await?;
    let end_to_end_seconds = phases.enqueue_seconds + phases.run_seconds;
    let n = jobs as u64;
    let redis_cpu = match &phases.redis_cpu {
        Some(cpu) => format!(
            "{:.2} s, {:.0} µs per job with the enqueue",
            cpu.run,
            cpu.micros_per_job(n)
        ),
        None => "not measured".to_owned(),
    };
    if let Some(path) = &options.summary {
        write_summary(path, &phases, jobs, concurrency)?;
    }
    let jobs_line = format!(
        "queue: {} jobs/s end to end at concurrency {concurrency} ({} no-op jobs: enqueued at {}/s, run at {}/s in {:.2} s with runner CPU {:.2} s, Redis CPU {redis_cpu})",
        per_second(n, end_to_end_seconds),
        thousands(n),
        per_second(n, phases.enqueue_seconds),
        per_second(n, phases.run_seconds),
        phases.run_seconds,
        phases.runner_cpu,
    );
    let ceiling = match redis_ceiling(redis.url(), redis.prefix(), concurrency).await? {
        Some(ceiling) => ceiling,
        None => {
            return Ok(format!(
                "{jobs_line}; raw Redis ceiling not measured: redis-benchmark is not installed"
            ));
        }
    };
    let ratio = rate(n, end_to_end_seconds) / ceiling.jobs_per_second;
    Ok(format!(
        "{jobs_line}; raw Redis LPUSH+RPOP ceiling {} jobs/s (LPUSH {}/s, RPOP {}/s, {concurrency} clients); ratio {ratio:.3}",
        thousands(ceiling.jobs_per_second.round() as u64),
        thousands(ceiling.lpush.round() as u64),
        thousands(ceiling.rpop.round() as u64),
    ))
}

/// Enqueues the jobs, then runs them.
async fn measure(
    queues: &Queues,
    db: &TestDb,
    redis_url: &str,
    jobs: usize,
    concurrency: usize,
) -> Result<Phases> {
    let workspace_id = WorkspaceId::new();
    let redis_cpu_start = redis_cpu_seconds(redis_url).await;
    let started = Instant::now();
    futures::stream::iter(0..jobs)
        .map(|_| async move {
            queues
                .enqueue(Job::Notify(NotifyJob {
                    workspace_id,
                    notification_id: Uuid::new_v4(),
                }))
                .await
        })
        .buffer_unordered(concurrency)
        .try_for_each(|_| async { Ok(()) })
        .await
        .context("enqueueing")?;
    let enqueue_seconds = started.elapsed().as_secs_f64();
    eprintln!("bench: {jobs} jobs enqueued in {enqueue_seconds:.2}s");

    let (all_done, mut done_rx) = watch::channel(false);
    let counter = Arc::new(Counter {
        target: jobs,
        done: AtomicUsize::new(0),
        finished_at: Mutex::new(None),
        all_done,
    });
    let shutdown = async move {
        // Stops the runner once every job was handled, or at the deadline.
        let _ = tokio::time::timeout(DEADLINE, done_rx.wait_for(|done| *done)).await;
    };
    let redis_cpu_before = redis_cpu_seconds(redis_url).await;
    let cpu_before = cpu_seconds("self")?;
    let run_started = Instant::now();
    junction_jobs::run(
        queues,
        db.store(),
        vec![QueueWorker {
            queue: Queue::Notify,
            concurrency,
            handler: counter.clone(),
            schedule: None,
        }],
        RunnerOptions {
            policy: RetryPolicy::default(),
            shutdown_grace: Duration::from_secs(10),
            worker_name: "bench".into(),
        },
        shutdown,
    )
    .await?;
    let done = counter.done.load(Ordering::SeqCst);
    let finished_at = *counter
        .finished_at
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let Some(finished_at) = finished_at else {
        bail!(
            "only {done} of {jobs} jobs ran within {}s",
            DEADLINE.as_secs()
        );
    };
    let cpu = cpu_seconds("self")? - cpu_before;
    let redis_cpu = match (
        redis_cpu_start,
        redis_cpu_before,
        redis_cpu_seconds(redis_url).await,
    ) {
        (Some(start), Some(before), Some(after)) => Some(RedisCpu {
            enqueue: before - start,
            run: after - before,
        }),
        _ => None,
    };
    Ok(Phases {
        enqueue_seconds,
        run_seconds: finished_at.duration_since(run_started).as_secs_f64(),
        runner_cpu: cpu,
        redis_cpu,
    })
}

/// What the two phases took.
struct Phases {
    enqueue_seconds: f64,
    /// From the start of the runner to the last handler's return.
    run_seconds: f64,
    /// CPU this process (the runner) used in the run phase, shutdown included.
    runner_cpu: f64,
    /// CPU the Redis server used in each phase, when `redis-cli` could ask it.
    redis_cpu: Option<RedisCpu>,
}

/// Seconds of CPU the Redis server used in the two phases.
struct RedisCpu {
    enqueue: f64,
    /// The run phase, shutdown included.
    run: f64,
}

impl RedisCpu {
    /// Redis CPU per job over both phases, in microseconds.
    fn micros_per_job(&self, jobs: u64) -> f64 {
        (self.enqueue + self.run) * 1e6 / jobs as f64
    }
}

/// The figure's numbers as one JSON object, in the fields bench/bullmq/queue.mjs
/// prints (xtask reads both with one parser); rates are jobs per second.
fn write_summary(
    path: &std::path::Path,
    phases: &Phases,
    jobs: usize,
    concurrency: usize,
) -> Result<()> {
    let n = jobs as u64;
    let summary = serde_json::json!({
        "queue": "junction",
        "jobs": jobs,
        "concurrency": concurrency,
        "enqueue_seconds": phases.enqueue_seconds,
        "process_seconds": phases.run_seconds,
        "enqueue_per_second": rate(n, phases.enqueue_seconds),
        "process_per_second": rate(n, phases.run_seconds),
        "redis_cpu_enqueue_seconds": phases.redis_cpu.as_ref().map(|cpu| cpu.enqueue),
        "redis_cpu_process_seconds": phases.redis_cpu.as_ref().map(|cpu| cpu.run),
        "redis_cpu_us_per_job": phases.redis_cpu.as_ref().map(|cpu| cpu.micros_per_job(n)),
    });
    std::fs::write(path, format!("{summary}\n"))
        .with_context(|| format!("writing {}", path.display()))
}

/// The Redis server's CPU time so far (`INFO cpu`: user + system), through
/// `redis-cli`; `None` when that is not installed or does not answer.
async fn redis_cpu_seconds(redis_url: &str) -> Option<f64> {
    let output = tokio::process::Command::new("redis-cli")
        .args(["-u", redis_url, "INFO", "cpu"])
        .output()
        .await
        .ok()?;
    let info = String::from_utf8_lossy(&output.stdout).into_owned();
    let field = |name: &str| -> Option<f64> {
        info.lines()
            .find_map(|line| line.trim().strip_prefix(name))
            .and_then(|value| value.parse().ok())
    };
    Some(field("used_cpu_user:")? + field("used_cpu_sys:")?)
}

/// Raw Redis rates for the same pushes and pops.
struct Ceiling {
    lpush: f64,
    rpop: f64,
    jobs_per_second: f64,
}

/// Runs `redis-benchmark` for `LPUSH` then `RPOP` on one key under the prefix; `None`
/// when it is not installed.
async fn redis_ceiling(redis_url: &str, prefix: &str, clients: usize) -> Result<Option<Ceiling>> {
    let url = url::Url::parse(redis_url).context("the Redis URL")?;
    let host = url.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = url.port().unwrap_or(6379).to_string();
    let key = format!("{prefix}ceiling");
    let mut rates = Vec::new();
    for command in [
        vec!["LPUSH", key.as_str(), "job"],
        vec!["RPOP", key.as_str()],
    ] {
        let requests = CEILING_REQUESTS.to_string();
        let clients = clients.to_string();
        let mut args = vec![
            "-h", &host, "-p", &port, "-q", "-n", &requests, "-c", &clients, "-P", "1",
        ];
        if let Some(password) = url.password() {
            args.extend(["-a", password]);
        }
        args.extend(command.iter().copied());
        let output = match tokio::process::Command::new("redis-benchmark")
            .args(&args)
            .output()
            .await
        {
            Ok(output) => output,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err).context("running redis-benchmark"),
        };
        if !output.status.success() {
            bail!(
                "redis-benchmark failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        rates.push(requests_per_second(&String::from_utf8_lossy(
            &output.stdout,
        ))?);
    }
    let (lpush, rpop) = (rates[0], rates[1]);
    Ok(Some(Ceiling {
        lpush,
        rpop,
        jobs_per_second: 1.0 / (1.0 / lpush + 1.0 / rpop),
    }))
}

/// The rate in `redis-benchmark -q` output: its progress lines are separated by
/// carriage returns; the final one reads `CMD args: 61349.69 requests per second, ...`.
fn requests_per_second(output: &str) -> Result<f64> {
    output
        .split(['\r', '\n'])
        .find_map(|line| {
            let (before, _) = line.split_once(" requests per second")?;
            before.rsplit(' ').next()?.parse::<f64>().ok()
        })
        .filter(|rate| *rate > 0.0)
        .with_context(|| format!("no rate in redis-benchmark's output: {}", output.trim()))
}
