/* DHCPv4 codec (common/wire/dhcp4), encoding: limits, overload on the way
 * out, option editing, random round trips, option value encoders and the
 * snippet parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/net.h"
#include "common/wire/dhcp4.h"
#include "tests/unit/dhcp4_util.h"

/* ---- encoding ------------------------------------------------------------- */

static void offer(struct dhcp4_msg *m)
{
	static struct dhcp4_msg req;
	dhcp4_msg_init(&req);
	req.op = DHCP4_BOOTREQUEST;
	req.htype = 1;
	req.hlen = 6;
	req.xid = 0xdeadbeef;
	req.flags = DHCP4_FLAG_BROADCAST;
	req.giaddr = ip4("10.0.0.1");
	memcpy(req.chaddr, mac1, 6);
	dhcp4_msg_reply_init(m, &req, DHCP4_OFFER);
	assert_int_equal(m->op, DHCP4_BOOTREPLY);
	assert_int_equal(m->xid, 0xdeadbeef);
	assert_int_equal(m->flags, DHCP4_FLAG_BROADCAST);
	assert_int_equal(m->giaddr, req.giaddr);
	assert_memory_equal(m->chaddr, mac1, 6);
	assert_int_equal(dhcp4_msg_type(m), DHCP4_OFFER);
	m->yiaddr = ip4("10.0.0.50");
	m->siaddr = ip4("10.0.0.2");
	assert_int_equal(dhcp4_msg_set_ip(m, DHCP4_OPT_SERVER_ID, ip4("10.0.0.2")), 0);
	assert_int_equal(dhcp4_msg_set_u32(m, DHCP4_OPT_LEASE_TIME, 600), 0);
	assert_int_equal(dhcp4_msg_set_ip(m, DHCP4_OPT_SUBNET_MASK, ip4("255.255.255.0")), 0);
	uint32_t r[2] = {ip4("10.0.0.1"), ip4("10.0.0.254")};
	assert_int_equal(dhcp4_msg_set_ips(m, DHCP4_OPT_ROUTER, r, 2), 0);
	assert_int_equal(dhcp4_msg_set_string(m, DHCP4_OPT_DOMAIN_NAME, "maas.example"), 0);
	assert_int_equal(dhcp4_msg_set_u16(m, DHCP4_OPT_MTU, 9000), 0);
}

static void test_encode_basic(void **state)
{
	static struct dhcp4_msg m;
	static uint8_t buf[1500];
	uint32_t v;
	uint16_t mtu;

	offer(&m);
	int n = dhcp4_msg_encode(&m, 576, buf, sizeof(buf));
	assert_int_equal(n, DHCP4_BOOTP_MIN_LEN); /* padded */
	/* 53 first, then 54, in the order set. */
	assert_memory_equal(buf + 240, ((const uint8_t[]){53, 1, 2, 54, 4, 10, 0, 0, 2}), 9);
	assert_int_equal(buf[299], 0);
	assert_int_equal(roundtrip(&m, 576), 300);
	assert_int_equal(dhcp4_msg_get_u32(&m, DHCP4_OPT_LEASE_TIME, &v), 0);
	assert_int_equal(v, 600);
	assert_int_equal(dhcp4_msg_get_u16(&m, DHCP4_OPT_MTU, &mtu), 0);
	assert_int_equal(mtu, 9000);
	assert_int_equal(dhcp4_msg_get_u16(&m, DHCP4_OPT_LEASE_TIME, &mtu), -EBADMSG);

	strcpy(m.file, "lpxelinux.0");
	strcpy(m.sname, "rack1");
	n = roundtrip(&m, 576);
	assert_memory_equal(buf + 108, "\0", 1);
	assert_int_equal(dhcp4_msg_encode(&m, 576, buf, sizeof(buf)), n);
	assert_string_equal((const char *)buf + 108, "lpxelinux.0");
	assert_string_equal((const char *)buf + 44, "rack1");

	/* Too small a buffer; bad structs. */
	assert_int_equal(dhcp4_msg_encode(&m, 576, buf, 299), -ENOSPC);
	m.hlen = 17;
	assert_int_equal(dhcp4_msg_encode(&m, 576, buf, sizeof(buf)), -EINVAL);
	m.hlen = 6;
	m.sname[64] = 'x';
	assert_int_equal(dhcp4_msg_encode(&m, 576, buf, sizeof(buf)), -EINVAL);
	m.sname[64] = 0;
	m.options[1].code = 53; /* the same code twice */
	assert_int_equal(dhcp4_msg_encode(&m, 576, buf, sizeof(buf)), -EINVAL);
	m.options[1].code = 52;
	assert_int_equal(dhcp4_msg_encode(&m, 576, buf, sizeof(buf)), -EINVAL);
	m.options[1].code = 54;
	assert_int_equal(dhcp4_msg_option_set(&m, 52, "\1", 1), -EINVAL);
	assert_int_equal(dhcp4_msg_option_set(&m, 0, "\1", 1), -EINVAL);
	assert_int_equal(dhcp4_msg_option_set(&m, 255, "\1", 1), -EINVAL);
	assert_int_equal(dhcp4_msg_encode(&m, 576, buf, sizeof(buf)), n);
}

/* More options than 576 bytes allow: overload into file, then sname. */
static void test_encode_overload(void **state)
{
	static struct dhcp4_msg m, q;
	static uint8_t buf[1500], val[200];

	offer(&m);
	for (size_t i = 0; i < sizeof(val); i++)
		val[i] = (uint8_t)i;
	assert_int_equal(dhcp4_msg_option_set(&m, 43, val, 200), 0);
	assert_int_equal(dhcp4_msg_option_set(&m, 224, val, 60), 0);
	/* About 330 bytes of options: over 308, fits with file. */
	int n = dhcp4_msg_encode(&m, 576, buf, sizeof(buf));
	assert_true(n > 0 && n <= 548);
	assert_int_equal(dhcp4_msg_decode(buf, (size_t)n, &q, NULL), 0);
	assert_int_equal(q.overload, DHCP4_OVERLOAD_FILE);
	assert_true(dhcp4_msg_equal(&m, &q));
	roundtrip(&m, 576);
	/* A client that accepts 1500 bytes gets no overload. */
	n = dhcp4_msg_encode(&m, 1500, buf, sizeof(buf));
	assert_int_equal(dhcp4_msg_decode(buf, (size_t)n, &q, NULL), 0);
	assert_int_equal(q.overload, 0);
	/* max_size under 576 counts as 576. */
	assert_int_equal(dhcp4_msg_encode(&m, 300, buf, sizeof(buf)), dhcp4_msg_encode(&m, 576, buf, sizeof(buf)));

	/* Enough to need sname too. */
	assert_int_equal(dhcp4_msg_option_set(&m, 225, val, 120), 0);
	n = dhcp4_msg_encode(&m, 576, buf, sizeof(buf));
	assert_true(n > 0 && n <= 548);
	assert_int_equal(dhcp4_msg_decode(buf, (size_t)n, &q, NULL), 0);
	assert_int_equal(q.overload, 3);
	assert_true(dhcp4_msg_equal(&m, &q));
	roundtrip(&m, 576);

	/* A boot file name is kept: sname only, and then it does not fit. */
	strcpy(m.file, "bootx64.efi");
	assert_int_equal(dhcp4_msg_encode(&m, 576, buf, sizeof(buf)), -EMSGSIZE);
	assert_int_equal(dhcp4_msg_option_remove(&m, 225), 0);
	n = dhcp4_msg_encode(&m, 576, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(dhcp4_msg_decode(buf, (size_t)n, &q, NULL), 0);
	assert_int_equal(q.overload, DHCP4_OVERLOAD_SNAME);
	assert_string_equal(q.file, "bootx64.efi");
	assert_true(dhcp4_msg_equal(&m, &q));
	/* Both fields in use: no room to overload. */
	strcpy(m.sname, "rack");
	assert_int_equal(dhcp4_msg_encode(&m, 576, buf, sizeof(buf)), -EMSGSIZE);
	assert_true(dhcp4_msg_encode(&m, 1000, buf, sizeof(buf)) > 0);
}

/* Overload fills areas exactly; every size from small to too big either
 * encodes within the limit and round-trips or says -EMSGSIZE. */
static void test_encode_overload_sizes(void **state)
{
	static struct dhcp4_msg m;
	static uint8_t buf[1500], val[700];
	int last = 0;

	for (size_t i = 0; i < sizeof(val); i++)
		val[i] = (uint8_t)(i ^ 0x5a);
	for (size_t len = 200; len <= 600; len++) {
		offer(&m);
		assert_int_equal(dhcp4_msg_option_set(&m, 43, val, len), 0);
		assert_int_equal(dhcp4_msg_option_set(&m, 12, "h", 1), 0);
		int n = dhcp4_msg_encode(&m, 576, buf, sizeof(buf));
		assert_int_equal(dhcp4_msg_encoded_len(&m, 576), n);
		if (n == -EMSGSIZE) {
			last = -1;
			continue;
		}
		assert_int_equal(last, 0); /* once too big, stays too big */
		assert_true(n > 0 && n <= 548);
		roundtrip(&m, 576);
	}
	assert_int_equal(last, -1);
}

static void test_option_set_remove(void **state)
{
	static struct dhcp4_msg m;
	size_t len;

	dhcp4_msg_init(&m);
	assert_int_equal(dhcp4_msg_set_string(&m, 12, "alpha"), 0);
	assert_int_equal(dhcp4_msg_set_string(&m, 15, "example.com"), 0);
	assert_int_equal(dhcp4_msg_set_string(&m, 17, "/root"), 0);
	assert_int_equal(dhcp4_msg_set_string(&m, 15, "ex"), 0); /* replaced, keeps position */
	assert_int_equal(m.n_options, 3);
	assert_int_equal(m.options[1].code, 15);
	assert_int_equal(m.optbuf_used, 5 + 2 + 5);
	const uint8_t *v = dhcp4_msg_option(&m, 15, &len);
	assert_int_equal(len, 2);
	assert_memory_equal(v, "ex", 2);
	v = dhcp4_msg_option(&m, 17, &len);
	assert_memory_equal(v, "/root", 5);
	v = dhcp4_msg_option(&m, 12, &len);
	assert_memory_equal(v, "alpha", 5);
	assert_int_equal(dhcp4_msg_option_remove(&m, 12), 0);
	assert_int_equal(dhcp4_msg_option_remove(&m, 12), -ENOENT);
	assert_int_equal(m.n_options, 2);
	assert_int_equal(m.optbuf_used, 7);
	v = dhcp4_msg_option(&m, 17, &len);
	assert_memory_equal(v, "/root", 5);
	v = dhcp4_msg_option(&m, 15, &len);
	assert_memory_equal(v, "ex", 2);
	/* Arena full: -ENOSPC and the message unchanged. */
	static uint8_t big[DHCP4_OPTBUF_MAX];
	assert_int_equal(dhcp4_msg_option_set(&m, 43, big, sizeof(big)), -ENOSPC);
	assert_int_equal(dhcp4_msg_option_set(&m, 43, big, sizeof(big) - 7), 0);
	assert_int_equal(dhcp4_msg_option_set(&m, 44, big, 1), -ENOSPC);
	assert_int_equal(dhcp4_msg_option_set(&m, 43, big, 10), 0);
	assert_int_equal(m.optbuf_used, 17);
	/* Table full. */
	dhcp4_msg_init(&m);
	for (unsigned c = 1; c < 255; c++) {
		if (c != 52)
			assert_int_equal(dhcp4_msg_set_u8(&m, (uint8_t)c, (uint8_t)c), 0);
	}
	assert_int_equal(m.n_options, 253);
	struct ipaddr a;
	dhcp4_ip_to_ipaddr(ip4("192.0.2.7"), &a);
	assert_int_equal(a.family, AF_INET);
	assert_memory_equal(a.bytes, ((const uint8_t[]){192, 0, 2, 7}), 4);
}

/* Pseudo-random messages: encode, decode, compare, for many sizes. */
static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

static void test_roundtrip_random(void **state)
{
	static struct dhcp4_msg m;
	static uint8_t val[1200], buf[70000];
	unsigned ok = 0, too_big = 0;

	for (int iter = 0; iter < 3000; iter++) {
		dhcp4_msg_init(&m);
		m.op = (uint8_t)(1 + rnd() % 2);
		m.htype = (uint8_t)rnd();
		m.hlen = (uint8_t)(rnd() % 17);
		m.hops = (uint8_t)rnd();
		m.xid = rnd() ^ (rnd() << 16);
		m.secs = (uint16_t)rnd();
		m.flags = (uint16_t)rnd();
		m.ciaddr = rnd();
		m.yiaddr = rnd();
		m.siaddr = rnd();
		m.giaddr = rnd();
		for (size_t i = 0; i < 16; i++)
			m.chaddr[i] = (uint8_t)rnd();
		if (rnd() % 3 == 0)
			memset(m.sname, 'a' + (int)(rnd() % 26), rnd() % 65);
		if (rnd() % 3 == 0)
			memset(m.file, 'b', rnd() % 129);
		unsigned nopt = rnd() % 20;
		for (unsigned k = 0; k < nopt; k++) {
			uint8_t code = (uint8_t)(1 + rnd() % 254);
			size_t len = rnd() % 4 == 0 ? rnd() % sizeof(val) : rnd() % 40;
			for (size_t i = 0; i < len; i++)
				val[i] = (uint8_t)rnd();
			int r = dhcp4_msg_option_set(&m, code, val, len);
			assert_int_equal(r, code == 52 ? -EINVAL : 0);
		}
		size_t max = rnd() % 2 ? 576 : 576 + rnd() % 3000;
		int n = dhcp4_msg_encode(&m, max, buf, sizeof(buf));
		/* the plan without a buffer says the same, the engine's fit test */
		assert_int_equal(dhcp4_msg_encoded_len(&m, max), n);
		if (n == -EMSGSIZE) {
			too_big++;
			continue;
		}
		assert_true(n > 0);
		roundtrip(&m, max);
		ok++;
	}
	assert_true(ok > 1000);
	assert_true(too_big > 10);
}

/* ---- option value encoders ------------------------------------------- */

/* RFC 3442 section 3: the destination descriptors of its table. */
static void test_routes_rfc3442(void **state)
{
	static const struct {
		const char *dest;
		uint8_t plen;
		uint8_t want[6];
		size_t want_len;
	} v[] = {
	    {"0.0.0.0", 0, {0}, 1},
	    {"10.0.0.0", 8, {8, 10}, 2},
	    {"10.0.0.0", 24, {24, 10, 0, 0}, 4},
	    {"10.17.0.0", 16, {16, 10, 17}, 3},
	    {"10.27.129.0", 24, {24, 10, 27, 129}, 4},
	    {"10.229.0.128", 25, {25, 10, 229, 0, 128}, 5},
	    {"10.198.122.47", 32, {32, 10, 198, 122, 47}, 5},
	};
	uint8_t buf[64], all[256];
	struct dhcp4_route routes[7], back[7];
	size_t total = 0;

	for (size_t i = 0; i < 7; i++) {
		routes[i] = (struct dhcp4_route){ip4(v[i].dest), v[i].plen, ip4("192.0.2.1")};
		int n = dhcp4_routes_encode(&routes[i], 1, buf, sizeof(buf));
		assert_int_equal(n, (int)v[i].want_len + 4);
		assert_memory_equal(buf, v[i].want, v[i].want_len);
		assert_memory_equal(buf + v[i].want_len, ((const uint8_t[]){192, 0, 2, 1}), 4);
		total += (size_t)n;
	}
	int n = dhcp4_routes_encode(routes, 7, all, sizeof(all));
	assert_int_equal(n, (int)total);
	assert_int_equal(dhcp4_routes_decode(all, (size_t)n, back, 7), 7);
	for (size_t i = 0; i < 7; i++) {
		assert_int_equal(back[i].dest, routes[i].dest);
		assert_int_equal(back[i].prefix_len, routes[i].prefix_len);
		assert_int_equal(back[i].gateway, routes[i].gateway);
	}
	assert_int_equal(dhcp4_routes_decode(all, (size_t)n, back, 2), 7);

	/* Host bits beyond the prefix are not encoded. */
	struct dhcp4_route h = {ip4("10.17.255.9"), 12, ip4("10.0.0.1")};
	assert_int_equal(dhcp4_routes_encode(&h, 1, buf, sizeof(buf)), 7);
	assert_memory_equal(buf, ((const uint8_t[]){12, 10, 16}), 3);
	h.prefix_len = 33;
	assert_int_equal(dhcp4_routes_encode(&h, 1, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(dhcp4_routes_encode(routes, 7, all, 10), -ENOSPC);
	static const uint8_t bad1[] = {33, 1, 2, 3, 4, 5, 6, 7, 8};
	static const uint8_t bad2[] = {24, 10, 0, 0, 192, 0, 2};
	assert_int_equal(dhcp4_routes_decode(bad1, sizeof(bad1), back, 7), -EBADMSG);
	assert_int_equal(dhcp4_routes_decode(bad2, sizeof(bad2), back, 7), -EBADMSG);
	assert_int_equal(dhcp4_routes_decode(bad2, 0, back, 7), 0);
}

/* RFC 3397 section 2's example names, uncompressed. */
static void test_domain_search(void **state)
{
	uint8_t buf[128];
	const char *names[] = {"eng.apple.com.", "marketing.apple.com"};
	static const uint8_t want[] = {3,   'e', 'n', 'g', 5,	'a', 'p', 'p', 'l', 'e', 3,   'c',
				       'o', 'm', 0,   9,   'm', 'a', 'r', 'k', 'e', 't', 'i', 'n',
				       'g', 5,	 'a', 'p', 'p', 'l', 'e', 3,   'c', 'o', 'm', 0};
	assert_int_equal(dhcp4_domain_search_encode(names, 2, buf, sizeof(buf)), (int)sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(dhcp4_domain_search_encode(names, 2, buf, 20), -ENOSPC);
	const char *bad[] = {"", ".", "a..b", "a.", "x..", ".a"};
	assert_int_equal(dhcp4_domain_search_encode(&bad[3], 1, buf, sizeof(buf)), 3);
	for (size_t i = 0; i < 6; i++) {
		if (i != 3)
			assert_int_equal(dhcp4_domain_search_encode(&bad[i], 1, buf, sizeof(buf)), -EINVAL);
	}
	char label[70];
	memset(label, 'l', 64);
	label[64] = 0;
	const char *longl[] = {label};
	assert_int_equal(dhcp4_domain_search_encode(longl, 1, buf, sizeof(buf)), -EINVAL);
}

/* ---- snippets ------------------------------------------------------------- */

static void snippet_ok(unsigned code, const char *type, const char *value, const uint8_t *want, size_t want_len)
{
	uint8_t buf[DHCP4_SNIPPET_MAX];
	const char *why = "unset";
	int n = dhcp4_snippet_encode(code, type, value, buf, sizeof(buf), &why);
	if (n < 0)
		fail_msg("%s %s '%s': %s", type, value, value, why);
	assert_int_equal(n, (int)want_len);
	assert_memory_equal(buf, want, want_len);
	assert_null(why);
}

#define SNIPPET_OK(code, type, value, ...)                                                                             \
	snippet_ok(code, type, value, (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}))

static const char *snippet_bad(unsigned code, const char *type, const char *value)
{
	uint8_t buf[DHCP4_SNIPPET_MAX];
	const char *why = NULL;
	assert_int_equal(dhcp4_snippet_encode(code, type, value, buf, sizeof(buf), &why), -EINVAL);
	assert_non_null(why);
	return why;
}

static void test_snippets(void **state)
{
	SNIPPET_OK(23, "u8", "64", 64);
	SNIPPET_OK(23, "u8", " 0xff ", 255);
	SNIPPET_OK(26, "u16", "9000", 0x23, 0x28);
	SNIPPET_OK(51, "u32", "4294967295", 255, 255, 255, 255);
	SNIPPET_OK(2, "i32", "-3600", 0xff, 0xff, 0xf1, 0xf0);
	SNIPPET_OK(2, "i32", "2147483647", 0x7f, 0xff, 0xff, 0xff);
	SNIPPET_OK(19, "bool", "true", 1);
	SNIPPET_OK(19, "bool", "Off", 0);
	SNIPPET_OK(19, "bool", "1", 1);
	SNIPPET_OK(42, "ip", "192.0.2.10", 192, 0, 2, 10);
	SNIPPET_OK(6, "ips", "192.0.2.1, 192.0.2.2 198.51.100.1", 192, 0, 2, 1, 192, 0, 2, 2, 198, 51, 100, 1);
	SNIPPET_OK(15, "string", "example.com", 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm');
	SNIPPET_OK(43, "hex", "01:02:0a:FF", 1, 2, 10, 255);
	SNIPPET_OK(43, "hex", "0x0102abcd", 1, 2, 0xab, 0xcd);
	SNIPPET_OK(43, "hex", "1:2 3", 1, 2, 3);
	SNIPPET_OK(121, "routes", "10.0.0.0/8 via 192.0.2.1, 0.0.0.0/0 192.0.2.254", 8, 10, 192, 0, 2, 1, 0, 192, 0, 2,
		   254);
	SNIPPET_OK(249, "routes", "10.229.0.128/25 via 10.0.0.1", 25, 10, 229, 0, 128, 10, 0, 0, 1);
	SNIPPET_OK(254, "u8", "0", 0);

	assert_string_equal(snippet_bad(0, "u8", "1"), "option code must be 1..254");
	snippet_bad(255, "u8", "1");
	snippet_bad(300, "u8", "1");
	assert_string_equal(snippet_bad(53, "u8", "1"), "options 52 and 53 are set by the server");
	snippet_bad(52, "u8", "1");
	assert_string_equal(snippet_bad(23, "u9", "1"), "unknown type");
	assert_string_equal(snippet_bad(23, "u8", "256"), "number out of range");
	snippet_bad(23, "u8", "-1");
	snippet_bad(23, "u8", "");
	assert_string_equal(snippet_bad(23, "u8", "12a"), "not a number");
	snippet_bad(23, "u8", "0x");
	snippet_bad(26, "u16", "65536");
	snippet_bad(51, "u32", "4294967296");
	snippet_bad(51, "u32", "99999999999999999999999");
	snippet_bad(2, "i32", "2147483648");
	snippet_bad(2, "i32", "-2147483649");
	snippet_bad(19, "bool", "maybe");
	assert_string_equal(snippet_bad(42, "ip", "192.0.2"), "not an IPv4 address");
	snippet_bad(42, "ip", "2001:db8::1");
	snippet_bad(42, "ip", "192.0.2.1, 192.0.2.2");
	snippet_bad(6, "ips", "192.0.2.1,,nope");
	assert_string_equal(snippet_bad(6, "ips", " , "), "empty value");
	snippet_bad(15, "string", "");
	snippet_bad(43, "hex", "0g");
	assert_string_equal(snippet_bad(43, "hex", "123"), "odd number of hex digits");
	snippet_bad(43, "hex", "");
	assert_string_equal(snippet_bad(121, "routes", "10.0.0.1/8 via 192.0.2.1"), "route prefix has host bits set");
	snippet_bad(121, "routes", "10.0.0.0/8");
	snippet_bad(121, "routes", "10.0.0.0/8 via");
	snippet_bad(121, "routes", "10.0.0.0/33 via 192.0.2.1");
	snippet_bad(121, "routes", "2001:db8::/32 via 192.0.2.1");
	snippet_bad(121, "routes", "10.0.0.0/8 by 192.0.2.1");
	assert_string_equal(snippet_bad(121, "routes", "10.0.0.0/8 via 192.0.2.1,"), "empty route");
	snippet_bad(121, "routes", "10.0.0.0/8 via 192.0.2.1,,10.0.0.0/8 via 192.0.2.1");
	snippet_bad(121, "routes", "");
	snippet_bad(15, NULL, "x");

	/* Length limit and buffer size. */
	static char longs[DHCP4_SNIPPET_MAX + 2];
	memset(longs, 'x', DHCP4_SNIPPET_MAX);
	uint8_t buf[DHCP4_SNIPPET_MAX], small[4];
	assert_int_equal(dhcp4_snippet_encode(15, "string", longs, buf, sizeof(buf), NULL), DHCP4_SNIPPET_MAX);
	longs[DHCP4_SNIPPET_MAX] = 'x';
	assert_string_equal(snippet_bad(15, "string", longs), "value longer than 1024 bytes");
	assert_int_equal(dhcp4_snippet_encode(15, "string", "hello", small, sizeof(small), NULL), -ENOSPC);

	/* A snippet's bytes go into a message and come back out. */
	static struct dhcp4_msg m, q;
	static uint8_t pkt[1500];
	int n = dhcp4_snippet_encode(121, "routes", "10.0.0.0/8 via 192.0.2.1", buf, sizeof(buf), NULL);
	assert_true(n > 0);
	offer(&m);
	assert_int_equal(dhcp4_msg_option_set(&m, 121, buf, (size_t)n), 0);
	int len = dhcp4_msg_encode(&m, 576, pkt, sizeof(pkt));
	assert_true(len > 0);
	assert_int_equal(dhcp4_msg_decode(pkt, (size_t)len, &q, NULL), 0);
	struct dhcp4_route r;
	size_t vlen;
	const uint8_t *v = dhcp4_msg_option(&q, 121, &vlen);
	assert_int_equal(dhcp4_routes_decode(v, vlen, &r, 1), 1);
	assert_int_equal(r.dest, ip4("10.0.0.0"));
	assert_int_equal(r.prefix_len, 8);
	assert_int_equal(r.gateway, ip4("192.0.2.1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode_basic),	  cmocka_unit_test(test_encode_overload),
	    cmocka_unit_test(test_encode_overload_sizes), cmocka_unit_test(test_option_set_remove),
	    cmocka_unit_test(test_roundtrip_random),	  cmocka_unit_test(test_routes_rfc3442),
	    cmocka_unit_test(test_domain_search),	  cmocka_unit_test(test_snippets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
