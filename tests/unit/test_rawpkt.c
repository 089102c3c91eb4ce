/* Raw packets below UDP (common/wire/rawpkt), as the DHCP server uses them: IPv4+UDP datagrams
 * for replies to chaddr (checksums against values computed independently),
 * RFC 5227 ARP probes and ARP parsing, ICMP echo build and reply parsing,
 * and the strict length/checksum checks of every parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "common/wire/rawpkt.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static const uint8_t mac1[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

static void test_csum_rfc1071(void **state)
{
	/* The classic example header (checksum field zeroed): b861. */
	const uint8_t hdr[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
				 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
	assert_int_equal(rawpkt_csum(hdr, sizeof(hdr), 0), 0xb861);
	/* Odd length: the last byte is the high half of a word. */
	const uint8_t odd[3] = {0x01, 0x02, 0x03};
	assert_int_equal(rawpkt_csum(odd, 3, 0), (uint16_t) ~(0x0102 + 0x0300));
}

static void test_udp_build_known(void **state)
{
	uint8_t out[64];
	const uint8_t payload[5] = {'h', 'e', 'l', 'l', 'o'};
	int n = rawpkt_udp_build(out, sizeof(out), IP(10, 99, 0, 1), IP(10, 99, 0, 100), 67, 68, 0x1234, payload, 5);

	assert_int_equal(n, 20 + 8 + 5);
	assert_int_equal(out[0], 0x45);
	assert_int_equal(out[2] << 8 | out[3], 33); /* total length */
	assert_int_equal(out[4] << 8 | out[5], 0x1234);
	assert_int_equal(out[6] | out[7], 0); /* no fragment bits */
	assert_int_equal(out[8], 64);
	assert_int_equal(out[9], 17);
	assert_int_equal(out[10] << 8 | out[11], 0x536e); /* computed with Python, independently */
	assert_memory_equal(out + 12, ((uint8_t[]){10, 99, 0, 1, 10, 99, 0, 100}), 8);
	assert_int_equal(out[20] << 8 | out[21], 67);
	assert_int_equal(out[22] << 8 | out[23], 68);
	assert_int_equal(out[24] << 8 | out[25], 13);
	assert_int_equal(out[26] << 8 | out[27], 0xa650);
	assert_memory_equal(out + 28, payload, 5);

	struct rawpkt_udp u;
	assert_int_equal(rawpkt_udp_parse(out, (size_t)n, &u), 0);
	assert_int_equal(u.src, IP(10, 99, 0, 1));
	assert_int_equal(u.dst, IP(10, 99, 0, 100));
	assert_int_equal(u.sport, 67);
	assert_int_equal(u.dport, 68);
	assert_int_equal(u.len, 5);
	assert_ptr_equal(u.payload, out + 28);
}

static void test_udp_build_limits(void **state)
{
	static uint8_t big[70000];
	uint8_t small[40];

	assert_int_equal(rawpkt_udp_build(small, sizeof(small), 1, 2, 67, 68, 0, big, 13), -ENOSPC);
	assert_int_equal(rawpkt_udp_build(small, sizeof(small), 1, 2, 67, 68, 0, big, 12), 40);
	assert_int_equal(rawpkt_udp_build(big, sizeof(big), 1, 2, 67, 68, 0, big, 65535 - 27), -EMSGSIZE);
	/* An empty payload is a valid datagram. */
	assert_int_equal(rawpkt_udp_build(small, sizeof(small), 1, 2, 67, 68, 0, NULL, 0), 28);
	/* Every payload length round-trips, odd ones included. */
	static uint8_t pkt[2048], pl[1500];
	for (size_t len = 0; len < sizeof(pl); len += 37) {
		for (size_t i = 0; i < len; i++)
			pl[i] = (uint8_t)(i * 7 + len);
		int n = rawpkt_udp_build(pkt, sizeof(pkt), IP(192, 0, 2, 1), IP(192, 0, 2, 200), 67, 68, 7, pl, len);
		assert_int_equal(n, (int)(28 + len));
		struct rawpkt_udp u;
		assert_int_equal(rawpkt_udp_parse(pkt, (size_t)n, &u), 0);
		assert_int_equal(u.len, len);
		assert_memory_equal(u.payload, pl, len);
	}
}

static int build_hello(uint8_t *out, size_t cap)
{
	const uint8_t payload[5] = {'h', 'e', 'l', 'l', 'o'};
	return rawpkt_udp_build(out, cap, IP(10, 99, 0, 1), IP(10, 99, 0, 100), 67, 68, 0x1234, payload, 5);
}

/* A frame whose UDP checksum was left to offload (veth): the packet socket's
 * caller says so, and only the UDP checksum is let go; the IP header's still
 * counts. */
static void test_udp_parse_offloaded(void **state)
{
	uint8_t p[64];
	struct rawpkt_udp u;
	int n = build_hello(p, sizeof(p));
	p[26] ^= 0x5a; /* a partial checksum, as a sender with offload leaves it */
	assert_int_equal(rawpkt_udp_parse(p, (size_t)n, &u), -EBADMSG);
	assert_int_equal(rawpkt_udp_parse_csum(p, (size_t)n, true, &u), -EBADMSG);
	assert_int_equal(rawpkt_udp_parse_csum(p, (size_t)n, false, &u), 0);
	assert_int_equal(u.dport, 68);
	assert_int_equal(u.len, 5);
	p[10] ^= 0x01; /* the IP header checksum is still checked */
	assert_int_equal(rawpkt_udp_parse_csum(p, (size_t)n, false, &u), -EBADMSG);
}

static void test_udp_parse_strict(void **state)
{
	uint8_t p[64];
	struct rawpkt_udp u;
	int n = build_hello(p, sizeof(p));

	/* Every truncation fails. */
	for (int len = 0; len < n; len++)
		assert_int_equal(rawpkt_udp_parse(p, (size_t)len, &u), -EBADMSG);
	/* Link padding after the datagram is ignored. */
	uint8_t padded[64] = {0};
	memcpy(padded, p, (size_t)n);
	assert_int_equal(rawpkt_udp_parse(padded, 46, &u), 0);
	assert_int_equal(u.len, 5);

	/* A flipped payload bit fails the UDP checksum; with checksum 0 it passes. */
	p[30] ^= 1;
	assert_int_equal(rawpkt_udp_parse(p, (size_t)n, &u), -EBADMSG);
	p[26] = p[27] = 0;
	assert_int_equal(rawpkt_udp_parse(p, (size_t)n, &u), 0);

	/* Header checksum, version, IHL, fragments, lengths, protocol. */
	n = build_hello(p, sizeof(p));
	p[8]--; /* TTL without fixing the checksum */
	assert_int_equal(rawpkt_udp_parse(p, (size_t)n, &u), -EBADMSG);
	n = build_hello(p, sizeof(p));
	p[0] = 0x65;
	assert_int_equal(rawpkt_udp_parse(p, (size_t)n, &u), -EBADMSG);
	n = build_hello(p, sizeof(p));
	p[0] = 0x44;
	assert_int_equal(rawpkt_udp_parse(p, (size_t)n, &u), -EBADMSG);
	n = build_hello(p, sizeof(p));
	p[0] = 0x4f; /* IHL 60 > datagram */
	assert_int_equal(rawpkt_udp_parse(p, (size_t)n, &u), -EBADMSG);

	/* Re-checksummed headers: only the semantic check can reject them. */
	struct {
		size_t off;
		uint8_t val;
		int want;
	} cases[] = {
	    {6, 0x20, -EBADMSG}, /* MF */
	    {7, 0x01, -EBADMSG}, /* fragment offset */
	    {3, 0x22, -EBADMSG}, /* total length 34 > 33 bytes */
	    {3, 0x13, -EBADMSG}, /* total length 19 < header */
	    {3, 0x1b, -EBADMSG}, /* total 27: UDP header cut */
	    {9, 6, -ENOMSG},	 /* TCP */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = build_hello(p, sizeof(p));
		p[cases[i].off] = cases[i].val;
		p[10] = p[11] = 0;
		uint16_t c = rawpkt_csum(p, 20, 0);
		p[10] = (uint8_t)(c >> 8);
		p[11] = (uint8_t)c;
		assert_int_equal(rawpkt_udp_parse(p, (size_t)n, &u), cases[i].want);
	}
	/* UDP length field: too small or beyond the IP datagram. */
	n = build_hello(p, sizeof(p));
	p[25] = 7;
	assert_int_equal(rawpkt_udp_parse(p, (size_t)n, &u), -EBADMSG);
	p[25] = 14;
	assert_int_equal(rawpkt_udp_parse(p, (size_t)n, &u), -EBADMSG);
}

static void test_arp_probe(void **state)
{
	uint8_t p[RAWPKT_ARP_LEN];
	const uint8_t want[RAWPKT_ARP_LEN] = {0x00, 0x01, 0x08, 0x00, 6,  4,  0x00, 0x01, 0x02, 0x00,
					      0x00, 0x00, 0x00, 0x01, 0,  0,  0,    0,	  0,	0,
					      0,    0,	  0,	0,    10, 99, 0,    100};

	memset(p, 0xaa, sizeof(p));
	rawpkt_arp_probe_build(p, mac1, IP(10, 99, 0, 100));
	assert_memory_equal(p, want, sizeof(want));

	struct rawpkt_arp a;
	assert_int_equal(rawpkt_arp_parse(p, sizeof(p), &a), 0);
	assert_int_equal(a.op, RAWPKT_ARP_REQUEST);
	assert_memory_equal(a.sha, mac1, 6);
	assert_int_equal(a.spa, 0);
	assert_int_equal(a.tpa, IP(10, 99, 0, 100));
}

static void test_arp_parse(void **state)
{
	/* A reply as Linux sends it, with Ethernet padding to 46 bytes. */
	uint8_t r[46] = {0x00, 0x01, 0x08, 0x00, 6,    4,    0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x11,
			 10,   99,   0,	   100,	 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0,	   0,	 0,    0};
	struct rawpkt_arp a;

	assert_int_equal(rawpkt_arp_parse(r, sizeof(r), &a), 0);
	assert_int_equal(a.op, RAWPKT_ARP_REPLY);
	assert_int_equal(a.spa, IP(10, 99, 0, 100));
	assert_int_equal(a.sha[5], 0x11);
	assert_int_equal(a.tha[5], 0x01);
	assert_int_equal(a.tpa, 0);
	for (size_t len = 0; len < RAWPKT_ARP_LEN; len++)
		assert_int_equal(rawpkt_arp_parse(r, len, &a), -EBADMSG);
	assert_int_equal(rawpkt_arp_parse(r, RAWPKT_ARP_LEN, &a), 0);

	const size_t offs[] = {1, 2, 4, 5, 7};
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		uint8_t b[46];
		memcpy(b, r, sizeof(b));
		b[offs[i]] ^= 0x04; /* htype, ptype, hlen, plen, op */
		assert_int_equal(rawpkt_arp_parse(b, sizeof(b), &a), -EBADMSG);
	}
}

static void test_icmp_echo_build(void **state)
{
	uint8_t p[16];

	/* id 1 seq 1, no data: ~(0x0800 + 1 + 1) = 0xf7fd. */
	assert_int_equal(rawpkt_icmp_echo_build(p, sizeof(p), 1, 1, NULL, 0), 8);
	assert_memory_equal(p, ((uint8_t[]){8, 0, 0xf7, 0xfd, 0, 1, 0, 1}), 8);
	assert_int_equal(rawpkt_icmp_echo_build(p, sizeof(p), 0xbeef, 7, (const uint8_t *)"ironrack", 8), 16);
	assert_int_equal(rawpkt_csum(p, 16, 0), 0);
	assert_int_equal(rawpkt_icmp_echo_build(p, 15, 1, 1, (const uint8_t *)"ironrack", 8), -ENOSPC);
}

/* An echo reply as a raw ICMP socket delivers it: IPv4 header first. */
static int build_reply(uint8_t *out, uint8_t type, uint16_t id, uint16_t seq)
{
	uint8_t icmp[16];
	int n = rawpkt_icmp_echo_build(icmp, sizeof(icmp), id, seq, (const uint8_t *)"ironrack", 8);
	icmp[0] = type;
	icmp[2] = icmp[3] = 0;
	uint16_t c = rawpkt_csum(icmp, (size_t)n, 0);
	icmp[2] = (uint8_t)(c >> 8);
	icmp[3] = (uint8_t)c;
	/* Reuse the UDP builder for the IPv4 header, then make it ICMP. */
	uint8_t tmp[64];
	int len = rawpkt_udp_build(tmp, sizeof(tmp), IP(192, 0, 2, 7), IP(10, 99, 0, 1), 0, 0, 9, icmp, (size_t)n - 8);
	memcpy(out, tmp, 20);
	memcpy(out + 20, icmp, (size_t)n);
	out[9] = 1;
	out[10] = out[11] = 0;
	c = rawpkt_csum(out, 20, 0);
	out[10] = (uint8_t)(c >> 8);
	out[11] = (uint8_t)c;
	return len;
}

static void test_icmp_reply_parse(void **state)
{
	uint8_t p[64];
	struct rawpkt_icmp_echo e;
	int n = build_reply(p, RAWPKT_ICMP_ECHO_REPLY, 0x1234, 42);

	assert_int_equal(n, 36);
	assert_int_equal(rawpkt_icmp_echo_reply_parse(p, (size_t)n, &e), 0);
	assert_int_equal(e.src, IP(192, 0, 2, 7));
	assert_int_equal(e.dst, IP(10, 99, 0, 1));
	assert_int_equal(e.id, 0x1234);
	assert_int_equal(e.seq, 42);
	assert_int_equal(e.data_len, 8);
	for (int len = 0; len < n; len++)
		assert_int_equal(rawpkt_icmp_echo_reply_parse(p, (size_t)len, &e), -EBADMSG);

	/* Our own echo request (seen on a raw socket too) is not a reply. */
	n = build_reply(p, RAWPKT_ICMP_ECHO_REQUEST, 1, 1);
	assert_int_equal(rawpkt_icmp_echo_reply_parse(p, (size_t)n, &e), -ENOMSG);
	/* Destination unreachable: not a reply. */
	n = build_reply(p, 3, 1, 1);
	assert_int_equal(rawpkt_icmp_echo_reply_parse(p, (size_t)n, &e), -ENOMSG);
	/* A corrupted ICMP checksum. */
	n = build_reply(p, RAWPKT_ICMP_ECHO_REPLY, 1, 1);
	p[30] ^= 0x40;
	assert_int_equal(rawpkt_icmp_echo_reply_parse(p, (size_t)n, &e), -EBADMSG);
	/* UDP, not ICMP. */
	n = build_hello(p, sizeof(p));
	assert_int_equal(rawpkt_icmp_echo_reply_parse(p, (size_t)n, &e), -ENOMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_csum_rfc1071),	cmocka_unit_test(test_udp_build_known),
	    cmocka_unit_test(test_udp_build_limits),	cmocka_unit_test(test_udp_parse_strict),
	    cmocka_unit_test(test_udp_parse_offloaded), cmocka_unit_test(test_arp_probe),
	    cmocka_unit_test(test_arp_parse),		cmocka_unit_test(test_icmp_echo_build),
	    cmocka_unit_test(test_icmp_reply_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
