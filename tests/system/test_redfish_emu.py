"""The Redfish BMC emulator (redfish_emu.py) the power tests and the power
benchmark drive, checked on its own: with python3-sushy (OpenStack's Redfish
client) as an independent client, with raw HTTPS requests for what a client
library hides (401, 412, 400 bodies, ETags), and its hook starting a real
PXE-booting QEMU VM (qemuvm.py) in network namespaces this module creates.

Everything but the last test runs on 127.0.0.1 (no namespace, no root)."""

import base64
import http.client
import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import uuid

import pytest

from conftest import make_dir, needs_root, needs_tools, qemu_once

from redfish_model import RESET_TYPES
from redfish_proc import RedfishEmulator

HERE = os.path.dirname(os.path.abspath(__file__))
USER = "admin"
PW = "s3cret-Pw"
SYSTEMS = "/redfish/v1/Systems"
SESSIONS = "/redfish/v1/SessionService/Sessions"
NO_POWER_CYCLE = ["On", "ForceOff", "GracefulShutdown", "ForceRestart"]

# System ids: each test that changes a system has its own.
CONFIG = {"systems": {
    "3": {"reset_types": NO_POWER_CYCLE, "etag_required": False, "boot_targets": ["None", "Pxe", "Hdd"]},
    "4": {"reset_allowable": "action_info", "weak_etag": True},
    "7": {"power": "On"},
}}


def sushy_mod():
    try:
        import sushy  # python3-sushy
        return sushy
    except ImportError:
        pytest.fail("python3-sushy is missing (Debian package python3-sushy)")


@pytest.fixture(scope="module")
def work():
    d = make_dir("irredfish-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def emu(work):
    calls = os.path.join(work, "hook.calls")
    hook = os.path.join(work, "hook.sh")
    with open(hook, "w") as f:
        # System 9's hook is slow: the reset must not wait for it.
        f.write(f"#!/bin/sh\n[ \"$1\" = 9 ] && sleep 0.5\necho \"$@\" >> {calls}\n")
    os.chmod(hook, 0o755)
    e = RedfishEmulator(listen="127.0.0.1:0", systems=9, user=USER, password=PW, hook=hook, config=CONFIG,
                        workdir=os.path.join(work, "emu"), verbose=True).start()
    e.calls_file = calls
    yield e
    rc = e.stop()
    print(e.log_text()[-6000:])  # shown when a test failed
    assert rc == 0, e.log_text()[-3000:]


@pytest.fixture
def no_ca_env(monkeypatch):
    """requests (under sushy) lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE win
    over the session's verify setting; these tests say what to trust."""
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(var, raising=False)


def hook_calls(emu, sid):
    emu.wait_hooks()
    try:
        with open(emu.calls_file) as f:
            return [line.split()[1:] for line in f if line.split()[0] == sid]
    except FileNotFoundError:
        return []


class Client:
    """Raw HTTPS, verifying the emulator's certificate (IP SAN 127.0.0.1)."""

    def __init__(self, emu):
        self.host, self.port = emu.addresses[0]
        self.ctx = ssl.create_default_context(cafile=emu.cert)
        self.basic = "Basic " + base64.b64encode(f"{USER}:{PW}".encode()).decode()

    def req(self, method, path, body=None, auth="basic", headers=None):
        """-> (status, headers with lower-case names, parsed JSON or None)."""
        h = dict(headers or {})
        if auth == "basic":
            h["Authorization"] = self.basic
        elif auth is not None:
            h.update(auth)
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=30)
        try:
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            raw = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, json.loads(raw) if raw else None
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def etag(self, sid):
        st, h, doc = self.get(f"{SYSTEMS}/{sid}")
        assert st == 200, doc
        assert h["etag"] == doc["@odata.etag"], (h, doc)
        return h["etag"], doc

    def patch(self, sid, boot, etag=None, **kw):
        headers = {"If-Match": etag} if etag is not None else {}
        return self.req("PATCH", f"{SYSTEMS}/{sid}", {"Boot": boot}, headers=headers, **kw)

    def reset(self, sid, reset_type, **kw):
        body = {} if reset_type is None else {"ResetType": reset_type}
        return self.req("POST", f"{SYSTEMS}/{sid}/Actions/ComputerSystem.Reset", body, **kw)


@pytest.fixture(scope="module")
def c(emu):
    return Client(emu)


def message(doc):
    """The MessageId (without its registry) of a Redfish error body."""
    [info] = doc["error"]["@Message.ExtendedInfo"]
    assert doc["error"]["code"] and info["Message"], doc
    return info["MessageId"].rsplit(".", 1)[1], info


def test_service_root_is_open_everything_else_needs_auth(emu, c):
    st, _, root = c.get("/redfish/v1", auth=None)
    assert st == 200
    assert root["Systems"]["@odata.id"] == SYSTEMS
    assert root["SessionService"]["@odata.id"] == "/redfish/v1/SessionService"
    assert root["Links"]["Sessions"]["@odata.id"] == SESSIONS
    assert c.get("/redfish", auth=None)[2] == {"v1": "/redfish/v1/"}
    before = emu.state(systems=False)["unauthorized"]
    refusals = [
        (None, "ResourceAtUriUnauthorized"),
        ({"Authorization": "Basic " + base64.b64encode(f"{USER}:wrong".encode()).decode()},
         "ResourceAtUriUnauthorized"),
        ({"Authorization": "Basic !!!not-base64"}, "ResourceAtUriUnauthorized"),
        ({"Authorization": "Bearer " + PW}, "ResourceAtUriUnauthorized"),
        ({"X-Auth-Token": "0123456789abcdef"}, "NoValidSession"),
    ]
    paths = [SYSTEMS, f"{SYSTEMS}/1", "/redfish/v1/SessionService", SESSIONS]
    for path in paths:
        for auth, msg_id in refusals:
            st, h, doc = c.get(path, auth=auth)
            assert st == 401, (path, auth, st, doc)
            assert message(doc)[0] == msg_id, (path, auth, doc)
            assert h["www-authenticate"].startswith("Basic"), h
    assert emu.state(systems=False)["unauthorized"] == before + len(paths) * len(refusals)
    # A refused reset changed nothing.
    st, _, _ = c.reset("8", "On", auth=None)
    assert st == 401 and emu.state("8")["PowerState"] == "Off"
    st, _, doc = c.get(SYSTEMS)
    assert st == 200 and doc["Members@odata.count"] == 9 and len(doc["Members"]) == 9
    assert doc["Members"][0] == {"@odata.id": f"{SYSTEMS}/1"}


def test_sessions_login_token_logout(emu, c):
    st, h, doc = c.req("POST", SESSIONS, {"UserName": USER, "Password": "wrong"}, auth=None)
    assert st == 401 and "x-auth-token" not in h, (st, h, doc)
    st, _, doc = c.req("POST", SESSIONS, {"UserName": USER}, auth=None)
    assert st == 400 and message(doc)[0] == "PropertyMissing"
    st, _, doc = c.req("POST", SESSIONS, b"{not json", auth=None)
    assert st == 400 and message(doc)[0] == "MalformedJSON"

    logins = emu.state(systems=False)["logins"]
    st, h, doc = c.req("POST", SESSIONS, {"UserName": USER, "Password": PW}, auth=None)
    assert st == 201, doc
    token, loc = h["x-auth-token"], h["location"]
    assert len(token) >= 16 and loc.startswith(SESSIONS + "/") and doc["UserName"] == USER
    assert emu.state(systems=False)["logins"] == logins + 1
    tok = {"X-Auth-Token": token}
    assert c.get(f"{SYSTEMS}/1", auth=tok)[0] == 200
    st, _, sess = c.get(loc, auth=tok)
    assert st == 200 and sess["UserName"] == USER and sess["@odata.id"] == loc
    st, _, coll = c.get(SESSIONS, auth=tok)
    assert {"@odata.id": loc} in coll["Members"]
    st, _, _ = c.req("DELETE", loc, auth=tok)
    assert st == 204
    st, _, doc = c.get(f"{SYSTEMS}/1", auth=tok)
    assert st == 401 and message(doc)[0] == "NoValidSession"
    assert c.req("DELETE", loc)[0] == 404  # gone

    # A BMC that drops every session (reboot): the token stops working.
    st, h, _ = c.req("POST", SESSIONS, {"UserName": USER, "Password": PW}, auth=None)
    tok = {"X-Auth-Token": h["x-auth-token"]}
    assert c.get(f"{SYSTEMS}/1", auth=tok)[0] == 200
    assert emu.drop_sessions() >= 1
    assert c.get(f"{SYSTEMS}/1", auth=tok)[0] == 401


def test_sushy_with_a_session(emu, no_ca_env):
    """sushy's default auth (a session, falling back to basic) verifying the
    emulator's certificate: discovery, boot override, power."""
    sushy = sushy_mod()
    logins = emu.state(systems=False)["logins"]
    s = sushy.Sushy(f"{emu.url}/redfish/v1", username=USER, password=PW, verify=emu.cert)
    try:
        assert emu.state(systems=False)["logins"] == logins + 1, "sushy did not log in with a session"
        assert s._auth.get_session_key(), "sushy fell back to basic auth"
        coll = s.get_system_collection()
        assert len(coll.members_identities) == 9 and f"{SYSTEMS}/1" in coll.members_identities
        system = s.get_system(f"{SYSTEMS}/1")
        assert system.identity == "1" and system.power_state == sushy.PowerState.OFF
        assert {v.value for v in system.get_allowed_reset_system_values()} == set(RESET_TYPES)
        assert system.boot.enabled == sushy.BootSourceOverrideEnabled.DISABLED

        system.set_system_boot_options(sushy.BootSource.PXE, enabled=sushy.BootSourceOverrideEnabled.ONCE)
        st = emu.state("1")
        assert st["Boot"]["BootSourceOverrideEnabled"] == "Once" and st["Boot"]["BootSourceOverrideTarget"] == "Pxe"
        assert st["requests"]["PATCH"] == 1 and st["precondition_failed"] == 0, "sushy's PATCH had to be retried"

        system.reset_system(sushy.ResetType.ON)
        system.refresh()
        assert system.power_state == sushy.PowerState.ON
        # The power-on used the override and consumed it.
        assert system.boot.enabled == sushy.BootSourceOverrideEnabled.DISABLED
        assert emu.state("1")["last_boot_target"] == "Pxe"
        system.reset_system(sushy.ResetType.FORCE_OFF)
        system.refresh()
        assert system.power_state == sushy.PowerState.OFF
        assert hook_calls(emu, "1") == [["on", "Pxe"], ["off", "None"]]

        # The BMC forgets every session: sushy logs in again and goes on.
        emu.drop_sessions()
        system.refresh()
        assert system.power_state == sushy.PowerState.OFF
        assert emu.state(systems=False)["logins"] == logins + 2
    finally:
        s._auth.close()  # deletes the session
    assert emu.state(systems=False)["sessions"] == 0


def test_sushy_with_basic_auth(emu, no_ca_env):
    sushy = sushy_mod()
    logins = emu.state(systems=False)["logins"]
    s = sushy.Sushy(f"{emu.url}/redfish/v1", auth=sushy.auth.BasicAuth(USER, PW), verify=False)
    system = s.get_system(f"{SYSTEMS}/2")
    assert system.power_state == sushy.PowerState.OFF
    system.reset_system(sushy.ResetType.POWER_CYCLE)  # from off: on
    system.refresh()
    assert system.power_state == sushy.PowerState.ON
    system.reset_system(sushy.ResetType.FORCE_RESTART)  # off, then on
    system.refresh()
    assert system.power_state == sushy.PowerState.ON
    system.set_system_boot_options(sushy.BootSource.HDD, enabled=sushy.BootSourceOverrideEnabled.CONTINUOUS,
                                   mode=sushy.BootSourceOverrideMode.UEFI)
    system.refresh()
    assert system.boot.target == sushy.BootSource.HDD and system.boot.mode == sushy.BootSourceOverrideMode.UEFI
    assert emu.state(systems=False)["logins"] == logins, "basic auth opened a session"
    assert hook_calls(emu, "2") == [["on", "None"], ["off", "None"], ["on", "None"]]
    assert emu.state("2")["resets"] == {"PowerCycle": 1, "ForceRestart": 1}

    bad = sushy.Sushy(f"{emu.url}/redfish/v1", auth=sushy.auth.BasicAuth(USER, "wrong"), verify=False)
    with pytest.raises(sushy.exceptions.AccessError):
        bad.get_system(f"{SYSTEMS}/2")


def test_etag_if_match(emu, c):
    e1, doc = c.etag("5")
    assert e1.startswith('"') and doc["Boot"]["BootSourceOverrideEnabled"] == "Disabled"
    assert c.etag("6")[0] != e1, "two systems share an ETag"
    want = {"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Continuous"}

    st, _, err = c.patch("5", want)  # no If-Match
    assert st == 412 and message(err)[0] == "PreconditionFailed", (st, err)
    st, _, err = c.patch("5", want, etag="*")
    assert st == 412
    st, _, err = c.patch("5", want, etag='"not-the-etag"')
    assert st == 412
    assert c.etag("5")[0] == e1, "a refused PATCH changed the system"

    st, h, doc = c.patch("5", want, etag=e1)
    assert st == 200, doc
    e2 = h["etag"]
    assert e2 != e1 and doc["Boot"]["BootSourceOverrideTarget"] == "Pxe" and doc["@odata.etag"] == e2
    st, _, err = c.patch("5", {"BootSourceOverrideTarget": "Hdd"}, etag=e1)  # stale
    assert st == 412 and "did not match" in message(err)[1]["Message"]

    # A power change is a change: the ETag moves.
    assert c.reset("5", "ForceOn")[0] == 204
    e3, doc = c.etag("5")
    assert e3 != e2 and doc["PowerState"] == "On"
    assert c.patch("5", {"BootSourceOverrideTarget": "Hdd"}, etag=e2)[0] == 412
    # Continuous is not consumed by a power-on.
    assert doc["Boot"]["BootSourceOverrideEnabled"] == "Continuous"
    assert emu.state("5")["last_boot_target"] == "Pxe"
    # A weak form of the current tag is accepted (BMCs hand out W/ tags).
    st, _, doc = c.patch("5", {"BootSourceOverrideEnabled": "Disabled"}, etag="W/" + e3)
    assert st == 200 and doc["Boot"]["BootSourceOverrideEnabled"] == "Disabled"
    st5 = emu.state("5")
    assert st5["precondition_failed"] == 5 and st5["requests"]["PATCH"] == 7


def test_allowable_values_are_honoured(emu, c, no_ca_env):
    _, doc = c.etag("3")
    assert doc["Actions"]["#ComputerSystem.Reset"]["ResetType@Redfish.AllowableValues"] == NO_POWER_CYCLE
    st, _, err = c.reset("3", "PowerCycle")
    msg_id, info = message(err)
    assert st == 400 and msg_id == "ActionParameterNotSupported" and "PowerCycle" in info["MessageArgs"], err
    st, _, err = c.reset("3", "Bogus")
    assert st == 400 and message(err)[0] == "ActionParameterNotSupported"
    st, _, err = c.reset("3", None)
    assert st == 400 and message(err)[0] == "ActionParameterMissing"
    assert emu.state("3")["PowerState"] == "Off" and hook_calls(emu, "3") == []

    # What the system advertises works; its If-Match is optional, a stale one is not.
    assert c.reset("3", "ForceRestart")[0] == 204
    e1, _ = c.etag("3")
    st, _, doc = c.patch("3", {"BootSourceOverrideTarget": "Hdd"})
    assert st == 200 and doc["Boot"]["BootSourceOverrideTarget"] == "Hdd"
    assert c.patch("3", {"BootSourceOverrideTarget": "Pxe"}, etag=e1)[0] == 412
    e2, _ = c.etag("3")
    for boot, msg_id in (({"BootSourceOverrideTarget": "Cd"}, "PropertyValueNotInList"),  # not advertised here
                         ({"BootSourceOverrideTarget": "Floppy"}, "PropertyValueNotInList"),
                         ({"BootSourceOverrideEnabled": "Sometimes"}, "PropertyValueNotInList"),
                         ({"BootSourceOverrideMode": "BIOS"}, "PropertyValueNotInList"),
                         ({"BootOrder": ["Pxe"]}, "PropertyUnknown")):
        st, _, err = c.patch("3", boot, etag=e2)
        assert st == 400 and message(err)[0] == msg_id, (boot, err)
    st, _, err = c.req("PATCH", f"{SYSTEMS}/3", {"PowerState": "Off"}, headers={"If-Match": e2})
    assert st == 400 and message(err)[0] == "PropertyNotWritable"
    assert c.etag("3")[0] == e2, "a refused PATCH changed the system"

    # sushy reads the same list and refuses on its side.
    sushy = sushy_mod()
    s = sushy.Sushy(f"{emu.url}/redfish/v1", auth=sushy.auth.BasicAuth(USER, PW), verify=emu.cert)
    system = s.get_system(f"{SYSTEMS}/3")
    assert sushy.ResetType.POWER_CYCLE not in system.get_allowed_reset_system_values()
    with pytest.raises(sushy.exceptions.InvalidParameterValueError):
        system.reset_system(sushy.ResetType.POWER_CYCLE)


def test_action_info_and_weak_etags(emu, c):
    etag, doc = c.etag("4")
    reset = doc["Actions"]["#ComputerSystem.Reset"]
    assert "ResetType@Redfish.AllowableValues" not in reset
    st, _, info = c.get(reset["@Redfish.ActionInfo"])
    assert st == 200 and info["Parameters"][0]["Name"] == "ResetType"
    assert info["Parameters"][0]["AllowableValues"] == RESET_TYPES
    assert etag.startswith('W/"')
    st, h, _ = c.patch("4", {"BootSourceOverrideMode": "UEFI"}, etag=etag)
    assert st == 200 and h["etag"].startswith('W/"') and h["etag"] != etag
    st, _, _ = c.patch("4", {"BootSourceOverrideMode": "Legacy"}, etag=h["etag"][2:])  # the strong form
    assert st == 200
    assert c.get(f"{SYSTEMS}/1/ResetActionInfo")[0] == 404  # inline systems have none


def test_once_override_and_hook_order(emu, c):
    """Once is consumed by the next power-on, whatever caused it; the hook
    sees every power change in order, with the boot source of each power-on."""
    etag, _ = c.etag("6")
    assert c.patch("6", {"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Once"}, etag=etag)[0] == 200
    assert c.reset("6", "ForceOff")[0] == 204  # already off: no power-on, nothing consumed
    assert c.etag("6")[1]["Boot"]["BootSourceOverrideEnabled"] == "Once"
    assert c.reset("6", "On")[0] == 204
    _, doc = c.etag("6")
    assert doc["PowerState"] == "On" and doc["Boot"]["BootSourceOverrideEnabled"] == "Disabled"
    assert c.reset("6", "On")[0] == 204  # already on: nothing
    assert c.reset("6", "PowerCycle")[0] == 204
    assert c.reset("6", "GracefulShutdown")[0] == 204
    assert c.reset("6", "PushPowerButton")[0] == 204
    assert c.reset("6", "Nmi")[0] == 204
    assert hook_calls(emu, "6") == [["on", "Pxe"], ["off", "None"], ["on", "None"], ["off", "None"],
                                    ["on", "None"]]
    st6 = emu.state("6")
    assert st6["power_ons"] == 3 and st6["power_offs"] == 2 and st6["hook"]["calls"] == 5
    assert st6["resets"] == {"ForceOff": 1, "On": 2, "PowerCycle": 1, "GracefulShutdown": 1, "PushPowerButton": 1,
                             "Nmi": 1}


def test_the_hook_runs_off_the_request(emu, c):
    t0 = time.monotonic()
    assert c.reset("9", "On")[0] == 204
    assert c.reset("9", "ForceOff")[0] == 204
    assert time.monotonic() - t0 < 0.4, "a reset waited for the hook"
    assert emu.state(systems=False)["hooks_pending"] >= 1
    assert hook_calls(emu, "9") == [["on", "None"], ["off", "None"]]  # waits for them, in order
    assert emu.state("9")["hook"] == {"calls": 2, "failures": 0, "last": ["off", "None", 0]}


def test_control_failures_latency_transitions(emu, c):
    assert emu.state("7")["PowerState"] == "On"  # from the config
    # /emu answers on the HTTPS listener to the emulator's own address (loopback here).
    st, _, doc = c.get("/emu/state?systems=0", auth=None)
    assert st == 200 and doc["systems_count"] == 9 and "systems" not in doc

    emu.set_system("7", fail_next=2)
    for _ in range(2):
        st, h, err = c.get(f"{SYSTEMS}/7")
        assert st == 503 and h["retry-after"] == "1" and message(err)[0] == "ServiceTemporarilyUnavailable"
    assert c.get(f"{SYSTEMS}/7")[0] == 200

    emu.set_system("7", latency_ms=300)
    t0 = time.monotonic()
    assert c.get(f"{SYSTEMS}/7")[0] == 200
    assert time.monotonic() - t0 >= 0.3
    t0 = time.monotonic()
    assert c.get(f"{SYSTEMS}/8")[0] == 200 and time.monotonic() - t0 < 0.3, "latency leaked to another system"
    emu.set_system("7", latency_ms=0, transition_ms=400)

    assert c.reset("7", "ForceOff")[0] == 204
    e1, doc = c.etag("7")
    assert doc["PowerState"] == "PoweringOff"
    time.sleep(0.45)
    e2, doc = c.etag("7")
    assert doc["PowerState"] == "Off" and e2 != e1

    # A person at the machine: the hook runs, no Redfish reset is counted.
    before = emu.state("7")["resets"]
    emu.set_system("7", transition_ms=0, PowerState="On")
    assert emu.state("7")["PowerState"] == "On" and emu.state("7")["resets"] == before
    assert hook_calls(emu, "7")[-1] == ["on", "None"]
    with pytest.raises(AssertionError):
        emu.set_system("7", no_such_option=1)
    with pytest.raises(AssertionError):
        emu.set_system("7", reset_types=["Explode"])

    counts = emu.state(systems=False)
    assert counts["requests"]["GET"] > 0 and counts["requests"]["PATCH"] > 0 and counts["precondition_failed"] >= 5
    assert counts["status"]["412"] == counts["precondition_failed"]


def test_state_file_survives_a_restart(work):
    state = os.path.join(work, "state.json")
    d = os.path.join(work, "restart")
    e = RedfishEmulator(systems=2, user=USER, password=PW, state_file=state, workdir=d).start()
    try:
        c = Client(e)
        etag, _ = c.etag("2")
        assert c.patch("2", {"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Continuous"},
                       etag=etag)[0] == 200
        assert c.reset("2", "On")[0] == 204
    finally:
        assert e.stop() == 0
    with open(state) as f:
        assert json.load(f)["systems"]["2"]["PowerState"] == "On"
    e = RedfishEmulator(systems=2, user=USER, password=PW, state_file=state, workdir=d).start()
    try:
        _, doc = Client(e).etag("2")
        assert doc["PowerState"] == "On" and doc["Boot"]["BootSourceOverrideEnabled"] == "Continuous"
        assert Client(e).etag("1")[1]["PowerState"] == "Off"
    finally:
        e.stop()


def test_a_full_poll_of_1000_systems_takes_seconds(work):
    """The benchmark's shape: 1,000 systems in one emulator process, every
    one read once by one client with 64 connections (curl --parallel)."""
    needs_tools("curl")
    n = 1000
    e = RedfishEmulator(systems=n, user=USER, password=PW, workdir=os.path.join(work, "poll")).start()
    try:
        cfg = os.path.join(e.workdir, "urls.cfg")
        with open(cfg, "w") as f:
            for i in range(1, n + 1):
                f.write(f'url = "{e.url}{SYSTEMS}/{i}"\noutput = /dev/null\n')
        t0 = time.monotonic()
        out = subprocess.run(["curl", "-sS", "--cacert", e.cert, "-u", f"{USER}:{PW}", "--parallel",
                              "--parallel-max", "64", "-K", cfg, "-w", "%{http_code}\\n"],
                             capture_output=True, text=True, timeout=120)
        secs = time.monotonic() - t0
        codes = out.stdout.split()
        assert out.returncode == 0 and codes.count("200") == n, (out.returncode, out.stderr[-2000:])
        print(f"{n} systems polled through 64 connections in {secs:.2f} s ({n / secs:.0f} requests/s)")
        assert secs < 20, f"a full poll took {secs:.1f} s"
        systems = e.state()["systems"]
        assert all(s["requests"] == {"GET": 1} for s in systems.values())
    finally:
        e.stop()


# ---- the hook drives a real PXE-booting VM ----

SNIFF = r"""
import socket, struct, sys, time
mac = bytes.fromhex(sys.argv[1].replace(":", ""))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[2], 0))
print("ready", flush=True)
while True:
    f = s.recv(2048)
    if f[6:12] != mac or f[12:14] != b"\x08\x00" or f[23] != 17:
        continue
    ihl = (f[14] & 15) * 4
    if struct.unpack("!H", f[14 + ihl + 2:14 + ihl + 4])[0] != 67:
        continue
    print("%.3f DHCP from %s" % (time.time(), sys.argv[1]), flush=True)
"""


def sh(*argv, check=True):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {out.returncode}: {out.stderr}")
    return out


@qemu_once
def test_redfish_power_on_starts_a_vm_that_pxe_boots(work):
    """The emulator in a BMC namespace on a lab bridge, qemuvm.py as its
    hook: a Redfish power-on (after a Once/Pxe override, over the lab from
    a client namespace) starts a QEMU VM whose iPXE sends DHCPDISCOVERs on
    the bridge; ForceOff stops it. /emu refuses the client."""
    needs_root()
    needs_tools("ip", "curl", "qemu-system-x86_64")
    from qemuvm import IPXE_ROM, PxeVm
    if not os.path.exists(IPXE_ROM):
        pytest.fail(f"{IPXE_ROM} missing (ipxe-qemu)")
    prefix = "irrf-" + uuid.uuid4().hex[:6]
    sw, bmc, cli = f"{prefix}-sw", f"{prefix}-bmc", f"{prefix}-cli"
    d = os.path.join(work, "vm")
    os.makedirs(d)
    mac = "52:54:00:7e:00:01"
    made, procs, emu, vm = [], [], None, None
    try:
        for ns in (sw, bmc, cli):
            sh("ip", "netns", "add", ns)
            made.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", sw, "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0",
           "mcast_snooping", "0")
        sh("ip", "-n", sw, "link", "set", "br0", "up")
        for ns, port, addr in ((bmc, "p-bmc", "192.0.2.2/24"), (cli, "p-cli", "192.0.2.3/24")):
            sh("ip", "-n", sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh("ip", "-n", sw, "link", "set", port, "master", "br0", "up")
            sh("ip", "-n", ns, "addr", "add", addr, "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
        vms = os.path.join(d, "vms.json")
        with open(vms, "w") as f:
            json.dump({"state_dir": d, "vms": {"1": {"switch_ns": sw, "bridge": "br0", "mac": mac}}}, f)
        vm = PxeVm(sw, "br0", mac, os.path.join(d, f"vm-{mac.replace(':', '')}.serial"), state_dir=d)
        emu = RedfishEmulator(bmc, ["192.0.2.2:443"], systems=2, user=USER, password=PW, workdir=os.path.join(d, "emu"),
                              hook=f"{sys.executable} {os.path.join(HERE, 'qemuvm.py')} --config {vms}").start()
        sniff = subprocess.Popen(["ip", "netns", "exec", sw, sys.executable, "-c", SNIFF, mac, "br0"],
                                 stdout=subprocess.PIPE, text=True)
        procs.append(sniff)
        assert sniff.stdout.readline().strip() == "ready"

        def curl(*args):
            out = sh("ip", "netns", "exec", cli, "curl", "-sS", "--cacert", emu.cert, "-u", f"{USER}:{PW}",
                     "-D", "-", *args)
            return out.stdout

        base = "https://192.0.2.2"
        etag = [ln.split(":", 1)[1].strip() for ln in curl(f"{base}{SYSTEMS}/1").splitlines()
                if ln.lower().startswith("etag:")][0]
        out = curl("-X", "PATCH", "-H", f"If-Match: {etag}", "-H", "Content-Type: application/json",
                   "-d", '{"Boot": {"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Once"}}',
                   f"{base}{SYSTEMS}/1")
        assert out.startswith("HTTP/1.1 200"), out
        t0 = time.time()
        out = curl("-X", "POST", "-H", "Content-Type: application/json", "-d", '{"ResetType": "On"}',
                   f"{base}{SYSTEMS}/1/Actions/ComputerSystem.Reset")
        assert out.startswith("HTTP/1.1 204"), out
        assert time.time() - t0 < 1.5, "the reset waited for the hook"
        line = wait_line(sniff, 30)
        secs = float(line.split()[0]) - t0
        print(f"Redfish power-on -> the VM's first DHCPDISCOVER on the bridge: {secs:.2f} s")
        assert vm.running and emu.state("1")["last_boot_target"] == "Pxe"
        assert "iPXE" in vm.serial()

        # /emu: the BMC's own address yes, a client on the lab no.
        assert '"systems_count": 2' in sh("ip", "netns", "exec", bmc, "curl", "-sS", "--cacert", emu.cert,
                                          f"{base}/emu/state?systems=0").stdout
        assert curl(f"{base}/emu/state").startswith("HTTP/1.1 403")

        pid = vm.pid
        out = curl("-X", "POST", "-H", "Content-Type: application/json", "-d", '{"ResetType": "ForceOff"}',
                   f"{base}{SYSTEMS}/1/Actions/ComputerSystem.Reset")
        assert out.startswith("HTTP/1.1 204"), out
        emu.wait_hooks()
        assert not vm.running and emu.state("1")["hook"] == {"calls": 2, "failures": 0, "last": ["off", "None", 0]}
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split(")")[1].split()[0] == "Z"
        assert "vm" + mac.replace(":", "")[-10:] not in sh("ip", "-n", sw, "link", "show").stdout, "tap left behind"
        assert [e[1:3] for e in vm.events()] == [("on", "Pxe"), ("off", "None")]
    finally:
        for p in procs:
            p.kill()
            p.wait()
        if vm is not None:
            vm.stop()
        if emu is not None:
            emu.stop()
        for ns in reversed(made):
            for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
                try:
                    os.kill(int(pid), 9)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def wait_line(proc, timeout):
    """The next line proc prints, within timeout seconds."""
    import select
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([proc.stdout], [], [], 0.2)
        if r:
            line = proc.stdout.readline()
            if line:
                return line
        if proc.poll() is not None:
            break
    raise AssertionError(f"nothing within {timeout} s")
