/* The rack's power poll plan (rack/power/poll.h).
 *
 * A set is immutable between replacements (nginx's reload: build the new
 * one, then swap), so the index by machine_id is an open-addressing table
 * rebuilt with each set, and the due times live in a binary min-heap. Every
 * call is O(1) or O(log n) per machine; a replacement is O(n log n). */
#include "rack/power/poll.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct poll_mach {
	uint64_t id;
	void *arg;
	bool known;
	bool ok;
	enum power_state state;
	char *error; /* NULL: none */
	int64_t at_unix_ms;
	int64_t next_due_us;
	size_t heap_idx;
	bool kept; /* scratch for power_poll_set */
};

struct power_poll {
	power_poll_release_fn release;
	int64_t interval_us;

	struct poll_mach **vec; /* the set, in the region's order */
	size_t n;

	size_t *index; /* open addressing: vec position + 1, 0 = empty */
	size_t index_size;

	struct poll_mach **heap; /* by next_due_us */
};

static void poll_release(const struct power_poll *p, void *arg)
{
	if (p->release && arg)
		p->release(arg);
}

/* ---- index ---- */

static size_t poll_hash(uint64_t id)
{
	id ^= id >> 30;
	id *= 0xbf58476d1ce4e5b9ULL;
	id ^= id >> 27;
	id *= 0x94d049bb133111ebULL;
	id ^= id >> 31;
	return (size_t)id;
}

/* The slot holding id, or the empty slot where it would go. */
static size_t *index_slot(size_t *index, size_t size, struct poll_mach *const *vec, uint64_t id)
{
	size_t mask = size - 1;

	for (size_t i = poll_hash(id) & mask;; i = (i + 1) & mask)
		if (!index[i] || vec[index[i] - 1]->id == id)
			return &index[i];
}

static struct poll_mach *poll_find(const struct power_poll *p, uint64_t id)
{
	if (!p->n)
		return NULL;
	size_t *slot = index_slot(p->index, p->index_size, p->vec, id);
	return *slot ? p->vec[*slot - 1] : NULL;
}

/* ---- heap ---- */

static void heap_place(struct power_poll *p, size_t i, struct poll_mach *m)
{
	p->heap[i] = m;
	m->heap_idx = i;
}

static void heap_down(struct power_poll *p, size_t i)
{
	struct poll_mach *m = p->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= p->n)
			break;
		if (c + 1 < p->n && p->heap[c + 1]->next_due_us < p->heap[c]->next_due_us)
			c++;
		if (m->next_due_us <= p->heap[c]->next_due_us)
			break;
		heap_place(p, i, p->heap[c]);
		i = c;
	}
	heap_place(p, i, m);
}

static void heap_build(struct power_poll *p)
{
	for (size_t i = 0; i < p->n; i++)
		heap_place(p, i, p->vec[i]);
	for (size_t i = p->n / 2; i-- > 0;)
		heap_down(p, i);
}

/* ---- placing machines that join ---- */

/* x * num / den without overflow: an interval may be up to 2^32 s. */
static int64_t scale(int64_t x, int64_t num, int64_t den)
{
	return (int64_t)((__int128)x * num / den);
}

struct gap {
	int64_t start; /* offset from now */
	int64_t len;
	size_t share;
	int64_t rem; /* the fraction left over, to hand out the rest */
};

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int cmp_gap_rem(const void *a, const void *b)
{
	const struct gap *x = *(const struct gap *const *)a, *y = *(const struct gap *const *)b;

	if (x->rem != y->rem)
		return x->rem > y->rem ? -1 : 1;
	if (x->len != y->len)
		return x->len > y->len ? -1 : 1;
	return (x->start > y->start) - (x->start < y->start);
}

/* Due times for the k machines in fresh[], given the nkept machines in
 * kept[] that keep theirs. */
static void poll_place(struct power_poll *p, struct poll_mach **kept, size_t nkept, struct poll_mach **fresh, size_t k,
		       int64_t now_us)
{
	const int64_t iv = p->interval_us;

	if (!k)
		return;
	if (!nkept) {
		for (size_t i = 0; i < k; i++)
			fresh[i]->next_due_us = now_us + scale(iv, (int64_t)i, (int64_t)k);
		return;
	}

	/* Where the kept machines sit in the coming interval. */
	int64_t *pos = xreallocarray(NULL, nkept, sizeof(*pos));
	for (size_t i = 0; i < nkept; i++) {
		int64_t off = kept[i]->next_due_us - now_us;
		pos[i] = off < 0 ? 0 : off >= iv ? iv - 1 : off;
	}
	qsort(pos, nkept, sizeof(*pos), cmp_i64);

	/* Gaps between them, around the circle; each gets newcomers in
	 * proportion to its length (largest remainder for the rest). */
	struct gap *gaps = xreallocarray(NULL, nkept, sizeof(*gaps));
	struct gap **order = xreallocarray(NULL, nkept, sizeof(*order));
	size_t given = 0;
	for (size_t j = 0; j < nkept; j++) {
		int64_t end = j + 1 < nkept ? pos[j + 1] : pos[0] + iv;
		gaps[j].start = pos[j];
		gaps[j].len = end - pos[j];
		gaps[j].share = (size_t)scale(gaps[j].len, (int64_t)k, iv);
		gaps[j].rem = (int64_t)((__int128)k * gaps[j].len % iv);
		given += gaps[j].share;
		order[j] = &gaps[j];
	}
	qsort(order, nkept, sizeof(*order), cmp_gap_rem);
	for (size_t j = 0; given < k; j = (j + 1) % nkept, given++)
		order[j]->share++;

	size_t f = 0;
	for (size_t j = 0; j < nkept; j++) {
		const struct gap *g = &gaps[j];
		for (size_t t = 0; t < g->share; t++) {
			int64_t off = g->start + scale(g->len, (int64_t)(t + 1), (int64_t)(g->share + 1));
			if (off >= iv)
				off -= iv;
			fresh[f++]->next_due_us = now_us + off;
		}
	}
	free(order);
	free(gaps);
	free(pos);
}

/* ---- the set ---- */

static void mach_free(const struct power_poll *p, struct poll_mach *m)
{
	poll_release(p, m->arg);
	free(m->error);
	free(m);
}

void power_poll_set(struct power_poll *p, const struct power_poll_target *targets, size_t n, unsigned interval_s,
		    int64_t now_us)
{
	int64_t old_iv = p->interval_us;
	int64_t iv = (int64_t)(interval_s ? interval_s : POWER_POLL_INTERVAL_DEFAULT_S) * 1000000;

	size_t size = 16;
	while (size < 2 * n)
		size *= 2;
	size_t *index = xcalloc(size, sizeof(*index));
	struct poll_mach **vec = xreallocarray(NULL, n ? n : 1, sizeof(*vec));
	struct poll_mach **kept = xreallocarray(NULL, n ? n : 1, sizeof(*kept));
	struct poll_mach **fresh = xreallocarray(NULL, n ? n : 1, sizeof(*fresh));
	size_t nvec = 0, nkept = 0, nfresh = 0;

	for (size_t i = 0; i < n; i++) {
		const struct power_poll_target *t = &targets[i];
		size_t *slot = index_slot(index, size, vec, t->machine_id);
		if (*slot) {
			/* A repeat: the first target wins. */
			if (t->arg != vec[*slot - 1]->arg)
				poll_release(p, t->arg);
			continue;
		}
		struct poll_mach *m = poll_find(p, t->machine_id);
		if (m) {
			if (m->arg != t->arg)
				poll_release(p, m->arg);
			m->kept = true;
			kept[nkept++] = m;
		} else {
			m = xcalloc(1, sizeof(*m));
			m->id = t->machine_id;
			fresh[nfresh++] = m;
		}
		m->arg = t->arg;
		vec[nvec] = m;
		*slot = ++nvec;
	}

	for (size_t i = 0; i < p->n; i++) {
		struct poll_mach *m = p->vec[i];
		if (m->kept)
			m->kept = false;
		else
			mach_free(p, m);
	}

	if (old_iv && old_iv != iv) {
		for (size_t i = 0; i < nkept; i++) {
			int64_t wait = kept[i]->next_due_us - now_us;
			if (wait > 0)
				kept[i]->next_due_us = now_us + scale(wait, iv, old_iv);
		}
	}
	p->interval_us = iv;
	poll_place(p, kept, nkept, fresh, nfresh, now_us);

	free(p->vec);
	free(p->index);
	free(p->heap);
	free(kept);
	free(fresh);
	p->vec = vec;
	p->n = nvec;
	p->index = index;
	p->index_size = size;
	p->heap = xreallocarray(NULL, nvec ? nvec : 1, sizeof(*p->heap));
	heap_build(p);
}

/* ---- life ---- */

struct power_poll *power_poll_new(power_poll_release_fn release)
{
	struct power_poll *p = xcalloc(1, sizeof(*p));

	p->release = release;
	p->interval_us = (int64_t)POWER_POLL_INTERVAL_DEFAULT_S * 1000000;
	return p;
}

void power_poll_free(struct power_poll *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		mach_free(p, p->vec[i]);
	free(p->vec);
	free(p->index);
	free(p->heap);
	free(p);
}

size_t power_poll_count(const struct power_poll *p)
{
	return p->n;
}

unsigned power_poll_interval_s(const struct power_poll *p)
{
	return (unsigned)(p->interval_us / 1000000);
}

/* ---- the schedule ---- */

size_t power_poll_due(struct power_poll *p, int64_t now_us, struct power_poll_target *out, size_t max)
{
	size_t k = 0;

	while (k < max && p->n && p->heap[0]->next_due_us <= now_us) {
		struct poll_mach *m = p->heap[0];
		out[k++] = (struct power_poll_target){m->id, m->arg};
		/* One interval on; more if the loop was away for longer. */
		int64_t late = now_us - m->next_due_us;
		m->next_due_us += (late / p->interval_us + 1) * p->interval_us;
		heap_down(p, 0);
	}
	return k;
}

int64_t power_poll_next_due(const struct power_poll *p)
{
	return p->n ? p->heap[0]->next_due_us : INT64_MAX;
}

/* ---- results ---- */

int power_poll_record(struct power_poll *p, uint64_t machine_id, enum power_state state, bool ok, const char *error,
		      int64_t at_unix_ms)
{
	struct poll_mach *m = poll_find(p, machine_id);

	if (!m)
		return -ENOENT;
	if (error && !*error)
		error = NULL;
	bool change = !m->known || m->state != state || m->ok != ok || (m->error == NULL) != (error == NULL) ||
		      (error && strcmp(m->error, error) != 0);
	if (change) {
		free(m->error);
		m->error = error ? xstrdup(error) : NULL;
	}
	m->known = true;
	m->state = state;
	m->ok = ok;
	m->at_unix_ms = at_unix_ms;
	return change;
}

static void state_fill(const struct poll_mach *m, struct power_poll_state *st)
{
	*st = (struct power_poll_state){
	    .machine_id = m->id,
	    .arg = m->arg,
	    .known = m->known,
	    .state = m->known ? m->state : POWER_STATE_UNKNOWN,
	    .ok = m->known && m->ok,
	    .error = m->error ? m->error : "",
	    .at_unix_ms = m->known ? m->at_unix_ms : 0,
	    .next_due_us = m->next_due_us,
	};
}

int power_poll_get(const struct power_poll *p, uint64_t machine_id, struct power_poll_state *ret)
{
	const struct poll_mach *m = poll_find(p, machine_id);

	if (!m)
		return -ENOENT;
	state_fill(m, ret);
	return 0;
}

void power_poll_foreach(const struct power_poll *p, void (*fn)(void *ctx, const struct power_poll_state *st), void *ctx)
{
	for (size_t i = 0; i < p->n; i++) {
		struct power_poll_state st;
		state_fill(p->vec[i], &st);
		fn(ctx, &st);
	}
}
