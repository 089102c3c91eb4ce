/* Shared between rack/dhcp/engine.c (state machine, allocation),
 * engine_client.c (the client and its records), engine_reply.c (reply
 * options, PXE, destination) and engine_ha.c (the HA pair's rules). Not
 * API. */
#pragma once

#include "rack/dhcp/engine.h"

/* What a reply grants: the address (0 for INFORM), where it lives in the
 * config, and the lease time (0 = no lease options, INFORM). */
struct dhcp_grant {
	const struct dhcp_subnet *subnet;
	const struct dhcp_range *range; /* NULL unless yiaddr is dynamic */
	const struct dhcp_host *host;	/* NULL unless a reservation */
	uint32_t server_id;		/* host order */
	uint32_t yiaddr;		/* host order */
	uint32_t lease_time;
	bool on_link; /* the client is on the arrival interface's link (not routed, no relay) */
};

/* The client as the engine sees it, from one request. */
struct dhcp_client {
	uint8_t htype, hlen;
	uint8_t chaddr[16];
	const uint8_t *client_id; /* into the request; NULL = none */
	size_t client_id_len;
	bool pxe; /* vendor class PXEClient / HTTPClient: short lease, boot info */
};

/* ---- the request being decided (engine.c, engine_client.c) ---- */

/* The subnets a request may be served from. On a link: every subnet of
 * the interface (a VLAN can carry several). Through a relay, or for a
 * unicast renewal: the one subnet the selector (giaddr, link selection,
 * ciaddr) falls in. */
struct link {
	const struct dhcp_subnet *v;
	size_t n;
	bool relayed;
	bool has_sid_override; /* RFC 5107 server id override from the relay */
	uint32_t sid_override;
};

struct ctx {
	const struct dhcp_config *cfg;
	struct lease_store *store;
	const struct dhcp4_msg *req;
	const struct dhcp_rx_info *rx;
	int64_t now;
	struct dhcp_decision *ret;
	struct dhcp_client c;
	struct link link;
	const struct dhcp_ha *ha; /* the arrival interface's HA pair; NULL: served alone */
};

/* ---- engine_client.c: who the client is, what the store holds of it ---- */

/* The client of req; -ENOENT when it has neither a hardware address nor a
 * client id. */
int dhcp_client_init(const struct dhcp4_msg *req, struct dhcp_client *c);
/* Is the client known by its option 61 in subnet s? */
bool dhcp_client_by_id(const struct dhcp_client *c, const struct dhcp_subnet *s);
const struct dhcp_subnet *dhcp_lease_subnet(const struct ctx *x, const struct lease *l);
/* Is l the request's client's record? */
bool dhcp_lease_is_client(const struct ctx *x, const struct lease *l);
/* The client's record in subnet s, or NULL. */
const struct lease *dhcp_client_lease(const struct ctx *x, const struct dhcp_subnet *s);
/* The client's reservation on the link (and its subnet), or NULL. */
const struct dhcp_host *dhcp_client_host(const struct ctx *x, const struct dhcp_subnet **ret_s);
const struct dhcp_subnet *dhcp_link_subnet_of(const struct link *k, uint32_t addr);
/* Does l hold its address against everyone but its own client? */
bool dhcp_lease_holds(const struct lease *l, int64_t now);

/* Fill ret->reply (type OFFER or ACK) with fields and options, and the
 * destination. -ENOSPC if the options do not fit the message arena. */
int dhcp_reply_build(const struct dhcp_config *cfg, const struct dhcp4_msg *req, const struct dhcp_client *c,
		     const struct dhcp_grant *g, uint8_t type, struct dhcp_decision *ret);
/* A NAK from server_id (host order). */
int dhcp_reply_nak(const struct dhcp4_msg *req, uint32_t server_id, const char *why, struct dhcp_decision *ret);

/* ---- engine_ha.c: what a rack of an HA pair may do (docs/dhcp-ha.md) ----
 * Each takes the interface's pair (never NULL) and answers from its state
 * and the pure rules of ha_hash.h and ha_state.h. */

/* Does this rack answer the client at all? Load balancing (NORMAL only):
 * its own buckets, the partner's once secs exceeds takeover_secs. A
 * message addressed to this rack (a unicast renewal, a REQUEST naming our
 * server id) is always answered. Outside NORMAL every client is. */
bool dhcp_ha_answers(const struct dhcp_ha *ha, const struct dhcp4_msg *req, const struct dhcp_client *c,
		     bool match_client_id, bool to_us);
/* May a new address be taken from the share of `partner` (true: the
 * partner's share, false: ours)? */
bool dhcp_ha_may_allocate(const struct dhcp_ha *ha, bool partner);
/* May an address whose last lease (l, another client's, not holding) ended
 * go to a different client now? */
bool dhcp_ha_reusable(const struct dhcp_ha *ha, const struct lease *l, int64_t now);
/* The expiry to grant: want (now + the lease time), capped by the pair's
 * rules; cur: the client's record at that address, or NULL. <= now: the
 * lease cannot be extended (NAK). */
int64_t dhcp_ha_expiry(const struct dhcp_ha *ha, int64_t now, int64_t want, const struct lease *cur);
