/* DHCP snippets and quarantined addresses in the database (see
 * dhcp_snippet.h). Static, parameterised SQL; errors mapped by net_exec()
 * like the rest of the network model. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/db/dhcp_snippet.h"
#include "region/db/net_internal.h"

static const char *const dhcp_scope_names[] = {
    [DHCP_SCOPE_GLOBAL] = "global",
    [DHCP_SCOPE_SUBNET] = "subnet",
    [DHCP_SCOPE_RANGE] = "ip_range",
    [DHCP_SCOPE_INTERFACE] = "interface",
};

const char *dhcp_scope_name(enum dhcp_scope s)
{
	return (unsigned)s <= DHCP_SCOPE_INTERFACE ? dhcp_scope_names[s] : "?";
}

/* Columns: id, name, description, code, type, value, data (hex), enabled,
 * subnet_id, ip_range_id, interface_id, label, the subnet of the scope,
 * created, updated, total. $1 limit, $2 offset, $3 id, $4 subnet, $5
 * enabled. */
static const char sql_list[] =
    "SELECT d.id, d.name, d.description, d.code, d.type, d.value, encode(d.data, 'hex'), d.enabled, "
    "d.subnet_id, d.ip_range_id, d.interface_id, "
    "coalesce(s.cidr::text, host(r.start_ip) || '-' || host(r.end_ip), m.hostname || '/' || i.name, ''), "
    "coalesce(d.subnet_id, r.subnet_id), ir_ms(d.created), ir_ms(d.updated), count(*) OVER () "
    "FROM dhcp_snippet d LEFT JOIN subnet s ON s.id = d.subnet_id LEFT JOIN ip_range r ON r.id = d.ip_range_id "
    "LEFT JOIN interface i ON i.id = d.interface_id LEFT JOIN machine m ON m.id = i.machine_id "
    "WHERE ($3::bigint IS NULL OR d.id = $3::bigint) "
    "AND ($4::bigint IS NULL OR d.subnet_id = $4::bigint OR r.subnet_id = $4::bigint) "
    "AND ($5::boolean IS NULL OR d.enabled = $5::boolean) "
    "ORDER BY d.name LIMIT $1::bigint OFFSET $2::bigint";

enum {
	COL_ID,
	COL_NAME,
	COL_DESC,
	COL_CODE,
	COL_TYPE,
	COL_VALUE,
	COL_DATA,
	COL_ENABLED,
	COL_SUBNET,
	COL_RANGE,
	COL_IFACE,
	COL_LABEL,
	COL_SCOPE_SUBNET,
	COL_CREATED,
	COL_UPDATED,
	COL_TOTAL,
};

static int64_t col_i64(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static void snippet_from_row(const PGresult *res, int row, struct dhcp_snippet *s)
{
	const char *hex = PQgetvalue(res, row, COL_DATA);
	size_t hex_len = strlen(hex);

	memset(s, 0, sizeof(*s));
	s->id = col_i64(res, row, COL_ID);
	snprintf(s->name, sizeof(s->name), "%s", PQgetvalue(res, row, COL_NAME));
	snprintf(s->description, sizeof(s->description), "%s", PQgetvalue(res, row, COL_DESC));
	s->code = (unsigned)col_i64(res, row, COL_CODE);
	snprintf(s->type, sizeof(s->type), "%s", PQgetvalue(res, row, COL_TYPE));
	snprintf(s->value, sizeof(s->value), "%s", PQgetvalue(res, row, COL_VALUE));
	/* PostgreSQL's encode(data, 'hex'); only snippet_params_fill writes it, never over data's size. */
	if (hex_len > 2 * sizeof(s->data))
		hex_len = 2 * sizeof(s->data);
	int data_len = hex_decode(hex, hex_len, s->data, sizeof(s->data));
	s->data_len = data_len > 0 ? (size_t)data_len : 0;
	s->enabled = PQgetvalue(res, row, COL_ENABLED)[0] == 't';
	if (!PQgetisnull(res, row, COL_SUBNET)) {
		s->scope = DHCP_SCOPE_SUBNET;
		s->scope_id = col_i64(res, row, COL_SUBNET);
	} else if (!PQgetisnull(res, row, COL_RANGE)) {
		s->scope = DHCP_SCOPE_RANGE;
		s->scope_id = col_i64(res, row, COL_RANGE);
	} else if (!PQgetisnull(res, row, COL_IFACE)) {
		s->scope = DHCP_SCOPE_INTERFACE;
		s->scope_id = col_i64(res, row, COL_IFACE);
	}
	snprintf(s->scope_label, sizeof(s->scope_label), "%s", PQgetvalue(res, row, COL_LABEL));
	s->subnet_id = col_i64(res, row, COL_SCOPE_SUBNET);
	s->created_ms = col_i64(res, row, COL_CREATED);
	s->updated_ms = col_i64(res, row, COL_UPDATED);
}

static int snippet_query(struct db *db, const char *const p[5], struct dhcp_snippet **ret, size_t *ret_n,
			 int64_t *ret_total, struct net_err *err)
{
	PGresult *res;

	*ret = NULL;
	*ret_n = 0;
	if (ret_total)
		*ret_total = 0;
	int r = net_exec(db, sql_list, 5, p, &res, err);
	if (r < 0)
		return r;
	size_t n = (size_t)PQntuples(res);
	*ret = xcalloc(n + 1, sizeof(**ret));
	for (size_t i = 0; i < n; i++)
		snippet_from_row(res, (int)i, &(*ret)[i]);
	*ret_n = n;
	if (ret_total && n > 0)
		*ret_total = col_i64(res, 0, COL_TOTAL);
	PQclear(res);
	return 0;
}

int dhcp_snippet_list(struct db *db, const struct dhcp_snippet_filter *f, struct dhcp_snippet **ret, size_t *ret_n,
		      int64_t *ret_total, struct net_err *err)
{
	char limit[24], offset[24], subnet[24];
	const char *p[5] = {limit, offset, NULL, NULL, NULL};

	snprintf(limit, sizeof(limit), "%ld", f->limit > 0 ? f->limit : 100);
	snprintf(offset, sizeof(offset), "%ld", f->offset > 0 ? f->offset : 0);
	if (f->subnet_id > 0) {
		net_id_text(f->subnet_id, subnet);
		p[3] = subnet;
	}
	if (f->enabled >= 0)
		p[4] = f->enabled ? "true" : "false";
	int r = snippet_query(db, p, ret, ret_n, ret_total, err);
	/* Past the end: the count still says how many there are. */
	if (r == 0 && *ret_n == 0 && f->offset > 0 && ret_total) {
		struct dhcp_snippet *all;
		size_t n;
		p[0] = "1";
		p[1] = "0";
		if (snippet_query(db, p, &all, &n, ret_total, err) == 0)
			free(all);
	}
	return r;
}

int dhcp_snippet_get(struct db *db, int64_t id, struct dhcp_snippet *ret, struct net_err *err)
{
	char idt[24];
	const char *p[5] = {"1", "0", idt, NULL, NULL};
	struct dhcp_snippet *rows;
	size_t n;

	net_id_text(id, idt);
	int r = snippet_query(db, p, &rows, &n, NULL, err);
	if (r < 0)
		return r;
	if (n == 0) {
		free(rows);
		return net_err_set(err, -ENOENT, NULL, "DHCP snippet %" PRId64 " not found", id);
	}
	*ret = rows[0];
	free(rows);
	return 0;
}

int dhcp_snippet_resolve(struct db *db, const char *key, int64_t *ret_id, struct net_err *err)
{
	size_t digits = strspn(key, "0123456789");
	bool is_id = digits > 0 && digits <= 18 && key[digits] == '\0';
	const char *p[2] = {is_id ? key : NULL, is_id ? NULL : key};
	char *v = NULL;

	int r = db_query_value(db, "SELECT id FROM dhcp_snippet WHERE id = $1::bigint OR name = $2", 2, p, &v);
	if (r == -ENOENT)
		return net_err_set(err, -ENOENT, NULL, "DHCP snippet '%s' not found", key);
	if (r < 0)
		return net_err_set(err, r, NULL, "database error");
	*ret_id = strtoll(v, NULL, 10);
	free(v);
	return 0;
}

/* The parameters every write shares, $1..$10 (bytea as \x hex text). */
struct snippet_params {
	char code[16], scope_id[24], data[2 * DHCP_SNIPPET_DATA_MAX + 3];
	const char *p[11];
};

static void snippet_params_fill(const struct dhcp_snippet *s, struct snippet_params *sp)
{
	snprintf(sp->code, sizeof(sp->code), "%u", s->code);
	net_id_text(s->scope_id, sp->scope_id);
	sp->data[0] = '\\';
	sp->data[1] = 'x';
	hex_encode(s->data, s->data_len < DHCP_SNIPPET_DATA_MAX ? s->data_len : DHCP_SNIPPET_DATA_MAX, sp->data + 2);
	sp->p[0] = s->name;
	sp->p[1] = s->description;
	sp->p[2] = sp->code;
	sp->p[3] = s->type;
	sp->p[4] = s->value;
	sp->p[5] = sp->data;
	sp->p[6] = s->enabled ? "true" : "false";
	sp->p[7] = s->scope == DHCP_SCOPE_SUBNET ? sp->scope_id : NULL;
	sp->p[8] = s->scope == DHCP_SCOPE_RANGE ? sp->scope_id : NULL;
	sp->p[9] = s->scope == DHCP_SCOPE_INTERFACE ? sp->scope_id : NULL;
}

/* A write refused by a constraint, said in the API's terms. */
static int snippet_err(struct db *db, int r, const struct dhcp_snippet *s, struct net_err *err)
{
	if (strcmp(db->last_constraint, "dhcp_snippet_name_key") == 0)
		return net_err_set(err, -EEXIST, "name", "a DHCP snippet named '%s' already exists", s->name);
	if (strcmp(db->last_state, "23503") == 0)
		return net_err_set(err, -ENOENT, dhcp_scope_name(s->scope),
				   "the %s the snippet is scoped to no longer exists", dhcp_scope_name(s->scope));
	return r;
}

static int snippet_write(struct db *db, const char *sql, int n, const char *const *p, const struct dhcp_snippet *s,
			 int64_t *ret_id, struct net_err *err)
{
	PGresult *res;
	int r = net_exec(db, sql, n, p, &res, err);

	if (r < 0)
		return snippet_err(db, r, s, err);
	if (PQntuples(res) == 0) {
		PQclear(res);
		return net_err_set(err, -ENOENT, NULL, "DHCP snippet %" PRId64 " not found", s->id);
	}
	if (ret_id)
		*ret_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int dhcp_snippet_create(struct db *db, const struct dhcp_snippet *s, int64_t *ret_id, struct net_err *err)
{
	struct snippet_params sp;

	snippet_params_fill(s, &sp);
	return snippet_write(
	    db,
	    "INSERT INTO dhcp_snippet (name, description, code, type, value, data, enabled, subnet_id, "
	    "ip_range_id, interface_id) VALUES ($1, $2, $3::int, $4, $5, $6::bytea, $7::boolean, "
	    "$8::bigint, $9::bigint, $10::bigint) RETURNING id",
	    10, sp.p, s, ret_id, err);
}

int dhcp_snippet_update(struct db *db, const struct dhcp_snippet *s, struct net_err *err)
{
	struct snippet_params sp;
	char idt[24];

	snippet_params_fill(s, &sp);
	net_id_text(s->id, idt);
	sp.p[10] = idt;
	return snippet_write(
	    db,
	    "UPDATE dhcp_snippet SET name = $1, description = $2, code = $3::int, type = $4, value = $5, "
	    "data = $6::bytea, enabled = $7::boolean, subnet_id = $8::bigint, ip_range_id = $9::bigint, "
	    "interface_id = $10::bigint WHERE id = $11::bigint RETURNING id",
	    11, sp.p, s, NULL, err);
}

int dhcp_snippet_delete(struct db *db, int64_t id, struct net_err *err)
{
	char idt[24];
	const char *p[1] = {idt};
	PGresult *res;

	net_id_text(id, idt);
	int r = net_exec(db, "DELETE FROM dhcp_snippet WHERE id = $1::bigint RETURNING id", 1, p, &res, err);
	if (r < 0)
		return r;
	r = PQntuples(res) == 1 ? 0 : net_err_set(err, -ENOENT, NULL, "DHCP snippet %" PRId64 " not found", id);
	PQclear(res);
	return r;
}

/* ---- quarantined addresses ---- */

int dhcp_conflict_list(struct db *db, const char *rack, long limit, long offset, struct dhcp_conflict **ret,
		       size_t *ret_n, int64_t *ret_total, struct net_err *err)
{
	char lim[24], off[24];
	const char *p[3] = {lim, off, rack};
	PGresult *res;

	*ret = NULL;
	*ret_n = 0;
	*ret_total = 0;
	snprintf(lim, sizeof(lim), "%ld", limit > 0 ? limit : 100);
	snprintf(off, sizeof(off), "%ld", offset > 0 ? offset : 0);
	int r = net_exec(
	    db,
	    "SELECT host(c.ip), c.rack_id, c.subnet_id, coalesce(s.cidr::text, ''), coalesce(c.mac::text, ''), "
	    "c.reason, ir_ms(c.until), ir_ms(c.first_seen), ir_ms(c.last_seen), count(*) OVER () "
	    "FROM dhcp_conflict c LEFT JOIN subnet s ON s.id = c.subnet_id "
	    "WHERE ($3::text IS NULL OR c.rack_id = $3) "
	    "ORDER BY c.last_seen DESC, c.ip, c.rack_id LIMIT $1::bigint OFFSET $2::bigint",
	    3, p, &res, err);
	if (r < 0)
		return r;
	size_t n = (size_t)PQntuples(res);
	*ret = xcalloc(n + 1, sizeof(**ret));
	for (size_t i = 0; i < n; i++) {
		struct dhcp_conflict *c = &(*ret)[i];
		int row = (int)i;
		snprintf(c->ip, sizeof(c->ip), "%s", PQgetvalue(res, row, 0));
		snprintf(c->rack, sizeof(c->rack), "%s", PQgetvalue(res, row, 1));
		c->subnet_id = col_i64(res, row, 2);
		snprintf(c->subnet_cidr, sizeof(c->subnet_cidr), "%s", PQgetvalue(res, row, 3));
		snprintf(c->mac, sizeof(c->mac), "%s", PQgetvalue(res, row, 4));
		snprintf(c->reason, sizeof(c->reason), "%s", PQgetvalue(res, row, 5));
		c->until_ms = col_i64(res, row, 6);
		c->first_seen_ms = col_i64(res, row, 7);
		c->last_seen_ms = col_i64(res, row, 8);
	}
	*ret_n = n;
	if (n > 0)
		*ret_total = col_i64(res, 0, 9);
	PQclear(res);
	return 0;
}
