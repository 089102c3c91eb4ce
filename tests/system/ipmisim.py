"""A simulated BMC for the power system tests: OpenIPMI's ipmi_sim, started
in a network namespace the test made, whose chassis keeps its power state and
boot device in files and calls a hook when the power changes (so that a
power-on can start a QEMU guest and a power-off stop it).

    from ipmisim import IpmiSim

    def machine(power, boot):          # runs in the test's process
        if power == "on":
            vm.start(pxe=(boot == "pxe"))
        else:
            vm.stop()

    with IpmiSim(netns="irpw-123-ab-bmc", address="10.30.0.2", user="admin",
                 password="secret", hook=machine, workdir=tmp) as bmc:
        ...  # ipmitool -I lanplus -C 3 -H 10.30.0.2 -U admin -P secret ...
        assert bmc.power == "on" and bmc.boot == "pxe"

    hook: None; a callable hook(power, boot) run in this process (a thread
          answers the chassis program over a Unix socket, so it may start a
          QEMU process; ipmi_sim waits for it, keep it quick); or a shell
          command string run with "$1" = on|off and "$2" = the boot device,
          also in $IPMISIM_POWER and $IPMISIM_BOOT. It is called when the
          power state changes (a power cycle is off, then on about 1 s
          later: ipmi_sim's own timer); a hook that raises or exits non-zero
          makes ipmi_sim answer the Chassis Control with completion code FFh.
    boot devices, as ipmi_sim names the boot flags' selector: "none", "pxe",
          "disk" (ipmi_sim's "default": the default hard drive), "cdrom",
          "bios". The IPMI valid/persistent/EFI bits do not reach the
          chassis program; ipmi_sim answers Get System Boot Options with the
          device only.
    power, boot, calls: the chassis state files and every call ipmi_sim made
          to the chassis program ("get power", "set power 1", "set boot pxe").

The BMC speaks IPMI 1.5 and 2.0 (lanplus) on address:port with cipher suites
0-3 and 6-8 (OpenIPMI 2.0.33 has no SHA-256, so no 17). Clients need the
open-session-privilege workaround (FreeIPMI -W opensesspriv; libfreeipmi's
IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_OPEN_SESSION_PRIVILEGE) and ipmitool
wants -C 3 (without it each call probes cipher suites for ~10 s).

start() first kills any ipmi_sim already listening on that address and port
in the namespace (a stale one does not make a new one fail, it answers
instead), then waits until the new one listens. stop() ends it and the hook's listener.
Nothing here creates or deletes namespaces: the test's fixtures do."""

import os
import re
import shlex
import signal
import socket
import subprocess
import threading
import time

BOOT_NAMES = {"default": "disk"}  # ipmi_sim's names -> ours; others as they are

# ipmi_sim calls "PROGRAM 0x20 get power boot" and "PROGRAM 0x20 set power 1"
# / "... set boot pxe" (lanserv/bmc_chassis.c, extcmd.c). $dir holds the state.
CHASSIS = r"""#!/bin/sh
dir=%(dir)s
shift
op=$1
shift
echo "$op $*" >>"$dir/calls"
if [ "$op" = get ]; then
	for k; do
		case $k in
		power) echo "power:$(cat "$dir/power")" ;;
		boot) echo "boot:$(cat "$dir/boot")" ;;
		esac
	done
	exit 0
fi
[ "$op" = set ] || exit 1
new=
while [ $# -ge 2 ]; do
	case $1 in
	power) [ "$2" = "$(cat "$dir/power")" ] || new=$2 ;;
	boot) echo "$2" >"$dir/boot" ;;
	esac
	shift 2
done
[ -n "$new" ] || exit 0
echo "$new" >"$dir/power"
[ -x "$dir/hook" ] || exit 0
[ "$new" = 1 ] && power=on || power=off
boot=$(cat "$dir/boot")
[ "$boot" = default ] && boot=disk
IPMISIM_POWER=$power IPMISIM_BOOT=$boot exec "$dir/hook" "$power" "$boot"
"""

# The hook for a python callable: ask the listener in the test's process.
CALLABLE_HOOK = r"""#!/usr/bin/python3
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(60)
s.connect(%(sock)r)
s.sendall((sys.argv[1] + " " + sys.argv[2] + "\n").encode())
answer = s.makefile().readline().strip()
if answer != "ok":
    sys.stderr.write(answer + "\n")
    sys.exit(1)
"""


def _sh(*argv, check=True):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {out.returncode}: {out.stdout}{out.stderr}")
    return out


def _listeners(netns, address, port):
    """pids of the ipmi_sims listening on address:port in netns."""
    out = _sh("ip", "netns", "exec", netns, "ss", "-Hlunp", check=False).stdout
    pids = set()
    for line in out.splitlines():
        if f" {address}:{port} " in f" {line} " and '"ipmi_sim"' in line:
            pids.update(int(p) for p in re.findall(r'"ipmi_sim",pid=(\d+)', line))
    return pids


class IpmiSim:
    def __init__(self, netns, address, user, password, workdir, hook=None, port=623, power="off",
                 privilege="admin"):
        self.netns = netns
        self.address = address
        self.port = port
        self.user = user
        self.password = password
        self.hook = hook
        self.privilege = privilege
        self.dir = os.path.join(workdir, f"ipmisim-{address}-{port}".replace(":", "_"))
        self.initial_power = "1" if power == "on" else "0"
        self.proc = None
        self._listener = None
        self._thread = None
        self.hook_errors = []

    # ---- state ----
    def _read(self, name):
        with open(os.path.join(self.dir, name), encoding="utf-8") as f:
            return f.read().strip()

    @property
    def power(self):
        return "on" if self._read("power") == "1" else "off"

    @property
    def boot(self):
        b = self._read("boot")
        return BOOT_NAMES.get(b, b)

    @property
    def calls(self):
        try:
            return self._read("calls").splitlines()
        except FileNotFoundError:
            return []

    def set_power(self, power):
        """Change the chassis state behind the BMC's back (a person at the
        power button); the hook is not called."""
        with open(os.path.join(self.dir, "power"), "w", encoding="utf-8") as f:
            f.write("1\n" if power == "on" else "0\n")

    # ---- files ----
    def _write(self, name, text, mode=0o644):
        path = os.path.join(self.dir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def _write_files(self):
        os.makedirs(os.path.join(self.dir, "state"), exist_ok=True)
        self._write("power", self.initial_power + "\n")
        self._write("boot", "none\n")
        self._write("calls", "")
        chassis = self._write("chassis", CHASSIS % {"dir": shlex.quote(self.dir)}, 0o755)
        self._write("sim.emu", "mc_setbmc 0x20\n"
                    "mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02\n"
                    "mc_enable 0x20\n")
        auths = "none md2 md5 straight"
        # lan.conf has no escapes: keep names and passwords plain
        assert all(c not in v for v in (self.user, self.password) for c in '"\\ \t\n'), "plain user/password only"
        self._write("lan.conf", "\n".join([
            'name "ironrack"',
            "set_working_mc 0x20",
            "  startlan 1",
            f"    addr {self.address} {self.port}",
            "    priv_limit admin",
            *(f"    allowed_auths_{p} {auths}" for p in ("callback", "user", "operator", "admin")),
            "    guid a123456789abcdefa123456789abcdef",
            "  endlan",
            f'  chassis_control "{chassis} 0x20"',
            f'user 2 true "{self.user}" "{self.password}" {self.privilege} 10 {auths}',
            "",
        ]))
        hook = os.path.join(self.dir, "hook")
        if os.path.exists(hook):
            os.unlink(hook)
        if isinstance(self.hook, str):
            self._write("hook", "#!/bin/sh\n" + self.hook + "\n", 0o755)
        elif self.hook is not None:
            sock = os.path.join(self.dir, "hook.sock")
            if os.path.exists(sock):
                os.unlink(sock)
            self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._listener.bind(sock)
            self._listener.listen(4)
            self._thread = threading.Thread(target=self._serve, daemon=True)
            self._thread.start()
            self._write("hook", CALLABLE_HOOK % {"sock": sock}, 0o755)

    def _serve(self):
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # closed by stop()
            with conn:
                try:
                    power, boot = conn.makefile().readline().split()
                    self.hook(power, boot)
                    conn.sendall(b"ok\n")
                except Exception as e:  # the chassis program reports it, ipmi_sim answers FFh
                    self.hook_errors.append(repr(e))
                    conn.sendall(f"error: {e!r}\n".encode())

    # ---- process ----
    def _listening(self):
        out = _sh("ip", "netns", "exec", self.netns, "ss", "-Hlun", check=False).stdout
        return f"{self.address}:{self.port} " in out

    def _kill_stale(self):
        stale = _listeners(self.netns, self.address, self.port)
        for pid in stale:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while stale and _listeners(self.netns, self.address, self.port) and time.monotonic() < deadline:
            time.sleep(0.02)
        return stale

    def start(self, timeout=10.0):
        self._kill_stale()
        self._write_files()
        self.log_path = os.path.join(self.dir, "ipmi_sim.log")
        log = open(self.log_path, "w", encoding="utf-8")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, "ipmi_sim", "-n", "-c", os.path.join(self.dir, "lan.conf"),
             "-f", os.path.join(self.dir, "sim.emu"), "-s", os.path.join(self.dir, "state")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while not self._listening():
            if self.proc.poll() is not None:
                raise AssertionError(f"ipmi_sim exited {self.proc.returncode}: {open(self.log_path).read()}")
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"ipmi_sim not listening on {self.address}:{self.port} after {timeout} s")
            time.sleep(0.02)
        return self

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
            self.proc = None
        if self._listener is not None:
            # accept() in the thread returns with an error once it is shut
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
            self._thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
