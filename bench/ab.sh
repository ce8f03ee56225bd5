#!/usr/bin/env bash
# A/B of two `area` binaries on the webhook → HTTP POST workload, alternated in one run so the
# machine's drift between runs falls on both: each round starts each binary on a fresh data
# directory, pinned to one core (the harness's tools on the other), and measures delivered
# events per second and per SUT CPU-second at 16 and 64 connections.
#
#   bench/ab.sh OLD_BIN NEW_BIN            # 3 rounds, 8 s windows
#   ROUNDS=5 DURATION=10 bench/ab.sh A B
#
# Prints one line per run and the mean per binary; needs node, python3, taskset and wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
[ $# -eq 2 ] || { echo "usage: bench/ab.sh OLD_BIN NEW_BIN" >&2; exit 2; }
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
SUT_CPU=${SUT_CPU:-1}
TOOL_CPU=${TOOL_CPU:-0}
PORT=8787
WORK=$(mktemp -d /tmp/area-ab.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

abs() { (cd "$(dirname "$1")" && echo "$PWD/$(basename "$1")"); }
BINS=("$(abs "$1")" "$(abs "$2")")
source "$ROOT/bench/lib.sh"

run_one() { # BIN LABEL ROUND
  local bin=$1 label=$2 round=$3 d="$WORK/data-$2-$3"
  local token
  bench_load "$bin" "$d" "$ROOT/bench/harness/workloads/webhook.json"
  token=$(bench_webhook_token "$bin" "$d")
  python3 "$ROOT/bench/harness/bench_webhook.py" --name "ab-$label" --skip cold,latency \
    --webhook-url "http://127.0.0.1:$PORT/hooks/$token" \
    --start-cmd "exec $(printf %q "$bin") --data-dir $(printf %q "$d") daemon --listen 127.0.0.1:$PORT" \
    --runs 1 --duration "$DURATION" --warmup 3 --quiet-wait 3 --idle-wait 1 \
    --sut-cpus "$SUT_CPU" --tool-cpus "$TOOL_CPU" --out "$WORK/$label-$round.json" >/dev/null 2>&1 ||
    { echo "run $label/$round failed: see /tmp/peerbench-ab-$label.log" >&2; return 1; }
  python3 - "$WORK/$label-$round.json" "$label" "$round" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
print(f"{sys.argv[2]} round {sys.argv[3]}: " + "  ".join(
    f"c{c} {s[f'c{c}_delivered_per_s']:,.0f}/s {s[f'c{c}_events_per_sut_cpu_s']:,.0f}/CPU-s"
    + (f" ({s[f'c{c}_errors']} errors)" if s.get(f"c{c}_errors") else "") for c in (16, 64)))
EOF
}

for round in $(seq 1 "$ROUNDS"); do
  run_one "${BINS[0]}" A "$round"
  run_one "${BINS[1]}" B "$round"
done
python3 - "$WORK" <<'EOF'
import glob, json, os, statistics, sys
for label, name in (("A", "old"), ("B", "new")):
    runs = [json.load(open(p))["summary"] for p in sorted(glob.glob(os.path.join(sys.argv[1], f"{label}-*.json")))]
    parts = []
    for c in (16, 64):
        d = statistics.mean(r[f"c{c}_delivered_per_s"] for r in runs)
        e = statistics.mean(r[f"c{c}_events_per_sut_cpu_s"] for r in runs)
        parts.append(f"c{c} {d:,.0f}/s {e:,.0f}/CPU-s")
    print(f"mean {label} ({name}): " + "  ".join(parts))
EOF
