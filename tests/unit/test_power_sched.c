/* Unit tests for the rack's power scheduler (rack/power/sched.h), Kea-style:
 * whole exchanges against a fake clock and a fake driver, no sockets. The
 * fake driver records every start, cancel and finish; a test answers calls
 * when it likes (or the driver answers inside start or cancel, as an async
 * driver that completes at once does). */
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

struct call {
	struct power_run *run; /* NULL once answered */
	uint64_t machine_id;
	enum power_action action;
	unsigned attempt;
	int64_t start_us;
	int64_t deadline_us;
	bool cancelled;
};

struct fin {
	uint64_t machine_id;
	uint64_t action_id;
	enum power_action action;
	enum power_status status;
	enum power_state state;
	unsigned attempts;
	int64_t at_us;
	char msg[512];
};

struct fake {
	struct power_sched *s;
	int64_t now;

	struct call *calls;
	size_t ncalls, capcalls;
	struct fin *fins;
	size_t nfins, capfins;
	unsigned cancels;
	bool active[MAX_MACH]; /* a call is out for the machine (one at a time) */
	unsigned max_running;

	/* behaviour */
	bool answer_in_start; /* the driver answers inside start with sync_status */
	enum power_status sync_status;
	bool done_in_cancel; /* the driver gives the call back inside cancel */
	/* finish of action_id resubmit_on submits resubmit (resubmit_left times) */
	uint64_t resubmit_on;
	struct power_req resubmit;
	unsigned resubmit_left;
	bool submit_in_finish_all; /* every finish submits a query for machine 9999 (free test) */
};

static void fake_answer_run(struct fake *f, struct power_run *run, enum power_status st, enum power_state state,
			    const char *msg);

static struct call *call_of_run(struct fake *f, const struct power_run *run)
{
	for (size_t i = f->ncalls; i-- > 0;)
		if (f->calls[i].run == run)
			return &f->calls[i];
	return NULL;
}

static void fake_start(void *ctx, struct power_run *run)
{
	struct fake *f = ctx;

	assert_true(run->machine_id < MAX_MACH);
	assert_false(f->active[run->machine_id]); /* one call at a time per machine */
	f->active[run->machine_id] = true;
	if (f->ncalls == f->capcalls) {
		f->capcalls = f->capcalls ? f->capcalls * 2 : 256;
		f->calls = realloc(f->calls, f->capcalls * sizeof(*f->calls));
		assert_non_null(f->calls);
	}
	f->calls[f->ncalls++] = (struct call){.run = run,
					      .machine_id = run->machine_id,
					      .action = run->action,
					      .attempt = run->attempt,
					      .start_us = f->now,
					      .deadline_us = run->deadline_us};
	unsigned r = power_sched_running(f->s);
	if (r > f->max_running)
		f->max_running = r;
	if (f->answer_in_start)
		fake_answer_run(f, run, f->sync_status, POWER_STATE_ON, f->sync_status == POWER_OK ? "" : "BMC busy");
}

static void fake_cancel(void *ctx, struct power_run *run)
{
	struct fake *f = ctx;
	struct call *c = call_of_run(f, run);

	assert_non_null(c);
	assert_false(c->cancelled);
	c->cancelled = true;
	f->cancels++;
	if (f->done_in_cancel)
		fake_answer_run(f, run, POWER_CANCELLED, POWER_STATE_UNKNOWN, "cancelled");
}

static void fake_finish(void *ctx, const struct power_req *req, const struct power_result *res, unsigned attempts)
{
	struct fake *f = ctx;

	if (f->nfins == f->capfins) {
		f->capfins = f->capfins ? f->capfins * 2 : 256;
		f->fins = realloc(f->fins, f->capfins * sizeof(*f->fins));
		assert_non_null(f->fins);
	}
	struct fin *x = &f->fins[f->nfins++];
	*x = (struct fin){.machine_id = req->machine_id,
			  .action_id = req->action_id,
			  .action = req->action,
			  .status = res->status,
			  .state = res->state,
			  .attempts = attempts,
			  .at_us = f->now};
	snprintf(x->msg, sizeof(x->msg), "%s", res->message);
	if (f->resubmit_left && req->action_id == f->resubmit_on) {
		f->resubmit_left--;
		f->resubmit_on = f->resubmit.action_id;
		struct power_req next = f->resubmit;
		f->resubmit.action_id++;
		power_sched_submit(f->s, &next, f->now);
	}
	if (f->submit_in_finish_all && req->machine_id != 9999) {
		struct power_req q = {.machine_id = 9999, .action = POWER_QUERY};
		power_sched_submit(f->s, &q, f->now);
	}
}

static const struct power_sched_ops fake_ops = {fake_start, fake_cancel, fake_finish};

static struct fake *fake_new(const struct power_sched_opts *o)
{
	struct fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->now = 1000000 * MS; /* not 0: nothing may depend on the clock's origin */
	f->s = power_sched_new(o, &fake_ops, f);
	return f;
}

static void fake_free(struct fake *f)
{
	power_sched_free(f->s);
	free(f->calls);
	free(f->fins);
	free(f);
}

static void fake_answer_run(struct fake *f, struct power_run *run, enum power_status st, enum power_state state,
			    const char *msg)
{
	struct call *c = call_of_run(f, run);
	struct power_result res = {.status = st, .state = state};

	assert_non_null(c);
	c->run = NULL;
	f->active[c->machine_id] = false;
	snprintf(res.message, sizeof(res.message), "%s", msg);
	power_sched_done(f->s, run, &res, f->now);
}

/* The outstanding call for a machine (the newest), or NULL. */
static struct call *call_for(struct fake *f, uint64_t id)
{
	for (size_t i = f->ncalls; i-- > 0;)
		if (f->calls[i].machine_id == id && f->calls[i].run)
			return &f->calls[i];
	return NULL;
}

static void answer(struct fake *f, uint64_t id, enum power_status st, enum power_state state, const char *msg)
{
	struct call *c = call_for(f, id);

	assert_non_null(c);
	fake_answer_run(f, c->run, st, state, msg);
}

static void submit(struct fake *f, uint64_t id, enum power_action a, uint64_t action_id)
{
	struct power_req r = {.machine_id = id, .action = a, .action_id = action_id};

	power_sched_submit(f->s, &r, f->now);
}

/* Let time pass to t, ticking at every moment the engine asks for. */
static void advance_to(struct fake *f, int64_t t)
{
	int64_t next;

	while ((next = power_sched_next_tick(f->s)) <= t) {
		if (next > f->now)
			f->now = next;
		power_sched_tick(f->s, f->now);
	}
	f->now = t;
	power_sched_tick(f->s, f->now);
}

static void advance(struct fake *f, int64_t us)
{
	advance_to(f, f->now + us);
}

static const struct fin *fin_of(const struct fake *f, uint64_t action_id)
{
	const struct fin *found = NULL;

	for (size_t i = 0; i < f->nfins; i++) {
		if (f->fins[i].action_id == action_id) {
			assert_null(found); /* every request finishes exactly once */
			found = &f->fins[i];
		}
	}
	return found;
}

static size_t calls_for(const struct fake *f, uint64_t id)
{
	size_t n = 0;

	for (size_t i = 0; i < f->ncalls; i++)
		n += f->calls[i].machine_id == id;
	return n;
}

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
	    cmocka_unit_test(test_one_at_a_time),
	    cmocka_unit_test(test_supersede),
	    cmocka_unit_test(test_query_coalesce_queued),
	    cmocka_unit_test(test_query_coalesce_running),
	    cmocka_unit_test(test_action_before_query),
	    cmocka_unit_test(test_isolation_unreachable),
	    cmocka_unit_test(test_isolation_give_back),
	    cmocka_unit_test(test_retry_backoff_exact),
	    cmocka_unit_test(test_retry_slot_free_meanwhile),
	    cmocka_unit_test(test_retry_waits_past_deadline),
	    cmocka_unit_test(test_no_retry_past_deadline),
	    cmocka_unit_test(test_max_attempts_and_fail),
	    cmocka_unit_test(test_timeout_fraction),
	    cmocka_unit_test(test_late_done_frees_slot),
	    cmocka_unit_test(test_done_after_deadline_before_tick),
	    cmocka_unit_test(test_finish_resubmits),
	    cmocka_unit_test(test_free_with_waiters),
	    cmocka_unit_test(test_random_traffic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
