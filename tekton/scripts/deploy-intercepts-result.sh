#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Task deploy-intercepts-result: hands the deployed-pods of whichever deploy task ran (Telepresence or
# mirrord) to downstream tasks. Reads only this run's file, so a reused workspace can never hand over an
# older run's pods, and fails when neither deploy task wrote it.
# Environment: SHARED_WORKSPACE, RUN_ID, RESULT_PATH (the task result's path).
set -euo pipefail
SCRIPTS_DIR="${SCRIPTS_DIR:-$(dirname "$0")}"
# shellcheck source=lib-common.sh
. "${SCRIPTS_DIR}/lib-common.sh"
# shellcheck source=lib-intercept.sh
. "${SCRIPTS_DIR}/lib-intercept.sh"

require_env SHARED_WORKSPACE RUN_ID RESULT_PATH
validate_run_id "$RUN_ID"
file="$(run_dir)/deployed-pods.json"
[ -f "$file" ] ||
  die "no ${file}: neither deploy-intercepts-telepresence nor deploy-intercepts-mirrord wrote deployed-pods for run ${RUN_ID} (check intercept-backend and the deploy task's log)"
pods="$(jq -c . "$file" 2>/dev/null)" || die "${file} is not valid JSON"
jq -e 'type == "object" and all(.[]; type == "string")' >/dev/null <<<"$pods" ||
  die "${file} must be a JSON object mapping app -> PR pod name; got: ${pods:0:200}"
printf '%s' "$pods" >"$RESULT_PATH"
log "deployed-pods: ${pods}"
