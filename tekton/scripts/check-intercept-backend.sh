#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Fails the run before anything is deployed unless intercepts are enabled in this environment and
# intercept-backend is telepresence or mirrord. (Tekton alone would skip both when-guarded deploy tasks
# and carry on.)
# Environment: INTERCEPTS_ENABLED (param intercepts-enabled, "true" or "false"; the program sets its
# default from tekton-dag:enableIntercepts), INTERCEPT_BACKEND (param intercept-backend).
set -euo pipefail
SCRIPTS_DIR="${SCRIPTS_DIR:-$(dirname "$0")}"
# shellcheck source=lib-common.sh
. "${SCRIPTS_DIR}/lib-common.sh"

enabled="${INTERCEPTS_ENABLED-true}"
case "$enabled" in
  true) ;;
  false) die "intercepts are disabled in this environment (tekton-dag:enableIntercepts is false); no intercept backend can run here" ;;
  *) die "intercepts-enabled must be true or false; got \"${enabled}\"" ;;
esac

backend="${INTERCEPT_BACKEND-}"
case "$backend" in
  telepresence | mirrord) log "intercept backend: ${backend}" ;;
  # The stack config allows only these, so a webhook run can only have got another value from its PR's label.
  *) die "intercept-backend must be one of telepresence, mirrord; got \"${backend}\" (a webhook run takes it from the PR's intercept label when there is one: docs/intercept-backends.md)" ;;
esac
