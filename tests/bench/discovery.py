#!/usr/bin/env python3
"""Passive discovery under an ARP flood: ironrack-rackd against arpwatch
(Debian's package), on the same flood, one after the other, in network
namespaces this script creates and deletes.

    /usr/bin/python3 tests/bench/discovery.py [--runs 3] [--build build] [--quick]
                                              [--rates 20000,50000] [--seconds 10]

Lab (tests/system/dhcpnet.py; names carry this process's pid, leftovers of
dead runs are deleted first):

    irdd-PID-XXXX-sw     bridge br0
    irdd-PID-XXXX-rack   eth0 10.20.0.1/16: ironrack-rackd serves DHCP there
                         (--netns) and so observes eth0; arpwatch runs on the
                         same eth0 in its turn
    irdd-PID-XXXX-flood  eth0: build/tools/arpflood
    irdd-PID-XXXX-cli    eth0 10.20.0.3/16: the DHCP latency client

The flood: RATE ARP requests per second for --seconds, every one from a
sender never seen before (MAC 02:77:00:..., address 10.64.0.1 upwards, one
sender per frame: arpflood -n RATE*SECONDS), broadcast, so the bridge hands
every frame to the rack's eth0. A flood of new stations is the worst case
for both: each frame is a new entry (rackd: a NEW event over its rate bound,
an eviction once the table is full; arpwatch: a "new station" report).

ironrack-rackd is enrolled with an ironrack-regiond on loopback (fresh
embedded PostgreSQL), which serves 10.20.0.0/16 on the untagged VLAN with
the rack as primary; DHCP conflict probes are off (--dhcp-probe no, as in
tests/bench/dhcp.py: a probe waits 300 ms before every offer). The rack is
started afresh for every trial (empty neighbour table, fresh counters) and
stopped after it: its last log line per interface gives frames read and
frames lost by the capture ring.

arpwatch: Debian's arpwatch package, never installed (`apt-get download` +
`dpkg-deb -x` into BUILD/bench/peers-discovery), run as Debian runs it
(-N -p: no bogon reports, not promiscuous), plus:
  -Q       no mail: Debian's default mails every report (a fork + sendmail
           per new station, at most 3 at once, arpwatch pausing for them),
           which would measure the mailer, not the watcher;
  -n 10.64.0.0/12  the flood's addresses are a local network: Debian's
           arpwatch silently drops ARP from outside the interface's subnet
           (and -n's) unless -a, which would make the flood free;
  -d -d    stay in the foreground; with two -d a report is only logged
           (as with -Q), and the log goes to stderr instead of syslog: one
           write() per report (syslog would be one send()), to a file here;
           its "new station" lines count the frames arpwatch processed.
It runs in a private mount namespace whose /etc/nsswitch.conf says `hosts:
files`: arpwatch looks up a hostname for every new station (getsname() in
elist_alloc), and with DNS that is a blocking query per frame; with files
only it is a read of /etc/hosts, the cheapest arpwatch can be. What
arpwatch spends per new station also grows with the stations it holds: its
address table (ainfo_find() in db.c) hashes the low 16 bits of the address
as stored, in network byte order, i.e. on x86 the first two octets, so all
stations of a /16 share one chain and each new one walks the others (the
flood's consecutive addresses fall in 4 /16s at 200,000 senders, 8 at
500,000). That is arpwatch on any little-endian machine, not an artefact of
the lab, but it makes its figures depend on the flood's length.

Why in turn and not at once: on 2 cores arpflood takes a good part of one,
so two captures at once would mostly measure which of them the scheduler
favours. While arpwatch runs, rackd is stopped.

Measured per trial, --runs rounds, medians and min-max reported:
  - frames sent (arpflood's count), frames processed (rackd: frames read;
    arpwatch: new station reports), lost = sent - processed (and for rackd
    the ring's own drop count from pcap_stats);
  - CPU (utime+stime from /proc/PID/stat, all threads) from the flood's
    start until the process has drained its ring (no CPU for 0.5 s), per
    10,000 frames sent; for rackd also net of its idle CPU over the same
    time (an idle trial: no flood, the same DHCP load);
  - rackd's DHCP latency: --dhcp-rate full DORAs per second from new
    clients (relay-style, like perfdhcp: giaddr 10.20.0.3) during the
    flood, DISCOVER->OFFER and DISCOVER->ACK, median and p99."""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "system"))

import debpeers  # noqa: E402  (tests/bench, the script's own directory)
from benchutil import RegionRack, log, proc_cpu, wait_for  # noqa: E402  (tests/bench)
import dhcpnet  # noqa: E402
from dhcpnet import DhcpNet, LoadClient  # noqa: E402

SERVER, CLIENT = "10.20.0.1", "10.20.0.3"
CIDR = "10.20.0.0/16"
POOL = ("10.20.1.0", "10.20.255.200")
FLOOD_NET, FLOOD_CIDR = "10.64.0.0", "10.64.0.0/12"

STATS_RE = re.compile(
    r"discovery: eth0: (\d+) frames read \((\d+) ARP bindings, (\d+) probes, (\d+) mDNS responses, (\d+) malformed\), "
    r"(\d+) lost by the capture ring; events (\d+) new, (\d+) moved, (\d+) named, (\d+) refreshed, "
    r"(\d+) over discovery_rate, (\d+) over the queue")


def sh(*argv, check=True, timeout=120, **kw):
    return dhcpnet.sh(*argv, check=check, timeout=timeout, **kw)


def settle(pid, quiet=0.5, limit=15.0):
    """Wait until pid has used no CPU for `quiet` seconds (its ring is
    drained); returns its CPU seconds then."""
    deadline = time.monotonic() + limit
    last, since = proc_cpu(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = proc_cpu(pid)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return last


# ---- the DHCP latency client ----

# In the client namespace, holding giaddr: sequential DORAs from new MACs
# (02:LL:rr:rr:nn:nn), one started every 1/rate s (or when the previous one
# ends, if later), each step waiting at most 1 s. Prints one JSON line:
# {"offer_ms": [...], "ack_ms": [...], "failed": N}.
LAT_CLIENT = r'''
import json, os, select, socket, struct, sys, time
job = json.loads(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((job["giaddr"], 67))
G = socket.inet_aton(job["giaddr"])
tag = os.urandom(2)
def pkt(i, xid, mtype, extra=b""):
    mac = bytes([2, job["mac_tag"]]) + tag + struct.pack("!H", i)
    opts = bytes([53, 1, mtype]) + extra + bytes([55, 4, 1, 3, 6, 26, 255])
    return (struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 1, xid, 0, 0, b"\0" * 4, b"\0" * 4, b"\0" * 4, G,
                        mac + b"\0" * 10, b"", b"") + b"\x63\x82\x53\x63" + opts)
def wait(xid, want, t_end):
    while True:
        left = t_end - time.monotonic()
        if left <= 0:
            return None
        r, _, _ = select.select([s], [], [], left)
        if not r:
            return None
        d = s.recv(2048)
        if len(d) < 240 or struct.unpack("!I", d[4:8])[0] != xid:
            continue
        o, mt, sid = d[240:], 0, None
        i = 0
        while i + 1 < len(o):
            c = o[i]
            if c == 255: break
            if c == 0: i += 1; continue
            l = o[i + 1]; v = o[i + 2:i + 2 + l]
            if c == 53: mt = v[0]
            if c == 54: sid = v
            i += 2 + l
        if mt == want:
            return d[16:20], sid
offer_ms, ack_ms, failed = [], [], 0
t_start = time.monotonic()
for n in range(job["count"]):
    due = t_start + n / job["rate"]
    if due > time.monotonic():
        time.sleep(due - time.monotonic())
    xid = int.from_bytes(os.urandom(4), "big")
    t0 = time.monotonic()
    s.sendto(pkt(n, xid, 1), (job["server"], 67))
    got = wait(xid, 2, t0 + 1.0)
    if not got:
        failed += 1
        continue
    t1 = time.monotonic()
    yi, sid = got
    s.sendto(pkt(n, xid, 3, bytes([50, 4]) + yi + (bytes([54, 4]) + sid if sid else b"")), (job["server"], 67))
    if not wait(xid, 5, t1 + 1.0):
        failed += 1
        continue
    t2 = time.monotonic()
    offer_ms.append((t1 - t0) * 1000)
    ack_ms.append((t2 - t0) * 1000)
print(json.dumps({"offer_ms": offer_ms, "ack_ms": ack_ms, "failed": failed}), flush=True)
'''


class LatencyClient:
    def __init__(self, net, ns, count, rate, name):
        job = dict(server=SERVER, giaddr=CLIENT, count=count, rate=rate, mac_tag=0x5d)
        self.p = net.spawn(ns, ["/usr/bin/python3", "-u", "-c", LAT_CLIENT, json.dumps(job)], name)

    def result(self, timeout):
        self.p.wait(timeout)
        with open(self.p.log_path, errors="replace") as f:
            lines = [ln for ln in f.read().splitlines() if ln.startswith("{")]
        if not lines:
            raise RuntimeError(f"latency client printed no result: {open(self.p.log_path).read()[-2000:]}")
        return json.loads(lines[-1])


def pct(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


# ---- the flood ----

def flood(net, build, rate, seconds):
    """arpflood in the flood namespace, every frame from a new sender.
    Returns the number of frames the kernel took."""
    tool = os.path.join(build, "tools", "arpflood")
    r = net.run(net.flood, [tool, "-i", "eth0", "-r", str(rate), "-t", str(seconds), "-n", str(rate * seconds),
                            "-N", FLOOD_NET], timeout=seconds + 60)
    m = re.search(r"sent=(\d+) elapsed_ms=(\d+) rate=(\d+)", r.stdout + r.stderr)
    if not m:
        raise RuntimeError(f"arpflood said: {r.stdout}{r.stderr}")
    return int(m.group(1)), int(m.group(2))


# ---- ironrack-rackd ----

class Rackd(RegionRack):
    label = "rackd"

    def __init__(self, net, work, build):
        super().__init__(net, work, build)
        self.version = self.rackd_version

    def configure_first(self):
        self.configure(CIDR, POOL)

    def start(self):
        self.start_rack()
        self.rack.daemon.wait_log("discovery: observing eth0", timeout=60)
        # Serving: one DORA answered (MACs 02:7e:...).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            lc = LoadClient(self.net, self.net.cli, SERVER, CLIENT, 1, 100, mac_tag=0x7e, tries=2, timeout=3,
                            name="probe")
            lc.wait(10)
            if lc.acks():
                return
            if self.rack.daemon.proc.poll() is not None:
                raise RuntimeError(f"rackd exited {self.rack.daemon.proc.returncode}")
        raise RuntimeError("rackd: no ACK within 60 s")

    def stop(self):
        """Stops rackd; returns its capture counters for eth0 (the last
        counters line of its log)."""
        self.rack.stop()
        found = STATS_RE.findall(self.rack.daemon.text())
        if not found:
            raise RuntimeError(f"no discovery counters in {self.rack.daemon.log_path}")
        f = [int(x) for x in found[-1]]
        return {"read": f[0], "arp": f[1], "ring_lost": f[5], "new": f[6], "over_rate": f[10], "over_queue": f[11]}


# ---- arpwatch ----

def fetch_arpwatch(peers_dir):
    root, versions = debpeers.fetch(peers_dir, ["arpwatch"], "arpwatch")
    binary = os.path.join(root, "usr", "sbin", "arpwatch")
    r = sh("ldd", binary)
    if "not found" in r.stdout:
        raise RuntimeError(f"{binary} misses a library (libpcap0.8?):\n{r.stdout}")
    return binary, versions.get("arpwatch", "?")


class Arpwatch:
    label = "arpwatch"

    def __init__(self, net, work, binary, version):
        self.net, self.binary, self.version = net, binary, version
        self.dir = os.path.join(work, "arpwatch")
        os.makedirs(self.dir, exist_ok=True)
        self.nsswitch = os.path.join(self.dir, "nsswitch.conf")
        with open(self.nsswitch, "w") as f:
            f.write("hosts: files\n")
        self.p, self.n = None, 0

    def start(self):
        self.n += 1
        data = os.path.join(self.dir, "arp.dat")
        open(data, "w").close()  # arpwatch wants an existing (empty) data file
        argv = [self.binary, "-d", "-d", "-N", "-p", "-Q", "-n", FLOOD_CIDR, "-f", data, "-i", "eth0"]
        cmd = f"mount --bind {self.nsswitch} /etc/nsswitch.conf && exec " + " ".join(argv)
        self.p = self.net.spawn(self.net.rack, ["unshare", "-m", "--propagation", "private", "sh", "-c", cmd],
                                f"arpwatch-{self.n}")

        def capturing():
            if self.p.poll() is not None:
                raise RuntimeError(f"arpwatch exited {self.p.returncode}: {open(self.p.log_path).read()[-2000:]}")
            try:
                if open(f"/proc/{self.p.pid}/comm").read().strip() != "arpwatch":
                    return False
                # Its packet socket is open: frames queue in its ring from now on.
                return any(os.readlink(f"/proc/{self.p.pid}/fd/{fd}").startswith("socket:")
                           for fd in os.listdir(f"/proc/{self.p.pid}/fd"))
            except OSError:
                return False
        wait_for(capturing, 10, "arpwatch capturing")
        time.sleep(0.2)

    @property
    def pid(self):
        return self.p.pid

    def stop(self):
        self.net.stop(self.p)
        with open(self.p.log_path, errors="replace") as f:
            return {"read": sum(1 for ln in f if "new station" in ln)}

    def close(self):
        if self.p:
            self.net.stop(self.p)


# ---- trials ----

def trial(net, build, watcher, rate, seconds, dhcp_rate):
    """watcher started, measured over a flood of rate for seconds (rate 0:
    no flood, the idle baseline), stopped. For rackd, the DHCP latency
    client runs during it."""
    watcher.start()
    try:
        lat = None
        if isinstance(watcher, Rackd):
            lat = LatencyClient(net, net.cli, max(1, int(dhcp_rate * seconds)), dhcp_rate, "latency")
        cpu0, t0 = proc_cpu(watcher.pid), time.monotonic()
        if rate:
            sent, elapsed_ms = flood(net, build, rate, seconds)
        else:
            sent, elapsed_ms = 0, seconds * 1000
            time.sleep(seconds)
        cpu1 = settle(watcher.pid)
        window = time.monotonic() - t0
        res = {"rate": rate, "sent": sent, "elapsed_ms": elapsed_ms, "cpu": cpu1 - cpu0, "window": window}
        if lat:
            res["dhcp"] = lat.result(seconds + 60)
    finally:
        counters = watcher.stop()
    res.update(counters)
    if isinstance(watcher, Rackd) and rate:
        # What rackd read beside the flood (the latency client's ARP) is a
        # handful of frames: count only up to what was sent.
        res["read"] = min(res["read"], sent)
    res["lost"] = sent - res["read"] if rate else 0
    return res


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def spread(xs, fmt):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "-"
    med = statistics.median(xs)
    if len(xs) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} ({fmt.format(min(xs))}-{fmt.format(max(xs))})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--peers", help="private directory for arpwatch's package (default BUILD/bench/peers-discovery)")
    ap.add_argument("--rates", default="20000,50000", help="ARP frames per second (default 20000,50000)")
    ap.add_argument("--seconds", type=int, default=10, help="flood duration (default 10)")
    ap.add_argument("--dhcp-rate", type=float, default=20, help="DORAs per second during a trial (default 20)")
    ap.add_argument("--only", help="rackd or arpwatch")
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 round, 3 s floods")
    a = ap.parse_args()
    if a.quick:
        a.runs, a.seconds = 1, 3
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    build = os.path.abspath(a.build)
    for tool in ("ironrack-regiond", "ironrack-rackd", "tools/arpflood"):
        if not os.access(os.path.join(build, tool), os.X_OK):
            sys.exit(f"{os.path.join(build, tool)} not built (make BUILD={build} {build}/{tool})")
    rates = [int(x) for x in a.rates.split(",")]
    only = set((a.only or "rackd,arpwatch").split(","))
    aw_bin, aw_version = fetch_arpwatch(a.peers or os.path.join(build, "bench", "peers-discovery"))
    work = tempfile.mkdtemp(prefix="irbench-disc-", dir="/tmp")
    os.chmod(work, 0o755)
    net = DhcpNet(work, tag="irdd", rack_addrs=(f"{SERVER}/16",))
    watchers = []
    results = {"rackd-idle": []}
    for r in rates:
        for w in ("rackd", "arpwatch"):
            results[f"{w}@{r}"] = []
    t_start = time.monotonic()
    try:
        net.up()
        net.flood = net.host("flood", mac="02:00:00:00:00:77")
        net.cli = net.host("cli", addrs=[f"{CLIENT}/16"], mac="02:00:00:00:00:03")
        rackd = Rackd(net, work, build) if "rackd" in only else None
        arpwatch = Arpwatch(net, work, aw_bin, aw_version) if "arpwatch" in only else None
        watchers = [w for w in (rackd, arpwatch) if w]
        log(f"rackd: {rackd.version if rackd else '-'}; arpwatch {aw_version} (Debian, unpacked)")
        for run in range(a.runs):
            if rackd:
                t = trial(net, build, rackd, 0, a.seconds, a.dhcp_rate)
                results["rackd-idle"].append(t)
                log(f"run {run + 1}/{a.runs} rackd idle: cpu {t['cpu']:.2f}s over {t['window']:.1f}s, DHCP "
                    f"{len(t['dhcp']['ack_ms'])} DORAs p50 {pct(t['dhcp']['ack_ms'], 0.5):.2f} ms "
                    f"p99 {pct(t['dhcp']['ack_ms'], 0.99):.2f} ms, failed {t['dhcp']['failed']}")
            for rate in rates:
                for w in watchers:
                    t = trial(net, build, w, rate, a.seconds, a.dhcp_rate)
                    results[f"{w.label}@{rate}"].append(t)
                    msg = (f"run {run + 1}/{a.runs} {w.label} @{rate}/s: sent {t['sent']} in {t['elapsed_ms']} ms, "
                           f"processed {t['read']}, lost {t['lost']}")
                    if w is rackd:
                        msg += (f" (ring {t['ring_lost']}; events new {t['new']}, over rate {t['over_rate']}, "
                                f"over queue {t['over_queue']})")
                    msg += f", cpu {t['cpu']:.2f}s over {t['window']:.1f}s"
                    if "dhcp" in t:
                        d = t["dhcp"]
                        msg += (f", DHCP {len(d['ack_ms'])} DORAs p50 {pct(d['ack_ms'], 0.5):.2f} ms "
                                f"p99 {pct(d['ack_ms'], 0.99):.2f} ms, failed {d['failed']}")
                    log(msg)
        elapsed = time.monotonic() - t_start
    finally:
        for w in watchers:
            try:
                w.close()
            except Exception as e:  # noqa: BLE001
                log(f"stopping {w.label}: {e}")
        net.down()
        shutil.rmtree(work, ignore_errors=True)

    idle = results["rackd-idle"]
    idle_cpu_per_s = median([t["cpu"] / t["window"] for t in idle]) if idle else None
    print(f"\nARP flood of new senders, {a.seconds} s per trial, {a.runs} run(s), median (min-max) "
          f"({elapsed:.0f} s); rackd {rackd.version if rackd else '-'}, arpwatch {aw_version}")
    print(f"{'ARP/s':>6} {'watcher':9} {'sent':>8} {'lost':>22} {'CPU s/10k sent':>22} {'CPU s/10k processed':>22} "
          f"{'net of idle':>20} {'DHCP DORA p50 ms':>20} {'p99 ms':>20}")

    def dhcp_cols(ts):
        if not ts or "dhcp" not in ts[0]:
            return f"{'-':>20} {'-':>20}"
        return (f"{spread([pct(t['dhcp']['ack_ms'], 0.5) for t in ts], '{:.2f}'):>20} "
                f"{spread([pct(t['dhcp']['ack_ms'], 0.99) for t in ts], '{:.2f}'):>20}")
    if idle:
        print(f"{'0':>6} {'rackd':9} {'-':>8} {'-':>22} "
              f"{spread([t['cpu'] for t in idle], '{:.2f}') + ' s':>22} {'-':>22} {'-':>20} {dhcp_cols(idle)}")
    for rate in rates:
        for w in watchers:
            ts = results[f"{w.label}@{rate}"]
            lost = spread([t["lost"] for t in ts], "{:.0f}")
            per10k = [10000 * t["cpu"] / t["sent"] for t in ts]
            per10k_read = [10000 * t["cpu"] / t["read"] if t["read"] else None for t in ts]
            net_col = "-"
            if w is rackd and idle_cpu_per_s is not None:
                net_col = spread([10000 * (t["cpu"] - idle_cpu_per_s * t["window"]) / t["sent"] for t in ts],
                                 "{:.3f}")
            print(f"{rate:>6} {w.label:9} {median([t['sent'] for t in ts]):>8.0f} {lost:>22} "
                  f"{spread(per10k, '{:.3f}'):>22} {spread(per10k_read, '{:.3f}'):>22} {net_col:>20} "
                  f"{dhcp_cols(ts)}")
        if rackd and arpwatch:
            def ratio(key):
                r = median([10000 * t["cpu"] / t[key] for t in results[f"rackd@{rate}"] if t[key]])
                w = median([10000 * t["cpu"] / t[key] for t in results[f"arpwatch@{rate}"] if t[key]])
                return f"x{r / w:.2f}" if r is not None and w else "-"
            print(f"{'':>6} rackd / arpwatch CPU per frame at {rate}/s: {ratio('sent')} per frame sent, "
                  f"{ratio('read')} per frame processed")
    if rackd:
        for rate in rates:
            ring = [t["ring_lost"] for t in results[f"rackd@{rate}"]]
            print(f"rackd @{rate}/s: lost by the capture ring (pcap_stats) per run {ring}")
    print(json.dumps(results), file=sys.stderr)


if __name__ == "__main__":
    main()
