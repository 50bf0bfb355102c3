#!/usr/bin/env bash
# Prints a stack-pr-continue PipelineRun that picks up a failed stack-pr-test run at deploy:
#
#   scripts/continue-pr.sh [-n NAMESPACE] [--set PARAM=VALUE ...] RUN_NAME | kubectl create -f -
#
# It reads the run (kubectl get pipelinerun RUN_NAME -o json) and the installed stack-pr-continue Pipeline,
# whose annotations (written by lib/continuePipeline.ts, which derives it from stack-pr-test) name the params
# to copy from the run, the task results that become params, and the cluster tasks. It copies those params,
# adds those results of the run's TaskRuns, binds the same shared-workspace volume (the PVC a
# volumeClaimTemplate made for the earlier run, if it used one) and keeps its pod template.
# Identities are always the two of docs/conventions.md: tekton-dag-pr-code by default, tekton-dag-pipeline
# only for the cluster tasks. It uses the backend the earlier run used; --set overrides or adds a param (e.g.
# --set intercept-backend=mirrord). Needs kubectl and jq, and the right to get PipelineRuns and Pipelines and
# list TaskRuns; KUBECTL names another kubectl.
set -euo pipefail

KUBECTL="${KUBECTL:-kubectl}"
PIPELINE="stack-pr-continue"
SOURCE_PIPELINE="stack-pr-test"
# The annotations of PIPELINE this script reads (lib/continuePipeline.ts).
PARAMS_ANNOTATION="tekton-dag.io/continuation-params"
CLUSTER_TASKS_ANNOTATION="tekton-dag.io/cluster-tasks"
# The ServiceAccount with the pipeline's RBAC and the one without any (lib/identities.ts).
PIPELINE_SA="tekton-dag-pipeline"
PR_CODE_SA="tekton-dag-pr-code"

die() {
  printf 'continue-pr: error: %s\n' "$*" >&2
  exit 1
}

warn() {
  printf 'continue-pr: warning: %s\n' "$*" >&2
}

usage() {
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
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

# What the continuation takes, from the Pipeline installed beside the run.
if ! cont_json="$("$KUBECTL" get pipeline "$PIPELINE" ${run_ns:+-n "$run_ns"} -o json 2>"$err")"; then
  die "could not read Pipeline ${PIPELINE}${run_ns:+ in namespace ${run_ns}} (its annotations name the params to pass): $(cat "$err")"
fi
spec="$(jq -c --arg a "$PARAMS_ANNOTATION" '.metadata.annotations[$a] // "" | fromjson? // empty' <<<"$cont_json")"
cluster_tasks="$(jq -r --arg a "$CLUSTER_TASKS_ANNOTATION" '.metadata.annotations[$a] // ""' <<<"$cont_json")"
if [ -z "$spec" ] || [ -z "$cluster_tasks" ] || ! jq -e '(.copied | type) == "array" and (.results | type) == "object" and (.earlierRunPaths | type) == "object"' <<<"$spec" >/dev/null; then
  die "Pipeline ${PIPELINE} has no usable ${PARAMS_ANNOTATION} and ${CLUSTER_TASKS_ANNOTATION} annotations; install it with this version of the program"
fi
read -r -a CLUSTER_TASKS <<<"$cluster_tasks"

if ! trs_json="$("$KUBECTL" get taskruns "${ns_args[@]}" -l "tekton.dev/pipelineRun=${run}" -o json 2>"$err")"; then
  die "could not list the TaskRuns of '${run}': $(cat "$err")"
fi

# The results that become params, {param: value}, from the TaskRun of each pipeline task the annotation names.
results="$(jq -c --argjson want "$(jq -c '.results' <<<"$spec")" '
  [.items[] | {task: .metadata.labels["tekton.dev/pipelineTask"], results: (.status.results // [])}] as $runs
  | $want | to_entries | map(.key as $name | .value as $task
      | {key: $name, value: ([$runs[] | select(.task == $task) | .results[] | select(.name == $name) | .value][0] // null)})
  | from_entries' <<<"$trs_json")"
missing="$(jq -r --argjson want "$(jq -c '.results' <<<"$spec")" 'to_entries | map(select(.value == null or .value == "")) | first // empty | "\($want[.key]) result '"'"'\(.key)'"'"'"' <<<"$results")"
if [ -n "$missing" ]; then
  task="${missing%% *}"
  die "PipelineRun '${run}' has no ${missing} yet (${task} did not finish); start a new ${SOURCE_PIPELINE} run instead"
fi
if [ "$(jq -r '.["built-images"] // ""' <<<"$results")" = "{}" ]; then
  die "PipelineRun '${run}' has no built-images yet (containerize built nothing); start a new ${SOURCE_PIPELINE} run instead"
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

# Params: the run's own, then the results, then the earlier run's paths and the run's name, then --set.
params="$(jq -c --argjson spec "$spec" --argjson r "$results" --arg prev "$run" --arg uid "$uid" '
  ([.spec.params[]? | select(.name as $n | $spec.copied | index($n))] | map({key: .name, value: .value}) | from_entries)
  + $r
  + ($spec.earlierRunPaths | map_values(split("{uid}") | join($uid)))
  + {"previous-run": $prev}' <<<"$pr_json")"
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
