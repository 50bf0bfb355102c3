#!/usr/bin/env bash
# Helpers shared by the intercept scripts (deploy-intercept-mirrord.sh, deploy-stack-intercepts.sh,
# cleanup-stack-intercepts.sh, sweep-orphans.sh, mirrord-config.sh). Sourcing only defines functions.
#   . "${SCRIPTS_DIR}/lib-common.sh"; . "${SCRIPTS_DIR}/lib-intercept.sh"
# Every object a run creates carries the run labels of docs/conventions.md; cleanup and the sweeper
# select on tekton-dag.io/run=<uid> and nothing broader.
# The PR pod (what it takes from the app's Deployment, what is refused) is lib-pr-pod.sh, the per-app
# intercept lock lib-lock.sh; both sourced here.

RUN_LABEL=tekton-dag.io/run
UID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
DNS_LABEL_RE='^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'
LABEL_VALUE_RE='^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$'

# shellcheck source=lib-pr-pod.sh
. "${SCRIPTS_DIR:-$(dirname "${BASH_SOURCE[0]}")}/lib-pr-pod.sh"
# shellcheck source=lib-lock.sh
. "${SCRIPTS_DIR:-$(dirname "${BASH_SOURCE[0]}")}/lib-lock.sh"

# The run id must be a PipelineRun uid: an empty or odd value would widen a label selector.
validate_run_id() {
  local value="${1-}"
  [ -n "$value" ] || die "run-id is empty; it must be the PipelineRun uid (\$(context.pipelineRun.uid)), e.g. 0f8e6c1a-3b2d-4c5e-9f70-1a2b3c4d5e6f"
  [[ "$value" =~ $UID_RE ]] || die "run-id \"${value}\" is not a PipelineRun uid (lower-case 8-4-4-4-12 hex)"
}

validate_run_name() {
  local value="${1-}"
  [ -n "$value" ] || die "run-name is empty; it must be the PipelineRun name (\$(context.pipelineRun.name))"
  if [ "${#value}" -gt 63 ] || ! [[ "$value" =~ $LABEL_VALUE_RE ]]; then
    die "run-name \"${value}\" is not usable as a label value (at most 63 characters, alphanumerics, '-', '_', '.')"
  fi
}

validate_dns_label() {
  local what="$1" value="$2"
  if [ "${#value}" -gt 63 ] || ! [[ "$value" =~ $DNS_LABEL_RE ]]; then
    die "${what} \"${value}\" is not a DNS label (lower-case alphanumerics and '-', at most 63 characters)"
  fi
}

# True for a TCP port number 1-65535.
is_port() {
  [[ "${1-}" =~ ^[0-9]{1,5}$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]
}

# True for an image reference pinned by a digest, or by a tag other than latest (as the images policy
# judges): the mirrord agent image must not change under a run.
is_pinned_image() {
  local ref="${1-}" last tag
  [[ "$ref" =~ ^[A-Za-z0-9][A-Za-z0-9._/:@-]*$ ]] || return 1
  [[ "$ref" =~ @sha256:[a-f0-9]{64}$ ]] && return 0
  last="${ref##*/}"
  [[ "$last" == *:* ]] || return 1
  tag="${last##*:}"
  # Tags are case-sensitive, but LATEST is as mutable as latest.
  [ -n "$tag" ] && [ "${tag,,}" != latest ]
}

# An empty value, or a Secret name (a DNS subdomain).
validate_pull_secret() {
  local what="$1" value="$2"
  [ -z "$value" ] && return 0
  if [ "${#value}" -gt 253 ] || ! [[ "$value" =~ ^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$ ]]; then
    die "${what} \"${value}\" is not a Secret name (lowercase letters, digits, '-' and '.', at most 253)"
  fi
}

validate_positive_int() {
  local what="$1" value="$2"
  if ! [[ "$value" =~ ^[0-9]{1,9}$ ]] || [ "$value" -eq 0 ]; then
    die "${what} must be a positive whole number of seconds; got \"${value}\""
  fi
}

# First 8 hex digits of the run uid: enough to keep names of concurrent runs apart.
short_run_id() {
  printf '%s' "${1:0:8}"
}

# <prefix>-<app>-<short run id>[-<suffix>], at most 63 characters, DNS-safe (the app part is shortened
# if needed).
object_name() {
  local prefix="$1" app="$2" uid="$3" suffix="${4:-}" short room part
  short="$(short_run_id "$uid")"
  room=$((63 - ${#prefix} - ${#short} - 2))
  [ -z "$suffix" ] || room=$((room - ${#suffix} - 1))
  part="${app:0:$room}"
  while [ "${part%-}" != "$part" ]; do part="${part%-}"; done
  printf '%s-%s-%s%s' "$prefix" "$part" "$short" "${suffix:+-${suffix}}"
}

# The run labels as a JSON object (for jq --argjson). Uses RUN_ID and RUN_NAME.
labels_json() {
  local app="$1" role="$2"
  jq -n --arg run "$RUN_ID" --arg name "$RUN_NAME" --arg app "$app" --arg role "$role" '{
    "app.kubernetes.io/part-of": "tekton-dag",
    "app.kubernetes.io/managed-by": "tekton-dag-pipeline",
    "tekton-dag.io/run": $run,
    "tekton-dag.io/pipeline-run": $name,
    "tekton-dag.io/app": $app,
    "tekton-dag.io/role": $role
  }'
}

# Selector for one role of one app of this run (still scoped by the run label).
run_selector() {
  local app="${1:-}" role="${2:-}" sel="${RUN_LABEL}=${RUN_ID}"
  [ -z "$app" ] || sel="${sel},tekton-dag.io/app=${app}"
  [ -z "$role" ] || sel="${sel},tekton-dag.io/role=${role}"
  printf '%s' "$sel"
}

# Escapes every regex meta character so the value matches literally (fancy-regex and JavaScript agree).
regex_escape() {
  local s="$1" out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c="${s:i:1}"
    case "$c" in
      "\\" | '.' | '^' | '$' | '|' | '?' | '*' | '+' | '(' | ')' | '[' | ']' | '{' | '}' | '-') out+="\\${c}" ;;
      *) out+="$c" ;;
    esac
  done
  printf '%s' "$out"
}

# ---- stack and inputs ---------------------------------------------------------------------------

# Loads and checks every input before anything is created. Sets STACK (JSON), IMAGES (JSON),
# DEPLOY_APPS (array of build apps, deduplicated, in the given order).
load_deploy_inputs() {
  require_env STACK_JSON BUILT_IMAGES IMAGE_REGISTRY INTERCEPT_HEADER_VALUE DEFAULT_NAMESPACE TARGET_NAMESPACES RUN_ID RUN_NAME SHARED_WORKSPACE
  validate_run_id "$RUN_ID"
  validate_run_name "$RUN_NAME"
  validate_dns_label "default-namespace" "$DEFAULT_NAMESPACE"
  local target targets=""
  for target in $TARGET_NAMESPACES; do
    validate_dns_label "target namespace" "$target"
    targets+="${targets:+ }${target}"
  done
  [ -n "$targets" ] || die "target-namespaces is empty; expected the space-separated namespaces the pipeline may deploy to, e.g. \"staging\""
  LEASE_WAIT_SECONDS="${LEASE_WAIT_SECONDS:-600}"
  POD_READY_TIMEOUT_SECONDS="${POD_READY_TIMEOUT_SECONDS:-300}"
  POLL_INTERVAL_SECONDS="${POLL_INTERVAL_SECONDS:-5}"
  validate_positive_int "lease-wait-seconds" "$LEASE_WAIT_SECONDS"
  validate_positive_int "pod-ready-timeout-seconds" "$POD_READY_TIMEOUT_SECONDS"
  [[ "$POLL_INTERVAL_SECONDS" =~ ^[0-9]+$ ]] || die "POLL_INTERVAL_SECONDS must be a whole number; got \"${POLL_INTERVAL_SECONDS}\""
  parse_intercept_header "$INTERCEPT_HEADER_VALUE"

  STACK="$(read_value "$STACK_JSON")"
  jq -e 'type == "object" and (.apps | type == "object")' >/dev/null 2>&1 <<<"$STACK" ||
    die "stack-json is not a stack graph (a JSON object with an \"apps\" object); got: ${STACK:0:200}"
  IMAGES="$(read_value "$BUILT_IMAGES")"
  jq -e 'type == "object" and all(.[]; type == "string")' >/dev/null 2>&1 <<<"$IMAGES" ||
    die "built-images must be a JSON object mapping app -> image; got: ${IMAGES:0:200}"

  local build_apps app seen=" "
  build_apps="$(read_value "${BUILD_APPS:-}")"
  DEPLOY_APPS=()
  for app in $build_apps; do
    case "$seen" in *" ${app} "*) continue ;; esac
    seen+="${app} "
    DEPLOY_APPS+=("$app")
  done
  [ "${#DEPLOY_APPS[@]}" -gt 0 ] || die "build-apps is empty; expected the space-separated apps to intercept"
  if [ -n "${PROPAGATION_CHAIN:-}" ]; then
    local chain
    chain="$(read_value "$PROPAGATION_CHAIN")"
    log "propagation chain: ${chain//$'\n'/ }"
  fi

  local port ns path
  for app in "${DEPLOY_APPS[@]}"; do
    jq -e --arg a "$app" '.apps | has($a)' >/dev/null <<<"$STACK" ||
      die "build app \"${app}\" is not in the stack (apps: $(jq -r '.apps | keys | join(", ")' <<<"$STACK"))"
    validate_dns_label "app name" "$app"
    port="$(app_field "$app" containerPort)"
    is_port "$port" ||
      die "app \"${app}\": containerPort \"${port}\" in the stack is not a port number (1-65535)"
    ns="$(app_namespace "$app")"
    validate_dns_label "namespace of app ${app}" "$ns"
    # The pipeline's rights, cleanup and the orphan sweeper cover the target namespaces only: an app
    # elsewhere would fail late with "forbidden" and leave objects nobody removes.
    case " ${targets} " in
      *" ${ns} "*) ;;
      *) die "app \"${app}\" is in namespace \"${ns}\", which is not one of target-namespaces (${targets}); the pipeline may create objects only there and cleanup looks only there. Add ${ns} to the stack config's tekton-dag:targetNamespaces, or give the app a namespace from that list" ;;
    esac
    path="$(app_field "$app" readinessPath)"
    [ -z "$path" ] || [[ "$path" =~ ^/[!-~]*$ ]] || die "app \"${app}\": readinessPath \"${path}\" must start with '/'"
  done
  check_built_images
}

# built-images is containerize's result, and containerize runs the PR's Dockerfile: its content is PR
# code's to choose. What it may say is fixed by trusted inputs: exactly the build apps (resolve-stack's
# build-apps, also the pinned graph's buildApps), each pushed to the configured image-registry under its
# own name and pinned by digest. So PR code can choose neither the app (and with it the Deployment,
# namespace and pod template) nor an image from elsewhere.
check_built_images() {
  local registry="${IMAGE_REGISTRY%/}" app image want stack_build
  if [[ ! "$registry" =~ ^[A-Za-z0-9.:/_-]+$ ]] || [[ "$registry" == *://* ]]; then
    die "image-registry '${IMAGE_REGISTRY}' is not a registry host[:port][/path] (e.g. registry.local:5000 or ghcr.io/org)"
  fi
  stack_build=" $(jq -r '.buildApps // [] | map(strings) | join(" ")' <<<"$STACK") "
  for app in "${DEPLOY_APPS[@]}"; do
    case "$stack_build" in
      *" ${app} "*) ;;
      *) die "build app \"${app}\" is not among stack-json's buildApps (${stack_build# }); build-apps and stack-json must come from the same resolve-stack" ;;
    esac
  done
  want="$(printf '%s\n' "${DEPLOY_APPS[@]}" | jq -R . | jq -sc 'sort')"
  jq -e --argjson want "$want" 'keys == $want' >/dev/null <<<"$IMAGES" ||
    die "built-images must name exactly the build apps ($(jq -r 'join(", ")' <<<"$want")); it names: $(jq -r 'keys | join(", ") | if . == "" then "none" else . end' <<<"$IMAGES")"
  for app in "${DEPLOY_APPS[@]}"; do
    image="$(jq -r --arg a "$app" '.[$a]' <<<"$IMAGES")"
    if [[ "$image" != "${registry}/${app}@sha256:"* ]] || [[ ! "${image#"${registry}/${app}@sha256:"}" =~ ^[0-9a-f]{64}$ ]]; then
      die "built-images: the image of \"${app}\" must be ${registry}/${app}@sha256:<64 hex digits> (image-registry, the app's name, the digest containerize pushed); got \"${image:0:200}\""
    fi
  done
}

app_field() {
  jq -r --arg a "$1" --arg f "$2" '.apps[$a][$f] // "" | tostring' <<<"$STACK"
}

app_namespace() {
  local ns
  ns="$(app_field "$1" namespace)"
  printf '%s' "${ns:-$DEFAULT_NAMESPACE}"
}

# ---- pods ----------------------------------------------------------------------------------------

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

# Waits until the pod is Ready; fails early on a terminal state, late on the timeout.
wait_pod_ready() {
  local ns="$1" name="$2" timeout="$3" what="$4" deadline json phase ready reason failing left
  deadline=$(($(date +%s) + timeout))
  while true; do
    if ! json="$(kubectl get pod "$name" -n "$ns" -o json 2>&1)"; then
      die "${what} ${ns}/${name} could not be read: ${json}"
    fi
    phase="$(jq -r '.status.phase // "Pending"' <<<"$json")"
    ready="$(jq -r '[.status.conditions[]? | select(.type == "Ready") | .status][0] // "False"' <<<"$json")"
    # Init containers and native sidecars (restartPolicy Always) report in initContainerStatuses.
    reason="$(jq -r '[(.status.initContainerStatuses[]?, .status.containerStatuses[]?) | .state.waiting.reason // empty] | join(",")' <<<"$json")"
    failing="$(jq -r --arg stop "$POD_START_FAILURES" '($stop | split(",")) as $stop
      | [(.status.initContainerStatuses[]?, .status.containerStatuses[]?)
         | (.state.waiting.reason // "") as $r | select($stop | index($r))
         | $r + (if .name then " (\(.name))" else "" end)] | join(", ")' <<<"$json")"
    if [ "$ready" = "True" ]; then
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
    sleep "$((POLL_INTERVAL_SECONDS < left ? POLL_INTERVAL_SECONDS : left))"
  done
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

# ---- results -------------------------------------------------------------------------------------

# Writes deployed-pods (app -> PR pod name) to the run's directory and to the task result.
write_deployed_pods() {
  local json="$1" dir
  dir="$(run_dir)"
  mkdir -p "$dir"
  printf '%s\n' "$json" | replace_file "${dir}/deployed-pods.json"
  if [ -n "${RESULT_PATH:-}" ]; then
    printf '%s' "$json" >"$RESULT_PATH"
  fi
  log "deployed-pods: ${json} (also in ${dir}/deployed-pods.json)"
}

# Runs the whole deploy for one backend. The backend script defines deploy_proxy NS APP PR_IP.
run_deploy() {
  local backend="$1" app ns ip pods='{}' key
  local -a keys=()
  load_deploy_inputs
  if declare -F validate_backend_inputs >/dev/null; then validate_backend_inputs; fi
  check_pr_pod_sources
  # A retried task must not hand over an earlier attempt's result.
  rm -f "$(run_dir)/deployed-pods.json"
  log "intercept backend ${backend}: run ${RUN_NAME} (${RUN_ID}), apps ${DEPLOY_APPS[*]}, header ${HEADER_NAME}: ${HEADER_VALUE}"
  # Telepresence runs share an app (each intercept has its own header; the traffic manager accepts only
  # header-filtered ones); a mirrord steal is exclusive (open-source mirrord: one steal per target).
  # docs/intercept-lock.md says why the first Telepresence intercept, which installs the agent, is shared too.
  # shellcheck disable=SC2034 # read by lib-lock.sh
  LOCK_BACKEND="$backend"
  local lock_mode=shared
  [ "$backend" = telepresence ] || lock_mode=exclusive
  # Take every lock first, in one global order, so two runs on overlapping apps cannot deadlock (a run waits
  # only for the next lock in that order, holding only earlier ones).
  for app in "${DEPLOY_APPS[@]}"; do keys+=("$(app_namespace "$app")/${app}"); done
  while IFS= read -r key; do
    acquire_lease "${key%%/*}" "${key#*/}" "$lock_mode"
  done < <(printf '%s\n' "${keys[@]}" | sort -u)
  for app in "${DEPLOY_APPS[@]}"; do
    ns="$(app_namespace "$app")"
    ip="$(deploy_pr_pod "$ns" "$app" </dev/null)"
    deploy_proxy "$ns" "$app" "$ip" </dev/null
    pods="$(jq -c --arg a "$app" --arg p "$(object_name pr "$app" "$RUN_ID")" '. + {($a): $p}' <<<"$pods")"
  done
  write_deployed_pods "$pods"
}

# ---- deleting a run's objects (cleanup and the sweeper) ----------------------------------------

# Deletes every object of one run in one namespace, selected by its run label only.
# Proxies go first (their TERM handler ends the Telepresence intercept; mirrord's agent loses its client),
# then agent Jobs and the remaining pods, the ConfigMaps, run-labelled Leases (the earlier one-holder lock),
# and last the run's records in the shared intercept locks: other runs' intercepts and records stay. Every delete without
# --wait=false watches until the objects are gone, so the Role grants watch on pods and jobs.
delete_run_objects() {
  local ns="$1" run="$2" failed=0 sel
  validate_run_id "$run"
  sel="${RUN_LABEL}=${run}"
  kubectl delete pods -n "$ns" -l "${sel},tekton-dag.io/role=mirrord-proxy" --ignore-not-found --wait=true >&2 || failed=1
  kubectl delete pods -n "$ns" -l "${sel},tekton-dag.io/role=telepresence-intercept" --ignore-not-found --wait=true >&2 || failed=1
  kubectl delete jobs.batch -n "$ns" -l "$sel" --ignore-not-found --cascade=foreground --wait=true >&2 || failed=1
  kubectl delete pods -n "$ns" -l "$sel" --ignore-not-found --wait=true >&2 || failed=1
  # ConfigMaps and Leases have no finalizers: gone at once, nothing to wait (and watch) for.
  kubectl delete configmaps -n "$ns" -l "$sel" --ignore-not-found --wait=false >&2 || failed=1
  kubectl delete leases.coordination.k8s.io -n "$ns" -l "$sel" --ignore-not-found --wait=false >&2 || failed=1
  release_run_locks "$ns" "$run" || failed=1
  return "$failed"
}
