/* Unit tests for the rack's power scheduler (rack/power/sched.h), Kea-style:
 * whole exchanges against a fake clock and a fake driver, no sockets. The
 * fake driver records every start, cancel and finish; a test answers calls
 * when it likes (or the driver answers inside start or cancel, as an async
 * driver that completes at once does). The rules here; retries, deadlines
 * and timeouts in test_power_sched_time.c; the harness in
 * power_sched_fake.h. */
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

static void test_one_at_a_time(void **state)
{
	struct fake *f = fake_new(NULL);

	submit(f, 1, POWER_ON, 11);
	submit(f, 1, POWER_OFF, 12);
	submit(f, 2, POWER_ON, 21);
	assert_int_equal(f->ncalls, 2); /* machine 1's OFF waits for its ON; machine 2 does not */
	assert_int_equal(power_sched_running(f->s), 2);
	assert_int_equal(power_sched_queued(f->s), 1);
	assert_true(power_sched_busy(f->s, 1));
	assert_int_equal(f->calls[0].machine_id, 1);
	assert_int_equal(f->calls[0].action, POWER_ON);
	assert_int_equal(f->calls[0].attempt, 1);
	assert_int_equal(f->calls[0].deadline_us, f->now + 30000 * MS);
	assert_int_equal(f->calls[1].machine_id, 2);

	advance(f, 200 * MS);
	answer(f, 1, POWER_OK, POWER_STATE_ON, "");
	const struct fin *x = fin_of(f, 11);
	assert_non_null(x);
	assert_int_equal(x->status, POWER_OK);
	assert_int_equal(x->state, POWER_STATE_ON);
	assert_int_equal(x->attempts, 1);
	assert_int_equal(f->ncalls, 3);
	assert_int_equal(f->calls[2].action, POWER_OFF);
	/* The OFF's deadline counts from its own start. */
	assert_int_equal(f->calls[2].deadline_us, f->now + 30000 * MS);
	assert_int_equal(power_sched_queued(f->s), 0);

	answer(f, 1, POWER_OK, POWER_STATE_OFF, "");
	answer(f, 2, POWER_OK, POWER_STATE_ON, "");
	assert_int_equal(fin_of(f, 12)->state, POWER_STATE_OFF);
	assert_int_equal(power_sched_running(f->s), 0);
	assert_false(power_sched_busy(f->s, 1));
	assert_false(power_sched_busy(f->s, 2));
	assert_int_equal(power_sched_next_tick(f->s), INT64_MAX);
	fake_free(f);
}

static void test_supersede(void **state)
{
	struct fake *f = fake_new(NULL);

	submit(f, 1, POWER_ON, 1);  /* starts */
	submit(f, 1, POWER_OFF, 2); /* queued */
	submit(f, 1, POWER_CYCLE, 3);
	const struct fin *x = fin_of(f, 2);
	assert_non_null(x);
	assert_int_equal(x->status, POWER_CANCELLED);
	assert_string_equal(x->msg, "superseded by cycle");
	assert_int_equal(x->attempts, 0);
	submit(f, 1, POWER_OFF, 4);
	assert_string_equal(fin_of(f, 3)->msg, "superseded by off");
	assert_int_equal(power_sched_queued(f->s), 1);

	/* The running call is never superseded nor cancelled. */
	assert_null(fin_of(f, 1));
	assert_int_equal(f->cancels, 0);
	answer(f, 1, POWER_OK, POWER_STATE_ON, "");
	assert_int_equal(fin_of(f, 1)->status, POWER_OK);
	assert_int_equal(f->ncalls, 2);
	assert_int_equal(f->calls[1].action, POWER_OFF);
	answer(f, 1, POWER_OK, POWER_STATE_OFF, "");
	assert_int_equal(fin_of(f, 4)->status, POWER_OK);
	assert_int_equal(f->nfins, 4);

	/* A request waiting for a slot has not started: it is superseded too. */
	struct power_sched_opts o = {.concurrency = 1};
	struct fake *g = fake_new(&o);
	submit(g, 5, POWER_ON, 50);
	submit(g, 6, POWER_ON, 60); /* waits for the slot */
	submit(g, 6, POWER_OFF, 61);
	assert_string_equal(fin_of(g, 60)->msg, "superseded by off");
	answer(g, 5, POWER_OK, POWER_STATE_ON, "");
	assert_int_equal(g->ncalls, 2);
	assert_int_equal(g->calls[1].action, POWER_OFF);
	fake_free(g);
	fake_free(f);
}

static void test_query_coalesce_queued(void **state)
{
	struct fake *f = fake_new(NULL);

	submit(f, 1, POWER_ON, 1);
	submit(f, 1, POWER_QUERY, 2);
	submit(f, 1, POWER_QUERY, 3);
	submit(f, 1, POWER_QUERY, 0); /* a poll */
	assert_int_equal(power_sched_queued(f->s), 3);
	answer(f, 1, POWER_OK, POWER_STATE_ON, "");
	assert_int_equal(f->ncalls, 2); /* one query call for the three */
	assert_int_equal(f->calls[1].action, POWER_QUERY);
	answer(f, 1, POWER_OK, POWER_STATE_ON, "");
	assert_int_equal(f->nfins, 4);
	for (size_t i = 1; i < 4; i++) {
		assert_int_equal(f->fins[i].action, POWER_QUERY);
		assert_int_equal(f->fins[i].status, POWER_OK);
		assert_int_equal(f->fins[i].state, POWER_STATE_ON);
		assert_int_equal(f->fins[i].attempts, 1);
	}
	/* In submission order. */
	assert_int_equal(f->fins[1].action_id, 2);
	assert_int_equal(f->fins[2].action_id, 3);
	assert_int_equal(f->fins[3].action_id, 0);
	fake_free(f);
}

static void test_query_coalesce_running(void **state)
{
	struct fake *f = fake_new(NULL);

	submit(f, 1, POWER_QUERY, 1);
	submit(f, 1, POWER_QUERY, 2); /* joins the running query */
	assert_int_equal(power_sched_queued(f->s), 0);
	advance(f, 100 * MS);
	answer(f, 1, POWER_TRANSIENT, POWER_STATE_UNKNOWN, "BMC 10.0.0.5: busy");
	submit(f, 1, POWER_QUERY, 3); /* joins it during its backoff */
	advance(f, 500 * MS);
	assert_int_equal(f->ncalls, 2);
	assert_int_equal(f->calls[1].attempt, 2);
	submit(f, 1, POWER_QUERY, 4); /* joins the retry */
	answer(f, 1, POWER_OK, POWER_STATE_OFF, "");
	assert_int_equal(f->nfins, 4);
	for (uint64_t id = 1; id <= 4; id++) {
		const struct fin *x = fin_of(f, id);
		assert_non_null(x);
		assert_int_equal(x->state, POWER_STATE_OFF);
		assert_int_equal(x->attempts, 2);
	}
	assert_int_equal(calls_for(f, 1), 2);
	fake_free(f);
}

static void test_action_before_query(void **state)
{
	struct fake *f = fake_new(NULL);

	submit(f, 1, POWER_CYCLE, 1);
	submit(f, 1, POWER_QUERY, 2); /* arrives first ... */
	submit(f, 1, POWER_OFF, 3);   /* ... but the action goes first */
	answer(f, 1, POWER_OK, POWER_STATE_ON, "");
	assert_int_equal(f->calls[1].action, POWER_OFF);
	submit(f, 1, POWER_QUERY, 4); /* joins the queued query, not a new one */
	answer(f, 1, POWER_OK, POWER_STATE_OFF, "");
	assert_int_equal(f->calls[2].action, POWER_QUERY);
	answer(f, 1, POWER_OK, POWER_STATE_OFF, "");
	assert_int_equal(f->ncalls, 3);
	assert_int_equal(fin_of(f, 2)->state, POWER_STATE_OFF);
	assert_int_equal(fin_of(f, 4)->state, POWER_STATE_OFF);
	fake_free(f);
}

/* 50 machines, 10 of which never answer, 16 calls at once: the 40 others
 * go through the 6 free slots at their own pace; the 10 time out at their
 * deadline; later requests still run. */
static void isolation(bool give_back_on_cancel)
{
	struct power_sched_opts o = {.concurrency = 16};
	struct fake *f = fake_new(&o);
	const int64_t t0 = f->now;

	f->done_in_cancel = give_back_on_cancel;
	for (uint64_t id = 1; id <= 50; id++)
		submit(f, id, POWER_ON, id); /* the 10 bad ones (1..10) first */
	assert_int_equal(power_sched_running(f->s), 16);
	assert_int_equal(power_sched_queued(f->s), 34);

	/* The good BMCs answer 100 ms after a call starts. */
	for (;;) {
		struct call *next = NULL;
		for (size_t i = 0; i < f->ncalls; i++)
			if (f->calls[i].run && f->calls[i].machine_id > 10 &&
			    (!next || f->calls[i].start_us < next->start_us))
				next = &f->calls[i];
		if (!next)
			break;
		advance_to(f, next->start_us + 100 * MS);
		fake_answer_run(f, next->run, POWER_OK, POWER_STATE_ON, "");
	}
	/* 40 calls through 6 slots, 100 ms each: 7 rounds. */
	assert_int_equal(f->now, t0 + 700 * MS);
	for (uint64_t id = 11; id <= 50; id++) {
		const struct fin *x = fin_of(f, id);
		assert_non_null(x);
		assert_int_equal(x->status, POWER_OK);
	}
	/* Arrival order among them. */
	uint64_t last = 0;
	for (size_t i = 0; i < f->ncalls; i++) {
		if (f->calls[i].machine_id > 10) {
			assert_true(f->calls[i].machine_id > last);
			last = f->calls[i].machine_id;
		}
	}
	assert_int_equal(f->nfins, 40);
	assert_int_equal(power_sched_next_tick(f->s), t0 + 30000 * MS);

	advance_to(f, t0 + 30000 * MS - 1);
	assert_int_equal(f->nfins, 40);
	advance_to(f, t0 + 30000 * MS);
	assert_int_equal(f->nfins, 50);
	assert_int_equal(f->cancels, 10);
	for (uint64_t id = 1; id <= 10; id++) {
		const struct fin *x = fin_of(f, id);
		assert_int_equal(x->status, POWER_TIMEOUT);
		assert_string_equal(x->msg, "no answer from the BMC within 30 s");
		assert_int_equal(x->at_us, t0 + 30000 * MS);
		assert_int_equal(x->attempts, 1);
	}
	assert_int_equal(power_sched_running(f->s), give_back_on_cancel ? 0 : 10);

	/* Later requests run: all at once when the 10 gave their calls back,
	 * through the 6 free slots when they did not. */
	for (uint64_t id = 101; id <= 120; id++)
		submit(f, id, POWER_QUERY, id);
	assert_int_equal(power_sched_running(f->s), 16);
	while (f->nfins < 70) {
		struct call *c = NULL;
		for (size_t i = 0; i < f->ncalls && !c; i++)
			if (f->calls[i].run && f->calls[i].machine_id > 100)
				c = &f->calls[i];
		assert_non_null(c);
		fake_answer_run(f, c->run, POWER_OK, POWER_STATE_OFF, "");
	}
	assert_int_equal(f->max_running, 16);
	if (!give_back_on_cancel) {
		/* The 10 stay busy until their calls come back; then they are free. */
		assert_true(power_sched_busy(f->s, 3));
		for (uint64_t id = 1; id <= 10; id++)
			answer(f, id, POWER_CANCELLED, POWER_STATE_UNKNOWN, "cancelled");
		assert_int_equal(f->nfins, 70); /* the late answers finish nobody */
	}
	assert_int_equal(power_sched_running(f->s), 0);
	assert_false(power_sched_busy(f->s, 3));
	fake_free(f);
}

static void test_isolation_unreachable(void **state)
{
	isolation(false);
}

static void test_isolation_give_back(void **state)
{
	isolation(true);
}

static void test_finish_resubmits(void **state)
{
	struct fake *f = fake_new(NULL);

	/* Machine 1: ON running, OFF queued; ON's finish submits a CYCLE. The
	 * CYCLE is taken after the step: the OFF starts, and the CYCLE queues
	 * behind it instead of superseding anything. */
	f->resubmit_on = 1;
	f->resubmit = (struct power_req){.machine_id = 1, .action = POWER_CYCLE, .action_id = 3};
	f->resubmit_left = 1;
	submit(f, 1, POWER_ON, 1);
	submit(f, 1, POWER_OFF, 2);
	answer(f, 1, POWER_OK, POWER_STATE_ON, "");
	assert_int_equal(f->ncalls, 2);
	assert_int_equal(f->calls[1].action, POWER_OFF);
	assert_null(fin_of(f, 2));
	assert_int_equal(power_sched_queued(f->s), 1);
	answer(f, 1, POWER_OK, POWER_STATE_OFF, "");
	assert_int_equal(f->calls[2].action, POWER_CYCLE);
	answer(f, 1, POWER_OK, POWER_STATE_ON, "");
	assert_int_equal(f->nfins, 3);

	/* A driver that answers inside start, and a finish that submits again,
	 * 200 times over: one chain, no recursion, every request finished. */
	f->answer_in_start = true;
	f->sync_status = POWER_OK;
	f->resubmit_on = 100;
	f->resubmit = (struct power_req){.machine_id = 7, .action = POWER_QUERY, .action_id = 101};
	f->resubmit_left = 200;
	submit(f, 7, POWER_QUERY, 100);
	assert_int_equal(f->nfins, 3 + 201);
	assert_int_equal(calls_for(f, 7), 201);
	assert_int_equal(power_sched_running(f->s), 0);
	assert_false(power_sched_busy(f->s, 7));

	/* Answered inside start with TRANSIENT: the retry still waits its backoff. */
	f->sync_status = POWER_TRANSIENT;
	submit(f, 8, POWER_ON, 500);
	assert_int_equal(calls_for(f, 8), 1);
	advance(f, 499 * MS);
	assert_int_equal(calls_for(f, 8), 1);
	advance(f, 1 * MS);
	assert_int_equal(calls_for(f, 8), 2);
	advance(f, 1000 * MS);
	assert_int_equal(calls_for(f, 8), 3);
	assert_int_equal(fin_of(f, 500)->attempts, 3);
	fake_free(f);
}

static void test_free_with_waiters(void **state)
{
	struct power_sched_opts o = {.timeout_ms = 1000};
	struct fake *f = fake_new(&o);

	submit(f, 3, POWER_ON, 30); /* will time out and stay owed */
	advance(f, 1000 * MS);
	assert_int_equal(fin_of(f, 30)->status, POWER_TIMEOUT);
	submit(f, 3, POWER_OFF, 31); /* waits for the owed call */
	submit(f, 1, POWER_ON, 10);  /* running */
	submit(f, 1, POWER_OFF, 11); /* queued */
	submit(f, 1, POWER_QUERY, 12);
	submit(f, 1, POWER_QUERY, 13);
	submit(f, 2, POWER_QUERY, 20);
	answer(f, 2, POWER_TRANSIENT, POWER_STATE_UNKNOWN, "busy"); /* in its backoff */
	assert_int_equal(f->cancels, 1);

	/* The driver gives calls back inside cancel, and finishes submit more. */
	f->done_in_cancel = true;
	f->submit_in_finish_all = true;
	size_t before = f->nfins;
	power_sched_free(f->s);
	f->s = NULL;
	assert_int_equal(f->cancels, 2); /* machine 1's call; machine 3's not twice */
	assert_true(f->calls[1].cancelled);
	assert_int_equal(f->nfins, before + 6 + 6);
	static const uint64_t waited[] = {10, 11, 12, 13, 20, 31};
	for (size_t i = 0; i < sizeof(waited) / sizeof(waited[0]); i++) {
		const struct fin *x = fin_of(f, waited[i]);
		assert_non_null(x);
		assert_int_equal(x->status, POWER_CANCELLED);
		assert_string_equal(x->msg, "rack shutting down");
	}
	for (size_t i = before; i < f->nfins; i++)
		assert_int_equal(f->fins[i].status, POWER_CANCELLED);
	assert_int_equal(fin_of(f, 10)->attempts, 1);
	assert_int_equal(fin_of(f, 11)->attempts, 0);
	free(f->calls);
	free(f->fins);
	free(f);
	power_sched_free(NULL);
}

/* Random traffic over many machines against the rules that must always
 * hold: one call per machine (fake_start asserts it), never more than the
 * limit, every request finished exactly once. */
static void test_random_traffic(void **state)
{
	struct power_sched_opts o = {.concurrency = 32, .timeout_ms = 5000, .retry_max_ms = 2000};
	struct fake *f = fake_new(&o);
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	uint64_t next_id = 1;
	static const enum power_status sts[] = {POWER_OK, POWER_OK, POWER_OK, POWER_TRANSIENT, POWER_FAIL};

	for (int step = 0; step < 60000; step++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		unsigned r = (unsigned)(rng % 100);
		if (r < 45) {
			submit(f, 1 + (rng >> 20) % 3000, (enum power_action)((rng >> 40) % 4), next_id++);
		} else if (r < 85) {
			/* answer an outstanding call (some are never answered) */
			size_t n = f->ncalls;
			if (n) {
				struct call *c = &f->calls[n - 1 - (rng >> 24) % (n < 64 ? n : 64)];
				if (c->run && c->machine_id % 50 != 0)
					fake_answer_run(f, c->run, sts[(rng >> 33) % 5], POWER_STATE_ON, "x");
			}
		} else {
			advance(f, (int64_t)((rng >> 28) % 400) * MS);
		}
		assert_true(power_sched_running(f->s) <= 32);
	}
	/* Let everything run out: answer every call as it comes, late ones too. */
	for (int round = 0; round < 10000 && (power_sched_running(f->s) || power_sched_queued(f->s) ||
					      power_sched_next_tick(f->s) != INT64_MAX);
	     round++) {
		for (size_t i = 0; i < f->ncalls; i++)
			if (f->calls[i].run)
				fake_answer_run(f, f->calls[i].run, POWER_OK, POWER_STATE_OFF, "");
		advance(f, 1000 * MS);
	}
	assert_int_equal(power_sched_running(f->s), 0);
	assert_int_equal(power_sched_queued(f->s), 0);
	assert_int_equal(power_sched_next_tick(f->s), INT64_MAX);
	assert_int_equal(f->nfins, next_id - 1);
	unsigned char *seen = calloc(next_id, 1);
	assert_non_null(seen);
	for (size_t i = 0; i < f->nfins; i++) {
		assert_int_equal(seen[f->fins[i].action_id], 0);
		seen[f->fins[i].action_id] = 1;
	}
	free(seen);
	assert_int_equal(f->max_running, 32);
	/* The traffic reached every way of finishing. */
	unsigned by_status[POWER_CANCELLED + 1] = {0};
	unsigned retried = 0;
	for (size_t i = 0; i < f->nfins; i++) {
		by_status[f->fins[i].status]++;
		retried += f->fins[i].attempts > 1;
	}
	for (int st = POWER_OK; st <= POWER_CANCELLED; st++)
		assert_true(by_status[st] > 0);
	assert_true(retried > 0);
	fake_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_at_a_time),	  cmocka_unit_test(test_supersede),
	    cmocka_unit_test(test_query_coalesce_queued), cmocka_unit_test(test_query_coalesce_running),
	    cmocka_unit_test(test_action_before_query),	  cmocka_unit_test(test_isolation_unreachable),
	    cmocka_unit_test(test_isolation_give_back),	  cmocka_unit_test(test_finish_resubmits),
	    cmocka_unit_test(test_free_with_waiters),	  cmocka_unit_test(test_random_traffic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
