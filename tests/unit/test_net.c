#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "common/net.h"

static struct ipaddr addr(const char *s)
{
	struct ipaddr a;
	assert_int_equal(ipaddr_parse(s, &a), 0);
	return a;
}

static struct ipprefix prefix(const char *s)
{
	struct ipprefix p;
	assert_int_equal(ipprefix_parse(s, true, &p), 0);
	return p;
}

/* Does a equal the address written as s? */
static bool addr_is(const struct ipaddr *a, const char *s)
{
	struct ipaddr b = addr(s);
	return ipaddr_equal(a, &b);
}

static int cmp(const char *x, const char *y)
{
	struct ipaddr a = addr(x), b = addr(y);
	return ipaddr_cmp(&a, &b);
}

static int add(const char *s, u128 delta, struct ipaddr *ret)
{
	struct ipaddr a = addr(s);
	return ipaddr_add(&a, delta, ret);
}

static bool contains(const struct ipprefix *p, const char *s)
{
	struct ipaddr a = addr(s);
	return ipprefix_contains(p, &a);
}

static int make(const char *s, unsigned len, struct ipprefix *ret)
{
	struct ipaddr a = addr(s);
	return ipprefix_make(&a, len, ret);
}

/* Parse and format again; the text must come back in canonical form. */
static void check_addr_roundtrip(const char *in, const char *canonical)
{
	char buf[IPADDR_STRLEN];
	struct ipaddr a = addr(in);
	assert_string_equal(ipaddr_format(&a, buf, sizeof(buf)), canonical);
}

static void check_prefix_roundtrip(const char *in, const char *canonical)
{
	char buf[IPPREFIX_STRLEN];
	struct ipprefix p;
	assert_int_equal(ipprefix_parse(in, false, &p), 0);
	assert_string_equal(ipprefix_format(&p, buf, sizeof(buf)), canonical);
}

static void test_ipaddr_parse_v4(void **state)
{
	struct ipaddr a = addr("192.0.2.1");
	static const uint8_t want[16] = {192, 0, 2, 1};

	assert_int_equal(a.family, AF_INET);
	assert_memory_equal(a.bytes, want, 16);
	assert_int_equal(ipaddr_bits(&a), 32);
	check_addr_roundtrip("0.0.0.0", "0.0.0.0");
	check_addr_roundtrip("255.255.255.255", "255.255.255.255");
}

static void test_ipaddr_parse_v6_canonical(void **state)
{
	struct ipaddr a = addr("2001:db8::1");

	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(ipaddr_bits(&a), 128);
	assert_int_equal(a.bytes[0], 0x20);
	assert_int_equal(a.bytes[1], 0x01);
	assert_int_equal(a.bytes[15], 0x01);
	/* RFC 5952: lower case, longest zero run compressed, no leading zeros. */
	check_addr_roundtrip("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1");
	check_addr_roundtrip("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1");
	check_addr_roundtrip("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1");
	check_addr_roundtrip("::", "::");
	check_addr_roundtrip("::1", "::1");
	check_addr_roundtrip("fe80::", "fe80::");
	check_addr_roundtrip("::ffff:192.0.2.1", "::ffff:192.0.2.1");
}

static void test_ipaddr_parse_invalid(void **state)
{
	static const char *const bad[] = {
	    "",		  "1.2.3",    "1.2.3.4.5", "256.0.0.1", "01.2.3.4",    "1.2.3.4 ",     " 1.2.3.4",
	    "1.2.3.4/24", "1.2.3.-1", "0x1.2.3.4", "::1::",	"2001:db8::g", "fe80::1%eth0", "1:2:3:4:5:6:7:8:9",
	    "localhost",  "[::1]",
	};
	struct ipaddr a = {.family = 99};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ipaddr_parse(bad[i], &a), -EINVAL);
		assert_int_equal(a.family, 99); /* untouched on error */
	}
}

static void test_ipaddr_format_small_buffer(void **state)
{
	char buf[8];
	struct ipaddr a = addr("192.168.100.200");
	struct ipaddr bogus = {.family = 7};

	/* Truncated but always terminated, never NULL. */
	assert_string_equal(ipaddr_format(&a, buf, sizeof(buf)), "192.168");
	assert_string_equal(ipaddr_format(&bogus, buf, sizeof(buf)), "?");
}

static void test_ipaddr_cmp(void **state)
{
	struct ipaddr a = addr("10.0.0.1"), b = addr("10.0.0.2"), c = addr("::1"), d = addr("10.0.0.1");
	struct ipaddr e = addr("255.255.255.255"), f = addr("::");

	assert_int_equal(ipaddr_cmp(&a, &b), -1);
	assert_int_equal(ipaddr_cmp(&b, &a), 1);
	assert_int_equal(ipaddr_cmp(&a, &d), 0);
	assert_true(ipaddr_equal(&a, &d));
	assert_false(ipaddr_equal(&a, &b));
	/* Every v4 address sorts before every v6 address. */
	assert_int_equal(ipaddr_cmp(&e, &f), -1);
	assert_int_equal(ipaddr_cmp(&c, &a), 1);
	assert_int_equal(cmp("2001:db8::1", "2001:db8::1:0"), -1);
}

static void test_ipaddr_u128(void **state)
{
	struct ipaddr a = addr("10.1.2.3"), back;

	assert_true(ipaddr_to_u128(&a) == 0x0a010203);
	ipaddr_from_u128(AF_INET, 0xc0000201, &back);
	assert_true(addr_is(&back, "192.0.2.1"));

	struct ipaddr b = addr("2001:db8::ff");
	u128 v = ipaddr_to_u128(&b);
	assert_true((uint64_t)(v >> 64) == 0x20010db800000000ULL);
	assert_true((uint64_t)v == 0xffULL);
	ipaddr_from_u128(AF_INET6, v, &back);
	assert_true(ipaddr_equal(&back, &b));

	ipaddr_from_u128(AF_INET6, ~(u128)0, &back);
	assert_true(addr_is(&back, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	/* v4 keeps only the low 32 bits and zeroes the rest of bytes[]. */
	ipaddr_from_u128(AF_INET, ((u128)1 << 40) | 0x01020304, &back);
	assert_true(addr_is(&back, "1.2.3.4"));
	static const uint8_t zero[12] = {0};
	assert_memory_equal(back.bytes + 4, zero, 12);
}

static void test_ipaddr_add(void **state)
{
	struct ipaddr r, before;

	assert_int_equal(add("10.0.0.255", 1, &r), 0);
	assert_true(addr_is(&r, "10.0.1.0"));
	assert_int_equal(add("10.0.0.1", 0, &r), 0);
	assert_true(addr_is(&r, "10.0.0.1"));
	assert_int_equal(add("255.255.255.254", 1, &r), 0);
	assert_true(addr_is(&r, "255.255.255.255"));

	/* Overflow past the family's end, ret untouched. */
	before = r;
	assert_int_equal(add("255.255.255.255", 1, &r), -ERANGE);
	assert_int_equal(add("0.0.0.0", (u128)1 << 32, &r), -ERANGE);
	assert_int_equal(add("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1, &r), -ERANGE);
	assert_int_equal(add("::1", ~(u128)0, &r), -ERANGE);
	assert_true(ipaddr_equal(&r, &before));

	/* Carry across the 64-bit boundary. */
	assert_int_equal(add("2001:db8::ffff:ffff:ffff:ffff", 1, &r), 0);
	assert_true(addr_is(&r, "2001:db8:0:1::"));
	assert_int_equal(add("::", ~(u128)0, &r), 0);
	assert_true(addr_is(&r, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
}

static void test_ipprefix_parse_basic(void **state)
{
	struct ipprefix p = prefix("10.0.0.0/24");

	assert_int_equal(p.len, 24);
	assert_true(addr_is(&p.addr, "10.0.0.0"));
	check_prefix_roundtrip("10.0.0.0/24", "10.0.0.0/24");
	check_prefix_roundtrip("0.0.0.0/0", "0.0.0.0/0");
	check_prefix_roundtrip("2001:DB8::/32", "2001:db8::/32");
	check_prefix_roundtrip("::/0", "::/0");
	check_prefix_roundtrip("2001:db8:0:1::/64", "2001:db8:0:1::/64");
	/* A bare address is a host prefix. */
	check_prefix_roundtrip("192.0.2.7", "192.0.2.7/32");
	check_prefix_roundtrip("2001:db8::7", "2001:db8::7/128");
}

static void test_ipprefix_parse_host_bits(void **state)
{
	struct ipprefix p;
	char buf[IPPREFIX_STRLEN];

	/* Strict: rejected, but the normalised prefix is there to suggest. */
	assert_int_equal(ipprefix_parse("10.0.0.1/24", true, &p), -EINVAL);
	assert_string_equal(ipprefix_format(&p, buf, sizeof(buf)), "10.0.0.0/24");
	assert_int_equal(ipprefix_parse("2001:db8::1/32", true, &p), -EINVAL);
	assert_string_equal(ipprefix_format(&p, buf, sizeof(buf)), "2001:db8::/32");
	assert_int_equal(ipprefix_parse("255.255.255.255/0", true, &p), -EINVAL);
	assert_string_equal(ipprefix_format(&p, buf, sizeof(buf)), "0.0.0.0/0");

	/* Not strict: host bits are cleared. */
	assert_int_equal(ipprefix_parse("10.0.0.1/24", false, &p), 0);
	assert_string_equal(ipprefix_format(&p, buf, sizeof(buf)), "10.0.0.0/24");
	assert_int_equal(ipprefix_parse("10.1.2.3/31", false, &p), 0);
	assert_string_equal(ipprefix_format(&p, buf, sizeof(buf)), "10.1.2.2/31");
	assert_int_equal(ipprefix_parse("2001:db8:1:2:3:4:5:6/64", false, &p), 0);
	assert_string_equal(ipprefix_format(&p, buf, sizeof(buf)), "2001:db8:1:2::/64");
}

static void test_ipprefix_parse_invalid(void **state)
{
	static const char *const bad[] = {
	    "10.0.0.0/24x",
	    "10.0.0.0/",
	    "/24",
	    "10.0.0.0/033",
	    "10.0.0.0/00",
	    "10.0.0.0/33",
	    "::/129",
	    "10.0.0.0/-1",
	    "10.0.0.0/+24",
	    "10.0.0.0/ 24",
	    "10.0.0.0 /24",
	    "10.0.0.0/24/",
	    "10.0.0/24",
	    "10.0.0.0//24",
	    "10.0.0.0/1000",
	    "",
	    "/",
	    "x/24",
	    "2001:db8::/0x20",
	    "::/1280",
	    "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc/64",
	};
	struct ipprefix p = {.len = 77};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ipprefix_parse(bad[i], false, &p), -EINVAL);
		assert_int_equal(p.len, 77);
	}
	/* Boundaries that are valid. */
	assert_int_equal(ipprefix_parse("10.0.0.0/32", false, &p), 0);
	assert_int_equal(p.len, 32);
	assert_int_equal(ipprefix_parse("::/128", false, &p), 0);
	assert_int_equal(p.len, 128);
	assert_int_equal(ipprefix_parse("0.0.0.0/0", true, &p), 0);
	assert_int_equal(p.len, 0);
}

static void test_ipprefix_span_first_last_v4(void **state)
{
	struct ipaddr first, last;
	struct ipprefix p = prefix("10.0.0.0/24");

	assert_true(ipprefix_span(&p) == 255);
	ipprefix_first(&p, &first);
	ipprefix_last(&p, &last);
	assert_true(addr_is(&first, "10.0.0.0"));
	assert_true(addr_is(&last, "10.0.0.255"));

	/* /31: two addresses (RFC 3021 point-to-point). */
	p = prefix("192.0.2.6/31");
	assert_true(ipprefix_span(&p) == 1);
	ipprefix_first(&p, &first);
	ipprefix_last(&p, &last);
	assert_true(addr_is(&first, "192.0.2.6"));
	assert_true(addr_is(&last, "192.0.2.7"));

	/* /32: one address. */
	p = prefix("192.0.2.9/32");
	assert_true(ipprefix_span(&p) == 0);
	ipprefix_first(&p, &first);
	ipprefix_last(&p, &last);
	assert_true(ipaddr_equal(&first, &last));
	assert_true(addr_is(&first, "192.0.2.9"));

	/* /0: the whole v4 space. */
	p = prefix("0.0.0.0/0");
	assert_true(ipprefix_span(&p) == 0xffffffffu);
	ipprefix_last(&p, &last);
	assert_true(addr_is(&last, "255.255.255.255"));
}

static void test_ipprefix_span_first_last_v6(void **state)
{
	struct ipaddr first, last;
	struct ipprefix p = prefix("2001:db8:0:1::/64");

	assert_true(ipprefix_span(&p) == (((u128)1 << 64) - 1));
	ipprefix_first(&p, &first);
	ipprefix_last(&p, &last);
	assert_true(addr_is(&first, "2001:db8:0:1::"));
	assert_true(addr_is(&last, "2001:db8:0:1:ffff:ffff:ffff:ffff"));

	p = prefix("2001:db8::/32");
	assert_true(ipprefix_span(&p) == (((u128)1 << 96) - 1));
	ipprefix_last(&p, &last);
	assert_true(addr_is(&last, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));

	/* /0 of v6 is 2^128 addresses: span is 2^128 - 1, which fits. */
	p = prefix("::/0");
	assert_true(ipprefix_span(&p) == ~(u128)0);
	ipprefix_first(&p, &first);
	ipprefix_last(&p, &last);
	assert_true(addr_is(&first, "::"));
	assert_true(addr_is(&last, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));

	p = prefix("2001:db8::5/128");
	assert_true(ipprefix_span(&p) == 0);
	p = prefix("2001:db8::4/127");
	assert_true(ipprefix_span(&p) == 1);
}

static void test_ipprefix_contains(void **state)
{
	struct ipprefix p = prefix("10.0.0.0/24");

	assert_true(contains(&p, "10.0.0.0"));
	assert_true(contains(&p, "10.0.0.255"));
	assert_false(contains(&p, "10.0.1.0"));
	assert_false(contains(&p, "9.255.255.255"));
	/* Families differ: never contained, even for the all-zero address. */
	p = prefix("0.0.0.0/0");
	assert_true(contains(&p, "203.0.113.9"));
	assert_false(contains(&p, "::"));
	p = prefix("::/0");
	assert_true(contains(&p, "2001:db8::1"));
	assert_false(contains(&p, "0.0.0.0"));

	p = prefix("2001:db8:0:1::/64");
	assert_true(contains(&p, "2001:db8:0:1:ffff::1"));
	assert_false(contains(&p, "2001:db8:0:2::1"));
	p = prefix("192.0.2.8/32");
	assert_true(contains(&p, "192.0.2.8"));
	assert_false(contains(&p, "192.0.2.9"));
}

static void test_ipprefix_overlaps(void **state)
{
	struct ipprefix a = prefix("10.0.0.0/16"), b = prefix("10.0.5.0/24"), c = prefix("10.1.0.0/16");
	struct ipprefix d = prefix("10.0.0.0/16"), v6 = prefix("::/0"), v4all = prefix("0.0.0.0/0");
	struct ipprefix e = prefix("192.0.2.0/31"), f = prefix("192.0.2.1/32"), g = prefix("192.0.2.2/31");

	assert_true(ipprefix_overlaps(&a, &b));
	assert_true(ipprefix_overlaps(&b, &a));
	assert_false(ipprefix_overlaps(&a, &c));
	assert_false(ipprefix_overlaps(&b, &c));
	assert_true(ipprefix_overlaps(&a, &d));
	assert_true(ipprefix_overlaps(&v4all, &c));
	assert_true(ipprefix_overlaps(&e, &f));
	assert_false(ipprefix_overlaps(&e, &g));
	assert_false(ipprefix_overlaps(&f, &g));
	/* Across families: false, even for /0 against /0. */
	assert_false(ipprefix_overlaps(&v6, &v4all));
	assert_false(ipprefix_overlaps(&v4all, &v6));

	struct ipprefix h = prefix("2001:db8::/32"), i = prefix("2001:db8:ffff::/48"), j = prefix("2001:db9::/48");
	assert_true(ipprefix_overlaps(&h, &i));
	assert_false(ipprefix_overlaps(&h, &j));
	assert_true(ipprefix_overlaps(&v6, &j));
}

static void test_ipprefix_make(void **state)
{
	struct ipprefix p;
	char buf[IPPREFIX_STRLEN];
	struct ipaddr bogus = {.family = 0};

	assert_int_equal(make("10.9.8.7", 8, &p), 0);
	assert_string_equal(ipprefix_format(&p, buf, sizeof(buf)), "10.0.0.0/8");
	assert_int_equal(make("10.9.8.7", 0, &p), 0);
	assert_string_equal(ipprefix_format(&p, buf, sizeof(buf)), "0.0.0.0/0");
	assert_int_equal(make("10.9.8.7", 32, &p), 0);
	assert_string_equal(ipprefix_format(&p, buf, sizeof(buf)), "10.9.8.7/32");
	assert_int_equal(make("2001:db8::1", 0, &p), 0);
	assert_string_equal(ipprefix_format(&p, buf, sizeof(buf)), "::/0");
	assert_int_equal(make("2001:db8::1", 128, &p), 0);
	assert_string_equal(ipprefix_format(&p, buf, sizeof(buf)), "2001:db8::1/128");
	assert_int_equal(make("2001:db8:aaaa::1", 33, &p), 0);
	assert_string_equal(ipprefix_format(&p, buf, sizeof(buf)), "2001:db8:8000::/33");

	assert_int_equal(make("10.0.0.0", 33, &p), -EINVAL);
	assert_int_equal(make("::", 129, &p), -EINVAL);
	assert_int_equal(ipprefix_make(&bogus, 8, &p), -EAFNOSUPPORT);
}

static void test_ipprefix_format_longest(void **state)
{
	char buf[IPPREFIX_STRLEN];
	struct ipprefix p;

	/* The longest text form must fit IPPREFIX_STRLEN. */
	assert_int_equal(ipprefix_parse("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128", true, &p), 0);
	ipprefix_format(&p, buf, sizeof(buf));
	assert_string_equal(buf, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
	assert_int_equal(ipprefix_parse("::ffff:255.255.255.255/128", true, &p), 0);
	assert_string_equal(ipprefix_format(&p, buf, sizeof(buf)), "::ffff:255.255.255.255/128");
}

static void test_ipv4_netmask(void **state)
{
	assert_int_equal(ipv4_netmask(0), 0);
	assert_int_equal(ipv4_netmask(1), 0x80000000u);
	assert_int_equal(ipv4_netmask(8), 0xff000000u);
	assert_int_equal(ipv4_netmask(24), 0xffffff00u);
	assert_int_equal(ipv4_netmask(31), 0xfffffffeu);
	assert_int_equal(ipv4_netmask(32), 0xffffffffu);
}

static void test_mac(void **state)
{
	uint8_t mac[6], other[6];
	char buf[MAC_STRLEN];
	static const uint8_t want[6] = {0x00, 0x1a, 0x2b, 0x3c, 0x4d, 0xef};

	assert_int_equal(mac_parse("00:1a:2b:3c:4d:ef", mac), 0);
	assert_memory_equal(mac, want, 6);
	assert_string_equal(mac_format(mac, buf, sizeof(buf)), "00:1a:2b:3c:4d:ef");
	assert_int_equal(mac_parse("00-1A-2B-3C-4D-EF", other), 0);
	assert_memory_equal(other, want, 6);
	assert_int_equal(mac_parse("00:1A:2b:3C:4d:Ef", other), 0);
	assert_memory_equal(other, want, 6);
	assert_string_equal(mac_format(other, buf, sizeof(buf)), "00:1a:2b:3c:4d:ef");
	assert_int_equal(mac_parse("ff:ff:ff:ff:ff:ff", other), 0);
	assert_string_equal(mac_format(other, buf, sizeof(buf)), "ff:ff:ff:ff:ff:ff");
}

static void test_mac_invalid(void **state)
{
	static const char *const bad[] = {
	    "",
	    "00:1a:2b:3c:4d",
	    "00:1a:2b:3c:4d:ef:",
	    "00:1a:2b:3c:4d:ef:01",
	    "00:1a-2b:3c:4d:ef",
	    "00-1a-2b-3c-4d:ef",
	    "0:1a:2b:3c:4d:ef",
	    "00:1a:2b:3c:4d:eg",
	    "001a.2b3c.4def",
	    "001a2b3c4def",
	    " 00:1a:2b:3c:4d:ef",
	    "00:1a:2b:3c:4d:ef ",
	    "00.1a.2b.3c.4d.ef",
	    "+0:1a:2b:3c:4d:ef",
	};
	uint8_t mac[6] = {1, 2, 3, 4, 5, 6};
	static const uint8_t orig[6] = {1, 2, 3, 4, 5, 6};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(mac_parse(bad[i], mac), -EINVAL);
		assert_memory_equal(mac, orig, 6);
	}
}

static void check_endpoint(const char *in, uint16_t def, const char *want_host, uint16_t want_port)
{
	char host[256];
	uint16_t port = 0;

	assert_int_equal(endpoint_parse(in, def, host, sizeof(host), &port), 0);
	assert_string_equal(host, want_host);
	assert_int_equal(port, want_port);
}

static void test_endpoint_forms(void **state)
{
	check_endpoint("host:5250", 1, "host", 5250);
	check_endpoint("region.example.com:443", 1, "region.example.com", 443);
	check_endpoint("192.0.2.1:65535", 1, "192.0.2.1", 65535);
	check_endpoint("host:1", 9, "host", 1);
	check_endpoint("host", 5250, "host", 5250);
	check_endpoint("[::1]:5250", 1, "::1", 5250);
	check_endpoint("[2001:db8::1]", 5250, "2001:db8::1", 5250);
	/* Bare v6 without brackets: all of it is the host. */
	check_endpoint("::1", 5250, "::1", 5250);
	check_endpoint("2001:db8::5250", 7, "2001:db8::5250", 7);
	/* Scheme dropped; the port default stays the caller's. */
	check_endpoint("grpcs://region.example:5250", 1, "region.example", 5250);
	check_endpoint("https://h", 443, "h", 443);
	check_endpoint("https://h/", 443, "h", 443);
	check_endpoint("http://[::1]:8080/", 1, "::1", 8080);
	check_endpoint("grpc+unix.x-y://h:2", 1, "h", 2);
	/* Default 0 is reported as 0 so a caller can require a port. */
	check_endpoint("host", 0, "host", 0);
}

static void test_endpoint_invalid(void **state)
{
	static const char *const bad[] = {
	    "",		  "host:00",	    "host:65536",
	    "host:99999", "host:123456",    "host:http",
	    "host:52x0",  "host:",	    "host:-1",
	    "host:+80",	  "host:080",	    ":5250",
	    "[::1]:",	  "[::1",	    "[::1]x",
	    "[::1]5250",  "[host]:5250",    "[1.2.3.4]:5250",
	    "[]:5250",	  "a:b:c",	    "1:2:3:4:5:6:7:8:9",
	    "ho st:5250", "host/path:5250", "host:5250/",
	    "https://",	  "https://:5250",  "https://h/x",
	    "://h:5250",  "1http://h",	    "ht tp://h",
	    "https:/h",	  "fe80::1%eth0",   "host:5250:",
	};
	char host[64] = "unchanged";
	uint16_t port = 42;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = endpoint_parse(bad[i], 1, host, sizeof(host), &port);
		if (r != -EINVAL)
			fail_msg("endpoint_parse(\"%s\") = %d, want -EINVAL", bad[i], r);
		assert_string_equal(host, "unchanged");
		assert_int_equal(port, 42);
	}
}

static void test_endpoint_host_too_long(void **state)
{
	char host[5];
	uint16_t port = 0;
	char longname[300];

	/* "abcd" fits exactly with its NUL; one more byte does not. */
	/* An explicit port 0 is "any free port" for a listener. */
	assert_int_equal(endpoint_parse("host:0", 5250, host, sizeof(host), &port), 0);
	assert_int_equal(port, 0);
	assert_int_equal(endpoint_parse("abcd:1", 0, host, sizeof(host), &port), 0);
	assert_string_equal(host, "abcd");
	assert_int_equal(endpoint_parse("abcde:1", 0, host, sizeof(host), &port), -ENAMETOOLONG);
	assert_int_equal(endpoint_parse("[::ffff]:1", 0, host, sizeof(host), &port), -ENAMETOOLONG);
	assert_int_equal(endpoint_parse("abcde", 0, host, 0, &port), -ENAMETOOLONG);

	/* Over 253 characters is not a host name at all. */
	memset(longname, 'a', 254);
	strcpy(longname + 254, ":80");
	char big[512];
	assert_int_equal(endpoint_parse(longname, 0, big, sizeof(big), &port), -EINVAL);
	longname[253] = '\0';
	assert_int_equal(endpoint_parse(longname, 0, big, sizeof(big), &port), 0);
	assert_int_equal(strlen(big), 253);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ipaddr_parse_v4),
	    cmocka_unit_test(test_ipaddr_parse_v6_canonical),
	    cmocka_unit_test(test_ipaddr_parse_invalid),
	    cmocka_unit_test(test_ipaddr_format_small_buffer),
	    cmocka_unit_test(test_ipaddr_cmp),
	    cmocka_unit_test(test_ipaddr_u128),
	    cmocka_unit_test(test_ipaddr_add),
	    cmocka_unit_test(test_ipprefix_parse_basic),
	    cmocka_unit_test(test_ipprefix_parse_host_bits),
	    cmocka_unit_test(test_ipprefix_parse_invalid),
	    cmocka_unit_test(test_ipprefix_span_first_last_v4),
	    cmocka_unit_test(test_ipprefix_span_first_last_v6),
	    cmocka_unit_test(test_ipprefix_contains),
	    cmocka_unit_test(test_ipprefix_overlaps),
	    cmocka_unit_test(test_ipprefix_make),
	    cmocka_unit_test(test_ipprefix_format_longest),
	    cmocka_unit_test(test_ipv4_netmask),
	    cmocka_unit_test(test_mac),
	    cmocka_unit_test(test_mac_invalid),
	    cmocka_unit_test(test_endpoint_forms),
	    cmocka_unit_test(test_endpoint_invalid),
	    cmocka_unit_test(test_endpoint_host_too_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
