#!/usr/bin/env bash
# Runs the load harness's two workloads (bench/harness, see bench/README.md) against Area
# (webhook → http reaction, and N polling areas), pinned to one core. Results land in bench/results/.
#
#   bench/run.sh                 # both workloads, N = 100, 1000, 10000
#   QUICK=1 bench/run.sh         # one run each, shorter windows (a few minutes in all)
#   POLL_N="100 1000" bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_prepare area-bench
setup_dir() { bench_load "$AREA" "$@"; } # DIR SPEC → loads the areas into a fresh data dir

if [ "${QUICK:-}" = 1 ]; then
  WEBHOOK_FLAGS=(--runs 1 --cold-runs 3 --duration 10 --lat-duration 10 --warmup 3 --quiet-wait 5)
  POLL_FLAGS=(--warmup 10 --window 15 --quiet-wait 5)
else
  WEBHOOK_FLAGS=()
  POLL_FLAGS=()
fi

# Workload A: webhook → http reaction. The ack (202) is sent once the event is durably recorded,
# before delivery (async mode in the harness's terms).
D=$WORK/webhook
setup_dir "$D" "$HARNESS/workloads/webhook.json"
TOKEN=$(bench_webhook_token "$AREA" "$D")
python3 "$HARNESS/bench_webhook.py" --name area-webhook \
  --webhook-url "http://127.0.0.1:$PORT/hooks/$TOKEN" \
  --start-cmd "exec $AREA --data-dir $D daemon --listen 127.0.0.1:$PORT" \
  --meta ack=after-durable-record "${WEBHOOK_FLAGS[@]}" --out "$OUT/webhook-area.json"

# Workload B: N polling areas at 1 s over 10 distinct feeds. The harness's driver waits for N
# upstream requests before measuring; Area shares polls (10 requests per second whatever N), so
# from N = 10,000 on that gate needs 1,000 s and times out: bench/poll_direct.py measures the
# same things with the same tools and a fitting start gate (every feed polled once).
for N in ${POLL_N:-100 1000 10000}; do
  D=$WORK/poll-$N
  python3 "$HARNESS/gen_polling_spec.py" "$N" --interval 1 > "$WORK/poll-$N.spec.json"
  setup_dir "$D" "$WORK/poll-$N.spec.json"
  if [ "$N" -ge 10000 ]; then
    python3 "$ROOT/bench/poll_direct.py" --area "$AREA" --data-dir "$D" --n "$N" \
      --out "$OUT/polling-area-$N-1s-direct.json"
  else
    python3 "$HARNESS/bench_polling.py" --name area --n "$N" --interval 1 \
      --start-cmd "AREA_IGNORE_MIN_INTERVAL=1 exec $AREA --data-dir $D daemon --listen 127.0.0.1:$PORT" \
      "${POLL_FLAGS[@]}" --out "$OUT/polling-area-$N-1s.json"
  fi
done
python3 "$HARNESS/summarize.py" "$OUT" || true
rm -rf "$WORK"
