#!/usr/bin/env bash
# Prints a stack-pr-continue PipelineRun that picks up a failed stack-pr-test run at deploy:
#
#   scripts/continue-pr.sh [-n NAMESPACE] [--set PARAM=VALUE ...] RUN_NAME | kubectl create -f -
#
# It reads the run (kubectl get pipelinerun RUN_NAME -o json), copies the params it was started with,
# adds the results of its resolve-stack and containerize TaskRuns, binds the same shared-workspace volume
# (the PVC a volumeClaimTemplate made for the earlier run, if it used one) and keeps its pod template.
# Identities are always the two of docs/conventions.md: tekton-dag-pr-code by default, tekton-dag-pipeline
# only for the tasks that reach the API server. It uses the backend the earlier run used; --set overrides or adds
# a param (e.g. --set intercept-backend=mirrord).
# Needs kubectl and jq, and the right to get PipelineRuns and list TaskRuns; KUBECTL names another kubectl.
set -euo pipefail

KUBECTL="${KUBECTL:-kubectl}"
PIPELINE="stack-pr-continue"
SOURCE_PIPELINE="stack-pr-test"
# The params of stack-pr-test that stack-pr-continue takes as they are.
COPIED_PARAMS=(
  pr-number repo-full-name github-token-secret status-context status-target-url app-revision intercept-backend mirrord-image mirrord-agent-image
  mirrord-agent-image-pull-secret telepresence-image image-registry default-namespace target-namespaces lease-wait-seconds
  request-path pre-test-hook post-test-hook hook-image
)
# The ServiceAccount with the pipeline's RBAC and the one without any (lib/identities.ts).
PIPELINE_SA="tekton-dag-pipeline"
PR_CODE_SA="tekton-dag-pr-code"
# Pipeline tasks that get PIPELINE_SA; every other task runs as PR_CODE_SA (lib/identities.ts, a test keeps
# the two lists equal).
CLUSTER_TASKS=(
  deploy-intercepts-telepresence deploy-intercepts-mirrord validate-stack-propagation validate-original-traffic
  cleanup-intercepts pr-comment status-pending status-final
)
# resolve-stack results that become params of the same name.
RESOLVE_RESULTS=(stack-json changed-app build-apps propagation-chain intercept-header-value app-list entry-app)

die() {
  printf 'continue-pr: error: %s\n' "$*" >&2
  exit 1
}

warn() {
  printf 'continue-pr: warning: %s\n' "$*" >&2
}

usage() {
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

namespace=""
run=""
overrides=()
while [ $# -gt 0 ]; do
  case "$1" in
    -n|--namespace)
      [ $# -ge 2 ] || die "$1 needs a namespace"
      namespace="$2"; shift 2 ;;
    --namespace=*) namespace="${1#*=}"; shift ;;
    --set)
      [ $# -ge 2 ] || die "--set needs PARAM=VALUE"
      overrides+=("$2"); shift 2 ;;
    --set=*) overrides+=("${1#*=}"); shift ;;
    -h|--help) usage ;;
    -*) die "unknown option '$1' (allowed: -n NAMESPACE, --set PARAM=VALUE, -h)" ;;
    *)
      [ -z "$run" ] || die "only one run name is allowed (got '${run}' and '$1')"
      run="$1"; shift ;;
  esac
done
[ -n "$run" ] || { printf 'continue-pr: error: the name of a failed %s PipelineRun is required\n' "$SOURCE_PIPELINE" >&2; usage; }
command -v jq >/dev/null 2>&1 || die "jq is required (apt-get install jq)"
command -v "$KUBECTL" >/dev/null 2>&1 || die "kubectl ('${KUBECTL}') was not found"

ns_args=()
[ -z "$namespace" ] || ns_args=(-n "$namespace")

err="$(mktemp)"
trap 'rm -f "$err"' EXIT

if ! pr_json="$("$KUBECTL" get pipelinerun "$run" "${ns_args[@]}" -o json 2>"$err")"; then
  if grep -qi 'not ?found' "$err" || grep -qi 'NotFound' "$err"; then
    die "PipelineRun '${run}' not found${namespace:+ in namespace ${namespace}} (kubectl get pipelinerun lists the runs)"
  fi
  die "could not read PipelineRun '${run}': $(cat "$err")"
fi

pipeline="$(jq -r '.spec.pipelineRef.name // ""' <<<"$pr_json")"
[ "$pipeline" = "$SOURCE_PIPELINE" ] \
  || die "PipelineRun '${run}' runs pipeline '${pipeline:-<embedded spec>}', not ${SOURCE_PIPELINE}"
status="$(jq -r '[.status.conditions[]? | select(.type == "Succeeded") | .status][0] // "Unknown"' <<<"$pr_json")"
if [ "$status" = "Unknown" ]; then
  die "PipelineRun '${run}' is still running; wait for it to finish or cancel it before continuing it"
fi
if [ "$status" = "True" ]; then
  warn "PipelineRun '${run}' succeeded; continuing it runs deploy and the tests again"
fi
uid="$(jq -r '.metadata.uid // ""' <<<"$pr_json")"
# The PR's labels: a newer commit, a /retest or the PR's closing stops the continued run as it would the first.
pr_labels="$(jq -c '.metadata.labels // {} | with_entries(select(.key == "tekton-dag.io/pr" or .key == "tekton-dag.io/repo-id"))' <<<"$pr_json")"
[ -n "$uid" ] || die "PipelineRun '${run}' has no metadata.uid"
run_ns="$(jq -r '.metadata.namespace // ""' <<<"$pr_json")"

if ! trs_json="$("$KUBECTL" get taskruns "${ns_args[@]}" -l "tekton.dev/pipelineRun=${run}" -o json 2>"$err")"; then
  die "could not list the TaskRuns of '${run}': $(cat "$err")"
fi

# Results of the TaskRun of one pipeline task, as an object {name: value}.
task_results() {
  jq -c --arg task "$1" '
    [.items[] | select(.metadata.labels["tekton.dev/pipelineTask"] == $task)]
    | (.[0].status.results // []) | map({key: .name, value: .value}) | from_entries' <<<"$trs_json"
}

resolve="$(task_results resolve-stack)"
containerize="$(task_results containerize)"
missing="$(jq -r --args '. as $r | [$ARGS.positional[] | select(. as $n | $r | has($n) | not)] | first // ""' "${RESOLVE_RESULTS[@]}" <<<"$resolve")"
if [ -n "$missing" ]; then
  die "PipelineRun '${run}' has no resolve-stack result '${missing}' (resolve-stack did not finish); start a new stack-pr-test run instead"
fi
built="$(jq -r '.["built-images"] // ""' <<<"$containerize")"
if [ -z "$built" ] || [ "$built" = "{}" ]; then
  die "PipelineRun '${run}' has no built-images yet (containerize did not finish); start a new stack-pr-test run instead"
fi

# The workspace binding: the same volume. A volumeClaimTemplate made a PVC owned by the earlier run; the
# TaskRuns name it.
ws="$(jq -c '[.spec.workspaces[]? | select(.name == "shared-workspace")][0] // empty' <<<"$pr_json")"
[ -n "$ws" ] || die "PipelineRun '${run}' binds no shared-workspace"
if jq -e 'has("volumeClaimTemplate")' <<<"$ws" >/dev/null; then
  claim="$(jq -r '[.items[].spec.workspaces[]? | select(.persistentVolumeClaim.claimName) | .persistentVolumeClaim.claimName][0] // ""' <<<"$trs_json")"
  [ -n "$claim" ] || die "PipelineRun '${run}' used a volumeClaimTemplate and no TaskRun names the claim it made"
  warn "'${run}' used a volumeClaimTemplate: binding its claim ${claim}, which is deleted together with '${run}'"
  ws="$(jq -c --arg c "$claim" '{name: "shared-workspace", persistentVolumeClaim: {claimName: $c}}' <<<"$ws")"
elif jq -e 'has("emptyDir")' <<<"$ws" >/dev/null; then
  die "PipelineRun '${run}' used an emptyDir shared-workspace; its data is gone, so it cannot be continued"
fi
docker_ws="$(jq -c '[.spec.workspaces[]? | select(.name == "docker-config")][0] // empty' <<<"$pr_json")"
[ -z "$docker_ws" ] || warn "docker-config is not used by ${PIPELINE} (nothing is built); not bound"

# Params: the run's own, then the results, then fixed values, then --set.
params="$(jq -c --argjson keep "$(printf '%s\n' "${COPIED_PARAMS[@]}" | jq -R . | jq -sc .)" '
  [.spec.params[]? | select(.name as $n | $keep | index($n))] | map({key: .name, value: .value}) | from_entries' <<<"$pr_json")"
params="$(jq -c --argjson r "$resolve" --argjson names "$(printf '%s\n' "${RESOLVE_RESULTS[@]}" | jq -R . | jq -sc .)" \
  --arg built "$built" --arg prev "$run" --arg platform ".tekton-dag/runs/${uid}/platform" '
  . + ($r | with_entries(select(.key as $k | $names | index($k))))
    + {"built-images": $built, "previous-run": $prev, "platform-dir": $platform}' <<<"$params")"
# The backend the earlier run used, also when it was started without the param (it then ran with its
# pipeline's default, which stack config may have changed since): its check-intercept-backend TaskRun got the
# resolved value, and Tekton keeps the pipeline spec it ran with in its status.
if ! jq -e 'has("intercept-backend")' <<<"$params" >/dev/null; then
  used="$(jq -r '[.items[] | select(.metadata.labels["tekton.dev/pipelineTask"] == "check-intercept-backend")
    | .spec.params[]? | select(.name == "intercept-backend") | .value][0] // ""' <<<"$trs_json")"
  [ -n "$used" ] || used="$(jq -r '[.status.pipelineSpec.params[]? | select(.name == "intercept-backend") | .default][0] // ""' <<<"$pr_json")"
  if [ -n "$used" ]; then
    params="$(jq -c --arg v "$used" '.["intercept-backend"] = $v' <<<"$params")"
  else
    warn "'${run}' was started without intercept-backend and records none it used; this run takes ${PIPELINE}'s default (--set intercept-backend=... to choose)"
  fi
fi
for kv in "${overrides[@]+"${overrides[@]}"}"; do
  case "$kv" in
    *=*) ;;
    *) die "--set '${kv}' must be PARAM=VALUE" ;;
  esac
  key="${kv%%=*}"
  [ -n "$key" ] || die "--set '${kv}' names no param"
  params="$(jq -c --arg k "$key" --arg v "${kv#*=}" '.[$k] = $v' <<<"$params")"
done

# taskRunTemplate (v1): the earlier run's pod template (fsGroup for the workspace), the unprivileged
# ServiceAccount as everyone's default; taskRunSpecs give the pipeline's only to the cluster tasks.
template="$(jq -c '.spec.taskRunTemplate // {}' <<<"$pr_json")"
earlier_sa="$(jq -r '.serviceAccountName // ""' <<<"$template")"
if [ -n "$earlier_sa" ] && [ "$earlier_sa" != "$PR_CODE_SA" ]; then
  warn "'${run}' ran every task as ${earlier_sa}; this run uses ${PR_CODE_SA} and gives ${PIPELINE_SA} only to: ${CLUSTER_TASKS[*]}"
fi
if jq -e '.podTemplate | has("automountServiceAccountToken")?' <<<"$template" >/dev/null 2>&1; then
  # A pod's automountServiceAccountToken overrides its ServiceAccount's, so the earlier run's could hand
  # PR-code tasks a token; the ServiceAccount decides instead.
  warn "'${run}' set podTemplate.automountServiceAccountToken; this run leaves it to the ServiceAccount (${PR_CODE_SA} mounts none)"
fi
template="$(jq -c --arg sa "$PR_CODE_SA" '
  . + {serviceAccountName: $sa}
  | if (.podTemplate | type) == "object" then .podTemplate |= del(.automountServiceAccountToken) else . end' <<<"$template")"
specs="$(printf '%s\n' "${CLUSTER_TASKS[@]}" | jq -R . | jq -sc --arg sa "$PIPELINE_SA" 'map({pipelineTaskName: ., serviceAccountName: $sa})')"

jq -n -r \
  --arg run "$run" --arg uid "$uid" --arg ns "$run_ns" --arg pipeline "$PIPELINE" --argjson prlabels "$pr_labels" \
  --argjson params "$params" --argjson ws "$ws" --argjson template "$template" --argjson specs "$specs" '
  # JSON strings and flow collections are valid YAML, so values are written with tojson.
  def y: tojson;
  def block($indent): to_entries | map("\($indent)\(.key | y): \(.value | y)") | join("\n");
  [
    "apiVersion: tekton.dev/v1",
    "kind: PipelineRun",
    "metadata:",
    "  generateName: \($pipeline)-",
    (if $ns != "" then "  namespace: \($ns | y)" else empty end),
    "  labels:",
    "    app.kubernetes.io/part-of: tekton-dag",
    "    tekton-dag.io/continues: \($run | y)",
    ($prlabels | to_entries[] | "    \(.key | y): \(.value | y)"),
    "  annotations:",
    "    tekton-dag.io/continues-run-id: \($uid | y)",
    "spec:",
    "  pipelineRef:",
    "    name: \($pipeline)",
    "  taskRunTemplate:",
    ($template | block("    ")),
    "  taskRunSpecs:",
    ($specs | map("    - " + (to_entries | map("\(.key | y): \(.value | y)") | join("\n      "))) | join("\n")),
    "  params:",
    ($params | to_entries | map("    - name: \(.key | y)\n      value: \(.value | y)") | join("\n")),
    "  workspaces:",
    "    - " + ($ws | to_entries | map("\(.key | y): \(.value | y)") | join("\n      "))
  ] | join("\n")'
