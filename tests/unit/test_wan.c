/* Unit tests for the WAN addressing engine (region/ipam/wan.h): a new WAN's
 * /29, buddy growth /29 -> /28 -> /27, a further subnet when the buddy is
 * taken, explicitly ordered extra subnets, exhaustion and bad input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "region/ipam/wan.h"

static struct ipprefix P(const char *s) {
	struct ipprefix p;

	assert_int_equal(ipprefix_parse(s, true, &p), 0);
	return p;
}

static void
check_prefix(const struct ipprefix *p, const char *want)
{
	char buf[IPPREFIX_STRLEN];

	assert_string_equal(ipprefix_format(p, buf, sizeof(buf)), want);
}

/* A pool built from text. */
struct pb {
	struct ipprefix parents[64];
	struct ipprefix taken[64];
	struct wan_pool pool;
};

static void pb_init(struct pb *b, const char *parent)
{
	memset(b, 0, sizeof(*b));
	b->pool.parents = b->parents;
	b->pool.taken = b->taken;
	if (parent)
		b->parents[b->pool.n_parents++] = P(parent);
}

static void pb_take(struct pb *b, const char *p)
{
	b->taken[b->pool.n_taken++] = P(p);
}

static void check_add(const struct wan_plan *pl, size_t i, const char *block)
{
	assert_true(i < pl->n);
	assert_int_equal(pl->actions[i].kind, WAN_ACTION_ADD);
	check_prefix(&pl->actions[i].block, block);
}

static void check_grow(const struct wan_plan *pl, size_t i, size_t index, const char *from, const char *to)
{
	assert_true(i < pl->n);
	assert_int_equal(pl->actions[i].kind, WAN_ACTION_GROW);
	assert_int_equal(pl->actions[i].index, index);
	check_prefix(&pl->actions[i].from, from);
	check_prefix(&pl->actions[i].block, to);
}

static void test_hosts(void **state)
{
	assert_int_equal(wan_block_hosts(29), 5);
	assert_int_equal(wan_block_hosts(28), 13);
	assert_int_equal(wan_block_hosts(27), 29);
	assert_int_equal(wan_block_hosts(24), 253);
	assert_int_equal(wan_block_hosts(30), 1);
	assert_int_equal(wan_block_hosts(31), 0);
	assert_int_equal(wan_block_hosts(32), 0);
	assert_int_equal(wan_block_hosts(33), 0);
	assert_int_equal(wan_block_hosts(0), UINT64_C(4294967293));
}

static void test_new_wan(void **state)
{
	struct pb b;
	struct wan_plan pl;

	pb_init(&b, "198.51.100.0/24");
	assert_int_equal(wan_plan_new(&b.pool, &pl), 0);
	assert_int_equal(pl.n, 1);
	check_add(&pl, 0, "198.51.100.0/29");
	assert_int_equal(pl.hosts_before, 0);
	assert_int_equal(pl.hosts_after, 5);

	/* .8/29 is free but its buddy is taken: leave it, take a /29 with room to grow */
	pb_take(&b, "198.51.100.0/29");
	assert_int_equal(wan_plan_new(&b.pool, &pl), 0);
	check_add(&pl, 0, "198.51.100.16/29");

	/* no free /28 left anywhere: the lowest free /29 */
	pb_init(&b, "198.51.100.0/28");
	pb_take(&b, "198.51.100.0/29");
	assert_int_equal(wan_plan_new(&b.pool, &pl), 0);
	check_add(&pl, 0, "198.51.100.8/29");

	/* a taken block that is not aligned to /29 blocks both /29s it touches */
	pb_init(&b, "198.51.100.0/27");
	pb_take(&b, "198.51.100.4/30");
	pb_take(&b, "198.51.100.8/30");
	pb_take(&b, "198.51.100.16/28");
	assert_int_equal(wan_plan_new(&b.pool, &pl), -ENOSPC);
	assert_int_equal(pl.n, 0);

	/* several parents: the first one is full */
	pb_init(&b, "203.0.113.0/24");
	b.parents[b.pool.n_parents++] = P("192.0.2.0/29");
	pb_take(&b, "192.0.2.0/29");
	pb_take(&b, "203.0.113.0/25");
	assert_int_equal(wan_plan_new(&b.pool, &pl), 0);
	check_add(&pl, 0, "203.0.113.128/29");
}

/* The seed's sequence: /29, grown to /28, to /27, then a further subnet once
 * the buddy space is taken. */
static void test_growth_sequence(void **state)
{
	struct pb b;
	struct wan_plan pl;
	struct ipprefix blocks[2];

	pb_init(&b, "198.51.100.0/24");
	pb_take(&b, "198.51.100.0/29");	 /* our WAN */
	pb_take(&b, "198.51.100.32/29"); /* another infrastructure's WAN */
	blocks[0] = P("198.51.100.0/29");

	/* 5 hosts fit: nothing to do */
	assert_int_equal(wan_plan_grow(&b.pool, blocks, 1, 5, &pl), 0);
	assert_int_equal(pl.n, 0);
	assert_int_equal(pl.hosts_before, 5);
	assert_int_equal(pl.hosts_after, 5);

	/* 6 hosts: /29 -> /28 in place */
	assert_int_equal(wan_plan_grow(&b.pool, blocks, 1, 6, &pl), 0);
	assert_int_equal(pl.n, 1);
	check_grow(&pl, 0, 0, "198.51.100.0/29", "198.51.100.0/28");
	assert_int_equal(pl.hosts_after, 13);

	/* apply it; 14 hosts: /28 -> /27 */
	b.taken[0] = P("198.51.100.0/28");
	blocks[0] = P("198.51.100.0/28");
	assert_int_equal(wan_plan_grow(&b.pool, blocks, 1, 14, &pl), 0);
	assert_int_equal(pl.n, 1);
	check_grow(&pl, 0, 0, "198.51.100.0/28", "198.51.100.0/27");
	assert_int_equal(pl.hosts_after, 29);

	/* apply it; 30 hosts: the /27's buddy holds the other WAN -> a new /29
	 * (the lower half of the lowest free /28, .48/28) */
	b.taken[0] = P("198.51.100.0/27");
	blocks[0] = P("198.51.100.0/27");
	assert_int_equal(wan_plan_grow(&b.pool, blocks, 1, 30, &pl), 0);
	assert_int_equal(pl.n, 1);
	check_add(&pl, 0, "198.51.100.48/29");
	assert_int_equal(pl.hosts_before, 29);
	assert_int_equal(pl.hosts_after, 34);

	/* apply it; 40 hosts: the new /29 grows before anything else is added */
	pb_take(&b, "198.51.100.48/29");
	blocks[1] = P("198.51.100.48/29");
	assert_int_equal(wan_plan_grow(&b.pool, blocks, 2, 40, &pl), 0);
	assert_int_equal(pl.n, 1);
	check_grow(&pl, 0, 1, "198.51.100.48/29", "198.51.100.48/28");
	assert_int_equal(pl.hosts_after, 42);
}

static void test_growth_multi_step(void **state)
{
	struct pb b;
	struct wan_plan pl;
	struct ipprefix blk = P("198.51.100.0/29");

	pb_init(&b, "198.51.100.0/24");
	pb_take(&b, "198.51.100.0/29");
	/* 100 hosts: /29 -> /25 folded into one action */
	assert_int_equal(wan_plan_grow(&b.pool, &blk, 1, 100, &pl), 0);
	assert_int_equal(pl.n, 1);
	check_grow(&pl, 0, 0, "198.51.100.0/29", "198.51.100.0/25");
	assert_int_equal(pl.hosts_after, 125);

	/* upper-half block: grows downward (network address moves) */
	pb_init(&b, "198.51.100.0/24");
	pb_take(&b, "198.51.100.8/29");
	blk = P("198.51.100.8/29");
	assert_int_equal(wan_plan_grow(&b.pool, &blk, 1, 6, &pl), 0);
	check_grow(&pl, 0, 0, "198.51.100.8/29", "198.51.100.0/28");

	/* growth never leaves the parent: a /29 parent cannot grow */
	pb_init(&b, "198.51.100.8/29");
	b.parents[b.pool.n_parents++] = P("198.51.100.64/26");
	pb_take(&b, "198.51.100.8/29");
	blk = P("198.51.100.8/29");
	assert_int_equal(wan_plan_grow(&b.pool, &blk, 1, 6, &pl), 0);
	assert_int_equal(pl.n, 1);
	check_add(&pl, 0, "198.51.100.64/29");
}

/* Growth blocked; the remainder needs a block bigger than a /29. */
static void test_add_needed_size(void **state)
{
	struct pb b;
	struct wan_plan pl;
	struct ipprefix blk = P("198.51.100.8/29");

	pb_init(&b, "198.51.100.0/24");
	pb_take(&b, "198.51.100.0/29"); /* buddy of ours: someone else */
	pb_take(&b, "198.51.100.8/29");
	/* 50 hosts: 45 missing -> a /26 (61 hosts), placed as the lower half of a free /25 */
	assert_int_equal(wan_plan_grow(&b.pool, &blk, 1, 50, &pl), 0);
	assert_int_equal(pl.n, 1);
	check_add(&pl, 0, "198.51.100.128/26");
	assert_int_equal(pl.hosts_after, 66);

	/* no /26 free: the largest free block that is, then again */
	pb_init(&b, "198.51.100.0/26");
	pb_take(&b, "198.51.100.0/29");
	pb_take(&b, "198.51.100.8/29");
	pb_take(&b, "198.51.100.32/28"); /* free: .16/28, .48/28 */
	assert_int_equal(wan_plan_grow(&b.pool, &blk, 1, 30, &pl), 0);
	/* 25 missing wants a /27; none free; /28 at .16 (13), then .48/28 (13) */
	assert_int_equal(pl.n, 2);
	check_add(&pl, 0, "198.51.100.16/28");
	check_add(&pl, 1, "198.51.100.48/28");
	assert_int_equal(pl.hosts_after, 31);

	/* and when even that is not enough: -ENOSPC, empty plan */
	assert_int_equal(wan_plan_grow(&b.pool, &blk, 1, 32, &pl), -ENOSPC);
	assert_int_equal(pl.n, 0);
	assert_int_equal(pl.hosts_before, 5);
}

static void test_order_extra(void **state)
{
	struct pb b;
	struct wan_plan pl;

	pb_init(&b, "198.51.100.0/24");
	pb_take(&b, "198.51.100.0/29");
	/* e.g. a /28 for MetalLB: the lowest free aligned /28 */
	assert_int_equal(wan_plan_order(&b.pool, 28, &pl), 0);
	assert_int_equal(pl.n, 1);
	check_add(&pl, 0, "198.51.100.16/28");
	assert_int_equal(pl.hosts_after, 13);
	/* a /30 fills the hole next to the taken /29 */
	assert_int_equal(wan_plan_order(&b.pool, 30, &pl), 0);
	check_add(&pl, 0, "198.51.100.8/30");
	assert_int_equal(wan_plan_order(&b.pool, 32, &pl), 0);
	check_add(&pl, 0, "198.51.100.8/32");
	assert_int_equal(wan_plan_order(&b.pool, 25, &pl), 0);
	check_add(&pl, 0, "198.51.100.128/25");
	assert_int_equal(wan_plan_order(&b.pool, 24, &pl), -ENOSPC);
	assert_int_equal(wan_plan_order(&b.pool, 23, &pl), -EINVAL); /* longer than any parent */
	assert_int_equal(wan_plan_order(&b.pool, 33, &pl), -EINVAL);
}

static void test_bad_input(void **state)
{
	struct pb b;
	struct wan_plan pl;
	struct ipprefix blk = P("198.51.100.0/29");

	pb_init(&b, NULL);
	assert_int_equal(wan_plan_new(&b.pool, &pl), -ENOSPC); /* no parents */
	pb_init(&b, "2001:db8::/48");
	assert_int_equal(wan_plan_new(&b.pool, &pl), -EAFNOSUPPORT);
	pb_init(&b, "198.51.100.0/24");
	pb_take(&b, "2001:db8::/64");
	assert_int_equal(wan_plan_order(&b.pool, 28, &pl), -EAFNOSUPPORT);

	pb_init(&b, "198.51.100.0/24");
	assert_int_equal(wan_plan_grow(&b.pool, &blk, 0, 10, &pl), -EINVAL);
	assert_int_equal(wan_plan_grow(&b.pool, NULL, 1, 10, &pl), -EINVAL);
	struct ipprefix outside = P("192.0.2.0/29");
	assert_int_equal(wan_plan_grow(&b.pool, &outside, 1, 10, &pl), -EINVAL);
}

/* More than WAN_PLAN_MAX actions: -E2BIG. */
static void test_plan_too_big(void **state)
{
	struct pb b;
	struct wan_plan pl;
	char s[32];

	pb_init(&b, NULL);
	/* 40 separate /29 parents, two /29s apart so none can grow */
	for (int i = 0; i < 40; i++) {
		snprintf(s, sizeof(s), "10.0.%d.0/29", i);
		b.parents[b.pool.n_parents++] = P(s);
	}
	struct ipprefix blk = P("10.0.0.0/29");
	pb_take(&b, "10.0.0.0/29");
	/* 32 further /29s: exactly WAN_PLAN_MAX actions */
	assert_int_equal(wan_plan_grow(&b.pool, &blk, 1, 5 * 33, &pl), 0);
	assert_int_equal(pl.n, WAN_PLAN_MAX);
	check_add(&pl, 0, "10.0.1.0/29");
	check_add(&pl, 31, "10.0.32.0/29");
	assert_int_equal(wan_plan_grow(&b.pool, &blk, 1, 5 * 34, &pl), -E2BIG);
	assert_int_equal(pl.n, 0);
}

static struct ipaddr A(const char *s) {
	struct ipaddr a;

	assert_int_equal(ipaddr_parse(s, &a), 0);
	return a;
}

/* Growth reversed: a /27 whose instances went back to 3 addresses in its
 * lowest /29 becomes that /29 again; the gateway (network address) stays. */
static void
test_shrink_in_place(void **state)
{
	struct wan_plan pl;
	struct ipprefix blk = P("198.51.100.0/27");
	struct ipaddr used[] = {A("198.51.100.2"), A("198.51.100.3"), A("198.51.100.4")};

	assert_int_equal(wan_plan_shrink(&blk, 1, used, 3, 3, &pl), 0);
	assert_int_equal(pl.n, 1);
	assert_int_equal(pl.actions[0].kind, WAN_ACTION_SHRINK);
	assert_int_equal(pl.actions[0].index, 0);
	check_prefix(&pl.actions[0].from, "198.51.100.0/27");
	check_prefix(&pl.actions[0].block, "198.51.100.0/29");
	assert_int_equal(pl.hosts_before, 29);
	assert_int_equal(pl.hosts_after, 5);

	/* 6 hosts needed: a /28 (13), not a /29 (5). */
	assert_int_equal(wan_plan_shrink(&blk, 1, used, 3, 6, &pl), 0);
	assert_int_equal(pl.n, 1);
	check_prefix(&pl.actions[0].block, "198.51.100.0/28");

	/* An address in use in the upper half keeps the /27 whole. */
	struct ipaddr high[] = {A("198.51.100.2"), A("198.51.100.20")};
	assert_int_equal(wan_plan_shrink(&blk, 1, high, 2, 1, &pl), 0);
	assert_int_equal(pl.n, 0);
	/* ... one in the second /29 keeps a /28. */
	struct ipaddr mid[] = {A("198.51.100.9")};
	assert_int_equal(wan_plan_shrink(&blk, 1, mid, 1, 1, &pl), 0);
	assert_int_equal(pl.n, 1);
	check_prefix(&pl.actions[0].block, "198.51.100.0/28");

	/* Never below a /29, and nothing to do when the hosts just fit. */
	struct ipprefix small = P("198.51.100.0/29");
	assert_int_equal(wan_plan_shrink(&small, 1, NULL, 0, 0, &pl), 0);
	assert_int_equal(pl.n, 0);
	assert_int_equal(wan_plan_shrink(&blk, 1, used, 3, 29, &pl), 0);
	assert_int_equal(pl.n, 0);
	assert_int_equal(wan_plan_shrink(&blk, 1, used, 3, 100, &pl), 0);
	assert_int_equal(pl.n, 0);
}

/* Blocks added later go first, the last one first; the first block never
 * goes, and a block holding an address in use stays. */
static void test_shrink_releases_blocks(void **state)
{
	struct wan_plan pl;
	struct ipprefix blks[] = {P("10.30.0.0/29"), P("10.30.0.24/29"), P("10.30.0.32/29")};
	struct ipaddr used[] = {A("10.30.0.2"), A("10.30.0.26")};

	/* 5 + 5 + 5 hosts, 2 needed: the third goes, the second holds .26. */
	assert_int_equal(wan_plan_shrink(blks, 3, used, 2, 2, &pl), 0);
	assert_int_equal(pl.n, 1);
	assert_int_equal(pl.actions[0].kind, WAN_ACTION_RELEASE);
	assert_int_equal(pl.actions[0].index, 2);
	check_prefix(&pl.actions[0].block, "10.30.0.32/29");
	assert_int_equal(pl.hosts_after, 10);

	/* Nothing in use: everything but the first block goes. */
	assert_int_equal(wan_plan_shrink(blks, 3, NULL, 0, 0, &pl), 0);
	assert_int_equal(pl.n, 2);
	assert_int_equal(pl.actions[0].index, 2);
	assert_int_equal(pl.actions[1].index, 1);
	assert_int_equal(pl.hosts_after, 5);

	/* 7 needed: one of the later blocks stays (the last goes first). */
	assert_int_equal(wan_plan_shrink(blks, 3, NULL, 0, 7, &pl), 0);
	assert_int_equal(pl.n, 1);
	assert_int_equal(pl.actions[0].index, 2);

	/* Release then shrink: a grown first block and an added one. */
	struct ipprefix two[] = {P("10.30.0.0/28"), P("10.30.0.64/29")};
	assert_int_equal(wan_plan_shrink(two, 2, used, 1, 1, &pl), 0);
	assert_int_equal(pl.n, 2);
	assert_int_equal(pl.actions[0].kind, WAN_ACTION_RELEASE);
	assert_int_equal(pl.actions[0].index, 1);
	assert_int_equal(pl.actions[1].kind, WAN_ACTION_SHRINK);
	check_prefix(&pl.actions[1].block, "10.30.0.0/29");

	/* Bad input. */
	assert_int_equal(wan_plan_shrink(blks, 0, NULL, 0, 0, &pl), -EINVAL);
	struct ipprefix v6 = P("2001:db8::/64");
	assert_int_equal(wan_plan_shrink(&v6, 1, NULL, 0, 0, &pl), -EAFNOSUPPORT);
	struct ipaddr a6 = A("2001:db8::1");
	assert_int_equal(wan_plan_shrink(blks, 1, &a6, 1, 0, &pl), -EAFNOSUPPORT);
	assert_int_equal(pl.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hosts),	    cmocka_unit_test(test_new_wan),
	    cmocka_unit_test(test_growth_sequence), cmocka_unit_test(test_growth_multi_step),
	    cmocka_unit_test(test_add_needed_size), cmocka_unit_test(test_order_extra),
	    cmocka_unit_test(test_bad_input),	    cmocka_unit_test(test_plan_too_big),
	    cmocka_unit_test(test_shrink_in_place), cmocka_unit_test(test_shrink_releases_blocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
