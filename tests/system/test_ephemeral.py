"""The ephemeral environment (deploy/ephemeral, built by make ephemeral) booted
for real: QEMU TCG with -kernel/-initrd/-append (no PXE), a 3 GiB disk, 512 MiB,
2 CPUs and a NIC on a bridge in a network namespace this module creates and
deletes:

    ireph-XXXXXX  bridge br0 192.0.2.1/24, the guest's tap, dnsmasq (DHCP on
                  br0 only) and a small HTTP server in place of the rack
                  (POST /machine/v1/report)

No rack or region: the agent's report, its retries and its poweroff are
checked against the server here. Also: two builds give the same bytes.

The images are not built here (make check builds them first): the test uses
$IRONRACK_BUILD/ephemeral/amd64, else build/ephemeral/amd64. Nothing runs in
the sanitizer pass (build-san): the images are not ours to sanitize, and the
VM boots must not run twice.

The guest's NIC is virtio-net: Debian's cloud kernel (the default) has no
e1000 driver (deploy/ephemeral/build says which of its modules it has).

Run with -s to see the timings (QEMU start to the POST, each step the init
and the agent print) and the image sizes."""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

from conftest import BUILD, ROOT, SANITIZED, needs_root, needs_tools

pytestmark = pytest.mark.skipif(SANITIZED, reason="the ephemeral images are checked in the first pass only")

QEMU = shutil.which("qemu-system-x86_64")
DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
SERVER = "192.0.2.1"
PORT = 5248
GUEST_MAC = "52:54:00:e9:00:01"
DISK_SERIAL = "ir-test-0"
DISK_BYTES = 3 * 1024 ** 3
TOKEN = "0123456789abcdef" * 4
BUILD_SCRIPT = os.path.join(ROOT, "deploy", "ephemeral", "build")
STEPS = ("init", "modules", "dhcp", "inventory", "posted", "poweroff")
BOOT_TIMEOUT = 240  # a loaded 2-CPU machine: TCG boots take 10-30 s


def image_dir():
    for base in (BUILD, os.path.join(ROOT, "build")):
        d = os.path.join(base, "ephemeral", "amd64")
        if os.path.exists(os.path.join(d, "vmlinuz")) and os.path.exists(os.path.join(d, "initrd.img")):
            return d
    pytest.fail(f"no ephemeral images in {BUILD}/ephemeral/amd64 or build/ephemeral/amd64: run `make ephemeral` "
                f"(make check builds them before the system tests)")


def sh(*argv, check=True, timeout=60):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {out.returncode}: {out.stdout} {out.stderr}")
    return out


# The rack's stand-in: answers POST /machine/v1/report as told by its
# script (one answer per post, the last one repeated), writes every post to
# DIR/post-N.json with the time it arrived.
HTTP_SERVER = r'''
import http.server, json, os, sys, time
host, port, outdir, script = sys.argv[1], int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
count = [0]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        t = time.time()
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        n = count[0]
        count[0] += 1
        status, answer = script[min(n, len(script) - 1)]
        with open(os.path.join(outdir, f"post-{n}.json.tmp"), "w") as f:
            json.dump({"time": t, "path": self.path, "content_type": self.headers.get("Content-Type"),
                       "body": body.decode("latin-1"), "status": status}, f)
        os.rename(os.path.join(outdir, f"post-{n}.json.tmp"), os.path.join(outdir, f"post-{n}.json"))
        if status == 0:  # the answer is lost: close without one
            self.close_connection = True
            return
        data = answer.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass
http.server.HTTPServer((host, port), H).serve_forever()
'''


class Lab:
    def __init__(self, tmp):
        self.ns = "ireph-" + uuid.uuid4().hex[:6]
        self.tmp = tmp
        self.tap = "irephtap0"
        self.procs = []
        self.made = False

    def up(self):
        sh("ip", "netns", "add", self.ns)
        self.made = True
        ip = ("ip", "-n", self.ns)
        sh(*ip, "link", "set", "lo", "up")
        sh(*ip, "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0")
        sh(*ip, "addr", "add", f"{SERVER}/24", "dev", "br0")
        sh(*ip, "link", "set", "br0", "up")
        sh(*ip, "tuntap", "add", self.tap, "mode", "tap")
        sh(*ip, "link", "set", self.tap, "master", "br0")
        sh(*ip, "link", "set", self.tap, "up")
        leases = os.path.join(self.tmp, "dnsmasq.leases")
        self.spawn([DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--port=0", "--interface=br0",
                    "--bind-interfaces", "--except-interface=lo", "--user=root", "--group=root", "--no-ping",
                    f"--dhcp-range=192.0.2.100,192.0.2.150,255.255.255.0,1h", f"--dhcp-leasefile={leases}",
                    f"--pid-file={os.path.join(self.tmp, 'dnsmasq.pid')}", "--log-dhcp",
                    f"--log-facility={os.path.join(self.tmp, 'dnsmasq.log')}"])

    def spawn(self, argv, **kw):
        p = subprocess.Popen(["ip", "netns", "exec", self.ns] + argv, stdin=subprocess.DEVNULL,
                             stdout=kw.pop("stdout", subprocess.DEVNULL), stderr=kw.pop("stderr", subprocess.STDOUT),
                             start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def http_server(self, script):
        """script: [(status, body)] per post, the last repeated; status 0 closes without answering."""
        outdir = os.path.join(self.tmp, "posts")
        os.makedirs(outdir)
        path = os.path.join(self.tmp, "server.py")
        with open(path, "w") as f:
            f.write(HTTP_SERVER)
        log = open(os.path.join(self.tmp, "server.log"), "w")
        self.spawn(["/usr/bin/python3", path, SERVER, str(PORT), outdir, json.dumps(script)], stdout=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if sh("ip", "netns", "exec", self.ns, "ss", "-Htln", f"sport = :{PORT}", check=False).stdout.strip():
                return outdir
            time.sleep(0.05)
        raise AssertionError("the test HTTP server never listened")

    def down(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
        if self.made:
            sh("ip", "netns", "del", self.ns, check=False)


@pytest.fixture
def lab():
    needs_root()
    needs_tools("ip", "ss")
    if not QEMU:
        pytest.fail("qemu-system-x86_64 is missing (deploy/install-deps installs qemu-system-x86)")
    images = image_dir()
    tmp = tempfile.mkdtemp(prefix="ireph-")
    lab = Lab(tmp)
    lab.images = images
    try:
        lab.up()
        yield lab
    finally:
        lab.down()
        shutil.rmtree(tmp, ignore_errors=True)


def boot(lab, append, timeout=BOOT_TIMEOUT):
    """Boots the guest; returns (QEMU start time, its serial console) once it
    powered itself off. Fails when QEMU is still running after timeout."""
    disk = os.path.join(lab.tmp, "disk.raw")
    with open(disk, "wb") as f:
        f.truncate(DISK_BYTES)  # sparse
    serial = os.path.join(lab.tmp, "serial.log")
    argv = [QEMU, "-accel", "tcg", "-machine", "pc", "-m", "512", "-smp", "2", "-display", "none",
            "-monitor", "none", "-serial", f"file:{serial}", "-no-reboot",
            "-kernel", os.path.join(lab.images, "vmlinuz"), "-initrd", os.path.join(lab.images, "initrd.img"),
            "-append", "console=ttyS0 quiet panic=-1 " + append,
            "-drive", f"file={disk},format=raw,if=none,id=d0",
            "-device", f"virtio-blk-pci,drive=d0,serial={DISK_SERIAL}",
            "-netdev", f"tap,id=n0,ifname={lab.tap},script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev=n0,mac={GUEST_MAC}"]
    qlog = open(os.path.join(lab.tmp, "qemu.log"), "w")
    t0 = time.time()
    q = lab.spawn(argv, stdout=qlog)
    try:
        rc = q.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        rc = None
    console = open(serial, errors="replace").read() if os.path.exists(serial) else ""
    assert rc is not None, f"the guest did not power itself off within {timeout} s:\n{console[-4000:]}"
    assert rc == 0, f"QEMU exited {rc}: {open(os.path.join(lab.tmp, 'qemu.log')).read()}\n{console[-4000:]}"
    return t0, console


def posts(outdir):
    out = []
    n = 0
    while os.path.exists(os.path.join(outdir, f"post-{n}.json")):
        with open(os.path.join(outdir, f"post-{n}.json")) as f:
            out.append(json.load(f))
        n += 1
    return out


def steps(console):
    """{step: uptime} from the "ironrack-agent: t=SECONDS step=NAME" lines."""
    return {m.group(2): float(m.group(1))
            for m in re.finditer(r"^ironrack-agent: t=([0-9.]+) step=([a-z]+)\r?$", console, re.M)}


def report_timings(label, t0, console, post_times):
    st = steps(console)
    sizes = {f: os.path.getsize(os.path.join(image_dir(), f)) for f in ("vmlinuz", "initrd.img")}
    print(f"\n[{label}] QEMU start -> POST: " + ", ".join(f"{t - t0:.2f} s" for t in post_times))
    print(f"[{label}] guest uptime at each step: " + ", ".join(f"{s} {st[s]:.2f}" for s in STEPS if s in st))
    print(f"[{label}] vmlinuz {sizes['vmlinuz']} bytes, initrd.img {sizes['initrd.img']} bytes")


def test_commission_report(lab):
    outdir = lab.http_server([(200, '{"result":"ok","message":"test"}')])
    url = f"http://{SERVER}:{PORT}"
    t0, console = boot(lab, f"ironrack.purpose=commission ironrack.token={TOKEN} ironrack.url={url} "
                            f"ironrack.mac={GUEST_MAC}")
    got = posts(outdir)
    assert len(got) == 1, f"{len(got)} posts:\n{console}"
    post = got[0]
    assert post["path"] == "/machine/v1/report"
    assert post["content_type"] == "application/json"
    inv = json.loads(post["body"])
    assert inv["purpose"] == "commission"
    assert inv["token"] == TOKEN
    assert inv["boot_mac"] == GUEST_MAC
    assert inv["arch"] == "amd64"
    assert inv["system"]["vendor"] == "QEMU"
    assert inv["system"]["product"].startswith("Standard PC (i440FX")
    assert re.fullmatch(r"[0-9a-f-]{36}", inv["system"]["uuid"]) or inv["system"]["uuid"] == "", inv["system"]
    assert inv["cpu"]["count"] == 2
    assert inv["cpu"]["model"]
    assert inv["memory_mib"] == 512
    disks = {d["name"]: d for d in inv["disks"]}
    assert list(disks) == ["vda"], inv["disks"]
    assert disks["vda"]["size_bytes"] == DISK_BYTES
    assert disks["vda"]["serial"] == DISK_SERIAL
    assert isinstance(disks["vda"]["rotational"], bool)
    assert len(inv["nics"]) == 1, inv["nics"]
    nic = inv["nics"][0]
    assert nic["mac"] == GUEST_MAC
    assert nic["driver"] == "virtio_net"
    assert nic["carrier"] is True
    assert isinstance(nic["speed_mbps"], int) and nic["speed_mbps"] >= 0
    # Every string printable ASCII (inventory.h).
    assert all(0x20 <= ord(c) < 0x7f for c in post["body"].strip())
    # The console: the answer, every step in order, then the poweroff.
    assert 'report taken: 200 {"result":"ok","message":"test"}' in console
    st = steps(console)
    assert list(st) == list(STEPS), console
    assert sorted(st.values()) == [st[s] for s in STEPS]
    assert TOKEN not in console, "the token is a secret: never on the console"
    report_timings("commission", t0, console, [post["time"]])


def test_retries_until_answered(lab):
    """503 (the region away), then 200: the agent posts again after 2 s.
    BOOTIF (pxelinux's form) names the boot interface."""
    outdir = lab.http_server([(503, '{"error":"unavailable","message":"region away"}'),
                              (200, '{"result":"ok","message":"second"}')])
    bootif = "01-" + GUEST_MAC.replace(":", "-").upper()
    t0, console = boot(lab, f"ironrack.purpose=enlist ironrack.url=http://{SERVER}:{PORT} BOOTIF={bootif}")
    got = posts(outdir)
    assert [p["status"] for p in got] == [503, 200], console
    assert got[0]["body"] == got[1]["body"], "the same report is posted again"
    inv = json.loads(got[0]["body"])
    assert inv["purpose"] == "enlist" and "token" not in inv
    assert inv["boot_mac"] == GUEST_MAC
    gap = got[1]["time"] - got[0]["time"]
    assert 2.0 <= gap < 15, f"second post {gap:.2f} s after the first"
    assert "retrying in 2 s" in console
    assert 'report taken: 200 {"result":"ok","message":"second"}' in console
    report_timings("503 then 200", t0, console, [p["time"] for p in got])


def test_lost_answer_then_token_used(lab):
    """The first post's answer is lost (the connection closes without one);
    the second is refused 403 "token already used": the first was stored,
    so the agent takes it as done."""
    outdir = lab.http_server([(0, ""), (403, '{"error":"token","message":"token already used"}')])
    _, console = boot(lab, f"ironrack.purpose=commission ironrack.token={TOKEN} "
                           f"ironrack.url=http://{SERVER}:{PORT} ironrack.mac={GUEST_MAC}")
    assert [p["status"] for p in posts(outdir)] == [0, 403], console
    assert "no answer from" in console
    assert "report taken earlier (its answer was lost): 403" in console
    assert "done: the report was taken" in console


def test_refusal_is_shown_and_final(lab):
    """A 400 is a verdict: printed with its body, not retried, then poweroff."""
    outdir = lab.http_server([(400, '{"error":"invalid","message":"disks[0].size_bytes: test refusal"}')])
    _, console = boot(lab, f"ironrack.purpose=enlist ironrack.url=http://{SERVER}:{PORT}")
    assert [p["status"] for p in posts(outdir)] == [400], console
    assert 'report refused: 400 {"error":"invalid","message":"disks[0].size_bytes: test refusal"}' in console
    assert "done: the report was refused" in console
    assert "step=poweroff" in console


def test_build_is_reproducible():
    """A second build into another directory gives the bytes of the one make
    made (the .debs come from the cache make ephemeral filled, so this needs
    no network; make rebuilds its images whenever an input changes)."""
    made = image_dir()
    cache = os.environ.get("IRONRACK_DEB_CACHE") or os.path.join(os.path.dirname(made), "debs")
    with open(os.path.join(made, "SHA256SUMS")) as f:
        want = f.read()
    for line in want.splitlines():  # the sums describe the files beside them
        digest, name = line.split()
        with open(os.path.join(made, name), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest, name
    with tempfile.TemporaryDirectory(prefix="ireph-build-") as tmp:
        out = os.path.join(tmp, "out")
        env = dict(os.environ, IRONRACK_DEB_CACHE=cache, TMPDIR=tmp)
        t = time.monotonic()
        r = subprocess.run([BUILD_SCRIPT, "--out", out], capture_output=True, text=True, env=env, timeout=600,
                           stdin=subprocess.DEVNULL)
        assert r.returncode == 0, f"build exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
        print(f"\n[reproducible] build: {time.monotonic() - t:.1f} s")
        with open(os.path.join(out, "amd64", "SHA256SUMS")) as f:
            got = f.read()
        assert sorted(os.listdir(os.path.join(out, "amd64"))) == ["SHA256SUMS", "initrd.img", "vmlinuz"]
    assert got == want, f"two builds differ:\n{want}\n{got}"
    names = [line.split()[1] for line in got.splitlines()]
    assert names == ["vmlinuz", "initrd.img"]


def test_build_explains_a_missing_package():
    """Offline with an empty cache: a clear message naming the package and
    where to put it, and a non-zero exit."""
    with tempfile.TemporaryDirectory(prefix="ireph-build-") as tmp:
        env = dict(os.environ, IRONRACK_DEB_CACHE=os.path.join(tmp, "debs"), TMPDIR=tmp)
        r = subprocess.run([BUILD_SCRIPT, "--kernel-package", "linux-image-6.1.0-0-nosuch-amd64",
                            "--out", os.path.join(tmp, "out")], capture_output=True, text=True, env=env, timeout=120,
                           stdin=subprocess.DEVNULL)
        assert r.returncode != 0
        assert "linux-image-6.1.0-0-nosuch-amd64 is missing" in r.stderr, r.stderr
        assert os.path.join(tmp, "debs") in r.stderr, r.stderr
        assert not os.path.exists(os.path.join(tmp, "out", "amd64-nosuch", "vmlinuz"))
