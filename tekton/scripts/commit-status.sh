#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Task commit-status: sets the run's commit status on the commit it tests, so that a PR shows the run and
# branch protection can require it. Runs twice per run: first (PHASE=start) `pending`, then in finally
# (PHASE=end) `success`, `failure` (naming the task that failed) or `error` (the run was cancelled, or
# stopped in favour of a newer commit, whose sha the PipelineRun's annotation tekton-dag.io/superseded-by
# names, or because the PR was closed: annotation tekton-dag.io/stopped-because=closed; stop-pr-runs.sh sets both).
#   POST {github-api-url}/repos/{owner}/{name}/statuses/{sha}   {state, context, description, target_url}
# Every run of a PR reports under the same context (both pipelines), so a continued run replaces the state
# of the run it continues on that commit.
# With an empty github-token-secret or repo-full-name it logs that no status is set and exits 0; so it
# does when the revision is not a full commit sha (a branch given by hand names no commit).
#
# Environment (from the task params): PHASE (start|end), REPO_FULL_NAME, SHA, GITHUB_TOKEN_SECRET,
# GITHUB_API_URL, STATUS_CONTEXT, TARGET_URL_TEMPLATE ({namespace}, {name} and {uid} are replaced),
# PIPELINE_NAME, RUN_NAME, RUN_ID, RUN_NAMESPACE, PIPELINE_STATUS ($(tasks.status), for PHASE=end).
# PHASE=end reads its own PipelineRun and lists its TaskRuns (the pipeline ServiceAccount's list rights in
# the pipelines namespace).
set -euo pipefail
SCRIPTS_DIR="${SCRIPTS_DIR:-$(dirname "$0")}"
# shellcheck source=lib-common.sh
. "${SCRIPTS_DIR}/lib-common.sh"
# shellcheck source=lib-github.sh
. "${SCRIPTS_DIR}/lib-github.sh"

# GitHub keeps at most 140 characters of a status description (docs.github.com, "Create a commit status").
DESCRIPTION_MAX=140

github_skip_unless_configured commit-status "no commit status is set"
SHA="${SHA:-}"
if ! [[ "$SHA" =~ ^[0-9a-f]{40}$ ]]; then
  log "commit-status: revision '${SHA}' is not a full commit sha (a branch or short sha given by hand); no commit status is set"
  exit 0
fi
require_env PHASE STATUS_CONTEXT PIPELINE_NAME RUN_NAME RUN_ID RUN_NAMESPACE
GITHUB_API_URL="${GITHUB_API_URL:-https://api.github.com}"
GITHUB_API_URL="${GITHUB_API_URL%/}"
TARGET_URL_TEMPLATE="${TARGET_URL_TEMPLATE:-}"
github_require_repo

target_url=""
if [ -n "$TARGET_URL_TEMPLATE" ]; then
  target_url="${TARGET_URL_TEMPLATE//\{namespace\}/$RUN_NAMESPACE}"
  target_url="${target_url//\{name\}/$RUN_NAME}"
  target_url="${target_url//\{uid\}/$RUN_ID}"
  [[ "$target_url" =~ ^https?://[^[:space:]]+$ ]] ||
    die "status-target-url '${TARGET_URL_TEMPLATE}' does not give an http(s) URL without spaces (got '${target_url}'); placeholders are {namespace}, {name} and {uid}"
fi

# The end state: from Tekton, never from anything the PR's code wrote.
end_state() {
  local run spec_status superseded stopped failed
  run="$(kubectl get pipelineruns.tekton.dev -n "$RUN_NAMESPACE" --field-selector "metadata.name=${RUN_NAME}" -o json)" ||
    die "cannot read PipelineRun ${RUN_NAMESPACE}/${RUN_NAME}"
  spec_status="$(jq -r '.items[0].spec.status // ""' <<<"$run")"
  superseded="$(jq -r '.items[0].metadata.annotations["tekton-dag.io/superseded-by"] // ""' <<<"$run")"
  stopped="$(jq -r '.items[0].metadata.annotations["tekton-dag.io/stopped-because"] // ""' <<<"$run")"
  case "$spec_status" in
    Cancelled | CancelledRunFinally | StoppedRunFinally)
      if [[ "$superseded" =~ ^[0-9a-f]{7,40}$ ]]; then
        printf 'error\t%s: superseded by %s\n' "$PIPELINE_NAME" "${superseded:0:7}"
      elif [ "$stopped" = closed ]; then
        printf 'error\t%s: stopped, the PR was closed\n' "$PIPELINE_NAME"
      else
        printf 'error\t%s: cancelled\n' "$PIPELINE_NAME"
      fi
      return
      ;;
  esac
  case "${PIPELINE_STATUS:-}" in
    Succeeded | Completed) printf 'success\t%s: passed\n' "$PIPELINE_NAME" ;;
    Failed)
      failed="$(kubectl get taskruns.tekton.dev -n "$RUN_NAMESPACE" -l "tekton.dev/pipelineRun=${RUN_NAME}" -o json |
        jq -r '[.items[] | select(any(.status.conditions[]?; .type == "Succeeded" and .status == "False"))
                | .metadata.labels["tekton.dev/pipelineTask"]] | sort | join(", ")')" ||
        die "cannot list the TaskRuns of PipelineRun ${RUN_NAMESPACE}/${RUN_NAME}"
      printf 'failure\t%s: failed at %s\n' "$PIPELINE_NAME" "${failed:-a task (none of its TaskRuns says which)}"
      ;;
    *) printf 'error\t%s: ended %s\n' "$PIPELINE_NAME" "${PIPELINE_STATUS:-without a status}" ;;
  esac
}

case "$PHASE" in
  start) state=pending description="${PIPELINE_NAME}: running" ;;
  end)
    result="$(end_state)"
    state="${result%%$'\t'*}" description="${result#*$'\t'}"
    ;;
  *) die "phase '${PHASE}' must be start or end" ;;
esac
[ -n "${state:-}" ] || die "could not tell the run's state"
description="${description:0:$DESCRIPTION_MAX}"

payload="$(jq -n --arg state "$state" --arg context "$STATUS_CONTEXT" --arg description "$description" --arg url "$target_url" \
  '{state: $state, context: $context, description: $description} + (if $url != "" then {target_url: $url} else {} end)')"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
github_auth_header "$GITHUB_TOKEN_SECRET" "${work}/auth"
url="${GITHUB_API_URL}/repos/${REPO_FULL_NAME}/statuses/${SHA}"
log "commit-status: ${state} on ${REPO_FULL_NAME}@${SHA:0:7} (${STATUS_CONTEXT}): ${description}"
status="$(github_request POST "$url" "${work}/auth" "${work}/response" <<<"$payload")"
[ "$status" = 201 ] || die "GitHub answered HTTP ${status} to POST ${url}: $(github_error "${work}/response")"
log "commit-status: set"
