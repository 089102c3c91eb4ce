#!/usr/bin/python3
"""A PXE-booting QEMU VM on a lab bridge, and the power hook BMC emulators
call to start and stop it (so a BMC power-on really starts a machine that
PXE-boots). Standard library only.

The VM (PxeVm)
--------------
    vm = PxeVm(switch_ns, bridge, mac, serial_log)
    vm.start()          # boot="pxe" (default) or "disk"
    vm.running          # True while its QEMU runs
    vm.stop()

A tap in the switch namespace, enslaved to the bridge; QEMU (TCG: KVM resets
the guest here) run in that namespace, daemonized with a pid file, with the
iPXE ROM of Debian's ipxe-qemu on an e1000 NIC of the given MAC, its console
(SeaBIOS and iPXE) appended to serial_log. The pid file lives in state_dir (default:
serial_log's directory), so one process can start a VM and another stop it.
The VM outlives the process that started it: stop it (or kill what runs in
the switch namespace) when done. First DHCPDISCOVER about 2.3 s after start.

The power hook
--------------
    qemuvm.py [--config FILE] [SYSTEM_ID] on|off|status [BOOT]

  on      start the VM (nothing if it runs); BOOT chooses the boot device
  off     stop the VM (nothing if it does not run)
  status  print "on" or "off"
  BOOT    pxe | network | uefihttp  -> network boot (QEMU -boot n)
          hdd | disk                -> disk (-boot c; the VM has no disk)
          none | default | absent   -> the VM's "boot" setting (default pxe)
          Redfish's names (Pxe, Hdd, None) and ipmi_sim's (pxe, disk) both work.
  SYSTEM_ID  optional: which VM of the config (the Redfish emulator's --hook
          passes "SYSTEM_ID on|off BOOTTARGET"; an ipmi_sim chassis_control
          program passes "on|off [BOOT]").

Exit status 0 when done (also when SYSTEM_ID has no VM: "nothing to do"),
1 when starting or stopping failed, 2 on a usage or configuration error.
One line of what was done goes to stdout. Calls for the same VM are
serialized with a lock file; every call is appended to STATE_DIR/vm-MAC.events
("UNIX_TIME action boot result").

Where the VM settings come from: --config FILE, else $QEMUVM_CONFIG (a JSON
file), else environment variables for a single VM.

  JSON: {"state_dir": DIR,                       (default: the file's directory)
         "vms": {"SYSTEM_ID" | "default": {
             "switch_ns": NS, "bridge": "br0", "mac": "52:54:00:..",
             "serial_log": PATH,                  (default STATE_DIR/vm-MAC.serial)
             "memory": 256, "boot": "pxe", "nic": "e1000",
             "rom": "/usr/lib/ipxe/qemu/pxe-e1000.rom",
             "no_reboot": false, "extra": [more QEMU arguments]}}}
  A SYSTEM_ID not in "vms" uses "default"; without either there is nothing
  to do. Without SYSTEM_ID: "default", or the only VM. "nic" may carry
  device properties: "virtio-net-pci,disable-legacy=on" with
  "rom": "/usr/lib/ipxe/qemu/pxe-virtio.rom" (Debian's virtio ROM runs only
  for the modern PCI id) boots a kernel without e1000, e.g. Debian's cloud
  kernel; "extra" adds CPUs and disks ("-smp", "2", "-drive",
  "file=DISK,if=virtio,format=raw").

  Environment (one VM, used for every SYSTEM_ID): QEMUVM_SWITCH_NS,
  QEMUVM_BRIDGE (default br0), QEMUVM_MAC, QEMUVM_STATE_DIR, and optional
  QEMUVM_SERIAL_LOG, QEMUVM_MEMORY, QEMUVM_BOOT.

The hook needs root (ip netns, tap devices) and works from any network
namespace: it runs QEMU with `ip netns exec SWITCH_NS`.
"""

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time

QEMU = shutil.which("qemu-system-x86_64") or "qemu-system-x86_64"
IPXE_ROM = "/usr/lib/ipxe/qemu/pxe-e1000.rom"

BOOT_NET = ("pxe", "network", "net", "uefihttp")
BOOT_DISK = ("hdd", "disk")
BOOT_DEFAULT = ("", "none", "default")


def boot_flag(boot, default="pxe"):
    """A Redfish or IPMI boot device name -> QEMU's -boot letter."""
    b = (boot or "").lower()
    if b in BOOT_DEFAULT:
        b = default.lower()
    if b in BOOT_NET:
        return "n"
    if b in BOOT_DISK:
        return "c"
    raise ValueError(f"unknown boot device {boot!r} (pxe, network, uefihttp, hdd, disk, none)")


def _sh(*argv, check=True):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    if check and out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {out.returncode}: {out.stderr.strip()}")
    return out


class PxeVm:
    def __init__(self, switch_ns, bridge, mac, serial_log, state_dir=None, memory=256, boot="pxe", nic="e1000",
                 rom=IPXE_ROM, no_reboot=False, extra=(), tap=None):
        self.switch_ns = switch_ns
        self.bridge = bridge
        self.mac = mac.lower()
        self.serial_log = serial_log
        self.state_dir = state_dir or os.path.dirname(os.path.abspath(serial_log))
        self.memory = int(memory)
        self.boot = boot
        self.nic = nic
        self.rom = rom
        self.no_reboot = no_reboot
        self.extra = list(extra)
        hexmac = self.mac.replace(":", "")
        self.tap = tap or f"vm{hexmac[-10:]}"  # 12 characters: under IFNAMSIZ, unique per MAC
        self.name = f"ironrack-vm-{hexmac}"
        self.pid_file = os.path.join(self.state_dir, f"vm-{hexmac}.pid")
        self.log_file = os.path.join(self.state_dir, f"vm-{hexmac}.log")
        self.events_file = os.path.join(self.state_dir, f"vm-{hexmac}.events")
        self.lock_file = os.path.join(self.state_dir, f"vm-{hexmac}.lock")
        self.sercon_file = os.path.join(self.state_dir, "sercon-port.bin")

    @property
    def pid(self):
        """The pid of this VM's QEMU, or None when it does not run."""
        try:
            with open(self.pid_file) as f:
                pid = int(f.read().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().split(b"\0")
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None
        # Not a recycled pid: its command line names this VM.
        if self.name.encode() not in cmdline:
            return None
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return None
        except FileNotFoundError:
            return None
        return pid

    @property
    def running(self):
        return self.pid is not None

    def argv(self, boot):
        argv = ["ip", "netns", "exec", self.switch_ns, QEMU, "-name", self.name, "-accel", "tcg", "-machine", "pc",
                "-m", str(self.memory), "-display", "none", "-monitor", "none",
                "-chardev", f"file,id=ser0,path={self.serial_log},append=on", "-serial", "chardev:ser0",
                # What -nographic tells SeaBIOS (which -daemonize does not
                # allow): mirror the console, iPXE's too, on COM1.
                "-fw_cfg", f"name=etc/sercon-port,file={self.sercon_file}",
                "-netdev", f"tap,id=n0,ifname={self.tap},script=no,downscript=no",
                "-device", f"{self.nic},netdev=n0,mac={self.mac},romfile={self.rom}",
                "-boot", boot_flag(boot, self.boot), "-daemonize", "-pidfile", self.pid_file]
        if self.no_reboot:
            argv.append("-no-reboot")
        return argv + self.extra

    def start(self, boot=None):
        """Starts the VM unless it runs; returns its pid. boot: as the hook's
        BOOT (None: the VM's default)."""
        os.makedirs(self.state_dir, exist_ok=True)
        pid = self.pid
        if pid:
            return pid
        if not os.path.exists(self.rom):
            raise RuntimeError(f"{self.rom} is missing (Debian's ipxe-qemu)")
        argv = self.argv(boot)
        with open(self.sercon_file, "wb") as f:
            f.write((0x3F8).to_bytes(2, "little"))
        _sh("ip", "-n", self.switch_ns, "link", "del", self.tap, check=False)
        _sh("ip", "-n", self.switch_ns, "tuntap", "add", self.tap, "mode", "tap")
        _sh("ip", "-n", self.switch_ns, "link", "set", self.tap, "master", self.bridge)
        _sh("ip", "-n", self.switch_ns, "link", "set", self.tap, "up")
        with open(self.log_file, "ab") as log:
            # -daemonize: returns once QEMU runs and wrote its pid file.
            out = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=60)
        pid = self.pid
        if out.returncode != 0 or not pid:
            _sh("ip", "-n", self.switch_ns, "link", "del", self.tap, check=False)
            with open(self.log_file, errors="replace") as f:
                tail = f.read()[-2000:]
            raise RuntimeError(f"QEMU exited {out.returncode} without starting the VM: {tail}")
        return pid

    def stop(self, timeout=5.0):
        """Stops the VM (TERM, then KILL) and removes its tap; True if it ran."""
        pid = self.pid
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + timeout
            while self.pid and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                while self.pid:
                    time.sleep(0.05)
        try:
            os.unlink(self.pid_file)
        except FileNotFoundError:
            pass
        _sh("ip", "-n", self.switch_ns, "link", "del", self.tap, check=False)
        return pid is not None

    def events(self):
        """[(unix time, action, boot, result)] of the hook calls so far."""
        try:
            with open(self.events_file) as f:
                return [tuple(line.split(None, 3)) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def serial(self):
        try:
            with open(self.serial_log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


# ---- the hook ----

def load_config(path):
    with open(path) as f:
        conf = json.load(f)
    conf.setdefault("state_dir", os.path.dirname(os.path.abspath(path)))
    conf.setdefault("vms", {})
    return conf


def env_config():
    e = os.environ
    if not e.get("QEMUVM_SWITCH_NS") or not e.get("QEMUVM_MAC") or not e.get("QEMUVM_STATE_DIR"):
        return None
    vm = {"switch_ns": e["QEMUVM_SWITCH_NS"], "bridge": e.get("QEMUVM_BRIDGE", "br0"), "mac": e["QEMUVM_MAC"]}
    for key in ("serial_log", "memory", "boot"):
        if e.get("QEMUVM_" + key.upper()):
            vm[key] = e["QEMUVM_" + key.upper()]
    return {"state_dir": e["QEMUVM_STATE_DIR"], "vms": {"default": vm}}


def vm_from(conf, system_id):
    """The PxeVm for system_id (None: the default or only VM), or None."""
    vms = conf["vms"]
    if system_id is not None:
        spec = vms.get(system_id) or vms.get("default")
    else:
        spec = vms.get("default") or (next(iter(vms.values())) if len(vms) == 1 else None)
        if spec is None:
            raise ValueError(f"no SYSTEM_ID given and the config has {len(vms)} VMs and no \"default\"")
    if spec is None:
        return None
    spec = dict(spec)
    state_dir = conf["state_dir"]
    for key in ("switch_ns", "mac"):
        if not spec.get(key):
            raise ValueError(f"VM {system_id or 'default'}: {key} is required")
    mac = spec.pop("mac")
    serial = spec.pop("serial_log", None) or os.path.join(state_dir, f"vm-{mac.replace(':', '').lower()}.serial")
    return PxeVm(spec.pop("switch_ns"), spec.pop("bridge", "br0"), mac, serial, state_dir=state_dir, **spec)


def hook(argv):
    usage = "usage: qemuvm.py [--config FILE] [SYSTEM_ID] on|off|status [BOOT]"
    args = list(argv)
    config = os.environ.get("QEMUVM_CONFIG")
    if len(args) >= 2 and args[0] == "--config":
        config = args[1]
        args = args[2:]
    system_id = None
    if args and args[0] not in ("on", "off", "status"):
        system_id = args.pop(0)
    if not args or args[0] not in ("on", "off", "status") or len(args) > 2:
        print(usage, file=sys.stderr)
        return 2
    action = args[0]
    boot = args[1] if len(args) == 2 else None
    try:
        conf = load_config(config) if config else env_config()
        if conf is None:
            raise ValueError("no VM settings: --config FILE, $QEMUVM_CONFIG or QEMUVM_SWITCH_NS, QEMUVM_MAC and "
                             "QEMUVM_STATE_DIR")
        vm = vm_from(conf, system_id)
        if vm is not None and action == "on":
            boot_flag(boot, vm.boot)  # an unknown BOOT is a usage error, before anything starts
    except (OSError, ValueError, TypeError) as e:
        print(f"qemuvm: {e}", file=sys.stderr)
        return 2
    if vm is None:
        print(f"system {system_id}: no VM configured, nothing to do")
        return 0
    if action == "status":
        print("on" if vm.running else "off")
        return 0
    os.makedirs(vm.state_dir, exist_ok=True)
    with open(vm.lock_file, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if action == "on":
                was = vm.pid
                pid = vm.start(boot)
                result = f"running pid {pid}" if was else f"started pid {pid}"
            else:
                result = "stopped" if vm.stop() else "was not running"
            rc = 0
        except (OSError, RuntimeError, subprocess.SubprocessError) as e:
            result, rc = f"failed: {e}", 1
        with open(vm.events_file, "a") as f:
            f.write(f"{time.time():.3f} {action} {boot or '-'} {result.splitlines()[0] if result else ''}\n")
    print(f"vm {vm.mac}: {action} (boot {boot or vm.boot}): {result}", file=sys.stdout if rc == 0 else sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(hook(sys.argv[1:]))
