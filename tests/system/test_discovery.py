"""Discovery end to end (docs/discovery.md): a real rack (rackd --netns)
serving DHCP on a VLAN watches its interface; hosts in other namespaces
that ARP for the rack (the kernel, arping) or announce a name over mDNS
(a raw frame from discsend.py) show up in `ironrack discoveries list` with
the right IP, MAC and name; a host that changes its MAC raises a possible
conflict event; claiming a discovery makes its address a device's static
one, which IPAM's next-free never hands out. One region and one rack for
the module.

    <prefix>-sw     br0
    <prefix>-rack   eth0 10.44.0.1/24 (the rack serves DHCP here)
    <prefix>-hA     eth0 10.44.0.10/24: its kernel ARPs for the rack; then it
                    changes MAC and arping asks again
    <prefix>-hB     eth0 10.44.0.2/24, announces labhost.local over mDNS
    <prefix>-hC     takes a lease with dhclient, giving its name (option 12)
    <prefix>-hD     eth0 10.44.0.20/24: avahi-daemon announces avahost.local
    <prefix>-hF     floods ARP (tests/tools/arpflood) while <prefix>-hG
                    takes leases with udhcpc

The flood test runs last: it leaves thousands of sightings behind.
"""

import json
import os
import re
import threading
import time

import pytest

from conftest import alone, BUILD, ROOT, cli, needs_root, needs_tools, plain_pass_only, wait_for
from dhcpnet import dhclient, udhcpc
from disclab import discovery_lab
from nethelp import ok

NET, RACK_IP = "10.44.0.0/24", "10.44.0.1"
RANGE = ("10.44.0.100", "10.44.0.199")
A_IP, A_MAC, A_MAC2 = "10.44.0.10", "02:00:00:00:44:0a", "02:00:00:00:44:aa"
B_IP, B_MAC, B_NAME = "10.44.0.2", "02:00:00:00:44:0b", "labhost.local"
C_MAC, C_NAME = "02:00:00:00:44:0c", "opt12host"
D_IP, D_MAC, D_NAME = "10.44.0.20", "02:00:00:00:44:0d", "avahost"
SEND = os.path.join(ROOT, "tests", "system", "discsend.py")
ARPFLOOD = os.path.join(BUILD, "tools", "arpflood")
AVAHI_CONF = """[server]
host-name=%s
domain-name=local
use-ipv4=yes
use-ipv6=no
enable-dbus=no
allow-interfaces=eth0
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
"""


@pytest.fixture(scope="module")
def site():
    needs_root()
    needs_tools("ip", "arping", "avahi-daemon", "dhclient", "busybox")
    yield from discovery_lab("irdisc-", "irdi", 44, NET, RACK_IP, RANGE)


def kernel_arp(net, ns, ip):
    """A datagram to ip: the namespace's kernel ARPs for it first."""
    net.run(ns, ["/usr/bin/python3", "-c",
                 f"import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('{ip}', 9))"])


def discoveries(region, *flags):
    out = cli(region, "discoveries", "list", "--json", *flags).stdout
    return {(d["ip"], d["mac"]): d for d in json.loads(out)["discoveries"]}


def seen(region, ip, mac, **want):
    def found():
        d = discoveries(region).get((ip, mac))
        return d if d and all(d.get(k) == v for k, v in want.items()) else None
    return wait_for(found, timeout=20, what=f"{ip} at {mac} {want} in discoveries list")


@pytest.fixture(scope="module")
def hosts(site):
    net = site["net"]
    a = net.host("hA", addrs=(f"{A_IP}/24",), mac=A_MAC)
    b = net.host("hB", addrs=(f"{B_IP}/24",), mac=B_MAC)
    return a, b


def test_arp_and_mdns_hosts_are_discovered(site, hosts):
    region, net = site["region"], site["net"]
    a, b = hosts
    kernel_arp(net, a, RACK_IP)
    frames = json.dumps([{"mdns": B_NAME, "mac": B_MAC, "ip": B_IP}])
    net.run(b, ["/usr/bin/python3", SEND, "eth0", frames])
    da = seen(region, A_IP, A_MAC)
    db = seen(region, B_IP, B_MAC, hostname=B_NAME)
    for d in (da, db):
        assert d["subnet_cidr"] == NET and d["vlan"] == site["vlan"]["id"], d
        assert d["rack"] == site["rack"].rack_id and d["interface"] == "eth0", d
        assert d["known"] is False and d["first_seen"] and d["last_seen"], d
    # The rack's own address is never a discovery (the capture is inbound
    # only), and --unknown lists both hosts.
    assert not any(ip == RACK_IP for ip, _ in discoveries(region))
    assert {(A_IP, A_MAC), (B_IP, B_MAC)} <= set(discoveries(region, "--unknown"))
    table = cli(region, "discoveries", "list").stdout
    line = next(x for x in table.splitlines() if x.startswith(B_IP + " "))
    assert B_MAC in line and B_NAME in line and NET in line and line.rstrip().endswith("no"), table


def test_a_host_that_changes_its_mac_raises_a_conflict(site, hosts):
    region, net = site["region"], site["net"]
    a, _ = hosts
    seen(region, A_IP, A_MAC)
    net.run(a, ["ip", "link", "set", "eth0", "address", A_MAC2])
    net.run(a, ["arping", "-c", "1", "-w", "2", "-i", "eth0", RACK_IP], check=False)
    seen(region, A_IP, A_MAC2)

    def conflict():
        out = json.loads(cli(region, "discoveries", "events", "--json").stdout)
        return next((e for e in out["events"] if e["ip"] == A_IP and e["mac"] == A_MAC2), None)
    ev = wait_for(conflict, timeout=10, what="the conflict event")
    assert ev["kind"] == "conflict" and ev["old_mac"] == A_MAC, ev
    assert "possible address conflict" in ev["description"], ev
    assert A_IP in ev["description"] and A_MAC in ev["description"] and A_MAC2 in ev["description"], ev
    assert "possible address conflict" in cli(region, "discoveries", "events").stdout
    assert "possible address conflict: " + A_IP in region.daemon.text()  # logged too


def test_a_lease_names_its_discovery_by_option_12(site):
    """dhclient sends host-name (option 12) with its request; once the
    client, with that address, ARPs for the rack, its discovery carries
    the name, from the lease."""
    region, net = site["region"], site["net"]
    c = net.host("hC", mac=C_MAC)
    ip = dhclient(net, c, name=C_NAME)["new_ip_address"]
    net.run(c, ["ip", "addr", "add", f"{ip}/24", "dev", "eth0"])
    kernel_arp(net, c, RACK_IP)
    d = seen(region, ip, C_MAC, hostname=C_NAME)
    assert d["hostname_source"] == "dhcp" and d["known"] is True, d
    assert d["known_as"] == f"a DHCP lease of {C_MAC} ({C_NAME})", d


def test_avahi_daemon_announcing_a_name_is_discovered(site):
    """A real mDNS responder: avahi-daemon in the host's namespace, in a
    private mount namespace (its /run a tmpfs), no D-Bus, IPv4 only."""
    region, net = site["region"], site["net"]
    d = net.host("hD", addrs=(f"{D_IP}/24",), mac=D_MAC)
    conf = os.path.join(net.workdir, "avahi.conf")
    with open(conf, "w") as f:
        f.write(AVAHI_CONF % D_NAME)
    p = net.spawn(d, ["unshare", "-m", "--propagation", "private", "sh", "-c",
                      "mount -t tmpfs tmpfs /run && mkdir -p /run/avahi-daemon && "
                      f"exec avahi-daemon -f {conf} --no-rlimits --no-chroot"], "avahi")
    try:
        got = seen(region, D_IP, D_MAC, hostname=D_NAME + ".local")
    finally:
        net.stop(p)
    assert got["hostname_source"] == "mdns" and got["known"] is False, got
    assert got["subnet_cidr"] == NET and got["interface"] == "eth0", got


def test_claim_makes_the_address_a_device_that_next_free_skips(site, hosts):
    region = site["region"]
    seen(region, B_IP, B_MAC, hostname=B_NAME)
    out = cli(region, "discoveries", "claim", B_IP, "--hostname", "labhost").stdout
    assert "labhost" in out and B_MAC in out and B_IP in out, out
    d = seen(region, B_IP, B_MAC)
    assert d["known"] is True and d["known_as"] == "device 'labhost'", d
    assert (B_IP, B_MAC) not in discoveries(region, "--unknown")
    dev = ok(region, "GET", "/api/v1/devices/labhost")
    assert B_IP in json.dumps(dev), dev
    # Claiming it again is refused: the address is held.
    again = cli(region, "discoveries", "claim", B_IP, "--hostname", "other", check=False)
    assert again.returncode != 0 and "held by" in again.stderr, again
    # With every sighting forgotten, nothing but the claim keeps the lowest
    # free address (10.44.0.2, the rack has .1) from IPAM's next-free.
    assert "forgotten" in cli(region, "discoveries", "clear").stdout
    assert discoveries(region) == {}
    got = ok(region, "POST", f"/api/v1/subnets/{NET.replace('/', '-')}/allocate-ip", {"mode": "auto"})
    assert got["ip"] != B_IP and got["ip"] == "10.44.0.3", got


@plain_pass_only
@alone
def test_an_arp_flood_leaves_dhcp_answering_and_reports_bounded(site):
    """50,000 ARP requests/s for 10 s from 50,000 senders (outside every
    subnet): the rack keeps answering DHCP all along, and what reaches the
    region stays within the rack's discovery_rate (100/s) and burst (500);
    the rest is counted as dropped and the region says so."""
    region, net, rack = site["region"], site["net"], site["rack"]
    f = net.host("hF")
    g = net.host("hG")
    total = lambda: ok(region, "GET", "/api/v1/discoveries?limit=1")["total"]  # noqa: E731
    before = total()
    out = {}

    def flood():
        out["r"] = net.run(f, [ARPFLOOD, "-i", "eth0", "-r", "50000", "-t", "10", "-N", "10.45.0.0"]).stdout
    t = threading.Thread(target=flood)
    started = time.monotonic()
    t.start()
    leases = []
    try:
        time.sleep(1)  # the flood is on
        while time.monotonic() - started < 9:
            leases.append(udhcpc(net, g, name=f"udhcpc{len(leases)}", timeout=20)["ip"])
    finally:
        t.join(60)
    m = re.search(r"sent=(\d+) elapsed_ms=(\d+)", out.get("r", ""))
    assert m, out
    sent, elapsed_s = int(m.group(1)), int(m.group(2)) / 1000
    assert sent >= 450000, out  # the flood really ran at (about) its rate
    assert len(leases) >= 2 and all(ip.startswith("10.44.0.") for ip in leases), leases
    region.daemon.wait_log("discovery dropped", timeout=20)
    time.sleep(2)  # the last batches land
    new = total() - before
    bound = 500 + 100 * (time.monotonic() - started) + 50
    assert 500 <= new <= bound, (new, bound, elapsed_s)
