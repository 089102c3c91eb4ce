/* Randomised cross-check of the IPAM engine (region/ipam/ipam.h) against a
 * brute-force model: random prefixes of 1,024 addresses (v4 /22, v6 /118),
 * managed or not, random reserved/dynamic ranges (sometimes adjacent), used,
 * excluded and neighbour addresses at random densities; allocation from
 * random hints, the full free-block listing and utilisation must match the
 * model exactly. Also checks that duplicates (outside the contract) stay safe. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "region/ipam/ipam.h"

static struct ipprefix P(const char *s) {
	struct ipprefix p;

	assert_int_equal(ipprefix_parse(s, true, &p), 0);
	return p;
}

#define MODEL_N 1024

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

struct model {
	bool usable[MODEL_N], in_auto[MODEL_N], in_dhcp[MODEL_N], blocked[MODEL_N], used_or_excl[MODEL_N];
	bool is_nb[MODEL_N];
	int64_t seen[MODEL_N];
	size_t nb_index[MODEL_N];
};

/* Random view over a 1024-address prefix, and the model of it. */
static void random_view(struct ipam_view *v, const char *prefix, struct ipam_range *ranges, struct ipam_used *used,
			u128 *excl, struct ipam_neighbour *nbs, struct model *m)
{
	u128 base;
	u128 uf, ul;

	memset(v, 0, sizeof(*v));
	memset(m, 0, sizeof(*m));
	v->prefix = P(prefix);
	v->managed = rnd(3) != 0;
	base = ipaddr_to_u128(&v->prefix.addr);
	ipam_usable_span(&v->prefix, &uf, &ul);

	/* ranges: walk upward, random gaps and lengths */
	size_t nr = 0;
	for (uint32_t at = rnd(64); at < MODEL_N && nr < 12; nr++) {
		uint32_t len = 1 + rnd(rnd(2) ? 8 : 120);
		uint32_t last = at + len - 1 < MODEL_N ? at + len - 1 : MODEL_N - 1;
		ranges[nr] =
		    (struct ipam_range){base + at, base + last, rnd(2) ? IPAM_RANGE_DYNAMIC : IPAM_RANGE_RESERVED};
		at = last + 1 + (rnd(2) ? 0 : rnd(100)); /* sometimes adjacent */
	}
	v->ranges = ranges;
	v->n_ranges = nr;

	/* density varies per run so pools get exhausted sometimes */
	uint32_t density = 1 + rnd(100);
	size_t nu = 0, ne = 0, nn = 0;
	for (uint32_t i = 0; i < MODEL_N; i++) {
		if (rnd(100) < density)
			used[nu++] = (struct ipam_used){base + i, i, IPAM_HOLDER_DEVICE};
		if (rnd(100) < 3)
			excl[ne++] = base + i;
		if (rnd(100) < 5)
			nbs[nn++] = (struct ipam_neighbour){base + i, rnd(4)}; /* many ties */
	}
	v->used = used;
	v->n_used = nu;
	v->excluded = excl;
	v->n_excluded = ne;
	v->neighbours = nbs;
	v->n_neighbours = nn;
	assert_int_equal(ipam_view_check(v, NULL, NULL), 0);

	/* Seed 001: on IPv6, a reserved range is where machines' static
	 * addresses come from, managed or not. */
	bool auto_reserved = !v->managed;
	for (size_t r = 0; r < nr; r++)
		if (v->prefix.addr.family == AF_INET6 && ranges[r].kind == IPAM_RANGE_RESERVED)
			auto_reserved = true;
	for (uint32_t i = 0; i < MODEL_N; i++) {
		m->usable[i] = base + i >= uf && base + i <= ul;
		int kind = -1;
		for (size_t r = 0; r < nr; r++)
			if (base + i >= ranges[r].first && base + i <= ranges[r].last)
				kind = (int)ranges[r].kind;
		m->in_auto[i] = m->usable[i] && (auto_reserved ? kind == IPAM_RANGE_RESERVED : kind < 0);
		m->in_dhcp[i] = m->usable[i] && v->managed && kind == IPAM_RANGE_DYNAMIC;
	}
	for (size_t k = 0; k < nu; k++)
		m->used_or_excl[used[k].addr - base] = true;
	for (size_t k = 0; k < ne; k++)
		m->used_or_excl[excl[k] - base] = true;
	for (size_t k = 0; k < nn; k++) {
		uint32_t i = (uint32_t)(nbs[k].addr - base);
		m->is_nb[i] = true;
		m->seen[i] = nbs[k].last_seen;
		m->nb_index[i] = k;
	}
	for (uint32_t i = 0; i < MODEL_N; i++)
		m->blocked[i] = m->used_or_excl[i] || m->is_nb[i];
}

static void model_check(const struct ipam_view *v, const struct model *m)
{
	u128 base = ipaddr_to_u128(&v->prefix.addr);
	const bool *pools[2] = {m->in_auto, m->in_dhcp};
	enum ipam_pool pool_ids[2] = {IPAM_POOL_AUTO, IPAM_POOL_DHCP};

	for (int p = 0; p < 2; p++) {
		const bool *in = pools[p];
		/* alloc from a few hints */
		for (int t = 0; t < 8; t++) {
			uint32_t from = t == 0 ? 0 : rnd(MODEL_N);
			long want = -1;
			for (uint32_t i = from; i < MODEL_N && want < 0; i++)
				if (in[i] && !m->blocked[i])
					want = i;
			for (uint32_t i = 0; i < from && want < 0; i++)
				if (in[i] && !m->blocked[i])
					want = i;
			bool recheck = false;
			if (want < 0) {
				for (uint32_t i = 0; i < MODEL_N; i++)
					if (in[i] && m->is_nb[i] && !m->used_or_excl[i] &&
					    (want < 0 || m->seen[i] < m->seen[want]))
						want = i;
				recheck = want >= 0;
			}
			struct ipam_alloc al;
			int r = ipam_alloc_next(v, pool_ids[p], base + from, &al);
			if (want < 0) {
				assert_int_equal(r, -ENOSPC);
			} else {
				assert_int_equal(r, 0);
				assert_int_equal((long)(al.addr - base), want);
				assert_int_equal(al.recheck, recheck);
				if (recheck)
					assert_int_equal(al.neighbour, m->nb_index[want]);
			}
		}
		/* free blocks in order, each maximal */
		struct ipam_free_iter it;
		struct ipam_block blk;
		uint32_t i = 0;
		ipam_free_iter_init(&it, v, pool_ids[p], base);
		for (;;) {
			while (i < MODEL_N && !(in[i] && !m->blocked[i]))
				i++;
			bool more = ipam_free_iter_next(&it, &blk);
			if (i == MODEL_N) {
				assert_false(more);
				break;
			}
			assert_true(more);
			uint32_t j = i;
			while (j + 1 < MODEL_N && in[j + 1] && !m->blocked[j + 1])
				j++;
			assert_int_equal((long)(blk.first - base), i);
			assert_int_equal((long)(blk.last - base), j);
			assert_true(blk.size == j - i + 1);
			i = j + 1;
		}
	}

	/* utilisation */
	struct ipam_utilisation u;
	uint64_t total = 0, used = 0, avail = 0, dtot = 0, davail = 0, best = 0, run = 0;
	long best_first = -1;
	for (uint32_t i = 0; i < MODEL_N; i++) {
		if (!m->usable[i])
			continue;
		total++;
		used += m->blocked[i];
		avail += m->in_auto[i] && !m->blocked[i];
		dtot += m->in_dhcp[i];
		davail += m->in_dhcp[i] && !m->blocked[i];
	}
	for (uint32_t i = 0; i < MODEL_N; i++) {
		run = m->in_auto[i] && !m->blocked[i] ? run + 1 : 0;
		if (run > best) {
			best = run;
			best_first = (long)(i - run + 1);
		}
	}
	ipam_utilisation(v, &u);
	assert_true(u.total == total);
	assert_true(u.used == used);
	assert_true(u.available == avail);
	assert_true(u.unavailable == total - avail);
	assert_true(u.dhcp_total == dtot);
	assert_true(u.dhcp_available == davail);
	assert_true(u.largest_free.size == best);
	if (best)
		assert_int_equal((long)(u.largest_free.first - base), best_first);
}

static void test_random_model(void **state)
{
	static struct ipam_range ranges[16];
	static struct ipam_used used[MODEL_N];
	static u128 excl[MODEL_N];
	static struct ipam_neighbour nbs[MODEL_N];
	static struct model m;
	static const char *const prefixes[] = {"10.50.0.0/22", "2001:db8:77::/118"};
	struct ipam_view v;

	for (int round = 0; round < 2000; round++) {
		random_view(&v, prefixes[round % 2], ranges, used, excl, nbs, &m);
		model_check(&v, &m);
	}
}

/* Duplicates within an array break the contract but must stay safe: nothing
 * blocked or outside the pool is ever handed out or listed as free, and the
 * utilisation counts stay exact. */
static void test_random_duplicates_safe(void **state)
{
	static struct ipam_range ranges[16];
	static struct ipam_used used[MODEL_N], dup[2 * MODEL_N];
	static u128 excl[MODEL_N];
	static struct ipam_neighbour nbs[MODEL_N];
	static struct model m;
	struct ipam_view v;

	for (int round = 0; round < 500; round++) {
		random_view(&v, round % 2 ? "10.60.0.0/22" : "2001:db8:66::/118", ranges, used, excl, nbs, &m);
		size_t n = 0;
		for (size_t i = 0; i < v.n_used; i++) {
			dup[n++] = used[i];
			if (rnd(3) == 0)
				dup[n++] = used[i];
		}
		v.used = dup;
		v.n_used = n;
		u128 base = ipaddr_to_u128(&v.prefix.addr);
		const bool *pools[2] = {m.in_auto, m.in_dhcp};
		enum ipam_pool ids[2] = {IPAM_POOL_AUTO, IPAM_POOL_DHCP};
		for (int p = 0; p < 2; p++) {
			struct ipam_alloc al;
			if (ipam_alloc_next(&v, ids[p], base + rnd(MODEL_N), &al) == 0) {
				size_t i = (size_t)(al.addr - base);
				assert_true(i < MODEL_N && pools[p][i]);
				assert_true(al.recheck ? !m.used_or_excl[i] : !m.blocked[i]);
			}
			struct ipam_free_iter it;
			struct ipam_block b;
			u128 prev_end = 0;
			bool first = true;
			ipam_free_iter_init(&it, &v, ids[p], 0);
			while (ipam_free_iter_next(&it, &b)) {
				assert_true(first || b.first > prev_end); /* ascending, disjoint */
				for (u128 a = b.first; a <= b.last; a++)
					assert_true(pools[p][a - base] && !m.blocked[a - base]);
				prev_end = b.last;
				first = false;
			}
		}
		struct ipam_utilisation u;
		uint64_t used_n = 0, avail = 0;
		for (uint32_t i = 0; i < MODEL_N; i++) {
			used_n += m.usable[i] && m.blocked[i];
			avail += m.in_auto[i] && !m.blocked[i];
		}
		ipam_utilisation(&v, &u);
		assert_true(u.used == used_n);
		assert_true(u.available == avail);
		const char *what = NULL;
		if (ipam_view_check(&v, NULL, &what) < 0) /* and the check names the problem */
			assert_string_equal(what, "duplicate used address");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random_model),
	    cmocka_unit_test(test_random_duplicates_safe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
