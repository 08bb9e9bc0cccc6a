{{/*
Names, labels and the pieces every pod of the chart shares.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "junction.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The resource name prefix: fullnameOverride, else the release name (with the
chart name appended unless the release name holds it already). */}}
{{- define "junction.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A component's resource name: "<fullname>-<component>". */}}
{{- define "junction.componentName" -}}
{{- printf "%s-%s" (include "junction.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "junction.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every resource. */}}
{{- define "junction.labels" -}}
helm.sh/chart: {{ include "junction.chart" . }}
{{ include "junction.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "junction.selectorLabels" -}}
app.kubernetes.io/name: {{ include "junction.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of one component's resources; call with (dict "root" $ "component" "api"). */}}
{{- define "junction.componentLabels" -}}
{{ include "junction.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* What selects one component's pods: the Deployment, its Service and its PDB use
the same labels, so each selects the pods of its own Deployment and no other's. */}}
{{- define "junction.componentSelector" -}}
{{ include "junction.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "junction.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "junction.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "junction.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* The Secret the chart makes when secrets.create is true. */}}
{{- define "junction.secretName" -}}
{{- include "junction.fullname" . -}}
{{- end -}}

{{/* The Secret the migration hook reads DATABASE_URL from, made just for the hook
(the release's Secret is not there yet before the first install). */}}
{{- define "junction.migrationSecretName" -}}
{{- printf "%s-migrate" (include "junction.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Where one of the three secrets comes from: (dict "root" $ "entry" "databaseUrl").
Its own existingSecret first; else the chart's Secret (create) or the shared
existing one (default: the fullname). */}}
{{- define "junction.secretRefName" -}}
{{- $entry := index .root.Values.secrets .entry -}}
{{- if $entry.existingSecret -}}
{{- $entry.existingSecret -}}
{{- else if .root.Values.secrets.create -}}
{{- include "junction.secretName" .root -}}
{{- else -}}
{{- .root.Values.secrets.existingSecret | default (include "junction.fullname" .root) -}}
{{- end -}}
{{- end -}}

{{/* The entries whose value goes into the chart's Secret: create is on and the
entry has no Secret of its own. Each must then have a value. */}}
{{- define "junction.createdSecretEntries" -}}
{{- $entries := list -}}
{{- if .Values.secrets.create -}}
{{- range $name := list "junctionKeys" "databaseUrl" "redisUrl" -}}
{{- $entry := index $.Values.secrets $name -}}
{{- if not $entry.existingSecret -}}
{{- if not $entry.value -}}
{{- fail (printf "secrets.%s.value is required with secrets.create (or give it secrets.%s.existingSecret)" $name $name) -}}
{{- end -}}
{{- $entries = append $entries $name -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- join "," $entries -}}
{{- end -}}

{{/* One env var read from its Secret: (dict "root" $ "entry" "databaseUrl" "env" "DATABASE_URL"). */}}
{{- define "junction.secretEnv" -}}
{{- $entry := index .root.Values.secrets .entry -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ include "junction.secretRefName" (dict "root" .root "entry" .entry) }}
      key: {{ $entry.key }}
{{- end -}}

{{/* JUNCTION_PUBLIC_URL: the value, else the first ingress host. */}}
{{- define "junction.publicUrl" -}}
{{- if .Values.config.publicUrl -}}
{{- .Values.config.publicUrl -}}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts -}}
{{- $host := (first .Values.ingress.hosts).host -}}
{{- $tls := false -}}
{{- range .Values.ingress.tls -}}
{{- if has $host .hosts -}}{{- $tls = true -}}{{- end -}}
{{- end -}}
{{- printf "%s://%s" (ternary "https" "http" $tls) $host -}}
{{- end -}}
{{- end -}}

{{/* The Redis key prefix as junction-jobs normalises it: a ":" appended unless
there is one (crates/jobs/src/queue.rs, normalize_prefix). */}}
{{- define "junction.redisPrefix" -}}
{{- $prefix := .Values.config.queuePrefix -}}
{{- if and $prefix (not (hasSuffix ":" $prefix)) -}}
{{- printf "%s:" $prefix -}}
{{- else -}}
{{- $prefix -}}
{{- end -}}
{{- end -}}

{{/* The variables the chart sets itself; user env naming one is refused, since a
second definition would silently win or lose. */}}
{{- define "junction.managedEnv" -}}
DATABASE_URL REDIS_URL JUNCTION_KEYS JUNCTION_BIND JUNCTION_PUBLIC_URL JUNCTION_LOG JUNCTION_LOG_FORMAT JUNCTION_QUEUE_PREFIX JUNCTION_WORKER__METRICS_BIND JUNCTION_WORKER__SHUTDOWN_GRACE_SECONDS
{{- end -}}

{{/* User env (a list of EnvVar) after checking it names no managed variable:
(dict "root" $ "env" .Values.env "where" "env"). */}}
{{- define "junction.userEnv" -}}
{{- $managed := splitList " " (include "junction.managedEnv" .root) -}}
{{- range .env -}}
{{- if has .name $managed -}}
{{- fail (printf "%s sets %s, which the chart sets itself: use its own value (see values.yaml)" $.where .name) -}}
{{- end -}}
{{- end -}}
{{- with .env -}}
{{ toYaml . }}
{{- end -}}
{{- end -}}

{{/* The environment the API and the worker share: the secrets, then the plain settings. */}}
{{- define "junction.commonEnv" -}}
{{ include "junction.secretEnv" (dict "root" . "entry" "junctionKeys" "env" "JUNCTION_KEYS") }}
{{ include "junction.secretEnv" (dict "root" . "entry" "databaseUrl" "env" "DATABASE_URL") }}
{{ include "junction.secretEnv" (dict "root" . "entry" "redisUrl" "env" "REDIS_URL") }}
- name: JUNCTION_QUEUE_PREFIX
  value: {{ required "config.queuePrefix is required" .Values.config.queuePrefix | quote }}
- name: JUNCTION_LOG_FORMAT
  value: {{ .Values.config.logFormat | quote }}
- name: JUNCTION_LOG
  value: {{ .Values.config.logLevel | quote }}
{{- with include "junction.publicUrl" . }}
- name: JUNCTION_PUBLIC_URL
  value: {{ . | quote }}
{{- end }}
{{- with include "junction.userEnv" (dict "root" . "env" .Values.env "where" "env") }}
{{ . }}
{{- end }}
{{- end -}}

{{/* A pod template's annotations: (dict "root" $ "extra" .Values.api.podAnnotations).
With secrets.create, a checksum of the Secret's values rolls the pods when one
changes (environment variables are read only when a container starts). */}}
{{- define "junction.podAnnotations" -}}
{{- $annotations := deepCopy (.extra | default dict) -}}
{{- if include "junction.createdSecretEntries" .root -}}
{{- $s := .root.Values.secrets -}}
{{- $_ := set $annotations "checksum/secret" (list $s.junctionKeys.value $s.databaseUrl.value $s.redisUrl.value | toJson | sha256sum) -}}
{{- end -}}
{{- with $annotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end -}}
{{- end -}}

{{/* An httpGet probe: (dict "path" "/readyz" "port" "http" "probe" .Values.api.readinessProbe). */}}
{{- define "junction.probe" -}}
httpGet:
  path: {{ .path }}
  port: {{ .port }}
timeoutSeconds: {{ .probe.timeoutSeconds }}
periodSeconds: {{ .probe.periodSeconds }}
failureThreshold: {{ .probe.failureThreshold }}
{{- end -}}

{{/* The pod-level settings every pod of the chart shares. */}}
{{- define "junction.podSecurity" -}}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
