"""Power control end to end: a real region, a real rack serving a lab
namespace, and real BMCs on the lab's bridge -- OpenIPMI's ipmi_sim
(IPMI 2.0 lanplus) and our Redfish emulator (tests/system/redfish_emu.py) --
whose power-on starts a QEMU VM that PXE-boots from the rack:

    <prefix>-sw     bridge br0 (10.44.0.0/24) and the VMs' taps
    <prefix>-rack   eth0 10.44.0.1/24: the rack serves this namespace (--netns):
                    DHCP, TFTP, HTTP boot, and its BMC calls start here
    <prefix>-bmc    eth0 10.44.0.10 (ipmi_sim), 10.44.0.11 (Redfish emulator),
                    10.44.0.12 (lanplus_bmc.py: cipher suite 17, which ipmi_sim lacks)
    <prefix>-cap    eth0 10.44.0.3: a capture point for Wake-on-LAN, a DHCP client

Tests run in file order and share the lab (module fixtures). Every
namespace is deleted at the end, also on failure; nothing touches a host
interface."""

import json
import os
import select
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import alone, ROOT, SANITIZED, Rack, Region, make_dir, needs_root, needs_tools, wait_for, plain_pass_only
from dhcpnet import DhcpNet, udhcpc
from nethelp import ok, psql, refused

sys.path.insert(0, os.path.dirname(__file__))
import ipmisim  # noqa: E402
import qemuvm  # noqa: E402
from lanplus_bmc import LanplusBmc  # noqa: E402
from redfish_proc import RedfishEmulator  # noqa: E402

NET = "10.44.0.0/24"
RACK_IP, CAP_IP, IPMI_IP, REDFISH_IP, LANPLUS_IP = "10.44.0.1", "10.44.0.3", "10.44.0.10", "10.44.0.11", "10.44.0.12"
RANGE = ("10.44.0.100", "10.44.0.200")
VM_IPMI, VM_REDFISH = "52:54:00:44:00:01", "52:54:00:44:00:02"
WOL_MAC = "02:00:00:44:00:77"
BMC_USER, BMC_PASS = "admin", "Pw5ecret-BMC-44"
REDFISH_SYSTEMS = 41  # 1 drives a VM; 2..41 are the isolation test's reachable BMCs
QEMU_HOOK = os.path.join(ROOT, "tests", "system", "qemuvm.py")
SLOW = 3 if SANITIZED else 1
POWER_TIMEOUT = 10  # the rack's power_timeout here, seconds
# QEMU guests boot in the plain pass only (they are slow, and the sanitizer
# pass is about our C code, which every other step here still runs): there
# the BMCs' power changes reach no VM.
VMS = not SANITIZED


@pytest.fixture(autouse=True, scope="module")
def lab_needs():
    needs_root()
    needs_tools("ip", "ipmi_sim", "ipmitool", "qemu-system-x86_64", "busybox", "openssl", "radvd", "tcpdump")


class PowerRegion(Region):
    def args(self):
        return super().args() + ["--power-poll-interval", "10s"]


class Lab:
    def __init__(self, workdir):
        self.workdir = workdir
        self.net = DhcpNet(os.path.join(workdir, "net"), tag="irpw", rack_addrs=(f"{RACK_IP}/24",))
        os.makedirs(self.net.workdir)
        self.region = PowerRegion(os.path.join(workdir, "region"))
        os.makedirs(self.region.state_dir, mode=0o700)
        self.rack = Rack(self.region, os.path.join(workdir, "rack"), "power-rack")
        self.vmdir = os.path.join(workdir, "vms")
        os.makedirs(self.vmdir)
        self.ipmi = None
        self.lanplus = None
        self.redfish = None

    def vm_config(self):
        vms = {"1": {"switch_ns": self.net.sw, "bridge": "br0", "mac": VM_REDFISH}}
        path = os.path.join(self.vmdir, "vms.json")
        with open(path, "w") as f:
            json.dump({"state_dir": self.vmdir, "vms": vms}, f)
        return path

    def vm(self, mac):
        return qemuvm.PxeVm(self.net.sw, "br0", mac, os.path.join(self.vmdir, f"{mac}.serial"),
                            state_dir=self.vmdir)

    def up(self):
        self.net.up()
        self.bmc = self.net.host("bmc", addrs=(f"{IPMI_IP}/24", f"{REDFISH_IP}/24", f"{LANPLUS_IP}/24"),
                                 mac="02:00:00:44:00:10")
        self.cap = self.net.host("cap", addrs=(f"{CAP_IP}/24",), mac="02:00:00:44:00:03")
        conf = self.vm_config()
        ipmi_vm = self.vm(VM_IPMI)

        def chassis(power, boot):  # ipmi_sim's chassis control: the machine behind the BMC
            if not VMS:
                return
            if power == "on":
                ipmi_vm.start(boot)
            else:
                ipmi_vm.stop()
        self.ipmi = ipmisim.IpmiSim(self.bmc, IPMI_IP, BMC_USER, BMC_PASS, os.path.join(self.workdir, "ipmi"),
                                    hook=chassis)
        self.ipmi.start()
        self.lanplus = LanplusBmc(self.bmc, LANPLUS_IP, BMC_USER, BMC_PASS, self.workdir).start()
        self.redfish = RedfishEmulator(self.bmc, [f"{REDFISH_IP}:443"], systems=REDFISH_SYSTEMS, user=BMC_USER,
                                       password=BMC_PASS, workdir=os.path.join(self.workdir, "redfish"),
                                       hook=f"{sys.executable} {QEMU_HOOK} --config {conf}" if VMS else None).start()
        if VMS:
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
                        extra=["--netns", self.net.rack, "--power-timeout", f"{POWER_TIMEOUT}s",
                               "--tftp-listen", f"{RACK_IP}:69", "--http-boot-listen", f"{RACK_IP}:5248"])
        return self

    def down(self):
        for mac in (VM_IPMI, VM_REDFISH):
            try:
                self.vm(mac).stop()
            except Exception:  # noqa: BLE001 - teardown goes on
                pass
        for step in (self.rack.stop, self.region.stop, lambda: self.redfish and self.redfish.stop(),
                     lambda: self.ipmi and self.ipmi.stop(), lambda: self.lanplus and self.lanplus.stop()):
            try:
                step()
            except Exception:  # noqa: BLE001
                pass
        self.net.down()

    def rack_log(self):
        return self.rack.daemon.text()


@pytest.fixture(scope="module")
def lab():
    workdir = make_dir("irpower-")
    lab = Lab(workdir)
    try:
        lab.up()
        yield lab
    finally:
        lab.down()
        if not os.environ.get("IRONRACK_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def vlan(lab):
    """IPAM for the lab: its subnet on a VLAN the rack serves DHCP (PXE) on."""
    r = lab.region
    v = ok(r, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 44, "name": "power-lab"})
    ok(r, "POST", "/api/v1/subnets", {"cidr": NET, "vlan": v["id"]})
    ok(r, "POST", "/api/v1/ip-ranges", {"subnet": NET, "type": "dynamic", "start_ip": RANGE[0], "end_ip": RANGE[1]})
    ok(r, "PATCH", f"/api/v1/vlans/{v['id']}", {"dhcp_on": True, "primary_rack": lab.rack.rack_id})
    return v


def machine(lab, host, mac=None, vlan=None, **power):
    r = lab.region
    m = ok(r, "POST", "/api/v1/machines", {"hostname": host, **power})
    if mac:
        body = {"name": "eth0", "mac": mac}
        if vlan:
            body["vlan"] = vlan["id"]
        ok(r, "POST", f"/api/v1/machines/{host}/interfaces", body)
    return m


def act(lab, host, action, wait=True, timeout=60, **extra):
    """POST a power action; with wait, its finished record."""
    a = ok(lab.region, "POST", f"/api/v1/machines/{host}/power", {"action": action, **extra}, status=202)["action"]
    assert a["status"] == "pending" and a["action"] == action, a
    if not wait:
        return a
    return finished(lab, host, a["id"], timeout)


def finished(lab, host, action_id, timeout=60):
    def done():
        a = ok(lab.region, "GET", f"/api/v1/machines/{host}/power/actions/{action_id}")["action"]
        return a if a["status"] != "pending" else None
    return wait_for(done, timeout=timeout * SLOW, interval=0.1, what=f"power action {action_id} of {host}")


def leases(lab):
    rows = ok(lab.region, "GET", f"/api/v1/ip-addresses?subnet={NET}&limit=1000")["ip_addresses"]
    return {r.get("lease_mac") or r.get("mac"): r["ip"] for r in rows if r.get("owner_kind") == "dhcp_lease"}


# ---- parameters ----


def test_power_parameters_are_checked_and_the_password_is_write_only(lab, vlan):
    r = lab.region
    refused(r, "POST", "/api/v1/machines", {"hostname": "bad-1", "power_type": "ipmi"}, field="power_address")
    refused(r, "POST", "/api/v1/machines", {"hostname": "bad-2", "power_type": "smoke-signals"},
            field="power_type")
    refused(r, "POST", "/api/v1/machines", {"hostname": "bad-3", "power_type": "redfish", "power_address": IPMI_IP,
                                            "power_cipher_suite": "17"}, field="power_cipher_suite")
    refused(r, "POST", "/api/v1/machines", {"hostname": "bad-4", "power_type": "ipmi", "power_address": IPMI_IP,
                                            "power_cipher_suite": "5"}, field="power_cipher_suite")
    refused(r, "POST", "/api/v1/machines", {"hostname": "bad-5", "power_address": IPMI_IP}, field="power_type")
    # Nothing of a refused create was written.
    assert not [m for m in ok(r, "GET", "/api/v1/machines?limit=1000")["machines"]
                if m["hostname"].startswith("bad-")]

    m = machine(lab, "node-ipmi", VM_IPMI, vlan, power_type="ipmi", power_address=IPMI_IP, power_user=BMC_USER,
                power_pass=BMC_PASS, power_workarounds="opensesspriv")
    assert m["power_type"] == "ipmi" and m["power_pass_set"] is True, m
    assert m["power_options"] == {"workarounds": "opensesspriv"}, m
    assert "power_pass" not in m and BMC_PASS not in json.dumps(m)
    # An update that does not check leaves the machine as it was.
    refused(r, "PATCH", "/api/v1/machines/node-ipmi", {"power_privilege": "root", "description": "x"},
            field="power_privilege")
    m2 = ok(r, "GET", "/api/v1/machines/node-ipmi")
    assert m2["description"] == "" and m2["power_options"] == {"workarounds": "opensesspriv"}, m2
    # Switching driver drops the old driver's options.
    ok(r, "POST", "/api/v1/machines", {"hostname": "node-switch", "power_type": "ipmi", "power_address": IPMI_IP,
                                       "power_cipher_suite": "17"})
    sw = ok(r, "PATCH", "/api/v1/machines/node-switch", {"power_type": "manual", "power_address": ""})
    assert sw["power_type"] == "manual" and sw["power_options"] == {}, sw
    refused(r, "POST", "/api/v1/machines/node-switch/power", {"action": "dance"}, field="action")
    refused(r, "POST", "/api/v1/machines/node-switch/power", {"action": "query", "boot": "pxe"}, field="boot")


def test_no_power_type_is_a_conflict_and_no_rack_is_a_clear_error(lab, vlan):
    r = lab.region
    machine(lab, "node-bare")
    refused(r, "POST", "/api/v1/machines/node-bare/power", {"action": "on"}, status=409, text="power_type")
    machine(lab, "node-far", power_type="ipmi", power_address="192.0.2.77", power_user="u", power_pass="p")
    refused(r, "POST", "/api/v1/machines/node-far/power", {"action": "on"}, status=503,
            text=["no connected rack reaches BMC 192.0.2.77", "node-far"])


# ---- IPMI ----


def test_ipmi_power_on_pxe_boots_the_vm_from_the_rack(lab, vlan):
    vm = lab.vm(VM_IPMI)
    assert not vm.running
    t0 = time.monotonic()
    a = act(lab, "node-ipmi", "on", boot="pxe", timeout=60)
    assert a["status"] == "done", a
    assert a["requested_by"] == "key admin", a
    assert a["rack"] == lab.rack.rack_id, a
    # The boot device was set to PXE before power-on.
    assert lab.ipmi.boot == "pxe", lab.ipmi.calls
    assert lab.ipmi.power == "on"
    if VMS:
        _vm_boots_from_the_rack(lab, vm, VM_IPMI, t0)
    q = act(lab, "node-ipmi", "query")
    assert q["status"] == "done" and q["state"] == "on", q
    p = ok(lab.region, "GET", "/api/v1/machines/node-ipmi/power")
    assert p["state"] == "on" and p["last_action"]["id"] == q["id"], p


def _vm_boots_from_the_rack(lab, vm, mac, t0):
    """The machine behind the BMC runs and network-boots from the rack: a
    lease from the rack's DHCP, then (iPXE's ROM being what it is) its boot
    script from the rack's HTTP boot server. The script names the enlistment
    kernel, which comes with the lifecycle issue: fetching it is not checked."""
    assert wait_for(lambda: vm.running, timeout=20, what="the VM started by the BMC")
    ip = wait_for(lambda: leases(lab).get(mac), timeout=60 * SLOW, what=f"a lease for {mac}")
    wait_for(lambda: any(f"http: {ip}:" in line and "GET '/ipxe/" in line and "' 200," in line
                         for line in lab.rack_log().splitlines()),
             timeout=60 * SLOW, what=f"the boot script fetched by the VM at {ip} from the rack")
    print(f"power-on -> boot script fetched by {mac}: {time.monotonic() - t0:.1f} s")


def test_ipmi_power_off_stops_the_vm_and_query_says_off(lab, vlan):
    vm = lab.vm(VM_IPMI)
    a = act(lab, "node-ipmi", "off")
    assert a["status"] == "done", a
    assert lab.ipmi.power == "off"
    if VMS:
        wait_for(lambda: not vm.running, timeout=20, what="the VM stopped")
    q = act(lab, "node-ipmi", "query")
    assert q["state"] == "off", q


def test_ipmi_cipher_suites(lab, vlan):
    # Cipher suite 3 is the default (every action above used it); 17
    # (HMAC-SHA256) is selectable. OpenIPMI 2.0.33's ipmi_sim has no SHA-256:
    # it refuses suite 17, and the error must say so, naming the BMC.
    ok(lab.region, "PATCH", "/api/v1/machines/node-ipmi", {"power_cipher_suite": "17"})
    q = act(lab, "node-ipmi", "query")
    assert q["status"] == "failed", q
    assert IPMI_IP in q["message"] and "cipher" in q["message"].lower(), q
    ok(lab.region, "PATCH", "/api/v1/machines/node-ipmi", {"power_cipher_suite": "3"})
    q = act(lab, "node-ipmi", "query")
    assert q["status"] == "done" and q["state"] == "off", q


def test_ipmi_cipher_suite_17_sets_pxe_and_powers_on(lab, vlan):
    machine(lab, "node-cs17", power_type="ipmi", power_address=LANPLUS_IP, power_user=BMC_USER, power_pass=BMC_PASS,
            power_cipher_suite="17")
    a = act(lab, "node-cs17", "on", boot="pxe")
    assert a["status"] == "done" and a["state"] == "on", a
    assert lab.lanplus.power == "on"
    # Boot flags valid, next boot only, legacy, force PXE (IPMI 2.0 table 28-14).
    assert lab.lanplus.boot_flags == bytes.fromhex("8004000000"), lab.lanplus.boot_flags.hex()
    a = act(lab, "node-cs17", "on", boot="disk", boot_persistent=True, boot_efi=True)
    assert lab.lanplus.boot_flags == bytes.fromhex("e008000000"), lab.lanplus.boot_flags.hex()
    assert act(lab, "node-cs17", "off")["status"] == "done" and lab.lanplus.power == "off"


def test_ipmi_busy_bmc_is_retried(lab, vlan):
    lab.lanplus.fault("busy 1")  # the next chassis command answers C0h (node busy)
    try:
        a = act(lab, "node-cs17", "on")
    finally:
        lab.lanplus.fault(None)
    assert a["status"] == "done" and lab.lanplus.power == "on", a
    ev = ok(lab.region, "GET", "/api/v1/machines/node-cs17/events")["events"]
    assert ev[-1]["kind"] == "power.done", ev
    log = lab.rack_log()
    assert "node-cs17: on done" in log and "2 attempts" in log, log[-2000:]
    act(lab, "node-cs17", "off")


def test_cli_power_commands(lab, vlan):
    from conftest import cli
    out = cli(lab.region, "machines", "power-on", "node-cs17", "--wait")
    assert "node-cs17: power on: done" in out.stdout, out
    out = cli(lab.region, "machines", "power-query", "node-cs17", "--wait")
    assert "on" in out.stdout, out
    out = cli(lab.region, "machines", "power", "node-cs17")
    assert "on" in out.stdout and lab.rack.rack_id in out.stdout, out
    out = cli(lab.region, "machines", "events", "node-cs17")
    assert "power.done" in out.stdout, out
    out = cli(lab.region, "machines", "power-off", "node-far", "--wait", check=False)
    assert out.returncode != 0 and "no connected rack reaches BMC 192.0.2.77" in out.stderr, out
    out = cli(lab.region, "machines", "power-off", "node-cs17", "--wait")
    assert lab.lanplus.power == "off"


def test_ipmi_wrong_password_is_an_error_naming_the_bmc(lab, vlan):
    machine(lab, "node-ipmi-badpw", power_type="ipmi", power_address=IPMI_IP, power_user=BMC_USER,
            power_pass="not-the-password", power_workarounds="opensesspriv")
    a = act(lab, "node-ipmi-badpw", "query")
    assert a["status"] == "failed", a
    assert IPMI_IP in a["message"] and "password" in a["message"].lower(), a
    m = ok(lab.region, "GET", "/api/v1/machines/node-ipmi-badpw")
    assert m["power_state"] == "error" and IPMI_IP in m["power_error"], m


# ---- Redfish ----


def test_redfish_power_on_pxe_boots_the_vm_and_off_stops_it(lab, vlan):
    machine(lab, "node-redfish", VM_REDFISH, vlan, power_type="redfish", power_address=REDFISH_IP,
            power_user=BMC_USER, power_pass=BMC_PASS, power_verify_tls="false",
            power_system="/redfish/v1/Systems/1")
    vm = lab.vm(VM_REDFISH)
    lab.redfish.reset_counters()
    t0 = time.monotonic()
    a = act(lab, "node-redfish", "on", boot="pxe")
    assert a["status"] == "done", a
    st = lab.redfish.state()["systems"]["1"]
    assert st["PowerState"] == "On", st
    assert st["last_boot_target"] == "Pxe", st
    if VMS:
        _vm_boots_from_the_rack(lab, vm, VM_REDFISH, t0)
    q = act(lab, "node-redfish", "query")
    assert q["state"] == "on", q
    a = act(lab, "node-redfish", "off")
    assert a["status"] == "done", a
    assert lab.redfish.state()["systems"]["1"]["PowerState"] == "Off"
    if VMS:
        wait_for(lambda: not vm.running, timeout=20, what="the VM stopped")
    assert act(lab, "node-redfish", "query")["state"] == "off"


def test_redfish_stale_etag_is_retried_and_allowable_values_are_honoured(lab, vlan):
    # System 2 advertises no PowerCycle: cycle must use what it offers.
    machine(lab, "node-rf2", power_type="redfish", power_address=REDFISH_IP, power_user=BMC_USER,
            power_pass=BMC_PASS, power_verify_tls="false", power_system="/redfish/v1/Systems/2")
    lab.redfish.set_system("2", reset_types=["On", "ForceOff", "ForceRestart"], stale_etag_next=1)
    lab.redfish.reset_counters()
    a = act(lab, "node-rf2", "on", boot="disk")
    assert a["status"] == "done", a
    st = lab.redfish.state(system="2")
    assert st["precondition_failed"] >= 1, st  # the driver met a stale ETag and tried again
    assert st["Boot"]["BootSourceOverrideTarget"] == "Hdd" or st["last_boot_target"] == "Hdd", st
    c = act(lab, "node-rf2", "cycle")
    assert c["status"] == "done", c
    assert lab.redfish.state(system="2")["PowerState"] == "On"


def test_redfish_basic_auth(lab, vlan):
    machine(lab, "node-rf-basic", power_type="redfish", power_address=REDFISH_IP, power_user=BMC_USER,
            power_pass=BMC_PASS, power_verify_tls="false", power_auth="basic", power_system="/redfish/v1/Systems/3")
    logins = lab.redfish.state(systems=False)["logins"]
    a = act(lab, "node-rf-basic", "cycle")
    assert a["status"] == "done" and a["state"] == "on", a
    assert lab.redfish.state(system="3")["PowerState"] == "On"
    assert lab.redfish.state(systems=False)["logins"] == logins  # no session: basic auth on every request
    assert act(lab, "node-rf-basic", "off")["status"] == "done"


def test_redfish_wrong_password_and_tls_verification(lab, vlan):
    machine(lab, "node-rf-badpw", power_type="redfish", power_address=REDFISH_IP, power_user=BMC_USER,
            power_pass="wrong", power_verify_tls="false", power_system="/redfish/v1/Systems/3")
    a = act(lab, "node-rf-badpw", "query")
    assert a["status"] == "failed" and REDFISH_IP in a["message"] and "401" in a["message"], a
    # Verification is on by default: a self-signed certificate is refused, saying how to choose otherwise.
    machine(lab, "node-rf-tls", power_type="redfish", power_address=REDFISH_IP, power_user=BMC_USER,
            power_pass=BMC_PASS, power_system="/redfish/v1/Systems/3")
    a = act(lab, "node-rf-tls", "query")
    assert a["status"] == "failed" and "power_verify_tls" in a["message"], a


# ---- Wake-on-LAN ----


def capture_magic(lab, seconds):
    """Start a capture of UDP port 9 in the capture namespace; returns a
    function giving the MACs woken."""
    out = os.path.join(lab.workdir, "wol.pcap")
    p = subprocess.Popen(["ip", "netns", "exec", lab.cap, "tcpdump", "-i", "eth0", "--immediate-mode", "-U", "-w", out, "-c", "5",
                          "udp port 9"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # tcpdump says "listening on" once its capture is open (a fixed sleep
    # lost the packet on a loaded machine); --immediate-mode hands each packet
    # over at once instead of when the kernel's one-second buffer timer fires,
    # which the terminate below could beat
    ready = False
    deadline = time.monotonic() + 20
    while not ready and time.monotonic() < deadline:
        r, _, _ = select.select([p.stderr], [], [], deadline - time.monotonic())
        if not r:
            break
        line = p.stderr.readline()
        if not line:
            break
        ready = b"listening on" in line
    assert ready, "tcpdump did not start its capture"

    def woken():
        p.terminate()
        p.wait(10)
        data = open(out, "rb").read() if os.path.exists(out) else b""
        found = set()
        i = data.find(b"\xff" * 6)
        while i >= 0:
            mac = data[i + 6:i + 12]
            if len(mac) == 6 and data[i + 6:i + 102] == mac * 16:
                found.add(":".join(f"{b:02x}" for b in mac))
            i = data.find(b"\xff" * 6, i + 1)
        return found
    return woken


def test_wake_on_lan_magic_packet_is_seen_on_the_vlan(lab, vlan):
    needs_tools("tcpdump")
    machine(lab, "node-wol", WOL_MAC, vlan, power_type="wol")
    woken = capture_magic(lab, 10)
    a = act(lab, "node-wol", "on")
    assert a["status"] == "done", a
    time.sleep(0.5)
    assert WOL_MAC in woken()
    q = act(lab, "node-wol", "query")
    assert q["status"] == "done" and q["state"] == "unknown", q
    off = act(lab, "node-wol", "off")
    assert off["status"] in ("failed", "done") and off["needs_person"], off


def test_manual_power_needs_a_person(lab, vlan):
    machine(lab, "node-manual", "02:00:00:44:00:78", vlan, power_type="manual")
    a = act(lab, "node-manual", "on")
    assert a["status"] == "done" and a["needs_person"] is True, a
    ev = ok(lab.region, "GET", "/api/v1/machines/node-manual/events")["events"]
    assert [e["kind"] for e in ev] == ["power.requested", "power.needs_person"], ev


# ---- one bad BMC must not stall the others ----


def dora_ms(lab, name):
    t = time.monotonic()
    env = udhcpc(lab.net, lab.cap, name=name, timeout=20)
    assert env.get("ip"), env
    return (time.monotonic() - t) * 1000


def stamp(rfc3339):
    return time.mktime(time.strptime(rfc3339[:19], "%Y-%m-%dT%H:%M:%S")) + int(rfc3339[20:23]) / 1000


@plain_pass_only
@alone
def test_isolation_40_answer_while_10_bmcs_are_unreachable(lab, vlan):
    hosts = [f"iso-ok-{i:02d}" for i in range(40)]
    dead = [f"iso-dead-{i:02d}" for i in range(10)]
    for i, h in enumerate(hosts):
        machine(lab, h, power_type="redfish", power_address=REDFISH_IP, power_user=BMC_USER, power_pass=BMC_PASS,
                power_verify_tls="false", power_system=f"/redfish/v1/Systems/{i + 2}")

    def post_all(names, action):
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(16) as pool:  # as many operators (or one script) would
            return dict(zip(names, pool.map(lambda h: act(lab, h, action, wait=False)["id"], names)))

    def span(actions):
        # From the region's own records: each action from its request to
        # its outcome (taking 50 requests in takes the API a while).
        return max(stamp(a["finished"]) - stamp(a["requested"]) for a in actions)

    # DHCP clients come and go all along (DORAs measured per phase).
    stop, phase, doras = threading.Event(), ["alone"], {"alone": [], "beside dead": []}

    def dhcp_during():
        n = 0
        while not stop.is_set():
            n += 1
            doras[phase[0]].append(dora_ms(lab, f"dora{n}"))
    th = threading.Thread(target=dhcp_during)
    th.start()
    try:
        t = time.monotonic()
        one = act(lab, hosts[0], "query")
        t_one = time.monotonic() - t
        assert one["status"] == "done", one
        # The 40 without any dead BMC: what one emulator process answering
        # 40 BMCs at once costs on this machine.
        ids = post_all(hosts, "on")
        alone = [finished(lab, h, ids[h], timeout=30) for h in hosts]
        assert all(a["status"] == "done" for a in alone), alone
        t_alone = span(alone)

        phase[0] = "beside dead"
        for i, h in enumerate(dead):
            machine(lab, h, power_type="redfish", power_address=f"10.44.0.{240 + i}", power_user=BMC_USER,
                    power_pass=BMC_PASS, power_verify_tls="false")
        t = time.monotonic()
        ids = post_all(dead + hosts, "off")
        ok_actions = [finished(lab, h, ids[h], timeout=30) for h in hosts]
        assert all(a["status"] == "done" for a in ok_actions), ok_actions
        t_40 = span(ok_actions)
        for h in dead:
            # An action may wait behind the poll that met the dead BMC when
            # it joined the poll set: one call at a time per machine.
            a = finished(lab, h, ids[h], timeout=30)
            assert a["status"] == "failed", a
            assert "10.44.0.2" in a["message"] and ("no answer" in a["message"] or "timed out" in a["message"]), a
        t_all = time.monotonic() - t
    finally:
        stop.set()
        th.join(60)
    print(f"isolation: one {t_one:.2f} s, the 40 alone {t_alone:.2f} s, the 40 beside 10 dead {t_40:.2f} s, "
          f"all 50 {t_all:.2f} s; DORA ms alone {[round(d) for d in doras['alone']]}, "
          f"beside dead {[round(d) for d in doras['beside dead']]}")
    # The 40 reachable ones take what they take alone, not the power_timeout
    # the unreachable ones wait. Beside the dead ones they have been seen at
    # up to 2.3x their time alone on 2 vCPUs (1.16 s -> 2.64 s), a run
    # with nothing beside it: the bound is 2.5x, and half the timeout.
    assert t_40 < 2.5 * t_alone + 0.5 * SLOW, (t_alone, t_40)
    assert t_40 < 0.5 * POWER_TIMEOUT, (t_alone, t_40)
    assert t_all >= POWER_TIMEOUT - 1, t_all  # the dead ones really waited for their timeout
    assert doras["beside dead"] and max(doras["beside dead"]) < 3000 * SLOW, doras


# ---- polling ----


def test_poll_reports_a_change_made_behind_the_regions_back(lab, vlan):
    # A person powers system 1 on at the machine: the next poll sees it.
    assert act(lab, "node-redfish", "query")["state"] == "off"
    assert ok(lab.region, "GET", "/api/v1/machines/node-redfish")["power_state"] == "off"
    lab.redfish.set_system("1", PowerState="On", hook=False)
    wait_for(lambda: ok(lab.region, "GET", "/api/v1/machines/node-redfish")["power_state"] == "on",
             timeout=30 * SLOW, what="the polled state to reach the region")
    ev = ok(lab.region, "GET", "/api/v1/machines/node-redfish/events")["events"]
    assert any(e["kind"] == "power.state" and "on" in e["description"] for e in ev), [(e["kind"], e["description"]) for e in ev]
    lab.redfish.set_system("1", PowerState="Off", hook=False)


def test_poll_reports_a_change_at_the_machine_after_an_action(lab, vlan):
    # The poll last saw "on"; an action turns the machine off; a person
    # turns it on at the machine. The poll must report "on" although it is
    # what the poll itself saw last.
    lab.redfish.set_system("1", PowerState="On", hook=False)
    wait_for(lambda: ok(lab.region, "GET", "/api/v1/machines/node-redfish")["power_state"] == "on",
             timeout=30 * SLOW, what="the polled state to reach the region")
    assert act(lab, "node-redfish", "off")["status"] == "done"
    assert ok(lab.region, "GET", "/api/v1/machines/node-redfish")["power_state"] == "off"
    lab.redfish.set_system("1", PowerState="On", hook=False)
    wait_for(lambda: ok(lab.region, "GET", "/api/v1/machines/node-redfish")["power_state"] == "on",
             timeout=30 * SLOW, what="the change made at the machine to reach the region")
    lab.redfish.set_system("1", PowerState="Off", hook=False)
    wait_for(lambda: ok(lab.region, "GET", "/api/v1/machines/node-redfish")["power_state"] == "off",
             timeout=30 * SLOW, what="the polled state to reach the region")


# ---- the password stays secret ----


def test_the_bmc_password_is_nowhere_in_clear(lab, vlan):
    r = lab.region
    rows = psql(r, "SELECT power_secret, power_params::text FROM machine WHERE hostname = 'node-ipmi'")
    assert rows and BMC_PASS not in rows, rows
    assert BMC_PASS.encode().hex() not in rows, rows
    dump = psql(r, "SELECT string_agg(m::text, ' ') FROM machine m") + psql(
        r, "SELECT string_agg(e::text, ' ') FROM machine_event e") + psql(
        r, "SELECT string_agg(a::text, ' ') FROM power_action a")
    assert BMC_PASS not in dump
    for path in ("/api/v1/machines?limit=1000", "/api/v1/machines/node-ipmi", "/api/v1/machines/node-ipmi/power",
                 "/api/v1/machines/node-ipmi/events", "/api/v1/machines/node-redfish"):
        assert BMC_PASS not in json.dumps(ok(r, "GET", path)), path
    assert BMC_PASS not in lab.region.daemon.text()
    assert BMC_PASS not in lab.rack_log()
    # Not on the rack's disk (it keeps passwords in memory only), nor
    # anywhere in the region's state, its database files included.
    for top in (lab.rack.state_dir, lab.region.state_dir):
        for d, _, files in os.walk(top):
            for f in files:
                path = os.path.join(d, f)
                if os.path.isfile(path) and not os.path.islink(path):
                    with open(path, "rb") as fh:
                        assert BMC_PASS.encode() not in fh.read(), path


def test_secret_key_rotation_keeps_passwords_usable(lab, vlan):
    before = psql(lab.region, "SELECT encode(power_secret, 'hex') FROM machine WHERE hostname = 'node-ipmi'")
    out = lab.region.cmd("rotate-secret-key")  # with the region running
    assert out.startswith("re-encrypted ") and "with key 2" in out, out
    after = psql(lab.region, "SELECT encode(power_secret, 'hex') FROM machine WHERE hostname = 'node-ipmi'")
    assert after and after != before
    # The running region reads secrets sealed with the key it did not have
    # at start, and seals new ones with it.
    q = act(lab, "node-ipmi", "query")
    assert q["status"] == "done", q
    ok(lab.region, "PATCH", "/api/v1/machines/node-ipmi", {"power_pass": BMC_PASS})
    q = act(lab, "node-ipmi", "query")
    assert q["status"] == "done", q
    # A sealed password moved to another machine does not open there.
    psql(lab.region, "UPDATE machine SET power_secret = (SELECT power_secret FROM machine WHERE hostname = "
         "'node-ipmi') WHERE hostname = 'node-ipmi-badpw'")
    refused(lab.region, "POST", "/api/v1/machines/node-ipmi-badpw/power", {"action": "query"}, status=409,
            text="cannot be decrypted")


# ---- nothing lost when the region goes away (last: restarts the region) ----


@plain_pass_only
def test_an_outcome_reported_while_the_region_was_away_is_recorded(lab, vlan):
    # An action on a BMC that never answers takes power_timeout; the
    # region restarts meanwhile. The rack keeps the outcome until a region
    # has recorded it, and the restarted region takes it.
    machine(lab, "node-late", power_type="redfish", power_address="10.44.0.239", power_user=BMC_USER,
            power_pass=BMC_PASS, power_verify_tls="false")
    a = act(lab, "node-late", "on", wait=False)
    time.sleep(1.0)
    lab.region.stop()
    lab.region.start()
    lab.rack.daemon.wait_log("connected to region", timeout=60, count=2)
    # (The stopping region may first have failed it as "disconnected":
    # the rack's outcome replaces that.)
    done = wait_for(lambda: (lambda x: x if "no answer" in x["message"] and "10.44.0.239" in x["message"]
                             else None)(ok(lab.region, "GET", f"/api/v1/machines/node-late/power/actions/{a['id']}")
                                        ["action"]),
                    timeout=30 * SLOW, what="the rack's outcome recorded by the restarted region")
    assert done["status"] == "failed", done


@plain_pass_only
def test_an_outcome_reported_after_the_racks_session_dropped_replaces_the_failure(lab, vlan):
    # The rack's session drops (its TCP connection killed) while an action
    # runs: the region fails the action at once (its rack is gone), then the
    # rack reconnects and reports the outcome, which replaces the failure.
    port = lab.region.grpc_target.rsplit(":", 1)[1]
    a = act(lab, "node-late", "on", wait=False)
    time.sleep(1.0)
    out = subprocess.run(["ss", "-K", "dst", "127.0.0.1", "dport", "=", f":{port}"], capture_output=True, text=True)
    if out.returncode != 0:
        pytest.fail(f"ss -K cannot kill the rack's connection here: {out.stderr}")
    lost = wait_for(lambda: (lambda x: x if x["status"] == "failed" else None)(
        ok(lab.region, "GET", f"/api/v1/machines/node-late/power/actions/{a['id']}")["action"]),
        timeout=10, what="the action failed when its rack went away")
    assert "disconnected" in lost["message"], lost
    wait_for(lambda: "no answer" in ok(
        lab.region, "GET", f"/api/v1/machines/node-late/power/actions/{a['id']}")["action"]["message"],
        timeout=30 * SLOW, what="the rack's own outcome to replace the failure")
    ev = [e["description"] for e in ok(lab.region, "GET", "/api/v1/machines/node-late/events")["events"]
          if e["action_id"] == a["id"]]
    assert any("reported after its rack came back" in d for d in ev), ev
