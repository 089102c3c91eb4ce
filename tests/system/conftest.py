"""Fixtures for system tests: real ironrack daemons, a real PostgreSQL (the
region's embedded cluster), real gRPC clients. Every daemon binds to
loopback only; state lives in per-test temporary directories."""

import atexit
import getpass
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("IRONRACK_BUILD", os.path.join(ROOT, "build"))
REGIOND = os.path.join(BUILD, "ironrack-regiond")
RACKD = os.path.join(BUILD, "ironrack-rackd")
CLI = os.path.join(BUILD, "ironrack")
SANITIZED = os.path.basename(BUILD.rstrip("/")) == "build-san"
# Tests that mostly wait on timers (timeouts, reconnects, scale): the plain
# pass runs them; the code they reach runs under the sanitizers in shorter
# tests, so the sanitizer pass does not spend its minutes waiting again.
plain_pass_only = pytest.mark.skipif(SANITIZED, reason="waits on timers: run by the plain pass; its code paths run under "
                                     "the sanitizers in shorter tests")
# QEMU boots are slow: they run once, in the plain pass (the rack code they
# reach runs under the sanitizers in the tests with real clients).
# They also run one at a time in the parallel phase (the qemu group below).
def qemu_once(test):
    return pytest.mark.qemu(pytest.mark.skipif(SANITIZED, reason="QEMU boots run once, in the plain pass")(test))


# Tests that load the machine (perfdhcp, floods, many clients at once) or
# compare timings: `make system TEST_JOBS=N` runs the others in N parallel
# workers, then these one at a time with nothing beside them (Makefile).
alone = pytest.mark.alone
# The parallel phase hands out groups (--dist loadgroup): each module is one,
# so its module fixtures are set up once, except that every test that boots
# QEMU guests is in one group, "qemu". A guest is emulated (no KVM here) and
# wants a whole CPU: two at once beside other workers starved one into
# printing nothing for minutes. The longest go first, so the phase does not
# end with one worker still on one of them.
QEMU_MODULES = ("test_deploy.py", "test_deploy_agent.py", "test_machines.py", "test_demo.py", "test_ephemeral.py",
                "test_power.py")
LONG_MODULES = QEMU_MODULES + ("test_dhcp_ha.py",)
# CI runs make check as root with every package of deploy/install-deps.
CI = os.environ.get("CI") == "true"

# Sanitizer builds are slower; LeakSanitizer reports are judged by the unit
# tests, the daemons' exit paths here stop gRPC's threads abruptly.
os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1")
os.environ.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")


def free_port(kind=socket.SOCK_STREAM):
    """A port that was free a moment ago. Anything may take it before the
    daemon binds it, so daemons started here listen on port 0 and report
    the port (port_file). Only for what cannot: deploy/demo/run, which is
    given its ports, and the rack's TFTP server (UDP), which writes no port
    file."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_file(state_dir, name, proc=None, timeout=30.0):
    """(host, port) of a listener a daemon bound, from STATE_DIR/ports/NAME
    ("host:port" and a newline, written atomically once the socket is bound; see
    port_file_write in common/util.h). Waits for the file; fails if it never
    appears or the daemon exits first."""
    path = os.path.join(state_dir, "ports", name)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            host, sep, port = text.strip().rpartition(":")
            assert text.endswith("\n") and sep and port.isdigit() and 0 < int(port) < 65536, \
                f"{path}: not 'host:port\\n': {text!r}"
            return host.strip("[]"), int(port)
        except FileNotFoundError:
            pass
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{path} never appeared: the daemon exited {proc.returncode} first")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared within {timeout} s: the daemon did not report "
                                 f"where its {name!r} listener is")
        time.sleep(0.05)


def needs_root():
    """Network namespaces need root. An unprivileged run on a developer's
    machine skips (and says so); CI runs as root, so there this fails."""
    if os.geteuid() != 0:
        if CI:
            pytest.fail("network namespaces need root, and CI runs make check as root")
        pytest.skip("network namespaces need root (run as root; CI does)")


def needs_tools(*tools):
    """Every tool here is installed by deploy/install-deps: a missing one
    is a failed install step, not a reason to skip."""
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run deploy/install-deps")


def wait_for(pred, timeout=30.0, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def make_dir(prefix):
    # The embedded PostgreSQL runs as the unprivileged 'ironrack' user when
    # tests run as root, so every directory on the path must be traversable.
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(d, 0o755)
    return d


class Daemon:
    # The daemons started and not yet stopped: a failed test's report ends
    # with the tail of each one's log (pytest_runtest_makereport below).
    live = []

    def __init__(self, argv, log_path, env=None):
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=self.env)
        Daemon.live.append(self)
        return self

    def text(self):
        with open(self.log_path, "r", errors="replace") as f:
            return f.read()

    def wait_log(self, needle, timeout=30.0, count=1):
        # Not wait_for: a daemon that exited fails at once, not at the deadline.
        deadline = time.monotonic() + timeout
        while self.text().count(needle) < count:
            if self.proc.poll() is not None and self.text().count(needle) < count:
                raise AssertionError(f"{self.argv[0]} exited {self.proc.returncode} before log line {needle!r}:\n"
                                     f"--- {self.log_path} ---\n{self.text()[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for log line {needle!r}\n"
                                     f"--- {self.log_path} ---\n{self.text()[-4000:]}")
            time.sleep(0.1)

    def stop(self, sig=signal.SIGTERM, timeout=30.0):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"{self.argv[0]} did not stop on {sig}")
        if self.proc:
            if self in Daemon.live:
                Daemon.live.remove(self)
            self.log.close()
            self.check_sanitizers()
        return self.proc.returncode if self.proc else None

    def check_sanitizers(self):
        text = self.text()
        for marker in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"):
            if marker in text:
                raise AssertionError(f"{self.argv[0]}: sanitizer report in {self.log_path}:\n{text[-4000:]}")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            self.log.close()
            self.check_sanitizers()


def pytest_configure(config):
    config.addinivalue_line("markers", "alone: loads the machine or compares timings; make system runs it after the "
                            "parallel phase, alone")
    config.addinivalue_line("markers", "qemu: boots QEMU guests; the parallel phase runs these one at a time")


# tryfirst: xdist's own hook reads the xdist_group markers added here.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    for it in items:
        module = os.path.basename(str(it.fspath))
        qemu = module in QEMU_MODULES or it.get_closest_marker("qemu") is not None
        it.add_marker(pytest.mark.xdist_group("qemu" if qemu else module))
    rank = {m: i for i, m in enumerate(LONG_MODULES)}
    items.sort(key=lambda it: rank.get(os.path.basename(str(it.fspath)), len(rank)))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    for d in list(Daemon.live):
        try:
            with open(d.log_path, "r", errors="replace") as f:
                tail = f.readlines()[-60:]
        except OSError:  # its test's directory is gone: not this test's
            Daemon.live.remove(d)
            continue
        report.sections.append((f"last lines of {os.path.basename(d.argv[0])} {d.log_path}", "".join(tail)))


_PG_TEMPLATE = None


def pg_template_copy(state_dir):
    """Give a fresh region state directory a copy of one empty cluster.

    A region's first start runs initdb (about 1.4 s, more on a slow machine)
    and the system tests start a fresh region well over a hundred times; a
    copy takes 0.1 s. The template is what pgembed.c's pg_initdb makes, with
    the same flags, as the same user; migrations still run in every region,
    so what each test sees of its database is unchanged. A state directory
    that already has pg/ (a restart, or a test that prepared one) is left
    alone, and IRONRACK_TEST_INITDB=1 turns this off."""
    global _PG_TEMPLATE
    if os.environ.get("IRONRACK_TEST_INITDB") == "1" or not os.path.isdir(state_dir):
        return
    target = os.path.join(state_dir, "pg")
    if os.path.lexists(target):
        return
    if _PG_TEMPLATE is None:
        _PG_TEMPLATE = _pg_template_make()
    if _PG_TEMPLATE:
        subprocess.run(["cp", "-a", _PG_TEMPLATE, target], check=True)


def _pg_template_make():
    versions = sorted((v for v in os.listdir("/usr/lib/postgresql") if v.isdigit()), key=int) \
        if os.path.isdir("/usr/lib/postgresql") else []
    if not versions:
        return ""
    bindir = f"/usr/lib/postgresql/{versions[-1]}/bin"
    user = "ironrack" if os.geteuid() == 0 else None
    base = make_dir("irpgtemplate-")
    data = os.path.join(base, "pg")
    os.mkdir(data, 0o700)
    if user:
        try:
            pw = pwd.getpwnam(user)
        except KeyError:
            return ""  # the region will say what is missing
        os.chown(data, pw.pw_uid, pw.pw_gid)
    argv = [f"{bindir}/initdb", "-D", data, "-U", user or getpass.getuser(), "--auth=trust",
            "-E", "UTF8", "--no-instructions", "--locale=C"]
    if user:
        argv = ["runuser", "-u", user, "--"] + argv
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0 or not os.path.exists(os.path.join(data, "PG_VERSION")):
        sys.stderr.write(f"template cluster: initdb failed, every region runs its own: {r.stderr}\n")
        return ""
    atexit.register(shutil.rmtree, base, True)
    return data


class Region:
    """An ironrack-regiond on loopback with its embedded PostgreSQL.

    Its listeners start on port 0 and the test reads the ports the kernel
    gave from STATE_DIR/ports/ (no window in which something else can take
    a port picked in advance). A restart asks for the same ports again:
    racks and clients hold the region's address, as they would a real
    region's."""

    PORT_FILES = ("http", "grpc", "boot-resources")

    def __init__(self, state_dir, http_port=None, grpc_port=None):
        self.state_dir = state_dir
        self.http_port = http_port or 0
        self.grpc_port = grpc_port or 0
        self.daemon = None
        self.starts = 0

    @property
    def url(self):
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self):
        return f"127.0.0.1:{self.grpc_port}"

    def args(self):
        return ["--state-dir", self.state_dir, "--http-listen", f"127.0.0.1:{self.http_port}",
                "--grpc-listen", self.grpc_target, "--heartbeat-interval", "1s",
                "--rack-timeout", "5s", "--log-level", "info",
                # Boot resources on a port of the kernel's choosing: 5241 on
                # the host is not ours to take, and tests may run two
                # regions at once.
                "--boot-resources-listen", "127.0.0.1:0"]

    def port(self, name):
        """The port the running region bound for listener name."""
        return port_file(self.state_dir, name, self.daemon.proc)[1]

    def start(self):
        self.starts += 1
        if "--database-dsn" not in self.args():
            pg_template_copy(self.state_dir)
        # A port file of the previous run must not be taken for this one's.
        for name in self.PORT_FILES:
            try:
                os.unlink(os.path.join(self.state_dir, "ports", name))
            except FileNotFoundError:
                pass
        log = os.path.join(self.state_dir, "..", os.path.basename(self.state_dir) + f"-regiond-{self.starts}.log")
        self.daemon = Daemon([REGIOND, "run"] + self.args(), os.path.abspath(log)).start()
        self.daemon.wait_log("region ready", timeout=90)
        self.http_port = self.port("http")
        self.grpc_port = self.port("grpc")
        return self

    def stop(self):
        return self.daemon.stop() if self.daemon else None

    def cmd(self, *extra):
        out = subprocess.run([REGIOND, *extra, "--state-dir", self.state_dir], check=True,
                             capture_output=True, text=True, timeout=60)
        return out.stdout.strip()

    @property
    def secret(self):
        return self.cmd("enrol-secret")

    @property
    def fingerprint(self):
        return self.cmd("ca-fingerprint")

    @property
    def admin_key(self):
        with open(os.path.join(self.state_dir, "admin-api-key")) as f:
            return f.read().strip()

    def api(self, method, path, body=None, key="admin", timeout=30):
        """Returns (status, parsed JSON)."""
        headers = {"Content-Type": "application/json"}
        if key == "admin":
            key = self.admin_key
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, raw.decode(errors="replace")

    def racks(self):
        st, body = self.api("GET", "/api/v1/racks")
        assert st == 200, body
        return {r["id"]: r for r in body["racks"]}


class Rack:
    def __init__(self, region, state_dir, name):
        self.region = region
        self.state_dir = state_dir
        self.name = name
        self.daemon = None
        self.starts = 0

    def start(self, secret=None, fingerprint=None, extra=(), wait=True, regions=None, env=None):
        self.starts += 1
        # No TFTP or HTTP boot server, and no HA partner link listener,
        # unless a test asks for one (through extra): ports 69, 5248 and 5251
        # on the host are not ours.
        argv = [RACKD, "--state-dir", self.state_dir, "--hostname", self.name, "--reconnect-max", "2s",
                "--log-level", "info", "--tftp-listen", "", "--http-boot-listen", "", "--ha-listen", ""]
        for target in regions or [self.region.grpc_target]:
            argv += ["--region", target]
        if secret:
            argv += ["--secret", secret]
        if fingerprint:
            argv += ["--ca-fingerprint", fingerprint]
        argv += list(extra)
        log = os.path.join(os.path.dirname(self.state_dir), f"{self.name}-rackd-{self.starts}.log")
        self.daemon = Daemon(argv, log, env=None if env is None else {**os.environ, **env}).start()
        if wait:
            self.daemon.wait_log("connected to region", timeout=60)
            # The rack logs its side of the session before the region has
            # registered it; a config push in between is answered "not
            # connected". With several regions the rack may be on another.
            if regions is None:
                wait_for(lambda: self.region.racks().get(self.rack_id, {}).get("connected"), timeout=30,
                         what=f"the region to see {self.name} connected")
        return self

    @property
    def rack_id(self):
        with open(os.path.join(self.state_dir, "tls", "rack-id")) as f:
            return f.read().strip()

    def stop(self):
        return self.daemon.stop() if self.daemon else None


@pytest.fixture
def workdir():
    d = make_dir("irtest-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def region(workdir):
    r = Region(os.path.join(workdir, "region"))
    os.makedirs(r.state_dir, mode=0o700)
    r.start()
    yield r
    rc = r.stop()
    assert rc in (0, None), f"ironrack-regiond exited {rc} on SIGTERM"
    assert not os.path.exists(os.path.join(r.state_dir, "pg", "postmaster.pid")), "embedded PostgreSQL left running"


def module_region(prefix):
    """A region of its own in a fresh directory, for a module-scoped
    fixture to yield from: `yield from module_region("irfoo-")`."""
    d = make_dir(prefix)
    r = Region(os.path.join(d, "region"))
    os.makedirs(r.state_dir, mode=0o700)
    r.start()
    try:
        yield r
    finally:
        r.stop()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def make_rack(region, workdir):
    racks = []

    def make(name, enrol=True, **kw):
        rack = Rack(region, os.path.join(workdir, name), name)
        racks.append(rack)
        if enrol:
            rack.start(secret=region.secret, fingerprint=region.fingerprint, **kw)
        return rack

    yield make
    for rack in racks:
        try:
            rack.stop()
        except AssertionError:
            pass


def cli(region, *args, check=True, key=None):
    env = dict(os.environ, IRONRACK_URL=region.url, IRONRACK_KEY=key or region.admin_key,
               IRONRACK_CONFIG=os.path.join(region.state_dir, "..", "cli.conf"))
    out = subprocess.run([CLI, *args], capture_output=True, text=True, env=env, timeout=60)
    if check and out.returncode != 0:
        raise AssertionError(f"ironrack {' '.join(args)} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
    return out


@pytest.fixture(scope="module")
def pb():
    """The Python classes of proto/ironrack/v1/region.proto, compiled with
    protoc for the module that asks (fake racks speaking the real wire)."""
    out = tempfile.mkdtemp(prefix="irpb-")
    subprocess.run(["protoc", "-I", os.path.join(ROOT, "proto"), "--python_out", out,
                    "ironrack/v1/region.proto"], check=True)
    sys.path.insert(0, out)
    from ironrack.v1 import region_pb2  # noqa: E402
    yield region_pb2
    sys.path.remove(out)
    shutil.rmtree(out, ignore_errors=True)
