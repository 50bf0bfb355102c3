#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Task stop-pr-runs: a newer delivery for a pull request (a push, an approval, a /retest) or the PR's closing
# stops that PR's runs that have not ended, so no stale run keeps an intercept in the shared cluster, waits
# for or holds the app's intercept lock, or tests a commit nobody will merge.
# Stopping is Tekton's CancelledRunFinally in one merge patch with the reason as an annotation: the running
# TaskRuns are cancelled at once (a deploy waiting for the lock stops waiting), then the finally tasks run,
# so the run's cleanup removes its objects and its commit status says why (commit-status.sh reads
# tekton-dag.io/superseded-by and tekton-dag.io/stopped-because).
# Only runs of the same repository and PR are touched, by their labels tekton-dag.io/repo-id (GitHub's
# numeric id of the base repository: a name can be renamed or taken by someone else, an id cannot) and
# tekton-dag.io/pr. Never the run of this delivery (label tekton-dag.io/delivery), and never a run created
# after it: deliveries can arrive out of order, and an older one must not stop a newer run. Two runs created
# in the same second both stay (the safe way to be wrong).
#
# Environment: REPO_ID, PR_NUMBER, REASON (superseded | closed), HEAD_SHA (the superseding commit; for
# superseded), DELIVERY (this delivery's id; empty for closed), NAMESPACE (the runs' namespace).
# Needs list, get and patch on pipelineruns in NAMESPACE, nothing else.
set -euo pipefail
SCRIPTS_DIR="${SCRIPTS_DIR:-$(dirname "$0")}"
# shellcheck source=lib-common.sh
. "${SCRIPTS_DIR}/lib-common.sh"

require_env REPO_ID PR_NUMBER REASON NAMESPACE
DELIVERY="${DELIVERY:-}"
[[ "$REPO_ID" =~ ^[0-9]+$ ]] || die "repo-id '${REPO_ID}' must be GitHub's numeric repository id (repository.id of the delivery)"
[[ "$PR_NUMBER" =~ ^[0-9]+$ ]] || die "pr-number '${PR_NUMBER}' must be a pull request number"
[[ -z "$DELIVERY" || "$DELIVERY" =~ ^[a-z0-9-]{1,63}$ ]] || die "delivery '${DELIVERY}' must be a label value of lowercase letters, digits and '-'"
case "$REASON" in
  superseded)
    [[ "${HEAD_SHA:-}" =~ ^[0-9a-f]{40}$ ]] ||
      die "head-sha '${HEAD_SHA:-}' must be the full sha of the commit that supersedes the runs (reason superseded)"
    annotations="$(jq -n --arg sha "$HEAD_SHA" '{"tekton-dag.io/superseded-by": $sha, "tekton-dag.io/stopped-because": "superseded"}')"
    ;;
  closed) annotations='{"tekton-dag.io/stopped-because": "closed"}' ;;
  *) die "reason '${REASON}' must be superseded or closed" ;;
esac

selector="tekton-dag.io/repo-id=${REPO_ID},tekton-dag.io/pr=${PR_NUMBER}"
runs="$(kubectl get pipelineruns.tekton.dev -n "$NAMESPACE" -l "$selector" -o json)" ||
  die "cannot list the PipelineRuns of ${selector} in namespace ${NAMESPACE}"

# Not ended: no Succeeded condition with a verdict yet, and not already being stopped.
mapfile -t stale < <(jq -r --arg delivery "$DELIVERY" '
  ([.items[] | select($delivery != "" and .metadata.labels["tekton-dag.io/delivery"] == $delivery)
    | .metadata.creationTimestamp] | min) as $cutoff
  | .items[]
  | select($delivery == "" or .metadata.labels["tekton-dag.io/delivery"] != $delivery)
  | select($cutoff == null or .metadata.creationTimestamp < $cutoff)
  | select([.status.conditions[]? | select(.type == "Succeeded" and .status != "Unknown")] | length == 0)
  | select((.spec.status // "") | IN("Cancelled", "CancelledRunFinally", "StoppedRunFinally") | not)
  | .metadata.name' <<<"$runs")

if [ "${#stale[@]}" -eq 0 ]; then
  log "stop-pr-runs: no earlier run of PR #${PR_NUMBER} (repository id ${REPO_ID}) is running; nothing to stop"
  exit 0
fi

patch="$(jq -cn --argjson annotations "$annotations" '{metadata: {annotations: $annotations}, spec: {status: "CancelledRunFinally"}}')"
failed=()
for name in "${stale[@]}"; do
  if out="$(kubectl patch pipelineruns.tekton.dev "$name" -n "$NAMESPACE" --type merge -p "$patch" 2>&1)"; then
    log "stop-pr-runs: stopped ${NAMESPACE}/${name} (${REASON}${HEAD_SHA:+ by ${HEAD_SHA:0:7}}); its finally tasks clean up and report"
  elif [[ "$out" == *NotFound* || "$out" == *"not found"* ]]; then
    log "stop-pr-runs: ${NAMESPACE}/${name} was deleted meanwhile"
  else
    printf '%s\n' "$out" >&2
    failed+=("$name")
  fi
done
[ "${#failed[@]}" -eq 0 ] || die "could not stop PipelineRun(s) ${failed[*]} in namespace ${NAMESPACE} (see above)"
