/* The power scheduler's test harness (test_power_sched*.c): a fake
 * clock and fake drivers that record every call and finish, Kea-style:
 * whole exchanges, no sockets. */
#pragma once

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

static inline void fake_answer_run(struct fake *f, struct power_run *run, enum power_status st, enum power_state state,
				   const char *msg);

static inline struct call *call_of_run(struct fake *f, const struct power_run *run)
{
	for (size_t i = f->ncalls; i-- > 0;)
		if (f->calls[i].run == run)
			return &f->calls[i];
	return NULL;
}

static inline void fake_start(void *ctx, struct power_run *run)
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

static inline void fake_cancel(void *ctx, struct power_run *run)
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

static inline void fake_finish(void *ctx, const struct power_req *req, const struct power_result *res,
			       unsigned attempts)
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

static inline struct fake *fake_new(const struct power_sched_opts *o)
{
	struct fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->now = 1000000 * MS; /* not 0: nothing may depend on the clock's origin */
	f->s = power_sched_new(o, &fake_ops, f);
	return f;
}

static inline void fake_free(struct fake *f)
{
	power_sched_free(f->s);
	free(f->calls);
	free(f->fins);
	free(f);
}

static inline void fake_answer_run(struct fake *f, struct power_run *run, enum power_status st, enum power_state state,
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
static inline struct call *call_for(struct fake *f, uint64_t id)
{
	for (size_t i = f->ncalls; i-- > 0;)
		if (f->calls[i].machine_id == id && f->calls[i].run)
			return &f->calls[i];
	return NULL;
}

static inline void answer(struct fake *f, uint64_t id, enum power_status st, enum power_state state, const char *msg)
{
	struct call *c = call_for(f, id);

	assert_non_null(c);
	fake_answer_run(f, c->run, st, state, msg);
}

static inline void submit(struct fake *f, uint64_t id, enum power_action a, uint64_t action_id)
{
	struct power_req r = {.machine_id = id, .action = a, .action_id = action_id};

	power_sched_submit(f->s, &r, f->now);
}

/* Let time pass to t, ticking at every moment the engine asks for. */
static inline void advance_to(struct fake *f, int64_t t)
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

static inline void advance(struct fake *f, int64_t us)
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

static inline size_t calls_for(const struct fake *f, uint64_t id)
{
	size_t n = 0;

	for (size_t i = 0; i < f->ncalls; i++)
		n += f->calls[i].machine_id == id;
	return n;
}
