#!/usr/bin/env bash
# Builds Tekton's own controllers for the local control plane (scripts/cluster.sh tekton-start) from the Go
# module proxy, into a cache outside the repo. Prints the bin dir on stdout; progress goes to stderr.
#
#   bash scripts/tekton-build.sh           build what is missing or stale, print the bin dir
#   bash scripts/tekton-build.sh --check   print the bin dir if everything is built, else exit 3
#
# tools/tekton-controllers/ is one Go module requiring the Tekton Pipelines and Triggers releases the program
# installs (lib/config.ts defaults; this script refuses to build when the two disagree). Its four binaries
# are reused while the sha256 of its go.mod and go.sum matches the stamp written after the last successful
# build. A cold build takes about 20 minutes on 2 busy cores (the pipelines controller alone ~17), a relink
# after a change about 3; Go's build cache is shared with the other tools.
#
# Settings: TEKTON_DAG_TEKTON_BIN  cache dir (default ${XDG_CACHE_HOME:-$HOME/.cache}/tekton-dag/tekton/bin)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
mod="$repo/tools/tekton-controllers"
bin=${TEKTON_DAG_TEKTON_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/tekton-dag/tekton/bin}
check_only=false
case "${1:-}" in
    "") ;;
    --check) check_only=true ;;
    *) echo "tekton-build: unknown argument '$1' (allowed: --check)" >&2; exit 2 ;;
esac

log() { printf 'tekton-build: %s\n' "$*" >&2; }

# The module must build the releases the program installs, or the tests would run other controllers.
version_in_go_mod() { sed -n "s#^[[:space:]]*$1 \(v[0-9.]*\)\$#\1#p" "$mod/go.mod" | head -1; }
# The key's line ends at its default; its .describe(...) follows on the next line.
version_in_config() { sed -n "s#^[[:space:]]*$1: version.default(\"\(v[0-9.]*\)\"),\{0,1\}\$#\1#p" "$repo/lib/config.ts"; }
for pair in github.com/tektoncd/pipeline=tektonPipelinesVersion github.com/tektoncd/triggers=tektonTriggersVersion; do
    go_version=$(version_in_go_mod "${pair%%=*}")
    config_version=$(version_in_config "${pair#*=}")
    if [ -z "$go_version" ] || [ "$go_version" != "$config_version" ]; then
        log "tools/tekton-controllers/go.mod requires ${pair%%=*} '${go_version:-nothing}' but lib/config.ts defaults"
        log "  ${pair#*=} to '${config_version:-nothing}'; change them together (go get ${pair%%=*}@<version>)"
        exit 1
    fi
done

# binary name -> package. The names say what each process is in `ps` and in cluster.sh's pid checks.
targets=(
    "tekton-pipelines-controller:github.com/tektoncd/pipeline/cmd/controller"
    "tekton-triggers-controller:github.com/tektoncd/triggers/cmd/controller"
    "tekton-eventlistenersink:github.com/tektoncd/triggers/cmd/eventlistenersink"
    "tekton-interceptors:github.com/tektoncd/triggers/cmd/interceptors"
)

stamp() { cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -d' ' -f1; }

fresh() {
    local t
    [ "$(cat "$bin/.stamp" 2>/dev/null)" = "$(stamp)" ] || return 1
    for t in "${targets[@]}"; do [ -x "$bin/${t%%:*}" ] || return 1; done
}

if [ "$check_only" = true ]; then
    fresh || { log "not built (or stale) in $bin"; exit 3; }
    echo "$bin"
    exit 0
fi
fresh && { echo "$bin"; exit 0; }

command -v go >/dev/null || { log "go is not on PATH (Tekton's controllers are built from the Go module proxy)"; exit 1; }
mkdir -p "$bin"
# A second caller (another test run, a helper) waits for the running build instead of starting its own.
exec {lock}>"$bin/.build.lock"
if ! flock -n "$lock"; then
    log "another build of the Tekton controllers is running; waiting for it"
    flock "$lock"
fi
fresh && { log "built by another run: $bin"; echo "$bin"; exit 0; }

# shellcheck source=scripts/lib-setup.sh
. "$repo/scripts/lib-setup.sh"

total=$SECONDS
tmp=$(mktemp -d "$bin/.build.XXXXXX")
log "building Tekton's controllers from the Go module proxy into $bin (cold: about 20 minutes on 2 cores)"
# One binary per `go build`; the packages they share compile once and come from the build cache after.
for t in "${targets[@]}"; do
    with_progress "${t%%:*}" "$bin/build-${t%%:*}.log" \
        env -C "$mod" GOTOOLCHAIN=local go build -trimpath -ldflags "-s -w" -o "$tmp/${t%%:*}" "${t#*:}" || {
        rm -rf "$tmp"
        exit 1
    }
done
for t in "${targets[@]}"; do mv -f "$tmp/${t%%:*}" "$bin/${t%%:*}"; done
rm -rf "$tmp"
stamp >"$bin/.stamp"
log "Tekton controllers built in $((SECONDS - total))s: $bin"
echo "$bin"
