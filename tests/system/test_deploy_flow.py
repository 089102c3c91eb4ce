"""Deploy and release through a real region and rack, without QEMU
(docs/deploy.md): the agent's reports are posted with HTTP through the
rack's agent endpoint as the ephemeral agent would post them, the boot
configs read from the rack's HTTP boot server as iPXE would read them.

    allocate -> deploy -> GetBootConfig says deploy with a token -> start
    answers the job (image, seed) -> done -> the boot config is local ->
    DEPLOYED; a failed step -> FAILED_DEPLOYMENT with its stage and error;
    a spent token refused; release with and without erase; the 0010
    trigger's answers to a power action that fails.

Machines have no power type (nothing the region could switch), so no BMC
is needed; the power actions a BMC would drive are played in the database
against 0010's trigger. The rack's HTTP boot server listens on
loopback: no namespace. Tests run in file order and share one region and
rack."""

import hashlib
import http.client
import json
import os
import re
import shutil
import time
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import CLI, Rack, Region, cli, make_dir, needs_tools, port_file, wait_for
from nethelp import ok, psql, refused

PATH = "/machine/v1/report"
IMAGE = os.urandom(64 * 1024) + bytes(8192)
IMAGE_SHA = hashlib.sha256(IMAGE).hexdigest()
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDeployFlowTestKeyOnlyForThisTest0000000 test@ironrack"
TOKEN = re.compile(r"^[0-9a-f]{64}$")


class Lab:
    def __init__(self, workdir, region_args=()):
        self.workdir = workdir
        self.region = Region(os.path.join(workdir, "region"))
        if region_args:
            region = self.region
            region.args = lambda: Region.args(region) + list(region_args)
        os.makedirs(self.region.state_dir, mode=0o700)
        self.region.start()
        boot = os.path.join(workdir, "boot")
        os.makedirs(boot)
        self.rack = Rack(self.region, os.path.join(workdir, "rack"), "deploy-rack")
        try:
            self.rack.start(secret=self.region.secret, fingerprint=self.region.fingerprint,
                            extra=["--http-boot-listen", "127.0.0.1:0", "--boot-root", boot,
                                   "--agent-hold-timeout", "10s"])
            self.port = port_file(self.rack.state_dir, "http-boot", self.rack.daemon.proc)[1]
        except BaseException:
            self.stop()
            raise

    def stop(self):
        try:
            self.rack.stop()
        finally:
            self.region.stop()

    def rack_http(self, method, path, body=None):
        """(status, headers, parsed JSON or text) from the rack's HTTP boot server."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        data = None if body is None else json.dumps(body).encode()
        c.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        r = c.getresponse()
        raw = r.read()
        c.close()
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw.decode(errors="replace")
        return r.status, {k.lower(): v for k, v in r.getheaders()}, parsed

    def post(self, body):
        """(status, content type, answer) of an agent's report."""
        st, headers, answer = self.rack_http("POST", PATH, body)
        return st, headers.get("content-type"), answer

    def boot_args(self, mac):
        """{name: value} of the ironrack.* words the rack's iPXE script for mac boots."""
        st, _, text = self.rack_http("GET", f"/ipxe/{mac}.ipxe")
        assert st == 200, text
        for line in text.splitlines():
            if line.startswith("kernel "):
                return dict(w.split("=", 1) for w in line.split() if w.startswith("ironrack.") and "=" in w)
        assert "exit" in text.splitlines(), text  # a local boot
        return {"ironrack.purpose": "local"}

    def wait_boot(self, mac, purpose):
        """The boot config once it says purpose (racks forget a cached one
        when the region tells them; that message may trail the API's answer)."""
        seen = {}

        def check():
            seen.update(self.boot_args(mac))
            return seen.get("ironrack.purpose") == purpose
        wait_for(check, timeout=15, what=f"{mac} booting {purpose} (last: {seen})")
        return dict(seen)

    def get(self, host):
        return ok(self.region, "GET", f"/api/v1/machines/{host}")

    def wait_status(self, host, status, timeout=20):
        wait_for(lambda: self.get(host)["status"] == status, timeout=timeout, what=f"{host} {status}")
        return self.get(host)

    def transitions(self, host):
        events = ok(self.region, "GET", f"/api/v1/machines/{host}/events?limit=1000")["events"]
        return [e["description"] for e in events if e["kind"] == "status"]


@pytest.fixture(scope="module")
def lab():
    needs_tools("psql")
    workdir = make_dir("irdeploy-")
    lab = None
    try:
        lab = Lab(workdir)
        yield lab
    finally:
        if lab:
            lab.stop()
        if not os.environ.get("IRONRACK_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)


def inventory(mac, token):
    return {"purpose": "commission", "token": token, "boot_mac": mac, "arch": "amd64",
            "cpu": {"count": 2, "model": "Test CPU"}, "memory_mib": 2048,
            "disks": [{"name": "vda", "size_bytes": 8 << 30}],
            "nics": [{"name": "eth0", "mac": mac, "driver": "virtio_net", "speed_mbps": 1000, "carrier": True}]}


def ready_machine(lab, host, mac):
    """A machine without a power type, commissioned through the rack: READY."""
    ok(lab.region, "POST", "/api/v1/machines", {"hostname": host})
    ok(lab.region, "POST", f"/api/v1/machines/{host}/interfaces", {"name": "eth0", "mac": mac})
    ok(lab.region, "POST", f"/api/v1/machines/{host}/commission", {})
    args = lab.wait_boot(mac, "commission")
    st, _, answer = lab.post(inventory(mac, args["ironrack.token"]))
    assert st == 200, answer
    return lab.wait_status(host, "READY")


def allocated_machine(lab, host, mac):
    """READY, then ALLOCATED through POST /machines/allocate (its tag picks it)."""
    ready_machine(lab, host, mac)
    ok(lab.region, "PATCH", f"/api/v1/machines/{host}", {"tags": [host]})
    m = ok(lab.region, "POST", "/api/v1/machines/allocate", {"tags": [host], "comment": "deploy flow"})
    assert m["hostname"] == host and m["status"] == "ALLOCATED", m
    return m


def put_image(lab, name, data):
    st, body = lab.region.api("POST", "/api/v1/images", {"name": name, "format": "raw",
                                                          "sha256": hashlib.sha256(data).hexdigest(),
                                                          "size": len(data)})
    assert st == 201, body
    req = urllib.request.Request(
        f"{lab.region.url}/api/v1/images/{name}/data", data=data, method="PUT",
        headers={"Authorization": f"Bearer {lab.region.admin_key}", "Content-Type": "application/octet-stream",
                 "Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        body = json.loads(r.read())
    assert body["status"] == "ready", body
    return body


def step(token, mac, name, purpose="deploy", **extra):
    return dict({"purpose": purpose, "token": token, "mac": mac, "step": name}, **extra)


MAC_A, MAC_B, MAC_C, MAC_D = "52:54:00:de:00:0a", "52:54:00:de:00:0b", "52:54:00:de:00:0c", "52:54:00:de:00:0d"


def test_deploy_to_deployed(lab):
    put_image(lab, "flow-img", IMAGE)
    allocated_machine(lab, "dep-a", MAC_A)
    r = lab.region
    refused(r, "POST", "/api/v1/machines/dep-a/deploy", {"image": "no-such"}, status=400, field="image",
            text="no image named no-such")
    refused(r, "POST", "/api/v1/machines/dep-a/deploy", {}, status=400, field="image")
    refused(r, "POST", "/api/v1/machines/dep-a/deploy", {"image": "flow-img", "ssh_keys": "k"}, status=400,
            field="ssh_keys")
    refused(r, "POST", "/api/v1/machines/dep-a/deploy", {"image": "flow-img", "user": "x"}, status=400, field="user")
    # SSH keys with user-data that is not #cloud-config: the seed cannot be made.
    refused(r, "POST", "/api/v1/machines/dep-a/deploy",
            {"image": "flow-img", "user_data": "#!/bin/sh\necho hi\n", "ssh_keys": [KEY]}, status=400,
            text="seed")
    assert lab.get("dep-a")["status"] == "ALLOCATED"

    m = ok(r, "POST", "/api/v1/machines/dep-a/deploy",
           {"image": "flow-img", "user_data": "#cloud-config\npackages: [htop]\n", "ssh_keys": [KEY],
            "comment": "first deploy"})
    assert m["status"] == "DEPLOYING" and m["status_deadline"], m
    refused(r, "POST", "/api/v1/machines/dep-a/deploy", {"image": "flow-img"}, status=409, text="is DEPLOYING")

    args = lab.wait_boot(MAC_A, "deploy")
    token = args["ironrack.token"]
    assert TOKEN.match(token), args
    assert args["ironrack.mac"] == MAC_A, args

    st, ctype, job = lab.post(step(token, MAC_A, "start"))
    assert st == 200 and ctype == "application/json", job
    assert job["action"] == "deploy" and job["disk"] == "" and job["report_every_ms"] > 0, job
    assert job["image"] == {"name": "flow-img", "url": "/images/flow-img", "format": "raw", "sha256": IMAGE_SHA,
                            "size": len(IMAGE)}, job
    seed = job["seed"]
    assert "local-hostname" in seed["meta-data"] and "dep-a" in seed["meta-data"], seed
    assert re.search(r"ironrack-\d+-1", seed["meta-data"]), seed["meta-data"]
    assert seed["user-data"].startswith("#cloud-config\n") and KEY in seed["user-data"], seed
    assert "packages: [htop]" in seed["user-data"], seed
    assert seed["network-config"].startswith("version: 2"), seed
    assert "writing flow-img" in lab.get("dep-a")["status_message"]
    # start does not spend the token: an agent that lost the answer asks again.
    st, _, again = lab.post(step(token, MAC_A, "start"))
    assert st == 200 and again == job, again

    result = {"disk": "/dev/vda", "bytes": len(IMAGE), "download_ms": 12, "write_ms": 34, "sha256": IMAGE_SHA}
    st, _, answer = lab.post(step(token, MAC_A, "done", result=result))
    assert st == 200 and answer["result"] == "ok", answer
    assert "image flow-img written to /dev/vda" in answer["message"], answer
    # No power type: nothing boots the disk but a person, so the machine is
    # DEPLOYED at once (deployed_when boot) and says so.
    m = lab.wait_status("dep-a", "DEPLOYED")
    assert "someone must power it on" in m["status_message"], m
    assert m["status_deadline"] is None, m
    assert lab.wait_boot(MAC_A, "local") == {"ironrack.purpose": "local"}
    # The token is spent: a second done (or start) is refused.
    st, _, answer = lab.post(step(token, MAC_A, "done", result=result))
    assert st == 403 and answer["error"] == "token" and "already used" in answer["message"], answer
    st, _, answer = lab.post(step(token, MAC_A, "start"))
    assert st == 403, answer
    assert lab.get("dep-a")["status"] == "DEPLOYED"
    row = psql(r, "SELECT step || ' ' || (result->>'bytes') || ' ' || (result->>'disk') || ' ' || number "
                  "FROM machine_deploy d JOIN machine m ON m.id = d.machine_id WHERE m.hostname = 'dep-a'")
    assert row == f"deployed {len(IMAGE)} /dev/vda 1", row
    t = lab.transitions("dep-a")
    assert any(d.startswith("ALLOCATED → DEPLOYING: deploy flow-img requested: first deploy") for d in t), t
    assert any(d.startswith("DEPLOYING → DEPLOYED: ") for d in t), t


def test_failed_step_then_release_without_erase(lab):
    allocated_machine(lab, "dep-b", MAC_B)
    ok(lab.region, "POST", "/api/v1/machines/dep-b/deploy", {"image": "flow-img"})
    token = lab.wait_boot(MAC_B, "deploy")["ironrack.token"]
    # A token of another machine's MAC is refused.
    st, _, answer = lab.post(step(token, MAC_A, "start"))
    assert st == 403 and "belongs to machine" in answer["message"], answer
    st, _, job = lab.post(step(token, MAC_B, "start"))
    assert st == 200 and job["action"] == "deploy", job
    error = f"checksum: expected {IMAGE_SHA}, got {'0' * 64}"
    st, _, answer = lab.post(step(token, MAC_B, "failed", stage="verify", error=error))
    assert st == 200, answer
    m = lab.wait_status("dep-b", "FAILED_DEPLOYMENT")
    assert m["status_message"] == f"deploy failed at verify: {error}", m
    st, _, answer = lab.post(step(token, MAC_B, "done"))
    assert st == 403 and "already used" in answer["message"], answer
    assert lab.wait_boot(MAC_B, "local")
    stored = json.loads(psql(lab.region, "SELECT result::text FROM machine_deploy d JOIN machine m "
                                         "ON m.id = d.machine_id WHERE m.hostname = 'dep-b'"))
    assert stored == {"stage": "verify", "error": error}, stored

    # Released without erase: nothing can switch it off, READY at once,
    # the deploy row and the owner gone.
    refused(lab.region, "POST", "/api/v1/machines/dep-b/release", {"erase": "some"}, status=400, field="erase")
    m = ok(lab.region, "POST", "/api/v1/machines/dep-b/release", {"comment": "done with it"})
    assert m["status"] == "READY" and m.get("owner", "") == "", m
    assert psql(lab.region, "SELECT count(*) FROM machine_deploy d JOIN machine m ON m.id = d.machine_id "
                            "WHERE m.hostname = 'dep-b'") == "0"
    t = lab.transitions("dep-b")
    assert any(d.startswith("FAILED_DEPLOYMENT → RELEASING: release requested: done with it") for d in t), t
    assert t[-1].startswith("RELEASING → READY: released"), t
    refused(lab.region, "POST", "/api/v1/machines/dep-b/release", {}, status=409, text="is READY")


def test_release_with_erase(lab):
    # dep-a is DEPLOYED (the first test): quick erase.
    m = ok(lab.region, "POST", "/api/v1/machines/dep-a/release", {"erase": "quick"})
    assert m["status"] == "RELEASING" and m["status_deadline"], m
    args = lab.wait_boot(MAC_A, "erase")
    token = args["ironrack.token"]
    st, ctype, job = lab.post(step(token, MAC_A, "start", purpose="erase"))
    assert st == 200 and ctype == "application/json" and job == {"action": "erase", "mode": "quick"}, job
    # A deploy report with the erase token is refused for its purpose.
    st, _, answer = lab.post(step(token, MAC_A, "start"))
    assert st == 403 and "issued for erase" in answer["message"], answer
    st, _, answer = lab.post(step(token, MAC_A, "done", purpose="erase",
                                  result={"mode": "quick", "disks": ["/dev/vda"], "bytes": 2 << 20, "write_ms": 4}))
    assert st == 200, answer
    m = lab.wait_status("dep-a", "READY")
    assert m["status_message"] == "" and m.get("owner", "") == "", m
    assert lab.wait_boot(MAC_A, "local")
    assert lab.transitions("dep-a")[-1] == "RELEASING → READY: released: disks erased (quick)"

    # An erase that fails leaves the machine BROKEN with why.
    ok(lab.region, "PATCH", "/api/v1/machines/dep-a", {"tags": ["dep-a"]})
    ok(lab.region, "POST", "/api/v1/machines/allocate", {"tags": ["dep-a"]})
    ok(lab.region, "POST", "/api/v1/machines/dep-a/release", {"erase": "full"})
    token = lab.wait_boot(MAC_A, "erase")["ironrack.token"]
    st, _, job = lab.post(step(token, MAC_A, "start", purpose="erase"))
    assert job == {"action": "erase", "mode": "full"}, job
    st, _, answer = lab.post(step(token, MAC_A, "failed", purpose="erase", stage="erase",
                                  error="write /dev/vda: Input/output error"))
    assert st == 200, answer
    m = lab.wait_status("dep-a", "BROKEN")
    assert m["status_message"] == "erase failed at erase: write /dev/vda: Input/output error", m


def fake_action(lab, host, action):
    """A pending power action driving host's state, as a BMC's would."""
    return psql(lab.region,
                f"WITH a AS (INSERT INTO power_action (machine_id, action, boot) SELECT id, '{action}', '' "
                f"FROM machine WHERE hostname = '{host}' RETURNING id, machine_id), "
                f"m AS (UPDATE machine SET status_action_id = a.id FROM a WHERE machine.id = a.machine_id) "
                f"SELECT id FROM a")


def test_power_actions_drive_the_states(lab):
    """0010's trigger: a failed power action fails DEPLOYING and breaks
    RELEASING; a done off ends a release, a done cycle after the agent's
    done ends a deploy."""
    allocated_machine(lab, "dep-c", MAC_C)
    ok(lab.region, "POST", "/api/v1/machines/dep-c/deploy", {"image": "flow-img"})
    lab.wait_boot(MAC_C, "deploy")
    a = fake_action(lab, "dep-c", "cycle")
    psql(lab.region, f"UPDATE power_action SET status = 'failed', message = 'BMC 192.0.2.9: timed out' "
                     f"WHERE id = {a}")
    m = lab.get("dep-c")
    assert m["status"] == "FAILED_DEPLOYMENT", m
    assert m["status_message"] == "power cycle failed: BMC 192.0.2.9: timed out", m
    assert psql(lab.region, "SELECT count(*) FROM machine_token t JOIN machine m ON m.id = t.machine_id "
                            "WHERE m.hostname = 'dep-c' AND t.used IS NULL") == "0"

    ok(lab.region, "POST", "/api/v1/machines/dep-c/release", {})  # no power type: READY at once
    ok(lab.region, "PATCH", "/api/v1/machines/dep-c", {"tags": ["dep-c"]})
    ok(lab.region, "POST", "/api/v1/machines/allocate", {"tags": ["dep-c"]})
    # A deploy whose agent reported done waits for its power cycle.
    ok(lab.region, "POST", "/api/v1/machines/dep-c/deploy", {"image": "flow-img"})
    token = lab.wait_boot(MAC_C, "deploy")["ironrack.token"]
    psql(lab.region, "UPDATE machine SET power_type = 'ipmi' WHERE hostname = 'dep-c'")  # no rack reaches it
    st, _, answer = lab.post(step(token, MAC_C, "done"))
    assert st == 409 and "power cycle to boot its disk failed" in answer["message"], answer
    assert lab.get("dep-c")["status"] == "FAILED_DEPLOYMENT"
    psql(lab.region, "UPDATE machine SET power_type = '' WHERE hostname = 'dep-c'")

    allocated = ok(lab.region, "POST", "/api/v1/machines/dep-c/release", {})
    assert allocated["status"] == "READY"
    ok(lab.region, "POST", "/api/v1/machines/allocate", {"tags": ["dep-c"]})
    psql(lab.region, "UPDATE machine SET status = 'RELEASING', status_previous = 'ALLOCATED' "
                     "WHERE hostname = 'dep-c'")
    a = fake_action(lab, "dep-c", "off")
    psql(lab.region, f"UPDATE power_action SET status = 'done', state = 'off' WHERE id = {a}")
    m = lab.get("dep-c")
    assert m["status"] == "READY" and lab.transitions("dep-c")[-1] == "RELEASING → READY: released: powered off", m


def test_cli_deploy_and_release(lab, tmp_path):
    if not os.path.exists(CLI):
        pytest.fail(f"{CLI} is missing: make builds it")
    allocated_machine(lab, "dep-d", MAC_D)
    ud = tmp_path / "user-data"
    ud.write_text("#cloud-config\nruncmd: [true]\n")
    out = cli(lab.region, "machines", "deploy", "dep-d", "--image", "flow-img", "--user-data", str(ud),
              "--ssh-key", KEY, "--ssh-key", KEY.replace("test@", "other@"), "--comment", "from the CLI")
    assert out.stdout.startswith("dep-d: DEPLOYING"), out
    token = lab.wait_boot(MAC_D, "deploy")["ironrack.token"]
    st, _, job = lab.post(step(token, MAC_D, "start"))
    assert st == 200, job
    user_data = job["seed"]["user-data"]
    assert "runcmd: [true]" in user_data and KEY in user_data and "other@ironrack" in user_data, job
    bad = cli(lab.region, "machines", "deploy", "dep-d", "--image", "flow-img", check=False)
    assert bad.returncode == 1 and "is DEPLOYING" in bad.stderr, bad
    st, _, answer = lab.post(step(token, MAC_D, "done"))
    assert st == 200, answer
    lab.wait_status("dep-d", "DEPLOYED")
    usage = cli(lab.region, "machines", "release", "dep-d", "--erase", "some", check=False)
    assert usage.returncode == 2 and "--erase" in usage.stderr, usage
    # --wait follows the release to its end: the agent erases meanwhile.
    waiting = subprocess.Popen([CLI, "machines", "release", "dep-d", "--erase", "quick", "--wait", "--timeout", "30"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, IRONRACK_URL=lab.region.url, IRONRACK_KEY=lab.region.admin_key,
                                        IRONRACK_CONFIG=str(tmp_path / "cli.conf")))
    try:
        token = lab.wait_boot(MAC_D, "erase")["ironrack.token"]
        lab.post(step(token, MAC_D, "start", purpose="erase"))
        st, _, answer = lab.post(step(token, MAC_D, "done", purpose="erase"))
        assert st == 200, answer
        out, err = waiting.communicate(timeout=30)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 0, (out, err)
    assert out.splitlines()[0].startswith("dep-d: RELEASING"), out
    assert out.splitlines()[-1] == "dep-d: READY", out
    text = cli(lab.region, "machines", "deploy", "--help").stdout
    assert "--image NAME" in text and "--ssh-key" in text and "--wait" in text, text


MAC_E = "52:54:00:de:00:0e"


def test_deployed_when_dhcp(pb, tmp_path):
    """deployed_when = dhcp (a region of its own): after the agent's done
    the machine stays DEPLOYING until one of its MACs takes a DHCP lease
    longer than a PXE one, reported by a rack (here python3-grpcio speaking
    the real wire, test_dhcp_region's FakeRack, beside the real rack)."""
    from test_dhcp_region import FakeRack

    workdir = make_dir("irdeploydhcp-")
    lab = rack = None
    try:
        lab = Lab(workdir, region_args=["--deployed-when", "dhcp"])
        region = lab.region
        put_image(lab, "flow-img", IMAGE)
        rack = FakeRack(region, pb, str(tmp_path))
        rack.register([pb.Interface(name="eth1", mac="02:00:00:00:77:fe", addresses=["10.77.0.2/24"])])
        v = ok(region, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 77})
        s = ok(region, "POST", "/api/v1/subnets", {"cidr": "10.77.0.0/24", "vlan": v["id"]})
        # the rack serves the subnet: the region takes lease reports only
        # from the racks whose pushed config has it
        ok(region, "POST", "/api/v1/ip-ranges", {"subnet": "10.77.0.0/24", "type": "dynamic",
                                                 "start_ip": "10.77.0.50", "end_ip": "10.77.0.99"})
        ok(region, "PATCH", f"/api/v1/vlans/{v['id']}", {"dhcp_on": True, "primary_rack": rack.rack_id})
        rack.connect()
        rack.config(lambda c: c.dhcp.enabled)
        allocated_machine(lab, "dep-e", MAC_E)
        ok(region, "POST", "/api/v1/machines/dep-e/deploy", {"image": "flow-img"})
        token = lab.wait_boot(MAC_E, "deploy")["ironrack.token"]
        lab.post(step(token, MAC_E, "start"))
        st, _, answer = lab.post(step(token, MAC_E, "done", result={"bytes": len(IMAGE)}))
        assert st == 200, answer
        assert lab.wait_boot(MAC_E, "local")
        m = lab.get("dep-e")
        assert m["status"] == "DEPLOYING" and "first DHCP lease" in m["status_message"], m

        def lease(ip, seconds):
            return pb.LeaseEvent(kind=pb.LeaseEvent.GRANTED, address=ip, mac=MAC_E, subnet_id=s["id"],
                                 expiry_unix=int(time.time()) + seconds)
        # The firmware's PXE lease (30 s here, dhcp_pxe_lease_time) does not count.
        rack.leases(lease("10.77.0.50", 30))
        time.sleep(1)
        assert lab.get("dep-e")["status"] == "DEPLOYING"
        rack.leases(lease("10.77.0.51", 600))
        m = lab.wait_status("dep-e", "DEPLOYED", timeout=10)
        assert m["status_message"] == "deployed: its OS took the DHCP lease of 10.77.0.51", m
        assert lab.transitions("dep-e")[-1] == "DEPLOYING → DEPLOYED: its OS took the DHCP lease of 10.77.0.51"
    finally:
        if rack:
            rack.close()
        if lab:
            lab.stop()
        if not os.environ.get("IRONRACK_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)
