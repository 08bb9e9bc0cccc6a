//! `cargo xtask new-provider --check`: the scaffold, generated and tested as a user
//! would, without touching the workspace.
//!
//! The workspace is copied (without `target/`, `.git` and `.demo`) to
//! `<target>/new-provider-check/workspace`; one provider per auth mode asked for is
//! scaffolded there by this binary's own `new-provider` command; then, with
//! `CARGO_TARGET_DIR=<target>/new-provider-check/target`, the scaffolds and the
//! registry they were registered in go through what CI asks of every crate:
//! `cargo fmt --check`, `cargo clippy --no-deps --all-targets --all-features -D
//! warnings` and `cargo test --all-features` (the conformance suite against the fake, the wiremock
//! tests, the registry's consistency tests).
//!
//! Both paths stay the same from run to run, and the copy keeps each file's
//! modification time, so the dependencies and the unchanged workspace crates are
//! compiled once: a later run compiles only the scaffolds and the registry.

use std::{
    path::Path,
    time::{Instant, SystemTime},
};

use anyhow::{Context, Result, bail};

use super::names::Auth;
use crate::{command, target_dir};

/// Top-level entries of the workspace the copy leaves out.
const LEFT_OUT: [&str; 3] = ["target", ".git", ".demo"];

/// Scaffolds a provider of each of `modes` into a scratch copy of the workspace at
/// `root` and tests them there.
pub fn check(root: &Path, modes: &[Auth]) -> Result<()> {
    let started = Instant::now();
    let base = target_dir()?.join("new-provider-check");
    let scratch = base.join("workspace");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)
            .with_context(|| format!("clearing {}", scratch.display()))?;
    }
    copy_dir(root, &scratch, true)?;
    eprintln!(
        "==> copied the workspace to {} ({:.1}s)",
        scratch.display(),
        started.elapsed().as_secs_f64()
    );
    let exe = std::env::current_exe().context("finding xtask's own binary")?;
    let mut packages = Vec::new();
    for auth in modes {
        let name = format!("scaffold-{}", auth.flag());
        let status = command(&exe.to_string_lossy())
            .args(["new-provider", &name, "--auth", auth.flag(), "--workspace"])
            .arg(&scratch)
            .status()
            .context("running new-provider")?;
        if !status.success() {
            bail!(
                "`cargo xtask new-provider {name} --auth {}` failed",
                auth.flag()
            );
        }
        packages.push(format!("junction-{name}"));
    }
    packages.push("junction-registry".to_owned());
    let selected: Vec<&str> = packages
        .iter()
        .flat_map(|package| ["-p", package.as_str()])
        .collect();
    let target = base.join("target");
    let cargo = |args: &[&str]| -> Result<()> {
        let step = Instant::now();
        eprintln!("==> cargo {}", args.join(" "));
        let status = command("cargo")
            .args(args)
            .current_dir(&scratch)
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .context("running cargo")?;
        if !status.success() {
            bail!(
                "`cargo {}` failed in the scratch workspace {} ({status})",
                args.join(" "),
                scratch.display()
            );
        }
        eprintln!("    done in {:.1}s", step.elapsed().as_secs_f64());
        Ok(())
    };
    cargo(&[&["fmt"], &selected[..], &["--", "--check"]].concat())?;
    cargo(
        &[
            &["clippy"],
            &selected[..],
            // The scaffolds and the registry alone: the rest of the workspace is
            // linted by `cargo xtask test`, and another crate's lint is no
            // scaffold's failure.
            &[
                "--no-deps",
                "--all-targets",
                "--all-features",
                "--",
                "-D",
                "warnings",
            ],
        ]
        .concat(),
    )?;
    cargo(&[&["test"], &selected[..], &["--all-features"]].concat())?;
    let flags: Vec<&str> = modes.iter().map(|auth| auth.flag()).collect();
    eprintln!(
        "new-provider --check: scaffolds of {} build, pass fmt, clippy -D warnings and their \
         conformance suites ({:.1}s)",
        flags.join(", "),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Copies `from` into `to`, keeping modification times (cargo then sees unchanged
/// sources as unchanged); at the top level, without [`LEFT_OUT`].
fn copy_dir(from: &Path, to: &Path, top: bool) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        if top && LEFT_OUT.iter().any(|left| name == *left) {
            continue;
        }
        let (source, copy) = (entry.path(), to.join(&name));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_dir(&source, &copy, false)?;
        } else if kind.is_file() {
            std::fs::copy(&source, &copy)
                .with_context(|| format!("copying {}", source.display()))?;
            let modified = entry.metadata()?.modified().unwrap_or(SystemTime::now());
            std::fs::File::options()
                .write(true)
                .open(&copy)
                .and_then(|file| file.set_modified(modified))
                .with_context(|| format!("dating {}", copy.display()))?;
        }
        // Symbolic links are left out: the workspace has none, and one pointing
        // outside would let the copy reach beyond the scratch folder.
    }
    Ok(())
}
