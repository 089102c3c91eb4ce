"""What one enrolled rack may tell the region about DHCP: only what the
config the region pushed it serves. A second rack that serves nothing
reports a lease on the first rack's subnet, releases a lease the first
rack granted, sends conflicts for addresses outside the subnet it names
and sets a VLAN's external DHCP server: all refused, the database
unchanged, the log naming the rack. Likewise power: outcomes of actions
asked of another rack and polled states of machines another rack polls
are refused. Also: every field of what racks send
is checked at the boundary (INVALID_ARGUMENT naming it), a rack's
quarantined addresses are bounded, and a peer string cannot forge a log
line. Both racks are python3-grpcio speaking the real contract (the
FakeRack of test_dhcp_region.py); one region for the module."""

import os
import shutil
import time

import grpc
import pytest

from conftest import make_dir, module_region
from nethelp import ok, psql, subnet
from test_dhcp_region import FakeRack, granted, leases_of

CIDR = "10.57.0.0/21"  # more addresses than the per-subnet quarantine cap
A_MAC = "02:00:00:00:57:fe"
GUEST = "02:00:00:00:57:01"
PERMISSION_DENIED, INVALID_ARGUMENT = 7, 3


@pytest.fixture(scope="module")
def region():
    yield from module_region("irauthz-")


@pytest.fixture(scope="module")
def racks(region, pb):
    """Rack A, primary for VLAN 57 (subnet CIDR, a dynamic range); rack B,
    enrolled and registered on another network, serving nothing."""
    d = make_dir("irauthz-racks-")
    os.makedirs(os.path.join(d, "a"))
    os.makedirs(os.path.join(d, "b"))
    a = FakeRack(region, pb, os.path.join(d, "a"))
    a.register([pb.Interface(name="eth1", mac=A_MAC, addresses=["10.57.0.2/21"], vlan=57)])
    b = FakeRack(region, pb, os.path.join(d, "b"))
    b.register([pb.Interface(name="eth1", mac="02:00:00:00:58:fe", addresses=["192.0.2.58/24"])])
    v = ok(region, "POST", "/api/v1/vlans", {"fabric": "fabric-0", "vid": 57})
    s = subnet(region, CIDR, vlan=v["id"])
    ok(region, "POST", "/api/v1/ip-ranges", {"subnet": CIDR, "type": "dynamic",
                                             "start_ip": "10.57.0.100", "end_ip": "10.57.7.200"})
    ok(region, "PATCH", f"/api/v1/vlans/{v['id']}", {"dhcp_on": True, "primary_rack": a.rack_id})
    a.connect()
    b.connect()
    a.config(lambda c: c.dhcp.enabled)
    a.vlan, a.subnet = v, s
    yield a, b
    a.close()
    b.close()
    shutil.rmtree(d, ignore_errors=True)


def listings(region, vlan_id):
    """Everything a rack's DHCP reports can change."""
    return (leases_of(region),
            psql(region, "SELECT rack_id || ' ' || host(ip) || ' ' || reason FROM dhcp_conflict ORDER BY 1"),
            ok(region, "GET", f"/api/v1/vlans/{vlan_id}")["external_dhcp"])


def conflict(pb, ip, subnet_id, expiry=3600):
    return pb.LeaseEvent(kind=pb.LeaseEvent.CONFLICT, address=ip, subnet_id=subnet_id, reason="decline",
                         expiry_unix=int(time.time()) + expiry)


def test_second_rack_cannot_touch_first_racks_dhcp(region, racks, pb):
    a, b = racks
    sid, vid = a.subnet["id"], a.vlan["id"]
    a.leases(granted(pb, "10.57.0.100", GUEST, sid, "guest"))
    before = listings(region, vid)
    assert before[0] == {"10.57.0.100": GUEST}

    # A lease on A's subnet.
    st = b.report(lease_report=pb.LeaseReport(events=[granted(pb, "10.57.0.101", "02:00:00:00:58:01", sid)]))
    assert st.code == PERMISSION_DENIED and f"subnet {sid} is unknown or not served by this rack" in st.message, st
    # Releasing the lease A granted.
    st = b.report(lease_report=pb.LeaseReport(events=[pb.LeaseEvent(
        kind=pb.LeaseEvent.RELEASED, address="10.57.0.100", mac=GUEST, subnet_id=sid)]))
    assert st.code == PERMISSION_DENIED, st
    # Conflicts for addresses outside the subnet it names.
    st = b.report(lease_report=pb.LeaseReport(events=[conflict(pb, f"10.99.{i // 250}.{i % 250 + 1}", sid)
                                                      for i in range(500)]))
    assert st.code == PERMISSION_DENIED and st.message.startswith("500 lease events refused"), st
    # A's VLAN's external DHCP server.
    st = b.report(external_dhcp=pb.ExternalDhcpReport(interface="eth1", vid=57, vlan_id=vid,
                                                      servers=["10.57.0.254"]))
    assert st.code == PERMISSION_DENIED and f"VLAN {vid} is not served by this rack" in st.message, st
    # A full report cannot drop A's leases either: B's own set is empty.
    st = b.report(lease_report=pb.LeaseReport(events=[granted(pb, "10.57.0.100", GUEST, sid)], full=True,
                                              full_part=0, full_last=True))
    assert st.code == 0, st

    assert listings(region, vid) == before
    log = region.daemon
    log.wait_log(f"rack {b.rack_id}: refused 1 of 1 lease events (the first: GRANTED for 10.57.0.101: "
                 f"subnet {sid} is unknown or not served by this rack)")
    log.wait_log(f"rack {b.rack_id}: refused 1 of 1 lease events (the first: RELEASED for 10.57.0.100")
    log.wait_log(f"rack {b.rack_id}: refused 500 of 500 lease events (the first: CONFLICT for 10.99.0.1")
    log.wait_log(f"rack {b.rack_id}: refused an external DHCP report: VLAN {vid} is not served by this rack")
    # Aggregated: one line per refused message, not per event.
    assert log.text().count(f"rack {b.rack_id}: refused") == 5

    # A itself may not name addresses outside its subnet; inside, it may.
    st = a.report(lease_report=pb.LeaseReport(events=[conflict(pb, "10.99.0.7", sid), conflict(pb, "10.57.1.7", sid)]))
    assert st.code == 0, st
    log.wait_log(f"rack {a.rack_id}: refused 1 of 2 lease events (the first: CONFLICT for 10.99.0.7: "
                 f"10.99.0.7 is outside subnet {sid} (10.57.0.0/21))")
    assert psql(region, "SELECT host(ip) FROM dhcp_conflict") == "10.57.1.7"


def test_quarantined_addresses_are_bounded(region, racks, pb):
    a, _ = racks
    sid = a.subnet["id"]
    # 1100 quarantined addresses in one subnet: the 1024 that end last stay.
    events = [conflict(pb, f"10.57.{2 + i // 250}.{i % 250 + 1}", sid, expiry=3600 + i) for i in range(1100)]
    a.leases(*events)
    assert psql(region, f"SELECT count(*) FROM dhcp_conflict WHERE rack_id = '{a.rack_id}'") == "1024"
    assert psql(region, "SELECT count(*) FROM dhcp_conflict WHERE ip = '10.57.2.1'") == "0"
    assert psql(region, "SELECT count(*) FROM dhcp_conflict WHERE ip = '10.57.6.100'") == "1"
    a.leases(full=True, full_part=0, full_last=True)


def test_fields_are_checked_at_the_boundary(region, racks, pb):
    a, b = racks
    # A malformed address in Register: INVALID_ARGUMENT naming it.
    with pytest.raises(grpc.RpcError) as e:
        b.register([pb.Interface(name="eth1", addresses=["192.0.2.300/24"])])
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "interfaces[0].addresses[0]: not an address/prefix" in e.value.details()
    for bad, field in (([pb.Interface(name="a-name-too-long-for-linux")], "interfaces[0].name"),
                       ([pb.Interface(name="eth1", vlan=4095)], "interfaces[0].vlan")):
        with pytest.raises(grpc.RpcError) as e:
            b.register(bad)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and field in e.value.details()
    # A hostname longer than 255 bytes is not stored.
    with b._channel(b.key, b.cert) as ch:
        call = ch.unary_unary("/ironrack.v1.Region/Register", request_serializer=pb.RegisterRequest.SerializeToString,
                              response_deserializer=pb.RegisterResponse.FromString)
        with pytest.raises(grpc.RpcError) as e:
            call(pb.RegisterRequest(hostname="h" * 100000, version="t"), timeout=10)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "hostname: longer than 255" in e.value.details()
    assert len(ok(region, "GET", f"/api/v1/racks/{b.rack_id}")["hostname"]) <= 255
    # On the session: a report with a bad field is refused whole.
    st = a.report(lease_report=pb.LeaseReport(events=[granted(pb, "10.57.0.120", GUEST, a.subnet["id"],
                                                              "evil\n2099-01-01 forged")]))
    assert st.code == INVALID_ARGUMENT and "lease_report.events[0].hostname" in st.message, st
    assert "10.57.0.120" not in leases_of(region)


def test_peer_strings_cannot_forge_log_lines(region, pb, tmp_path):
    forged = "2099-01-01T00:00:00.000Z ironrack-regiond[1] info: enrolled rack rack-forged"
    with grpc.secure_channel(region.grpc_target, grpc.ssl_channel_credentials(
            root_certificates=open(os.path.join(region.state_dir, "tls", "ca.crt"), "rb").read()),
            options=[("grpc.ssl_target_name_override", "ironrack-region")]) as ch:
        enrol = ch.unary_unary("/ironrack.v1.Region/Enrol", request_serializer=pb.EnrolRequest.SerializeToString,
                               response_deserializer=pb.EnrolResponse.FromString)
        with pytest.raises(grpc.RpcError) as e:
            enrol(pb.EnrolRequest(secret="wrong", hostname="x\n" + forged + "\x1b[2K"), timeout=10)
    assert e.value.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.RESOURCE_EXHAUSTED)
    region.daemon.wait_log('refused enrolment of "x\\n2099-01-01')
    lines = region.daemon.text().splitlines()
    assert not [line for line in lines if line.startswith("2099-")]
    assert not [line for line in lines if "\x1b" in line]
    assert [line for line in lines if "rack-forged\\x1b[2K\"" in line]


def power_row(region, mid):
    return psql(region, f"SELECT power_state || ' ' || power_error FROM machine WHERE id = {mid}")


def test_second_rack_cannot_report_power_of_the_first_racks_machines(region, racks, pb):
    """Power outcomes and polled states count only from the rack the action
    was asked of, or the rack that polls the machine."""
    a, b = racks
    m = ok(region, "POST", "/api/v1/machines", {"hostname": "authz-power"})
    mid = m["id"]
    psql(region, f"UPDATE machine SET power_rack_id = '{a.rack_id}', power_state = 'off' WHERE id = {mid}")
    act = int(psql(region, f"INSERT INTO power_action (machine_id, action, boot, rack_id) "
                           f"VALUES ({mid}, 'on', '', '{a.rack_id}') RETURNING id").split()[0])
    before = power_row(region, mid)
    # B says the machine is on (a poll) and that A's action failed
    st = b.report(power_report=pb.PowerReport(results=[
        pb.PowerResult(machine_id=mid, action="query", ok=True, state="on"),
        pb.PowerResult(machine_id=mid, action_id=act, action="on", ok=False, error="forged")]))
    assert st.code == 0, st
    assert power_row(region, mid) == before
    assert psql(region, f"SELECT status FROM power_action WHERE id = {act}") == "pending"
    region.daemon.wait_log(f"rack {b.rack_id}: power report: 2 results refused")
    # the rack that polls it and was asked: both count
    st = a.report(power_report=pb.PowerReport(results=[
        pb.PowerResult(machine_id=mid, action_id=act, action="on", ok=True, state="on")]))
    assert st.code == 0, st
    assert psql(region, f"SELECT status FROM power_action WHERE id = {act}") == "done"
    assert power_row(region, mid) == "on"
