"""Deploying an image to a machine's disk (docs/deploy.md), end to end, for
real, under QEMU TCG (the agent alone is test_deploy_agent.py).

tests/system/machines_lab.py's lab (a real region and rack, ipmi_sim, a VM
that PXE-boots from the rack), made once for the tests of this module: the
VM is commissioned, allocated, given a static address, deployed with the
test image (zstd, uploaded with `ironrack images add`) and booted from its
own disk printing its hostname and address; the disk and the seed checked;
released with a quick erase; a deploy from a corrupted copy on the rack
fails with the checksum. Then three more VMs of that lab, READY by hand,
each behind its own ipmi_sim: an infrastructure's instance array of 2 on a
WAN deploys two at once, each booting with its WAN address from IPAM;
growing it to 3 deploys the third.

Nothing runs in the sanitizer pass (QEMU boots are not our C code; they
must not run twice). The images come from make (ephemeral, testimage).
Run with -s to see the timings."""

import os
import re
import shutil
import time

import pytest

import yaml

import ipmisim
import machines_lab
from conftest import CLI, SANITIZED, cli, make_dir, needs_root, needs_tools, wait_for
from deploydisk import MIB, SEED_BYTES, image_file, mbr_entries, same_but_the_seed_entry, seed_files, sh, sha256
from machines_lab import BMC_PASS, BMC_USER, IPMI_IP, report_answers
from nethelp import ok
from readymachines import psql

pytestmark = pytest.mark.skipif(SANITIZED, reason="QEMU boots run in the plain pass only")

TIMINGS = []


# ---- end to end: a real region and rack, ipmi_sim, a VM ----
#
# tests/system/machines_lab.py's lab (10.46.0.0/24 on a bridge, the rack at
# 10.46.0.1 serving DHCP, TFTP, HTTP boot and the agents' reports, ipmi_sim
# at 10.46.0.10 whose chassis starts and stops the VM). The VM, made by
# hand in the region with its NIC and IPMI, is commissioned to READY,
# allocated, given a static address in IPAM, deployed with the test image
# (uploaded with `ironrack images add`) and boots from its own disk; then
# released with a quick erase; then a deploy from a corrupted copy of an
# image on the rack fails with the checksum's message.

E2E_MAC = "52:54:00:46:de:01"
E2E_DISK = 2 << 30
E2E_HOST = "deploy-vm"
E2E_ADDR = "10.46.0.77"
E2E_TIMEOUT = 120  # commissioning, deploying and releasing timeouts of the region here


@pytest.fixture(scope="module")
def e2e():
    needs_root()
    needs_tools("ip", "curl", "ipmi_sim", "ipmitool", "qemu-system-x86_64", "radvd", "mcopy", "mdir")
    if not os.path.exists(CLI):
        pytest.fail(f"{CLI} is missing: run make")
    image_file()

    class DeployRegion(machines_lab.MachinesRegion):
        def args(self):
            return super().args() + ["--deploying-timeout", f"{E2E_TIMEOUT}s",
                                     "--releasing-timeout", f"{E2E_TIMEOUT}s", "--deployed-when", "boot"]
    workdir = make_dir("irdeploy-")
    lab = machines_lab.Lab(workdir, E2E_TIMEOUT, True)
    lab.region = DeployRegion(lab.region.state_dir, lab.res_dir, E2E_TIMEOUT)
    lab.rack.region = lab.region
    try:
        lab.up()
        r = lab.region
        v = ok(r, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 46, "name": "deploy-lab"})
        ok(r, "POST", "/api/v1/subnets", {"cidr": machines_lab.NET, "vlan": v["id"],
                                          "gateway": machines_lab.RACK_IP, "dns_servers": [machines_lab.RACK_IP]})
        ok(r, "POST", "/api/v1/ip-ranges", {"subnet": machines_lab.NET, "type": "dynamic",
                                            "start_ip": machines_lab.RANGE[0], "end_ip": machines_lab.RANGE[1]})
        ok(r, "PATCH", f"/api/v1/vlans/{v['id']}", {"dhcp_on": True, "primary_rack": lab.rack.rack_id})
        lab.vlan = v
        lab.make_disk(E2E_MAC, E2E_DISK)
        lab.ipmi_vm = E2E_MAC
        lab.images_on_rack()
        yield lab
    finally:
        lab.down()
        if TIMINGS:
            print("\n" + "\n".join(TIMINGS))
            TIMINGS.clear()
        if not os.environ.get("IRONRACK_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)


def e2e_ok(lab, method, path, body=None):
    return ok(lab.region, method, path, body)


def e2e_cli(lab, *args):
    return cli(lab.region, *args)


def rack_file(lab, name):
    return os.path.join(lab.rack.state_dir, "boot", "images", name)


def wait_rack_has(lab, name, size, timeout=60):
    wait_for(lambda: os.path.exists(rack_file(lab, name)) and os.path.getsize(rack_file(lab, name)) == size,
             timeout=timeout, what=f"the rack to hold images/{name}")


def upload(lab, path, name, fmt):
    out = e2e_cli(lab, "images", "add", path, "--name", name, "--format", fmt)
    img = e2e_ok(lab, "GET", f"/api/v1/images/{name}")
    assert img["status"] == "ready" and img["sha256"] == sha256(path) and img["size"] == os.path.getsize(path), \
        (img, out.stdout)
    wait_rack_has(lab, name, os.path.getsize(path))
    return img


def test_e2e_a_vm_is_commissioned_to_ready(e2e):
    lab = e2e
    e2e_ok(lab, "POST", "/api/v1/machines", {
        "hostname": E2E_HOST, "power_type": "ipmi", "power_address": IPMI_IP, "power_user": BMC_USER,
        "power_pass": BMC_PASS, "power_workarounds": "opensesspriv"})
    e2e_ok(lab, "POST", f"/api/v1/machines/{E2E_HOST}/interfaces", {"name": "eth0", "mac": E2E_MAC,
                                                                     "vlan": lab.vlan["id"]})
    e2e_ok(lab, "POST", f"/api/v1/machines/{E2E_HOST}/commission", {})
    m = lab.wait_status(E2E_HOST, ("READY", "FAILED_COMMISSIONING"), timeout=E2E_TIMEOUT + 30)
    assert m["status"] == "READY", m
    assert m["storage_bytes"] == E2E_DISK, m
    vm = lab.vm(E2E_MAC)
    wait_for(lambda: not vm.running, timeout=60, what="the VM to be off after commissioning")


def test_e2e_deploy_boots_the_image_from_disk_with_its_ipam_address(e2e):
    lab = e2e
    if lab.get(E2E_HOST)["status"] != "READY":
        pytest.fail("needs the READY machine of test_e2e_a_vm_is_commissioned_to_ready")
    raw = image_file()
    zst = raw + ".zst"
    upload(lab, zst, "ironrack-test", "zstd")
    assert "ironrack-test" in e2e_cli(lab, "images", "list").stdout
    # Allocated (the only READY machine that has the disk).
    st, m = lab.api("POST", "/api/v1/machines/allocate", {"min_disk_gb": 1, "comment": "deploy test"})
    assert st == 200, (st, m)
    assert m["hostname"] == E2E_HOST and m["status"] == "ALLOCATED", m
    # Its NIC: a static address in IPAM.
    iface = next(i for i in lab.interfaces(E2E_HOST) if i["mac"] == E2E_MAC)
    for link in lab.links(iface["id"]):
        e2e_ok(lab, "DELETE", f"/api/v1/interfaces/{iface['id']}/links/{link['id']}")
    e2e_ok(lab, "POST", f"/api/v1/interfaces/{iface['id']}/links",
           {"subnet": "10.46.0.0/24", "mode": "static", "ip": E2E_ADDR})
    serial = lab.serial(E2E_MAC)
    mark = serial.mark()
    t0 = time.time()
    st, out = lab.api("POST", f"/api/v1/machines/{E2E_HOST}/deploy",
                      {"image": "ironrack-test", "user_data": "#cloud-config\nruncmd: [\"true\"]\n"})
    assert st == 200, (st, out)
    assert lab.get(E2E_HOST)["status"] == "DEPLOYING"
    m = lab.wait_status(E2E_HOST, ("DEPLOYED", "FAILED_DEPLOYMENT"), timeout=E2E_TIMEOUT + 30)
    assert m["status"] == "DEPLOYED", f"{m}\n{serial.text(mark)[-3000:]}"
    # The deployed OS: from its own disk, its hostname and IPAM's address.
    line = wait_for(lambda: re.search(r"^ironrack-deployed (\S+) (\S+)$", serial.text(mark), re.M),
                    timeout=90, what="'ironrack-deployed' on the console")
    assert (line.group(1), line.group(2)) == (E2E_HOST, E2E_ADDR), line.group(0)
    t_line = next(t for t, text in serial.lines(mark) if text.startswith("ironrack-deployed "))
    t_loader = [t for t, text in serial.lines(mark) if "SYSLINUX" in text]
    text = serial.text(mark)
    assert "ironrack-agent: t=" in text and "SYSLINUX" in text.split("step=posted")[-1], text[-3000:]
    # The disk: the image byte for byte (but for the seed's MBR entry), the
    # seed in the last 4 MiB, its network-config what IPAM says.
    disk = lab.disk(E2E_MAC)
    slot = same_but_the_seed_entry(disk, raw)
    entries = mbr_entries(disk)
    start = (E2E_DISK // MIB) * MIB - SEED_BYTES
    assert (slot, 0, 0x0C, start // 512, SEED_BYTES // 512) in entries, entries
    files, label = seed_files(disk, start)
    assert "cidata" in label
    meta = yaml.safe_load(files["meta-data"])
    assert meta["local-hostname"] == E2E_HOST and meta["instance-id"].startswith("ironrack-"), meta
    assert files["user-data"].startswith(b"#cloud-config\n") and b'runcmd: ["true"]' in files["user-data"]
    net = yaml.safe_load(files["network-config"])
    assert net["version"] == 2, net
    eths = net["ethernets"]
    assert list(eths) == ["eth0"], net
    eth0 = eths["eth0"]
    assert eth0["match"]["macaddress"] == E2E_MAC and eth0.get("set-name") == "eth0", eth0
    assert eth0["addresses"] == [f"{E2E_ADDR}/24"], eth0
    assert {"to": "0.0.0.0/0", "via": "10.46.0.1"} in eth0.get("routes", []), eth0
    assert eth0["nameservers"]["addresses"] == ["10.46.0.1"], eth0
    # Where the time went: the agent's own measurements, and the reboot from
    # the rack's 200 to the done to the deployed OS's line.
    answers = [t for t, s in report_answers(lab.rack_log(), t0) if s == 200]
    # The agent's measurements as the region keeps them (the console's copy
    # can be cut by kernel messages written over it).
    dep = lab.get(E2E_HOST)["deploy"]
    assert dep["image"] == "ironrack-test" and dep["step"] == "deployed", dep
    result = dep["result"]
    assert result["bytes"] == os.path.getsize(raw) and result["disk"] == "/dev/vda", dep
    if len(answers) >= 2:
        TIMINGS.append(f"e2e deploy of the test image ({os.path.getsize(raw) / MIB:.0f} MiB raw, "
                       f"{os.path.getsize(zst) / MIB:.1f} MiB zstd): request -> agent start "
                       f"{answers[0] - t0:.1f} s, download {result['download_ms'] / 1000:.1f} s, write (waiting on the "
                       f"disk) {result['write_ms'] / 1000:.1f} s, start -> done {answers[-1] - answers[0]:.1f} s, "
                       f"reboot (done -> 'ironrack-deployed') {t_line - answers[-1]:.1f} s "
                       f"(power cycle, firmware, iPXE -> syslinux {t_loader[-1] - answers[-1]:.1f} s, "
                       f"syslinux -> 'ironrack-deployed' {t_line - t_loader[-1]:.1f} s), request -> "
                       f"'ironrack-deployed' {t_line - t0:.1f} s")


def test_e2e_release_with_quick_erase_zeroes_the_disk_and_ends_ready(e2e):
    lab = e2e
    if lab.get(E2E_HOST)["status"] != "DEPLOYED":
        pytest.fail("needs the DEPLOYED machine of the deploy test")
    disk = lab.disk(E2E_MAC)
    with open(disk, "rb") as f:
        assert f.read(MIB) != bytes(MIB)
    serial = lab.serial(E2E_MAC)
    mark = serial.mark()
    t0 = time.time()
    st, out = lab.api("POST", f"/api/v1/machines/{E2E_HOST}/release", {"erase": "quick"})
    assert st == 200, (st, out)
    m = lab.wait_status(E2E_HOST, ("READY", "BROKEN"), timeout=E2E_TIMEOUT + 30)
    assert m["status"] == "READY", f"{m}\n{serial.text(mark)[-3000:]}"
    vm = lab.vm(E2E_MAC)
    wait_for(lambda: not vm.running, timeout=60, what="the VM to be off after the release")
    with open(disk, "rb") as f, open(image_file(), "rb") as img:
        assert f.read(MIB) == bytes(MIB), "the first MiB is not zeroed"
        img.seek(MIB)
        assert f.read(4 * MIB) == img.read(4 * MIB), "quick erased more than the first MiB"
        f.seek(E2E_DISK - MIB)
        assert f.read(MIB) == bytes(MIB), "the last MiB is not zeroed"
    assert "erase (quick)" in serial.text(mark), serial.text(mark)[-3000:]
    TIMINGS.append(f"e2e release with quick erase: request -> READY {time.time() - t0:.1f} s")


def test_e2e_a_corrupted_image_fails_the_deploy_with_the_checksum(e2e):
    """The rack's cached copy of an image is changed in place (the region's
    and its SHA-256 stay right): the agent's check of what it downloaded
    fails the deploy at verify, and the machine says why."""
    lab = e2e
    if lab.get(E2E_HOST)["status"] != "READY":
        pytest.fail("needs the READY machine of the release test")
    raw = image_file()
    img = upload(lab, raw, "ironrack-test-raw", "raw")
    st, m = lab.api("POST", "/api/v1/machines/allocate", {"comment": "corrupted image"})
    assert st == 200 and m["hostname"] == E2E_HOST, (st, m)
    with open(rack_file(lab, "ironrack-test-raw"), "r+b") as f:
        f.seek(5 * MIB)
        b = f.read(1)
        f.seek(5 * MIB)
        f.write(bytes([b[0] ^ 0xFF]))
    bad = sha256(rack_file(lab, "ironrack-test-raw"))
    assert bad != img["sha256"]
    serial = lab.serial(E2E_MAC)
    mark = serial.mark()
    st, out = lab.api("POST", f"/api/v1/machines/{E2E_HOST}/deploy", {"image": "ironrack-test-raw"})
    assert st == 200, (st, out)
    m = lab.wait_status(E2E_HOST, ("DEPLOYED", "FAILED_DEPLOYMENT"), timeout=E2E_TIMEOUT + 30)
    assert m["status"] == "FAILED_DEPLOYMENT", f"{m}\n{serial.text(mark)[-3000:]}"
    msg = m["status_message"]
    assert "verify" in msg and "checksum" in msg and img["sha256"] in msg and bad in msg, msg
    # The image was streamed to the disk, but no seed partition was added.
    disk = lab.disk(E2E_MAC)
    wait_for(lambda: not lab.vm(E2E_MAC).running, timeout=60, what="the VM to be off after the failure")
    assert mbr_entries(disk) == mbr_entries(raw)
    assert "waiting for the power cycle" not in serial.text(mark)


# ---- end to end: an infrastructure's instance array on real VMs ----
#
# Three more VMs of the same lab, each behind its own ipmi_sim (10.46.0.11-13
# in the BMC namespace, the chassis starting and stopping its VM), made
# READY by hand (no commissioning: their real MACs on the lab's VLAN, IPMI,
# and the hardware the array asks for, in a zone of their own so the
# machine of the tests above is never bound). An infrastructure in that
# zone with an instance array of 2 on a WAN, image ironrack-test: Deploy
# binds two machines, gives each a WAN address and deploys both at once;
# each boots from its disk printing its hostname and that address. Growing
# the array to 3 binds the third and deploys it only.

FARM = "farm"
FARM_ZONE = "farm-lab"
FARM_POOL = "203.0.113.0/24"
FARM_VMS = {"farm-vm1": ("52:54:00:46:de:11", "10.46.0.11"),
            "farm-vm2": ("52:54:00:46:de:12", "10.46.0.12"),
            "farm-vm3": ("52:54:00:46:de:13", "10.46.0.13")}
FARM_DISK = 1 << 30


@pytest.fixture(scope="module")
def farm(e2e):
    """The three READY machines, their BMCs up; the zstd test image registered."""
    lab = e2e
    bmcs = []
    try:
        for host, (mac, bmc_ip) in FARM_VMS.items():
            sh("ip", "-n", lab.bmc, "addr", "add", f"{bmc_ip}/24", "dev", "eth0")
            lab.make_disk(mac, FARM_DISK)

            def chassis(power, boot, mac=mac):
                vm = lab.vm(mac, cpus=1)
                if power == "on":
                    lab.started[mac] = time.time()
                    vm.start(boot)
                else:
                    vm.stop()
            bmc = ipmisim.IpmiSim(lab.bmc, bmc_ip, BMC_USER, BMC_PASS, os.path.join(lab.workdir, "ipmi-" + host),
                                  hook=chassis)
            bmcs.append(bmc)
            bmc.start()
        st, _ = lab.api("GET", f"/api/v1/zones/{FARM_ZONE}")
        if st == 404:
            e2e_ok(lab, "POST", "/api/v1/zones", {"name": FARM_ZONE})
        for host, (mac, bmc_ip) in FARM_VMS.items():
            e2e_ok(lab, "POST", "/api/v1/machines", {
                "hostname": host, "power_type": "ipmi", "power_address": bmc_ip, "power_user": BMC_USER,
                "power_pass": BMC_PASS, "power_workarounds": "opensesspriv"})
            e2e_ok(lab, "POST", f"/api/v1/machines/{host}/interfaces",
                   {"name": "eth0", "mac": mac, "vlan": lab.vlan["id"]})
            # What commissioning would have left: READY with its hardware.
            psql(lab.region, f"UPDATE machine SET status = 'READY', status_previous = 'COMMISSIONING', "
                             f"architecture = 'amd64', cpu_count = 1, memory_mib = 512, "
                             f"storage_bytes = {FARM_DISK}, "
                             f"zone_id = (SELECT id FROM zone WHERE name = '{FARM_ZONE}') "
                             f"WHERE hostname = '{host}'")
            assert lab.get(host)["status"] == "READY"
        st, _ = lab.api("GET", "/api/v1/images/ironrack-test")
        if st == 404:
            upload(lab, image_file() + ".zst", "ironrack-test", "zstd")
        yield lab
    finally:
        for bmc in bmcs:
            bmc.stop()


def farm_deployed(lab, hosts, marks, timeout):
    """Waits until each host is DEPLOYED and its console (after its mark)
    says `ironrack-deployed HOST ADDRESS` with the WAN address IPAM gave
    its eth0 (a static link in the WAN's mirror). Returns {host: time of
    the line}."""
    for host in hosts:
        mac = FARM_VMS[host][0]
        m = lab.wait_status(host, ("DEPLOYED", "FAILED_DEPLOYMENT"), timeout=timeout)
        assert m["status"] == "DEPLOYED", f"{m}\n{lab.serial(mac).text(marks[host])[-3000:]}"
    out = {}
    for host in hosts:
        mac = FARM_VMS[host][0]
        addrs = e2e_ok(lab, "GET", f"/api/v1/ip-addresses?machine={host}")["ip_addresses"]
        assert [(a["mode"], a["subnet_cidr"]) for a in addrs] == [("static", "203.0.113.0/29")], addrs
        serial = lab.serial(mac)
        line = wait_for(lambda: re.search(r"^ironrack-deployed (\S+) (\S+)$", serial.text(marks[host]), re.M),
                        timeout=120, what=f"'ironrack-deployed' on {host}'s console")
        assert (line.group(1), line.group(2)) == (host, addrs[0]["ip"]), line.group(0)
        out[host] = next(t for t, text in serial.lines(marks[host]) if text.startswith("ironrack-deployed "))
    return out


def test_e2e_an_instance_array_of_2_on_a_wan_deploys_two_vms_and_growing_to_3_deploys_a_third(farm):
    lab = farm
    marks = {host: lab.serial(mac).mark() for host, (mac, _) in FARM_VMS.items()}
    e2e_ok(lab, "POST", "/api/v1/infrastructures", {"name": FARM, "zone": FARM_ZONE, "wan_pools": [FARM_POOL]})
    e2e_ok(lab, "POST", f"/api/v1/infrastructures/{FARM}/instance-arrays",
           {"name": "web", "instance_count": 2, "ports": 1, "min_disk_gb": 1, "image": "ironrack-test"})
    e2e_ok(lab, "POST", f"/api/v1/infrastructures/{FARM}/networks", {"name": "inet", "type": "wan"})
    e2e_ok(lab, "POST", f"/api/v1/infrastructures/{FARM}/connections", {"array": "web", "port": 0, "network": "inet"})
    t0 = time.time()
    d = e2e_ok(lab, "POST", f"/api/v1/infrastructures/{FARM}/deploy")
    bound = [(b["op"], b["instance"], b["machine"]) for b in d["machines"]]
    assert [(op, i) for op, i, _ in bound] == [("bind", 0), ("bind", 1)], d
    first = [h for _, _, h in bound]
    assert set(first) < set(FARM_VMS), first
    assert [(x["instance"], x["machine"], x["image"], x["status"]) for x in d["deploys"]] == [
        (0, first[0], "ironrack-test", "DEPLOYING"), (1, first[1], "ironrack-test", "DEPLOYING")], d
    third = next(h for h in FARM_VMS if h not in first)
    assert lab.get(third)["status"] == "READY"
    lines = farm_deployed(lab, first, marks, E2E_TIMEOUT + 30)
    t_two = max(lines.values()) - t0
    assert not lab.vm(FARM_VMS[third][0]).running

    # Growing to 3: the third machine is bound and deployed, the first two
    # are left as they are.
    for host in first:  # their work is done: the CPU for the third
        lab.vm(FARM_VMS[host][0]).stop()
    e2e_ok(lab, "PATCH", f"/api/v1/infrastructures/{FARM}/instance-arrays/web", {"instance_count": 3})
    t1 = time.time()
    d = e2e_ok(lab, "POST", f"/api/v1/infrastructures/{FARM}/deploy")
    assert [(b["op"], b["instance"], b["machine"]) for b in d["machines"]] == [("bind", 2, third)], d
    assert [(x["instance"], x["machine"], x["status"]) for x in d["deploys"]] == [(2, third, "DEPLOYING")], d
    assert [lab.get(h)["status"] for h in first] == ["DEPLOYED", "DEPLOYED"]
    line = farm_deployed(lab, [third], marks, E2E_TIMEOUT + 30)[third]
    inst = e2e_ok(lab, "GET", f"/api/v1/infrastructures/{FARM}")["deployed"]["instance_arrays"][0]["instances"]
    assert [(i["index"], i["machine"]) for i in inst] == [(0, first[0]), (1, first[1]), (2, third)], inst
    TIMINGS.append(f"e2e infrastructure: deploy of 2 VMs at once -> both 'ironrack-deployed' {t_two:.1f} s; "
                   f"growing to 3 -> the third's 'ironrack-deployed' {line - t1:.1f} s")
