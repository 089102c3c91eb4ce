#!/usr/bin/env python3
"""IPAM through the REST API: allocations per second and next-free latency,
and how the cost grows with the number of addresses in use.

    /usr/bin/python3 tests/bench/ipam_api.py [--build build] [--allocations 2000] [--quick]

Runs ironrack-regiond on loopback with a fresh embedded PostgreSQL and
measures, with keep-alive HTTP/1.1 connections (http.client, one per client
thread):

  1. POST /api/v1/subnets/{id}/allocate-ip (auto assign) by 1, 4 and 16
     concurrent clients, each case on its own fresh /16, --allocations
     addresses per case; every address handed out must be distinct and the
     database must hold exactly those.
  2. Latency of GET .../next-free and of POST .../allocate-ip on a /16 and on
     a /64 as the number of addresses in use grows (0, 10k, 30k, 60k on the
     /16; up to 100k on the /64), with the addresses in use laid out densely
     from the bottom (what sequential allocation leaves), and once more with
     them scattered at random at 60k (/16) and 100k (/64).
     The addresses in use are written straight into ip_address with SQL
     (INSERT ... SELECT generate_series through psql on the embedded
     cluster's socket): setup, not measured.

No peer runs here: the figures are absolute. Bounded: each latency point
stops after --samples calls or --point-seconds, whichever comes first."""

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from benchutil import log  # noqa: E402  (tests/bench)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CPUACCT = "/sys/fs/cgroup/cpuacct"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_binaries(build, names):
    """Others may be rebuilding build/ while this runs: wait for a binary
    that is being written (missing, not yet executable, or just modified),
    and run make once if it stays missing. Returns the paths."""
    paths = [os.path.join(build, n) for n in names]

    def ready():
        now = time.time()
        return all(os.access(p, os.X_OK) and now - os.stat(p).st_mtime > 2 for p in paths)

    deadline, made = time.monotonic() + 900, False
    waited = time.monotonic()
    while not ready():
        if time.monotonic() > deadline:
            sys.exit(f"{', '.join(paths)} not ready")
        if not made and time.monotonic() - waited > 20:
            log(f"{', '.join(names)} missing: make")
            subprocess.run(["make", "-C", ROOT, f"BUILD={build}", *paths], timeout=900)
            made = True
        time.sleep(1)
    return paths


class Region:
    def __init__(self, regiond, work):
        self.regiond = regiond
        self.state = os.path.join(work, "region")
        os.makedirs(self.state, mode=0o700)
        self.port = free_port()
        self.log_path = os.path.join(work, "regiond.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([regiond, "run", "--state-dir", self.state, "--http-listen",
                                      f"127.0.0.1:{self.port}", "--grpc-listen", f"127.0.0.1:{free_port()}",
                                      "--log-level", "warn"], stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        key_file = os.path.join(self.state, "admin-api-key")
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                sys.exit(f"ironrack-regiond exited {self.proc.returncode}:\n{self.text()[-3000:]}")
            if os.path.exists(key_file) and self.ready():
                break
            if time.monotonic() > deadline:
                sys.exit("ironrack-regiond not ready after 120 s")
            time.sleep(0.2)
        with open(key_file) as f:
            self.key = f.read().strip()
        self.cgroup = self.make_cgroup()

    def descendants(self):
        kids = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat") as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                except OSError:
                    continue
                kids.setdefault(ppid, []).append(int(d))
        out, todo = [], [self.proc.pid]
        while todo:
            p = todo.pop()
            out.append(p)
            todo += kids.get(p, [])
        return out

    def make_cgroup(self):
        """The region and its embedded PostgreSQL (whose backends fork later
        and inherit it) in a cpuacct cgroup of their own (v1), so that CPU
        per call is counted whatever else the machine runs; None where none
        can be made."""
        d = os.path.join(CPUACCT, f"ironrack-bench-{os.getpid()}-regiond")
        try:
            os.mkdir(d)
            for pid in self.descendants():
                with open(os.path.join(d, "cgroup.procs"), "w") as f:
                    f.write(str(pid))
            return d
        except OSError as e:
            log(f"no cpuacct cgroup ({e}): CPU per call not reported")
            if os.path.isdir(d):
                os.rmdir(d)
            return None

    def cpu_s(self):
        if not self.cgroup:
            return float("nan")
        with open(os.path.join(self.cgroup, "cpuacct.usage")) as f:
            return int(f.read()) / 1e9

    def wal_syncs(self):
        return int(self.psql("SELECT wal_sync FROM pg_stat_wal"))

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def ready(self):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            c.request("GET", "/api/v1/version")
            return c.getresponse().status == 200
        except OSError:
            return False

    def connect(self):
        return Client(self.port, self.key)

    def psql(self, sql):
        user = "ironrack" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
        out = subprocess.run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h",
                              os.path.join(self.state, "pg-run"), "-U", user, "-d", "ironrack", "-c", sql],
                             capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            raise RuntimeError(f"psql: {out.stderr}")
        return out.stdout.strip()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if self.cgroup:
            deadline = time.monotonic() + 30
            while True:  # PostgreSQL's processes may still be exiting
                try:
                    os.rmdir(self.cgroup)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        log(f"cannot remove {self.cgroup}")
                        break
                    time.sleep(0.2)


class Client:
    """One keep-alive HTTP/1.1 connection. The region closes idle
    connections, so one idle for a while is reopened before use rather
    than retrying a request that may have been carried out."""

    IDLE_S = 2.0

    def __init__(self, port, key):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.last = time.monotonic()

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        if time.monotonic() - self.last > self.IDLE_S:
            self.conn.close()
        self.last = time.monotonic()
        self.conn.request(method, path, body=data, headers=self.headers)
        r = self.conn.getresponse()
        raw = r.read()
        self.last = time.monotonic()
        return r.status, json.loads(raw) if raw else None

    def ok(self, method, path, body=None):
        st, out = self.call(method, path, body)
        if st not in (200, 201):
            raise RuntimeError(f"{method} {path} {body}: {st} {out}")
        return out

    def close(self):
        self.conn.close()


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


# ---- 1. allocations per second ----

def alloc_throughput(region, sid, clients, total):
    path = f"/api/v1/subnets/{sid}/allocate-ip"
    per = total // clients
    conns = [region.connect() for _ in range(clients)]
    got = [[] for _ in range(clients)]
    lat = [[] for _ in range(clients)]
    errors = []
    start = threading.Barrier(clients + 1)

    def run(n):
        try:
            start.wait()
            for i in range(per):
                t0 = time.perf_counter()
                out = conns[n].ok("POST", path, {"hostname": f"c{n}-{i}"})
                lat[n].append(time.perf_counter() - t0)
                got[n].append(out["ip"])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"client {n}: {e}")

    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    syncs0, cpu0 = region.wal_syncs(), region.cpu_s()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    secs = time.perf_counter() - t0
    cpu, syncs = region.cpu_s() - cpu0, region.wal_syncs() - syncs0
    for c in conns:
        c.close()
    if errors:
        raise RuntimeError(f"{len(errors)} clients failed: {errors[:3]}")
    ips = [ip for g in got for ip in g]
    if len(set(ips)) != len(ips):
        raise RuntimeError(f"{len(ips) - len(set(ips))} addresses handed out twice")
    db = region.psql(f"SELECT count(*), count(DISTINCT ip) FROM ip_address WHERE subnet_id = {sid}")
    if db != f"{len(ips)}|{len(ips)}":
        raise RuntimeError(f"the database holds {db} (count|distinct), the API handed out {len(ips)}")
    all_lat = [x for g in lat for x in g]
    return {"rate": len(ips) / secs, "n": len(ips), "secs": secs, "p50": statistics.median(all_lat),
            "p99": pct(all_lat, 99), "cpu_ms": 1e3 * cpu / len(ips), "syncs": syncs / len(ips)}


# ---- 2. latency against the number in use ----

def fill(region, sid, base, have, want, scattered=False, span_bits=None):
    """Addresses in use from have to want: dense = base + 1 .. want, or
    scattered at random over the subnet (2**span_bits offsets)."""
    if want <= have:
        return
    if scattered and span_bits <= 24:
        # A random choice of the subnet's host offsets (a /16 nearly full
        # would make random draws collide more and more).
        region.psql(f"INSERT INTO ip_address (ip, subnet_id, mode, owner_kind) "
                    f"SELECT '{base}'::inet + g, {sid}, 'static', 'user_reservation' "
                    f"FROM generate_series(1, {2 ** span_bits - 2}) g "
                    f"WHERE NOT EXISTS (SELECT 1 FROM ip_address a WHERE a.ip = '{base}'::inet + g) "
                    f"ORDER BY random() LIMIT {want - have}")
    elif scattered:
        # Random offsets over a huge span, duplicates dropped by ON CONFLICT;
        # loop until the count is reached.
        while True:
            n = int(region.psql(f"SELECT count(*) FROM ip_address WHERE subnet_id = {sid}"))
            if n >= want:
                break
            region.psql(
                f"INSERT INTO ip_address (ip, subnet_id, mode, owner_kind) "
                f"SELECT DISTINCT '{base}'::inet + (1 + floor(random() * ({2 ** span_bits} - 3)))::bigint, "
                f"{sid}, 'static', 'user_reservation' FROM generate_series(1, {want - n}) "
                f"ON CONFLICT (ip) DO NOTHING")
    else:
        region.psql(f"INSERT INTO ip_address (ip, subnet_id, mode, owner_kind) "
                    f"SELECT '{base}'::inet + g, {sid}, 'static', 'user_reservation' "
                    f"FROM generate_series({have + 1}, {want}) g")
    region.psql("ANALYZE ip_address")


def used_rows_ms(region, sid):
    """PostgreSQL's own time for the query region/db/net_alloc.c runs on
    every next-free and allocate-ip (sql_used: every address in use in the
    subnet, as text), without sending the rows: median of 3 EXPLAIN
    ANALYZE runs."""
    times = []
    for _ in range(3):
        plan = region.psql("EXPLAIN (ANALYZE, TIMING OFF) SELECT id, host(ip), owner_kind FROM ip_address "
                           f"WHERE subnet_id = {sid} AND ip IS NOT NULL")
        times.append(float(plan.rsplit("Execution Time:", 1)[1].split()[0]))
    return statistics.median(times)


def latency_point(region, sid, samples, seconds):
    """Median and p95 of next-free and of allocate-ip (its addresses are
    released afterwards so the count stays as set)."""
    c = region.connect()
    try:
        out = {}
        for what, method, path, body in (("next-free", "GET", f"/api/v1/subnets/{sid}/next-free", None),
                                         ("allocate-ip", "POST", f"/api/v1/subnets/{sid}/allocate-ip", {})):
            lat, made = [], []
            deadline = time.monotonic() + seconds
            cpu = 0.0
            for i in range(samples + 1):  # the first call warms up and is not counted
                if i and time.monotonic() > deadline:
                    break
                t0, c0 = time.perf_counter(), region.cpu_s()
                r = c.ok(method, path, body)
                if i:
                    lat.append(time.perf_counter() - t0)
                    cpu += region.cpu_s() - c0
                if what == "allocate-ip":
                    made.append(r["ip"])
            for ip in made:
                c.ok("POST", f"/api/v1/subnets/{sid}/release-ip", {"ip": ip})
            if len(set(made)) != len(made):
                raise RuntimeError("allocate-ip handed out an address twice")
            out[what] = (statistics.median(lat), pct(lat, 95), len(lat), cpu / len(lat))
        return out
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--allocations", type=int, default=2000, help="per concurrency case (default 2000)")
    ap.add_argument("--samples", type=int, default=30, help="calls per latency point (default 30)")
    ap.add_argument("--point-seconds", type=float, default=15, help="time cap per latency point and call")
    ap.add_argument("--quick", action="store_true", help="smoke test: 320 allocations, 5 samples, up to 10k in use")
    a = ap.parse_args()
    if a.quick:
        a.allocations, a.samples = 320, 5
    a.build = os.path.abspath(a.build)
    built, = ensure_binaries(a.build, ["ironrack-regiond"])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    started, load0 = time.monotonic(), os.getloadavg()[0]
    work = tempfile.mkdtemp(prefix="irbench-ipam-", dir="/tmp")
    os.chmod(work, 0o755)
    # A private copy: a rebuild of build/ during the run changes nothing.
    regiond = shutil.copy2(built, os.path.join(work, "ironrack-regiond"))
    try:
        region = Region(regiond, work)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    try:
        admin = region.connect()
        v4_steps = [0, 10000] if a.quick else [0, 10000, 30000, 60000]
        v6_steps = [0, 10000] if a.quick else [0, 10000, 30000, 60000, 100000]

        print("== allocate-ip throughput (auto assign, fresh /16 per case, keep-alive connections)")
        print(f"{'clients':>7} {'allocations':>11} {'seconds':>8} {'alloc/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
              f"{'CPU ms/alloc':>12} {'WAL syncs/alloc':>15}")
        for i, clients in enumerate((1, 4, 16)):
            sid = admin.ok("POST", "/api/v1/subnets", {"cidr": f"10.{40 + i}.0.0/16",
                                                       "gateway": f"10.{40 + i}.0.1"})["id"]
            total = a.allocations - a.allocations % clients
            r = alloc_throughput(region, sid, clients, total)
            print(f"{clients:>7} {r['n']:>11} {r['secs']:>8.1f} {r['rate']:>8.0f} {r['p50'] * 1e3:>7.1f} "
                  f"{r['p99'] * 1e3:>7.1f} {r['cpu_ms']:>12.2f} {r['syncs']:>15.2f}", flush=True)

        print("\n== latency against addresses in use (dense from the bottom unless marked random)")
        print("(CPU ms: regiond + embedded PostgreSQL per call, from a cpuacct cgroup)")
        print("(SQL ms: PostgreSQL executing the per-call query of every address in use, EXPLAIN ANALYZE)")
        print(f"{'subnet':22} {'in use':>8} {'next-free p50 ms':>17} {'p95 ms':>7} {'CPU ms':>7} "
              f"{'allocate-ip p50 ms':>19} {'p95 ms':>7} {'CPU ms':>7} {'calls':>6} {'SQL ms':>7}")
        cases = [("10.60.0.0/16", "10.60.0.0", v4_steps, False, 16),
                 ("2001:db8:64::/64", "2001:db8:64::", v6_steps, False, 64)]
        if not a.quick:
            cases += [("10.61.0.0/16", "10.61.0.0", [60000], True, 16),
                      ("2001:db8:65::/64", "2001:db8:65::", [100000], True, 62)]
        for cidr, base, steps, scattered, bits in cases:
            sid = admin.ok("POST", "/api/v1/subnets", {"cidr": cidr})["id"]
            have = 0
            for want in steps:
                t0 = time.monotonic()
                fill(region, sid, base, have, want, scattered, bits)
                have = want
                n = int(region.psql(f"SELECT count(*) FROM ip_address WHERE subnet_id = {sid}"))
                log(f"{cidr}: {n} in use (set up in {time.monotonic() - t0:.1f} s)")
                r = latency_point(region, sid, a.samples, a.point_seconds)
                sql_ms = used_rows_ms(region, sid)
                nf, al = r["next-free"], r["allocate-ip"]
                label = cidr + (" random" if scattered else "")
                print(f"{label:22} {n:>8} {nf[0] * 1e3:>17.2f} {nf[1] * 1e3:>7.2f} {nf[3] * 1e3:>7.2f} "
                      f"{al[0] * 1e3:>19.2f} {al[1] * 1e3:>7.2f} {al[3] * 1e3:>7.2f} {min(nf[2], al[2]):>6} "
                      f"{sql_ms:>7.2f}",
                      flush=True)
        admin.close()
        print(f"\n(whole run {time.monotonic() - started:.0f} s, finished {time.strftime('%Y-%m-%d %H:%M %Z')}; "
              f"1-min load average {load0:.2f} at the start, {os.getloadavg()[0]:.2f} at the end)")
    finally:
        region.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
