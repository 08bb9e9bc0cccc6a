//! `cargo xtask new-provider NAME --auth api-key|oauth2|basic|client-credentials`:
//! scaffolds a provider crate and registers it, so that it builds, passes clippy and
//! rustfmt, and passes its conformance suite as generated.
//!
//! It writes `crates/providers/NAME` (package `junction-NAME`: the spec, the API's
//! description for the toolkit, an adapter with one stream, a sandbox fake on the
//! toolkit's fake scaffolding, a conformance test and a wiremock test) and
//! `docs/providers/NAME.md`, from the templates in `xtask/templates/provider/`
//! (askama, rendered into this binary). Then it registers the crate: a workspace
//! member and dependency in `Cargo.toml`, a default feature, the `sandbox` feature
//! and an optional dependency in `crates/registry/Cargo.toml`, and an entry in
//! `Registry::builtin()` and `fakes()` (so the sandbox mounts the fake and its
//! catalog lists the entry). Each edit is an insertion beside its kind, skipped when
//! present (see [`register`]). docs/adding-a-provider.md starts from here.
//!
//! `cargo xtask new-provider --check [--auth MODE]...` scaffolds one provider per auth
//! mode (all four by default) into a scratch copy of the workspace and runs rustfmt,
//! clippy and the tests there (see [`check`]); `.ci/run` runs it after the test suite.
//! The copy is scaffolded by this same command with `--workspace DIR`, which points
//! it at a workspace other than the one xtask was built in.

mod check;
mod names;
mod register;
mod render;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use crate::{command, workspace_root};

use names::{Auth, Names};

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Task {
    /// Scaffold `name` into the workspace at `root`.
    New {
        name: String,
        auth: Auth,
        root: PathBuf,
    },
    /// Scaffold one provider of each mode into a scratch copy and test them.
    Check { modes: Vec<Auth> },
}

/// How to call it, appended to the errors of a wrong command line (one line each).
const USAGE: &str = "usage: cargo xtask new-provider NAME --auth \
     api-key|oauth2|basic|client-credentials, or --check [--auth MODE]...";

pub fn new_provider(args: &[String]) -> Result<()> {
    match parse(args)? {
        Task::New { name, auth, root } => {
            let names = Names::new(&name, auth)?;
            generate(&root, &names)
        }
        Task::Check { modes } => check::check(&workspace_root(), &modes),
    }
}

fn parse(args: &[String]) -> Result<Task> {
    let mut name = None;
    let mut modes = Vec::new();
    let mut root = None;
    let mut check = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| anyhow!("{flag} needs a value; {USAGE}"))
        };
        match arg.as_str() {
            "--auth" => modes.push(Auth::parse(&value("--auth")?)?),
            "--workspace" => root = Some(PathBuf::from(value("--workspace")?)),
            "--check" => check = true,
            flag if flag.starts_with("--auth=") => {
                modes.push(Auth::parse(&flag["--auth=".len()..])?);
            }
            flag if flag.starts_with('-') => bail!("unknown option `{flag}`; {USAGE}"),
            _ if name.is_some() => bail!("one NAME only; {USAGE}"),
            _ => name = Some(arg.clone()),
        }
    }
    if check {
        if name.is_some() || root.is_some() {
            bail!("--check scaffolds its own providers; {USAGE}");
        }
        if modes.is_empty() {
            modes = Auth::ALL.to_vec();
        }
        return Ok(Task::Check { modes });
    }
    let name = name.ok_or_else(|| anyhow!("NAME is missing; {USAGE}"))?;
    let auth = match modes.as_slice() {
        [auth] => *auth,
        [] => bail!("--auth is missing; {USAGE}"),
        _ => bail!("one --auth only; {USAGE}"),
    };
    let root = root.unwrap_or_else(workspace_root);
    Ok(Task::New { name, auth, root })
}

/// Writes the crate and the docs page of `names` into the workspace at `root` and
/// registers the crate, saying what it did.
fn generate(root: &Path, names: &Names) -> Result<()> {
    register::check_anchors(root)?;
    names.check_free(root)?;
    let files = render::files(names)?;
    for (path, _) in &files {
        if root.join(path).exists() {
            bail!("`{}` exists: {path} is already there", names.id);
        }
    }
    // Worked out before anything is written: a registry the tool cannot edit stops
    // it with the workspace untouched.
    let registration = register::plan(root, names)?;
    println!(
        "new-provider: {} (package {}, --auth {})",
        names.id,
        names.package,
        names.auth.flag()
    );
    for (path, text) in &files {
        let path_in_root = root.join(path);
        if let Some(dir) = path_in_root.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path_in_root, text).with_context(|| format!("writing {path}"))?;
        println!("  created {path}");
    }
    format(root, &files);
    registration.write()?;
    for done in &registration.done {
        let verb = if done.changed {
            "added"
        } else {
            "kept (already there)"
        };
        println!("  {}: {verb} {}", done.file, done.what);
    }
    println!(
        "next:\n  cargo test -p {} --features sandbox   # the conformance suite, green as \
         generated\n  then docs/adding-a-provider.md, from \"Describe the API\" on: replace the \
         placeholders (host, auth, errors, paging, the `items` stream) with the provider's own",
        names.package
    );
    Ok(())
}

/// Runs rustfmt over the generated Rust files, so they read as the rest of the tree
/// whatever the templates' whitespace. Without rustfmt the files stay as rendered.
fn format(root: &Path, files: &[(String, String)]) {
    let rust: Vec<PathBuf> = files
        .iter()
        .filter(|(path, _)| path.ends_with(".rs"))
        .map(|(path, _)| root.join(path))
        .collect();
    let formatted = command("rustfmt")
        .args(["--edition", "2024"])
        .args(&rust)
        .status();
    if !formatted.is_ok_and(|status| status.success()) {
        eprintln!("warning: rustfmt did not run; run `cargo fmt` before committing");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|arg| (*arg).to_owned()).collect()
    }

    /// A scratch folder holding the files a registration edits, as they are in the
    /// workspace now, so a change of their layout that the tool cannot follow fails
    /// here rather than at a user's first scaffold.
    fn scratch_workspace(name: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for file in [
            "Cargo.toml",
            "crates/registry/Cargo.toml",
            "crates/registry/src/lib.rs",
        ] {
            let copy = root.join(file);
            std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
            std::fs::copy(workspace_root().join(file), copy).unwrap();
        }
        std::fs::create_dir_all(root.join("crates/providers")).unwrap();
        root
    }

    #[test]
    fn a_scaffold_is_written_and_registered_in_the_workspace_as_it_is() {
        let root = scratch_workspace("new-provider");
        let names = Names::new("acme-crm", Auth::OAuth2).unwrap();
        generate(&root, &names).unwrap();
        for file in [
            "src/lib.rs",
            "src/sandbox/mod.rs",
            "tests/acme-crm/conformance.rs",
        ] {
            assert!(root.join(names.dir()).join(file).is_file(), "{file}");
        }
        assert!(root.join("docs/providers/acme-crm.md").is_file());
        let registry = std::fs::read_to_string(root.join("crates/registry/src/lib.rs")).unwrap();
        assert!(registry.contains("Arc::new(junction_acme_crm::AcmeCrm),"));
        assert!(registry.contains("Arc::new(junction_acme_crm::sandbox::AcmeCrmFake),"));
        // Registering again finds every line in place and changes nothing.
        let before = std::fs::read_to_string(root.join("crates/registry/Cargo.toml")).unwrap();
        let again = register::plan(&root, &names).unwrap();
        assert_eq!(again.done.len(), 8);
        assert!(again.done.iter().all(|done| !done.changed), "{again:?}");
        again.write().unwrap();
        let after = std::fs::read_to_string(root.join("crates/registry/Cargo.toml")).unwrap();
        assert_eq!(before, after);
        // The id is taken now.
        let error = generate(&root, &names).unwrap_err().to_string();
        assert!(error.starts_with("`acme-crm` exists"), "{error}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_command_line_is_read() {
        assert_eq!(
            parse(&args(&[
                "acme",
                "--auth",
                "oauth2",
                "--workspace",
                "/tmp/w"
            ]))
            .unwrap(),
            Task::New {
                name: "acme".into(),
                auth: Auth::OAuth2,
                root: "/tmp/w".into()
            }
        );
        assert_eq!(
            parse(&args(&["--check", "--auth=basic"])).unwrap(),
            Task::Check {
                modes: vec![Auth::Basic]
            }
        );
        assert_eq!(
            parse(&args(&["--check"])).unwrap(),
            Task::Check {
                modes: Auth::ALL.to_vec()
            }
        );
        for bad in [
            &["acme"][..],
            &["--auth", "api-key"],
            &["acme", "--auth", "token"],
            &["acme", "--auth"],
            &["acme", "beta", "--auth", "basic"],
            &["acme", "--auth", "basic", "--auth", "oauth2"],
            &["acme", "--check"],
            &["acme", "--auth", "basic", "--force"],
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
