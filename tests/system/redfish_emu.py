#!/usr/bin/python3
"""A Redfish BMC emulator for the power system tests and the power benchmark.

Debian packages no Redfish BMC emulator (python3-sushy is only a client), so
this is ours: Python 3 standard library only, HTTPS with a (self-signed)
certificate, several emulated systems per process.

    redfish_emu.py --listen IP:PORT [--listen IP:PORT ...] --cert CERT --key KEY
                   --user U --password P --systems N [--id-prefix P]
                   [--config FILE] [--hook CMD] [--state FILE] [--port-file FILE]
                   [--control-socket PATH] [--latency-ms X] [--session-timeout S]
                   [--max-sessions N] [--make-cert] [--verbose]

PORT may be 0; --port-file then tells where each listener went: one
"host:port" line per --listen, in order (IPv6 hosts in brackets), written
atomically once every socket is bound. --make-cert creates CERT and KEY with
make_cert() first if they do not exist.

The Redfish side
----------------
  /redfish                      {"v1": "/redfish/v1/"}                 no auth
  /redfish/v1                   the service root: Systems, SessionService,
                                Links.Sessions                         no auth
  /redfish/v1/Systems           collection, Members@odata.count
  /redfish/v1/Systems/ID        ComputerSystem: Id, PowerState, Boot
                                {BootSourceOverrideEnabled, ...Target,
                                ...Target@Redfish.AllowableValues, ...Mode},
                                Actions {"#ComputerSystem.Reset": {target,
                                ResetType@Redfish.AllowableValues}}; ETag.
                                PATCH {"Boot": {...}} needs If-Match.
  /redfish/v1/Systems/ID/Actions/ComputerSystem.Reset   POST {"ResetType": T}
  /redfish/v1/Systems/ID/ResetActionInfo   (only with reset_allowable=action_info)
  /redfish/v1/SessionService, .../Sessions  POST {"UserName", "Password"} ->
                                201, X-Auth-Token and Location; GET, DELETE
                                .../Sessions/SID.

Everything but the service root and the login POST needs HTTP basic auth or
an X-Auth-Token of a live session: otherwise 401 with a Redfish error body.
Errors have the shape real BMCs use: {"error": {"code":
"Base.1.8.GeneralError", "message": ..., "@Message.ExtendedInfo": [{MessageId,
Message, MessageArgs, Severity, Resolution}]}} -- what went wrong is in the
ExtendedInfo, as on real BMCs.

Power: On/ForceOn -> On; ForceOff/GracefulShutdown -> Off;
ForceRestart/GracefulRestart/PowerCycle -> Off then On (from Off: On);
PushPowerButton toggles; Nmi changes nothing. A ResetType the system does not
advertise is a 400 (ActionParameterNotSupported). A power-on consumes a
BootSourceOverrideEnabled=Once override (it becomes Disabled); the boot
source that power-on used is recorded (last_boot_target in /emu/state).

ETag: every GET of a system carries one (also as @odata.etag in the body);
it changes whenever the system changes (power, boot override, a finished
transition). A PATCH without If-Match, or with an ETag that is not the
current one, is refused with 412 (PreconditionFailed) when the system's
etag_required is on (the default). W/"x" and "x" compare equal; "*" is not
accepted. A boot target or mode not in its AllowableValues is a 400
(PropertyValueNotInList).

Per-system options (--config FILE, JSON: {"defaults": {...}, "systems":
{"ID": {...}}}; also settable at run time through /emu/systems/ID):
  power             "On" | "Off" at start (default "Off")
  reset_types       advertised ResetTypes (default: all nine)
  boot_targets      advertised BootSourceOverrideTarget values
                    (default None, Pxe, Hdd, Cd, Usb, BiosSetup, UefiHttp)
  boot_modes        advertised BootSourceOverrideMode values (Legacy, UEFI)
  boot_mode         initial BootSourceOverrideMode (default "Legacy")
  etag_required     PATCH needs a current If-Match (default true)
  missing_if_match_status  status for a PATCH without If-Match (default 412;
                    DSP0266 allows 428)
  weak_etag         send W/"..." ETags (default false)
  reset_allowable   "inline" (default) | "action_info" (the allowed values
                    sit in a ResetActionInfo resource, as on some BMCs) |
                    "none" (not advertised at all)
  reset_status      204 (default) or 200 (with a Success message body)
  latency_ms        extra delay of every request naming this system
  transition_ms     PowerState reads PoweringOn/PoweringOff this long after
                    a change (default 0: immediate)
  fail_next, fail_status   answer the next fail_next requests naming this
                    system with fail_status (default 503, Retry-After: 1)
  stale_etag_next   the next N PATCHes find the system changed since the
                    client's GET (as if another client wrote it): its ETag
                    moves on first, so their If-Match is stale (412)

--hook CMD: on every power change of a system, CMD (split like a shell
command line, no shell) is run as `CMD SYSTEM_ID on|off BOOTTARGET`, off the
request's thread (the request does not wait for it). BOOTTARGET is the
Redfish boot source of that power-on (Pxe, Hdd, ... or None when no override
is active); for "off" the override target currently set. Calls for one
system run one at a time in order (a PowerCycle is "off" then "on"); the
hook's exit status and output go to the log and to /emu/state. qemuvm.py is
such a hook: it starts and stops a PXE-booting QEMU VM.

--state FILE: the systems' power and boot override are loaded from FILE at
start when it exists and written back (atomically) shortly after every change
and at exit. Restoring a system as On runs no hook.

--latency-ms X: every request waits X ms before it is answered (on its own
thread: other connections are not held up).

Control and inspection, outside /redfish (no auth):
  GET  /emu/state[?systems=0|?system=ID]   every system's PowerState, Boot,
                    ETag, counters (requests per method, 412s, resets,
                    power-ons, hook calls), and the process's counters
                    (requests per method, per status, logins, sessions)
  POST /emu/systems/ID   JSON of options above, and/or "PowerState": "On"|
                    "Off" (a person at the machine; runs the hook unless
                    "hook": false)
  POST /emu/sessions/drop  ends every session (as a BMC reboot does)
  POST /emu/counters/reset
They answer on --control-socket PATH (plain HTTP over a Unix socket, usable
from any network namespace) and on the HTTPS listeners only to a client
whose address is the emulator's own (the listener's address, or loopback):
e.g. `ip netns exec BMC_NS curl -k https://BMC_IP/emu/state`.

The emulated systems' state is redfish_model.py (Emulator); this file is
their HTTP side and the command line. Importable: make_cert(), and
RedfishEmulator in redfish_proc.py runs this file as a process (optionally
in a network namespace) for tests.
"""

import argparse
import http.server
import ipaddress
import json
import os
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

from redfish_model import (ACTION_INFO_SUFFIX, BOOT_ENABLED, RESET_SUFFIX, ROOT, SESSION_SERVICE, SESSIONS, SYSTEMS,
                           Emulator, log, write_atomic)

MSG = "Base.1.8"


# ---- certificates ----

def make_cert(cert, key, hosts=("127.0.0.1", "localhost"), name="ironrack-redfish-emu", days=365, key_type="ec"):
    """A self-signed certificate for hosts (IP addresses and DNS names, all
    in subjectAltName) with openssl req -x509. key_type "ec" (P-256: cheap
    handshakes, what the benchmark wants) or "rsa" (2048 bits). The
    certificate is its own CA (basicConstraints CA:TRUE), so a client can
    verify the emulator with it as CA file."""
    san = []
    for h in hosts:
        try:
            ipaddress.ip_address(h)
            san.append(f"IP:{h}")
        except ValueError:
            san.append(f"DNS:{h}")
    newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"] if key_type == "ec" else \
        ["-newkey", "rsa:2048"]
    argv = ["openssl", "req", "-x509", *newkey, "-nodes", "-keyout", key, "-out", cert, "-days", str(days),
            "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,digitalSignature,keyCertSign"]
    if san:
        argv += ["-addext", "subjectAltName=" + ",".join(san)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"openssl req -x509 exited {out.returncode}: {out.stderr}")
    os.chmod(key, 0o600)
    return cert, key


def parse_listen(text):
    """'IP:PORT' or '[IPv6]:PORT' -> (ip, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--listen {text!r}: not IP:PORT")
    host = host.strip("[]")
    ipaddress.ip_address(host)
    return host, int(port)


def join_hostport(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# ---- HTTP ----

def error_body(msg_id, message, args=(), severity="Warning", resolution="None."):
    return {"error": {
        "code": f"{MSG}.GeneralError",
        "message": "A general error has occurred. See ExtendedInfo for more information.",
        "@Message.ExtendedInfo": [{
            "@odata.type": "#Message.v1_1_1.Message",
            "MessageId": f"{MSG}.{msg_id}",
            "Message": message,
            "MessageArgs": [str(a) for a in args],
            "Severity": severity,
            "MessageSeverity": severity,
            "Resolution": resolution,
        }],
    }}


class HttpError(Exception):
    def __init__(self, status, msg_id, message, args=(), headers=(), resolution="None."):
        super().__init__(message)
        self.status = status
        self.body = error_body(msg_id, message, args,
                               severity="Critical" if status >= 500 or status == 401 else "Warning",
                               resolution=resolution)
        self.headers = list(headers)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ironrack-redfish-emu/1"
    timeout = 120  # idle keep-alive connections are closed after this

    # -- plumbing --
    def version_string(self):
        return self.server_version

    def address_string(self):
        return self.client_address[0] if isinstance(self.client_address, tuple) else "control"

    def log_message(self, fmt, *args):
        if self.server.emu.verbose:
            log(f"{self.address_string()} {fmt % args}")

    def log_request(self, code="-", size="-"):
        code = int(code) if str(code).isdigit() else 0
        if self.server.emu.verbose or code >= 400 or self.command not in ("GET", "HEAD"):
            log(f"{self.address_string()} {self.command} {self.path} {code}")

    def handle(self):
        try:
            super().handle()
        except (ConnectionError, ssl.SSLError, TimeoutError, OSError) as e:
            if self.server.emu.verbose:
                log(f"{self.address_string()}: connection ends: {e!r}")
            self.close_connection = True

    def do_GET(self):
        self.dispatch("GET")

    def do_HEAD(self):
        self.dispatch("HEAD")

    def do_POST(self):
        self.dispatch("POST")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
                if len(data) > 1 << 20:
                    raise HttpError(413, "GeneralError", "request body too large")
        n = int(self.headers.get("Content-Length") or 0)
        if n > 1 << 20:
            self.close_connection = True
            raise HttpError(413, "GeneralError", "request body too large")
        return self.rfile.read(n) if n else b""

    def send(self, status, body=None, headers=(), raw=None):
        emu = self.server.emu
        if raw is None and body is not None:
            raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("OData-Version", "4.0")
        self.send_header("Cache-Control", "no-cache")
        for k, v in headers:
            self.send_header(k, v)
        if self.close_connection:
            # The client asked for it (sushy always does): say so, or a
            # client may reuse the connection we are about to close.
            self.send_header("Connection", "close")
        if status != 204:
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw or b"")))
        self.end_headers()
        if raw and status != 204 and self.command != "HEAD":
            self.wfile.write(raw)
        with emu.lock:
            emu.statuses[status] += 1

    # -- dispatch --
    def dispatch(self, method):
        emu = self.server.emu
        try:
            body = self.read_body()
        except HttpError as e:
            self.close_connection = True
            self.send(e.status, e.body)
            return
        except ValueError:
            self.close_connection = True
            self.send(400, error_body("MalformedJSON", "the request body could not be read"))
            return
        path, _, query = self.path.partition("?")
        path = urllib.parse.unquote(path)
        if len(path) > 1:
            path = path.rstrip("/")
        control = getattr(self.server, "control", False)
        if emu.latency and not control:
            time.sleep(emu.latency)
        try:
            if path == "/emu" or path.startswith("/emu/"):
                if not control and not self.own_address():
                    raise HttpError(403, "InsufficientPrivilege", "/emu answers only the emulator's own address")
                return self.control(method, path, query, body)
            if control:
                raise HttpError(404, "ResourceMissingAtURI", f"the control socket serves /emu only, not {path}",
                                [path])
            with emu.lock:
                emu.requests[method] += 1
            self.redfish(method, path, body)
        except HttpError as e:
            if e.status == 401:
                with emu.lock:
                    emu.unauthorized += 1
            self.send(e.status, e.body, e.headers)

    def own_address(self):
        peer = self.client_address[0]
        try:
            if ipaddress.ip_address(peer).is_loopback:
                return True
        except ValueError:
            return False
        return peer == self.connection.getsockname()[0]

    def json_body(self, body):
        try:
            doc = json.loads(body or b"null")
        except ValueError:
            raise HttpError(400, "MalformedJSON", "the request body is not valid JSON") from None
        if not isinstance(doc, dict):
            raise HttpError(400, "MalformedJSON", "the request body must be a JSON object")
        return doc

    def allow(self, method, allowed):
        if method not in allowed:
            raise HttpError(405, "OperationNotAllowed", f"{method} is not allowed on {self.path}",
                            headers=[("Allow", ", ".join(allowed))])

    def authenticate(self):
        emu = self.server.emu
        token = self.headers.get("X-Auth-Token")
        if token is not None:
            if emu.session_for(token, time.monotonic()) is not None:
                return
            raise HttpError(401, "NoValidSession", "there is no valid session for this X-Auth-Token",
                            headers=[("WWW-Authenticate", 'Basic realm="Redfish"')],
                            resolution="Establish a session before retrying.")
        auth = self.headers.get("Authorization")
        if auth and auth[:6].lower() == "basic " and emu.check_basic(auth):
            return
        raise HttpError(401, "ResourceAtUriUnauthorized",
                        f"while accessing the resource at {self.path}, the service received an authorization "
                        f"error: {'bad credentials' if auth else 'no credentials'}",
                        [self.path, "Unauthorized"], headers=[("WWW-Authenticate", 'Basic realm="Redfish"')],
                        resolution="Ensure that the appropriate access is provided for the service.")

    # -- Redfish --
    def redfish(self, method, path, body):
        emu = self.server.emu
        if path == "/redfish":
            self.allow(method, ("GET", "HEAD"))
            return self.send(200, {"v1": "/redfish/v1/"})
        if path == ROOT:
            self.allow(method, ("GET", "HEAD"))
            return self.send(200, service_root())
        if path == SESSIONS and method == "POST":
            return self.login(body)
        self.authenticate()
        if path == SYSTEMS:
            self.allow(method, ("GET", "HEAD"))
            with emu.lock:
                if emu.members_cache is None:
                    emu.members_cache = json.dumps(systems_collection(list(emu.systems))).encode()
                raw = emu.members_cache
            return self.send(200, raw=raw)
        if path.startswith(SYSTEMS + "/"):
            return self.system(method, path, body)
        if path == SESSION_SERVICE:
            self.allow(method, ("GET", "HEAD"))
            return self.send(200, session_service(emu.session_timeout))
        if path == SESSIONS:
            self.allow(method, ("GET", "HEAD", "POST"))
            with emu.lock:
                ids = sorted(emu.session_ids, key=int)
            return self.send(200, {
                "@odata.type": "#SessionCollection.SessionCollection", "@odata.id": SESSIONS,
                "Name": "Session Collection", "Members@odata.count": len(ids),
                "Members": [{"@odata.id": f"{SESSIONS}/{i}"} for i in ids]})
        if path.startswith(SESSIONS + "/"):
            sid = path[len(SESSIONS) + 1:]
            self.allow(method, ("GET", "HEAD", "DELETE"))
            if method == "DELETE":
                if not emu.end_session(sid):
                    raise HttpError(404, "ResourceMissingAtURI", f"the resource at the URI {path} was not found",
                                    [path])
                return self.send(204)
            with emu.lock:
                token = emu.session_ids.get(sid)
                s = emu.sessions.get(token) if token else None
                user = s["user"] if s else None
            if user is None:
                raise HttpError(404, "ResourceMissingAtURI", f"the resource at the URI {path} was not found", [path])
            return self.send(200, {"@odata.type": "#Session.v1_3_0.Session", "@odata.id": path, "Id": sid,
                                   "Name": f"Session {sid}", "UserName": user})
        raise HttpError(404, "ResourceMissingAtURI", f"the resource at the URI {path} was not found", [path])

    def login(self, body):
        emu = self.server.emu
        doc = self.json_body(body)
        user, password = doc.get("UserName"), doc.get("Password")
        if user is None or password is None:
            raise HttpError(400, "PropertyMissing", "the property UserName or Password is a required property "
                            "and must be included in the request", ["UserName" if user is None else "Password"])
        if not emu.check_login(user, password):
            raise HttpError(401, "ResourceAtUriUnauthorized", f"while accessing the resource at {SESSIONS}, the "
                            "service received an authorization error: bad user name or password",
                            [SESSIONS, "Unauthorized"])
        made = emu.new_session(user, time.monotonic())
        if made is None:
            raise HttpError(503, "SessionLimitExceeded", "the session establishment failed because the number of "
                            "simultaneous sessions exceeded the limit of the implementation",
                            headers=[("Retry-After", "5")])
        sid, token = made
        loc = f"{SESSIONS}/{sid}"
        self.send(201, {"@odata.type": "#Session.v1_3_0.Session", "@odata.id": loc, "Id": sid,
                        "Name": f"Session {sid}", "UserName": user},
                  headers=[("X-Auth-Token", token), ("Location", loc)])

    def system(self, method, path, body):
        emu = self.server.emu
        rest = path[len(SYSTEMS) + 1:]
        sid, _, sub = rest.partition("/")
        s = emu.systems.get(sid)
        if s is None:
            raise HttpError(404, "ResourceMissingAtURI", f"the resource at the URI {path} was not found", [path])
        with emu.lock:
            s.requests[method] += 1
            fail = s.opts["fail_next"]
            if fail:
                s.opts["fail_next"] = fail - 1
            latency = s.opts["latency_ms"]
        if latency:
            time.sleep(latency / 1000.0)
        if fail:
            raise HttpError(s.opts["fail_status"], "ServiceTemporarilyUnavailable",
                            f"the service is temporarily unavailable (emulated failure of system {sid})",
                            ["1"], headers=[("Retry-After", "1")],
                            resolution="Wait for the indicated retry duration and retry the operation.")
        if sub == "":
            self.allow(method, ("GET", "HEAD", "PATCH"))
            if method == "PATCH":
                return self.patch_system(s, body)
            with emu.lock:
                s.settle(time.monotonic())
                etag = s.etag(emu.salt)
                if s.cache is None or s.cache[0] != s.version:
                    s.cache = (s.version, json.dumps(s.document(emu.salt)).encode())
                raw = s.cache[1]
            return self.send(200, raw=raw, headers=[("ETag", etag)])
        if "/" + sub == RESET_SUFFIX:
            self.allow(method, ("POST",))
            return self.reset(s, body)
        if "/" + sub == ACTION_INFO_SUFFIX and s.opts["reset_allowable"] == "action_info":
            self.allow(method, ("GET", "HEAD"))
            return self.send(200, {
                "@odata.type": "#ActionInfo.v1_1_2.ActionInfo", "@odata.id": path, "Id": "ResetActionInfo",
                "Name": "Reset Action Info",
                "Parameters": [{"Name": "ResetType", "Required": True, "DataType": "String",
                                "AllowableValues": list(s.opts["reset_types"])}]})
        raise HttpError(404, "ResourceMissingAtURI", f"the resource at the URI {path} was not found", [path])

    def reset(self, s, body):
        emu = self.server.emu
        doc = self.json_body(body)
        rt = doc.get("ResetType")
        if rt is None:
            raise HttpError(400, "ActionParameterMissing", "the action ComputerSystem.Reset requires the parameter "
                            "ResetType to be present in the request body", ["ComputerSystem.Reset", "ResetType"])
        if rt not in s.opts["reset_types"]:
            raise HttpError(400, "ActionParameterNotSupported", f"the parameter ResetType for the action "
                            f"ComputerSystem.Reset is not supported on the target resource: {rt!r} is not one of "
                            f"{', '.join(s.opts['reset_types'])}", [str(rt), "ComputerSystem.Reset"],
                            resolution="Remove the parameter supplied and resubmit the request if the operation "
                                       "failed.")
        with emu.lock:
            calls = emu.power_change(s, rt, time.monotonic())
            status = s.opts["reset_status"]
        emu.run_hooks(s.id, calls)
        if status == 200:
            return self.send(200, {"@Message.ExtendedInfo": [{
                "@odata.type": "#Message.v1_1_1.Message", "MessageId": f"{MSG}.Success",
                "Message": "Successfully Completed Request", "MessageArgs": [], "Severity": "OK",
                "MessageSeverity": "OK", "Resolution": "None"}]})
        return self.send(204)

    def patch_system(self, s, body):
        emu = self.server.emu
        ifm = self.headers.get("If-Match")
        with emu.lock:
            s.settle(time.monotonic())
            if s.opts["stale_etag_next"] > 0:
                # Another client changed the system since this client's GET.
                s.opts["stale_etag_next"] -= 1
                s.touch()
            current = s.etag(emu.salt)
            required = s.opts["etag_required"]
            missing_status = s.opts["missing_if_match_status"]
        if ifm is None and required:
            with emu.lock:
                s.precondition_failed += 1
                emu.precondition_failed += 1
            raise HttpError(missing_status, "PreconditionRequired" if missing_status == 428 else "PreconditionFailed",
                            f"a PATCH of {s.path} requires an If-Match header with the resource's current ETag",
                            resolution="Resubmit the request with the If-Match header and the ETag of a fresh GET.")
        if ifm is not None and not etag_matches(ifm, current):
            with emu.lock:
                s.precondition_failed += 1
                emu.precondition_failed += 1
            raise HttpError(412, "PreconditionFailed", f"the ETag supplied ({ifm}) did not match the ETag required "
                            f"to change this resource ({current})",
                            resolution="Try the operation again using the appropriate ETag.")
        doc = self.json_body(body)
        for key in doc:
            if key.startswith("@odata"):
                continue
            if key != "Boot":
                if key in ("Id", "Name", "PowerState", "UUID", "Status", "Actions", "SystemType", "Manufacturer",
                           "Model", "SerialNumber", "Links"):
                    raise HttpError(400, "PropertyNotWritable", f"the property {key} is a read only property and "
                                    "cannot be assigned a value", [key])
                raise HttpError(400, "PropertyUnknown", f"the property {key} is not in the list of valid properties "
                                "for the resource", [key])
        boot = doc.get("Boot", {})
        if not isinstance(boot, dict):
            raise HttpError(400, "PropertyValueTypeError", "the value of the property Boot is of a different type "
                            "than the property can accept", [json.dumps(boot), "Boot"])
        allowed = {"BootSourceOverrideEnabled": BOOT_ENABLED, "BootSourceOverrideTarget": s.opts["boot_targets"],
                   "BootSourceOverrideMode": s.opts["boot_modes"]}
        for key, value in boot.items():
            if key not in allowed:
                raise HttpError(400, "PropertyUnknown", f"the property {key} is not in the list of valid properties "
                                "for the resource", [key])
            if value not in allowed[key]:
                raise HttpError(400, "PropertyValueNotInList", f"the value {value!r} for the property {key} is not in "
                                f"the list of acceptable values: {', '.join(allowed[key])}", [str(value), key],
                                resolution="Choose a value from the enumeration list that the implementation can "
                                           "support and resubmit the request if the operation failed.")
        with emu.lock:
            if "BootSourceOverrideEnabled" in boot:
                s.boot_enabled = boot["BootSourceOverrideEnabled"]
            if "BootSourceOverrideTarget" in boot:
                s.boot_target = boot["BootSourceOverrideTarget"]
            if "BootSourceOverrideMode" in boot:
                s.boot_mode = boot["BootSourceOverrideMode"]
            if boot:
                s.touch()
            etag = s.etag(emu.salt)
            doc = s.document(emu.salt)
        if boot:
            emu.changed()
        self.send(200, doc, headers=[("ETag", etag)])

    # -- control --
    def control(self, method, path, query, body):
        emu = self.server.emu
        q = urllib.parse.parse_qs(query)
        if path == "/emu/state":
            self.allow(method, ("GET",))
            only = q.get("system", [None])[0]
            if only is not None and only not in emu.systems:
                raise HttpError(404, "ResourceMissingAtURI", f"no system {only}", [only])
            return self.send(200, emu.snapshot(systems=q.get("systems", ["1"])[0] != "0", only=only))
        if path.startswith("/emu/systems/"):
            self.allow(method, ("POST",))
            sid = path[len("/emu/systems/"):]
            if sid not in emu.systems:
                raise HttpError(404, "ResourceMissingAtURI", f"no system {sid}", [sid])
            try:
                emu.configure(sid, self.json_body(body))
            except ValueError as e:
                raise HttpError(400, "PropertyValueError", str(e)) from None
            return self.send(200, emu.snapshot(only=sid)["systems"][sid])
        if path == "/emu/sessions/drop":
            self.allow(method, ("POST",))
            return self.send(200, {"dropped": emu.drop_sessions()})
        if path == "/emu/counters/reset":
            self.allow(method, ("POST",))
            emu.reset_counters()
            return self.send(200, {"ok": True})
        raise HttpError(404, "ResourceMissingAtURI", f"no control resource {path}", [path])


def etag_matches(header, current):
    """If-Match against the current ETag; W/ ignored on both sides (BMCs
    hand out weak ETags and expect them back); "*" does not match."""
    want = current[2:] if current.startswith("W/") else current
    for tag in header.split(","):
        tag = tag.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == want:
            return True
    return False


def service_root():
    return {
        "@odata.type": "#ServiceRoot.v1_5_0.ServiceRoot",
        "@odata.id": ROOT + "/",
        "Id": "RootService",
        "Name": "Root Service",
        "RedfishVersion": "1.6.0",
        "UUID": "3c0f5a2e-6b59-4e9b-9d1b-0d6e1e7b2f10",
        "Vendor": "ironrack",
        "Product": "ironrack Redfish emulator",
        "Systems": {"@odata.id": SYSTEMS},
        "SessionService": {"@odata.id": SESSION_SERVICE},
        "Links": {"Sessions": {"@odata.id": SESSIONS}},
    }


def systems_collection(ids):
    return {
        "@odata.type": "#ComputerSystemCollection.ComputerSystemCollection",
        "@odata.id": SYSTEMS,
        "Name": "Computer System Collection",
        "Members@odata.count": len(ids),
        "Members": [{"@odata.id": f"{SYSTEMS}/{sid}"} for sid in ids],
    }


def session_service(timeout):
    return {
        "@odata.type": "#SessionService.v1_1_8.SessionService",
        "@odata.id": SESSION_SERVICE,
        "Id": "SessionService",
        "Name": "Session Service",
        "ServiceEnabled": True,
        "SessionTimeout": timeout,
        "Sessions": {"@odata.id": SESSIONS},
    }


class TlsServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """One HTTPS listener. The TLS handshake runs on the connection's own
    thread (not in accept), so a slow or silent client holds up no other."""
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024

    def __init__(self, addr, emu, ctx):
        self.address_family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.emu = emu
        self.ctx = ctx
        super().__init__(addr, Handler)

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)  # HTTPServer's would resolve a host name: not needed

    def finish_request(self, request, client_address):
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request.settimeout(15)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            with self.emu.lock:
                self.emu.tls_errors += 1
            if self.emu.verbose:
                log(f"{client_address[0]}: TLS handshake failed: {e!r}")
            return
        if self.emu.verbose:
            log(f"{client_address}: connected, {tls.version()}")
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            if self.emu.verbose:
                log(f"{client_address}: closing")
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        log(f"{client_address}: unexpected error: {sys.exc_info()[1]!r}")


class ControlServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    block_on_close = False
    control = True

    def __init__(self, path, emu):
        self.emu = emu
        if os.path.exists(path):
            os.unlink(path)
        super().__init__(path, Handler)
        self.inode = os.stat(path).st_ino

    def server_close(self):
        super().server_close()
        try:  # only our own: a newer emulator may have bound the same path
            if os.stat(self.server_address).st_ino == self.inode:
                os.unlink(self.server_address)
        except FileNotFoundError:
            pass


def system_ids(n, prefix=""):
    return [f"{prefix}{i}" for i in range(1, n + 1)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", action="append", required=True, help="IP:PORT (repeatable; PORT 0: any)")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--make-cert", action="store_true", help="create CERT and KEY if they do not exist")
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--systems", type=int, default=1)
    ap.add_argument("--id-prefix", default="", help="system ids are PREFIX1 .. PREFIXN")
    ap.add_argument("--config", help="JSON: {\"defaults\": {...}, \"systems\": {\"ID\": {...}}}")
    ap.add_argument("--hook", help="run as: HOOK SYSTEM_ID on|off BOOTTARGET on every power change")
    ap.add_argument("--state", help="load/save power and boot override state here")
    ap.add_argument("--port-file", help="write one 'host:port' line per listener here once bound")
    ap.add_argument("--control-socket", help="serve /emu on this Unix socket (plain HTTP)")
    ap.add_argument("--latency-ms", type=float, default=0)
    ap.add_argument("--session-timeout", type=int, default=1800, help="idle seconds before a session ends")
    ap.add_argument("--max-sessions", type=int, default=0, help="0: no limit")
    ap.add_argument("--verbose", action="store_true", help="log every request")
    a = ap.parse_args(argv)

    try:
        listens = [parse_listen(x) for x in a.listen]
    except ValueError as e:
        ap.error(str(e))
    if a.systems < 1:
        ap.error("--systems must be at least 1")
    if a.make_cert and not (os.path.exists(a.cert) and os.path.exists(a.key)):
        make_cert(a.cert, a.key, hosts=[h for h, _ in listens] + ["localhost"])
    options = {}
    if a.config:
        with open(a.config, encoding="utf-8") as f:
            options = json.load(f)
    emu = Emulator(system_ids(a.systems, a.id_prefix), a.user, a.password, options=options, hook=a.hook,
                   state_file=a.state, latency_ms=a.latency_ms, session_timeout=a.session_timeout,
                   max_sessions=a.max_sessions, verbose=a.verbose)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    servers = [TlsServer(addr, emu, ctx) for addr in listens]
    if a.control_socket:
        servers.append(ControlServer(a.control_socket, emu))
    emu.listen = [join_hostport(*s.server_address[:2]) for s in servers if isinstance(s, TlsServer)]
    if a.port_file:
        write_atomic(a.port_file, "".join(x + "\n" for x in emu.listen))

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    for s in servers:
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    log(f"listening on {', '.join('https://' + x for x in emu.listen)}: {a.systems} systems"
        f"{', hook ' + a.hook if a.hook else ''}{', latency %g ms' % a.latency_ms if a.latency_ms else ''}")
    stop.wait()
    stoppers = [threading.Thread(target=s.shutdown) for s in servers]
    for t in stoppers:
        t.start()
    for t in stoppers:
        t.join()
    for s in servers:
        s.server_close()
    emu.save()
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
