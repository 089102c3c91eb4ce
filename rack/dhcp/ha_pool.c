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
 * grant is asked again after HA_POOL_RETRY_MS.
 *
 * A grant lost with the link leaves its addresses nobody's: the giver
 * marked them the partner's, the partner never took them. The primary, in
 * NORMAL, checks every HA_POOL_CHECK_MS (and at once on a new link): it
 * sends its PEER runs (PoolCheck), the secondary answers with those that
 * are PEER in its map too (PoolUnowned), and the primary makes them its
 * own. Why no address ends up both racks': the link is one ordered
 * stream, so every grant either side sent before the check or the answer
 * is taken before the other reads them; the primary gives nothing while
 * its check is out and sends none while a grant of its own waits; the
 * secondary answers only once its journal holds every change the answer
 * was read from (a crash cannot turn an address it called unowned back
 * into its own), and a grant it sends later still finds the addresses the
 * primary's, which take accepts. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/net.h"
#include "common/util.h"
#include "rack/dhcp/ha_msg.h"
#include "rack/dhcp/ha_service_internal.h"
#include "rack/dhcp/server.h"

#define HA_POOL_TICK_MS	 2000
#define HA_POOL_RETRY_MS 10000
#define HA_POOL_CHECK_MS 60000

static bool link_up(const struct ha_pair *p)
{
	struct ha_link_status ls;
	if (!p->link)
		return false;
	ha_link_get_status(p->link, &ls);
	return ls.up;
}

/* The primary's check for unowned addresses (see the top). */
static void pool_check(struct ha_pair *p, int64_t now)
{
	if (p->role != HA_ROLE_PRIMARY || p->grant)
		return;
	if (p->check_ms && now - p->check_ms < (p->check_seq ? HA_POOL_RETRY_MS : HA_POOL_CHECK_MS))
		return; /* in flight (an unanswered one is given up after the retry time), or done lately */
	struct ha_range *runs = xcalloc(HA_POOL_MAX, sizeof(*runs));
	size_t n = dhcp_server_ha_pool_peer_runs(p->h->rack->dhcp, p->vlan_id, runs, HA_POOL_MAX);
	struct ha_msg m = {.type = HA_MSG_POOL_CHECK, .seq = ++p->check_count, .ranges = runs, .n_ranges = n};
	p->check_seq = n && ha_link_send(p->link, &m) == 0 ? m.seq : 0;
	p->check_ms = now;
	free(runs);
}

void ha_pool_tick(struct ha_pair *p)
{
	struct rack *rack = p->h->rack;
	if (!rack->dhcp || p->sm.state != HA_NORMAL || !link_up(p))
		return;
	int64_t now = clock_mono_ms();
	pool_check(p, now);
	if (!rack->conf.ha_rebalance)
		return;
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

/* IRONRACK_TEST_LOSE_GRANTS=N: the first N grants this rack gives are lost
 * as if with the link (test_dhcp_ha.py shows the check finding them). */
static bool lose_grant_for_test(void)
{
	static int left = -1;
	if (left < 0) {
		const char *e = getenv("IRONRACK_TEST_LOSE_GRANTS");
		left = e ? atoi(e) : 0;
		left = left < 0 ? 0 : left;
	}
	return left > 0 && left--;
}

static void send_grant(struct ha_pair *p)
{
	struct ha_msg m = {.type = HA_MSG_POOL_GRANT, .seq = p->grant_wait, .ranges = p->grant, .n_ranges = p->n_grant};
	uint64_t total = 0;
	for (size_t i = 0; i < p->n_grant; i++)
		total += (uint64_t)p->grant[i].last - p->grant[i].first + 1;
	bool lose = lose_grant_for_test();
	if (!lose && p->link && ha_link_send(p->link, &m) == 0)
		log_info("dhcp-ha: VLAN %u: rebalance: gave %s %llu addresses in %zu runs", p->vid, p->partner,
			 (unsigned long long)total, p->n_grant);
	else {
		char f[16] = "", l[16] = "";
		if (p->n_grant) {
			ipv4_text(p->grant[0].first, f);
			ipv4_text(p->grant[0].last, l);
		}
		log_warn("dhcp-ha: VLAN %u: rebalance: the grant of %llu addresses to %s (first run %s-%s) was not "
			 "sent (%s); the primary's next check finds them unowned",
			 p->vid, (unsigned long long)total, p->partner, f, l,
			 lose ? "lost on purpose: IRONRACK_TEST_LOSE_GRANTS" : "link down");
	}
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
	if (!rack->dhcp || p->sm.state != HA_NORMAL || p->grant || p->check_seq)
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

static void send_unowned(struct ha_pair *p)
{
	struct ha_msg m = {
	    .type = HA_MSG_POOL_UNOWNED, .seq = p->unowned_seq, .ranges = p->unowned, .n_ranges = p->n_unowned};
	if (p->link)
		ha_link_send(p->link, &m);
	free(p->unowned);
	p->unowned = NULL;
	p->n_unowned = 0;
}

void ha_pool_on_durable(struct ha_pair *p, uint64_t seq)
{
	if (p->grant && seq >= p->grant_wait)
		send_grant(p);
	if (p->unowned && seq >= p->unowned_wait)
		send_unowned(p); /* after any grant read from the same map */
}

void ha_pool_on_check(struct ha_pair *p, const struct ha_msg *m)
{
	struct rack *rack = p->h->rack;
	const struct lease_store *st = rack->dhcp ? dhcp_server_leases(rack->dhcp) : NULL;
	if (!st || p->sm.state != HA_NORMAL || p->role != HA_ROLE_SECONDARY)
		return; /* the primary gives its check up and checks again */
	free(p->unowned);
	p->unowned = xcalloc(HA_POOL_MAX, sizeof(*p->unowned));
	p->n_unowned =
	    dhcp_server_ha_pool_unowned(rack->dhcp, p->vlan_id, m->ranges, m->n_ranges, p->unowned, HA_POOL_MAX);
	p->unowned_seq = m->seq;
	p->unowned_wait = lease_store_last_seq(st);
	ha_pool_on_durable(p, ha_durable_seq(rack));
}

void ha_pool_on_unowned(struct ha_pair *p, const struct ha_msg *m)
{
	struct rack *rack = p->h->rack;
	if (!p->check_seq || m->seq != p->check_seq)
		return; /* not the check in flight */
	p->check_seq = 0;
	if (!rack->dhcp || p->sm.state != HA_NORMAL || p->role != HA_ROLE_PRIMARY || !m->n_ranges)
		return;
	int64_t took = dhcp_server_ha_pool_adopt(rack->dhcp, p->vlan_id, m->ranges, m->n_ranges);
	if (took > 0)
		log_warn("dhcp-ha: VLAN %u: %lld addresses neither rack owned (a rebalancing grant lost with the "
			 "link) are ours now",
			 p->vid, (long long)took);
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
	p->check_seq = 0; /* a check belongs to its link: check again on the new one */
	p->check_ms = 0;
	free(p->unowned);
	p->unowned = NULL;
	p->n_unowned = 0;
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
	free(p->unowned);
	p->unowned = NULL;
}
