/* Unit tests for the IPAM engine beyond allocation (region/ipam/ipam.h):
 * static address checks, utilisation, free blocks, suggested gateway and
 * dynamic range, view validation and u128 formatting. */
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

	/* IPv6 with a reserved range: auto assign is inside it, but the
	 * suggested dynamic range goes where no range is. */
	vb_init(&b, "2001:db8:7::/64", true);
	vb_range(&b, "2001:db8:7::1", "2001:db8:7::ff", IPAM_RANGE_RESERVED);
	vb_done(&b);
	ipam_suggest(&b.v, &s);
	assert_true(s.has_dynamic);
	check_addr(&b.v, s.dynamic_first, "2001:db8:7:0:8000::80");
	check_addr(&b.v, s.dynamic_last, "2001:db8:7:0:ffff:ffff:ffff:ffff");
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
