#!/usr/bin/env bash
# The project's test command (README, CI): installs what the tests need, then runs every check.
#   bash scripts/test.sh            everything
#   bash scripts/test.sh --quick    skip the slow stages that build Go tools (Tekton validator, Pulumi engine,
#                                   the Pod Security fixtures, the local control plane of the real-API tests,
#                                   Tekton's controllers)
# The engine and API-server stages are pass/fail: the first run builds the engine (~30 min) and the control
# plane (~10-20 min) into ~/.cache/tekton-dag, in the background while mocha runs; later runs reuse them.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=false
[ "${1:-}" = "--quick" ] && quick=true

passed=0
failed=0
skipped=0
# Each stage's wall time, printed as a table at the end and kept in .bench/test-stages.tsv for
# scripts/bench.sh (the benchmark reports the test command's stages from its last run).
timings=()
stage_name=""
stage_t0=0
# Lines about parts of the current stage (parts that ran side by side), listed after it.
stage_parts=()
end_stage() {
    if [ -n "$stage_name" ]; then timings+=("$(printf '%s\t%s' "$((SECONDS - stage_t0))" "$stage_name")" ${stage_parts[@]+"${stage_parts[@]}"}); fi
    stage_name=""
    stage_parts=()
}
# Records part $2 of the current stage as taking $1 seconds.
stage_part() { stage_parts+=("$(printf '%s\t  of which %s' "$1" "$2")"); }
stage() { end_stage; stage_name=$1; stage_t0=$SECONDS; printf '\n==> %s\n' "$*"; }
run_t0=$SECONDS

# shellcheck source=scripts/lib-setup.sh
. scripts/lib-setup.sh
stage "node modules (npm ci where missing or stale)"
ensure_node_modules .
[ -f policy/package.json ] && ensure_node_modules policy

stage "typecheck (tsc --noEmit)"
npx --no-install tsc --noEmit -p tsconfig.json

# The Go tools of the later stages (the Pulumi engine, the control plane) build in the background while
# mocha runs: a cold build takes most of an hour on two cores, and mocha leaves a core idle most of the
# time. Warm, each is a check of a few seconds. Each runs in its own session so that an early end of this
# script (a failing stage, ^C) stops the builds and their go processes too.
# Runs "$@" in the background (redirections of the call apply), in a session of its own where setsid exists,
# so that stop_tree stops it with every process it started; its pid is in bg_pid. A background job of this
# (non-interactive) shell is no group leader, so setsid makes it the leader of a new session in place: its pid
# is the group to stop. --wait keeps the exit status if it forked.
in_background() {
    if command -v setsid >/dev/null 2>&1; then setsid --wait "$@" & else "$@" & fi
    bg_pid=$!
}
stop_tree() { kill -TERM -- "-$1" 2>/dev/null || kill -TERM "$1" 2>/dev/null || true; }
declare -A build_pid=()
stop_builds() {
    local pid
    for pid in "${build_pid[@]}"; do stop_tree "$pid"; done
}
start_build() {
    mkdir -p .bench
    in_background bash "scripts/$1.sh" >/dev/null 2>".bench/$1.log"
    build_pid[$1]=$bg_pid
    printf '(building or checking in the background: scripts/%s.sh, progress in .bench/%s.log)\n' "$1" "$1"
}
# Waits for a background build and shows its progress lines; its exit status is the build's.
finish_build() {
    local status=0
    wait "${build_pid[$1]}" || status=$?
    unset "build_pid[$1]"
    cat ".bench/$1.log" >&2
    return "$status"
}
if [ "$quick" = false ]; then
    trap stop_builds EXIT
    start_build pulumi-engine
    start_build cluster-build
    start_build tekton-build
fi

count() { { grep -oE "[0-9]+ $1" "$2" || echo 0; } | tail -1 | grep -oE '^[0-9]+'; }
# Runs one mocha suite (its arguments: e.g. --config FILE) and adds its counts to the summary; a mocha that
# failed without reporting a failing test (a crash, a hook) counts as one failure.
run_mocha() {
    local log status
    log=$(mktemp)
    set +e
    npx --no-install mocha "$@" --no-color 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    set -e
    count_mocha_log "$log" "$status" "mocha $*"
    rm -f "$log"
}
# Adds the counts of mocha's report $1 (exit status $2, command $3) to the summary.
count_mocha_log() {
    local log=$1 status=$2 suite_failed
    suite_failed=$(count failing "$log")
    if [ "$status" -ne 0 ] && [ "$suite_failed" -eq 0 ]; then
        # Said in the log: otherwise the summary's one failure names nothing to look for.
        echo "test.sh: $3 exited with status $status without reporting a failing test (a crash after its last test, or a hook): counted as one failure" >&2
        suite_failed=1
    fi
    passed=$((passed + $(count passing "$log")))
    failed=$((failed + suite_failed))
    skipped=$((skipped + $(count pending "$log")))
}

stage "mocha: resource graph, task scripts, pipelines, policy pack"
run_mocha

if [ "$quick" = false ] && [ "$failed" -eq 0 ]; then
    stage "Pod Security Standards: the PR pod's check on k8s.io/pod-security-admission's own fixtures (scripts/psa-fixtures.sh builds tools/psa-fixtures)"
    if bash scripts/psa-fixtures.sh >/dev/null; then
        run_mocha --config test/podsecurity/mocharc.yml
    else
        failed=$((failed + 1))
    fi
    stage "Tekton validation and shellcheck over the rendered objects"
    if bash scripts/check-tekton.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    stage "real Pulumi engine: CLI, kubernetes provider, policy analyzer (scripts/pulumi-engine.sh; the first run builds them)"
    if finish_build pulumi-engine; then
        passed=$((passed + 1))
        stage "real Pulumi engine: render up with the policy pack, production stack rejected by it, prebuilt stack preview, engine = mocks"
        run_mocha --config test/engine/mocharc.yml
    else
        failed=$((failed + 1))
    fi
fi

# The real-API tier (test/cluster, in two parts) and the Tekton tier (test/tekton) run side by side, each
# part on a local control plane of its own (state dirs .cluster, .cluster-intercepts, .cluster-tekton):
# each part waits a good share of its time (on leases, watches, Tekton's reconciles), so together they keep
# two cores busier than one after the other, and none sees another's objects.
cluster_dir=${TEKTON_DAG_CLUSTER_DIR:-$PWD/.cluster}
cluster_dir=${cluster_dir%/}
declare -A part_dir=([others]=$cluster_dir [intercepts]=$cluster_dir-intercepts [tekton]=$cluster_dir-tekton)
declare -A part_pid=()
# On an early end of this script: the parts' mocha runs, then their control planes.
stop_all_quietly() {
    local pid dir
    for pid in "${part_pid[@]}"; do stop_tree "$pid"; done
    for dir in "${part_dir[@]}"; do TEKTON_DAG_CLUSTER_DIR=$dir bash scripts/cluster.sh stop >/dev/null 2>&1 || true; done
}
# Starts part $1's mocha (the rest of the arguments) in the background against its control plane; its report
# goes to .bench/test-$1.log, whose last line is its wall time ("test.sh: N s").
start_part() {
    local part=$1 tests=""
    shift
    # Which part of test/cluster (its .mocharc.js reads it); test/tekton has no parts.
    [ "$part" = tekton ] || tests=$part
    # shellcheck disable=SC2016 # expanded by the inner bash
    TEKTON_DAG_CLUSTER_DIR=${part_dir[$part]} TEKTON_DAG_CLUSTER_TESTS=$tests in_background bash -c \
        'status=0; npx --no-install mocha "$@" --no-color || status=$?; echo "test.sh: $SECONDS s"; exit "$status"' \
        "$part" "$@" >".bench/test-$part.log" 2>&1
    part_pid[$part]=$bg_pid
    echo "(test part '$part' runs in the background: live in .bench/test-$part.log; its report follows when it is done)"
}
# Waits for part $1 ($2: what it runs), prints its report and adds its counts and wall time.
finish_part() {
    local part=$1 status=0 log=".bench/test-$1.log"
    wait "${part_pid[$part]}" || status=$?
    unset "part_pid[$part]"
    printf '\n==> %s (it ran side by side with the other parts)\n' "$2"
    cat "$log"
    count_mocha_log "$log" "$status" "mocha ($2)"
    stage_part "$(sed -n 's/^test\.sh: \([0-9]*\) s$/\1/p' "$log" | tail -1)" "$2"
}
if [ "$quick" = false ] && [ "$failed" -eq 0 ]; then
    stage "real API server and Tekton's controllers: their binaries (scripts/cluster-build.sh, scripts/tekton-build.sh; the first run builds them)"
    # Pass or fail, never skipped: the tests fail naming what is missing when the cluster is not up.
    trap 'stop_builds; stop_all_quietly' EXIT
    cluster_built=true tekton_built=true
    finish_build cluster-build || { cluster_built=false tekton_built=false; failed=$((failed + 1)); }
    finish_build tekton-build || { tekton_built=false; failed=$((failed + 1)); }
    if [ "$cluster_built" = true ]; then
        stage "real API server and Tekton's controllers: start three local control planes (two for test/cluster's parts; test/tekton's with the pipelines and triggers controllers)"
        # One after the other: each picks free ports, which the ones before must already hold.
        declare -A up=()
        for part in others intercepts; do
            if TEKTON_DAG_CLUSTER_DIR=${part_dir[$part]} bash scripts/cluster.sh start >/dev/null; then up[$part]=1; else failed=$((failed + 1)); fi
        done
        if [ "$tekton_built" = true ]; then
            if TEKTON_DAG_CLUSTER_DIR=${part_dir[tekton]} bash scripts/cluster.sh start >/dev/null &&
                TEKTON_DAG_CLUSTER_DIR=${part_dir[tekton]} bash scripts/cluster.sh tekton-start; then
                up[tekton]=1
            else
                failed=$((failed + 1))
            fi
        fi
        stage "real API server: test/cluster (pulumi up, task scripts as their ServiceAccounts, RBAC, isolation, soak), with Tekton's own controllers: test/tekton (PipelineRuns reconciled by Tekton; what is simulated is in each test's name) side by side"
        mkdir -p .bench
        if [ -n "${up[tekton]:-}" ]; then start_part tekton --config test/tekton/.mocharc.yml; fi
        if [ -n "${up[intercepts]:-}" ]; then start_part intercepts --config test/cluster/.mocharc.js; fi
        # The third part in the foreground: its report shows as it runs.
        if [ -n "${up[others]:-}" ]; then
            t0=$SECONDS
            TEKTON_DAG_CLUSTER_DIR=${part_dir[others]} TEKTON_DAG_CLUSTER_TESTS=others run_mocha --config test/cluster/.mocharc.js
            stage_part "$((SECONDS - t0))" "test/cluster but its intercepts/"
        fi
        if [ -n "${up[intercepts]:-}" ]; then finish_part intercepts "test/cluster/intercepts"; fi
        if [ -n "${up[tekton]:-}" ]; then finish_part tekton "test/tekton"; fi
        stage "real API server and Tekton's controllers: stop the local control planes"
        # Side by side: each waits seconds on its processes' ends, and none needs another.
        declare -A stop_pid=()
        for part in others intercepts tekton; do
            TEKTON_DAG_CLUSTER_DIR=${part_dir[$part]} bash scripts/cluster.sh stop &
            stop_pid[$part]=$!
        done
        for part in others intercepts tekton; do
            wait "${stop_pid[$part]}" || { echo "test.sh: scripts/cluster.sh stop (${part_dir[$part]}) failed: counted as one failure" >&2; failed=$((failed + 1)); }
        done
    fi
    trap stop_builds EXIT
fi

end_stage
mkdir -p .bench
{
    printf '# scripts/test.sh%s at %s, commit %s, %s CPUs\n' "$([ "$quick" = true ] && echo ' --quick')" \
        "$(date -u +%FT%TZ)" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$(nproc)"
    printf '%s\n' "${timings[@]}"
    printf '%s\t%s\n' "$((SECONDS - run_t0))" "total"
} >.bench/test-stages.tsv
printf '\nstage wall times (s):\n'
grep -v '^#' .bench/test-stages.tsv | awk -F'\t' '{ printf "  %6d  %s\n", $1, $2 }'
printf '\nsummary: %d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
[ "$failed" -eq 0 ]
