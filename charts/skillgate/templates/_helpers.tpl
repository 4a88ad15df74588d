{{/* Names and labels shared by every template. */}}
{{- define "skillgate.fullname" -}}
{{- if contains "skillgate" .Release.Name -}}{{ .Release.Name | trunc 50 | trimSuffix "-" }}{{- else -}}{{ printf "%s-skillgate" .Release.Name | trunc 50 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "skillgate.labels" -}}
app.kubernetes.io/name: skillgate
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "skillgate.selector" -}}
app.kubernetes.io/name: skillgate
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "skillgate.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "skillgate.upstreamSecret" -}}
{{- if .Values.upstream.existingSecret -}}{{ .Values.upstream.existingSecret }}{{- else -}}{{ include "skillgate.fullname" . }}-upstream{{- end -}}
{{- end -}}

{{- define "skillgate.webhookCertSecret" -}}{{ include "skillgate.fullname" . }}-webhook-tls{{- end -}}

{{- define "skillgate.redisEnv" -}}
- name: REDIS_URL
{{- if .Values.redis.existingSecret }}
  valueFrom: { secretKeyRef: { name: {{ .Values.redis.existingSecret }}, key: url } }
{{- else }}
  value: {{ .Values.redis.url | quote }}
{{- end }}
{{- end -}}

{{/* Pod securityContext and scheduling; takes (dict "root" $ "component" NAME). */}}
{{- define "skillgate.podSecurity" -}}
securityContext:
  runAsNonRoot: true
  seccompProfile: { type: RuntimeDefault }
{{- with (include "skillgate.podScheduling" . | trim) }}
{{ . }}
{{- end }}
{{- end -}}

{{/*
nodeSelector, tolerations, affinity: shared by every pod; takes (dict "root" $ "component" NAME).
Without an affinity of the operator's, the replicas of a component prefer different nodes: two
webhook or controller replicas on one node would fail together (the webhook's failurePolicy Fail
then stops every pod creation in the skills' namespaces).
*/}}
{{- define "skillgate.podScheduling" -}}
{{- $v := .root.Values -}}
{{- with $v.nodeSelector }}
nodeSelector: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- if $v.affinity }}
affinity: {{- toYaml $v.affinity | nindent 2 }}
{{- else }}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels: {{- include "skillgate.selector" . | nindent 14 }}
{{- end }}
{{- end -}}

{{- define "skillgate.webhookService" -}}{{ include "skillgate.fullname" . }}-webhook{{- end -}}

{{/*
Where the controller's HTTPS certificate comes from:
  existing — controller.tls.existingSecret, an operator's (mounted as files);
  managed  — the CA that issues the webhook's certificate issues it too (the one the controller
             keeps, or with cert-manager the chart's own CA Issuer): Secret
             <fullname>-controller-tls, read through the API; its ca.crt, the CA bundle, goes to the
             sidecars (the default);
  none     — plain HTTP (controller.tls.managed false; or a certManager.issuerRef of the operator's,
             which need not be one CA for both certificates, without existingSecret).
*/}}
{{- define "skillgate.controllerTlsMode" -}}
{{- if .Values.controller.tls.existingSecret -}}existing
{{- else if and .Values.controller.tls.managed (not (and .Values.certManager.enabled .Values.certManager.issuerRef)) -}}managed
{{- else -}}none
{{- end -}}
{{- end -}}

{{/*
Where the webhook reads the CA bundle it injects (managed mode): the installation CA's bundle in its
own Secret (the controller keeps both), or with cert-manager the chart CA's own certificate, mounted
from the CA's Secret (its certificate only), which is right from the start — the webhook's Secret
holds its new issuer's CA only once cert-manager has re-issued it.
*/}}
{{- define "skillgate.controllerCaFile" -}}
{{- if ne (include "skillgate.controllerTlsMode" .) "managed" -}}
{{- else if .Values.certManager.enabled -}}/etc/skillgate/controller-ca/ca.crt
{{- else -}}/etc/skillgate/webhook-tls/ca.crt
{{- end -}}
{{- end -}}

{{- define "skillgate.controllerTlsSecret" -}}{{ include "skillgate.fullname" . }}-controller-tls{{- end -}}

{{/* Where sidecars reach the controller's token exchange: https whenever the controller has a certificate. */}}
{{- define "skillgate.controllerUrl" -}}
{{ if eq (include "skillgate.controllerTlsMode" .) "none" }}http{{ else }}https{{ end }}://{{ include "skillgate.fullname" . }}-controller.{{ .Release.Namespace }}.svc:8443
{{- end -}}

{{/*
PEM of the CA that sidecars verify the controller's certificate with (HTTPS mode only):
controller.tls.caPem, else `ca.crt` of controller.tls.existingSecret read at install/upgrade time
(cert-manager writes it), else empty (sidecars use the system CAs).
*/}}
{{- define "skillgate.controllerCaPem" -}}
{{- $tls := .Values.controller.tls -}}
{{- if $tls.existingSecret -}}
{{- if $tls.caPem -}}
{{ $tls.caPem }}
{{- else -}}
{{- $secret := lookup "v1" "Secret" .Release.Namespace $tls.existingSecret -}}
{{- if $secret -}}{{- if $secret.data -}}{{- with (index $secret.data "ca.crt") -}}{{ . | b64dec }}{{- end -}}{{- end -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The webhook's injection config (parsed by @skillgate/webhook parseWebhookConfig: unknown keys are refused). */}}
{{- define "skillgate.webhookConfig" -}}
{{- dict
    "sidecarImage" (include "skillgate.image" .)
    "initImage" (include "skillgate.image" .)
    "imagePullPolicy" .Values.image.pullPolicy
    "sidecarUid" (.Values.injection.sidecarUid | int)
    "controllerUrl" (include "skillgate.controllerUrl" .)
    "controllerCaPem" (include "skillgate.controllerCaPem" .)
    "controllerCaFile" (include "skillgate.controllerCaFile" .)
    "redisUrl" (ternary "" .Values.redis.url (not (empty .Values.redis.existingSecret)))
    "upstreamUrl" .Values.upstream.url
    "upstreamSecret" (dict "name" (include "skillgate.upstreamSecret" .) "key" .Values.upstream.secretKey "mountInSidecar" false)
    "sidecarResources" .Values.injection.sidecarResources
    "tokenExpirationSeconds" (.Values.injection.tokenExpirationSeconds | int)
    "excludeOutboundPorts" .Values.injection.excludeOutboundPorts
    "allowedExceptions" .Values.injection.allowedExceptions
    "allowedCsiDrivers" .Values.injection.allowedCsiDrivers
    "sidecarLogLevel" .Values.injection.sidecarLogLevel
  | toYaml }}
{{- end -}}

{{/*
The Secret the controller keeps its signing key in when controller.signingKey.existingSecret is
empty: created by the first replica with a new key, then shared by all (not managed by Helm: it
outlives an uninstall, so records endorsed before stay verifiable after a reinstall).
*/}}
{{- define "skillgate.signingKeySecret" -}}
{{ include "skillgate.fullname" . }}-signing-key
{{- end -}}

{{/* The Secret the controller keeps the installation masking key in when controller.maskingKey.existingSecret is empty (as the signing key's). */}}
{{- define "skillgate.maskingKeySecret" -}}
{{ include "skillgate.fullname" . }}-masking-key
{{- end -}}

{{/*
prometheus.io scrape annotations for a skillgate pod, for a Prometheus without the Operator (with
metrics.serviceMonitor.enabled the ServiceMonitor scrapes them instead, and these are left out so
nothing is scraped twice). Takes (dict "root" $ "port" PORT "scheme" http|https).
*/}}
{{- define "skillgate.scrapeAnnotations" -}}
{{- if not .root.Values.metrics.serviceMonitor.enabled -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- if eq .scheme "https" }}
prometheus.io/scheme: https
{{- end }}
{{- end -}}
{{- end -}}
