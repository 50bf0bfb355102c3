#!/usr/bin/env bash
# Builds tools/psa-fixtures (Go, against k8s.io/pod-security-admission from the Go module proxy) and runs it
# on that module's own test fixtures: every pod of test/testdata as a Deployment, with the module's baseline
# verdict. test/podsecurity runs the PR pod's check on each. Prints the path of the JSON document on stdout;
# progress goes to stderr.
#
#   bash scripts/psa-fixtures.sh           build what is missing or stale, print the document's path
#   bash scripts/psa-fixtures.sh --check   print the path if it is built, else exit 3
#
# The binary is built by scripts/go-tool.sh (cached by the hash of its sources); its document is written
# next to it once, as <binary>.json. Cold: about 2 minutes on 2 idle cores.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
src="$repo/tools/psa-fixtures"
check_only=false
case "${1:-}" in
    "") ;;
    --check) check_only=true ;;
    *) echo "psa-fixtures: unknown argument '$1' (allowed: --check)" >&2; exit 2 ;;
esac

log() { printf 'psa-fixtures: %s\n' "$*" >&2; }

bin=$(bash "$repo/scripts/go-tool.sh" --path psa-fixtures)
doc="$bin.json"
if [ -s "$doc" ]; then
    echo "$doc"
    exit 0
fi
if [ "$check_only" = true ]; then
    log "not built: $doc"
    exit 3
fi
bin=$(bash "$repo/scripts/go-tool.sh" psa-fixtures)

# The fixtures are read from the module the binary was built with (the tool refuses another version's).
testdata="$(cd "$src" && GOTOOLCHAIN=local go list -m -f '{{.Dir}}' k8s.io/pod-security-admission)/test/testdata"
"$bin" "$testdata" >"$doc.tmp.$$" || { rm -f "$doc.tmp.$$"; log "psa-fixtures failed on $testdata"; exit 1; }
mv -f "$doc.tmp.$$" "$doc"
log "$(jq -r '"\(.fixtures | length) distinct fixture pods of \(.module), \([.fixtures[] | select(.allowed | not)] | length) refused at baseline \(.policyVersion)"' "$doc")"
echo "$doc"
