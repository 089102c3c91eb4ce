/* Power results to the region; see report.h. */
#include "rack/power/report.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

struct item {
	Ironrack__V1__PowerResult pb;
	uint64_t request_id; /* of the report carrying it; 0 = queued */
	struct item *next;
};

struct power_reports {
	struct event *timer;
	struct power_report_ops ops;
	void *arg;
	struct item *head, *tail; /* queued, oldest first */
	size_t n_queued, n_polled;
	struct item *inflight; /* sent, waiting for the region's answer */
	struct power_reports_stats stats;
};

static void item_free(struct item *it)
{
	free(it->pb.action);
	free(it->pb.state);
	free(it->pb.error);
	free(it);
}

static void enqueue(struct power_reports *q, struct item *it)
{
	it->request_id = 0;
	it->next = NULL;
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->n_queued++;
	if (!it->pb.action_id)
		q->n_polled++;
}

static void arm(struct power_reports *q)
{
	struct timeval tv = {0, POWER_REPORT_FLUSH_MS * 1000};
	if (q->timer && !evtimer_pending(q->timer, NULL))
		evtimer_add(q->timer, &tv);
}

/* Drop queued polled states, oldest first, until at most keep remain
 * (actions stay). */
static void drop_polled(struct power_reports *q, size_t keep)
{
	struct item **pp = &q->head, *prev = NULL;
	while (*pp && q->n_polled > keep) {
		struct item *it = *pp;
		if (it->pb.action_id) {
			prev = it;
			pp = &it->next;
			continue;
		}
		*pp = it->next;
		if (q->tail == it)
			q->tail = prev;
		q->n_queued--;
		q->n_polled--;
		item_free(it);
	}
}

void power_reports_add(struct power_reports *q, const Ironrack__V1__PowerResult *res)
{
	struct item *it = xcalloc(1, sizeof(*it));
	it->pb = *res;
	it->pb.action = xstrdup(res->action ? res->action : "");
	it->pb.state = xstrdup(res->state ? res->state : "");
	it->pb.error = xstrdup(res->error ? res->error : "");
	if (!it->pb.action_id && !q->ops.connected(q->arg)) {
		q->stats.dropped++;
		item_free(it);
		return;
	}
	enqueue(q, it);
	/* Beyond the bound the oldest go: a later state of the same machine,
	 * or the next full report, carries the news. */
	size_t before = q->n_polled;
	drop_polled(q, POWER_REPORT_POLLED_MAX);
	q->stats.dropped += before - q->n_polled;
	/* Someone waits for an action's outcome (--wait): it goes at once,
	 * with whatever else is queued; polled states wait for the batch. */
	if (it->pb.action_id || q->n_queued >= POWER_REPORT_BATCH_MAX)
		power_reports_flush(q);
	else
		arm(q);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	power_reports_flush(arg);
}

struct power_reports *power_reports_new(struct event_base *base, const struct power_report_ops *ops, void *arg)
{
	struct power_reports *q = xcalloc(1, sizeof(*q));
	q->ops = *ops;
	q->arg = arg;
	if (base)
		q->timer = evtimer_new(base, timer_cb, q);
	return q;
}

static void free_list(struct item *it)
{
	while (it) {
		struct item *next = it->next;
		item_free(it);
		it = next;
	}
}

void power_reports_free(struct power_reports *q)
{
	if (!q)
		return;
	if (q->timer)
		event_free(q->timer);
	free_list(q->head);
	free_list(q->inflight);
	free(q);
}

void power_reports_flush(struct power_reports *q)
{
	while (q->head && q->ops.connected(q->arg)) {
		size_t n = q->n_queued < POWER_REPORT_BATCH_MAX ? q->n_queued : POWER_REPORT_BATCH_MAX;
		Ironrack__V1__PowerResult **v = xcalloc(n, sizeof(*v));
		struct item *it = q->head;
		for (size_t i = 0; i < n; i++, it = it->next)
			v[i] = &it->pb;
		Ironrack__V1__PowerReport rep = IRONRACK__V1__POWER_REPORT__INIT;
		rep.results = v;
		rep.n_results = n;
		uint64_t id = q->ops.send(q->arg, &rep);
		free(v);
		if (!id) {
			arm(q); /* try again shortly */
			return;
		}
		q->stats.reports_sent++;
		q->stats.results_sent += n;
		for (size_t i = 0; i < n; i++) {
			it = q->head;
			q->head = it->next;
			if (!q->head)
				q->tail = NULL;
			q->n_queued--;
			if (!it->pb.action_id)
				q->n_polled--;
			it->request_id = id;
			it->next = q->inflight;
			q->inflight = it;
		}
	}
}

void power_reports_status(struct power_reports *q, uint64_t request_id, bool ok)
{
	struct item **pp = &q->inflight;
	while (*pp) {
		struct item *it = *pp;
		if (it->request_id != request_id) {
			pp = &it->next;
			continue;
		}
		*pp = it->next;
		if (ok) {
			item_free(it);
		} else {
			q->stats.resent++;
			enqueue(q, it);
		}
	}
	if (!ok)
		arm(q);
}

void power_reports_disconnected(struct power_reports *q)
{
	struct item *it = q->inflight;
	q->inflight = NULL;
	while (it) {
		struct item *next = it->next;
		q->stats.resent++;
		enqueue(q, it);
		it = next;
	}
	/* Polled states wait for the full report instead. */
	drop_polled(q, 0);
}

void power_reports_full(struct power_reports *q, Ironrack__V1__PowerResult **res, size_t n)
{
	for (size_t off = 0; off < n || off == 0; off += POWER_REPORT_BATCH_MAX) {
		Ironrack__V1__PowerReport rep = IRONRACK__V1__POWER_REPORT__INIT;
		rep.full = true;
		rep.results = res + off;
		rep.n_results = n - off < POWER_REPORT_BATCH_MAX ? n - off : POWER_REPORT_BATCH_MAX;
		if (!q->ops.send(q->arg, &rep)) {
			log_warn("power: full state report not sent");
			return;
		}
		q->stats.reports_sent++;
		q->stats.results_sent += rep.n_results;
		if (n == 0)
			break;
	}
}

void power_reports_get_stats(const struct power_reports *q, struct power_reports_stats *ret)
{
	*ret = q->stats;
}
