/* The lease store (rack/dhcp/leases): group commit, replay after a torn or
 * corrupt journal, compaction and its crash windows, reclaim, limits, the
 * free-address search and the HA pool split. Each test works in its own
 * temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "rack/dhcp/leases.h"

#define BASE 0x0a000000u /* 10.0.0.0 */
#define NOW  1700000000

struct fx {
	char dir[64];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/test_leases.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct lease mk(uint32_t i, uint8_t st)
{
	struct lease l = {.addr = BASE + i, .state = st, .htype = 1, .hlen = 6};
	l.chaddr[0] = 0x52;
	l.chaddr[4] = (uint8_t)(i >> 8);
	l.chaddr[5] = (uint8_t)i;
	if (i % 2) {
		l.client_id_len = 7;
		l.client_id[0] = 1;
		memcpy(l.client_id + 1, l.chaddr, 6);
	}
	snprintf(l.hostname, sizeof(l.hostname), "host-%u", i);
	l.start = NOW;
	l.expiry = NOW + 3600;
	l.subnet_id = 7;
	l.range_id = 3;
	return l;
}

static struct lease_store *open_ok(const char *dir, struct lease_replay_stats *st)
{
	struct lease_store_config cfg = {.dir = dir, .max_leases = 100000, .max_per_client = 4};
	struct lease_store *s = NULL;
	assert_int_equal(lease_store_open(&cfg, &s, st), 0);
	return s;
}

static void path(char *buf, const char *dir, const char *name)
{
	assert_int_equal(fs_path_join(buf, 256, dir, name), 0);
}

static size_t file_size(const char *dir, const char *name)
{
	char p[256];
	struct stat st;
	path(p, dir, name);
	assert_int_equal(stat(p, &st), 0);
	return (size_t)st.st_size;
}

static void read_file(const char *dir, const char *name, char **data, size_t *len)
{
	char p[256];
	path(p, dir, name);
	assert_int_equal(fs_read_all(p, 1 << 26, data, len), 0);
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char p[256];
	path(p, dir, name);
	FILE *fp = fopen(p, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
}

/* Same fields (seq aside: the caller checks seq where it matters). */
static void assert_lease_eq(const struct lease *a, const struct lease *b)
{
	struct lease x = *a, y = *b;
	x.seq = y.seq = 0;
	assert_memory_equal(&x, &y, sizeof(x));
}

/* ---- commit, reopen ---- */

static void test_commit_reopen(void **state)
{
	struct fx *f = *state;
	struct lease_replay_stats st;
	struct lease_store *s = open_ok(f->dir, &st);
	assert_int_equal(st.seq, 0);
	for (uint32_t i = 1; i <= 50; i++) {
		struct lease l = mk(i, i % 5 == 0 ? LEASE_RELEASED : LEASE_ACTIVE);
		assert_int_equal(lease_store_stage(s, &l), (int64_t)i);
	}
	assert_true(lease_store_has_pending(s));
	assert_int_equal(lease_store_durable_seq(s), 0);
	assert_int_equal(lease_store_commit(s), 0);
	assert_int_equal(lease_store_durable_seq(s), 50);
	assert_false(lease_store_has_pending(s));
	/* An OFFER is not journaled. */
	struct lease off = mk(60, LEASE_OFFERED);
	assert_int_equal(lease_store_stage(s, &off), 0);
	assert_false(lease_store_has_pending(s));
	lease_store_free(s);

	s = open_ok(f->dir, &st);
	assert_int_equal(st.journal_records, 50);
	assert_int_equal(st.truncated_bytes, 0);
	assert_int_equal(st.seq, 50);
	assert_int_equal(lease_store_count(s), 50);
	assert_null(lease_store_find_addr(s, BASE + 60));
	for (uint32_t i = 1; i <= 50; i++) {
		struct lease l = mk(i, i % 5 == 0 ? LEASE_RELEASED : LEASE_ACTIVE);
		const struct lease *g = lease_store_find_addr(s, BASE + i);
		assert_non_null(g);
		assert_lease_eq(g, &l);
		assert_int_equal(g->seq, i);
		assert_int_equal(lease_store_is_taken(s, BASE + i), i % 5 != 0);
	}
	/* Client lookups. */
	struct lease l3 = mk(3, LEASE_ACTIVE);
	const struct lease *g = lease_store_find_client_id(s, l3.client_id, l3.client_id_len, 7);
	assert_non_null(g);
	assert_int_equal(g->addr, BASE + 3);
	assert_null(lease_store_find_client_id(s, l3.client_id, l3.client_id_len, 8));
	struct lease l4 = mk(4, LEASE_ACTIVE);
	g = lease_store_find_hwaddr(s, 1, 6, l4.chaddr, 0);
	assert_non_null(g);
	assert_int_equal(g->addr, BASE + 4);
	/* New seqs continue after the replayed ones. */
	struct lease l = mk(51, LEASE_ACTIVE);
	assert_int_equal(lease_store_stage(s, &l), 51);
	lease_store_free(s);
}

/* ---- torn tail ---- */

static void test_torn_tail_every_offset(void **state)
{
	struct fx *f = *state;
	struct lease_store *s = open_ok(f->dir, NULL);
	for (uint32_t i = 1; i <= 5; i++) {
		struct lease l = mk(i, LEASE_ACTIVE);
		assert_true(lease_store_stage(s, &l) > 0);
		assert_int_equal(lease_store_commit(s), 0);
	}
	size_t good = lease_store_journal_bytes(s);
	struct lease last = mk(6, LEASE_ACTIVE);
	assert_true(lease_store_stage(s, &last) > 0);
	assert_int_equal(lease_store_commit(s), 0);
	size_t len = lease_store_journal_bytes(s);
	lease_store_free(s);

	/* The file runs ahead of its records, in zeros. */
	char *full;
	size_t size;
	read_file(f->dir, "leases.journal", &full, &size);
	assert_true(len > good);
	assert_int_equal(size, LEASE_JOURNAL_PREZERO);
	assert_true(lease_file_is_zero((const uint8_t *)full + len, size - len));
	/* Cut at every offset of the last record: in a short file (an append
	 * torn by a crash), then in a grown one (the record's first bytes
	 * before the zeros). Torn, never corrupt; only the bytes written count
	 * as cut; the journal takes and keeps new records where it left off. */
	char *torn = malloc(size);
	for (int grown = 0; grown <= 1; grown++) {
		for (size_t cut = good; cut <= len; cut++) {
			struct lease_replay_stats st;
			memcpy(torn, full, cut);
			memset(torn + cut, 0, size - cut);
			write_file(f->dir, "leases.journal", torn, grown ? size : cut);
			size_t written = cut;
			while (written > good && torn[written - 1] == 0)
				written--;
			s = open_ok(f->dir, &st);
			bool whole = cut == len;
			assert_int_equal(lease_store_count(s), whole ? 6 : 5);
			assert_int_equal(st.journal_records, whole ? 6 : 5);
			assert_int_equal(st.truncated_bytes, whole ? 0 : written - good);
			assert_false(st.corrupt);
			assert_int_equal(file_size(f->dir, "leases.journal"), whole ? len : good);
			struct lease l = mk(7, LEASE_ACTIVE);
			assert_int_equal(lease_store_stage(s, &l), whole ? 7 : 6);
			assert_int_equal(lease_store_commit(s), 0);
			lease_store_free(s);
			s = open_ok(f->dir, &st);
			assert_int_equal(lease_store_count(s), whole ? 7 : 6);
			assert_false(st.corrupt);
			lease_store_free(s);
		}
	}
	free(torn);
	/* A tail of zeros (the file grown, or extended but never written)
	 * loses nothing: cut, not counted. */
	char *z = calloc(1, len + 300);
	memcpy(z, full, len);
	write_file(f->dir, "leases.journal", z, len + 300);
	struct lease_replay_stats st;
	s = open_ok(f->dir, &st);
	assert_int_equal(lease_store_count(s), 6);
	assert_int_equal(st.truncated_bytes, 0);
	assert_false(st.corrupt);
	assert_int_equal(file_size(f->dir, "leases.journal"), len);
	lease_store_free(s);
	free(z);
	free(full);
}

/* ---- corruption in the middle: stop there, keep a copy, report ---- */

static void test_corrupt_middle(void **state)
{
	struct fx *f = *state;
	size_t off[11];
	struct lease_store *s = open_ok(f->dir, NULL);
	for (uint32_t i = 1; i <= 10; i++) {
		off[i - 1] = lease_store_journal_bytes(s);
		struct lease l = mk(i, LEASE_ACTIVE);
		assert_true(lease_store_stage(s, &l) > 0);
		assert_int_equal(lease_store_commit(s), 0);
	}
	size_t len = lease_store_journal_bytes(s);
	lease_store_free(s);
	char *data;
	size_t size;
	read_file(f->dir, "leases.journal", &data, &size);
	assert_true(size > len);   /* the grown tail's zeros follow */
	data[off[4] + 20] ^= 0x40; /* a payload byte of the 5th record */
	while (data[len - 1] == 0) /* what is counted: up to the last byte written */
		len--;
	write_file(f->dir, "leases.journal", data, size);

	struct lease_replay_stats st;
	s = open_ok(f->dir, &st);
	assert_int_equal(lease_store_count(s), 4);
	assert_true(st.corrupt);
	assert_int_equal(st.truncated_bytes, len - off[4]);
	assert_int_equal(file_size(f->dir, "leases.journal"), off[4]);
	assert_int_equal(file_size(f->dir, "leases.journal.corrupt"), size);
	lease_store_free(s);
	free(data);
}

/* ---- compaction ---- */

static void test_compact_then_more(void **state)
{
	struct fx *f = *state;
	struct lease_store *s = open_ok(f->dir, NULL);
	for (uint32_t i = 1; i <= 20; i++) {
		struct lease l = mk(i, LEASE_ACTIVE);
		assert_true(lease_store_stage(s, &l) > 0);
	}
	assert_int_equal(lease_store_pool_set_owner(s, BASE + 100, BASE + 199, LEASE_OWNER_PEER), 21);
	struct lease pending = mk(21, LEASE_ACTIVE);
	assert_true(lease_store_stage(s, &pending) > 0);
	assert_int_equal(lease_store_compact(s), -EBUSY); /* commit first */
	assert_int_equal(lease_store_commit(s), 0);
	struct lease off = mk(30, LEASE_OFFERED);
	assert_int_equal(lease_store_stage(s, &off), 0);
	assert_int_equal(lease_store_compact(s), 0);
	assert_int_equal(lease_store_journal_bytes(s), LEASE_FILE_HEADER_LEN);
	struct lease rel = mk(3, LEASE_RELEASED);
	assert_true(lease_store_stage(s, &rel) > 0);
	for (uint32_t i = 22; i <= 26; i++) {
		struct lease l = mk(i, LEASE_ACTIVE);
		assert_true(lease_store_stage(s, &l) > 0);
	}
	assert_int_equal(lease_store_remove(s, BASE + 4), 29);
	assert_int_equal(lease_store_commit(s), 0);
	lease_store_free(s);

	struct lease_replay_stats st;
	s = open_ok(f->dir, &st);
	/* 21 leases; the pool run 100..199 is stored per 64-address word: 3 */
	assert_int_equal(st.snapshot_records, 21 + 3);
	assert_int_equal(st.journal_records, 7);
	assert_int_equal(st.seq, 29);
	assert_int_equal(lease_store_count(s), 25);
	assert_null(lease_store_find_addr(s, BASE + 4));
	assert_null(lease_store_find_addr(s, BASE + 30));
	assert_int_equal(lease_store_find_addr(s, BASE + 3)->state, LEASE_RELEASED);
	struct lease l26 = mk(26, LEASE_ACTIVE);
	assert_lease_eq(lease_store_find_addr(s, BASE + 26), &l26);
	assert_int_equal(lease_store_pool_owner(s, BASE + 150), LEASE_OWNER_PEER);
	assert_int_equal(lease_store_pool_owner(s, BASE + 200), LEASE_OWNER_LOCAL);
	lease_store_free(s);
}

static void test_compact_interrupted(void **state)
{
	struct fx *f = *state;
	struct lease_store *s = open_ok(f->dir, NULL);
	for (uint32_t i = 1; i <= 10; i++) {
		struct lease l = mk(i, LEASE_ACTIVE);
		assert_true(lease_store_stage(s, &l) > 0);
	}
	assert_int_equal(lease_store_commit(s), 0);
	char *old;
	size_t oldlen;
	read_file(f->dir, "leases.journal", &old, &oldlen);
	assert_int_equal(lease_store_compact(s), 0);
	lease_store_free(s);

	/* Crash after the snapshot's rename, before the journal reset: the old
	 * journal is back, and a half-written temp snapshot lies around. */
	write_file(f->dir, "leases.journal", old, oldlen);
	write_file(f->dir, "leases.snap.tmp.4242", "IRLEASES garbage", 16);
	struct lease_replay_stats st;
	s = open_ok(f->dir, &st);
	assert_true(st.stale_tmp);
	assert_int_equal(st.snapshot_records, 10);
	assert_int_equal(st.journal_records, 0);
	assert_int_equal(st.journal_skipped, 10);
	assert_int_equal(lease_store_count(s), 10);
	/* Keep appending to the old journal; the new records are > snapshot. */
	struct lease rel = mk(2, LEASE_RELEASED);
	assert_int_equal(lease_store_stage(s, &rel), 11);
	assert_int_equal(lease_store_commit(s), 0);
	lease_store_free(s);
	s = open_ok(f->dir, &st);
	assert_int_equal(st.journal_skipped, 10);
	assert_int_equal(st.journal_records, 1);
	assert_int_equal(lease_store_find_addr(s, BASE + 2)->state, LEASE_RELEASED);
	lease_store_free(s);

	/* Crash before the snapshot's rename: only the temp file; the journal
	 * alone holds everything. */
	char p[256];
	path(p, f->dir, "leases.snap");
	assert_int_equal(unlink(p), 0);
	write_file(f->dir, "leases.journal", old, oldlen);
	write_file(f->dir, "leases.snap.tmp.99", old, 40);
	s = open_ok(f->dir, &st);
	assert_true(st.stale_tmp);
	assert_int_equal(st.snapshot_records, 0);
	assert_int_equal(st.journal_records, 10);
	lease_store_free(s);

	/* A journal that starts after a missing snapshot is refused. */
	s = open_ok(f->dir, NULL);
	assert_int_equal(lease_store_compact(s), 0);
	lease_store_free(s);
	assert_int_equal(unlink(p), 0);
	struct lease_store_config cfg = {.dir = f->dir};
	assert_int_equal(lease_store_open(&cfg, &s, NULL), -EBADMSG);
	free(old);
}

static void test_snapshot_damaged(void **state)
{
	struct fx *f = *state;
	struct lease_store *s = open_ok(f->dir, NULL);
	struct lease l = mk(1, LEASE_ACTIVE);
	assert_true(lease_store_stage(s, &l) > 0);
	assert_int_equal(lease_store_commit(s), 0);
	assert_int_equal(lease_store_compact(s), 0);
	lease_store_free(s);
	char *d;
	size_t len;
	read_file(f->dir, "leases.snap", &d, &len);
	d[len - 3] ^= 1;
	write_file(f->dir, "leases.snap", d, len);
	struct lease_store_config cfg = {.dir = f->dir};
	assert_int_equal(lease_store_open(&cfg, &s, NULL), -EBADMSG);
	free(d);
}

/* ---- reclaim ---- */

static void test_reclaim(void **state)
{
	struct fx *f = *state;
	struct lease_store_config cfg = {.dir = f->dir, .reclaim_grace = 60};
	struct lease_store *s;
	assert_int_equal(lease_store_open(&cfg, &s, NULL), 0);

	struct lease a = mk(1, LEASE_ACTIVE), b = mk(2, LEASE_ACTIVE), d = mk(3, LEASE_DECLINED);
	a.expiry = NOW - 100; /* past expiry + grace */
	b.expiry = NOW - 30;  /* within grace: kept */
	d.conflict = LEASE_CONFLICT_ARP;
	d.expiry = NOW - 1;
	d.client_id_len = 0;
	assert_true(lease_store_stage(s, &a) > 0);
	assert_true(lease_store_stage(s, &b) > 0);
	assert_true(lease_store_stage(s, &d) > 0);
	/* An offer over an active lease that then times out gives the active
	 * lease back; a plain offer just disappears. */
	struct lease act = mk(4, LEASE_ACTIVE), off = mk(4, LEASE_OFFERED), off2 = mk(5, LEASE_OFFERED);
	assert_true(lease_store_stage(s, &act) > 0);
	off.expiry = NOW - 5;
	off2.expiry = NOW - 5;
	assert_int_equal(lease_store_stage(s, &off), 0);
	assert_int_equal(lease_store_stage(s, &off2), 0);
	assert_int_equal(lease_store_find_addr(s, BASE + 4)->state, LEASE_OFFERED);
	assert_int_equal(lease_store_commit(s), 0);

	struct lease out[2];
	int n1 = lease_store_reclaim(s, NOW, out, 2);
	assert_int_equal(n1, 2);
	struct lease more[8];
	int n2 = lease_store_reclaim(s, NOW, more, 8);
	assert_int_equal(n2, 2);
	assert_int_equal(lease_store_reclaim(s, NOW, more + 2, 6), 0);
	assert_int_equal(lease_store_find_addr(s, BASE + 1)->state, LEASE_EXPIRED);
	assert_int_equal(lease_store_find_addr(s, BASE + 2)->state, LEASE_ACTIVE);
	assert_int_equal(lease_store_find_addr(s, BASE + 3)->state, LEASE_EXPIRED);
	assert_int_equal(lease_store_find_addr(s, BASE + 3)->conflict, LEASE_CONFLICT_NONE);
	assert_lease_eq(lease_store_find_addr(s, BASE + 4), &act);
	assert_null(lease_store_find_addr(s, BASE + 5));
	assert_false(lease_store_is_taken(s, BASE + 1));
	assert_true(lease_store_is_taken(s, BASE + 2));
	assert_false(lease_store_is_taken(s, BASE + 5));
	/* The expiries are journaled. */
	assert_true(lease_store_has_pending(s));
	assert_int_equal(lease_store_commit(s), 0);
	lease_store_free(s);
	s = open_ok(f->dir, NULL);
	assert_int_equal(lease_store_find_addr(s, BASE + 1)->state, LEASE_EXPIRED);
	assert_int_equal(lease_store_find_addr(s, BASE + 4)->state, LEASE_ACTIVE);
	/* The affinity record still finds the client. */
	struct lease a1 = mk(1, LEASE_ACTIVE);
	const struct lease *g = lease_store_find_client_id(s, a1.client_id, a1.client_id_len, 7);
	assert_non_null(g);
	assert_int_equal(g->state, LEASE_EXPIRED);
	lease_store_free(s);
}

/* ---- limits and validation ---- */

static void test_limits(void **state)
{
	struct lease_store_config cfg = {.max_leases = 3, .max_per_client = 2};
	struct lease_store *s;
	assert_int_equal(lease_store_open(&cfg, &s, NULL), 0); /* in memory */
	for (uint32_t i = 1; i <= 3; i++) {
		struct lease l = mk(i, LEASE_ACTIVE);
		assert_true(lease_store_stage(s, &l) > 0);
	}
	struct lease l4 = mk(4, LEASE_ACTIVE);
	assert_int_equal(lease_store_stage(s, &l4), -ENOSPC);
	struct lease r2 = mk(2, LEASE_RELEASED);
	assert_true(lease_store_stage(s, &r2) > 0);
	assert_true(lease_store_stage(s, &l4) > 0); /* evicts the released one */
	assert_null(lease_store_find_addr(s, BASE + 2));
	assert_int_equal(lease_store_count(s), 3);
	assert_int_equal(lease_store_commit(s), 0);
	assert_int_equal(lease_store_durable_seq(s), 6); /* 3 + release + evict + put */
	lease_store_free(s);

	cfg.max_leases = 100;
	assert_int_equal(lease_store_open(&cfg, &s, NULL), 0);
	struct lease c = mk(1, LEASE_ACTIVE);
	for (uint32_t i = 0; i < 2; i++) {
		c.addr = BASE + 10 + i;
		assert_true(lease_store_stage(s, &c) >= 0);
	}
	c.addr = BASE + 12;
	c.state = LEASE_OFFERED;
	assert_int_equal(lease_store_stage(s, &c), -EDQUOT);
	c.subnet_id = 8; /* another subnet: its own quota */
	assert_int_equal(lease_store_stage(s, &c), 0);
	c.subnet_id = 7;
	c.addr = BASE + 11; /* renewing one it holds is fine */
	c.state = LEASE_ACTIVE;
	assert_true(lease_store_stage(s, &c) > 0);
	/* The quota is the MAC's, whatever client ids it sends (leases keyed
	 * by option 61 must not let one MAC take the pool)... */
	c.addr = BASE + 13;
	c.client_id[6] ^= 0xff;
	assert_int_equal(lease_store_stage(s, &c), -EDQUOT);
	/* ...and one client id on other MACs (cloned systems) is not the
	 * same client. */
	struct lease d = mk(3, LEASE_ACTIVE);
	memcpy(d.client_id, mk(1, LEASE_ACTIVE).client_id, sizeof(d.client_id));
	d.client_id_len = 7;
	d.addr = BASE + 13;
	assert_true(lease_store_stage(s, &d) > 0);
	/* Without a hardware address, the client id is the client. */
	struct lease e = mk(5, LEASE_ACTIVE);
	e.hlen = 0;
	for (uint32_t i = 0; i < 2; i++) {
		e.addr = BASE + 20 + i;
		assert_true(lease_store_stage(s, &e) > 0);
	}
	e.addr = BASE + 22;
	assert_int_equal(lease_store_stage(s, &e), -EDQUOT);

	struct lease bad = mk(1, LEASE_ACTIVE);
	bad.addr = 0;
	assert_int_equal(lease_store_stage(s, &bad), -EINVAL);
	bad = mk(1, LEASE_ACTIVE);
	bad.hlen = 17;
	assert_int_equal(lease_store_stage(s, &bad), -EINVAL);
	bad = mk(1, LEASE_FREE);
	assert_int_equal(lease_store_stage(s, &bad), -EINVAL);
	bad = mk(1, LEASE_ACTIVE);
	memset(bad.hostname, 'x', sizeof(bad.hostname));
	assert_int_equal(lease_store_stage(s, &bad), -EINVAL);
	assert_int_equal(lease_store_remove(s, BASE + 99), -ENOENT);
	assert_int_equal(lease_store_pool_set_owner(s, BASE + 5, BASE + 4, LEASE_OWNER_PEER), -EINVAL);
	assert_int_equal(lease_store_pool_set_owner(s, 0, LEASE_POOL_SPAN_MAX, LEASE_OWNER_PEER), -EINVAL);
	lease_store_free(s);
}

/* ---- free-address search and pool split ---- */

static void test_first_free(void **state)
{
	struct lease_store_config cfg = {0};
	struct lease_store *s;
	uint32_t a;
	assert_int_equal(lease_store_open(&cfg, &s, NULL), 0);
	assert_int_equal(lease_store_first_free(s, BASE + 10, BASE + 20, LEASE_OWNER_LOCAL, &a), 0);
	assert_int_equal(a, BASE + 10);
	/* Take 10..140 (crossing word boundaries), quarantine 141, release 142. */
	for (uint32_t i = 10; i <= 140; i++) {
		struct lease l = mk(i, LEASE_ACTIVE);
		l.client_id_len = 0;
		l.chaddr[3] = (uint8_t)i;
		l.chaddr[2] = 9;
		assert_true(lease_store_stage(s, &l) > 0);
	}
	struct lease q = mk(141, LEASE_DECLINED), r = mk(142, LEASE_RELEASED);
	assert_true(lease_store_stage(s, &q) > 0);
	assert_true(lease_store_stage(s, &r) > 0);
	assert_int_equal(lease_store_first_free(s, BASE + 10, BASE + 200, LEASE_OWNER_LOCAL, &a), 0);
	assert_int_equal(a, BASE + 142);
	assert_int_equal(lease_store_first_free(s, BASE + 10, BASE + 141, LEASE_OWNER_LOCAL, &a), -ENOSPC);
	assert_int_equal(lease_store_first_free(s, BASE + 5, BASE + 141, LEASE_OWNER_LOCAL, &a), 0);
	assert_int_equal(a, BASE + 5);
	/* Pool split: even-numbered block to the peer. */
	assert_true(lease_store_pool_set_owner(s, BASE + 142, BASE + 170, LEASE_OWNER_PEER) > 0);
	assert_int_equal(lease_store_first_free(s, BASE + 10, BASE + 200, LEASE_OWNER_LOCAL, &a), 0);
	assert_int_equal(a, BASE + 171);
	assert_int_equal(lease_store_first_free(s, BASE + 10, BASE + 200, LEASE_OWNER_PEER, &a), 0);
	assert_int_equal(a, BASE + 142);
	assert_true(lease_store_pool_set_owner(s, BASE + 142, BASE + 150, LEASE_OWNER_LOCAL) > 0);
	assert_int_equal(lease_store_first_free(s, BASE + 10, BASE + 200, LEASE_OWNER_LOCAL, &a), 0);
	assert_int_equal(a, BASE + 142);
	/* The top of the address space does not wrap. */
	assert_int_equal(lease_store_first_free(s, 0xfffffff0u, 0xffffffffu, LEASE_OWNER_LOCAL, &a), 0);
	assert_int_equal(a, 0xfffffff0u);
	struct lease top = mk(0, LEASE_ACTIVE);
	top.addr = 0xffffffffu;
	assert_true(lease_store_stage(s, &top) > 0);
	assert_int_equal(lease_store_first_free(s, 0xffffffffu, 0xffffffffu, LEASE_OWNER_LOCAL, &a), -ENOSPC);
	lease_store_free(s);
}

/* ---- asynchronous flush ---- */

static bool file_exists(const char *dir, const char *name)
{
	char p[128];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &st) == 0;
}

/* A compaction rides on a flush: the snapshot (the batch's changes
 * included) is built at begin, written by run after the batch is durable;
 * staging goes on meanwhile and lands in the fresh journal. */
static void test_flush_carries_compaction(void **state)
{
	struct fx *f = *state;
	struct lease_store *s = open_ok(f->dir, NULL);
	struct lease_flush fl;
	for (uint32_t i = 1; i <= 10; i++) {
		struct lease l = mk(i, LEASE_ACTIVE);
		assert_true(lease_store_stage(s, &l) > 0);
	}
	assert_int_equal(lease_store_commit(s), 0);
	for (uint32_t i = 11; i <= 12; i++) {
		struct lease l = mk(i, LEASE_ACTIVE);
		assert_true(lease_store_stage(s, &l) > 0);
	}
	assert_int_equal(lease_store_flush_begin_compact(s, &fl), 1);
	assert_int_equal(fl.seq, 12);
	assert_int_equal(fl.snap_records, 12);
	assert_false(file_exists(f->dir, "leases.snap")); /* nothing written yet */
	struct lease l13 = mk(13, LEASE_ACTIVE);
	assert_int_equal(lease_store_stage(s, &l13), 13);
	assert_int_equal(lease_flush_run(&fl), 0);
	assert_int_equal(fl.compact_result, 0);
	assert_true(fl.new_fd >= 0);
	assert_true(file_exists(f->dir, "leases.snap"));
	assert_int_equal(lease_store_durable_seq(s), 10);
	assert_int_equal(lease_store_flush_done(s, &fl), 0);
	assert_int_equal(lease_store_durable_seq(s), 12);
	assert_int_equal(lease_store_journal_bytes(s), LEASE_FILE_HEADER_LEN);
	assert_int_equal(lease_store_commit(s), 0); /* 13, into the fresh journal */
	assert_true(lease_store_journal_bytes(s) > LEASE_FILE_HEADER_LEN);
	/* Nothing staged: a flush of only the compaction. */
	assert_int_equal(lease_store_flush_begin_compact(s, &fl), 1);
	assert_int_equal(fl.len, 0);
	assert_int_equal(lease_flush_run(&fl), 0);
	assert_int_equal(lease_store_flush_done(s, &fl), 0);
	assert_int_equal(fl.compact_result, 0);
	assert_int_equal(lease_store_journal_bytes(s), LEASE_FILE_HEADER_LEN);
	struct lease l14 = mk(14, LEASE_ACTIVE);
	assert_int_equal(lease_store_stage(s, &l14), 14);
	assert_int_equal(lease_store_commit(s), 0);
	lease_store_free(s);

	struct lease_replay_stats st;
	s = open_ok(f->dir, &st);
	assert_int_equal(st.snapshot_records, 13);
	assert_int_equal(st.journal_records, 1);
	assert_int_equal(lease_store_count(s), 14);
	assert_lease_eq(lease_store_find_addr(s, BASE + 13), &l13);
	lease_store_free(s);
}

/* The snapshot cannot be written (its directory is gone): the batch is
 * durable all the same, the old journal stays in use, nothing is lost. */
static void test_flush_compaction_fails_keeps_journal(void **state)
{
	struct fx *f = *state;
	char moved[80];
	struct lease_store *s = open_ok(f->dir, NULL);
	struct lease_flush fl;
	for (uint32_t i = 1; i <= 5; i++) {
		struct lease l = mk(i, LEASE_ACTIVE);
		assert_true(lease_store_stage(s, &l) > 0);
	}
	assert_int_equal(lease_store_flush_begin_compact(s, &fl), 1);
	snprintf(moved, sizeof(moved), "%s.moved", f->dir);
	assert_int_equal(rename(f->dir, moved), 0);
	assert_int_equal(lease_flush_run(&fl), 0); /* the batch, through the open fd */
	assert_int_equal(fl.compact_result, -ENOENT);
	assert_int_equal(fl.new_fd, -1);
	assert_int_equal(rename(moved, f->dir), 0);
	assert_int_equal(lease_store_flush_done(s, &fl), 0);
	assert_int_equal(lease_store_durable_seq(s), 5);
	struct lease l6 = mk(6, LEASE_ACTIVE);
	assert_int_equal(lease_store_stage(s, &l6), 6);
	assert_int_equal(lease_store_commit(s), 0);
	lease_store_free(s);

	struct lease_replay_stats st;
	s = open_ok(f->dir, &st);
	assert_false(file_exists(f->dir, "leases.snap"));
	assert_int_equal(st.journal_records, 6);
	assert_int_equal(lease_store_count(s), 6);
	lease_store_free(s);
}

static void test_async_flush(void **state)
{
	struct fx *f = *state;
	struct lease_store *s = open_ok(f->dir, NULL);
	struct lease_flush fl, fl2;
	assert_int_equal(lease_store_flush_begin(s, &fl), 0); /* nothing */
	struct lease l = mk(1, LEASE_ACTIVE);
	assert_int_equal(lease_store_stage(s, &l), 1);
	assert_int_equal(lease_store_flush_begin(s, &fl), 1);
	assert_int_equal(fl.seq, 1);
	/* Staging goes on while the flush is out; a second flush waits. */
	l = mk(2, LEASE_ACTIVE);
	assert_int_equal(lease_store_stage(s, &l), 2);
	assert_int_equal(lease_store_flush_begin(s, &fl2), -EBUSY);
	assert_int_equal(lease_store_compact(s), -EBUSY);
	assert_int_equal(lease_flush_run(&fl), 0);
	assert_int_equal(lease_store_durable_seq(s), 0);
	assert_int_equal(lease_store_flush_done(s, &fl), 0);
	assert_int_equal(lease_store_durable_seq(s), 1);
	assert_true(lease_store_has_pending(s));
	assert_int_equal(lease_store_commit(s), 0);
	assert_int_equal(lease_store_durable_seq(s), 2);
	/* A failed write poisons the store. */
	l = mk(3, LEASE_ACTIVE);
	assert_int_equal(lease_store_stage(s, &l), 3);
	assert_int_equal(lease_store_flush_begin(s, &fl), 1);
	fl.fd = -2; /* simulate: make run fail */
	fl.result = -EIO;
	assert_int_equal(lease_store_flush_done(s, &fl), -EIO);
	assert_int_equal(lease_store_durable_seq(s), 2);
	assert_int_equal(lease_store_stage(s, &l), -EIO);
	assert_int_equal(lease_store_commit(s), -EIO);
	lease_store_free(s);
	struct lease_replay_stats st;
	s = open_ok(f->dir, &st);
	assert_int_equal(lease_store_count(s), 2);
	lease_store_free(s);
}

/* ---- the pure parser ---- */

static void test_parse(void **state)
{
	uint8_t buf[LEASE_FILE_HEADER_LEN + 2 * LEASE_REC_MAX] = {0};
	size_t good;
	uint64_t base;
	bool corrupt;
	assert_int_equal(lease_file_parse(buf, 10, LEASE_FILE_JOURNAL, NULL, NULL, &good, &base, &corrupt), -EBADMSG);
	lease_file_header_encode(buf, LEASE_FILE_JOURNAL, 5);
	assert_int_equal(
	    lease_file_parse(buf, LEASE_FILE_HEADER_LEN, LEASE_FILE_SNAPSHOT, NULL, NULL, &good, &base, &corrupt),
	    -EBADMSG);
	struct lease_rec r = {.type = LEASE_REC_PUT, .seq = 6, .lease = mk(1, LEASE_ACTIVE)};
	size_t n = LEASE_FILE_HEADER_LEN + lease_rec_encode(&r, buf + LEASE_FILE_HEADER_LEN);
	/* seq must increase past the header's */
	r.seq = 6;
	size_t n2 = n + lease_rec_encode(&r, buf + n);
	assert_int_equal(lease_file_parse(buf, n2, LEASE_FILE_JOURNAL, NULL, NULL, &good, &base, &corrupt), 1);
	assert_int_equal(good, n);
	assert_int_equal(base, 5);
	assert_false(corrupt); /* the bad record is the last thing: could be torn */
	/* OFFERED is never journaled, so a record saying so is bad. */
	r.seq = 7;
	r.lease.state = LEASE_OFFERED;
	n2 = n + lease_rec_encode(&r, buf + n);
	assert_int_equal(lease_file_parse(buf, n2, LEASE_FILE_JOURNAL, NULL, NULL, &good, &base, &corrupt), 1);
	/* Known CRC32C check value. */
	assert_int_equal(lease_crc32c(0, "123456789", 9), 0xe3069283);
}

/* The CRC the store uses (the CPU's crc32 instruction where there is one)
 * against a plain bitwise CRC32C: every length 0..300, every alignment,
 * and chained calls. */
static uint32_t crc32c_ref(uint32_t crc, const uint8_t *p, size_t len)
{
	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
	}
	return ~crc;
}

static void test_crc32c_matches_reference(void **state)
{
	uint8_t buf[320];
	uint32_t x = 0x12345678;
	for (size_t i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len + off <= 300; len++)
			assert_int_equal(lease_crc32c(0, buf + off, len), crc32c_ref(0, buf + off, len));
	uint32_t c = lease_crc32c(0, buf, 13);
	assert_int_equal(lease_crc32c(c, buf + 13, 200), crc32c_ref(0, buf, 213));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_commit_reopen, setup, teardown),
	    cmocka_unit_test(test_crc32c_matches_reference),
	    cmocka_unit_test_setup_teardown(test_torn_tail_every_offset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_middle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_compact_then_more, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_compact_interrupted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_snapshot_damaged, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reclaim, setup, teardown),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_first_free),
	    cmocka_unit_test_setup_teardown(test_async_flush, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flush_carries_compaction, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flush_compaction_fails_keeps_journal, setup, teardown),
	    cmocka_unit_test(test_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
