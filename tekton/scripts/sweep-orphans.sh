#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The orphan sweeper (a CronJob in the pipelines namespace, ServiceAccount tekton-dag-pipeline): removes
# intercept objects of runs whose PipelineRun no longer exists in PIPELINES_NAMESPACE, or whose objects
# are older than MAX_AGE_SECONDS, and logs what it removed. It deletes per run, by the run label
# tekton-dag.io/run=<uid> only, so it never touches another run's objects.
# Environment: TARGET_NAMESPACES (space-separated), PIPELINES_NAMESPACE, MAX_AGE_SECONDS.
set -euo pipefail
set -o noglob # lists are split on spaces; never expand them as file patterns
SCRIPTS_DIR="${SCRIPTS_DIR:-$(dirname "$0")}"
# shellcheck source=lib-common.sh
. "${SCRIPTS_DIR}/lib-common.sh"
# shellcheck source=lib-intercept.sh
. "${SCRIPTS_DIR}/lib-intercept.sh"

require_env TARGET_NAMESPACES PIPELINES_NAMESPACE MAX_AGE_SECONDS
validate_dns_label "PIPELINES_NAMESPACE" "$PIPELINES_NAMESPACE"
validate_positive_int "MAX_AGE_SECONDS" "$MAX_AGE_SECONDS"

# If the PipelineRuns cannot be listed, stop: an empty list would make every run look orphaned.
if ! runs="$(kubectl get pipelineruns.tekton.dev -n "$PIPELINES_NAMESPACE" -o json)"; then
  die "cannot list PipelineRuns in ${PIPELINES_NAMESPACE}; nothing removed"
fi
live="$(jq -c '[.items[].metadata.uid]' <<<"$runs")" || die "unexpected PipelineRun list from ${PIPELINES_NAMESPACE}; nothing removed"
now="$(date +%s)"
removed=0
failed=""
for ns in $TARGET_NAMESPACES; do
  validate_dns_label "target namespace" "$ns"
  objects='[]'
  for kind in pods jobs.batch configmaps leases.coordination.k8s.io; do
    if ! list="$(kubectl get "$kind" -n "$ns" -l "$RUN_LABEL" -o json)"; then
      failed+=" ${ns}/${kind}"
      continue
    fi
    objects="$(jq -c --arg kind "$kind" --argjson acc "$objects" \
      '$acc + [.items[] | {kind: $kind, name: .metadata.name, run: .metadata.labels["tekton-dag.io/run"],
                            created: .metadata.creationTimestamp}]' <<<"$list")"
  done
  # One decision per run: gone, or any of its objects older than MAX_AGE_SECONDS.
  while IFS=$'\t' read -r run reason; do
    [ -n "$run" ] || continue
    if ! [[ "$run" =~ $UID_RE ]]; then
      log "skipping objects in ${ns} with run label \"${run}\": not a PipelineRun uid"
      continue
    fi
    log "removing run ${run} in ${ns} (${reason}): $(jq -r --arg r "$run" '[.[] | select(.run == $r) | "\(.kind)/\(.name)"] | join(" ")' <<<"$objects")"
    if delete_run_objects "$ns" "$run" </dev/null; then
      removed=$((removed + 1))
    else
      failed+=" ${ns}/${run}"
    fi
  done < <(jq -r --argjson live "$live" --argjson now "$now" --argjson max "$MAX_AGE_SECONDS" '
    group_by(.run)[]
    | .[0].run as $run
    | ([.[].created | fromdateiso8601] | min) as $oldest
    | if ($live | index($run)) == null then [$run, "PipelineRun no longer exists"]
      elif ($now - $oldest) > $max then [$run, "older than \($max)s"]
      else empty end
    | @tsv' <<<"$objects")
done
log "sweep done: ${removed} run(s) removed"
[ -z "$failed" ] || die "some lists or deletions failed:${failed}"
