# shellcheck shell=bash disable=SC2154 # state, repo, bin and the module names are cluster.sh's
# Tekton's own controllers on the local control plane; sourced by scripts/cluster.sh, whose helpers (log, die,
# launch, free_port, port_in_use, pid_alive, kubectl_admin, wait_for, $state, $bin) it uses.
#
#   bash scripts/cluster.sh tekton-start           build (scripts/tekton-build.sh, cached) and start them
#   bash scripts/cluster.sh tekton-sink NS NAME    run the EventListener NS/NAME's sink (once); prints its URL
#   bash scripts/cluster.sh tekton-stop            stop exactly the processes tekton-start/tekton-sink started
#
# What tekton-start sets up, all from the release modules' config/ folders (Go module cache): the
# tekton-pipelines namespace, the ServiceAccounts, (Cluster)Roles and bindings, the ConfigMaps, the core
# interceptors' certificate Secret (filled with a certificate for 127.0.0.1 signed by the cluster's CA, which
# the interceptors keep) and the ClusterInterceptors, pointed at https://127.0.0.1:8443/<name> with that CA.
# Not applied: Deployments, Services, webhook configurations (no webhook runs here, so Tekton objects are
# read and written at tekton.dev/v1 only). Each controller runs as a local process with a token of its
# release ServiceAccount, the env of its release Deployment (and -disable-ha where the binary has it: the
# pipelines controller; the triggers controller takes its lease in tekton-pipelines).
#
# Ports: the probes, profiling and metrics ports are free ones (by env). Two are fixed in the binaries:
# knative's shared main serves health probes on :8080 (the pipelines controller gets it: the triggers
# controller starts once it holds it, and reconciles without it) and the core interceptors listen on :8443. When
# either is taken, tekton-start fails naming the process holding it: two checkouts on one machine cannot
# both run Tekton's controllers.
#
# PersistentVolumes: TEKTON_DAG_TEKTON_PVS (default 32) hostPath PVs under .cluster/tekton/pv/, class "",
# for the volumeClaimTemplate workspaces of PipelineRuns (Retain: a released one is not reused).

tekton_release_ns=tekton-pipelines
tekton_fixed_ports=(8080 8443)
tekton_processes=(tekton-pipelines-controller tekton-triggers-controller tekton-interceptors)

tekton_module_dir() {
    go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'
}

# "pid N (command line)" of whoever listens on 127.0.0.1/0.0.0.0/:: port $1, or "an unknown process".
port_holder() {
    local port=$1 hex inode fd
    hex=$(printf '%04X' "$port")
    # Listening sockets (state 0A) on that port, from the kernel's tables; then the process owning one.
    inode=$(awk -v p=":$hex" '$2 ~ p"$" && $4 == "0A" { print $10; exit }' /proc/net/tcp /proc/net/tcp6 2>/dev/null)
    if [ -n "$inode" ]; then
        for fd in /proc/[0-9]*/fd/*; do
            if [ "$(readlink "$fd" 2>/dev/null)" = "socket:[$inode]" ]; then
                local pid=${fd#/proc/}
                pid=${pid%%/*}
                printf 'pid %s (%s)' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-160)"
                return 0
            fi
        done
    fi
    printf 'an unknown process (not visible to this user)'
}

# A kubeconfig with a token of ServiceAccount $1 in the release namespace, as the release's pod would have.
tekton_sa_kubeconfig() {
    local sa=$1 ns=${2:-$tekton_release_ns} token server
    token=$(kubectl_admin create token "$sa" -n "$ns" --duration 48h) || die "could not create a token for ServiceAccount $ns/$sa"
    server=$(sed -n 's/^ *server: //p' "$state/admin.kubeconfig")
    umask 077
    cat >"$state/tekton/$ns-$sa.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "$server", certificate-authority: "$state/certs/ca.crt"}
users:
- name: $sa
  user: {token: "$token"}
contexts:
- name: sa
  context: {cluster: local, user: $sa, namespace: $ns}
current-context: sa
EOF
    umask 022
    printf '%s\n' "$state/tekton/$ns-$sa.kubeconfig"
}

# The release's objects that make sense without Deployments: namespace, RBAC, ConfigMaps, the interceptors'
# Secret. Webhook configurations, Deployments, Services and the HPA are left out (nothing runs them here).
tekton_release_files() {
    local pdir=$1 tdir=$2 f
    printf '%s\n' "$pdir/config/100-namespace/100-namespace.yaml"
    for f in "$pdir"/config/20[01]-*.yaml "$pdir"/config/clusterrole-aggregate-*.yaml "$pdir"/config/config-*.yaml \
        "$tdir"/config/20[01]-*.yaml "$tdir"/config/clusterrole-aggregate-*.yaml "$tdir"/config/config-*.yaml; do
        printf '%s\n' "$f"
    done
}

tekton_interceptor_cert() {
    local c="$state/certs"
    [ -f "$c/interceptors.crt" ] && return 0
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$c/interceptors.ext"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=tekton-triggers-core-interceptors" \
        -keyout "$c/interceptors.key" -out "$c/interceptors.csr" 2>/dev/null
    openssl x509 -req -in "$c/interceptors.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" -CAcreateserial -days 3650 \
        -extfile "$c/interceptors.ext" -out "$c/interceptors.crt" 2>/dev/null
}

# The ClusterInterceptors of the release's core-interceptors.yaml, each pointed at the local process.
tekton_cluster_interceptors() {
    local tdir=$1 ca name
    ca=$(base64 -w0 <"$state/certs/ca.crt")
    sed -n '/^kind: ClusterInterceptor$/,/^  name:/s/^  name: \(.*\)$/\1/p' "$tdir/config/interceptors/core-interceptors.yaml" |
        while IFS= read -r name; do
        cat <<EOF
---
apiVersion: triggers.tekton.dev/v1alpha1
kind: ClusterInterceptor
metadata:
  name: $name
  labels: {server/type: https}
spec:
  clientConfig:
    url: https://127.0.0.1:8443/$name
    caBundle: $ca
EOF
        done
}

tekton_pvs() {
    local n=${TEKTON_DAG_TEKTON_PVS:-32} i
    if ! [[ "$n" =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt 500 ]; then die "TEKTON_DAG_TEKTON_PVS must be a number 1-500; got '$n'"; fi
    for i in $(seq "$n"); do
        mkdir -p "$state/tekton/pv/pv-$i"
        chmod 777 "$state/tekton/pv/pv-$i"
        cat <<EOF
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: tekton-dag-local-pv-$i
  labels: {tekton-dag.io/local-pv: "true"}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  hostPath: {path: "$state/tekton/pv/pv-$i", type: Directory}
EOF
    done
}

# The env the release Deployments give each process, plus free probe/profiling/metrics ports.
tekton_common_env() {
    local probes profiling metrics
    free_port probes
    free_port profiling
    free_port metrics
    printf '%s\n' "SYSTEM_NAMESPACE=$tekton_release_ns" "KUBERNETES_MIN_VERSION=v1.28.0" \
        "PROBES_PORT=$probes" "PROFILING_PORT=$profiling" "METRICS_PROMETHEUS_PORT=$metrics"
}

# launch NAME with the env lines on stdin of this function's caller, from the Tekton bin dir.
tekton_launch() {
    local name=$1 envfile=$2
    shift 2
    pid_alive "$name" && die "$name already runs (pid $(cat "$state/pids/$name")); run 'bash scripts/cluster.sh tekton-stop' first"
    local -a envs=()
    mapfile -t envs <"$envfile"
    env -i HOME="$HOME" PATH=/usr/bin:/bin "${envs[@]}" "$tbin/$name" "$@" >"$state/logs/$name.log" 2>&1 &
    echo $! >"$state/pids/$name"
}

pipelines_ready() { curl -sf "http://127.0.0.1:$1/readiness" >/dev/null 2>&1; }
log_has() { grep -q "$2" "$state/logs/$1.log" 2>/dev/null; }

tekton_start() {
    local t0=$SECONDS pdir tdir name
    [ -f "$state/admin.kubeconfig" ] || die "the local cluster is not running; 'bash scripts/cluster.sh start' first"
    # kubectl_admin runs $bin/kubectl.
    # shellcheck disable=SC2034
    bin=$(bash "$repo/scripts/cluster-build.sh" --check) || die "the control plane is not built; 'bash scripts/cluster.sh start' first"
    api_ready || die "the local API server does not answer; 'bash scripts/cluster.sh start' first"
    for name in "${tekton_processes[@]}"; do
        pid_alive "$name" && die "Tekton's controllers already run ($name pid $(cat "$state/pids/$name")); 'bash scripts/cluster.sh tekton-stop' first"
    done
    local port
    for port in "${tekton_fixed_ports[@]}"; do
        if port_in_use "$port"; then
            die "port $port on 127.0.0.1 is held by $(port_holder "$port"); Tekton's controllers need it (the port is fixed in their binaries: 8080 knative's health probes, 8443 the core interceptors), so only one checkout per machine can run them; stop that process first"
        fi
    done
    command -v curl >/dev/null || die "curl is not on PATH (it checks the controllers' readiness)"
    tbin=$(bash "$repo/scripts/tekton-build.sh") || die "Tekton's controllers failed to build (see the lines above); nothing started"
    pdir=$(tekton_module_dir "$pipeline_module") || die "could not download $pipeline_module from the Go module proxy"
    tdir=$(tekton_module_dir "$triggers_module") || die "could not download $triggers_module from the Go module proxy"

    trap tekton_stop EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    mkdir -p "$state/tekton" "$state/pids" "$state/logs"
    local args=() f
    while IFS= read -r f; do args+=(-f "$f"); done < <(tekton_release_files "$pdir" "$tdir")
    kubectl_admin apply --server-side --force-conflicts "${args[@]}" >/dev/null
    tekton_interceptor_cert
    kubectl_admin create secret generic tekton-triggers-core-interceptors-certs -n "$tekton_release_ns" \
        --from-file=server-key.pem="$state/certs/interceptors.key" --from-file=server-cert.pem="$state/certs/interceptors.crt" \
        --from-file=ca-cert.pem="$state/certs/ca.crt" --dry-run=client -o yaml | kubectl_admin apply --server-side --force-conflicts -f - >/dev/null
    { tekton_cluster_interceptors "$tdir"; tekton_pvs; } | kubectl_admin apply --server-side --force-conflicts -f - >/dev/null

    local envf="$state/tekton/env" pkc tkc ikc probes
    # The pipelines controller: its release Deployment's env and image flags (no image is ever pulled here:
    # every step has a command or script, and kwok runs no container).
    pkc=$(tekton_sa_kubeconfig tekton-pipelines-controller)
    { tekton_common_env; printf '%s\n' CONFIG_DEFAULTS_NAME=config-defaults CONFIG_LOGGING_NAME=config-logging \
        CONFIG_OBSERVABILITY_NAME=config-observability CONFIG_FEATURE_FLAGS_NAME=feature-flags \
        CONFIG_LEADERELECTION_NAME=config-leader-election-controller CONFIG_SPIRE=config-spire \
        METRICS_DOMAIN=tekton.dev/pipeline; } >"$envf.pipelines"
    probes=$(sed -n 's/^PROBES_PORT=//p' "$envf.pipelines")
    tekton_launch tekton-pipelines-controller "$envf.pipelines" -kubeconfig "$pkc" -disable-ha \
        -entrypoint-image local.invalid/entrypoint -nop-image local.invalid/nop \
        -sidecarlogresults-image local.invalid/sidecarlogresults -workingdirinit-image local.invalid/workingdirinit \
        -shell-image local.invalid/busybox -shell-image-win local.invalid/powershell
    wait_for tekton-pipelines-controller 90 pipelines_ready "$probes"
    # knative's shared main binds :8080 only once its controllers start, later than the readiness above; the
    # triggers controller would bind it too, and on a busy machine it can get there first. Whichever binds
    # second keeps reconciling without it (knative logs the bind error as it stops): waiting here makes the
    # holder the pipelines controller.
    wait_for tekton-pipelines-controller 60 port_in_use 8080

    tkc=$(tekton_sa_kubeconfig tekton-triggers-controller)
    { tekton_common_env; printf '%s\n' CONFIG_LOGGING_NAME=config-logging-triggers \
        CONFIG_OBSERVABILITY_NAME=config-observability-triggers CONFIG_DEFAULTS_NAME=config-defaults-triggers \
        METRICS_DOMAIN=tekton.dev/triggers CONFIG_LEADERELECTION_NAME=config-leader-election-triggers-controllers; } >"$envf.triggers"
    tekton_launch tekton-triggers-controller "$envf.triggers" -kubeconfig "$tkc" -logtostderr \
        -el-image local.invalid/eventlistenersink -el-port 8080 -el-security-context=true -el-read-only-root-filesystem=true \
        -el-events disable -el-readtimeout 5 -el-writetimeout 40 -el-idletimeout 120 -el-timeouthandler 30 \
        -el-httpclient-readtimeout 30 -el-httpclient-keep-alive 30 -el-httpclient-tlshandshaketimeout 10 \
        -el-httpclient-responseheadertimeout 10 -el-httpclient-expectcontinuetimeout 1 -period-seconds 10 -failure-threshold 3

    ikc=$(tekton_sa_kubeconfig tekton-triggers-core-interceptors)
    { tekton_common_env; printf '%s\n' CONFIG_LOGGING_NAME=config-logging-triggers \
        CONFIG_OBSERVABILITY_NAME=config-observability-triggers METRICS_DOMAIN=tekton.dev/triggers \
        INTERCEPTOR_TLS_SVC_NAME=tekton-triggers-core-interceptors INTERCEPTOR_TLS_SECRET_NAME=tekton-triggers-core-interceptors-certs; } >"$envf.interceptors"
    tekton_launch tekton-interceptors "$envf.interceptors" -kubeconfig "$ikc" -logtostderr
    wait_for tekton-interceptors 60 port_in_use 8443
    # The triggers controller has no probe of its own here (8080 is the pipelines controller's): its
    # informers have synced once it logs that its reconcilers started.
    wait_for tekton-triggers-controller 60 log_has tekton-triggers-controller "Starting controllers"
    trap - EXIT INT TERM
    log "Tekton's controllers up in $((SECONDS - t0))s (logs in $state/logs/tekton-*.log)"
}

# Runs the sink of EventListener $2 in namespace $1 as the Deployment el-$2 the triggers controller made
# for it would: its args and env, a token of its ServiceAccount, on a free port (printed as the URL).
tekton_sink() {
    local ns=$1 el=$2 name="tekton-eventlistenersink@$1.$2" dep port kc
    [[ "$ns" =~ ^[a-z0-9-]+$ && "$el" =~ ^[a-z0-9.-]+$ ]] || die "usage: bash scripts/cluster.sh tekton-sink NAMESPACE EVENTLISTENER (got '$ns' '$el')"
    pid_alive tekton-triggers-controller || die "the triggers controller does not run; 'bash scripts/cluster.sh tekton-start' first"
    # kubectl_admin runs $bin/kubectl.
    # shellcheck disable=SC2034
    bin=$(bash "$repo/scripts/cluster-build.sh" --check) || die "the control plane is not built; 'bash scripts/cluster.sh start' first"
    tbin=$(bash "$repo/scripts/tekton-build.sh" --check) || die "Tekton's controllers are not built; 'bash scripts/cluster.sh tekton-start' first"
    # Already running (started by an earlier test or by hand): the same sink, the same URL.
    if pid_alive "$name" && [ -f "$state/tekton/sink-$ns.$el.url" ]; then
        cat "$state/tekton/sink-$ns.$el.url"
        return 0
    fi
    local deadline=$((SECONDS + 60))
    until dep=$(kubectl_admin get deployment "el-$el" -n "$ns" -o json 2>/dev/null); do
        [ "$SECONDS" -lt "$deadline" ] || die "no Deployment el-$el in namespace $ns after 60s: does EventListener $ns/$el exist? (kubectl get eventlisteners -n $ns)"
        sleep 0.5
    done
    free_port port
    kc=$(tekton_sa_kubeconfig "$(jq -r '.spec.template.spec.serviceAccountName' <<<"$dep")" "$ns")
    # The container's env (plain values and the pod's own namespace), then its args with our port.
    jq -r --arg ns "$ns" '.spec.template.spec.containers[0].env[]
        | if .value != null then "\(.name)=\(.value)"
          elif .valueFrom.fieldRef.fieldPath == "metadata.namespace" then "\(.name)=\($ns)"
          else empty end' <<<"$dep" >"$state/tekton/env.sink-$ns.$el"
    tekton_common_env >>"$state/tekton/env.sink-$ns.$el"
    local -a args=()
    mapfile -t args < <(jq -r '.spec.template.spec.containers[0].args[]' <<<"$dep" | sed "s/^--port=.*/--port=$port/")
    local -a envs=()
    mapfile -t envs <"$state/tekton/env.sink-$ns.$el"
    env -i HOME="$HOME" PATH=/usr/bin:/bin "${envs[@]}" "$tbin/tekton-eventlistenersink" -kubeconfig "$kc" "${args[@]}" \
        >"$state/logs/$name.log" 2>&1 &
    echo $! >"$state/pids/$name"
    wait_for "$name" 60 port_in_use "$port"
    printf 'http://127.0.0.1:%s\n' "$port" | tee "$state/tekton/sink-$ns.$el.url"
}

tekton_stop() {
    # All at once: each is a client of the API server only. The sink ignores SIGTERM: stop_recorded sends
    # SIGKILL after 5 s.
    stop_recorded "$state"/pids/tekton-eventlistenersink@* "$state"/pids/tekton-interceptors \
        "$state"/pids/tekton-triggers-controller "$state"/pids/tekton-pipelines-controller
    log "stopped $STOPPED Tekton process(es)"
}
