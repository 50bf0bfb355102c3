#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Fails the run before anything is deployed unless intercept-backend is telepresence or mirrord.
# (Tekton alone would skip both when-guarded deploy tasks and carry on.)
# Environment: INTERCEPT_BACKEND (the pipeline param intercept-backend).
set -euo pipefail
SCRIPTS_DIR="${SCRIPTS_DIR:-$(dirname "$0")}"
# shellcheck source=lib-common.sh
. "${SCRIPTS_DIR}/lib-common.sh"

backend="${INTERCEPT_BACKEND-}"
case "$backend" in
  telepresence | mirrord) log "intercept backend: ${backend}" ;;
  *) die "intercept-backend must be one of telepresence, mirrord; got \"${backend}\"" ;;
esac
