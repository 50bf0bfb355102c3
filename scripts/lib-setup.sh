#!/usr/bin/env bash
# Sourced by the developer entry points (render.sh, test.sh). Defines functions only.

# Installs a package folder's npm dependencies from its lockfile when node_modules is missing or older
# than the lockfile. npm 11 does not run dependency install scripts, and none are needed here.
ensure_node_modules() {
    local dir="$1"
    if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
        printf '==> npm ci in %s\n' "$dir"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
}

# Runs "$@" in the background and prints a line with the elapsed time every 30 s, so a long cold build is
# visibly alive. Its output is kept in a log and shown only on failure. Uses the caller's `log`.
#   with_progress WHAT LOGFILE command...
with_progress() {
    local what=$1 logf=$2
    shift 2
    local start=$SECONDS last=$SECONDS pid
    # A killed or interrupted build script takes the running go build with it. The traps are set before
    # the build starts: set after it, a signal in between would leave go running.
    _with_progress_pid=""
    trap 'kill $_with_progress_pid 2>/dev/null' EXIT
    trap 'kill $_with_progress_pid 2>/dev/null; exit 130' INT
    trap 'kill $_with_progress_pid 2>/dev/null; exit 143' TERM
    "$@" >"$logf" 2>&1 &
    _with_progress_pid=$!
    pid=$_with_progress_pid
    while kill -0 "$pid" 2>/dev/null; do
        # wait, unlike a sleep in the foreground, returns as soon as a trapped signal arrives.
        sleep 2 &
        wait $! || true
        if kill -0 "$pid" 2>/dev/null && [ $((SECONDS - last)) -ge 30 ]; then
            last=$SECONDS
            log "building $what ... $((SECONDS - start))s elapsed"
        fi
    done
    local status=0
    wait "$pid" || status=$?
    trap - EXIT INT TERM
    if [ "$status" -ne 0 ]; then
        log "FAILED to build $what after $((SECONDS - start))s; last lines of $logf:"
        tail -20 "$logf" >&2
        return 1
    fi
    log "built $what in $((SECONDS - start))s"
}
