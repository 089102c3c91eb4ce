"""Helpers for the network-model system tests (test_network*.py)."""

import os
import subprocess


def ok(region, method, path, body=None, status=(200, 201)):
    """A request that must succeed; returns the parsed answer."""
    st, out = region.api(method, path, body)
    assert st in (status if isinstance(status, tuple) else (status,)), f"{method} {path} {body}: {st} {out}"
    return out


def refused(region, method, path, body=None, status=400, field=None, code=None, text=None):
    """A request that must fail with status; checks the error's field, code
    and that its message contains every piece of text."""
    st, out = region.api(method, path, body)
    assert st == status, f"{method} {path} {body}: expected {status}, got {st} {out}"
    err = out["error"]
    assert err["message"], out
    if field is not None:
        assert err.get("field") == field, out
    if code is not None:
        assert err["code"] == code, out
    for piece in [text] if isinstance(text, str) else (text or []):
        assert piece in err["message"], f"{piece!r} not in {err['message']!r}"
    return err


def items(region, collection, query=""):
    out = ok(region, "GET", f"/api/v1/{collection}{query}")
    return out[collection.replace("-", "_")]


def subnet(region, cidr, **fields):
    return ok(region, "POST", "/api/v1/subnets", dict(cidr=cidr, **fields))


def key(cidr):
    """A subnet's CIDR as a path segment."""
    return cidr.replace("/", "-")


def allocate(region, cidr, **body):
    return ok(region, "POST", f"/api/v1/subnets/{key(cidr)}/allocate-ip", body, status=201)


def psql(region, sql, db="ironrack"):
    sock = os.path.join(region.state_dir, "pg-run")
    user = "ironrack" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
    out = subprocess.run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", sock, "-U", user, "-d", db,
                          "-c", sql], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def snapshot(region):
    """Everything the network model holds, to show a refused request changed
    nothing."""
    cols = ["zones", "fabrics", "spaces", "vlans", "subnets", "ip-ranges", "static-routes", "ip-addresses",
            "machines", "interfaces", "devices", "neighbours"]
    state = {}
    for c in cols:
        rows = items(region, c, "?limit=1000")
        state[c] = [{k: v for k, v in r.items() if k not in ("updated",)} for r in rows]
    return state
