"""The image registry end to end (docs/deploy.md, "Images"): images added
with the CLI (raw and gzip), uploaded in chunks to a real region, checked
against their SHA-256, published as boot resources images/NAME and served
by a rack's HTTP boot server byte for byte, with Range; a wrong SHA-256
refused with the checksum message; an interrupted upload resumed; delete
refused while a machine is DEPLOYING with the image, and otherwise taking
it off the racks.

The rack's HTTP boot server listens on loopback, on a port of the kernel's
choosing: no namespace is needed. Tests run in file order and share one
region and rack."""

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import Rack, Region, cli, make_dir, needs_tools, port_file, wait_for
from nethelp import psql

MIB = 1 << 20


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class Lab:
    def __init__(self, workdir):
        self.workdir = workdir
        self.region = Region(os.path.join(workdir, "region"))
        os.makedirs(self.region.state_dir, mode=0o700)
        self.region.start()
        self.boot = os.path.join(workdir, "boot")
        os.makedirs(self.boot)
        self.rack = Rack(self.region, os.path.join(workdir, "rack"), "img-rack")
        self.rack.start(secret=self.region.secret, fingerprint=self.region.fingerprint,
                        extra=["--http-boot-listen", "127.0.0.1:0", "--boot-root", self.boot])
        self.port = port_file(self.rack.state_dir, "http-boot", self.rack.daemon.proc)[1]
        self.images_dir = os.path.join(self.region.state_dir, "boot-resources", "images")

    def file(self, name, data):
        path = os.path.join(self.workdir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def cli(self, *args, check=True):
        return cli(self.region, *args, check=check)

    def put(self, name, data, content_range):
        """(status, JSON) of one PUT /images/NAME/data."""
        req = urllib.request.Request(
            f"{self.region.url}/api/v1/images/{name}/data", data=data, method="PUT",
            headers={"Authorization": f"Bearer {self.region.admin_key}", "Content-Type": "application/octet-stream",
                     **({"Content-Range": content_range} if content_range is not None else {})})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def create(self, name, data, sha=None, fmt="raw"):
        st, body = self.region.api("POST", "/api/v1/images", {"name": name, "format": fmt,
                                                              "sha256": sha or sha256(data), "size": len(data)})
        assert st == 201, body
        assert body["status"] == "uploading" and body["uploaded"] == 0, body
        return body

    def served(self, name, *curl_args):
        """(HTTP code, body) of the rack's HTTP boot server for /images/NAME."""
        out = os.path.join(self.workdir, "served.out")
        if os.path.exists(out):
            os.unlink(out)
        r = subprocess.run(["curl", "-sS", "-o", out, "-w", "%{http_code}", *curl_args,
                            f"http://127.0.0.1:{self.port}/images/{name}"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        body = open(out, "rb").read() if os.path.exists(out) else b""
        return r.stdout.strip(), body

    def wait_served(self, name, data):
        wait_for(lambda: self.served(name)[0] == "200", timeout=30, what=f"the rack serving images/{name}")
        code, body = self.served(name)
        assert code == "200" and len(body) == len(data) and body == data

    def stop(self):
        try:
            self.rack.stop()
        finally:
            self.region.stop()


@pytest.fixture(scope="module")
def lab():
    needs_tools("curl", "psql")
    workdir = make_dir("irimg-")
    lab = None
    try:
        lab = Lab(workdir)
        yield lab
    finally:
        if lab:
            lab.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# A disk image of a few MiB: random bytes, with a run of zeros that gzip
# can shrink.
RAW = os.urandom(3 * MIB + 4321) + bytes(2 * MIB)
GZ = gzip.compress(RAW, compresslevel=1)


def test_add_raw_and_gzip_and_the_rack_serves_them(lab):
    raw = lab.file("disk.img", RAW)
    gz = lab.file("disk.img.gz", GZ)
    out = lab.cli("images", "add", raw, "--name", "deb-raw", "--description", "raw test image")
    assert "deb-raw" in out.stdout and " ready " in out.stdout and " raw " in out.stdout, out.stdout
    out = lab.cli("images", "add", gz, "--name", "deb-gz", "--arch", "amd64")
    assert "deb-gz" in out.stdout and " gzip " in out.stdout, out.stdout

    listed = json.loads(lab.cli("images", "list", "--json").stdout)["images"]
    by_name = {i["name"]: i for i in listed}
    assert by_name["deb-raw"]["status"] == "ready" and by_name["deb-gz"]["status"] == "ready"
    assert by_name["deb-raw"]["sha256"] == sha256(RAW) and by_name["deb-raw"]["size"] == len(RAW)
    assert by_name["deb-gz"]["sha256"] == sha256(GZ) and by_name["deb-gz"]["format"] == "gzip"
    assert by_name["deb-gz"]["url"] == "/images/deb-gz"
    text = lab.cli("images", "list").stdout
    assert text.splitlines()[0].split() == ["NAME", "ARCH", "FORMAT", "SIZE", "STATUS", "SHA256", "DESCRIPTION"]
    show = lab.cli("images", "show", "deb-raw").stdout
    assert sha256(RAW) in show and "raw test image" in show

    # The region keeps the bytes as the published file, the upload file gone.
    assert sorted(os.listdir(lab.images_dir)) == ["deb-gz", "deb-raw"]

    # The rack fetches them like any boot resource and serves them whole
    # and by range.
    lab.wait_served("deb-raw", RAW)
    lab.wait_served("deb-gz", GZ)
    code, part = lab.served("deb-raw", "-r", "1000000-3999999")
    assert code == "206" and part == RAW[1000000:4000000]
    code, tail = lab.served("deb-gz", "-r", f"{len(GZ) - 100}-")
    assert code == "206" and tail == GZ[-100:]

    # Adding the same file again changes nothing; another file under the
    # name is refused.
    again = lab.cli("images", "add", raw, "--name", "deb-raw")
    assert "already in the region" in again.stderr
    clash = lab.cli("images", "add", gz, "--name", "deb-raw", check=False)
    assert clash.returncode == 1 and "exists with another content" in clash.stderr


def test_requests_the_region_refuses(lab):
    st, body = lab.region.api("POST", "/api/v1/images", {"name": "deb-raw", "format": "raw",
                                                         "sha256": sha256(b"x"), "size": 1})
    assert st == 409 and body["error"]["field"] == "name", body
    for bad, field in (({"name": "../x", "format": "raw", "sha256": "0" * 64, "size": 1}, "name"),
                       ({"name": "x.part", "format": "raw", "sha256": "0" * 64, "size": 1}, "name"),
                       ({"name": "x", "format": "qcow2", "sha256": "0" * 64, "size": 1}, "format"),
                       ({"name": "x", "format": "raw", "sha256": "abc", "size": 1}, "sha256"),
                       ({"name": "x", "format": "raw", "sha256": "0" * 64, "size": 0}, "size"),
                       ({"name": "x", "format": "raw", "sha256": "0" * 64}, "size"),
                       ({"name": "x", "format": "raw", "sha256": "0" * 64, "size": 1, "uploaded": 1}, "uploaded")):
        st, body = lab.region.api("POST", "/api/v1/images", bad)
        assert st == 400 and body["error"]["field"] == field, (bad, body)

    data = os.urandom(100)
    lab.create("small", data)
    assert lab.put("small", data, None)[0] == 400
    assert lab.put("small", data, "bytes 0-99")[0] == 400
    st, body = lab.put("small", data, "bytes 50-10/100")
    assert st == 416, body
    st, body = lab.put("small", data, "bytes 0-99/99")
    assert st == 416, body
    st, body = lab.put("small", data[:50], "bytes 0-99/100")
    assert st == 400 and "the body holds 50 bytes" in body["error"]["message"], body
    st, body = lab.put("small", data[10:], "bytes 10-99/100")
    assert st == 409 and body["error"]["uploaded"] == 0 and "resume at byte 0" in body["error"]["message"], body
    st, body = lab.put("small", b"", "bytes */100")
    assert st == 409 and body["error"]["uploaded"] == 0, body
    assert lab.put("nosuch", data, "bytes 0-99/100")[0] == 404
    assert lab.region.api("GET", "/api/v1/images/nosuch")[0] == 404
    assert lab.region.api("DELETE", "/api/v1/images/small")[0] == 200
    assert not os.path.exists(os.path.join(lab.images_dir, ".small.upload"))


def test_wrong_sha256_fails_with_the_checksum_message(lab):
    data = os.urandom(MIB + 10)
    wrong = sha256(b"not the image")
    lab.create("bad", data, sha=wrong)
    assert lab.put("bad", data[:MIB], f"bytes 0-{MIB - 1}/{len(data)}")[0] == 200
    st, body = lab.put("bad", data[MIB:], f"bytes {MIB}-{len(data) - 1}/{len(data)}")
    assert st == 422, body
    assert body["error"]["message"].startswith(f"checksum: expected {wrong}, got {sha256(data)}"), body
    st, img = lab.region.api("GET", "/api/v1/images/bad")
    assert img["status"] == "uploading" and img["uploaded"] == 0, img
    assert os.path.getsize(os.path.join(lab.images_dir, ".bad.upload")) == 0
    assert not os.path.exists(os.path.join(lab.images_dir, "bad"))
    assert lab.cli("images", "delete", "bad").returncode == 0


def test_interrupted_upload_resumes(lab):
    data = os.urandom(4 * MIB + 999)
    path = lab.file("resume.img", data)
    # An upload that stopped after two chunks (as a killed CLI leaves it) ...
    lab.create("resume", data)
    for i in range(2):
        st, body = lab.put("resume", data[i * MIB:(i + 1) * MIB], f"bytes {i * MIB}-{(i + 1) * MIB - 1}/{len(data)}")
        assert st == 200 and body["uploaded"] == (i + 1) * MIB, body
    show = lab.cli("images", "show", "resume").stdout
    assert "uploading 49%" in show and "2097152 bytes" in show, show
    # ... whose last chunk the region's disk lost part of: it says so and
    # the CLI goes on from the byte it really has.
    with open(os.path.join(lab.images_dir, ".resume.upload"), "r+b") as f:
        f.truncate(MIB + 100)
    out = lab.cli("images", "add", path, "--name", "resume")
    assert f"resuming the upload at byte {2 * MIB} of {len(data)}" in out.stderr, out.stderr
    assert f"the region has {MIB + 100} bytes; going on from there" in out.stderr, out.stderr
    assert " ready " in out.stdout, out.stdout
    lab.wait_served("resume", data)


def test_delete_refused_while_deploying_then_leaves_the_racks(lab):
    st, m = lab.region.api("POST", "/api/v1/machines", {"hostname": "img-node-1"})
    assert st == 201, m
    psql(lab.region, f"UPDATE machine SET status = 'DEPLOYING' WHERE id = {m['id']}")
    psql(lab.region, "INSERT INTO machine_deploy (machine_id, image_id, image_name, image_sha256) "
                     f"SELECT {m['id']}, id, name, sha256 FROM image WHERE name = 'deb-raw'")
    refused = lab.cli("images", "delete", "deb-raw", check=False)
    assert refused.returncode == 1
    assert "image deb-raw is being deployed to img-node-1 (DEPLOYING)" in refused.stderr, refused.stderr
    assert lab.served("deb-raw")[0] == "200"

    # Deployed is no obstacle: the record keeps the name and sha256.
    psql(lab.region, f"UPDATE machine SET status = 'DEPLOYED' WHERE id = {m['id']}")
    assert lab.cli("images", "delete", "deb-raw").stdout.strip() == "Deleted image deb-raw."
    assert psql(lab.region, f"SELECT coalesce(image_id::text, 'null') || ' ' || image_name "
                            f"FROM machine_deploy WHERE machine_id = {m['id']}") == "null deb-raw"
    assert not os.path.exists(os.path.join(lab.images_dir, "deb-raw"))
    wait_for(lambda: lab.served("deb-raw")[0] == "404", timeout=30, what="the rack dropping images/deb-raw")
    assert lab.served("deb-gz")[0] == "200"
    assert [i["name"] for i in json.loads(lab.cli("images", "list", "--json").stdout)["images"]] == \
        ["deb-gz", "resume"]
