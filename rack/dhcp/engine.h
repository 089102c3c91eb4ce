/* The DHCPv4 lease engine: RFC 2131 server decisions, no I/O.
 *
 * Input: a decoded request (common/wire/dhcp4.h), where it came from
 * (struct dhcp_rx_info), the served config (rack/dhcp/config.h), the lease
 * store (rack/dhcp/leases.h) and `now`. Output: the return value names the
 * decision (sd-dhcp-server style) and *ret says what to send, where, what
 * the reply waits for, and what to report.
 *
 * The engine changes the lease store only through lease_store_stage() /
 * lease_store_remove(), which update the in-memory view at once (so the
 * next packet sees an offer) and queue the change for the journal. It
 * never commits: the shell group-commits and must not send a reply while
 * lease_store_durable_seq() < ret->commit_seq. OFFERs are memory-only
 * (commit_seq 0).
 *
 * Client identity is the hardware address (chaddr), as MAAS's
 * "ignore-client-uids true": a PXE ROM, iPXE and the installed OS send
 * different client ids for one NIC, and the machine must keep one address
 * through all of them. Option 61 is stored with the lease for reporting;
 * it is the identity when there is no usable chaddr (hlen 0), and in a
 * subnet with match_client_id (Kea's match-client-id) whenever the client
 * sends one, so two stacks sharing a MAC get an address each. Every reply
 * echoes the client's option 61 (RFC 6842).
 *
 * Conflict detection (config .probe): before OFFERing a dynamic address
 * that this client has not held before, the engine holds the address
 * (an OFFERED record) and returns DHCP_PROBE with ret->probe_addr. The
 * shell probes (ARP on the interface, ICMP echo when ret->probe_relayed),
 * without blocking, keeping its own copy of the request and rx info, and
 * then calls dhcp_engine_probe_done() with the result. In use: the address
 * is quarantined (DECLINED, conflict ARP/ICMP, reported) and the engine
 * picks another, which may again be DHCP_PROBE — each round quarantines
 * one address, so it ends. Free: the OFFER goes out. A probe the shell
 * cannot finish (timeout) counts as free. While a probe is in flight the
 * shell drops that client's retransmitted DISCOVERs (same chaddr): the
 * held address looks like the client's own offer to the engine and would
 * be offered unprobed.
 *
 * Addresses in this header are host byte order, like the config and the
 * store; the codec's are network order (the engine converts). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/wire/dhcp4.h"
#include "rack/dhcp/config.h"
#include "rack/dhcp/leases.h"

/* Return values of dhcp_engine_handle() and dhcp_engine_probe_done(). */
enum dhcp_verdict {
	DHCP_IGNORE = 0,	  /* send nothing (store changes may still wait for commit) */
	DHCP_OFFER = DHCP4_OFFER, /* 2 */
	DHCP_ACK = DHCP4_ACK,	  /* 5 */
	DHCP_NAK = DHCP4_NAK,	  /* 6 */
	DHCP_PROBE = 64,	  /* probe ret->probe_addr, then call dhcp_engine_probe_done() */
};

/* Where the packet came from. */
struct dhcp_rx_info {
	const char *ifname; /* the served interface it arrived on */
	int ifindex;
	uint32_t local_addr; /* the rack's address on that interface (host order) */
	uint32_t dst_addr;   /* IP destination of the request; 0xffffffff = broadcast */
	/* The request's IP source (host order) and, when it came through the
	 * packet socket, its frame's source MAC: a RELEASE is honoured only
	 * from where its lease lives. */
	bool has_src_addr, has_src_mac;
	uint32_t src_addr;
	uint8_t src_mac[6];
};

/* How the shell sends the reply (RFC 2131 4.1). */
enum dhcp_dest {
	DHCP_DEST_NONE = 0,
	DHCP_DEST_RELAY,     /* UDP to giaddr:67 */
	DHCP_DEST_CIADDR,    /* UDP to ciaddr:68 (RENEWING, REBINDING, INFORM) from a routed client */
	DHCP_DEST_BROADCAST, /* 255.255.255.255:68 on the interface */
	DHCP_DEST_CHADDR,    /* to dest_addr:68 (yiaddr, or ciaddr of a client on the link) at
			      * chaddr without ARP (packet socket); the shell may fall back
			      * to UDP to ciaddr, else broadcast, if it cannot */
};

enum dhcp_event_kind {
	DHCP_EV_LEASE_GRANTED = 1, /* ACK: new lease or extension */
	DHCP_EV_LEASE_RELEASED,	   /* client RELEASE */
	DHCP_EV_CONFLICT,	   /* address quarantined: DECLINE or probe answered */
	DHCP_EV_POOL_EXHAUSTED,	   /* no free dynamic address for a DISCOVER */
	DHCP_EV_RESERVED_BUSY,	   /* a reserved address is held by another client / quarantined */
	DHCP_EV_LEASE_EXPIRED,	   /* from dhcp_engine_reclaim() */
};

struct dhcp_event {
	enum dhcp_event_kind kind;
	uint32_t addr;	    /* host order */
	uint32_t subnet_id; /* config id */
	uint8_t htype, hlen;
	uint8_t chaddr[16];
	uint8_t conflict; /* enum lease_conflict, for DHCP_EV_CONFLICT */
	int64_t expiry;	  /* lease end, or quarantine end */
	char hostname[LEASE_HOSTNAME_MAX];
};

#define DHCP_EVENTS_MAX 4

/* One decision. Large (it embeds a message): callers keep one per shell or
 * per probe, not on small stacks. Everything is owned by the struct. */
struct dhcp_decision {
	struct dhcp4_msg reply; /* valid for OFFER / ACK / NAK: encode as is */
	size_t max_size;	/* pass to dhcp4_msg_encode() */
	enum dhcp_dest dest;
	uint32_t dest_addr; /* host order: giaddr, ciaddr, yiaddr or 0xffffffff */
	uint16_t dest_port; /* 67 to a relay, else 68 */
	/* > 0: the reply must not leave before lease_store_durable_seq() >=
	 * commit_seq. Also set for IGNORE after DECLINE / RELEASE: commit then. */
	int64_t commit_seq;
	uint32_t probe_addr; /* DHCP_PROBE: address to probe (host order) */
	bool probe_relayed;  /* DHCP_PROBE: the client is behind a relay: ICMP, not ARP */
	const char *reason;  /* static text: why IGNORE or NAK (for the shell's debug log) */
	unsigned n_left_out; /* options left out of the reply to fit max_size (RFC 2131 4.3.1) */
	size_t n_events;
	struct dhcp_event events[DHCP_EVENTS_MAX];
};

/* Decide what to do with req. Returns enum dhcp_verdict (>= 0), or -errno:
 * -EBADMSG (an option the engine needs is malformed), -EIO (the store is
 * poisoned), -EDQUOT/-ENOSPC (store limits), -EMSGSIZE (even the options
 * a reply cannot do without — type, server id, lease time, the echoed
 * client id and relay information — exceed the client's maximum message
 * size; everything else that does not fit is left out, see n_left_out).
 * *ret is always reset first. */
int dhcp_engine_handle(const struct dhcp_config *cfg, struct lease_store *leases, const struct dhcp4_msg *req,
		       const struct dhcp_rx_info *rx, time_t now, struct dhcp_decision *ret);

/* The result of a DHCP_PROBE for addr, for the same req and rx. Returns
 * like dhcp_engine_handle() (OFFER, PROBE for another address, IGNORE);
 * -EINVAL if req is not a DISCOVER or addr is in no configured subnet. */
int dhcp_engine_probe_done(const struct dhcp_config *cfg, struct lease_store *leases, const struct dhcp4_msg *req,
			   const struct dhcp_rx_info *rx, uint32_t addr, bool in_use, time_t now,
			   struct dhcp_decision *ret);

/* Reclaim expired leases, finished quarantines and stale offers
 * (lease_store_reclaim(), at most max records per call) and describe the
 * expired leases and quarantines as DHCP_EV_LEASE_EXPIRED events in ret
 * (*ret_n of them; dropped offers are not events). Returns the number of
 * records reclaimed: call again while it returns max. -errno. The
 * transitions are staged: commit as usual. */
int dhcp_engine_reclaim(struct lease_store *leases, time_t now, struct dhcp_event *ret, size_t max, size_t *ret_n);

const char *dhcp_verdict_name(int verdict);
