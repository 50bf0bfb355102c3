#!/usr/bin/env bash
# The main job for a newcomer, no cluster needed: `up` of the no-cluster stack `render` (Pulumi.render.yaml)
# with the real Pulumi engine and the policy pack. The kubernetes provider writes every manifest to the
# directory the stack's tekton-dag:renderYamlToDirectory names (.render/manifests: 0-crd/, 1-manifest/)
# instead of applying it. The preview with the pack runs first, so a stack the pack rejects writes nothing.
# Ends with what was written, counted by kind, and where.
#
#   bash scripts/render.sh                  stack render
#   bash scripts/render.sh --stack NAME     another stack whose Pulumi.NAME.yaml sets renderYamlToDirectory
#   bash scripts/render.sh --mocks          NOT the engine: the objects as the program's test mocks register
#                                           them (npm run manifests), e.g. to read them without building it
#
# The engine comes from scripts/pulumi-engine.sh: an installed Pulumi v<@pulumi/pulumi> if there is one,
# else a build from the Go module proxy into ~/.cache/tekton-dag (the first run builds it, about 20-30
# minutes on 2 cores, printing progress; later runs reuse it). The run itself is scripts/pulumi-run.ts.
#
# State: a fresh local file backend in .pulumi-state/<stack> each run (gitignored), so every object is
# created, and so written, again; the output directory is emptied first. Exit status: 0 rendered; 1 failed
# (the policy pack rejected the stack, a config error, the engine could not be built); 2 bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

log() { printf 'render: %s\n' "$*"; }
die() {
    printf 'render: error: %s\n' "$1" >&2
    exit "${2:-1}"
}

stack=render
mocks=false
while [ $# -gt 0 ]; do
    case "$1" in
        --stack)
            [ $# -ge 2 ] || die "--stack needs a stack name" 2
            stack="$2"
            shift 2
            ;;
        --mocks)
            mocks=true
            shift
            ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *) die "unknown argument '$1' (allowed: --stack NAME, --mocks, --help)" 2 ;;
    esac
done

stack_file="Pulumi.$stack.yaml"
[ -f "$stack_file" ] || die "no $stack_file here; stacks: $(find . -maxdepth 1 -name 'Pulumi.*.yaml' | sed 's#^\./Pulumi\.\(.*\)\.yaml$#\1#' | sort | tr '\n' ' ')" 2

# shellcheck source=scripts/lib-setup.sh
. scripts/lib-setup.sh
ensure_node_modules .
[ "$mocks" = true ] || ensure_node_modules policy

# The output directory, from the stack file; it must lie inside the repository because it is emptied.
# shellcheck disable=SC2016 # JavaScript, not shell
outdir=$(node -e '
    const YAML = require("yaml");
    const doc = YAML.parse(require("fs").readFileSync(process.argv[1], "utf8")) || {};
    process.stdout.write(String((doc.config || {})["tekton-dag:renderYamlToDirectory"] || ""));
' "$stack_file")
[ -n "$outdir" ] || die "$stack_file sets no tekton-dag:renderYamlToDirectory, so its kubernetes provider would apply to a cluster; render.sh only runs no-cluster stacks (use scripts/pulumi-run.ts for the others)" 2
outdir_abs=$(realpath -m "$outdir")
case "$outdir_abs" in
    "$repo"/?*) ;;
    *) die "tekton-dag:renderYamlToDirectory in $stack_file is '$outdir'; it must be a directory inside the repository (it is emptied before each render)" 2 ;;
esac
# One run per stack: the output directory and (through --fresh) .pulumi-state/<stack> are emptied, which
# would wreck a concurrent run's. The lock format is scripts/runner/stackLock.ts's; pulumi-run accepts it as
# ours because this script is its ancestor.
mkdir -p .pulumi-state
lock=".pulumi-state/$stack.lock"
take_lock() {
    (
        set -o noclobber
        printf 'pid %s\nsince %s\ncommand %s\n' "$$" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "render.sh --stack $stack" >"$lock"
    ) 2>/dev/null
}
if ! take_lock; then
    holder=$(sed -n 's/^pid //p' "$lock" 2>/dev/null || true)
    if [ -n "$holder" ] && kill -0 "$holder" 2>/dev/null; then
        die "stack $stack is in use by another run: pid $holder since $(sed -n 's/^since //p' "$lock") ($(sed -n 's/^command //p' "$lock")); wait for it to finish, or stop it (its lock is $lock)"
    fi
    rm -f "$lock" # its holder is gone
    take_lock || die "could not take the lock $lock for stack $stack; another run keeps taking it"
fi
trap 'rm -f "$lock"' EXIT

rm -rf "$outdir_abs"

start=$SECONDS
if [ "$mocks" = true ]; then
    npm run -s manifests -- --stack "$stack" --out "$outdir" >/dev/null
    how="MOCKS, not the Pulumi engine (--mocks): npm run manifests -- --stack $stack"
else
    if ! node scripts/compiled.js scripts/pulumi-run.ts up --stack "$stack" --fresh; then
        [ -e "$outdir_abs" ] && die "the run failed after $((SECONDS - start))s (output above), and $outdir holds what was written before it failed"
        die "the run failed after $((SECONDS - start))s (output above); nothing was written to $outdir"
    fi
    [ -d "$outdir_abs" ] || die "the run succeeded but wrote no $outdir; is the kubernetes provider given renderYamlToDirectory?"
    how="real Pulumi engine with the policy pack, stack $stack"
fi

# What was written: Kubernetes objects by kind, from every YAML document under the directory.
# shellcheck disable=SC2016 # JavaScript, not shell
node -e '
    const fs = require("fs"), path = require("path"), YAML = require("yaml");
    const [dir, shown, how, secs] = process.argv.slice(1);
    const kinds = new Map(), folders = new Map();
    let files = 0, objects = 0;
    const walk = (d) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
            const p = path.join(d, e.name);
            if (e.isDirectory()) walk(p);
            else if (/\.ya?ml$/.test(e.name)) {
                files++;
                for (const doc of YAML.parseAllDocuments(fs.readFileSync(p, "utf8"))) {
                    const o = doc.toJS();
                    if (!o || typeof o !== "object" || !o.kind) continue;
                    objects++;
                    kinds.set(o.kind, (kinds.get(o.kind) || 0) + 1);
                    const folder = path.relative(dir, path.dirname(p)) || ".";
                    folders.set(folder, (folders.get(folder) || 0) + 1);
                }
            }
        }
    };
    walk(dir);
    if (objects === 0) { console.error(`render: error: no Kubernetes objects under ${shown}`); process.exit(1); }
    console.log(`render: ${objects} Kubernetes objects in ${files} files under ${shown}/ in ${secs}s (${how})`);
    for (const [k, n] of [...kinds].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) {
        console.log(`${String(n).padStart(7)} ${k}`);
    }
    console.log(`render: by folder: ${[...folders].sort().map(([f, n]) => `${shown}/${f}/ ${n}`).join(", ")}`);
' "$outdir_abs" "$outdir" "$how" "$((SECONDS - start))"
