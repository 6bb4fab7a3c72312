#!/usr/bin/env bash
# Prints the state of each component of the simulated cluster, of its fake nodes and of the real
# node (containerd, kubelet, node Ready; skipped with PONTOON_REAL_NODE=0 unless it runs anyway).
# Exit code: 0 if everything is running and healthy, 1 otherwise.
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

load_bins 2>/dev/null || true
healthy=true
printf '%-25s %-9s %-8s %-8s %s\n' COMPONENT STATE PID PORT LOG
for c in "${COMPONENTS[@]}"; do
  if pid="$(component_pid "$c")"; then
    if health_check "$c"; then st=healthy; else st=unhealthy; healthy=false; fi
  else
    pid=-; st=stopped; healthy=false
  fi
  printf '%-25s %-9s %-8s %-8s %s\n' "$c" "$st" "$pid" "$(port_of "$c")" "$(log_file "$c")"
done
show_real=false
if [ "$REAL_NODE_WANTED" != 0 ] || real_node_traces; then show_real=true; fi
if $show_real; then
  KUBELET_ADDRESS="$(resolve_kubelet_address 2>/dev/null || echo 127.0.0.1)"
  for c in "${REAL_NODE_COMPONENTS[@]}"; do
    if pid="$(component_pid "$c")"; then
      if health_check "$c"; then st=healthy; else st=unhealthy; healthy=false; fi
    else
      pid=-; st=stopped; healthy=false
    fi
    port="$(port_of "$c")"
    printf '%-25s %-9s %-8s %-8s %s\n' "$c" "$st" "$pid" "${port:-sock}" "$(log_file "$c")"
  done
fi

if health_check kube-apiserver 2>/dev/null && [ -n "$(kubectl_bin)" ]; then
  nodes="$(kc get nodes -l pontoon.dev/sim-node=true -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>&1)"
  total=0; ready=0
  while IFS='=' read -r n s; do
    [ -n "$n" ] || continue
    total=$((total + 1)); [ "$s" = "True" ] && ready=$((ready + 1))
  done <<<"$nodes"
  printf '%-25s %s\n' "fake nodes Ready" "$ready/$total"
  [ "$total" -gt 0 ] && [ "$ready" -eq "$total" ] || healthy=false
  if $show_real; then
    r="$(real_node_ready_status)"
    printf '%-25s %s\n' "real node $REAL_NODE_NAME" "Ready=${r:-absent} (gateway $REAL_NODE_GATEWAY, facts $REAL_NODE_ENV_FILE)"
    [ "$r" = True ] || healthy=false
  fi
  [ -n "${K8S_VERSION:-}" ] && printf '%-25s %s\n' versions "kubernetes $K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION"
fi
printf '%-25s %s\n' kubeconfig "$KUBECONFIG_FILE"
if $healthy; then echo "cluster: healthy"; exit 0; fi
echo "cluster: NOT healthy (start it with: npm run cluster:up, or bash dev/cluster/up.sh)"
exit 1
