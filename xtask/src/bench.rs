//! `cargo xtask bench [queue|ingest|memory]`: the benchmarks (all three by default).
//!
//! Checks that the test Postgres and Redis answer, builds the release worker and the
//! application crate's `bench` example (which does the measuring: xtask stays free of the
//! project's crates, since it is compiled before every `cargo xtask test`), then runs
//! the example once per figure. Each figure prints one line; docs/benchmarks.md
//! records them with the machine they ran on. Nothing is installed: without
//! `redis-benchmark` the queue figure says so and prints its own rate alone.

use std::{process::Command, time::Instant};

use anyhow::{Context, Result, bail};

use crate::{check_services, command, workspace_root};

const FIGURES: [&str; 3] = ["queue", "ingest", "memory"];

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
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let program = target.join("release/examples/bench");
    for figure in figures {
        eprintln!("==> bench {figure}");
        // The figure's line goes straight to our stdout; progress to stderr.
        let status = Command::new(&program)
            .arg(figure)
            .current_dir(workspace_root())
            .status()
            .with_context(|| format!("cannot run {}", program.display()))?;
        if !status.success() {
            bail!("the {figure} benchmark failed ({status})");
        }
    }
    Ok(())
}

/// `cargo build --release` of the worker binary and the bench example, with the
/// environment a developer's own shell would give it.
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
