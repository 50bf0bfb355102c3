#!/usr/bin/env bash
# The deploy of one backend's intercepts: its inputs loaded and checked before anything is created, the
# per-app locks taken, PR pod and proxy deployed per app, deployed-pods written. Sourced by lib-intercept.sh;
# defines functions only. The backend script defines deploy_proxy (and may define validate_backend_inputs).

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

  load_app_fields
  local port ns path
  for app in "${DEPLOY_APPS[@]}"; do
    [ -n "${APP_FIELDS["${app}"$'\x1f']+set}" ] ||
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
declare -gA IMAGE_OF=()
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
  # One jq: "exact" when built-images names exactly the build apps, then their images as "<app>\x1f<image>"
  # records (IMAGE_OF), except an image holding a control character: that one is read again below, only to
  # be named in the error.
  local -a records
  local record
  # shellcheck disable=SC2016 # a jq program: its $names are jq's
  jq_fields records "$IMAGES" "built-images could not be read" '(keys == ($ARGS.positional | unique)) as $exact
    | [if $exact then "exact", (to_entries[] | select(.value | explode | all(. >= 32 and . != 127))
        | "\(.key)\u001f\(.value)") else empty end]' --args "${DEPLOY_APPS[@]}"
  if [ "${records[0]-}" != exact ]; then
    want="$(printf '%s\n' "${DEPLOY_APPS[@]}" | LC_ALL=C sort -u | paste -sd, - | sed 's/,/, /g')"
    die "built-images must name exactly the build apps (${want}); it names: $(jq -r 'keys | join(", ") | if . == "" then "none" else . end' <<<"$IMAGES")"
  fi
  for record in "${records[@]:1}"; do IMAGE_OF["${record%%$'\x1f'*}"]="${record#*$'\x1f'}"; done
  for app in "${DEPLOY_APPS[@]}"; do
    image="$(built_image "$app")"
    if [[ "$image" != "${registry}/${app}@sha256:"* ]] || [[ ! "${image#"${registry}/${app}@sha256:"}" =~ ^[0-9a-f]{64}$ ]]; then
      die "built-images: the image of \"${app}\" must be ${registry}/${app}@sha256:<64 hex digits> (image-registry, the app's name, the digest containerize pushed); got \"${image:0:200}\""
    fi
  done
}

# The built image of app $1: from IMAGE_OF (check_built_images), else read from built-images.
built_image() {
  if [ -n "${IMAGE_OF["$1"]-}" ]; then
    printf '%s' "${IMAGE_OF["$1"]}"
  else
    jq -r --arg a "$1" '.[$a]' <<<"$IMAGES"
  fi
}

# The stack's fields of the build apps that app_field is asked for, by "<app>\x1f<field>", read by one jq:
# app_field runs in $(...) a dozen times per app, and a jq 1.6 start costs tens of milliseconds of CPU.
# "<app>\x1f" is set for each build app that is in the stack.
declare -gA APP_FIELDS=()
APP_FIELD_NAMES='["containerPort","namespace","readinessPath","servicePort"]'
load_app_fields() {
  local record i rest field value
  local -a records
  # Records "<index in DEPLOY_APPS>\x1f<field>\x1f<value>": any value can be held, and an app is named by
  # its index, so not even a build app's (not yet validated) name can break a record.
  # shellcheck disable=SC2016 # a jq program: its $names are jq's
  jq_fields records "$STACK" "stack-json: could not read the fields of the build apps (${DEPLOY_APPS[*]})" \
    '.apps as $apps | [$ARGS.positional
    | to_entries[] | .key as $i | .value as $a | select($apps | has($a))
    | "\($i)\u001f", ($apps[$a] | objects | $fields[] as $f | "\($i)\u001f\($f)\u001f\(.[$f] // "" | tostring)")]' \
    --argjson fields "$APP_FIELD_NAMES" --args "${DEPLOY_APPS[@]}"
  for record in "${records[@]}"; do
    i="${record%%$'\x1f'*}" rest="${record#*$'\x1f'}"
    field="${rest%%$'\x1f'*}" value="${rest#*$'\x1f'}"
    APP_FIELDS["${DEPLOY_APPS[i]}"$'\x1f'"${field}"]="$value"
  done
}

# The stack's field $2 of app $1 ("" when unset or null), from APP_FIELDS when loaded there.
app_field() {
  local key="$1"$'\x1f'"$2"
  if [ -n "${APP_FIELDS["$key"]+set}" ]; then
    printf '%s\n' "${APP_FIELDS["$key"]}"
  else
    jq -r --arg a "$1" --arg f "$2" '.apps[$a][$f] // "" | tostring' <<<"$STACK"
  fi
}

app_namespace() {
  local ns
  ns="$(app_field "$1" namespace)"
  printf '%s' "${ns:-$DEFAULT_NAMESPACE}"
}

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

# A retried TaskRun replaces what its earlier attempt made of the app (each object labelled with the run and
# the app; the backend script names their kinds in ATTEMPT_KINDS). Whether there is any is one list: on a
# first attempt, nearly always, the per-kind deletes (each a kubectl of its own) are skipped. Sets
# EARLIER_ATTEMPT to the objects found (empty: none).
find_earlier_attempt() {
  local ns="$1" app="$2"
  # shellcheck disable=SC2034 # read by deploy_pr_pod (lib-pr-pod.sh) and the backend's deploy_proxy
  EARLIER_ATTEMPT="$(kubectl get "$ATTEMPT_KINDS" -n "$ns" -l "$(run_selector "$app")" -o name)"
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
    find_earlier_attempt "$ns" "$app" </dev/null
    ip="$(deploy_pr_pod "$ns" "$app" </dev/null)"
    deploy_proxy "$ns" "$app" "$ip" </dev/null
    pods="$(jq -c --arg a "$app" --arg p "$(object_name pr "$app" "$RUN_ID")" '. + {($a): $p}' <<<"$pods")"
  done
  write_deployed_pods "$pods"
}
