# The real node of the dev cluster: containerd + kubelet on this machine, beside kwok's fake nodes.
# Sourced after dev/cluster/lib.sh by up.sh, down.sh, status.sh and smoke-real-node.sh.
# shellcheck shell=bash

REAL_NODE_SRC_DIR="$CLUSTER_SRC_DIR/real-node"
# PONTOON_REAL_NODE=0 skips the real node in up.sh (down.sh always tears down what it finds).
REAL_NODE_WANTED="${PONTOON_REAL_NODE:-1}"
RN_DIR="$STATE/real-node"
REAL_NODE_ENV_FILE="$STATE/real-node.env"
# Host values saved before the first start, restored by down.sh. Outside RN_DIR, so that a purge of
# RN_DIR can never lose them.
RN_HOST_STATE="$STATE/real-node-host-state.env"
CONTAINERD_ROOT="$RN_DIR/containerd/root"
CONTAINERD_STATE_DIR="$RN_DIR/containerd/state"
CONTAINERD_CONFIG="$RN_DIR/containerd/config.toml"
CONTAINERD_SOCK="$RN_DIR/containerd/containerd.sock"
RUNC_ROOT="$RN_DIR/containerd/runc"
# Shim sockets: a unix socket path must stay under 108 bytes (64 hex characters of it are the
# socket's name), too long under $STATE; one short directory in /run per cluster dir.
RN_RUN_DIR="/run/pontoon-real-node-$(printf '%s' "$STATE" | sha256sum | cut -c1-8)"
KUBELET_ROOT="$RN_DIR/kubelet"
KUBELET_CONFIG="$RN_DIR/kubelet-config.yaml"
KUBELET_KUBECONFIG="$RN_DIR/kubelet.kubeconfig"
POD_LOGS_DIR="$RN_DIR/pod-logs"
CNI_CONF_DIR="$RN_DIR/cni/net.d"
CNI_IPAM_DIR="$RN_DIR/cni/ipam"
CNI_NETWORK="pontoon-real-node"
REAL_NODE_BRIDGE="${PONTOON_REAL_NODE_BRIDGE:-pontoon0}"
REAL_NODE_SUBNET="${PONTOON_REAL_NODE_SUBNET:-10.88.0.0/16}"
# The bridge's own address (first address of the subnet): host services that pods must reach bind it.
REAL_NODE_GATEWAY="$(echo "${REAL_NODE_SUBNET%/*}" | awk -F. '{printf "%d.%d.%d.%d", $1, $2, $3, $4 + 1}')"
KUBELET_PORT_WANTED="${PONTOON_KUBELET_PORT:-10250}"
REAL_NODE_NAME="$(hostname | tr '[:upper:]' '[:lower:]')"
REAL_NODE_LABEL="pontoon.dev/real-node"
REAL_NODE_COMPONENTS=(containerd kubelet)
# sysctls that the kubelet (setupKernelTunables, protectKernelDefaults: false) and the CNI bridge
# plugin (ip_forward) change, plus the bridge-netfilter ones; saved before the first start.
RN_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.ip_forward net.ipv6.conf.all.forwarding
  net.ipv4.conf.all.route_localnet net.bridge.bridge-nf-call-iptables
  net.bridge.bridge-nf-call-ip6tables net.bridge.bridge-nf-call-arptables)
# Directories outside $STATE that containerd, the kubelet or CNI may create; removed by down.sh
# only when they did not exist before the first start. The kubelet makes
# /var/lib/kubelet/device-plugins whatever its --root-dir (a fixed path in the device manager).
RN_HOST_DIRS=(/run/netns /var/lib/cni /var/log/containers /var/log/pods /var/lib/kubelet "$RN_RUN_DIR")

kubelet_port() { cat "$RUN/kubelet.port" 2>/dev/null || echo "$KUBELET_PORT_WANTED"; }
rn_log() { log "real node: $*"; }

ctr_() { "$CTR_BIN" --address "$CONTAINERD_SOCK" --timeout 5s "$@"; }
CRICTL_CONFIG="$RN_DIR/crictl.yaml"
crictl_() { "$CRICTL_BIN" --config "$CRICTL_CONFIG" "$@"; }

# Is there anything of a real node on this machine (running or left behind)?
real_node_traces() {
  [ -f "$RN_HOST_STATE" ] || [ -f "$RUN/containerd.pid" ] || [ -f "$RUN/kubelet.pid" ] \
    || ip link show "$REAL_NODE_BRIDGE" >/dev/null 2>&1 || [ -n "$(rn_mounts)" ]
}

# ---------------------------------------------------------------------------------------------
# Host state: save once (before the first start), restore on down.

iptables_chains() { # "<cmd> <table> <chain>" lines for every chain there is now
  local ipt t
  for ipt in iptables ip6tables; do
    command -v "$ipt-save" >/dev/null || continue
    for t in filter nat mangle; do
      "$ipt-save" -t "$t" 2>/dev/null | sed -n "s/^:\([^ ]*\) .*/$ipt $t \1/p"
    done
  done
}

save_host_state() {
  [ -f "$RN_HOST_STATE" ] && return 0 # an earlier (maybe killed) run saved the true originals
  local s v d tmp="$RN_HOST_STATE.tmp"
  {
    echo "# host state before the real node first started ($(date -u +%Y-%m-%dT%H:%M:%SZ)); restored by down.sh"
    for s in "${RN_SYSCTLS[@]}"; do
      v="$(sysctl -n "$s" 2>/dev/null)" || continue
      echo "sysctl $s $v"
    done
    for d in "${RN_HOST_DIRS[@]}"; do [ -e "$d" ] && echo "existed $d"; done
    iptables_chains | sed 's/^/chain /'
    if command -v nft >/dev/null; then nft list tables 2>/dev/null | sed 's/^table /nfttable /'; fi
  } >"$tmp"
  mv "$tmp" "$RN_HOST_STATE"
}

restore_host_state() {
  [ -f "$RN_HOST_STATE" ] || return 0
  local kind a b c now restored=()
  while read -r kind a b c; do
    case "$kind" in
      sysctl)
        now="$(sysctl -n "$a" 2>/dev/null)" || continue
        v="$b${c:+ $c}"
        if [ "$now" != "$v" ]; then
          if sysctl -q -w "$a=$v" >/dev/null 2>&1; then restored+=("$a=$v (was $now)")
          else rn_log "WARNING: could not restore $a to $v (it is $now)"; fi
        fi ;;
    esac
  done <"$RN_HOST_STATE"
  [ ${#restored[@]} -gt 0 ] && rn_log "restored sysctls: ${restored[*]}"
  # iptables chains made since (CNI-*, KUBE-*): rules jumping to them first, then the chains.
  local ipt t ch rule
  iptables_chains | while read -r ipt t ch; do
    case "$ch" in CNI-*|KUBE-*) ;; *) continue ;; esac
    grep -qx "chain $ipt $t $ch" "$RN_HOST_STATE" && continue
    echo "$ipt $t $ch"
  done >"$RN_DIR.chains.tmp" 2>/dev/null || true
  if [ -s "$RN_DIR.chains.tmp" ]; then
    while read -r ipt t ch; do
      { "$ipt-save" -t "$t" 2>/dev/null | grep -E -- "^-A [^ ]+ .*-j $ch( |\$)" || true; } | sed 's/^-A /-D /' \
        | while read -r rule; do eval "$ipt -w -t $t $rule" 2>/dev/null || true; done
    done <"$RN_DIR.chains.tmp"
    while read -r ipt t ch; do "$ipt" -w -t "$t" -F "$ch" 2>/dev/null || true; done <"$RN_DIR.chains.tmp"
    while read -r ipt t ch; do "$ipt" -w -t "$t" -X "$ch" 2>/dev/null || true; done <"$RN_DIR.chains.tmp"
    rn_log "removed iptables chains: $(awk '{printf "%s%s/%s/%s", (NR > 1 ? " " : ""), $1, $2, $3}' "$RN_DIR.chains.tmp")"
  fi
  rm -f "$RN_DIR.chains.tmp"
  # nftables tables that iptables-nft created for those chains and that are empty now.
  if command -v nft >/dev/null; then
    local fam tab
    nft list tables 2>/dev/null | while read -r _ fam tab; do
      grep -qx "nfttable $fam $tab" "$RN_HOST_STATE" && continue
      # only tables without a single rule
      if ! nft list table "$fam" "$tab" 2>/dev/null | grep -qvE '^\s*(table|chain|type|policy|\}|$)'; then
        nft delete table "$fam" "$tab" 2>/dev/null && echo "$fam/$tab"
      fi
    done | tr '\n' ' ' | sed 's/ $//' | { read -r gone || true; [ -n "${gone:-}" ] && rn_log "removed empty nftables tables: $gone"; true; }
  fi
  local d
  for d in "${RN_HOST_DIRS[@]}"; do
    grep -qx "existed $d" "$RN_HOST_STATE" && continue
    [ -e "$d" ] || continue
    if grep -q " $d[/ ]" /proc/self/mountinfo; then
      rn_log "WARNING: not removing $d: something is mounted under it"; continue
    fi
    rm -rf --one-file-system "$d" && rn_log "removed $d (made by the real node)"
  done
  rm -f "$RN_HOST_STATE"
}

# ---------------------------------------------------------------------------------------------
# Tear-down of a stopped (or killed) node's leftovers: processes, mounts, network, cgroups.

# Mount points of the real node, deepest first: under RN_DIR (kubelet root dir bind mount,
# projected volumes, containerd's rootfs overlays and sandbox shm, netns) and CNI netns in /run/netns.
rn_mounts() {
  awk '{print $5}' /proc/self/mountinfo | while read -r m; do
    case "$m" in
      "$RN_DIR"|"$RN_DIR"/*|/run/netns/cni-*|"$RN_RUN_DIR"|"$RN_RUN_DIR"/*) echo "$m" ;;
    esac
  done | awk '{print length($0) "\t" $0}' | sort -rn | cut -f2-
}

# Pids of containerd shims serving our containerd (their command line names its socket).
rn_shim_pids() {
  local p
  for p in /proc/[0-9]*; do
    case "$(readlink "$p/exe" 2>/dev/null)" in */containerd-shim-runc-v2*) ;; *) continue ;; esac
    tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- "-address $CONTAINERD_SOCK " && echo "${p#/proc/}"
  done
}

cgroup_mounts() { awk '$3 == "cgroup" || $3 == "cgroup2" {print $2}' /proc/mounts; }

# Pids in the kubelet's cgroups (containers and sandboxes), across every cgroup hierarchy.
rn_cgroup_pids() {
  local mp
  for mp in $(cgroup_mounts); do
    [ -d "$mp/kubepods" ] || continue
    find "$mp/kubepods" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -un
}

rn_kill_leftovers() {
  local c pid pids i
  for c in kubelet containerd; do
    if pid="$(component_pid "$c")"; then
      rn_log "killing the $c left running (pid $pid)"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for i in 1 2 3 4 5 6 7 8 9 10; do
    pids=""
    for pid in $( (rn_shim_pids; rn_cgroup_pids) | sort -un); do alive "$pid" && pids="$pids$pid "; done
    [ -n "${pids// /}" ] || break
    [ "$i" = 1 ] && rn_log "killing leftover shims and container processes: $pids"
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.3
  done
  rm -f "$RUN/containerd.pid" "$RUN/kubelet.pid"
}

rn_unmount_all() {
  local m n=0 i
  for i in 1 2 3; do
    while read -r m; do
      [ -n "$m" ] || continue
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
      n=$((n + 1))
    done < <(rn_mounts)
    [ -z "$(rn_mounts)" ] && break
  done
  [ "$n" -gt 0 ] && rn_log "unmounted $n mount(s) under $RN_DIR, $RN_RUN_DIR and /run/netns"
  [ -z "$(rn_mounts)" ] || rn_log "WARNING: still mounted: $(rn_mounts | tr '\n' ' ')"
  rm -f /run/netns/cni-* 2>/dev/null || true
}

rn_remove_cgroups() {
  local mp n=0
  for mp in $(cgroup_mounts); do
    [ -d "$mp/kubepods" ] || continue
    find "$mp/kubepods" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    if [ -d "$mp/kubepods" ]; then rn_log "WARNING: could not remove $mp/kubepods (processes left?)"; else n=$((n + 1)); fi
  done
  [ "$n" -gt 0 ] && rn_log "removed the kubepods cgroups in $n hierarchies"
  return 0
}

# Everything of a stopped node but the host's sysctls/iptables (restore_host_state) and the data
# worth keeping (containerd's images in CONTAINERD_ROOT, the kubelet's root dir).
rn_cleanup() {
  rn_kill_leftovers
  rn_unmount_all
  if ip link show "$REAL_NODE_BRIDGE" >/dev/null 2>&1; then
    ip link del "$REAL_NODE_BRIDGE" && rn_log "deleted the bridge $REAL_NODE_BRIDGE"
  fi
  rn_remove_cgroups
  # containerd's state (tasks, shim bundles, CRI sandboxes' runtime state) is runtime-only, like
  # /run after a reboot; CNI's IP reservations and cached results belong to the dead sandboxes.
  rm -rf --one-file-system "$CONTAINERD_STATE_DIR" "$RUNC_ROOT" "$CNI_IPAM_DIR" "$RN_RUN_DIR"
  rm -f /var/lib/cni/results/"$CNI_NETWORK"-* 2>/dev/null || true
  local l
  for l in /var/log/containers/*.log; do
    [ -L "$l" ] && case "$(readlink "$l")" in "$POD_LOGS_DIR"/*) rm -f "$l" ;; esac
  done
  return 0
}

# ---------------------------------------------------------------------------------------------
# Start-up pieces (called by up.sh).

write_containerd_config() {
  mkdir -p "$(dirname "$CONTAINERD_CONFIG")" "$CONTAINERD_ROOT" "$RN_DIR/containerd/tmp" "$CNI_CONF_DIR"
  cat >"$CONTAINERD_CONFIG.tmp" <<EOF
# written by dev/cluster/up.sh (real node); see dev/cluster/README.md for why each setting is here
version = 3
root = "$CONTAINERD_ROOT"
state = "$CONTAINERD_STATE_DIR"
temp = "$RN_DIR/containerd/tmp"
# not /etc/containerd/conf.d: nothing of the host's containerd setup may leak in
imports = []
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.erofs", "io.containerd.differ.v1.erofs",
  "io.containerd.snapshotter.v1.blockfile", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing", "io.containerd.nri.v1.nri"]

[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[debug]
  address = ""
  level = "info"
[metrics]
  address = ""

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$RN_DIR/containerd/opt"
  [plugins."io.containerd.shim.v1.manager"]
    socket_dir = "$RN_RUN_DIR/s"
  [plugins."io.containerd.grpc.v1.cri"]
    disable_tcp_service = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
  [plugins."io.containerd.cri.v1.images"]
    snapshotter = "overlayfs"
    [plugins."io.containerd.cri.v1.images".pinned_images]
      sandbox = "$PAUSE_IMAGE"
  [plugins."io.containerd.cri.v1.runtime"]
    # no CAP_SYS_RESOURCE here: without this every sandbox fails "can't get final child's PID from pipe: EOF"
    restrict_oom_score_adj = true
    # network namespaces under containerd's state dir, not /run/netns
    netns_mounts_under_state_dir = true
    cdi_spec_dirs = []
    enable_criu = false
    [plugins."io.containerd.cri.v1.runtime".containerd]
      default_runtime_name = "runc"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
          BinaryName = "$RUNC_BIN"
          Root = "$RUNC_ROOT"
          SystemdCgroup = false
    [plugins."io.containerd.cri.v1.runtime".cni]
      bin_dirs = ["/usr/lib/cni"]
      conf_dir = "$CNI_CONF_DIR"
      max_conf_num = 1
EOF
  mv "$CONTAINERD_CONFIG.tmp" "$CONTAINERD_CONFIG"

  local portmap=""
  [ -x /usr/lib/cni/portmap ] && portmap=',
    {"type": "portmap", "capabilities": {"portMappings": true}}'
  cat >"$CNI_CONF_DIR/10-$CNI_NETWORK.conflist.tmp" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$CNI_NETWORK",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$REAL_NODE_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$CNI_IPAM_DIR",
        "ranges": [[{"subnet": "$REAL_NODE_SUBNET", "gateway": "$REAL_NODE_GATEWAY"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    }$portmap
  ]
}
EOF
  mv "$CNI_CONF_DIR/10-$CNI_NETWORK.conflist.tmp" "$CNI_CONF_DIR/10-$CNI_NETWORK.conflist"
}

# The bridge is made here (not lazily by the CNI plugin at the first pod) so that host services can
# bind the gateway address as soon as up.sh returns.
ensure_bridge() {
  local other
  other="$(ip -4 route show to match "$REAL_NODE_GATEWAY" 2>/dev/null | grep -v '^default' | grep -v " dev $REAL_NODE_BRIDGE " || true)"
  if [ -n "$other" ]; then
    die "real node: the subnet $REAL_NODE_SUBNET is already routed elsewhere ($other); set PONTOON_REAL_NODE_SUBNET to a free private /16 (or PONTOON_REAL_NODE=0)"
  fi
  if ! ip link show "$REAL_NODE_BRIDGE" >/dev/null 2>&1; then
    ip link add "$REAL_NODE_BRIDGE" type bridge || die "real node: could not create the bridge $REAL_NODE_BRIDGE"
  fi
  if ! ip -4 addr show dev "$REAL_NODE_BRIDGE" | grep -q "inet $REAL_NODE_GATEWAY/"; then
    ip addr add "$REAL_NODE_GATEWAY/${REAL_NODE_SUBNET#*/}" dev "$REAL_NODE_BRIDGE" \
      || die "real node: could not give $REAL_NODE_BRIDGE the address $REAL_NODE_GATEWAY"
  fi
  ip link set "$REAL_NODE_BRIDGE" up
}

write_kubelet_config() { # write_kubelet_config PORT
  local resolv=/etc/resolv.conf
  if [ ! -s "$resolv" ]; then resolv="$RN_DIR/resolv.conf"; : >"$resolv"; fi
  mkdir -p "$KUBELET_ROOT" "$POD_LOGS_DIR"
  cat >"$KUBELET_CONFIG.tmp" <<EOF
# written by dev/cluster/up.sh (real node); see dev/cluster/README.md for why each setting is here
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# Loopback only: the apiserver reaches it through the node's Hostname address ($REAL_NODE_NAME
# resolves to $KUBELET_ADDRESS here).
address: $KUBELET_ADDRESS
port: $1
readOnlyPort: 0
healthzPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization:
  mode: Webhook
# cgroup v1 (hybrid) without systemd: the default failCgroupV1 true exits at start
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
# it sets vm.overcommit_memory, kernel.panic, kernel.panic_on_oops; down.sh restores them
protectKernelDefaults: false
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
imageServiceEndpoint: unix://$CONTAINERD_SOCK
registerNode: true
registerWithTaints:
- {key: $REAL_NODE_LABEL, value: "true", effect: NoSchedule}
serializeImagePulls: false
resolvConf: $resolv
podLogsDir: $POD_LOGS_DIR
clusterDomain: cluster.local
maxPods: 110
# A dev machine's disk is often well used: keep pods schedulable, collect images only when tight.
imageGCHighThresholdPercent: 90
imageGCLowThresholdPercent: 80
imageMinimumGCAge: 10m
evictionHard:
  memory.available: 100Mi
  nodefs.available: 3%
  nodefs.inodesFree: 3%
  imagefs.available: 3%
rotateCertificates: false
serverTLSBootstrap: false
nodeStatusReportFrequency: 1m
shutdownGracePeriod: 0s
EOF
  mv "$KUBELET_CONFIG.tmp" "$KUBELET_CONFIG"
}

# Address the kubelet binds: what the node's hostname resolves to (the apiserver dials the node by
# its Hostname address first), normally 127.0.0.1 ($(hostname) is in /etc/hosts).
resolve_kubelet_address() {
  local a
  a="$(getent ahostsv4 "$REAL_NODE_NAME" 2>/dev/null | awk 'NR == 1 {print $1}')"
  [ -n "$a" ] || die "real node: the hostname $REAL_NODE_NAME does not resolve; add '127.0.0.1 $REAL_NODE_NAME' to /etc/hosts (or PONTOON_REAL_NODE=0)"
  case "$a" in 127.*) a=127.0.0.1 ;; esac
  echo "$a"
}

# real_node_ready_since EPOCH: Ready=True, last heartbeat at or after EPOCH (whole seconds).
real_node_ready_since() {
  local out st hb
  out="$(kc get node "$REAL_NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}' 2>/dev/null)" || return 1
  read -r st hb <<<"$out"
  [ "$st" = True ] || return 1
  [ "$1" = 0 ] && return 0
  [ "$(date -d "$hb" +%s 2>/dev/null || echo 0)" -ge "$1" ]
}

real_node_ready_status() {
  kc get node "$REAL_NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null
}

write_real_node_env() {
  cat >"$REAL_NODE_ENV_FILE.tmp" <<EOF
# written by dev/cluster/up.sh: the real node beside kwok's fake nodes (dev/cluster/README.md)
REAL_NODE_NAME=$REAL_NODE_NAME
REAL_NODE_LABEL=$REAL_NODE_LABEL
REAL_NODE_TAINT=$REAL_NODE_LABEL=true:NoSchedule
REAL_NODE_GATEWAY=$REAL_NODE_GATEWAY
REAL_NODE_SUBNET=$REAL_NODE_SUBNET
REAL_NODE_BRIDGE=$REAL_NODE_BRIDGE
CONTAINERD_SOCK=$CONTAINERD_SOCK
CONTAINERD_VERSION=$CONTAINERD_VERSION
KUBELET_VERSION=$K8S_VERSION
KUBELET_PORT=$(kubelet_port)
PAUSE_IMAGE=$PAUSE_IMAGE
REGISTRY=$REGISTRY_ADDR
CTR=$CTR_BIN
CRICTL=${CRICTL_BIN:-}
TESTBIN=$TESTBIN_BIN
EOF
  mv "$REAL_NODE_ENV_FILE.tmp" "$REAL_NODE_ENV_FILE"
}

# ---------------------------------------------------------------------------------------------
# up.sh's part (after kwok). Uses up.sh's gen_cert, write_kubeconfig and ensure_component.

pause_tag() { sha256sum "$REAL_NODE_SRC_DIR/pause.c" | cut -c1-12; }
crane_bin() { (. "$CLUSTER_SRC_DIR/../registry/lib.sh" && echo "$CRANE_BIN"); }

# push_static_image BINARY REF ENTRYPOINT: a one-file image (the binary at /<name>), linux/amd64.
push_static_image() {
  local bin="$1" ref="$2" tmp crane
  crane="$(crane_bin)"
  [ -x "$crane" ] || die "real node: crane not found at $crane (dev/registry/build.sh builds it)"
  tmp="$(mktemp -d)"
  cp "$bin" "$tmp/$(basename "$3")"
  tar --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$tmp" -cf "$tmp/layer.tar" "$(basename "$3")"
  "$crane" append --oci-empty-base -f "$tmp/layer.tar" -t "$ref" >/dev/null 2>"$tmp/err" \
    && "$crane" mutate "$ref" --entrypoint "$3" --set-platform linux/amd64 -t "$ref" >/dev/null 2>>"$tmp/err" \
    || { cat "$tmp/err" >&2; rm -rf "$tmp"; die "real node: pushing $ref failed"; }
  rm -rf "$tmp"
}

real_node_up() {
  local t_start t_kubelet port cb
  t_start=$(date +%s.%N)
  [ "$(id -u)" = 0 ] || die "real node: containerd and the kubelet need root (or set PONTOON_REAL_NODE=0 to run without the real node)"
  [ -x "${KUBELET_BIN:-}" ] && [ -x "${CONTAINERD_BIN_DIR:-}/containerd" ] && [ -x "${CTR_BIN:-}" ] \
    || die "real node: kubelet/containerd not built (build.sh; see $CACHE_ROOT/build-failures.log)"
  [ ${#CONTAINERD_SOCK} -lt 100 ] || die "real node: containerd's socket path is too long for a unix socket: $CONTAINERD_SOCK (use a shorter PONTOON_CLUSTER_DIR)"
  # containerd must find its own containerd-shim-runc-v2 first, not an older one on PATH
  # (Debian's 1.6 shim: every task fails "io.containerd.runc.v2: type with url v2t1: not found").
  export PATH="$CONTAINERD_BIN_DIR:$PATH"
  KUBELET_ADDRESS="$(resolve_kubelet_address)"
  mkdir -p "$RN_DIR"

  # Identities: the kubelet's (registers and updates its Node; the Node authorizer scopes it) and
  # the apiserver's towards kubelets (pods/log, exec), bound to system:kubelet-api-admin.
  gen_cert "kubelet-$REAL_NODE_NAME" "/O=system:nodes/CN=system:node:$REAL_NODE_NAME" "$CLIENT_EXT"
  write_kubeconfig "$KUBELET_KUBECONFIG" "kubelet-$REAL_NODE_NAME"
  if ! kc get clusterrolebinding pontoon:kube-apiserver-kubelet-client >/dev/null 2>&1; then
    kc create clusterrolebinding pontoon:kube-apiserver-kubelet-client --clusterrole=system:kubelet-api-admin \
      --user=pontoon:kube-apiserver-kubelet-client >/dev/null || die "real node: could not bind system:kubelet-api-admin"
  fi

  # The registry (also used by tests for their images) and the pinned pause image.
  REGISTRY_ADDR="$(bash "$CLUSTER_SRC_DIR/../registry/up.sh" 9>&-)" || die "real node: the local registry (dev/registry/up.sh) did not start"
  PAUSE_IMAGE="$REGISTRY_ADDR/pontoon/pause:$(pause_tag)"
  if ! { [ -n "${CRICTL_BIN:-}" ] && health_check containerd && crictl_ inspecti "$PAUSE_IMAGE" >/dev/null 2>&1; }; then
    if ! "$(crane_bin)" manifest "$PAUSE_IMAGE" >/dev/null 2>&1; then
      push_static_image "$PAUSE_BIN" "$PAUSE_IMAGE" /pause
      rn_log "pushed the pause image $PAUSE_IMAGE"
    fi
  fi

  save_host_state
  write_containerd_config
  printf 'runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 30\n' "$CONTAINERD_SOCK" "$CONTAINERD_SOCK" >"$CRICTL_CONFIG"
  if ! component_pid containerd >/dev/null; then
    # A killed earlier run may have left a kubelet, shims, containers, mounts, the bridge, cgroups.
    rn_cleanup
  fi
  ensure_bridge
  EXTRA_FINGERPRINT="$(cat "$CONTAINERD_CONFIG" "$CNI_CONF_DIR"/*.conflist | sha256sum)" \
    ensure_component containerd --config "$CONTAINERD_CONFIG"
  # The CRI plugin finishes initialising after containerd's socket answers; on a loaded machine
  # `ctr plugins ls` right after the health check can miss it (seen once in a CI run), so wait.
  local cri_wait=0
  until ctr_ plugins ls 2>/dev/null | grep -Eq '^io\.containerd\.grpc\.v1 +cri .* ok *$'; do
    [ "$cri_wait" -lt 60 ] || fail_component containerd "runs but its CRI plugin did not load (waited 30 s)"
    cri_wait=$((cri_wait + 1))
    sleep 0.5
  done
  if [ -n "${CRICTL_BIN:-}" ] && ! crictl_ inspecti "$PAUSE_IMAGE" >/dev/null 2>&1; then
    crictl_ pull "$PAUSE_IMAGE" >/dev/null || fail_component containerd "could not pull $PAUSE_IMAGE"
  fi

  if component_pid kubelet >/dev/null; then
    port="$(kubelet_port)"
  else
    port="$KUBELET_PORT_WANTED"
    while port_in_use "$port"; do
      port=$((port + 1))
      [ "$port" -lt $((KUBELET_PORT_WANTED + 20)) ] || die "real node: no free port for the kubelet in $KUBELET_PORT_WANTED-$port"
    done
    [ "$port" = "$KUBELET_PORT_WANTED" ] || rn_log "port $KUBELET_PORT_WANTED is taken: the kubelet listens on $port"
    echo "$port" >"$RUN/kubelet.port"
  fi
  write_kubelet_config "$port"
  t_kubelet=$(date +%s.%N)
  local pid_before pid_after
  pid_before="$(component_pid kubelet || true)"
  EXTRA_FINGERPRINT="$(cat "$KUBELET_CONFIG" "$KUBELET_KUBECONFIG" | sha256sum)" \
    ensure_component kubelet \
    --config="$KUBELET_CONFIG" \
    --kubeconfig="$KUBELET_KUBECONFIG" \
    --root-dir="$KUBELET_ROOT" \
    --cert-dir="$KUBELET_ROOT/pki" \
    --node-labels="$REAL_NODE_LABEL=true" \
    --v=1
  pid_after="$(component_pid kubelet || true)"
  # A kubelet started now must report Ready itself: the Node may still show the Ready status the
  # previous kubelet posted (the node controller marks it unknown only after 40 s).
  local fresh_since=0 deadline=$(( $(date +%s) + UP_TIMEOUT ))
  [ "$pid_before" = "$pid_after" ] || fresh_since="${t_kubelet%.*}"
  until real_node_ready_since "$fresh_since"; do
    component_pid kubelet >/dev/null || fail_component kubelet "exited before its node was Ready"
    [ "$(date +%s)" -lt "$deadline" ] || fail_component kubelet "node $REAL_NODE_NAME is not Ready after ${UP_TIMEOUT}s"
    sleep 0.2
  done
  # kwok must not manage this node (it would fake its status): it manages only nodes annotated
  # kwok.x-k8s.io/node=fake (--manage-nodes-with-annotation-selector).
  [ -z "$(kc get node "$REAL_NODE_NAME" -o jsonpath='{.metadata.annotations.kwok\.x-k8s\.io/node}')" ] \
    || die "real node: node $REAL_NODE_NAME carries kwok's annotation kwok.x-k8s.io/node: kwok would manage it"
  write_real_node_env
  rn_log "$REAL_NODE_NAME Ready (kubelet $K8S_VERSION, containerd $CONTAINERD_VERSION; $(awk -v a="$t_kubelet" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s after the kubelet step, $(awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s in all); pods reach host services at $REAL_NODE_GATEWAY; facts in $REAL_NODE_ENV_FILE"
}

# down.sh's part: stop the kubelet, remove the pods cleanly through the CRI when containerd still
# answers, stop containerd, clean up whatever is left, restore the host.
real_node_down() {
  local pid n
  if pid="$(component_pid kubelet)"; then
    stop_pid "$pid"; rn_log "kubelet stopped (pid $pid)"
  fi
  if pid="$(component_pid containerd)"; then
    if [ -n "${CRICTL_BIN:-}" ]; then
      n="$(crictl_ pods -q 2>/dev/null | wc -l)"
      if [ "$n" -gt 0 ]; then
        crictl_ stopp $(crictl_ pods -q) >/dev/null 2>&1 || true
        crictl_ rmp -a -f >/dev/null 2>&1 || true
        rn_log "stopped and removed $n pod sandbox(es)"
      fi
    fi
    stop_pid "$pid"; rn_log "containerd stopped (pid $pid)"
  fi
  rm -f "$RUN/kubelet.pid" "$RUN/containerd.pid" "$RUN/kubelet.port" "$REAL_NODE_ENV_FILE"
  rn_cleanup
  restore_host_state
}

stop_pid() { # SIGTERM, SIGKILL after 15 s
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 150); do alive "$1" || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  for _ in $(seq 50); do alive "$1" || return 0; sleep 0.1; done
}
