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
ROOT=$PWD
HARNESS=$ROOT/bench/harness
OUT=$ROOT/bench/results
WORK=$(mktemp -d /tmp/area-server-bench.XXXXXX)
mkdir -p "$OUT"
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
npm run --silent build
cargo build --release --locked -p area-cli
AREA=${CARGO_TARGET_DIR:-$ROOT/target}/release/area
PORT=8787
FLAGS=(--runs 1 --cold-runs 3 --duration 10 --lat-duration 10 --warmup 3 --quiet-wait 5)

if [ "${SKIP_WEBHOOK:-}" != 1 ]; then
  D=$WORK/webhook
  printf 'benchmark-password\n' | "$AREA" --data-dir "$D" user add bench@example.com --password-stdin >/dev/null
  printf 'benchmark-password\n' | "$AREA" --data-dir "$D" login bench@example.com --password-stdin >/dev/null
  python3 "$ROOT/bench/harness_to_areas.py" "$HARNESS/workloads/webhook.json" > "$WORK/areas.json"
  "$AREA" --data-dir "$D" areas add --enable --allow-private-network --file "$WORK/areas.json" >/dev/null
  ID=$("$AREA" --data-dir "$D" --json areas list | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
  TOKEN=$("$AREA" --data-dir "$D" --json areas show "$ID" | python3 -c 'import json,sys; print(json.load(sys.stdin)["webhook_url"].rsplit("/",1)[1])')
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
