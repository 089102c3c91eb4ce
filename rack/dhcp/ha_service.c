/* DHCP HA wired into the rack; see ha_service.h. */
#include "rack/dhcp/ha_service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/rpc/rpc.h"
#include "common/util.h"
#include "rack/dhcp/ha_link.h"
#include "rack/rack.h"

struct rack_ha;

struct ha_pair {
	struct rack_ha *h;
	int64_t down_since_ms; /* monotonic: when the link went down (or the pair began) */
	uint64_t vlan_id;
	uint16_t vid;
	enum ha_role role;
	char partner[HA_RACK_ID_MAX + 1];
	char address[300];
	struct ha_link *link;
};

struct rack_ha {
	struct rack *rack;
	struct ha_pair **pairs; /* each its own allocation: its link's callbacks hold it */
	size_t n;
};

/* ---- the report to the region ---- */

static int64_t mono_to_unix_ms(int64_t mono_ms)
{
	return mono_ms ? clock_real_ms() - (clock_mono_ms() - mono_ms) : 0;
}

/* Every pair's link, as the rack sees it (HaStatusReport): when a link
 * goes up or down, the pairs change or the session (re)connects. */
static void ha_report(struct rack_ha *h)
{
	if (!rack_session_is_connected(h->rack))
		return;
	Ironrack__V1__HaStatusReport rep = IRONRACK__V1__HA_STATUS_REPORT__INIT;
	Ironrack__V1__HaPairStatus *st = xcalloc(h->n ? h->n : 1, sizeof(*st));
	Ironrack__V1__HaPairStatus **ptrs = xcalloc(h->n ? h->n : 1, sizeof(*ptrs));
	/* the report points into these until it is sent */
	struct ha_link_status *links = xcalloc(h->n ? h->n : 1, sizeof(*links));
	for (size_t i = 0; i < h->n; i++) {
		const struct ha_pair *p = h->pairs[i];
		struct ha_link_status *ls = &links[i];
		ha_link_get_status(p->link, ls);
		ironrack__v1__ha_pair_status__init(&st[i]);
		st[i].vlan_id = p->vlan_id;
		st[i].vid = p->vid;
		st[i].role = (uint32_t)p->role;
		st[i].partner_rack_id = (char *)p->partner;
		st[i].link_up = ls->up;
		st[i].since_unix_ms = mono_to_unix_ms(ls->up ? ls->up_since_ms : p->down_since_ms);
		st[i].last_contact_unix_ms = mono_to_unix_ms(ls->last_rx_ms);
		st[i].refused = ls->refused;
		st[i].last_error = ls->last_error;
		ptrs[i] = &st[i];
	}
	rep.pairs = ptrs;
	rep.n_pairs = h->n;
	Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
	m.body_case = IRONRACK__V1__RACK_MESSAGE__BODY_HA_STATUS;
	m.ha_status = &rep;
	rack_session_send(h->rack, &m);
	free(links);
	free(ptrs);
	free(st);
}

static void pair_up(struct ha_link *l, const struct ha_hello *partner, void *arg)
{
	struct ha_pair *p = arg;
	ha_report(p->h);
}

static void pair_down(struct ha_link *l, const char *why, void *arg)
{
	struct ha_pair *p = arg;
	p->down_since_ms = clock_mono_ms();
	ha_report(p->h);
}

static const struct ha_link_ops pair_ops = {.up = pair_up, .down = pair_down};

static bool pair_same(const struct ha_pair *a, const Ironrack__V1__DhcpHaPair *b)
{
	return a->vlan_id == b->vlan_id && a->vid == b->vid && (uint32_t)a->role == b->role &&
	       strcmp(a->partner, b->partner_rack_id) == 0 &&
	       (a->role == HA_ROLE_SECONDARY || strcmp(a->address, b->partner_address) == 0);
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
	bool secondary_taken = false;
	for (size_t i = 0; i < n; i++) {
		const Ironrack__V1__DhcpHaPair *in = dhcp->ha[i];
		if ((in->role != HA_ROLE_PRIMARY && in->role != HA_ROLE_SECONDARY) || !in->partner_rack_id[0] ||
		    strlen(in->partner_rack_id) > HA_RACK_ID_MAX ||
		    strlen(in->partner_address) >= sizeof((*next)->address)) {
			log_warn("dhcp-ha: VLAN %u: an HA pair the rack cannot use (role %u, partner '%.64s')", in->vid,
				 in->role, in->partner_rack_id);
			continue;
		}
		if (in->role == HA_ROLE_SECONDARY && (secondary_taken || !h->rack->conf.ha_listen[0])) {
			log_warn("dhcp-ha: VLAN %u: not linked with %s as secondary: %s", in->vid, in->partner_rack_id,
				 secondary_taken ? "this rack is already the secondary of another pair (one ha_listen)"
						 : "ha_listen is empty");
			continue;
		}
		if (in->role == HA_ROLE_PRIMARY && !in->partner_address[0]) {
			log_warn("dhcp-ha: VLAN %u: the partner %s has not told the region where it listens yet",
				 in->vid, in->partner_rack_id);
			continue;
		}
		secondary_taken |= in->role == HA_ROLE_SECONDARY;
		/* keep a running link whose pair is unchanged */
		struct ha_pair *p = NULL;
		for (size_t k = 0; k < h->n; k++) {
			if (h->pairs[k] && pair_same(h->pairs[k], in)) {
				p = h->pairs[k];
				h->pairs[k] = NULL;
				break;
			}
		}
		if (!p) {
			p = xcalloc(1, sizeof(*p));
			p->h = h;
			p->down_since_ms = clock_mono_ms();
			p->vlan_id = in->vlan_id;
			p->vid = (uint16_t)in->vid;
			p->role = (enum ha_role)in->role;
			snprintf(p->partner, sizeof(p->partner), "%s", in->partner_rack_id);
			snprintf(p->address, sizeof(p->address), "%s", in->partner_address);
		}
		next[m++] = p;
	}
	/* the links no longer wanted go first: a new secondary's listener
	 * takes the same ha_listen as the one it replaces */
	for (size_t k = 0; k < h->n; k++) {
		if (h->pairs[k]) {
			log_info("dhcp-ha: VLAN %u: link with %s stopped (the pair changed or is gone)",
				 h->pairs[k]->vid, h->pairs[k]->partner);
			ha_link_free(h->pairs[k]->link);
			free(h->pairs[k]);
		}
	}
	free(h->pairs);
	h->pairs = next;
	h->n = 0;
	for (size_t k = 0; k < m; k++) {
		if (!next[k]->link && !pair_start(h, next[k])) {
			free(next[k]);
			continue;
		}
		next[h->n++] = next[k];
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

const struct rack_session_hook rack_ha_session_hook = {
    .name = "dhcp-ha",
    .on_connected = ha_session_connected,
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
	for (size_t k = 0; k < h->n; k++) {
		ha_link_free(h->pairs[k]->link);
		free(h->pairs[k]);
	}
	free(h->pairs);
	free(h);
	rack->ha = NULL;
}
