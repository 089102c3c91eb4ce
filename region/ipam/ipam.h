/* IPAM engine: address allocation and utilisation for one subnet.
 *
 * Pure: no I/O, no SQL, no clock, no globals, no logging. The caller (region/db)
 * loads a *view* of one subnet -- its prefix, ranges, addresses in use, excluded
 * addresses and neighbours seen on the wire -- and asks the engine for a
 * decision. Everything works on sorted interval and point sets of u128 address
 * integers (common/net.h: v4 in the low 32 bits), so a /64 or 2001:db8::/32 is
 * never enumerated address by address.
 *
 * Addresses in this header are u128 values of the *subnet's* family, as made by
 * ipaddr_to_u128(); convert back with ipaddr_from_u128(view->prefix.addr.family).
 *
 * Semantics (seeds 001/002, "MAAS IP ranges", "About managed/unmanaged subnets",
 * "About IP conflicts"):
 *
 *  Usable addresses of a prefix
 *    IPv4 /0../30  every address except the network and broadcast addresses.
 *    IPv4 /31      both addresses (RFC 3021 point-to-point).
 *    IPv4 /32      the one address.
 *    IPv6 /0../126 every address except the first, the Subnet-Router anycast
 *                  address (RFC 4291 2.6.1). MAAS reserves it too (its range
 *                  purpose "rfc-4291-2.6.1"). The RFC 2526 reserved anycast
 *                  addresses at the top of a /64 are NOT excluded: MAAS does not
 *                  exclude them and nothing in the seeds asks for it.
 *    IPv6 /127     both addresses (RFC 6164 point-to-point).
 *    IPv6 /128     the one address.
 *
 *  Pools (enum ipam_pool)
 *    AUTO   'Auto assign'. Managed subnet: usable addresses outside every
 *           reserved and reserved-dynamic range ("MAAS will never assign IP
 *           addresses inside this range"). Unmanaged subnet: usable addresses
 *           inside reserved (not dynamic) ranges only ("MAAS will only assign IP
 *           addresses inside this range"; "MAAS never uses IP addresses from
 *           [a dynamic] range for an unmanaged subnet"). Managed IPv6 subnet
 *           with at least one reserved range: inside its reserved ranges, as
 *           on an unmanaged one (seed 001, "About IPv6 subnets": "If you
 *           define a reserved static IP range, then machines deployed on the
 *           subnet will get a static address in this range"); without one,
 *           as any managed subnet. See ipam_auto_in_reserved().
 *    DHCP   Managed subnet: usable addresses inside dynamic ranges. Unmanaged
 *           subnet: empty ("DHCP will never lease addresses from an unmanaged
 *           subnet").
 *    USABLE every usable address, ranges ignored (UI listings, static checks).
 *    UNRANGED usable addresses outside every range (where a new range
 *           may go: suggestions).
 *
 *  Blocked addresses: an address is *free* in a pool when it is in the pool and
 *  is not in used[], not in excluded[] and not in neighbours[]. Neighbours are
 *  avoided, but when a pool has no free address at all the least recently seen
 *  neighbour address (that is not also used or excluded) is offered with
 *  recheck = true: the caller must verify it is gone (ARP / NDP) before handing
 *  it out ("MAAS ... can re-check the oldest IPs added to the cache").
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/net.h"

enum ipam_range_kind {
	IPAM_RANGE_RESERVED = 0, /* MAAS "reserved range" */
	IPAM_RANGE_DYNAMIC = 1,	 /* MAAS "reserved dynamic range": the DHCP pool */
};

/* An inclusive address range [first, last]. */
struct ipam_range {
	u128 first;
	u128 last;
	enum ipam_range_kind kind;
};

/* Who holds an address in use. The engine never interprets it; it is carried
 * so that the caller can name the holder of a conflicting address. Addresses
 * only *seen* on the wire (ARP, leases of unknown clients) belong in
 * neighbours[], not here. */
enum ipam_holder {
	IPAM_HOLDER_UNKNOWN = 0,
	IPAM_HOLDER_MACHINE, /* a machine interface */
	IPAM_HOLDER_DEVICE,  /* a device (non-managed host) */
	IPAM_HOLDER_RACK,    /* a rack controller interface */
	IPAM_HOLDER_USER,    /* a user reservation */
	IPAM_HOLDER_DHCP,    /* a DHCP lease */
};

struct ipam_used {
	u128 addr;
	int64_t holder_id; /* opaque to the engine, e.g. the row id */
	enum ipam_holder holder;
};

struct ipam_neighbour {
	u128 addr;
	int64_t last_seen; /* any monotonic clock the caller likes, e.g. unix seconds */
};

/* A view of one subnet. Borrowed: the engine never frees or keeps any pointer
 * beyond the call (an ipam_free_iter keeps the view pointer; see there).
 *
 * Ordering contract (check with ipam_view_check(), or sort with the
 * ipam_sort_*() helpers):
 *  - ranges sorted by first, pairwise non-overlapping, each with first <= last
 *    and inside the prefix;
 *  - used, excluded and neighbours each sorted by address, strictly ascending
 *    (no duplicates within one array; the same address may appear in several
 *    arrays, e.g. a rack address that is both used and excluded).
 * Entries of used/excluded/neighbours outside the prefix are allowed and
 * ignored (a DNS server outside the subnet is normal). Ranges are clipped to
 * the usable addresses. Breaking the ordering contract never causes memory
 * errors; it can only make answers wrong. Duplicates within an array (sorted
 * otherwise) stay safe: no blocked or unusable address is ever returned as
 * free and the utilisation counts stay exact, but a free address next to a
 * duplicated run may be skipped (by allocation, free-block listing and
 * largest_free) -- so load with SELECT DISTINCT, or check. */
struct ipam_view {
	struct ipprefix prefix; /* normalised (host bits clear) */
	bool managed;

	const struct ipam_range *ranges;
	size_t n_ranges;

	const struct ipam_used *used; /* assigned addresses: machines, devices, ... */
	size_t n_used;

	/* never auto-assigned: the gateway, DNS servers inside the subnet, rack
	 * interface addresses. Counted as used in utilisation. */
	const u128 *excluded;
	size_t n_excluded;

	const struct ipam_neighbour *neighbours; /* seen on the wire */
	size_t n_neighbours;
};

enum ipam_pool {
	IPAM_POOL_AUTO = 0,
	IPAM_POOL_DHCP,
	IPAM_POOL_USABLE,
	IPAM_POOL_UNRANGED,
};

/* Does the AUTO pool of v lie inside its reserved ranges (unmanaged, or
 * IPv6 with a reserved range) rather than outside every range? */
bool ipam_auto_in_reserved(const struct ipam_view *v);

/* An inclusive block of addresses. size = last - first + 1; it cannot overflow
 * because no usable set spans all 2^128 addresses (see "Usable addresses"). */
struct ipam_block {
	u128 first;
	u128 last;
	u128 size;
};

/* --- prefix helpers ------------------------------------------------------- */

/* The usable addresses of a prefix form one interval [*ret_first, *ret_last]
 * (see the table above). Always succeeds for a valid prefix. */
void ipam_usable_span(const struct ipprefix *p, u128 *ret_first, u128 *ret_last);

/* Is a (u128 of p's family) a usable address of p? */
bool ipam_is_usable(const struct ipprefix *p, u128 a);

/* --- view helpers --------------------------------------------------------- */

/* Validate the ordering contract above. Returns 0, or -EINVAL with *ret_index
 * (may be NULL) set to the offending element and *ret_what (may be NULL) to a
 * static string naming the problem ("range outside subnet", "ranges overlap",
 * "ranges not sorted", "used not sorted", ...). O(n). */
int ipam_view_check(const struct ipam_view *v, size_t *ret_index, const char **ret_what);

/* In-place sorts for callers that load rows in another order. They do not
 * remove duplicates; ipam_view_check() reports them. */
void ipam_sort_ranges(struct ipam_range *r, size_t n);
void ipam_sort_used(struct ipam_used *u, size_t n);
void ipam_sort_addrs(u128 *a, size_t n);
void ipam_sort_neighbours(struct ipam_neighbour *nb, size_t n);

/* Index of the range containing a, or -1. O(log ranges). */
ptrdiff_t ipam_range_find(const struct ipam_view *v, u128 a);

/* --- allocation ----------------------------------------------------------- */

struct ipam_alloc {
	u128 addr;
	/* true: addr was seen on the wire (neighbours[neighbour]) and is offered
	 * only because the pool has no other free address; verify it is gone
	 * before use. */
	bool recheck;
	size_t neighbour;  /* index into neighbours[] when recheck */
	int64_t last_seen; /* that neighbour's last_seen when recheck */
};

/* Pick an address from a pool (AUTO for 'Auto assign', DHCP for the dynamic
 * pool): the lowest free address >= from, wrapping around to the lowest free
 * address of the pool when there is none at or above from. Pass from = 0 for
 * "the lowest free address". (A caller that lost a race for an address may
 * retry with from = that address + 1.) When the pool has no free address, the
 * least recently seen neighbour address in the pool that is neither used nor
 * excluded is returned with recheck = true (ties: the lowest address).
 * Returns 0 and fills *ret, or -ENOSPC when even that fails.
 * Cost O((ranges + runs) * log n) where runs is the number of maximal runs of
 * consecutive blocked addresses skipped; never proportional to the prefix size. */
int ipam_alloc_next(const struct ipam_view *v, enum ipam_pool pool, u128 from, struct ipam_alloc *ret);

/* Why a user-given ('Static assign') address cannot be used. */
enum ipam_static_verdict {
	IPAM_STATIC_OK = 0,
	IPAM_STATIC_OUTSIDE_SUBNET, /* -ERANGE: not inside the prefix */
	IPAM_STATIC_NOT_USABLE,	    /* -EADDRNOTAVAIL: v4 network/broadcast, v6 anycast */
	IPAM_STATIC_IN_DYNAMIC,	    /* -EBUSY: inside a dynamic range (the DHCP pool) */
	IPAM_STATIC_IN_USE,	    /* -EADDRINUSE: held by used[holder] */
	IPAM_STATIC_EXCLUDED,	    /* -EADDRINUSE: gateway / DNS / rack address */
};

struct ipam_static_check {
	enum ipam_static_verdict verdict;
	size_t holder;	   /* IN_USE: index into used[] (name it in the error) */
	size_t range;	   /* IN_DYNAMIC: index into ranges[] */
	bool seen_on_wire; /* address is in neighbours[]: allowed, but warn */
	int64_t last_seen; /* when seen_on_wire */
};

/* Check a user-given static address against the view. Decisions:
 *  - must be inside the prefix and usable (table above);
 *  - must not be inside a dynamic range, managed or not: the DHCP server owns
 *    that pool, and for unmanaged subnets MAAS never uses it either;
 *  - MAY be inside a reserved range, managed or not: reserved ranges fence
 *    off *automatic* assignment; an administrator placing infrastructure there
 *    by hand is exactly what they are for ("use this range for anything, such
 *    as infrastructure systems, network hardware ...");
 *  - must not be in used[] (the holder is reported) nor in excluded[];
 *  - being seen on the wire is not an error (the operator knows best; the seeds
 *    treat neighbours as a hint) but is reported so the caller can warn.
 * Returns 0 (verdict OK) or the negative errno listed beside the verdict; *ret
 * is always filled. O(log n). */
int ipam_static_check(const struct ipam_view *v, u128 a, struct ipam_static_check *ret);

/* --- free blocks ---------------------------------------------------------- */

/* The first maximal free block of a pool that ends at or after from, clipped
 * to start at from or later. Returns 0, or -ENOENT when there is none.
 * O((ranges + runs) * log n), as ipam_alloc_next. */
int ipam_free_block_next(const struct ipam_view *v, enum ipam_pool pool, u128 from, struct ipam_block *ret);

/* In-order iteration over the free blocks of a pool:
 *	struct ipam_free_iter it;
 *	struct ipam_block b;
 *	ipam_free_iter_init(&it, view, IPAM_POOL_AUTO, 0);
 *	while (ipam_free_iter_next(&it, &b)) ...
 * The iterator borrows the view; keep it (and its arrays) alive and unchanged
 * while iterating. Each step costs what ipam_free_block_next costs. */
struct ipam_free_iter {
	const struct ipam_view *view;
	enum ipam_pool pool;
	u128 next;
	bool done;
};
void ipam_free_iter_init(struct ipam_free_iter *it, const struct ipam_view *v, enum ipam_pool pool, u128 from);
bool ipam_free_iter_next(struct ipam_free_iter *it, struct ipam_block *ret);

/* --- utilisation ---------------------------------------------------------- */

/* Subnet utilisation, as MAAS's subnet page shows it ("Subnet addresses",
 * "Availability", "Used"). All counts are of usable addresses (table above);
 * an address in several arrays is counted once.
 *
 *  total         usable addresses of the prefix.
 *  used          addresses in use: in used[], excluded[] or neighbours[].
 *  reserved      addresses inside any range (reserved or dynamic), used or not.
 *  available     free addresses of the AUTO pool: what 'Auto assign' can still
 *                hand out without a re-check. Like MAAS, addresses inside
 *                ranges are *not* available in a managed subnet (and addresses
 *                outside reserved ranges are not available in an unmanaged one).
 *  unavailable   total - available.
 *  used_pct      100 * unavailable / total (MAAS's "Used" percentage), 0 when
 *                total is 0 (cannot happen: every prefix has a usable address).
 *  dhcp_total    addresses in the DHCP pool (0 for unmanaged).
 *  dhcp_available free addresses of the DHCP pool.
 *  largest_free  the largest free block of the AUTO pool (lowest on ties);
 *                size 0 when there is none.
 * O((ranges + used + excluded + neighbours) * log n). */
struct ipam_utilisation {
	u128 total;
	u128 used;
	u128 reserved;
	u128 available;
	u128 unavailable;
	double used_pct;
	u128 dhcp_total;
	u128 dhcp_available;
	struct ipam_block largest_free;
};

void ipam_utilisation(const struct ipam_view *v, struct ipam_utilisation *ret);

/* --- suggestions ---------------------------------------------------------- */

/* Suggestions for a new (typically empty) subnet:
 *  gateway   the first usable address ("Typically, this is simply the first IP
 *            address in a block of addresses (the .1 address)"): x.x.x.1 for a
 *            v4 /24, prefix::1 for v6, the lower address of a /31 or /127.
 *            has_gateway is false for /32 and /128 (nothing to route through).
 *  dynamic   the upper half of the largest free block of the AUTO pool
 *            (rounded up, so it ends at the block's end): for an empty v4 /24
 *            that is .128-.254, for an empty /64 prefix:8000::-prefix:ffff:
 *            ffff:ffff:ffff, for a /29 .4-.6. The lower half keeps room for
 *            the gateway and static addresses. has_dynamic is false when that
 *            block has fewer than 4 addresses (a /30, /31, /32 ...), for
 *            unmanaged subnets (DHCP never serves them) and when the subnet
 *            already has a dynamic range.
 * The view is consulted for the dynamic suggestion only; pass a view with no
 * ranges/used/etc. for "an empty subnet". */
struct ipam_suggestion {
	bool has_gateway;
	u128 gateway;
	bool has_dynamic;
	u128 dynamic_first;
	u128 dynamic_last;
};

void ipam_suggest(const struct ipam_view *v, struct ipam_suggestion *ret);

/* --- u128 helpers for callers --------------------------------------------- */

/* Decimal text of a u128 (counts of v6 addresses exceed 64 bits). buf at
 * least IPAM_U128_STRLEN bytes. Returns buf. */
#define IPAM_U128_STRLEN 40
const char *ipam_u128_format(u128 v, char *buf, size_t len);
