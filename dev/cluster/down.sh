#!/usr/bin/env bash
# Stops the simulated cluster started by up.sh: first the real node (kubelet, its pods, containerd;
# then it undoes every host change: mounts, the bridge, cgroups, iptables chains, sysctls saved
# before the first start), then kwok, scheduler and controller-manager together, then the
# apiserver, then etcd. SIGTERM, then SIGKILL after 15 s. The cluster's data (etcd) is kept
# for the next up.sh; `down.sh --purge` also deletes it (and the logs and the real node's data:
# containerd's images, the kubelet's dir), so the next up.sh starts empty. Certificates and the
# kubeconfig are always kept.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PURGE=false
case "${1:-}" in
  --purge) PURGE=true ;;
  "") ;;
  *) die "usage: down.sh [--purge]" ;;
esac

lock_state
load_bins 2>/dev/null || true
stopped=0
# Always, also with PONTOON_REAL_NODE=0: whatever a real node left behind is undone.
if real_node_traces; then
  real_node_down
  stopped=$((stopped + 1))
fi
stop_group() { # stop_group COMPONENT...: SIGTERM all, wait for all, SIGKILL leftovers
  local c pid pids=() names=() i
  for c in "$@"; do
    if pid="$(component_pid "$c")"; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid"); names+=("$c")
    else
      log "$c: not running"
      rm -f "$(pid_file "$c")"
    fi
  done
  for ((i = 0; i < ${#pids[@]}; i++)); do
    pid="${pids[$i]}"; c="${names[$i]}"
    for _ in $(seq 150); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
      log "$c (pid $pid) did not stop within 15s after SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
    fi
    log "$c: stopped (pid $pid)"
    rm -f "$(pid_file "$c")"
    stopped=$((stopped + 1))
  done
}
stop_group kwok kube-scheduler kube-controller-manager
stop_group kube-apiserver
stop_group etcd
if $PURGE; then
  rm -rf "$STATE/etcd-data" "$LOGS" "$RUN"
  # never through a mount that is still there (a pod's hostPath could reach into the host)
  if [ -z "$(rn_mounts)" ]; then rm -rf --one-file-system "$RN_DIR"
  else log "WARNING: not deleting $RN_DIR: mounts remain under it: $(rn_mounts | tr '\n' ' ')"; fi
  log "purged the cluster data and logs in $STATE (certificates and kubeconfig kept)"
fi
log "cluster down ($stopped component(s) stopped)"
