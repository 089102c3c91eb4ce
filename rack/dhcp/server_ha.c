/* The DHCP server's side of an HA pair (docs/dhcp-ha.md); see server.h,
 * "DHCP HA". Per HA VLAN: the pair's state (copied into each config the
 * server serves, where the engine reads it), the records staged since the
 * last commit (sent to the partner when the commit begins, so the round
 * trip overlaps the fdatasync), the records sent and not yet acked, and
 * the partner's acked position, which held ACKs wait for. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/net.h"
#include "common/util.h"
#include "rack/dhcp/ha_merge.h"
#include "rack/dhcp/ha_msg.h"
#include "rack/dhcp/ha_split.h"
#include "rack/dhcp/ha_state.h"
#include "rack/dhcp/server_internal.h"

struct ha_sent {
	uint32_t addr;
	uint64_t seq;
	int64_t expiry;
};

struct dhcp_ha_vlan {
	uint64_t vlan_id;
	enum ha_role role;
	struct dhcp_ha_state st;
	uint64_t acked;	       /* the partner holds our records up to this seq */
	struct lease *pending; /* staged since the last commit began */
	size_t n_pending, cap_pending;
	struct ha_sent *sent; /* sent, not yet acked */
	size_t n_sent, cap_sent;
	bool resync; /* a range was held back under a running pair: the two must split it again */
};

static struct dhcp_ha_vlan *ha_find(const struct dhcp_server *s, uint64_t vlan_id)
{
	for (size_t i = 0; i < s->n_ha; i++)
		if (s->ha[i] && s->ha[i]->vlan_id == vlan_id) /* NULL: moved by a config being applied */
			return s->ha[i];
	return NULL;
}

/* The served interface of vlan_id in the current config, or -1. */
ssize_t dhcp_server_ha_iface_of_vlan(const struct dhcp_server *s, uint64_t vlan_id)
{
	const struct dhcp_loaded *l = s->loaded;
	for (size_t i = 0; l && l->vlan_ids && i < l->cfg.n_ifaces; i++)
		if (l->vlan_ids[i] == vlan_id)
			return (ssize_t)i;
	return -1;
}

/* The HA VLAN whose interface serves subnet_id (on the link or relayed). */
static struct dhcp_ha_vlan *ha_of_subnet(const struct dhcp_server *s, uint32_t subnet_id)
{
	const struct dhcp_loaded *l = s->loaded;
	for (size_t i = 0; l && l->vlan_ids && i < l->cfg.n_ifaces; i++) {
		const struct dhcp_iface *ifc = &l->cfg.ifaces[i];
		if (!ifc->ha)
			continue;
		for (size_t k = 0; k < ifc->n_subnets; k++)
			if (ifc->subnets[k].id == subnet_id)
				return ha_find(s, l->vlan_ids[i]);
		for (size_t k = 0; k < ifc->n_relayed; k++)
			if (ifc->relayed[k].id == subnet_id)
				return ha_find(s, l->vlan_ids[i]);
	}
	return NULL;
}

static void ha_copy_to_config(struct dhcp_server *s, const struct dhcp_ha_vlan *v)
{
	ssize_t i = dhcp_server_ha_iface_of_vlan(s, v->vlan_id);
	if (i < 0)
		return;
	struct dhcp_ha *ha = s->loaded->cfg.ifaces[i].ha;
	if (!ha)
		return;
	ha->state = v->st.state;
	ha->takeover = v->st.takeover;
	ha->mclt_s = v->st.mclt_s;
	ha->timeout_s = v->st.timeout_s;
	ha->skew_s = v->st.skew_s;
}

/* Stop waiting for vlan's partner: replies still waiting for it are
 * dropped (events kept); 0 = every VLAN. */
static void ha_drop_waiting(struct dhcp_server *s, uint64_t vlan_id)
{
	size_t dropped = 0;
	for (size_t i = 0; i < s->n_held; i++) {
		struct dhcp_held_reply *p = &s->held[i];
		if (!p->ha_vlan || (vlan_id && p->ha_vlan != vlan_id))
			continue;
		if (!dhcp_server_ha_acked_seq(s, p->ha_vlan, (uint64_t)p->commit_seq) && p->tx.type) {
			p->tx.type = 0;
			p->sock = NULL;
			dropped++;
		}
		p->ha_vlan = 0;
	}
	if (dropped)
		log_info("dhcp-ha: %zu replies that waited for the partner dropped (their clients retry)", dropped);
}

/* The ranges of the interface serving v, one at a time. */
typedef void (*range_fn)(struct dhcp_server *s, const struct dhcp_range *r, void *arg);

static void foreach_range(struct dhcp_server *s, const struct dhcp_iface *ifc, range_fn fn, void *arg)
{
	for (size_t k = 0; k < ifc->n_subnets; k++)
		for (size_t j = 0; j < ifc->subnets[k].n_ranges; j++)
			fn(s, &ifc->subnets[k].ranges[j], arg);
	for (size_t k = 0; k < ifc->n_relayed; k++)
		for (size_t j = 0; j < ifc->relayed[k].n_ranges; j++)
			fn(s, &ifc->relayed[k].ranges[j], arg);
}

static void set_owner(struct dhcp_server *s, const struct dhcp_range *r, enum lease_owner owner)
{
	int64_t rc = lease_store_pool_set_owner(s->leases, r->first, r->last, owner);
	if (rc < 0)
		log_warn("dhcp-ha: cannot set the owner of range %u: %s", r->id, strerror((int)-rc));
}

bool dhcp_server_ha_ends_owned_by(struct dhcp_server *s, const struct dhcp_range *r, enum lease_owner owner)
{
	return lease_store_pool_owner(s->leases, r->first) == owner &&
	       lease_store_pool_owner(s->leases, r->last) == owner;
}

/* Does r's ownership look like the split a rack of `role` gets
 * (ha_split_initial)? Probed at both ends of each half: a range that grew,
 * shrank or moved since it was split has its middle elsewhere. */
static bool split_matches(struct dhcp_server *s, const struct dhcp_range *r, enum ha_role role)
{
	struct ha_owner_span sp[2];
	int n = ha_split_initial(r->first, r->last, role, sp);
	for (int i = 0; i < n; i++)
		if (lease_store_pool_owner(s->leases, sp[i].first) != sp[i].owner ||
		    lease_store_pool_owner(s->leases, sp[i].last) != sp[i].owner)
			return false;
	return n > 0;
}

struct hold_ctx {
	enum ha_role role;
	bool new_pairing; /* this rack just became one of the pair (not a restart) */
	bool held;	  /* set when a range was held back */
};

/* Which ranges a rack of the pair must not allocate from until the next
 * split (docs/dhcp-ha.md, "What runs today": the split):
 *   - a secondary's range that is not its half of the current range: one
 *     it never split (the primary may have served it alone before the
 *     pair, and only the first merge says what is in use), one from a
 *     role swap, one that changed since it was split; and every range of
 *     a pairing that is new while the rack runs (a split left from an
 *     earlier pairing is stale: the primary served alone since);
 *   - a primary's range that is neither all its own (it served alone:
 *     it gives at the split) nor its half of the current range.
 * Held back = every address the partner's; the split at the next sync
 * gives each its half again. */
static void hold_back(struct dhcp_server *s, const struct dhcp_range *r, void *arg)
{
	struct hold_ctx *c = arg;
	if (dhcp_server_ha_ends_owned_by(s, r, LEASE_OWNER_PEER))
		return; /* held back already */
	bool hold = c->role == HA_ROLE_SECONDARY
			? c->new_pairing || !split_matches(s, r, c->role)
			: !dhcp_server_ha_ends_owned_by(s, r, LEASE_OWNER_LOCAL) && !split_matches(s, r, c->role);
	if (!hold)
		return;
	char f[16], l[16];
	log_info("dhcp-ha: range %u (%s-%s) held back until the pair splits it again", r->id, ipv4_text(r->first, f),
		 ipv4_text(r->last, l));
	set_owner(s, r, LEASE_OWNER_PEER);
	c->held = true;
}

/* A range of a VLAN this rack serves alone is all its own. */
static void take_all(struct dhcp_server *s, const struct dhcp_range *r, void *arg)
{
	if (lease_store_pool_owner(s->leases, r->first) == LEASE_OWNER_PEER ||
	    lease_store_pool_owner(s->leases, r->last) == LEASE_OWNER_PEER)
		set_owner(s, r, LEASE_OWNER_LOCAL);
}

static void any_peer(struct dhcp_server *s, const struct dhcp_range *r, void *arg)
{
	*(bool *)arg |= !dhcp_server_ha_ends_owned_by(s, r, LEASE_OWNER_LOCAL);
}

static struct ha_deferred *deferred_of(struct dhcp_server *s, uint64_t vlan_id)
{
	for (size_t i = 0; i < s->n_ha_deferred; i++)
		if (s->ha_deferred[i].vlan_id == vlan_id)
			return &s->ha_deferred[i];
	return NULL;
}

static void deferred_drop(struct dhcp_server *s, uint64_t vlan_id)
{
	struct ha_deferred *d = deferred_of(s, vlan_id);
	if (d)
		*d = s->ha_deferred[--s->n_ha_deferred];
}

/* A VLAN that is no longer in a pair (docs/dhcp-ha.md, "What runs
 * today"): its ranges become all this rack's. At once when the pair was
 * NORMAL until now (every lease the partner gave is here: its ACKs waited
 * for ours) or had taken the partner's share over; otherwise (degraded, or
 * a restart: the state before is not known) only after the MCLT + 1 %, the
 * longest a lease the partner gave alone may still run. */
static void left_pair(struct dhcp_server *s, const struct dhcp_iface *ifc, uint64_t vlan_id,
		      const struct dhcp_ha_vlan *was)
{
	bool peer = false;
	foreach_range(s, ifc, any_peer, &peer);
	if (!peer) {
		deferred_drop(s, vlan_id);
		return;
	}
	if (was && (was->st.state == HA_NORMAL || (was->st.state == HA_PARTNER_DOWN && was->st.takeover))) {
		deferred_drop(s, vlan_id);
		foreach_range(s, ifc, take_all, NULL);
		return;
	}
	if (deferred_of(s, vlan_id))
		return;
	int64_t mclt = was && was->st.mclt_s > 0 ? was->st.mclt_s : s->ha_mclt_s;
	int64_t wait = mclt + mclt / 100 + 1;
	s->ha_deferred = xreallocarray(s->ha_deferred, s->n_ha_deferred + 1, sizeof(*s->ha_deferred));
	s->ha_deferred[s->n_ha_deferred++] = (struct ha_deferred){vlan_id, clock_mono_us() + wait * 1000000};
	log_warn("dhcp-ha: %s: VLAN %u left its DHCP HA pair while %s: the partner's share becomes this rack's in "
		 "%llds (the MCLT), when no lease the partner gave alone can still run",
		 ifc->name, ifc->vid, was ? ha_state_name((enum ha_state)was->st.state) : "its state was not known",
		 (long long)wait);
}

void dhcp_server_ha_tick(struct dhcp_server *s)
{
	int64_t now = clock_mono_us();
	const struct dhcp_loaded *l = s->loaded;
	for (size_t i = 0; i < s->n_ha_deferred;) {
		struct ha_deferred d = s->ha_deferred[i];
		if (d.at > now) {
			i++;
			continue;
		}
		s->ha_deferred[i] = s->ha_deferred[--s->n_ha_deferred];
		ssize_t k = l ? dhcp_server_ha_iface_of_vlan(s, d.vlan_id) : -1;
		if (k < 0 || l->cfg.ifaces[k].ha)
			continue; /* no longer served, or paired again: the pair's split decides */
		foreach_range(s, &l->cfg.ifaces[k], take_all, NULL);
		log_info("dhcp-ha: %s: VLAN %u: the MCLT has passed since it left its pair: its ranges are all this "
			 "rack's",
			 l->cfg.ifaces[k].name, l->cfg.ifaces[k].vid);
	}
}

/* The split, at a sync: a range whose two ends have one owner (never
 * split, or held back) gets the halves of ha_split_initial; one already
 * split keeps its halves (rebalancing never gives a range away whole). */
static void split_range(struct dhcp_server *s, const struct dhcp_range *r, void *arg)
{
	const enum ha_role *role = arg;
	if (lease_store_pool_owner(s->leases, r->first) != lease_store_pool_owner(s->leases, r->last))
		return;
	struct ha_owner_span spans[2];
	char f[16], l[16];
	int n = ha_split_initial(r->first, r->last, *role, spans);
	for (int i = 0; i < n; i++) {
		int64_t rc = lease_store_pool_set_owner(s->leases, spans[i].first, spans[i].last, spans[i].owner);
		if (rc < 0)
			log_warn("dhcp-ha: cannot split range %u: %s", r->id, strerror((int)-rc));
		else if (spans[i].owner == LEASE_OWNER_LOCAL)
			log_info("dhcp-ha: range %u split: %s-%s is this rack's share", r->id,
				 ipv4_text(spans[i].first, f), ipv4_text(spans[i].last, l));
	}
}

void dhcp_server_ha_applied(struct dhcp_server *s)
{
	const struct dhcp_loaded *l = s->loaded;
	struct dhcp_ha_vlan **next = xcalloc(l ? l->cfg.n_ifaces + 1 : 1, sizeof(*next));
	size_t m = 0;
	for (size_t i = 0; l && l->vlan_ids && i < l->cfg.n_ifaces; i++) {
		const struct dhcp_iface *ifc = &l->cfg.ifaces[i];
		if (!ifc->ha) {
			if (s->leases)
				left_pair(s, ifc, l->vlan_ids[i],
					  s->ha_applied_once ? ha_find(s, l->vlan_ids[i]) : NULL);
			continue;
		}
		deferred_drop(s, l->vlan_ids[i]);
		struct dhcp_ha_vlan *v = ha_find(s, l->vlan_ids[i]);
		bool fresh = !v || v->role != (enum ha_role)ifc->ha->role;
		if (v) {
			for (size_t k = 0; k < s->n_ha; k++)
				if (s->ha[k] == v)
					s->ha[k] = NULL;
		} else {
			v = xcalloc(1, sizeof(*v));
			v->vlan_id = l->vlan_ids[i];
			v->st = (struct dhcp_ha_state){.state = HA_RECOVER,
						       .mclt_s = ifc->ha->mclt_s,
						       .timeout_s = ifc->ha->timeout_s,
						       .skew_s = ifc->ha->skew_s};
			log_info("dhcp-ha: %s serves VLAN %u as the %s of a pair (state %s)", ifc->name, ifc->vid,
				 ha_role_name((enum ha_role)ifc->ha->role), ha_state_name(HA_RECOVER));
		}
		v->role = (enum ha_role)ifc->ha->role;
		next[m++] = v;
		ha_copy_to_config(s, v);
		if (s->leases) {
			struct hold_ctx c = {.role = v->role, .new_pairing = fresh && s->ha_applied_once};
			foreach_range(s, ifc, hold_back, &c);
			v->resync |= c.held && !fresh;
		}
	}
	if (l)
		s->ha_applied_once = true;
	for (size_t k = 0; k < s->n_ha; k++) {
		if (!s->ha[k])
			continue;
		ha_drop_waiting(s, s->ha[k]->vlan_id);
		free(s->ha[k]->pending);
		free(s->ha[k]->sent);
		free(s->ha[k]);
	}
	free(s->ha);
	s->ha = next;
	s->n_ha = m;
	dhcp_server_flush(s);
}

void dhcp_server_ha_free_all(struct dhcp_server *s)
{
	for (size_t k = 0; k < s->n_ha; k++) {
		free(s->ha[k]->pending);
		free(s->ha[k]->sent);
		free(s->ha[k]);
	}
	free(s->ha);
	s->ha = NULL;
	s->n_ha = 0;
	free(s->ha_deferred);
	s->ha_deferred = NULL;
	s->n_ha_deferred = 0;
}

/* ---- the store's changes, to the partner ---- */

static void ha_observe(void *arg, const struct lease *l)
{
	struct dhcp_server *s = arg;
	if (s->ha_applying || l->state == LEASE_OFFERED)
		return;
	struct dhcp_ha_vlan *v = ha_of_subnet(s, l->subnet_id);
	if (!v)
		return;
	if (v->n_pending == v->cap_pending) {
		v->cap_pending = v->cap_pending ? v->cap_pending * 2 : 64;
		v->pending = xreallocarray(v->pending, v->cap_pending, sizeof(*v->pending));
	}
	v->pending[v->n_pending++] = *l;
}

void dhcp_server_set_ha_ops(struct dhcp_server *s, const struct dhcp_ha_ops *ops, void *arg)
{
	s->ha_ops = ops;
	s->ha_arg = arg;
	if (s->leases)
		lease_store_set_observer(s->leases, ops ? ha_observe : NULL, s);
}

void dhcp_server_ha_commit_begin(struct dhcp_server *s)
{
	for (size_t k = 0; k < s->n_ha; k++) {
		struct dhcp_ha_vlan *v = s->ha[k];
		if (!v->n_pending)
			continue;
		bool sent = s->ha_ops && s->ha_ops->on_updates(s->ha_arg, v->vlan_id, v->pending, v->n_pending);
		if (sent) {
			if (v->n_sent + v->n_pending > v->cap_sent) {
				v->cap_sent = v->n_sent + v->n_pending + 64;
				v->sent = xreallocarray(v->sent, v->cap_sent, sizeof(*v->sent));
			}
			for (size_t i = 0; i < v->n_pending; i++)
				v->sent[v->n_sent++] =
				    (struct ha_sent){v->pending[i].addr, v->pending[i].seq, v->pending[i].expiry};
		}
		v->n_pending = 0;
	}
}

uint64_t dhcp_server_ha_wait_vlan(const struct dhcp_server *s, const struct dhcp_sock *sock)
{
	if (!sock || !s->n_ha)
		return 0;
	const struct dhcp_ha_vlan *v = ha_find(s, sock->vlan_id);
	return v && v->st.wait_ack ? v->vlan_id : 0;
}

bool dhcp_server_ha_acked_seq(const struct dhcp_server *s, uint64_t vlan_id, uint64_t seq)
{
	const struct dhcp_ha_vlan *v = ha_find(s, vlan_id);
	return !v || !v->st.wait_ack || v->acked >= seq;
}

void dhcp_server_ha_set(struct dhcp_server *s, uint64_t vlan_id, const struct dhcp_ha_state *st)
{
	struct dhcp_ha_vlan *v = ha_find(s, vlan_id);
	if (!v)
		return;
	bool was_waiting = v->st.wait_ack;
	v->st = *st;
	if (!st->wait_ack) {
		v->n_sent = 0; /* the next sync carries them */
		if (was_waiting)
			ha_drop_waiting(s, vlan_id);
	}
	ha_copy_to_config(s, v);
	dhcp_server_flush(s);
}

void dhcp_server_ha_acked(struct dhcp_server *s, uint64_t vlan_id, uint64_t seq)
{
	struct dhcp_ha_vlan *v = ha_find(s, vlan_id);
	if (!v)
		return;
	if (seq > v->acked)
		v->acked = seq;
	size_t kept = 0;
	for (size_t i = 0; i < v->n_sent; i++) {
		if (v->sent[i].seq <= seq) {
			if (s->leases)
				lease_store_set_acked(s->leases, v->sent[i].addr, v->sent[i].expiry);
			continue;
		}
		v->sent[kept++] = v->sent[i];
	}
	v->n_sent = kept;
	dhcp_server_flush(s);
}

/* ---- the partner's records, here ---- */

int64_t dhcp_server_ha_stage(struct dhcp_server *s, const struct lease *peer, size_t n, dhcp_ha_conflict_fn on_conflict,
			     void *arg)
{
	int64_t last = 0;
	size_t refused = 0;
	if (!s->leases)
		return -EIO;
	s->ha_applying = true;
	for (size_t i = 0; i < n; i++) {
		const struct lease *mine = lease_store_find_addr(s->leases, peer[i].addr);
		struct ha_merge_result r;
		char ip[16];
		ha_merge(mine && mine->state != LEASE_OFFERED ? mine : NULL,
			 mine && mine->state != LEASE_OFFERED ? 1 : 0, &peer[i], 1, &r);
		for (size_t k = 0; k < r.n_conflicts && on_conflict; k++)
			on_conflict(arg, &r.conflicts[k]);
		for (size_t k = 0; k < r.n_conflicts && k < 1; k++)
			if (dhcp_server_warn_allowed(s))
				log_warn("dhcp-ha: two clients bound to %s across the pair; the newer grant is kept",
					 ipv4_text(peer[i].addr, ip));
		for (size_t k = 0; k < r.n_apply; k++) {
			int64_t seq = lease_store_stage(s->leases, &r.apply[k]);
			if (seq < 0) {
				refused++;
				continue;
			}
			/* the partner told us: it knows this expiry */
			lease_store_set_acked(s->leases, r.apply[k].addr, r.apply[k].expiry);
			if (seq > last)
				last = seq;
		}
		ha_merge_result_done(&r);
	}
	s->ha_applying = false;
	if (refused && dhcp_server_warn_allowed(s))
		log_warn("dhcp-ha: %zu of the partner's records not stored (store limits)", refused);
	dhcp_server_flush(s);
	return last;
}

struct collect {
	const struct dhcp_server *s;
	const struct dhcp_ha_vlan *v;
	struct lease *out;
	size_t n, cap;
};

static int collect_one(const struct lease *l, void *arg)
{
	struct collect *c = arg;
	if (l->state == LEASE_OFFERED || ha_of_subnet(c->s, l->subnet_id) != c->v)
		return 0;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 256;
		c->out = xreallocarray(c->out, c->cap, sizeof(*c->out));
	}
	c->out[c->n++] = *l;
	return 0;
}

static int by_seq(const void *a, const void *b)
{
	const struct lease *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

size_t dhcp_server_ha_records(const struct dhcp_server *s, uint64_t vlan_id, struct lease **ret)
{
	struct collect c = {.s = s, .v = ha_find(s, vlan_id)};
	*ret = NULL;
	if (!c.v || !s->leases)
		return 0;
	lease_store_foreach(s->leases, collect_one, &c);
	if (c.n)
		qsort(c.out, c.n, sizeof(*c.out), by_seq);
	*ret = c.out;
	return c.n;
}

bool dhcp_server_ha_take_resync(struct dhcp_server *s, uint64_t vlan_id)
{
	struct dhcp_ha_vlan *v = ha_find(s, vlan_id);
	bool r = v && v->resync;
	if (v)
		v->resync = false;
	return r;
}

void dhcp_server_ha_split(struct dhcp_server *s, uint64_t vlan_id)
{
	struct dhcp_ha_vlan *v = ha_find(s, vlan_id);
	ssize_t i = dhcp_server_ha_iface_of_vlan(s, vlan_id);
	if (!v || i < 0 || !s->leases)
		return;
	v->resync = false;
	foreach_range(s, &s->loaded->cfg.ifaces[i], split_range, &v->role);
	dhcp_server_flush(s);
}

void dhcp_server_ha_free(const struct dhcp_server *s, uint64_t vlan_id, uint64_t *ret_own, uint64_t *ret_partner)
{
	uint64_t own = 0, partner = 0;
	ssize_t i = dhcp_server_ha_iface_of_vlan(s, vlan_id);
	const struct dhcp_iface *ifc = i >= 0 && s->leases ? &s->loaded->cfg.ifaces[i] : NULL;
	for (size_t k = 0; ifc && k < ifc->n_subnets + ifc->n_relayed; k++) {
		const struct dhcp_subnet *sn =
		    k < ifc->n_subnets ? &ifc->subnets[k] : &ifc->relayed[k - ifc->n_subnets];
		for (size_t j = 0; j < sn->n_ranges; j++) {
			for (uint64_t a = sn->ranges[j].first; a <= sn->ranges[j].last; a++) {
				if (lease_store_is_taken(s->leases, (uint32_t)a))
					continue;
				if (lease_store_pool_owner(s->leases, (uint32_t)a) == LEASE_OWNER_LOCAL)
					own++;
				else
					partner++;
			}
		}
	}
	*ret_own = own;
	*ret_partner = partner;
}
