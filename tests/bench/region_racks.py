#!/usr/bin/env python3
"""Region footprint with N connected racks: RSS of ironrack-regiond (and of
its embedded PostgreSQL) and CPU while the racks idle (heartbeats only).

    /usr/bin/python3 tests/bench/region_racks.py [--racks 100] [--idle 60] [--build build]

Runs the region on loopback with a fresh state dir, opens N rack sessions
with tests/tools/rackswarm (each rack enrols, registers and heartbeats every
10 s, the default interval), then samples /proc."""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HZ = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def children(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def postgres_pids(state):
    out = subprocess.run(["pgrep", "-f", f"postgres -D {state}/pg"], capture_output=True, text=True).stdout
    pids = [int(p) for p in out.split()]
    return pids + [c for p in pids for c in children(p)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--racks", type=int, default=100)
    ap.add_argument("--idle", type=int, default=60)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="irbench-", dir="/tmp")
    os.chmod(work, 0o755)
    state = os.path.join(work, "region")
    grpc_port, http_port = free_port(), free_port()
    log = open(os.path.join(work, "regiond.log"), "w")
    region = subprocess.Popen([os.path.join(a.build, "ironrack-regiond"), "--state-dir", state,
                               "--grpc-listen", f"127.0.0.1:{grpc_port}", "--http-listen",
                               f"127.0.0.1:{http_port}", "--log-level", "warn"], stdout=log, stderr=log)
    swarm = None
    try:
        secret_file = os.path.join(state, "admin-api-key")
        for _ in range(600):
            if os.path.exists(secret_file):
                break
            time.sleep(0.1)
        time.sleep(1)
        base_rss = rss_kb(region.pid)
        secret = open(os.path.join(state, "enrol-secret")).read().strip()
        swarm = subprocess.Popen([os.path.join(a.build, "tools", "rackswarm"), "--region",
                                  f"127.0.0.1:{grpc_port}", "--secret", secret, "--racks", str(a.racks),
                                  "--seconds", str(a.idle + 120)], stdout=subprocess.PIPE, text=True)
        t0 = time.monotonic()
        line = swarm.stdout.readline()
        if "sessions up" not in line:
            sys.exit(f"rackswarm failed: {line}")
        up_s = time.monotonic() - t0
        time.sleep(3)
        c0, p0 = cpu_s(region.pid), sum(cpu_s(p) for p in postgres_pids(state))
        time.sleep(a.idle)
        c1, p1 = cpu_s(region.pid), sum(cpu_s(p) for p in postgres_pids(state))
        rss = rss_kb(region.pid)
        pg_rss = sum(rss_kb(p) for p in postgres_pids(state))
        print(f"racks connected:             {a.racks} (enrol+register+session in {up_s:.1f} s)")
        print(f"regiond RSS before racks:    {base_rss / 1024:.1f} MiB")
        print(f"regiond RSS with racks:      {rss / 1024:.1f} MiB ({(rss - base_rss) / a.racks:.0f} KiB per rack)")
        print(f"regiond CPU while idle:      {100 * (c1 - c0) / a.idle:.2f} % of a core over {a.idle} s")
        print(f"embedded PostgreSQL CPU:     {100 * (p1 - p0) / a.idle:.2f} % of a core (heartbeat writes)")
        print(f"embedded PostgreSQL RSS sum: {pg_rss / 1024:.1f} MiB (shared buffers counted per process)")
    finally:
        if swarm:
            swarm.send_signal(signal.SIGTERM)
            swarm.wait()
        region.send_signal(signal.SIGTERM)
        region.wait(60)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
