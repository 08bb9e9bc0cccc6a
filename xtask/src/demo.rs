//! `cargo xtask demo`: the whole product, offline, against the sandbox.
//!
//! Starts Postgres and Redis when they are not reachable (from the machine's
//! packages), builds the binaries, migrates a `junction_demo` database, starts
//! junction-sandbox, junction-api and junction-worker, creates a demo workspace,
//! connects every provider entry the sandbox's catalog (`GET /_sandbox/catalog`) lists
//! with the values it gives (API keys through `POST /v1/integrations`, OAuth entries
//! through the real OAuth flow), runs each one's first sync, prints the API key,
//! the URLs (the dashboard's too) and a one-time dashboard sign-in link, and stops
//! everything on Ctrl-C. [`start_stack`] is how the browser tests start the product
//! too.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

use crate::{reachable, workspace_root};

const API: &str = "127.0.0.1:8080";
const SANDBOX: &str = "127.0.0.1:8090";
const WORKER_METRICS: &str = "127.0.0.1:9090";
const DATABASE: &str = "junction_demo";

/// Child processes, stopped (SIGTERM, then SIGKILL after a grace period) when dropped.
pub(crate) struct Processes(pub(crate) Vec<(&'static str, Child)>);

impl Drop for Processes {
    fn drop(&mut self) {
        for (name, child) in self.0.iter_mut().rev() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
            }
            let _ = child.wait();
            eprintln!("==> stopped {name}");
        }
    }
}

fn demo_dir() -> PathBuf {
    workspace_root().join(".demo")
}

/// Starts Postgres and Redis from the machine's packages when they are not up.
fn ensure_services() -> Result<()> {
    if !reachable("127.0.0.1:5432") {
        let versions = std::fs::read_dir("/etc/postgresql").ok().and_then(|dir| {
            let mut names: Vec<String> = dir
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names.pop()
        });
        match versions {
            Some(version) => {
                eprintln!("==> starting PostgreSQL {version}");
                let _ = Command::new("pg_ctlcluster")
                    .args(["--skip-systemctl-redirect", &version, "main", "start"])
                    .status();
            }
            None => bail!(
                "PostgreSQL is not running on 127.0.0.1:5432 and not installed: `apt-get install -y postgresql` (or set DATABASE_URL to one that is)"
            ),
        }
    }
    if !reachable("127.0.0.1:6379") {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            bail!(
                "Redis is not running on 127.0.0.1:6379 and not installed: `apt-get install -y redis-server`"
            );
        }
        eprintln!(
            "==> starting Redis (append-only file in .demo/redis, so queued jobs survive a restart)"
        );
        let dir = demo_dir().join("redis");
        std::fs::create_dir_all(&dir)?;
        let status = Command::new("redis-server")
            .args([
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "--port",
                "6379",
                "--appendonly",
                "yes",
                "--dir",
            ])
            .arg(&dir)
            .status()?;
        if !status.success() {
            bail!("redis-server failed to start");
        }
    }
    wait_for(
        "PostgreSQL",
        || reachable("127.0.0.1:5432"),
        Duration::from_secs(30),
    )?;
    wait_for(
        "Redis",
        || reachable("127.0.0.1:6379"),
        Duration::from_secs(30),
    )
}

pub(crate) fn wait_for(what: &str, ready: impl Fn() -> bool, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if ready() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("{what} did not come up within {}s", timeout.as_secs())
}

/// The demo database URL: DATABASE_URL when set, else junction_demo on the local
/// server (created when missing).
fn database_url() -> Result<String> {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        return Ok(url);
    }
    let base = std::env::var("JUNCTION_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let exists = Command::new("psql")
        .args([
            &base,
            "-Atc",
            &format!("SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"),
        ])
        .output()
        .context("running psql (install postgresql-client, or set DATABASE_URL)")?;
    if !exists.status.success() {
        bail!(
            "cannot query Postgres at {base}: {}",
            String::from_utf8_lossy(&exists.stderr).trim()
        );
    }
    if String::from_utf8_lossy(&exists.stdout).trim() != "1" {
        let created = Command::new("psql")
            .args([&base, "-qc", &format!("CREATE DATABASE {DATABASE}")])
            .status()?;
        if !created.success() {
            bail!("cannot create the {DATABASE} database");
        }
    }
    Ok(match base.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{DATABASE}"),
        None => bail!("JUNCTION_TEST_DATABASE_URL has no database part"),
    })
}

/// A debug binary of the workspace, where cargo builds it (CARGO_TARGET_DIR too).
fn binary(name: &str) -> PathBuf {
    crate::target_dir()
        .unwrap_or_else(|_| workspace_root().join("target"))
        .join("debug")
        .join(name)
}

/// The demo key ring, made once and kept in .demo/keys (the demo's credentials must
/// open again on the next run).
fn key_ring() -> Result<String> {
    let path = demo_dir().join("keys");
    if let Ok(keys) = std::fs::read_to_string(&path) {
        return Ok(keys.trim().to_owned());
    }
    let output = Command::new(binary("junction"))
        .args(["keys", "generate", "--id", "demo"])
        .output()?;
    if !output.status.success() {
        bail!("junction keys generate failed");
    }
    let keys = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    std::fs::create_dir_all(demo_dir())?;
    std::fs::write(&path, &keys)?;
    Ok(keys)
}

/// What [`start_stack`] started: the processes (stopped when dropped) and the
/// workspace it created.
pub(crate) struct Stack {
    pub(crate) processes: Processes,
    pub(crate) workspace_id: String,
    pub(crate) api_key: String,
}

/// Starts junction-sandbox on `sandbox`, junction-api on `api` and junction-worker
/// (logs `sandbox.log`, `api.log`, `worker.log` in `logs`) with `env`, on a migrated
/// database, and creates a workspace named `name` with the CLI. The demo and the
/// browser tests start the product this one way.
pub(crate) fn start_stack(
    bin: &dyn Fn(&str) -> PathBuf,
    env: &[(&str, &str)],
    sandbox: &str,
    api: &str,
    logs: &std::path::Path,
    name: &str,
) -> Result<Stack> {
    let mut processes = Processes(Vec::new());
    processes.0.push(spawn(
        "junction-sandbox",
        bin("junction-sandbox"),
        &[("JUNCTION_SANDBOX_BIND", sandbox)],
        &logs.join("sandbox.log"),
    )?);
    wait_for(
        "junction-sandbox",
        || reachable(sandbox),
        Duration::from_secs(30),
    )?;
    processes.0.push(spawn(
        "junction-api",
        bin("junction-api"),
        env,
        &logs.join("api.log"),
    )?);
    wait_for(
        &format!("junction-api (see {})", logs.join("api.log").display()),
        || reachable(api),
        Duration::from_secs(30),
    )?;
    processes.0.push(spawn(
        "junction-worker",
        bin("junction-worker"),
        env,
        &logs.join("worker.log"),
    )?);
    let created = Command::new(bin("junction"))
        .args(["workspace", "create", name, "--json"])
        .envs(env.iter().copied())
        .output()?;
    if !created.status.success() {
        bail!(
            "junction workspace create failed: {}",
            String::from_utf8_lossy(&created.stderr).trim()
        );
    }
    let workspace: Value = serde_json::from_slice(&created.stdout)?;
    let field = |name: &str| {
        workspace[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("no {name} in the CLI's output"))
    };
    Ok(Stack {
        workspace_id: field("workspace_id")?,
        api_key: field("api_key")?,
        processes,
    })
}

/// A one-time dashboard sign-in link for the workspace (`junction dashboard-link`).
fn sign_in_link(
    bin: &dyn Fn(&str) -> PathBuf,
    env: &[(&str, &str)],
    workspace_id: &str,
) -> Result<String> {
    let printed: Value = serde_json::from_str(&crate::output(
        Command::new(bin("junction"))
            .args(["dashboard-link", "--workspace", workspace_id, "--json"])
            .envs(env.iter().copied()),
    )?)?;
    printed["url"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no url in the CLI's output: {printed}"))
}

/// Starts `program` with `env`, its stderr in the file `log`.
pub(crate) fn spawn(
    name: &'static str,
    program: PathBuf,
    env: &[(&str, &str)],
    log: &std::path::Path,
) -> Result<(&'static str, Child)> {
    let log_file =
        std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let mut command = Command::new(&program);
    command.stdout(Stdio::null()).stderr(log_file);
    for (key, value) in env {
        command.env(key, value);
    }
    let child = command
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    Ok((name, child))
}

pub fn demo() -> Result<()> {
    std::fs::create_dir_all(demo_dir())?;
    ensure_services()?;
    crate::build_product()?;
    let database_url = database_url()?;
    let keys = key_ring()?;
    let env = [
        ("DATABASE_URL", database_url.as_str()),
        ("JUNCTION_KEYS", keys.as_str()),
        ("REDIS_URL", "redis://127.0.0.1:6379"),
        ("JUNCTION_QUEUE_PREFIX", "junction-demo"),
        ("JUNCTION_SANDBOX_URL", "http://127.0.0.1:8090"),
        ("JUNCTION_BIND", API),
        ("JUNCTION_PUBLIC_URL", "http://127.0.0.1:8080"),
        ("JUNCTION_WORKER__METRICS_BIND", WORKER_METRICS),
        ("JUNCTION_WORKER__SCHEDULER_INTERVAL_SECONDS", "5"),
        ("JUNCTION_LOG", "info"),
    ];
    let migrated = Command::new(binary("junction"))
        .arg("migrate")
        .envs(env)
        .status()?;
    if !migrated.success() {
        bail!("junction migrate failed");
    }
    for (name, addr) in [
        ("junction-sandbox", SANDBOX),
        ("junction-api", API),
        ("junction-worker metrics", WORKER_METRICS),
    ] {
        if reachable(addr) {
            bail!("{addr} is taken ({name} of another demo still running?): stop it first");
        }
    }
    let stack = start_stack(&binary, &env, SANDBOX, API, &demo_dir(), "Demo")?;
    let processes = stack.processes;
    let workspace_id = stack.workspace_id;
    let api_key = stack.api_key;
    let link = sign_in_link(&binary, &env, &workspace_id)?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let connected = runtime.block_on(connect_and_sync(&api_key))?;

    println!();
    println!("Junction demo is running (offline, against the sandbox). Ctrl-C stops it.");
    println!();
    println!("  workspace   {workspace_id}");
    println!("  API key     {api_key}");
    println!("  dashboard   http://{API}/dashboard/   (sign in with the API key)");
    println!("  sign-in     {link}");
    println!(
        "              (a one-time link: `junction dashboard-link --workspace {workspace_id}` prints another)"
    );
    println!("  API         http://{API}/v1   (Swagger UI: http://{API}/docs/)");
    println!("  sandbox     http://{SANDBOX}/");
    println!("  metrics     http://{API}/metrics, http://{WORKER_METRICS}/metrics");
    println!("  logs        .demo/api.log, .demo/worker.log, .demo/sandbox.log");
    println!();
    println!("  connected (integration id, first sync):");
    for line in &connected {
        println!("    {line}");
    }
    println!();
    println!("  curl -s http://{API}/v1/integrations -H 'Authorization: Bearer {api_key}'");
    println!(
        "  curl -s 'http://{API}/v1/kpis?metric=sessions&granularity=week' -H 'Authorization: Bearer {api_key}'"
    );
    println!();

    wait_for_ctrl_c(&runtime);
    eprintln!("==> stopping");
    drop(processes);
    Ok(())
}

fn wait_for_ctrl_c(runtime: &tokio::runtime::Runtime) {
    runtime.block_on(async {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match terminate.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending::<()>().await } } => {}
        }
    });
}

/// The catalog is read over HTTP, as any client would, so the demo knows no
/// provider's credentials or settings itself.
async fn connect_and_sync(api_key: &str) -> Result<Vec<String>> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let api = format!("http://{API}");
    let mut runs = Vec::new();
    for entry in catalog(&http, &format!("http://{SANDBOX}")).await? {
        let (name, integration) = connect_entry(&http, &api, api_key, &entry).await?;
        let run_id = request_sync(&http, &api, api_key, &integration).await?;
        runs.push((name, integration, run_id));
    }
    let mut lines = Vec::new();
    for (name, integration, run_id) in runs {
        let run = wait_for_run(&http, &api, api_key, &run_id)
            .await
            .context("see .demo/worker.log")?;
        lines.push(format!(
            "{name:<19} {integration}  first sync: {} records, {} KPI points",
            run["records_written"], run["kpi_points_written"]
        ));
    }
    Ok(lines)
}

/// The entries of the sandbox's catalog (`GET {sandbox}/_sandbox/catalog`).
pub(crate) async fn catalog(http: &reqwest::Client, sandbox: &str) -> Result<Vec<Value>> {
    let catalog: Value = http
        .get(format!("{sandbox}/_sandbox/catalog"))
        .send()
        .await?
        .error_for_status()
        .context("reading the sandbox's catalog")?
        .json()
        .await?;
    catalog["providers"]
        .as_array()
        .filter(|entries| !entries.is_empty())
        .cloned()
        .ok_or_else(|| anyhow!("the sandbox's catalog lists no provider: {catalog}"))
}

/// Connects one catalog entry with the values it gives: an entry with an OAuth
/// client through the flow, the others with their credentials. Returns the
/// entry's name and the new integration's id.
pub(crate) async fn connect_entry(
    http: &reqwest::Client,
    api: &str,
    api_key: &str,
    entry: &Value,
) -> Result<(String, String)> {
    let provider = entry["provider"]
        .as_str()
        .ok_or_else(|| anyhow!("a catalog entry without a provider: {entry}"))?;
    let name = entry["name"].as_str().unwrap_or(provider).to_owned();
    let config = entry["config"].clone();
    let integration = if entry["oauth"].is_object() {
        connect_oauth(http, api, api_key, provider, &name, config).await?
    } else {
        let created: Value = http
            .post(format!("{api}/v1/integrations"))
            .bearer_auth(api_key)
            .json(&json!({
                "provider": provider,
                "display_name": format!("Demo {name}"),
                "config": config,
                "credentials": entry["credentials"],
            }))
            .send()
            .await?
            .error_for_status()
            .with_context(|| format!("connecting {name}"))?
            .json()
            .await?;
        created["id"]
            .as_str()
            .ok_or_else(|| anyhow!("no integration id for {name}: {created}"))?
            .to_owned()
    };
    Ok((name, integration))
}

/// Asks for a sync of an integration; returns the run's id.
pub(crate) async fn request_sync(
    http: &reqwest::Client,
    api: &str,
    api_key: &str,
    integration: &str,
) -> Result<String> {
    let sync: Value = http
        .post(format!("{api}/v1/integrations/{integration}/sync"))
        .bearer_auth(api_key)
        .send()
        .await?
        .error_for_status()
        .with_context(|| format!("requesting a sync of {integration}"))?
        .json()
        .await?;
    Ok(sync["run_id"]
        .as_str()
        .ok_or_else(|| anyhow!("no run_id in {sync}"))?
        .to_owned())
}

/// Connects an OAuth provider through the sandbox's authorization server; returns
/// the integration id.
async fn connect_oauth(
    http: &reqwest::Client,
    api: &str,
    api_key: &str,
    provider: &str,
    name: &str,
    config: Value,
) -> Result<String> {
    let started: Value = http
        .post(format!("{api}/v1/connect/{provider}"))
        .bearer_auth(api_key)
        .json(&json!({"display_name": format!("Demo {name}"), "config": config}))
        .send()
        .await?
        .error_for_status()
        .with_context(|| format!("starting the {name} connection"))?
        .json()
        .await?;
    let authorize = started["authorize_url"]
        .as_str()
        .ok_or_else(|| anyhow!("no authorize_url"))?;
    let consent = http
        .get(format!("{authorize}&decision=approve"))
        .send()
        .await?;
    let callback = consent
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| anyhow!("the sandbox did not redirect back"))?
        .to_owned();
    let outcome: Value = http.get(&callback).send().await?.json().await?;
    Ok(outcome["integration_id"]
        .as_str()
        .ok_or_else(|| anyhow!("the {name} OAuth callback failed: {outcome}"))?
        .to_owned())
}

/// Waits up to three minutes for a run to succeed; returns the run. A run that
/// fails is an error.
pub(crate) async fn wait_for_run(
    http: &reqwest::Client,
    api: &str,
    api_key: &str,
    run_id: &str,
) -> Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let run: Value = http
            .get(format!("{api}/v1/runs/{run_id}"))
            .bearer_auth(api_key)
            .send()
            .await?
            .json()
            .await?;
        match run["status"].as_str() {
            Some("succeeded") => return Ok(run),
            Some("failed") | Some("dead") => {
                bail!("sync run {run_id} failed: {}", run["error_message"])
            }
            _ if Instant::now() > deadline => {
                bail!("sync run {run_id} did not finish within 3 minutes")
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}
