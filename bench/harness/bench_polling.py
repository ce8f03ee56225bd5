#!/usr/bin/env python3
"""Polling workload driver: N automations each poll a fake JSON API feed every
INTERVAL s; a new item fires a reaction POST to the sink.

Starts fakeapi.mjs (FEEDS distinct feed URLs, a new item per feed every NEW_EVERY s)
and sink.mjs, then the SUT (--start-cmd, already configured with N automations,
e.g. from gen_polling_spec.py). After the SUT reaches its first full round of
polls (upstream requests >= N) and --warmup seconds, measures for --window s:
  upstream requests/s and per interval (vs N/interval expected; < N per interval
  with all automations served means identical polls were collapsed), 304 answers,
  SUT CPU % and RSS (median/max), deliveries vs expected, detection latency
  (sink arrival - item creation time) p50/p99.
Bounded: startup wait <= --startup-max s, window fixed, all processes stopped by PID.

--start-cmd runs with the repository root as working directory.

example (from the repository root):
  python3 bench/harness/gen_polling_spec.py 1000 --interval 1 > $SCRATCH/poll-1000.json
  python3 bench/harness/nodered/gen_flows.py $SCRATCH/poll-1000.json $SCRATCH/nr-poll-1000.json
  python3 bench/harness/bench_polling.py --name nodered --n 1000 --interval 1 \
     --start-cmd 'FLOWS=$SCRATCH/nr-poll-1000.json bash bench/harness/nodered/start.sh' \
     --out bench/results/polling-nodered-1000.json
"""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (CLK_TCK, HERE, ROOT, Sampler, cpu_ticks, descendants, http_json, loadavg, machine_info, med,
                    now_ns, pct, start_proc, stop_tree, sys_cpu, wait_http, wait_quiet, prioritize)

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--name", required=True)
ap.add_argument("--start-cmd", required=True)
ap.add_argument("--n", type=int, required=True)
ap.add_argument("--interval", type=float, default=1.0)
ap.add_argument("--feeds", type=int, default=10)
ap.add_argument("--new-every", type=float, default=20.0)
ap.add_argument("--warmup", type=float, default=20.0)
ap.add_argument("--window", type=float, default=30.0)
ap.add_argument("--startup-max", type=float, default=600.0)
ap.add_argument("--api-port", type=int, default=9200)
ap.add_argument("--sink-port", type=int, default=9100)
ap.add_argument("--sut-cpus", default="1")
ap.add_argument("--tool-cpus", default="0")
ap.add_argument("--out", required=True)
ap.add_argument("--meta", action="append", default=[])
ap.add_argument("--max-foreign", type=float, default=0.3)
ap.add_argument("--quiet-wait", type=float, default=60.0)
a = ap.parse_args()

API = f"http://127.0.0.1:{a.api_port}"
SINK = f"http://127.0.0.1:{a.sink_port}"
log = os.path.join(tempfile.gettempdir(), f"peerbench-poll-{a.name}-{a.n}.log")
res = {"name": a.name, "n": a.n, "interval_s": a.interval, "feeds": a.feeds, "new_every_s": a.new_every,
       "config": vars(a), "meta": dict(kv.split("=", 1) for kv in a.meta), "machine": machine_info(),
       "started": time.strftime("%Y-%m-%dT%H:%M:%S")}


def say(*x):
    print(f"[poll {a.name} n={a.n} {time.strftime('%H:%M:%S')}]", *x, flush=True)


def save():
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)


api = start_proc(["node", os.path.join(HERE, "fakeapi.mjs")], cpus=a.tool_cpus, log=log + ".api",
                 env={"API_PORT": str(a.api_port), "FEEDS": str(a.feeds), "NEW_EVERY": str(a.new_every)})
sink = start_proc(["node", os.path.join(HERE, "sink.mjs")], cpus=a.tool_cpus, log=log + ".sink",
                  env={"SINK_PORT": str(a.sink_port)})
sut = None
try:
    assert wait_http(f"{API}/stats", 20) and wait_http(f"{SINK}/stats", 20), "tools did not start"
    t0 = now_ns()
    sut = start_proc(["bash", "-c", a.start_cmd], cpus=a.sut_cpus, log=log, cwd=ROOT)
    first_req = full_round = None
    end = time.time() + a.startup_max
    while time.time() < end:
        if sut.poll() is not None:
            raise SystemExit(f"SUT exited rc={sut.returncode}; see {log}")
        tot = http_json("GET", f"{API}/stats")["total"]
        if tot > 0 and first_req is None:
            first_req = now_ns()
        if tot >= a.n:
            full_round = now_ns()
            break
        time.sleep(0.25)
    res["startup_to_first_poll_s"] = (first_req - t0) / 1e9 if first_req else None
    res["startup_to_n_polls_s"] = (full_round - t0) / 1e9 if full_round else None
    say("first poll after", res["startup_to_first_poll_s"], "s; N polls after", res["startup_to_n_polls_s"], "s")
    save()
    if full_round is None:
        raise SystemExit("SUT never reached N upstream requests")
    time.sleep(a.warmup)
    fq, wq = wait_quiet(lambda: descendants(sut.pid) + [api.pid, sink.pid], a.max_foreign, a.quiet_wait)
    # ---- measurement window ----------------------------------------------
    pids = descendants(sut.pid)
    s0 = http_json("GET", f"{API}/stats")
    c0, tl0, sys0 = cpu_ticks(pids), cpu_ticks([api.pid, sink.pid]), sys_cpu()
    samp = Sampler(sut.pid, 1.0)
    samp.start()
    t_a = now_ns()
    time.sleep(a.window)
    t_b = now_ns()
    samples = samp.stop()
    pids = descendants(sut.pid)
    s1 = http_json("GET", f"{API}/stats")
    c1, tl1, sys1 = cpu_ticks(pids), cpu_ticks([api.pid, sink.pid]), sys_cpu()
    el = (t_b - t_a) / 1e9
    polls = s1["total"] - s0["total"]
    sut_cpu = (c1 - c0) / CLK_TCK
    busy = (sys1[0] - sys0[0]) / CLK_TCK
    tools = (tl1 - tl0) / CLK_TCK
    # deliveries + detection latency
    arr = http_json("GET", f"{SINK}/arrivals", timeout=120)
    log_ = http_json("GET", f"{API}/items_log", timeout=60)
    created = {i: int(t) for i, t in zip(log_["ids"], log_["created_ns"])}
    lat, inwin = [], 0
    for i, t in zip(arr["ids"], arr["t_ns"]):
        t = int(t)
        if t_a <= t <= t_b:
            inwin += 1
            if i in created:
                lat.append((t - created[i]) / 1e6)
    expected_deliv = a.n / a.new_every * el
    rss = [kb for _, kb in samples]
    res.update({
        "window_s": el, "pre_foreign_cores": fq, "quiet_wait_s": wq, "loadavg": loadavg(),
        "upstream_requests": polls, "upstream_per_s": polls / el, "expected_upstream_per_s": a.n / a.interval,
        "upstream_per_interval": polls / el * a.interval, "poll_rate_achieved_ratio": (polls / el) / (a.n / a.interval),
        "upstream_304": s1["n304"] - s0["n304"], "distinct_urls": a.feeds,
        "sut_cpu_pct": 100 * sut_cpu / el, "cpu_ms_per_poll": 1000 * sut_cpu / polls if polls else None,
        "tools_cpu_pct": 100 * tools / el, "foreign_cpu_pct": 100 * max(0.0, busy - sut_cpu - tools) / el,
        "rss_med_mb": med(rss) / 1024 if rss else None, "rss_max_mb": max(rss) / 1024 if rss else None,
        "rss_kb_per_automation": (med(rss) / a.n) if rss else None, "nprocs": len(pids),
        "deliveries_in_window": inwin, "expected_deliveries": expected_deliv,
        "delivery_ratio": inwin / expected_deliv if expected_deliv else None,
        "detect_p50_ms": pct(lat, 0.5), "detect_p99_ms": pct(lat, 0.99), "detect_max_ms": max(lat) if lat else None,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
    })
    save()
    say(json.dumps({k: res[k] for k in ("upstream_per_s", "expected_upstream_per_s", "sut_cpu_pct", "cpu_ms_per_poll",
                                        "rss_med_mb", "delivery_ratio", "detect_p50_ms", "detect_p99_ms",
                                        "foreign_cpu_pct")}))
finally:
    stop_tree(sut)
    stop_tree(api)
    stop_tree(sink)
