/* IPAM allocator: pools, free blocks, next-free and static checks.
 *
 * A pool is a union of intervals derived from the prefix's usable span and the
 * sorted ranges; the blocked addresses are three sorted point sets (used,
 * excluded, neighbours). Free blocks are found by walking pool intervals and
 * jumping over runs of consecutive blocked addresses with a binary search
 * (in a strictly ascending integer array, a[j] - a[i] == j - i holds exactly on
 * the run starting at i), so the cost depends on the number of ranges and runs,
 * never on the size of the prefix. */
#include <errno.h>
#include <string.h>

#include "region/ipam/internal.h"

void ipam_usable_span(const struct ipprefix *p, u128 *ret_first, u128 *ret_last)
{
	u128 span = ipprefix_span(p);
	u128 first = ipaddr_to_u128(&p->addr) & ~span;
	u128 last = first | span;
	unsigned bits = ipaddr_bits(&p->addr);

	/* span < 2: /31 /32 /127 /128 keep every address (RFC 3021, RFC 6164) */
	if (span >= 2) {
		first++; /* v4 network address; v6 Subnet-Router anycast */
		if (bits == 32)
			last--; /* v4 broadcast */
	}
	*ret_first = first;
	*ret_last = last;
}

bool ipam_is_usable(const struct ipprefix *p, u128 a)
{
	u128 first, last;

	ipam_usable_span(p, &first, &last);
	return a >= first && a <= last;
}

/* --- point sets ----------------------------------------------------------- */

void ipam_view_pts(const struct ipam_view *v, struct ipam_pts ret[IPAM_N_PTS])
{
	ret[0] = (struct ipam_pts){(const unsigned char *)v->used, v->used ? v->n_used : 0, sizeof(*v->used)};
	ret[1] = (struct ipam_pts){(const unsigned char *)v->excluded, v->excluded ? v->n_excluded : 0,
				   sizeof(*v->excluded)};
	ret[2] = (struct ipam_pts){(const unsigned char *)v->neighbours, v->neighbours ? v->n_neighbours : 0,
				   sizeof(*v->neighbours)};
}

size_t ipam_pts_lower_bound(const struct ipam_pts *p, u128 x)
{
	size_t lo = 0, hi = p->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ipam_pts_at(p, mid) < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool ipam_pts_has(const struct ipam_pts *p, u128 x, size_t *ret_index)
{
	size_t i = ipam_pts_lower_bound(p, x);

	if (i < p->n && ipam_pts_at(p, i) == x) {
		if (ret_index)
			*ret_index = i;
		return true;
	}
	return false;
}

bool ipam_is_blocked(const struct ipam_view *v, u128 x)
{
	struct ipam_pts pts[IPAM_N_PTS];

	ipam_view_pts(v, pts);
	for (int k = 0; k < IPAM_N_PTS; k++)
		if (ipam_pts_has(&pts[k], x, NULL))
			return true;
	return false;
}

/* The last index of the run of consecutive addresses starting at index i. */
static size_t pts_run_end(const struct ipam_pts *p, size_t i)
{
	u128 base = ipam_pts_at(p, i);
	size_t lo = i, hi = p->n - 1;

	while (lo < hi) {
		size_t mid = lo + (hi - lo + 1) / 2;
		if (ipam_pts_at(p, mid) - base == (u128)(mid - i))
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* The lowest address in [x, limit] in none of the point sets. */
static bool first_unblocked(const struct ipam_pts pts[IPAM_N_PTS], u128 x, u128 limit, u128 *ret)
{
	bool moved = true;

	while (moved) {
		moved = false;
		for (int k = 0; k < IPAM_N_PTS; k++) {
			size_t i = ipam_pts_lower_bound(&pts[k], x);
			if (i == pts[k].n || ipam_pts_at(&pts[k], i) != x)
				continue;
			u128 end = ipam_pts_at(&pts[k], pts_run_end(&pts[k], i));
			if (end >= limit)
				return false;
			x = end + 1;
			moved = true;
		}
	}
	*ret = x;
	return true;
}

/* The lowest blocked address >= x, if any. */
static bool next_blocked(const struct ipam_pts pts[IPAM_N_PTS], u128 x, u128 *ret)
{
	bool found = false;

	for (int k = 0; k < IPAM_N_PTS; k++) {
		size_t i = ipam_pts_lower_bound(&pts[k], x);
		if (i == pts[k].n)
			continue;
		u128 a = ipam_pts_at(&pts[k], i);
		if (!found || a < *ret)
			*ret = a;
		found = true;
	}
	return found;
}

/* --- ranges and pools ----------------------------------------------------- */

/* First range whose last is >= x (ranges are sorted and disjoint, so their
 * ends ascend too). */
static size_t range_lower_bound(const struct ipam_view *v, u128 x)
{
	size_t lo = 0, hi = v->ranges ? v->n_ranges : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v->ranges[mid].last < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

ptrdiff_t ipam_range_find(const struct ipam_view *v, u128 a)
{
	size_t i = range_lower_bound(v, a);

	if (v->ranges && i < v->n_ranges && v->ranges[i].first <= a)
		return (ptrdiff_t)i;
	return -1;
}

/* Usable addresses outside every range, at or after x. */
static bool segment_outside_ranges(const struct ipam_view *v, u128 x, u128 uf, u128 ul, u128 *ret_first,
				   u128 *ret_last)
{
	size_t n = v->ranges ? v->n_ranges : 0;
	size_t i;

	if (x < uf)
		x = uf;
	if (x > ul)
		return false;
	for (i = range_lower_bound(v, x); i < n && v->ranges[i].first <= x; i++) {
		if (v->ranges[i].last >= ul)
			return false;
		x = v->ranges[i].last + 1;
	}
	u128 end = ul;
	if (i < n && v->ranges[i].first - 1 < end)
		end = v->ranges[i].first - 1;
	*ret_first = x;
	*ret_last = end;
	return true;
}

/* Usable addresses inside ranges of one kind, at or after x; adjacent ranges
 * of that kind are merged so blocks come out maximal. */
static bool segment_inside_ranges(const struct ipam_view *v, enum ipam_range_kind kind, u128 x, u128 uf, u128 ul,
				  u128 *ret_first, u128 *ret_last)
{
	size_t n = v->ranges ? v->n_ranges : 0;

	if (x < uf)
		x = uf;
	if (x > ul)
		return false;
	for (size_t i = range_lower_bound(v, x); i < n; i++) {
		const struct ipam_range *r = &v->ranges[i];
		if (r->first > ul)
			break;
		if (r->kind != kind)
			continue;
		u128 s = r->first > x ? r->first : x;
		u128 e = r->last < ul ? r->last : ul;
		if (s > e)
			continue;
		while (e < ul && i + 1 < n && v->ranges[i + 1].kind == kind && v->ranges[i + 1].first == e + 1) {
			i++;
			e = v->ranges[i].last < ul ? v->ranges[i].last : ul;
		}
		*ret_first = s;
		*ret_last = e;
		return true;
	}
	return false;
}

bool ipam_pool_segment(const struct ipam_view *v, enum ipam_pool pool, u128 x, u128 *ret_first, u128 *ret_last)
{
	u128 uf, ul;

	ipam_usable_span(&v->prefix, &uf, &ul);
	switch (pool) {
	case IPAM_POOL_USABLE:
		if (x > ul)
			return false;
		*ret_first = x > uf ? x : uf;
		*ret_last = ul;
		return true;
	case IPAM_POOL_AUTO:
		if (v->managed)
			return segment_outside_ranges(v, x, uf, ul, ret_first, ret_last);
		return segment_inside_ranges(v, IPAM_RANGE_RESERVED, x, uf, ul, ret_first, ret_last);
	case IPAM_POOL_DHCP:
		if (!v->managed)
			return false;
		return segment_inside_ranges(v, IPAM_RANGE_DYNAMIC, x, uf, ul, ret_first, ret_last);
	}
	return false;
}

bool ipam_pool_has(const struct ipam_view *v, enum ipam_pool pool, u128 a)
{
	u128 s, e;

	return ipam_pool_segment(v, pool, a, &s, &e) && s == a;
}

/* --- free blocks ---------------------------------------------------------- */

int ipam_free_block_next(const struct ipam_view *v, enum ipam_pool pool, u128 from, struct ipam_block *ret)
{
	struct ipam_pts pts[IPAM_N_PTS];
	u128 x = from, s, e;

	ipam_view_pts(v, pts);
	while (ipam_pool_segment(v, pool, x, &s, &e)) {
		u128 first, nb;
		if (!first_unblocked(pts, s, e, &first)) {
			if (e == (u128)-1)
				break;
			x = e + 1; /* this stretch is fully blocked; try the next */
			continue;
		}
		u128 last = e;
		if (next_blocked(pts, first, &nb) && nb <= e)
			last = nb - 1; /* nb > first: first is not blocked */
		ret->first = first;
		ret->last = last;
		ret->size = last - first + 1;
		return 0;
	}
	return -ENOENT;
}

void ipam_free_iter_init(struct ipam_free_iter *it, const struct ipam_view *v, enum ipam_pool pool, u128 from)
{
	*it = (struct ipam_free_iter){.view = v, .pool = pool, .next = from, .done = false};
}

bool ipam_free_iter_next(struct ipam_free_iter *it, struct ipam_block *ret)
{
	if (it->done || ipam_free_block_next(it->view, it->pool, it->next, ret) < 0) {
		it->done = true;
		return false;
	}
	if (ret->last == (u128)-1)
		it->done = true;
	else
		it->next = ret->last + 1;
	return true;
}

/* --- allocation ----------------------------------------------------------- */

/* The least recently seen neighbour in the pool that nothing else holds. */
static bool oldest_neighbour(const struct ipam_view *v, enum ipam_pool pool, size_t *ret)
{
	struct ipam_pts pts[IPAM_N_PTS];
	bool found = false;
	size_t n = v->neighbours ? v->n_neighbours : 0;

	ipam_view_pts(v, pts);
	for (size_t i = 0; i < n; i++) {
		const struct ipam_neighbour *nb = &v->neighbours[i];
		if (found && nb->last_seen >= v->neighbours[*ret].last_seen)
			continue;
		if (!ipam_pool_has(v, pool, nb->addr) || ipam_pts_has(&pts[0], nb->addr, NULL) ||
		    ipam_pts_has(&pts[1], nb->addr, NULL))
			continue;
		*ret = i;
		found = true;
	}
	return found;
}

int ipam_alloc_next(const struct ipam_view *v, enum ipam_pool pool, u128 from, struct ipam_alloc *ret)
{
	struct ipam_block b;
	size_t i;

	memset(ret, 0, sizeof(*ret));
	if (ipam_free_block_next(v, pool, from, &b) == 0 || (from > 0 && ipam_free_block_next(v, pool, 0, &b) == 0)) {
		ret->addr = b.first;
		return 0;
	}
	if (!oldest_neighbour(v, pool, &i))
		return -ENOSPC;
	ret->addr = v->neighbours[i].addr;
	ret->recheck = true;
	ret->neighbour = i;
	ret->last_seen = v->neighbours[i].last_seen;
	return 0;
}

/* --- static assignment ---------------------------------------------------- */

int ipam_static_check(const struct ipam_view *v, u128 a, struct ipam_static_check *ret)
{
	struct ipam_pts pts[IPAM_N_PTS];
	u128 span = ipprefix_span(&v->prefix);
	u128 net = ipaddr_to_u128(&v->prefix.addr) & ~span;
	size_t i;

	memset(ret, 0, sizeof(*ret));
	ipam_view_pts(v, pts);
	if (ipam_pts_has(&pts[2], a, &i)) {
		ret->seen_on_wire = true;
		ret->last_seen = v->neighbours[i].last_seen;
	}
	if ((a & ~span) != net) {
		ret->verdict = IPAM_STATIC_OUTSIDE_SUBNET;
		return -ERANGE;
	}
	if (!ipam_is_usable(&v->prefix, a)) {
		ret->verdict = IPAM_STATIC_NOT_USABLE;
		return -EADDRNOTAVAIL;
	}
	ptrdiff_t r = ipam_range_find(v, a);
	if (r >= 0 && v->ranges[r].kind == IPAM_RANGE_DYNAMIC) {
		ret->verdict = IPAM_STATIC_IN_DYNAMIC;
		ret->range = (size_t)r;
		return -EBUSY;
	}
	if (ipam_pts_has(&pts[0], a, &i)) {
		ret->verdict = IPAM_STATIC_IN_USE;
		ret->holder = i;
		return -EADDRINUSE;
	}
	if (ipam_pts_has(&pts[1], a, NULL)) {
		ret->verdict = IPAM_STATIC_EXCLUDED;
		return -EADDRINUSE;
	}
	ret->verdict = IPAM_STATIC_OK;
	return 0;
}
