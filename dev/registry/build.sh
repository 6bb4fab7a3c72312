#!/usr/bin/env bash
# Builds (once) and caches the image tools, from the Go module proxy only:
#   crane    github.com/google/go-containerregistry/cmd/crane   (builds and pushes images, no daemon)
#   registry github.com/distribution/distribution/v3/cmd/registry (the CNCF OCI registry)
# into ${PONTOON_CACHE_DIR:-~/.cache/pontoon}/{crane,registry}/<version>/bin/. A second run takes
# milliseconds and needs no network. Prints nothing on stdout.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-buildvcs=false"
# One build at a time per cache (a test run and `npm run registry:up` may both start one): the second
# waits, then finds the tools cached.
LOCK_DIR="${PONTOON_CACHE_DIR:-$HOME/.cache/pontoon}"; mkdir -p "$LOCK_DIR"
exec 7>"$LOCK_DIR/.registry-build.lock"
flock -w 3600 7 || rdie "could not lock $LOCK_DIR/.registry-build.lock within 3600 s (another build.sh is running)"

install_tool() { # install_tool NAME MODULE/CMD VERSION DEST
  local name="$1" pkg="$2" v="$3" dest="$4" dir t0
  [ -x "$dest" ] && return 0
  command -v go >/dev/null || rdie "go is not installed: it builds $name from the Go module proxy (apt-get install golang, or https://go.dev/dl)"
  dir="$(dirname "$dest")"; mkdir -p "$dir/tmp"
  t0=$(date +%s)
  rlog "$name $v: go install $pkg@$v (first time only; log $dir/build.log)"
  if ! GOBIN="$dir/tmp" nice -n "${PONTOON_BUILD_NICE:-10}" go install -trimpath -ldflags '-s -w' "$pkg@$v" >"$dir/build.log" 2>&1; then
    tail -n 15 "$dir/build.log" >&2
    rdie "building $name $v failed (log above); is the Go module proxy reachable (GOPROXY=$(go env GOPROXY))?"
  fi
  mv "$dir/tmp/$(basename "$pkg")" "$dest"; rmdir "$dir/tmp" 2>/dev/null || true
  echo "wall_seconds=$(($(date +%s) - t0))" >"$dir/build-stats.txt"
  rlog "$name $v: built in $(($(date +%s) - t0)) s -> $dest"
}
install_tool crane github.com/google/go-containerregistry/cmd/crane "$CRANE_VERSION" "$CRANE_BIN"
install_tool registry github.com/distribution/distribution/v3/cmd/registry "$REGISTRY_VERSION" "$REGISTRY_BIN"
