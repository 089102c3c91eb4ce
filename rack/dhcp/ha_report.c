/* DHCP HA: what the region hears of the rack's pairs (HaStatusReport),
 * and the conflicts merges found, kept for it. See ha_service_internal.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/net.h"
#include "common/util.h"
#include "rack/dhcp/ha_service_internal.h"
#include "rack/dhcp/server.h"
#include "rack/session.h"

/* ---- the report to the region ---- */

static int64_t mono_to_unix_ms(int64_t mono_ms)
{
	return mono_ms ? clock_real_ms() - (clock_mono_ms() - mono_ms) : 0;
}

/* Every pair's link, as the rack sees it (HaStatusReport): when a link
 * goes up or down, the pairs change or the session (re)connects. */
void ha_report(struct rack_ha *h)
{
	if (!rack_session_is_connected(h->rack))
		return;
	Ironrack__V1__HaStatusReport rep = IRONRACK__V1__HA_STATUS_REPORT__INIT;
	Ironrack__V1__HaPairStatus *st = xcalloc(h->n ? h->n : 1, sizeof(*st));
	Ironrack__V1__HaPairStatus **ptrs = xcalloc(h->n ? h->n : 1, sizeof(*ptrs));
	/* the report points into these until it is sent */
	struct ha_link_status *links = xcalloc(h->n ? h->n : 1, sizeof(*links));
	Ironrack__V1__HaConflict *cs = xcalloc(h->n * HA_RECENT_CONFLICTS + 1, sizeof(*cs));
	Ironrack__V1__HaConflict **cps = xcalloc(h->n * HA_RECENT_CONFLICTS + 1, sizeof(*cps));
	char(*ips)[16] = xcalloc(h->n * HA_RECENT_CONFLICTS + 1, sizeof(*ips));
	size_t nc = 0;
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
		st[i].state = (char *)ha_state_name(p->sm.state);
		st[i].state_since_unix_ms = mono_to_unix_ms(p->sm.since_us / 1000);
		st[i].unacked = p->unacked;
		st[i].conflicts = p->conflicts;
		if (h->rack->dhcp)
			dhcp_server_ha_free(h->rack->dhcp, p->vlan_id, &st[i].free_own, &st[i].free_partner);
		st[i].recent_conflicts = &cps[nc];
		st[i].n_recent_conflicts = p->n_recent;
		for (size_t k = 0; k < p->n_recent; k++, nc++) {
			const struct ha_conflict_note *c = &p->recent[k];
			ironrack__v1__ha_conflict__init(&cs[nc]);
			ipv4_text(c->addr, ips[nc]);
			cs[nc].ip = ips[nc];
			cs[nc].kept_client = (char *)c->kept;
			cs[nc].lost_client = (char *)c->lost;
			cs[nc].at_unix_ms = c->at_unix_ms;
			cs[nc].kind = c->kind;
			cps[nc] = &cs[nc];
		}
		ptrs[i] = &st[i];
	}
	rep.pairs = ptrs;
	rep.n_pairs = h->n;
	Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
	m.body_case = IRONRACK__V1__RACK_MESSAGE__BODY_HA_STATUS;
	m.ha_status = &rep;
	rack_session_send(h->rack, &m);
	free(ips);
	free(cps);
	free(cs);
	free(links);
	free(ptrs);
	free(st);
}

static void client_text(char *out, size_t len, const struct lease *l)
{
	size_t k = 0;
	out[0] = '\0';
	for (size_t i = 0; i < l->hlen && k + 4 <= len; i++)
		k += (size_t)snprintf(out + k, len - k, "%s%02x", i ? ":" : "", l->chaddr[i]);
}

/* A merge found two clients on one address: kept for the report (the
 * region stores each once and raises it as an event). */
void ha_pair_conflict(void *arg, const struct ha_conflict *c)
{
	struct ha_pair *p = arg;
	p->conflicts++;
	if (p->n_recent == HA_RECENT_CONFLICTS) {
		memmove(p->recent, p->recent + 1, (HA_RECENT_CONFLICTS - 1) * sizeof(p->recent[0]));
		p->n_recent--;
	}
	struct ha_conflict_note *n = &p->recent[p->n_recent++];
	n->addr = c->addr;
	client_text(n->kept, sizeof(n->kept), &c->kept);
	client_text(n->lost, sizeof(n->lost), &c->lost);
	n->at_unix_ms = clock_real_ms();
	n->kind = (uint8_t)c->kind;
}
