#!/usr/bin/env bash
# Task run-stack-tests, step 3 of 3 (bash + jq): turn the plan and newman's reports into the test summary,
#   <run dir>/test-summary.json   every suite with its status (passed, failed, skipped) and reason,
# and the short result line `test-summary`. Exits 1 when any suite failed.
#
# Environment: SHARED_WORKSPACE, RUN_ID, ENTRY_APP, RESULT_TEST_SUMMARY (the result file; optional).
set -euo pipefail
SCRIPTS_DIR="${SCRIPTS_DIR:-$(dirname "$0")}"
# shellcheck source=lib-common.sh
. "${SCRIPTS_DIR}/lib-common.sh"

require_env SHARED_WORKSPACE RUN_ID ENTRY_APP
dir="$(run_dir)"
tests_dir="${dir}/tests"
plan="${tests_dir}/plan.tsv"
[ -f "$plan" ] || die "no test plan at ${plan} (the plan step did not run)"

# One suite a TSV line, turned into the list by one jq at the end: a jq call per suite, growing one JSON
# array, made the step quadratic in the number of suites (600 suites took a minute).
suites_file="$(mktemp)"
trap 'rm -f "$suites_file"' EXIT
while IFS=$'\t' read -r app type path action reason _collection _app_url; do
  [ "$path" = - ] && path=""
  [ "$reason" = - ] && reason=""
  report="${tests_dir}/results/${app}-${type}.json"
  rc_file="${tests_dir}/results/${app}-${type}.rc"
  stats='null'
  case "$action" in
    skip) status=skipped ;;
    fail) status=failed ;;
    run)
      if [ ! -f "$rc_file" ]; then
        status=failed
        reason="newman reported no result for this collection"
      else
        rc="$(cat "$rc_file")"
        if [ -f "$report" ] && jq -e '.run.stats' "$report" >/dev/null 2>&1; then
          stats="$(jq -c '{requests: .run.stats.requests.total, failedRequests: .run.stats.requests.failed,
                           assertions: .run.stats.assertions.total, failedAssertions: .run.stats.assertions.failed,
                           failures: [.run.failures[]? | "\(.source.name // "?"): \(.error.message // .error.test // "failed")"][0:5]}' "$report")"
        fi
        if [ "$rc" = 0 ]; then
          status=passed
          reason=""
        else
          status=failed
          reason="newman exited ${rc}"
          if [ "$stats" != null ]; then
            reason="${reason}: $(jq -r '"\(.failedAssertions) of \(.assertions) assertions and \(.failedRequests) of \(.requests) requests failed"' <<<"$stats")"
          fi
        fi
      fi
      ;;
    *) die "plan ${plan} has an unknown action '${action}' for ${app} ${type}" ;;
  esac
  # Plan fields hold no tab or newline (they came through the TSV), nor does jq -c's stats.
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$app" "$type" "$path" "$status" "$reason" "$stats" >>"$suites_file"
done <"$plan"

# The suites go in on stdin: a large stack's list passes the kernel's 128 KiB limit on one argument.
summary="$(jq --arg entry "$ENTRY_APP" \
  --arg base "$(cat "${tests_dir}/base-url")" \
  --arg header "$(cat "${tests_dir}/header-name"): $(cat "${tests_dir}/header-value")" '
  . as $suites
  | ($suites | map(select(.status == "passed")) | length) as $p
  | ($suites | map(select(.status == "failed")) | length) as $f
  | ($suites | map(select(.status == "skipped")) | length) as $s
  | {status: (if $f > 0 then "failed" elif $p > 0 then "passed" else "no-tests-run" end),
     entryApp: $entry, baseUrl: $base, header: $header,
     counts: {passed: $p, failed: $f, skipped: $s},
     suites: $suites}' < <(jq -R -s '[split("\n")[] | select(. != "") | split("\t")
  | {app: .[0], type: .[1], path: .[2], status: .[3], reason: .[4]} + (if .[5] == "null" then {} else {stats: (.[5] | fromjson)} end)]' "$suites_file"))"
printf '%s\n' "$summary" >"${dir}/test-summary.json.tmp"
mv "${dir}/test-summary.json.tmp" "${dir}/test-summary.json"

line="$(jq -r '"\(.status): \(.counts.passed) passed, \(.counts.failed) failed, \(.counts.skipped) skipped"' <<<"$summary")"
line="${line} (.tekton-dag/runs/${RUN_ID}/test-summary.json)"
if [ -n "${RESULT_TEST_SUMMARY:-}" ]; then printf '%s' "$line" >"$RESULT_TEST_SUMMARY"; fi

printf '\ntest summary:\n'
jq -r '.suites[] | "  \(.status | ascii_upcase | .[0:7])  \(.app) \(.type)\(if .path != "" then " " + .path else "" end)\(if .reason != "" then " - " + .reason else "" end)"' <<<"$summary"
printf '%s\n' "$line"
if jq -e '.counts.failed > 0' >/dev/null <<<"$summary"; then
  die "$(jq -r '.counts.failed' <<<"$summary") test suite(s) failed"
fi
