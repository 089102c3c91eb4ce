/* RFC 2131 server decisions: which link and subnet a request belongs to,
 * which address a DISCOVER gets, whether a REQUEST is ACKed, NAKed or
 * ignored, DECLINE, RELEASE, INFORM. Replies are built in engine_reply.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "rack/dhcp/engine_internal.h"

enum confirm_mode { CONFIRM_SELECTING, CONFIRM_INIT_REBOOT, CONFIRM_RENEWING, CONFIRM_REBINDING };

static int ignore(struct ctx *x, const char *why)
{
	x->ret->reason = why;
	return DHCP_IGNORE;
}

static void add_event(struct ctx *x, enum dhcp_event_kind kind, uint32_t addr, const struct dhcp_subnet *s,
		      int64_t expiry, uint8_t conflict)
{
	struct dhcp_decision *ret = x->ret;
	if (ret->n_events >= DHCP_EVENTS_MAX)
		return;
	struct dhcp_event *e = &ret->events[ret->n_events++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->addr = addr;
	e->subnet_id = s ? s->id : 0;
	e->htype = x->c.htype;
	e->hlen = x->c.hlen;
	memcpy(e->chaddr, x->c.chaddr, sizeof(e->chaddr));
	e->conflict = conflict;
	e->expiry = expiry;
	size_t len;
	const char *h = dhcp4_msg_hostname(x->req, &len);
	for (size_t i = 0; h && i < len && i < sizeof(e->hostname) - 1; i++)
		e->hostname[i] = (h[i] >= 0x20 && h[i] < 0x7f) ? h[i] : '?';
}

/* May this rack give a new dynamic address from addr's share? Its own
 * share alone; in an HA pair, what the pair's state permits (nothing new
 * in RECOVER or FENCED, the partner's share too after a takeover). */
static bool share_ok(const struct ctx *x, uint32_t addr)
{
	bool peer = lease_store_pool_owner(x->store, addr) == LEASE_OWNER_PEER;
	if (!x->ha)
		return !peer;
	return dhcp_ha_may_allocate(x->ha, peer);
}

/* May addr be given to this client? Yes if it has no record, a free one,
 * or one of this client's (not a quarantine). A dynamic address must also
 * be ours to give (HA pool split) unless it is the client's live binding;
 * in an HA pair another client's ended lease must be past the reuse wait
 * (the partner may have extended it). */
static bool addr_usable(const struct ctx *x, uint32_t addr, bool dynamic)
{
	const struct lease *l = lease_store_find_addr(x->store, addr);
	if (l && l->state == LEASE_DECLINED)
		return false;
	if (l && dhcp_lease_is_client(x, l)) {
		if (!x->ha || !dynamic || l->state == LEASE_ACTIVE || l->state == LEASE_OFFERED)
			return true;
		return share_ok(x, addr);
	}
	if (l && dhcp_lease_holds(l, x->now))
		return false;
	if (!dynamic)
		return true;
	if (x->ha && l && !dhcp_ha_reusable(x->ha, l, x->now))
		return false;
	return share_ok(x, addr);
}

static uint32_t server_id_for(const struct ctx *x, const struct dhcp_subnet *s)
{
	if (x->link.relayed && x->link.has_sid_override)
		return x->link.sid_override;
	if (s && s->server_addr)
		return s->server_addr;
	return x->rx->local_addr;
}

static bool is_our_server_id(const struct ctx *x, uint32_t sid)
{
	if (sid == x->rx->local_addr || (x->link.has_sid_override && sid == x->link.sid_override))
		return true;
	for (size_t i = 0; i < x->link.n; i++)
		if (x->link.v[i].server_addr == sid)
			return true;
	return false;
}

static uint32_t grant_lease_time(const struct ctx *x, const struct dhcp_subnet *s)
{
	return x->c.pxe ? dhcp_config_pxe_lease_time(x->cfg) : dhcp_config_lease_time(x->cfg, s);
}

/* Stage a record for this client at addr. Returns the seq (0 for OFFERED). */
static int64_t stage(struct ctx *x, const struct dhcp_grant *g, enum lease_state st, int64_t expiry)
{
	struct lease l;
	size_t len;
	const char *h = dhcp4_msg_hostname(x->req, &len);

	memset(&l, 0, sizeof(l));
	l.addr = g->yiaddr;
	l.state = (uint8_t)st;
	l.owner = LEASE_OWNER_LOCAL;
	l.htype = x->c.htype;
	l.hlen = x->c.hlen;
	memcpy(l.chaddr, x->c.chaddr, sizeof(l.chaddr));
	if (x->c.client_id) {
		l.client_id_len = (uint8_t)x->c.client_id_len;
		memcpy(l.client_id, x->c.client_id, x->c.client_id_len);
	}
	if (g->host && g->host->hostname)
		h = g->host->hostname, len = strlen(h);
	for (size_t i = 0; h && i < len && i < sizeof(l.hostname) - 1; i++)
		l.hostname[i] = (h[i] > 0x20 && h[i] < 0x7f) ? h[i] : '-';
	l.start = x->now;
	l.expiry = expiry;
	l.subnet_id = g->subnet->id;
	l.range_id = g->range ? g->range->id : 0;
	/* What the HA partner acknowledged stays known across a renewal. */
	const struct lease *old = lease_store_find_addr(x->store, g->yiaddr);
	if (old && old->state == LEASE_ACTIVE && dhcp_lease_is_client(x, old))
		l.acked_expiry = old->acked_expiry;
	return lease_store_stage(x->store, &l);
}

static void grant_init(struct ctx *x, struct dhcp_grant *g, const struct dhcp_subnet *s, uint32_t addr,
		       const struct dhcp_host *host)
{
	g->subnet = s;
	g->range = host ? NULL : dhcp_subnet_range_of(s, addr);
	g->host = host;
	g->server_id = server_id_for(x, s);
	g->yiaddr = addr;
	g->lease_time = grant_lease_time(x, s);
	g->on_link = !x->link.relayed && !x->req->giaddr;
}

/* ---- DISCOVER ---- */

struct pick {
	const struct dhcp_subnet *s;
	const struct dhcp_host *host;
	uint32_t addr;
	bool probe; /* not known to be this client's: check the wire first */
};

/* The first address of r this rack may give a new client: free, in a
 * share it may allocate from, and (HA) past the reuse wait. -ENOSPC. */
static int first_free(const struct ctx *x, const struct dhcp_range *r, uint32_t *ret)
{
	if (!x->ha)
		return lease_store_first_free(x->store, r->first, r->last, LEASE_OWNER_LOCAL, ret);
	for (int peer = 0; peer <= 1; peer++) {
		if (!dhcp_ha_may_allocate(x->ha, peer))
			continue;
		enum lease_owner owner = peer ? LEASE_OWNER_PEER : LEASE_OWNER_LOCAL;
		uint32_t from = r->first, a;
		while (lease_store_first_free(x->store, from, r->last, owner, &a) == 0) {
			const struct lease *l = lease_store_find_addr(x->store, a);
			if (!l || dhcp_ha_reusable(x->ha, l, x->now)) {
				*ret = a;
				return 0;
			}
			if (a == r->last)
				break;
			from = a + 1;
		}
	}
	return -ENOSPC;
}

/* RFC 2131 4.3.1 order: reservation; the client's current or previous
 * address; the requested address; the first free one. */
static int pick_address(struct ctx *x, struct pick *p)
{
	memset(p, 0, sizeof(*p));
	p->host = dhcp_client_host(x, &p->s);
	if (p->host) {
		p->addr = p->host->addr;
		if (!addr_usable(x, p->addr, false)) {
			add_event(x, DHCP_EV_RESERVED_BUSY, p->addr, p->s, 0, 0);
			return -EADDRINUSE;
		}
		return 0;
	}
	for (size_t i = 0; i < x->link.n; i++) {
		const struct dhcp_subnet *s = &x->link.v[i];
		const struct lease *l = dhcp_client_lease(x, s);
		if (l && l->state != LEASE_DECLINED && l->state != LEASE_RESERVED && dhcp_subnet_contains(s, l->addr) &&
		    dhcp_subnet_range_of(s, l->addr) && addr_usable(x, l->addr, true)) {
			p->s = s;
			p->addr = l->addr;
			p->probe = l->state != LEASE_ACTIVE && l->state != LEASE_OFFERED;
			return 0;
		}
	}
	uint32_t want;
	if (dhcp4_msg_requested_ip(x->req, &want) == 0) {
		want = ntohl(want);
		const struct dhcp_subnet *s = dhcp_link_subnet_of(&x->link, want);
		if (s && dhcp_subnet_range_of(s, want) && addr_usable(x, want, true)) {
			p->s = s;
			p->addr = want;
			p->probe = true;
			return 0;
		}
	}
	for (size_t i = 0; i < x->link.n; i++) {
		const struct dhcp_subnet *s = &x->link.v[i];
		for (size_t j = 0; j < s->n_ranges; j++) {
			if (first_free(x, &s->ranges[j], &p->addr) == 0) {
				p->s = s;
				p->probe = true;
				return 0;
			}
		}
	}
	add_event(x, DHCP_EV_POOL_EXHAUSTED, 0, x->link.n ? &x->link.v[0] : NULL, 0, 0);
	return -ENOSPC;
}

/* Hold addr for the client (memory only) unless the client already holds
 * it: restaging an ACTIVE lease as OFFERED would shorten a promise. */
static int hold(struct ctx *x, const struct dhcp_grant *g)
{
	const struct lease *l = lease_store_find_addr(x->store, g->yiaddr);
	if (l && l->state == LEASE_ACTIVE && dhcp_lease_is_client(x, l))
		return 0;
	int64_t rc = stage(x, g, LEASE_OFFERED, x->now + dhcp_config_offer_hold(x->cfg));
	return rc < 0 ? (int)rc : 0;
}

static int do_discover(struct ctx *x, uint32_t probed_ok)
{
	struct pick p;
	struct dhcp_grant g;
	int rc = pick_address(x, &p);

	if (rc == -EADDRINUSE)
		return ignore(x, "reserved address held by another client");
	if (rc == -ENOSPC)
		return ignore(x, "no free address");
	grant_init(x, &g, p.s, p.addr, p.host);
	rc = hold(x, &g);
	if (rc < 0)
		return rc;
	if (p.probe && x->cfg->probe && p.addr != probed_ok) {
		x->ret->probe_addr = p.addr;
		x->ret->probe_relayed = x->link.relayed;
		return DHCP_PROBE;
	}
	rc = dhcp_reply_build(x->cfg, x->req, &x->c, &g, DHCP4_OFFER, x->ret);
	return rc < 0 ? rc : DHCP_OFFER;
}

/* ---- REQUEST ---- */

static int nak(struct ctx *x, const struct dhcp_subnet *s, const char *why)
{
	return dhcp_reply_nak(x->req, server_id_for(x, s), why, x->ret);
}

static int ack(struct ctx *x, const struct dhcp_subnet *s, uint32_t addr, const struct dhcp_host *host)
{
	struct dhcp_grant g;
	grant_init(x, &g, s, addr, host);
	int64_t expiry = x->now + g.lease_time;
	if (x->ha && g.range) {
		const struct lease *cur = lease_store_find_addr(x->store, addr);
		expiry = dhcp_ha_expiry(x->ha, x->now, expiry, cur && dhcp_lease_is_client(x, cur) ? cur : NULL);
		if (expiry <= x->now)
			return nak(x, s, "HA: the lease cannot be extended in this state");
		g.lease_time = (uint32_t)(expiry - x->now);
	}
	int64_t seq = stage(x, &g, LEASE_ACTIVE, expiry);
	if (seq < 0)
		return (int)seq;
	x->ret->commit_seq = seq;
	int rc = dhcp_reply_build(x->cfg, x->req, &x->c, &g, DHCP4_ACK, x->ret);
	if (rc < 0)
		return rc;
	add_event(x, DHCP_EV_LEASE_GRANTED, addr, s, expiry, 0);
	return DHCP_ACK;
}

/* RFC 2131 4.3.2, INIT-REBOOT: the server knows this client (it has a
 * record of it on this link) and that record is not addr. Judged by the
 * client's own record, not by addr's: addr may be free or unknown. */
static bool client_holds_other(const struct ctx *x, uint32_t addr)
{
	bool known = false;
	for (size_t i = 0; i < x->link.n; i++) {
		const struct lease *l = dhcp_client_lease(x, &x->link.v[i]);
		if (!l || l->state == LEASE_DECLINED || l->state == LEASE_RESERVED)
			continue;
		if (l->addr == addr)
			return false;
		known = true;
	}
	return known;
}

/* The client asks for addr (SELECTING: the one we offered; INIT-REBOOT:
 * the one it remembers; RENEWING/REBINDING: the one it uses). */
static int confirm(struct ctx *x, uint32_t addr, enum confirm_mode mode)
{
	const struct dhcp_subnet *s = dhcp_link_subnet_of(&x->link, addr), *hs = NULL;
	const struct dhcp_host *mine, *other;
	const struct lease *l;

	if (!s) {
		/* A unicast renewal for an address in none of our subnets is
		 * another server's business. */
		if (mode == CONFIRM_RENEWING)
			return ignore(x, "renewal of an address we do not serve");
		return nak(x, x->link.n ? &x->link.v[0] : NULL, "address not on this network");
	}
	mine = dhcp_client_host(x, &hs);
	if (mine && mine->addr != addr)
		return nak(x, s, "client has another reserved address");
	other = dhcp_subnet_host_by_addr(s, addr);
	if (other && other != mine)
		return nak(x, s, "address reserved for another client");
	if (mode == CONFIRM_INIT_REBOOT && !mine && client_holds_other(x, addr))
		return nak(x, s, "requested address is not the client's lease");
	l = lease_store_find_addr(x->store, addr);
	if (l && l->state != LEASE_DECLINED && l->state != LEASE_RESERVED && dhcp_lease_is_client(x, l)) {
		if (mine || addr_usable(x, addr, dhcp_subnet_range_of(s, addr) != NULL))
			return ack(x, s, addr, mine);
		return nak(x, s, "HA: the address is in the partner's share");
	}
	if (l && (dhcp_lease_holds(l, x->now) || l->state == LEASE_DECLINED))
		return nak(x, s, "address not available");
	if (mine)
		return ack(x, s, addr, mine);
	if (mode == CONFIRM_INIT_REBOOT)
		return ignore(x, "no record of this client (RFC 2131 4.3.2: remain silent)");
	if (dhcp_subnet_range_of(s, addr) && addr_usable(x, addr, true))
		return ack(x, s, addr, NULL);
	return nak(x, s, "address not valid");
}

/* SELECTING toward another server: forget our offer, say nothing. */
static int drop_offer(struct ctx *x)
{
	for (size_t i = 0; i < x->link.n; i++) {
		const struct lease *l = dhcp_client_lease(x, &x->link.v[i]);
		if (l && l->state == LEASE_OFFERED) {
			int64_t rc = lease_store_remove(x->store, l->addr);
			if (rc < 0 && rc != -ENOENT)
				return (int)rc;
		}
	}
	return ignore(x, "client chose another server");
}

static int do_request(struct ctx *x)
{
	uint32_t sid, want;
	int has_sid = dhcp4_msg_server_id(x->req, &sid);
	int has_want = dhcp4_msg_requested_ip(x->req, &want);

	if (has_sid == -EBADMSG || has_want == -EBADMSG)
		return -EBADMSG;
	if (has_sid == 0) {
		if (!is_our_server_id(x, ntohl(sid)))
			return drop_offer(x);
		if (has_want != 0 && !x->req->ciaddr)
			return ignore(x, "SELECTING without a requested address");
		return confirm(x, has_want == 0 ? ntohl(want) : ntohl(x->req->ciaddr), CONFIRM_SELECTING);
	}
	if (!x->req->ciaddr) {
		if (has_want != 0)
			return ignore(x, "REQUEST with neither server id, requested address nor ciaddr");
		return confirm(x, ntohl(want), CONFIRM_INIT_REBOOT);
	}
	bool broadcast = x->rx->dst_addr == 0xffffffffu || x->req->giaddr;
	return confirm(x, ntohl(x->req->ciaddr), broadcast ? CONFIRM_REBINDING : CONFIRM_RENEWING);
}

/* ---- DECLINE, RELEASE, INFORM ---- */

static bool foreign_server_id(struct ctx *x)
{
	uint32_t sid;
	return dhcp4_msg_server_id(x->req, &sid) == 0 && !is_our_server_id(x, ntohl(sid));
}

/* Quarantine addr (DECLINED until the quarantine ends) and report it. The
 * record carries no client identity, so it is neither offered to anyone
 * nor found as some client's previous address. */
static int quarantine(struct ctx *x, uint32_t addr, enum lease_conflict why)
{
	const struct lease *l = lease_store_find_addr(x->store, addr);
	const struct dhcp_subnet *s = dhcp_config_subnet_of(x->cfg, addr);
	int64_t until = x->now + dhcp_config_quarantine_time(x->cfg);
	struct lease q;

	if (l) {
		q = *l;
	} else {
		const struct dhcp_range *r = s ? dhcp_subnet_range_of(s, addr) : NULL;
		memset(&q, 0, sizeof(q));
		q.addr = addr;
		q.owner = LEASE_OWNER_LOCAL;
		q.subnet_id = s ? s->id : 0;
		q.range_id = r ? r->id : 0;
	}
	q.state = LEASE_DECLINED;
	q.conflict = (uint8_t)why;
	q.hlen = 0;
	memset(q.chaddr, 0, sizeof(q.chaddr));
	q.client_id_len = 0;
	q.hostname[0] = '\0';
	q.start = x->now;
	q.expiry = until;
	int64_t seq = lease_store_stage(x->store, &q);
	if (seq < 0)
		return (int)seq;
	x->ret->commit_seq = seq;
	add_event(x, DHCP_EV_CONFLICT, addr, s, until, (uint8_t)why);
	return 0;
}

/* The client found addr in use (RFC 2131 4.3.3). Only an address ACKed
 * to this client can be declined: a client declines after its ACK, and
 * accepting a DECLINE of a mere offer would let DISCOVER + DECLINE pairs
 * from made-up MACs quarantine the whole pool. */
static int do_decline(struct ctx *x)
{
	uint32_t addr;
	if (dhcp4_msg_requested_ip(x->req, &addr) != 0)
		return ignore(x, "DECLINE without an address");
	addr = ntohl(addr);
	if (foreign_server_id(x))
		return ignore(x, "DECLINE for another server");
	const struct lease *l = lease_store_find_addr(x->store, addr);
	if (!l || !dhcp_lease_is_client(x, l) || l->state != LEASE_ACTIVE)
		return ignore(x, "DECLINE of an address not ACKed to the client");
	int rc = quarantine(x, addr, LEASE_CONFLICT_DECLINE);
	return rc < 0 ? rc : ignore(x, "address declined and quarantined");
}

/* A RELEASE names its client only by chaddr and ciaddr, which anyone can
 * write. So it must also come from where the lease lives: on the link,
 * from the lease's MAC and address (the frame's source, ret by the shell
 * from its packet socket); routed without a relay, from the lease's
 * address; through a relay, from a relay of the lease's subnet. NULL if
 * it is genuine, else why not. */
static const char *release_forged(const struct ctx *x, const struct lease *l)
{
	const struct dhcp_rx_info *rx = x->rx;
	if (x->req->giaddr)
		return x->link.n == 1 && x->link.v[0].id == l->subnet_id ? NULL
									 : "RELEASE through a relay of another link";
	if (!rx->has_src_addr || rx->src_addr != l->addr)
		return "RELEASE not sent from the lease's address";
	if (x->link.relayed)
		return NULL;
	if (!rx->has_src_mac)
		return "RELEASE without its frame's source MAC (taken from the packet socket)";
	if (l->htype != DHCP4_HTYPE_ETHER || l->hlen != 6 || memcmp(rx->src_mac, l->chaddr, 6) != 0)
		return "RELEASE not sent from the lease's MAC";
	return NULL;
}

static int do_release(struct ctx *x)
{
	uint32_t addr = ntohl(x->req->ciaddr);
	if (!addr)
		return ignore(x, "RELEASE without ciaddr");
	if (foreign_server_id(x))
		return ignore(x, "RELEASE for another server");
	const struct lease *l = lease_store_find_addr(x->store, addr);
	if (!l || !dhcp_lease_is_client(x, l) || (l->state != LEASE_ACTIVE && l->state != LEASE_OFFERED))
		return ignore(x, "RELEASE of an address the client does not hold");
	const char *why = release_forged(x, l);
	if (why)
		return ignore(x, why);
	struct lease r = *l;
	r.state = LEASE_RELEASED; /* the record stays: the client's previous address */
	r.expiry = x->now;
	int64_t seq = lease_store_stage(x->store, &r);
	if (seq < 0)
		return (int)seq;
	x->ret->commit_seq = seq;
	add_event(x, DHCP_EV_LEASE_RELEASED, addr, dhcp_config_subnet_of(x->cfg, addr), x->now, 0);
	return ignore(x, "released");
}

static int do_inform(struct ctx *x)
{
	uint32_t addr = ntohl(x->req->ciaddr);
	const struct dhcp_subnet *s = dhcp_link_subnet_of(&x->link, addr), *hs = NULL;
	struct dhcp_grant g;

	if (!addr || !s)
		return ignore(x, "INFORM from an address we do not serve");
	const struct dhcp_host *host = dhcp_client_host(x, &hs);
	grant_init(x, &g, s, 0, host && host->addr == addr ? host : NULL);
	g.range = NULL;
	g.lease_time = 0; /* RFC 2131 4.3.5: no lease time, no yiaddr */
	int rc = dhcp_reply_build(x->cfg, x->req, &x->c, &g, DHCP4_ACK, x->ret);
	return rc < 0 ? rc : DHCP_ACK;
}

/* ---- entry points ---- */

/* Which subnets this request may be served from; -ENOENT: none. */
static int select_link(struct ctx *x, int type)
{
	const struct dhcp4_msg *req = x->req;
	const struct dhcp_iface *ifc = x->rx->ifname ? dhcp_config_iface(x->cfg, x->rx->ifname) : NULL;
	struct link *k = &x->link;
	uint32_t sel = 0;

	memset(k, 0, sizeof(*k));
	if (!ifc)
		return -ENOENT;
	x->ha = ifc->ha;
	if (req->giaddr) {
		struct dhcp4_relay_info rai;
		sel = ntohl(req->giaddr);
		if (dhcp4_msg_relay_info(req, &rai) == 0) {
			if (rai.has_link_selection)
				sel = ntohl(rai.link_selection);
			k->has_sid_override = rai.has_server_id_override;
			k->sid_override = ntohl(rai.server_id_override);
		}
		k->relayed = true;
	} else if (req->ciaddr && (type == DHCP4_INFORM || type == DHCP4_RELEASE ||
				   (type == DHCP4_REQUEST && x->rx->dst_addr != 0xffffffffu))) {
		/* Unicast from a configured client: it may sit behind a relay
		 * and talk to us directly now; its address names its subnet. */
		sel = ntohl(req->ciaddr);
	} else {
		k->v = ifc->subnets;
		k->n = ifc->n_subnets;
		return k->n ? 0 : -ENOENT;
	}
	k->v = dhcp_config_subnet_of(x->cfg, sel);
	k->n = k->v ? 1 : 0;
	if (k->v && !req->giaddr)
		k->relayed = !dhcp_iface_subnet_of(ifc, sel);
	return k->n ? 0 : -ENOENT;
}

/* Is the message meant for this rack alone (RFC 3074 balances only what
 * every server hears)? A unicast from a configured client, a RELEASE or
 * DECLINE, or a REQUEST naming our server id. */
static bool addressed_to_us(const struct ctx *x, int type)
{
	uint32_t sid;
	if (type == DHCP4_RELEASE || type == DHCP4_DECLINE)
		return true;
	if (!x->req->giaddr && x->req->ciaddr && x->rx->dst_addr != 0xffffffffu)
		return true;
	return type == DHCP4_REQUEST && dhcp4_msg_server_id(x->req, &sid) == 0 && is_our_server_id(x, ntohl(sid));
}

static int handle(struct ctx *x, uint32_t probed_ok)
{
	int type = dhcp4_msg_type(x->req);

	if (type == -ENOENT)
		return ignore(x, "BOOTP request (no option 53)");
	if (type < 0)
		return type;
	if (x->req->op != DHCP4_BOOTREQUEST)
		return ignore(x, "not a BOOTREQUEST");
	if (dhcp_client_init(x->req, &x->c) < 0)
		return ignore(x, "no hardware address or client id");
	if (select_link(x, type) < 0)
		return ignore(x, "no subnet for this interface or relay");
	if (x->ha && !dhcp_ha_answers(x->ha, x->req, &x->c, x->link.v[0].match_client_id, addressed_to_us(x, type)))
		return ignore(x, "HA: a client of the partner's buckets");
	switch (type) {
	case DHCP4_DISCOVER:
		return do_discover(x, probed_ok);
	case DHCP4_REQUEST:
		return do_request(x);
	case DHCP4_DECLINE:
		return do_decline(x);
	case DHCP4_RELEASE:
		return do_release(x);
	case DHCP4_INFORM:
		return do_inform(x);
	default:
		return ignore(x, "not a client message type");
	}
}

static void ctx_init(struct ctx *x, const struct dhcp_config *cfg, struct lease_store *leases,
		     const struct dhcp4_msg *req, const struct dhcp_rx_info *rx, time_t now, struct dhcp_decision *ret)
{
	memset(x, 0, sizeof(*x));
	x->cfg = cfg;
	x->store = leases;
	x->req = req;
	x->rx = rx;
	x->now = (int64_t)now;
	x->ret = ret;
	/* Not the whole struct: the reply is large and only meaningful for
	 * OFFER / ACK / NAK, which build it from scratch. */
	ret->reply.op = 0;
	ret->reply.n_options = 0;
	ret->n_events = 0;
	ret->dest = DHCP_DEST_NONE;
	ret->dest_addr = 0;
	ret->dest_port = 0;
	ret->commit_seq = 0;
	ret->probe_addr = 0;
	ret->probe_relayed = false;
	ret->reason = NULL;
	ret->max_size = 0;
	ret->n_left_out = 0;
}

int dhcp_engine_handle(const struct dhcp_config *cfg, struct lease_store *leases, const struct dhcp4_msg *req,
		       const struct dhcp_rx_info *rx, time_t now, struct dhcp_decision *ret)
{
	struct ctx x;
	ctx_init(&x, cfg, leases, req, rx, now, ret);
	return handle(&x, 0);
}

int dhcp_engine_probe_done(const struct dhcp_config *cfg, struct lease_store *leases, const struct dhcp4_msg *req,
			   const struct dhcp_rx_info *rx, uint32_t addr, bool in_use, time_t now,
			   struct dhcp_decision *ret)
{
	struct ctx x;
	ctx_init(&x, cfg, leases, req, rx, now, ret);
	if (dhcp4_msg_type(req) != DHCP4_DISCOVER)
		return -EINVAL;
	if (!in_use)
		return handle(&x, addr);

	/* Someone answered: quarantine, report, and choose again. Whatever
	 * happened to our hold meanwhile (reclaimed, say), the address is in
	 * use on the wire; only another client's live lease is left alone. */
	if (!dhcp_config_subnet_of(cfg, addr))
		return -EINVAL;
	const struct lease *l = lease_store_find_addr(leases, addr);
	int rc = dhcp_client_init(req, &x.c);
	if (rc == 0 &&
	    (!l || !dhcp_lease_holds(l, x.now) || (l->state == LEASE_OFFERED && dhcp_lease_is_client(&x, l)))) {
		rc = quarantine(&x, addr, req->giaddr ? LEASE_CONFLICT_ICMP : LEASE_CONFLICT_ARP);
		if (rc < 0)
			return rc;
	}
	return handle(&x, 0);
}

int dhcp_engine_reclaim(struct lease_store *leases, time_t now, struct dhcp_event *ret, size_t max, size_t *ret_n)
{
	struct lease buf[32];
	size_t n = 0;

	if (max > 32)
		max = 32;
	int got = lease_store_reclaim(leases, (int64_t)now, buf, max);
	if (got < 0)
		return got;
	for (int i = 0; i < got; i++) {
		const struct lease *l = &buf[i];
		if (l->state != LEASE_ACTIVE && l->state != LEASE_DECLINED)
			continue;
		struct dhcp_event *e = &ret[n++];
		memset(e, 0, sizeof(*e));
		e->kind = DHCP_EV_LEASE_EXPIRED;
		e->addr = l->addr;
		e->subnet_id = l->subnet_id;
		e->htype = l->htype;
		e->hlen = l->hlen;
		memcpy(e->chaddr, l->chaddr, sizeof(e->chaddr));
		e->conflict = l->conflict;
		e->expiry = l->expiry;
		memcpy(e->hostname, l->hostname, sizeof(e->hostname));
		e->hostname[sizeof(e->hostname) - 1] = '\0';
	}
	*ret_n = n;
	return got;
}

const char *dhcp_verdict_name(int verdict)
{
	switch (verdict) {
	case DHCP_IGNORE:
		return "IGNORE";
	case DHCP_OFFER:
		return "OFFER";
	case DHCP_ACK:
		return "ACK";
	case DHCP_NAK:
		return "NAK";
	case DHCP_PROBE:
		return "PROBE";
	default:
		return verdict < 0 ? "ERROR" : "?";
	}
}
