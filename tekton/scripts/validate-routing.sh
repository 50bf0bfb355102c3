#!/usr/bin/env bash
# Tasks validate-stack-propagation (MODE=with-header) and validate-original-traffic (MODE=without-header).
#
# Sends real HTTP requests to the entry app's Service, with bounded retries and timeouts, and then looks
# for proof of which pod answered. Apps are not changed for testing, so the proof is a probe id that each
# request carries twice - as the query parameter `tekton-dag-probe=<id>` and as the header
# `x-tekton-dag-probe: <id>` - searched for in the logs (since the request) of:
#   - every PR pod of this run (deployed-pods), and
#   - the pods of the original Deployments of the entry app and of every intercepted app
#     (Deployment named after the app, its own selector, PR pods excluded).
# An app that writes access logs (nginx, Apache, werkzeug, most gateways) shows the request line with the
# query string; an app that logs neither request lines nor headers leaves no proof (see docs/stack-file.md
# "How routing is validated" for the limits).
#
# Verdicts, MODE=with-header (the request carries the intercept header):
#   PASS   the probe is in a PR pod's logs;
#   FAIL   the probe is in the logs of an original pod of an intercepted app (the header did not route to
#          the PR pod), or no HTTP answer within the retries;
#   UNPROVEN  no pod logged the probe: fails when REQUIRE_PROOF=true, otherwise passes with a warning.
# MODE=without-header (no intercept header): PASS when an original pod logged the probe, FAIL when a PR pod
# did, UNPROVEN as above.
#
# Environment (from the task params): MODE, STACK_JSON (JSON or @path), DEPLOYED_PODS (JSON or @path:
# {"app": "pod"} or {"app": {"pod": "...", "namespace": "..."}}), INTERCEPT_HEADER_VALUE ("Name: value"),
# ENTRY_APP, DEFAULT_NAMESPACE, RUN_ID, REQUEST_PATH, RETRIES, TIMEOUT (seconds per request),
# LOG_WAIT_SECONDS, BASE_URL (optional; default http://<entry>.<ns>.svc.cluster.local:<servicePort>),
# REQUIRE_PROOF (true|false), SHARED_WORKSPACE, RESULT_ANSWERED_BY (optional result file).
set -euo pipefail
SCRIPTS_DIR="${SCRIPTS_DIR:-$(dirname "$0")}"
# shellcheck source=lib-common.sh
. "${SCRIPTS_DIR}/lib-common.sh"
# For object_name: the PR pods' names (this script defines its own app_namespace below).
# shellcheck source=lib-intercept.sh
. "${SCRIPTS_DIR}/lib-intercept.sh"

require_env MODE STACK_JSON INTERCEPT_HEADER_VALUE ENTRY_APP RUN_ID SHARED_WORKSPACE
case "$MODE" in
  with-header | without-header) ;;
  *) die "MODE '${MODE}' is not one of with-header, without-header" ;;
esac
REQUEST_PATH="${REQUEST_PATH:-/}"
RETRIES="${RETRIES:-5}"
TIMEOUT="${TIMEOUT:-10}"
LOG_WAIT_SECONDS="${LOG_WAIT_SECONDS:-15}"
REQUIRE_PROOF="${REQUIRE_PROOF:-false}"
DEFAULT_NAMESPACE="${DEFAULT_NAMESPACE:-staging}"
BASE_URL="${BASE_URL:-}"

is_count() { [[ "${1-}" =~ ^[0-9]{1,4}$ ]] && [ "$1" -ge "${2:-1}" ]; }
is_count "$RETRIES" 1 || die "retries '${RETRIES}' must be a whole number from 1 to 9999"
is_count "$TIMEOUT" 1 || die "timeout '${TIMEOUT}' must be a whole number of seconds from 1 to 9999"
is_count "$LOG_WAIT_SECONDS" 0 || die "log-wait-seconds '${LOG_WAIT_SECONDS}' must be a whole number of seconds from 0 to 9999"
case "$REQUIRE_PROOF" in
  true | false) ;;
  *) die "require-proof '${REQUIRE_PROOF}' must be true or false" ;;
esac
case "$REQUEST_PATH" in
  /*) ;;
  *) die "request-path '${REQUEST_PATH}' must start with '/'" ;;
esac
case "$REQUEST_PATH" in
  *[[:space:]]*) die "request-path '${REQUEST_PATH}' must not contain whitespace" ;;
esac

# ---- inputs --------------------------------------------------------------------------------------

stack="$(read_value "$STACK_JSON")"
jq -e 'type == "object" and (.apps | type == "object")' >/dev/null 2>&1 <<<"$stack" ||
  die "stack-json is not the resolved stack graph (a JSON object with 'apps'; see docs/conventions.md)"
if ! jq -e --arg a "$ENTRY_APP" '.apps | has($a)' >/dev/null <<<"$stack"; then
  die "entry-app '${ENTRY_APP}' is not an app of stack-json (apps: $(jq -r '.apps | keys_unsorted | join(", ")' <<<"$stack"))"
fi

app_namespace() {
  jq -r --arg a "$1" --arg d "$DEFAULT_NAMESPACE" '.apps[$a].namespace // $d | if . == "" then $d else . end' <<<"$stack"
}

parse_intercept_header "$INTERCEPT_HEADER_VALUE"

pods_raw="$(read_value "${DEPLOYED_PODS:-}")"
[ -n "$pods_raw" ] || pods_raw='{}'
# The stack goes in as a file: a wide stack passes the kernel's 128 KiB limit on one argument.
if ! pr_pods="$(jq -c --slurpfile stacks <(printf '%s' "$stack") --arg d "$DEFAULT_NAMESPACE" '
    $stacks[0] as $stack
    | if type != "object" then error("not an object") else . end
    | to_entries
    | map({app: .key,
           pod: (if (.value | type) == "object" then (.value.pod // .value.name) else .value end),
           namespace: (if (.value | type) == "object" then .value.namespace else null end)})
    | map(.namespace = (.namespace // $stack.apps[.app].namespace // $d))' <<<"$pods_raw" 2>/dev/null)"; then
  die "deployed-pods is not a JSON object of app -> PR pod name: ${pods_raw:0:300}"
fi
if ! jq -e 'all(.[]; (.pod | type) == "string" and .pod != "")' >/dev/null <<<"$pr_pods"; then
  die "deployed-pods names an app without a pod name: ${pods_raw:0:300}"
fi
# deployed-pods is handed on by deploy-intercepts-result from a workspace file, which PR code could have
# planted or rewritten. A PR pod's name and namespace follow from trusted inputs alone (a build app of the
# pinned stack graph, its namespace there, the run id), so any other entry is refused: PR code cannot point
# this task's log reads at another app's pods or another namespace.
expected_pods='{}'
while IFS= read -r app; do
  [ -n "$app" ] || continue
  expected_pods="$(jq -c --arg a "$app" --arg p "$(object_name pr "$app" "$RUN_ID")" --arg n "$(app_namespace "$app")" \
    '. + {($a): {pod: $p, namespace: $n}}' <<<"$expected_pods")"
done < <(jq -r '.buildApps // [] | .[] | strings' <<<"$stack")
if ! jq -e --argjson want "$expected_pods" 'all(.[]; $want[.app] == {pod, namespace})' >/dev/null <<<"$pr_pods"; then
  die "deployed-pods names a pod this run's deploy did not create: it may name only the build apps of stack-json, each with its PR pod in the app's namespace ($(jq -r 'to_entries | map("\(.key)=\(.value.namespace)/\(.value.pod)") | join(" ") | if . == "" then "none" else . end' <<<"$expected_pods")); got: ${pods_raw:0:300}"
fi
pr_count="$(jq 'length' <<<"$pr_pods")"
if [ "$MODE" = with-header ] && [ "$pr_count" -eq 0 ]; then
  die "deployed-pods names no PR pod, so there is nothing the intercept header could reach (deployed-pods: ${pods_raw:0:300})"
fi

entry_ns="$(app_namespace "$ENTRY_APP")"
entry_port="$(jq -r --arg a "$ENTRY_APP" '.apps[$a].servicePort // 80' <<<"$stack")"
if [ -z "$BASE_URL" ]; then
  BASE_URL="http://${ENTRY_APP}.${entry_ns}.svc.cluster.local:${entry_port}"
fi
BASE_URL="${BASE_URL%/}"

probe="tdag-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
case "$REQUEST_PATH" in
  *\?*) url="${BASE_URL}${REQUEST_PATH}&tekton-dag-probe=${probe}" ;;
  *) url="${BASE_URL}${REQUEST_PATH}?tekton-dag-probe=${probe}" ;;
esac

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

curl_args=(-sS -o "${work}/body" -D "${work}/headers" -w '%{http_code}'
  --connect-timeout "$(( TIMEOUT < 5 ? TIMEOUT : 5 ))" --max-time "$TIMEOUT"
  -H "x-tekton-dag-probe: ${probe}")
if [ "$MODE" = with-header ]; then
  curl_args+=(-H "${HEADER_NAME}: ${HEADER_VALUE}")
  log "validate-stack-propagation: request WITH '${HEADER_NAME}: ${HEADER_VALUE}' must reach a PR pod"
else
  log "validate-original-traffic: request WITHOUT '${HEADER_NAME}' must reach the original deployment"
fi
log "entry app ${ENTRY_APP}: ${url}"
log "probe id ${probe}; PR pods of this run: $(jq -r 'map("\(.app)=\(.namespace)/\(.pod)") | join(" ") | if . == "" then "none" else . end' <<<"$pr_pods")"

# ---- the request ---------------------------------------------------------------------------------

start_epoch="$(date +%s)"
status=000
curl_error=""
attempt=0
while [ "$attempt" -lt "$RETRIES" ]; do
  attempt=$((attempt + 1))
  rm -f "${work}/body" "${work}/headers"
  if status="$(curl "${curl_args[@]}" "$url" 2>"${work}/curl.err")"; then
    curl_error=""
  else
    curl_error="$(tr '\n' ' ' <"${work}/curl.err")"
    status="${status:-000}"
  fi
  if [ "$status" != 000 ] && [ "$status" -lt 500 ]; then
    log "attempt ${attempt}/${RETRIES}: HTTP ${status}"
    break
  fi
  if [ "$attempt" -lt "$RETRIES" ]; then
    wait_s=$(( attempt * 2 < 10 ? attempt * 2 : 10 ))
    log "attempt ${attempt}/${RETRIES}: HTTP ${status}${curl_error:+ (${curl_error})}; retrying in ${wait_s}s"
    sleep "$wait_s"
  fi
done

print_response() {
  printf '  status:  HTTP %s%s\n' "$status" "${curl_error:+ (curl: ${curl_error})}"
  if [ -s "${work}/headers" ]; then
    printf '  headers:\n'
    tr -d '\r' <"${work}/headers" | sed -n '1,15p' | sed 's/^/    /'
  fi
  if [ -s "${work}/body" ]; then
    printf '  body (first 500 bytes):\n'
    head -c 500 "${work}/body" | tr -c '[:print:]\n\t' '?' | sed 's/^/    /'
    printf '\n'
  fi
}

verdict_file="$(run_dir)/validation-${MODE}.json"
mkdir -p "$(dirname "$verdict_file")"
finish() {
  local verdict="$1" answered="$2" reason="$3"
  jq -n --arg mode "$MODE" --arg url "$url" --arg status "$status" --arg verdict "$verdict" \
    --arg answered "$answered" --arg probe "$probe" --arg reason "$reason" \
    '{mode: $mode, url: $url, status: $status, verdict: $verdict, answeredBy: $answered, probe: $probe, reason: $reason}' |
    replace_file "$verdict_file"
  if [ -n "${RESULT_ANSWERED_BY:-}" ]; then printf '%s' "$answered" >"$RESULT_ANSWERED_BY"; fi
}

if [ "$status" = 000 ] || [ "$status" -ge 500 ]; then
  printf 'FAIL: no answer from %s after %s attempt(s) of at most %ss each\n' "$url" "$RETRIES" "$TIMEOUT"
  print_response
  finish fail none "no HTTP answer below 500 after ${RETRIES} attempts"
  exit 1
fi

# ---- the proof -----------------------------------------------------------------------------------

# Pods of the original Deployment of an app (by the Deployment's own selector), without this run's PR pods.
original_pods() {
  local app="$1" ns="$2" deployment selector
  if ! deployment="$(kubectl get deployment "$app" -n "$ns" -o json 2>&1)"; then
    printf 'note: cannot read Deployment %s/%s: %s\n' "$ns" "$app" "$(head -c 300 <<<"$deployment")" >&2
    return 0
  fi
  selector="$(jq -r '.spec.selector.matchLabels // {} | to_entries | map("\(.key)=\(.value)") | join(",")' <<<"$deployment")"
  if [ -z "$selector" ]; then
    printf 'note: Deployment %s/%s has no matchLabels selector\n' "$ns" "$app" >&2
    return 0
  fi
  kubectl get pods -n "$ns" -l "$selector" -o name 2>/dev/null | sed 's|^pod/||' |
    grep -vxF -f <(jq -r --arg ns "$ns" '.[] | select(.namespace == $ns) | .pod' <<<"$pr_pods"; printf '%s\n' '#none#') || true
}

# kind \t app \t namespace \t pod
candidates="${work}/candidates"
jq -r '.[] | "pr\t\(.app)\t\(.namespace)\t\(.pod)"' <<<"$pr_pods" >"$candidates"
{
  printf '%s\n' "$ENTRY_APP"
  jq -r '.[].app' <<<"$pr_pods"
} | awk '!seen[$0]++' | while IFS= read -r app; do
  ns="$(app_namespace "$app")"
  original_pods "$app" "$ns" | while IFS= read -r pod; do
    [ -n "$pod" ] && printf 'original\t%s\t%s\t%s\n' "$app" "$ns" "$pod"
  done
done >>"$candidates"

scan_logs() {
  local since kind app ns pod
  since=$(( $(date +%s) - start_epoch + 10 ))
  : >"${work}/hits"
  while IFS=$'\t' read -r kind app ns pod; do
    if kubectl logs "$pod" -n "$ns" --all-containers=true --since="${since}s" >"${work}/log-${kind}-${pod}" 2>"${work}/logerr-${kind}-${pod}"; then
      rm -f "${work}/logerr-${kind}-${pod}"
      if grep -qF "$probe" "${work}/log-${kind}-${pod}"; then
        printf '%s\t%s\t%s\t%s\n' "$kind" "$app" "$ns" "$pod" >>"${work}/hits"
      fi
    fi
  done <"$candidates"
}

intercepted() { jq -e --arg a "$1" 'any(.[]; .app == $a)' >/dev/null <<<"$pr_pods"; }

classify() {
  good=""
  bad=""
  local kind app ns pod
  while IFS=$'\t' read -r kind app ns pod; do
    if [ "$MODE" = with-header ]; then
      if [ "$kind" = pr ]; then good="${good:-pr-pod/${ns}/${pod}}"
      elif intercepted "$app"; then bad="${bad:-original/${ns}/${pod}}"
      fi
    else
      if [ "$kind" = pr ]; then bad="${bad:-pr-pod/${ns}/${pod}}"
      else good="${good:-original/${ns}/${pod}}"
      fi
    fi
  done <"${work}/hits"
}

waited=0
while :; do
  scan_logs
  classify
  if [ -n "$good$bad" ] || [ "$waited" -ge "$LOG_WAIT_SECONDS" ]; then break; fi
  log "probe ${probe} not in any pod's logs yet; waiting for logs (${waited}/${LOG_WAIT_SECONDS}s)"
  sleep 3
  waited=$((waited + 3))
done

print_log_evidence() {
  local kind app ns pod file
  while IFS=$'\t' read -r kind app ns pod; do
    file="${work}/log-${kind}-${pod}"
    if [ -f "${work}/logerr-${kind}-${pod}" ]; then
      printf '  %s pod %s/%s (app %s): logs not readable: %s\n' "$kind" "$ns" "$pod" "$app" \
        "$(head -c 300 "${work}/logerr-${kind}-${pod}" | tr '\n' ' ')"
    elif grep -qF "$probe" "$file"; then
      printf '  %s pod %s/%s (app %s) logged the probe:\n' "$kind" "$ns" "$pod" "$app"
      grep -F "$probe" "$file" | head -n 3 | cut -c1-300 | sed 's/^/    /'
    else
      printf '  %s pod %s/%s (app %s): probe not in its %s log line(s) since the request; last lines:\n' \
        "$kind" "$ns" "$pod" "$app" "$(wc -l <"$file" | tr -d ' ')"
      tail -n 3 "$file" | cut -c1-300 | sed 's/^/    /'
    fi
  done <"$candidates"
}

describe() {
  printf '%s\n' "$1"
  print_response
  printf '  pods checked for probe %s:\n' "$probe"
  if [ -s "$candidates" ]; then print_log_evidence; else printf '    none\n'; fi
}

if [ -n "$bad" ]; then
  if [ "$MODE" = with-header ]; then
    describe "FAIL: the request WITH '${HEADER_NAME}: ${HEADER_VALUE}' was answered by ${bad} (an original pod of an intercepted app), not by a PR pod"
  else
    describe "FAIL: the request WITHOUT '${HEADER_NAME}' was answered by ${bad}, a PR pod: the intercept takes traffic it must not"
  fi
  finish fail "$bad" "probe found in ${bad}"
  exit 1
fi

if [ -n "$good" ]; then
  if [ "$MODE" = with-header ]; then
    describe "PASS: the request WITH '${HEADER_NAME}: ${HEADER_VALUE}' entered at ${ENTRY_APP} and reached ${good}"
  else
    describe "PASS: the request WITHOUT '${HEADER_NAME}' was answered by ${good} (the original deployment of ${ENTRY_APP})"
  fi
  finish pass "$good" "probe found in ${good}"
  exit 0
fi

message="no pod logged probe ${probe} within ${LOG_WAIT_SECONDS}s: ${ENTRY_APP} answered HTTP ${status}, but which pod answered is UNPROVEN (the apps log neither the request line nor the x-tekton-dag-probe header; see docs/stack-file.md)"
if [ "$REQUIRE_PROOF" = true ]; then
  describe "FAIL: ${message}; require-proof is true"
  finish fail unproven "$message"
  exit 1
fi
describe "WARNING: ${message}; passing because require-proof is false"
finish unproven unproven "$message"
