/* The SQL of discovery; see discovery_db.h. */
#include "region/db/discovery_db.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/db/db_internal.h"

/* The rack's times, but never in the future (a rack's clock may be off)
 * and first never after last; 0 = now. One sighting again counts and
 * moves last_seen, as the neighbours API does. An observed-only sighting
 * (vlan 0) is kept only inside the networks of the rack's own addresses
 * on that interface; its VLAN is then the subnet's. */
static const char sql_sighting[] =
    "INSERT INTO neighbour (ip, mac, vlan_id, rack_id, interface, first_seen, last_seen, hostname) "
    "SELECT $1::inet, $2::macaddr, "
    "coalesce((SELECT id FROM vlan WHERE id = nullif($3::bigint, 0)), "
    "(SELECT s.vlan_id FROM subnet s WHERE $1::inet <<= s.cidr ORDER BY masklen(s.cidr) DESC LIMIT 1)), "
    "$4::text, $5::text, least(t.f, t.l), t.l, $8::text "
    "FROM (SELECT coalesce(to_timestamp(nullif($6::bigint, 0) / 1000.0), now()) AS f, "
    "least(coalesce(to_timestamp(nullif($7::bigint, 0) / 1000.0), now()), now()) AS l) t "
    "WHERE $3::bigint <> 0 OR EXISTS (SELECT 1 FROM rack_interface ri, unnest(ri.addresses) x "
    "WHERE ri.rack_id = $4::text AND ri.name = $5::text AND family(x) = family($1::inet) AND $1::inet <<= network(x)) "
    "ON CONFLICT ON CONSTRAINT neighbour_key DO UPDATE SET count = neighbour.count + 1, "
    "first_seen = least(neighbour.first_seen, EXCLUDED.first_seen), "
    "last_seen = greatest(neighbour.last_seen, EXCLUDED.last_seen), "
    "vlan_id = coalesce(EXCLUDED.vlan_id, neighbour.vlan_id), "
    "hostname = CASE WHEN EXCLUDED.hostname <> '' THEN EXCLUDED.hostname ELSE neighbour.hostname END "
    "RETURNING id";

/* A name heard for an address without its MAC: the rack's own rows of it. */
static const char sql_named[] = "UPDATE neighbour SET hostname = $3::text WHERE ip = $1::inet AND rack_id = $2::text "
				"AND $3::text <> '' AND hostname <> $3::text";

static const char sql_conflict[] =
    "INSERT INTO discovery_event (kind, ip, mac, old_mac, rack_id, interface, subnet_id, description) "
    "SELECT 'conflict', $1::inet, $2::macaddr, $3::macaddr, $4::text, $5::text, s.id, "
    "format('possible address conflict: %s is now at %s, was at %s (seen by rack %s on %s; subnet %s)', "
    "host($1::inet), $2::macaddr, $3::macaddr, coalesce((SELECT hostname FROM rack WHERE id = $4::text), $4::text), "
    "$5::text, s.cidr) "
    "FROM subnet s WHERE $1::inet <<= s.cidr AND s.managed "
    "ORDER BY masklen(s.cidr) DESC LIMIT 1 RETURNING description";

static int disc_db_one(struct db *db, const char *rack_id, struct disc_db_sighting *s)
{
	char vlan[24], first[24], last[24];
	PGresult *res = NULL;

	if (!s->mac[0]) {
		const char *p[] = {s->ip, rack_id, s->hostname};
		return db_exec(db, sql_named, 3, p, NULL);
	}
	snprintf(vlan, sizeof(vlan), "%" PRIu64, s->vlan_id);
	snprintf(first, sizeof(first), "%" PRId64, s->first_ms);
	snprintf(last, sizeof(last), "%" PRId64, s->last_ms);
	const char *p[] = {s->ip, s->mac, vlan, rack_id, s->interface, first, last, s->hostname};
	int r = db_exec(db, sql_sighting, 8, p, &res);
	if (r < 0)
		return r;
	int stored = PQntuples(res);
	PQclear(res);
	if (!stored) {
		s->result = -ENOENT;
		return 0;
	}
	if (s->kind != 2 || !s->old_mac[0])
		return 0;
	const char *q[] = {s->ip, s->mac, s->old_mac, rack_id, s->interface};
	r = db_exec(db, sql_conflict, 5, q, &res);
	if (r < 0)
		return r;
	if (PQntuples(res) == 1) {
		s->conflict = true;
		snprintf(s->description, sizeof(s->description), "%s", PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return 0;
}

int disc_db_apply(struct db *db, const char *rack_id, struct disc_db_sighting *s, size_t n)
{
	int r = db_begin(db);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		s[i].result = 0;
		s[i].conflict = false;
		s[i].description[0] = '\0';
		r = disc_db_one(db, rack_id, &s[i]);
		if (r < 0)
			return db_rollback(db, r);
	}
	return db_commit(db);
}

static void copy_col(char *dst, size_t len, const PGresult *res, int row, int col)
{
	snprintf(dst, len, "%s", PQgetvalue(res, row, col));
}

static int64_t int_col(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

int disc_db_list(struct db *db, bool unknown_only, long limit, long offset, struct disc_row **ret, size_t *ret_n,
		 int64_t *ret_total)
{
	char l[24], o[24];
	PGresult *res;
	snprintf(l, sizeof(l), "%ld", limit);
	snprintf(o, sizeof(o), "%ld", offset);
	const char *p[] = {l, o, unknown_only ? "t" : "f"};
	*ret = NULL;
	*ret_n = 0;
	*ret_total = 0;
	int r = db_exec(db,
			"SELECT host(ip), mac::text, hostname, vlan_id, subnet_id, coalesce(subnet_cidr::text, ''), "
			"coalesce(rack_id, ''), interface, ir_ms(first_seen), ir_ms(last_seen), count, known, "
			"known_as, count(*) OVER (), hostname_source FROM discovery WHERE NOT ($3::boolean AND known) "
			"ORDER BY ip, mac LIMIT $1::bigint OFFSET $2::bigint",
			3, p, &res);
	if (r < 0)
		return r;
	size_t n = (size_t)PQntuples(res);
	struct disc_row *rows = xcalloc(n ? n : 1, sizeof(*rows));
	for (size_t i = 0; i < n; i++) {
		struct disc_row *d = &rows[i];
		int k = (int)i;
		copy_col(d->ip, sizeof(d->ip), res, k, 0);
		copy_col(d->mac, sizeof(d->mac), res, k, 1);
		copy_col(d->hostname, sizeof(d->hostname), res, k, 2);
		d->vlan_id = int_col(res, k, 3);
		d->subnet_id = int_col(res, k, 4);
		copy_col(d->subnet_cidr, sizeof(d->subnet_cidr), res, k, 5);
		copy_col(d->rack, sizeof(d->rack), res, k, 6);
		copy_col(d->interface, sizeof(d->interface), res, k, 7);
		d->first_seen_ms = int_col(res, k, 8);
		d->last_seen_ms = int_col(res, k, 9);
		d->count = int_col(res, k, 10);
		d->known = strcmp(PQgetvalue(res, k, 11), "t") == 0;
		copy_col(d->known_as, sizeof(d->known_as), res, k, 12);
		*ret_total = int_col(res, k, 13);
		copy_col(d->hostname_source, sizeof(d->hostname_source), res, k, 14);
	}
	PQclear(res);
	*ret = rows;
	*ret_n = n;
	return 0;
}

int disc_db_clear(struct db *db, long *ret_n)
{
	long n = db_exec_count(db, "DELETE FROM neighbour", 0, NULL, NULL);
	if (n < 0)
		return (int)n;
	*ret_n = n;
	return 0;
}

static int claim_fail(struct db *db, int r, char *why, size_t why_len, const char *what)
{
	snprintf(why, why_len, "%s: %s", what, db->last_message[0] ? db->last_message : db_last_error(db));
	return db_rollback(db, r);
}

int disc_db_claim(struct db *db, const char *ip, const char *hostname, int64_t *ret_device_id, char *ret_mac, char *why,
		  size_t why_len)
{
	PGresult *res;
	char sid[24], did[24];
	const char *p1[] = {ip};

	why[0] = '\0';
	int r = db_begin(db);
	if (r < 0)
		return r;
	r = db_exec(db,
		    "SELECT n.mac::text, (SELECT s.id FROM subnet s WHERE n.ip <<= s.cidr ORDER BY masklen(s.cidr) "
		    "DESC LIMIT 1), (SELECT ip_holder(a.id) FROM ip_address a WHERE a.ip = n.ip) "
		    "FROM neighbour n WHERE n.ip = $1::inet ORDER BY n.last_seen DESC, n.id DESC LIMIT 1",
		    1, p1, &res);
	if (r < 0)
		return claim_fail(db, r, why, why_len, "cannot read the discoveries");
	if (PQntuples(res) == 0) {
		PQclear(res);
		snprintf(why, why_len, "%s has not been discovered", ip);
		return db_rollback(db, -ENOENT);
	}
	snprintf(ret_mac, 18, "%s", PQgetvalue(res, 0, 0));
	if (PQgetisnull(res, 0, 1)) {
		PQclear(res);
		snprintf(why, why_len, "%s is in no subnet: create the subnet first", ip);
		return db_rollback(db, -EINVAL);
	}
	snprintf(sid, sizeof(sid), "%s", PQgetvalue(res, 0, 1));
	if (!PQgetisnull(res, 0, 2)) {
		snprintf(why, why_len, "%s is held by %s already", ip, PQgetvalue(res, 0, 2));
		PQclear(res);
		return db_rollback(db, -EEXIST);
	}
	PQclear(res);
	const char *p2[] = {hostname, ret_mac};
	r = db_exec(db, "INSERT INTO device (hostname, mac) VALUES ($1, $2::macaddr) RETURNING id", 2, p2, &res);
	if (r < 0 && strcmp(db->last_constraint, "device_mac_key") == 0) {
		snprintf(why, why_len, "%s (seen at %s) is a device's MAC already", ret_mac, ip);
		return db_rollback(db, -EEXIST);
	}
	if (r < 0)
		return claim_fail(db, r == -EINVAL ? -EINVAL : -EEXIST, why, why_len, "cannot create device");
	snprintf(did, sizeof(did), "%s", PQgetvalue(res, 0, 0));
	*ret_device_id = strtoll(did, NULL, 10);
	PQclear(res);
	const char *p3[] = {ip, sid, did, hostname};
	r = db_exec(db,
		    "INSERT INTO ip_address (ip, subnet_id, mode, owner_kind, device_id, hostname) "
		    "VALUES ($1::inet, $2::bigint, 'static', 'device', $3::bigint, $4)",
		    4, p3, NULL);
	if (r < 0)
		return claim_fail(db, r == -EINVAL ? -EINVAL : -EEXIST, why, why_len, "cannot assign the address");
	return db_commit(db);
}

int disc_db_events(struct db *db, long limit, struct disc_event_row **ret, size_t *ret_n)
{
	char l[24];
	PGresult *res;
	snprintf(l, sizeof(l), "%ld", limit);
	const char *p[] = {l};
	*ret = NULL;
	*ret_n = 0;
	int r = db_exec(db,
			"SELECT id, ir_ms(at), kind, host(ip), mac::text, coalesce(old_mac::text, ''), "
			"coalesce(rack_id, ''), interface, subnet_id, description FROM "
			"(SELECT * FROM discovery_event ORDER BY id DESC LIMIT $1::bigint) e ORDER BY id",
			1, p, &res);
	if (r < 0)
		return r;
	size_t n = (size_t)PQntuples(res);
	struct disc_event_row *rows = xcalloc(n ? n : 1, sizeof(*rows));
	for (size_t i = 0; i < n; i++) {
		struct disc_event_row *e = &rows[i];
		int k = (int)i;
		e->id = int_col(res, k, 0);
		e->at_ms = int_col(res, k, 1);
		copy_col(e->kind, sizeof(e->kind), res, k, 2);
		copy_col(e->ip, sizeof(e->ip), res, k, 3);
		copy_col(e->mac, sizeof(e->mac), res, k, 4);
		copy_col(e->old_mac, sizeof(e->old_mac), res, k, 5);
		copy_col(e->rack, sizeof(e->rack), res, k, 6);
		copy_col(e->interface, sizeof(e->interface), res, k, 7);
		e->subnet_id = int_col(res, k, 8);
		copy_col(e->description, sizeof(e->description), res, k, 9);
	}
	PQclear(res);
	*ret = rows;
	*ret_n = n;
	return 0;
}

int disc_db_scan_who(struct db *db, int64_t subnet_id, struct disc_scan_who *ret)
{
	char id[24];
	PGresult *res;
	snprintf(id, sizeof(id), "%" PRId64, subnet_id);
	const char *p[] = {id};
	int r = db_exec(db,
			"SELECT s.cidr::text, family(s.cidr), masklen(s.cidr), v.vid, f.name, "
			"CASE WHEN v.dhcp_on THEN coalesce(v.primary_rack_id, '') ELSE '' END "
			"FROM subnet s JOIN vlan v ON v.id = s.vlan_id JOIN fabric f ON f.id = v.fabric_id "
			"WHERE s.id = $1::bigint",
			1, p, &res);
	if (r < 0)
		return r;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return -ENOENT;
	}
	memset(ret, 0, sizeof(*ret));
	copy_col(ret->cidr, sizeof(ret->cidr), res, 0, 0);
	ret->family = (int)int_col(res, 0, 1);
	ret->prefix = (int)int_col(res, 0, 2);
	ret->vid = (int)int_col(res, 0, 3);
	copy_col(ret->fabric, sizeof(ret->fabric), res, 0, 4);
	copy_col(ret->rack_id, sizeof(ret->rack_id), res, 0, 5);
	PQclear(res);
	return 0;
}
