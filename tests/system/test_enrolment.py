"""Enrolment, identity and session lifecycle between real daemons."""

import os
import pwd
import re
import signal
import socket
import time

from conftest import Rack, cli, wait_for


def connected(region, rack_id):
    return region.racks().get(rack_id, {}).get("connected")


def test_embedded_region_serves_version(region):
    st, body = region.api("GET", "/api/v1/version", key=None)
    assert st == 200
    assert body["api"] == "v1" and body["version"]
    # The embedded cluster lives in the state dir, on a private socket.
    assert os.path.exists(os.path.join(region.state_dir, "pg", "PG_VERSION"))
    assert region.fingerprint.startswith("SHA256:")
    assert len(region.secret) >= 32
    # Started as root, it runs as its own user with no capability at all
    # (the bounding set too, and no_new_privs); so does its PostgreSQL,
    # and that user owns the state.
    status = open(f"/proc/{region.daemon.proc.pid}/status").read()
    caps = {k: int(v, 16) for k, v in re.findall(r"^(Cap\w+):\s*([0-9a-f]+)$", status, re.M)}
    if os.geteuid() == 0:
        uid = pwd.getpwnam("ironrack").pw_uid
        assert caps["CapEff"] == caps["CapPrm"] == caps["CapBnd"] == caps["CapInh"] == 0, caps
        assert re.search(rf"^Uid:\s+{uid}\s+{uid}\s+{uid}\s+{uid}$", status, re.M), status
        assert re.search(r"^NoNewPrivs:\s+1$", status, re.M), status
        assert os.stat(region.state_dir).st_uid == uid
        assert os.stat(os.path.join(region.state_dir, "enrol-secret")).st_uid == uid
        pg_pid = int(open(os.path.join(region.state_dir, "pg", "postmaster.pid")).readline())
        assert os.stat(f"/proc/{pg_pid}").st_uid == uid
        assert "running as user 'ironrack'" in region.daemon.text()
    # Its secrets are in 0600 files, never in the log.
    text = region.daemon.text()
    assert "created the first API key 'admin': read it from" in text
    assert region.secret not in text and region.admin_key not in text


def test_two_racks_enrol_and_are_listed(region, make_rack):
    a = make_rack("rack-a")
    b = make_rack("rack-b")
    assert a.rack_id != b.rack_id
    wait_for(lambda: connected(region, a.rack_id) and connected(region, b.rack_id), what="both racks connected")
    out = cli(region, "racks", "list").stdout
    for rack in (a, b):
        line = next(line for line in out.splitlines() if rack.rack_id in line)
        assert "connected" in line and "disconnected" not in line, out
        assert rack.name in line, out
    racks = region.racks()
    assert racks[a.rack_id]["hostname"] == "rack-a"
    assert racks[a.rack_id]["version"]
    assert racks[a.rack_id]["last_seen"]
    # Key material is private to the rack.
    for f in ("rack.key", "rack.crt", "ca.crt"):
        mode = os.stat(os.path.join(a.state_dir, "tls", f)).st_mode & 0o777
        assert mode == 0o600, (f, oct(mode))
    assert "enrolled rack " + a.rack_id in region.daemon.text()


def test_region_restart_racks_reconnect(region, make_rack):
    a = make_rack("rack-a")
    b = make_rack("rack-b")
    region.stop()
    # Both notice and retry; the region comes back on the same ports.
    a.daemon.wait_log("lost region", timeout=30)
    b.daemon.wait_log("lost region", timeout=30)
    region.start()
    a.daemon.wait_log("connected to region", count=2, timeout=60)
    b.daemon.wait_log("connected to region", count=2, timeout=60)
    wait_for(lambda: connected(region, a.rack_id) and connected(region, b.rack_id), what="racks back")
    before = region.racks()[a.rack_id]["last_seen"]
    wait_for(lambda: region.racks()[a.rack_id]["last_seen"] != before, what="heartbeats after restart")
    assert "enrolled rack" not in region.daemon.text()  # no re-enrolment


def test_rack_restart_keeps_identity(region, make_rack):
    a = make_rack("rack-a")
    rid = a.rack_id
    a.stop()
    wait_for(lambda: not connected(region, rid), what="rack shown disconnected")
    out = cli(region, "racks", "list").stdout
    assert "disconnected" in next(line for line in out.splitlines() if rid in line)
    # No secret this time: the identity on disk is enough.
    a.start()
    assert a.rack_id == rid
    assert "enrolling" not in a.daemon.text()
    wait_for(lambda: connected(region, rid), what="rack reconnected")
    assert len(region.racks()) == 1


def test_wrong_secret_is_refused(region, workdir):
    rack = Rack(region, os.path.join(workdir, "bad"), "bad")
    rack.start(secret="0" * 40, wait=False)
    assert rack.daemon.proc.wait(60) != 0
    assert "refused enrolment" in rack.daemon.text()
    assert "wrong enrolment secret" in region.daemon.text()
    assert not os.path.exists(os.path.join(rack.state_dir, "tls", "rack-id"))
    assert region.racks() == {}


def test_wrong_ca_fingerprint_is_refused(region, workdir):
    rack = Rack(region, os.path.join(workdir, "pinned"), "pinned")
    rack.start(secret=region.secret, fingerprint="SHA256:" + ":".join(["AB"] * 32), wait=False)
    assert rack.daemon.proc.wait(60) != 0
    assert "refusing" in rack.daemon.text()
    assert region.racks() == {}


def test_unenrolled_rack_without_secret_says_how(region, workdir):
    rack = Rack(region, os.path.join(workdir, "nosecret"), "nosecret")
    rack.start(wait=False)
    assert rack.daemon.proc.wait(30) != 0
    assert "--secret" in rack.daemon.text()


def test_region_failover_between_addresses(region, workdir):
    """A dead first address does not stop the rack: it moves on."""
    rack = Rack(region, os.path.join(workdir, "fo"), "fo")
    # A port bound and never listened on refuses every connection, and
    # nothing else can take it while the test holds it.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as hold:
        hold.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{hold.getsockname()[1]}"
        rack.start(secret=region.secret, fingerprint=region.fingerprint, regions=[dead, region.grpc_target])
        wait_for(lambda: connected(region, rack.rack_id), what="rack connected via second address")
        rack.stop()


def test_secret_rotation(region, workdir):
    old = region.secret
    new = region.cmd("enrol-secret", "--rotate")
    assert new != old and region.secret == new
    rack = Rack(region, os.path.join(workdir, "rot"), "rot")
    rack.start(secret=old, wait=False)
    assert rack.daemon.proc.wait(60) != 0
    rack2 = Rack(region, os.path.join(workdir, "rot2"), "rot2")
    rack2.start(secret=new, fingerprint=region.fingerprint)
    rack2.stop()


def test_secret_off_the_command_line(region, workdir):
    """--secret-file and IRONRACK_ENROL_SECRET enrol without the secret in
    ps; the variable is wiped from the environment the daemon keeps."""
    secret = region.secret
    path = os.path.join(workdir, "enrol-secret")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(f"  {secret}  \n")
    a = Rack(region, os.path.join(workdir, "sf"), "sf")
    a.start(fingerprint=region.fingerprint, extra=["--secret-file", path])
    b = Rack(region, os.path.join(workdir, "se"), "se")
    b.start(fingerprint=region.fingerprint, env={"IRONRACK_ENROL_SECRET": secret})
    for rack in (a, b):
        pid = rack.daemon.proc.pid
        assert secret.encode() not in open(f"/proc/{pid}/cmdline", "rb").read()
        assert secret.encode() not in open(f"/proc/{pid}/environ", "rb").read()
        assert "on the command line" not in rack.daemon.text()
        assert rack.rack_id.startswith("rack-")
        rack.stop()


def test_config_snapshot_survives_sigkill(region, make_rack):
    a = make_rack("rack-a")
    st, body = region.api("POST", f"/api/v1/racks/{a.rack_id}/config",
                          {"settings": {"ntp": "192.0.2.123", "domain": "lab.example"}})
    assert st == 200, body
    assert body["acked"] is True
    version = body["version"]
    path = os.path.join(a.state_dir, "config", "current.pb")
    assert os.path.exists(path)
    a.daemon.proc.send_signal(signal.SIGKILL)
    a.daemon.proc.wait()
    a.start()
    a.daemon.wait_log(f"loaded config version {version}")
    with open(path, "rb") as f:
        raw = f.read()
    assert b"192.0.2.123" in raw and b"lab.example" in raw
    wait_for(lambda: region.racks()[a.rack_id]["acked_config_version"] == version, what="ack recorded")


def test_config_pushed_while_disconnected_arrives_on_connect(region, make_rack):
    a = make_rack("rack-a")
    rid = a.rack_id
    a.stop()
    wait_for(lambda: not connected(region, rid), what="rack disconnected")
    st, body = region.api("POST", f"/api/v1/racks/{rid}/config", {"settings": {"k": "v1"}})
    assert st == 202, (st, body)
    assert body["acked"] is False
    a.start()
    a.daemon.wait_log(f"stored config version {body['version']}")
    wait_for(lambda: region.racks()[rid]["acked_config_version"] == body["version"], what="ack")


def test_ping_command_round_trip(region, make_rack):
    a = make_rack("rack-a")
    out = cli(region, "racks", "ping", a.rack_id).stdout
    assert "pong" in out and a.rack_id in out
    st, body = region.api("POST", f"/api/v1/racks/{a.rack_id}/ping")
    assert st == 200 and body["result"] == "pong" and body["rtt_ms"] >= 0
    a.stop()
    wait_for(lambda: not connected(region, a.rack_id), what="rack disconnected")
    st, body = region.api("POST", f"/api/v1/racks/{a.rack_id}/ping")
    assert st == 409 and body["error"]["code"] == "rack_disconnected"


def test_region_stops_cleanly_with_racks_attached(region, make_rack):
    make_rack("rack-a")
    assert region.stop() == 0
    text = region.daemon.text()
    assert "region stopped" in text
    # The embedded PostgreSQL stopped with it.
    assert not os.path.exists(os.path.join(region.state_dir, "pg", "postmaster.pid"))
    region.start()  # and it comes back on the same cluster
    assert "created the first API key" not in region.daemon.text()
