"""A small IPMI 2.0 (RMCP+) BMC for the power tests, because ipmi_sim
(OpenIPMI 2.0.33) has no SHA-256 and so no cipher suite 17. It speaks what a
power client needs and nothing more: Get Channel Authentication Capabilities,
the RMCP+ open session and RAKP 1-4 for cipher suites 3 (HMAC-SHA1,
HMAC-SHA1-96, AES-CBC-128) and 17 (HMAC-SHA256, HMAC-SHA256-128,
AES-CBC-128), Set Session Privilege Level, Close Session, Get Chassis Status,
Chassis Control, and Set/Get System Boot Options parameters 0, 4 and 5 (it
keeps the bytes it is sent and answers them back, valid bit and all). Checked
against ipmitool -C 3 / -C 17 (tests/system/test_ipmisim.py). No IPMI 1.5
sessions, one user, no K_g.

    from lanplus_bmc import LanplusBmc

    with LanplusBmc(netns, "10.30.0.3", "admin", "secret", workdir, port=623) as bmc:
        ...                      # a client with -C 17
        assert bmc.power == "on"
        assert bmc.boot_flags == bytes.fromhex("8004000000")   # PXE, next boot
        bmc.fault("busy 2")      # the next 2 chassis commands: completion code C0h
        bmc.fault("silent")      # drop every packet (a BMC that died mid-session)
        bmc.fault(None)

Run directly: python3 lanplus_bmc.py ADDR PORT USER PASSWORD STATEFILE; the
state (power, boot option parameters) is written to STATEFILE as JSON after
every change, faults are read from STATEFILE.fault."""

import hashlib
import hmac
import json
import os
import socket
import struct
import subprocess
import sys
import time

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SUITES = {3: (0x01, 0x01, 0x01), 17: (0x03, 0x04, 0x01)}  # auth, integrity, confidentiality
MAX_SESSIONS = 64
GUID = bytes(range(16))


def csum(b):
    return (-sum(b)) & 0xFF


class Session:
    pass


class Bmc:
    def __init__(self, user, password, statefile=None):
        self.user = user.encode()
        self.key = password.encode().ljust(20, b"\0")[:20]
        self.statefile = statefile
        self.power = 0
        self.params = {5: bytes(5), 4: bytes(2), 0: bytes(1)}
        self.sessions = {}
        self.next_sid = 0x1000
        self.busy = 0

    def save(self):
        if self.statefile:
            tmp = self.statefile + ".tmp"
            with open(tmp, "w") as f:
                json.dump({"power": self.power, "params": {k: v.hex() for k, v in self.params.items()}}, f)
            os.replace(tmp, self.statefile)

    def fault(self):
        try:
            with open(self.statefile + ".fault") as f:
                return f.read().split()
        except (OSError, TypeError):
            return []

    # ---- framing ----
    def ipmi_rs(self, rq, cc, data=b""):
        rq_addr, rq_seq_lun, cmd = rq[3], rq[4], rq[5]
        netfn = (rq[1] >> 2) | 1
        hdr = bytes([rq_addr, (netfn << 2) | (rq_seq_lun & 3)])
        body = bytes([0x20, rq_seq_lun, cmd, cc]) + data
        return hdr + bytes([csum(hdr)]) + body + bytes([csum(body)])

    def v15(self, msg):
        return b"\x06\x00\xff\x07" + b"\x00" + bytes(8) + bytes([len(msg)]) + msg

    def v20(self, ptype, payload, s=None):
        if s is None or not s.active:
            return b"\x06\x00\xff\x07\x06" + bytes([ptype]) + bytes(8) + struct.pack("<H", len(payload)) + payload
        k2 = s.k2[:16]
        iv = os.urandom(16)
        padn = (16 - (len(payload) + 1) % 16) % 16
        plain = payload + bytes(range(1, padn + 1)) + bytes([padn])
        enc = Cipher(algorithms.AES(k2), modes.CBC(iv)).encryptor()
        payload = iv + enc.update(plain) + enc.finalize()
        s.out_seq += 1
        body = b"\x06" + bytes([0xC0 | ptype]) + struct.pack("<IIH", s.rc_sid, s.out_seq, len(payload)) + payload
        pad = (4 - (len(body) + 2) % 4) % 4
        body += b"\xff" * pad + bytes([pad, 0x07])
        return b"\x06\x00\xff\x07" + body + s.integ(body)

    # ---- packets ----
    def handle(self, pkt):
        if len(pkt) < 5 or pkt[:4] != b"\x06\x00\xff\x07":
            return None
        if "silent" in self.fault():
            return None
        if pkt[4] == 0x00:  # IPMI 1.5, no auth: only Get Channel Auth Caps
            msg = pkt[14:14 + pkt[13]]
            if len(msg) >= 7 and msg[1] >> 2 == 0x06 and msg[5] == 0x38:
                data = bytes([0x01, 0x80 | 0x10, 0x04 | 0x00, 0x02, 0, 0, 0, 0])
                return self.v15(self.ipmi_rs(msg, 0, data))
            return None
        if pkt[4] != 0x06:
            return None
        ptype = pkt[5] & 0x3F
        sid, seq, plen = struct.unpack_from("<IIH", pkt, 6)
        payload = pkt[16:16 + plen]
        if ptype == 0x10:
            return self.open_session(payload)
        if ptype == 0x12:
            return self.rakp1(payload)
        if ptype == 0x14:
            return self.rakp3(payload)
        s = self.sessions.get(sid)
        if ptype != 0x00 or s is None or not s.active:
            return None
        if pkt[5] & 0x40:  # the integrity code, over auth type .. next header
            end = 16 + plen
            n = 0
            while pkt[end + n] == 0xFF:
                n += 1
            body_end = end + n + 2
            if not hmac.compare_digest(s.integ(pkt[4:body_end]), pkt[body_end:]):
                return None
        if pkt[5] & 0xC0 != 0xC0:  # suites 3 and 17 sign and encrypt everything
            return None
        iv, ct = payload[:16], payload[16:]
        dec = Cipher(algorithms.AES(s.k2[:16]), modes.CBC(iv)).decryptor()
        plain = dec.update(ct) + dec.finalize()
        payload = plain[:len(plain) - 1 - plain[-1]]
        return self.v20(0x00, self.command(s, payload), s)

    def open_session(self, p):
        tag, priv, rc_sid = p[0], p[1], struct.unpack_from("<I", p, 4)[0]
        algs = (p[12], p[20], p[28])
        suite = next((k for k, v in SUITES.items() if v == algs), None)
        if suite is None:
            return self.v20(0x11, bytes([tag, 0x11]) + bytes(6))
        s = Session()
        s.rc_sid, s.sid, s.algs, s.active, s.out_seq = rc_sid, self.next_sid, algs, False, 0
        s.sha = hashlib.sha256 if algs[0] == 0x03 else hashlib.sha1
        self.next_sid += 2
        if len(self.sessions) >= MAX_SESSIONS:  # a client that never closes: forget the oldest
            del self.sessions[next(iter(self.sessions))]
        self.sessions[s.sid] = s
        rs = bytes([tag, 0, priv or 4, 0]) + struct.pack("<II", rc_sid, s.sid)
        rs += bytes([0, 0, 0, 8, algs[0], 0, 0, 0, 1, 0, 0, 8, algs[1], 0, 0, 0, 2, 0, 0, 8, algs[2], 0, 0, 0])
        return self.v20(0x11, rs)

    def rakp1(self, p):
        tag, sid = p[0], struct.unpack_from("<I", p, 4)[0]
        s = self.sessions.get(sid)
        if s is None:
            return None
        s.rm, s.role, ulen = p[8:24], p[24], p[27]
        s.uname = p[28:28 + ulen]
        s.rc = os.urandom(16)
        if s.uname != self.user:
            return self.v20(0x13, bytes([tag, 0x0D, 0, 0]) + struct.pack("<I", s.rc_sid))
        auth = hmac.new(self.key, struct.pack("<II", s.rc_sid, s.sid) + s.rm + s.rc + GUID
                        + bytes([s.role, ulen]) + s.uname, s.sha).digest()
        return self.v20(0x13, bytes([tag, 0, 0, 0]) + struct.pack("<I", s.rc_sid) + s.rc + GUID + auth)

    def rakp3(self, p):
        tag, status, sid = p[0], p[1], struct.unpack_from("<I", p, 4)[0]
        s = self.sessions.get(sid)
        if s is None or status != 0:
            return None
        want = hmac.new(self.key, s.rc + struct.pack("<I", s.rc_sid) + bytes([s.role, len(s.uname)]) + s.uname,
                        s.sha).digest()
        if not hmac.compare_digest(want, p[8:8 + len(want)]):
            return self.v20(0x15, bytes([tag, 0x0F, 0, 0]) + struct.pack("<I", s.rc_sid))
        sik = hmac.new(self.key, s.rm + s.rc + bytes([s.role, len(s.uname)]) + s.uname, s.sha).digest()
        # K1, K2: HMAC of 20 bytes of 01h / 02h, for SHA-256 too (as
        # ipmitool and libfreeipmi compute them)
        s.k1 = hmac.new(sik, b"\x01" * 20, s.sha).digest()
        s.k2 = hmac.new(sik, b"\x02" * 20, s.sha).digest()
        ilen = 16 if s.sha is hashlib.sha256 else 12
        s.integ = lambda body, k1=s.k1, sha=s.sha, ilen=ilen: hmac.new(k1, body, sha).digest()[:ilen]
        icv = hmac.new(sik, s.rm + struct.pack("<I", s.sid) + GUID, s.sha).digest()[:ilen]
        s.active = True
        return self.v20(0x15, bytes([tag, 0, 0, 0]) + struct.pack("<I", s.rc_sid) + icv)

    def command(self, s, msg):
        netfn, cmd, data = msg[1] >> 2, msg[5], msg[6:-1]
        if netfn == 0x06 and cmd == 0x3B:  # set session privilege level
            return self.ipmi_rs(msg, 0, bytes([data[0] or 4]))
        if netfn == 0x06 and cmd == 0x3C:  # close session
            self.sessions.pop(s.sid, None)
            return self.ipmi_rs(msg, 0)
        if netfn != 0x00:
            return self.ipmi_rs(msg, 0xC1)
        f = self.fault()
        if f and f[0] == "busy" and int(f[1]) > 0:
            with open(self.statefile + ".fault", "w") as fh:
                fh.write(f"busy {int(f[1]) - 1}\n")
            return self.ipmi_rs(msg, 0xC0)
        if cmd == 0x01:  # get chassis status
            return self.ipmi_rs(msg, 0, bytes([self.power, 0, 0]))
        if cmd == 0x02:  # chassis control
            c = data[0] & 0x0F
            if c == 0:
                self.power = 0
            elif c in (1, 2, 3):
                self.power = 1
            else:
                return self.ipmi_rs(msg, 0xCC)
            self.save()
            return self.ipmi_rs(msg, 0)
        if cmd == 0x08:  # set system boot options
            sel = data[0] & 0x7F
            want = {0: 1, 4: 2, 5: 5}.get(sel)
            if want is None:
                return self.ipmi_rs(msg, 0x80)
            if len(data) - 1 != want:
                return self.ipmi_rs(msg, 0xC7)
            self.params[sel] = bytes(data[1:])
            self.save()
            return self.ipmi_rs(msg, 0)
        if cmd == 0x09:  # get system boot options
            sel = data[0] & 0x7F
            if sel not in self.params:
                return self.ipmi_rs(msg, 0x80)
            return self.ipmi_rs(msg, 0, bytes([0x01, sel]) + self.params[sel])
        return self.ipmi_rs(msg, 0xC1)



class LanplusBmc:
    """Runs this file as a BMC inside a network namespace."""

    def __init__(self, netns, address, user, password, workdir, port=623):
        self.netns, self.address, self.port = netns, address, port
        self.user, self.password = user, password
        self.state = os.path.join(workdir, f"lanplus-{address}-{port}.json".replace(":", "_"))
        self.proc = None

    def _listening(self):
        out = subprocess.run(["ip", "netns", "exec", self.netns, "ss", "-Hlun"], capture_output=True, text=True,
                             timeout=30).stdout
        return f"{self.address}:{self.port} " in out

    def start(self, timeout=10.0):
        self.fault(None)
        if os.path.exists(self.state):
            os.unlink(self.state)
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.netns, sys.executable, os.path.abspath(__file__),
                                      self.address, str(self.port), self.user, self.password, self.state],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while not (self._listening() and os.path.exists(self.state)):
            if self.proc.poll() is not None:
                raise AssertionError(f"lanplus_bmc exited {self.proc.returncode}: {self.proc.stderr.read()}")
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"lanplus_bmc not listening on {self.address}:{self.port}")
            time.sleep(0.02)
        return self

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(5)
            self.proc.stderr.close()
            self.proc = None

    def _load(self):
        with open(self.state, encoding="utf-8") as f:
            return json.load(f)

    @property
    def power(self):
        return "on" if self._load()["power"] else "off"

    @property
    def boot_flags(self):
        return bytes.fromhex(self._load()["params"]["5"])

    def fault(self, what):
        path = self.state + ".fault"
        if what is None:
            if os.path.exists(path):
                os.unlink(path)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(what + "\n")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main():
    addr, port, user, password, statefile = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    bmc = Bmc(user, password, statefile)
    sock = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((addr, port))
    bmc.save()  # after the bind: the state file says "ready"
    while True:
        pkt, peer = sock.recvfrom(4096)
        try:
            out = bmc.handle(pkt)
        except (IndexError, struct.error, ValueError):
            out = None  # a malformed packet is dropped, as a BMC would
        if out:
            sock.sendto(out, peer)


if __name__ == "__main__":
    main()
