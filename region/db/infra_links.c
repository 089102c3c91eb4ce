/* The addresses a WAN gives an infrastructure's instances, as IPAM sees
 * them (docs/deploy.md, "Infrastructures"): every deployed network (LAN,
 * WAN, SAN) is mirrored as a VLAN (its fabric and vid), every WAN with one
 * subnet per block, primary or extra (gateway: the block's first usable
 * address, the SVI; none for a /31 or /32), and every port of a bound
 * instance that connects to a WAN gets the lowest free host address of the
 * WAN's primary blocks as a static link on its machine's interface
 * (the port's number counts the machine's interfaces in name order: eth0
 * is the first). Links that no longer match the design (a connection
 * removed, another machine) and mirrors of blocks or networks that are
 * gone are removed first. Runs inside deploy's transaction, which says so
 * to the triggers that keep everyone else off these objects (migration
 * 0013, infra_ipam_own). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/db/infra_internal.h"

static struct infra_link *link_push(struct infra_deploy *d, const PGresult *res, int row, bool removed)
{
	struct infra_plan_result *o = d->out;
	o->links = xreallocarray(o->links, o->n_links + 1, sizeof(*o->links));
	struct infra_link *l = &o->links[o->n_links++];
	*l = (struct infra_link){
	    .removed = removed,
	    .array = xstrdup(infra_val(res, row, 0)),
	    .index = (uint32_t)strtoul(infra_val(res, row, 1), NULL, 10),
	    .port = (uint32_t)strtoul(infra_val(res, row, 2), NULL, 10),
	    .network = xstrdup(infra_val(res, row, 3)),
	    .machine = xstrdup(infra_val(res, row, 4)),
	    .interface = xstrdup(infra_val(res, row, 5)),
	    .ip = xstrdup(infra_val(res, row, 6)),
	};
	return l;
}

int infra_ipam_own(struct db *db)
{
	return db_exec(db, "SELECT set_config('ironrack.infra_deploy', 'on', true)", 0, NULL, NULL);
}

/* Links of this infrastructure that the design no longer gives: the
 * connection is gone (or its network is no WAN any more), or the address
 * is on another machine than the instance's. */
int infra_links_stale_remove(struct infra_deploy *d)
{
	const char *p[] = {d->id};
	PGresult *res;
	int r =
	    db_exec(d->db,
		    "WITH gone AS (SELECT l.* FROM infra_instance_link l JOIN infra_array a ON a.id = l.array_id "
		    "JOIN infra_instance i ON i.array_id = l.array_id AND i.idx = l.idx "
		    "JOIN ip_address x ON x.id = l.ip_address_id JOIN interface f ON f.id = x.interface_id "
		    "WHERE a.infrastructure_id = $1::bigint AND (i.machine_id IS DISTINCT FROM f.machine_id "
		    "OR NOT EXISTS (SELECT 1 FROM infra_connection c JOIN infra_network n ON n.id = c.network_id "
		    "WHERE c.array_id = l.array_id AND c.port = l.port AND c.network_id = l.network_id "
		    "AND c.deployed AND n.d_type = 'wan'))), "
		    "shown AS (SELECT coalesce(a.d_name, a.s_name) AS array, g.idx, g.port, "
		    "coalesce(n.d_name, n.s_name, '') AS network, m.hostname, f.name AS iface, host(x.ip) AS ip, "
		    "g.array_id, g.network_id FROM gone g JOIN infra_array a ON a.id = g.array_id "
		    "LEFT JOIN infra_network n ON n.id = g.network_id JOIN ip_address x ON x.id = g.ip_address_id "
		    "JOIN interface f ON f.id = x.interface_id JOIN machine m ON m.id = f.machine_id), "
		    "del AS (DELETE FROM infra_instance_link l USING gone g WHERE l.ip_address_id = g.ip_address_id) "
		    "SELECT * FROM shown ORDER BY array_id, idx, port, network_id",
		    1, p, &res);
	if (r < 0)
		return r;
	for (int i = 0; i < PQntuples(res); i++)
		link_push(d, res, i, true);
	PQclear(res);
	return 0;
}

/* Mirrors whose WAN block or network is gone (of any infrastructure: a
 * deleted infrastructure leaves its mirrors to the next caller). Their
 * addresses went with their instances' links. */
int infra_ipam_prune(struct db *db)
{
	int r = db_exec(db,
			"DELETE FROM subnet s USING infra_ipam_subnet m WHERE m.subnet_id = s.id AND NOT EXISTS ("
			"SELECT 1 FROM infra_wan_block b JOIN infra_network n ON n.id = b.network_id "
			"WHERE b.id = m.block_id AND n.d_type = 'wan')",
			0, NULL, NULL);
	if (r == 0)
		r = db_exec(db,
			    "DELETE FROM vlan v USING infra_ipam_vlan m WHERE m.vlan_id = v.id AND NOT EXISTS ("
			    "SELECT 1 FROM infra_vlan_pool p JOIN infra_network n ON n.id = p.network_id "
			    "JOIN vlan w ON w.fabric_id = p.fabric_id AND w.vid = p.vid "
			    "WHERE p.network_id = m.network_id AND w.id = m.vlan_id AND n.d_type IS NOT NULL)",
			    0, NULL, NULL);
	if (r == 0)
		r = db_exec(
		    db, "DELETE FROM infra_ipam_vlan m WHERE NOT EXISTS (SELECT 1 FROM vlan v WHERE v.id = m.vlan_id)",
		    0, NULL, NULL);
	return r;
}

/* The VLANs of this infrastructure's deployed networks and the subnets of
 * its WANs' blocks: created when missing, a grown or shrunk block's subnet
 * resized. LANs and SANs have no addresses in the model, so no subnet. */
int infra_ipam_mirrors_sync(struct infra_deploy *d)
{
	const char *p[] = {d->id, d->infra};
	int r =
	    db_exec(d->db,
		    "WITH w AS (SELECT n.id, n.d_name, n.d_type, v.fabric_id, v.vid FROM infra_network n "
		    "JOIN infra_vlan_pool v ON v.network_id = n.id "
		    "WHERE n.infrastructure_id = $1::bigint AND n.d_type IS NOT NULL "
		    "AND NOT EXISTS (SELECT 1 FROM infra_ipam_vlan m WHERE m.network_id = n.id)), "
		    "ins AS (INSERT INTO vlan (fabric_id, vid, name, description) "
		    "SELECT w.fabric_id, w.vid, left('infra-' || $2 || '-' || w.d_name, 255), "
		    "upper(w.d_type) || ' ' || w.d_name || ' of infrastructure ' || $2 FROM w ON CONFLICT DO NOTHING "
		    "RETURNING id, fabric_id, vid) "
		    "INSERT INTO infra_ipam_vlan (network_id, vlan_id) "
		    "SELECT w.id, ins.id FROM w JOIN ins ON ins.fabric_id = w.fabric_id AND ins.vid = w.vid",
		    2, p, NULL);
	/* A block grown in place: its subnet grows with it (the addresses in
	 * it stay inside; the gateway follows the block's first address). */
	if (r == 0)
		r = db_exec(d->db,
			    "UPDATE subnet s SET cidr = b.prefix, gateway = host(network(b.prefix))::inet + 1 "
			    "FROM infra_ipam_subnet m JOIN infra_wan_block b ON b.id = m.block_id "
			    "JOIN infra_network n ON n.id = b.network_id "
			    "WHERE m.subnet_id = s.id AND n.infrastructure_id = $1::bigint AND s.cidr <> b.prefix "
			    "AND b.kind = 'primary'",
			    1, p, NULL);
	/* A new block: a new subnet, on the network's VLAN (the mirror, or a
	 * VLAN an operator made with that vid meanwhile). */
	if (r == 0)
		r = db_exec(d->db,
			    "WITH b AS (SELECT b.id, b.prefix, b.kind, n.id AS network_id, n.d_name, "
			    "(SELECT w.id FROM vlan w WHERE w.fabric_id = p.fabric_id AND w.vid = p.vid) AS vlan_id "
			    "FROM infra_wan_block b JOIN infra_network n ON n.id = b.network_id "
			    "JOIN infra_vlan_pool p ON p.network_id = n.id "
			    "WHERE n.infrastructure_id = $1::bigint AND n.d_type = 'wan' "
			    "AND NOT EXISTS (SELECT 1 FROM infra_ipam_subnet m WHERE m.block_id = b.id)), "
			    "s AS (INSERT INTO subnet (cidr, name, vlan_id, gateway, description) "
			    "SELECT b.prefix, left('infra-' || $2 || '-' || b.d_name || '-' || b.id, 255), b.vlan_id, "
			    "CASE WHEN masklen(b.prefix) <= 30 THEN host(network(b.prefix))::inet + 1 END, "
			    "'WAN ' || b.d_name || ' of infrastructure ' || $2 "
			    "|| CASE WHEN b.kind = 'extra' THEN ' (extra)' ELSE '' END "
			    "FROM b RETURNING id, cidr) "
			    "INSERT INTO infra_ipam_subnet (subnet_id, network_id, block_id) "
			    "SELECT s.id, b.network_id, b.id FROM s JOIN b ON b.prefix = s.cidr",
			    2, p, NULL);
	return r;
}

/* One link: the port-th interface of the machine (name order), the
 * lowest free host address of the network's primary blocks' subnets (not the
 * network, gateway or broadcast address). $1 machine, $2 port, $3
 * network, $4 hostname, $5 comment, $6 array id, $7 index. */
static const char link_sql[] =
    "WITH f AS (SELECT id, name FROM interface WHERE machine_id = $1::bigint ORDER BY name, id "
    "OFFSET $2::int LIMIT 1), "
    "a AS (SELECT s.id AS subnet_id, host(network(s.cidr))::inet + g AS ip FROM infra_ipam_subnet m "
    "JOIN infra_wan_block b ON b.id = m.block_id AND b.kind = 'primary' "
    "JOIN subnet s ON s.id = m.subnet_id, generate_series(2, (2 ^ (32 - masklen(s.cidr)))::bigint - 2) AS g "
    "WHERE m.network_id = $3::bigint AND NOT EXISTS (SELECT 1 FROM ip_address x "
    "WHERE x.ip = host(network(s.cidr))::inet + g) ORDER BY m.block_id, g LIMIT 1), "
    "ins AS (INSERT INTO ip_address (ip, subnet_id, mode, owner_kind, interface_id, hostname, comment) "
    "SELECT a.ip, a.subnet_id, 'static', 'machine_interface', f.id, $4, $5 FROM f, a RETURNING id, ip), "
    "l AS (INSERT INTO infra_instance_link (array_id, idx, port, network_id, ip_address_id) "
    "SELECT $6::bigint, $7::int, $2::int, $3::bigint, ins.id FROM ins) "
    "SELECT f.name, host(ins.ip) FROM f, ins";

static int link_add(struct infra_deploy *d, const PGresult *res, int row)
{
	/* Columns: array id, array, index, port, network id, network,
	 * machine id, hostname. */
	const char *array = PQgetvalue(res, row, 1), *net = PQgetvalue(res, row, 5), *host = PQgetvalue(res, row, 7);
	char comment[256];
	PGresult *out;

	snprintf(comment, sizeof(comment), "infrastructure %s: %s#%s eth%s on %s", d->infra, array,
		 PQgetvalue(res, row, 2), PQgetvalue(res, row, 3), net);
	const char *p[] = {PQgetvalue(res, row, 6), PQgetvalue(res, row, 3), PQgetvalue(res, row, 4), host, comment,
			   PQgetvalue(res, row, 0), PQgetvalue(res, row, 2)};
	int r = db_exec(d->db, link_sql, 7, p, &out);
	if (r < 0)
		return r;
	if (PQntuples(out) != 1) {
		PQclear(out);
		const char *q[] = {PQgetvalue(res, row, 6), PQgetvalue(res, row, 3)};
		char *v = NULL;
		r = db_query_value(d->db,
				   "SELECT name FROM interface WHERE machine_id = $1::bigint ORDER BY name, id "
				   "OFFSET $2::int LIMIT 1",
				   2, q, &v);
		free(v);
		if (r == -ENOENT)
			return infra_fail(d->err, -EBUSY, "connections",
					  "instance %s#%s connects eth%s, but its machine %s has no interface for it",
					  array, PQgetvalue(res, row, 2), PQgetvalue(res, row, 3), host);
		return r < 0 ? r
			     : infra_fail(d->err, -ENOSPC, "wan_pools",
					  "WAN \"%s\" has no free address left for instance %s#%s", net, array,
					  PQgetvalue(res, row, 2));
	}
	struct infra_plan_result *o = d->out;
	o->links = xreallocarray(o->links, o->n_links + 1, sizeof(*o->links));
	o->links[o->n_links++] = (struct infra_link){
	    .array = xstrdup(array),
	    .index = (uint32_t)strtoul(PQgetvalue(res, row, 2), NULL, 10),
	    .port = (uint32_t)strtoul(PQgetvalue(res, row, 3), NULL, 10),
	    .network = xstrdup(net),
	    .machine = xstrdup(host),
	    .interface = xstrdup(PQgetvalue(out, 0, 0)),
	    .ip = xstrdup(PQgetvalue(out, 0, 1)),
	};
	PQclear(out);
	return 0;
}

int infra_machines_links(struct infra_deploy *d)
{
	const char *p[] = {d->id};
	PGresult *res;

	int r = infra_links_stale_remove(d);
	if (r == 0)
		r = infra_ipam_prune(d->db);
	if (r == 0)
		r = infra_ipam_mirrors_sync(d);
	if (r < 0)
		return r;
	r = db_exec(d->db,
		    "SELECT i.array_id, a.d_name, i.idx, c.port, c.network_id, n.d_name, m.id, m.hostname "
		    "FROM infra_instance i JOIN infra_array a ON a.id = i.array_id "
		    "JOIN infra_connection c ON c.array_id = i.array_id AND c.deployed "
		    "JOIN infra_network n ON n.id = c.network_id AND n.d_type = 'wan' "
		    "JOIN machine m ON m.id = i.machine_id "
		    "WHERE a.infrastructure_id = $1::bigint AND a.d_name IS NOT NULL AND NOT EXISTS ("
		    "SELECT 1 FROM infra_instance_link l WHERE l.array_id = i.array_id AND l.idx = i.idx "
		    "AND l.port = c.port AND l.network_id = c.network_id) "
		    "ORDER BY i.array_id, i.idx, c.port, c.network_id",
		    1, p, &res);
	if (r < 0)
		return r;
	for (int i = 0; i < PQntuples(res) && r == 0; i++)
		r = link_add(d, res, i);
	PQclear(res);
	return r;
}
