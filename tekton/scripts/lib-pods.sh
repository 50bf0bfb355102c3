#!/usr/bin/env bash
# Waiting for a pod to become Ready, and what to show when it does not; the ports of the proxy pods.
# Sourced by lib-intercept.sh; defines functions only.

# Prints what a user needs to see when a pod did not become Ready: description, events, logs.
diagnose_pod() {
  local ns="$1" name="$2"
  {
    echo "---- kubectl describe pod ${ns}/${name}"
    kubectl describe pod "$name" -n "$ns" 2>&1 || true
    echo "---- events of ${ns}/${name}"
    kubectl get events -n "$ns" --field-selector "involvedObject.name=${name}" 2>&1 || true
    echo "---- logs of ${ns}/${name}"
    kubectl logs "$name" -n "$ns" --all-containers --tail=200 2>&1 || true
  } >&2
}

# Waiting reasons of any container, init containers included, that will not start without a change.
POD_START_FAILURES=ErrImagePull,ImagePullBackOff,InvalidImageName,CreateContainerConfigError,CreateContainerError,CrashLoopBackOff

# Waits until the pod is Ready; fails early on a terminal state, late on the timeout. Leaves the pod as it
# was read when Ready in READY_POD_JSON (its IP, without reading it again).
wait_pod_ready() {
  local ns="$1" name="$2" timeout="$3" what="$4" deadline json phase ready reason failing left
  local -a facts
  deadline=$(($(date +%s) + timeout))
  while true; do
    if ! json="$(kubectl get pod "$name" -n "$ns" -o json 2>&1)"; then
      die "${what} ${ns}/${name} could not be read: ${json}"
    fi
    # One jq for the four facts a poll needs (a pod is read every few seconds while the task waits): phase,
    # Ready, the waiting reasons, and those of them that will not clear without a change.
    # Init containers and native sidecars (restartPolicy Always) report in initContainerStatuses.
    # shellcheck disable=SC2016 # a jq program: its $names are jq's
    jq_fields facts "$json" "${what} ${ns}/${name} could not be read" '($stop | split(",")) as $stop
      | [(.status.initContainerStatuses[]?, .status.containerStatuses[]?)] as $statuses
      | [.status.phase // "Pending",
         ([.status.conditions[]? | select(.type == "Ready") | .status][0] // "False"),
         ([$statuses[] | .state.waiting.reason // empty] | join(",")),
         ([$statuses[] | (.state.waiting.reason // "") as $r | select($stop | index($r))
           | $r + (if .name then " (\(.name))" else "" end)] | join(", "))]' --arg stop "$POD_START_FAILURES"
    phase="${facts[0]-}" ready="${facts[1]-}" reason="${facts[2]-}" failing="${facts[3]-}"
    if [ "$ready" = "True" ]; then
      # shellcheck disable=SC2034 # read by deploy_pr_pod (lib-pr-pod.sh)
      READY_POD_JSON="$json"
      log "${what} ${ns}/${name} is Ready"
      return 0
    fi
    case "$phase" in
      Failed | Succeeded)
        diagnose_pod "$ns" "$name"
        die "${what} ${ns}/${name} stopped (phase ${phase}) before it was Ready: $(pod_log_tail "$ns" "$name")"
        ;;
    esac
    if [ -n "$failing" ]; then
      diagnose_pod "$ns" "$name"
      die "${what} ${ns}/${name} cannot start: ${failing}"
    fi
    left=$((deadline - $(date +%s)))
    if [ "$left" -le 0 ]; then
      diagnose_pod "$ns" "$name"
      die "${what} ${ns}/${name} was not Ready within pod-ready-timeout-seconds=${timeout} (phase ${phase}${reason:+, ${reason}})"
    fi
    log "waiting for ${what} ${ns}/${name} to be Ready (phase ${phase}${reason:+, ${reason}}); ${left}s left"
    pause_until "$((POLL_INTERVAL_SECONDS < left ? POLL_INTERVAL_SECONDS : left))" pod "$name" -n "$ns" --for=condition=Ready
  done
}

# The pause of a wait loop: up to $1 seconds, ended early once what the rest of the arguments select meets
# their condition (`kubectl wait ARGS...`, a watch), so the loop reads the state again as soon as it changed
# instead of a poll interval later. When kubectl cannot watch it (no such object yet, no watch right), the
# pause is a plain sleep of $1 seconds: never shorter, so a loop never spins.
pause_until() {
  local seconds="$1" out
  shift
  [ "$seconds" -gt 0 ] || return 0
  if out="$(kubectl wait "$@" --timeout="${seconds}s" 2>&1)"; then
    return 0
  fi
  case "$out" in
    *"timed out waiting"*) return 0 ;;
  esac
  sleep "$seconds"
}

# The last lines of a pod's logs on one line, for an error message (mirrord's own error text).
pod_log_tail() {
  kubectl logs "$2" -n "$1" --all-containers --tail=20 2>&1 | tr '\n' ' ' | cut -c1-2000 || true
}

# The port the mirrord proxy's socat really listens on for the app's port. The proxy runs as uid 65532
# without capabilities, and most clusters keep Linux's net.ipv4.ip_unprivileged_port_start of 1024, so a
# port below 1024 is moved up by MIRRORD_LOW_PORT_OFFSET: mirrord's listen_ports [[port, local]] makes
# the layer bind the local port when socat binds the app's port, while the steal stays on the app's port.
# 10001-11023 lie below Linux's ephemeral range (32768-60999), where mirrord's own proxy listens.
MIRRORD_LOW_PORT_OFFSET=10000
mirrord_local_port() {
  if [ "$1" -lt 1024 ]; then printf '%s' "$(($1 + MIRRORD_LOW_PORT_OFFSET))"; else printf '%s' "$1"; fi
}

# Hex form of a port as it appears in /proc/net/tcp (for the proxy pods' readiness probes).
port_hex() {
  printf '%04X' "$1"
}
