#!/usr/bin/env bash
# Starts the project's OCI registry (CNCF distribution) on 127.0.0.1:${PONTOON_REGISTRY_PORT:-5001},
# or reuses the one already answering there. Idempotent; builds the tools on first use (build.sh).
# Storage: ${PONTOON_REGISTRY_DIR:-~/.cache/pontoon/registry-data} (blobs survive restarts).
# Plain HTTP, loopback only: containerd and crane speak plain HTTP to 127.0.0.1 without extra config.
# Prints the registry address (host:port) on stdout.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash "$(dirname "${BASH_SOURCE[0]}")/build.sh"
mkdir -p "$REGISTRY_STATE/storage"
exec 8>"$REGISTRY_STATE/.lock"; flock -w 120 8 || rdie "could not lock $REGISTRY_STATE/.lock"
if registry_healthy; then echo "$REGISTRY_ADDR"; exit 0; fi
if ss -Hltn "sport = :$REGISTRY_PORT" 2>/dev/null | grep -q .; then
  rdie "port $REGISTRY_PORT is taken by something that is not an OCI registry ($(ss -Hltnp "sport = :$REGISTRY_PORT" | head -n1)); set PONTOON_REGISTRY_PORT"
fi
cat >"$REGISTRY_STATE/config.yml" <<YAML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $REGISTRY_STATE/storage
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
YAML
[ -f "$REGISTRY_STATE/registry.log" ] && mv -f "$REGISTRY_STATE/registry.log" "$REGISTRY_STATE/registry.log.1"
OTEL_TRACES_EXPORTER=none setsid "$REGISTRY_BIN" serve "$REGISTRY_STATE/config.yml" >"$REGISTRY_STATE/registry.log" 2>&1 </dev/null 8>&- &
echo "$!" >"$REGISTRY_STATE/registry.pid"
for _ in $(seq 100); do
  registry_healthy && { rlog "started on $REGISTRY_ADDR (pid $(cat "$REGISTRY_STATE/registry.pid"), log $REGISTRY_STATE/registry.log)"; echo "$REGISTRY_ADDR"; exit 0; }
  kill -0 "$(cat "$REGISTRY_STATE/registry.pid")" 2>/dev/null || { tail -n 20 "$REGISTRY_STATE/registry.log" >&2; rdie "the registry exited during start-up (log above)"; }
  sleep 0.1
done
rdie "the registry did not answer http://$REGISTRY_ADDR/v2/ within 10 s (log $REGISTRY_STATE/registry.log)"
