"""The simulated BMCs the power tests use, checked with ipmitool from a
second namespace: ipmi_sim (tests/system/ipmisim.py) and, for cipher suite
17, which ipmi_sim lacks, tests/system/lanplus_bmc.py.

    <prefix>-bmc  veth 203.0.113.2/24 -- the BMC
    <prefix>-cli  veth 203.0.113.1/24 -- ipmitool

Both are created and deleted here; no host interface is touched."""

import os
import re
import shutil
import subprocess
import time
import uuid

import pytest

from conftest import make_dir, needs_root, needs_tools
from ipmisim import IpmiSim
from lanplus_bmc import LanplusBmc

BMC = "203.0.113.2"
CLI = "203.0.113.1"
TAG = "irpwsim"


def sh(*argv, check=True):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {out.returncode}: {out.stdout}{out.stderr}")
    return out


def delete_stale():
    """Namespaces irpwsim-PID-... whose test process is gone."""
    for line in sh("ip", "netns", "list", check=False).stdout.splitlines():
        m = re.match(rf"({TAG}-(\d+)-\S+)", line)
        if m and not os.path.exists(f"/proc/{m.group(2)}"):
            sh("ip", "netns", "del", m.group(1), check=False)


@pytest.fixture(scope="module")
def lab():
    needs_root()
    needs_tools("ip", "ss", "ipmi_sim", "ipmitool")
    delete_stale()
    prefix = f"{TAG}-{os.getpid()}-{uuid.uuid4().hex[:4]}"
    bmc, cli = f"{prefix}-bmc", f"{prefix}-cli"
    made = []
    workdir = None
    try:
        for ns in (bmc, cli):
            sh("ip", "netns", "add", ns)
            made.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", bmc, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", cli)
        for ns, addr in ((bmc, BMC), (cli, CLI)):
            sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
        workdir = make_dir("irpw-ipmisim-")
        yield {"bmc": bmc, "cli": cli, "workdir": workdir}
    finally:
        for ns in reversed(made):
            sh("ip", "netns", "del", ns, check=False)
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def ipmitool(lab, *args, cipher=3, password="secret", check=True):
    return sh("ip", "netns", "exec", lab["cli"], "ipmitool", "-I", "lanplus", "-C", str(cipher), "-H", BMC,
              "-U", "admin", "-P", password, "-N", "1", "-R", "2", *args, check=check)


def test_power_and_boot_reach_a_python_hook(lab):
    seen = []
    with IpmiSim(lab["bmc"], BMC, "admin", "secret", lab["workdir"], hook=lambda p, b: seen.append((p, b))) as bmc:
        assert "Chassis Power is off" in ipmitool(lab, "chassis", "power", "status").stdout
        ipmitool(lab, "chassis", "bootdev", "pxe")
        assert bmc.boot == "pxe"
        ipmitool(lab, "chassis", "power", "on")
        assert bmc.power == "on"
        assert seen == [("on", "pxe")]
        assert "Force PXE" in ipmitool(lab, "chassis", "bootparam", "get", "5").stdout
        # power up of a machine that is on: no change, no hook call
        ipmitool(lab, "chassis", "power", "on")
        assert seen == [("on", "pxe")]
        ipmitool(lab, "chassis", "bootdev", "disk")
        ipmitool(lab, "chassis", "power", "off")
        assert bmc.power == "off"
        assert seen == [("on", "pxe"), ("off", "disk")]
        assert "set power 1" in bmc.calls and "set boot pxe" in bmc.calls
        assert not bmc.hook_errors


def test_power_cycle_is_off_then_on(lab):
    seen = []
    with IpmiSim(lab["bmc"], BMC, "admin", "secret", lab["workdir"], power="on",
                 hook=lambda p, b: seen.append(p)) as bmc:
        ipmitool(lab, "chassis", "power", "cycle")
        deadline = time.monotonic() + 5
        while seen != ["off", "on"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert seen == ["off", "on"]  # ipmi_sim powers up again about 1 s later
        assert bmc.power == "on"


def test_shell_hook_and_its_failure(lab):
    out = os.path.join(lab["workdir"], "shell-hook.out")
    hook = f'echo "$1 $2 $IPMISIM_POWER $IPMISIM_BOOT" >> {out}; [ ! -e {out}.fail ]'
    with IpmiSim(lab["bmc"], BMC, "admin", "secret", lab["workdir"], hook=hook) as bmc:
        ipmitool(lab, "chassis", "bootdev", "pxe")
        ipmitool(lab, "chassis", "power", "on")
        with open(out) as f:
            assert f.read() == "on pxe on pxe\n"
        open(out + ".fail", "w").close()
        r = ipmitool(lab, "chassis", "power", "off", check=False)
        # the hook failed: ipmi_sim answers completion code FFh
        assert r.returncode != 0 and "Unspecified error" in r.stderr, r
        assert bmc.power == "off"  # the state file was written before the hook ran


def test_wrong_password_is_refused(lab):
    with IpmiSim(lab["bmc"], BMC, "admin", "secret", lab["workdir"]):
        r = ipmitool(lab, "chassis", "power", "status", password="wrong", check=False)
        assert r.returncode != 0
        assert "Unable to establish IPMI v2 / RMCP+ session" in r.stderr


def test_a_stale_simulator_is_replaced(lab):
    old = IpmiSim(lab["bmc"], BMC, "admin", "secret", os.path.join(lab["workdir"], "old"), power="on").start()
    try:
        old_pid = old.proc.pid
        new = IpmiSim(lab["bmc"], BMC, "admin", "other", os.path.join(lab["workdir"], "new")).start()
        try:
            assert old.proc.poll() is not None, f"stale ipmi_sim {old_pid} still runs"
            # the new one answers, with its own password and state
            assert "Chassis Power is off" in ipmitool(lab, "chassis", "power", "status", password="other").stdout
        finally:
            new.stop()
    finally:
        old.stop()


def test_ipmi_sim_refuses_cipher_suite_17_clearly(lab):
    # OpenIPMI 2.0.33's ipmi_sim has no HMAC-SHA256, so no suite 17: a
    # client gets a clear refusal, not a hang (suite 17 itself is covered
    # against lanplus_bmc below and in test_power). Should a later ipmi_sim
    # take it, it must then answer properly.
    with IpmiSim(lab["bmc"], BMC, "admin", "secret", lab["workdir"]):
        r = ipmitool(lab, "chassis", "power", "status", cipher=17, check=False)
        if r.returncode != 0:
            assert "invalid authentication algorithm" in r.stderr, r
        else:
            assert "Chassis Power is off" in r.stdout, r


@pytest.mark.parametrize("cipher", [3, 17])
def test_lanplus_bmc(lab, cipher):
    with LanplusBmc(lab["bmc"], BMC, "admin", "secret", lab["workdir"]) as bmc:
        assert "Chassis Power is off" in ipmitool(lab, "chassis", "power", "status", cipher=cipher).stdout
        ipmitool(lab, "chassis", "bootdev", "pxe", "options=persistent", cipher=cipher)
        # valid, persistent, legacy; PXE (0001b in bits 5:2)
        assert bmc.boot_flags == bytes.fromhex("c004000000")
        ipmitool(lab, "chassis", "power", "on", cipher=cipher)
        assert bmc.power == "on"
        bmc.fault("busy 1")
        r = ipmitool(lab, "chassis", "power", "off", cipher=cipher, check=False)
        assert r.returncode != 0 and "Node busy" in r.stderr, r
        assert bmc.power == "on"
        ipmitool(lab, "chassis", "power", "off", cipher=cipher)
        assert bmc.power == "off"
        r = ipmitool(lab, "chassis", "power", "status", cipher=cipher, password="wrong", check=False)
        assert r.returncode != 0 and "Unable to establish IPMI v2" in r.stderr, r
