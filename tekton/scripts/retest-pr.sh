#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Task retest-pr: a `/retest` comment of a trusted user reruns the pull request's current head. The comment's
# delivery names the PR but not its head commit, so this asks GitHub for the PR, then starts the run the
# webhook would have started for that commit: the PipelineRun of the listener's own TriggerTemplate (read
# from the cluster, so a rerun can never differ from a webhook run), with the commit, PR and repository
# filled in and every other param at the template's default. Then the PR's older runs are stopped as
# superseded (stop-pr-runs.sh), as a push would stop them.
# The fork gate holds: a head in another repository that is not a trusted fork is not rerun (a maintainer
# approves such a commit with /ok-to-test <sha>); a PR that is no longer open is not rerun either.
#   GET {github-api-url}/repos/{owner}/{name}/pulls/{number}
#
# Environment: REPO_FULL_NAME, REPO_ID, PR_NUMBER, DELIVERY (the trigger's id: the new run's delivery label),
# TEMPLATE (the TriggerTemplate), INTERCEPT_BACKEND (what the PR's intercept label chooses; empty: the template's default), TRUSTED_FORK_REPOS (space-separated owner/name), GITHUB_TOKEN_SECRET (may
# be empty: the PR is then read without a token, which works for public repositories only), GITHUB_API_URL,
# NAMESPACE. Needs: get on the TriggerTemplate, create, list and patch on pipelineruns, get on the token Secret.
set -euo pipefail
SCRIPTS_DIR="${SCRIPTS_DIR:-$(dirname "$0")}"
# shellcheck source=lib-common.sh
. "${SCRIPTS_DIR}/lib-common.sh"
# shellcheck source=lib-github.sh
. "${SCRIPTS_DIR}/lib-github.sh"

require_env REPO_FULL_NAME REPO_ID PR_NUMBER DELIVERY TEMPLATE NAMESPACE
github_require_repo
[[ "$PR_NUMBER" =~ ^[0-9]+$ ]] || die "pr-number '${PR_NUMBER}' must be a pull request number"
GITHUB_API_URL="${GITHUB_API_URL:-https://api.github.com}"
GITHUB_API_URL="${GITHUB_API_URL%/}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ -n "${GITHUB_TOKEN_SECRET:-}" ]; then
  github_auth_header "$GITHUB_TOKEN_SECRET" "${work}/auth"
else
  log "retest-pr: no GitHub token secret configured (param github-token-secret is empty); reading the PR without a token (public repositories only)"
  : >"${work}/auth"
fi
url="${GITHUB_API_URL}/repos/${REPO_FULL_NAME}/pulls/${PR_NUMBER}"
status="$(github_request GET "$url" "${work}/auth" "${work}/pr")"
[ "$status" = 200 ] || die "GitHub answered HTTP ${status} to GET ${url}: $(github_error "${work}/pr")"

state="$(jq -r '.state // ""' "${work}/pr")"
sha="$(jq -r '.head.sha // ""' "${work}/pr")"
head_repo="$(jq -r '.head.repo.full_name // ""' "${work}/pr")"
base_repo="$(jq -r '.base.repo.full_name // ""' "${work}/pr")"
if [ "$state" != open ]; then
  log "retest-pr: PR #${PR_NUMBER} of ${REPO_FULL_NAME} is ${state:-in an unknown state}, not open; nothing is rerun"
  exit 0
fi
[[ "$sha" =~ ^[0-9a-f]{40}$ ]] || die "GitHub's answer for PR #${PR_NUMBER} names no head commit (head.sha '${sha}')"

# GitHub compares owner and repository names case-insensitively.
lower() { tr '[:upper:]' '[:lower:]' <<<"$1"; }
trusted=false
[ -n "$head_repo" ] && [ "$(lower "$head_repo")" = "$(lower "$base_repo")" ] && trusted=true
for fork in ${TRUSTED_FORK_REPOS:-}; do
  [ -n "$head_repo" ] && [ "$(lower "$fork")" = "$(lower "$head_repo")" ] && trusted=true
done
if [ "$trusted" != true ]; then
  log "retest-pr: PR #${PR_NUMBER}'s head ${sha:0:7} is in ${head_repo:-a deleted repository}, not ${base_repo} or a trusted fork; it is not rerun. A maintainer approves that commit with: /ok-to-test ${sha}"
  exit 0
fi

template_json="$(kubectl get triggertemplates.triggers.tekton.dev "$TEMPLATE" -n "$NAMESPACE" -o json)" ||
  die "cannot read TriggerTemplate ${NAMESPACE}/${TEMPLATE}"
run="$(jq --arg sha "$sha" --arg pr "$PR_NUMBER" --arg repo "$REPO_FULL_NAME" --arg repoid "$REPO_ID" --arg uid "$DELIVERY" \
  --arg backend "${INTERCEPT_BACKEND:-}" '
  (([.spec.params[] | select(has("default")) | {(.name): .default}] | add // {})
    + {"app-revision": $sha, "pr-number": $pr, "repo-full-name": $repo, "repo-id": $repoid}
    + (if $backend != "" then {"intercept-backend": $backend} else {} end)) as $p
  | [.spec.resourcetemplates[] | select(.kind == "PipelineRun")]
  | if length == 1 then .[0] else error("the template has \(length) PipelineRun resource templates, not one") end
  | walk(if type == "string"
         then gsub("\\$\\(tt\\.params\\.(?<n>[A-Za-z0-9_-]+)\\)"; if $p[.n] == null then "$(tt.params.\(.n))" else $p[.n] end)
              | gsub("\\$\\(uid\\)"; $uid)
         else . end)' <<<"$template_json")" || die "cannot make a PipelineRun of TriggerTemplate ${TEMPLATE}"
# shellcheck disable=SC2016 # the pattern is Triggers' literal $(tt.params.<name>), not a shell expansion
if missing="$(grep -o '\$(tt\.params\.[A-Za-z0-9_-]*)' <<<"$run" | sort -u | tr '\n' ' ')" && [ -n "$missing" ]; then
  die "TriggerTemplate ${TEMPLATE} uses params that have no value or default: ${missing}"
fi
created="$(kubectl create -n "$NAMESPACE" -o jsonpath='{.metadata.name}' -f - <<<"$run")" ||
  die "cannot create the rerun of PR #${PR_NUMBER} in namespace ${NAMESPACE}"
log "retest-pr: started ${NAMESPACE}/${created} for PR #${PR_NUMBER} of ${REPO_FULL_NAME} at ${sha:0:7}"

REASON=superseded HEAD_SHA="$sha" "${SCRIPTS_DIR}/stop-pr-runs.sh"
