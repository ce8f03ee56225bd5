"""What the benchmark drivers (poll_direct.py, webhook_workers.py) share: JSON over HTTP from the
harness's tools, and CPU and memory of processes read from /proc (a process's CPU ticks, the
PostgreSQL server's summed over its processes, a process's resident memory)."""
import json
import os
import time
import urllib.request


def get(url, timeout=120):
    """GET url, its JSON body."""
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.load(r)


def wait_http(url, secs):
    """True once url answers (within secs)."""
    end = time.time() + secs
    while time.time() < end:
        try:
            get(url, timeout=30)
            return True
        except OSError:
            time.sleep(0.1)
    return False


def cpu_ticks(pid):
    """User + system CPU ticks of one process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def postgres_ticks():
    """CPU ticks of every PostgreSQL server process on the machine (the benchmark's own cluster)."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "postgres":
                    continue
            total += cpu_ticks(int(pid))
        except OSError:
            pass
    return total


def rss_kb(pid):
    """Resident memory of one process, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
