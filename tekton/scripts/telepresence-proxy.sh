#!/usr/bin/env bash
# Runs in a Telepresence proxy pod (deploy-stack-intercepts copies it into a per-run ConfigMap in the
# app's namespace). Connects to the traffic manager the program installed (never installs it), starts
# a header-filtered intercept that delivers to the PR pod, reports readiness through a file, and ends
# the intercept when the pod is deleted (TERM): the traffic manager would otherwise keep a vanished
# client's session, and its intercept, until client.connectionTTL runs out.
#
# The first intercept of a workload injects the traffic agent, which rolls the workload; the traffic
# manager waits timeouts.agentArrival for the new pod's agent and fails the intercept when it does not
# arrive in time. That one error gets one retry: it covers a rollout that finished just too late. It cannot
# cover an app that always needs longer (recent managers drop the agent config on that timeout and inject
# again), which is what the stack config's telepresenceAgentArrivalSeconds is for.
#
# Environment (set in the pod spec): TP_WORKLOAD, TP_NAMESPACE, TP_MANAGER_NAMESPACE, TP_APP_PORT,
# TP_SERVICE_PORT, TP_TARGET_IP, TP_HTTP_HEADER ("Name=value"); TP_AGENT_ARRIVAL_SECONDS (the manager's
# timeouts.agentArrival; the client's timeouts.intercept is set a little longer, so the manager's answer is
# what it sees).
set -euo pipefail

READY_FILE="${TP_READY_FILE:-/tmp/telepresence-intercept-active}"
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

for name in TP_WORKLOAD TP_NAMESPACE TP_MANAGER_NAMESPACE TP_APP_PORT TP_SERVICE_PORT TP_TARGET_IP TP_HTTP_HEADER; do
  [ -n "${!name:-}" ] || die "environment variable ${name} is required"
done

# The client bounds the whole intercept call, agent injection included, with its config's timeouts.intercept
# (current clients ignore the older timeouts.agentInstall). The manager only raises that to equal
# agentArrival, so the client's deadline would expire first and report its own timeout instead of the
# manager's answer. The local config wins over the manager's, so it is set a little longer here.
if [ -n "${TP_AGENT_ARRIVAL_SECONDS:-}" ]; then
  [[ "$TP_AGENT_ARRIVAL_SECONDS" =~ ^[0-9]{1,5}$ ]] ||
    die "TP_AGENT_ARRIVAL_SECONDS must be a whole number of seconds; got \"${TP_AGENT_ARRIVAL_SECONDS}\""
  export XDG_CONFIG_HOME="${TP_CONFIG_HOME:-/tmp/tekton-dag-telepresence-config}"
  mkdir -p "${XDG_CONFIG_HOME}/telepresence"
  printf 'timeouts:\n  intercept: %ss\n' "$((TP_AGENT_ARRIVAL_SECONDS + 30))" >"${XDG_CONFIG_HOME}/telepresence/config.yml"
fi

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
# The agent did not arrive in time, as the traffic manager reports it ("request timed out while waiting for
# agent <workload>.<namespace> to arrive", state/intercept.go) or, when the client's deadline ran out first,
# as the client does ("the intercept timed out.  The current timeout ... can be configured as
# \"timeouts.intercept\" ...", pkg/client/config.go).
AGENT_ARRIVAL_TIMEOUT_RE='timed out while waiting for agent [^[:space:]]+ to arrive|the intercept timed out\.[[:space:]]+The current timeout [^[:space:]]+ can be configured as "timeouts\.intercept"'

# Runs the intercept; its output goes to the log either way and is kept in INTERCEPT_OUTPUT.
intercept() {
  local status=0
  INTERCEPT_OUTPUT="$(telepresence intercept "$TP_WORKLOAD" --port "${TP_APP_PORT}:${TP_SERVICE_PORT}" \
    --address "$TP_TARGET_IP" --http-header "$TP_HTTP_HEADER" --mount=false 2>&1)" || status=$?
  [ -z "$INTERCEPT_OUTPUT" ] || printf '%s\n' "$INTERCEPT_OUTPUT" >&2
  return "$status"
}

arrival="timeouts.agentArrival${TP_AGENT_ARRIVAL_SECONDS:+ (${TP_AGENT_ARRIVAL_SECONDS}s)}"
log "intercepting ${TP_WORKLOAD} port ${TP_SERVICE_PORT} for ${TP_HTTP_HEADER} -> ${TP_TARGET_IP}:${TP_APP_PORT}"
if ! intercept; then
  [[ "$INTERCEPT_OUTPUT" =~ $AGENT_ARRIVAL_TIMEOUT_RE ]] ||
    die "telepresence intercept ${TP_WORKLOAD} failed: $(tail -n 5 <<<"$INTERCEPT_OUTPUT" | tr '\n' ' ')"
  log "the traffic agent of ${TP_WORKLOAD} did not arrive within ${arrival} (the workload is rolling to add it); retrying the intercept once"
  if ! intercept; then
    [[ "$INTERCEPT_OUTPUT" =~ $AGENT_ARRIVAL_TIMEOUT_RE ]] ||
      die "telepresence intercept ${TP_WORKLOAD} failed on its retry: $(tail -n 5 <<<"$INTERCEPT_OUTPUT" | tr '\n' ' ')"
    die "the traffic agent of ${TP_WORKLOAD} did not arrive within ${arrival}, twice (one retry): check that the Deployment ${TP_NAMESPACE}/${TP_WORKLOAD} rolls out and its pods become Ready (kubectl rollout status), or raise the stack config's tekton-dag:telepresenceAgentArrivalSeconds for an app that starts slowly"
  fi
fi
touch "$READY_FILE"
log "intercept active"
while true; do
  sleep 30 &
  wait "$!"
done
