"""ironrack-imgwrite (deploy/ephemeral/imgwrite/), the static image writer
the ephemeral agent runs for a deploy (docs/deploy.md, "The agent's
protocol"), against a small Python HTTP server on 127.0.0.1
(tests/system/imgserve.py) with a regular file as the disk: raw, gzip and
zstd images land byte for byte; a broken connection resumes with Range; a
server that ignores Range is started over only while nothing is written;
each failure has its exit code (2 download, 3 verify, 4 write, 64 usage)
and its one stderr line."""

import gzip
import hashlib
import os
import re
import resource
import shutil
import signal
import socket
import subprocess

import pytest

from conftest import BUILD, SANITIZED
from imgserve import ImageServer

pytestmark = pytest.mark.skipif(
    SANITIZED, reason="ironrack-imgwrite is a static binary, built in the plain pass only (no ASan with -static); "
    "its codec and pipeline run under the sanitizers as unit tests")

IMGWRITE = os.path.join(BUILD, "ironrack-imgwrite")
MIB = 1 << 20
RESULT = re.compile(r"^bytes=(\d+) download_ms=(\d+) write_ms=(\d+) sha256=([0-9a-f]{64})$")


def make_image():
    """12 MiB + a bit: random, zero and patterned stretches, as a disk image
    has (not a multiple of the writer's 4 MiB chunk)."""
    parts = []
    for i in range(12):
        if i % 3 == 0:
            parts.append(os.urandom(MIB))
        elif i % 3 == 1:
            parts.append(bytes(MIB))
        else:
            parts.append(bytes(range(256)) * (MIB // 256))
    parts.append(os.urandom(12345))
    return b"".join(parts)


@pytest.fixture(scope="module")
def images():
    assert os.access(IMGWRITE, os.X_OK), f"{IMGWRITE} is not built (make builds it)"
    zstd = shutil.which("zstd")
    assert zstd, "the zstd tool is missing (deploy/install-deps installs it)"
    raw = make_image()
    half = len(raw) // 2
    # Two gzip members, as `gzip -c a b` makes: one stream to gzip -d.
    gz = gzip.compress(raw[:half], compresslevel=1) + gzip.compress(raw[half:], compresslevel=1)
    zst = subprocess.run([zstd, "-q", "-3", "-c"], input=raw, capture_output=True, check=True).stdout
    return {"raw": raw, "gzip": gz, "zstd": zst}


@pytest.fixture
def server(images):
    srv = ImageServer({f"/images/{fmt}": data for fmt, data in images.items()})
    yield srv
    srv.close()


@pytest.fixture
def disk(tmp_path):
    """An existing file a little longer than the image, filled with 0xff:
    what lies beyond the image must stay as it was."""
    path = tmp_path / "disk"
    path.write_bytes(b"\xff" * (13 * MIB))
    return path


def sha(data):
    return hashlib.sha256(data).hexdigest()


def run(server, fmt, data, disk, *extra, sha256=None, size=None, path=None, preexec=None, timeout=30):
    args = [IMGWRITE, "--url", server.url(path or f"/images/{fmt}"), "--sha256", sha256 or sha(data),
            "--size", str(len(data) if size is None else size), "--format", fmt, "--disk", str(disk), *extra]
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, preexec_fn=preexec)


def last_error(r):
    """The error is the last line on stderr (the agent's failed report)."""
    lines = r.stderr.strip().splitlines()
    assert lines, f"exit {r.returncode} with nothing on stderr"
    return lines[-1]


def check_written(r, images, fmt, disk):
    raw = images["raw"]
    assert r.returncode == 0, f"exit {r.returncode}: {r.stderr}"
    m = RESULT.match(r.stdout.strip())
    assert m and r.stdout.count("\n") == 1, f"not one result line: {r.stdout!r}"
    assert int(m.group(1)) == len(raw)
    assert m.group(4) == sha(images[fmt])
    got = disk.read_bytes()
    assert got[:len(raw)] == raw, "the disk does not hold the image"
    assert got[len(raw):] == b"\xff" * (13 * MIB - len(raw)), "bytes beyond the image changed"
    return m


@pytest.mark.parametrize("fmt", ["raw", "gzip", "zstd"])
def test_writes_image(images, server, disk, fmt):
    r = run(server, fmt, images[fmt], disk, "--progress-ms", "1")
    check_written(r, images, fmt, disk)
    assert server.requests == [(f"/images/{fmt}", None)]
    assert "ironrack-imgwrite: progress received=" in r.stderr


def test_checksum_mismatch(images, server, disk):
    wrong = "0" * 64
    r = run(server, "zstd", images["zstd"], disk, sha256=wrong)
    assert r.returncode == 3, r.stderr
    assert last_error(r) == f"checksum: expected {wrong}, got {sha(images['zstd'])}"
    assert r.stdout == ""


def test_resumes_after_broken_connections(images, server, disk):
    """Cut twice mid-body: two more requests, each asking Range from the
    byte where the last one broke; the image is whole."""
    data = images["zstd"]
    cut1, cut2 = len(data) // 4, len(data) // 4
    server.drop_after = [cut1, cut2]
    r = run(server, "zstd", data, disk)
    check_written(r, images, "zstd", disk)
    assert server.requests == [("/images/zstd", None), ("/images/zstd", f"bytes={cut1}-"),
                               ("/images/zstd", f"bytes={cut1 + cut2}-")]
    assert f"the connection closed at byte {cut1} of {len(data)}; retrying from byte {cut1}" in r.stderr


def test_retries_a_busy_server(images, server, disk):
    server.fail_first = [503, 503]
    r = run(server, "raw", images["raw"], disk)
    check_written(r, images, "raw", disk)
    assert len(server.requests) == 3
    assert "HTTP 503" in r.stderr


def test_range_ignored_before_writing_starts_over(images, server, disk):
    """The server answers 200 to a Range: while nothing reached the disk
    (the first 4 MiB chunk is not full), start over from byte 0."""
    server.ignore_range = True
    server.drop_after = [MIB]
    r = run(server, "raw", images["raw"], disk)
    check_written(r, images, "raw", disk)
    assert server.requests[1] == ("/images/raw", f"bytes={MIB}-")
    assert "starting over" in r.stderr


def test_range_ignored_after_writing_fails(images, server, disk):
    server.ignore_range = True
    server.drop_after = [6 * MIB]
    r = run(server, "raw", images["raw"], disk)
    assert r.returncode == 2, r.stderr
    assert "ignored Range: bytes=6291456- (200) and the disk has been written to already" in last_error(r)
    assert last_error(r).startswith(f"download: {server.url('/images/raw')}: ")


def test_download_errors(images, server, disk):
    r = run(server, "raw", images["raw"], disk, path="/images/nosuch")
    assert r.returncode == 2
    assert last_error(r) == f"download: {server.url('/images/nosuch')}: HTTP 404 Not Found"

    # Nothing listens: connection refused, retried, then given up on.
    r = subprocess.run([IMGWRITE, "--url", "http://127.0.0.1:1/images/raw", "--sha256", "0" * 64, "--size", "1",
                        "--format", "raw", "--disk", str(disk), "--retries", "1"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert last_error(r) == ("download: http://127.0.0.1:1/images/raw: connect: Connection refused "
                             "(gave up after 2 attempts)")

    # A server that takes the connection and says nothing.
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)
        port = mute.getsockname()[1]
        r = subprocess.run([IMGWRITE, "--url", f"http://127.0.0.1:{port}/images/raw", "--sha256", "0" * 64,
                            "--size", "1", "--format", "raw", "--disk", str(disk), "--retries", "1",
                            "--timeout-ms", "300"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert last_error(r) == (f"download: http://127.0.0.1:{port}/images/raw: waiting for the response: "
                             "nothing for 300 ms (gave up after 2 attempts)")


def test_verify_errors(images, server, disk):
    # The server's file is not the size the region said.
    data = images["raw"]
    r = run(server, "raw", data, disk, size=len(data) - 1)
    assert r.returncode == 3
    assert last_error(r) == f"size: expected {len(data) - 1} bytes, the server has {len(data)}"
    # The checksum matches but the file is not what its format says.
    r = run(server, "gzip", data, disk, path="/images/raw")
    assert r.returncode == 3
    assert last_error(r) == ("gzip: incorrect header check at byte 2 of the file "
                             "(the checksum matches: the image is not valid gzip)")


def test_write_errors(images, server, disk, tmp_path):
    r = run(server, "raw", images["raw"], tmp_path / "nosuch")
    assert r.returncode == 4
    assert last_error(r) == f"write: {tmp_path / 'nosuch'}: No such file or directory"
    assert server.requests == [], "downloaded before the disk was known to be there"

    r = run(server, "raw", images["raw"], "/dev/null")
    assert r.returncode == 4
    assert last_error(r) == "write: /dev/null: neither a block device nor a regular file"

    # A disk that refuses writes past 1 MiB (the file size limit; EFBIG).
    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (MIB, MIB))

    small = tmp_path / "small"
    small.write_bytes(b"")
    r = run(server, "raw", images["raw"], small, preexec=small_disk)
    assert r.returncode == 4, r.stderr
    assert re.fullmatch(rf"write: {re.escape(str(small))}: at byte \d+: File too large", last_error(r))


@pytest.mark.parametrize("change,message", [
    (None, "usage: --url is missing (ironrack-imgwrite --help)"),
    ({"--url": "https://127.0.0.1/x"}, "https is not supported"),
    ({"--url": "http://rack.example/x"}, "must be an IP address"),
    ({"--sha256": "abc"}, "--sha256 abc: not 64 hex digits"),
    ({"--size": "0"}, "--size 0: not a number of bytes above 0"),
    ({"--format": "xz"}, "--format xz: not raw, gzip or zstd"),
    ({"--progress-ms": "x"}, "--progress-ms x: not a number"),
    ({"--bogus": "1"}, "--bogus: unknown option"),
])
def test_usage(disk, change, message):
    argv = [IMGWRITE]
    if change is not None:
        opts = {"--url": "http://127.0.0.1:1/x", "--sha256": "0" * 64, "--size": "10", "--format": "raw",
                "--disk": str(disk), **change}
        argv += [x for kv in opts.items() for x in kv]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    assert r.returncode == 64, r.stderr
    assert last_error(r).startswith("usage: ")
    assert message in last_error(r)


def test_help_documents_the_contract():
    r = subprocess.run([IMGWRITE, "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0
    for word in ("--url", "--sha256", "--size", "--format", "--disk", "--progress-ms", "--retries",
                 "--timeout-ms", "bytes=WRITTEN download_ms=MS write_ms=MS sha256=HEX", "2 download",
                 "3 verify", "4 write", "64 usage"):
        assert word in r.stdout, word
