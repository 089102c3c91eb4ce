/* The boot table and the GetBootConfig answer cache; see table.h. */
#include "rack/boot/table.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/net.h"
#include "common/util.h"

/* ---- owned copies of a config ---- */

static char *dup_or_null(const char *s)
{
	if (!s)
		return NULL;
	return xstrdup(s);
}

static void config_copy(struct boot_config *dst, const struct boot_config *src)
{
	*dst = *src;
	dst->kernel = dup_or_null(src->kernel);
	dst->initrd = dup_or_null(src->initrd);
	dst->cmdline = dup_or_null(src->cmdline);
}

static void config_done(struct boot_config *c)
{
	free((char *)c->kernel);
	free((char *)c->initrd);
	free((char *)c->cmdline);
	memset(c, 0, sizeof(*c));
}

/* ---- the table ---- */

struct boot_table {
	struct boot_config *entries; /* sorted by MAC */
	size_t n;
	bool has_default;
	struct boot_config def;
};

static int mac_cmp(const void *a, const void *b)
{
	return memcmp(((const struct boot_config *)a)->mac, ((const struct boot_config *)b)->mac, 6);
}

static int table_fail(struct boot_table_error *err, size_t i, const char *mac, const char *field, const char *why)
{
	err->index = i;
	snprintf(err->mac, sizeof(err->mac), "%s", mac ? mac : "");
	err->field = field;
	err->why = why;
	return -EINVAL;
}

/* One entry from text, checked; strings borrowed from in. */
static int table_parse_one(const struct boot_config_text *in, size_t i, struct boot_config *c,
			   struct boot_table_error *err)
{
	const char *field, *why;

	memset(c, 0, sizeof(*c));
	if (in->mac && in->mac[0]) {
		if (mac_parse(in->mac, c->mac) < 0)
			return table_fail(err, i, in->mac, "mac",
					  "mac must be aa:bb:cc:dd:ee:ff, or empty for the default");
		c->has_mac = true;
	}
	if (!in->purpose || boot_purpose_parse(in->purpose, &c->purpose) < 0)
		return table_fail(err, i, in->mac, "purpose",
				  "purpose must be enlist, commission, deploy, erase, local or poweroff");
	c->kernel = in->kernel;
	c->initrd = in->initrd;
	c->cmdline = in->cmdline;
	if (boot_config_check(c, &field, &why) < 0)
		return table_fail(err, i, in->mac, field, why);
	return 0;
}

/* A parsed entry and where it came from, for sorting and error messages. */
struct table_item {
	struct boot_config c;
	size_t index;
};

static int item_cmp(const void *a, const void *b)
{
	return mac_cmp(&((const struct table_item *)a)->c, &((const struct table_item *)b)->c);
}

int boot_table_build(const struct boot_config_text *in, size_t n, struct boot_table **ret, struct boot_table_error *err)
{
	struct boot_table_error scratch;
	struct table_item *items;
	struct boot_config def = {0};
	bool has_default = false;
	size_t n_mac = 0;
	int r = 0;

	if (!err)
		err = &scratch;
	if (n > BOOT_TABLE_MAX) {
		table_fail(err, BOOT_TABLE_MAX, "", "", "too many boot configs in one snapshot");
		return -E2BIG;
	}
	items = xcalloc(n ? n : 1, sizeof(*items));
	for (size_t i = 0; i < n && r == 0; i++) {
		struct boot_config c;
		r = table_parse_one(&in[i], i, &c, err);
		if (r == 0 && !c.has_mac && has_default)
			r = table_fail(err, i, "", "mac", "a second default config (mac \"\")");
		if (r == 0 && !c.has_mac) {
			def = c;
			has_default = true;
		} else if (r == 0) {
			items[n_mac++] = (struct table_item){c, i};
		}
	}
	if (r == 0)
		qsort(items, n_mac, sizeof(*items), item_cmp);
	for (size_t i = 1; r == 0 && i < n_mac; i++) {
		if (item_cmp(&items[i - 1], &items[i]) == 0) {
			size_t at = items[i].index > items[i - 1].index ? items[i].index : items[i - 1].index;
			r = table_fail(err, at, in[at].mac, "mac", "the same mac appears twice");
		}
	}
	struct boot_table *t = NULL;
	if (r == 0) {
		t = xcalloc(1, sizeof(*t));
		t->entries = xcalloc(n_mac ? n_mac : 1, sizeof(*t->entries));
	}
	if (r < 0) {
		free(items);
		return r;
	}
	for (size_t i = 0; i < n_mac; i++)
		config_copy(&t->entries[i], &items[i].c);
	t->n = n_mac;
	if (has_default) {
		config_copy(&t->def, &def);
		t->has_default = true;
	}
	free(items);
	*ret = t;
	return 0;
}

void boot_table_free(struct boot_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		config_done(&t->entries[i]);
	free(t->entries);
	if (t->has_default)
		config_done(&t->def);
	free(t);
}

const struct boot_config *boot_table_lookup(const struct boot_table *t, const uint8_t mac[6])
{
	struct boot_config key;

	if (!t || t->n == 0)
		return NULL;
	memcpy(key.mac, mac, 6);
	return bsearch(&key, t->entries, t->n, sizeof(*t->entries), mac_cmp);
}

const struct boot_config *boot_table_default(const struct boot_table *t)
{
	return t && t->has_default ? &t->def : NULL;
}

size_t boot_table_count(const struct boot_table *t)
{
	return t ? t->n : 0;
}

void boot_table_error_format(const struct boot_table_error *err, char *buf, size_t len)
{
	if (err->mac[0])
		snprintf(buf, len, "boot_configs[%zu] (mac %s): %s", err->index, err->mac, err->why);
	else
		snprintf(buf, len, "boot_configs[%zu] (default): %s", err->index, err->why);
}

/* ---- the answer cache ---- */

struct cache_entry {
	uint8_t mac[6];
	bool pending;		   /* a fetch is in flight (no answer yet) */
	uint64_t gen;		   /* cache generation when the fetch began */
	bool forgotten;		   /* pending: boot_cache_forget() ran, do not keep the answer */
	struct cache_entry *hnext; /* hash chain */
	struct cache_entry *lprev; /* LRU list (answers only), most recent first */
	struct cache_entry *lnext;
	struct boot_config answer; /* owned copies */
	struct boot_wait *waiters; /* pending only, arrival order */
	struct boot_wait *last_waiter;
	size_t n_waiters;
};

struct boot_cache {
	struct cache_entry **buckets;
	size_t n_buckets; /* a power of two */
	struct cache_entry *lru_head, *lru_tail;
	size_t count, pending;
	size_t capacity, max_pending, max_waiters;
	uint64_t gen;
};

int boot_cache_new(size_t capacity, size_t max_pending, size_t max_waiters, struct boot_cache **ret)
{
	struct boot_cache *c = xcalloc(1, sizeof(*c));
	size_t nb = 64;

	while (nb < 2 * (capacity + max_pending))
		nb *= 2;
	c->buckets = xcalloc(nb, sizeof(*c->buckets));
	c->n_buckets = nb;
	c->capacity = capacity ? capacity : 1;
	c->max_pending = max_pending;
	c->max_waiters = max_waiters ? max_waiters : 1;
	*ret = c;
	return 0;
}

static size_t cache_bucket(const struct boot_cache *c, const uint8_t mac[6])
{
	uint64_t h = 0;
	for (int i = 0; i < 6; i++)
		h = (h << 8) | mac[i];
	h *= 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 32) & (c->n_buckets - 1);
}

static struct cache_entry *cache_find(const struct boot_cache *c, const uint8_t mac[6])
{
	for (struct cache_entry *e = c->buckets[cache_bucket(c, mac)]; e; e = e->hnext) {
		if (memcmp(e->mac, mac, 6) == 0)
			return e;
	}
	return NULL;
}

static void cache_unhash(struct boot_cache *c, struct cache_entry *e)
{
	struct cache_entry **pp = &c->buckets[cache_bucket(c, e->mac)];
	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
}

static void lru_unlink(struct boot_cache *c, struct cache_entry *e)
{
	if (e->lprev)
		e->lprev->lnext = e->lnext;
	else
		c->lru_head = e->lnext;
	if (e->lnext)
		e->lnext->lprev = e->lprev;
	else
		c->lru_tail = e->lprev;
	e->lprev = e->lnext = NULL;
}

static void lru_push_front(struct boot_cache *c, struct cache_entry *e)
{
	e->lprev = NULL;
	e->lnext = c->lru_head;
	if (c->lru_head)
		c->lru_head->lprev = e;
	c->lru_head = e;
	if (!c->lru_tail)
		c->lru_tail = e;
}

/* Drop an answer entry entirely. */
static void cache_drop_answer(struct boot_cache *c, struct cache_entry *e)
{
	lru_unlink(c, e);
	cache_unhash(c, e);
	config_done(&e->answer);
	c->count--;
	free(e);
}

void boot_cache_free(struct boot_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_buckets; i++) {
		while (c->buckets[i]) {
			struct cache_entry *e = c->buckets[i];
			c->buckets[i] = e->hnext;
			config_done(&e->answer);
			free(e);
		}
	}
	free(c->buckets);
	free(c);
}

enum boot_cache_state boot_cache_lookup(struct boot_cache *c, const uint8_t mac[6], const struct boot_config **ret)
{
	struct cache_entry *e = cache_find(c, mac);

	if (!e)
		return BOOT_CACHE_MISS;
	if (e->pending)
		return BOOT_CACHE_PENDING;
	lru_unlink(c, e);
	lru_push_front(c, e);
	*ret = &e->answer;
	return BOOT_CACHE_HIT;
}

int boot_cache_begin(struct boot_cache *c, const uint8_t mac[6], struct boot_wait *w)
{
	struct cache_entry *e = cache_find(c, mac);

	if (e && e->pending)
		return -EEXIST;
	if (c->pending >= c->max_pending)
		return -EBUSY;
	if (e)
		cache_drop_answer(c, e); /* a stale answer the caller chose to refresh */
	e = xcalloc(1, sizeof(*e));
	memcpy(e->mac, mac, 6);
	e->pending = true;
	e->gen = c->gen;
	w->next = NULL;
	e->waiters = e->last_waiter = w;
	e->n_waiters = 1;
	size_t b = cache_bucket(c, mac);
	e->hnext = c->buckets[b];
	c->buckets[b] = e;
	c->pending++;
	return 0;
}

int boot_cache_wait(struct boot_cache *c, const uint8_t mac[6], struct boot_wait *w)
{
	struct cache_entry *e = cache_find(c, mac);

	if (!e || !e->pending)
		return -ENOENT;
	if (e->n_waiters >= c->max_waiters)
		return -EBUSY;
	w->next = NULL;
	if (e->last_waiter)
		e->last_waiter->next = w;
	else
		e->waiters = w;
	e->last_waiter = w;
	e->n_waiters++;
	return 0;
}

void boot_cache_cancel(struct boot_cache *c, const uint8_t mac[6], struct boot_wait *w)
{
	struct cache_entry *e = cache_find(c, mac);
	struct boot_wait *prev = NULL;

	if (!e || !e->pending)
		return;
	for (struct boot_wait *x = e->waiters; x; prev = x, x = x->next) {
		if (x != w)
			continue;
		if (prev)
			prev->next = x->next;
		else
			e->waiters = x->next;
		if (e->last_waiter == x)
			e->last_waiter = prev;
		e->n_waiters--;
		x->next = NULL;
		return;
	}
}

struct boot_wait *boot_cache_finish(struct boot_cache *c, const uint8_t mac[6], const struct boot_config *answer,
				    bool *ret_kept)
{
	struct cache_entry *e = cache_find(c, mac);
	bool kept = false;

	if (ret_kept)
		*ret_kept = false;
	if (!e || !e->pending)
		return NULL;
	struct boot_wait *waiters = e->waiters;
	c->pending--;
	if (!answer || e->gen != c->gen || e->forgotten) {
		cache_unhash(c, e);
		free(e);
	} else {
		e->pending = false;
		e->waiters = e->last_waiter = NULL;
		e->n_waiters = 0;
		config_copy(&e->answer, answer);
		memcpy(e->answer.mac, mac, 6);
		e->answer.has_mac = true;
		lru_push_front(c, e);
		c->count++;
		kept = true;
		while (c->count > c->capacity)
			cache_drop_answer(c, c->lru_tail);
	}
	if (ret_kept)
		*ret_kept = kept;
	return waiters;
}

void boot_cache_expire(struct boot_cache *c)
{
	while (c->lru_head)
		cache_drop_answer(c, c->lru_head);
	c->gen++;
}

bool boot_cache_forget(struct boot_cache *c, const uint8_t mac[6])
{
	struct cache_entry *e = cache_find(c, mac);

	if (!e)
		return false;
	if (e->pending) {
		e->forgotten = true;
		return false;
	}
	cache_drop_answer(c, e);
	return true;
}

size_t boot_cache_count(const struct boot_cache *c)
{
	return c->count;
}

size_t boot_cache_pending(const struct boot_cache *c)
{
	return c->pending;
}
