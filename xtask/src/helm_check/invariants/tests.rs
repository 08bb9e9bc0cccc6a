//! The checker against small manifests: good ones pass, and each promise broken on
//! its own is reported.

use serde_json::json;

use super::*;

/// A release as the chart renders it with KEDA, NetworkPolicies, ServiceMonitors
/// and the PrometheusRule on, and secrets from existing Secrets; pared down to what
/// the checks read.
const GOOD: &str = r#"
---
# Source: junction/templates/api-deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: junction-api}
spec:
  replicas: 2
  selector: {matchLabels: {app.kubernetes.io/instance: junction, app.kubernetes.io/component: api}}
  template:
    metadata: {labels: {app.kubernetes.io/instance: junction, app.kubernetes.io/component: api}}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 10001, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: api
          image: junction:0.1.0
          command: ["/usr/local/bin/junction-api"]
          ports: [{name: http, containerPort: 8080}]
          env:
            - {name: JUNCTION_BIND, value: "0.0.0.0:8080"}
            - {name: JUNCTION_KEYS, valueFrom: {secretKeyRef: {name: junction-secrets, key: JUNCTION_KEYS}}}
            - {name: DATABASE_URL, valueFrom: {secretKeyRef: {name: postgres-app, key: uri}}}
            - {name: REDIS_URL, valueFrom: {secretKeyRef: {name: junction-secrets, key: REDIS_URL}}}
            - {name: JUNCTION_QUEUE_PREFIX, value: junction}
          readinessProbe: {httpGet: {path: /readyz, port: http}}
          livenessProbe: {httpGet: {path: /healthz, port: http}}
          resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: "1", memory: 256Mi}}
          securityContext:
            runAsNonRoot: true
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
            seccompProfile: {type: RuntimeDefault}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: junction-worker}
spec:
  selector: {matchLabels: {app.kubernetes.io/instance: junction, app.kubernetes.io/component: worker}}
  template:
    metadata: {labels: {app.kubernetes.io/instance: junction, app.kubernetes.io/component: worker}}
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      terminationGracePeriodSeconds: 45
      containers:
        - name: worker
          image: junction:0.1.0
          command: ["/usr/local/bin/junction-worker"]
          ports: [{name: metrics, containerPort: 9090}]
          env:
            - {name: JUNCTION_WORKER__METRICS_BIND, value: "0.0.0.0:9090"}
            - {name: JUNCTION_WORKER__SHUTDOWN_GRACE_SECONDS, value: "30"}
            - {name: JUNCTION_KEYS, valueFrom: {secretKeyRef: {name: junction-secrets, key: JUNCTION_KEYS}}}
            - {name: DATABASE_URL, valueFrom: {secretKeyRef: {name: postgres-app, key: uri}}}
            - {name: REDIS_URL, valueFrom: {secretKeyRef: {name: junction-secrets, key: REDIS_URL}}}
            - {name: JUNCTION_QUEUE_PREFIX, value: junction}
          readinessProbe: {httpGet: {path: /readyz, port: metrics}}
          livenessProbe: {httpGet: {path: /healthz, port: 9090}}
          resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: "1", memory: 256Mi}}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: junction-migrate
  annotations: {helm.sh/hook: "pre-install,pre-upgrade", helm.sh/hook-weight: "0"}
spec:
  template:
    metadata: {labels: {app.kubernetes.io/instance: junction, app.kubernetes.io/component: migrate}}
    spec:
      restartPolicy: Never
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: migrate
          image: junction:0.1.0
          command: ["/usr/local/bin/junction", "migrate"]
          env:
            - {name: DATABASE_URL, valueFrom: {secretKeyRef: {name: postgres-app, key: uri}}}
          resources: {requests: {cpu: 50m, memory: 32Mi}, limits: {cpu: 500m, memory: 128Mi}}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
---
apiVersion: v1
kind: Service
metadata: {name: junction-api, labels: {app.kubernetes.io/component: api}}
spec:
  selector: {app.kubernetes.io/instance: junction, app.kubernetes.io/component: api}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: junction-worker-metrics, labels: {app.kubernetes.io/component: worker}}
spec:
  clusterIP: None
  selector: {app.kubernetes.io/instance: junction, app.kubernetes.io/component: worker}
  ports: [{name: metrics, port: 9090, targetPort: metrics}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: junction-api}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app.kubernetes.io/instance: junction, app.kubernetes.io/component: api}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: junction-worker}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app.kubernetes.io/instance: junction, app.kubernetes.io/component: worker}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: junction-api}
spec:
  podSelector: {matchLabels: {app.kubernetes.io/component: api}}
  policyTypes: [Ingress, Egress]
  ingress: [{ports: [{port: http}]}]
  egress: [{ports: [{port: 53, protocol: UDP}]}, {ports: [{port: 5432}]}, {ports: [{port: 443}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: junction-worker}
spec:
  podSelector: {matchLabels: {app.kubernetes.io/component: worker}}
  policyTypes: [Ingress, Egress]
  ingress: [{ports: [{port: 9090}]}]
  egress: [{ports: [{port: 53, protocol: UDP}]}, {ports: [{port: 443}]}]
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata: {name: junction-worker}
spec:
  secretTargetRef: [{parameter: password, name: redis-auth, key: password}]
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: junction-worker}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: junction-worker}
  minReplicaCount: 1
  maxReplicaCount: 10
  triggers:
    - {type: redis, metadata: {address: "redis:6379", listName: "junction:jobs:sync:active", listLength: "16"}, authenticationRef: {name: junction-worker}}
    - {type: redis, metadata: {address: "redis:6379", listName: "junction:jobs:action:active", listLength: "16"}, authenticationRef: {name: junction-worker}}
    - {type: redis, metadata: {address: "redis:6379", listName: "junction:jobs:webhook:active", listLength: "32"}, authenticationRef: {name: junction-worker}}
    - {type: redis, metadata: {address: "redis:6379", listName: "junction:jobs:notify:active", listLength: "32"}, authenticationRef: {name: junction-worker}}
    - {type: redis, metadata: {address: "redis:6379", listName: "junction:jobs:outbound:active", listLength: "32"}, authenticationRef: {name: junction-worker}}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: junction-api}
spec:
  selector: {matchLabels: {app.kubernetes.io/component: api}}
  endpoints: [{port: http, path: /metrics, relabelings: [{action: replace, targetLabel: job, replacement: junction-api}]}]
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: junction-worker}
spec:
  selector: {matchLabels: {app.kubernetes.io/component: worker}}
  endpoints: [{port: metrics, relabelings: [{targetLabel: job, replacement: junction-worker}]}]
---
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: junction}
spec:
  # the alerts file's own comment
  groups:
    - name: junction
      rules:
        - alert: JunctionWorkerDown
          expr: absent(up{job="junction-worker"} == 1)
          for: 5m
          labels: {severity: critical}
        - alert: JunctionApiErrors
          expr: |
            sum(rate(junction_http_requests_total{status=~"5.."}[5m]))
              / sum(rate(junction_http_requests_total[5m])) > 0.05
          labels: {severity: critical}
"#;

const ALERTS: &str = r#"
groups:
  - name: junction
    rules:
      - alert: JunctionWorkerDown
        expr: absent(up{job="junction-worker"} == 1)
        for: 5m
        labels: {severity: critical}
      - alert: JunctionApiErrors
        expr: |
          sum(rate(junction_http_requests_total{status=~"5.."}[5m]))
            / sum(rate(junction_http_requests_total[5m])) > 0.05
        labels: {severity: critical}
"#;

const EXISTING: &[(&str, &str)] = &[
    ("JUNCTION_KEYS", "junction-secrets"),
    ("DATABASE_URL", "postgres-app"),
    ("REDIS_URL", "junction-secrets"),
];

const ALL_ON: Expect = Expect {
    secrets: Secrets::Existing(EXISTING),
    keda: true,
    hpa: false,
    network_policy: true,
    service_monitor: true,
    prometheus_rule: true,
};

fn good() -> Vec<Value> {
    parse(GOOD).unwrap().into_iter().map(|d| d.value).collect()
}

fn alerts() -> Value {
    serde_norway::from_str(ALERTS).unwrap()
}

fn doc<'a>(docs: &'a mut [Value], kind_name: &str, name: &str) -> &'a mut Value {
    docs.iter_mut()
        .find(|d| kind(d) == kind_name && str_at(d, "/metadata/name") == name)
        .unwrap_or_else(|| panic!("the fixture has no {kind_name} {name}"))
}

/// Sets the value at `pointer` (its parent must exist).
fn set(docs: &mut [Value], kind_name: &str, name: &str, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = doc(docs, kind_name, name);
    let parent = target.pointer_mut(parent).unwrap();
    match parent {
        Value::Object(map) => {
            map.insert(key.replace("~1", "/"), value);
        }
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = value,
        other => panic!("{pointer}: parent is {other}"),
    }
}

fn remove(docs: &mut [Value], kind_name: &str, name: &str, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = doc(docs, kind_name, name);
    match target.pointer_mut(parent).unwrap() {
        Value::Object(map) => {
            map.remove(&key.replace("~1", "/")).unwrap();
        }
        Value::Array(items) => {
            items.remove(key.parse::<usize>().unwrap());
        }
        other => panic!("{pointer}: parent is {other}"),
    }
}

fn drop_doc(docs: &mut Vec<Value>, kind_name: &str, name: &str) {
    docs.retain(|d| !(kind(d) == kind_name && str_at(d, "/metadata/name") == name));
}

/// The problems of `docs`, asserting one of them contains `needle`.
fn fails_with(docs: &[Value], expect: &Expect, needle: &str) {
    let problems = check(docs, &alerts(), expect);
    assert!(
        problems.iter().any(|p| p.contains(needle)),
        "expected a problem containing {needle:?}, got {problems:#?}"
    );
}

const API_ENV: &str = "/spec/template/spec/containers/0/env";

#[test]
fn good_manifests_pass() {
    let problems = check(&good(), &alerts(), &ALL_ON);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn good_manifests_with_an_hpa_and_created_secrets_pass() {
    let mut docs = good();
    drop_doc(&mut docs, "ScaledObject", "junction-worker");
    drop_doc(&mut docs, "TriggerAuthentication", "junction-worker");
    docs.push(json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "junction-worker"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "junction-worker"},
                 "minReplicas": 2, "maxReplicas": 10}
    }));
    docs.push(json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "junction-secrets"},
        "data": {"JUNCTION_KEYS": "aw==", "REDIS_URL": "cg=="}
    }));
    docs.push(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "postgres-app", "annotations": {
            "helm.sh/hook": "pre-install,pre-upgrade", "helm.sh/hook-weight": "-10"}},
        "data": {"uri": "cA=="}
    }));
    for deployment in ["junction-api", "junction-worker"] {
        set(
            &mut docs,
            "Deployment",
            deployment,
            "/spec/template/metadata/annotations",
            json!({"checksum/secret": "0123abcd"}),
        );
    }
    let expect = Expect {
        secrets: Secrets::Created,
        keda: false,
        hpa: true,
        ..ALL_ON
    };
    let problems = check(&docs, &alerts(), &expect);
    assert!(problems.is_empty(), "{problems:#?}");
    remove(
        &mut docs,
        "Deployment",
        "junction-worker",
        "/spec/template/metadata/annotations/checksum~1secret",
    );
    fails_with(
        &docs,
        &expect,
        "Deployment junction-worker: no checksum/secret annotation",
    );
}

#[test]
fn the_api_probes_must_ask_readyz_and_healthz() {
    let mut docs = good();
    set(
        &mut docs,
        "Deployment",
        "junction-api",
        "/spec/template/spec/containers/0/readinessProbe/httpGet/path",
        json!("/healthz"),
    );
    fails_with(
        &docs,
        &ALL_ON,
        "readinessProbe asks \"/healthz\", not /readyz",
    );
    let mut docs = good();
    remove(
        &mut docs,
        "Deployment",
        "junction-api",
        "/spec/template/spec/containers/0/livenessProbe",
    );
    fails_with(&docs, &ALL_ON, "no livenessProbe");
}

#[test]
fn the_worker_probes_must_be_on_its_metrics_port() {
    let mut docs = good();
    set(
        &mut docs,
        "Deployment",
        "junction-worker",
        "/spec/template/spec/containers/0/readinessProbe/httpGet/port",
        json!(8080),
    );
    fails_with(&docs, &ALL_ON, "readinessProbe is not on port 9090");
    let mut docs = good();
    set(
        &mut docs,
        "Deployment",
        "junction-worker",
        "/spec/template/spec/containers/0/livenessProbe/httpGet/path",
        json!("/readyz"),
    );
    fails_with(
        &docs,
        &ALL_ON,
        "livenessProbe asks \"/readyz\", not /healthz",
    );
}

#[test]
fn a_loopback_metrics_bind_is_refused() {
    let mut docs = good();
    set(
        &mut docs,
        "Deployment",
        "junction-worker",
        "/spec/template/spec/containers/0/env/0/value",
        json!("127.0.0.1:9090"),
    );
    fails_with(&docs, &ALL_ON, "is not reachable from outside the pod");
}

#[test]
fn the_termination_grace_must_exceed_the_shutdown_grace() {
    let mut docs = good();
    set(
        &mut docs,
        "Deployment",
        "junction-worker",
        "/spec/template/spec/terminationGracePeriodSeconds",
        json!(30),
    );
    fails_with(
        &docs,
        &ALL_ON,
        "terminationGracePeriodSeconds 30 is not above",
    );
    // Without the field Kubernetes gives 30 s, below a 60 s grace.
    let mut docs = good();
    remove(
        &mut docs,
        "Deployment",
        "junction-worker",
        "/spec/template/spec/terminationGracePeriodSeconds",
    );
    set(
        &mut docs,
        "Deployment",
        "junction-worker",
        "/spec/template/spec/containers/0/env/1/value",
        json!("60"),
    );
    fails_with(&docs, &ALL_ON, "of 60 s");
}

#[test]
fn the_migration_must_hook_install_and_upgrade() {
    let mut docs = good();
    set(
        &mut docs,
        "Job",
        "junction-migrate",
        "/metadata/annotations/helm.sh~1hook",
        json!("post-install"),
    );
    fails_with(&docs, &ALL_ON, "not a pre-install hook");
    fails_with(&docs, &ALL_ON, "not a pre-upgrade hook");
    let mut docs = good();
    drop_doc(&mut docs, "Job", "junction-migrate");
    fails_with(&docs, &ALL_ON, "no Job runs `junction migrate`");
}

#[test]
fn a_secret_rendered_for_the_migration_must_be_an_earlier_hook() {
    let mut docs = good();
    docs.push(json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "postgres-app"},
        "data": {"uri": "cA=="}
    }));
    fails_with(&docs, &ALL_ON, "is not a hook made before it");
}

#[test]
fn every_container_runs_unprivileged() {
    let mut docs = good();
    remove(
        &mut docs,
        "Job",
        "junction-migrate",
        "/spec/template/spec/securityContext/runAsNonRoot",
    );
    fails_with(
        &docs,
        &ALL_ON,
        "container migrate: runAsNonRoot is not true",
    );
    let mut docs = good();
    set(
        &mut docs,
        "Deployment",
        "junction-worker",
        "/spec/template/spec/containers/0/securityContext/readOnlyRootFilesystem",
        json!(false),
    );
    fails_with(&docs, &ALL_ON, "readOnlyRootFilesystem is not true");
    let mut docs = good();
    set(
        &mut docs,
        "Deployment",
        "junction-api",
        "/spec/template/spec/containers/0/securityContext/capabilities/drop",
        json!(["NET_RAW"]),
    );
    fails_with(&docs, &ALL_ON, "capabilities do not drop ALL");
    let mut docs = good();
    remove(
        &mut docs,
        "Deployment",
        "junction-worker",
        "/spec/template/spec/securityContext/seccompProfile",
    );
    fails_with(&docs, &ALL_ON, "seccompProfile is not RuntimeDefault");
}

#[test]
fn every_container_has_requests_and_limits() {
    let mut docs = good();
    remove(
        &mut docs,
        "Deployment",
        "junction-worker",
        "/spec/template/spec/containers/0/resources/limits/memory",
    );
    fails_with(&docs, &ALL_ON, "no memory in resources.limits");
    let mut docs = good();
    remove(
        &mut docs,
        "Job",
        "junction-migrate",
        "/spec/template/spec/containers/0/resources/requests",
    );
    fails_with(&docs, &ALL_ON, "no cpu in resources.requests");
}

#[test]
fn secrets_are_never_literal() {
    let mut docs = good();
    set(
        &mut docs,
        "Deployment",
        "junction-api",
        &format!("{API_ENV}/1"),
        json!({"name": "JUNCTION_KEYS", "value": "k1:AAAA"}),
    );
    fails_with(&docs, &ALL_ON, "JUNCTION_KEYS is a literal value");
    let mut docs = good();
    set(
        &mut docs,
        "Deployment",
        "junction-worker",
        "/spec/template/spec/containers/0/env/3",
        json!({"name": "DATABASE_URL", "valueFrom": {"configMapKeyRef": {"name": "db", "key": "url"}}}),
    );
    fails_with(
        &docs,
        &ALL_ON,
        "DATABASE_URL is not read through secretKeyRef",
    );
    let mut docs = good();
    remove(
        &mut docs,
        "Deployment",
        "junction-api",
        &format!("{API_ENV}/3"),
    );
    fails_with(
        &docs,
        &ALL_ON,
        "Deployment junction-api: REDIS_URL is not set",
    );
}

#[test]
fn existing_secrets_mean_no_secret_and_refs_to_them() {
    let mut docs = good();
    docs.push(json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "junction"},
        "data": {"JUNCTION_KEYS": "aw=="}
    }));
    fails_with(
        &docs,
        &ALL_ON,
        "rendered although the values name existing Secrets",
    );
    let mut docs = good();
    set(
        &mut docs,
        "Deployment",
        "junction-api",
        &format!("{API_ENV}/2/valueFrom/secretKeyRef/name"),
        json!("junction"),
    );
    fails_with(
        &docs,
        &ALL_ON,
        "DATABASE_URL names Secret junction, not the existing postgres-app",
    );
}

#[test]
fn created_secrets_must_hold_the_referenced_keys() {
    let mut docs = good();
    docs.push(json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "junction-secrets"},
        "data": {"JUNCTION_KEYS": "aw=="}
    }));
    let expect = Expect {
        secrets: Secrets::Created,
        ..ALL_ON
    };
    fails_with(
        &docs,
        &expect,
        "REDIS_URL names key REDIS_URL of Secret junction-secrets, which no rendered Secret holds",
    );
    fails_with(
        &docs,
        &expect,
        "DATABASE_URL names Secret postgres-app, which the chart does not render",
    );
}

#[test]
fn each_deployment_has_one_budget_of_its_own() {
    let mut docs = good();
    set(
        &mut docs,
        "PodDisruptionBudget",
        "junction-worker",
        "/spec/selector/matchLabels",
        json!({"app.kubernetes.io/component": "workers"}),
    );
    fails_with(
        &docs,
        &ALL_ON,
        "PodDisruptionBudget junction-worker: selects the pods of 0 Deployments",
    );
    fails_with(
        &docs,
        &ALL_ON,
        "Deployment junction-worker: 0 PodDisruptionBudgets select its pods",
    );
    let mut docs = good();
    set(
        &mut docs,
        "PodDisruptionBudget",
        "junction-api",
        "/spec/selector/matchLabels",
        json!({"app.kubernetes.io/instance": "junction"}),
    );
    fails_with(
        &docs,
        &ALL_ON,
        "PodDisruptionBudget junction-api: selects the pods of 2 Deployments",
    );
}

#[test]
fn a_service_must_select_the_api_pods_on_its_port() {
    let mut docs = good();
    set(
        &mut docs,
        "Service",
        "junction-api",
        "/spec/selector/app.kubernetes.io~1component",
        json!("web"),
    );
    fails_with(&docs, &ALL_ON, "no Service selects the API pods");
    let mut docs = good();
    set(
        &mut docs,
        "Service",
        "junction-api",
        "/spec/ports/0/targetPort",
        json!("metrics"),
    );
    fails_with(
        &docs,
        &ALL_ON,
        "port http targets no port of Deployment junction-api",
    );
}

#[test]
fn network_policies_must_be_there_and_admit_the_ports() {
    let mut docs = good();
    drop_doc(&mut docs, "NetworkPolicy", "junction-api");
    drop_doc(&mut docs, "NetworkPolicy", "junction-worker");
    fails_with(&docs, &ALL_ON, "no NetworkPolicy is rendered");
    let mut docs = good();
    set(
        &mut docs,
        "NetworkPolicy",
        "junction-worker",
        "/spec/ingress",
        json!([{"ports": [{"port": 8080}]}]),
    );
    fails_with(
        &docs,
        &ALL_ON,
        "Deployment junction-worker: its NetworkPolicy does not let in port 9090",
    );
    let mut docs = good();
    remove(&mut docs, "NetworkPolicy", "junction-api", "/spec/egress/0");
    fails_with(&docs, &ALL_ON, "does not let out DNS");
}

#[test]
fn the_prometheus_rule_carries_every_alert_unchanged() {
    let mut docs = good();
    remove(
        &mut docs,
        "PrometheusRule",
        "junction",
        "/spec/groups/0/rules/1",
    );
    fails_with(
        &docs,
        &ALL_ON,
        "alert JunctionApiErrors of alerts.yml is missing",
    );
    let mut docs = good();
    set(
        &mut docs,
        "PrometheusRule",
        "junction",
        "/spec/groups/0/rules/0/expr",
        json!("up{job=\"junction-worker\"} == 0"),
    );
    fails_with(&docs, &ALL_ON, "alert JunctionWorkerDown has expr");
    let mut docs = good();
    set(
        &mut docs,
        "PrometheusRule",
        "junction",
        "/spec/groups/0/rules/0/for",
        json!("1h"),
    );
    fails_with(
        &docs,
        &ALL_ON,
        "alert JunctionWorkerDown differs from alerts.yml",
    );
    let mut docs = good();
    drop_doc(&mut docs, "PrometheusRule", "junction");
    fails_with(&docs, &ALL_ON, "0 PrometheusRules rendered");
}

#[test]
fn keda_must_scale_the_worker_on_every_active_list() {
    let mut docs = good();
    set(
        &mut docs,
        "ScaledObject",
        "junction-worker",
        "/spec/scaleTargetRef/name",
        json!("junction-api"),
    );
    fails_with(
        &docs,
        &ALL_ON,
        "scaleTargetRef is not the worker Deployment",
    );
    let mut docs = good();
    remove(
        &mut docs,
        "ScaledObject",
        "junction-worker",
        "/spec/triggers/4",
    );
    fails_with(
        &docs,
        &ALL_ON,
        "no redis trigger on the list junction:jobs:outbound:active",
    );
    // The lists follow the worker's queue prefix.
    let mut docs = good();
    set(
        &mut docs,
        "Deployment",
        "junction-worker",
        "/spec/template/spec/containers/0/env/5/value",
        json!("prod"),
    );
    fails_with(
        &docs,
        &ALL_ON,
        "no redis trigger on the list prod:jobs:sync:active",
    );
    let mut docs = good();
    set(
        &mut docs,
        "ScaledObject",
        "junction-worker",
        "/spec/minReplicaCount",
        json!(0),
    );
    fails_with(&docs, &ALL_ON, "minReplicaCount below 1");
}

#[test]
fn keda_means_no_hpa_and_no_fixed_replicas() {
    let mut docs = good();
    docs.push(json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "junction-worker"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "junction-worker"}, "maxReplicas": 3}
    }));
    fails_with(
        &docs,
        &ALL_ON,
        "an HorizontalPodAutoscaler is rendered although KEDA scales the workers",
    );
    let mut docs = good();
    set(
        &mut docs,
        "Deployment",
        "junction-worker",
        "/spec/replicas",
        json!(2),
    );
    fails_with(
        &docs,
        &ALL_ON,
        "sets replicas although an autoscaler owns them",
    );
    let expect = Expect {
        keda: false,
        hpa: true,
        ..ALL_ON
    };
    fails_with(
        &good(),
        &expect,
        "a ScaledObject is rendered although KEDA is off",
    );
    fails_with(
        &good(),
        &expect,
        "no HorizontalPodAutoscaler targets Deployment junction-worker",
    );
}

#[test]
fn crd_fields_are_checked_without_their_schemas() {
    let mut docs = good();
    set(
        &mut docs,
        "ScaledObject",
        "junction-worker",
        "/spec/minReplicas",
        json!(1),
    );
    fails_with(&docs, &ALL_ON, "unknown field minReplicas");
    let mut docs = good();
    set(
        &mut docs,
        "ScaledObject",
        "junction-worker",
        "/spec/triggers/0/metadata/listLength",
        json!(16),
    );
    fails_with(
        &docs,
        &ALL_ON,
        "trigger metadata listLength is not a string",
    );
    let mut docs = good();
    set(
        &mut docs,
        "ScaledObject",
        "junction-worker",
        "/spec/triggers/0/authenticationRef/name",
        json!("redis"),
    );
    fails_with(
        &docs,
        &ALL_ON,
        "TriggerAuthentication redis, which is not rendered",
    );
    let mut docs = good();
    remove(
        &mut docs,
        "TriggerAuthentication",
        "junction-worker",
        "/spec/secretTargetRef/0/key",
    );
    fails_with(&docs, &ALL_ON, "a secretTargetRef has no key");
    let mut docs = good();
    set(
        &mut docs,
        "ServiceMonitor",
        "junction-api",
        "/spec/endpoints/0/metricsPath",
        json!("/metrics"),
    );
    fails_with(&docs, &ALL_ON, "endpoint: unknown field metricsPath");
}

#[test]
fn the_service_monitors_name_the_jobs_the_alerts_use() {
    let mut docs = good();
    remove(
        &mut docs,
        "ServiceMonitor",
        "junction-worker",
        "/spec/endpoints/0/relabelings",
    );
    fails_with(
        &docs,
        &ALL_ON,
        "Deployment junction-worker: no ServiceMonitor scrapes /metrics on port 9090 as job junction-worker",
    );
    let mut docs = good();
    set(
        &mut docs,
        "ServiceMonitor",
        "junction-api",
        "/spec/endpoints/0/path",
        json!("/readyz"),
    );
    fails_with(
        &docs,
        &ALL_ON,
        "Deployment junction-api: no ServiceMonitor scrapes",
    );
}

#[test]
fn options_turned_off_render_nothing() {
    let off = Expect {
        network_policy: false,
        service_monitor: false,
        prometheus_rule: false,
        ..ALL_ON
    };
    fails_with(&good(), &off, "a NetworkPolicy is rendered although");
    fails_with(&good(), &off, "a ServiceMonitor is rendered although");
    fails_with(&good(), &off, "a PrometheusRule is rendered although");
}

#[test]
fn rendered_output_splits_into_documents() {
    let docs = parse(GOOD).unwrap();
    assert_eq!(docs.len(), 14);
    assert!(
        docs[0]
            .text
            .contains("# Source: junction/templates/api-deployment.yaml")
    );
    assert!(!docs[0].text.contains("---"));
    // A `---` inside a block scalar is indented, so it does not split.
    let docs = parse("---\na: |\n  x\n  ---\n  y\n---\n# only a comment\n---\nb: 1\n").unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0].value["a"], "x\n---\ny\n");
    let builtin: Vec<bool> = parse(GOOD)
        .unwrap()
        .iter()
        .map(|d| is_builtin(&d.value))
        .collect();
    assert_eq!(builtin.iter().filter(|b| !**b).count(), 5, "{builtin:?}");
}

#[test]
fn the_queues_are_the_stores() {
    // The Queue enum of junction-store is the source; this list must follow it.
    let models =
        std::fs::read_to_string(crate::workspace_root().join("crates/store/src/models.rs"))
            .unwrap();
    let block = models
        .split_once("    Queue {")
        .and_then(|(_, rest)| rest.split_once('}'))
        .map(|(block, _)| block)
        .unwrap();
    let names: Vec<&str> = block
        .lines()
        .filter_map(|line| line.split_once("=> \"")?.1.split_once('"'))
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names, QUEUES);
}
