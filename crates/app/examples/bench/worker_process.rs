//! The worker as the figures measure it: the release `junction-worker` binary in its
//! own process, configured through the environment like a deployment, plus what the
//! figures read about it — its sync runs in Postgres and its memory in `/proc`.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow, bail};
use junction_testkit::TestRedis;
use secrecy::ExposeSecret;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

use crate::{cpu_seconds, fixture::Fixture};

/// How often progress and memory are sampled.
const POLL: Duration = Duration::from_millis(100);

/// How long the worker may take to start.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long SIGTERM may take before the process is killed.
const STOP_GRACE: Duration = Duration::from_secs(30);

/// The release worker beside this example (`target/release/examples/bench` ->
/// `target/release/junction-worker`), unless `--worker` names another.
pub fn binary(option: Option<&Path>) -> Result<PathBuf> {
    release_binary(option, "junction-worker", "--worker")
}

/// A release binary of the workspace beside this example, unless `option` (the
/// command-line `flag`) names another.
pub fn release_binary(option: Option<&Path>, name: &str, flag: &str) -> Result<PathBuf> {
    let path = match option {
        Some(path) => path.to_path_buf(),
        None => std::env::current_exe()?
            .parent()
            .and_then(Path::parent)
            .map(|dir| dir.join(name))
            .ok_or_else(|| anyhow!("cannot locate the target directory"))?,
    };
    if !path.is_file() {
        bail!(
            "{} is missing: `cargo build --release -p {name} --bin {name}` (or pass {flag} PATH)",
            path.display()
        );
    }
    Ok(path)
}

/// A running worker process, killed if dropped before [`WorkerProcess::stop`].
pub struct WorkerProcess {
    child: Child,
    pub log: PathBuf,
    /// The Redis key prefix of its queues; its keys are deleted when dropped.
    _redis: TestRedis,
}

impl WorkerProcess {
    /// Starts the worker on the fixture's database and sandbox, with a fresh Redis key
    /// prefix (deleted afterwards), a one-second scheduler interval and no metrics
    /// listener; every other setting is the default a deployment gets. Its log goes to
    /// `target/bench/`. Returns once the worker reports ready.
    pub async fn start(binary: &Path, fixture: &Fixture, figure: &str) -> Result<Self> {
        Self::start_with(binary, fixture, figure, &[]).await
    }

    /// [`WorkerProcess::start`] with more settings (`JUNCTION_*` variables).
    pub async fn start_with(
        binary: &Path,
        fixture: &Fixture,
        figure: &str,
        settings: &[(&str, &str)],
    ) -> Result<Self> {
        let redis = TestRedis::new().await;
        let mut env = vec![
            ("JUNCTION_WORKER__SCHEDULER_INTERVAL_SECONDS", "1"),
            ("JUNCTION_WORKER__METRICS_BIND", ""),
        ];
        env.extend_from_slice(settings);
        let (child, log, _) = spawn_ready(
            binary,
            fixture,
            &redis,
            &format!("worker-{figure}"),
            &env,
            "ready",
        )
        .await?;
        Ok(Self {
            child,
            log,
            _redis: redis,
        })
    }

    pub fn pid(&self) -> Result<u32> {
        self.child
            .id()
            .ok_or_else(|| anyhow!("the worker has already exited"))
    }

    /// Fails when the process has exited (it must run until stopped).
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "the worker exited early ({status}); see {}",
                self.log.display()
            );
        }
        Ok(())
    }

    /// SIGTERM (the worker drains and exits), SIGKILL after a grace period; then the
    /// queue keys are removed.
    pub async fn stop(mut self) {
        terminate(&mut self.child).await;
    }
}

/// Starts one of the workspace's binaries on the fixture's database and sandbox and
/// `redis`'s key prefix, configured only through the environment (`settings` on top
/// of the connection settings; a developer's own `JUNCTION_*` variables must not
/// change what is measured), with its stderr in `target/bench/{log_name}.log`.
/// Returns once a line of its stdout contains `ready`, with that line.
pub async fn spawn_ready(
    binary: &Path,
    fixture: &Fixture,
    redis: &TestRedis,
    log_name: &str,
    settings: &[(&str, &str)],
    ready: &str,
) -> Result<(Child, PathBuf, String)> {
    let dir = binary
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("."), |target| target.join("bench"));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let log = dir.join(format!("{log_name}.log"));
    let log_file =
        std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let mut command = Command::new(binary);
    command
        // The log directory holds no junction.toml.
        .env_clear()
        .current_dir(&dir)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", fixture.db.url().expose())
        .env("REDIS_URL", redis.url())
        .env("JUNCTION_KEYS", fixture.db.key_spec().expose_secret())
        .env("JUNCTION_QUEUE_PREFIX", redis.prefix())
        .env("JUNCTION_SANDBOX_URL", fixture.sandbox_url())
        .env("JUNCTION_LOG", "warn")
        .envs(settings.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file)
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("the process's stdout is not piped"))?;
    let mut lines = BufReader::new(stdout).lines();
    // The binaries print one line once they are up.
    let found = tokio::time::timeout(READY_TIMEOUT, async {
        while let Some(line) = lines.next_line().await? {
            if line.contains(ready) {
                return Ok::<Option<String>, std::io::Error>(Some(line));
            }
        }
        Ok(None)
    })
    .await;
    let line = match found {
        Ok(Ok(Some(line))) => line,
        Ok(Ok(None)) | Ok(Err(_)) => bail!(
            "{} exited before it was ready; see {}",
            binary.display(),
            log.display()
        ),
        Err(_) => bail!(
            "{} was not ready within {}s; see {}",
            binary.display(),
            READY_TIMEOUT.as_secs(),
            log.display()
        ),
    };
    // Keep reading, so a later line never blocks the process on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, log, line))
}

/// SIGTERM (the process drains and exits), SIGKILL after a grace period.
pub async fn terminate(child: &mut Child) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
        if tokio::time::timeout(STOP_GRACE, child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
    }
}

/// One sample of `/proc/<pid>/status`, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// Resident set size now.
    pub rss_kib: u64,
    /// The kernel's high-water mark of the resident set size.
    pub peak_kib: u64,
}

/// Reads `VmRSS` and `VmHWM` of a process.
pub fn memory(pid: u32) -> Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status (Linux only)"))?;
    let field = |name: &str| -> Result<u64> {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| anyhow!("no {name} in /proc/{pid}/status"))
    };
    Ok(Memory {
        rss_kib: field("VmRSS:")?,
        peak_kib: field("VmHWM:")?,
    })
}

/// The sync runs of the benchmark database, summed.
#[derive(Debug, Clone, Default)]
pub struct Runs {
    pub succeeded: i64,
    /// Failed or dead: the figure is void.
    pub failed: i64,
    pub records_written: i64,
    pub kpi_points_written: i64,
    /// From the first run's start to the last run's finish.
    pub wall_seconds: f64,
    /// One error of a failed run, for the report.
    pub first_error: Option<String>,
}

pub async fn runs(client: &tokio_postgres::Client) -> Result<Runs> {
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE status = 'succeeded'), \
                    count(*) FILTER (WHERE status IN ('failed', 'dead')), \
                    coalesce(sum(records_written), 0)::bigint, \
                    coalesce(sum(kpi_points_written), 0)::bigint, \
                    coalesce(extract(epoch FROM max(finished_at) - min(started_at)), 0)::float8, \
                    min(error_code || ': ' || error_message) FILTER (WHERE status IN ('failed', 'dead')) \
             FROM sync_runs",
            &[],
        )
        .await?;
    Ok(Runs {
        succeeded: row.try_get(0)?,
        failed: row.try_get(1)?,
        records_written: row.try_get(2)?,
        kpi_points_written: row.try_get(3)?,
        wall_seconds: row.try_get(4)?,
        first_error: row.try_get(5)?,
    })
}

/// Waits until `expected` sync runs succeeded, sampling the worker's memory at every
/// poll; fails on a failed run, an exited worker or the deadline.
pub async fn wait_for_syncs(
    worker: &mut WorkerProcess,
    client: &tokio_postgres::Client,
    expected: usize,
    deadline: Duration,
) -> Result<(Runs, Memory)> {
    let started = Instant::now();
    let pid = worker.pid()?;
    let mut peak = Memory::default();
    let mut last_report = Instant::now();
    loop {
        worker.check_alive()?;
        let sample = memory(pid)?;
        peak.rss_kib = peak.rss_kib.max(sample.rss_kib);
        peak.peak_kib = peak.peak_kib.max(sample.peak_kib);
        let runs = runs(client).await?;
        if runs.failed > 0 {
            bail!(
                "{} sync run(s) failed, e.g. {}; see {}",
                runs.failed,
                runs.first_error.as_deref().unwrap_or("(no message)"),
                worker.log.display()
            );
        }
        if usize::try_from(runs.succeeded).is_ok_and(|n| n >= expected) {
            return Ok((runs, peak));
        }
        if started.elapsed() > deadline {
            bail!(
                "only {} of {expected} syncs succeeded within {}s; see {}",
                runs.succeeded,
                deadline.as_secs(),
                worker.log.display()
            );
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "bench: {}/{expected} syncs done, {} records",
                runs.succeeded, runs.records_written
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(POLL).await;
    }
}

/// CPU seconds so far of Postgres backends serving the benchmark database, by pid:
/// every other connection's, or `client`'s own with `own`. Empty when the server's
/// processes are not visible here (another host or container): each pid is checked
/// to be a `postgres` process first.
pub async fn backend_cpu(client: &tokio_postgres::Client, own: bool) -> Result<HashMap<i32, f64>> {
    let sql = if own {
        "SELECT pg_backend_pid()"
    } else {
        "SELECT pid FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()"
    };
    let mut out = HashMap::new();
    for row in client.query(sql, &[]).await? {
        let pid: i32 = row.try_get(0)?;
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() != "postgres" {
            continue;
        }
        if let Ok(cpu) = cpu_seconds(&pid.to_string()) {
            out.insert(pid, cpu);
        }
    }
    Ok(out)
}

/// The CPU backends used between two [`backend_cpu`] samples (a backend that
/// appeared meanwhile counts from zero); `None` when none was visible.
pub fn backend_cpu_used(before: &HashMap<i32, f64>, after: &HashMap<i32, f64>) -> Option<f64> {
    if after.is_empty() {
        return None;
    }
    Some(
        after
            .iter()
            .map(|(pid, cpu)| cpu - before.get(pid).copied().unwrap_or(0.0))
            .sum(),
    )
}

/// A CPU figure for a report line.
pub fn cpu_text(seconds: Option<f64>) -> String {
    seconds.map_or_else(|| "not measured".to_owned(), |s| format!("{s:.1} s"))
}
