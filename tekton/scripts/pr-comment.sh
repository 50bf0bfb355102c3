#!/usr/bin/env bash
# Task pr-comment (a finally task): comments on the pull request with the run's outcome and test summary.
#
# It reads no task result (a finally task whose result reference cannot be resolved is skipped silently,
# ../shared/FACTS.md); the test summary comes from <run dir>/test-summary.json and the routing verdicts
# from <run dir>/validation-*.json, when those tasks ran.
# With an empty github-token-secret (or repo-full-name) it logs that no comment is posted and exits 0.
# Otherwise it reads key `token` of that Secret in its own namespace with kubectl (a Secret name from a
# param cannot be an env secretKeyRef: an empty name makes the pod invalid) and posts
#   POST {github-api-url}/repos/{owner}/{name}/issues/{pr-number}/comments
#
# Environment (from the task params): RUN_ID, RUN_NAME, REPO_FULL_NAME, PR_NUMBER, GITHUB_TOKEN_SECRET,
# PIPELINE_STATUS, GITHUB_API_URL, SHARED_WORKSPACE.
set -euo pipefail
SCRIPTS_DIR="${SCRIPTS_DIR:-$(dirname "$0")}"
# shellcheck source=lib-common.sh
. "${SCRIPTS_DIR}/lib-common.sh"

GITHUB_TOKEN_SECRET="${GITHUB_TOKEN_SECRET:-}"
REPO_FULL_NAME="${REPO_FULL_NAME:-}"
if [ -z "$GITHUB_TOKEN_SECRET" ]; then
  log "pr-comment: no GitHub token secret configured (param github-token-secret is empty); not commenting on the PR"
  exit 0
fi
if [ -z "$REPO_FULL_NAME" ]; then
  log "pr-comment: param repo-full-name is empty, so there is no PR to comment on; not commenting"
  exit 0
fi
require_env RUN_ID RUN_NAME PR_NUMBER SHARED_WORKSPACE
GITHUB_API_URL="${GITHUB_API_URL:-https://api.github.com}"
GITHUB_API_URL="${GITHUB_API_URL%/}"
PIPELINE_STATUS="${PIPELINE_STATUS:-unknown}"
[[ "$REPO_FULL_NAME" =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] ||
  die "repo-full-name '${REPO_FULL_NAME}' must be owner/name"
[[ "$PR_NUMBER" =~ ^[0-9]+$ ]] || die "pr-number '${PR_NUMBER}' must be a whole number"
[[ "$GITHUB_TOKEN_SECRET" =~ ^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$ ]] ||
  die "github-token-secret '${GITHUB_TOKEN_SECRET}' is not a Secret name"

dir="$(run_dir)"

# ---- the comment ---------------------------------------------------------------------------------
summary='null'
if [ -f "${dir}/test-summary.json" ]; then
  summary="$(jq -c . "${dir}/test-summary.json" 2>/dev/null || printf 'null')"
fi
validations='[]'
for file in "${dir}"/validation-*.json; do
  [ -f "$file" ] || continue
  validations="$(jq -c --slurpfile v "$file" '. + $v' <<<"$validations" 2>/dev/null || printf '%s' "$validations")"
done

# Summary and verdicts go in as files, and the body to the payload on stdin: a large stack's summary passes
# the kernel's 128 KiB limit on one argument. GitHub refuses a comment body over 65536 characters.
body="$(jq -n -r --arg status "$PIPELINE_STATUS" --arg run "$RUN_NAME" --arg id "$RUN_ID" \
  --slurpfile summaries <(printf '%s' "$summary") --slurpfile validationLists <(printf '%s' "$validations") '
  $summaries[0] as $summary | $validationLists[0] as $validations
  | def icon: if . == "passed" or . == "pass" or . == "Succeeded" or . == "Completed" then "✅"
            elif . == "failed" or . == "fail" or . == "Failed" then "❌" else "⚠️" end;
  [ "### tekton-dag: \($status | icon) \($status)",
    "",
    "PipelineRun `\($run)` (uid `\($id)`)",
    "",
    ( if ($validations | length) > 0 then
        "**Routing**", "",
        ($validations[] | "- \(.verdict | icon) \(if .mode == "with-header" then "with the PR header" else "without the header" end): \(.verdict), answered by `\(.answeredBy)`"),
        ""
      else empty end ),
    ( if $summary == null then
        "No test summary: run-stack-tests did not run in this PipelineRun."
      else
        "**Tests** through `\($summary.entryApp)` with `\($summary.header)`: \($summary.status) (\($summary.counts.passed) passed, \($summary.counts.failed) failed, \($summary.counts.skipped) skipped)",
        "",
        "| app | suite | status | note |",
        "| --- | --- | --- | --- |",
        ($summary.suites[] | "| \(.app) | \(.type)\(if .path != "" then " `\(.path)`" else "" end) | \(.status | icon) \(.status) | \(.reason | gsub("\\|"; "/")) |")
      end )
  ] | join("\n")
  | if length > 65000 then .[0:64700] + "\n\n… (comment cut at GitHub'"'"'s limit; the whole summary is test-summary.json in the run'"'"'s workspace)" else . end')"
payload="$(printf '%s' "$body" | jq -Rs '{body: .}')"

# ---- the token -----------------------------------------------------------------------------------
if ! token_b64="$(kubectl get secret "$GITHUB_TOKEN_SECRET" -o jsonpath='{.data.token}' 2>&1)"; then
  die "cannot read Secret '${GITHUB_TOKEN_SECRET}' in the pipelines namespace: ${token_b64}"
fi
[ -n "$token_b64" ] || die "Secret '${GITHUB_TOKEN_SECRET}' has no key 'token' (the GitHub token goes under key token)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The token goes to curl through a header file, never on a command line.
{
  printf 'Authorization: Bearer '
  base64 -d <<<"$token_b64" | tr -d '\r\n'
  printf '\n'
} >"${work}/auth"
chmod 600 "${work}/auth"

url="${GITHUB_API_URL}/repos/${REPO_FULL_NAME}/issues/${PR_NUMBER}/comments"
log "pr-comment: posting the ${PIPELINE_STATUS} summary to ${REPO_FULL_NAME}#${PR_NUMBER}"
status="$(curl -sS -o "${work}/response" -w '%{http_code}' --connect-timeout 10 --max-time 30 \
  --retry 3 --retry-delay 2 \
  -X POST -H @"${work}/auth" -H 'Accept: application/vnd.github+json' \
  -H 'X-GitHub-Api-Version: 2022-11-28' -H 'Content-Type: application/json' \
  --data-binary @- "$url" <<<"$payload" 2>"${work}/curl.err")" || status="${status:-000}"
if [ "$status" != 201 ]; then
  die "GitHub answered HTTP ${status} to POST ${url}: $(head -c 400 "${work}/response" 2>/dev/null || true) $(tr '\n' ' ' <"${work}/curl.err")"
fi
log "pr-comment: comment created: $(jq -r '.html_url // "(no html_url in the answer)"' "${work}/response" 2>/dev/null || true)"
