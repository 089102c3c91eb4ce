"""Many clients allocating from one subnet at once never get the same
address, and the database holds exactly what the API handed out: through
one region, and through two regions sharing one PostgreSQL (where the
subnet row lock and the UNIQUE constraint do the work)."""

import os
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import alone, Region, plain_pass_only
from nethelp import items, key, psql, subnet

# Many clients at once: run with nothing beside them.
pytestmark = alone

CLIENTS = 16
ALLOCATIONS = 2000


def hammer(regions, cidr, api_key):
    """ALLOCATIONS auto assigns from CLIENTS threads, spread over regions."""
    path = f"/api/v1/subnets/{key(cidr)}/allocate-ip"

    def client(n):
        region = regions[n % len(regions)]
        got = []
        for i in range(ALLOCATIONS // CLIENTS):
            st, out = region.api("POST", path, {"hostname": f"c{n}-{i}"}, key=api_key, timeout=60)
            assert st == 201, out
            got.append(out["ip"])
        return got

    assert ALLOCATIONS % CLIENTS == 0
    start = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = [ip for got in pool.map(client, range(CLIENTS)) for ip in got]
    return results, time.monotonic() - start


def check(region, cidr, results, gateway):
    assert len(results) == ALLOCATIONS
    assert len(set(results)) == ALLOCATIONS, "an address was handed out twice"
    assert gateway not in results
    sid = items(region, "subnets", f"?cidr={cidr}")[0]["id"]
    assert psql(region, f"SELECT count(*), count(DISTINCT ip) FROM ip_address WHERE subnet_id = {sid}") == \
        f"{ALLOCATIONS}|{ALLOCATIONS}"
    st, page = region.api("GET", f"/api/v1/ip-addresses?subnet={key(cidr)}&limit=1")
    assert st == 200 and page["total"] == ALLOCATIONS
    assert set(psql(region, f"SELECT host(ip) FROM ip_address WHERE subnet_id = {sid}").split()) == set(results)
    u = region.api("GET", f"/api/v1/subnets/{key(cidr)}/utilisation")[1]
    assert u["used"] == ALLOCATIONS + 1  # and the gateway


def test_16_clients_one_region(region):
    cidr = "10.128.0.0/20"
    subnet(region, cidr, gateway="10.128.0.1")
    results, took = hammer([region], cidr, region.admin_key)
    check(region, cidr, results, "10.128.0.1")
    print(f"{ALLOCATIONS} allocations by {CLIENTS} clients through one region in {took:.1f} s")


@plain_pass_only
def test_16_clients_two_regions_one_database(region, workdir):
    sock = os.path.join(region.state_dir, "pg-run")
    user = "ironrack" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
    other = Region(os.path.join(workdir, "region2"))
    os.makedirs(other.state_dir, mode=0o700)
    extra = ["--database-dsn", f"host={sock} dbname=ironrack user={user}"]
    other.args = lambda: Region.args(other) + extra
    other.start()
    try:
        cidr = "10.144.0.0/20"
        subnet(region, cidr, gateway="10.144.0.1")
        results, took = hammer([region, other], cidr, region.admin_key)
        check(region, cidr, results, "10.144.0.1")
        print(f"{ALLOCATIONS} allocations by {CLIENTS} clients through two regions in {took:.1f} s")
    finally:
        other.stop()
