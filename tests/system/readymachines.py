"""READY machines straight in the region's database, as commissioning
leaves them (status and hardware summary, interfaces), for tests of what
comes after: allocation and the infrastructure editor's binding
(test_allocate.py, test_infra.py). Commissioning itself is
test_machines.py's."""

import os
import subprocess

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
    interfaces each (eth0... with MAC 02:0K:..., K the interface's number,
    then mac_base + N: give each call its own mac_base)."""
    tag_lit = "{" + ",".join(tags) + "}"
    psql(region, f"INSERT INTO machine (hostname, zone_id, status, status_previous, cpu_count, memory_mib, "
                 f"storage_bytes, tags) SELECT '{prefix}' || g, (SELECT id FROM zone WHERE name = '{zone}'), "
                 f"'READY', 'COMMISSIONING', {cpu}, {mem_gib * GIB}, {disk_gb * GB}, '{tag_lit}' "
                 f"FROM generate_series(1, {n}) g")
    for k in range(nics):
        psql(region, f"INSERT INTO interface (machine_id, name, mac) SELECT m.id, 'eth{k}', "
                     f"('020{k}' || lpad(to_hex({mac_base} + g), 8, '0'))::macaddr "
                     f"FROM generate_series(1, {n}) g JOIN machine m ON m.hostname = '{prefix}' || g")
