#!/usr/bin/env bash
# Runs in a Telepresence proxy pod (deploy-stack-intercepts copies it into a per-run ConfigMap in the
# app's namespace). Connects to the traffic manager the program installed (never installs it), starts
# a header-filtered intercept that delivers to the PR pod, reports readiness through a file, and ends
# the intercept when the pod is deleted (TERM): the traffic manager would otherwise keep a vanished
# client's session, and its intercept, until client.connectionTTL runs out.
#
# Environment (set in the pod spec): TP_WORKLOAD, TP_NAMESPACE, TP_MANAGER_NAMESPACE, TP_APP_PORT,
# TP_SERVICE_PORT, TP_TARGET_IP, TP_HTTP_HEADER ("Name=value").
set -euo pipefail

READY_FILE="${TP_READY_FILE:-/tmp/telepresence-intercept-active}"
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

for name in TP_WORKLOAD TP_NAMESPACE TP_MANAGER_NAMESPACE TP_APP_PORT TP_SERVICE_PORT TP_TARGET_IP TP_HTTP_HEADER; do
  [ -n "${!name:-}" ] || die "environment variable ${name} is required"
done

# A kubeconfig for the pod's own ServiceAccount (the token file is re-read, so rotation is fine).
sa=/var/run/secrets/kubernetes.io/serviceaccount
host="${KUBERNETES_SERVICE_HOST:?not running in a pod}"
case "$host" in *:*) host="[${host}]" ;; esac
export KUBECONFIG="${TP_KUBECONFIG:-/tmp/tekton-dag-kubeconfig}"
cat >"$KUBECONFIG" <<YAML
apiVersion: v1
kind: Config
clusters:
  - name: in-cluster
    cluster:
      server: https://${host}:${KUBERNETES_SERVICE_PORT:-443}
      certificate-authority: ${sa}/ca.crt
users:
  - name: proxy
    user:
      tokenFile: ${sa}/token
contexts:
  - name: in-cluster
    context:
      cluster: in-cluster
      user: proxy
      namespace: ${TP_NAMESPACE}
current-context: in-cluster
YAML

finish() {
  rm -f "$READY_FILE"
  log "ending intercept ${TP_WORKLOAD}"
  telepresence leave "$TP_WORKLOAD" || true
  telepresence quit -s || true
}
trap finish EXIT
trap 'exit 0' TERM INT

log "connecting to the traffic manager in ${TP_MANAGER_NAMESPACE} (namespace ${TP_NAMESPACE})"
telepresence connect --namespace "$TP_NAMESPACE" --manager-namespace "$TP_MANAGER_NAMESPACE" \
  --mapped-namespaces "$TP_NAMESPACE"
log "intercepting ${TP_WORKLOAD} port ${TP_SERVICE_PORT} for ${TP_HTTP_HEADER} -> ${TP_TARGET_IP}:${TP_APP_PORT}"
telepresence intercept "$TP_WORKLOAD" --port "${TP_APP_PORT}:${TP_SERVICE_PORT}" --address "$TP_TARGET_IP" \
  --http-header "$TP_HTTP_HEADER" --mount=false
touch "$READY_FILE"
log "intercept active"
while true; do
  sleep 30 &
  wait "$!"
done
