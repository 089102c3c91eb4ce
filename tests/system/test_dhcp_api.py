"""DHCP through the REST API against a real region and its PostgreSQL:
snippets (checked and encoded by the rack's own encoder), the per-subnet DHCP
fields, VLAN external-DHCP fields, leases racks reported as ip-addresses,
quarantined addresses, and the DHCP config a rack would be served now.
Every refusal is a clear 4xx that changes nothing."""

import json

from conftest import cli, wait_for
from nethelp import items, key, ok, psql, refused, snapshot, subnet


def snippets(region, query=""):
    return items(region, "dhcp-snippets", query)


def state(region):
    s = snapshot(region)
    s["dhcp-snippets"] = [{k: v for k, v in r.items() if k != "updated"}
                          for r in snippets(region, "?limit=1000")]
    return s


# ---- snippets ----

def test_snippet_crud_and_scopes(region):
    net = subnet(region, "10.20.0.0/24")
    rng = ok(region, "POST", "/api/v1/ip-ranges", {"subnet": "10.20.0.0/24", "type": "dynamic",
                                                   "start_ip": "10.20.0.100", "end_ip": "10.20.0.200"})
    ok(region, "POST", "/api/v1/machines", {"hostname": "node-1"})
    eth0 = ok(region, "POST", "/api/v1/machines/node-1/interfaces", {"name": "eth0", "mac": "02:00:00:00:01:01"})

    g = ok(region, "POST", "/api/v1/dhcp-snippets", {"name": "ntp", "code": 42, "type": "ips",
                                                     "value": "192.0.2.1, 192.0.2.2"}, status=201)
    assert (g["scope"], g["subnet"], g["ip_range"], g["interface"], g["enabled"]) == ("global", None, None, None, True)
    assert g["data"] == "c0000201c0000202" and g["option"] == "NTP servers"
    s = ok(region, "POST", "/api/v1/dhcp-snippets", {"name": "mtu", "code": 26, "type": "u16", "value": 9000,
                                                     "subnet": "10.20.0.0/24", "description": "jumbo"}, status=201)
    assert (s["scope"], s["subnet"], s["scope_label"], s["data"]) == ("subnet", net["id"], "10.20.0.0/24", "2328")
    r = ok(region, "POST", "/api/v1/dhcp-snippets", {"name": "boot", "code": 67, "type": "string",
                                                     "value": "ipxe.efi", "ip_range": rng["id"]}, status=201)
    assert (r["scope"], r["ip_range"], r["subnet"]) == ("ip_range", rng["id"], net["id"])
    assert r["data"] == "ipxe.efi".encode().hex()
    h = ok(region, "POST", "/api/v1/dhcp-snippets", {"name": "host-route", "code": 121, "type": "routes",
                                                     "value": "10.0.0.0/8 via 10.20.0.1",
                                                     "interface": eth0["id"], "enabled": False}, status=201)
    assert (h["scope"], h["interface"], h["enabled"], h["data"]) == ("interface", eth0["id"], False, "080a0a140001")

    assert [x["name"] for x in snippets(region)] == ["boot", "host-route", "mtu", "ntp"]
    assert [x["name"] for x in snippets(region, "?subnet=10.20.0.0-24")] == ["boot", "mtu"]
    assert [x["name"] for x in snippets(region, f"?subnet={net['id']}&enabled=true")] == ["boot", "mtu"]
    assert [x["name"] for x in snippets(region, "?enabled=false")] == ["host-route"]
    assert ok(region, "GET", f"/api/v1/dhcp-snippets/{g['id']}")["name"] == "ntp"
    assert ok(region, "GET", "/api/v1/dhcp-snippets/ntp")["id"] == g["id"]

    # PATCH: the value is re-encoded; the scope moves; null makes it global.
    p = ok(region, "PATCH", "/api/v1/dhcp-snippets/ntp", {"value": "198.51.100.7"})
    assert p["data"] == "c6336407" and p["value"] == "198.51.100.7"
    p = ok(region, "PATCH", "/api/v1/dhcp-snippets/ntp", {"subnet": net["id"]})
    assert (p["scope"], p["subnet"]) == ("subnet", net["id"])
    p = ok(region, "PATCH", "/api/v1/dhcp-snippets/ntp", {"subnet": None})
    assert (p["scope"], p["subnet"]) == ("global", None)
    p = ok(region, "PATCH", "/api/v1/dhcp-snippets/mtu", {"type": "u32", "enabled": False})
    assert (p["type"], p["data"], p["enabled"]) == ("u32", "00002328", False)

    gone = ok(region, "DELETE", "/api/v1/dhcp-snippets/boot")
    assert gone["name"] == "boot"
    refused(region, "GET", "/api/v1/dhcp-snippets/boot", status=404, code="not_found", text="boot")
    # A snippet goes with its scope.
    ok(region, "DELETE", f"/api/v1/interfaces/{eth0['id']}")
    assert [x["name"] for x in snippets(region)] == ["mtu", "ntp"]


def test_snippet_refusals_change_nothing(region):
    subnet(region, "10.30.0.0/24")
    ok(region, "POST", "/api/v1/dhcp-snippets", {"name": "dns", "code": 6, "type": "ip", "value": "10.30.0.2"},
       status=201)
    before = state(region)
    path = "/api/v1/dhcp-snippets"
    body = {"name": "x", "code": 42, "type": "ips", "value": "1.2.3"}
    err = refused(region, "POST", path, body, field="value", text=["option 42", "NTP servers", "'1.2.3'",
                                                                   "not an IPv4 address"])
    assert err["code"] == "invalid_argument"
    refused(region, "POST", path, dict(body, type="u8", value="300"), field="value", text="out of range")
    refused(region, "POST", path, dict(body, type="hex", value="abc"), field="value", text="odd number of hex digits")
    refused(region, "POST", path, dict(body, type="routes", value="10.0.0.1/8 via 1.2.3.4"), field="value",
            text="host bits")
    refused(region, "POST", path, dict(body, type="float", value="1"), field="type", text="u8, u16")
    for code in (50, 51, 52, 53, 54, 55, 57, 58, 59, 61, 82):
        refused(region, "POST", path, dict(body, code=code, type="u8", value="1"), field="code",
                text=[f"option {code}", "set by the DHCP server itself"])
    refused(region, "POST", path, dict(body, code=51, type="u32", value="60"), field="code", text="dhcp_lease_time")
    for code in (0, 255, 300, "42"):
        refused(region, "POST", path, dict(body, code=code, value="1.2.3.4"), field="code", text="1 to 254")
    for missing in ("name", "code", "type", "value"):
        refused(region, "POST", path, {k: v for k, v in body.items() if k != missing}, field=missing,
                text="required")
    refused(region, "POST", path, dict(body, value="1.2.3.4", colour="red"), field="colour", text="unknown field")
    refused(region, "POST", path, dict(body, value="1.2.3.4", subnet="10.30.0.0/24", ip_range=1), field="ip_range",
            text="one scope")
    refused(region, "POST", path, dict(body, value="1.2.3.4", interface=5, subnet=1), field="subnet",
            text="one scope")
    refused(region, "POST", path, dict(body, value="1.2.3.4", subnet="10.99.0.0/24"), status=404, field="subnet",
            code="not_found", text="10.99.0.0/24")
    refused(region, "POST", path, dict(body, value="1.2.3.4", ip_range=999), status=404, field="ip_range",
            text="999")
    refused(region, "POST", path, dict(body, value="1.2.3.4", interface=999), status=404, field="interface",
            text="999")
    refused(region, "POST", path, dict(body, name="dns", value="1.2.3.4"), status=409, field="name",
            code="already_exists", text="'dns'")
    refused(region, "PATCH", "/api/v1/dhcp-snippets/dns", {"value": "10.30.0"}, field="value",
            text="not an IPv4 address")
    refused(region, "PATCH", "/api/v1/dhcp-snippets/dns", {"type": "u8"}, field="value", text="not a number")
    refused(region, "PATCH", "/api/v1/dhcp-snippets/dns", {}, text="nothing to change")
    refused(region, "PATCH", "/api/v1/dhcp-snippets/dns", {"code": 53}, field="code", text="message type")
    refused(region, "PATCH", "/api/v1/dhcp-snippets/nope", {"value": "1.2.3.4"}, status=404, text="nope")
    refused(region, "DELETE", "/api/v1/dhcp-snippets/nope", status=404)
    refused(region, "GET", "/api/v1/dhcp-snippets?colour=red", field="colour")
    refused(region, "GET", "/api/v1/dhcp-snippets?enabled=maybe", field="enabled")
    refused(region, "GET", "/api/v1/dhcp-snippets?subnet=10.99.0.0-24", status=400, field="subnet")
    assert state(region) == before


# ---- subnet and VLAN fields ----

def test_subnet_dhcp_fields_round_trip(region):
    s = subnet(region, "10.40.0.0/24", domain="lab.example.com", ntp_servers=["10.40.0.5", "2001:db8::5"],
               dhcp_lease_time=3600)
    assert (s["domain"], s["ntp_servers"], s["dhcp_lease_time"]) == ("lab.example.com", ["10.40.0.5", "2001:db8::5"],
                                                                     3600)
    plain = subnet(region, "10.41.0.0/24")
    assert (plain["domain"], plain["ntp_servers"], plain["dhcp_lease_time"]) == ("", [], None)
    path = f"/api/v1/subnets/{key('10.40.0.0/24')}"
    p = ok(region, "PATCH", path, {"domain": "example.org", "ntp_servers": None, "dhcp_lease_time": None})
    assert (p["domain"], p["ntp_servers"], p["dhcp_lease_time"]) == ("example.org", [], None)
    assert ok(region, "GET", path)["domain"] == "example.org"
    listed = {x["cidr"]: x for x in items(region, "subnets")}
    assert listed["10.40.0.0/24"]["domain"] == "example.org"
    before = snapshot(region)
    refused(region, "PATCH", path, {"domain": "bad_domain!"}, field="domain", text="not a DNS domain name")
    refused(region, "PATCH", path, {"domain": "a" * 254}, field="domain")
    refused(region, "PATCH", path, {"ntp_servers": ["10.40.0.0/24"]}, field="ntp_servers")
    refused(region, "PATCH", path, {"ntp_servers": ["ntp.example.com"]}, field="ntp_servers")
    refused(region, "PATCH", path, {"dhcp_lease_time": 10}, field="dhcp_lease_time", text="30 to 31536000")
    refused(region, "POST", "/api/v1/subnets", {"cidr": "10.42.0.0/24", "dhcp_lease_time": "1h"},
            field="dhcp_lease_time")
    refused(region, "PATCH", path, {"disabled_boot_arches": [70000]}, field="disabled_boot_arches",
            text="0 to 65535")
    refused(region, "PATCH", path, {"disabled_boot_arches": "7"}, field="disabled_boot_arches")
    assert snapshot(region) == before
    assert plain["disabled_boot_arches"] == []
    p = ok(region, "PATCH", path, {"disabled_boot_arches": [7, 9]})
    assert p["disabled_boot_arches"] == [7, 9]
    assert ok(region, "PATCH", path, {"disabled_boot_arches": None})["disabled_boot_arches"] == []


def test_vlan_shows_external_dhcp_sightings(region):
    psql(region, "INSERT INTO rack (id, hostname, cert_serial, cert_fingerprint) VALUES ('rack-e1', 'rack-e', '1', 'x')")
    v = ok(region, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 30})
    assert (v["external_dhcp"], v["external_dhcp_rack"], v["external_dhcp_seen"]) == (None, None, None)
    psql(region, f"UPDATE vlan SET external_dhcp = '192.0.2.254', external_dhcp_rack_id = 'rack-e1', "
                 f"external_dhcp_seen = '2024-05-01T12:00:00Z' WHERE id = {v['id']}")
    got = ok(region, "GET", f"/api/v1/vlans/{v['id']}")
    assert (got["external_dhcp"], got["external_dhcp_rack"]) == ("192.0.2.254", "rack-e1")
    assert got["external_dhcp_seen"].startswith("2024-05-01T12:00:00")
    # Read only.
    refused(region, "PATCH", f"/api/v1/vlans/{v['id']}", {"external_dhcp_rack": "rack-e1"},
            field="external_dhcp_rack", text="unknown field")


# ---- leases and conflicts ----

def test_dhcp_leases_are_listed_and_belong_to_the_rack(region):
    cidr = "10.50.0.0/24"
    net = subnet(region, cidr)
    psql(region, "INSERT INTO rack (id, hostname, cert_serial, cert_fingerprint) VALUES ('rack-l1', 'rack-l', '1', 'x');"
                 f"INSERT INTO ip_address (ip, subnet_id, mode, owner_kind, hostname, lease_mac, lease_rack_id, "
                 f"lease_expiry) VALUES ('10.50.0.77', {net['id']}, 'dhcp', 'dhcp_lease', 'pc-1', "
                 f"'02:00:00:00:77:77', 'rack-l1', '2030-01-01T00:00:00Z')")
    ok(region, "POST", f"/api/v1/subnets/{key(cidr)}/allocate-ip", {"ip": "10.50.0.10"}, status=201)
    leases = items(region, "ip-addresses", "?owner_kind=dhcp_lease")
    assert len(leases) == 1
    lease = leases[0]
    assert (lease["ip"], lease["mode"], lease["owner_kind"], lease["lease_mac"], lease["lease_rack"]) == (
        "10.50.0.77", "dhcp", "dhcp_lease", "02:00:00:00:77:77", "rack-l1")
    assert lease["lease_expiry"].startswith("2030-01-01T00:00:00")
    assert lease["holder"] == "a DHCP lease of 02:00:00:00:77:77 (pc-1)"
    other = [a for a in items(region, "ip-addresses") if a["ip"] == "10.50.0.10"][0]
    assert (other["lease_mac"], other["lease_rack"], other["lease_expiry"]) == (None, None, None)

    before = snapshot(region)
    refused(region, "DELETE", f"/api/v1/ip-addresses/{lease['id']}", status=409,
            text=["DHCP leases are managed by the rack that granted them", "02:00:00:00:77:77"])
    refused(region, "DELETE", "/api/v1/ip-addresses/10.50.0.77", status=409, text="managed by the rack")
    refused(region, "POST", f"/api/v1/subnets/{key(cidr)}/release-ip", {"ip": "10.50.0.77"}, status=409,
            text="managed by the rack")
    # The allocator sees the lease as a holder and names it.
    refused(region, "POST", f"/api/v1/subnets/{key(cidr)}/allocate-ip", {"ip": "10.50.0.77"}, status=409,
            field="ip", text="a DHCP lease of 02:00:00:00:77:77")
    # Leases cannot be created through the API.
    refused(region, "POST", "/api/v1/ip-addresses", {"ip": "10.50.0.78"}, status=405)
    assert snapshot(region) == before
    # Other addresses still go.
    ok(region, "DELETE", "/api/v1/ip-addresses/10.50.0.10")


def test_dhcp_conflicts_listed(region):
    net = subnet(region, "10.60.0.0/24")
    assert ok(region, "GET", "/api/v1/dhcp-conflicts") == {"dhcp_conflicts": [], "total": 0, "limit": 100,
                                                           "offset": 0}
    psql(region, "INSERT INTO rack (id, hostname, cert_serial, cert_fingerprint) VALUES ('rack-c1', 'rack-c', '1', 'x');"
                 f"INSERT INTO dhcp_conflict (ip, rack_id, subnet_id, mac, reason, until, first_seen, last_seen) "
                 f"VALUES ('10.60.0.9', 'rack-c1', {net['id']}, '02:00:00:00:09:09', 'decline', "
                 f"'2030-01-01T00:00:00Z', '2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z'),"
                 f"('10.60.0.8', 'rack-c1', NULL, NULL, 'arp', '2030-01-01T00:00:00Z', '2024-01-01T00:00:00Z', "
                 f"'2024-01-01T00:00:00Z')")
    out = ok(region, "GET", "/api/v1/dhcp-conflicts")
    assert out["total"] == 2
    first, second = out["dhcp_conflicts"]
    assert (first["ip"], first["rack"], first["subnet"], first["subnet_cidr"], first["mac"], first["reason"]) == (
        "10.60.0.9", "rack-c1", net["id"], "10.60.0.0/24", "02:00:00:00:09:09", "decline")
    assert first["until"].startswith("2030-01-01") and first["last_seen"].startswith("2024-01-02")
    assert (second["ip"], second["subnet"], second["mac"], second["reason"]) == ("10.60.0.8", None, None, "arp")
    assert len(ok(region, "GET", "/api/v1/dhcp-conflicts?limit=1")["dhcp_conflicts"]) == 1
    refused(region, "GET", "/api/v1/dhcp-conflicts?limit=0", field="limit")


# ---- what a rack serves ----

def test_rack_dhcp_config(region, make_rack):
    rack = make_rack("rack-dhcp")
    rid = rack.rack_id
    wait_for(lambda: region.racks().get(rid, {}).get("connected"), what="rack connected")
    empty = ok(region, "GET", f"/api/v1/racks/{rid}/dhcp")
    assert (empty["rack"], empty["enabled"], empty["interfaces"]) == (rid, False, [])
    refused(region, "GET", "/api/v1/racks/no-such-rack/dhcp", status=404, text="no-such-rack")

    cidr = "10.70.0.0/24"
    net = subnet(region, cidr, gateway="10.70.0.1", dns_servers=["10.70.0.2"], domain="lab.test",
                 ntp_servers=["10.70.0.3"], dhcp_lease_time=1200)
    rng = ok(region, "POST", "/api/v1/ip-ranges", {"subnet": cidr, "type": "dynamic", "start_ip": "10.70.0.100",
                                                   "end_ip": "10.70.0.199"})
    # The rack has an address on the subnet (as its registration would say).
    psql(region, f"INSERT INTO rack_interface (rack_id, name, addresses) VALUES ('{rid}', 'dhcp0', '{{10.70.0.5/24}}')")
    ok(region, "POST", "/api/v1/machines", {"hostname": "node-9"})
    eth0 = ok(region, "POST", "/api/v1/machines/node-9/interfaces", {"name": "eth0", "mac": "02:00:00:00:09:01"})
    ok(region, "POST", f"/api/v1/interfaces/{eth0['id']}/links", {"subnet": cidr, "ip": "10.70.0.20"}, status=201)
    ok(region, "POST", "/api/v1/dhcp-snippets", {"name": "tftp", "code": 66, "type": "string", "value": "boot.lab",
                                                 "subnet": cidr}, status=201)
    ok(region, "POST", "/api/v1/dhcp-snippets", {"name": "g", "code": 2, "type": "i32", "value": "-3600"},
       status=201)
    ok(region, "PATCH", f"/api/v1/vlans/{net['vlan']}", {"dhcp_on": True, "primary_rack": rid})

    cfg = ok(region, "GET", f"/api/v1/racks/{rid}/dhcp")
    assert cfg["enabled"] is True and cfg["rack"] == rid
    assert {"code": 2, "hex": "fffff1f0"} in cfg["options"]
    [iface] = cfg["interfaces"]
    assert (iface["name"], iface["vlan"]) == ("dhcp0", net["vlan"])
    [s] = iface["subnets"]
    assert (s["id"], s["cidr"], s["server_address"], s["router"], s["domain"]) == (
        net["id"], cidr, "10.70.0.5", "10.70.0.1", "lab.test")
    assert s["dns"] == ["10.70.0.2"] and s["ntp"] == ["10.70.0.3"] and s["lease_time"] == 1200
    assert [(r["id"], r["first"], r["last"]) for r in s["ranges"]] == [(rng["id"], "10.70.0.100", "10.70.0.199")]
    assert ("02:00:00:00:09:01", "10.70.0.20") in [(h["mac"], h["address"]) for h in s["hosts"]]
    assert {"code": 66, "hex": "boot.lab".encode().hex()} in s["options"]

    # Every successful write schedules a rebuild (the router's hook): the
    # rack gets a new config version with DHCP on, and again when a
    # snippet changes what it serves.
    def version():
        return region.racks()[rid].get("config_version") or 0
    wait_for(lambda: version() >= 1, timeout=30, what="a DHCP config version for the rack")
    before = version()
    ok(region, "PATCH", "/api/v1/dhcp-snippets/g", {"value": "-7200"})
    wait_for(lambda: version() > before, timeout=30, what="a new config version after a snippet change")
    # A refused write changes nothing and schedules nothing that differs.
    refused(region, "PATCH", "/api/v1/dhcp-snippets/g", {"value": "x"}, field="value")
    assert {"code": 2, "hex": "ffffe3e0"} in ok(region, "GET", f"/api/v1/racks/{rid}/dhcp")["options"]

    # The CLI's summary of the same.
    out = cli(region, "racks", "dhcp", rid).stdout
    assert "dhcp0" in out and cidr in out and "10.70.0.100-10.70.0.199" in out
    assert json.loads(cli(region, "racks", "dhcp", rid, "--json").stdout)["enabled"] is True


# ---- CLI ----

def test_cli_dhcp_snippets(region):
    subnet(region, "10.80.0.0/24")
    assert cli(region, "dhcp-snippets", "list").stdout.strip() == "No dhcp-snippets."
    out = cli(region, "dhcp-snippets", "create", "ntp", "code=42", "type=ips", "value=192.0.2.1",
              "--subnet", "10.80.0.0/24").stdout
    assert "created DHCP snippet ntp" in out
    lines = cli(region, "dhcp-snippets", "list").stdout.splitlines()
    assert lines[0].split()[:4] == ["ID", "NAME", "CODE", "TYPE"]
    assert "ntp" in lines[1] and "42" in lines[1] and "10.80.0.0/24" in lines[1]
    data = json.loads(cli(region, "dhcp-snippets", "show", "ntp", "--json").stdout)
    assert data["data"] == "c0000201"
    assert "updated" in cli(region, "dhcp-snippets", "update", "ntp", "enabled=false").stdout
    assert json.loads(cli(region, "dhcp-snippets", "show", "ntp", "--json").stdout)["enabled"] is False
    bad = cli(region, "dhcp-snippets", "create", "x", "code=42", "type=ips", "value=1.2.3", check=False)
    assert bad.returncode == 1 and "not an IPv4 address" in bad.stderr
    assert "deleted DHCP snippet ntp" in cli(region, "dhcp-snippets", "delete", "ntp").stdout
    # The subnet commands keep working with the new fields.
    cli(region, "subnets", "update", "10.80.0.0/24", "domain=lab.test", "ntp_servers=10.80.0.3")
    show = cli(region, "subnet", "show", "10.80.0.0/24").stdout
    assert "lab.test" in show and "10.80.0.3" in show
