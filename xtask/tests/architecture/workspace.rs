//! The workspace as the rules see it (packages, their folders, dependencies and
//! targets), read with `cargo metadata`, and the dependency rules 1 to 5 as plain
//! functions over it, so the self-checks can run them on made-up packages.

use std::path::{Path, PathBuf};

use cargo_metadata::{DependencyKind, MetadataCommand};

/// Where provider crates live: every package whose manifest is below this folder.
pub const PROVIDERS_DIR: &str = "crates/providers";

/// Where the binaries live: every package whose manifest is below this folder.
pub const BINS_DIR: &str = "bins";

/// The only workspace packages a provider may use outside its tests (rule 1): the
/// adapter contract and the provider toolkit (which itself sits on the contract).
pub const PROVIDER_ALLOWED_WORKSPACE_DEPS: &[&str] = &["junction-core", "junction-toolkit"];

/// Crates no bin may depend on, of any kind (rule 4): the database, Redis and the
/// job queue are reached through `junction-store`, `junction-jobs` and friends.
pub const BIN_FORBIDDEN_CRATES: &[&str] = &[
    "diesel",
    "diesel-async",
    "diesel_migrations",
    "redis",
    "apalis",
    "apalis-redis",
    "apalis-core",
];

/// The only workspace packages a bin may use outside its tests (rule 7): the
/// application layer, the contract's types, the registry, and the provider fakes for
/// the sandbox server.
pub const BIN_ALLOWED_WORKSPACE_DEPS: &[&str] = &[
    "junction-app",
    "junction-core",
    "junction-registry",
    "junction-sandbox",
];

/// Every package is named this prefix plus its folder's name (rule 5)...
pub const PACKAGE_NAME_PREFIX: &str = "junction-";

/// ...except these: (manifest folder relative to the workspace root, package name).
pub const PACKAGE_NAME_EXCEPTIONS: &[(&str, &str)] = &[("xtask", "xtask")];

/// A dependency's kind, as `cargo metadata` tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Normal,
    Dev,
    Build,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Normal => "normal",
            Kind::Dev => "dev",
            Kind::Build => "build",
        }
    }
}

/// One dependency of a package.
#[derive(Debug, Clone)]
pub struct Dep {
    /// The package's name (not the local rename).
    pub name: String,
    pub kind: Kind,
    /// For path dependencies: the folder, relative to the workspace root when inside it.
    pub path: Option<PathBuf>,
}

/// A lib or bin target: what the module-cycle rule parses.
#[derive(Debug, Clone)]
pub struct Target {
    /// `lib` or `bin NAME`.
    pub label: String,
    /// The target's root file (`src/lib.rs`, `src/main.rs`, ...), absolute.
    pub root: PathBuf,
}

/// One workspace member.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    /// The manifest's folder relative to the workspace root (`crates/providers/kit`).
    pub dir: PathBuf,
    pub deps: Vec<Dep>,
    pub targets: Vec<Target>,
}

impl Package {
    pub fn is_provider(&self) -> bool {
        is_below(&self.dir, PROVIDERS_DIR)
    }

    pub fn is_bin(&self) -> bool {
        is_below(&self.dir, BINS_DIR)
    }
}

/// Whether `dir` is strictly inside the folder `top` (both relative to the root).
fn is_below(dir: &Path, top: &str) -> bool {
    dir.starts_with(top) && dir != Path::new(top)
}

/// The workspace root: xtask's parent folder.
pub fn root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

/// Reads the workspace's members with `cargo metadata --no-deps`.
pub fn load(root: &Path) -> Vec<Package> {
    let metadata = MetadataCommand::new()
        .manifest_path(root.join("Cargo.toml"))
        .no_deps()
        .exec()
        .expect("`cargo metadata` reads the workspace");
    let root = metadata.workspace_root.as_std_path().to_path_buf();
    let relative = |path: &Path| path.strip_prefix(&root).unwrap_or(path).to_path_buf();
    let mut packages: Vec<Package> = metadata
        .workspace_packages()
        .into_iter()
        .map(|package| {
            let manifest_dir = package
                .manifest_path
                .parent()
                .expect("a manifest path has a folder")
                .as_std_path();
            let deps = package
                .dependencies
                .iter()
                .map(|dep| Dep {
                    name: dep.name.clone(),
                    kind: match dep.kind {
                        DependencyKind::Development => Kind::Dev,
                        DependencyKind::Build => Kind::Build,
                        // `Normal`, and any kind a newer cargo adds: checked like normal.
                        _ => Kind::Normal,
                    },
                    path: dep.path.as_ref().map(|path| relative(path.as_std_path())),
                })
                .collect();
            let targets = package
                .targets
                .iter()
                .filter_map(|target| {
                    let label = if target.is_bin() {
                        format!("bin {}", target.name)
                    } else if target.is_lib()
                        || target.is_rlib()
                        || target.is_dylib()
                        || target.is_cdylib()
                        || target.is_staticlib()
                        || target.is_proc_macro()
                    {
                        "lib".to_string()
                    } else {
                        return None;
                    };
                    Some(Target {
                        label,
                        root: target.src_path.as_std_path().to_path_buf(),
                    })
                })
                .collect();
            Package {
                name: package.name.to_string(),
                dir: relative(manifest_dir),
                deps,
                targets,
            }
        })
        .collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    packages
}

/// The workspace package a dependency points at: by its path when it has one, else
/// by its name among the members.
pub fn workspace_dep<'a>(packages: &'a [Package], dep: &Dep) -> Option<&'a Package> {
    match &dep.path {
        Some(path) => packages.iter().find(|package| &package.dir == path),
        None => packages.iter().find(|package| package.name == dep.name),
    }
}

/// Each (package, dependency, workspace package it points at), for every dependency
/// on a workspace package.
fn internal_deps(packages: &[Package]) -> impl Iterator<Item = (&Package, &Dep, &Package)> {
    packages.iter().flat_map(move |package| {
        package.deps.iter().filter_map(move |dep| {
            workspace_dep(packages, dep).map(|target| (package, dep, target))
        })
    })
}

/// Rule 1: providers' normal and build dependencies on the workspace are only
/// [`PROVIDER_ALLOWED_WORKSPACE_DEPS`].
pub fn providers_depend_only_on_core(packages: &[Package]) -> Vec<String> {
    internal_deps(packages)
        .filter(|(package, dep, target)| {
            package.is_provider()
                && dep.kind != Kind::Dev
                && !PROVIDER_ALLOWED_WORKSPACE_DEPS.contains(&target.name.as_str())
        })
        .map(|(package, dep, target)| {
            format!(
                "{}: {} dependency on {} ({})",
                package.name,
                dep.kind.label(),
                target.name,
                target.dir.display()
            )
        })
        .collect()
}

/// Rule 2: no dependency of any kind on a bin.
pub fn nothing_depends_on_a_bin(packages: &[Package]) -> Vec<String> {
    internal_deps(packages)
        .filter(|(_, _, target)| target.is_bin())
        .map(|(package, dep, target)| {
            format!(
                "{}: {} dependency on the bin {} ({})",
                package.name,
                dep.kind.label(),
                target.name,
                target.dir.display()
            )
        })
        .collect()
}

/// Rule 3: no bin depends (any kind) on a provider crate.
pub fn bins_do_not_depend_on_providers(packages: &[Package]) -> Vec<String> {
    internal_deps(packages)
        .filter(|(package, _, target)| package.is_bin() && target.is_provider())
        .map(|(package, dep, target)| {
            format!(
                "{}: {} dependency on the provider {} ({})",
                package.name,
                dep.kind.label(),
                target.name,
                target.dir.display()
            )
        })
        .collect()
}

/// Rule 7: bins' normal and build dependencies on the workspace are only
/// [`BIN_ALLOWED_WORKSPACE_DEPS`]: every use case goes through junction-app.
pub fn bins_use_the_application_layer(packages: &[Package]) -> Vec<String> {
    internal_deps(packages)
        .filter(|(package, dep, target)| {
            package.is_bin()
                && dep.kind != Kind::Dev
                && !BIN_ALLOWED_WORKSPACE_DEPS.contains(&target.name.as_str())
        })
        .map(|(package, dep, target)| {
            format!(
                "{}: {} dependency on {} ({})",
                package.name,
                dep.kind.label(),
                target.name,
                target.dir.display()
            )
        })
        .collect()
}

/// Rule 4: no bin depends (any kind) on one of [`BIN_FORBIDDEN_CRATES`].
pub fn bins_avoid_forbidden_crates(packages: &[Package]) -> Vec<String> {
    packages
        .iter()
        .filter(|package| package.is_bin())
        .flat_map(|package| {
            package
                .deps
                .iter()
                .filter(|dep| BIN_FORBIDDEN_CRATES.contains(&dep.name.as_str()))
                .map(move |dep| {
                    format!(
                        "{}: {} dependency on {}",
                        package.name,
                        dep.kind.label(),
                        dep.name
                    )
                })
        })
        .collect()
}

/// The name rule 5 expects for a package whose manifest is in `dir`.
pub fn expected_name(dir: &Path) -> String {
    if let Some((_, name)) = PACKAGE_NAME_EXCEPTIONS
        .iter()
        .find(|(folder, _)| Path::new(folder) == dir)
    {
        return (*name).to_string();
    }
    let folder = dir
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{PACKAGE_NAME_PREFIX}{folder}")
}

/// Rule 5: every package is named after its folder.
pub fn names_match_folders(packages: &[Package]) -> Vec<String> {
    packages
        .iter()
        .filter_map(|package| {
            let expected = expected_name(&package.dir);
            (package.name != expected).then(|| {
                format!(
                    "{} ({}): should be named {expected}",
                    package.name,
                    package.dir.display()
                )
            })
        })
        .collect()
}

/// Ok when there are no violations, else one message listing all of them and what to do.
pub fn report(rule: &str, violations: &[String], fix: &str) -> Result<(), String> {
    if violations.is_empty() {
        return Ok(());
    }
    let mut message = format!("{rule}\nbroken {} time(s):\n", violations.len());
    for violation in violations {
        message.push_str("  - ");
        message.push_str(violation);
        message.push('\n');
    }
    message.push_str("What to do: ");
    message.push_str(fix);
    Err(message)
}
