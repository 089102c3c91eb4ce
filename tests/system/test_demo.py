"""`make demo`, non-interactively: namespaces, region on its embedded
PostgreSQL, one enrolled rack that reports the demo site's interface, a ping,
a QEMU machine behind ipmi_sim that enlists and is commissioned to READY
(the plain pass only: the sanitizer build has no ephemeral images), and a
clean teardown that leaves no namespace behind — also when the demo is
interrupted or hung up with its output going to a pipe nobody reads any
more (`make demo | tee log`, then Ctrl-C: tee dies first). Its secrets stay
off command lines and out of world-readable logs."""

import os
import shutil
import signal
import stat
import subprocess
import time

import pytest

from conftest import BUILD, ROOT, SANITIZED, free_port

DEMO = os.path.join(BUILD, "demo")


def namespaces():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_demo_check_mode():
    before = {n for n in namespaces() if n.startswith("irdemo")}
    # deploy/demo/run is given its ports (it configures the rack and the CLI
    # with them before the region starts), so these are picked in advance.
    env = dict(os.environ, DEMO_HTTP_PORT=str(free_port()), DEMO_GRPC_PORT=str(free_port()),
               DEMO_RES_PORT=str(free_port()))
    out = subprocess.run([os.path.join(ROOT, "deploy", "demo", "run"), "--check", BUILD], capture_output=True,
                         text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    text = out.stdout + out.stderr
    assert "check passed" in text
    assert "pong from rack-" in text
    if not SANITIZED:
        # The whole path, not a skip: power-on, enlistment, commissioning.
        assert "skipped the VM" not in text, text[-3000:]
        assert "commissioned in" in text, text[-3000:]
    assert {n for n in namespaces() if n.startswith("irdemo")} == before


def demo_processes():
    """pids of daemons the demo started (its config files are on their
    command lines)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if any(a.decode(errors="replace") in (os.path.join(DEMO, "regiond.conf"), os.path.join(DEMO, "rackd.conf"))
               for a in argv):
            pids.append((int(pid), [a.decode(errors="replace") for a in argv if a]))
    return pids


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP])
def test_demo_cleans_up_when_its_output_pipe_is_gone(sig):
    before = {n for n in namespaces() if n.startswith("irdemo")}
    env = dict(os.environ, DEMO_HTTP_PORT=str(free_port()), DEMO_GRPC_PORT=str(free_port()),
               DEMO_RES_PORT=str(free_port()), DEMO_VM="0")
    # Once, a rack that enrols: its secret comes from a file, not argv.
    enrols = sig == signal.SIGINT
    if enrols:
        shutil.rmtree(os.path.join(DEMO, "rack", "tls"), ignore_errors=True)
    proc = subprocess.Popen([os.path.join(ROOT, "deploy", "demo", "run"), BUILD], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    seen = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, b"".join(seen)[-3000:].decode(errors="replace")
            seen.append(line)
            if b"ironrack demo is running" in line:
                break
        else:
            pytest.fail("the demo did not come up: " + b"".join(seen)[-3000:].decode(errors="replace"))
        # The secret is not on the rack's command line, and the logs that
        # hold secrets are the owner's only.
        daemons = demo_processes()
        rack = [argv for _, argv in daemons if any(a.endswith("ironrack-rackd") for a in argv)]
        assert len(rack) == 1 and "--secret" not in rack[0], daemons
        assert ("--secret-file" in rack[0]) == enrols, rack
        for log in ("region.log", "rack.log"):
            assert stat.S_IMODE(os.stat(os.path.join(DEMO, log)).st_mode) == 0o600, log
        assert not os.path.exists(os.path.join(DEMO, "enrol-secret"))
        # The reader goes away (tee killed by the same Ctrl-C), then the signal.
        proc.stdout.close()
        proc.send_signal(sig)
        proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert demo_processes() == [], "the demo left its daemons running"
    assert {n for n in namespaces() if n.startswith("irdemo")} == before, "the demo left its namespaces"
