/* What racks report about the DHCP they serve: leases (as ip_address rows),
 * quarantined addresses (dhcp_conflict) and other DHCP servers they hear
 * (vlan.external_dhcp). Every report is applied in one transaction and
 * applying it twice changes nothing, so a rack resends until it sees the
 * region's answer. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/net.h"
#include "common/util.h"
#include "region/db/db.h"
#include "region/db/dhcp_db.h"
#include "region/dhcp/internal.h"
#include "region/machine/machine.h"
#include "region/region.h"
#include "region/rpc/dbjob.h"
#include "region/rpc/session.h"

/* One report's worth: the gRPC message limit keeps a batch far below. */
#define DHCP_REPORT_EVENTS_MAX 65536
#define DHCP_HOSTNAME_MAX      255

static const char *dhcp_kind_name(int kind)
{
	switch (kind) {
	case IRONRACK__V1__LEASE_EVENT__KIND__GRANTED:
		return "GRANTED";
	case IRONRACK__V1__LEASE_EVENT__KIND__RELEASED:
		return "RELEASED";
	case IRONRACK__V1__LEASE_EVENT__KIND__EXPIRED:
		return "EXPIRED";
	case IRONRACK__V1__LEASE_EVENT__KIND__CONFLICT:
		return "CONFLICT";
	default:
		return "UNSPECIFIED";
	}
}

static bool dhcp_ipv4_parse(const char *s, uint32_t *ret)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1)
		return false;
	*ret = ntohl(a.s_addr);
	return true;
}

static bool dhcp_reason_ok(const char *s)
{
	return strcmp(s, "decline") == 0 || strcmp(s, "arp") == 0 || strcmp(s, "icmp") == 0 || strcmp(s, "admin") == 0;
}

/* Check one event and convert it; false (after a warning) to skip it. */
static bool dhcp_event_from(const char *rack_id, const Ironrack__V1__LeaseEvent *pe, struct dhcp_db_event *e,
			    char mac[MAC_STRLEN], uint32_t *ret_ip)
{
	uint8_t m[6];
	const char *kind = dhcp_kind_name(pe->kind);
	memset(e, 0, sizeof(*e));
	if (strcmp(kind, "UNSPECIFIED") == 0 || !dhcp_ipv4_parse(pe->address, ret_ip) || *ret_ip == 0) {
		log_warn("rack %s: lease event %s for '%.64s' ignored: not a lease event of an IPv4 address", rack_id,
			 kind, pe->address);
		return false;
	}
	mac[0] = '\0';
	if (pe->mac[0] && mac_parse(pe->mac, m) < 0) {
		log_warn("rack %s: lease event %s for %s ignored: bad MAC '%.32s'", rack_id, kind, pe->address,
			 pe->mac);
		return false;
	}
	if (pe->mac[0])
		mac_format(m, mac, MAC_STRLEN);
	if (pe->kind == IRONRACK__V1__LEASE_EVENT__KIND__GRANTED && !mac[0]) {
		log_warn("rack %s: lease of %s ignored: the client sent no Ethernet address", rack_id, pe->address);
		return false;
	}
	if (pe->kind == IRONRACK__V1__LEASE_EVENT__KIND__CONFLICT && !dhcp_reason_ok(pe->reason)) {
		log_warn("rack %s: conflict on %s ignored: unknown reason '%.32s'", rack_id, pe->address, pe->reason);
		return false;
	}
	e->kind = (enum dhcp_db_event_kind)pe->kind;
	e->ip = pe->address;
	e->mac = mac;
	e->hostname = strlen(pe->hostname) <= DHCP_HOSTNAME_MAX ? pe->hostname : "";
	e->subnet_id = pe->subnet_id;
	e->expiry_unix = pe->expiry_unix;
	e->reason = pe->reason;
	return true;
}

static int dhcp_set_add(uint32_t **set, size_t *n, size_t *cap, uint32_t ip)
{
	if (*n >= DHCP_FULL_REPORT_MAX)
		return -ENOSPC;
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 256;
		*set = xreallocarray(*set, *cap, sizeof(**set));
	}
	(*set)[(*n)++] = ip;
	return 0;
}

/* "{10.0.0.5,10.0.0.6}", malloc'd. */
static char *dhcp_set_literal(const uint32_t *set, size_t n)
{
	char *out = xmalloc(n * 16 + 3), *p = out;
	*p++ = '{';
	for (size_t i = 0; i < n; i++) {
		struct in_addr a = {htonl(set[i])};
		if (i)
			*p++ = ',';
		inet_ntop(AF_INET, &a, p, 16);
		p += strlen(p);
	}
	*p++ = '}';
	*p = '\0';
	return out;
}

static void dhcp_full_reset(struct dhcp_rack_state *s)
{
	s->full_active = false;
	s->full_next = 0;
	s->n_leases = 0;
	s->n_conflicts = 0;
}

/* Collect a full report's addresses over its parts; false if this part
 * cannot be part of a complete set (a part missed, or too many). */
static bool dhcp_full_collect(struct dhcp_rack_state *s, const Ironrack__V1__LeaseReport *rep,
			      const struct dhcp_db_event *ev, const uint32_t *ips, size_t n, char *why, size_t why_len)
{
	if (rep->full_part == 0)
		dhcp_full_reset(s);
	if (rep->full_part != 0 && (!s->full_active || rep->full_part != s->full_next)) {
		snprintf(why, why_len, "full report part %u out of order (expected %u); not reconciled", rep->full_part,
			 s->full_active ? s->full_next : 0);
		dhcp_full_reset(s);
		return false;
	}
	s->full_active = true;
	s->full_next = rep->full_part + 1;
	for (size_t i = 0; i < n; i++) {
		int rc = 0;
		if (ev[i].kind == DHCP_DB_GRANTED)
			rc = dhcp_set_add(&s->leases, &s->n_leases, &s->cap_leases, ips[i]);
		else if (ev[i].kind == DHCP_DB_CONFLICT)
			rc = dhcp_set_add(&s->conflicts, &s->n_conflicts, &s->cap_conflicts, ips[i]);
		if (rc < 0) {
			snprintf(why, why_len, "full report lists more than %d addresses; not reconciled",
				 DHCP_FULL_REPORT_MAX);
			dhcp_full_reset(s);
			return false;
		}
	}
	return true;
}

static void dhcp_event_log(const char *rack_id, const struct dhcp_db_event *e)
{
	if (e->result == -ENOENT)
		log_warn("rack %s: lease event %s for %s ignored: subnet %llu is unknown or does not hold it", rack_id,
			 dhcp_kind_name((int)e->kind), e->ip, (unsigned long long)e->subnet_id);
	else if (e->result == -EEXIST)
		log_warn("rack %s leased %s to %s, but the address belongs to %s; lease not recorded", rack_id, e->ip,
			 e->mac, e->holder[0] ? e->holder : "another holder");
	else if (e->result < 0)
		log_warn("rack %s: lease event %s for %s refused by the database", rack_id,
			 dhcp_kind_name((int)e->kind), e->ip);
}

/* ---- lease reports: checked on the loop, applied as one write job, the
 * rack's Status sent from its done ---- */

struct lease_job {
	struct region *r;
	struct region_session_ref ref;
	uint64_t request_id;
	Ironrack__V1__LeaseReport *rep; /* our copy: ev points into it */
	struct dhcp_db_event *ev;
	char (*macs)[MAC_STRLEN];
	uint32_t *ips;
	size_t n, k;
	bool full, reconcile;
	size_t n_leases, n_conflicts;
	char *keep_leases, *keep_conflicts;
	long dropped;
	char why[512];
};

static void lease_job_free(struct lease_job *j)
{
	ironrack__v1__lease_report__free_unpacked(j->rep, NULL);
	free(j->ev);
	free(j->macs);
	free(j->ips);
	free(j->keep_leases);
	free(j->keep_conflicts);
	free(j);
}

static int lease_apply(struct db *db, void *arg)
{
	struct lease_job *j = arg;
	int rc = dhcp_db_leases_apply(db, j->ref.rack_id, j->ev, j->k, j->keep_leases, j->keep_conflicts, &j->dropped);
	if (rc < 0)
		snprintf(j->why, sizeof(j->why), "database: %s", db_last_error(db));
	/* A full report repeats leases taken long ago: only new ones count. */
	else if (!j->full)
		region_machine_leases_seen(j->r, db, j->ref.rack_id, j->ev, j->k);
	return rc;
}

static void lease_applied(void *arg, int status)
{
	struct lease_job *j = arg;
	struct region *r = j->r;
	const char *rack_id = j->ref.rack_id;
	if (status == -ECANCELED) {
		lease_job_free(j);
		return;
	}
	if (status < 0) {
		if (!j->why[0])
			snprintf(j->why, sizeof(j->why), "database: %s", strerror(-status));
		log_err("rack %s: cannot apply a lease report: %s", rack_id, j->why);
		/* The rack resends the whole full report. */
		if (j->full && r->dhcp)
			dhcp_full_reset(dhcp_rack_state_get(r->dhcp, rack_id));
	} else {
		for (size_t i = 0; i < j->k; i++)
			dhcp_event_log(rack_id, &j->ev[i]);
		if (j->reconcile)
			log_info("rack %s: full lease report: %zu leases, %zu quarantined, %ld stale entries removed",
				 rack_id, j->n_leases, j->n_conflicts, j->dropped);
		log_debug("rack %s: lease report applied: %zu of %zu events", rack_id, j->k, j->n);
	}
	struct rack_session *s = region_session_find(r, &j->ref);
	if (s)
		region_session_reply_status(s, j->request_id, status < 0 ? status : 0, j->why);
	lease_job_free(j);
}

static void dhcp_on_lease_report(struct rack_session *sess, const Ironrack__V1__RackMessage *m)
{
	struct region *r = region_session_region(sess);
	const char *rack_id = region_session_rack_id(sess);
	const Ironrack__V1__LeaseReport *in = m->lease_report;
	if (in->n_events > DHCP_REPORT_EVENTS_MAX) {
		char why[64];
		snprintf(why, sizeof(why), "a report holds at most %d events", DHCP_REPORT_EVENTS_MAX);
		region_session_reply_status(sess, m->request_id, -EINVAL, why);
		return;
	}
	struct lease_job *j = xcalloc(1, sizeof(*j));
	j->r = r;
	region_session_ref_get(sess, &j->ref);
	j->request_id = m->request_id;
	size_t len = ironrack__v1__lease_report__get_packed_size(in);
	uint8_t *buf = xmalloc(len ? len : 1);
	ironrack__v1__lease_report__pack(in, buf);
	j->rep = ironrack__v1__lease_report__unpack(NULL, len, buf);
	free(buf);
	if (!j->rep)
		oom_abort(len);
	const Ironrack__V1__LeaseReport *rep = j->rep;
	size_t n = j->n = rep->n_events;
	j->ev = xcalloc(n ? n : 1, sizeof(*j->ev));
	j->macs = xcalloc(n ? n : 1, sizeof(*j->macs));
	j->ips = xcalloc(n ? n : 1, sizeof(*j->ips));
	for (size_t i = 0; i < n; i++) {
		if (dhcp_event_from(rack_id, rep->events[i], &j->ev[j->k], j->macs[j->k], &j->ips[j->k]))
			j->k++;
	}
	struct dhcp_rack_state *s = r->dhcp ? dhcp_rack_state_get(r->dhcp, rack_id) : NULL;
	j->full = rep->full && s;
	if (j->full) {
		j->reconcile = dhcp_full_collect(s, rep, j->ev, j->ips, j->k, j->why, sizeof(j->why)) && rep->full_last;
		if (j->why[0])
			log_warn("rack %s: %s", rack_id, j->why);
	}
	if (j->reconcile) {
		/* The complete set is captured here; the next full report
		 * starts afresh. */
		j->keep_leases = dhcp_set_literal(s->leases, s->n_leases);
		j->keep_conflicts = dhcp_set_literal(s->conflicts, s->n_conflicts);
		j->n_leases = s->n_leases;
		j->n_conflicts = s->n_conflicts;
		dhcp_full_reset(s);
	}
	region_dbjob_submit(r, DB_LANE_WRITE, lease_apply, lease_applied, j);
}

/* ---- external DHCP servers ---- */

struct external_job {
	struct region *r;
	struct region_session_ref ref;
	uint64_t request_id;
	uint64_t vlan_id;
	char server[INET_ADDRSTRLEN]; /* "" = none answers any more */
	char interface[64];
	struct dhcp_db_external ext;
	char err[256];
};

static int external_store(struct db *db, void *arg)
{
	struct external_job *j = arg;
	int rc = dhcp_db_external_set(db, j->vlan_id, j->ref.rack_id, j->server[0] ? j->server : NULL, &j->ext);
	if (rc < 0 && rc != -ENOENT)
		snprintf(j->err, sizeof(j->err), "%s", db_last_error(db));
	return rc;
}

static void external_stored(void *arg, int status)
{
	struct external_job *j = arg;
	const char *rack_id = j->ref.rack_id;
	char why[512] = "";
	if (status == -ECANCELED) {
		free(j);
		return;
	}
	if (status == -ENOENT) {
		snprintf(why, sizeof(why), "no VLAN with id %llu", (unsigned long long)j->vlan_id);
		log_warn("rack %s: external DHCP report for %s", rack_id, why);
	} else if (status < 0) {
		snprintf(why, sizeof(why), "database: %s", j->err[0] ? j->err : strerror(-status));
		log_err("rack %s: cannot record an external DHCP report: %s", rack_id, why);
	} else if (j->ext.changed && j->server[0]) {
		log_warn("%s: external DHCP server %s answers (seen by rack %s on %s)", j->ext.label, j->server,
			 rack_id, j->interface[0] ? j->interface : "?");
	} else if (j->ext.changed) {
		log_info("%s: external DHCP server %s no longer answers (rack %s)", j->ext.label, j->ext.previous,
			 rack_id);
	}
	struct rack_session *s = region_session_find(j->r, &j->ref);
	if (s)
		region_session_reply_status(s, j->request_id, status < 0 ? status : 0, why);
	free(j);
}

static void dhcp_on_external_report(struct rack_session *sess, const Ironrack__V1__RackMessage *m)
{
	const Ironrack__V1__ExternalDhcpReport *rep = m->external_dhcp;
	const char *server = rep->n_servers ? rep->servers[0] : NULL;
	uint32_t ip;
	if (server && (!dhcp_ipv4_parse(server, &ip) || ip == 0)) {
		char why[128];
		snprintf(why, sizeof(why), "server '%.64s' is not an IPv4 address", server);
		region_session_reply_status(sess, m->request_id, -EINVAL, why);
		return;
	}
	struct external_job *j = xcalloc(1, sizeof(*j));
	j->r = region_session_region(sess);
	region_session_ref_get(sess, &j->ref);
	j->request_id = m->request_id;
	j->vlan_id = rep->vlan_id;
	if (server) {
		struct in_addr a = {htonl(ip)};
		inet_ntop(AF_INET, &a, j->server, sizeof(j->server));
	}
	snprintf(j->interface, sizeof(j->interface), "%s", rep->interface);
	region_dbjob_submit(j->r, DB_LANE_WRITE, external_store, external_stored, j);
}

/* ---- the session rows of region/dhcp ---- */

/* It registered just before: its interfaces may serve other VLANs. */
static void dhcp_on_session_open(struct region *r, const char *rack_id)
{
	region_dhcp_changed(r);
}

static const struct region_session_handler dhcp_handlers[] = {
    {IRONRACK__V1__RACK_MESSAGE__BODY_LEASE_REPORT, dhcp_on_lease_report},
    {IRONRACK__V1__RACK_MESSAGE__BODY_EXTERNAL_DHCP, dhcp_on_external_report},
    {IRONRACK__V1__RACK_MESSAGE__BODY_HA_STATUS, region_dhcp_on_ha_status},
};

const struct region_session_feature region_dhcp_session = {
    .name = "dhcp",
    .handlers = dhcp_handlers,
    .n_handlers = sizeof(dhcp_handlers) / sizeof(dhcp_handlers[0]),
    .on_open = dhcp_on_session_open,
};

/* ---- the DHCP part of a RackConfig ---- */

int region_dhcp_rackcfg_fill(struct region *r, const char *rack_id, const struct rack_config_row *row,
			     Ironrack__V1__RackConfig *cfg)
{
	/* Packed by region/dhcp when it was stored. */
	cfg->dhcp = row->dhcp_len ? ironrack__v1__dhcp_config__unpack(NULL, row->dhcp_len, row->dhcp) : NULL;
	if (row->dhcp_len && !cfg->dhcp)
		log_err("rack %s: config version %llu holds a DHCP config that does not unpack; sent without it",
			rack_id, (unsigned long long)row->version);
	return 0;
}

void region_dhcp_rackcfg_free(Ironrack__V1__RackConfig *cfg)
{
	if (cfg->dhcp)
		ironrack__v1__dhcp_config__free_unpacked(cfg->dhcp, NULL);
	cfg->dhcp = NULL;
}
