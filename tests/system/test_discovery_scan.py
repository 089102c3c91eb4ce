"""Active discovery end to end (docs/discovery.md, "The active scan"): a
real rack (rackd --netns) serving DHCP on a VLAN is told by the region
which subnets it may ARP-scan; a silent host (it answers ARP and sends
nothing on its own) shows up in `ironrack discoveries list` only once
`ironrack subnets scan CIDR` has the rack scan the subnet, and the scan's
ARP requests, counted in the host's namespace, stay under the rack's
discovery_scan_rate. Turning active_discovery on scans at once. A subnet
the rack has no address in is not in its config, and the rack refuses to
scan it. One region and one rack for the module.

    <prefix>-sw      br0
    <prefix>-rack    eth0 10.45.0.1/27 (serves DHCP; discovery_scan_rate 20)
    <prefix>-silent  eth0 10.45.0.20/27: no IPv6, no gratuitous ARP, nothing
                     running; tcpdump there counts what arrives and leaves
    <prefix>-later   eth0 10.45.0.21/27, made after the first scan
"""

import json
import os
import re
import signal
import time
from datetime import datetime

import pytest

from conftest import cli, needs_root, needs_tools, wait_for
from disclab import discovery_lab
from nethelp import ok

NET, RACK_IP, RACK_MAC = "10.45.0.0/27", "10.45.0.1", "02:00:00:00:00:01"
S_IP, S_MAC = "10.45.0.20", "02:00:00:00:45:14"
L_IP, L_MAC = "10.45.0.21", "02:00:00:00:45:15"
OTHER = "10.45.1.0/24"  # same VLAN, no rack address in it
RATE = 20  # ARP requests per second (discovery_scan_rate)
PROBES = 29  # hosts .1-.30 of the /27 without the rack's .1


@pytest.fixture(scope="module")
def site():
    needs_root()
    needs_tools("ip", "tcpdump")
    yield from discovery_lab("irdscan-", "irds", 45, NET, RACK_IP, ("10.45.0.24", "10.45.0.28"),
                             rack_extra=["--discovery-scan-rate", str(RATE)], subnets=[OTHER],
                             wait=["discovery: 1 subnets may be scanned (0 every interval"])


def silent_host(net, name, ip, mac):
    """A namespace whose kernel answers ARP for ip and sends nothing else:
    IPv6 off before its interface arrives, no ARP on link up (arp_notify 0),
    the address added before the link comes up."""
    ns = f"{net.prefix}-{name}"
    net._ns(ns)
    net.run(ns, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1",
                 "net.ipv4.conf.all.arp_notify=0", "net.ipv4.conf.default.arp_notify=0"])
    net._port(ns, "eth0", "br0", mac, [f"{ip}/27"])
    return ns


class Tcpdump:
    """ARP frames on the namespace's eth0, with their kernel timestamps."""

    def __init__(self, net, ns, name):
        self.path = os.path.join(net.workdir, f"{name}.log")
        self.p = net.spawn(ns, ["tcpdump", "-i", "eth0", "-n", "-e", "-tt", "-l", "--immediate-mode", "arp"],
                           name)
        self.net = net
        wait_for(lambda: "listening on" in self.text(), timeout=10, what="tcpdump listening")

    def text(self):
        with open(self.path, errors="replace") as f:
            return f.read()

    def frames(self):
        """(time, source MAC, line) of every ARP frame so far."""
        out = []
        for line in self.text().splitlines():
            m = re.match(r"(\d+\.\d+) ([0-9a-f:]{17}) > ", line)
            if m:
                out.append((float(m.group(1)), m.group(2), line))
        return out

    def stop(self):
        self.net.stop(self.p, sig=signal.SIGINT)


def discoveries(region):
    out = cli(region, "discoveries", "list", "--json").stdout
    return {(d["ip"], d["mac"]): d for d in json.loads(out)["discoveries"]}


def scans_of(region, rack):
    cfg = ok(region, "GET", f"/api/v1/racks/{rack.rack_id}/dhcp")
    return [s for i in cfg["interfaces"] for s in i["scans"]]


def test_region_lists_only_subnets_the_rack_is_on(site):
    region, rack = site["region"], site["rack"]
    scans = scans_of(region, rack)
    assert scans == [{"subnet": site["subnet"]["id"], "cidr": NET, "source": RACK_IP, "own": [RACK_IP],
                      "interval_s": 0}], scans
    # OTHER is on the served VLAN but holds no rack address: not in the
    # config, and the rack refuses to scan it when asked.
    bad = cli(region, "subnets", "scan", OTHER, check=False)
    assert bad.returncode != 0 and f"does not scan {OTHER}" in bad.stderr, bad
    assert "is not one this rack may scan" in bad.stderr, bad
    rack.daemon.wait_log("the region asked for a scan the rack refuses", timeout=10)


def test_silent_host_is_found_only_by_the_scan_and_the_rate_is_bounded(site):
    region, net, rack = site["region"], site["net"], site["rack"]
    ns = silent_host(net, "silent", S_IP, S_MAC)
    dump = Tcpdump(net, ns, "tcpdump-silent")
    try:
        # The host is on the link the rack watches, and sends nothing: the
        # capture has nothing to see (and below: it was first seen after the
        # scan began, so not from anything it sent while it came up).
        assert (S_IP, S_MAC) not in discoveries(region)
        assert not [f for f in dump.frames() if f[1] == S_MAC], dump.text()

        asked_at = time.time()
        out = cli(region, "subnets", "scan", NET).stdout
        assert f"rack {rack.rack_id}: scanning {NET} on eth0: {PROBES} addresses at {RATE} ARP requests/s" in out, out
        d = wait_for(lambda: discoveries(region).get((S_IP, S_MAC)), timeout=20, what="the silent host discovered")
        assert d["subnet_cidr"] == NET and d["interface"] == "eth0" and d["rack"] == rack.rack_id, d
        first = datetime.fromisoformat(d["first_seen"].replace("Z", "+00:00")).timestamp()
        assert first >= asked_at - 0.01, (d, asked_at)
        rack.daemon.wait_log(f"discovery: scan of {NET} done: {PROBES} ARP requests", timeout=20)
        # tcpdump sees the last request soon after the rack sent it
        wait_for(lambda: len([f for f in dump.frames() if f[1] == RACK_MAC and "Request who-has" in f[2]])
                 >= PROBES, timeout=5, what="every request in the host's namespace")
    finally:
        dump.stop()
    frames = dump.frames()
    requests = [t for t, mac, line in frames if mac == RACK_MAC and "Request who-has" in line]
    replies = [line for t, mac, line in frames if mac == S_MAC]
    # Every host address but the rack's, once; the host answered its own.
    asked = sorted(int(re.search(r"who-has 10\.45\.0\.(\d+) ", line).group(1))
                   for t, mac, line in frames if mac == RACK_MAC and "Request who-has" in line)
    assert asked == [i for i in range(2, 31)], asked
    assert len(replies) == 1 and f"Reply {S_IP} is-at {S_MAC}" in replies[0], replies
    # The bound: at most RATE (+ the bucket's one token) in any second, and
    # the whole scan no faster than RATE.
    worst = max(sum(1 for u in requests if t <= u < t + 1.0) for t in requests)
    span = requests[-1] - requests[0]
    measured = (len(requests) - 1) / span
    print(f"scan: {len(requests)} ARP requests in {span:.3f} s = {measured:.1f}/s; "
          f"at most {worst} in any second (bound {RATE}/s)")
    assert worst <= RATE + 1, (worst, requests)
    assert measured <= RATE * 1.05, (measured, requests)


def test_active_discovery_scans_when_turned_on(site):
    region, net, rack = site["region"], site["net"], site["rack"]
    silent_host(net, "later", L_IP, L_MAC)
    assert (L_IP, L_MAC) not in discoveries(region)
    cli(region, "subnets", "update", NET, "active_discovery=on", "discovery_interval=1m")
    shown = cli(region, "subnets", "show", NET).stdout
    assert re.search(r"Active discovery:\s+yes, every 1m0s", shown), shown
    d = wait_for(lambda: discoveries(region).get((L_IP, L_MAC)), timeout=30, what="the later host discovered")
    assert d["subnet_cidr"] == NET, d
    assert scans_of(region, rack)[0]["interval_s"] == 60
    rack.daemon.wait_log("discovery: 1 subnets may be scanned (1 every interval", timeout=5)
    # IPv6 and unserved subnets are refused by the region itself.
    ok(region, "POST", "/api/v1/subnets", {"cidr": "2001:db8:45::/64", "vlan": site["vlan"]["id"]})
    v6 = cli(region, "subnets", "scan", "2001:db8:45::/64", check=False)
    assert v6.returncode != 0 and "IPv4 subnets (ARP) only" in v6.stderr, v6
    lone = ok(region, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 46, "name": "lone"})
    ok(region, "POST", "/api/v1/subnets", {"cidr": "10.46.0.0/24", "vlan": lone["id"]})
    unserved = cli(region, "subnets", "scan", "10.46.0.0/24", check=False)
    assert unserved.returncode != 0 and "no rack serves VLAN 46" in unserved.stderr, unserved
