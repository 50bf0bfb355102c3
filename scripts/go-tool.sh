#!/usr/bin/env bash
# Builds one small Go tool of tools/NAME (its own go.mod) into the cache outside the repo, and prints the
# binary's path on stdout; progress goes to stderr. A binary is reused while the sha256 of the tool's
# go.mod, go.sum and non-test .go files (and the Go version) matches its name; an older build is removed.
#
#   bash scripts/go-tool.sh triggers-eval          build if missing or stale, print the path
#   bash scripts/go-tool.sh --path triggers-eval   print the path the current sources build to; build nothing
#
# Two runs at once wait for each other (a lock per tool), so tests of one checkout started together build once.
# Settings: GOTOOLCHAIN is local (the machine's Go; the tools' go.mod asks for no newer one).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
path_only=false
if [ "${1:-}" = "--path" ]; then
    path_only=true
    shift
fi
name=${1:-}
src="$repo/tools/$name"
if [ -z "$name" ] || [ ! -f "$src/go.mod" ]; then
    printf 'go-tool: usage: go-tool.sh [--path] NAME, where tools/NAME/go.mod exists; got "%s"\n' "$name" >&2
    exit 2
fi
log() { printf 'go-tool: %s\n' "$*" >&2; }
command -v go >/dev/null 2>&1 || { log "go is not installed (tools/$name needs Go $(sed -n 's/^go //p' "$src/go.mod"))"; exit 1; }
export GOTOOLCHAIN=local

cache="${XDG_CACHE_HOME:-$HOME/.cache}/tekton-dag"
mkdir -p "$cache"
hash=$(
    cd "$src" &&
        { go env GOVERSION GOOS GOARCH; cat go.mod go.sum; find . -maxdepth 1 -name '*.go' ! -name '*_test.go' | sort | xargs cat; } |
        sha256sum | cut -c1-16
)
bin="$cache/$name-$hash"
if [ "$path_only" = false ] && [ ! -x "$bin" ]; then
    exec {lock}>"$cache/.$name.lock"
    flock -n "$lock" || { log "waiting for another build of $name"; flock "$lock"; }
    if [ ! -x "$bin" ]; then
        log "building tools/$name into $bin (a cold build downloads its modules and compiles them: a few minutes)"
        start=$SECONDS
        (cd "$src" && exec go build -trimpath -o "$bin.tmp.$$" .) &
        pid=$!
        # A killed or interrupted caller takes the build with it.
        # shellcheck disable=SC2064 # the pid is fixed now
        trap "kill $pid 2>/dev/null; rm -f '$bin.tmp.$$'" EXIT
        # The build is silent for minutes: a line every 30 s (tail returns when the build ends).
        while ! timeout 30 tail --pid="$pid" -f /dev/null; do
            log "  still building $name ($((SECONDS - start))s)"
        done
        wait "$pid" || { rm -f "$bin.tmp.$$"; log "go build of tools/$name failed"; exit 1; }
        trap - EXIT
        mv "$bin.tmp.$$" "$bin"
        log "built $name in $((SECONDS - start))s"
        # Keep only the current build (and what belongs to it: <binary>.json).
        find "$cache" -maxdepth 1 -name "$name-*" ! -name '*.tmp.*' ! -path "$bin" ! -path "$bin.*" -delete 2>/dev/null || true
    fi
    exec {lock}>&-
fi
printf '%s\n' "$bin"
