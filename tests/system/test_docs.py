"""Every configuration key is documented where an operator looks for it.

The key tables in region/config.c and rack/config.c are the source of
truth. Each key must appear in docs/configuration.md, in the matching
deploy/*.conf.example (commented out, with the table's default), and in the
daemon's --help as --key-name. The example files, with every default line
uncommented, must also be accepted by the daemons themselves.
"""

import os
import re
import subprocess
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("IRONRACK_BUILD", os.path.join(ROOT, "build"))

# KEY("name", CONF_TYPE, field, min, max, "default", "help...")
KEY_ROW = re.compile(
    r'KEY\(\s*"(?P<name>[a-z0-9_]+)"\s*,\s*(?P<type>CONF_[A-Z]+)\s*,\s*\w+\s*,'
    r'\s*(?P<min>[^,]+?)\s*,\s*(?P<max>[^,]+?)\s*,\s*(?P<default>"[^"]*"|NULL)\s*,')

DAEMONS = {
    "region": ("region/config.c", "deploy/regiond.conf.example", "ironrack-regiond"),
    "rack": ("rack/config.c", "deploy/rackd.conf.example", "ironrack-rackd"),
}


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def table_keys(source):
    """[(name, type, default or None)] in table order."""
    text = read(source)
    keys = [(m["name"], m["type"], None if m["default"] == "NULL" else m["default"][1:-1])
            for m in KEY_ROW.finditer(text)]
    # Guard the regex itself: every KEY( row must have been understood.
    assert len(keys) == text.count('KEY("'), f"{source}: a KEY(...) row did not parse"
    assert keys, f"{source}: no KEY(...) rows found"
    return keys


def example_lines(example):
    """{key: value} of the '#key = value' default lines in an example file."""
    found = {}
    for line in read(example).splitlines():
        m = re.match(r"^#([a-z0-9_]+) =(?: (.*))?$", line)
        if m:
            found[m[1]] = m[2] or ""
    return found


@pytest.fixture(scope="module", params=sorted(DAEMONS))
def daemon(request):
    source, example, binary = DAEMONS[request.param]
    return request.param, table_keys(source), example, os.path.join(BUILD, binary)


def test_every_key_in_configuration_md(daemon):
    _, keys, _, _ = daemon
    doc = read("docs/configuration.md")
    missing = [name for name, _, _ in keys if f"`{name}`" not in doc]
    assert not missing, f"docs/configuration.md does not document {missing}"


def test_every_key_in_example_with_its_default(daemon):
    _, keys, example, _ = daemon
    lines = example_lines(example)
    missing = [name for name, _, _ in keys if name not in lines]
    assert not missing, f"{example} has no '#key = default' line for {missing}"
    wrong = {name: (lines[name], default) for name, _, default in keys
             if default is not None and lines[name] != default}
    assert not wrong, f"{example}: shown default differs from the table (shown, table): {wrong}"
    unknown = sorted(set(lines) - {name for name, _, _ in keys})
    assert not unknown, f"{example} shows keys the daemon does not know: {unknown}"


def help_text(binary):
    assert os.access(binary, os.X_OK), f"{binary} is not built (IRONRACK_BUILD={BUILD})"
    out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, f"{binary} --help exited {out.returncode}: {out.stderr}"
    return out.stdout


def test_every_key_in_help(daemon):
    _, keys, _, binary = daemon
    text = help_text(binary)
    missing = [name for name, _, _ in keys
               if not re.search(r"(^|\s)--" + re.escape(name.replace("_", "-")) + r"\s", text, re.M)]
    assert not missing, f"{os.path.basename(binary)} --help does not list {missing}"


def uncommented_example(example, workdir):
    """The example with every '#key = value' line made real, paths moved
    into workdir so the daemon can run a harmless command with it."""
    out = []
    for line in read(example).splitlines():
        m = re.match(r"^#([a-z0-9_]+ =.*)$", line)
        if m:
            line = m[1]
            if line.startswith("state_dir ="):
                line = f"state_dir = {workdir}/state"
        out.append(line)
    path = os.path.join(workdir, os.path.basename(example).replace(".example", ""))
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    return path


def test_examples_parse(daemon):
    which, _, example, binary = daemon
    with tempfile.TemporaryDirectory(prefix="irdocs-") as workdir:
        os.chmod(workdir, 0o755)  # the daemons run as their own user
        conf = uncommented_example(example, workdir)
        if which == "region":
            # enrol-secret reads the whole configuration, then only
            # touches state_dir.
            argv = [binary, "--config", conf, "enrol-secret"]
        else:
            # With every default the rack has no region to dial: it must
            # get past the configuration and stop there.
            argv = [binary, "--config", conf]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        text = out.stdout + out.stderr
        assert conf not in text, f"{example} with its defaults uncommented is refused:\n{text}"
        if which == "region":
            assert out.returncode == 0, text
            assert re.fullmatch(r"[0-9a-f]{40}\n", out.stdout), text
        else:
            assert out.returncode == 1 and "no region address" in text, text


def test_bad_key_names_file_and_line(daemon):
    """The error format docs/configuration.md promises: FILE:LINE: message."""
    which, _, _, binary = daemon
    with tempfile.TemporaryDirectory(prefix="irdocs-") as workdir:
        conf = os.path.join(workdir, "bad.conf")
        with open(conf, "w") as f:
            f.write(f"# comment\nstate_dir = {workdir}/state\nno_such_key = 1\n")
        argv = [binary, "--config", conf] + (["enrol-secret"] if which == "region" else [])
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        assert out.returncode == 2, out
        assert f"{conf}:3: unknown key 'no_such_key'" in out.stderr, out.stderr
