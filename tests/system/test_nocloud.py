"""The NoCloud seed (docs/deploy.md, "The NoCloud seed") read back as YAML
by PyYAML, the parser cloud-init itself uses, and by cloud-init: its
network-config parser and its ifupdown (ENI) and networkd renderers, from
Debian's cloud-init package unpacked (not installed). The seeds are those
the unit tests render (tests/unit/test_nocloud.c, written out with
NOCLOUD_SEED_DIR) and one machine's seed built from IPAM in a real region's
PostgreSQL by nocloud_load (through tests/tools/nocloud_seed.c)."""

import glob
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest
import yaml

from conftest import BUILD, CI
from nethelp import allocate, ok, subnet

UNIT = os.path.join(BUILD, "tests", "test_nocloud")
TOOL = os.path.join(BUILD, "tools", "nocloud_seed")
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops@example"


# Run by cloud-init's Python with the package's modules first on the path:
# parse each network-config given (NAME=FILE) as cloud-init does and render
# it for ifupdown and networkd under OUT/NAME; print the ENI text as JSON.
CLOUD_INIT_RENDER = """
import json, sys
from unittest import mock
import yaml
from cloudinit.net import eni, network_state, networkd
out, result = sys.argv[1], {}
for arg in sys.argv[2:]:
    name, path = arg.split("=", 1)
    with open(path) as f:
        cfg = yaml.safe_load(f)
    # It would look up the host's own NICs by MAC for names; set-name decides.
    with mock.patch.object(network_state, "get_interfaces_by_mac", return_value={}):
        ns = network_state.parse_net_config_data(cfg, skip_broken=False)
    eni.Renderer({}).render_network_state(ns, target=f"{out}/{name}")
    networkd.Renderer({}).render_network_state(ns, target=f"{out}/{name}")
    with open(f"{out}/{name}/etc/network/interfaces") as f:
        result[name] = f.read()
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def cloud_init():
    """The directory holding the cloudinit package of Debian's cloud-init
    .deb, fetched with apt-get download into the ephemeral build's .deb
    cache (IRONRACK_DEB_CACHE) and unpacked."""
    cache = os.environ.get("IRONRACK_DEB_CACHE") or os.path.join(BUILD, "ephemeral", "debs")
    os.makedirs(cache, exist_ok=True)
    debs = sorted(glob.glob(os.path.join(cache, "cloud-init_*.deb")))
    if not debs:
        got = subprocess.run(["apt-get", "download", "cloud-init"], cwd=cache, capture_output=True, text=True,
                             timeout=300)
        debs = sorted(glob.glob(os.path.join(cache, "cloud-init_*.deb")))
        if not debs:
            why = f"apt-get download cloud-init failed: {got.stderr.strip()[-500:]}"
            if CI:
                pytest.fail(why)
            pytest.skip(why + " (put the .deb into the cache by hand when offline)")
    d = tempfile.mkdtemp(prefix="irci-")
    subprocess.run(["dpkg-deb", "-x", debs[-1], d], check=True)
    yield os.path.join(d, "usr", "lib", "python3", "dist-packages")
    shutil.rmtree(d, ignore_errors=True)


def cloud_init_render(cloud_init, workdir, files):
    """{name: path of a network-config} -> {name: ENI text cloud-init renders}."""
    out = os.path.join(workdir, "rendered")
    os.makedirs(out, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=cloud_init)
    got = subprocess.run([sys.executable, "-c", CLOUD_INIT_RENDER, out] + [f"{n}={p}" for n, p in files.items()],
                         capture_output=True, text=True, env=env, timeout=120)
    assert got.returncode == 0, got.stderr[-3000:]
    return json.loads(got.stdout)


def check_ip_config(name, cfg):
    """What any interface of a version 2 config may carry, with its types."""
    for a in cfg.get("addresses", []):
        assert isinstance(a, str), (name, a)
        ipaddress.ip_interface(a)
    for r in cfg.get("routes", []):
        assert isinstance(r["to"], str) and isinstance(r["via"], str), (name, r)
        net = ipaddress.ip_network(r["to"])
        assert ipaddress.ip_address(r["via"]).version == net.version, (name, r)
        assert isinstance(r.get("metric", 0), int)
    for d in cfg.get("nameservers", {}).get("addresses", []):
        ipaddress.ip_address(d)
    for k in ("dhcp4", "dhcp6"):
        assert cfg.get(k, False) in (True, False), (name, k)
    assert isinstance(cfg.get("mtu", 1500), int)


def check_network_config(doc):
    assert doc["version"] == 2
    assert set(doc) <= {"version", "ethernets", "bonds", "vlans"}, doc
    eths = doc["ethernets"] or {}
    for name, cfg in eths.items():
        assert isinstance(name, str) and cfg["set-name"] == name, (name, cfg)
        assert MAC.match(cfg["match"]["macaddress"]), cfg
        check_ip_config(name, cfg)
    for name, cfg in doc.get("bonds", {}).items():
        assert isinstance(name, str)
        assert cfg["interfaces"] and all(m in eths for m in cfg["interfaces"]), cfg
        if "parameters" in cfg:
            assert isinstance(cfg["parameters"]["mode"], str), cfg
        check_ip_config(name, cfg)
    for name, cfg in doc.get("vlans", {}).items():
        assert isinstance(cfg["id"], int) and 1 <= cfg["id"] <= 4094, cfg
        assert cfg["link"] in eths or cfg["link"] in doc.get("bonds", {}), cfg
        check_ip_config(name, cfg)
    everything = list(eths.values()) + list(doc.get("bonds", {}).values()) + list(doc.get("vlans", {}).values())
    defaults = [r for c in everything for r in c.get("routes", []) if r["to"] == "0.0.0.0/0"]
    assert len(defaults) <= 1, "one IPv4 default route"
    assert len([c for c in everything if "gateway6" in c]) <= 1, "one IPv6 default route"
    assert not [c for c in everything if "gateway4" in c], "gateway4 is deprecated"


def test_unit_seeds_parse_as_yaml(workdir, cloud_init):
    out = subprocess.run([UNIT], env=dict(os.environ, NOCLOUD_SEED_DIR=workdir), capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    nets = sorted(glob.glob(os.path.join(workdir, "*.network-config")))
    assert len(nets) >= 20, nets
    for path in nets:
        check_network_config(yaml.safe_load(open(path)))
    for path in glob.glob(os.path.join(workdir, "*.meta-data")):
        meta = yaml.safe_load(open(path))
        assert isinstance(meta["instance-id"], str) and isinstance(meta["local-hostname"], str), meta
    for path in glob.glob(os.path.join(workdir, "*.user-data")):
        text = open(path).read()
        if text.startswith("#cloud-config"):
            ud = yaml.safe_load(text)
            keys = ud.get("ssh_authorized_keys", []) if ud else []
            assert all(isinstance(k, str) for k in keys), (path, keys)

    def load(name, part="network-config"):
        return yaml.safe_load(open(os.path.join(workdir, f"{name}.{part}")))

    # Values YAML 1.1 reads as numbers or booleans unquoted stay strings.
    bond = load("bond")
    assert bond["bonds"]["bond0"]["parameters"]["mode"] == "802.3ad"
    assert bond["vlans"]["bond0.20"] == {"id": 20, "link": "bond0", "addresses": ["10.20.0.5/24"]}
    q = load("quoting")
    assert list(q["ethernets"]) == ["on", "0123"]
    assert q["ethernets"]["on"]["match"]["macaddress"] == "00:11:22:33:44:55"
    assert load("quoting", "meta-data") == {"instance-id": 'id-"with\\quotes"', "local-hostname": "12345"}
    assert load("vlan")["vlans"]["eth0.100"]["routes"] == [{"to": "0.0.0.0/0", "via": "10.100.0.1"}]
    # The operator's keys and the added ones, as cloud-init reads them.
    merged = load("ud-merge", "user-data")
    assert merged["ssh_authorized_keys"][2] == "ssh-rsa AAAAB3 me@x" and len(merged["ssh_authorized_keys"]) == 3
    assert merged["runcmd"] == [["touch", "/x"]]
    assert load("ud-empty", "user-data")["ssh_authorized_keys"][1].endswith('"q" #c')
    assert load("ud-options", "user-data")["ssh_authorized_keys"] == ['from="10.0.0.0/8" ssh-ed25519 AAAA k']

    # cloud-init parses and renders every one of them.
    eni = cloud_init_render(cloud_init, workdir, {os.path.basename(p)[:-len(".network-config")]: p for p in nets})
    assert len(eni) == len(nets)
    for text in (eni["bond"],):
        assert "bond-mode 802.3ad" in text and "vlan-raw-device bond0" in text, text
        assert re.search(r"iface bond0\.20 inet static\n(\s+.*\n)*?\s+address 10\.20\.0\.5/24", text), text
    assert re.search(r"default (gw|via) 10\.0\.0\.1", eni["bond"])
    assert re.search(r"default (gw|via) 10\.100\.0\.1", eni["vlan"]), eni["vlan"]
    # (Route metrics are left out: cloud-init before 23.1 ignores a v2
    # route's metric; the YAML above has them.)
    assert "mtu 9000" in eni["static"] and re.search(r"10\.1\.0\.0/16 (gw|via) 10\.0\.0\.254", eni["static"])
    assert re.search(r"inet6 static\n(\s+.*\n)*?\s+gateway 2001:db8::1\n", eni["ipv6"]), eni["ipv6"]
    assert "::/64" not in eni["ipv6"]


def dsn(region):
    user = "ironrack" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
    return f"host={os.path.join(region.state_dir, 'pg-run')} dbname=ironrack user={user}"


def seed(region, machine_id, *keys, user_data=""):
    out = subprocess.run([TOOL, dsn(region), str(machine_id), "node-nc", f"ironrack-{machine_id}-1", *keys],
                         input=user_data, capture_output=True, text=True, timeout=60)
    return out.returncode, out.stdout, out.stderr


def test_seed_from_ipam(region, workdir, cloud_init):
    v10 = ok(region, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 10, "mtu": 9000})
    subnet(region, "10.70.0.0/24", gateway="10.70.0.1", dns_servers=["10.70.0.3", "10.70.0.2"])
    subnet(region, "10.71.0.0/24")
    subnet(region, "10.72.0.0/24", vlan=v10["id"], gateway="10.72.0.1")
    subnet(region, "10.73.0.0/24", gateway="10.73.0.1")
    subnet(region, "2001:db8:70::/64", gateway="2001:db8:70::1", dns_servers=["2001:db8:70::53"])
    ok(region, "POST", "/api/v1/static-routes", {"source": "10.70.0.0/24", "destination": "10.71.0.0/24",
                                                 "gateway": "10.70.0.254", "metric": 10})
    m = ok(region, "POST", "/api/v1/machines", {"hostname": "node-nc"})
    nics = {}
    # Created out of name order: the seed orders by name.
    for name, mac in (("eth3", "02:00:00:00:70:04"), ("eth1", "02:00:00:00:70:02"), ("eth0", "02:00:00:00:70:01"),
                      ("eth2", "02:00:00:00:70:03")):
        nics[name] = ok(region, "POST", f"/api/v1/machines/{m['id']}/interfaces", {"name": name, "mac": mac})
    ok(region, "PATCH", f"/api/v1/interfaces/{nics['eth1']['id']}", {"vlan": v10["id"]})

    def link(nic, **body):
        return ok(region, "POST", f"/api/v1/interfaces/{nics[nic]['id']}/links", body, status=201)

    link("eth0", subnet="2001:db8:70::/64", mode="auto")
    link("eth0", subnet="10.70.0.0/24", ip="10.70.0.10")
    link("eth1", subnet="10.72.0.0/24", ip="10.72.0.10")
    link("eth2", subnet="10.73.0.0/24", mode="dhcp")
    link("eth3", subnet="10.73.0.0/24", mode="unconfigured")
    # Another machine on the same subnets: nothing of it in this seed.
    other = ok(region, "POST", "/api/v1/machines", {"hostname": "node-other"})
    o0 = ok(region, "POST", f"/api/v1/machines/{other['id']}/interfaces", {"name": "eth0", "mac": "02:00:00:00:71:01"})
    ok(region, "POST", f"/api/v1/interfaces/{o0['id']}/links", {"subnet": "10.70.0.0/24", "ip": "10.70.0.11"},
       status=201)
    allocate(region, "10.72.0.0/24")
    v6 = [a["ip"] for a in ok(region, "GET", "/api/v1/ip-addresses?machine=node-nc")["ip_addresses"]
          if ":" in (a["ip"] or "")]
    assert len(v6) == 1

    rc, out, err = seed(region, m["id"], KEY, user_data="#cloud-config\npackages: [htop]\n")
    assert rc == 0, err
    s = json.loads(out)
    assert yaml.safe_load(s["meta-data"]) == {"instance-id": f"ironrack-{m['id']}-1", "local-hostname": "node-nc"}
    assert yaml.safe_load(s["user-data"]) == {"packages": ["htop"], "ssh_authorized_keys": [KEY]}
    net = yaml.safe_load(s["network-config"])
    check_network_config(net)
    assert net == {"version": 2, "ethernets": {
        "eth0": {"match": {"macaddress": "02:00:00:00:70:01"}, "set-name": "eth0",
                 "addresses": ["10.70.0.10/24", f"{v6[0]}/64"], "gateway6": "2001:db8:70::1",
                 "routes": [{"to": "0.0.0.0/0", "via": "10.70.0.1"},
                            {"to": "10.71.0.0/24", "via": "10.70.0.254", "metric": 10}],
                 "nameservers": {"addresses": ["10.70.0.3", "10.70.0.2", "2001:db8:70::53"]}},
        # Its subnet's gateway, but eth0 holds the default route.
        "eth1": {"match": {"macaddress": "02:00:00:00:70:02"}, "set-name": "eth1", "mtu": 9000,
                 "addresses": ["10.72.0.10/24"]},
        "eth2": {"match": {"macaddress": "02:00:00:00:70:03"}, "set-name": "eth2", "dhcp4": True},
        "eth3": {"match": {"macaddress": "02:00:00:00:70:04"}, "set-name": "eth3"},
    }}, s["network-config"]
    assert list(net["ethernets"]) == ["eth0", "eth1", "eth2", "eth3"]
    path = os.path.join(workdir, "ipam.network-config")
    with open(path, "w") as f:
        f.write(s["network-config"])
    eni = cloud_init_render(cloud_init, workdir, {"ipam": path})["ipam"]
    for want in (r"iface eth0 inet static\n(\s+.*\n)*?\s+address 10\.70\.0\.10/24",
                 r"default (gw|via) 10\.70\.0\.1", r"10\.71\.0\.0/24 (gw|via) 10\.70\.0\.254",
                 r"dns-nameservers 10\.70\.0\.3 10\.70\.0\.2",
                 r"iface eth0 inet6 static\n(\s+.*\n)*?\s+gateway 2001:db8:70::1",
                 r"iface eth1 inet static\n(\s+.*\n)*?\s+mtu 9000", r"iface eth2 inet dhcp"):
        assert re.search(want, eni), (want, eni)

    # Without eth0's static link, the next interface by name with a
    # gateway (eth1) takes the IPv4 default route.
    addr = [a for a in ok(region, "GET", "/api/v1/ip-addresses?machine=node-nc")["ip_addresses"]
            if a["ip"] == "10.70.0.10"][0]
    ok(region, "DELETE", f"/api/v1/interfaces/{nics['eth0']['id']}/links/{addr['id']}")
    rc, out, err = seed(region, m["id"])
    assert rc == 0, err
    net = yaml.safe_load(json.loads(out)["network-config"])
    assert "routes" not in net["ethernets"]["eth0"] and net["ethernets"]["eth0"]["gateway6"] == "2001:db8:70::1"
    assert net["ethernets"]["eth1"]["routes"] == [{"to": "0.0.0.0/0", "via": "10.72.0.1"}]
    assert json.loads(out)["user-data"] == ""

    # A refusal says why; an unknown machine is not found.
    rc, out, err = seed(region, m["id"], KEY, user_data="#!/bin/sh\necho hi\n")
    assert rc == 1 and "#cloud-config" in err, err
    rc, out, err = seed(region, 999999)
    assert rc == 1 and "No such file" in err, err
