/* Machines' lifecycle and hardware in the database; see machine_db.h. */
#include "region/db/machine_db.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/inventory.h"
#include "common/net.h"
#include "common/util.h"
#include "region/db/db_internal.h"
#include "region/machine/token.h"

#define ROW_COLS "m.id, m.hostname, m.status, m.status_previous, m.power_type, m.status_message, ir_ms(m.status_since)"

int machine_db_get(struct db *db, int64_t id, bool lock, struct machine_db_row *ret)
{
	char ids[24];
	const char *p[] = {ids};
	PGresult *res;
	db_id_text(id, ids);
	int r = db_query_row(db,
			     lock ? "SELECT " ROW_COLS " FROM machine m WHERE m.id = $1::bigint FOR UPDATE OF m"
				  : "SELECT " ROW_COLS " FROM machine m WHERE m.id = $1::bigint",
			     1, p, &res);
	if (r < 0)
		return r;
	memset(ret, 0, sizeof(*ret));
	ret->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	snprintf(ret->hostname, sizeof(ret->hostname), "%s", PQgetvalue(res, 0, 1));
	snprintf(ret->status, sizeof(ret->status), "%s", PQgetvalue(res, 0, 2));
	snprintf(ret->previous, sizeof(ret->previous), "%s", PQgetvalue(res, 0, 3));
	snprintf(ret->power_type, sizeof(ret->power_type), "%s", PQgetvalue(res, 0, 4));
	snprintf(ret->status_message, sizeof(ret->status_message), "%s", PQgetvalue(res, 0, 5));
	ret->status_since_ms = strtoll(PQgetvalue(res, 0, 6), NULL, 10);
	PQclear(res);
	return 0;
}

/* A conditional write that touched nothing: the machine is gone
 * (-ENOENT) or in another state now (-EAGAIN). */
static int moved(struct db *db, int64_t id)
{
	struct machine_db_row row;
	int r = machine_db_get(db, id, false, &row);
	return r < 0 ? r : -EAGAIN;
}

int machine_db_transition(struct db *db, int64_t id, const char *from, const char *to, int64_t deadline_ms,
			  const char *message, const char *actor, const char *event, int64_t action_id)
{
	char ids[24], dl[24], aids[24];
	db_id_text(id, ids);
	db_id_text(deadline_ms, dl);
	db_id_text(action_id, aids);
	const char *p[] = {ids, from, to, deadline_ms ? dl : NULL, message, actor, event, action_id ? aids : NULL};
	long n = db_exec_count(
	    db,
	    "WITH m AS (UPDATE machine SET status = $3, status_previous = status, status_since = now(), "
	    "status_deadline = to_timestamp($4::bigint / 1000.0), status_message = $5, "
	    "status_action_id = $8::bigint "
	    "WHERE id = $1::bigint AND status = $2 RETURNING id) "
	    "INSERT INTO machine_event (machine_id, kind, actor, description, action_id) "
	    "SELECT m.id, 'status', $6, $2 || ' → ' || $3 || CASE WHEN $7 <> '' THEN ': ' || $7 ELSE '' END, "
	    "$8::bigint FROM m",
	    8, p, NULL);
	return n < 0 ? (int)n : n == 0 ? moved(db, id) : 0;
}

int machine_db_transition_back(struct db *db, int64_t id, const char *from, const char *fallback, const char *message,
			       const char *actor, const char *event, char ret_to[24])
{
	struct machine_db_row row;
	int r = machine_db_get(db, id, true, &row);
	if (r < 0)
		return r;
	if (strcmp(row.status, from) != 0)
		return -EAGAIN;
	const char *to = row.previous[0] && strcmp(row.previous, from) != 0 ? row.previous : fallback;
	snprintf(ret_to, 24, "%s", to);
	return machine_db_transition(db, id, from, to, 0, message, actor, event, 0);
}

int machine_db_set_action(struct db *db, int64_t id, int64_t action_id, const char *message)
{
	char ids[24], aids[24];
	db_id_text(id, ids);
	db_id_text(action_id, aids);
	const char *p[] = {ids, action_id ? aids : NULL, message};
	long n = db_exec_count(
	    db, "UPDATE machine SET status_action_id = $2::bigint, status_message = $3 WHERE id = $1::bigint", 3, p,
	    NULL);
	return n < 0 ? (int)n : n == 0 ? -ENOENT : 0;
}

int machine_db_delete(struct db *db, int64_t id, const char *from)
{
	char ids[24];
	const char *p[] = {ids, from};
	db_id_text(id, ids);
	long n = db_exec_count(db, "DELETE FROM machine WHERE id = $1::bigint AND status = $2", 2, p, NULL);
	return n < 0 ? (int)n : n == 0 ? moved(db, id) : 0;
}

/* ---- tokens ---- */

static char *bytea_hex(const uint8_t *b, size_t n)
{
	char *s = xmalloc(2 * n + 3);
	s[0] = '\\';
	s[1] = 'x';
	hex_encode(b, n, s + 2);
	s[2 * n + 2] = '\0';
	return s;
}

int machine_db_token_new(struct db *db, int64_t id, const char *purpose, const char *hash, const uint8_t *sealed,
			 size_t sealed_len, int64_t expires_ms, int64_t *ret_token_id)
{
	char ids[24], ex[24];
	db_id_text(id, ids);
	db_id_text(expires_ms, ex);
	char *hex = bytea_hex(sealed, sealed_len);
	const char *p[] = {ids, purpose, hash, hex, ex};
	PGresult *res;
	long n = db_exec_count(
	    db, "UPDATE machine_token SET used = now() WHERE machine_id = $1::bigint AND used IS NULL", 1, p, NULL);
	if (n >= 0)
		n = db_exec_count(
		    db,
		    "INSERT INTO machine_token (machine_id, purpose, hash, sealed, expires) "
		    "VALUES ($1::bigint, $2, $3, $4::bytea, to_timestamp($5::bigint / 1000.0)) RETURNING id",
		    5, p, &res);
	free(hex);
	if (n < 0)
		return (int)n;
	if (ret_token_id)
		*ret_token_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int machine_db_token_find(struct db *db, const char *hash, struct machine_token_row *ret, int64_t *ret_token_id)
{
	const char *p[] = {hash};
	PGresult *res;
	int r = db_query_row(db,
			     "SELECT id, machine_id, purpose, ir_ms(expires), used IS NOT NULL FROM machine_token "
			     "WHERE hash = $1",
			     1, p, &res);
	if (r < 0)
		return r;
	memset(ret, 0, sizeof(*ret));
	*ret_token_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	ret->machine_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	snprintf(ret->purpose, sizeof(ret->purpose), "%s", PQgetvalue(res, 0, 2));
	ret->expires_ms = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	ret->used = PQgetvalue(res, 0, 4)[0] == 't';
	PQclear(res);
	return 0;
}

int machine_db_token_sealed(struct db *db, int64_t id, const char *purpose, int64_t *ret_token_id, uint8_t **ret,
			    size_t *ret_len)
{
	char ids[24];
	const char *p[] = {ids, purpose};
	PGresult *res;
	db_id_text(id, ids);
	int r = db_query_row(db,
			     "SELECT id, sealed FROM machine_token WHERE machine_id = $1::bigint AND purpose = $2 "
			     "AND used IS NULL AND expires > now() ORDER BY id DESC LIMIT 1",
			     2, p, &res);
	if (r < 0)
		return r;
	*ret_token_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	const char *hex = PQgetvalue(res, 0, 1);
	r = -EIO;
	if (hex[0] == '\\' && hex[1] == 'x') {
		size_t len = strlen(hex + 2) / 2;
		uint8_t *b = xmalloc(len ? len : 1);
		if (hex_decode(hex + 2, 2 * len, b, len) == (int)len) {
			*ret = b;
			*ret_len = len;
			r = 0;
		} else {
			free(b);
		}
	}
	PQclear(res);
	return r;
}

int machine_db_token_use(struct db *db, int64_t token_id)
{
	char ids[24];
	const char *p[] = {ids};
	db_id_text(token_id, ids);
	long n = db_exec_count(db, "UPDATE machine_token SET used = now() WHERE id = $1::bigint AND used IS NULL", 1, p,
			       NULL);
	return n < 0 ? (int)n : n == 0 ? -EAGAIN : 0;
}

int machine_db_tokens_spend(struct db *db, int64_t id)
{
	char ids[24];
	const char *p[] = {ids};
	db_id_text(id, ids);
	long n = db_exec_count(
	    db, "UPDATE machine_token SET used = now() WHERE machine_id = $1::bigint AND used IS NULL", 1, p, NULL);
	return n < 0 ? (int)n : 0;
}

/* ---- lookups ---- */

int machine_db_by_mac(struct db *db, const char *mac, int64_t *ret)
{
	const char *p[] = {mac};
	PGresult *res;
	int r = db_query_row(db, "SELECT machine_id FROM interface WHERE mac = $1::macaddr", 1, p, &res);
	if (r < 0)
		return r;
	*ret = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int machine_db_macs(struct db *db, int64_t id, char (**ret)[18], size_t *ret_n)
{
	char ids[24];
	const char *p[] = {ids};
	PGresult *res;
	db_id_text(id, ids);
	long n =
	    db_exec_count(db, "SELECT mac::text FROM interface WHERE machine_id = $1::bigint ORDER BY mac", 1, p, &res);
	if (n < 0)
		return (int)n;
	char(*macs)[18] = xcalloc((size_t)n + 1, sizeof(*macs));
	for (long i = 0; i < n; i++)
		snprintf(macs[i], sizeof(macs[i]), "%s", PQgetvalue(res, (int)i, 0));
	PQclear(res);
	*ret = macs;
	*ret_n = (size_t)n;
	return 0;
}

/* ---- hardware ---- */

/* A NIC's name as an interface name: unique on the machine (eth0, or
 * eth0-1 when another MAC already holds it). */
static int nic_store(struct db *db, const char *ids, const struct inv_nic *nic, int *added)
{
	char mac[MAC_STRLEN], speed[16];
	mac_format(nic->mac, mac, sizeof(mac));
	snprintf(speed, sizeof(speed), "%u", nic->speed_mbps);
	const char *p[] = {ids, mac, nic->driver, speed, nic->carrier ? "t" : "f", nic->name};
	long n = db_exec_count(db,
			       "UPDATE interface SET driver = $3, speed_mbps = $4::integer, carrier = $5::boolean "
			       "WHERE mac = $2::macaddr AND machine_id = $1::bigint",
			       5, p, NULL);
	if (n < 0 || n > 0)
		return n < 0 ? (int)n : 0;
	/* A MAC another machine holds is moved here: the hardware says so. */
	n = db_exec_count(db, "DELETE FROM interface WHERE mac = $2::macaddr AND machine_id <> $1::bigint", 2, p, NULL);
	if (n < 0)
		return (int)n;
	n = db_exec_count(db,
			  "INSERT INTO interface (machine_id, name, mac, driver, speed_mbps, carrier) "
			  "SELECT $1::bigint, CASE WHEN EXISTS (SELECT 1 FROM interface WHERE machine_id = $1::bigint "
			  "AND name = $6) THEN left($6, 10) || '-' || substr(replace($2, ':', ''), 9) ELSE $6 END, "
			  "$2::macaddr, $3, $4::integer, $5::boolean",
			  6, p, NULL);
	if (n < 0)
		return (int)n;
	(*added)++;
	return 0;
}

int machine_db_hardware_store(struct db *db, int64_t id, const struct inventory *inv, const char *inv_json,
			      const char *client_address, int *ret_added, int *ret_removed)
{
	char ids[24], cpus[16], mem[24], storage[24], disks[16], boot[MAC_STRLEN] = "";
	db_id_text(id, ids);
	snprintf(cpus, sizeof(cpus), "%u", inv->cpu_count);
	snprintf(mem, sizeof(mem), "%" PRIu64, inv->memory_mib);
	uint64_t st = inventory_storage_bytes(inv);
	snprintf(storage, sizeof(storage), "%" PRIu64, st > INT64_MAX ? (uint64_t)INT64_MAX : st);
	snprintf(disks, sizeof(disks), "%zu", inv->n_disks);
	if (inv->has_boot_mac)
		mac_format(inv->boot_mac, boot, sizeof(boot));
	else if (inv->n_nics == 1)
		mac_format(inv->nics[0].mac, boot, sizeof(boot));
	const char *p[] = {ids, inv_json, cpus, inv->cpu_model, mem, storage, disks, boot[0] ? boot : NULL, inv->arch};
	long n = db_exec_count(db,
			       "UPDATE machine SET hardware = $2::jsonb, hardware_at = now(), cpu_count = $3::integer, "
			       "cpu_model = $4, memory_mib = $5::bigint, storage_bytes = $6::bigint, "
			       "disk_count = $7::integer, boot_mac = coalesce($8::macaddr, boot_mac), "
			       "architecture = CASE WHEN architecture = '' THEN $9 ELSE architecture END "
			       "WHERE id = $1::bigint",
			       9, p, NULL);
	if (n < 0)
		return (int)n;
	if (n == 0)
		return -ENOENT;

	int added = 0, removed = 0;
	for (size_t i = 0; i < inv->n_nics; i++) {
		int r = nic_store(db, ids, &inv->nics[i], &added);
		if (r < 0)
			return r;
	}
	/* Interfaces the machine no longer has. */
	char *keep = xmalloc(inv->n_nics * MAC_STRLEN + 3);
	size_t o = 0;
	keep[o++] = '{';
	for (size_t i = 0; i < inv->n_nics; i++) {
		if (i)
			keep[o++] = ',';
		mac_format(inv->nics[i].mac, keep + o, MAC_STRLEN);
		o += strlen(keep + o);
	}
	keep[o++] = '}';
	keep[o] = '\0';
	const char *pk[] = {ids, keep};
	n = db_exec_count(db, "DELETE FROM interface WHERE machine_id = $1::bigint AND NOT (mac = ANY ($2::macaddr[]))",
			  2, pk, NULL);
	free(keep);
	if (n < 0)
		return (int)n;
	removed = (int)n;

	/* The boot interface's link: the subnet the agent's address is on. */
	if (boot[0] && client_address && client_address[0]) {
		const char *pl[] = {ids, boot, client_address};
		n = db_exec_count(db,
				  "WITH s AS (SELECT id, vlan_id FROM subnet WHERE $3::inet <<= cidr "
				  "ORDER BY masklen(cidr) DESC LIMIT 1), "
				  "i AS (UPDATE interface SET vlan_id = s.vlan_id FROM s "
				  "WHERE interface.machine_id = $1::bigint AND interface.mac = $2::macaddr "
				  "RETURNING interface.id AS iid, s.id AS sid) "
				  "INSERT INTO ip_address (subnet_id, mode, owner_kind, interface_id) "
				  "SELECT i.sid, 'dhcp', 'machine_interface', i.iid FROM i "
				  "WHERE NOT EXISTS (SELECT 1 FROM ip_address a WHERE a.interface_id = i.iid "
				  "AND a.subnet_id = i.sid)",
				  3, pl, NULL);
		if (n < 0)
			return (int)n;
	}
	if (ret_added)
		*ret_added = added;
	if (ret_removed)
		*ret_removed = removed;
	return 0;
}

int machine_db_enlist_new(struct db *db, const struct inventory *inv, const char *inv_json, const char *client_address,
			  const char *actor, int64_t *ret_id, char ret_hostname[64])
{
	const uint8_t *mac = inv->has_boot_mac ? inv->boot_mac : inv->nics[0].mac;
	char base[32];
	snprintf(base, sizeof(base), "node-%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	const char *p[] = {base, actor};
	PGresult *res;
	/* Host names are unique across machines and devices (migrations/0014). */
	long n = db_exec_count(db,
			       "WITH h AS (SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM machine WHERE hostname = $1 "
			       "UNION ALL SELECT 1 FROM device WHERE hostname = $1) THEN $1 "
			       "ELSE (SELECT $1 || '-' || k FROM generate_series(2, 1000) k WHERE NOT EXISTS "
			       "(SELECT 1 FROM machine WHERE hostname = $1 || '-' || k "
			       "UNION ALL SELECT 1 FROM device WHERE hostname = $1 || '-' || k) LIMIT 1) END AS name), "
			       "m AS (INSERT INTO machine (hostname, status, status_message) "
			       "SELECT name, 'NEW', 'enlisted' FROM h RETURNING id, hostname), "
			       "e AS (INSERT INTO machine_event (machine_id, kind, actor, description) "
			       "SELECT id, 'status', $2, 'enlisted as ' || hostname FROM m) "
			       "SELECT id, hostname FROM m",
			       2, p, &res);
	if (n < 0)
		return (int)n;
	if (n != 1) {
		PQclear(res);
		return -EIO;
	}
	*ret_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	snprintf(ret_hostname, 64, "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	return machine_db_hardware_store(db, *ret_id, inv, inv_json, client_address, NULL, NULL);
}

/* ---- clocks ---- */

int machine_db_due(struct db *db, long limit, struct machine_db_due **ret, size_t *ret_n)
{
	char lim[24];
	const char *p[] = {lim};
	PGresult *res;
	snprintf(lim, sizeof(lim), "%ld", limit);
	long n = db_exec_count(db,
			       "SELECT id, hostname, status FROM machine WHERE status_deadline IS NOT NULL "
			       "AND status_deadline <= now() ORDER BY status_deadline LIMIT $1::bigint",
			       1, p, &res);
	if (n < 0)
		return (int)n;
	struct machine_db_due *d = xcalloc((size_t)n + 1, sizeof(*d));
	for (long i = 0; i < n; i++) {
		d[i].id = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
		snprintf(d[i].hostname, sizeof(d[i].hostname), "%s", PQgetvalue(res, (int)i, 1));
		snprintf(d[i].status, sizeof(d[i].status), "%s", PQgetvalue(res, (int)i, 2));
	}
	PQclear(res);
	*ret = d;
	*ret_n = (size_t)n;
	return 0;
}

int machine_db_hardware_json(struct db *db, int64_t id, char **ret)
{
	char ids[24];
	const char *p[] = {ids};
	db_id_text(id, ids);
	return db_query_value(db, "SELECT hardware::text FROM machine WHERE id = $1::bigint", 1, p, ret);
}
