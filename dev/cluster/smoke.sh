#!/usr/bin/env bash
# Smoke test of the simulated cluster: brings it up (reusing a running one), runs bare pods whose
# outcome is chosen by pontoon.dev/sim-* annotations, checks their final state, deletes them and
# checks they are gone. Exit code 0 on success. Leaves the cluster running (stop: down.sh).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

bash "$HERE/up.sh" >/dev/null
load_bins
KUBECTL="$(kubectl_bin)"
k() { "$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" "$@"; }
echo "kubectl: $KUBECTL ($("$KUBECTL" version --client 2>/dev/null | head -n1))"

NS="pontoon-smoke-$(date +%s)"
FAILED=0
check() { # check DESCRIPTION EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then echo "  ok   $1 = $3"; else echo "  FAIL $1: expected '$2', got '$3'"; FAILED=1; fi
}

k create namespace "$NS" >/dev/null
deadline=$(( $(date +%s) + 60 ))
until k -n "$NS" get serviceaccount default >/dev/null 2>&1; do
  [ "$(date +%s)" -lt "$deadline" ] || { echo "FAIL: no default ServiceAccount in $NS after 60s"; exit 1; }
  sleep 0.2
done

k -n "$NS" apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: ok
  annotations:
    pontoon.dev/sim-exit-code: "0"
    pontoon.dev/sim-termination-message: '{"result":"ok","items":3}'
spec:
  restartPolicy: Never
  containers:
  - {name: main, image: example.invalid/function:1}
  - {name: observer, image: example.invalid/observer:1}
---
apiVersion: v1
kind: Pod
metadata:
  name: exit3
  annotations:
    pontoon.dev/sim-exit-code: "3"
    pontoon.dev/sim-run-delay: 500ms
    pontoon.dev/sim-duration: 2s
spec:
  restartPolicy: Never
  containers:
  - {name: main, image: example.invalid/function:1}
---
apiVersion: v1
kind: Pod
metadata:
  name: oom
  annotations:
    pontoon.dev/sim-reason: OOMKilled
    pontoon.dev/sim-termination-message: killed while writing output
spec:
  restartPolicy: Never
  initContainers:
  - {name: observer, image: example.invalid/observer:1, restartPolicy: Always}
  containers:
  - {name: main, image: example.invalid/function:1}
---
apiVersion: v1
kind: Pod
metadata:
  name: pull-error
  annotations:
    pontoon.dev/sim-image-pull-error: "true"
spec:
  restartPolicy: Never
  containers:
  - {name: main, image: example.invalid/missing:1}
---
apiVersion: v1
kind: Pod
metadata:
  name: long-running
  annotations:
    pontoon.dev/sim-duration: 1h
spec:
  restartPolicy: Never
  containers:
  - {name: main, image: example.invalid/function:1}
EOF
echo "created pods in namespace $NS"

phase() { k -n "$NS" get pod "$1" -o jsonpath='{.status.phase}' 2>/dev/null; }
wait_for() { # wait_for POD JSONPATH VALUE...
  local pod="$1" jp="$2" v deadline=$(( $(date +%s) + 60 )); shift 2
  while true; do
    v="$(k -n "$NS" get pod "$pod" -o jsonpath="$jp" 2>/dev/null || true)"
    for want in "$@"; do [ "$v" = "$want" ] && return 0; done
    [ "$(date +%s)" -lt "$deadline" ] || { echo "  FAIL $pod: '$jp' is '$v' after 60s, wanted one of: $*"; FAILED=1; return 1; }
    sleep 0.3
  done
}
t0=$(date +%s)
for p in ok exit3 oom; do wait_for "$p" '{.status.phase}' Succeeded Failed || true; done
wait_for pull-error '{.status.containerStatuses[0].state.waiting.reason}' ErrImagePull || true
wait_for long-running '{.status.phase}' Running || true
echo "pods reached their final states after $(( $(date +%s) - t0 ))s"

echo
k -n "$NS" get pods -o wide
echo
printf '%-13s %-10s %-10s %-10s %-11s %s\n' POD PHASE NODE MAIN-EXIT MAIN-REASON OBSERVER-TERMINATION-MESSAGE
for p in ok exit3 oom pull-error long-running; do
  IFS='|' read -r ph node code reason msg_c msg_i waiting < <(k -n "$NS" get pod "$p" -o jsonpath='{.status.phase}|{.spec.nodeName}|{.status.containerStatuses[?(@.name=="main")].state.terminated.exitCode}|{.status.containerStatuses[?(@.name=="main")].state.terminated.reason}|{.status.containerStatuses[?(@.name=="observer")].state.terminated.message}|{.status.initContainerStatuses[?(@.name=="observer")].state.terminated.message}|{.status.containerStatuses[?(@.name=="main")].state.waiting.reason}'; echo)
  printf '%-13s %-10s %-10s %-10s %-11s %s\n' "$p" "$ph" "$node" "${code:--}" "${reason:-${waiting:--}}" "${msg_c:-${msg_i:--}}"
  eval "PH_${p//-/_}=\$ph CODE_${p//-/_}=\$code REASON_${p//-/_}=\$reason MSG_${p//-/_}=\"\${msg_c:-\$msg_i}\" WAIT_${p//-/_}=\$waiting"
done
echo
echo "checks:"
check "ok phase" Succeeded "$PH_ok"
check "ok main exit code" 0 "$CODE_ok"
check "ok main reason" Completed "$REASON_ok"
check "ok observer termination message" '{"result":"ok","items":3}' "$MSG_ok"
check "exit3 phase" Failed "$PH_exit3"
check "exit3 main exit code" 3 "$CODE_exit3"
check "exit3 main reason" Error "$REASON_exit3"
check "oom phase" Failed "$PH_oom"
check "oom main exit code" 137 "$CODE_oom"
check "oom main reason" OOMKilled "$REASON_oom"
check "oom observer (native sidecar) termination message" "killed while writing output" "$MSG_oom"
check "pull-error phase" Pending "$PH_pull_error"
check "pull-error main waiting reason" ErrImagePull "$WAIT_pull_error"
check "long-running phase" Running "$PH_long_running"

echo
echo "deleting the pods (default grace period) ..."
t0=$(date +%s)
if ! k -n "$NS" delete pods --all --wait=true --timeout=60s; then
  echo "  FAIL pod deletion did not finish within 60s"; FAILED=1
fi
left="$(k -n "$NS" get pods -o name | tr '\n' ' ')"
check "pods left after delete ($(( $(date +%s) - t0 ))s)" "" "$left"

echo "deleting namespace $NS ..."
if ! k delete namespace "$NS" --wait=true --timeout=60s >/dev/null; then
  echo "  FAIL namespace deletion did not finish within 60s"; FAILED=1
fi
check "namespace $NS left after delete" "" "$(k get namespace "$NS" -o name --ignore-not-found)"

echo
if [ "$FAILED" -eq 0 ]; then echo "SMOKE TEST PASSED"; else echo "SMOKE TEST FAILED (cluster logs: $LOGS)"; exit 1; fi
