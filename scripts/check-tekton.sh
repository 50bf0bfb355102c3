#!/usr/bin/env bash
# Tekton conformance over what the program installs (docs/tekton-validation.md):
#   1. builds tools/tekton-validate (cached by a hash of its sources),
#   2. renders the objects of the kind stack and of a mirrord-default stack (npm run manifests),
#   3. runs Tekton's own admission validation plus the run-time checks on them,
#   4. runs shellcheck over every script that ships in them,
#   5. proves the checks can fail: every fixture in tools/tekton-validate/testdata must be rejected
#      with the message its EXPECT file names (the "good" fixture must pass).
#
#   bash scripts/check-tekton.sh            everything
#   bash scripts/check-tekton.sh --keep     keep the temp dir (rendered objects, extracted scripts)
#   TEKTON_VALIDATE_SKIP_RENDER=1 ...       fixtures only (no npm run manifests)
set -euo pipefail
cd "$(dirname "$0")/.."

keep=false
[ "${1:-}" = "--keep" ] && keep=true

TOOL_SRC=tools/tekton-validate

log() { printf 'check-tekton: %s\n' "$*"; }
die() { printf 'check-tekton: error: %s\n' "$*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-tekton.XXXXXX")
if [ "$keep" = true ]; then
    trap 'log "kept $tmp"' EXIT
else
    trap 'rm -rf "$tmp"' EXIT
fi

failures=()
fail() { failures+=("$*"); printf 'check-tekton: FAIL: %s\n' "$*"; }

# --- shellcheck (Debian package) -------------------------------------------------------------------------
ensure_shellcheck() {
    if ! command -v shellcheck >/dev/null 2>&1; then
        if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
            log "installing shellcheck (apt-get)"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null
        else
            die "shellcheck is not installed and this is not a root Debian machine; install it (apt-get install shellcheck)"
        fi
    fi
    log "$(shellcheck --version | sed -n 's/^version: /shellcheck /p')"
}

# --- the validator binary, cached by the hash of its sources (scripts/go-tool.sh) ------------------------
build_tool() {
    local before
    before=$(bash scripts/go-tool.sh --path tekton-validate) || die "tools/tekton-validate cannot be built here"
    TOOL_BUILT=false
    [ -x "$before" ] || TOOL_BUILT=true
    TOOL=$(bash scripts/go-tool.sh tekton-validate) || die "go build of $TOOL_SRC failed"
    log "tekton-validate (github.com/tektoncd/pipeline $(awk '$1 == "github.com/tektoncd/pipeline" {print $2}' "$TOOL_SRC/go.mod")): $TOOL"
}

# --- shellcheck over the scripts extracted from a directory of objects -----------------------------------
# run_shellcheck OBJECTS_DIR OUT_DIR: prints shellcheck's findings, returns non-zero on any.
run_shellcheck() {
    local objects="$1" out="$2" status=0
    "$TOOL" extract-scripts --out "$out" "$objects" || status=1
    local shell
    for shell in sh bash dash ksh; do
        local files=()
        local file sh _origin
        while IFS=$'\t' read -r file sh _origin; do
            [ "$sh" = "$shell" ] && files+=("$file")
        done <"$out/scripts.tsv"
        [ "${#files[@]}" -eq 0 ] && continue
        # relative paths, so findings read "In ConfigMap-tekton-dag-scripts-<hash>/deploy.sh line 3"
        # and "In Task-<name>-<step>.sh"; -P SCRIPTDIR lets `# shellcheck source=lib-common.sh` resolve.
        (cd "$out" && shellcheck --shell="$shell" --external-sources --source-path=SCRIPTDIR "${files[@]}") || status=1
    done
    return "$status"
}

# --- 1. tools ---------------------------------------------------------------------------------------------
ensure_shellcheck
build_tool
if [ "$TOOL_BUILT" = true ]; then
    log "go test ./... (the validator changed)"
    (cd "$TOOL_SRC" && go test -trimpath ./...) || fail "go test in $TOOL_SRC"
fi

# --- 2-4. the program's objects ---------------------------------------------------------------------------
check_stack() {
    local label="$1"
    shift
    local dir="$tmp/$label"
    log "[$label] npm run manifests -- $*"
    if ! npm run --silent manifests -- "$@" --out "$dir/objects"; then
        fail "[$label] npm run manifests -- $* failed"
        return
    fi
    log "[$label] tekton-validate"
    "$TOOL" "$dir/objects" || fail "[$label] tekton-validate found errors (above)"
    log "[$label] shellcheck over the scripts that ship"
    if run_shellcheck "$dir/objects" "$dir/scripts"; then
        log "[$label] shellcheck: $(wc -l <"$dir/scripts/scripts.tsv") scripts clean"
    else
        fail "[$label] shellcheck found problems (above)"
    fi
}

if [ "${TEKTON_VALIDATE_SKIP_RENDER:-}" = 1 ]; then
    log "TEKTON_VALIDATE_SKIP_RENDER=1: not rendering the stacks, fixtures only"
elif [ ! -f scripts/manifests.ts ]; then
    fail "scripts/manifests.ts does not exist: cannot render the program's objects"
elif [ ! -d node_modules ]; then
    fail "node_modules is missing: run npm ci (scripts/test.sh does) before this script"
else
    check_stack kind --stack kind
    check_stack mirrord --stack kind --set interceptBackend=mirrord
fi

# --- 5. the fixtures must be rejected --------------------------------------------------------------------
log "fixtures: each must be rejected with its expected message (the good one must pass)"
for fixture in "$TOOL_SRC"/testdata/*/; do
    fixture=${fixture%/}
    name=$(basename "$fixture")
    [ -f "$fixture/EXPECT" ] || continue
    out="$tmp/fixtures/$name"
    mkdir -p "$out"
    rejected=false
    "$TOOL" "$fixture" >"$out/validate.txt" 2>&1 || rejected=true
    run_shellcheck "$fixture" "$out/scripts" >"$out/shellcheck.txt" 2>&1 || rejected=true
    missing=0
    while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in
            "validate: "*) file=validate.txt want=${line#validate: } ;;
            "shellcheck: "*) file=shellcheck.txt want=${line#shellcheck: } ;;
            "" | "#"*) continue ;;
            *) fail "fixture $name: EXPECT line must start with 'validate: ' or 'shellcheck: ': $line"; continue ;;
        esac
        if ! grep -qF -- "$want" "$out/$file"; then
            fail "fixture $name: expected in ${file%.txt} output: $want"
            missing=1
        fi
    done <"$fixture/EXPECT"
    if [ "$name" = good ]; then
        if [ "$rejected" = true ]; then
            fail "fixture good was rejected"
            cat "$out/validate.txt" "$out/shellcheck.txt"
        else
            log "  ok   good (passes)"
        fi
    elif [ "$rejected" = false ]; then
        fail "fixture $name PASSED but must be rejected"
    elif [ "$missing" -ne 0 ]; then
        printf '  --- validate output:\n'
        sed 's/^/  | /' "$out/validate.txt"
        printf '  --- shellcheck output:\n'
        sed 's/^/  | /' "$out/shellcheck.txt"
    else
        log "  ok   $name (rejected: $(grep -cv '^\s*\(#\|$\)' "$fixture/EXPECT") expected message(s))"
    fi
done

if [ "${#failures[@]}" -gt 0 ]; then
    printf '\ncheck-tekton: %d failure(s):\n' "${#failures[@]}"
    printf '  - %s\n' "${failures[@]}"
    exit 1
fi
log "all checks passed"
