//! `cargo xtask bench [queue|ingest|memory|webhook|api|scale]`: the benchmarks (all
//! of them by default).
//!
//! Checks that the test Postgres and Redis answer, builds the release worker, the
//! release API and the application crate's `bench` example (which does the measuring: xtask stays free of the
//! project's crates, since it is compiled before every `cargo xtask test`), then runs
//! the example once per figure. Each figure prints one line; docs/benchmarks.md
//! records them with the machine they ran on. Nothing is installed system-wide:
//! without `redis-benchmark` the queue figure says so and prints its own rate alone.
//!
//! After the queue figure comes its baseline, BullMQ on the same Redis in the same
//! run: when Node.js 20+ and npm are present, `npm ci` installs the BullMQ pinned in
//! `bench/bullmq/package-lock.json` (only when `node_modules` is missing or older than
//! the lock), `bench/bullmq/queue.mjs` measures BullMQ with the same job count and
//! concurrency under a key prefix of its own, and one more line compares the two
//! from the JSON each side wrote ([`QueueFigure`]). Without Node that line says
//! BullMQ was skipped and why.

use std::{
    path::PathBuf,
    process::{Command, Stdio},
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::{check_services, command, npm_ci, test_redis_url, workspace_root};

/// The oldest Node.js the pinned ioredis supports.
const NODE_MAJOR: u32 = 20;

const FIGURES: [&str; 6] = ["queue", "ingest", "memory", "webhook", "api", "scale"];

pub fn bench(args: &[String]) -> Result<()> {
    let figures: Vec<&str> = if args.is_empty() {
        FIGURES.to_vec()
    } else {
        args.iter().map(String::as_str).collect()
    };
    if let Some(unknown) = figures.iter().find(|f| !FIGURES.contains(f)) {
        bail!(
            "unknown figure `{unknown}`: choose from {}",
            FIGURES.join(", ")
        );
    }
    check_services()?;
    build_release()?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let program = target.join("release/examples/bench");
    let summary = target.join("bench/queue-junction.json");
    for figure in figures {
        eprintln!("==> bench {figure}");
        let mut bench = Command::new(&program);
        bench.arg(figure).current_dir(workspace_root());
        if figure == "queue" {
            std::fs::create_dir_all(target.join("bench"))?;
            // A summary left by an earlier run must not stand in for this one's.
            let _ = std::fs::remove_file(&summary);
            bench.arg("--summary").arg(&summary);
        }
        // The figure's line goes straight to our stdout; progress to stderr.
        let status = bench
            .status()
            .with_context(|| format!("cannot run {}", program.display()))?;
        if !status.success() {
            bail!("the {figure} benchmark failed ({status})");
        }
        if figure == "queue" {
            let junction = std::fs::read_to_string(&summary)
                .with_context(|| format!("reading {}", summary.display()))?;
            let junction = QueueFigure::parse(&junction).context("Junction's queue summary")?;
            println!("{}", bullmq_line(&junction)?);
        }
    }
    Ok(())
}

/// One queue's figure, as the bench example's `--summary` and bench/bullmq/queue.mjs
/// both write it (one JSON object; fields neither needs are ignored).
#[derive(Debug, Deserialize, PartialEq)]
struct QueueFigure {
    /// `junction` or `bullmq`.
    queue: String,
    /// BullMQ's version (Junction's figure has none).
    version: Option<String>,
    jobs: u64,
    concurrency: u64,
    enqueue_per_second: f64,
    /// From the worker's start to the last job's handler returning.
    process_per_second: f64,
    /// Redis's CPU over the enqueue and the processing, per job; `None` when it was
    /// not measured (Junction's figure reads it with `redis-cli`).
    redis_cpu_us_per_job: Option<f64>,
}

impl QueueFigure {
    /// The figure in a program's standard output: its last line that is a JSON
    /// object (a dependency may print notices before it).
    fn parse(stdout: &str) -> Result<Self> {
        let line = stdout
            .lines()
            .rev()
            .map(str::trim)
            .find(|line| line.starts_with('{'))
            .with_context(|| format!("no JSON line in: {}", stdout.trim()))?;
        let figure: Self =
            serde_json::from_str(line).with_context(|| format!("unexpected figure: {line}"))?;
        let rates = [figure.enqueue_per_second, figure.process_per_second];
        if figure.jobs == 0 || rates.iter().any(|rate| !rate.is_finite() || *rate <= 0.0) {
            bail!("a figure without jobs or rates: {line}");
        }
        Ok(figure)
    }
}

/// The line comparing Junction's queue with BullMQ's: processing rates, Redis CPU per
/// job and their ratio, then the enqueue rates. Both must have run the same jobs at
/// the same concurrency, or the ratio would compare different work.
fn compare(junction: &QueueFigure, bullmq: &QueueFigure) -> Result<String> {
    if (junction.jobs, junction.concurrency) != (bullmq.jobs, bullmq.concurrency) {
        bail!(
            "Junction ran {} jobs at concurrency {}, BullMQ {} at {}: not comparable",
            junction.jobs,
            junction.concurrency,
            bullmq.jobs,
            bullmq.concurrency
        );
    }
    let cpu = |figure: &QueueFigure| {
        figure
            .redis_cpu_us_per_job
            .map_or_else(|| "not measured".to_owned(), |us| format!("{us:.0} µs/job"))
    };
    let version = bullmq.version.as_deref().unwrap_or("?");
    Ok(format!(
        "queue vs BullMQ: Junction {} jobs/s (Redis CPU {}), BullMQ {} jobs/s (Redis CPU {}), ratio {:.3} ({} no-op jobs at concurrency {}, processing; Redis CPU includes the enqueue; enqueue: Junction {}/s, BullMQ {version} addBulk {}/s)",
        thousands(junction.process_per_second),
        cpu(junction),
        thousands(bullmq.process_per_second),
        cpu(bullmq),
        junction.process_per_second / bullmq.process_per_second,
        thousands(junction.jobs as f64),
        junction.concurrency,
        thousands(junction.enqueue_per_second),
        thousands(bullmq.enqueue_per_second),
    ))
}

/// A rate rounded to a whole number, with thousands separators (as the bench
/// example prints its figures).
fn thousands(value: f64) -> String {
    use num_format::{Locale, ToFormattedString};
    (value.round() as u64).to_formatted_string(&Locale::en)
}

/// BullMQ's run on the same Redis with Junction's job count and concurrency, and the
/// line comparing the two; the line says why when Node.js is missing.
fn bullmq_line(junction: &QueueFigure) -> Result<String> {
    if let Err(reason) = node_present() {
        return Ok(format!("queue vs BullMQ: BullMQ skipped: {reason}"));
    }
    let dir = workspace_root().join("bench/bullmq");
    npm_ci(&dir, &[])?;
    let prefix = format!(
        "junction-bench-bullmq-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis())
    );
    eprintln!("==> bench queue: BullMQ (bench/bullmq/queue.mjs, key prefix {prefix})");
    let output = command("node")
        .arg("queue.mjs")
        .args(["--redis", &test_redis_url()])
        .args(["--jobs", &junction.jobs.to_string()])
        .args(["--concurrency", &junction.concurrency.to_string()])
        .args(["--prefix", &prefix])
        .current_dir(&dir)
        .stderr(Stdio::inherit())
        .output()
        .context("running node")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "bench/bullmq/queue.mjs failed ({}): {}",
            output.status,
            stdout.trim()
        );
    }
    eprintln!("    {}", stdout.trim());
    let bullmq = QueueFigure::parse(&stdout).context("BullMQ's figure")?;
    compare(junction, &bullmq)
}

/// Whether Node.js 20+ and npm are there to run BullMQ; the reason when not.
fn node_present() -> std::result::Result<(), String> {
    let version = |program: &str| -> std::result::Result<String, String> {
        let output = command(program)
            .arg("--version")
            .output()
            .map_err(|error| match error.kind() {
                std::io::ErrorKind::NotFound => format!(
                    "`{program}` is not installed (BullMQ needs Node.js {NODE_MAJOR}+ and npm)"
                ),
                _ => format!("`{program}` cannot run: {error}"),
            })?;
        if !output.status.success() {
            return Err(format!("`{program} --version` failed ({})", output.status));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    let node = version("node")?;
    match node_major(&node) {
        Some(major) if major >= NODE_MAJOR => {}
        _ => return Err(format!("Node.js {node} is older than {NODE_MAJOR}")),
    }
    version("npm").map(|_| ())
}

/// The major version in `node --version`'s `v20.20.2`.
fn node_major(version: &str) -> Option<u32> {
    version.strip_prefix('v')?.split('.').next()?.parse().ok()
}

/// `cargo build --release` of the worker and API binaries and the bench example,
/// with the environment a developer's own shell would give it.
fn build_release() -> Result<()> {
    let args = [
        "build",
        "--release",
        "--locked",
        "-p",
        "junction-app",
        "--example",
        "bench",
        "-p",
        "junction-worker",
        "--bin",
        "junction-worker",
        "-p",
        "junction-api",
        "--bin",
        "junction-api",
    ];
    let started = Instant::now();
    eprintln!("==> cargo {}", args.join(" "));
    let status = command("cargo")
        .args(args)
        .current_dir(workspace_root())
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    eprintln!("    done in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line in the shape bench/bullmq/queue.mjs prints (its fields, in its order).
    const BULLMQ: &str = r#"{"queue":"bullmq","version":"6.7.6","jobs":20000,"concurrency":50,"enqueue_seconds":0.8,"process_seconds":0.8695652173913043,"enqueue_per_second":25000,"process_per_second":23000.4,"redis_cpu_enqueue_seconds":0.25,"redis_cpu_process_seconds":0.65,"redis_cpu_us_per_job":45.2}"#;

    fn junction(process_per_second: f64, redis_cpu_us_per_job: Option<f64>) -> QueueFigure {
        QueueFigure {
            queue: "junction".into(),
            version: None,
            jobs: 20_000,
            concurrency: 50,
            enqueue_per_second: 80_123.6,
            process_per_second,
            redis_cpu_us_per_job,
        }
    }

    #[test]
    fn the_bullmq_line_is_found_after_other_output_and_read() {
        let stdout = format!("a notice from a dependency\n{BULLMQ}\n\n");
        let figure = QueueFigure::parse(&stdout).unwrap();
        assert_eq!(figure.queue, "bullmq");
        assert_eq!(figure.version.as_deref(), Some("6.7.6"));
        assert_eq!((figure.jobs, figure.concurrency), (20_000, 50));
        assert_eq!(figure.process_per_second, 23_000.4);
        assert_eq!(figure.redis_cpu_us_per_job, Some(45.2));
    }

    #[test]
    fn output_without_a_figure_or_with_an_empty_one_is_refused() {
        assert!(QueueFigure::parse("bullmq: only 10 of 20000 jobs ran\n").is_err());
        assert!(QueueFigure::parse("{\"queue\":\"bullmq\"}").is_err());
        let stalled = BULLMQ.replace("\"process_per_second\":23000.4", "\"process_per_second\":0");
        assert!(QueueFigure::parse(&stalled).is_err());
        // Redis's CPU may be missing (no redis-cli for Junction's figure).
        let unmeasured = BULLMQ.replace(
            "\"redis_cpu_us_per_job\":45.2",
            "\"redis_cpu_us_per_job\":null",
        );
        assert_eq!(
            QueueFigure::parse(&unmeasured)
                .unwrap()
                .redis_cpu_us_per_job,
            None
        );
    }

    #[test]
    fn the_comparison_gives_both_rates_their_redis_cpu_and_the_ratio() {
        let bullmq = QueueFigure::parse(BULLMQ).unwrap();
        let line = compare(&junction(46_001.0, Some(110.4)), &bullmq).unwrap();
        assert_eq!(
            line,
            "queue vs BullMQ: Junction 46,001 jobs/s (Redis CPU 110 µs/job), BullMQ 23,000 jobs/s (Redis CPU 45 µs/job), ratio 2.000 (20,000 no-op jobs at concurrency 50, processing; Redis CPU includes the enqueue; enqueue: Junction 80,124/s, BullMQ 6.7.6 addBulk 25,000/s)"
        );
        let slower = compare(&junction(7_500.0, None), &bullmq).unwrap();
        assert!(
            slower.contains("Junction 7,500 jobs/s (Redis CPU not measured)"),
            "{slower}"
        );
        assert!(slower.contains("ratio 0.326 "), "{slower}");
    }

    #[test]
    fn figures_of_different_work_are_not_compared() {
        let mut bullmq = QueueFigure::parse(BULLMQ).unwrap();
        bullmq.jobs = 5_000;
        assert!(compare(&junction(7_500.0, None), &bullmq).is_err());
        bullmq.jobs = 20_000;
        bullmq.concurrency = 10;
        assert!(compare(&junction(7_500.0, None), &bullmq).is_err());
    }

    #[test]
    fn node_versions_are_read() {
        assert_eq!(node_major("v20.20.2"), Some(20));
        assert_eq!(node_major("v18.19.0"), Some(18));
        assert_eq!(node_major("20.1.0"), None);
    }

    /// The lock pins the BullMQ that package.json names and, like browser-tests',
    /// holds no registry address (`omit-lockfile-registry-resolved`).
    #[test]
    fn the_bullmq_lock_pins_package_json_and_names_no_registry() {
        let dir = workspace_root().join("bench/bullmq");
        let read = |name: &str| -> serde_json::Value {
            serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
        };
        let (package, lock) = (read("package.json"), read("package-lock.json"));
        let pinned = package["dependencies"]["bullmq"].as_str().unwrap();
        assert!(pinned.starts_with("6."), "{pinned}");
        assert_eq!(lock["packages"]["node_modules/bullmq"]["version"], pinned);
        let packages = lock["packages"].as_object().unwrap();
        let resolved: Vec<&String> = packages
            .iter()
            .filter(|(_, entry)| entry.get("resolved").is_some())
            .map(|(name, _)| name)
            .collect();
        assert!(
            resolved.is_empty(),
            "registry addresses in the lock: {resolved:?}"
        );
    }
}
