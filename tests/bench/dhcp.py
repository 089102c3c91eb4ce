#!/usr/bin/env python3
"""DHCPv4: ironrack-rackd against Kea (kea-dhcp4, memfile with persistence)
and dnsmasq, one after the other in one run, driven by Kea's perfdhcp, in
network namespaces this script creates and deletes.

    /usr/bin/python3 tests/bench/dhcp.py [--runs 3] [--build build] [--quick]
                                         [--ironrack daemon|serve] [--fixed-rate 2000]

Lab (tests/system/dhcpnet.py; names carry this process's pid, leftovers of
dead runs are deleted first):

    irdb-PID-XXXX-sw    bridge br0
    irdb-PID-XXXX-rack  eth0 10.20.0.1/16: the server under test (one at a time)
    irdb-PID-XXXX-perf  eth0 10.20.0.3/16: perfdhcp (it acts as a relay: giaddr
                        10.20.0.3, unicast replies to port 67)

Every server serves the same subnet (10.20.0.0/16, pool 10.20.1.0 -
10.20.255.200, router 10.20.0.254, DNS 10.20.0.53, lease 600 s) and starts
each trial with an empty lease store, so every trial measures new clients
(perfdhcp -R 1000000000: random MACs, practically never repeated).

ironrack: `--ironrack daemon` (default) runs ironrack-rackd enrolled with an
ironrack-regiond on loopback (fresh embedded PostgreSQL); the DHCP config is
made through the REST API (subnet, dynamic range, VLAN dhcp_on +
primary_rack) and pushed over gRPC; the rack serves the server namespace
(--netns). Between trials the rack is restarted with its lease directory
(STATE/dhcp) removed. Its durability is the product's: no ACK before the
lease is on disk (group-commit fdatasync). `--ironrack serve` uses
build/tools/dhcp_serve (the same server, no region) instead.

Kea: kea-dhcp4 from Debian's kea-dhcp4-server, never installed: `apt-get
download` + `dpkg-deb -x` into a private directory (default
BUILD/bench/peers-dhcp), run from there (its libraries come from
kea-common, fetched the same way when not installed). Single-threaded
(Kea 2.2's default), memfile with persist=true, LFC off. Kea's memfile
appends each lease to its CSV file without fsync.

dnsmasq: Debian's dnsmasq-base, DHCP only, --no-ping (its ICMP check would
serialize offers), lease file in the work directory (dnsmasq rewrites the
whole file on every change, with fsync).

Measured per server, --runs rounds (servers interleaved within a round),
medians reported:
  - sustained rate: the highest perfdhcp rate (-r) whose trial (-p
    --period seconds) completes with under 1% of DISCOVERs left without an
    ACK; found by a geometric ramp then bisection; the DORA/s reported is
    ACKs / period at that rate;
  - CPU: server CPU seconds (utime+stime of the server process, all its
    threads, from /proc/PID/stat) per 1,000 ACKed leases, at one fixed rate
    (--fixed-rate) every server sustains, over --cpu-period seconds.
perfdhcp shares the machine's 2 cores with the server: its own CPU time
per trial (/usr/bin/time) is logged next to each trial so a saturated
client is visible, with the replies its socket buffer dropped. --clients N
runs N perfdhcp side by side (the first in the perf namespace, the others
in perf1.. at 10.20.0.11..), each at rate / N with a base MAC of its own;
--perfdhcp-threads single|multi is perfdhcp's -g.

--cpu-budget SHARE runs every server in a cgroup (v1 cpu controller, CFS
bandwidth) limited to SHARE of one CPU, in 10 ms periods, for all its
trials: with the same budget for each server, the rate each sustains is set
by its own CPU per lease and not by how many requests the clients can offer
and read on this 2-CPU machine. Each trial then logs how long the server
was throttled."""

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "system"))

import dhcpnet  # noqa: E402
import debpeers  # noqa: E402  (tests/bench, the script's own directory)
from benchutil import RegionRack, log, proc_cpu, sustained_rate, wait_for  # noqa: E402  (tests/bench)
from dhcpnet import DhcpNet, LoadClient, parse_perfdhcp  # noqa: E402

SERVER = "10.20.0.1"
PERF = "10.20.0.3"
CIDR = "10.20.0.0/16"
POOL = (os.environ.get("POOL_FIRST", "10.20.1.0"), "10.20.255.200")
ROUTER, DNS = "10.20.0.254", "10.20.0.53"
LEASE = 600


def sh(*argv, check=True, timeout=120, **kw):
    return dhcpnet.sh(*argv, check=check, timeout=timeout, **kw)


# ---- Kea from Debian's packages, privately ----

def fetch_kea(peers_dir):
    pkgs = ["kea-dhcp4-server"]
    st = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "kea-common"], capture_output=True, text=True)
    if "install ok installed" not in st.stdout:
        pkgs.append("kea-common")
    root, versions = debpeers.fetch(peers_dir, pkgs, "kea")
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(root, "usr", "lib", "x86_64-linux-gnu"))
    binary = os.path.join(root, "usr", "sbin", "kea-dhcp4")
    r = sh("ldd", binary, env=env)
    if "not found" in r.stdout:
        raise RuntimeError(f"{binary} misses a library:\n{r.stdout}")
    return binary, env, versions


# ---- servers: start() with an empty lease store, pid, stop() ----

class Proc:
    def __init__(self, net, name):
        self.net, self.name, self.p = net, name, None

    @property
    def pid(self):
        return self.p.pid

    def stop(self):
        if self.p:
            self.net.stop(self.p)
            self.p = None


class Dnsmasq(Proc):
    label = "dnsmasq"

    def __init__(self, net, work):
        super().__init__(net, "dnsmasq")
        self.work = work
        self.version = sh("dnsmasq", "-v").stdout.split("\n")[0].split()[2]

    def start(self):
        lease = os.path.join(self.work, "dnsmasq.leases")
        if os.path.exists(lease):
            os.unlink(lease)
        argv = ["dnsmasq", "--keep-in-foreground", "--log-facility=-", "--port=0", "--bind-interfaces",
                "--interface=eth0", "--except-interface=lo", "--conf-file=/dev/null", f"--dhcp-leasefile={lease}",
                "--user=root", "--group=root", "--dhcp-authoritative", "--no-ping", "--quiet-dhcp", "--dhcp-lease-max=1000000",
                f"--pid-file={os.path.join(self.work, 'dnsmasq.pid')}",
                f"--dhcp-range={POOL[0]},{POOL[1]},255.255.0.0,{LEASE}", f"--dhcp-option=3,{ROUTER}",
                f"--dhcp-option=6,{DNS}"]
        # ip netns exec execs the server: the pid is dnsmasq's.
        self.p = self.net.spawn(self.net.rack, argv, "dnsmasq")
        wait_for(lambda: "DHCP, IP range" in open(self.p.log_path, errors="replace").read(), 10, "dnsmasq")


class Kea(Proc):
    label = "kea"

    def __init__(self, net, work, binary, env, version, threads=0):
        super().__init__(net, "kea")
        self.work, self.binary, self.env, self.version = work, binary, env, version
        self.threads = threads
        if threads:
            self.version += f", {threads} threads"
        self.dir = os.path.join(work, "kea")
        os.makedirs(self.dir, exist_ok=True)
        self.env = dict(env, KEA_PIDFILE_DIR=self.dir, KEA_LOCKFILE_DIR=self.dir)

    def start(self):
        for f in glob.glob(os.path.join(self.dir, "leases4.csv*")):
            os.unlink(f)
        conf = {"Dhcp4": {
            "interfaces-config": {"interfaces": ["eth0"], "dhcp-socket-type": "udp"},
            "lease-database": {"type": "memfile", "persist": True, "lfc-interval": 0,
                               "name": os.path.join(self.dir, "leases4.csv")},
            # Kea 2.2's default is one thread; ISC's performance notes
            # advise multi-threading (the default from 2.4): --kea-threads.
            "multi-threading": ({"enable-multi-threading": True, "thread-pool-size": self.threads,
                                 "packet-queue-size": 64} if self.threads else {"enable-multi-threading": False}),
            "valid-lifetime": LEASE,
            "subnet4": [{"id": 1, "subnet": CIDR, "pools": [{"pool": f"{POOL[0]} - {POOL[1]}"}],
                         "option-data": [{"name": "routers", "data": ROUTER},
                                         {"name": "domain-name-servers", "data": DNS}]}],
            "loggers": [{"name": "kea-dhcp4", "output_options": [{"output": "stdout"}], "severity": "WARN"}]}}
        path = os.path.join(self.dir, "kea-dhcp4.conf")
        with open(path, "w") as f:
            json.dump(conf, f)
        self.p = self.net.spawn(self.net.rack, [self.binary, "-c", path], "kea", env=self.env)


class IronrackServe(Proc):
    """build/tools/dhcp_serve in the server namespace."""
    label = "ironrack"

    def __init__(self, net, work, build):
        super().__init__(net, "ironrack")
        self.work, self.tool = work, os.path.join(build, "tools", "dhcp_serve")
        self.version = "dhcp_serve"
        if not os.access(self.tool, os.X_OK):
            raise RuntimeError(f"{self.tool} not built")

    def start(self):
        leases = os.path.join(self.work, "serve-leases")
        shutil.rmtree(leases, ignore_errors=True)
        # No -p: conflict probes off, as the region's dhcp_probe=no.
        argv = [self.tool, "-l", leases, "-t", str(LEASE), "-i", "eth0", "-s", CIDR, "-a", SERVER,
                "-r", f"{POOL[0]}-{POOL[1]}", "-g", ROUTER, "-d", DNS]
        self.p = self.net.spawn(self.net.rack, argv, "dhcp_serve")


class IronrackDaemon(RegionRack):
    """ironrack-rackd (host namespace, serving the server namespace through
    --netns) enrolled with an ironrack-regiond on loopback; DHCP configured
    through the REST API. No ARP/ICMP probe before an offer: Kea does not
    probe and dnsmasq runs with --no-ping."""
    label = "ironrack"

    def __init__(self, net, work, build, rack_args=()):
        super().__init__(net, work, build, rack_args=rack_args)
        self.version = "rackd " + self.rackd_version

    def configure_first(self):
        self.configure(CIDR, POOL, gateway=ROUTER, dns_servers=[DNS])

    def start(self):
        if self.enrolled:  # every trial starts from an empty lease store
            shutil.rmtree(os.path.join(self.rack.state_dir, "dhcp"), ignore_errors=True)
        self.start_rack()

    def stop(self):
        self.rack.stop()


def ensure_binaries(build, names):
    """Others may be rebuilding build/ while this runs: wait (up to 15 min)
    until each binary exists, is executable and was not written in the
    last 5 s."""
    paths = [os.path.join(build, n) for n in names]

    def ready():
        now = time.time()
        return all(os.access(p, os.X_OK) and now - os.stat(p).st_mtime > 5 for p in paths)
    wait_for(ready, 900, f"{', '.join(paths)} to be built")


def wait_serving(net, server, timeout=60):
    """One DORA from the perfdhcp namespace (MACs 02:7e:...) until it is ACKed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.p is None if isinstance(server, Proc) else False:
            raise RuntimeError(f"{server.label} not running")
        lc = LoadClient(net, net.perf, SERVER, PERF, 1, 100, mac_tag=0x7e, tries=2, timeout=3, name="probe")
        lc.wait(10)
        if lc.acks():
            return
        proc = server.p if isinstance(server, Proc) else server.rack.daemon.proc
        if proc.poll() is not None:
            raise RuntimeError(f"{server.label} exited {proc.returncode}")
    raise RuntimeError(f"{server.label}: no ACK within {timeout}s")


class CpuBudget:
    """A cgroup (v1 "cpu" controller, CFS bandwidth) that lets the
    processes in it use `share` of one CPU: quota share x 10 ms in every
    10 ms period. The short period keeps a throttled server's pauses at a
    few ms, far inside any server's socket buffer at the rates measured.
    Every server gets the same budget, so the rate each sustains is set by
    its own CPU per lease, not by the clients' ceiling on this machine."""

    ROOT = "/sys/fs/cgroup/cpu"
    PERIOD_US = 10000

    def __init__(self, share):
        if not os.path.isfile(os.path.join(self.ROOT, "cpu.cfs_quota_us")):
            sys.exit(f"--cpu-budget needs the cgroup v1 cpu controller at {self.ROOT}")
        self.share = share
        self.path = os.path.join(self.ROOT, f"irbench-dhcp-{os.getpid()}")
        os.makedirs(self.path, exist_ok=True)
        self.write("cpu.cfs_period_us", self.PERIOD_US)
        self.write("cpu.cfs_quota_us", max(1000, round(share * self.PERIOD_US)))

    def write(self, name, value):
        with open(os.path.join(self.path, name), "w") as f:
            f.write(f"{value}\n")

    def add(self, pid):
        """pid and all its threads, and what they start from now on."""
        self.write("cgroup.procs", pid)

    def throttled_ms(self):
        with open(os.path.join(self.path, "cpu.stat")) as f:
            st = dict(line.split() for line in f)
        return int(st.get("throttled_time", 0)) / 1e6

    def remove(self):
        try:
            os.rmdir(self.path)
        except OSError as e:
            log(f"cannot remove {self.path}: {e}")


def perf_trial(net, server, rate, period, threads="multi", budget=None):
    """Fresh server, perfdhcp at rate for period seconds: one perfdhcp per
    namespace of net.perfs, each at rate / N with a base MAC of its own
    (-R 1e9 varies only the last four bytes). Returns {rate, acks,
    discovers, drop, dora, cpu, perf_cpu}, summed over the perfdhcp.
    budget: a CpuBudget the server runs in."""
    server.start()
    n = len(net.perfs)
    try:
        if budget:
            budget.add(server.pid)
        wait_serving(net, server)
        cpu0 = proc_cpu(server.pid)
        thr0 = budget.throttled_ms() if budget else 0
        rcvbuf0 = sum(rcvbuf_errors(ns) for ns in net.perfs)
        srv_rcvbuf0 = rcvbuf_errors(net.rack)
        t0 = time.monotonic()
        procs = []
        for i, ns in enumerate(net.perfs):
            argv = ["perfdhcp", "-4", "-l", "eth0", "-g", threads, "-b", f"mac=00:{0x0c + i:02x}:01:02:03:04",
                    "-r", str(max(1, round(rate / n))), "-R", "1000000000", "-p", str(period), "-W", "1000000",
                    SERVER]
            procs.append(subprocess.Popen(["ip", "netns", "exec", ns, "/usr/bin/time", "-f", "PERFCPU %U %S",
                                           *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outs = [(*p.communicate(timeout=period + 60), p.returncode) for p in procs]
        wall = time.monotonic() - t0
        cpu = proc_cpu(server.pid) - cpu0
        throttled = budget.throttled_ms() - thr0 if budget else 0
        rcvbuf = sum(rcvbuf_errors(ns) for ns in net.perfs) - rcvbuf0
        srv_rcvbuf = rcvbuf_errors(net.rack) - srv_rcvbuf0
    finally:
        server.stop()
    disc = acks = 0
    perf_cpu = 0.0
    delays = [[], []]  # per perfdhcp: DISCOVER-OFFER, REQUEST-ACK average (ms)
    for out, err, rc in outs:
        res = parse_perfdhcp(out + err, rc)
        if len(res["sent"]) < 1 or len(res["received"]) < 2:
            raise RuntimeError(f"perfdhcp said:\n{out}{err}")
        disc += res["sent"][0]
        acks += res["received"][1]
        for i, d in enumerate(res["avg_delay_ms"][:2]):
            delays[i].append(d)
        for line in err.splitlines():
            if line.startswith("PERFCPU"):
                perf_cpu += sum(float(x) for x in line.split()[1:])
    return {"rate": rate, "acks": acks, "discovers": disc, "drop": 1 - acks / disc if disc else 1.0,
            "dora": acks / period, "cpu": cpu, "perf_cpu": round(perf_cpu, 2), "wall": wall, "rcvbuf": rcvbuf,
            "srv_rcvbuf": srv_rcvbuf, "throttled_ms": throttled,
            "delay_ms": [statistics.mean(d) if d else None for d in delays]}


def rcvbuf_errors(ns):
    """UDP datagrams the kernel dropped in ns so far (socket receive buffer
    full): replies the server sent that perfdhcp never read. Absolute (-a),
    no history file (-s): nstat's history is per user, not per namespace."""
    out = sh("ip", "netns", "exec", ns, "nstat", "-asz", "UdpRcvbufErrors", check=False).stdout
    for line in out.splitlines():
        if line.startswith("UdpRcvbufErrors"):
            return int(line.split()[1])
    return 0


def sustained(net, server, period, start, limit, steps, threads, budget=None):
    """Highest rate with < 1% drops (benchutil.sustained_rate)."""
    def describe(t):
        return (f"  {server.label:8} r={t['rate']:6d}: {t['acks']}/{t['discovers']} ACKed, drop {t['drop']:.2%}, "
                f"server cpu {t['cpu']:.2f}s, perfdhcp cpu {t['perf_cpu']}, client rcvbuf drops {t['rcvbuf']}, "
                f"server rcvbuf drops {t['srv_rcvbuf']}"
                + (f", throttled {t['throttled_ms']:.0f} ms" if budget else ""))
    return sustained_rate(lambda rate: perf_trial(net, server, rate, period, threads, budget), start, limit, steps,
                          describe)


def fmt_delay(d):
    """perfdhcp's average DISCOVER->OFFER / REQUEST->ACK delays."""
    return " / ".join("?" if x is None else f"{x:.2f}" for x in d) + " ms (DO / RA)"


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--peers", help="private directory for Kea's packages (default BUILD/bench/peers-dhcp)")
    ap.add_argument("--ironrack", choices=("daemon", "serve"), default="daemon")
    ap.add_argument("--period", type=int, default=3, help="seconds per rate trial (default 3)")
    ap.add_argument("--start-rate", type=int, default=1500)
    ap.add_argument("--max-rate", type=int, default=40000)
    ap.add_argument("--steps", type=int, default=2, help="bisection steps after the ramp (default 2)")
    ap.add_argument("--fixed-rates", default="400,2000",
                    help="rates of the CPU-per-lease trials (default 400,2000: 400 all three sustain here)")
    ap.add_argument("--cpu-period", type=int, default=5)
    ap.add_argument("--clients", type=int, default=2,
                    help="perfdhcp side by side, each in a namespace of its own at rate/N (default 2: one perfdhcp "
                         "cannot read the replies of more than ~10,000 DORA/s here and drops them in its socket "
                         "buffer)")
    ap.add_argument("--perfdhcp-threads", choices=("single", "multi"), default="single",
                    help="perfdhcp -g (default single: with two perfdhcp on two CPUs, multi's receive threads only "
                         "compete with the server)")
    ap.add_argument("--rack-args", default="",
                    help="more ironrack-rackd options, space-separated (e.g. \"--dhcp-commit-interval 0\")")
    ap.add_argument("--only", help="comma-separated subset of ironrack,kea,dnsmasq")
    ap.add_argument("--kea-threads", type=int, default=0, metavar="N",
                    help="run Kea multi-threaded with a pool of N threads (default 0: single-threaded, Kea 2.2's "
                         "default)")
    ap.add_argument("--cpu-budget", type=float, metavar="SHARE",
                    help="run every server in a cgroup limited to SHARE of one CPU (e.g. 0.25; CFS quota in 10 ms "
                         "periods), for the rate and the CPU trials: the rate then measures the server, not the "
                         "clients' ceiling on this machine")
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 round, 2 s trials, no bisection")
    a = ap.parse_args()
    if a.quick:
        a.runs, a.period, a.steps, a.cpu_period = 1, 2, 0, 3
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    build = os.path.abspath(a.build)
    kea_bin, kea_env, kea_versions = fetch_kea(a.peers or os.path.join(build, "bench", "peers-dhcp"))
    work = tempfile.mkdtemp(prefix="irbench-dhcp-", dir="/tmp")
    os.chmod(work, 0o755)
    net = DhcpNet(work, tag="irdb", rack_addrs=(f"{SERVER}/16",))
    servers = []
    budget = CpuBudget(a.cpu_budget) if a.cpu_budget else None
    try:
        net.up()
        net.perf = net.host("perf", addrs=[f"{PERF}/16"], mac="02:00:00:00:00:03")
        net.perfs = [net.perf] + [net.host(f"perf{i}", addrs=[f"10.20.0.{10 + i}/16"], mac=f"02:00:00:00:01:{i:02x}")
                                  for i in range(1, a.clients)]
        only = set((a.only or "ironrack,kea,dnsmasq").split(","))
        if "ironrack" in only:
            ensure_binaries(build, ["ironrack-regiond", "ironrack-rackd"] if a.ironrack == "daemon"
                            else ["tools/dhcp_serve"])
            servers.append(IronrackDaemon(net, work, build, a.rack_args.split()) if a.ironrack == "daemon"
                           else IronrackServe(net, work, build))
        if "kea" in only:
            servers.append(Kea(net, work, kea_bin, kea_env, kea_versions.get("kea-dhcp4-server", "?"),
                               a.kea_threads))
        if "dnsmasq" in only:
            servers.append(Dnsmasq(net, work))
        perf_version = sh("perfdhcp", "-v").stdout.strip()
        log("servers: " + ", ".join(f"{s.label} {s.version}" for s in servers) + f"; perfdhcp {perf_version}")
        fixed = [int(x) for x in a.fixed_rates.split(",")]
        results = {s.label: {"rate": [], "dora": [], **{f"cpu@{r}": [] for r in fixed},
                             **{f"drop@{r}": [] for r in fixed}} for s in servers}
        t_start = time.monotonic()
        for run in range(a.runs):
            for s in servers:
                # Start each server on a quiet disk: the previous one's
                # writeback (lease files, fsyncs) must not stall this one's.
                os.sync()
                time.sleep(2)
                log(f"run {run + 1}/{a.runs}: {s.label}, sustained rate")
                good, bad, _ = sustained(net, s, a.period, a.start_rate, a.max_rate, a.steps, a.perfdhcp_threads,
                                         budget)
                results[s.label]["rate"].append(good["rate"] if good else 0)
                results[s.label]["dora"].append(good["dora"] if good else 0)
                for fr in fixed:
                    t = perf_trial(net, s, fr, a.cpu_period, a.perfdhcp_threads, budget)
                    log(f"  {s.label:8} fixed r={fr}: {t['acks']} ACKed, drop {t['drop']:.2%}, "
                        f"server cpu {t['cpu']:.2f}s = {1000 * t['cpu'] / max(t['acks'], 1):.3f} s/1000 leases, "
                        f"perfdhcp cpu {t['perf_cpu']}, avg delay {fmt_delay(t['delay_ms'])}")
                    results[s.label][f"cpu@{fr}"].append(1000 * t["cpu"] / max(t["acks"], 1))
                    results[s.label][f"drop@{fr}"].append(t["drop"])
        elapsed = time.monotonic() - t_start
    finally:
        for s in servers:
            try:
                (s.close if hasattr(s, "close") else s.stop)()
            except Exception as e:  # noqa: BLE001
                log(f"stopping {s.label}: {e}")
        net.down()
        shutil.rmtree(work, ignore_errors=True)
        if budget:
            budget.remove()

    print(f"\nDHCPv4 DORA, {a.clients} perfdhcp -g {a.perfdhcp_threads} -R 1e9 (new clients), {a.runs} run(s), {a.period} s rate trials, "
          f"{a.cpu_period} s CPU trials, medians ({elapsed:.0f} s)"
          + (f"; every server limited to {a.cpu_budget:g} of a CPU" if budget else ""))
    med = {k: {m: median(v[m]) for m in v} for k, v in results.items()}
    head = f"{'server':10} {'max r <1% drop':>14} {'DORA/s':>8}"
    for fr in fixed:
        head += f" {'CPU s/1k @' + str(fr):>14} {'drop':>6}"
    print(head + "   per run: max r | CPU")
    for k, v in results.items():
        m = med[k]
        line = f"{k:10} {m['rate']:>14.0f} {m['dora']:>8.0f}"
        for fr in fixed:
            line += f" {m[f'cpu@{fr}']:>14.3f} {m[f'drop@{fr}']:>6.1%}"
        print(line + f"   {v['rate']} | " + " ".join(str([round(c, 3) for c in v[f'cpu@{fr}']]) for fr in fixed))
    if "ironrack" in med:
        for peer in ("kea", "dnsmasq"):
            if peer in med and med[peer]["rate"]:
                cpu = ", ".join(f"CPU per lease @{fr} x{med['ironrack'][f'cpu@{fr}'] / med[peer][f'cpu@{fr}']:.2f}"
                                for fr in fixed)
                print(f"ironrack / {peer}: max rate x{med['ironrack']['rate'] / med[peer]['rate']:.2f}, {cpu}")
    print(json.dumps({"results": results, "medians": med}), file=sys.stderr)


if __name__ == "__main__":
    main()
