/* DHCP HA wired into the rack; see ha_service.h. */
#include "rack/dhcp/ha_service.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/rpc/rpc.h"
#include "common/util.h"
#include "rack/dhcp/ha_service_internal.h"
#include "rack/dhcp/server.h"

/* ---- the pair's state machine ---- */

uint64_t ha_durable_seq(const struct rack *rack)
{
	const struct lease_store *st = rack->dhcp ? dhcp_server_leases(rack->dhcp) : NULL;
	return st ? lease_store_durable_seq(st) : 0;
}

/* Our HaState as it stands: what heartbeats and state messages say. */
static struct ha_state_msg pair_state(const struct ha_pair *p)
{
	return (struct ha_state_msg){
	    .state = p->sm.state,
	    .since_ms = p->sm.since_us / 1000,
	    .unix_ms = clock_real_ms(),
	    .last_seq = ha_durable_seq(p->h->rack),
	    .tail_sent = p->tail_sent,
	    .merged = p->got_tail,
	};
}

/* What our heartbeats say, and what the DHCP server serves by. */
static void pair_publish(struct ha_pair *p)
{
	struct rack *rack = p->h->rack;
	struct ha_state_msg st = pair_state(p);
	if (p->link)
		ha_link_set_state(p->link, &st);
	if (rack->dhcp) {
		struct ha_permits pm;
		ha_permits(p->sm.state, p->sm.takeover, &pm);
		struct dhcp_ha_state ds = {
		    .state = (uint8_t)p->sm.state,
		    .takeover = p->sm.takeover,
		    .wait_ack = pm.wait_ack,
		    .mclt_s = p->tm.mclt_us / 1000000,
		    .timeout_s = (p->tm.timeout_us + 999999) / 1000000,
		    .skew_s = DHCP_HA_MAX_SKEW,
		};
		dhcp_server_ha_set(rack->dhcp, p->vlan_id, &ds);
	}
}

static void pair_send_state(struct ha_pair *p)
{
	struct ha_msg m = {.type = HA_MSG_STATE, .state = pair_state(p)};
	if (p->link)
		ha_link_send(p->link, &m);
}

/* Our records, to the partner, in HaUpdates of at most HA_UPDATES_MAX.
 * false: not sent (the link is down). */
static bool pair_send_records(struct ha_pair *p, const struct lease *l, size_t n)
{
	for (size_t i = 0; i < n; i += HA_UPDATES_MAX) {
		struct ha_msg m = {.type = HA_MSG_UPDATES};
		m.leases = (struct lease *)(l + i);
		m.n_leases = n - i < HA_UPDATES_MAX ? n - i : HA_UPDATES_MAX;
		m.seq = m.leases[0].seq;
		int rc = p->link ? ha_link_send(p->link, &m) : -ENOTCONN;
		if (rc < 0)
			return false;
		p->unacked += m.n_leases;
	}
	return true;
}

static void pair_step(struct ha_pair *p, enum ha_event ev);

static void pair_check_synced(struct ha_pair *p)
{
	if (p->sm.state != HA_RECOVER || !p->sync_sent || !p->tail_sent || !p->got_tail || p->acked < p->sync_target)
		return;
	pair_step(p, HA_EV_SYNC_DONE);
}

/* The primary's State{tail_sent} goes once its split is on disk: the
 * secondary takes its half when it reads it. */
static void pair_send_tail(struct ha_pair *p)
{
	if (p->tail_sent || !p->sync_sent || ha_durable_seq(p->h->rack) < p->tail_wait)
		return;
	p->tail_sent = true;
	pair_publish(p);
	pair_send_state(p);
	pair_check_synced(p);
}

/* RECOVER: send the partner every record we hold of the VLAN, then say
 * so. The primary splits the ranges first (it gives, so it goes first:
 * its half shrinks before the secondary's grows). */
static void pair_sync(struct ha_pair *p)
{
	struct rack *rack = p->h->rack;
	if (!p->link || !rack->dhcp)
		return;
	struct ha_link_status ls;
	ha_link_get_status(p->link, &ls);
	if (!ls.up)
		return;
	if (p->role == HA_ROLE_PRIMARY)
		dhcp_server_ha_split(rack->dhcp, p->vlan_id);
	const struct lease_store *st = dhcp_server_leases(rack->dhcp);
	p->tail_wait = st ? lease_store_last_seq(st) : 0;
	struct lease *recs = NULL;
	size_t n = dhcp_server_ha_records(rack->dhcp, p->vlan_id, &recs);
	p->tail_sent = false;
	p->sync_sent = pair_send_records(p, recs, n);
	p->sync_target = n ? recs[n - 1].seq : 0;
	log_info("dhcp-ha: VLAN %u: sync with %s: %zu records sent", p->vid, p->partner, n);
	free(recs);
	pair_send_tail(p);
}

static void pair_timer_cb(evutil_socket_t fd, short what, void *arg);

static void pair_arm(struct ha_pair *p)
{
	int64_t at = ha_sm_deadline(&p->sm, &p->tm);
	evtimer_del(p->timer);
	if (at == INT64_MAX)
		return;
	int64_t wait = at - clock_mono_us();
	if (wait < 0)
		wait = 0;
	struct timeval tv = {wait / 1000000, wait % 1000000};
	evtimer_add(p->timer, &tv);
}

static void pair_step(struct ha_pair *p, enum ha_event ev)
{
	struct ha_step st;
	int64_t now = clock_mono_us();
	bool changed = ha_sm_handle(&p->sm, ev, now, &st);
	if (st.actions & HA_ACT_REFUSE)
		log_warn("dhcp-ha: VLAN %u: partner-down refused: %s is in contact", p->vid, p->partner);
	if (st.actions & HA_ACT_TAKEOVER)
		log_warn("dhcp-ha: VLAN %u: the MCLT has passed since partner-down: serving %s's share too", p->vid,
			 p->partner);
	if (changed && st.to == HA_FENCED)
		log_warn("dhcp-ha: VLAN %u: fenced: neither %s nor the region heard for %llds: no new addresses and "
			 "no lease extensions until one of them answers",
			 p->vid, p->partner, (long long)(p->tm.fence_us / 1000000));
	if (changed) {
		log_info("dhcp-ha: VLAN %u: %s -> %s (%s; partner %s)", p->vid, ha_state_name(st.from),
			 ha_state_name(st.to), ha_event_name(ev), p->partner);
		if (st.to == HA_RECOVER)
			p->got_tail = p->tail_sent = p->sync_sent = false;
	}
	/* Most steps are heartbeats (every partner message is one): only a
	 * change reaches the DHCP server and our own heartbeats. */
	if (changed || st.actions)
		pair_publish(p);
	if (changed && p->sm.state != HA_RECOVER)
		pair_send_state(p);
	if (st.actions & HA_ACT_SEND_SYNC)
		pair_sync(p);
	if (changed)
		ha_report(p->h);
	pair_arm(p);
	/* An operator's partner-down given while the partner was still in
	 * contact (refused then) holds until the region ends it: it takes
	 * effect once the partner is lost. The witness's grant does not: it
	 * was given for a partner cut off at that moment, and a later loss
	 * needs its own wait. */
	if (p->pd == PD_OURS && !p->pd_witness && p->sm.partner_lost && p->sm.state != HA_PARTNER_DOWN &&
	    ev != HA_EV_OPERATOR_DOWN)
		pair_step(p, HA_EV_OPERATOR_DOWN);
}

static void pair_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ha_pair *p = arg;
	enum ha_event ev;
	for (int i = 0; i < 8 && (ev = ha_sm_due(&p->sm, &p->tm, clock_mono_us())) != HA_EV_NONE; i++)
		pair_step(p, ev);
	pair_arm(p);
}

static void pair_up(struct ha_link *l, const struct ha_hello *partner, void *arg)
{
	struct ha_pair *p = arg;
	p->got_tail = p->tail_sent = p->sync_sent = false;
	p->acked = 0;
	p->n_owed = 0;
	p->unacked = 0;
	ha_pool_reset(p);
	pair_step(p, HA_EV_PARTNER_HELLO);
	ha_report(p->h);
}

static void pair_down(struct ha_link *l, const char *why, void *arg)
{
	struct ha_pair *p = arg;
	p->down_since_ms = clock_mono_ms();
	ha_pool_reset(p);
	ha_report(p->h);
}

static void pair_ack(struct ha_pair *p, uint64_t seq)
{
	struct ha_msg m = {.type = HA_MSG_ACK, .seq = seq};
	if (p->link)
		ha_link_send(p->link, &m);
}

static void pair_message(struct ha_link *l, const struct ha_msg *m, void *arg)
{
	struct ha_pair *p = arg;
	struct rack *rack = p->h->rack;
	pair_step(p, HA_EV_PARTNER_HEARTBEAT);
	switch (m->type) {
	case HA_MSG_UPDATES: {
		if (!rack->dhcp || !m->n_leases)
			break;
		uint64_t conflicts = p->conflicts;
		int64_t wait = dhcp_server_ha_stage(rack->dhcp, m->leases, m->n_leases, ha_pair_conflict, p);
		if (p->conflicts != conflicts)
			ha_report(p->h);
		uint64_t last = m->leases[m->n_leases - 1].seq;
		if (wait < 0)
			break; /* not stored: not acknowledged */
		/* An ack says "everything up to seq": it goes once this
		 * message's records and every earlier message's are durable.
		 * Each waits for its own records only (a later message must not
		 * hold back an earlier one's ack). */
		uint64_t need = (uint64_t)wait;
		if (p->n_owed && p->owed[p->n_owed - 1].wait > need)
			need = p->owed[p->n_owed - 1].wait;
		if (!p->n_owed && ha_durable_seq(rack) >= need) {
			pair_ack(p, last);
		} else {
			if (p->n_owed == p->cap_owed) {
				p->cap_owed = p->cap_owed ? p->cap_owed * 2 : 16;
				p->owed = xreallocarray(p->owed, p->cap_owed, sizeof(*p->owed));
			}
			p->owed[p->n_owed++] = (struct ha_owed){last, need};
		}
		break;
	}
	case HA_MSG_ACK:
		if (m->seq > p->acked)
			p->acked = m->seq;
		p->unacked = 0;
		if (rack->dhcp)
			dhcp_server_ha_acked(rack->dhcp, p->vlan_id, m->seq);
		pair_check_synced(p);
		break;
	case HA_MSG_STATE:
		if (m->state.tail_sent && !p->got_tail && p->sm.state == HA_RECOVER) {
			p->got_tail = true;
			if (p->role == HA_ROLE_SECONDARY && rack->dhcp)
				dhcp_server_ha_split(rack->dhcp, p->vlan_id);
			pair_publish(p);
			pair_check_synced(p);
		}
		break;
	case HA_MSG_POOL_REQUEST:
		ha_pool_on_request(p, m);
		break;
	case HA_MSG_POOL_GRANT:
		ha_pool_on_grant(p, m);
		break;
	case HA_MSG_POOL_CHECK:
		ha_pool_on_check(p, m);
		break;
	case HA_MSG_POOL_UNOWNED:
		ha_pool_on_unowned(p, m);
		break;
	default:
		break;
	}
}

static const struct ha_link_ops pair_ops = {.up = pair_up, .down = pair_down, .message = pair_message};

/* ---- the DHCP server's side ---- */

static struct ha_pair *pair_of_vlan(struct rack_ha *h, uint64_t vlan_id)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->pairs[i]->vlan_id == vlan_id)
			return h->pairs[i];
	return NULL;
}

static bool ha_on_updates(void *arg, uint64_t vlan_id, const struct lease *l, size_t n)
{
	struct ha_pair *p = pair_of_vlan(arg, vlan_id);
	if (!p || !p->sync_sent)
		return false; /* the next sync carries them */
	return pair_send_records(p, l, n);
}

static void ha_on_durable(void *arg, uint64_t seq)
{
	struct rack_ha *h = arg;
	for (size_t i = 0; i < h->n; i++) {
		struct ha_pair *p = h->pairs[i];
		size_t k = 0;
		while (k < p->n_owed && p->owed[k].wait <= seq)
			k++;
		if (k) {
			pair_ack(p, p->owed[k - 1].seq); /* one ack covers them all */
			memmove(p->owed, p->owed + k, (p->n_owed - k) * sizeof(*p->owed));
			p->n_owed -= k;
		}
		pair_send_tail(p);
		ha_pool_on_durable(p, seq);
	}
}

static const struct dhcp_ha_ops ha_server_ops = {.on_updates = ha_on_updates, .on_durable = ha_on_durable};

static bool pair_same(const struct ha_pair *a, const Ironrack__V1__DhcpHaPair *b)
{
	return a->vlan_id == b->vlan_id && a->vid == b->vid && (uint32_t)a->role == b->role &&
	       strcmp(a->partner, b->partner_rack_id) == 0 &&
	       (a->role == HA_ROLE_SECONDARY || strcmp(a->address, b->partner_address) == 0);
}

/* The config's word on partner-down changed. */
static void pair_partner_down(struct ha_pair *p)
{
	if (p->pd_next == p->pd && p->pd_witness_next == p->pd_witness)
		return;
	int was = p->pd;
	p->pd = p->pd_next;
	p->pd_witness = p->pd_witness_next;
	switch (p->pd) {
	case PD_OURS:
		if (!p->pd_witness) {
			log_warn("dhcp-ha: VLAN %u: partner-down: the operator says %s is dead", p->vid, p->partner);
			pair_step(p, HA_EV_OPERATOR_DOWN);
		} else if (!p->witness_ok) {
			log_err("dhcp-ha: VLAN %u: partner-down granted by the region as witness refused: this rack's "
				"timers cannot fence early enough for dhcp_ha_auto_down %llds",
				p->vid, (long long)(p->auto_down_us / 1000000));
		} else {
			log_warn(
			    "dhcp-ha: VLAN %u: partner-down granted by the region as witness: it has not heard from "
			    "%s for %llds",
			    p->vid, p->partner, (long long)(p->auto_down_us / 1000000));
			pair_step(p, HA_EV_WITNESS_GRANT);
		}
		break;
	case PD_AGAINST_US:
		log_warn("dhcp-ha: VLAN %u: %s holds partner-down against this rack: no new addresses until the two "
			 "have merged",
			 p->vid, p->partner);
		pair_step(p, HA_EV_DECLARED_DOWN);
		break;
	case PD_NONE:
		log_info("dhcp-ha: VLAN %u: partner-down is over", p->vid);
		if (was == PD_AGAINST_US && rack_session_is_connected(p->h->rack))
			pair_step(p, HA_EV_REGION_UP);
		break;
	}
}

/* The timers of docs/dhcp-ha.md from the rack's keys and the pair's
 * automatic partner-down: FENCED after half of auto_down. When that
 * cannot keep "Why no address goes to two clients" 3 (the fence must come
 * a heartbeat and 1 % before the region may grant), the rack fences as
 * early as it can (at the partner timeout), refuses the witness's grants
 * and says so. */
static void pair_timing(struct ha_pair *p, uint32_t auto_down_ms)
{
	const struct rack *rack = p->h->rack;
	int64_t auto_down = auto_down_ms * 1000LL;
	ha_timing_default(&p->tm, auto_down);
	p->tm.heartbeat_us = rack->conf.ha_heartbeat_ms * 1000LL;
	p->tm.timeout_us = rack->conf.ha_timeout_ms * 1000LL;
	p->tm.mclt_us = rack->conf.ha_mclt_s * 1000000LL;
	bool was_ok = p->witness_ok, changed = p->auto_down_us != auto_down;
	p->auto_down_us = auto_down;
	p->witness_ok = ha_timing_check(&p->tm, auto_down) == 0;
	if (!p->witness_ok && auto_down > 0) {
		p->tm.fence_us = p->tm.timeout_us;
		if (changed || was_ok)
			log_err(
			    "dhcp-ha: VLAN %u: dhcp_ha_auto_down %llds is too short for this rack's ha_timeout_ms "
			    "%lld: it must exceed twice the timeout by 1 %% and a heartbeat; fencing at the timeout "
			    "and refusing the region's automatic partner-down",
			    p->vid, (long long)(auto_down / 1000000), (long long)(p->tm.timeout_us / 1000));
	}
	if (p->timer)
		pair_arm(p);
}

static struct ha_pair *pair_new(struct rack_ha *h, const Ironrack__V1__DhcpHaPair *in)
{
	struct rack *rack = h->rack;
	struct ha_pair *p = xcalloc(1, sizeof(*p));
	p->h = h;
	p->down_since_ms = clock_mono_ms();
	p->vlan_id = in->vlan_id;
	p->vid = (uint16_t)in->vid;
	p->role = (enum ha_role)in->role;
	snprintf(p->partner, sizeof(p->partner), "%s", in->partner_rack_id);
	snprintf(p->address, sizeof(p->address), "%s", in->partner_address);
	ha_sm_init(&p->sm, clock_mono_us());
	p->timer = evtimer_new(rack->base, pair_timer_cb, p);
	ha_pool_init(p);
	return p;
}

static void pair_free(struct ha_pair *p)
{
	ha_pool_done(p);
	ha_link_free(p->link);
	free(p->owed);
	if (p->timer)
		event_free(p->timer);
	free(p);
}

/* Start the link of p; false (logged) when it cannot run. */
static bool pair_start(struct rack_ha *h, struct ha_pair *p)
{
	struct rack *rack = h->rack;
	struct ha_link_conf c = {
	    .role = p->role,
	    .self_id = rack->id.rack_id,
	    .partner_id = p->partner,
	    .listen = rack->conf.ha_listen,
	    .partner_addr = p->address,
	    .vlan = p->vid,
	    .heartbeat_ms = (int)rack->conf.ha_heartbeat_ms,
	    .timeout_ms = (int)rack->conf.ha_timeout_ms,
	    .ca_pem = rack->id.ca,
	    .key_pem = rack->id.key,
	    .cert_pem = rack->id.cert,
	};
	char err[256];
	int rc = ha_link_new(rack->base, rack->rpc_loop, &c, &pair_ops, p, &p->link, err, sizeof(err));
	if (rc < 0) {
		log_err("dhcp-ha: VLAN %u with partner %s: no link: %s", p->vid, p->partner, err);
		return false;
	}
	return true;
}

static void ha_apply(struct rack_ha *h, const Ironrack__V1__DhcpConfig *dhcp)
{
	size_t n = dhcp ? dhcp->n_ha : 0;
	struct ha_pair **next = xcalloc(n ? n : 1, sizeof(*next));
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		const Ironrack__V1__DhcpHaPair *in = dhcp->ha[i];
		if ((in->role != HA_ROLE_PRIMARY && in->role != HA_ROLE_SECONDARY) || !in->partner_rack_id[0] ||
		    strlen(in->partner_rack_id) > HA_RACK_ID_MAX ||
		    strlen(in->partner_address) >= sizeof((*next)->address)) {
			log_warn("dhcp-ha: VLAN %u: an HA pair the rack cannot use (role %u, partner '%.64s')", in->vid,
				 in->role, in->partner_rack_id);
			continue;
		}
		/* As the secondary, the rack's one listener tells pairs apart by
		 * the partner's certificate and, for one partner's several pairs,
		 * the VLAN its hello names. */
		if (in->role == HA_ROLE_SECONDARY && !h->rack->conf.ha_listen[0]) {
			log_warn("dhcp-ha: VLAN %u: not linked with %s as secondary: ha_listen is empty", in->vid,
				 in->partner_rack_id);
			continue;
		}
		if (in->role == HA_ROLE_PRIMARY && !in->partner_address[0]) {
			log_warn("dhcp-ha: VLAN %u: the partner %s has not told the region where it listens yet",
				 in->vid, in->partner_rack_id);
			continue;
		}
		/* keep a running link whose pair is unchanged */
		struct ha_pair *p = NULL;
		for (size_t k = 0; k < h->n; k++) {
			if (h->pairs[k] && pair_same(h->pairs[k], in)) {
				p = h->pairs[k];
				h->pairs[k] = NULL;
				break;
			}
		}
		if (!p)
			p = pair_new(h, in);
		pair_timing(p, in->auto_down_ms);
		p->pd_witness_next = in->partner_down_witness;
		p->pd_next = !in->partner_down_by[0]				     ? PD_NONE
			     : strcmp(in->partner_down_by, h->rack->id.rack_id) == 0 ? PD_OURS
			     : strcmp(in->partner_down_by, p->partner) == 0	     ? PD_AGAINST_US
										     : PD_NONE;
		next[m++] = p;
	}
	/* the links no longer wanted go first: a new secondary's listener
	 * takes the same ha_listen as the one it replaces */
	for (size_t k = 0; k < h->n; k++) {
		if (h->pairs[k]) {
			log_info("dhcp-ha: VLAN %u: link with %s stopped (the pair changed or is gone)",
				 h->pairs[k]->vid, h->pairs[k]->partner);
			pair_free(h->pairs[k]);
		}
	}
	free(h->pairs);
	h->pairs = next;
	h->n = 0;
	for (size_t k = 0; k < m; k++) {
		struct ha_pair *p = next[k];
		bool fresh = !p->link;
		if (fresh && !pair_start(h, p)) {
			pair_free(p);
			continue;
		}
		next[h->n++] = p;
		if (!fresh && h->rack->dhcp && dhcp_server_ha_take_resync(h->rack->dhcp, p->vlan_id)) {
			/* a range was held back under the running pair: meet
			 * again (RECOVER on both sides) and split it anew */
			log_info("dhcp-ha: VLAN %u: the ranges changed: relinking with %s to split them again", p->vid,
				 p->partner);
			ha_link_free(p->link);
			p->link = NULL;
			p->down_since_ms = clock_mono_ms();
			if (!pair_start(h, p)) {
				h->n--;
				pair_free(p);
				continue;
			}
		}
		if (fresh && rack_session_is_connected(h->rack) && p->pd_next != PD_AGAINST_US)
			pair_step(p, HA_EV_REGION_UP);
		else
			pair_publish(p);
		pair_partner_down(p);
	}
	ha_report(h);
}

static int ha_config_check(struct rack *rack, const Ironrack__V1__RackConfig *cfg, void **ret_state, char *msg,
			   size_t msg_len)
{
	return RPC_OK; /* a pair the rack cannot use is logged and skipped, not refused */
}

static void ha_config_commit(struct rack *rack, const Ironrack__V1__RackConfig *cfg, void *state)
{
	if (rack->ha)
		ha_apply(rack->ha, cfg->dhcp);
}

static void ha_session_connected(struct rack *rack)
{
	if (rack->ha)
		ha_report(rack->ha);
}

/* The region answered: REGION_UP for every pair, unless the partner
 * holds partner-down against us (rule 6), which the welcome says even
 * when the stored config is older than the partner-down. */
static void ha_session_welcome(struct rack *rack, const Ironrack__V1__Welcome *w)
{
	if (!rack->ha)
		return;
	for (size_t i = 0; i < rack->ha->n; i++) {
		struct ha_pair *p = rack->ha->pairs[i];
		bool down = false;
		for (size_t k = 0; k < w->n_ha_declared_down; k++)
			down |= w->ha_declared_down[k] == p->vlan_id;
		if (down) {
			p->pd_next = PD_AGAINST_US;
			pair_partner_down(p);
		} else if (p->pd != PD_AGAINST_US) {
			pair_step(p, HA_EV_REGION_UP);
		}
	}
}

static void ha_session_disconnected(struct rack *rack)
{
	if (!rack->ha)
		return;
	for (size_t i = 0; i < rack->ha->n; i++)
		pair_step(rack->ha->pairs[i], HA_EV_REGION_DOWN);
}

const struct rack_session_hook rack_ha_session_hook = {
    .name = "dhcp-ha",
    .on_connected = ha_session_connected,
    .on_disconnected = ha_session_disconnected,
    .on_welcome = ha_session_welcome,
};

const struct rack_config_part rack_ha_config_part = {
    .name = "dhcp-ha",
    .check = ha_config_check,
    .commit = ha_config_commit,
};

int rack_ha_start(struct rack *rack)
{
	if (rack->conf.ha_timeout_ms <= rack->conf.ha_heartbeat_ms) {
		log_err("dhcp-ha: ha_timeout_ms (%ld) must exceed ha_heartbeat_ms (%ld)", rack->conf.ha_timeout_ms,
			rack->conf.ha_heartbeat_ms);
		return -EINVAL;
	}
	struct rack_ha *h = xcalloc(1, sizeof(*h));
	h->rack = rack;
	rack->ha = h;
	if (rack->dhcp)
		dhcp_server_set_ha_ops(rack->dhcp, &ha_server_ops, h);
	Ironrack__V1__RackConfig *cfg = NULL;
	if (rack_store_read(rack, &cfg) == 0) {
		ha_apply(h, cfg->dhcp);
		ironrack__v1__rack_config__free_unpacked(cfg, NULL);
	}
	return 0;
}

void rack_ha_stop(struct rack *rack)
{
	struct rack_ha *h = rack->ha;
	if (!h)
		return;
	if (rack->dhcp)
		dhcp_server_set_ha_ops(rack->dhcp, NULL, NULL);
	for (size_t k = 0; k < h->n; k++)
		pair_free(h->pairs[k]);
	free(h->pairs);
	free(h);
	rack->ha = NULL;
}
