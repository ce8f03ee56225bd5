"""Shared helpers for the peer benchmark drivers (stdlib only, Linux /proc).

All traffic goes to 127.0.0.1. Every process the drivers start is tracked by PID
and stopped by PID (SIGTERM, then SIGKILL to the same PIDs), never by name.
"""
import json
import os
import signal
import statistics
import subprocess
import time
import urllib.request
import threading

CLK_TCK = os.sysconf("SC_CLK_TCK")
HERE = os.path.dirname(os.path.abspath(__file__))
# The repository root (this file is bench/harness/common.py): a SUT's --start-cmd runs there.
ROOT = os.path.dirname(os.path.dirname(HERE))


def now_ns():
    # CLOCK_MONOTONIC: the same clock node's process.hrtime uses (sink, loadgen)
    return time.monotonic_ns()


def _stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    rest = s[s.rindex(")") + 2:].split()
    # rest[0] = state (field 3); ppid field 4 -> rest[1]; utime 14 -> rest[11]; stime 15 -> rest[12]
    return int(rest[1]), int(rest[11]), int(rest[12])


def descendants(root):
    """root pid plus all live descendants."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            ppid, _, _ = _stat(int(d))
        except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        if os.path.exists(f"/proc/{p}"):
            out.append(p)
            todo.extend(children.get(p, []))
    return out


def cpu_ticks(pids):
    t = 0
    for p in pids:
        try:
            _, u, s = _stat(p)
            t += u + s
        except (FileNotFoundError, ProcessLookupError):
            pass
    return t


def rss_kb(pids):
    t = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        t += int(line.split()[1])
                        break
        except (FileNotFoundError, ProcessLookupError):
            pass
    return t


def sys_cpu():
    """(busy_ticks, total_ticks) over all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


class Sampler(threading.Thread):
    """Samples RSS (kB) of a process tree every `period` seconds."""

    def __init__(self, root, period=0.5):
        super().__init__(daemon=True)
        self.root, self.period, self.samples, self._halt = root, period, [], threading.Event()

    def run(self):
        while not self._halt.is_set():
            self.samples.append((now_ns(), rss_kb(descendants(self.root))))
            self._halt.wait(self.period)

    def stop(self):
        self._halt.set()
        self.join(timeout=5)
        return self.samples


def http(method, url, body=None, timeout=5.0, headers=None):
    assert url.startswith("http://127.0.0.1") or url.startswith("http://localhost"), "loopback only"
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


def http_json(method, url, body=None, timeout=10.0):
    st, b = http(method, url, body, timeout, {"content-type": "application/json"} if body else None)
    return json.loads(b) if b else None


def wait_http(url, deadline_s=30):
    end = time.time() + deadline_s
    while time.time() < end:
        try:
            http("GET", url, timeout=1)
            return True
        except Exception:
            time.sleep(0.1)
    return False


NICE = os.environ.get("PEERBENCH_NICE", "-10")


def pinned(argv, cpus):
    """taskset + nice prefix. Our benchmark processes run at nice -10 (root) so that
    unrelated background jobs on a shared machine steal less CPU from the measurement."""
    pre = ["nice", "-n", NICE] if NICE not in ("", "0") else []
    if cpus:
        pre += ["taskset", "-c", str(cpus)]
    return pre + list(argv)


def wait_quiet(own_pids, max_foreign=0.5, max_wait=90.0):
    """Wait (bounded) until CPU used by processes other than own_pids() is below
    max_foreign cores over a 1 s window. Returns (foreign_cores, waited_s)."""
    t0 = time.time()
    while True:
        pids = own_pids()
        b0, o0 = sys_cpu()[0], cpu_ticks(pids)
        time.sleep(1.0)
        b1, o1 = sys_cpu()[0], cpu_ticks(pids)
        foreign = max(0, (b1 - b0) - (o1 - o0)) / CLK_TCK
        if foreign <= max_foreign or time.time() - t0 > max_wait:
            return foreign, time.time() - t0
        time.sleep(2.0)


def _raise_exit(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


# drivers get SIGTERM/SIGINT -> KeyboardInterrupt, so their `finally:` blocks stop what they started
signal.signal(signal.SIGTERM, _raise_exit)
signal.signal(signal.SIGINT, _raise_exit)


def prioritize(pid="self"):
    """Give the autogroup of `pid` (a session we started) nice NICE. With
    sched_autogroup_enabled=1, per-process nice only works inside one session;
    the autogroup nice is what competes with other sessions' CPU-heavy jobs."""
    if NICE in ("", "0"):
        return
    try:
        with open(f"/proc/{pid}/autogroup", "w") as f:
            f.write(NICE)
    except OSError:
        pass


def start_proc(argv, cpus=None, env=None, log=None, cwd=None):
    argv = pinned(argv, cpus)
    e = dict(os.environ)
    if env:
        e.update(env)
    out = open(log, "ab") if log else subprocess.DEVNULL
    p = subprocess.Popen(argv, env=e, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True)
    prioritize(p.pid)
    return p


def stop_tree(proc, grace=15):
    """SIGTERM the started process and its descendants (by PID), then SIGKILL leftovers (same PIDs)."""
    if proc is None:
        return
    pids = descendants(proc.pid)
    for p in pids:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    end = time.time() + grace
    while time.time() < end and any(os.path.exists(f"/proc/{p}") for p in pids):
        try:
            proc.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            pass
        pids = [p for p in pids if os.path.exists(f"/proc/{p}") and not _is_zombie(p)]
        if not pids:
            break
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def run_tool(argv, cpus=None, timeout=120, capture=True):
    """Run a bounded load tool (wrk, loadgen) pinned + prioritized; returns stdout text."""
    p = subprocess.Popen(pinned(argv, cpus), stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    prioritize(p.pid)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    return out or ""


def _is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        return s[s.rindex(")") + 2] == "Z"
    except FileNotFoundError:
        return True


def pct(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    f = int(k)
    c = min(f + 1, len(xs) - 1)
    return xs[f] + (xs[c] - xs[f]) * (k - f)


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def spread(xs):
    xs = [x for x in xs if x is not None]
    if len(xs) < 2:
        return None
    m = statistics.median(xs)
    return (max(xs) - min(xs)) / m if m else None


def machine_info():
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        info["cpus"] = os.cpu_count()
        with open("/proc/meminfo") as f:
            info["mem_kb"] = int(f.readline().split()[1])
        info["kernel"] = os.uname().release
        info["node"] = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    except Exception as e:  # pragma: no cover
        info["err"] = str(e)
    return info


def drain(sink, quiet_s=1.0, max_s=15.0):
    """Wait until the sink count is stable for quiet_s (bounded by max_s)."""
    end = time.time() + max_s
    last, since = -1, time.time()
    while time.time() < end:
        c = http_json("GET", f"{sink}/stats")["count"]
        if c != last:
            last, since = c, time.time()
        elif time.time() - since >= quiet_s:
            break
        time.sleep(0.2)
    return last
