#!/usr/bin/env bash
# Runs check_pr_pod_security (tekton/scripts/lib-pr-pod.sh) on every fixture of the document
# scripts/psa-fixtures.sh wrote (or a document of the same form), each in a subshell of its own: prints
# per fixture one line "<name>\t<exit status>\t<what the check wrote to stderr>" (die writes one line).
#   bash test/podsecurity/verdicts.sh FIXTURES_JSON
set -euo pipefail
SCRIPTS_DIR="$(cd "$(dirname "$0")/../../tekton/scripts" && pwd)"
# shellcheck source=tekton/scripts/lib-common.sh
. "${SCRIPTS_DIR}/lib-common.sh"
# shellcheck source=tekton/scripts/lib-intercept.sh
. "${SCRIPTS_DIR}/lib-intercept.sh"
doc="$1"
while IFS= read -r name && IFS= read -r deployment; do
  status=0
  message="$( (check_pr_pod_security staging psa-fixture "$deployment") 2>&1 >/dev/null)" || status=$?
  printf '%s\t%s\t%s\n' "$name" "$status" "${message//$'\n'/ }"
done < <(jq -r '.fixtures[] | .name, (.deployment | tojson)' "$doc")
