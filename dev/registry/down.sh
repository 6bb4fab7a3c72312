#!/usr/bin/env bash
# Stops the registry started by up.sh. `--purge` also deletes its storage.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
pid="$(cat "$REGISTRY_STATE/registry.pid" 2>/dev/null || true)"
if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$REGISTRY_BIN" ]; then
  kill "$pid"; for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  # Still there after the 5 s grace (SIGTERM ignored or a stuck drain): SIGKILL, as everywhere else.
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rlog "stopped (pid $pid)"
fi
rm -f "$REGISTRY_STATE/registry.pid"
[ "${1:-}" = --purge ] && rm -rf "$REGISTRY_STATE/storage" && rlog "storage deleted"
exit 0
