#!/usr/bin/env bash
# Provides the real Pulumi engine this project runs on: the Pulumi CLI, the kubernetes provider plugin and
# the Node.js policy-pack analyzer, at the versions package.json pins (tools/pulumi-engine/README.md).
#
#   eval "$(bash scripts/pulumi-engine.sh --print-env)"   get the engine (building what is missing) and
#                                                         export PATH and the PULUMI_* settings below
#   bash scripts/pulumi-engine.sh                         get the engine, print the CLI's path
#   bash scripts/pulumi-engine.sh --env-lines             the same as --print-env, as plain KEY=VALUE lines
#                                                         (for programs: scripts/pulumi-run.ts)
#   bash scripts/pulumi-engine.sh --check                 report what is there and what would be built
#   bash scripts/pulumi-engine.sh --cli-only              get just the CLI
#
# Where each piece comes from, first match wins:
#   pulumi                      `pulumi` on PATH if `pulumi version` is v<@pulumi/pulumi>; else the cache;
#                               else built into the cache from tools/pulumi-engine (Go module proxy, about
#                               7-15 minutes on 2 cores the first time).
#   pulumi-resource-kubernetes  on PATH, next to that `pulumi`, or in $PULUMI_HOME/plugins at the version
#                               of @pulumi/kubernetes (`pulumi plugin install`); else the cache; else built
#                               into the cache from tools/pulumi-kubernetes-provider (about 13 minutes the
#                               first time, 4.5 GB of memory at peak).
#   Node.js policy packs        pulumi-language-nodejs next to `pulumi` or on PATH (every Pulumi release
#                               ships it) runs them; without it the engine starts pulumi-analyzer-policy-nodejs,
#                               which this script installs from tools/pulumi-engine into the CLI cache dir.
# The engine loads no other plugin: an inline Automation API program (scripts/pulumi-run.ts) needs no
# language host, and the docker and command providers are loaded only when the program registers their
# resources (buildImages=true).
#
# Cache: ${TEKTON_DAG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tekton-dag}/
#   pulumi-<version>/bin/{pulumi,pulumi-analyzer-policy-nodejs}
#   pulumi-kubernetes-<version>/bin/pulumi-resource-kubernetes (+ .stamp: the Go module version it came from)
# Go's own module and build caches (go env GOMODCACHE GOCACHE) make a rebuild after a version bump quick.
#
# Settings (environment):
#   TEKTON_DAG_CACHE            the cache directory above
#   TEKTON_DAG_PULUMI_DOWNLOAD  1 = a missing kubernetes provider is left to the engine to download (needs
#                               internet) instead of being built
#
# Printed by --print-env (and exported when sourced):
#   PATH                                               the engine's directories first
#   TEKTON_DAG_PULUMI                                  the CLI's path
#   TEKTON_DAG_PULUMI_VERSION                          its version (checked above: the one package.json pins)
#   PULUMI_SKIP_UPDATE_CHECK=true                      no version check against the internet
#   PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true   (unless TEKTON_DAG_PULUMI_DOWNLOAD=1)
#
# Exit status: 0 the engine is there; 1 it is not (the message says why, e.g. a failed build).

_tdpe_log() { printf 'pulumi-engine: %s\n' "$*" >&2; }

_tdpe_main() {
    local mode="ensure"
    case "${1:-}" in
        "") ;;
        --print-env) mode="print-env" ;;
        --env-lines) mode="env-lines" ;;
        --check) mode="check" ;;
        --cli-only) mode="cli-only" ;;
        -h | --help)
            sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
            return 0
            ;;
        *)
            _tdpe_log "unknown argument '$1' (allowed: --print-env, --env-lines, --check, --cli-only, --help)"
            return 1
            ;;
    esac

    local repo
    repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    local cli_tools="$repo/tools/pulumi-engine" k8s_tools="$repo/tools/pulumi-kubernetes-provider"

    command -v node >/dev/null 2>&1 || {
        _tdpe_log "node is not on PATH (the program and the policy pack run on it)"
        return 1
    }
    local pulumi_version k8s_version
    pulumi_version=$(node -p "require('$repo/package.json').dependencies['@pulumi/pulumi'] || ''")
    k8s_version=$(node -p "require('$repo/package.json').dependencies['@pulumi/kubernetes'] || ''")
    local v
    for v in "@pulumi/pulumi=$pulumi_version" "@pulumi/kubernetes=$k8s_version"; do
        if ! [[ "${v#*=}" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
            _tdpe_log "package.json must pin ${v%%=*} to an exact version x.y.z (got '${v#*=}')"
            return 1
        fi
    done
    # The Go sources must build what package.json pins, or the engine would run other code than the SDKs expect.
    local go_cli_version go_k8s_version
    go_cli_version=$(sed -n 's#^\(require\)\{0,1\}[[:space:]]*github.com/pulumi/pulumi/pkg/v3 v\([0-9.]*\).*#\2#p' "$cli_tools/go.mod" | head -1)
    if [ "$go_cli_version" != "$pulumi_version" ]; then
        _tdpe_log "tools/pulumi-engine/go.mod pins pulumi/pkg/v3 v$go_cli_version but package.json pins @pulumi/pulumi $pulumi_version;"
        _tdpe_log "  change them together (go get github.com/pulumi/pulumi/pkg/v3@v$pulumi_version in tools/pulumi-engine)"
        return 1
    fi
    go_k8s_version=$(tr -d '[:space:]' <"$k8s_tools/VERSION")
    if [ "$go_k8s_version" != "$k8s_version" ]; then
        _tdpe_log "tools/pulumi-kubernetes-provider/VERSION says its module builds kubernetes provider $go_k8s_version, but"
        _tdpe_log "  package.json pins @pulumi/kubernetes $k8s_version; change them together (tools/pulumi-engine/README.md)"
        return 1
    fi
    local k8s_module
    k8s_module=$(sed -n 's#^\(require\)\{0,1\}[[:space:]]*\(github.com/pulumi/pulumi-kubernetes/provider/v4\) \(v[^ ]*\).*#\2@\3#p' "$k8s_tools/go.mod" | head -1)

    local cache="${TEKTON_DAG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tekton-dag}"
    local cli_bin="$cache/pulumi-$pulumi_version/bin" k8s_bin="$cache/pulumi-kubernetes-$k8s_version/bin"
    local pulumi_home="${PULUMI_HOME:-$HOME/.pulumi}" download="${TEKTON_DAG_PULUMI_DOWNLOAD:-0}"

    # --- the CLI ------------------------------------------------------------------------------------------
    local cli="" found
    if found=$(command -v pulumi 2>/dev/null); then
        v=$(PULUMI_SKIP_UPDATE_CHECK=true "$found" version 2>/dev/null || true)
        if [ "$v" = "v$pulumi_version" ]; then
            cli="$found"
            _tdpe_log "pulumi v$pulumi_version: $found (from PATH)"
        else
            _tdpe_log "ignoring $found: it is '${v:-unknown version}', this project needs v$pulumi_version"
        fi
    fi
    if [ -z "$cli" ] && [ -x "$cli_bin/pulumi" ] && [ "$(PULUMI_SKIP_UPDATE_CHECK=true "$cli_bin/pulumi" version 2>/dev/null)" = "v$pulumi_version" ]; then
        cli="$cli_bin/pulumi"
        _tdpe_log "pulumi v$pulumi_version: $cli (cached build)"
    fi
    if [ -z "$cli" ]; then
        _tdpe_log "pulumi v$pulumi_version: not on PATH and not built yet (builds into $cli_bin)"
        if [ "$mode" != check ]; then
            _tdpe_build "pulumi v$pulumi_version" "$cli_tools" "$cli_bin/pulumi" "" 7 15 "" \
                -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$pulumi_version" \
                github.com/pulumi/pulumi/pkg/v3/cmd/pulumi || return 1
            cli="$cli_bin/pulumi"
        fi
    fi
    local cli_dir="${cli%/*}"
    local path_dirs=("$cli_dir")

    # --- the kubernetes provider ----------------------------------------------------------------------------
    if [ "$mode" != cli-only ]; then
        local where="" p
        if p=$(command -v pulumi-resource-kubernetes 2>/dev/null); then
            where="$p (from PATH)"
        elif [ -n "$cli" ] && [ -x "$cli_dir/pulumi-resource-kubernetes" ]; then
            where="$cli_dir/pulumi-resource-kubernetes (next to pulumi)"
        elif [ -x "$pulumi_home/plugins/resource-kubernetes-v$k8s_version/pulumi-resource-kubernetes" ]; then
            where="$pulumi_home/plugins/resource-kubernetes-v$k8s_version (installed plugin)"
        elif [ -x "$k8s_bin/pulumi-resource-kubernetes" ] && [ "$(cat "$k8s_bin/.stamp" 2>/dev/null)" = "$k8s_module $k8s_version" ]; then
            where="$k8s_bin/pulumi-resource-kubernetes (cached build of $k8s_module)"
            path_dirs+=("$k8s_bin")
        elif [ "$download" = 1 ]; then
            where="not installed; the engine downloads v$k8s_version (TEKTON_DAG_PULUMI_DOWNLOAD=1)"
        elif [ "$mode" = check ]; then
            where="not there (builds $k8s_module into $k8s_bin)"
        else
            _tdpe_log "kubernetes provider v$k8s_version: not installed and not built yet (builds $k8s_module into $k8s_bin)"
            _tdpe_build "kubernetes provider v$k8s_version" "$k8s_tools" "$k8s_bin/pulumi-resource-kubernetes" \
                "$k8s_module $k8s_version" 13 20 _tdpe_k8s_sources \
                -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$k8s_version" \
                . || return 1
            where="$k8s_bin/pulumi-resource-kubernetes (built from $k8s_module)"
            path_dirs+=("$k8s_bin")
        fi
        _tdpe_log "kubernetes provider v$k8s_version: $where"

        # --- Node.js policy packs ---------------------------------------------------------------------------
        if p=$(command -v pulumi-language-nodejs 2>/dev/null) || { [ -n "$cli" ] && [ -x "$cli_dir/pulumi-language-nodejs" ] && p="$cli_dir/pulumi-language-nodejs"; }; then
            _tdpe_log "policy packs: run by the Node.js language host $p"
        elif [ "$mode" = check ]; then
            _tdpe_log "policy packs: no Node.js language host; pulumi-analyzer-policy-nodejs goes into $cli_bin"
        else
            mkdir -p "$cli_bin"
            if ! cmp -s "$cli_tools/pulumi-analyzer-policy-nodejs" "$cli_bin/pulumi-analyzer-policy-nodejs"; then
                # Another run may be executing the shim: replace it whole (rename), never rewrite it in place.
                local shim_tmp="$cli_bin/.pulumi-analyzer-policy-nodejs.tmp.$$"
                if ! { install -m 0755 "$cli_tools/pulumi-analyzer-policy-nodejs" "$shim_tmp" &&
                    mv -f "$shim_tmp" "$cli_bin/pulumi-analyzer-policy-nodejs"; }; then
                    rm -f "$shim_tmp"
                    return 1
                fi
            fi
            [ "$cli_dir" = "$cli_bin" ] || path_dirs+=("$cli_bin")
            _tdpe_log "policy packs: run by $cli_bin/pulumi-analyzer-policy-nodejs (no Node.js language host needed)"
        fi
    fi

    [ "$mode" = check ] && return 0

    # --- environment ----------------------------------------------------------------------------------
    local path_prefix="" d
    for d in "${path_dirs[@]}"; do path_prefix="$path_prefix$d:"; done
    local -a env_lines=(
        "PATH=$path_prefix$PATH"
        "TEKTON_DAG_PULUMI=$cli"
        "TEKTON_DAG_PULUMI_VERSION=$pulumi_version"
        "PULUMI_SKIP_UPDATE_CHECK=true"
    )
    [ "$download" = 1 ] || env_lines+=("PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true")

    local line
    case "$mode" in
        print-env)
            for line in "${env_lines[@]}"; do printf 'export %s=%q\n' "${line%%=*}" "${line#*=}"; done
            ;;
        env-lines) printf '%s\n' "${env_lines[@]}" ;;
        *)
            for line in "${env_lines[@]}"; do export "${line?}"; done
            printf '%s\n' "$cli"
            ;;
    esac
    return 0
}

# Writes the two JSON files tools/pulumi-kubernetes-provider/main.go embeds, from the provider module in
# the Go module cache: the schema with the provider's version stamped in (what upstream's `go generate`
# step does; the generated file is not part of the module zip) and the terraform mapping as it is. Called
# by _tdpe_build under the build lock with the module dir and the stamp "MODULE@VERSION VERSION"; each file
# is written beside itself and renamed, so a build never embeds a half-written one.
_tdpe_k8s_sources() {
    local tools="$1" module="${2% *}" version="${2##* }" dir
    command -v go >/dev/null 2>&1 || {
        _tdpe_log "go is not installed; building the kubernetes provider needs Go $(sed -n 's/^go //p' "$tools/go.mod") or newer"
        return 1
    }
    dir=$(cd "$tools" && go mod download -json "$module" | node -e '
        let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
            const m = JSON.parse(s);
            if (m.Error || !m.Dir) { console.error(m.Error || "no Dir"); process.exit(1); }
            process.stdout.write(m.Dir);
        });') || {
        _tdpe_log "could not download $module from the Go module proxy"
        return 1
    }
    local src="$dir/cmd/pulumi-resource-kubernetes"
    # shellcheck disable=SC2016 # JavaScript, not shell
    node -e '
        const fs = require("fs");
        const [src, out, version] = process.argv.slice(1);
        const schema = JSON.parse(fs.readFileSync(`${src}/schema.json`, "utf8"));
        schema.version = version;
        const write = (name, value) => {
            const tmp = `${out}/.${name}.tmp.${process.pid}`;
            fs.writeFileSync(tmp, JSON.stringify(value));
            fs.renameSync(tmp, `${out}/${name}`);
        };
        write("schema-embed.json", schema);
        write("terraform-mapping-embed.json", JSON.parse(fs.readFileSync(`${src}/terraform-mapping.json`, "utf8")));
    ' "$src" "$tools" "$version"
}

# Builds one Go main package inside a module of tools/ (its go.sum pins every module), printing the elapsed
# time against an estimate while the silent `go build` runs, and installs the binary atomically. A lock
# next to the binary makes a second caller wait for the running build instead of starting another; PREPARE
# (a function, or "") writes the module's generated sources, under the same lock.
#   _tdpe_build LABEL MODULE_DIR OUTPUT STAMP MIN_MINUTES MAX_MINUTES PREPARE go-build-args...
_tdpe_build() {
    local label="$1" tools="$2" out="$3" stamp="$4" est_min="$5" est_max="$6" prepare="$7"
    shift 7
    command -v go >/dev/null 2>&1 || {
        _tdpe_log "go is not installed; building $label needs Go $(sed -n 's/^go //p' "$tools/go.mod") or newer"
        return 1
    }
    local bin="${out%/*}"
    mkdir -p "$bin"
    exec {lock}>"$bin/.build.lock"
    if ! flock -n "$lock"; then
        _tdpe_log "another build of $label is running; waiting for it"
        flock "$lock"
    fi
    # Another run may have finished the build between the caller's check and the lock.
    if [ -x "$out" ] && { [ -z "$stamp" ] || [ "$(cat "$bin/.stamp" 2>/dev/null)" = "$stamp" ]; }; then
        _tdpe_log "$label: $out (built by another run)"
        exec {lock}>&-
        return 0
    fi
    if [ -n "$prepare" ] && ! "$prepare" "$tools" "$stamp"; then
        exec {lock}>&-
        return 1
    fi
    local tmp="$out.tmp.$$" logf="$bin/.build.log"
    _tdpe_log "building $label from the Go module proxy into $bin"
    _tdpe_log "  first build: about $est_min-$est_max minutes on 2 cores (Go's build cache makes later builds take about a minute)"
    local start=$SECONDS pid last=0 elapsed saved_traps
    # A killed or interrupted caller takes the build with it; the caller's own traps come back after. The
    # traps are set before the build starts: set after it, a signal in between would leave go running.
    saved_traps=$(trap -p EXIT INT TERM)
    _tdpe_build_pid=""
    trap 'kill $_tdpe_build_pid 2>/dev/null' EXIT
    trap 'kill $_tdpe_build_pid 2>/dev/null; exit 130' INT
    trap 'kill $_tdpe_build_pid 2>/dev/null; exit 143' TERM
    (cd "$tools" && exec go build -trimpath -o "$tmp" "$@") >"$logf" 2>&1 &
    _tdpe_build_pid=$!
    pid=$_tdpe_build_pid
    while kill -0 "$pid" 2>/dev/null; do
        # wait, unlike a sleep in the foreground, returns as soon as a trapped signal arrives.
        sleep 2 &
        wait $! || true
        elapsed=$((SECONDS - start))
        if [ $((elapsed - last)) -ge 60 ] && kill -0 "$pid" 2>/dev/null; then
            last=$elapsed
            _tdpe_log "  building $label ... $((elapsed / 60)) min elapsed of about $est_min-$est_max"
        fi
    done
    local built=0
    wait "$pid" || built=$?
    trap - EXIT INT TERM
    eval "$saved_traps"
    if [ "$built" -ne 0 ]; then
        _tdpe_log "building $label failed after $((SECONDS - start))s; the last lines of $logf:"
        tail -20 "$logf" >&2
        rm -f "$tmp"
        exec {lock}>&-
        return 1
    fi
    mv -f "$tmp" "$out"
    if [ -n "$stamp" ]; then printf '%s\n' "$stamp" >"$bin/.stamp"; fi
    elapsed=$((SECONDS - start))
    _tdpe_log "built $label in $((elapsed / 60))m$((elapsed % 60))s: $out ($(du -h "$out" | cut -f1))"
    exec {lock}>&-
}

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
    # sourced: export into the caller's shell; never exit it
    _tdpe_main "$@" >/dev/null
else
    set -euo pipefail
    _tdpe_main "$@"
fi
