/* Internal helpers shared by the IPAM engine's files. Not for callers. */
#pragma once

#include <string.h>

#include "region/ipam/ipam.h"

/* A sorted array of addresses, possibly the first member of larger structs
 * (struct ipam_used, struct ipam_neighbour): element i's address is at
 * base + i * stride. */
struct ipam_pts {
	const unsigned char *base;
	size_t n;
	size_t stride;
};

/* The view's three blocked-address sets: used, excluded, neighbours. */
#define IPAM_N_PTS 3
void ipam_view_pts(const struct ipam_view *v, struct ipam_pts ret[IPAM_N_PTS]);

static inline u128 ipam_pts_at(const struct ipam_pts *p, size_t i)
{
	u128 a;

	memcpy(&a, p->base + i * p->stride, sizeof(a));
	return a;
}

/* First index whose address is >= x (n when none). */
size_t ipam_pts_lower_bound(const struct ipam_pts *p, u128 x);
/* Is x in the set? */
bool ipam_pts_has(const struct ipam_pts *p, u128 x, size_t *ret_index);

/* The first stretch [*ret_first, *ret_last] of the pool at or after x,
 * *ret_first >= x, maximal (adjacent ranges of the pool's kind merged).
 * false when the pool has no address at or after x. */
bool ipam_pool_segment(const struct ipam_view *v, enum ipam_pool pool, u128 x, u128 *ret_first, u128 *ret_last);
/* Is a in the pool (ignoring blocked sets)? */
bool ipam_pool_has(const struct ipam_view *v, enum ipam_pool pool, u128 a);

/* The largest free block of a pool (lowest on ties; size 0 when none), in one
 * linear sweep. */
void ipam_largest_free(const struct ipam_view *v, enum ipam_pool pool, struct ipam_block *ret);
