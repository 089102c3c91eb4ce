/* Private to rack/dhcp/leases*.c: the store's in-memory structures. */
#pragma once

#include "rack/dhcp/leases.h"

#include <limits.h>

struct lease_node {
	struct lease l;
	/* The durable record an OFFER replaced in memory (NULL if none); put
	 * back when the offer times out, dropped when the offer is ACKed. */
	struct lease *shadow;
	struct lease_node *next_addr, *next_cid, *next_hw; /* hash chains */
	size_t idx;					   /* position in nodes[] */
};

/* Sparse bitmap: one 64-bit word per 64 addresses ever touched; open
 * addressing on (addr >> 6) + 1 (0 = empty slot). Words are never removed;
 * an all-zero word reads like a missing one. */
struct addr_bitmap {
	uint32_t *keys;
	uint64_t *words;
	size_t cap, n;
};

struct lease_store {
	struct lease_store_config cfg;
	char *dir; /* NULL = in-memory */

	struct lease_node **nodes; /* every record, for iteration and eviction */
	size_t n, cap;
	struct lease_node **by_addr, **by_cid, **by_hw;
	size_t nbuckets; /* power of two */
	uint64_t seed;
	struct addr_bitmap taken, peer; /* peer: free addresses the HA peer owns */

	int fd;			/* journal; -1 in memory */
	uint64_t journal_bytes; /* where its records end and the next batch goes */
	uint64_t journal_size;	/* the file's size: zeros from journal_bytes on */
	uint8_t *batch;		/* staged records not yet handed to a flush */
	size_t batch_len, batch_cap;
	uint64_t seq;	  /* last seq assigned */
	uint64_t durable; /* last seq on disk */
	bool flushing;	  /* a struct lease_flush is out */
	/* The last snapshot's buffer, kept for the next: a fresh one of many
	 * MiB costs the loop more in page faults than the snapshot's encoding
	 * (tests/bench/lease_store.c). */
	uint8_t *snap_spare;
	size_t snap_spare_cap;
	bool poisoned;
	lease_store_observer_fn observer;
	void *observer_arg;
};

#define SNAP_NAME    "leases.snap"
#define JOURNAL_NAME "leases.journal"

/* leases.c, for leases_compact.c */
int lstore_path(const struct lease_store *s, const char *name, char buf[PATH_MAX]);

void lease_index_init(struct lease_store *s);
void lease_index_done(struct lease_store *s);
struct lease_node *lease_index_find(const struct lease_store *s, uint32_t addr);
/* Insert a new node (l->addr not present). */
void lease_index_insert(struct lease_store *s, struct lease_node *node);
/* Unlink and free a node (and its shadow). */
void lease_index_delete(struct lease_store *s, struct lease_node *node);
/* Replace node->l with *l (same address), re-keying the client indexes. */
void lease_index_replace(struct lease_store *s, struct lease_node *node, const struct lease *l);
/* Make room in the taken/peer bitmaps for addr. */
void lease_index_reserve(struct lease_store *s, uint32_t addr);
/* Walk a client chain. */
struct lease_node *lease_index_client_chain(const struct lease_store *s, const uint8_t *id, size_t len);
struct lease_node *lease_index_hw_chain(const struct lease_store *s, uint8_t htype, uint8_t hlen,
					const uint8_t *chaddr);
bool lease_has_client_id(const struct lease *l, const uint8_t *id, size_t len);
bool lease_has_hw(const struct lease *l, uint8_t htype, uint8_t hlen, const uint8_t *chaddr);

bool addr_bitmap_get(const struct addr_bitmap *b, uint32_t addr);
/* The word for addr must exist (lease_index_reserve) when v is true. */
void addr_bitmap_put(struct addr_bitmap *b, uint32_t addr, bool v);
void addr_bitmap_reserve(struct addr_bitmap *b, uint32_t addr);
void addr_bitmap_done(struct addr_bitmap *b);
/* Lowest a in [first, last] with neither bit in a set nor (invert ? !bit in
 * b : bit in b). -ENOSPC if none. */
int addr_bitmap_first_clear(const struct addr_bitmap *a, const struct addr_bitmap *b, bool invert_b, uint32_t first,
			    uint32_t last, uint32_t *ret);

static inline bool lease_state_taken(uint8_t st)
{
	return st == LEASE_OFFERED || st == LEASE_ACTIVE || st == LEASE_DECLINED || st == LEASE_RESERVED;
}
