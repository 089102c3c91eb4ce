"""`make demo`, non-interactively: namespaces, region on its embedded
PostgreSQL, one enrolled rack that reports the demo site's interface, a ping,
a QEMU machine behind ipmi_sim that enlists and is commissioned to READY
(the plain pass only: the sanitizer build has no ephemeral images), and a
clean teardown that leaves no namespace behind."""

import os
import subprocess

from conftest import BUILD, ROOT, SANITIZED, free_port


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
