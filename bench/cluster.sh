#!/usr/bin/env bash
# Area on PostgreSQL beside Area on SQLite, in the same run, with the harness's workloads
# (bench/README.md, "A cluster on PostgreSQL"): a throwaway PostgreSQL cluster on this machine
# (scripts/pg-cluster.sh), Area pinned to CPU 1, the tools to CPU 0 (the PostgreSQL server is
# not pinned; its CPU is reported apart). Results land in bench/results/cluster-*.json.
#
#   bench/cluster.sh              # quick flags (a few minutes)
#   POLL_N=1000 bench/cluster.sh  # N polling areas (default 10,000)
#   PARTS=polling bench/cluster.sh # only one workload (webhook, polling)
#
# Webhooks on PostgreSQL are also measured with two processes sharing the database
# (bench/webhook_workers.py: the harness's driver sends to one URL).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_prepare area-bench-cluster

eval "$(scripts/pg-cluster.sh start)"
trap 'scripts/pg-cluster.sh stop "$AREA_TEST_PG_DIR"; rm -rf "$WORK"' EXIT
# Every process on one PostgreSQL database shares one master key.
AREA_MASTER_KEY=$(openssl rand -hex 32)
export AREA_MASTER_KEY
# new_database NAME: creates it on the benchmark's cluster and prints its URL.
new_database() {
  psql "$AREA_TEST_DATABASE_URL" -qc "CREATE DATABASE $1" >/dev/null
  echo "${AREA_TEST_DATABASE_URL/\/postgres\?//$1?}"
}
WEBHOOK_FLAGS=(--runs 1 --cold-runs 3 --duration 10 --lat-duration 10 --warmup 3 --quiet-wait 5)

PARTS=${PARTS:-webhook polling}

# Workload A, webhook → http reaction, one process: SQLite, then PostgreSQL.
[[ " $PARTS " == *" webhook "* ]] && for store in sqlite postgres; do
  D=$WORK/webhook-$store
  if [ "$store" = postgres ]; then AREA_DATABASE_URL=$(new_database webhook); else AREA_DATABASE_URL=sqlite; fi
  export AREA_DATABASE_URL
  bench_load "$AREA" "$D" "$HARNESS/workloads/webhook.json"
  TOKEN=$(bench_webhook_token "$AREA" "$D")
  python3 "$HARNESS/bench_webhook.py" --name "area-webhook-$store" \
    --webhook-url "http://127.0.0.1:$PORT/hooks/$TOKEN" \
    --start-cmd "exec $AREA --data-dir $D daemon --listen 127.0.0.1:$PORT" \
    --meta ack=after-durable-record --meta "store=$store" "${WEBHOOK_FLAGS[@]}" \
    --out "$OUT/cluster-webhook-$store.json"
done

# Workload A again on PostgreSQL with one and with two processes sharing the database (each
# receiving half the connections, as behind a round-robin load balancer), all on CPU 1.
[[ " $PARTS " == *" webhook "* ]] && for workers in 1 2; do
  D=$WORK/webhook-workers-$workers
  AREA_DATABASE_URL=$(new_database "webhook_$workers")
  export AREA_DATABASE_URL
  bench_load "$AREA" "$D" "$HARNESS/workloads/webhook.json"
  TOKEN=$(bench_webhook_token "$AREA" "$D")
  python3 "$ROOT/bench/webhook_workers.py" --area "$AREA" --data-dir "$D" --token "$TOKEN" \
    --database "$AREA_DATABASE_URL" --workers "$workers" --out "$OUT/cluster-webhook-postgres-${workers}w.json"
done

# Workload B, N polling areas at 1 s over 10 feeds: SQLite with one process, PostgreSQL with
# one and with two workers sharing the polls.
[[ " $PARTS " == *" polling "* ]] && for N in ${POLL_N:-10000}; do
  python3 "$HARNESS/gen_polling_spec.py" "$N" --interval 1 > "$WORK/poll-$N.spec.json"
  export AREA_DATABASE_URL=sqlite
  bench_load "$AREA" "$WORK/poll-$N-sqlite" "$WORK/poll-$N.spec.json"
  python3 "$ROOT/bench/poll_direct.py" --area "$AREA" --data-dir "$WORK/poll-$N-sqlite" --n "$N" \
    --out "$OUT/cluster-polling-$N-sqlite.json"
  for workers in 1 2; do
    URL=$(new_database "poll_${N}_$workers")
    AREA_DATABASE_URL=$URL bench_load "$AREA" "$WORK/poll-$N-pg-$workers" "$WORK/poll-$N.spec.json"
    python3 "$ROOT/bench/poll_direct.py" --area "$AREA" --data-dir "$WORK/poll-$N-pg-$workers" --n "$N" \
      --database "$URL" --workers "$workers" --out "$OUT/cluster-polling-$N-postgres-$workers.json"
  done
done
true
