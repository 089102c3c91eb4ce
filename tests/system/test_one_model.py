"""One network model (issue 13; docs/network.md, "Objects an infrastructure
holds"): a deployed infrastructure's networks are VLANs, its WAN blocks
subnets and its instances' WAN addresses static addresses of the network
API, shown with the infrastructure (and instance) that holds them; IPAM
refuses with 409 what would collide with them, the editor refuses a WAN
pool over a subnet in use and a port on two networks, and shrinking an
array gives WAN blocks back. Every refusal leaves the network model and
the infrastructure as they were.

One region serves the module; machines are made READY in the database
(readymachines.py), nothing boots."""

import os
import shutil

import pytest

from conftest import Region, cli, make_dir
from nethelp import allocate, items, key, ok, refused, subnet
from readymachines import ready_machines

INFRA = "/api/v1/infrastructures"


@pytest.fixture(scope="module")
def region():
    d = make_dir("iromodel-")
    r = Region(os.path.join(d, "region"))
    os.makedirs(r.state_dir, mode=0o700)
    r.start()
    ready_machines(r, "om", 8, nics=3)
    yield r
    r.stop()
    shutil.rmtree(d, ignore_errors=True)


def state(region):
    """The network model's VLANs, subnets and addresses and every
    infrastructure, to show a refusal changed nothing."""
    out = {c: [{k: v for k, v in r.items() if k != "updated"} for r in items(region, c, "?limit=1000")]
           for c in ("vlans", "subnets", "ip-addresses")}
    out["infrastructures"] = [ok(region, "GET", f"{INFRA}/{i['name']}") for i in items(region, "infrastructures")]
    return out


def refused_409(region, method, path, body, *text, field=None):
    before = state(region)
    err = refused(region, method, path, body, status=409, field=field, text=list(text))
    assert state(region) == before
    return err


def deployed(region, infra):
    return {n["name"]: n for n in ok(region, "GET", f"{INFRA}/{infra}")["deployed"]["networks"]}


@pytest.fixture(scope="module")
def om(region):
    """Infrastructure om: array web (2 instances, 3 ports) on wan1 (eth0),
    lan1 (eth1) and san1 (eth2, with a drive); wan2 with nobody on it and an
    extra /29 ordered for it, which takes wan1's buddy."""
    ok(region, "POST", INFRA, {"name": "om", "wan_pools": ["198.18.0.0/24"]}, status=201)
    ok(region, "POST", f"{INFRA}/om/instance-arrays", {"name": "web", "instance_count": 2, "ports": 3}, status=201)
    for name, kind in (("wan1", "wan"), ("wan2", "wan"), ("lan1", "lan"), ("san1", "san")):
        ok(region, "POST", f"{INFRA}/om/networks", {"name": name, "type": kind}, status=201)
    for port, net in ((0, "wan1"), (1, "lan1"), (2, "san1")):
        ok(region, "POST", f"{INFRA}/om/connections", {"array": "web", "port": port, "network": net}, status=201)
    ok(region, "POST", f"{INFRA}/om/instance-arrays/web/drives", {"size_gb": 10}, status=201)
    ok(region, "POST", f"{INFRA}/om/deploy")
    b = ok(region, "POST", f"{INFRA}/om/networks/wan2/subnets", {"prefix_length": 29}, status=201)
    assert b["subnet"]["prefix"] == "198.18.0.8/29"
    return deployed(region, "om")


def test_deployed_objects_are_listed_with_their_holder(region, om):
    vlans = {v["vid"]: v for v in items(region, "vlans")}
    for name in ("wan1", "wan2", "lan1", "san1"):
        v = vlans[om[name]["vid"]]
        assert v["infrastructure"] == "om", v
        assert name in v["name"] and v["fabric_name"] == "fabric-0", v
        assert ok(region, "GET", f"/api/v1/vlans/{v['id']}")["infrastructure"] == "om"
    assert vlans[0]["infrastructure"] is None
    # LANs and SANs have no addresses in the model: a VLAN, no subnet.
    assert vlans[om["lan1"]["vid"]]["subnets"] == 0 and vlans[om["san1"]["vid"]]["subnets"] == 0

    # The primary blocks of wan1 and wan2, and the extra one of wan2.
    subnets = {s["cidr"]: s for s in items(region, "subnets")}
    assert set(subnets) == {"198.18.0.0/29", "198.18.0.8/29", "198.18.0.16/29"}
    assert {s["infrastructure"] for s in subnets.values()} == {"om"}
    assert (subnets["198.18.0.8/29"]["vid"], subnets["198.18.0.8/29"]["gateway"]) == (om["wan2"]["vid"], "198.18.0.9")
    s = ok(region, "GET", f"/api/v1/subnets/{key('198.18.0.0/29')}")
    assert (s["infrastructure"], s["vid"], s["gateway"]) == ("om", om["wan1"]["vid"], "198.18.0.1"), s

    ips = items(region, "ip-addresses")
    assert [(a["ip"], a["mode"], a["infrastructure"], a["instance"]) for a in ips] == [
        ("198.18.0.2", "static", "om", "web#0"), ("198.18.0.3", "static", "om", "web#1")]
    one = ok(region, "GET", "/api/v1/ip-addresses/198.18.0.3")
    assert (one["infrastructure"], one["instance"]) == ("om", "web#1")


def test_ipam_refuses_what_collides_with_an_infrastructure(region, om):
    wan1 = next(v for v in items(region, "vlans") if v["vid"] == om["wan1"]["vid"])
    lan1 = next(v for v in items(region, "vlans") if v["vid"] == om["lan1"]["vid"])
    mine = ok(region, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 10})
    subnet(region, "10.77.0.0/24", vlan=mine["id"])
    held = f'of infrastructure "om"'

    # A VLAN with a vid the infrastructure holds on that fabric, made or moved there.
    refused_409(region, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": om["wan1"]["vid"]}, held, "wan1",
                field="vid")
    refused_409(region, "PATCH", f"/api/v1/vlans/{mine['id']}", {"vid": om["lan1"]["vid"]}, held, "lan1",
                field="vid")
    # The mirrors themselves: their vid, and deleting them by hand.
    refused_409(region, "PATCH", f"/api/v1/vlans/{wan1['id']}", {"vid": 11}, held, field="vid")
    refused_409(region, "DELETE", f"/api/v1/vlans/{lan1['id']}", None, held)

    # A subnet over a WAN block (a primary one, or the extra /29), or on
    # the infrastructure's VLAN; an operator's subnet moved onto a block.
    refused_409(region, "POST", "/api/v1/subnets", {"cidr": "198.18.0.0/28"}, held, "198.18.0.0/29",
                field="cidr")
    refused_409(region, "POST", "/api/v1/subnets", {"cidr": "198.18.0.8/30"}, held, "198.18.0.8/29", "wan2",
                field="cidr")
    refused_409(region, "DELETE", f"/api/v1/subnets/{key('198.18.0.8/29')}", None, held)
    refused_409(region, "POST", "/api/v1/subnets", {"cidr": "10.78.0.0/24", "vlan": lan1["id"]}, held,
                field="vlan")
    refused_409(region, "PATCH", f"/api/v1/subnets/{key('10.77.0.0/24')}", {"cidr": "198.18.0.16/28"}, held,
                field="cidr")
    refused_409(region, "PATCH", f"/api/v1/subnets/{key('198.18.0.0/29')}", {"gateway": "198.18.0.6"}, held,
                field="gateway")
    refused_409(region, "DELETE", f"/api/v1/subnets/{key('198.18.0.16/29')}", None, held)

    # A static address inside a WAN block; the instances' addresses by hand.
    refused_409(region, "POST", f"/api/v1/subnets/{key('198.18.0.0/29')}/allocate-ip", {"ip": "198.18.0.5"},
                "198.18.0.5", held, field="ip")
    refused_409(region, "DELETE", "/api/v1/ip-addresses/198.18.0.2", None, "web#0", held)

    # What stays the operator's: names and descriptions, and the addresses
    # of an extra block (MetalLB's).
    v = ok(region, "PATCH", f"/api/v1/vlans/{wan1['id']}", {"description": "uplink"})
    assert (v["description"], v["infrastructure"]) == ("uplink", "om")
    a = ok(region, "PATCH", "/api/v1/ip-addresses/198.18.0.2", {"comment": "front"})
    assert (a["comment"], a["instance"]) == ("front", "web#0")
    lb = allocate(region, "198.18.0.8/29", ip="198.18.0.10", hostname="lb-vip")
    assert (lb["mode"], lb["infrastructure"]) == ("static", None)


def test_editor_refuses_a_pool_over_a_subnet_in_use_and_a_port_on_two_networks(region, om):
    subnet(region, "198.19.0.0/24")
    allocate(region, "198.19.0.0/24", ip="198.19.0.10", hostname="printer")
    for method, path, body in (
            ("PATCH", f"{INFRA}/om", {"wan_pools": ["198.18.0.0/24", "198.19.0.0/25"]}),
            ("POST", INFRA, {"name": "other", "wan_pools": ["198.19.0.0/24"]})):
        refused_409(region, method, path, body, "198.19.0.0/24", "in use", field="wan_pools")

    err = refused_409(region, "POST", f"{INFRA}/om/connections", {"array": "web", "port": 0, "network": "wan2"},
                      "eth0", "wan1", field="port")
    assert "one network" in err["message"]


def test_deploy_carves_no_block_out_of_an_ipam_subnet(region, om):
    ok(region, "POST", INFRA, {"name": "om2", "wan_pools": ["198.20.0.0/24"]}, status=201)
    # An operator's subnet inside the pool (no block there yet), in use.
    subnet(region, "198.20.0.0/28")
    allocate(region, "198.20.0.0/28", ip="198.20.0.4")
    ok(region, "POST", f"{INFRA}/om2/networks", {"name": "up", "type": "wan"}, status=201)
    d = ok(region, "POST", f"{INFRA}/om2/deploy")
    blocks = [a["prefix"] for a in d["allocations"] if a["object"] == "subnet"]
    assert blocks == ["198.20.0.16/29"], d["allocations"]
    assert ok(region, "GET", f"/api/v1/subnets/{key('198.20.0.16/29')}")["infrastructure"] == "om2"

    # Deleting the infrastructure takes its VLAN and subnet out of IPAM.
    vid = deployed(region, "om2")["up"]["vid"]
    ok(region, "DELETE", f"{INFRA}/om2")
    assert "198.20.0.16/29" not in {s["cidr"] for s in items(region, "subnets")}
    assert vid not in {v["vid"] for v in items(region, "vlans")}


def test_shrink_and_deploy_release_blocks(region, om):
    # 8 instances need 8 addresses on wan1: its buddy is wan2's extra /29,
    # so a second block comes.
    ok(region, "PATCH", f"{INFRA}/om/instance-arrays/web", {"instance_count": 8})
    d = ok(region, "POST", f"{INFRA}/om/deploy")
    added = [a["prefix"] for a in d["allocations"] if a["op"] == "allocate" and a["object"] == "subnet"]
    assert added == ["198.18.0.32/29"], d["allocations"]
    assert ok(region, "GET", f"/api/v1/subnets/{key('198.18.0.32/29')}")["infrastructure"] == "om"
    assert len([a for a in items(region, "ip-addresses") if a["infrastructure"] == "om"]) == 8

    # Back to 2: the second block goes, and the plan says so.
    ok(region, "PATCH", f"{INFRA}/om/instance-arrays/web", {"instance_count": 2})
    release = {"op": "release", "object": "subnet", "network": "wan1", "prefix": "198.18.0.32/29",
               "kind": "primary"}
    p = ok(region, "POST", f"{INFRA}/om/plan")
    assert p["allocations"] == [release], p["allocations"]
    out = cli(region, "infra", "plan", "om").stdout
    assert any("release" in line and "198.18.0.32/29" in line for line in out.splitlines()), out
    assert ok(region, "GET", f"/api/v1/subnets/{key('198.18.0.32/29')}")  # a plan is a dry run

    d = ok(region, "POST", f"{INFRA}/om/deploy")
    assert d["allocations"] == [release]
    assert len([m for m in d["machines"] if m["op"] == "release"]) == 6
    assert "198.18.0.32/29" not in {s["cidr"] for s in items(region, "subnets")}
    ips = [(a["ip"], a["instance"]) for a in items(region, "ip-addresses") if a["infrastructure"] == "om"]
    assert ips == [("198.18.0.2", "web#0"), ("198.18.0.3", "web#1")]
    assert ok(region, "POST", f"{INFRA}/om/plan")["allocations"] == []

    # Deleting a network takes its VLAN out of IPAM in the same deploy.
    ok(region, "DELETE", f"{INFRA}/om/networks/lan1")
    ok(region, "POST", f"{INFRA}/om/deploy")
    assert om["lan1"]["vid"] not in {v["vid"] for v in items(region, "vlans")}
