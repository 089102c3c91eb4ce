"""ironrack-imgwrite's throughput: a 1 GiB image, raw and zstd, from an HTTP
server on 127.0.0.1 to a file on tmpfs (/dev/shm) as the disk, beside what
the same bytes cost the standard tools on this machine: the server to
curl -o /dev/null (the link here), dd to tmpfs (the "disk"), zstd -d and
openssl's SHA-256 (the pipeline's stages alone).

    /usr/bin/python3 tests/bench/imgwrite.py [--build build] [--rounds 3] [--data-mib 384]

The image: --data-mib MiB of real files (a tar of /usr/lib, as an OS
image's file systems hold), then zeros up to 1 GiB (a disk's unused
space). Each row gives the median and the best of the rounds; CPU is the
command's user + system time (median). Nothing runs as root or touches a real disk.
"""

import argparse
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system"))
from imgserve import ImageServer  # noqa: E402

GIB = 1 << 30
MIB = 1 << 20


def make_image(path, data_mib):
    with open(path, "wb") as f:
        tar = subprocess.Popen(["tar", "-cf", "-", "--sort=name", "/usr/lib"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
        left = data_mib * MIB
        while left:
            chunk = tar.stdout.read(min(left, 4 * MIB))
            if not chunk:
                break
            f.write(chunk)
            left -= len(chunk)
        tar.kill()
        tar.wait()
        f.truncate(GIB)


def run_child(argv, stdout=subprocess.PIPE):
    """(wall s, the child's cpu s from wait4, exit code, stdout, stderr)."""
    t = time.monotonic()
    p = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE)
    out = p.stdout.read() if stdout == subprocess.PIPE else b""
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t
    rc = os.waitstatus_to_exitcode(status)
    return wall, ru.ru_utime + ru.ru_stime, rc, out.decode(), err.decode()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.environ.get("IRONRACK_BUILD", "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--data-mib", type=int, default=384)
    args = ap.parse_args()
    imgwrite = os.path.abspath(os.path.join(args.build, "ironrack-imgwrite"))
    if not os.access(imgwrite, os.X_OK):
        sys.exit(f"{imgwrite} is not built (make {imgwrite})")
    for tool in ("zstd", "curl", "openssl", "dd"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing")

    work = tempfile.mkdtemp(prefix="ironrack-imgw-bench-", dir="/dev/shm")
    try:
        raw = os.path.join(work, "image.raw")
        zst = os.path.join(work, "image.zst")
        disk = os.path.join(work, "disk")
        make_image(raw, args.data_mib)
        subprocess.run(["zstd", "-q", "-3", "-T0", "-f", raw, "-o", zst], check=True)
        files, sums = {}, {}
        for name, path in (("raw", raw), ("zstd", zst)):
            with open(path, "rb") as f:
                files[name] = f.read()
            sums[name] = hashlib.sha256(files[name]).hexdigest()
        srv = ImageServer({"/images/raw": raw, "/images/zstd": zst})  # sendfile(2), as the rack serves
        print(f"image: {GIB // MIB} MiB raw ({args.data_mib} MiB of /usr/lib, then zeros); "
              f"zstd -3: {len(files['zstd']) / MIB:.0f} MiB; {os.cpu_count()} CPUs, "
              f"load {os.getloadavg()[0]:.1f}; {args.rounds} rounds, medians")
        rows = []

        def row(what, walls, cpus, nbytes, note=""):
            w = statistics.median(walls)
            c = statistics.median(cpus)
            rows.append((what, w, min(walls), c, nbytes / MIB / w, nbytes / MIB / min(walls), note))

        # The server alone (Python, the bench's own): the link's ceiling here.
        walls, cpus = [], []
        for _ in range(args.rounds):
            w, c, rc, _, err = run_child(["curl", "-sS", "-o", "/dev/null", srv.url("/images/raw")])
            assert rc == 0, err
            walls.append(w)
            cpus.append(c)
        row("curl raw -> /dev/null (the server)", walls, cpus, GIB)

        for fmt in ("raw", "zstd"):
            walls, cpus, dl, wr = [], [], [], []
            for _ in range(args.rounds):
                with open(disk, "wb"):
                    pass
                w, c, rc, out, err = run_child([
                    imgwrite, "--url", srv.url(f"/images/{fmt}"), "--sha256", sums[fmt], "--size",
                    str(len(files[fmt])), "--format", fmt, "--disk", disk])
                assert rc == 0, err
                m = re.match(r"bytes=(\d+) download_ms=(\d+) write_ms=(\d+) sha256=", out)
                assert m and int(m.group(1)) == GIB, out
                walls.append(w)
                cpus.append(c)
                dl.append(int(m.group(2)))
                wr.append(int(m.group(3)))
            row(f"ironrack-imgwrite {fmt} -> tmpfs", walls, cpus, GIB,
                f"download_ms {statistics.median(dl)}, write_ms {statistics.median(wr)}")
        with open(disk, "rb") as f, open(raw, "rb") as g:
            assert f.read() == g.read(), "the disk does not hold the image"

        walls, cpus = [], []
        for _ in range(args.rounds):
            w, c, rc, _, err = run_child(["dd", f"if={raw}", f"of={disk}", "bs=4M", "conv=fsync"])
            assert rc == 0, err
            walls.append(w)
            cpus.append(c)
        row("dd bs=4M raw -> tmpfs", walls, cpus, GIB)
        walls, cpus = [], []
        for _ in range(args.rounds):
            with open(disk, "wb") as out:
                w, c, rc, _, err = run_child(["zstd", "-q", "-d", "-c", zst], stdout=out)
            assert rc == 0, err
            walls.append(w)
            cpus.append(c)
        row("zstd -d -> tmpfs", walls, cpus, GIB)
        walls, cpus = [], []
        for _ in range(args.rounds):
            w, c, rc, _, err = run_child(["openssl", "dgst", "-sha256", raw])
            assert rc == 0, err
            walls.append(w)
            cpus.append(c)
        row("openssl dgst -sha256 raw", walls, cpus, GIB)
        srv.close()

        print(f"{'':40} {'wall s':>7} {'best':>6} {'cpu s':>6} {'MiB/s':>6} {'best':>6}")
        for what, w, best, c, rate, best_rate, note in rows:
            print(f"{what:40} {w:7.2f} {best:6.2f} {c:6.2f} {rate:6.0f} {best_rate:6.0f}  {note}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
