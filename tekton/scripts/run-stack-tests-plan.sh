#!/usr/bin/env bash
# Task run-stack-tests, step 1 of 3 (bash + jq): decide which declared suite runs and prepare it.
#
# For every app of the stack (app-list order) and every suite its `tests:` declares:
#   postman  runs when the app's repository is checked out in this run
#            (.tekton-dag/runs/<run-id>/apps/<app>) and holds the collection; the collection is copied
#            with one collection-level pre-request script that sets the intercept header on every request
#            (pm.request.headers.upsert), so the header reaches the stack whatever the collection says;
#   other    (playwright, artillery, ...) are recorded as skipped with the reason: this task has no
#            runner for them.
# Apps that declare no suite are recorded too. Nothing is dropped silently.
#
# Writes <run dir>/tests/: plan.tsv (app, type, path, action run|skip|fail, reason, collection, app URL;
# "-" for empty), base-url, header-name, header-value, collections/.
#
# Environment (from the task params): STACK_JSON, APP_LIST (optional), ENTRY_APP, INTERCEPT_HEADER_VALUE,
# DEFAULT_NAMESPACE, RUN_ID, BASE_URL (optional), SHARED_WORKSPACE.
set -euo pipefail
SCRIPTS_DIR="${SCRIPTS_DIR:-$(dirname "$0")}"
# shellcheck source=lib-common.sh
. "${SCRIPTS_DIR}/lib-common.sh"

require_env STACK_JSON ENTRY_APP INTERCEPT_HEADER_VALUE RUN_ID SHARED_WORKSPACE
DEFAULT_NAMESPACE="${DEFAULT_NAMESPACE:-staging}"
BASE_URL="${BASE_URL:-}"

stack="$(read_value "$STACK_JSON")"
jq -e 'type == "object" and (.apps | type == "object")' >/dev/null 2>&1 <<<"$stack" ||
  die "stack-json is not the resolved stack graph (a JSON object with 'apps'; see docs/conventions.md)"
jq -e --arg a "$ENTRY_APP" '.apps | has($a)' >/dev/null <<<"$stack" ||
  die "entry-app '${ENTRY_APP}' is not an app of stack-json (apps: $(jq -r '.apps | keys_unsorted | join(", ")' <<<"$stack"))"

parse_intercept_header "$INTERCEPT_HEADER_VALUE"

app_list="$(read_value "${APP_LIST:-}")"
if [ -z "${app_list//[[:space:]]/}" ]; then
  app_list="$(jq -r '(.order // (.apps | keys_unsorted)) | join(" ")' <<<"$stack")"
fi
read -r -a apps <<<"$app_list"
for app in "${apps[@]}"; do
  jq -e --arg a "$app" '.apps | has($a)' >/dev/null <<<"$stack" ||
    die "app-list names '${app}', which is not an app of stack-json"
done

service_url() {
  jq -r --arg a "$1" --arg d "$DEFAULT_NAMESPACE" \
    '.apps[$a] | "http://\(.name).\(.namespace // $d).svc.cluster.local:\(.servicePort // 80)"' <<<"$stack"
}
if [ -z "$BASE_URL" ]; then BASE_URL="$(service_url "$ENTRY_APP")"; fi
BASE_URL="${BASE_URL%/}"

dir="$(run_dir)"
tests_dir="${dir}/tests"
rm -rf "$tests_dir"
mkdir -p "${tests_dir}/collections" "${tests_dir}/results"
printf '%s' "$BASE_URL" >"${tests_dir}/base-url"
printf '%s' "$HEADER_NAME" >"${tests_dir}/header-name"
printf '%s' "$HEADER_VALUE" >"${tests_dir}/header-value"
plan="${tests_dir}/plan.tsv"
: >"$plan"

clean() { printf '%s' "${1:--}" | tr '\t\n' '  '; }
row() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(clean "$1")" "$(clean "$2")" "$(clean "$3")" "$(clean "$4")" \
    "$(clean "$5")" "$(clean "$6")" "$(clean "$7")" >>"$plan"
}

# The pre-request script reads the header from variables, so no value is ever pasted into code.
inject='{listen: "prerequest", script: {type: "text/javascript", exec: [
  "// added by tekton-dag run-stack-tests: route every request of this run to the PR pods",
  "pm.request.headers.upsert({key: pm.variables.get(\"tektonDagHeaderName\"), value: pm.variables.get(\"tektonDagHeaderValue\")});"
]}}'

log "tests run through ${ENTRY_APP} at ${BASE_URL} with '${HEADER_NAME}: ${HEADER_VALUE}'"
for app in "${apps[@]}"; do
  app_url="$(service_url "$app")"
  checkout="${dir}/apps/${app}"
  suites="$(jq -r --arg a "$app" '.apps[$a].tests // {} | to_entries[] | "\(.key)\t\(.value)"' <<<"$stack")"
  if [ -z "$suites" ]; then
    row "$app" none - skip "the stack declares no tests for ${app}" - "$app_url"
    continue
  fi
  while IFS=$'\t' read -r type path; do
    case "$type" in
      postman)
        if [ ! -d "$checkout" ]; then
          row "$app" "$type" "$path" skip "the repository of ${app} is not checked out in this run (.tekton-dag/runs/${RUN_ID}/apps/${app}); only the changed app is cloned" - "$app_url"
        elif [ ! -f "${checkout}/${path}" ]; then
          row "$app" "$type" "$path" skip "collection ${path} is not in the checkout of ${app}" - "$app_url"
        elif ! jq -e 'type == "object" and (.item | type == "array")' "${checkout}/${path}" >/dev/null 2>&1; then
          row "$app" "$type" "$path" fail "${path} is not a Postman collection (JSON with an 'item' list)" - "$app_url"
        else
          prepared="${tests_dir}/collections/${app}-postman.json"
          jq "(.event // []) as \$e | .event = \$e + [${inject}]" "${checkout}/${path}" >"$prepared"
          row "$app" "$type" "$path" run "-" "$prepared" "$app_url"
        fi
        ;;
      *)
        row "$app" "$type" "$path" skip "run-stack-tests has no runner for ${type} suites (only postman runs)" - "$app_url"
        ;;
    esac
  done <<<"$suites"
done

log "plan ($(grep -c $'\trun\t' "$plan" || true) to run):"
awk -F'\t' '{ printf "  %-30s %-10s %-5s %s\n", $1, $2, $4, ($4 == "run" ? $3 : $5) }' "$plan" >&2
