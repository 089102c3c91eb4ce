"""Allocation (docs/deploy.md, "Allocation"): concurrent clients never get
one machine twice, every filter, the no-match sentence, tags set through the
API and the CLI; and the infrastructure editor binding its instances to
machines ("Infrastructures"). Machines are made READY straight in the
database (what commissioning leaves behind: status and hardware summary);
commissioning itself is test_machines.py's."""

import os
import subprocess
import threading

from conftest import cli

GIB = 1024
GB = 1000 ** 3


def psql(region, sql):
    sock = os.path.join(region.state_dir, "pg-run")
    user = "ironrack" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
    out = subprocess.run(["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h", sock, "-U", user,
                          "-d", "ironrack", "-c", sql], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def ready_machines(region, prefix, n, cpu=4, mem_gib=8, disk_gb=500, zone="default", tags=(), nics=0,
                   mac_base=0):
    """n READY machines prefix1..prefixN with that hardware and nics
    interfaces each (eth0...)."""
    tag_lit = "{" + ",".join(tags) + "}"
    psql(region, f"INSERT INTO machine (hostname, zone_id, status, status_previous, cpu_count, memory_mib, "
                 f"storage_bytes, tags) SELECT '{prefix}' || g, (SELECT id FROM zone WHERE name = '{zone}'), "
                 f"'READY', 'COMMISSIONING', {cpu}, {mem_gib * GIB}, {disk_gb * GB}, '{tag_lit}' "
                 f"FROM generate_series(1, {n}) g")
    for k in range(nics):
        psql(region, f"INSERT INTO interface (machine_id, name, mac) SELECT m.id, 'eth{k}', "
                     f"('02:00:' || lpad(to_hex({mac_base} + g), 4, '0') || ':00:00:0{k}')::text::macaddr "
                     f"FROM generate_series(1, {n}) g JOIN machine m ON m.hostname = '{prefix}' || g")


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
