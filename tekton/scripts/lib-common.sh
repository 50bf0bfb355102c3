#!/usr/bin/env bash
# Helpers sourced by the task scripts. Sourcing only defines functions; it runs nothing.
#   . "${SCRIPTS_DIR:-$(dirname "$0")}/lib-common.sh"

# Print an error naming what was wrong and exit non-zero.
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

log() {
  printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2
}

# jq_fields ARRAY INPUT WHAT PROGRAM [JQ-ARGS...]: runs the jq PROGRAM, which yields one array, on INPUT and
# fills the array variable named ARRAY with its elements as strings, each as it is: newlines, tabs and
# empty strings included (they travel NUL-terminated). A JSON string can hold a NUL ("\u0000"), which jq -j
# prints as it is and would split that field in two, shifting the rest: a field holding one fails jq, so
# the caller stops instead of reading shifted values. A failing jq is an error naming WHAT. One jq start gives a script many values: each start costs tens of
# milliseconds of CPU (jq 1.6), and the scripts poll.
jq_fields() {
  local -n jq_fields_into="$1"
  local input="$2" what="$3" program="$4"
  shift 4
  # shellcheck disable=SC2034 # a nameref: mapfile fills the caller's array
  mapfile -d '' jq_fields_into < <(jq -j "(${program})"' | map(tostring)
    | if any(.[]; explode | any(. == 0)) then error("a value holds a NUL character") else map(. + "\u0000") | join("") end' "$@" <<<"$input")
  wait "$!" || die "${what}: jq failed on: ${input:0:200}"
}

# Require that each named environment variable is set and not empty.
require_env() {
  local name
  for name in "$@"; do
    [ -n "${!name:-}" ] || die "environment variable ${name} is required (set it from the task param through env)"
  done
}

# A param value is either the value itself or a reference "@<path>@sha256:<hex>": a file relative to the
# shared workspace (SHARED_WORKSPACE) and the sha256 of its content. Large values (the stack graph, app
# lists) travel as files because Tekton results are limited to 4096 bytes per step. PR code (compile,
# containerize, hooks, tests) can write the workspace, so a file there is trusted only through its digest,
# which travels in the task result that names the file (TaskRun status, out of PR code's reach).
# read_value refuses a reference without a digest, a path that leaves the workspace or is a symlink, and a
# file whose content does not match; it reads the file once, so what was checked is what is used.
VALUE_DIGEST_RE='^[0-9a-f]{64}$'
read_value() {
  local value="$1" ref path want got content
  case "$value" in
    @*)
      ref="${value#@}"
      case "$ref" in
        *@sha256:*) path="${ref%@sha256:*}" want="${ref##*@sha256:}" ;;
        *) die "value reference '${value}' carries no digest; expected @<path>@sha256:<64 hex digits> as resolve-stack reports it (the file is in a workspace PR code can write, so it is used only when its digest matches)" ;;
      esac
      [[ "$want" =~ $VALUE_DIGEST_RE ]] ||
        die "value reference '${value}': the digest after @sha256: must be 64 lowercase hex digits"
      case "$path" in
        ""|/*|*..*) die "value reference '${value}' must be a relative path inside the shared workspace without '..'" ;;
      esac
      [ -n "${SHARED_WORKSPACE:-}" ] || die "value reference '${value}' needs SHARED_WORKSPACE (the shared-workspace path)"
      [ ! -L "${SHARED_WORKSPACE}/${path}" ] ||
        die "value reference '${value}': ${SHARED_WORKSPACE}/${path} is a symbolic link, not the file resolve-stack wrote; refusing it"
      [ -f "${SHARED_WORKSPACE}/${path}" ] || die "value reference '${value}': no file ${SHARED_WORKSPACE}/${path}"
      # One read into memory; the trailing x keeps trailing newlines, which are part of the digest.
      content="$(cat "${SHARED_WORKSPACE}/${path}" && printf x)" ||
        die "value reference '${value}': cannot read ${SHARED_WORKSPACE}/${path}"
      content="${content%x}"
      got="$(printf '%s' "$content" | sha256sum)"
      got="${got%% *}"
      [ "$got" = "$want" ] ||
        die "value reference '${value}': ${path} has sha256 ${got}, not the ${want} its writer reported; the file was changed after it was written (PR code can write the workspace), so it is not used"
      printf '%s' "$content"
      ;;
    *) printf '%s' "$value" ;;
  esac
}

# Replaces FILE with what is on stdin through a new file of its own and a rename, for cluster tasks writing
# into the run directory: a symlink or directory PR code planted at FILE is replaced, never written through.
replace_file() {
  local file="$1" tmp
  tmp="$(mktemp "${file%/*}/.tekton-dag-tmp.XXXXXX")" || die "cannot create a file next to ${file}"
  cat >"$tmp"
  chmod 0644 "$tmp"
  [ ! -d "$file" ] || [ -L "$file" ] || rm -rf "$file"
  mv -fT "$tmp" "$file" || die "cannot replace ${file}"
}

# The per-run directory in the shared workspace; RUN_ID is the PipelineRun uid.
run_dir() {
  require_env SHARED_WORKSPACE RUN_ID
  printf '%s/.tekton-dag/runs/%s' "$SHARED_WORKSPACE" "$RUN_ID"
}

# Labels every object a run creates carries (docs/conventions.md). Prints them as key=value, one per line.
run_labels() {
  local app="$1" role="$2"
  require_env RUN_ID RUN_NAME
  printf '%s\n' \
    "app.kubernetes.io/part-of=tekton-dag" \
    "app.kubernetes.io/managed-by=tekton-dag-pipeline" \
    "tekton-dag.io/run=${RUN_ID}" \
    "tekton-dag.io/pipeline-run=${RUN_NAME}" \
    "tekton-dag.io/app=${app}" \
    "tekton-dag.io/role=${role}"
}

# An HTTP header name: letters, digits, '-' and '_' (a conservative subset of RFC 9110 tokens).
HEADER_NAME_RE='^[A-Za-z0-9][-A-Za-z0-9_]*$'

# Splits "Name: value" or "Name:value" into HEADER_NAME and HEADER_VALUE; dies on anything else.
parse_intercept_header() {
  local raw="${1-}" name value
  [ -n "$raw" ] || die "intercept-header-value is empty; expected \"<header-name>: <value>\", e.g. \"x-dev-session: pr-42\""
  case "$raw" in
    *:*) ;;
    *) die "intercept-header-value \"${raw}\" has no ':'; expected \"<header-name>: <value>\" or \"<header-name>:<value>\", e.g. \"x-dev-session: pr-42\"" ;;
  esac
  name="${raw%%:*}"
  value="${raw#*:}"
  name="${name#"${name%%[![:space:]]*}"}"
  name="${name%"${name##*[![:space:]]}"}"
  value="${value#"${value%%[![:space:]]*}"}"
  value="${value%"${value##*[![:space:]]}"}"
  [[ "$name" =~ $HEADER_NAME_RE ]] ||
    die "intercept-header-value \"${raw}\": header name \"${name}\" must be letters, digits, '-' or '_' (e.g. x-dev-session)"
  [ -n "$value" ] || die "intercept-header-value \"${raw}\": the header value after ':' is empty"
  # Printable ASCII only: no control characters, no non-ASCII, nothing a header could not carry.
  local LC_ALL=C
  [[ "$value" =~ ^[\ -~]+$ ]] ||
    die "intercept-header-value \"${raw}\": the header value may contain printable ASCII characters only"
  # shellcheck disable=SC2034 # read by the sourcing script
  HEADER_NAME="$name"
  # shellcheck disable=SC2034
  HEADER_VALUE="$value"
}
