/* The rack's DHCPv4 server: the I/O shell around the pure engine
 * (rack/dhcp/engine.h) and the durable lease store (rack/dhcp/leases.h).
 *
 * It owns: one UDP socket on port 67 per served interface (bound to the
 * device, created inside the rack's netns), a packet socket per interface
 * for replies to clients that have no address yet (unicast to chaddr) and
 * for ARP probes, an ICMP socket for probes across relays, the lease store
 * in STATE_DIR/dhcp, the reclaim and compaction timers, and the external
 * DHCP detector. Everything runs on the rack's event loop except the
 * group commit: the journal write + fdatasync of a batch runs on a worker
 * thread while the loop goes on receiving and staging the next batch.
 *
 * Invariant: no ACK leaves before the lease change it promises is on disk
 * (lease_store_durable_seq() >= decision.commit_seq); until then the reply
 * is held (struct dhcp_held_reply, server_internal.h).
 *
 * Files: server.c (lifecycle, apply, verdicts, held replies, commit,
 * timers), server_io.c (sockets only: a leaf that calls back on each
 * datagram), probe.c (ARP/ICMP conflict probes), external.c (external
 * DHCP detection).
 *
 * Config changes (dhcp_server_apply) swap the config whole; leases are
 * kept; sockets are opened for new interfaces and closed for ones no
 * longer served. An interface that cannot be opened fails the apply (the
 * old config keeps serving). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rack/dhcp/engine.h"
#include "rack/dhcp/leases.h"
#include "rack/dhcp/load.h"

struct event_base;
struct dhcp_server;
struct dhcp_server_io;

struct dhcp_server_ops {
	/* Lease events, for the region (batched by the caller). ifname is
	 * the served interface ("" when not known, e.g. expiry). */
	void (*on_events)(void *arg, const char *ifname, const struct dhcp_event *ev, size_t n);
	/* One external-DHCP probe round on an interface ended: the server
	 * identifiers (host order) of DHCP servers other than this rack that
	 * answered (n = 0: none). */
	void (*on_external)(void *arg, const char *ifname, uint16_t vid, uint64_t vlan_id, const uint32_t *servers,
			    size_t n);
};

struct dhcp_server_conf {
	const char *lease_dir;	  /* created if missing */
	int nsfd;		  /* netns_open() result, or -1 = the rack's own namespace */
	int64_t probe_timeout_ms; /* ARP/ICMP probe wait; 0 = 300 */
	/* At most one group commit (write + fdatasync) per this many
	 * microseconds: replies that wait for one wait up to this much
	 * longer, and each fdatasync covers more of them. 0 = none. */
	int64_t commit_interval_us;
	/* While datagrams keep coming, read the sockets this many
	 * microseconds apart instead of waking on each (0..999999; 0 = wake
	 * on every one). The first datagram after a lull is read at once. */
	int64_t rx_coalesce_us;
	/* DHCP HA: the rack's ha_mclt (seconds), how long a VLAN that left its
	 * pair in an unknown or degraded state waits before the partner's
	 * share is this rack's. 0 = 3600. */
	int64_t ha_mclt_s;
	/* Compact the lease journal once it is larger than this many bytes
	 * (the snapshot is built on the loop, written with the next commit on
	 * the commit thread). 0 = 8 MiB. */
	uint64_t compact_bytes;
	/* NULL: real sockets (server_io.c) and a worker thread for the group
	 * commit. Tests give fakes (server_internal.h). */
	const struct dhcp_server_io *io;
};

/* Open the lease store (replaying it; logs what replay found) and start
 * the timers. No sockets until the first apply. */
int dhcp_server_new(struct event_base *base, const struct dhcp_server_conf *conf, const struct dhcp_server_ops *ops,
		    void *arg, struct dhcp_server **ret);
/* Serve cfg from now on (takes ownership on success; NULL = stop serving,
 * keep the leases). On failure returns -errno with a reason in why and the
 * old config keeps serving (cfg still belongs to the caller). */
int dhcp_server_apply(struct dhcp_server *s, struct dhcp_loaded *cfg, char *why, size_t why_len);
/* Commit what is staged, close sockets, free. NULL ok. */
void dhcp_server_free(struct dhcp_server *s);

/* The store, read-only, for the full lease report after (re)connecting. */
const struct lease_store *dhcp_server_leases(const struct dhcp_server *s);

/* ---- DHCP HA (docs/dhcp-ha.md; server_ha.c) ----
 * The server's side of a pair: the pair's state as the engine serves it,
 * the lease changes to send to the partner, the partner's records to
 * merge, and ACKs that wait for the partner's UpdatesAck (in NORMAL: no
 * ACK leaves before both journals hold its lease). The HA service
 * (ha_service.c) drives it from the partner link. VLANs are the region's
 * ids (DhcpInterface.vlan_id). */
struct dhcp_ha_ops {
	/* Records of an HA VLAN this rack staged (not the partner's), in seq
	 * order, as a group commit takes them. true: sent to the partner
	 * (their acked expiries are set when it acks); false: not (the link
	 * is down; the next sync carries them). */
	bool (*on_updates)(void *arg, uint64_t vlan_id, const struct lease *l, size_t n);
	/* The journal is durable up to seq. */
	void (*on_durable)(void *arg, uint64_t seq);
};
void dhcp_server_set_ha_ops(struct dhcp_server *s, const struct dhcp_ha_ops *ops, void *arg);

struct dhcp_ha_state {
	uint8_t state; /* enum ha_state */
	bool takeover;
	bool wait_ack; /* ACKs wait for the partner's UpdatesAck */
	int64_t mclt_s, timeout_s, skew_s;
};
/* The pair's state for vlan_id from now on (kept across config applies).
 * Leaving wait_ack drops the replies still waiting for the partner: their
 * clients retransmit and get the new state's answer. */
void dhcp_server_ha_set(struct dhcp_server *s, uint64_t vlan_id, const struct dhcp_ha_state *st);
/* The partner has everything of ours up to seq: replies waiting for it
 * go, and the leases sent get their acked expiry. */
void dhcp_server_ha_acked(struct dhcp_server *s, uint64_t vlan_id, uint64_t seq);
/* The partner's records (its view: owner LOCAL = granted by it), merged
 * one by one with ours (rack/dhcp/ha_merge.h); the winners are staged here
 * and committed. Returns the seq to wait for before acknowledging them
 * (0: nothing staged, acknowledge at once), -EIO when the store is gone.
 * on_conflict (may be NULL) hears of each address found bound to two
 * clients (also logged). */
struct ha_conflict;
typedef void (*dhcp_ha_conflict_fn)(void *arg, const struct ha_conflict *c);
int64_t dhcp_server_ha_stage(struct dhcp_server *s, const struct lease *peer, size_t n, dhcp_ha_conflict_fn on_conflict,
			     void *arg);
/* Rebalancing the shares (docs/dhcp-ha.md, NORMAL; ha_split.h): asks
 * fills ret with the ranges of vlan_id whose free share here is short of
 * half the partner's (how many to ask for, and our free count); give
 * hands the asker up to what ha_rebalance_give allows, as whole free runs
 * of our share (never a range's or a split half's end, never an address a
 * record holds), marked the partner's in the journal: the grant may go once
 * *ret_wait is durable; take makes a grant ours (each span must be inside
 * one of the VLAN's ranges and all the partner's free addresses here) and
 * returns how many addresses it took. */
struct ha_pool_ask;
struct ha_range;
size_t dhcp_server_ha_pool_asks(struct dhcp_server *s, uint64_t vlan_id, struct ha_pool_ask *ret, size_t max);
int dhcp_server_ha_pool_give(struct dhcp_server *s, uint64_t vlan_id, const struct ha_pool_ask *ask,
			     struct ha_range *ret, size_t max, int64_t *ret_wait);
int64_t dhcp_server_ha_pool_take(struct dhcp_server *s, uint64_t vlan_id, const struct ha_range *g, size_t n);
/* Addresses neither rack owns (a grant lost with the link: the giver
 * marked them the partner's, the partner never took them). The primary
 * sends its PEER runs of the split ranges (pool_peer_runs, at most max,
 * in address order); the secondary answers with those that are PEER in
 * its map too (pool_unowned); the primary makes those of them that may
 * change hands its own (pool_adopt: returns how many). */
size_t dhcp_server_ha_pool_peer_runs(struct dhcp_server *s, uint64_t vlan_id, struct ha_range *ret, size_t max);
size_t dhcp_server_ha_pool_unowned(struct dhcp_server *s, uint64_t vlan_id, const struct ha_range *in, size_t n,
				   struct ha_range *ret, size_t max);
int64_t dhcp_server_ha_pool_adopt(struct dhcp_server *s, uint64_t vlan_id, const struct ha_range *g, size_t n);
/* Every record (but offers) of vlan_id's subnets, in seq order, for a
 * sync; *ret is malloc'd. */
size_t dhcp_server_ha_records(const struct dhcp_server *s, uint64_t vlan_id, struct lease **ret);
/* The first sync with the partner is done: split every dynamic range of
 * vlan_id that is not split yet (ha_split_initial), durably. */
void dhcp_server_ha_split(struct dhcp_server *s, uint64_t vlan_id);
/* Did the last config apply hold back a range of vlan_id under a running
 * pair (a range changed, a role swapped)? Then the two must meet again and
 * split it: true once, and the flag is cleared. */
bool dhcp_server_ha_take_resync(struct dhcp_server *s, uint64_t vlan_id);
/* Free addresses of vlan_id's dynamic ranges in our share and in the
 * partner's. */
void dhcp_server_ha_free(const struct dhcp_server *s, uint64_t vlan_id, uint64_t *ret_own, uint64_t *ret_partner);

struct dhcp_server_stats {
	uint64_t received, replied, offers, acks, naks, ignored, dropped_busy, probes, conflicts;
	uint64_t commits; /* fdatasyncs */
};
void dhcp_server_get_stats(const struct dhcp_server *s, struct dhcp_server_stats *ret);
