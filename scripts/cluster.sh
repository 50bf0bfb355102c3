#!/usr/bin/env bash
# A local Kubernetes control plane for the tests: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and kwok (one simulated node; pods become Running/Ready with fake IPs, no container runs),
# built by scripts/cluster-build.sh. Everything binds 127.0.0.1 only.
#
#   bash scripts/cluster.sh start    build (cached) and start it; prints the kubeconfig path
#   bash scripts/cluster.sh stop     stop the processes this script started (by their recorded PIDs)
#   bash scripts/cluster.sh status   say whether it runs; exit 0 when the API server answers
#   bash scripts/cluster.sh env      print `export KUBECONFIG=... PATH=...` for eval
#   bash scripts/cluster.sh tekton-start|tekton-stop|tekton-sink NS NAME
#                                    Tekton's own controllers on it (scripts/lib-tekton-controllers.sh)
#
# State lives in .cluster/ of the repo (gitignored): certs, tokens, etcd data, logs, pids/, kubeconfig.
# `start` creates the namespaces the stacks expect and loads the Tekton CRDs (pipeline config/300-crds and
# the triggers CRDs from their Go module zips; never their webhook configurations: no webhook runs here, so
# a CRD that Tekton's webhook converts serves its storage version only).
#
# Pod logs: kwok plays the kubelet's log endpoint. The API server proxies `pods/log` (after RBAC) to the
# node's InternalIP (127.0.0.1) and daemonEndpoints port, where kwok serves TLS with its own certificate
# from .cluster/certs, verified by the API server against the local CA. Which file a pod's logs come from
# is a `Logs` object (kwok.x-k8s.io/v1alpha1, named after the pod, in its namespace, spec.logs[].logsFile),
# created by the tests; the file is in the CRI log format (`<RFC3339Nano time> stdout F <line>`), whose
# timestamps `--since` filters on. The files live under .cluster/pod-logs/. What kwok does not do: it
# authenticates no client (no client-certificate check exists in its server; it also answers plain HTTP
# on the same port), so any local process can read the logs it serves on 127.0.0.1; the files hold test
# lines only. Its pprof handler is switched off; exec, attach and port-forward stay unconfigured (errors).
#
# Settings (environment):
#   TEKTON_DAG_CLUSTER_PORT      API server port (default: a free port); a port in use is an error
#   TEKTON_DAG_CLUSTER_DIR       state dir (default <repo>/.cluster)
#   TEKTON_DAG_CLUSTER_NAMESPACES namespaces to create (default "tekton-dag staging ambassador")
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
state=${TEKTON_DAG_CLUSTER_DIR:-$repo/.cluster}
namespaces=${TEKTON_DAG_CLUSTER_NAMESPACES:-tekton-dag staging ambassador}
pipeline_module=github.com/tektoncd/pipeline@v1.15.0
triggers_module=github.com/tektoncd/triggers@v0.37.0
components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

log() { printf 'cluster: %s\n' "$*" >&2; }
die() { printf 'cluster: error: %s\n' "$*" >&2; exit 1; }

# True when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Ports handed out by this run: nothing listens on them until the components start, so the probe alone
# could pick one twice.
taken_ports=" "

# Sets variable $1 to a port nothing listens on and this run has not handed out yet.
free_port() {
    local p tries=0 ephemeral_low=32768 _high
    # Below the kernel's ephemeral range: a port there can be taken by any outgoing connection (a kubectl
    # call, a test's fetch) between this check and the component's bind.
    read -r ephemeral_low _high </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    local span=$((ephemeral_low - 20000))
    [ "$span" -ge 1000 ] || span=12000
    while [ "$tries" -lt 200 ]; do
        p=$((20000 + RANDOM % span))
        tries=$((tries + 1))
        [[ "$taken_ports" == *" $p "* ]] && continue
        port_in_use "$p" && continue
        taken_ports+="$p "
        printf -v "$1" '%s' "$p"
        return 0
    done
    die "no free port found on 127.0.0.1 after 200 tries"
}

# True when the PID recorded for component $1 is alive and still that component's binary (a PID the
# kernel reused for something else is not ours). "binary@instance" names one of several runs of a binary.
pid_of_ours() {
    local pid=$2
    kill -0 "$pid" 2>/dev/null && [ "$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null)")" = "${1%%@*}" ]
}

# Stops the processes the pid files given record, those still ours, at once: TERM to each, then KILL to any
# left after 5 s (some ignore TERM). Removes the files; STOPPED is how many it stopped.
stop_recorded() {
    local file pid
    local -a pids=() alive=()
    for file in "$@"; do
        [ -f "$file" ] || continue
        pid=$(cat "$file")
        rm -f "$file"
        pid_of_ours "${file##*/}" "$pid" || continue
        kill "$pid" 2>/dev/null || true
        pids+=("$pid")
    done
    STOPPED=${#pids[@]}
    for _ in $(seq 50); do
        alive=()
        for pid in ${pids[@]+"${pids[@]}"}; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
        [ "${#alive[@]}" -eq 0 ] && return 0
        sleep 0.1
    done
    kill -9 "${alive[@]}" 2>/dev/null || true
}

pid_alive() { [ -f "$state/pids/$1" ] && pid_of_ours "$1" "$(cat "$state/pids/$1")"; }

kubectl_admin() { "$bin/kubectl" --kubeconfig "$state/admin.kubeconfig" "$@"; }

api_ready() { kubectl_admin get --raw /readyz >/dev/null 2>&1; }

# Waits up to $2 seconds for "$3 ..." to succeed; names the component and shows its log tail if not.
wait_for() {
    local what=$1 timeout=$2 deadline
    shift 2
    deadline=$((SECONDS + timeout))
    until "$@"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "$what not ready within ${timeout}s; last lines of $state/logs/$what.log:"
            tail -15 "$state/logs/$what.log" >&2 || true
            exit 1
        fi
        sleep 0.2
    done
}

launch() {
    local name=$1
    shift
    pid_alive "$name" && die "$name already runs (pid $(cat "$state/pids/$name")); run 'bash scripts/cluster.sh stop' first"
    "$bin/$name" "$@" >"$state/logs/$name.log" 2>&1 &
    echo $! >"$state/pids/$name"
}

# --- certificates and the kubeconfig ---------------------------------------------------------------------
# P-256 keys throughout: making an RSA-2048 key cost ~0.3 s of CPU here, an EC key ~1 ms, and the test
# command starts three control planes.
make_certs() {
    local c="$state/certs"
    mkdir -p "$c"
    [ -f "$c/ca.crt" ] && return 0
    if ! command -v openssl >/dev/null && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        log "installing openssl (apt-get); it makes the cluster's certificates"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
    fi
    command -v openssl >/dev/null || die "openssl is not on PATH (apt-get install openssl); it makes the cluster's certificates"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=tekton-dag-local-ca" \
        -keyout "$c/ca.key" -out "$c/ca.crt" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' >"$c/server.ext"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=kube-apiserver" -keyout "$c/server.key" -out "$c/server.csr" 2>/dev/null
    openssl x509 -req -in "$c/server.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" -CAcreateserial -days 3650 \
        -extfile "$c/server.ext" -out "$c/server.crt" 2>/dev/null
    # One client identity for the control-plane components and the tests' admin (group system:masters).
    # It never reaches a task script: those run with ServiceAccount tokens.
    printf 'extendedKeyUsage=clientAuth\n' >"$c/client.ext"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=system:masters/CN=tekton-dag-local-admin" \
        -keyout "$c/admin.key" -out "$c/admin.csr" 2>/dev/null
    openssl x509 -req -in "$c/admin.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" -CAcreateserial -days 3650 \
        -extfile "$c/client.ext" -out "$c/admin.crt" 2>/dev/null
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$c/sa.key" 2>/dev/null
    openssl pkey -in "$c/sa.key" -pubout -out "$c/sa.pub" 2>/dev/null
}

# kwok's serving certificate (its kubelet-like log endpoint on 127.0.0.1): the API server verifies it
# against the local CA (--kubelet-certificate-authority) instead of trusting any certificate.
make_kwok_cert() {
    local c="$state/certs"
    [ -f "$c/kwok.crt" ] && return 0
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$c/kwok.ext"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=kwok-node-0" -keyout "$c/kwok.key" -out "$c/kwok.csr" 2>/dev/null
    openssl x509 -req -in "$c/kwok.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" -CAcreateserial -days 3650 \
        -extfile "$c/kwok.ext" -out "$c/kwok.crt" 2>/dev/null
}

# kwok's own settings that have no flag: no pprof handler on its unauthenticated server (a heap profile
# would show the admin credentials kwok holds). kwok applies no defaults to a configuration file it is
# given, so the file restates kwok 0.8.0's defaults for the other options without a flag.
write_kwok_config() {
    cat >"$state/kwok-config.yaml" <<'EOF'
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  enableProfilingHandler: false
  enableContentionProfiling: false
  enableDebuggingHandlers: true
  podPlayStageParallelism: 4
  nodePlayStageParallelism: 4
  nodeLeaseParallelism: 4
  podsOnNodeSyncParallelism: 1
  enablePodsOnNodeSyncListPager: true
  enablePodsOnNodeSyncStreamWatch: false
EOF
}

write_kubeconfig() {
    local c="$state/certs" port=$1
    cat >"$state/admin.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: tekton-dag-local
  cluster:
    server: https://127.0.0.1:${port}
    certificate-authority: ${c}/ca.crt
users:
- name: admin
  user:
    client-certificate: ${c}/admin.crt
    client-key: ${c}/admin.key
contexts:
- name: tekton-dag-local
  context: {cluster: tekton-dag-local, user: admin}
current-context: tekton-dag-local
EOF
}

# Who created and who deleted each object a run labels: the tests' cross-run deletion check reads it (a
# ServiceAccount token's id appears as the credential-id of each request). And every request of the
# pipeline ServiceAccount and of the listener's TaskRuns' (stop-pr-runs, retest-pr), without bodies: the tests
# check what a task script read (e.g. which pods' logs) and that every granted verb was used.
write_audit_policy() {
    cat >"$state/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: RequestResponse
    verbs: [create, delete, deletecollection]
    resources:
      - {group: "", resources: [pods, configmaps]}
      - {group: batch, resources: [jobs]}
      - {group: coordination.k8s.io, resources: [leases]}
    namespaces: [staging]
  # Every state the intercept lock is written in (its holders), for the lock's tests.
  - level: RequestResponse
    verbs: [update]
    resources:
      - {group: coordination.k8s.io, resources: [leases]}
    namespaces: [staging]
  - level: Metadata
    users: ["system:serviceaccount:tekton-dag:tekton-dag-pipeline", "system:serviceaccount:tekton-dag:tekton-dag-pr-stopper",
            "system:serviceaccount:tekton-dag:tekton-dag-retest"]
  - level: None
EOF
}

# --- start / stop / status -------------------------------------------------------------------------------
start() {
    local t0=$SECONDS
    bin=$(bash "$repo/scripts/cluster-build.sh") || die "a control-plane binary failed to build (see the lines above); nothing started"
    for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do
        [ -x "$bin/$b" ] || die "binary $bin/$b is missing after the build; run 'bash scripts/cluster-build.sh' and read its log"
    done
    for name in "${components[@]}"; do
        pid_alive "$name" && die "the local cluster already runs ($name pid $(cat "$state/pids/$name")); 'bash scripts/cluster.sh stop' first"
    done
    # From here on a failure stops whatever this start launched (the checks above found nothing of ours running).
    trap stop_all EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    mkdir -p "$state/pids" "$state/logs"
    rm -rf "$state/etcd"
    make_certs
    make_kwok_cert
    # The tests' per-pod log files (kwok reads them; see the header); the last cluster's went with its etcd.
    rm -rf "$state/pod-logs"
    mkdir "$state/pod-logs"
    chmod 700 "$state/pod-logs"

    local api_port etcd_port peer_port kcm_port sched_port kwok_port
    if [ -n "${TEKTON_DAG_CLUSTER_PORT:-}" ]; then
        if ! [[ "$TEKTON_DAG_CLUSTER_PORT" =~ ^[0-9]{4,5}$ ]] || [ "$TEKTON_DAG_CLUSTER_PORT" -lt 1024 ] || [ "$TEKTON_DAG_CLUSTER_PORT" -gt 65535 ]; then
            die "TEKTON_DAG_CLUSTER_PORT must be a port number 1024-65535; got '$TEKTON_DAG_CLUSTER_PORT'"
        fi
        api_port=$TEKTON_DAG_CLUSTER_PORT
        port_in_use "$api_port" && die "port $api_port on 127.0.0.1 (TEKTON_DAG_CLUSTER_PORT) is in use by another process; choose another or unset it for a free one"
    else
        free_port api_port
    fi
    taken_ports+="$api_port "
    free_port etcd_port
    free_port peer_port
    free_port kcm_port
    free_port sched_port
    free_port kwok_port
    printf 'api=%s\netcd=%s\nkwok=%s\n' "$api_port" "$etcd_port" "$kwok_port" >"$state/ports"
    write_kubeconfig "$api_port"
    local c="$state/certs"

    launch etcd --name local --data-dir "$state/etcd" \
        --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
        --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
        --initial-cluster "local=http://127.0.0.1:$peer_port" --unsafe-no-fsync --log-level warn
    wait_for etcd 30 port_in_use "$etcd_port"

    write_audit_policy
    # The tests read the audit log by byte offset within one cluster's life, so it is never rotated; each
    # start begins it empty instead (the policy logs bodies only for creates and deletes in one namespace).
    : >"$state/logs/audit.log"
    # Every client (components, tests, task tokens) authenticates; anonymous requests are refused.
    # RBAC is the authorizer the tests exercise; no endpoint reconciler (the only address is loopback).
    # The kubelet (kwok) is reached at the node's InternalIP only, and its certificate must chain to our CA.
    launch kube-apiserver --etcd-servers "http://127.0.0.1:$etcd_port" \
        --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
        --tls-cert-file "$c/server.crt" --tls-private-key-file "$c/server.key" --client-ca-file "$c/ca.crt" \
        --service-account-key-file "$c/sa.pub" --service-account-signing-key-file "$c/sa.key" \
        --service-account-issuer https://kubernetes.default.svc \
        --service-cluster-ip-range 10.0.0.0/24 --authorization-mode Node,RBAC \
        --endpoint-reconciler-type none --profiling=false --anonymous-auth=false --allow-privileged=true \
        --kubelet-preferred-address-types InternalIP --kubelet-certificate-authority "$c/ca.crt" \
        --audit-policy-file "$state/audit-policy.yaml" --audit-log-path "$state/logs/audit.log" --audit-log-maxsize 0
    wait_for kube-apiserver 60 api_ready
    log "API server ready on https://127.0.0.1:$api_port after $((SECONDS - t0))s"

    launch kube-controller-manager --kubeconfig "$state/admin.kubeconfig" \
        --bind-address 127.0.0.1 --secure-port "$kcm_port" --leader-elect=false \
        --service-account-private-key-file "$c/sa.key" --root-ca-file "$c/ca.crt" \
        --use-service-account-credentials=false --profiling=false
    launch kube-scheduler --kubeconfig "$state/admin.kubeconfig" \
        --bind-address 127.0.0.1 --secure-port "$sched_port" --leader-elect=false --profiling=false
    # No pod-complete stage: it ends every Job's pod at once, and a mirrord agent runs while its proxy does.
    local stage_args=() f
    for f in node-initialize node-heartbeat-with-lease pod-ready pod-delete; do
        [ -f "$bin/kwok-stages/$f.yaml" ] || die "kwok stage file $bin/kwok-stages/$f.yaml is missing; run 'bash scripts/cluster-build.sh'"
        stage_args+=(-c "$bin/kwok-stages/$f.yaml")
    done
    # Proxy pods are left alone: what their containers do (the mirrord and Telepresence CLIs) decides
    # whether they become Ready, fail or end, and the tests' stand-ins play those containers and the kubelet.
    # kwok watches Logs objects (its informer retries until load_crds below has created the CRD); the node
    # it initialises gets InternalIP 127.0.0.1 and kwok's port as its kubelet port, which is where the API
    # server sends pods/log.
    write_kwok_config
    launch kwok --kubeconfig "$state/admin.kubeconfig" --manage-all-nodes=false \
        --disregard-status-with-label-selector 'tekton-dag.io/role in (mirrord-proxy,telepresence-intercept)' \
        --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake --node-lease-duration-seconds 40 \
        --cidr 10.244.0.1/16 --node-ip 127.0.0.1 --node-port "$kwok_port" \
        --server-address "127.0.0.1:$kwok_port" --tls-cert-file "$c/kwok.crt" --tls-private-key-file "$c/kwok.key" \
        --enable-crds Logs -c "$state/kwok-config.yaml" "${stage_args[@]}"

    kubectl_admin apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {kubernetes.io/hostname: kwok-node-0, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok}
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "500"}
  capacity: {cpu: "32", memory: 256Gi, pods: "500"}
EOF
    load_crds
    for ns in $namespaces; do
        kubectl_admin create namespace "$ns" >/dev/null
    done
    # Pods are refused until the controller manager created each namespace's default ServiceAccount.
    for ns in $namespaces; do
        wait_for kube-controller-manager 60 has_default_sa "$ns"
    done
    wait_for kwok 60 node_ready
    wait_for kwok 30 node_serves_logs "$kwok_port"
    trap - EXIT INT TERM
    log "local cluster up in $((SECONDS - t0))s (namespaces: $namespaces); KUBECONFIG=$state/admin.kubeconfig"
    echo "$state/admin.kubeconfig"
}

has_default_sa() { kubectl_admin get serviceaccount default -n "$1" >/dev/null 2>&1; }

# The API server finds kwok's log endpoint through the node's status, and kwok listens there.
node_serves_logs() {
    [ "$(kubectl_admin get node kwok-node-0 -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address} {.status.daemonEndpoints.kubeletEndpoint.Port}' 2>/dev/null)" = "127.0.0.1 $1" ] &&
        port_in_use "$1"
}

node_ready() {
    [ "$(kubectl_admin get node kwok-node-0 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

# The CRD files of the Tekton releases the program installs, from their Go module zips (downloaded once
# into the Go module cache). Only CustomResourceDefinitions: the webhook configurations would make every
# Tekton object fail admission, as no webhook runs here. With them kwok's Logs CRD (see the header).
load_crds() {
    local pdir tdir files=()
    command -v go >/dev/null || die "go is not on PATH (the Tekton CRDs come from the Go module proxy)"
    pdir=$(go mod download -json "$pipeline_module" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p') ||
        die "could not download $pipeline_module from the Go module proxy (GOPROXY=$(go env GOPROXY))"
    tdir=$(go mod download -json "$triggers_module" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p') ||
        die "could not download $triggers_module from the Go module proxy (GOPROXY=$(go env GOPROXY))"
    [ -d "$pdir/config/300-crds" ] || die "no config/300-crds in $pipeline_module (go mod download)"
    files+=("$pdir"/config/300-crds/*.yaml)
    for f in "$tdir"/config/300-*.yaml; do
        grep -q '^kind: CustomResourceDefinition' "$f" && files+=("$f")
    done
    f=$(kwok_logs_crd) || exit 1
    files+=("$f")
    local args=()
    for f in "${files[@]}"; do args+=(-f "$f"); done
    command -v jq >/dev/null 2>&1 || die "jq is required to load the Tekton CRDs (apt-get install jq)"
    # A CRD whose versions are converted by Tekton's webhook serves only its storage version here. The API
    # server keeps a watch cache per served version; with no webhook to convert, the caches of the others
    # fail on every stored object and retry without end (measured: half the CPU of the Tekton tier's API
    # server over a test run, with 60,000 errors logged), and a request at such a version could only fail.
    kubectl_admin create --dry-run=client -o json "${args[@]}" |
        jq -s '{apiVersion: "v1", kind: "List", items: map(
            if .spec.conversion.strategy == "Webhook"
            then .spec.conversion = {strategy: "None"} | .spec.versions |= map(.served = .storage)
            else . end)}' |
        kubectl_admin apply --server-side -f - >/dev/null
    # Not `kubectl wait --for condition=Established`: it fails, instead of waiting, on a CRD whose
    # status.conditions the API server has not set yet (null just after the create; seen on a loaded machine).
    local deadline=$((SECONDS + 60)) pending
    while true; do
        pending=$(kubectl_admin get crd -o json | jq -r '[.items[] | select(any(.status.conditions[]?; .type == "Established" and .status == "True") | not)
            | .metadata.name] | join(", ")') || die "cannot read the CRDs back"
        [ -n "$pending" ] || break
        [ "$SECONDS" -lt "$deadline" ] || die "CRDs not Established within 60 s: ${pending}"
        sleep 0.2
    done
}

# kwok's Logs CRD file, from the kwok module zip of the version cluster-build.sh builds.
kwok_logs_crd() {
    local version dir
    version=$(sed -n 's#^require sigs.k8s.io/kwok \(v[0-9.]*\)$#\1#p' "$repo/tools/kube-control-plane/kwok/go.mod")
    [ -n "$version" ] || die "tools/kube-control-plane/kwok/go.mod must hold 'require sigs.k8s.io/kwok vX.Y.Z'"
    dir=$(go mod download -json "sigs.k8s.io/kwok@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p') ||
        die "could not download sigs.k8s.io/kwok@$version from the Go module proxy (GOPROXY=$(go env GOPROXY))"
    [ -f "$dir/kustomize/crd/bases/kwok.x-k8s.io_logs.yaml" ] || die "no kustomize/crd/bases/kwok.x-k8s.io_logs.yaml in sigs.k8s.io/kwok@$version"
    printf '%s\n' "$dir/kustomize/crd/bases/kwok.x-k8s.io_logs.yaml"
}

stop_all() {
    local name stopped=0
    # Tekton's controllers and sinks (tekton-start) are API clients too: they go first.
    tekton_stop
    # Reverse start order: the API server's clients first (together: none waits on another), etcd last.
    stop_recorded "$state/pids/kwok" "$state/pids/kube-scheduler" "$state/pids/kube-controller-manager"
    stopped=$STOPPED
    for name in kube-apiserver etcd; do
        stop_recorded "$state/pids/$name"
        stopped=$((stopped + STOPPED))
    done
    log "stopped $stopped process(es)"
}

status() {
    local name any=1
    for name in "${components[@]}"; do
        if pid_alive "$name"; then
            printf '%-24s running (pid %s)\n' "$name" "$(cat "$state/pids/$name")"
            any=0
        else
            printf '%-24s not running\n' "$name"
        fi
    done
    [ "$any" -eq 0 ] || { log "not running"; return 1; }
    [ -f "$state/admin.kubeconfig" ] || die "no kubeconfig at $state/admin.kubeconfig; start the cluster with 'bash scripts/cluster.sh start'"
    bin=$(bash "$repo/scripts/cluster-build.sh" --check)
    api_ready || { log "API server does not answer"; return 1; }
    echo "kubeconfig: $state/admin.kubeconfig"
}

# shellcheck source=scripts/lib-tekton-controllers.sh
. "$repo/scripts/lib-tekton-controllers.sh"

case "${1:-}" in
    start) start ;;
    tekton-start) tekton_start ;;
    tekton-stop) tekton_stop ;;
    tekton-sink) tekton_sink "${2:-}" "${3:-}" ;;
    stop) stop_all ;;
    status) status ;;
    env)
        [ -f "$state/admin.kubeconfig" ] || die "no kubeconfig at $state/admin.kubeconfig; start the cluster with 'bash scripts/cluster.sh start'"
        bin=$(bash "$repo/scripts/cluster-build.sh" --check) || die "the control plane is not built; run 'bash scripts/cluster.sh start'"
        # shellcheck disable=SC2016 # $PATH is for the shell that evals this
        printf 'export KUBECONFIG=%q\nexport PATH=%q:"$PATH"\n' "$state/admin.kubeconfig" "$bin"
        ;;
    *) die "usage: bash scripts/cluster.sh start|stop|status|env|tekton-start|tekton-stop|tekton-sink NS NAME (got '${1:-}')" ;;
esac
