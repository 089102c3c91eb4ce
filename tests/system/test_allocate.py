"""Allocation (docs/deploy.md, "Allocation"): concurrent clients never get
one machine twice, every filter, the no-match sentence, tags set through the
API and the CLI; and the infrastructure editor binding its instances to
machines ("Infrastructures"). Machines are made READY straight in the
database (what commissioning leaves behind: status and hardware summary);
commissioning itself is test_machines.py's."""

import re
import threading

from conftest import cli
from readymachines import psql, ready_machines


def allocate(region, body=None):
    return region.api("POST", "/api/v1/machines/allocate", body)


def test_concurrent_allocations_never_double(region):
    ready_machines(region, "c", 150)
    results = []
    lock = threading.Lock()
    todo = list(range(200))

    def worker():
        while True:
            with lock:
                if not todo:
                    return
                todo.pop()
            st, body = allocate(region, {"comment": "load"})
            with lock:
                results.append((st, body))

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = [b for st, b in results if st == 200]
    refused = [b for st, b in results if st != 200]
    assert len(results) == 200
    assert len(ok) == 150, [b for st, b in results if st not in (200, 409)][:3]
    assert len({b["id"] for b in ok}) == 150, "a machine was handed out twice"
    assert all(b["status"] == "ALLOCATED" and b["owner"] == "admin" and b["allocated_at"] for b in ok)
    assert len(refused) == 50
    assert all(st == 409 for st, _ in results if st != 200)
    assert all(b["error"]["code"] == "no_match" for b in refused)
    assert refused[0]["error"]["message"] == "no READY machine: there are no READY machines at all"
    # The database agrees: 150 ALLOCATED, each with one READY → ALLOCATED event.
    assert psql(region, "SELECT count(*) FROM machine WHERE status = 'ALLOCATED' AND owner = 'admin'") == "150"
    assert psql(region, "SELECT count(*), count(DISTINCT machine_id) FROM machine_event "
                        "WHERE description = 'READY → ALLOCATED: allocated to admin: load'") == "150|150"


def test_filters_and_what_was_missing(region):
    st, _ = region.api("POST", "/api/v1/zones", {"name": "rack-a"})
    assert st == 201
    ready_machines(region, "small", 2, cpu=2, mem_gib=4, disk_gb=250, zone="rack-a")
    ready_machines(region, "mid", 1, cpu=4, mem_gib=16, disk_gb=1000, zone="rack-a")
    ready_machines(region, "big", 1, cpu=32, mem_gib=256, disk_gb=4000, tags=("gpu", "ssd"))

    # The example: what the zone has, and what it lacks.
    st, body = allocate(region, {"zone": "rack-a", "min_cpu": 8})
    assert st == 409, body
    assert body["error"] == {"code": "no_match", "message": "no READY machine in zone rack-a with at least 8 "
                             "CPUs: 3 READY machines there, the largest has 4 CPUs"}
    st, body = allocate(region, {"zone": "rack-a", "min_memory_gib": 32, "tags": ["gpu"]})
    assert st == 409
    assert body["error"]["message"] == ("no READY machine in zone rack-a with at least 32 GiB of memory and tag "
                                        "gpu: 3 READY machines there, the largest has 16 GiB of memory; none is "
                                        "tagged gpu")
    st, body = allocate(region, {"zone": "nowhere"})
    assert st == 404 and body["error"]["field"] == "zone"
    st, body = allocate(region, {"tags": ["not a tag"]})
    assert st == 400 and body["error"]["field"] == "tags"
    st, body = allocate(region, {"min_cpu": -1})
    assert st == 400 and body["error"]["field"] == "min_cpu"
    st, body = allocate(region, {"cpus": 1})
    assert st == 400 and body["error"]["field"] == "cpus"

    # Each filter picks the smallest machine that meets it.
    st, body = allocate(region, {"zone": "rack-a", "min_disk_gb": 500})
    assert (st, body["hostname"]) == (200, "mid1")
    st, body = allocate(region, {"min_memory_gib": 100})
    assert (st, body["hostname"]) == (200, "big1")
    assert body["tags"] == ["gpu", "ssd"]
    st, body = allocate(region, {"zone": "rack-a", "min_cpu": 2})
    assert (st, body["hostname"]) == (200, "small1")

    # Tags set through PATCH and through the CLI.
    st, body = region.api("PATCH", "/api/v1/machines/small2", {"tags": ["fast", "rack:a"]})
    assert st == 200 and body["tags"] == ["fast", "rack:a"], body
    st, body = region.api("PATCH", "/api/v1/machines/small2", {"tags": ["a b"]})
    assert st == 400 and body["error"]["field"] == "tags"
    st, body = allocate(region, {"tags": ["fast", "gpu"]})
    assert st == 409 and body["error"]["message"].endswith("1 READY machine in all, it is not tagged gpu")
    cli(region, "machines", "update", "small2", "tags=fast,blue")
    assert region.api("GET", "/api/v1/machines/small2")[1]["tags"] == ["fast", "blue"]
    out = cli(region, "machines", "allocate", "--tags", "fast,rack:a", check=False)
    assert out.returncode == 1 and "1 READY machine in all, it is not tagged rack:a" in out.stderr
    out = cli(region, "machines", "allocate", "--zone", "rack-a", "--min-cpu", "1", "--min-memory", "2",
              "--min-disk", "100", "--tags", "blue", "--comment", "by hand")
    assert out.stdout.strip() == "small2: ALLOCATED (allocated to admin)"
    ev = psql(region, "SELECT e.description FROM machine_event e JOIN machine m ON m.id = e.machine_id "
                      "WHERE m.hostname = 'small2' ORDER BY e.id DESC LIMIT 1")
    assert ev == "READY → ALLOCATED: allocated to admin: by hand"
    out = cli(region, "machines", "allocate", "--min-cpu", "x", check=False)
    assert out.returncode == 2 and "--min-cpu wants a whole number" in out.stderr
    out = cli(region, "machines", "allocate", check=False)
    assert out.returncode == 1
    assert "no READY machine: there are no READY machines at all" in out.stderr
    # Tags cleared with an empty value.
    cli(region, "machines", "update", "small2", "tags=")
    assert region.api("GET", "/api/v1/machines/small2")[1]["tags"] == []


INFRA = "/api/v1/infrastructures"


def ok(region, method, path, body=None, status=200):
    st, b = region.api(method, path, body)
    assert st == status, f"{method} {path} -> {st}: {b}"
    return b


def machine(region, host):
    return ok(region, "GET", f"/api/v1/machines/{host}")


def links_of(region, host):
    body = ok(region, "GET", f"/api/v1/ip-addresses?machine={host}")
    return sorted((a["ip"], a["mode"], a["subnet_cidr"]) for a in body["ip_addresses"])


def test_infrastructure_binds_grows_refuses_and_releases(region):
    # A machine without a NIC cannot carry a port: never bound.
    ready_machines(region, "nonic", 1)
    ready_machines(region, "n", 3, nics=1, mac_base=0x100)
    ok(region, "POST", INFRA, {"name": "shop", "wan_pools": ["198.51.100.0/24"]}, 201)
    ok(region, "POST", f"{INFRA}/shop/instance-arrays", {"name": "web", "instance_count": 2, "ports": 1}, 201)
    ok(region, "POST", f"{INFRA}/shop/networks", {"name": "inet", "type": "wan"}, 201)
    ok(region, "POST", f"{INFRA}/shop/connections", {"array": "web", "port": 0, "network": "inet"}, 201)

    # The plan says which machine each instance gets and which address;
    # nothing changes.
    p = ok(region, "POST", f"{INFRA}/shop/plan")
    assert p["shortage"] is None
    assert [(m["op"], m["array"], m["instance"], m["machine"]) for m in p["machines"]] == [
        ("bind", "web", 0, "n1"), ("bind", "web", 1, "n2")]
    assert [(l["op"], l["instance"], l["port_name"], l["machine"], l["interface"], l["ip"]) for l in p["links"]] == [
        ("link", 0, "eth0", "n1", "eth0", "198.51.100.2"), ("link", 1, "eth0", "n2", "eth0", "198.51.100.3")]
    assert machine(region, "n1")["status"] == "READY"
    assert links_of(region, "n1") == []
    out = cli(region, "infra", "plan", "shop").stdout
    assert re.search(r"\nbind +machine +web#0 +n1\n", out), out
    assert re.search(r"\nlink +address +web#1:eth0 -> inet +n2 eth0 198.51.100.3\n", out), out

    # Deploy binds them: ALLOCATED to the infrastructure, the WAN address a
    # static link on eth0 in a subnet mirroring the WAN's /29 (gateway: its
    # first address).
    d = ok(region, "POST", f"{INFRA}/shop/deploy")
    assert d["applied"] and len(d["machines"]) == 2
    for host, ip in (("n1", "198.51.100.2"), ("n2", "198.51.100.3")):
        m = machine(region, host)
        assert (m["status"], m["owner"]) == ("ALLOCATED", "infrastructure shop"), m
        assert links_of(region, host) == [(ip, "static", "198.51.100.0/29")]
    sub = ok(region, "GET", "/api/v1/subnets/198.51.100.0-29")
    assert sub["gateway"] == "198.51.100.1"
    vid = ok(region, "GET", f"{INFRA}/shop")["deployed"]["networks"][0]["vid"]
    assert sub["vid"] == vid
    inst = ok(region, "GET", f"{INFRA}/shop")["deployed"]["instance_arrays"][0]["instances"]
    assert [(i["index"], i["machine"]) for i in inst] == [(0, "n1"), (1, "n2")]
    assert machine(region, "nonic1")["status"] == "READY"
    # A second plan is empty.
    p = ok(region, "POST", f"{INFRA}/shop/plan")
    assert (p["actions"], p["machines"], p["links"], p["shortage"]) == ([], [], [], None)

    # Growing to 3 binds a third.
    ok(region, "PATCH", f"{INFRA}/shop/instance-arrays/web", {"instance_count": 3})
    d = ok(region, "POST", f"{INFRA}/shop/deploy")
    assert [(m["op"], m["instance"], m["machine"]) for m in d["machines"]] == [("bind", 2, "n3")]
    assert machine(region, "n3")["status"] == "ALLOCATED"
    assert links_of(region, "n3") == [("198.51.100.4", "static", "198.51.100.0/29")]

    # Not enough machines: the plan says so, deploy refuses and changes
    # nothing.
    ok(region, "PATCH", f"{INFRA}/shop/instance-arrays/web", {"instance_count": 4})
    p = ok(region, "POST", f"{INFRA}/shop/plan")
    assert p["shortage"] == ('instance array "web": no READY machine in zone default with at least 1 interface: '
                             '1 READY machine there, it has 0 interfaces')
    assert p["machines"] == []
    out = cli(region, "infra", "plan", "shop").stdout
    assert "Not enough machines, deploy would be refused: instance array \"web\"" in out
    rev = ok(region, "GET", f"{INFRA}/shop")["revision"]
    st, body = region.api("POST", f"{INFRA}/shop/deploy")
    assert st == 409 and body["error"]["message"].startswith("not enough machines: instance array \"web\""), body
    assert ok(region, "GET", f"{INFRA}/shop")["revision"] == rev
    assert machine(region, "nonic1")["status"] == "READY"
    out = cli(region, "infra", "deploy", "shop", check=False)
    assert out.returncode == 1 and "not enough machines" in out.stderr

    # Shrinking releases the machine of the instance that goes, and its
    # address.
    ok(region, "PATCH", f"{INFRA}/shop/instance-arrays/web", {"instance_count": 2})
    d = ok(region, "POST", f"{INFRA}/shop/deploy")
    assert [(m["op"], m["instance"], m["machine"]) for m in d["machines"]] == [("release", 2, "n3")]
    m = machine(region, "n3")
    assert (m["status"], m["owner"], m["allocated_at"]) == ("READY", "", None)
    assert links_of(region, "n3") == []
    ev = psql(region, "SELECT string_agg(e.description, ' | ' ORDER BY e.id) FROM machine_event e "
                      "JOIN machine m ON m.id = e.machine_id WHERE m.hostname = 'n3'")
    assert ev == ("READY → ALLOCATED: instance web#2 of infrastructure shop | ALLOCATED → RELEASING: instance web#2 "
                  "of infrastructure shop removed | RELEASING → READY: instance web#2 of infrastructure shop removed")
    steps = ok(region, "GET", f"{INFRA}/shop/deploys")["deploys"][0]["steps"]
    assert [(s["op"], s["object"], s["subject"], s["detail"]) for s in steps][-1:] == [
        ("release", "machine", "web#2", "n3")]

    # Requirements: for instances bound from then on.
    ok(region, "PATCH", f"{INFRA}/shop/instance-arrays/web", {"instance_count": 3, "min_cpu": 8})
    p = ok(region, "POST", f"{INFRA}/shop/plan")
    assert p["shortage"] == ('instance array "web": no READY machine in zone default with at least 8 CPUs and at '
                             'least 1 interface: 2 READY machines there, the largest has 4 CPUs')
    change = [a for a in p["actions"] if a["object"] == "instance_array"][0]
    assert change["changes"]["requirements"] == {"from": {"min_cpu": 0, "min_memory_gib": 0, "min_disk_gb": 0},
                                                 "to": {"min_cpu": 8, "min_memory_gib": 0, "min_disk_gb": 0}}
    assert p["machines"] == []
    ok(region, "POST", f"{INFRA}/shop/discard")

    # A deployed machine of an instance that goes is unbound by the deploy
    # and released as any machine is (no power type: READY at once).
    psql(region, "UPDATE machine SET status = 'DEPLOYED', status_previous = 'DEPLOYING' WHERE hostname = 'n2'")
    ok(region, "PATCH", f"{INFRA}/shop/instance-arrays/web", {"instance_count": 1})
    d = ok(region, "POST", f"{INFRA}/shop/deploy")
    assert [(m["op"], m["instance"], m["machine"], m.get("released")) for m in d["machines"]] == [
        ("release", 1, "n2", "READY")], d["machines"]
    m = machine(region, "n2")
    assert (m["status"], m["owner"]) == ("READY", "")
    assert links_of(region, "n2") == []

    # A machine given away by other means (its owner changes, as a release
    # does) leaves its instance and its address; the next deploy binds
    # another.
    psql(region, "UPDATE machine SET status = 'READY', owner = '', allocated_at = NULL WHERE hostname = 'n1'")
    inst = ok(region, "GET", f"{INFRA}/shop")["deployed"]["instance_arrays"][0]["instances"]
    assert [(i["index"], i["machine"]) for i in inst] == [(0, None)]
    assert links_of(region, "n1") == []
    p = ok(region, "POST", f"{INFRA}/shop/plan")
    assert [(m["op"], m["instance"], m["machine"]) for m in p["machines"]] == [("bind", 0, "n1")]
    assert [(l["machine"], l["ip"]) for l in p["links"]] == [("n1", "198.51.100.2")]
    ok(region, "POST", f"{INFRA}/shop/deploy")
    assert machine(region, "n1")["owner"] == "infrastructure shop"

    # Deleting the infrastructure gives every machine back, with its
    # addresses and the WAN's mirror in IPAM; not while one is deployed.
    psql(region, "UPDATE machine SET status = 'DEPLOYED' WHERE hostname = 'n1'")
    st, body = region.api("DELETE", f"{INFRA}/shop")
    assert st == 409 and body["error"]["message"] == ("machine n1 of instance web#0 is deployed: release it first "
                                                      "(ironrack machines release n1)"), body
    assert links_of(region, "n1") == [("198.51.100.2", "static", "198.51.100.0/29")]
    psql(region, "UPDATE machine SET status = 'ALLOCATED' WHERE hostname = 'n1'")
    ok(region, "DELETE", f"{INFRA}/shop")
    for host in ("n1", "n2", "n3"):
        m = machine(region, host)
        assert (m["status"], m["owner"]) == ("READY", ""), m
        assert links_of(region, host) == []
    st, _ = region.api("GET", "/api/v1/subnets/198.51.100.0-29")
    assert st == 404
    assert psql(region, "SELECT count(*) FROM vlan WHERE name LIKE 'infra-shop-%'") == "0"
