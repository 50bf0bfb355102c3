#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Task deploy-intercept-mirrord: for each app in build-apps, holding the app's intercept lock exclusively
# (lib-lock.sh; open-source mirrord steals from a target for one session only):
#   1. a PR pod: the Deployment's pod template with the built image in the app container; wait Ready;
#   2. a per-run ConfigMap holds the mirrord config (mirrord-config.sh);
#   3. a proxy pod (ServiceAccount tekton-dag-mirrord-proxy) runs
#      mirrord exec -f /config/mirrord.json -- socat TCP-LISTEN:<port>,fork,reuseaddr TCP:<pr-pod-ip>:<port>
#      so requests carrying the intercept header are stolen from deployment/<app> and reach the PR pod
#      (for a port below 1024 the layer binds <port>+10000 locally: the proxy has no privileges);
#   4. wait until the steal is active (proxy Ready = socat listening under mirrord, and the agent pod
#      labelled tekton-dag.io/proxy=<this attempt's proxy pod> Running).
# Open-source mirrord steals from one random replica of a Deployment, so a target with more than one
# replica is rejected before anything is created.
# Writes deployed-pods (app -> PR pod) to the run directory and the task result.
#
# Environment (from the task params): STACK_JSON, BUILD_APPS, PROPAGATION_CHAIN, BUILT_IMAGES,
# INTERCEPT_HEADER_VALUE, DEFAULT_NAMESPACE, TARGET_NAMESPACES, RUN_ID, RUN_NAME, LEASE_WAIT_SECONDS,
# POD_READY_TIMEOUT_SECONDS, MIRRORD_IMAGE, SHARED_WORKSPACE, RESULT_PATH; MIRRORD_AGENT_IMAGE (param
# mirrord-agent-image; empty lets mirrord pick ghcr.io/metalbear-co/mirrord:<its version>);
# MIRRORD_AGENT_IMAGE_PULL_SECRET (param mirrord-agent-image-pull-secret; empty: none).
set -euo pipefail
set -o noglob # lists are split on spaces; never expand them as file patterns
SCRIPTS_DIR="${SCRIPTS_DIR:-$(dirname "$0")}"
# shellcheck source=lib-common.sh
. "${SCRIPTS_DIR}/lib-common.sh"
# shellcheck source=lib-intercept.sh
. "${SCRIPTS_DIR}/lib-intercept.sh"

PROXY_SERVICE_ACCOUNT=tekton-dag-mirrord-proxy
# What a run makes of an app, for find_earlier_attempt (lib-deploy.sh): PR pod, proxy pod, config, agent Job.
# shellcheck disable=SC2034 # read by lib-deploy.sh
ATTEMPT_KINDS=pods,configmaps,jobs.batch
# Tells this attempt's proxy pods (and through their label, their agents) from those of an earlier
# attempt of a retried TaskRun, whose agent may still be running.
ATTEMPT_ID="$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"

validate_backend_inputs() {
  require_env MIRRORD_IMAGE
  local app ns deployment replicas
  if [ -n "${MIRRORD_AGENT_IMAGE:-}" ] && ! is_pinned_image "$MIRRORD_AGENT_IMAGE"; then
    die "mirrord-agent-image \"${MIRRORD_AGENT_IMAGE}\" is not a pinned image reference; pin it with a digest (@sha256:...) or a tag other than latest (stack config tekton-dag:mirrordAgentImage)"
  fi
  validate_pull_secret "mirrord-agent-image-pull-secret" "${MIRRORD_AGENT_IMAGE_PULL_SECRET:-}"
  # Generate (and so check) every config, and check every target, before anything is created.
  for app in "${DEPLOY_APPS[@]}"; do
    ns="$(app_namespace "$app")"
    mirrord_config "$ns" "$app" >/dev/null
    read_checked_deployment "$ns" "$app"
    deployment="${CHECKED_DEPLOYMENTS["${ns}/${app}"]}"
    replicas="$(printf '%s' "$deployment" | jq -r '.spec.replicas // 1')"
    if [ "$replicas" != 1 ] && [ "$replicas" != 0 ]; then
      die "app ${app}: Deployment ${ns}/${app} has ${replicas} replicas (.spec.replicas); open-source mirrord steals from one random pod of a Deployment only, so requests carrying the header would reach the PR pod only now and then. Scale it to 1 replica in this PR namespace (kubectl scale deployment/${app} -n ${ns} --replicas=1) or use intercept-backend telepresence"
    fi
  done
}

proxy_name() {
  object_name mirrord "$1" "$RUN_ID" "$ATTEMPT_ID"
}

mirrord_config() {
  local ns="$1" app="$2" config out tmp
  config="$(APP="$app" NAMESPACE="$ns" INTERCEPT_HEADER="$INTERCEPT_HEADER_VALUE" RUN_ID="$RUN_ID" \
    RUN_NAME="$RUN_NAME" PORT="$(app_field "$app" containerPort)" AGENT_IMAGE="${MIRRORD_AGENT_IMAGE:-}" \
    AGENT_IMAGE_PULL_SECRET="${MIRRORD_AGENT_IMAGE_PULL_SECRET:-}" \
    PROXY_NAME="$(proxy_name "$app")" "${SCRIPTS_DIR}/mirrord-config.sh")"
  if command -v mirrord >/dev/null 2>&1; then
    # mirrord's own check of the file (it exits 0 either way; the JSON says Success or Fail).
    tmp="$(mktemp)"
    printf '%s' "$config" >"$tmp"
    out="$(mirrord verify-config "$tmp" 2>&1 || true)"
    rm -f "$tmp"
    if jq -e '.type == "Fail"' >/dev/null 2>&1 <<<"$out"; then
      die "mirrord rejected the config for app ${app}: ${out}"
    fi
  fi
  printf '%s' "$config"
}

proxy_pod_manifest() {
  local ns="$1" app="$2" name="$3" configmap="$4" ip="$5" port local_port labels
  port="$(app_field "$app" containerPort)"
  local_port="$(mirrord_local_port "$port")"
  labels="$(labels_json "$app" mirrord-proxy)"
  jq -n --arg name "$name" --arg ns "$ns" --argjson labels "$labels" --arg runName "$RUN_NAME" \
    --arg sa "$PROXY_SERVICE_ACCOUNT" --arg image "$MIRRORD_IMAGE" --arg cm "$configmap" \
    --arg listen "TCP-LISTEN:${port},fork,reuseaddr" --arg connect "TCP:${ip}:${port}" \
    --arg probe "grep -qsE '^ *[0-9]+: [0-9A-F]+:$(port_hex "$local_port") [0-9A-F]+:[0-9A-F]+ 0A ' /proc/net/tcp /proc/net/tcp6" '{
    apiVersion: "v1", kind: "Pod",
    metadata: {name: $name, namespace: $ns, labels: $labels, annotations: {"tekton-dag.io/pipeline-run": $runName}},
    spec: {
      serviceAccountName: $sa,
      restartPolicy: "Never",
      terminationGracePeriodSeconds: 30,
      enableServiceLinks: false,
      securityContext: {runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: {type: "RuntimeDefault"}},
      volumes: [{name: "mirrord-config", configMap: {name: $cm}}],
      containers: [{
        name: "mirrord",
        image: $image,
        command: ["mirrord", "exec", "-f", "/config/mirrord.json", "--", "socat", $listen, $connect],
        env: [{name: "MIRRORD_CHECK_VERSION", value: "false"}, {name: "MIRRORD_TELEMETRY", value: "false"}],
        # Ready once socat listens under mirrord: the layer subscribes the stolen port before listen returns.
        # socat asks for the app port; the layer binds the local port (mirrord_local_port) instead.
        readinessProbe: {exec: {command: ["bash", "-c", $probe]}, initialDelaySeconds: 1, periodSeconds: 2, failureThreshold: 3},
        volumeMounts: [{name: "mirrord-config", mountPath: "/config", readOnly: true}],
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: ["ALL"]}}
      }]
    }
  }'
}

# The agent pods the CLI in this proxy pod started (agent.labels carry tekton-dag.io/proxy=<proxy pod>).
agent_selector() {
  printf '%s,tekton-dag.io/proxy=%s' "$(run_selector "$1" mirrord-agent)" "$2"
}

# Waits until the agent pod of this attempt's proxy is Running; fails with the proxy's (mirrord's) own
# output. An earlier attempt's agent carries another proxy name and never counts.
wait_agent_running() {
  local ns="$1" app="$2" proxy="$3" deadline left phases
  deadline=$(($(date +%s) + POD_READY_TIMEOUT_SECONDS))
  while true; do
    phases="$(kubectl get pods -n "$ns" -l "$(agent_selector "$app" "$proxy")" -o json | jq -r '[.items[].status.phase] | join(",")')"
    case ",${phases}," in
      *,Running,*)
        log "mirrord agent for ${ns}/${app} is running; steal active"
        return 0
        ;;
    esac
    left=$((deadline - $(date +%s)))
    if [ "$left" -le 0 ]; then
      diagnose_pod "$ns" "$proxy"
      die "no running mirrord agent with label $(agent_selector "$app" "$proxy") in ${ns} within ${POD_READY_TIMEOUT_SECONDS}s (agent pods: ${phases:-none}); mirrord said: $(pod_log_tail "$ns" "$proxy")"
    fi
    log "waiting for the mirrord agent of ${ns}/${app} (pods: ${phases:-none}); ${left}s left"
    pause_until "$((POLL_INTERVAL_SECONDS < left ? POLL_INTERVAL_SECONDS : left))" pods -n "$ns" -l "$(agent_selector "$app" "$proxy")" \
      --for=jsonpath='{.status.phase}'=Running
  done
}

deploy_proxy() {
  local ns="$1" app="$2" ip="$3" name config labels
  name="$(proxy_name "$app")"
  config="$(mirrord_config "$ns" "$app")"
  labels="$(labels_json "$app" mirrord-config)"
  # A retried task replaces its own earlier proxy, agent and config (selected by this run's label): the
  # earlier agent would otherwise hold the target's iptables and the new agent would find them dirty.
  if [ -n "$EARLIER_ATTEMPT" ]; then
    kubectl delete pods -n "$ns" -l "$(run_selector "$app" mirrord-proxy)" --ignore-not-found --wait=true >&2
    kubectl delete jobs.batch -n "$ns" -l "$(run_selector "$app" mirrord-agent)" --ignore-not-found --cascade=foreground --wait=true >&2
    kubectl delete configmaps -n "$ns" -l "$(run_selector "$app" mirrord-config)" --ignore-not-found --wait=false >&2
  fi
  jq -n --arg name "$name" --arg ns "$ns" --argjson labels "$labels" --arg config "$config" '{
    apiVersion: "v1", kind: "ConfigMap",
    metadata: {name: $name, namespace: $ns, labels: $labels},
    data: {"mirrord.json": $config}
  }' | kubectl create -f - >&2 || die "app ${app}: could not create ConfigMap ${ns}/${name}"
  proxy_pod_manifest "$ns" "$app" "$name" "$name" "$ip" | kubectl create -f - >&2 ||
    die "app ${app}: could not create mirrord proxy pod ${ns}/${name}"
  log "mirrord proxy ${ns}/${name}: stealing requests with '${HEADER_NAME}: ${HEADER_VALUE}' from deployment/${app} to ${ip}"
  wait_pod_ready "$ns" "$name" "$POD_READY_TIMEOUT_SECONDS" "mirrord proxy pod"
  wait_agent_running "$ns" "$app" "$name"
}

run_deploy mirrord
