"""Deploying an image to a machine's disk (docs/deploy.md): the agent alone,
for real, under QEMU TCG (the end to end deploy is test_deploy.py).

deploy/ephemeral's agent and deploy/testimage: the ephemeral kernel and
initramfs of this build booted with -kernel/-initrd, a virtio disk and NIC
on a bridge in a namespace of this module (irdep-XXXXXX: br0 192.0.2.1/24,
dnsmasq for DHCP and a small HTTP server in place of the rack: it answers
the agent's start with the job the test sets, takes done and failed, and
serves the images), made once for the tests that use it. Checked: a gzip
image on the disk byte for byte and the NoCloud seed partition (read from
the disk file with mtools) holding the job's seed strings exactly, escapes
and all; a GPT image; a disk with no room for the seed; the test image
booted from a disk whose seed this module wrote by hand. And json.awk, the
agent's JSON reader, on its own.

Nothing runs in the sanitizer pass (QEMU boots are not our C code; they
must not run twice). The images come from make (ephemeral, testimage).
Run with -s to see the timings."""

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

from conftest import ROOT, SANITIZED, needs_root, needs_tools, wait_for
from deploydisk import (MIB, SEED_BYTES, ephemeral, image_file, mbr_entries, same_but_the_seed_entry, seed_files,
                        sh, sha256, write_seed)

pytestmark = pytest.mark.skipif(SANITIZED, reason="QEMU boots run in the plain pass only")

QEMU = shutil.which("qemu-system-x86_64") or "qemu-system-x86_64"
DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
SERVER = "192.0.2.1"
PORT = 5248
GUEST_MAC = "52:54:00:de:00:01"
TOKEN = "fedcba9876543210" * 4
BOOT_TIMEOUT = 240  # a loaded 2-CPU machine: TCG boots take 10-30 s
TIMINGS = []


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
