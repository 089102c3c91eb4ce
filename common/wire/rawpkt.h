/* Raw packets below UDP, for the DHCP server (rack/dhcp) and for
 * discovery: pure codecs, no I/O, no clock, no logging, no globals.
 *
 *   - An IPv4+UDP datagram without an Ethernet header, for an AF_PACKET
 *     SOCK_DGRAM send (a reply to yiaddr at chaddr, with no ARP entry for
 *     a client that has no address yet). Both checksums are computed.
 *   - An ARP probe (RFC 5227 2.1.1: sender IP 0.0.0.0, target hardware
 *     address zero) and the parse of any ARP packet, for conflict probes
 *     on an AF_PACKET SOCK_DGRAM ETH_P_ARP socket (no Ethernet header).
 *   - An ICMP echo request (the kernel adds the IP header on a raw ICMP
 *     socket) and the parse of an echo reply as a raw ICMP socket delivers
 *     it (IPv4 header first).
 *
 * Addresses are IPv4 in HOST byte order, like the engine and the lease
 * store. Parsers check every length before reading; whatever they accept
 * has been checked completely (header lengths, total length, checksums,
 * no fragments). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAWPKT_IP_HDR_LEN    20
#define RAWPKT_UDP_HDR_LEN   8
#define RAWPKT_ARP_LEN	     28 /* Ethernet/IPv4 ARP, no padding */
#define RAWPKT_ICMP_ECHO_LEN 8	/* type, code, checksum, id, seq */
#define RAWPKT_IP_MAX	     65535

#define RAWPKT_ARP_REQUEST 1
#define RAWPKT_ARP_REPLY   2

#define RAWPKT_ICMP_ECHO_REPLY	 0
#define RAWPKT_ICMP_ECHO_REQUEST 8

/* Internet checksum (RFC 1071) of len bytes, continuing sum (0 to start);
 * returns the folded, complemented 16-bit value in host order. */
uint16_t rawpkt_csum(const void *data, size_t len, uint32_t sum);

/* IPv4 header (no options, TTL 64, DF clear, id ip_id) + UDP header +
 * payload into out. Returns the datagram length, -ENOSPC if cap is too
 * small, -EMSGSIZE if the payload cannot fit one IPv4 datagram. */
int rawpkt_udp_build(uint8_t *out, size_t cap, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
		     uint16_t ip_id, const uint8_t *payload, size_t len);

struct rawpkt_udp {
	uint32_t src, dst;
	uint16_t sport, dport;
	const uint8_t *payload; /* points into the parsed buffer */
	size_t len;
};
/* An IPv4 datagram carrying UDP: header checksum, lengths, no fragment,
 * and the UDP checksum unless it is 0 (none). -EBADMSG if malformed,
 * -ENOMSG if valid IPv4 but not UDP. */
int rawpkt_udp_parse(const uint8_t *buf, size_t len, struct rawpkt_udp *ret);
/* The same; the UDP checksum is checked only when check_udp_csum. A
 * packet socket sees locally delivered frames whose checksum the sender
 * left to offload (veth, TP_STATUS_CSUMNOTREADY) or that the NIC already
 * verified (TP_STATUS_CSUM_VALID): the caller knows, the bytes do not. */
int rawpkt_udp_parse_csum(const uint8_t *buf, size_t len, bool check_udp_csum, struct rawpkt_udp *ret);

struct rawpkt_arp {
	uint16_t op; /* RAWPKT_ARP_REQUEST or RAWPKT_ARP_REPLY */
	uint8_t sha[6];
	uint32_t spa;
	uint8_t tha[6];
	uint32_t tpa;
};
/* Who-has tpa, from sha with sender IP 0.0.0.0 (RFC 5227 probe). */
void rawpkt_arp_probe_build(uint8_t out[RAWPKT_ARP_LEN], const uint8_t sha[6], uint32_t tpa);
/* Ethernet (htype 1, hlen 6) / IPv4 (ptype 0x0800, plen 4) ARP, op 1 or
 * 2; bytes after the 28 (Ethernet padding) are ignored. -EBADMSG
 * otherwise. */
int rawpkt_arp_parse(const uint8_t *buf, size_t len, struct rawpkt_arp *ret);

/* ICMP echo request (header + data) into out. Returns its length, or
 * -ENOSPC. */
int rawpkt_icmp_echo_build(uint8_t *out, size_t cap, uint16_t id, uint16_t seq, const uint8_t *data, size_t len);

struct rawpkt_icmp_echo {
	uint32_t src, dst; /* from the IPv4 header */
	uint16_t id, seq;
	size_t data_len;
};
/* An IPv4 datagram carrying an ICMP echo reply (type 0 code 0): IPv4
 * header checked as rawpkt_udp_parse does, ICMP checksum verified.
 * -EBADMSG if malformed, -ENOMSG if valid but another protocol or ICMP
 * type. */
int rawpkt_icmp_echo_reply_parse(const uint8_t *buf, size_t len, struct rawpkt_icmp_echo *ret);
