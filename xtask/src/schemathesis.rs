//! `cargo xtask schemathesis`: schemathesis against a running API, with all its
//! default checks, the way CI runs it (`.ci/run`, after `cargo xtask test`).
//!
//! - schemathesis comes from PyPI, every package pinned in
//!   `.ci/schemathesis-requirements.txt`, into a virtualenv under the user's cache
//!   directory (`junction/schemathesis-<version>`, see venv.rs), made again only
//!   when that file changes;
//! - the API runs as in demo mode: a fresh `junction_schemathesis` database on the
//!   test Postgres (`JUNCTION_TEST_DATABASE_URL`), migrated, one workspace whose API
//!   key schemathesis authenticates with, the test Redis, and junction-sandbox for
//!   every provider; both on free local ports, stopped afterwards;
//! - before schemathesis starts, the workspace is seeded through the API as a client
//!   would (`schemathesis/seed.rs`), a worker running meanwhile: Stripe integrations (one for
//!   DELETE alone), a Meta Ads one through the OAuth flow, a finished sync with its
//!   records and KPI points, an action run, a dead letter, a signed webhook delivery,
//!   alert rules and a webhook endpoint (the sync's end an event sent to it). The ids go to schemathesis in a `schemathesis.toml` beside the
//!   logs, per operation, so that `{id}` paths meet live resources of the right kind
//!   instead of answering 404 to random UUIDs; the few operations whose input only
//!   one provider's resource takes are kept off live ones (see `Seeded::config`);
//! - schemathesis reads the served `/openapi.json` and generates requests for every
//!   operation (`--max-examples` each, a fixed seed so a CI run can be repeated:
//!   `JUNCTION_SCHEMATHESIS_SEED` and `JUNCTION_SCHEMATHESIS_EXAMPLES` change them);
//! - the API's own request counter says how many requests it answered; fewer than
//!   [`MIN_REQUESTS`] fails the run, as does any failure schemathesis reports.
//!
//! Logs (the API's, the sandbox's, the seeding worker's), the configuration and a
//! JUnit report land in `<target>/schemathesis/`.

use std::{
    net::TcpListener,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

mod seed;

use crate::{
    check_services,
    demo::{Processes, spawn, wait_for},
    output, reachable,
    venv::Venv,
    workspace_root,
};

/// The pinned packages (the schemathesis pin names the version).
const REQUIREMENTS: &str = ".ci/schemathesis-requirements.txt";
const DATABASE: &str = "junction_schemathesis";
/// Fewer requests than this and the run proves too little.
const MIN_REQUESTS: u64 = 3_000;
const DEFAULT_SEED: &str = "1";
/// Examples per operation: about 3,700 requests, a minute or two here.
const DEFAULT_EXAMPLES: &str = "50";

pub fn schemathesis() -> Result<()> {
    check_services()?;
    let requirements = std::fs::read_to_string(workspace_root().join(REQUIREMENTS))
        .with_context(|| format!("reading {REQUIREMENTS}"))?;
    let version = requirements
        .lines()
        .find_map(|line| line.trim().strip_prefix("schemathesis=="))
        .ok_or_else(|| anyhow!("{REQUIREMENTS} does not pin schemathesis"))?
        .to_owned();
    let venv_name = format!("schemathesis-{version}");
    let venv = Venv {
        name: &venv_name,
        requirements: REQUIREMENTS,
        no_deps: false,
    };
    let st = venv.ensure(&["bin/st"], |_| Ok(()))?.join("bin/st");
    let debug = crate::build_product()?;
    let bin = |name: &str| debug.join(name);
    let target = crate::target_dir()?;
    let out = target.join("schemathesis");
    std::fs::create_dir_all(&out)?;

    let database_url = fresh_database(DATABASE)?;
    let keys = output(Command::new(bin("junction")).args(["keys", "generate", "--id", "st"]))?;
    let redis = crate::test_redis_url();
    let (api_addr, sandbox_addr) = (free_address()?, free_address()?);
    let (api_url, sandbox_url) = (
        format!("http://{api_addr}"),
        format!("http://{sandbox_addr}"),
    );
    let prefix = format!("junction-schemathesis-{}", std::process::id());
    let env = [
        ("DATABASE_URL", database_url.as_str()),
        ("JUNCTION_KEYS", keys.as_str()),
        ("REDIS_URL", redis.as_str()),
        ("JUNCTION_QUEUE_PREFIX", prefix.as_str()),
        ("JUNCTION_SANDBOX_URL", sandbox_url.as_str()),
        ("JUNCTION_BIND", api_addr.as_str()),
        ("JUNCTION_PUBLIC_URL", api_url.as_str()),
        ("JUNCTION_LOG", "warn"),
    ];
    output(Command::new(bin("junction")).arg("migrate").envs(env))?;
    let workspace: Value = serde_json::from_str(&output(
        Command::new(bin("junction"))
            .args(["workspace", "create", "Schemathesis", "--json"])
            .envs(env),
    )?)?;
    let api_key = workspace["api_key"]
        .as_str()
        .ok_or_else(|| anyhow!("no api_key in the CLI's output"))?
        .to_owned();

    let mut processes = Processes(Vec::new());
    processes.0.push(spawn(
        "junction-sandbox",
        bin("junction-sandbox"),
        &[("JUNCTION_SANDBOX_BIND", sandbox_addr.as_str())],
        &out.join("sandbox.log"),
    )?);
    wait_for(
        "junction-sandbox",
        || reachable(&sandbox_addr),
        Duration::from_secs(30),
    )?;
    processes.0.push(spawn(
        "junction-api",
        bin("junction-api"),
        &env,
        &out.join("api.log"),
    )?);
    wait_for(
        "junction-api (see target/schemathesis/api.log)",
        || reachable(&api_addr),
        Duration::from_secs(30),
    )?;

    // The worker runs only while the seeding does: what schemathesis queues stays
    // queued, so the run sees the same data however fast a job would have run.
    let worker = Processes(vec![spawn(
        "junction-worker",
        bin("junction-worker"),
        &[
            env.as_slice(),
            &[
                ("JUNCTION_WORKER__METRICS_BIND", ""),
                ("JUNCTION_WORKER__POLL_INTERVAL_MS", "50"),
            ],
        ]
        .concat(),
        &out.join("worker.log"),
    )?]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let seeding = Instant::now();
    let seeded = runtime.block_on(seed::seed(&seed::Target {
        api: &api_url,
        sandbox: &sandbox_url,
        api_key: &api_key,
    }))?;
    drop(worker);
    let config = out.join("schemathesis.toml");
    eprintln!(
        "==> seeded the workspace in {:.1}s (the ids are in {})",
        seeding.elapsed().as_secs_f64(),
        config.display()
    );
    std::fs::write(&config, seeded.config())
        .with_context(|| format!("writing {}", config.display()))?;

    let seed = std::env::var("JUNCTION_SCHEMATHESIS_SEED").unwrap_or_else(|_| DEFAULT_SEED.into());
    let examples =
        std::env::var("JUNCTION_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| DEFAULT_EXAMPLES.into());
    let before = answered(&api_url)?;
    let started = Instant::now();
    eprintln!("==> schemathesis {version} (seed {seed}, {examples} examples per operation)");
    let authorization = format!("Authorization: Bearer {api_key}");
    let report = out.join("report");
    let status = Command::new(&st)
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("{api_url}/openapi.json")])
        .args(["--header", &authorization])
        .args(["--max-examples", &examples, "--seed", &seed])
        .args(["--generation-database", "none", "--no-color"])
        .args(["--report", "junit", "--report-dir"])
        .arg(&report)
        .current_dir(&out)
        .status()
        .with_context(|| format!("running {}", st.display()))?;
    let elapsed = started.elapsed();
    let requests = answered(&api_url)?.saturating_sub(before);
    drop(processes);
    eprintln!(
        "==> schemathesis {version}: {requests} requests answered in {:.1}s, {}",
        elapsed.as_secs_f64(),
        if status.success() {
            "0 failures"
        } else {
            "failures (above)"
        }
    );
    if !status.success() {
        bail!(
            "schemathesis found failures ({status}); logs in {}",
            out.display()
        );
    }
    if requests < MIN_REQUESTS {
        bail!("schemathesis made {requests} requests, fewer than the {MIN_REQUESTS} a run needs");
    }
    Ok(())
}

/// A fresh database named `name` on the test server (dropped first when it
/// exists); its URL. Schemathesis and the browser tests each run on one.
pub(crate) fn fresh_database(name: &str) -> Result<String> {
    let base = admin_database_url();
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        output(Command::new("psql").args([&base, "-qc", &sql]))?;
    }
    match base.rsplit_once('/') {
        Some((server, _)) => Ok(format!("{server}/{name}")),
        None => bail!("JUNCTION_TEST_DATABASE_URL has no database part"),
    }
}

/// The test Postgres's maintenance database, where databases are made and dropped.
pub(crate) fn admin_database_url() -> String {
    std::env::var("JUNCTION_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A local address nothing listens on now.
pub(crate) fn free_address() -> Result<String> {
    Ok(format!("127.0.0.1:{}", free_port()?))
}

/// A loopback port nothing listens on now.
pub(crate) fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// How many requests the API has answered, by its own counter (operational routes
/// and the document left out).
fn answered(api_url: &str) -> Result<u64> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let text = runtime.block_on(async {
        reqwest::get(format!("{api_url}/metrics"))
            .await?
            .error_for_status()?
            .text()
            .await
    })?;
    Ok(count_requests(&text))
}

/// Sums `junction_http_requests_total` over the API's routes.
fn count_requests(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|line| line.starts_with("junction_http_requests_total{"))
        .filter(|line| {
            !["/metrics", "/openapi.json", "/healthz", "/readyz"]
                .iter()
                .any(|route| line.contains(&format!("route=\"{route}\"")))
        })
        .filter_map(|line| line.rsplit_once(' '))
        .filter_map(|(_, value)| value.parse::<f64>().ok())
        .map(|value| value as u64)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_from_the_api_counter() {
        let metrics = "# TYPE junction_http_requests_total counter\n\
            junction_http_requests_total{method=\"GET\",route=\"/v1/integrations\",status=\"200\"} 12\n\
            junction_http_requests_total{method=\"POST\",route=\"unmatched\",status=\"405\"} 3\n\
            junction_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"200\"} 9\n\
            junction_http_request_duration_seconds_count{method=\"GET\",route=\"/v1/integrations\"} 12\n";
        assert_eq!(count_requests(metrics), 15);
    }

    #[test]
    fn the_requirements_pin_schemathesis_and_every_package() {
        let requirements = std::fs::read_to_string(workspace_root().join(REQUIREMENTS)).unwrap();
        let pins = crate::venv::pinned_lines(&requirements);
        assert!(pins.iter().any(|line| line.starts_with("schemathesis==")));
        assert!(pins.iter().all(|line| line.contains("==")), "{pins:?}");
    }
}
