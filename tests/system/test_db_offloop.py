"""The database never stalls the loop (region/db/pool.h): a lock another
session holds for 10 s, and PostgreSQL stopped outright.

The numbers these tests measure are printed (run with -s to see them) and
recorded in docs/architecture.md."""

import os
import shlex
import signal
import subprocess
import threading
import time
import urllib.request

from conftest import wait_for, plain_pass_only

LOCK_S = 10


def psql_cmd(region, sql):
    sock = os.path.join(region.state_dir, "pg-run")
    user = "ironrack" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
    return ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", sock, "-U", user, "-d", "ironrack", "-c", sql]


def psql(region, sql):
    out = subprocess.run(psql_cmd(region, sql), capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def timed(fn, *args, **kw):
    t0 = time.monotonic()
    res = fn(*args, **kw)
    return time.monotonic() - t0, res


def version(region):
    with urllib.request.urlopen(region.url + "/api/v1/version", timeout=30) as r:
        return r.status


def summary(name, secs):
    secs = sorted(secs)
    line = (f"{name}: n={len(secs)} min={secs[0] * 1000:.1f} ms median={secs[len(secs) // 2] * 1000:.1f} ms "
            f"max={secs[-1] * 1000:.1f} ms")
    print(line)
    return secs[-1]


@plain_pass_only
def test_a_held_lock_stalls_only_the_requests_that_need_it(region, make_rack):
    rack = make_rack("lockrack")
    rid = rack.rack_id
    assert region.api("GET", "/api/v1/racks")[0] == 200  # the key is now cached
    baseline = [timed(version, region)[0] for _ in range(20)]

    locker = subprocess.Popen(psql_cmd(region, f"BEGIN; LOCK TABLE subnet IN ACCESS EXCLUSIVE MODE; "
                                               f"SELECT pg_sleep({LOCK_S}); COMMIT;"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: psql(region, "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                                      "WHERE c.relname = 'subnet' AND l.mode = 'AccessExclusiveLock' "
                                      "AND l.granted") == "1", timeout=10, what="the lock on subnet")
        t_lock = time.monotonic()
        blocked = {}

        def read_subnets():
            blocked["read"] = timed(region.api, "GET", "/api/v1/subnets", timeout=60)

        def write_subnet():
            blocked["write"] = timed(region.api, "POST", "/api/v1/subnets",
                                     {"cidr": "198.51.100.0/24", "name": "during-lock"}, timeout=60)

        threads = [threading.Thread(target=read_subnets), threading.Thread(target=write_subnet)]
        for t in threads:
            t.start()
        time.sleep(0.3)  # both are now waiting on the lock inside PostgreSQL

        during_version, during_racks, pings = [], [], []
        while time.monotonic() - t_lock < LOCK_S - 2:
            during_version.append(timed(version, region)[0])
            dt, (st, body) = timed(region.api, "GET", "/api/v1/racks")
            assert st == 200, body
            during_racks.append(dt)
            dt, (st, body) = timed(region.api, "POST", f"/api/v1/racks/{rid}/ping")
            assert st == 200, body
            pings.append(body["rtt_ms"] / 1000.0)
            time.sleep(0.2)
        for t in threads:
            t.join(60)
        assert locker.wait(30) == 0, locker.stderr.read()
    finally:
        if locker.poll() is None:
            locker.kill()

    summary("/api/v1/version before the lock", baseline)
    worst_version = summary(f"/api/v1/version during a {LOCK_S} s lock", during_version)
    worst_racks = summary("GET /api/v1/racks during the lock", during_racks)
    summary("rack ping round trip (session) during the lock", pings)
    print(f"GET /api/v1/subnets (needs the locked table): {blocked['read'][0]:.2f} s, "
          f"POST /api/v1/subnets: {blocked['write'][0]:.2f} s")
    # The lock was real: the requests that need the table waited for it...
    assert blocked["read"][0] >= LOCK_S - 3 and blocked["read"][1][0] == 200, blocked
    assert blocked["write"][0] >= LOCK_S - 3 and blocked["write"][1][0] == 201, blocked
    # ...and nothing else did.
    assert worst_version < 0.5
    assert worst_racks < 1.0
    assert max(pings) < 0.5
    assert "lost region" not in rack.daemon.text()


def postmaster_pid(region):
    with open(os.path.join(region.state_dir, "pg", "postmaster.pid")) as f:
        return int(f.readline())


def stop_postmaster(pid):
    os.kill(pid, signal.SIGINT)  # fast shutdown: sessions are cut

    def gone():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # a zombie of the region's child still answers kill(0)
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    wait_for(gone, timeout=30, what="PostgreSQL to stop")


def test_database_outage_503_fast_racks_stay_then_recovery(region, make_rack):
    rack = make_rack("outagerack")
    rid = rack.rack_id
    assert region.api("GET", "/api/v1/racks")[0] == 200
    datadir = os.path.join(region.state_dir, "pg")
    with open(os.path.join(datadir, "postmaster.opts")) as f:
        argv = shlex.split(f.read())
    restarted = None
    try:
        stop_postmaster(postmaster_pid(region))
        t_down = time.monotonic()
        outage = []
        for _ in range(10):
            dt, (st, body) = timed(region.api, "GET", "/api/v1/racks", timeout=10)
            assert st == 503, body
            assert body["error"]["code"] == "unavailable", body
            outage.append(dt)
            dt, (st, body) = timed(region.api, "POST", "/api/v1/zones", {"name": "z-outage"}, timeout=10)
            assert st == 503, body
            outage.append(dt)
            time.sleep(0.3)
        assert version(region) == 200
        # Racks keep their sessions through it (several heartbeats long).
        time.sleep(max(0.0, 4 - (time.monotonic() - t_down)))
        assert "lost region" not in rack.daemon.text()
        worst = summary("API requests that need the database, PostgreSQL stopped", outage)
        assert worst < 1.0

        prefix = ["runuser", "-u", "ironrack", "--"] if os.geteuid() == 0 else []
        restarted = subprocess.Popen(prefix + argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        t_up = time.monotonic()
        wait_for(lambda: region.api("GET", "/api/v1/racks", timeout=10)[0] == 200, timeout=30, interval=0.2,
                 what="the API to recover")
        print(f"API back {time.monotonic() - t_up:.2f} s after PostgreSQL was started again")
        st, body = region.api("GET", f"/api/v1/racks/{rid}")
        assert st == 200 and body["connected"] is True, body
        st, body = region.api("POST", f"/api/v1/racks/{rid}/ping")
        assert st == 200, body
        assert "lost region" not in rack.daemon.text()
    finally:
        rack.stop()
        rc = region.stop()
        region.daemon = None
        if restarted is not None:
            # runuser does not pass signals on: stop the postmaster itself
            stop_postmaster(postmaster_pid(region))
            restarted.wait(30)
    assert rc == 0


def test_revoked_key_is_refused_within_seconds(region):
    key = region.cmd("create-admin", "--name", "short-lived")
    st, body = region.api("GET", "/api/v1/racks", key=key)
    assert st == 200, body  # now cached as good
    out = region.cmd("revoke-key", "--name", "short-lived")
    assert "revoked 1 API key" in out
    t0 = time.monotonic()
    wait_for(lambda: region.api("GET", "/api/v1/racks", key=key)[0] == 401, timeout=15, interval=0.2,
             what="the revoked key to be refused")
    took = time.monotonic() - t0
    print(f"revoked key refused after {took:.2f} s")
    assert took < 8
    assert region.api("GET", "/api/v1/racks")[0] == 200  # other keys are untouched
    r = subprocess.run([*region_cmd_prefix(region), "revoke-key", "--name", "short-lived"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and "no API key named 'short-lived'" in r.stderr, r.stderr


def region_cmd_prefix(region):
    from conftest import REGIOND
    return [REGIOND, "--state-dir", region.state_dir]
