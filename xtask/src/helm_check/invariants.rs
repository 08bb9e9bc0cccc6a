//! What the rendered chart must hold, read from the manifests themselves (not from
//! the values that made them), so a template change that breaks a promise of
//! docs/operations.md fails helm-check whatever the values say.
//!
//! The workloads are found by what they run: the Deployment whose container runs
//! `junction-api` is the API, `junction-worker` the worker, and the Job running
//! `junction migrate` the migration. [`check`] returns every problem it finds, each
//! one line naming the manifest.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use serde::Deserialize;
use serde_json::{Map, Value};

/// The job queues (crates/store/src/models.rs, `Queue`); KEDA must watch each one's
/// list of due jobs.
pub(crate) const QUEUES: [&str; 5] = ["sync", "action", "webhook", "notify", "outbound"];
/// The variables that hold secrets: never literal values in a manifest.
const SECRET_ENV: [&str; 3] = ["JUNCTION_KEYS", "DATABASE_URL", "REDIS_URL"];
/// Where the app's own defaults apply when a variable is not set.
const DEFAULT_SHUTDOWN_GRACE_SECONDS: u64 = 30;
const DEFAULT_QUEUE_PREFIX: &str = "junction";
/// Kubernetes' own default.
const DEFAULT_TERMINATION_GRACE_SECONDS: u64 = 30;
/// The job names deploy/prometheus/alerts.yml uses (`up{job="junction-worker"}`).
const API_JOB: &str = "junction-api";
const WORKER_JOB: &str = "junction-worker";

/// One rendered document: its text as helm printed it (for the schema validator)
/// and its value (for the checks).
#[derive(Debug)]
pub(crate) struct Doc {
    pub text: String,
    pub value: Value,
}

/// The documents of a `helm template` output, empty ones left out. Documents are
/// split on `---` lines, which inside a YAML block scalar would be indented, so a
/// separator at the start of a line is always one.
pub(crate) fn parse(rendered: &str) -> Result<Vec<Doc>> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut flush = |text: &mut String| -> Result<()> {
        let chunk = std::mem::take(text);
        let value: Value = Value::deserialize(serde_norway::Deserializer::from_str(&chunk))
            .with_context(|| format!("parsing a rendered document:\n{chunk}"))?;
        if !value.is_null() {
            docs.push(Doc { text: chunk, value });
        }
        Ok(())
    };
    for line in rendered.lines() {
        if line == "---" || line.starts_with("--- ") {
            flush(&mut current)?;
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    flush(&mut current)?;
    Ok(docs)
}

/// Whether Kubernetes itself defines the document's kind (so the bundled schemas
/// cover it), as opposed to a CRD's (KEDA, the Prometheus Operator).
pub(crate) fn is_builtin(doc: &Value) -> bool {
    let api_version = str_at(doc, "/apiVersion");
    match api_version.split_once('/') {
        None => true,
        Some((group, _)) => !group.contains('.') || group.ends_with(".k8s.io"),
    }
}

/// Where the three secrets must come from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Secrets<'a> {
    /// Existing Secrets: the chart renders no Secret, and each variable's
    /// secretKeyRef names the given Secret.
    Existing(&'a [(&'a str, &'a str)]),
    /// The chart's own: every reference names a rendered Secret holding the key.
    Created,
}

/// What the values of one case turn on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expect<'a> {
    pub secrets: Secrets<'a>,
    pub keda: bool,
    pub hpa: bool,
    pub network_policy: bool,
    pub service_monitor: bool,
    pub prometheus_rule: bool,
}

/// Every problem of the manifests against `expect`; `alerts` is
/// deploy/prometheus/alerts.yml. Empty when all hold.
pub(crate) fn check(docs: &[Value], alerts: &Value, expect: &Expect) -> Vec<String> {
    let mut problems = Problems(Vec::new());
    let api = workload(docs, "Deployment", |c| runs(c, "junction-api", None));
    let worker = workload(docs, "Deployment", |c| runs(c, "junction-worker", None));
    let migrate = workload(docs, "Job", |c| runs(c, "junction", Some("migrate")));
    match api {
        Some(api) => check_api(api, &mut problems),
        None => problems.add("no Deployment runs junction-api"),
    }
    match worker {
        Some(worker) => check_worker(worker, &mut problems),
        None => problems.add("no Deployment runs junction-worker"),
    }
    match migrate {
        Some(job) => check_migration(job, docs, expect, &mut problems),
        None => problems.add("no Job runs `junction migrate`"),
    }
    for doc in docs {
        if let Some(spec) = pod_spec(doc) {
            check_pod_security(doc, spec, &mut problems);
        }
    }
    check_secrets(docs, expect, &mut problems);
    check_disruption_budgets(docs, &mut problems);
    check_services(docs, api, &mut problems);
    check_scaling(docs, worker, expect, &mut problems);
    check_network_policies(docs, api, worker, expect, &mut problems);
    check_service_monitors(docs, api, worker, expect, &mut problems);
    check_prometheus_rule(docs, alerts, expect, &mut problems);
    problems.0
}

struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, problem: impl Into<String>) {
        self.0.push(problem.into());
    }
}

fn check_api(api: &Value, problems: &mut Problems) {
    let who = describe(api);
    let Some(container) = runner(api, "junction-api") else {
        return;
    };
    let Some(port) = bind_port(container, "JUNCTION_BIND", problems, &who) else {
        return;
    };
    check_probe(container, "readinessProbe", "/readyz", port, &who, problems);
    check_probe(container, "livenessProbe", "/healthz", port, &who, problems);
}

fn check_worker(worker: &Value, problems: &mut Problems) {
    let who = describe(worker);
    let Some(container) = runner(worker, "junction-worker") else {
        return;
    };
    if let Some(port) = bind_port(container, "JUNCTION_WORKER__METRICS_BIND", problems, &who) {
        check_probe(container, "readinessProbe", "/readyz", port, &who, problems);
        check_probe(container, "livenessProbe", "/healthz", port, &who, problems);
    }
    let grace = match env_literal(container, "JUNCTION_WORKER__SHUTDOWN_GRACE_SECONDS") {
        None => Some(DEFAULT_SHUTDOWN_GRACE_SECONDS),
        Some(text) => text.parse::<u64>().ok(),
    };
    let Some(grace) = grace else {
        problems.add(format!(
            "{who}: JUNCTION_WORKER__SHUTDOWN_GRACE_SECONDS is not a number of seconds"
        ));
        return;
    };
    let termination = worker
        .pointer("/spec/template/spec/terminationGracePeriodSeconds")
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_TERMINATION_GRACE_SECONDS);
    if termination <= grace {
        problems.add(format!(
            "{who}: terminationGracePeriodSeconds {termination} is not above the worker's shutdown grace of {grace} s (SIGKILL would cut in-flight jobs short)"
        ));
    }
}

fn check_migration(job: &Value, docs: &[Value], expect: &Expect, problems: &mut Problems) {
    let who = describe(job);
    let events = hook_events(job);
    for event in ["pre-install", "pre-upgrade"] {
        if !events.contains(event) {
            problems.add(format!("{who}: not a {event} hook (helm.sh/hook)"));
        }
    }
    let Some(container) = runner(job, "junction") else {
        return;
    };
    let Some(reference) = secret_ref(container, "DATABASE_URL") else {
        problems.add(format!("{who}: DATABASE_URL is not read from a Secret"));
        return;
    };
    // A hook runs before the release's own resources exist: a Secret the chart
    // renders for it must be a hook too, of the same events, made before the Job.
    if let Some(secret) = find(docs, "Secret", reference.0) {
        let secret_events = hook_events(secret);
        if !events.iter().all(|event| secret_events.contains(event))
            || hook_weight(secret) >= hook_weight(job)
        {
            problems.add(format!(
                "{who}: its Secret {} is not a hook made before it, so it does not exist yet when the Job runs",
                reference.0
            ));
        }
    } else if matches!(expect.secrets, Secrets::Created) {
        problems.add(format!(
            "{who}: DATABASE_URL names Secret {}, which the chart does not render",
            reference.0
        ));
    }
}

/// Every container of every pod: not root, no privilege escalation, no
/// capabilities, a read-only root filesystem, the default seccomp profile, and
/// requests and limits for CPU and memory.
fn check_pod_security(doc: &Value, spec: &Value, problems: &mut Problems) {
    let who = describe(doc);
    let pod = spec.get("securityContext").unwrap_or(&Value::Null);
    for container in containers(spec) {
        let name = format!("{who} container {}", str_at(container, "/name"));
        let own = container.get("securityContext").unwrap_or(&Value::Null);
        let setting = |key: &str| own.get(key).or_else(|| pod.get(key));
        if setting("runAsNonRoot") != Some(&Value::Bool(true)) {
            problems.add(format!("{name}: runAsNonRoot is not true"));
        }
        if setting("runAsUser").and_then(Value::as_u64) == Some(0) {
            problems.add(format!("{name}: runs as uid 0"));
        }
        if own.get("allowPrivilegeEscalation") != Some(&Value::Bool(false)) {
            problems.add(format!("{name}: allowPrivilegeEscalation is not false"));
        }
        if own.get("readOnlyRootFilesystem") != Some(&Value::Bool(true)) {
            problems.add(format!("{name}: readOnlyRootFilesystem is not true"));
        }
        let drops_all = own
            .pointer("/capabilities/drop")
            .and_then(Value::as_array)
            .is_some_and(|drop| drop.iter().any(|c| c == "ALL"));
        if !drops_all {
            problems.add(format!("{name}: capabilities do not drop ALL"));
        }
        if setting("seccompProfile").and_then(|p| p.get("type"))
            != Some(&json_str("RuntimeDefault"))
        {
            problems.add(format!("{name}: seccompProfile is not RuntimeDefault"));
        }
        for bound in ["requests", "limits"] {
            for resource in ["cpu", "memory"] {
                if container
                    .pointer(&format!("/resources/{bound}/{resource}"))
                    .is_none()
                {
                    problems.add(format!("{name}: no {resource} in resources.{bound}"));
                }
            }
        }
    }
}

/// Secrets reach containers only through secretKeyRef: the API and the worker read
/// all three, and each reference names a Secret that exists (rendered with the key,
/// or the expected existing one).
fn check_secrets(docs: &[Value], expect: &Expect, problems: &mut Problems) {
    let rendered: Vec<&Value> = docs.iter().filter(|d| kind(d) == "Secret").collect();
    if let Secrets::Existing(_) = expect.secrets {
        for secret in &rendered {
            problems.add(format!(
                "{}: rendered although the values name existing Secrets",
                describe(secret)
            ));
        }
    }
    for doc in docs {
        let Some(spec) = pod_spec(doc) else { continue };
        for container in containers(spec) {
            let who = format!("{} container {}", describe(doc), str_at(container, "/name"));
            for var in env(container) {
                let name = str_at(var, "/name");
                if !SECRET_ENV.contains(&name) {
                    continue;
                }
                if var.get("value").is_some() {
                    problems.add(format!(
                        "{who}: {name} is a literal value, not a secretKeyRef"
                    ));
                    continue;
                }
                let Some((secret, key)) = secret_ref(container, name) else {
                    problems.add(format!("{who}: {name} is not read through secretKeyRef"));
                    continue;
                };
                match expect.secrets {
                    Secrets::Existing(names) => {
                        let wanted = names.iter().find(|(var, _)| *var == name);
                        if let Some((_, wanted)) = wanted
                            && *wanted != secret
                        {
                            problems.add(format!(
                                "{who}: {name} names Secret {secret}, not the existing {wanted}"
                            ));
                        }
                    }
                    Secrets::Created => {
                        let holds = rendered.iter().any(|s| {
                            str_at(s, "/metadata/name") == secret
                                && (s.pointer(&format!("/data/{key}")).is_some()
                                    || s.pointer(&format!("/stringData/{key}")).is_some())
                        });
                        if !holds {
                            problems.add(format!(
                                "{who}: {name} names key {key} of Secret {secret}, which no rendered Secret holds"
                            ));
                        }
                    }
                }
            }
        }
    }
    for program in ["junction-api", "junction-worker"] {
        let Some(deployment) = workload(docs, "Deployment", |c| runs(c, program, None)) else {
            continue;
        };
        let Some(container) = runner(deployment, program) else {
            continue;
        };
        for name in SECRET_ENV {
            if env(container).all(|var| str_at(var, "/name") != name) {
                problems.add(format!("{}: {name} is not set", describe(deployment)));
            }
        }
        // Environment variables are read when a container starts: a changed Secret
        // of the chart's must change the pod template to reach running pods.
        if matches!(expect.secrets, Secrets::Created)
            && deployment
                .pointer("/spec/template/metadata/annotations/checksum~1secret")
                .is_none()
        {
            problems.add(format!(
                "{}: no checksum/secret annotation, so a changed Secret would not restart its pods",
                describe(deployment)
            ));
        }
    }
    for config_map in docs.iter().filter(|d| kind(d) == "ConfigMap") {
        for name in SECRET_ENV {
            if config_map.pointer(&format!("/data/{name}")).is_some() {
                problems.add(format!("{}: holds {name}", describe(config_map)));
            }
        }
    }
}

/// Each Deployment has exactly one PodDisruptionBudget, and each budget selects the
/// pods of exactly one Deployment.
fn check_disruption_budgets(docs: &[Value], problems: &mut Problems) {
    let deployments: Vec<&Value> = docs.iter().filter(|d| kind(d) == "Deployment").collect();
    let budgets: Vec<&Value> = docs
        .iter()
        .filter(|d| kind(d) == "PodDisruptionBudget")
        .collect();
    for budget in &budgets {
        let selected: Vec<&&Value> = deployments
            .iter()
            .filter(|d| selects(budget.pointer("/spec/selector"), pod_labels(d)))
            .collect();
        if selected.len() != 1 {
            problems.add(format!(
                "{}: selects the pods of {} Deployments, not of exactly one",
                describe(budget),
                selected.len()
            ));
        }
    }
    for deployment in &deployments {
        let covering = budgets
            .iter()
            .filter(|b| selects(b.pointer("/spec/selector"), pod_labels(deployment)))
            .count();
        if covering != 1 {
            problems.add(format!(
                "{}: {covering} PodDisruptionBudgets select its pods, not exactly one",
                describe(deployment)
            ));
        }
    }
}

/// A Service selects the API pods (and no worker's) on the API's port; every
/// Service selects the pods of exactly one Deployment and targets ports they have.
fn check_services(docs: &[Value], api: Option<&Value>, problems: &mut Problems) {
    let deployments: Vec<&Value> = docs.iter().filter(|d| kind(d) == "Deployment").collect();
    let mut api_served = false;
    for service in docs.iter().filter(|d| kind(d) == "Service") {
        let who = describe(service);
        let selector = service.pointer("/spec/selector");
        let selected: Vec<&&Value> = deployments
            .iter()
            .filter(|d| selects_labels(selector, pod_labels(d)))
            .collect();
        let [deployment] = selected.as_slice() else {
            problems.add(format!(
                "{who}: selects the pods of {} Deployments, not of exactly one",
                selected.len()
            ));
            continue;
        };
        let ports = service
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for port in ports {
            let target = port.get("targetPort").or_else(|| port.get("port"));
            let resolved = target.and_then(|t| resolve_port(deployment, t));
            if resolved.is_none() {
                problems.add(format!(
                    "{who}: port {} targets no port of {}",
                    str_at(port, "/name"),
                    describe(deployment)
                ));
            }
            if let Some(api) = api
                && std::ptr::eq(**deployment, api)
                && resolved.is_some()
                && resolved == api_port(api)
            {
                api_served = true;
            }
        }
    }
    if api.is_some() && !api_served {
        problems.add("no Service selects the API pods on the API's port");
    }
}

/// KEDA or the HPA scale the worker Deployment (and leave its replicas alone), never
/// both; KEDA watches every queue's list of due jobs.
fn check_scaling(docs: &[Value], worker: Option<&Value>, expect: &Expect, problems: &mut Problems) {
    let scaled_objects: Vec<&Value> = docs.iter().filter(|d| kind(d) == "ScaledObject").collect();
    let hpas: Vec<&Value> = docs
        .iter()
        .filter(|d| kind(d) == "HorizontalPodAutoscaler")
        .collect();
    let Some(worker) = worker else { return };
    let worker_name = str_at(worker, "/metadata/name");
    if expect.keda {
        if !hpas.is_empty() {
            problems.add("an HorizontalPodAutoscaler is rendered although KEDA scales the workers (KEDA makes its own)");
        }
        match scaled_objects.as_slice() {
            [scaled] => check_scaled_object(docs, scaled, worker, problems),
            other => problems.add(format!(
                "{} ScaledObjects rendered, not the one KEDA needs",
                other.len()
            )),
        }
    } else if !scaled_objects.is_empty() {
        problems.add("a ScaledObject is rendered although KEDA is off");
    }
    if expect.hpa && !expect.keda {
        let targets_worker = hpas.iter().any(|hpa| {
            str_at(hpa, "/spec/scaleTargetRef/kind") == "Deployment"
                && str_at(hpa, "/spec/scaleTargetRef/name") == worker_name
        });
        if !targets_worker {
            problems.add(format!(
                "no HorizontalPodAutoscaler targets Deployment {worker_name}"
            ));
        }
    } else if !expect.keda && !hpas.is_empty() {
        problems.add("an HorizontalPodAutoscaler is rendered although autoscaling is off");
    }
    let scaled = expect.keda || expect.hpa;
    if scaled && worker.pointer("/spec/replicas").is_some() {
        problems.add(format!(
            "{}: sets replicas although an autoscaler owns them (every upgrade would reset them)",
            describe(worker)
        ));
    }
}

fn check_scaled_object(docs: &[Value], scaled: &Value, worker: &Value, problems: &mut Problems) {
    let who = describe(scaled);
    if str_at(scaled, "/apiVersion") != "keda.sh/v1alpha1" {
        problems.add(format!("{who}: apiVersion is not keda.sh/v1alpha1"));
    }
    allowed_keys(
        scaled.get("spec"),
        &[
            "scaleTargetRef",
            "pollingInterval",
            "cooldownPeriod",
            "initialCooldownPeriod",
            "idleReplicaCount",
            "minReplicaCount",
            "maxReplicaCount",
            "fallback",
            "advanced",
            "triggers",
        ],
        &format!("{who} spec"),
        problems,
    );
    let target_kind = scaled
        .pointer("/spec/scaleTargetRef/kind")
        .and_then(Value::as_str)
        .unwrap_or("Deployment");
    if target_kind != "Deployment"
        || str_at(scaled, "/spec/scaleTargetRef/name") != str_at(worker, "/metadata/name")
    {
        problems.add(format!(
            "{who}: scaleTargetRef is not the worker Deployment {}",
            str_at(worker, "/metadata/name")
        ));
    }
    if scaled
        .pointer("/spec/minReplicaCount")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        < 1
    {
        problems.add(format!(
            "{who}: minReplicaCount below 1 would stop the scheduler and the outbox relay that fill the queues"
        ));
    }
    let prefix = runner(worker, "junction-worker")
        .and_then(|c| env_literal(c, "JUNCTION_QUEUE_PREFIX"))
        .unwrap_or(DEFAULT_QUEUE_PREFIX);
    let prefix = normalize_prefix(prefix);
    let triggers = scaled
        .pointer("/spec/triggers")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let lists: BTreeSet<&str> = triggers
        .iter()
        .filter(|t| str_at(t, "/type") == "redis")
        .map(|t| str_at(t, "/metadata/listName"))
        .collect();
    for queue in QUEUES {
        let list = format!("{prefix}jobs:{queue}:active");
        if !lists.contains(list.as_str()) {
            problems.add(format!("{who}: no redis trigger on the list {list}"));
        }
    }
    for trigger in triggers {
        let metadata = trigger.get("metadata").and_then(Value::as_object);
        let Some(metadata) = metadata else {
            problems.add(format!("{who}: a trigger has no metadata"));
            continue;
        };
        // KEDA reads trigger metadata as a map of strings.
        if let Some((key, _)) = metadata.iter().find(|(_, v)| !v.is_string()) {
            problems.add(format!("{who}: trigger metadata {key} is not a string"));
        }
        if !metadata.contains_key("address") && !metadata.contains_key("host") {
            problems.add(format!("{who}: a redis trigger names no address"));
        }
        if let Some(auth) = trigger
            .pointer("/authenticationRef/name")
            .and_then(Value::as_str)
        {
            match find(docs, "TriggerAuthentication", auth) {
                Some(found) => check_trigger_authentication(found, problems),
                None => problems.add(format!(
                    "{who}: authenticationRef names TriggerAuthentication {auth}, which is not rendered"
                )),
            }
        }
    }
}

fn check_trigger_authentication(auth: &Value, problems: &mut Problems) {
    let who = describe(auth);
    if str_at(auth, "/apiVersion") != "keda.sh/v1alpha1" {
        problems.add(format!("{who}: apiVersion is not keda.sh/v1alpha1"));
    }
    let refs = auth
        .pointer("/spec/secretTargetRef")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if refs.is_empty() {
        problems.add(format!("{who}: no secretTargetRef"));
    }
    for reference in refs {
        for field in ["parameter", "name", "key"] {
            if str_at(reference, &format!("/{field}")).is_empty() {
                problems.add(format!("{who}: a secretTargetRef has no {field}"));
            }
        }
    }
}

/// With NetworkPolicies on, the API and worker pods are each selected by one that
/// lets in their port and lets out DNS and HTTPS.
fn check_network_policies(
    docs: &[Value],
    api: Option<&Value>,
    worker: Option<&Value>,
    expect: &Expect,
    problems: &mut Problems,
) {
    let policies: Vec<&Value> = docs.iter().filter(|d| kind(d) == "NetworkPolicy").collect();
    if !expect.network_policy {
        if !policies.is_empty() {
            problems.add("a NetworkPolicy is rendered although the values turn them off");
        }
        return;
    }
    if policies.is_empty() {
        problems.add("no NetworkPolicy is rendered");
        return;
    }
    for (workload, port) in [
        (api, api.and_then(api_port)),
        (worker, worker.and_then(worker_port)),
    ] {
        let (Some(workload), Some(port)) = (workload, port) else {
            continue;
        };
        let mine: Vec<&&Value> = policies
            .iter()
            .filter(|p| selects(p.pointer("/spec/podSelector"), pod_labels(workload)))
            .collect();
        if mine.is_empty() {
            problems.add(format!(
                "{}: no NetworkPolicy selects its pods",
                describe(workload)
            ));
            continue;
        }
        let rule_ports = |direction: &str| -> Vec<Value> {
            mine.iter()
                .filter_map(|p| p.pointer(&format!("/spec/{direction}")))
                .filter_map(Value::as_array)
                .flatten()
                .filter_map(|rule| rule.get("ports").and_then(Value::as_array))
                .flatten()
                .filter_map(|p| p.get("port").cloned())
                .collect()
        };
        let admits = rule_ports("ingress")
            .iter()
            .any(|p| resolve_port(workload, p) == Some(port));
        if !admits {
            problems.add(format!(
                "{}: its NetworkPolicy does not let in port {port}",
                describe(workload)
            ));
        }
        let egress = rule_ports("egress");
        for (needed, what) in [(53, "DNS"), (443, "HTTPS")] {
            if !egress.iter().any(|p| p.as_u64() == Some(needed)) {
                problems.add(format!(
                    "{}: its NetworkPolicy does not let out {what} (port {needed})",
                    describe(workload)
                ));
            }
        }
    }
}

/// With ServiceMonitors on, the API and the workers are each scraped on their
/// metrics port at /metrics under the job name the alerts use.
fn check_service_monitors(
    docs: &[Value],
    api: Option<&Value>,
    worker: Option<&Value>,
    expect: &Expect,
    problems: &mut Problems,
) {
    let monitors: Vec<&Value> = docs
        .iter()
        .filter(|d| kind(d) == "ServiceMonitor")
        .collect();
    if !expect.service_monitor {
        if !monitors.is_empty() {
            problems.add("a ServiceMonitor is rendered although the values turn it off");
        }
        return;
    }
    for monitor in &monitors {
        let who = describe(monitor);
        if str_at(monitor, "/apiVersion") != "monitoring.coreos.com/v1" {
            problems.add(format!("{who}: apiVersion is not monitoring.coreos.com/v1"));
        }
        allowed_keys(
            monitor.get("spec"),
            &[
                "jobLabel",
                "targetLabels",
                "podTargetLabels",
                "endpoints",
                "selector",
                "namespaceSelector",
                "sampleLimit",
                "targetLimit",
                "labelLimit",
                "labelNameLengthLimit",
                "labelValueLengthLimit",
                "attachMetadata",
                "scrapeProtocols",
                "scrapeClass",
                "bodySizeLimit",
                "keepDroppedTargets",
                "fallbackScrapeProtocol",
            ],
            &format!("{who} spec"),
            problems,
        );
        for endpoint in array_at(monitor, "/spec/endpoints") {
            allowed_keys(
                Some(endpoint),
                &[
                    "port",
                    "targetPort",
                    "path",
                    "scheme",
                    "params",
                    "interval",
                    "scrapeTimeout",
                    "tlsConfig",
                    "bearerTokenFile",
                    "bearerTokenSecret",
                    "authorization",
                    "honorLabels",
                    "honorTimestamps",
                    "trackTimestampsStaleness",
                    "basicAuth",
                    "oauth2",
                    "metricRelabelings",
                    "relabelings",
                    "proxyUrl",
                    "followRedirects",
                    "enableHttp2",
                    "filterRunning",
                ],
                &format!("{who} endpoint"),
                problems,
            );
        }
    }
    let services: Vec<&Value> = docs.iter().filter(|d| kind(d) == "Service").collect();
    for (workload, port, job) in [
        (api, api.and_then(api_port), API_JOB),
        (worker, worker.and_then(worker_port), WORKER_JOB),
    ] {
        let (Some(workload), Some(port)) = (workload, port) else {
            continue;
        };
        let scraped = monitors.iter().any(|monitor| {
            services.iter().any(|service| {
                selects(monitor.pointer("/spec/selector"), labels(service))
                    && selects_labels(service.pointer("/spec/selector"), pod_labels(workload))
                    && array_at(monitor, "/spec/endpoints").iter().any(|endpoint| {
                        let path = endpoint
                            .get("path")
                            .and_then(Value::as_str)
                            .unwrap_or("/metrics");
                        path == "/metrics"
                            && service_port_target(service, str_at(endpoint, "/port"))
                                .and_then(|target| resolve_port(workload, target))
                                == Some(port)
                            && sets_job(endpoint, job)
                    })
            })
        });
        if !scraped {
            problems.add(format!(
                "{}: no ServiceMonitor scrapes /metrics on port {port} as job {job}",
                describe(workload)
            ));
        }
    }
}

/// With the PrometheusRule on, it holds exactly the alerts of
/// deploy/prometheus/alerts.yml, each the same (name, expression and the rest).
fn check_prometheus_rule(docs: &[Value], alerts: &Value, expect: &Expect, problems: &mut Problems) {
    let rules: Vec<&Value> = docs
        .iter()
        .filter(|d| kind(d) == "PrometheusRule")
        .collect();
    if !expect.prometheus_rule {
        if !rules.is_empty() {
            problems.add("a PrometheusRule is rendered although the values turn it off");
        }
        return;
    }
    let [rule] = rules.as_slice() else {
        problems.add(format!("{} PrometheusRules rendered, not one", rules.len()));
        return;
    };
    let who = describe(rule);
    if str_at(rule, "/apiVersion") != "monitoring.coreos.com/v1" {
        problems.add(format!("{who}: apiVersion is not monitoring.coreos.com/v1"));
    }
    allowed_keys(
        rule.get("spec"),
        &["groups"],
        &format!("{who} spec"),
        problems,
    );
    let rendered = alert_rules(rule.get("spec").unwrap_or(&Value::Null));
    let source = alert_rules(alerts);
    if source.is_empty() {
        problems.add("deploy/prometheus/alerts.yml holds no alert");
    }
    for (name, wanted) in &source {
        match rendered.get(name) {
            None => problems.add(format!("{who}: alert {name} of alerts.yml is missing")),
            Some(found) if expr(found) != expr(wanted) => problems.add(format!(
                "{who}: alert {name} has expr {:?}, alerts.yml has {:?}",
                expr(found),
                expr(wanted)
            )),
            Some(found) if found != wanted => problems.add(format!(
                "{who}: alert {name} differs from alerts.yml (for, labels or annotations)"
            )),
            Some(_) => {}
        }
    }
    for name in rendered.keys().filter(|name| !source.contains_key(*name)) {
        problems.add(format!("{who}: alert {name} is not in alerts.yml"));
    }
    for group in array_at(rule, "/spec/groups") {
        if str_at(group, "/name").is_empty() {
            problems.add(format!("{who}: a rule group has no name"));
        }
        for entry in array_at(group, "/rules") {
            if expr(entry).is_empty()
                || (entry.get("alert").is_none() && entry.get("record").is_none())
            {
                problems.add(format!(
                    "{who}: a rule lacks expr, or both alert and record"
                ));
            }
        }
    }
}

// ---- reading manifests ----

fn kind(doc: &Value) -> &str {
    str_at(doc, "/kind")
}

fn describe(doc: &Value) -> String {
    format!("{} {}", kind(doc), str_at(doc, "/metadata/name"))
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn array_at<'a>(value: &'a Value, pointer: &str) -> &'a [Value] {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn json_str(text: &str) -> Value {
    Value::String(text.to_owned())
}

fn find<'a>(docs: &'a [Value], kind_name: &str, name: &str) -> Option<&'a Value> {
    docs.iter()
        .find(|d| kind(d) == kind_name && str_at(d, "/metadata/name") == name)
}

fn pod_spec(doc: &Value) -> Option<&Value> {
    match kind(doc) {
        "Deployment" | "StatefulSet" | "DaemonSet" | "Job" | "ReplicaSet" => {
            doc.pointer("/spec/template/spec")
        }
        "CronJob" => doc.pointer("/spec/jobTemplate/spec/template/spec"),
        "Pod" => doc.get("spec"),
        _ => None,
    }
}

fn pod_labels(doc: &Value) -> Option<&Map<String, Value>> {
    doc.pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
}

fn labels(doc: &Value) -> Option<&Map<String, Value>> {
    doc.pointer("/metadata/labels").and_then(Value::as_object)
}

fn containers(spec: &Value) -> impl Iterator<Item = &Value> {
    ["containers", "initContainers"]
        .into_iter()
        .flat_map(|key| {
            spec.get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
}

fn env(container: &Value) -> impl Iterator<Item = &Value> {
    container
        .get("env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// The last definition of `name` (Kubernetes lets a later one win).
fn env_var<'a>(container: &'a Value, name: &str) -> Option<&'a Value> {
    env(container)
        .filter(|var| str_at(var, "/name") == name)
        .last()
}

fn env_literal<'a>(container: &'a Value, name: &str) -> Option<&'a str> {
    env_var(container, name).and_then(|var| var.get("value")?.as_str())
}

/// (Secret name, key) of a variable read through secretKeyRef.
fn secret_ref<'a>(container: &'a Value, name: &str) -> Option<(&'a str, &'a str)> {
    let reference = env_var(container, name)?.pointer("/valueFrom/secretKeyRef")?;
    Some((str_at(reference, "/name"), str_at(reference, "/key")))
}

/// Whether a container runs `program` (the last part of its command, or of its
/// args when there is no command) with `argument` among its arguments.
fn runs(container: &Value, program: &str, argument: Option<&str>) -> bool {
    let words: Vec<&str> = ["command", "args"]
        .into_iter()
        .flat_map(|key| array_at(container, &format!("/{key}")))
        .filter_map(Value::as_str)
        .collect();
    let Some(first) = words.first() else {
        return false;
    };
    first.rsplit('/').next() == Some(program)
        && argument.is_none_or(|arg| words[1..].contains(&arg))
}

/// The first `kind` whose pod has a container matching `test`.
fn workload<'a>(
    docs: &'a [Value],
    kind_name: &str,
    test: impl Fn(&Value) -> bool,
) -> Option<&'a Value> {
    docs.iter()
        .filter(|d| kind(d) == kind_name)
        .find(|d| pod_spec(d).is_some_and(|spec| containers(spec).any(&test)))
}

fn runner<'a>(workload: &'a Value, program: &str) -> Option<&'a Value> {
    containers(pod_spec(workload)?).find(|c| runs(c, program, None))
}

/// The port a bind variable (`host:port`) listens on, reachable from the pod's IP
/// (the kubelet probes there, so a loopback bind fails every probe).
fn bind_port(container: &Value, variable: &str, problems: &mut Problems, who: &str) -> Option<u64> {
    let Some(bind) = env_literal(container, variable) else {
        problems.add(format!("{who}: {variable} is not set"));
        return None;
    };
    let Some((host, port)) = bind.rsplit_once(':') else {
        problems.add(format!("{who}: {variable}={bind} is not host:port"));
        return None;
    };
    if !matches!(host, "0.0.0.0" | "[::]" | "::") {
        problems.add(format!(
            "{who}: {variable}={bind} is not reachable from outside the pod (probes and Services need all interfaces)"
        ));
    }
    let port = port.parse().ok();
    if port.is_none() {
        problems.add(format!("{who}: {variable}={bind} has no port number"));
    }
    port
}

fn api_port(api: &Value) -> Option<u64> {
    port_of(api, "junction-api", "JUNCTION_BIND")
}

fn worker_port(worker: &Value) -> Option<u64> {
    port_of(worker, "junction-worker", "JUNCTION_WORKER__METRICS_BIND")
}

fn port_of(workload: &Value, program: &str, variable: &str) -> Option<u64> {
    env_literal(runner(workload, program)?, variable)?
        .rsplit_once(':')?
        .1
        .parse()
        .ok()
}

/// A port number, or a port name of one of the workload's containers, as a number.
fn resolve_port(workload: &Value, port: &Value) -> Option<u64> {
    if let Some(number) = port.as_u64() {
        return Some(number);
    }
    let name = port.as_str()?;
    if let Ok(number) = name.parse() {
        return Some(number);
    }
    containers(pod_spec(workload)?)
        .flat_map(|c| array_at(c, "/ports"))
        .find(|p| str_at(p, "/name") == name)
        .and_then(|p| p.get("containerPort")?.as_u64())
}

fn check_probe(
    container: &Value,
    probe: &str,
    path: &str,
    port: u64,
    who: &str,
    problems: &mut Problems,
) {
    let Some(get) = container.pointer(&format!("/{probe}/httpGet")) else {
        problems.add(format!("{who}: no {probe} with httpGet"));
        return;
    };
    if str_at(get, "/path") != path {
        problems.add(format!(
            "{who}: {probe} asks {:?}, not {path}",
            str_at(get, "/path")
        ));
    }
    let container_ports = array_at(container, "/ports");
    let resolved = match get.get("port") {
        Some(Value::String(name)) => container_ports
            .iter()
            .find(|p| str_at(p, "/name") == name)
            .and_then(|p| p.get("containerPort")?.as_u64()),
        Some(other) => other.as_u64(),
        None => None,
    };
    if resolved != Some(port) {
        problems.add(format!(
            "{who}: {probe} is not on port {port}, where the process listens"
        ));
    }
}

/// A label selector (`matchLabels`) that selects the given labels; a selector with
/// nothing to match selects nothing here (an empty one would select every pod).
fn selects(selector: Option<&Value>, labels: Option<&Map<String, Value>>) -> bool {
    let Some(selector) = selector else {
        return false;
    };
    if selector.get("matchExpressions").is_some() {
        // The chart renders none; a selector using them is not one this check reads.
        return false;
    }
    selects_labels(selector.get("matchLabels"), labels)
}

/// A plain label map (a Service's selector, or `matchLabels`) that is non-empty and
/// contained in `labels`.
fn selects_labels(selector: Option<&Value>, labels: Option<&Map<String, Value>>) -> bool {
    let (Some(selector), Some(labels)) = (selector.and_then(Value::as_object), labels) else {
        return false;
    };
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn service_port_target<'a>(service: &'a Value, name: &str) -> Option<&'a Value> {
    array_at(service, "/spec/ports")
        .iter()
        .find(|p| str_at(p, "/name") == name)
        .map(|p| p.get("targetPort").or_else(|| p.get("port")))?
}

/// Whether an endpoint's relabelings set the job label to `job`.
fn sets_job(endpoint: &Value, job: &str) -> bool {
    array_at(endpoint, "/relabelings").iter().any(|r| {
        str_at(r, "/targetLabel") == "job"
            && str_at(r, "/replacement") == job
            && matches!(
                r.get("action").and_then(Value::as_str),
                None | Some("replace")
            )
    })
}

fn hook_events(doc: &Value) -> BTreeSet<&str> {
    str_at(doc, "/metadata/annotations/helm.sh~1hook")
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect()
}

fn hook_weight(doc: &Value) -> i64 {
    str_at(doc, "/metadata/annotations/helm.sh~1hook-weight")
        .parse()
        .unwrap_or(0)
}

/// Alerting rules by name, from a document holding `groups`.
fn alert_rules(doc: &Value) -> BTreeMap<&str, &Value> {
    array_at(doc, "/groups")
        .iter()
        .flat_map(|g| array_at(g, "/rules"))
        .filter_map(|r| Some((r.get("alert")?.as_str()?, r)))
        .collect()
}

fn expr(rule: &Value) -> &str {
    str_at(rule, "/expr").trim()
}

/// Problems for keys of `object` not in `allowed` (a typo a CRD's schema would
/// refuse, checked here since the bundled schemas have none of these CRDs).
fn allowed_keys(object: Option<&Value>, allowed: &[&str], who: &str, problems: &mut Problems) {
    let Some(object) = object.and_then(Value::as_object) else {
        problems.add(format!("{who}: missing"));
        return;
    };
    for key in object.keys().filter(|k| !allowed.contains(&k.as_str())) {
        problems.add(format!("{who}: unknown field {key}"));
    }
}

/// The Redis key prefix as junction-jobs normalises it (crates/jobs/src/queue.rs).
fn normalize_prefix(prefix: &str) -> String {
    if prefix.is_empty() || prefix.ends_with(':') {
        prefix.to_owned()
    } else {
        format!("{prefix}:")
    }
}

#[cfg(test)]
mod tests;
