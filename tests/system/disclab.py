"""The lab of the discovery system tests: one region and one rack
(rackd --netns) serving DHCP on a VLAN of their own, the rack's interface
observed (docs/discovery.md). Not a test module."""

import os
import shutil

from conftest import Rack, Region, make_dir
from dhcpnet import DhcpNet
from nethelp import ok


def discovery_lab(prefix, tag, vid, cidr, rack_ip, dhcp_range, rack_extra=(), subnets=(), wait=()):
    """Yields {"net", "region", "rack", "vlan", "subnet", "dir"} once the
    rack serves cidr (rack_ip its address there) on VLAN vid and observes
    its interface; subnets: more CIDRs on that VLAN; wait: more rack log
    lines to wait for. Everything is stopped and removed afterwards."""
    workdir = make_dir(prefix)
    net = DhcpNet(os.path.join(workdir, "net"), tag=tag, rack_addrs=(f"{rack_ip}/{cidr.split('/')[1]}",))
    os.makedirs(net.workdir)
    region = Region(os.path.join(workdir, "region"))
    os.makedirs(region.state_dir, mode=0o700)
    rack = Rack(region, os.path.join(workdir, "rack"), f"{tag}-rack")
    try:
        net.up()
        region.start()
        rack.start(secret=region.secret, fingerprint=region.fingerprint, extra=["--netns", net.rack, *rack_extra])
        vlan = ok(region, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": vid, "name": f"{tag}-{vid}"})
        subnet = ok(region, "POST", "/api/v1/subnets", {"cidr": cidr, "vlan": vlan["id"]})
        for other in subnets:
            ok(region, "POST", "/api/v1/subnets", {"cidr": other, "vlan": vlan["id"]})
        ok(region, "POST", "/api/v1/ip-ranges", {"subnet": cidr, "type": "dynamic", "start_ip": dhcp_range[0],
                                                 "end_ip": dhcp_range[1]})
        ok(region, "PATCH", f"/api/v1/vlans/{vlan['id']}", {"dhcp_on": True, "primary_rack": rack.rack_id})
        for line in wait:
            rack.daemon.wait_log(line, timeout=30)
        rack.daemon.wait_log("discovery: observing eth0", timeout=30)
        yield {"net": net, "region": region, "rack": rack, "vlan": vlan, "subnet": subnet, "dir": workdir}
    finally:
        try:
            rack.stop()
        finally:
            region.stop()
            net.down()
            if not os.environ.get("IRONRACK_KEEP"):
                shutil.rmtree(workdir, ignore_errors=True)
