//! `cargo xtask helm-check`: the Helm chart (deploy/helm/junction) linted, rendered,
//! validated against the Kubernetes schemas and held to its invariants, offline.
//!
//! For each value set (the defaults, `ci/full-values.yaml` with every option on, and
//! `ci/created-secrets-values.yaml` for the Secret made from values):
//! - `helm lint --strict`;
//! - `helm template`, the output kept in `<target>/helm-check/<case>.yaml`;
//! - `kubernetes-validate --strict` on the documents of kinds Kubernetes defines,
//!   against the oldest version the chart supports (Chart.yaml's kubeVersion) and
//!   the newest the validator bundles; the CRDs' documents (KEDA, the Prometheus
//!   Operator), which it has no schemas for, are checked by the invariants instead;
//! - the invariants (invariants.rs): probes, grace periods, the migration hook,
//!   pod security and resources, secrets only through secretKeyRef, PDBs, Services,
//!   scaling, NetworkPolicies, ServiceMonitors, and the PrometheusRule holding
//!   exactly deploy/prometheus/alerts.yml.
//!
//! The tools come from PyPI (tools.rs). One line at the end sums up, with the time.

use std::{path::Path, process::Command, time::Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

mod invariants;
pub(crate) mod tools;

use invariants::{Expect, Secrets};

use crate::workspace_root;

const CHART: &str = "deploy/helm/junction";
const ALERTS: &str = "deploy/prometheus/alerts.yml";
const RELEASE: &str = "junction";
const NAMESPACE: &str = "junction";

/// One value set and what its manifests must show.
struct Case {
    name: &'static str,
    /// Relative to the chart; `None` for the chart's defaults.
    values: Option<&'static str>,
    expect: Expect<'static>,
}

/// The defaults read every secret from the Secret named after the release.
const DEFAULT_SECRETS: &[(&str, &str)] = &[
    ("JUNCTION_KEYS", RELEASE),
    ("DATABASE_URL", RELEASE),
    ("REDIS_URL", RELEASE),
];
/// ci/full-values.yaml: a shared existing Secret, and a Postgres operator's for
/// DATABASE_URL.
const FULL_SECRETS: &[(&str, &str)] = &[
    ("JUNCTION_KEYS", "junction-secrets"),
    ("DATABASE_URL", "junction-postgres-app"),
    ("REDIS_URL", "junction-secrets"),
];

const CASES: [Case; 3] = [
    Case {
        name: "default",
        values: None,
        expect: Expect {
            secrets: Secrets::Existing(DEFAULT_SECRETS),
            keda: false,
            hpa: true,
            network_policy: false,
            service_monitor: false,
            prometheus_rule: false,
        },
    },
    Case {
        name: "full",
        values: Some("ci/full-values.yaml"),
        expect: Expect {
            secrets: Secrets::Existing(FULL_SECRETS),
            keda: true,
            hpa: false,
            network_policy: true,
            service_monitor: true,
            prometheus_rule: true,
        },
    },
    Case {
        name: "created-secrets",
        values: Some("ci/created-secrets-values.yaml"),
        expect: Expect {
            secrets: Secrets::Created,
            keda: false,
            hpa: true,
            network_policy: false,
            service_monitor: false,
            prometheus_rule: false,
        },
    },
];

pub fn helm_check() -> Result<()> {
    let started = Instant::now();
    let root = workspace_root();
    let chart = root.join(CHART);
    let out = crate::target_dir()?.join("helm-check");
    std::fs::create_dir_all(&out)?;
    let tools = tools::ensure()?;
    check_app_version(&chart)?;
    let alerts: Value = serde_norway::from_str(
        &std::fs::read_to_string(root.join(ALERTS)).with_context(|| format!("reading {ALERTS}"))?,
    )
    .with_context(|| format!("parsing {ALERTS}"))?;

    let mut builtin_files = Vec::new();
    let mut documents = 0;
    for case in &CASES {
        let values: Vec<String> = case
            .values
            .map(|v| {
                vec![
                    "--values".to_owned(),
                    chart.join(v).to_string_lossy().into_owned(),
                ]
            })
            .unwrap_or_default();
        let chart_arg = chart.to_string_lossy().into_owned();
        helm(
            &tools.helm,
            &[
                &["lint", "--strict", &chart_arg],
                as_strs(&values).as_slice(),
            ]
            .concat(),
        )
        .with_context(|| format!("helm lint ({} values)", case.name))?;
        let rendered = helm(
            &tools.helm,
            &[
                &["template", RELEASE, &chart_arg, "--namespace", NAMESPACE],
                as_strs(&values).as_slice(),
            ]
            .concat(),
        )
        .with_context(|| format!("helm template ({} values)", case.name))?;
        std::fs::write(out.join(format!("{}.yaml", case.name)), &rendered)?;
        let docs = invariants::parse(&rendered)?;
        documents += docs.len();
        let builtin: Vec<&str> = docs
            .iter()
            .filter(|d| invariants::is_builtin(&d.value))
            .map(|d| d.text.as_str())
            .collect();
        let builtin_file = out.join(format!("{}.k8s.yaml", case.name));
        std::fs::write(&builtin_file, builtin.join("---\n"))?;
        builtin_files.push(builtin_file);
        let values: Vec<Value> = docs.into_iter().map(|d| d.value).collect();
        let problems = invariants::check(&values, &alerts, &case.expect);
        if !problems.is_empty() {
            bail!(
                "the chart rendered with the {} values breaks {} invariant(s) (manifests in {}):\n  {}",
                case.name,
                problems.len(),
                out.join(format!("{}.yaml", case.name)).display(),
                problems.join("\n  ")
            );
        }
        eprintln!(
            "==> {} values: linted, rendered ({} documents), invariants hold",
            case.name,
            values.len()
        );
    }

    let oldest = oldest_kubernetes(&chart)?;
    for version in [Some(oldest.as_str()), None] {
        let mut command = Command::new(&tools.kubernetes_validate);
        command.args(["--strict", "--quiet"]);
        if let Some(version) = version {
            command.args(["--kubernetes-version", version]);
        }
        command.args(&builtin_files);
        let output = command
            .output()
            .with_context(|| format!("running {}", tools.kubernetes_validate.display()))?;
        let said = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        if !output.status.success() || said.contains("ERROR") {
            bail!(
                "kubernetes-validate --strict ({}) refused the manifests:\n{}",
                version.unwrap_or("newest schemas"),
                said.trim()
            );
        }
        eprintln!(
            "==> kubernetes-validate --strict ({}): every built-in document valid",
            version.map_or_else(
                || "newest bundled schemas".to_owned(),
                |v| format!("Kubernetes {v}")
            )
        );
    }
    println!(
        "helm-check: {} value sets linted and rendered ({documents} documents), schema-valid for Kubernetes {oldest} and the newest schemas, invariants hold, in {:.1}s",
        CASES.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn as_strs(strings: &[String]) -> Vec<&str> {
    strings.iter().map(String::as_str).collect()
}

/// helm's standard output; its error output (less the note it prints for the
/// linked alerts file) in the error when it fails.
fn helm(helm: &Path, args: &[&str]) -> Result<String> {
    let output = Command::new(helm)
        .args(args)
        .current_dir(workspace_root())
        .output()
        .with_context(|| format!("running {}", helm.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let said: Vec<&str> = stderr
            .lines()
            .filter(|line| !line.contains("found symbolic link in path"))
            .collect();
        bail!(
            "helm {} failed ({}):\n{}\n{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout).trim(),
            said.join("\n")
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn chart_yaml(chart: &Path) -> Result<Value> {
    let path = chart.join("Chart.yaml");
    serde_norway::from_str(
        &std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?,
    )
    .with_context(|| format!("parsing {}", path.display()))
}

/// The chart's appVersion is the workspace's version, so the default image tag is
/// the release the chart was written for.
fn check_app_version(chart: &Path) -> Result<()> {
    let app_version = chart_yaml(chart)?["appVersion"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_default();
    let workspace = env!("CARGO_PKG_VERSION");
    if app_version != workspace {
        bail!("Chart.yaml's appVersion is {app_version:?}, the workspace's version is {workspace}");
    }
    Ok(())
}

/// The lowest Kubernetes version Chart.yaml's kubeVersion (`>=X.Y.Z-0`) admits.
fn oldest_kubernetes(chart: &Path) -> Result<String> {
    let constraint = chart_yaml(chart)?["kubeVersion"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("Chart.yaml has no kubeVersion"))?;
    lowest_version(&constraint).ok_or_else(|| {
        anyhow!("Chart.yaml's kubeVersion {constraint:?} is not of the form >=X.Y.Z")
    })
}

fn lowest_version(constraint: &str) -> Option<String> {
    let version = constraint.trim().strip_prefix(">=")?.trim();
    let version = version.split_once('-').map_or(version, |(v, _)| v);
    let parts: Vec<&str> = version.split('.').collect();
    (parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok())).then(|| version.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_version_is_read_from_kube_version() {
        assert_eq!(lowest_version(">=1.30.0-0").as_deref(), Some("1.30.0"));
        assert_eq!(lowest_version(">= 1.29.3").as_deref(), Some("1.29.3"));
        assert_eq!(lowest_version("^1.30"), None);
        assert_eq!(lowest_version(">=1.30"), None);
    }

    #[test]
    fn the_chart_names_the_workspace_version_and_every_value_set_exists() {
        let chart = workspace_root().join(CHART);
        check_app_version(&chart).unwrap();
        assert_eq!(oldest_kubernetes(&chart).unwrap(), "1.30.0");
        for case in &CASES {
            if let Some(values) = case.values {
                assert!(chart.join(values).is_file(), "{values}");
            }
        }
    }

    /// Every value of values.yaml (or a map holding it) has a row in the README's
    /// table, and every row names a value that exists.
    #[test]
    fn the_readme_documents_every_value() {
        let chart = workspace_root().join(CHART);
        let values: Value =
            serde_norway::from_str(&std::fs::read_to_string(chart.join("values.yaml")).unwrap())
                .unwrap();
        let mut leaves = Vec::new();
        leaf_paths(&values, String::new(), &mut leaves);
        let readme = std::fs::read_to_string(chart.join("README.md")).unwrap();
        let documented: Vec<&str> = readme
            .lines()
            .skip_while(|line| *line != "## Values")
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|line| line.split_once(" |").map(|(first, _)| first))
            .flat_map(|cell| cell.split(", "))
            .map(|name| name.trim_matches('`'))
            .collect();
        assert!(documented.len() > 50, "{documented:?}");
        for leaf in &leaves {
            let covered = documented
                .iter()
                .any(|name| leaf == name || leaf.starts_with(&format!("{name}.")));
            assert!(
                covered,
                "values.yaml's {leaf} has no row in the README's table"
            );
        }
        for name in &documented {
            let exists = leaves
                .iter()
                .any(|leaf| leaf == name || leaf.starts_with(&format!("{name}.")));
            assert!(
                exists,
                "the README documents {name}, which values.yaml lacks"
            );
        }
    }

    /// Every value in values.yaml has a comment: right above it, or above a map
    /// holding it.
    #[test]
    fn every_value_is_commented() {
        let values =
            std::fs::read_to_string(workspace_root().join(CHART).join("values.yaml")).unwrap();
        assert_eq!(uncommented_values(&values), Vec::<String>::new());
        assert_eq!(
            uncommented_values("# a\nmap:\n  child: 1\nbare: 2\nlist:\n  - item: 3\n"),
            ["bare"]
        );
    }

    fn uncommented_values(values: &str) -> Vec<String> {
        let mut missing = Vec::new();
        // (indent, whether the key or one holding it has a comment)
        let mut open: Vec<(usize, bool)> = Vec::new();
        let mut commented = false;
        for line in values.lines() {
            let trimmed = line.trim_start();
            if trimmed.is_empty() {
                continue;
            }
            if trimmed.starts_with('#') {
                commented = true;
                continue;
            }
            let indent = line.len() - trimmed.len();
            if !trimmed.starts_with('-')
                && let Some((key, value)) = trimmed.split_once(':')
            {
                open.retain(|(level, _)| *level < indent);
                let documented = commented || open.iter().any(|(_, doc)| *doc);
                if !value.trim().is_empty() && !documented {
                    missing.push(key.to_owned());
                }
                open.push((indent, documented));
            }
            commented = false;
        }
        missing
    }

    /// The dotted paths of a values tree's leaves (lists and empty maps are leaves).
    fn leaf_paths(value: &Value, path: String, out: &mut Vec<String>) {
        match value.as_object() {
            Some(map) if !map.is_empty() => {
                for (key, child) in map {
                    let child_path = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    leaf_paths(child, child_path, out);
                }
            }
            _ => out.push(path),
        }
    }

    #[test]
    fn the_chart_reads_the_alerts_through_a_link_to_deploy_prometheus() {
        // One file of rules: the chart's copy is a link, so the two cannot drift.
        let root = workspace_root();
        let link = root.join(CHART).join("files/alerts.yml");
        let target = std::fs::read_link(&link).unwrap();
        assert_eq!(
            link.parent().unwrap().join(target).canonicalize().unwrap(),
            root.join(ALERTS).canonicalize().unwrap()
        );
    }
}
