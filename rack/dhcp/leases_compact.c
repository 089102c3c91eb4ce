/* Lease store compaction: a snapshot of every durable record, then a fresh
 * journal. The snapshot is built here, on the store's thread; its writes
 * ride on a flush (leases_flush.c, the commit thread). */
#include "rack/dhcp/leases_internal.h"

#include "common/util.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void buf_rec(struct buf *b, struct lease_rec *r)
{
	if (b->len + LEASE_REC_MAX > b->cap) {
		b->cap = b->cap ? b->cap * 2 : 65536;
		b->p = xrealloc(b->p, b->cap);
	}
	b->len += lease_rec_encode(r, b->p + b->len);
}

/* Header, every durable record with its own seq (what replay compares),
 * then the peer-owned free pool as runs. */
static void snapshot_build(const struct lease_store *s, struct buf *b, size_t *ret_leases)
{
	struct lease_rec r = {.type = LEASE_REC_POOL, .seq = 1};

	buf_rec(b, &r); /* room for the header */
	b->len = LEASE_FILE_HEADER_LEN;
	lease_file_header_encode(b->p, LEASE_FILE_SNAPSHOT, s->seq);
	for (size_t i = 0; i < s->n; i++) {
		const struct lease_node *n = s->nodes[i];
		const struct lease *l = n->l.state == LEASE_OFFERED ? n->shadow : &n->l;
		if (!l)
			continue;
		r = (struct lease_rec){.type = LEASE_REC_PUT, .seq = l->seq, .lease = *l};
		buf_rec(b, &r);
		(*ret_leases)++;
	}
	for (size_t i = 0; i < s->peer.cap; i++) {
		uint64_t w = s->peer.words[i];
		uint32_t base = (s->peer.keys[i] - 1) << 6;
		while (s->peer.keys[i] && w) {
			unsigned lo = (unsigned)__builtin_ctzll(w);
			unsigned hi = lo;
			while (hi + 1 < 64 && (w >> (hi + 1)) & 1)
				hi++;
			r = (struct lease_rec){.type = LEASE_REC_POOL,
					       .seq = s->seq,
					       .first = base + lo,
					       .last = base + hi,
					       .owner = LEASE_OWNER_PEER};
			buf_rec(b, &r);
			w &= hi == 63 ? 0 : ~0ULL << (hi + 1);
		}
	}
}

int lease_store_flush_begin_compact(struct lease_store *s, struct lease_flush *ret)
{
	struct buf b = {0};
	int r = lease_store_flush_begin(s, ret);

	if (r < 0 || !s->dir)
		return r;
	if (r == 0) { /* nothing staged: the flush is only the compaction */
		ret->fd = s->fd;
		ret->off = s->journal_bytes;
		ret->size = s->journal_size;
		ret->seq = s->seq;
		s->flushing = true;
	}
	b.p = s->snap_spare; /* the last one's buffer, its pages already mapped */
	b.cap = s->snap_spare_cap;
	s->snap_spare = NULL;
	s->snap_spare_cap = 0;
	snapshot_build(s, &b, &ret->snap_records);
	ret->snap = b.p;
	ret->snap_len = b.len;
	ret->snap_cap = b.cap;
	ret->dir = xstrdup(s->dir);
	ret->journal_was = s->journal_bytes + ret->len;
	return 1;
}

int lease_store_compact(struct lease_store *s)
{
	struct lease_flush f;

	if (s->poisoned)
		return -EIO;
	if (s->flushing || s->batch_len)
		return -EBUSY;
	if (!s->dir)
		return 0;
	int r = lease_store_flush_begin_compact(s, &f);
	if (r <= 0)
		return r;
	lease_flush_run(&f);
	r = lease_store_flush_done(s, &f);
	return r < 0 ? r : f.compact_result;
}
