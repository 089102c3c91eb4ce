#!/usr/bin/python3
"""Machines: enlistment and commissioning of QEMU VMs under TCG, timed and
split into its parts (issue 11's measure).

    sudo /usr/bin/python3 tests/bench/machines.py [--rounds 5] [--build build] [--quick]
        [--no-rebuild]

The lab is the one of tests/system/test_machines.py
(tests/system/machines_lab.py): a real region publishing this build's
ephemeral kernel and initrd, a real rack serving a lab namespace (DHCP,
TFTP, HTTP boot, the agents' reports), radvd, ipmi_sim as the BMC whose
chassis starts and stops a QEMU VM, and a namespace from which ipmitool
presses the BMC's buttons. Its namespaces are named irmb-PID-XXXX-*
(the tests' are irmc-...) and are deleted at the end, also on failure.
The daemons and the images run from a copy of --build taken at the start
(others may rebuild it meanwhile).

Every round boots a fresh unknown VM: a new MAC (52:54:00:4b:..), 2 vCPUs,
512 MiB, a 2 GiB virtio disk, a virtio NIC with Debian's pxe-virtio.rom
(the cloud kernel has no e1000):
  1. power-on -> NEW: `ipmitool chassis bootdev pxe` and `chassis power on`
     at the BMC, as a person would; ipmi_sim's chassis starts the VM, which
     PXE-boots from the rack, boots the ephemeral environment and enlists;
     the machine appears (NEW); the VM powers itself off.
  2. commission -> READY: the machine's IPMI power parameters set through
     the API, POST .../commission; the region has the rack set the BMC to
     PXE and power-cycle the machine, the agent posts its inventory with its
     token, the machine goes READY and the region powers it off through the
     BMC. Timed from the request to READY and to the BMC reporting off.
  Then the machine is deleted (a fresh unknown VM for the next round).

Each boot is split as tests/system/machines_lab.py's BootTiming does it,
from the rack's log (UTC, ms), the VM's serial console (each line's wall
time as it appeared, polled every 20 ms) and the agent's own
"t=UPTIME step=..." lines:
  power-on        the request (ipmitool's power on / the POST) -> the BMC's
                  chassis starts QEMU
  firmware/iPXE   QEMU's start -> the rack starts answering GET vmlinuz
                  (SeaBIOS, iPXE's DHCP, the boot config, the script); the
                  rack's "boot: ... config for MAC" line splits it
  download        that GET -> the kernel's start (wall time of the agent's
                  first line minus its uptime): vmlinuz and initrd.img over
                  HTTP, iPXE starting the kernel; the rack's GET initrd.img
                  (iPXE asks for it once vmlinuz is in) splits it
  boot to agent   the kernel's start -> the agent's first line (its uptime)
  agent           the agent's first line -> the rack's 200 to its report
                  (module loading, DHCP, inventory, the post and the region)
  -> NEW / READY  the state seen through the API (polled every 50-100 ms)
"Our own parts" are download + boot to agent + agent; firmware/iPXE is
QEMU's SeaBIOS and Debian's iPXE ROM, not ours.

Before the rounds, unless --no-rebuild: deploy/ephemeral/build into a
scratch directory with the .debs cached in --build (what a cached
`make ephemeral` does when its inputs changed), timed, its sha256s compared
with --build's.

Each round's load average (os.getloadavg) is printed at its start and end.
Not measured: MAAS (not packaged in Debian; it does not run here)."""

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "system"))

GIB = 1 << 30
DISK, MEMORY, CPUS = 2 * GIB, 512, 2
TAG = "irmb"  # the lab's namespaces: irmb-PID-XXXX-* (test_machines.py uses irmc)
COMMISSIONING_TIMEOUT = 180
BOOT_TIMEOUT = 180


def log(msg):
    print(f"{time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def load():
    return tuple(round(x, 2) for x in os.getloadavg())


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def poll(pred, timeout, interval, what):
    """Calls pred until it returns something true; returns (value, wall
    time it was first seen)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v, time.time()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def rebuild_time(build, work):
    """A cached rebuild of the ephemeral environment into a scratch
    directory: (seconds, same bytes as build's)."""
    out = os.path.join(work, "ephemeral-rebuild")
    env = dict(os.environ, IRONRACK_DEB_CACHE=os.path.join(build, "ephemeral", "debs"))
    t = time.monotonic()
    p = subprocess.run([os.path.join(ROOT, "deploy", "ephemeral", "build"), "--out", out], env=env,
                       capture_output=True, text=True, timeout=600)
    took = time.monotonic() - t
    if p.returncode != 0:
        log(f"ephemeral rebuild failed ({p.returncode}): {p.stderr.strip()[-500:]}")
        return None, None
    same = all(sha256(os.path.join(out, "amd64", n)) == sha256(os.path.join(build, "ephemeral", "amd64", n))
               for n in ("vmlinuz", "initrd.img"))
    return took, same


class Bench:
    def __init__(self, work, bindir):
        os.environ["IRONRACK_BUILD"] = bindir  # before conftest is imported: it reads it once
        import machines_lab as ml
        from dhcpnet import DhcpNet
        from nethelp import ok
        self.ml, self.ok = ml, ok
        self.lab = ml.Lab(work, COMMISSIONING_TIMEOUT, vms=True)
        # The tests' lab with a tag of our own (the same layout, other names).
        self.lab.net = DhcpNet(self.lab.net.workdir, tag=TAG, rack_addrs=(f"{ml.RACK_IP}/24",))

    def up(self):
        lab, ok, ml = self.lab, self.ok, self.ml
        lab.up()
        v = ok(lab.region, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 46, "name": "machines-bench"})
        ok(lab.region, "POST", "/api/v1/subnets", {"cidr": ml.NET, "vlan": v["id"]})
        ok(lab.region, "POST", "/api/v1/ip-ranges", {"subnet": ml.NET, "type": "dynamic", "start_ip": ml.RANGE[0],
                                                     "end_ip": ml.RANGE[1]})
        ok(lab.region, "PATCH", f"/api/v1/vlans/{v['id']}", {"dhcp_on": True, "primary_rack": lab.rack.rack_id})
        missing = [n for n in ml.IMAGE_NAMES if n not in lab.images]
        if missing:
            raise SystemExit(f"{ml.IMAGES}: {', '.join(missing)} missing: build the ephemeral environment "
                             "(make ephemeral)")
        lab.images_on_rack()
        return self

    def down(self):
        self.lab.down()

    def ipmitool(self, *args):
        ml = self.ml
        argv = ["ip", "netns", "exec", self.lab.agent, "ipmitool", "-I", "lanplus", "-C", "3", "-H", ml.IPMI_IP,
                "-U", ml.BMC_USER, "-P", ml.BMC_PASS, *args]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"ipmitool {' '.join(args)}: exit {p.returncode}: {p.stderr.strip()}")

    def boot_config_at(self, mac, since):
        """When the rack first served a boot config for mac after since."""
        for t, line in self.ml.log_lines(self.lab.rack_log()):
            if t >= since and "boot: " in line and f"config for {mac}" in line:
                return t
        return None

    def timing(self, label, t0, serial, mark, t_state, state, mac):
        t_on = self.lab.started.get(mac)
        bt = self.ml.BootTiming(label, t0, self.lab.rack_log(), serial, mark, t_state, state,
                                t_power_on=t_on if t_on and t_on >= t0 else None)
        on = bt.t_power_on or t0
        cfg = self.boot_config_at(mac, on)

        def d(a, b):
            return None if a is None or b is None else b - a
        parts = {"power_on": d(t0, bt.t_power_on), "firmware": d(on, bt.t_kernel),
                 "to_boot_config": d(on, cfg), "boot_config_to_kernel_get": d(cfg, bt.t_kernel),
                 "download": d(bt.t_kernel, bt.t_kernel_start), "vmlinuz": d(bt.t_kernel, bt.t_initrd),
                 "initrd_and_start": d(bt.t_initrd, bt.t_kernel_start), "boot": bt.boot, "agent": bt.agent,
                 "vm_to_state": d(on, t_state), "request_to_state": d(t0, t_state),
                 "steps": {step: up for _, up, step in bt.agent_lines}}
        ours = [parts["download"], parts["boot"], parts["agent"]]
        parts["ours"] = None if None in ours else sum(ours)
        return parts

    def round(self, mac, res):
        """One round into res (partly filled if it fails)."""
        lab, ok, ml = self.lab, self.ok, self.ml
        res.update(mac=mac, load_start=load())
        assert lab.by_mac(mac) == [], f"{mac} is known already"
        lab.make_disk(mac, DISK)
        serial = lab.serial(mac)
        vm = lab.vm(mac)

        # 1. Power-on at the BMC -> NEW.
        lab.ipmi_vm = mac
        self.ipmitool("chassis", "bootdev", "pxe")
        mark = serial.mark()
        t0 = time.time()
        self.ipmitool("chassis", "power", "on")
        ids, t_new = poll(lambda: lab.by_mac(mac), BOOT_TIMEOUT, 0.1, f"a machine with {mac}")
        assert len(ids) == 1, ids
        mid = ids[0]
        res["machine"] = mid
        _, t_off = poll(lambda: not vm.running, 60, 0.05, "the VM to power itself off after enlisting")
        m = lab.get(mid)
        got = (m["status"], m["cpu_count"], m["memory_mib"], m["storage_bytes"])
        assert got == ("NEW", CPUS, MEMORY, DISK), f"enlisted as {got}, QEMU had {CPUS} CPUs, {MEMORY} MiB, {DISK}"
        res["enlist"] = self.timing("enlist", t0, serial, mark, t_new, "NEW", mac)
        res["enlist"]["request_to_vm_off"] = t_off - t0
        t_new_seen = t_new

        # 2. Commission through IPMI -> READY, and off at the BMC.
        ok(lab.region, "PATCH", f"/api/v1/machines/{mid}",
           {"power_type": "ipmi", "power_address": ml.IPMI_IP, "power_user": ml.BMC_USER,
            "power_pass": ml.BMC_PASS, "power_workarounds": "opensesspriv"})
        mark = serial.mark()
        t0c = time.time()
        st, out = lab.api("POST", f"/api/v1/machines/{mid}/commission", {})
        assert st == 200, f"commission {mid}: {st} {out}"
        m, t_ready = poll(lambda: (lambda x: x if x["status"] in ("READY", "FAILED_COMMISSIONING") else None)(
            lab.get(mid)), COMMISSIONING_TIMEOUT + 30, 0.05, f"machine {mid} to be READY")
        assert m["status"] == "READY", f"{m['status']}: {m['status_message']}\n{serial.text(mark)[-2000:]}"
        _, t_bmc_off = poll(lambda: lab.ipmi.power == "off", 60, 0.05, "the BMC to report the machine off")
        _, t_vm_off = poll(lambda: not vm.running, 60, 0.05, "the VM to stop")
        got = (m["cpu_count"], m["memory_mib"], m["storage_bytes"])
        assert got == (CPUS, MEMORY, DISK), f"commissioned as {got}"
        res["commission"] = self.timing("commission", t0c, serial, mark, t_ready, "READY", mac)
        res["commission"]["request_to_bmc_off"] = t_bmc_off - t0c
        res["commission"]["request_to_vm_off"] = t_vm_off - t0c
        e, c = res["enlist"]["request_to_state"], res["commission"]["request_to_state"]
        res["operator_total"] = e + c  # power-on -> NEW, then commission -> READY, no pause between
        res["wall_total"] = t_ready - t0  # as it ran here, the pause (VM off, PATCH) included
        res["pause"] = t0c - t_new_seen
        ok(lab.region, "DELETE", f"/api/v1/machines/{mid}")
        serial.close()
        res["load_end"] = load()

    def cleanup(self, mac):
        """After a failed round: the VM stopped, its machine deleted."""
        try:
            self.lab.vm(mac).stop()
        except Exception as e:  # noqa: BLE001 - the next round goes on
            log(f"stopping {mac}: {e}")
        for mid in self.lab.by_mac(mac):
            self.lab.api("DELETE", f"/api/v1/machines/{mid}")
        if self.lab.ipmi.power == "on":
            self.lab.ipmi.set_power("off")


ROWS = (("power_on", "BMC power-on (request -> QEMU started)"),
        ("firmware", "firmware/iPXE (QEMU start -> GET vmlinuz)"),
        ("to_boot_config", "  of which QEMU start -> boot config served"),
        ("boot_config_to_kernel_get", "  of which boot config -> GET vmlinuz"),
        ("download", "kernel+initrd download (-> kernel start)"),
        ("vmlinuz", "  of which GET vmlinuz -> GET initrd.img"),
        ("initrd_and_start", "  of which GET initrd.img -> kernel start"),
        ("boot", "kernel boot to agent start"),
        ("agent", "agent (to the rack's 200)"),
        ("ours", "our own parts (download + boot + agent)"),
        ("vm_to_state", "QEMU start -> state"),
        ("request_to_state", "request -> state"),
        ("request_to_bmc_off", "request -> BMC reports off"),
        ("request_to_vm_off", "request -> VM off"))


def fmt(v):
    return "-" if v is None else f"{v:.2f} s"


def print_round(r, res):
    print(f"\nround {r}: {res['mac']} ({res.get('machine', '?')}), load average {fmt_load(res['load_start'])} "
          f"at the start, {fmt_load(res.get('load_end'))} at the end")
    if "error" in res:
        print(f"  FAILED: {res['error']}")
    print(f"  {'':44} {'power-on -> NEW':>16} {'commission -> READY':>20}")
    for key, label in ROWS:
        e = res.get("enlist", {}).get(key)
        c = res.get("commission", {}).get(key)
        if e is None and c is None:
            continue
        print(f"  {label:44} {fmt(e):>16} {fmt(c):>20}")
    for key in ("enlist", "commission"):
        steps = res.get(key, {}).get("steps")
        if steps:
            print(f"  {key} agent steps (uptime s): " + " ".join(f"{k}={v:.2f}" for k, v in steps.items()))
    if "operator_total" in res:
        print(f"  power-on -> NEW + commission -> READY: {res['operator_total']:.2f} s "
              f"(as run here, with {res['pause']:.2f} s between NEW and the commission request: "
              f"{res['wall_total']:.2f} s)")


def fmt_load(t):
    return "?" if not t else " ".join(f"{x:.2f}" for x in t)


def spread(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "-"
    per = " / ".join(f"{v:.2f}" for v in vals)
    return f"{min(vals):6.2f} {statistics.median(vals):7.2f} {max(vals):6.2f}   ({per})"


def summary(rounds, images, rebuild, started, elapsed):
    done = [r for r in rounds if "error" not in r]
    print(f"\nMachines: {len(done)} of {len(rounds)} round(s) completed ({started}, {elapsed:.0f} s); "
          f"QEMU TCG, {CPUS} vCPUs, {MEMORY} MiB, {DISK // GIB} GiB virtio disk, virtio-net + pxe-virtio.rom")
    print(f"  {'seconds':52} {'min':>6} {'median':>7} {'max':>6}   (per round)")
    for phase, title in (("enlist", "power-on -> NEW"), ("commission", "commission -> READY")):
        print(f"  {title}")
        for key, label in ROWS:
            vals = [r[phase].get(key) for r in done]
            if all(v is None for v in vals):
                continue
            print(f"    {label:50} {spread(vals)}")
    print("  totals")
    print(f"    {'power-on -> NEW + commission request -> READY':50} {spread([r['operator_total'] for r in done])}")
    print(f"    {'commission request -> READY alone':50} "
          f"{spread([r['commission']['request_to_state'] for r in done])}")
    print(f"    {'power-on -> READY as run here (pause included)':50} {spread([r['wall_total'] for r in done])}")
    print("  load average (1 min) at each round's start / end: "
          + ", ".join(f"{r['load_start'][0]:.2f}/{r['load_end'][0]:.2f}" for r in rounds))
    print("  ephemeral images: " + ", ".join(f"{n} {s:,} bytes ({s / 1e6:.1f} MB)" for n, s in images.items())
          + f"; together {sum(images.values()) / 1e6:.1f} MB")
    took, same = rebuild
    if took is not None:
        print(f"  ephemeral rebuild with the .debs cached (deploy/ephemeral/build): {took:.1f} s, "
              f"{'the same bytes as' if same else 'DIFFERENT bytes from'} the build's images")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 round")
    ap.add_argument("--no-rebuild", action="store_true", help="do not time a cached ephemeral rebuild")
    a = ap.parse_args()
    if a.quick:
        a.rounds = 1
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    for tool in ("ip", "curl", "ipmi_sim", "ipmitool", "qemu-system-x86_64", "radvd"):
        if not shutil.which(tool):
            sys.exit(f"needs {tool}")
    build = os.path.abspath(a.build)
    from dhcp import ensure_binaries  # tests/bench/dhcp.py
    daemons = ["ironrack-regiond", "ironrack-rackd"]
    ensure_binaries(build, daemons)
    work = tempfile.mkdtemp(prefix="irbench-machines-", dir="/tmp")
    os.chmod(work, 0o755)
    # The daemons and the images from a copy: others may rebuild build/.
    bindir = os.path.join(work, "bin")
    os.makedirs(os.path.join(bindir, "ephemeral", "amd64"))
    for name in daemons:
        shutil.copy2(os.path.join(build, name), bindir)
    images = {}
    for name in ("vmlinuz", "initrd.img"):
        src = os.path.join(build, "ephemeral", "amd64", name)
        if not os.path.exists(src):
            sys.exit(f"{src} missing: build the ephemeral environment (make ephemeral)")
        shutil.copy2(src, os.path.join(bindir, "ephemeral", "amd64"))
        images[name] = os.path.getsize(src)
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    built = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(os.stat(os.path.join(bindir, daemons[1])).st_mtime))
    log(f"daemons from {build}, built {built}, tree at {head or '?'}")
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    t_start = time.monotonic()
    rebuild = (None, None)
    if not a.no_rebuild:
        rebuild = rebuild_time(build, work)
        if rebuild[0] is not None:
            log(f"ephemeral rebuild, .debs cached: {rebuild[0]:.1f} s, same bytes: {rebuild[1]}")
    bench = Bench(work, bindir)
    rounds = []
    try:
        bench.up()
        log(f"lab up ({bench.lab.net.prefix}-*); load average {fmt_load(load())}")
        for r in range(1, a.rounds + 1):
            mac = "52:54:00:4b:" + ":".join(f"{b:02x}" for b in os.urandom(2))
            log(f"round {r}: {mac}")
            res = {}
            try:
                bench.round(mac, res)
            except Exception as e:  # noqa: BLE001 - the next round goes on
                res.update(error=str(e)[:3000], load_end=load())
                log(f"round {r} failed: {e}")
                bench.cleanup(mac)
            rounds.append(res)
            print_round(r, res)
            sys.stdout.flush()
    finally:
        bench.down()
        if not os.environ.get("IRONRACK_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
    summary(rounds, images, rebuild, started, time.monotonic() - t_start)
    print(json.dumps({"args": vars(a), "images": images, "rebuild": rebuild, "rounds": rounds}, default=str),
          file=sys.stderr)


if __name__ == "__main__":
    main()
