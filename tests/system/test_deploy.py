"""Deploying an image to a machine's disk (docs/deploy.md), for real, under
QEMU TCG. Two labs, each made once for the tests that use it:

The agent alone (deploy/ephemeral's agent, deploy/testimage): the
ephemeral kernel and initramfs of this build booted with -kernel/-initrd,
a virtio disk and NIC on a bridge in a namespace of this module
(irdep-XXXXXX: br0 192.0.2.1/24, dnsmasq for DHCP and a small HTTP server
in place of the rack: it answers the agent's start with the job the test
sets, takes done and failed, and serves the images). Checked: a gzip image
on the disk byte for byte and the NoCloud seed partition (read from the
disk file with mtools) holding the job's seed strings exactly, escapes and
all; a disk with no room for the seed; the test image booted from a disk
whose seed this module wrote by hand. And json.awk, the agent's JSON
reader, on its own.

End to end (tests/system/machines_lab.py's lab: a real region and rack,
ipmi_sim, a VM that PXE-boots from the rack): commissioned, allocated,
given a static address, deployed with the test image (zstd, uploaded with
`ironrack images add`), booted from its own disk printing its hostname and
address; the disk and the seed checked; released with a quick erase; a
deploy from a corrupted copy on the rack fails with the checksum. Then
three more VMs of that lab, READY by hand, each behind its own ipmi_sim:
an infrastructure's instance array of 2 on a WAN deploys two at once, each
booting with its WAN address from IPAM; growing it to 3 deploys the third.

Nothing runs in the sanitizer pass (QEMU boots are not our C code; they
must not run twice). The images come from make (ephemeral, testimage).
Run with -s to see the timings."""

import hashlib
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import uuid
import zlib

import pytest

import yaml

import ipmisim
import machines_lab
from conftest import BUILD, CLI, ROOT, SANITIZED, cli, make_dir, needs_root, needs_tools, wait_for
from machines_lab import BMC_PASS, BMC_USER, IPMI_IP, report_answers
from nethelp import ok
from readymachines import psql

pytestmark = pytest.mark.skipif(SANITIZED, reason="QEMU boots run in the plain pass only")

QEMU = shutil.which("qemu-system-x86_64") or "qemu-system-x86_64"
DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
SERVER = "192.0.2.1"
PORT = 5248
GUEST_MAC = "52:54:00:de:00:01"
TOKEN = "fedcba9876543210" * 4
MIB = 1 << 20
SEED_BYTES = 4 * MIB
BOOT_TIMEOUT = 240  # a loaded 2-CPU machine: TCG boots take 10-30 s
TIMINGS = []


def build_file(*parts):
    """A file make built (under $IRONRACK_BUILD, else build/)."""
    for base in (BUILD, os.path.join(ROOT, "build")):
        p = os.path.join(base, *parts)
        if os.path.exists(p):
            return p
    pytest.fail(f"{os.path.join(BUILD, *parts)} is missing: run `make` (make check builds it before the system "
                f"tests)")


def ephemeral(name):
    return build_file("ephemeral", "amd64", name)


def image_file():
    return build_file("testimage", "ironrack-test.img")


def sh(*argv, check=True, timeout=60, **kw):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, **kw)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {out.returncode}: {out.stdout} {out.stderr}")
    return out


def same_but_the_seed_entry(disk, img):
    """The disk file holds the image byte for byte up to its size, but for
    the 16 bytes of the MBR entry the seed took (slot: the first free one
    of the image's table). Returns that slot."""
    entries = mbr_entries(img)
    slot = next(i for i in range(4) if i not in [e[0] for e in entries])
    lo, hi = 446 + 16 * slot, 462 + 16 * slot
    size = os.path.getsize(img)
    with open(disk, "rb") as d, open(img, "rb") as i:
        head_d, head_i = d.read(512), i.read(512)
        assert head_d[:lo] == head_i[:lo] and head_d[hi:] == head_i[hi:], "the MBR changed beyond the seed's entry"
        assert head_i[lo:hi] == bytes(16)
        left = size - 512
        while left > 0:
            a, b = d.read(min(MIB, left)), i.read(min(MIB, left))
            assert a == b, f"the disk differs from the image near byte {size - left}"
            left -= len(b)
    return slot


def sha256(path, limit=None):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        left = limit
        while left is None or left > 0:
            chunk = f.read(MIB if left is None else min(MIB, left))
            if not chunk:
                break
            h.update(chunk)
            if left is not None:
                left -= len(chunk)
    return h.hexdigest()


# ---- the disk as a file: MBR, the seed partition ----


def mbr_entries(disk):
    """[(slot, boot flag, type, first LBA, sectors)] of the disk file's MBR
    entries in use; asserts the 0x55aa signature."""
    with open(disk, "rb") as f:
        sector = f.read(512)
    assert sector[510:512] == b"\x55\xaa", "no MBR signature"
    out = []
    for i in range(4):
        e = sector[446 + 16 * i:462 + 16 * i]
        if e[4]:
            out.append((i, e[0], e[4], *struct.unpack("<II", e[8:16])))
    return out


def mtools(args, disk, offset):
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    return subprocess.run(args[:1] + ["-i", f"{disk}@@{offset}"] + args[1:], capture_output=True,
                          timeout=60, env=env)


def seed_files(disk, offset):
    """{name: bytes} of the files in the FAT at offset of the disk file, and
    its volume label."""
    d = mtools(["mdir", "-b", "::"], disk, offset)
    assert d.returncode == 0, d.stderr
    names = [line.split("/")[-1] for line in d.stdout.decode().split() if line]
    out = {}
    for n in names:
        r = mtools(["mtype", f"::{n}"], disk, offset)
        assert r.returncode == 0, r.stderr
        out[n] = r.stdout
    label = mtools(["mlabel", "-s", "::"], disk, offset).stdout.decode()
    return out, label


def write_seed(disk, files, slot=1):
    """What the agent does, done here independently: an MBR entry (type
    0x0c) for the last 4 MiB of the disk file, a FAT labelled cidata made
    by mkfs.fat on it and the files copied in with mcopy."""
    size = os.path.getsize(disk)
    start = (size // MIB) * MIB - SEED_BYTES
    with open(disk, "r+b") as f:
        f.seek(446 + 16 * slot)
        f.write(bytes([0, 0xFE, 0xFF, 0xFF, 0x0C, 0xFE, 0xFF, 0xFF]) + struct.pack("<II", start // 512,
                                                                                  SEED_BYTES // 512))
    sh("mkfs.fat", "-n", "cidata", f"--offset={start // 512}", disk, str(SEED_BYTES // 1024))
    tmp = tempfile.mkdtemp(prefix="irdep-seed-")
    try:
        for name, data in files.items():
            p = os.path.join(tmp, name)
            with open(p, "wb") as f:
                f.write(data.encode() if isinstance(data, str) else data)
            r = mtools(["mcopy", p, f"::{name}"], disk, start)
            assert r.returncode == 0, r.stderr
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return start


# ---- the agent's lab ----

# The rack's stand-in: the agent's report endpoint and the images. A start
# is answered with DIR/job.json (written by the test before the boot);
# done and failed with 200. Each post lands in DIR/post-N.json with the
# time it arrived. GET /images/NAME serves DIR/images/NAME (Range too).
FAKE_RACK = r'''
import http.server, json, os, re, sys, time
host, port, outdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
count = [0]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def answer(self, status, data, ctype="application/json", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
    def do_POST(self):
        t = time.time()
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        n = count[0]
        count[0] += 1
        try:
            step = json.loads(body).get("step")
        except ValueError:
            step = None
        tmp = os.path.join(outdir, f"post-{n}.json.tmp")
        with open(tmp, "w") as f:
            json.dump({"time": t, "path": self.path, "body": body.decode("latin-1"), "step": step}, f)
        os.rename(tmp, os.path.join(outdir, f"post-{n}.json"))
        if step == "start":
            with open(os.path.join(outdir, "job.json"), "rb") as f:
                self.answer(200, f.read())
        else:
            self.answer(200, b'{"result":"ok","message":"taken"}')
    def do_GET(self):
        m = re.fullmatch(r"/images/([A-Za-z0-9._-]+)", self.path)
        path = m and os.path.join(outdir, "images", m.group(1))
        if not path or not os.path.isfile(path):
            return self.answer(404, b"")
        size = os.path.getsize(path)
        first, last, status = 0, size - 1, 200
        r = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if r:
            first, status = int(r.group(1)), 206
            if r.group(2):
                last = min(last, int(r.group(2)))
        with open(os.path.join(outdir, "gets.log"), "a") as f:
            f.write(f"{time.time()} {self.path} {first}-{last}\n")
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(last - first + 1))
        if status == 206:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        with open(path, "rb") as f:
            f.seek(first)
            left = last - first + 1
            while left > 0:
                chunk = f.read(min(left, 1 << 20))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((host, port), H).serve_forever()
'''


class AgentLab:
    def __init__(self, tmp):
        self.ns = "irdep-" + uuid.uuid4().hex[:6]
        self.tmp = tmp
        self.tap = "irdeptap0"
        self.procs = []
        self.made = False
        self.rack_dir = os.path.join(tmp, "rack")
        os.makedirs(os.path.join(self.rack_dir, "images"))
        self.boots = 0

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
        self.spawn([DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--port=0", "--interface=br0",
                    "--bind-interfaces", "--except-interface=lo", "--user=root", "--group=root", "--no-ping",
                    "--dhcp-range=192.0.2.100,192.0.2.150,255.255.255.0,1h",
                    f"--dhcp-leasefile={os.path.join(self.tmp, 'dnsmasq.leases')}",
                    f"--pid-file={os.path.join(self.tmp, 'dnsmasq.pid')}"])
        path = os.path.join(self.tmp, "fake_rack.py")
        with open(path, "w") as f:
            f.write(FAKE_RACK)
        log = open(os.path.join(self.tmp, "fake_rack.log"), "w")
        self.spawn(["/usr/bin/python3", path, SERVER, str(PORT), self.rack_dir], stdout=log)
        wait_for(lambda: sh("ip", "netns", "exec", self.ns, "ss", "-Htln", f"sport = :{PORT}",
                            check=False).stdout.strip(), timeout=10, what="the fake rack to listen")

    def spawn(self, argv, **kw):
        p = subprocess.Popen(["ip", "netns", "exec", self.ns] + argv, stdin=subprocess.DEVNULL,
                             stdout=kw.pop("stdout", subprocess.DEVNULL), stderr=kw.pop("stderr", subprocess.STDOUT),
                             start_new_session=True, **kw)
        self.procs.append(p)
        return p

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

    # ---- what the fake rack holds and saw ----

    def publish(self, name, path):
        shutil.copyfile(path, os.path.join(self.rack_dir, "images", name))

    def job(self, job):
        with open(os.path.join(self.rack_dir, "job.json"), "w") as f:
            json.dump(job, f)

    def posts(self):
        """The posts since the last call, in order."""
        names = sorted((int(m.group(1)), m.group(0)) for m in
                       (re.fullmatch(r"post-(\d+)\.json", n) for n in os.listdir(self.rack_dir)) if m)
        out = []
        for _, name in names:
            with open(os.path.join(self.rack_dir, name)) as f:
                p = json.load(f)
            p["json"] = json.loads(p["body"])
            out.append(p)
            os.unlink(os.path.join(self.rack_dir, name))
        return out

    # ---- a VM ----

    def boot(self, disk, append=None, until=None, timeout=BOOT_TIMEOUT):
        """Boots the VM with the disk file: the ephemeral environment with
        append on its command line, or (append None) from the disk. Waits
        until QEMU exits, or until the console matches the regex until
        (then stops it). Returns (QEMU start time, console, wall time of
        the match or exit)."""
        self.boots += 1
        serial = os.path.join(self.tmp, f"serial-{self.boots}.log")
        argv = [QEMU, "-accel", "tcg", "-machine", "pc", "-m", "512", "-smp", "2", "-display", "none",
                "-monitor", "none", "-serial", f"file:{serial}", "-no-reboot",
                "-drive", f"file={disk},format=raw,if=virtio,cache=unsafe",
                "-netdev", f"tap,id=n0,ifname={self.tap},script=no,downscript=no",
                "-device", f"virtio-net-pci,netdev=n0,mac={GUEST_MAC}"]
        if append is not None:
            argv += ["-kernel", ephemeral("vmlinuz"), "-initrd", ephemeral("initrd.img"),
                     "-append", "console=ttyS0 quiet panic=-1 " + append]
        qlog = open(os.path.join(self.tmp, f"qemu-{self.boots}.log"), "w")
        t0 = time.time()
        q = self.spawn(argv, stdout=qlog)

        def console():
            try:
                with open(serial, errors="replace") as f:
                    return f.read()
            except FileNotFoundError:
                return ""
        t_end = None
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if q.poll() is not None:
                    t_end = time.time()
                    break
                if until and re.search(until, console(), re.M):
                    t_end = time.time()
                    break
                time.sleep(0.05)
        finally:
            if q.poll() is None:
                os.killpg(q.pid, signal.SIGTERM)
                q.wait(timeout=10)
        text = console()
        assert t_end is not None, f"the VM did not finish within {timeout} s:\n{text[-4000:]}"
        return t0, text, t_end

    def agent(self, disk, purpose):
        return self.boot(disk, f"ironrack.purpose={purpose} ironrack.token={TOKEN} "
                               f"ironrack.url=http://{SERVER}:{PORT} ironrack.mac={GUEST_MAC} "
                               f"ironrack.reboot_after=1")


@pytest.fixture(scope="module")
def agent_lab():
    needs_root()
    needs_tools("ip", "ss", "qemu-system-x86_64", "mkfs.fat", "mcopy", "mdir")
    ephemeral("initrd.img")
    tmp = tempfile.mkdtemp(prefix="irdep-")
    lab = AgentLab(tmp)
    try:
        lab.up()
        yield lab
    finally:
        lab.down()
        if TIMINGS:
            print("\n" + "\n".join(TIMINGS))
            TIMINGS.clear()
        if not os.environ.get("IRONRACK_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


def steps(console):
    """{step: uptime} of the "ironrack-agent: t=SECONDS step=NAME" lines
    (the last of each)."""
    return {m.group(2): float(m.group(1))
            for m in re.finditer(r"^ironrack-agent: t=([0-9.]+) step=([a-z]+)\r?$", console, re.M)}


def sparse_disk(path, size):
    with open(path, "wb") as f:
        f.truncate(size)
    return path


# A seed whose strings need every escape JSON has: quotes, backslashes,
# tabs, newlines, non-ASCII (2, 3 and 4 bytes of UTF-8), a slash.
SEED = {
    "meta-data": "instance-id: ironrack-7-1\nlocal-hostname: agent-test\n",
    "user-data": "#cloud-config\nwrite_files:\n  - path: /etc/motd\n    content: \"caf\u00e9 \\\"quoted\\\" \\\\ "
                 "tab\there \u20ac \U0001F680 a/b\"\n",
    "network-config": ("version: 2\nethernets:\n  \"eth0\":\n    match:\n      macaddress: \"" + GUEST_MAC + "\"\n"
                       "    set-name: \"eth0\"\n    addresses:\n      - \"192.0.2.77/24\"\n"
                       "      - \"198.51.100.9/24\"\n    routes:\n      - to: \"0.0.0.0/0\"\n"
                       "        via: \"192.0.2.1\"\n"),
}


def deploy_job(name, fmt, path, disk="", seed=SEED, sha=None):
    return {"action": "deploy",
            "image": {"name": name, "url": f"/images/{name}", "format": fmt,
                      "sha256": sha or sha256(path), "size": os.path.getsize(path)},
            "disk": disk, "seed": seed, "report_every_ms": 5000}


def check_posts(posts, purpose, steps_want, console=""):
    assert [p["step"] for p in posts] == steps_want, f"{posts}\n{console[-3000:]}"
    for p in posts:
        assert p["path"] == "/machine/v1/report"
        body = p["json"]
        assert body["purpose"] == purpose and body["token"] == TOKEN and body["mac"] == GUEST_MAC, body
    return posts[-1]["json"]


def test_the_agent_writes_a_gzip_image_and_the_seed(agent_lab):
    """A deploy job for the test image as gzip: the disk holds the image
    byte for byte, a new MBR entry in slot 2 (type 0x0c) for the last 4
    MiB beside the image's own, and a FAT labelled cidata there with the
    seed's three files exactly as the job's strings decode."""
    lab = agent_lab
    img = image_file()
    gz = img + ".gz"
    size = os.path.getsize(img)
    lab.publish("test.img.gz", gz)
    lab.job(deploy_job("test.img.gz", "gzip", gz))
    disk = sparse_disk(os.path.join(lab.tmp, "deploy.raw"), 256 * MIB)
    t0, console, _ = lab.agent(disk, "deploy")
    done = check_posts(lab.posts(), "deploy", ["start", "done"], console)
    assert done["result"]["disk"] == "/dev/vda", done
    assert done["result"]["bytes"] == size, done
    assert done["result"]["sha256"] == sha256(gz), done
    assert "deployed: waiting for the power cycle" in console, console[-3000:]
    assert TOKEN not in console
    assert "#cloud-config" not in console, "the job's user-data is not printed"
    # The image, byte for byte (but for the seed's MBR entry).
    same_but_the_seed_entry(disk, img)
    entries = mbr_entries(disk)
    img_entries = mbr_entries(img)
    assert entries[:len(img_entries)] == img_entries, (entries, img_entries)
    start = 256 * MIB - SEED_BYTES
    assert entries[len(img_entries):] == [(len(img_entries), 0, 0x0C, start // 512, SEED_BYTES // 512)], entries
    files, label = seed_files(disk, start)
    assert "cidata" in label, label
    assert files == {k: v.encode() for k, v in SEED.items()}, files
    st = steps(console)
    for s in ("dhcp", "job", "written", "seed", "posted"):
        assert s in st, (s, console[-3000:])
    TIMINGS.append(f"agent deploy ({size / MIB:.0f} MiB image as {os.path.getsize(gz) / MIB:.1f} MiB gzip, TCG): "
                   f"uptime at dhcp {st['dhcp']:.1f} s, job +{st['job'] - st['dhcp']:.1f} s, "
                   f"written +{st['written'] - st['job']:.1f} s, seed +{st['seed'] - st['written']:.1f} s, "
                   f"done posted +{st['posted'] - st['seed']:.1f} s")


LINUX_FS = uuid.UUID("0fc63daf-8483-4772-8e79-3d69d8477de4")
BASIC_DATA = uuid.UUID("ebd0a0a2-b9e5-4433-87c0-68b6b72699c7")


def gpt_header(my, alt, first, last, entries_lba, entries, disk_guid):
    n, esize = 128, 128
    table = b"".join(entries).ljust(n * esize, b"\0")
    h = struct.pack("<8sIIIIQQQQ16sQIII", b"EFI PART", 0x10000, 92, 0, 0, my, alt, first, last, disk_guid.bytes_le,
                    entries_lba, n, esize, zlib.crc32(table))
    h = h[:16] + struct.pack("<I", zlib.crc32(h)) + h[20:]
    return h.ljust(512, b"\0"), table


def gpt_entry(ptype, first, last, name):
    return (ptype.bytes_le + uuid.uuid4().bytes_le + struct.pack("<QQQ", first, last, 0)
            + name.encode("utf-16-le").ljust(72, b"\0"))


def gpt_image(path, size=8 * MIB):
    """A GPT disk image: protective MBR, one Linux partition at 1-2 MiB
    full of random bytes, the backup GPT in its last sectors."""
    sectors = size // 512
    entries = [gpt_entry(LINUX_FS, 2048, 4095, "data")]
    guid = uuid.uuid4()
    head, table = gpt_header(1, sectors - 1, 34, sectors - 34, 2, entries, guid)
    back, _ = gpt_header(sectors - 1, 1, 34, sectors - 34, sectors - 33, entries, guid)
    img = bytearray(size)
    img[446:462] = bytes([0, 0, 2, 0, 0xEE, 0xFF, 0xFF, 0xFF]) + struct.pack("<II", 1, sectors - 1)
    img[510:512] = b"\x55\xaa"
    img[512:1024] = head
    img[1024:1024 + len(table)] = table
    img[2048 * 512:4096 * 512] = os.urandom(MIB)
    img[(sectors - 33) * 512:(sectors - 1) * 512] = table
    img[(sectors - 1) * 512:] = back
    with open(path, "wb") as f:
        f.write(img)


def gpt_read(disk, lba):
    """(header fields, [(type, first, last, name)] of the used entries) of
    the GPT header at lba; asserts both CRCs."""
    with open(disk, "rb") as f:
        f.seek(lba * 512)
        h = f.read(512)
        assert h[:8] == b"EFI PART", f"no GPT header at sector {lba}"
        fields = struct.unpack("<8sIIIIQQQQ16sQIII", h[:92])
        size = fields[2]
        assert zlib.crc32(h[:16] + b"\0" * 4 + h[20:size]) == fields[3], "header CRC"
        my, alt, first, last, elba, n, esize, ecrc = fields[5], fields[6], fields[7], fields[8], fields[10], \
            fields[11], fields[12], fields[13]
        f.seek(elba * 512)
        table = f.read(n * esize)
    assert zlib.crc32(table) == ecrc, "entries CRC"
    used = []
    for i in range(n):
        e = table[i * esize:(i + 1) * esize]
        if e[:16] != bytes(16):
            used.append((uuid.UUID(bytes_le=e[:16]), *struct.unpack("<QQ", e[32:48]),
                         e[56:128].decode("utf-16-le").rstrip("\0")))
    return {"my": my, "alt": alt, "first": first, "last": last, "entries_lba": elba, "table": table}, used


def test_the_agent_adds_the_seed_to_a_gpt_image(agent_lab):
    """A GPT image (as cloud images are) on a larger disk: the backup GPT
    moves to the disk's end, the seed takes the first free entry (basic
    data, "cidata") for the last 4 MiB before it, every CRC is right, the
    kernel saw the partition (the agent checks) and the seed holds the
    files; the image's own partition is as it was."""
    lab = agent_lab
    img = os.path.join(lab.tmp, "gpt.img")
    gpt_image(img)
    lab.publish("gpt.img", img)
    lab.job(deploy_job("gpt.img", "raw", img))
    size = 64 * MIB
    sectors = size // 512
    disk = sparse_disk(os.path.join(lab.tmp, "gpt.raw"), size)
    _, console, _ = lab.agent(disk, "deploy")
    done = check_posts(lab.posts(), "deploy", ["start", "done"], console)
    assert done["result"]["bytes"] == 8 * MIB
    head, used = gpt_read(disk, 1)
    back, used_back = gpt_read(disk, sectors - 1)
    assert head["alt"] == sectors - 1 and head["last"] == sectors - 34, head
    assert (back["my"], back["alt"], back["entries_lba"]) == (sectors - 1, 1, sectors - 33), back
    assert back["table"] == head["table"] and used_back == used
    start = (size - 33 * 512) // MIB * MIB - SEED_BYTES
    assert used == [(LINUX_FS, 2048, 4095, "data"),
                    (BASIC_DATA, start // 512, start // 512 + SEED_BYTES // 512 - 1, "cidata")], used
    with open(disk, "rb") as d, open(img, "rb") as i:
        d.seek(2048 * 512)
        i.seek(2048 * 512)
        assert d.read(MIB) == i.read(MIB), "the image's partition changed"
        d.seek(8 * MIB - 512)
        assert d.read(512) == bytes(512), "the image's old backup header is still there"
        assert struct.unpack("<I", open(disk, "rb").read(512)[458:462])[0] == sectors - 1
    files, label = seed_files(disk, start)
    assert "cidata" in label and files == {k: v.encode() for k, v in SEED.items()}, files
    assert "seed: GPT partition 2 of /dev/vda" in console


def test_the_test_image_reads_a_seed_written_by_hand(agent_lab):
    """The test image on its own: a seed this module writes (mkfs.fat and
    mcopy) with an address on a MAC the VM does not have and one it has."""
    lab = agent_lab
    disk = os.path.join(lab.tmp, "byhand.raw")
    shutil.copyfile(image_file(), disk)
    with open(disk, "r+b") as f:
        f.truncate(64 * MIB)
    net = ("version: 2\nethernets:\n  other:\n    match:\n      macaddress: \"02:00:00:00:00:99\"\n"
           "    addresses: [\"10.9.9.9/24\"]\n  lan0:\n    match:\n      macaddress: '" + GUEST_MAC.upper() + "'\n"
           "    set-name: lan0\n    addresses:\n    - 203.0.113.5/24\n")
    write_seed(disk, {"meta-data": "instance-id: x\nlocal-hostname: \"by-hand\"\n", "user-data": "",
                      "network-config": net})
    _, console, _ = lab.boot(disk, None, until=r"^ironrack-deployed ")
    m = re.search(r"^ironrack-deployed (\S+) (\S+)\r?$", console, re.M)
    assert m and (m.group(1), m.group(2)) == ("by-hand", "203.0.113.5"), console[-3000:]
    assert "other: no interface has MAC 02:00:00:00:00:99" in console


def test_the_agent_says_when_the_seed_does_not_fit(agent_lab):
    """A disk too small for the image and the seed: failed at seed."""
    lab = agent_lab
    img = image_file()
    lab.publish("test.img", img)
    lab.job(deploy_job("test.img", "raw", img))
    disk = sparse_disk(os.path.join(lab.tmp, "small.raw"), os.path.getsize(img) + 2 * MIB)
    _, console, _ = lab.agent(disk, "deploy")
    failed = check_posts(lab.posts(), "deploy", ["start", "failed"], console)
    assert failed["stage"] == "seed" and "no room for the seed" in failed["error"], failed


def test_the_agents_json_reader_decodes_every_escape_and_refuses_garbage(tmp_path):
    """deploy/ephemeral/json.awk under busybox awk (as in the initramfs):
    each leaf into a file named by its path, strings decoded exactly."""
    needs_tools("busybox")
    awk = os.path.join(ROOT, "deploy", "ephemeral", "json.awk")
    doc = {"action": "deploy", "image": {"name": "a", "size": 123456789012, "ok": True, "none": None},
           "disk": "", "list": [1.5, {"x": "y"}], "odd/key..": "k",
           "seed": SEED, "long": "\\\"\n" * 3000}

    def run(text):
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
        out.mkdir()
        (out.parent / "in.json").write_text(text)
        r = subprocess.run(["busybox", "awk", "-v", f"dir={out}", "-f", awk, str(out.parent / "in.json")],
                           capture_output=True, timeout=60)
        return r, out
    r, out = run(json.dumps(doc))
    assert r.returncode == 0, r.stderr
    got = {p.name: p.read_bytes() for p in out.iterdir()}
    want = {"action": b"deploy", "image.name": b"a", "image.size": b"123456789012", "image.ok": b"true",
            "image.none": b"null", "disk": b"", "list.0": b"1.5", "list.1.x": b"y", "odd_key__": b"k",
            "long": ("\\\"\n" * 3000).encode()}
    want.update({f"seed.{k}": v.encode() for k, v in SEED.items()})
    assert got == want
    # ensure_ascii=False: raw UTF-8 passes through as it is.
    r, out = run(json.dumps({"s": "caf\u00e9 \U0001F680"}, ensure_ascii=False))
    assert r.returncode == 0 and (out / "s").read_bytes() == "caf\u00e9 \U0001F680".encode()
    for bad, why in (('{"a": "x\\u0000"}', "\\u0000"), ('{"a": 1} x', "bytes after"), ('{"a": tru}', "not a JSON"),
                     ('"x"', "lone scalar"), ('{"a": "b\n"}', "control character"), ('{"a": "\\q"}', "bad escape"),
                     ("[" * 20 + "]" * 20, "too deep"), ('{"a" 1}', "expected :"), ("", "unexpected end")):
        r, _ = run(bad)
        assert r.returncode == 1 and why in r.stderr.decode(), (bad, r.stderr)


# ---- end to end: a real region and rack, ipmi_sim, a VM ----
#
# tests/system/machines_lab.py's lab (10.46.0.0/24 on a bridge, the rack at
# 10.46.0.1 serving DHCP, TFTP, HTTP boot and the agents' reports, ipmi_sim
# at 10.46.0.10 whose chassis starts and stops the VM). The VM, made by
# hand in the region with its NIC and IPMI, is commissioned to READY,
# allocated, given a static address in IPAM, deployed with the test image
# (uploaded with `ironrack images add`) and boots from its own disk; then
# released with a quick erase; then a deploy from a corrupted copy of an
# image on the rack fails with the checksum's message.

E2E_MAC = "52:54:00:46:de:01"
E2E_DISK = 2 << 30
E2E_HOST = "deploy-vm"
E2E_ADDR = "10.46.0.77"
E2E_TIMEOUT = 120  # commissioning, deploying and releasing timeouts of the region here


@pytest.fixture(scope="module")
def e2e():
    needs_root()
    needs_tools("ip", "curl", "ipmi_sim", "ipmitool", "qemu-system-x86_64", "radvd", "mcopy", "mdir")
    if not os.path.exists(CLI):
        pytest.fail(f"{CLI} is missing: run make")
    image_file()

    class DeployRegion(machines_lab.MachinesRegion):
        def args(self):
            return super().args() + ["--deploying-timeout", f"{E2E_TIMEOUT}s",
                                     "--releasing-timeout", f"{E2E_TIMEOUT}s", "--deployed-when", "boot"]
    workdir = make_dir("irdeploy-")
    lab = machines_lab.Lab(workdir, E2E_TIMEOUT, True)
    lab.region = DeployRegion(lab.region.state_dir, lab.res_dir, E2E_TIMEOUT)
    lab.rack.region = lab.region
    try:
        lab.up()
        r = lab.region
        v = ok(r, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 46, "name": "deploy-lab"})
        ok(r, "POST", "/api/v1/subnets", {"cidr": machines_lab.NET, "vlan": v["id"],
                                          "gateway": machines_lab.RACK_IP, "dns_servers": [machines_lab.RACK_IP]})
        ok(r, "POST", "/api/v1/ip-ranges", {"subnet": machines_lab.NET, "type": "dynamic",
                                            "start_ip": machines_lab.RANGE[0], "end_ip": machines_lab.RANGE[1]})
        ok(r, "PATCH", f"/api/v1/vlans/{v['id']}", {"dhcp_on": True, "primary_rack": lab.rack.rack_id})
        lab.vlan = v
        lab.make_disk(E2E_MAC, E2E_DISK)
        lab.ipmi_vm = E2E_MAC
        lab.images_on_rack()
        yield lab
    finally:
        lab.down()
        if TIMINGS:
            print("\n" + "\n".join(TIMINGS))
            TIMINGS.clear()
        if not os.environ.get("IRONRACK_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)


def e2e_ok(lab, method, path, body=None):
    return ok(lab.region, method, path, body)


def e2e_cli(lab, *args):
    return cli(lab.region, *args)


def rack_file(lab, name):
    return os.path.join(lab.rack.state_dir, "boot", "images", name)


def wait_rack_has(lab, name, size, timeout=60):
    wait_for(lambda: os.path.exists(rack_file(lab, name)) and os.path.getsize(rack_file(lab, name)) == size,
             timeout=timeout, what=f"the rack to hold images/{name}")


def upload(lab, path, name, fmt):
    out = e2e_cli(lab, "images", "add", path, "--name", name, "--format", fmt)
    img = e2e_ok(lab, "GET", f"/api/v1/images/{name}")
    assert img["status"] == "ready" and img["sha256"] == sha256(path) and img["size"] == os.path.getsize(path), \
        (img, out.stdout)
    wait_rack_has(lab, name, os.path.getsize(path))
    return img


def test_e2e_a_vm_is_commissioned_to_ready(e2e):
    lab = e2e
    e2e_ok(lab, "POST", "/api/v1/machines", {
        "hostname": E2E_HOST, "power_type": "ipmi", "power_address": IPMI_IP, "power_user": BMC_USER,
        "power_pass": BMC_PASS, "power_workarounds": "opensesspriv"})
    e2e_ok(lab, "POST", f"/api/v1/machines/{E2E_HOST}/interfaces", {"name": "eth0", "mac": E2E_MAC,
                                                                     "vlan": lab.vlan["id"]})
    e2e_ok(lab, "POST", f"/api/v1/machines/{E2E_HOST}/commission", {})
    m = lab.wait_status(E2E_HOST, ("READY", "FAILED_COMMISSIONING"), timeout=E2E_TIMEOUT + 30)
    assert m["status"] == "READY", m
    assert m["storage_bytes"] == E2E_DISK, m
    vm = lab.vm(E2E_MAC)
    wait_for(lambda: not vm.running, timeout=60, what="the VM to be off after commissioning")


def test_e2e_deploy_boots_the_image_from_disk_with_its_ipam_address(e2e):
    lab = e2e
    if lab.get(E2E_HOST)["status"] != "READY":
        pytest.fail("needs the READY machine of test_e2e_a_vm_is_commissioned_to_ready")
    raw = image_file()
    zst = raw + ".zst"
    upload(lab, zst, "ironrack-test", "zstd")
    assert "ironrack-test" in e2e_cli(lab, "images", "list").stdout
    # Allocated (the only READY machine that has the disk).
    st, m = lab.api("POST", "/api/v1/machines/allocate", {"min_disk_gb": 1, "comment": "deploy test"})
    assert st == 200, (st, m)
    assert m["hostname"] == E2E_HOST and m["status"] == "ALLOCATED", m
    # Its NIC: a static address in IPAM.
    iface = next(i for i in lab.interfaces(E2E_HOST) if i["mac"] == E2E_MAC)
    for link in lab.links(iface["id"]):
        e2e_ok(lab, "DELETE", f"/api/v1/interfaces/{iface['id']}/links/{link['id']}")
    e2e_ok(lab, "POST", f"/api/v1/interfaces/{iface['id']}/links",
           {"subnet": "10.46.0.0/24", "mode": "static", "ip": E2E_ADDR})
    serial = lab.serial(E2E_MAC)
    mark = serial.mark()
    t0 = time.time()
    st, out = lab.api("POST", f"/api/v1/machines/{E2E_HOST}/deploy",
                      {"image": "ironrack-test", "user_data": "#cloud-config\nruncmd: [\"true\"]\n"})
    assert st == 200, (st, out)
    assert lab.get(E2E_HOST)["status"] == "DEPLOYING"
    m = lab.wait_status(E2E_HOST, ("DEPLOYED", "FAILED_DEPLOYMENT"), timeout=E2E_TIMEOUT + 30)
    assert m["status"] == "DEPLOYED", f"{m}\n{serial.text(mark)[-3000:]}"
    # The deployed OS: from its own disk, its hostname and IPAM's address.
    line = wait_for(lambda: re.search(r"^ironrack-deployed (\S+) (\S+)$", serial.text(mark), re.M),
                    timeout=90, what="'ironrack-deployed' on the console")
    assert (line.group(1), line.group(2)) == (E2E_HOST, E2E_ADDR), line.group(0)
    t_line = next(t for t, text in serial.lines(mark) if text.startswith("ironrack-deployed "))
    t_loader = [t for t, text in serial.lines(mark) if "SYSLINUX" in text]
    text = serial.text(mark)
    assert "ironrack-agent: t=" in text and "SYSLINUX" in text.split("step=posted")[-1], text[-3000:]
    # The disk: the image byte for byte (but for the seed's MBR entry), the
    # seed in the last 4 MiB, its network-config what IPAM says.
    disk = lab.disk(E2E_MAC)
    slot = same_but_the_seed_entry(disk, raw)
    entries = mbr_entries(disk)
    start = (E2E_DISK // MIB) * MIB - SEED_BYTES
    assert (slot, 0, 0x0C, start // 512, SEED_BYTES // 512) in entries, entries
    files, label = seed_files(disk, start)
    assert "cidata" in label
    meta = yaml.safe_load(files["meta-data"])
    assert meta["local-hostname"] == E2E_HOST and meta["instance-id"].startswith("ironrack-"), meta
    assert files["user-data"].startswith(b"#cloud-config\n") and b'runcmd: ["true"]' in files["user-data"]
    net = yaml.safe_load(files["network-config"])
    assert net["version"] == 2, net
    eths = net["ethernets"]
    assert list(eths) == ["eth0"], net
    eth0 = eths["eth0"]
    assert eth0["match"]["macaddress"] == E2E_MAC and eth0.get("set-name") == "eth0", eth0
    assert eth0["addresses"] == [f"{E2E_ADDR}/24"], eth0
    assert {"to": "0.0.0.0/0", "via": "10.46.0.1"} in eth0.get("routes", []), eth0
    assert eth0["nameservers"]["addresses"] == ["10.46.0.1"], eth0
    # Where the time went: the agent's own measurements, and the reboot from
    # the rack's 200 to the done to the deployed OS's line.
    answers = [t for t, s in report_answers(lab.rack_log(), t0) if s == 200]
    # The agent's measurements as the region keeps them (the console's copy
    # can be cut by kernel messages written over it).
    dep = lab.get(E2E_HOST)["deploy"]
    assert dep["image"] == "ironrack-test" and dep["step"] == "deployed", dep
    result = dep["result"]
    assert result["bytes"] == os.path.getsize(raw) and result["disk"] == "/dev/vda", dep
    if len(answers) >= 2:
        TIMINGS.append(f"e2e deploy of the test image ({os.path.getsize(raw) / MIB:.0f} MiB raw, "
                       f"{os.path.getsize(zst) / MIB:.1f} MiB zstd): request -> agent start "
                       f"{answers[0] - t0:.1f} s, download {result['download_ms'] / 1000:.1f} s, write (waiting on the "
                       f"disk) {result['write_ms'] / 1000:.1f} s, start -> done {answers[-1] - answers[0]:.1f} s, "
                       f"reboot (done -> 'ironrack-deployed') {t_line - answers[-1]:.1f} s "
                       f"(power cycle, firmware, iPXE -> syslinux {t_loader[-1] - answers[-1]:.1f} s, "
                       f"syslinux -> 'ironrack-deployed' {t_line - t_loader[-1]:.1f} s), request -> "
                       f"'ironrack-deployed' {t_line - t0:.1f} s")


def test_e2e_release_with_quick_erase_zeroes_the_disk_and_ends_ready(e2e):
    lab = e2e
    if lab.get(E2E_HOST)["status"] != "DEPLOYED":
        pytest.fail("needs the DEPLOYED machine of the deploy test")
    disk = lab.disk(E2E_MAC)
    with open(disk, "rb") as f:
        assert f.read(MIB) != bytes(MIB)
    serial = lab.serial(E2E_MAC)
    mark = serial.mark()
    t0 = time.time()
    st, out = lab.api("POST", f"/api/v1/machines/{E2E_HOST}/release", {"erase": "quick"})
    assert st == 200, (st, out)
    m = lab.wait_status(E2E_HOST, ("READY", "BROKEN"), timeout=E2E_TIMEOUT + 30)
    assert m["status"] == "READY", f"{m}\n{serial.text(mark)[-3000:]}"
    vm = lab.vm(E2E_MAC)
    wait_for(lambda: not vm.running, timeout=60, what="the VM to be off after the release")
    with open(disk, "rb") as f, open(image_file(), "rb") as img:
        assert f.read(MIB) == bytes(MIB), "the first MiB is not zeroed"
        img.seek(MIB)
        assert f.read(4 * MIB) == img.read(4 * MIB), "quick erased more than the first MiB"
        f.seek(E2E_DISK - MIB)
        assert f.read(MIB) == bytes(MIB), "the last MiB is not zeroed"
    assert "erase (quick)" in serial.text(mark), serial.text(mark)[-3000:]
    TIMINGS.append(f"e2e release with quick erase: request -> READY {time.time() - t0:.1f} s")


def test_e2e_a_corrupted_image_fails_the_deploy_with_the_checksum(e2e):
    """The rack's cached copy of an image is changed in place (the region's
    and its SHA-256 stay right): the agent's check of what it downloaded
    fails the deploy at verify, and the machine says why."""
    lab = e2e
    if lab.get(E2E_HOST)["status"] != "READY":
        pytest.fail("needs the READY machine of the release test")
    raw = image_file()
    img = upload(lab, raw, "ironrack-test-raw", "raw")
    st, m = lab.api("POST", "/api/v1/machines/allocate", {"comment": "corrupted image"})
    assert st == 200 and m["hostname"] == E2E_HOST, (st, m)
    with open(rack_file(lab, "ironrack-test-raw"), "r+b") as f:
        f.seek(5 * MIB)
        b = f.read(1)
        f.seek(5 * MIB)
        f.write(bytes([b[0] ^ 0xFF]))
    bad = sha256(rack_file(lab, "ironrack-test-raw"))
    assert bad != img["sha256"]
    serial = lab.serial(E2E_MAC)
    mark = serial.mark()
    st, out = lab.api("POST", f"/api/v1/machines/{E2E_HOST}/deploy", {"image": "ironrack-test-raw"})
    assert st == 200, (st, out)
    m = lab.wait_status(E2E_HOST, ("DEPLOYED", "FAILED_DEPLOYMENT"), timeout=E2E_TIMEOUT + 30)
    assert m["status"] == "FAILED_DEPLOYMENT", f"{m}\n{serial.text(mark)[-3000:]}"
    msg = m["status_message"]
    assert "verify" in msg and "checksum" in msg and img["sha256"] in msg and bad in msg, msg
    # The image was streamed to the disk, but no seed partition was added.
    disk = lab.disk(E2E_MAC)
    wait_for(lambda: not lab.vm(E2E_MAC).running, timeout=60, what="the VM to be off after the failure")
    assert mbr_entries(disk) == mbr_entries(raw)
    assert "waiting for the power cycle" not in serial.text(mark)


# ---- end to end: an infrastructure's instance array on real VMs ----
#
# Three more VMs of the same lab, each behind its own ipmi_sim (10.46.0.11-13
# in the BMC namespace, the chassis starting and stopping its VM), made
# READY by hand (no commissioning: their real MACs on the lab's VLAN, IPMI,
# and the hardware the array asks for, in a zone of their own so the
# machine of the tests above is never bound). An infrastructure in that
# zone with an instance array of 2 on a WAN, image ironrack-test: Deploy
# binds two machines, gives each a WAN address and deploys both at once;
# each boots from its disk printing its hostname and that address. Growing
# the array to 3 binds the third and deploys it only.

FARM = "farm"
FARM_ZONE = "farm-lab"
FARM_POOL = "203.0.113.0/24"
FARM_VMS = {"farm-vm1": ("52:54:00:46:de:11", "10.46.0.11"),
            "farm-vm2": ("52:54:00:46:de:12", "10.46.0.12"),
            "farm-vm3": ("52:54:00:46:de:13", "10.46.0.13")}
FARM_DISK = 1 << 30


@pytest.fixture(scope="module")
def farm(e2e):
    """The three READY machines, their BMCs up; the zstd test image registered."""
    lab = e2e
    bmcs = []
    try:
        for host, (mac, bmc_ip) in FARM_VMS.items():
            sh("ip", "-n", lab.bmc, "addr", "add", f"{bmc_ip}/24", "dev", "eth0")
            lab.make_disk(mac, FARM_DISK)

            def chassis(power, boot, mac=mac):
                vm = lab.vm(mac, cpus=1)
                if power == "on":
                    lab.started[mac] = time.time()
                    vm.start(boot)
                else:
                    vm.stop()
            bmc = ipmisim.IpmiSim(lab.bmc, bmc_ip, BMC_USER, BMC_PASS, os.path.join(lab.workdir, "ipmi-" + host),
                                  hook=chassis)
            bmcs.append(bmc)
            bmc.start()
        st, _ = lab.api("GET", f"/api/v1/zones/{FARM_ZONE}")
        if st == 404:
            e2e_ok(lab, "POST", "/api/v1/zones", {"name": FARM_ZONE})
        for host, (mac, bmc_ip) in FARM_VMS.items():
            e2e_ok(lab, "POST", "/api/v1/machines", {
                "hostname": host, "power_type": "ipmi", "power_address": bmc_ip, "power_user": BMC_USER,
                "power_pass": BMC_PASS, "power_workarounds": "opensesspriv"})
            e2e_ok(lab, "POST", f"/api/v1/machines/{host}/interfaces",
                   {"name": "eth0", "mac": mac, "vlan": lab.vlan["id"]})
            # What commissioning would have left: READY with its hardware.
            psql(lab.region, f"UPDATE machine SET status = 'READY', status_previous = 'COMMISSIONING', "
                             f"architecture = 'amd64', cpu_count = 1, memory_mib = 512, "
                             f"storage_bytes = {FARM_DISK}, "
                             f"zone_id = (SELECT id FROM zone WHERE name = '{FARM_ZONE}') "
                             f"WHERE hostname = '{host}'")
            assert lab.get(host)["status"] == "READY"
        st, _ = lab.api("GET", "/api/v1/images/ironrack-test")
        if st == 404:
            upload(lab, image_file() + ".zst", "ironrack-test", "zstd")
        yield lab
    finally:
        for bmc in bmcs:
            bmc.stop()


def farm_deployed(lab, hosts, marks, timeout):
    """Waits until each host is DEPLOYED and its console (after its mark)
    says `ironrack-deployed HOST ADDRESS` with the WAN address IPAM gave
    its eth0 (a static link in the WAN's mirror). Returns {host: time of
    the line}."""
    for host in hosts:
        mac = FARM_VMS[host][0]
        m = lab.wait_status(host, ("DEPLOYED", "FAILED_DEPLOYMENT"), timeout=timeout)
        assert m["status"] == "DEPLOYED", f"{m}\n{lab.serial(mac).text(marks[host])[-3000:]}"
    out = {}
    for host in hosts:
        mac = FARM_VMS[host][0]
        addrs = e2e_ok(lab, "GET", f"/api/v1/ip-addresses?machine={host}")["ip_addresses"]
        assert [(a["mode"], a["subnet_cidr"]) for a in addrs] == [("static", "203.0.113.0/29")], addrs
        serial = lab.serial(mac)
        line = wait_for(lambda: re.search(r"^ironrack-deployed (\S+) (\S+)$", serial.text(marks[host]), re.M),
                        timeout=120, what=f"'ironrack-deployed' on {host}'s console")
        assert (line.group(1), line.group(2)) == (host, addrs[0]["ip"]), line.group(0)
        out[host] = next(t for t, text in serial.lines(marks[host]) if text.startswith("ironrack-deployed "))
    return out


def test_e2e_an_instance_array_of_2_on_a_wan_deploys_two_vms_and_growing_to_3_deploys_a_third(farm):
    lab = farm
    marks = {host: lab.serial(mac).mark() for host, (mac, _) in FARM_VMS.items()}
    e2e_ok(lab, "POST", "/api/v1/infrastructures", {"name": FARM, "zone": FARM_ZONE, "wan_pools": [FARM_POOL]})
    e2e_ok(lab, "POST", f"/api/v1/infrastructures/{FARM}/instance-arrays",
           {"name": "web", "instance_count": 2, "ports": 1, "min_disk_gb": 1, "image": "ironrack-test"})
    e2e_ok(lab, "POST", f"/api/v1/infrastructures/{FARM}/networks", {"name": "inet", "type": "wan"})
    e2e_ok(lab, "POST", f"/api/v1/infrastructures/{FARM}/connections", {"array": "web", "port": 0, "network": "inet"})
    t0 = time.time()
    d = e2e_ok(lab, "POST", f"/api/v1/infrastructures/{FARM}/deploy")
    bound = [(b["op"], b["instance"], b["machine"]) for b in d["machines"]]
    assert [(op, i) for op, i, _ in bound] == [("bind", 0), ("bind", 1)], d
    first = [h for _, _, h in bound]
    assert set(first) < set(FARM_VMS), first
    assert [(x["instance"], x["machine"], x["image"], x["status"]) for x in d["deploys"]] == [
        (0, first[0], "ironrack-test", "DEPLOYING"), (1, first[1], "ironrack-test", "DEPLOYING")], d
    third = next(h for h in FARM_VMS if h not in first)
    assert lab.get(third)["status"] == "READY"
    lines = farm_deployed(lab, first, marks, E2E_TIMEOUT + 30)
    t_two = max(lines.values()) - t0
    assert not lab.vm(FARM_VMS[third][0]).running

    # Growing to 3: the third machine is bound and deployed, the first two
    # are left as they are.
    for host in first:  # their work is done: the CPU for the third
        lab.vm(FARM_VMS[host][0]).stop()
    e2e_ok(lab, "PATCH", f"/api/v1/infrastructures/{FARM}/instance-arrays/web", {"instance_count": 3})
    t1 = time.time()
    d = e2e_ok(lab, "POST", f"/api/v1/infrastructures/{FARM}/deploy")
    assert [(b["op"], b["instance"], b["machine"]) for b in d["machines"]] == [("bind", 2, third)], d
    assert [(x["instance"], x["machine"], x["status"]) for x in d["deploys"]] == [(2, third, "DEPLOYING")], d
    assert [lab.get(h)["status"] for h in first] == ["DEPLOYED", "DEPLOYED"]
    line = farm_deployed(lab, [third], marks, E2E_TIMEOUT + 30)[third]
    inst = e2e_ok(lab, "GET", f"/api/v1/infrastructures/{FARM}")["deployed"]["instance_arrays"][0]["instances"]
    assert [(i["index"], i["machine"]) for i in inst] == [(0, first[0]), (1, first[1]), (2, third)], inst
    TIMINGS.append(f"e2e infrastructure: deploy of 2 VMs at once -> both 'ironrack-deployed' {t_two:.1f} s; "
                   f"growing to 3 -> the third's 'ironrack-deployed' {line - t1:.1f} s")
