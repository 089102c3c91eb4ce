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
#include "region/db/dhcp_db.h"
#include "region/dhcp/internal.h"
#include "region/region.h"

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
		*set = realloc(*set, *cap * sizeof(**set));
		if (!*set)
			abort();
	}
	(*set)[(*n)++] = ip;
	return 0;
}

/* "{10.0.0.5,10.0.0.6}", malloc'd. */
static char *dhcp_set_literal(const uint32_t *set, size_t n)
{
	char *out = malloc(n * 16 + 3), *p = out;
	if (!out)
		abort();
	*p++ = '{';
	for (size_t i = 0; i < n; i++) {
		struct in_addr a = { htonl(set[i]) };
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

int region_dhcp_lease_report(struct region *r, const char *rack_id, const Ironrack__V1__LeaseReport *rep, char *why,
			     size_t why_len)
{
	size_t n = rep->n_events, k = 0;
	why[0] = '\0';
	if (n > DHCP_REPORT_EVENTS_MAX) {
		snprintf(why, why_len, "a report holds at most %d events", DHCP_REPORT_EVENTS_MAX);
		return -EINVAL;
	}
	struct dhcp_db_event *ev = calloc(n ? n : 1, sizeof(*ev));
	char(*macs)[MAC_STRLEN] = calloc(n ? n : 1, sizeof(*macs));
	uint32_t *ips = calloc(n ? n : 1, sizeof(*ips));
	if (!ev || !macs || !ips)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (dhcp_event_from(rack_id, rep->events[i], &ev[k], macs[k], &ips[k]))
			k++;
	}
	char *keep_leases = NULL, *keep_conflicts = NULL;
	struct dhcp_rack_state *s = r->dhcp ? dhcp_rack_state_get(r->dhcp, rack_id) : NULL;
	bool reconcile = false;
	if (rep->full && s) {
		reconcile = dhcp_full_collect(s, rep, ev, ips, k, why, why_len) && rep->full_last;
		if (why[0])
			log_warn("rack %s: %s", rack_id, why);
	}
	if (reconcile) {
		keep_leases = dhcp_set_literal(s->leases, s->n_leases);
		keep_conflicts = dhcp_set_literal(s->conflicts, s->n_conflicts);
	}
	long dropped = 0;
	int rc = dhcp_db_leases_apply(r->db, rack_id, ev, k, keep_leases, keep_conflicts, &dropped);
	if (rc < 0) {
		snprintf(why, why_len, "database: %s", db_last_error(r->db));
		log_err("rack %s: cannot apply a lease report: %s", rack_id, why);
		/* The rack resends the whole full report. */
		if (s && rep->full)
			dhcp_full_reset(s);
	} else {
		for (size_t i = 0; i < k; i++)
			dhcp_event_log(rack_id, &ev[i]);
		if (reconcile) {
			log_info("rack %s: full lease report: %zu leases, %zu quarantined, %ld stale entries removed",
				 rack_id, s->n_leases, s->n_conflicts, dropped);
			dhcp_full_reset(s);
		}
		log_debug("rack %s: lease report applied: %zu of %zu events", rack_id, k, n);
	}
	free(keep_leases);
	free(keep_conflicts);
	free(ev);
	free(macs);
	free(ips);
	return rc;
}

int region_dhcp_external_report(struct region *r, const char *rack_id, const Ironrack__V1__ExternalDhcpReport *rep,
				char *why, size_t why_len)
{
	uint32_t ip;
	const char *server = rep->n_servers ? rep->servers[0] : NULL;
	struct dhcp_db_external ext;

	why[0] = '\0';
	if (server && (!dhcp_ipv4_parse(server, &ip) || ip == 0)) {
		snprintf(why, why_len, "server '%.64s' is not an IPv4 address", server);
		return -EINVAL;
	}
	char text[INET_ADDRSTRLEN];
	if (server) {
		struct in_addr a = { htonl(ip) };
		server = inet_ntop(AF_INET, &a, text, sizeof(text));
	}
	int rc = dhcp_db_external_set(r->db, rep->vlan_id, rack_id, server, &ext);
	if (rc == -ENOENT) {
		snprintf(why, why_len, "no VLAN with id %llu", (unsigned long long)rep->vlan_id);
		log_warn("rack %s: external DHCP report for %s", rack_id, why);
		return rc;
	}
	if (rc < 0) {
		snprintf(why, why_len, "database: %s", db_last_error(r->db));
		log_err("rack %s: cannot record an external DHCP report: %s", rack_id, why);
		return rc;
	}
	if (ext.changed && server)
		log_warn("%s: external DHCP server %s answers (seen by rack %s on %s)", ext.label, server, rack_id,
			 rep->interface[0] ? rep->interface : "?");
	else if (ext.changed)
		log_info("%s: external DHCP server %s no longer answers (rack %s)", ext.label, ext.previous, rack_id);
	return 0;
}
