/* Helpers shared by the IPAM engine unit tests (test_ipam*.c): parse
 * addresses and prefixes, build a view, check allocation answers. */
#pragma once

#include <string.h>

#include "region/ipam/ipam.h"

static inline u128 A(const char *s)
{
	struct ipaddr a;

	assert_int_equal(ipaddr_parse(s, &a), 0);
	return ipaddr_to_u128(&a);
}

static inline struct ipprefix P(const char *s) {
	struct ipprefix p;

	assert_int_equal(ipprefix_parse(s, true, &p), 0);
	return p;
}

/* Compare an address with its text, so failures print both. */
static inline void
check_addr(const struct ipam_view *v, u128 got, const char *want)
{
	struct ipaddr a;
	char buf[IPADDR_STRLEN];

	ipaddr_from_u128(v->prefix.addr.family, got, &a);
	assert_string_equal(ipaddr_format(&a, buf, sizeof(buf)), want);
}

static inline void check_u128(u128 got, u128 want)
{
	char g[IPAM_U128_STRLEN], w[IPAM_U128_STRLEN];

	assert_string_equal(ipam_u128_format(got, g, sizeof(g)), ipam_u128_format(want, w, sizeof(w)));
}

/* A view with room for a few of everything. */
struct vb {
	struct ipam_view v;
	struct ipam_range ranges[16];
	struct ipam_used used[64];
	u128 excluded[16];
	struct ipam_neighbour nb[16];
};

static inline void vb_init(struct vb *b, const char *prefix, bool managed)
{
	memset(b, 0, sizeof(*b));
	b->v.prefix = P(prefix);
	b->v.managed = managed;
	b->v.ranges = b->ranges;
	b->v.used = b->used;
	b->v.excluded = b->excluded;
	b->v.neighbours = b->nb;
}

static inline void vb_range(struct vb *b, const char *first, const char *last, enum ipam_range_kind kind)
{
	b->ranges[b->v.n_ranges++] = (struct ipam_range){A(first), A(last), kind};
}

static inline void vb_used(struct vb *b, const char *a, int64_t holder_id)
{
	b->used[b->v.n_used++] = (struct ipam_used){A(a), holder_id, IPAM_HOLDER_MACHINE};
}

static inline void vb_excl(struct vb *b, const char *a)
{
	b->excluded[b->v.n_excluded++] = A(a);
}

static inline void vb_nb(struct vb *b, const char *a, int64_t seen)
{
	b->nb[b->v.n_neighbours++] = (struct ipam_neighbour){A(a), seen};
}

/* Sort everything and insist the view is well-formed. */
static inline void vb_done(struct vb *b)
{
	size_t idx;
	const char *what = NULL;

	ipam_sort_ranges(b->ranges, b->v.n_ranges);
	ipam_sort_used(b->used, b->v.n_used);
	ipam_sort_addrs(b->excluded, b->v.n_excluded);
	ipam_sort_neighbours(b->nb, b->v.n_neighbours);
	if (ipam_view_check(&b->v, &idx, &what) != 0)
		fail_msg("view invalid: %s at %zu", what, idx);
}

static inline void alloc_is(const struct ipam_view *v, enum ipam_pool pool, u128 from, const char *want, bool recheck)
{
	struct ipam_alloc al;

	assert_int_equal(ipam_alloc_next(v, pool, from, &al), 0);
	check_addr(v, al.addr, want);
	assert_int_equal(al.recheck, recheck);
}
