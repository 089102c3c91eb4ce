/* IPAM engine: view validation and sorting, utilisation, suggestions. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "region/ipam/internal.h"

/* --- view checks ---------------------------------------------------------- */

static int fail(size_t i, const char *what, size_t *ret_index, const char **ret_what)
{
	if (ret_index)
		*ret_index = i;
	if (ret_what)
		*ret_what = what;
	return -EINVAL;
}

/* Strictly ascending addresses; 0 or the index of the first offender. */
static int check_pts(const struct ipam_pts *p, const char *unsorted, const char *dup, size_t *ret_index,
		     const char **ret_what)
{
	for (size_t i = 1; i < p->n; i++) {
		u128 a = ipam_pts_at(p, i - 1), b = ipam_pts_at(p, i);
		if (b < a)
			return fail(i, unsorted, ret_index, ret_what);
		if (b == a)
			return fail(i, dup, ret_index, ret_what);
	}
	return 0;
}

static int check_ranges(const struct ipam_view *v, size_t *ret_index, const char **ret_what)
{
	u128 span = ipprefix_span(&v->prefix);
	u128 net = ipaddr_to_u128(&v->prefix.addr) & ~span;
	size_t n = v->ranges ? v->n_ranges : 0;

	for (size_t i = 0; i < n; i++) {
		const struct ipam_range *r = &v->ranges[i];
		if (r->kind != IPAM_RANGE_RESERVED && r->kind != IPAM_RANGE_DYNAMIC)
			return fail(i, "bad range kind", ret_index, ret_what);
		if (r->first > r->last)
			return fail(i, "range start after end", ret_index, ret_what);
		if ((r->first & ~span) != net || (r->last & ~span) != net)
			return fail(i, "range outside subnet", ret_index, ret_what);
		if (i == 0)
			continue;
		if (r->first < v->ranges[i - 1].first)
			return fail(i, "ranges not sorted", ret_index, ret_what);
		if (r->first <= v->ranges[i - 1].last)
			return fail(i, "ranges overlap", ret_index, ret_what);
	}
	return 0;
}

int ipam_view_check(const struct ipam_view *v, size_t *ret_index, const char **ret_what)
{
	struct ipam_pts pts[IPAM_N_PTS];
	struct ipprefix norm;
	int r;

	if (ipprefix_make(&v->prefix.addr, v->prefix.len, &norm) < 0)
		return fail(0, "bad prefix", ret_index, ret_what);
	if (!ipaddr_equal(&norm.addr, &v->prefix.addr))
		return fail(0, "prefix has host bits set", ret_index, ret_what);
	r = check_ranges(v, ret_index, ret_what);
	if (r < 0)
		return r;
	ipam_view_pts(v, pts);
	r = check_pts(&pts[0], "used not sorted", "duplicate used address", ret_index, ret_what);
	if (r == 0)
		r = check_pts(&pts[1], "excluded not sorted", "duplicate excluded address", ret_index, ret_what);
	if (r == 0)
		r = check_pts(&pts[2], "neighbours not sorted", "duplicate neighbour address", ret_index, ret_what);
	return r;
}

/* --- sorting -------------------------------------------------------------- */

static int cmp_u128(u128 a, u128 b)
{
	return (a > b) - (a < b);
}

static int cmp_range(const void *a, const void *b)
{
	return cmp_u128(((const struct ipam_range *)a)->first, ((const struct ipam_range *)b)->first);
}

static int cmp_used(const void *a, const void *b)
{
	return cmp_u128(((const struct ipam_used *)a)->addr, ((const struct ipam_used *)b)->addr);
}

static int cmp_addr(const void *a, const void *b)
{
	return cmp_u128(*(const u128 *)a, *(const u128 *)b);
}

static int cmp_neighbour(const void *a, const void *b)
{
	return cmp_u128(((const struct ipam_neighbour *)a)->addr, ((const struct ipam_neighbour *)b)->addr);
}

void ipam_sort_ranges(struct ipam_range *r, size_t n)
{
	if (n > 1)
		qsort(r, n, sizeof(*r), cmp_range);
}

void ipam_sort_used(struct ipam_used *u, size_t n)
{
	if (n > 1)
		qsort(u, n, sizeof(*u), cmp_used);
}

void ipam_sort_addrs(u128 *a, size_t n)
{
	if (n > 1)
		qsort(a, n, sizeof(*a), cmp_addr);
}

void ipam_sort_neighbours(struct ipam_neighbour *nb, size_t n)
{
	if (n > 1)
		qsort(nb, n, sizeof(*nb), cmp_neighbour);
}

/* --- utilisation ---------------------------------------------------------- */

/* Addresses of range r that are usable. */
static u128 range_usable(const struct ipam_range *r, u128 uf, u128 ul)
{
	u128 s = r->first > uf ? r->first : uf;
	u128 e = r->last < ul ? r->last : ul;

	return s <= e ? e - s + 1 : 0;
}

/* Count distinct blocked usable addresses: all of them, those in the AUTO
 * pool and those in the DHCP pool. A three-way merge of the sorted sets. */
static void count_blocked(const struct ipam_view *v, u128 uf, u128 ul, u128 *ret_all, u128 *ret_auto, u128 *ret_dhcp)
{
	struct ipam_pts pts[IPAM_N_PTS];
	size_t pos[IPAM_N_PTS];
	u128 all = 0, in_auto = 0, in_dhcp = 0;
	bool auto_reserved = ipam_auto_in_reserved(v);

	ipam_view_pts(v, pts);
	for (int k = 0; k < IPAM_N_PTS; k++)
		pos[k] = ipam_pts_lower_bound(&pts[k], uf);
	for (;;) {
		bool any = false;
		u128 a = 0;
		for (int k = 0; k < IPAM_N_PTS; k++) {
			if (pos[k] < pts[k].n && (!any || ipam_pts_at(&pts[k], pos[k]) < a)) {
				a = ipam_pts_at(&pts[k], pos[k]);
				any = true;
			}
		}
		if (!any || a > ul)
			break;
		for (int k = 0; k < IPAM_N_PTS; k++)
			while (pos[k] < pts[k].n && ipam_pts_at(&pts[k], pos[k]) == a)
				pos[k]++;
		all++;
		ptrdiff_t r = ipam_range_find(v, a);
		enum ipam_range_kind kind = r >= 0 ? v->ranges[r].kind : IPAM_RANGE_RESERVED;
		if (auto_reserved ? (r >= 0 && kind == IPAM_RANGE_RESERVED) : r < 0)
			in_auto++;
		if (v->managed && r >= 0 && kind == IPAM_RANGE_DYNAMIC)
			in_dhcp++;
	}
	*ret_all = all;
	*ret_auto = in_auto;
	*ret_dhcp = in_dhcp;
}

void ipam_utilisation(const struct ipam_view *v, struct ipam_utilisation *ret)
{
	u128 uf, ul, reserved = 0, reserved_kind = 0, dynamic = 0, blocked, blocked_auto, blocked_dhcp, auto_size;
	size_t n = v->ranges ? v->n_ranges : 0;

	memset(ret, 0, sizeof(*ret));
	ipam_usable_span(&v->prefix, &uf, &ul);
	for (size_t i = 0; i < n; i++) {
		u128 c = range_usable(&v->ranges[i], uf, ul);
		reserved += c;
		if (v->ranges[i].kind == IPAM_RANGE_DYNAMIC)
			dynamic += c;
		else
			reserved_kind += c;
	}
	count_blocked(v, uf, ul, &blocked, &blocked_auto, &blocked_dhcp);

	ret->total = ul - uf + 1;
	ret->used = blocked;
	ret->reserved = reserved;
	auto_size = ipam_auto_in_reserved(v) ? reserved_kind : ret->total - reserved;
	ret->available = auto_size - blocked_auto;
	ret->unavailable = ret->total - ret->available;
	ret->used_pct = ret->total ? (double)ret->unavailable * 100.0 / (double)ret->total : 0.0;
	if (v->managed) {
		ret->dhcp_total = dynamic;
		ret->dhcp_available = dynamic - blocked_dhcp;
	}
	ipam_largest_free(v, IPAM_POOL_AUTO, &ret->largest_free);
}

/* --- suggestions ---------------------------------------------------------- */

static bool has_dynamic_range(const struct ipam_view *v)
{
	size_t n = v->ranges ? v->n_ranges : 0;

	for (size_t i = 0; i < n; i++)
		if (v->ranges[i].kind == IPAM_RANGE_DYNAMIC)
			return true;
	return false;
}

void ipam_suggest(const struct ipam_view *v, struct ipam_suggestion *ret)
{
	u128 uf, ul;
	struct ipam_block b;

	memset(ret, 0, sizeof(*ret));
	ipam_usable_span(&v->prefix, &uf, &ul);
	if (uf != ul) {
		ret->has_gateway = true;
		ret->gateway = uf;
	}
	if (!v->managed || has_dynamic_range(v))
		return;
	/* Where no range is yet: with the IPv6 rule the AUTO pool is inside
	 * the reserved ranges, and a dynamic range cannot overlap them. */
	ipam_largest_free(v, IPAM_POOL_UNRANGED, &b);
	if (b.size < 4)
		return;
	/* the upper half, rounded up: size/2 + size%2 cannot overflow */
	u128 half = b.size / 2 + (b.size & 1);
	ret->has_dynamic = true;
	ret->dynamic_first = b.last - half + 1;
	ret->dynamic_last = b.last;
}

/* --- formatting ----------------------------------------------------------- */

const char *ipam_u128_format(u128 v, char *buf, size_t len)
{
	char tmp[IPAM_U128_STRLEN];
	size_t i = sizeof(tmp) - 1;

	tmp[i] = '\0';
	do {
		tmp[--i] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v > 0);
	if (len > 0) {
		size_t n = sizeof(tmp) - 1 - i;
		if (n >= len)
			n = len - 1;
		memcpy(buf, tmp + i, n);
		buf[n] = '\0';
	}
	return buf;
}
