#!/usr/bin/env bash
# A benchmark, not a test: prints timings measured in one run against the local control plane
# (scripts/cluster.sh start first). Each figure is the wall time of one command, on the same API server.
#   - the local stack (Pulumi.local.yaml) rendered to files through the real engine, and
#     `kubectl apply --server-side` of those objects: one call, again as a no-op, one call per object;
#   - `pulumi up` of the same stack through the real engine (scripts/pulumi-run.ts, policy pack on, its
#     preview included), against kubectl's one call: the ratio; a no-op `pulumi preview` (what every PR's CI
#     pays), a no-op `up`, and `destroy`;
#   - the README's main job (bash scripts/render.sh), warm;
#   - where a warm run's wall time goes: Node.js start, loading the program and the Pulumi SDKs (under
#     ts-node and compiled), getting the engine, the policy pack, and the engine's own time;
# The figures also go to .bench/bench.tsv (name<TAB>seconds: kubectl-ssa-create, kubectl-ssa-noop,
# pulumi-up-fresh, pulumi-preview-noop, pulumi-up-noop, render-warm), and the ratios issue 18 sets goals for
# are printed at the end.
#   - the test command's own stages (scripts/test.sh times each one): from its last run, which
#     .bench/test-stages.tsv records, or measured now with --test-stages (runs the whole test command first;
#     it starts and stops a control plane of its own, so it runs before this bench's rows).
# With --readme, the figures also replace the table of README.md's "How fast" section (between its bench
# markers), so the README shows the latest measured figures, not figures typed by hand.
# Without a complete Pulumi engine (bash scripts/pulumi-engine.sh --check) the pulumi rows say so.
# Whatever it creates it deletes again; the cluster must hold none of the local stack's objects at the start.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
readme=false
for arg in "$@"; do
    case "$arg" in
        --test-stages)
            echo "bench: running the test command (bash scripts/test.sh) to time its stages" >&2
            # Its own control plane has its own state dir, so the one this bench measures is left alone.
            TEKTON_DAG_CLUSTER_DIR=$(mktemp -d) bash scripts/test.sh >&2 || echo "bench: the test command failed; its stage times are still shown" >&2
            ;;
        --readme) readme=true ;;
        *) echo "bench: unknown argument '$arg' (allowed: --test-stages, --readme)" >&2; exit 2 ;;
    esac
done
eval "$(bash scripts/cluster.sh env)" || exit 1
bash scripts/cluster.sh status >/dev/null || { echo "bench: the local cluster does not answer; run 'bash scripts/cluster.sh start'" >&2; exit 1; }
if [ -n "$(kubectl get serviceaccounts,roles,rolebindings,cronjobs -A -l app.kubernetes.io/part-of=tekton-dag -o name)" ]; then
    echo "bench: the cluster already holds objects labelled app.kubernetes.io/part-of=tekton-dag; remove them first" >&2
    exit 1
fi

work=$(mktemp -d)
state=$work/state
cleanup() {
    # A pulumi row that failed half-way leaves its objects: destroy them through the engine.
    if [ -d "$state" ]; then npm run -s pulumi-run -- destroy --stack local --state "$state" >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
now() { date +%s%N; }
ms() { echo $(( ($(now) - $1) / 1000000 )); }
row() { printf '%-66s %9s\n' "$1" "$2"; }
rows=()
add() { rows+=("$(row "$1" "$2")"); }
# The machine-readable figures: name<TAB>seconds, one line each, in .bench/bench.tsv (written at the end).
declare -A figures=()
figure() { figures[$1]=$(awk -v m="$2" 'BEGIN { printf "%.3f", m / 1000 }'); }
ratio() { awk -v a="${figures[$1]}" -v b="${figures[$2]}" 'BEGIN { printf "%.1fx", a / b }'; }
# Runs pulumi-run with its output in $work/<label>.log; fails the bench with that log when it fails.
pulumi_run() {
    local label=$1; shift
    if ! npm run -s pulumi-run -- "$@" >"$work/$label.log" 2>&1; then
        echo "bench: pulumi-run $* failed:" >&2; tail -30 "$work/$label.log" >&2; exit 1
    fi
}
# The engine's own "Duration: Ns" of the last operation in a log (the update; a preview prints none).
engine_s() { grep -oE '^Duration: [0-9.]+[a-z]+' "$work/$1.log" | tail -1 | cut -d' ' -f2; }

have_engine=true
# --check exits 0 whether or not the pieces are built; its lines say which would be built.
check=$(bash scripts/pulumi-engine.sh --check 2>&1) || have_engine=false
if grep -qE 'not built yet|not there' <<<"$check"; then have_engine=false; fi

printf 'bench: %s, API server %s, %s CPUs\n' "$(date -u +%FT%TZ)" "$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')" "$(nproc)"

# ---- the objects -----------------------------------------------------------------------------------------
if $have_engine; then
    t=$(now)
    pulumi_run render up --stack local --state "$work/render-state" --no-policy --set "renderYamlToDirectory=$work/m"
    add "render the local stack through the engine (renderYamlToDirectory)" "$(ms "$t") ms"
else
    # Without the engine, the same program under Pulumi mocks gives the same objects.
    t=$(now)
    node scripts/compiled.js scripts/manifests.ts --stack local --out "$work/m" >/dev/null
    rm -f "$work/m/resources.json"
    add "render the local stack under mocks (npm run manifests)" "$(ms "$t") ms"
fi
mapfile -t files < <(find "$work/m" -name '*.yaml' | sort)
args=()
for f in "${files[@]}"; do args+=(-f "$f"); done
objects=$(cat "${files[@]}" | grep -c '^kind:')

# ---- kubectl ---------------------------------------------------------------------------------------------
apply() { kubectl apply --server-side --force-conflicts --field-manager tekton-dag-bench "$@" >/dev/null; }
remove() { kubectl delete --wait=true --ignore-not-found "${args[@]}" >/dev/null; }
t=$(now); apply "${args[@]}"; kubectl_create=$(ms "$t"); add "kubectl apply --server-side, one call (create)" "$kubectl_create ms"
figure kubectl-ssa-create "$kubectl_create"
t=$(now); apply "${args[@]}"; d=$(ms "$t"); add "kubectl apply --server-side, one call (no change)" "$d ms"; figure kubectl-ssa-noop "$d"
t=$(now); remove; add "kubectl delete of the same objects, one call" "$(ms "$t") ms"
t=$(now)
for f in "${files[@]}"; do apply -f "$f"; done
add "kubectl apply --server-side, one call per object (create)" "$(ms "$t") ms"
remove

# ---- pulumi ----------------------------------------------------------------------------------------------
if $have_engine; then
    t=$(now); pulumi_run up up --stack local --state "$state"; up=$(ms "$t"); figure pulumi-up-fresh "$up"
    add "pulumi up, fresh state (preview + update, policy pack on)" "$up ms"
    add "  of which the engine's update (its Duration)" "$(engine_s up)"
    t=$(now); pulumi_run preview preview --stack local --state "$state"; d=$(ms "$t"); figure pulumi-preview-noop "$d"
    add "pulumi preview, no change (policy pack on): every PR's CI" "$d ms"
    t=$(now); pulumi_run preview-np preview --stack local --state "$state" --no-policy; add "pulumi preview, no change, --no-policy" "$(ms "$t") ms"
    t=$(now); pulumi_run noop up --stack local --state "$state"; d=$(ms "$t"); figure pulumi-up-noop "$d"
    add "pulumi up, no change (policy pack on)" "$d ms"
    add "  of which the engine's update (its Duration)" "$(engine_s noop)"
    t=$(now); pulumi_run destroy destroy --stack local --state "$state"; add "pulumi destroy" "$(ms "$t") ms"
    rm -rf "$state"

    # The README's main job, warm: the second of two runs (the first may compile the program or the pack).
    bash scripts/render.sh >"$work/render-1.log" 2>&1 || { echo "bench: bash scripts/render.sh failed:" >&2; tail -30 "$work/render-1.log" >&2; exit 1; }
    t=$(now); bash scripts/render.sh >"$work/render-2.log" 2>&1; d=$(ms "$t"); figure render-warm "$d"
    add "bash scripts/render.sh, warm (the README's main job)" "$d ms"

    # Where a warm run's wall time goes, each part alone.
    t=$(now); node -e 0; add "  parts: node start" "$(ms "$t") ms"
    t=$(now); node -r ts-node/register/transpile-only -e 'require("./program"); require("@pulumi/pulumi/automation")'
    add "  parts: node + loading the program and Pulumi SDKs (ts-node)" "$(ms "$t") ms"
    t=$(now); node -e 'require(require("./scripts/compiled.js").compiledPath("program.ts")); require("@pulumi/pulumi/automation")'
    add "  parts: node + loading them compiled (scripts/compiled.js: what the runner runs)" "$(ms "$t") ms"
    t=$(now); bash scripts/pulumi-engine.sh --env-lines >/dev/null; add "  parts: getting the engine (scripts/pulumi-engine.sh)" "$(ms "$t") ms"
    t=$(now); (cd policy && node -r ts-node/register -e 'require("./policies")'); add "  parts: policy pack load from source (ts-node with type-check)" "$(ms "$t") ms"
    t=$(now); (cd policy/bin && node -e 'require("./policies")'); add "  parts: policy pack load, compiled (policy/bin: what the runner loads)" "$(ms "$t") ms"
else
    add "pulumi up / preview" "not measured (no complete Pulumi engine: bash scripts/pulumi-engine.sh --check)"
fi

echo "objects: $objects (the local stack; its namespaces are the cluster's)"
printf '%s\n' "${rows[@]}"

mkdir -p .bench
{
    printf '# %s, %s CPUs, load %s\n' "$(date -u +%FT%TZ)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
    for name in kubectl-ssa-create kubectl-ssa-noop pulumi-up-fresh pulumi-preview-noop pulumi-up-noop render-warm; do
        [ -n "${figures[$name]:-}" ] && printf '%s\t%s\n' "$name" "${figures[$name]}"
    done
} >.bench/bench.tsv
echo "figures in .bench/bench.tsv; against issue 18's goals (measured side by side in this run):"
if [ -n "${figures[pulumi-preview-noop]:-}" ]; then
    row "  no-op pulumi preview / no-op kubectl apply --server-side (goal <= 3x)" "$(ratio pulumi-preview-noop kubectl-ssa-noop)"
    row "  fresh pulumi up / kubectl apply --server-side create (goal <= 5x)" "$(ratio pulumi-up-fresh kubectl-ssa-create)"
    row "  warm bash scripts/render.sh (goal <= 5 s)" "${figures[render-warm]} s"
else
    echo "  not measured: no complete Pulumi engine"
fi

if $readme; then
    [ -n "${figures[render-warm]:-}" ] || { echo "bench: --readme needs the pulumi figures (no complete Pulumi engine)" >&2; exit 1; }
    table=$work/readme-table
    {
        echo "Measured by \`bash scripts/bench.sh --readme\` on $(head -1 .bench/bench.tsv | sed 's/^# //') (.bench/bench.tsv):"
        echo ""
        echo "| what | seconds | against | goal |"
        echo "|---|---:|---:|---:|"
        echo "| \`kubectl apply --server-side\` of the local stack's $objects objects, create / no change | ${figures[kubectl-ssa-create]} / ${figures[kubectl-ssa-noop]} | | |"
        echo "| \`pulumi up\`, fresh state, policy pack on (preview, then update) | ${figures[pulumi-up-fresh]} | $(ratio pulumi-up-fresh kubectl-ssa-create) kubectl create | 5x |"
        echo "| \`pulumi preview\`, no change, policy pack on | ${figures[pulumi-preview-noop]} | $(ratio pulumi-preview-noop kubectl-ssa-noop) kubectl no change | 3x |"
        echo "| \`pulumi up\`, no change, policy pack on | ${figures[pulumi-up-noop]} | $(ratio pulumi-up-noop kubectl-ssa-noop) kubectl no change | |"
        echo "| \`bash scripts/render.sh\`, warm (the main job above) | ${figures[render-warm]} | | 5 s |"
    } >"$table"
    awk -v table="$table" '
        /^<!-- bench:end -->/ { while ((getline line < table) > 0) print line; print ""; skip = 0 }
        !skip { print }
        /^<!-- bench:begin / { print ""; skip = 1 }
    ' README.md >"$work/README.md"
    grep -q '^<!-- bench:begin ' README.md || { echo "bench: README.md has no <!-- bench:begin --> marker" >&2; exit 1; }
    cp "$work/README.md" README.md
    echo "bench: README.md's figures updated"
fi
if [ -f .bench/test-stages.tsv ]; then
    echo "the test command's stages, $(head -1 .bench/test-stages.tsv | sed 's/^# //'):"
    grep -v '^#' .bench/test-stages.tsv | while IFS=$'\t' read -r secs name; do row "  $name" "$secs s"; done
else
    echo "the test command's stages: not measured yet (run 'bash scripts/test.sh', or this bench with --test-stages)"
fi
