/* Private to rack/dhcp/leases*.c: the store's in-memory structures. */
#pragma once

#include "rack/dhcp/leases.h"

#include <limits.h>

struct lnode {
	struct lease l;
	/* The durable record an OFFER replaced in memory (NULL if none); put
	 * back when the offer times out, dropped when the offer is ACKed. */
	struct lease *shadow;
	struct lnode *next_addr, *next_cid, *next_hw; /* hash chains */
	size_t idx;                                     /* position in nodes[] */
};

/* Sparse bitmap: one 64-bit word per 64 addresses ever touched; open
 * addressing on (addr >> 6) + 1 (0 = empty slot). Words are never removed;
 * an all-zero word reads like a missing one. */
struct lbitset {
	uint32_t *keys;
	uint64_t *words;
	size_t cap, n;
};

struct lease_store {
	struct lease_store_config cfg;
	char *dir; /* NULL = in-memory */

	struct lnode **nodes; /* every record, for iteration and eviction */
	size_t n, cap;
	struct lnode **by_addr, **by_cid, **by_hw;
	size_t nbuckets; /* power of two */
	uint64_t seed;
	struct lbitset taken, peer; /* peer: free addresses the HA peer owns */

	int fd;            /* journal, O_APPEND; -1 in memory */
	uint64_t journal_bytes;
	uint8_t *batch;    /* staged records not yet handed to a flush */
	size_t batch_len, batch_cap;
	uint64_t seq;      /* last seq assigned */
	uint64_t durable;  /* last seq on disk */
	bool flushing;     /* a struct lease_flush is out */
	bool poisoned;
};

#define SNAP_NAME "leases.snap"
#define JOURNAL_NAME "leases.journal"

/* leases.c, for leases_compact.c */
int lstore_path(const struct lease_store *s, const char *name, char buf[PATH_MAX]);
int lstore_fresh_journal(struct lease_store *s, uint64_t base);

int lidx_init(struct lease_store *s);
void lidx_done(struct lease_store *s);
struct lnode *lidx_find(const struct lease_store *s, uint32_t addr);
/* Insert a new node (l->addr not present). -ENOMEM leaves s unchanged. */
int lidx_insert(struct lease_store *s, struct lnode *node);
/* Unlink and free a node (and its shadow). */
void lidx_delete(struct lease_store *s, struct lnode *node);
/* Replace node->l with *l (same address), re-keying the client indexes. */
void lidx_replace(struct lease_store *s, struct lnode *node, const struct lease *l);
/* Make room in the taken/peer bitmaps for addr; -ENOMEM. */
int lidx_reserve(struct lease_store *s, uint32_t addr);
/* Walk a client chain. */
struct lnode *lidx_cid_head(const struct lease_store *s, const uint8_t *id, size_t len);
struct lnode *lidx_hw_head(const struct lease_store *s, uint8_t htype, uint8_t hlen, const uint8_t *chaddr);
bool lidx_same_cid(const struct lease *l, const uint8_t *id, size_t len);
bool lidx_same_hw(const struct lease *l, uint8_t htype, uint8_t hlen, const uint8_t *chaddr);

bool lbitset_get(const struct lbitset *b, uint32_t addr);
/* The word for addr must exist (lidx_reserve) when v is true. */
void lbitset_put(struct lbitset *b, uint32_t addr, bool v);
int lbitset_reserve(struct lbitset *b, uint32_t addr);
void lbitset_done(struct lbitset *b);
/* Lowest a in [first, last] with neither bit in a set nor (invert ? !bit in
 * b : bit in b). -ENOSPC if none. */
int lbitset_first_clear(const struct lbitset *a, const struct lbitset *b, bool invert_b, uint32_t first,
			uint32_t last, uint32_t *ret);

static inline bool lease_state_taken(uint8_t st)
{
	return st == LEASE_OFFERED || st == LEASE_ACTIVE || st == LEASE_DECLINED || st == LEASE_RESERVED;
}
