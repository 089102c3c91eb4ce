"""The OS of an infrastructure's machines (docs/deploy.md,
"Infrastructures"): an instance array names an image, and the deploy of the
infrastructure starts a machine deploy (the one `ironrack machines deploy`
runs) on every bound machine that is ALLOCATED; growing deploys the new
machines only; an unknown or not-ready image refuses plan and deploy before
anything changes. Machines are made READY in the database
(readymachines.py) without a power type, so nothing boots: the deploys stay
DEPLOYING, which is what is checked here (the agent's side is
test_deploy_flow.py's and test_deploy.py's)."""

import hashlib
import json
import os
import re

from conftest import cli, wait_for
from readymachines import psql, ready_machines

INFRA = "/api/v1/infrastructures"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIronrackInfraOsTestKey0000000000000000 ops@example"


def ok(region, method, path, body=None, status=200):
    st, b = region.api(method, path, body)
    assert st == status, f"{method} {path} -> {st}: {b}"
    return b


def status(region, host):
    return ok(region, "GET", f"/api/v1/machines/{host}")["status"]


def deploy_rows(region):
    """host -> (image, number, ssh_keys) of every machine_deploy row."""
    out = psql(region, "SELECT m.hostname, d.image_name, d.number, array_to_string(d.ssh_keys, ',') "
                       "FROM machine_deploy d JOIN machine m ON m.id = d.machine_id ORDER BY m.hostname")
    rows = [line.split("|") for line in out.splitlines() if line]
    return {h: (img, int(n), keys) for h, img, n, keys in rows}


def test_infrastructure_deploys_an_os_to_its_machines(region, workdir):
    ready_machines(region, "os", 3, nics=1, mac_base=0x300)
    data = os.urandom(64 * 1024)
    path = os.path.join(workdir, "tiny.img")
    with open(path, "wb") as f:
        f.write(data)
    cli(region, "images", "add", path, "--name", "tiny")
    wait_for(lambda: ok(region, "GET", "/api/v1/images/tiny")["status"] == "ready", timeout=15,
             what="image tiny ready")
    # An image whose bytes never came: not ready.
    ok(region, "POST", "/api/v1/images", {"name": "half", "format": "raw",
                                          "sha256": hashlib.sha256(b"x").hexdigest(), "size": 1}, 201)

    ok(region, "POST", INFRA, {"name": "farm", "wan_pools": ["203.0.113.0/24"]}, 201)
    cli(region, "infra", "array", "add", "farm", "web", "--count", "2", "--ports", "1", "--image", "tiny",
        "--ssh-key", KEY)
    ok(region, "POST", f"{INFRA}/farm/networks", {"name": "inet", "type": "wan"}, 201)
    ok(region, "POST", f"{INFRA}/farm/connections", {"array": "web", "port": 0, "network": "inet"}, 201)
    staged = ok(region, "GET", f"{INFRA}/farm")["staged"]["instance_arrays"][0]
    assert (staged["image"], staged["ssh_keys"], staged["user_data_bytes"]) == ("tiny", [KEY], 0), staged

    # The plan shows the image; nothing is deployed by a plan.
    p = ok(region, "POST", f"{INFRA}/farm/plan")
    create = [a for a in p["actions"] if a["object"] == "instance_array"][0]
    assert create["image"] == "tiny", create
    assert "deploys" not in p
    assert deploy_rows(region) == {}

    # Deploy binds both instances and starts a deploy of tiny on each.
    d = ok(region, "POST", f"{INFRA}/farm/deploy")
    assert [(m["op"], m["instance"], m["machine"]) for m in d["machines"]] == [("bind", 0, "os1"), ("bind", 1, "os2")]
    assert d["deploys"] == [
        {"array": "web", "instance": 0, "machine": "os1", "image": "tiny", "status": "DEPLOYING"},
        {"array": "web", "instance": 1, "machine": "os2", "image": "tiny", "status": "DEPLOYING"}], d
    assert (status(region, "os1"), status(region, "os2"), status(region, "os3")) == ("DEPLOYING", "DEPLOYING", "READY")
    assert deploy_rows(region) == {"os1": ("tiny", 1, KEY), "os2": ("tiny", 1, KEY)}
    ev = psql(region, "SELECT e.description FROM machine_event e JOIN machine m ON m.id = e.machine_id "
                      "WHERE m.hostname = 'os1' ORDER BY e.id DESC LIMIT 1")
    assert ev.startswith("ALLOCATED → DEPLOYING: deploy tiny requested: instance web#0 of infrastructure farm"), ev
    steps = ok(region, "GET", f"{INFRA}/farm/deploys")["deploys"][0]["steps"]
    assert [(s["op"], s["subject"], s["detail"]) for s in steps if s["op"] == "deploy"] == [
        ("deploy", "web#0", "os1 image tiny: DEPLOYING"), ("deploy", "web#1", "os2 image tiny: DEPLOYING")]

    # Growing to 3 deploys the third only; the first two are not redeployed.
    cli(region, "infra", "array", "set", "farm", "web", "--count", "3")
    out = cli(region, "infra", "deploy", "farm").stdout
    assert re.search(r"\nbind +machine +web#2 +os3\n", out), out
    assert re.search(r"\ndeploy +machine +web#2 +os3 image tiny: DEPLOYING\n", out), out
    assert "os1" not in out and "os2" not in out, out
    assert status(region, "os3") == "DEPLOYING"
    assert deploy_rows(region) == {"os1": ("tiny", 1, KEY), "os2": ("tiny", 1, KEY), "os3": ("tiny", 1, KEY)}

    # A not-ready or unknown image: plan and deploy refuse naming it, and
    # nothing changes.
    rev = ok(region, "GET", f"{INFRA}/farm")["revision"]
    for image, words in (("half", "image half is not ready: uploading, 0 of 1 bytes uploaded"),
                         ("nosuch", "no image named nosuch")):
        ok(region, "PATCH", f"{INFRA}/farm/instance-arrays/web", {"image": image, "instance_count": 4})
        for verb in ("plan", "deploy"):
            st, body = region.api("POST", f"{INFRA}/farm/{verb}")
            assert st == 409 and body["error"]["field"] == "image", body
            assert body["error"]["message"] == f'instance array "web": {words}' + (
                " (ironrack images list shows them)" if image == "nosuch" else
                " (ironrack images add resumes it)"), body
        out = cli(region, "infra", "plan", "farm", check=False)
        assert out.returncode != 0 and image in out.stderr, out
    assert ok(region, "GET", f"{INFRA}/farm")["revision"] == rev
    assert psql(region, "SELECT count(*) FROM infra_instance i JOIN infra_array a ON a.id = i.array_id "
                        "WHERE a.d_name = 'web'") == "3"

    # Changing the image is planned as a change; DEPLOYING/DEPLOYED
    # machines keep what they have.
    ok(region, "PATCH", f"{INFRA}/farm/instance-arrays/web", {"image": "", "instance_count": 3})
    p = ok(region, "POST", f"{INFRA}/farm/plan")
    change = [a for a in p["actions"] if a["object"] == "instance_array"][0]
    assert change["changes"]["image"] == {"from": "tiny", "to": ""}, change
    d = ok(region, "POST", f"{INFRA}/farm/deploy")
    assert d["applied"] and d["deploys"] == [], d
    assert deploy_rows(region)["os1"] == ("tiny", 1, KEY)
    shown = json.loads(cli(region, "infra", "show", "farm", "--json").stdout)
    assert shown["deployed"]["instance_arrays"][0]["image"] == ""
