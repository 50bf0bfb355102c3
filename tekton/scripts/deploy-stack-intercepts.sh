#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Task deploy-stack-intercepts (Telepresence, the default backend): for each app in build-apps, holding the
# app's intercept lock shared with other Telepresence runs of other headers (lib-lock.sh):
#   1. a PR pod: the Deployment's pod template with the built image in the app container; wait Ready;
#   2. a proxy pod (ServiceAccount tekton-dag-telepresence-client) runs telepresence-proxy.sh:
#      telepresence connect (to the traffic manager the program installed), then
#      telepresence intercept <app> --http-header <Name>=<value> --address <pr-pod-ip>, so requests with
#      the header reach the PR pod; the pod's TERM handler runs telepresence leave when cleanup deletes it;
#   3. wait until the proxy reports the intercept active (readiness).
# Writes deployed-pods (app -> PR pod) to the run directory and the task result.
#
# Environment (from the task params): STACK_JSON, BUILD_APPS, PROPAGATION_CHAIN, BUILT_IMAGES,
# INTERCEPT_HEADER_VALUE, DEFAULT_NAMESPACE, TARGET_NAMESPACES, RUN_ID, RUN_NAME, LEASE_WAIT_SECONDS,
# POD_READY_TIMEOUT_SECONDS, TELEPRESENCE_IMAGE, TRAFFIC_MANAGER_NAMESPACE, AGENT_ARRIVAL_SECONDS,
# SHARED_WORKSPACE, RESULT_PATH.
set -euo pipefail
set -o noglob # lists are split on spaces; never expand them as file patterns
SCRIPTS_DIR="${SCRIPTS_DIR:-$(dirname "$0")}"
# shellcheck source=lib-common.sh
. "${SCRIPTS_DIR}/lib-common.sh"
# shellcheck source=lib-intercept.sh
. "${SCRIPTS_DIR}/lib-intercept.sh"

PROXY_SERVICE_ACCOUNT=tekton-dag-telepresence-client
PROXY_SCRIPT=telepresence-proxy.sh
# What a run makes of an app, for find_earlier_attempt (lib-deploy.sh): PR pod, proxy pod, proxy script.
# shellcheck disable=SC2034 # read by lib-deploy.sh
ATTEMPT_KINDS=pods,configmaps

validate_backend_inputs() {
  require_env TELEPRESENCE_IMAGE
  TRAFFIC_MANAGER_NAMESPACE="${TRAFFIC_MANAGER_NAMESPACE:-ambassador}"
  validate_dns_label "traffic-manager-namespace" "$TRAFFIC_MANAGER_NAMESPACE"
  AGENT_ARRIVAL_SECONDS="${AGENT_ARRIVAL_SECONDS:-180}"
  validate_positive_int "telepresence-agent-arrival-seconds" "$AGENT_ARRIVAL_SECONDS"
  # The proxy's first intercept may take its client timeout (agentArrival + 30 s) twice (one retry), after
  # connecting to the traffic manager (up to about two minutes with the client's default timeouts).
  PROXY_READY_TIMEOUT_SECONDS=$((2 * (AGENT_ARRIVAL_SECONDS + 30) + 120))
  [ "$PROXY_READY_TIMEOUT_SECONDS" -ge "$POD_READY_TIMEOUT_SECONDS" ] || PROXY_READY_TIMEOUT_SECONDS="$POD_READY_TIMEOUT_SECONDS"
  [ -f "${SCRIPTS_DIR}/${PROXY_SCRIPT}" ] || die "missing ${SCRIPTS_DIR}/${PROXY_SCRIPT}"
  # Telepresence treats a header value containing regexp meta characters as an unanchored regexp
  # (pkg/matcher); only plain values compare exactly, so only those are accepted.
  if [[ "$HEADER_VALUE" =~ [][\\.+*?(){}\|^$] ]]; then
    die "intercept-header-value \"${INTERCEPT_HEADER_VALUE}\": with intercept-backend telepresence the value must not contain any of \\ . + * ? ( ) [ ] { } | ^ \$ (Telepresence would read it as a regular expression)"
  fi
  local app port
  for app in "${DEPLOY_APPS[@]}"; do
    port="$(service_port "$app")"
    is_port "$port" || die "app \"${app}\": servicePort \"${port}\" in the stack is not a port number (1-65535)"
  done
}

# The Service port Telepresence intercepts; the app's containerPort when the stack has none.
service_port() {
  local port
  port="$(app_field "$1" servicePort)"
  printf '%s' "${port:-$(app_field "$1" containerPort)}"
}

proxy_pod_manifest() {
  local ns="$1" app="$2" name="$3" configmap="$4" ip="$5" labels
  labels="$(labels_json "$app" telepresence-intercept)"
  jq -n --arg name "$name" --arg ns "$ns" --argjson labels "$labels" --arg runName "$RUN_NAME" \
    --arg sa "$PROXY_SERVICE_ACCOUNT" --arg image "$TELEPRESENCE_IMAGE" --arg cm "$configmap" \
    --arg script "$PROXY_SCRIPT" --arg app "$app" --arg tm "$TRAFFIC_MANAGER_NAMESPACE" \
    --arg appPort "$(app_field "$app" containerPort)" --arg svcPort "$(service_port "$app")" --arg ip "$ip" \
    --arg header "${HEADER_NAME}=${HEADER_VALUE}" --arg arrival "$AGENT_ARRIVAL_SECONDS" '{
    apiVersion: "v1", kind: "Pod",
    metadata: {name: $name, namespace: $ns, labels: $labels, annotations: {"tekton-dag.io/pipeline-run": $runName}},
    spec: {
      serviceAccountName: $sa,
      restartPolicy: "Never",
      # Time for the TERM handler to run telepresence leave and quit.
      terminationGracePeriodSeconds: 60,
      enableServiceLinks: false,
      volumes: [
        {name: "proxy-script", configMap: {name: $cm, defaultMode: 365}},
        {name: "tun", hostPath: {path: "/dev/net/tun", type: "CharDevice"}}
      ],
      containers: [{
        name: "telepresence",
        image: $image,
        command: ["bash", ("/tekton-dag/proxy/" + $script)],
        env: [
          {name: "TP_WORKLOAD", value: $app},
          {name: "TP_NAMESPACE", value: $ns},
          {name: "TP_MANAGER_NAMESPACE", value: $tm},
          {name: "TP_APP_PORT", value: $appPort},
          {name: "TP_SERVICE_PORT", value: $svcPort},
          {name: "TP_TARGET_IP", value: $ip},
          {name: "TP_HTTP_HEADER", value: $header},
          {name: "TP_AGENT_ARRIVAL_SECONDS", value: $arrival}
        ],
        readinessProbe: {exec: {command: ["test", "-f", "/tmp/telepresence-intercept-active"]}, initialDelaySeconds: 2, periodSeconds: 2},
        volumeMounts: [
          {name: "proxy-script", mountPath: "/tekton-dag/proxy", readOnly: true},
          {name: "tun", mountPath: "/dev/net/tun"}
        ],
        # telepresence connect starts its root daemon, which creates a TUN device: root and NET_ADMIN,
        # here in the proxy pod only (never in the PR pod).
        securityContext: {runAsUser: 0, runAsNonRoot: false, allowPrivilegeEscalation: false,
                          capabilities: {add: ["NET_ADMIN"]}}
      }]
    }
  }'
}

deploy_proxy() {
  local ns="$1" app="$2" ip="$3" name labels
  name="$(object_name tp "$app" "$RUN_ID")"
  labels="$(labels_json "$app" telepresence-intercept)"
  # A retried task replaces its own earlier proxy (selected by this run's label).
  if [ -n "$EARLIER_ATTEMPT" ]; then
    kubectl delete pods -n "$ns" -l "$(run_selector "$app" telepresence-intercept)" --ignore-not-found --wait=true >&2
    kubectl delete configmaps -n "$ns" -l "$(run_selector "$app" telepresence-intercept)" --ignore-not-found --wait=false >&2
  fi
  jq -n --arg name "$name" --arg ns "$ns" --argjson labels "$labels" --arg key "$PROXY_SCRIPT" \
    --rawfile script "${SCRIPTS_DIR}/${PROXY_SCRIPT}" '{
    apiVersion: "v1", kind: "ConfigMap",
    metadata: {name: $name, namespace: $ns, labels: $labels},
    data: {($key): $script}
  }' | kubectl create -f - >&2 || die "app ${app}: could not create ConfigMap ${ns}/${name}"
  proxy_pod_manifest "$ns" "$app" "$name" "$name" "$ip" | kubectl create -f - >&2 ||
    die "app ${app}: could not create Telepresence proxy pod ${ns}/${name}"
  log "Telepresence proxy ${ns}/${name}: intercepting ${app} for '${HEADER_NAME}=${HEADER_VALUE}' to ${ip}"
  log "Telepresence proxy ${ns}/${name}: waiting up to ${PROXY_READY_TIMEOUT_SECONDS}s (2 x telepresence-agent-arrival-seconds + 60, at least pod-ready-timeout-seconds)"
  wait_pod_ready "$ns" "$name" "$PROXY_READY_TIMEOUT_SECONDS" "Telepresence proxy pod"
}

run_deploy telepresence
