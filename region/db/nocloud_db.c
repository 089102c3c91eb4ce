/* nocloud_load (region/machine/nocloud.h): a machine's interfaces and
 * their IPAM links as the NoCloud seed's model.
 *
 * What a link gives (ip_address rows of owner_kind machine_interface):
 * auto and static the address with its subnet's prefix length, the
 * subnet's gateway, DNS servers and static routes (static_route rows whose
 * source is the subnet); dhcp dhcp4 (dhcp6 on an IPv6 subnet), the DHCP
 * server gives the rest; discovered and unconfigured nothing. An
 * interface's MTU is its VLAN's (the VLAN of its first link's subnet when
 * the interface has none), written only when it is not 1500. The schema
 * has no VLAN sub-interfaces or bonds: every interface is an ethernet. */
#include "region/machine/nocloud.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "common/util.h"
#include "region/db/db_internal.h"

/* Copy src into a fixed field; -E2BIG if it does not fit. */
static int copy_field(char *dst, size_t len, const char *src)
{
	if (strlen(src) >= len)
		return -E2BIG;
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

/* The interfaces being loaded, their ids and their VLAN's MTU (0 = not
 * known yet). */
struct load {
	struct nocloud_iface *ifaces;
	int64_t *ids;
	uint32_t *mtu;
	size_t n;
};

static ssize_t iface_index(const struct load *l, const char *id_text)
{
	int64_t id = strtoll(id_text, NULL, 10);
	for (size_t i = 0; i < l->n; i++)
		if (l->ids[i] == id)
			return (ssize_t)i;
	return -1;
}

/* One link row: interface_id, mode, host(ip), masklen, family, host(gateway),
 * DNS servers (space separated), MTU of the subnet's VLAN. */
static int add_link(struct load *l, size_t idx, PGresult *res, int row)
{
	struct nocloud_iface *f = &l->ifaces[idx];
	const char *mode = PQgetvalue(res, row, 1);
	bool v6 = strcmp(PQgetvalue(res, row, 4), "6") == 0;

	if (l->mtu[idx] == 0)
		l->mtu[idx] = (uint32_t)strtoul(PQgetvalue(res, row, 7), NULL, 10);
	if (strcmp(mode, "dhcp") == 0) {
		if (v6)
			f->dhcp6 = true;
		else
			f->dhcp4 = true;
		return 0;
	}
	if (strcmp(mode, "auto") != 0 && strcmp(mode, "static") != 0)
		return 0;
	if (PQgetisnull(res, row, 2))
		return 0;
	if (f->n_addrs == NOCLOUD_ADDRS_MAX)
		return -E2BIG;
	snprintf(f->addrs[f->n_addrs++], sizeof(f->addrs[0]), "%s/%s", PQgetvalue(res, row, 2),
		 PQgetvalue(res, row, 3));
	char *gw = v6 ? f->gateway6 : f->gateway4;
	if (!gw[0] && !PQgetisnull(res, row, 5) && copy_field(gw, sizeof(f->gateway4), PQgetvalue(res, row, 5)) < 0)
		return -E2BIG;
	char *dns = xstrdup(PQgetvalue(res, row, 6));
	int r = 0;
	for (char *save, *d = strtok_r(dns, " ", &save); d && r == 0; d = strtok_r(NULL, " ", &save)) {
		bool dup = false;
		for (size_t i = 0; i < f->n_dns && !dup; i++)
			dup = strcmp(f->dns[i], d) == 0;
		if (dup)
			continue;
		if (f->n_dns == NOCLOUD_DNS_MAX)
			r = -E2BIG;
		else
			r = copy_field(f->dns[f->n_dns++], sizeof(f->dns[0]), d);
	}
	free(dns);
	return r;
}

static int load_links(struct db *db, const char *ids, struct load *l)
{
	const char *p[] = {ids};
	PGresult *res;
	int r = db_exec(
	    db,
	    "SELECT a.interface_id, a.mode, host(a.ip), masklen(s.cidr), family(s.cidr), host(s.gateway), "
	    "array_to_string(ARRAY(SELECT host(d) FROM unnest(s.dns_servers) WITH ORDINALITY AS u(d, k) "
	    "ORDER BY k), ' '), "
	    "v.mtu FROM ip_address a JOIN interface i ON i.id = a.interface_id JOIN subnet s ON s.id = a.subnet_id "
	    "JOIN vlan v ON v.id = s.vlan_id "
	    "WHERE i.machine_id = $1::bigint AND a.owner_kind = 'machine_interface' "
	    "ORDER BY a.interface_id, family(s.cidr), a.ip NULLS LAST, a.id",
	    1, p, &res);
	if (r < 0)
		return r;
	for (int row = 0; row < PQntuples(res) && r == 0; row++) {
		ssize_t idx = iface_index(l, PQgetvalue(res, row, 0));
		if (idx >= 0)
			r = add_link(l, (size_t)idx, res, row);
	}
	PQclear(res);
	return r;
}

static int load_routes(struct db *db, const char *ids, struct load *l)
{
	const char *p[] = {ids};
	PGresult *res;
	int r = db_exec(db,
			"SELECT DISTINCT a.interface_id, d.cidr, r.gateway, r.metric, d.cidr::text, host(r.gateway) "
			"FROM static_route r JOIN subnet d ON d.id = r.destination_id "
			"JOIN ip_address a ON a.subnet_id = r.source_id JOIN interface i ON i.id = a.interface_id "
			"WHERE i.machine_id = $1::bigint AND a.owner_kind = 'machine_interface' "
			"AND a.mode IN ('auto', 'static') AND a.ip IS NOT NULL "
			"ORDER BY a.interface_id, r.metric, d.cidr, r.gateway",
			1, p, &res);
	if (r < 0)
		return r;
	for (int row = 0; row < PQntuples(res) && r == 0; row++) {
		ssize_t idx = iface_index(l, PQgetvalue(res, row, 0));
		if (idx < 0)
			continue;
		struct nocloud_iface *f = &l->ifaces[idx];
		if (f->n_routes == NOCLOUD_ROUTES_MAX) {
			r = -E2BIG;
			break;
		}
		struct nocloud_route *rt = &f->routes[f->n_routes++];
		rt->metric = (uint32_t)strtoul(PQgetvalue(res, row, 3), NULL, 10);
		r = copy_field(rt->to, sizeof(rt->to), PQgetvalue(res, row, 4));
		if (r == 0)
			r = copy_field(rt->via, sizeof(rt->via), PQgetvalue(res, row, 5));
	}
	PQclear(res);
	return r;
}

int nocloud_load(struct db *db, int64_t machine_id, struct nocloud_model *m)
{
	char ids[24];
	const char *p[] = {ids};
	PGresult *res;

	snprintf(ids, sizeof(ids), "%" PRId64, machine_id);
	int r = db_exec(db, "SELECT 1 FROM machine WHERE id = $1::bigint", 1, p, &res);
	if (r < 0)
		return r;
	int found = PQntuples(res);
	PQclear(res);
	if (!found)
		return -ENOENT;
	r = db_exec(db,
		    "SELECT i.id, i.name, i.mac::text, v.mtu FROM interface i LEFT JOIN vlan v ON v.id = i.vlan_id "
		    "WHERE i.machine_id = $1::bigint ORDER BY i.name COLLATE \"C\"",
		    1, p, &res);
	if (r < 0)
		return r;
	size_t n = (size_t)PQntuples(res);
	if (n > NOCLOUD_IFACES_MAX) {
		PQclear(res);
		return -E2BIG;
	}
	struct load l = {
	    .ifaces = xcalloc(n ? n : 1, sizeof(*l.ifaces)),
	    .ids = xcalloc(n ? n : 1, sizeof(*l.ids)),
	    .mtu = xcalloc(n ? n : 1, sizeof(*l.mtu)),
	    .n = n,
	};
	for (size_t i = 0; i < n && r == 0; i++) {
		struct nocloud_iface *f = &l.ifaces[i];
		f->kind = NOCLOUD_ETHERNET;
		l.ids[i] = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
		l.mtu[i] = (uint32_t)strtoul(PQgetvalue(res, (int)i, 3), NULL, 10);
		r = copy_field(f->name, sizeof(f->name), PQgetvalue(res, (int)i, 1));
		if (r == 0)
			r = copy_field(f->mac, sizeof(f->mac), PQgetvalue(res, (int)i, 2));
	}
	PQclear(res);
	if (r == 0)
		r = load_links(db, ids, &l);
	if (r == 0)
		r = load_routes(db, ids, &l);
	for (size_t i = 0; i < n; i++)
		l.ifaces[i].mtu = l.mtu[i] == 1500 ? 0 : l.mtu[i];
	free(l.ids);
	free(l.mtu);
	if (r < 0) {
		free(l.ifaces);
		return r;
	}
	free(m->ifaces);
	m->ifaces = l.ifaces;
	m->n_ifaces = n;
	return 0;
}

void nocloud_model_free(struct nocloud_model *m)
{
	if (!m)
		return;
	free(m->ifaces);
	m->ifaces = NULL;
	m->n_ifaces = 0;
}
