#!/usr/bin/python3
"""Power control at scale: one ironrack-rackd polling 1,000 machines through
the Redfish emulator, 1,000 query actions at once, 100 concurrent power-ons,
and the rack's DHCP latency with and without that load (issue 10).

    sudo /usr/bin/python3 tests/bench/power.py [--rounds 3] [--build build] [--quick]
        [--machines 1000] [--emulators 2] [--low-concurrency 5] [--bmc-latency-ms 0]
        [--bmc-addresses per-machine|shared]

Lab (tests/system/dhcpnet.py; names carry this process's pid, leftovers of
dead runs are deleted first; every namespace is deleted at the end, also on
failure):

    irpb-PID-XXXX-sw    bridge br0
    irpb-PID-XXXX-rack  eth0 10.46.0.1/16: the rack serves this namespace
                        (--netns): DHCP, and its BMC calls start here; a
                        route to 10.47.0.0/16 via 10.46.0.10
    irpb-PID-XXXX-bmc   eth0 10.46.0.10/16, and all of 10.47.0.0/16 local
                        (ip route add local ... dev lo): the Redfish emulator
                        processes (tests/system/redfish_emu.py), emulator e
                        on 0.0.0.0:443+e
    irpb-PID-XXXX-perf  eth0 10.46.0.3: perfdhcp (a relay: giaddr 10.46.0.3)

ironrack-regiond on loopback (fresh embedded PostgreSQL, --power-poll-interval
10s, its minimum, and --dhcp-probe no) and ironrack-rackd enrolled with it.
IPAM through the REST API: VLAN 46 with 10.46.0.0/16 (dynamic range
10.46.1.0-10.46.255.200), dhcp_on, primary_rack = the rack; VLAN 47 with
10.47.0.0/16, no DHCP, primary_rack = the rack (so the region hands the
BMCs' calls to it). Machines pw-0001 .. pw-1000 through the REST API:
power_type redfish, power_address, user and password, power_verify_tls
false, power_system /redfish/v1/Systems/N. With K emulator processes (--emulators), machine i is
system (i-1)/K+1 of emulator (i-1)%K, so the power-on case's machines are
spread over every emulator. Every machine's BMC has an address of its own
in 10.47.0.0/16 (power_port 443+e), as on a real rack: the rack sees 1,000
BMCs, 1,000 logins and TLS peers, and needs one neighbour entry (the
route), not 1,000. --bmc-addresses shared instead puts emulator e on
10.46.0.(11+e):443 and its machines behind that one address (one session,
connections reused). --bmc-latency-ms makes every emulator request
wait that long first (a slower BMC; default 0: as fast as the emulator is).

CPU figures are utime+stime of the process from /proc/PID/stat (all its
threads): rackd, the emulator processes, regiond with its PostgreSQL
processes.

Every round, in this order:
  1. DHCP alone: no machine exists (nothing is polled); perfdhcp at
     --dhcp-rate DORA/s for --window seconds, new clients (-R 1e9), with -x t:
     every exchange's DISCOVER->OFFER and REQUEST->ACK delay.
  2. The machines are created (--posters threads) and the rack takes the
     poll set; then one interval for the set to settle. Then the rack is
     restarted (power_concurrency 64, the default) with the machines in
     place: the time from its poll set until every machine has been polled
     once is its first round, a login to each BMC included (the new process
     has no session); the first set is spread over the interval, so a rack
     that keeps up takes about one interval.
  3. Poll, power_concurrency 64 (the rack's default), --window seconds (one
     interval and a second: every machine falls due in it at least once):
     the emulators' per-system GET counters, reset at its start, say how
     many polls reached each system; rackd CPU / polls = CPU per query.
  4. Poll + DHCP: the same window with perfdhcp as in 1.
  5. One query action alone (5 in a row: the pipeline's floor), then the
     query round: a "query" action for every machine, POSTed at once from
     --posters threads, through the region, the rack's scheduler and the
     Redfish driver like any action. From the region's records: first
     "requested" to last "finished", and how much of it the region took to
     accept the POSTs. The rack's log gives each action's time from the
     command's arrival to its result. The poll keeps running meanwhile; its
     CPU per second (from 3) times the round's wall time is taken out for
     "CPU per action, the poll's share taken out".
  6. 100 concurrent power-ons: systems of machines 1..100 set Off at the
     emulators (no hook), then an "on" action for each, POSTed at once from
     100 threads; measured as in 5, and each system must be On after
     exactly one power-on.
  7. The rack is restarted with power_concurrency --low-concurrency (a
     MAAS-like limit): its first round as in 2 (waiting at most --cold-cap
     seconds), then steps 3 and 5 again.
  8. The machines are deleted and the rack restarted with the default
     concurrency, for the next round's step 1.
Then medians over the rounds, each round's value beside them.

Not measured: MAAS. Issue 10 quotes MAAS's published behaviour (~10
machines polled at a time, 5 concurrent, minutes per 1,000); MAAS is not
packaged in Debian and does not run here. Step 7 is the same software with
a MAAS-like concurrency limit instead."""

import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from benchutil import proc_cpu  # tests/bench/benchutil.py

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "system"))

NET = "10.46.0.0/16"
RACK_IP, PERF_IP = "10.46.0.1", "10.46.0.3"
BMC_GW = "10.46.0.10"  # the BMC namespace's eth0: the rack's route to BMC_NET
BMC_NET = "10.47.0.0/16"  # per-machine BMC addresses: local to the BMC namespace
BMC_SHARED_BASE = 11  # shared layout: emulator e listens on 10.46.0.(11 + e)
RANGE = ("10.46.1.0", "10.46.255.200")
BMC_USER, BMC_PASS = "admin", "Pw-bench-46"
INTERVAL = 10  # --power-poll-interval: the region's minimum


def log(msg):
    print(f"{time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def pids_cpu(pids):
    total = 0.0
    for p in pids:
        try:
            total += proc_cpu(p)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def stamp(rfc3339):
    return datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return None
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Lab:
    def __init__(self, workdir, build, machines, emulators, latency_ms, layout):
        os.environ["IRONRACK_BUILD"] = build  # before conftest is imported: it reads it once
        from conftest import Rack, Region  # tests/system/conftest.py
        from dhcpnet import DhcpNet

        class BenchRegion(Region):
            def args(self):
                # No ICMP probe before an offer: DHCP latency is the server's.
                return super().args() + ["--power-poll-interval", f"{INTERVAL}s", "--dhcp-probe", "no"]

        self.workdir, self.build = workdir, build
        self.n, self.k, self.latency_ms, self.layout = machines, emulators, latency_ms, layout
        self.net = DhcpNet(os.path.join(workdir, "net"), tag="irpb", rack_addrs=(f"{RACK_IP}/16",))
        os.makedirs(self.net.workdir)
        self.region = BenchRegion(os.path.join(workdir, "region"))
        os.makedirs(self.region.state_dir, mode=0o700)
        self.rack = Rack(self.region, os.path.join(workdir, "rack"), "bench-rack")
        self.emus = []
        self.hosts = [f"pw-{i:04d}" for i in range(1, machines + 1)]

    # -- the machines' BMCs --
    def bmc_of(self, i):
        """Machine i (1-based) -> (emulator index, system id, BMC address,
        port)."""
        e, sid = (i - 1) % self.k, str((i - 1) // self.k + 1)
        if self.layout == "shared":
            return e, sid, f"10.46.0.{BMC_SHARED_BASE + e}", 443
        return e, sid, f"10.47.{(i - 1) // 250}.{(i - 1) % 250 + 1}", 443 + e

    def emu_listen(self, e):
        if self.layout == "shared":
            return f"10.46.0.{BMC_SHARED_BASE + e}:443"
        return f"0.0.0.0:{443 + e}"

    def up(self, concurrency):
        from redfish_proc import RedfishEmulator
        self.net.up()
        addrs = [f"{BMC_GW}/16"]
        if self.layout == "shared":
            addrs += [f"10.46.0.{BMC_SHARED_BASE + e}/16" for e in range(self.k)]
        self.bmc = self.net.host("bmc", addrs=addrs, mac="02:00:00:46:00:10")
        # Per-machine BMC addresses: all of BMC_NET is local in the BMC
        # namespace (one route, no address each), reached from the rack
        # through BMC_GW: one neighbour entry, not a thousand.
        self.net.run(self.bmc, ["ip", "route", "add", "local", BMC_NET, "dev", "lo"])
        self.net.run(self.net.rack, ["ip", "route", "add", BMC_NET, "via", BMC_GW])
        self.perf = self.net.host("perf", addrs=(f"{PERF_IP}/16",), mac="02:00:00:46:00:03")
        per = -(-self.n // self.k)
        for e in range(self.k):
            self.emus.append(RedfishEmulator(self.bmc, [self.emu_listen(e)], systems=per, user=BMC_USER,
                                             password=BMC_PASS, latency_ms=self.latency_ms,
                                             workdir=os.path.join(self.workdir, f"redfish{e}")).start())
        self.region.start()
        self.start_rack(concurrency, enrol=True)
        self.ipam()
        return self

    def start_rack(self, concurrency, enrol=False):
        extra = ["--netns", self.net.rack, "--power-concurrency", str(concurrency)]
        if enrol:
            self.rack.start(secret=self.region.secret, fingerprint=self.region.fingerprint, extra=extra)
        else:
            self.rack.start(extra=extra)

    def restart_rack(self, concurrency):
        self.rack.stop()
        self.start_rack(concurrency)

    def down(self):
        for step in [self.rack.stop, self.region.stop] + [e.stop for e in self.emus]:
            try:
                step()
            except Exception as e:  # noqa: BLE001 - teardown goes on
                log(f"teardown: {e}")
        self.net.down()

    # -- REST --
    def api(self, method, path, body=None, status=(200, 201, 202, 204)):
        st, out = self.region.api(method, path, body, key=self.key)
        if st not in status:
            raise RuntimeError(f"{method} {path} {body}: {st} {out}")
        return out

    def ipam(self):
        self.key = self.region.admin_key
        v = self.api("POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 46, "name": "power-bench"})
        self.api("POST", "/api/v1/subnets", {"cidr": NET, "vlan": v["id"]})
        self.api("POST", "/api/v1/ip-ranges", {"subnet": NET, "type": "dynamic", "start_ip": RANGE[0],
                                               "end_ip": RANGE[1]})
        self.api("PATCH", f"/api/v1/vlans/{v['id']}", {"dhcp_on": True, "primary_rack": self.rack.rack_id})
        # The BMCs' own network, no DHCP: its VLAN's primary rack is the
        # rack the region hands their power calls to.
        v = self.api("POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 47, "name": "power-bench-bmc"})
        self.api("POST", "/api/v1/subnets", {"cidr": BMC_NET, "vlan": v["id"]})
        self.api("PATCH", f"/api/v1/vlans/{v['id']}", {"primary_rack": self.rack.rack_id})

    # -- pids for CPU --
    @property
    def rack_pid(self):
        return self.rack.daemon.proc.pid

    def emu_pids(self):
        return [e.proc.pid for e in self.emus]

    def region_pids(self):
        """regiond and its descendants: the embedded PostgreSQL's postmaster
        and backends."""
        return descendants(self.region.daemon.proc.pid)

    def accepted(self):
        """TCP connections the BMC namespace has accepted so far (nstat's
        TcpPassiveOpens there: absolute, no history file)."""
        out = self.net.run(self.bmc, ["nstat", "-asz", "TcpPassiveOpens"], check=False).stdout
        for line in out.splitlines():
            if line.startswith("TcpPassiveOpens"):
                return int(line.split()[1])
        return 0

    def cpu(self):
        return {"rack": proc_cpu(self.rack_pid), "emu": pids_cpu(self.emu_pids()),
                "region": pids_cpu(self.region_pids()), "conns": self.accepted(), "t": time.monotonic()}

    # -- machines --
    def create_machines(self, posters):
        def one(i):
            e, sid, addr, port = self.bmc_of(i)
            body = {"hostname": self.hosts[i - 1], "power_type": "redfish", "power_address": addr,
                    "power_user": BMC_USER, "power_pass": BMC_PASS, "power_verify_tls": "false",
                    "power_system": f"/redfish/v1/Systems/{sid}"}
            if port != 443:
                body["power_port"] = str(port)
            self.api("POST", "/api/v1/machines", body)
        with ThreadPoolExecutor(posters) as pool:
            list(pool.map(one, range(1, self.n + 1)))

    def delete_machines(self, posters):
        with ThreadPoolExecutor(posters) as pool:
            list(pool.map(lambda h: self.api("DELETE", f"/api/v1/machines/{h}"), self.hosts))

    def poll_set(self):
        """(machines, interval) of the rack's last poll set, from its log."""
        found = re.findall(r"power: polling (\d+) machines? every (\d+) s", self.rack.daemon.text())
        return tuple(int(x) for x in found[-1]) if found else (0, 0)

    def wait_poll_set(self, n, timeout=120):
        deadline = time.monotonic() + timeout
        while self.poll_set()[0] != n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the rack's poll set is {self.poll_set()}, not {n} machines, after {timeout} s")
            time.sleep(0.2)

    def system_gets(self):
        """{(emulator, system id): GETs} since the counters were reset."""
        out = {}
        for e, emu in enumerate(self.emus):
            for sid, st in emu.state()["systems"].items():
                out[(e, sid)] = st["requests"].get("GET", 0)
        return out

    def reset_counters(self):
        for emu in self.emus:
            emu.reset_counters()

    def emu_requests(self):
        total = {}
        for emu in self.emus:
            for k, v in emu.state(systems=False)["requests"].items():
                total[k] = total.get(k, 0) + v
        return total

    # -- actions --
    def post_actions(self, hosts, action, posters):
        """POSTs an action for every host at once; {host: id}."""
        def one(h):
            return h, self.api("POST", f"/api/v1/machines/{h}/power", {"action": action})["action"]["id"]
        with ThreadPoolExecutor(posters) as pool:
            return dict(pool.map(one, hosts))

    def wait_actions(self, ids, timeout=300, posters=16):
        """Each action's record once it is no longer pending."""
        done, deadline = {}, time.monotonic() + timeout

        def get(h):
            return h, self.api("GET", f"/api/v1/machines/{h}/power/actions/{ids[h]}")["action"]
        with ThreadPoolExecutor(posters) as pool:
            while len(done) < len(ids):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{len(ids) - len(done)} actions still pending after {timeout} s")
                for h, a in pool.map(get, [h for h in ids if h not in done]):
                    if a["status"] != "pending":
                        done[h] = a
                if len(done) < len(ids):
                    time.sleep(0.2)
        return done


def descendants(root):
    """root and every process below it, from one pass over /proc."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += kids.get(pid, [])
    return out


# ---- measurements ----

def perfdhcp_latency(lab, rate, seconds):
    """perfdhcp at rate DORA/s for seconds from the perf namespace, new
    clients, with -x t: every exchange's delays. Returns {sent, acks, do,
    ra} (do, ra: sorted delays in ms, DISCOVER->OFFER and REQUEST->ACK)."""
    argv = ["perfdhcp", "-4", "-l", "eth0", "-r", str(rate), "-R", "1000000000", "-p", str(seconds), "-x", "t",
            RACK_IP]
    r = lab.net.run(lab.perf, argv, check=False, timeout=seconds + 60)
    return parse_perfdhcp_timers(r.stdout + r.stderr)


def parse_perfdhcp_timers(text):
    """perfdhcp -x t: '***Timestamps for packets: DISCOVER-OFFER***' then one
    'sent / received: S / R' line per exchange (seconds), the same for
    REQUEST-ACK; the counters from the statistics sections."""
    from dhcpnet import parse_perfdhcp
    counts = parse_perfdhcp(text)
    res = {"sent": counts["sent"][0] if counts["sent"] else 0,
           "acks": counts["received"][1] if len(counts["received"]) > 1 else 0, "do": [], "ra": []}
    section = None
    for line in text.splitlines():
        if line.startswith("***Timestamps for packets:"):
            section = "do" if "DISCOVER-OFFER" in line else "ra" if "REQUEST-ACK" in line else None
            continue
        m = re.match(r"sent / received: ([\d.]+) / ([\d.]+)", line)
        if m and section:
            res[section].append((float(m.group(2)) - float(m.group(1))) * 1000)
    res["do"].sort()
    res["ra"].sort()
    if not res["do"] or not res["ra"]:
        raise RuntimeError(f"perfdhcp gave no per-exchange timers:\n{text[-3000:]}")
    return res


def poll_window(lab, seconds, dhcp_rate=None):
    """Counters reset, then seconds of the running poll (with perfdhcp at
    dhcp_rate beside it when given): polls per system and the CPU used."""
    lab.reset_counters()
    c0 = lab.cpu()
    dhcp = None
    if dhcp_rate:
        dhcp = perfdhcp_latency(lab, dhcp_rate, seconds)
    else:
        time.sleep(seconds)
    c1 = lab.cpu()
    gets = lab.system_gets()
    req = lab.emu_requests()
    wall = c1["t"] - c0["t"]
    per = sorted(gets.values())
    polls = sum(per)
    return {"wall": wall, "polls": polls, "rate": polls / wall, "min": per[0], "max": per[-1],
            "missed": sum(1 for v in per if v == 0), "requests": req,
            "rack_cpu": c1["rack"] - c0["rack"], "emu_cpu": c1["emu"] - c0["emu"],
            "region_cpu": c1["region"] - c0["region"], "conns": c1["conns"] - c0["conns"],
            "rack_ms": 1000 * (c1["rack"] - c0["rack"]) / max(polls, 1),
            "emu_ms": 1000 * (c1["emu"] - c0["emu"]) / max(polls, 1), "dhcp": dhcp}


def rack_call_ms(lab, ids):
    """The rack's time per action, from the command's arrival to its result
    (its log's 'N ms': queueing in the scheduler included), for the given
    action ids."""
    want = {str(i) for i in ids}
    found = re.findall(r"power: \S+: \w+ done[^(]*\(action (\d+), \d+ attempts?, (\d+) ms\)", lab.rack.daemon.text())
    return sorted(int(ms) for aid, ms in found if aid in want)


def action_round(lab, hosts, action, posters):
    """An action for every host, POSTed at once from posters threads; the
    region's records of them."""
    c0 = lab.cpu()
    ids = lab.post_actions(hosts, action, posters)
    recs = lab.wait_actions(ids)
    c1 = lab.cpu()
    failed = [a for a in recs.values() if a["status"] != "done"]
    first = min(stamp(a["requested"]) for a in recs.values())
    last_req = max(stamp(a["requested"]) for a in recs.values())
    last = max(stamp(a["finished"]) for a in recs.values())
    each = sorted(1000 * (stamp(a["finished"]) - stamp(a["requested"])) for a in recs.values())
    calls = rack_call_ms(lab, ids.values())
    return {"n": len(recs), "failed": len(failed), "failed_example": failed[0] if failed else None,
            "span": last - first, "posting": last_req - first, "tail": last - last_req,
            "each_p50": pct(each, 0.5), "each_max": each[-1],
            "call_p50": pct(calls, 0.5), "call_max": calls[-1] if calls else None, "calls": len(calls),
            "rack_cpu": c1["rack"] - c0["rack"], "emu_cpu": c1["emu"] - c0["emu"],
            "region_cpu": c1["region"] - c0["region"], "wall": c1["t"] - c0["t"],
            "conns": c1["conns"] - c0["conns"], "rack_ms": 1000 * (c1["rack"] - c0["rack"]) / max(len(recs), 1)}


def net_of_poll(res, poll):
    """rackd's and the emulators' CPU per action with the poll that ran
    beside the actions taken out (the poll window's CPU per second times
    the round's wall time)."""
    for who in ("rack", "emu"):
        beside = poll[f"{who}_cpu"] / poll["wall"] * res["wall"]
        res[f"{who}_ms_net"] = 1000 * max(res[f"{who}_cpu"] - beside, 0.0) / max(res["n"], 1)
    return res


def single_actions(lab, host, count):
    """count query actions one after another: request -> finished of an
    action that waits for nothing else (ms)."""
    out = []
    for _ in range(count):
        aid = lab.api("POST", f"/api/v1/machines/{host}/power", {"action": "query"})["action"]["id"]
        a = lab.wait_actions({host: aid})[host]
        out.append(1000 * (stamp(a["finished"]) - stamp(a["requested"])))
    return sorted(out)


def power_on_round(lab, count, posters):
    """Systems of machines 1..count Off (no hook), then "on" for each."""
    hosts = lab.hosts[:count]
    for i in range(1, count + 1):
        e, sid = lab.bmc_of(i)[:2]
        lab.emus[e].set_system(sid, PowerState="Off", hook=False)
    lab.reset_counters()
    res = action_round(lab, hosts, "on", posters)
    wrong = []
    for i in range(1, count + 1):
        e, sid = lab.bmc_of(i)[:2]
        st = lab.emus[e].state(system=sid)
        if st["PowerState"] != "On" or st["power_ons"] != 1:
            wrong.append((lab.hosts[i - 1], st["PowerState"], st["power_ons"]))
    res["wrong"] = wrong
    return res


def dhcp_summary(d):
    return {"sent": d["sent"], "acks": d["acks"],
            "do_p50": pct(d["do"], 0.5), "do_p99": pct(d["do"], 0.99), "do_max": d["do"][-1],
            "ra_p50": pct(d["ra"], 0.5), "ra_p99": pct(d["ra"], 0.99), "ra_max": d["ra"][-1]}


def settle(lab, n):
    lab.wait_poll_set(n)
    time.sleep(INTERVAL)  # the set's last replacement spread over an interval


def cold_round(lab, concurrency, cap):
    """The rack restarted with the machines in place: from its poll set to
    the moment every machine has been polled once (a login to each BMC
    first: the new process has no session), at most cap seconds."""
    lab.rack.stop()
    lab.reset_counters()
    lab.start_rack(concurrency)
    lab.wait_poll_set(lab.n)
    t0 = time.monotonic()
    while True:
        gets = lab.system_gets()
        polled = sum(1 for v in gets.values() if v > 0)
        took = time.monotonic() - t0
        if polled == len(gets) or took > cap:
            break
        time.sleep(0.25)
    logins = sum(emu.state(systems=False)["logins"] for emu in lab.emus)
    return {"s": took if polled == len(gets) else None, "polled": polled, "logins": logins,
            "rack_cpu": proc_cpu(lab.rack_pid)}


def one_round(lab, a, r):
    res = {}
    # 1. DHCP with nothing to poll.
    lab.wait_poll_set(0)
    log(f"round {r}: DHCP alone, perfdhcp {a.dhcp_rate}/s for {a.window} s")
    res["dhcp_alone"] = dhcp_summary(perfdhcp_latency(lab, a.dhcp_rate, a.window))
    # 2. The machines.
    t = time.monotonic()
    lab.create_machines(a.posters)
    res["create_s"] = time.monotonic() - t
    log(f"round {r}: {a.machines} machines created in {res['create_s']:.1f} s; waiting for the poll set")
    settle(lab, a.machines)
    # The rack restarted: its first round, logins included.
    res["cold"] = cold_round(lab, 64, a.cold_cap)
    log(f"round {r}: rack restarted: {fmt_cold(res['cold'], a.cold_cap)}")
    # 3. Poll alone; 4. poll and DHCP.
    res["poll"] = poll_window(lab, a.window)
    log(f"round {r}: poll: {fmt_poll(res['poll'])}")
    res["poll_dhcp"] = poll_window(lab, a.window, a.dhcp_rate)
    res["dhcp_poll"] = dhcp_summary(res["poll_dhcp"].pop("dhcp"))
    log(f"round {r}: poll + DHCP: {fmt_poll(res['poll_dhcp'])}; DHCP alone {fmt_dhcp(res['dhcp_alone'])}, "
        f"under poll {fmt_dhcp(res['dhcp_poll'])}")
    # 5. One action alone, then the query round; 6. 100 power-ons.
    res["single"] = median(single_actions(lab, lab.hosts[-1], 5))
    log(f"round {r}: one query action alone: request -> finished {res['single']:.0f} ms (median of 5)")
    res["query"] = net_of_poll(action_round(lab, lab.hosts, "query", a.posters), res["poll"])
    log(f"round {r}: query round: {fmt_actions(res['query'])}")
    res["on"] = net_of_poll(power_on_round(lab, min(a.power_on, a.machines), a.power_on), res["poll"])
    log(f"round {r}: {a.power_on} power-ons: {fmt_actions(res['on'])}"
        f"{'; WRONG ' + str(res['on']['wrong'][:5]) if res['on']['wrong'] else ''}")
    # 7. A MAAS-like concurrency limit.
    res["cold_low"] = cold_round(lab, a.low_concurrency, a.cold_cap)
    log(f"round {r}: rack restarted with concurrency {a.low_concurrency}: {fmt_cold(res['cold_low'], a.cold_cap)}")
    res["poll_low"] = poll_window(lab, a.window)
    log(f"round {r}: poll, concurrency {a.low_concurrency}: {fmt_poll(res['poll_low'])}")
    res["query_low"] = net_of_poll(action_round(lab, lab.hosts, "query", a.posters), res["poll_low"])
    log(f"round {r}: query round, concurrency {a.low_concurrency}: {fmt_actions(res['query_low'])}")
    # 8. Back to nothing to poll, default concurrency.
    t = time.monotonic()
    lab.delete_machines(a.posters)
    log(f"round {r}: machines deleted in {time.monotonic() - t:.1f} s")
    lab.restart_rack(64)
    return res


def fmt_cold(c, cap):
    took = f"in {c['s']:.1f} s" if c["s"] is not None else f"not within {cap} s ({c['polled']} were)"
    return f"every machine polled once {took}, {c['logins']} logins, rackd CPU since its start {c['rack_cpu']:.2f} s"


def fmt_poll(p):
    return (f"{p['polls']} polls in {p['wall']:.1f} s ({p['rate']:.0f}/s), per system {p['min']}-{p['max']}, "
            f"{p['missed']} not polled, {p['conns']} connections accepted; rackd {p['rack_cpu']:.2f} s CPU = "
            f"{p['rack_ms']:.3f} ms/query, "
            f"emulators {p['emu_cpu']:.2f} s = {p['emu_ms']:.3f} ms/query, region {p['region_cpu']:.2f} s")


def fmt_dhcp(d):
    return (f"{d['acks']}/{d['sent']} ACKed, D-O p50/p99/max {d['do_p50']:.2f}/{d['do_p99']:.2f}/{d['do_max']:.2f} ms, "
            f"R-A {d['ra_p50']:.2f}/{d['ra_p99']:.2f}/{d['ra_max']:.2f} ms")


def fmt_actions(q):
    return (f"{q['n'] - q['failed']}/{q['n']} done in {q['span']:.2f} s (POSTs {q['posting']:.2f} s, then "
            f"{q['tail']:.2f} s), each p50 {q['each_p50']:.0f} ms max {q['each_max']:.0f} ms, in the rack "
            f"p50 {q['call_p50']} ms max {q['call_max']} ms; CPU rackd {q['rack_cpu']:.2f} s "
            f"({q['rack_ms']:.2f} ms/action), emulators {q['emu_cpu']:.2f} s, region+pg {q['region_cpu']:.2f} s, "
            f"{q['conns']} connections accepted"
            f"{'; first failure: ' + json.dumps(q['failed_example']) if q['failed'] else ''}")


def row(label, vals, f="{:.2f}", unit=""):
    vals = [v for v in vals if v is not None]
    if not vals:
        print(f"  {label:58} -")
        return
    per = " / ".join(f.format(v) for v in vals)
    spread = f"  (per round {per})" if len(vals) > 1 else ""
    print(f"  {label:58} {f.format(median(vals))}{unit}{spread}")


def report(a, rounds, elapsed, load0, load1, started):
    def col(*path):
        out = []
        for r in rounds:
            v = r
            for p in path:
                v = v[p]
            out.append(v)
        return out
    lc = a.low_concurrency
    slow = f", every BMC request {a.bmc_latency_ms:g} ms slower" if a.bmc_latency_ms else ""
    where = "each its own BMC address" if a.bmc_addresses == "per-machine" else "one address per emulator"
    print(f"\nPower: {a.machines} Redfish machines ({where}) over {a.emulators} emulator process(es){slow}, one rack, "
          f"poll interval {INTERVAL} s, {len(rounds)} round(s), {a.window} s windows, medians ({started}, "
          f"{elapsed:.0f} s; load average {load0} at the start, {load1} at the end)")
    print(f"first round after a rack restart: from its poll set until every machine was polled once "
          f"(a login to each BMC first)")
    for key, conc in (("cold", 64), ("cold_low", lc)):
        vals = col(key, "s")
        label = f"power_concurrency {conc}"
        if None in vals:
            row(f"{label}: machines polled after {a.cold_cap} s (round unfinished)", col(key, "polled"), "{:.0f}")
        row(f"{label}: seconds, finished rounds", vals, "{:.1f}", " s")
        row(f"{label}: logins the BMCs saw", col(key, "logins"), "{:.0f}")
    for key, title in (("poll", "poll, power_concurrency 64 (default)"),
                       ("poll_low", f"poll, power_concurrency {lc}")):
        print(title)
        row("polls per second", col(key, "rate"), "{:.0f}")
        row(f"machines not polled within a {a.window} s window", col(key, "missed"), "{:.0f}")
        row("polls of one machine in the window, fewest", col(key, "min"), "{:.0f}")
        row("TCP connections the BMCs accepted, per poll", [x / y for x, y in zip(col(key, "conns"),
                                                                                     col(key, "polls"))], "{:.2f}")
        row("rackd CPU per query", col(key, "rack_ms"), "{:.3f}", " ms")
        row("rackd CPU, % of one core", [100 * x / y for x, y in zip(col(key, "rack_cpu"), col(key, "wall"))],
            "{:.1f}", " %")
        row("emulators' CPU per query", col(key, "emu_ms"), "{:.3f}", " ms")
        row("emulators' CPU, % of one core", [100 * x / y for x, y in zip(col(key, "emu_cpu"), col(key, "wall"))],
            "{:.1f}", " %")
        row("regiond + PostgreSQL CPU in the window", col(key, "region_cpu"), "{:.2f}", " s")
    for key, title in (("query", f"query round: {a.machines} query actions POSTed at once, concurrency 64"),
                       ("query_low", f"query round, power_concurrency {lc}"),
                       ("on", f"{a.power_on} power-on actions POSTed at once, concurrency 64")):
        print(title)
        row("first request -> last finished (region's records)", col(key, "span"), "{:.2f}", " s")
        row("  of which the region taking the POSTs", col(key, "posting"), "{:.2f}", " s")
        row("  last request -> last finished", col(key, "tail"), "{:.2f}", " s")
        row("each action, request -> finished, p50", col(key, "each_p50"), "{:.0f}", " ms")
        row("each action, request -> finished, max", col(key, "each_max"), "{:.0f}", " ms")
        row("rack: command in -> result (its log), p50", col(key, "call_p50"), "{:.0f}", " ms")
        row("rack: command in -> result (its log), max", col(key, "call_max"), "{:.0f}", " ms")
        row("TCP connections the BMCs accepted, per action (poll included)", [x / y for x, y in zip(col(key, "conns"),
                                                                                       col(key, "n"))], "{:.2f}")
        row("rackd CPU per action, the poll beside it included", col(key, "rack_ms"), "{:.3f}", " ms")
        row("rackd CPU per action, the poll's share taken out", col(key, "rack_ms_net"), "{:.3f}", " ms")
        row("emulators' CPU per action, the poll's share taken out", col(key, "emu_ms_net"), "{:.3f}", " ms")
        row("regiond + PostgreSQL CPU", col(key, "region_cpu"), "{:.2f}", " s")
        row("failed", col(key, "failed"), "{:.0f}")
    row("one query action alone, request -> finished (median of 5)", col("single"), "{:.0f}", " ms")
    print(f"DHCP latency, perfdhcp {a.dhcp_rate} DORA/s for {a.window} s, new clients (ms)")
    for key, title in (("dhcp_alone", "nothing polled"), ("dhcp_poll", f"{a.machines} machines polled")):
        for m, name in (("do", "DISCOVER->OFFER"), ("ra", "REQUEST->ACK")):
            for q in ("p50", "p99", "max"):
                row(f"{title}: {name} {q}", col(key, f"{m}_{q}"), "{:.2f}")
        row(f"{title}: ACKed / sent", [x / y for x, y in zip(col(key, "acks"), col(key, "sent"))], "{:.3f}")
    row(f"creating {a.machines} machines through the API", col("create_s"), "{:.1f}", " s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--machines", type=int, default=1000)
    ap.add_argument("--emulators", type=int, default=2, help="Redfish emulator processes (default 2)")
    ap.add_argument("--window", type=int, default=INTERVAL + 1,
                    help=f"seconds per measuring window (default {INTERVAL + 1}: one poll interval and a second)")
    ap.add_argument("--dhcp-rate", type=int, default=50, help="perfdhcp DORA/s of the latency probe (default 50)")
    ap.add_argument("--low-concurrency", type=int, default=5, help="the MAAS-like power_concurrency (default 5)")
    ap.add_argument("--cold-cap", type=int, default=120,
                    help="longest wait for the first round after a rack restart, seconds (default 120)")
    ap.add_argument("--power-on", type=int, default=100, help="concurrent power-on actions (default 100)")
    ap.add_argument("--posters", type=int, default=32, help="threads POSTing the query round (default 32)")
    ap.add_argument("--bmc-addresses", choices=("per-machine", "shared"), default="per-machine",
                    help="per-machine (default): every machine's BMC its own address, as on real racks; shared: "
                         "the machines of an emulator process share its address (one TLS peer and one session)")
    ap.add_argument("--bmc-latency-ms", type=float, default=0,
                    help="every emulator request waits this long first (default 0: as fast as it can)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 round")
    a = ap.parse_args()
    if a.quick:
        a.rounds = 1
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    build = os.path.abspath(a.build)
    # Others may rebuild build/ while this runs (and the rack is restarted
    # in every round): the daemons run from a copy taken once they are
    # complete.
    from dhcp import ensure_binaries  # tests/bench/dhcp.py
    daemons = ["ironrack-regiond", "ironrack-rackd"]
    ensure_binaries(build, daemons)
    work = tempfile.mkdtemp(prefix="irbench-power-", dir="/tmp")
    os.chmod(work, 0o755)
    bindir = os.path.join(work, "bin")
    os.makedirs(bindir)
    for name in daemons:
        shutil.copy2(os.path.join(build, name), bindir)
    built = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(os.stat(os.path.join(bindir, daemons[1])).st_mtime))
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    log(f"daemons from {build}, built {built}, tree at {head or '?'}")
    lab = Lab(work, bindir, a.machines, a.emulators, a.bmc_latency_ms, a.bmc_addresses)
    load0 = loadavg()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rounds = []
    t0 = time.monotonic()
    try:
        lab.up(64)
        log(f"lab up: {a.machines} machines over {a.emulators} emulator process(es), BMC addresses "
            f"{a.bmc_addresses}; load average {load0}")
        for r in range(1, a.rounds + 1):
            rounds.append(one_round(lab, a, r))
    finally:
        lab.down()
        if not os.environ.get("IRONRACK_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
    report(a, rounds, time.monotonic() - t0, load0, loadavg(), started)
    print(json.dumps({"args": vars(a), "rounds": rounds}, default=str), file=sys.stderr)


if __name__ == "__main__":
    main()
