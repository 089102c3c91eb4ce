/* Unit tests for the IPAM engine (region/ipam/ipam.h): usable spans, pools,
 * managed vs unmanaged, reserved vs dynamic ranges, neighbour avoidance and
 * re-check, exhaustion, static checks, utilisation, suggestions, free-block
 * iteration, IPv4 and IPv6 (/31, /32, /29, /64, 2001:db8::/32). The
 * randomised cross-check against a brute-force model is in test_ipam_model.c. */
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

/* --- helpers -------------------------------------------------------------- */

static u128 A(const char *s)
{
	struct ipaddr a;

	assert_int_equal(ipaddr_parse(s, &a), 0);
	return ipaddr_to_u128(&a);
}

static struct ipprefix P(const char *s) {
	struct ipprefix p;

	assert_int_equal(ipprefix_parse(s, true, &p), 0);
	return p;
}

/* Compare an address with its text, so failures print both. */
static void
check_addr(const struct ipam_view *v, u128 got, const char *want)
{
	struct ipaddr a;
	char buf[IPADDR_STRLEN];

	ipaddr_from_u128(v->prefix.addr.family, got, &a);
	assert_string_equal(ipaddr_format(&a, buf, sizeof(buf)), want);
}

static void check_u128(u128 got, u128 want)
{
	char g[IPAM_U128_STRLEN], w[IPAM_U128_STRLEN];

	assert_string_equal(ipam_u128_format(got, g, sizeof(g)), ipam_u128_format(want, w, sizeof(w)));
}

/* A view with room for a few of everything. */
struct vb {
	struct ipam_view v;
	struct ipam_range ranges[16];
	struct ipam_used used[64];
	u128 excluded[16];
	struct ipam_neighbour nb[16];
};

static void vb_init(struct vb *b, const char *prefix, bool managed)
{
	memset(b, 0, sizeof(*b));
	b->v.prefix = P(prefix);
	b->v.managed = managed;
	b->v.ranges = b->ranges;
	b->v.used = b->used;
	b->v.excluded = b->excluded;
	b->v.neighbours = b->nb;
}

static void vb_range(struct vb *b, const char *first, const char *last, enum ipam_range_kind kind)
{
	b->ranges[b->v.n_ranges++] = (struct ipam_range){A(first), A(last), kind};
}

static void vb_used(struct vb *b, const char *a, int64_t holder_id)
{
	b->used[b->v.n_used++] = (struct ipam_used){A(a), holder_id, IPAM_HOLDER_MACHINE};
}

static void vb_excl(struct vb *b, const char *a)
{
	b->excluded[b->v.n_excluded++] = A(a);
}

static void vb_nb(struct vb *b, const char *a, int64_t seen)
{
	b->nb[b->v.n_neighbours++] = (struct ipam_neighbour){A(a), seen};
}

/* Sort everything and insist the view is well-formed. */
static void vb_done(struct vb *b)
{
	size_t idx;
	const char *what = NULL;

	ipam_sort_ranges(b->ranges, b->v.n_ranges);
	ipam_sort_used(b->used, b->v.n_used);
	ipam_sort_addrs(b->excluded, b->v.n_excluded);
	ipam_sort_neighbours(b->nb, b->v.n_neighbours);
	if (ipam_view_check(&b->v, &idx, &what) != 0)
		fail_msg("view invalid: %s at %zu", what, idx);
}

static void alloc_is(const struct ipam_view *v, enum ipam_pool pool, u128 from, const char *want, bool recheck)
{
	struct ipam_alloc al;

	assert_int_equal(ipam_alloc_next(v, pool, from, &al), 0);
	check_addr(v, al.addr, want);
	assert_int_equal(al.recheck, recheck);
}

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

	alloc_is(&b.v, IPAM_POOL_AUTO, 0, "2001:db8:4d41:4153::4", false);
	alloc_is(&b.v, IPAM_POOL_AUTO, A("2001:db8:4d41:4153::100"), "2001:db8:4d41:4153::200", false);
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
	check_u128(u.available, total - 256 - dyn - 3);
	check_u128(u.unavailable, 256 + dyn + 3);
	check_u128(u.dhcp_total, dyn);
	check_u128(u.dhcp_available, dyn);
	assert_float_equal(u.used_pct, 50.0, 1e-9);
	/* largest free: ::200 .. 7fff:ffff:ffff:ffff */
	check_addr(&b.v, u.largest_free.first, "2001:db8:4d41:4153::200");
	check_addr(&b.v, u.largest_free.last, "2001:db8:4d41:4153:7fff:ffff:ffff:ffff");
	check_u128(u.largest_free.size, dyn - 0x200);
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
	alloc_is(&b.v, IPAM_POOL_AUTO, 0, "2001:db8:ffff:ffff::1", false);
	ipam_utilisation(&b.v, &u);
	check_u128(u.reserved, total - ((u128)1 << 64)); /* clipped: the anycast address is not usable */
	check_u128(u.available, ((u128)1 << 64) - 1);
	/* unmanaged: only the reserved range; used_pct complementary */
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

/* --- static checks -------------------------------------------------------- */

static void test_static_check(void **state)
{
	struct vb b;
	struct ipam_static_check sc;

	vb_init(&b, "10.20.0.0/24", true);
	vb_excl(&b, "10.20.0.1");
	vb_range(&b, "10.20.0.10", "10.20.0.19", IPAM_RANGE_RESERVED);
	vb_range(&b, "10.20.0.100", "10.20.0.199", IPAM_RANGE_DYNAMIC);
	vb_used(&b, "10.20.0.5", 55);
	vb_used(&b, "10.20.0.6", 66);
	vb_used(&b, "10.20.0.150", 77);
	vb_nb(&b, "10.20.0.7", 1234);
	vb_done(&b);

	assert_int_equal(ipam_static_check(&b.v, A("10.20.0.30"), &sc), 0);
	assert_int_equal(sc.verdict, IPAM_STATIC_OK);
	assert_false(sc.seen_on_wire);
	assert_int_equal(ipam_static_check(&b.v, A("10.20.1.30"), &sc), -ERANGE);
	assert_int_equal(sc.verdict, IPAM_STATIC_OUTSIDE_SUBNET);
	assert_int_equal(ipam_static_check(&b.v, A("10.20.0.0"), &sc), -EADDRNOTAVAIL);
	assert_int_equal(ipam_static_check(&b.v, A("10.20.0.255"), &sc), -EADDRNOTAVAIL);
	assert_int_equal(sc.verdict, IPAM_STATIC_NOT_USABLE);
	/* in use: the holder is reported so the caller can name it */
	assert_int_equal(ipam_static_check(&b.v, A("10.20.0.6"), &sc), -EADDRINUSE);
	assert_int_equal(sc.verdict, IPAM_STATIC_IN_USE);
	assert_int_equal(sc.holder, 1);
	assert_int_equal(b.v.used[sc.holder].holder_id, 66);
	assert_int_equal(ipam_static_check(&b.v, A("10.20.0.1"), &sc), -EADDRINUSE);
	assert_int_equal(sc.verdict, IPAM_STATIC_EXCLUDED);
	/* dynamic range: refused, even when free */
	assert_int_equal(ipam_static_check(&b.v, A("10.20.0.120"), &sc), -EBUSY);
	assert_int_equal(sc.verdict, IPAM_STATIC_IN_DYNAMIC);
	assert_int_equal(sc.range, 1);
	assert_int_equal(ipam_static_check(&b.v, A("10.20.0.150"), &sc), -EBUSY);
	/* reserved range: allowed for a user-given address */
	assert_int_equal(ipam_static_check(&b.v, A("10.20.0.15"), &sc), 0);
	/* seen on the wire: allowed, flagged */
	assert_int_equal(ipam_static_check(&b.v, A("10.20.0.7"), &sc), 0);
	assert_true(sc.seen_on_wire);
	assert_int_equal(sc.last_seen, 1234);
	/* a value wider than 32 bits is never inside a v4 subnet */
	assert_int_equal(ipam_static_check(&b.v, A("2001:db8::1"), &sc), -ERANGE);

	/* unmanaged: reserved still allowed, dynamic still refused */
	b.v.managed = false;
	assert_int_equal(ipam_static_check(&b.v, A("10.20.0.15"), &sc), 0);
	assert_int_equal(ipam_static_check(&b.v, A("10.20.0.120"), &sc), -EBUSY);
	assert_int_equal(ipam_static_check(&b.v, A("10.20.0.30"), &sc), 0);
}

/* --- utilisation ---------------------------------------------------------- */

static void build_util_view(struct vb *b, bool managed)
{
	vb_init(b, "10.30.0.0/24", managed);
	vb_excl(b, "10.30.0.1"); /* gateway */
	vb_excl(b, "10.30.0.2"); /* DNS */
	vb_excl(b, "10.30.0.3"); /* rack address, also used */
	vb_used(b, "10.30.0.3", 1);
	vb_used(b, "10.30.0.5", 2);
	vb_used(b, "10.30.0.6", 3);
	vb_used(b, "10.30.0.15", 4);  /* inside the reserved range */
	vb_used(b, "10.30.0.150", 5); /* inside the dynamic range */
	vb_nb(b, "10.30.0.7", 1);
	vb_nb(b, "10.30.0.150", 2); /* also used: counted once */
	vb_range(b, "10.30.0.10", "10.30.0.19", IPAM_RANGE_RESERVED);
	vb_range(b, "10.30.0.100", "10.30.0.199", IPAM_RANGE_DYNAMIC);
	vb_done(b);
}

static void test_utilisation_managed(void **state)
{
	struct vb b;
	struct ipam_utilisation u;

	build_util_view(&b, true);
	ipam_utilisation(&b.v, &u);
	check_u128(u.total, 254);
	check_u128(u.used, 8); /* .1 .2 .3 .5 .6 .7 .15 .150 */
	check_u128(u.reserved, 110);
	check_u128(u.available, 254 - 110 - 6);
	check_u128(u.unavailable, 116);
	assert_float_equal(u.used_pct, 11600.0 / 254.0, 1e-9);
	check_u128(u.dhcp_total, 100);
	check_u128(u.dhcp_available, 99);
	check_addr(&b.v, u.largest_free.first, "10.30.0.20");
	check_addr(&b.v, u.largest_free.last, "10.30.0.99");
	check_u128(u.largest_free.size, 80);
}

static void test_utilisation_unmanaged(void **state)
{
	struct vb b;
	struct ipam_utilisation u;

	build_util_view(&b, false);
	ipam_utilisation(&b.v, &u);
	check_u128(u.total, 254);
	check_u128(u.used, 8);
	check_u128(u.reserved, 110);
	check_u128(u.available, 9); /* .10-.19 minus .15 */
	check_u128(u.unavailable, 245);
	check_u128(u.dhcp_total, 0);
	check_u128(u.dhcp_available, 0);
	check_addr(&b.v, u.largest_free.first, "10.30.0.10");
	check_u128(u.largest_free.size, 5);
}

static void test_free_blocks(void **state)
{
	struct vb b;
	struct ipam_free_iter it;
	struct ipam_block blk;
	static const char *const want[][2] = {
	    {"10.30.0.4", "10.30.0.4"},
	    {"10.30.0.8", "10.30.0.9"},
	    {"10.30.0.20", "10.30.0.99"},
	    {"10.30.0.200", "10.30.0.254"},
	};
	size_t n = 0;

	build_util_view(&b, true);
	ipam_free_iter_init(&it, &b.v, IPAM_POOL_AUTO, 0);
	while (ipam_free_iter_next(&it, &blk)) {
		assert_true(n < 4);
		check_addr(&b.v, blk.first, want[n][0]);
		check_addr(&b.v, blk.last, want[n][1]);
		n++;
	}
	assert_int_equal(n, 4);
	assert_false(ipam_free_iter_next(&it, &blk));

	/* starting in the middle of a block clips it */
	assert_int_equal(ipam_free_block_next(&b.v, IPAM_POOL_AUTO, A("10.30.0.50"), &blk), 0);
	check_addr(&b.v, blk.first, "10.30.0.50");
	check_addr(&b.v, blk.last, "10.30.0.99");
	assert_int_equal(ipam_free_block_next(&b.v, IPAM_POOL_AUTO, A("10.30.0.255"), &blk), -ENOENT);

	/* the USABLE pool ignores ranges */
	ipam_free_iter_init(&it, &b.v, IPAM_POOL_USABLE, A("10.30.0.140"));
	assert_true(ipam_free_iter_next(&it, &blk));
	check_addr(&b.v, blk.first, "10.30.0.140");
	check_addr(&b.v, blk.last, "10.30.0.149");
	assert_true(ipam_free_iter_next(&it, &blk));
	check_addr(&b.v, blk.first, "10.30.0.151");
	check_addr(&b.v, blk.last, "10.30.0.254");
	assert_false(ipam_free_iter_next(&it, &blk));

	/* the top of the v6 space ends iteration without overflow */
	struct ipam_view v6 = {.prefix = P("ffff:ffff:ffff:ffff::/64"), .managed = true};
	ipam_free_iter_init(&it, &v6, IPAM_POOL_AUTO, 0);
	assert_true(ipam_free_iter_next(&it, &blk));
	check_addr(&v6, blk.last, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	assert_false(ipam_free_iter_next(&it, &blk));
}

/* --- suggestions ---------------------------------------------------------- */

static void suggest_is(const char *prefix, bool managed, const char *gw, const char *dfirst, const char *dlast)
{
	struct ipam_view v = {.prefix = P(prefix), .managed = managed};
	struct ipam_suggestion s;

	ipam_suggest(&v, &s);
	assert_int_equal(s.has_gateway, gw != NULL);
	if (gw)
		check_addr(&v, s.gateway, gw);
	assert_int_equal(s.has_dynamic, dfirst != NULL);
	if (dfirst) {
		check_addr(&v, s.dynamic_first, dfirst);
		check_addr(&v, s.dynamic_last, dlast);
	}
}

static void test_suggest(void **state)
{
	suggest_is("192.168.1.0/24", true, "192.168.1.1", "192.168.1.128", "192.168.1.254");
	suggest_is("10.0.0.0/16", true, "10.0.0.1", "10.0.128.0", "10.0.255.254");
	suggest_is("10.0.0.0/29", true, "10.0.0.1", "10.0.0.4", "10.0.0.6");
	suggest_is("10.0.0.0/30", true, "10.0.0.1", NULL, NULL);
	suggest_is("10.0.0.0/31", true, "10.0.0.0", NULL, NULL);
	suggest_is("10.0.0.0/32", true, NULL, NULL, NULL);
	suggest_is("192.168.1.0/24", false, "192.168.1.1", NULL, NULL); /* DHCP never serves unmanaged */
	suggest_is("2001:db8:4d41:4153::/64", true, "2001:db8:4d41:4153::1",
		   "2001:db8:4d41:4153:8000::", "2001:db8:4d41:4153:ffff:ffff:ffff:ffff");
	suggest_is("2001:db8::/127", true, "2001:db8::", NULL, NULL);
	suggest_is("2001:db8::/128", true, NULL, NULL, NULL);

	/* not empty: the upper half of the largest free block; none with a dynamic range */
	struct vb b;
	struct ipam_suggestion s;
	vb_init(&b, "192.168.1.0/24", true);
	vb_range(&b, "192.168.1.200", "192.168.1.254", IPAM_RANGE_RESERVED);
	vb_excl(&b, "192.168.1.1");
	vb_done(&b);
	ipam_suggest(&b.v, &s);
	assert_true(s.has_dynamic);
	check_addr(&b.v, s.dynamic_first, "192.168.1.101"); /* block .2-.199 (198): upper 99 */
	check_addr(&b.v, s.dynamic_last, "192.168.1.199");
	vb_range(&b, "192.168.1.150", "192.168.1.160", IPAM_RANGE_DYNAMIC);
	vb_done(&b);
	ipam_suggest(&b.v, &s);
	assert_false(s.has_dynamic);
}

/* --- view validation and formatting --------------------------------------- */

static void test_view_check(void **state)
{
	struct vb b;
	size_t idx = 99;
	const char *what = NULL;

	vb_init(&b, "10.40.0.0/24", true);
	vb_used(&b, "10.40.0.9", 1);
	vb_used(&b, "10.40.0.5", 2);
	assert_int_equal(ipam_view_check(&b.v, &idx, &what), -EINVAL);
	assert_string_equal(what, "used not sorted");
	assert_int_equal(idx, 1);
	ipam_sort_used(b.used, b.v.n_used);
	assert_int_equal(ipam_view_check(&b.v, NULL, NULL), 0);
	assert_true(b.used[0].addr == A("10.40.0.5") && b.used[0].holder_id == 2);

	vb_used(&b, "10.40.0.9", 3);
	assert_int_equal(ipam_view_check(&b.v, &idx, &what), -EINVAL);
	assert_string_equal(what, "duplicate used address");
	b.v.n_used--;

	vb_range(&b, "10.40.0.10", "10.40.0.20", IPAM_RANGE_RESERVED);
	vb_range(&b, "10.40.0.20", "10.40.0.30", IPAM_RANGE_DYNAMIC);
	assert_int_equal(ipam_view_check(&b.v, &idx, &what), -EINVAL);
	assert_string_equal(what, "ranges overlap");
	b.ranges[1].first = A("10.40.0.21");
	assert_int_equal(ipam_view_check(&b.v, NULL, NULL), 0);
	b.ranges[1].last = A("10.40.1.30");
	assert_int_equal(ipam_view_check(&b.v, &idx, &what), -EINVAL);
	assert_string_equal(what, "range outside subnet");
	b.ranges[1].last = A("10.40.0.15");
	assert_int_equal(ipam_view_check(&b.v, &idx, &what), -EINVAL);
	assert_string_equal(what, "range start after end");
	b.v.n_ranges = 0;

	vb_nb(&b, "10.40.0.3", 1);
	vb_nb(&b, "10.40.0.2", 1);
	assert_int_equal(ipam_view_check(&b.v, &idx, &what), -EINVAL);
	assert_string_equal(what, "neighbours not sorted");
	ipam_sort_neighbours(b.nb, b.v.n_neighbours);
	vb_excl(&b, "10.40.0.8");
	vb_excl(&b, "10.40.0.1");
	assert_int_equal(ipam_view_check(&b.v, &idx, &what), -EINVAL);
	assert_string_equal(what, "excluded not sorted");
	ipam_sort_addrs(b.excluded, b.v.n_excluded);
	assert_int_equal(ipam_view_check(&b.v, NULL, NULL), 0);

	b.v.prefix.addr.bytes[3] = 1; /* host bits set */
	assert_int_equal(ipam_view_check(&b.v, &idx, &what), -EINVAL);
	assert_string_equal(what, "prefix has host bits set");

	/* ipam_range_find */
	vb_init(&b, "10.40.0.0/24", true);
	vb_range(&b, "10.40.0.10", "10.40.0.20", IPAM_RANGE_RESERVED);
	vb_range(&b, "10.40.0.30", "10.40.0.40", IPAM_RANGE_DYNAMIC);
	vb_done(&b);
	assert_int_equal(ipam_range_find(&b.v, A("10.40.0.9")), -1);
	assert_int_equal(ipam_range_find(&b.v, A("10.40.0.10")), 0);
	assert_int_equal(ipam_range_find(&b.v, A("10.40.0.20")), 0);
	assert_int_equal(ipam_range_find(&b.v, A("10.40.0.25")), -1);
	assert_int_equal(ipam_range_find(&b.v, A("10.40.0.40")), 1);
	assert_int_equal(ipam_range_find(&b.v, A("10.40.0.41")), -1);
}

static void test_u128_format(void **state)
{
	char buf[IPAM_U128_STRLEN], small[4];

	assert_string_equal(ipam_u128_format(0, buf, sizeof(buf)), "0");
	assert_string_equal(ipam_u128_format(18446744073709551615u, buf, sizeof(buf)), "18446744073709551615");
	assert_string_equal(ipam_u128_format((u128)-1, buf, sizeof(buf)), "340282366920938463463374607431768211455");
	assert_string_equal(ipam_u128_format(123456, small, sizeof(small)), "123"); /* truncated, terminated */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_usable_span),
	    cmocka_unit_test(test_managed_v4_auto),
	    cmocka_unit_test(test_managed_dhcp_pool),
	    cmocka_unit_test(test_run_across_ranges),
	    cmocka_unit_test(test_unmanaged),
	    cmocka_unit_test(test_neighbour_avoid_and_recheck),
	    cmocka_unit_test(test_neighbour_ties_and_pools),
	    cmocka_unit_test(test_v4_31_32),
	    cmocka_unit_test(test_v4_29),
	    cmocka_unit_test(test_v6_64),
	    cmocka_unit_test(test_v6_32),
	    cmocka_unit_test(test_v6_dense_run),
	    cmocka_unit_test(test_static_check),
	    cmocka_unit_test(test_utilisation_managed),
	    cmocka_unit_test(test_utilisation_unmanaged),
	    cmocka_unit_test(test_free_blocks),
	    cmocka_unit_test(test_suggest),
	    cmocka_unit_test(test_view_check),
	    cmocka_unit_test(test_u128_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
