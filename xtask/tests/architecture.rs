//! Architecture test: the workspace's written dependency and module rules, checked on
//! every `cargo test` so a change that breaks one fails with the list of what breaks it.
//!
//! The rules (the project's written architecture, see `docs/architecture.md`):
//!
//! 1. Provider crates (every package whose manifest is under `crates/providers/`)
//!    depend on no workspace package other than `junction-core` and
//!    `junction-toolkit` (normal and build dependencies; dev-dependencies aside: their
//!    tests may use `junction-conformance`, `junction-testkit`, etc.).
//! 2. Nothing depends on a bin: no package has any dependency (normal, dev or build) on
//!    a package whose manifest is under `bins/`.
//! 3. Bins (packages under `bins/`) reach providers only through the registry: no bin
//!    has any dependency (any kind) on a provider crate (a package under
//!    `crates/providers/`).
//! 4. Bins depend on none of the crates `diesel`, `diesel-async`, `diesel_migrations`,
//!    `redis`, `apalis`, `apalis-redis`, `apalis-core` (any kind: normal, dev, build).
//! 5. A folder's name is its package's name: every workspace member's package name is
//!    `junction-` followed by its manifest folder's last path component (e.g.
//!    `crates/registry` → `junction-registry`, `crates/providers/google-analytics` →
//!    `junction-google-analytics`, `bins/sandbox-server` → `junction-sandbox-server`),
//!    except the `xtask` package (folder `xtask`).
//! 6. No import cycles between the modules of a crate: for every workspace package, for
//!    each lib and bin target, the directed graph whose nodes are the crate's modules
//!    other than the crate root, with an edge A → B when code in module A names a path
//!    that resolves into module B (`crate::x::y::...`, `super::...`, `self::...` and
//!    `use` trees, resolved to the longest known module prefix), has no cycle.
//!    References to items of the crate root itself (`crate::AppState`) are no edges; a
//!    module naming its own descendants, or its ancestors through `super` (a child using
//!    `super::log` depends on its parent), counts. References inside `#[cfg(test)]`
//!    modules are ignored (unit tests may use anything).
//! 7. Bins are adapters over the application layer: their normal and build
//!    dependencies on workspace packages are only `junction-app`, `junction-core`,
//!    `junction-registry` (and `junction-sandbox` for the sandbox server); their tests
//!    may use other workspace crates for fixtures.
//!
//! The workspace is read with `cargo metadata --no-deps` (the `cargo_metadata` crate),
//! sources are parsed with `syn`, and cycles are the strongly connected components that
//! `petgraph` finds. The rules themselves are data and plain functions in
//! `architecture/workspace.rs` and `architecture/modules.rs`; `architecture/self_check.rs`
//! runs each on small made-up inputs that break it, so these tests cannot pass by
//! checking nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "architecture/modules.rs"]
mod modules;
#[path = "architecture/self_check.rs"]
mod self_check;
#[path = "architecture/workspace.rs"]
mod workspace;

use std::sync::OnceLock;

use workspace::{Package, report};

/// The workspace's members, read once for all the tests.
fn packages() -> &'static [Package] {
    static PACKAGES: OnceLock<Vec<Package>> = OnceLock::new();
    PACKAGES.get_or_init(|| {
        let packages = workspace::load(&workspace::root());
        assert!(
            packages.iter().any(Package::is_provider) && packages.iter().any(Package::is_bin),
            "the workspace has providers and bins; found {:?}",
            packages.iter().map(|p| &p.name).collect::<Vec<_>>()
        );
        packages
    })
}

fn check(result: Result<(), String>) {
    if let Err(message) = result {
        panic!("{message}");
    }
}

#[test]
fn rule1_providers_depend_only_on_junction_core() {
    check(report(
        "Rule 1: provider crates depend on no workspace package but junction-core and \
         junction-toolkit (normal and build dependencies).",
        &workspace::providers_depend_only_on_core(packages()),
        "move what the provider needs into junction-core or junction-toolkit (or drop it); a provider's tests \
         may use other workspace crates as dev-dependencies.",
    ));
}

#[test]
fn rule2_nothing_depends_on_a_bin() {
    check(report(
        "Rule 2: no package depends (normal, dev or build) on a bin under bins/.",
        &workspace::nothing_depends_on_a_bin(packages()),
        "move the shared code out of the bin into a crate under crates/ and depend on that.",
    ));
}

#[test]
fn rule3_bins_reach_providers_only_through_the_registry() {
    check(report(
        "Rule 3: bins depend on no provider crate (any kind); they reach providers \
         through junction-registry.",
        &workspace::bins_do_not_depend_on_providers(packages()),
        "go through junction-registry (or a port in junction-core that the provider \
         implements) instead of naming the provider crate.",
    ));
}

#[test]
fn rule4_bins_do_not_depend_on_database_redis_or_queue_crates() {
    check(report(
        &format!(
            "Rule 4: bins depend on none of {} (any kind).",
            workspace::BIN_FORBIDDEN_CRATES.join(", ")
        ),
        &workspace::bins_avoid_forbidden_crates(packages()),
        "put the database, Redis or queue code in junction-store, junction-jobs, \
         junction-ratelimit or junction-testkit and call that from the bin.",
    ));
}

#[test]
fn rule7_bins_reach_everything_else_through_the_application_layer() {
    check(report(
        &format!(
            "Rule 7: bins depend (normal or build) on no workspace package but {}.",
            workspace::BIN_ALLOWED_WORKSPACE_DEPS.join(", ")
        ),
        &workspace::bins_use_the_application_layer(packages()),
        "call a use case of junction-app (or add one there) instead of the lower crate.",
    ));
}

#[test]
fn rule5_package_names_are_junction_dash_folder_name() {
    check(report(
        "Rule 5: every package is named `junction-<its folder's name>` (xtask excepted).",
        &workspace::names_match_folders(packages()),
        "rename the package or its folder so they agree.",
    ));
}

#[test]
fn rule6_no_module_cycles_within_a_crate() {
    let mut violations = Vec::new();
    let mut targets = 0;
    for package in packages() {
        for target in &package.targets {
            targets += 1;
            let label = match target.label.as_str() {
                "lib" => package.name.clone(),
                other => format!("{} [{other}]", package.name),
            };
            let modules = modules::load(&target.root, &modules::Disk);
            for error in &modules.errors {
                violations.push(format!("{label}: {error}"));
            }
            for cycle in modules::module_cycles(&modules) {
                violations.push(format!("{label}: {cycle}"));
            }
        }
    }
    assert!(targets > 0, "found no lib or bin target to check");
    check(report(
        "Rule 6: no import cycles between the modules of a crate (#[cfg(test)] code aside).",
        &violations,
        "break each cycle: move what both modules need into a third module (or into the \
         one lower down) so references point one way.",
    ));
}
