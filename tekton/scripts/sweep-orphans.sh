#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The orphan sweeper (a CronJob in the pipelines namespace, ServiceAccount tekton-dag-pipeline): removes
# the intercept objects of runs that will not clean up after themselves, and logs what it removed:
#   - the PipelineRun no longer exists in PIPELINES_NAMESPACE;
#   - the PipelineRun has finished (its Succeeded condition is True or False, or it has a completionTime)
#     at least FINISHED_GRACE_SECONDS ago: a cancelled run may have skipped its finally cleanup;
#   - the run's oldest object is older than MAX_AGE_SECONDS (a run that hangs).
# Objects younger than MIN_AGE_SECONDS are never removed unless their run has finished. The objects are
# listed before the PipelineRuns, so a run created in between cannot look gone. A run's records in the
# shared intercept locks (lib-lock.sh) count as its objects and are removed with them. It deletes per run, by
# the run label tekton-dag.io/run=<uid> only, so it never touches another run's objects.
# Large lists never pass through here-strings or arguments (the CronJob's root filesystem is read-only,
# and bash needs a temp file for a here-string over 64 KiB): kubectl's JSON is piped into jq.
# Environment: TARGET_NAMESPACES (space-separated), PIPELINES_NAMESPACE, MAX_AGE_SECONDS; optional
# MIN_AGE_SECONDS (default 600), FINISHED_GRACE_SECONDS (default 120).
set -euo pipefail
set -o noglob # lists are split on spaces; never expand them as file patterns
SCRIPTS_DIR="${SCRIPTS_DIR:-$(dirname "$0")}"
# shellcheck source=lib-common.sh
. "${SCRIPTS_DIR}/lib-common.sh"
# shellcheck source=lib-intercept.sh
. "${SCRIPTS_DIR}/lib-intercept.sh"

require_env TARGET_NAMESPACES PIPELINES_NAMESPACE MAX_AGE_SECONDS
MIN_AGE_SECONDS="${MIN_AGE_SECONDS:-600}"
FINISHED_GRACE_SECONDS="${FINISHED_GRACE_SECONDS:-120}"
validate_dns_label "PIPELINES_NAMESPACE" "$PIPELINES_NAMESPACE"
# shellcheck disable=SC2153 # MAX_AGE_SECONDS comes from the CronJob's env, like the other two
validate_positive_int "MAX_AGE_SECONDS" "$MAX_AGE_SECONDS"
for var in MIN_AGE_SECONDS FINISHED_GRACE_SECONDS; do
  [[ "${!var}" =~ ^[0-9]{1,9}$ ]] || die "${var} must be a whole number of seconds; got \"${!var}\""
done
for ns in $TARGET_NAMESPACES; do validate_dns_label "target namespace" "$ns"; done

# RFC 3339 time -> epoch seconds; "-" for none. Fields are never empty ("-"), so tab-splitting keeps them.
JQ_DEFS='def epoch: if . == null or . == "" then "-" else (sub("\\.[0-9]+"; "") | fromdateiso8601 | tostring) end;
         def field: if . == null or . == "" then "-" else tostring end;'

# 1. The objects first: a run that exists when they are listed is still listed a moment later unless it
#    was deleted. One line per object: namespace, kind, name, run label, creation time (epoch).
objects=""
failed=""
for ns in $TARGET_NAMESPACES; do
  for kind in pods jobs.batch configmaps leases.coordination.k8s.io; do
    if ! lines="$(kubectl get "$kind" -n "$ns" -l "$RUN_LABEL" -o json |
      jq -r --arg ns "$ns" --arg kind "$kind" "${JQ_DEFS}"'
        .items[] | [$ns, $kind, .metadata.name, (.metadata.labels["tekton-dag.io/run"] | field),
                    (.metadata.creationTimestamp | epoch)] | @tsv')"; then
      failed+=" ${ns}/${kind}"
      continue
    fi
    [ -z "$lines" ] || objects+="${lines}"$'\n'
  done
  # The records in the shared intercept locks count as objects of their runs (created when recorded): a
  # run that died waiting or holding leaves one there, which would keep other runs out.
  if ! lines="$(lock_record_lines "$ns")"; then
    failed+=" ${ns}/intercept-locks"
    continue
  fi
  [ -z "$lines" ] || objects+="${lines}"$'\n'
done

# 2. Then the PipelineRuns: uid, Succeeded status (Unknown while running), when it finished (epoch or "-").
# If they cannot be listed, stop: an empty list would make every run look orphaned.
if ! runs="$(kubectl get pipelineruns.tekton.dev -n "$PIPELINES_NAMESPACE" -o json |
  jq -r "${JQ_DEFS}"'
    .items[] | ([.status.conditions[]? | select(.type == "Succeeded")][0]) as $c
    | [(.metadata.uid | field), ($c.status // "Unknown" | field),
       ((.status.completionTime // (if ($c.status // "Unknown") == "Unknown" then null else $c.lastTransitionTime end)) | epoch)]
    | @tsv')"; then
  die "cannot list PipelineRuns in ${PIPELINES_NAMESPACE} (or read the list); nothing removed"
fi
declare -A run_status=() run_finished=()
while IFS=$'\t' read -r uid status finished; do
  if [ -z "$uid" ] || [ "$uid" = "-" ]; then continue; fi
  run_status["$uid"]="$status"
  run_finished["$uid"]="$finished"
done < <(printf '%s\n' "$runs")

# 3. Per (namespace, run): its objects, the oldest and the newest creation time.
now="$(date +%s)"
declare -A oldest=() newest=() names=()
keys=()
while IFS=$'\t' read -r ns kind name run created; do
  [ -n "$ns" ] || continue
  [[ "$created" =~ ^[0-9]+$ ]] || created="$now"
  key="${ns} ${run}"
  if [ -z "${names[$key]+set}" ]; then
    keys+=("$key")
    names["$key"]=""
    oldest["$key"]="$created"
    newest["$key"]="$created"
  fi
  names["$key"]+=" ${kind}/${name}"
  [ "$created" -ge "${oldest[$key]}" ] || oldest["$key"]="$created"
  [ "$created" -le "${newest[$key]}" ] || newest["$key"]="$created"
done < <(printf '%s' "$objects")

# 4. One decision per (namespace, run).
removed=0
for key in "${keys[@]}"; do
  ns="${key%% *}"
  run="${key#* }"
  if ! [[ "$run" =~ $UID_RE ]]; then
    log "skipping objects in ${ns} with run label \"${run}\": not a PipelineRun uid:${names[$key]}"
    continue
  fi
  first="${oldest[$key]}"
  last="${newest[$key]}"
  young=$((now - last))
  reason=""
  if [ -n "${run_status[$run]+set}" ]; then
    status="${run_status[$run]}"
    finished="${run_finished[$run]}"
    if [ "$status" != "Unknown" ] || [ "$finished" != "-" ]; then
      # Finished: its finally cleanup has run or was skipped (a cancelled run skips it).
      [[ "$finished" =~ ^[0-9]+$ ]] || finished="$now"
      if [ $((now - finished)) -ge "$FINISHED_GRACE_SECONDS" ]; then
        reason="PipelineRun finished $((now - finished))s ago (Succeeded=${status}) and left them"
      else
        log "keeping run ${run} in ${ns}: its PipelineRun finished $((now - finished))s ago (grace ${FINISHED_GRACE_SECONDS}s)"
      fi
    elif [ $((now - first)) -gt "$MAX_AGE_SECONDS" ]; then
      reason="older than ${MAX_AGE_SECONDS}s"
    fi
  else
    reason="PipelineRun no longer exists"
  fi
  [ -n "$reason" ] || continue
  if [ "$young" -lt "$MIN_AGE_SECONDS" ] && [[ "$reason" != "PipelineRun finished"* ]]; then
    log "keeping run ${run} in ${ns} (${reason}): its newest object is ${young}s old, younger than MIN_AGE_SECONDS=${MIN_AGE_SECONDS}"
    continue
  fi
  log "removing run ${run} in ${ns} (${reason}):${names[$key]}"
  if delete_run_objects "$ns" "$run" </dev/null; then
    removed=$((removed + 1))
  else
    failed+=" ${ns}/${run}"
  fi
done
log "sweep done: ${removed} run(s) removed"
[ -z "$failed" ] || die "some lists or deletions failed:${failed}"
