#!/usr/bin/python3
"""Deploy: the rack's HTTP throughput to 10 machines downloading an image at
once, against the ceiling of the same path (issue 12's measure; the goal:
the link, not the rack, is the limit).

    sudo /usr/bin/python3 tests/bench/deploy_http.py [--build build] [--rounds 3] [--clients 10] [--quick]

The lab (tests/system/dhcpnet.py's topology, namespaces irdp-PID-XXXX-*,
deleted at the end, also on failure): a switch namespace with a bridge; the
rack's namespace (eth0 10.48.0.1/24); one namespace per client machine
(eth0 10.48.0.11.., each behind its own veth to the bridge, as each machine
has its own cable to the switch). A real ironrack-regiond on loopback
(fresh embedded PostgreSQL) and a real ironrack-rackd enrolled with it,
serving HTTP boot in the rack's namespace (--netns, 10.48.0.1:5248).

A 1 GiB image of random bytes (AES-CTR keystream from openssl: as
incompressible as an image gets) is registered with `ironrack images add`
(the CLI's chunked upload, the region's SHA-256 check); the region publishes
it and the rack fetches it into its boot root; the bench waits until the
rack serves it, then measures, round after round:

  rack, N x curl        N clients at once, curl -o /dev/null from the rack
  ceiling, N x curl     the same N curls from a plain sendfile(2) server
                        (tests/system/imgserve.py's handler, Python threads)
                        on the rack's address, port 8080, serving the rack's
                        own copy of the file (same page cache)
  rack, 1 x curl        one client alone: a single stream
  ceiling, 1 x curl
  rack, N x imgwrite    N x ironrack-imgwrite --format raw, each to a file
                        on tmpfs as its disk (what the ephemeral agent runs;
                        it checks the SHA-256 and fsyncs)
The order of rack and ceiling alternates between rounds. Then one round for
each rate with every client's link limited (tc tbf on the switch's port
towards each client, inside the switch namespace; --limits, default 1gbit
and 500mbit): rack and ceiling, N x curl each.

For each case: the aggregate MiB/s (N GiB over the wall time from the first
start to the last end), each client's MiB/s (its own start to end), the
server's CPU time (utime + stime of the process, all threads, from
/proc/PID/stat) and how busy the machine's CPUs were (/proc/stat). The
clients run on the same CPUs as the servers: on unlimited veth links the
"link" is the machine's memory copies, which is why the ceiling runs beside
the rack. Nothing touches the host's network."""

import argparse
import hashlib
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
SYSTEM = os.path.join(ROOT, "tests", "system")
sys.path.insert(0, SYSTEM)

GIB = 1 << 30
MIB = 1 << 20
TAG = "irdp"  # namespaces irdp-PID-XXXX-*
NET = "10.48.0"
RACK_IP = f"{NET}.1"
HTTP_PORT = 5248
CEIL_PORT = 8080
IMAGE = "bench-1g"
LIMITS = "1gbit,500mbit"


def goodput(limit):
    """TCP payload MiB/s through tbf at this rate, MTU 1500: 1448 bytes of
    each 1514-byte frame it counts."""
    bits = float(limit[:-4]) * {"gbit": 1e9, "mbit": 1e6}[limit[-4:]]
    return bits / 8 * 1448 / 1514 / MIB
BINARIES = ("ironrack-regiond", "ironrack-rackd", "ironrack", "ironrack-imgwrite")
TICK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"{time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def load():
    return tuple(round(x, 2) for x in os.getloadavg())


def cpu_s(pid):
    """utime + stime of a process, all its threads (s)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_cpu():
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def make_image(path):
    """1 GiB of AES-CTR keystream; returns its SHA-256."""
    h = hashlib.sha256()
    gen = subprocess.Popen(["openssl", "enc", "-aes-128-ctr", "-K", "00112233445566778899aabbccddeeff", "-iv",
                            "0" * 32, "-in", "/dev/zero"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    with open(path, "wb") as f:
        left = GIB
        while left:
            chunk = gen.stdout.read(min(left, 4 * MIB))
            assert chunk, "openssl enc stopped early"
            f.write(chunk)
            h.update(chunk)
            left -= len(chunk)
    gen.kill()
    gen.wait()
    return h.hexdigest()


# Runs in the rack's namespace: imgserve.py's handler (sendfile(2) of a file
# path) on the rack's address instead of 127.0.0.1, with a listen backlog
# for every client at once.
CEILING = r'''
import sys, threading
sys.path.insert(0, sys.argv[1])
import imgserve
class Server(imgserve._Server):
    request_queue_size = 128
owner = imgserve.ImageServer.__new__(imgserve.ImageServer)
owner.files = {sys.argv[4]: sys.argv[5]}
owner.lock = threading.Lock()
owner.requests, owner.drop_after, owner.fail_first, owner.ignore_range = [], [], [], False
httpd = Server((sys.argv[2], int(sys.argv[3])), imgserve._Handler)
httpd.owner = owner
print("serving", flush=True)
httpd.serve_forever()
'''


class Bench:
    def __init__(self, args, work, bindir):
        os.environ["IRONRACK_BUILD"] = bindir  # before conftest is imported: it reads it once
        import conftest
        from dhcpnet import DhcpNet, sh
        self.c, self.sh = conftest, sh
        self.args, self.work, self.bindir = args, work, bindir
        self.net = DhcpNet(work, tag=TAG, rack_addrs=(f"{RACK_IP}/24",))
        self.clients = []  # (namespace, the switch's port towards it)
        self.region = self.rack = self.ceiling = None
        self.shm = tempfile.mkdtemp(prefix="irdp-disks-", dir="/dev/shm")

    def up(self):
        c, net = self.c, self.net
        net.up()
        for i in range(self.args.clients):
            ns = net.host(f"m{i}", addrs=(f"{NET}.{11 + i}/24",), mac=f"02:00:00:00:48:{i:02x}")
            self.clients.append((ns, f"p{net.ports}"))
        self.region = c.Region(os.path.join(self.work, "region"))
        os.makedirs(self.region.state_dir, mode=0o700)
        self.region.start()
        self.rack = c.Rack(self.region, os.path.join(self.work, "rack"), "bench-rack")
        self.rack.start(secret=self.region.secret, fingerprint=self.region.fingerprint,
                        extra=["--netns", net.rack, "--http-boot-listen", f"{RACK_IP}:{HTTP_PORT}"])
        return self

    def down(self):
        for step in (lambda: self.rack and self.rack.stop(), lambda: self.region and self.region.stop()):
            try:
                step()
            except Exception as e:  # noqa: BLE001 - teardown goes on
                log(f"teardown: {e}")
        self.net.down()  # the ceiling server too (net.spawn)
        shutil.rmtree(self.shm, ignore_errors=True)

    def register(self, path):
        """ironrack images add; then waits until the rack serves the image.
        Returns (upload s, rack fetch s)."""
        env = dict(os.environ, IRONRACK_URL=self.region.url, IRONRACK_KEY=self.region.admin_key,
                   IRONRACK_CONFIG=os.path.join(self.work, "cli.conf"))
        t = time.monotonic()
        out = subprocess.run([os.path.join(self.bindir, "ironrack"), "images", "add", path, "--name", IMAGE],
                             capture_output=True, text=True, env=env, timeout=600)
        assert out.returncode == 0 and " ready " in out.stdout, f"images add: {out.stdout}{out.stderr}"
        upload = time.monotonic() - t
        t = time.monotonic()
        self.rack_file = os.path.join(self.rack.state_dir, "boot", "images", IMAGE)

        def there():
            return os.path.exists(self.rack_file) and os.path.getsize(self.rack_file) == GIB
        self.c.wait_for(there, timeout=300, interval=0.1, what="the rack to fetch the image")
        fetch = time.monotonic() - t
        head = self.sh("ip", "netns", "exec", self.clients[0][0], "curl", "-sSI", self.url(False)).stdout
        assert " 200 " in head.splitlines()[0] and f"Content-Length: {GIB}" in head, head
        return upload, fetch

    def start_ceiling(self):
        p = self.net.spawn(self.net.rack, ["/usr/bin/python3", "-c", CEILING, SYSTEM, RACK_IP, str(CEIL_PORT),
                                           f"/images/{IMAGE}", self.rack_file], "ceiling")
        self.c.wait_for(lambda: "serving" in open(p.log_path).read() or p.poll() is not None, 10, 0.05,
                        "the ceiling server")
        assert p.poll() is None, open(p.log_path).read()
        self.ceiling = p  # ip netns exec execs python: p.pid is the server

    def url(self, ceiling):
        return f"http://{RACK_IP}:{CEIL_PORT if ceiling else HTTP_PORT}/images/{IMAGE}"

    def server_pid(self, ceiling):
        return self.ceiling.pid if ceiling else self.rack.daemon.proc.pid

    def limit(self, rate):
        for _, port in self.clients:
            if rate:
                self.sh("tc", "-n", self.net.sw, "qdisc", "replace", "dev", port, "root", "tbf", "rate", rate,
                        "burst", "256kb", "latency", "20ms")
            else:
                self.sh("tc", "-n", self.net.sw, "qdisc", "del", "dev", port, "root", check=False)

    def case(self, ceiling, n, tool="curl"):
        """n clients at once; returns the case's figures."""
        pid = self.server_pid(ceiling)
        procs, outs, disks = {}, [], []
        for i in range(n):
            ns = self.clients[i][0]
            out = os.path.join(self.work, f"client-{i}.out")
            outs.append(out)
            if tool == "curl":
                argv = ["curl", "-sS", "--max-time", "300", "-o", "/dev/null", "-w", "%{size_download}",
                        self.url(ceiling)]
            else:
                disk = os.path.join(self.shm, f"disk-{i}")
                open(disk, "wb").close()
                disks.append(disk)
                argv = [os.path.join(self.bindir, "ironrack-imgwrite"), "--url", self.url(ceiling), "--sha256",
                        self.sha, "--size", str(GIB), "--format", "raw", "--disk", disk]
            procs[i] = argv, ns, out
        cpu0, m0 = cpu_s(pid), machine_cpu()
        started, ended, status = {}, {}, {}
        running = {}
        t0 = time.monotonic()
        for i, (argv, ns, out) in procs.items():
            with open(out, "wb") as f:
                nice = ["nice", "-n", str(self.args.client_nice)] if self.args.client_nice else []
                p = subprocess.Popen(["ip", "netns", "exec", ns, *nice, *argv], stdout=f, stderr=subprocess.STDOUT)
            started[i] = time.monotonic()
            running[p.pid] = (i, p)
        while running:  # every 2 ms: each client's end to within that
            for wpid in list(running):
                done, st = os.waitpid(wpid, os.WNOHANG)
                if done:
                    i, p = running.pop(wpid)
                    ended[i] = time.monotonic()
                    status[i] = p.returncode = os.waitstatus_to_exitcode(st)
            time.sleep(0.002)
        wall = max(ended.values()) - t0
        cpu = cpu_s(pid) - cpu0
        m1 = machine_cpu()
        for i in range(n):
            text = open(outs[i], errors="replace").read()
            assert status[i] == 0, f"client {i} ({tool}) exited {status[i]}: {text[-500:]}"
            if tool == "curl":
                assert text.strip() == str(GIB), f"client {i}: got {text!r} bytes"
            else:
                assert text.startswith(f"bytes={GIB} "), f"client {i}: {text!r}"
                assert os.path.getsize(disks[i]) == GIB
        for d in disks:
            os.unlink(d)
        rates = [GIB / MIB / (ended[i] - started[i]) for i in range(n)]
        return {"wall": wall, "agg": n * GIB / MIB / wall, "clients": rates, "cpu": cpu,
                "busy": (m1[0] - m0[0]) / max(1, m1[1] - m0[1])}


CASES = [("rack", False, "curl", "N"), ("ceiling", True, "curl", "N"), ("rack", False, "curl", "1"),
         ("ceiling", True, "curl", "1"), ("rack", False, "imgwrite", "N")]


def fmt_case(name, n, tool, limited=None):
    return f"{name}, {n} x {tool}" + (f", links {limited}" if limited else "")


def summarize(results):
    """{case: [round results]} -> printed table; returns the summary."""
    summary = {}
    print(f"{'case':36} {'aggregate MiB/s':>22} {'per client MiB/s min/med/max':>30} "
          f"{'server CPU s':>13} {'% core':>7} {'CPUs busy':>9}")
    for key, rs in results.items():
        aggs = [r["agg"] for r in rs]
        every = [x for r in rs for x in r["clients"]]
        cpu = statistics.median(r["cpu"] for r in rs)
        wall = statistics.median(r["wall"] for r in rs)
        busy = statistics.median(r["busy"] for r in rs)
        s = {"agg": statistics.median(aggs), "agg_min": min(aggs), "agg_max": max(aggs),
             "client_min": min(every), "client_med": statistics.median(every), "client_max": max(every),
             "cpu": cpu, "wall": wall, "core": cpu / wall, "busy": busy, "rounds": len(rs)}
        summary[key] = s
        spread = f"({s['agg_min']:.0f}-{s['agg_max']:.0f})" if len(rs) > 1 else ""
        print(f"{key:36} {s['agg']:8.0f} {spread:>13} "
              f"{s['client_min']:10.0f} {s['client_med']:7.0f} {s['client_max']:7.0f}     "
              f"{cpu:9.2f} {100 * s['core']:6.0f}% {100 * busy:8.0f}%")
    return summary


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.environ.get("IRONRACK_BUILD", os.path.join(ROOT, "build")))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--limits", default=LIMITS, help="tbf rates of the limited rounds, comma-separated "
                    f"(default {LIMITS}; empty: none)")
    ap.add_argument("--client-nice", type=int, default=0, help="run the clients under nice -n N: on a "
                    "machine whose CPUs are all busy, a single-threaded server competes with every client "
                    "process for its share")
    ap.add_argument("--quick", action="store_true", help="one round")
    ap.add_argument("--json", help="write every round's figures here")
    args = ap.parse_args()
    if args.quick:
        args.rounds = 1
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    for b in BINARIES:
        if not os.access(os.path.join(args.build, b), os.X_OK):
            sys.exit(f"{os.path.join(args.build, b)} is not built")
    for tool in ("curl", "openssl", "tc", "ip"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing")

    # The embedded PostgreSQL runs as the ironrack user: every directory on
    # the path must be traversable.
    work = tempfile.mkdtemp(prefix="irdp-", dir="/tmp")
    os.chmod(work, 0o755)
    bindir = os.path.join(work, "bin")  # a copy: others may rebuild --build meanwhile
    os.mkdir(bindir)
    os.chmod(bindir, 0o755)
    for b in BINARIES:
        shutil.copy2(os.path.join(args.build, b), bindir)
    bench = None
    record = {"load_start": load(), "cpus": os.cpu_count(), "clients": args.clients, "rounds": []}
    try:
        t = time.monotonic()
        image = os.path.join(work, "image.raw")
        sha = make_image(image)
        log(f"image: 1 GiB of AES-CTR keystream in {time.monotonic() - t:.1f} s; load {load()}")
        bench = Bench(args, work, bindir).up()
        bench.sha = sha
        upload, fetch = bench.register(image)
        os.unlink(image)  # the region and the rack hold their copies
        record.update(upload_s=upload, rack_fetch_s=fetch)
        log(f"images add: {upload:.1f} s; the rack had it {fetch:.1f} s later")
        bench.start_ceiling()
        subprocess.run(["sync"], check=True)
        for ceiling in (False, True):  # warm: the file in the page cache, both servers answering
            bench.case(ceiling, 1)
        n = args.clients
        results = {}
        for r in range(args.rounds):
            log(f"round {r + 1}: load {load()}")
            order = CASES if r % 2 == 0 else [CASES[1], CASES[0], CASES[3], CASES[2], CASES[4]]
            rnd = {"load": load()}
            for name, ceiling, tool, count in order:
                k = n if count == "N" else 1
                res = bench.case(ceiling, k, tool)
                key = fmt_case(name, k, tool)
                results.setdefault(key, []).append(res)
                rnd[key] = res
                log(f"  {key}: {res['agg']:.0f} MiB/s, {res['wall']:.2f} s, server CPU {res['cpu']:.2f} s")
            record["rounds"].append(rnd)
        limits = [x for x in args.limits.split(",") if x]
        for rate in limits:
            log(f"links limited to {rate}: load {load()}")
            bench.limit(rate)
            try:
                rnd = {"load": load()}
                for name, ceiling in (("rack", False), ("ceiling", True)):
                    res = bench.case(ceiling, n)
                    key = fmt_case(name, n, "curl", limited=rate)
                    results.setdefault(key, []).append(res)
                    rnd[key] = res
                    log(f"  {key}: {res['agg']:.0f} MiB/s, {res['wall']:.2f} s, server CPU {res['cpu']:.2f} s")
                record[f"limited {rate}"] = rnd
            finally:
                bench.limit(None)
        record["load_end"] = load()

        print(f"1 GiB image (random bytes), {n} client namespaces each behind its own veth"
              f"{f', clients at nice {args.client_nice}' if args.client_nice else ''}; {args.rounds} rounds; {os.cpu_count()} CPUs; load {record['load_start']} -> {record['load_end']}")
        print(f"images add (upload + the region's SHA-256): {upload:.1f} s; rack fetch after ready: {fetch:.1f} s")
        summary = summarize(results)
        record["summary"] = summary

        def ratio(a, b):
            return summary[a]["agg"] / summary[b]["agg"]
        print(f"rack / ceiling, {n} x curl: {ratio(fmt_case('rack', n, 'curl'), fmt_case('ceiling', n, 'curl')):.2f}; "
              f"1 x curl: {ratio(fmt_case('rack', 1, 'curl'), fmt_case('ceiling', 1, 'curl')):.2f}; "
              f"{n} x imgwrite / {n} x curl (rack): "
              f"{ratio(fmt_case('rack', n, 'imgwrite'), fmt_case('rack', n, 'curl')):.2f}")
        for rate in limits:
            lim, cl = fmt_case("rack", n, "curl", limited=rate), fmt_case("ceiling", n, "curl", limited=rate)
            print(f"links {rate}: rack / ceiling {ratio(lim, cl):.2f}; per-client median rack "
                  f"{summary[lim]['client_med']:.1f} MiB/s = {100 * summary[lim]['client_med'] / goodput(rate):.0f} %, "
                  f"ceiling {summary[cl]['client_med']:.1f} MiB/s = "
                  f"{100 * summary[cl]['client_med'] / goodput(rate):.0f} % of the link's TCP goodput "
                  f"({goodput(rate):.1f} MiB/s at MTU 1500)")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(record, f, indent=1)
    finally:
        if bench:
            bench.down()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
