/* Unit tests for the rack's power poll plan (rack/power/poll.h): spreading
 * over the interval, replacement keeping survivors' schedule and state,
 * change detection, and the ownership of the shell's pointers. A fake
 * clock drives due(); nothing sleeps. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rack/power/poll.h"

#define S 1000000LL

/* The shell's per-machine pointer: counts its releases. */
struct tag {
	uint64_t id;
	int released;
};

static int releases;

static void tag_release(void *arg)
{
	struct tag *t = arg;

	t->released++;
	releases++;
}

/* Targets for ids [first, first + n) step by step, with tags from pool. */
static struct power_poll_target *targets_range(uint64_t first, size_t n, uint64_t step, struct tag *pool)
{
	struct power_poll_target *t = calloc(n ? n : 1, sizeof(*t));

	assert_non_null(t);
	for (size_t i = 0; i < n; i++) {
		uint64_t id = first + i * step;
		t[i].machine_id = id;
		t[i].arg = pool ? &pool[id] : NULL;
		if (pool)
			pool[id].id = id;
	}
	return t;
}

/* Every due moment from from_us up to (not including) to_us, recorded per
 * machine in last_due[] (asserting none is due twice within an interval)
 * and as a sorted list of times. Returns how many were due. */
static size_t run_rounds(struct power_poll *p, int64_t from_us, int64_t to_us, int64_t *last_due, int64_t iv,
			 int64_t *times, size_t max_times)
{
	struct power_poll_target out[8];
	size_t total = 0;
	int64_t now = from_us;

	for (;;) {
		int64_t next = power_poll_next_due(p);
		if (next >= to_us)
			break;
		if (next > now)
			now = next;
		size_t k = power_poll_due(p, now, out, 8);
		assert_true(k > 0);
		for (size_t i = 0; i < k; i++) {
			uint64_t id = out[i].machine_id;
			if (last_due[id] != INT64_MIN)
				assert_true(now - last_due[id] >= iv);
			last_due[id] = now;
			if (times && total < max_times)
				times[total] = now;
			total++;
		}
	}
	return total;
}

static int64_t *last_due_new(size_t n)
{
	int64_t *v = malloc(n * sizeof(*v));

	assert_non_null(v);
	for (size_t i = 0; i < n; i++)
		v[i] = INT64_MIN;
	return v;
}

static void test_spread_by_rank(void **state)
{
	const int64_t t0 = 5000 * S, iv = 300 * S;
	struct power_poll *p = power_poll_new(NULL);
	struct power_poll_target *t = targets_range(1, 1000, 1, NULL);
	int64_t *last = last_due_new(1001);
	int64_t *times = calloc(3000, sizeof(*times));

	assert_int_equal(power_poll_next_due(p), INT64_MAX);
	power_poll_set(p, t, 1000, 0, t0);
	assert_int_equal(power_poll_count(p), 1000);
	assert_int_equal(power_poll_interval_s(p), 300);
	assert_int_equal(power_poll_next_due(p), t0);

	/* Three whole intervals: 3,000 polls, 0.3 s apart, each machine once
	 * per interval at the same phase. */
	size_t n = run_rounds(p, t0, t0 + 3 * iv, last, iv, times, 3000);
	assert_int_equal(n, 3000);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(times[i], t0 + (int64_t)i * 300000);
	for (uint64_t id = 1; id <= 1000; id++)
		assert_int_equal(last[id], t0 + 2 * iv + (int64_t)(id - 1) * 300000);

	/* A loop away for 10 s finds the 34 machines due meanwhile, in
	 * batches, and none twice. */
	struct power_poll_target out[16];
	int64_t now = t0 + 3 * iv + 10 * S;
	size_t got = 0, k;
	while ((k = power_poll_due(p, now, out, 16)) > 0) {
		for (size_t i = 0; i < k; i++)
			assert_int_equal(out[i].machine_id, got + i + 1);
		got += k;
		if (k < 16)
			break;
	}
	assert_int_equal(got, 34);
	assert_int_equal(power_poll_next_due(p), t0 + 3 * iv + 34 * 300000);

	/* Away for more than an interval: each machine is due once, and its
	 * next time keeps its phase. */
	now = t0 + 5 * iv + 1;
	got = 0;
	while ((k = power_poll_due(p, now, out, 16)) > 0)
		got += k;
	assert_int_equal(got, 1000);
	struct power_poll_state st;
	assert_int_equal(power_poll_get(p, 1, &st), 0);
	assert_int_equal(st.next_due_us, t0 + 6 * iv);
	assert_int_equal(power_poll_get(p, 1000, &st), 0);
	assert_int_equal(st.next_due_us, t0 + 5 * iv + 999 * 300000);

	free(times);
	free(last);
	free(t);
	power_poll_free(p);
}

static void test_replace_keeps_survivors(void **state)
{
	const int64_t t0 = 100 * S, iv = 300 * S;
	struct tag *pool = calloc(4000, sizeof(*pool));
	struct tag *pool2 = calloc(4000, sizeof(*pool2));
	struct power_poll *p = power_poll_new(tag_release);
	struct power_poll_target *t = targets_range(1, 1000, 1, pool);
	int64_t *last = last_due_new(4000);

	releases = 0;
	power_poll_set(p, t, 1000, 300, t0);
	/* 100 s into the round, with answers for some. */
	run_rounds(p, t0, t0 + 100 * S, last, iv, NULL, 0);
	for (uint64_t id = 1; id <= 1000; id += 7)
		assert_int_equal(power_poll_record(p, id, POWER_STATE_ON, true, "", 42), 1);

	int64_t *due_before = malloc(1001 * sizeof(*due_before));
	for (uint64_t id = 1; id <= 1000; id++) {
		struct power_poll_state st;
		assert_int_equal(power_poll_get(p, id, &st), 0);
		due_before[id] = st.next_due_us;
	}

	/* New set: machines 1..1000 not divisible by 3 stay (667), 1000..2399
	 * by twos join (700); some survivors bring a new pointer. */
	size_t n = 0;
	struct power_poll_target *nt = calloc(2000, sizeof(*nt));
	for (uint64_t id = 1; id <= 1000; id++) {
		if (id % 3 == 0)
			continue;
		nt[n].machine_id = id;
		nt[n].arg = id % 5 == 0 ? &pool2[id] : &pool[id];
		n++;
	}
	for (uint64_t id = 1001; id < 2401; id += 2) {
		nt[n].machine_id = id;
		nt[n].arg = &pool[id];
		n++;
	}
	nt[n].machine_id = 2;
	nt[n].arg = &pool2[2]; /* a repeat: dropped, its pointer released */
	n++;
	int64_t now = t0 + 100 * S;
	power_poll_set(p, nt, n, 300, now);
	assert_int_equal(power_poll_count(p), 667 + 700);

	/* Pointers: the 333 that left, the 134 survivors' old ones replaced,
	 * the repeat. None still in use. */
	assert_int_equal(releases, 333 + 134 + 1);
	for (uint64_t id = 1; id <= 1000; id++) {
		struct power_poll_state st;
		int r = power_poll_get(p, id, &st);
		if (id % 3 == 0) {
			assert_int_equal(r, -ENOENT);
			assert_int_equal(pool[id].released, 1);
			continue;
		}
		assert_int_equal(r, 0);
		/* Survivors keep their schedule and their state. */
		assert_int_equal(st.next_due_us, due_before[id]);
		assert_int_equal(st.known, (id - 1) % 7 == 0);
		if (st.known) {
			assert_int_equal(st.state, POWER_STATE_ON);
			assert_int_equal(st.at_unix_ms, 42);
		}
		assert_ptr_equal(st.arg, id % 5 == 0 ? &pool2[id] : &pool[id]);
		assert_int_equal(pool[id].released, id % 5 == 0 ? 1 : 0);
	}
	assert_int_equal(pool2[2].released, 1);
	/* A result for a machine that left is refused; a survivor's same
	 * answer is no change. */
	assert_int_equal(power_poll_record(p, 3, POWER_STATE_ON, true, "", 43), -ENOENT);
	assert_int_equal(power_poll_record(p, 1, POWER_STATE_ON, true, "", 43), 0);

	/* No burst: right after the replacement at most a couple are due. */
	struct power_poll_target out[64];
	assert_true(power_poll_due(p, now, out, 64) <= 2);

	/* The next interval: every machine exactly once, and evenly: no
	 * second holds more than twice the average (1,367 / 300 s = 4.6). */
	int64_t *times = calloc(4000, sizeof(*times));
	int64_t *last2 = last_due_new(4000);
	size_t got = run_rounds(p, now, now + iv, last2, iv, times, 4000);
	assert_true(got >= 1365 && got <= 1367); /* those due at `now` were taken above */
	size_t seen = 0;
	for (uint64_t id = 1; id < 2401; id++)
		seen += last2[id] != INT64_MIN;
	assert_int_equal(seen, got);
	int64_t max_gap = 0;
	for (size_t i = 0, j = 0; i < got; i++) {
		while (times[i] - times[j] >= S)
			j++;
		assert_true(i - j + 1 <= 9);
		if (i)
			max_gap = times[i] - times[i - 1] > max_gap ? times[i] - times[i - 1] : max_gap;
	}
	/* Ideal spacing 0.219 s; the largest hole stays near it. */
	assert_true(max_gap <= 400000);

	free(times);
	free(last2);
	free(due_before);
	free(nt);
	free(t);
	free(last);
	releases = 0;
	power_poll_free(p);
	assert_int_equal(releases, 667 + 700);
	free(pool);
	free(pool2);
}

/* Survivors bunched at one end of the interval (the first 100 of 1,000,
 * 0.3 s apart): the 900 that join go mostly into the long gap after them,
 * in proportion to its length, so no second is crowded. */
static void test_replace_bunched_survivors(void **state)
{
	const int64_t t0 = 0, iv = 300 * S;
	struct power_poll *p = power_poll_new(NULL);
	struct power_poll_target *a = targets_range(1, 1000, 1, NULL);
	struct power_poll_target *b = targets_range(1, 100, 1, NULL);
	struct power_poll_target *all = calloc(1000, sizeof(*all));

	power_poll_set(p, a, 1000, 300, t0);
	memcpy(all, b, 100 * sizeof(*all));
	for (size_t i = 0; i < 900; i++)
		all[100 + i].machine_id = 5001 + i;
	power_poll_set(p, all, 1000, 300, t0);

	int64_t *last = last_due_new(6000);
	int64_t *times = calloc(1000, sizeof(*times));
	size_t got = run_rounds(p, t0, t0 + iv, last, iv, times, 1000);
	assert_int_equal(got, 1000);
	int64_t max_gap = 0;
	for (size_t i = 0, j = 0; i < got; i++) {
		while (times[i] - times[j] >= S)
			j++;
		assert_true(i - j + 1 <= 8); /* the average is 3.3 a second */
		if (i)
			max_gap = times[i] - times[i - 1] > max_gap ? times[i] - times[i - 1] : max_gap;
	}
	assert_true(max_gap <= 400000);
	free(times);
	free(last);
	free(all);
	free(b);
	free(a);
	power_poll_free(p);
}

static void test_replace_all_new_and_empty(void **state)
{
	struct power_poll *p = power_poll_new(NULL);
	struct power_poll_target *a = targets_range(1, 10, 1, NULL);
	struct power_poll_target *b = targets_range(100, 4, 1, NULL);

	power_poll_set(p, a, 10, 60, 0);
	/* Nothing kept: the newcomers spread by rank from now. */
	power_poll_set(p, b, 4, 60, 7 * S);
	struct power_poll_state st;
	for (uint64_t i = 0; i < 4; i++) {
		assert_int_equal(power_poll_get(p, 100 + i, &st), 0);
		assert_int_equal(st.next_due_us, 7 * S + (int64_t)i * 15 * S);
		assert_false(st.known);
	}
	assert_int_equal(power_poll_get(p, 1, &st), -ENOENT);
	power_poll_set(p, NULL, 0, 60, 8 * S);
	assert_int_equal(power_poll_count(p), 0);
	assert_int_equal(power_poll_next_due(p), INT64_MAX);
	struct power_poll_target out[4];
	assert_int_equal(power_poll_due(p, INT64_MAX - 1, out, 4), 0);
	assert_int_equal(power_poll_record(p, 100, POWER_STATE_ON, true, NULL, 1), -ENOENT);
	free(a);
	free(b);
	power_poll_free(p);
	power_poll_free(NULL);
}

static void test_interval_change(void **state)
{
	struct power_poll *p = power_poll_new(NULL);
	struct power_poll_target *t = targets_range(1, 100, 1, NULL);
	int64_t *last = last_due_new(101);

	power_poll_set(p, t, 100, 300, 0);
	/* 3 s apart. Cut the interval to 60 s at t = 0.5 s (machine 1 was
	 * taken at 0): the remaining waits shrink fivefold, still spread. */
	struct power_poll_target out[4];
	assert_int_equal(power_poll_due(p, 0, out, 4), 1);
	power_poll_set(p, t, 100, 60, S / 2);
	assert_int_equal(power_poll_interval_s(p), 60);
	struct power_poll_state st;
	assert_int_equal(power_poll_get(p, 2, &st), 0);
	assert_int_equal(st.next_due_us, S / 2 + (3 * S - S / 2) / 5);
	assert_int_equal(power_poll_get(p, 100, &st), 0);
	assert_int_equal(st.next_due_us, S / 2 + (297 * S - S / 2) / 5);
	size_t got = run_rounds(p, S / 2, S / 2 + 60 * S, last, 60 * S, NULL, 0);
	assert_int_equal(got, 100);
	free(last);
	free(t);
	power_poll_free(p);
}

static void test_change_detection(void **state)
{
	struct power_poll *p = power_poll_new(NULL);
	struct power_poll_target *t = targets_range(1, 3, 1, NULL);

	power_poll_set(p, t, 3, 0, 0);
	/* The first result after joining is a change, even "unknown". */
	assert_int_equal(power_poll_record(p, 1, POWER_STATE_UNKNOWN, true, NULL, 1), 1);
	assert_int_equal(power_poll_record(p, 1, POWER_STATE_UNKNOWN, true, "", 2), 0);
	assert_int_equal(power_poll_record(p, 1, POWER_STATE_ON, true, NULL, 3), 1);
	assert_int_equal(power_poll_record(p, 1, POWER_STATE_ON, true, NULL, 4), 0);
	/* An error appears, stays, changes, is cleared. */
	assert_int_equal(power_poll_record(p, 1, POWER_STATE_UNKNOWN, false, "no answer from the BMC within 30 s", 5),
			 1);
	assert_int_equal(power_poll_record(p, 1, POWER_STATE_UNKNOWN, false, "no answer from the BMC within 30 s", 6),
			 0);
	assert_int_equal(power_poll_record(p, 1, POWER_STATE_UNKNOWN, false, "BMC 10.0.0.5: password invalid", 7), 1);
	struct power_poll_state st;
	assert_int_equal(power_poll_get(p, 1, &st), 0);
	assert_true(st.known);
	assert_false(st.ok);
	assert_string_equal(st.error, "BMC 10.0.0.5: password invalid");
	assert_int_equal(st.at_unix_ms, 7);
	assert_int_equal(power_poll_record(p, 1, POWER_STATE_UNKNOWN, true, "", 8), 1);
	assert_int_equal(power_poll_get(p, 1, &st), 0);
	assert_string_equal(st.error, "");
	assert_true(st.ok);
	/* The same state with ok flipped is a change too. */
	assert_int_equal(power_poll_record(p, 1, POWER_STATE_UNKNOWN, false, "", 9), 1);
	assert_int_equal(power_poll_record(p, 2, POWER_STATE_OFF, true, "", 10), 1);
	assert_int_equal(power_poll_record(p, 2, POWER_STATE_ON, true, "", 11), 1);
	assert_int_equal(power_poll_record(p, 2, POWER_STATE_OFF, true, "", 12), 1);

	/* A machine that leaves and comes back starts over. */
	power_poll_set(p, t + 2, 1, 0, 0);
	power_poll_set(p, t, 3, 0, 0);
	assert_int_equal(power_poll_get(p, 2, &st), 0);
	assert_false(st.known);
	assert_int_equal(power_poll_record(p, 2, POWER_STATE_OFF, true, "", 13), 1);
	free(t);
	power_poll_free(p);
}

struct listing {
	uint64_t ids[8];
	bool known[8];
	enum power_state states[8];
	size_t n;
};

static void list_one(void *ctx, const struct power_poll_state *st)
{
	struct listing *l = ctx;

	assert_true(l->n < 8);
	l->ids[l->n] = st->machine_id;
	l->known[l->n] = st->known;
	l->states[l->n] = st->state;
	l->n++;
}

static void test_full_listing(void **state)
{
	struct power_poll *p = power_poll_new(NULL);
	struct power_poll_target t[4] = {{40, NULL}, {10, NULL}, {30, NULL}, {20, NULL}};
	struct listing l = {0};

	power_poll_set(p, t, 4, 0, 0);
	power_poll_record(p, 10, POWER_STATE_ON, true, "", 1);
	power_poll_record(p, 20, POWER_STATE_OFF, true, "", 1);
	power_poll_foreach(p, list_one, &l);
	assert_int_equal(l.n, 4);
	static const uint64_t want[4] = {40, 10, 30, 20}; /* the set's order */
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(l.ids[i], want[i]);
	assert_false(l.known[0]);
	assert_int_equal(l.states[0], POWER_STATE_UNKNOWN);
	assert_true(l.known[1]);
	assert_int_equal(l.states[1], POWER_STATE_ON);
	assert_int_equal(l.states[3], POWER_STATE_OFF);
	power_poll_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spread_by_rank),
	    cmocka_unit_test(test_replace_keeps_survivors),
	    cmocka_unit_test(test_replace_bunched_survivors),
	    cmocka_unit_test(test_replace_all_new_and_empty),
	    cmocka_unit_test(test_interval_change),
	    cmocka_unit_test(test_change_detection),
	    cmocka_unit_test(test_full_listing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
