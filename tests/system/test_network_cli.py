"""The `ironrack` CLI over the network model: readable tables, --json for
scripts, errors printed with exit status 1 and usage errors with 2."""

import json

from conftest import cli
from nethelp import allocate, ok, subnet


def test_subnets_list_and_show(region):
    out = cli(region, "subnets", "list")
    assert out.stdout.strip() == "No subnets."
    assert "created subnet 10.0.0.0/24" in cli(region, "subnets", "create", "10.0.0.0/24", "--gateway", "10.0.0.1",
                                               "dns_servers=10.0.0.2,9.9.9.9", "description=lab").stdout
    cli(region, "subnets", "create", "2001:db8::/64", "managed=false")
    lines = cli(region, "subnets", "list").stdout.splitlines()
    assert lines[0].split() == ["ID", "CIDR", "NAME", "FABRIC", "VID", "SPACE", "GATEWAY", "MANAGED", "IN", "USE"]
    assert lines[1].split()[1:] == ["10.0.0.0/24", "10.0.0.0/24", "fabric-0", "0", "-", "10.0.0.1", "yes", "0"]
    assert lines[2].split()[1:8:6] == ["2001:db8::/64", "no"]
    data = json.loads(cli(region, "subnets", "list", "--json").stdout)
    assert [s["cidr"] for s in data["subnets"]] == ["10.0.0.0/24", "2001:db8::/64"] and data["total"] == 2
    # A new subnet: utilisation and suggestions.
    show = cli(region, "subnet", "show", "10.0.0.0/24").stdout
    assert "Gateway:" in show and "10.0.0.2, 9.9.9.9" in show
    assert "254 addresses, 252 available" in show
    assert "Suggested:" in show and "dynamic range 10.0.0.129-10.0.0.254" in show
    # With a range and an address it shows the ranges instead.
    assert cli(region, "ranges", "create", "--subnet", "10.0.0.0/24", "--type", "dynamic", "--start", "10.0.0.128",
               "--end", "10.0.0.254", "--comment", "PXE").returncode == 0
    assert cli(region, "subnet", "allocate-ip", "10.0.0.0/24").stdout.strip() == "10.0.0.3"
    show = cli(region, "subnets", "show", "10.0.0.0/24").stdout
    assert "Ranges:" in show and "10.0.0.128" in show and "PXE" in show and "Suggested:" not in show
    assert "254 addresses, 124 available" in show
    data = json.loads(cli(region, "subnet", "show", "10.0.0.0/24", "--json").stdout)
    assert data["subnet"]["cidr"] == "10.0.0.0/24" and data["utilisation"]["available"] == 124
    assert [r["type"] for r in data["ranges"]] == ["dynamic"]


def test_allocate_release_and_errors(region):
    subnet(region, "192.0.2.0/24", gateway="192.0.2.1")
    ok(region, "POST", "/api/v1/machines", {"hostname": "node-3"})
    eth0 = ok(region, "POST", "/api/v1/machines/node-3/interfaces", {"name": "eth0", "mac": "02:00:00:00:00:03"})
    assert cli(region, "interfaces", "link", str(eth0["id"]), "subnet=192.0.2.0/24", "--ip",
               "192.0.2.10").returncode == 0
    bad = cli(region, "subnet", "allocate-ip", "192.0.2.0/24", "--ip", "192.0.2.10", check=False)
    assert bad.returncode == 1
    assert "192.0.2.10 is already assigned to machine 'node-3' interface eth0" in bad.stderr
    got = cli(region, "subnet", "allocate-ip", "192.0.2.0/24", "--ip", "192.0.2.20", "--hostname", "nas",
              "--json")
    assert json.loads(got.stdout)["hostname"] == "nas"
    ips = cli(region, "ips", "list", "--subnet", "192.0.2.0/24").stdout
    assert "machine 'node-3' interface eth0" in ips and "nas" in ips
    assert cli(region, "subnet", "release-ip", "192.0.2.0/24", "192.0.2.20").stdout.strip() == "released 192.0.2.20"
    gone = cli(region, "subnet", "release-ip", "192.0.2.0/24", "192.0.2.20", check=False)
    assert gone.returncode == 1 and "not assigned" in gone.stderr
    assert cli(region, "subnet", "next-free", "192.0.2.0/24").stdout.strip() == "192.0.2.2"
    # the region's error, verbatim, with its code
    host_bits = cli(region, "subnets", "create", "10.9.0.5/24", check=False)
    assert host_bits.returncode == 1
    assert "did you mean 10.9.0.0/24?" in host_bits.stderr and "(invalid_argument)" in host_bits.stderr
    zone = cli(region, "zones", "delete", "default", check=False)
    assert zone.returncode == 1 and "the default zone cannot be deleted (protected)" in zone.stderr
    # usage errors
    assert cli(region, "zones", check=False).returncode == 2
    assert cli(region, "zones", "frobnicate", check=False).returncode == 2
    assert cli(region, "subnets", "create", "10.1.0.0/24", "oops", check=False).returncode == 2
    assert cli(region, "vlans", "create", "--fabric", "fabric-0", "--vid", "ten", check=False).returncode == 2
    # nothing was created by the refused commands
    assert [s["cidr"] for s in ok(region, "GET", "/api/v1/subnets")["subnets"]] == ["192.0.2.0/24"]


def test_zones_vlans_ranges_tables(region):
    assert "created zone lab" in cli(region, "zones", "create", "lab", "description=the lab").stdout
    zones = cli(region, "zones", "list").stdout
    assert zones.splitlines()[0].split() == ["NAME", "MACHINES", "DEVICES", "RACKS", "DESCRIPTION"]
    assert "lab" in zones and "the lab" in zones
    cli(region, "vlans", "create", "--fabric", "fabric-0", "--vid", "42", "name=storage", "mtu=9000")
    vlans = cli(region, "vlans", "list", "--fabric", "fabric-0").stdout.splitlines()
    assert [line.split()[2] for line in vlans[1:]] == ["0", "42"]
    assert "9000" in vlans[2] and "storage" in vlans[2]
    subnet(region, "198.51.100.0/24")
    for start, end in (("198.51.100.10", "198.51.100.19"), ("198.51.100.40", "198.51.100.49")):
        cli(region, "ranges", "create", "--subnet", "198.51.100.0/24", "--type", "reserved", "--start", start,
            "--end", end)
    overlap = cli(region, "ranges", "create", "--subnet", "198.51.100.0/24", "--type", "reserved", "--start",
                  "198.51.100.15", "--end", "198.51.100.20", check=False)
    assert overlap.returncode == 1 and "overlaps" in overlap.stderr
    ranges = cli(region, "ranges", "list", "--subnet", "198.51.100.0/24").stdout.splitlines()
    assert len(ranges) == 3 and ranges[1].split()[3:5] == ["198.51.100.10", "198.51.100.19"]
    allocate(region, "198.51.100.0/24")
    data = json.loads(cli(region, "ips", "list", "--json").stdout)
    assert data["ip_addresses"][0]["ip"] == "198.51.100.1"
    help_text = cli(region, "help", "ranges").stdout
    assert "--subnet CIDR --type reserved|dynamic --start A --end B" in help_text
