/* The durable lease store: staging, group commit, replay, reclaim,
 * compaction. Format in leases_file.c, indexes in leases_index.c; the
 * contract is in leases.h. */
#include "rack/dhcp/leases_internal.h"

#include "common/fsutil.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CORRUPT_NAME "leases.journal.corrupt"
#define FILE_MAX     (1u << 30)

/* ---- batch ---- */

static void batch_reserve(struct lease_store *s, size_t more)
{
	if (s->batch_len + more <= s->batch_cap)
		return;
	size_t cap = s->batch_cap ? s->batch_cap : 16384;
	while (cap < s->batch_len + more)
		cap *= 2;
	s->batch = xrealloc(s->batch, cap);
	s->batch_cap = cap;
}

/* Space must have been reserved (LEASE_REC_MAX). Assigns r->seq. */
static uint64_t batch_put(struct lease_store *s, struct lease_rec *r)
{
	r->seq = ++s->seq;
	if (r->type == LEASE_REC_PUT)
		r->lease.seq = r->seq;
	s->batch_len += lease_rec_encode(r, s->batch + s->batch_len);
	return r->seq;
}

/* ---- applying records (replay and live) ---- */

static struct lease_node *node_new(const struct lease *l)
{
	struct lease_node *n = xcalloc(1, sizeof(*n));
	n->l = *l;
	return n;
}

static int apply_put(struct lease_store *s, const struct lease *l)
{
	struct lease_node *n = lease_index_find(s, l->addr);
	if (n) {
		free(n->shadow);
		n->shadow = NULL;
		lease_index_replace(s, n, l);
		return 0;
	}
	lease_index_insert(s, node_new(l));
	return 0;
}

static int apply_pool(struct lease_store *s, uint32_t first, uint32_t last, uint8_t owner)
{
	for (uint64_t a = first; a <= last; a++) {
		if (owner == LEASE_OWNER_PEER && (a == first || (a & 63) == 0))
			addr_bitmap_reserve(&s->peer, (uint32_t)a);
		addr_bitmap_put(&s->peer, (uint32_t)a, owner == LEASE_OWNER_PEER);
	}
	return 0;
}

struct replay {
	struct lease_store *s;
	uint64_t skip_upto; /* journal records already in the snapshot */
	uint64_t applied, skipped;
};

static int replay_rec(const struct lease_rec *r, void *userdata)
{
	struct replay *rp = userdata;
	struct lease_store *s = rp->s;

	if (r->seq <= rp->skip_upto) {
		rp->skipped++;
		return 0;
	}
	int ret = 0;
	switch (r->type) {
	case LEASE_REC_PUT:
		ret = apply_put(s, &r->lease);
		break;
	case LEASE_REC_REMOVE: {
		struct lease_node *n = lease_index_find(s, r->lease.addr);
		if (n)
			lease_index_delete(s, n);
		break;
	}
	case LEASE_REC_POOL:
		ret = apply_pool(s, r->first, r->last, r->owner);
		break;
	}
	if (ret < 0)
		return ret;
	if (r->seq > s->seq)
		s->seq = r->seq;
	rp->applied++;
	return 0;
}

/* ---- open ---- */

int lstore_path(const struct lease_store *s, const char *name, char buf[PATH_MAX])
{
	return fs_path_join(buf, PATH_MAX, s->dir, name);
}

/* An interrupted compaction leaves fs_write_atomic's "<name>.tmp.<pid>". */
static int remove_stale_tmp(struct lease_store *s, bool *ret_found)
{
	DIR *d = opendir(s->dir);
	if (!d)
		return -errno;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, SNAP_NAME ".tmp", strlen(SNAP_NAME ".tmp")) != 0 &&
		    strncmp(e->d_name, JOURNAL_NAME ".tmp", strlen(JOURNAL_NAME ".tmp")) != 0)
			continue;
		char p[PATH_MAX];
		if (lstore_path(s, e->d_name, p) == 0 && unlink(p) == 0)
			*ret_found = true;
	}
	closedir(d);
	return 0;
}

static int load_snapshot(struct lease_store *s, struct lease_replay_stats *st, uint64_t *ret_seq)
{
	char p[PATH_MAX];
	char *data;
	size_t len, good;
	bool corrupt;
	uint64_t base;
	struct replay rp = {.s = s};

	*ret_seq = 0;
	int r = lstore_path(s, SNAP_NAME, p);
	if (r < 0)
		return r;
	r = fs_read_all(p, FILE_MAX, &data, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	int64_t n =
	    lease_file_parse((uint8_t *)data, len, LEASE_FILE_SNAPSHOT, replay_rec, &rp, &good, &base, &corrupt);
	free(data);
	if (n < 0)
		return (int)n;
	if (good != len)
		return -EBADMSG; /* written with fsync + rename: damage, not a crash */
	st->snapshot_records = (uint64_t)n;
	if (base > s->seq)
		s->seq = base;
	*ret_seq = base;
	return 0;
}

static int fresh_journal(struct lease_store *s, uint64_t base)
{
	char p[PATH_MAX];
	uint8_t hdr[LEASE_FILE_HEADER_LEN];
	int r = lstore_path(s, JOURNAL_NAME, p);
	if (r < 0)
		return r;
	lease_file_header_encode(hdr, LEASE_FILE_JOURNAL, base);
	return fs_write_atomic(p, hdr, sizeof(hdr), 0600);
}

static int truncate_journal(const char *p, size_t good)
{
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = 0;
	if (ftruncate(fd, (off_t)good) < 0 || fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int load_journal(struct lease_store *s, uint64_t snap_seq, struct lease_replay_stats *st)
{
	char p[PATH_MAX], cp[PATH_MAX];
	char *data;
	size_t len, good;
	bool corrupt;
	uint64_t base;
	struct replay rp = {.s = s, .skip_upto = snap_seq};

	int r = lstore_path(s, JOURNAL_NAME, p);
	if (r < 0)
		return r;
	r = fs_read_all(p, FILE_MAX, &data, &len);
	if (r == -ENOENT && s->cfg.read_only)
		return 0;
	if (r == -ENOENT) {
		r = fresh_journal(s, snap_seq);
		s->journal_bytes = LEASE_FILE_HEADER_LEN;
		return r;
	}
	if (r < 0)
		return r;
	int64_t n = lease_file_parse((uint8_t *)data, len, LEASE_FILE_JOURNAL, replay_rec, &rp, &good, &base, &corrupt);
	/* A journal that starts after the snapshot ends means changes are
	 * missing (snapshot deleted or replaced by an older one). */
	if (n >= 0 && base > snap_seq)
		n = -EBADMSG;
	/* Read only, a torn tail may be a write in flight: left as it is. The
	 * zeros at the end are the journal's grown tail, not a loss: cut with
	 * the rest, not counted (the first commit grows the file again). */
	if (n >= 0 && good < len) {
		size_t end = len;
		while (end > good && data[end - 1] == 0)
			end--;
		st->truncated_bytes = end - good;
		st->corrupt = corrupt;
		if (corrupt && !s->cfg.read_only && lstore_path(s, CORRUPT_NAME, cp) == 0)
			n = fs_write_atomic(cp, data, len, 0600) < 0 ? -EIO : n;
		if (n >= 0 && !s->cfg.read_only && truncate_journal(p, good) < 0)
			n = -EIO;
	}
	free(data);
	if (n < 0)
		return (int)n;
	st->journal_records = rp.applied;
	st->journal_skipped = rp.skipped;
	s->journal_bytes = good;
	return 0;
}

static int open_files(struct lease_store *s, struct lease_replay_stats *st)
{
	char p[PATH_MAX];
	uint64_t snap_seq;

	if (s->cfg.read_only) {
		if (access(s->dir, R_OK | X_OK) < 0)
			return -errno;
		int r = load_snapshot(s, st, &snap_seq);
		return r < 0 ? r : load_journal(s, snap_seq, st);
	}
	int r = fs_mkdir_p(s->dir, 0700);
	if (r < 0)
		return r;
	r = remove_stale_tmp(s, &st->stale_tmp);
	if (r < 0)
		return r;
	r = load_snapshot(s, st, &snap_seq);
	if (r < 0)
		return r;
	r = load_journal(s, snap_seq, st);
	if (r < 0)
		return r;
	r = lstore_path(s, JOURNAL_NAME, p);
	if (r < 0)
		return r;
	s->fd = open(p, O_WRONLY | O_CLOEXEC);
	s->journal_size = s->journal_bytes; /* load_journal cut it there */
	return s->fd < 0 ? -errno : 0;
}

int lease_store_open(const struct lease_store_config *cfg, struct lease_store **ret,
		     struct lease_replay_stats *ret_stats)
{
	struct lease_replay_stats st = {0};
	struct lease_store *s = xcalloc(1, sizeof(*s));
	s->cfg = *cfg;
	s->cfg.dir = NULL;
	if (!s->cfg.max_leases)
		s->cfg.max_leases = 65536;
	if (!s->cfg.max_per_client)
		s->cfg.max_per_client = 4;
	if (s->cfg.reclaim_grace < 0)
		s->cfg.reclaim_grace = 0;
	s->fd = -1;
	lease_index_init(s);
	int r = 0;
	if (cfg->dir) {
		s->dir = xstrdup(cfg->dir);
		r = open_files(s, &st);
	}
	if (r < 0) {
		lease_store_free(s);
		return r;
	}
	s->durable = s->seq;
	st.seq = s->seq;
	if (ret_stats)
		*ret_stats = st;
	*ret = s;
	return 0;
}

void lease_store_free(struct lease_store *s)
{
	if (!s)
		return;
	lease_index_done(s);
	if (s->fd >= 0)
		close(s->fd);
	free(s->batch);
	free(s->snap_spare);
	free(s->dir);
	free(s);
}

/* ---- lookups ---- */

const struct lease *lease_store_find_addr(const struct lease_store *s, uint32_t addr)
{
	struct lease_node *n = lease_index_find(s, addr);
	return n ? &n->l : NULL;
}

/* Taken beats free; then the newest change. OFFERED (seq 0) is taken. */
static bool better(const struct lease *a, const struct lease *best)
{
	if (!best)
		return true;
	bool ta = lease_state_taken(a->state), tb = lease_state_taken(best->state);
	if (ta != tb)
		return ta;
	if (a->state == LEASE_OFFERED || best->state == LEASE_OFFERED)
		return a->state == LEASE_OFFERED && best->state != LEASE_OFFERED;
	return a->seq > best->seq;
}

const struct lease *lease_store_find_client_id(const struct lease_store *s, const uint8_t *id, size_t len,
					       uint32_t subnet_id)
{
	const struct lease *best = NULL;
	if (len == 0 || len > LEASE_CLIENT_ID_MAX)
		return NULL;
	for (struct lease_node *n = lease_index_client_chain(s, id, len); n; n = n->next_cid)
		if (lease_has_client_id(&n->l, id, len) && (!subnet_id || n->l.subnet_id == subnet_id) &&
		    better(&n->l, best))
			best = &n->l;
	return best;
}

const struct lease *lease_store_find_hwaddr(const struct lease_store *s, uint8_t htype, uint8_t hlen,
					    const uint8_t *chaddr, uint32_t subnet_id)
{
	const struct lease *best = NULL;
	if (hlen == 0 || hlen > LEASE_HWADDR_MAX)
		return NULL;
	for (struct lease_node *n = lease_index_hw_chain(s, htype, hlen, chaddr); n; n = n->next_hw)
		if (lease_has_hw(&n->l, htype, hlen, chaddr) && (!subnet_id || n->l.subnet_id == subnet_id) &&
		    better(&n->l, best))
			best = &n->l;
	return best;
}

bool lease_store_is_taken(const struct lease_store *s, uint32_t addr)
{
	return addr_bitmap_get(&s->taken, addr);
}

int lease_store_first_free(const struct lease_store *s, uint32_t first, uint32_t last, enum lease_owner owner,
			   uint32_t *ret_addr)
{
	return addr_bitmap_first_clear(&s->taken, &s->peer, owner == LEASE_OWNER_PEER, first, last, ret_addr);
}

enum lease_owner lease_store_pool_owner(const struct lease_store *s, uint32_t addr)
{
	return addr_bitmap_get(&s->peer, addr) ? LEASE_OWNER_PEER : LEASE_OWNER_LOCAL;
}

size_t lease_store_count(const struct lease_store *s)
{
	return s->n;
}

int lease_store_foreach(const struct lease_store *s, lease_store_foreach_fn cb, void *userdata)
{
	for (size_t i = 0; i < s->n; i++) {
		int r = cb(&s->nodes[i]->l, userdata);
		if (r)
			return r;
	}
	return 0;
}

/* ---- changes ---- */

static int validate(const struct lease *in, struct lease *out)
{
	if (in->addr == 0 || in->state < LEASE_OFFERED || in->state > LEASE_STATE_MAX || in->owner > LEASE_OWNER_PEER ||
	    in->conflict > LEASE_CONFLICT_ADMIN || in->hlen > LEASE_HWADDR_MAX ||
	    !memchr(in->hostname, '\0', LEASE_HOSTNAME_MAX))
		return -EINVAL;
	/* Normalise: bytes past the lengths are zero, so records compare and
	 * encode the same after a round trip. */
	memset(out, 0, sizeof(*out));
	*out = (struct lease){.addr = in->addr,
			      .state = in->state,
			      .owner = in->owner,
			      .conflict = in->conflict,
			      .htype = in->htype,
			      .hlen = in->hlen,
			      .client_id_len = in->client_id_len,
			      .start = in->start,
			      .expiry = in->expiry,
			      .subnet_id = in->subnet_id,
			      .range_id = in->range_id,
			      .acked_expiry = in->acked_expiry};
	memcpy(out->chaddr, in->chaddr, in->hlen);
	memcpy(out->client_id, in->client_id, in->client_id_len);
	strcpy(out->hostname, in->hostname);
	return 0;
}

/* Taken offered/active records of l's client in l's subnet, other than at
 * l->addr. Counted by hardware address whenever there is one, whatever the
 * client ids: with leases keyed by option 61 (match_client_id) a client
 * cycling made-up ids on one MAC still holds at most max_per_client; and
 * cloned systems sharing an id on different MACs are not each other's
 * quota. By client id only when there is no hardware address. */
static unsigned client_holds(const struct lease_store *s, const struct lease *l)
{
	unsigned k = 0;
	if (l->hlen) {
		for (struct lease_node *n = lease_index_hw_chain(s, l->htype, l->hlen, l->chaddr); n; n = n->next_hw)
			k += lease_has_hw(&n->l, l->htype, l->hlen, l->chaddr) && n->l.addr != l->addr &&
			     n->l.subnet_id == l->subnet_id &&
			     (n->l.state == LEASE_OFFERED || n->l.state == LEASE_ACTIVE);
	} else if (l->client_id_len) {
		for (struct lease_node *n = lease_index_client_chain(s, l->client_id, l->client_id_len); n;
		     n = n->next_cid)
			k += lease_has_client_id(&n->l, l->client_id, l->client_id_len) && n->l.addr != l->addr &&
			     n->l.subnet_id == l->subnet_id &&
			     (n->l.state == LEASE_OFFERED || n->l.state == LEASE_ACTIVE);
	}
	return k;
}

/* Journal the removal of a record (the caller reserved batch space). */
static void remove_durable(struct lease_store *s, struct lease_node *n)
{
	struct lease_rec r = {.type = LEASE_REC_REMOVE};
	r.lease.addr = n->l.addr;
	batch_put(s, &r);
	lease_index_delete(s, n);
}

/* Drop the oldest RELEASED/EXPIRED record to make room. O(n), only when full. */
static int evict_one(struct lease_store *s)
{
	struct lease_node *victim = NULL;
	for (size_t i = 0; i < s->n; i++) {
		struct lease_node *n = s->nodes[i];
		if ((n->l.state == LEASE_RELEASED || n->l.state == LEASE_EXPIRED) &&
		    (!victim || n->l.seq < victim->l.seq))
			victim = n;
	}
	if (!victim)
		return -ENOSPC;
	batch_reserve(s, LEASE_REC_MAX);
	remove_durable(s, victim);
	return 0;
}

/* An OFFER lives in memory only; the durable record it covers is kept
 * aside so an offer that times out does not lose it. */
static int stage_offer(struct lease_store *s, struct lease_node *n, struct lease *l)
{
	l->seq = 0;
	if (!n)
		return apply_put(s, l);
	if (!n->shadow && n->l.state != LEASE_OFFERED) {
		n->shadow = xmalloc(sizeof(*n->shadow));
		*n->shadow = n->l;
	}
	struct lease *keep = n->shadow;
	n->shadow = NULL; /* lease_index_replace does not touch it; apply_put would free it */
	lease_index_replace(s, n, l);
	n->shadow = keep;
	return 0;
}

int64_t lease_store_stage(struct lease_store *s, const struct lease *in)
{
	struct lease l;
	int r;

	if (s->poisoned)
		return -EIO;
	if (validate(in, &l) < 0)
		return -EINVAL;
	struct lease_node *n = lease_index_find(s, l.addr);
	if ((l.state == LEASE_OFFERED || l.state == LEASE_ACTIVE) && client_holds(s, &l) >= s->cfg.max_per_client)
		return -EDQUOT;
	if (!n && s->n >= s->cfg.max_leases) {
		r = evict_one(s);
		if (r < 0)
			return r;
	}
	if (l.state == LEASE_OFFERED)
		return stage_offer(s, n, &l);
	batch_reserve(s, LEASE_REC_MAX);
	l.seq = s->seq + 1;
	if (n) {
		free(n->shadow);
		n->shadow = NULL;
		lease_index_replace(s, n, &l);
	} else {
		r = apply_put(s, &l);
		if (r < 0)
			return r;
	}
	struct lease_rec rec = {.type = LEASE_REC_PUT, .lease = l};
	int64_t seq = (int64_t)batch_put(s, &rec);
	if (s->observer)
		s->observer(s->observer_arg, &l);
	return seq;
}

void lease_store_set_acked(struct lease_store *s, uint32_t addr, int64_t expiry)
{
	struct lease_node *n = lease_index_find(s, addr);
	if (n && n->l.state != LEASE_OFFERED && expiry > n->l.acked_expiry)
		n->l.acked_expiry = expiry;
}

void lease_store_set_observer(struct lease_store *s, lease_store_observer_fn fn, void *arg)
{
	s->observer = fn;
	s->observer_arg = arg;
}

int64_t lease_store_remove(struct lease_store *s, uint32_t addr)
{
	if (s->poisoned)
		return -EIO;
	struct lease_node *n = lease_index_find(s, addr);
	if (!n)
		return -ENOENT;
	if (n->l.state == LEASE_OFFERED && !n->shadow) {
		lease_index_delete(s, n);
		return 0;
	}
	batch_reserve(s, LEASE_REC_MAX);
	remove_durable(s, n);
	return (int64_t)s->seq;
}

int64_t lease_store_pool_set_owner(struct lease_store *s, uint32_t first, uint32_t last, enum lease_owner owner)
{
	if (s->poisoned)
		return -EIO;
	if (first > last || last - first >= LEASE_POOL_SPAN_MAX || (unsigned)owner > LEASE_OWNER_PEER)
		return -EINVAL;
	batch_reserve(s, LEASE_REC_MAX);
	int r = apply_pool(s, first, last, (uint8_t)owner);
	if (r < 0)
		return r;
	struct lease_rec rec = {.type = LEASE_REC_POOL, .first = first, .last = last, .owner = (uint8_t)owner};
	return (int64_t)batch_put(s, &rec);
}

/* ---- commit ---- */

uint64_t lease_store_durable_seq(const struct lease_store *s)
{
	return s->durable;
}

uint64_t lease_store_last_seq(const struct lease_store *s)
{
	return s->seq;
}

bool lease_store_has_pending(const struct lease_store *s)
{
	return s->batch_len > 0 || s->flushing;
}

uint64_t lease_store_journal_bytes(const struct lease_store *s)
{
	return s->journal_bytes;
}

int lease_store_flush_begin(struct lease_store *s, struct lease_flush *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->fd = -1;
	ret->new_fd = -1;
	if (s->poisoned)
		return -EIO;
	if (s->flushing)
		return -EBUSY;
	if (s->batch_len == 0)
		return 0;
	ret->fd = s->fd;
	ret->off = s->journal_bytes;
	ret->size = s->journal_size;
	ret->buf = s->batch;
	ret->len = s->batch_len;
	ret->seq = s->seq;
	s->batch = NULL;
	s->batch_len = s->batch_cap = 0;
	s->flushing = true;
	return 1;
}

int lease_store_flush_done(struct lease_store *s, struct lease_flush *f)
{
	int r = f->result;

	s->flushing = false;
	if (f->result < 0)
		s->poisoned = true;
	else {
		s->durable = f->seq;
		if (s->fd >= 0) {
			s->journal_bytes += f->len;
			s->journal_size = f->size;
		}
	}
	if (f->new_fd >= 0) { /* a compaction's fresh journal */
		close(s->fd);
		s->fd = f->new_fd;
		f->new_fd = -1;
		s->journal_bytes = s->journal_size = LEASE_FILE_HEADER_LEN;
	} else if (f->compact_poison) {
		/* The old fd points at the replaced inode: appending there would
		 * lose changes. Nothing can be written until a reopen. */
		s->poisoned = true;
		if (r == 0)
			r = -EIO;
	}
	free(f->buf);
	f->buf = NULL;
	if (f->snap && !s->snap_spare) { /* the next compaction's buffer */
		s->snap_spare = f->snap;
		s->snap_spare_cap = f->snap_cap;
	} else {
		free(f->snap);
	}
	f->snap = NULL;
	free(f->dir);
	f->dir = NULL;
	return r;
}

int lease_store_commit(struct lease_store *s)
{
	struct lease_flush f;
	int r = lease_store_flush_begin(s, &f);
	if (r <= 0)
		return r;
	lease_flush_run(&f);
	return lease_store_flush_done(s, &f);
}

/* ---- reclaim ---- */

int lease_store_reclaim(struct lease_store *s, int64_t now, struct lease *ret, size_t max)
{
	size_t k = 0;
	if (s->poisoned)
		return -EIO;
	for (size_t i = 0; i < s->n && k < max;) {
		struct lease_node *n = s->nodes[i];
		struct lease l = n->l;
		bool due = (l.state == LEASE_ACTIVE && l.expiry <= now - s->cfg.reclaim_grace) ||
			   ((l.state == LEASE_DECLINED || l.state == LEASE_OFFERED) && l.expiry <= now);
		if (!due) {
			i++;
			continue;
		}
		ret[k++] = l;
		if (l.state == LEASE_OFFERED) {
			if (n->shadow) {
				struct lease old = *n->shadow;
				free(n->shadow);
				n->shadow = NULL;
				lease_index_replace(s, n, &old);
				i++;
			} else {
				lease_index_delete(s, n); /* nodes[i] is now another node */
			}
			continue;
		}
		batch_reserve(s, LEASE_REC_MAX);
		l.state = LEASE_EXPIRED;
		l.conflict = LEASE_CONFLICT_NONE;
		l.seq = s->seq + 1;
		lease_index_replace(s, n, &l);
		struct lease_rec rec = {.type = LEASE_REC_PUT, .lease = l};
		batch_put(s, &rec);
		if (s->observer)
			s->observer(s->observer_arg, &l);
		i++;
	}
	return (int)k;
}
