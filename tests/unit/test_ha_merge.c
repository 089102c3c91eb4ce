/* DHCP HA journal merge (rack/dhcp/ha_merge): the newer change wins, an
 * extension beats the other side's reclaim, two clients on one address
 * become a conflict record (the newer grant kept), journal history counts
 * by its last record, and both racks reach the same result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rack/dhcp/ha_merge.h"

#define BASE 0x0a000000u
#define T0   1700000000

static struct lease mk(uint32_t host, uint8_t client, uint8_t st, int64_t start, int64_t expiry, uint64_t seq)
{
	struct lease l = {.addr = BASE + host, .state = st, .htype = 1, .hlen = 6, .start = start, .expiry = expiry};
	l.chaddr[0] = 0x52;
	l.chaddr[5] = client;
	l.seq = seq;
	l.subnet_id = 1;
	l.range_id = 1;
	return l;
}

static void test_disjoint(void **state)
{
	struct lease loc[] = {mk(1, 1, LEASE_ACTIVE, T0, T0 + 600, 1)};
	struct lease peer[] = {mk(2, 2, LEASE_ACTIVE, T0, T0 + 600, 7), mk(3, 3, LEASE_RELEASED, T0, T0 + 5, 8)};
	peer[0].owner = LEASE_OWNER_LOCAL; /* granted by the partner, in its view */
	peer[1].owner = LEASE_OWNER_PEER;  /* granted by us, in its view */
	struct ha_merge_result r;
	assert_int_equal(ha_merge(loc, 1, peer, 2, &r), 0);
	assert_int_equal(r.n_apply, 2);
	assert_int_equal(r.apply[0].addr, BASE + 2);
	assert_int_equal(r.apply[0].owner, LEASE_OWNER_PEER);
	assert_int_equal(r.apply[1].addr, BASE + 3);
	assert_int_equal(r.apply[1].owner, LEASE_OWNER_LOCAL);
	assert_int_equal(r.n_conflicts, 0);
	assert_int_equal(r.n_local_wins, 0);
	ha_merge_result_done(&r);

	/* Empty inputs. */
	assert_int_equal(ha_merge(NULL, 0, NULL, 0, &r), 0);
	assert_int_equal(r.n_apply + r.n_conflicts + r.n_same, 0);
	ha_merge_result_done(&r);
	assert_int_equal(ha_merge(loc, 1, NULL, 0, &r), 0);
	assert_int_equal(r.n_apply, 0);
	ha_merge_result_done(&r);
	ha_merge_result_done(NULL);
}

static void test_same_binding(void **state)
{
	struct lease a = mk(1, 1, LEASE_ACTIVE, T0, T0 + 600, 3);
	struct lease b = a;
	b.seq = 99;
	b.owner = LEASE_OWNER_PEER; /* the partner holds our grant */
	struct ha_merge_result r;
	ha_merge(&a, 1, &b, 1, &r);
	assert_int_equal(r.n_same, 1);
	assert_int_equal(r.n_apply, 0);
	assert_int_equal(r.n_conflicts, 0);
	ha_merge_result_done(&r);
}

static void test_same_client_newer_wins(void **state)
{
	struct ha_merge_result r;
	/* The partner renewed later. */
	struct lease a = mk(1, 1, LEASE_ACTIVE, T0, T0 + 600, 3);
	struct lease b = mk(1, 1, LEASE_ACTIVE, T0 + 300, T0 + 900, 2);
	ha_merge(&a, 1, &b, 1, &r);
	assert_int_equal(r.n_apply, 1);
	assert_int_equal(r.apply[0].expiry, T0 + 900);
	assert_int_equal(r.n_conflicts, 0);
	ha_merge_result_done(&r);
	/* ... the other way round: ours is newer. */
	ha_merge(&b, 1, &a, 1, &r);
	assert_int_equal(r.n_apply, 0);
	assert_int_equal(r.n_local_wins, 1);
	ha_merge_result_done(&r);

	/* A release after the partner's renewal wins, though the renewal's
	 * expiry is later than the release time. */
	struct lease rel = mk(1, 1, LEASE_RELEASED, T0, T0 + 400, 4);
	ha_merge(&rel, 1, &b, 1, &r);
	assert_int_equal(r.n_local_wins, 1);
	assert_int_equal(r.n_apply, 0);
	ha_merge_result_done(&r);
	/* A renewal after the release (the client came back) wins. */
	struct lease back = mk(1, 1, LEASE_ACTIVE, T0 + 500, T0 + 1100, 1);
	ha_merge(&rel, 1, &back, 1, &r);
	assert_int_equal(r.n_apply, 1);
	assert_int_equal(r.apply[0].state, LEASE_ACTIVE);
	ha_merge_result_done(&r);
}

static void test_extension_beats_reclaim(void **state)
{
	struct ha_merge_result r;
	/* We reclaimed at the old expiry; the partner had renewed before it
	 * (start earlier than our reclaim) to a later expiry: its lease runs. */
	struct lease exp = mk(1, 1, LEASE_EXPIRED, T0, T0 + 600, 5);
	struct lease ren = mk(1, 1, LEASE_ACTIVE, T0 + 500, T0 + 1100, 2);
	ha_merge(&exp, 1, &ren, 1, &r);
	assert_int_equal(r.n_apply, 1);
	assert_int_equal(r.apply[0].state, LEASE_ACTIVE);
	ha_merge_result_done(&r);
	ha_merge(&ren, 1, &exp, 1, &r);
	assert_int_equal(r.n_local_wins, 1);
	ha_merge_result_done(&r);
	/* An ACTIVE record that ends no later than the reclaim is stale. */
	struct lease stale = mk(1, 1, LEASE_ACTIVE, T0 - 100, T0 + 600, 9);
	ha_merge(&exp, 1, &stale, 1, &r);
	assert_int_equal(r.n_apply, 0);
	assert_int_equal(r.n_local_wins, 1);
	ha_merge_result_done(&r);
}

static void test_two_clients_conflict(void **state)
{
	struct ha_merge_result r;
	struct lease a = mk(7, 1, LEASE_ACTIVE, T0, T0 + 600, 3);
	struct lease b = mk(7, 2, LEASE_ACTIVE, T0 + 10, T0 + 400, 4);
	b.owner = LEASE_OWNER_LOCAL;
	/* The newer grant (b) is kept, the pair reported. */
	ha_merge(&a, 1, &b, 1, &r);
	assert_int_equal(r.n_conflicts, 1);
	assert_int_equal(r.conflicts[0].kind, HA_CONFLICT_LIVE);
	assert_int_equal(r.conflicts[0].addr, BASE + 7);
	assert_false(r.conflicts[0].kept_is_local);
	assert_int_equal(r.conflicts[0].kept.chaddr[5], 2);
	assert_int_equal(r.conflicts[0].kept.owner, LEASE_OWNER_PEER);
	assert_int_equal(r.conflicts[0].lost.chaddr[5], 1);
	assert_int_equal(r.n_apply, 1);
	assert_int_equal(r.apply[0].chaddr[5], 2);
	ha_merge_result_done(&r);
	/* Seen from the other rack: the same winner, kept locally there. */
	ha_merge(&b, 1, &a, 1, &r);
	assert_int_equal(r.n_conflicts, 1);
	assert_true(r.conflicts[0].kept_is_local);
	assert_int_equal(r.conflicts[0].kept.chaddr[5], 2);
	assert_int_equal(r.n_apply, 0);
	ha_merge_result_done(&r);

	/* A quarantine against a lease is a conflict too. */
	struct lease q = mk(7, 3, LEASE_DECLINED, T0 + 20, T0 + 3600, 5);
	ha_merge(&a, 1, &q, 1, &r);
	assert_int_equal(r.n_conflicts, 1);
	assert_int_equal(r.conflicts[0].kind, HA_CONFLICT_LIVE);
	ha_merge_result_done(&r);
}

static void test_taken_beats_history(void **state)
{
	struct ha_merge_result r;
	/* The address was released, then given to another client: no
	 * conflict, the live binding wins. */
	struct lease rel = mk(9, 1, LEASE_RELEASED, T0, T0 + 100, 30);
	struct lease next = mk(9, 2, LEASE_ACTIVE, T0 + 200, T0 + 800, 1);
	ha_merge(&rel, 1, &next, 1, &r);
	assert_int_equal(r.n_apply, 1);
	assert_int_equal(r.n_conflicts, 0);
	ha_merge_result_done(&r);
	/* Granted to the other client while the first still held it (start
	 * before the first's end): kept, but reported as PAST. */
	struct lease early = mk(9, 2, LEASE_ACTIVE, T0 + 50, T0 + 800, 1);
	ha_merge(&rel, 1, &early, 1, &r);
	assert_int_equal(r.n_apply, 1);
	assert_int_equal(r.n_conflicts, 1);
	assert_int_equal(r.conflicts[0].kind, HA_CONFLICT_PAST);
	ha_merge_result_done(&r);
	/* Ours is the live one. */
	ha_merge(&early, 1, &rel, 1, &r);
	assert_int_equal(r.n_apply, 0);
	assert_int_equal(r.n_local_wins, 1);
	assert_int_equal(r.n_conflicts, 1);
	assert_true(r.conflicts[0].kept_is_local);
	ha_merge_result_done(&r);
	/* Two ended bindings of two clients: the later end, no conflict. */
	struct lease e1 = mk(9, 1, LEASE_EXPIRED, T0, T0 + 100, 3);
	struct lease e2 = mk(9, 2, LEASE_RELEASED, T0 + 150, T0 + 300, 2);
	ha_merge(&e1, 1, &e2, 1, &r);
	assert_int_equal(r.n_apply, 1);
	assert_int_equal(r.n_conflicts, 0);
	ha_merge_result_done(&r);
}

static void test_history_last_record_counts(void **state)
{
	struct ha_merge_result r;
	/* The partner's tail: granted, renewed, released, in shuffled order;
	 * the release (highest seq) is its present state. */
	struct lease tail[] = {
	    mk(4, 1, LEASE_ACTIVE, T0 + 60, T0 + 660, 11),
	    mk(4, 1, LEASE_RELEASED, T0, T0 + 90, 12),
	    mk(4, 1, LEASE_ACTIVE, T0, T0 + 600, 10),
	    {.addr = 0}, /* ignored */
	};
	struct lease mine = mk(4, 1, LEASE_ACTIVE, T0 + 60, T0 + 660, 40);
	ha_merge(&mine, 1, tail, 4, &r);
	assert_int_equal(r.n_apply, 1);
	assert_int_equal(r.apply[0].state, LEASE_RELEASED);
	assert_int_equal(r.apply[0].seq, 12);
	ha_merge_result_done(&r);
}

/* The binding an address ends with on a rack after applying r. */
static const struct lease *final_of(const struct lease *local, size_t n, const struct ha_merge_result *r, uint32_t addr)
{
	for (size_t i = 0; i < r->n_apply; i++)
		if (r->apply[i].addr == addr)
			return &r->apply[i];
	const struct lease *best = NULL;
	for (size_t i = 0; i < n; i++)
		if (local[i].addr == addr && (!best || local[i].seq > best->seq))
			best = &local[i];
	return best;
}

static void test_both_racks_agree(void **state)
{
	enum { N = 400, HOSTS = 64 };
	struct lease *a = calloc(N, sizeof(*a)), *b = calloc(N, sizeof(*b));
	const uint8_t states[] = {LEASE_ACTIVE, LEASE_RELEASED, LEASE_EXPIRED, LEASE_DECLINED, LEASE_ACTIVE};
	uint32_t x = 7;
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < N; i++) {
			struct lease *v[2] = {&a[i], &b[i]};
			for (int k = 0; k < 2; k++) {
				x = x * 1103515245u + 12345u;
				uint32_t h = 1 + (x >> 8) % HOSTS;
				uint8_t client = (uint8_t)(1 + (x >> 20) % 3);
				uint8_t st = states[(x >> 24) % 5];
				int64_t start = T0 + (int64_t)((x >> 4) % 1000);
				*v[k] = mk(h, client, st, start, start + (int64_t)((x >> 12) % 900), (uint64_t)i + 1);
				v[k]->owner = (uint8_t)(k ^ (x & 1));
			}
		}
		struct ha_merge_result ra, rb;
		ha_merge(a, N, b, N, &ra);
		ha_merge(b, N, a, N, &rb);
		assert_int_equal(ra.n_conflicts, rb.n_conflicts);
		for (uint32_t h = 1; h <= HOSTS; h++) {
			const struct lease *fa = final_of(a, N, &ra, BASE + h), *fb = final_of(b, N, &rb, BASE + h);
			assert_true((fa == NULL) == (fb == NULL));
			if (!fa)
				continue;
			assert_int_equal(fa->state, fb->state);
			assert_int_equal(fa->expiry, fb->expiry);
			assert_int_equal(fa->start, fb->start);
			assert_true(ha_lease_same_client(fa, fb));
			/* One grant, seen from both sides: opposite owners. */
			assert_int_not_equal(fa->owner, fb->owner);
		}
		for (size_t i = 0; i < ra.n_conflicts; i++)
			assert_true(
			    ha_lease_same_client(&ra.conflicts[i].kept, final_of(a, N, &ra, ra.conflicts[i].addr)));
		ha_merge_result_done(&ra);
		ha_merge_result_done(&rb);
	}
	free(a);
	free(b);
}

static void test_compare_antisymmetric(void **state)
{
	struct lease v[] = {
	    mk(1, 1, LEASE_ACTIVE, T0, T0 + 600, 1),	 mk(1, 1, LEASE_ACTIVE, T0, T0 + 600, 2),
	    mk(1, 2, LEASE_ACTIVE, T0, T0 + 600, 1),	 mk(1, 1, LEASE_EXPIRED, T0, T0 + 600, 1),
	    mk(1, 1, LEASE_RELEASED, T0, T0 + 10, 1),	 mk(1, 2, LEASE_DECLINED, T0 + 5, T0 + 60, 1),
	    mk(1, 3, LEASE_RESERVED, T0 - 5, T0 + 1, 1), mk(1, 2, LEASE_EXPIRED, T0 + 1, T0 + 2, 1),
	};
	size_t n = sizeof(v) / sizeof(v[0]);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			enum ha_conflict_kind k1, k2;
			int c1 = ha_merge_compare(&v[i], &v[j], &k1), c2 = ha_merge_compare(&v[j], &v[i], &k2);
			if (i != j) {
				assert_true((c1 > 0) == (c2 < 0));
				assert_int_not_equal(c1, 0);
			}
			assert_int_equal(k1, k2);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_disjoint),
	    cmocka_unit_test(test_same_binding),
	    cmocka_unit_test(test_same_client_newer_wins),
	    cmocka_unit_test(test_extension_beats_reclaim),
	    cmocka_unit_test(test_two_clients_conflict),
	    cmocka_unit_test(test_taken_beats_history),
	    cmocka_unit_test(test_history_last_record_counts),
	    cmocka_unit_test(test_both_racks_agree),
	    cmocka_unit_test(test_compare_antisymmetric),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
