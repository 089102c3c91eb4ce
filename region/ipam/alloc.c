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
#include <sys/socket.h>

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

/* A sweep over the three blocked sets with one cursor per set. Queries made
 * through one scan must ask for non-decreasing addresses; cursors then only
 * move forward, by galloping (exponential then binary search), so a sweep
 * costs O(log distance) per step and a whole pass is linear in the sets. */
struct scan {
	struct ipam_pts pts[IPAM_N_PTS];
	size_t pos[IPAM_N_PTS];
	u128 uf, ul; /* the usable span, computed once */
};

static void scan_init(struct scan *sc, const struct ipam_view *v, u128 x)
{
	ipam_usable_span(&v->prefix, &sc->uf, &sc->ul);
	ipam_view_pts(v, sc->pts);
	for (int k = 0; k < IPAM_N_PTS; k++)
		sc->pos[k] = ipam_pts_lower_bound(&sc->pts[k], x);
}

/* First index >= pos whose address is >= x. */
static size_t gallop(const struct ipam_pts *p, size_t pos, u128 x)
{
	size_t lo, hi, step = 1;

	if (pos >= p->n || ipam_pts_at(p, pos) >= x)
		return pos;
	lo = pos; /* invariant: at(lo) < x */
	while (lo + step < p->n && ipam_pts_at(p, lo + step) < x) {
		lo += step;
		step *= 2;
	}
	hi = lo + step < p->n ? lo + step : p->n; /* at(hi) >= x, or hi == n */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (ipam_pts_at(p, mid) < x)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

/* The last index of the run of consecutive addresses starting at index i: in
 * a strictly ascending array at(j) - at(i) == j - i holds exactly on it. */
static size_t run_end(const struct ipam_pts *p, size_t i)
{
	u128 base = ipam_pts_at(p, i);
	size_t lo = i, hi, step = 1;

	while (lo + step < p->n && ipam_pts_at(p, lo + step) - base == (u128)(lo + step - i)) {
		lo += step;
		step *= 2;
	}
	hi = lo + step < p->n ? lo + step : p->n; /* the run ends before hi */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (ipam_pts_at(p, mid) - base == (u128)(mid - i))
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* The lowest address in [x, limit] in none of the sets. */
static bool scan_first_unblocked(struct scan *sc, u128 x, u128 limit, u128 *ret)
{
	bool moved = true;

	while (moved) {
		moved = false;
		for (int k = 0; k < IPAM_N_PTS; k++) {
			const struct ipam_pts *p = &sc->pts[k];
			size_t i = sc->pos[k] = gallop(p, sc->pos[k], x);
			if (i == p->n || ipam_pts_at(p, i) != x)
				continue;
			size_t j = run_end(p, i);
			u128 end = ipam_pts_at(p, j);
			if (end >= limit)
				return false; /* the run may reach into the next stretch: keep the cursor at its start
					       */
			sc->pos[k] = j + 1;
			x = end + 1;
			moved = true;
		}
	}
	*ret = x;
	return true;
}

/* The lowest blocked address >= x, if any. */
static bool scan_next_blocked(struct scan *sc, u128 x, u128 *ret)
{
	bool found = false;
	u128 best = 0;

	for (int k = 0; k < IPAM_N_PTS; k++) {
		size_t i = sc->pos[k] = gallop(&sc->pts[k], sc->pos[k], x);
		if (i == sc->pts[k].n)
			continue;
		u128 a = ipam_pts_at(&sc->pts[k], i);
		if (!found || a < best)
			best = a;
		found = true;
	}
	*ret = best;
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
static bool segment_outside_ranges(const struct ipam_view *v, u128 x, u128 uf, u128 ul, u128 *ret_first, u128 *ret_last)
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

bool ipam_auto_in_reserved(const struct ipam_view *v)
{
	size_t n = v->ranges ? v->n_ranges : 0;

	if (!v->managed)
		return true;
	if (v->prefix.addr.family != AF_INET6)
		return false;
	for (size_t i = 0; i < n; i++)
		if (v->ranges[i].kind == IPAM_RANGE_RESERVED)
			return true;
	return false;
}

static bool pool_segment(const struct ipam_view *v, enum ipam_pool pool, u128 x, u128 uf, u128 ul, u128 *ret_first,
			 u128 *ret_last)
{
	switch (pool) {
	case IPAM_POOL_UNRANGED:
		return segment_outside_ranges(v, x, uf, ul, ret_first, ret_last);
	case IPAM_POOL_USABLE:
		if (x > ul)
			return false;
		*ret_first = x > uf ? x : uf;
		*ret_last = ul;
		return true;
	case IPAM_POOL_AUTO:
		if (!ipam_auto_in_reserved(v))
			return segment_outside_ranges(v, x, uf, ul, ret_first, ret_last);
		return segment_inside_ranges(v, IPAM_RANGE_RESERVED, x, uf, ul, ret_first, ret_last);
	case IPAM_POOL_DHCP:
		if (!v->managed)
			return false;
		return segment_inside_ranges(v, IPAM_RANGE_DYNAMIC, x, uf, ul, ret_first, ret_last);
	}
	return false;
}

bool ipam_pool_segment(const struct ipam_view *v, enum ipam_pool pool, u128 x, u128 *ret_first, u128 *ret_last)
{
	u128 uf, ul;

	ipam_usable_span(&v->prefix, &uf, &ul);
	return pool_segment(v, pool, x, uf, ul, ret_first, ret_last);
}

bool ipam_pool_has(const struct ipam_view *v, enum ipam_pool pool, u128 a)
{
	u128 s, e;

	return ipam_pool_segment(v, pool, a, &s, &e) && s == a;
}

/* --- free blocks ---------------------------------------------------------- */

/* The first free block of the pool ending at or after from, found through sc
 * (so successive calls with growing from reuse its cursors). */
static int scan_free_block(struct scan *sc, const struct ipam_view *v, enum ipam_pool pool, u128 from,
			   struct ipam_block *ret)
{
	u128 x = from, s, e;

	while (pool_segment(v, pool, x, sc->uf, sc->ul, &s, &e)) {
		u128 first, nb;
		if (!scan_first_unblocked(sc, s, e, &first)) {
			if (e == (u128)-1)
				break;
			x = e + 1; /* this stretch is fully blocked; try the next */
			continue;
		}
		u128 last = e;
		if (scan_next_blocked(sc, first, &nb) && nb <= e)
			last = nb - 1; /* nb > first: first is not blocked */
		ret->first = first;
		ret->last = last;
		ret->size = last - first + 1;
		return 0;
	}
	return -ENOENT;
}

int ipam_free_block_next(const struct ipam_view *v, enum ipam_pool pool, u128 from, struct ipam_block *ret)
{
	struct scan sc;

	scan_init(&sc, v, from);
	return scan_free_block(&sc, v, pool, from, ret);
}

void ipam_largest_free(const struct ipam_view *v, enum ipam_pool pool, struct ipam_block *ret)
{
	struct scan sc;
	struct ipam_block b;
	u128 from = 0;

	memset(ret, 0, sizeof(*ret));
	scan_init(&sc, v, from);
	while (scan_free_block(&sc, v, pool, from, &b) == 0) {
		if (b.size > ret->size)
			*ret = b;
		if (b.last == (u128)-1)
			break;
		from = b.last + 1;
	}
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
	size_t i = 0;

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
