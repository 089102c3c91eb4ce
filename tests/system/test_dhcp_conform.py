"""DHCPv4 conformance and abuse cases (issues 14 and 15) with a real region and
rack and real clients where one shows the behaviour, hand-made messages
(tests/system/dhcpprobe.py) where none sends them on demand:

    <prefix>-sw       bridge br0 (one VLAN, 10.60.0.0/24)
    <prefix>-rack     eth0 10.60.0.1/24: the rack serves it (rackd --netns)
    <prefix>-cN       clients, fixed MACs 02:00:00:00:06:xx
    <prefix>-evil     eth0 10.60.0.9/24: sends what a hostile host would

One region and one rack for the module; conflict probing off (regiond
dhcp_probe = no) so offers come at once. Every namespace is deleted at the
end, also on failure."""

import os
import shutil
import signal

import pytest

from conftest import SANITIZED, Rack, Region, make_dir, needs_root, needs_tools, wait_for
from dhcpnet import DhcpNet, sh
from dhcpprobe import (ACK, DECLINE, NAK, OFFER, RELEASE, DISCOVER, dora, ip_opt, msg, probe, random_mac)
from nethelp import ok

TOOLS = ("ip", "dhclient", "busybox")

NET, RACK_IP, ROUTER, EVIL_IP = "10.60.0.0/24", "10.60.0.1", "10.60.0.254", "10.60.0.9"
EVIL_MAC = "02:00:00:00:06:ee"
RANGE = ("10.60.0.100", "10.60.0.160")
SLOW = 3 if SANITIZED else 1


@pytest.fixture(autouse=True, scope="module")
def lab_needs():
    needs_root()
    needs_tools(*TOOLS)


def in_range(ip):
    def n(a):
        return tuple(int(x) for x in a.split("."))
    return n(RANGE[0]) <= n(ip) <= n(RANGE[1])


class ConformRegion(Region):
    def args(self):
        return super().args() + ["--dhcp-probe", "no"]


class Site:
    def __init__(self, workdir):
        self.net = DhcpNet(os.path.join(workdir, "net"), tag="irdc", rack_addrs=(f"{RACK_IP}/24",))
        os.makedirs(self.net.workdir)
        self.region = ConformRegion(os.path.join(workdir, "region"))
        os.makedirs(self.region.state_dir, mode=0o700)
        self.rack = Rack(self.region, os.path.join(workdir, "rack"), "conform-rack")
        self.clients = 0
        self.key = NET.replace("/", "-")

    def client(self, mac=None, addrs=()):
        self.clients += 1
        return self.net.host(f"c{self.clients}", mac=mac or f"02:00:00:00:06:{self.clients:02x}", addrs=addrs)

    def applied(self):
        return self.rack.daemon.text().count(" applied (")

    def wait_applied(self, before):
        self.rack.daemon.wait_log(" applied (", timeout=30 * SLOW, count=before + 1)


@pytest.fixture(scope="module")
def site():
    workdir = make_dir("irdhcpc-")
    s = Site(workdir)
    try:
        s.net.up()
        s.region.start()
        s.rack.start(secret=s.region.secret, fingerprint=s.region.fingerprint, extra=["--netns", s.net.rack])
        r = s.region
        vlan = ok(r, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 60, "name": "conform"})
        ok(r, "POST", "/api/v1/subnets", {"cidr": NET, "vlan": vlan["id"], "gateway": ROUTER})
        ok(r, "POST", "/api/v1/ip-ranges", {"subnet": NET, "type": "dynamic", "start_ip": RANGE[0],
                                            "end_ip": RANGE[1]})
        before = s.applied()
        ok(r, "PATCH", f"/api/v1/vlans/{vlan['id']}", {"dhcp_on": True, "primary_rack": s.rack.rack_id})
        s.wait_applied(before)
        s.evil = s.net.host("evil", mac=EVIL_MAC, addrs=(f"{EVIL_IP}/24",))
        yield s
    finally:
        try:
            try:
                s.rack.stop()
            finally:
                s.region.stop()
        finally:
            s.net.down()
            if not os.environ.get("IRONRACK_KEEP"):
                shutil.rmtree(workdir, ignore_errors=True)


# ---- RFC 6842: option 61 comes back ----

def test_client_id_echoed(site):
    ns = site.client()
    cid = b"\x00conform-client-id"
    ack = dora(site.net, ns, random_mac(), options=[(61, cid)])
    assert ack["options"].get(61) == cid, ack
    [nak] = probe(site.net, ns, [msg(3, random_mac(), options=[(50, ip_opt("10.99.0.5")), (61, cid)])])
    assert nak["type"] == NAK and nak["options"].get(61) == cid, nak


# ---- RFC 2131 4.3.2: INIT-REBOOT for an address that is not the client's lease ----

DHCLIENT_CONF = "timeout 20;\nretry 1;\n"
SCRIPT = """#!/bin/sh
case "$reason" in BOUND|REBOOT) env > "%(out)s.tmp" && mv -f "%(out)s.tmp" "%(out)s" ;; esac
exit 0
"""


def dhclient_once(site, ns, name, lease):
    """dhclient -1 with lease file lease; (its environment, its log)."""
    wd = site.net.workdir
    out, script, conf = (os.path.join(wd, f"{name}.{x}") for x in ("env", "sh", "conf"))
    with open(script, "w") as f:
        f.write(SCRIPT % {"out": out})
    os.chmod(script, 0o755)
    with open(conf, "w") as f:
        f.write(DHCLIENT_CONF)
    p = site.net.spawn(ns, ["dhclient", "-4", "-d", "-v", "-1", "-cf", conf, "-sf", script, "-lf", lease,
                            "-pf", os.path.join(wd, f"{name}.pid"), "eth0"], name)
    try:
        wait_for(lambda: os.path.exists(out) or p.poll() is not None, timeout=30 * SLOW, what=f"{name}'s lease")
        assert os.path.exists(out), open(p.log_path).read()[-3000:]
        env = dict(line.split("=", 1) for line in open(out).read().splitlines() if "=" in line)
        return env, open(p.log_path).read()
    finally:
        site.net.stop(p)


def test_init_reboot_of_another_address_is_naked(site):
    ns = site.client()
    lease = os.path.join(site.net.workdir, "reboot.leases")
    env, _ = dhclient_once(site, ns, "reboot1", lease)
    mine = env["new_ip_address"]
    assert in_range(mine), env
    # Its stored lease now names an address of this subnet it does not hold.
    other = RANGE[1] if mine != RANGE[1] else RANGE[0]
    text = open(lease).read()
    assert f"fixed-address {mine};" in text, text
    with open(lease, "w") as f:
        f.write(text.replace(f"fixed-address {mine};", f"fixed-address {other};"))
    env, log = dhclient_once(site, ns, "reboot2", lease)
    # INIT-REBOOT for `other`, NAKed at once (not three unanswered REQUESTs),
    # then its own address again through DISCOVER.
    assert f"DHCPREQUEST for {other}" in log and "DHCPNAK from" in log, log
    assert log.count(f"DHCPREQUEST for {other}") == 1, log
    assert env["new_ip_address"] == mine and env["reason"] == "BOUND", env


# ---- RFC 2131 4.3.1: a reply that does not fit 576 bytes leaves options out ----

def test_routes_snippet_too_big_for_576(site):
    r = site.region
    routes = ", ".join(f"10.{100 + i // 256}.{i % 256}.0/24 via {ROUTER}" for i in range(70))
    before = site.applied()
    sn = ok(r, "POST", "/api/v1/dhcp-snippets", {"name": "conform-70-routes", "code": 121, "type": "routes",
                                                 "value": routes, "subnet": NET}, status=201)
    try:
        assert any("576" in w for w in sn.get("warnings", [])), sn
        site.wait_applied(before)
        warning = ok(r, "GET", f"/api/v1/racks/{site.rack.rack_id}/dhcp").get("warning", "")
        assert "576" in warning and NET in warning, warning
        assert "conform-70-routes" in site.region.daemon.text(), "the region logs the warning"
        # udhcpc takes 576 bytes and asks for 121: it gets its address (and
        # the options that fit), not silence.
        ns = site.client()
        script = os.path.join(site.net.workdir, "big.sh")
        out = os.path.join(site.net.workdir, "big.env")
        with open(script, "w") as f:
            f.write(f"#!/bin/sh\n[ \"$1\" = bound ] && env > {out}.tmp && mv {out}.tmp {out}\nexit 0\n")
        os.chmod(script, 0o755)
        site.net.run(ns, ["busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "4", "-T", "2", "-s", script,
                          "-O", "staticroutes"], timeout=30 * SLOW)
        env = dict(line.split("=", 1) for line in open(out).read().splitlines() if "=" in line)
        assert in_range(env["ip"]) and env.get("router") == ROUTER, env
    finally:
        before = site.applied()
        ok(r, "DELETE", f"/api/v1/dhcp-snippets/{sn['id']}")
        site.wait_applied(before)


# ---- match_client_id ----

def test_match_client_id(site):
    ns = site.client()
    mac = random_mac()
    a = dora(site.net, ns, mac, options=[(61, b"\x00stack-a")])["yiaddr"]
    b = dora(site.net, ns, mac, options=[(61, b"\x00stack-b")])["yiaddr"]
    assert a == b, "off (the default): one MAC, one address"
    before = site.applied()
    sub = ok(site.region, "PATCH", f"/api/v1/subnets/{site.key}", {"dhcp_match_client_id": True})
    assert sub["dhcp_match_client_id"] is True, sub
    try:
        site.wait_applied(before)
        c = dora(site.net, ns, mac, options=[(61, b"\x00stack-c")])["yiaddr"]
        d = dora(site.net, ns, mac, options=[(61, b"\x00stack-d")])["yiaddr"]
        assert c != d and in_range(c) and in_range(d), (c, d)
        assert dora(site.net, ns, mac, options=[(61, b"\x00stack-c")])["yiaddr"] == c
    finally:
        before = site.applied()
        ok(site.region, "PATCH", f"/api/v1/subnets/{site.key}", {"dhcp_match_client_id": False})
        site.wait_applied(before)


# ---- a client on the link: RENEW at layer 2, RELEASE only from it ----

UDHCPC_SCRIPT = """#!/bin/sh
# Configure the address (a renewal is unicast from it) and note each event.
case "$1" in
  bound|renew) ip addr replace "$ip/$mask" dev "$interface"; echo "$1 $ip" >> %(log)s ;;
  deconfig) ip addr flush dev "$interface" ;;
esac
exit 0
"""


@pytest.fixture(scope="module")
def linked(site):
    """udhcpc bound on the link, releasing on exit (-R): (ns, mac, address, proc, event log)."""
    mac = "02:00:00:00:06:aa"
    ns = site.client(mac)
    log = os.path.join(site.net.workdir, "linked.events")
    script = os.path.join(site.net.workdir, "linked.sh")
    with open(script, "w") as f:
        f.write(UDHCPC_SCRIPT % {"log": log})
    os.chmod(script, 0o755)
    p = site.net.spawn(ns, ["busybox", "udhcpc", "-i", "eth0", "-f", "-R", "-t", "8", "-T", "2", "-s", script],
                       "linked")
    wait_for(lambda: os.path.exists(log) and "bound " in open(log).read(), timeout=30 * SLOW,
             what="udhcpc bound")
    addr = open(log).read().split()[1]
    yield ns, mac, addr, p, log
    site.net.stop(p)


def test_renew_reaches_a_client_behind_a_stale_neighbour_entry(site, linked):
    ns, mac, addr, p, log = linked
    # The rack's kernel believes the address lives at another host's MAC
    # (its previous holder, still on the link, so the bridge knows where
    # that MAC is): an ACK sent through ARP would go there, not here.
    site.net.run(site.evil, ["/usr/bin/python3", "-c", "import socket; socket.socket(socket.AF_INET, "
                             f"socket.SOCK_DGRAM).sendto(b'hello', ('{RACK_IP}', 9))"])
    sh("ip", "-n", site.net.rack, "neigh", "replace", addr, "lladdr", EVIL_MAC, "dev", "eth0", "nud", "permanent")
    try:
        os.kill(p.pid, signal.SIGUSR1)  # renew now: unicast REQUEST from addr
        wait_for(lambda: f"renew {addr}" in open(log).read(), timeout=15 * SLOW, what="the renewal's ACK")
    finally:
        sh("ip", "-n", site.net.rack, "neigh", "del", addr, "dev", "eth0", check=False)


def test_forged_release_does_not_release(site, linked):
    ns, mac, addr, p, log = linked
    # Another host writes the victim's chaddr and ciaddr into a RELEASE and
    # sends it from its own MAC and address, as a client would (unicast).
    forged = msg(RELEASE, mac, ciaddr=addr, dst=RACK_IP, flags=0, options=[(54, ip_opt(RACK_IP))])
    assert probe(site.net, site.evil, [forged], want=0, timeout=0.3, bind=EVIL_IP) == []
    # The address is still the victim's: asking for it gets another one.
    asker = site.client()
    [offer] = probe(site.net, asker, [msg(DISCOVER, random_mac(), options=[(50, ip_opt(addr))])])
    assert offer["type"] == OFFER and offer["yiaddr"] != addr, offer
    # The victim's own RELEASE (udhcpc -R on exit) is honoured.
    site.net.stop(p)
    [offer] = probe(site.net, asker, [msg(DISCOVER, random_mac(), options=[(50, ip_opt(addr))])])
    assert offer["type"] == OFFER and offer["yiaddr"] == addr, offer


# ---- DECLINE: only of an address ACKed to that client ----

def test_decline_flood_does_not_drain_the_pool(site):
    ns = site.client()
    macs = [random_mac() for _ in range(20)]
    offers = probe(site.net, ns, [msg(DISCOVER, m, xid=0x600000 + i) for i, m in enumerate(macs)])
    assert len(offers) == 20 and all(o["type"] == OFFER for o in offers), offers
    declines = [msg(DECLINE, macs[o["xid"] - 0x600000], options=[(50, ip_opt(o["yiaddr"])), (54, o["options"][54])])
                for o in offers]
    assert probe(site.net, ns, declines, want=0, timeout=0.3) == []
    # A client that was ACKed its address may decline it: that is the one
    # quarantine, and the positive control for the report path.
    good = random_mac()
    mine = dora(site.net, ns, good)["yiaddr"]
    probe(site.net, ns, [msg(DECLINE, good, options=[(50, ip_opt(mine)), (54, ip_opt(RACK_IP))])], want=0,
          timeout=0.3)

    def conflicts():
        rows = ok(site.region, "GET", "/api/v1/dhcp-conflicts")["dhcp_conflicts"]
        ips = {c["ip"] for c in rows if c.get("subnet_cidr") == NET}
        return ips if mine in ips else None
    assert wait_for(conflicts, timeout=15 * SLOW, what="the declined address in the region") == {mine}
    assert site.rack.daemon.text().count(" quarantined for ") == 1, site.rack.daemon.text()[-3000:]
    ack = dora(site.net, ns, random_mac())
    assert ack["type"] == ACK and in_range(ack["yiaddr"]) and ack["yiaddr"] != mine, ack
