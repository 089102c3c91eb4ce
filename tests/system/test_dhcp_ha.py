"""DHCP HA, the part built so far (docs/dhcp-ha.md): a VLAN with a primary
and a secondary rack puts an HA pair into both racks' DHCP configs, with
the partner's endpoint as its hello told the region; the racks link to
each other directly over mutual TLS with their region-issued
certificates, and the primary redials a secondary that was killed and
came back, and the region shows each link as the racks report it and logs
a pair that degrades. The primary keeps serving the VLAN's clients meanwhile (the
engine's use of the pair is not built yet: the secondary serves nothing).

    <prefix>-sw     br0
    <prefix>-rack   eth0 10.46.0.1/24: rack A (primary) serves DHCP here
    <prefix>-c1     a udhcpc client
Rack B (secondary) runs without a namespace: it serves nothing. Both HA
links listen or dial on loopback (the management network)."""

import os
import shutil
import signal

import pytest

from conftest import Rack, Region, cli, free_port, make_dir, needs_root, needs_tools, wait_for
from dhcpnet import DhcpNet, udhcpc
from nethelp import ok

NET, RACK_IP = "10.46.0.0/24", "10.46.0.1"
HA_OPTS = ["--ha-heartbeat-ms", "100", "--ha-timeout-ms", "1000"]


@pytest.fixture(scope="module")
def pair():
    needs_root()
    needs_tools("ip", "busybox")
    workdir = make_dir("irha-")
    net = DhcpNet(os.path.join(workdir, "net"), tag="irha", rack_addrs=(f"{RACK_IP}/24",))
    os.makedirs(net.workdir)
    region = Region(os.path.join(workdir, "region"))
    os.makedirs(region.state_dir, mode=0o700)
    a = Rack(region, os.path.join(workdir, "rack-a"), "irha-a")
    b = Rack(region, os.path.join(workdir, "rack-b"), "irha-b")
    port_b = free_port()
    # B advertises a wildcard host: the region puts in the address its
    # session comes from (loopback here), as for a rack listening on all
    # addresses.
    b_extra = ["--ha-listen", f"127.0.0.1:{port_b}", "--ha-advertise", f"0.0.0.0:{port_b}", *HA_OPTS]
    try:
        net.up()
        region.start()
        a.start(secret=region.secret, fingerprint=region.fingerprint,
                extra=["--netns", net.rack, "--ha-listen", f"127.0.0.1:{free_port()}", *HA_OPTS])
        b.start(secret=region.secret, fingerprint=region.fingerprint, extra=b_extra)
        vlan = ok(region, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 46, "name": "irha-46"})
        ok(region, "POST", "/api/v1/subnets", {"cidr": NET, "vlan": vlan["id"]})
        ok(region, "POST", "/api/v1/ip-ranges", {"subnet": NET, "type": "dynamic", "start_ip": "10.46.0.100",
                                                 "end_ip": "10.46.0.199"})
        ok(region, "PATCH", f"/api/v1/vlans/{vlan['id']}",
           {"dhcp_on": True, "primary_rack": a.rack_id, "secondary_rack": b.rack_id})
        yield {"net": net, "region": region, "a": a, "b": b, "vlan": vlan, "port_b": port_b, "b_extra": b_extra}
    finally:
        for step in (a.stop, b.stop, region.stop, net.down):
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
                         "partner_address": f"127.0.0.1:{pair['port_b']}"}], da
    assert link["last_contact"] and link["since"] and link["refused"] == 0 and link["reported_at"], link
    assert [(p["role"], p["partner"], p["vid"]) for p in db["ha"]] == [("secondary", a.rack_id, 46)], db
    assert db["ha"][0]["partner_address"].startswith("127.0.0.1:"), db
    # the secondary serves nothing alone yet; the primary serves the VLAN
    assert db["enabled"] is False and db["interfaces"] == [], db
    assert da["enabled"] is True and [i["vid"] for i in da["interfaces"]] == [46], da
    out = cli(region, "racks", "dhcp", a.rack_id).stdout
    assert f"HA: primary of VLAN {pair['vlan']['id']} (vid 46) with {b.rack_id} at 127.0.0.1:" in out, out
    out = cli(region, "racks", "dhcp", b.rack_id).stdout
    assert "serves no DHCP" in out and f"HA: secondary of VLAN {pair['vlan']['id']} (vid 46) with {a.rack_id}" in out
    # nobody else's certificate was refused on the way
    assert "refused" not in b.daemon.text() and "refused" not in a.daemon.text()


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
    c = net.host("c1")
    assert udhcpc(net, c)["ip"].startswith("10.46.0.")
    b.start(extra=pair["b_extra"])
    a.daemon.wait_log(f"dhcp-ha: link to partner {b.rack_id} (secondary) up", timeout=30, count=2)
    b.daemon.wait_log(f"dhcp-ha: link to partner {a.rack_id} (primary) up", timeout=30)
    link_state(pair["region"], a, up=True)


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
