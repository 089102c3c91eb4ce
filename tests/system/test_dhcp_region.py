"""The region's side of rack DHCP: the DhcpConfig it builds from the network
model and pushes down a rack's Session, and the lease / external-DHCP
reports it applies. The rack here is python3-grpcio speaking the real
.proto contract (enrolled with the real Enrol RPC), so the test sees
exactly what a rack is sent and answers exactly as a rack would."""

import os
import queue
import subprocess
import threading
import time

import grpc  # python3-grpcio, installed by deploy/install-deps
import pytest

from conftest import REGIOND, wait_for
from nethelp import items, ok, psql, subnet

RACK_MAC = "02:00:00:00:55:fe"
NODE_MAC = "02:00:00:00:55:01"
GUEST_MAC = "02:00:00:00:77:01"
CIDR = "10.55.0.0/24"


def read(path):
    with open(path, "rb") as f:
        return f.read()


class FakeRack:
    """Enrol, Register and a Session, from Python."""

    def __init__(self, region, pb, tmp):
        self.region, self.pb = region, pb
        subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", "k.pem", "-out", "csr.pem", "-subj", "/CN=ignored"],
                       check=True, cwd=tmp, capture_output=True)
        self.ca = read(os.path.join(region.state_dir, "tls", "ca.crt"))
        with self._channel() as ch:
            enrol = ch.unary_unary("/ironrack.v1.Region/Enrol", request_serializer=pb.EnrolRequest.SerializeToString,
                                   response_deserializer=pb.EnrolResponse.FromString)
            resp = enrol(pb.EnrolRequest(secret=region.secret, csr_pem=read(os.path.join(tmp, "csr.pem")).decode(),
                                         hostname="pyrack", version="t"), timeout=10)
        self.rack_id = resp.rack_id
        self.key, self.cert = read(os.path.join(tmp, "k.pem")), resp.cert_pem.encode()
        self.ch = None
        self.out = None
        self.inbox = queue.Queue()
        self.replies = {}
        self.pending = set()
        self.next_id = 1000

    def _channel(self, key=None, cert=None):
        creds = grpc.ssl_channel_credentials(root_certificates=self.ca, private_key=key, certificate_chain=cert)
        return grpc.secure_channel(self.region.grpc_target, creds,
                                   options=[("grpc.ssl_target_name_override", "ironrack-region")])

    def register(self, interfaces):
        with self._channel(self.key, self.cert) as ch:
            call = ch.unary_unary("/ironrack.v1.Region/Register",
                                  request_serializer=self.pb.RegisterRequest.SerializeToString,
                                  response_deserializer=self.pb.RegisterResponse.FromString)
            return call(self.pb.RegisterRequest(hostname="pyrack", version="t", interfaces=interfaces), timeout=10)

    def connect(self, config_version=0):
        pb = self.pb
        self.ch = self._channel(self.key, self.cert)
        self.out = queue.Queue()
        self.out.put(pb.RackMessage(hello=pb.Hello(config_version=config_version, version="t")))

        def requests(q=self.out):
            while True:
                m = q.get()
                if m is None:
                    return
                yield m

        session = self.ch.stream_stream("/ironrack.v1.Region/Session",
                                        request_serializer=pb.RackMessage.SerializeToString,
                                        response_deserializer=pb.RegionMessage.FromString)
        self.call = session(requests())

        def reader(call=self.call):
            try:
                for m in call:
                    # Acknowledged at once, as a rack does once it is on disk.
                    if m.WhichOneof("body") == "config" and self.out:
                        self.out.put(pb.RackMessage(request_id=m.request_id,
                                                    config_ack=pb.ConfigAck(version=m.config.version)))
                    self.inbox.put(m)
            except grpc.RpcError:
                pass

        threading.Thread(target=reader, daemon=True).start()

        # The region closes a Session that stays quiet past rack_timeout.
        def heartbeat(q=self.out):
            while self.out is q:
                q.put(pb.RackMessage(heartbeat=pb.Heartbeat(sent_unix_ms=int(time.time() * 1000))))
                time.sleep(0.5)

        threading.Thread(target=heartbeat, daemon=True).start()

    def close(self):
        if self.out:
            self.out.put(None)
        if self.ch:
            self.ch.close()
        self.ch = self.out = None

    def next_message(self, pred, timeout=15):
        """The next region message pred accepts; region answers to reports
        seen on the way are kept for report()."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no matching message from the region")
            try:
                m = self.inbox.get(timeout=left)
            except queue.Empty:
                continue
            if m.WhichOneof("body") is None and m.request_id in self.pending:
                self.replies[m.request_id] = m.status
            if pred(m):
                return m

    def config(self, pred=lambda c: True, timeout=15):
        return self.next_message(lambda m: m.WhichOneof("body") == "config" and pred(m.config), timeout).config

    def report(self, **body):
        """Send a report; the region's Status for it."""
        self.next_id += 1
        rid = self.next_id
        self.pending.add(rid)
        self.out.put(self.pb.RackMessage(request_id=rid, **body))
        if rid not in self.replies:
            self.next_message(lambda m: m.WhichOneof("body") is None and m.request_id == rid)
        return self.replies.pop(rid)

    def leases(self, *events, **kw):
        st = self.report(lease_report=self.pb.LeaseReport(events=list(events), **kw))
        assert st.code == 0, st
        return st


def granted(pb, ip, mac, subnet_id, hostname=""):
    return pb.LeaseEvent(kind=pb.LeaseEvent.GRANTED, address=ip, mac=mac, hostname=hostname, subnet_id=subnet_id,
                         expiry_unix=int(time.time()) + 600)


def leases_of(region):
    """The DHCP lease rows, {ip: mac}, as the API lists them (psql if the
    listing does not know the kind yet)."""
    st, out = region.api("GET", "/api/v1/ip-addresses?owner_kind=dhcp_lease&limit=1000")
    if st == 200:
        rows = out["ip_addresses"]
        assert all(r["owner_kind"] == "dhcp_lease" for r in rows), rows
        return {r["ip"]: r["lease_mac"] for r in rows}
    text = psql(region, "SELECT host(ip) || '=' || lease_mac FROM ip_address WHERE owner_kind = 'dhcp_lease'")
    return dict(line.split("=") for line in text.splitlines() if line)


@pytest.fixture
def lab(region, pb, tmp_path):
    """A rack with an address on VLAN 55, the VLAN's subnet with a dynamic
    range and a machine with a static address, DHCP on with the rack as
    primary; one more VLAN with DHCP on where the rack has no address."""
    rack = FakeRack(region, pb, str(tmp_path))
    rack.register([pb.Interface(name="eth1", mac=RACK_MAC, addresses=["10.55.0.2/24"], vlan=55),
                   pb.Interface(name="eth0", mac="02:00:00:00:00:fe", addresses=["192.0.2.9/24"])])
    v = ok(region, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 55, "mtu": 9000})
    s = subnet(region, CIDR, vlan=v["id"], gateway="10.55.0.1", dns_servers=["10.55.0.53", "2001:db8::53"])
    ok(region, "POST", "/api/v1/ip-ranges", {"subnet": CIDR, "type": "dynamic",
                                             "start_ip": "10.55.0.100", "end_ip": "10.55.0.199"})
    m = ok(region, "POST", "/api/v1/machines", {"hostname": "node-1"})
    i = ok(region, "POST", f"/api/v1/machines/{m['id']}/interfaces", {"name": "eth0", "mac": NODE_MAC})
    ok(region, "POST", f"/api/v1/interfaces/{i['id']}/links", {"subnet": CIDR, "ip": "10.55.0.10"}, status=201)
    ok(region, "PATCH", f"/api/v1/vlans/{v['id']}", {"dhcp_on": True, "primary_rack": rack.rack_id})
    # DHCP on a VLAN the rack has no address on: skipped, with a warning.
    lone = ok(region, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 66})
    subnet(region, "10.66.0.0/24", vlan=lone["id"])
    ok(region, "POST", "/api/v1/ip-ranges", {"subnet": "10.66.0.0/24", "type": "dynamic",
                                             "start_ip": "10.66.0.100", "end_ip": "10.66.0.199"})
    ok(region, "PATCH", f"/api/v1/vlans/{lone['id']}", {"dhcp_on": True, "primary_rack": rack.rack_id})
    # The model is complete before the rack's Session opens: a Session
    # opening rebuilds every rack's DHCP config.
    rack.connect()
    rack.vlan, rack.subnet = v, s
    yield rack
    rack.close()


def test_pushed_dhcp_config(region, lab, pb):
    cfg = lab.config(lambda c: c.dhcp.enabled).dhcp
    assert [(i.name, i.vid, i.vlan_id) for i in cfg.interfaces] == [("eth1", 55, lab.vlan["id"])]
    (sn,) = cfg.interfaces[0].subnets
    assert (sn.id, sn.cidr, sn.server_address, sn.router, list(sn.dns), sn.mtu) == \
        (lab.subnet["id"], CIDR, "10.55.0.2", "10.55.0.1", ["10.55.0.53"], 9000)
    assert [(r.first, r.last) for r in sn.ranges] == [("10.55.0.100", "10.55.0.199")]
    assert [(h.mac, h.address, h.hostname) for h in sn.hosts] == [(NODE_MAC, "10.55.0.10", "node-1")]
    assert not cfg.interfaces[0].relayed
    assert cfg.lease_time == 600 and cfg.probe and cfg.external_probe_interval_s == 600
    assert cfg.pxe.enabled and cfg.pxe.lease_time == 30
    files = {f.arch: (f.file, f.http) for f in cfg.pxe.files}
    assert files == {0: ("lpxelinux.0", False), 7: ("bootx64.efi", False), 9: ("bootx64.efi", False),
                     11: ("bootaa64.efi", False), 16: ("bootx64.efi", True), 19: ("bootaa64.efi", True)}
    log = region.daemon
    log.wait_log(f"rack {lab.rack_id}: DHCP config version")
    assert "1 VLAN, 1 subnet, 1 reservation" in log.text()
    # The VLAN-66 warning comes from the rebuild after its own PATCH, which
    # may run after the one that logged VLAN 55's config.
    log.wait_log("VLAN 66 of fabric-0 (id ")
    assert "is not served" in log.text()
    # The region stored what it sent, and a settings push through the API
    # carries the DHCP config over unchanged.
    st, out = region.api("POST", f"/api/v1/racks/{lab.rack_id}/config", {"settings": {"note": "x"}})
    assert st in (200, 202), out
    pushed = lab.config(lambda c: c.settings.get("note") == "x")
    assert pushed.dhcp == cfg


def test_leases_and_reconciliation(region, lab, pb):
    lab.config(lambda c: c.dhcp.enabled)
    sid = lab.subnet["id"]
    ev = granted(pb, "10.55.0.100", GUEST_MAC, sid, "guest")
    lab.leases(ev)
    assert leases_of(region) == {"10.55.0.100": GUEST_MAC}
    # The same report again changes nothing.
    before = psql(region, "SELECT id, updated FROM ip_address WHERE owner_kind = 'dhcp_lease'")
    lab.leases(ev)
    assert leases_of(region) == {"10.55.0.100": GUEST_MAC}
    assert psql(region, "SELECT count(*) FROM ip_address WHERE owner_kind = 'dhcp_lease'") == "1"
    assert psql(region, "SELECT id FROM ip_address WHERE owner_kind = 'dhcp_lease'") == before.split("|")[0]
    # A lease on a reserved address is not recorded, and said so.
    lab.leases(granted(pb, "10.55.0.10", "02:00:00:00:77:09", sid))
    region.daemon.wait_log("to 02:00:00:00:77:09, but the address belongs to machine 'node-1' interface eth0")
    assert psql(region, "SELECT owner_kind || ' ' || mode FROM ip_address WHERE ip = '10.55.0.10'") == \
        "machine_interface static"
    # Unknown subnet: skipped, the rest of the batch lands.
    lab.leases(granted(pb, "10.55.0.101", "02:00:00:00:77:02", 999999),
               granted(pb, "10.55.0.102", "02:00:00:00:77:03", sid))
    region.daemon.wait_log("subnet 999999 is unknown")
    assert leases_of(region) == {"10.55.0.100": GUEST_MAC, "10.55.0.102": "02:00:00:00:77:03"}
    # RELEASED removes it.
    lab.leases(pb.LeaseEvent(kind=pb.LeaseEvent.RELEASED, address="10.55.0.100", mac=GUEST_MAC, subnet_id=sid))
    assert leases_of(region) == {"10.55.0.102": "02:00:00:00:77:03"}
    # A full report in two parts: what it does not list goes.
    lab.leases(granted(pb, "10.55.0.103", "02:00:00:00:77:04", sid))
    conflict = pb.LeaseEvent(kind=pb.LeaseEvent.CONFLICT, address="10.55.0.150", subnet_id=sid, reason="arp",
                             expiry_unix=int(time.time()) + 3600)
    lab.leases(granted(pb, "10.55.0.103", "02:00:00:00:77:04", sid), full=True, full_part=0)
    assert "10.55.0.102" in leases_of(region)  # not before the last part
    lab.leases(conflict, full=True, full_part=1, full_last=True)
    assert leases_of(region) == {"10.55.0.103": "02:00:00:00:77:04"}
    assert psql(region, "SELECT host(ip) || ' ' || reason FROM dhcp_conflict") == "10.55.0.150 arp"
    # An empty full report empties it all.
    lab.leases(full=True, full_part=0, full_last=True)
    assert leases_of(region) == {}
    assert psql(region, "SELECT count(*) FROM dhcp_conflict") == "0"


def test_lease_lands_on_a_machine_dhcp_link(region, lab, pb):
    lab.config(lambda c: c.dhcp.enabled)
    m = ok(region, "POST", "/api/v1/machines", {"hostname": "node-2"})
    i = ok(region, "POST", f"/api/v1/machines/{m['id']}/interfaces", {"name": "eth0", "mac": "02:00:00:00:55:02"})
    link = ok(region, "POST", f"/api/v1/interfaces/{i['id']}/links", {"subnet": CIDR, "mode": "dhcp"}, status=201)
    lab.leases(granted(pb, "10.55.0.120", "02:00:00:00:55:02", lab.subnet["id"]))
    assert psql(region, f"SELECT host(ip) FROM ip_address WHERE id = {link['id']}") == "10.55.0.120"
    assert leases_of(region) == {}
    lab.leases(pb.LeaseEvent(kind=pb.LeaseEvent.EXPIRED, address="10.55.0.120", mac="02:00:00:00:55:02",
                             subnet_id=lab.subnet["id"]))
    assert psql(region, f"SELECT coalesce(host(ip), 'none') FROM ip_address WHERE id = {link['id']}") == "none"


def test_external_dhcp_report(region, lab, pb):
    lab.config(lambda c: c.dhcp.enabled)
    path = f"/api/v1/vlans/{lab.vlan['id']}"
    st = lab.report(external_dhcp=pb.ExternalDhcpReport(interface="eth1", vid=55, vlan_id=lab.vlan["id"],
                                                        servers=["10.55.0.254"]))
    assert st.code == 0, st
    assert ok(region, "GET", path)["external_dhcp"] == "10.55.0.254"
    region.daemon.wait_log(f"VLAN 55 of fabric-0: external DHCP server 10.55.0.254 answers (seen by rack {lab.rack_id}")
    # Seen again: no second warning.
    lab.report(external_dhcp=pb.ExternalDhcpReport(interface="eth1", vid=55, vlan_id=lab.vlan["id"],
                                                   servers=["10.55.0.254"]))
    assert region.daemon.text().count("external DHCP server 10.55.0.254 answers") == 1
    lab.report(external_dhcp=pb.ExternalDhcpReport(interface="eth1", vid=55, vlan_id=lab.vlan["id"]))
    assert ok(region, "GET", path)["external_dhcp"] is None
    st = lab.report(external_dhcp=pb.ExternalDhcpReport(vlan_id=987654, servers=["10.0.0.1"]))
    assert st.code != 0 and "987654" in st.message


def test_restart_stores_no_new_version(region, lab, pb):
    """The same model packs to the same bytes: a region restart (which
    rebuilds every rack) adds no snapshot."""
    lab.config(lambda c: c.dhcp.enabled)
    version = region.racks()[lab.rack_id]["config_version"]
    lab.close()
    region.stop()
    region.start()
    region.daemon.wait_log("region ready")
    time.sleep(1.5)  # past the start-up rebuild's debounce
    assert region.racks()[lab.rack_id]["config_version"] == version
    assert "DHCP config version" not in region.daemon.text()


def test_bad_boot_files_name_file_and_line(tmp_path):
    conf = tmp_path / "regiond.conf"
    conf.write_text(f"state_dir = {tmp_path}/state\n# pxe\ndhcp_boot_files = 0=lpxelinux.0 x=boot.efi\n")
    out = subprocess.run([REGIOND, "--config", str(conf), "enrol-secret"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 2, out
    assert f"{conf}:3: dhcp_boot_files: 'x=boot.efi'" in out.stderr, out.stderr
    out = subprocess.run([REGIOND, "--config", str(conf), "--dhcp-boot-files", "7=../x", "enrol-secret"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "--dhcp-boot-files: dhcp_boot_files: '7=../x'" in out.stderr, out.stderr
