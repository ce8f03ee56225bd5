#!/usr/bin/env bash
# Start Node-RED headless with the given flows file. Execs node (PID stays the same).
# env: NR_HOME (directory whose node_modules holds node-red; bench/vs-nodered.sh installs
#      Node-RED 4.1.8 there), NR_USERDIR (scratch), FLOWS (flows.json to use)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
: "${NR_HOME:=${XDG_CACHE_HOME:-$HOME/.cache}/area-bench/node-red-4.1.8}"
: "${NR_USERDIR:=$NR_HOME/userdir}"
mkdir -p "$NR_USERDIR"
if [ -n "${FLOWS:-}" ]; then cp "$FLOWS" "$NR_USERDIR/flows.json"; fi
export NR_USERDIR
exec node ${NODE_OPTS:-} "$NR_HOME/node_modules/node-red/red.js" --settings "$HERE/settings.cjs" --userDir "$NR_USERDIR" "$NR_USERDIR/flows.json"
