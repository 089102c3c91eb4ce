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
"""

import json
import os

import pytest

from conftest import ROOT, cli, needs_root, needs_tools, wait_for
from disclab import discovery_lab
from nethelp import ok

NET, RACK_IP = "10.44.0.0/24", "10.44.0.1"
RANGE = ("10.44.0.100", "10.44.0.199")
A_IP, A_MAC, A_MAC2 = "10.44.0.10", "02:00:00:00:44:0a", "02:00:00:00:44:aa"
B_IP, B_MAC, B_NAME = "10.44.0.2", "02:00:00:00:44:0b", "labhost.local"
SEND = os.path.join(ROOT, "tests", "system", "discsend.py")


@pytest.fixture(scope="module")
def site():
    needs_root()
    needs_tools("ip", "arping")
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
