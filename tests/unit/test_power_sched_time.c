/* The power scheduler's clock (rack/power/sched.h): retries and their
 * exact backoff, deadlines, timeouts and the slots they hold, against a
 * fake clock and fake drivers (power_sched_fake.h). The rules without the
 * clock are in test_power_sched.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rack/power/sched.h"

#define MS	 1000LL
#define MAX_MACH 8192

#include "tests/unit/power_sched_fake.h"

/* ---- tests ---- */

static void test_retry_backoff_exact(void **state)
{
	struct power_sched_opts o = {.max_attempts = 7, .timeout_ms = 60000};
	struct fake *f = fake_new(&o);
	const int64_t t0 = f->now;
	/* base 500 ms doubling, capped at 4000 ms; the BMC answers 100 ms in. */
	const int64_t starts[7] = {0, 600, 1700, 3800, 7900, 12000, 16100};

	submit(f, 1, POWER_OFF, 1);
	for (unsigned a = 1; a <= 7; a++) {
		assert_int_equal(f->ncalls, a);
		struct call *c = &f->calls[a - 1];
		assert_int_equal(c->attempt, a);
		assert_int_equal(c->start_us, t0 + starts[a - 1] * MS);
		assert_int_equal(c->deadline_us, t0 + 60000 * MS); /* the request's, not the attempt's */
		advance(f, 100 * MS);
		char msg[32];
		snprintf(msg, sizeof(msg), "busy %u", a);
		answer(f, 1, POWER_TRANSIENT, POWER_STATE_UNKNOWN, msg);
		if (a < 7) {
			/* The backoff holds no slot and asks for a tick exactly at its end. */
			assert_int_equal(power_sched_running(f->s), 0);
			assert_true(power_sched_busy(f->s, 1));
			int64_t at = power_sched_next_tick(f->s);
			assert_int_equal(at, t0 + starts[a] * MS);
			advance_to(f, at - 1);
			assert_int_equal(f->ncalls, a);
			advance_to(f, at);
		}
	}
	/* max_attempts reached: the last result is the answer. */
	const struct fin *x = fin_of(f, 1);
	assert_non_null(x);
	assert_int_equal(x->status, POWER_TRANSIENT);
	assert_string_equal(x->msg, "busy 7");
	assert_int_equal(x->attempts, 7);
	assert_false(power_sched_busy(f->s, 1));
	fake_free(f);
}

static void test_retry_slot_free_meanwhile(void **state)
{
	/* One slot: while machine 1 waits out its backoff, machine 2 runs. */
	struct power_sched_opts o = {.concurrency = 1};
	struct fake *f = fake_new(&o);

	submit(f, 1, POWER_ON, 1);
	submit(f, 2, POWER_ON, 2);
	answer(f, 1, POWER_TRANSIENT, POWER_STATE_UNKNOWN, "busy");
	assert_int_equal(f->ncalls, 2);
	assert_int_equal(f->calls[1].machine_id, 2);
	/* The backoff ends while 2 holds the slot: the retry waits its turn. */
	advance(f, 600 * MS);
	assert_int_equal(f->ncalls, 2);
	answer(f, 2, POWER_OK, POWER_STATE_ON, "");
	assert_int_equal(f->ncalls, 3);
	assert_int_equal(f->calls[2].machine_id, 1);
	assert_int_equal(f->calls[2].attempt, 2);
	answer(f, 1, POWER_OK, POWER_STATE_ON, "");
	assert_int_equal(fin_of(f, 1)->attempts, 2);
	fake_free(f);
}

static void test_retry_waits_past_deadline(void **state)
{
	/* One slot, held by a hung machine 2 while machine 1's retry waits
	 * for it: at machine 1's deadline it times out there, naming its last
	 * error, with no call to cancel. */
	struct power_sched_opts o = {.concurrency = 1, .timeout_ms = 3000};
	struct fake *f = fake_new(&o);
	const int64_t t0 = f->now;

	submit(f, 1, POWER_ON, 1);
	submit(f, 2, POWER_ON, 2);
	advance(f, 100 * MS);
	answer(f, 1, POWER_TRANSIENT, POWER_STATE_UNKNOWN, "BMC 10.0.0.9: busy");
	assert_int_equal(f->calls[1].machine_id, 2); /* its deadline: t0 + 3.1 s */
	advance_to(f, t0 + 2999 * MS);
	assert_null(fin_of(f, 1));
	assert_int_equal(calls_for(f, 1), 1);
	advance_to(f, t0 + 3000 * MS);
	const struct fin *x = fin_of(f, 1);
	assert_non_null(x);
	assert_int_equal(x->status, POWER_TIMEOUT);
	assert_string_equal(x->msg, "no answer from the BMC within 3 s; last error: BMC 10.0.0.9: busy");
	assert_int_equal(x->attempts, 1);
	assert_int_equal(f->cancels, 0);
	assert_false(power_sched_busy(f->s, 1));

	/* The same when the loop is late: the slot frees after the deadline,
	 * before any tick; the retry is not started. */
	submit(f, 3, POWER_ON, 3);
	submit(f, 4, POWER_ON, 4);
	answer(f, 2, POWER_OK, POWER_STATE_ON, ""); /* machine 3 starts */
	int64_t t1 = f->now;
	answer(f, 3, POWER_TRANSIENT, POWER_STATE_UNKNOWN, "busy"); /* 4 starts; 3 backs off */
	advance(f, 500 * MS);					    /* 3's backoff ends: it waits */
	f->now = t1 + 3500 * MS;
	answer(f, 4, POWER_OK, POWER_STATE_ON, "");
	assert_int_equal(calls_for(f, 3), 1);
	assert_int_equal(fin_of(f, 3)->status, POWER_TIMEOUT);
	assert_int_equal(power_sched_running(f->s), 0);
	fake_free(f);
}

static void test_no_retry_past_deadline(void **state)
{
	struct power_sched_opts o = {.timeout_ms = 2000, .max_attempts = 10};
	struct fake *f = fake_new(&o);
	const int64_t t0 = f->now;

	submit(f, 1, POWER_ON, 1);
	advance(f, 400 * MS);
	answer(f, 1, POWER_TRANSIENT, POWER_STATE_UNKNOWN, "busy 1"); /* retry at 900 */
	advance_to(f, t0 + 900 * MS);
	assert_int_equal(f->ncalls, 2);
	advance(f, 400 * MS);
	/* The next retry would start at 1300 + 1000 = 2300 ms, past the deadline. */
	answer(f, 1, POWER_TRANSIENT, POWER_STATE_UNKNOWN, "busy 2");
	const struct fin *x = fin_of(f, 1);
	assert_non_null(x);
	assert_int_equal(x->status, POWER_TRANSIENT);
	assert_string_equal(x->msg, "busy 2");
	assert_int_equal(x->attempts, 2);
	assert_int_equal(x->at_us, t0 + 1300 * MS);

	/* A retry at exactly the deadline is not taken either. */
	submit(f, 2, POWER_ON, 2);
	int64_t t1 = f->now;
	advance(f, 1500 * MS);
	answer(f, 2, POWER_TRANSIENT, POWER_STATE_UNKNOWN, "busy"); /* 1500 + 500 = deadline */
	assert_int_equal(fin_of(f, 2)->attempts, 1);
	assert_int_equal(fin_of(f, 2)->at_us, t1 + 1500 * MS);

	/* A retry that hangs: the deadline names the earlier error. */
	submit(f, 3, POWER_ON, 3);
	int64_t t2 = f->now;
	answer(f, 3, POWER_TRANSIENT, POWER_STATE_UNKNOWN, "BMC 10.0.0.7: session dropped");
	advance(f, 500 * MS);
	assert_int_equal(calls_for(f, 3), 2);
	advance_to(f, t2 + 2000 * MS);
	x = fin_of(f, 3);
	assert_non_null(x);
	assert_int_equal(x->status, POWER_TIMEOUT);
	assert_string_equal(x->msg, "no answer from the BMC within 2 s; last error: BMC 10.0.0.7: session dropped");
	assert_int_equal(x->attempts, 2);
	assert_int_equal(f->cancels, 1);
	fake_free(f);
}

static void test_max_attempts_and_fail(void **state)
{
	struct fake *f = fake_new(NULL);

	submit(f, 1, POWER_ON, 1);
	for (int i = 0; i < 3; i++) {
		answer(f, 1, POWER_TRANSIENT, POWER_STATE_UNKNOWN, "busy");
		advance(f, 10000 * MS);
	}
	assert_int_equal(calls_for(f, 1), 3);
	assert_int_equal(fin_of(f, 1)->attempts, 3);
	assert_int_equal(fin_of(f, 1)->status, POWER_TRANSIENT);

	/* FAIL is not retried. */
	submit(f, 2, POWER_ON, 2);
	answer(f, 2, POWER_FAIL, POWER_STATE_UNKNOWN, "BMC 10.0.0.5: password invalid");
	advance(f, 10000 * MS);
	assert_int_equal(calls_for(f, 2), 1);
	assert_int_equal(fin_of(f, 2)->status, POWER_FAIL);
	assert_string_equal(fin_of(f, 2)->msg, "BMC 10.0.0.5: password invalid");
	fake_free(f);
}

static void test_timeout_fraction(void **state)
{
	struct power_sched_opts o = {.timeout_ms = 2500};
	struct fake *f = fake_new(&o);

	submit(f, 1, POWER_QUERY, 1);
	advance(f, 2500 * MS);
	assert_string_equal(fin_of(f, 1)->msg, "no answer from the BMC within 2.5 s");
	fake_free(f);
}

static void test_late_done_frees_slot(void **state)
{
	struct power_sched_opts o = {.concurrency = 1, .timeout_ms = 1000};
	struct fake *f = fake_new(&o);
	const int64_t t0 = f->now;

	submit(f, 1, POWER_ON, 1);    /* hangs */
	submit(f, 2, POWER_QUERY, 2); /* waits for the slot */
	submit(f, 1, POWER_OFF, 3);   /* waits for machine 1 */
	advance(f, 999 * MS);
	assert_null(fin_of(f, 1));
	advance(f, 1 * MS);
	assert_int_equal(fin_of(f, 1)->status, POWER_TIMEOUT);
	assert_int_equal(f->cancels, 1);
	assert_true(f->calls[0].cancelled);
	/* The call is not back: its slot and machine 1 stay taken. */
	assert_int_equal(power_sched_running(f->s), 1);
	assert_int_equal(f->ncalls, 1);
	assert_true(power_sched_busy(f->s, 1));
	advance(f, 5000 * MS);
	assert_int_equal(f->ncalls, 1);
	assert_int_equal(f->nfins, 1);

	answer(f, 1, POWER_CANCELLED, POWER_STATE_UNKNOWN, "cancelled");
	assert_int_equal(f->nfins, 1); /* finishes nobody */
	/* Machine 2 was waiting longer than machine 1's OFF. */
	assert_int_equal(f->ncalls, 2);
	assert_int_equal(f->calls[1].machine_id, 2);
	assert_int_equal(f->calls[1].deadline_us, t0 + 6000 * MS + 1000 * MS);
	answer(f, 2, POWER_OK, POWER_STATE_OFF, "");
	assert_int_equal(f->ncalls, 3);
	assert_int_equal(f->calls[2].machine_id, 1);
	assert_int_equal(f->calls[2].action, POWER_OFF);
	answer(f, 1, POWER_OK, POWER_STATE_OFF, "");
	assert_int_equal(fin_of(f, 3)->status, POWER_OK);
	assert_int_equal(power_sched_running(f->s), 0);
	fake_free(f);
}

static void test_done_after_deadline_before_tick(void **state)
{
	struct power_sched_opts o = {.timeout_ms = 1000};
	struct fake *f = fake_new(&o);

	submit(f, 1, POWER_ON, 1);
	f->now += 1500 * MS; /* the loop was late: no tick yet */
	answer(f, 1, POWER_OK, POWER_STATE_ON, "");
	assert_int_equal(fin_of(f, 1)->status, POWER_OK);
	assert_int_equal(f->cancels, 0);
	assert_int_equal(power_sched_next_tick(f->s), INT64_MAX);
	fake_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_retry_backoff_exact),	      cmocka_unit_test(test_retry_slot_free_meanwhile),
	    cmocka_unit_test(test_retry_waits_past_deadline), cmocka_unit_test(test_no_retry_past_deadline),
	    cmocka_unit_test(test_max_attempts_and_fail),     cmocka_unit_test(test_timeout_fraction),
	    cmocka_unit_test(test_late_done_frees_slot),      cmocka_unit_test(test_done_after_deadline_before_tick),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
