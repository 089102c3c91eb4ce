/* DHCP HA pool split (rack/dhcp/ha_split): the initial halves, when to ask
 * for addresses, how many to give, and which free sub-ranges carry them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>

#include "rack/dhcp/ha_split.h"

#define BASE 0x0a000000u

static void test_initial_split(void **state)
{
	struct ha_owner_span p[2], s[2];
	/* 10.0.0.100-199: primary 100-149, secondary 150-199. */
	assert_int_equal(ha_split_initial(BASE + 100, BASE + 199, HA_ROLE_PRIMARY, p), 2);
	assert_int_equal(p[0].first, BASE + 100);
	assert_int_equal(p[0].last, BASE + 149);
	assert_int_equal(p[0].owner, LEASE_OWNER_LOCAL);
	assert_int_equal(p[1].first, BASE + 150);
	assert_int_equal(p[1].last, BASE + 199);
	assert_int_equal(p[1].owner, LEASE_OWNER_PEER);
	/* The secondary's view is the mirror image. */
	assert_int_equal(ha_split_initial(BASE + 100, BASE + 199, HA_ROLE_SECONDARY, s), 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(s[i].first, p[i].first);
		assert_int_equal(s[i].last, p[i].last);
		assert_int_not_equal(s[i].owner, p[i].owner);
	}
	/* Odd size: the primary's half is the larger. */
	assert_int_equal(ha_split_initial(BASE + 1, BASE + 3, HA_ROLE_PRIMARY, p), 2);
	assert_int_equal(p[0].last, BASE + 2);
	assert_int_equal(p[1].first, BASE + 3);
	/* One address: the primary's alone. */
	assert_int_equal(ha_split_initial(BASE + 5, BASE + 5, HA_ROLE_SECONDARY, s), 1);
	assert_int_equal(s[0].first, BASE + 5);
	assert_int_equal(s[0].last, BASE + 5);
	assert_int_equal(s[0].owner, LEASE_OWNER_PEER);
	/* Two. */
	assert_int_equal(ha_split_initial(BASE + 5, BASE + 6, HA_ROLE_PRIMARY, p), 2);
	assert_int_equal(p[0].last, BASE + 5);
	assert_int_equal(p[1].first, BASE + 6);
	/* The top of the address space does not wrap. */
	assert_int_equal(ha_split_initial(0xfffffff0u, 0xffffffffu, HA_ROLE_PRIMARY, p), 2);
	assert_int_equal(p[0].last, 0xfffffff7u);
	assert_int_equal(p[1].first, 0xfffffff8u);
	assert_int_equal(p[1].last, 0xffffffffu);
	/* Bad input. */
	assert_int_equal(ha_split_initial(BASE + 9, BASE + 8, HA_ROLE_PRIMARY, p), -EINVAL);
	assert_int_equal(ha_split_initial(0, 10, HA_ROLE_PRIMARY, p), -EINVAL);
}

static void test_ask_and_give(void **state)
{
	/* Not short: nothing. */
	assert_int_equal(ha_rebalance_ask(50, 50), 0);
	assert_int_equal(ha_rebalance_ask(25, 50), 0);
	assert_int_equal(ha_rebalance_ask(100, 0), 0);
	/* Short: half the difference. */
	assert_int_equal(ha_rebalance_ask(24, 50), 13);
	assert_int_equal(ha_rebalance_ask(0, 100), 50);
	assert_int_equal(ha_rebalance_ask(0, 1), 0);
	/* The giver gives what was asked, but never ends up the shorter. */
	assert_int_equal(ha_rebalance_give(50, 100, 0), 50);
	assert_int_equal(ha_rebalance_give(80, 100, 0), 50);
	assert_int_equal(ha_rebalance_give(10, 100, 0), 10);
	assert_int_equal(ha_rebalance_give(50, 40, 0), 20);
	assert_int_equal(ha_rebalance_give(50, 10, 20), 0);
	assert_int_equal(ha_rebalance_give(50, 20, 20), 0);
	/* Ask then give converges: both near equal afterwards, and a second
	 * round asks nothing. */
	for (uint32_t mine = 0; mine < 300; mine += 7) {
		for (uint32_t other = 0; other < 300; other += 11) {
			uint32_t ask = ha_rebalance_ask(mine, other);
			uint32_t give = ha_rebalance_give(ask, other, mine);
			assert_true(give <= ask);
			uint32_t m2 = mine + give, o2 = other - give;
			assert_true(o2 >= m2 || ask == 0 || give < ask);
			assert_int_equal(ha_rebalance_ask(m2, o2), 0);
		}
	}
}

static void test_plan(void **state)
{
	struct ha_span out[8];
	uint32_t total;
	/* One free run 10.0.0.150-199, 20 wanted: the top 20. */
	const struct ha_span one[] = {{BASE + 150, BASE + 199}};
	assert_int_equal(ha_rebalance_plan(one, 1, 20, out, 8, &total), 1);
	assert_int_equal(total, 20);
	assert_int_equal(out[0].first, BASE + 180);
	assert_int_equal(out[0].last, BASE + 199);
	/* More wanted than there is: all of it. */
	assert_int_equal(ha_rebalance_plan(one, 1, 500, out, 8, &total), 1);
	assert_int_equal(total, 50);
	assert_int_equal(out[0].first, BASE + 150);

	/* Fragmented: whole runs from the top, the last one cut. */
	const struct ha_span frag[] = {
	    {BASE + 10, BASE + 19}, {BASE + 30, BASE + 30}, {BASE + 40, BASE + 44}, {BASE + 60, BASE + 62}};
	assert_int_equal(ha_rebalance_plan(frag, 4, 10, out, 8, &total), 4);
	assert_int_equal(total, 10);
	assert_int_equal(out[0].first, BASE + 60);
	assert_int_equal(out[0].last, BASE + 62);
	assert_int_equal(out[1].first, BASE + 40);
	assert_int_equal(out[1].last, BASE + 44);
	assert_int_equal(out[2].first, BASE + 30);
	assert_int_equal(out[3].first, BASE + 19);
	assert_int_equal(out[3].last, BASE + 19);
	/* Every span given lies inside a run. */
	for (int i = 0; i < 4; i++) {
		int inside = 0;
		for (int j = 0; j < 4; j++)
			inside += out[i].first >= frag[j].first && out[i].last <= frag[j].last;
		assert_int_equal(inside, 1);
	}
	/* Bounded by max spans: fewer addresses then. */
	assert_int_equal(ha_rebalance_plan(frag, 4, 10, out, 2, &total), 2);
	assert_int_equal(total, 8);
	/* Nothing wanted, nothing free. */
	assert_int_equal(ha_rebalance_plan(frag, 4, 0, out, 8, &total), 0);
	assert_int_equal(total, 0);
	assert_int_equal(ha_rebalance_plan(NULL, 0, 10, out, 8, &total), 0);
	assert_int_equal(total, 0);
	/* Runs out of order or overlapping are refused. */
	const struct ha_span bad[] = {{BASE + 40, BASE + 44}, {BASE + 10, BASE + 19}};
	assert_int_equal(ha_rebalance_plan(bad, 2, 5, out, 8, &total), -EINVAL);
	const struct ha_span overlap[] = {{BASE + 10, BASE + 19}, {BASE + 19, BASE + 25}};
	assert_int_equal(ha_rebalance_plan(overlap, 2, 5, out, 8, &total), -EINVAL);
	const struct ha_span inverted[] = {{BASE + 19, BASE + 10}};
	assert_int_equal(ha_rebalance_plan(inverted, 1, 5, out, 8, &total), -EINVAL);
	/* A whole /8's worth in one span. */
	const struct ha_span big[] = {{0x0a000001u, 0x0affffffu}};
	assert_int_equal(ha_span_size(&big[0]), 0xffffff);
	assert_int_equal(ha_rebalance_plan(big, 1, 0x800000u, out, 8, &total), 1);
	assert_int_equal(total, 0x800000u);
	assert_int_equal(out[0].first, 0x0a800000u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_initial_split),
	    cmocka_unit_test(test_ask_and_give),
	    cmocka_unit_test(test_plan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
