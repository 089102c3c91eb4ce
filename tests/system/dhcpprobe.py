"""Hand-made DHCPv4 messages from a client namespace, for the conformance
tests (tests/system/test_dhcp_conform.py): what no real client sends on
demand (two client ids on one MAC, a DECLINE of a mere offer, a RELEASE
naming someone else's lease).

probe(net, ns, msgs, ...) runs PROBE_SCRIPT in namespace ns: it binds UDP
port 68 on eth0, sends every message of msgs (dicts, see msg()), collects
the replies whose xid it sent until it has `want` of them or `timeout`
passes, and returns them parsed: [{"xid", "type", "yiaddr", "ciaddr",
"options": {code: bytes}, "len"}]. Replies come back broadcast (the
messages set the broadcast flag) so a client without an address hears
them."""

import json
import random

PROBE_SCRIPT = r'''
import json, select, socket, struct, sys, time
job = json.loads(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
s.bind((job["bind"], 68))
def ip(a):
    return socket.inet_aton(a or "0.0.0.0")
def build(m):
    opts = bytes([53, 1, m["type"]])
    for code, hexv in m.get("options", []):
        v = bytes.fromhex(hexv)
        opts += bytes([code, len(v)]) + v
    mac = bytes.fromhex(m["mac"].replace(":", ""))
    hdr = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, m["xid"], 0, m.get("flags", 0x8000),
                      ip(m.get("ciaddr")), b"\0" * 4, b"\0" * 4, ip(m.get("giaddr")), mac + b"\0" * 10, b"", b"")
    return hdr + b"\x63\x82\x53\x63" + opts + b"\xff"
def parse(d):
    if len(d) < 240 or d[0] != 2:
        return None
    r = {"xid": struct.unpack("!I", d[4:8])[0], "yiaddr": socket.inet_ntoa(d[16:20]),
         "ciaddr": socket.inet_ntoa(d[12:16]), "options": {}, "len": len(d)}
    def walk(b):
        i = 0
        while i < len(b):
            c = b[i]
            if c == 255: break
            if c == 0: i += 1; continue
            if i + 1 >= len(b): break
            l = b[i + 1]
            r["options"][str(c)] = r["options"].get(str(c), "") + b[i + 2:i + 2 + l].hex()
            i += 2 + l
    walk(d[240:])
    ov = bytes.fromhex(r["options"].get("52", "00"))[0]
    if ov & 1: walk(d[108:236])
    if ov & 2: walk(d[44:108])
    r["type"] = int(r["options"].get("53", "00"), 16)
    return r
xids = set()
for m in job["msgs"]:
    xids.add(m["xid"])
    s.sendto(build(m), (m.get("dst", "255.255.255.255"), 67))
got, deadline = [], time.monotonic() + job["timeout"]
while len(got) < job["want"] and time.monotonic() < deadline:
    r, _, _ = select.select([s], [], [], max(0.0, deadline - time.monotonic()))
    if not r:
        break
    p = parse(s.recv(4096))
    if p and p["xid"] in xids:
        got.append(p)
print(json.dumps(got))
'''

DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE = 1, 2, 3, 4, 5, 6, 7


def msg(mtype, mac, xid=None, **kw):
    """A client message: mac "02:..", options [(code, bytes)], ciaddr,
    giaddr, dst (default broadcast), flags (default broadcast bit)."""
    m = {"type": mtype, "mac": mac, "xid": xid if xid is not None else random.getrandbits(31)}
    for k, v in kw.items():
        m[k] = [(c, bytes(b).hex()) for c, b in v] if k == "options" else v
    return m


def probe(net, ns, msgs, want=None, timeout=5.0, bind="0.0.0.0"):
    job = {"msgs": msgs, "want": len(msgs) if want is None else want, "timeout": timeout, "bind": bind}
    out = net.run(ns, ["/usr/bin/python3", "-c", PROBE_SCRIPT, json.dumps(job)], timeout=timeout + 30)
    res = json.loads(out.stdout)
    for r in res:
        r["options"] = {int(k): bytes.fromhex(v) for k, v in r["options"].items()}
    return res


def ip_opt(a):
    return bytes(int(x) for x in a.split("."))


def exchange(net, ns, m, timeout=5.0, tries=2):
    """Send m and return its one reply; unanswered, send it again (same
    xid) as a client would (RFC 2131 §4.1), up to tries times."""
    for _ in range(tries):
        got = probe(net, ns, [m], timeout=timeout)
        if got:
            return got[0]
    raise AssertionError(f"no reply to {m['type']} (xid {m['xid']:#x}) from {m['mac']} in {tries} tries "
                         f"of {timeout} s")


def dora(net, ns, mac, options=(), timeout=5.0):
    """DISCOVER + REQUEST from mac with options (both messages); the ACK."""
    offer = exchange(net, ns, msg(DISCOVER, mac, options=list(options)), timeout=timeout)
    assert offer["type"] == OFFER, offer
    sid = offer["options"][54]
    req = msg(REQUEST, mac, options=[(50, ip_opt(offer["yiaddr"])), (54, sid), *options])
    ack = exchange(net, ns, req, timeout=timeout)
    assert ack["type"] == ACK and ack["yiaddr"] == offer["yiaddr"], (offer, ack)
    return ack


def random_mac():
    return "02:" + ":".join("%02x" % random.getrandbits(8) for _ in range(5))


__all__ = ["probe", "msg", "dora", "ip_opt", "random_mac", "DISCOVER", "OFFER", "REQUEST", "DECLINE", "ACK", "NAK",
           "RELEASE"]
