"""The REST API over HTTPS (issue 15, region/api/https.c) and the CLI's
pinning of the region CA at login (region/cli/pin.c). One region for the
module with http_tls = on on loopback (auto would serve plain HTTP there)
and a short header deadline. The http_tls rule itself (auto, on, off
against the address, the warning for off) is tests/unit/test_api_https.c."""

import http.client
import json
import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
import tempfile

import pytest

from conftest import CLI, REGIOND, Region, make_dir, wait_for

FP = re.compile(r"SHA256:(?:[0-9A-F]{2}:){31}[0-9A-F]{2}")


class HttpsRegion(Region):
    def args(self):
        return super().args() + ["--http-tls", "on", "--http-header-timeout", "2s"]

    @property
    def url(self):
        return f"https://127.0.0.1:{self.http_port}"


@pytest.fixture(scope="module")
def region():
    d = make_dir("irhttps-")
    r = HttpsRegion(os.path.join(d, "region"))
    os.makedirs(r.state_dir, mode=0o700)
    r.start()
    try:
        yield r
    finally:
        r.stop()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def home():
    d = tempfile.mkdtemp(prefix="irhttps-cli-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def ironrack(home, *args, **env):
    """The CLI with only a login file of its own: no IRONRACK_URL/KEY."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("IRONRACK_")}
    e.update(IRONRACK_CONFIG=os.path.join(home, "cli.conf"), **env)
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=e, timeout=60)


def ca_path(region):
    return os.path.join(region.state_dir, "tls", "ca.crt")


def test_https_with_the_region_ca_chain(region):
    # Plain HTTP to the HTTPS port gets no answer.
    conn = http.client.HTTPConnection("127.0.0.1", region.http_port, timeout=10)
    with pytest.raises((OSError, http.client.HTTPException)):
        conn.request("GET", "/api/v1/version")
        conn.getresponse().read()
    conn.close()

    # The start-up line says where, and which CA to pin.
    assert re.search(r"region ready: API https://127\.0\.0\.1:\d+/api/v1 \(region CA " + region.fingerprint,
                     region.daemon.text())

    # The server sends its certificate and the region CA above it.
    out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{region.http_port}", "-showcerts"],
                         input="", capture_output=True, text=True, timeout=30).stdout
    certs = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S)
    assert len(certs) == 2, out
    assert re.search(r"i:\s*CN\s*=\s*ironrack region CA", out), out
    top = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256"], input=certs[1],
                         capture_output=True, text=True, check=True).stdout
    assert top.strip().split("=", 1)[1] == region.fingerprint.split(":", 1)[1]
    assert re.search(r"New, TLSv1\.[23]", out), out

    # A client that trusts the region CA (and nothing else) gets the API.
    ctx = ssl.create_default_context(cafile=ca_path(region))
    ctx.check_hostname = False
    conn = http.client.HTTPSConnection("127.0.0.1", region.http_port, timeout=10, context=ctx)
    conn.request("GET", "/api/v1/racks", headers={"Authorization": f"Bearer {region.admin_key}"})
    resp = conn.getresponse()
    assert resp.status == 200
    assert "racks" in json.loads(resp.read())
    conn.close()


def test_login_pins_the_ca_then_commands_verify_it(region, home):
    out = ironrack(home, "login", region.url, region.admin_key)
    assert out.returncode == 0, out.stderr
    # Trusted on first use, and said so with the fingerprint to compare.
    assert "on first use" in out.stderr
    assert FP.search(out.stderr)[0] == region.fingerprint
    saved = os.path.join(home, "cli-ca.pem")
    assert stat.S_IMODE(os.stat(saved).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.join(home, "cli.conf")).st_mode) == 0o600
    with open(saved) as f, open(ca_path(region)) as g:
        assert f.read().strip() == g.read().strip()
    with open(os.path.join(home, "cli.conf")) as f:
        assert region.fingerprint in f.read()

    out = ironrack(home, "racks", "list", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["racks"] == []

    # A CA the server's certificate does not chain to is refused.
    other = os.path.join(home, "other")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=other CA", "-days", "1", "-keyout", other + ".key", "-out", other + ".crt"],
                   capture_output=True, check=True, timeout=30)
    out = ironrack(home, "racks", "list", "--ca", other + ".crt")
    assert out.returncode == 1
    assert "certificate" in out.stderr.lower(), out.stderr

    # A saved CA that is not the one pinned (its fingerprint) is refused.
    shutil.copy(other + ".crt", saved)
    out = ironrack(home, "racks", "list")
    assert out.returncode == 1
    assert "not the region CA pinned at login" in out.stderr, out.stderr

    # Pinned by fingerprint this time: no "first use".
    out = ironrack(home, "login", region.url, region.admin_key, "--ca-fingerprint", region.fingerprint.lower())
    assert out.returncode == 0, out.stderr
    assert "first use" not in out.stderr
    assert ironrack(home, "racks", "list").returncode == 0

    # Logging out forgets the CA too.
    assert ironrack(home, "logout").returncode == 0
    assert not os.path.exists(saved)


def test_https_url_without_a_pinned_ca(region, home):
    env = {"IRONRACK_URL": region.url, "IRONRACK_KEY": region.admin_key}
    out = ironrack(home, "racks", "list", **env)
    assert out.returncode == 1
    assert "ironrack login" in out.stderr, out.stderr
    out = ironrack(home, "racks", "list", IRONRACK_CA=ca_path(region), **env)
    assert out.returncode == 0, out.stderr
    out = ironrack(home, "racks", "list", "--ca", ca_path(region), **env)
    assert out.returncode == 0, out.stderr


def test_login_with_a_wrong_fingerprint_saves_nothing(region, home):
    wrong = "SHA256:" + ":".join(["AB"] * 32)
    out = ironrack(home, "login", region.url, region.admin_key, "--ca-fingerprint", wrong)
    assert out.returncode == 1
    assert region.fingerprint in out.stderr and "nothing saved" in out.stderr, out.stderr
    assert os.listdir(home) == []
    # A wrong key after the CA checked out saves nothing either.
    out = ironrack(home, "login", region.url, "irk_" + "0" * 40, "--ca-fingerprint", region.fingerprint)
    assert out.returncode == 1
    assert "refused the key" in out.stderr, out.stderr
    assert os.listdir(home) == []


def test_half_open_tls_is_closed_by_the_header_deadline(region):
    # Connected, no ClientHello; and one that finished the handshake but
    # sends no request.
    silent = socket.create_connection(("127.0.0.1", region.http_port), timeout=30)
    ctx = ssl.create_default_context(cafile=ca_path(region))
    ctx.check_hostname = False
    quiet = ctx.wrap_socket(socket.create_connection(("127.0.0.1", region.http_port), timeout=30))
    try:
        # Meanwhile a normal request is answered.
        conn = http.client.HTTPSConnection("127.0.0.1", region.http_port, timeout=10, context=ctx)
        conn.request("GET", "/api/v1/version")
        assert conn.getresponse().status == 200
        conn.close()
        # The deadline (2 s here) closes both; a timeout would raise.
        assert silent.recv(1) == b""
        try:
            assert quiet.recv(1) == b""
        except (ssl.SSLEOFError, ConnectionResetError):
            pass
    finally:
        silent.close()
        quiet.close()
    wait_for(lambda: re.search(r"REST API: closed a connection from 127\.0\.0\.1.*not complete within",
                               region.daemon.text()), timeout=10, what="the deadline's log line")


def test_bad_http_tls_value_is_refused(region):
    out = subprocess.run([REGIOND, "--http-tls", "no", "--state-dir", region.state_dir, "ca-fingerprint"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "http_tls must be auto, on or off" in out.stderr, out.stderr
