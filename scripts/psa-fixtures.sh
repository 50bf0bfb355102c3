#!/usr/bin/env bash
# Builds tools/psa-fixtures (Go, against k8s.io/pod-security-admission from the Go module proxy) and runs it
# on that module's own test fixtures: every pod of test/testdata as a Deployment, with the module's baseline
# verdict. test/podsecurity runs the PR pod's check on each. Prints the path of the JSON document on stdout;
# progress goes to stderr.
#
#   bash scripts/psa-fixtures.sh           build what is missing or stale, print the document's path
#   bash scripts/psa-fixtures.sh --check   print the path if it is built, else exit 3
#
# The binary and its document are cached in ${XDG_CACHE_HOME:-$HOME/.cache}/tekton-dag/psa-fixtures/<hash>
# (the hash of Go's version and the tool's sources, go.sum included); a lock there makes a second caller
# wait for a running build instead of starting another. Cold: about 2 minutes on 2 idle cores.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
src="$repo/tools/psa-fixtures"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/tekton-dag/psa-fixtures"
check_only=false
case "${1:-}" in
    "") ;;
    --check) check_only=true ;;
    *) echo "psa-fixtures: unknown argument '$1' (allowed: --check)" >&2; exit 2 ;;
esac

log() { printf 'psa-fixtures: %s\n' "$*" >&2; }

# The toolchain is the one installed: the module's `go` line must not make go fetch another.
export GOTOOLCHAIN=local
command -v go >/dev/null 2>&1 || { log "go is not installed (tools/psa-fixtures needs Go $(sed -n 's/^go //p' "$src/go.mod") or newer)"; exit 1; }
hash=$(
    cd "$src" &&
        { go env GOVERSION GOOS GOARCH; cat go.mod go.sum; find . -maxdepth 1 -name '*.go' ! -name '*_test.go' | sort | xargs cat; } |
        sha256sum | cut -c1-16
)
dir="$cache/$hash"
doc="$dir/fixtures.json"
if [ -s "$doc" ]; then
    echo "$doc"
    exit 0
fi
if [ "$check_only" = true ]; then
    log "not built: $doc"
    exit 3
fi

mkdir -p "$dir"
exec {lock}>"$cache/.build.lock"
if ! flock -n "$lock"; then
    log "another build of psa-fixtures is running; waiting for it"
    flock "$lock"
fi
# Another run may have finished between the check above and the lock.
if [ -s "$doc" ]; then
    echo "$doc"
    exit 0
fi

module=$(awk '$1 == "k8s.io/pod-security-admission" {print $2}' "$src/go.mod")
log "building tools/psa-fixtures (k8s.io/pod-security-admission $module) into $dir"
start=$SECONDS
(cd "$src" && exec go build -trimpath -o "$dir/psa-fixtures.tmp.$$" .) >"$dir/build.log" 2>&1 &
pid=$!
# A killed or interrupted caller takes the build with it.
# shellcheck disable=SC2064 # the pid is fixed now
trap "kill $pid 2>/dev/null" EXIT
# shellcheck disable=SC2064
trap "kill $pid 2>/dev/null; exit 130" INT
# shellcheck disable=SC2064
trap "kill $pid 2>/dev/null; exit 143" TERM
last=$SECONDS
while kill -0 "$pid" 2>/dev/null; do
    sleep 2
    if kill -0 "$pid" 2>/dev/null && [ $((SECONDS - last)) -ge 30 ]; then
        last=$SECONDS
        log "  still building ($((SECONDS - start))s)"
    fi
done
status=0
wait "$pid" || status=$?
trap - EXIT INT TERM
if [ "$status" -ne 0 ]; then
    log "go build failed after $((SECONDS - start))s; the last lines of $dir/build.log:"
    tail -20 "$dir/build.log" >&2
    rm -f "$dir/psa-fixtures.tmp.$$"
    exit 1
fi
mv -f "$dir/psa-fixtures.tmp.$$" "$dir/psa-fixtures"
log "built in $((SECONDS - start))s"

# The fixtures are read from the module the binary was built with (the tool refuses another version's).
testdata="$(cd "$src" && go list -m -f '{{.Dir}}' k8s.io/pod-security-admission)/test/testdata"
"$dir/psa-fixtures" "$testdata" >"$doc.tmp.$$" || { rm -f "$doc.tmp.$$"; log "psa-fixtures failed on $testdata"; exit 1; }
mv -f "$doc.tmp.$$" "$doc"
log "$(jq -r '"\(.fixtures | length) distinct fixture pods of \(.module), \([.fixtures[] | select(.allowed | not)] | length) refused at baseline \(.policyVersion)"' "$doc")"
# Keep only the current build (each binary is ~20 MB).
find "$cache" -mindepth 1 -maxdepth 1 -type d ! -path "$dir" -exec rm -rf {} + 2>/dev/null || true
echo "$doc"
