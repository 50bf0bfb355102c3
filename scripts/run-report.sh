#!/usr/bin/env bash
# Says what happened in one run of the PR pipelines (stack-pr-test or stack-pr-continue):
#
#   scripts/run-report.sh [-n NAMESPACE] PIPELINERUN
#
# It prints the run's state, then each pipeline task with its status and reason (skipped ones with Tekton's
# reason); for a failed task, the step that failed and the exact `kubectl logs` command of that step's
# container; the results that tell the story (test-summary, deployed-pods, answered-by, ...); and where the
# run's test-summary.json is and how to read it (it lives on the run's workspace volume: reading it needs a
# pod that mounts that volume; the command is printed, not run). What each failure means: docs/failed-runs.md.
# Reads only: needs kubectl and jq, and the right to get PipelineRuns and list TaskRuns; KUBECTL names another kubectl.
set -euo pipefail

KUBECTL="${KUBECTL:-kubectl}"
PAGE="docs/failed-runs.md"
# TaskRun results worth showing, by name (others are plumbing between tasks).
SHOWN_RESULTS=(changed-app intercept-header-value build-tool commit built-images deployed-pods answered-by test-summary)

die() {
  printf 'run-report: error: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

namespace=""
run=""
while [ $# -gt 0 ]; do
  case "$1" in
    -n|--namespace)
      [ $# -ge 2 ] || die "$1 needs a namespace"
      namespace="$2"; shift 2 ;;
    --namespace=*) namespace="${1#*=}"; shift ;;
    -h|--help) usage ;;
    -*) die "unknown option '$1' (allowed: -n NAMESPACE, -h)" ;;
    *)
      [ -z "$run" ] || die "only one PipelineRun name is allowed (got '${run}' and '$1')"
      run="$1"; shift ;;
  esac
done
[ -n "$run" ] || { printf 'run-report: error: the name of a PipelineRun is required (kubectl get pipelineruns lists them)\n' >&2; usage; }
command -v jq >/dev/null 2>&1 || die "jq is required (apt-get install jq)"
command -v "$KUBECTL" >/dev/null 2>&1 || die "kubectl ('${KUBECTL}') was not found"

ns_args=()
[ -z "$namespace" ] || ns_args=(-n "$namespace")
# The objects go through files: a run's TaskRuns can outgrow what one command-line argument may hold.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
err="${tmp}/err"

if ! "$KUBECTL" get pipelinerun "$run" "${ns_args[@]}" -o json >"${tmp}/run.json" 2>"$err"; then
  if grep -qi 'NotFound\|not found' "$err"; then
    die "PipelineRun '${run}' not found${namespace:+ in namespace ${namespace}} (kubectl get pipelineruns${namespace:+ -n ${namespace}} lists the runs)"
  fi
  die "could not read PipelineRun '${run}': $(cat "$err")"
fi
if ! "$KUBECTL" get taskruns "${ns_args[@]}" -l "tekton.dev/pipelineRun=${run}" -o json >"${tmp}/taskruns.json" 2>"$err"; then
  die "could not list the TaskRuns of '${run}': $(cat "$err")"
fi

# One jq program over both documents: the run's tasks in pipeline order (the spec Tekton keeps in the run's
# status), each matched with its TaskRun or its skip reason; TaskRuns the spec does not name come after.
jq -n -r --slurpfile prs "${tmp}/run.json" --slurpfile trss "${tmp}/taskruns.json" --arg page "$PAGE" --arg kubectl "$KUBECTL" \
  --argjson shown "$(printf '%s\n' "${SHOWN_RESULTS[@]}" | jq -R . | jq -sc .)" '
  $prs[0] as $pr | $trss[0] as $trs
  | def cond: ([.status.conditions[]? | select(.type == "Succeeded")][0] // {});
  def state: cond | if .status == "True" then "Succeeded" elif .status == "False" then "Failed"
                    elif .status == "Unknown" then "Running" else "Pending" end;
  # The section of the failure page about a pipeline task (one section per task or family of tasks).
  def anchor: if test("^compile-") then "compile-tool" elif test("^hook-") then "hook-stage"
              elif test("^deploy-intercepts-(telepresence|mirrord)$") then "deploy-intercepts-backend"
              elif test("^status-(pending|final)$") then "status-pending-status-final" else . end;
  ($pr.metadata.namespace) as $ns
  | ($pr.metadata.uid) as $uid
  | [$trs.items[] | {key: (.metadata.labels["tekton.dev/pipelineTask"] // .metadata.name), value: .}] as $byTask
  | ([$pr.status.skippedTasks[]? | {key: .name, value: .reason}] | from_entries) as $skipped
  | ([$pr.status.pipelineSpec.tasks[]?.name] + [$pr.status.pipelineSpec.finally[]?.name]) as $specTasks
  | ($specTasks + [$byTask[].key | select(. as $k | $specTasks | index($k) | not)]) as $order
  | ([$pr.spec.params[]? | {key: .name, value: .value}] | from_entries) as $params
  | ([$pr.status.pipelineSpec.params[]? | select(.default != null) | {key: .name, value: .default}] | from_entries) as $defaults
  | ([$byTask[] | select(.key == "check-intercept-backend") | .value.spec.params[]? | select(.name == "intercept-backend") | .value][0]) as $checked
  | ($pr | cond) as $c
  | [
      "PipelineRun \($pr.metadata.name) (namespace \($ns), pipeline \($pr.spec.pipelineRef.name // "embedded spec")): \($pr | state)"
        + (if $c.reason and $c.reason != ($pr | state) then " (\($c.reason))" else "" end),
      (if $c.message then "  \($c.message)" else empty end),
      "  run id (uid): \($uid)",
      "  intercept backend: \($params["intercept-backend"] // $checked // (if $defaults["intercept-backend"] then "\($defaults["intercept-backend"]) (the pipeline default)" else "not recorded" end))",
      "  started \($pr.status.startTime // "-"), finished \($pr.status.completionTime // "-")",
      "",
      "Tasks:",
      ( $order[] as $t
        | ([$byTask[] | select(.key == $t) | .value][0]) as $tr
        | if $tr == null then
            (if $skipped[$t] then "  \($t): Skipped (\($skipped[$t]))"
             else "  \($t): not started" + (if ($pr | state) == "Running" then "" else " (the run ended first)" end) end)
          else
            ($tr | cond) as $tc
            | ($tr | state) as $ts
            | "  \($t): \($ts)" + (if $tc.reason and $tc.reason != $ts then " (\($tc.reason))" else "" end) + "  [TaskRun \($tr.metadata.name)]",
              (if $ts == "Failed" then
                 ([$tr.status.steps[]? | select((.terminated.exitCode // 0) != 0)][0]) as $step
                 | (if $tc.message then "      \($tc.message)" else empty end),
                   (if $step then
                      "      failed step: \($step.name) (container \($step.container // "step-\($step.name)"), exit code \($step.terminated.exitCode)\(if $step.terminated.reason then ", \($step.terminated.reason)" else "" end))",
                      (if ($tr.status.podName // "") != "" then
                         "      its log: \($kubectl) logs -n \($ns) \($tr.status.podName) -c \($step.container // "step-\($step.name)")"
                       else "      no pod is recorded for it: no step log to read" end)
                    elif ($tr.status.podName // "") != "" then
                      "      no step exited non-zero (a timeout, a cancel or a pod that never ran); all its steps: \($kubectl) logs -n \($ns) \($tr.status.podName) --all-containers --prefix"
                    else "      no pod was created for it (its message above says why)" end),
                   "      what it means: \($page)#\($t | anchor)"
               else empty end),
              ($tr.status.results[]? | select(.name as $n | $shown | index($n))
                | "      result \(.name): \(.value | if type == "string" then . else tojson end)")
          end ),
      "",
      ( if ($pr.status.results // []) | length > 0 then
          "Run results:", ($pr.status.results[] | "  \(.name): \(.value | if type == "string" then . else tojson end)")
        else "Run results: none (the tasks that produce them did not finish)" end ),
      "",
      # Where the run wrote its files: the claim of its shared-workspace, named in the spec or, for a
      # volumeClaimTemplate, in the TaskRuns.
      ( ([$pr.spec.workspaces[]? | select(.name == "shared-workspace")][0]) as $ws
        | ([$trs.items[].spec.workspaces[]? | select(.name == "shared-workspace") | .persistentVolumeClaim.claimName // empty][0]
           // $ws.persistentVolumeClaim.claimName // "") as $claim
        | ".tekton-dag/runs/\($uid)/test-summary.json" as $file
        | ([$byTask[] | select(.key == "run-stack-tests")] | length > 0) as $tested
        | "test-summary.json:",
          if ($tested | not) then "  run-stack-tests did not run, so it wrote none"
          elif $ws == null then "  the run binds no shared-workspace: there is no file"
          elif $ws.emptyDir then "  the run used an emptyDir workspace: the file went with the run'"'"'s pods"
          elif $claim == "" then "  no TaskRun names the claim of its workspace yet: no task has used it"
          else
            "  run-stack-tests wrote it (its test-summary result above sums it up) to \($file) on volume claim \($claim)"
              + " (namespace \($ns))" + (if $ws.volumeClaimTemplate then ", which is deleted together with the run" else "" end) + ".",
            "  Reading it needs a pod that mounts the claim. This one prints the file and is removed:",
            ( ($params["mirrord-image"] // $defaults["mirrord-image"] // "<an image with cat>") as $image
              | ("tekton-dag-read-" + ($uid | .[0:8])) as $pod
              | {spec: {securityContext: {runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: {type: "RuntimeDefault"}},
                        volumes: [{name: "ws", persistentVolumeClaim: {claimName: $claim, readOnly: true}}],
                        containers: [{name: $pod, volumeMounts: [{name: "ws", mountPath: "/workspace", readOnly: true}],
                                      securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: ["ALL"]}}}]}} as $ov
              | "  \($kubectl) run \($pod) -n \($ns) --rm -i --restart=Never --image=\($image) --override-type=strategic --overrides=\("'"'"'" + ($ov | tojson) + "'"'"'") --command -- cat /workspace/\($file)" ),
            "  With a GitHub token configured, pr-comment puts its table on the PR (docs/webhook.md#one-comment-per-pr)."
          end )
    ] | .[]'
