#!/bin/sh
# Task run-stack-tests, step 2 of 3 (image postman/newman, which has sh but no bash): run every planned
# Postman collection with newman against the entry app, with the intercept header set by the pre-request
# script the plan step added. Records each exit code; never fails itself, so the summary step always runs.
#
# Environment: SHARED_WORKSPACE, RUN_ID, REQUEST_TIMEOUT_MS (newman --timeout-request).
# Collection variables it sets: baseUrl (entry app), appUrl (the suite's own app), tektonDagHeaderName,
# tektonDagHeaderValue.
set -eu

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

[ -n "${SHARED_WORKSPACE:-}" ] || die "environment variable SHARED_WORKSPACE is required"
[ -n "${RUN_ID:-}" ] || die "environment variable RUN_ID is required"
REQUEST_TIMEOUT_MS="${REQUEST_TIMEOUT_MS:-30000}"
case "$REQUEST_TIMEOUT_MS" in
  '' | *[!0-9]*) die "request-timeout-ms '${REQUEST_TIMEOUT_MS}' must be a whole number of milliseconds" ;;
esac

tests_dir="${SHARED_WORKSPACE}/.tekton-dag/runs/${RUN_ID}/tests"
plan="${tests_dir}/plan.tsv"
[ -f "$plan" ] || die "no test plan at ${plan} (the plan step did not run)"
base_url="$(cat "${tests_dir}/base-url")"
header_name="$(cat "${tests_dir}/header-name")"
header_value="$(cat "${tests_dir}/header-value")"

tab="$(printf '\t')"
total="$(awk -F'\t' '$4 == "run"' "$plan" | wc -l | tr -d ' ')"
n=0
while IFS="$tab" read -r app type path action _reason collection app_url; do
  [ "$action" = run ] || continue
  n=$((n + 1))
  printf '\n[%s/%s] %s: newman run %s against %s\n' "$n" "$total" "$app" "$path" "$base_url"
  rc=0
  newman run "$collection" \
    --env-var "baseUrl=${base_url}" \
    --env-var "appUrl=${app_url}" \
    --env-var "tektonDagHeaderName=${header_name}" \
    --env-var "tektonDagHeaderValue=${header_value}" \
    --timeout-request "$REQUEST_TIMEOUT_MS" \
    --color off \
    --reporters cli,json \
    --reporter-json-export "${tests_dir}/results/${app}-${type}.json" </dev/null || rc=$?
  printf '%s' "$rc" >"${tests_dir}/results/${app}-${type}.rc"
  printf '[%s/%s] %s: newman exited %s\n' "$n" "$total" "$app" "$rc"
done <"$plan"
[ "$total" -gt 0 ] || printf 'no Postman collection to run (see the plan above for why)\n'
