{{- define "timebridge.labels" -}}
app.kubernetes.io/part-of: timebridge
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{/* Kafka, for the services on it (not the console, a client of their HTTP APIs). */}}
{{- define "timebridge.kafkaEnv" -}}
- name: TB_KAFKA__BOOTSTRAP_SERVERS
  value: {{ .Values.kafka.bootstrapServers | quote }}
- name: TB_KAFKA__PARTITIONS
  value: {{ .Values.kafka.partitions | quote }}
- name: TB_KAFKA__REPLICATION_FACTOR
  value: {{ .Values.kafka.replicationFactor | quote }}
{{- end -}}

{{/* What every program reads, the console included: where it listens, its telemetry. */}}
{{- define "timebridge.commonEnv" -}}
- name: TB_HTTP__HOST
  value: "0.0.0.0"
- name: TB_HTTP__PORT
  value: "8000"
- name: TB_TELEMETRY__LOG_LEVEL
  value: {{ .Values.telemetry.logLevel | quote }}
{{- with .Values.telemetry.otlpEndpoint }}
- name: TB_TELEMETRY__OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- end -}}
