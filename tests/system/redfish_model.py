"""The emulated systems of the Redfish BMC emulator (redfish_emu.py): their
power and boot override state, ETags, sessions and counters, the state
file, and the hook runner that turns a power change into a VM's. No HTTP
here: redfish_emu.py's request handler reads and changes this state under
Emulator.lock."""

import base64
import binascii
import collections
import hmac
import json
import os
import secrets
import shlex
import subprocess
import sys
import threading
import time
import uuid

RESET_TYPES = ["On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart", "Nmi", "ForceOn",
               "PushPowerButton", "PowerCycle"]
BOOT_TARGETS = ["None", "Pxe", "Hdd", "Cd", "Usb", "BiosSetup", "UefiHttp"]
BOOT_ENABLED = ["Disabled", "Once", "Continuous"]
BOOT_MODES = ["Legacy", "UEFI"]

SYSTEM_DEFAULTS = {
    "power": "Off",
    "reset_types": RESET_TYPES,
    "boot_targets": BOOT_TARGETS,
    "boot_modes": BOOT_MODES,
    "boot_mode": "Legacy",
    "etag_required": True,
    "missing_if_match_status": 412,
    "weak_etag": False,
    "reset_allowable": "inline",
    "reset_status": 204,
    "latency_ms": 0,
    "transition_ms": 0,
    "fail_next": 0,
    "fail_status": 503,
    "stale_etag_next": 0,
}

ROOT = "/redfish/v1"
SYSTEMS = ROOT + "/Systems"
SESSION_SERVICE = ROOT + "/SessionService"
SESSIONS = SESSION_SERVICE + "/Sessions"
RESET_SUFFIX = "/Actions/ComputerSystem.Reset"
ACTION_INFO_SUFFIX = "/ResetActionInfo"


def log(msg):
    sys.stderr.write(f"{time.strftime('%H:%M:%S')}.{int(time.time() * 1000) % 1000:03d} redfish-emu: {msg}\n")
    sys.stderr.flush()




def write_atomic(path, text):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


# ---- the emulated systems ----

class System:
    def __init__(self, sid, opts):
        self.id = sid
        self.path = f"{SYSTEMS}/{sid}"
        self.opts = dict(opts)
        self.power = "On" if opts.get("power") == "On" else "Off"
        self.boot_enabled = "Disabled"
        self.boot_target = "None"
        self.boot_mode = opts.get("boot_mode", "Legacy")
        self.version = 1
        self.transition = None  # (until monotonic, "PoweringOn"|"PoweringOff")
        self.uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, "ironrack-redfish-emu/" + sid))
        self.tag = secrets.token_hex(2)  # ETags of two systems never coincide
        self.requests = collections.Counter()
        self.precondition_failed = 0
        self.resets = collections.Counter()
        self.power_ons = 0
        self.power_offs = 0
        self.last_boot_target = None
        self.hook_calls = 0
        self.hook_failures = 0
        self.hook_last = None
        self.cache = None  # (version, body bytes)

    def touch(self):
        self.version += 1
        self.cache = None

    def settle(self, now):
        """Ends a finished PoweringOn/Off transition (a change: new ETag)."""
        if self.transition and now >= self.transition[0]:
            self.transition = None
            self.touch()

    def power_state(self):
        return self.transition[1] if self.transition else self.power

    def etag(self, salt):
        tag = f'"{salt}{self.tag}-{self.version:x}"'
        return "W/" + tag if self.opts.get("weak_etag") else tag

    def effective_boot(self):
        return self.boot_target if self.boot_enabled != "Disabled" else "None"

    def document(self, salt):
        reset = {"target": self.path + RESET_SUFFIX}
        how = self.opts.get("reset_allowable", "inline")
        if how == "inline":
            reset["ResetType@Redfish.AllowableValues"] = list(self.opts["reset_types"])
        elif how == "action_info":
            reset["@Redfish.ActionInfo"] = self.path + ACTION_INFO_SUFFIX
        return {
            "@odata.type": "#ComputerSystem.v1_13_0.ComputerSystem",
            "@odata.id": self.path,
            "@odata.etag": self.etag(salt),
            "Id": self.id,
            "Name": f"Emulated system {self.id}",
            "SystemType": "Physical",
            "Manufacturer": "ironrack",
            "Model": "Redfish emulator",
            "SerialNumber": f"EMU-{self.id}",
            "UUID": self.uuid,
            "PowerState": self.power_state(),
            "Status": {"State": "Enabled", "Health": "OK"},
            "Boot": {
                "BootSourceOverrideEnabled": self.boot_enabled,
                "BootSourceOverrideEnabled@Redfish.AllowableValues": list(BOOT_ENABLED),
                "BootSourceOverrideTarget": self.boot_target,
                "BootSourceOverrideTarget@Redfish.AllowableValues": list(self.opts["boot_targets"]),
                "BootSourceOverrideMode": self.boot_mode,
                "BootSourceOverrideMode@Redfish.AllowableValues": list(self.opts["boot_modes"]),
            },
            "Actions": {"#ComputerSystem.Reset": reset},
            "Links": {},
        }

    def persistent(self):
        return {"PowerState": self.power, "BootSourceOverrideEnabled": self.boot_enabled,
                "BootSourceOverrideTarget": self.boot_target, "BootSourceOverrideMode": self.boot_mode}

    def restore(self, saved):
        self.power = "On" if saved.get("PowerState") == "On" else "Off"
        self.boot_enabled = saved.get("BootSourceOverrideEnabled", self.boot_enabled)
        self.boot_target = saved.get("BootSourceOverrideTarget", self.boot_target)
        self.boot_mode = saved.get("BootSourceOverrideMode", self.boot_mode)
        self.touch()

    def inspect(self, salt):
        return {
            "PowerState": self.power_state(),
            "Boot": {"BootSourceOverrideEnabled": self.boot_enabled,
                     "BootSourceOverrideTarget": self.boot_target,
                     "BootSourceOverrideMode": self.boot_mode},
            "etag": self.etag(salt),
            "requests": dict(self.requests),
            "precondition_failed": self.precondition_failed,
            "resets": dict(self.resets),
            "power_ons": self.power_ons,
            "power_offs": self.power_offs,
            "last_boot_target": self.last_boot_target,
            "hook": {"calls": self.hook_calls, "failures": self.hook_failures, "last": self.hook_last},
            "options": {k: v for k, v in self.opts.items() if k != "power"},
        }


class HookRunner:
    """Runs CMD SYSTEM_ID on|off BOOT off the request threads: one worker
    per system with pending calls, so calls for a system keep their order
    and a slow hook of one system holds up no other."""

    def __init__(self, cmd, emu, timeout=120):
        self.argv = shlex.split(cmd)
        self.emu = emu
        self.timeout = timeout
        self.lock = threading.Lock()
        self.pending = {}
        self.active = set()
        self.outstanding = 0

    def submit(self, sid, calls):
        if not calls:
            return
        with self.lock:
            self.pending.setdefault(sid, collections.deque()).extend(calls)
            self.outstanding += len(calls)
            if sid in self.active:
                return
            self.active.add(sid)
        threading.Thread(target=self._worker, args=(sid,), daemon=True, name=f"hook-{sid}").start()

    def _worker(self, sid):
        while True:
            with self.lock:
                q = self.pending.get(sid)
                if not q:
                    self.active.discard(sid)
                    self.pending.pop(sid, None)
                    return
                action, boot = q.popleft()
            argv = self.argv + [sid, action, boot]
            t0 = time.monotonic()
            try:
                out = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout,
                                     stdin=subprocess.DEVNULL)
                rc, text = out.returncode, (out.stdout + out.stderr).strip()
            except (OSError, subprocess.TimeoutExpired) as e:
                rc, text = -1, str(e)
            ms = (time.monotonic() - t0) * 1000
            log(f"hook {shlex.join(argv)}: exit {rc} in {ms:.0f} ms{': ' + text if text else ''}")
            self.emu.hook_done(sid, action, boot, rc)
            with self.lock:
                self.outstanding -= 1


class Emulator:
    """The state of every emulated system, sessions and counters. All of it
    is guarded by one lock; nothing slow runs under it."""

    def __init__(self, ids, user, password, options=None, hook=None, state_file=None, latency_ms=0,
                 session_timeout=1800, max_sessions=0, verbose=False):
        options = options or {}
        defaults = dict(SYSTEM_DEFAULTS, **options.get("defaults", {}))
        per = options.get("systems", {})
        unknown = set(per) - set(ids)
        if unknown:
            raise ValueError(f"config names systems that do not exist: {sorted(unknown)}")
        self.lock = threading.Lock()
        self.systems = {}
        for sid in ids:
            opts = dict(defaults, **per.get(sid, {}))
            check_options(opts)
            self.systems[sid] = System(sid, opts)
        self.user = user.encode()
        self.password = password.encode()
        self.salt = secrets.token_hex(3) + "-"
        self.sessions = {}      # token -> session dict
        self.session_ids = {}   # session id -> token
        self.next_session = 1
        self.session_timeout = session_timeout
        self.max_sessions = max_sessions
        self.logins = 0
        self.requests = collections.Counter()
        self.statuses = collections.Counter()
        self.precondition_failed = 0
        self.unauthorized = 0
        self.tls_errors = 0
        self.latency = latency_ms / 1000.0
        self.verbose = verbose
        self.started = time.time()
        self.listen = []
        self.hooks = HookRunner(hook, self) if hook else None
        self.state_file = state_file
        self.dirty = threading.Event()
        self.members_cache = None
        if state_file and os.path.exists(state_file):
            with open(state_file, encoding="utf-8") as f:
                saved = json.load(f).get("systems", {})
            for sid, s in saved.items():
                if sid in self.systems:
                    self.systems[sid].restore(s)
        if state_file:
            threading.Thread(target=self._saver, daemon=True, name="state-saver").start()

    # -- state file --
    def _saver(self):
        while True:
            self.dirty.wait()
            time.sleep(0.05)  # coalesce a burst of changes into one write
            self.dirty.clear()
            self.save()

    def save(self):
        if not self.state_file:
            return
        with self.lock:
            doc = {"systems": {sid: s.persistent() for sid, s in self.systems.items()}}
        write_atomic(self.state_file, json.dumps(doc, indent=1) + "\n")

    def changed(self):
        if self.state_file:
            self.dirty.set()

    # -- auth --
    def check_basic(self, header):
        try:
            raw = base64.b64decode(header.split(None, 1)[1], validate=True)
        except (IndexError, binascii.Error, ValueError):
            return False
        user, sep, pw = raw.partition(b":")
        return bool(sep) and hmac.compare_digest(user, self.user) and hmac.compare_digest(pw, self.password)

    def check_login(self, user, password):
        return (isinstance(user, str) and isinstance(password, str) and
                hmac.compare_digest(user.encode(), self.user) and hmac.compare_digest(password.encode(), self.password))

    def session_for(self, token, now):
        """The live session of token (its idle time restarts), or None."""
        with self.lock:
            s = self.sessions.get(token)
            if s is None:
                return None
            if self.session_timeout and now - s["last"] > self.session_timeout:
                self._end_session(token)
                return None
            s["last"] = now
            return s

    def new_session(self, user, now):
        with self.lock:
            if self.max_sessions and len(self.sessions) >= self.max_sessions:
                return None
            sid = str(self.next_session)
            self.next_session += 1
            token = secrets.token_hex(16)
            s = {"id": sid, "user": user, "created": now, "last": now}
            self.sessions[token] = s
            self.session_ids[sid] = token
            self.logins += 1
            return sid, token

    def _end_session(self, token):
        s = self.sessions.pop(token, None)
        if s:
            self.session_ids.pop(s["id"], None)

    def end_session(self, sid):
        with self.lock:
            token = self.session_ids.get(sid)
            if token is None:
                return False
            self._end_session(token)
            return True

    def drop_sessions(self):
        with self.lock:
            n = len(self.sessions)
            self.sessions.clear()
            self.session_ids.clear()
            return n

    # -- power --
    def power_change(self, s, reset_type, now, count=True):
        """Applies reset_type to s (under the lock); returns the hook calls.
        count: a Redfish reset (not a person at the machine)."""
        calls = []
        cur = s.power

        def on():
            boot = s.effective_boot()
            s.power = "On"
            s.power_ons += 1
            s.last_boot_target = boot
            if s.boot_enabled == "Once":
                s.boot_enabled = "Disabled"
            calls.append(("on", boot))

        def off():
            s.power = "Off"
            s.power_offs += 1
            calls.append(("off", s.effective_boot()))

        if reset_type in ("On", "ForceOn"):
            if cur == "Off":
                on()
        elif reset_type in ("ForceOff", "GracefulShutdown"):
            if cur == "On":
                off()
        elif reset_type in ("ForceRestart", "GracefulRestart", "PowerCycle"):
            if cur == "On":
                off()
            on()
        elif reset_type == "PushPowerButton":
            off() if cur == "On" else on()
        # Nmi: no power change
        if count:
            s.resets[reset_type] += 1
        if calls:
            ms = s.opts.get("transition_ms", 0)
            if ms:
                s.transition = (now + ms / 1000.0, "PoweringOn" if s.power == "On" else "PoweringOff")
            s.touch()
        return calls

    def run_hooks(self, sid, calls):
        if calls:
            log(f"system {sid}: power " + ", ".join(f"{a} (boot {b})" for a, b in calls))
            self.changed()
            if self.hooks:
                self.hooks.submit(sid, calls)

    def hook_done(self, sid, action, boot, rc):
        with self.lock:
            s = self.systems[sid]
            s.hook_calls += 1
            if rc != 0:
                s.hook_failures += 1
            s.hook_last = [action, boot, rc]

    # -- inspection --
    def snapshot(self, systems=True, only=None):
        now = time.monotonic()
        with self.lock:
            out = {
                "listen": list(self.listen),
                "uptime_s": round(time.time() - self.started, 3),
                "requests": dict(self.requests),
                "status": {str(k): v for k, v in sorted(self.statuses.items())},
                "precondition_failed": self.precondition_failed,
                "unauthorized": self.unauthorized,
                "tls_errors": self.tls_errors,
                "logins": self.logins,
                "sessions": len(self.sessions),
                "hooks_pending": self.hooks.outstanding if self.hooks else 0,
                "systems_count": len(self.systems),
            }
            if systems or only:
                sel = [only] if only else list(self.systems)
                out["systems"] = {}
                for sid in sel:
                    s = self.systems[sid]
                    s.settle(now)
                    out["systems"][sid] = s.inspect(self.salt)
        return out

    def reset_counters(self):
        with self.lock:
            self.requests.clear()
            self.statuses.clear()
            self.precondition_failed = self.unauthorized = self.tls_errors = self.logins = 0
            for s in self.systems.values():
                s.requests.clear()
                s.resets.clear()
                s.precondition_failed = s.power_ons = s.power_offs = 0
                s.hook_calls = s.hook_failures = 0

    def configure(self, sid, body):
        """POST /emu/systems/ID: options, and PowerState as a person at the
        machine would change it."""
        calls = []
        opts = {k: v for k, v in body.items() if k in SYSTEM_DEFAULTS}
        unknown = set(body) - set(SYSTEM_DEFAULTS) - {"PowerState", "hook"}
        if unknown:
            raise ValueError(f"unknown settings {sorted(unknown)}")
        with self.lock:
            s = self.systems[sid]
            merged = dict(s.opts, **opts)
            check_options(merged)
            s.opts = merged
            s.touch()
            want = body.get("PowerState")
            if want is not None:
                if want not in ("On", "Off"):
                    raise ValueError("PowerState must be On or Off")
                if want != s.power:
                    calls = self.power_change(s, "ForceOn" if want == "On" else "ForceOff", time.monotonic(),
                                              count=False)
        self.run_hooks(sid, calls if body.get("hook", True) else [])
        self.changed()


def check_options(o):
    for key in o:
        if key not in SYSTEM_DEFAULTS:
            raise ValueError(f"unknown system option {key!r}")
    bad = [t for t in o["reset_types"] if t not in RESET_TYPES]
    if bad:
        raise ValueError(f"reset_types: unknown {bad}")
    bad = [t for t in o["boot_targets"] if t not in BOOT_TARGETS]
    if bad:
        raise ValueError(f"boot_targets: unknown {bad}")
    if o["reset_allowable"] not in ("inline", "action_info", "none"):
        raise ValueError("reset_allowable must be inline, action_info or none")
    if o["reset_status"] not in (200, 204):
        raise ValueError("reset_status must be 200 or 204")
    if o["missing_if_match_status"] not in (412, 428):
        raise ValueError("missing_if_match_status must be 412 or 428")
