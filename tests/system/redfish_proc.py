"""The Redfish BMC emulator (redfish_emu.py) as a process, for tests and
benchmarks: started in a network namespace or in this one, waited for until
it listens, controlled through its Unix socket, stopped."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

from redfish_emu import join_hostport, make_cert, parse_listen, system_ids

EMU = os.path.join(os.path.dirname(os.path.abspath(__file__)), "redfish_emu.py")


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class RedfishEmulator:
    """redfish_emu.py as a process (in network namespace netns, or in this
    one when netns is None), for tests:

        emu = RedfishEmulator("ns-bmc", ["10.0.0.5:443"], systems=3, user="admin", password="pw",
                              hook="/path/qemuvm.py --config vms.json").start()
        emu.url                 # https://10.0.0.5:443
        emu.state()["systems"]["1"]["PowerState"]
        emu.set_system("2", reset_types=["On", "ForceOff"], etag_required=False)
        emu.stop()

    listen entries may use port 0; .addresses holds where they went. cert and
    key default to a fresh self-signed pair (make_cert) for the listen
    addresses, kept in workdir (.cert is the file a verifying client trusts).
    config: a dict or a path (the --config JSON). The control calls go
    through a Unix socket in workdir, so they work from any namespace.
    Hooks the emulator started (VMs) are not stopped by stop()."""

    def __init__(self, netns=None, listen=("127.0.0.1:0",), systems=1, user="admin", password="password", hook=None,
                 workdir=None, cert=None, key=None, config=None, latency_ms=0, state_file=None, id_prefix="",
                 session_timeout=None, max_sessions=None, verbose=False, python=None, extra=()):
        self.netns = netns
        self.listen = [listen] if isinstance(listen, str) else list(listen)
        self.systems = systems
        self.user = user
        self.password = password
        self.hook = hook
        self.own_workdir = workdir is None
        self.workdir = workdir
        self.cert = cert
        self.key = key
        self.config = config
        self.latency_ms = latency_ms
        self.state_file = state_file
        self.id_prefix = id_prefix
        self.session_timeout = session_timeout
        self.max_sessions = max_sessions
        self.verbose = verbose
        self.python = python or sys.executable or "/usr/bin/python3"
        self.extra = list(extra)
        self.proc = None
        self.addresses = []

    @property
    def ids(self):
        return system_ids(self.systems, self.id_prefix)

    @property
    def url(self):
        return self.urls[0]

    @property
    def urls(self):
        return [f"https://{join_hostport(h, p)}" for h, p in self.addresses]

    @property
    def log_path(self):
        return os.path.join(self.workdir, "redfish-emu.log")

    @property
    def control_socket(self):
        return os.path.join(self.workdir, "control.sock")

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def start(self, timeout=20):
        if self.workdir is None:
            self.workdir = tempfile.mkdtemp(prefix="redfish-emu-", dir="/tmp")
        os.makedirs(self.workdir, exist_ok=True)
        if self.cert is None:
            self.cert = os.path.join(self.workdir, "bmc.crt")
            self.key = os.path.join(self.workdir, "bmc.key")
            if not os.path.exists(self.cert):
                make_cert(self.cert, self.key, hosts=[parse_listen(x)[0] for x in self.listen] + ["localhost"])
        ports = os.path.join(self.workdir, "ports")
        for p in (ports, self.control_socket):
            if os.path.exists(p):
                os.unlink(p)
        argv = [self.python, EMU, "--cert", self.cert, "--key", self.key, "--user", self.user,
                "--password", self.password, "--systems", str(self.systems), "--port-file", ports,
                "--control-socket", self.control_socket]
        for x in self.listen:
            argv += ["--listen", x]
        if self.id_prefix:
            argv += ["--id-prefix", self.id_prefix]
        if self.config is not None:
            path = self.config
            if isinstance(self.config, dict):
                path = os.path.join(self.workdir, "config.json")
                with open(path, "w") as f:
                    json.dump(self.config, f)
            argv += ["--config", path]
        if self.hook:
            argv += ["--hook", self.hook]
        if self.state_file:
            argv += ["--state", self.state_file]
        if self.latency_ms:
            argv += ["--latency-ms", str(self.latency_ms)]
        if self.session_timeout is not None:
            argv += ["--session-timeout", str(self.session_timeout)]
        if self.max_sessions is not None:
            argv += ["--max-sessions", str(self.max_sessions)]
        if self.verbose:
            argv.append("--verbose")
        argv += self.extra
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns] + argv
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while not os.path.exists(ports):
            if self.proc.poll() is not None:
                raise AssertionError(f"redfish_emu.py exited {self.proc.returncode} before listening:\n"
                                     f"{self.log_text()[-3000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"redfish_emu.py did not listen within {timeout} s:\n{self.log_text()[-3000:]}")
            time.sleep(0.02)
        with open(ports) as f:
            self.addresses = [parse_listen(line.strip()) for line in f if line.strip()]
        return self

    def stop(self, timeout=10):
        """SIGTERM (the state file is written), SIGKILL if it lingers;
        returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- control --
    def control(self, method, path, body=None, timeout=30):
        conn = UnixHTTPConnection(self.control_socket, timeout=timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
            r = conn.getresponse()
            doc = json.loads(r.read() or b"null")
            if r.status != 200:
                raise AssertionError(f"{method} {path}: {r.status} {doc}")
            return doc
        finally:
            conn.close()

    def state(self, system=None, systems=True):
        q = f"?system={urllib.parse.quote(system)}" if system else ("" if systems else "?systems=0")
        doc = self.control("GET", "/emu/state" + q)
        return doc["systems"][system] if system else doc

    def set_system(self, sid, **settings):
        """Options (see the module's doc) and/or PowerState="On"|"Off"."""
        return self.control("POST", f"/emu/systems/{urllib.parse.quote(sid)}", settings)

    def drop_sessions(self):
        return self.control("POST", "/emu/sessions/drop", {})["dropped"]

    def reset_counters(self):
        self.control("POST", "/emu/counters/reset", {})

    def wait_hooks(self, timeout=60):
        """Until every hook call the emulator started has finished."""
        deadline = time.monotonic() + timeout
        while self.state(systems=False)["hooks_pending"]:
            if time.monotonic() > deadline:
                raise AssertionError(f"hooks still running after {timeout} s:\n{self.log_text()[-3000:]}")
            time.sleep(0.05)
