#!/usr/bin/env python3
"""Workload B (N polling areas) against Area, for N where the harness's own driver cannot start.

The harness's `bench_polling.py` (bench/harness) waits for N upstream requests before it
measures — right for engines that make one request per automation, but Area shares polls (10
requests per interval whatever N), so at N = 10,000 that gate needs 1,000 s and times out. This
driver uses the same harness tools (fakeapi.mjs, sink.mjs) and the same definitions (SUT
pinned to CPU 1, CPU from /proc, RSS sampled each second, deliveries and detection latency from
the sink's arrivals and the API's item log) with a start gate that fits: every feed polled once.

With --database postgres://… and --workers K it runs K `area daemon` processes on that
database (data directories DIR, DIR-w1, …; AREA_MASTER_KEY must be set), all pinned to CPU 1,
and reports their CPU and RSS summed, and the PostgreSQL server's CPU apart.

usage: poll_direct.py --area BIN --data-dir DIR --n N [--window 30] [--warmup 20]
                      [--database URL --workers K] --out FILE
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import time

from proc_stats import cpu_ticks, get, postgres_ticks, rss_kb, wait_http

ap = argparse.ArgumentParser()
ap.add_argument("--area", required=True)
ap.add_argument("--data-dir", required=True)
ap.add_argument("--n", type=int, required=True)
ap.add_argument("--harness", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "harness"))
ap.add_argument("--feeds", type=int, default=10)
ap.add_argument("--new-every", type=float, default=20.0)
ap.add_argument("--warmup", type=float, default=20.0)
ap.add_argument("--window", type=float, default=30.0)
ap.add_argument("--database")
ap.add_argument("--workers", type=int, default=1)
ap.add_argument("--out", required=True)
a = ap.parse_args()
API, SINK = "http://127.0.0.1:9200", "http://127.0.0.1:9100"
TCK = os.sysconf("SC_CLK_TCK")


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else None


tools = a.harness
env = dict(os.environ, API_PORT="9200", SINK_PORT="9100", FEEDS=str(a.feeds), NEW_EVERY=str(a.new_every))
helpers = [subprocess.Popen(["taskset", "-c", "0", "node", os.path.join(tools, name)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for name in ("fakeapi.mjs", "sink.mjs")]
suts = []
try:
    assert wait_http(f"{API}/stats", 20) and wait_http(f"{SINK}/stats", 20), "harness tools did not start"
    t0 = time.monotonic()
    sut_env = dict(os.environ, AREA_IGNORE_MIN_INTERVAL="1")
    if a.database:
        sut_env["AREA_DATABASE_URL"] = a.database
    for i in range(a.workers):
        data_dir = a.data_dir if i == 0 else f"{a.data_dir}-w{i}"
        suts.append(subprocess.Popen(["taskset", "-c", "1", a.area, "--data-dir", data_dir, "daemon", "--listen",
                                      "127.0.0.1:0"], env=sut_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    all_polled = None
    while time.monotonic() - t0 < 60:
        by_feed = get(f"{API}/stats")["byFeed"]
        if all(c > 0 for c in by_feed):
            all_polled = time.monotonic() - t0
            break
        time.sleep(0.05)
    assert all_polled is not None, "not every feed was polled within 60 s"
    time.sleep(a.warmup)
    s0, c0, p0 = get(f"{API}/stats"), sum(cpu_ticks(s.pid) for s in suts), postgres_ticks()
    t_a = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    rss = []
    end = time.monotonic() + a.window
    while time.monotonic() < end:
        rss.append(sum(rss_kb(s.pid) for s in suts))
        time.sleep(1.0)
    t_b = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    s1, c1, p1 = get(f"{API}/stats"), sum(cpu_ticks(s.pid) for s in suts), postgres_ticks()
    el = (t_b - t_a) / 1e9
    arr, log = get(f"{SINK}/arrivals"), get(f"{API}/items_log")
    created = {i: int(t) for i, t in zip(log["ids"], log["created_ns"])}
    lat, inwin = [], 0
    for i, t in zip(arr["ids"], arr["t_ns"]):
        t = int(t)
        if t_a <= t <= t_b:
            inwin += 1
            if i in created:
                lat.append((t - created[i]) / 1e6)
    polls = s1["total"] - s0["total"]
    res = {
        "n": a.n, "workers": a.workers, "database": "postgresql" if a.database else "sqlite", "window_s": el, "startup_to_every_feed_polled_s": all_polled,
        "upstream_per_s": polls / el, "upstream_304": s1["n304"] - s0["n304"],
        "sut_cpu_pct": 100 * (c1 - c0) / TCK / el,
        "postgres_cpu_pct": 100 * (p1 - p0) / TCK / el if a.database else None,
        "rss_med_mb": statistics.median(rss) / 1024, "rss_max_mb": max(rss) / 1024,
        "deliveries_in_window": inwin, "expected_deliveries": a.n / a.new_every * el,
        "delivery_ratio": inwin / (a.n / a.new_every * el),
        "detect_p50_ms": pct(lat, 0.5), "detect_p99_ms": pct(lat, 0.99), "detect_max_ms": max(lat) if lat else None,
    }
    print(json.dumps(res, indent=1))
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
finally:
    for sut in suts:
        sut.send_signal(signal.SIGTERM)
    for sut in suts:
        try:
            sut.wait(timeout=60)
        except subprocess.TimeoutExpired:
            sut.kill()
    for h in helpers:
        h.kill()
