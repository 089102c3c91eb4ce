"""Passive discovery's capture shell (rack/discovery/capture.c) on a real
veth pair between two network namespaces, through tests/tools/disc_capture
(the capture and the neighbour table, no rack daemon yet): ARP bindings,
an RFC 5227 probe that binds nothing, a VLAN tag, an mDNS name, a MAC
change, the kernel's own ARP; and an ARP storm whose events stay within
the token bucket while every frame is either read or counted as dropped.
Frames come from a packet socket (tests/system/discsend.py) and from the
kernel of the client namespace."""

import json
import os
import re
import signal
import subprocess
import sys
import threading

import pytest

from conftest import needs_root, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("IRONRACK_BUILD", os.path.join(ROOT, "build"))
TOOL = os.path.join(BUILD, "tools", "disc_capture")
SEND = os.path.join(ROOT, "tests", "system", "discsend.py")

CAP_MAC = "02:00:00:00:0c:01"
HOST_MAC = "02:00:00:00:0c:02"


def sh(*argv, check=True):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if check and out.returncode:
        raise AssertionError(f"{' '.join(argv)}: {out.returncode} {out.stdout}{out.stderr}")
    return out.stdout


@pytest.fixture(scope="module")
def lab():
    """<pfx>-cap (vC, 192.0.2.1, the capture) and <pfx>-host (vH,
    192.0.2.2, the sender), one veth pair between them."""
    needs_root()
    if not os.path.exists(TOOL):
        pytest.fail(f"{TOOL} not built (make all builds tests/tools)")
    pfx = f"irdc{os.getpid()}"
    cap, host = f"{pfx}-cap", f"{pfx}-host"
    try:
        sh("ip", "netns", "add", cap)
        sh("ip", "netns", "add", host)
        sh("ip", "link", "add", "vC", "netns", cap, "type", "veth", "peer", "name", "vH", "netns", host)
        for ns, dev, mac, addr in ((cap, "vC", CAP_MAC, "192.0.2.1/24"), (host, "vH", HOST_MAC, "192.0.2.2/24")):
            sh("ip", "-n", ns, "link", "set", dev, "address", mac)
            sh("ip", "-n", ns, "addr", "add", addr, "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
        yield {"cap": cap, "host": host}
    finally:
        sh("ip", "netns", "del", cap, check=False)
        sh("ip", "netns", "del", host, check=False)


class Capture:
    def __init__(self, ns, *args):
        self.p = subprocess.Popen(["ip", "netns", "exec", ns, TOOL, "-i", "vC", *args], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        wait_for(lambda: "ready" in self.lines or self.p.poll() is not None, timeout=10, what="capture ready")
        assert "ready" in self.lines, f"disc_capture did not start: {self.p.stderr.read()}"

    def _read(self):
        for line in self.p.stdout:
            self.lines.append(line.rstrip("\n"))

    def events(self):
        return [tuple(line.split()[1:]) for line in list(self.lines) if line.startswith("event ")]

    def stats(self):
        """The counters now (SIGUSR1 prints them)."""
        n = len(self.lines)
        self.p.send_signal(signal.SIGUSR1)
        wait_for(lambda: any(line.startswith("table ") for line in self.lines[n:]), timeout=10, what="stats")
        return self._parse(self.lines[n:])

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        assert self.p.wait(timeout=10) == 0, self.p.stderr.read()
        self.reader.join(timeout=5)
        return self._parse(self.lines[-2:])

    @staticmethod
    def _parse(lines):
        out = {}
        for line in lines:
            if line.startswith("stats ") or line.startswith("table "):
                out.update({k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)})
        return out


def send(lab, specs):
    out = sh("ip", "netns", "exec", lab["host"], sys.executable, SEND, "vH", json.dumps(specs))
    return int(out)


def test_bindings_names_and_moves(lab):
    cap = Capture(lab["cap"], "-r", "1000", "-b", "1000")
    try:
        send(lab, [
            {"arp": 1, "sha": "02:00:00:00:01:10", "spa": "192.0.2.10", "tpa": "192.0.2.1"},
            {"arp": 2, "sha": "02:00:00:00:01:11", "spa": "192.0.2.11", "tpa": "192.0.2.1"},
            {"arp": 1, "sha": "02:00:00:00:01:12", "spa": "0.0.0.0", "tpa": "192.0.2.12"},  # probe
            {"arp": 1, "sha": "02:00:00:00:01:13", "spa": "192.0.2.13", "tpa": "192.0.2.13"},  # gratuitous
            {"arp": 1, "sha": "02:00:00:00:01:15", "spa": "198.51.100.15", "tpa": "198.51.100.1", "vlan": 100},
            {"mdns": "labhost.local", "mac": "02:00:00:00:01:14", "ip": "192.0.2.14"},
        ])
        # the client's kernel resolves 192.0.2.1 itself; the capture side's
        # reply goes out and is not captured (only what vC receives)
        sh("ip", "netns", "exec", lab["host"], sys.executable, "-c",
           "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('192.0.2.1', 9))")
        want_new = {"192.0.2.10", "192.0.2.11", "192.0.2.13", "198.51.100.15", "192.0.2.14", "192.0.2.2"}
        wait_for(lambda: want_new <= {e[3] for e in cap.events() if e[0] == "NEW"}, timeout=10,
                 what=f"NEW for {sorted(want_new)}")
        # the same address from another MAC
        send(lab, [{"arp": 1, "sha": "02:00:00:00:02:10", "spa": "192.0.2.10", "tpa": "192.0.2.1"}])
        wait_for(lambda: any(e[0] == "MOVED" for e in cap.events()), timeout=10, what="MOVED")
    finally:
        st = cap.stop()

    ev = cap.events()
    new = {e[3]: e for e in ev if e[0] == "NEW"}
    assert new["192.0.2.10"] == ("NEW", "vC", "0", "192.0.2.10", "02:00:00:00:01:10", "-", "-")
    assert new["192.0.2.11"][4] == "02:00:00:00:01:11"
    assert new["192.0.2.13"][4] == "02:00:00:00:01:13"
    assert new["198.51.100.15"][2] == "100", new["198.51.100.15"]
    assert new["192.0.2.14"] == ("NEW", "vC", "0", "192.0.2.14", "02:00:00:00:01:14", "-", "labhost.local")
    assert new["192.0.2.2"][4] == HOST_MAC
    moved = [e for e in ev if e[0] == "MOVED"]
    assert moved == [("MOVED", "vC", "0", "192.0.2.10", "02:00:00:00:02:10", "02:00:00:00:01:10", "-")]
    # the probe bound nothing; our own address never came back to us
    assert not any(e[3] in ("192.0.2.12", "0.0.0.0", "192.0.2.1") for e in ev), ev
    assert len(ev) == 7, ev
    assert st["arp_probes"] == 1 and st["mdns"] == 1 and st["mdns_pairs"] == 1, st
    assert st["malformed"] == 0 and st["other"] == 0 and st["failed"] == 0, st
    assert st["new"] == 6 and st["moved"] == 1 and st["rate_dropped"] == 0, st


def test_storm_is_rate_limited(lab):
    """5,000 ARP requests from 5,000 senders as fast as a packet socket
    sends them, against 50 events/s with a burst of 20."""
    cap = Capture(lab["cap"], "-r", "50", "-b", "20")
    try:
        n = send(lab, [{"flood": 5000, "net": "10.77.0.0"}])
        assert n == 5000
        # every frame read, or counted as dropped by the kernel's ring
        wait_for(lambda: (lambda s: s["frames"] + s["pcap_drop"] >= n)(cap.stats()), timeout=20,
                 what="the flood read or counted")
    finally:
        st = cap.stop()
    events = len(cap.events())
    assert events == st["new"], st
    assert 20 <= events <= 20 + 50 * st["elapsed_ms"] / 1000 + 1, st
    assert st["rate_dropped"] + events == st["arp"], st
    assert st["frames"] + st["pcap_drop"] >= n, st
    assert st["malformed"] == 0, st
