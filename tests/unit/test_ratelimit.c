#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/ratelimit.h"

#define S 1000000LL

static const struct ratelimit_conf conf = {
    .burst = 5,
    .refill_us = 1 * S,
    .window_us = 10 * S,
    .lines_burst = 3,
    .lines_refill_us = 1 * S,
};

static void test_ratelimit_bucket(void **state)
{
	(void)state;
	static struct ratelimit rl;
	struct ratelimit_verdict v;
	int64_t now = 100 * S;

	ratelimit_init(&rl, &conf);
	for (int i = 0; i < 5; i++) {
		assert_true(ratelimit_allowed(&rl, "10.0.0.1", now));
		ratelimit_fail(&rl, "10.0.0.1", false, now, &v);
	}
	/* The burst is spent: throttled, and another source is not. */
	assert_false(ratelimit_allowed(&rl, "10.0.0.1", now));
	assert_true(ratelimit_allowed(&rl, "10.0.0.2", now));
	/* Throttled attempts do not push the refill further away. */
	for (int i = 0; i < 100; i++)
		ratelimit_fail(&rl, "10.0.0.1", true, now, &v);
	assert_false(ratelimit_allowed(&rl, "10.0.0.1", now + S / 2));
	assert_true(ratelimit_allowed(&rl, "10.0.0.1", now + S));
	ratelimit_fail(&rl, "10.0.0.1", false, now + S, &v);
	assert_false(ratelimit_allowed(&rl, "10.0.0.1", now + S));
	/* Quiet for a while: the whole burst again. */
	for (int i = 0; i < 5; i++) {
		assert_true(ratelimit_allowed(&rl, "10.0.0.1", now + 60 * S));
		ratelimit_fail(&rl, "10.0.0.1", false, now + 60 * S, &v);
	}
	assert_false(ratelimit_allowed(&rl, "10.0.0.1", now + 60 * S));
}

struct summaries {
	size_t n;
	uint64_t total;
	char key[8][RATELIMIT_KEY_LEN];
	uint64_t count[8], throttled[8];
	int64_t span[8];
};

static void collect(void *arg, const char *key, uint64_t count, uint64_t throttled, int64_t span_us)
{
	struct summaries *s = arg;
	s->total += count;
	if (s->n < 8) {
		snprintf(s->key[s->n], sizeof(s->key[s->n]), "%s", key);
		s->count[s->n] = count;
		s->throttled[s->n] = throttled;
		s->span[s->n] = span_us;
	}
	s->n++;
}

/* 500 failures in a burst: one line at once, one summary after the window. */
static void test_ratelimit_aggregate(void **state)
{
	(void)state;
	static struct ratelimit rl;
	struct ratelimit_verdict v;
	struct summaries s = {0};
	int64_t now = 100 * S;
	size_t lines = 0;

	ratelimit_init(&rl, &conf);
	for (int i = 0; i < 500; i++) {
		bool throttled = !ratelimit_allowed(&rl, "10.0.0.1", now + i);
		ratelimit_fail(&rl, "10.0.0.1", throttled, now + i, &v);
		lines += v.log_this + (v.summary_count > 0);
	}
	assert_int_equal(lines, 1);
	assert_int_equal(ratelimit_next_flush(&rl), now + 10 * S);
	assert_int_equal(ratelimit_flush(&rl, now + 5 * S, collect, &s), 0);
	assert_int_equal(ratelimit_flush(&rl, now + 10 * S, collect, &s), 1);
	assert_string_equal(s.key[0], "10.0.0.1");
	assert_int_equal(s.count[0], 499);
	assert_int_equal(s.throttled[0], 495);
	assert_int_equal(s.span[0], 10 * S);
	/* Said once. */
	assert_int_equal(ratelimit_flush(&rl, now + 30 * S, collect, &s), 0);
	assert_int_equal(ratelimit_next_flush(&rl), 0);
	/* The next failure opens a new window and is logged in full. */
	ratelimit_fail(&rl, "10.0.0.1", false, now + 31 * S, &v);
	assert_true(v.log_this);
	assert_int_equal(v.summary_count, 0);
	/* A summary due when the next event comes before any flush. */
	ratelimit_fail(&rl, "10.0.0.1", false, now + 32 * S, &v);
	assert_false(v.log_this);
	ratelimit_fail(&rl, "10.0.0.1", false, now + 45 * S, &v);
	assert_true(v.log_this);
	assert_int_equal(v.summary_count, 1);
	assert_int_equal(v.summary_span_us, 14 * S);
}

/* Many sources: first lines share a bucket; the rest shows in summaries. */
static void test_ratelimit_many_sources(void **state)
{
	(void)state;
	static struct ratelimit rl;
	struct ratelimit_verdict v;
	struct summaries s = {0};
	int64_t now = 100 * S;
	size_t lines = 0;
	char key[32];

	ratelimit_init(&rl, &conf);
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "10.1.%d.%d", i / 256, i % 256);
		ratelimit_fail(&rl, key, false, now, &v);
		lines += v.log_this;
	}
	assert_int_equal(lines, 3);
	/* At most the table's keys and "other sources" report, and every
	 * failure not logged is in a summary. */
	size_t n = ratelimit_flush(&rl, now + 10 * S, collect, &s);
	assert_true(n > 1 && n <= RATELIMIT_KEYS_MAX + 1);
	assert_int_equal(s.total, 1000 - 3);
	assert_int_equal(ratelimit_flush(&rl, now + 20 * S, collect, &s), 0);
}

static void test_ratelimit_peer_key(void **state)
{
	(void)state;
	char b[RATELIMIT_KEY_LEN];

	ratelimit_peer_key("ipv4:10.0.0.1:5000", b, sizeof(b));
	assert_string_equal(b, "10.0.0.1");
	ratelimit_peer_key("ipv6:[2001:db8::1]:5000", b, sizeof(b));
	assert_string_equal(b, "2001:db8::1");
	ratelimit_peer_key("127.0.0.1", b, sizeof(b));
	assert_string_equal(b, "127.0.0.1");
	ratelimit_peer_key("::1", b, sizeof(b));
	assert_string_equal(b, "::1");
	ratelimit_peer_key("unix:/run/x", b, sizeof(b));
	assert_string_equal(b, "unix");
	ratelimit_peer_key(NULL, b, sizeof(b));
	assert_string_equal(b, "");
	ratelimit_peer_key("ipv4:10.0.0.1:5000", b, 5);
	assert_string_equal(b, "10.0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ratelimit_bucket),
	    cmocka_unit_test(test_ratelimit_aggregate),
	    cmocka_unit_test(test_ratelimit_many_sources),
	    cmocka_unit_test(test_ratelimit_peer_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
