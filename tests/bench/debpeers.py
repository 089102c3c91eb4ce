"""Peers from Debian's packages, unpacked into a private directory (never
installed: their maintainer scripts would start services on the host).
Used by the benchmarks that run a peer next to ironrack."""

import glob
import json
import os
import shutil
import subprocess
import sys


def _sh(*argv, timeout=300):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {out.returncode}: {out.stdout}{out.stderr}")
    return out


def fetch(peers_dir, packages, label="peers"):
    """Download packages with apt-get (an old or missing package list is
    refreshed once) and unpack them into PEERS_DIR/root, unless
    PEERS_DIR/versions.json says that was done. Returns (root, {package:
    version})."""
    root = os.path.join(peers_dir, "root")
    stamp = os.path.join(peers_dir, "versions.json")
    if not os.path.exists(stamp):
        debs = os.path.join(peers_dir, "debs")
        shutil.rmtree(peers_dir, ignore_errors=True)
        os.makedirs(debs)
        print(f"{label}: apt-get download {' '.join(packages)} into {debs} (not installed)", file=sys.stderr,
              flush=True)
        # apt-get download writes to the current directory (as root it warns
        # that _apt cannot write there, which is harmless).
        download = ["apt-get", "download", *packages]
        if subprocess.run(download, cwd=debs, capture_output=True, timeout=300).returncode != 0:
            _sh("apt-get", "update")
            subprocess.run(download, cwd=debs, check=True, capture_output=True, timeout=300)
        versions = {}
        for deb in sorted(glob.glob(os.path.join(debs, "*.deb"))):
            _sh("dpkg-deb", "-x", deb, root)
            f = _sh("dpkg-deb", "-f", deb, "Package", "Version").stdout.split("\n")
            versions[f[0].split(": ", 1)[1]] = f[1].split(": ", 1)[1]
        with open(stamp, "w") as f:
            json.dump(versions, f)
    with open(stamp) as f:
        return root, json.load(f)
