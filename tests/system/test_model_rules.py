"""The network model's rules of issue 13 (docs/network.md, "Model rules"),
against one real region and its PostgreSQL: every bad input is a 4xx naming
the field and changes nothing (every network listing compared before and
after); an unmanaged subnet's dynamic range is kept with one warning;
auto assign on IPv6 follows seed 001's reserved-range rule; deletes say what
went with them; refused requests do not grow the embedded PostgreSQL's log,
which rotates."""

import glob
import os
import subprocess

import pytest

from conftest import module_region
from nethelp import allocate, items, key, ok, refused, snapshot, subnet


@pytest.fixture(scope="module")
def region():
    yield from module_region("irrules-")


def listings(region):
    """Every network collection, DHCP snippets included."""
    state = snapshot(region)
    state["dhcp-snippets"] = [{k: v for k, v in r.items() if k != "updated"}
                              for r in items(region, "dhcp-snippets", "?limit=1000")]
    return state


def unchanged(region, method, path, body=None, **want):
    """A request refused as want says (status, field, code, text), with every
    listing the same before and after."""
    before = listings(region)
    err = refused(region, method, path, body, **want)
    assert listings(region) == before, f"{method} {path} {body} changed the model"
    return err


def vlan(region, vid, **fields):
    return ok(region, "POST", "/api/v1/vlans", dict(fabric="fabric-0", vid=vid, **fields))


# ---- DHCP relays ----

def test_a_relay_chain_that_loops_is_refused(region):
    a, b, c = (vlan(region, vid) for vid in (101, 102, 103))
    ok(region, "PATCH", f"/api/v1/vlans/{a['id']}", {"relay_vlan": b["id"]})
    unchanged(region, "PATCH", f"/api/v1/vlans/{b['id']}", {"relay_vlan": a["id"]}, field="relay_vlan",
              text=["loops", "VLAN 102 of fabric-0 -> VLAN 101 of fabric-0 -> VLAN 102 of fabric-0"])
    ok(region, "PATCH", f"/api/v1/vlans/{b['id']}", {"relay_vlan": c["id"]})
    unchanged(region, "PATCH", f"/api/v1/vlans/{c['id']}", {"relay_vlan": a["id"]}, field="relay_vlan",
              text="VLAN 103 of fabric-0 -> VLAN 101 of fabric-0 -> VLAN 102 of fabric-0 -> VLAN 103")
    unchanged(region, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 104, "relay_vlan": 999999},
              field="relay_vlan")


# ---- links ----

def test_link_rules(region):
    s1 = subnet(region, "10.81.0.0/24")  # VLAN 0 of fabric-0
    v = vlan(region, 201)
    subnet(region, "10.82.0.0/24", vlan=v["id"])
    ok(region, "POST", "/api/v1/machines", {"hostname": "linker"})
    eth = {n: ok(region, "POST", "/api/v1/machines/linker/interfaces", {"name": n, "mac": f"02:00:00:00:81:0{i}"})
           for i, n in enumerate(("eth0", "eth1", "eth2"))}
    links = {n: f"/api/v1/interfaces/{i['id']}/links" for n, i in eth.items()}
    # The first link places an interface without a VLAN on the subnet's.
    ok(region, "POST", links["eth0"], {"subnet": "10.81.0.0/24", "ip": "10.81.0.10"}, status=201)
    assert ok(region, "GET", f"/api/v1/interfaces/{eth['eth0']['id']}")["vlan"] == s1["vlan"]
    unchanged(region, "POST", links["eth0"], {"subnet": "10.82.0.0/24"}, field="subnet",
              text=["10.82.0.0/24 is on VLAN 201 of fabric-0", "eth0", "VLAN 0 of fabric-0"])
    unchanged(region, "PATCH", f"/api/v1/interfaces/{eth['eth0']['id']}", {"vlan": v["id"]}, status=409,
              field="vlan", text="10.81.0.0/24")
    # auto and static mix; dhcp and unconfigured stand alone.
    ok(region, "POST", links["eth0"], {"subnet": "10.81.0.0/24"}, status=201)
    unchanged(region, "POST", links["eth0"], {"subnet": "10.81.0.0/24", "mode": "dhcp"}, status=409, field="mode",
              text="a dhcp link is an interface's only link")
    ok(region, "POST", links["eth1"], {"subnet": "10.81.0.0/24", "mode": "dhcp"}, status=201)
    unchanged(region, "POST", links["eth1"], {"subnet": "10.81.0.0/24", "ip": "10.81.0.11"}, status=409,
              field="mode", text="already has a dhcp link")
    unchanged(region, "POST", links["eth1"], {"subnet": "10.81.0.0/24", "mode": "unconfigured"}, status=409,
              field="mode")
    unchanged(region, "POST", links["eth2"], {"subnet": "10.81.0.0/24", "mode": "dhcp", "ip": "10.81.0.12"},
              field="ip", text="from DHCP")
    ok(region, "POST", links["eth2"], {"subnet": "10.81.0.0/24", "mode": "unconfigured"}, status=201)
    unchanged(region, "POST", links["eth2"], {"subnet": "10.81.0.0/24"}, status=409, field="mode",
              text="an unconfigured link")


# ---- dynamic ranges ----

def test_a_dynamic_range_covers_neither_gateway_nor_dns_server(region):
    cidr = "10.83.0.0/24"
    subnet(region, cidr, gateway="10.83.0.1", dns_servers=["10.83.0.2", "9.9.9.9"])
    r = "/api/v1/ip-ranges"
    unchanged(region, "POST", r, {"subnet": cidr, "type": "dynamic", "start_ip": "10.83.0.1", "end_ip": "10.83.0.50"},
              status=409, field="start_ip", text="10.83.0.1 which is the gateway")
    unchanged(region, "POST", r, {"subnet": cidr, "type": "dynamic", "start_ip": "10.83.0.2", "end_ip": "10.83.0.50"},
              status=409, field="start_ip", text="10.83.0.2 which is a DNS server")
    # A reserved range may hold them.
    ok(region, "POST", r, {"subnet": cidr, "type": "reserved", "start_ip": "10.83.0.1", "end_ip": "10.83.0.9"})
    dyn = ok(region, "POST", r, {"subnet": cidr, "type": "dynamic", "start_ip": "10.83.0.100",
                                 "end_ip": "10.83.0.200"})
    assert "warning" not in dyn
    unchanged(region, "PATCH", f"{r}/{dyn['id']}", {"start_ip": "10.83.0.2"}, status=409)
    unchanged(region, "PATCH", f"/api/v1/subnets/{key(cidr)}", {"gateway": "10.83.0.150"}, status=409,
              field="gateway", text="dynamic range 10.83.0.100-10.83.0.200")
    unchanged(region, "PATCH", f"/api/v1/subnets/{key(cidr)}", {"dns_servers": ["10.83.0.2", "10.83.0.160"]},
              status=409, field="dns_servers", text="10.83.0.160")


def test_an_unmanaged_subnets_dynamic_range_is_kept_with_one_warning(region):
    cidr = "198.51.100.0/28"
    subnet(region, cidr, managed=False)
    dyn = ok(region, "POST", "/api/v1/ip-ranges", {"subnet": cidr, "type": "dynamic", "start_ip": "198.51.100.2",
                                                   "end_ip": "198.51.100.5"})
    said = "DHCP never leases from an unmanaged subnet"
    assert said in dyn["warning"] and cidr in dyn["warning"]
    assert said in ok(region, "PATCH", f"/api/v1/ip-ranges/{dyn['id']}", {"comment": "old pool"})["warning"]
    assert said in ok(region, "PATCH", f"/api/v1/subnets/{key(cidr)}", {"description": "lab"})["warning"]
    err = unchanged(region, "POST", f"/api/v1/subnets/{key(cidr)}/allocate-ip", {"ip": "198.51.100.3"},
                    status=409, field="ip", text=["198.51.100.2-198.51.100.5", said])
    assert "hands out" not in err["message"]
    refused(region, "GET", f"/api/v1/subnets/{key(cidr)}/next-free?pool=dhcp", status=409)
    # Managed again: the range is the DHCP pool, and the warning is gone.
    managed = ok(region, "PATCH", f"/api/v1/subnets/{key(cidr)}", {"managed": True})
    assert "warning" not in managed
    assert ok(region, "GET", f"/api/v1/subnets/{key(cidr)}/next-free?pool=dhcp")["ip"] == "198.51.100.2"


# ---- names ----

def test_control_characters_in_names_are_refused(region):
    subnet(region, "10.84.0.0/24", name="plain")
    for method, path, body, field in (
            ("POST", "/api/v1/subnets", {"cidr": "10.84.1.0/24", "name": "bad\u0007name"}, "name"),
            ("PATCH", "/api/v1/subnets/10.84.0.0-24", {"name": "two\nlines"}, "name"),
            ("POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 301, "name": "esc\u001b[31m"}, "name"),
            ("POST", "/api/v1/fabrics", {"name": "fab\u0001ric"}, "name"),
            ("POST", "/api/v1/zones", {"name": "zone\u0085"}, "name"),
            ("POST", "/api/v1/spaces", {"name": "space\t1"}, "name"),
            ("POST", "/api/v1/machines", {"hostname": "node\u007f"}, "hostname"),
            ("POST", "/api/v1/devices", {"hostname": "dev\r"}, "hostname"),
            ("POST", "/api/v1/subnets", {"cidr": "10.84.2.0/24", "description": "bell\u0007"}, "description")):
        unchanged(region, method, path, body, field=field)
    # Line breaks belong in descriptions.
    assert ok(region, "PATCH", "/api/v1/subnets/10.84.0.0-24",
              {"description": "row 2\nrack 4"})["description"] == "row 2\nrack 4"


def test_names_unique_where_maas_makes_them_unique(region):
    subnet(region, "10.85.0.0/24", name="storage")
    unchanged(region, "POST", "/api/v1/subnets", {"cidr": "10.85.1.0/24", "name": "storage"}, status=409,
              field="name", text="'storage'")
    subnet(region, "10.85.2.0/24")
    unchanged(region, "PATCH", "/api/v1/subnets/10.85.2.0-24", {"name": "storage"}, status=409, field="name")
    ok(region, "POST", "/api/v1/machines", {"hostname": "twin"})
    unchanged(region, "POST", "/api/v1/devices", {"hostname": "twin"}, status=409, field="hostname",
              text=["machine named 'twin'", "across machines and devices"])
    ok(region, "POST", "/api/v1/devices", {"hostname": "twin-2"})
    unchanged(region, "PATCH", "/api/v1/machines/twin", {"hostname": "twin-2"}, status=409, field="hostname",
              text="device named 'twin-2'")


# ---- IPv6 reserved ranges ----

def test_ipv6_auto_assign_stays_inside_reserved_ranges(region):
    cidr = "2001:db8:86::/64"
    subnet(region, cidr, gateway="2001:db8:86::1")
    ok(region, "POST", "/api/v1/ip-ranges", {"subnet": cidr, "type": "reserved", "start_ip": "2001:db8:86::10",
                                             "end_ip": "2001:db8:86::11"})
    assert [allocate(region, cidr)["ip"] for _ in range(2)] == ["2001:db8:86::10", "2001:db8:86::11"]
    u = ok(region, "GET", f"/api/v1/subnets/{key(cidr)}/utilisation")
    assert u["available"] == 0
    unchanged(region, "POST", f"/api/v1/subnets/{key(cidr)}/allocate-ip", {}, status=409, code="exhausted",
              text="IPv6 with reserved ranges")
    # Without a reserved range, and on IPv4, the managed rule stands.
    subnet(region, "2001:db8:87::/64")
    assert allocate(region, "2001:db8:87::/64")["ip"] == "2001:db8:87::1"
    subnet(region, "10.86.0.0/24")
    ok(region, "POST", "/api/v1/ip-ranges", {"subnet": "10.86.0.0/24", "type": "reserved", "start_ip": "10.86.0.1",
                                             "end_ip": "10.86.0.9"})
    assert allocate(region, "10.86.0.0/24")["ip"] == "10.86.0.10"
    sug = ok(region, "GET", f"/api/v1/subnets/{key(cidr)}/suggestions")["dynamic_range"]
    assert sug["start"] == "2001:db8:86:0:8000::9"


# ---- deletes ----

def test_deletes_say_what_went_with_them(region):
    a, b = subnet(region, "10.87.0.0/24"), subnet(region, "10.87.1.0/24")
    route = ok(region, "POST", "/api/v1/static-routes", {"source": "10.87.0.0/24", "destination": "10.87.1.0/24",
                                                         "gateway": "10.87.0.254"})
    rng = ok(region, "POST", "/api/v1/ip-ranges", {"subnet": "10.87.1.0/24", "type": "dynamic",
                                                   "start_ip": "10.87.1.100", "end_ip": "10.87.1.199"})
    other = ok(region, "POST", "/api/v1/ip-ranges", {"subnet": "10.87.1.0/24", "type": "reserved",
                                                     "start_ip": "10.87.1.2", "end_ip": "10.87.1.9"})
    snip = {}
    for name, scope in (("mtu-b", {"subnet": b["id"]}), ("boot-b", {"ip_range": rng["id"]}),
                        ("boot-other", {"ip_range": other["id"]})):
        snip[name] = ok(region, "POST", "/api/v1/dhcp-snippets", dict(name=name, code=26, type="u16", value=1500,
                                                                      **scope), status=201)
    gone = ok(region, "DELETE", f"/api/v1/ip-ranges/{other['id']}")
    assert gone["deleted_with"] == {"dhcp_snippets": [{"id": snip["boot-other"]["id"], "name": "boot-other"}]}
    gone = ok(region, "DELETE", "/api/v1/subnets/10.87.1.0-24")
    w = gone["deleted_with"]
    assert [r["id"] for r in w["ip_ranges"]] == [rng["id"]]
    assert w["static_routes"] == [{"id": route["id"], "source": "10.87.0.0/24", "destination": "10.87.1.0/24",
                                   "gateway": "10.87.0.254"}]
    assert sorted(s["name"] for s in w["dhcp_snippets"]) == ["boot-b", "mtu-b"]
    assert not items(region, "static-routes", f"?source={a['id']}")
    assert not [s for s in items(region, "dhcp-snippets") if s["name"] in snip]
    # Nothing went: an empty object.
    assert ok(region, "DELETE", f"/api/v1/subnets/{a['id']}")["deleted_with"] == {}
    # A machine takes its interfaces, their links and snippets.
    subnet(region, "10.88.0.0/24")
    ok(region, "POST", "/api/v1/machines", {"hostname": "goner"})
    eth0 = ok(region, "POST", "/api/v1/machines/goner/interfaces", {"name": "eth0", "mac": "02:00:00:00:88:00"})
    link = ok(region, "POST", f"/api/v1/interfaces/{eth0['id']}/links", {"subnet": "10.88.0.0/24"}, status=201)
    hs = ok(region, "POST", "/api/v1/dhcp-snippets", {"name": "host-mtu", "code": 26, "type": "u16", "value": 9000,
                                                      "interface": eth0["id"]}, status=201)
    w = ok(region, "DELETE", "/api/v1/machines/goner")["deleted_with"]
    assert [i["name"] for i in w["interfaces"]] == ["eth0"]
    assert [(x["id"], x["ip"]) for x in w["ip_addresses"]] == [(link["id"], link["ip"])]
    assert w["dhcp_snippets"] == [{"id": hs["id"], "name": "host-mtu"}]
    assert not items(region, "ip-addresses", "?subnet=10.88.0.0-24")


# ---- the embedded PostgreSQL's log ----

def pg_log_bytes(region):
    files = [os.path.join(region.state_dir, "pg.log")] + glob.glob(os.path.join(region.state_dir, "pg", "log", "*"))
    return sum(os.path.getsize(f) for f in files if os.path.isfile(f))


def test_refused_requests_do_not_grow_the_postgresql_log(region):
    # The server's own log rotates: the collector's hourly files.
    logs = glob.glob(os.path.join(region.state_dir, "pg", "log", "postgresql-[0-2][0-9].log"))
    assert logs, os.listdir(os.path.join(region.state_dir, "pg"))
    ok(region, "POST", "/api/v1/zones", {"name": "logzone"})
    subnet(region, "10.89.0.0/24", gateway="10.89.0.1")
    before = pg_log_bytes(region)
    for _ in range(5):
        refused(region, "POST", "/api/v1/zones", {"name": "logzone"}, status=409)  # unique violation
        refused(region, "POST", "/api/v1/subnets", {"cidr": "10.89.0.0/16"}, status=409)  # trigger
        refused(region, "POST", "/api/v1/ip-ranges", {"subnet": "10.89.0.0/24", "type": "dynamic",
                                                      "start_ip": "10.89.0.1", "end_ip": "10.89.0.9"}, status=409)
        refused(region, "DELETE", "/api/v1/zones/default", status=409)
    assert pg_log_bytes(region) == before
    # The measure would see growth: an error in a session of another
    # client is still logged where it looks.
    sock = os.path.join(region.state_dir, "pg-run")
    user = "ironrack" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
    out = subprocess.run(["psql", "-X", "-h", sock, "-U", user, "-d", "ironrack", "-c", "SELECT 1/0"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "division by zero" in out.stderr
    for _ in range(100):
        if pg_log_bytes(region) > before:
            break
        subprocess.run(["sleep", "0.05"], check=True)
    assert pg_log_bytes(region) > before
