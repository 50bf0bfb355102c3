#!/usr/bin/env bash
# A benchmark, not a test: prints timings measured in one run against the local control plane
# (scripts/cluster.sh start first). Each figure is wall time of one command.
#   - render of the kind stack under Pulumi mocks (npm run manifests), what every preview also pays in
#     Node.js start-up and TypeScript compilation;
#   - kubectl apply --server-side of the rendered objects: in one call, again as a no-op, and one call per
#     object; the objects are deleted again afterwards.
# `pulumi up` of the same stack needs the real engine (tools/pulumi-engine); it is reported as not measured
# when scripts/pulumi-engine.sh --check does not find a complete one.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
eval "$(bash scripts/cluster.sh env)" || exit 1
bash scripts/cluster.sh status >/dev/null || { echo "bench: the local cluster does not answer; run 'bash scripts/cluster.sh start'" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ms() { local t0=$1; echo $(( ($(date +%s%N) - t0) / 1000000 )); }
row() { printf '%-58s %8s ms\n' "$1" "$2"; }

t=$(date +%s%N)
npx --no-install ts-node --transpile-only scripts/manifests.ts --stack kind --out "$work/m" >/dev/null
row "render the kind stack under mocks (npm run manifests)" "$(ms "$t")"
rm -f "$work/m/resources.json"
mapfile -t files < <(find "$work/m" -name '*.yaml' ! -name 'Namespace-*' | sort)
# Namespaces first, so that one call can create everything else in them.
args=()
for f in "$work"/m/_cluster/Namespace-*.yaml "${files[@]}"; do args+=(-f "$f"); done
echo "objects: ${#files[@]} (+ namespaces)"

apply() { kubectl apply --server-side --force-conflicts --field-manager tekton-dag-bench "$@" >/dev/null; }
t=$(date +%s%N); apply "${args[@]}"; row "kubectl apply --server-side, one call (create)" "$(ms "$t")"
t=$(date +%s%N); apply "${args[@]}"; row "kubectl apply --server-side, one call (no change)" "$(ms "$t")"
remove() { kubectl delete --wait=true --ignore-not-found "${files[@]/#/--filename=}" >/dev/null; }
t=$(date +%s%N); remove; row "kubectl delete of the same objects (namespaces kept)" "$(ms "$t")"
t=$(date +%s%N)
for f in "$work"/m/_cluster/Namespace-*.yaml "${files[@]}"; do apply -f "$f"; done
row "kubectl apply --server-side, one call per object (create)" "$(ms "$t")"
remove

if bash scripts/pulumi-engine.sh --check >/dev/null 2>&1; then
    echo "pulumi up: a complete engine is present; its measurement is not wired here yet"
else
    echo "pulumi up / preview: not measured (no complete Pulumi engine: bash scripts/pulumi-engine.sh --check)"
fi
