#!/usr/bin/env bash
# Starts the simulated Kubernetes cluster (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and kwok with fake nodes) and one real node (containerd + kubelet on this machine,
# tainted pontoon.dev/real-node=true:NoSchedule), or reuses them if they already run. Idempotent.
#
# State (certificates, kubeconfigs, etcd data, logs, pids): ${PONTOON_CLUSTER_DIR:-$HOME/.cache/pontoon/cluster}
# Kubeconfig for kubectl and @kubernetes/client-node: $STATE/kubeconfig (printed at the end).
# The binaries are built on first use by build.sh (about 10 minutes once on 2 cores, then cached).
#
# Environment: PONTOON_APISERVER_PORT (6443), PONTOON_ETCD_PORT (2379), PONTOON_ETCD_PEER_PORT (2380),
# PONTOON_CONTROLLER_MANAGER_PORT (10257), PONTOON_SCHEDULER_PORT (10259), PONTOON_KWOK_PORT (10247),
# PONTOON_NODE_COUNT (3), PONTOON_NODE_CPU (16), PONTOON_NODE_MEMORY (64Gi), PONTOON_NODE_PODS (110),
# PONTOON_CLUSTER_TIMEOUT (seconds per readiness step, 90).
# Real node: PONTOON_REAL_NODE (1; 0 skips it), PONTOON_KUBELET_PORT (10250, the next free one if taken),
# PONTOON_REAL_NODE_SUBNET (10.88.0.0/16), PONTOON_REAL_NODE_BRIDGE (pontoon0); it needs root.
# Its facts (node name, gateway address for host services, containerd socket) go to $STATE/real-node.env.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for tool in openssl curl ss; do
  command -v "$tool" >/dev/null || die "$tool is required (apt-get install openssl curl iproute2)"
done

# Serialize with other up.sh/down.sh runs on the same state dir.
lock_state

# 1. Binaries (a no-op when cached).
if ! load_bins; then
  log "cluster binaries not cached yet: building them now with build.sh (about 10 minutes on 2 cores, once)"
fi
bash "$CLUSTER_SRC_DIR/build.sh" || die "building the cluster binaries failed (see the build output above)"
load_bins || die "build.sh did not produce the binaries listed in $CACHE_ROOT/cluster-bins.env"
[ -n "$(kubectl_bin)" ] || die "no kubectl found (build.sh builds one; or set PONTOON_KUBECTL)"

mkdir -p "$PKI" "$LOGS" "$RUN"

# 2. Certificates and keys (once).
gen_cert() { # gen_cert NAME SUBJECT EXTENSIONS [CA-NAME]
  local name="$1" subj="$2" ext="$3" ca="${4:-ca}"
  [ -f "$PKI/$name.crt" ] && return 0
  openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  printf '[v3]\n%s\n' "$ext" >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$PKI/$name.ext" -extensions v3 -out "$PKI/$name.crt" 2>"$PKI/openssl.err" \
    || die "openssl failed to create $PKI/$name.crt: $(cat "$PKI/openssl.err")"
  rm -f "$PKI/openssl.err"
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}
gen_ca() { # gen_ca NAME CN  (returns 1 if it already exists)
  [ -f "$PKI/$1.crt" ] && return 1
  log "generating CA $1 in $PKI"
  printf '%s\n' '[req]' 'distinguished_name = dn' 'x509_extensions = v3_ca' 'prompt = no' '[dn]' "CN = $2" \
    '[v3_ca]' 'basicConstraints = critical, CA:TRUE' \
    'keyUsage = critical, digitalSignature, keyEncipherment, keyCertSign, cRLSign' \
    'subjectKeyIdentifier = hash' >"$PKI/$1.cnf"
  openssl genrsa -out "$PKI/$1.key" 2048 2>/dev/null
  openssl req -x509 -new -nodes -key "$PKI/$1.key" -sha256 -days 3650 -config "$PKI/$1.cnf" -out "$PKI/$1.crt"
  rm -f "$PKI/$1.cnf"
}
# A new CA invalidates every certificate signed by the old one.
if gen_ca ca pontoon-cluster-ca; then rm -f "$PKI"/{apiserver,admin,kube-controller-manager,kube-scheduler,kwok,kube-apiserver-kubelet-client}.crt "$PKI"/kubelet-*.crt; fi
# The front-proxy CA only serves the apiserver's request-header authentication (aggregation layer).
if gen_ca front-proxy-ca pontoon-front-proxy-ca; then rm -f "$PKI/front-proxy-client.crt"; fi
CLIENT_EXT=$'basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature, keyEncipherment\nextendedKeyUsage = clientAuth'
gen_cert apiserver "/CN=kube-apiserver" \
  $'basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, IP:127.0.0.1, IP:10.96.0.1'
gen_cert admin "/O=system:masters/CN=pontoon-admin" "$CLIENT_EXT"
gen_cert kube-controller-manager "/CN=system:kube-controller-manager" "$CLIENT_EXT"
gen_cert kube-scheduler "/CN=system:kube-scheduler" "$CLIENT_EXT"
gen_cert kwok "/O=system:masters/CN=kwok-controller" "$CLIENT_EXT"
# The apiserver's client certificate towards kubelets (pods/log, exec); RBAC: system:kubelet-api-admin.
gen_cert kube-apiserver-kubelet-client "/CN=pontoon:kube-apiserver-kubelet-client" "$CLIENT_EXT"
gen_cert front-proxy-client "/CN=front-proxy-client" "$CLIENT_EXT" front-proxy-ca
if [ ! -f "$PKI/sa.key" ]; then
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
fi
chmod 600 "$PKI"/*.key

write_kubeconfig() { # write_kubeconfig FILE CERTNAME
  local tmp="$1.tmp"
  cat >"$tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: pontoon
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 <"$PKI/$2.crt")
    client-key-data: $(base64 -w0 <"$PKI/$2.key")
contexts:
- name: pontoon
  context:
    cluster: pontoon
    user: $2
current-context: pontoon
EOF
  chmod 600 "$tmp"; mv "$tmp" "$1"
}
write_kubeconfig "$KUBECONFIG_FILE" admin
for c in kube-controller-manager kube-scheduler kwok; do write_kubeconfig "$STATE/$c.kubeconfig" "$c"; done

cat >"$STATE/kube-scheduler.yaml" <<EOF
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: $STATE/kube-scheduler.kubeconfig
  qps: 500
  burst: 1000
leaderElection:
  leaderElect: false
EOF

# 3. Components.
fail_component() { # fail_component NAME WHY
  local lf; lf="$(log_file "$1")"
  {
    echo "[cluster] ERROR: $1 $2"
    echo "[cluster] its log: $lf (last 25 lines below)"
    tail -n 25 "$lf" 2>/dev/null | sed 's/^/    | /'
  } >&2
  exit 1
}

start_component() { # start_component NAME ARGS...
  local name="$1"; shift
  local bin port lf
  bin="$(bin_of "$name")"; port="$(port_of "$name")"; lf="$(log_file "$name")"
  # A process just stopped may hold its port a moment longer: a Go program's main thread shows as a
  # zombie (so `alive` says no) while its other threads still exit and close its sockets.
  local i
  for i in $(seq 30); do { [ -n "$port" ] && port_in_use "$port"; } || break; sleep 0.1; done
  if [ -n "$port" ] && port_in_use "$port"; then
    die "cannot start $name: port $port is already in use by another process ($(ss -Hltnp "sport = :$port" | head -n1)); set PONTOON_*_PORT to use another port, or stop that process"
  fi
  [ -f "$lf" ] && mv -f "$lf" "$lf.1"
  echo "--- $(date -u +%Y-%m-%dT%H:%M:%SZ) starting $bin" >"$lf"
  setsid "$bin" "$@" >>"$lf" 2>&1 </dev/null 9>&- &  # fd 9 is the state lock
  echo "$!" >"$(pid_file "$name")"
  log "$name: started (pid $!, log $lf)"
}

wait_healthy() { # wait_healthy NAME
  local name="$1" deadline=$(( $(date +%s) + UP_TIMEOUT ))
  while ! health_check "$name"; do
    component_pid "$name" >/dev/null || fail_component "$name" "exited during start-up"
    [ "$(date +%s)" -lt "$deadline" ] || fail_component "$name" "is not healthy after ${UP_TIMEOUT}s (health endpoint on port $(port_of "$name"))"
    sleep 0.3
  done
}

stop_component() { # stop_component NAME PID
  kill -TERM "$2" 2>/dev/null || true
  for _ in $(seq 150); do alive "$2" || return 0; sleep 0.1; done
  kill -KILL "$2" 2>/dev/null || true
  for _ in $(seq 50); do alive "$2" || return 0; sleep 0.1; done
}

# ensure_component NAME ARGS...: starts NAME unless it runs already with the same binary, flags
# and $EXTRA_FINGERPRINT (restarts it when they changed), then waits until it is healthy.
ensure_component() {
  local name="$1" pid fp fp_file
  fp="$(printf '%s\n' "$(bin_of "$name")" "$@" "${EXTRA_FINGERPRINT:-}" | sha256sum | cut -c1-16)"
  fp_file="$RUN/$name.fingerprint"
  if pid="$(component_pid "$name")"; then
    if [ "$(cat "$fp_file" 2>/dev/null)" = "$fp" ]; then
      log "$name: already running (pid $pid)"
    else
      log "$name: binary, flags or config changed since it started: restarting it"
      stop_component "$name" "$pid"
      start_component "$@"
    fi
  else
    start_component "$@"
  fi
  echo "$fp" >"$fp_file"
  wait_healthy "$name"
}

ensure_component etcd \
  --name=pontoon \
  --data-dir="$STATE/etcd-data" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="pontoon=http://127.0.0.1:$ETCD_PEER_PORT" \
  --listen-metrics-urls="" \
  --unsafe-no-fsync=true \
  --quota-backend-bytes=8589934592 \
  --log-level=warn

ensure_component kube-apiserver \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=127.0.0.1 \
  --advertise-address=127.0.0.1 \
  --secure-port="$APISERVER_PORT" \
  --tls-cert-file="$PKI/apiserver.crt" \
  --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" \
  --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User \
  --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="$PKI/front-proxy-client.crt" \
  --proxy-client-key-file="$PKI/front-proxy-client.key" \
  --kubelet-client-certificate="$PKI/kube-apiserver-kubelet-client.crt" \
  --kubelet-client-key="$PKI/kube-apiserver-kubelet-client.key" \
  --authorization-mode=Node,RBAC \
  --enable-admission-plugins=NodeRestriction \
  --service-cluster-ip-range=10.96.0.0/16 \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" \
  --service-account-signing-key-file="$PKI/sa.key" \
  --endpoint-reconciler-type=none \
  --allow-privileged=true \
  --profiling=false

# Fake nodes (kwok manages nodes annotated kwok.x-k8s.io/node=fake). Status set on create is kept
# for Nodes, so capacity is in place before kwok initializes them.
nodes_yaml() {
  local i n
  for ((i = 0; i < NODE_COUNT; i++)); do
    n="$(node_name "$i")"
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: $n
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: $n
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
    pontoon.dev/sim-node: "true"
spec: {}
status:
  allocatable: {cpu: "$NODE_CPU", memory: "$NODE_MEMORY", pods: "$NODE_PODS"}
  capacity: {cpu: "$NODE_CPU", memory: "$NODE_MEMORY", pods: "$NODE_PODS"}
EOF
  done
}
for ((i = 0; i < NODE_COUNT; i++)); do
  if ! kc get node "$(node_name "$i")" >/dev/null 2>&1; then
    nodes_yaml | kc create -f - 2>&1 | grep -v AlreadyExists >&2 || true
    log "fake nodes created: $NODE_COUNT x (cpu $NODE_CPU, memory $NODE_MEMORY, pods $NODE_PODS)"
    break
  fi
done

ensure_component kube-controller-manager \
  --kubeconfig="$STATE/kube-controller-manager.kubeconfig" \
  --authentication-kubeconfig="$STATE/kube-controller-manager.kubeconfig" \
  --authorization-kubeconfig="$STATE/kube-controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 \
  --secure-port="$KCM_PORT" \
  --leader-elect=false \
  --controllers='*' \
  --use-service-account-credentials=true \
  --service-account-private-key-file="$PKI/sa.key" \
  --root-ca-file="$PKI/ca.crt" \
  --cluster-signing-cert-file="$PKI/ca.crt" \
  --cluster-signing-key-file="$PKI/ca.key" \
  --kube-api-qps=500 \
  --kube-api-burst=1000 \
  --profiling=false

ensure_component kube-scheduler \
  --config="$STATE/kube-scheduler.yaml" \
  --authentication-kubeconfig="$STATE/kube-scheduler.kubeconfig" \
  --authorization-kubeconfig="$STATE/kube-scheduler.kubeconfig" \
  --bind-address=127.0.0.1 \
  --secure-port="$SCHEDULER_PORT" \
  --profiling=false

# Pod logs: kwok serves /containerLogs (what pods/log reaches through the apiserver) from the file
# a kwok Logs object names for a pod; tests create one per pod to give it a log (test/kube-helpers.ts).
kc apply --server-side -f "$CLUSTER_SRC_DIR/crds/kwok.x-k8s.io_logs.yaml" >/dev/null \
  || die "could not install kwok's Logs CRD (dev/cluster/crds)"

# kwok reads its Stages at start: it is restarted when dev/cluster/stages changed. They are copied
# into the cache under their content's hash, so the flags name the content, not this checkout: a
# second checkout (a clean clone running CI, a worktree) with the same stages shares the running kwok
# instead of restarting it under the first one's tests.
STAGES_HASH="$(cd "$CLUSTER_SRC_DIR/stages" && sha256sum -- *.yaml | sha256sum | cut -c1-16)"
STAGES_DIR="$STATE/kwok-stages/$STAGES_HASH"
if [ ! -d "$STAGES_DIR" ]; then
  mkdir -p "$STAGES_DIR.tmp.$$"
  cp -- "$CLUSTER_SRC_DIR"/stages/*.yaml "$STAGES_DIR.tmp.$$/"
  mv -T -- "$STAGES_DIR.tmp.$$" "$STAGES_DIR" 2>/dev/null || rm -rf -- "$STAGES_DIR.tmp.$$"
fi
STAGE_FILES=("$STAGES_DIR"/*.yaml)
ensure_component kwok \
  --kubeconfig="$STATE/kwok.kubeconfig" \
  --config="$(IFS=,; echo "${STAGE_FILES[*]}")" \
  --manage-all-nodes=false \
  --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --cidr=10.244.0.0/16 \
  --enable-crds=Logs \
  --server-address="127.0.0.1:$KWOK_PORT"

# 4. Cluster-level readiness.
if ! out="$(kc wait --for=condition=Ready node -l pontoon.dev/sim-node=true --timeout="${UP_TIMEOUT}s" 2>&1)"; then
  echo "$out" >&2
  fail_component kwok "did not make the fake nodes Ready within ${UP_TIMEOUT}s"
fi
# The apiserver reaches a node's kubelet at its address and kubeletEndpoint port: point every fake
# node at kwok's server (TLS, self-signed; the apiserver has no --kubelet-certificate-authority, so it
# does not verify it). Only an InternalIP, so the apiserver's address preference picks it.
for ((i = 0; i < NODE_COUNT; i++)); do
  n="$(node_name "$i")"
  # Also when the address went missing: node status updates were seen to drop it on a long-lived cluster.
  if [ "$(kc get node "$n" -o jsonpath='{.status.daemonEndpoints.kubeletEndpoint.Port}')" != "$KWOK_PORT" ] \
    || [ "$(kc get node "$n" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')" != "127.0.0.1" ]; then
    kc patch node "$n" --subresource=status --type=merge \
      -p "{\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"127.0.0.1\"}],\"daemonEndpoints\":{\"kubeletEndpoint\":{\"Port\":$KWOK_PORT}}}}" >/dev/null \
      || fail_component kwok "could not point node $n at kwok's kubelet server"
  fi
done
deadline=$(( $(date +%s) + UP_TIMEOUT ))
until kc get serviceaccount default -n default >/dev/null 2>&1; do
  [ "$(date +%s)" -lt "$deadline" ] || fail_component kube-controller-manager "did not create the default ServiceAccount within ${UP_TIMEOUT}s"
  sleep 0.3
done

# 5. The real node (after kwok, whose flags keep it off this node).
real_note=""
if [ "$REAL_NODE_WANTED" != 0 ]; then
  real_node_up
  real_note=" + real node $REAL_NODE_NAME (facts: $REAL_NODE_ENV_FILE)"
elif real_node_traces && component_pid kubelet >/dev/null; then
  log "PONTOON_REAL_NODE=0: the real node from an earlier run still runs (stop it with down.sh)"
fi

log "cluster ready: Kubernetes $K8S_VERSION (etcd $ETCD_VERSION, kwok $KWOK_VERSION), $NODE_COUNT fake nodes$real_note"
log "kubeconfig: $KUBECONFIG_FILE   (export KUBECONFIG=$KUBECONFIG_FILE)"
echo "$KUBECONFIG_FILE"
