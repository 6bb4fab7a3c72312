# Shared settings and helpers of up.sh, down.sh, status.sh and smoke.sh (sourced, not run).
# shellcheck shell=bash

CLUSTER_SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_ROOT="${PONTOON_CACHE_DIR:-$HOME/.cache/pontoon}"
STATE="${PONTOON_CLUSTER_DIR:-$CACHE_ROOT/cluster}"
PKI="$STATE/pki"
LOGS="$STATE/logs"
RUN="$STATE/run"
KUBECONFIG_FILE="$STATE/kubeconfig"

APISERVER_PORT="${PONTOON_APISERVER_PORT:-6443}"
ETCD_PORT="${PONTOON_ETCD_PORT:-2379}"
ETCD_PEER_PORT="${PONTOON_ETCD_PEER_PORT:-2380}"
KCM_PORT="${PONTOON_CONTROLLER_MANAGER_PORT:-10257}"
SCHEDULER_PORT="${PONTOON_SCHEDULER_PORT:-10259}"
KWOK_PORT="${PONTOON_KWOK_PORT:-10247}"
NODE_COUNT="${PONTOON_NODE_COUNT:-3}"
NODE_CPU="${PONTOON_NODE_CPU:-16}"
NODE_MEMORY="${PONTOON_NODE_MEMORY:-64Gi}"
NODE_PODS="${PONTOON_NODE_PODS:-110}"
# Seconds to wait for each readiness step.
UP_TIMEOUT="${PONTOON_CLUSTER_TIMEOUT:-90}"

# Start order; down.sh stops in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

_T0=$(date +%s)
log() { printf '[cluster +%3ss] %s\n' "$(($(date +%s) - _T0))" "$*" >&2; }
die() { printf '[cluster] ERROR: %s\n' "$*" >&2; exit 1; }

# Paths of the binaries, from the env file that build.sh writes (no build here).
load_bins() {
  local env_file="$CACHE_ROOT/cluster-bins.env"
  [ -f "$env_file" ] || return 1
  # shellcheck disable=SC1090
  . "$env_file"
  local b
  for b in "$KUBE_APISERVER_BIN" "$KUBE_CONTROLLER_MANAGER_BIN" "$KUBE_SCHEDULER_BIN" "$ETCD_BIN" "$KWOK_BIN"; do
    [ -x "$b" ] || return 1
  done
}

# kubectl: the one built with the cluster if any, else the one on PATH.
kubectl_bin() {
  if [ -n "${PONTOON_KUBECTL:-}" ]; then echo "$PONTOON_KUBECTL"
  elif [ -n "${KUBECTL_BIN:-}" ] && [ -x "$KUBECTL_BIN" ]; then echo "$KUBECTL_BIN"
  else command -v kubectl || true
  fi
}
kc() { "$(kubectl_bin)" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

pid_file() { echo "$RUN/$1.pid"; }
log_file() { echo "$LOGS/$1.log"; }

bin_of() {
  case "$1" in
    etcd) echo "$ETCD_BIN" ;;
    kube-apiserver) echo "$KUBE_APISERVER_BIN" ;;
    kube-controller-manager) echo "$KUBE_CONTROLLER_MANAGER_BIN" ;;
    kube-scheduler) echo "$KUBE_SCHEDULER_BIN" ;;
    kwok) echo "$KWOK_BIN" ;;
    containerd) echo "${CONTAINERD_BIN_DIR:-}/containerd" ;;
    kubelet) echo "${KUBELET_BIN:-}" ;;
  esac
}

# alive PID: the process exists and is not a zombie (an exited process stays a zombie until the
# init process of the machine reaps it, which can take a second or two).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  [ "$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null)" != "Z" ]
}

# Pid of a running component, or nothing. The pid must still run a binary named like the
# component (guards against pid reuse after a reboot or crash).
component_pid() {
  local f pid exe
  f="$(pid_file "$1")"
  [ -f "$f" ] || return 1
  pid="$(cat "$f" 2>/dev/null)"
  [ -n "$pid" ] && alive "$pid" || return 1
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
  case "$exe" in
    */"$1"|*/"$1"" (deleted)") echo "$pid" ;;
    *) return 1 ;;
  esac
}

# Health URL of each component; curl options authenticate as the admin where needed.
health_check() {
  local c="$1" out
  case "$c" in
    etcd)
      out="$(curl -sS -m 3 "http://127.0.0.1:$ETCD_PORT/health" 2>&1)" && [[ "$out" == *'"health":"true"'* ]] ;;
    kube-apiserver)
      out="$(curl -sS -m 3 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
        "https://127.0.0.1:$APISERVER_PORT/readyz" 2>&1)" && [ "$out" = "ok" ] ;;
    kube-controller-manager)
      out="$(curl -sSk -m 3 "https://127.0.0.1:$KCM_PORT/healthz" 2>&1)" && [ "$out" = "ok" ] ;;
    kube-scheduler)
      out="$(curl -sSk -m 3 "https://127.0.0.1:$SCHEDULER_PORT/healthz" 2>&1)" && [ "$out" = "ok" ] ;;
    kwok)
      out="$(curl -sS -m 3 "http://127.0.0.1:$KWOK_PORT/healthz" 2>&1)" && [ "$out" = "ok" ] ;;
    # real node (real-node/lib.sh): containerd answers on its socket; the kubelet's /healthz on its
    # authenticated port (healthzPort is off), as the admin.
    containerd)
      "$CTR_BIN" --address "$CONTAINERD_SOCK" --timeout 3s version >/dev/null 2>&1 ;;
    kubelet)
      out="$(curl -sSk -m 3 --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
        "https://${KUBELET_ADDRESS:-127.0.0.1}:$(kubelet_port)/healthz" 2>&1)" && [ "$out" = "ok" ] ;;
  esac
}

port_of() {
  case "$1" in
    etcd) echo "$ETCD_PORT" ;;
    kube-apiserver) echo "$APISERVER_PORT" ;;
    kube-controller-manager) echo "$KCM_PORT" ;;
    kube-scheduler) echo "$SCHEDULER_PORT" ;;
    kwok) echo "$KWOK_PORT" ;;
    containerd) echo "" ;; # a unix socket
    kubelet) kubelet_port ;;
  esac
}

port_in_use() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

node_name() { echo "kwok-node-$1"; }

# lock_state: serializes up.sh and down.sh (e.g. test runs that start the cluster concurrently).
lock_state() {
  mkdir -p "$STATE"
  command -v flock >/dev/null || return 0
  exec 9>"$STATE/.lock"
  if ! flock -n 9; then
    log "waiting for another up.sh/down.sh on $STATE to finish"
    flock -w 3600 9 || die "could not lock $STATE/.lock within 3600s"
  fi
}

# The real node (containerd + kubelet beside kwok's fake nodes): its settings and helpers.
# shellcheck source=real-node/lib.sh
. "$CLUSTER_SRC_DIR/real-node/lib.sh"
