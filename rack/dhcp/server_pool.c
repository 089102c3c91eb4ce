/* The DHCP server's side of rebalancing an HA pair's shares
 * (docs/dhcp-ha.md, "Rebalancing"; the shell is ha_pool.c): what to ask
 * for, what to give and take, and the check for addresses neither rack
 * owns (a grant lost with the link). Everything here reads and writes the
 * lease store's pool-owner map; the arithmetic is ha_split.h's. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "rack/dhcp/ha_msg.h"
#include "rack/dhcp/ha_split.h"
#include "rack/dhcp/server_internal.h"

/* ---- rebalancing the shares (docs/dhcp-ha.md, NORMAL) ---- */

/* The n-th range (from 0) of vlan_id's interface, over its own subnets
 * then its relayed ones; NULL past the last, or without a lease store. */
static const struct dhcp_range *vlan_range(const struct dhcp_server *s, uint64_t vlan_id, size_t n)
{
	ssize_t i = s->leases ? dhcp_server_ha_iface_of_vlan(s, vlan_id) : -1;
	const struct dhcp_iface *ifc = i >= 0 ? &s->loaded->cfg.ifaces[i] : NULL;
	for (size_t k = 0; ifc && k < ifc->n_subnets + ifc->n_relayed; k++) {
		const struct dhcp_subnet *sn =
		    k < ifc->n_subnets ? &ifc->subnets[k] : &ifc->relayed[k - ifc->n_subnets];
		if (n < sn->n_ranges)
			return &sn->ranges[n];
		n -= sn->n_ranges;
	}
	return NULL;
}

/* The range of vlan_id's interface with this id, or NULL. */
static const struct dhcp_range *range_of(const struct dhcp_server *s, uint64_t vlan_id, uint32_t range_id)
{
	const struct dhcp_range *r;
	for (size_t n = 0; (r = vlan_range(s, vlan_id, n)); n++)
		if (r->id == range_id)
			return r;
	return NULL;
}

/* Rebalancing moves addresses only in a range split between the racks:
 * not one held back (its ends the partner's) nor one wholly ours. */
static bool is_split(struct dhcp_server *s, const struct dhcp_range *r)
{
	return !dhcp_server_ha_ends_owned_by(s, r, LEASE_OWNER_PEER) &&
	       !dhcp_server_ha_ends_owned_by(s, r, LEASE_OWNER_LOCAL);
}

static void range_free(const struct dhcp_server *s, const struct dhcp_range *r, uint32_t *own, uint32_t *partner)
{
	*own = *partner = 0;
	for (uint64_t a = r->first; a <= r->last; a++) {
		if (lease_store_is_taken(s->leases, (uint32_t)a))
			continue;
		if (lease_store_pool_owner(s->leases, (uint32_t)a) == LEASE_OWNER_LOCAL)
			(*own)++;
		else
			(*partner)++;
	}
}

/* May this address change hands? Not the range's ends nor the ends of
 * either half of the initial split (the split and hold-back rules read
 * them), and only an address no record holds (never used, or its record
 * gone): each side's reuse waits then have nothing to wait for. */
static bool movable(const struct dhcp_server *s, const struct dhcp_range *r, uint32_t a)
{
	struct ha_owner_span sp[2];
	int n = ha_split_initial(r->first, r->last, HA_ROLE_PRIMARY, sp);
	if (a == r->first || a == r->last)
		return false;
	for (int i = 0; i < n; i++)
		if (a == sp[i].first || a == sp[i].last)
			return false;
	return !lease_store_find_addr(s->leases, a);
}

size_t dhcp_server_ha_pool_asks(struct dhcp_server *s, uint64_t vlan_id, struct ha_pool_ask *ret, size_t max)
{
	const struct dhcp_range *r;
	size_t n = 0;
	for (size_t k = 0; n < max && (r = vlan_range(s, vlan_id, k)); k++) {
		if (!is_split(s, r))
			continue; /* the next split decides */
		uint32_t own, partner;
		range_free(s, r, &own, &partner);
		uint32_t count = ha_rebalance_ask(own, partner);
		if (count)
			ret[n++] = (struct ha_pool_ask){.range_id = r->id, .count = count, .free = own};
	}
	return n;
}

int dhcp_server_ha_pool_give(struct dhcp_server *s, uint64_t vlan_id, const struct ha_pool_ask *ask,
			     struct ha_range *ret, size_t max, int64_t *ret_wait)
{
	const struct dhcp_range *r = range_of(s, vlan_id, ask->range_id);
	*ret_wait = 0;
	if (!r || !is_split(s, r))
		return 0;
	uint32_t own, partner;
	range_free(s, r, &own, &partner);
	uint32_t give = ha_rebalance_give(ask->count, own, ask->free);
	if (!give)
		return 0;
	/* our wholly free, movable runs, in address order */
	struct ha_span *runs = NULL;
	size_t n_runs = 0, cap = 0;
	for (uint64_t a = r->first; a <= r->last; a++) {
		bool ok =
		    lease_store_pool_owner(s->leases, (uint32_t)a) == LEASE_OWNER_LOCAL && movable(s, r, (uint32_t)a);
		if (!ok)
			continue;
		if (n_runs && runs[n_runs - 1].last + 1 == a) {
			runs[n_runs - 1].last = (uint32_t)a;
			continue;
		}
		if (n_runs == cap) {
			cap = cap ? cap * 2 : 16;
			runs = xreallocarray(runs, cap, sizeof(*runs));
		}
		runs[n_runs++] = (struct ha_span){(uint32_t)a, (uint32_t)a};
	}
	struct ha_span spans[HA_POOL_MAX];
	uint32_t total = 0;
	int n =
	    n_runs ? ha_rebalance_plan(runs, n_runs, give, spans, max < HA_POOL_MAX ? max : HA_POOL_MAX, &total) : 0;
	free(runs);
	int given = 0;
	for (int k = 0; k < n; k++) {
		int64_t seq = lease_store_pool_set_owner(s->leases, spans[k].first, spans[k].last, LEASE_OWNER_PEER);
		if (seq < 0) {
			log_warn("dhcp-ha: cannot give addresses of range %u: %s", r->id, strerror((int)-seq));
			break;
		}
		ret[given++] = (struct ha_range){.range_id = r->id, .first = spans[k].first, .last = spans[k].last};
		if (seq > *ret_wait)
			*ret_wait = seq;
	}
	if (given)
		dhcp_server_flush(s);
	return given;
}

int64_t dhcp_server_ha_pool_take(struct dhcp_server *s, uint64_t vlan_id, const struct ha_range *g, size_t n)
{
	int64_t taken = 0;
	for (size_t k = 0; k < n && s->leases; k++) {
		const struct dhcp_range *r = range_of(s, vlan_id, g[k].range_id);
		bool ok = r && g[k].first <= g[k].last && g[k].first > r->first && g[k].last < r->last;
		bool ours = ok;
		for (uint64_t a = g[k].first; ours && a <= g[k].last; a++)
			ours = lease_store_pool_owner(s->leases, (uint32_t)a) == LEASE_OWNER_LOCAL;
		if (ours)
			continue; /* already ours: the check found it unowned first */
		for (uint64_t a = g[k].first; ok && a <= g[k].last; a++)
			ok = lease_store_pool_owner(s->leases, (uint32_t)a) == LEASE_OWNER_PEER &&
			     movable(s, r, (uint32_t)a);
		if (!ok) {
			if (dhcp_server_warn_allowed(s))
				log_warn(
				    "dhcp-ha: a grant of range %u the rack cannot take (not inside it, or not all the "
				    "partner's free addresses); ignored",
				    g[k].range_id);
			continue;
		}
		int64_t seq = lease_store_pool_set_owner(s->leases, g[k].first, g[k].last, LEASE_OWNER_LOCAL);
		if (seq < 0) {
			log_warn("dhcp-ha: cannot take addresses of range %u: %s", g[k].range_id, strerror((int)-seq));
			continue;
		}
		taken += (int64_t)g[k].last - g[k].first + 1;
	}
	if (taken)
		dhcp_server_flush(s);
	return taken;
}

/* ---- addresses neither rack owns ---- */

/* Append the runs of [first, last] of range r where want(s, r, a) holds
 * to ret (n so far, at most max); returns the new n. */
static size_t runs_where(struct dhcp_server *s, const struct dhcp_range *r, uint32_t first, uint32_t last,
			 bool (*want)(struct dhcp_server *, const struct dhcp_range *, uint32_t), struct ha_range *ret,
			 size_t n, size_t max)
{
	for (uint64_t a = first; a <= last; a++) {
		if (!want(s, r, (uint32_t)a))
			continue;
		if (n && ret[n - 1].range_id == r->id && ret[n - 1].last + 1 == a) {
			ret[n - 1].last = (uint32_t)a;
			continue;
		}
		if (n == max)
			break;
		ret[n++] = (struct ha_range){.range_id = r->id, .first = (uint32_t)a, .last = (uint32_t)a};
	}
	return n;
}

static bool is_peer(struct dhcp_server *s, const struct dhcp_range *r, uint32_t a)
{
	return lease_store_pool_owner(s->leases, a) == LEASE_OWNER_PEER;
}

static bool adoptable(struct dhcp_server *s, const struct dhcp_range *r, uint32_t a)
{
	return is_peer(s, r, a) && movable(s, r, a);
}

size_t dhcp_server_ha_pool_peer_runs(struct dhcp_server *s, uint64_t vlan_id, struct ha_range *ret, size_t max)
{
	const struct dhcp_range *r;
	size_t n = 0;
	for (size_t k = 0; n < max && (r = vlan_range(s, vlan_id, k)); k++)
		if (is_split(s, r))
			n = runs_where(s, r, r->first, r->last, is_peer, ret, n, max);
	return n;
}

size_t dhcp_server_ha_pool_unowned(struct dhcp_server *s, uint64_t vlan_id, const struct ha_range *in, size_t n_in,
				   struct ha_range *ret, size_t max)
{
	size_t n = 0;
	for (size_t k = 0; k < n_in && s->leases && n < max; k++) {
		const struct dhcp_range *r = range_of(s, vlan_id, in[k].range_id);
		if (!r || in[k].first < r->first || in[k].last > r->last || in[k].first > in[k].last)
			continue; /* not a range here: nothing of it is ours to speak for */
		if (!is_split(s, r))
			continue; /* the next split decides, not us */
		n = runs_where(s, r, in[k].first, in[k].last, is_peer, ret, n, max);
	}
	return n;
}

int64_t dhcp_server_ha_pool_adopt(struct dhcp_server *s, uint64_t vlan_id, const struct ha_range *g, size_t n_g)
{
	int64_t took = 0;
	for (size_t k = 0; k < n_g && s->leases; k++) {
		const struct dhcp_range *r = range_of(s, vlan_id, g[k].range_id);
		if (!r || g[k].first < r->first || g[k].last > r->last || g[k].first > g[k].last)
			continue;
		struct ha_range runs[HA_POOL_MAX];
		size_t n = runs_where(s, r, g[k].first, g[k].last, adoptable, runs, 0, HA_POOL_MAX);
		for (size_t i = 0; i < n; i++) {
			int64_t seq =
			    lease_store_pool_set_owner(s->leases, runs[i].first, runs[i].last, LEASE_OWNER_LOCAL);
			if (seq < 0) {
				log_warn("dhcp-ha: cannot take unowned addresses of range %u: %s", r->id,
					 strerror((int)-seq));
				continue;
			}
			took += (int64_t)runs[i].last - runs[i].first + 1;
		}
	}
	if (took)
		dhcp_server_flush(s);
	return took;
}
