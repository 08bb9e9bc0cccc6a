//! `cargo xtask browser`: the dashboard's browser tests (`browser-tests/`), which
//! `cargo xtask test` runs after the Rust tests.
//!
//! - playwright-core comes from npm, pinned in `browser-tests/package-lock.json`,
//!   installed with `npm ci` when `node_modules` is missing or older than the lock
//!   (`PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1`: nothing downloads a browser);
//! - the browser is the machine's Chromium (`/usr/bin/chromium`, or `CHROMIUM_PATH`;
//!   `.ci/run` installs Debian's);
//! - the product runs as the demo runs it ([`crate::demo::start_stack`]):
//!   junction-sandbox, junction-api and junction-worker on free local ports, a fresh
//!   `junction_browser_<pid>` database on the test Postgres (dropped after), the
//!   test Redis under a queue prefix of its own, one workspace whose API key the
//!   tests sign in with;
//! - `node --test` then runs `browser-tests/dashboard.test.mjs` (the dashboard) and
//!   `browser-tests/connect.test.mjs` (the Connect UI, which also gets
//!   `DATABASE_URL` to expire a connect session with psql), one file at a time:
//!   they share the workspace.
//!
//! Screenshots of every page land in `browser-tests/artifacts/` (gitignored), the
//! processes' logs in `<target>/browser-tests/`.

use std::{path::Path, process::Command, time::Instant};

use anyhow::{Context, Result, bail};

use crate::{
    check_services, command,
    demo::start_stack,
    schemathesis::{free_address, fresh_database},
    workspace_root,
};

const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";

pub fn browser() -> Result<()> {
    check_services()?;
    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| DEFAULT_CHROMIUM.into());
    if !Path::new(&chromium).exists() {
        bail!(
            "no Chromium at {chromium}: `apt-get install -y chromium` (or set CHROMIUM_PATH); the browser tests never download one"
        );
    }
    let dir = workspace_root().join("browser-tests");
    crate::npm_ci(&dir, &[("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")])?;
    let debug = crate::build_product()?;
    let bin = |name: &str| debug.join(name);
    let target = crate::target_dir()?;
    let logs = target.join("browser-tests");
    std::fs::create_dir_all(&logs)?;
    // A database and queue prefix of this run's own: two runs on one machine (two
    // checkouts) must not drop each other's database or take each other's jobs.
    let database = format!("junction_browser_{}", std::process::id());
    let database_url = fresh_database(&database)?;
    let keys =
        crate::output(Command::new(bin("junction")).args(["keys", "generate", "--id", "browser"]))?;
    let redis = crate::test_redis_url();
    let (api_addr, sandbox_addr) = (free_address()?, free_address()?);
    let (api_url, sandbox_url) = (
        format!("http://{api_addr}"),
        format!("http://{sandbox_addr}"),
    );
    let prefix = format!("junction-browser-{}", std::process::id());
    let env = [
        ("DATABASE_URL", database_url.as_str()),
        ("JUNCTION_KEYS", keys.as_str()),
        ("REDIS_URL", redis.as_str()),
        ("JUNCTION_QUEUE_PREFIX", prefix.as_str()),
        ("JUNCTION_SANDBOX_URL", sandbox_url.as_str()),
        ("JUNCTION_BIND", api_addr.as_str()),
        ("JUNCTION_PUBLIC_URL", api_url.as_str()),
        ("JUNCTION_WORKER__METRICS_BIND", ""),
        ("JUNCTION_WORKER__POLL_INTERVAL_MS", "50"),
        ("JUNCTION_WORKER__SCHEDULER_INTERVAL_SECONDS", "5"),
        ("JUNCTION_LOG", "info"),
    ];
    crate::output(Command::new(bin("junction")).arg("migrate").envs(env))?;
    let stack = start_stack(&bin, &env, &sandbox_addr, &api_addr, &logs, "Browser tests")?;
    let artifacts = dir.join("artifacts");
    std::fs::create_dir_all(&artifacts)?;
    let started = Instant::now();
    eprintln!(
        "==> node --test browser-tests/dashboard.test.mjs connect.test.mjs (Chromium at {chromium})"
    );
    let status = command("node")
        .args([
            "--test",
            "--test-reporter=spec",
            "--test-concurrency=1",
            "dashboard.test.mjs",
            "connect.test.mjs",
        ])
        .env("DATABASE_URL", &database_url)
        .env("JUNCTION_URL", &api_url)
        .env("JUNCTION_API_KEY", &stack.api_key)
        .env("SANDBOX_URL", &sandbox_url)
        .env("ARTIFACTS", &artifacts)
        .env("CHROMIUM_PATH", &chromium)
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .current_dir(&dir)
        .status()
        .context("running node")?;
    drop(stack.processes);
    drop_database(&database);
    eprintln!(
        "    browser tests done in {:.1}s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        artifacts.display()
    );
    if !status.success() {
        bail!(
            "the browser tests failed ({status}); logs in {}, screenshots in {}",
            logs.display(),
            artifacts.display()
        );
    }
    Ok(())
}

/// Drops the run's database once its processes are gone (best effort: a database
/// left behind is dropped by the next run of the same process id, or by hand).
fn drop_database(name: &str) {
    let base = crate::schemathesis::admin_database_url();
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    if let Err(error) = crate::output(Command::new("psql").args([&base, "-qc", &sql])) {
        eprintln!("    could not drop {name}: {error:#}");
    }
}
