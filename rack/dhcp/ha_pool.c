/* DHCP HA: rebalancing the two shares while the pair is NORMAL
 * (docs/dhcp-ha.md, NORMAL; the arithmetic is ha_split.h's, the store's
 * side server_ha.c's).
 *
 * Every HA_POOL_TICK_MS a rack in NORMAL looks at each split range of the
 * VLAN; where its free share is short of half the partner's it sends one
 * PoolRequest. The partner (in NORMAL too) gives whole free runs of its
 * own share, marks them the asker's in its journal, and sends the
 * PoolGrant once that is durable: an address is never both racks' (rule
 * 1). The asker takes the grant into its journal. A request that gets no
 * grant is asked again after HA_POOL_RETRY_MS. A grant lost with the link
 * leaves its addresses nobody's (safe, but unused) until the range is
 * split again. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "rack/dhcp/ha_msg.h"
#include "rack/dhcp/ha_service_internal.h"
#include "rack/dhcp/server.h"

#define HA_POOL_TICK_MS	 2000
#define HA_POOL_RETRY_MS 10000

static bool link_up(const struct ha_pair *p)
{
	struct ha_link_status ls;
	if (!p->link)
		return false;
	ha_link_get_status(p->link, &ls);
	return ls.up;
}

void ha_pool_tick(struct ha_pair *p)
{
	struct rack *rack = p->h->rack;
	if (!rack->conf.ha_rebalance || !rack->dhcp || p->sm.state != HA_NORMAL || !link_up(p))
		return;
	int64_t now = clock_mono_ms();
	if (p->pool_asked_ms && now - p->pool_asked_ms < HA_POOL_RETRY_MS)
		return;
	struct ha_pool_ask asks[HA_POOL_MAX];
	size_t n = dhcp_server_ha_pool_asks(rack->dhcp, p->vlan_id, asks, HA_POOL_MAX);
	if (!n)
		return;
	struct ha_msg m = {.type = HA_MSG_POOL_REQUEST, .asks = asks, .n_asks = n};
	if (ha_link_send(p->link, &m) < 0)
		return;
	p->pool_asked_ms = now;
	log_info("dhcp-ha: VLAN %u: rebalance: asking %s for %u addresses of range %u (%u free here)", p->vid,
		 p->partner, asks[0].count, asks[0].range_id, asks[0].free);
}

static void send_grant(struct ha_pair *p)
{
	struct ha_msg m = {.type = HA_MSG_POOL_GRANT, .seq = p->grant_wait, .ranges = p->grant, .n_ranges = p->n_grant};
	uint64_t total = 0;
	for (size_t i = 0; i < p->n_grant; i++)
		total += (uint64_t)p->grant[i].last - p->grant[i].first + 1;
	if (p->link && ha_link_send(p->link, &m) == 0)
		log_info("dhcp-ha: VLAN %u: rebalance: gave %s %llu addresses in %zu runs", p->vid, p->partner,
			 (unsigned long long)total, p->n_grant);
	else
		log_warn("dhcp-ha: VLAN %u: rebalance: the grant of %llu addresses to %s was not sent (link down); "
			 "they stay unused until the range is split again",
			 p->vid, (unsigned long long)total, p->partner);
	free(p->grant);
	p->grant = NULL;
	p->n_grant = 0;
	p->grant_wait = 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct ha_range *x = a, *y = b;
	return x->first < y->first ? -1 : x->first > y->first;
}

void ha_pool_on_request(struct ha_pair *p, const struct ha_msg *m)
{
	struct rack *rack = p->h->rack;
	if (!rack->dhcp || p->sm.state != HA_NORMAL || p->grant)
		return; /* the asker asks again */
	struct ha_range *out = xcalloc(HA_POOL_MAX, sizeof(*out));
	size_t n = 0;
	int64_t wait = 0;
	for (size_t i = 0; i < m->n_asks && n < HA_POOL_MAX; i++) {
		int64_t w = 0;
		int k = dhcp_server_ha_pool_give(rack->dhcp, p->vlan_id, &m->asks[i], out + n, HA_POOL_MAX - n, &w);
		if (k > 0) {
			n += (size_t)k;
			if (w > wait)
				wait = w;
		}
	}
	if (!n) {
		free(out);
		return;
	}
	qsort(out, n, sizeof(*out), range_cmp); /* a grant's ranges go sorted */
	p->grant = out;
	p->n_grant = n;
	p->grant_wait = (uint64_t)wait;
	ha_pool_on_durable(p, ha_durable_seq(rack));
}

void ha_pool_on_durable(struct ha_pair *p, uint64_t seq)
{
	if (p->grant && seq >= p->grant_wait)
		send_grant(p);
}

void ha_pool_on_grant(struct ha_pair *p, const struct ha_msg *m)
{
	struct rack *rack = p->h->rack;
	p->pool_asked_ms = 0;
	if (!rack->dhcp)
		return;
	int64_t took = dhcp_server_ha_pool_take(rack->dhcp, p->vlan_id, m->ranges, m->n_ranges);
	if (took > 0)
		log_info("dhcp-ha: VLAN %u: rebalance: took %lld addresses from %s", p->vid, (long long)took,
			 p->partner);
}

/* A grant waiting for its durability stays: it goes (or is given up, the
 * link being down) once the journal has it, never before. */
void ha_pool_reset(struct ha_pair *p)
{
	p->pool_asked_ms = 0;
}

static void pool_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	ha_pool_tick(arg);
}

void ha_pool_init(struct ha_pair *p)
{
	p->pool_timer = event_new(p->h->rack->base, -1, EV_PERSIST, pool_timer_cb, p);
	struct timeval every = {HA_POOL_TICK_MS / 1000, HA_POOL_TICK_MS % 1000 * 1000};
	if (p->pool_timer)
		event_add(p->pool_timer, &every);
}

void ha_pool_done(struct ha_pair *p)
{
	if (p->pool_timer)
		event_free(p->pool_timer);
	p->pool_timer = NULL;
	free(p->grant);
	p->grant = NULL;
}
