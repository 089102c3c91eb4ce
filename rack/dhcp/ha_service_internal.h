/* DHCP HA on the rack, shared by the files of the service: ha_service.c
 * (the pairs, their state machines, links and sync), ha_report.c (what the
 * region hears) and ha_pool.c (rebalancing the shares). Not for anything
 * outside them. */
#pragma once

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "rack/dhcp/ha_link.h"
#include "rack/dhcp/ha_merge.h"
#include "rack/dhcp/ha_state.h"
#include "rack/rack.h"

struct rack_ha;

#define HA_RECENT_CONFLICTS 16

struct ha_pair {
	struct rack_ha *h;
	int64_t down_since_ms; /* monotonic: when the link went down (or the pair began) */
	uint64_t vlan_id;
	uint16_t vid;
	enum ha_role role;
	char partner[HA_RACK_ID_MAX + 1];
	char address[300];
	struct ha_link *link;

	/* The pair's state (ha_state.h) and its timer. */
	struct ha_sm sm;
	struct ha_timing tm;
	struct event *timer;
	/* This session's sync (RECOVER): ours sent up to sync_target (the
	 * partner's acks reach it: it holds everything of ours), the
	 * partner's tail received (its State said tail_sent). The primary's
	 * State{tail_sent} waits until its split is durable (tail_wait). */
	bool sync_sent, tail_sent, got_tail;
	uint64_t sync_target, acked, tail_wait;
	/* UpdatesAcks owed: each message's last seq, once our journal
	 * reaches its wait (in arrival order; waits increase). */
	struct ha_owed {
		uint64_t seq, wait;
	} * owed;
	size_t n_owed, cap_owed;
	uint64_t unacked; /* records sent since the last ack */
	uint64_t conflicts;
	/* The last conflicts merges found (the report carries them; the
	 * region keeps each once), oldest first. */
	struct ha_conflict_note {
		uint32_t addr;
		char kept[3 * LEASE_HWADDR_MAX], lost[3 * LEASE_HWADDR_MAX];
		int64_t at_unix_ms;
		uint8_t kind;
	} recent[HA_RECENT_CONFLICTS];
	size_t n_recent;
	/* Partner-down as the region's config says: held by us (the
	 * operator's word that the partner is dead) or by the partner
	 * against us (rule 6: stay in RECOVER until merged). */
	enum { PD_NONE, PD_OURS, PD_AGAINST_US } pd, pd_next;
	bool pd_witness, pd_witness_next; /* PD_OURS is the region's grant as witness */
	/* Automatic partner-down (DhcpHaPair.auto_down_ms; 0 = off) and
	 * whether our timers keep its invariant: a rack whose fence cannot
	 * come early enough refuses the witness's grants. */
	int64_t auto_down_us;
	bool witness_ok;
	/* Rebalancing (ha_pool.c): our PoolRequest in flight since
	 * pool_asked_ms (monotonic; 0 = none), and a grant of ours waiting for
	 * its owner change to be durable (grant_wait) before it goes. */
	struct event *pool_timer;
	int64_t pool_asked_ms;
	struct ha_range *grant;
	size_t n_grant;
	uint64_t grant_wait;
	/* The check for addresses neither rack owns. The primary: its
	 * PoolCheck number check_seq in flight (0: none) since check_ms
	 * (monotonic), which gives nothing meanwhile. The secondary: its
	 * PoolUnowned answer, waiting for our journal to reach unowned_wait. */
	uint64_t check_seq, check_count;
	int64_t check_ms;
	struct ha_range *unowned;
	size_t n_unowned;
	uint64_t unowned_seq, unowned_wait;
};

struct rack_ha {
	struct rack *rack;
	struct ha_pair **pairs; /* each its own allocation: its link's callbacks hold it */
	size_t n;
};

/* ha_service.c */
uint64_t ha_durable_seq(const struct rack *rack);

/* ha_report.c: every pair's link and state to the region (HaStatusReport);
 * a merge's conflict noted for it. */
void ha_report(struct rack_ha *h);
void ha_pair_conflict(void *arg, const struct ha_conflict *c);

/* ha_pool.c: rebalancing in NORMAL (docs/dhcp-ha.md, NORMAL). tick asks
 * the partner for addresses when our share runs short; on_request gives
 * some of ours (durably PEER first), on_grant takes what was given,
 * on_durable sends a grant once its owner change is on disk; reset drops
 * what is in flight when the link or the state changes. */
void ha_pool_tick(struct ha_pair *p);
void ha_pool_on_request(struct ha_pair *p, const struct ha_msg *m);
void ha_pool_on_grant(struct ha_pair *p, const struct ha_msg *m);
void ha_pool_on_check(struct ha_pair *p, const struct ha_msg *m);
void ha_pool_on_unowned(struct ha_pair *p, const struct ha_msg *m);
void ha_pool_on_durable(struct ha_pair *p, uint64_t seq);
void ha_pool_reset(struct ha_pair *p);
void ha_pool_init(struct ha_pair *p);
void ha_pool_done(struct ha_pair *p);
