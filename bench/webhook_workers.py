#!/usr/bin/env python3
"""Workload A (webhook -> HTTP reaction) with K Area processes sharing one PostgreSQL database,
as `area serve` instances behind a load balancer would: the harness's bench_webhook.py drives
one URL, so this driver starts K `area daemon` processes (data directories DIR, DIR-w1, …), all
pinned to CPU 1 so the figure stays per core, and K wrk processes on CPU 0, each sending to its
own process with CONC/K connections (what a round-robin balancer does).

Delivered events are counted at the harness's sink (sink.mjs) inside the wrk window, as
bench_webhook.py counts them; CPU is read from /proc for the Area processes (summed) and for the
PostgreSQL server apart.

usage: webhook_workers.py --area BIN --data-dir DIR --token TOKEN --database URL --workers K
                          [--conc 64] [--duration 10] --out FILE
"""
import argparse
import json
import os
import subprocess
import time
import urllib.request

from proc_stats import cpu_ticks, postgres_ticks, rss_kb, wait_http

ap = argparse.ArgumentParser()
ap.add_argument("--area", required=True)
ap.add_argument("--data-dir", required=True)
ap.add_argument("--token", required=True)
ap.add_argument("--database", required=True)
ap.add_argument("--workers", type=int, default=2)
ap.add_argument("--conc", type=int, default=64)
ap.add_argument("--duration", type=int, default=10)
ap.add_argument("--harness", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "harness"))
ap.add_argument("--out", required=True)
a = ap.parse_args()
SINK = "http://127.0.0.1:9100"
BASE_PORT = 8787


def http(method, url, body=None, timeout=30):
    req = urllib.request.Request(url, data=body.encode() if body else None, method=method)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.load(r)


def load(seconds):
    """K wrk processes at once, one per Area process; returns their total requests/s."""
    per = max(1, a.conc // a.workers)
    procs = [subprocess.Popen(["taskset", "-c", "0", "wrk", "-t1", f"-c{per}", f"-d{seconds}s", "--timeout", "10s",
                               "-s", os.path.join(a.harness, "post.lua"),
                               f"http://127.0.0.1:{BASE_PORT + i}/hooks/{a.token}"],
                              stdout=subprocess.PIPE, text=True) for i in range(a.workers)]
    rps = 0.0
    for p in procs:
        out, _ = p.communicate()
        for line in out.splitlines():
            if line.startswith("Requests/sec:"):
                rps += float(line.split()[1])
    return rps


TCK = os.sysconf("SC_CLK_TCK")
sink = subprocess.Popen(["taskset", "-c", "0", "node", os.path.join(a.harness, "sink.mjs")],
                        env=dict(os.environ, SINK_PORT="9100"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
suts = []
try:
    assert wait_http(f"{SINK}/stats", 20), "the sink did not start"
    env = dict(os.environ, AREA_DATABASE_URL=a.database)
    for i in range(a.workers):
        data_dir = a.data_dir if i == 0 else f"{a.data_dir}-w{i}"
        suts.append(subprocess.Popen(["taskset", "-c", "1", a.area, "--data-dir", data_dir, "daemon", "--listen",
                                      f"127.0.0.1:{BASE_PORT + i}"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for i in range(a.workers):
        assert wait_http(f"http://127.0.0.1:{BASE_PORT + i}/about.json", 30), f"process {i} did not start"
    load(2)  # warm-up: connections, prepared statements
    time.sleep(2)
    http("POST", f"{SINK}/reset", "{}")
    c0, p0 = sum(cpu_ticks(s.pid) for s in suts), postgres_ticks()
    t_a = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    rps = load(a.duration)
    t_b = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    c1, p1 = sum(cpu_ticks(s.pid) for s in suts), postgres_ticks()
    rss = sum(rss_kb(s.pid) for s in suts) / 1024
    # Let the backlog drain (at most 15 s), then count what arrived inside the window.
    last, still = -1, 0
    for _ in range(150):
        count = http("GET", f"{SINK}/stats")["count"]
        still = still + 1 if count == last else 0
        if still >= 5:
            break
        last = count
        time.sleep(0.1)
    arrivals = http("GET", f"{SINK}/arrivals", timeout=60)["t_ns"]
    elapsed = (t_b - t_a) / 1e9
    in_window = sum(1 for t in arrivals if t_a <= int(t) <= t_b)
    sut_cpu_s = (c1 - c0) / TCK
    res = {
        "workers": a.workers, "conc": a.conc, "database": "postgresql", "window_s": elapsed,
        "wrk_rps": rps, "delivered_per_s": in_window / elapsed, "delivered_total": len(arrivals),
        "backlog_after_window": len(arrivals) - in_window,
        "sut_cpu_pct": 100 * sut_cpu_s / elapsed, "postgres_cpu_pct": 100 * (p1 - p0) / TCK / elapsed,
        "events_per_sut_cpu_s": in_window / sut_cpu_s if sut_cpu_s > 0 else None, "rss_mb": rss,
    }
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps(res))
finally:
    for s in suts:
        s.terminate()
    for s in suts:
        try:
            s.wait(timeout=20)
        except subprocess.TimeoutExpired:
            s.kill()
    sink.terminate()
