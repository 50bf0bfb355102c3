#!/usr/bin/env bash
# Runs one optional pipeline hook: an executable script kept in the platform repo (the repo holding the
# stack files), named by a path relative to that repo. An empty path means "no hook": log it and succeed.
#
# Environment (from the run-hook task params):
#   HOOK_STAGE       pre-build | post-build | pre-test | post-test
#   HOOK_PATH        script path relative to the platform checkout; empty = no hook
#   PLATFORM_DIR     the platform checkout, relative to the shared workspace
#   SHARED_WORKSPACE, RUN_ID, RUN_NAME
#   APP, STACK_JSON (inline or @path), BUILT_IMAGES, DEPLOYED_PODS, INTERCEPT_HEADER_VALUE, DEFAULT_NAMESPACE
# The hook sees TEKTON_DAG_* variables (documented in docs/pipelines.md) and runs in the platform checkout.
# A hook that exits non-zero fails the task and so the run.
set -euo pipefail

SCRIPTS_DIR="${SCRIPTS_DIR:-$(dirname "$0")}"
# shellcheck source=lib-common.sh
. "${SCRIPTS_DIR}/lib-common.sh"

require_env HOOK_STAGE SHARED_WORKSPACE RUN_ID
case "$HOOK_STAGE" in
  pre-build|post-build|pre-test|post-test) ;;
  *) die "hook stage '${HOOK_STAGE}' is unknown (allowed: pre-build, post-build, pre-test, post-test)" ;;
esac

HOOK_PATH="${HOOK_PATH:-}"
if [ -z "$HOOK_PATH" ]; then
  log "no ${HOOK_STAGE} hook configured (param ${HOOK_STAGE}-hook is empty); skipping"
  exit 0
fi

require_env PLATFORM_DIR
for rel in "$PLATFORM_DIR" "$HOOK_PATH"; do
  case "$rel" in
    /*|..|../*|*/..|*/../*) die "'${rel}' (platform-dir or ${HOOK_STAGE}-hook) must be a relative path without '..'" ;;
  esac
done

platform="${SHARED_WORKSPACE}/${PLATFORM_DIR}"
[ -d "$platform" ] || die "platform checkout ${PLATFORM_DIR} does not exist in the shared workspace"
hook="${platform}/${HOOK_PATH}"
[ -f "$hook" ] || die "${HOOK_STAGE} hook '${HOOK_PATH}' does not exist in the platform repo checkout (${PLATFORM_DIR})"

dir="$(run_dir)"
mkdir -p "${dir}/hooks"
stack_file=""
if [ -n "${STACK_JSON:-}" ]; then
  stack_file="${dir}/hooks/${HOOK_STAGE}-stack.json"
  read_value "$STACK_JSON" > "$stack_file"
fi

export TEKTON_DAG_HOOK_STAGE="$HOOK_STAGE"
export TEKTON_DAG_RUN_ID="$RUN_ID"
export TEKTON_DAG_RUN_NAME="${RUN_NAME:-}"
export TEKTON_DAG_RUN_DIR="$dir"
export TEKTON_DAG_WORKSPACE="$SHARED_WORKSPACE"
export TEKTON_DAG_PLATFORM_DIR="$platform"
export TEKTON_DAG_APP="${APP:-}"
export TEKTON_DAG_APP_DIR="${APP:+${dir}/apps/${APP}}"
export TEKTON_DAG_STACK_JSON_FILE="$stack_file"
export TEKTON_DAG_BUILT_IMAGES="${BUILT_IMAGES:-}"
export TEKTON_DAG_DEPLOYED_PODS="${DEPLOYED_PODS:-}"
export TEKTON_DAG_INTERCEPT_HEADER="${INTERCEPT_HEADER_VALUE:-}"
export TEKTON_DAG_DEFAULT_NAMESPACE="${DEFAULT_NAMESPACE:-}"

log "running ${HOOK_STAGE} hook ${HOOK_PATH}"
cd "$platform"
status=0
if [ -x "$hook" ]; then
  "$hook" || status=$?
else
  bash "$hook" || status=$?
fi
[ "$status" -eq 0 ] || die "${HOOK_STAGE} hook '${HOOK_PATH}' failed with exit code ${status}"
log "${HOOK_STAGE} hook ${HOOK_PATH} succeeded"
