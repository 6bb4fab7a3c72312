#!/usr/bin/env bash
# Stops the simulated cluster started by up.sh (kwok, scheduler, controller-manager, apiserver,
# etcd, in that order): SIGTERM, then SIGKILL after 15 s. The cluster's data (etcd) is kept for the
# next up.sh; `down.sh --purge` also deletes it (and the logs), so the next up.sh starts empty.
# Certificates and the kubeconfig are always kept.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PURGE=false
case "${1:-}" in
  --purge) PURGE=true ;;
  "") ;;
  *) die "usage: down.sh [--purge]" ;;
esac

stopped=0
for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
  c="${COMPONENTS[$i]}"
  if pid="$(component_pid "$c")"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$c (pid $pid) did not stop within 15s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    log "$c: stopped (pid $pid)"
    stopped=$((stopped + 1))
  else
    log "$c: not running"
  fi
  rm -f "$(pid_file "$c")"
done
if $PURGE; then
  rm -rf "$STATE/etcd-data" "$LOGS" "$RUN"
  log "purged the cluster data and logs in $STATE (certificates and kubeconfig kept)"
fi
log "cluster down ($stopped component(s) stopped)"
