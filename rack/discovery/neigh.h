/* The rack's neighbour table (issue 17): which MAC and which name each
 * address on a watched link has, and what the region should hear about
 * it. Pure engine: no I/O, no logging, no globals; the caller passes the
 * time (milliseconds of one clock; the capture shell uses wall time, since
 * first and last seen are reported) and takes the events in batches.
 *
 * Key: (interface, VLAN, address). An observation is a sighting of an
 * address: from ARP with its sender MAC, or from mDNS with a name (and the
 * frame's source MAC when the address is the sender's own). Feeding one
 * compares it with what was last REPORTED for that key and may queue one
 * event, which carries the whole current state of the entry:
 *   NEW        the key was never reported; or it was known only by name
 *              (no MAC) and now has a MAC
 *   MOVED      the MAC differs from the one reported (old_mac says which)
 *   NAMED      a hostname was heard that was not reported yet
 *   REFRESHED  nothing changed, but nothing was reported for refresh_ms
 *              (10 min by default, as MAAS): the address is still in use
 * MOVED wins over NAMED over REFRESHED; one event per observation.
 *
 * Bounds, so an ARP storm or a spoofing host costs bounded memory, CPU and
 * messages:
 *   - at most max_entries keys; a new key evicts the least recently seen
 *     (counted in evictions);
 *   - per interface a token bucket (rate events per second, burst at
 *     once) on the events queued; an event over it is dropped (counted in
 *     rate_dropped), and so is one that finds the queue full (queue_max,
 *     queue_dropped). A dropped event leaves the "reported" state alone,
 *     so the next sighting after the bucket refills reports it: a storm
 *     delays reports, it does not lose the change.
 *
 * Ownership: the table owns its entries and names; observations' pointers
 * are only read during the call; events are copied out by neigh_take(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NEIGH_IFACES_MAX   64
#define NEIGH_IFNAME_MAX   15 /* IFNAMSIZ - 1 */
#define NEIGH_HOSTNAME_MAX 253

enum neigh_event_kind {
	NEIGH_EV_NONE = 0,
	NEIGH_EV_NEW,
	NEIGH_EV_MOVED,
	NEIGH_EV_NAMED,
	NEIGH_EV_REFRESHED,
	NEIGH_EV_KINDS,
};

/* An IPv4 (host order) or IPv6 address; unused fields zero, so build them
 * with neigh_addr_v4() / neigh_addr_v6(). */
struct neigh_addr {
	bool is_v6;
	uint32_t v4;
	uint8_t v6[16];
};

struct neigh_obs {
	unsigned iface; /* from neigh_iface_add() */
	uint16_t vlan;	/* 0: untagged */
	struct neigh_addr addr;
	const uint8_t *mac;   /* 6 bytes, or NULL: heard of, MAC unknown */
	const char *hostname; /* or NULL; longer than NEIGH_HOSTNAME_MAX: ignored */
};

struct neigh_event {
	enum neigh_event_kind kind; /* NEIGH_EV_NONE in a neigh_lookup() view */
	uint16_t iface, vlan;
	struct neigh_addr addr;
	bool has_mac;
	uint8_t mac[6];
	bool has_old_mac; /* MOVED: the MAC reported before */
	uint8_t old_mac[6];
	char hostname[NEIGH_HOSTNAME_MAX + 1]; /* "" when none heard */
	int64_t first_seen_ms, last_seen_ms;
};

struct neigh_conf {
	size_t max_entries; /* keys kept, >= 1 */
	size_t queue_max;   /* events waiting for neigh_take(), >= 1 */
	int64_t refresh_ms; /* REFRESHED after this long without a report */
	uint32_t rate;	    /* events per second per interface, >= 1 */
	uint32_t burst;	    /* events at once per interface, >= 1 */
	uint64_t seed;	    /* hash seed: random, so keys cannot be chosen to collide */
};

/* Defaults: 16384 entries, 4096 queued events, refresh 10 min, 100
 * events/s with a burst of 500 per interface, seed 0 (set one). */
void neigh_conf_default(struct neigh_conf *conf);

struct neigh_iface_stats {
	uint64_t observed;		 /* observations fed */
	uint64_t events[NEIGH_EV_KINDS]; /* queued, by kind */
	uint64_t rate_dropped;		 /* events over the token bucket */
	uint64_t queue_dropped;		 /* events that found the queue full */
};

struct neigh_stats {
	size_t entries;
	size_t pending; /* events queued, not yet taken */
	uint64_t evictions;
};

struct neigh_table;

/* NULL if conf is out of range (a zero bound). */
struct neigh_table *neigh_table_new(const struct neigh_conf *conf);
void neigh_table_free(struct neigh_table *t);

/* The index of interface name, added if new: >= 0, -EINVAL for an empty
 * or too long name, -ENOSPC past NEIGH_IFACES_MAX. */
int neigh_iface_add(struct neigh_table *t, const char *name);
const char *neigh_iface_name(const struct neigh_table *t, unsigned iface);

/* Feed one observation at now_ms. Returns the kind queued (> 0),
 * NEIGH_EV_NONE (0) when there is nothing to report, -EAGAIN when the
 * event was over the interface's rate, -ENOBUFS when the queue was full,
 * -EINVAL for an unknown interface. The table is updated in every case
 * but -EINVAL. */
int neigh_observe(struct neigh_table *t, const struct neigh_obs *obs, int64_t now_ms);

/* Move up to max queued events, oldest first, to out; returns how many. */
size_t neigh_take(struct neigh_table *t, struct neigh_event *out, size_t max);
size_t neigh_pending(const struct neigh_table *t);

/* The entry for a key as an event of kind NONE; false if absent. */
bool neigh_lookup(const struct neigh_table *t, unsigned iface, uint16_t vlan, const struct neigh_addr *addr,
		  struct neigh_event *ret);

void neigh_iface_stats(const struct neigh_table *t, unsigned iface, struct neigh_iface_stats *ret);
void neigh_stats(const struct neigh_table *t, struct neigh_stats *ret);

struct neigh_addr neigh_addr_v4(uint32_t v4);
struct neigh_addr neigh_addr_v6(const uint8_t v6[16]);
const char *neigh_event_kind_name(enum neigh_event_kind kind);
