"""docs/api.yaml stays in step with the code: every route of the REST API's
route table (the rows `{API_PREFIX "/path", API_GET | ..., handler, public[, run]}`
in region/api/*.c) is documented with each of its methods, and the document
promises no path or method the table does not have."""

import glob
import os
import re
import shutil
import subprocess

import yaml  # python3-yaml, installed by deploy/install-deps

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "api.yaml")
# swagger-parser (npm), installed here by deploy/install-deps.
OPENAPI_VALIDATOR = "/usr/local/lib/ironrack/openapi-validator/node_modules"
VALIDATE_JS = """
const SwaggerParser = require("@apidevtools/swagger-parser");
SwaggerParser.validate(process.argv[1]).then(
    api => console.log("valid: " + api.info.title),
    err => { console.error(err.message); process.exit(1); });
"""
METHODS = ("get", "head", "post", "put", "delete", "patch", "options")

ROUTE_ROW = re.compile(r'\{\s*API_PREFIX\s*"(?P<path>[^"]*)"\s*,\s*(?P<methods>API_[A-Z]+(?:\s*\|\s*API_[A-Z]+)*)\s*,'
                       r'\s*(?P<handler>\w+)\s*,\s*(?P<public>true|false)\s*(?:,\s*(?P<run>API_RUN_[A-Z]+)\s*)?\}')


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
    """{path: {methods}} from docs/api.yaml."""
    doc = yaml.safe_load(open(DOC, encoding="utf-8"))
    assert doc["openapi"].startswith("3."), "docs/api.yaml is not OpenAPI 3"
    return {p: {m for m in item if m in METHODS} for p, item in doc["paths"].items()}


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


def validate(path):
    node = shutil.which("node")
    assert node, "node is not installed: run deploy/install-deps"
    assert os.path.isdir(os.path.join(OPENAPI_VALIDATOR, "@apidevtools", "swagger-parser")), \
        f"the OpenAPI validator is not in {OPENAPI_VALIDATOR}: run deploy/install-deps"
    env = dict(os.environ, NODE_PATH=OPENAPI_VALIDATOR)
    return subprocess.run([node, "-e", VALIDATE_JS, path], env=env, capture_output=True, text=True, timeout=60)


def test_document_is_valid_openapi():
    r = validate(DOC)
    assert r.returncode == 0, "docs/api.yaml is not valid OpenAPI:\n" + r.stderr[:4000]


def test_validator_refuses_an_invalid_document(tmp_path):
    """The validator really validates: a document with a member OpenAPI
    does not have fails."""
    doc = yaml.safe_load(open(DOC, encoding="utf-8"))
    doc["paths"]["/api/v1/version"]["get"]["no_such_member"] = 1
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc))
    r = validate(str(bad))
    assert r.returncode != 0, r.stdout
    assert "#/paths/~1api~1v1~1version/get must NOT have additional properties" in r.stderr, r.stderr[:4000]
