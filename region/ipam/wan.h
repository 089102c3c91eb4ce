/* WAN addressing engine (MetalSoft, seed 000 "Adding more IPs").
 *
 * "MetalSoft allocates entire subnets to infrastructures not just individual
 * IPs. By default a /29 IPv4 block is allocated that is automatically expanded
 * (to a /28, /27 etc if more IPs are needed) or a new subnet is automatically
 * created. If additional ips are required (for example for Kubernetes services
 * via MetalLB) they can be ordered."
 *
 * Pure: the caller passes the pool (parent prefixes and every block already
 * taken from them, by any WAN) and gets back a *plan*; it applies the plan in
 * its own transaction. IPv4 only (-EAFNOSUPPORT for v6 input).
 *
 * Placement policy (document of record):
 *  - A new WAN's /29 goes to the lowest free /29 whose buddy /29 is also free
 *    (the lower half of the lowest free /28), so it can grow once without
 *    moving; when no such /28 exists, the lowest free /29.
 *  - Growth is by buddy: block B (/n) grows to its enclosing /n-1 when the
 *    other half (the buddy) is entirely free and the enclosing block lies
 *    inside one parent. Addresses in B keep working. If B was the upper half,
 *    the network address, and so the conventional gateway (first usable), move
 *    down; the plan shows old and new prefix so the caller can re-address the
 *    gateway interface.
 *  - When no block can grow far enough, a further block is added: the smallest
 *    block whose hosts cover what is still missing (never smaller than /29),
 *    placed as a new WAN's block is (lowest, preferring one whose buddy is
 *    free); if no block that large is free, the largest free one down to /29,
 *    and the remainder is planned again (it may grow or add more).
 *  - An explicitly ordered extra subnet (wan_plan_order) goes to the lowest free
 *    aligned block of the chosen length.
 *  - Shrinking is growth reversed (wan_plan_shrink): when the instances need
 *    fewer hosts than the WAN's blocks offer, blocks added later are released
 *    (the last first; never the first block, which holds the gateway), then
 *    blocks are halved in place down to a /29, keeping the lower half (so the
 *    network address and the gateway stay). Only space that holds no address
 *    in use goes: addresses are never renumbered, so a WAN whose surviving
 *    addresses are spread out keeps what holds them.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/net.h"

#define WAN_DEFAULT_LEN 29 /* a new WAN's first block */
#define WAN_PLAN_MAX	32 /* actions in one plan; more is -E2BIG */

/* Hosts a WAN block of this length offers: all addresses minus the network
 * address, the broadcast address and the gateway (the SVI): 5 for a /29, 13
 * for a /28. 0 for /31 and /32 (and /30 offers 1). len > 32 gives 0. */
uint64_t wan_block_hosts(unsigned len);

/* The address pool WAN blocks come from. Borrowed. taken[] holds every block
 * already allocated from the pool (all WANs of all infrastructures, including
 * the WAN being planned for), in any order; overlapping entries are tolerated.
 * parents[] must not overlap each other. */
struct wan_pool {
	const struct ipprefix *parents;
	size_t n_parents;
	const struct ipprefix *taken;
	size_t n_taken;
};

enum wan_action_kind {
	WAN_ACTION_ADD = 0, /* allocate a new block: block */
	WAN_ACTION_GROW,    /* replace the WAN's blocks[index] (from) by block */
	WAN_ACTION_RELEASE, /* give the WAN's blocks[index] (block) back */
	WAN_ACTION_SHRINK,  /* replace the WAN's blocks[index] (from) by its lower part block */
};

struct wan_action {
	enum wan_action_kind kind;
	size_t index;	      /* GROW, RELEASE, SHRINK: index into the caller's blocks[] */
	struct ipprefix from; /* GROW, SHRINK: the block before */
	struct ipprefix block;
};

/* A plan: actions in the order to apply them. Consecutive growth steps of one
 * block are folded into a single GROW (/29 -> /27 is one action). */
struct wan_plan {
	size_t n;
	struct wan_action actions[WAN_PLAN_MAX];
	uint64_t hosts_before; /* sum of wan_block_hosts over the WAN's blocks */
	uint64_t hosts_after;  /* the same after applying the plan */
};

/* Plan the first block of a new WAN: one ADD of a /WAN_DEFAULT_LEN.
 * Returns 0, -ENOSPC when no /29 is free, -EAFNOSUPPORT for a v6 parent. */
int wan_plan_new(const struct wan_pool *pool, struct wan_plan *ret);

/* Plan for a WAN that has blocks[0..n_blocks) (each also present in
 * pool->taken) and needs hosts_needed hosts in total. Growth is tried before
 * adding, the WAN's lowest-indexed growable block first, one step at a time
 * (so a /29 whose buddy is free becomes a /28 before anything else is tried).
 * Already enough hosts: returns 0 with an empty plan.
 * Returns 0, -ENOSPC when the pool cannot supply enough (the plan is then
 * undefined), -E2BIG when it would take more than WAN_PLAN_MAX actions,
 * -EINVAL for a bad argument (n_blocks == 0, a block outside every parent). */
int wan_plan_grow(const struct wan_pool *pool, const struct ipprefix *blocks, size_t n_blocks, uint64_t hosts_needed,
		  struct wan_plan *ret);

/* Plan an explicitly ordered extra subnet of prefix length len (e.g. a /28
 * routed to the WAN for MetalLB): one ADD at the lowest free aligned block.
 * len must be within [shortest parent length, 32].
 * Returns 0, -ENOSPC, -EINVAL (bad len), -EAFNOSUPPORT. */
int wan_plan_order(const struct wan_pool *pool, unsigned len, struct wan_plan *ret);

/* Plan for a WAN that has blocks[0..n_blocks) and needs only hosts_needed
 * hosts (MetalSoft's growth reversed, see the policy above). used[0..n_used)
 * are the addresses in use inside the blocks (any order; others are
 * ignored): space holding one is kept. RELEASE actions come first (the last
 * block first), then at most one SHRINK per block; a plan that would take
 * more than WAN_PLAN_MAX actions stops there (the next plan goes on). Enough
 * or too few hosts already: 0 with an empty plan. hosts_before/after as for
 * wan_plan_grow.
 * Returns 0, -EINVAL (n_blocks == 0), -EAFNOSUPPORT (a v6 block or address). */
int wan_plan_shrink(const struct ipprefix *blocks, size_t n_blocks, const struct ipaddr *used, size_t n_used,
		    uint64_t hosts_needed, struct wan_plan *ret);
