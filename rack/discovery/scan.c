/* Active discovery's pacing engine; see scan.h. */
#include "rack/discovery/scan.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define NEVER INT64_MAX

struct scan_slot {
	struct scan_target t;
	int64_t last_start_ms; /* -1: never scanned here */
	int64_t due_ms;	       /* next scheduled scan; NEVER without an interval */
	uint64_t queued;       /* on-demand order (0: not queued) */
};

struct scan_engine {
	uint32_t rate;
	int64_t tokens_milli; /* milli-probes */
	int64_t cap_milli;
	int64_t refilled_ms;
	struct scan_slot *slots;
	size_t n;
	uint64_t queue_seq;
	/* The scan in progress: slot index, or -1. */
	long running;
	uint32_t cursor; /* next offset in the target's range */
	uint32_t sent, total;
	struct scan_stats st;
};

struct scan_engine *scan_engine_new(uint32_t rate, int64_t now_ms)
{
	if (rate < 1 || rate > SCAN_RATE_MAX)
		return NULL;
	struct scan_engine *e = xcalloc(1, sizeof(*e));
	e->rate = rate;
	/* rate per second = rate milli-probes per ms */
	e->cap_milli = (int64_t)rate * SCAN_BURST_MS;
	if (e->cap_milli < 1000)
		e->cap_milli = 1000;
	e->tokens_milli = e->cap_milli;
	e->refilled_ms = now_ms;
	e->running = -1;
	return e;
}

void scan_engine_free(struct scan_engine *e)
{
	if (!e)
		return;
	free(e->slots);
	free(e);
}

/* ---- addresses ---- */

static uint32_t target_mask(const struct scan_target *t)
{
	return t->prefix == 0 ? 0 : UINT32_MAX << (32 - t->prefix);
}

/* The host range [first, first + count). */
static void target_range(const struct scan_target *t, uint32_t *ret_first, uint32_t *ret_count)
{
	uint64_t size = 1ull << (32 - t->prefix);
	if (t->prefix >= 31) {
		*ret_first = t->net;
		*ret_count = (uint32_t)size;
	} else {
		*ret_first = t->net + 1;
		*ret_count = (uint32_t)(size - 2);
	}
}

static bool target_is_own(const struct scan_target *t, uint32_t a)
{
	if (a == t->source)
		return true;
	for (size_t i = 0; i < t->n_own; i++) {
		if (t->own[i] == a)
			return true;
	}
	return false;
}

uint32_t scan_target_probes(const struct scan_target *t)
{
	uint32_t first, count, skipped = 0;
	target_range(t, &first, &count);
	/* Each distinct own address inside the range is one probe less. */
	for (size_t i = 0; i <= t->n_own; i++) {
		uint32_t a = i == t->n_own ? t->source : t->own[i];
		bool dup = false;
		for (size_t k = 0; k < i; k++)
			dup |= t->own[k] == a;
		if (!dup && a - first < count)
			skipped++;
	}
	return count - skipped;
}

static bool target_valid(const struct scan_target *t)
{
	return t->prefix >= SCAN_PREFIX_MIN && t->prefix <= 32 && (t->net & ~target_mask(t)) == 0 && t->ifname[0] &&
	       memchr(t->ifname, '\0', sizeof(t->ifname)) && t->n_own <= SCAN_OWN_MAX &&
	       (t->source & target_mask(t)) == t->net;
}

static bool target_same(const struct scan_target *a, const struct scan_target *b)
{
	return a->subnet_id == b->subnet_id && a->net == b->net && a->prefix == b->prefix &&
	       strcmp(a->ifname, b->ifname) == 0;
}

/* ---- the targets ---- */

static int64_t due_after(int64_t last_start_ms, uint32_t interval_s, int64_t now_ms)
{
	if (!interval_s)
		return NEVER;
	if (last_start_ms < 0)
		return now_ms;
	return last_start_ms + (int64_t)interval_s * 1000;
}

int scan_engine_set(struct scan_engine *e, const struct scan_target *t, size_t n, int64_t now_ms)
{
	if (n > SCAN_TARGETS_MAX)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		if (!target_valid(&t[i]))
			return -EINVAL;
	}
	struct scan_slot *slots = xcalloc(n ? n : 1, sizeof(*slots));
	long running = -1;
	for (size_t i = 0; i < n; i++) {
		struct scan_slot *s = &slots[i];
		s->t = t[i];
		s->last_start_ms = -1;
		bool turned_on = false;
		for (size_t k = 0; k < e->n; k++) {
			const struct scan_slot *old = &e->slots[k];
			if (!target_same(&old->t, &t[i]))
				continue;
			s->last_start_ms = old->last_start_ms;
			s->queued = old->queued;
			turned_on = old->t.interval_s == 0 && t[i].interval_s > 0;
			if ((long)k == e->running)
				running = (long)i;
			break;
		}
		/* active discovery just turned on: a first scan now */
		s->due_ms = turned_on ? now_ms : due_after(s->last_start_ms, s->t.interval_s, now_ms);
	}
	if (e->running >= 0 && running < 0)
		e->st.stopped++;
	free(e->slots);
	e->slots = slots;
	e->n = n;
	e->running = running;
	return 0;
}

static long slot_of(const struct scan_engine *e, uint64_t subnet_id)
{
	for (size_t i = 0; i < e->n; i++) {
		if (e->slots[i].t.subnet_id == subnet_id)
			return (long)i;
	}
	return -1;
}

int scan_engine_request(struct scan_engine *e, uint64_t subnet_id, int64_t now_ms)
{
	long i = slot_of(e, subnet_id);
	if (i < 0)
		return -ENOENT;
	if (i == e->running || e->slots[i].queued)
		return -EALREADY;
	e->slots[i].queued = ++e->queue_seq;
	e->st.on_demand++;
	return 0;
}

const struct scan_target *scan_engine_target(const struct scan_engine *e, uint64_t subnet_id, bool *ret_running)
{
	long i = slot_of(e, subnet_id);
	if (ret_running)
		*ret_running = i >= 0 && i == e->running;
	return i < 0 ? NULL : &e->slots[i].t;
}

size_t scan_engine_count(const struct scan_engine *e)
{
	return e->n;
}

void scan_engine_get_stats(const struct scan_engine *e, struct scan_stats *ret)
{
	*ret = e->st;
}

/* ---- pacing ---- */

static void refill(struct scan_engine *e, int64_t now_ms)
{
	if (now_ms <= e->refilled_ms)
		return;
	int64_t add = (now_ms - e->refilled_ms) * (int64_t)e->rate;
	e->refilled_ms = now_ms;
	e->tokens_milli = add >= e->cap_milli - e->tokens_milli ? e->cap_milli : e->tokens_milli + add;
}

/* The slot to scan next: the oldest on-demand request, else the target
 * due earliest (if due now). -1: none. */
static long pick(const struct scan_engine *e, int64_t now_ms)
{
	long best = -1;
	for (size_t i = 0; i < e->n; i++) {
		if (e->slots[i].queued && (best < 0 || e->slots[i].queued < e->slots[best].queued))
			best = (long)i;
	}
	if (best >= 0)
		return best;
	for (size_t i = 0; i < e->n; i++) {
		if (e->slots[i].due_ms <= now_ms && (best < 0 || e->slots[i].due_ms < e->slots[best].due_ms))
			best = (long)i;
	}
	return best;
}

static void scan_start(struct scan_engine *e, long i, int64_t now_ms)
{
	struct scan_slot *s = &e->slots[i];
	e->running = i;
	e->cursor = 0;
	e->sent = 0;
	e->total = scan_target_probes(&s->t);
	s->queued = 0;
	s->last_start_ms = now_ms;
	s->due_ms = due_after(now_ms, s->t.interval_s, now_ms);
	e->st.started++;
}

/* The next address of the running scan that is not the rack's, advancing
 * the cursor past it; false when the range is done. */
static bool scan_advance(struct scan_engine *e, uint32_t *ret)
{
	const struct scan_target *t = &e->slots[e->running].t;
	uint32_t first, count;
	target_range(t, &first, &count);
	while (e->cursor < count) {
		uint32_t a = first + e->cursor++;
		if (!target_is_own(t, a)) {
			*ret = a;
			return true;
		}
	}
	return false;
}

/* Is there an address left after the cursor (not the rack's own)? */
static bool scan_has_more(const struct scan_engine *e)
{
	const struct scan_target *t = &e->slots[e->running].t;
	uint32_t first, count;
	target_range(t, &first, &count);
	for (uint32_t c = e->cursor; c < count; c++) {
		if (!target_is_own(t, first + c))
			return true;
	}
	return false;
}

int scan_engine_next(struct scan_engine *e, int64_t now_ms, struct scan_probe *ret)
{
	refill(e, now_ms);
	for (;;) {
		if (e->running < 0) {
			long i = pick(e, now_ms);
			if (i < 0)
				return 0;
			scan_start(e, i, now_ms);
		}
		if (e->tokens_milli < 1000)
			return 0;
		uint32_t a;
		if (!scan_advance(e, &a)) {
			/* nothing to probe at all (a /32 that is the rack's) */
			e->running = -1;
			e->st.completed++;
			continue;
		}
		const struct scan_target *t = &e->slots[e->running].t;
		*ret = (struct scan_probe){.subnet_id = t->subnet_id,
					   .ifname = t->ifname,
					   .source = t->source,
					   .target = a,
					   .first = e->sent == 0,
					   .total = e->total};
		e->sent++;
		e->tokens_milli -= 1000;
		e->st.probes++;
		if (!scan_has_more(e)) {
			ret->last = true;
			e->running = -1;
			e->st.completed++;
		}
		return 1;
	}
}

int64_t scan_engine_wait_ms(const struct scan_engine *e, int64_t now_ms)
{
	bool work = e->running >= 0;
	int64_t due = NEVER;
	for (size_t i = 0; !work && i < e->n; i++) {
		if (e->slots[i].queued)
			work = true;
		else if (e->slots[i].due_ms < due)
			due = e->slots[i].due_ms;
	}
	if (!work && due == NEVER)
		return -1;
	if (!work && due > now_ms)
		return due - now_ms;
	/* tokens as they will be at now_ms */
	int64_t tokens = e->tokens_milli;
	if (now_ms > e->refilled_ms) {
		int64_t add = (now_ms - e->refilled_ms) * (int64_t)e->rate;
		tokens = add >= e->cap_milli - tokens ? e->cap_milli : tokens + add;
	}
	if (tokens >= 1000)
		return 0;
	return (1000 - tokens + e->rate - 1) / e->rate;
}
