"""A DHCP lab in network namespaces, for tests/system/test_dhcp.py and
tests/bench/dhcp.py. Nothing here touches the host's own network: every
server, relay and client runs in a namespace this module creates, and
DhcpNet.down() deletes them all (and stops every process it started).

    <prefix>-sw     bridges br0 (the served link) and br1 (a relayed link)
    <prefix>-rack   eth0 on br0: the DHCP server's address (the rack serves
                    this namespace's interfaces: rackd --netns <prefix>-rack)
    <prefix>-NAME   one namespace per client (DhcpNet.host): eth0 on br0 or
                    br1, a fixed locally administered MAC, optional addresses
    <prefix>-relay  eth0 on br0, eth1 on br1, forwarding, dhcrelay between

Namespace names carry the creating process's pid; DhcpNet.up() deletes
leftovers of dead processes with the same tag first.

The clients (LAB.md has their quirks):
  dhclient(), udhcpc(), dhcpcd()  real clients; each one's script dumps its
                    environment to a file, returned as a dict
  perfdhcp()        Kea's load generator (acts as a relay from its own
                    static address); returns its counters
  LoadClient        a small relay-style DORA client of our own (python, in
                    a namespace) that prints every ACK the moment it
                    arrives: what a crash test compares with the store
  Dnsmasq           a dnsmasq DHCP server in a namespace (the reference
                    server the harness was proven with, and a foreign
                    DHCP server for detection tests)
"""

import glob
import json
import os
import re
import shlex
import signal
import subprocess
import time
import uuid

LIB_DIR = os.path.dirname(os.path.abspath(__file__))


def sh(*argv, check=True, timeout=60, **kw):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {out.returncode}: {out.stdout}{out.stderr}")
    return out


def _wait(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def delete_stale(tag):
    """Namespaces <tag>-PID-... whose process is gone."""
    for line in sh("ip", "netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.match(rf"{re.escape(tag)}-(\d+)-", name)
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


class DhcpNet:
    def __init__(self, workdir, tag="irdh", rack_addrs=("10.20.0.1/20",)):
        self.tag = tag
        self.prefix = f"{tag}-{os.getpid()}-{uuid.uuid4().hex[:4]}"
        self.workdir = workdir
        self.sw = f"{self.prefix}-sw"
        self.rack = f"{self.prefix}-rack"
        self.rack_addrs = list(rack_addrs)
        self.made = []      # namespaces, in creation order
        self.procs = []     # (Popen, log file) we started
        self.ports = 0

    # ---- topology ----

    def up(self):
        delete_stale(self.tag)
        self._ns(self.sw)
        for br in ("br0", "br1"):
            sh("ip", "-n", self.sw, "link", "add", br, "type", "bridge", "stp_state", "0", "forward_delay", "0",
               "mcast_snooping", "0")
            sh("ip", "-n", self.sw, "link", "set", br, "up")
        sh("ip", "netns", "exec", self.sw, "sh", "-c",
           "for f in /proc/sys/net/bridge/bridge-nf-call-*; do [ -e \"$f\" ] && echo 0 > \"$f\"; done; true")
        self.host("rack", addrs=self.rack_addrs, mac="02:00:00:00:00:01")
        return self

    def _ns(self, ns):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        sh("ip", "netns", "add", ns)
        self.made.append(ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")

    def _port(self, ns, ifname, bridge, mac=None, addrs=()):
        self.ports += 1
        port = f"p{self.ports}"
        sh("ip", "-n", self.sw, "link", "add", port, "type", "veth", "peer", "name", ifname, "netns", ns)
        sh("ip", "-n", self.sw, "link", "set", port, "master", bridge)
        sh("ip", "-n", self.sw, "link", "set", port, "up")
        if mac:
            sh("ip", "-n", ns, "link", "set", ifname, "address", mac)
        for a in addrs:
            sh("ip", "-n", ns, "addr", "add", a, "dev", ifname)
        sh("ip", "-n", ns, "link", "set", ifname, "up")
        _wait(lambda: "state UP" in sh("ip", "-n", ns, "-o", "link", "show", ifname).stdout, 10,
              f"{ifname} up in {ns}")
        if addrs:  # no DAD on IPv4, but make sure the address is usable
            _wait(lambda: "tentative" not in sh("ip", "-n", ns, "-o", "addr", "show", ifname).stdout, 10,
                  f"{ifname} addresses in {ns}")

    def host(self, name, addrs=(), mac=None, bridge="br0", routes=()):
        """A namespace <prefix>-name with eth0 on bridge; returns its name."""
        ns = f"{self.prefix}-{name}"
        self._ns(ns)
        self._port(ns, "eth0", bridge, mac, addrs)
        for dst, via in routes:
            sh("ip", "-n", ns, "route", "add", dst, "via", via)
        return ns

    def relay(self, addr_a, addr_b, server):
        """A router namespace: eth0 (addr_a) on br0, eth1 (addr_b) on br1,
        IPv4 forwarding, and isc-dhcp-relay's dhcrelay relaying eth1's
        clients to server. The server's namespace needs a route to addr_b's
        subnet via addr_a (route_via_relay)."""
        ns = f"{self.prefix}-relay"
        self._ns(ns)
        self._port(ns, "eth0", "br0", "02:00:00:00:0a:01", [addr_a])
        self._port(ns, "eth1", "br1", "02:00:00:00:0b:01", [addr_b])
        sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        pid = os.path.join(self.workdir, "dhcrelay.pid")
        # -d: foreground; -iu/-id: upstream/downstream interfaces.
        p = self.spawn(ns, ["dhcrelay", "-d", "-4", "-pf", pid, "-iu", "eth0", "-id", "eth1", server], "dhcrelay")
        _wait(lambda: "Sending on" in open(p.log_path, errors="replace").read() or p.poll() is not None, 10,
              "dhcrelay up")
        assert p.poll() is None, open(p.log_path).read()
        self.relay_ns = ns
        return ns

    def route_via_relay(self, ns, dst, via):
        sh("ip", "-n", ns, "route", "replace", dst, "via", via)

    # ---- processes ----

    def spawn(self, ns, argv, name, env=None):
        """Start argv in namespace ns (background); its output goes to
        WORKDIR/name.log. Stopped by down() if still running."""
        path = os.path.join(self.workdir, f"{name}.log")
        log = open(path, "ab")
        p = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        p.log_path = path
        self.procs.append((p, log))
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=10):
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)  # its own session: ip netns exec and what it ran
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def run(self, ns, argv, check=True, timeout=60, **kw):
        return sh("ip", "netns", "exec", ns, *argv, check=check, timeout=timeout, **kw)

    def down(self):
        for p, log in reversed(self.procs):
            try:
                self.stop(p, timeout=5)
            except Exception:  # noqa: BLE001 - teardown goes on
                pass
            log.close()
        for ns in reversed(self.made):
            # A client that daemonized (dhclient) dies with its namespace's
            # last interface? No: kill whatever still runs inside first.
            for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.made = []


# ---- real clients ----

ENV_SCRIPT = """#!/bin/sh
# Called by the DHCP client: keep the environment of the first bound state.
case "${reason:-$1}" in
  BOUND|REBOOT|RENEW|bound|renew)
    [ -e "%(out)s" ] || env > "%(out)s.tmp" && mv -f "%(out)s.tmp" "%(out)s" ;;
esac
exit 0
"""


def _script(workdir, name):
    out = os.path.join(workdir, f"{name}.env")
    script = os.path.join(workdir, f"{name}.sh")
    with open(script, "w") as f:
        f.write(ENV_SCRIPT % {"out": out})
    os.chmod(script, 0o755)
    if os.path.exists(out):
        os.unlink(out)
    return script, out


def _read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            k, sep, v = line.rstrip("\n").partition("=")
            if sep:
                env[k] = v
    return env


def _wait_env(out, p, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(out):
            return _read_env(out)
        if p is not None and p.poll() is not None and not os.path.exists(out):
            break
        time.sleep(0.1)
    log = open(p.log_path, errors="replace").read()[-3000:] if p is not None else ""
    raise AssertionError(f"{what}: no lease within {timeout}s\n{log}")


DHCLIENT_CONF = """option rfc3442-classless-static-routes code 121 = array of unsigned integer 8;
send host-name = "%(host)s";
request subnet-mask, broadcast-address, routers, domain-name, domain-name-servers, domain-search,
        host-name, interface-mtu, rfc3442-classless-static-routes, ntp-servers;
timeout 20;
retry 1;
"""


def dhclient(net, ns, name="dhclient", timeout=30):
    """isc-dhcp-client once (-1); returns its script's environment
    (new_ip_address, new_routers, new_domain_name_servers,
    new_interface_mtu, new_rfc3442_classless_static_routes, ...)."""
    script, out = _script(net.workdir, name)
    conf = os.path.join(net.workdir, f"{name}.conf")
    with open(conf, "w") as f:
        f.write(DHCLIENT_CONF % {"host": name})
    lease = os.path.join(net.workdir, f"{name}.leases")
    pid = os.path.join(net.workdir, f"{name}.pid")
    # -d keeps it in the foreground (and in our process group): stopped by
    # the caller (or down()) once the script wrote the lease.
    p = net.spawn(ns, ["dhclient", "-4", "-d", "-v", "-1", "-cf", conf, "-sf", script, "-lf", lease, "-pf", pid,
                       "eth0"], name)
    try:
        return _wait_env(out, p, timeout, "dhclient")
    finally:
        net.stop(p)


def udhcpc(net, ns, name="udhcpc", extra=(), timeout=30):
    """busybox udhcpc (-f -q -n); returns its script's environment (ip,
    router, dns, mtu, staticroutes, siaddr, boot_file, serverid, ...).
    extra: e.g. -x 0x5d:0000 -V PXEClient:... for a PXE client."""
    script, out = _script(net.workdir, name)
    p = net.spawn(ns, ["busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "8", "-T", "2", "-s", script,
                       "-O", "mtu", "-O", "staticroutes", "-O", "ntpsrv", *extra], name)
    try:
        return _wait_env(out, p, timeout, "udhcpc")
    finally:
        net.stop(p)


DHCPCD_CONF = """# private config for the test: no ARP probe, no IPv6, no hooks
noarp
ipv4only
noipv4ll
nohook resolv.conf, timesyncd, ntp, hostname, wpa_supplicant
option domain_name_servers, domain_name, routers, interface_mtu, classless_static_routes, ntp_servers
option subnet_mask, broadcast
"""


def dhcpcd(net, ns, name="dhcpcd", timeout=30):
    """dhcpcd once (-1), in a private mount namespace with its state
    directories bind-mounted from WORKDIR (it writes under /var/lib/dhcpcd
    and /run/dhcpcd); returns its script's environment (new_ip_address,
    new_routers, new_domain_name_servers, new_interface_mtu,
    new_classless_static_routes, ...)."""
    script, out = _script(net.workdir, name)
    conf = os.path.join(net.workdir, f"{name}.conf")
    with open(conf, "w") as f:
        f.write(DHCPCD_CONF)
    mounts = []
    for d in ("/var/lib/dhcpcd", "/run/dhcpcd"):
        priv = os.path.join(net.workdir, name + d.replace("/", "-"))
        os.makedirs(priv, exist_ok=True)
        if os.path.isdir(d):
            mounts.append(f"mount --bind {shlex.quote(priv)} {d}")
    # The mount namespace of `ip netns exec` is already private; unshare -m
    # makes that explicit.
    cmd = " && ".join(mounts + [f"exec dhcpcd -f {shlex.quote(conf)} -c {shlex.quote(script)} -1 -4 -B -d "
                                f"-t {timeout} eth0"])
    p = net.spawn(ns, ["unshare", "-m", "--propagation", "private", "sh", "-c", cmd], name)
    try:
        return _wait_env(out, p, timeout, "dhcpcd")
    finally:
        net.stop(p)


# ---- perfdhcp ----

def perfdhcp(net, ns, server, rate, clients, num=None, period=None, opts=(), extra=(), timeout=120):
    """Kea's perfdhcp (-4 -l eth0 -r RATE -R CLIENTS [-n NUM] [-p PERIOD]).
    Returns {"rc", "out", "sent": [disc, req], "received": [offer, ack],
    "drops": [..], "avg_delay_ms": [discover-offer, request-ack],
    "rate": DORA/s} from its report."""
    argv = ["perfdhcp", "-4", "-l", "eth0", "-r", str(rate), "-R", str(clients)]
    if num is not None:
        argv += ["-n", str(num)]
    if period is not None:
        argv += ["-p", str(period)]
    for o in opts:
        argv += ["-o", o]
    argv += [*extra, server]
    r = net.run(ns, argv, check=False, timeout=timeout)
    return parse_perfdhcp(r.stdout + r.stderr, r.returncode)


def parse_perfdhcp(text, rc=0):
    res = {"rc": rc, "out": text, "sent": [], "received": [], "drops": [], "avg_delay_ms": [], "rate": None}
    for key, pat in (("sent", r"sent packets: (\d+)"), ("received", r"received packets: (\d+)"),
                     ("drops", r"drops: (\d+)")):
        res[key] = [int(x) for x in re.findall(pat, text)]
    res["avg_delay_ms"] = [float(x) for x in re.findall(r"avg delay: ([\d.]+) ms", text)]
    m = re.search(r"[Rr]ate: ([\d.]+) 4-way exchanges/second", text)
    if m:
        res["rate"] = float(m.group(1))
    return res


# ---- a DORA client of our own ----

# Runs inside a namespace holding the static address `giaddr`: like
# perfdhcp it acts as a relay (sends from port 67 with giaddr set, the
# server answers unicast to giaddr:67), so it needs no raw sockets. Clients
# are MACs 02:LL:ii:ii:ii:ii (LL = job["mac_tag"]), DISCOVER -> OFFER ->
# REQUEST -> ACK, retransmitting after 1 s (3 tries). Every ACK is printed
# ("ACK <mac> <ip>") and flushed as it arrives; NAKs as "NAK <mac>".
LOAD_CLIENT = r'''
import json, os, random, select, socket, struct, sys, time
job = json.loads(sys.argv[1])
server, giaddr, n, rate = job["server"], job["giaddr"], job["clients"], float(job["rate"])
deadline = time.monotonic() + job["timeout"]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind((giaddr, 67))
s.setblocking(False)
G = socket.inet_aton(giaddr)
def mac(i):
    return bytes([2, job["mac_tag"]]) + struct.pack("!I", i)
def pkt(i, xid, mtype, extra=b""):
    opts = bytes([53, 1, mtype]) + extra + bytes([55, 4, 1, 3, 6, 26, 255])
    return (struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 1, xid, 0, 0, b"\0" * 4, b"\0" * 4, b"\0" * 4, G,
                        mac(i) + b"\0" * 10, b"", b"") + b"\x63\x82\x53\x63" + opts)
state = {}   # xid -> [i, stage, sent_at, tries, packet]
by_i = {}
acked, naks, failed = 0, 0, 0
base = random.getrandbits(16) << 16
nxt, t0 = 0, time.monotonic()
out = sys.stdout
def send(xid):
    st = state[xid]
    st[2] = time.monotonic()
    st[3] += 1
    try:
        s.sendto(st[4], (server, 67))
    except OSError:
        pass
while time.monotonic() < deadline and (nxt < n or state):
    now = time.monotonic()
    while nxt < n and nxt <= (now - t0) * rate:
        xid = base + nxt
        state[xid] = [nxt, 1, 0, 0, pkt(nxt, xid, 1)]
        send(xid)
        nxt += 1
    for xid, st in list(state.items()):
        if now - st[2] > 1.0:
            if st[3] >= job["tries"]:
                del state[xid]
                failed += 1
            else:
                send(xid)
    r, _, _ = select.select([s], [], [], 0.005)
    while r:
        try:
            data = s.recv(2048)
        except BlockingIOError:
            break
        if len(data) < 240:
            continue
        xid = struct.unpack("!I", data[4:8])[0]
        st = state.get(xid)
        if not st:
            continue
        yi = data[16:20]
        o, opts, mt, sid = 240, data[240:], 0, None
        i = 0
        while i < len(opts):
            c = opts[i]
            if c == 255: break
            if c == 0: i += 1; continue
            l = opts[i + 1]; v = opts[i + 2:i + 2 + l]
            if c == 53: mt = v[0]
            if c == 54: sid = v
            i += 2 + l
        if mt == 2 and st[1] == 1:
            st[1] = 2
            st[3] = 0
            st[4] = pkt(st[0], xid, 3, bytes([50, 4]) + yi + (bytes([54, 4]) + sid if sid else b""))
            send(xid)
        elif mt == 5 and st[1] == 2:
            out.write("ACK %s %s\n" % (mac(st[0]).hex(":"), socket.inet_ntoa(yi)))
            out.flush()
            acked += 1
            del state[xid]
        elif mt == 6 and st[1] == 2:
            out.write("NAK %s\n" % mac(st[0]).hex(":"))
            out.flush()
            naks += 1
            del state[xid]
out.write("DONE acked=%d naks=%d failed=%d pending=%d started=%d\n" % (acked, naks, failed + len(state), len(state), nxt))
out.flush()
'''


class LoadClient:
    """LOAD_CLIENT in namespace ns; acks() parses what it printed so far."""

    def __init__(self, net, ns, server, giaddr, clients, rate, mac_tag=0x42, tries=3, timeout=60, name="loadclient"):
        job = dict(server=server, giaddr=giaddr, clients=clients, rate=rate, mac_tag=mac_tag, tries=tries,
                   timeout=timeout)
        self.p = net.spawn(ns, ["/usr/bin/python3", "-u", "-c", LOAD_CLIENT, json.dumps(job)], name)
        self.net = net

    def text(self):
        with open(self.p.log_path, errors="replace") as f:
            return f.read()

    def acks(self):
        """{mac: ip} of every complete ACK line printed so far."""
        res = {}
        for line in self.text().split("\n")[:-1]:
            f = line.split()
            if len(f) == 3 and f[0] == "ACK":
                res[f[1]] = f[2]
        return res

    def wait(self, timeout=120):
        self.p.wait(timeout)
        return self.text()


# ---- dnsmasq as a DHCP server ----

class Dnsmasq:
    """dnsmasq (DHCP only: port=0) in namespace ns, in the foreground, with
    a private lease file. ranges: ["10.20.1.0,10.20.15.200,255.255.240.0,10m"]."""

    def __init__(self, net, ns, ranges, name="dnsmasq", options=(), extra=()):
        self.lease = os.path.join(net.workdir, f"{name}.leases")
        argv = ["dnsmasq", "--keep-in-foreground", "--log-facility=-", "--port=0", "--bind-interfaces",
                "--interface=eth0", "--except-interface=lo", "--conf-file=/dev/null", f"--dhcp-leasefile={self.lease}",
                f"--pid-file={os.path.join(net.workdir, name + '.pid')}", "--user=root", "--group=root",
                "--dhcp-authoritative", "--log-dhcp", *extra]
        argv += [f"--dhcp-range={r}" for r in ranges]
        argv += [f"--dhcp-option={o}" for o in options]
        self.net = net
        self.p = net.spawn(ns, argv, name)
        _wait(lambda: "DHCP, IP range" in open(self.p.log_path, errors="replace").read() or self.p.poll() is not None,
              10, "dnsmasq up")
        assert self.p.poll() is None, open(self.p.log_path).read()

    def leases(self):
        with open(self.lease) as f:
            return [line.split() for line in f if line.strip()]

    def stop(self):
        self.net.stop(self.p)


def parse_rfc3442(text):
    """dhclient's new_rfc3442_classless_static_routes ("24 10 71 0 10 20 0
    254 ...") -> [("10.71.0.0/24", "10.20.0.254"), ...]."""
    b = [int(x) for x in text.replace(",", " ").split()]
    res, i = [], 0
    while i < len(b):
        width = b[i]
        n = (width + 7) // 8
        dst = b[i + 1:i + 1 + n] + [0] * (4 - n)
        gw = b[i + 1 + n:i + 5 + n]
        res.append((f"{'.'.join(map(str, dst))}/{width}", ".".join(map(str, gw))))
        i += 5 + n
    return res


def parse_routes_pairs(text):
    """udhcpc's staticroutes / dhcpcd's new_classless_static_routes
    ("10.71.0.0/24 10.20.0.254 ...") -> [(dst, gw), ...]."""
    f = text.split()
    return [(f[i], f[i + 1]) for i in range(0, len(f) - 1, 2)]


def cleanup_all(tag):
    """Every namespace of this tag whose creator is gone (for a manual
    cleanup after a crashed run)."""
    delete_stale(tag)
    for path in glob.glob(f"/run/netns/{tag}-*"):
        m = re.match(rf"{re.escape(tag)}-(\d+)-", os.path.basename(path))
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            subprocess.run(["ip", "netns", "del", os.path.basename(path)], capture_output=True)
