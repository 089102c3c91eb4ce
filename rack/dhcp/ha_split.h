/* DHCP HA: who owns which free addresses (docs/dhcp-ha.md "Terms": Share;
 * NORMAL: rebalance).
 *
 * Initial split: the primary owns the lower half of every dynamic range
 * (the larger half when the size is odd), the secondary the upper. The
 * shell applies it with lease_store_pool_set_owner() once, when the rack
 * first serves the range in a pair; later config pushes must not reapply
 * it over a rebalanced split.
 *
 * Rebalance (NORMAL only): a rack whose free share of a range falls below
 * half of the partner's asks for half the difference (PoolRequest). The
 * partner gives whole free sub-ranges of its own share, from the top of
 * the range down, never so many that it becomes the shorter one, marks
 * them PEER durably, then sends them (PoolGrant).
 *
 * Pure: no I/O, no store access. Addresses in host byte order. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "rack/dhcp/ha_hash.h"
#include "rack/dhcp/leases.h"

struct ha_span {
	uint32_t first, last; /* inclusive */
};

struct ha_owner_span {
	uint32_t first, last;
	enum lease_owner owner; /* from this rack's point of view */
};

/* The initial split of [first, last] for a rack of `role`, as owner spans
 * to apply in order: 1 or 2 of them in ret. Returns how many, or -EINVAL
 * (first > last, or 0 in the range). */
int ha_split_initial(uint32_t first, uint32_t last, enum ha_role role, struct ha_owner_span ret[2]);

/* How many free addresses to ask the partner for in one range: half the
 * difference when mine < partner's / 2, else 0. */
uint32_t ha_rebalance_ask(uint32_t my_free, uint32_t partner_free);

/* Of a request for `asked`, how many the giver gives: at most asked, and
 * at most half the difference (so the giver stays at least as well off).
 * my_free is the giver's free count, partner_free the asker's. */
uint32_t ha_rebalance_give(uint32_t asked, uint32_t my_free, uint32_t partner_free);

/* Which of the giver's free runs to give for `count` addresses: runs
 * (sorted, disjoint, each wholly free and the giver's) are cut from the
 * top down. At most max spans go to ret; returns how many, and the number
 * of addresses they hold in *ret_total (<= count). -EINVAL if the runs are
 * not sorted and disjoint or a run has first > last. */
int ha_rebalance_plan(const struct ha_span *runs, size_t n_runs, uint32_t count, struct ha_span *ret, size_t max,
		      uint32_t *ret_total);

/* Number of addresses in a span (1..2^32). */
uint64_t ha_span_size(const struct ha_span *s);
