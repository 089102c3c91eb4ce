"""The region's database: migrations, a newer schema refused, a region on an
external PostgreSQL by DSN, and CLI login against it."""

import os
import subprocess

from conftest import CLI, REGIOND, Daemon, Region, cli, make_dir


def psql(region, sql, db="ironrack"):
    sock = os.path.join(region.state_dir, "pg-run")
    user = "ironrack" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
    out = subprocess.run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", sock, "-U", user, "-d", db,
                          "-c", sql], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_migrations_recorded(region):
    versions = psql(region, "SELECT version FROM schema_version ORDER BY version").split()
    assert versions[0] == "1"
    assert [int(v) for v in versions] == list(range(1, len(versions) + 1))


def test_newer_schema_is_refused(region):
    psql(region, "INSERT INTO schema_version(version, name) VALUES (999, '0999_from_the_future')")
    region.stop()
    log = os.path.join(os.path.dirname(region.state_dir), "future.log")
    d = Daemon([REGIOND, "run"] + region.args(), log).start()
    rc = d.proc.wait(60)
    assert rc != 0
    text = d.text()
    assert "999" in text and "upgrade ironrack-regiond" in text, text[-2000:]
    assert "region ready" not in text
    # the embedded cluster was stopped again on the way out
    assert not os.path.exists(os.path.join(region.state_dir, "pg", "postmaster.pid"))
    region.daemon = None


def test_region_on_external_database_by_dsn(region, workdir):
    """A second region uses the first one's PostgreSQL as an external server."""
    psql(region, "CREATE DATABASE external_ir", db="postgres")
    sock = os.path.join(region.state_dir, "pg-run")
    user = "ironrack" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
    other = Region(os.path.join(workdir, "region2"))
    os.makedirs(other.state_dir, mode=0o700)
    dsn = f"host={sock} dbname=external_ir user={user}"
    extra = ["--database-dsn", dsn]
    other.args = lambda: Region.args(other) + extra
    other.start()
    try:
        assert "database ready (external" in other.daemon.text()
        assert not os.path.exists(os.path.join(other.state_dir, "pg"))
        assert psql(region, "SELECT count(*) FROM api_key", db="external_ir") == "1"
        st, body = other.api("GET", "/api/v1/racks")
        assert st == 200
    finally:
        other.stop()


def test_cli_login_saves_and_uses_credentials(region, workdir):
    conf = os.path.join(workdir, "cli.conf")
    env = dict(os.environ, IRONRACK_CONFIG=conf)
    env.pop("IRONRACK_URL", None)
    env.pop("IRONRACK_KEY", None)
    bad = subprocess.run([CLI, "login", region.url, "irk_" + "1" * 40], capture_output=True, text=True, env=env)
    assert bad.returncode != 0 and not os.path.exists(conf)
    ok = subprocess.run([CLI, "login", region.url, region.admin_key], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    assert os.stat(conf).st_mode & 0o777 == 0o600
    out = subprocess.run([CLI, "racks", "list"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert "ID" in out.stdout or "no racks" in out.stdout.lower()


def test_config_file_and_flag_override(workdir):
    """The file is read, a flag overrides it, and a bad key names file:line."""
    state = os.path.join(workdir, "r")
    conf = os.path.join(workdir, "regiond.conf")
    with open(conf, "w") as f:
        f.write(f"# test\nstate_dir = {state}\nheartbeat_interval = 7s\n")
    out = subprocess.run([REGIOND, "--config", conf, "enrol-secret"], capture_output=True, text=True)
    assert out.returncode == 0 and os.path.exists(os.path.join(state, "enrol-secret"))
    other = os.path.join(workdir, "r2")
    out = subprocess.run([REGIOND, "--config", conf, "--state-dir", other, "enrol-secret"], capture_output=True,
                         text=True)
    assert out.returncode == 0 and os.path.exists(os.path.join(other, "enrol-secret"))
    with open(conf, "a") as f:
        f.write("heartbeat_intreval = 3s\n")
    out = subprocess.run([REGIOND, "--config", conf, "enrol-secret"], capture_output=True, text=True)
    assert out.returncode == 2
    assert f"{conf}:4" in out.stderr and "heartbeat_intreval" in out.stderr
    out = subprocess.run([REGIOND, "--config", conf, "--heartbeat-interval", "soon", "enrol-secret"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "heartbeat" in out.stderr
