#!/usr/bin/env bash
# Task pr-comment (a finally task): comments on the pull request with the run's outcome and test summary.
#
# It reads no task result (a finally task whose result reference cannot be resolved is skipped silently,
# ../shared/FACTS.md). The verdicts come from Tekton: the pipeline status and the execution status of the
# validate and test tasks ($(tasks.<name>.status): Succeeded, Failed or None), which PR code cannot change.
# The per-suite table comes from <run dir>/test-summary.json, which run-stack-tests wrote while running the
# PR's collections; the comment says so, and its cells are reduced to plain text. The validate tasks'
# <run dir>/validation-*.json are not read: PR code (hooks, tests) runs after them and can rewrite them.
# With an empty github-token-secret (or repo-full-name) it logs that no comment is posted and exits 0.
# Otherwise it reads key `token` of that Secret in its own namespace with kubectl (a Secret name from a
# param cannot be an env secretKeyRef: an empty name makes the pod invalid) and keeps ONE comment per PR
# and context: the body starts with a hidden marker naming the context, and an earlier comment that carries
# it AND was written by the token's own user (GET /user) is updated in place; someone else's comment is never
# touched, whatever it contains. Without such a comment, or when the token cannot read /user (a GitHub App
# installation token), a new comment is posted (logged).
#   GET   {github-api-url}/user, {github-api-url}/repos/{owner}/{name}/issues/{pr-number}/comments?per_page=100&page=N
#   PATCH {github-api-url}/repos/{owner}/{name}/issues/comments/{id}   or
#   POST  {github-api-url}/repos/{owner}/{name}/issues/{pr-number}/comments
#
# Environment (from the task params): RUN_ID, RUN_NAME, REPO_FULL_NAME, PR_NUMBER, GITHUB_TOKEN_SECRET,
# PIPELINE_STATUS, PROPAGATION_STATUS, ORIGINAL_TRAFFIC_STATUS, TESTS_STATUS, GITHUB_API_URL, SHARED_WORKSPACE,
# SHA (the commit the run tested, shown in the comment; may be empty), COMMENT_CONTEXT (names the marker).
set -euo pipefail
SCRIPTS_DIR="${SCRIPTS_DIR:-$(dirname "$0")}"
# shellcheck source=lib-common.sh
. "${SCRIPTS_DIR}/lib-common.sh"
# shellcheck source=lib-github.sh
. "${SCRIPTS_DIR}/lib-github.sh"

github_skip_unless_configured pr-comment "not commenting on the PR"
require_env RUN_ID RUN_NAME PR_NUMBER SHARED_WORKSPACE
GITHUB_API_URL="${GITHUB_API_URL:-https://api.github.com}"
GITHUB_API_URL="${GITHUB_API_URL%/}"
PIPELINE_STATUS="${PIPELINE_STATUS:-unknown}"
SHA="${SHA:-}"
COMMENT_CONTEXT="${COMMENT_CONTEXT:-tekton-dag}"
[[ "$COMMENT_CONTEXT" != *"--"* && "$COMMENT_CONTEXT" != *">"* && "$COMMENT_CONTEXT" != *$'\n'* ]] ||
  die "comment-context '${COMMENT_CONTEXT}' must be one line without '--' or '>' (it goes into an HTML comment)"
# The hidden first line that marks this stack's comment on a PR (GitHub does not render HTML comments).
MARKER="<!-- tekton-dag:pr-comment context=${COMMENT_CONTEXT} -->"
github_require_repo
[[ "$PR_NUMBER" =~ ^[0-9]+$ ]] || die "pr-number '${PR_NUMBER}' must be a whole number"
[[ "$GITHUB_TOKEN_SECRET" =~ ^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$ ]] ||
  die "github-token-secret '${GITHUB_TOKEN_SECRET}' is not a Secret name"

PROPAGATION_STATUS="${PROPAGATION_STATUS:-}"
ORIGINAL_TRAFFIC_STATUS="${ORIGINAL_TRAFFIC_STATUS:-}"
TESTS_STATUS="${TESTS_STATUS:-}"
for name in PROPAGATION_STATUS ORIGINAL_TRAFFIC_STATUS TESTS_STATUS; do
  case "${!name}" in
    "" | Succeeded | Failed | None) ;;
    *) die "${name} '${!name}' must be Succeeded, Failed or None (pass \$(tasks.<name>.status) from finally) or empty" ;;
  esac
done

dir="$(run_dir)"

# ---- the comment ---------------------------------------------------------------------------------
summary='null'
if [ -f "${dir}/test-summary.json" ] && [ ! -L "${dir}/test-summary.json" ]; then
  summary="$(head -c 200000 "${dir}/test-summary.json" | jq -c 'if type == "object" then . else null end' 2>/dev/null || printf 'null')"
fi

# The summary goes in as a file, and the body to the payload on stdin: up to 200,000 bytes pass the kernel's
# 128 KiB limit on one argument. GitHub refuses a comment body over 65536 characters.
body="$(jq -n -r --arg status "$PIPELINE_STATUS" --arg run "$RUN_NAME" --arg id "$RUN_ID" --arg marker "$MARKER" --arg sha "$SHA" \
  --arg propagation "$PROPAGATION_STATUS" --arg original "$ORIGINAL_TRAFFIC_STATUS" --arg tests "$TESTS_STATUS" \
  --slurpfile summaries <(printf '%s' "$summary") '
  $summaries[0] as $summary
  | def icon: if . == "passed" or . == "Succeeded" or . == "Completed" then "✅"
            elif . == "failed" or . == "Failed" then "❌" else "⚠️" end;
  # Text PR code wrote: one line, no table, code or mention syntax, bounded length.
  def plain: tostring | gsub("[\\x00-\\x1f|`<>\\[\\]]"; " ") | gsub("@"; "@\u200b") | .[0:200];
  def task_line($what; $task; $s): "- \($s | icon) \($what) (\($task)): \(if $s == "None" then "did not run" else $s end)";
  [ $marker,
    "### tekton-dag: \($status | icon) \($status)",
    "",
    "PipelineRun `\($run)` (uid `\($id)`)\(if $sha != "" then ", commit `\($sha)`" else "" end)",
    "",
    ( if $propagation != "" or $original != "" then
        "**Routing**", "",
        (if $propagation != "" then task_line("with the PR header, the PR pod answers"; "validate-stack-propagation"; $propagation) else empty end),
        (if $original != "" then task_line("without it, the original Deployment answers"; "validate-original-traffic"; $original) else empty end),
        ""
      else empty end ),
    ( if $tests != "" then "**Tests**: \($tests | icon) run-stack-tests \(if $tests == "None" then "did not run" else $tests end)", "" else empty end ),
    ( if $summary == null then
        "No test summary: run-stack-tests did not run in this PipelineRun."
      else try (
        "Suites as run-stack-tests reported them (it runs the PR'"'"'s collections; this table is their own account) through `\($summary.entryApp | plain)` with `\($summary.header | plain)`: \($summary.status | plain) (\($summary.counts.passed | plain) passed, \($summary.counts.failed | plain) failed, \($summary.counts.skipped | plain) skipped)",
        "",
        "| app | suite | status | note |",
        "| --- | --- | --- | --- |",
        (($summary.suites // [])[0:100][] | "| \(.app | plain) | \(.type | plain)\(if (.path // "") != "" then " `\(.path | plain)`" else "" end) | \(.status | plain | icon) \(.status | plain) | \(.reason // "" | plain) |")
      ) catch "The test summary run-stack-tests wrote is not in the expected shape."
      end )
  ] | join("\n")
  | if length > 65000 then .[0:64700] + "\n\n… (comment cut at GitHub'"'"'s limit; the whole summary is test-summary.json in the run'"'"'s workspace)" else . end')"
payload="$(printf '%s' "$body" | jq -Rs '{body: .}')"

# ---- the token and the request ---------------------------------------------------------------------
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
github_auth_header "$GITHUB_TOKEN_SECRET" "${work}/auth"

# ---- our earlier comment on this PR, if any ---------------------------------------------------------
api_repo="${GITHUB_API_URL}/repos/${REPO_FULL_NAME}"
existing=""
status="$(github_request GET "${GITHUB_API_URL}/user" "${work}/auth" "${work}/user")"
login="$(jq -r '.login // empty' "${work}/user" 2>/dev/null || true)"
if [ "$status" != 200 ] || [ -z "$login" ]; then
  log "pr-comment: the token cannot read its own user (HTTP ${status}: $(github_error "${work}/user"); GitHub App tokens cannot), so an earlier comment cannot be told from someone else's: posting a new one"
else
  page=1
  while [ "$page" -le 30 ]; do
    status="$(github_request GET "${api_repo}/issues/${PR_NUMBER}/comments?per_page=100&page=${page}" "${work}/auth" "${work}/page")"
    [ "$status" = 200 ] || die "GitHub answered HTTP ${status} to GET ${api_repo}/issues/${PR_NUMBER}/comments: $(github_error "${work}/page")"
    # The newest of ours that starts with the marker.
    found="$(jq -r --arg login "$login" --arg marker "$MARKER" \
      '[.[] | select(.user.login == $login and ((.body // "") | startswith($marker))) | .id] | last // empty' "${work}/page")"
    [ -n "$found" ] && existing="$found"
    [ "$(jq 'length' "${work}/page")" -eq 100 ] || break
    page=$((page + 1))
  done
fi

if [ -n "$existing" ]; then
  url="${api_repo}/issues/comments/${existing}"
  log "pr-comment: updating our comment ${existing} on ${REPO_FULL_NAME}#${PR_NUMBER} with the ${PIPELINE_STATUS} summary"
  status="$(github_request PATCH "$url" "${work}/auth" "${work}/response" <<<"$payload")"
  [ "$status" = 200 ] || die "GitHub answered HTTP ${status} to PATCH ${url}: $(github_error "${work}/response")"
  log "pr-comment: comment updated: $(jq -r '.html_url // "(no html_url in the answer)"' "${work}/response" 2>/dev/null || true)"
  exit 0
fi

url="${GITHUB_API_URL}/repos/${REPO_FULL_NAME}/issues/${PR_NUMBER}/comments"
log "pr-comment: posting the ${PIPELINE_STATUS} summary to ${REPO_FULL_NAME}#${PR_NUMBER}"
status="$(github_request POST "$url" "${work}/auth" "${work}/response" <<<"$payload")"
if [ "$status" != 201 ]; then
  die "GitHub answered HTTP ${status} to POST ${url}: $(github_error "${work}/response")"
fi
log "pr-comment: comment created: $(jq -r '.html_url // "(no html_url in the answer)"' "${work}/response" 2>/dev/null || true)"
