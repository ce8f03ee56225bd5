#!/usr/bin/env bash
# Area against Node-RED 4.1.8 on the same workload, in one run: a webhook whose event is POSTed
# to an HTTP endpoint (bench/harness/workloads/webhook.json). Each system under test runs alone,
# pinned to one core (taskset); the harness's tools share the other core. Prints delivered
# events per second at 16 and 64 concurrent senders for both, the ratio Area/Node-RED, and
# Area's events per CPU-second, and writes everything to bench/results/vs-nodered.json.
#
#   bench/vs-nodered.sh                    # quick flags (one measured run per point), ≈ 3 min
#   FULL=1 bench/vs-nodered.sh             # the harness's defaults (3 runs, 20 s windows)
#   NODERED_MODE=async bench/vs-nodered.sh # Node-RED answers before delivering (default: after)
#   AREA_BIN=target/release/area bench/vs-nodered.sh   # skip the cargo build
#
# Node-RED is installed once from npm into NR_HOME (default ~/.cache/area-bench/node-red-4.1.8).
# Needs node ≥ 18 with npm, python3, taskset, and wrk (installed with apt-get when missing).
# Everything listens on and talks to 127.0.0.1 only; every process is stopped by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
HARNESS=$ROOT/bench/harness
OUT=$ROOT/bench/results
NR_VERSION=4.1.8
NR_HOME=${NR_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/area-bench/node-red-$NR_VERSION}
NODERED_MODE=${NODERED_MODE:-sync}
SUT_CPU=${SUT_CPU:-1}
TOOL_CPU=${TOOL_CPU:-0}
AREA_PORT=8787
NR_PORT=1880

die() { echo "vs-nodered: $*" >&2; exit 1; }
for tool in node npm python3 taskset; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
[ "$NODE_MAJOR" -ge 18 ] || die "Node-RED $NR_VERSION needs node 18 or newer (found $(node --version))"
case $NODERED_MODE in sync|async) ;; *) die "NODERED_MODE must be sync or async" ;; esac
if [ "$(nproc)" -lt 2 ] && [ "$SUT_CPU" != "$TOOL_CPU" ]; then
  echo "vs-nodered: only one CPU: the systems under test share it with the harness" >&2
  SUT_CPU=0 TOOL_CPU=0
fi
for port in $AREA_PORT $NR_PORT 9100; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "something already listens on 127.0.0.1:$port; stop it first"
  fi
done
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

# Node-RED, once, from npm.
nr_installed() { node -p "require(process.argv[1]).version" "$NR_HOME/node_modules/node-red/package.json" 2>/dev/null || true; }
if [ "$(nr_installed)" != "$NR_VERSION" ]; then
  echo "installing node-red@$NR_VERSION into $NR_HOME …"
  mkdir -p "$NR_HOME"
  [ -f "$NR_HOME/package.json" ] || printf '{ "private": true }\n' > "$NR_HOME/package.json"
  (cd "$NR_HOME" && npm install --no-audit --no-fund --omit=dev --loglevel=error "node-red@$NR_VERSION")
  [ "$(nr_installed)" = "$NR_VERSION" ] || die "node-red@$NR_VERSION did not install into $NR_HOME"
fi

# Area, release build.
if [ -n "${AREA_BIN:-}" ]; then
  AREA=$(cd "$(dirname "$AREA_BIN")" && pwd)/$(basename "$AREA_BIN")
else
  cargo build --release --locked -p area-cli
  AREA=${CARGO_TARGET_DIR:-$ROOT/target}/release/area
fi
[ -x "$AREA" ] || die "no Area binary at $AREA"

if [ "${FULL:-}" = 1 ]; then
  FLAGS=()
else
  FLAGS=(--runs 1 --cold-runs 3 --duration 10 --lat-duration 10 --warmup 3 --quiet-wait 5)
fi
FLAGS+=(--sut-cpus "$SUT_CPU" --tool-cpus "$TOOL_CPU")

WORK=$(mktemp -d /tmp/area-vs-nodered.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
failed=0

# Area: one webhook area whose `http` reaction POSTs to the sink. It answers 202 once the event
# is durably recorded, before delivery; delivered/s is counted at the sink either way.
D=$WORK/area
source "$ROOT/bench/lib.sh"
bench_load "$AREA" "$D" "$HARNESS/workloads/webhook.json"
TOKEN=$(bench_webhook_token "$AREA" "$D")
echo "== Area ($AREA), pinned to CPU $SUT_CPU"
python3 "$HARNESS/bench_webhook.py" --name area-webhook \
  --webhook-url "http://127.0.0.1:$AREA_PORT/hooks/$TOKEN" \
  --start-cmd "exec $(printf %q "$AREA") --data-dir $(printf %q "$D") daemon --listen 127.0.0.1:$AREA_PORT" \
  --meta ack=after-durable-record "${FLAGS[@]}" --out "$WORK/area.json" || failed=1

# Node-RED: http in → function (message) → http request (POST sink) → http response; in sync
# mode the response is sent after the POST (as the published peer figures were measured).
python3 "$HARNESS/nodered/gen_flows.py" "$HARNESS/workloads/webhook.json" "$WORK/flows.json" --mode "$NODERED_MODE" >/dev/null
if [ "$NODERED_MODE" = sync ]; then ACK=after-delivery; else ACK=before-delivery; fi
echo "== Node-RED $NR_VERSION ($NODERED_MODE), pinned to CPU $SUT_CPU"
python3 "$HARNESS/bench_webhook.py" --name "nodered-$NODERED_MODE" \
  --webhook-url "http://127.0.0.1:$NR_PORT/hooks/bench" \
  --start-cmd "FLOWS=$(printf %q "$WORK/flows.json") NR_HOME=$(printf %q "$NR_HOME") NR_USERDIR=$(printf %q "$WORK/nr-userdir") exec bash $(printf %q "$HARNESS/nodered/start.sh")" \
  --meta "ack=$ACK" --meta "version=$NR_VERSION" "${FLAGS[@]}" --out "$WORK/nodered.json" || failed=1

python3 - "$WORK/area.json" "$WORK/nodered.json" "$OUT/vs-nodered.json" "$NR_VERSION" "$NODERED_MODE" \
  "$SUT_CPU" "$TOOL_CPU" "${FULL:-0}" <<'EOF' || failed=1
import json, os, sys, time

area_path, nr_path, out_path, nr_version, nr_mode, sut_cpu, tool_cpu, full = sys.argv[1:]


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


area, nodered = load(area_path), load(nr_path)
sa = (area or {}).get("summary") or {}
sn = (nodered or {}).get("summary") or {}


def ratio(a, b):
    return a / b if a and b else None


comparison = {}
for c in ("16", "64"):
    a, n = sa.get(f"c{c}_delivered_per_s"), sn.get(f"c{c}_delivered_per_s")
    comparison[f"c{c}"] = {
        "area_delivered_per_s": a,
        "nodered_delivered_per_s": n,
        "area_over_nodered": ratio(a, n),
        "area_events_per_sut_cpu_s": sa.get(f"c{c}_events_per_sut_cpu_s"),
        "nodered_events_per_sut_cpu_s": sn.get(f"c{c}_events_per_sut_cpu_s"),
        "area_errors": sa.get(f"c{c}_errors"),
        "nodered_errors": sn.get(f"c{c}_errors"),
    }
result = {
    "workload": "webhook → HTTP POST (bench/harness/workloads/webhook.json)",
    "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
    "flags": "full" if full == "1" else "quick",
    "sut_cpu": sut_cpu,
    "tool_cpu": tool_cpu,
    "nodered": {"version": nr_version, "mode": nr_mode},
    "machine": (area or nodered or {}).get("machine"),
    "comparison": comparison,
    "area_run": area,
    "nodered_run": nodered,
}
with open(out_path, "w") as f:
    json.dump(result, f, indent=1)


def num(x, nd=0):
    return "–" if x is None else f"{x:,.{nd}f}"


print()
print(f"webhook → HTTP POST, each system alone on CPU {sut_cpu} (harness on CPU {tool_cpu}), "
      f"{result['flags']} flags")
print(f"{'':24}{'Area':>12}{f'Node-RED {nr_version} ({nr_mode})':>28}{'Area/Node-RED':>16}")
rows = [(f"delivered/s c={c}", f"c{c}", "delivered_per_s") for c in ("16", "64")]
rows += [(f"events/SUT CPU-s c={c}", f"c{c}", "events_per_sut_cpu_s") for c in ("16", "64")]
for label, c, what in rows:
    a, n = comparison[c][f"area_{what}"], comparison[c][f"nodered_{what}"]
    x = ratio(a, n)
    print(f"{label:24}{num(a):>12}{num(n):>28}{(num(x, 2) + '×') if x else '–':>16}")
errors = {k: v for k, v in ((f"{who} c={c}", comparison[f"c{c}"][f"{who}_errors"])
                            for who in ("area", "nodered") for c in ("16", "64")) if v}
if errors:
    print("wrk errors (non-2xx answers, socket errors):", errors)
print(f"wrote {os.path.relpath(out_path)}")
if area is None or nodered is None or not sa or not sn:
    sys.exit("one of the runs did not finish: see its log under /tmp (peerbench-<name>.log)")
EOF
exit $failed
