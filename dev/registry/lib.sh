# Shared settings of dev/registry/{build,up,down}.sh (sourced, not run).
# shellcheck shell=bash
CACHE_ROOT="${PONTOON_CACHE_DIR:-$HOME/.cache/pontoon}"
CRANE_VERSION="${PONTOON_CRANE_VERSION:-v0.22.1}"
REGISTRY_VERSION="${PONTOON_REGISTRY_VERSION:-v3.1.2}"
CRANE_BIN="$CACHE_ROOT/crane/$CRANE_VERSION/bin/crane"
REGISTRY_BIN="$CACHE_ROOT/registry/$REGISTRY_VERSION/bin/registry"
REGISTRY_PORT="${PONTOON_REGISTRY_PORT:-5001}"
REGISTRY_STATE="${PONTOON_REGISTRY_DIR:-$CACHE_ROOT/registry-data}"
REGISTRY_ADDR="127.0.0.1:$REGISTRY_PORT"
_RT0=$(date +%s)
rlog() { printf '[registry +%3ss] %s\n' "$(($(date +%s) - _RT0))" "$*" >&2; }
rdie() { printf '[registry] ERROR: %s\n' "$*" >&2; exit 1; }
registry_healthy() { curl -fsS -m 2 -o /dev/null "http://$REGISTRY_ADDR/v2/" 2>/dev/null; }
