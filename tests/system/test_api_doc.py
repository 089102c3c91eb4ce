"""docs/api.yaml stays in step with the code: every route of the REST API's
route table (the rows `{API_PREFIX "/path", API_GET | ..., handler, public}`
in region/api/*.c) is documented with each of its methods, and the document
promises no path or method the table does not have."""

import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "api.yaml")
METHODS = ("get", "head", "post", "put", "delete", "patch", "options")

ROUTE_ROW = re.compile(r'\{\s*API_PREFIX\s*"(?P<path>[^"]*)"\s*,\s*(?P<methods>API_[A-Z]+(?:\s*\|\s*API_[A-Z]+)*)\s*,'
                       r'\s*(?P<handler>\w+)\s*,\s*(?P<public>true|false)\s*\}')


def code_routes():
    """{(path, method)} from the route tables in region/api/*.c."""
    found = set()
    for src in sorted(glob.glob(os.path.join(ROOT, "region", "api", "*.c"))):
        text = open(src, encoding="utf-8").read()
        prefix = re.search(r'#define\s+API_PREFIX\s+"([^"]+)"', text)
        rows = list(ROUTE_ROW.finditer(text))
        # Every row that names API_PREFIX must have been understood.
        assert len(rows) == len(re.findall(r'\{\s*API_PREFIX\s*"', text)), f"{src}: a route row did not parse"
        for m in rows:
            assert prefix, f"{src}: route rows but no API_PREFIX"
            for meth in re.findall(r"API_([A-Z]+)", m["methods"]):
                found.add((prefix[1] + m["path"], meth.lower()))
    assert found, "no routes found in region/api/*.c"
    return found


def doc_paths():
    """{path: {methods}} from docs/api.yaml (parsed as YAML when PyYAML is
    installed, else read by indentation)."""
    text = open(DOC, encoding="utf-8").read()
    try:
        import yaml
    except ImportError:
        yaml = None
    if yaml:
        doc = yaml.safe_load(text)
        assert doc["openapi"].startswith("3."), "docs/api.yaml is not OpenAPI 3"
        return {p: {m for m in item if m in METHODS} for p, item in doc["paths"].items()}
    paths, current = {}, None
    for line in text.splitlines():
        m = re.match(r"^  ['\"]?(/[^'\":]*)['\"]?:\s*$", line)
        if m:
            current = paths.setdefault(m[1], set())
            continue
        m = re.match(r"^    (\w+):", line)
        if m and current is not None and m[1] in METHODS:
            current.add(m[1])
        if re.match(r"^\S", line):
            current = None
    return paths


def test_every_route_is_documented():
    doc = doc_paths()
    missing = sorted(f"{m.upper()} {p}" for p, m in code_routes() if m not in doc.get(p, set()))
    assert not missing, "routes missing from docs/api.yaml:\n  " + "\n  ".join(missing)


def test_nothing_documented_that_does_not_exist():
    routes = code_routes()
    extra = sorted(f"{m.upper()} {p}" for p, ms in doc_paths().items() for m in ms
                   if (p, m) not in routes and not (m == "head" and (p, "get") in routes))
    assert not extra, "docs/api.yaml documents what the route table lacks:\n  " + "\n  ".join(extra)


def test_route_parser_sees_the_known_routes():
    """Guard the regex itself with routes that must exist."""
    routes = code_routes()
    for want in [("/api/v1/version", "get"), ("/api/v1/racks/{id}/config", "post"),
                 ("/api/v1/subnets/{id}/allocate-ip", "post"), ("/api/v1/zones/{id}", "delete")]:
        assert want in routes


def test_document_is_valid_openapi():
    validator = pytest.importorskip("openapi_spec_validator",
                                    reason="openapi-spec-validator is not installed (pip install openapi-spec-validator)")
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (apt install python3-yaml)")
    validator.validate(yaml.safe_load(open(DOC, encoding="utf-8")))
