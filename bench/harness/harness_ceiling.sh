#!/usr/bin/env bash
# Upper bound of what the harness can measure: wrk posting straight to the sink, both on
# the tool CPU(s). Per delivered event the tool core does exactly this work (one wrk
# request + one sink request), so an engine measured near this number is harness-bound.
# usage: bench/harness/harness_ceiling.sh [TOOL_CPUS=0] [SECONDS=10]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
CPUS="${1:-0}"; SECS="${2:-10}"
SINK_PORT=9109 setsid taskset -c "$CPUS" node "$HERE/sink.mjs" > /dev/null 2>&1 &
SPID=$!
trap 'kill $SPID 2>/dev/null || true' EXIT
for i in $(seq 1 50); do curl -s -o /dev/null http://127.0.0.1:9109/stats && break; sleep 0.1; done
echo -10 > /proc/$SPID/autogroup 2>/dev/null || true
for c in 16 64; do
  echo "== wrk -c$c -> sink (cpus $CPUS)"
  taskset -c "$CPUS" wrk -t1 -c$c -d${SECS}s -s "$HERE/post.lua" http://127.0.0.1:9109/sink | grep -E "Requests/sec|Latency"
  curl -s -X POST http://127.0.0.1:9109/reset > /dev/null
done
