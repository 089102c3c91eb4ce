/* The power scheduler's structures (see sched.c for what they serve):
 * machines in a chained hash table keyed by machine_id, machines that want
 * a slot in one intrusive FIFO, and one time event per machine in a binary
 * min-heap. O(1) or O(log n) in the number of machines. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "rack/power/sched_internal.h"

/* ---- machines: hash table ---- */

size_t mach_hash(uint64_t id, size_t nbuckets)
{
	/* splitmix64's finaliser: ids are often sequential. */
	id ^= id >> 30;
	id *= 0xbf58476d1ce4e5b9ULL;
	id ^= id >> 27;
	id *= 0x94d049bb133111ebULL;
	id ^= id >> 31;
	return (size_t)id & (nbuckets - 1);
}

struct mach *mach_find(const struct power_sched *s, uint64_t id)
{
	struct mach *m = s->tab[mach_hash(id, s->nbuckets)];

	while (m && m->id != id)
		m = m->hnext;
	return m;
}

void mach_table_grow(struct power_sched *s)
{
	size_t nb = s->nbuckets * 2;
	struct mach **tab = xcalloc(nb, sizeof(*tab));

	for (size_t i = 0; i < s->nbuckets; i++) {
		struct mach *m = s->tab[i];
		while (m) {
			struct mach *next = m->hnext;
			size_t h = mach_hash(m->id, nb);
			m->hnext = tab[h];
			tab[h] = m;
			m = next;
		}
	}
	free(s->tab);
	s->tab = tab;
	s->nbuckets = nb;
}

struct mach *mach_get(struct power_sched *s, uint64_t id)
{
	struct mach *m = mach_find(s, id);

	if (m)
		return m;
	if (s->nmach >= s->nbuckets)
		mach_table_grow(s);
	m = xcalloc(1, sizeof(*m));
	m->id = id;
	m->heap_idx = HEAP_NONE;
	size_t h = mach_hash(id, s->nbuckets);
	m->hnext = s->tab[h];
	s->tab[h] = m;
	s->nmach++;
	return m;
}

void mach_remove(struct power_sched *s, struct mach *m)
{
	struct mach **pp = &s->tab[mach_hash(m->id, s->nbuckets)];

	while (*pp != m)
		pp = &(*pp)->hnext;
	*pp = m->hnext;
	s->nmach--;
	free(m);
}

/* ---- the ready FIFO ---- */

void ready_push(struct power_sched *s, struct mach *m)
{
	assert(!m->ready);
	m->ready = true;
	m->rnext = NULL;
	m->rprev = s->ready_tail;
	if (s->ready_tail)
		s->ready_tail->rnext = m;
	else
		s->ready_head = m;
	s->ready_tail = m;
}

void ready_remove(struct power_sched *s, struct mach *m)
{
	assert(m->ready);
	if (m->rprev)
		m->rprev->rnext = m->rnext;
	else
		s->ready_head = m->rnext;
	if (m->rnext)
		m->rnext->rprev = m->rprev;
	else
		s->ready_tail = m->rprev;
	m->ready = false;
	m->rprev = m->rnext = NULL;
}

/* ---- time events: a min-heap on timer_us ---- */

void heap_place(struct power_sched *s, size_t i, struct mach *m)
{
	s->heap[i] = m;
	m->heap_idx = i;
}

void heap_up(struct power_sched *s, size_t i)
{
	struct mach *m = s->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (s->heap[parent]->timer_us <= m->timer_us)
			break;
		heap_place(s, i, s->heap[parent]);
		i = parent;
	}
	heap_place(s, i, m);
}

void heap_down(struct power_sched *s, size_t i)
{
	struct mach *m = s->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= s->nheap)
			break;
		if (c + 1 < s->nheap && s->heap[c + 1]->timer_us < s->heap[c]->timer_us)
			c++;
		if (m->timer_us <= s->heap[c]->timer_us)
			break;
		heap_place(s, i, s->heap[c]);
		i = c;
	}
	heap_place(s, i, m);
}

void timer_clear(struct power_sched *s, struct mach *m)
{
	size_t i = m->heap_idx;

	if (i == HEAP_NONE)
		return;
	m->heap_idx = HEAP_NONE;
	struct mach *last = s->heap[--s->nheap];
	if (last == m)
		return;
	heap_place(s, i, last);
	heap_up(s, i);
	heap_down(s, last->heap_idx);
}

void timer_set(struct power_sched *s, struct mach *m, int64_t at_us)
{
	timer_clear(s, m);
	if (s->nheap == s->heapcap) {
		s->heapcap = s->heapcap ? s->heapcap * 2 : 64;
		s->heap = xreallocarray(s->heap, s->heapcap, sizeof(*s->heap));
	}
	m->timer_us = at_us;
	heap_place(s, s->nheap++, m);
	heap_up(s, m->heap_idx);
}
