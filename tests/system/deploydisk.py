"""The disk side of the deploy tests (test_deploy_agent.py, test_deploy.py):
the images make built, and a disk file's MBR and NoCloud seed partition
read (mtools) or written by hand (mkfs.fat, mcopy), independently of the
agent. Not a test module."""

import hashlib
import os
import shutil
import struct
import subprocess
import tempfile

import pytest

from conftest import BUILD, ROOT

MIB = 1 << 20
SEED_BYTES = 4 * MIB


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
