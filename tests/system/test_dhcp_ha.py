"""DHCP HA (docs/dhcp-ha.md): a VLAN with a primary and a secondary rack
puts an HA pair into both racks' DHCP configs, with the partner's endpoint
as its hello told the region; the racks link to each other directly over
mutual TLS with their region-issued certificates, sync their lease
records, split the dynamic range and serve together: each answers the
clients of its RFC 3074 buckets, every lease reaches the partner's journal
before the client's ACK, and a rack whose partner died serves every
client, renewing the dead one's leases at the same address. The region
shows each pair's link and state as the racks report them and logs a pair
that degrades.

    <prefix>-sw     br0
    <prefix>-rack   eth0 10.46.0.1/24: rack A (primary) serves DHCP here
    <prefix>-rackb  eth0 10.46.0.2/24: rack B (secondary) serves DHCP here
    <prefix>-c1     udhcpc clients (one MAC after another)
Both HA links listen or dial on loopback (the management network)."""

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import (alone, RACKD, Rack, Region, cli, free_port, make_dir, needs_root, needs_tools, plain_pass_only,
                      wait_for)
from dhcpnet import DhcpNet, sh, udhcpc
from nethelp import ok

NET, RACK_IP, RACK_B_IP = "10.46.0.0/24", "10.46.0.1", "10.46.0.2"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MCLT_S = 3
# Rebalancing is off but in its own test (the others check the halves).
HA_OPTS = ["--ha-heartbeat-ms", "100", "--ha-timeout-ms", "1000", "--ha-mclt", f"{MCLT_S}s", "--ha-rebalance", "off"]


class LinkCutter:
    """The HA link between the racks runs through this TCP relay on
    loopback, so a test can cut it (a partition of the racks' management
    path) while the clients' network stays whole, and heal it. Cut: every
    relayed connection is closed and new ones are closed at once."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.cut = False
        self.conns = []
        self.lock = threading.Lock()
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            if self.cut:
                c.close()
                continue
            try:
                s = socket.create_connection(self.target, timeout=5)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, s]
            for a, b in ((c, s), (s, c)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data or self.cut:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for x in (src, dst):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def partition(self):
        self.cut = True
        with self.lock:
            for x in self.conns:
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                x.close()
            self.conns = []

    def heal(self):
        self.cut = False

    def close(self):
        self.stopped = True
        self.partition()
        self.lsock.close()


@pytest.fixture(scope="module")
def pair():
    needs_root()
    needs_tools("ip", "busybox")
    workdir = make_dir("irha-")
    net = DhcpNet(os.path.join(workdir, "net"), tag="irha", rack_addrs=(f"{RACK_IP}/24",))
    os.makedirs(net.workdir)
    rack_b_ns = f"{net.prefix}-rackb"
    region = Region(os.path.join(workdir, "region"))
    os.makedirs(region.state_dir, mode=0o700)
    a = Rack(region, os.path.join(workdir, "rack-a"), "irha-a")
    b = Rack(region, os.path.join(workdir, "rack-b"), "irha-b")
    port_b = free_port()
    cutter = LinkCutter(port_b)
    # B advertises a wildcard host: the region puts in the address its
    # session comes from (loopback here), as for a rack listening on all
    # addresses. The port is the cutter's, which relays to B's.
    b_extra = ["--netns", rack_b_ns, "--ha-listen", f"127.0.0.1:{port_b}", "--ha-advertise",
               f"0.0.0.0:{cutter.port}", *HA_OPTS]
    try:
        net.up()
        net.host("rackb", addrs=[f"{RACK_B_IP}/24"], mac="02:00:00:00:00:02")
        region.start()
        a_extra = ["--netns", net.rack, "--ha-listen", f"127.0.0.1:{free_port()}", *HA_OPTS]
        a.start(secret=region.secret, fingerprint=region.fingerprint, extra=a_extra)
        b.start(secret=region.secret, fingerprint=region.fingerprint, extra=b_extra)
        vlan = ok(region, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 46, "name": "irha-46"})
        ok(region, "POST", "/api/v1/subnets", {"cidr": NET, "vlan": vlan["id"]})
        ok(region, "POST", "/api/v1/ip-ranges", {"subnet": NET, "type": "dynamic", "start_ip": "10.46.0.100",
                                                 "end_ip": "10.46.0.199"})
        ok(region, "PATCH", f"/api/v1/vlans/{vlan['id']}",
           {"dhcp_on": True, "primary_rack": a.rack_id, "secondary_rack": b.rack_id})
        yield {"net": net, "region": region, "a": a, "b": b, "vlan": vlan, "port_b": cutter.port, "b_extra": b_extra,
               "a_extra": a_extra, "cutter": cutter}
    finally:
        for step in (a.stop, b.stop, region.stop, net.down, cutter.close):
            try:
                step()
            except Exception:  # noqa: BLE001 - teardown goes on
                pass
        if not os.environ.get("IRONRACK_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)


def link_state(region, rack, up):
    """The rack's DHCP view once its one pair's link is reported up (or down)."""
    def reported():
        d = ok(region, "GET", f"/api/v1/racks/{rack.rack_id}/dhcp")
        link = d["ha"][0].get("link") if d["ha"] else None
        return d if link and link["up"] is up else None
    return wait_for(reported, timeout=20, what=f"{rack.name}'s HA link reported {'up' if up else 'down'}")


def test_both_racks_get_the_pair_and_link_over_mutual_tls(pair):
    region, a, b = pair["region"], pair["a"], pair["b"]
    a.daemon.wait_log(f"dhcp-ha: link to partner {b.rack_id} (secondary) up", timeout=30)
    b.daemon.wait_log(f"dhcp-ha: link to partner {a.rack_id} (primary) up", timeout=30)
    da = link_state(region, a, up=True)
    db = link_state(region, b, up=True)
    link = da["ha"][0].pop("link")
    assert da["ha"] == [{"vlan": pair["vlan"]["id"], "vid": 46, "role": "primary", "partner": b.rack_id,
                         "partner_address": f"127.0.0.1:{pair['port_b']}", "partner_down_by": None,
                         "partner_down_how": None, "auto_down_s": 3600}], da
    assert link["last_contact"] and link["since"] and link["refused"] == 0 and link["reported_at"], link
    assert [(p["role"], p["partner"], p["vid"]) for p in db["ha"]] == [("secondary", a.rack_id, 46)], db
    assert db["ha"][0]["partner_address"].startswith("127.0.0.1:"), db
    # both serve the VLAN
    assert db["enabled"] is True and [i["vid"] for i in db["interfaces"]] == [46], db
    assert da["enabled"] is True and [i["vid"] for i in da["interfaces"]] == [46], da
    out = cli(region, "racks", "dhcp", a.rack_id).stdout
    assert f"HA: primary of VLAN {pair['vlan']['id']} (vid 46) with {b.rack_id} at 127.0.0.1:" in out, out
    out = cli(region, "racks", "dhcp", b.rack_id).stdout
    assert f"HA: secondary of VLAN {pair['vlan']['id']} (vid 46) with {a.rack_id}" in out, out
    # nobody else's certificate was refused on the way
    # (a dial before the listener is up is only "Connection refused")
    for text in (a.daemon.text(), b.daemon.text()):
        assert not [ln for ln in text.splitlines() if "refused" in ln and "Connection refused" not in ln], text


def rfc3074_bucket(mac):
    """RFC 3074's hash of a MAC, with the mixing table read from our own
    source (the unit test checks it against the RFC's examples)."""
    src = open(os.path.join(ROOT, "rack/dhcp/ha_hash.c")).read()
    body = src[src.index("ha_hash_table[HA_BUCKETS] = {"):]
    table = [int(x) for x in re.findall(r"\d+", body[body.index("{") + 1:body.index("}")])]
    assert len(table) == 256
    key = bytes.fromhex(mac.replace(":", ""))
    h = len(key)
    for b in reversed(key):
        h = table[h ^ b]
    return h


def both_normal(pair):
    region, a, b = pair["region"], pair["a"], pair["b"]
    def normal():
        sa = ok(region, "GET", f"/api/v1/racks/{a.rack_id}/dhcp")["ha"][0].get("link") or {}
        sb = ok(region, "GET", f"/api/v1/racks/{b.rack_id}/dhcp")["ha"][0].get("link") or {}
        return (sa, sb) if sa.get("state") == "normal" and sb.get("state") == "normal" else None
    return wait_for(normal, timeout=30, what="both racks of the pair in state normal")


def lease_as(net, c, mac, extra=()):
    sh("ip", "-n", c, "link", "set", "eth0", "down")
    sh("ip", "-n", c, "link", "set", "eth0", "address", mac)
    sh("ip", "-n", c, "link", "set", "eth0", "up")
    return udhcpc(net, c, name=f"udhcpc-{mac[-5:].replace(':', '')}", extra=extra)


def test_both_racks_answer_their_own_buckets_and_replicate_each_lease(pair):
    net, region, a, b = pair["net"], pair["region"], pair["a"], pair["b"]
    sa, sb = both_normal(pair)
    out = cli(region, "racks", "dhcp", a.rack_id).stdout
    assert "state normal since" in out and "link up" in out and "free: 50 ours, 50 the partner's" in out, out
    # the primary split the range: each has half of the 100 addresses free
    assert sa["free_own"] == 50 and sa["free_partner"] == 50, sa
    assert sb["free_own"] == 50 and sb["free_partner"] == 50, sb
    c = pair.setdefault("c1", net.host("c1"))
    got = {}
    for i in range(12):
        mac = f"02:46:00:00:01:{i:02x}"
        env = lease_as(net, c, mac)
        want = RACK_IP if rfc3074_bucket(mac) < 128 else RACK_B_IP
        assert env["serverid"] == want, (mac, rfc3074_bucket(mac), env)
        got[mac] = env
    # clients spread over both racks, each from its own half
    by_a = [e["ip"] for e in got.values() if e["serverid"] == RACK_IP]
    by_b = [e["ip"] for e in got.values() if e["serverid"] == RACK_B_IP]
    assert by_a and by_b, got
    assert all(int(ip.split(".")[3]) < 150 for ip in by_a), by_a
    assert all(int(ip.split(".")[3]) >= 150 for ip in by_b), by_b
    # that each lease also reached the partner's journal shows in the next
    # test: the survivor renews the dead rack's clients at their addresses
    pair["leases"] = got


def journal(rack):
    """The rack's lease store as its files hold it (read only, also while
    it runs): {ip: record} of the records that bind a client."""
    out = subprocess.run([RACKD, "--dump-leases", "--state-dir", rack.state_dir], check=True, capture_output=True,
                         text=True, timeout=30).stdout
    recs = [json.loads(ln) for ln in out.splitlines() if ln.strip()]
    return {r["ip"]: r for r in recs}


@alone
def test_kill_9_of_a_rack_mid_load_loses_no_ack(pair):
    """Three clients take new leases one after another while the secondary
    is killed (-9) mid-way. Every ACK a client saw is in the survivor's
    journal (an ACK of the secondary left only once the primary had the
    lease) and, for the secondary's, in its own; the clients the dead rack
    served before are served by the survivor after, and nobody is left
    without a lease."""
    net, a, b = pair["net"], pair["a"], pair["b"]
    both_normal(pair)
    hosts = [pair.setdefault(f"c{k}", net.host(f"c{k}")) for k in (2, 3, 4)]
    acks, failed, lock = [], [], threading.Lock()

    def run(k, ns):
        for i in range(8):
            mac = f"02:46:00:{k:02x}:0b:{i:02x}"
            sh("ip", "-n", ns, "link", "set", "eth0", "down")
            sh("ip", "-n", ns, "link", "set", "eth0", "address", mac)
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            try:
                env = udhcpc(net, ns, name=f"udhcpc-load-{k}-{i}", extra=["-t", "8", "-T", "1"], timeout=20)
            except AssertionError as e:  # recorded: the test fails on it below
                with lock:
                    failed.append((mac, str(e)[-300:]))
                continue
            with lock:
                acks.append((mac, env["ip"], env["serverid"]))
    threads = [threading.Thread(target=run, args=(k, ns), daemon=True) for k, ns in zip((2, 3, 4), hosts)]
    for t in threads:
        t.start()
    wait_for(lambda: len([x for x in acks if x[2] == RACK_B_IP]) >= 2 and len(acks) >= 6, timeout=60,
             what="the secondary to have ACKed some of the load")
    b.daemon.stop(sig=signal.SIGKILL)
    killed_at = len(acks)
    for t in threads:
        t.join(120)
    assert not failed, failed
    assert len(acks) == 24 and killed_at < 24, acks
    assert len({ip for _, ip, _ in acks}) == len({mac for mac, _, _ in acks}), acks  # no address twice
    by_b = [(mac, ip) for mac, ip, srv in acks if srv == RACK_B_IP]
    after = acks[killed_at + 3:]  # past the ones in flight at the kill
    assert by_b and after and all(srv == RACK_IP for _, _, srv in after), acks
    ja, jb = journal(a), journal(b)  # b is dead: its files as the kill left them
    # (a lease A gave alone is capped at the MCLT, 3 s here, so it may have
    # run out since: "expired", the client's record still)
    for mac, ip, srv in acks:
        rec = ja.get(ip, {})
        assert rec.get("mac") == mac and rec["state"] in ("active", "expired"), (mac, ip, srv, rec)
    for mac, ip in by_b:
        assert jb.get(ip, {}).get("mac") == mac and jb[ip]["state"] == "active", (mac, ip, jb.get(ip))
    # back, the secondary merges and holds every lease too
    b.start(extra=pair["b_extra"])
    both_normal(pair)
    jb = journal(b)
    for mac, ip, srv in acks:
        assert jb.get(ip, {}).get("mac") == mac, (mac, ip, srv, jb.get(ip))


def test_a_rack_whose_partner_died_renews_its_clients_at_the_same_address(pair):
    net, a, b = pair["net"], pair["a"], pair["b"]
    got = pair["leases"]
    a_macs = [m for m, e in got.items() if e["serverid"] == RACK_IP]
    b.daemon.stop(sig=signal.SIGKILL)
    a.daemon.wait_log("dhcp-ha: VLAN 46: normal -> communications-interrupted", timeout=15)
    c = pair["c1"]
    # B's clients come back to A, which knows their leases from B's
    # updates: same address, now from A
    for mac in [m for m in got if m not in a_macs][:4]:
        env = lease_as(net, c, mac, extra=["-r", got[mac]["ip"]])
        assert env["serverid"] == RACK_IP and env["ip"] == got[mac]["ip"], (mac, got[mac], env)
    # a new client gets an address of A's own share
    env = lease_as(net, c, "02:46:00:00:02:01")
    assert env["serverid"] == RACK_IP and int(env["ip"].split(".")[3]) < 150, env
    b.start(extra=pair["b_extra"])
    both_normal(pair)
    b.daemon.wait_log("dhcp-ha: VLAN 46: recover -> normal", timeout=30)


def leases_of(region):
    st, out = region.api("GET", "/api/v1/ip-addresses?owner_kind=dhcp_lease&limit=1000")
    assert st == 200, out
    return {r["ip"]: r["lease_mac"] for r in out["ip_addresses"]}


def test_the_pair_serves_with_the_region_stopped_and_reports_every_lease_after(pair):
    """A site keeps its HA while the region is away: the racks talk to each
    other directly. The leases taken meanwhile reach the region once it is
    back (each rack's full report after reconnecting)."""
    net, region, a, b = pair["net"], pair["region"], pair["a"], pair["b"]
    both_normal(pair)
    c = pair.setdefault("c1", net.host("c1"))
    left_a = a.daemon.text().count("dhcp-ha: VLAN 46: normal -> ")
    left_b = b.daemon.text().count("dhcp-ha: VLAN 46: normal -> ")
    region.stop()
    got = {}
    for i in range(6):
        mac = f"02:46:00:00:04:{i:02x}"
        env = lease_as(net, c, mac)
        assert env["serverid"] == (RACK_IP if rfc3074_bucket(mac) < 128 else RACK_B_IP), (mac, env)
        got[env["ip"]] = mac
    assert len(set(got)) == 6, got
    # nothing left NORMAL: the region's absence is no reason to
    assert a.daemon.text().count("dhcp-ha: VLAN 46: normal -> ") == left_a, a.daemon.text()
    assert b.daemon.text().count("dhcp-ha: VLAN 46: normal -> ") == left_b, b.daemon.text()
    region.start()
    def reported():
        have = leases_of(region)
        return have if all(have.get(ip) == mac for ip, mac in got.items()) else None
    have = wait_for(reported, timeout=60, what="the leases taken while the region was away reported")
    # one row per address, the client's MAC on it
    assert len(have) == len(set(have)) and len(set(have.values())) == len(have), have


def test_partner_down_by_command_takes_the_partners_share_only_after_the_mclt(pair):
    net, region, a, b = pair["net"], pair["region"], pair["a"], pair["b"]
    vlan = pair["vlan"]["id"]
    both_normal(pair)
    # refused while A still hears B
    st, out = region.api("POST", f"/api/v1/vlans/{vlan}/dhcp-partner-down", {"rack": a.rack_id})
    assert st == 409 and "still hears its partner" in out["error"]["message"], (st, out)
    b.daemon.stop(sig=signal.SIGKILL)
    link_state(region, a, up=False)
    c = pair.setdefault("c1", net.host("c1"))
    out = cli(region, "racks", "dhcp-partner-down", a.rack_id).stdout
    t0 = time.monotonic()
    assert f"rack {a.rack_id} holds partner-down on VLAN {vlan}" in out, out
    a.daemon.wait_log("dhcp-ha: VLAN 46: partner-down: the operator says", timeout=15)
    a.daemon.wait_log("dhcp-ha: VLAN 46: communications-interrupted -> partner-down", timeout=15)
    # before the MCLT has passed, an address of B's share is not given
    env = lease_as(net, c, "02:46:00:00:05:01", extra=["-r", "10.46.0.190"])
    early = time.monotonic() - t0
    if early < MCLT_S:
        assert env["ip"] != "10.46.0.190" and int(env["ip"].split(".")[3]) < 150, env
    a.daemon.wait_log("the MCLT has passed since partner-down", timeout=30)
    assert time.monotonic() - t0 >= MCLT_S
    env = lease_as(net, c, "02:46:00:00:05:02", extra=["-r", "10.46.0.190"])
    assert env["ip"] == "10.46.0.190" and env["serverid"] == RACK_IP, env
    out = cli(region, "racks", "dhcp", a.rack_id).stdout
    assert f"partner-down held by {a.rack_id}" in out and "state partner-down" in out, out
    # B comes back: it learns of the partner-down in its welcome, stays in
    # RECOVER until it has merged with A; then both are normal, the region
    # ends the partner-down, and B knows .190 is taken
    b.start(extra=pair["b_extra"])
    b.daemon.wait_log(f"dhcp-ha: VLAN 46: {a.rack_id} holds partner-down against this rack", timeout=30)
    both_normal(pair)
    region.daemon.wait_log(f"the partner-down rack {a.rack_id} held is over", timeout=30)
    def cleared():
        ha = ok(region, "GET", f"/api/v1/racks/{b.rack_id}/dhcp")["ha"][0]
        return ha if ha["partner_down_by"] is None else None
    wait_for(cleared, timeout=30, what="the partner-down ended")
    mac_b = next(f"02:46:00:00:06:{i:02x}" for i in range(256) if rfc3074_bucket(f"02:46:00:00:06:{i:02x}") >= 128)
    env = lease_as(net, c, mac_b, extra=["-r", "10.46.0.190"])
    assert env["serverid"] == RACK_B_IP and env["ip"] != "10.46.0.190", env


def auto_down(pair, secs):
    """Set the VLAN's dhcp_ha_auto_down (None: regiond.conf's, 1 h) and
    wait until both racks hold it."""
    region, vlan = pair["region"], pair["vlan"]["id"]
    racks = (pair["a"], pair["b"])
    stored = [r.daemon.text().count("stored config version") for r in racks]
    ok(region, "PATCH", f"/api/v1/vlans/{vlan}", {"dhcp_ha_auto_down": secs})
    want = 3600 if secs is None else secs
    for rack, n in zip(racks, stored):
        def held(rack=rack):
            ha = ok(region, "GET", f"/api/v1/racks/{rack.rack_id}/dhcp")["ha"]
            return ha if ha and ha[0]["auto_down_s"] == want else None
        wait_for(held, timeout=20, what=f"{rack.name} holds dhcp_ha_auto_down {want}")
        rack.daemon.wait_log("stored config version", timeout=20, count=n + 1)


def free_in_b_half(region):
    taken = leases_of(region)
    return next(f"10.46.0.{i}" for i in range(199, 149, -1) if f"10.46.0.{i}" not in taken)


def test_a_rack_cut_off_from_partner_and_region_fences(pair):
    """With automatic partner-down on, a rack that hears neither its
    partner nor the region for half of dhcp_ha_auto_down is FENCED: it
    gives nothing new (the region may be about to give its share to the
    partner), until one of them answers."""
    net, region, a, b = pair["net"], pair["region"], pair["a"], pair["b"]
    both_normal(pair)
    auto_down(pair, 3)
    out = cli(region, "racks", "dhcp", a.rack_id).stdout
    assert "automatic partner-down after 3s unheard; fenced after 1s alone" in out, out
    c = pair.setdefault("c1", net.host("c1"))
    fenced_a = a.daemon.text().count("-> fenced (fence-timeout")
    fenced_b = b.daemon.text().count("-> fenced (fence-timeout")
    try:
        region.stop()
        pair["cutter"].partition()
        a.daemon.wait_log("dhcp-ha: VLAN 46: communications-interrupted -> fenced (fence-timeout", timeout=15,
                          count=fenced_a + 1)
        b.daemon.wait_log("dhcp-ha: VLAN 46: communications-interrupted -> fenced (fence-timeout", timeout=15,
                          count=fenced_b + 1)
        a.daemon.wait_log("fenced: neither", timeout=5)
        # a new client gets no address from either rack
        with pytest.raises(AssertionError, match="no lease"):
            lease_as(net, c, "02:46:00:00:08:01", extra=["-t", "2", "-T", "1"])
        # the partner answers again: RECOVER, then NORMAL, region or not
        pair["cutter"].heal()
        a.daemon.wait_log("dhcp-ha: VLAN 46: fenced -> recover", timeout=15)
        b.daemon.wait_log("dhcp-ha: VLAN 46: fenced -> recover", timeout=15)
        env = lease_as(net, c, "02:46:00:00:08:02")
        assert env["ip"].startswith("10.46.0."), env
    finally:
        pair["cutter"].heal()
        region.start()
    both_normal(pair)
    auto_down(pair, None)


def test_partner_down_by_the_witness_timer_takes_the_share_only_after_the_mclt(pair):
    """The region grants partner-down by itself to the rack that reports
    its partner lost once it has not heard from that partner for
    dhcp_ha_auto_down; the survivor serves the dead rack's share only after
    the MCLT, and the dead rack rejoins without giving an address twice."""
    net, region, a, b = pair["net"], pair["region"], pair["a"], pair["b"]
    vlan = pair["vlan"]["id"]
    both_normal(pair)
    auto_down(pair, 3)
    c = pair.setdefault("c1", net.host("c1"))
    want = free_in_b_half(region)
    first_event = max([e["id"] for e in ok(region, "GET", f"/api/v1/vlans/{vlan}/dhcp-ha-events?limit=1000")
                       ["events"]] or [0])
    try:
        b.daemon.stop(sig=signal.SIGKILL)
        t_kill = time.monotonic()
        a.daemon.wait_log("dhcp-ha: VLAN 46: normal -> communications-interrupted", timeout=15)
        region.daemon.wait_log(f"DHCP HA pair of VLAN {vlan}: partner-down granted by the region as witness: "
                               f"rack {b.rack_id} has not been heard from for", timeout=20)
        t_grant = time.monotonic()
        assert t_grant - t_kill >= 3, t_grant - t_kill
        a.daemon.wait_log("dhcp-ha: VLAN 46: partner-down granted by the region as witness", timeout=15)
        a.daemon.wait_log("dhcp-ha: VLAN 46: communications-interrupted -> partner-down (witness-grant",
                          timeout=15)
        env = lease_as(net, c, "02:46:00:00:09:01", extra=["-r", want])
        if time.monotonic() - t_grant < MCLT_S:
            assert env["ip"] != want and int(env["ip"].split(".")[3]) < 150, env
        a.daemon.wait_log("the MCLT has passed since partner-down", timeout=30,
                          count=a.daemon.text().count("the MCLT has passed since partner-down") + 1)
        assert time.monotonic() - t_grant >= MCLT_S
        env = lease_as(net, c, "02:46:00:00:09:02", extra=["-r", want])
        assert env["ip"] == want and env["serverid"] == RACK_IP, env
        out = cli(region, "racks", "dhcp", a.rack_id).stdout
        assert f"partner-down held by {a.rack_id} (granted by the region as witness)" in out, out
        # B comes back: held down, it merges with A before it gives anything
        over = region.daemon.text().count(f"the partner-down rack {a.rack_id} held is over")
        b.start(extra=pair["b_extra"])
        b.daemon.wait_log(f"dhcp-ha: VLAN 46: {a.rack_id} holds partner-down against this rack", timeout=30)
        both_normal(pair)
        region.daemon.wait_log(f"the partner-down rack {a.rack_id} held is over", timeout=30, count=over + 1)
        def cleared():
            ha = ok(region, "GET", f"/api/v1/racks/{b.rack_id}/dhcp")["ha"][0]
            return ha if ha["partner_down_by"] is None else None
        wait_for(cleared, timeout=30, what="the witness's partner-down ended")
        # the pair's events tell the story, in order, once each
        events = ok(region, "GET", f"/api/v1/vlans/{vlan}/dhcp-ha-events?after={first_event}")["events"]
        story = [(e["kind"], e["rack"]) for e in events]
        want_order = [("link-down", a.rack_id), ("degraded", a.rack_id), ("partner-down", a.rack_id),
                      ("normal", a.rack_id), ("partner-down-over", a.rack_id)]
        it = iter(story)
        assert all(x in it for x in want_order), story  # in this order, others between
        assert ("degraded", a.rack_id) in story[story.index(("partner-down", a.rack_id)):], story
        pd = next(e for e in events if e["kind"] == "partner-down")
        assert pd["partner"] == b.rack_id and "granted by the region as witness" in pd["description"], pd
        assert not [e for e in events if e["kind"] == "conflict"], events
        out = cli(region, "racks", "dhcp-events", a.rack_id).stdout
        assert "partner-down granted by the region as witness" in out and "partner-down-over" in out, out
        mac_b = next(m for m in (f"02:46:00:00:0a:{i:02x}" for i in range(256)) if rfc3074_bucket(m) >= 128)
        env = lease_as(net, c, mac_b, extra=["-r", want])
        assert env["serverid"] == RACK_B_IP and env["ip"] != want, env
    finally:
        auto_down(pair, None)


def test_a_partition_between_the_racks_binds_no_address_twice(pair):
    """The racks lose each other (their link is cut; the clients still
    reach both) for a while under a stream of new clients, then meet again.
    Both serve everyone meanwhile, each from its own share; no address is
    ever bound to two MACs: the region's lease table and both racks'
    journals are watched throughout (at each look, the bindings still
    running in all three together), and the merge after the partition
    finds no conflict."""
    net, region, a, b = pair["net"], pair["region"], pair["a"], pair["b"]
    both_normal(pair)
    c = pair.setdefault("c1", net.host("c1"))
    seen, stop, twice_now, looks = {}, threading.Event(), [], [0]

    def watch():
        while not stop.is_set():
            try:
                for ip, mac in leases_of(region).items():
                    seen.setdefault(ip, set()).add(mac)
                now, live = time.time(), {}
                for rack in (a, b):
                    for ip, rec in journal(rack).items():
                        if rec["state"] == "active" and rec["expiry"] > now:
                            live.setdefault(ip, set()).add(rec["mac"])
                twice_now.extend((ip, macs) for ip, macs in live.items() if len(macs) > 1)
                looks[0] += 1
            except Exception:  # noqa: BLE001 - a slow answer is not a finding
                pass
            time.sleep(0.1)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    ci_a = a.daemon.text().count("normal -> communications-interrupted")
    ci_b = b.daemon.text().count("normal -> communications-interrupted")
    pair["cutter"].partition()
    a.daemon.wait_log("dhcp-ha: VLAN 46: normal -> communications-interrupted", timeout=15, count=ci_a + 1)
    b.daemon.wait_log("dhcp-ha: VLAN 46: normal -> communications-interrupted", timeout=15, count=ci_b + 1)
    got = {}
    for i in range(12):
        mac = f"02:46:00:00:07:{i:02x}"
        env = lease_as(net, c, mac)
        half_a = int(env["ip"].split(".")[3]) < 150
        assert half_a == (env["serverid"] == RACK_IP), env  # each from its own share
        got[mac] = env["ip"]
    assert len(set(got.values())) == len(got), got
    pair["cutter"].heal()
    sa, sb = both_normal(pair)
    time.sleep(1)
    stop.set()
    watcher.join(5)
    twice = {ip: macs for ip, macs in seen.items() if len(macs) > 1}
    assert not twice, twice
    assert not twice_now, twice_now
    assert looks[0] >= 10, looks  # the journals were read all along
    assert all(seen.get(ip) == {mac} for mac, ip in got.items()), (got, seen)
    assert sa["conflicts"] == 0 and sb["conflicts"] == 0, (sa, sb)
    events = ok(region, "GET", f"/api/v1/vlans/{pair['vlan']['id']}/dhcp-ha-events?limit=1000")["events"]
    assert not [e for e in events if e["kind"] == "conflict"], events


def test_a_secondary_removed_while_cut_off_leaves_its_share_unused_for_the_mclt(pair):
    """The operator removes the VLAN's secondary while the two cannot reach
    each other: the secondary may have given addresses of its share alone,
    so the primary takes that share only once the MCLT has passed."""
    net, region, a, b = pair["net"], pair["region"], pair["a"], pair["b"]
    vlan = pair["vlan"]["id"]
    both_normal(pair)
    c = pair.setdefault("c1", net.host("c1"))
    want = free_in_b_half(region)
    ci_a = a.daemon.text().count("normal -> communications-interrupted")
    pair["cutter"].partition()
    try:
        a.daemon.wait_log("dhcp-ha: VLAN 46: normal -> communications-interrupted", timeout=15, count=ci_a + 1)
        ok(region, "PATCH", f"/api/v1/vlans/{vlan}", {"secondary_rack": None})
        a.daemon.wait_log("VLAN 46 left its DHCP HA pair while communications-interrupted: the partner's share "
                          "becomes this rack's in 4s", timeout=20)
        t0 = time.monotonic()
        env = lease_as(net, c, "02:46:00:00:0f:01", extra=["-r", want])
        if time.monotonic() - t0 < MCLT_S:
            assert env["ip"] != want and int(env["ip"].split(".")[3]) < 150, env
        a.daemon.wait_log("VLAN 46: the MCLT has passed since it left its pair", timeout=20)
        assert time.monotonic() - t0 >= MCLT_S
        env = lease_as(net, c, "02:46:00:00:0f:02", extra=["-r", want])
        assert env["ip"] == want and env["serverid"] == RACK_IP, env
    finally:
        pair["cutter"].heal()
        ok(region, "PATCH", f"/api/v1/vlans/{vlan}", {"secondary_rack": b.rack_id})
    both_normal(pair)
    # B had the lease in its view? It was cut off: it learns it at the merge
    # and does not give the address again
    mac_b = next(m for m in (f"02:46:00:00:10:{i:02x}" for i in range(256)) if rfc3074_bucket(m) >= 128)
    env = lease_as(net, c, mac_b, extra=["-r", want])
    assert env["serverid"] == RACK_B_IP and env["ip"] != want, env


def test_the_primary_redials_a_secondary_that_died_and_keeps_serving(pair):
    net, a, b = pair["net"], pair["a"], pair["b"]
    a.daemon.wait_log(f"dhcp-ha: link to partner {b.rack_id} (secondary) up", timeout=30)
    b.daemon.stop(sig=signal.SIGKILL)
    a.daemon.wait_log(f"dhcp-ha: link to partner {b.rack_id} down", timeout=15)
    # the region hears of it, says the pair is degraded, and shows why
    link = link_state(pair["region"], a, up=False)["ha"][0]["link"]
    assert link["last_error"] and link["up"] is False, link
    pair["region"].daemon.wait_log(f"DHCP HA pair of VLAN {pair['vlan']['id']} degraded: rack {a.rack_id} lost "
                                   f"its link to {b.rack_id}", timeout=10)
    # clients are served by the primary while its partner is away
    c = pair.setdefault("c1", net.host("c1"))
    env = lease_as(net, c, "02:46:00:00:03:01")
    assert env["ip"].startswith("10.46.0.") and env["serverid"] == RACK_IP, env
    b.start(extra=pair["b_extra"])
    a.daemon.wait_log(f"dhcp-ha: link to partner {b.rack_id} (secondary) up", timeout=30, count=2)
    b.daemon.wait_log(f"dhcp-ha: link to partner {a.rack_id} (primary) up", timeout=30)
    link_state(pair["region"], a, up=True)


def mac_of_bucket(prefix, primary):
    """A MAC starting with prefix whose RFC 3074 bucket the primary (or the
    secondary) answers."""
    return next(m for m in (f"{prefix}:{i:02x}" for i in range(256)) if (rfc3074_bucket(m) < 128) == primary)


def test_a_paired_vlans_dynamic_ranges_change_only_without_its_secondary(pair):
    """A range that changed under a running pair would leave addresses both
    racks believe theirs: the region refuses it while the VLAN has a
    secondary; without it the primary serves alone, and when the secondary
    is set again the two split the new ranges."""
    region, vlan = pair["region"], pair["vlan"]["id"]
    both_normal(pair)
    st, out = region.api("POST", "/api/v1/ip-ranges", {"subnet": NET, "type": "dynamic", "start_ip": "10.46.0.210",
                                                       "end_ip": "10.46.0.220"})
    assert st == 409 and "remove the VLAN's secondary_rack" in out["error"]["message"], (st, out)
    # reserved ranges are not split between the racks
    st, out = region.api("POST", "/api/v1/ip-ranges", {"subnet": NET, "type": "reserved",
                                                       "start_ip": "10.46.0.230", "end_ip": "10.46.0.231"})
    assert st in (200, 201), out
    ok(region, "PATCH", f"/api/v1/vlans/{vlan}", {"secondary_rack": None})
    ok(region, "POST", "/api/v1/ip-ranges", {"subnet": NET, "type": "dynamic", "start_ip": "10.46.0.210",
                                             "end_ip": "10.46.0.220"})
    ok(region, "PATCH", f"/api/v1/vlans/{vlan}", {"secondary_rack": pair["b"].rack_id})
    pair["b"].daemon.wait_log("held back until the pair splits it again", timeout=30)
    # B relinks, and the two split the new range when they meet
    pair["a"].daemon.wait_log("split: 10.46.0.210-10.46.0.215 is this rack's share", timeout=30)
    pair["b"].daemon.wait_log("split: 10.46.0.216-10.46.0.220 is this rack's share", timeout=30)
    both_normal(pair)
    # the new range is split too: .210-.215 the primary's, .216-.220 the
    # secondary's; neither gives the other's
    net = pair["net"]
    c = pair.setdefault("c1", net.host("c1"))
    env = lease_as(net, c, mac_of_bucket("02:46:00:00:09", primary=True), extra=["-r", "10.46.0.218"])
    assert env["serverid"] == RACK_IP and env["ip"] != "10.46.0.218", env
    env = lease_as(net, c, mac_of_bucket("02:46:00:00:0a", primary=False), extra=["-r", "10.46.0.212"])
    assert env["serverid"] == RACK_B_IP and env["ip"] != "10.46.0.212", env
    env = lease_as(net, c, mac_of_bucket("02:46:00:00:0b", primary=False), extra=["-r", "10.46.0.218"])
    assert env["serverid"] == RACK_B_IP and env["ip"] == "10.46.0.218", env


def test_swapping_the_roles_relinks_the_other_way(pair):
    """The VLAN's primary and secondary swap: each rack stops its old link
    and starts the new one (B now dials A, which listens)."""
    region, a, b = pair["region"], pair["a"], pair["b"]
    link_state(region, a, up=True)
    ok(region, "PATCH", f"/api/v1/vlans/{pair['vlan']['id']}",
       {"primary_rack": b.rack_id, "secondary_rack": a.rack_id})
    a.daemon.wait_log(f"dhcp-ha: link to partner {b.rack_id} (primary) up", timeout=30)
    b.daemon.wait_log(f"dhcp-ha: link to partner {a.rack_id} (secondary) up", timeout=30)
    da = link_state(region, a, up=True)
    assert [(p["role"], p["partner"]) for p in da["ha"]] == [("secondary", b.rack_id)], da
    assert "link with" in a.daemon.text() and "stopped (the pair changed or is gone)" in a.daemon.text()
    # both gave up their old halves and split again: B, the primary now,
    # gives its buckets addresses of the lower half, A of the upper
    both_normal(pair)
    net = pair["net"]
    c = pair.setdefault("c1", net.host("c1"))
    for i in range(6):
        mac = f"02:46:00:00:08:{i:02x}"
        env = lease_as(net, c, mac)
        if rfc3074_bucket(mac) < 128:
            assert env["serverid"] == RACK_B_IP and int(env["ip"].split(".")[3]) < 150, (mac, env)
        else:
            assert env["serverid"] == RACK_IP and 150 <= int(env["ip"].split(".")[3]) < 200, (mac, env)


def test_rebalancing_gives_the_short_rack_free_addresses_of_the_partners_share(pair):
    """With ha_rebalance on, a rack whose free share of a range falls below
    half of its partner's gets free addresses of the partner's share: the
    partner marks them given in its journal first, then grants them, and
    neither gives an address that is the other's. After the role swap B is
    the primary: its clients drain its share."""
    net, region, a, b = pair["net"], pair["region"], pair["a"], pair["b"]
    for rack, extra in ((a, pair["a_extra"]), (b, pair["b_extra"])):
        rack.stop()
        rack.start(extra=[*extra, "--ha-rebalance", "on"])
    both_normal(pair)
    c = pair.setdefault("c1", net.host("c1"))

    def shares():
        st = ok(region, "GET", f"/api/v1/racks/{b.rack_id}/dhcp")["ha"][0]["link"]
        return st["free_own"], st["free_partner"]
    own, partner = shares()
    ja_before = journal(a)
    # B's clients (the primary's buckets) take B's addresses until B has
    # less than half of A's free
    for i in range(max(0, own - partner // 2 + 1)):
        env = lease_as(net, c, mac_of_bucket(f"02:46:00:0c:{i:02x}", primary=True))
        assert env["serverid"] == RACK_B_IP and int(env["ip"].split(".")[3]) < 150, env
    b.daemon.wait_log("rebalance: took", timeout=30)
    a.daemon.wait_log(f"rebalance: gave {b.rack_id}", timeout=5)
    def grown():
        o, p = shares()
        return (o, p) if o > p // 2 else None
    wait_for(grown, timeout=20, what="B's share grown by the grant")
    # A gave from the top of its half, inside it, addresses no record
    # holds: the highest of those is B's now (the next one too, if given)
    unused = [ip for ip in (f"10.46.0.{i}" for i in range(198, 150, -1)) if ip not in ja_before]
    env = lease_as(net, c, mac_of_bucket("02:46:00:0d:00", primary=True), extra=["-r", unused[0]])
    assert env["serverid"] == RACK_B_IP and env["ip"] == unused[0], (unused[0], env)
    env = lease_as(net, c, mac_of_bucket("02:46:00:0e:00", primary=False), extra=["-r", unused[0]])
    assert env["serverid"] == RACK_IP and env["ip"] != unused[0], env
    # the grant went whole, over the link it was asked on
    assert "malformed" not in a.daemon.text() + b.daemon.text()
    assert "was not sent" not in a.daemon.text()
    # both journals agree: one client per address
    ja, jb = journal(a), journal(b)
    for ip, rec in ja.items():
        if rec["state"] == "active" and ip in jb and jb[ip]["state"] == "active":
            assert jb[ip]["mac"] == rec["mac"], (ip, rec, jb[ip])


def test_a_rebalancing_grant_lost_with_the_link_is_found_and_used_again(pair):
    """A grant that never reaches the asker leaves its addresses nobody's:
    the giver marked them the partner's, the asker never took them. A
    makes its next grant lost (IRONRACK_TEST_LOSE_GRANTS); on the next
    link the primary (B, since the swap) checks, finds them unowned in
    both maps, and makes them its own: B gives them to its clients, A
    still does not."""
    net, region, a, b = pair["net"], pair["region"], pair["a"], pair["b"]
    a.stop()
    a.start(extra=[*pair["a_extra"], "--ha-rebalance", "on"], env={"IRONRACK_TEST_LOSE_GRANTS": "1"})
    both_normal(pair)
    c = pair.setdefault("c1", net.host("c1"))
    # B's clients drain B's share until B asks A for more
    for i in range(40):
        if "lost on purpose" in a.daemon.text():
            break
        env = lease_as(net, c, mac_of_bucket(f"02:46:00:10:{i:02x}", primary=True))
        assert env["serverid"] == RACK_B_IP, env
    a.daemon.wait_log("lost on purpose", timeout=30)
    m = re.search(r"the grant of (\d+) addresses to \S+ \(first run ([\d.]+)-([\d.]+)\)", a.daemon.text())
    lost, first = int(m.group(1)), m.group(2)
    assert lost > 0, m.group(0)
    # nobody's: neither rack gives it to its own clients
    for prefix, primary in (("02:46:00:11:00", True), ("02:46:00:11:01", False)):
        env = lease_as(net, c, mac_of_bucket(prefix, primary=primary), extra=["-r", first])
        assert env["ip"] != first, (first, env)
    # a new link: B checks at once and takes them
    a.stop()
    a.start(extra=[*pair["a_extra"], "--ha-rebalance", "on"])
    b.daemon.wait_log(f"{lost} addresses neither rack owned", timeout=30)
    both_normal(pair)
    # B's now: B gives it, A still does not
    env = lease_as(net, c, mac_of_bucket("02:46:00:11:02", primary=False), extra=["-r", first])
    assert env["serverid"] == RACK_IP and env["ip"] != first, (first, env)
    env = lease_as(net, c, mac_of_bucket("02:46:00:11:03", primary=True), extra=["-r", first])
    assert env["serverid"] == RACK_B_IP and env["ip"] == first, (first, env)
    # and A does not count them its own: both journals agree on every client
    ja, jb = journal(a), journal(b)
    for ip, rec in ja.items():
        if rec["state"] == "active" and ip in jb and jb[ip]["state"] == "active":
            assert jb[ip]["mac"] == rec["mac"], (ip, rec, jb[ip])


def replies_in(pcap):
    """The DHCP replies in a tcpdump capture (Ethernet, microsecond pcap):
    [(seconds, message type, chaddr, yiaddr, server id)] in wire order."""
    data = open(pcap, "rb").read()
    assert data[:4] == b"\xd4\xc3\xb2\xa1", "not a little-endian microsecond pcap"
    out, off = [], 24
    while off + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack_from("<IIII", data, off)
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(pkt) < 14 + 20 or pkt[12:14] != b"\x08\x00" or pkt[23] != 17:
            continue
        bootp = 14 + (pkt[14] & 15) * 4 + 8
        if len(pkt) < bootp + 240 or pkt[bootp] != 2 or pkt[bootp + 236:bootp + 240] != b"\x63\x82\x53\x63":
            continue
        opts, i = {}, bootp + 240
        while i < len(pkt) and pkt[i] != 255:
            if pkt[i] == 0:
                i += 1
                continue
            opts[pkt[i]] = pkt[i + 2:i + 2 + pkt[i + 1]]
            i += 2 + pkt[i + 1]
        out.append((sec + usec / 1e6, opts.get(53, b"\0")[0], pkt[bootp + 28:bootp + 34].hex(":"),
                    socket.inet_ntoa(pkt[bootp + 16:bootp + 20]), socket.inet_ntoa(opts.get(54, b"\0\0\0\0"))))
    return out


@plain_pass_only  # a load test: its code paths run under the sanitizers in the udhcpc kill -9 test
@alone
def test_kill_9_under_perfdhcp_load_loses_no_ack(pair):
    """perfdhcp (Kea's load generator, a relay on the clients' LAN sending
    to 255.255.255.255, 16 clients over and over at 40 exchanges/s) runs
    while one rack is killed (-9). Every ACK either rack sent, as captured
    on perfdhcp's wire, is in the survivor's journal for that client, and
    those of the dead rack in its own journal; the survivor goes on
    answering all the clients, the dead rack's at the addresses it gave."""
    needs_tools("perfdhcp", "tcpdump")
    net, a, b = pair["net"], pair["a"], pair["b"]
    both_normal(pair)
    perf = pair.setdefault("perf", net.host("perf", addrs=["10.46.0.3/24"], mac="02:00:00:00:00:03"))
    pcap = os.path.join(net.workdir, "perfdhcp-replies.pcap")
    dump = net.spawn(perf, ["tcpdump", "-i", "eth0", "-n", "--immediate-mode", "-U", "-w", pcap,
                            "udp and dst host 10.46.0.3 and dst port 67"], "tcpdump-perfdhcp")
    wait_for(lambda: "listening on" in open(dump.log_path, errors="replace").read(), timeout=20,
             what="tcpdump capturing")
    load = net.spawn(perf, ["perfdhcp", "-4", "-l", "eth0", "-b", "mac=02:46:00:0f:00:00", "-R", "16", "-r", "40",
                            "-p", "9", "all"], "perfdhcp-kill9")  # all: 255.255.255.255, SO_BROADCAST
    time.sleep(3)
    t_kill = time.time()
    b.daemon.stop(sig=signal.SIGKILL)
    load.wait(30)
    time.sleep(0.5)
    net.stop(dump, sig=signal.SIGINT)
    out = open(load.log_path, errors="replace").read()
    sent = [int(x) for x in re.findall(r"sent packets: (\d+)", out)]
    assert sent and sent[0] >= 200, out
    acks = [(t, mac, ip, srv) for t, kind, mac, ip, srv in replies_in(pcap) if kind == 5]
    before = [x for x in acks if x[0] < t_kill]
    after = [x for x in acks if x[0] > t_kill + 2]  # past detection: the survivor answers everyone
    assert before and after, (len(acks), out)
    assert {srv for _, _, _, srv in before} == {RACK_IP, RACK_B_IP}, before  # both answered
    assert {srv for _, _, _, srv in after} == {RACK_IP}, after
    # one address per client, one client per address, over the whole run
    ip_of = {}
    for _, mac, ip, _ in acks:
        assert ip_of.setdefault(mac, ip) == ip, (mac, ip, ip_of[mac])
    assert len(set(ip_of.values())) == len(ip_of), ip_of
    # every ACK sent is in the survivor's journal, the dead rack's in its own
    ja, jb = journal(a), journal(b)
    for _, mac, ip, srv in acks:
        assert ja.get(ip, {}).get("mac") == mac and ja[ip]["state"] in ("active", "expired"), (mac, ip, srv, ja.get(ip))
        if srv == RACK_B_IP:
            assert jb.get(ip, {}).get("mac") == mac and jb[ip]["state"] == "active", (mac, ip, jb.get(ip))
    # the dead rack's clients came back to the survivor at their addresses
    b_clients = {mac for _, mac, _, srv in before if srv == RACK_B_IP}
    assert b_clients & {mac for _, mac, _, _ in after}, (b_clients, after)
    b.start(extra=pair["b_extra"])
    both_normal(pair)
