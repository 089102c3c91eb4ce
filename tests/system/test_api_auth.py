"""The REST API refuses requests without a valid API key."""

import http.client
import urllib.request


def test_missing_token_is_401(region):
    st, body = region.api("GET", "/api/v1/racks", key=None)
    assert st == 401
    assert body["error"]["code"] == "unauthenticated"
    assert "missing" in body["error"]["message"]


def test_wrong_token_is_401(region):
    st, body = region.api("GET", "/api/v1/racks", key="irk_" + "0" * 40)
    assert st == 401
    assert body["error"]["code"] == "unauthenticated"


def test_malformed_authorization_header_is_401(region):
    req = urllib.request.Request(region.url + "/api/v1/racks", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("accepted a Basic header")
    except urllib.error.HTTPError as e:
        assert e.code == 401


def test_valid_token_and_created_admin(region):
    st, body = region.api("GET", "/api/v1/racks")
    assert st == 200 and body["racks"] == []
    # create-admin against the running region's embedded database
    key = region.cmd("create-admin", "--name", "ops")
    assert key.startswith("irk_")
    st, _ = region.api("GET", "/api/v1/racks", key=key)
    assert st == 200
    # the region's own database kept running
    st, _ = region.api("GET", "/api/v1/racks")
    assert st == 200


def test_unknown_path_and_method(region):
    st, body = region.api("GET", "/api/v1/nope")
    assert st == 404 and body["error"]["code"] == "not_found"
    st, body = region.api("DELETE", "/api/v1/version")
    assert st == 405


def test_bad_config_bodies(region, make_rack):
    st, body = region.api("POST", "/api/v1/racks/rack-x/config", {"settings": {}})
    assert st == 404 and "rack-x" in body["error"]["message"]
    rack = make_rack("rack-a")
    path = f"/api/v1/racks/{rack.rack_id}/config"
    st, body = region.api("POST", path, b"{not json")
    assert st == 400 and body["error"]["code"] == "invalid_json"
    st, body = region.api("POST", path, {"settings": {"mtu": 9000}})
    assert st == 400 and body["error"].get("field") == "settings.mtu"
    # An oversized body is refused from its Content-Length, before it is read.
    conn = http.client.HTTPConnection("127.0.0.1", region.http_port, timeout=10)
    conn.putrequest("POST", path)
    conn.putheader("Authorization", f"Bearer {region.admin_key}")
    conn.putheader("Content-Length", str(2 << 20))
    conn.endheaders()
    assert conn.getresponse().status == 413
    conn.close()
    # nothing was stored by the refused requests
    assert region.racks()[rack.rack_id]["config_version"] == 0
