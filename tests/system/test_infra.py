"""The infrastructure editor (MetalSoft, seed 000) through the REST API and the
CLI, against a real region and PostgreSQL: staged edits, plan, deploy,
discard, VLAN ids, WAN /29 growth, extra subnets, SAN-only-with-drives and
bad input.

One region serves the whole module; every test uses its own infrastructure
names and its own WAN pool so that tests cannot see each other's blocks."""

import json
import os
import shutil

import pytest

from conftest import Region, cli, make_dir
from readymachines import ready_machines

API = "/api/v1/infrastructures"


@pytest.fixture(scope="module")
def region():
    d = make_dir("irinfra-")
    r = Region(os.path.join(d, "region"))
    os.makedirs(r.state_dir, mode=0o700)
    r.start()
    # Deploy binds every instance to a READY machine (docs/deploy.md,
    # "Infrastructures"): enough of them, with a NIC per port.
    ready_machines(r, "node", 300, nics=4)
    yield r
    r.stop()
    shutil.rmtree(d, ignore_errors=True)


def ok(region, method, path, body=None, status=200):
    st, b = region.api(method, path, body)
    assert st == status, f"{method} {path} -> {st}: {b}"
    return b


def refused(region, method, path, body, status, field=None):
    st, b = region.api(method, path, body)
    assert st == status, f"{method} {path} -> {st}: {b}"
    assert "error" in b and b["error"]["message"], b
    if field is not None:
        assert b["error"].get("field") == field, b
    return b["error"]


def create(region, name, pools=None, **kw):
    body = {"name": name, **kw}
    if pools is not None:
        body["wan_pools"] = pools
    return ok(region, "POST", API, body, 201)


def add_array(region, infra, name, count=1, ports=None):
    body = {"name": name, "instance_count": count}
    if ports is not None:
        body["ports"] = ports
    return ok(region, "POST", f"{API}/{infra}/instance-arrays", body, 201)


def add_net(region, infra, name, kind):
    return ok(region, "POST", f"{API}/{infra}/networks", {"name": name, "type": kind}, 201)


def connect(region, infra, array, port, net):
    return ok(region, "POST", f"{API}/{infra}/connections", {"array": array, "port": port, "network": net}, 201)


def plan(region, infra):
    return ok(region, "POST", f"{API}/{infra}/plan")


def deploy(region, infra):
    return ok(region, "POST", f"{API}/{infra}/deploy")


def get(region, infra):
    return ok(region, "GET", f"{API}/{infra}")


def actions(p):
    """The plan's actions as comparable tuples."""
    out = []
    for a in p["actions"]:
        if a["object"] == "connection":
            out.append((a["op"], "connection", f"{a['array']}:{a['port_name']}", a["network"]))
        else:
            out.append((a["op"], a["object"], a["name"]))
    return out


def deployed_net(doc, name):
    return next(n for n in doc["deployed"]["networks"] if n["name"] == name)


def subnets(doc, net):
    return [(s["prefix"], s["kind"]) for s in deployed_net(doc, net).get("subnets", [])]


def shape(design):
    """What staged and deployed designs have in common."""
    return ([(a["name"], a["instance_count"], a["ports"], a["drives"]) for a in design["instance_arrays"]],
            [(n["name"], n["type"]) for n in design["networks"]],
            design["connections"])


def test_stage_plan_deploy_and_a_second_plan_is_empty(region):
    create(region, "shop", ["192.0.2.0/24"], description="web shop")
    add_array(region, "shop", "web", count=2)
    add_array(region, "shop", "db", count=1)
    add_net(region, "shop", "internet", "wan")
    add_net(region, "shop", "backend", "lan")
    connect(region, "shop", "web", 0, "internet")
    connect(region, "shop", "web", "eth1", "backend")
    doc = connect(region, "shop", "db", 0, "backend")

    # Staged edits do not touch the deployed design.
    assert doc["revision"] == 0 and doc["deployed_at"] is None
    assert doc["deployed"] == {"instance_arrays": [], "networks": [], "connections": []}
    assert len(doc["staged"]["connections"]) == 3

    p = plan(region, "shop")
    assert p["applied"] is False
    assert actions(p) == [
        ("create", "network", "internet"),
        ("create", "network", "backend"),
        ("create", "instance_array", "web"),
        ("create", "instance_array", "db"),
        ("create", "connection", "web:eth0", "internet"),
        ("create", "connection", "web:eth1", "backend"),
        ("create", "connection", "db:eth0", "backend"),
    ]
    allocs = {(a["object"], a["network"]) for a in p["allocations"]}
    assert allocs == {("vlan", "internet"), ("vlan", "backend"), ("subnet", "internet")}
    # A dry run changes nothing.
    assert get(region, "shop")["deployed"]["networks"] == []

    d = deploy(region, "shop")
    applied = actions(d)
    assert d["applied"] is True and d["revision"] == 1
    assert actions(d) == actions(p)
    assert d["allocations"] == p["allocations"]

    doc = get(region, "shop")
    assert doc["revision"] == 1 and doc["deployed_at"]
    assert [(a["name"], a["instance_count"]) for a in doc["deployed"]["instance_arrays"]] == [("web", 2), ("db", 1)]
    assert [i["index"] for i in doc["deployed"]["instance_arrays"][0]["instances"]] == [0, 1]
    wan = deployed_net(doc, "internet")
    lan = deployed_net(doc, "backend")
    # Seed 000: a new WAN gets a /29 from the infrastructure's pool, and a
    # gateway; a LAN gets only a VLAN.
    assert wan["subnets"] == [{"prefix": "192.0.2.0/29", "kind": "primary"}]
    assert wan["gateway"] == "192.0.2.1"
    assert "subnets" not in lan and "gateway" not in lan
    assert wan["vid"] and lan["vid"] and wan["vid"] != lan["vid"]
    assert 1 <= lan["vid"] <= 4094
    assert doc["deployed"]["connections"] == doc["staged"]["connections"]

    p = plan(region, "shop")
    assert p["actions"] == [] and p["allocations"] == []
    d = deploy(region, "shop")
    assert d["applied"] is False and d["revision"] == 1
    assert get(region, "shop")["revision"] == 1

    # The deploy history holds the applied plan, once.
    h = ok(region, "GET", f"{API}/shop/deploys")["deploys"]
    assert [x["revision"] for x in h] == [1]
    steps = [(x["op"], x["object"], x["subject"]) for x in h[0]["steps"]]
    assert steps[:7] == [(a[0], a[1], a[2] if a[1] != "connection" else f"{a[2]} -> {a[3]}")
                         for a in applied]
    assert ("allocate", "subnet", "internet") in steps[7:10] and len(steps) == 15
    # Then each instance's machine, and the WAN addresses of web's two.
    assert [x[:2] for x in steps[10:]] == [("bind", "machine")] * 3 + [("link", "address")] * 2
    assert ("allocate", "subnet", "internet", "192.0.2.0/29 (primary)") in [
        (x["op"], x["object"], x["subject"], x["detail"]) for x in h[0]["steps"]]
    refused(region, "GET", f"{API}/nope/deploys", None, 404)
    refused(region, "GET", f"{API}/shop/deploys?limit=1000", None, 400, "limit")


def test_vlan_ids_come_from_the_fabric_pool_and_skip_its_vlans(region):
    st, fab = region.api("POST", "/api/v1/fabrics", {"name": "infra-fab"})
    assert st in (200, 201), fab
    for vid in (2000, 2001):
        st, b = region.api("POST", "/api/v1/vlans", {"fabric": "infra-fab", "vid": vid})
        assert st in (200, 201), b
    create(region, "vl1", fabric="infra-fab")
    add_net(region, "vl1", "a", "lan")
    add_net(region, "vl1", "b", "lan")
    d = deploy(region, "vl1")
    assert [(a["network"], a["vid"]) for a in d["allocations"]] == [("a", 2002), ("b", 2003)]
    assert get(region, "vl1")["fabric"] == "infra-fab"
    # A second infrastructure on the fabric shares the pool.
    create(region, "vl2", fabric="infra-fab")
    add_net(region, "vl2", "c", "lan")
    assert [a["vid"] for a in deploy(region, "vl2")["allocations"]] == [2004]
    # A vid released by one infrastructure is handed out again.
    ok(region, "DELETE", f"{API}/vl1/networks/a")
    assert deploy(region, "vl1")["allocations"] == [
        {"op": "release", "object": "vlan", "network": "a", "vid": 2002}]
    add_net(region, "vl2", "d", "lan")
    assert [a["vid"] for a in deploy(region, "vl2")["allocations"]] == [2002]
    # The fabric cannot be deleted from under its infrastructures.
    st, b = region.api("DELETE", "/api/v1/fabrics/infra-fab")
    assert st == 409 and "vl1, vl2" in b["error"]["message"], b
    assert get(region, "vl1")["fabric"] == "infra-fab"


def test_disconnect_then_deploy(region):
    create(region, "dis", ["198.51.100.0/24"])
    add_array(region, "dis", "app", count=2)
    add_net(region, "dis", "l1", "lan")
    connect(region, "dis", "app", 0, "l1")
    deploy(region, "dis")

    st, doc = region.api("DELETE", f"{API}/dis/connections/app/eth0/l1")
    assert st == 200, doc
    assert doc["staged"]["connections"] == []
    assert len(doc["deployed"]["connections"]) == 1  # untouched until deploy
    assert actions(plan(region, "dis")) == [("delete", "connection", "app:eth0", "l1")]
    d = deploy(region, "dis")
    assert actions(d) == [("delete", "connection", "app:eth0", "l1")]
    doc = get(region, "dis")
    assert doc["deployed"]["connections"] == []
    assert [n["name"] for n in doc["deployed"]["networks"]] == ["l1"]
    # Disconnecting what is not connected is a 404 naming the field.
    refused(region, "DELETE", f"{API}/dis/connections/app/eth0/l1", None, 404, "network")


def test_discard_restores_the_deployed_design(region):
    create(region, "disc", ["203.0.113.0/24"])
    add_array(region, "disc", "a", count=1)
    add_net(region, "disc", "n", "lan")
    connect(region, "disc", "a", 0, "n")
    deploy(region, "disc")
    before = get(region, "disc")

    ok(region, "PATCH", f"{API}/disc/instance-arrays/a", {"instance_count": 4})
    add_array(region, "disc", "b", count=2)
    add_net(region, "disc", "n2", "lan")
    connect(region, "disc", "b", 0, "n2")
    ok(region, "DELETE", f"{API}/disc/connections/a/0/n")
    ok(region, "DELETE", f"{API}/disc/networks/n")
    assert len(plan(region, "disc")["actions"]) > 0

    doc = ok(region, "POST", f"{API}/disc/discard")
    assert shape(doc["staged"]) == shape(before["deployed"])
    assert doc["deployed"] == before["deployed"]
    assert doc["revision"] == before["revision"]
    assert plan(region, "disc")["actions"] == []


def test_join_an_existing_network_also_within_one_array(region):
    create(region, "join", ["192.0.2.0/25"])
    add_array(region, "join", "web", count=2, ports=4)
    add_array(region, "join", "cache", count=1)
    add_net(region, "join", "mesh", "lan")
    connect(region, "join", "web", 0, "mesh")
    deploy(region, "join")

    # Another array joins the network, and a second port of the same array
    # joins it too (seed 000, "Joining an existing network", option #2).
    connect(region, "join", "cache", 1, "mesh")
    connect(region, "join", "web", 2, "mesh")
    st, err = region.api("POST", f"{API}/join/connections", {"array": "web", "port": 2, "network": "mesh"})
    assert st == 409 and err["error"]["field"] == "network"
    p = plan(region, "join")
    assert actions(p) == [
        ("create", "connection", "web:eth2", "mesh"),
        ("create", "connection", "cache:eth1", "mesh"),
    ]
    assert p["allocations"] == []  # the network and its VLAN already exist
    deploy(region, "join")
    conns = {(c["array"], c["port"], c["network"]) for c in get(region, "join")["deployed"]["connections"]}
    assert conns == {("web", 0, "mesh"), ("web", 2, "mesh"), ("cache", 1, "mesh")}


def test_wan_grows_from_29_to_28_when_more_addresses_are_needed(region):
    create(region, "grow", ["10.20.0.0/24"])
    add_array(region, "grow", "web", count=5)
    add_net(region, "grow", "wan", "wan")
    connect(region, "grow", "web", 0, "wan")
    deploy(region, "grow")
    # A /29 offers 5 hosts besides network, broadcast and gateway.
    assert subnets(get(region, "grow"), "wan") == [("10.20.0.0/29", "primary")]

    ok(region, "PATCH", f"{API}/grow/instance-arrays/web", {"instance_count": 6})
    p = plan(region, "grow")
    assert actions(p) == [("change", "instance_array", "web")]
    assert p["actions"][0]["changes"] == {"instance_count": {"from": 5, "to": 6}}
    assert p["allocations"] == [{"op": "grow", "object": "subnet", "network": "wan", "from": "10.20.0.0/29",
                                 "prefix": "10.20.0.0/28", "kind": "primary"}]
    assert subnets(get(region, "grow"), "wan") == [("10.20.0.0/29", "primary")]  # plan is a dry run
    d = deploy(region, "grow")
    assert d["allocations"] == p["allocations"]
    doc = get(region, "grow")
    assert subnets(doc, "wan") == [("10.20.0.0/28", "primary")]
    assert deployed_net(doc, "wan")["gateway"] == "10.20.0.1"
    assert len(doc["deployed"]["instance_arrays"][0]["instances"]) == 6

    # Two ports on the WAN need an address each: 2 x 7 = 14 > 13 of a /28.
    ok(region, "PATCH", f"{API}/grow/instance-arrays/web", {"instance_count": 7})
    connect(region, "grow", "web", 1, "wan")
    d = deploy(region, "grow")
    assert [(a["op"], a.get("from"), a["prefix"]) for a in d["allocations"]] == [
        ("grow", "10.20.0.0/28", "10.20.0.0/27")]
    assert plan(region, "grow")["allocations"] == []


def test_wan_gets_a_new_block_when_the_buddy_is_taken(region):
    create(region, "buddy", ["10.30.0.0/24"])
    add_array(region, "buddy", "web", count=2)
    add_net(region, "buddy", "wan1", "wan")
    add_net(region, "buddy", "wan2", "wan")
    connect(region, "buddy", "web", 0, "wan1")
    deploy(region, "buddy")
    doc = get(region, "buddy")
    # Each new WAN's /29 leaves its buddy free so it can grow in place.
    assert subnets(doc, "wan1") == [("10.30.0.0/29", "primary")]
    assert subnets(doc, "wan2") == [("10.30.0.16/29", "primary")]

    # An extra /29 ordered for wan2 lands on the lowest free /29: wan1's buddy.
    st, b = region.api("POST", f"{API}/buddy/networks/wan2/subnets", {"prefix_length": 29})
    assert st == 201, b
    assert b["subnet"] == {"prefix": "10.30.0.8/29", "kind": "extra"}

    ok(region, "PATCH", f"{API}/buddy/instance-arrays/web", {"instance_count": 8})
    d = deploy(region, "buddy")
    adds = [a for a in d["allocations"] if a["network"] == "wan1"]
    assert [(a["op"], a["kind"]) for a in adds] == [("allocate", "primary")]
    new = adds[0]["prefix"]
    assert new.endswith("/29") and new not in ("10.30.0.0/29", "10.30.0.8/29", "10.30.0.16/29")
    doc = get(region, "buddy")
    assert subnets(doc, "wan1") == [("10.30.0.0/29", "primary"), (new, "primary")]
    assert deployed_net(doc, "wan1")["gateway"] == "10.30.0.1"
    # 5 + 5 hosts cover the 8 instances; nothing more to do.
    assert plan(region, "buddy")["allocations"] == []


def test_extra_subnet_for_metallb_with_a_chosen_prefix_length(region):
    create(region, "lb", ["10.40.0.0/24"])
    add_array(region, "lb", "k8s", count=3)
    add_net(region, "lb", "wan", "wan")
    add_net(region, "lb", "lan", "lan")
    connect(region, "lb", "k8s", 0, "wan")
    # Ordering for a WAN that is not deployed yet is a conflict.
    refused(region, "POST", f"{API}/lb/networks/wan/subnets", {"prefix_length": 28}, 409, "network")
    deploy(region, "lb")

    st, b = region.api("POST", f"{API}/lb/networks/wan/subnets", {"prefix_length": 28})
    assert st == 201, b
    assert b["subnet"]["kind"] == "extra" and b["subnet"]["prefix"].endswith("/28")
    extra = b["subnet"]["prefix"]
    st, b = region.api("POST", f"{API}/lb/networks/wan/subnets", {"prefix_length": 32})
    assert st == 201 and b["subnet"]["prefix"].endswith("/32")
    listed = ok(region, "GET", f"{API}/lb/networks/wan/subnets")["subnets"]
    assert listed == [{"prefix": "10.40.0.0/29", "kind": "primary"}, {"prefix": extra, "kind": "extra"},
                      {"prefix": b["subnet"]["prefix"], "kind": "extra"}]
    # Extra subnets do not serve instances: growth ignores them, and the
    # gateway stays on the primary block.
    doc = get(region, "lb")
    assert deployed_net(doc, "wan")["gateway"] == "10.40.0.1"
    assert plan(region, "lb")["allocations"] == []

    refused(region, "POST", f"{API}/lb/networks/lan/subnets", {"prefix_length": 28}, 400, "network")
    refused(region, "POST", f"{API}/lb/networks/wan/subnets", {"prefix_length": 33}, 400, "prefix_length")
    refused(region, "POST", f"{API}/lb/networks/wan/subnets", {"prefix_length": 16}, 400, "prefix_length")
    refused(region, "POST", f"{API}/lb/networks/wan/subnets", {"prefix_length": "28"}, 400, "prefix_length")
    refused(region, "POST", f"{API}/lb/networks/wan/subnets", {}, 400, "prefix_length")
    refused(region, "POST", f"{API}/lb/networks/nope/subnets", {"prefix_length": 28}, 404, "network")
    # Exhaustion: a /24 pool holds one /24 at most, and it is partly used.
    refused(region, "POST", f"{API}/lb/networks/wan/subnets", {"prefix_length": 24}, 409, "prefix_length")
    assert ok(region, "GET", f"{API}/lb/networks/wan/subnets")["subnets"] == listed

    # Deleting the WAN releases every block, extra ones included.
    ok(region, "DELETE", f"{API}/lb/networks/wan")
    d = deploy(region, "lb")
    released = {a["prefix"] for a in d["allocations"] if a["op"] == "release" and a["object"] == "subnet"}
    assert released == {s["prefix"] for s in listed}


def test_san_exists_only_while_drives_are_attached(region):
    create(region, "store", [])
    add_array(region, "store", "db", count=2)
    add_net(region, "store", "san0", "san")
    connect(region, "store", "db", 1, "san0")
    # No drives: the SAN is left out of the deployed design.
    p = plan(region, "store")
    assert actions(p) == [("create", "instance_array", "db")]
    deploy(region, "store")
    doc = get(region, "store")
    assert doc["deployed"]["networks"] == [] and doc["deployed"]["connections"] == []
    assert [n["name"] for n in doc["staged"]["networks"]] == ["san0"]

    st, drive = region.api("POST", f"{API}/store/instance-arrays/db/drives", {"size_gb": 100})
    assert st == 201 and drive["size_gb"] == 100, drive
    p = plan(region, "store")
    assert actions(p) == [
        ("create", "network", "san0"),
        ("change", "instance_array", "db"),
        ("create", "connection", "db:eth1", "san0"),
    ]
    assert p["actions"][1]["changes"] == {"drives": {"from": 0, "to": 1}}
    deploy(region, "store")
    doc = get(region, "store")
    san = deployed_net(doc, "san0")
    assert san["type"] == "san" and san["vid"]
    assert doc["deployed"]["instance_arrays"][0]["drives"] == [{"id": drive["id"], "size_gb": 100}]

    ok(region, "DELETE", f"{API}/store/instance-arrays/db/drives/{drive['id']}")
    p = plan(region, "store")
    assert actions(p) == [
        ("delete", "connection", "db:eth1", "san0"),
        ("change", "instance_array", "db"),
        ("delete", "network", "san0"),
    ]
    assert p["actions"][0]["reason"] == "san_without_drives"
    assert p["actions"][2]["reason"] == "san_without_drives"
    assert p["allocations"] == [{"op": "release", "object": "vlan", "network": "san0", "vid": san["vid"]}]
    deploy(region, "store")
    doc = get(region, "store")
    assert doc["deployed"]["networks"] == []
    # The staged design keeps the SAN: attach a drive again and it returns.
    assert [n["name"] for n in doc["staged"]["networks"]] == ["san0"]
    assert plan(region, "store")["actions"] == []
    refused(region, "DELETE", f"{API}/store/instance-arrays/db/drives/{drive['id']}", None, 404, "drive")


def test_remove_and_rename_then_deploy(region):
    create(region, "ren", ["10.50.0.0/24"])
    add_array(region, "ren", "a", count=1)
    add_net(region, "ren", "wan", "wan")
    add_net(region, "ren", "lan", "lan")
    connect(region, "ren", "a", 0, "wan")
    connect(region, "ren", "a", 1, "lan")
    first = deploy(region, "ren")
    vids = {a["network"]: a["vid"] for a in first["allocations"] if a["object"] == "vlan"}

    ok(region, "PATCH", f"{API}/ren/instance-arrays/a", {"name": "front"})
    ok(region, "PATCH", f"{API}/ren/networks/lan", {"name": "private"})
    p = plan(region, "ren")
    assert actions(p) == [("change", "network", "private"), ("change", "instance_array", "front")]
    assert p["actions"][0]["changes"] == {"name": {"from": "lan", "to": "private"}}
    deploy(region, "ren")
    doc = get(region, "ren")
    # A rename keeps the network's VLAN.
    assert deployed_net(doc, "private")["vid"] == vids["lan"]

    ok(region, "DELETE", f"{API}/ren/instance-arrays/front")
    ok(region, "DELETE", f"{API}/ren/networks/wan")
    p = plan(region, "ren")
    assert actions(p) == [
        ("delete", "connection", "front:eth0", "wan"),
        ("delete", "connection", "front:eth1", "private"),
        ("delete", "instance_array", "front"),
        ("delete", "network", "wan"),
    ]
    d = deploy(region, "ren")
    assert {(a["op"], a["object"]) for a in d["allocations"]} == {("release", "vlan"), ("release", "subnet")}
    doc = get(region, "ren")
    assert doc["deployed"]["instance_arrays"] == [] and [n["name"] for n in doc["deployed"]["networks"]] == ["private"]


def test_deploy_refused_without_a_wan_pool_changes_nothing(region):
    create(region, "nopool")
    add_array(region, "nopool", "a")
    add_net(region, "nopool", "wan", "wan")
    connect(region, "nopool", "a", 0, "wan")
    before = get(region, "nopool")
    for verb in ("plan", "deploy"):
        err = refused(region, "POST", f"{API}/nopool/{verb}", None, 409, "wan_pools")
        assert "WAN pool" in err["message"]
    after = get(region, "nopool")
    assert after["deployed"] == before["deployed"] and after["revision"] == 0
    # Give it a pool and the same staged design deploys.
    ok(region, "PATCH", f"{API}/nopool", {"wan_pools": ["10.60.0.0/28"]})
    d = deploy(region, "nopool")
    assert [a["prefix"] for a in d["allocations"] if a["object"] == "subnet"] == ["10.60.0.0/29"]
    # A pool may not be shrunk away from under a deployed block.
    refused(region, "PATCH", f"{API}/nopool", {"wan_pools": ["10.61.0.0/24"]}, 409, "wan_pools")


def test_a_deploy_that_fails_late_changes_nothing(region):
    create(region, "tight", ["10.65.0.0/29"])
    add_array(region, "tight", "web", count=5)
    add_net(region, "tight", "wan", "wan")
    connect(region, "tight", "web", 0, "wan")
    deploy(region, "tight")
    before = get(region, "tight")

    # A new LAN (takes a VLAN id) and a bigger array (changes instances)
    # come before WAN growth, which the /29 pool cannot supply.
    add_net(region, "tight", "extra", "lan")
    connect(region, "tight", "web", 1, "extra")
    ok(region, "PATCH", f"{API}/tight/instance-arrays/web", {"instance_count": 6})
    for verb in ("plan", "deploy"):
        st, b = region.api("POST", f"{API}/tight/{verb}")
        assert st == 409 and b["error"]["code"] == "exhausted" and b["error"]["field"] == "wan_pools", b
        assert "6 addresses" in b["error"]["message"]
    after = get(region, "tight")
    assert after["deployed"] == before["deployed"] and after["revision"] == before["revision"]
    assert after["staged"] != before["staged"]  # the staged edits are kept
    assert len(ok(region, "GET", f"{API}/tight/deploys")["deploys"]) == 1

    ok(region, "PATCH", f"{API}/tight", {"wan_pools": ["10.65.0.0/28"]})
    d = deploy(region, "tight")
    assert d["revision"] == 2
    assert [(a["op"], a["object"], a["network"]) for a in d["allocations"]] == [
        ("allocate", "vlan", "extra"), ("grow", "subnet", "wan")]
    assert subnets(get(region, "tight"), "wan") == [("10.65.0.0/28", "primary")]


def test_bad_input_is_a_4xx_naming_the_field_and_changes_nothing(region):
    create(region, "strict", ["10.70.0.0/24"])
    add_array(region, "strict", "web", count=2)
    add_net(region, "strict", "lan", "lan")
    connect(region, "strict", "web", 1, "lan")
    before = get(region, "strict")
    _, listing = region.api("GET", API)

    cases = [
        ("POST", API, {"name": "bad name!"}, 400, "name"),
        ("POST", API, {"name": "12345"}, 400, "name"),
        ("POST", API, {"name": "x" * 64}, 400, "name"),
        ("POST", API, {}, 400, "name"),
        ("POST", API, {"name": "strict"}, 409, "name"),
        ("POST", API, {"name": "ok1", "colour": "red"}, 400, "colour"),
        ("POST", API, {"name": "ok1", "wan_pools": ["10.1.2.3/24"]}, 400, "wan_pools"),
        ("POST", API, {"name": "ok1", "wan_pools": ["2001:db8::/48"]}, 400, "wan_pools"),
        ("POST", API, {"name": "ok1", "wan_pools": ["10.0.0.0/8", "10.1.0.0/16"]}, 400, "wan_pools"),
        ("POST", API, {"name": "ok1", "wan_pools": "10.0.0.0/8"}, 400, "wan_pools"),
        ("POST", API, {"name": "ok1", "zone": "nowhere"}, 404, "zone"),
        ("POST", API, {"name": "ok1", "fabric": "nofabric"}, 404, "fabric"),
        ("POST", f"{API}/strict/instance-arrays", {"name": "big", "instance_count": 5000}, 400, "instance_count"),
        ("POST", f"{API}/strict/instance-arrays", {"name": "neg", "instance_count": -1}, 400, "instance_count"),
        ("POST", f"{API}/strict/instance-arrays", {"name": "p0", "ports": 0}, 400, "ports"),
        ("POST", f"{API}/strict/instance-arrays", {"name": "web"}, 409, "name"),
        ("POST", f"{API}/strict/instance-arrays", {"name": "a:b"}, 400, "name"),
        ("POST", f"{API}/strict/instance-arrays", {"instance_count": 1}, 400, "name"),
        ("PATCH", f"{API}/strict/instance-arrays/web", {"ports": 1}, 409, "ports"),
        ("PATCH", f"{API}/strict/instance-arrays/web", {}, 400, None),
        ("PATCH", f"{API}/strict/instance-arrays/nope", {"instance_count": 3}, 404, "array"),
        ("POST", f"{API}/strict/networks", {"name": "dmz", "type": "dmz"}, 400, "type"),
        ("POST", f"{API}/strict/networks", {"name": "dmz"}, 400, "type"),
        ("POST", f"{API}/strict/networks", {"name": "lan", "type": "lan"}, 409, "name"),
        ("POST", f"{API}/strict/connections", {"array": "nope", "port": 0, "network": "lan"}, 404, "array"),
        ("POST", f"{API}/strict/connections", {"array": "web", "port": 0, "network": "nope"}, 404, "network"),
        ("POST", f"{API}/strict/connections", {"array": "web", "port": 5, "network": "lan"}, 400, "port"),
        ("POST", f"{API}/strict/connections", {"array": "web", "port": "eth99", "network": "lan"}, 400, "port"),
        ("POST", f"{API}/strict/connections", {"array": "web", "port": 1, "network": "lan"}, 409, "network"),
        ("POST", f"{API}/strict/instance-arrays/web/drives", {"size_gb": 0}, 400, "size_gb"),
        ("POST", f"{API}/strict/instance-arrays/web/drives", {"size_gb": 1.5}, 400, "size_gb"),
        ("DELETE", f"{API}/strict/connections/web/eth7x/lan", None, 400, "port"),
        ("POST", f"{API}/nope/instance-arrays", {"name": "x"}, 404, None),
        ("POST", f"{API}/nope/deploy", None, 404, None),
        ("PATCH", f"{API}/strict", {"name": "renamed"}, 400, "name"),
    ]
    for method, path, body, status, field in cases:
        st, b = region.api(method, path, body)
        assert st == status, (method, path, body, st, b)
        assert b["error"]["message"], b
        if field is not None:
            assert b["error"].get("field") == field, (method, path, body, b)

    st, b = region.api("POST", f"{API}/strict/networks", b"{not json")
    assert st == 400 and b["error"]["code"] == "invalid_json"
    st, b = region.api("POST", f"{API}/strict/networks", b"[1,2]")
    assert st == 400

    after = get(region, "strict")
    assert after["staged"] == before["staged"] and after["deployed"] == before["deployed"]
    _, listing_after = region.api("GET", API)
    assert [i["name"] for i in listing_after["infrastructures"]] == [i["name"] for i in listing["infrastructures"]]


def test_list_filters_and_delete(region):
    create(region, "gone", ["10.80.0.0/24"], description="to be deleted")
    add_array(region, "gone", "a")
    add_net(region, "gone", "wan", "wan")
    connect(region, "gone", "a", 0, "wan")
    deploy(region, "gone")
    body = ok(region, "GET", API + "?zone=default&limit=1&offset=0")
    assert len(body["infrastructures"]) == 1 and body["total"] >= 1 and body["limit"] == 1
    names = [i["name"] for i in ok(region, "GET", API)["infrastructures"]]
    assert names == sorted(names) and "gone" in names
    entry = next(i for i in ok(region, "GET", API)["infrastructures"] if i["name"] == "gone")
    assert entry["deployed"] == {"instance_arrays": 1, "networks": 1}
    assert ok(region, "GET", API + "?zone=elsewhere")["infrastructures"] == []
    refused(region, "GET", API + "?limit=0", None, 400, "limit")

    ok(region, "DELETE", f"{API}/gone")
    refused(region, "GET", f"{API}/gone", None, 404)
    refused(region, "DELETE", f"{API}/gone", None, 404)
    # Its WAN block went back to the pool: a new infrastructure on the same
    # pool gets the same /29.
    create(region, "again", ["10.80.0.0/24"])
    add_net(region, "again", "wan", "wan")
    d = deploy(region, "again")
    assert [a["prefix"] for a in d["allocations"] if a["object"] == "subnet"] == ["10.80.0.0/29"]


def test_cli_plan_and_deploy(region):
    def run(*args, check=True):
        return cli(region, *args, check=check)

    run("infra", "create", "cli1", "--wan-pools", "10.90.0.0/24", "--description", "from the CLI")
    run("infra", "array", "add", "cli1", "web", "--count", "3")
    run("infra", "network", "add", "cli1", "wan0", "--type", "wan")
    run("infra", "network", "add", "cli1", "lan0", "--type", "lan")
    out = run("infra", "connect", "cli1", "web", "wan0").stdout
    assert "staged" in out
    run("infra", "connect", "cli1", "web:eth1", "lan0")

    out = run("infra", "plan", "cli1").stdout
    lines = out.splitlines()
    assert lines[0] == "Plan for cli1 (revision 0 -> 1):"
    assert lines[1].split() == ["ACTION", "OBJECT", "NAME", "DETAIL"]
    rows = [line.split() for line in lines[2:]]
    assert ["create", "network", "wan0", "wan"] in rows, out
    assert ["create", "instance", "array", "web", "3", "instances,", "2", "ports,", "0", "drives"] in rows, out
    assert ["create", "connection", "web:eth0", "->", "wan0", "wan"] in rows, out
    assert ["create", "connection", "web:eth1", "->", "lan0", "lan"] in rows, out
    assert ["allocate", "subnet", "wan0", "10.90.0.0/29", "(primary)"] in rows, out
    assert ["allocate", "vlan", "lan0"] == [r for r in rows if r[2] == "lan0" and r[0] == "allocate"][0][:3]
    assert get(region, "cli1")["deployed"]["networks"] == []

    plan_json = json.loads(run("infra", "plan", "cli1", "--json").stdout)
    assert plan_json["applied"] is False and len(plan_json["actions"]) == 5

    out = run("infra", "deploy", "cli1").stdout
    assert out.splitlines()[0] == "Deployed cli1, revision 1:"
    assert "10.90.0.0/29" in out
    assert "Nothing to deploy" in run("infra", "plan", "cli1").stdout
    assert len(get(region, "cli1")["deployed"]["networks"]) == 2

    show = run("infra", "show", "cli1").stdout
    assert "10.90.0.1" in show and "web:eth1" in show and "from the CLI" in show
    assert "cli1" in run("infra", "list").stdout

    run("infra", "array", "set", "cli1", "web", "--count", "6")
    out = run("infra", "deploy", "cli1", "--json").stdout
    d = json.loads(out)
    assert d["applied"] is True and d["revision"] == 2
    assert [(a["op"], a["prefix"]) for a in d["allocations"]] == [("grow", "10.90.0.0/28")]

    hist = run("infra", "history", "cli1").stdout
    assert hist.splitlines()[0].startswith("Revision 2, deployed ")
    assert "Revision 1, deployed " in hist and "10.90.0.0/29 -> 10.90.0.0/28" in hist

    run("infra", "disconnect", "cli1", "web:eth1", "lan0")
    run("infra", "discard", "cli1")
    assert "Nothing to deploy" in run("infra", "plan", "cli1").stdout

    r = run("infra", "connect", "cli1", "web:eth9", "lan0", check=False)
    assert r.returncode == 1 and "port" in r.stderr
    r = run("infra", "network", "add", "cli1", "x", check=False)
    assert r.returncode == 2 and "--type" in r.stderr
    r = run("infra", "plan", "nope", check=False)
    assert r.returncode == 1 and "nope" in r.stderr
    r = run("infra", "array", "add", "cli1", "z", "--count", "many", check=False)
    assert r.returncode == 2
