/* Lease store compaction: a snapshot of every durable record, then a fresh
 * journal. Why each step is crash-safe is in leases.h (seq comparison). */
#include "rack/dhcp/leases_internal.h"

#include "common/fsutil.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

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
static void snapshot_build(const struct lease_store *s, struct buf *b)
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

int lease_store_compact(struct lease_store *s)
{
	char p[PATH_MAX];
	struct buf b = {0};

	if (s->poisoned)
		return -EIO;
	if (s->flushing || s->batch_len)
		return -EBUSY;
	if (!s->dir)
		return 0;
	snapshot_build(s, &b);
	int r = lstore_path(s, SNAP_NAME, p);
	if (r == 0)
		r = fs_write_atomic(p, b.p, b.len, 0600);
	free(b.p);
	if (r < 0)
		return r;
	/* The snapshot (seq = s->seq) is in place. From here a crash, or a
	 * failure below, leaves the old journal: its records are all <= s->seq
	 * and are skipped at replay, and appending to it stays correct. */
	r = lstore_fresh_journal(s, s->seq);
	if (r == 0)
		r = lstore_path(s, JOURNAL_NAME, p);
	if (r < 0)
		return r;
	int fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0) {
		/* The old fd points at the replaced inode: appending there would
		 * lose changes. Nothing can be written until a reopen. */
		r = -errno;
		s->poisoned = true;
		return r;
	}
	close(s->fd);
	s->fd = fd;
	s->journal_bytes = LEASE_FILE_HEADER_LEN;
	return 0;
}
