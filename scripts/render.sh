#!/usr/bin/env bash
# The main job for a newcomer, no cluster needed: `pulumi up` of the no-cluster stack `render`
# (Pulumi.render.yaml) with the real Pulumi engine, whose kubernetes provider writes every manifest to the
# directory the stack's tekton-dag:renderYamlToDirectory names (.render/manifests) instead of applying it,
# with the policy pack when policy/ is installed; then a count of what it wrote, by kind.
#
#   bash scripts/render.sh                  stack render
#   bash scripts/render.sh --stack NAME     another stack whose Pulumi.NAME.yaml sets renderYamlToDirectory
#   bash scripts/render.sh --require-engine fail (exit 3) instead of falling back when the engine is
#                                           incomplete
#
# Where no complete engine can be had (scripts/pulumi-engine.sh exit 3: these machines reach no source of
# the kubernetes provider plugin or the Node.js language host; tools/pulumi-engine/README.md), it writes
# the program's objects as the test mocks see them (npm run manifests) and says so in every summary line.
#
# State: a fresh local file backend in .pulumi-state/<stack> each run (gitignored), so every object is
# created, and so written, again; the output directory is emptied first. Exit status: 0 rendered; 1 failed;
# 3 the engine is incomplete (the message names the missing plugin).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

log() { printf 'render: %s\n' "$*"; }
die() {
    printf 'render: error: %s\n' "$1" >&2
    exit "${2:-1}"
}

stack=render
allow_mocks=true
while [ $# -gt 0 ]; do
    case "$1" in
        --stack)
            [ $# -ge 2 ] || die "--stack needs a stack name"
            stack="$2"
            shift 2
            ;;
        --require-engine)
            allow_mocks=false
            shift
            ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *) die "unknown argument '$1' (allowed: --stack NAME, --require-engine, --help)" ;;
    esac
done

stack_file="Pulumi.$stack.yaml"
[ -f "$stack_file" ] || die "no $stack_file here; stacks: $(find . -maxdepth 1 -name 'Pulumi.*.yaml' | sed 's#^\./Pulumi\.\(.*\)\.yaml$#\1#' | sort | tr '\n' ' ')"

# shellcheck source=scripts/lib-setup.sh
. scripts/lib-setup.sh
ensure_node_modules .

# The output directory, from the stack file; it must lie inside the repository because it is emptied.
# shellcheck disable=SC2016 # JavaScript, not shell
outdir=$(node -e '
    const YAML = require("yaml");
    const doc = YAML.parse(require("fs").readFileSync(process.argv[1], "utf8")) || {};
    process.stdout.write(String((doc.config || {})["tekton-dag:renderYamlToDirectory"] || ""));
' "$stack_file")
[ -n "$outdir" ] || die "$stack_file sets no tekton-dag:renderYamlToDirectory, so its kubernetes provider would apply to a cluster; render.sh only runs no-cluster stacks"
outdir_abs=$(realpath -m "$outdir")
case "$outdir_abs" in
    "$repo"/?*) ;;
    *) die "tekton-dag:renderYamlToDirectory in $stack_file is '$outdir'; it must be a directory inside the repository (it is emptied before each render)" ;;
esac

# Prints what a render wrote: Kubernetes objects by kind, from every YAML document under the directory.
summary() {
    local how="$1"
    # shellcheck disable=SC2016 # JavaScript, not shell
    node -e '
        const fs = require("fs"), path = require("path"), YAML = require("yaml");
        const [dir, how] = process.argv.slice(1);
        const kinds = new Map();
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
                    }
                }
            }
        };
        walk(dir);
        if (objects === 0) { console.error(`render: error: no Kubernetes objects under ${dir}`); process.exit(1); }
        console.log(`render: ${objects} Kubernetes objects in ${files} files under ${dir} (${how})`);
        for (const [k, n] of [...kinds].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) {
            console.log(`${String(n).padStart(7)} ${k}`);
        }
    ' "$outdir" "$how"
}

# --- the engine ------------------------------------------------------------------------------------------
set +e
engine_env=$(bash scripts/pulumi-engine.sh --print-env)
engine_status=$?
set -e
if [ "$engine_status" -eq 3 ]; then
    if [ "$allow_mocks" = true ]; then
        log "no complete Pulumi engine here (see above); writing the objects as the program's test mocks register them instead"
        rm -rf "$outdir_abs"
        npm run -s manifests -- --stack "$stack" --out "$outdir" >/dev/null
        summary "MOCKS, not the Pulumi engine: npm run manifests -- --stack $stack"
        exit 0
    fi
    die "no complete Pulumi engine (see above); nothing rendered (without --require-engine the mocks' view is written instead)" 3
fi
[ "$engine_status" -eq 0 ] || die "could not provide the Pulumi engine (see above)"
eval "$engine_env"

# --- policy pack -----------------------------------------------------------------------------------------
policy_args=()
policy_note="policy pack: none (no policy/PulumiPolicy.yaml)"
if [ -f policy/PulumiPolicy.yaml ]; then
    [ -f policy/package.json ] && ensure_node_modules policy
    if [ -d policy/node_modules ]; then
        policy_args=(--policy-pack policy)
        [ -f "policy/config.$stack.json" ] && policy_args+=(--policy-pack-config "policy/config.$stack.json")
        policy_note="policy pack: policy/"
    else
        policy_note="policy pack: skipped (policy/node_modules missing)"
    fi
fi

# --- fresh local state, then pulumi up --------------------------------------------------------------------
state="$repo/.pulumi-state/$stack"
rm -rf "$state" "$outdir_abs"
mkdir -p "$state"
export PULUMI_BACKEND_URL="file://$state"
# The stack file's encryptionsalt belongs to this passphrase; the stack holds no secrets (render only).
export PULUMI_CONFIG_PASSPHRASE=tekton-dag-local-render-only
unset PULUMI_CONFIG_PASSPHRASE_FILE

log "pulumi $(pulumi version), stack $stack, state $state, $policy_note"
pulumi stack init "$stack" --non-interactive >/dev/null
start=$SECONDS
if ! pulumi up --stack "$stack" --yes --skip-preview --non-interactive --color never --suppress-progress \
    "${policy_args[@]}"; then
    die "pulumi up of stack $stack failed after $((SECONDS - start))s (output above); nothing trustworthy was written to $outdir"
fi
log "pulumi up took $((SECONDS - start))s"
[ -d "$outdir_abs" ] || die "pulumi up succeeded but wrote no $outdir; is the kubernetes provider given renderYamlToDirectory?"
summary "real Pulumi engine, stack $stack, $policy_note"
