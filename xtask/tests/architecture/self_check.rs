//! The rules run on small made-up inputs: each one fails on an input that breaks it
//! and passes on one that keeps it, so the real-workspace tests cannot pass vacuously.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
};

use crate::{
    modules,
    workspace::{self, Dep, Kind, Package},
};

fn dep(name: &str, kind: Kind, path: Option<&str>) -> Dep {
    Dep {
        name: name.to_string(),
        kind,
        path: path.map(PathBuf::from),
    }
}

fn package(name: &str, dir: &str, deps: Vec<Dep>) -> Package {
    Package {
        name: name.to_string(),
        dir: PathBuf::from(dir),
        deps,
        targets: Vec::new(),
    }
}

/// A small workspace that keeps every dependency rule.
fn clean_workspace() -> Vec<Package> {
    vec![
        package("junction-core", "crates/core", vec![]),
        package(
            "junction-store",
            "crates/store",
            vec![
                dep("junction-core", Kind::Normal, Some("crates/core")),
                dep("diesel", Kind::Normal, None),
            ],
        ),
        package(
            "junction-conformance",
            "crates/conformance",
            vec![dep("junction-core", Kind::Normal, Some("crates/core"))],
        ),
        package(
            "junction-stripe",
            "crates/providers/stripe",
            vec![
                dep("junction-core", Kind::Normal, Some("crates/core")),
                dep("serde", Kind::Normal, None),
                dep(
                    "junction-conformance",
                    Kind::Dev,
                    Some("crates/conformance"),
                ),
            ],
        ),
        package(
            "junction-registry",
            "crates/registry",
            vec![dep(
                "junction-stripe",
                Kind::Normal,
                Some("crates/providers/stripe"),
            )],
        ),
        package(
            "junction-app",
            "crates/app",
            vec![
                dep("junction-store", Kind::Normal, Some("crates/store")),
                dep("junction-registry", Kind::Normal, Some("crates/registry")),
            ],
        ),
        package(
            "junction-api",
            "bins/api",
            vec![
                dep("junction-registry", Kind::Normal, Some("crates/registry")),
                dep("junction-app", Kind::Normal, Some("crates/app")),
                dep("junction-store", Kind::Dev, Some("crates/store")),
            ],
        ),
        package(
            "junction-worker",
            "bins/worker",
            vec![dep("junction-app", Kind::Normal, Some("crates/app"))],
        ),
        package("xtask", "xtask", vec![]),
    ]
}

/// The clean workspace with `dep` added to the package named `to`.
fn with_dep(to: &str, added: Dep) -> Vec<Package> {
    let mut packages = clean_workspace();
    for package in &mut packages {
        if package.name == to {
            package.deps.push(added.clone());
        }
    }
    packages
}

#[test]
fn the_clean_workspace_keeps_every_dependency_rule() {
    let packages = clean_workspace();
    assert_eq!(
        workspace::providers_depend_only_on_core(&packages),
        Vec::<String>::new()
    );
    assert_eq!(
        workspace::nothing_depends_on_a_bin(&packages),
        Vec::<String>::new()
    );
    assert_eq!(
        workspace::bins_do_not_depend_on_providers(&packages),
        Vec::<String>::new()
    );
    assert_eq!(
        workspace::bins_use_the_application_layer(&packages),
        Vec::<String>::new()
    );
    assert_eq!(
        workspace::bins_avoid_forbidden_crates(&packages),
        Vec::<String>::new()
    );
    assert_eq!(
        workspace::names_match_folders(&packages),
        Vec::<String>::new()
    );
}

#[test]
fn rule1_catches_a_provider_using_another_workspace_crate() {
    let mut packages = with_dep(
        "junction-stripe",
        dep("junction-store", Kind::Normal, Some("crates/store")),
    );
    // A build dependency counts too, and one found by name (no path) as well.
    packages[3]
        .deps
        .push(dep("junction-registry", Kind::Build, None));
    assert_eq!(
        workspace::providers_depend_only_on_core(&packages),
        vec![
            "junction-stripe: normal dependency on junction-store (crates/store)",
            "junction-stripe: build dependency on junction-registry (crates/registry)",
        ]
    );
}

#[test]
fn rule1_lets_provider_tests_use_workspace_crates() {
    let packages = with_dep(
        "junction-stripe",
        dep("junction-store", Kind::Dev, Some("crates/store")),
    );
    assert!(workspace::providers_depend_only_on_core(&packages).is_empty());
}

#[test]
fn rule2_catches_a_dependency_on_a_bin_of_any_kind() {
    let mut packages = with_dep(
        "junction-api",
        dep("junction-worker", Kind::Dev, Some("bins/worker")),
    );
    packages[1]
        .deps
        .push(dep("junction-api", Kind::Normal, None));
    assert_eq!(
        workspace::nothing_depends_on_a_bin(&packages),
        vec![
            "junction-store: normal dependency on the bin junction-api (bins/api)",
            "junction-api: dev dependency on the bin junction-worker (bins/worker)",
        ]
    );
}

#[test]
fn rule3_catches_a_bin_naming_a_provider() {
    let packages = with_dep(
        "junction-worker",
        dep(
            "junction-stripe",
            Kind::Dev,
            Some("crates/providers/stripe"),
        ),
    );
    assert_eq!(
        workspace::bins_do_not_depend_on_providers(&packages),
        vec![
            "junction-worker: dev dependency on the provider junction-stripe \
             (crates/providers/stripe)"
        ]
    );
}

#[test]
fn rule4_catches_every_forbidden_crate_in_a_bin_only() {
    let mut packages = clean_workspace();
    for (index, name) in workspace::BIN_FORBIDDEN_CRATES.iter().enumerate() {
        let kind = [Kind::Normal, Kind::Dev, Kind::Build][index % 3];
        packages[6].deps.push(dep(name, kind, None));
    }
    let violations = workspace::bins_avoid_forbidden_crates(&packages);
    assert_eq!(violations.len(), workspace::BIN_FORBIDDEN_CRATES.len());
    assert_eq!(violations[0], "junction-api: normal dependency on diesel");
    assert_eq!(
        violations[1],
        "junction-api: dev dependency on diesel-async"
    );
    // junction-store's diesel (not a bin) is allowed.
    assert!(violations.iter().all(|v| v.starts_with("junction-api:")));
}

#[test]
fn rule7_catches_a_bin_using_a_lower_crate_outside_its_tests() {
    let packages = with_dep(
        "junction-worker",
        dep("junction-store", Kind::Normal, Some("crates/store")),
    );
    assert_eq!(
        workspace::bins_use_the_application_layer(&packages),
        vec!["junction-worker: normal dependency on junction-store (crates/store)"]
    );
    // The same crate for the bin's tests is fine.
    let tests_only = with_dep(
        "junction-worker",
        dep("junction-store", Kind::Dev, Some("crates/store")),
    );
    assert!(workspace::bins_use_the_application_layer(&tests_only).is_empty());
}

#[test]
fn rule5_catches_a_package_not_named_after_its_folder() {
    let mut packages = clean_workspace();
    packages.push(package("junction-runtime", "crates/app", vec![]));
    packages.push(package("sandbox", "bins/sandbox-server", vec![]));
    packages.push(package("xtask", "tools/xtask", vec![]));
    packages.push(package(
        "junction-google-analytics",
        "crates/providers/google-analytics",
        vec![],
    ));
    assert_eq!(
        workspace::names_match_folders(&packages),
        vec![
            "junction-runtime (crates/app): should be named junction-app",
            "sandbox (bins/sandbox-server): should be named junction-sandbox-server",
            "xtask (tools/xtask): should be named junction-xtask",
        ]
    );
}

#[test]
fn a_failure_message_lists_every_violation_and_what_to_do() {
    let violations = vec!["a: one".to_string(), "b: two".to_string()];
    let message = workspace::report("Rule X.", &violations, "fix it.").unwrap_err();
    assert_eq!(
        message,
        "Rule X.\nbroken 2 time(s):\n  - a: one\n  - b: two\nWhat to do: fix it."
    );
    assert_eq!(workspace::report("Rule X.", &[], "fix it."), Ok(()));
}

/// The cycles of a crate made of these files (`src/lib.rs` is the root).
fn cycles_of(files: &[(&str, &str)]) -> Vec<String> {
    let sources: BTreeMap<PathBuf, String> = files
        .iter()
        .map(|(path, text)| (PathBuf::from(path), (*text).to_string()))
        .collect();
    let modules = modules::load(&PathBuf::from("src/lib.rs"), &sources);
    assert_eq!(modules.errors, Vec::<String>::new());
    modules::module_cycles(&modules)
}

#[test]
fn rule6_finds_a_cycle_through_crate_paths() {
    let files = [
        ("src/lib.rs", "mod a; mod b;"),
        ("src/a.rs", "use crate::b::B; pub struct A(B);"),
        (
            "src/b.rs",
            "pub struct B; fn f() -> crate::a::A { todo!() }",
        ),
    ];
    assert_eq!(cycles_of(&files), vec!["a -> b -> a"]);
}

#[test]
fn rule6_passes_when_references_point_one_way() {
    let files = [
        ("src/lib.rs", "mod a; mod b; pub struct AppState; use a::f;"),
        (
            "src/a.rs",
            "use crate::{b::B, AppState}; pub fn f(_: B, _: AppState) {}",
        ),
        ("src/b.rs", "pub struct B; fn g(_: crate::AppState) {}"),
    ];
    assert_eq!(cycles_of(&files), Vec::<String>::new());
}

#[test]
fn rule6_counts_a_child_using_super_against_a_parent_naming_the_child() {
    let files = [
        ("src/lib.rs", "pub mod routes;"),
        (
            "src/routes/mod.rs",
            "pub mod connect;\npub use self::connect::handler;\npub fn log() {}",
        ),
        (
            "src/routes/connect.rs",
            "use super::log; pub fn handler() { log() }",
        ),
    ];
    assert_eq!(
        cycles_of(&files),
        vec!["routes -> routes::connect -> routes"]
    );
    // Without the parent's re-export, the child's `super::log` alone is no cycle.
    let one_way = [
        files[0],
        ("src/routes/mod.rs", "pub mod connect; pub fn log() {}"),
        files[2],
    ];
    assert_eq!(cycles_of(&one_way), Vec::<String>::new());
}

#[test]
fn rule6_ignores_cfg_test_code_and_visibility_paths() {
    let files = [
        ("src/lib.rs", "mod a; mod b;"),
        (
            // Were the test modules read, a would depend on them and they on a.
            "src/a.rs",
            "pub fn f() { crate::b::g() }\n\
             fn t() { crate::b::tests::x(); crate::b::testonly::y() }",
        ),
        (
            "src/b.rs",
            "pub(in crate::a) fn h() {}\npub fn g() {}\n\
             #[cfg(test)] mod tests { use crate::a::f; pub fn x() {} }\n\
             #[cfg(test)] fn helper() { super::a::f() }\n\
             #[cfg(test)] mod more;\n\
             mod testonly;",
        ),
        (
            "src/b/testonly.rs",
            "#![cfg(test)]\nuse crate::a::f;\npub fn y() {}",
        ),
    ];
    assert_eq!(cycles_of(&files), Vec::<String>::new());
    // The same references outside `#[cfg(test)]` make cycles.
    let files = [
        ("src/lib.rs", "mod a; mod b; mod c;"),
        ("src/a.rs", "pub fn f() { crate::b::g() }"),
        (
            "src/b.rs",
            "pub fn g() {} use crate::a::f; fn helper() { super::c::k() }",
        ),
        ("src/c.rs", "pub fn k() { crate::b::g() }"),
    ];
    assert_eq!(cycles_of(&files), vec!["a -> b -> a", "b -> c -> b"]);
}

#[test]
fn rule6_resolves_use_aliases_globs_and_child_module_paths() {
    let files = [
        ("src/lib.rs", "pub mod routes; mod util;"),
        (
            "src/routes/mod.rs",
            "pub mod connect; pub mod integrations;",
        ),
        (
            // `routes` imported, then named through: an edge to routes::integrations.
            "src/routes/connect.rs",
            "use crate::routes; pub fn f() { routes::integrations::g() }",
        ),
        (
            // A renamed import of a sibling module, then a path through it.
            "src/routes/integrations.rs",
            "use super::connect as c; pub fn g() { c::f() }",
        ),
        (
            // A glob import brings the root's child modules into scope.
            "src/util.rs",
            "use crate::*; fn u() { routes::connect::f() }",
        ),
    ];
    assert_eq!(
        cycles_of(&files),
        vec!["routes::connect -> routes::integrations -> routes::connect"]
    );
}

#[test]
fn rule6_reads_inline_modules_path_attributes_and_macro_arguments() {
    let files = [
        (
            "src/lib.rs",
            "mod a { pub fn f() { println!(\"{}\", crate::b::g()); } }\n\
             #[path = \"elsewhere/bee.rs\"] mod b;",
        ),
        (
            // A bare path through a child module is an edge to it.
            "src/elsewhere/bee.rs",
            "mod inner;\npub fn g() -> u8 { inner::k(); 1 }",
        ),
        (
            // A `#[path]` file owns its folder, like a `mod.rs`. `tracing::info!`'s
            // arguments are no expressions: read token by token.
            "src/elsewhere/inner.rs",
            "pub fn k() { tracing::info!(at = ?crate::a::f(), \"called\"); }",
        ),
    ];
    assert_eq!(cycles_of(&files), vec!["a -> b -> b::inner -> a"]);
}

#[test]
fn rule6_reads_attribute_arguments_but_not_doc_links() {
    let files = [
        ("src/lib.rs", "mod a; mod b;"),
        ("src/a.rs", "#[openapi(paths(crate::b::x))] pub struct Doc;"),
        ("src/b.rs", "pub fn x() -> crate::a::Doc { todo!() }"),
    ];
    assert_eq!(cycles_of(&files), vec!["a -> b -> a"]);
    let files = [
        files[0],
        (
            "src/a.rs",
            "/// Served by [`crate::b::x`].\npub struct Doc;",
        ),
        files[2],
    ];
    assert_eq!(cycles_of(&files), Vec::<String>::new());
}

#[test]
fn rule6_reports_a_missing_module_file() {
    let sources: BTreeMap<PathBuf, String> =
        BTreeMap::from([(PathBuf::from("src/lib.rs"), "mod gone;".to_string())]);
    let modules = modules::load(&PathBuf::from("src/lib.rs"), &sources);
    assert_eq!(
        modules.errors,
        vec!["cannot find the file of module `gone` (tried src/gone.rs, src/gone/mod.rs)"]
    );
}

#[test]
fn rule6_names_every_cycle_of_a_component_and_self_loops() {
    let path = |name: &str| vec![name.to_string()];
    let nodes: Vec<Vec<String>> = ["a", "b", "c", "d", "e"].map(path).to_vec();
    let edges: BTreeSet<(Vec<String>, Vec<String>)> = [
        ("a", "b"),
        ("b", "c"),
        ("c", "a"),
        ("c", "b"),
        ("d", "d"),
        ("d", "e"),
    ]
    .iter()
    .map(|(from, to)| (path(from), path(to)))
    .collect();
    let cycles = modules::cycles(&nodes, &edges);
    let names: Vec<String> = cycles
        .iter()
        .map(|cycle| {
            cycle
                .iter()
                .map(|module| module.join("::"))
                .collect::<Vec<_>>()
                .join(" -> ")
        })
        .collect();
    assert_eq!(names, vec!["a -> b -> c", "b -> c", "d"]);
}
