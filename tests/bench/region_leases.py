#!/usr/bin/env python3
"""What recording DHCP leases costs the region: CPU of ironrack-rackd, of
ironrack-regiond and of its embedded PostgreSQL per 1,000 leases the rack
grants and reports, in steady state.

    sudo /usr/bin/python3 tests/bench/region_leases.py [--rates 1000,3000] [--seconds 10]

One lab as tests/bench/dhcp.py's (tests/system/dhcpnet.py namespaces, one
perfdhcp as a relay). Unlike dhcp.py, the rack is started once and kept:
every trial adds new clients to a region that already holds the earlier
ones, and no trial pays for the region deleting a previous trial's leases
when a restarted rack reports an empty store. Each trial: perfdhcp at the
rate for --seconds, then --tail seconds for the last reports (batched every
second) to be applied. CPU is utime + stime from /proc: the rack's process,
the region's, and PostgreSQL's postmaster with every process it forked."""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "system"))

import dhcp  # noqa: E402  (tests/bench: the lab, the server and perfdhcp's parser)
from benchutil import log, proc_cpu  # noqa: E402
from dhcpnet import DhcpNet, parse_perfdhcp  # noqa: E402


def postgres_pids(state_dir):
    """The region's postmaster (its command line names a directory under
    state_dir) and the processes it forked."""
    procs = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                st = f.read()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        comm = st[st.index("(") + 1:st.rindex(")")]
        ppid = int(st.rsplit(")", 1)[1].split()[1])
        procs[int(pid)] = (comm, ppid, cmd)
    masters = [p for p, (comm, _, cmd) in procs.items() if comm.startswith("postgres") and state_dir in cmd]
    return masters + [p for p, (_, ppid, _) in procs.items() if ppid in masters]


def cpu_sum(pids):
    total = 0.0
    for p in pids:
        try:
            total += proc_cpu(p)
        except OSError:
            pass  # a backend that ended: its time is lost to both samples
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rates", default="1000,3000")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--tail", type=int, default=4, help="seconds after perfdhcp for the last reports (default 4)")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    build = os.path.abspath(a.build)
    work = tempfile.mkdtemp(prefix="irbench-regl-", dir="/tmp")
    os.chmod(work, 0o755)
    net = DhcpNet(work, tag="irrl", rack_addrs=(f"{dhcp.SERVER}/16",))
    server = None
    try:
        net.up()
        net.perf = net.host("perf", addrs=[f"{dhcp.PERF}/16"], mac="02:00:00:00:00:03")
        net.perfs = [net.perf]
        server = dhcp.IronrackDaemon(net, work, build)
        server.start()
        dhcp.wait_serving(net, server)
        time.sleep(a.tail)
        region_pid = server.region.daemon.proc.pid
        for i, rate in enumerate(int(r) for r in a.rates.split(",")):
            pg = postgres_pids(server.region.state_dir)
            c0 = (proc_cpu(server.pid), proc_cpu(region_pid), cpu_sum(pg))
            p = subprocess.run(["ip", "netns", "exec", net.perf, "perfdhcp", "-4", "-l", "eth0", "-r", str(rate),
                                "-R", "1000000000", "-p", str(a.seconds), "-b", f"mac=00:{0x20 + i:02x}:01:02:03:04",
                                dhcp.SERVER], capture_output=True, text=True, timeout=a.seconds + 60)
            time.sleep(a.tail)
            pg = sorted(set(pg) | set(postgres_pids(server.region.state_dir)))
            c1 = (proc_cpu(server.pid), proc_cpu(region_pid), cpu_sum(pg))
            acks = parse_perfdhcp(p.stdout + p.stderr, p.returncode)["received"][1]
            per = [1000 * (b - c) / max(acks, 1) for b, c in zip(c1, c0)]
            print(f"{rate}/s: {acks} leases; CPU s per 1,000: rack {per[0]:.3f}, region {per[1]:.3f}, "
                  f"PostgreSQL {per[2]:.3f} (region + PostgreSQL {per[1] + per[2]:.3f})", flush=True)
    finally:
        if server:
            try:
                server.close()
            except Exception as e:  # noqa: BLE001
                log(f"stopping: {e}")
        net.down()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
