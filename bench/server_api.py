#!/usr/bin/env python3
"""The Area server (`area serve`) under many signed-in users: API latency and memory.

Sets up U users of A areas each (webhook → HTTP POST to the harness's sink) with the `area`
command, starts `area serve` pinned to CPU 1, signs every user in through the API and gives each
a personal access token, fires one webhook per area so every user's activity list has runs, then
measures with `wrk` on CPU 0 (C connections, each request signed by the next user's token in
turn, so all U users are served at once):

- the dashboard (`GET /api/areas`: a user's area cards) and the activity list
  (`GET /api/runs?limit=50`): requests/s, latency p50/p90/p99, non-2xx answers;
- resident memory of `area serve`: idle (10 s after the seeding settles) and the peak under each load;
- CPU seconds `area serve` used per 1,000 requests.

usage: server_api.py --area BIN [--users 100] [--areas 100] [--conc 100] [--duration 20] --out FILE
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "harness"))
import common  # noqa: E402  (the harness's /proc sampling, pinning, start and stop by PID)

ap = argparse.ArgumentParser()
ap.add_argument("--area", required=True)
ap.add_argument("--users", type=int, default=100)
ap.add_argument("--areas", type=int, default=100)
ap.add_argument("--conc", type=int, default=100)
ap.add_argument("--duration", type=int, default=20)
ap.add_argument("--port", type=int, default=8790)
ap.add_argument("--out", required=True)
a = ap.parse_args()
BASE = f"http://127.0.0.1:{a.port}"
SINK = "http://127.0.0.1:9100"
PASSWORD = "benchmark-password"
TCK = os.sysconf("SC_CLK_TCK")
work = tempfile.mkdtemp(prefix="area-server-bench.")
data = os.path.join(work, "data")


def say(*x):
    print("[server_api]", *x, flush=True)


def area_cmd(*args, stdin=""):
    subprocess.run([a.area, "--data-dir", data, *args], input=stdin, text=True, check=True, capture_output=True)


def request(method, path, body=None, headers=None, timeout=30):
    headers = dict(headers or {})
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    req = urllib.request.Request(BASE + path, data=payload, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        text = r.read()
        return r.status, r.headers, json.loads(text) if text else None


def sink_count():
    return common.http_json("GET", SINK + "/stats").get("count", 0)


# 1. U users with A areas each, set up with the `area` command before the server starts.
say(f"setting up {a.users} users × {a.areas} areas in {data}")
template = json.loads(subprocess.run([sys.executable, os.path.join(HERE, "harness_to_areas.py"),
                                      os.path.join(HERE, "harness", "workloads", "webhook.json")],
                                     capture_output=True, text=True, check=True).stdout)[0]
areas_file = os.path.join(work, "areas.json")
with open(areas_file, "w") as f:
    json.dump([dict(template, name=f"bench-{i}") for i in range(a.areas)], f)
users = [f"user{u}@bench.test" for u in range(a.users)]
for email in users:
    area_cmd("user", "add", email, "--password-stdin", stdin=PASSWORD + "\n")
    area_cmd("login", email, "--password-stdin", stdin=PASSWORD + "\n")
    area_cmd("areas", "add", "--enable", "--allow-private-network", "--file", areas_file)
area_cmd("logout")

sink = common.start_proc(["node", os.path.join(HERE, "harness", "sink.mjs")], cpus="0", log=os.path.join(work, "sink.log"))
server = None
result = {"users": a.users, "areas_per_user": a.areas, "connections": a.conc, "duration_s": a.duration,
          "machine": common.machine_info()}
try:
    common.wait_http(SINK + "/stats")
    server = common.start_proc([a.area, "--data-dir", data, "serve", "--listen", f"127.0.0.1:{a.port}",
                                "--sign-up", "closed"], cpus="1", log=os.path.join(work, "server.log"))
    assert common.wait_http(BASE + "/about.json", 60), "area serve did not start"
    pids = lambda: common.descendants(server.pid)  # noqa: E731
    result["rss_kb_started"] = common.rss_kb(pids())

    # 2. Every user signs in through the API and makes a token.
    def token_for(email):
        _, headers, session = request("POST", "/api/login", {"email": email, "password": PASSWORD})
        cookie = headers.get("set-cookie").split(";")[0]
        _, _, made = request("POST", "/api/tokens", {"name": "bench"},
                             {"cookie": cookie, "x-csrf-token": session["csrf_token"]})
        return made["secret"]

    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(token_for, users))

    # 3. One webhook per area, so every activity list has runs.
    def hooks_of(token):
        auth = {"authorization": f"Bearer {token}"}
        _, _, cards = request("GET", "/api/areas", headers=auth)
        urls = []
        for card in cards:
            _, _, view = request("GET", f"/api/areas/{card['summary']['id']}", headers=auth)
            urls.append(view["detail"]["webhook_url"])
        return urls

    with ThreadPoolExecutor(8) as pool:
        hooks = [u for urls in pool.map(hooks_of, tokens) for u in urls]
    say(f"firing {len(hooks)} webhooks")

    def fire(url):
        path = url.split(str(a.port), 1)[1]
        request("POST", path, {"title": "evt-seed", "id": 0})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(fire, hooks))
    deadline = time.time() + 300
    while sink_count() < len(hooks) and time.time() < deadline:
        time.sleep(0.5)
    result["seed_runs_delivered"] = sink_count()
    time.sleep(10)
    result["rss_kb_idle"] = common.rss_kb(pids())
    say(f"idle RSS {result['rss_kb_idle'] / 1024:.1f} MiB")

    # 4. The dashboard and the activity list under C connections, every request another user's.
    lua = os.path.join(work, "users.lua")
    with open(lua, "w") as f:
        f.write("local tokens = {" + ",".join(f'"{t}"' for t in tokens) + "}\n")
        f.write("local i = 0\nrequest = function()\n  i = i % #tokens + 1\n")
        f.write('  return wrk.format("GET", nil, {["Authorization"] = "Bearer " .. tokens[i]})\nend\n')
    result["endpoints"] = {}
    for name, path in [("dashboard", "/api/areas"), ("activity", "/api/runs?limit=50")]:
        sampler = common.Sampler(server.pid)
        sampler.start()
        cpu0 = common.cpu_ticks(pids())
        out = common.run_tool(["wrk", "-t1", f"-c{a.conc}", f"-d{a.duration}s", "--latency", "-s", lua, BASE + path],
                              cpus="0", timeout=a.duration + 60)
        cpu_s = (common.cpu_ticks(pids()) - cpu0) / TCK
        peak = max((kb for _, kb in sampler.stop()), default=0)
        row = {}
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        row["rps"] = float(m.group(1)) if m else None
        m = re.search(r"(\d+) requests in", out)
        row["requests"] = int(m.group(1)) if m else None
        for q in ("50", "90", "99"):
            m = re.search(rf"^\s+{q}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
            row[f"p{q}_ms"] = float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)] if m else None
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        row["non2xx"] = int(m.group(1)) if m else 0
        row["server_cpu_s"] = round(cpu_s, 2)
        row["server_cpu_ms_per_request"] = round(1000 * cpu_s / row["requests"], 3) if row["requests"] else None
        row["rss_kb_peak"] = peak
        result["endpoints"][name] = row
        say(name, json.dumps(row))
finally:
    common.stop_tree(server)
    common.stop_tree(sink)

with open(a.out, "w") as f:
    json.dump(result, f, indent=2)
print(f"\n| endpoint | req/s | p50 ms | p90 ms | p99 ms | non-2xx | server CPU ms/req | peak RSS MiB |")
print("|---|---|---|---|---|---|---|---|")
for name, r in result["endpoints"].items():
    print(f"| {name} | {r['rps']} | {r['p50_ms']} | {r['p90_ms']} | {r['p99_ms']} | {r['non2xx']} | "
          f"{r['server_cpu_ms_per_request']} | {r['rss_kb_peak'] / 1024:.1f} |")
print(f"\nidle RSS: {result['rss_kb_idle'] / 1024:.1f} MiB ({a.users} users × {a.areas} areas, "
      f"{result['seed_runs_delivered']} runs in the history)")
