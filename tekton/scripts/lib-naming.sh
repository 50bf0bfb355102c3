#!/usr/bin/env bash
# The names, labels and selectors of a run's objects (docs/conventions.md): every object a run creates
# carries the run labels, and cleanup and the sweeper select on tekton-dag.io/run=<uid> and nothing broader.
# Sourced by lib-intercept.sh; defines functions only.

RUN_LABEL=tekton-dag.io/run

# First 8 hex digits of the run uid: enough to keep names of concurrent runs apart.
short_run_id() {
  printf '%s' "${1:0:8}"
}

# <prefix>-<app>-<short run id>[-<suffix>], at most 63 characters, DNS-safe (the app part is shortened
# if needed).
object_name() {
  local prefix="$1" app="$2" uid="$3" suffix="${4:-}" short room part
  short="$(short_run_id "$uid")"
  room=$((63 - ${#prefix} - ${#short} - 2))
  [ -z "$suffix" ] || room=$((room - ${#suffix} - 1))
  part="${app:0:$room}"
  while [ "${part%-}" != "$part" ]; do part="${part%-}"; done
  printf '%s-%s-%s%s' "$prefix" "$part" "$short" "${suffix:+-${suffix}}"
}

# The run labels as a JSON object (for jq --argjson). Uses RUN_ID and RUN_NAME. Built without jq: it runs
# a few times per app and deploy, and a jq 1.6 start costs tens of milliseconds of CPU. The values are
# validated names; a control character in one is refused rather than escaped.
labels_json() {
  local app="$1" role="$2" v
  local -a quoted=()
  for v in "$RUN_ID" "$RUN_NAME" "$app" "$role"; do
    [[ "$v" != *[[:cntrl:]]* ]] || die "a run label value holds a control character: ${v@Q}"
    v="${v//\\/\\\\}"
    quoted+=("\"${v//\"/\\\"}\"")
  done
  printf '{"app.kubernetes.io/part-of":"tekton-dag","app.kubernetes.io/managed-by":"tekton-dag-pipeline","tekton-dag.io/run":%s,"tekton-dag.io/pipeline-run":%s,"tekton-dag.io/app":%s,"tekton-dag.io/role":%s}' "${quoted[@]}"
}

# Selector for one role of one app of this run (still scoped by the run label).
run_selector() {
  local app="${1:-}" role="${2:-}" sel="${RUN_LABEL}=${RUN_ID}"
  [ -z "$app" ] || sel="${sel},tekton-dag.io/app=${app}"
  [ -z "$role" ] || sel="${sel},tekton-dag.io/role=${role}"
  printf '%s' "$sel"
}

# Escapes every regex meta character so the value matches literally (fancy-regex and JavaScript agree).
regex_escape() {
  local s="$1" out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c="${s:i:1}"
    case "$c" in
      "\\" | '.' | '^' | '$' | '|' | '?' | '*' | '+' | '(' | ')' | '[' | ']' | '{' | '}' | '-') out+="\\${c}" ;;
      *) out+="$c" ;;
    esac
  done
  printf '%s' "$out"
}
