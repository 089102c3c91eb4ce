"""The network model through the REST API against a real region and its
PostgreSQL: zones, fabrics and VLANs, subnets, ranges, static routes,
addresses, machines, devices and neighbours, as seeds 001/002 describe them,
and bad input refused with a clear 4xx that changes nothing."""

import http.client

from nethelp import allocate, items, key, ok, psql, refused, snapshot, subnet


# ---- zones ----

def test_default_zone_can_be_neither_deleted_nor_renamed(region):
    zones = items(region, "zones")
    assert [z["name"] for z in zones] == ["default"]
    before = snapshot(region)
    refused(region, "DELETE", "/api/v1/zones/default", status=409, code="protected", text="default zone")
    zid = zones[0]["id"]
    refused(region, "DELETE", f"/api/v1/zones/{zid}", status=409, code="protected")
    refused(region, "PATCH", "/api/v1/zones/default", {"name": "other"}, status=409, field="name",
            text="cannot be renamed")
    assert snapshot(region) == before
    # Its description may change; other zones come and go.
    assert ok(region, "PATCH", "/api/v1/zones/default", {"description": "all of it"})["description"] == "all of it"
    ok(region, "POST", "/api/v1/zones", {"name": "lab"})
    refused(region, "POST", "/api/v1/zones", {"name": "lab"}, status=409, field="name", text="'lab'")
    refused(region, "POST", "/api/v1/zones", {"name": "bad name"}, field="name")
    refused(region, "POST", "/api/v1/zones", {"name": "123"}, field="name", text="not all digits")


def test_deleting_a_zone_moves_its_members_to_default(region):
    ok(region, "POST", "/api/v1/zones", {"name": "rack-room-2"})
    m = ok(region, "POST", "/api/v1/machines", {"hostname": "node-1", "zone": "rack-room-2"})
    d = ok(region, "POST", "/api/v1/devices", {"hostname": "switch-1", "zone": "rack-room-2"})
    assert m["zone"] == "rack-room-2" and d["zone"] == "rack-room-2"
    assert ok(region, "GET", "/api/v1/zones/rack-room-2")["machines"] == 1
    gone = ok(region, "DELETE", "/api/v1/zones/rack-room-2")
    assert gone["name"] == "rack-room-2"
    assert ok(region, "GET", "/api/v1/machines/node-1")["zone"] == "default"
    assert ok(region, "GET", "/api/v1/devices/switch-1")["zone"] == "default"
    refused(region, "GET", "/api/v1/zones/rack-room-2", status=404, code="not_found", text="rack-room-2")


# ---- fabrics, VLANs, spaces ----

def test_every_fabric_gets_a_default_untagged_vlan(region):
    f = ok(region, "POST", "/api/v1/fabrics", {"description": "second row"})
    assert f["name"] == f"fabric-{f['id']}" and f["vlans"] == 1
    vlans = items(region, "vlans", f"?fabric={f['name']}")
    assert [(v["vid"], v["name"], v["mtu"]) for v in vlans] == [(0, "untagged", 1500)]
    assert f["default_vlan"] == vlans[0]["id"]
    # The default VLAN goes only with its fabric.
    refused(region, "DELETE", f"/api/v1/vlans/{vlans[0]['id']}", status=409, code="protected", text="default VLAN")
    refused(region, "PATCH", f"/api/v1/vlans/{vlans[0]['id']}", {"vid": 7}, status=409, field="vid")
    v10 = ok(region, "POST", "/api/v1/vlans", {"fabric": f["name"], "vid": 10, "name": "storage", "mtu": 9000})
    assert (v10["vid"], v10["mtu"], v10["fabric_name"]) == (10, 9000, f["name"])
    # vid unique per fabric, but the same vid may exist on another fabric
    refused(region, "POST", "/api/v1/vlans", {"fabric": f["id"], "vid": 10}, status=409, field="vid",
            code="already_exists")
    ok(region, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 10})
    ok(region, "DELETE", f"/api/v1/fabrics/{f['name']}")
    assert items(region, "vlans", "?vid=10") and all(v["fabric_name"] == "fabric-0"
                                                     for v in items(region, "vlans", "?vid=10"))
    assert not [v for v in items(region, "vlans") if v["fabric"] == f["id"]]


def test_vlan_bad_values(region):
    before = snapshot(region)
    refused(region, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 4095}, field="vid", text="0 to 4094")
    refused(region, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": -1}, field="vid")
    refused(region, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 5, "mtu": 551}, field="mtu",
            text="552 to 65535")
    refused(region, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 5, "mtu": 65536}, field="mtu")
    refused(region, "POST", "/api/v1/vlans", {"fabric": "nope", "vid": 5}, field="fabric", text="'nope' not found")
    refused(region, "POST", "/api/v1/vlans", {"vid": 5}, field="fabric", text="required")
    refused(region, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": "5"}, field="vid")
    refused(region, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 5, "dhcp_on": True}, field="primary_rack")
    assert snapshot(region) == before


def test_space_is_shown_on_subnets(region):
    ok(region, "POST", "/api/v1/spaces", {"name": "dmz"})
    v = ok(region, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 20, "space": "dmz"})
    s = subnet(region, "203.0.113.0/24", vlan=v["id"])
    assert s["space"] == "dmz" and s["vid"] == 20
    assert ok(region, "GET", "/api/v1/spaces/dmz")["subnets"] == 1
    assert [x["cidr"] for x in items(region, "subnets", "?space=dmz")] == ["203.0.113.0/24"]
    # Deleting the space leaves the VLAN without one.
    ok(region, "DELETE", "/api/v1/spaces/dmz")
    assert ok(region, "GET", "/api/v1/subnets/203.0.113.0-24")["space"] is None


def test_vlan_dhcp_needs_a_rack_and_a_dynamic_range(region):
    for rid, host in (("rack-0001", "rack-a"), ("rack-0002", "rack-b")):
        psql(region, f"INSERT INTO rack (id, hostname, cert_serial, cert_fingerprint) "
                     f"VALUES ('{rid}', '{host}', '1', 'x')")
    v = ok(region, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 30})
    path = f"/api/v1/vlans/{v['id']}"
    refused(region, "PATCH", path, {"dhcp_on": True}, field="primary_rack", text="primary rack")
    refused(region, "PATCH", path, {"dhcp_on": True, "primary_rack": "rack-a"}, status=409, field="dhcp_on",
            text="dynamic range")
    refused(region, "PATCH", path, {"secondary_rack": "rack-b"}, field="secondary_rack")
    refused(region, "PATCH", path, {"primary_rack": "rack-a", "secondary_rack": "rack-a"}, field="secondary_rack")
    assert ok(region, "GET", path)["dhcp_on"] is False
    subnet(region, "192.0.2.0/24", vlan=v["id"])
    ok(region, "POST", "/api/v1/ip-ranges", {"subnet": "192.0.2.0/24", "type": "dynamic",
                                             "start_ip": "192.0.2.100", "end_ip": "192.0.2.199"})
    on = ok(region, "PATCH", path, {"dhcp_on": True, "primary_rack": "rack-a", "secondary_rack": "rack-0002"})
    assert (on["dhcp_on"], on["primary_rack"], on["secondary_rack"]) == (True, "rack-0001", "rack-0002")
    # A relay and DHCP on one VLAN contradict each other.
    other = ok(region, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 31})
    refused(region, "PATCH", path, {"relay_vlan": other["id"]}, field="relay_vlan")
    # The primary rack goes away: the secondary takes over; then DHCP stops.
    psql(region, "DELETE FROM rack WHERE id = 'rack-0001'")
    after = ok(region, "GET", path)
    assert (after["dhcp_on"], after["primary_rack"], after["secondary_rack"]) == (True, "rack-0002", None)
    psql(region, "DELETE FROM rack WHERE id = 'rack-0002'")
    assert ok(region, "GET", path)["dhcp_on"] is False


# ---- subnets ----

def test_subnet_defaults_and_lookup_forms(region):
    s = subnet(region, "10.20.0.0/24")
    assert s["name"] == "10.20.0.0/24"  # name defaults to the CIDR
    assert (s["managed"], s["active_discovery"], s["discovery_interval"]) == (True, False, 3 * 3600)
    assert (s["allow_proxy"], s["allow_dns"], s["fabric_name"], s["vid"]) == (True, True, "fabric-0", 0)
    for path in ("10.20.0.0-24", str(s["id"])):
        assert ok(region, "GET", f"/api/v1/subnets/{path}")["id"] == s["id"]
    assert [x["id"] for x in items(region, "subnets", "?cidr=10.20.0.0/24")] == [s["id"]]
    assert [x["id"] for x in items(region, "subnets", "?cidr=10.20.0.0%2F24")] == [s["id"]]
    # "%2F" never reaches a handler as a '/' (the router refuses it).
    refused(region, "GET", "/api/v1/subnets/10.20.0.0%2F24", status=404)
    refused(region, "GET", "/api/v1/subnets/10.21.0.0-24", status=404, text="10.21.0.0/24")
    # The name follows a CIDR change while it was the CIDR.
    moved = ok(region, "PATCH", "/api/v1/subnets/10.20.0.0-24", {"cidr": "10.20.0.0/23", "gateway": "10.20.1.254"})
    assert (moved["cidr"], moved["name"], moved["gateway"]) == ("10.20.0.0/23", "10.20.0.0/23", "10.20.1.254")
    v6 = subnet(region, "2001:db8:4d41:4153::/64", name="v6 lab", dns_servers=["2001:db8::53"])
    assert (v6["family"], v6["name"], v6["dns_servers"]) == (6, "v6 lab", ["2001:db8::53"])
    assert ok(region, "GET", "/api/v1/subnets/2001:db8:4d41:4153::-64")["id"] == v6["id"]


def test_subnet_bad_input_changes_nothing(region):
    subnet(region, "10.30.0.0/24", gateway="10.30.0.1")
    before = snapshot(region)
    refused(region, "POST", "/api/v1/subnets", {"cidr": "10.30.1.0/33"}, field="cidr", text="not a CIDR")
    refused(region, "POST", "/api/v1/subnets", {"cidr": "banana"}, field="cidr")
    refused(region, "POST", "/api/v1/subnets", {"cidr": "10.30.1.0"}, field="cidr", text="prefix length")
    refused(region, "POST", "/api/v1/subnets", {"cidr": "10.30.1.7/24"}, field="cidr",
            text=["host bits set", "10.30.1.0/24"])
    refused(region, "POST", "/api/v1/subnets", {"cidr": "2001:db8::1/32"}, field="cidr", text="2001:db8::/32")
    refused(region, "POST", "/api/v1/subnets", {"cidr": "10.30.1.0/24", "gateway": "10.30.2.1"}, field="gateway",
            text="outside")
    refused(region, "POST", "/api/v1/subnets", {"cidr": "10.30.1.0/24", "gateway": "10.30.1.255"},
            field="gateway", text="broadcast")
    refused(region, "POST", "/api/v1/subnets", {"cidr": "10.30.1.0/24", "gateway": "2001:db8::1"},
            field="gateway")
    refused(region, "POST", "/api/v1/subnets", {"cidr": "10.30.1.0/24", "gateway": "10.30.1.1/24"},
            field="gateway", text="without a prefix length")
    refused(region, "POST", "/api/v1/subnets", {"cidr": "10.30.1.0/24", "dns_servers": ["x"]}, field="dns_servers")
    refused(region, "POST", "/api/v1/subnets", {"cidr": "10.30.0.0/24"}, status=409, field="cidr",
            text="already exists")
    refused(region, "POST", "/api/v1/subnets", {"cidr": "10.30.0.0/16"}, status=409, field="cidr",
            text=["overlaps", "10.30.0.0/24"])
    refused(region, "POST", "/api/v1/subnets", {"cidr": "10.30.1.0/24", "vlan": 999}, field="vlan")
    refused(region, "POST", "/api/v1/subnets", {"cidr": "10.30.1.0/24", "vid": 77}, status=400, field="vid",
            text="has no VLAN 77")
    refused(region, "POST", "/api/v1/subnets", {"cidr": "10.30.1.0/24", "managed": "yes"}, field="managed")
    refused(region, "POST", "/api/v1/subnets", {"cidr": "10.30.1.0/24", "discovery_interval": 5},
            field="discovery_interval")
    refused(region, "POST", "/api/v1/subnets", {"cidr": "10.30.1.0/24", "colour": "red"}, field="colour",
            text="unknown field")
    refused(region, "PATCH", "/api/v1/subnets/10.30.0.0-24", {"gateway": "10.31.0.1"}, field="gateway")
    refused(region, "PATCH", "/api/v1/subnets/10.30.0.0-24", {}, text="nothing to change")
    refused(region, "GET", "/api/v1/subnets?family=5", field="family")
    refused(region, "GET", "/api/v1/subnets?fabrik=1", field="fabrik", text="unknown query parameter")
    refused(region, "GET", "/api/v1/subnets?limit=0", field="limit")
    assert snapshot(region) == before


def test_malformed_and_oversized_json_change_nothing(region):
    before = snapshot(region)
    for body in (b"{not json", b'{"cidr": "10.0.0.0/24",}', b"", b'{"cidr": "10.0.0.0/24", "cidr": "10.1.0.0/24"}'):
        st, out = region.api("POST", "/api/v1/subnets", body)
        assert st == 400 and out["error"]["code"] == "invalid_json", (body, out)
    refused(region, "POST", "/api/v1/subnets", b"[]", text="JSON object")
    for body in (b'"10.0.0.0/24"', b"null", b"{" * 5000):
        st, out = region.api("POST", "/api/v1/subnets", body)
        assert st == 400 and out["error"]["code"] == "invalid_json", (body[:20], out)
    # Larger than max_body_bytes: refused from its Content-Length.
    conn = http.client.HTTPConnection("127.0.0.1", region.http_port, timeout=10)
    conn.putrequest("POST", "/api/v1/subnets")
    conn.putheader("Authorization", f"Bearer {region.admin_key}")
    conn.putheader("Content-Length", str(2 << 20))
    conn.endheaders()
    assert conn.getresponse().status == 413
    conn.close()
    refused(region, "POST", "/api/v1/subnets", {"cidr": "10.9.0.0/24", "description": "x" * 2000},
            field="description")
    assert snapshot(region) == before


def test_delete_subnet_with_addresses_in_use_is_refused(region):
    subnet(region, "10.40.0.0/24")
    ok(region, "POST", "/api/v1/ip-ranges", {"subnet": "10.40.0.0/24", "type": "reserved",
                                             "start_ip": "10.40.0.200", "end_ip": "10.40.0.210"})
    a = allocate(region, "10.40.0.0/24")
    b = allocate(region, "10.40.0.0/24", ip="10.40.0.77", hostname="printer")
    before = snapshot(region)
    refused(region, "DELETE", "/api/v1/subnets/10.40.0.0-24", status=409, code="conflict",
            text=["10.40.0.0/24", "2 address(es) in use"])
    assert snapshot(region) == before
    ok(region, "POST", "/api/v1/subnets/10.40.0.0-24/release-ip", {"ip": a["ip"]})
    ok(region, "DELETE", f"/api/v1/ip-addresses/{b['ip']}")
    gone = ok(region, "DELETE", "/api/v1/subnets/10.40.0.0-24")
    assert gone["cidr"] == "10.40.0.0/24"
    assert items(region, "ip-ranges") == []  # its ranges went with it


# ---- ranges ----

def test_ranges_bad_input_changes_nothing(region):
    subnet(region, "192.0.2.0/24", gateway="192.0.2.1")
    base = {"subnet": "192.0.2.0/24"}
    ok(region, "POST", "/api/v1/ip-ranges", dict(base, type="dynamic", start_ip="192.0.2.100", end_ip="192.0.2.199"))
    m = ok(region, "POST", "/api/v1/machines", {"hostname": "node-3"})
    i = ok(region, "POST", f"/api/v1/machines/{m['id']}/interfaces", {"name": "eth0", "mac": "02:00:00:00:00:03"})
    ok(region, "POST", f"/api/v1/interfaces/{i['id']}/links", {"subnet": "192.0.2.0/24", "ip": "192.0.2.50"},
       status=201)
    before = snapshot(region)
    r = "/api/v1/ip-ranges"
    refused(region, "POST", r, dict(base, type="reserved", start_ip="192.0.2.150", end_ip="192.0.2.250"),
            status=409, code="conflict", text=["overlaps", "dynamic", "192.0.2.100-192.0.2.199"])
    refused(region, "POST", r, dict(base, type="reserved", start_ip="192.0.2.250", end_ip="192.0.3.4"),
            field="end_ip", text="outside subnet 192.0.2.0/24")
    refused(region, "POST", r, dict(base, type="reserved", start_ip="198.51.100.1", end_ip="198.51.100.4"),
            field="start_ip", text="outside")
    refused(region, "POST", r, dict(base, type="reserved", start_ip="192.0.2.20", end_ip="192.0.2.10"),
            field="end_ip", text="below")
    refused(region, "POST", r, dict(base, type="reserved", start_ip="192.0.2.0", end_ip="192.0.2.10"),
            field="start_ip", text="network or broadcast")
    refused(region, "POST", r, dict(base, type="dynamic", start_ip="192.0.2.40", end_ip="192.0.2.60"), status=409,
            text=["192.0.2.50", "machine 'node-3' interface eth0"])
    refused(region, "POST", r, dict(base, type="static", start_ip="192.0.2.2", end_ip="192.0.2.3"), field="type",
            text="reserved, dynamic")
    refused(region, "POST", r, dict(base, type="reserved", start_ip="192.0.2.2"), field="end_ip", text="required")
    refused(region, "POST", r, dict(type="reserved", start_ip="192.0.2.2", end_ip="192.0.2.3", subnet="10.99.0.0/24"),
            field="subnet", text="not found")
    refused(region, "POST", r, dict(base, type="reserved", start_ip="2001:db8::1", end_ip="2001:db8::2"),
            field="start_ip")
    rid = items(region, "ip-ranges")[0]["id"]
    refused(region, "PATCH", f"{r}/{rid}", {"end_ip": "192.0.2.255"}, field="end_ip")
    refused(region, "PATCH", f"{r}/{rid}", {"subnet": "192.0.2.0/24"}, field="subnet", text="cannot be changed")
    assert snapshot(region) == before
    # A range may grow where nothing is in the way.
    grown = ok(region, "PATCH", f"{r}/{rid}", {"end_ip": "192.0.2.220", "comment": "PXE"})
    assert (grown["end_ip"], grown["comment"]) == ("192.0.2.220", "PXE")


# ---- seed behaviours of allocation ----

def test_managed_subnet_auto_assign_avoids_ranges_gateway_and_dns(region):
    # usable .17-.30; gateway .17, DNS .18; reserved .19-.20; dynamic .26-.30
    cidr = "192.0.2.16/28"
    subnet(region, cidr, gateway="192.0.2.17", dns_servers=["192.0.2.18", "9.9.9.9"])
    ok(region, "POST", "/api/v1/ip-ranges", {"subnet": cidr, "type": "reserved", "start_ip": "192.0.2.19",
                                             "end_ip": "192.0.2.20", "comment": "switches"})
    ok(region, "POST", "/api/v1/ip-ranges", {"subnet": cidr, "type": "dynamic", "start_ip": "192.0.2.26",
                                             "end_ip": "192.0.2.30"})
    got = [allocate(region, cidr)["ip"] for _ in range(5)]
    assert got == [f"192.0.2.{n}" for n in range(21, 26)]
    refused(region, "POST", f"/api/v1/subnets/{key(cidr)}/allocate-ip", {}, status=409, code="exhausted",
            text=["no free address", "managed"])
    # The DHCP pool is the dynamic range.
    nf = ok(region, "GET", f"/api/v1/subnets/{key(cidr)}/next-free?pool=dhcp")
    assert (nf["ip"], nf["pool"]) == ("192.0.2.26", "dhcp")
    refused(region, "GET", f"/api/v1/subnets/{key(cidr)}/next-free", status=409, code="exhausted")
    # A static address inside a reserved range is the administrator's call.
    assert allocate(region, cidr, ip="192.0.2.19", hostname="tor-1")["mode"] == "static"
    u = ok(region, "GET", f"/api/v1/subnets/{key(cidr)}/utilisation")
    assert (u["total"], u["available"], u["managed"]) == (14, 0, True)
    assert (u["dhcp_total"], u["dhcp_available"]) == (5, 5)


def test_unmanaged_subnet_assigns_only_inside_reserved_ranges(region):
    cidr = "198.51.100.0/28"
    subnet(region, cidr, managed=False, gateway="198.51.100.1")
    refused(region, "POST", f"/api/v1/subnets/{key(cidr)}/allocate-ip", {}, status=409, code="exhausted",
            text=["unmanaged", "reserved ranges"])
    # A dynamic range is never used on an unmanaged subnet.
    ok(region, "POST", "/api/v1/ip-ranges", {"subnet": cidr, "type": "dynamic", "start_ip": "198.51.100.2",
                                             "end_ip": "198.51.100.5"})
    ok(region, "POST", "/api/v1/ip-ranges", {"subnet": cidr, "type": "reserved", "start_ip": "198.51.100.10",
                                             "end_ip": "198.51.100.11"})
    assert [allocate(region, cidr)["ip"] for _ in range(2)] == ["198.51.100.10", "198.51.100.11"]
    refused(region, "POST", f"/api/v1/subnets/{key(cidr)}/allocate-ip", {}, status=409, code="exhausted")
    refused(region, "GET", f"/api/v1/subnets/{key(cidr)}/next-free?pool=dhcp", status=409)
    # Static outside the reserved ranges is still possible (not in the dynamic one).
    assert allocate(region, cidr, ip="198.51.100.12")["ip"] == "198.51.100.12"
    refused(region, "POST", f"/api/v1/subnets/{key(cidr)}/allocate-ip", {"ip": "198.51.100.3"}, status=409,
            text="dynamic range")
    # Switching to managed flips the pools.
    ok(region, "PATCH", f"/api/v1/subnets/{key(cidr)}", {"managed": True})
    assert allocate(region, cidr)["ip"] == "198.51.100.6"


def test_static_clash_names_the_holder(region):
    cidr = "192.0.2.0/24"
    subnet(region, cidr, gateway="192.0.2.1", dns_servers=["192.0.2.2"])
    ok(region, "POST", "/api/v1/ip-ranges", {"subnet": cidr, "type": "dynamic", "start_ip": "192.0.2.200",
                                             "end_ip": "192.0.2.250"})
    m = ok(region, "POST", "/api/v1/machines", {"hostname": "node-3"})
    eth0 = ok(region, "POST", "/api/v1/machines/node-3/interfaces", {"name": "eth0", "mac": "02:00:00:00:00:10"})
    link = ok(region, "POST", f"/api/v1/interfaces/{eth0['id']}/links", {"subnet": cidr, "ip": "192.0.2.10"},
              status=201)
    assert (link["holder"], link["machine"], link["mode"]) == ("machine 'node-3' interface eth0", m["id"], "static")
    dev = ok(region, "POST", "/api/v1/devices", {"hostname": "printer"})
    assert allocate(region, cidr, ip="192.0.2.11", device="printer")["holder"] == "device 'printer'"
    psql(region, "INSERT INTO rack (id, hostname, cert_serial, cert_fingerprint) VALUES ('rack-77', 'rack-1', '1', 'x');"
                 "INSERT INTO rack_interface (rack_id, name, addresses) VALUES ('rack-77', 'eth1', '{192.0.2.5/24}')")
    before = snapshot(region)
    path = f"/api/v1/subnets/{key(cidr)}/allocate-ip"
    refused(region, "POST", path, {"ip": "192.0.2.10"}, status=409, field="ip",
            text="192.0.2.10 is already assigned to machine 'node-3' interface eth0")
    refused(region, "POST", path, {"ip": "192.0.2.11"}, status=409, text="device 'printer'")
    refused(region, "POST", path, {"ip": "192.0.2.1"}, status=409, text="gateway")
    refused(region, "POST", path, {"ip": "192.0.2.2"}, status=409, text="DNS server")
    refused(region, "POST", path, {"ip": "192.0.2.5"}, status=409, text="rack 'rack-1' interface eth1")
    refused(region, "POST", path, {"ip": "192.0.2.210"}, status=409, text="dynamic range 192.0.2.200-192.0.2.250")
    refused(region, "POST", path, {"ip": "192.0.3.10"}, field="ip", text="outside subnet 192.0.2.0/24")
    refused(region, "POST", path, {"ip": "192.0.2.255"}, field="ip", text="broadcast")
    refused(region, "POST", path, {"ip": "banana"}, field="ip")
    refused(region, "POST", path, {"ip": "192.0.2.12", "mode": "auto"}, field="ip")
    refused(region, "POST", path, {"mode": "static"}, field="ip")
    refused(region, "POST", path, {"device": "nobody"}, field="device", text="not found")
    refused(region, "POST", path, {"device": "printer", "interface": eth0["id"]}, field="interface")
    refused(region, "POST", path, {"mode": "dhcp"}, field="mode")
    assert snapshot(region) == before
    # auto assign skips every one of them
    assert allocate(region, cidr)["ip"] == "192.0.2.3"
    # A DHCP link of an interface has no address until a lease is seen
    # (and is the interface's only link: docs/network.md, "Model rules").
    eth1 = ok(region, "POST", "/api/v1/machines/node-3/interfaces", {"name": "eth1", "mac": "02:00:00:00:00:11"})
    dhcp = ok(region, "POST", f"/api/v1/interfaces/{eth1['id']}/links", {"subnet": cidr, "mode": "dhcp"}, status=201)
    assert dhcp["ip"] is None and dhcp["mode"] == "dhcp"
    assert len(items(region, "ip-addresses", "?machine=node-3")) == 2
    ok(region, "DELETE", f"/api/v1/interfaces/{eth1['id']}/links/{dhcp['id']}")
    # Deleting the machine releases its addresses; the device keeps its own.
    ok(region, "DELETE", "/api/v1/machines/node-3")
    assert [a["ip"] for a in items(region, "ip-addresses", f"?subnet={key(cidr)}")] == ["192.0.2.3", "192.0.2.11"]
    assert ok(region, "GET", f"/api/v1/devices/{dev['id']}")["ip_addresses"] == ["192.0.2.11"]


def test_neighbours_are_avoided_and_the_oldest_is_offered_for_recheck(region):
    cidr = "192.0.2.0/29"  # usable .1-.6
    subnet(region, cidr, gateway="192.0.2.1")
    n2 = ok(region, "POST", "/api/v1/neighbours", {"ip": "192.0.2.2", "mac": "02:aa:00:00:00:02",
                                                   "last_seen": "2024-01-01T00:00:00Z"}, status=201)
    ok(region, "POST", "/api/v1/neighbours", {"ip": "192.0.2.3", "mac": "02:aa:00:00:00:03",
                                              "last_seen": "2024-06-01T00:00:00Z"}, status=201)
    # Seen again: counted, not duplicated.
    again = ok(region, "POST", "/api/v1/neighbours", {"ip": "192.0.2.2", "mac": "02-AA-00-00-00-02",
                                                      "last_seen": "2024-02-01T00:00:00Z"}, status=201)
    assert again["id"] == n2["id"] and again["count"] == 2 and again["last_seen"].startswith("2024-02-01")
    assert [n["subnet"] for n in items(region, "neighbours", f"?subnet={key(cidr)}")] == [n2["subnet"]] * 2
    got = [allocate(region, cidr) for _ in range(3)]
    assert [a["ip"] for a in got] == ["192.0.2.4", "192.0.2.5", "192.0.2.6"]
    assert not any(a["recheck"] for a in got)
    # Nothing else is free: the least recently seen neighbour, for a re-check.
    old = allocate(region, cidr)
    assert (old["ip"], old["recheck"]) == ("192.0.2.2", True)
    assert "02:aa:00:00:00:02" in old["warning"] and "check" in old["warning"]
    assert allocate(region, cidr)["ip"] == "192.0.2.3"
    refused(region, "POST", f"/api/v1/subnets/{key(cidr)}/allocate-ip", {}, status=409, code="exhausted")
    # Bad sightings are refused.
    refused(region, "POST", "/api/v1/neighbours", {"ip": "192.0.2.9", "mac": "nope"}, field="mac")
    refused(region, "POST", "/api/v1/neighbours", {"ip": "192.0.2.9/24", "mac": "02:aa:00:00:00:09"}, field="ip")
    refused(region, "POST", "/api/v1/neighbours", {"ip": "192.0.2.9", "mac": "02:aa:00:00:00:09",
                                                   "last_seen": "yesterday"}, field="last_seen")
    st, _ = region.api("PATCH", f"/api/v1/neighbours/{n2['id']}", {"count": 1})
    assert st == 405


def test_static_on_an_address_seen_on_the_wire_warns(region):
    cidr = "192.0.2.64/26"
    subnet(region, cidr)
    ok(region, "POST", "/api/v1/neighbours", {"ip": "192.0.2.70", "mac": "02:bb:00:00:00:70"})
    a = allocate(region, cidr, ip="192.0.2.70", comment="existing host")
    assert a["ip"] == "192.0.2.70" and a["recheck"] is False
    assert "seen in use on the wire by 02:bb:00:00:00:70" in a["warning"]
    assert a["holder"] == "a user reservation (existing host)"


def test_utilisation_and_suggestions(region):
    subnet(region, "10.50.0.0/24")
    u = ok(region, "GET", "/api/v1/subnets/10.50.0.0-24/utilisation")
    assert (u["total"], u["available"], u["used"], u["used_pct"]) == (254, 254, 0, 0)
    assert u["largest_free"] == {"start": "10.50.0.1", "end": "10.50.0.254", "size": 254}
    s = ok(region, "GET", "/api/v1/subnets/10.50.0.0-24/suggestions")
    assert s["gateway"] == "10.50.0.1"
    assert s["dynamic_range"] == {"start": "10.50.0.128", "end": "10.50.0.254"}
    ok(region, "PATCH", "/api/v1/subnets/10.50.0.0-24", {"gateway": "10.50.0.1"})
    ok(region, "POST", "/api/v1/ip-ranges", {"subnet": "10.50.0.0/24", "type": "dynamic",
                                             "start_ip": "10.50.0.128", "end_ip": "10.50.0.254"})
    for _ in range(3):
        allocate(region, "10.50.0.0/24")
    u = ok(region, "GET", "/api/v1/subnets/10.50.0.0-24/utilisation")
    assert (u["total"], u["used"], u["reserved"], u["available"]) == (254, 4, 127, 123)
    assert u["largest_free"] == {"start": "10.50.0.5", "end": "10.50.0.127", "size": 123}
    assert ok(region, "GET", "/api/v1/subnets/10.50.0.0-24/suggestions")["dynamic_range"] is None
    # RFC 3021 /31 and a /32; IPv6 counts beyond a JSON integer are strings.
    subnet(region, "10.60.0.0/31")
    subnet(region, "10.60.0.9/32")
    assert ok(region, "GET", "/api/v1/subnets/10.60.0.0-31/utilisation")["total"] == 2
    assert [allocate(region, "10.60.0.0/31")["ip"] for _ in range(2)] == ["10.60.0.0", "10.60.0.1"]
    assert ok(region, "GET", "/api/v1/subnets/10.60.0.9-32/utilisation")["total"] == 1
    subnet(region, "2001:db8::/32")
    u6 = ok(region, "GET", "/api/v1/subnets/2001:db8::-32/utilisation")
    assert u6["total"] == str(2 ** 96 - 1) and u6["available"] == str(2 ** 96 - 1)
    assert allocate(region, "2001:db8::/32")["ip"] == "2001:db8::1"
    assert ok(region, "GET", "/api/v1/subnets/2001:db8::-32/utilisation")["available"] == str(2 ** 96 - 2)
    subnet(region, "2001:db9:1::/64", managed=False)
    ok(region, "POST", "/api/v1/ip-ranges", {"subnet": "2001:db9:1::/64", "type": "reserved",
                                             "start_ip": "2001:db9:1::100", "end_ip": "2001:db9:1::1ff"})
    assert allocate(region, "2001:db9:1::/64")["ip"] == "2001:db9:1::100"


def test_static_routes(region):
    subnet(region, "10.70.0.0/24")
    subnet(region, "10.71.0.0/24")
    subnet(region, "2001:db8:70::/64")
    r = ok(region, "POST", "/api/v1/static-routes", {"source": "10.70.0.0/24", "destination": "10.71.0.0/24",
                                                     "gateway": "10.70.0.254", "metric": 10})
    assert (r["source_cidr"], r["destination_cidr"], r["gateway"], r["metric"]) == \
        ("10.70.0.0/24", "10.71.0.0/24", "10.70.0.254", 10)
    before = snapshot(region)
    path = "/api/v1/static-routes"
    refused(region, "POST", path, {"source": "10.70.0.0/24", "destination": "10.71.0.0/24", "gateway": "10.71.0.1"},
            field="gateway", text="outside the source subnet")
    refused(region, "POST", path, {"source": "10.70.0.0/24", "destination": "10.70.0.0/24", "gateway": "10.70.0.1"},
            field="destination")
    refused(region, "POST", path, {"source": "10.70.0.0/24", "destination": "2001:db8:70::/64",
                                   "gateway": "10.70.0.1"}, field="destination", text="families")
    refused(region, "POST", path, {"source": "10.70.0.0/24", "destination": "10.71.0.0/24",
                                   "gateway": "10.70.0.254"}, status=409, code="already_exists")
    refused(region, "POST", path, {"source": "10.70.0.0/24", "destination": "10.71.0.0/24", "gateway": "10.70.0.9",
                                   "metric": -1}, field="metric")
    assert snapshot(region) == before
    assert ok(region, "PATCH", f"{path}/{r['id']}", {"metric": 5})["metric"] == 5
    assert [x["id"] for x in items(region, "static-routes", "?source=10.70.0.0/24")] == [r["id"]]
    # Routes go with either subnet.
    ok(region, "DELETE", "/api/v1/subnets/10.71.0.0-24")
    assert items(region, "static-routes") == []


def test_machines_interfaces_devices(region):
    m = ok(region, "POST", "/api/v1/machines", {"hostname": "node-9", "architecture": "amd64/generic"})
    refused(region, "POST", "/api/v1/machines", {"hostname": "node-9"}, status=409, field="hostname")
    refused(region, "POST", "/api/v1/machines", {"hostname": "-bad-"}, field="hostname")
    refused(region, "POST", "/api/v1/machines", {"hostname": "x", "zone": "nowhere"}, field="zone")
    i = ok(region, "POST", "/api/v1/machines/node-9/interfaces", {"name": "eth0", "mac": "02:00:00:00:09:00"})
    assert (i["machine"], i["machine_hostname"], i["mac"]) == (m["id"], "node-9", "02:00:00:00:09:00")
    refused(region, "POST", "/api/v1/machines/node-9/interfaces", {"name": "eth1", "mac": "02:00:00:00:09:00"},
            status=409, field="mac", text="02:00:00:00:09:00")
    refused(region, "POST", "/api/v1/machines/node-9/interfaces", {"name": "eth0", "mac": "02:00:00:00:09:01"},
            status=409, field="name")
    refused(region, "POST", "/api/v1/machines/node-9/interfaces", {"name": "eth 1", "mac": "02:00:00:00:09:02"},
            field="name")
    refused(region, "POST", "/api/v1/machines/nobody/interfaces", {"name": "eth1", "mac": "02:00:00:00:09:03"},
            status=404)
    v = items(region, "vlans")[0]
    assert ok(region, "PATCH", f"/api/v1/interfaces/{i['id']}", {"vlan": v["id"]})["vlan"] == v["id"]
    assert [x["name"] for x in items(region, "interfaces", "?machine=node-9")] == ["eth0"]
    assert ok(region, "GET", "/api/v1/machines/node-9/interfaces")["interfaces"][0]["id"] == i["id"]
    assert ok(region, "PATCH", "/api/v1/machines/node-9", {"hostname": "node-10"})["hostname"] == "node-10"
    assert items(region, "machines", "?hostname=node-10")[0]["interfaces"] == 1


def test_pagination(region):
    for n in range(7):
        ok(region, "POST", "/api/v1/spaces", {"name": f"space-{n}"})
    page = ok(region, "GET", "/api/v1/spaces?limit=3&offset=3")
    assert [s["name"] for s in page["spaces"]] == ["space-3", "space-4", "space-5"]
    assert (page["total"], page["limit"], page["offset"]) == (7, 3, 3)
    past = ok(region, "GET", "/api/v1/spaces?limit=3&offset=50")
    assert past["spaces"] == [] and past["total"] == 7
    refused(region, "GET", "/api/v1/spaces?limit=1001", field="limit")
    refused(region, "GET", "/api/v1/spaces?offset=-1", field="offset")
