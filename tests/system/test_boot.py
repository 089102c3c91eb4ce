"""Boot configs rendered on the rack, GetBootConfig for unknown machines, and
HTTP boot, against real clients (tftp-hpa, curl; iPXE in QEMU when it is
installed) in network namespaces this module creates and deletes:

    <prefix>-sw   bridge br0 (and the QEMU guest's tap)
    <prefix>-srv  eth0 198.51.100.1/24 -- the rack's TFTP and HTTP sockets (netns key), dnsmasq
    <prefix>-cli  eth0 198.51.100.2/24 -- the clients

The rack process stays in the host namespace and talks to a real region on
loopback. No host interface is touched."""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

from conftest import ROOT, Rack, Region, make_dir, needs_root, needs_tools, qemu_once, wait_for
from nethelp import psql

SERVER = "198.51.100.1"
CLIENT = "198.51.100.2"
HTTP = f"http://{SERVER}:5248"
KNOWN = "02:00:00:00:00:10"
GUEST = "52:54:00:12:34:56"
DEFAULT_KERNEL = "default/vmlinuz"

QEMU = shutil.which("qemu-system-x86_64")
IPXE_ROM = "/usr/lib/ipxe/qemu/pxe-e1000.rom"
DNSMASQ = shutil.which("dnsmasq")
RADVD = shutil.which("radvd")



@pytest.fixture(autouse=True, scope="module")
def lab_needs():
    needs_root()
    needs_tools("ip", "tftp", "curl")


BOOT_CONFIGS = [
    {"mac": KNOWN, "purpose": "deploy", "kernel": "ephemeral/amd64/vmlinuz",
     "initrd": "ephemeral/amd64/initrd.img", "cmdline": "console=ttyS0 ro known-machine"},
    {"mac": "", "purpose": "enlist", "kernel": DEFAULT_KERNEL, "initrd": "", "cmdline": "default-config"},
    {"mac": GUEST, "purpose": "deploy", "kernel": "ephemeral/amd64/vmlinuz",
     "initrd": "ephemeral/amd64/initrd.img", "cmdline": "console=ttyS0 qemu-guest"},
]


def sh(*argv, check=True, timeout=60, **kw):
    out = subprocess.run(argv, capture_output=True, timeout=timeout, **kw)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {out.returncode}: {out.stdout!r} {out.stderr!r}")
    return out


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def pxe_name(mac):
    return "pxelinux.cfg/01-" + mac.replace(":", "-")


class Lab:
    def __init__(self):
        self.prefix = "irboot-" + uuid.uuid4().hex[:6]
        self.sw, self.srv, self.cli = (f"{self.prefix}-{n}" for n in ("sw", "srv", "cli"))
        self.made = []

    def up(self):
        for ns in (self.sw, self.srv, self.cli):
            sh("ip", "netns", "add", ns)
            self.made.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", self.sw, "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0",
           "mcast_snooping", "0")
        sh("ip", "-n", self.sw, "link", "set", "br0", "up")
        sh("ip", "netns", "exec", self.sw, "sh", "-c",
           "for f in /proc/sys/net/bridge/bridge-nf-call-*; do [ -e \"$f\" ] && echo 0 > \"$f\"; done; true")
        for ns, port, v4 in ((self.srv, "p-srv", SERVER), (self.cli, "p-cli", CLIENT)):
            sh("ip", "-n", self.sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh("ip", "-n", self.sw, "link", "set", port, "master", "br0")
            sh("ip", "-n", self.sw, "link", "set", port, "up")
            sh("ip", "-n", ns, "addr", "add", f"{v4}/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
        for ns in (self.srv, self.cli):
            wait_for(lambda: b"state UP" in sh("ip", "-n", ns, "-o", "link", "show", "eth0").stdout,
                     timeout=10, what=f"eth0 up in {ns}")

    def down(self):
        for ns in reversed(self.made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def run(self, argv, check=True, timeout=60, ns=None):
        return sh("ip", "netns", "exec", ns or self.cli, *argv, check=check, timeout=timeout)


class BootRack:
    """A region, and an enrolled rack serving TFTP and HTTP boot in the lab's server namespace."""

    def __init__(self, lab, workdir):
        self.lab = lab
        self.workdir = workdir
        self.root = os.path.join(workdir, "boot")
        self.out = os.path.join(workdir, "out")
        os.makedirs(os.path.join(self.root, "ephemeral", "amd64"))
        os.makedirs(self.out)
        os.makedirs(os.path.join(workdir, "outside"))
        self.files = {}
        for name, size in (("ephemeral/amd64/vmlinuz", 3 << 20), ("ephemeral/amd64/initrd.img", 16 << 20),
                           ("small.txt", 1000)):
            data = os.urandom(size) if size > 1000 else b"".join(b"line %03d\n" % i for i in range(125))
            with open(os.path.join(self.root, name), "wb") as f:
                f.write(data)
            self.files[name] = data
        with open(os.path.join(workdir, "outside", "secret"), "w") as f:
            f.write("outside the boot root\n")
        os.symlink("../outside/secret", os.path.join(self.root, "escape"))
        self.region = Region(os.path.join(workdir, "region"))
        os.makedirs(self.region.state_dir, mode=0o700)
        self.region.start()
        self.rack = Rack(self.region, os.path.join(workdir, "rack"), "boot-rack")

    def start_rack(self, first=False, wait=True):
        extra = ["--netns", self.lab.srv, "--tftp-listen", "0.0.0.0:69", "--http-boot-listen", "0.0.0.0:5248",
                 "--boot-root", self.root]
        if first:
            self.rack.start(secret=self.region.secret, fingerprint=self.region.fingerprint, extra=extra)
        else:
            self.rack.start(extra=extra, wait=wait)
        self.rack.daemon.wait_log("http: serving", count=1)
        self.rack.daemon.wait_log("tftp: serving", count=1)

    def log(self):
        return self.rack.daemon.text()

    def region_calls(self):
        """GetBootConfig lines in every log this region has written."""
        n = 0
        for i in range(1, self.region.starts + 1):
            path = os.path.join(os.path.dirname(self.region.state_dir), f"region-regiond-{i}.log")
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    n += sum(1 for line in f if "GetBootConfig" in line)
        return n

    def push(self, boot_configs, settings=None):
        body = {"settings": settings or {}}
        if boot_configs is not None:
            body["boot_configs"] = boot_configs
        return self.region.api("POST", f"/api/v1/racks/{self.rack.rack_id}/config", body)

    def tftp(self, name, octet=False):
        """Fetch with tftp-hpa (netascii unless octet); returns the bytes or None."""
        out = os.path.join(self.out, "tftp-" + uuid.uuid4().hex[:8])
        argv = ["tftp"] + (["-m", "binary"] if octet else []) + [SERVER, "-c", "get", name, out]
        r = self.lab.run(argv, check=False)
        if not os.path.exists(out) or os.path.getsize(out) == 0 or b"Error" in r.stdout + r.stderr:
            return None
        with open(out, "rb") as f:
            data = f.read()
        os.unlink(out)
        return data

    def curl(self, url, *args, check=True):
        """(status, headers text, body bytes) of one curl request from the client namespace."""
        hdr = os.path.join(self.out, "hdr-" + uuid.uuid4().hex[:8])
        body = os.path.join(self.out, "body-" + uuid.uuid4().hex[:8])
        r = self.lab.run(["curl", "-sS", "-D", hdr, "-o", body, "-w", "%{http_code}", *args, url], check=False)
        status = int(r.stdout.decode() or 0)
        if check:
            assert r.returncode == 0, r.stderr
        headers = open(hdr).read() if os.path.exists(hdr) else ""
        data = open(body, "rb").read() if os.path.exists(body) else b""
        for p in (hdr, body):
            if os.path.exists(p):
                os.unlink(p)
        return status, headers, data

    def stop(self):
        try:
            self.rack.stop()
        finally:
            self.region.stop()


@pytest.fixture(scope="module")
def lab():
    lab = Lab()
    try:
        lab.up()
        yield lab
    finally:
        lab.down()


@pytest.fixture(scope="module")
def boot(lab):
    workdir = make_dir("irboot-")
    b = None
    try:
        b = BootRack(lab, workdir)
        b.start_rack(first=True)
        st, out = b.push(BOOT_CONFIGS)
        assert st == 200 and out["acked"], out
        b.rack.daemon.wait_log("3 boot configs")
        yield b
    finally:
        if b:
            b.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def header(headers, name):
    for line in headers.splitlines():
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            return v.strip()
    return None


def test_known_mac_rendered_without_asking_the_region(boot, lab):
    before = boot.region_calls()
    text = boot.tftp(pxe_name(KNOWN))  # netascii, tftp-hpa's default
    assert text is not None, boot.log()[-3000:]
    text = text.decode()
    assert "KERNEL ephemeral/amd64/vmlinuz\n" in text
    assert "INITRD ephemeral/amd64/initrd.img\n" in text
    assert f"APPEND console=ttyS0 ro known-machine ironrack.url=http://{SERVER}:5248 ironrack.mac={KNOWN}\n" in text
    assert "SAY ironrack: deploy" in text
    # The same config over curl (octet) and every other format.
    st, _, data = boot.curl(f"tftp://{SERVER}/{pxe_name(KNOWN)}")
    assert data.decode() == text
    st, _, grub = boot.curl(f"tftp://{SERVER}/grub/grub.cfg-{KNOWN}")
    assert f"linux (http,{SERVER}:5248)/ephemeral/amd64/vmlinuz console=ttyS0 ro known-machine" in grub.decode()
    st, headers, ipxe = boot.curl(f"{HTTP}/ipxe/{KNOWN}.ipxe")
    assert st == 200, headers
    assert ipxe.startswith(b"#!ipxe\n")
    assert f"kernel {HTTP}/ephemeral/amd64/vmlinuz console=ttyS0 ro known-machine".encode() in ipxe
    st, _, data = boot.curl(f"{HTTP}/{pxe_name(KNOWN)}")
    assert data.decode() == text
    # Upper-case MACs are the same machine.
    st, _, data = boot.curl(f"{HTTP}/grub/grub.cfg-{KNOWN.upper()}")
    assert data == grub
    # The defaults.
    st, _, data = boot.curl(f"tftp://{SERVER}/pxelinux.cfg/default")
    assert f"KERNEL {DEFAULT_KERNEL}\n".encode() in data and b"APPEND default-config" in data
    st, _, data = boot.curl(f"{HTTP}/ipxe/default.ipxe")
    assert f"kernel {HTTP}/{DEFAULT_KERNEL} default-config".encode() in data
    assert boot.region_calls() == before, "a known MAC must not call GetBootConfig"
    log = boot.log()
    assert f"boot: tftp {CLIENT}:" in log and f"'{pxe_name(KNOWN)}': deploy config for {KNOWN} (pushed)" in log
    assert f"boot: http {CLIENT}:" in log


def test_unknown_mac_asks_the_region_once(boot, lab):
    mac = "02:00:00:00:00:99"
    before = boot.region_calls()
    first = boot.tftp(pxe_name(mac))
    assert first is not None, boot.log()[-3000:]
    text = first.decode()
    assert "SAY ironrack: enlist" in text
    # The region's enlist_* defaults.
    assert "KERNEL ephemeral/amd64/vmlinuz\n" in text and "INITRD ephemeral/amd64/initrd.img\n" in text
    assert (f"APPEND console=tty0 console=ttyS0,115200 ironrack.purpose=enlist ironrack.url=http://{SERVER}:5248 "
            f"ironrack.mac={mac}\n") in text
    assert boot.tftp(pxe_name(mac)).decode() == text
    st, _, data = boot.curl(f"{HTTP}/ipxe/{mac}.ipxe")
    assert b"ironrack.purpose=enlist" in data
    assert boot.region_calls() == before + 1
    assert (f"GetBootConfig from rack {boot.rack.rack_id}: MAC {mac} (arch 'bios', interface 'eth0')"
            in boot.region.daemon.text())
    log = boot.log()
    assert f"boot: GetBootConfig {mac}: enlist, kernel 'ephemeral/amd64/vmlinuz'" in log
    assert f"enlist config for {mac} (region, cached)" in log


def test_concurrent_requests_for_one_unknown_mac_coalesce(boot, lab):
    mac = "02:00:00:00:00:9a"
    before = boot.region_calls()
    procs = [subprocess.Popen(["ip", "netns", "exec", lab.cli, "curl", "-sS", "-o", "-",
                               f"tftp://{SERVER}/{pxe_name(mac)}" if i % 2 else f"{HTTP}/{pxe_name(mac)}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(8)]
    outs = [p.communicate(timeout=30) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert all(b"ironrack.purpose=enlist" in o for o, _ in outs), outs
    assert boot.region_calls() == before + 1


def test_region_validates_boot_configs(boot):
    rack = boot.region.racks()[boot.rack.rack_id]
    version = rack["config_version"]
    good = dict(BOOT_CONFIGS[0])
    cases = [
        ([good, {"mac": "02:00:00:00:00:11", "purpose": "deploy", "kernel": "../x"}], "boot_configs[1].kernel"),
        ([good, {"mac": "02:00:00:00:00:11", "purpose": "deploy", "kernel": "/abs"}], "boot_configs[1].kernel"),
        ([good, dict(good)], "boot_configs[1].mac"),
        ([{"mac": "", "purpose": "local"}, {"mac": "", "purpose": "local"}], "boot_configs[1].mac"),
        ([good, {"mac": "02:00:00:00:00:1", "purpose": "local"}], "boot_configs[1].mac"),
        ([{"mac": KNOWN, "purpose": "reboot"}], "boot_configs[0].purpose"),
        ([{"mac": KNOWN, "purpose": "deploy", "kernel": "k", "cmdline": "a\nLABEL x"}], "boot_configs[0].cmdline"),
        ([{"mac": KNOWN, "purpose": "local", "extra": "x"}], "boot_configs[0].extra"),
        ([{"mac": KNOWN, "purpose": "local", "kernel": 7}], "boot_configs[0].kernel"),
        ([{"purpose": "local"}], "boot_configs[0].mac"),
        (["x"], "boot_configs[0]"),
        ({"mac": KNOWN}, "boot_configs"),
    ]
    for configs, field in cases:
        st, out = boot.push(configs)
        assert st == 400, (configs, out)
        assert out["error"]["field"] == field, (configs, out)
        assert field in out["error"]["message"], out
    assert boot.region.racks()[boot.rack.rack_id]["config_version"] == version, "a refused push stored something"


def test_get_boot_config_over_grpc(boot):
    """The region's side of GetBootConfig, called with the rack's own
    certificate from python grpcio."""
    import grpc  # python3-grpcio, installed by deploy/install-deps
    out = tempfile.mkdtemp(prefix="irpb-")
    try:
        subprocess.run(["protoc", "-I", os.path.join(ROOT, "proto"), "--python_out", out, "ironrack/v1/region.proto"],
                       check=True)
        sys.path.insert(0, out)
        from ironrack.v1 import region_pb2 as pb  # noqa: E402
    finally:
        if out in sys.path:
            sys.path.remove(out)
    tls = os.path.join(boot.rack.state_dir, "tls")
    read = lambda p: open(p, "rb").read()  # noqa: E731
    creds = grpc.ssl_channel_credentials(root_certificates=read(os.path.join(boot.region.state_dir, "tls", "ca.crt")),
                                         private_key=read(os.path.join(tls, "rack.key")),
                                         certificate_chain=read(os.path.join(tls, "rack.crt")))
    with grpc.secure_channel(boot.region.grpc_target, creds,
                             options=[("grpc.ssl_target_name_override", "ironrack-region")]) as ch:
        call = ch.unary_unary("/ironrack.v1.Region/GetBootConfig",
                              request_serializer=pb.BootConfigRequest.SerializeToString,
                              response_deserializer=pb.BootConfigResponse.FromString)
        resp = call(pb.BootConfigRequest(mac="02:00:00:00:00:55", arch="bios", interface="eth0"), timeout=10)
        assert (resp.purpose, resp.kernel, resp.initrd) == ("enlist", "ephemeral/amd64/vmlinuz",
                                                            "ephemeral/amd64/initrd.img")
        assert resp.cmdline == "console=tty0 console=ttyS0,115200 ironrack.purpose=enlist"
        for bad in ("zz", "", "02:00:00:00:00:5", "02:00:00:00:00:55\n"):
            with pytest.raises(grpc.RpcError) as e:
                call(pb.BootConfigRequest(mac=bad), timeout=10)
            assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    text = boot.region.daemon.text()
    assert "MAC 02:00:00:00:00:55 (arch 'bios', interface 'eth0') is unknown: enlist" in text
    assert "refused MAC 'zz'" in text and "refused MAC '02:00:00:00:00:55?'" in text
    shutil.rmtree(out, ignore_errors=True)


def test_settings_only_push_keeps_boot_configs(boot):
    st, out = boot.push(None, settings={"note": "settings only"})
    assert st == 200 and out["acked"], out
    boot.rack.daemon.wait_log("(1 settings, 3 boot configs)")
    st, _, data = boot.curl(f"{HTTP}/{pxe_name(KNOWN)}")
    assert b"known-machine" in data


def test_rack_rejects_an_invalid_snapshot_and_keeps_the_old_one(boot):
    """The region never stores such a snapshot; one written behind its back
    (straight into the database) reaches the rack when it reconnects. The rack
    refuses it as a whole, says why, and keeps serving what it had."""
    rack_id = boot.rack.rack_id
    version = int(psql(boot.region, f"SELECT max(version) FROM rack_config WHERE rack_id = '{rack_id}'"))
    bad = ('[{"mac": "02:00:00:00:00:10", "purpose": "deploy", "kernel": "new/vmlinuz"}, '
           '{"mac": "02:00:00:00:00:12", "purpose": "deploy", "kernel": "../../etc/shadow"}]')
    psql(boot.region, f"INSERT INTO rack_config (rack_id, version, settings, boot_configs) "
                      f"VALUES ('{rack_id}', {version + 1}, '{{}}', '{bad}')")
    boot.rack.stop()
    boot.start_rack()
    boot.rack.daemon.wait_log("rejected config version")
    assert (f"rejected config version {version + 1}: boot_configs[1] (mac 02:00:00:00:00:12): "
            "kernel must be a relative path") in boot.log()
    st, _, data = boot.curl(f"{HTTP}/{pxe_name(KNOWN)}")
    assert b"KERNEL ephemeral/amd64/vmlinuz" in data and b"new/vmlinuz" not in data
    # A valid push supersedes it.
    st, out = boot.push(BOOT_CONFIGS)
    assert st == 200 and out["acked"] and out["version"] == version + 2, out


def test_http_serves_the_same_bytes_as_tftp(boot, lab):
    name = "ephemeral/amd64/initrd.img"
    data = boot.files[name]
    tftp_bytes = boot.tftp(name, octet=True)
    assert tftp_bytes is not None and sha256(tftp_bytes) == sha256(data)
    st, headers, body = boot.curl(f"{HTTP}/{name}")
    assert st == 200 and sha256(body) == sha256(data)
    assert header(headers, "Content-Length") == str(len(data))
    assert header(headers, "Accept-Ranges") == "bytes"
    assert header(headers, "Last-Modified")
    # Range: exactly the slice.
    st, headers, body = boot.curl(f"{HTTP}/{name}", "-r", "1000000-1999999")
    assert st == 206 and body == data[1000000:2000000]
    assert header(headers, "Content-Range") == f"bytes 1000000-1999999/{len(data)}"
    assert header(headers, "Content-Length") == "1000000"
    st, headers, body = boot.curl(f"{HTTP}/{name}", "-H", "Range: bytes=-100")
    assert st == 206 and body == data[-100:]
    st, headers, body = boot.curl(f"{HTTP}/{name}", "-r", f"{len(data) - 10}-")
    assert st == 206 and body == data[-10:]
    st, headers, body = boot.curl(f"{HTTP}/{name}", "-H", f"Range: bytes={len(data)}-")
    assert st == 416 and header(headers, "Content-Range") == f"bytes */{len(data)}"
    st, headers, body = boot.curl(f"{HTTP}/{name}", "-H", "Range: bytes=0-9,20-29")
    assert st == 200 and sha256(body) == sha256(data)  # several ranges: the whole file
    # HEAD: the length, no body.
    st, headers, body = boot.curl(f"{HTTP}/{name}", "-I")  # curl -I writes the headers as the body
    assert st == 200 and header(headers, "Content-Length") == str(len(data)) and len(body) < 1024
    st, headers, body = boot.curl(f"{HTTP}/small.txt", "-I", "-r", "0-9")
    assert st == 206 and header(headers, "Content-Length") == "10"
    # Keep-alive: several requests on one connection.
    r = lab.run(["curl", "-sS", "-v", "-o", "/dev/null", "-o", "/dev/null", f"{HTTP}/small.txt", f"{HTTP}/small.txt"])
    assert b"Re-using existing connection" in r.stderr or b"Reusing existing connection" in r.stderr, r.stderr
    log = boot.log()
    assert f"http: {CLIENT}:" in log and f"GET '/{name}' 206, 1000000 bytes" in log
    assert f"HEAD '/{name}' 200, 0 bytes" in log


def test_http_refuses_traversal_and_other_methods(boot, lab):
    cases = {
        "/../etc/passwd": 403,
        "/%2e%2e/etc/passwd": 403,
        "/ephemeral/%2E%2E/%2e%2e/outside/secret": 403,
        "/..%2fetc%2fpasswd": 403,
        "/escape": 403,             # symlink out of the root
        "/small.txt%00.jpg": 403,   # NUL
        "/etc/passwd": 404,         # relative to the root: not there
        "/ephemeral": 403,          # a directory
        "/nope": 404,
    }
    for path, want in cases.items():
        st, _, body = boot.curl(f"{HTTP}{path}", "--path-as-is", check=False)
        assert st == want, (path, st, body)
        assert b"outside the boot root" not in body and b"root:" not in body
    st, headers, _ = boot.curl(f"{HTTP}/small.txt", "-X", "POST", "-d", "x", check=False)
    assert st == 405 and header(headers, "Allow") == "GET, HEAD"
    log = boot.log()
    assert f"POST '/small.txt' 405" in log
    assert "'..' in file name" in log and "path leaves the boot root" in log


def run_guest(boot, lab, work, dnsmasq=False):
    """Boot a QEMU guest with the iPXE ROM on the lab's bridge (radvd answers
    its IPv6 router solicitation at once, sparing it ~13 s) until the rack
    served it the kernel its script names. dnsmasq: a DHCP-only dnsmasq in
    the rack's namespace hands out the address and the TFTP script name;
    else the rack's own DHCP server must. Returns the seconds it took."""
    os.makedirs(work)
    serial = os.path.join(work, "serial.log")
    procs = []
    try:
        if dnsmasq:
            procs.append(subprocess.Popen(
                ["ip", "netns", "exec", lab.srv, DNSMASQ, "--no-daemon", "--port=0", "--interface=eth0",
                 "--bind-interfaces", "--user=root", "--dhcp-range=198.51.100.100,198.51.100.150,255.255.255.0,10m",
                 f"--dhcp-boot=ipxe/{GUEST}.ipxe,,{SERVER}", f"--dhcp-leasefile={work}/leases",
                 f"--pid-file={work}/dnsmasq.pid", "--conf-file=/dev/null", "--log-dhcp"],
                stdout=open(os.path.join(work, "dnsmasq.log"), "wb"), stderr=subprocess.STDOUT))
        if RADVD:
            conf = os.path.join(work, "radvd.conf")
            with open(conf, "w") as f:
                f.write("interface eth0 {\n  AdvSendAdvert on;\n  AdvDefaultLifetime 0;\n"
                        "  MinRtrAdvInterval 3;\n  MaxRtrAdvInterval 10;\n};\n")
            procs.append(subprocess.Popen(
                ["ip", "netns", "exec", lab.srv, RADVD, "--nodaemon", "-C", conf, "-p", f"{work}/radvd.pid",
                 "-m", "stderr"], stdout=open(os.path.join(work, "radvd.log"), "wb"), stderr=subprocess.STDOUT))
        sh("ip", "-n", lab.sw, "tuntap", "add", "tap0", "mode", "tap")
        sh("ip", "-n", lab.sw, "link", "set", "tap0", "master", "br0")
        sh("ip", "-n", lab.sw, "link", "set", "tap0", "up")
        kernel_get = "GET '/ephemeral/amd64/vmlinuz' 200"
        seen = boot.log().count(kernel_get)
        t0 = time.monotonic()
        qemu = subprocess.Popen(
            ["ip", "netns", "exec", lab.sw, QEMU, "-accel", "tcg", "-machine", "pc", "-m", "256", "-nographic",
             "-monitor", "none", "-serial", f"file:{serial}", "-no-reboot",
             "-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no",
             "-device", f"e1000,netdev=n0,mac={GUEST},romfile={IPXE_ROM}", "-boot", "n"],
            stdin=subprocess.DEVNULL, stdout=open(os.path.join(work, "qemu.log"), "wb"), stderr=subprocess.STDOUT)
        procs.append(qemu)
        try:
            boot.rack.daemon.wait_log(kernel_get, timeout=60, count=seen + 1)
        except AssertionError:
            tail = {n: open(os.path.join(work, n), errors="replace").read()[-2000:]
                    for n in ("dnsmasq.log", "qemu.log", "serial.log") if os.path.exists(os.path.join(work, n))}
            raise AssertionError(f"the guest did not boot from the rack: {tail}\n{boot.log()[-3000:]}") from None
        secs = time.monotonic() - t0
        text = open(serial, errors="replace").read() if os.path.exists(serial) else ""
        # The script's "echo ironrack: deploy", on the guest's serial console.
        assert "ironrack: deploy" in text, text[-2000:]
        return secs
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        subprocess.run(["ip", "-n", lab.sw, "link", "del", "tap0"], capture_output=True)


@qemu_once
def test_ipxe_in_qemu_boots_from_the_rack(boot, lab):
    """iPXE in a QEMU guest gets an address from dnsmasq (DHCP only) in the
    rack's namespace, fetches its per-MAC iPXE script from the rack over TFTP
    and the kernel it names over HTTP boot."""
    if not QEMU or not os.path.exists(IPXE_ROM) or not DNSMASQ:
        pytest.fail("needs qemu-system-x86_64, ipxe-qemu and dnsmasq (deploy/install-deps)")
    secs = run_guest(boot, lab, os.path.join(boot.workdir, "qemu"), dnsmasq=True)
    print(f"iPXE guest fetched its script and kernel {secs:.1f} s after start")
    log = boot.log()
    assert f"boot: tftp 198.51.100." in log and f"'ipxe/{GUEST}.ipxe': deploy config for {GUEST} (pushed)" in log
    assert f"sent 'ipxe/{GUEST}.ipxe'" in log


@qemu_once
def test_ipxe_in_qemu_gets_dhcp_from_the_rack(boot, lab):
    """The whole path on the rack: DHCP turned on for the lab's subnet
    through the API, the rack's DHCP server answers the guest's iPXE (user
    class iPXE) with its script's HTTP URL — not a loader, so iPXE does not
    chain-load itself — and the script and kernel come over HTTP boot; the
    lease shows up in the region."""
    if not QEMU or not os.path.exists(IPXE_ROM):
        pytest.fail("needs qemu-system-x86_64 and ipxe-qemu (deploy/install-deps)")
    r = boot.region
    st, sub = r.api("POST", "/api/v1/subnets", {"cidr": "198.51.100.0/24", "gateway": SERVER})
    assert st == 201, sub
    st, out = r.api("POST", "/api/v1/ip-ranges", {"subnet": "198.51.100.0/24", "type": "dynamic",
                                                   "start_ip": "198.51.100.100", "end_ip": "198.51.100.150"})
    assert st == 201, out
    st, out = r.api("PATCH", f"/api/v1/vlans/{sub['vlan']}", {"dhcp_on": True, "primary_rack": boot.rack.rack_id})
    assert st == 200, out
    boot.rack.daemon.wait_log("dhcp: serving eth0")
    secs = run_guest(boot, lab, os.path.join(boot.workdir, "qemu-dhcp"))
    print(f"iPXE guest got DHCP, its script and kernel from the rack {secs:.1f} s after start")
    # iPXE asked for its script over HTTP (it escapes the colons), from an
    # address of the dynamic range.
    script = [ln for ln in boot.log().splitlines()
              if "boot: http 198.51.100.1" in ln and f"deploy config for {GUEST} (pushed)" in ln]
    assert script and "/ipxe/52%3A54%3A00%3A12%3A34%3A56.ipxe" in script[-1], script

    def leased():
        st, out = r.api("GET", "/api/v1/ip-addresses?owner_kind=dhcp_lease")
        return [a for a in out["ip_addresses"] if a["lease_mac"] == GUEST] if st == 200 else None
    [lease] = wait_for(leased, timeout=15, what="the guest's lease in the region")
    assert lease["ip"].startswith("198.51.100.1") and lease["lease_rack"] == boot.rack.rack_id, lease


def test_region_down_rack_restarted_still_serves(boot, lab):
    boot.region.stop()
    boot.rack.daemon.wait_log("lost region", timeout=20)
    boot.rack.stop()
    boot.start_rack(wait=False)
    boot.rack.daemon.wait_log("loaded config version")
    # Files, and the rendered configs of known machines.
    name = "ephemeral/amd64/vmlinuz"
    st, _, body = boot.curl(f"{HTTP}/{name}")
    assert st == 200 and body == boot.files[name]
    assert boot.tftp(name, octet=True) == boot.files[name]
    text = boot.tftp(pxe_name(KNOWN)).decode()
    assert "known-machine" in text
    st, _, data = boot.curl(f"{HTTP}/ipxe/{KNOWN}.ipxe")
    assert b"known-machine" in data
    # An unknown machine gets the default, quickly.
    t0 = time.monotonic()
    st, _, data = boot.curl(f"tftp://{SERVER}/{pxe_name('02:00:00:00:00:77')}")
    assert f"KERNEL {DEFAULT_KERNEL}".encode() in data and b"default-config" in data
    assert time.monotonic() - t0 < 6
    st, _, data = boot.curl(f"{HTTP}/grub/grub.cfg-02:00:00:00:00:78")
    assert f"/{DEFAULT_KERNEL} default-config".encode() in data
    assert "connected to region" not in boot.log()
    assert "boot: GetBootConfig 02:00:00:00:00:77" in boot.log()
