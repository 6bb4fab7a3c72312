#!/usr/bin/env bash
# Builds (once) and caches the binaries of the simulated Kubernetes cluster, from the Go module
# proxy only: kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (matching the
# cluster's version), kubelet, etcd and kwok; and for the real node (real-node/build-lib.sh, skipped
# with PONTOON_REAL_NODE=0): containerd, ctr and containerd-shim-runc-v2, crictl, the static pause
# and testbin binaries (gcc -static), and the Debian packages runc, containernetworking-plugins,
# iptables (apt-get, as root) when missing.
#
#   ${PONTOON_CACHE_DIR:-$HOME/.cache/pontoon}/kube/<k8s-version>/bin/{kube-apiserver,...,kubectl}
#   ${PONTOON_CACHE_DIR:-$HOME/.cache/pontoon}/etcd/<etcd-version>/bin/etcd
#   ${PONTOON_CACHE_DIR:-$HOME/.cache/pontoon}/kwok/<kwok-version>/bin/kwok
#   ${PONTOON_CACHE_DIR:-$HOME/.cache/pontoon}/containerd/<version>/bin/{containerd,ctr,containerd-shim-runc-v2}
#   ${PONTOON_CACHE_DIR:-$HOME/.cache/pontoon}/crictl/<version>/bin/crictl
#   ${PONTOON_CACHE_DIR:-$HOME/.cache/pontoon}/{pause,testbin}/<hash of the .c file>/{pause,testbin}
#
# Components already cached are skipped (a second run takes well under a second and needs no
# network). The chosen paths are written to ${PONTOON_CACHE_DIR}/cluster-bins.env, which up.sh
# sources. Every first build records its wall time and peak memory in
# <cache>/<component>/<version>/build-stats.txt and prints them.
#
# Environment:
#   K8S_VERSION   one Kubernetes version to build (default: try v1.37.2, then v1.36.3, v1.35.4)
#   ETCD_VERSION  one etcd version (default: try v3.6.16, then v3.6.15)
#   KWOK_VERSION  one kwok version (default: try v0.8.0, then v0.7.0)
#   CONTAINERD_VERSION  (default v2.4.2)   CRICTL_VERSION (default v1.37.0; optional, skipped if it fails)
#   PONTOON_REAL_NODE=0  skip the real node's parts
#   PONTOON_BUILD_NICE  nice level of the builds (default 19)
set -euo pipefail

CACHE_ROOT="${PONTOON_CACHE_DIR:-$HOME/.cache/pontoon}"
K8S_CANDIDATES="${K8S_VERSION:-v1.37.2 v1.36.3 v1.35.4}"
ETCD_CANDIDATES="${ETCD_VERSION:-v3.6.16 v3.6.15}"
KWOK_CANDIDATES="${KWOK_VERSION:-v0.8.0 v0.7.0}"
NICE_LEVEL="${PONTOON_BUILD_NICE:-19}"

# One build at a time per cache: a test run and `npm run cluster:up` (or two checkouts) may both start
# one, and two go builds writing the same .tmp binary corrupt each other. The second waits, then
# finds every component cached.
mkdir -p "$CACHE_ROOT"
exec 7>"$CACHE_ROOT/.cluster-build.lock"
if ! flock -n 7; then
  printf '[cluster-build] waiting for another build.sh on %s to finish\n' "$CACHE_ROOT" >&2
  flock -w 3600 7 || { echo "could not lock $CACHE_ROOT/.cluster-build.lock within 3600 s" >&2; exit 1; }
fi

# Never download a Go toolchain: build with the installed Go or fail.
export GOTOOLCHAIN=local
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-buildvcs=false"
export CGO_ENABLED=0

START=$(date +%s)
log() { printf '[cluster-build +%4ss] %s\n' "$(($(date +%s) - START))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

command -v go >/dev/null || die "go is not installed (needed to build the cluster binaries)"
GO_LOCAL="$(go env GOVERSION)"; GO_LOCAL="${GO_LOCAL#go}"

# version_le A B: true if Go version A <= B (e.g. 1.26.0 <= 1.26.8)
version_le() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" = "$1" ]; }

# timed NAME STATSFILE LOGFILE -- cmd...: runs cmd niced in its own process group, logging to
# LOGFILE; records wall time, the peak RSS of the largest single process (GNU time) and the peak
# summed RSS of the whole process tree (sampled every second) into STATSFILE.
timed() {
  local name="$1" stats="$2" logf="$3"; shift 4
  local t0 t1 rc peak_tree=0 cur pg
  t0=$(date +%s)
  local tv=()
  [ -x /usr/bin/time ] && tv=(/usr/bin/time -v -o "$stats.time")
  setsid nice -n "$NICE_LEVEL" "${tv[@]}" "$@" >>"$logf" 2>&1 &
  pg=$!
  local last_note=$t0
  while kill -0 "$pg" 2>/dev/null; do
    cur=$(ps -o rss= -s "$pg" 2>/dev/null | awk '{s+=$1} END {print s+0}')
    [ "$cur" -gt "$peak_tree" ] && peak_tree=$cur
    if [ $(( $(date +%s) - last_note )) -ge 60 ]; then
      last_note=$(date +%s)
      log "$name: still building ($((last_note - t0))s, tree RSS now $((cur / 1024)) MiB, log $logf)"
    fi
    sleep 1
  done
  rc=0; wait "$pg" || rc=$?
  t1=$(date +%s)
  local maxrss="?"
  if [ -f "$stats.time" ]; then
    maxrss=$(awk -F': ' '/Maximum resident set size/ {print int($2/1024)}' "$stats.time")
  fi
  {
    echo "component=$name"
    echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "go=$(go env GOVERSION) nproc=$(nproc) nice=$NICE_LEVEL"
    echo "exit_code=$rc"
    echo "wall_seconds=$((t1 - t0))"
    echo "peak_rss_largest_process_mib=$maxrss"
    echo "peak_rss_process_tree_mib=$((peak_tree / 1024))"
  } >>"$stats"
  log "$name: exit $rc after $((t1 - t0))s; peak RSS largest process ${maxrss} MiB, whole tree $((peak_tree / 1024)) MiB"
  return "$rc"
}

# Failures are collected in a file: try_versions runs in command substitutions (subshells).
mkdir -p "$CACHE_ROOT"
FAIL_FILE="$(mktemp)"; trap 'rm -f "$FAIL_FILE"' EXIT
record_failure() {
  echo "$*" >>"$FAIL_FILE"
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $*" >>"$CACHE_ROOT/build-failures.log"
  log "FALLBACK: $*"
}

# ---------------------------------------------------------------------------------------------
# etcd: go.etcd.io/etcd/server/v3 is etcd's main package; build it from a scratch module.
build_etcd() {
  local v="$1" dir="$CACHE_ROOT/etcd/$1"
  [ -x "$dir/bin/etcd" ] && { log "etcd $v: cached at $dir/bin/etcd"; return 0; }
  log "etcd $v: building from go.etcd.io/etcd/server/v3@$v (log $dir/build.log)"
  mkdir -p "$dir/src" "$dir/bin"; : >"$dir/build.log"
  (
    cd "$dir/src"
    [ -f go.mod ] || go mod init pontoon.local/etcd-build >/dev/null 2>&1
    cat >build.sh <<EOF
set -e
go get go.etcd.io/etcd/server/v3@$v
go build -trimpath -ldflags "-s -w" -o "$dir/bin/etcd.tmp" go.etcd.io/etcd/server/v3
EOF
    timed "etcd $v" "$dir/build-stats.txt" "$dir/build.log" -- bash build.sh
  ) || { tail -n 20 "$dir/build.log" >&2; return 1; }
  mv "$dir/bin/etcd.tmp" "$dir/bin/etcd"
  "$dir/bin/etcd" --version | head -n1 | sed 's/^/    /' >&2
}

# kwok: plain go install (its go.mod has no replace lines).
build_kwok() {
  local v="$1" dir="$CACHE_ROOT/kwok/$1"
  [ -x "$dir/bin/kwok" ] && { log "kwok $v: cached at $dir/bin/kwok"; return 0; }
  log "kwok $v: go install sigs.k8s.io/kwok/cmd/kwok@$v (log $dir/build.log)"
  mkdir -p "$dir/tmpbin" "$dir/bin"; : >"$dir/build.log"
  (
    cd "$dir"
    GOBIN="$dir/tmpbin" timed "kwok $v" "$dir/build-stats.txt" "$dir/build.log" -- \
      go install -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${v#v}" \
      "sigs.k8s.io/kwok/cmd/kwok@$v"
  ) || { tail -n 20 "$dir/build.log" >&2; return 1; }
  mv "$dir/tmpbin/kwok" "$dir/bin/kwok"; rmdir "$dir/tmpbin" 2>/dev/null || true
}

# Kubernetes: k8s.io/kubernetes replaces every staging module with ./staging/src/..., which
# `go install` rejects. A scratch module requires k8s.io/kubernetes and replaces each staging module
# k8s.io/<x> with its published k8s.io/<x>@v0.<minor>.<patch>.
KUBE_CMDS="kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet"
build_kube() {
  local v="$1" dir="$CACHE_ROOT/kube/$1" c missing=""
  for c in $KUBE_CMDS; do [ -x "$dir/bin/$c" ] || missing="$missing $c"; done
  [ -z "$missing" ] && { log "kubernetes $v: cached in $dir/bin"; return 0; }
  mkdir -p "$dir/src" "$dir/bin"
  local mod_go staging_v="v0.${v#v1.}" major=1 minor
  minor="${v#v1.}"; minor="${minor%%.*}"
  log "kubernetes $v: resolving k8s.io/kubernetes@$v (scratch module $dir/src)"
  local info gomod
  if ! info="$(cd "$dir/src" && go mod download -json "k8s.io/kubernetes@$v" 2>&1)"; then
    record_failure "kubernetes $v: the module proxy did not serve k8s.io/kubernetes@$v: $(echo "$info" | tr '\n' ' ' | cut -c1-300)"
    return 1
  fi
  gomod="$(echo "$info" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
  [ -f "$gomod" ] || { record_failure "kubernetes $v: no go.mod in download info"; return 1; }
  mod_go="$(awk '$1 == "go" {print $2; exit}' "$gomod")"
  if ! version_le "$mod_go" "$GO_LOCAL"; then
    record_failure "kubernetes $v: needs Go $mod_go, installed Go is $GO_LOCAL"
    return 1
  fi
  (
    cd "$dir/src"
    rm -f go.mod go.sum
    go mod init pontoon.local/kube-build >/dev/null 2>&1
    go mod edit -go="$mod_go"
    # Carry over the godebug defaults of k8s.io/kubernetes' own go.mod.
    awk '$1 == "godebug" && $2 != "(" {print $2}' "$gomod" | while read -r gd; do go mod edit -godebug="$gd"; done
    : >staging-replaces.txt
    local m
    for m in $(awk '$2 == "=>" && $3 ~ /^\.\/staging\// {print $1}' "$gomod"); do
      if go list -m "$m@$staging_v" >/dev/null 2>&1; then
        go mod edit -replace "$m=$m@$staging_v"
        echo "$m@$staging_v" >>staging-replaces.txt
      else
        # Only unpublished example modules (k8s.io/sample-*) have been seen here; the commands
        # do not import them.
        echo "SKIPPED $m@$staging_v (not served by the module proxy)" >>staging-replaces.txt
        log "kubernetes $v: $m@$staging_v not served by the proxy; not replaced (unused by the commands)"
      fi
    done
  ) || { record_failure "kubernetes $v: preparing the scratch module failed"; return 1; }
  local ldf="-s -w"
  ldf="$ldf -X k8s.io/component-base/version.gitVersion=$v"
  ldf="$ldf -X k8s.io/component-base/version.gitMajor=$major"
  ldf="$ldf -X k8s.io/component-base/version.gitMinor=$minor"
  ldf="$ldf -X k8s.io/component-base/version.gitTreeState=clean"
  ldf="$ldf -X k8s.io/component-base/version.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  ldf="$ldf -X k8s.io/component-base/version.gitCommit=0000000000000000000000000000000000000000"
  # Resolve dependencies for all commands first (download, go.sum), timed on its own.
  if [ "$(cat "$dir/src/.deps-ok" 2>/dev/null)" != "$KUBE_CMDS" ]; then
    log "kubernetes $v: go get (downloading modules; log $dir/deps.log)"
    : >"$dir/deps.log"
    local pkgs=""; for c in $KUBE_CMDS; do pkgs="$pkgs k8s.io/kubernetes/cmd/$c@$v"; done
    if ! (cd "$dir/src" && timed "kubernetes $v deps" "$dir/build-stats.txt" "$dir/deps.log" -- go get $pkgs); then
      record_failure "kubernetes $v: go get failed: $(tail -n 5 "$dir/deps.log" | tr '\n' ' ' | cut -c1-500)"
      return 1
    fi
    echo "$KUBE_CMDS" >"$dir/src/.deps-ok"
  fi
  for c in $KUBE_CMDS; do
    [ -x "$dir/bin/$c" ] && { log "$c $v: cached"; continue; }
    log "$c $v: building (log $dir/$c.build.log)"
    : >"$dir/$c.build.log"
    if ! (cd "$dir/src" && timed "$c $v" "$dir/build-stats.txt" "$dir/$c.build.log" -- \
          go build -trimpath -ldflags "$ldf" -o "$dir/bin/$c.tmp" "k8s.io/kubernetes/cmd/$c"); then
      record_failure "kubernetes $v: go build of $c failed: $(grep -v '^\s*$' "$dir/$c.build.log" | grep -v 'Command being timed' | tail -n 8 | tr '\n' ' ' | cut -c1-800)"
      return 1
    fi
    mv "$dir/bin/$c.tmp" "$dir/bin/$c"
    if [ "$c" = kubectl ]; then
      log "$c: $("$dir/bin/$c" version --client 2>&1 | head -n1)"
    else
      log "$c: $("$dir/bin/$c" --version 2>&1 | head -n1)"
    fi
  done
}

try_versions() { # try_versions FUNC "v1 v2 ..." -> echoes the first version that built
  local fn="$1" v
  for v in $2; do
    if "$fn" "$v"; then echo "$v"; return 0; fi
    record_failure "$fn $v failed; trying the next version"
  done
  return 1
}

log "cache: $CACHE_ROOT (go $GO_LOCAL)"
ETCD_V="$(try_versions build_etcd "$ETCD_CANDIDATES")" || die "no etcd version could be built (tried $ETCD_CANDIDATES)"
KWOK_V="$(try_versions build_kwok "$KWOK_CANDIDATES")" || die "no kwok version could be built (tried $KWOK_CANDIDATES)"
KUBE_V="$(try_versions build_kube "$K8S_CANDIDATES")" || die "no Kubernetes version could be built (tried $K8S_CANDIDATES)"
REAL_NODE_BINS=""
if [ "${PONTOON_REAL_NODE:-1}" != 0 ]; then
  # shellcheck source=real-node/build-lib.sh
  . "$(dirname "${BASH_SOURCE[0]}")/real-node/build-lib.sh"
  REAL_NODE_BINS="$(build_real_node)" \
    || die "the real node's parts could not be built (see above; PONTOON_REAL_NODE=0 runs the cluster without it)"
else
  # keep what an earlier build recorded: down.sh and status.sh still need them for a running node
  REAL_NODE_BINS="$(grep -E '^(CONTAINERD_VERSION|CONTAINERD_BIN_DIR|CTR_BIN|CRICTL_BIN|RUNC_BIN|PAUSE_BIN|TESTBIN_BIN)=' \
    "$CACHE_ROOT/cluster-bins.env" 2>/dev/null || true)"
fi

ENV_FILE="$CACHE_ROOT/cluster-bins.env"
cat >"$ENV_FILE.tmp" <<EOF
# written by dev/cluster/build.sh
K8S_VERSION=$KUBE_V
ETCD_VERSION=$ETCD_V
KWOK_VERSION=$KWOK_V
KUBE_APISERVER_BIN=$CACHE_ROOT/kube/$KUBE_V/bin/kube-apiserver
KUBE_CONTROLLER_MANAGER_BIN=$CACHE_ROOT/kube/$KUBE_V/bin/kube-controller-manager
KUBE_SCHEDULER_BIN=$CACHE_ROOT/kube/$KUBE_V/bin/kube-scheduler
KUBECTL_BIN=$CACHE_ROOT/kube/$KUBE_V/bin/kubectl
ETCD_BIN=$CACHE_ROOT/etcd/$ETCD_V/bin/etcd
KWOK_BIN=$CACHE_ROOT/kwok/$KWOK_V/bin/kwok
KUBELET_BIN=$CACHE_ROOT/kube/$KUBE_V/bin/kubelet
$REAL_NODE_BINS
EOF
mv "$ENV_FILE.tmp" "$ENV_FILE"
if [ -s "$FAIL_FILE" ]; then
  log "fallbacks taken (also in $CACHE_ROOT/build-failures.log):"
  while read -r f; do log "  - $f"; done <"$FAIL_FILE"
fi
log "done: kubernetes $KUBE_V, etcd $ETCD_V, kwok $KWOK_V -> $ENV_FILE"
