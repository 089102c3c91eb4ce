"""What the region's REST API does with input that is not UTF-8, and with
database errors (issue 15): invalid UTF-8 in a path parameter, a query
name or value, or a JSON body is a 400 that names the parameter, never the
503 "database unavailable" or 500 "out of memory" it used to be; and what
PostgreSQL says about a failed statement (table and constraint names, the
offending input) never reaches an answer. One region for the module."""

import json
import os
import shutil
import socket

import pytest

from conftest import Region, make_dir
from nethelp import psql


@pytest.fixture(scope="module")
def region():
    d = make_dir("irhttpin-")
    r = Region(os.path.join(d, "region"))
    os.makedirs(r.state_dir, mode=0o700)
    r.start()
    try:
        yield r
    finally:
        r.stop()
        shutil.rmtree(d, ignore_errors=True)


def request(region, target, method="GET", body=None, key=True):
    """Raw bytes on the wire (an HTTP library would escape them): returns
    (status, parsed JSON body)."""
    head = b"%s %s HTTP/1.1\r\nHost: region\r\nConnection: close\r\n" % (method.encode(), target)
    if key:
        head += b"Authorization: Bearer " + region.admin_key.encode() + b"\r\n"
    if body is not None:
        head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
    with socket.create_connection(("127.0.0.1", region.http_port), timeout=30) as s:
        s.sendall(head + b"\r\n" + (body or b""))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    _, _, payload = rest.partition(b"\r\n\r\n")
    # The answer is JSON, and UTF-8, whatever the request held.
    return int(status_line.split()[1]), json.loads(payload.decode("utf-8"))


def bad_request(region, target, field, **kw):
    status, body = request(region, target, **kw)
    assert status == 400, (target, status, body)
    assert body["error"]["code"] == "invalid_argument", body
    assert body["error"]["field"] == field, body
    assert "not valid UTF-8" in body["error"]["message"], body
    return body


def test_path_parameters(region):
    bad_request(region, b"/api/v1/machines/%ff%fe", "id")
    bad_request(region, b"/api/v1/zones/\xff", "id")                        # raw, not escaped
    bad_request(region, b"/api/v1/zones/caf%c3", "id")                      # cut short
    bad_request(region, b"/api/v1/zones/%c0%af", "id")                      # overlong '/'
    bad_request(region, b"/api/v1/zones/%ed%a0%80", "id")                   # a surrogate
    bad_request(region, b"/api/v1/machines/m/power/actions/%f4%90%80%80", "action")  # above U+10FFFF
    bad_request(region, b"/api/v1/interfaces/1/links/%80", "link", method="DELETE")
    # No route: the path as a whole.
    bad_request(region, b"/api/v1/no-such/\xfe", "path")
    # Valid UTF-8 goes through to the handler, which answers as it does.
    status, body = request(region, "/api/v1/machines/caf\u00e9".encode())
    assert status == 404 and "caf\u00e9" in body["error"]["message"], body


def test_query_names_and_values(region):
    bad_request(region, b"/api/v1/machines?hostname=%ff", "hostname")
    bad_request(region, b"/api/v1/interfaces?mac=%c3%28", "mac")
    bad_request(region, b"/api/v1/machines?limit=1&hostname=a%e2%82", "hostname")
    bad_request(region, b"/api/v1/machines?%ff=1", "query")
    bad_request(region, b"/api/v1/machines?\xff=1", "query")
    status, body = request(region, b"/api/v1/machines?hostname=caf%c3%a9")
    assert status == 200 and body["machines"] == [], body


def test_checked_only_for_a_caller_with_a_key(region):
    status, body = request(region, b"/api/v1/zones/%ff", key=False)
    assert status == 401, body


def test_json_body_strings(region):
    status, body = request(region, b"/api/v1/zones", method="POST", body=b'{"name": "lab\xff"}')
    assert status == 400 and body["error"]["code"] == "invalid_json", body
    status, body = request(region, b"/api/v1/zones", method="POST", body=b'{"name": "lab", "description": "\\u0000"}')
    assert status == 400 and body["error"]["code"] == "invalid_json", body
    st, zones = region.api("GET", "/api/v1/zones")
    assert st == 200 and [z["name"] for z in zones["zones"]] == ["default"], zones


def test_database_text_never_reaches_an_answer(region):
    """A constraint the code does not know and an error raised inside the
    database: the answer says what happened in the region's words."""
    psql(region, "CREATE UNIQUE INDEX hb_zone_description_secret_idx ON zone (description) WHERE description <> ''")
    psql(region, "CREATE FUNCTION hb_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                 "IF NEW.description = 'boom' THEN RAISE EXCEPTION 'internal detail hb_secret_table' "
                 "USING ERRCODE = '22021'; END IF; RETURN NEW; END $$")
    psql(region, "CREATE TRIGGER hb_refuse BEFORE INSERT ON zone FOR EACH ROW EXECUTE FUNCTION hb_refuse()")
    try:
        st, _ = region.api("POST", "/api/v1/zones", {"name": "one", "description": "same"})
        assert st == 201
        st, dup = region.api("POST", "/api/v1/zones", {"name": "two", "description": "same"})
        assert st == 409, dup
        assert dup["error"]["message"] == "an object with that value already exists", dup
        st, raised = region.api("POST", "/api/v1/zones", {"name": "three", "description": "boom"})
        assert st == 400, raised
        assert raised["error"]["message"] == "text is not valid UTF-8", raised
        for answer in (json.dumps(dup), json.dumps(raised)):
            assert "hb_" not in answer and "violates" not in answer and "internal detail" not in answer
    finally:
        psql(region, "DROP TRIGGER hb_refuse ON zone; DROP FUNCTION hb_refuse(); "
                     "DROP INDEX hb_zone_description_secret_idx; DELETE FROM zone WHERE name <> 'default'")
