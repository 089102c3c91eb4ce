"""Machines end to end (docs/machines.md): enlistment and commissioning
through the ephemeral environment, with a real region, a real rack serving a
lab namespace, ipmi_sim as the BMC and QEMU VMs that PXE-boot the ephemeral
kernel and initramfs of this build from the rack (tests/system/machines_lab.py
has the lab):

    <prefix>-sw     bridge br0 (10.46.0.0/24) and the VMs' taps
    <prefix>-rack   eth0 10.46.0.1/24: DHCP, TFTP, HTTP boot, the agents' reports
    <prefix>-bmc    eth0 10.46.0.10: ipmi_sim, whose chassis starts the VM
    <prefix>-agent  eth0 10.46.0.3: curl posting reports as an agent would

Tests run in file order and share the lab. The region's
commissioning_timeout is short here; a machine nobody powers on is
commissioned first and checked last, so its timeout runs beside the others.
QEMU boots run in the plain pass only (the sanitizer pass is about our C
code, which every other test here still drives). Run with -s to see where
each boot's time went."""

import os
import re
import shutil
import threading
import time

import pytest

from conftest import CLI, SANITIZED, cli, make_dir, needs_root, needs_tools, wait_for, plain_pass_only
from machines_lab import (BMC_PASS, BMC_USER, GIB, HOLD_S, IMAGE_NAMES, IMAGES, IPMI_IP, NET,
                          RACK_URL, RANGE, BootTiming, Lab, http_gets, inventory, kernel_args, report_answers)
from nethelp import ok, refused

VMS = not SANITIZED
SLOW = 3 if SANITIZED else 1
# Long enough for a VM under TCG to commission (about 10 s, 15-20 s with the
# region restarted midway) and for a report to outlast the rack's hold
# (HOLD_S) while the region is away.
COMMISSIONING_TIMEOUT = 60
VM_MAC = "52:54:00:46:00:01"
STUCK_MAC = "02:00:00:46:01:01"
DISK_1, DISK_2 = 2 * GIB, 3 * GIB
TOKEN = re.compile(r"^[0-9a-f]{64}$")
needs_vms = pytest.mark.skipif(not VMS, reason="QEMU boots run in the plain pass only")
TIMINGS = []


@pytest.fixture(autouse=True, scope="module")
def lab_needs():
    needs_root()
    needs_tools("ip", "curl", "ipmi_sim", "ipmitool", "qemu-system-x86_64", "radvd")


@pytest.fixture(scope="module")
def lab():
    workdir = make_dir("irmachines-")
    lab = Lab(workdir, COMMISSIONING_TIMEOUT, VMS)
    try:
        lab.up()
        yield lab
    finally:
        lab.down()
        if TIMINGS:
            print("\n" + "\n".join(TIMINGS))
        if not os.environ.get("IRONRACK_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def vlan(lab):
    """The lab's subnet on a VLAN whose DHCP (PXE) the rack serves."""
    r = lab.region
    v = ok(r, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 46, "name": "machines-lab"})
    ok(r, "POST", "/api/v1/subnets", {"cidr": NET, "vlan": v["id"]})
    ok(r, "POST", "/api/v1/ip-ranges", {"subnet": NET, "type": "dynamic", "start_ip": RANGE[0], "end_ip": RANGE[1]})
    ok(r, "PATCH", f"/api/v1/vlans/{v['id']}", {"dhcp_on": True, "primary_rack": lab.rack.rack_id})
    return v


def machine(lab, host, mac=None, vlan=None, **power):
    m = ok(lab.region, "POST", "/api/v1/machines", {"hostname": host, **power})
    if mac:
        body = {"name": "eth0", "mac": mac}
        if vlan:
            body["vlan"] = vlan["id"]
        ok(lab.region, "POST", f"/api/v1/machines/{host}/interfaces", body)
    return m


def action(lab, host, verb, comment=None):
    """(status, answer) of POST /api/v1/machines/HOST/VERB."""
    return lab.api("POST", f"/api/v1/machines/{host}/{verb}", {"comment": comment} if comment else {})


def moved(lab, host, verb, to, comment=None):
    st, out = action(lab, host, verb, comment)
    assert st == 200, f"{verb} {host}: {st} {out}"
    m = lab.get(host)
    assert m["status"] == to, (verb, m)
    return m


def conflict(lab, host, verb, state):
    """A move the state does not allow: 409 naming the state, no transition
    (power events of an earlier move may still arrive)."""
    before = len(lab.status_events(host))
    status = lab.get(host)["status"]
    err = refused(lab.region, "POST", f"/api/v1/machines/{host}/{verb}", {}, status=409, text=f"is {state}")
    assert lab.get(host)["status"] == status == state
    assert len(lab.status_events(host)) == before, lab.status_events(host)[before:]
    return err


def transitions(lab, host):
    """[(from, to)] of the machine's status events, oldest first; an
    enlistment that created the machine is ("", "NEW")."""
    out = []
    for e in lab.status_events(host):
        assert e["actor"], e
        m = re.search(r"([A-Z_]+) → ([A-Z_]+)", e["description"])
        if m:
            out.append((m.group(1), m.group(2)))
        else:
            assert e["description"].startswith("enlisted as "), e
            out.append(("", "NEW"))
    return out


def commission_token(lab, mac):
    """The one-time token on the commissioning kernel command line the rack
    renders for mac."""
    args = kernel_args(lab.boot_script(mac))
    assert args.get("ironrack.purpose") == "commission", args
    assert TOKEN.match(args.get("ironrack.token", "")), args
    return args["ironrack.token"]


# ---- a machine nobody powers on (its timeout runs while the rest of the file does) ----


def test_commissioning_a_manual_machine_waits_for_a_person(lab, vlan):
    machine(lab, "mc-stuck", STUCK_MAC, vlan, power_type="manual")
    assert lab.get("mc-stuck")["status"] == "NEW"
    lab.stuck_since = time.time()
    m = moved(lab, "mc-stuck", "commission", "COMMISSIONING", comment="nobody will press the button")
    # The state says that a person must power it on.
    msg = m["status_message"].lower()
    assert "manual" in msg or "person" in msg or "power it on" in msg, m
    assert transitions(lab, "mc-stuck") == [("NEW", "COMMISSIONING")]
    assert any("nobody will press the button" in e["description"] for e in lab.status_events("mc-stuck"))


def test_boot_configs_carry_the_purpose_the_token_and_the_racks_url(lab, vlan):
    # A commissioning machine: the ephemeral kernel with its token, the
    # rack's URL as the machine reaches it and the MAC that booted.
    script = lab.boot_script(STUCK_MAC)
    assert f"kernel {RACK_URL}/ephemeral/amd64/vmlinuz" in script, script
    assert f"initrd {RACK_URL}/ephemeral/amd64/initrd.img" in script or "initrd.img" in script, script
    args = kernel_args(script)
    assert args["ironrack.purpose"] == "commission", args
    assert TOKEN.match(args["ironrack.token"]), args
    assert args["ironrack.url"] == RACK_URL, args
    assert args["ironrack.mac"] == STUCK_MAC, args
    # An unknown MAC enlists: no token.
    args = kernel_args(lab.boot_script("02:00:00:46:0f:0f"))
    assert args["ironrack.purpose"] == "enlist" and "ironrack.token" not in args, args
    assert args["ironrack.url"] == RACK_URL, args
    assert lab.by_mac("02:00:00:46:0f:0f") == []  # a boot config creates nothing


# ---- the lifecycle over the API ----


def test_lifecycle_moves_and_refusals(lab, vlan):
    h = "mc-life"
    machine(lab, h, "02:00:00:46:01:02", vlan, power_type="manual")
    assert lab.get(h)["status"] == "NEW"
    conflict(lab, h, "abort", "NEW")
    conflict(lab, h, "mark-fixed", "NEW")
    moved(lab, h, "commission", "COMMISSIONING")
    conflict(lab, h, "commission", "COMMISSIONING")
    conflict(lab, h, "mark-fixed", "COMMISSIONING")
    err = refused(lab.region, "DELETE", f"/api/v1/machines/{h}", status=409, text="is COMMISSIONING")
    assert "abort" in err["message"], err  # what the state allows
    moved(lab, h, "abort", "NEW")  # back where it was
    moved(lab, h, "mark-broken", "BROKEN", comment="fan noise")
    conflict(lab, h, "mark-broken", "BROKEN")
    conflict(lab, h, "abort", "BROKEN")
    moved(lab, h, "mark-fixed", "READY")
    conflict(lab, h, "mark-fixed", "READY")
    conflict(lab, h, "abort", "READY")
    moved(lab, h, "commission", "COMMISSIONING")
    moved(lab, h, "abort", "READY")  # back where it was: READY, not NEW
    moved(lab, h, "mark-broken", "BROKEN")
    moved(lab, h, "commission", "COMMISSIONING")  # commission also from BROKEN
    moved(lab, h, "mark-broken", "BROKEN")
    moved(lab, h, "mark-fixed", "READY")
    assert transitions(lab, h) == [
        ("NEW", "COMMISSIONING"), ("COMMISSIONING", "NEW"), ("NEW", "BROKEN"), ("BROKEN", "READY"),
        ("READY", "COMMISSIONING"), ("COMMISSIONING", "READY"), ("READY", "BROKEN"), ("BROKEN", "COMMISSIONING"),
        ("COMMISSIONING", "BROKEN"), ("BROKEN", "READY")]
    assert any("fan noise" in e["description"] for e in lab.status_events(h))
    # Unknown verbs and machines are not conflicts.
    st, _ = action(lab, h, "levitate")
    assert st in (404, 405), st
    st, _ = action(lab, "mc-nobody", "commission")
    assert st == 404, st
    ok(lab.region, "DELETE", f"/api/v1/machines/{h}")
    st, _ = lab.api("GET", f"/api/v1/machines/{h}")
    assert st == 404
    assert lab.by_mac("02:00:00:46:01:02") == []


def test_two_commission_requests_at_once_one_wins(lab, vlan):
    h = "mc-race"
    machine(lab, h, "02:00:00:46:01:03", vlan, power_type="manual")
    rounds = 6
    for i in range(rounds):
        barrier = threading.Barrier(2)
        answers = [None, None]

        def go(k):
            barrier.wait()
            answers[k] = action(lab, h, "commission")
        threads = [threading.Thread(target=go, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        codes = sorted(a[0] for a in answers)
        assert codes == [200, 409], (i, answers)
        loser = next(a[1] for a in answers if a[0] == 409)
        assert re.search(r"\b(NEW|COMMISSIONING)\b", loser["error"]["message"]), loser
        assert lab.get(h)["status"] == "COMMISSIONING"
        moved(lab, h, "abort", "NEW")
    # Nothing half-done: exactly the winners' transitions, each once.
    assert transitions(lab, h) == [("NEW", "COMMISSIONING"), ("COMMISSIONING", "NEW")] * rounds


def test_the_cli_lists_shows_and_moves_machines(lab, vlan):
    assert os.path.exists(CLI), f"{CLI} is missing: make builds it"
    h = "mc-cli"
    machine(lab, h, "02:00:00:46:01:04", vlan, power_type="manual")
    out = cli(lab.region, "machines", "commission", h).stdout
    assert "COMMISSIONING" in out, out
    out = cli(lab.region, "machines", "list").stdout
    row = next((line for line in out.splitlines() if line.split()[:1] == [h]), None)
    assert row and "COMMISSIONING" in row, out
    out = cli(lab.region, "machines", "abort", h).stdout
    assert "NEW" in out, out
    out = cli(lab.region, "machines", "mark-broken", h, "--comment", "cli says so").stdout
    assert "BROKEN" in out, out
    r = cli(lab.region, "machines", "mark-broken", h, check=False)
    assert r.returncode != 0 and "BROKEN" in r.stdout + r.stderr, r
    out = cli(lab.region, "machines", "mark-fixed", h).stdout
    assert "READY" in out, out
    out = cli(lab.region, "machines", "show", h).stdout
    assert "READY" in out and "02:00:00:46:01:04" in out and "cli says so" in out, out
    assert transitions(lab, h) == [("NEW", "COMMISSIONING"), ("COMMISSIONING", "NEW"), ("NEW", "BROKEN"),
                                   ("BROKEN", "READY")]


# ---- reports posted by hand through the rack ----


def test_an_enlistment_post_makes_one_machine_per_mac(lab, vlan):
    mac = "02:00:00:46:02:01"
    before = lab.machine_count()
    st, _, text = lab.post(inventory(mac, cpus=4, memory_mib=2048, disks=((8 * GIB, "sda"), (GIB, "sdb"))))
    assert st == 200, text
    assert '"ok"' in text and "enlisted" in text, text
    ids = lab.by_mac(mac)
    assert len(ids) == 1, ids
    m = lab.get(ids[0])
    assert m["status"] == "NEW", m
    assert (m["cpu_count"], m["memory_mib"], m["storage_bytes"]) == (4, 2048, 9 * GIB), m
    assert m["hardware"], m
    assert transitions(lab, ids[0])[-1][1] == "NEW"
    # The interface it booted from sits on the VLAN the report came in on,
    # linked to the lab's subnet.
    iface = next(i for i in lab.interfaces(ids[0]) if i["mac"] == mac)
    assert iface["vlan"] == vlan["id"], iface
    assert any(r["subnet_cidr"] == NET for r in lab.links(iface["id"])), lab.links(iface["id"])
    # The same machine again: still one machine.
    st, _, text = lab.post(inventory(mac, cpus=4, memory_mib=2048, disks=((8 * GIB, "sda"), (GIB, "sdb"))))
    assert st == 200, text
    assert lab.by_mac(mac) == ids
    assert lab.machine_count() == before + 1


def test_bad_reports_through_the_rack_are_refused_and_change_nothing(lab, vlan):
    h, mac = "mc-bad", "02:00:00:46:03:01"
    machine(lab, h, mac, vlan, power_type="manual")
    machine(lab, "mc-bad-other", "02:00:00:46:03:02", vlan, power_type="manual")
    moved(lab, h, "commission", "COMMISSIONING")
    token = commission_token(lab, mac)
    # The power action's events (a person must switch it on) come after
    # the answer: the snapshot is taken once they are in.
    wait_for(lambda: any(e["kind"] == "power.needs_person" for e in lab.events(h)), timeout=10 * SLOW,
             what="the manual power-on's event")
    before = lab.snapshot(h)
    good = inventory(mac, purpose="commission", token=token, cpus=8, memory_mib=4096)

    def refused_post(body, statuses, why, **kw):
        st, headers, text = lab.post(body, **kw)
        assert st in statuses, f"{why}: {st} {text}"
        after = lab.snapshot(h)
        assert after == before, f"{why} changed the machine: {before} -> {after}"
        return st, text

    other = "f" * 64 if token != "f" * 64 else "e" * 64
    refused_post(dict(good, token=other), (403,), "a wrong token")
    refused_post({k: v for k, v in good.items() if k != "token"}, (400, 403), "no token")
    refused_post(dict(good, token="not-hex"), (400, 403), "a malformed token")
    refused_post(dict(good, token=token.upper()), (400, 403), "an upper-case token")
    refused_post(b'{"purpose": "commission", "token": "' + token.encode() + b'", ', (400,), "malformed JSON")
    refused_post(b"\xff\xfe not json", (400,), "binary garbage")
    refused_post(b"", (400,), "an empty body")
    refused_post(dict(good, cpu={"count": "eight"}), (400,), "a string CPU count")
    refused_post(dict(good, nics=[]), (400,), "no NICs")
    big = dict(good, padding="x" * (300 * 1024))
    refused_post(big, (413,), "a body over 256 KiB")
    refused_post(good, (405,), "GET on the report path", method="GET")
    refused_post(good, (404,), "another path", path="/machine/v1/reports")
    # The token with another machine's MAC as its boot MAC.
    other_mac = "02:00:00:46:03:02"
    refused_post(inventory(other_mac, purpose="commission", token=token), (403, 409), "another machine's MAC")
    # A bad field is named in the answer.
    st, text = refused_post(dict(good, memory_mib=-1), (400,), "a negative memory size")
    assert "memory_mib" in text, text

    # The real one is taken once ...
    st, _, text = lab.post(good)
    assert st == 200, text
    m = lab.wait_status(h, "READY", timeout=10 * SLOW)
    assert (m["cpu_count"], m["memory_mib"], m["storage_bytes"]) == (8, 4096, 8 * GIB), m
    assert transitions(lab, h) == [("NEW", "COMMISSIONING"), ("COMMISSIONING", "READY")]
    # ... and never again.
    before = lab.snapshot(h)
    st, text = refused_post(dict(good, cpu={"count": 1, "model": "x"}), (403,), "a reused token")
    assert "used" in text, text


def test_a_report_posted_while_the_region_is_away_is_held_and_delivered(lab, vlan):
    h, mac = "mc-away", "02:00:00:46:04:01"
    machine(lab, h, mac, vlan, power_type="manual")
    moved(lab, h, "commission", "COMMISSIONING")
    token = commission_token(lab, mac)
    body = inventory(mac, purpose="commission", token=token, cpus=2, memory_mib=1024)
    answers = []

    def agent():  # as the agent does: post, and on 503 again after Retry-After
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            st, headers, text = lab.post(body, timeout=40)
            answers.append((time.monotonic(), st, headers.get("retry-after"), text))
            if st != 503:
                return
            time.sleep(float(headers.get("retry-after") or 2))
    th = threading.Thread(target=agent)

    def away():
        time.sleep(0.5)
        th.start()
        time.sleep(3)
        assert not answers, f"the rack answered while the region was away: {answers}"

    down = lab.restart_region(away)
    th.join(120)
    assert answers, "no answer"
    assert answers[-1][1] == 200, answers
    for _, st, retry, _ in answers[:-1]:
        assert st == 503 and retry, answers
    m = lab.wait_status(h, "READY", timeout=10 * SLOW)
    assert (m["cpu_count"], m["memory_mib"]) == (2, 1024), m
    print(f"report held while the region was away: region down {down:.1f} s, "
          f"{len(answers)} post(s): {[a[1] for a in answers]}")


@plain_pass_only
def test_a_report_the_region_cannot_answer_in_time_gets_503_and_the_retry_is_taken(lab, vlan):
    h, mac = "mc-away-long", "02:00:00:46:04:02"
    machine(lab, h, mac, vlan, power_type="manual")
    moved(lab, h, "commission", "COMMISSIONING")
    token = commission_token(lab, mac)
    body = inventory(mac, purpose="commission", token=token, cpus=6, memory_mib=3072)
    first = {}

    def away():  # the region stays away for as long as the rack holds the post
        t = time.monotonic()
        st, headers, text = lab.post(body, timeout=60)
        first.update(status=st, retry=headers.get("retry-after"), text=text, held=time.monotonic() - t)
    down = lab.restart_region(away)
    assert first["status"] == 503, first
    assert first["retry"] and first["retry"].isdigit() and int(first["retry"]) > 0, first
    assert "unavailable" in first["text"], first
    assert HOLD_S - 1 <= first["held"] <= HOLD_S + 5, first  # held up to HOLD_S, then answered
    # Nothing was stored for the refused post, also once the region is back.
    time.sleep(2)
    m = lab.get(h)
    assert m["status"] == "COMMISSIONING" and m["cpu_count"] != 6, m
    # The agent's retry is taken.
    st, _, text = lab.post(body)
    assert st == 200, text
    m = lab.wait_status(h, "READY", timeout=10 * SLOW)
    assert (m["cpu_count"], m["memory_mib"]) == (6, 3072), m
    print(f"report not answered while the region was away {down:.1f} s: 503 after {first['held']:.1f} s "
          f"(Retry-After {first['retry']}), the retry taken")


# ---- VMs: enlistment ----


def images_needed(lab):
    missing = [n for n in IMAGE_NAMES if n not in lab.images]
    if missing:
        pytest.fail(f"{IMAGES}/{', '.join(missing)} missing: build the ephemeral environment (make ephemeral)")
    lab.images_on_rack()


def enlisted(lab, mac, t0, serial, mark, timeout=120):
    """Waits for the machine of mac to appear (NEW) after a boot started at t0."""
    def seen():
        ids = lab.by_mac(mac)
        return ids if ids else None
    try:
        ids = wait_for(seen, timeout=timeout, interval=0.2, what=f"a machine with {mac}")
    except AssertionError as e:
        raise AssertionError(f"{e}\n--- serial ---\n{serial.text(mark)[-3000:]}\n--- rack ---\n"
                             f"{lab.rack_log()[-3000:]}") from None
    return ids, time.time()


@needs_vms
def test_an_unknown_vm_enlists_by_itself(lab, vlan):
    images_needed(lab)
    disk = lab.make_disk(VM_MAC, DISK_1)
    assert os.path.getsize(disk) == DISK_1
    assert lab.by_mac(VM_MAC) == []
    before = lab.machine_count()
    serial = lab.serial(VM_MAC)
    mark = serial.mark()
    t0 = lab.start_vm(VM_MAC)
    ids, t_new = enlisted(lab, VM_MAC, t0, serial, mark)
    assert len(ids) == 1, ids
    m = lab.get(ids[0])
    assert m["status"] == "NEW", m
    assert m["cpu_count"] == 2, m
    assert m["memory_mib"] == 512, m
    assert m["storage_bytes"] == DISK_1, m
    assert lab.machine_count() == before + 1
    # The VM powers itself off once its report is taken.
    vm = lab.vm(VM_MAC)
    wait_for(lambda: not vm.running, timeout=30, what="the VM to power itself off")
    text = serial.text(mark)
    assert "reboot: Power down" in text or "Power down" in text, text[-2000:]
    assert "Kernel panic" not in text, text[-3000:]
    # The boot interface is the VM's NIC, on the lab's VLAN, linked to its subnet.
    ifaces = lab.interfaces(ids[0])
    iface = next((i for i in ifaces if i["mac"] == VM_MAC), None)
    assert iface, ifaces
    assert iface["vlan"] == vlan["id"], iface
    assert any(r["subnet_cidr"] == NET for r in lab.links(iface["id"])), lab.links(iface["id"])
    # It was the ephemeral kernel from the rack, over HTTP, that did it.
    log = lab.rack_log()
    assert http_gets(log, "ephemeral/amd64/vmlinuz", t0) and http_gets(log, "ephemeral/amd64/initrd.img", t0), \
        log[-3000:]
    assert any(st == 200 for _, st in report_answers(log, t0)), log[-3000:]
    assert serial.agent(mark), "no ironrack-agent: lines on the serial console"
    timing = BootTiming("enlist (VM start -> NEW)", t0, log, serial, mark, t_new, "NEW")
    TIMINGS.append(timing.line())
    sizes = {n: lab.images[n] for n in IMAGE_NAMES}
    TIMINGS.append("ephemeral images: " + ", ".join(f"{n} {s / 1e6:.1f} MB" for n, s in sizes.items()))
    TIMINGS.append("agent steps (uptime s): " + " ".join(f"{step}={up:.2f}" for _, up, step in serial.agent(mark)))
    print(timing.line())
    lab.vm_machine = ids[0]


@needs_vms
def test_the_same_vm_booted_again_is_still_one_machine(lab, vlan):
    mid = getattr(lab, "vm_machine", None)
    if mid is None:
        pytest.fail("needs the machine the first boot enlisted (test_an_unknown_vm_enlists_by_itself)")
    before = lab.machine_count()
    serial = lab.serial(VM_MAC)
    mark = serial.mark()
    t0 = lab.start_vm(VM_MAC)
    vm = lab.vm(VM_MAC)
    wait_for(lambda: not vm.running, timeout=120, what="the VM to boot, report and power off")
    answers = report_answers(lab.rack_log(), t0)
    assert answers and answers[-1][1] == 200, (answers, serial.text(mark)[-2000:])
    assert lab.by_mac(VM_MAC) == [mid]
    assert lab.machine_count() == before
    m = lab.get(mid)
    assert m["status"] == "NEW" and m["storage_bytes"] == DISK_1, m


# ---- VMs: commissioning through IPMI ----


def commission_vm(lab, mid, label, between=None):
    """Commissions the VM's machine (its BMC power-cycles it into the
    ephemeral environment); returns the machine once it is READY."""
    serial = lab.serial(VM_MAC)
    mark = serial.mark()
    t0 = time.time()
    moved(lab, mid, "commission", "COMMISSIONING")
    if between:
        between(t0, serial, mark)
    m = lab.wait_status(mid, ("READY", "FAILED_COMMISSIONING"), timeout=COMMISSIONING_TIMEOUT + 30)
    t_ready = time.time()
    assert m["status"] == "READY", f"{m['status']}: {m['status_message']}\n{serial.text(mark)[-2000:]}"
    # Powered off: the region's off through the BMC, the VM gone.
    vm = lab.vm(VM_MAC)
    wait_for(lambda: lab.ipmi.power == "off" and not vm.running, timeout=30 * SLOW,
             what=f"the machine powered off (BMC {lab.ipmi.power}, VM running: {vm.running})")
    # (The agent's last lines follow the region's answer: timed once it is off.)
    t_on = lab.started.get(VM_MAC)
    timing = BootTiming(label, t0, lab.rack_log(), serial, mark, t_ready, "READY",
                        t_power_on=t_on if t_on and t_on >= t0 else None)
    TIMINGS.append(timing.line())
    print(timing.line())
    return m, serial, mark


@needs_vms
def test_commissioning_through_ipmi_ends_ready_and_powered_off(lab, vlan):
    mid = getattr(lab, "vm_machine", None)
    if mid is None:
        pytest.fail("needs the machine the first boot enlisted (test_an_unknown_vm_enlists_by_itself)")
    lab.ipmi_vm = VM_MAC
    ok(lab.region, "PATCH", f"/api/v1/machines/{mid}",
       {"power_type": "ipmi", "power_address": IPMI_IP, "power_user": BMC_USER, "power_pass": BMC_PASS,
        "power_workarounds": "opensesspriv"})
    calls = len(lab.ipmi.calls)
    m, serial, mark = commission_vm(lab, mid, "commission via IPMI (request -> READY)")
    assert (m["cpu_count"], m["memory_mib"], m["storage_bytes"]) == (2, 512, DISK_1), m
    # The BMC was told to boot from the network and to switch the machine on.
    new = lab.ipmi.calls[calls:]
    assert "set boot pxe" in " ".join(new) or any("boot pxe" in c for c in new), new
    assert any("power 1" in c for c in new) and any("power 0" in c for c in new), new
    # The agent posted with the token; the transitions are events.
    assert kernel_args_seen(serial, mark).get("ironrack.purpose") == "commission"
    tr = transitions(lab, mid)
    assert tr[-2:] == [("NEW", "COMMISSIONING"), ("COMMISSIONING", "READY")], tr
    assert lab.by_mac(VM_MAC) == [mid]


def kernel_args_seen(serial, mark):
    """The ironrack.* words of the kernel command line the VM booted with
    (the kernel prints it)."""
    for _, text in serial.lines(mark):
        if "Command line:" in text:
            return dict(w.split("=", 1) for w in text.split() if w.startswith("ironrack.") and "=" in w)
    return {}


@needs_vms
def test_recommissioning_after_a_disk_resize_updates_the_inventory(lab, vlan):
    mid = getattr(lab, "vm_machine", None)
    if mid is None or lab.get(mid)["status"] != "READY":
        pytest.fail("needs the READY machine of the commissioning test")
    assert not lab.vm(VM_MAC).running
    lab.make_disk(VM_MAC, DISK_2)
    m, _, _ = commission_vm(lab, mid, "recommission after resize (request -> READY)")
    assert m["storage_bytes"] == DISK_2, m
    disks = (m.get("hardware") or {}).get("disks") or []
    assert [d.get("size_bytes") for d in disks] == [DISK_2], m["hardware"]
    assert transitions(lab, mid)[-2:] == [("READY", "COMMISSIONING"), ("COMMISSIONING", "READY")]


@needs_vms
def test_the_region_away_during_commissioning_the_machine_finishes_when_it_is_back(lab, vlan):
    mid = getattr(lab, "vm_machine", None)
    if mid is None or lab.get(mid)["status"] != "READY":
        pytest.fail("needs the READY machine of the commissioning test")
    seen = {}

    def region_away(t0, serial, mark):
        # Once the VM fetches the kernel the region goes; it comes back only
        # after the agent has run long enough to have posted.
        wait_for(lambda: http_gets(lab.rack_log(), "ephemeral/amd64/vmlinuz", t0), timeout=60,
                 what="the VM fetching the ephemeral kernel")

        def agent_ran():
            wait_for(lambda: serial.agent(mark), timeout=60, what="the agent's first line")
            seen["agent_at"] = time.time()
            time.sleep(8)
            seen["posts_while_away"] = report_answers(lab.rack_log(), t0)
        seen["down"] = lab.restart_region(agent_ran)
        seen["back_at"] = time.time()

    m, serial, mark = commission_vm(lab, mid, "commission, region away 8 s after agent start (request -> READY)",
                                    between=region_away)
    assert m["status"] == "READY"
    # The agent ran while the region was away; nothing was answered 200
    # before it came back.
    assert not any(st == 200 for _, st in seen["posts_while_away"]), seen
    answers = report_answers(lab.rack_log(), seen["agent_at"])
    assert answers and answers[-1][1] == 200 and answers[-1][0] >= seen["back_at"] - 1, (answers, seen)
    print(f"region away {seen['down']:.1f} s; the rack's answers to the agent: {[st for _, st in answers]}")
    TIMINGS.append(f"region away {seen['down']:.1f} s during commissioning; answers to the agent: "
                   f"{[st for _, st in answers]}")


# ---- last: the machine nobody powered on ----


@plain_pass_only
def test_a_machine_whose_agent_never_reports_fails_after_the_timeout(lab, vlan):
    m = lab.wait_status("mc-stuck", ("FAILED_COMMISSIONING",),
                        timeout=max(0, lab.stuck_since + COMMISSIONING_TIMEOUT - time.time()) + 30 * SLOW)
    # (A region that is away fails nothing: it does so when it is back.)
    late = 15 * SLOW + lab.region_away
    msg = m["status_message"]
    assert msg and ("did not finish" in msg or "timed out" in msg or "timeout" in msg), m
    ev = lab.status_events("mc-stuck")
    assert transitions(lab, "mc-stuck") == [("NEW", "COMMISSIONING"), ("COMMISSIONING", "FAILED_COMMISSIONING")]
    failed = ev[-1]
    assert msg in failed["description"] or "did not finish" in failed["description"], failed

    def at(e):
        return time.mktime(time.strptime(e["at"][:19], "%Y-%m-%dT%H:%M:%S"))
    took = at(ev[-1]) - at(ev[0])
    assert COMMISSIONING_TIMEOUT - 1 <= took <= COMMISSIONING_TIMEOUT + late, (took, late, ev)
    # Its token went with it: the boot config is no longer the ephemeral one
    # with a token, and a failed machine can be commissioned again.
    assert "ironrack.token" not in kernel_args(lab.boot_script(STUCK_MAC))
    moved(lab, "mc-stuck", "commission", "COMMISSIONING")
    moved(lab, "mc-stuck", "abort", "FAILED_COMMISSIONING")
