"""Frames for the discovery tests, sent from a packet socket in a client
namespace: ARP (requests, replies, gratuitous, probes, with or without a
VLAN tag), mDNS responses, and ARP floods from many senders. Run inside
the namespace:

    ip netns exec NS /usr/bin/python3 discsend.py IFACE JSON

JSON is a list of frame specs:
    {"arp": 1|2, "sha": MAC, "spa": IP, "tpa": IP, "vlan": VID?}
    {"mdns": NAME, "mac": MAC, "ip": IP, "ttl": 120?}   A record, from IP
    {"flood": N, "net": "10.77.0.0", "mac": "02:77"}    N requests, distinct senders
Prints the number of frames sent."""

import ipaddress
import json
import socket
import struct
import sys

BCAST = b"\xff" * 6
MDNS_MAC = bytes.fromhex("01005e0000fb")


def mac(s):
    return bytes.fromhex(s.replace(":", ""))


def ip4(s):
    return ipaddress.IPv4Address(s).packed


def eth(dst, src, etype, vlan=None):
    tag = struct.pack(">HH", 0x8100, vlan) if vlan else b""
    return dst + src + tag + struct.pack(">H", etype)


def arp(op, sha, spa, tpa, tha=b"\0" * 6, vlan=None):
    body = struct.pack(">HHBBH", 1, 0x0800, 6, 4, op) + sha + spa + tha + tpa
    frame = eth(BCAST if op == 1 else tha, sha, 0x0806, vlan) + body
    return frame + b"\0" * max(0, 60 - len(frame))


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f">{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def dns_name(name):
    return b"".join(bytes([len(x)]) + x.encode() for x in name.split(".")) + b"\0"


def mdns_response(name, src_mac, src_ip, ttl=120):
    msg = struct.pack(">HHHHHH", 0, 0x8400, 0, 1, 0, 0)
    msg += dns_name(name) + struct.pack(">HHIH", 1, 0x8001, ttl, 4) + ip4(src_ip)
    udp = struct.pack(">HHHH", 5353, 5353, 8 + len(msg), 0) + msg  # checksum 0: none
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 255, 17, 0, ip4(src_ip), ip4("224.0.0.251"))
    ip = ip[:10] + struct.pack(">H", csum(ip)) + ip[12:]
    return eth(MDNS_MAC, src_mac, 0x0800) + ip + udp


def frames(specs):
    for s in specs:
        if "arp" in s:
            yield arp(s["arp"], mac(s["sha"]), ip4(s["spa"]), ip4(s["tpa"]), vlan=s.get("vlan"))
        elif "mdns" in s:
            yield mdns_response(s["mdns"], mac(s["mac"]), s["ip"], s.get("ttl", 120))
        elif "flood" in s:
            base = int(ipaddress.IPv4Address(s["net"]))
            prefix = mac(s.get("mac", "02:77"))
            for i in range(s["flood"]):
                sha = prefix + (i + 1).to_bytes(6 - len(prefix), "big")
                yield arp(1, sha, (base + 1 + i).to_bytes(4, "big"), ip4(s.get("tpa", "192.0.2.1")))


def main(argv):
    iface, specs = argv[0], json.loads(argv[1])
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((iface, 0))
    n = 0
    for f in frames(specs):
        while True:
            try:
                sock.send(f)
                break
            except BlockingIOError:  # a full queue on a flood: try again
                pass
        n += 1
    print(n)


if __name__ == "__main__":
    main(sys.argv[1:])
