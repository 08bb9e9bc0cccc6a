//! `cargo xtask`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! - `cargo xtask test`: checks that the test services answer, then format check,
//!   clippy with `-D warnings` and the whole test suite (cargo-nextest when installed,
//!   else `cargo test`). The README's test command, and what `.ci/run` runs.
//!   Then the dashboard's browser tests (`cargo xtask browser`, see browser.rs).
//! - `cargo xtask browser`: the dashboard's browser tests alone: playwright-core
//!   (npm, pinned) driving the machine's Chromium against the running product.
//! - `cargo xtask services`: checks that the Postgres and Redis the tests use answer.
//! - `cargo xtask bench [queue|ingest|memory|webhook|api|scale]`: the benchmarks, the queue's beside
//!   BullMQ's (npm, pinned in `bench/bullmq/`) when Node.js is present (see bench.rs).
//! - `cargo xtask provider-lines`: code lines per provider crate (see lines.rs).
//! - `cargo xtask new-provider NAME --auth MODE`: scaffolds and registers a provider
//!   crate; `--check` tests the scaffold of every mode in a scratch copy (see
//!   new_provider.rs); `.ci/run` runs the check after `test`.
//! - `cargo xtask schemathesis`: schemathesis with all its default checks against a
//!   running API (see schemathesis.rs); `.ci/run` runs it after `test`.
//! - `cargo xtask deploy-check`: the image built with podman and the compose stack
//!   run against it (see deploy.rs); `.ci/run` runs it in its deploy step.
//! - `cargo xtask helm-check`: the Helm chart linted, rendered, validated against
//!   the Kubernetes schemas and held to its invariants, offline (see helm_check.rs).

use std::{
    net::{TcpStream, ToSocketAddrs},
    process::{Command, ExitCode},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

mod bench;
mod browser;
mod demo;
mod deploy;
mod helm_check;
mod lines;
mod new_provider;
mod schemathesis;
mod venv;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => check_services()
            .and_then(|()| test(&args[1..]))
            .and_then(|()| browser::browser()),
        Some("browser") => browser::browser(),
        Some("services") => check_services(),
        Some("bench") => bench::bench(&args[1..]),
        Some("demo") => demo::demo(),
        Some("provider-lines") => lines::provider_lines(),
        Some("new-provider") => new_provider::new_provider(&args[1..]),
        Some("schemathesis") => schemathesis::schemathesis(),
        Some("deploy-check") => deploy::deploy_check(&args[1..]),
        Some("helm-check") => helm_check::helm_check(),
        Some("openapi") => openapi(args.get(1).map(String::as_str) == Some("--check")),
        Some("help") | Some("--help") | Some("-h") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => {
            eprintln!("error: unknown task `{other}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  demo          run the whole product offline against the sandbox (Ctrl-C stops it)
  test [ARGS]   services check, fmt check, clippy -D warnings, whole test suite
                (ARGS go to the test runner), then the browser tests
  browser       the dashboard's browser tests: playwright-core (npm, pinned in
                browser-tests/) driving /usr/bin/chromium against sandbox, API and
                worker; screenshots in browser-tests/artifacts/
  services      check that the test Postgres and Redis answer
  bench [queue|ingest|memory|webhook|api|scale]
                release build, then the benchmarks (all by default;
                one line per figure, recorded in docs/benchmarks.md); the queue
                figure is followed by BullMQ's on the same Redis when Node.js 20+
                is present (npm, pinned in bench/bullmq/)
  schemathesis  schemathesis (PyPI, pinned in .ci/schemathesis-requirements.txt) with all
                its default checks against a running API; what CI runs after `test`
  helm-check    the Helm chart (deploy/helm/junction): helm lint --strict and helm
                template for the default, full and created-secrets values,
                kubernetes-validate --strict, and the chart's invariants (tools
                from PyPI, pinned in .ci/deploy-requirements.txt)
  provider-lines   code lines per provider crate: own (src/ without sandbox and
                tests), fake (src/sandbox/), tests; the table in adding-a-provider.md
  new-provider NAME --auth api-key|oauth2|basic|client-credentials
                scaffold crates/providers/NAME and docs/providers/NAME.md and register
                the crate (workspace, registry, sandbox); docs/adding-a-provider.md
  new-provider --check [--auth MODE]...   scaffold every mode into a scratch copy
                of the workspace and run fmt, clippy and the tests there (CI)
  deploy-check [--profile P] [--no-build]   build deploy/Dockerfile (cargo profile P,
                default release) with podman and run deploy/compose.yaml against
                the image: migrate, /readyz, a sandbox sync, a worker killed mid-sync,
                a Redis restart; what CI runs after schemathesis (.ci/containers.sh first)
  openapi       write docs/openapi.json from the API's annotations
  openapi --check   fail when docs/openapi.json differs from the generated document";

/// Variables `cargo run` sets for xtask itself. Handed on to an inner cargo they
/// become build-script inputs (ring's build script reruns when `CARGO_MANIFEST_DIR`
/// changes), so builds would start over from ring whenever `cargo xtask ...`
/// alternates with plain cargo commands.
const CARGO_RUN_VARIABLES: [&str; 5] = [
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
];

/// A command for `program` with the environment a developer's own shell would give
/// it: without the variables `cargo run` set for xtask.
pub(crate) fn command(program: &str) -> Command {
    let mut command = Command::new(program);
    for (key, _) in std::env::vars_os() {
        if let Some(key) = key.to_str()
            && (CARGO_RUN_VARIABLES.contains(&key) || key.starts_with("CARGO_PKG_"))
        {
            command.env_remove(key);
        }
    }
    command
}

/// Runs a command from the workspace root, failing with its name if it fails.
pub(crate) fn run(program: &str, args: &[&str]) -> Result<()> {
    let started = Instant::now();
    eprintln!("==> {program} {}", args.join(" "));
    let status = command(program)
        .args(args)
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("cannot run {program}"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    eprintln!("    done in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

pub(crate) fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| ".".into())
}

/// A command's standard output, trimmed; its standard error in the error.
pub(crate) fn output(command: &mut Command) -> Result<String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = command
        .output()
        .with_context(|| format!("running {program}"))?;
    if !output.status.success() {
        bail!(
            "{program} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Cargo's target directory (CARGO_TARGET_DIR and configuration included).
/// Builds the product's four binaries (the CLI, the API, the worker, the sandbox)
/// as the demo, the browser tests and schemathesis run them; returns the directory
/// holding them.
pub(crate) fn build_product() -> Result<std::path::PathBuf> {
    run(
        "cargo",
        &[
            "build",
            "--locked",
            "-p",
            "junction-cli",
            "-p",
            "junction-api",
            "-p",
            "junction-worker",
            "-p",
            "junction-sandbox-server",
        ],
    )?;
    Ok(target_dir()?.join("debug"))
}

pub(crate) fn target_dir() -> Result<std::path::PathBuf> {
    let metadata: serde_json::Value = serde_json::from_str(&output(
        command("cargo")
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .current_dir(workspace_root()),
    )?)?;
    metadata["target_directory"]
        .as_str()
        .map(std::path::PathBuf::from)
        .ok_or_else(|| anyhow::anyhow!("cargo metadata names no target directory"))
}

fn has_nextest() -> bool {
    command("cargo")
        .args(["nextest", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn test(extra: &[String]) -> Result<()> {
    run("cargo", &["fmt", "--all", "--", "--check"])?;
    run(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    if has_nextest() {
        let mut args = vec![
            "nextest",
            "run",
            "--workspace",
            "--locked",
            "--no-fail-fast",
        ];
        args.extend(&extra);
        // The project keeps examples in tests, not doctests (nextest does not run
        // doctests), so the runner's summary is the last line CI sees.
        run("cargo", &args)
    } else {
        let mut args = vec![
            "test",
            "--workspace",
            "--all-features",
            "--locked",
            "--no-fail-fast",
        ];
        args.extend(&extra);
        run("cargo", &args)
    }
}

/// Generates the OpenAPI document with `junction-api openapi` and writes or checks
/// the committed docs/openapi.json.
fn openapi(check: bool) -> Result<()> {
    let output = command("cargo")
        .args([
            "run",
            "--quiet",
            "--locked",
            "-p",
            "junction-api",
            "--",
            "openapi",
        ])
        .current_dir(workspace_root())
        .output()
        .context("cannot run junction-api")?;
    if !output.status.success() {
        bail!(
            "junction-api openapi failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let path = workspace_root().join("docs/openapi.json");
    if check {
        let committed = std::fs::read(&path).unwrap_or_default();
        if committed != output.stdout {
            bail!("docs/openapi.json is stale: run `cargo xtask openapi` and commit the result");
        }
        eprintln!("==> docs/openapi.json is current");
    } else {
        std::fs::write(&path, &output.stdout)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("==> wrote {}", path.display());
    }
    Ok(())
}

/// The host:port of a URL like `scheme://user:pw@host:port/...`.
fn host_port(url: &str, default_port: u16) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:{default_port}")
    }
}

pub(crate) fn reachable(addr: &str) -> bool {
    addr.to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok())
}

/// The Redis the tests and benchmarks use (the default is the one `.ci/run` starts).
pub(crate) fn test_redis_url() -> String {
    std::env::var("JUNCTION_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// `npm ci` in `dir` (with `env` added) when its `node_modules` is missing or older
/// than its `package-lock.json`; the lock pins every package, so an install is
/// the same wherever it runs.
pub(crate) fn npm_ci(dir: &std::path::Path, env: &[(&str, &str)]) -> Result<()> {
    let installed = dir.join("node_modules/.package-lock.json");
    let lock = dir.join("package-lock.json");
    let fresh = match (std::fs::metadata(&installed), std::fs::metadata(&lock)) {
        (Ok(installed), Ok(lock)) => installed.modified()? >= lock.modified()?,
        _ => false,
    };
    if fresh {
        return Ok(());
    }
    eprintln!("==> npm ci ({})", dir.display());
    let status = command("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .envs(env.iter().copied())
        .current_dir(dir)
        .status()
        .context("running npm (install Node.js 20+ and npm: `apt-get install -y nodejs npm`)")?;
    if !status.success() {
        bail!("npm ci failed in {}", dir.display());
    }
    Ok(())
}

pub(crate) fn check_services() -> Result<()> {
    let postgres = std::env::var("JUNCTION_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let redis = test_redis_url();
    let mut missing = Vec::new();
    for (name, addr) in [
        ("Postgres", host_port(&postgres, 5432)),
        ("Redis", host_port(&redis, 6379)),
    ] {
        if reachable(&addr) {
            eprintln!("==> {name} answers at {addr}");
        } else {
            missing.push(format!("{name} at {addr}"));
        }
    }
    if !missing.is_empty() {
        bail!(
            "not reachable: {} (`bash .ci/run` installs and starts them; or set JUNCTION_TEST_DATABASE_URL / JUNCTION_TEST_REDIS_URL)",
            missing.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_strips_credentials_and_paths() {
        assert_eq!(host_port("postgres://u:p@db:6543/x?a=b", 5432), "db:6543");
        assert_eq!(host_port("redis://127.0.0.1", 6379), "127.0.0.1:6379");
        assert_eq!(
            host_port("postgres://postgres@127.0.0.1/postgres", 5432),
            "127.0.0.1:5432"
        );
    }
}
