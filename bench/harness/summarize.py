#!/usr/bin/env python3
"""Print markdown tables (medians) from webhook-*.json and polling-*.json in a results directory.
usage: summarize.py [RESULTS_DIR]   (default: bench/results, next to this harness)
Result files that lack a field (bench/poll_direct.py writes fewer) show "–" there."""
import glob
import json
import os
import statistics
import sys

d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "results")


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def f(x, nd=0):
    if x is None:
        return "–"
    if isinstance(x, (int, float)):
        return f"{x:,.{nd}f}"
    return str(x)


rows = []
for p in sorted(glob.glob(os.path.join(d, "webhook-*.json"))):
    r = json.load(open(p))
    s = r.get("summary")
    if not s:
        continue
    rows.append((r["name"], s, r))
if rows:
    print("#### Webhook → transform → HTTP POST (medians of 3 runs per set; SUT pinned to 1 core)\n")
    print("| peer | delivered/s c=16 | delivered/s c=64 | ack p99 ms c=64 | events per SUT CPU-s (c=64) "
          "| open-loop rate /s | e2e p50 / p99 ms | lost | cold start s | idle RSS MB | RSS under load MB (max c=64) "
          "| foreign CPU % (c=64) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, s, r in rows:
        rate = sorted(r.get("latency", {}).keys(), key=int)
        rate = rate[-1] if rate else "200"
        print(f"| {name} | {f(s.get('c16_delivered_per_s'))} | {f(s.get('c64_delivered_per_s'))} "
              f"| {f(s.get('c64_wrk_p99_ms'), 1)} | {f(s.get('c64_events_per_sut_cpu_s'))} "
              f"| {rate} | {f(s.get(f'r{rate}_e2e_p50_ms'), 1)} / {f(s.get(f'r{rate}_e2e_p99_ms'), 1)} | {f(s.get(f'r{rate}_lost'))} "
              f"| {f(s.get('cold_start_s'), 2)} | {f(s.get('idle_rss_mb'))} | {f(s.get('c64_rss_max_mb'))} "
              f"| {f(s.get('c64_foreign_cpu_pct'))} |")
    print()
    print("Per-run spread ((max-min)/median): " + "; ".join(
        f"{n}: c16 {f((s.get('c16_delivered_spread') or 0) * 100)}%, c64 {f((s.get('c64_delivered_spread') or 0) * 100)}%, "
        "e2e p99 " + "/".join(f"{f((s.get(k) or 0) * 100)}%" for k in s if k.endswith("_p99_spread")) for n, s, _ in rows))
    print()

groups = {}
for p in sorted(glob.glob(os.path.join(d, "polling-*.json"))):
    r = json.load(open(p))
    if "upstream_per_s" not in r:
        continue
    name = r.get("name") or os.path.basename(p)[len("polling-"):-len(".json")]
    groups.setdefault((name, r["n"], r.get("interval_s", 1)), []).append(r)
if groups:
    print("#### Polling: N automations, each polling a JSON feed (10 distinct URLs; medians over runs, 30 s window each)\n")
    print("| peer | N | interval s | runs | upstream req/s (expected) | req per interval | SUT CPU % (min–max) | CPU ms/poll "
          "| RSS MB med | deliveries/expected | detect p50 / p99 ms | startup to N polls s | foreign CPU % |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (name, n, iv), rs in sorted(groups.items()):
        m = lambda k: med([r.get(k) for r in rs])
        cpus = [r["sut_cpu_pct"] for r in rs if r.get("sut_cpu_pct") is not None]
        lo, hi = (min(cpus), max(cpus)) if cpus else (None, None)
        print(f"| {name} | {n:,} | {f(iv, 0)} | {len(rs)} | {f(m('upstream_per_s'))} ({f(rs[0].get('expected_upstream_per_s'))}) "
              f"| {f(m('upstream_per_interval'))} | {f(m('sut_cpu_pct'))} ({f(lo)}–{f(hi)}) | {f(m('cpu_ms_per_poll'), 2)} "
              f"| {f(m('rss_med_mb'))} | {f(m('delivery_ratio'), 2)} | {f(m('detect_p50_ms'))} / {f(m('detect_p99_ms'))} "
              f"| {f(m('startup_to_n_polls_s'), 1)} | {f(m('foreign_cpu_pct'))} |")
