/* rack/boot/table: building and checking the boot table, lookups, the
 * default, and the GetBootConfig answer cache (eviction, expiry,
 * coalescing of waiters). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rack/boot/table.h"

static const uint8_t MAC1[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t MAC2[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t MAC3[6] = {0x02, 0, 0, 0, 0, 0x03};

static struct boot_config_text cfg(const char *mac, const char *purpose, const char *kernel)
{
	return (struct boot_config_text){mac, purpose, kernel, "ephemeral/amd64/initrd.img", "console=ttyS0"};
}

static void test_build_and_lookup(void **state)
{
	struct boot_config_text in[] = {
	    cfg("02:00:00:00:00:02", "deploy", "deploy/vmlinuz"), cfg("", "enlist", "ephemeral/amd64/vmlinuz"),
	    cfg("02-00-00-00-00-01", "commission", "ephemeral/amd64/vmlinuz"), /* dashes, too */
	    cfg("02:00:00:00:00:0A", "local", ""),			       /* upper case; no kernel needed */
	};
	struct boot_table *t = NULL;
	struct boot_table_error err;

	assert_int_equal(boot_table_build(in, 4, &t, &err), 0);
	assert_int_equal(boot_table_count(t), 3);
	const struct boot_config *c = boot_table_lookup(t, MAC2);
	assert_non_null(c);
	assert_int_equal(c->purpose, BOOT_DEPLOY);
	assert_string_equal(c->kernel, "deploy/vmlinuz");
	assert_true(c->has_mac);
	c = boot_table_lookup(t, MAC1);
	assert_non_null(c);
	assert_int_equal(c->purpose, BOOT_COMMISSION);
	const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0, 0x0a};
	c = boot_table_lookup(t, mac_a);
	assert_non_null(c);
	assert_int_equal(c->purpose, BOOT_LOCAL);
	assert_null(boot_table_lookup(t, MAC3));
	c = boot_table_default(t);
	assert_non_null(c);
	assert_false(c->has_mac);
	assert_int_equal(c->purpose, BOOT_ENLIST);
	/* the table owns copies: the input may go */
	assert_ptr_not_equal(boot_table_lookup(t, MAC2)->kernel, in[0].kernel);
	boot_table_free(t);
}

static void test_empty_table(void **state)
{
	struct boot_table *t = NULL;
	assert_int_equal(boot_table_build(NULL, 0, &t, NULL), 0);
	assert_int_equal(boot_table_count(t), 0);
	assert_null(boot_table_default(t));
	assert_null(boot_table_lookup(t, MAC1));
	boot_table_free(t);
	boot_table_free(NULL);
}

/* One bad entry refuses the snapshot as a whole, naming the entry. */
static void test_reject_whole_snapshot(void **state)
{
	struct boot_table *t = (struct boot_table *)0x1; /* must stay untouched */
	struct boot_table_error err;
	char msg[512];

	struct boot_config_text bad_kernel[] = {
	    cfg("02:00:00:00:00:01", "deploy", "ok/vmlinuz"),
	    cfg("", "enlist", "ephemeral/vmlinuz"),
	    cfg("02:00:00:00:00:03", "deploy", "../x"),
	};
	assert_int_equal(boot_table_build(bad_kernel, 3, &t, &err), -EINVAL);
	assert_ptr_equal(t, (struct boot_table *)0x1);
	assert_int_equal(err.index, 2);
	assert_string_equal(err.mac, "02:00:00:00:00:03");
	assert_string_equal(err.field, "kernel");
	boot_table_error_format(&err, msg, sizeof(msg));
	assert_non_null(strstr(msg, "boot_configs[2] (mac 02:00:00:00:00:03): kernel must be"));

	struct boot_config_text cases[][2] = {
	    {cfg("02:00:00:00:00:01", "deploy", "k"), cfg("02:00:00:00:00:1", "deploy", "k")},
	    {cfg("02:00:00:00:00:01", "deploy", "k"), cfg("02:00:00:00:00:02", "reboot", "k")},
	    {cfg("02:00:00:00:00:01", "deploy", "k"), cfg("02-00-00-00-00-01", "local", "")},
	    {cfg("", "enlist", "k"), cfg("", "enlist", "k")},
	    {cfg("02:00:00:00:00:01", "deploy", "k"), cfg("02:00:00:00:00:02", "deploy", "/boot/vmlinuz")},
	    {cfg("02:00:00:00:00:01", "deploy", "k"), cfg("02:00:00:00:00:02", "enlist", NULL)},
	};
	const char *fields[] = {"mac", "purpose", "mac", "mac", "kernel", "kernel"};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(boot_table_build(cases[i], 2, &t, &err), -EINVAL);
		assert_int_equal(err.index, 1);
		assert_string_equal(err.field, fields[i]);
	}
	struct boot_config_text inj = cfg("02:00:00:00:00:01", "deploy", "k");
	inj.cmdline = "quiet\nLABEL evil";
	assert_int_equal(boot_table_build(&inj, 1, &t, &err), -EINVAL);
	assert_string_equal(err.field, "cmdline");
	boot_table_error_format(&err, msg, sizeof(msg));
	assert_non_null(strstr(msg, "command line"));
	struct boot_config_text dflt = cfg("", "deploy", "a b");
	assert_int_equal(boot_table_build(&dflt, 1, &t, &err), -EINVAL);
	boot_table_error_format(&err, msg, sizeof(msg));
	assert_non_null(strstr(msg, "boot_configs[0] (default): kernel"));
	assert_int_equal(boot_table_build(&dflt, BOOT_TABLE_MAX + 1, &t, &err), -E2BIG);
}

static void test_many_entries(void **state)
{
	enum { N = 3000 };
	static struct boot_config_text in[N];
	static char macs[N][18];
	struct boot_table *t;

	for (int i = 0; i < N; i++) {
		snprintf(macs[i], sizeof(macs[i]), "02:00:00:00:%02x:%02x", (N - i) >> 8, (N - i) & 0xff);
		in[i] = cfg(macs[i], "deploy", "k");
	}
	assert_int_equal(boot_table_build(in, N, &t, NULL), 0);
	assert_int_equal(boot_table_count(t), N);
	for (int i = 1; i <= N; i++) {
		uint8_t mac[6] = {2, 0, 0, 0, (uint8_t)(i >> 8), (uint8_t)i};
		assert_non_null(boot_table_lookup(t, mac));
	}
	boot_table_free(t);
}

/* ---- the answer cache ---- */

static struct boot_config answer(const char *kernel)
{
	return (struct boot_config){.purpose = BOOT_ENLIST, .kernel = kernel, .initrd = "i", .cmdline = "c"};
}

static size_t count_waiters(struct boot_wait *w)
{
	size_t n = 0;
	for (; w; w = w->next)
		n++;
	return n;
}

static void test_cache_coalesces(void **state)
{
	struct boot_cache *c;
	struct boot_wait w1, w2, w3;
	const struct boot_config *got;
	bool kept;

	assert_int_equal(boot_cache_new(16, 4, 2, &c), 0);
	assert_int_equal(boot_cache_lookup(c, MAC1, &got), BOOT_CACHE_MISS);
	assert_int_equal(boot_cache_begin(c, MAC1, &w1), 0);
	assert_int_equal(boot_cache_pending(c), 1);
	/* a second request for the same MAC waits for the same call */
	assert_int_equal(boot_cache_lookup(c, MAC1, &got), BOOT_CACHE_PENDING);
	assert_int_equal(boot_cache_begin(c, MAC1, &w2), -EEXIST);
	assert_int_equal(boot_cache_wait(c, MAC1, &w2), 0);
	assert_int_equal(boot_cache_wait(c, MAC1, &w3), -EBUSY); /* max_waiters 2 */
	assert_int_equal(boot_cache_wait(c, MAC2, &w3), -ENOENT);
	struct boot_config a = answer("ephemeral/vmlinuz");
	struct boot_wait *ws = boot_cache_finish(c, MAC1, &a, &kept);
	assert_true(kept);
	assert_ptr_equal(ws, &w1); /* arrival order */
	assert_ptr_equal(ws->next, &w2);
	assert_null(w2.next);
	assert_int_equal(boot_cache_pending(c), 0);
	assert_int_equal(boot_cache_lookup(c, MAC1, &got), BOOT_CACHE_HIT);
	assert_string_equal(got->kernel, "ephemeral/vmlinuz");
	assert_ptr_not_equal(got->kernel, a.kernel); /* a copy */
	assert_true(got->has_mac);
	assert_memory_equal(got->mac, MAC1, 6);
	/* finishing what is not in flight gives nothing */
	assert_null(boot_cache_finish(c, MAC2, &a, &kept));
	assert_false(kept);
	boot_cache_free(c);
}

static void test_cache_failure_not_kept_and_cancel(void **state)
{
	struct boot_cache *c;
	struct boot_wait w1, w2, w3;
	const struct boot_config *got;
	bool kept = true;

	assert_int_equal(boot_cache_new(16, 1, 8, &c), 0);
	assert_int_equal(boot_cache_begin(c, MAC1, &w1), 0);
	assert_int_equal(boot_cache_begin(c, MAC2, &w3), -EBUSY); /* max_pending 1 */
	assert_int_equal(boot_cache_wait(c, MAC1, &w2), 0);
	assert_int_equal(boot_cache_wait(c, MAC1, &w3), 0);
	boot_cache_cancel(c, MAC1, &w2);
	boot_cache_cancel(c, MAC1, &w2); /* twice is harmless */
	struct boot_wait *ws = boot_cache_finish(c, MAC1, NULL, &kept);
	assert_false(kept);
	assert_int_equal(count_waiters(ws), 2);
	assert_ptr_equal(ws, &w1);
	assert_ptr_equal(ws->next, &w3);
	/* a failure is not remembered: the next request asks again */
	assert_int_equal(boot_cache_lookup(c, MAC1, &got), BOOT_CACHE_MISS);
	assert_int_equal(boot_cache_count(c), 0);
	/* cancelling the last waiter keeps the call; its answer is still kept */
	assert_int_equal(boot_cache_begin(c, MAC1, &w1), 0);
	boot_cache_cancel(c, MAC1, &w1);
	struct boot_config a = answer("k");
	assert_null(boot_cache_finish(c, MAC1, &a, &kept));
	assert_true(kept);
	assert_int_equal(boot_cache_lookup(c, MAC1, &got), BOOT_CACHE_HIT);
	boot_cache_free(c);
}

static void test_cache_evicts_least_recently_used(void **state)
{
	struct boot_cache *c;
	struct boot_wait w;
	const struct boot_config *got;
	struct boot_config a = answer("k");

	assert_int_equal(boot_cache_new(2, 4, 4, &c), 0);
	const uint8_t *macs[] = {MAC1, MAC2, MAC3};
	for (int i = 0; i < 2; i++) {
		assert_int_equal(boot_cache_begin(c, macs[i], &w), 0);
		boot_cache_finish(c, macs[i], &a, NULL);
	}
	assert_int_equal(boot_cache_count(c), 2);
	/* touch MAC1: MAC2 is now the least recently used */
	assert_int_equal(boot_cache_lookup(c, MAC1, &got), BOOT_CACHE_HIT);
	assert_int_equal(boot_cache_begin(c, MAC3, &w), 0);
	boot_cache_finish(c, MAC3, &a, NULL);
	assert_int_equal(boot_cache_count(c), 2);
	assert_int_equal(boot_cache_lookup(c, MAC2, &got), BOOT_CACHE_MISS);
	assert_int_equal(boot_cache_lookup(c, MAC1, &got), BOOT_CACHE_HIT);
	assert_int_equal(boot_cache_lookup(c, MAC3, &got), BOOT_CACHE_HIT);
	/* a pending entry is never evicted, and does not count */
	assert_int_equal(boot_cache_begin(c, MAC2, &w), 0);
	assert_int_equal(boot_cache_count(c), 2);
	boot_cache_free(c); /* with a fetch in flight: no leak */
}

static void test_cache_expires_on_new_snapshot(void **state)
{
	struct boot_cache *c;
	struct boot_wait w1, w2;
	const struct boot_config *got;
	struct boot_config a = answer("k");
	bool kept;

	assert_int_equal(boot_cache_new(8, 4, 4, &c), 0);
	assert_int_equal(boot_cache_begin(c, MAC1, &w1), 0);
	boot_cache_finish(c, MAC1, &a, NULL);
	assert_int_equal(boot_cache_begin(c, MAC2, &w2), 0); /* in flight across the expiry */
	boot_cache_expire(c);
	assert_int_equal(boot_cache_count(c), 0);
	assert_int_equal(boot_cache_lookup(c, MAC1, &got), BOOT_CACHE_MISS);
	assert_int_equal(boot_cache_lookup(c, MAC2, &got), BOOT_CACHE_PENDING);
	/* the answer from before the new snapshot is passed on, not kept */
	assert_ptr_equal(boot_cache_finish(c, MAC2, &a, &kept), &w2);
	assert_false(kept);
	assert_int_equal(boot_cache_lookup(c, MAC2, &got), BOOT_CACHE_MISS);
	/* a fetch begun after the expiry is kept again */
	assert_int_equal(boot_cache_begin(c, MAC2, &w2), 0);
	boot_cache_finish(c, MAC2, &a, &kept);
	assert_true(kept);
	boot_cache_free(c);
}

/* BootForget: one MAC's answer goes, the others stay; a fetch in flight
 * for a forgotten MAC is passed on but not kept. */
static void test_cache_forget_one(void **state)
{
	struct boot_cache *c;
	struct boot_wait w1, w2, w3;
	const struct boot_config *got;
	struct boot_config a = answer("k");
	bool kept;

	assert_int_equal(boot_cache_new(8, 4, 4, &c), 0);
	assert_int_equal(boot_cache_begin(c, MAC1, &w1), 0);
	boot_cache_finish(c, MAC1, &a, NULL);
	assert_int_equal(boot_cache_begin(c, MAC2, &w2), 0);
	boot_cache_finish(c, MAC2, &a, NULL);
	assert_int_equal(boot_cache_begin(c, MAC3, &w3), 0);
	assert_true(boot_cache_forget(c, MAC1));
	assert_false(boot_cache_forget(c, MAC1)); /* nothing left to forget */
	assert_false(boot_cache_forget(c, MAC3)); /* in flight: no answer yet */
	assert_int_equal(boot_cache_count(c), 1);
	assert_int_equal(boot_cache_lookup(c, MAC1, &got), BOOT_CACHE_MISS);
	assert_int_equal(boot_cache_lookup(c, MAC2, &got), BOOT_CACHE_HIT);
	assert_int_equal(boot_cache_lookup(c, MAC3, &got), BOOT_CACHE_PENDING);
	assert_ptr_equal(boot_cache_finish(c, MAC3, &a, &kept), &w3);
	assert_false(kept);
	assert_int_equal(boot_cache_lookup(c, MAC3, &got), BOOT_CACHE_MISS);
	/* the next fetch for it is kept again */
	assert_int_equal(boot_cache_begin(c, MAC3, &w3), 0);
	boot_cache_finish(c, MAC3, &a, &kept);
	assert_true(kept);
	boot_cache_free(c);
}

static void test_cache_many(void **state)
{
	struct boot_cache *c;
	struct boot_wait w;
	struct boot_config a = answer("k");
	const struct boot_config *got;

	assert_int_equal(boot_cache_new(4096, 64, 32, &c), 0);
	for (unsigned i = 0; i < 10000; i++) {
		uint8_t mac[6] = {2, 0, 0, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
		assert_int_equal(boot_cache_begin(c, mac, &w), 0);
		boot_cache_finish(c, mac, &a, NULL);
	}
	assert_int_equal(boot_cache_count(c), 4096);
	for (unsigned i = 0; i < 10000; i++) {
		uint8_t mac[6] = {2, 0, 0, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
		assert_int_equal(boot_cache_lookup(c, mac, &got), i < 10000 - 4096 ? BOOT_CACHE_MISS : BOOT_CACHE_HIT);
	}
	boot_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_build_and_lookup),
	    cmocka_unit_test(test_empty_table),
	    cmocka_unit_test(test_reject_whole_snapshot),
	    cmocka_unit_test(test_many_entries),
	    cmocka_unit_test(test_cache_coalesces),
	    cmocka_unit_test(test_cache_failure_not_kept_and_cancel),
	    cmocka_unit_test(test_cache_evicts_least_recently_used),
	    cmocka_unit_test(test_cache_expires_on_new_snapshot),
	    cmocka_unit_test(test_cache_forget_one),
	    cmocka_unit_test(test_cache_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
