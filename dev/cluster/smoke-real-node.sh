#!/usr/bin/env bash
# Smoke test of the real node (containerd + kubelet beside kwok's fake nodes): brings the cluster up
# (reusing a running one), pushes the static test image (real-node/testbin.c) to the local registry
# and runs pods that select and tolerate the real node:
#   - a pod with a native sidecar (init container, restartPolicy: Always): runs to completion, its
#     stdout is in `kubectl logs`, its IP is in the bridge's subnet, it opens a TCP connection to a
#     listener this script binds on the gateway address (as host services for pods do);
#   - a pod whose container exits 7: Failed, exit code 7, reason Error;
#   - a pod over its memory limit: OOMKilled, exit code 137;
#   - `kubectl exec` into a running pod.
# Also checks the node's taint and that kwok does not manage it. Deletes its namespace at the end
# and leaves the cluster running (stop it with down.sh). Exit code 0 on success.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

[ "$REAL_NODE_WANTED" != 0 ] || { echo "PONTOON_REAL_NODE=0: nothing to test"; exit 0; }
bash "$HERE/up.sh" >/dev/null
load_bins
# shellcheck disable=SC1090
. "$REAL_NODE_ENV_FILE"
KUBECTL="$(kubectl_bin)"
k() { "$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }

FAILED=0
check() { # check DESCRIPTION EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then echo "  ok   $1 = $3"; else echo "  FAIL $1: expected '$2', got '$3'"; FAILED=1; fi
}
check_match() { # check_match DESCRIPTION REGEX ACTUAL
  if [[ "$3" =~ $2 ]]; then echo "  ok   $1 ($3)"; else echo "  FAIL $1: '$3' does not match /$2/"; FAILED=1; fi
}

echo "node $REAL_NODE_NAME: taint and kwok"
check "taint" "$REAL_NODE_TAINT" "$(k get node "$REAL_NODE_NAME" -o jsonpath='{range .spec.taints[*]}{.key}={.value}:{.effect}{end}')"
check "kwok annotation (kwok must not manage it)" "" "$(k get node "$REAL_NODE_NAME" -o jsonpath='{.metadata.annotations.kwok\.x-k8s\.io/node}')"
check "kubelet version" "$KUBELET_VERSION" "$(k get node "$REAL_NODE_NAME" -o jsonpath='{.status.nodeInfo.kubeletVersion}')"
check_match "container runtime" "^containerd://" "$(k get node "$REAL_NODE_NAME" -o jsonpath='{.status.nodeInfo.containerRuntimeVersion}')"

# The test image: one static binary, keyed by its source's hash.
IMAGE="$REGISTRY/pontoon/testbin:$(sha256sum "$REAL_NODE_SRC_DIR/testbin.c" | cut -c1-12)"
if ! "$(crane_bin)" manifest "$IMAGE" >/dev/null 2>&1; then
  push_static_image "$TESTBIN" "$IMAGE" /testbin
fi
echo "test image: $IMAGE"

# A host service on the gateway address: answers "pong" to each connection.
LISTEN_PORT=$((20000 + RANDOM % 20000))
python3 - "$REAL_NODE_GATEWAY" "$LISTEN_PORT" >/tmp/pontoon-real-node-smoke-listener.log 2>&1 <<'EOF' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16)
print("listening", flush=True)
while True:
    c, peer = s.accept()
    c.recv(64); c.sendall(("pong to %s\n" % peer[0]).encode()); c.close()
    print("answered", peer[0], flush=True)
EOF
LISTENER_PID=$!
NS="pontoon-real-node-smoke-$(date +%s)"
cleanup() {
  kill "$LISTENER_PID" 2>/dev/null || true
  k delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT
for _ in $(seq 50); do grep -q listening /tmp/pontoon-real-node-smoke-listener.log 2>/dev/null && break; sleep 0.1; done
grep -q listening /tmp/pontoon-real-node-smoke-listener.log || { cat /tmp/pontoon-real-node-smoke-listener.log; echo "FAIL: no listener on $REAL_NODE_GATEWAY:$LISTEN_PORT"; exit 1; }

k create namespace "$NS" >/dev/null
deadline=$(( $(date +%s) + 60 ))
until k -n "$NS" get serviceaccount default >/dev/null 2>&1; do
  [ "$(date +%s)" -lt "$deadline" ] || { echo "FAIL: no default ServiceAccount in $NS after 60s"; exit 1; }
  sleep 0.2
done

pod() { # pod NAME RESTART-POLICY (then the spec's containers/initContainers YAML on stdin)
  cat <<EOF
---
apiVersion: v1
kind: Pod
metadata: {name: $1}
spec:
  restartPolicy: $2
  terminationGracePeriodSeconds: 5
  nodeSelector: {$REAL_NODE_LABEL: "true"}
  tolerations: [{key: $REAL_NODE_LABEL, operator: Exists, effect: NoSchedule}]
EOF
  sed 's/^/  /'
}

t_create=$(now)
{
  pod sidecar Never <<EOF
initContainers:
- name: sidecar
  image: $IMAGE
  restartPolicy: Always
  env: [{name: MESSAGE, value: "sidecar up"}, {name: FOREVER, value: "1"}]
containers:
- name: main
  image: $IMAGE
  env:
  - {name: MESSAGE, value: "hello from the real node"}
  - {name: STDERR_MESSAGE, value: "a line on stderr"}
  - {name: WRITE_FILE, value: /work/out.txt}
  - {name: CONNECT, value: "$REAL_NODE_GATEWAY:$LISTEN_PORT"}
  volumeMounts: [{name: work, mountPath: /work}]
volumes: [{name: work, emptyDir: {}}]
EOF
  pod exit7 Never <<EOF
containers:
- name: main
  image: $IMAGE
  env: [{name: EXIT_CODE, value: "7"}]
EOF
  pod oom Never <<EOF
containers:
- name: main
  image: $IMAGE
  env: [{name: ALLOC_MB, value: "0"}]
  resources: {limits: {memory: 32Mi}}
EOF
  pod runner Never <<EOF
containers:
- name: main
  image: $IMAGE
  env: [{name: FOREVER, value: "1"}]
EOF
} | k -n "$NS" apply -f - >/dev/null

phase() { k -n "$NS" get pod "$1" -o jsonpath='{.status.phase}' 2>/dev/null; }
wait_phase() { # wait_phase POD REGEX SECONDS -> echoes the phase
  local deadline=$(( $(date +%s) + $3 )) p
  while :; do
    p="$(phase "$1")"
    [[ "$p" =~ $2 ]] && { echo "$p"; return 0; }
    [ "$(date +%s)" -lt "$deadline" ] || { echo "${p:-none}"; return 1; }
    sleep 0.2
  done
}

echo "pod with a native sidecar"
p="$(wait_phase sidecar '^(Succeeded|Failed)$' 90 || true)"
took="$(since "$t_create")"
check "phase" Succeeded "$p"
echo "       (created to $p in ${took}s)"
check "main exit code" 0 "$(k -n "$NS" get pod sidecar -o jsonpath='{.status.containerStatuses[0].state.terminated.exitCode}')"
check "sidecar exit code (stopped by the kubelet after main)" 0 "$(k -n "$NS" get pod sidecar -o jsonpath='{.status.initContainerStatuses[0].state.terminated.exitCode}')"
check "node" "$REAL_NODE_NAME" "$(k -n "$NS" get pod sidecar -o jsonpath='{.spec.nodeName}')"
ip="$(k -n "$NS" get pod sidecar -o jsonpath='{.status.podIP}')"
check_match "pod IP in $REAL_NODE_SUBNET" "^${REAL_NODE_GATEWAY%.*}\." "$ip"
logs="$(k -n "$NS" logs sidecar -c main 2>&1)"
check_match "kubectl logs (stdout)" "hello from the real node" "$(echo "$logs" | head -n1)"
check_match "kubectl logs (stderr)" "a line on stderr" "$(echo "$logs" | grep stderr || true)"
check_match "file written in an emptyDir" "wrote and read back 25 bytes" "$(echo "$logs" | grep 'wrote' || true)"
check_match "TCP to the host listener on $REAL_NODE_GATEWAY" "answer: pong to $ip" "$(echo "$logs" | grep 'connected' || echo "$logs" | tail -n1)"
check_match "sidecar log" "sidecar up" "$(k -n "$NS" logs sidecar -c sidecar 2>&1 | head -n1)"

echo "pod exiting 7"
check "phase" Failed "$(wait_phase exit7 '^(Succeeded|Failed)$' 60 || true)"
check "exit code" 7 "$(k -n "$NS" get pod exit7 -o jsonpath='{.status.containerStatuses[0].state.terminated.exitCode}')"
check "reason" Error "$(k -n "$NS" get pod exit7 -o jsonpath='{.status.containerStatuses[0].state.terminated.reason}')"

echo "pod over its memory limit (32Mi)"
check "phase" Failed "$(wait_phase oom '^(Succeeded|Failed)$' 60 || true)"
check "exit code" 137 "$(k -n "$NS" get pod oom -o jsonpath='{.status.containerStatuses[0].state.terminated.exitCode}')"
check "reason" OOMKilled "$(k -n "$NS" get pod oom -o jsonpath='{.status.containerStatuses[0].state.terminated.reason}')"

echo "kubectl exec"
check "phase" Running "$(wait_phase runner '^Running$' 60 || true)"
check "exec output" "exec works" "$(k -n "$NS" exec runner -- /testbin exec works 2>&1)"
k -n "$NS" delete pod runner --wait=true --timeout=30s >/dev/null 2>&1 || { echo "  FAIL deleting a running pod"; FAILED=1; }
check "running pod deleted" "" "$(k -n "$NS" get pod runner -o name 2>/dev/null)"

echo "a kwok pod's log still comes through the apiserver (which now presents a kubelet client certificate)"
LOGFILE="$(mktemp /tmp/pontoon-real-node-smoke-kwoklog.XXXXXX)"
echo "$(date -u +%Y-%m-%dT%H:%M:%S.000000000Z) stdout F simulated line" >"$LOGFILE"
k -n "$NS" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: simulated}
spec:
  nodeSelector: {pontoon.dev/sim-node: "true"}
  containers: [{name: function, image: example.invalid/function:1}]
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Logs
metadata: {name: simulated}
spec: {logs: [{containers: [function], logsFile: $LOGFILE}]}
EOF
check "phase" Running "$(wait_phase simulated '^Running$' 30 || true)"
check_match "node is a kwok node" "^kwok-node-" "$(k -n "$NS" get pod simulated -o jsonpath='{.spec.nodeName}')"
out=""
for _ in $(seq 50); do out="$(k -n "$NS" logs simulated 2>&1)" && [ "$out" = "simulated line" ] && break; sleep 0.2; done
check "kubectl logs of the kwok pod" "simulated line" "$out"
rm -f "$LOGFILE"

if [ "$FAILED" = 0 ]; then echo "real node smoke test: PASSED"; else echo "real node smoke test: FAILED"; fi
exit "$FAILED"
