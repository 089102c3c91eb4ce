/* Unit tests for the IPAM engine's allocator (region/ipam/ipam.h): usable
 * spans, pools, managed vs unmanaged, reserved vs dynamic ranges,
 * neighbour avoidance and re-check, exhaustion, IPv4 and IPv6 (/31, /32,
 * /29, /64, 2001:db8::/32). Static checks, utilisation and suggestions are
 * in test_ipam_util.c; the randomised cross-check against a brute-force
 * model in test_ipam_model.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "region/ipam/ipam.h"

#include "tests/unit/ipam_util.h"

/* --- usable spans --------------------------------------------------------- */

static void span_is(const char *prefix, const char *first, const char *last)
{
	struct ipprefix p = P(prefix);
	u128 f, l;

	ipam_usable_span(&p, &f, &l);
	assert_true(f == A(first));
	assert_true(l == A(last));
}

static void test_usable_span(void **state)
{
	span_is("10.0.0.0/24", "10.0.0.1", "10.0.0.254");
	span_is("10.0.0.0/30", "10.0.0.1", "10.0.0.2");
	span_is("10.0.0.0/31", "10.0.0.0", "10.0.0.1"); /* RFC 3021 */
	span_is("10.0.0.7/32", "10.0.0.7", "10.0.0.7");
	span_is("10.0.0.0/29", "10.0.0.1", "10.0.0.6");
	span_is("0.0.0.0/0", "0.0.0.1", "255.255.255.254");
	span_is("2001:db8::/64", "2001:db8::1", "2001:db8::ffff:ffff:ffff:ffff"); /* anycast excluded */
	span_is("2001:db8::/32", "2001:db8::1", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
	span_is("2001:db8::/127", "2001:db8::", "2001:db8::1"); /* RFC 6164 */
	span_is("2001:db8::5/128", "2001:db8::5", "2001:db8::5");
	span_is("::/0", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");

	struct ipprefix p = P("10.0.0.0/24");
	assert_false(ipam_is_usable(&p, A("10.0.0.0")));
	assert_false(ipam_is_usable(&p, A("10.0.0.255")));
	assert_true(ipam_is_usable(&p, A("10.0.0.1")));
	assert_false(ipam_is_usable(&p, A("10.0.1.1")));
}

/* --- managed subnets ------------------------------------------------------ */

static void test_managed_v4_auto(void **state)
{
	struct vb b;

	vb_init(&b, "192.168.10.0/24", true);
	vb_done(&b);
	alloc_is(&b.v, IPAM_POOL_AUTO, 0, "192.168.10.1", false);

	/* gateway, DNS and rack address are never auto-assigned */
	vb_excl(&b, "192.168.10.1");
	vb_excl(&b, "192.168.10.2");
	vb_excl(&b, "8.8.8.8"); /* DNS outside the subnet: ignored */
	vb_used(&b, "192.168.10.3", 7);
	vb_done(&b);
	alloc_is(&b.v, IPAM_POOL_AUTO, 0, "192.168.10.4", false);

	/* never inside a reserved or a dynamic range */
	vb_range(&b, "192.168.10.4", "192.168.10.9", IPAM_RANGE_RESERVED);
	vb_range(&b, "192.168.10.10", "192.168.10.19", IPAM_RANGE_DYNAMIC);
	vb_done(&b);
	alloc_is(&b.v, IPAM_POOL_AUTO, 0, "192.168.10.20", false);
	/* a start hint inside a range moves past it */
	alloc_is(&b.v, IPAM_POOL_AUTO, A("192.168.10.12"), "192.168.10.20", false);
	alloc_is(&b.v, IPAM_POOL_AUTO, A("192.168.10.100"), "192.168.10.100", false);
	/* nothing at or above the hint: wrap around to the lowest */
	for (int i = 250; i <= 254; i++) {
		char s[32];
		snprintf(s, sizeof(s), "192.168.10.%d", i);
		vb_used(&b, s, i);
	}
	vb_done(&b);
	alloc_is(&b.v, IPAM_POOL_AUTO, A("192.168.10.250"), "192.168.10.20", false);
	/* DHCP pool: dynamic range only */
	alloc_is(&b.v, IPAM_POOL_DHCP, 0, "192.168.10.10", false);
	alloc_is(&b.v, IPAM_POOL_USABLE, 0, "192.168.10.4", false);
}

static void test_managed_dhcp_pool(void **state)
{
	struct vb b;
	struct ipam_alloc al;

	vb_init(&b, "10.1.0.0/24", true);
	vb_range(&b, "10.1.0.100", "10.1.0.101", IPAM_RANGE_DYNAMIC);
	vb_range(&b, "10.1.0.102", "10.1.0.103", IPAM_RANGE_DYNAMIC); /* adjacent: one block */
	vb_range(&b, "10.1.0.200", "10.1.0.200", IPAM_RANGE_RESERVED);
	vb_used(&b, "10.1.0.100", 1);
	vb_done(&b);
	alloc_is(&b.v, IPAM_POOL_DHCP, 0, "10.1.0.101", false);

	struct ipam_block blk;
	assert_int_equal(ipam_free_block_next(&b.v, IPAM_POOL_DHCP, 0, &blk), 0);
	check_addr(&b.v, blk.first, "10.1.0.101");
	check_addr(&b.v, blk.last, "10.1.0.103");
	check_u128(blk.size, 3);

	vb_used(&b, "10.1.0.101", 2);
	vb_used(&b, "10.1.0.102", 3);
	vb_used(&b, "10.1.0.103", 4);
	vb_done(&b);
	assert_int_equal(ipam_alloc_next(&b.v, IPAM_POOL_DHCP, 0, &al), -ENOSPC);
	/* the auto pool is unaffected */
	alloc_is(&b.v, IPAM_POOL_AUTO, 0, "10.1.0.1", false);
}

/* A run of used addresses that starts before a range and ends after it: the
 * stretch before the range is fully blocked and the run reaches into the
 * stretch after it. */
static void test_run_across_ranges(void **state)
{
	struct vb b;
	struct ipam_block blk;
	char s[32];

	vb_init(&b, "10.2.0.0/24", true);
	vb_range(&b, "10.2.0.10", "10.2.0.19", IPAM_RANGE_RESERVED);
	vb_range(&b, "10.2.0.30", "10.2.0.39", IPAM_RANGE_DYNAMIC);
	for (int i = 1; i <= 25; i++) {
		snprintf(s, sizeof(s), "10.2.0.%d", i);
		vb_used(&b, s, i);
	}
	for (int i = 26; i <= 45; i += 2) { /* alternate with neighbours from .26 on */
		snprintf(s, sizeof(s), "10.2.0.%d", i);
		vb_nb(&b, s, i);
		snprintf(s, sizeof(s), "10.2.0.%d", i + 1);
		vb_excl(&b, s);
	}
	vb_done(&b);
	alloc_is(&b.v, IPAM_POOL_AUTO, 0, "10.2.0.46", false);
	alloc_is(&b.v, IPAM_POOL_USABLE, 0, "10.2.0.46", false);
	assert_int_equal(ipam_free_block_next(&b.v, IPAM_POOL_AUTO, 0, &blk), 0);
	check_addr(&b.v, blk.first, "10.2.0.46");
	check_addr(&b.v, blk.last, "10.2.0.254");
	struct ipam_utilisation u;
	ipam_utilisation(&b.v, &u);
	check_u128(u.largest_free.size, 209);
	check_u128(u.available, 209); /* 254 - 20 in ranges - 25 blocked outside them */
}

/* --- unmanaged subnets ---------------------------------------------------- */

static void test_unmanaged(void **state)
{
	struct vb b;
	struct ipam_alloc al;

	vb_init(&b, "172.16.0.0/24", false);
	vb_done(&b);
	/* no reserved range: auto assign has nowhere to go; DHCP never serves */
	assert_int_equal(ipam_alloc_next(&b.v, IPAM_POOL_AUTO, 0, &al), -ENOSPC);
	assert_int_equal(ipam_alloc_next(&b.v, IPAM_POOL_DHCP, 0, &al), -ENOSPC);
	alloc_is(&b.v, IPAM_POOL_USABLE, 0, "172.16.0.1", false);

	vb_range(&b, "172.16.0.50", "172.16.0.52", IPAM_RANGE_RESERVED);
	vb_range(&b, "172.16.0.100", "172.16.0.199", IPAM_RANGE_DYNAMIC);
	vb_range(&b, "172.16.0.240", "172.16.0.255", IPAM_RANGE_RESERVED); /* clipped: .255 is broadcast */
	vb_excl(&b, "172.16.0.50");
	vb_done(&b);
	alloc_is(&b.v, IPAM_POOL_AUTO, 0, "172.16.0.51", false);
	alloc_is(&b.v, IPAM_POOL_AUTO, A("172.16.0.53"), "172.16.0.240", false);
	assert_int_equal(ipam_alloc_next(&b.v, IPAM_POOL_DHCP, 0, &al), -ENOSPC);

	vb_used(&b, "172.16.0.51", 1);
	vb_used(&b, "172.16.0.52", 2);
	vb_done(&b);
	alloc_is(&b.v, IPAM_POOL_AUTO, 0, "172.16.0.240", false);

	/* fill .240-.254 */
	for (int i = 240; i <= 254; i++) {
		char s[32];
		snprintf(s, sizeof(s), "172.16.0.%d", i);
		vb_used(&b, s, i);
	}
	vb_done(&b);
	assert_int_equal(ipam_alloc_next(&b.v, IPAM_POOL_AUTO, 0, &al), -ENOSPC);
}

/* --- IPv6 reserved ranges ------------------------------------------------- */

/* Seed 001, "About IPv6 subnets": "If you define a reserved static IP range,
 * then machines deployed on the subnet will get a static address in this
 * range". A managed IPv6 subnet with a reserved range assigns inside it; one
 * without keeps the managed rule; IPv4 is unchanged. */
static void test_v6_reserved_range_is_the_auto_pool(void **state)
{
	struct vb b;
	struct ipam_alloc al;
	struct ipam_utilisation u;

	vb_init(&b, "2001:db8:5::/64", true);
	vb_done(&b);
	assert_false(ipam_auto_in_reserved(&b.v));
	alloc_is(&b.v, IPAM_POOL_AUTO, 0, "2001:db8:5::1", false);

	/* a dynamic range alone changes nothing for auto assign */
	vb_range(&b, "2001:db8:5::8000", "2001:db8:5::ffff", IPAM_RANGE_DYNAMIC);
	vb_done(&b);
	assert_false(ipam_auto_in_reserved(&b.v));
	alloc_is(&b.v, IPAM_POOL_AUTO, 0, "2001:db8:5::1", false);

	vb_range(&b, "2001:db8:5::100", "2001:db8:5::103", IPAM_RANGE_RESERVED);
	vb_excl(&b, "2001:db8:5::100"); /* e.g. the gateway */
	vb_done(&b);
	assert_true(ipam_auto_in_reserved(&b.v));
	alloc_is(&b.v, IPAM_POOL_AUTO, 0, "2001:db8:5::101", false);
	alloc_is(&b.v, IPAM_POOL_AUTO, A("2001:db8:5::104"), "2001:db8:5::101", false); /* wraps into the range */
	alloc_is(&b.v, IPAM_POOL_DHCP, 0, "2001:db8:5::8000", false);
	ipam_utilisation(&b.v, &u);
	check_u128(u.available, 3);
	vb_used(&b, "2001:db8:5::101", 1);
	vb_used(&b, "2001:db8:5::102", 2);
	vb_used(&b, "2001:db8:5::103", 3);
	vb_done(&b);
	/* full: never spills outside the reserved range */
	assert_int_equal(ipam_alloc_next(&b.v, IPAM_POOL_AUTO, 0, &al), -ENOSPC);
	ipam_utilisation(&b.v, &u);
	check_u128(u.available, 0);

	/* the same ranges on IPv4 keep the managed rule */
	vb_init(&b, "10.5.0.0/24", true);
	vb_range(&b, "10.5.0.1", "10.5.0.3", IPAM_RANGE_RESERVED);
	vb_done(&b);
	assert_false(ipam_auto_in_reserved(&b.v));
	alloc_is(&b.v, IPAM_POOL_AUTO, 0, "10.5.0.4", false);
}

/* --- neighbours ----------------------------------------------------------- */

static void test_neighbour_avoid_and_recheck(void **state)
{
	struct vb b;
	struct ipam_alloc al;

	vb_init(&b, "10.9.0.0/29", true); /* usable .1-.6 */
	vb_excl(&b, "10.9.0.1");
	vb_nb(&b, "10.9.0.2", 500);
	vb_nb(&b, "10.9.0.3", 100);
	vb_done(&b);
	alloc_is(&b.v, IPAM_POOL_AUTO, 0, "10.9.0.4", false);

	vb_used(&b, "10.9.0.4", 1);
	vb_used(&b, "10.9.0.5", 2);
	vb_used(&b, "10.9.0.6", 3);
	vb_done(&b);
	/* no other free address: the least recently seen neighbour, for re-check */
	assert_int_equal(ipam_alloc_next(&b.v, IPAM_POOL_AUTO, 0, &al), 0);
	check_addr(&b.v, al.addr, "10.9.0.3");
	assert_true(al.recheck);
	assert_int_equal(al.last_seen, 100);
	assert_int_equal(al.neighbour, 1);
	/* the hint does not matter for the re-check choice */
	assert_int_equal(ipam_alloc_next(&b.v, IPAM_POOL_AUTO, A("10.9.0.6"), &al), 0);
	check_addr(&b.v, al.addr, "10.9.0.3");

	/* a neighbour that is also used, or excluded, is never offered */
	vb_used(&b, "10.9.0.3", 9);
	vb_done(&b);
	alloc_is(&b.v, IPAM_POOL_AUTO, 0, "10.9.0.2", true);
	vb_excl(&b, "10.9.0.2");
	vb_done(&b);
	assert_int_equal(ipam_alloc_next(&b.v, IPAM_POOL_AUTO, 0, &al), -ENOSPC);
}

static void test_neighbour_ties_and_pools(void **state)
{
	struct vb b;
	struct ipam_alloc al;

	vb_init(&b, "10.9.1.0/30", true); /* usable .1-.2 */
	vb_nb(&b, "10.9.1.2", 7);
	vb_nb(&b, "10.9.1.1", 7);
	vb_done(&b);
	/* equal last_seen: the lowest address */
	assert_int_equal(ipam_alloc_next(&b.v, IPAM_POOL_AUTO, 0, &al), 0);
	check_addr(&b.v, al.addr, "10.9.1.1");
	assert_true(al.recheck);

	/* neighbours outside the pool are not offered: here .1 is reserved */
	vb_range(&b, "10.9.1.1", "10.9.1.1", IPAM_RANGE_RESERVED);
	vb_done(&b);
	alloc_is(&b.v, IPAM_POOL_AUTO, 0, "10.9.1.2", true);
	/* and for DHCP: only neighbours inside dynamic ranges */
	assert_int_equal(ipam_alloc_next(&b.v, IPAM_POOL_DHCP, 0, &al), -ENOSPC);
}

/* --- tiny prefixes -------------------------------------------------------- */

static void test_v4_31_32(void **state)
{
	struct vb b;
	struct ipam_alloc al;
	struct ipam_static_check sc;

	vb_init(&b, "198.51.100.0/31", true);
	vb_done(&b);
	alloc_is(&b.v, IPAM_POOL_AUTO, 0, "198.51.100.0", false);
	assert_int_equal(ipam_static_check(&b.v, A("198.51.100.0"), &sc), 0);
	assert_int_equal(ipam_static_check(&b.v, A("198.51.100.1"), &sc), 0);
	vb_used(&b, "198.51.100.0", 1);
	vb_done(&b);
	alloc_is(&b.v, IPAM_POOL_AUTO, 0, "198.51.100.1", false);
	vb_used(&b, "198.51.100.1", 2);
	vb_done(&b);
	assert_int_equal(ipam_alloc_next(&b.v, IPAM_POOL_AUTO, 0, &al), -ENOSPC);

	struct ipam_utilisation u;
	ipam_utilisation(&b.v, &u);
	check_u128(u.total, 2);
	check_u128(u.used, 2);
	check_u128(u.available, 0);
	assert_true(u.used_pct == 100.0);

	vb_init(&b, "198.51.100.9/32", true);
	vb_done(&b);
	alloc_is(&b.v, IPAM_POOL_AUTO, 0, "198.51.100.9", false);
	assert_int_equal(ipam_static_check(&b.v, A("198.51.100.9"), &sc), 0);
	assert_int_equal(ipam_static_check(&b.v, A("198.51.100.8"), &sc), -ERANGE);
	assert_int_equal(sc.verdict, IPAM_STATIC_OUTSIDE_SUBNET);
	ipam_utilisation(&b.v, &u);
	check_u128(u.total, 1);
	check_u128(u.available, 1);
	check_u128(u.largest_free.size, 1);
	vb_used(&b, "198.51.100.9", 1);
	vb_done(&b);
	assert_int_equal(ipam_alloc_next(&b.v, IPAM_POOL_AUTO, 0, &al), -ENOSPC);
}

static void test_v4_29(void **state)
{
	struct vb b;
	struct ipam_utilisation u;

	vb_init(&b, "203.0.113.8/29", true); /* usable .9-.14 */
	vb_excl(&b, "203.0.113.9");
	vb_done(&b);
	alloc_is(&b.v, IPAM_POOL_AUTO, 0, "203.0.113.10", false);
	ipam_utilisation(&b.v, &u);
	check_u128(u.total, 6);
	check_u128(u.used, 1);
	check_u128(u.available, 5);
	check_u128(u.unavailable, 1);
	assert_float_equal(u.used_pct, 100.0 / 6.0, 1e-9);
	check_addr(&b.v, u.largest_free.first, "203.0.113.10");
	check_addr(&b.v, u.largest_free.last, "203.0.113.14");
	check_u128(u.largest_free.size, 5);
}

/* --- IPv6 ----------------------------------------------------------------- */

static void test_v6_64(void **state)
{
	struct vb b;
	struct ipam_utilisation u;
	struct ipam_static_check sc;

	vb_init(&b, "2001:db8:4d41:4153::/64", true);
	vb_excl(&b, "2001:db8:4d41:4153::1"); /* gateway */
	vb_range(&b, "2001:db8:4d41:4153::100", "2001:db8:4d41:4153::1ff", IPAM_RANGE_RESERVED);
	vb_range(&b, "2001:db8:4d41:4153:8000::", "2001:db8:4d41:4153:ffff:ffff:ffff:ffff", IPAM_RANGE_DYNAMIC);
	vb_used(&b, "2001:db8:4d41:4153::2", 1);
	vb_nb(&b, "2001:db8:4d41:4153::3", 10);
	vb_done(&b);

	/* IPv6 with a reserved range: machines get their address inside it
	 * (seed 001; test_v6_reserved_range_is_the_auto_pool). */
	alloc_is(&b.v, IPAM_POOL_AUTO, 0, "2001:db8:4d41:4153::100", false);
	alloc_is(&b.v, IPAM_POOL_AUTO, A("2001:db8:4d41:4153::150"), "2001:db8:4d41:4153::150", false);
	alloc_is(&b.v, IPAM_POOL_AUTO, A("2001:db8:4d41:4153::200"), "2001:db8:4d41:4153::100", false);
	alloc_is(&b.v, IPAM_POOL_DHCP, 0, "2001:db8:4d41:4153:8000::", false);
	/* the Subnet-Router anycast address is not usable */
	assert_int_equal(ipam_static_check(&b.v, A("2001:db8:4d41:4153::"), &sc), -EADDRNOTAVAIL);
	assert_int_equal(sc.verdict, IPAM_STATIC_NOT_USABLE);
	/* the top of a /64 is usable (RFC 2526 anycast not excluded) but dynamic here */
	assert_int_equal(ipam_static_check(&b.v, A("2001:db8:4d41:4153:ffff:ffff:ffff:ffff"), &sc), -EBUSY);

	ipam_utilisation(&b.v, &u);
	u128 total = ((u128)1 << 64) - 1;
	u128 dyn = (u128)1 << 63;
	check_u128(u.total, total);
	check_u128(u.used, 3);
	check_u128(u.reserved, 256 + dyn);
	check_u128(u.available, 256);
	check_u128(u.unavailable, total - 256);
	check_u128(u.dhcp_total, dyn);
	check_u128(u.dhcp_available, dyn);
	assert_float_equal(u.used_pct, 100.0, 1e-9);
	/* largest free of the auto pool: the reserved range */
	check_addr(&b.v, u.largest_free.first, "2001:db8:4d41:4153::100");
	check_addr(&b.v, u.largest_free.last, "2001:db8:4d41:4153::1ff");
	check_u128(u.largest_free.size, 256);
}

static void test_v6_32(void **state)
{
	struct vb b;
	struct ipam_utilisation u;
	struct ipam_suggestion sg;

	vb_init(&b, "2001:db8::/32", true);
	vb_done(&b);
	ipam_utilisation(&b.v, &u);
	u128 total = ((u128)1 << 96) - 1;
	check_u128(u.total, total);
	check_u128(u.available, total);
	check_u128(u.largest_free.size, total);
	alloc_is(&b.v, IPAM_POOL_AUTO, 0, "2001:db8::1", false);
	ipam_suggest(&b.v, &sg);
	assert_true(sg.has_gateway && sg.has_dynamic);
	check_addr(&b.v, sg.gateway, "2001:db8::1");
	check_addr(&b.v, sg.dynamic_first, "2001:db8:8000::");
	check_addr(&b.v, sg.dynamic_last, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");

	/* a reserved range covering everything below the top /64, 2001:db8:ffff:ffff::/64 */
	vb_range(&b, "2001:db8::", "2001:db8:ffff:fffe:ffff:ffff:ffff:ffff", IPAM_RANGE_RESERVED);
	vb_used(&b, "2001:db8:ffff:ffff::", 1);
	vb_done(&b);
	/* IPv6 with a reserved range: auto assign inside it, managed or not */
	alloc_is(&b.v, IPAM_POOL_AUTO, 0, "2001:db8::1", false);
	ipam_utilisation(&b.v, &u);
	check_u128(u.reserved, total - ((u128)1 << 64)); /* clipped: the anycast address is not usable */
	check_u128(u.available, total - ((u128)1 << 64));
	/* unmanaged: the same pool */
	b.v.managed = false;
	alloc_is(&b.v, IPAM_POOL_AUTO, 0, "2001:db8::1", false);
	ipam_utilisation(&b.v, &u);
	check_u128(u.available, total - ((u128)1 << 64));
}

/* 100,000 consecutive addresses in use at the bottom of a /64: one binary
 * search jumps the run. */
static void test_v6_dense_run(void **state)
{
	size_t n = 100000;
	struct ipam_used *used = calloc(n, sizeof(*used));
	struct ipam_view v = {.prefix = P("2001:db8:1::/64"), .managed = true, .used = used, .n_used = n};
	struct ipam_alloc al;

	assert_non_null(used);
	for (size_t i = 0; i < n; i++)
		used[i].addr = A("2001:db8:1::") + 1 + i;
	assert_int_equal(ipam_view_check(&v, NULL, NULL), 0);
	assert_int_equal(ipam_alloc_next(&v, IPAM_POOL_AUTO, 0, &al), 0);
	check_addr(&v, al.addr, "2001:db8:1::1:86a1"); /* 100001 = 0x186a1 */
	struct ipam_utilisation u;
	ipam_utilisation(&v, &u);
	check_u128(u.used, n);
	check_u128(u.available, ((u128)1 << 64) - 1 - n);
	free(used);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_usable_span),
	    cmocka_unit_test(test_managed_v4_auto),
	    cmocka_unit_test(test_managed_dhcp_pool),
	    cmocka_unit_test(test_run_across_ranges),
	    cmocka_unit_test(test_unmanaged),
	    cmocka_unit_test(test_v6_reserved_range_is_the_auto_pool),
	    cmocka_unit_test(test_neighbour_avoid_and_recheck),
	    cmocka_unit_test(test_neighbour_ties_and_pools),
	    cmocka_unit_test(test_v4_31_32),
	    cmocka_unit_test(test_v4_29),
	    cmocka_unit_test(test_v6_64),
	    cmocka_unit_test(test_v6_32),
	    cmocka_unit_test(test_v6_dense_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
