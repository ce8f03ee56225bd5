#!/usr/bin/env bash
# The Area server's figures (bench/README.md, "The server"):
#   1. webhook → HTTP reaction throughput through `area serve`'s endpoint beside `area daemon`'s,
#      in the same run, with the harness's webhook workload (quick flags, SUT pinned to CPU 1);
#   2. API latency and memory with U signed-in users of A areas each (bench/server_api.py).
#
#   bench/server.sh                      # both; USERS=100 AREAS=100
#   SKIP_WEBHOOK=1 bench/server.sh       # only the API (SKIP_API=1: only the webhook)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
npm run --silent build # the web app is embedded in the binary
bench_prepare area-server-bench
FLAGS=(--runs 1 --cold-runs 3 --duration 10 --lat-duration 10 --warmup 3 --quiet-wait 5)

if [ "${SKIP_WEBHOOK:-}" != 1 ]; then
  D=$WORK/webhook
  bench_load "$AREA" "$D" "$HARNESS/workloads/webhook.json"
  TOKEN=$(bench_webhook_token "$AREA" "$D")
  for shell in daemon serve; do
    python3 "$HARNESS/bench_webhook.py" --name "area-$shell" \
      --webhook-url "http://127.0.0.1:$PORT/hooks/$TOKEN" \
      --start-cmd "exec $AREA --data-dir $D $shell --listen 127.0.0.1:$PORT" \
      --meta ack=after-durable-record --meta shell="$shell" "${FLAGS[@]}" --out "$OUT/server-webhook-$shell.json"
  done
fi
if [ "${SKIP_API:-}" != 1 ]; then
  python3 "$ROOT/bench/server_api.py" --area "$AREA" --users "${USERS:-100}" --areas "${AREAS:-100}" \
    --out "$OUT/server-api.json"
fi
rm -rf "$WORK"
