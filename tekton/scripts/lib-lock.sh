#!/usr/bin/env bash
# The per-app intercept lock (docs/intercept-lock.md), sourced by lib-intercept.sh; defines functions only.
# One Lease per (namespace, app), tekton-dag-intercept-<app>, lists the runs that hold or wait for the app in
# its annotation tekton-dag.io/holders, a JSON array in arrival order:
#   {"run": uid, "pipelineRun": name, "header": "<name>: <value>", "backend": "telepresence"|"mirrord",
#    "mode": "shared"|"exclusive", "state": "holding"|"waiting", "since": epoch seconds}
# Every change is a read, a decision and a `kubectl replace` carrying the resourceVersion that was read: the
# API server refuses it (409 Conflict) if anyone changed the Lease in between, and the decision is made again.
# So each decision sees every holder and waiter, and no two runs can both believe they hold what conflicts.
# Rules: two records are compatible when both are shared and their headers differ. A run takes the lock when
# it is compatible with every holder and with every waiter ahead of it; otherwise it queues as a waiter. So a
# waiting exclusive run keeps later shared runs out (no starvation), and runs of one header take turns.
# The Lease carries no run label: it is shared. A run's records go when its cleanup or the orphan sweeper
# removes the run (release_run_locks). A Lease of the earlier one-holder design (run label, no annotation)
# counts as an exclusive holder of that run until its run's cleanup or the sweeper deletes it.

LOCK_ROLE=intercept-lock
HOLDERS_ANNOTATION=tekton-dag.io/holders

lease_name() {
  printf 'tekton-dag-intercept-%s' "$1"
}

# The records of a Lease (its JSON on stdin), as a JSON array; a one-holder Lease of the earlier design is
# its run as an exclusive holder.
# shellcheck disable=SC2016 # jq's own $variables
LOCK_JQ_DEFS='
def records:
  if . == null then []
  elif (.metadata.annotations // {}) | has("tekton-dag.io/holders") then
    (.metadata.annotations["tekton-dag.io/holders"] | try fromjson catch []) | if type == "array" then . else [] end
  elif .metadata.labels["tekton-dag.io/run"] then
    [{run: .metadata.labels["tekton-dag.io/run"], pipelineRun: (.metadata.labels["tekton-dag.io/pipeline-run"] // .metadata.annotations["tekton-dag.io/pipeline-run"] // "unknown"),
      header: "unknown", backend: "unknown", mode: "exclusive", state: "holding", since: 0, legacy: true}]
  else [] end;
def compatible($a; $b): $a.mode == "shared" and $b.mode == "shared" and $a.header != $b.header;
def describe: "PipelineRun \(.pipelineRun) (run \(.run), header \(.header), \(.backend), \(.mode)\(if .state == "waiting" then ", waiting" else "" end))";
def rv: if . == null then "" else .metadata.resourceVersion // "" end;
def printable: explode | map(if . < 32 or . == 127 then 63 else . end) | implode;
'

# The lock Lease with the given records (JSON array), to create or to replace (resourceVersion from $rv).
lock_manifest() {
  local ns="$1" app="$2" records="$3" rv="${4:-}"
  jq -n --arg name "$(lease_name "$app")" --arg ns "$ns" --arg app "$app" --arg role "$LOCK_ROLE" \
    --arg key "$HOLDERS_ANNOTATION" --argjson records "$records" --arg rv "$rv" '{
    apiVersion: "coordination.k8s.io/v1", kind: "Lease",
    metadata: ({name: $name, namespace: $ns,
      labels: {"app.kubernetes.io/part-of": "tekton-dag", "app.kubernetes.io/managed-by": "tekton-dag-pipeline",
               "tekton-dag.io/app": $app, "tekton-dag.io/role": $role},
      annotations: {($key): ($records | tojson)}} + (if $rv == "" then {} else {resourceVersion: $rv} end)),
    # What kubectl get lease shows: who holds it now.
    spec: ({} + ([$records[] | select(.state == "holding") | .run] | if length > 0 then {holderIdentity: join(",")} else {} end))
  }'
}

# Writes the Lease: creates it (rv empty) or replaces it at resourceVersion rv. Returns 0 when written, 2 when
# someone else wrote first (409/AlreadyExists: read and decide again); dies on anything else.
write_lock() {
  local ns="$1" app="$2" records="$3" rv="$4" out
  if [ -z "$rv" ]; then
    out="$(lock_manifest "$ns" "$app" "$records" | kubectl create -f - 2>&1)" && return 0
  else
    out="$(lock_manifest "$ns" "$app" "$records" "$rv" | kubectl replace -f - 2>&1)" && return 0
  fi
  case "$out" in
    *AlreadyExists* | *"already exists"* | *Conflict* | *"has been modified"* | *NotFound* | *"not found"*) return 2 ;;
  esac
  die "could not write the intercept lock ${ns}/$(lease_name "$app") of app ${app}: ${out}"
}

# Reads the Lease into LOCK_JSON ("null" when there is none); the jq that decides on it reads its
# resourceVersion too (def rv).
read_lock() {
  local ns="$1" app="$2" out
  if out="$(kubectl get lease "$(lease_name "$app")" -n "$ns" -o json 2>&1)"; then
    LOCK_JSON="$out"
    return 0
  fi
  case "$out" in
    *NotFound* | *"not found"*) LOCK_JSON=null ;;
    *) die "could not read the intercept lock ${ns}/$(lease_name "$app"): ${out}" ;;
  esac
}

# This run's record (mode shared or exclusive). Uses RUN_ID, RUN_NAME, HEADER_NAME, HEADER_VALUE, LOCK_BACKEND.
my_record() {
  jq -nc --arg run "$RUN_ID" --arg name "$RUN_NAME" --arg header "${HEADER_NAME,,}: ${HEADER_VALUE}" \
    --arg backend "$LOCK_BACKEND" --arg mode "$1" --argjson now "$(date +%s)" \
    '{run: $run, pipelineRun: $name, header: $header, backend: $backend, mode: $mode, state: "waiting", since: $now}'
}

# Takes the app's lock in mode shared or exclusive; waits at most LEASE_WAIT_SECONDS, logging whom it waits
# for. A retried task finds its own record: holding counts as taken, waiting goes on waiting in its place.
acquire_lease() {
  local ns="$1" app="$2" lock_mode="$3" name me deadline verdict rv records blockers holders left status
  local -a decision
  name="$(lease_name "$app")"
  deadline=$(($(date +%s) + LEASE_WAIT_SECONDS))
  me="$(my_record "$lock_mode")"
  while true; do
    read_lock "$ns" "$app"
    # One jq per pass (a waiting run passes again and again): the verdict, resourceVersion, new records (JSON;
    # take and queue), blockers, holders.
    # verdict: held (already ours), take, queue (add our waiting record), wait (already queued) or legacy.
    # shellcheck disable=SC2016 # a jq program: its $names are jq's
    jq_fields decision "$LOCK_JSON" "could not decide on the intercept lock ${ns}/${name} from the Lease read" "${LOCK_JQ_DEFS}"'
      rv as $rv
      | records as $all
      | ([$all[] | .run] | index($me.run)) as $pos
      | ($all | map(select(.run != $me.run))) as $others
      | (if $pos == null then $others else [$all[:$pos][] | select(.run != $me.run)] end) as $ahead
      | ([$others[] | select(.state == "holding")] + [$ahead[] | select(.state == "waiting")]
         | unique_by(.run) | map(select(compatible(.; $me) | not))) as $blockers
      | (if $pos == null then null else $all[$pos] end) as $mine
      | if $mine != null and $mine.state == "holding" then {verdict: "held"}
        elif ($blockers | length) == 0 then
          ($me + {state: "holding", since: (now | floor)}) as $held
          | {verdict: "take", records: (if $pos == null then $all + [$held] else $all | .[$pos] = $held end)}
        elif $mine == null and any($all[]; .legacy) then {verdict: "legacy", blockers: ($blockers | map(describe))}
        elif $mine == null then {verdict: "queue", records: ($all + [$me]), blockers: ($blockers | map(describe))}
        else {verdict: "wait", blockers: ($blockers | map(describe))} end
      | [.verdict, $rv, (.records | if . == null then "" else tojson end), (.blockers // [] | join("; ") | printable),
         ([.records // [] | .[] | select(.state == "holding") | .pipelineRun] | join(", ") | printable)]' --argjson me "$me"
    verdict="${decision[0]-}" rv="${decision[1]-}" records="${decision[2]-}" blockers="${decision[3]-}" holders="${decision[4]-}"
    case "$verdict" in
      held)
        log "intercept lock ${ns}/${name} is already held by this run"
        return 0
        ;;
      take | queue)
        status=0
        write_lock "$ns" "$app" "$records" "$rv" || status=$?
        [ "$status" -eq 0 ] || continue # someone else wrote first: decide again on what is there now
        if [ "$verdict" = take ]; then
          log "lease ${ns}/${name} taken (${lock_mode}) for run ${RUN_NAME} (${RUN_ID}); holders now: ${holders}"
          return 0
        fi
        ;;
    esac
    left=$((deadline - $(date +%s)))
    # Said on every blocked pass, the last one too: on a busy node the first pass may already end the wait.
    log "waiting for lease ${ns}/${name} (${lock_mode}, ${LOCK_BACKEND}): held by ${blockers}; $((left > 0 ? left : 0))s left"
    if [ "$left" -le 0 ]; then
      release_lock "$ns" "$app" "$RUN_ID"
      die "app ${app} in namespace ${ns} is being intercepted by ${blockers}; gave up after lease-wait-seconds=${LEASE_WAIT_SECONDS} waiting for the ${lock_mode} intercept lock ${name}. If that run is gone or finished (a cancelled run may skip its cleanup), the orphan sweeper removes its lock record and objects on its next pass."
    fi
    sleep "$((POLL_INTERVAL_SECONDS < left ? POLL_INTERVAL_SECONDS : left))"
  done
}

# Removes the run's records from the app's lock (none: nothing to do). Returns non-zero if it could not write.
release_lock() {
  local ns="$1" app="$2" run="$3" rv records status
  local -a fields
  while true; do
    read_lock "$ns" "$app"
    # The resourceVersion and the records without the run's ("null": nothing to remove).
    # shellcheck disable=SC2016 # a jq program: its $names are jq's
    jq_fields fields "$LOCK_JSON" "could not release run ${run} from the intercept lock ${ns}/$(lease_name "$app") read from the Lease" \
      "${LOCK_JQ_DEFS}"'[rv, (if . == null or ((.metadata.annotations // {}) | has("tekton-dag.io/holders") | not) then null
      else records | if any(.[]; .run == $run) then map(select(.run != $run)) else null end end | tojson)]' --arg run "$run"
    rv="${fields[0]-}" records="${fields[1]-null}"
    [ "$records" != null ] || return 0
    status=0
    write_lock "$ns" "$app" "$records" "$rv" || status=$?
    if [ "$status" -eq 0 ]; then
      log "intercept lock ${ns}/$(lease_name "$app"): released by run ${run}"
      return 0
    fi
  done
}

# Removes the run's records from every intercept lock in the namespace (cleanup and the sweeper).
release_run_locks() {
  local ns="$1" run="$2" apps app failed=0
  if ! apps="$(kubectl get leases.coordination.k8s.io -n "$ns" -l "tekton-dag.io/role=${LOCK_ROLE}" -o json |
    jq -r --arg run "$run" --arg key "$HOLDERS_ANNOTATION" \
      '.items[] | select((.metadata.annotations[$key] // "[]") | try fromjson catch [] | any(.[]?; .run == $run)) | .metadata.labels["tekton-dag.io/app"]')"; then
    return 1
  fi
  for app in $apps; do
    (release_lock "$ns" "$app" "$run") || failed=1
  done
  return "$failed"
}

# One line per lock record in the namespace, as the sweeper lists objects: namespace, kind, name, run, since.
lock_record_lines() {
  local ns="$1"
  kubectl get leases.coordination.k8s.io -n "$ns" -l "tekton-dag.io/role=${LOCK_ROLE}" -o json |
    jq -r --arg ns "$ns" --arg key "$HOLDERS_ANNOTATION" '.items[] | .metadata.name as $name
      | (.metadata.annotations[$key] // "[]") | (try fromjson catch []) | .[]?
      | [$ns, "intercept-lock", $name, (.run // "-" | tostring), (.since // 0 | tostring)] | @tsv'
}
