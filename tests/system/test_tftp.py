"""The rack's TFTP server against real clients (tftp-hpa, atftp, curl) in
network namespaces that this module creates and deletes:

    <prefix>-sw   bridge br0
    <prefix>-srv  eth0 198.51.100.1/24, 2001:db8:69::1/64 -- the rack's TFTP socket lives here (netns key)
    <prefix>-cli  eth0 198.51.100.2/24, 2001:db8:69::2/64 -- the clients

The rack process itself stays in the host namespace and talks to a real
region on loopback; only its TFTP sockets are created inside <prefix>-srv.
No host interface is touched."""

import hashlib
import json
import os
import shutil
import subprocess
import time
import uuid

import pytest

from conftest import alone, Rack, Region, make_dir, needs_root, needs_tools, wait_for, plain_pass_only

SERVER = "198.51.100.1"
CLIENT = "198.51.100.2"
SERVER6 = "2001:db8:69::1"
CLIENT6 = "2001:db8:69::2"
BIG = 64 << 20
MID = 16 << 20
MAX_TRANSFERS = 60
ATTACKER = "198.51.100.3"  # a second address of the client namespace



@pytest.fixture(autouse=True, scope="module")
def lab_needs():
    needs_root()
    needs_tools("ip", "tftp", "atftp", "curl")



def sh(*argv, check=True, timeout=60):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {out.returncode}: {out.stdout}{out.stderr}")
    return out


class Lab:
    def __init__(self):
        self.prefix = "irtftp-" + uuid.uuid4().hex[:6]
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
        # Bridged frames must not go through the host's iptables.
        sh("ip", "netns", "exec", self.sw, "sh", "-c",
           "for f in /proc/sys/net/bridge/bridge-nf-call-*; do [ -e \"$f\" ] && echo 0 > \"$f\"; done; true")
        for ns, port, v4, v6 in ((self.srv, "p-srv", SERVER, SERVER6), (self.cli, "p-cli", CLIENT, CLIENT6)):
            sh("ip", "-n", self.sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh("ip", "-n", self.sw, "link", "set", port, "master", "br0")
            sh("ip", "-n", self.sw, "link", "set", port, "up")
            sh("ip", "-n", ns, "addr", "add", f"{v4}/24", "dev", "eth0")
            sh("ip", "-n", ns, "addr", "add", f"{v6}/64", "dev", "eth0", "nodad")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
        for ns in (self.srv, self.cli):
            wait_for(lambda: "state UP" in sh("ip", "-n", ns, "-o", "link", "show", "eth0").stdout,
                     timeout=10, what=f"eth0 up in {ns}")

    def down(self):
        for ns in reversed(self.made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def run(self, argv, check=True, timeout=60, ns=None):
        return sh("ip", "netns", "exec", ns or self.cli, *argv, check=check, timeout=timeout)

    def popen(self, argv):
        return subprocess.Popen(["ip", "netns", "exec", self.cli, *argv], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_random(path, size):
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    return sha256_file(path)


class TftpRack:
    """A region, and an enrolled rack serving boot_root in the lab's server namespace."""

    def __init__(self, lab, workdir):
        self.lab = lab
        self.workdir = workdir
        self.root = os.path.join(workdir, "boot")
        self.out = os.path.join(workdir, "out")
        os.makedirs(self.root)
        os.makedirs(self.out)
        os.makedirs(os.path.join(self.root, "sub"))
        os.makedirs(os.path.join(workdir, "outside"))
        self.sha = {"big.bin": write_random(os.path.join(self.root, "big.bin"), BIG),
                    "mid.bin": write_random(os.path.join(self.root, "mid.bin"), MID),
                    "lossy.bin": write_random(os.path.join(self.root, "lossy.bin"), 200 * 512 + 99)}
        with open(os.path.join(self.root, "pxelinux.cfg"), "w") as f:
            f.write("DEFAULT linux\nLABEL linux\n  KERNEL sub/linux\n")
        with open(os.path.join(self.root, "sub", "linux"), "wb") as f:
            f.write(b"kernel\r\n\x00" * 1000)
        with open(os.path.join(workdir, "outside", "secret"), "w") as f:
            f.write("outside the boot root\n")
        os.symlink("/etc/passwd", os.path.join(self.root, "escape-abs"))
        os.symlink("../outside/secret", os.path.join(self.root, "escape-rel"))
        os.symlink("../outside", os.path.join(self.root, "escape-dir"))
        os.symlink("sub/linux", os.path.join(self.root, "inside-link"))
        self.region = Region(os.path.join(workdir, "region"))
        os.makedirs(self.region.state_dir, mode=0o700)
        self.region.start()
        self.rack = Rack(self.region, os.path.join(workdir, "rack"), "tftp-rack")
        self.cfg_size = os.path.getsize(os.path.join(self.root, "pxelinux.cfg"))
        self.aborted = 0  # transfers the raw client started and ended with an ERROR

    def start_rack(self, listen="0.0.0.0:69", wait=True, first=False, max_transfers=MAX_TRANSFERS,
                   per_client=MAX_TRANSFERS, extra=()):
        # The tests here run many transfers from one client address; the
        # per-client limit has its own test, with the default.
        more = extra
        extra = ["--netns", self.lab.srv, "--tftp-listen", listen, "--boot-root", self.root,
                 "--tftp-max-transfers", str(max_transfers)]
        if per_client is not None:
            extra += ["--tftp-max-transfers-per-client", str(per_client)]
        extra += list(more)
        if first:
            self.rack.start(secret=self.region.secret, fingerprint=self.region.fingerprint, extra=extra)
        else:
            self.rack.start(extra=extra, wait=wait)
        self.rack.daemon.wait_log("tftp: serving", count=1)

    def log(self):
        return self.rack.daemon.text()

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
def tftp(lab):
    workdir = make_dir("irtftp-")
    t = None
    try:
        t = TftpRack(lab, workdir)
        t.start_rack(first=True)
        yield t
    finally:
        if t:
            t.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def fetched(tftp, name, out):
    assert os.path.exists(out), f"no {out}; rack log:\n{tftp.log()[-3000:]}"
    return sha256_file(out)


def sent(tftp, line, count=1):
    """Wait for the rack's log line of a transfer's end: it is written when
    the last ACK is in, which may be just after the client has exited."""
    tftp.rack.daemon.wait_log(line, timeout=20, count=count)


def rate(size, secs):
    return f"{size / secs / 1e6:.1f} MB/s"


def test_tftp_hpa_fetches_64mib(tftp, lab):
    out = os.path.join(tftp.out, "hpa.bin")
    t0 = time.monotonic()
    # tftp-hpa has no blksize option: RFC 1350 lock-step with 512-byte blocks.
    r = lab.run(["tftp", "-m", "binary", SERVER, "-c", "get", "big.bin", out], timeout=120)
    secs = time.monotonic() - t0
    assert fetched(tftp, "big.bin", out) == tftp.sha["big.bin"], r.stdout + r.stderr
    print(f"tftp-hpa 64 MiB, blksize 512: {secs:.2f} s, {rate(BIG, secs)}")
    os.unlink(out)
    # 131072 blocks: the block number wrapped (65535 -> 0) once.
    sent(tftp, "sent 'big.bin' (67108864 bytes, blksize 512, windowsize 1)")
    assert f"tftp: {CLIENT}:" in tftp.log()


def test_atftp_fetches_64mib_windowed(tftp, lab):
    out = os.path.join(tftp.out, "atftp.bin")
    t0 = time.monotonic()
    r = lab.run(["atftp", "--option", "blksize 1468", "--option", "windowsize 16", "-g", "-r", "big.bin", "-l", out,
                 SERVER], timeout=60)
    secs = time.monotonic() - t0
    assert fetched(tftp, "big.bin", out) == tftp.sha["big.bin"], r.stdout + r.stderr
    print(f"atftp 64 MiB, blksize 1468, windowsize 16: {secs:.2f} s, {rate(BIG, secs)}")
    os.unlink(out)
    sent(tftp, "sent 'big.bin' (67108864 bytes, blksize 1468, windowsize 16)")


def test_curl_fetches_64mib(tftp, lab):
    out = os.path.join(tftp.out, "curl.bin")
    t0 = time.monotonic()
    lab.run(["curl", "-sS", "--tftp-blksize", "1468", "-o", out, f"tftp://{SERVER}/big.bin"], timeout=60)
    secs = time.monotonic() - t0
    assert fetched(tftp, "big.bin", out) == tftp.sha["big.bin"]
    print(f"curl 64 MiB, blksize 1468: {secs:.2f} s, {rate(BIG, secs)}")
    os.unlink(out)
    sent(tftp, "sent 'big.bin' (67108864 bytes, blksize 1468, windowsize 1)")


def test_netascii_and_leading_slash(tftp, lab):
    """tftp-hpa's default mode is netascii: the server converts LF to CR LF
    and the client back, so the text arrives as it is on disk. A leading
    '/' and a symlink that stays inside the root are fine."""
    out = os.path.join(tftp.out, "cfg")
    lab.run(["tftp", SERVER, "-c", "get", "/pxelinux.cfg", out])
    with open(out) as f, open(os.path.join(tftp.root, "pxelinux.cfg")) as g:
        assert f.read() == g.read()
    out2 = os.path.join(tftp.out, "linux")
    lab.run(["curl", "-sS", "-o", out2, f"tftp://{SERVER}/inside-link"])
    assert sha256_file(out2) == sha256_file(os.path.join(tftp.root, "sub", "linux"))


@plain_pass_only
@alone
def test_50_concurrent_clients(tftp, lab):
    procs = []
    t0 = time.monotonic()
    for i in range(50):
        # Hash in the pipe: 50 x 16 MiB never touches the disk.
        procs.append(lab.popen(["sh", "-c", f"curl -sS --tftp-blksize 1468 -o - tftp://{SERVER}/mid.bin | sha256sum"]))
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        results.append((p.returncode, out.split()[0] if out else "", err))
    secs = time.monotonic() - t0
    bad = [r for r in results if r[0] != 0 or r[1] != tftp.sha["mid.bin"]]
    assert not bad, f"{len(bad)} of 50 transfers failed: {bad[:3]}\n{tftp.log()[-3000:]}"
    print(f"50 x 16 MiB concurrently (curl, blksize 1468): {secs:.2f} s, {rate(50 * MID, secs)} aggregate")
    sent(tftp, "sent 'mid.bin'", count=50)
    assert tftp.log().count("sent 'mid.bin'") == 50


# A raw TFTP client for what real clients cannot be made to send. Runs in
# the client namespace; reads a JSON job on stdin, prints a JSON result.
RAW_CLIENT = r'''
import json, socket, struct, sys
job = json.load(sys.stdin)
server = (job["server"], 69)

def first_reply(s):
    s.settimeout(3)
    try:
        data, addr = s.recvfrom(70000)
    except socket.timeout:
        return {"op": None}
    op = struct.unpack("!H", data[:2])[0]
    r = {"op": op, "port": addr[1]}
    if op == 5:
        r["code"] = struct.unpack("!H", data[2:4])[0]
        r["msg"] = data[4:].split(b"\0")[0].decode(errors="replace")
    return r

def request(raw):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(bytes.fromhex(raw), server)
    return s

results = []
if job["kind"] == "each":
    for raw in job["packets"]:
        s = request(raw)
        r = first_reply(s)
        results.append(r)
        if r["op"] in (3, 6):  # a transfer started: end it at once
            s.sendto(struct.pack("!HH", 5, 0) + b"abort\0", (job["server"], r["port"]))
        s.close()
elif job["kind"] == "lossy":
    # An RFC 7440 client on a bad network: blocks in job["drop"] are lost
    # the first time they arrive, every ACK is sent twice. It ACKs after a
    # full window, at the end, and at the first gap (the last block it has
    # in order), as RFC 7440 asks.
    W, B = job["windowsize"], 512
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    opts = b"blksize\0%d\0windowsize\0%d\0" % (B, W)
    s.sendto(b"\0\1" + job["name"].encode() + b"\0octet\0" + opts, server)
    data, peer = s.recvfrom(70000)
    assert data[:2] == b"\0\6", data
    def ack(n):
        for _ in range(2):
            s.sendto(struct.pack("!HH", 4, n & 0xffff), peer)
    ack(0)
    drop, got, expect, since, gap, packets = set(job["drop"]), bytearray(), 1, 0, False, 0
    while True:
        data, addr = s.recvfrom(70000)
        assert addr == peer and data[:2] == b"\0\3", data[:4]
        packets += 1
        delta = (struct.unpack("!H", data[2:4])[0] - expect) & 0xffff
        block = expect + delta if delta < 0x8000 else expect - (0x10000 - delta)
        if block in drop:
            drop.discard(block)
            continue
        if block != expect:
            if block > expect and not gap:
                ack(expect - 1)
                gap, since = True, 0
            continue
        got += data[4:]
        expect, since, gap = expect + 1, since + 1, False
        if len(data) - 4 < B:
            ack(block)
            break
        if since == W:
            ack(block)
            since = 0
    results = {"sha256": __import__("hashlib").sha256(got).hexdigest(), "packets": packets, "blocks": expect - 1}
else:  # "busy": hold n transfers open without acknowledging, then one more
    held = [request(job["packet"]) for _ in range(job["n"])]
    results = [first_reply(s) for s in held]
    extra = request(job["packet"])
    results.append(first_reply(extra))
    for s, r in zip(held, results):  # end them: ERROR from the client
        if r["op"] == 3:
            s.sendto(struct.pack("!HH", 5, 0) + b"done\0", (job["server"], r["port"]))
print(json.dumps(results))
'''


def rrq(name, mode=b"octet", opcode=1, extra=b""):
    if isinstance(name, str):
        name = name.encode()
    return (opcode.to_bytes(2, "big") + name + b"\0" + mode + b"\0" + extra).hex()


def raw(tftp, lab, job):
    job["server"] = SERVER
    out = subprocess.run(["ip", "netns", "exec", lab.cli, "/usr/bin/python3", "-c", RAW_CLIENT],
                         input=json.dumps(job), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    if job["kind"] == "each":
        tftp.aborted += sum(1 for r in results if r["op"] in (3, 6))
    return results


def test_path_traversal_refused(tftp, lab):
    names = {
        "../etc/passwd": 2,
        "sub/../../outside/secret": 2,
        "/../outside/secret": 2,
        "/etc/passwd": 1,             # relative to the root: not there
        "escape-abs": 2,              # symlink to /etc/passwd
        "escape-rel": 2,              # symlink to ../outside/secret
        "escape-dir/secret": 2,       # through a symlinked directory
        "sub": 2,                     # a directory
        "a" * 300: 2,                 # component over NAME_MAX
        "b/" * 600: 2,                # over the codec's limit
    }
    results = raw(tftp, lab, {"kind": "each", "packets": [rrq(n) for n in names]})
    for (name, code), r in zip(names.items(), results):
        assert r["op"] == 5 and r["code"] == code, (name[:40], r)
    log = tftp.log()
    for name in ("../etc/passwd", "escape-abs", "escape-rel", "escape-dir/secret"):
        assert f"tftp: {CLIENT}:" in log and f"refused RRQ '{name}'" in log, log[-3000:]
    assert "'..' in file name" in log
    assert "path leaves the boot root" in log
    assert "file name too long" in log
    # Real clients get the refusal too, and no bytes.
    out = os.path.join(tftp.out, "passwd")
    r = lab.run(["curl", "-sS", "--path-as-is", "-o", out, f"tftp://{SERVER}/../etc/passwd"], check=False)
    assert r.returncode != 0 and not os.path.exists(out)
    r = lab.run(["atftp", "-g", "-r", "escape-rel", "-l", out, SERVER], check=False)
    assert r.returncode != 0
    assert not os.path.exists(out) or os.path.getsize(out) == 0


def test_malformed_and_write_requests_refused(tftp, lab):
    results = raw(tftp, lab, {"kind": "each", "packets": [
        rrq("big.bin", opcode=2),                       # WRQ
        rrq("big.bin", mode=b"mail"),                   # RRQ in mail mode
        rrq("pxelinux.cfg/default", mode=b"binary"),    # no such mode
        (b"\0\1pxelinux.cfg/default-file").hex(),       # missing NUL
        rrq("big.bin", extra=b"blksize\0"),             # option without a value
        (b"\0\1big").hex(),                             # tiny: not worth a longer answer
    ]})
    assert [(r["op"], r.get("code")) for r in results] == [(5, 2), (5, 4), (5, 4), (5, 4), (5, 4), (None, None)], \
        results
    assert "refused WRQ 'big.bin': write request" in tftp.log()
    assert "sent a malformed 5-byte request; not answered" in tftp.log()
    # tftp-hpa's put is refused the same way, and nothing is written.
    src = os.path.join(tftp.out, "upload")
    with open(src, "w") as f:
        f.write("x")
    r = lab.run(["tftp", SERVER, "-c", "put", src, "uploaded"], check=False)
    assert "Error code 2: write requests are refused" in r.stdout + r.stderr, r
    assert not os.path.exists(os.path.join(tftp.root, "uploaded"))


def test_options_edge_cases_on_the_wire(tftp, lab):
    """blksize below 8 and windowsize 0 are not acknowledged; duplicates:
    the first wins; unknown options are ignored."""
    results = raw(tftp, lab, {"kind": "each", "packets": [
        rrq("pxelinux.cfg", extra=b"blksize\0" + b"4\0windowsize\0" + b"0\0"),  # all ignored: plain DATA 1
        rrq("pxelinux.cfg", extra=b"blksize\0" + b"100\0BLKSIZE\0" + b"200\0x-vendor\0" + b"1\0"),
    ]})
    assert results[0]["op"] == 3, results
    assert results[1]["op"] == 6, results
    log = tftp.log()
    assert f"RRQ 'pxelinux.cfg' octet: {tftp.cfg_size} bytes, blksize 512, windowsize 1\n" in log
    assert "blksize 100, windowsize 1 (OACK)" in log


def test_loss_retransmission_and_duplicate_acks(tftp, lab):
    """Lost blocks are recovered (by the client's gap ACK, or by the
    server's timeout when the first block of a window is lost), and
    duplicated ACKs never make the server send a window twice."""
    t0 = time.monotonic()
    # Windows of 8 start at 1, 9, 17...: block 9 opens the second one, so
    # its loss leaves the client only a duplicate ACK of 8 to send and the
    # server must time out (1 s). Block 100 is mid-window: the gap ACK of
    # 99 restarts the window at once.
    r = raw(tftp, lab, {"kind": "lossy", "name": "lossy.bin", "windowsize": 8, "drop": [9, 100]})
    secs = time.monotonic() - t0
    assert r["sha256"] == tftp.sha["lossy.bin"] and r["blocks"] == 201, r
    # 201 blocks; a window resent after the timeout and part of one after
    # the gap. Answering each duplicate ACK would have sent ~400.
    assert 201 < r["packets"] <= 201 + 8 + 8, r
    assert 1.0 <= secs < 6, secs
    sent(tftp, "sent 'lossy.bin'")
    line = next(x for x in tftp.log().splitlines() if "sent 'lossy.bin'" in x)
    resent = int(line.split(", ")[-1].split()[0])
    assert r["packets"] == 201 + resent, (r, line)


def test_server_busy_past_the_limit(tftp, lab):
    # Transfers the raw client started earlier must be over first.
    tftp.rack.daemon.wait_log("ERROR 0 'abort'", count=tftp.aborted, timeout=10)
    results = raw(tftp, lab, {"kind": "busy", "n": MAX_TRANSFERS, "packet": rrq("mid.bin")})
    assert all(r["op"] == 3 for r in results[:-1]), results
    assert results[-1]["op"] == 5 and results[-1]["code"] == 0 and results[-1]["msg"] == "server busy", results[-1]
    assert "server busy (tftp_max_transfers)" in tftp.log()
    # The held transfers end on the clients' ERROR; the server has room again.
    tftp.rack.daemon.wait_log("client sent ERROR 0 'done'", count=MAX_TRANSFERS, timeout=10)
    out = os.path.join(tftp.out, "after-busy")
    lab.run(["curl", "-sS", "-o", out, f"tftp://{SERVER}/pxelinux.cfg"])
    assert os.path.getsize(out) == tftp.cfg_size


# One host opening RRQs it never acknowledges, each from its own port and
# asking for a 255 s timeout, from job["source"]. Prints the first answer
# to each as one JSON line, keeps its sockets open until a line arrives on
# stdin, then ends the transfers it got with an ERROR.
FLOOD_CLIENT = r'''
import json, socket, struct, sys
job = json.loads(sys.stdin.readline())
server = (job["server"], 69)
pkt = b"\0\1" + job["name"].encode() + b"\0octet\0timeout\0" + b"255\0blksize\0" + b"1468\0"
socks = []
for _ in range(job["n"]):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((job["source"], 0))
    s.sendto(pkt, server)
    socks.append(s)
results = []
for s in socks:
    s.settimeout(3)
    try:
        data, addr = s.recvfrom(70000)
    except socket.timeout:
        results.append({"op": None})
        continue
    op = struct.unpack("!H", data[:2])[0]
    r = {"op": op, "port": addr[1]}
    if op == 5:
        r["code"] = struct.unpack("!H", data[2:4])[0]
        r["msg"] = data[4:].split(b"\0")[0].decode(errors="replace")
    if op == 6:
        f = data[2:].split(b"\0")
        r["options"] = {f[i].decode(): f[i + 1].decode() for i in range(0, len(f) - 1, 2)}
    results.append(r)
print(json.dumps(results), flush=True)
sys.stdin.readline()
for s, r in zip(socks, results):
    if r["op"] == 6:
        s.sendto(struct.pack("!HH", 5, 0) + b"flood over\0", (job["server"], r["port"]))
'''


def test_one_host_cannot_take_every_slot(tftp, lab):
    """issue 15: one host held 743 slots with never-acknowledged
    'timeout 255' requests and a real client then got 'server busy'. With
    the default per-client limit (16) of 40 slots, the flood gets 16 and a
    refusal, the 255 s timeout is not acknowledged, and tftp-hpa from
    another address is served while the flood's transfers are still open."""
    lab.run(["ip", "addr", "add", f"{ATTACKER}/24", "dev", "eth0"])
    tftp.rack.stop()
    proc = None
    try:
        tftp.start_rack(max_transfers=40, per_client=None)
        assert "up to 40 transfers (16 per client)" in tftp.log()
        proc = subprocess.Popen(["ip", "netns", "exec", lab.cli, "/usr/bin/python3", "-c", FLOOD_CLIENT],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        proc.stdin.write(json.dumps({"server": SERVER, "source": ATTACKER, "name": "big.bin", "n": 60}) + "\n")
        proc.stdin.flush()
        results = json.loads(proc.stdout.readline())
        started = [r for r in results if r["op"] == 6]
        refused = [r for r in results if r["op"] == 5]
        assert len(started) == 16 and len(refused) == 44, results
        assert all(r["options"] == {"blksize": "1468"} for r in started), started[:2]
        assert all(r["code"] == 0 and r["msg"] == "too many transfers from your address" for r in refused), refused[:2]
        assert "too many transfers from this address (tftp_max_transfers_per_client)" in tftp.log()
        # The 16 are still open (never acknowledged); a real client is served.
        out_path = os.path.join(tftp.out, "hpa-during-flood")
        r = lab.run(["tftp", "-m", "binary", SERVER, "-c", "get", "pxelinux.cfg", out_path], timeout=60)
        assert os.path.getsize(out_path) == tftp.cfg_size, r.stdout + r.stderr + tftp.log()[-2000:]
        sent(tftp, "sent 'pxelinux.cfg'")
        assert f"tftp: {CLIENT}:" in tftp.log()
        assert f"tftp: {ATTACKER}:" in tftp.log() and "'big.bin' failed" not in tftp.log()
        proc.stdin.write("end\n")
        proc.stdin.flush()
        assert proc.wait(timeout=30) == 0
        tftp.rack.daemon.wait_log("with ERROR 0 'flood over'", count=16, timeout=10)
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        tftp.rack.stop()
        lab.run(["ip", "addr", "del", f"{ATTACKER}/24", "dev", "eth0"], check=False)
        tftp.start_rack()


def test_transfer_threads_and_a_stop_mid_transfer(tftp, lab):
    """Transfers spread over --tftp-workers threads, and a rack stopped
    while they run ends each one with its log line and exits cleanly (the
    sanitizer pass checks the threads' teardown)."""
    tftp.rack.stop()
    try:
        tftp.start_rack(extra=["--tftp-workers", "3"])
        assert "transfers (" in tftp.log() and "on 3 threads" in tftp.log(), tftp.log()[-2000:]
        # Six at once on three threads: all correct.
        procs = [lab.popen(["sh", "-c", f"curl -sS --tftp-blksize 1468 -o - tftp://{SERVER}/mid.bin | sha256sum"])
                 for _ in range(6)]
        outs = [p.communicate(timeout=120) for p in procs]
        assert all(p.returncode == 0 for p in procs), outs
        assert all(o[0].split()[0] == tftp.sha["mid.bin"] for o in outs), outs
        # Each thread (named tftp-1..3) sent some of them: each used CPU.
        pid = tftp.rack.daemon.proc.pid
        used = {}
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            if name.startswith("tftp-"):
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                used[name] = int(fields[11]) + int(fields[12])  # utime + stime, ticks
        assert sorted(used) == ["tftp-1", "tftp-2", "tftp-3"] and all(used.values()), used
        # Four slow ones (512-byte lock-step, 64 MiB), then the stop.
        slow = [lab.popen(["tftp", "-m", "binary", SERVER, "-c", "get", "big.bin", "/dev/null"]) for _ in range(4)]
        tftp.rack.daemon.wait_log("RRQ 'big.bin'", count=4, timeout=20)
        time.sleep(0.5)
        assert tftp.rack.stop() == 0, tftp.log()[-3000:]
        for p in slow:
            p.kill()
            p.wait()
        log = tftp.log()
        assert log.count("'big.bin' failed after") == 4 and log.count("server shutting down") == 4, log[-3000:]
    finally:
        tftp.rack.stop()
        tftp.start_rack()


def test_ipv6_and_ipv4_on_a_dual_stack_socket(tftp, lab):
    tftp.rack.stop()
    try:
        tftp.start_rack(listen="[::]:69")
        out = os.path.join(tftp.out, "v6")
        lab.run(["curl", "-sS", "--tftp-blksize", "1468", "-o", out, f"tftp://[{SERVER6}]/mid.bin"])
        assert sha256_file(out) == tftp.sha["mid.bin"]
        lab.run(["curl", "-sS", "-o", out, f"tftp://{SERVER}/mid.bin"])
        assert sha256_file(out) == tftp.sha["mid.bin"]
        log = tftp.log()
        assert f"tftp: [{CLIENT6}]:" in log and f"tftp: {CLIENT}:" in log
    finally:
        tftp.rack.stop()
        tftp.start_rack()


def test_serves_with_the_region_down(tftp, lab):
    tftp.region.stop()
    tftp.rack.daemon.wait_log("lost region", timeout=20)
    out = os.path.join(tftp.out, "region-down")
    lab.run(["atftp", "--option", "blksize 1468", "--option", "windowsize 16", "-g", "-r", "mid.bin", "-l", out,
             SERVER])
    assert sha256_file(out) == tftp.sha["mid.bin"]
    # And after a restart that cannot reach the region at all.
    tftp.rack.stop()
    tftp.start_rack(wait=False)
    os.unlink(out)
    lab.run(["curl", "-sS", "--tftp-blksize", "1468", "-o", out, f"tftp://{SERVER}/mid.bin"])
    assert sha256_file(out) == tftp.sha["mid.bin"]
    assert "connected to region" not in tftp.log()
