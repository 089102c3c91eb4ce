"""Failed authentication is throttled per source address and its log lines
aggregated: a burst of bad API keys or wrong enrolment secrets makes a few
lines, not one each; another address is not held back; a correct key or
secret still works. One region for the module."""

import http.client
import json
import os
import re

import grpc
import pytest

from conftest import module_region, wait_for
from test_dhcp_region import FakeRack

BAD_KEY = "irk_" + "0" * 40


@pytest.fixture(scope="module")
def region():
    yield from module_region("irthrottle-")


def get(region, key, conn=None, source="127.0.0.1"):
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", region.http_port, timeout=10,
                                              source_address=(source, 0))
    conn.request("GET", "/api/v1/racks", headers={"Authorization": f"Bearer {key}"})
    resp = conn.getresponse()
    body = json.loads(resp.read() or b"{}")
    if own:
        conn.close()
    return resp.status, body, resp.getheader("Retry-After")


def test_bad_api_keys_in_a_burst(region):
    # An operator's key in use (the region caches keys it checked).
    assert get(region, region.admin_key)[0] == 200
    conn = http.client.HTTPConnection("127.0.0.1", region.http_port, timeout=10)
    statuses = [get(region, BAD_KEY, conn)[0] for _ in range(500)]
    conn.close()
    # The first few are checked (401), the rest answered 429 unchecked.
    assert set(statuses) == {401, 429}, statuses
    assert statuses[:10] == [401] * 10 and statuses[-1] == 429
    st, body, retry = get(region, BAD_KEY)
    assert st == 429 and body["error"]["code"] == "too_many_requests" and retry == "1"
    # A correct key from the same address still works: at once when the
    # region knows it, a new one once Retry-After has passed.
    assert get(region, region.admin_key)[0] == 200
    new_key = region.cmd("create-admin", "--name", "ops")
    wait_for(lambda: get(region, new_key)[0] == 200, timeout=10, interval=0.3, what="a new key after Retry-After")
    # Another address is not held back: its bad key is checked, its good key works.
    assert get(region, BAD_KEY, source="127.0.0.2")[0] == 401
    assert get(region, region.admin_key, source="127.0.0.2")[0] == 200
    log = region.daemon
    log.wait_log("REST: ", timeout=15)
    text = log.text()
    (count,) = re.findall(r"REST: (\d+) more failed attempts from 127\.0\.0\.1 in the last \d+ s", text)
    assert int(count) >= 500
    assert text.count("from 127.0.0.1") <= 3, text[-3000:]
    assert text.count("REST rejected an invalid API key from 127.0.0.1") == 1
    assert "REST rejected an invalid API key from 127.0.0.2" in text


def test_wrong_enrolment_secrets_in_a_burst(region, pb, tmp_path):
    ca = open(os.path.join(region.state_dir, "tls", "ca.crt"), "rb").read()
    codes = []
    with grpc.secure_channel(region.grpc_target, grpc.ssl_channel_credentials(root_certificates=ca),
                             options=[("grpc.ssl_target_name_override", "ironrack-region")]) as ch:
        enrol = ch.unary_unary("/ironrack.v1.Region/Enrol", request_serializer=pb.EnrolRequest.SerializeToString,
                               response_deserializer=pb.EnrolResponse.FromString)
        for i in range(200):
            try:
                enrol(pb.EnrolRequest(secret="wrong", hostname=f"guess-{i}"), timeout=10)
            except grpc.RpcError as e:
                codes.append(e.code())
    assert codes[:10] == [grpc.StatusCode.UNAUTHENTICATED] * 10
    assert codes[-1] == grpc.StatusCode.RESOURCE_EXHAUSTED and len(codes) == 200
    # The right secret from the same address still enrols.
    assert FakeRack(region, pb, str(tmp_path)).rack_id.startswith("rack-")
    log = region.daemon
    log.wait_log("Enrol: 199 more failed attempts from 127.0.0.1 in the last", timeout=15)
    assert log.text().count("refused enrolment of") == 1
