# Build steps of the real node (sourced by dev/cluster/build.sh, which defines CACHE_ROOT, log,
# timed, record_failure and try_versions): containerd + ctr + containerd-shim-runc-v2, crictl
# (optional), the static pause binary, and the Debian packages the node needs (runc, CNI plugins,
# iptables, gcc for the static C binaries).
# shellcheck shell=bash

REAL_NODE_SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONTAINERD_CANDIDATES="${CONTAINERD_VERSION:-v2.4.2}"
# cri-tools has a release per Kubernetes minor; v1.37.0 is served by the proxy (checked).
CRICTL_CANDIDATES="${CRICTL_VERSION:-v1.37.0}"

# Debian packages: runc 1.1.5 (crun refuses this machine's hybrid cgroups), the CNI plugins in
# /usr/lib/cni, iptables (the bridge and portmap plugins call it), gcc + libc6-dev for gcc -static.
ensure_real_node_packages() {
  local missing=() p
  command -v runc >/dev/null || missing+=(runc)
  [ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] && [ -x /usr/lib/cni/loopback ] \
    || missing+=(containernetworking-plugins)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v gcc >/dev/null || missing+=(gcc)
  [ -f /usr/lib/x86_64-linux-gnu/libc.a ] || [ -n "$(find /usr/lib -name libc.a -print -quit 2>/dev/null)" ] \
    || missing+=(libc6-dev)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    record_failure "real node: missing Debian packages ${missing[*]} and not root to install them"
    return 1
  fi
  log "real node: apt-get install ${missing[*]}"
  p="$CACHE_ROOT/real-node-apt.log"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >"$p" 2>&1; then
    log "real node: apt-get install failed; running apt-get update first"
    DEBIAN_FRONTEND=noninteractive apt-get update >>"$p" 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >>"$p" 2>&1 \
      || { record_failure "real node: apt-get install ${missing[*]} failed (log $p)"; return 1; }
  fi
}

# containerd v2: plain go install (no replace lines; CGO off drops only the btrfs snapshotter).
build_containerd() {
  local v="$1" dir="$CACHE_ROOT/containerd/$1" c missing=""
  for c in containerd ctr containerd-shim-runc-v2; do [ -x "$dir/bin/$c" ] || missing="$missing $c"; done
  [ -z "$missing" ] && { log "containerd $v: cached in $dir/bin"; return 0; }
  log "containerd $v: go install github.com/containerd/containerd/v2/cmd/{containerd,ctr,containerd-shim-runc-v2}@$v (log $dir/build.log)"
  mkdir -p "$dir/tmpbin" "$dir/bin"; : >"$dir/build.log"
  (
    cd "$dir"
    GOBIN="$dir/tmpbin" timed "containerd $v" "$dir/build-stats.txt" "$dir/build.log" -- \
      go install -trimpath -ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=$v" \
      "github.com/containerd/containerd/v2/cmd/containerd@$v" \
      "github.com/containerd/containerd/v2/cmd/ctr@$v" \
      "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$v"
  ) || { tail -n 20 "$dir/build.log" >&2; return 1; }
  for c in containerd ctr containerd-shim-runc-v2; do mv "$dir/tmpbin/$c" "$dir/bin/$c"; done
  rmdir "$dir/tmpbin" 2>/dev/null || true
  log "containerd: $("$dir/bin/containerd" --version 2>&1 | head -n1)"
}

build_crictl() {
  local v="$1" dir="$CACHE_ROOT/crictl/$1"
  [ -x "$dir/bin/crictl" ] && { log "crictl $v: cached at $dir/bin/crictl"; return 0; }
  log "crictl $v: go install sigs.k8s.io/cri-tools/cmd/crictl@$v (log $dir/build.log)"
  mkdir -p "$dir/tmpbin" "$dir/bin"; : >"$dir/build.log"
  (
    cd "$dir"
    GOBIN="$dir/tmpbin" timed "crictl $v" "$dir/build-stats.txt" "$dir/build.log" -- \
      go install -trimpath -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$v" \
      "sigs.k8s.io/cri-tools/cmd/crictl@$v"
  ) || { tail -n 20 "$dir/build.log" >&2; return 1; }
  mv "$dir/tmpbin/crictl" "$dir/bin/crictl"; rmdir "$dir/tmpbin" 2>/dev/null || true
}

# build_static_c NAME: $CACHE_ROOT/<NAME>/<hash of NAME.c>/<NAME>, keyed by the source's content.
# Echoes the path.
build_static_c() {
  local name="$1" src="$REAL_NODE_SRC_DIR/$1.c" h dir
  h="$(sha256sum "$src" | cut -c1-12)"
  dir="$CACHE_ROOT/$name/$h"
  if [ ! -x "$dir/$name" ]; then
    mkdir -p "$dir"
    gcc -static -Os -s -Wall -o "$dir/$name.tmp" "$src" >"$dir/build.log" 2>&1 \
      || { cat "$dir/build.log" >&2; record_failure "real node: gcc -static $src failed"; return 1; }
    mv "$dir/$name.tmp" "$dir/$name"
    log "$name: built $dir/$name from $src"
  fi
  echo "$dir/$name"
}

# build_real_node: everything above; echoes the lines for cluster-bins.env.
build_real_node() {
  ensure_real_node_packages || return 1
  local cv crv pause testbin
  cv="$(try_versions build_containerd "$CONTAINERD_CANDIDATES")" || { record_failure "real node: no containerd version could be built (tried $CONTAINERD_CANDIDATES)"; return 1; }
  crv="$(try_versions build_crictl "$CRICTL_CANDIDATES")" || { crv=""; record_failure "real node: crictl could not be built (optional; skipped)"; }
  pause="$(build_static_c pause)" || return 1
  testbin="$(build_static_c testbin)" || return 1
  cat <<EOF
CONTAINERD_VERSION=$cv
CONTAINERD_BIN_DIR=$CACHE_ROOT/containerd/$cv/bin
CTR_BIN=$CACHE_ROOT/containerd/$cv/bin/ctr
CRICTL_BIN=${crv:+$CACHE_ROOT/crictl/$crv/bin/crictl}
RUNC_BIN=$(command -v runc)
PAUSE_BIN=$pause
TESTBIN_BIN=$testbin
EOF
}
