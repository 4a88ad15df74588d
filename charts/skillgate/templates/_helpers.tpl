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

{{- define "skillgate.podSecurity" -}}
securityContext:
  runAsNonRoot: true
  seccompProfile: { type: RuntimeDefault }
{{- with .Values.nodeSelector }}
nodeSelector: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
