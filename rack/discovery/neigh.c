/* The neighbour table; see neigh.h for the rules. Entries live in one
 * array (grown up to max_entries, indices stable), chained by index in a
 * seeded hash, and on a doubly linked list by last sighting for eviction. */
#include "rack/discovery/neigh.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define NIL	     UINT32_MAX
#define MILLI	     1000 /* token bucket in thousandths of an event */
#define ENTRIES_HARD 0x1000000

struct entry {
	uint16_t iface, vlan;
	struct neigh_addr addr;
	bool has_mac, rep_has_mac, reported, name_reported;
	uint8_t mac[6];	    /* last seen */
	uint8_t rep_mac[6]; /* last reported */
	char *hostname;	    /* last heard, owned; NULL none */
	int64_t first_seen, last_seen, last_reported;
	uint32_t hnext, older, newer;
};

struct iface {
	char name[NEIGH_IFNAME_MAX + 1];
	uint64_t tokens; /* thousandths */
	int64_t refilled;
	struct neigh_iface_stats st;
};

struct neigh_table {
	struct neigh_conf conf;
	struct entry *e;
	size_t n_alloc, cap, n_used;
	uint32_t *buckets;
	size_t n_buckets; /* power of two */
	uint32_t oldest, newest;
	uint64_t evictions;
	struct iface ifaces[NEIGH_IFACES_MAX];
	size_t n_ifaces;
	struct neigh_event *q; /* ring */
	size_t q_head, q_len;
};

void neigh_conf_default(struct neigh_conf *conf)
{
	*conf = (struct neigh_conf){
	    .max_entries = 16384,
	    .queue_max = 4096,
	    .refresh_ms = 10 * 60 * 1000,
	    .rate = 100,
	    .burst = 500,
	};
}

struct neigh_addr neigh_addr_v4(uint32_t v4)
{
	return (struct neigh_addr){.v4 = v4};
}

struct neigh_addr neigh_addr_v6(const uint8_t v6[16])
{
	struct neigh_addr a = {.is_v6 = true};
	memcpy(a.v6, v6, 16);
	return a;
}

const char *neigh_event_kind_name(enum neigh_event_kind kind)
{
	static const char *const names[NEIGH_EV_KINDS] = {
	    [NEIGH_EV_NONE] = "NONE",		[NEIGH_EV_NEW] = "NEW",
	    [NEIGH_EV_MOVED] = "MOVED",		[NEIGH_EV_NAMED] = "NAMED",
	    [NEIGH_EV_REFRESHED] = "REFRESHED",
	};
	return (unsigned)kind < NEIGH_EV_KINDS ? names[kind] : "?";
}

struct neigh_table *neigh_table_new(const struct neigh_conf *conf)
{
	if (conf->max_entries == 0 || conf->max_entries > ENTRIES_HARD || conf->queue_max == 0 || conf->rate == 0 ||
	    conf->burst == 0 || conf->refresh_ms < 0)
		return NULL;
	struct neigh_table *t = xcalloc(1, sizeof(*t));
	t->conf = *conf;
	t->n_buckets = 16;
	while (t->n_buckets < conf->max_entries)
		t->n_buckets *= 2;
	t->buckets = xreallocarray(NULL, t->n_buckets, sizeof(*t->buckets));
	for (size_t i = 0; i < t->n_buckets; i++)
		t->buckets[i] = NIL;
	t->oldest = t->newest = NIL;
	t->q = xreallocarray(NULL, conf->queue_max, sizeof(*t->q));
	return t;
}

void neigh_table_free(struct neigh_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_alloc; i++)
		free(t->e[i].hostname);
	free(t->e);
	free(t->buckets);
	free(t->q);
	free(t);
}

int neigh_iface_add(struct neigh_table *t, const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > NEIGH_IFNAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i < t->n_ifaces; i++) {
		if (strcmp(t->ifaces[i].name, name) == 0)
			return (int)i;
	}
	if (t->n_ifaces == NEIGH_IFACES_MAX)
		return -ENOSPC;
	struct iface *f = &t->ifaces[t->n_ifaces];
	*f = (struct iface){.tokens = (uint64_t)t->conf.burst * MILLI, .refilled = INT64_MIN};
	memcpy(f->name, name, len + 1);
	return (int)t->n_ifaces++;
}

const char *neigh_iface_name(const struct neigh_table *t, unsigned iface)
{
	return iface < t->n_ifaces ? t->ifaces[iface].name : NULL;
}

/* ---- hashing and the LRU list ---- */

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

static size_t bucket_of(const struct neigh_table *t, unsigned iface, uint16_t vlan, const struct neigh_addr *a)
{
	uint64_t h = mix(t->conf.seed, (uint64_t)iface << 32 | (uint64_t)vlan << 1 | a->is_v6);
	if (a->is_v6) {
		uint64_t hi, lo;
		memcpy(&hi, a->v6, 8);
		memcpy(&lo, a->v6 + 8, 8);
		h = mix(mix(h, hi), lo);
	} else {
		h = mix(h, a->v4);
	}
	return (size_t)(h & (t->n_buckets - 1));
}

static bool key_equal(const struct entry *e, unsigned iface, uint16_t vlan, const struct neigh_addr *a)
{
	if (e->iface != iface || e->vlan != vlan || e->addr.is_v6 != a->is_v6)
		return false;
	return a->is_v6 ? memcmp(e->addr.v6, a->v6, 16) == 0 : e->addr.v4 == a->v4;
}

static uint32_t find(const struct neigh_table *t, size_t b, unsigned iface, uint16_t vlan, const struct neigh_addr *a)
{
	for (uint32_t i = t->buckets[b]; i != NIL; i = t->e[i].hnext) {
		if (key_equal(&t->e[i], iface, vlan, a))
			return i;
	}
	return NIL;
}

static void lru_unlink(struct neigh_table *t, uint32_t i)
{
	struct entry *e = &t->e[i];
	if (e->older != NIL)
		t->e[e->older].newer = e->newer;
	else
		t->oldest = e->newer;
	if (e->newer != NIL)
		t->e[e->newer].older = e->older;
	else
		t->newest = e->older;
}

static void lru_push_newest(struct neigh_table *t, uint32_t i)
{
	struct entry *e = &t->e[i];
	e->older = t->newest;
	e->newer = NIL;
	if (t->newest != NIL)
		t->e[t->newest].newer = i;
	else
		t->oldest = i;
	t->newest = i;
}

static void hash_unlink(struct neigh_table *t, uint32_t i)
{
	struct entry *e = &t->e[i];
	uint32_t *p = &t->buckets[bucket_of(t, e->iface, e->vlan, &e->addr)];
	while (*p != i)
		p = &t->e[*p].hnext;
	*p = e->hnext;
}

/* A slot for a new entry: a new one while under max_entries (the array
 * grows by doubling), else the least recently seen one, evicted. Entries
 * are never removed otherwise, so there is no free list. */
static uint32_t slot_take(struct neigh_table *t)
{
	uint32_t i;
	if (t->n_alloc < t->conf.max_entries) {
		if (t->n_alloc == t->cap) {
			t->cap = t->cap ? t->cap * 2 : 64;
			if (t->cap > t->conf.max_entries)
				t->cap = t->conf.max_entries;
			t->e = xreallocarray(t->e, t->cap, sizeof(*t->e));
		}
		i = (uint32_t)t->n_alloc++;
	} else {
		i = t->oldest;
		lru_unlink(t, i);
		hash_unlink(t, i);
		free(t->e[i].hostname);
		t->n_used--;
		t->evictions++;
	}
	return i;
}

/* ---- observing ---- */

static bool bucket_take(struct neigh_table *t, struct iface *f, int64_t now)
{
	uint64_t cap = (uint64_t)t->conf.burst * MILLI;
	if (f->refilled != INT64_MIN && now > f->refilled) {
		uint64_t dt = (uint64_t)(now - f->refilled);
		uint64_t full = cap / t->conf.rate + 1; /* ms to refill from empty */
		uint64_t add = (dt > full ? full : dt) * t->conf.rate;
		f->tokens = f->tokens + add > cap ? cap : f->tokens + add;
	}
	if (f->refilled == INT64_MIN || now > f->refilled)
		f->refilled = now; /* a clock going back waits, it does not refill */
	if (f->tokens < MILLI)
		return false;
	f->tokens -= MILLI;
	return true;
}

static uint32_t entry_get(struct neigh_table *t, const struct neigh_obs *o, int64_t now)
{
	size_t b = bucket_of(t, o->iface, o->vlan, &o->addr);
	uint32_t i = find(t, b, o->iface, o->vlan, &o->addr);
	if (i != NIL) {
		lru_unlink(t, i);
		lru_push_newest(t, i);
		return i;
	}
	i = slot_take(t);
	b = bucket_of(t, o->iface, o->vlan, &o->addr); /* unchanged, the eviction did not rehash */
	t->e[i] = (struct entry){
	    .iface = (uint16_t)o->iface, .vlan = o->vlan, .addr = o->addr, .first_seen = now, .hnext = t->buckets[b]};
	t->buckets[b] = i;
	lru_push_newest(t, i);
	t->n_used++;
	return i;
}

static void entry_update(struct entry *e, const struct neigh_obs *o, int64_t now)
{
	e->last_seen = now;
	if (o->mac) {
		memcpy(e->mac, o->mac, 6);
		e->has_mac = true;
	}
	if (o->hostname && o->hostname[0] && strlen(o->hostname) <= NEIGH_HOSTNAME_MAX &&
	    (!e->hostname || strcmp(e->hostname, o->hostname) != 0)) {
		free(e->hostname);
		e->hostname = xstrdup(o->hostname);
		e->name_reported = false;
	}
	if (now < e->last_reported)
		e->last_reported = now; /* the clock went back: count from here */
}

static enum neigh_event_kind entry_verdict(const struct neigh_table *t, const struct entry *e, int64_t now)
{
	if (!e->reported || (e->has_mac && !e->rep_has_mac))
		return NEIGH_EV_NEW;
	if (e->has_mac && memcmp(e->mac, e->rep_mac, 6) != 0)
		return NEIGH_EV_MOVED;
	if (e->hostname && !e->name_reported)
		return NEIGH_EV_NAMED;
	if (now - e->last_reported >= t->conf.refresh_ms)
		return NEIGH_EV_REFRESHED;
	return NEIGH_EV_NONE;
}

static void entry_view(const struct entry *e, enum neigh_event_kind kind, struct neigh_event *v)
{
	*v = (struct neigh_event){
	    .kind = kind,
	    .iface = e->iface,
	    .vlan = e->vlan,
	    .addr = e->addr,
	    .has_mac = e->has_mac,
	    .first_seen_ms = e->first_seen,
	    .last_seen_ms = e->last_seen,
	};
	memcpy(v->mac, e->mac, 6);
	if (kind == NEIGH_EV_MOVED) {
		v->has_old_mac = true;
		memcpy(v->old_mac, e->rep_mac, 6);
	}
	if (e->hostname)
		memcpy(v->hostname, e->hostname, strlen(e->hostname) + 1);
}

int neigh_observe(struct neigh_table *t, const struct neigh_obs *o, int64_t now_ms)
{
	if (o->iface >= t->n_ifaces)
		return -EINVAL;
	struct iface *f = &t->ifaces[o->iface];
	f->st.observed++;
	uint32_t i = entry_get(t, o, now_ms); /* may move t->e */
	struct entry *e = &t->e[i];
	entry_update(e, o, now_ms);
	enum neigh_event_kind kind = entry_verdict(t, e, now_ms);
	if (kind == NEIGH_EV_NONE)
		return NEIGH_EV_NONE;
	if (t->q_len == t->conf.queue_max) {
		f->st.queue_dropped++;
		return -ENOBUFS;
	}
	if (!bucket_take(t, f, now_ms)) {
		f->st.rate_dropped++;
		return -EAGAIN;
	}
	entry_view(e, kind, &t->q[(t->q_head + t->q_len++) % t->conf.queue_max]);
	e->reported = true;
	e->rep_has_mac = e->has_mac;
	memcpy(e->rep_mac, e->mac, 6);
	e->name_reported = true;
	e->last_reported = now_ms;
	f->st.events[kind]++;
	return kind;
}

size_t neigh_take(struct neigh_table *t, struct neigh_event *out, size_t max)
{
	size_t n = 0;
	for (; n < max && t->q_len; n++) {
		out[n] = t->q[t->q_head];
		t->q_head = (t->q_head + 1) % t->conf.queue_max;
		t->q_len--;
	}
	return n;
}

size_t neigh_pending(const struct neigh_table *t)
{
	return t->q_len;
}

bool neigh_lookup(const struct neigh_table *t, unsigned iface, uint16_t vlan, const struct neigh_addr *addr,
		  struct neigh_event *ret)
{
	uint32_t i = find(t, bucket_of(t, iface, vlan, addr), iface, vlan, addr);
	if (i == NIL)
		return false;
	entry_view(&t->e[i], NEIGH_EV_NONE, ret);
	return true;
}

void neigh_iface_stats(const struct neigh_table *t, unsigned iface, struct neigh_iface_stats *ret)
{
	*ret = iface < t->n_ifaces ? t->ifaces[iface].st : (struct neigh_iface_stats){0};
}

void neigh_stats(const struct neigh_table *t, struct neigh_stats *ret)
{
	*ret = (struct neigh_stats){.entries = t->n_used, .pending = t->q_len, .evictions = t->evictions};
}
