"""The lab of tests/system/test_machines.py: a real region publishing the
ephemeral environment as boot resources, a real rack serving a lab
namespace (DHCP, TFTP, HTTP boot and the agents' report endpoint), an
ipmi_sim BMC whose chassis starts and stops a QEMU VM with a disk, and a
namespace for hand-made agent posts:

    <prefix>-sw     bridge br0 (10.46.0.0/24) and the VMs' taps
    <prefix>-rack   eth0 10.46.0.1/24: the rack serves it (--netns); radvd
    <prefix>-bmc    eth0 10.46.0.10: ipmi_sim
    <prefix>-agent  eth0 10.46.0.3: curl as a machine's agent would post

Besides the lab: the VM's serial console read as it is written (each line
with the wall time it appeared), the rack's log lines with their times,
and the boot timings assembled from both. Not a test module."""

import calendar
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

from conftest import BUILD, Rack, Region, wait_for
from dhcpnet import DhcpNet
from nethelp import ok

sys.path.insert(0, os.path.dirname(__file__))
import ipmisim  # noqa: E402
import qemuvm  # noqa: E402

NET = "10.46.0.0/24"
RACK_IP, AGENT_IP, IPMI_IP = "10.46.0.1", "10.46.0.3", "10.46.0.10"
RANGE = ("10.46.0.100", "10.46.0.200")
RACK_URL = f"http://{RACK_IP}:5248"
REPORT_URL = f"{RACK_URL}/machine/v1/report"
BMC_USER, BMC_PASS = "admin", "Pw5ecret-BMC-46"
IMAGES = os.path.join(BUILD, "ephemeral", "amd64")
IMAGE_NAMES = ("vmlinuz", "initrd.img")
GIB = 1 << 30
# The rack's agent_hold_timeout here (default 25 s): a report the region
# cannot answer is told 503 after this.
HOLD_S = 8
# virtio, not e1000: Debian's cloud kernel (the ephemeral environment's) has
# no e1000 driver. Modern-only (1af4:1041): the PCI id Debian's
# pxe-virtio.rom answers to; with the transitional id SeaBIOS never runs it.
VM_NIC, VM_ROM = "virtio-net-pci,disable-legacy=on", "/usr/lib/ipxe/qemu/pxe-virtio.rom"

AGENT_LINE = re.compile(r"ironrack-agent: t=([0-9]+(?:\.[0-9]+)?) step=(\S+)")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\r")


class MachinesRegion(Region):
    """A region publishing res_dir on a boot-resources port that stays the
    same across restarts, with a short commissioning timeout."""

    def __init__(self, state_dir, res_dir, commissioning_timeout):
        super().__init__(state_dir)
        self.res_dir = res_dir
        self.commissioning_timeout = commissioning_timeout
        self.res_port = 0

    def start(self):
        super().start()
        self.res_port = self.port("boot-resources")
        return self

    def args(self):
        return super().args() + ["--boot-resources-dir", self.res_dir,
                                 "--boot-resources-listen", f"127.0.0.1:{self.res_port}",
                                 "--commissioning-timeout", f"{self.commissioning_timeout}s"]


class Serial:
    """A VM's serial log read while QEMU appends to it: lines(since) gives
    (wall time first seen, text) of every complete line after mark()."""

    def __init__(self, path):
        self.path = path
        self._lines = []
        self._partial = b""
        self._offset = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(0.02)

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return
        if not data:
            return
        now = time.time()
        with self._lock:
            self._offset += len(data)
            chunks = (self._partial + data).split(b"\n")
            self._partial = chunks.pop()
            for c in chunks:
                self._lines.append((now, ANSI.sub("", c.decode(errors="replace"))))

    def mark(self):
        self.poll()
        with self._lock:
            return len(self._lines)

    def lines(self, since=0):
        self.poll()
        with self._lock:
            return list(self._lines[since:])

    def text(self, since=0):
        return "\n".join(t for _, t in self.lines(since))

    def agent(self, since=0):
        """[(wall time, uptime, step)] of the agent's lines."""
        out = []
        for wall, text in self.lines(since):
            m = AGENT_LINE.search(text)
            if m:
                out.append((wall, float(m.group(1)), m.group(2)))
        return out

    def close(self):
        self._stop.set()
        self._thread.join(5)


def log_lines(text):
    """[(unix time, line)] of a daemon's log (common/log.c stamps each line
    with UTC to the millisecond)."""
    out = []
    for line in text.splitlines():
        m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z ", line)
        if m:
            t = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) + int(m.group(2)) / 1000
            out.append((t, line))
    return out


def http_gets(rack_log, name, since, status="200"):
    """Unix times of the rack's HTTP answers for a path ending in name
    after since (the line is logged as the answer starts)."""
    return [t for t, line in log_lines(rack_log)
            if t >= since - 0.001 and "http: " in line and re.search(rf"GET '[^']*{re.escape(name)}' {status},", line)]


def report_answers(rack_log, since=0.0):
    """[(unix time, status)] of the rack's answers to agent posts."""
    out = []
    for t, line in log_lines(rack_log):
        m = re.search(r"http: \S+ POST '/machine/v1/report' (\d{3}),", line)
        if m and t >= since:
            out.append((t, int(m.group(1))))
    return out


class BootTiming:
    """Where the time of one boot went, from the VM's start (or the power
    action that started it) to the region's answer."""

    def __init__(self, label, t0, rack_log, serial, mark, t_state, state, t_power_on=None):
        self.label, self.t0, self.state = label, t0, state
        self.t_state = t_state
        self.t_power_on = t_power_on  # when the BMC started the VM (None: t0 is the VM's start)
        kernels = http_gets(rack_log, "vmlinuz", t0)
        initrds = http_gets(rack_log, "initrd.img", t0)
        self.t_kernel = kernels[0] if kernels else None
        self.t_initrd = initrds[0] if initrds else None
        taken = [t for t, st in report_answers(rack_log, t0) if st == 200]
        self.t_answer = taken[0] if taken else None
        agent = serial.agent(mark)
        self.agent_lines = agent
        self.t_kernel_start = self.boot = self.agent = None
        if agent:
            wall1, up1, _ = agent[0]
            self.t_kernel_start = wall1 - up1
            self.boot = up1
            # To the rack's answer: the agent's own last lines may be cut
            # short by the power-off the region sends at once.
            if self.t_answer is not None:
                self.agent = self.t_answer - wall1

    def parts(self):
        def d(a, b):
            return None if a is None or b is None else b - a
        on = self.t_power_on or self.t0
        out = {"power-on (request -> VM start)": d(self.t0, self.t_power_on)} if self.t_power_on else {}
        out.update({"firmware/iPXE": d(on, self.t_kernel),
                    "kernel+initrd download": d(self.t_kernel, self.t_kernel_start),
                    "boot to agent": self.boot,
                    "agent (to the rack's 200)": self.agent,
                    f"VM start -> {self.state}": d(on, self.t_state)})
        if self.t_power_on:
            out[f"request -> {self.state}"] = d(self.t0, self.t_state)
        return out

    def line(self):
        def f(v):
            return "?" if v is None else f"{v:.1f} s"
        return f"{self.label}: " + ", ".join(f"{k} {f(v)}" for k, v in self.parts().items())


class Lab:
    def __init__(self, workdir, commissioning_timeout, vms):
        self.workdir = workdir
        self.vms = vms
        self.net = DhcpNet(os.path.join(workdir, "net"), tag="irmc", rack_addrs=(f"{RACK_IP}/24",))
        os.makedirs(self.net.workdir)
        self.res_dir = os.path.join(workdir, "published")
        os.makedirs(os.path.join(self.res_dir, "ephemeral", "amd64"))
        self.images = {}
        self.region = MachinesRegion(os.path.join(workdir, "region"), self.res_dir, commissioning_timeout)
        os.makedirs(self.region.state_dir, mode=0o700)
        self.rack = Rack(self.region, os.path.join(workdir, "rack"), "machines-rack")
        self.vmdir = os.path.join(workdir, "vms")
        os.makedirs(self.vmdir)
        self.ipmi = None
        self.ipmi_vm = None
        self.serials = {}
        self.started = {}
        self._posts = itertools.count()
        self.region_away = 0.0  # seconds the region was stopped, in all

    # ---- the VM ----

    def disk(self, mac):
        return os.path.join(self.vmdir, f"disk-{mac.replace(':', '')}.raw")

    def make_disk(self, mac, size):
        """A sparse raw disk of size bytes (grown or shrunk if it exists)."""
        with open(self.disk(mac), "ab") as f:
            f.truncate(size)
        return self.disk(mac)

    def vm(self, mac, memory=512, cpus=2):
        """The VM of mac: a virtio NIC with iPXE, memory MiB, cpus, and its
        disk (make_disk) on virtio; QEMU exits when the guest powers off."""
        extra = ["-smp", str(cpus)]
        if os.path.exists(self.disk(mac)):
            extra += ["-drive", f"file={self.disk(mac)},if=virtio,format=raw,cache=unsafe"]
        return qemuvm.PxeVm(self.net.sw, "br0", mac, self.serial_path(mac), state_dir=self.vmdir,
                            memory=memory, nic=VM_NIC, rom=VM_ROM, no_reboot=True, extra=extra)

    def serial_path(self, mac):
        return os.path.join(self.vmdir, f"{mac.replace(':', '')}.serial")

    def serial(self, mac):
        if mac not in self.serials:
            self.serials[mac] = Serial(self.serial_path(mac))
        return self.serials[mac]

    def start_vm(self, mac):
        """Starts the VM (as a person at its power button); returns the
        wall time it started."""
        t0 = time.time()
        self.vm(mac).start("pxe")
        self.started[mac] = t0
        return t0

    # ---- bringing it up ----

    def publish_images(self):
        """The ephemeral kernel and initrd of this build, copied (the region
        publishes regular files only) into the region's boot_resources_dir."""
        for name in IMAGE_NAMES:
            src = os.path.join(IMAGES, name)
            if os.path.exists(src):
                shutil.copyfile(src, os.path.join(self.res_dir, "ephemeral", "amd64", name))
                self.images[name] = os.path.getsize(src)

    def up(self):
        self.publish_images()
        self.net.up()
        self.bmc = self.net.host("bmc", addrs=(f"{IPMI_IP}/24",), mac="02:00:00:46:00:10")
        self.agent = self.net.host("agent", addrs=(f"{AGENT_IP}/24",), mac="02:00:00:46:00:03")

        def chassis(power, boot):  # ipmi_sim's chassis: the machine behind the BMC
            if not self.vms or self.ipmi_vm is None:
                return
            vm = self.vm(self.ipmi_vm)
            if power == "on":
                self.started[self.ipmi_vm] = time.time()
                vm.start(boot)
            else:
                vm.stop()
        self.ipmi = ipmisim.IpmiSim(self.bmc, IPMI_IP, BMC_USER, BMC_PASS, os.path.join(self.workdir, "ipmi"),
                                    hook=chassis)
        self.ipmi.start()
        if self.vms:
            # radvd answers iPXE's IPv6 router solicitation at once (sparing
            # each boot ~13 s); not a default router, no prefix.
            conf = os.path.join(self.workdir, "radvd.conf")
            with open(conf, "w") as f:
                f.write("interface eth0 {\n  AdvSendAdvert on;\n  AdvDefaultLifetime 0;\n"
                        "  MinRtrAdvInterval 3;\n  MaxRtrAdvInterval 10;\n};\n")
            self.net.spawn(self.net.rack, ["radvd", "--nodaemon", "-C", conf, "-p",
                                           os.path.join(self.workdir, "radvd.pid"), "-m", "stderr"], "radvd")
        self.region.start()
        self.rack.start(secret=self.region.secret, fingerprint=self.region.fingerprint,
                        extra=["--netns", self.net.rack, "--power-timeout", "10s",
                               "--agent-hold-timeout", f"{HOLD_S}s",
                               "--tftp-listen", f"{RACK_IP}:69", "--http-boot-listen", f"{RACK_IP}:5248"])
        return self

    def down(self):
        for mac in list(self.started) + ([self.ipmi_vm] if self.ipmi_vm else []):
            try:
                self.vm(mac).stop()
            except Exception:  # noqa: BLE001 - teardown goes on
                pass
        for s in self.serials.values():
            s.close()
        for step in (self.rack.stop, self.region.stop, lambda: self.ipmi and self.ipmi.stop()):
            try:
                step()
            except Exception:  # noqa: BLE001
                pass
        self.net.down()

    def rack_log(self):
        return self.rack.daemon.text()

    def restart_region(self, between=None):
        """Stops the region, runs between() while it is away, starts it
        again and waits for the rack's session to be back."""
        n = self.rack_log().count("connected to region")
        self.region.stop()
        t_down = time.time()
        if between:
            between()
        self.region.start()
        self.rack.daemon.wait_log("connected to region", timeout=60, count=n + 1)
        self.region_away += time.time() - t_down
        return time.time() - t_down

    def images_on_rack(self, timeout=60):
        """Waits until the rack holds the published ephemeral images (it
        renames each into its boot root once verified)."""
        def there():
            return all(os.path.getsize(os.path.join(self.rack.state_dir, "boot", "ephemeral", "amd64", n)) == size
                       for n, size in self.images.items())
        wait_for(there, timeout=timeout, what="the rack to fetch the ephemeral images")

    # ---- the region ----

    def api(self, method, path, body=None):
        return self.region.api(method, path, body)

    def get(self, machine):
        return ok(self.region, "GET", f"/api/v1/machines/{machine}")

    def by_mac(self, mac):
        """The ids of the machines with an interface of this MAC."""
        rows = ok(self.region, "GET", "/api/v1/interfaces?limit=1000")["interfaces"]
        return sorted({r["machine"] for r in rows if r["mac"] == mac and r["machine"] is not None})

    def machine_count(self):
        return ok(self.region, "GET", "/api/v1/machines?limit=1")["total"]

    def events(self, machine):
        return ok(self.region, "GET", f"/api/v1/machines/{machine}/events?limit=1000")["events"]

    def status_events(self, machine):
        return [e for e in self.events(machine) if e["kind"] == "status"]

    def interfaces(self, machine):
        return ok(self.region, "GET", f"/api/v1/machines/{machine}/interfaces?limit=1000")["interfaces"]

    def links(self, interface_id):
        rows = ok(self.region, "GET", f"/api/v1/ip-addresses?subnet={NET}&limit=1000")["ip_addresses"]
        return [r for r in rows if r.get("interface") == interface_id]

    def wait_status(self, machine, statuses, timeout):
        """Waits until the machine's status is one of statuses; returns the
        machine. Fails naming the status it stayed in."""
        statuses = (statuses,) if isinstance(statuses, str) else tuple(statuses)
        seen = {}

        def check():
            m = self.get(machine)
            seen["m"] = m
            return m if m["status"] in statuses else None
        try:
            return wait_for(check, timeout=timeout, interval=0.2, what=f"machine {machine} to be {'/'.join(statuses)}")
        except AssertionError as e:
            m = seen.get("m") or {}
            raise AssertionError(f"{e}; it is {m.get('status')} ({m.get('status_message')!r})\n"
                                 f"--- rack log tail ---\n{self.rack_log()[-3000:]}") from None

    def snapshot(self, machine):
        """What a refused report must not change."""
        m = self.get(machine)
        keep = {k: m.get(k) for k in ("status", "status_message", "hardware", "cpu_count", "memory_mib",
                                      "storage_bytes", "updated", "architecture")}
        ifaces = [{k: v for k, v in i.items() if k != "updated"} for i in self.interfaces(machine)]
        return {"machine": keep, "events": self.events(machine), "interfaces": ifaces,
                "machines": self.machine_count()}

    # ---- an agent's post, by hand ----

    def post(self, body, path="/machine/v1/report", method="POST", content_type="application/json",
             timeout=60):
        """curl from the agent namespace to the rack: (status, headers
        dict (lower-case names), body text). body: bytes, str or JSON."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        n = next(self._posts)
        out_body = os.path.join(self.workdir, f"post-{n}.body")
        out_head = os.path.join(self.workdir, f"post-{n}.head")
        argv = ["ip", "netns", "exec", self.agent, "curl", "-sS", "--max-time", str(timeout), "-X", method,
                "-o", out_body, "-D", out_head, "-w", "%{http_code}", "-H", "Expect:"]
        if body is not None:
            argv += ["-H", f"Content-Type: {content_type}", "--data-binary", "@-"]
        argv.append(RACK_URL + path)
        p = subprocess.run(argv, input=body or b"", capture_output=True, timeout=timeout + 10)
        code = p.stdout.decode().strip()
        headers = {}
        if os.path.exists(out_head):
            for line in open(out_head, errors="replace").read().splitlines():
                k, sep, v = line.partition(":")
                if sep:
                    headers[k.strip().lower()] = v.strip()
        text = open(out_body, errors="replace").read() if os.path.exists(out_body) else ""
        if not code.isdigit() or code == "000":
            raise AssertionError(f"curl {method} {path}: exit {p.returncode}: {p.stderr.decode()}")
        return int(code), headers, text

    def boot_script(self, mac):
        """The iPXE script the rack renders for mac (its kernel command line)."""
        st, _, text = self.post(None, path=f"/ipxe/{mac}.ipxe", method="GET")
        assert st == 200, (st, text)
        return text


def inventory(mac, purpose="enlist", token=None, cpus=4, memory_mib=2048, disks=((8 * GIB, "sda"),),
              extra_nics=()):
    """A report as the agent would post it, for a machine that is not a VM."""
    body = {"purpose": purpose, "boot_mac": mac, "arch": "amd64",
            "system": {"vendor": "Lab", "product": "Hand-made", "serial": "HM-1", "uuid": "0f1e2d3c-0000-4000-8000-"
                       + mac.replace(":", "")},
            "cpu": {"count": cpus, "model": "Lab CPU"}, "memory_mib": memory_mib,
            "disks": [{"name": name, "size_bytes": size, "model": "LabDisk", "serial": f"D{i}", "rotational": False}
                      for i, (size, name) in enumerate(disks)],
            "nics": [{"name": f"eth{i}", "mac": m, "driver": "e1000", "speed_mbps": 1000, "carrier": i == 0}
                     for i, m in enumerate((mac,) + tuple(extra_nics))]}
    if token is not None:
        body["token"] = token
    return body


def kernel_args(script):
    """{name: value} of the ironrack.* words on the script's kernel line."""
    for line in script.splitlines():
        if line.startswith("kernel "):
            return dict(w.split("=", 1) for w in line.split() if w.startswith("ironrack.") and "=" in w)
    return {}
