{{/* Chart name, truncated to the 63 characters Kubernetes allows. */}}
{{- define "sloprober.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name. */}}
{{- define "sloprober.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sloprober.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sloprober.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sloprober.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sloprober.labels" -}}
helm.sh/chart: {{ include "sloprober.chart" . }}
{{ include "sloprober.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "sloprober.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sloprober.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The prober config text: values.config as YAML, else the chart's default. */}}
{{- define "sloprober.configText" -}}
{{- if .Values.config }}
{{- toYaml .Values.config }}
{{- else }}
{{- .Files.Get "files/sloprober.yaml" }}
{{- end }}
{{- end }}

{{- define "sloprober.configMapName" -}}
{{- default (include "sloprober.fullname" .) .Values.existingConfigMap }}
{{- end }}

{{- define "sloprober.secretName" -}}
{{- default (include "sloprober.fullname" .) .Values.apiKey.existingSecret }}
{{- end }}

{{- define "sloprober.hasApiKey" -}}
{{- if or .Values.apiKey.value .Values.apiKey.existingSecret }}true{{ end }}
{{- end }}
