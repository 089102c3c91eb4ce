"""The rack's agent endpoint (docs/machines.md, "The agent's report"):
POST /machine/v1/report on the rack's HTTP boot server, checked on the rack,
forwarded to a real region over the session, the region's verdict as the
HTTP answer; held while the region is away, 503 with Retry-After after
agent_hold_timeout (15 s here).
Also the kernel command line the rack appends (ironrack.url, ironrack.mac).

The rack's HTTP boot server listens on loopback, on a port of the kernel's
choosing (STATE_DIR/ports/http-boot): no namespace is needed. Tests run in
file order and share one region and rack."""

import http.client
import json
import os
import signal
import socket
import threading
import time

import pytest

from conftest import Rack, Region, make_dir, port_file, wait_for, plain_pass_only

PATH = "/machine/v1/report"
TIMEOUT_S = 15  # the rack's agent_hold_timeout here (default 25 s)


def inventory(mac, purpose="enlist", token=None, **over):
    body = {"purpose": purpose, "boot_mac": mac, "arch": "amd64",
            "system": {"vendor": "QEMU", "product": "Standard PC", "serial": "", "uuid": ""},
            "cpu": {"count": 2, "model": "QEMU Virtual CPU"},
            "memory_mib": 512,
            "disks": [{"name": "vda", "size_bytes": 2 << 30, "model": "", "serial": "ir-disk-0",
                       "rotational": True}],
            "nics": [{"name": "eth0", "mac": mac, "driver": "e1000", "speed_mbps": 1000, "carrier": True}]}
    if token is not None:
        body["token"] = token
    body.update(over)
    return body


def hostname_of(mac):
    return "node-" + mac.replace(":", "")


class Lab:
    def __init__(self, workdir):
        self.workdir = workdir
        self.region = Region(os.path.join(workdir, "region"))
        os.makedirs(self.region.state_dir, mode=0o700)
        self.region.start()
        self.region_pid = self.region.daemon.proc.pid
        root = os.path.join(workdir, "boot")
        os.makedirs(root)
        self.rack = Rack(self.region, os.path.join(workdir, "rack"), "agent-rack")
        self.rack.start(secret=self.region.secret, fingerprint=self.region.fingerprint,
                        extra=["--http-boot-listen", "127.0.0.1:0", "--boot-root", root,
                               "--agent-hold-timeout", f"{TIMEOUT_S}s",
                               # the 256 held reports come from one address here
                               "--http-boot-max-connections-per-client", "300"])
        self.port = port_file(self.rack.state_dir, "http-boot", self.rack.daemon.proc)[1]

    def request(self, method, body=None, path=PATH, headers=None, timeout=60):
        """(status, headers, parsed JSON or raw bytes, seconds)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        t0 = time.monotonic()
        c.request(method, path, body=data, headers=dict({"Content-Type": "application/json"}, **(headers or {})))
        r = c.getresponse()
        raw = r.read()
        took = time.monotonic() - t0
        c.close()
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw
        return r.status, {k.lower(): v for k, v in r.getheaders()}, parsed, took

    def post(self, body, **kw):
        return self.request("POST", body, **kw)

    def machines(self, mac):
        st, body = self.region.api("GET", f"/api/v1/machines?hostname={hostname_of(mac)}")
        assert st == 200, body
        return body["machines"]

    def rack_log(self):
        return self.rack.daemon.text()

    def region_logs(self):
        text = ""
        for i in range(1, self.region.starts + 1):
            path = os.path.join(self.workdir, f"region-regiond-{i}.log")
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    text += f.read()
        return text

    def stop_region(self):
        lost = self.rack_log().count("lost region")
        assert self.region.stop() == 0
        self.rack.daemon.wait_log("lost region", count=lost + 1, timeout=30)

    def start_region(self):
        connected = self.rack_log().count("connected to region")
        self.region.start()
        self.region_pid = self.region.daemon.proc.pid
        self.rack.daemon.wait_log("connected to region", count=connected + 1, timeout=60)


class Later:
    """A request on a thread: its result once it is answered."""

    def __init__(self, fn, *args, **kw):
        self.result = None
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(fn, args, kw), daemon=True)
        self.thread.start()

    def _run(self, fn, args, kw):
        try:
            self.result = fn(*args, **kw)
        except Exception as e:  # noqa: BLE001 - reported by get()
            self.error = e

    def done(self):
        return not self.thread.is_alive()

    def get(self, timeout=60):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "no answer"
        if self.error:
            raise self.error
        return self.result


@pytest.fixture(scope="module")
def lab():
    workdir = make_dir("iragent-")
    lab = Lab(workdir)
    try:
        yield lab
    finally:
        try:
            lab.rack.stop()
        finally:
            if lab.region.daemon and lab.region.daemon.proc.poll() is None:
                os.kill(lab.region.daemon.proc.pid, signal.SIGCONT)
            lab.region.stop()


def test_bad_posts_answered_by_the_rack(lab):
    before = lab.region_logs().count("machines: ")
    # A malformed body: 400 naming the field, without the region.
    st, _, body, _ = lab.post(b'{"purpose": "enlist", "arch": ')
    assert st == 400 and body["error"] == "invalid" and body["message"].startswith("body:"), body
    bad = inventory("52:54:00:aa:00:01")
    del bad["cpu"]
    st, _, body, _ = lab.post(bad)
    assert st == 400 and body == {"error": "invalid", "message": body["message"]}, body
    assert "cpu" in body["message"], body
    bad = inventory("52:54:00:aa:00:01")
    bad["disks"][0]["size_bytes"] = "big"
    st, _, body, _ = lab.post(bad)
    assert st == 400 and "disks[0].size_bytes" in body["message"], body
    bad = inventory("52:54:00:aa:00:01", purpose="commission")  # no token
    st, _, body, _ = lab.post(bad)
    assert st == 400 and "token" in body["message"], body
    # Over 256 KiB: 413, whatever the body.
    big = json.dumps(inventory("52:54:00:aa:00:01", padding="x" * (256 * 1024))).encode()
    st, _, _, _ = lab.post(big)
    assert st == 413
    # Exactly the limit is read (and refused as JSON, not as too large).
    st, _, body, _ = lab.post(b" " * (256 * 1024))
    assert st == 400 and body["error"] == "invalid", body
    # Other methods on the path, other paths.
    st, headers, _, _ = lab.request("GET")
    assert st == 405 and headers.get("allow") == "POST"
    st, headers, _, _ = lab.request("PUT", inventory("52:54:00:aa:00:01"))
    assert st == 405 and headers.get("allow") == "POST"
    st, _, _, _ = lab.post(inventory("52:54:00:aa:00:01"), path="/machine/v1/other")
    assert st == 404
    st, _, _, _ = lab.post(inventory("52:54:00:aa:00:01"), path="/machine/v1/reports")
    assert st == 404
    # A POST elsewhere is a boot file's 405, as before.
    st, headers, _, _ = lab.post(inventory("52:54:00:aa:00:01"), path="/pxelinux.cfg/default")
    assert st == 405 and headers.get("allow") == "GET, HEAD"
    # The rack still serves files (GET is untouched).
    st, _, _, _ = lab.request("GET", path="/nothing-here")
    assert st == 404
    assert lab.region_logs().count("machines: ") == before, "a bad post reached the region"
    log = lab.rack_log()
    assert f"POST '{PATH}' 400," in log and "cpu" in log


def test_enlist_forwarded_to_the_region(lab):
    mac = "52:54:00:aa:01:01"
    st, headers, body, _ = lab.post(inventory(mac))
    assert st == 200, body
    assert headers["content-type"] == "application/json"
    assert body["result"] == "ok", body
    assert f"enlisted as {hostname_of(mac)}" in body["message"], body
    ms = lab.machines(mac)
    assert len(ms) == 1 and ms[0]["status"] == "NEW", ms
    log = lab.rack_log()
    assert f"POST '{PATH}' 200," in log and f"enlist report, mac {mac}" in log
    # The same machine again: known, hardware refreshed, still one.
    st, _, body, _ = lab.post(inventory(mac))
    assert st == 200 and "already enlisted" in body["message"], body
    assert len(lab.machines(mac)) == 1


def test_bad_token_refused_and_never_logged(lab):
    mac = "52:54:00:aa:02:01"
    token = "ab" * 32
    st, headers, body, _ = lab.post(inventory(mac, purpose="commission", token=token))
    assert st == 403, body
    assert body["error"] == "token" and body["message"], body
    assert "retry-after" not in headers
    assert lab.machines(mac) == []
    assert token not in lab.rack_log()
    assert token not in lab.region_logs()


def test_kernel_command_line_names_the_rack_and_the_mac(lab):
    mac = "52:54:00:aa:03:01"
    st, _, text, _ = lab.request("GET", path=f"/ipxe/{mac}.ipxe")
    assert st == 200
    text = text.decode()
    assert "ironrack.purpose=enlist" in text, text
    kernel = next(line for line in text.splitlines() if line.startswith("kernel "))
    assert f" ironrack.url=http://127.0.0.1:{lab.port} " in kernel, kernel
    assert f" ironrack.mac={mac} " in kernel, kernel
    assert kernel.count("ironrack.url=") == 1 and kernel.count("ironrack.mac=") == 1
    st, _, text, _ = lab.request("GET", path="/pxelinux.cfg/01-" + mac.replace(":", "-"))
    assert st == 200
    append = next(line for line in text.decode().splitlines() if line.strip().startswith("APPEND "))
    assert append.endswith(f" ironrack.url=http://127.0.0.1:{lab.port} ironrack.mac={mac}"), append


def test_region_paused_the_post_waits_for_it(lab):
    mac = "52:54:00:aa:04:01"
    os.kill(lab.region_pid, signal.SIGSTOP)
    try:
        later = Later(lab.post, inventory(mac))
        time.sleep(3)
        assert not later.done(), "answered while the region was stopped"
    finally:
        os.kill(lab.region_pid, signal.SIGCONT)
    st, _, body, took = later.get()
    assert st == 200 and body["result"] == "ok", body
    assert 3 <= took < TIMEOUT_S, took
    assert len(lab.machines(mac)) == 1


def test_region_restarted_the_held_post_is_sent(lab):
    mac = "52:54:00:aa:05:01"
    lab.stop_region()
    later = Later(lab.post, inventory(mac))
    time.sleep(1)
    assert not later.done(), "answered without a region"
    t0 = time.monotonic()
    lab.start_region()
    st, _, body, took = later.get()
    print(f"region restarted in {time.monotonic() - t0:.1f} s; the held report answered after {took:.1f} s")
    assert st == 200 and f"enlisted as {hostname_of(mac)}" in body["message"], body
    assert len(lab.machines(mac)) == 1
    assert "sending 1 held reports" in lab.rack_log()


@plain_pass_only
def test_region_away_too_long(lab):
    """Held reports get 503 with Retry-After after TIMEOUT_S and are dropped (the
    region never sees them); a client that hangs up drops its report; past
    256 held reports, 503 at once."""
    lab.stop_region()
    try:
        gone_mac = "52:54:00:aa:06:01"
        s = socket.create_connection(("127.0.0.1", lab.port))
        body = json.dumps(inventory(gone_mac)).encode()
        s.sendall(b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: rack\r\nContent-Type: application/json\r\n"
                  b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        time.sleep(0.5)
        s.close()
        lab.rack.daemon.wait_log("the client went away before the verdict: dropped", timeout=10)

        late_mac = "52:54:00:aa:06:02"
        late = Later(lab.post, inventory(late_mac))
        # Fill the rest of the 256 places with raw posts nobody reads yet.
        time.sleep(0.5)
        socks = []
        for i in range(255):
            m = f"52:54:00:aa:07:{i:02x}"
            b = json.dumps(inventory(m)).encode()
            c = socket.create_connection(("127.0.0.1", lab.port))
            c.sendall(b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: rack\r\nContent-Type: application/json\r\n"
                      b"Content-Length: " + str(len(b)).encode() + b"\r\n\r\n" + b)
            socks.append(c)
        time.sleep(1)
        st, headers, body, took = lab.post(inventory("52:54:00:aa:08:01"))
        assert st == 503 and took < 2, (st, took)
        assert body["error"] == "unavailable" and "too many" in body["message"], body
        assert headers.get("retry-after") == "5"

        st, headers, body, took = late.get(timeout=40)
        assert st == 503, body
        assert TIMEOUT_S - 1 <= took < TIMEOUT_S + 5, took
        assert headers.get("retry-after") == "5"
        assert body["error"] == "unavailable" and "region" in body["message"], body
        for c in socks:
            c.settimeout(10)
            head = c.recv(4096)
            assert head.startswith(b"HTTP/1.1 503 "), head[:100]
            c.close()
    finally:
        lab.start_region()
    # What was dropped or timed out never reaches the region.
    time.sleep(2)
    assert lab.machines(gone_mac) == []
    assert lab.machines(late_mac) == []
    assert lab.machines("52:54:00:aa:07:00") == []
    # And the rack takes reports again.
    st, _, body, _ = lab.post(inventory("52:54:00:aa:09:01"))
    assert st == 200, body
