#!/usr/bin/env bash
# Provides a real Pulumi engine for this project: the Pulumi CLI, the Node.js language host and the
# kubernetes provider plugin, at the versions of the @pulumi packages pinned in package.json.
#
#   eval "$(bash scripts/pulumi-engine.sh --print-env)"   get the engine (building the CLI if needed) and
#                                                         export PATH and the PULUMI_* settings below
#   source scripts/pulumi-engine.sh                       the same, from an interactive bash shell
#   bash scripts/pulumi-engine.sh                         get the engine, print its bin dir
#   bash scripts/pulumi-engine.sh --check                 report what is there; never builds
#   bash scripts/pulumi-engine.sh --cli-only              build/find the CLI even when plugins are missing
#
# Exit status: 0 engine complete; 1 error (e.g. the build failed); 3 engine incomplete: a plugin the program
# needs is neither on PATH nor in the plugin cache, and downloads are off (the message names it).
#
# Where each piece comes from, in order:
#   pulumi                     `pulumi` on PATH if `pulumi version` is v<@pulumi/pulumi version>; else the
#                              cache below; else built there from tools/pulumi-engine (Go module proxy;
#                              the first build takes 10-20 minutes on 2 cores and prints progress).
#   pulumi-language-nodejs     on PATH or next to that `pulumi` (every Pulumi CLI release ships it there).
#                              It cannot be built here: the Go module proxy refuses its module
#                              (tools/pulumi-engine/README.md).
#   pulumi-resource-kubernetes on PATH, next to `pulumi`, or in $PULUMI_HOME/plugins (`pulumi plugin
#                              install resource kubernetes <version>`). Not on the Go module proxy either.
#   docker, command providers  not needed: the engine loads a provider only when a resource of its package
#                              is registered (render and preview stacks register none).
#
# Settings (environment):
#   TEKTON_DAG_PULUMI_BIN       where the CLI is built/cached
#                               (default ${XDG_CACHE_HOME:-$HOME/.cache}/tekton-dag/pulumi-<version>/bin)
#   TEKTON_DAG_PULUMI_DOWNLOAD  1 = let the engine download missing provider plugins itself (needs internet;
#                               these machines have none, so the default is 0 and downloads are disabled)
#
# Exported for the caller:
#   PATH                                      the engine's bin dir first (plugins on PATH are used as is)
#   PULUMI_SKIP_UPDATE_CHECK=true             no version check against the internet
#   PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true   (unless TEKTON_DAG_PULUMI_DOWNLOAD=1)
#   PULUMI_BACKEND_URL                        if unset: file://<repo>/.pulumi-state (local, gitignored)
#   PULUMI_CONFIG_PASSPHRASE                  if neither it nor PULUMI_CONFIG_PASSPHRASE_FILE is set: a fixed
#                                             passphrase, only good for the local render/preview stacks, whose
#                                             state holds no secret. Real environments set their own.

_tdpe_log() { printf 'pulumi-engine: %s\n' "$*" >&2; }

_tdpe_main() {
    local mode="ensure"
    case "${1:-}" in
        "") ;;
        --print-env) mode="print-env" ;;
        --check) mode="check" ;;
        --cli-only) mode="cli-only" ;;
        -h | --help)
            sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
            return 0
            ;;
        *)
            _tdpe_log "unknown argument '$1' (allowed: --print-env, --check, --cli-only, --help)"
            return 1
            ;;
    esac

    local repo
    repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    local tools="$repo/tools/pulumi-engine"

    command -v node >/dev/null 2>&1 || {
        _tdpe_log "node is not on PATH (the Node.js language host runs the program with it)"
        return 1
    }
    local pulumi_version k8s_version
    pulumi_version=$(node -p "require('$repo/package.json').dependencies['@pulumi/pulumi'] || ''")
    k8s_version=$(node -p "require('$repo/package.json').dependencies['@pulumi/kubernetes'] || ''")
    if ! [[ "$pulumi_version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
        _tdpe_log "package.json must pin @pulumi/pulumi to an exact version (got '$pulumi_version')"
        return 1
    fi
    local go_mod_version
    go_mod_version=$(sed -n 's#^\(require\)\{0,1\}[[:space:]]*github.com/pulumi/pulumi/pkg/v3 v\([0-9.]*\).*#\2#p' "$tools/go.mod" | head -1)
    if [ "$go_mod_version" != "$pulumi_version" ]; then
        _tdpe_log "tools/pulumi-engine/go.mod pins pulumi/pkg/v3 v$go_mod_version but package.json pins @pulumi/pulumi $pulumi_version;"
        _tdpe_log "  change them together (go get github.com/pulumi/pulumi/pkg/v3@v$pulumi_version in tools/pulumi-engine)"
        return 1
    fi

    local bin="${TEKTON_DAG_PULUMI_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/tekton-dag/pulumi-$pulumi_version/bin}"
    local download="${TEKTON_DAG_PULUMI_DOWNLOAD:-0}"
    local pulumi_home="${PULUMI_HOME:-$HOME/.pulumi}"

    # --- the CLI ------------------------------------------------------------------------------------------
    local cli_dir="" found
    if found=$(command -v pulumi 2>/dev/null); then
        local v
        v=$("$found" version 2>/dev/null || true)
        if [ "$v" = "v$pulumi_version" ]; then
            cli_dir=$(dirname "$found")
            _tdpe_log "pulumi v$pulumi_version: $found (from PATH)"
        else
            _tdpe_log "ignoring $found: it is '${v:-unknown version}', this project needs v$pulumi_version"
        fi
    fi
    if [ -z "$cli_dir" ] && [ -x "$bin/pulumi" ] && [ "$("$bin/pulumi" version 2>/dev/null)" = "v$pulumi_version" ]; then
        cli_dir="$bin"
        _tdpe_log "pulumi v$pulumi_version: $bin/pulumi (cached build)"
    fi
    [ -n "$cli_dir" ] || _tdpe_log "pulumi v$pulumi_version: not on PATH and not built yet (builds into $bin)"

    # --- the plugins (looked up before any long build, so a missing one fails fast) ------------------------
    local missing=() where
    _tdpe_find_plugin() { # name, plugin-cache glob → prints where it is, or fails
        local name="$1" glob="$2" p d
        if p=$(command -v "$name" 2>/dev/null); then printf '%s' "$p"; return 0; fi
        for d in "$cli_dir" "$bin"; do
            if [ -n "$d" ] && [ -x "$d/$name" ]; then printf '%s' "$d/$name"; return 0; fi
        done
        for p in $glob; do
            if [ -x "$p" ]; then printf '%s' "$p"; return 0; fi
        done
        return 1
    }
    if where=$(_tdpe_find_plugin pulumi-language-nodejs "$pulumi_home/plugins/language-nodejs-v*/pulumi-language-nodejs"); then
        _tdpe_log "language host nodejs: $where"
    else
        missing+=("pulumi-language-nodejs (Node.js language host, ships with every Pulumi CLI release; its Go module github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3 is refused by the Go module proxy here)")
    fi
    if where=$(_tdpe_find_plugin pulumi-resource-kubernetes "$pulumi_home/plugins/resource-kubernetes-v$k8s_version/pulumi-resource-kubernetes"); then
        _tdpe_log "provider kubernetes: $where"
    elif [ "$download" = 1 ]; then
        _tdpe_log "provider kubernetes v$k8s_version: not installed; the engine will download it (TEKTON_DAG_PULUMI_DOWNLOAD=1)"
    else
        missing+=("pulumi-resource-kubernetes v$k8s_version (kubernetes provider; 'pulumi plugin install resource kubernetes $k8s_version' where the internet is reachable; its Go module github.com/pulumi/pulumi-kubernetes/provider/v4 is refused by the Go module proxy here)")
    fi

    if [ "${#missing[@]}" -gt 0 ] && [ "$mode" != "cli-only" ]; then
        _tdpe_log "ENGINE INCOMPLETE: these plugins are neither on PATH nor installed, and cannot be built from the package registries:"
        local m
        for m in "${missing[@]}"; do _tdpe_log "  - $m"; done
        _tdpe_log "Put them on PATH (e.g. install the Pulumi CLI v$pulumi_version, which ships the language host, and run"
        _tdpe_log "'pulumi plugin install resource kubernetes $k8s_version'), or set TEKTON_DAG_PULUMI_DOWNLOAD=1 on a machine with internet."
        return 3
    fi

    [ "$mode" = "check" ] && return 0

    # --- build the CLI when neither PATH nor the cache has it ------------------------------------------
    if [ -z "$cli_dir" ]; then
        _tdpe_build_cli "$tools" "$bin" "$pulumi_version" || return 1
        cli_dir="$bin"
    fi

    # --- environment ----------------------------------------------------------------------------------
    mkdir -p "$repo/.pulumi-state"
    local -a env_lines=(
        "PATH=$cli_dir:$PATH"
        "PULUMI_SKIP_UPDATE_CHECK=true"
        "PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$repo/.pulumi-state}"
    )
    if [ "$download" != 1 ]; then
        env_lines+=("PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true")
    fi
    if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
        env_lines+=("PULUMI_CONFIG_PASSPHRASE=tekton-dag-local-render-only")
    fi

    local line
    case "$mode" in
        print-env)
            for line in "${env_lines[@]}"; do printf 'export %s=%q\n' "${line%%=*}" "${line#*=}"; done
            ;;
        *)
            for line in "${env_lines[@]}"; do export "${line?}"; done
            printf '%s\n' "$cli_dir"
            ;;
    esac
    return 0
}

# Builds github.com/pulumi/pulumi/pkg/v3/cmd/pulumi as a dependency of tools/pulumi-engine (go.sum pins every
# module), printing the elapsed time while the silent `go build` runs, and installs it atomically.
_tdpe_build_cli() {
    local tools="$1" bin="$2" version="$3"
    command -v go >/dev/null 2>&1 || {
        _tdpe_log "go is not installed; building the Pulumi CLI needs Go $(sed -n 's/^go //p' "$tools/go.mod") or newer"
        return 1
    }
    mkdir -p "$bin"
    local tmp="$bin/.pulumi.tmp.$$" logf="$bin/.build.log"
    _tdpe_log "building pulumi v$version from the Go module proxy into $bin"
    _tdpe_log "  (first build: about 260 MB of modules, 10-20 minutes on 2 cores; later runs use the cache)"
    local start=$SECONDS
    (
        cd "$tools" &&
            exec go build -trimpath \
                -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$version" \
                -o "$tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    ) >"$logf" 2>&1 &
    local pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        sleep 5
        if kill -0 "$pid" 2>/dev/null && [ $(((SECONDS - start) % 60)) -lt 5 ]; then
            _tdpe_log "  building pulumi ... $(((SECONDS - start) / 60))m$(((SECONDS - start) % 60))s elapsed"
        fi
    done
    if ! wait "$pid"; then
        _tdpe_log "building pulumi failed after $((SECONDS - start))s; the last lines of $logf:"
        tail -20 "$logf" >&2
        rm -f "$tmp"
        return 1
    fi
    mv -f "$tmp" "$bin/pulumi"
    _tdpe_log "built pulumi $("$bin/pulumi" version) in $(((SECONDS - start) / 60))m$(((SECONDS - start) % 60))s ($(du -h "$bin/pulumi" | cut -f1))"
}

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
    # sourced: export into the caller's shell; never exit it
    _tdpe_main "$@" >/dev/null
else
    set -euo pipefail
    _tdpe_main "$@"
fi
