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
