#!/usr/bin/env python3
"""DHCPv4 HA: an ironrack pair (two ironrack-rackd, primary and secondary
of one VLAN, load balancing by RFC 3074 buckets, every lease acknowledged
by the partner before the ACK) against Kea's HA hook in load-balancing
mode (two kea-dhcp4, libdhcp_ha.so + libdhcp_lease_cmds.so, memfile, each
lease update acknowledged by the peer before the ACK), and each against
its single-server self, one after the other in one run, driven by Kea's
perfdhcp, in network namespaces this script creates and deletes.

    /usr/bin/python3 tests/bench/dhcp_ha.py [--runs 3] [--build build] [--quick]

Lab (tests/system/dhcpnet.py; names carry this process's pid):

    irdha-PID-XXXX-sw     bridge br0
    irdha-PID-XXXX-rack   eth0 10.20.0.1/16: server 1 (the single server, or the primary)
    irdha-PID-XXXX-rackb  eth0 10.20.0.2/16: server 2 (the secondary)
    irdha-PID-XXXX-perfN  eth0 10.20.0.(3+N)/16: perfdhcp number N

Each perfdhcp acts as a relay (giaddr its own address) and sends every
request to 255.255.255.255, so both servers of a pair hear each one, as
both hear a client's broadcast on a real LAN; each answers its half of the
clients. --clients perfdhcp run side by side (default 2), each at rate/N
with its own base MAC: one perfdhcp's socket receive buffer overflows
before either server is busy (see docs/benchmarks.md), so the replies are
spread over several sockets. A trial's drops are summed over all of them.
The single servers get the same broadcast. Every trial starts with empty
lease stores (perfdhcp -R 1e9: new clients).

ironrack: ironrack-regiond on loopback (fresh embedded PostgreSQL, no
conflict probes) with both racks enrolled, each serving its namespace
through --netns; their HA link runs on loopback. The pair is the VLAN's
primary_rack + secondary_rack; the single server is the primary alone
(secondary_rack unset, the second rack stopped). Before a pair trial both
racks must report the state normal.

Kea: kea-dhcp4 from Debian's kea-dhcp4-server, unpacked privately (as
tests/bench/dhcp.py does). The pair: the HA hook in load-balancing mode
with its multi-threaded HTTP listener (the hook's own peer channel, Kea
2.x; it needs the server's multi-threading on: one packet thread here, as
the single Kea has one thread), the pool split into the two HA classes as
Kea's documentation shows; the single server as tests/bench/dhcp.py runs
it (single-threaded, memfile persist, LFC off).

Measured per setup, --runs rounds (setups interleaved), medians: the
sustained rate (highest perfdhcp -r with under 1% of DISCOVERs left
without an ACK, geometric ramp then bisection) and server CPU (both
servers' processes summed, utime+stime) per 1,000 ACKed leases at one
fixed rate every setup sustains."""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "system"))
sys.path.insert(0, HERE)

from benchutil import log, proc_cpu, sustained_rate, wait_for  # noqa: E402
from dhcp import fetch_kea, median, rcvbuf_errors, sh  # noqa: E402
from dhcpnet import DhcpNet, parse_perfdhcp  # noqa: E402

S1, S2 = "10.20.0.1", "10.20.0.2"
CIDR = "10.20.0.0/16"
POOL = ("10.20.1.0", "10.20.255.200")
HALF = ("10.20.128.99", "10.20.128.100")  # Kea's pools per HA class: [POOL[0], HALF[0]], [HALF[1], POOL[1]]
ROUTER, DNS = "10.20.0.254", "10.20.0.53"
LEASE = 600
BCAST = "all"  # perfdhcp: 255.255.255.255 with SO_BROADCAST


class IronrackSetup:
    """One region, two racks; pair() or single() decides the VLAN's racks."""

    def __init__(self, net, work, build):
        from conftest import Rack, Region  # tests/system/conftest.py
        os.environ["IRONRACK_BUILD"] = build
        self.net, self.work = net, work

        class BenchRegion(Region):
            def args(self):
                return super().args() + ["--dhcp-probe", "no"]
        self.region = BenchRegion(os.path.join(work, "region"))
        os.makedirs(self.region.state_dir, mode=0o700)
        self.region.start()
        self.a = Rack(self.region, os.path.join(work, "rack-a"), "bench-a")
        self.b = Rack(self.region, os.path.join(work, "rack-b"), "bench-b")
        self.port_b = free_port()
        self.extra_a = ["--netns", net.rack, "--ha-listen", f"127.0.0.1:{free_port()}"]
        self.extra_b = ["--netns", net.rackb, "--ha-listen", f"127.0.0.1:{self.port_b}"]
        self.a.start(secret=self.region.secret, fingerprint=self.region.fingerprint, extra=self.extra_a)
        self.b.start(secret=self.region.secret, fingerprint=self.region.fingerprint, extra=self.extra_b)
        st, vl = self.region.api("GET", "/api/v1/vlans")
        self.vlan = [v for v in vl["vlans"] if v["fabric_name"] == "fabric-0" and v["vid"] == 0][0]["id"]
        self.ok("POST", "/api/v1/subnets", {"cidr": CIDR, "vlan": self.vlan, "gateway": ROUTER, "dns_servers": [DNS]})
        self.ok("POST", "/api/v1/ip-ranges", {"subnet": CIDR, "type": "dynamic", "start_ip": POOL[0],
                                              "end_ip": POOL[1]})
        self.ok("PATCH", f"/api/v1/vlans/{self.vlan}", {"dhcp_on": True, "primary_rack": self.a.rack_id})
        self.a.stop()
        self.b.stop()
        self.mode = None
        self.version = "rackd " + subprocess.run([os.path.join(build, "ironrack-rackd"), "--version"],
                                                 capture_output=True, text=True).stdout.strip()

    def ok(self, method, path, body=None):
        st, out = self.region.api(method, path, body)
        if st not in (200, 201):
            raise RuntimeError(f"{method} {path} {body}: {st} {out}")
        return out

    def state(self, rack):
        ha = self.ok("GET", f"/api/v1/racks/{rack.rack_id}/dhcp")["ha"]
        return (ha[0].get("link") or {}).get("state") if ha else None

    def start(self, pair):
        for r in (self.a, self.b):
            shutil.rmtree(os.path.join(r.state_dir, "dhcp"), ignore_errors=True)
        self.a.start(extra=self.extra_a)
        if pair:
            self.b.start(extra=self.extra_b)
        if self.mode != pair:
            self.ok("PATCH", f"/api/v1/vlans/{self.vlan}", {"secondary_rack": self.b.rack_id if pair else None})
            self.mode = pair
        if pair:
            wait_for(lambda: self.state(self.a) == "normal" and self.state(self.b) == "normal", 60,
                     "both racks in state normal")
        self.pids = [self.a.daemon.proc.pid] + ([self.b.daemon.proc.pid] if pair else [])

    def stop(self):
        for r in (self.a, self.b):
            r.stop()

    def close(self):
        self.stop()
        self.region.stop()


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class KeaSetup:
    def __init__(self, net, work, binary, env, version):
        self.net, self.binary, self.version = net, binary, version
        self.dir = os.path.join(work, "kea")
        os.makedirs(self.dir, exist_ok=True)
        self.env = dict(env, KEA_PIDFILE_DIR=self.dir, KEA_LOCKFILE_DIR=self.dir)
        # The hooks come with kea-common: unpacked next to the binary when
        # it was not installed, else the installed package's.
        private = os.path.join(os.path.dirname(os.path.dirname(binary)), "lib", "x86_64-linux-gnu", "kea", "hooks")
        self.hooks = private if os.path.isdir(private) else "/usr/lib/x86_64-linux-gnu/kea/hooks"
        for lib in ("libdhcp_ha.so", "libdhcp_lease_cmds.so"):
            if not os.path.exists(os.path.join(self.hooks, lib)):
                raise RuntimeError(f"{self.hooks}/{lib} missing (package kea-common)")
        self.procs = []
        self.threads = 1  # per pair member; 0 = Kea's default (one per core)

    def conf(self, name, pair):
        d = os.path.join(self.dir, name)
        os.makedirs(d, exist_ok=True)
        for f in glob.glob(os.path.join(d, "leases4.csv*")):
            os.unlink(f)
        dhcp = {
            # raw: a UDP socket bound to the address never sees a broadcast
            "interfaces-config": {"interfaces": ["eth0"], "dhcp-socket-type": "raw"},
            "lease-database": {"type": "memfile", "persist": True, "lfc-interval": 0,
                               "name": os.path.join(d, "leases4.csv")},
            "multi-threading": {"enable-multi-threading": False},
            "valid-lifetime": LEASE,
            "subnet4": [{"id": 1, "subnet": CIDR, "pools": [{"pool": f"{POOL[0]} - {POOL[1]}"}],
                         "option-data": [{"name": "routers", "data": ROUTER},
                                         {"name": "domain-name-servers", "data": DNS}]}],
            # WARN, as tests/bench/dhcp.py runs Kea; the HA hook's INFO
            # says when the pair is in load-balancing
            "loggers": [{"name": "kea-dhcp4", "output_options": [{"output": "stdout"}], "severity": "WARN"},
                        {"name": "kea-dhcp4.ha-hooks", "output_options": [{"output": "stdout"}],
                         "severity": "INFO"}]}
        if pair:
            dhcp["multi-threading"] = {"enable-multi-threading": True, "thread-pool-size": self.threads,
                                       "packet-queue-size": 64}
            dhcp["subnet4"][0]["pools"] = [{"pool": f"{POOL[0]} - {HALF[0]}", "client-class": "HA_server1"},
                                           {"pool": f"{HALF[1]} - {POOL[1]}", "client-class": "HA_server2"}]
            dhcp["hooks-libraries"] = [
                {"library": os.path.join(self.hooks, "libdhcp_lease_cmds.so")},
                {"library": os.path.join(self.hooks, "libdhcp_ha.so"), "parameters": {"high-availability": [{
                    "this-server-name": name, "mode": "load-balancing",
                    "heartbeat-delay": 1000, "max-response-delay": 5000, "max-ack-delay": 5000,
                    "max-unacked-clients": 5, "sync-timeout": 60000,
                    "multi-threading": {"enable-multi-threading": True, "http-dedicated-listener": True,
                                        "http-listener-threads": self.threads, "http-client-threads": self.threads},
                    "peers": [{"name": "server1", "url": f"http://{S1}:8008/", "role": "primary",
                               "auto-failover": True},
                              {"name": "server2", "url": f"http://{S2}:8008/", "role": "secondary",
                               "auto-failover": True}]}]}}]
        path = os.path.join(d, "kea-dhcp4.conf")
        with open(path, "w") as f:
            json.dump({"Dhcp4": dhcp}, f)
        return path

    def start(self, pair):
        self.procs = []
        for name, ns in (("server1", self.net.rack), ("server2", self.net.rackb))[:2 if pair else 1]:
            conf = self.conf(name, pair)
            d = os.path.dirname(conf)  # each its own pid and lock files
            env = dict(self.env, KEA_PIDFILE_DIR=d, KEA_LOCKFILE_DIR=d)
            self.procs.append(self.net.spawn(ns, [self.binary, "-c", conf], f"kea-{name}", env=env))
        if pair:
            marks = [os.path.getsize(p.log_path) if os.path.exists(p.log_path) else 0 for p in self.procs]

            def lb():
                for p, mark in zip(self.procs, marks):
                    with open(p.log_path, errors="replace") as f:
                        f.seek(mark)
                        if "to LOAD-BALANCING state" not in f.read():
                            return False
                return True
            wait_for(lb, 60, "both Kea servers in load-balancing")
        self.pids = [p.pid for p in self.procs]

    def stop(self):
        for p in self.procs:
            self.net.stop(p)
        self.procs = []

    def close(self):
        self.stop()


def perf_argv(i, *args):
    """perfdhcp number i: its own base MAC (second byte i), so the clients
    of two perfdhcp never share a hardware address (-R 1e9 varies only the
    last four bytes)."""
    return ["perfdhcp", "-4", "-l", "eth0", "-b", f"mac=00:{0x0c + i:02x}:01:02:03:04", "-R", "1000000000",
            "-W", "1000000", *args, BCAST]


def wait_serving(net, setup, timeout=60):
    """perfdhcp until a few exchanges complete."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = subprocess.run(["ip", "netns", "exec", net.perfs[0], *perf_argv(0, "-r", "20", "-n", "20")],
                           capture_output=True, text=True, timeout=60)
        res = parse_perfdhcp(r.stdout + r.stderr, r.returncode)
        if len(res["received"]) > 1 and res["received"][1] >= 18:
            return
    raise RuntimeError("no ACKs within %d s" % timeout)


def trial(net, setup, pair, rate, period):
    setup.start(pair)
    try:
        wait_serving(net, setup)
        cpu0 = sum(proc_cpu(p) for p in setup.pids)
        rcv0 = sum(rcvbuf_errors(ns) for ns in net.perfs)
        n = len(net.perfs)
        procs = [subprocess.Popen(["ip", "netns", "exec", ns,
                                   *perf_argv(i, "-r", str(max(1, round(rate / n))), "-p", str(period))],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for i, ns in enumerate(net.perfs)]
        outs = []
        for p in procs:
            out, _ = p.communicate(timeout=period + 60)
            outs.append((out, p.returncode))
        cpu = sum(proc_cpu(p) for p in setup.pids) - cpu0
        rcv = sum(rcvbuf_errors(ns) for ns in net.perfs) - rcv0
    finally:
        setup.stop()
    disc = acks = 0
    delays = []
    for out, rc in outs:
        res = parse_perfdhcp(out, rc)
        if len(res["sent"]) < 1 or len(res["received"]) < 2:
            raise RuntimeError(f"perfdhcp said:\n{out}")
        disc += res["sent"][0]
        acks += res["received"][1]
        delays.append("/".join(ln.split(":", 1)[1].strip().split()[0] for ln in out.splitlines()
                               if ln.startswith("avg delay")))
    return {"delays": delays, "rate": rate, "acks": acks, "discovers": disc, "drop": 1 - acks / disc if disc else 1.0,
            "dora": acks / period, "cpu": cpu, "rcvbuf": rcv}


def sustained(net, setup, pair, label, period, start, limit, steps):
    """Highest rate with < 1% drops (benchutil.sustained_rate)."""
    def describe(t):
        return (f"  {label:16} r={t['rate']:6d}: {t['acks']}/{t['discovers']} ACKed, drop {t['drop']:.2%}, "
                f"server cpu {t['cpu']:.2f}s, client rcvbuf drops {t['rcvbuf']}, avg delay DO/RA {t['delays']}")
    good, _, _ = sustained_rate(lambda rate: trial(net, setup, pair, rate, period), start, limit, steps, describe)
    return good


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--peers", help="private directory for Kea's packages (default BUILD/bench/peers-dhcp)")
    ap.add_argument("--period", type=int, default=3, help="seconds per rate trial (default 3)")
    ap.add_argument("--start-rate", type=int, default=500)
    ap.add_argument("--max-rate", type=int, default=40000)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--clients", type=int, default=2, help="perfdhcp side by side, each at rate/N (default 2)")
    ap.add_argument("--fixed-rate", type=int, default=300, help="rate of the CPU-per-lease trials")
    ap.add_argument("--cpu-period", type=int, default=5)
    ap.add_argument("--only", help="comma-separated subset of ironrack,kea")
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 round, 2 s trials, no bisection")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    ap.add_argument("--pair-only", action="store_true", help="only the pairs (no single-server setups)")
    ap.add_argument("--kea-threads", type=int, default=1,
                    help="packet and HTTP threads of each Kea pair member (default 1, as the single Kea; 0 = Kea's "
                         "default, one per core)")
    a = ap.parse_args()
    if a.quick:
        a.runs, a.period, a.steps, a.cpu_period = 1, 2, 0, 3
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    build = os.path.abspath(a.build)
    only = set((a.only or "ironrack,kea").split(","))
    work = tempfile.mkdtemp(prefix="irbench-dhcpha-", dir="/tmp")
    os.chmod(work, 0o755)
    net = DhcpNet(work, tag="irdha", rack_addrs=(f"{S1}/16",))
    setups = []
    try:
        net.up()
        net.rackb = net.host("rackb", addrs=[f"{S2}/16"], mac="02:00:00:00:00:02")
        net.perfs = [net.host(f"perf{i}", addrs=[f"10.20.0.{3 + i}/16"], mac=f"02:00:00:00:01:{i:02x}")
                     for i in range(a.clients)]
        if "ironrack" in only:
            ir = IronrackSetup(net, work, build)
            setups += [("ironrack single", ir, False), ("ironrack pair", ir, True)]
        if "kea" in only:
            kea_bin, kea_env, kea_versions = fetch_kea(a.peers or os.path.join(build, "bench", "peers-dhcp"))
            kea = KeaSetup(net, work, kea_bin, kea_env, kea_versions.get("kea-dhcp4-server", "?"))
            kea.threads = a.kea_threads
            setups += [("kea single", kea, False), ("kea pair", kea, True)]
        if a.pair_only:
            setups = [x for x in setups if x[2]]
        log("setups: " + ", ".join(f"{label} ({s.version})" for label, s, _ in setups) +
            f"; perfdhcp {sh('perfdhcp', '-v').stdout.strip()}")
        results = {label: {"rate": [], "dora": [], "cpu": [], "drop": [], "cpu_top": []} for label, _, _ in setups}
        t0 = time.monotonic()
        for run in range(a.runs):
            for label, s, pair in setups:
                os.sync()
                time.sleep(2)
                log(f"run {run + 1}/{a.runs}: {label}")
                good = sustained(net, s, pair, label, a.period, a.start_rate, a.max_rate, a.steps)
                results[label]["rate"].append(good["rate"] if good else 0)
                results[label]["dora"].append(good["dora"] if good else 0)
                # CPU per lease at the top rate too: there commits hold many leases
                results[label]["cpu_top"].append(1000 * good["cpu"] / max(good["acks"], 1) if good else 0)
                t = trial(net, s, pair, a.fixed_rate, a.cpu_period)
                log(f"  {label:16} fixed r={a.fixed_rate}: {t['acks']} ACKed, drop {t['drop']:.2%}, "
                    f"server cpu {t['cpu']:.2f}s = {1000 * t['cpu'] / max(t['acks'], 1):.3f} s/1000 leases")
                results[label]["cpu"].append(1000 * t["cpu"] / max(t["acks"], 1))
                results[label]["drop"].append(t["drop"])
        elapsed = time.monotonic() - t0
    finally:
        for _, s, _ in setups:
            try:
                s.close()
            except Exception as e:  # noqa: BLE001
                log(f"stopping: {e}")
        net.down()
        if a.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print(f"\nDHCPv4 HA, {a.clients} perfdhcp -R 1e9 to 255.255.255.255, {a.runs} run(s), {a.period} s rate trials, "
          f"{a.cpu_period} s CPU trials at r={a.fixed_rate}, medians ({elapsed:.0f} s)")
    med = {k: {m: median(v[m]) for m in v} for k, v in results.items()}
    print(f"{'setup':16} {'max r <1% drop':>14} {'DORA/s':>8} {'CPU s/1k':>9} {'@top':>6} {'drop':>6}"
          "   per run: max r | CPU | CPU @top")
    for k, v in results.items():
        m = med[k]
        print(f"{k:16} {m['rate']:>14.0f} {m['dora']:>8.0f} {m['cpu']:>9.3f} {m['cpu_top']:>6.3f} {m['drop']:>6.1%}   "
              f"{v['rate']} | {[round(c, 3) for c in v['cpu']]} | {[round(c, 3) for c in v['cpu_top']]}")
    for who in ("ironrack", "kea"):
        p, s = med.get(f"{who} pair"), med.get(f"{who} single")
        if p and s and s["rate"]:
            print(f"{who} pair / single: max rate x{p['rate'] / s['rate']:.2f}, CPU per lease x{p['cpu'] / s['cpu']:.2f}"
                  f" (at the top rate x{p['cpu_top'] / max(s['cpu_top'], 1e-9):.2f})")
    if med.get("ironrack pair") and med.get("kea pair") and med["kea pair"]["rate"]:
        print(f"ironrack pair / kea pair: max rate x{med['ironrack pair']['rate'] / med['kea pair']['rate']:.2f}, "
              f"CPU per lease x{med['ironrack pair']['cpu'] / med['kea pair']['cpu']:.2f}")
    print(json.dumps({"results": results, "medians": med}), file=sys.stderr)


if __name__ == "__main__":
    main()
