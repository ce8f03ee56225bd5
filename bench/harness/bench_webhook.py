#!/usr/bin/env python3
"""Webhook workload driver: "POST webhook -> transform title -> POST to sink".

Measures, for one system under test (SUT) started by --start-cmd:
  cold start   time from spawn to the first reaction arriving at the sink (N runs)
  idle RSS     RSS of the SUT process tree after start + --idle-wait seconds
  throughput   wrk closed loop at each --conc for --duration s; delivered/s = sink
               arrivals inside the wrk window / window (interleaved, --runs each)
  latency      open-loop loadgen at each --rate for --lat-duration s; end-to-end
               latency = sink arrival - *scheduled* send time (no coordinated omission)
  RSS/CPU      RSS sampled every 0.5 s during load; SUT CPU-seconds per run
Bounded everywhere: wrk -d, loadgen --duration/--grace, drain max 15 s, cold start max 300 s.

SUT contract: --start-cmd must start the engine in the foreground (exec is best);
the driver runs it pinned with taskset to --sut-cpus and stops it by PID.
The engine must already hold an automation for --webhook-url whose reaction
POSTs JSON containing "New item: <title>" to the sink (http://127.0.0.1:9100/sink).

--start-cmd runs with the repository root as working directory.

example (from the repository root; bench/vs-nodered.sh does this for you):
  python3 bench/harness/bench_webhook.py --name nodered-sync \
     --start-cmd 'FLOWS=$SCRATCH/nr_webhook_sync.json bash bench/harness/nodered/start.sh' \
     --webhook-url http://127.0.0.1:1880/hooks/bench --out bench/results/webhook-nodered-sync.json
"""
import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (CLK_TCK, ROOT, HERE, Sampler, cpu_ticks, descendants, drain, http, http_json, loadavg,
                    machine_info, med, now_ns, pct, pinned, rss_kb, spread, start_proc, stop_tree, sys_cpu,
                    wait_http, wait_quiet, prioritize, run_tool)

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--name", required=True)
ap.add_argument("--start-cmd", required=True, help="shell command that runs the SUT in the foreground")
ap.add_argument("--webhook-url", required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--sink-port", type=int, default=9100)
ap.add_argument("--sut-cpus", default="1")
ap.add_argument("--tool-cpus", default="0")
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--cold-runs", type=int, default=3)
ap.add_argument("--conc", default="16,64")
ap.add_argument("--duration", type=int, default=20)
ap.add_argument("--rates", default="200")
ap.add_argument("--lat-duration", type=int, default=15)
ap.add_argument("--idle-wait", type=float, default=10.0)
ap.add_argument("--warmup", type=int, default=5)
ap.add_argument("--cold-max", type=float, default=300.0)
ap.add_argument("--skip", default="", help="comma list of phases to skip: cold,throughput,latency")
ap.add_argument("--meta", action="append", default=[], help="key=value recorded in the result")
ap.add_argument("--log", default=None)
ap.add_argument("--max-foreign", type=float, default=0.3, help="quiet gate: max CPU cores used by others before a run")
ap.add_argument("--quiet-wait", type=float, default=90.0, help="quiet gate: max seconds to wait")
a = ap.parse_args()

skip = set(x for x in a.skip.split(",") if x)
SINK = f"http://127.0.0.1:{a.sink_port}"
log = a.log or os.path.join(tempfile.gettempdir(), f"peerbench-{a.name}.log")
res = {"name": a.name, "webhook_url": a.webhook_url, "start_cmd": a.start_cmd, "machine": machine_info(),
       "config": vars(a), "meta": dict(kv.split("=", 1) for kv in a.meta), "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
       "cold_start": [], "throughput": {}, "latency": {}}


def say(*x):
    print(f"[{a.name} {time.strftime('%H:%M:%S')}]", *x, flush=True)


def save():
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)


def start_sut():
    return start_proc(["bash", "-c", a.start_cmd], cpus=a.sut_cpus, log=log, cwd=ROOT)


def post_hook(i, timeout=2.0):
    body = json.dumps({"title": f"evt-{i}", "id": i, "source": "driver"})
    try:
        st, _ = http("POST", a.webhook_url, body, timeout=timeout, headers={"content-type": "application/json"})
        return st
    except Exception:
        return None


def cold_start_once(k):
    http_json("POST", f"{SINK}/reset", "{}")
    t0 = now_ns()
    p = start_sut()
    first_2xx = None
    i = 900_000_000 + k * 100_000
    end = time.time() + a.cold_max
    delivered = None
    while time.time() < end:
        if p.poll() is not None:
            say("SUT exited during cold start, rc", p.returncode)
            break
        st = post_hook(i)
        i += 1
        if st and 200 <= st < 300 and first_2xx is None:
            first_2xx = now_ns()
        s = http_json("GET", f"{SINK}/stats")
        if s["count"] > 0:
            delivered = int(s["first_ns"])
            break
        time.sleep(0.05)
    r = {"to_first_2xx_s": (first_2xx - t0) / 1e9 if first_2xx else None,
         "to_first_delivery_s": (delivered - t0) / 1e9 if delivered else None, "loadavg": loadavg()}
    return p, r


def arrivals():
    d = http_json("GET", f"{SINK}/arrivals", timeout=60)
    return d["ids"], [int(x) for x in d["t_ns"]]


def parse_wrk(out):
    r = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    r["wrk_rps"] = float(m.group(1)) if m else None
    m = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if m:
        r["wrk_requests"] = int(m.group(1))
    for q in ("50", "90", "99"):
        m = re.search(rf"^\s+{q}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if m:
            v = float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]
            r[f"wrk_p{q}_ms"] = v
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["wrk_non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["wrk_socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    return r


def children_cpu_s():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def load_window(root, fn):
    """Run fn() while sampling RSS; return (fn result, stats dict)."""
    fq, wq = wait_quiet(lambda: descendants(root) + [SINK_PROC.pid], a.max_foreign, a.quiet_wait)
    pids = descendants(root)
    sink_pid = SINK_PROC.pid
    c0, s0, sys0, ch0 = cpu_ticks(pids), cpu_ticks([sink_pid]), sys_cpu(), children_cpu_s()
    samp = Sampler(root)
    samp.start()
    t_a = now_ns()
    out = fn()
    t_b = now_ns()
    samples = samp.stop()
    pids = descendants(root)
    c1, s1, sys1, ch1 = cpu_ticks(pids), cpu_ticks([sink_pid]), sys_cpu(), children_cpu_s()
    el = (t_b - t_a) / 1e9
    sut_cpu = (c1 - c0) / CLK_TCK
    sink_cpu = (s1 - s0) / CLK_TCK
    gen_cpu = ch1 - ch0
    busy = (sys1[0] - sys0[0]) / CLK_TCK
    rss = [kb for (t, kb) in samples if t_a <= t <= t_b] or [kb for _, kb in samples]
    st = {"t_a": t_a, "t_b": t_b, "elapsed_s": el, "sut_cpu_s": sut_cpu, "sut_cpu_pct": 100 * sut_cpu / el,
          "sink_cpu_pct": 100 * sink_cpu / el, "loadgen_cpu_pct": 100 * gen_cpu / el,
          "foreign_cpu_pct": 100 * max(0.0, busy - sut_cpu - sink_cpu - gen_cpu) / el,
          "pre_foreign_cores": fq, "quiet_wait_s": wq,
          "rss_med_mb": med(rss) / 1024 if rss else None, "rss_max_mb": max(rss) / 1024 if rss else None}
    return out, st


def throughput_run(root, conc):
    http_json("POST", f"{SINK}/reset", "{}")

    def go():
        return run_tool(["wrk", "-t1", f"-c{conc}", f"-d{a.duration}s", "--timeout", "10s", "--latency", "-s",
                         os.path.join(HERE, "post.lua"), a.webhook_url], a.tool_cpus, timeout=a.duration + 60)
    out, st = load_window(root, go)
    total = drain(SINK)
    ids, ts = arrivals()
    inwin = sum(1 for t in ts if st["t_a"] <= t <= st["t_b"])
    r = dict(st)
    r.update(parse_wrk(out))
    r["delivered_in_window"] = inwin
    r["delivered_per_s"] = inwin / st["elapsed_s"]
    r["delivered_total"] = total
    r["backlog_after_window"] = total - inwin
    r["events_per_sut_cpu_s"] = inwin / st["sut_cpu_s"] if st["sut_cpu_s"] > 0 else None
    # per-second delivered series inside the window (stability)
    secs = {}
    for t in ts:
        if st["t_a"] <= t <= st["t_b"]:
            k = int((t - st["t_a"]) // 1_000_000_000)
            secs[k] = secs.get(k, 0) + 1
    series = [secs.get(k, 0) for k in range(int(st["elapsed_s"]))]
    r["per_second"] = series
    for k in ("t_a", "t_b"):
        r.pop(k)
    return r


def latency_run(root, rate, run):
    http_json("POST", f"{SINK}/reset", "{}")
    outf = os.path.join(tempfile.gettempdir(), f"peerbench-lg-{a.name}-{rate}-{run}.json")
    base = (run + 1) * 10_000_000

    def go():
        run_tool(["node", os.path.join(HERE, "loadgen.mjs"), "--url", a.webhook_url, "--rate", str(rate),
                  "--duration", str(a.lat_duration), "--out", outf, "--id-base", str(base), "--grace", "30"],
                 a.tool_cpus, timeout=a.lat_duration + 60)
    _, st = load_window(root, go)
    drain(SINK)
    lg = json.load(open(outf))
    os.unlink(outf)
    ids, ts = arrivals()
    first = {}
    dup = 0
    for i, t in zip(ids, ts):
        if i in first:
            dup += 1
        else:
            first[i] = t
    e2e, resp = [], []
    lost = 0
    for j in range(lg["total"]):
        sch = lg["sched_ns"][j]
        if sch is None:
            continue
        sch = int(sch)
        t = first.get(base + j)
        if t is None:
            lost += 1
        else:
            e2e.append((t - sch) / 1e6)
        if lg["resp_ns"][j] is not None and lg["status"][j] and 200 <= lg["status"][j] < 300:
            resp.append((int(lg["resp_ns"][j]) - sch) / 1e6)
    r = dict(st)
    for k in ("t_a", "t_b"):
        r.pop(k)
    r.update({"rate": rate, "sent": lg["total"], "webhook_ok": lg["ok"], "lost": lost, "duplicates": dup,
              "e2e_p50_ms": pct(e2e, 0.5), "e2e_p90_ms": pct(e2e, 0.9), "e2e_p99_ms": pct(e2e, 0.99),
              "e2e_max_ms": max(e2e) if e2e else None, "ack_p50_ms": pct(resp, 0.5), "ack_p99_ms": pct(resp, 0.99),
              "loadgen_end": lg["end_reason"]})
    return r


SINK_PROC = start_proc(["node", os.path.join(HERE, "sink.mjs")], cpus=a.tool_cpus,
                       env={"SINK_PORT": str(a.sink_port)}, log=log + ".sink")
sut = None
try:
    assert wait_http(f"{SINK}/stats", 20), "sink did not start"
    # ---- cold start -------------------------------------------------------
    ncold = 0 if "cold" in skip else a.cold_runs
    for k in range(max(1, ncold)):
        sut, r = cold_start_once(k)
        say("cold start", r)
        res["cold_start"].append(r)
        save()
        if r["to_first_delivery_s"] is None:
            raise SystemExit("SUT never delivered; see " + log)
        if k < max(1, ncold) - 1:
            stop_tree(sut)
            sut = None
            time.sleep(2)
    # ---- idle RSS ---------------------------------------------------------
    time.sleep(a.idle_wait)
    pids = descendants(sut.pid)
    c0 = cpu_ticks(pids)
    rs = []
    for _ in range(5):
        rs.append(rss_kb(descendants(sut.pid)))
        time.sleep(0.4)
    res["idle_rss_mb"] = med(rs) / 1024
    res["idle_cpu_pct"] = 100 * (cpu_ticks(descendants(sut.pid)) - c0) / CLK_TCK / 2.0
    res["idle_nprocs"] = len(pids)
    say("idle RSS MB", round(res["idle_rss_mb"], 1), "procs", len(pids))
    save()
    # ---- warm-up ----------------------------------------------------------
    if a.warmup and "throughput" not in skip:
        run_tool(["wrk", "-t1", "-c16", f"-d{a.warmup}s", "-s", os.path.join(HERE, "post.lua"), a.webhook_url],
                 a.tool_cpus, timeout=a.warmup + 30)
        drain(SINK)
    # ---- throughput (interleaved concurrencies) ---------------------------
    concs = [int(c) for c in a.conc.split(",") if c] if "throughput" not in skip else []
    for run in range(a.runs if concs else 0):
        for c in concs:
            r = throughput_run(sut.pid, c)
            say(f"throughput c={c} run={run}", {k: r[k] for k in ("delivered_per_s", "wrk_rps", "wrk_p99_ms",
                                                                  "sut_cpu_pct", "rss_max_mb", "foreign_cpu_pct",
                                                                  "backlog_after_window")})
            res["throughput"].setdefault(str(c), []).append(r)
            save()
            time.sleep(1)
    # ---- latency at fixed rate -------------------------------------------
    rates = [int(x) for x in a.rates.split(",") if x] if "latency" not in skip else []
    for run in range(a.runs if rates else 0):
        for rate in rates:
            r = latency_run(sut.pid, rate, run)
            say(f"latency rate={rate} run={run}", {k: r[k] for k in ("e2e_p50_ms", "e2e_p99_ms", "lost", "ack_p50_ms",
                                                                     "sut_cpu_pct", "rss_max_mb", "foreign_cpu_pct")})
            res["latency"].setdefault(str(rate), []).append(r)
            save()
            time.sleep(1)
    time.sleep(5)
    res["post_load_rss_mb"] = rss_kb(descendants(sut.pid)) / 1024
    # ---- medians ----------------------------------------------------------
    summ = {"cold_start_s": med([r["to_first_delivery_s"] for r in res["cold_start"]]),
            "cold_start_spread": spread([r["to_first_delivery_s"] for r in res["cold_start"]]),
            "idle_rss_mb": res["idle_rss_mb"], "post_load_rss_mb": res["post_load_rss_mb"]}
    for c, runs in res["throughput"].items():
        for k in ("delivered_per_s", "wrk_rps", "wrk_p50_ms", "wrk_p99_ms", "sut_cpu_pct", "events_per_sut_cpu_s",
                  "rss_med_mb", "rss_max_mb", "foreign_cpu_pct", "backlog_after_window"):
            summ[f"c{c}_{k}"] = med([r.get(k) for r in runs])
        summ[f"c{c}_delivered_spread"] = spread([r["delivered_per_s"] for r in runs])
        summ[f"c{c}_errors"] = sum(r.get("wrk_non2xx", 0) + r.get("wrk_socket_errors", 0) for r in runs)
    for rate, runs in res["latency"].items():
        for k in ("e2e_p50_ms", "e2e_p90_ms", "e2e_p99_ms", "e2e_max_ms", "ack_p50_ms", "ack_p99_ms", "sut_cpu_pct",
                  "rss_max_mb", "foreign_cpu_pct", "lost"):
            summ[f"r{rate}_{k}"] = med([r.get(k) for r in runs])
        summ[f"r{rate}_p99_spread"] = spread([r["e2e_p99_ms"] for r in runs])
    res["summary"] = summ
    res["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    save()
    say("summary", json.dumps(summ, indent=0))
finally:
    stop_tree(sut)
    stop_tree(SINK_PROC)
