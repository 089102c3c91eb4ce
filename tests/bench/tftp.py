#!/usr/bin/env python3
"""TFTP throughput: ironrack-rackd against tftpd-hpa and atftpd, side by side
in one run, in network namespaces this script creates and deletes.

    /usr/bin/python3 tests/bench/tftp.py [--runs 3] [--clients 100] [--build build] [--quick]

Lab (names carry this process's pid; a leftover from a dead run is deleted
first):

    irbt-PID-XXXX-sw   bridge br0
    irbt-PID-XXXX-srv  eth0 192.0.2.1 (ironrack-rackd), .3 (tftpd-hpa), .4 (atftpd)
    irbt-PID-XXXX-cli  eth0 192.0.2.2: tftp-hpa, curl and atftp clients

The three servers run at once on their own addresses, serve the same boot
root (a 64 MiB and a 16 MiB file of random bytes) and are measured in turn,
round after round, so that the machine's noise spreads over all of them.
ironrack-rackd stays in the host namespace (its TFTP socket is opened in the
server namespace: --netns) and is enrolled with an ironrack-regiond on
loopback with a fresh embedded PostgreSQL, as tests/system/conftest.py does.

The peers are Debian's packages, but nothing is installed on the system:
`apt-get download tftpd-hpa atftpd libwrap0` and `dpkg-deb -x` into a
private directory (default BUILD/bench/peers), run from there with
LD_LIBRARY_PATH. (Installing the atftpd package would replace tftpd-hpa's
/usr/sbin/in.tftpd with a link to atftpd.)

Measured, median of --runs rounds:
  - 64 MiB with the tftp-hpa client (no blksize option: 512-byte lock-step),
    curl --tftp-blksize 1468 (lock-step) and atftp with blksize 1468 and
    windowsize 16 (RFC 7440); a server that does not grant windowsize (the
    script asks each one and prints the OACK) serves atftp lock-step;
  - wall time for --clients concurrent clients each fetching 16 MiB, with curl
    (blksize 1468) and with atftp (blksize 1468, windowsize 16).
Every file fetched is checked against its sha256. Output files go to a
private directory in /dev/shm (tmpfs) and are hashed after the clock stops.
Each server also runs in a cpuacct cgroup of its own (removed at the end), so
its CPU time per case is reported too: a figure the machine's other load
disturbs far less than wall time. Each case's log line also gives the
clients' CPU time (their rusage) and where the whole machine's CPU went
(/proc/stat: busy, softirq, idle, steal), so a case the clients saturate is
visible. Diagnostics, since here clients and servers share the same 2 cores:
--client-nice N runs the clients under nice; --server-cpus and --client-cpus
pin the servers and the clients to CPUs of their own (taskset)."""

import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import debpeers  # tests/bench/debpeers.py
from benchutil import log, wait_for  # tests/bench/benchutil.py

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NET = "192.0.2"
CLIENT = f"{NET}.2"
BIG = 64 << 20
MID = 16 << 20
HZ = os.sysconf("SC_CLK_TCK")
CPUACCT = "/sys/fs/cgroup/cpuacct"
PEER_PACKAGES = ("tftpd-hpa", "atftpd", "libwrap0")
NS_PREFIX = "irbt-"


def sh(*argv, check=True, timeout=60, env=None):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    if check and out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {out.returncode}: {out.stdout}{out.stderr}")
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_random(path, size):
    with open(path, "wb") as f:
        for _ in range(size >> 20):
            f.write(os.urandom(1 << 20))
    os.chmod(path, 0o644)
    return sha256_file(path)


# ---- the peers, from Debian's packages, in a private directory ----

def fetch_peers(peers_dir):
    """Returns {'root': dir, 'env': {...}, 'versions': {...}}; downloads and
    extracts only when the directory does not hold them yet."""
    root, versions = debpeers.fetch(peers_dir, PEER_PACKAGES)
    libdir = os.path.join(root, "usr", "lib", "x86_64-linux-gnu")
    libwrap = os.path.join(libdir, "libwrap.so.0")
    if not os.path.exists(libwrap):
        os.symlink(os.path.basename(sorted(glob.glob(libwrap + ".*"))[0]), libwrap)
    env = dict(os.environ, LD_LIBRARY_PATH=libdir)
    for b in ("in.tftpd", "atftpd"):
        path = os.path.join(root, "usr", "sbin", b)
        r = sh("ldd", path, env=env)
        if "not found" in r.stdout:
            raise RuntimeError(f"{path} misses a library:\n{r.stdout}")
    return {"root": root, "env": env, "versions": versions}


# ---- the lab ----

def delete_stale():
    """Namespaces and cgroups of earlier runs of this script whose process
    is gone."""
    for d in glob.glob(os.path.join(CPUACCT, "ironrack-bench-*-*")):
        m = re.match(r"ironrack-bench-(\d+)-", os.path.basename(d))
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            try:
                os.rmdir(d)
            except OSError:
                pass
    out = sh("ip", "netns", "list", check=False).stdout
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.match(rf"{NS_PREFIX}(\d+)-", name)
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


class Lab:
    def __init__(self, server_addrs):
        self.prefix = f"{NS_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:4]}"
        self.sw, self.srv, self.cli = (f"{self.prefix}-{n}" for n in ("sw", "srv", "cli"))
        self.server_addrs = server_addrs
        self.made = []

    def up(self):
        for ns in (self.sw, self.srv, self.cli):
            sh("ip", "netns", "add", ns)
            self.made.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", self.sw, "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0",
           "mcast_snooping", "0")
        sh("ip", "-n", self.sw, "link", "set", "br0", "up")
        sh("ip", "netns", "exec", self.sw, "sh", "-c",
           "for f in /proc/sys/net/bridge/bridge-nf-call-*; do [ -e \"$f\" ] && echo 0 > \"$f\"; done; true")
        for ns, port, addrs in ((self.srv, "p-srv", self.server_addrs), (self.cli, "p-cli", [CLIENT])):
            sh("ip", "-n", self.sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh("ip", "-n", self.sw, "link", "set", port, "master", "br0")
            sh("ip", "-n", self.sw, "link", "set", port, "up")
            for a in addrs:
                sh("ip", "-n", ns, "addr", "add", f"{a}/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
        for ns in (self.srv, self.cli):
            wait_for(lambda: "state UP" in sh("ip", "-n", ns, "-o", "link", "show", "eth0").stdout, 10,
                     f"eth0 up in {ns}")

    def down(self):
        for ns in reversed(self.made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def client_python(self, code, job, timeout):
        out = subprocess.run(["ip", "netns", "exec", self.cli, "/usr/bin/python3", "-c", code],
                             input=json.dumps(job), capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"client script failed: {out.stderr[-2000:]}")
        return json.loads(out.stdout)


# Runs inside the client namespace: starts every command at once, reaps them
# as they end, prints the wall time and each exit status. Starting them here
# keeps the cost of `ip netns exec` out of the clock.
LAUNCHER = r'''
import json, os, signal, subprocess, sys, time
job = json.load(sys.stdin)
def expired(*_):
    raise TimeoutError
signal.signal(signal.SIGALRM, expired)
signal.alarm(job["timeout"])
procs, ends = {}, {}
client_cpu = 0.0
t0 = time.monotonic()
try:
    for i, argv in enumerate(job["cmds"]):
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=open(job["errs"][i], "wb"))
        procs[p.pid] = (i, p)
    while len(ends) < len(procs):
        pid, status, ru = os.wait4(-1, 0)
        client_cpu += ru.ru_utime + ru.ru_stime
        if pid in procs:
            i, p = procs[pid]
            p.returncode = os.waitstatus_to_exitcode(status)
            ends[i] = (time.monotonic() - t0, p.returncode)
    timed_out = False
except TimeoutError:
    timed_out = True
    for i, p in procs.values():
        if i not in ends:
            p.kill()
            p.wait()
            ends[i] = (None, "timeout")
wall = time.monotonic() - t0
print(json.dumps({"wall": wall, "timed_out": timed_out, "client_cpu": client_cpu,
                  "ends": [ends[i] for i in range(len(job["cmds"]))]}))
'''

# Runs inside the client namespace: one RRQ asking for blksize 1468 and
# windowsize 16, reports what the server acknowledged, then ends the
# transfer with an ERROR.
PROBE = r'''
import json, socket, struct, sys
job = json.load(sys.stdin)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(b"\0\1" + job["file"].encode() + b"\0octet\0blksize\0" + b"1468\0windowsize\0" + b"16\0tsize\0" + b"0\0",
         (job["server"], 69))
try:
    data, peer = s.recvfrom(70000)
except socket.timeout:
    print(json.dumps({"reply": "none"}))
    sys.exit(0)
op = struct.unpack("!H", data[:2])[0]
r = {"reply": {3: "DATA", 5: "ERROR", 6: "OACK"}.get(op, str(op)), "options": {}}
if op == 6:
    f = data[2:].split(b"\0")
    r["options"] = {f[i].decode().lower(): f[i + 1].decode() for i in range(0, len(f) - 1, 2)}
if op in (3, 6):
    s.sendto(struct.pack("!HH", 5, 0) + b"probe done\0", peer)
print(json.dumps(r))
'''


# ---- the servers ----

class Server:
    def __init__(self, name, addr, argv, log_path, env=None):
        self.name, self.addr, self.argv, self.log_path, self.env = name, addr, argv, log_path, env
        self.proc = None
        self.cgroup = None

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=self.env)
        if self.addr:
            self.make_cgroup()
        return self

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def cpu_s(self):
        """CPU time of the server with every thread and child, in seconds.
        tftpd-hpa forks a child per transfer and ignores SIGCHLD, so the
        children's time never reaches its cutime: each server runs in a
        cpuacct cgroup of its own (v1, which this machine has) when one can
        be made, else /proc's figures are used (and miss those children)."""
        if self.cgroup:
            with open(os.path.join(self.cgroup, "cpuacct.usage")) as f:
                return int(f.read()) / 1e9
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15]) / HZ

    def make_cgroup(self):
        self.cgroup = None
        d = os.path.join(CPUACCT, f"ironrack-bench-{os.getpid()}-{self.name}")
        try:
            os.mkdir(d)
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write(str(self.proc.pid))
            self.cgroup = d
        except OSError as e:
            log(f"{self.name}: no cpuacct cgroup ({e}); CPU time from /proc")
            if os.path.isdir(d):
                os.rmdir(d)

    def alive(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited {self.proc.returncode}:\n{self.text()[-3000:]}")
        return True

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        if self.cgroup:
            deadline = time.monotonic() + 10
            while True:  # tftpd-hpa's last children may still be exiting
                try:
                    os.rmdir(self.cgroup)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        log(f"cannot remove {self.cgroup}")
                        break
                    time.sleep(0.1)


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


def start_region(bindir, work):
    state = os.path.join(work, "region")
    os.makedirs(state, mode=0o700)
    http, grpc = free_port(), free_port()
    region = Server("ironrack-regiond", None,
                    [os.path.join(bindir, "ironrack-regiond"), "run", "--state-dir", state, "--http-listen",
                     f"127.0.0.1:{http}", "--grpc-listen", f"127.0.0.1:{grpc}", "--log-level", "info"],
                    os.path.join(work, "regiond.log")).start()
    wait_for(lambda: region.alive() and "region ready" in region.text(), 120, "region ready")

    def cmd(what):
        return sh(os.path.join(bindir, "ironrack-regiond"), what, "--state-dir", state).stdout.strip()

    return region, f"127.0.0.1:{grpc}", cmd("enrol-secret"), cmd("ca-fingerprint")


def start_servers(a, bindir, lab, work, boot, peers, region_target, secret, fingerprint):
    """ironrack-rackd on .1, tftpd-hpa on .3, atftpd on .4, all in lab.srv."""
    servers = []
    pin = ["taskset", "-c", a.server_cpus] if a.server_cpus else []
    rack = Server("ironrack", f"{NET}.1",
                  pin + [os.path.join(bindir, "ironrack-rackd"), "--state-dir", os.path.join(work, "rack"),
                   "--hostname", "bench-rack", "--region", region_target, "--secret", secret,
                   "--ca-fingerprint", fingerprint, "--netns", lab.srv, "--tftp-listen", f"{NET}.1:69",
                   # every client of this lab shares one address (a site's
                   # machines have one each): room for all of them, as
                   # atftpd's --maxthread below
                   "--tftp-max-transfers-per-client", str(a.clients + 50),
                   "--boot-root", boot, "--log-level", "info"],
                  os.path.join(work, "rackd.log")).start()
    servers.append(rack)
    sbin = os.path.join(peers["root"], "usr", "sbin")
    # -L: foreground; -s: chroot to the boot root; drops to nobody.
    servers.append(Server("tftpd-hpa", f"{NET}.3",
                          pin + ["ip", "netns", "exec", lab.srv, os.path.join(sbin, "in.tftpd"), "-L", "-s", boot,
                           "--address", f"{NET}.3:69", "-u", "nobody"],
                          os.path.join(work, "tftpd-hpa.log"), env=peers["env"]).start())
    # --daemon --no-fork: standalone, in the foreground; enough threads for
    # every client at once (its default limit is 100).
    servers.append(Server("atftpd", f"{NET}.4",
                          pin + ["ip", "netns", "exec", lab.srv, os.path.join(sbin, "atftpd"), "--daemon", "--no-fork",
                           "--bind-address", f"{NET}.4", "--port", "69", "--maxthread", str(a.clients + 50),
                           "--user", "nobody", "--group", "nogroup", "--logfile", "-", "--verbose=3", boot],
                          os.path.join(work, "atftpd.log"), env=peers["env"]).start())
    wait_for(lambda: rack.alive() and "connected to region" in rack.text() and "tftp: serving" in rack.text(),
             60, "ironrack-rackd enrolled and serving TFTP")
    for s in servers:
        s.alive()
    return servers


# ---- measurements ----

def client_argv(client, server, remote, out):
    if client == "tftp-hpa":
        return ["tftp", "-m", "binary", server, "-c", "get", remote, out]
    if client == "curl":
        return ["curl", "-sS", "--tftp-blksize", "1468", "-o", out, f"tftp://{server}/{remote}"]
    return ["atftp", "--option", "blksize 1468", "--option", "windowsize 16", "-g", "-r", remote, "-l", out, server]


def machine_cpu():
    """Seconds the machine's CPUs spent so far, all CPUs added up, by kind
    (/proc/stat): where a case's CPU went besides the server."""
    with open("/proc/stat") as f:
        v = [int(x) / HZ for x in f.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = v
    return {"busy": user + nice + system + irq + softirq, "softirq": softirq, "idle": idle + iowait, "steal": steal}


def fetch(lab, outdir, server, client, remote, n, sha, timeout, nice=0, cpus=None):
    """n clients at once; returns the wall time, the server's CPU time (s)
    and {client_cpu, busy, softirq, idle, steal} (CPU seconds: the clients',
    then the whole machine's by kind), or raises with why."""
    outs = [os.path.join(outdir, f"{client}-{i}.bin") for i in range(n)]
    errs = [o + ".err" for o in outs]
    prefix = (["taskset", "-c", cpus] if cpus else []) + (["nice", "-n", str(nice)] if nice else [])
    job = {"cmds": [prefix + client_argv(client, server.addr, remote, o) for o in outs], "errs": errs,
           "timeout": timeout}
    try:
        cpu0, m0 = server.cpu_s(), machine_cpu()
        r = lab.client_python(LAUNCHER, job, timeout + 30)
        m1 = machine_cpu()
        time.sleep(0.2)  # let tftpd-hpa reap its last children
        cpu = server.cpu_s() - cpu0
        extra = {"client_cpu": r["client_cpu"], **{k: m1[k] - m0[k] for k in m1}}
        bad = []
        for i, (o, (secs, rc)) in enumerate(zip(outs, r["ends"])):
            got = sha256_file(o) if os.path.exists(o) else "missing"
            if rc != 0 or got != sha:
                with open(errs[i], errors="replace") as f:
                    bad.append(f"client {i}: exit {rc}, sha256 {got[:12]}: {f.read()[-300:].strip()}")
        if bad:
            raise RuntimeError(f"{server.name} / {client}: {len(bad)} of {n} transfers failed: {bad[:3]}")
        return r["wall"], cpu, extra
    finally:
        for p in outs + errs:
            if os.path.exists(p):
                os.unlink(p)


def probe(lab, server):
    return lab.client_python(PROBE, {"server": server.addr, "file": "mid.bin"}, 30)


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def median(xs):
    return statistics.median(xs) if xs else None


def fmt_rate(v):
    return f"{v:.1f}" if v is not None else "failed"


def table(names, cases, data, cell, ratio=True):
    """One row per case, one column per server. cell(samples, bytes, n)
    returns (text, figure); the last column is ironrack's figure over the
    best peer's (higher is better)."""
    hdr = f"{'case':52} " + " ".join(f"{n:>20}" for n in names) + (f" {'ironrack/best peer':>19}" if ratio else "")
    print(hdr)
    print("-" * len(hdr))
    for label, client, remote, n in cases:
        size = (BIG if remote == "big.bin" else MID) * n
        got = {name: cell(data[(label, name)], size, n) if data[(label, name)] else ("failed", None)
               for name in names}
        row = f"{label:52} " + " ".join(f"{got[name][0]:>20}" for name in names)
        if ratio:
            best = max((f for k, (_, f) in got.items() if k != "ironrack" and f), default=None)
            mine = got["ironrack"][1]
            row += f" {f'{mine / best:.2f}x' if best and mine else '-':>19}"
        print(row)


def cell_rate(v, size, n):
    m = median(v)
    rate = size / m / 1e6
    return (f"{rate:.1f} MB/s" if n == 1 else f"{m:.2f} s ({rate:.0f} MB/s)"), rate


def cell_spread(v, size, n):
    return f"{size / max(v) / 1e6:.0f} - {size / min(v) / 1e6:.0f}", None


def cell_cpu(v, size, n):
    m = max(median(v), 1 / HZ)
    return f"{m:.2f} s ({size / m / 1e6:.0f} MB/s)", size / m


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="rounds; the median is reported (default 3)")
    ap.add_argument("--clients", type=int, default=100, help="concurrent clients (default 100)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--peers", help="private directory for the peers' packages (default BUILD/bench/peers)")
    ap.add_argument("--quick", action="store_true", help="smoke test: 1 round, 10 concurrent clients")
    ap.add_argument("--client-nice", type=int, default=0,
                    help="run the clients under nice N (a diagnostic: on this one box the clients compete with "
                         "the servers for the same 2 cores)")
    ap.add_argument("--server-cpus", metavar="LIST",
                    help="run every server on these CPUs (taskset -c LIST), e.g. 1; with --client-cpus, gives "
                         "the clients CPUs of their own, as remote machines have")
    ap.add_argument("--client-cpus", metavar="LIST", help="run the clients on these CPUs (taskset -c LIST), e.g. 0")
    ap.add_argument("--case", action="append", default=[], metavar="TEXT",
                    help="run only the cases whose label contains TEXT (repeatable; a diagnostic)")
    a = ap.parse_args()
    if a.quick:
        a.runs, a.clients = 1, min(a.clients, 10)
    a.build = os.path.abspath(a.build)
    if os.geteuid() != 0:
        sys.exit("tftp.py needs root (network namespaces)")
    missing = [t for t in ("ip", "tftp", "curl", "atftp", "apt-get", "dpkg-deb") if not shutil.which(t)]
    if missing:
        sys.exit(f"tftp.py needs {', '.join(missing)} (tftp-hpa, curl, atftp: deploy/install-deps)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    started, load0 = time.monotonic(), loadavg()

    peers = fetch_peers(os.path.abspath(a.peers or os.path.join(a.build, "bench", "peers")))
    built = ensure_binaries(a.build, ["ironrack-regiond", "ironrack-rackd"])
    delete_stale()
    work = tempfile.mkdtemp(prefix="irbench-tftp-", dir="/tmp")
    os.chmod(work, 0o755)
    outdir = tempfile.mkdtemp(prefix="irbench-tftp-", dir="/dev/shm")
    lab = Lab([f"{NET}.1", f"{NET}.3", f"{NET}.4"])
    region = None
    servers = []
    try:
        # Private copies: a rebuild of build/ during the run changes nothing.
        bindir = os.path.join(work, "bin")
        os.makedirs(bindir)
        for b in built:
            shutil.copy2(b, bindir)
        boot = os.path.join(work, "boot")
        os.makedirs(boot)
        os.chmod(boot, 0o755)
        sha = {"big.bin": write_random(os.path.join(boot, "big.bin"), BIG),
               "mid.bin": write_random(os.path.join(boot, "mid.bin"), MID)}
        lab.up()
        region, target, secret, fingerprint = start_region(bindir, work)
        servers = start_servers(a, bindir, lab, work, boot, peers, target, secret, fingerprint)
        windows = {}
        for s in servers:
            p = probe(lab, s)
            windows[s.name] = p["options"].get("windowsize")
            log(f"{s.name} ({s.addr}) answers blksize 1468 + windowsize 16 with {p['reply']} {p['options']}")

        cases = [("64 MiB, tftp-hpa client, 512-byte blocks", "tftp-hpa", "big.bin", 1),
                 ("64 MiB, curl, blksize 1468", "curl", "big.bin", 1),
                 ("64 MiB, atftp, blksize 1468 + windowsize 16", "atftp", "big.bin", 1),
                 (f"{a.clients} x 16 MiB at once, curl, blksize 1468", "curl", "mid.bin", a.clients),
                 (f"{a.clients} x 16 MiB at once, atftp, windowsize 16", "atftp", "mid.bin", a.clients)]
        if a.case:
            cases = [c for c in cases if any(t in c[0] for t in a.case)] or sys.exit(f"no case matches {a.case}")
        walls = {(c[0], s.name): [] for c in cases for s in servers}
        cpus = {(c[0], s.name): [] for c in cases for s in servers}
        errors = {}
        for run in range(a.runs):
            # Rotate the order so no server always goes first after a pause.
            order = servers[run % len(servers):] + servers[:run % len(servers)]
            for label, client, remote, n in cases:
                for s in order:
                    if (label, s.name) in errors:
                        continue
                    s.alive()
                    try:
                        secs, cpu, x = fetch(lab, outdir, s, client, remote, n, sha[remote], timeout=240,
                                          nice=a.client_nice, cpus=a.client_cpus)
                    except RuntimeError as e:
                        errors[(label, s.name)] = str(e)
                        log(f"run {run + 1}: {s.name}: {label}: FAILED: {e}")
                        continue
                    walls[(label, s.name)].append(secs)
                    cpus[(label, s.name)].append(cpu)
                    size = (BIG if remote == "big.bin" else MID) * n
                    log(f"run {run + 1}: {s.name:10} {label}: {secs:.2f} s, {size / secs / 1e6:.1f} MB/s, "
                        f"server CPU {cpu:.2f} s, clients' {x['client_cpu']:.2f} s; machine: busy {x['busy']:.1f} s "
                        f"(softirq {x['softirq']:.1f}), idle {x['idle']:.1f}, steal {x['steal']:.1f}")

        names = [s.name for s in servers]
        print()
        print(f"TFTP, {a.runs} run(s), median; MB/s = 10^6 bytes/s (aggregate for the concurrent rows); "
              f"peers: tftpd-hpa {peers['versions'].get('tftpd-hpa')}, atftpd {peers['versions'].get('atftpd')}"
              + (f"; clients under nice {a.client_nice}" if a.client_nice else "")
              + (f"; servers on CPUs {a.server_cpus}" if a.server_cpus else "")
              + (f"; clients on CPUs {a.client_cpus}" if a.client_cpus else ""))
        print("windowsize 16 granted: " + ", ".join(f"{n} {'yes' if windows[n] else 'no (lock-step)'}"
                                                  for n in names))
        table(names, cases, walls, cell_rate)
        if a.runs > 1:
            print(f"\nspread over the {a.runs} runs (MB/s, slowest - fastest)")
            table(names, cases, walls, cell_spread, ratio=False)
        print("\nserver CPU time per case (median; CPU seconds, and MB served per CPU second; "
              "ratio: MB per CPU second)")
        table(names, cases, cpus, cell_cpu)
        for (label, name), e in errors.items():
            print(f"FAILED {name}: {label}: {e}")
        rack_log = servers[0].text()
        resent = sum(int(n) for n in re.findall(r"(\d+) blocks resent", rack_log))
        print(f"ironrack-rackd log: {rack_log.count('windowsize 16)')} transfers sent with windowsize 16, "
              f"{rack_log.count('windowsize 1)')} lock-step, "
              f"{resent} blocks sent again")
        print(f"(whole run {time.monotonic() - started:.0f} s, finished {time.strftime('%Y-%m-%d %H:%M %Z')}; "
              f"1-min load average {load0} at the start, {loadavg()} at the end)")
        if errors:
            sys.exit(1)
    finally:
        for s in reversed(servers):
            s.stop()
        if region:
            region.stop()
        lab.down()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(outdir, ignore_errors=True)


if __name__ == "__main__":
    main()
