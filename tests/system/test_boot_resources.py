"""Boot resources end to end: a region publishing files from its
boot_resources_dir over mutual-TLS HTTPS, an enrolled rack fetching and
verifying them into its boot root, and the loaders from Debian packages.

Everything runs on loopback: the region's resource listener and, where a
test asks for it, the rack's TFTP server on a free 127.0.0.1 port (no
namespace, no DHCP, no PXE)."""

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess

import pytest

from conftest import Rack, Region, free_port, make_dir, needs_tools, wait_for

KERNEL = "ephemeral/amd64/vmlinuz"
INITRD = "ephemeral/amd64/initrd.img"
KERNEL_SIZE = 20 << 20
INITRD_SIZE = 300 * 1024 + 17

# (package, file in the package, name in the boot root)
LOADERS = [
    ("pxelinux", "/usr/lib/PXELINUX/pxelinux.0", "pxelinux.0"),
    ("syslinux-common", "/usr/lib/syslinux/modules/bios/ldlinux.c32", "ldlinux.c32"),
    ("ipxe", "/usr/lib/ipxe/undionly.kpxe", "undionly.kpxe"),
]



@pytest.fixture(autouse=True, scope="module")
def curl_needed():
    needs_tools("curl")



def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_random(path, size):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    return sha256_file(path)


class ResourceRegion(Region):
    """A region publishing res_dir on its own HTTPS port. No periodic
    rescans: tests say when to look again (SIGHUP)."""

    def __init__(self, state_dir, res_dir):
        super().__init__(state_dir)
        self.res_dir = res_dir
        self.res_port = 0  # the kernel's choice; a restart asks for the same again

    def start(self):
        super().start()
        self.res_port = self.port("boot-resources")
        return self

    def args(self):
        return super().args() + ["--boot-resources-dir", self.res_dir,
                                 "--boot-resources-listen", f"127.0.0.1:{self.res_port}",
                                 "--boot-resources-rescan", "0"]

    def file_url(self, name):
        return f"https://127.0.0.1:{self.res_port}/boot-resources/{name}"

    def rescan(self):
        self.daemon.proc.send_signal(signal.SIGHUP)


class World:
    def __init__(self, workdir):
        self.workdir = workdir
        self.res_dir = os.path.join(workdir, "published")
        self.sha = {KERNEL: write_random(os.path.join(self.res_dir, KERNEL), KERNEL_SIZE),
                    INITRD: write_random(os.path.join(self.res_dir, INITRD), INITRD_SIZE)}
        # Never published: a symlink (even one pointing inside) and a hidden file.
        os.symlink("vmlinuz", os.path.join(self.res_dir, "ephemeral/amd64/link"))
        with open(os.path.join(self.res_dir, ".hidden"), "w") as f:
            f.write("x")
        self.region = ResourceRegion(os.path.join(workdir, "region"), self.res_dir)
        os.makedirs(self.region.state_dir, mode=0o700)
        self.region.start()
        self.rack = Rack(self.region, os.path.join(workdir, "rack"), "res-rack")
        self.boot = os.path.join(self.rack.state_dir, "boot")

    def start_rack(self, first=False, **kw):
        if first:
            self.rack.start(secret=self.region.secret, fingerprint=self.region.fingerprint, **kw)
        else:
            self.rack.start(**kw)
        return self.rack.daemon

    def log(self):
        return self.rack.daemon.text()

    def in_sync(self, count=1, timeout=60):
        self.rack.daemon.wait_log("boot resources: in sync, ", count=count, timeout=timeout)

    def stop(self):
        try:
            self.rack.stop()
        finally:
            self.region.stop()


@pytest.fixture
def world():
    workdir = make_dir("irres-")
    w = None
    try:
        w = World(workdir)
        yield w
    finally:
        if w:
            w.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def boot_sha(w, name):
    return sha256_file(os.path.join(w.boot, name))


def test_rack_fetches_verifies_and_serves_without_the_region(world):
    w = world
    w.region.daemon.wait_log("boot resources: publishing 2 files")
    region_log = w.region.daemon.text()
    assert "ephemeral/amd64/link not published: symbolic links are not published" in region_log

    w.start_rack(first=True)
    w.in_sync()
    log = w.log()
    for name, size in ((KERNEL, KERNEL_SIZE), (INITRD, INITRD_SIZE)):
        assert re.search(rf"boot resources: fetched {re.escape(name)}: {size} bytes in [0-9.]+ s, sha256 verified",
                         log), log[-3000:]
        assert boot_sha(w, name) == w.sha[name]
    assert not os.path.exists(os.path.join(w.boot, "ephemeral/amd64/link"))
    assert not any(n.endswith(".part") for n in os.listdir(os.path.join(w.boot, "ephemeral/amd64")))
    with open(os.path.join(w.rack.state_dir, "boot-resources.manifest")) as f:
        manifest = f.read()
    assert f"# origin {w.boot}\n" in manifest
    assert f"{KERNEL} {KERNEL_SIZE} " in manifest and w.sha[KERNEL] in manifest

    # A restart finds everything in place from the manifest: no download.
    w.rack.stop()
    w.start_rack()
    w.in_sync()
    assert "boot resources: fetched" not in w.log()
    assert "in sync, 2 listed: 2 present, 0 fetched" in w.log()

    # The region goes away; the restarted rack keeps its files and serves
    # them over TFTP.
    w.rack.stop()
    w.region.stop()
    port = free_port(socket.SOCK_DGRAM)  # the rack writes no port file for TFTP
    w.start_rack(wait=False, extra=["--tftp-listen", f"127.0.0.1:{port}"])
    w.rack.daemon.wait_log("tftp: serving")
    w.in_sync()
    for name in (KERNEL, INITRD):
        assert boot_sha(w, name) == w.sha[name]
        out = os.path.join(w.workdir, os.path.basename(name) + ".tftp")
        r = subprocess.run(["curl", "-sS", "--tftp-blksize", "1468", "-o", out, f"tftp://127.0.0.1:{port}/{name}"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert sha256_file(out) == w.sha[name]


def curl(w, name, *args, path=None):
    """(exit code, HTTP code, body bytes, stderr) of a curl to the region's listener."""
    out = os.path.join(w.workdir, "curl.out")
    if os.path.exists(out):
        os.unlink(out)
    ca = os.path.join(w.region.state_dir, "tls", "ca.crt")
    url = f"https://127.0.0.1:{w.region.res_port}{path}" if path else w.region.file_url(name)
    r = subprocess.run(["curl", "-sS", "--cacert", ca, "-o", out, "-w", "%{http_code}", *args, url],
                       capture_output=True, text=True, timeout=60)
    body = open(out, "rb").read() if os.path.exists(out) else b""
    return r.returncode, r.stdout.strip(), body, r.stderr


def test_listener_is_for_racks_only(world):
    w = world
    w.start_rack(first=True)
    w.in_sync()
    with open(os.path.join(w.res_dir, INITRD), "rb") as f:
        initrd = f.read()
    tls = os.path.join(w.rack.state_dir, "tls")
    rack_cert = ["--cert", os.path.join(tls, "rack.crt"), "--key", os.path.join(tls, "rack.key")]

    # No client certificate: refused in the TLS handshake, not a byte of data.
    rc, code, body, err = curl(w, INITRD)
    assert rc != 0 and body == b"", (rc, code, err)
    # The region's own server certificate is from the same CA, but not a
    # client certificate.
    srv = os.path.join(w.region.state_dir, "tls")
    rc, code, body, err = curl(w, INITRD, "--cert", os.path.join(srv, "server.crt"),
                               "--key", os.path.join(srv, "server.key"))
    assert rc != 0 and body == b"", (rc, code, err)

    # The rack's certificate: the file, a range of it, HEAD.
    rc, code, body, err = curl(w, INITRD, *rack_cert)
    assert (rc, code) == (0, "200"), err
    assert body == initrd
    rc, code, body, err = curl(w, INITRD, *rack_cert, "-r", "1000-1999")
    assert (rc, code, body) == (0, "206", initrd[1000:2000]), err
    rc, code, body, err = curl(w, INITRD, *rack_cert, "-r", f"{INITRD_SIZE}-")
    assert code == "416", (rc, code, err)
    rc, code, _, err = curl(w, INITRD, *rack_cert, "-I")
    assert (rc, code) == (0, "200"), err

    # Only published names, only inside the directory.
    for path in ("/boot-resources/ephemeral/amd64/link", "/boot-resources/nothere", "/api/v1/version", "/"):
        rc, code, body, _ = curl(w, None, *rack_cert, path=path)
        assert code == "404", (path, code, body)
    for path in ("/boot-resources/.hidden", "/boot-resources/../tls/ca.key", "/boot-resources/%2e%2e/tls/ca.key",
                 "/boot-resources/ephemeral/amd64/%2e%2e/%2e%2e/%2e%2e/tls/ca.key",
                 "/boot-resources//etc/passwd", "/boot-resources/%2fetc%2fpasswd"):
        rc, code, body, _ = curl(w, None, *rack_cert, "--path-as-is", path=path)
        assert code == "400", (path, code, body)
        assert b"PRIVATE KEY" not in body and b"root:" not in body
    rc, code, _, _ = curl(w, INITRD, *rack_cert, "-X", "POST")
    assert code in ("405", "501"), code


def test_corrupted_download_rejected_then_fixed(world):
    w = world
    w.start_rack(first=True)
    w.in_sync()
    # The region's file changes in place after it was listed, with its size
    # and mtime kept: the listed sha256 is now wrong.
    src = os.path.join(w.res_dir, INITRD)
    st = os.stat(src)
    with open(src, "r+b") as f:
        f.write(os.urandom(INITRD_SIZE))
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    new_sha = sha256_file(src)
    os.unlink(os.path.join(w.boot, INITRD))
    w.rack.stop()
    w.start_rack()
    w.rack.daemon.wait_log(f"boot resources: {INITRD} from ")
    log = w.log()
    assert f"{INITRD} from {w.region.file_url(INITRD)} rejected, not installed: got {INITRD_SIZE} bytes with sha256 " \
        f"{new_sha}, expected {INITRD_SIZE} bytes with {w.sha[INITRD]}" in log, log[-3000:]
    w.rack.daemon.wait_log("listed files missing")
    assert not os.path.exists(os.path.join(w.boot, INITRD))
    assert not os.path.exists(os.path.join(w.boot, INITRD + ".part"))
    assert boot_sha(w, KERNEL) == w.sha[KERNEL]  # the rest keeps being served

    # SIGHUP: the region looks again (ctime changed), publishes the new
    # hash, and the rack gets a new config version and the new file.
    w.region.rescan()
    w.region.daemon.wait_log("1 changed, 0 gone")
    wait_for(lambda: os.path.exists(os.path.join(w.boot, INITRD)) and boot_sha(w, INITRD) == new_sha,
             timeout=60, what="the new initrd on the rack")

    # A file the region stops publishing is removed from the rack; the
    # boot loaders and the other resource stay.
    os.unlink(src)
    w.region.rescan()
    w.region.daemon.wait_log("0 changed, 1 gone")
    wait_for(lambda: not os.path.exists(os.path.join(w.boot, INITRD)), timeout=60, what="initrd removed")
    w.rack.daemon.wait_log(f"boot resources: removed {INITRD} (no longer listed)")
    assert boot_sha(w, KERNEL) == w.sha[KERNEL]
    assert os.path.isdir(os.path.join(w.boot, "ephemeral/amd64"))


def test_loaders_installed_from_packages(world):
    missing = [src for _, src, _ in LOADERS if not os.path.exists(src)]
    assert not missing, f"missing {', '.join(missing)} (pxelinux, syslinux-common, ipxe): run deploy/install-deps"
    w = world
    w.start_rack(first=True)
    w.rack.daemon.wait_log("loaders: ")
    for _, src, dst in LOADERS:
        path = os.path.join(w.boot, dst)
        assert os.path.isfile(path) and not os.path.islink(path), dst
        assert sha256_file(path) == sha256_file(src), dst
        assert os.stat(path).st_ino != os.stat(src).st_ino, f"{dst} is a hard link to the package's file"
    log = w.log()
    assert re.search(r"loaders: installed .*pxelinux\.0.* into ", log), log[-2000:]
    if not os.path.exists("/usr/lib/shim/shimx64.efi.signed"):
        assert re.search(r"loaders: packages not installed on this host .*shim-signed", log), log[-2000:]

    # A changed copy is replaced (by rename: a TFTP transfer in flight keeps
    # the old file); an unchanged one is left alone.
    pxe = os.path.join(w.boot, "pxelinux.0")
    tmp = pxe + ".junk"
    with open(tmp, "wb") as f:
        f.write(b"not a loader")
    os.replace(tmp, pxe)
    ino_ldlinux = os.stat(os.path.join(w.boot, "ldlinux.c32")).st_ino
    w.rack.stop()
    w.start_rack()
    assert sha256_file(pxe) == sha256_file("/usr/lib/PXELINUX/pxelinux.0")
    assert "loaders: installed pxelinux.0 into" in w.log(), w.log()
    assert os.stat(os.path.join(w.boot, "ldlinux.c32")).st_ino == ino_ldlinux

    # loaders = off leaves the boot root alone.
    os.unlink(pxe)
    w.rack.stop()
    w.start_rack(extra=["--loaders", "off"])
    assert "loaders: not managed (loaders = off)" in w.log()
    assert not os.path.exists(pxe)
