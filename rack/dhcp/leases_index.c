/* In-memory indexes of the lease store: hash chains by address, client id
 * and hardware address, and the sparse "taken" / "peer-owned" bitmaps. */
#include "common/util.h"
#include "rack/dhcp/leases_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define INITIAL_BUCKETS 256

/* ---- hashing: seeded so a client cannot aim its ids at one chain ---- */

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static uint64_t hash_bytes(uint64_t seed, uint8_t tag, const uint8_t *p, size_t len)
{
	uint64_t h = seed ^ 0xcbf29ce484222325ULL ^ tag;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return mix(h ^ len);
}

static size_t addr_bucket(const struct lease_store *s, uint32_t addr)
{
	return (size_t)(mix(s->seed ^ addr) & (s->nbuckets - 1));
}

static size_t cid_bucket(const struct lease_store *s, const uint8_t *id, size_t len)
{
	return (size_t)(hash_bytes(s->seed, 0, id, len) & (s->nbuckets - 1));
}

static size_t hw_bucket(const struct lease_store *s, uint8_t htype, uint8_t hlen, const uint8_t *chaddr)
{
	return (size_t)(hash_bytes(s->seed, htype, chaddr, hlen) & (s->nbuckets - 1));
}

bool lease_has_client_id(const struct lease *l, const uint8_t *id, size_t len)
{
	return l->client_id_len == len && len > 0 && memcmp(l->client_id, id, len) == 0;
}

bool lease_has_hw(const struct lease *l, uint8_t htype, uint8_t hlen, const uint8_t *chaddr)
{
	return l->hlen == hlen && hlen > 0 && l->htype == htype && memcmp(l->chaddr, chaddr, hlen) == 0;
}

/* ---- chains ---- */

static void link_keys(struct lease_store *s, struct lease_node *n)
{
	const struct lease *l = &n->l;
	if (l->client_id_len) {
		size_t b = cid_bucket(s, l->client_id, l->client_id_len);
		n->next_cid = s->by_cid[b];
		s->by_cid[b] = n;
	}
	if (l->hlen) {
		size_t b = hw_bucket(s, l->htype, l->hlen, l->chaddr);
		n->next_hw = s->by_hw[b];
		s->by_hw[b] = n;
	}
}

static void unlink_keys(struct lease_store *s, struct lease_node *n)
{
	const struct lease *l = &n->l;
	if (l->client_id_len) {
		struct lease_node **pp = &s->by_cid[cid_bucket(s, l->client_id, l->client_id_len)];
		while (*pp != n)
			pp = &(*pp)->next_cid;
		*pp = n->next_cid;
	}
	if (l->hlen) {
		struct lease_node **pp = &s->by_hw[hw_bucket(s, l->htype, l->hlen, l->chaddr)];
		while (*pp != n)
			pp = &(*pp)->next_hw;
		*pp = n->next_hw;
	}
	n->next_cid = n->next_hw = NULL;
}

static void link_all(struct lease_store *s, struct lease_node *n)
{
	size_t b = addr_bucket(s, n->l.addr);
	n->next_addr = s->by_addr[b];
	s->by_addr[b] = n;
	link_keys(s, n);
}

static void rehash(struct lease_store *s, size_t nb)
{
	struct lease_node **a = xcalloc(nb, sizeof(*a)), **c = xcalloc(nb, sizeof(*c)), **h = xcalloc(nb, sizeof(*h));
	free(s->by_addr);
	free(s->by_cid);
	free(s->by_hw);
	s->by_addr = a;
	s->by_cid = c;
	s->by_hw = h;
	s->nbuckets = nb;
	for (size_t i = 0; i < s->n; i++)
		link_all(s, s->nodes[i]);
}

void lease_index_init(struct lease_store *s)
{
	if (getrandom(&s->seed, sizeof(s->seed), GRND_NONBLOCK) != sizeof(s->seed))
		s->seed = (uint64_t)(uintptr_t)s ^ 0x9e3779b97f4a7c15ULL;
	rehash(s, INITIAL_BUCKETS);
}

void lease_index_done(struct lease_store *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->nodes[i]->shadow);
		free(s->nodes[i]);
	}
	free(s->nodes);
	free(s->by_addr);
	free(s->by_cid);
	free(s->by_hw);
	addr_bitmap_done(&s->taken);
	addr_bitmap_done(&s->peer);
}

struct lease_node *lease_index_find(const struct lease_store *s, uint32_t addr)
{
	for (struct lease_node *n = s->by_addr[addr_bucket(s, addr)]; n; n = n->next_addr)
		if (n->l.addr == addr)
			return n;
	return NULL;
}

struct lease_node *lease_index_client_chain(const struct lease_store *s, const uint8_t *id, size_t len)
{
	return s->by_cid[cid_bucket(s, id, len)];
}

struct lease_node *lease_index_hw_chain(const struct lease_store *s, uint8_t htype, uint8_t hlen, const uint8_t *chaddr)
{
	return s->by_hw[hw_bucket(s, htype, hlen, chaddr)];
}

void lease_index_reserve(struct lease_store *s, uint32_t addr)
{
	addr_bitmap_reserve(&s->taken, addr);
	addr_bitmap_reserve(&s->peer, addr);
}

void lease_index_insert(struct lease_store *s, struct lease_node *node)
{
	lease_index_reserve(s, node->l.addr);
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->nodes = xreallocarray(s->nodes, s->cap, sizeof(*s->nodes));
	}
	if (s->n + 1 > s->nbuckets)
		rehash(s, s->nbuckets * 2);
	node->idx = s->n;
	s->nodes[s->n++] = node;
	link_all(s, node);
	addr_bitmap_put(&s->taken, node->l.addr, lease_state_taken(node->l.state));
}

void lease_index_delete(struct lease_store *s, struct lease_node *node)
{
	struct lease_node **pp = &s->by_addr[addr_bucket(s, node->l.addr)];
	while (*pp != node)
		pp = &(*pp)->next_addr;
	*pp = node->next_addr;
	unlink_keys(s, node);
	addr_bitmap_put(&s->taken, node->l.addr, false);
	struct lease_node *last = s->nodes[--s->n];
	s->nodes[node->idx] = last;
	last->idx = node->idx;
	free(node->shadow);
	free(node);
}

void lease_index_replace(struct lease_store *s, struct lease_node *node, const struct lease *l)
{
	unlink_keys(s, node);
	node->l = *l;
	link_keys(s, node);
	addr_bitmap_put(&s->taken, l->addr, lease_state_taken(l->state));
}

/* ---- sparse bitmap ---- */

static size_t slot_of(const struct addr_bitmap *b, uint32_t key)
{
	size_t i = (size_t)(mix(key) & (b->cap - 1));
	while (b->keys[i] && b->keys[i] != key)
		i = (i + 1) & (b->cap - 1);
	return i;
}

static uint64_t word_get(const struct addr_bitmap *b, uint32_t wi)
{
	if (!b->cap)
		return 0;
	size_t i = slot_of(b, wi + 1);
	return b->keys[i] ? b->words[i] : 0;
}

void addr_bitmap_done(struct addr_bitmap *b)
{
	free(b->keys);
	free(b->words);
	memset(b, 0, sizeof(*b));
}

void addr_bitmap_reserve(struct addr_bitmap *b, uint32_t addr)
{
	uint32_t key = (addr >> 6) + 1;
	if (b->cap && b->keys[slot_of(b, key)] == key)
		return;
	if ((b->n + 1) * 2 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct addr_bitmap nb = {xcalloc(cap, sizeof(uint32_t)), xcalloc(cap, sizeof(uint64_t)), cap, b->n};
		for (size_t i = 0; i < b->cap; i++) {
			if (!b->keys[i])
				continue;
			size_t j = slot_of(&nb, b->keys[i]);
			nb.keys[j] = b->keys[i];
			nb.words[j] = b->words[i];
		}
		addr_bitmap_done(b);
		*b = nb;
	}
	size_t i = slot_of(b, key);
	b->keys[i] = key;
	b->words[i] = 0;
	b->n++;
}

bool addr_bitmap_get(const struct addr_bitmap *b, uint32_t addr)
{
	return (word_get(b, addr >> 6) >> (addr & 63)) & 1;
}

void addr_bitmap_put(struct addr_bitmap *b, uint32_t addr, bool v)
{
	if (!b->cap)
		return; /* nothing set yet: clearing is a no-op */
	size_t i = slot_of(b, (addr >> 6) + 1);
	if (!b->keys[i])
		return; /* callers reserve before setting; a missing word reads as 0 */
	if (v)
		b->words[i] |= 1ULL << (addr & 63);
	else
		b->words[i] &= ~(1ULL << (addr & 63));
}

int addr_bitmap_first_clear(const struct addr_bitmap *a, const struct addr_bitmap *b, bool invert_b, uint32_t first,
			    uint32_t last, uint32_t *ret)
{
	if (first > last)
		return -ENOSPC;
	for (uint64_t w = first >> 6; w <= (uint64_t)(last >> 6); w++) {
		uint64_t busy = word_get(a, (uint32_t)w);
		uint64_t pb = word_get(b, (uint32_t)w);
		busy |= invert_b ? ~pb : pb;
		uint64_t mask = ~0ULL;
		if (w == first >> 6)
			mask &= ~0ULL << (first & 63);
		if (w == last >> 6 && (last & 63) != 63)
			mask &= (1ULL << ((last & 63) + 1)) - 1;
		uint64_t free_bits = ~busy & mask;
		if (free_bits) {
			*ret = (uint32_t)(w << 6) + (uint32_t)__builtin_ctzll(free_bits);
			return 0;
		}
	}
	return -ENOSPC;
}
