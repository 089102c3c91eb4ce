/* ARP in Ethernet frames (common/wire/arp.c) and the Ethernet header under
 * it (common/wire/eth.c): frames captured with tcpdump from arping
 * (Habets' arping 2.x) and the kernel's own replies in a pair of network
 * namespaces, their classification, and every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "common/wire/arp.h"
#include "common/wire/eth.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

/* arping -c 1 -I vB 192.0.2.1: who-has 192.0.2.1 tell 192.0.2.2 (padded to 58 by arping) */
static const uint8_t cap_arp_request[58] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x0b, 0x02, 0x08, 0x06, 0x00,
    0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x0b, 0x02, 0xc0, 0x00,
    0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* the kernel's answer: 192.0.2.1 is-at 02:00:00:00:0a:01 (42 bytes, not padded on veth) */
static const uint8_t cap_arp_reply[42] = {
    0x02, 0x00, 0x00, 0x00, 0x0b, 0x02, 0x02, 0x00, 0x00, 0x00, 0x0a, 0x01, 0x08, 0x06,
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x0a, 0x01,
    0xc0, 0x00, 0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x0b, 0x02, 0xc0, 0x00, 0x02, 0x02,
};

/* arping -0: who-has 192.0.2.77 tell 0.0.0.0 (an RFC 5227 probe) */
static const uint8_t cap_arp_probe[58] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x0b, 0x02, 0x08, 0x06, 0x00,
    0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x0b, 0x02, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x4d, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* arping -U -S 192.0.2.2 192.0.2.2: gratuitous request, tha ff:ff:ff:ff:ff:ff */
static const uint8_t cap_arp_gratuitous[58] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x0b, 0x02, 0x08, 0x06, 0x00,
    0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x0b, 0x02, 0xc0, 0x00,
    0x02, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc0, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t mac_a[6] = {0x02, 0x00, 0x00, 0x00, 0x0a, 0x01};
static const uint8_t mac_b[6] = {0x02, 0x00, 0x00, 0x00, 0x0b, 0x02};

static void test_arp_captured(void **state)
{
	struct arp_frame a;

	assert_int_equal(arp_frame_parse(cap_arp_request, sizeof(cap_arp_request), &a, NULL), 0);
	assert_int_equal(a.op, ARP_REQUEST);
	assert_int_equal(a.kind, ARP_KIND_REQUEST);
	assert_memory_equal(a.sha, mac_b, 6);
	assert_memory_equal(a.eth.src, mac_b, 6);
	assert_int_equal(a.spa, IP(192, 0, 2, 2));
	assert_int_equal(a.tpa, IP(192, 0, 2, 1));
	assert_int_equal(a.eth.vlan, ETH_VLAN_NONE);
	assert_true(arp_is_binding(&a));

	assert_int_equal(arp_frame_parse(cap_arp_reply, sizeof(cap_arp_reply), &a, NULL), 0);
	assert_int_equal(a.op, ARP_REPLY);
	assert_int_equal(a.kind, ARP_KIND_REPLY);
	assert_memory_equal(a.sha, mac_a, 6);
	assert_memory_equal(a.tha, mac_b, 6);
	assert_int_equal(a.spa, IP(192, 0, 2, 1));
	assert_true(arp_is_binding(&a));

	assert_int_equal(arp_frame_parse(cap_arp_probe, sizeof(cap_arp_probe), &a, NULL), 0);
	assert_int_equal(a.kind, ARP_KIND_PROBE);
	assert_int_equal(a.tpa, IP(192, 0, 2, 77));
	assert_false(arp_is_binding(&a));

	assert_int_equal(arp_frame_parse(cap_arp_gratuitous, sizeof(cap_arp_gratuitous), &a, NULL), 0);
	assert_int_equal(a.kind, ARP_KIND_GRATUITOUS);
	assert_int_equal(a.spa, IP(192, 0, 2, 2));
	assert_true(arp_is_binding(&a));
	assert_string_equal(arp_kind_name(a.kind), "gratuitous");
}

/* The same request with an 802.1Q tag (VID 100, priority 5) after the
 * source MAC, as libpcap hands a tagged frame over. */
static size_t tagged(uint8_t *out, const uint8_t *frame, size_t len, uint16_t tpid, uint16_t tci)
{
	memcpy(out, frame, 12);
	out[12] = (uint8_t)(tpid >> 8);
	out[13] = (uint8_t)tpid;
	out[14] = (uint8_t)(tci >> 8);
	out[15] = (uint8_t)tci;
	memcpy(out + 16, frame + 12, len - 12);
	return len + 4;
}

static void test_arp_vlan(void **state)
{
	uint8_t buf[128], buf2[128];
	struct arp_frame a;
	const char *why = NULL;

	size_t n = tagged(buf, cap_arp_reply, sizeof(cap_arp_reply), 0x8100, 0xa064);
	assert_int_equal(arp_frame_parse(buf, n, &a, &why), 0);
	assert_int_equal(a.eth.vlan, 100);
	assert_int_equal(a.spa, IP(192, 0, 2, 1));
	assert_memory_equal(a.sha, mac_a, 6);
	/* priority-tagged (VID 0) is untagged */
	n = tagged(buf, cap_arp_reply, sizeof(cap_arp_reply), 0x8100, 0xe000);
	assert_int_equal(arp_frame_parse(buf, n, &a, &why), 0);
	assert_int_equal(a.eth.vlan, ETH_VLAN_NONE);
	/* two tags: refused, whichever the outer TPID */
	n = tagged(buf, cap_arp_reply, sizeof(cap_arp_reply), 0x8100, 100);
	size_t n2 = tagged(buf2, buf, n, 0x8100, 200);
	assert_int_equal(arp_frame_parse(buf2, n2, &a, &why), -EBADMSG);
	assert_string_equal(why, "more than one VLAN tag");
	n2 = tagged(buf2, buf, n, 0x88a8, 200);
	assert_int_equal(arp_frame_parse(buf2, n2, &a, &why), -EBADMSG);
	/* a tag cut short */
	assert_int_equal(arp_frame_parse(buf, 15, &a, &why), -EBADMSG);
	assert_string_equal(why, "frame shorter than its VLAN tag");
}

static void test_arp_refused(void **state)
{
	uint8_t f[64];
	struct arp_frame a;
	const char *why = NULL;

	/* every cut of the 42 meaningful bytes */
	for (size_t len = 0; len < 42; len++) {
		why = NULL;
		assert_int_equal(arp_frame_parse(cap_arp_reply, len, &a, &why), -EBADMSG);
		assert_non_null(why);
	}
	struct {
		size_t off;
		uint8_t val;
		const char *why;
	} bad[] = {
	    {15, 6, "ARP hardware is not Ethernet (htype 1, hlen 6)"},	   /* htype 6 (IEEE 802) */
	    {18, 8, "ARP hardware is not Ethernet (htype 1, hlen 6)"},	   /* hlen 8 */
	    {16, 0x86, "ARP protocol is not IPv4 (ptype 0x0800, plen 4)"}, /* ptype 0x86dd */
	    {19, 16, "ARP protocol is not IPv4 (ptype 0x0800, plen 4)"},   /* plen 16 */
	    {21, 3, "ARP operation is neither request nor reply"},	   /* RARP request */
	    {21, 0, "ARP operation is neither request nor reply"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(f, cap_arp_reply, sizeof(cap_arp_reply));
		f[bad[i].off] = bad[i].val;
		if (bad[i].off == 16)
			f[17] = 0xdd;
		assert_int_equal(arp_frame_parse(f, sizeof(cap_arp_reply), &a, &why), -EBADMSG);
		assert_string_equal(why, bad[i].why);
	}
	/* not ARP: IPv4 EtherType, well formed Ethernet */
	memcpy(f, cap_arp_reply, sizeof(cap_arp_reply));
	f[13] = 0x00;
	assert_int_equal(arp_frame_parse(f, sizeof(cap_arp_reply), &a, &why), -ENOMSG);
	/* 802.3 length instead of a type */
	f[12] = 0x00;
	f[13] = 0x2e;
	assert_int_equal(arp_frame_parse(f, sizeof(cap_arp_reply), &a, &why), -EBADMSG);
	assert_string_equal(why, "802.3 length field, not an Ethernet II type");
	/* why may be NULL */
	assert_int_equal(arp_frame_parse(cap_arp_reply, 20, &a, NULL), -EBADMSG);
}

static void test_arp_no_binding(void **state)
{
	uint8_t f[64];
	struct arp_frame a;

	/* a multicast or zero sender MAC binds nothing, even from an address */
	memcpy(f, cap_arp_request, sizeof(cap_arp_request));
	f[22] = 0x01;
	assert_int_equal(arp_frame_parse(f, sizeof(cap_arp_request), &a, NULL), 0);
	assert_int_equal(a.kind, ARP_KIND_REQUEST);
	assert_false(arp_is_binding(&a));
	memset(f + 22, 0, 6);
	assert_int_equal(arp_frame_parse(f, sizeof(cap_arp_request), &a, NULL), 0);
	assert_false(arp_is_binding(&a));
	/* a gratuitous reply (arping -A style) is a binding too */
	memcpy(f, cap_arp_gratuitous, sizeof(cap_arp_gratuitous));
	f[21] = ARP_REPLY;
	assert_int_equal(arp_frame_parse(f, sizeof(cap_arp_gratuitous), &a, NULL), 0);
	assert_int_equal(a.kind, ARP_KIND_GRATUITOUS);
	assert_true(arp_is_binding(&a));
}

static void test_arp_request_build(void **state)
{
	uint8_t out[128];
	struct arp_frame a;

	/* untagged: byte for byte what arping sent, up to the padding length */
	int n = arp_request_build(out, sizeof(out), mac_b, IP(192, 0, 2, 2), IP(192, 0, 2, 1), 0);
	assert_int_equal(n, ETH_MIN_FRAME_LEN);
	assert_memory_equal(out, cap_arp_request, 42);
	for (int i = 42; i < n; i++)
		assert_int_equal(out[i], 0);
	assert_int_equal(arp_frame_parse(out, (size_t)n, &a, NULL), 0);
	assert_int_equal(a.kind, ARP_KIND_REQUEST);
	assert_int_equal(a.spa, IP(192, 0, 2, 2));
	assert_int_equal(a.tpa, IP(192, 0, 2, 1));
	assert_memory_equal(a.sha, mac_b, 6);

	/* tagged, and a probe */
	n = arp_request_build(out, sizeof(out), mac_a, 0, IP(198, 51, 100, 9), 4094);
	assert_int_equal(n, ETH_MIN_FRAME_LEN);
	assert_int_equal(out[12] << 8 | out[13], 0x8100);
	assert_int_equal(arp_frame_parse(out, (size_t)n, &a, NULL), 0);
	assert_int_equal(a.eth.vlan, 4094);
	assert_int_equal(a.kind, ARP_KIND_PROBE);
	assert_int_equal(a.tpa, IP(198, 51, 100, 9));
	assert_memory_equal(a.eth.src, mac_a, 6);
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	assert_memory_equal(a.eth.dst, bcast, 6);

	/* limits */
	assert_int_equal(arp_request_build(out, 59, mac_a, 1, 2, 0), -ENOSPC);
	assert_int_equal(arp_request_build(out, 10, mac_a, 1, 2, 0), -ENOSPC);
	assert_int_equal(arp_request_build(out, sizeof(out), mac_a, 1, 2, 4095), -EINVAL);
	assert_int_equal(arp_request_build(out, sizeof(out), bcast, 1, 2, 0), -EINVAL);
}

static void test_eth_format(void **state)
{
	char s[18];
	eth_addr_format(mac_a, s);
	assert_string_equal(s, "02:00:00:00:0a:01");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_arp_captured),      cmocka_unit_test(test_arp_vlan),
	    cmocka_unit_test(test_arp_refused),	      cmocka_unit_test(test_arp_no_binding),
	    cmocka_unit_test(test_arp_request_build), cmocka_unit_test(test_eth_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
