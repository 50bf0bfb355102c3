#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Prints the mirrord config (JSON) for one app's intercept on stdout; exits non-zero with a message on
# bad input. The deploy-intercept-mirrord task runs this very file; so do the tests.
#
# Environment:
#   APP               the app (its Deployment, the intercept target, is named after it)
#   NAMESPACE         the app's namespace (target and agent live there)
#   INTERCEPT_HEADER  "x-dev-session: pr-42" or "x-dev-session:pr-42"
#   RUN_ID            the PipelineRun uid (labels the agent Job and pod)
#   RUN_NAME          optional: the PipelineRun name (label tekton-dag.io/pipeline-run)
#   PORT              optional: the app's container port; limits stealing to it. Below 1024 the proxy
#                     listens on PORT+10000 locally (listen_ports), as it may not bind a privileged port
#   AGENT_IMAGE       optional: agent image, pinned by digest or a tag other than latest (default: the
#                     CLI's own version, ghcr.io/metalbear-co/mirrord:<cli>)
#   AGENT_IMAGE_PULL_SECRET  optional: a Secret in NAMESPACE the agent's pod pulls AGENT_IMAGE with
#   PROXY_NAME        optional: the proxy pod that runs this config; labels the agent tekton-dag.io/proxy=<name>
#                     so the deploy task waits for this attempt's agent, not an earlier attempt's
set -euo pipefail
SCRIPTS_DIR="${SCRIPTS_DIR:-$(dirname "$0")}"
# shellcheck source=lib-common.sh
. "${SCRIPTS_DIR}/lib-common.sh"
# shellcheck source=lib-intercept.sh
. "${SCRIPTS_DIR}/lib-intercept.sh"

require_env APP NAMESPACE INTERCEPT_HEADER RUN_ID
validate_dns_label "APP" "$APP"
validate_dns_label "NAMESPACE" "$NAMESPACE"
validate_run_id "$RUN_ID"
[ -z "${RUN_NAME:-}" ] || validate_run_name "$RUN_NAME"
PORT="${PORT:-}"
if [ -n "$PORT" ]; then
  is_port "$PORT" ||
    die "PORT \"${PORT}\" is not a port number (1-65535)"
fi
AGENT_IMAGE="${AGENT_IMAGE:-}"
if [ -n "$AGENT_IMAGE" ] && ! is_pinned_image "$AGENT_IMAGE"; then
  die "AGENT_IMAGE \"${AGENT_IMAGE}\" (task param mirrord-agent-image) is not a pinned image reference; pin it with a digest (@sha256:...) or a tag other than latest, e.g. ghcr.io/metalbear-co/mirrord:3.250.0"
fi
AGENT_IMAGE_PULL_SECRET="${AGENT_IMAGE_PULL_SECRET:-}"
validate_pull_secret "AGENT_IMAGE_PULL_SECRET (task param mirrord-agent-image-pull-secret)" "$AGENT_IMAGE_PULL_SECRET"
PROXY_NAME="${PROXY_NAME:-}"
[ -z "$PROXY_NAME" ] || validate_dns_label "PROXY_NAME" "$PROXY_NAME"
parse_intercept_header "$INTERCEPT_HEADER"

# mirrord renders each request header as "name: value" and matches the filter unanchored, compiled as
# "(?i)<filter>" (fancy-regex, mirrord/agent/src/http/filter.rs), so: the value is escaped and the whole
# line anchored (pr-4 must not match pr-42); the name stays case-insensitive (HTTP header names are), but
# the value is wrapped in (?-i:...) so it compares case-sensitively like Telepresence's exact match
# (PR-42 must not reach the PR pod of pr-42).
filter="^${HEADER_NAME}: (?-i:$(regex_escape "$HEADER_VALUE"))\$"

# clean_iptables_on_start is false: an agent must never wipe the rules of another session on the target
# (a developer's own mirrord, say); it fails with mirrord's "Detected dirty iptables" error instead. The
# exclusive intercept lock already serialises pipeline runs, and a retried task removes its earlier agent first.

LOCAL_PORT=""
[ -z "$PORT" ] || LOCAL_PORT="$(mirrord_local_port "$PORT")"

jq -n \
  --arg local "$LOCAL_PORT" --arg app "$APP" --arg ns "$NAMESPACE" --arg run "$RUN_ID" --arg runName "${RUN_NAME:-}" \
  --arg filter "$filter" --arg port "$PORT" --arg agentImage "$AGENT_IMAGE" --arg proxy "$PROXY_NAME" \
  --arg pullSecret "$AGENT_IMAGE_PULL_SECRET" '
  ($port | if . == "" then null else tonumber end) as $p
  | ($local | if . == "" then null else tonumber end) as $l
  | {
    target: {path: ("deployment/" + $app), namespace: $ns},
    operator: false,
    telemetry: false,
    agent: ({
      namespace: $ns,
      labels: ({
        "app.kubernetes.io/part-of": "tekton-dag",
        "app.kubernetes.io/managed-by": "tekton-dag-pipeline",
        "tekton-dag.io/run": $run,
        "tekton-dag.io/app": $app,
        "tekton-dag.io/role": "mirrord-agent"
      } + (if $runName == "" then {} else {"tekton-dag.io/pipeline-run": $runName} end)
        + (if $proxy == "" then {} else {"tekton-dag.io/proxy": $proxy} end)),
      annotations: {"tekton-dag.io/run": $run},
      check_out_of_pods: false,
      clean_iptables_on_start: false,
      startup_timeout: 120,
      communication_timeout: 30,
      ttl: 30
    } + (if $agentImage == "" then {} else {image: $agentImage} end)
      + (if $pullSecret == "" then {} else {image_pull_secrets: [{name: $pullSecret}]} end)),
    feature: {
      env: false,
      fs: "local",
      network: {
        incoming: ({
          mode: "steal",
          http_filter: ({header_filter: $filter} + (if $p then {ports: [$p]} else {} end))
        } + (if $p then {ports: [$p], listen_ports: [[$p, $l]]} else {} end)),
        outgoing: false,
        dns: false
      }
    }
  }'
