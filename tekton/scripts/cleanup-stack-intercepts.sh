#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Task cleanup-stack-intercepts (finally): removes exactly this run's intercept objects, found by the run
# label tekton-dag.io/run=<run-id> and nothing broader: proxy pods first (the Telepresence proxy ends its
# intercept on TERM; mirrord's agent loses its client), mirrord agent Jobs and pods, PR pods, ConfigMaps,
# then its records in the apps' intercept locks (other runs' records stay). Reads no task result, so it also runs when a deploy failed halfway. Idempotent.
# Environment: RUN_ID, TARGET_NAMESPACES (space-separated), DEFAULT_NAMESPACE.
set -euo pipefail
set -o noglob # lists are split on spaces; never expand them as file patterns
SCRIPTS_DIR="${SCRIPTS_DIR:-$(dirname "$0")}"
# shellcheck source=lib-common.sh
. "${SCRIPTS_DIR}/lib-common.sh"
# shellcheck source=lib-intercept.sh
. "${SCRIPTS_DIR}/lib-intercept.sh"

validate_run_id "${RUN_ID-}"
namespaces="$(printf '%s %s' "${TARGET_NAMESPACES:-}" "${DEFAULT_NAMESPACE:-}" | tr -s '[:space:]' '\n' | sed '/^$/d' | sort -u)"
[ -n "$namespaces" ] || die "no namespace to clean: set target-namespaces and/or default-namespace"
failed=""
for ns in $namespaces; do
  validate_dns_label "namespace" "$ns"
  log "removing objects labelled ${RUN_LABEL}=${RUN_ID} in ${ns}"
  delete_run_objects "$ns" "$RUN_ID" || failed+=" ${ns}"
done
[ -z "$failed" ] || die "some deletions failed in:${failed} (see above); the orphan sweeper retries later"
log "cleanup of run ${RUN_ID} done"
