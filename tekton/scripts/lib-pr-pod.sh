#!/usr/bin/env bash
# The PR pod: the app's Deployment's pod template with the PR's image in the app container, and what is
# refused or changed on the way (docs/stack-file.md, "The PR pod"). Sourced by lib-intercept.sh, whose
# helpers (app_field, labels_json, object_name, wait_pod_ready) and inputs (IMAGES, RUN_ID) it uses;
# sourcing only defines functions.

# The Deployment annotation that names the app container when the container is not named after the app
# and the template has more than one container.
APP_CONTAINER_ANNOTATION=tekton-dag.io/app-container

# Prints the name of the container of the Deployment's pod template that runs the app, decided in this
# order: the container the Deployment's annotation tekton-dag.io/app-container names; the container named
# after the app; the only container. Anything else is an error naming the containers.
app_container_name() {
  local ns="$1" app="$2" deployment="$3" rule container names annotated
  local -a facts
  # One jq (this runs twice per app and deploy): the rule that picked the container (annotated, named, only;
  # unknown-annotated or none when none did), the container, the containers' names and the annotation.
  # shellcheck disable=SC2016 # a jq program: its $names are jq's
  jq_fields facts "$deployment" "app ${app}: could not read the pod template of Deployment ${ns}/${app}" '
    [.spec.template.spec.containers[]?.name] as $names
    | (.metadata.annotations[$k] // "") as $annotated
    | if $annotated != "" then (if any($names[]; . == $annotated) then ["annotated", $annotated] else ["unknown-annotated", ""] end)
      elif any($names[]; . == $app) then ["named", $app]
      elif ($names | length) == 1 then ["only", $names[0]]
      else ["none", ""] end
    | . + [($names | join(", ")), $annotated]' --arg k "$APP_CONTAINER_ANNOTATION" --arg app "$app"
  rule="${facts[0]-}" container="${facts[1]-}" names="${facts[2]-}" annotated="${facts[3]-}"
  [ -n "$names" ] || die "app ${app}: Deployment ${ns}/${app} has no containers in its pod template"
  case "$rule" in
    annotated | named | only) printf '%s' "$container" ;;
    unknown-annotated) die "app ${app}: Deployment ${ns}/${app} has annotation ${APP_CONTAINER_ANNOTATION}=${annotated}, but its pod template has no container of that name (containers: ${names})" ;;
    *) die "app ${app}: cannot tell which container of Deployment ${ns}/${app} runs the app (containers: ${names}); name it ${app}, or annotate the Deployment: kubectl annotate deployment/${app} -n ${ns} ${APP_CONTAINER_ANNOTATION}=<container>" ;;
  esac
}

# The PR pod runs untrusted PR code with the app's identity, so its template is held to three rules, each
# without an opt-in (whoever can open a PR would get whatever the Deployment's owner allowed):
# - volumes: only types that carry the app's own configuration (configMap, secret, downwardAPI, projected)
#   or scratch space (emptyDir) are kept; persistentVolumeClaim and ephemeral become emptyDir
#   (pr_pod_manifest); every other type, inline network storage (nfs, iscsi, cephfs, csi, rbd, ...),
#   hostPath, and any type this list does not know, would let PR code read or write what staging shares.
# - the Pod Security Standards' baseline level, check for check as k8s.io/pod-security-admission v0.37.2
#   defines it for policy version v1.37 (test/podsecurity holds this against the module's own fixtures):
#   host namespaces, privileged, capabilities beyond the default set, hostPath volumes (the volume rule),
#   host ports, AppArmor, SELinux, /proc mount, seccomp, sysctls, Windows hostProcess, and probe or
#   lifecycle hosts.
# - no shareProcessNamespace: it would show the sidecars' processes, environments and /proc/<pid>/root
#   to PR code.
# pr_pod_template_problems prints one line per problem found in the Deployment (JSON on stdin).
PR_POD_KEPT_VOLUMES='["configMap","secret","downwardAPI","projected","emptyDir"]'
PR_POD_EMPTYDIR_VOLUMES='["persistentVolumeClaim","ephemeral"]'
pr_pod_template_problems() {
  jq -r --argjson kept "$PR_POD_KEPT_VOLUMES" --argjson replaced "$PR_POD_EMPTYDIR_VOLUMES" '
    # The baseline lists of k8s.io/pod-security-admission v0.37.2 (policy/check_*.go), newest version.
    def default_capabilities: ["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
      "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"];
    def safe_sysctls: ["kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
      "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_local_reserved_ports",
      "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
      "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
      "net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"];
    def selinux_types: ["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"];
    def profile_ok: IN("RuntimeDefault", "Localhost");
    def apparmor_annotation_ok: . == "" or . == "runtime/default" or startswith("localhost/");
    def selinux_problems($where):
      select(. != null)
      | (select((.type // "") | IN(selinux_types[]) | not) | "\($where).seLinuxOptions.type \(.type // "")"),
        (select((.user // "") != "") | "\($where).seLinuxOptions.user \(.user)"),
        (select((.role // "") != "") | "\($where).seLinuxOptions.role \(.role)");
    # The problems of one security context, of the pod or of a container, named $where.
    def context_problems($where):
      (.appArmorProfile | select(. != null and ((.type // "") | profile_ok | not))
        | "\($where).appArmorProfile.type \(.type // "")"),
      (.seccompProfile | select(. != null and ((.type // "") | profile_ok | not))
        | "\($where).seccompProfile.type \(.type // "")"),
      (.seLinuxOptions | selinux_problems($where)),
      (select(.windowsOptions.hostProcess == true) | "\($where).windowsOptions.hostProcess true");
    def handler_hosts($path):
      (.httpGet.host // "" | select(. != "") | "\($path).httpGet.host \(.)"),
      (.tcpSocket.host // "" | select(. != "") | "\($path).tcpSocket.host \(.)");
    .spec.template as $t | ($t.spec // {}) as $s
    | [($s.initContainers[]? | {kind: "init container", c: .}), ($s.containers[]? | {kind: "container", c: .}),
       ($s.ephemeralContainers[]? | {kind: "ephemeral container", c: .})] as $all
    | ($s.volumes[]? | .name as $n | ((keys - ["name"]) - $kept - $replaced)[]
        | "volume \($n) is \(.)\(if . == "hostPath" then " (a folder of the node)" else "" end)"),
      ("hostNetwork", "hostPID", "hostIPC" | select($s[.] == true) | "spec.\(.) true"),
      (select($s.shareProcessNamespace == true) | "spec.shareProcessNamespace true"),
      ($s.securityContext // {} | context_problems("spec.securityContext")),
      ($s.securityContext.sysctls[]?.name | select(IN(safe_sysctls[]) | not) | "spec.securityContext.sysctls \(.) (not a safe sysctl)"),
      ($t.metadata.annotations // {} | to_entries[]
        | select((.key | startswith("container.apparmor.security.beta.kubernetes.io/")) and (.value | apparmor_annotation_ok | not))
        | "annotation \(.key)=\(.value)"),
      ($all[] | "\(.kind) \(.c.name)" as $who | .c
        | ((.securityContext // {}
            | (select(.privileged == true) | "securityContext.privileged true"),
              (.capabilities.add[]? | select(IN(default_capabilities[]) | not) | "securityContext.capabilities.add \(.)"),
              (select(.procMount != null and .procMount != "Default" and $s.hostUsers != false)
                | "securityContext.procMount \(.procMount) (allowed only with spec.hostUsers false)"),
              context_problems("securityContext")),
           (.ports[]? | select((.hostPort // 0) != 0) | "ports[].hostPort \(.hostPort)"),
           (("livenessProbe", "readinessProbe", "startupProbe") as $p | .[$p] // empty | handler_hosts($p)),
           (("postStart", "preStop") as $h | .lifecycle[$h] // empty | handler_hosts("lifecycle.\($h)")))
        | "\($who): \(.)")
  '
}

# Refuses, before anything is created, a Deployment whose template breaks one of the rules above, naming
# each field at fault.
check_pr_pod_security() {
  local ns="$1" app="$2" deployment="$3" problems
  problems="$(pr_pod_template_problems <<<"$deployment")" || die "app ${app}: could not read the pod template of Deployment ${ns}/${app}"
  [ -z "$problems" ] && return 0
  die "app ${app}: the pod template of Deployment ${ns}/${app} cannot become the PR pod, which runs untrusted PR code: ${problems//$'\n'/; }. The PR pod must meet the Pod Security Standards' baseline level, must not share its process namespace, and may have only configMap, secret, downwardAPI, projected and emptyDir volumes (persistentVolumeClaim and ephemeral ones become emptyDir). There is no opt-in; see docs/stack-file.md, \"The PR pod\""
}

# Refuses, before anything is created, a template the PR pod cannot be made from safely or usefully: one
# that breaks the rules of check_pr_pod_security, or whose app container declares ports, none of them the
# stack's containerPort (the proxies forward to the stack's port, so the PR pod would never get a request).
check_pr_pod_template() {
  local ns="$1" app="$2" deployment="$3" container="$4" port declared
  port="$(app_field "$app" containerPort)"
  declared="$(jq -r --arg c "$container" '[.spec.template.spec.containers[] | select(.name == $c) | .ports[]?.containerPort | tostring] | join(", ")' <<<"$deployment")"
  if [ -n "$declared" ] && [[ ", ${declared}, " != *", ${port}, "* ]]; then
    die "app ${app}: the stack's containerPort is ${port}, but container ${container} of Deployment ${ns}/${app} declares ports ${declared}; the intercept forwards to the stack's port, so the PR pod would never get a request. Set containerPort in the stack file to the port the app listens on"
  fi
  check_pr_pod_security "$ns" "$app" "$deployment"
}

# Volumes the PR pod gets as emptyDir instead (see pr_pod_manifest), as "name (kind), ...".
pr_pod_replaced_volumes() {
  jq -r '[.spec.template.spec.volumes[]? | select(.persistentVolumeClaim or .ephemeral)
          | "\(.name) (\(if .persistentVolumeClaim then "persistentVolumeClaim" else "ephemeral" end))"] | join(", ")' <<<"$1"
}

# The PR pod is the Deployment's pod template with the app container's image replaced by the built one:
# volumes and mounts, init containers and sidecars, ServiceAccount, imagePullSecrets, security contexts,
# probes, resources, command and args stay as the app has them. Deliberate changes (docs/stack-file.md,
# "The PR pod"):
# - labels: only the run labels. None of the template's labels, because any of them may be in the
#   selector of the app's Service (which this task may not read): a PR pod selected by it would get
#   regular traffic, and one matching the Deployment's selector could be picked as mirrord's target.
# - annotations: the template's, without Telepresence's (they ask its injector for a traffic agent;
#   telepresence.io/ is the current prefix, telepresence.getambassador.io/ the legacy one).
# - restartPolicy Never: a crash fails the task with the app's logs instead of restarting quietly.
# - no podAntiAffinity or topologySpreadConstraints: they spread the Deployment's replicas, and would keep
#   a single extra pod off the only node of a small cluster. (A hostPort, which would do the same, is
#   refused by check_pr_pod_security as the baseline level refuses it.)
# - persistentVolumeClaim and ephemeral volumes become emptyDir: PR code must not write staging's data,
#   and a ReadWriteOnce claim would keep the pod off every other node.
# - no priorityClassName (nor priority, preemptionPolicy): a PR pod must not preempt staging's pods.
# - a readiness probe from the stack (readinessPath, else TCP on containerPort) only when the app
#   container has none: the task waits for Ready, and without a probe Ready means merely started.
# The Deployment goes to jq on stdin: with kubectl's last-applied-configuration it can pass the kernel's
# 128 KiB limit on one argument.
pr_pod_manifest() {
  local ns="$1" app="$2" name="$3" deployment="$4" container image port path labels sa
  container="$(app_container_name "$ns" "$app" "$deployment")" || exit 1
  sa="$(jq -r '.spec.template.spec.serviceAccountName // .spec.template.spec.serviceAccount // ""' <<<"$deployment")"
  case "$sa" in
    tekton-dag-*) die "app ${app}: Deployment ${ns}/${app} runs as ServiceAccount ${sa}, a tekton-dag ServiceAccount; the PR pod runs untrusted PR code and must not get the intercept tooling's rights. Give the app its own ServiceAccount" ;;
  esac
  check_pr_pod_template "$ns" "$app" "$deployment" "$container"
  image="$(built_image "$app")"
  port="$(app_field "$app" containerPort)"
  path="$(app_field "$app" readinessPath)"
  labels="$(labels_json "$app" pr-pod)"
  jq --arg name "$name" --arg ns "$ns" --argjson labels "$labels" --arg image "$image" \
    --arg container "$container" --argjson port "$port" --arg path "$path" --arg runName "$RUN_NAME" '
    (.spec.template // {}) as $tpl
    | ((if $path == "" then {tcpSocket: {port: $port}} else {httpGet: {path: $path, port: $port}} end)
       + {initialDelaySeconds: 2, periodSeconds: 3, timeoutSeconds: 2, failureThreshold: 3}) as $probe
    | {
      apiVersion: "v1", kind: "Pod",
      metadata: {
        name: $name, namespace: $ns, labels: $labels,
        annotations: (($tpl.metadata.annotations // {}
                       | with_entries(select(.key | startswith("telepresence.getambassador.io/") or startswith("telepresence.io/") | not)))
                      + {"tekton-dag.io/pipeline-run": $runName, "tekton-dag.io/image": $image,
                         "tekton-dag.io/app-container": $container})
      },
      spec: (($tpl.spec // {})
        | del(.topologySpreadConstraints, .affinity.podAntiAffinity, .priorityClassName, .priority, .preemptionPolicy)
        | if .affinity == {} then del(.affinity) else . end
        | .restartPolicy = "Never"
        | if .volumes then .volumes |= map(if .persistentVolumeClaim or .ephemeral then {name: .name, emptyDir: {}} else . end) else . end
        | .containers |= map(
            if .name == $container then
                .image = $image
                | if .readinessProbe then . else .readinessProbe = $probe end
              else . end))
    }' <<<"$deployment"
}

# The intercept target: Deployment <app> in the app's namespace, as JSON.
target_deployment() {
  local ns="$1" app="$2" out
  if ! out="$(kubectl get deployment "$app" -n "$ns" -o json 2>&1)"; then
    die "app ${app}: cannot read Deployment ${ns}/${app} (the intercept target): ${out}"
  fi
  printf '%s' "$out"
}

# The target Deployments as read for the checks made before anything is created (a backend's
# validate_backend_inputs, check_pr_pod_sources), by "namespace/app": one read serves them all. The deploy
# reads each again (target_deployment) once it holds the app's lock.
declare -gA CHECKED_DEPLOYMENTS=()

# Reads the app's Deployment into CHECKED_DEPLOYMENTS unless it is there (call it outside $(...), which
# would keep the read to itself); dies as target_deployment does when it cannot be read.
read_checked_deployment() {
  local ns="$1" app="$2"
  [ -z "${CHECKED_DEPLOYMENTS["${ns}/${app}"]+set}" ] || return 0
  CHECKED_DEPLOYMENTS["${ns}/${app}"]="$(target_deployment "$ns" "$app")" || exit 1
}

# Builds every PR pod manifest once, so a Deployment the PR pod cannot be made from (no app container,
# a tekton-dag ServiceAccount, a port mismatch, anything check_pr_pod_security refuses) fails the task
# before any Lease or pod is created.
check_pr_pod_sources() {
  local app ns deployment replaced
  for app in "${DEPLOY_APPS[@]}"; do
    ns="$(app_namespace "$app")"
    read_checked_deployment "$ns" "$app"
    deployment="${CHECKED_DEPLOYMENTS["${ns}/${app}"]}"
    pr_pod_manifest "$ns" "$app" "$(object_name pr "$app" "$RUN_ID")" "$deployment" >/dev/null || exit 1
    replaced="$(pr_pod_replaced_volumes "$deployment")"
    [ -z "$replaced" ] || log "app ${app}: volumes ${replaced} of Deployment ${ns}/${app} become emptyDir in the PR pod (it must not write staging's persistent data)"
  done
}

# Replaces this run's PR pod of the app (a retried task must not trip over its earlier pod), waits Ready.
# Prints the pod IP.
deploy_pr_pod() {
  local ns="$1" app="$2" name deployment manifest ip
  name="$(object_name pr "$app" "$RUN_ID")"
  deployment="$(target_deployment "$ns" "$app")" || exit 1
  manifest="$(pr_pod_manifest "$ns" "$app" "$name" "$deployment")" || exit 1
  if [ -n "$EARLIER_ATTEMPT" ]; then
    kubectl delete pod -n "$ns" -l "$(run_selector "$app" pr-pod)" --ignore-not-found --wait=true >&2
  fi
  kubectl create -f - <<<"$manifest" >&2 || die "app ${app}: could not create PR pod ${ns}/${name}"
  wait_pod_ready "$ns" "$name" "$POD_READY_TIMEOUT_SECONDS" "PR pod"
  ip="$(jq -r '.status.podIP // ""' <<<"$READY_POD_JSON")"
  [ -n "$ip" ] || die "PR pod ${ns}/${name} is Ready but has no pod IP"
  printf '%s' "$ip"
}

