/* The SQL of region/dhcp (see dhcp_db.h). */
#include "region/db/dhcp_db.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/db/db_internal.h"

/* ---- the model a rack's DHCP config is built from ---- */

/* Snippets of one scope, as OPTION objects. */
#define DHCP_DB_OPTIONS(cond)                                                                                          \
	"(SELECT coalesce(json_agg(json_build_object('code', n.code, 'data', encode(n.data, 'hex')) "                  \
	"ORDER BY n.id), '[]') FROM dhcp_snippet n WHERE n.enabled AND " cond ")"

#define DHCP_DB_RESERVATION "a.owner_kind = 'machine_interface' AND a.mode IN ('auto', 'static') AND a.ip IS NOT NULL"

/* clang-format off */
static const char dhcp_db_model_sql[] =
	/* VLANs this rack serves, as their primary or as the secondary of
	 * an HA pair (docs/dhcp-ha.md), with the rack's interface there: the
	 * one holding an address in a managed IPv4 subnet of the VLAN. */
	"WITH served AS ("
	" SELECT v.id, v.vid, v.mtu, v.name, f.name AS fabric,"
	"  (SELECT json_build_object('iface', ri.name, 'address', host(a.addr))"
	"   FROM rack_interface ri CROSS JOIN unnest(ri.addresses) AS a(addr) JOIN subnet s ON a.addr <<= s.cidr"
	"   WHERE ri.rack_id = $1 AND s.vlan_id = v.id AND s.managed AND family(s.cidr) = 4"
	"   ORDER BY ri.name, s.id, a.addr LIMIT 1) AS srv"
	" FROM vlan v JOIN fabric f ON f.id = v.fabric_id"
	" WHERE v.dhcp_on AND $1 IN (v.primary_rack_id, v.secondary_rack_id)),"
	/* Their subnets and those of VLANs relaying to them; each subnet
	 * carries the MTU of its own VLAN. */
	" subs AS ("
	" SELECT s.id, s.vlan_id, json_build_object("
	"  'id', s.id, 'cidr', s.cidr::text,"
	"  'server', (SELECT host(a.addr) FROM rack_interface ri CROSS JOIN unnest(ri.addresses) AS a(addr)"
	"   WHERE ri.rack_id = $1 AND a.addr <<= s.cidr ORDER BY ri.name, a.addr LIMIT 1),"
	"  'router', host(s.gateway),"
	"  'mtu', (SELECT sv.mtu FROM vlan sv WHERE sv.id = s.vlan_id),"
	"  'dns', (SELECT coalesce(json_agg(host(d) ORDER BY o), '[]')"
	"   FROM unnest(s.dns_servers) WITH ORDINALITY AS x(d, o) WHERE family(d) = 4),"
	"  'domain', s.domain,"
	"  'ntp', (SELECT coalesce(json_agg(host(d) ORDER BY o), '[]')"
	"   FROM unnest(s.ntp_servers) WITH ORDINALITY AS x(d, o) WHERE family(d) = 4),"
	"  'lease_time', s.dhcp_lease_time, 'match_client_id', s.dhcp_match_client_id,"
	"  'disabled_arches', to_json(s.disabled_boot_arches),"
	"  'routes', (SELECT coalesce(json_agg(json_build_object('destination', d.cidr::text,"
	"   'gateway', host(rt.gateway)) ORDER BY rt.id), '[]')"
	"   FROM static_route rt JOIN subnet d ON d.id = rt.destination_id"
	"   WHERE rt.source_id = s.id AND family(d.cidr) = 4),"
	"  'ranges', (SELECT coalesce(json_agg(json_build_object('id', g.id, 'first', host(g.start_ip),"
	"   'last', host(g.end_ip), 'options', " DHCP_DB_OPTIONS("n.ip_range_id = g.id") ") ORDER BY g.id), '[]')"
	"   FROM ip_range g WHERE g.subnet_id = s.id AND g.type = 'dynamic'),"
	"  'hosts', (SELECT coalesce(json_agg(json_build_object('mac', i.mac::text, 'address', host(a.ip),"
	"   'hostname', m.hostname::text, 'options', " DHCP_DB_OPTIONS("n.interface_id = i.id") ")"
	"   ORDER BY a.ip, a.id), '[]')"
	"   FROM ip_address a JOIN interface i ON i.id = a.interface_id JOIN machine m ON m.id = i.machine_id"
	"   WHERE a.subnet_id = s.id AND " DHCP_DB_RESERVATION "),"
	"  'options', " DHCP_DB_OPTIONS("n.subnet_id = s.id") ") AS doc"
	" FROM subnet s"
	" WHERE s.managed AND family(s.cidr) = 4"
	"  AND s.vlan_id IN (SELECT id FROM served UNION"
	"   SELECT r.id FROM vlan r WHERE r.relay_vlan_id IN (SELECT id FROM served))"
	"  AND (EXISTS (SELECT 1 FROM ip_range g WHERE g.subnet_id = s.id AND g.type = 'dynamic')"
	"   OR EXISTS (SELECT 1 FROM ip_address a WHERE a.subnet_id = s.id AND " DHCP_DB_RESERVATION ")))"
	"SELECT json_build_object("
	" 'vlans', (SELECT coalesce(json_agg(json_build_object('id', v.id, 'vid', v.vid, 'mtu', v.mtu,"
	"  'name', v.name, 'fabric', v.fabric, 'iface', v.srv->>'iface', 'address', v.srv->>'address',"
	"  'subnets', (SELECT coalesce(json_agg(x.doc ORDER BY x.id), '[]') FROM subs x WHERE x.vlan_id = v.id),"
	"  'relayed', (SELECT coalesce(json_agg(x.doc ORDER BY x.id), '[]') FROM subs x"
	"   JOIN vlan r ON r.id = x.vlan_id WHERE r.relay_vlan_id = v.id AND r.id <> v.id),"
	/* Active discovery: the IPv4 subnets of the VLAN (/16 or narrower)
	 * holding a rack address on the served interface, the ARP sender; an
	 * interval where active_discovery is on, else 0 (on demand only). */
	"  'scans', (SELECT coalesce(json_agg(json_build_object('id', s.id, 'cidr', s.cidr::text,"
	"   'source', x.source, 'interval', CASE WHEN s.active_discovery THEN s.discovery_interval ELSE 0 END,"
	"   'own', (SELECT coalesce(json_agg(DISTINCT host(a.addr) ORDER BY host(a.addr)), '[]')"
	"    FROM rack_interface ri CROSS JOIN unnest(ri.addresses) AS a(addr)"
	"    WHERE ri.rack_id = $1 AND a.addr <<= s.cidr)) ORDER BY s.id), '[]')"
	"   FROM subnet s CROSS JOIN LATERAL (SELECT host(a.addr) AS source"
	"    FROM rack_interface ri CROSS JOIN unnest(ri.addresses) AS a(addr)"
	"    WHERE ri.rack_id = $1 AND ri.name = v.srv->>'iface' AND a.addr <<= s.cidr ORDER BY a.addr LIMIT 1) x"
	"   WHERE s.vlan_id = v.id AND family(s.cidr) = 4 AND masklen(s.cidr) >= 16))"
	"  ORDER BY v.id), '[]') FROM served v),"
	/* HA pairs (docs/dhcp-ha.md): VLANs with DHCP on and both racks set,
	 * this rack one of them; the partner's endpoint as its hello said. */
	" 'ha', (SELECT coalesce(json_agg(json_build_object('vlan_id', v.id, 'vid', v.vid,"
	"  'role', CASE WHEN v.primary_rack_id = $1 THEN 1 ELSE 2 END, 'partner', p.id, 'address', p.ha_endpoint,"
	"  'partner_down_by', CASE WHEN v.ha_partner_down_rack_id IN (v.primary_rack_id, v.secondary_rack_id)"
	"   THEN v.ha_partner_down_rack_id ELSE '' END, 'partner_down_witness', v.ha_partner_down_witness,"
	"  'auto_down', v.dhcp_ha_auto_down)"
	"  ORDER BY v.id), '[]')"
	"  FROM vlan v JOIN rack p ON p.id = CASE WHEN v.primary_rack_id = $1 THEN v.secondary_rack_id"
	"   ELSE v.primary_rack_id END"
	"  WHERE v.dhcp_on AND v.secondary_rack_id IS NOT NULL AND $1 IN (v.primary_rack_id, v.secondary_rack_id)),"
	" 'options', " DHCP_DB_OPTIONS("num_nonnulls(n.subnet_id, n.ip_range_id, n.interface_id) = 0") ")::text";
/* clang-format on */

int dhcp_db_rack_ha_status_set(struct db *db, const char *rack_id, const char *json, char **ret_old)
{
	const char *p[] = {rack_id, json};
	*ret_old = NULL;
	return db_query_value(db,
			      "WITH old AS (SELECT ha_status FROM rack WHERE id = $1 FOR UPDATE), "
			      "upd AS (UPDATE rack SET ha_status = $2::jsonb, ha_status_at = now() WHERE id = $1) "
			      "SELECT coalesce((SELECT ha_status FROM old), '[]')::text",
			      2, p, ret_old);
}

int dhcp_db_rack_ha_status(struct db *db, const char *rack_id, char **ret_json)
{
	const char *p[] = {rack_id};
	return db_query_value(db,
			      "SELECT json_build_object('pairs', ha_status, 'at', ir_ms(ha_status_at))::text FROM rack "
			      "WHERE id = $1",
			      1, p, ret_json);
}

int dhcp_db_partner_down_get(struct db *db, uint64_t vlan_id, const char *rack_id, char **ret_json)
{
	char id[24];
	db_id_text((int64_t)vlan_id, id);
	const char *p[] = {id, rack_id};
	return db_query_value(
	    db,
	    "SELECT json_build_object('id', v.id, 'dhcp_on', v.dhcp_on, 'primary', v.primary_rack_id, "
	    "'secondary', v.secondary_rack_id, 'holder', v.ha_partner_down_rack_id, "
	    "'since', ir_ms(v.ha_partner_down_at), "
	    "'status', (SELECT e FROM rack r CROSS JOIN jsonb_array_elements(r.ha_status) e "
	    " WHERE r.id = $2 AND (e->>'vlan_id')::bigint = v.id LIMIT 1))::text "
	    "FROM vlan v WHERE v.id = $1::bigint",
	    2, p, ret_json);
}

int dhcp_db_partner_down_set(struct db *db, uint64_t vlan_id, const char *rack_id, int64_t *ret_ms)
{
	char id[24], *text = NULL;
	db_id_text((int64_t)vlan_id, id);
	const char *p[] = {id, rack_id};
	int rc = db_query_value(db,
				"UPDATE vlan SET ha_partner_down_rack_id = $2, ha_partner_down_witness = false, "
				"ha_partner_down_at = CASE WHEN $2::text IS NULL THEN NULL ELSE now() END "
				"WHERE id = $1::bigint RETURNING coalesce(ir_ms(ha_partner_down_at), 0)::text",
				2, p, &text);
	*ret_ms = rc >= 0 ? strtoll(text, NULL, 10) : 0;
	free(text);
	return rc;
}

int dhcp_db_partner_down_clear_normal(struct db *db, const char *rack_id, const char *json, char **ret_json)
{
	const char *p[] = {rack_id, json};
	return db_query_value(db,
			      "WITH c AS (UPDATE vlan SET ha_partner_down_rack_id = NULL, ha_partner_down_at = NULL, "
			      " ha_partner_down_witness = false "
			      " WHERE ha_partner_down_rack_id = $1 AND id IN (SELECT (e->>'vlan_id')::bigint "
			      "  FROM jsonb_array_elements($2::jsonb) e WHERE e->>'state' = 'normal'"
			      "  AND (ha_partner_down_witness"
			      "   OR (e->>'state_since_unix_ms')::bigint > ir_ms(ha_partner_down_at))) RETURNING id) "
			      "SELECT coalesce(json_agg(id ORDER BY id), '[]')::text FROM c",
			      2, p, ret_json);
}

int dhcp_db_partner_down_witness(struct db *db, long auto_down_s, char **ret_json)
{
	char wait[24];
	snprintf(wait, sizeof(wait), "%ld", auto_down_s);
	const char *p[] = {wait};
	/* The partner's rack row is locked (FOR UPDATE OF x) and rechecked:
	 * a session start touches last_seen before it reads the partner-downs
	 * held against the rack (sessions.c), so the grant and the rack's
	 * welcome are ordered, across regions too. */
	return db_query_value(
	    db,
	    "WITH cand AS (SELECT v.id, s.id AS holder, x.id AS partner, coalesce(v.dhcp_ha_auto_down, $1::int) AS "
	    "wait,"
	    "  coalesce(extract(epoch FROM now() - x.last_seen)::bigint, -1) AS unheard"
	    " FROM vlan v JOIN rack s ON s.id IN (v.primary_rack_id, v.secondary_rack_id)"
	    " JOIN rack x ON x.id IN (v.primary_rack_id, v.secondary_rack_id) AND x.id <> s.id"
	    " WHERE v.dhcp_on AND v.secondary_rack_id IS NOT NULL AND v.ha_partner_down_rack_id IS NULL"
	    "  AND coalesce(v.dhcp_ha_auto_down, $1::int) > 0 AND s.connected AND NOT x.connected"
	    "  AND (x.last_seen IS NULL"
	    "   OR x.last_seen < now() - make_interval(secs => coalesce(v.dhcp_ha_auto_down, $1::int)))"
	    "  AND EXISTS (SELECT 1 FROM jsonb_array_elements(s.ha_status) e WHERE (e->>'vlan_id')::bigint = v.id"
	    "   AND NOT (e->>'link_up')::boolean AND e->>'state' = 'communications-interrupted')"
	    " FOR UPDATE OF v, x),"
	    " g AS (UPDATE vlan SET ha_partner_down_rack_id = cand.holder, ha_partner_down_at = now(),"
	    "  ha_partner_down_witness = true FROM cand WHERE vlan.id = cand.id"
	    "  RETURNING vlan.id, cand.holder, cand.partner, format('partner-down granted by the region as witness:"
	    " rack %s %s (dhcp_ha_auto_down %ss); rack %s takes over its share after the MCLT', cand.partner,"
	    "   CASE WHEN cand.unheard < 0 THEN 'has never been heard from'"
	    "   ELSE format('has not been heard from for %ss', cand.unheard) END, cand.wait, cand.holder) AS said),"
	    " ev AS (INSERT INTO dhcp_ha_event (vlan_id, kind, rack_id, partner, state, description)"
	    "  SELECT id, 'partner-down', holder, partner, 'partner-down', said FROM g)"
	    " SELECT coalesce(json_agg(json_build_object('vlan', id, 'said', said) ORDER BY id), '[]')::text FROM g",
	    1, p, ret_json);
}

int dhcp_db_ha_events_add(struct db *db, const char *json)
{
	const char *p[] = {json};
	long n = db_exec_count(
	    db,
	    "INSERT INTO dhcp_ha_event (vlan_id, kind, rack_id, partner, state, description) "
	    "SELECT (e->>'vlan')::bigint, e->>'kind', coalesce(e->>'rack', ''), coalesce(e->>'partner', ''), "
	    "coalesce(e->>'state', ''), e->>'description' FROM jsonb_array_elements($1::jsonb) e "
	    "WHERE EXISTS (SELECT 1 FROM vlan v WHERE v.id = (e->>'vlan')::bigint)",
	    1, p, NULL);
	return n < 0 ? (int)n : 0;
}

int dhcp_db_ha_conflicts_add(struct db *db, const char *rack_id, const char *json, char **ret_json)
{
	const char *p[] = {rack_id, json};
	return db_query_value(
	    db,
	    "WITH c AS (INSERT INTO dhcp_ha_event (vlan_id, kind, rack_id, partner, state, ip, kept_client, "
	    " lost_client, rack_at, description) "
	    " SELECT (e->>'vlan_id')::bigint, 'conflict', $1::text, coalesce(e->>'partner', ''), coalesce(e->>'state', "
	    "''),"
	    "  (c->>'ip')::inet, c->>'kept', c->>'lost', to_timestamp((c->>'at')::bigint / 1000.0),"
	    "  format('address %s was bound to two clients across the pair (%s): %s kept, %s lost; found by rack %s',"
	    "   c->>'ip', CASE WHEN c->>'kind' = '2' THEN 'one after the other, overlapping' ELSE 'both at once' END,"
	    "   c->>'kept', c->>'lost', $1::text)"
	    " FROM jsonb_array_elements($2::jsonb) e CROSS JOIN jsonb_array_elements(e->'recent_conflicts') c"
	    " WHERE EXISTS (SELECT 1 FROM vlan v WHERE v.id = (e->>'vlan_id')::bigint)"
	    " ON CONFLICT (vlan_id, rack_id, ip, rack_at) WHERE kind = 'conflict' DO NOTHING"
	    " RETURNING vlan_id, description) "
	    "SELECT coalesce(json_agg(json_build_object('vlan', vlan_id, 'description', description)), '[]')::text "
	    "FROM c",
	    2, p, ret_json);
}

int dhcp_db_ha_events_json(struct db *db, uint64_t vlan_id, int64_t after, long limit, char **ret)
{
	char ids[24], afters[24], limits[24];
	const char *p[] = {ids, afters, limits};
	db_id_text((int64_t)vlan_id, ids);
	db_id_text(after, afters);
	db_id_text(limit, limits);
	return db_query_value(
	    db,
	    "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM vlan WHERE id = $1::bigint) THEN NULL ELSE "
	    "json_build_object('events', coalesce((SELECT json_agg(json_build_object('id', e.id, "
	    "'at', ir_rfc3339(e.at), 'kind', e.kind, 'rack', e.rack_id, 'partner', e.partner, 'state', e.state, "
	    "'ip', host(e.ip), 'kept_client', e.kept_client, 'lost_client', e.lost_client, "
	    "'found_at', ir_rfc3339(e.rack_at), 'description', e.description) ORDER BY e.id) "
	    "FROM (SELECT * FROM dhcp_ha_event WHERE vlan_id = $1::bigint AND id > $2::bigint "
	    "ORDER BY id LIMIT $3::bigint) e), '[]'::json))::text END",
	    3, p, ret);
}

int dhcp_db_rack_touch(struct db *db, const char *rack_id)
{
	const char *p[] = {rack_id};
	long n = db_exec_count(db, "UPDATE rack SET last_seen = now() WHERE id = $1", 1, p, NULL);
	return n < 0 ? (int)n : 0;
}

int dhcp_db_partner_down_against(struct db *db, const char *rack_id, char **ret_json)
{
	const char *p[] = {rack_id};
	return db_query_value(db,
			      "SELECT coalesce(json_agg(id ORDER BY id), '[]')::text FROM vlan "
			      "WHERE ha_partner_down_rack_id IS NOT NULL AND ha_partner_down_rack_id <> $1 "
			      "AND $1 IN (primary_rack_id, secondary_rack_id) "
			      "AND ha_partner_down_rack_id IN (primary_rack_id, secondary_rack_id)",
			      1, p, ret_json);
}

int dhcp_db_rack_ha_endpoint_set(struct db *db, const char *rack_id, const char *endpoint)
{
	const char *p[] = {rack_id, endpoint};
	long n = db_exec_count(db, "UPDATE rack SET ha_endpoint = $2 WHERE id = $1 AND ha_endpoint <> $2", 2, p, NULL);
	return n < 0 ? (int)n : n > 0;
}

int dhcp_db_rack_model(struct db *db, const char *rack_id, char **ret_json)
{
	const char *p[] = {rack_id};
	return db_query_value(db, dhcp_db_model_sql, 1, p, ret_json);
}

int dhcp_db_conflicts_expire(struct db *db, long *ret_n)
{
	PGresult *res;
	int r = db_exec(db, "DELETE FROM dhcp_conflict WHERE until <= now()", 0, NULL, &res);
	if (r < 0)
		return r;
	*ret_n = db_affected(res);
	PQclear(res);
	return 0;
}

/* ---- lease reports ---- */

/* Who holds ip, when it is not a DHCP lease ("" if nobody or a lease). */
static int dhcp_db_holder(struct db *db, const char *ip, char *buf, size_t len)
{
	const char *p[] = {ip};
	char *v = NULL;
	buf[0] = '\0';
	int r = db_query_value(db,
			       "SELECT coalesce(ip_holder(id), owner_kind) FROM ip_address "
			       "WHERE ip = $1::inet AND owner_kind <> 'dhcp_lease'",
			       1, p, &v);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	snprintf(buf, len, "%s", v);
	free(v);
	return 1;
}

/* The address of a lease goes on a machine's DHCP link (row link_id):
 * a lease row holding it gives way, anything else is a conflict. */
static int dhcp_db_link_set(struct db *db, const char *link_id, struct dhcp_db_event *e)
{
	const char *p[] = {link_id, e->ip};
	PGresult *res;
	int r = db_exec(db,
			"SELECT id::text = $1, owner_kind = 'dhcp_lease', coalesce(ip_holder(id), owner_kind) "
			"FROM ip_address WHERE ip = $2::inet",
			2, p, &res);
	if (r < 0)
		return r;
	bool held = PQntuples(res) == 1, mine = held && PQgetvalue(res, 0, 0)[0] == 't',
	     lease = held && PQgetvalue(res, 0, 1)[0] == 't';
	if (held && !mine && !lease) {
		snprintf(e->holder, sizeof(e->holder), "%s", PQgetvalue(res, 0, 2));
		PQclear(res);
		return -EEXIST;
	}
	PQclear(res);
	if (mine)
		return 0;
	if (lease)
		r = db_exec(db, "DELETE FROM ip_address WHERE ip = $1::inet AND owner_kind = 'dhcp_lease'", 1, &e->ip,
			    NULL);
	if (r == 0)
		r = db_exec(db, "UPDATE ip_address SET ip = $2::inet WHERE id = $1::bigint", 2, p, NULL);
	return r;
}

static int dhcp_db_granted(struct db *db, const char *rack_id, struct dhcp_db_event *e)
{
	char subnet[24], expiry[24];
	const char *p[] = {rack_id, e->ip, e->mac, e->hostname, subnet, e->expiry_unix ? expiry : NULL};
	PGresult *res;
	char *v = NULL;

	snprintf(subnet, sizeof(subnet), "%" PRIu64, e->subnet_id);
	snprintf(expiry, sizeof(expiry), "%" PRId64, e->expiry_unix);
	int r = db_query_value(db, "SELECT 1 FROM subnet WHERE id = $1::bigint AND $2::inet <<= cidr", 2,
			       (const char *[]){subnet, e->ip}, &v);
	free(v);
	v = NULL;
	if (r < 0)
		return r;
	/* A known machine interface with a DHCP link on this subnet: the
	 * address goes on the link. */
	if (e->mac[0]) {
		r = db_query_value(db,
				   "SELECT a.id FROM ip_address a JOIN interface i ON i.id = a.interface_id "
				   "WHERE i.mac = $1::macaddr AND a.subnet_id = $2::bigint AND a.mode = 'dhcp' "
				   "AND a.owner_kind = 'machine_interface' ORDER BY a.id LIMIT 1",
				   2, (const char *[]){e->mac, subnet}, &v);
		if (r < 0 && r != -ENOENT)
			return r;
	}
	if (v) {
		r = dhcp_db_link_set(db, v, e);
		free(v);
		return r;
	}
	/* One lease per client and subnet: a new address replaces the old.
	 * Where the subnet matches client ids, one MAC may be several
	 * clients (the rack keeps their leases apart). */
	r = db_exec(db,
		    "DELETE FROM ip_address WHERE owner_kind = 'dhcp_lease' AND lease_mac = $1::macaddr "
		    "AND subnet_id = $2::bigint AND ip <> $3::inet "
		    "AND NOT (SELECT dhcp_match_client_id FROM subnet WHERE id = $2::bigint)",
		    3, (const char *[]){e->mac, subnet, e->ip}, NULL);
	if (r < 0)
		return r;
	r = db_exec(db,
		    "INSERT INTO ip_address (ip, subnet_id, mode, owner_kind, lease_mac, lease_rack_id, lease_expiry, "
		    "hostname) VALUES ($2::inet, $5::bigint, 'dhcp', 'dhcp_lease', $3::macaddr, $1, "
		    "to_timestamp($6::bigint), $4) "
		    "ON CONFLICT (ip) DO UPDATE SET lease_mac = EXCLUDED.lease_mac, "
		    "lease_rack_id = EXCLUDED.lease_rack_id, lease_expiry = EXCLUDED.lease_expiry, "
		    "hostname = EXCLUDED.hostname "
		    "WHERE ip_address.owner_kind = 'dhcp_lease' AND ip_address.subnet_id = EXCLUDED.subnet_id "
		    "RETURNING id",
		    6, p, &res);
	if (r < 0)
		return r;
	int rows = PQntuples(res);
	PQclear(res);
	if (rows == 1)
		return 0;
	r = dhcp_db_holder(db, e->ip, e->holder, sizeof(e->holder));
	return r < 0 ? r : -EEXIST;
}

static int dhcp_db_released(struct db *db, const char *rack_id, struct dhcp_db_event *e)
{
	const char *p[] = {rack_id, e->ip, e->mac[0] ? e->mac : NULL};
	/* Without a MAC: the lease this rack holds on the address. */
	int r = db_exec(db,
			"DELETE FROM ip_address WHERE owner_kind = 'dhcp_lease' AND ip = $2::inet "
			"AND (($3::macaddr IS NULL AND lease_rack_id = $1) OR lease_mac = $3::macaddr)",
			3, p, NULL);
	if (r == 0 && e->mac[0])
		r = db_exec(db,
			    "UPDATE ip_address a SET ip = NULL FROM interface i WHERE i.id = a.interface_id "
			    "AND i.mac = $2::macaddr AND a.mode = 'dhcp' AND a.owner_kind = 'machine_interface' "
			    "AND a.ip = $1::inet",
			    2, (const char *[]){e->ip, e->mac}, NULL);
	/* EXPIRED also ends a quarantine. */
	if (r == 0 && e->kind == DHCP_DB_EXPIRED)
		r = db_exec(db, "DELETE FROM dhcp_conflict WHERE ip = $2::inet AND rack_id = $1", 2, p, NULL);
	return r;
}

static int dhcp_db_conflict(struct db *db, const char *rack_id, struct dhcp_db_event *e)
{
	char subnet[24], expiry[24];
	const char *p[] = {rack_id,   e->ip,  e->mac[0] ? e->mac : NULL,
			   e->reason, subnet, e->expiry_unix ? expiry : NULL};

	snprintf(subnet, sizeof(subnet), "%" PRIu64, e->subnet_id);
	snprintf(expiry, sizeof(expiry), "%" PRId64, e->expiry_unix);
	/* An unknown subnet is not worth losing the quarantine over. */
	return db_exec(db,
		       "INSERT INTO dhcp_conflict (ip, rack_id, subnet_id, mac, reason, until) "
		       "VALUES ($2::inet, $1, (SELECT id FROM subnet WHERE id = $5::bigint), $3::macaddr, $4, "
		       "coalesce(to_timestamp($6::bigint), now() + interval '1 hour')) "
		       "ON CONFLICT (ip, rack_id) DO UPDATE SET subnet_id = EXCLUDED.subnet_id, mac = EXCLUDED.mac, "
		       "reason = EXCLUDED.reason, until = EXCLUDED.until, last_seen = now()",
		       6, p, NULL);
}

static int dhcp_db_event_apply(struct db *db, const char *rack_id, struct dhcp_db_event *e)
{
	switch (e->kind) {
	case DHCP_DB_GRANTED:
		return dhcp_db_granted(db, rack_id, e);
	case DHCP_DB_RELEASED:
	case DHCP_DB_EXPIRED:
		return dhcp_db_released(db, rack_id, e);
	case DHCP_DB_CONFLICT:
		return dhcp_db_conflict(db, rack_id, e);
	}
	return -EINVAL;
}

static int dhcp_db_reconcile(struct db *db, const char *rack_id, const char *keep_leases, const char *keep_conflicts,
			     long *ret_dropped)
{
	const char *p[] = {rack_id, keep_leases};
	PGresult *res;
	int r = db_exec(db,
			"DELETE FROM ip_address WHERE owner_kind = 'dhcp_lease' AND lease_rack_id = $1 "
			"AND NOT ip = ANY ($2::inet[])",
			2, p, &res);
	if (r < 0)
		return r;
	*ret_dropped += db_affected(res);
	PQclear(res);
	r = db_exec(db, "DELETE FROM dhcp_conflict WHERE rack_id = $1 AND NOT ip = ANY ($2::inet[])", 2,
		    (const char *[]){rack_id, keep_conflicts}, &res);
	if (r < 0)
		return r;
	*ret_dropped += db_affected(res);
	PQclear(res);
	return 0;
}

/* ---- the set-based path ----
 *
 * A rack reports thousands of leases at once (the full report after every
 * reconnection, or a busy second): one round trip per statement per event
 * would hold the region's loop for seconds. A batch in which every address
 * appears once, every client once per subnet, and no lease lands on a
 * machine interface's DHCP link is applied in six statements over the whole
 * batch, given as one JSON array. Anything else takes the per-event path
 * below, which handles every case. */

#define DHCP_DB_EV                                                                                                     \
	"json_to_recordset($2::json) AS e(i int, kind int, ip inet, mac macaddr, subnet_id bigint, "                   \
	"expiry bigint, hostname text, reason text)"

static int dhcp_db_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every address once, and every (client, subnet) of a grant once. */
static bool dhcp_db_bulk_eligible(const struct dhcp_db_event *ev, size_t n)
{
	const char **keys = xreallocarray(NULL, n, sizeof(*keys));
	char(*grants)[64] = xreallocarray(NULL, n, sizeof(*grants));
	const char **gkeys = xreallocarray(NULL, n, sizeof(*gkeys));
	bool ok = true;
	size_t g = 0;

	for (size_t i = 0; ok && i < n; i++) {
		keys[i] = ev[i].ip;
		if (ev[i].kind == DHCP_DB_GRANTED) {
			snprintf(grants[g], sizeof(grants[g]), "%s/%" PRIu64, ev[i].mac, ev[i].subnet_id);
			gkeys[g] = grants[g];
			g++;
		}
	}
	if (ok) {
		qsort(keys, n, sizeof(*keys), dhcp_db_cmp_str);
		qsort(gkeys, g, sizeof(*gkeys), dhcp_db_cmp_str);
		for (size_t i = 1; ok && i < n; i++)
			ok = strcmp(keys[i - 1], keys[i]) != 0;
		for (size_t i = 1; ok && i < g; i++)
			ok = strcmp(gkeys[i - 1], gkeys[i]) != 0;
	}
	free(keys);
	free(grants);
	free(gkeys);
	return ok;
}

static char *dhcp_db_bulk_json(const struct dhcp_db_event *ev, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < n; i++) {
		const struct dhcp_db_event *e = &ev[i];
		json_t *o = json_pack("{s:I, s:i, s:s, s:s?, s:I, s:I, s:s, s:s?}", "i", (json_int_t)i, "kind",
				      (int)e->kind, "ip", e->ip, "mac", e->mac && e->mac[0] ? e->mac : NULL,
				      "subnet_id", (json_int_t)e->subnet_id, "expiry", (json_int_t)e->expiry_unix,
				      "hostname", e->hostname ? e->hostname : "", "reason", e->reason);
		if (!o || json_array_append_new(arr, o) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	char *text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
	json_decref(arr);
	return text;
}

/* 1 applied (ev[].result set), 0 not for this path (nothing changed),
 * -errno. Runs inside the caller's transaction. */
static int dhcp_db_bulk(struct db *db, const char *rack_id, struct dhcp_db_event *ev, size_t n)
{
	if (!dhcp_db_bulk_eligible(ev, n))
		return 0;
	char *json = dhcp_db_bulk_json(ev, n);
	if (!json)
		return -ENOMEM;
	const char *p[] = {rack_id, json};
	PGresult *res = NULL;
	char *v = NULL;
	/* Leases that go on a machine interface's DHCP link: per event. */
	int r = db_query_value(db,
			       "SELECT count(*) FROM " DHCP_DB_EV " JOIN interface i ON i.mac = e.mac "
			       "JOIN ip_address a ON a.interface_id = i.id AND a.subnet_id = e.subnet_id "
			       "AND a.mode = 'dhcp' AND a.owner_kind = 'machine_interface' WHERE e.kind IN (1, 2, 3) "
			       "AND $1::text IS NOT NULL",
			       2, p, &v);
	bool links = r == 0 && strcmp(v, "0") != 0;
	free(v);
	v = NULL;
	if (r < 0 || links) {
		free(json);
		return r < 0 ? r : 0;
	}
	static const char *const steps[] = {
	    /* RELEASED / EXPIRED */
	    "DELETE FROM ip_address a USING " DHCP_DB_EV " WHERE e.kind IN (2, 3) AND a.owner_kind = 'dhcp_lease' "
	    "AND a.ip = e.ip AND ((e.mac IS NULL AND a.lease_rack_id = $1) OR a.lease_mac = e.mac)",
	    "DELETE FROM dhcp_conflict c USING " DHCP_DB_EV " WHERE e.kind = 3 AND c.ip = e.ip AND c.rack_id = $1",
	    /* GRANTED: one lease per client and subnet */
	    "DELETE FROM ip_address a USING " DHCP_DB_EV " WHERE e.kind = 1 AND a.owner_kind = 'dhcp_lease' "
	    "AND a.lease_mac = e.mac AND a.subnet_id = e.subnet_id AND a.ip <> e.ip AND $1::text IS NOT NULL "
	    "AND NOT (SELECT dhcp_match_client_id FROM subnet WHERE id = e.subnet_id)",
	    /* CONFLICT */
	    "INSERT INTO dhcp_conflict (ip, rack_id, subnet_id, mac, reason, until) "
	    "SELECT e.ip, $1, s.id, e.mac, e.reason, coalesce(to_timestamp(nullif(e.expiry, 0)), "
	    "now() + interval '1 hour') FROM " DHCP_DB_EV " LEFT JOIN subnet s ON s.id = e.subnet_id "
	    "WHERE e.kind = 4 "
	    "ON CONFLICT (ip, rack_id) DO UPDATE SET subnet_id = EXCLUDED.subnet_id, mac = EXCLUDED.mac, "
	    "reason = EXCLUDED.reason, until = EXCLUDED.until, last_seen = now()",
	};
	for (size_t k = 0; r == 0 && k < sizeof(steps) / sizeof(steps[0]); k++)
		r = db_exec(db, steps[k], 2, p, NULL);
	if (r == 0)
		r = db_exec(
		    db,
		    "INSERT INTO ip_address (ip, subnet_id, mode, owner_kind, lease_mac, lease_rack_id, "
		    "lease_expiry, hostname) "
		    "SELECT e.ip, e.subnet_id, 'dhcp', 'dhcp_lease', e.mac, $1, to_timestamp(nullif(e.expiry, 0)), "
		    "coalesce(e.hostname, '') FROM " DHCP_DB_EV " JOIN subnet s ON s.id = e.subnet_id "
		    "AND e.ip <<= s.cidr WHERE e.kind = 1 "
		    "ON CONFLICT (ip) DO UPDATE SET lease_mac = EXCLUDED.lease_mac, "
		    "lease_rack_id = EXCLUDED.lease_rack_id, lease_expiry = EXCLUDED.lease_expiry, "
		    "hostname = EXCLUDED.hostname "
		    "WHERE ip_address.owner_kind = 'dhcp_lease' AND ip_address.subnet_id = EXCLUDED.subnet_id "
		    "RETURNING host(ip)",
		    2, p, &res);
	free(json);
	if (r < 0)
		return r;
	/* Grants the INSERT did not take: an unknown subnet, or an address
	 * someone else holds. Rare; asked one by one for the message. */
	size_t rows = (size_t)PQntuples(res);
	const char **done = xreallocarray(NULL, rows, sizeof(*done));
	for (size_t i = 0; i < rows; i++)
		done[i] = PQgetvalue(res, (int)i, 0);
	qsort(done, rows, sizeof(*done), dhcp_db_cmp_str);
	for (size_t i = 0; r == 0 && i < n; i++) {
		ev[i].holder[0] = '\0';
		ev[i].result = 0;
		if (ev[i].kind != DHCP_DB_GRANTED || bsearch(&ev[i].ip, done, rows, sizeof(*done), dhcp_db_cmp_str))
			continue;
		char subnet[24];
		snprintf(subnet, sizeof(subnet), "%" PRIu64, ev[i].subnet_id);
		r = db_query_value(db, "SELECT 1 FROM subnet WHERE id = $1::bigint AND $2::inet <<= cidr", 2,
				   (const char *[]){subnet, ev[i].ip}, &v);
		free(v);
		v = NULL;
		if (r == -ENOENT) {
			ev[i].result = -ENOENT;
			r = 0;
		} else if (r == 0) {
			r = dhcp_db_holder(db, ev[i].ip, ev[i].holder, sizeof(ev[i].holder));
			ev[i].result = -EEXIST;
			r = r < 0 ? r : 0;
		}
	}
	free(done);
	PQclear(res);
	return r < 0 ? r : 1;
}

/* What one rack may keep quarantined per subnet: past it the addresses it
 * reported longest ago go (a rack cannot fill the table). */
#define DHCP_DB_CONFLICTS_PER_SUBNET 1024

static int dhcp_db_conflicts_trim(struct db *db, const char *rack_id, const struct dhcp_db_event *ev, size_t n)
{
	char cap[16];
	size_t i = 0;
	while (i < n && ev[i].kind != DHCP_DB_CONFLICT)
		i++;
	if (i == n)
		return 0;
	snprintf(cap, sizeof(cap), "%d", DHCP_DB_CONFLICTS_PER_SUBNET);
	return db_exec(db,
		       "DELETE FROM dhcp_conflict c USING (SELECT ip, row_number() OVER (PARTITION BY subnet_id "
		       "ORDER BY last_seen DESC, until DESC, ip) AS n FROM dhcp_conflict WHERE rack_id = $1) o "
		       "WHERE c.rack_id = $1 AND c.ip = o.ip AND o.n > $2::int",
		       2, (const char *[]){rack_id, cap}, NULL);
}

int dhcp_db_leases_apply(struct db *db, const char *rack_id, struct dhcp_db_event *ev, size_t n,
			 const char *keep_leases, const char *keep_conflicts, long *ret_dropped)
{
	long dropped = 0;
	int r = db_begin(db);
	int bulk = r == 0 ? dhcp_db_bulk(db, rack_id, ev, n) : 0;
	if (bulk < 0) {
		/* A statement failed: the transaction is gone. The per-event
		 * path says which event it was (or fails the same way). */
		db_rollback(db, bulk);
		r = db_begin(db);
		bulk = 0;
	}
	for (size_t i = 0; r == 0 && !bulk && i < n; i++) {
		ev[i].holder[0] = '\0';
		r = db_exec(db, "SAVEPOINT dhcp_event", 0, NULL, NULL);
		if (r < 0)
			break;
		ev[i].result = dhcp_db_event_apply(db, rack_id, &ev[i]);
		if (ev[i].result == -EIO) {
			r = -EIO;
			break;
		}
		r = db_exec(db, ev[i].result < 0 ? "ROLLBACK TO SAVEPOINT dhcp_event" : "RELEASE SAVEPOINT dhcp_event",
			    0, NULL, NULL);
	}
	if (r == 0)
		r = dhcp_db_conflicts_trim(db, rack_id, ev, n);
	if (r == 0 && keep_leases && keep_conflicts)
		r = dhcp_db_reconcile(db, rack_id, keep_leases, keep_conflicts, &dropped);
	if (r == 0)
		r = db_commit(db);
	if (r < 0)
		return db_rollback(db, r);
	if (ret_dropped)
		*ret_dropped = dropped;
	return 0;
}

/* ---- external DHCP servers ---- */

int dhcp_db_external_set(struct db *db, uint64_t vlan_id, const char *rack_id, const char *server,
			 struct dhcp_db_external *ret)
{
	char id[24];
	const char *p[] = {id, rack_id, server};
	PGresult *res;

	memset(ret, 0, sizeof(*ret));
	snprintf(id, sizeof(id), "%" PRIu64, vlan_id);
	int r = db_begin(db);
	if (r == 0)
		r = db_exec(db,
			    "SELECT coalesce(host(v.external_dhcp), ''), "
			    "format('VLAN %s of %s', v.vid, f.name) "
			    "FROM vlan v JOIN fabric f ON f.id = v.fabric_id WHERE v.id = $1::bigint FOR UPDATE OF v",
			    1, p, &res);
	if (r < 0)
		return db_rollback(db, r);
	if (PQntuples(res) != 1) {
		PQclear(res);
		return db_rollback(db, -ENOENT);
	}
	snprintf(ret->previous, sizeof(ret->previous), "%s", PQgetvalue(res, 0, 0));
	snprintf(ret->label, sizeof(ret->label), "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	if (server) {
		ret->changed = strcmp(ret->previous, server) != 0;
		r = db_exec(db,
			    "UPDATE vlan SET external_dhcp = $3::inet, external_dhcp_rack_id = $2, "
			    "external_dhcp_seen = now() WHERE id = $1::bigint",
			    3, p, NULL);
	} else {
		r = db_exec(db,
			    "UPDATE vlan SET external_dhcp = NULL WHERE id = $1::bigint AND external_dhcp IS NOT NULL "
			    "AND external_dhcp_rack_id = $2",
			    2, p, &res);
		if (r == 0) {
			ret->changed = db_affected(res) > 0;
			PQclear(res);
		}
	}
	if (r == 0)
		r = db_commit(db);
	return r < 0 ? db_rollback(db, r) : 0;
}
