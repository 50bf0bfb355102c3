#!/usr/bin/env bash
# Builds the local control plane scripts/cluster.sh runs (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok) from the Go module proxy, into a cache outside the repo, and copies kwok's
# node/pod stage files next to them. Prints the bin dir on stdout; progress goes to stderr.
#
#   bash scripts/cluster-build.sh           build what is missing or stale, print the bin dir
#   bash scripts/cluster-build.sh --check   print the bin dir if everything is built, else exit 3
#
# Each Go module under tools/kube-control-plane/ is built on its own; its binaries are reused while the
# sha256 of its go.mod and go.sum matches the stamp written after the last successful build. A cold build
# takes about 10 minutes on 2 otherwise idle cores.
#
# Settings: TEKTON_DAG_CLUSTER_BIN  cache dir (default ${XDG_CACHE_HOME:-$HOME/.cache}/tekton-dag/kube-control-plane/bin)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
tools="$repo/tools/kube-control-plane"
bin=${TEKTON_DAG_CLUSTER_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/tekton-dag/kube-control-plane/bin}
check_only=false
case "${1:-}" in
    "") ;;
    --check) check_only=true ;;
    *) echo "cluster-build: unknown argument '$1' (allowed: --check)" >&2; exit 2 ;;
esac

log() { printf 'cluster-build: %s\n' "$*" >&2; }

# The version the Kubernetes binaries report comes from ldflags; it is read from go.mod so the two agree.
k8s_version=$(sed -n 's#^require k8s.io/kubernetes \(v[0-9.]*\)$#\1#p' "$tools/kubernetes/go.mod")
[[ "$k8s_version" =~ ^v1\.([0-9]+)\.[0-9]+$ ]] || {
    log "tools/kube-control-plane/kubernetes/go.mod must hold 'require k8s.io/kubernetes v1.N.P' (got '$k8s_version')"
    exit 1
}
k8s_minor=${BASH_REMATCH[1]}
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
    k8s_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

# module name -> "binary:package ..." built from it.
declare -A targets=(
    [etcd]="etcd:go.etcd.io/etcd/server/v3"
    [kubernetes]="kube-apiserver:k8s.io/kubernetes/cmd/kube-apiserver kube-controller-manager:k8s.io/kubernetes/cmd/kube-controller-manager kube-scheduler:k8s.io/kubernetes/cmd/kube-scheduler kubectl:k8s.io/kubernetes/cmd/kubectl"
    [kwok]="kwok:sigs.k8s.io/kwok/cmd/kwok"
)
declare -A ldflags=([etcd]="-s -w" [kubernetes]="$k8s_ldflags" [kwok]="-s -w")

stamp_of() { cat "$tools/$1/go.mod" "$tools/$1/go.sum" | sha256sum | cut -d' ' -f1; }

fresh() {
    local mod=$1 t
    [ "$(cat "$bin/.stamp-$mod" 2>/dev/null)" = "$(stamp_of "$mod")" ] || return 1
    for t in ${targets[$mod]}; do [ -x "$bin/${t%%:*}" ] || return 1; done
}

# shellcheck source=scripts/lib-setup.sh
. "$repo/scripts/lib-setup.sh"

build() {
    local mod=$1 t name pkg tmp
    tmp=$(mktemp -d "$bin/.build-$mod.XXXXXX")
    # One binary per `go build`; packages they share compile once and come from the build cache after.
    for t in ${targets[$mod]}; do
        name=${t%%:*}
        pkg=${t#*:}
        with_progress "$name (tools/kube-control-plane/$mod)" "$bin/build-$name.log" \
            env -C "$tools/$mod" go build -trimpath -ldflags "${ldflags[$mod]}" -o "$tmp/$name" "$pkg" || {
            rm -rf "$tmp"
            return 1
        }
    done
    for t in ${targets[$mod]}; do mv -f "$tmp/${t%%:*}" "$bin/${t%%:*}"; done
    rm -rf "$tmp"
    stamp_of "$mod" >"$bin/.stamp-$mod"
}

# kwok's stage files (what makes a node Ready and a pod Running with an IP) ship in its module, not in the
# binary's defaults for every release; the copy next to the binaries is what cluster.sh passes with -c.
# Not pod-complete: it ends every Job's pod at once, and a mirrord agent runs as long as its proxy.
copy_stages() {
    local dir
    dir=$(env -C "$tools/kwok" go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
    mkdir -p "$bin/kwok-stages"
    cp "$dir/kustomize/stage/node/fast/node-initialize.yaml" \
        "$dir/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" \
        "$dir/kustomize/stage/pod/fast/pod-ready.yaml" \
        "$dir/kustomize/stage/pod/fast/pod-delete.yaml" "$bin/kwok-stages/"
    chmod u+w "$bin/kwok-stages/"*
}

mkdir -p "$bin"
missing=()
for mod in etcd kwok kubernetes; do fresh "$mod" || missing+=("$mod"); done
[ -f "$bin/kwok-stages/node-heartbeat-with-lease.yaml" ] || missing+=(kwok-stages)

if [ "$check_only" = true ]; then
    if [ "${#missing[@]}" -gt 0 ]; then log "not built: ${missing[*]} (in $bin)"; exit 3; fi
    echo "$bin"
    exit 0
fi

command -v go >/dev/null || { log "go is not on PATH (the control plane is built from the Go module proxy)"; exit 1; }
total=$SECONDS
for mod in "${missing[@]}"; do
    case "$mod" in
        kwok-stages) copy_stages ;;
        *) build "$mod" || exit 1 ;;
    esac
done
[ "${#missing[@]}" -eq 0 ] || log "control plane built in $((SECONDS - total))s: $bin"
echo "$bin"
