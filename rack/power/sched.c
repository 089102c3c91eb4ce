/* The rack's power scheduler (rack/power/sched.h): which call starts when.
 *
 * Per machine (a chained hash table keyed by machine_id; a machine with
 * nothing queued, running or owed by the driver is removed):
 *   cur  the request being worked on: running, in its retry backoff, or
 *        waiting for a slot for its retry (NULL: none);
 *   run  the driver call holding a slot (cur NULL and run set: the request
 *        timed out and the call is still owed back by the driver);
 *   act  the queued action (one: a newer one supersedes it);
 *   qry  the queued query (every waiter coalesced into one group).
 * Machines that want a slot wait in one FIFO (intrusive, O(1) removal);
 * each machine has at most one time event (its retry's end or its
 * request's deadline) in a binary min-heap. Every operation is O(1) or
 * O(log n) in the number of machines.
 *
 * Re-entrancy: callbacks run inside the engine's functions. A submit or done
 * arriving while one runs (depth > 0) is copied to the deferred list and
 * taken after the current step, so no list or machine the engine is walking
 * changes under it. */
#include "rack/power/sched.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "rack/power/sched_internal.h"

/* ---- requests ---- */

static void group_add(struct group *g, const struct power_req *req)
{
	struct waiter *w = xcalloc(1, sizeof(*w));

	w->req = *req;
	*g->tailp = w;
	g->tailp = &w->next;
	g->n++;
}

static struct group *group_new(const struct power_req *req)
{
	struct group *g = xcalloc(1, sizeof(*g));

	g->action = req->action;
	g->boot = req->boot;
	g->tailp = &g->head;
	g->phase = GROUP_QUEUED;
	group_add(g, req);
	return g;
}

/* Finish every waiter of a group that is no longer reachable from any
 * machine, and free it. A callback's submit or done is deferred, so the
 * list cannot change while it is walked. */
static void group_finish(struct power_sched *s, struct group *g, const struct power_result *res)
{
	struct waiter *w = g->head;

	while (w) {
		struct waiter *next = w->next;
		s->ops.finish(s->ctx, &w->req, res, g->attempts);
		free(w);
		w = next;
	}
	free(g);
}

static void result_set(struct power_result *r, enum power_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void result_set(struct power_result *r, enum power_status status, const char *fmt, ...)
{
	va_list ap;

	memset(r, 0, sizeof(*r));
	r->status = status;
	r->state = POWER_STATE_UNKNOWN;
	va_start(ap, fmt);
	int n = vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
	(void)n; /* a message cut at 511 bytes is still the message */
}

static void group_finish_status(struct power_sched *s, struct group *g, enum power_status status, const char *msg)
{
	struct power_result res;

	result_set(&res, status, "%s", msg);
	group_finish(s, g, &res);
}

/* ---- what runs ---- */

/* A machine with nothing running and something queued wants a slot; a
 * machine with nothing at all is forgotten. m must not be used after. */
static void mach_settle(struct power_sched *s, struct mach *m)
{
	if (m->cur || m->run || m->ready)
		return;
	if (m->act || m->qry) {
		ready_push(s, m);
		return;
	}
	assert(m->heap_idx == HEAP_NONE);
	mach_remove(s, m);
}

static void sched_start(struct power_sched *s, struct mach *m, int64_t now_us)
{
	struct group *g = m->cur;

	if (!g) {
		/* After the running call: the queued action first, then the query. */
		if (m->act) {
			g = m->act;
			m->act = NULL;
		} else {
			g = m->qry;
			m->qry = NULL;
		}
		assert(g);
		s->queued -= g->n;
		g->deadline_us = now_us + (int64_t)s->o.timeout_ms * 1000;
		m->cur = g;
	}
	g->attempts++;
	g->phase = GROUP_RUNNING;

	struct sched_run *run = xcalloc(1, sizeof(*run));
	run->m = m;
	run->pub.machine_id = m->id;
	run->pub.action = g->action;
	run->pub.boot = g->boot;
	run->pub.attempt = g->attempts;
	run->pub.deadline_us = g->deadline_us;
	m->run = run;
	s->running++;
	timer_set(s, m, g->deadline_us);
	s->ops.start(s->ctx, &run->pub);
}

/* Written as a whole number of seconds when it is one ("30 s"), else with
 * the fraction ("2.5 s"). */
static void timeout_text(unsigned ms, char *buf, size_t len)
{
	if (ms % 1000 == 0)
		snprintf(buf, len, "%u s", ms / 1000);
	else
		snprintf(buf, len, "%g s", ms / 1000.0);
}

/* The request's deadline passed: its waiters finish TIMEOUT; a call still
 * running is cancelled and keeps the machine and its slot until the driver
 * gives it back. */
static void sched_timeout(struct power_sched *s, struct mach *m)
{
	struct group *g = m->cur;
	struct power_result res;
	char secs[32];

	timer_clear(s, m);
	if (m->ready)
		ready_remove(s, m);
	m->cur = NULL;
	timeout_text(s->o.timeout_ms, secs, sizeof(secs));
	if (g->has_err)
		result_set(&res, POWER_TIMEOUT, "no answer from the BMC within %s; last error: %s", secs, g->last_err);
	else
		result_set(&res, POWER_TIMEOUT, "no answer from the BMC within %s", secs);
	if (m->run)
		s->ops.cancel(s->ctx, &m->run->pub);
	mach_settle(s, m);
	group_finish(s, g, &res);
}

/* Start what the limit allows, in arrival order. */
static void sched_pump(struct power_sched *s, int64_t now_us)
{
	while (s->running < s->o.concurrency && s->ready_head) {
		struct mach *m = s->ready_head;
		ready_remove(s, m);
		if (m->cur && now_us >= m->cur->deadline_us) {
			/* A retry whose deadline passed before tick noticed. */
			sched_timeout(s, m);
			continue;
		}
		sched_start(s, m, now_us);
	}
}

static unsigned backoff_ms(const struct power_sched_opts *o, unsigned attempt)
{
	unsigned ms = o->retry_base_ms;

	for (unsigned i = 1; i < attempt && ms < o->retry_max_ms; i++)
		ms = ms > o->retry_max_ms / 2 ? o->retry_max_ms : ms * 2;
	return ms < o->retry_max_ms ? ms : o->retry_max_ms;
}

static void do_submit(struct power_sched *s, const struct power_req *req, int64_t now_us)
{
	if (s->dying) {
		struct power_result res;
		result_set(&res, POWER_CANCELLED, "rack shutting down");
		s->ops.finish(s->ctx, req, &res, 0);
		return;
	}

	struct mach *m = mach_get(s, req->machine_id);
	if (req->action == POWER_QUERY) {
		if (m->cur && m->cur->action == POWER_QUERY) {
			group_add(m->cur, req);
		} else if (m->qry) {
			group_add(m->qry, req);
			s->queued++;
		} else {
			m->qry = group_new(req);
			s->queued++;
		}
		mach_settle(s, m);
		return;
	}

	struct group *old = m->act;
	m->act = group_new(req);
	s->queued++;
	mach_settle(s, m);
	if (old) {
		char msg[64];
		s->queued -= old->n;
		snprintf(msg, sizeof(msg), "superseded by %s", power_action_name(req->action));
		group_finish_status(s, old, POWER_CANCELLED, msg);
	}
}

static void do_done(struct power_sched *s, struct sched_run *run, const struct power_result *res, int64_t now_us)
{
	struct mach *m = run->m;
	struct group *g = m->cur;

	assert(m->run == run);
	m->run = NULL;
	s->running--;
	free(run);

	if (!g) {
		/* The late answer of a call that timed out: it finishes nobody,
		 * but the slot and the machine are free again. */
		mach_settle(s, m);
		return;
	}
	assert(g->phase == GROUP_RUNNING);
	if (res->status == POWER_TRANSIENT) {
		g->has_err = true;
		snprintf(g->last_err, sizeof(g->last_err), "%s", res->message);
		if (g->attempts < s->o.max_attempts) {
			int64_t at = now_us + (int64_t)backoff_ms(&s->o, g->attempts) * 1000;
			if (at < g->deadline_us) {
				g->phase = GROUP_BACKOFF;
				g->retry_at_us = at;
				timer_set(s, m, at);
				return;
			}
		}
	}
	timer_clear(s, m);
	m->cur = NULL;
	mach_settle(s, m);
	group_finish(s, g, res);
}

static void do_timer(struct power_sched *s, struct mach *m)
{
	struct group *g = m->cur;

	assert(g);
	if (g->phase == GROUP_BACKOFF) {
		g->phase = GROUP_WAIT_SLOT;
		timer_set(s, m, g->deadline_us);
		ready_push(s, m);
		return;
	}
	sched_timeout(s, m);
}

/* ---- entering and leaving the engine ---- */

static void defer(struct power_sched *s, struct deferred *d)
{
	*s->dtailp = d;
	s->dtailp = &d->next;
}

static struct deferred *deferred_pop(struct power_sched *s)
{
	struct deferred *d = s->dhead;

	if (d) {
		s->dhead = d->next;
		if (!s->dhead)
			s->dtailp = &s->dhead;
	}
	return d;
}

/* The end of an outermost engine call: start what may start, then take the
 * submits and dones callbacks made, one step each. */
static void sched_leave(struct power_sched *s, int64_t now_us)
{
	struct deferred *d;

	assert(s->depth == 1);
	sched_pump(s, now_us);
	while ((d = deferred_pop(s))) {
		if (d->is_done)
			do_done(s, d->run, &d->res, d->now_us);
		else
			do_submit(s, &d->req, d->now_us);
		sched_pump(s, d->now_us);
		free(d);
	}
	s->depth--;
}

void power_sched_submit(struct power_sched *s, const struct power_req *req, int64_t now_us)
{
	if (s->depth) {
		struct deferred *d = xcalloc(1, sizeof(*d));
		d->now_us = now_us;
		d->req = *req;
		defer(s, d);
		return;
	}
	s->depth++;
	do_submit(s, req, now_us);
	sched_leave(s, now_us);
}

void power_sched_done(struct power_sched *s, struct power_run *run, const struct power_result *res, int64_t now_us)
{
	struct sched_run *r = (struct sched_run *)run;

	if (s->depth) {
		struct deferred *d = xcalloc(1, sizeof(*d));
		d->is_done = true;
		d->now_us = now_us;
		d->run = r;
		d->res = *res;
		defer(s, d);
		return;
	}
	s->depth++;
	do_done(s, r, res, now_us);
	sched_leave(s, now_us);
}

void power_sched_tick(struct power_sched *s, int64_t now_us)
{
	assert(s->depth == 0);
	s->depth++;
	while (s->nheap && s->heap[0]->timer_us <= now_us)
		do_timer(s, s->heap[0]);
	sched_leave(s, now_us);
}

int64_t power_sched_next_tick(const struct power_sched *s)
{
	return s->nheap ? s->heap[0]->timer_us : INT64_MAX;
}

unsigned power_sched_running(const struct power_sched *s)
{
	return s->running;
}

unsigned power_sched_queued(const struct power_sched *s)
{
	return s->queued;
}

bool power_sched_busy(const struct power_sched *s, uint64_t machine_id)
{
	/* Idle machines are forgotten at once. */
	return mach_find(s, machine_id) != NULL;
}

/* ---- life ---- */

struct power_sched *power_sched_new(const struct power_sched_opts *opts, const struct power_sched_ops *ops, void *ctx)
{
	struct power_sched *s = xcalloc(1, sizeof(*s));

	if (opts)
		s->o = *opts;
	if (!s->o.concurrency)
		s->o.concurrency = 64;
	if (!s->o.timeout_ms)
		s->o.timeout_ms = 30000;
	if (!s->o.max_attempts)
		s->o.max_attempts = 3;
	if (!s->o.retry_base_ms)
		s->o.retry_base_ms = 500;
	if (!s->o.retry_max_ms)
		s->o.retry_max_ms = 4000;
	if (s->o.retry_max_ms < s->o.retry_base_ms)
		s->o.retry_max_ms = s->o.retry_base_ms;
	s->ops = *ops;
	s->ctx = ctx;
	s->nbuckets = 64;
	s->tab = xcalloc(s->nbuckets, sizeof(*s->tab));
	s->dtailp = &s->dhead;
	return s;
}

void power_sched_free(struct power_sched *s)
{
	static const char why[] = "rack shutting down";
	struct deferred *d;

	if (!s)
		return;
	assert(s->depth == 0);
	s->depth++;
	s->dying = true;

	/* Calls whose request is still waited for are cancelled first; one
	 * that timed out was cancelled then and is not cancelled twice. A
	 * done the driver makes from cancel is deferred and dropped below. */
	for (size_t i = 0; i < s->nbuckets; i++)
		for (struct mach *m = s->tab[i]; m; m = m->hnext)
			if (m->run && m->cur)
				s->ops.cancel(s->ctx, &m->run->pub);

	for (size_t i = 0; i < s->nbuckets; i++) {
		for (struct mach *m = s->tab[i]; m; m = m->hnext) {
			struct group *gs[3] = {m->cur, m->act, m->qry};
			m->cur = m->act = m->qry = NULL;
			for (size_t k = 0; k < 3; k++)
				if (gs[k])
					group_finish_status(s, gs[k], POWER_CANCELLED, why);
		}
	}

	/* Submissions made from those finishes finish CANCELLED too
	 * (do_submit while dying); dones refer to runs freed below. */
	while ((d = deferred_pop(s))) {
		if (!d->is_done)
			do_submit(s, &d->req, d->now_us);
		free(d);
	}

	for (size_t i = 0; i < s->nbuckets; i++) {
		struct mach *m = s->tab[i];
		while (m) {
			struct mach *next = m->hnext;
			free(m->run);
			free(m);
			m = next;
		}
	}
	free(s->tab);
	free(s->heap);
	free(s);
}
